//! `stepdown ome [--profile uk|cdc] [--high-dose-threshold MG] FILE|-`:
//! total daily oral morphine equivalent of a regimen, with the working shown.

use std::path::PathBuf;

use stepdown::ome::{calculate, OmeOptions};
use stepdown::quantity::OmeMgPerDay;
use stepdown::reference::Reference;
use stepdown::regimen::regimen_from_json;
use stepdown::vocabulary::num;
use stepdown::Profile;

use super::{print_json, read_input, CliError, CliResult};

/// Arguments of `stepdown ome`.
#[derive(Debug, clap::Args)]
pub struct OmeArgs {
    /// Conversion factors and thresholds to use: uk (BNF / Opioids Aware) or cdc (US CDC 2022).
    #[arg(long, default_value = "uk")]
    pub profile: Profile,
    /// High-dose threshold in mg OME a day, replacing the profile's (e.g. 120 for schemes using the older UK figure).
    // Negative numbers must reach our own check (which names the option), not
    // clap's "unexpected argument".
    #[arg(long, value_name = "MG", allow_negative_numbers = true)]
    pub high_dose_threshold: Option<f64>,
    /// Regimen JSON file `{"items": [...]}`, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs the command: reads, validates, calculates, prints. Nothing reaches
/// standard output unless every step succeeded.
pub fn run(args: OmeArgs) -> CliResult {
    let high_dose_threshold = parse_threshold(args.high_dose_threshold)?;
    let text = read_input(&args.file)?;
    let reference = Reference::load().map_err(anyhow::Error::from)?;
    let regimen = regimen_from_json(&text, args.profile, &reference)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let report = calculate(
        &regimen,
        args.profile,
        &reference,
        &OmeOptions {
            high_dose_threshold,
        },
    );
    print_json(&report)
}

/// Checks `--high-dose-threshold` (shared by `ome` and `assess`): it must be
/// a number greater than 0, and the message names the option.
pub fn parse_threshold(value: Option<f64>) -> CliResult<Option<OmeMgPerDay>> {
    match value {
        None => Ok(None),
        Some(v) => OmeMgPerDay::new(v)
            .filter(|t| t.get() > 0.0)
            .map(Some)
            .ok_or_else(|| {
                CliError::Input(format!(
                    "--high-dose-threshold: must be greater than 0 (got {})",
                    num(v)
                ))
            }),
    }
}
