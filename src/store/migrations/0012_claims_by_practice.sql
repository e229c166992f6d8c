-- Worklist claims keyed by practice (issue 19): a claim is on (practice,
-- extract identifier), as on the PostgreSQL team store (migrations_pg/0003,
-- UNIQUE (practice_code, extract_id)), since two practices' extracts can
-- share a patient identifier. A single-seat file's rows have no practice
-- (NULL, one practice's data): the key counts NULL as one practice, so the
-- identifier stays unique among them as before.
--
-- SQLite cannot drop the column's UNIQUE constraint of migration 10, so the
-- table is rebuilt with every row and id kept. Nothing refers to cf_claims
-- (audit entries name a claim by id, which is kept).
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). The runner wraps it in a transaction and sets the version.

CREATE TABLE cf_claims_by_practice (
    id            INTEGER PRIMARY KEY,
    practice_code TEXT
        CHECK (practice_code IS NULL
               OR (length(practice_code) BETWEEN 3 AND 10 AND practice_code NOT GLOB '*[^A-Z0-9]*')),
    extract_id    TEXT NOT NULL CHECK (length(trim(extract_id)) > 0),
    holder        TEXT CHECK (holder IS NULL OR length(trim(holder)) > 0),
    claimed_at    TEXT,
    status        TEXT NOT NULL CHECK (status IN ('to-contact', 'booked', 'reviewed')),
    changed_at    TEXT NOT NULL,
    changed_by    TEXT NOT NULL CHECK (length(trim(changed_by)) > 0),
    CHECK ((holder IS NULL) = (claimed_at IS NULL))
) STRICT;

INSERT INTO cf_claims_by_practice
    (id, practice_code, extract_id, holder, claimed_at, status, changed_at, changed_by)
SELECT id, practice_code, extract_id, holder, claimed_at, status, changed_at, changed_by
FROM cf_claims;

DROP TABLE cf_claims;
ALTER TABLE cf_claims_by_practice RENAME TO cf_claims;

-- The key; an upsert names it as ON CONFLICT (ifnull(practice_code, ''), extract_id).
CREATE UNIQUE INDEX cf_claims_practice_extract ON cf_claims (ifnull(practice_code, ''), extract_id);
CREATE INDEX cf_claims_holder ON cf_claims (holder, status);
