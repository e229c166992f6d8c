//! Case-finding benchmark (issue 10): a generated 1,000,000-row extract
//! imported by `stepdown import` (read, parse, store, OME and flags for every
//! patient, worklist cache, figures), against `sqlite3 .import` of the same
//! file into a plain table, in the same run, both measured with
//! `/usr/bin/time -v` (wall time and peak memory); then the worklist query on
//! the resulting store (100,000+ patients).
//!
//! ```text
//! cargo build --release -p stepdown --bin stepdown
//! cargo run --release -p stepdown --example casefinding_bench -- --rows 1000000 --runs 3
//! ```
//! Goals: import ≤ 2 × sqlite3 .import; peak memory ≤ 500 MB; a worklist page ≤ 50 ms.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::Parser;
use stepdown::casefinding::synthetic::{generate, SyntheticOptions};
use stepdown::casefinding::{figures, worklist, WorklistFilters};
use stepdown::reference::reference;
use stepdown::store::Store;

/// Case-finding benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Rows in the generated extract.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Days of history (180 gives about 115,000 patients per million rows).
    #[arg(long, default_value_t = 180)]
    history_days: i64,
    /// Timed runs of each import (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Working folder (the extract is kept there between runs).
    #[arg(long, default_value = "target/casefinding-bench")]
    dir: PathBuf,
}

const TODAY: &str = "2026-11-24";

/// Wall seconds, peak resident kB and CPU seconds (user + system) of one
/// command, from `/usr/bin/time -v`. On a shared machine CPU time is the
/// steadier figure (wall time includes waiting for the other processes).
fn timed(cmd: &mut Command) -> Result<(f64, u64, f64), Box<dyn std::error::Error>> {
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&program)
        .args(&args)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            program.to_string_lossy(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let mut wall = None;
    let mut rss = None;
    let mut cpu = 0.0;
    for line in err.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("Elapsed (wall clock) time (h:mm:ss or m:ss): ") {
            // m:ss.cc or h:mm:ss
            let parts: Vec<f64> = v.split(':').filter_map(|p| p.parse().ok()).collect();
            wall = Some(parts.iter().fold(0.0, |acc, p| acc * 60.0 + p));
        }
        if let Some(v) = line.strip_prefix("Maximum resident set size (kbytes): ") {
            rss = v.parse().ok();
        }
        for prefix in ["User time (seconds): ", "System time (seconds): "] {
            if let Some(v) = line.strip_prefix(prefix) {
                cpu += v.parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    Ok((
        wall.ok_or("no wall time")?,
        rss.ok_or("no peak memory")?,
        cpu,
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let today = NaiveDate::parse_from_str(TODAY, "%Y-%m-%d")?;
    let stepdown = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("stepdown"))
        .ok_or("cannot find target/release")?;
    if !stepdown.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p stepdown --bin stepdown` first",
            stepdown.display()
        )
        .into());
    }

    let csv = args
        .dir
        .join(format!("extract-{}-{}d.csv", args.rows, args.history_days));
    if !csv.exists() {
        eprintln!("generating {} …", csv.display());
        let mut options = SyntheticOptions::new(args.rows, 7, today);
        options.history_days = args.history_days;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        let truth = generate(&options, reference(), &mut out)?;
        drop(out);
        eprintln!(
            "{} rows, {} patients, {} with a current opioid",
            truth.rows,
            truth.patients_in_file,
            truth.patients.len()
        );
    }
    let size_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;

    let plain = args.dir.join("plain.db");
    let store = args.dir.join("stepdown.db");
    let (mut sq_wall, mut sq_rss, mut sd_wall, mut sd_rss) = (vec![], vec![], vec![], vec![]);
    let (mut sq_cpu, mut sd_cpu) = (vec![], vec![]);
    for run in 1..=args.runs {
        remove_db(&plain);
        let (w, r, c) = timed(
            Command::new("sqlite3")
                .arg(&plain)
                .arg(".mode csv")
                .arg(format!(".import {} extract", csv.display())),
        )?;
        sq_wall.push(w);
        sq_rss.push(r as f64);
        sq_cpu.push(c);
        remove_db(&store);
        let (w2, r2, c2) = timed(
            Command::new(&stepdown)
                .arg("import")
                .arg(&csv)
                .arg("--db")
                .arg(&store)
                .arg("--today")
                .arg(TODAY)
                .arg("--list-size")
                .arg("150000")
                .arg("--actor")
                .arg("benchmark"),
        )?;
        sd_wall.push(w2);
        sd_rss.push(r2 as f64);
        sd_cpu.push(c2);
        eprintln!(
            "run {run}: sqlite3 .import {w:.2} s, CPU {c:.2} s ({} MB); stepdown import {w2:.2} s, CPU {c2:.2} s ({} MB); ratio {:.2} wall, {:.2} CPU",
            r / 1024,
            r2 / 1024,
            w2 / w,
            c2 / c
        );
    }

    // The worklist on the imported store.
    let mut s = Store::open_existing(&store)?;
    let page = |n: u32| WorklistFilters {
        limit: Some(n),
        ..WorklistFilters::default()
    };
    let time = |s: &mut Store,
                f: &WorklistFilters,
                reps: usize|
     -> Result<(f64, usize, u64), Box<dyn std::error::Error>> {
        let mut times = Vec::new();
        let mut shown = 0;
        let mut patients = 0;
        for _ in 0..reps {
            let t = Instant::now();
            let w = worklist(s, f, today)?;
            times.push(ms(t.elapsed()));
            shown = w.patients.len();
            patients = w.metrics.patients;
        }
        Ok((median(times), shown, patients))
    };
    let (first, _, patients) = time(&mut s, &page(100), 1)?;
    let (p100, _, _) = time(&mut s, &page(100), 21)?;
    let (p25, _, _) = time(&mut s, &page(25), 21)?;
    let (hi, _, _) = time(
        &mut s,
        &WorklistFilters {
            min_ome: Some(120.0),
            limit: Some(100),
            ..WorklistFilters::default()
        },
        21,
    )?;
    let (benzo, _, _) = time(
        &mut s,
        &WorklistFilters {
            benzodiazepine: true,
            limit: Some(100),
            ..WorklistFilters::default()
        },
        21,
    )?;
    let (deep, _, _) = time(
        &mut s,
        &WorklistFilters {
            limit: Some(100),
            offset: Some(90_000),
            ..WorklistFilters::default()
        },
        21,
    )?;
    let (full, full_n, _) = time(&mut s, &WorklistFilters::default(), 1)?;
    let t = Instant::now();
    let f = figures(&mut s, today, None)?;
    let fig_ms = ms(t.elapsed());

    let (sq, sd) = (median(sq_wall), median(sd_wall));
    println!("Case-finding benchmark ({} runs, medians)", args.runs);
    println!(
        "extract: {} rows, {size_mb:.1} MB, {patients} patients on the worklist",
        args.rows
    );
    let (sqc, sdc) = (median(sq_cpu), median(sd_cpu));
    println!("| | wall time | CPU time | peak memory |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| sqlite3 .import into a plain table | {sq:.2} s | {sqc:.2} s | {:.0} MB |",
        median(sq_rss) / 1024.0
    );
    println!(
        "| stepdown import (read, parse, store, OME and flags for every patient, figures) | {sd:.2} s | {sdc:.2} s | {:.0} MB |",
        median(sd_rss) / 1024.0
    );
    println!("| ratio (goal ≤ 2) | {:.2} | {:.2} | |", sd / sq, sdc / sqc);
    println!();
    println!("| worklist query over {patients} patients | median |");
    println!("| --- | --- |");
    println!("| first page of 100, first call after opening | {first:.1} ms |");
    println!("| page of 100 | {p100:.1} ms |");
    println!("| page of 25 | {p25:.1} ms |");
    println!("| ≥ 120 mg, page of 100 | {hi:.1} ms |");
    println!("| benzodiazepine co-prescribed, page of 100 | {benzo:.1} ms |");
    println!("| page of 100 at offset 90,000 | {deep:.1} ms |");
    println!("| the whole list ({full_n} patients, details computed) | {full:.0} ms |");
    println!(
        "| practice figures ({} months) | {fig_ms:.1} ms |",
        f.months.len()
    );
    Ok(())
}
