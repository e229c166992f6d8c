-- Stepdown store, schema version 2: tamper evidence for the audit log.
--
-- Each audit entry carries chain_hash = SHA-256 of (the previous entry's
-- chain_hash, or 64 zeros for the first entry, + this entry's canonical
-- content). Changing, deleting, inserting or reordering an entry with a raw
-- SQLite tool then breaks the chain from that entry on, and
-- `stepdown audit verify` names the first broken link.
--
-- The hash is computed by stepdown_audit_chain_hash(), an application-defined
-- function the migration runner registers on the connection; it is the same
-- Rust function the application uses for new entries, so there is one
-- definition of the canonical content (src/store/audit.rs).
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). The runner wraps it in a transaction and sets the version.

ALTER TABLE audit_log ADD COLUMN chain_hash TEXT
    CHECK (chain_hash IS NULL
           OR (length(chain_hash) = 64 AND chain_hash NOT GLOB '*[^0-9a-f]*'));

-- Chain the existing entries in id order. A recursive query walks the log
-- one entry at a time because each hash needs the one before it; the result
-- goes through a temporary table so the update below is one indexed lookup
-- per row rather than a re-run of the walk.
CREATE TEMP TABLE audit_chain_0002 (
    id         INTEGER PRIMARY KEY,
    chain_hash TEXT NOT NULL
);

WITH RECURSIVE chain (id, chain_hash) AS (
    SELECT a.id,
           stepdown_audit_chain_hash(NULL, a.id, a.at, a.actor, a.action, a.entity,
                                     a.entity_id, a.patient_id, a.summary)
    FROM audit_log AS a
    WHERE a.id = (SELECT min(id) FROM audit_log)
    UNION ALL
    SELECT a.id,
           stepdown_audit_chain_hash(c.chain_hash, a.id, a.at, a.actor, a.action, a.entity,
                                     a.entity_id, a.patient_id, a.summary)
    FROM chain AS c
    JOIN audit_log AS a ON a.id = (SELECT min(id) FROM audit_log WHERE id > c.id)
)
INSERT INTO temp.audit_chain_0002 (id, chain_hash) SELECT id, chain_hash FROM chain;

-- The append-only trigger has to step aside for this one update, and only
-- inside this migration's transaction: it is recreated, unchanged, below.
DROP TRIGGER audit_log_no_update;

UPDATE audit_log
SET chain_hash = (SELECT c.chain_hash FROM temp.audit_chain_0002 AS c WHERE c.id = audit_log.id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

DROP TABLE temp.audit_chain_0002;

-- Every entry written from now on must be chained. (The column cannot be
-- NOT NULL: SQLite only adds such a column with a constant default.)
CREATE TRIGGER audit_log_chain_required BEFORE INSERT ON audit_log
WHEN NEW.chain_hash IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit entries must carry their chain hash');
END;
