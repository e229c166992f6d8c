//! `stepdown reference`: the clinical reference tables in this build, with
//! version, review date and source, and a warning for every table more than
//! the policy's number of months past its review date.

use chrono::NaiveDate;
use serde::Serialize;
use stepdown::reference::{currency, Reference, ReferenceInfo, StaleTable};

use super::{print_json, CliError, CliResult};

/// Output formats of `stepdown reference`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// JSON.
    Json,
    /// Plain text for a terminal.
    Text,
}

/// Arguments of `stepdown reference`.
#[derive(Debug, clap::Args)]
pub struct ReferenceArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// The date to check review dates against (YYYY-MM-DD) [default: today's date on
    /// this computer].
    #[arg(long, value_name = "DATE")]
    today: Option<String>,
}

/// `stepdown reference` output: the reference summary plus its currency.
#[derive(Debug, Serialize)]
struct ReferenceReport {
    #[serde(flatten)]
    info: ReferenceInfo,
    /// The date the review dates were checked against.
    today: String,
    /// Months past review after which a table is stale, and where that comes from.
    stale_after_months: Option<f64>,
    stale_policy_source: Option<String>,
    /// Tables more than that many months past their review date.
    stale: Vec<StaleTable>,
    /// One sentence per stale table, for display.
    warnings: Vec<String>,
}

/// Runs `stepdown reference`.
pub fn run(args: ReferenceArgs) -> CliResult {
    let today = match &args.today {
        Some(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| {
                CliError::Input(format!(
                    "--today: must be a real date written YYYY-MM-DD (got '{}')",
                    stepdown::limits::sanitize(s)
                ))
            })
            .and_then(|d| super::leaflet::year_in_range("--today", d))?,
        // The core never reads the clock; the CLI does, in the user's time zone.
        None => chrono::Local::now().date_naive(),
    };
    let reference = Reference::load().map_err(anyhow::Error::from)?;
    let stale = currency(&reference, today);
    let policy = reference.overdue_months();
    let report = ReferenceReport {
        info: reference.info(),
        today: today.to_string(),
        stale_after_months: policy.map(|p| p.value),
        stale_policy_source: policy.map(|p| p.source.clone()),
        warnings: stale.iter().map(|s| s.warning.clone()).collect(),
        stale,
    };
    match args.format {
        Format::Json => print_json(&report)?,
        Format::Text => {
            let info = &report.info;
            let mut text = format!("Reference manifest {}\n", info.manifest_version);
            for t in &info.tables {
                text += &format!(
                    "- {} v{} ({} rows), review by {}\n  {}\n  Source: {}\n",
                    t.id, t.version, t.rows, t.review_date, t.title, t.source
                );
            }
            for w in &report.warnings {
                text += &format!("WARNING: {w}\n");
            }
            super::print_text(&text)?
        }
    }
    Ok(())
}
