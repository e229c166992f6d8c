-- Stepdown store, schema version 1: patients, reviews with append-only
-- versions, printed leaflets, settings and the audit log.
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). Change the schema by adding the next numbered file.
-- The runner wraps each migration in a transaction and sets user_version.

-- "STPD": marks the file as a Stepdown database for anyone opening it.
PRAGMA application_id = 1398034500;

CREATE TABLE patients (
    id            INTEGER PRIMARY KEY,
    -- Ten digits, check digit already validated by the application.
    nhs_number    TEXT UNIQUE
                  CHECK (nhs_number IS NULL
                         OR (length(nhs_number) = 10 AND nhs_number NOT GLOB '*[^0-9]*')),
    name          TEXT NOT NULL CHECK (length(trim(name)) > 0),
    -- ISO date; date(x) IS x also rejects impossible days such as 2001-02-30.
    date_of_birth TEXT CHECK (date_of_birth IS NULL OR date(date_of_birth) IS date_of_birth),
    -- The practice's own identifier (e.g. the clinical system's patient number).
    local_id      TEXT COLLATE NOCASE UNIQUE
                  CHECK (local_id IS NULL OR length(trim(local_id)) > 0),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE INDEX patients_name ON patients (name COLLATE NOCASE);

-- One consultation. Its content lives in review_versions; saving again adds a version.
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
) STRICT;

CREATE INDEX reviews_patient ON reviews (patient_id, created_at);

CREATE TABLE review_versions (
    id                   INTEGER PRIMARY KEY,
    review_id            INTEGER NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    version              INTEGER NOT NULL CHECK (version >= 1),
    saved_at             TEXT NOT NULL,
    reviewer             TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    profile              TEXT NOT NULL,
    reference_version    TEXT NOT NULL,
    -- Summary columns derived from `result` for listings.
    total_ome_mg_per_day REAL CHECK (total_ome_mg_per_day IS NULL OR total_ome_mg_per_day >= 0),
    -- 0 when the total leaves out an item that could not be converted.
    ome_complete         INTEGER CHECK (ome_complete IS NULL OR ome_complete IN (0, 1)),
    flag_ids             TEXT NOT NULL DEFAULT '[]'
                         CHECK (json_valid(flag_ids) AND json_type(flag_ids) = 'array'),
    notes                TEXT NOT NULL DEFAULT '',
    -- Clinical documents as JSON (their Rust types are still evolving).
    patient_context      TEXT NOT NULL
                         CHECK (json_valid(patient_context) AND json_type(patient_context) = 'object'),
    regimen              TEXT NOT NULL CHECK (json_valid(regimen)),
    result               TEXT NOT NULL CHECK (json_valid(result)),
    plan                 TEXT NOT NULL CHECK (json_valid(plan)),
    UNIQUE (review_id, version)
) STRICT;

-- A saved version is a record of what was decided: it is never rewritten.
CREATE TRIGGER review_versions_no_update BEFORE UPDATE ON review_versions
BEGIN
    SELECT RAISE(ABORT, 'review versions are append-only: save a new version instead');
END;

-- Versions go only with their whole review (the cascade runs after the
-- review row is gone, so this lets it through).
CREATE TRIGGER review_versions_no_delete BEFORE DELETE ON review_versions
WHEN EXISTS (SELECT 1 FROM reviews WHERE id = OLD.review_id)
BEGIN
    SELECT RAISE(ABORT, 'a single review version cannot be deleted; delete the whole review');
END;

CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
BEGIN
    SELECT RAISE(ABORT, 'a review cannot be altered or moved to another patient');
END;

CREATE TABLE leaflet_prints (
    id                INTEGER PRIMARY KEY,
    review_version_id INTEGER NOT NULL REFERENCES review_versions (id) ON DELETE CASCADE,
    printed_at        TEXT NOT NULL,
    printed_by        TEXT NOT NULL,
    pdf_sha256        TEXT NOT NULL
                      CHECK (length(pdf_sha256) = 64 AND pdf_sha256 NOT GLOB '*[^0-9a-f]*'),
    pdf_size_bytes    INTEGER NOT NULL CHECK (pdf_size_bytes >= 0)
) STRICT;

CREATE INDEX leaflet_prints_version ON leaflet_prints (review_version_id);
CREATE INDEX leaflet_prints_hash ON leaflet_prints (pdf_sha256);

CREATE TRIGGER leaflet_prints_no_update BEFORE UPDATE ON leaflet_prints
BEGIN
    SELECT RAISE(ABORT, 'leaflet print records cannot be altered');
END;

-- One row per setting; values are JSON so each keeps its type.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL CHECK (json_valid(value)),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Who did what, when, to which record. No foreign keys on purpose: the
-- trail outlives the records it mentions. Summaries carry no names or NHS numbers.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  INTEGER,
    patient_id INTEGER,
    summary    TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_patient ON audit_log (patient_id, id);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
