-- Stepdown team store on PostgreSQL, schema version 2: access by seat.
--
-- Each seat signs in as its own PostgreSQL role. Two group roles:
--   stepdown_pharmacist  a seat's daily work: sees and writes only the rows
--                        of the practices it is assigned to (seat_practices);
--   stepdown_admin       the store's administrator (few people): manages
--                        practices, assignments and settings, sees every
--                        practice (it migrates, exports and verifies the
--                        whole store). Admins are pharmacists too.
-- The role that runs the migrations owns every object and is made an admin.
--
-- Practices: every row that belongs to a practice carries its ODS code
-- (practice_code): patients and everything hanging off them (reviews,
-- versions, leaflet prints, follow-ups), and case-finding's imports,
-- extract patients, issues, worklist cache and state. Rows are filtered by
-- row-level security, ENABLEd and FORCEd (the owner too is subject to it),
-- so the server, not the application, decides what a seat sees:
-- - on root rows (patients, cf_imports, cf_patients, cf_state) the code is
--   given by the application, or, when left out, is the seat's only
--   assigned practice (a seat with several must say which);
-- - on rows hanging off another it is copied from the parent row by a
--   trigger (and a given code must match it), so the SQL written for SQLite
--   needs no change; a row whose parent the seat cannot see is refused;
-- - a row's practice never changes (a patient who moves practice is a new
--   record at the new practice).
-- Uniqueness is per practice (NHS number, local id, extract id, file, rank,
-- state key), so that a seat cannot learn from a refused duplicate what
-- another practice holds.
--
-- Shared by all seats, with no practice: the practices list, settings
-- (store-wide; admins write them), cf_texts (product descriptions and dose
-- instructions as written, no patient in them) and the audit head.
--
-- The audit log and RLS: one hash chain for the whole store, ordered by the
-- server (migration 1), while each entry is visible only to the seats of
-- its practice (entries with no practice, such as settings changes, to
-- all). An entry's practice is given, or copied from its patient (from the
-- patient's earlier entries when the patient has been deleted). A seat can
-- therefore not walk the whole chain itself; it checks it with
-- stepdown_audit_verify() (migration 1), which the server runs over every
-- entry and which returns only counts and hashes. Admins can read the whole
-- log and verify it themselves, as `stepdown audit verify` does on SQLite.
-- Every entry carries db_role, the role that signed in (session_user,
-- which SET ROLE cannot change), set by a trigger whatever the client
-- sends. db_role is not part of the chain's hashed content (format
-- stepdown-audit-v1, shared with SQLite, so a store moved from SQLite
-- verifies unchanged): it is protected by the append-only triggers and the
-- grants, not by the hashes.
--
-- Grants are least privilege: nobody but the owner has DELETE on the audit
-- log, its head or review versions, UPDATE on anything append-only (but the
-- audit head's id, which the row lock SELECT … FOR UPDATE needs; its trigger
-- refuses every change), or may create, alter or drop tables. Versions and follow-ups go with their
-- review through the foreign key's cascade (which runs as the owner).
--
-- Migrations are append-only: once released, this file never changes.
-- Applied by the runner in one transaction after 0001, to an empty store
-- (the NOT NULL practice columns below are added to empty tables).

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- The group roles are cluster-wide: made once, kept if they exist (a
-- second Stepdown database on the same server shares them).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepdown_pharmacist') THEN
        CREATE ROLE stepdown_pharmacist NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepdown_admin') THEN
        CREATE ROLE stepdown_admin NOLOGIN;
    END IF;
    IF NOT pg_has_role('stepdown_admin', 'stepdown_pharmacist', 'MEMBER') THEN
        EXECUTE 'GRANT stepdown_pharmacist TO stepdown_admin';
    END IF;
    IF NOT pg_has_role(current_user, 'stepdown_admin', 'MEMBER') THEN
        EXECUTE format('GRANT stepdown_admin TO %I', current_user);
    END IF;
END $$;

------------------------------------------------------------------------------
-- Practices and assignments

CREATE TABLE practices (
    -- The practice's ODS code (e.g. A81001): 3 to 10 upper-case letters and digits.
    code  TEXT PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{3,10}$'),
    name  TEXT NOT NULL CHECK (length(btrim(name)) > 0)
);

-- Which practices each seat (a login role) works for.
CREATE TABLE seat_practices (
    role_name      TEXT NOT NULL,
    practice_code  TEXT NOT NULL REFERENCES practices (code),
    PRIMARY KEY (role_name, practice_code)
);

-- An assignment names a role that exists (a typo would otherwise give no
-- one access, silently).
CREATE FUNCTION stepdown_seat_role_exists() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = NEW.role_name) THEN
        RAISE EXCEPTION 'seat_practices: there is no role %', NEW.role_name
            USING ERRCODE = '23503';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER seat_practices_role_exists BEFORE INSERT OR UPDATE ON seat_practices
FOR EACH ROW EXECUTE FUNCTION stepdown_seat_role_exists();

------------------------------------------------------------------------------
-- The practice column

-- Root rows: the seat's only practice when the application gives none.
CREATE FUNCTION stepdown_practice_default() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    codes TEXT[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.practice_code IS DISTINCT FROM OLD.practice_code THEN
            RAISE EXCEPTION '%: a row''s practice cannot be changed', TG_TABLE_NAME
                USING ERRCODE = 'P0001';
        END IF;
        RETURN NEW;
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

-- Rows hanging off another: the parent's practice. Runs with the seat's
-- rights, so a parent in a practice the seat does not work for is not found.
CREATE FUNCTION stepdown_practice_from_parent() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    parent TEXT;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.practice_code IS DISTINCT FROM OLD.practice_code THEN
            RAISE EXCEPTION '%: a row''s practice cannot be changed', TG_TABLE_NAME
                USING ERRCODE = 'P0001';
        END IF;
        RETURN NEW;
    END IF;
    CASE TG_TABLE_NAME
        WHEN 'reviews' THEN
            SELECT p.practice_code INTO parent FROM patients p WHERE p.id = NEW.patient_id;
        WHEN 'review_versions', 'follow_ups', 'review_drafts' THEN
            SELECT r.practice_code INTO parent FROM reviews r WHERE r.id = NEW.review_id;
        WHEN 'leaflet_prints' THEN
            SELECT v.practice_code INTO parent FROM review_versions v WHERE v.id = NEW.review_version_id;
        WHEN 'cf_issues', 'cf_summaries', 'cf_summaries_staging' THEN
            SELECT c.practice_code INTO parent FROM cf_patients c WHERE c.id = NEW.patient_id;
    END CASE;
    IF parent IS NULL THEN
        RAISE EXCEPTION '%: the row it belongs to is not in a practice this role works for (or does not exist)',
            TG_TABLE_NAME USING ERRCODE = '42501';
    END IF;
    IF NEW.practice_code IS NOT NULL AND NEW.practice_code <> parent THEN
        RAISE EXCEPTION '%: practice % given, but the row it belongs to is in practice %',
            TG_TABLE_NAME, NEW.practice_code, parent USING ERRCODE = '23514';
    END IF;
    NEW.practice_code := parent;
    RETURN NEW;
END $$;

-- Roots.
ALTER TABLE patients ADD COLUMN practice_code TEXT NOT NULL REFERENCES practices (code);
ALTER TABLE cf_imports ADD COLUMN practice_code TEXT NOT NULL REFERENCES practices (code);
ALTER TABLE cf_patients ADD COLUMN practice_code TEXT NOT NULL REFERENCES practices (code);
ALTER TABLE cf_state ADD COLUMN practice_code TEXT NOT NULL REFERENCES practices (code);
-- Children (no foreign key: the parent's is the check).
ALTER TABLE reviews ADD COLUMN practice_code TEXT NOT NULL;
ALTER TABLE review_versions ADD COLUMN practice_code TEXT NOT NULL;
ALTER TABLE leaflet_prints ADD COLUMN practice_code TEXT NOT NULL;
ALTER TABLE follow_ups ADD COLUMN practice_code TEXT NOT NULL;
ALTER TABLE cf_issues ADD COLUMN practice_code TEXT NOT NULL;
ALTER TABLE cf_summaries ADD COLUMN practice_code TEXT NOT NULL;
ALTER TABLE cf_summaries_staging ADD COLUMN practice_code TEXT NOT NULL;

-- Triggers fire in name order: the practice is set ("_0practice") before
-- anything else looks at the row.
CREATE TRIGGER patients_0practice BEFORE INSERT OR UPDATE ON patients
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_default();
CREATE TRIGGER cf_imports_0practice BEFORE INSERT OR UPDATE ON cf_imports
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_default();
CREATE TRIGGER cf_patients_0practice BEFORE INSERT OR UPDATE ON cf_patients
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_default();
CREATE TRIGGER cf_state_0practice BEFORE INSERT OR UPDATE ON cf_state
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_default();
-- (reviews, review_versions, leaflet_prints, follow_ups and cf_issues
-- refuse UPDATE already: these fire on INSERT.)
CREATE TRIGGER reviews_0practice BEFORE INSERT ON reviews
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_from_parent();
CREATE TRIGGER review_versions_0practice BEFORE INSERT ON review_versions
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_from_parent();
CREATE TRIGGER leaflet_prints_0practice BEFORE INSERT ON leaflet_prints
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_from_parent();
CREATE TRIGGER follow_ups_0practice BEFORE INSERT ON follow_ups
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_from_parent();
-- An import's issues come by the hundred thousand: a practice given by the
-- importer is taken as it is, without calling the function at all (row-level
-- security still refuses one the seat does not work for).
CREATE TRIGGER cf_issues_0practice BEFORE INSERT ON cf_issues
FOR EACH ROW WHEN (NEW.practice_code IS NULL) EXECUTE FUNCTION stepdown_practice_from_parent();
CREATE TRIGGER cf_summaries_0practice BEFORE INSERT OR UPDATE ON cf_summaries
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_from_parent();
CREATE TRIGGER cf_summaries_staging_0practice BEFORE INSERT OR UPDATE ON cf_summaries_staging
FOR EACH ROW EXECUTE FUNCTION stepdown_practice_from_parent();

-- Uniqueness per practice. ON CONFLICT targets change with it:
-- cf_patients (practice_code, extract_id), cf_state (practice_code, key).
ALTER TABLE patients DROP CONSTRAINT patients_nhs_number_key;
ALTER TABLE patients ADD CONSTRAINT patients_nhs_number_key UNIQUE (practice_code, nhs_number);
DROP INDEX patients_local_id_key;
CREATE UNIQUE INDEX patients_local_id_key ON patients (practice_code, lower(local_id));
CREATE INDEX patients_practice ON patients (practice_code, lower(name));
ALTER TABLE cf_imports DROP CONSTRAINT cf_imports_file_sha256_key;
ALTER TABLE cf_imports ADD CONSTRAINT cf_imports_file_sha256_key UNIQUE (practice_code, file_sha256);
ALTER TABLE cf_patients DROP CONSTRAINT cf_patients_extract_id_key;
ALTER TABLE cf_patients ADD CONSTRAINT cf_patients_extract_id_key UNIQUE (practice_code, extract_id);
ALTER TABLE cf_summaries DROP CONSTRAINT cf_summaries_rank_key;
ALTER TABLE cf_summaries ADD CONSTRAINT cf_summaries_rank_key UNIQUE (practice_code, rank);
ALTER TABLE cf_state DROP CONSTRAINT cf_state_pkey;
ALTER TABLE cf_state ADD CONSTRAINT cf_state_pkey PRIMARY KEY (practice_code, key);
CREATE INDEX reviews_practice ON reviews (practice_code);
CREATE INDEX cf_issues_practice ON cf_issues (practice_code, patient_id);

------------------------------------------------------------------------------
-- The audit log: practice and role

ALTER TABLE audit_log ADD COLUMN practice_code TEXT;
ALTER TABLE audit_log ADD COLUMN db_role TEXT NOT NULL DEFAULT session_user;

CREATE INDEX audit_log_practice ON audit_log (practice_code, id);

CREATE FUNCTION stepdown_audit_practice_and_role() RETURNS TRIGGER
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
        IF NEW.practice_code IS NULL THEN
            NEW.practice_code := derived;
        ELSIF derived IS NOT NULL AND derived <> NEW.practice_code THEN
            RAISE EXCEPTION 'audit entry: practice % given, but patient % is in practice %',
                NEW.practice_code, NEW.patient_id, derived USING ERRCODE = '23514';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_log_0practice_role BEFORE INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION stepdown_audit_practice_and_role();

-- Assignments are recorded in the audit log, in the practice's part.
CREATE FUNCTION stepdown_audit_assignment() RETURNS TRIGGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    r seat_practices%ROWTYPE;
    what TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
        what := 'no longer assigned to';
    ELSE
        r := NEW;
        what := 'assigned to';
    END IF;
    INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary, practice_code)
    VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            session_user, 'change', 'store', NULL, NULL,
            format('seat %s %s practice %s', r.role_name, what, r.practice_code),
            r.practice_code);
    RETURN NULL;
END $$;

CREATE TRIGGER seat_practices_audit AFTER INSERT OR DELETE ON seat_practices
FOR EACH ROW EXECUTE FUNCTION stepdown_audit_assignment();

CREATE TRIGGER seat_practices_no_update BEFORE UPDATE ON seat_practices
FOR EACH ROW EXECUTE FUNCTION
    stepdown_refuse('an assignment is not changed: remove it and add the new one');

-- Append-only tables cannot be emptied with TRUNCATE either (only the owner
-- could, and only by dropping these).
CREATE TRIGGER review_versions_no_truncate BEFORE TRUNCATE ON review_versions
FOR EACH STATEMENT EXECUTE FUNCTION stepdown_refuse('review versions are append-only');
CREATE TRIGGER follow_ups_no_truncate BEFORE TRUNCATE ON follow_ups
FOR EACH STATEMENT EXECUTE FUNCTION stepdown_refuse('follow-ups are append-only');

------------------------------------------------------------------------------
-- Row-level security

DO $$
DECLARE
    t TEXT;
    mine CONSTANT TEXT :=
        'practice_code IN (SELECT sp.practice_code FROM seat_practices sp WHERE sp.role_name = current_user)';
BEGIN
    FOREACH t IN ARRAY ARRAY['patients', 'reviews', 'review_versions', 'leaflet_prints',
                             'follow_ups', 'cf_imports', 'cf_patients', 'cf_issues',
                             'cf_summaries', 'cf_summaries_staging', 'cf_state'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY pharmacist_own_practices ON %I TO stepdown_pharmacist '
                       'USING (%s) WITH CHECK (%s)', t, mine, mine);
        EXECUTE format('CREATE POLICY admin_all_practices ON %I TO stepdown_admin '
                       'USING (true) WITH CHECK (true)', t);
    END LOOP;

    ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
    ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
    EXECUTE format('CREATE POLICY pharmacist_own_practices ON audit_log TO stepdown_pharmacist '
                   'USING (practice_code IS NULL OR %s) WITH CHECK (practice_code IS NULL OR %s)',
                   mine, mine);
    CREATE POLICY admin_all_practices ON audit_log TO stepdown_admin
        USING (true) WITH CHECK (true);

    ALTER TABLE seat_practices ENABLE ROW LEVEL SECURITY;
    ALTER TABLE seat_practices FORCE ROW LEVEL SECURITY;
    CREATE POLICY pharmacist_own_assignments ON seat_practices FOR SELECT TO stepdown_pharmacist
        USING (role_name = current_user);
    CREATE POLICY admin_all_assignments ON seat_practices TO stepdown_admin
        USING (true) WITH CHECK (true);
END $$;

------------------------------------------------------------------------------
-- Grants (least privilege)

DO $$
DECLARE
    s TEXT := quote_ident(current_schema());
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM PUBLIC', s);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s FROM PUBLIC', s);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s FROM PUBLIC', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO stepdown_pharmacist, stepdown_admin', s);
    -- Identity columns draw from their sequences.
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO stepdown_pharmacist', s);
END $$;

-- Functions the constraints and the application call.
GRANT EXECUTE ON FUNCTION stepdown_is_iso_date(TEXT), stepdown_json_type(TEXT),
    stepdown_audit_chain_hash(TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT, BIGINT, BIGINT, TEXT),
    stepdown_audit_verify()
    TO stepdown_pharmacist;

-- Pharmacists (and so admins, who are pharmacists too).
GRANT SELECT, INSERT, UPDATE, DELETE ON patients TO stepdown_pharmacist;
GRANT SELECT, INSERT, DELETE ON reviews TO stepdown_pharmacist;
GRANT SELECT, INSERT ON review_versions, leaflet_prints, follow_ups TO stepdown_pharmacist;
GRANT SELECT, INSERT ON audit_log TO stepdown_pharmacist;
GRANT SELECT ON audit_head, settings, practices, seat_practices TO stepdown_pharmacist;
-- The store locks the head row first in every write transaction (SELECT …
-- FOR UPDATE), which needs an UPDATE privilege on some column. The id: any
-- update a seat could make with it is refused by audit_head_forward_only
-- (and the CHECK id = 1); the head moves only with a new entry.
GRANT UPDATE (id) ON audit_head TO stepdown_pharmacist;
GRANT SELECT, INSERT, UPDATE, DELETE ON cf_imports, cf_patients, cf_state TO stepdown_pharmacist;
GRANT SELECT, INSERT, DELETE ON cf_issues, cf_summaries, cf_summaries_staging TO stepdown_pharmacist;
-- Shared texts: never deleted by a seat (another practice's issues may use them).
GRANT SELECT, INSERT ON cf_texts TO stepdown_pharmacist;

-- Admins: the store-wide settings, the practices and who works for which.
GRANT INSERT, UPDATE, DELETE ON settings, practices TO stepdown_admin;
GRANT INSERT, DELETE ON seat_practices TO stepdown_admin;
