-- Stepdown store, schema version 3: case-finding (issue 10). Practice
-- prescribing extracts are imported here; each patient's current regimen,
-- OME, flags and trend, and the practice's monthly figures, are derived from
-- the issues and kept as a cache for the worklist.
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). The runner wraps it in a transaction and sets the version.

-- One imported file. The file's SHA-256 is unique, so importing the same
-- file twice changes nothing.
CREATE TABLE cf_imports (
    id                  INTEGER PRIMARY KEY,
    file_sha256         TEXT NOT NULL UNIQUE
                        CHECK (length(file_sha256) = 64 AND file_sha256 NOT GLOB '*[^0-9a-f]*'),
    file_name           TEXT NOT NULL,
    imported_at         TEXT NOT NULL,
    imported_by         TEXT NOT NULL CHECK (length(trim(imported_by)) > 0),
    -- The date the import treated as today (rows after it were refused).
    today               TEXT NOT NULL CHECK (date(today) IS today),
    -- Registered patients, for figures per 1,000 (NULL when not given).
    list_size           INTEGER CHECK (list_size IS NULL OR list_size > 0),
    rows_read           INTEGER NOT NULL CHECK (rows_read >= 0),
    rows_imported       INTEGER NOT NULL CHECK (rows_imported >= 0),
    rows_duplicate      INTEGER NOT NULL CHECK (rows_duplicate >= 0),
    rows_not_understood INTEGER NOT NULL CHECK (rows_not_understood >= 0),
    -- The import report as shown (JSON).
    report              TEXT NOT NULL CHECK (json_valid(report))
) STRICT;

-- A patient as the extract identifies them. Separate from `patients` (the
-- people reviewed in consultations), which need a name; `extract_id` is the
-- practice's own identifier and may match `patients.local_id`.
CREATE TABLE cf_patients (
    id          INTEGER PRIMARY KEY,
    extract_id  TEXT NOT NULL UNIQUE CHECK (length(trim(extract_id)) > 0),
    nhs_number  TEXT CHECK (nhs_number IS NULL
                            OR (length(nhs_number) = 10 AND nhs_number NOT GLOB '*[^0-9]*')),
    age         REAL CHECK (age IS NULL OR age >= 0),
    -- The issue date the age was given with, so a later extract's age wins.
    age_on      TEXT CHECK (age_on IS NULL OR date(age_on) IS age_on),
    sex         TEXT CHECK (sex IS NULL OR sex IN ('female', 'male', 'other', 'unknown'))
) STRICT;

-- Product descriptions and dose instructions exactly as written, stored once
-- each (an extract repeats a few thousand texts across a million rows).
CREATE TABLE cf_texts (
    id    INTEGER PRIMARY KEY,
    text  TEXT NOT NULL UNIQUE
) STRICT;

-- One issued item. The primary key is the row's content plus its occurrence
-- (the 2nd identical row in a file is occurrence 2), so rows already imported
-- from an overlapping extract are recognised and not added again.
--
-- No FOREIGN KEY clauses here, on purpose: checking three parent tables for
-- every row doubles the time a million-row extract takes to store. The ids
-- are written by the importer in the same transaction that creates or reads
-- them (patients, texts, the import), nothing ever deletes those rows, and a
-- test checks that no issue points nowhere.
CREATE TABLE cf_issues (
    patient_id  INTEGER NOT NULL,   -- cf_patients (id)
    -- YYYY-MM-DD; the importer has already checked it is a real date.
    issue_date  TEXT NOT NULL
                CHECK (issue_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    drug_id     INTEGER NOT NULL,   -- cf_texts (id): the product description
    dose_id     INTEGER NOT NULL,   -- cf_texts (id): the instruction
    -- Units issued; 0 when the extract left the quantity blank.
    quantity    REAL NOT NULL CHECK (quantity >= 0),
    occurrence  INTEGER NOT NULL CHECK (occurrence >= 1),
    import_id   INTEGER NOT NULL,   -- cf_imports (id)
    -- Line in the imported file, for tracing a figure back to its row.
    line        INTEGER NOT NULL CHECK (line >= 2),
    PRIMARY KEY (patient_id, issue_date, drug_id, dose_id, quantity, occurrence)
) STRICT, WITHOUT ROWID;

-- Imported rows are a record of what the practice issued: never rewritten.
CREATE TRIGGER cf_issues_no_update BEFORE UPDATE ON cf_issues
BEGIN
    SELECT RAISE(ABORT, 'imported issues cannot be altered');
END;

-- Derived, replaced whole whenever it is recomputed: one row per patient with
-- an opioid in the current window, in worklist order (rank 1 = highest risk).
-- Only what filtering and ranking need; a page's details (items, trend) are
-- computed again from the issues when it is shown, so they cannot disagree.
-- A cache the importer rewrites whole (a hundred thousand rows at a time), so
-- it carries only cheap checks.
CREATE TABLE cf_summaries (
    patient_id      INTEGER PRIMARY KEY,   -- cf_patients (id)
    rank            INTEGER NOT NULL UNIQUE CHECK (rank >= 1),
    ome_mg_per_day  REAL NOT NULL CHECK (ome_mg_per_day >= 0),
    complete        INTEGER NOT NULL CHECK (complete IN (0, 1)),
    estimated       INTEGER NOT NULL CHECK (estimated IN (0, 1)),
    benzodiazepine  INTEGER NOT NULL CHECK (benzodiazepine IN (0, 1)),
    gabapentinoid   INTEGER NOT NULL CHECK (gabapentinoid IN (0, 1)),
    -- JSON array of flag ids, most severe first.
    flag_ids        TEXT NOT NULL CHECK (flag_ids LIKE '[%]')
) STRICT;

-- What the cache was computed for (today, window, reference version) and the
-- practice figures, as JSON documents by key.
CREATE TABLE cf_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL CHECK (json_valid(value))
) STRICT, WITHOUT ROWID;
