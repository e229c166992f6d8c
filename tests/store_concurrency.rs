//! Seats on one store, through the real `stepdown` binary (issue 19, "a
//! concurrency test runs N writer processes on one worklist and one review,
//! and checks no lost update and an intact chain").
//!
//! Each seat is a thread that runs `stepdown` processes, as a seat's app
//! would: every round it reads the review's latest version, waits for the
//! other seats (so all of them save at the same moment, on the same version),
//! and saves a new version with that `base_version`. One save a round wins;
//! the others are refused as conflicts (exit 3) with their entries kept as
//! drafts, which each seat finds in `review drafts list`, then reads the
//! latest version and reapplies, as a person would. Refusals in the last
//! round are left as drafts. Then the seats claim worklist patients at the
//! same moment (more seats than patients, so some collide), move the ones
//! they got on (booked, reviewed), try to release or move one held by another
//! (refused), and release theirs when the round ends (the last round's stay
//! held).
//!
//! At the end, from the store: every acknowledged save is a version exactly
//! once, at the version it was acknowledged as, and nothing else is (no lost
//! or doubled update); the versions run 1..n without gaps; every refused save
//! has its draft until reapplied, and the drafts left are exactly the ones
//! not reapplied; every refusal is in the audit log; replaying the audit
//! log's claim entries in chain order, no patient is ever held by two seats
//! and every status change and release is by the holder, and the replay ends
//! where the worklist says; the audit chain verifies and `stepdown check`
//! passes.
//!
//! The store is a parameter: a SQLite file always, and the PostgreSQL team
//! store when the backend is built (see common/store_location.rs).

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::store_location::Location;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");
const SEATS: usize = 4;
const ROUNDS: usize = 6;
/// Fewer patients than seats: every round at least two seats want the same one.
const PATIENTS: [&str; 3] = ["P1", "P2", "P3"];
const TODAY: &str = "2026-12-07";
/// Words of a refusal that changed nothing and may be tried again: SQLite's
/// busy timeout, or the server stopping a transaction that collided.
const TRY_AGAIN: &str = "Nothing was changed; try again";

/// A barrier that a failing seat breaks: the others then fail too instead
/// of waiting for it for ever.
struct AtOnce {
    seats: usize,
    /// (seats waiting, generation, broken)
    state: Mutex<(usize, u64, bool)>,
    turn: Condvar,
}

impl AtOnce {
    fn new(seats: usize) -> AtOnce {
        AtOnce {
            seats,
            state: Mutex::new((0, 0, false)),
            turn: Condvar::new(),
        }
    }

    fn wait(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!st.2, "another seat failed");
        st.0 += 1;
        if st.0 == self.seats {
            st.0 = 0;
            st.1 += 1;
            self.turn.notify_all();
            return;
        }
        let generation = st.1;
        let (st, timeout) = self
            .turn
            .wait_timeout_while(st, Duration::from_secs(300), |st| {
                st.1 == generation && !st.2
            })
            .unwrap_or_else(|e| e.into_inner());
        assert!(!timeout.timed_out(), "the other seats never arrived");
        assert!(!st.2, "another seat failed");
    }

    /// Called as a seat's thread unwinds from a panic.
    fn break_it(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).2 = true;
        self.turn.notify_all();
    }
}

/// Breaks the barrier if its seat panics.
struct BreakOnPanic(Arc<AtOnce>);

impl Drop for BreakOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.break_it();
        }
    }
}

/// What a `stepdown` command ended with.
enum Reply {
    Ok(Value),
    /// Exit 3, with the conflict as JSON.
    Conflict(Value),
    /// Exit 2, with the message.
    Refused(String),
}

/// Runs `stepdown` on one store.
#[derive(Clone)]
struct Cli {
    db: std::ffi::OsString,
    scratch: PathBuf,
}

impl Cli {
    fn output(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .env_remove("STEPDOWN_DB")
            .output()
            .expect("run stepdown")
    }

    /// Runs a command; a refusal that changed nothing (busy) is tried again.
    fn call(&self, args: &[&str]) -> Reply {
        let started = Instant::now();
        loop {
            let out = self.output(args);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            match out.status.code() {
                Some(0) => return Reply::Ok(json_of(&out, args)),
                Some(3) => return Reply::Conflict(json_of(&out, args)),
                Some(2) => return Reply::Refused(err),
                Some(1)
                    if err.contains(TRY_AGAIN) && started.elapsed() < Duration::from_secs(60) =>
                {
                    thread::sleep(Duration::from_millis(20));
                }
                code => panic!("stepdown {args:?}: exit {code:?}: {err}"),
            }
        }
    }

    fn ok(&self, args: &[&str]) -> Value {
        match self.call(args) {
            Reply::Ok(v) => v,
            Reply::Conflict(v) => panic!("stepdown {args:?}: unexpected conflict {v}"),
            Reply::Refused(e) => panic!("stepdown {args:?}: refused: {e}"),
        }
    }

    /// Writes `value` to a file of this seat's scratch folder; returns its path.
    fn file(&self, name: &str, value: &Value) -> String {
        let path = self.scratch.join(name);
        std::fs::write(&path, value.to_string()).expect("write input");
        path.to_str().expect("utf-8 temp path").to_string()
    }
}

fn json_of(out: &Output, args: &[&str]) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stepdown {args:?}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn i64_of(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn entry(patient: i64, review: i64, base: i64, reviewer: &str, notes: &str) -> Value {
    json!({
        "patient_id": patient, "review_id": review, "base_version": base,
        "reviewer": reviewer, "notes": notes,
        "items": [{"drug": "morphine", "route": "oral", "release": "modified",
                   "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}]
    })
}

/// A save the store acknowledged (a plain save, or a draft reapplied).
#[derive(Debug, Clone)]
struct Ack {
    notes: String,
    version: i64,
    reapplied: bool,
}

/// A save refused as a conflict, with the draft kept for it.
#[derive(Debug, Clone)]
struct Refusal {
    notes: String,
    draft: i64,
    reapplied: bool,
}

/// A claim change the store acknowledged: (seat, patient, what).
type ClaimAck = (String, String, String);

#[derive(Default)]
struct SeatLog {
    acks: Vec<Ack>,
    refusals: Vec<Refusal>,
    claim_acks: Vec<ClaimAck>,
    claim_conflicts: usize,
}

/// The patient seat `s` goes for in `round`: a fixed spread, so collisions are
/// certain (more seats than patients) and countable.
fn target(s: usize, round: usize) -> &'static str {
    PATIENTS[(s + round * 2) % PATIENTS.len()]
}

/// Seat `s`, recording its changes as `me`; `names` are every name a
/// version may have been saved under (the seats' and the set-up's).
fn run_seat(
    s: usize,
    me: String,
    names: Arc<Vec<String>>,
    cli: Cli,
    patient: i64,
    review: i64,
    at_once: Arc<AtOnce>,
) -> SeatLog {
    let _guard = BreakOnPanic(Arc::clone(&at_once));
    let rid = review.to_string();
    let mut log = SeatLog::default();
    for round in 0..ROUNDS {
        let last = round + 1 == ROUNDS;
        // The review: everyone opens the latest version, then saves at once.
        let base = i64_of(&cli.ok(&["review", "show", "--review", &rid]), "version");
        let notes = format!("seat {s} round {round}");
        let file = cli.file(
            &format!("round{round}.json"),
            &entry(patient, review, base, &me, &notes),
        );
        at_once.wait();
        match cli.call(&["review", "save", &file]) {
            Reply::Ok(saved) => {
                assert_eq!(i64_of(&saved, "version"), base + 1, "{me}: {saved}");
                log.acks.push(Ack {
                    notes,
                    version: base + 1,
                    reapplied: false,
                });
            }
            Reply::Conflict(e) => {
                let c = &e["conflict"];
                assert_eq!(e["code"], "conflict", "{e}");
                assert_eq!(c["kind"], "review", "{e}");
                assert_eq!(i64_of(c, "review_id"), review, "{e}");
                assert_eq!(i64_of(c, "base_version"), base, "{e}");
                assert!(i64_of(c, "latest_version") > base, "{e}");
                let by = c["saved_by"].as_str().unwrap_or_default();
                assert!(names.iter().any(|n| n == by), "{e}");
                let draft = i64_of(c, "draft_id");
                // The entry is kept, as sent, before anything else happens.
                let drafts = cli.ok(&["review", "drafts", "list", "--review", &rid]);
                let kept = drafts
                    .as_array()
                    .expect("drafts array")
                    .iter()
                    .find(|d| d["id"] == json!(draft))
                    .unwrap_or_else(|| panic!("{me}: draft {draft} not listed: {drafts}"));
                assert_eq!(kept["input"]["notes"], json!(notes), "{kept}");
                assert_eq!(i64_of(kept, "base_version"), base, "{kept}");
                let mut refusal = Refusal {
                    notes: notes.clone(),
                    draft,
                    reapplied: false,
                };
                if !last {
                    // As a seat would: look at what was saved meanwhile, then
                    // put its own entry on top.
                    let latest = i64_of(&cli.ok(&["review", "show", "--review", &rid]), "version");
                    assert!(latest >= i64_of(c, "latest_version"));
                    let saved = cli.ok(&[
                        "review",
                        "drafts",
                        "reapply",
                        "--draft",
                        &draft.to_string(),
                        "--actor",
                        &me,
                    ]);
                    assert_eq!(saved["reviewer"], json!(me), "{saved}");
                    log.acks.push(Ack {
                        notes,
                        version: i64_of(&saved, "version"),
                        reapplied: true,
                    });
                    refusal.reapplied = true;
                }
                log.refusals.push(refusal);
            }
            Reply::Refused(e) => panic!("{me}: save refused: {e}"),
        }

        // The worklist: everyone claims at once; the holders move theirs on.
        at_once.wait();
        let p = target(s, round);
        let mut holding = false;
        match cli.call(&["worklist", "claim", "--patient", p, "--actor", &me]) {
            Reply::Ok(claim) => {
                assert_eq!(claim["holder"], json!(me), "{claim}");
                log.claim_acks
                    .push((me.clone(), p.into(), "claimed".into()));
                holding = true;
                for status in ["booked", "reviewed"] {
                    let moved = cli.ok(&[
                        "worklist",
                        "status",
                        "--patient",
                        p,
                        "--status",
                        status,
                        "--actor",
                        &me,
                    ]);
                    assert_eq!(
                        (&moved["holder"], &moved["status"]),
                        (&json!(me), &json!(status))
                    );
                    log.claim_acks
                        .push((me.clone(), p.into(), format!("status {status}")));
                }
            }
            Reply::Conflict(e) => {
                log.claim_conflicts += 1;
                let holder = e["conflict"]["holder"].clone();
                assert_eq!(e["conflict"]["kind"], "claim", "{e}");
                assert_ne!(holder, json!(me), "{e}");
                // The holder keeps it until the round ends: moving it on or
                // letting it go is refused to anyone else, naming the holder.
                for args in [
                    vec!["worklist", "status", "--patient", p, "--status", "booked"],
                    vec!["worklist", "release", "--patient", p],
                ] {
                    let args = [&args[..], &["--actor", &me]].concat();
                    match cli.call(&args) {
                        Reply::Conflict(e) => assert_eq!(e["conflict"]["holder"], holder),
                        Reply::Ok(v) => panic!("{me}: {args:?} by a non-holder was saved: {v}"),
                        Reply::Refused(e) => panic!("{me}: {args:?}: {e}"),
                    }
                }
            }
            Reply::Refused(e) => panic!("{me}: claim refused: {e}"),
        }
        at_once.wait();
        if holding && !last {
            let released = cli.ok(&["worklist", "release", "--patient", p, "--actor", &me]);
            assert_eq!(released["holder"], Value::Null, "{released}");
            log.claim_acks
                .push((me.clone(), p.into(), "released".into()));
        }
    }
    log
}

/// Sets up one patient with a review (version 1) and a worklist of
/// [`PATIENTS`]; returns (patient id, review id).
fn set_up(cli: &Cli, initial: &str) -> (i64, i64) {
    let patient = i64_of(&cli.ok(&["patient", "add", "--name", "Jo Shared"]), "id");
    let first = cli.file(
        "first.json",
        &json!({
            "patient_id": patient, "reviewer": initial, "notes": "initial",
            "items": [{"drug": "morphine", "route": "oral", "release": "modified",
                       "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}]
        }),
    );
    let review = i64_of(&cli.ok(&["review", "save", &first]), "review_id");
    let csv = cli.scratch.join("worklist.csv");
    let mut text = String::from("patient_id,issue_date,drug,dose,quantity\n");
    for p in PATIENTS {
        text.push_str(&format!(
            "{p},2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n"
        ));
    }
    std::fs::write(&csv, text).expect("write extract");
    cli.ok(&[
        "import",
        csv.to_str().expect("utf-8"),
        "--today",
        TODAY,
        "--actor",
        initial,
    ]);
    (patient, review)
}

fn seats_on_one_store(location: &Location) {
    let started = Instant::now();
    let scratch = tempfile::tempdir().expect("scratch");
    let cli = Cli {
        db: location.arg(),
        scratch: scratch.path().to_path_buf(),
    };
    let initial = location.owner_name();
    let (patient, review) = set_up(&cli, &initial);

    // On a team store each seat signs in as its own role and is named by it.
    let seats = location.seats(SEATS);
    let mut names: Vec<String> = seats.iter().map(|(_, name)| name.clone()).collect();
    names.push(initial);
    let names = Arc::new(names);
    let at_once = Arc::new(AtOnce::new(SEATS));
    let seats: Vec<_> = seats
        .into_iter()
        .enumerate()
        .map(|(s, (db, me))| {
            let dir = scratch.path().join(format!("seat{s}"));
            std::fs::create_dir(&dir).expect("seat dir");
            let cli = Cli { db, scratch: dir };
            let at_once = Arc::clone(&at_once);
            let names = Arc::clone(&names);
            thread::spawn(move || run_seat(s, me, names, cli, patient, review, at_once))
        })
        .collect();
    let logs: Vec<SeatLog> = seats
        .into_iter()
        .map(|h| h.join().expect("a seat failed (its panic is above)"))
        .collect();
    let acks: Vec<Ack> = logs.iter().flat_map(|l| l.acks.clone()).collect();
    let refusals: Vec<Refusal> = logs.iter().flat_map(|l| l.refusals.clone()).collect();

    // One save a round wins (all started from the same latest version); the
    // rest were refused. This is what makes the checks below mean something.
    let plain = acks.iter().filter(|a| !a.reapplied).count();
    assert_eq!(plain, ROUNDS, "exactly one save a round is accepted");
    assert_eq!(refusals.len(), ROUNDS * (SEATS - 1));

    check_review(&cli, review, &acks, &refusals);
    let audit = audit_entries(&cli);
    let refusals_audited = audit
        .iter()
        .filter(|e| {
            e["entity"] == "review"
                && e["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains("refused") && s.contains("kept as draft"))
        })
        .count();
    assert_eq!(refusals_audited, refusals.len(), "every refusal is audited");
    check_claims(&cli, &logs, &audit);

    let verify = cli.ok(&["audit", "verify"]);
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["entries"], json!(audit.len()), "{verify}");
    let check = cli.ok(&["check"]);
    assert_eq!(check["ok"], true, "{check}");
    eprintln!(
        "{} seats x {ROUNDS} rounds on {}: {} saves acknowledged ({} after a conflict), \
         {} refused, {} claim conflicts, {} audit entries, in {:?}",
        SEATS,
        location.label(),
        acks.len(),
        acks.len() - plain,
        refusals.len(),
        logs.iter().map(|l| l.claim_conflicts).sum::<usize>(),
        audit.len(),
        started.elapsed()
    );
}

/// No lost or doubled update, versions contiguous, drafts kept until reapplied.
fn check_review(cli: &Cli, review: i64, acks: &[Ack], refusals: &[Refusal]) {
    let rid = review.to_string();
    let history = cli.ok(&["review", "history", "--review", &rid]);
    let mut versions: Vec<i64> = history["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| i64_of(v, "version"))
        .collect();
    versions.sort_unstable();
    let n = versions.len() as i64;
    assert_eq!(
        versions,
        (1..=n).collect::<Vec<_>>(),
        "versions without gaps"
    );
    assert_eq!(
        n as usize,
        1 + acks.len(),
        "one version per acknowledged save"
    );

    let mut notes_at = BTreeMap::new();
    for v in 1..=n {
        let shown = cli.ok(&[
            "review",
            "show",
            "--review",
            &rid,
            "--version",
            &v.to_string(),
        ]);
        assert_eq!(i64_of(&shown, "version"), v);
        let notes = shown["notes"].as_str().expect("notes").to_string();
        assert!(
            notes_at.insert(notes.clone(), v).is_none(),
            "{notes:?} saved twice"
        );
    }
    assert_eq!(notes_at.remove("initial"), Some(1));
    for a in acks {
        assert_eq!(
            notes_at.remove(&a.notes),
            Some(a.version),
            "acknowledged save {a:?} is not in the store at its version"
        );
    }
    assert!(
        notes_at.is_empty(),
        "versions nobody acknowledged: {notes_at:?}"
    );

    // The drafts left are exactly the refusals not reapplied, with their entries.
    let left: BTreeSet<(i64, String)> = cli
        .ok(&["review", "drafts", "list", "--review", &rid])
        .as_array()
        .expect("drafts")
        .iter()
        .map(|d| {
            (
                i64_of(d, "id"),
                d["input"]["notes"].as_str().expect("notes").to_string(),
            )
        })
        .collect();
    let kept: BTreeSet<(i64, String)> = refusals
        .iter()
        .filter(|r| !r.reapplied)
        .map(|r| (r.draft, r.notes.clone()))
        .collect();
    assert_eq!(left, kept, "drafts left = refusals not reapplied");
    assert_eq!(
        kept.len(),
        SEATS - 1,
        "the last round's refusals stay drafts"
    );
}

/// Every audit entry, oldest first.
fn audit_entries(cli: &Cli) -> Vec<Value> {
    let mut all = cli.ok(&["audit", "list", "--limit", "10000"]);
    let all = all.as_array_mut().expect("audit entries");
    all.reverse();
    for w in all.windows(2) {
        assert!(i64_of(&w[0], "id") < i64_of(&w[1], "id"));
    }
    all.clone()
}

/// The claim entries replayed in chain order: never two holders, every change
/// by the holder, and the seats' acknowledged changes are exactly the audited ones.
fn check_claims(cli: &Cli, logs: &[SeatLog], audit: &[Value]) {
    let mut holder: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut status: BTreeMap<String, String> = BTreeMap::new();
    let mut audited: Vec<ClaimAck> = Vec::new();
    for e in audit.iter().filter(|e| e["entity"] == "worklist-claim") {
        let actor = e["actor"].as_str().expect("actor").to_string();
        let summary = e["summary"].as_str().expect("summary");
        let rest = summary
            .strip_prefix("worklist patient ")
            .unwrap_or_else(|| panic!("claim entry {summary:?}"));
        let (p, what) = rest.split_once(' ').expect("patient and change");
        let held = holder.entry(p.to_string()).or_default();
        let change = if what == "claimed" {
            assert_eq!(*held, None, "{p} claimed by {actor} while held: {e}");
            *held = Some(actor.clone());
            // A first claim starts at to-contact; a released patient keeps theirs.
            status
                .entry(p.to_string())
                .or_insert_with(|| "to-contact".to_string());
            "claimed".to_string()
        } else if what == "released" {
            assert_eq!(held.as_deref(), Some(actor.as_str()), "{e}");
            *held = None;
            "released".to_string()
        } else {
            let (from, to) = what
                .strip_prefix("status ")
                .and_then(|s| s.split_once(" -> "))
                .unwrap_or_else(|| panic!("claim entry {summary:?}"));
            assert_eq!(held.as_deref(), Some(actor.as_str()), "not the holder: {e}");
            let before = status.insert(p.to_string(), to.to_string());
            assert_eq!(before.as_deref().unwrap_or("none"), from, "{e}");
            format!("status {to}")
        };
        audited.push((actor, p.to_string(), change));
    }
    let mut acked: Vec<ClaimAck> = logs.iter().flat_map(|l| l.claim_acks.clone()).collect();
    acked.sort();
    audited.sort();
    assert_eq!(acked, audited, "acknowledged claim changes = audited ones");
    let conflicts: usize = logs.iter().map(|l| l.claim_conflicts).sum();
    // Each round every patient wanted by k seats is claimed once and refused k-1 times.
    let expected: usize = (0..ROUNDS)
        .map(|r| {
            let wanted: BTreeSet<&str> = (0..SEATS).map(|s| target(s, r)).collect();
            SEATS - wanted.len()
        })
        .sum();
    assert_eq!(conflicts, expected, "claim conflicts");

    // The worklist ends where the replay does (the first claim's status
    // to-contact was moved on by every holder).
    let worklist = cli.ok(&["worklist", "--today", TODAY]);
    for row in worklist["patients"].as_array().expect("patients") {
        let p = row["patient_id"].as_str().expect("patient id");
        let claim = &row["claim"];
        let want_holder = holder.get(p).cloned().flatten();
        assert_eq!(
            claim["holder"].as_str(),
            want_holder.as_deref(),
            "{p}: {claim}"
        );
        assert_eq!(
            claim["status"].as_str(),
            status.get(p).map(String::as_str),
            "{p}"
        );
    }
    let held_at_end = holder.values().filter(|h| h.is_some()).count();
    let wanted_last: BTreeSet<&str> = (0..SEATS).map(|s| target(s, ROUNDS - 1)).collect();
    assert_eq!(
        held_at_end,
        wanted_last.len(),
        "the last round's claims stay held"
    );
}

#[test]
fn seats_saving_one_review_and_claiming_one_worklist_lose_nothing_on_sqlite() {
    seats_on_one_store(&Location::sqlite("team.db"));
}

#[test]
fn seats_saving_one_review_and_claiming_one_worklist_lose_nothing_on_postgres() {
    if let Some(location) = Location::postgres("store_concurrency") {
        seats_on_one_store(&location);
    }
}
