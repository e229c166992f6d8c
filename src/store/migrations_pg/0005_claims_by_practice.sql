-- Stepdown team store on PostgreSQL, schema version 5: worklist claims
-- keyed by practice (issue 19; SQLite's migration 12). cf_claims is keyed by
-- (practice_code, extract_id) since migration 3; what changes here is the
-- audit log. An entry about a claim (entity 'worklist-claim', entity_id the
-- claim's id) names the patient's extract identifier in its summary; written
-- without a practice, it was visible to the seats of every practice. Now it
-- takes the claim's practice, as an entry about a patient takes the
-- patient's, so only the seats of that practice (and admins) see it; a
-- practice given that is not the claim's is refused.
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
    END IF;
    IF NEW.practice_code IS NULL THEN
        NEW.practice_code := derived;
    ELSIF derived IS NOT NULL AND derived <> NEW.practice_code THEN
        RAISE EXCEPTION 'audit entry: practice % given, but the % it is about is in practice %',
            NEW.practice_code, NEW.entity, derived USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
