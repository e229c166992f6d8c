-- Concurrency that loses nothing (issue 19): review drafts kept from refused
-- saves, and worklist claims. The same meaning as the PostgreSQL team
-- store's migration 3 (migrations_pg/0003_drafts_and_claims.sql), without
-- the practice columns and row-level security a single-seat file has no use
-- for (migration 11 adds the practice to cf_claims).
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). The runner wraps it in a transaction and sets the version.

-- A review save refused because the review had a newer version than the one
-- the seat started from: the seat's entry, to be reapplied on top of the
-- newer version, and deleted once it has been (or discarded). Nothing the
-- seat typed is lost: the refusal and the draft are one transaction.
CREATE TABLE review_drafts (
    id             INTEGER PRIMARY KEY,
    review_id      INTEGER NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    -- The version the seat started from, and the latest one it met.
    base_version   INTEGER NOT NULL CHECK (base_version >= 1),
    latest_version INTEGER NOT NULL CHECK (latest_version > base_version),
    saved_at       TEXT NOT NULL,
    saved_by       TEXT NOT NULL CHECK (length(trim(saved_by)) > 0),
    -- The entry as sent (a ReviewInput), JSON object.
    input          TEXT NOT NULL CHECK (json_valid(input) AND json_type(input) = 'object')
) STRICT;

CREATE INDEX review_drafts_review ON review_drafts (review_id, id);

-- Worklist claims: a pharmacist holds a case-finding patient so that two
-- people do not call the same one. Keyed by the extract's identifier
-- (cf_patients.extract_id, unique in a single-practice file). No foreign key:
-- a claim outlives the patient leaving the list, and comes back with them.
-- A released claim keeps its row (holder NULL) and its status.
CREATE TABLE cf_claims (
    id         INTEGER PRIMARY KEY,
    extract_id TEXT NOT NULL UNIQUE CHECK (length(trim(extract_id)) > 0),
    holder     TEXT CHECK (holder IS NULL OR length(trim(holder)) > 0),
    claimed_at TEXT,
    status     TEXT NOT NULL CHECK (status IN ('to-contact', 'booked', 'reviewed')),
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL CHECK (length(trim(changed_by)) > 0),
    CHECK ((holder IS NULL) = (claimed_at IS NULL))
) STRICT;

CREATE INDEX cf_claims_holder ON cf_claims (holder, status);
