//! Concurrency benchmark (issue 19): S seats × N saves of ONE review on one
//! store, each seat its own process with its own connection, saving as a
//! seat does: read the latest version, compute the entry, save it with that
//! `base_version`; on a conflict (another seat saved meanwhile) the entry is
//! kept as a draft by the store, and the seat reads the latest version and
//! reapplies the draft on top. No think time: the worst case for conflicts.
//!
//! Prints (and with `--out`, writes) JSON: conflicts, busy retries, lost
//! updates (checked against the store at the end: every acknowledged save
//! must be a version exactly once, at the version it was acknowledged as,
//! with nothing else there; must be 0), latency per save (from reading the
//! latest to acknowledged, conflict handling included) and per write
//! (one save or reapply call), p50/p95/p99/max, and throughput.
//!
//!   cargo run --release --example seats_bench -- [--db FILE] [--seats 5] [--saves 1000] [--out FILE]
//!
//! Without `--db` a new SQLite file in a temporary folder is used. With a
//! `postgres://` address (the owner role of a test cluster, e.g. from
//! tests/pg/with-cluster.sh) the run gets a new schema of its own, dropped
//! afterwards. `make bench` runs it; figures and how to reproduce them are
//! in docs/store.md.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepdown::consult;
use stepdown::record::ReviewInput;
use stepdown::reference::reference;
use stepdown::regimen::RawItem;
use stepdown::store::{PatientInput, Store};
use stepdown::{Conflict, StoreError};

/// A seat's report to the coordinator.
#[derive(Debug, Serialize, Deserialize)]
struct SeatReport {
    seat: usize,
    /// (save number, version acknowledged, reapplied after a conflict)
    acks: Vec<(usize, i64, bool)>,
    /// Per acknowledged save, microseconds from reading the latest to acknowledged.
    save_us: Vec<u64>,
    /// Per write call (a save, refused or not, or a reapply), microseconds.
    write_us: Vec<u64>,
    conflicts: usize,
    /// Writes tried again because nothing was changed: SQLite's busy timeout
    /// ran out, or the server stopped a transaction that collided.
    busy_retries: usize,
}

struct Args {
    db: Option<PathBuf>,
    seats: usize,
    saves: usize,
    out: Option<PathBuf>,
    /// Set in a seat's own process.
    seat: Option<usize>,
    review: i64,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        db: None,
        seats: 5,
        saves: 1000,
        out: None,
        seat: None,
        review: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => a.db = Some(PathBuf::from(value()?)),
            "--seats" => a.seats = value()?.parse().context("--seats")?,
            "--saves" => a.saves = value()?.parse().context("--saves")?,
            "--out" => a.out = Some(PathBuf::from(value()?)),
            "--seat" => a.seat = Some(value()?.parse().context("--seat")?),
            "--review" => a.review = value()?.parse().context("--review")?,
            other => bail!("unknown option {other}"),
        }
    }
    if a.seats == 0 || a.saves == 0 {
        bail!("--seats and --saves must be at least 1");
    }
    Ok(a)
}

fn is_server(db: &std::path::Path) -> bool {
    let d = db.to_string_lossy();
    d.starts_with("postgres://") || d.starts_with("postgresql://")
}

fn open(db: &std::path::Path) -> Result<Store> {
    Ok(Store::open(db)?)
}

/// On a server, a new schema of its own for this run (so it starts from an
/// empty store, as the SQLite run does), migrated, with the signed-in role
/// assigned to a practice so records need none given (as the tests set up a
/// team store). Returns the store address on that schema.
fn fresh_schema(base: &str) -> Result<(String, String)> {
    let schema = format!("seats_bench_{}", std::process::id());
    let mut owner = postgres::Client::connect(base, postgres::NoTls)
        .context("connect to the server (the owner role, as tests/pg/with-cluster.sh gives)")?;
    owner.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    drop(Store::open(&url)?);
    owner.batch_execute(&format!(
        "SET search_path = {schema}; \
         INSERT INTO practices (code, name) VALUES ('A81001', 'Benchmark Surgery'); \
         INSERT INTO seat_practices (role_name, practice_code) VALUES (current_user, 'A81001');"
    ))?;
    Ok((url, schema))
}

fn drop_schema(base: &str, schema: &str) {
    if let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls) {
        let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

fn entry(
    patient_id: i64,
    review_id: Option<i64>,
    base: Option<i64>,
    who: &str,
    notes: String,
) -> ReviewInput {
    ReviewInput {
        patient_id,
        review_id,
        base_version: base,
        reviewer: who.to_string(),
        notes,
        items: vec![RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            release: Some("modified".into()),
            strength_mg: Some(30.0),
            units_per_dose: Some(1.0),
            doses_per_day: Some(2.0),
            ..Default::default()
        }],
        ..ReviewInput::default()
    }
}

fn notes_of(seat: usize, i: usize) -> String {
    format!("seat {seat} save {i}")
}

/// One seat: waits for "go" on standard input, saves, prints its report.
fn seat(db: &std::path::Path, s: usize, review_id: i64, saves: usize) -> Result<()> {
    let mut store = open(db)?;
    let me = format!("Seat {s}");
    let settings = store.settings()?;
    let compute = |i: &ReviewInput| {
        consult::compute_review(
            i,
            settings.profile,
            settings.high_dose_threshold_mg_per_day,
            reference(),
        )
        .map_err(|e| anyhow::anyhow!("{}", e.message))
    };
    println!("ready");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;

    let mut r = SeatReport {
        seat: s,
        acks: Vec::with_capacity(saves),
        save_us: Vec::with_capacity(saves),
        write_us: Vec::with_capacity(saves * 2),
        conflicts: 0,
        busy_retries: 0,
    };
    for i in 0..saves {
        let started = Instant::now();
        let latest = store.review(review_id)?;
        let input = entry(
            latest.patient_id,
            Some(review_id),
            Some(latest.version),
            &me,
            notes_of(s, i),
        );
        let computed = compute(&input)?;
        let (version, reapplied) = loop {
            let t = Instant::now();
            let res = store.save_review(&computed);
            r.write_us.push(t.elapsed().as_micros() as u64);
            match res {
                Ok(saved) => break (saved.version, false),
                // Nothing was changed: SQLite's busy timeout ran out, or the
                // server stopped a transaction that collided with another's.
                Err(StoreError::Busy | StoreError::Serialization(_)) => r.busy_retries += 1,
                Err(StoreError::Conflict(c)) => {
                    let Conflict::Review(rc) = *c else {
                        bail!("{me}: unexpected conflict {c:?}");
                    };
                    r.conflicts += 1;
                    // As a seat would: look at the latest, then put the
                    // kept entry on top (as consult::reapply_draft does).
                    store.review(review_id)?;
                    let draft = store.review_draft(rc.draft_id)?;
                    let again = compute(&ReviewInput {
                        base_version: None,
                        ..draft.input
                    })?;
                    let saved = loop {
                        let t = Instant::now();
                        let res = store.reapply_review_draft(rc.draft_id, &again, &me);
                        r.write_us.push(t.elapsed().as_micros() as u64);
                        match res {
                            Ok(saved) => break saved,
                            Err(StoreError::Busy | StoreError::Serialization(_)) => {
                                r.busy_retries += 1
                            }
                            Err(e) => bail!("{me}: reapply of draft {}: {e}", rc.draft_id),
                        }
                    };
                    break (saved.version, true);
                }
                Err(e) => bail!("{me}: save {i}: {e}"),
            }
        };
        r.save_us.push(started.elapsed().as_micros() as u64);
        r.acks.push((i, version, reapplied));
    }
    serde_json::to_writer(std::io::stdout().lock(), &r)?;
    println!();
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn latency(mut us: Vec<u64>) -> serde_json::Value {
    us.sort_unstable();
    json!({
        "count": us.len(),
        "p50_ms": percentile(&us, 50.0),
        "p95_ms": percentile(&us, 95.0),
        "p99_ms": percentile(&us, 99.0),
        "max_ms": us.last().map_or(0.0, |m| *m as f64 / 1000.0),
    })
}

/// Checks the store against what the seats were told: (lost, doubled or
/// unacknowledged versions, problems in words).
fn verify(
    db: &std::path::Path,
    review_id: i64,
    reports: &[SeatReport],
) -> Result<(usize, Vec<String>)> {
    let store = open(db)?;
    let mut problems = Vec::new();
    let mut at: BTreeMap<String, i64> = BTreeMap::new();
    let versions = store.review_versions(review_id)?;
    let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    if numbers != (1..=numbers.len() as i64).collect::<Vec<_>>() {
        problems.push("versions are not 1..n without gaps".to_string());
    }
    for v in &numbers {
        let r = store.review_version(review_id, *v)?;
        if at.insert(r.notes.clone(), *v).is_some() {
            problems.push(format!("{:?} saved twice", r.notes));
        }
    }
    at.remove("initial");
    let mut lost = 0;
    for rep in reports {
        for (i, version, _) in &rep.acks {
            match at.remove(&notes_of(rep.seat, *i)) {
                Some(v) if v == *version => {}
                Some(v) => problems.push(format!(
                    "seat {} save {i} acknowledged as version {version} is version {v}",
                    rep.seat
                )),
                None => lost += 1,
            }
        }
    }
    if !at.is_empty() {
        problems.push(format!("{} versions nobody acknowledged", at.len()));
    }
    let drafts = store.review_drafts(review_id)?;
    if !drafts.is_empty() {
        problems.push(format!(
            "{} drafts left (every one was reapplied)",
            drafts.len()
        ));
    }
    let chain = store.verify_audit_chain()?;
    if !chain.ok {
        problems.push(format!("audit chain: {:?}", chain.first_broken));
    }
    let check = store.check();
    if !check.ok {
        problems.push(format!("check: {}", check.problems.join("; ")));
    }
    Ok((lost, problems))
}

fn coordinate(a: &Args) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let given = a.db.clone().unwrap_or_else(|| tmp.path().join("seats.db"));
    let server = is_server(&given);
    let (db, schema) = if server {
        let base = given.to_string_lossy().into_owned();
        let (url, schema) = fresh_schema(&base)?;
        (PathBuf::from(url), Some((base, schema)))
    } else {
        (given, None)
    };
    let result = run(a, &db, server);
    if let Some((base, schema)) = schema {
        drop_schema(&base, &schema);
    }
    result
}

fn run(a: &Args, db: &std::path::Path, server: bool) -> Result<()> {
    let review_id = {
        let mut store = open(db)?;
        let p = store.create_patient(
            &PatientInput {
                name: "Benchmark Patient".into(),
                ..PatientInput::default()
            },
            "bench",
        )?;
        // On a team store a version names the role that signed in.
        let initial = if server {
            store.seat_name(None, "reviewer")?
        } else {
            "Initial".to_string()
        };
        consult::save_review(
            &mut store,
            &entry(p.id, None, None, &initial, "initial".into()),
            reference(),
        )
        .map_err(|e| anyhow::anyhow!("{}", e.message))?
        .review_id
    };
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for s in 0..a.seats {
        let mut child = Command::new(&exe)
            .arg("--db")
            .arg(db)
            .args(["--seat", &s.to_string(), "--review", &review_id.to_string()])
            .args(["--saves", &a.saves.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut out = BufReader::new(child.stdout.take().context("seat stdout")?);
        let mut ready = String::new();
        out.read_line(&mut ready)?;
        if ready.trim() != "ready" {
            bail!("seat {s} did not start: {ready:?}");
        }
        children.push((child, out));
    }
    let started = Instant::now();
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().context("seat stdin")?, "go")?;
    }
    let mut reports = Vec::new();
    for (s, (mut child, mut out)) in children.into_iter().enumerate() {
        let mut line = String::new();
        out.read_line(&mut line)?;
        let status = child.wait()?;
        if !status.success() {
            bail!("seat {s} failed: {status}");
        }
        reports.push(serde_json::from_str::<SeatReport>(&line).context("seat report")?);
    }
    let wall = started.elapsed();
    let (lost, problems) = verify(db, review_id, &reports)?;
    let acked: usize = reports.iter().map(|r| r.acks.len()).sum();
    let result = json!({
        "store": if server { "PostgreSQL" } else { "SQLite file" },
        "seats": a.seats,
        "saves_per_seat": a.saves,
        "acknowledged_saves": acked,
        "conflicts": reports.iter().map(|r| r.conflicts).sum::<usize>(),
        "busy_retries": reports.iter().map(|r| r.busy_retries).sum::<usize>(),
        "lost_updates": lost,
        "problems": problems,
        "wall_s": (wall.as_secs_f64() * 100.0).round() / 100.0,
        "saves_per_s": (acked as f64 / wall.as_secs_f64() * 10.0).round() / 10.0,
        "latency_per_save": latency(reports.iter().flat_map(|r| r.save_us.clone()).collect()),
        "latency_per_write": latency(reports.iter().flat_map(|r| r.write_us.clone()).collect()),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    let text = serde_json::to_string_pretty(&result)?;
    println!("{text}");
    if let Some(out) = &a.out {
        std::fs::write(out, &text).with_context(|| format!("write {}", out.display()))?;
    }
    if lost > 0 || !problems.is_empty() {
        bail!("the store lost or changed acknowledged saves");
    }
    Ok(())
}

fn main() -> Result<()> {
    let a = parse_args()?;
    match (a.seat, &a.db) {
        (Some(s), Some(db)) => seat(db, s, a.review, a.saves),
        (Some(_), None) => bail!("--seat needs --db"),
        (None, _) => coordinate(&a),
    }
}
