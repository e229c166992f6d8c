//! `stepdown migrate-store` (issue 19): a practice's SQLite store copied to a
//! team store on a real server (`STEPDOWN_TEST_PG_URL`, set by
//! tests/pg/with-cluster.sh; without it the tests say so and pass).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");
// Sent in the address; the test cluster's trust sign-in ignores it, and it
// must never be printed.
const PASSWORD: &str = "s3cret-migrate-pw";

fn pg_url() -> Option<String> {
    let url = std::env::var("STEPDOWN_TEST_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
    }
    url
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// One test at a time: two first migrations of new schemas at once can both
/// try to grant the owner the admin role (migration 2, a cluster-wide
/// catalogue), and one is refused as a duplicate.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An empty schema on the test cluster (no store yet: migrate-store makes
/// it), dropped afterwards.
struct Server {
    base: String,
    schema: String,
}

impl Server {
    fn new(base: String) -> Server {
        let schema = format!(
            "mig_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let s = Server { base, schema };
        s.sql(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
            s.schema
        ));
        s
    }

    fn url(&self) -> String {
        format!(
            "{}&password={PASSWORD}&options=-csearch_path%3D{}",
            self.base, self.schema
        )
    }

    fn client(&self) -> postgres::Client {
        let mut c = postgres::Client::connect(&self.base, postgres::NoTls).expect("test cluster");
        c.batch_execute(&format!("SET search_path = {}", self.schema))
            .unwrap();
        c
    }

    fn sql(&self, sql: &str) {
        let mut c = postgres::Client::connect(&self.base, postgres::NoTls).expect("test cluster");
        c.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn count(&self, table: &str) -> i64 {
        self.client()
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("STEPDOWN_DB")
        .output()
        .expect("run stepdown")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "output: {}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"))
}

/// A demo store in a fresh temporary folder.
fn demo_store(dir: &Path) -> PathBuf {
    let db = dir.join("practice.db");
    json(&run(&["demo", "--db", db.to_str().unwrap()]));
    db
}

fn migrate(from: &Path, to: &str) -> Output {
    migrate_as(from, to, "A81001")
}

fn migrate_as(from: &Path, to: &str, practice: &str) -> Output {
    let out = run(&[
        "migrate-store",
        "--from",
        from.to_str().unwrap(),
        "--to",
        to,
        "--practice",
        practice,
    ]);
    assert!(
        !text(&out).contains(PASSWORD),
        "the password was printed: {}",
        text(&out)
    );
    out
}

/// The audit entries' hashed content (what both backends share).
fn chain(export: &Value) -> Vec<Value> {
    export["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let keys = [
                "id",
                "at",
                "actor",
                "action",
                "entity",
                "entity_id",
                "patient_id",
                "summary",
                "chain_hash",
            ];
            Value::Array(keys.iter().map(|k| e[*k].clone()).collect())
        })
        .collect()
}

#[test]
fn a_demo_store_moves_to_a_team_store_with_its_history_and_chain() {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let before = json(&run(&["audit", "verify", "--db", db.to_str().unwrap()]));
    let server = Server::new(base);

    let report = json(&migrate(&db, &server.url()));
    assert_eq!(report["verified"], true);
    assert_eq!(report["practice"], "A81001");
    assert_eq!(report["audit_head"]["entries"], before["entries"]);
    assert_eq!(report["audit_head"]["chain_hash"], before["head_hash"]);
    let rows = |t: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == t)
            .unwrap_or_else(|| panic!("{t} in the report"))["rows"]
            .as_i64()
            .unwrap()
    };
    for t in [
        "patients",
        "reviews",
        "review_versions",
        "follow_ups",
        "audit_log",
    ] {
        assert_eq!(rows(t), server.count(t), "{t}");
        assert!(rows(t) > 0, "{t}: the demo store has some");
    }

    // The same records through the Store on the server (an export reads
    // them all), ids included, and the chain continued by the export's own
    // entry: verified across the join.
    let url = server.url();
    let on_server = json(&run(&["export", "--db", &url, "--format", "json"]));
    let source = json(&run(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]));
    // Each patient now names the practice it moved into (a SQLite file
    // records none); everything else is as it was.
    let practices = |export: &Value| -> Vec<Value> {
        export["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["practice_code"].clone())
            .collect()
    };
    assert!(practices(&source).iter().all(Value::is_null));
    assert!(practices(&on_server).iter().all(|c| c == "A81001"));
    let without_practice = |export: &Value| -> Value {
        let mut patients = export["patients"].clone();
        for p in patients.as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("practice_code");
        }
        patients
    };
    assert_eq!(without_practice(&on_server), without_practice(&source));
    assert_eq!(on_server["settings"], source["settings"]);
    let moved = before["entries"].as_u64().unwrap() as usize;
    assert_eq!(chain(&on_server)[..moved], chain(&source)[..moved]);
    assert_eq!(chain(&on_server).len(), moved + 1, "the export's entry");
    let verify = json(&run(&["audit", "verify", "--db", &url]));
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["entries"].as_u64().unwrap() as usize, moved + 1);
    let check = json(&run(&["check", "--db", &url]));
    assert_eq!(check["ok"], true, "{check}");

    // A seat assigned (an audit entry written by the server's trigger), and
    // new records continue after the copied ids.
    server.sql(&format!(
        "INSERT INTO {}.seat_practices (role_name, practice_code) VALUES (current_user, 'A81001')",
        server.schema
    ));
    let added = json(&run(&[
        "patient",
        "add",
        "--db",
        &url,
        "--name",
        "Test Patient",
        "--date-of-birth",
        "1950-01-02",
    ]));
    let max_id = source["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(
        added["id"].as_i64().unwrap() > max_id,
        "a new patient's id follows the copied ones: {added}"
    );
    let verify = json(&run(&["audit", "verify", "--db", &url]));
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["entries"].as_u64().unwrap() as usize, moved + 3);
}

#[test]
fn a_second_migration_into_the_same_store_is_refused_and_changes_nothing() {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let server = Server::new(base);
    json(&migrate(&db, &server.url()));
    let (patients, entries) = (server.count("patients"), server.count("audit_log"));

    let again = migrate(&db, &server.url());
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let msg = text(&again);
    assert!(
        msg.contains("already holds") && msg.contains("of practice A81001"),
        "{msg}"
    );
    assert!(again.stdout.is_empty());
    assert_eq!(server.count("patients"), patients);
    assert_eq!(server.count("audit_log"), entries);
}

#[test]
fn a_failure_mid_copy_leaves_nothing_on_the_server_and_names_the_row() {
    // A check that refuses every follow-up, so the copy fails after
    // patients, reviews and versions are in.
    refused_copy_names_the_row("follow_ups", "false", "follow_ups id 1");
}

#[test]
fn a_refused_row_inside_a_statement_of_many_rows_is_named() {
    // Rows go many to a statement: the fifth of the demo's eight versions
    // refused is found and named, not the statement's first.
    refused_copy_names_the_row("review_versions", "id <> 5", "review_versions id 5");
}

/// Migrates a demo store into a server where `table` refuses rows failing
/// `check`; the copy must fail naming `row` and leave nothing behind.
fn refused_copy_names_the_row(table: &str, check: &str, row: &str) {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let server = Server::new(base);
    // The store made first, then the check added.
    drop(
        stepdown::store::Store::open(format!(
            "{}&options=-csearch_path%3D{}",
            server.base, server.schema
        ))
        .expect("open the team store"),
    );
    server.sql(&format!(
        "ALTER TABLE {}.{table} ADD CONSTRAINT migrate_test_refuses CHECK ({check}) NOT VALID",
        server.schema
    ));

    let out = migrate(&db, &server.url());
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains(&format!("{row} to the server failed")) && msg.contains("nothing was copied"),
        "{msg}"
    );
    for t in [
        "patients",
        "reviews",
        "review_versions",
        "follow_ups",
        "audit_log",
        "practices",
    ] {
        assert_eq!(server.count(t), 0, "{t} after a failed copy");
    }
    let head: i64 = server
        .client()
        .query_one("SELECT entries FROM audit_head", &[])
        .unwrap()
        .get(0);
    assert_eq!(head, 0);
}

#[test]
fn a_source_row_of_another_practice_or_an_unsound_source_is_refused() {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let server = Server::new(base);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "UPDATE patients SET practice_code = 'B82002' WHERE id = 2",
            [],
        )
        .unwrap();
    }
    let out = migrate(&db, &server.url());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("patients id 2 belongs to practice B82002"),
        "{}",
        text(&out)
    );
    assert_eq!(server.count("patients"), 0);

    // A broken audit chain: `check` fails, so nothing is copied.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute("UPDATE patients SET practice_code = NULL", [])
            .unwrap();
        c.execute_batch(
            "DROP TRIGGER IF EXISTS audit_log_no_update; \
             UPDATE audit_log SET summary = 'altered' WHERE id = 3;",
        )
        .unwrap();
    }
    let out = migrate(&db, &server.url());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`stepdown check` found problems"),
        "{}",
        text(&out)
    );
    assert_eq!(server.count("audit_log"), 0);
}

// ---------------------------------------------------------------------------
// A second practice moved into a store in use (its records renumbered, its
// history appended to the one chain).

const TODAY: &str = "2026-11-24";
const B: &str = "B82002";

fn ok(args: &[&str]) -> Value {
    json(&run(args))
}

fn extract() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/extract_small.csv")
        .to_str()
        .unwrap()
        .to_string()
}

fn review_json(patient: i64, target: Option<(i64, i64)>, reviewer: &str, notes: &str) -> String {
    serde_json::json!({
        "patient_id": patient,
        "review_id": target.map(|t| t.0),
        "base_version": target.map(|t| t.1),
        "reviewer": reviewer,
        "notes": notes,
        "items": [{"drug": "morphine", "route": "oral", "release": "modified",
                   "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}]
    })
    .to_string()
}

/// Practice B's own store: the demo (the same patients, NHS numbers and ids
/// as practice A's demo), an extract imported, a worklist patient claimed,
/// and a refused save kept as a draft. Returns the store, the draft's
/// review and patient ids.
fn practice_b_store(dir: &Path) -> (PathBuf, i64, i64) {
    let db = demo_store(dir);
    let d = db.to_str().unwrap();
    ok(&[
        "import",
        &extract(),
        "--db",
        d,
        "--today",
        TODAY,
        "--list-size",
        "2000",
        "--actor",
        "B pharmacist",
    ]);
    ok(&[
        "worklist",
        "claim",
        "--db",
        d,
        "--patient",
        "P01",
        "--actor",
        "Bea",
    ]);
    let pid = ok(&["patient", "add", "--db", d, "--name", "Jo Smith"])["id"]
        .as_i64()
        .unwrap();
    let file = |name: &str, body: String| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let v1 = file("v1.json", review_json(pid, None, "Bea", "first"));
    let rid = ok(&["review", "save", &v1, "--db", d])["review_id"]
        .as_i64()
        .unwrap();
    let v2 = file("v2.json", review_json(pid, Some((rid, 1)), "Bea", "second"));
    ok(&["review", "save", &v2, "--db", d]);
    let stale = file(
        "stale.json",
        review_json(pid, Some((rid, 1)), "Ben", "Ben's"),
    );
    let out = run(&["review", "save", &stale, "--db", d]);
    assert_eq!(out.status.code(), Some(3), "a draft kept: {}", text(&out));
    ok(&["settings", "set", "--db", d, "--practice-name", "B Surgery"]);
    // A leaflet print of the newest version (the CLI prints leaflets without
    // recording them; the desktop records them).
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO leaflet_prints (review_version_id, printed_at, printed_by, pdf_sha256, \
             pdf_size_bytes) SELECT max(id), '2026-11-20T10:00:00Z', 'Bea', ?1, 1234 \
             FROM review_versions",
            [&"ab".repeat(32)],
        )
        .unwrap();
    (db, rid, pid)
}

fn is_id(key: &str) -> bool {
    key == "id" || (key.ends_with("_id") && key != "extract_id")
}

/// A document with every record id and practice code blanked.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let blank = is_id(k) || k == "practice_code";
                    (k.clone(), if blank { Value::Null } else { strip(x) })
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        x => x.clone(),
    }
}

/// The export's case-finding tables as sorted rows by column name, with
/// texts and extract patients named by what they hold rather than by id.
fn casefinding(export: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
    let cf = &export["casefinding"];
    let objects = |name: &str| -> Vec<serde_json::Map<String, Value>> {
        let cols: Vec<String> = cf[name]["columns"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} exported"))
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        cf[name]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                cols.iter()
                    .cloned()
                    .zip(r.as_array().unwrap().iter().cloned())
                    .collect()
            })
            .collect()
    };
    let by_id = |name: &str, col: &str| -> std::collections::HashMap<i64, Value> {
        objects(name)
            .into_iter()
            .map(|o| (o["id"].as_i64().unwrap(), o[col].clone()))
            .collect()
    };
    let texts = by_id("cf_texts", "text");
    let extract_ids = by_id("cf_patients", "extract_id");
    let mut out = std::collections::BTreeMap::new();
    for name in [
        "cf_claims",
        "cf_imports",
        "cf_issues",
        "cf_patients",
        "cf_state",
        "cf_summaries",
    ] {
        let mut rows: Vec<String> = objects(name)
            .into_iter()
            .map(|o| {
                let o: serde_json::Map<String, Value> = o
                    .into_iter()
                    .filter(|(k, _)| k != "practice_code")
                    .map(|(k, v)| {
                        let v = match (name, k.as_str()) {
                            ("cf_issues", "drug_id" | "dose_id") => {
                                texts[&v.as_i64().unwrap()].clone()
                            }
                            ("cf_issues" | "cf_summaries", "patient_id") => {
                                extract_ids[&v.as_i64().unwrap()].clone()
                            }
                            (_, k) if is_id(k) => Value::Null,
                            _ => v,
                        };
                        (k, v)
                    })
                    .collect();
                Value::Object(o).to_string()
            })
            .collect();
        rows.sort();
        out.insert(name.to_string(), rows);
    }
    out
}

fn seat_url(server: &Server, seat: &str) -> String {
    server
        .url()
        .replace("user=stepdown_test_owner", &format!("user={seat}"))
}

fn export(db: &str) -> Value {
    ok(&["export", "--db", db, "--format", "json"])
}

fn offset(report: &Value, table: &str) -> i64 {
    report["merged"]["id_offsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["table"] == table)
        .unwrap_or_else(|| panic!("{table}'s offset in {report}"))["offset"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_second_practice_moves_into_a_store_in_use_renumbered_with_its_history_appended() {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = demo_store(dir_a.path());
    let (b, b_review, b_patient) = practice_b_store(dir_b.path());
    let b_path = b.to_str().unwrap();
    let server = Server::new(base);
    let admin = server.url();
    json(&migrate(&a, &admin));

    // Work on the server: seats assigned (bob to B before B's records
    // come), A's seat adds a patient and imports the same extract (so the
    // texts are shared).
    server.sql(&format!(
        "INSERT INTO {0}.practices (code, name) VALUES ('{B}', 'Practice B'); \
         INSERT INTO {0}.seat_practices (role_name, practice_code) VALUES \
         ('seat_alice', 'A81001'), ('seat_bob', '{B}')",
        server.schema
    ));
    let (alice, bob) = (
        seat_url(&server, "seat_alice"),
        seat_url(&server, "seat_bob"),
    );
    ok(&[
        "patient",
        "add",
        "--db",
        &alice,
        "--name",
        "Alice's Patient",
        "--date-of-birth",
        "1950-01-02",
    ]);
    ok(&[
        "import",
        &extract(),
        "--db",
        &alice,
        "--today",
        TODAY,
        "--list-size",
        "2000",
    ]);
    let a_before = export(&alice);
    let head_before: (i64, i64) = {
        let r = server
            .client()
            .query_one("SELECT entries, last_id FROM audit_head", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    // The export is audited: its entry comes before the head read here.
    let source = export(b_path);
    let source_verify = ok(&["audit", "verify", "--db", b_path]);
    let moved = source_verify["entries"].as_i64().unwrap();

    let report = json(&migrate_as(&b, &admin, B));
    assert_eq!(report["verified"], true);
    let merged = &report["merged"];
    assert_eq!(merged["source_head"]["entries"], source_verify["entries"]);
    assert_eq!(
        merged["source_head"]["chain_hash"],
        source_verify["head_hash"]
    );
    assert_eq!(merged["first_entry_id"], head_before.1 + 1);
    assert_eq!(merged["last_entry_id"], head_before.1 + moved);
    assert_eq!(merged["record_entry_id"], head_before.1 + moved + 1);
    assert!(merged["texts_shared"].as_i64().unwrap() > 0, "{merged}");
    assert_eq!(
        merged["settings_not_copied"],
        serde_json::json!(["practice_name"]),
        "{merged}"
    );
    let sha = stepdown::store::sha256_hex(&std::fs::read(&b).unwrap());
    assert_eq!(merged["file_sha256"], sha.as_str());
    let (patients_off, reviews_off) = (offset(&report, "patients"), offset(&report, "reviews"));
    assert!(
        patients_off > 0 && reviews_off > 0,
        "ids overlap: renumbered"
    );

    // B's records on the server, seen by B's seat, equal the source's
    // modulo ids (the same NHS numbers as A's patients, kept apart).
    let on_server = export(&bob);
    assert_eq!(strip(&on_server["patients"]), strip(&source["patients"]));
    assert_eq!(casefinding(&on_server), casefinding(&source));
    let src_ids: Vec<i64> = source["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let srv_ids: Vec<i64> = on_server["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        srv_ids,
        src_ids.iter().map(|i| i + patients_off).collect::<Vec<_>>()
    );
    // The refused save's draft names its renumbered review and patient.
    let drafts = ok(&[
        "review",
        "drafts",
        "list",
        "--db",
        &bob,
        "--review",
        &(b_review + reviews_off).to_string(),
    ]);
    assert_eq!(drafts.as_array().unwrap().len(), 1, "{drafts}");
    assert_eq!(drafts[0]["input"]["patient_id"], b_patient + patients_off);
    assert_eq!(drafts[0]["input"]["review_id"], b_review + reviews_off);
    assert_eq!(drafts[0]["input"]["notes"], "Ben's");
    let print: (i64, String) = {
        let r = server
            .client()
            .query_one(
                "SELECT review_version_id, practice_code FROM leaflet_prints",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let src_version: i64 = rusqlite::Connection::open(&b)
        .unwrap()
        .query_row("SELECT review_version_id FROM leaflet_prints", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        print,
        (
            src_version + offset(&report, "review_versions"),
            B.to_string()
        )
    );

    // The source's entries appended in order: same time, actor, action,
    // entity and summary; ids renumbered; in B's part of the log.
    let all = export(&admin);
    let log = all["audit_log"].as_array().unwrap();
    let first = merged["first_entry_id"].as_i64().unwrap();
    let src_log = source["audit_log"].as_array().unwrap();
    for (k, e) in src_log[..moved as usize].iter().enumerate() {
        let s = log
            .iter()
            .find(|x| x["id"] == first + k as i64)
            .expect("appended entry");
        for f in ["at", "actor", "action", "entity", "summary"] {
            assert_eq!(s[f], e[f], "{f} of source entry {}", e["id"]);
        }
        let mapped = |v: &Value, off: i64| v.as_i64().map(|i| Value::from(i + off));
        assert_eq!(
            s["patient_id"],
            mapped(&e["patient_id"], patients_off).unwrap_or(Value::Null)
        );
        let entity_off = match e["entity"].as_str().unwrap() {
            "patient" => patients_off,
            "review" => reviews_off,
            "worklist-claim" => offset(&report, "cf_claims"),
            "casefinding-import" => offset(&report, "cf_imports"),
            "leaflet" => offset(&report, "leaflet_prints"),
            _ => 0,
        };
        assert_eq!(
            s["entity_id"],
            mapped(&e["entity_id"], entity_off).unwrap_or(Value::Null),
            "source entry {}",
            e["id"]
        );
    }
    let record = log
        .iter()
        .find(|x| x["id"] == merged["record_entry_id"])
        .unwrap();
    let summary = record["summary"].as_str().unwrap();
    for needle in [
        sha.as_str(),
        source_verify["head_hash"].as_str().unwrap(),
        &format!("patients +{patients_off}"),
    ] {
        assert!(summary.contains(needle), "{needle} in {summary}");
    }

    // A's records untouched, and A's seat sees none of B's (nor B's seat A's).
    let a_after = export(&alice);
    assert_eq!(a_after["patients"], a_before["patients"]);
    assert_eq!(a_after["casefinding"], a_before["casefinding"]);
    let ids = |e: &Value| -> Vec<i64> {
        e["audit_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_i64().unwrap())
            .collect()
    };
    let b_entries = first..=merged["record_entry_id"].as_i64().unwrap();
    assert!(!ids(&a_after).iter().any(|i| b_entries.contains(i)));
    assert!(b_entries.clone().all(|i| ids(&on_server).contains(&i)));
    let patient_ids = |e: &Value| -> Vec<i64> {
        e["audit_log"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["patient_id"].as_i64())
            .collect()
    };
    assert!(patient_ids(&on_server).iter().all(|i| *i > patients_off));
    assert!(patient_ids(&a_after).iter().all(|i| *i <= patients_off));
    assert_eq!(
        on_server["patients"].as_array().unwrap().len(),
        source["patients"].as_array().unwrap().len()
    );

    // The chain: the server's function and the admin's own walk.
    let verify = ok(&["audit", "verify", "--db", &admin]);
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(
        verify["problems"].as_array().unwrap().is_empty(),
        "{verify}"
    );
    let check = ok(&["check", "--db", &admin]);
    assert_eq!(check["ok"], true, "{check}");

    // Later work extends the chain, and new ids follow the renumbered ones.
    let added = ok(&["patient", "add", "--db", &bob, "--name", "New At B"]);
    assert!(added["id"].as_i64().unwrap() > srv_ids.iter().max().copied().unwrap());
    let after = ok(&["audit", "verify", "--db", &admin]);
    assert_eq!(after["ok"], true, "{after}");
    assert!(after["entries"].as_i64() > verify["entries"].as_i64());

    // B moved twice: refused, nothing changed.
    let (patients, entries) = (server.count("patients"), server.count("audit_log"));
    let again = migrate_as(&b, &admin, B);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("already holds") && text(&again).contains(B),
        "{}",
        text(&again)
    );
    assert_eq!(server.count("patients"), patients);
    assert_eq!(server.count("audit_log"), entries);
}

#[test]
fn a_failure_midway_through_a_second_practice_leaves_nothing_of_it() {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = demo_store(dir_a.path());
    let (b, _, _) = practice_b_store(dir_b.path());
    let server = Server::new(base);
    json(&migrate(&a, &server.url()));
    // B's follow-ups refused: the copy fails after its patients, reviews
    // and versions are in.
    server.sql(&format!(
        "ALTER TABLE {}.follow_ups ADD CONSTRAINT migrate_test_refuses \
         CHECK (practice_code <> '{B}') NOT VALID",
        server.schema
    ));
    let tables = [
        "patients",
        "reviews",
        "review_versions",
        "follow_ups",
        "review_drafts",
        "cf_imports",
        "cf_patients",
        "cf_issues",
        "cf_texts",
        "cf_claims",
        "audit_log",
        "practices",
    ];
    let before: Vec<i64> = tables.iter().map(|t| server.count(t)).collect();
    let head = |s: &Server| -> (i64, i64, Option<String>) {
        let r = s
            .client()
            .query_one("SELECT entries, last_id, chain_hash FROM audit_head", &[])
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    let head_before = head(&server);

    let out = migrate_as(&b, &server.url(), B);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("follow_ups id 1 to the server failed") && msg.contains("nothing was copied"),
        "{msg}"
    );
    let after: Vec<i64> = tables.iter().map(|t| server.count(t)).collect();
    assert_eq!(after, before, "{tables:?}");
    assert_eq!(head(&server), head_before);

    // An import stopped part-way in the source: refused before anything is
    // sent (its id ranges would mean nothing renumbered).
    rusqlite::Connection::open(&b)
        .unwrap()
        .execute("UPDATE cf_imports SET published = 0", [])
        .unwrap();
    let out = migrate_as(&b, &server.url(), B);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("stopped part-way"), "{}", text(&out));
    let after: Vec<i64> = tables.iter().map(|t| server.count(t)).collect();
    assert_eq!(after, before, "{tables:?}");
}

/// `stepdown settings set --db DB ARGS…` on a SQLite store.
fn set_settings(db: &Path, args: &[&str]) {
    let mut all = vec!["settings", "set", "--db", db.to_str().unwrap()];
    all.extend_from_slice(args);
    json(&run(&all));
}

/// The file was its practice's alone, so its settings were that practice's
/// leaflet details: a practice the move creates carries them (a team store
/// prints each practice's own row), one with a phone the settings' rules
/// refuse keeps its name and no phone, and a row an admin made first is
/// kept as it is.
#[test]
fn a_practice_the_move_creates_carries_the_files_leaflet_details() {
    let Some(base) = pg_url() else { return };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let row = |server: &Server, code: &str| -> (String, String, String) {
        let r = server
            .client()
            .query_one(
                "SELECT name, phone, address FROM practices WHERE code = $1",
                &[&code],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };

    // Set through the CLI, as a practice would have.
    let db = demo_store(&dir.path().join("a"));
    set_settings(
        &db,
        &[
            "--practice-name",
            "Riverside Surgery",
            "--practice-phone",
            "01632 960 123",
            "--practice-address",
            "1 River Road\nRivertown",
        ],
    );
    let server = Server::new(base.clone());
    let report = json(&migrate(&db, &server.url()));
    assert_eq!(report["practice_created"], true);
    assert_eq!(
        row(&server, "A81001"),
        (
            "Riverside Surgery".into(),
            "01632 960 123".into(),
            "1 River Road\nRivertown".into()
        )
    );

    // A phone written around the application (no longer passing the rules).
    let db = demo_store(&dir.path().join("b"));
    set_settings(
        &db,
        &[
            "--practice-name",
            "Riverside Surgery",
            "--practice-phone",
            "01632 960 123",
        ],
    );
    let changed = rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE settings SET value = '\"ring us\"' WHERE key = 'practice_phone'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let server = Server::new(base.clone());
    json(&migrate(&db, &server.url()));
    assert_eq!(
        row(&server, "A81001"),
        ("Riverside Surgery".into(), String::new(), String::new())
    );

    // The administrator's row first: kept, not overwritten by the file's.
    let db = demo_store(&dir.path().join("c"));
    set_settings(
        &db,
        &[
            "--practice-name",
            "Old Name",
            "--practice-phone",
            "01632 960 000",
        ],
    );
    let server = Server::new(base);
    // The store made (migrated, nothing written) and the practice added by
    // an admin before the move.
    drop(stepdown::store::Store::open(server.url()).expect("open the team store"));
    server.sql(&format!(
        "SET search_path = {}; INSERT INTO practices (code, name, phone) \
         VALUES ('A81001', 'Riverside Surgery', '01632 960 777')",
        server.schema
    ));
    let report = json(&migrate(&db, &server.url()));
    assert_eq!(report["practice_created"], false);
    assert_eq!(
        row(&server, "A81001"),
        (
            "Riverside Surgery".into(),
            "01632 960 777".into(),
            String::new()
        )
    );
}
