-- Stepdown team store on PostgreSQL, schema version 8: each practice's
-- leaflet details (issue 19). A leaflet tells the patient to ring their
-- practice; on a store of several practices the store-wide settings would
-- print one surgery's number on another's patients' leaflets. The practice
-- row (its name already here) now carries the phone and address printed on
-- the leaflets and summaries of that practice's patients.
-- - The CHECKs are the rules of Settings::validated (src/store/settings.rs)
--   for practice_phone and practice_address, so a row written around the
--   application still holds what a leaflet may print: a phone of digits,
--   spaces, + - ( ) with 7 to 15 digits (or none yet), trimmed, at most 30
--   characters; an address of at most 500 characters, no control
--   characters but line breaks and tabs. Empty means not set yet (a leaflet
--   for that practice is refused until an admin sets it).
-- - Written only by admins, as the practice list already is (migration 2's
--   grants: pharmacists SELECT, admins INSERT/UPDATE/DELETE; no row-level
--   security: every seat may read every practice's name and number).
-- - Every change is audited by the server, like an assignment (migration 2):
--   an entry in the practice's part of the log naming the fields changed
--   (not their values), whoever wrote the row and however. The actor is the
--   one the application names for the transaction (stepdown.actor), else the
--   role that signed in.
--
-- Migrations are append-only: once released, this file never changes.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

ALTER TABLE practices
    ADD COLUMN phone TEXT NOT NULL DEFAULT ''
        CHECK (phone = btrim(phone) AND length(phone) <= 30 AND phone ~ '^[0-9 +()-]*$'
               AND (phone = '' OR length(regexp_replace(phone, '[^0-9]', '', 'g')) BETWEEN 7 AND 15)),
    ADD COLUMN address TEXT NOT NULL DEFAULT ''
        CHECK (length(address) <= 500 AND address !~ E'[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]');

CREATE FUNCTION stepdown_audit_practice_details() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    changed TEXT[] := ARRAY[]::TEXT[];
BEGIN
    IF NEW.name IS DISTINCT FROM OLD.name THEN
        changed := changed || 'practice_name'::TEXT;
    END IF;
    IF NEW.phone IS DISTINCT FROM OLD.phone THEN
        changed := changed || 'practice_phone'::TEXT;
    END IF;
    IF NEW.address IS DISTINCT FROM OLD.address THEN
        changed := changed || 'practice_address'::TEXT;
    END IF;
    IF cardinality(changed) > 0 THEN
        INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary, practice_code)
        VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                coalesce(nullif(btrim(current_setting('stepdown.actor', true)), ''), session_user),
                'change', 'settings', NULL, NULL,
                format('practice %s settings changed: %s', NEW.code, array_to_string(changed, ', ')),
                NEW.code);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER practices_audit AFTER UPDATE ON practices
FOR EACH ROW EXECUTE FUNCTION stepdown_audit_practice_details();

-- The schema check knows the new trigger (migration 7's, with it added).
-- One sentence per problem; no rows when the schema is as the migrations made it.
CREATE OR REPLACE FUNCTION stepdown_schema_problems() RETURNS SETOF TEXT
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    want TEXT;
    tbl TEXT;
    trg TEXT;
    r RECORD;
    ns OID := (SELECT oid FROM pg_namespace WHERE nspname = current_schema());
BEGIN
    FOREACH want IN ARRAY ARRAY[
        'audit_head.audit_head_forward_only', 'audit_head.audit_head_no_delete',
        'audit_head.audit_head_no_insert', 'audit_head.audit_head_no_truncate',
        'audit_log.audit_head_follows_log', 'audit_log.audit_log_0practice_role',
        'audit_log.audit_log_chain', 'audit_log.audit_log_no_delete',
        'audit_log.audit_log_no_truncate', 'audit_log.audit_log_no_update',
        'cf_claims.cf_claims_0practice', 'cf_imports.cf_imports_0practice',
        'cf_issues.cf_issues_0practice', 'cf_issues.cf_issues_no_update',
        'cf_patients.cf_patients_0practice', 'cf_state.cf_state_0practice',
        'cf_summaries.cf_summaries_0practice',
        'cf_summaries_staging.cf_summaries_staging_0practice',
        'follow_ups.follow_ups_0practice', 'follow_ups.follow_ups_no_delete',
        'follow_ups.follow_ups_no_truncate', 'follow_ups.follow_ups_no_update',
        'leaflet_prints.leaflet_prints_0practice', 'leaflet_prints.leaflet_prints_no_update',
        'patients.patients_0practice', 'practices.practices_audit',
        'review_drafts.review_drafts_0practice',
        'review_versions.review_versions_0practice', 'review_versions.review_versions_no_delete',
        'review_versions.review_versions_no_truncate', 'review_versions.review_versions_no_update',
        'reviews.reviews_0practice', 'reviews.reviews_no_update',
        'seat_practices.seat_practices_audit', 'seat_practices.seat_practices_no_update',
        'seat_practices.seat_practices_role_exists'] LOOP
        tbl := split_part(want, '.', 1);
        trg := split_part(want, '.', 2);
        SELECT t.tgenabled INTO r
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = ns AND c.relname = tbl AND t.tgname = trg AND NOT t.tgisinternal;
        IF NOT FOUND THEN
            RETURN NEXT format('the safeguard trigger %s on %s is missing (dropped outside Stepdown): what it protects may have been changed', trg, tbl);
        ELSIF r.tgenabled = 'D' THEN
            RETURN NEXT format('the safeguard trigger %s on %s is disabled (outside Stepdown): what it protects may have been changed', trg, tbl);
        END IF;
    END LOOP;

    FOREACH tbl IN ARRAY ARRAY[
        'patients', 'reviews', 'review_versions', 'leaflet_prints', 'follow_ups',
        'review_drafts', 'cf_imports', 'cf_patients', 'cf_issues', 'cf_summaries',
        'cf_summaries_staging', 'cf_state', 'cf_claims', 'audit_log', 'seat_practices'] LOOP
        SELECT c.relrowsecurity, c.relforcerowsecurity INTO r
        FROM pg_class c WHERE c.relnamespace = ns AND c.relname = tbl AND c.relkind = 'r';
        IF NOT FOUND THEN
            RETURN NEXT format('the table %s is missing (dropped outside Stepdown)', tbl);
            CONTINUE;
        END IF;
        IF NOT r.relrowsecurity OR NOT r.relforcerowsecurity THEN
            RETURN NEXT format('row-level security is off on %s (changed outside Stepdown): every seat may see every practice''s rows there', tbl);
        END IF;
        FOREACH trg IN ARRAY CASE WHEN tbl = 'seat_practices'
                                  THEN ARRAY['pharmacist_own_assignments', 'admin_all_assignments']
                                  WHEN tbl = 'audit_log'
                                  THEN ARRAY['pharmacist_own_practices', 'admin_all_practices']
                                  ELSE ARRAY['pharmacist_own_practices', 'admin_all_practices',
                                             'practice_scope'] END LOOP
            IF NOT EXISTS (SELECT FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                           WHERE c.relnamespace = ns AND c.relname = tbl AND p.polname = trg
                             -- made permissive, the scope would widen access
                             AND (trg <> 'practice_scope' OR NOT p.polpermissive)) THEN
                RETURN NEXT format('the access policy %s on %s is missing (dropped or changed outside Stepdown)', trg, tbl);
            END IF;
        END LOOP;
        -- A policy added outside Stepdown widens access (policies are OR-ed).
        FOR r IN SELECT p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                     WHERE c.relnamespace = ns AND c.relname = tbl
                       AND p.polname NOT IN ('pharmacist_own_practices', 'admin_all_practices',
                                             'pharmacist_own_assignments', 'admin_all_assignments',
                                             'practice_scope') LOOP
            RETURN NEXT format('an unexpected access policy %s is on %s (added outside Stepdown)', r.polname, tbl);
        END LOOP;
    END LOOP;
END $$;

