-- Access by seat on a real PostgreSQL server (run by tests/pg/access_test.sh
-- on a fresh database with every migrations_pg file applied, as the owner).
--
-- Two practices, two pharmacist seats (seat_alice works for A81001, seat_bob
-- for B82002) and an admin seat. Proves that row-level security hides the
-- other practice's rows and refuses writes into it, that audit entries and
-- review versions cannot be updated or deleted, that the role is stamped on
-- every audit entry whatever the client sends, that the chain the server
-- builds is the one the Rust code builds (audit::chain_hash), and that it
-- verifies across seats.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset footer off

-- expect_error(sql, pattern): runs sql as the caller; fails unless it raises
-- an error whose message matches pattern. Test-only, in this database only.
CREATE FUNCTION expect_error(sql TEXT, pattern TEXT) RETURNS TEXT
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE sql;
    EXCEPTION WHEN OTHERS THEN
        IF SQLERRM !~ pattern THEN
            RAISE EXCEPTION 'expected an error matching "%" from: %  -- got: %', pattern, sql, SQLERRM;
        END IF;
        RETURN 'refused as expected: ' || SQLERRM;
    END;
    RAISE EXCEPTION 'expected an error matching "%", but this succeeded: %', pattern, sql;
END $$;
GRANT EXECUTE ON FUNCTION expect_error(TEXT, TEXT) TO stepdown_pharmacist;

-- check_that(ok, what): fails unless ok.
CREATE FUNCTION check_that(ok BOOLEAN, what TEXT) RETURNS TEXT
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'check failed: %', what;
    END IF;
    RETURN 'ok: ' || what;
END $$;

\echo '== the chain hash computed by the server equals the Rust one (audit::chain_hash)'
-- Computed by stepdown::store::chain_hash for the same content; the Rust
-- test tests/pg_chain.rs checks these two lines against it.
\set rust_first '5de11ac425b67815b301cef3140fc5724386aa348acf58710e6f36f7885112e8'
\set rust_second '8b4711b1c71c115e44c36f56346d8e20cedd8057e62707b3653baa27a7dfe3aa'
-- Entries written by the Rust code into a SQLite store (stepdown CLI), with
-- the hashes it computed: unicode, quotes, backslash, a newline and a tab in
-- the summary. stepdown_audit_chain_hash must give the same bytes.
SELECT
  stepdown_audit_chain_hash(NULL, 1, '2026-12-07T05:50:00.123Z', 'Dr Zoë O''Brien "Jo"', 'create', 'patient', 1, 1, 'patient 1 created')
    AS first,
  stepdown_audit_chain_hash(repeat('a', 64), 2, '2026-12-07T05:50:01.000Z', 'R\x', 'change', 'review', NULL, NULL, E'line1\nline2\t€ \\ "q" \u0001 /')
    AS second
\gset
\echo :first
\echo :second
SELECT check_that(:'first' = :'rust_first', 'first hash as Rust''s'),
       check_that(:'second' = :'rust_second', 'second hash as Rust''s');

\echo '== every table is under forced row-level security, or shared on purpose'
-- A table added by a later migration must take a side.
SELECT string_agg(c.relname, ', ' ORDER BY c.relname) AS shared_tables
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND NOT c.relforcerowsecurity
\gset
\echo shared: :shared_tables
SELECT check_that(:'shared_tables' = 'audit_head, cf_texts, practices, settings',
                  'only the audit head, shared texts, practices and settings are shared');

\echo '== the admin sets up two practices and assigns the seats'
\c - seat_admin
INSERT INTO practices (code, name) VALUES ('A81001', 'Riverside Surgery'), ('B82002', 'Hill Top Practice');
INSERT INTO seat_practices (role_name, practice_code) VALUES
    ('seat_alice', 'A81001'), ('seat_bob', 'B82002'), ('seat_admin', 'A81001');
SELECT expect_error($$INSERT INTO seat_practices VALUES ('seat_nobody', 'A81001')$$, 'there is no role seat_nobody');

\echo '== alice (A81001) records a patient, a review with two versions, a print'
\c - seat_alice
-- No practice given: the seat's only practice.
INSERT INTO patients (name, nhs_number, local_id, created_at, updated_at)
VALUES ('Alice''s Patient', '9434765919', 'E100', '2026-12-07T06:00:00.000Z', '2026-12-07T06:00:00.000Z');
INSERT INTO reviews (patient_id, created_at, created_by)
SELECT id, '2026-12-07T06:01:00.000Z', 'alice' FROM patients;
INSERT INTO review_versions (review_id, version, saved_at, reviewer, profile, reference_version,
                             patient_context, regimen, result, plan)
SELECT id, v, '2026-12-07T06:02:00.000Z', 'alice', 'uk', '2026.1', '{}', '[]', '{}', '{}'
FROM reviews, (VALUES (1), (2)) AS vs (v);
INSERT INTO leaflet_prints (review_version_id, printed_at, printed_by, pdf_sha256, pdf_size_bytes)
SELECT id, '2026-12-07T06:03:00.000Z', 'alice', repeat('b', 64), 1000 FROM review_versions WHERE version = 2;
-- The audit entry: the client sends neither id, hash, practice nor role
-- (and a forged role is overwritten).
INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary, db_role)
SELECT '2026-12-07T06:02:00.000Z', 'alice', 'create', 'review', r.id, r.patient_id,
       'review ' || r.id || ' created: version 1', 'seat_bob'
FROM reviews r;

\echo '== bob (B82002) records his own patient'
\c - seat_bob
INSERT INTO patients (name, nhs_number, created_at, updated_at)
VALUES ('Bob''s Patient', '9434765870', '2026-12-07T06:10:00.000Z', '2026-12-07T06:10:00.000Z');
-- The same NHS number as alice's patient: per practice, so not refused (a
-- refusal would tell bob that A81001 holds it).
INSERT INTO patients (name, nhs_number, created_at, updated_at)
VALUES ('Same Person Elsewhere', '9434765919', '2026-12-07T06:11:00.000Z', '2026-12-07T06:11:00.000Z');
INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary)
SELECT '2026-12-07T06:10:00.000Z', 'bob', 'create', 'patient', id, id, 'patient ' || id || ' created'
FROM patients ORDER BY id;

\echo '== bob sees only B82002'
SELECT current_user AS seat, id, name, practice_code FROM patients ORDER BY id;
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM patients) = 2, 'bob sees 2 patients';
    ASSERT NOT EXISTS (SELECT FROM patients WHERE practice_code <> 'B82002'), 'bob sees only B82002';
    ASSERT (SELECT count(*) FROM reviews) = 0, 'bob sees no reviews (alice''s)';
    ASSERT (SELECT count(*) FROM review_versions) = 0, 'bob sees no review versions';
    ASSERT (SELECT count(*) FROM leaflet_prints) = 0, 'bob sees no prints';
    ASSERT (SELECT count(*) FROM audit_log WHERE practice_code = 'A81001') = 0, 'bob sees none of A81001''s audit';
    ASSERT (SELECT count(*) FROM seat_practices) = 1, 'bob sees only his own assignment';
END $$;
SELECT id, db_role, actor, practice_code, summary FROM audit_log ORDER BY id;

\echo '== bob cannot write into A81001'
SELECT expect_error($$INSERT INTO patients (name, created_at, updated_at, practice_code)
                      VALUES ('Sneaky', 'x', 'x', 'A81001')$$, 'row-level security');
-- alice's patient is id 1: the foreign key finds it (constraints see every
-- row), the practice trigger does not (bob cannot see it).
SELECT expect_error($$INSERT INTO reviews (patient_id, created_at, created_by) VALUES (1, 'x', 'bob')$$,
                    'not in a practice this role works for');
-- alice's patient is id 1: bob can neither see nor change nor delete it.
DO $$
DECLARE n BIGINT;
BEGIN
    UPDATE patients SET name = 'changed by bob' WHERE id = 1;
    GET DIAGNOSTICS n = ROW_COUNT;
    ASSERT n = 0, 'bob updated alice''s patient';
    DELETE FROM patients WHERE id = 1;
    GET DIAGNOSTICS n = ROW_COUNT;
    ASSERT n = 0, 'bob deleted alice''s patient';
END $$;
-- A temporary table of his own standing in for patients does not fool the
-- triggers (they search the Stepdown schema only).
CREATE TEMP TABLE patients (id BIGINT, practice_code TEXT);
INSERT INTO pg_temp.patients VALUES (1, 'B82002');
SELECT expect_error($$INSERT INTO reviews (patient_id, created_at, created_by) VALUES (1, 'x', 'bob')$$,
                    'not in a practice this role works for');
DROP TABLE pg_temp.patients;
-- Moving his own patient into A81001 is refused.
SELECT expect_error($$UPDATE patients SET practice_code = 'A81001'$$, 'practice cannot be changed|row-level security');
-- An audit entry claiming A81001 is refused.
SELECT expect_error($$INSERT INTO audit_log (at, actor, action, entity, summary, practice_code)
                      VALUES ('x', 'bob', 'change', 'store', 'forged', 'A81001')$$, 'row-level security');
SELECT expect_error($$INSERT INTO seat_practices VALUES ('seat_bob', 'A81001')$$, 'permission denied');

\echo '== alice sees only A81001'
\c - seat_alice
SELECT current_user AS seat, id, name, practice_code FROM patients ORDER BY id;
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM patients) = 1, 'alice sees 1 patient';
    ASSERT (SELECT name FROM patients) = 'Alice''s Patient', 'alice''s patient unchanged by bob';
    ASSERT (SELECT count(*) FROM review_versions) = 2, 'alice sees her 2 versions';
    ASSERT (SELECT count(*) FROM audit_log WHERE practice_code = 'B82002') = 0, 'alice sees none of B82002''s audit';
END $$;

\echo '== append-only: versions, audit entries, the head, for a seat'
SELECT expect_error($$UPDATE review_versions SET notes = 'rewritten'$$, 'permission denied');
SELECT expect_error($$DELETE FROM review_versions$$, 'permission denied');
SELECT expect_error($$UPDATE audit_log SET summary = 'rewritten'$$, 'permission denied');
SELECT expect_error($$DELETE FROM audit_log$$, 'permission denied');
SELECT expect_error($$TRUNCATE audit_log$$, 'permission denied');
SELECT expect_error($$UPDATE audit_head SET entries = 0$$, 'permission denied');
SELECT expect_error($$UPDATE audit_head SET id = 1$$, 'moves only with a new audit entry');
-- The row lock the store takes first in every write transaction.
BEGIN;
SELECT last_id AS locked_head FROM audit_head WHERE id = 1 FOR UPDATE;
ROLLBACK;
SELECT expect_error($$UPDATE reviews SET created_by = 'x'$$, 'permission denied');
SELECT expect_error($$CREATE TABLE sneaky (x int)$$, 'permission denied');
SELECT expect_error($$DROP TABLE audit_log$$, 'must be owner');
-- An entry with a stale id (another seat wrote first) is refused, not forked.
SELECT expect_error($$INSERT INTO audit_log (id, at, actor, action, entity, summary)
                      VALUES (1, 'x', 'alice', 'change', 'store', 'stale')$$, 'not the next in the chain');
SELECT expect_error($$INSERT INTO audit_log (at, actor, action, entity, summary, chain_hash)
                      VALUES ('x', 'alice', 'change', 'store', 'bad hash', repeat('0', 64))$$,
                    'does not follow');

\echo '== a whole review still goes, with its versions (the cascade)'
INSERT INTO reviews (patient_id, created_at, created_by)
SELECT id, '2026-12-07T06:20:00.000Z', 'alice' FROM patients;
INSERT INTO review_versions (review_id, version, saved_at, reviewer, profile, reference_version,
                             patient_context, regimen, result, plan)
SELECT max(id), 1, '2026-12-07T06:20:00.000Z', 'alice', 'uk', '2026.1', '{}', '[]', '{}', '{}' FROM reviews;
-- Two seats saving version 1 of the same review: the second is refused.
SELECT expect_error($$INSERT INTO review_versions (review_id, version, saved_at, reviewer, profile,
                        reference_version, patient_context, regimen, result, plan)
                      SELECT max(id), 1, 'x', 'alice', 'uk', '2026.1', '{}', '[]', '{}', '{}' FROM reviews$$,
                    'duplicate key value violates unique constraint "review_versions_review_id_version_key"');
DELETE FROM reviews WHERE id = (SELECT max(id) FROM reviews);
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM review_versions) = 2, 'the deleted review took its version';
END $$;

\echo '== a deleted patient''s later audit entries stay in its practice'
INSERT INTO patients (name, created_at, updated_at) VALUES ('Leaving', 'x', 'x');
INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary)
SELECT '2026-12-07T06:25:00.000Z', 'alice', 'create', 'patient', max(id), max(id), 'patient created'
FROM patients;
SELECT max(id) AS leaving FROM patients \gset
DELETE FROM patients WHERE id = :leaving;
INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary)
VALUES ('2026-12-07T06:26:00.000Z', 'alice', 'delete', 'patient', :leaving, :leaving, 'patient deleted');
SELECT check_that((SELECT practice_code FROM audit_log WHERE action = 'delete' AND patient_id = :leaving) = 'A81001',
                  'the deletion entry is in A81001, from the patient''s earlier entries');

\echo '== drafts and worklist claims (migration 3) follow their practice'
INSERT INTO review_drafts (review_id, base_version, latest_version, saved_at, saved_by, input)
SELECT min(id), 1, 2, '2026-12-07T06:30:00.000Z', 'alice', '{"notes": "kept"}' FROM reviews;
-- The claim upsert the store runs, the practice filled in before the
-- conflict check so that (practice_code, extract_id) is the target.
INSERT INTO cf_claims (extract_id, holder, claimed_at, status, changed_at, changed_by)
VALUES ('E1', 'alice', '2026-12-07T06:31:00.000Z', 'to-contact', '2026-12-07T06:31:00.000Z', 'alice')
ON CONFLICT (practice_code, extract_id) DO UPDATE SET holder = excluded.holder,
    claimed_at = excluded.claimed_at, changed_at = excluded.changed_at, changed_by = excluded.changed_by
WHERE cf_claims.holder IS NULL;
\c - seat_bob
-- The same extract id at bob's practice is another patient: his own claim.
INSERT INTO cf_claims (extract_id, holder, claimed_at, status, changed_at, changed_by)
VALUES ('E1', 'bob', '2026-12-07T06:32:00.000Z', 'booked', '2026-12-07T06:32:00.000Z', 'bob')
ON CONFLICT (practice_code, extract_id) DO UPDATE SET holder = excluded.holder,
    claimed_at = excluded.claimed_at, changed_at = excluded.changed_at, changed_by = excluded.changed_by
WHERE cf_claims.holder IS NULL;
SELECT current_user AS seat, extract_id, holder, status, practice_code FROM cf_claims;
SELECT check_that((SELECT count(*) FROM review_drafts) = 0, 'bob sees no drafts of alice''s'),
       check_that((SELECT count(*) FROM cf_claims) = 1, 'bob sees only his claim'),
       check_that((SELECT holder FROM cf_claims) = 'bob', 'his claim is his');
SELECT expect_error($$UPDATE cf_claims SET practice_code = 'A81001'$$, 'practice cannot be changed|row-level security');
\c - seat_alice
SELECT check_that((SELECT count(*) FROM review_drafts) = 1, 'alice sees her draft'),
       check_that((SELECT holder FROM cf_claims) = 'alice', 'alice''s claim untouched by bob''s');
SELECT expect_error($$UPDATE review_drafts SET saved_by = 'x'$$, 'permission denied');

\echo '== the owner cannot rewrite history either (triggers)'
\c - stepdown_test_owner
SELECT expect_error($$UPDATE review_versions SET notes = 'x'$$, 'append-only');
SELECT expect_error($$DELETE FROM review_versions$$, 'cannot be deleted; delete the whole review');
SELECT expect_error($$UPDATE audit_log SET summary = 'x'$$, 'append-only');
SELECT expect_error($$DELETE FROM audit_log$$, 'append-only');
SELECT expect_error($$TRUNCATE audit_log$$, 'append-only');
SELECT expect_error($$TRUNCATE review_versions CASCADE$$, 'append-only');
SELECT expect_error($$DELETE FROM audit_head$$, 'cannot be removed');
SELECT expect_error($$UPDATE audit_head SET entries = entries + 1$$, 'moves only with a new audit entry');

\echo '== every audit entry carries the role that signed in; the chain verifies for every seat'
\c - seat_admin
SELECT id, db_role, actor, practice_code, summary FROM audit_log ORDER BY id;
DO $$
BEGIN
    ASSERT (SELECT db_role FROM audit_log WHERE actor = 'alice' AND entity = 'review') = 'seat_alice',
        'alice''s entry carries seat_alice (not the forged seat_bob)';
    ASSERT (SELECT count(*) FROM audit_log WHERE actor = 'bob' AND db_role = 'seat_bob') = 2,
        'bob''s entries carry seat_bob';
    ASSERT (SELECT count(*) FROM audit_log WHERE db_role = 'seat_admin' AND summary LIKE 'seat % assigned to practice %') = 3,
        'the assignments are audited, by seat_admin';
END $$;
-- A seat working for two practices must say which a new patient belongs to.
INSERT INTO seat_practices VALUES ('seat_admin', 'B82002');
SELECT expect_error($$INSERT INTO patients (name, created_at, updated_at) VALUES ('Whose', 'x', 'x')$$,
                    'works for several practices \(A81001, B82002\)');
INSERT INTO patients (name, created_at, updated_at, practice_code) VALUES ('Named', 'x', 'x', 'B82002');
-- A role with no assignment writes nothing.
DELETE FROM seat_practices WHERE role_name = 'seat_admin';
\c - stepdown_test_owner
SELECT expect_error($$INSERT INTO patients (name, created_at, updated_at) VALUES ('Nobody''s', 'x', 'x')$$,
                    'assigned to no practice');
\c - seat_bob
SELECT current_user AS seat, * FROM stepdown_audit_verify();
DO $$
DECLARE v RECORD;
BEGIN
    SELECT * INTO v FROM stepdown_audit_verify();
    ASSERT v.first_broken_id IS NULL, 'chain intact';
    ASSERT v.entries = v.head_entries AND v.last_id = v.head_last_id AND v.last_hash = v.head_hash,
        'the log matches its head';
    ASSERT v.entries > (SELECT count(*) FROM audit_log), 'bob verifies entries he cannot read';
END $$;

\echo '== the schema check (migration 4) names a dropped trigger, RLS switched off, a policy added'
SELECT check_that(NOT EXISTS (SELECT FROM stepdown_schema_problems()), 'a sound schema has no problems');
\c - postgres
ALTER TABLE review_versions DISABLE TRIGGER review_versions_no_update;
DROP TRIGGER audit_log_no_delete ON audit_log;
ALTER TABLE patients NO FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone ON cf_claims USING (true);
\c - seat_bob
SELECT * FROM stepdown_schema_problems();
SELECT check_that((SELECT count(*) FROM stepdown_schema_problems()) = 4, 'four problems named');
\c - postgres
ALTER TABLE review_versions ENABLE TRIGGER review_versions_no_update;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION stepdown_refuse('the audit log is append-only');
ALTER TABLE patients FORCE ROW LEVEL SECURITY;
DROP POLICY everyone ON cf_claims;
SELECT check_that(NOT EXISTS (SELECT FROM stepdown_schema_problems()), 'put back, no problems');

\echo '== a tampered entry is found by the verification'
\c - postgres
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
UPDATE audit_log SET summary = 'tampered' WHERE id = 2;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;
\c - seat_alice
SELECT current_user AS seat, * FROM stepdown_audit_verify();
DO $$
BEGIN
    ASSERT (SELECT first_broken_id FROM stepdown_audit_verify()) = 2, 'the tampered entry is named';
END $$;

\echo 'access_test: all passed'
