-- Stepdown team store on PostgreSQL, schema version 6: an audit entry about a
-- case-finding import takes the import's practice (issue 19). Its summary
-- names the extract file and its counts; written as entity 'store' without a
-- practice, it was visible to the seats of every practice. The store now
-- writes it as entity 'casefinding-import' (entity_id the import's id), and
-- this trigger gives it the import's practice, as migration 5 does for
-- claims; a practice given that is not the import's is refused. Entries
-- already written as 'store' are left as they are: the log is append-only.
--
-- Migrations are append-only: once released, this file never changes.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE OR REPLACE FUNCTION stepdown_audit_practice_and_role() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    derived TEXT;
BEGIN
    -- Who signed in, whatever the client sent.
    NEW.db_role := session_user;
    IF NEW.patient_id IS NOT NULL THEN
        SELECT p.practice_code INTO derived FROM patients p WHERE p.id = NEW.patient_id;
        IF derived IS NULL THEN
            -- Deleted (the entry recording a deletion comes after it).
            SELECT a.practice_code INTO derived FROM audit_log a
            WHERE a.patient_id = NEW.patient_id AND a.practice_code IS NOT NULL
            ORDER BY a.id DESC LIMIT 1;
        END IF;
    ELSIF NEW.entity = 'worklist-claim' AND NEW.entity_id IS NOT NULL THEN
        -- Claims are never deleted; the writer sees its own row.
        SELECT c.practice_code INTO derived FROM cf_claims c WHERE c.id = NEW.entity_id;
    ELSIF NEW.entity = 'casefinding-import' AND NEW.entity_id IS NOT NULL THEN
        -- The import's row is written first in the same transaction.
        SELECT i.practice_code INTO derived FROM cf_imports i WHERE i.id = NEW.entity_id;
    END IF;
    IF NEW.practice_code IS NULL THEN
        NEW.practice_code := derived;
    ELSIF derived IS NOT NULL AND derived <> NEW.practice_code THEN
        RAISE EXCEPTION 'audit entry: practice % given, but the % it is about is in practice %',
            NEW.practice_code, NEW.entity, derived USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
