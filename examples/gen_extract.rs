//! Writes a synthetic prescribing extract (CSV) and its ground truth (JSON),
//! for trying the case-finding import and for the benchmark. Never real data.
//!
//! `cargo run --release -p stepdown --example gen_extract -- --rows 1000000 --seed 7 --out extract.csv --truth truth.json`

use std::io::BufWriter;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Parser;
use stepdown::casefinding::synthetic::{generate, ExportShape, SyntheticOptions};
use stepdown::reference::reference;

/// Synthetic extract generator.
#[derive(Debug, Parser)]
struct Args {
    /// Data rows to write.
    #[arg(long)]
    rows: usize,
    /// Seed (the same seed gives the same file).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The extract's date (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-24")]
    today: NaiveDate,
    /// Days of history (shorter: more patients for the same rows).
    #[arg(long, default_value_t = 365)]
    history_days: i64,
    /// Malformed rows per 10,000.
    #[arg(long, default_value_t = 30)]
    malformed_per_10000: u32,
    /// The file's shape: standard (Stepdown's columns), systmone-sr (a SystmOne
    /// Strategic Reporting SRPrimaryCareMedication file, read with --preset systmone-sr)
    /// or emis-web (the CSV of Stepdown's EMIS Web list report, read with --preset emis-web).
    #[arg(long, default_value = "standard")]
    shape: String,
    /// The CSV file to write.
    #[arg(long)]
    out: PathBuf,
    /// The ground truth (JSON) to write.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut options = SyntheticOptions::new(args.rows, args.seed, args.today);
    options.history_days = args.history_days;
    options.malformed_per_10000 = args.malformed_per_10000;
    options.shape = match args.shape.as_str() {
        "standard" => ExportShape::Standard,
        "systmone-sr" => ExportShape::SystmOneSr,
        "emis-web" => ExportShape::EmisWeb,
        other => {
            return Err(
                format!("--shape: '{other}' is not standard, systmone-sr or emis-web").into(),
            )
        }
    };
    let mut out = BufWriter::new(std::fs::File::create(&args.out)?);
    let truth = generate(&options, reference(), &mut out)?;
    if let Some(path) = args.truth {
        std::fs::write(path, serde_json::to_string_pretty(&truth)?)?;
    }
    eprintln!(
        "{} rows, {} patients in the file, {} on the worklist, {} rows to be refused",
        truth.rows,
        truth.patients_in_file,
        truth.patients.len(),
        truth.refused.len()
    );
    Ok(())
}
