//! Concurrency that loses nothing through the CLI (issue 19): a stale review
//! save exits 3 with the conflict as JSON and its entry kept as a draft, to
//! list, reapply or discard; worklist claims refused to another name with
//! the holder and since when; the worklist's claim column and filters.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

struct Cli {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("team.db");
        Cli { dir, db }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .env_remove("STEPDOWN_DB")
            .output()
            .expect("run stepdown")
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stepdown {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    /// Exit 3: the error as JSON on stdout, the message on stderr.
    fn conflict(&self, args: &[&str]) -> (Value, String) {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(3),
            "stepdown {args:?} should be a conflict; stderr {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err: Value = serde_json::from_slice(&out.stdout).expect("the conflict as JSON");
        (err, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "stepdown {args:?} should exit 2"
        );
        assert!(out.stdout.is_empty());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_string()
    }
}

fn review(patient: i64, target: Option<(i64, i64)>, reviewer: &str, notes: &str) -> String {
    json!({
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

#[test]
fn a_stale_save_exits_3_naming_who_saved_first_and_the_draft_is_reapplied_or_discarded() {
    let s = Cli::new();
    let pid = s.ok(&["patient", "add", "--name", "Jo Smith"])["id"]
        .as_i64()
        .expect("id");
    let first = s.write("v1.json", &review(pid, None, "Ann", "first"));
    let rid = s.ok(&["review", "save", &first])["review_id"]
        .as_i64()
        .expect("review id");
    // Two seats opened version 1; Ann saves first.
    let ann = s.write("ann.json", &review(pid, Some((rid, 1)), "Ann", "Ann's"));
    assert_eq!(s.ok(&["review", "save", &ann])["version"], 2);
    let bob = s.write("bob.json", &review(pid, Some((rid, 1)), "Bob", "Bob's"));
    let (err, msg) = s.conflict(&["review", "save", &bob]);
    assert_eq!(err["code"], "conflict");
    let c = &err["conflict"];
    assert_eq!(
        (
            &c["kind"],
            &c["review_id"],
            &c["base_version"],
            &c["latest_version"],
            &c["saved_by"]
        ),
        (
            &json!("review"),
            &json!(rid),
            &json!(1),
            &json!(2),
            &json!("Ann")
        )
    );
    let draft = c["draft_id"].as_i64().expect("draft id");
    assert!(msg.contains("saved as version 2 by Ann"), "{msg}");
    assert!(msg.contains(&format!("kept as draft {draft}")), "{msg}");

    let drafts = s.ok(&["review", "drafts", "list", "--review", &rid.to_string()]);
    assert_eq!(drafts[0]["id"], json!(draft));
    assert_eq!(drafts[0]["input"]["notes"], "Bob's");
    let saved = s.ok(&[
        "review",
        "drafts",
        "reapply",
        "--draft",
        &draft.to_string(),
        "--actor",
        "Bob",
    ]);
    assert_eq!(saved["version"], 3);
    assert_eq!(saved["reviewer"], "Bob");
    let shown = s.ok(&["review", "show", "--review", &rid.to_string()]);
    assert_eq!(shown["notes"], "Bob's");
    assert_eq!(
        s.ok(&["review", "drafts", "list", "--review", &rid.to_string()]),
        json!([])
    );

    // Again from an old base, then discarded.
    let (err, _) = s.conflict(&["review", "save", &bob]);
    let draft = err["conflict"]["draft_id"].as_i64().expect("draft id");
    assert_eq!(
        s.ok(&["review", "drafts", "discard", "--draft", &draft.to_string()]),
        json!({"discarded": draft})
    );
    let e = s.refused(&["review", "drafts", "discard", "--draft", &draft.to_string()]);
    assert!(
        e.contains(&format!("review draft {draft} not found")),
        "{e}"
    );
    // Without a base version: refused by field.
    let none = s.write(
        "none.json",
        &review(pid, None, "Bob", "x")
            .replace("\"review_id\":null", &format!("\"review_id\":{rid}")),
    );
    let e = s.refused(&["review", "save", &none]);
    assert!(e.starts_with("base_version: is required"), "{e}");
    assert_eq!(s.ok(&["audit", "verify"])["ok"], true);
}

#[test]
fn a_claimed_patient_is_refused_to_another_name_and_the_worklist_shows_holder_and_status() {
    let s = Cli::new();
    let csv = s.write(
        "extract.csv",
        "patient_id,issue_date,drug,dose,quantity\n\
         P1,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n\
         P2,2026-11-01,Morphine 60mg modified-release tablets,1 bd,56\n",
    );
    s.ok(&["import", &csv, "--today", "2026-12-07"]);
    let claim = s.ok(&["worklist", "claim", "--patient", "P1", "--actor", "Alice"]);
    assert_eq!(
        (&claim["holder"], &claim["status"]),
        (&json!("Alice"), &json!("to-contact"))
    );
    let (err, msg) = s.conflict(&["worklist", "claim", "--patient", "P1", "--actor", "Bob"]);
    assert_eq!(
        err["conflict"],
        json!({"kind": "claim", "patient_id": "P1", "holder": "Alice",
               "claimed_at": claim["claimed_at"]})
    );
    assert!(
        msg.contains("worklist patient P1 is held by Alice since"),
        "{msg}"
    );
    s.conflict(&[
        "worklist",
        "status",
        "--patient",
        "P1",
        "--status",
        "booked",
        "--actor",
        "Bob",
    ]);
    s.conflict(&["worklist", "release", "--patient", "P1", "--actor", "Bob"]);
    let booked = s.ok(&[
        "worklist",
        "status",
        "--patient",
        "P1",
        "--status",
        "booked",
        "--actor",
        "Alice",
    ]);
    assert_eq!(booked["status"], "booked");
    let e = s.refused(&[
        "worklist",
        "status",
        "--patient",
        "P1",
        "--status",
        "bookd",
        "--actor",
        "Alice",
    ]);
    assert!(
        e.contains("unknown worklist status 'bookd' (did you mean booked?"),
        "{e}"
    );
    let e = s.refused(&["worklist", "claim", "--patient", "P7", "--actor", "Alice"]);
    assert!(e.contains("there is no worklist patient \"P7\""), "{e}");

    let list = s.ok(&["worklist", "--today", "2026-12-07"]);
    let row = |id: &str| {
        list["patients"]
            .as_array()
            .expect("patients")
            .iter()
            .find(|p| p["patient_id"] == id)
            .cloned()
            .expect("row")
    };
    assert_eq!(row("P1")["claim"]["holder"], "Alice");
    assert_eq!(row("P1")["claim"]["status"], "booked");
    assert_eq!(row("P2")["claim"], Value::Null);
    let ids = |args: &[&str]| -> Vec<String> {
        s.ok(args)["patients"]
            .as_array()
            .expect("patients")
            .iter()
            .map(|p| p["patient_id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(
        ids(&[
            "worklist",
            "--today",
            "2026-12-07",
            "--mine",
            "--actor",
            "Alice"
        ]),
        ["P1"]
    );
    assert!(ids(&[
        "worklist",
        "--today",
        "2026-12-07",
        "--mine",
        "--actor",
        "Bob"
    ])
    .is_empty());
    assert_eq!(
        ids(&["worklist", "--today", "2026-12-07", "--unclaimed"]),
        ["P2"]
    );
    let released = s.ok(&["worklist", "release", "--patient", "P1", "--actor", "Alice"]);
    assert_eq!(
        (&released["holder"], &released["status"]),
        (&Value::Null, &json!("booked"))
    );
    assert_eq!(
        ids(&["worklist", "--today", "2026-12-07", "--unclaimed"]).len(),
        2
    );
    let audit = s.ok(&["audit", "list", "--limit", "3"]);
    let entities: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["entity"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(entities, ["worklist-claim"; 3]);
}
