//! The store commands on a team store: `--db postgres://…` and
//! `STEPDOWN_DB=postgres://…` select the PostgreSQL backend. Each test makes
//! a schema of its own on the cluster named by `STEPDOWN_TEST_PG_URL` (`make
//! test` starts one through tests/pg/with-cluster.sh); without it they say
//! so and pass (plain `cargo test` needs no server).

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

fn pg_url() -> Option<String> {
    std::env::var("STEPDOWN_TEST_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A schema of its own on the test cluster, with a migrated team store in
/// which the owner works for practice A81001; dropped afterwards.
struct TeamStore {
    base: String,
    schema: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl TeamStore {
    fn new(base: String) -> TeamStore {
        let schema = format!(
            "cli_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("test cluster");
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
        let t = TeamStore { base, schema };
        // The library migrates the new schema, as the first `stepdown` run would.
        drop(stepdown::store::Store::open(t.url()).expect("open the team store"));
        c.batch_execute(&format!(
            "SET search_path = {}; \
             INSERT INTO practices (code, name) VALUES ('A81001', 'Riverside Surgery'); \
             INSERT INTO seat_practices (role_name, practice_code) VALUES (current_user, 'A81001');",
            t.schema
        ))
        .unwrap();
        t
    }

    fn url(&self) -> String {
        format!("{}&options=-csearch_path%3D{}", self.base, self.schema)
    }
}

impl Drop for TeamStore {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

fn run(args: &[&str], env_db: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("STEPDOWN_DB");
    if let Some(db) = env_db {
        cmd.env("STEPDOWN_DB", db);
    }
    cmd.output().expect("run stepdown")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"))
}

#[test]
fn demo_check_export_and_audit_work_on_a_team_store() {
    let Some(base) = pg_url() else {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    };
    let team = TeamStore::new(base);
    let url = team.url();
    let out = run(&["demo", "--db", &url], None);
    assert!(out.status.success(), "{}", stderr(&out));

    let check = json(&run(&["check", "--db", &url], None));
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["journal_mode"], "postgresql");
    let patients = check["counts"]["patients"].as_i64().unwrap();
    assert!(patients > 0, "{check}");

    // STEPDOWN_DB selects the server too.
    let export = json(&run(&["export", "--format", "json"], Some(&url)));
    assert_eq!(
        export["patients"].as_array().unwrap().len() as i64,
        patients
    );
    assert!(export["audit_head"]["last_id"].as_i64().unwrap() > 0);
    assert!(export["casefinding"].is_object());

    let verify = json(&run(&["audit", "verify", "--db", &url], None));
    assert_eq!(verify["ok"], true, "{verify}");
    let list = json(&run(&["audit", "list", "--db", &url, "--limit", "3"], None));
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[0]["summary"], "full export as JSON");

    // A backup of a team store is its export: a SQLite copy is refused by name.
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "backup",
            "--db",
            &url,
            "--out",
            dir.path().join("b.db").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stepdown export"), "{}", stderr(&out));
    assert!(!dir.path().join("b.db").exists());
    let out = run(
        &[
            "restore",
            "--db",
            &url,
            "--from",
            dir.path().join("b.db").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PostgreSQL server"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_server_is_named_without_the_password() {
    let url =
        "postgresql://seat:hunter2@/stepdown?host=/nonexistent-stepdown-dir&connect_timeout=2";
    for args in [
        vec!["check", "--db", url],
        vec!["patient", "list", "--db", url],
        vec!["audit", "verify", "--db", url],
    ] {
        let out = run(&args, None);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains("cannot reach the PostgreSQL server"),
            "{args:?}: {err}"
        );
        assert!(err.contains("seat:***@"), "{err}");
    }
}

#[test]
fn a_seat_refused_by_the_server_exits_4_with_the_refusal_in_words() {
    let Some(base) = pg_url() else {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    };
    let team = TeamStore::new(base);
    // seat_alice is a pharmacist: the shared settings are the admin's.
    let alice = team
        .url()
        .replace("user=stepdown_test_owner", "user=seat_alice");
    assert_ne!(alice, team.url(), "the test cluster's URL names its owner");
    let out = run(
        &[
            "settings",
            "set",
            "--db",
            &alice,
            "--practice-name",
            "Riverside",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let refusal: Value = serde_json::from_slice(&out.stdout).expect("the refusal as JSON");
    assert_eq!(refusal["code"], "permission-denied", "{refusal}");
    let err = stderr(&out);
    assert!(err.contains("signed in as seat_alice"), "{err}");
    assert!(err.contains("only the store's administrator"), "{err}");
    assert!(!err.contains("permission denied for table"), "{err}");
}

#[test]
fn a_typed_actor_other_than_the_signed_in_role_is_refused_naming_both() {
    let Some(base) = pg_url() else {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    };
    let team = TeamStore::new(base);
    let url = team.url();
    let out = run(
        &[
            "patient",
            "add",
            "--db",
            &url,
            "--name",
            "Jo",
            "--actor",
            "A. Pharmacist",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--actor: \"A. Pharmacist\" is not the role this seat signed in as (stepdown_test_owner)"),
        "{err}"
    );
    // The role itself, or no --actor, is recorded as the role.
    for args in [
        vec![
            "patient",
            "add",
            "--db",
            &url,
            "--name",
            "Jo",
            "--actor",
            "stepdown_test_owner",
        ],
        vec!["patient", "add", "--db", &url, "--name", "Sam"],
    ] {
        let out = run(&args, None);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let list = json(&run(&["audit", "list", "--db", &url, "--limit", "2"], None));
    for entry in list.as_array().unwrap() {
        assert_eq!(entry["actor"], "stepdown_test_owner", "{entry}");
    }
}

/// The store address of `team` for another role (a seat).
fn url_as(team: &TeamStore, role: &str) -> String {
    team.url()
        .replace("user=stepdown_test_owner", &format!("user={role}"))
}

#[test]
fn a_seat_of_two_practices_names_one_with_practice() {
    let Some(base) = pg_url() else {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    };
    let team = TeamStore::new(base);
    let mut c = postgres::Client::connect(&team.base, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "SET search_path = {}; \
         INSERT INTO practices (code, name) VALUES ('B82002', 'Hill Top Practice'); \
         INSERT INTO seat_practices (role_name, practice_code) \
         VALUES ('seat_alice', 'A81001'), ('seat_alice', 'B82002'), ('seat_bob', 'B82002');",
        team.schema
    ))
    .unwrap();
    let alice = url_as(&team, "seat_alice");
    assert!(alice.contains("user=seat_alice"), "{alice}");
    let bob = url_as(&team, "seat_bob");
    let extract = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/extract_small.csv");
    let today = "2026-11-24";

    // Without --practice: exit 2, both practices named.
    let add = |db: &str, practice: Option<&str>| {
        let mut args = vec!["patient", "add", "--db", db, "--name", "Jo"];
        args.extend(["--nhs-number", "943 476 5919"]);
        if let Some(p) = practice {
            args.extend(["--practice", p]);
        }
        run(&args, None)
    };
    let out = add(&alice, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("A81001 (Riverside Surgery)")
            && stderr(&out).contains("B82002 (Hill Top Practice)"),
        "{}",
        stderr(&out)
    );
    // One patient at each practice, the same NHS number.
    json(&add(&alice, Some("A81001")));
    json(&add(&alice, Some("b82002")));
    let out = add(&alice, Some("B82002"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nhs_number"), "{}", stderr(&out));
    // Bob's only practice is taken without --practice; another is refused
    // without naming what else the store holds.
    let out = add(&bob, Some("A81001"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Riverside"), "{}", stderr(&out));

    // The same extract into each practice; each worklist is its own.
    let import = |practice: Option<&str>| {
        let mut args = vec!["import", extract, "--db", &alice, "--today", today];
        if let Some(p) = practice {
            args.extend(["--practice", p]);
        }
        run(&args, None)
    };
    let out = import(None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--practice") || stderr(&out).contains("practice"));
    let a = json(&import(Some("A81001")));
    let b = json(&import(Some("B82002")));
    assert_eq!(a["already_imported"], false);
    assert_eq!(b["already_imported"], false);
    let list = |db: &str, practice: Option<&str>| {
        let mut args = vec!["worklist", "--db", db, "--today", today];
        if let Some(p) = practice {
            args.extend(["--practice", p]);
        }
        run(&args, None)
    };
    let out = list(&alice, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let list_a = json(&list(&alice, Some("A81001")));
    let list_b = json(&list(&bob, None));
    let practices = |l: &Value| -> Vec<String> {
        l["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["practice_code"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!practices(&list_a).is_empty());
    assert!(practices(&list_a).iter().all(|p| p == "A81001"));
    assert!(practices(&list_b).iter().all(|p| p == "B82002"));
    assert_eq!(list_a["metrics"]["patients"], list_b["metrics"]["patients"]);
    let figures_b = json(&run(
        &[
            "figures",
            "--db",
            &alice,
            "--today",
            today,
            "--practice",
            "B82002",
        ],
        None,
    ));
    assert!(!figures_b["months"].as_array().unwrap().is_empty());
}

/// Each practice's leaflet details on a team store (migration 8): an admin
/// sets B82002's with `settings set --practice`, a pharmacist may show but
/// not set them (exit 4), and a B82002 patient's leaflet and summary print
/// B82002's, never A81001's or the store-wide settings; without a phone the
/// leaflet is refused naming the practice and the command.
#[test]
fn each_practice_prints_its_own_details_set_by_an_admin() {
    let Some(base) = pg_url() else {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    };
    let team = TeamStore::new(base);
    let mut c = postgres::Client::connect(&team.base, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "SET search_path = {}; \
         INSERT INTO practices (code, name) VALUES ('B82002', 'Hill Top Practice'); \
         INSERT INTO seat_practices (role_name, practice_code) \
         VALUES ('seat_alice', 'A81001'), ('seat_alice', 'B82002');",
        team.schema
    ))
    .unwrap();
    let owner = team.url();
    let alice = url_as(&team, "seat_alice");
    let dir = tempfile::tempdir().unwrap();

    // Store-wide settings and A81001's details: neither is B82002's.
    json(&run(
        &[
            "settings",
            "set",
            "--db",
            &owner,
            "--practice-name",
            "Store Wide Surgery",
            "--practice-phone",
            "01000 000 000",
        ],
        None,
    ));
    json(&run(
        &[
            "settings",
            "set",
            "--db",
            &owner,
            "--practice",
            "A81001",
            "--practice-phone",
            "01632 960 123",
        ],
        None,
    ));
    let patient = json(&run(
        &[
            "patient",
            "add",
            "--db",
            &owner,
            "--name",
            "Sam Hillside",
            "--practice",
            "B82002",
        ],
        None,
    ));
    let review = serde_json::json!({
        "patient_id": patient["id"],
        "reviewer": "stepdown_test_owner",
        "notes": "reviewed in clinic",
        "patient": {"age": 58},
        "items": [{"drug": "morphine", "route": "oral", "release": "modified",
                   "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2}],
        "taper": {"start_date": "2026-12-07",
                  "taper": {"reduction_percent": 10, "interval_days": 14}}
    });
    let input = dir.path().join("review.json");
    std::fs::write(&input, review.to_string()).unwrap();
    let saved = json(&run(
        &["review", "save", "--db", &owner, input.to_str().unwrap()],
        None,
    ));
    let review_id = saved["review_id"].to_string();
    let pdf = dir.path().join("leaflet.pdf");
    let leaflet = || {
        run(
            &[
                "review",
                "leaflet",
                "--db",
                &owner,
                "--review",
                &review_id,
                "--out",
                pdf.to_str().unwrap(),
                "--issue-date",
                "2026-12-07",
            ],
            None,
        )
    };

    // B82002 has no phone yet: refused, naming it and how to set it; the
    // store-wide phone is not used.
    let out = leaflet();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Hill Top Practice (B82002), has no phone number"),
        "{err}"
    );
    assert!(
        err.contains("stepdown settings set --practice B82002 --practice-phone NUMBER"),
        "{err}"
    );
    assert!(!pdf.exists());

    // A pharmacist may not set it (exit 4, the refusal in words) ...
    let out = run(
        &[
            "settings",
            "set",
            "--db",
            &alice,
            "--practice",
            "B82002",
            "--practice-phone",
            "01632 960 999",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("signed in as seat_alice"), "{err}");
    assert!(err.contains("the details of practice B82002"), "{err}");
    // ... an admin does; a bad number is refused at its option.
    let out = run(
        &[
            "settings",
            "set",
            "--db",
            &owner,
            "--practice",
            "B82002",
            "--practice-phone",
            "123",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--practice-phone: must have 7 to 15 digits (got 3)"),
        "{}",
        stderr(&out)
    );
    let set = json(&run(
        &[
            "settings",
            "set",
            "--db",
            &owner,
            "--practice",
            "b82002",
            "--practice-name",
            "Hillside Practice",
            "--practice-phone",
            "01632 960 456",
            "--practice-address",
            "2 Hill Road, Upton",
        ],
        None,
    ));
    assert_eq!(set["code"], "B82002");
    assert_eq!(set["phone"], "01632 960 456");
    // Store-wide options are not a practice's.
    let out = run(
        &[
            "settings",
            "set",
            "--db",
            &owner,
            "--practice",
            "B82002",
            "--profile",
            "cdc",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The pharmacist sees them.
    let shown = json(&run(
        &["settings", "show", "--db", &alice, "--practice", "B82002"],
        None,
    ));
    assert_eq!(shown, set);
    // The change is audited in B82002's part of the log.
    let log = json(&run(
        &["audit", "list", "--db", &owner, "--limit", "5"],
        None,
    ));
    assert!(
        log.as_array().unwrap().iter().any(|e| e["summary"]
            == "practice B82002 settings changed: practice_name, practice_phone, practice_address"
            && e["actor"] == "stepdown_test_owner"),
        "{log}"
    );

    // The leaflet prints B82002's details.
    json(&leaflet());
    assert!(pdf.exists());
    // What the print was rendered with, as recorded against the version.
    let details: String = c
        .query_one(
            &format!(
                "SELECT render_options FROM {}.leaflet_prints ORDER BY id DESC LIMIT 1",
                team.schema
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert!(details.contains("Hillside Practice"), "{details}");
    assert!(details.contains("01632 960 456"), "{details}");
    assert!(!details.contains("01000 000 000"), "{details}");
    assert!(!details.contains("01632 960 123"), "{details}");
    let out = run(
        &["review", "summary", "--db", &owner, "--review", &review_id],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Hillside Practice"), "{text}");
    assert!(
        !text.contains("Riverside") && !text.contains("Store Wide"),
        "{text}"
    );
}

#[test]
fn a_store_on_this_computer_refuses_settings_for_a_practice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let db = db.to_str().unwrap();
    json(&run(
        &[
            "settings",
            "set",
            "--db",
            db,
            "--practice-name",
            "Riverside",
        ],
        None,
    ));
    for args in [
        vec!["settings", "show", "--db", db, "--practice", "A81001"],
        vec![
            "settings",
            "set",
            "--db",
            db,
            "--practice",
            "A81001",
            "--practice-phone",
            "01632 960 123",
        ],
    ] {
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--practice: a store on this computer holds one practice"),
            "{}",
            stderr(&out)
        );
    }
}

/// A seat's first write where the administrator has made no store yet is
/// told to have the administrator open it once, not the server's "no schema
/// has been selected to create in"; so is anyone whose address names a
/// schema that does not exist. Nothing is created.
#[test]
fn a_seat_where_there_is_no_store_yet_is_told_the_administrator_makes_it() {
    let Some(base) = pg_url() else {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    };
    let schema = format!("nostore_{}", std::process::id());
    let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("test cluster");
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .unwrap();
    let owner_url = format!("{base}&options=-csearch_path%3D{schema}");
    let add = |url: &str| {
        run(
            &["patient", "add", "--db", url, "--name", "Sam Empty"],
            None,
        )
    };
    let expect_refused = |out: &Output, why: &str| {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
        let err = stderr(out);
        assert!(
            err.contains("there is no Stepdown store there yet"),
            "{err}"
        );
        assert!(err.contains(why), "{err}");
        assert!(err.contains("administrator"), "{err}");
        assert!(!err.contains("no schema has been selected"), "{err}");
        assert!(!err.contains("internal error"), "{err}");
    };

    // No right to use the schema at all: the search path names none it may use.
    let alice = owner_url.replace("user=stepdown_test_owner", "user=seat_alice");
    expect_refused(&add(&alice), "no schema on the search path");
    // May use it but not create in it.
    c.batch_execute(&format!("GRANT USAGE ON SCHEMA {schema} TO seat_alice"))
        .unwrap();
    expect_refused(
        &add(&alice),
        &format!("role seat_alice may not create a store in schema {schema}"),
    );
    // A schema that does not exist, even for its would-be owner.
    let missing = format!("{base}&options=-csearch_path%3D{schema}_missing");
    expect_refused(&add(&missing), "no schema on the search path");

    let mut tables = || -> i64 {
        c.query_one(
            "SELECT count(*) FROM pg_class WHERE relnamespace = $1::text::regnamespace",
            &[&schema],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(tables(), 0, "nothing was created");
    // The owner's first write makes the store (the owner works for no
    // practice, so the patient itself is refused with exit 4).
    let out = add(&owner_url);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(tables() > 0, "the owner made the store");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
}
