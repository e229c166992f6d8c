//! `stepdown assess [--profile uk|cdc] [--high-dose-threshold MG] FILE|-`:
//! the OME report and risk flags for a regimen and a patient context.

use std::path::PathBuf;

use stepdown::assess::assess_from_json;
use stepdown::ome::OmeOptions;
use stepdown::reference::Reference;
use stepdown::Profile;

use super::ome::parse_threshold;
use super::{print_json, read_input, CliError, CliResult};

/// Arguments of `stepdown assess`.
#[derive(Debug, clap::Args)]
pub struct AssessArgs {
    /// Conversion factors and thresholds to use: uk (BNF / Opioids Aware) or cdc (US CDC 2022).
    #[arg(long, default_value = "uk")]
    pub profile: Profile,
    /// High-dose threshold in mg OME a day, replacing the profile's (e.g. 120 for schemes using the older UK figure).
    // Negative numbers must reach our own check (which names the option), not
    // clap's "unexpected argument".
    #[arg(long, value_name = "MG", allow_negative_numbers = true)]
    pub high_dose_threshold: Option<f64>,
    /// Input JSON `{"patient": {...}, "items": [...]}`, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs the command: reads, validates, assesses, prints. Nothing reaches
/// standard output unless every step succeeded.
pub fn run(args: AssessArgs) -> CliResult {
    let high_dose_threshold = parse_threshold(args.high_dose_threshold)?;
    let text = read_input(&args.file)?;
    let reference = Reference::load().map_err(anyhow::Error::from)?;
    let report = assess_from_json(
        &text,
        args.profile,
        &reference,
        &OmeOptions {
            high_dose_threshold,
        },
    )
    .map_err(|e| CliError::Input(e.to_string()))?;
    print_json(&report)
}
