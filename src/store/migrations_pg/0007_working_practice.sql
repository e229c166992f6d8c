-- Stepdown team store on PostgreSQL, schema version 7: a seat's working
-- practice (issue 19). A seat assigned to several practices (a PCN
-- pharmacist), or an admin, works on one practice at a time: it names it
-- in the session setting stepdown.practice, and then
-- - sees and writes only that practice's rows: a restrictive policy,
--   AND-ed with the access policies of migrations 2 and 3, so it can only
--   narrow what a seat may see, never widen it (naming a practice the seat
--   is not assigned to shows nothing and writes nothing);
-- - a root row written without a practice takes that one (before: only a
--   seat with exactly one assignment could leave it out).
-- Case-finding's SQL, written for a SQLite file of one practice (its
-- ranks, its cache state, its staging, its imports by file), therefore
-- works on one practice of the server unchanged, and an import or a
-- recomputation for one practice never touches another's cache. The
-- setting empty or unset: as before (every practice the seat may see).
-- The audit log is not narrowed (its chain is the store's).
--
-- Migrations are append-only: once released, this file never changes.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- Root rows: the working practice, else the seat's only assigned one.
CREATE OR REPLACE FUNCTION stepdown_practice_default() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    codes TEXT[];
    working TEXT := nullif(current_setting('stepdown.practice', true), '');
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.practice_code IS DISTINCT FROM OLD.practice_code THEN
            RAISE EXCEPTION '%: a row''s practice cannot be changed', TG_TABLE_NAME
                USING ERRCODE = 'P0001';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.practice_code IS NULL AND working IS NOT NULL THEN
        NEW.practice_code := working;
    END IF;
    IF NEW.practice_code IS NULL THEN
        SELECT array_agg(sp.practice_code ORDER BY sp.practice_code) INTO codes
        FROM seat_practices sp WHERE sp.role_name = current_user;
        IF codes IS NULL THEN
            RAISE EXCEPTION '%: the role % is assigned to no practice (an admin assigns practices in seat_practices)',
                TG_TABLE_NAME, current_user USING ERRCODE = '42501';
        ELSIF cardinality(codes) > 1 THEN
            RAISE EXCEPTION '%: the role % works for several practices (%): say which practice_code this row belongs to',
                TG_TABLE_NAME, current_user, array_to_string(codes, ', ') USING ERRCODE = '23502';
        END IF;
        NEW.practice_code := codes[1];
    END IF;
    RETURN NEW;
END $$;

-- The working practice narrows every practice's table (admins are
-- pharmacists too, so this applies to them).
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['patients', 'reviews', 'review_versions', 'leaflet_prints',
                             'follow_ups', 'review_drafts', 'cf_imports', 'cf_patients',
                             'cf_issues', 'cf_summaries', 'cf_summaries_staging', 'cf_state',
                             'cf_claims'] LOOP
        EXECUTE format('CREATE POLICY practice_scope ON %I AS RESTRICTIVE TO stepdown_pharmacist '
                       'USING (coalesce(current_setting(''stepdown.practice'', true), '''') = '''' '
                       '       OR practice_code = current_setting(''stepdown.practice'', true))', t);
    END LOOP;
END $$;

-- The schema check knows the new policy (migration 4's, with it added).
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
        'patients.patients_0practice', 'review_drafts.review_drafts_0practice',
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

