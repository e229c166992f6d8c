//! `stepdown plan [--profile uk|cdc] [--edits FILE] [--format json|text] FILE|-`:
//! the suggested taper plan, optionally with clinician edits applied.

use std::path::PathBuf;

use stepdown::reference::Reference;
use stepdown::taper::{apply_edits, edits_from_json, plan_from_json, plan_text, PlanError};
use stepdown::Profile;

use super::{print_json, read_input, CliError, CliResult};

/// Output format of `stepdown plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// The plan as JSON (the contract).
    Json,
    /// A table a pharmacist would write, for reading and printing.
    Text,
}

/// Arguments of `stepdown plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Conversion factors to use: uk (BNF / Opioids Aware) or cdc (US CDC 2022).
    #[arg(long, default_value = "uk")]
    pub profile: Profile,
    /// Clinician edits to apply, `{"edits": [...]}` (set_dose, set_length, add_pause, set_order, accept_switch).
    #[arg(long, value_name = "FILE")]
    pub edits: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: PlanFormat,
    /// Plan input `{"items": [...], "start_date": ..., "taper": {...}, "pauses": [...]}`, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

fn to_cli(e: PlanError) -> CliError {
    match e {
        PlanError::Input(e) => CliError::Input(e.to_string()),
        PlanError::Internal(m) => CliError::Internal(anyhow::anyhow!(m)),
    }
}

/// Runs the command. Nothing reaches standard output unless the plan (and
/// every edit) succeeded.
pub fn run(args: PlanArgs) -> CliResult {
    let text = read_input(&args.file)?;
    // Read the edits before planning, so a broken edits file is reported even
    // if the plan input is also wrong.
    let edits = match &args.edits {
        None => None,
        Some(path) => {
            let t = read_input(path)?;
            Some(edits_from_json(&t).map_err(|e| CliError::Input(e.to_string()))?)
        }
    };
    let reference = Reference::load().map_err(anyhow::Error::from)?;
    let mut plan = plan_from_json(&text, args.profile, &reference).map_err(to_cli)?;
    if let Some(edits) = edits {
        plan = apply_edits(&plan, &edits, &reference).map_err(to_cli)?;
    }
    match args.format {
        PlanFormat::Json => print_json(&plan),
        PlanFormat::Text => super::print_text(&plan_text(&plan)),
    }
}
