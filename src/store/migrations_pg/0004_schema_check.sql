-- Stepdown team store on PostgreSQL, schema version 4: the schema check the
-- server runs for `stepdown check` (as migrations.rs's schema_differences
-- does on SQLite): every safeguard trigger present and enabled, row-level
-- security on and forced where migration 2 and 3 put it, and their
-- policies present. A dropped append-only trigger or a disabled policy is
-- how the log or another practice's rows would be reached unnoticed; only
-- the owner (or a superuser) can do either, and this names it.
--
-- What it does not see: a trigger or policy replaced by one of the same name
-- doing something else, or a function body replaced (CREATE OR REPLACE by
-- the owner). The audit chain still shows any entry changed meanwhile.
--
-- A later migration that adds a trigger, a table under row-level security
-- or a policy replaces this function with the longer list.
--
-- Migrations are append-only: once released, this file never changes.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- One sentence per problem; no rows when the schema is as the migrations made it.
CREATE FUNCTION stepdown_schema_problems() RETURNS SETOF TEXT
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
                                  ELSE ARRAY['pharmacist_own_practices', 'admin_all_practices'] END LOOP
            IF NOT EXISTS (SELECT FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                           WHERE c.relnamespace = ns AND c.relname = tbl AND p.polname = trg) THEN
                RETURN NEXT format('the access policy %s on %s is missing (dropped outside Stepdown)', trg, tbl);
            END IF;
        END LOOP;
        -- A policy added outside Stepdown widens access (policies are OR-ed).
        FOR r IN SELECT p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                     WHERE c.relnamespace = ns AND c.relname = tbl
                       AND p.polname NOT IN ('pharmacist_own_practices', 'admin_all_practices',
                                             'pharmacist_own_assignments', 'admin_all_assignments') LOOP
            RETURN NEXT format('an unexpected access policy %s is on %s (added outside Stepdown)', r.polname, tbl);
        END LOOP;
    END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION stepdown_schema_problems() TO stepdown_pharmacist;
