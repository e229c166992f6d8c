-- Stepdown store, schema version 5: the head of the audit chain, kept apart
-- from the log.
--
-- The hash chain (migration 2) shows an entry changed, inserted or removed
-- from the middle, but not the newest entries removed, nor the whole log
-- emptied: what remains is still a consistent chain. So the count of entries,
-- the newest id and its chain hash are also kept here, in a one-row table that
-- follows every insert into the log (trigger below) and may move in no other
-- way. Deleting log rows now leaves the head pointing past the end of the log,
-- which `stepdown check` and `stepdown audit verify` report; hiding that needs
-- this table's triggers dropped too, which the schema check reports. The head
-- is also written into every backup report and export.
--
-- Migrations are append-only: once released, this file never changes (a test
-- pins its SHA-256). The runner wraps it in a transaction and sets the version.

CREATE TABLE audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    entries    INTEGER NOT NULL CHECK (entries >= 0),
    last_id    INTEGER NOT NULL CHECK (last_id >= 0),
    chain_hash TEXT
               CHECK (chain_hash IS NULL
                      OR (length(chain_hash) = 64 AND chain_hash NOT GLOB '*[^0-9a-f]*'))
) STRICT;

INSERT INTO audit_head (id, entries, last_id, chain_hash)
SELECT 1, count(*), coalesce(max(id), 0),
       (SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1)
FROM audit_log;

CREATE TRIGGER audit_head_follows_log AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head
    SET entries = entries + 1, last_id = NEW.id, chain_hash = NEW.chain_hash
    WHERE id = 1;
END;

-- The head moves one entry at a time, forwards, to an entry that exists.
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id
     OR NEW.entries IS NOT OLD.entries + 1
     OR NEW.last_id <= OLD.last_id
     OR NEW.chain_hash IS NOT (SELECT chain_hash FROM audit_log WHERE id = NEW.last_id)
BEGIN
    SELECT RAISE(ABORT, 'the audit head moves only with a new audit entry');
END;

CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'the audit head cannot be removed');
END;

CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'the audit log has one head');
END;
