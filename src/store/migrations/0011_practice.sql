-- The practice a record belongs to (issue 19), as on the PostgreSQL team
-- store (migrations_pg/0002_access.sql), where it decides which seats see
-- the record. A practice is named by its ODS code (e.g. A81001).
--
-- Only on the rows a practice's data hangs from: patients (reviews,
-- versions, prints, follow-ups and drafts belong to their patient's
-- practice), case-finding imports, the patients of an extract (their issues
-- and worklist rows belong to the extract patient's practice) and worklist
-- claims (keyed by the extract's identifier, unique within a practice). PostgreSQL also
-- keeps the code on those child rows, copied by a trigger, for row-level
-- security; SQLite has no use for it there.
--
-- NULL: not recorded, which is every row written before this migration and
-- every row of a single-seat store: such a file holds one practice's data.
-- `stepdown migrate-store` asks for the practice of the rows without one
-- when it copies a store to the team server.
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). The runner wraps it in a transaction and sets the version.

ALTER TABLE patients ADD COLUMN practice_code TEXT
    CHECK (practice_code IS NULL
           OR (length(practice_code) BETWEEN 3 AND 10 AND practice_code NOT GLOB '*[^A-Z0-9]*'));

ALTER TABLE cf_imports ADD COLUMN practice_code TEXT
    CHECK (practice_code IS NULL
           OR (length(practice_code) BETWEEN 3 AND 10 AND practice_code NOT GLOB '*[^A-Z0-9]*'));

ALTER TABLE cf_patients ADD COLUMN practice_code TEXT
    CHECK (practice_code IS NULL
           OR (length(practice_code) BETWEEN 3 AND 10 AND practice_code NOT GLOB '*[^A-Z0-9]*'));

ALTER TABLE cf_claims ADD COLUMN practice_code TEXT
    CHECK (practice_code IS NULL
           OR (length(practice_code) BETWEEN 3 AND 10 AND practice_code NOT GLOB '*[^A-Z0-9]*'));
