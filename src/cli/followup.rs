//! `stepdown followup save|due|list` and `stepdown outcomes`: follow-up
//! reviews of a stored review and the practice's outcomes, the same
//! `consult` calls as the desktop app (contract: docs/cli.md).

use std::path::PathBuf;

use stepdown::consult;
use stepdown::followup::FollowUpInput;
use stepdown::outcomes::{months_csv, patients_csv};
use stepdown::reference::reference;
use stepdown::store::{OpenOptions, Store};

use super::leaflet::{date_arg, today};
use super::store::{api_error, DbArg};
use super::{print_json, read_input, CliResult};

/// `stepdown followup ...`
#[derive(Debug, clap::Args)]
pub struct FollowUpArgs {
    #[command(subcommand)]
    command: FollowUpCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FollowUpCommand {
    /// Save a follow-up of a review's current version from its entry (actual dose, PEG,
    /// SOWS, goals, decision, next review); a re-plan saves the review's next version.
    Save(SaveArgs),
    /// Where the patient should be on the review's current plan on a day, with the
    /// follow-ups so far and the next review agreed.
    Due(DueArgs),
    /// The follow-ups of a review, oldest first.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
struct SaveArgs {
    #[command(flatten)]
    db: DbArg,
    /// Follow-up JSON, or `-` for standard input.
    #[arg(value_name = "FOLLOW_UP")]
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
struct DueArgs {
    #[command(flatten)]
    db: DbArg,
    /// The review id.
    #[arg(long, value_name = "ID")]
    review: i64,
    /// The day (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    db: DbArg,
    /// The review id.
    #[arg(long, value_name = "ID")]
    review: i64,
}

/// `stepdown outcomes`
#[derive(Debug, clap::Args)]
pub struct OutcomesArgs {
    #[command(flatten)]
    db: DbArg,
    /// The day the figures are worked to (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<String>,
    /// CSV instead of JSON: the month-by-month table, or with `--patients` the per-patient one.
    #[arg(long)]
    csv: bool,
    /// With `--csv`: the per-patient table.
    #[arg(long, requires = "csv")]
    patients: bool,
    /// Write the practice's one-page outcomes report as a PDF to this file (and print
    /// `{"out", "pages", "bytes", "sha256"}`) instead of JSON.
    #[arg(long, value_name = "FILE.pdf", conflicts_with = "csv")]
    out: Option<PathBuf>,
    /// With `--out`: replace an existing file.
    #[arg(long, requires = "out")]
    overwrite: bool,
}

/// Opens an existing store. In debug builds only, `STEPDOWN_TEST_NOW`
/// (RFC 3339) fixes the store's clock so that the hand-worked outcome case
/// (tests/cases/outcomes_small.json) saves its reviews on the days it was
/// worked for; release builds always use the real clock.
pub(super) fn open_existing(db: &DbArg) -> CliResult<Store> {
    #[allow(unused_mut)]
    let mut options = OpenOptions {
        create: false,
        ..OpenOptions::default()
    };
    #[cfg(debug_assertions)]
    if let Some(now) = std::env::var("STEPDOWN_TEST_NOW")
        .ok()
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
    {
        options.clock = std::sync::Arc::new(stepdown::store::ManualClock::fixed(
            now.with_timezone(&chrono::Utc),
        ));
    }
    Ok(Store::open_with(db.path()?, options)?)
}

/// Runs `stepdown followup`.
pub fn follow_up(args: FollowUpArgs) -> CliResult {
    match args.command {
        FollowUpCommand::Save(a) => {
            let input = FollowUpInput::from_json(&read_input(&a.file)?).map_err(api_error)?;
            let mut store = open_existing(&a.db)?;
            let saved =
                consult::save_follow_up(&mut store, &input, reference()).map_err(api_error)?;
            print_json(&saved)
        }
        FollowUpCommand::Due(a) => {
            let day = date_arg("--today", a.today.as_deref())?.unwrap_or_else(today);
            let store = open_existing(&a.db)?;
            print_json(&consult::follow_up_due(&store, a.review, day).map_err(api_error)?)
        }
        FollowUpCommand::List(a) => print_json(&open_existing(&a.db)?.follow_ups(a.review)?),
    }
}

/// Runs `stepdown outcomes`.
pub fn outcomes(args: OutcomesArgs) -> CliResult {
    let day = date_arg("--today", args.today.as_deref())?.unwrap_or_else(today);
    let store = open_existing(&args.db)?;
    if let Some(out) = &args.out {
        let pdf = consult::outcomes_report(&store, day, reference()).map_err(api_error)?;
        super::leaflet::write_output(out, &pdf.bytes, args.overwrite, &[])?;
        return print_json(&serde_json::json!({
            "out": out.display().to_string(),
            "pages": pdf.pages,
            "bytes": pdf.bytes.len(),
            "sha256": stepdown::store::sha256_hex(&pdf.bytes),
        }));
    }
    let o = consult::outcomes(&store, day, reference()).map_err(api_error)?;
    if args.csv {
        super::print_text(&if args.patients {
            patients_csv(&o)
        } else {
            months_csv(&o)
        })
    } else {
        print_json(&o)
    }
}
