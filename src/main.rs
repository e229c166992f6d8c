//! `stepdown` command-line interface: the clinical core with JSON in and out.
//! Contract: docs/cli.md. Exit 0 success, 1 internal failure, 2 bad input.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::{CliError, CliResult};

/// Opioid deprescribing decision support (UK primary care).
#[derive(Debug, Parser)]
#[command(name = "stepdown", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the clinical reference tables in this build, with version, review date and source,
    /// and a warning for any table more than 12 months (policy table) past its review date.
    Reference(cli::reference::ReferenceArgs),
    /// Total daily oral morphine equivalent of a regimen, per item with the working shown.
    Ome(cli::ome::OmeArgs),
    /// OME plus risk flags (reason, action, source) for a regimen and a patient context.
    Assess(cli::assess::AssessArgs),
    /// Suggested taper plan: dated steps in whole UK products, with the quantity to dispense.
    Plan(cli::plan::PlanArgs),
    /// The patient leaflet PDF for a plan: dated steps, exact tablets or patches, advice.
    Leaflet(cli::leaflet::LeafletArgs),
    /// The clinician summary of a plan and its risk flags, as text for the record or a PDF.
    Summary(cli::leaflet::SummaryArgs),
    /// Copy the store to FILE with SQLite's online backup (safe while the app is running).
    Backup(cli::store::BackupArgs),
    /// Replace the store with a backup (checked first; the current store is kept as a copy).
    Restore(cli::store::RestoreArgs),
    /// Copy a practice's SQLite store (records, ids, audit chain) to a new team store on a
    /// PostgreSQL server, in one transaction, verified by the server before it commits.
    MigrateStore(cli::store::MigrateStoreArgs),
    /// Everything in the store as one JSON document, for moving machines.
    Export(cli::store::ExportArgs),
    /// Check the store: integrity, foreign keys, schema version, record counts.
    Check(cli::store::CheckArgs),
    /// The tamper-evident audit log: `verify` its hash chain, `list` its entries.
    Audit(cli::audit::AuditArgs),
    /// Import a practice prescribing extract (CSV) for case-finding; prints the import report.
    Import(cli::casefinding::ImportArgs),
    /// Patients on opioids from the imported extracts, highest risk first, with filters.
    Worklist(cli::casefinding::WorklistArgs),
    /// The practice's figures month by month (people on opioids, on high doses, per 1,000).
    Figures(cli::casefinding::FiguresArgs),
    /// The store's settings: `show` them, `set` practice details, profile, threshold.
    Settings(cli::record::SettingsArgs),
    /// Patients in the store: `add` one, `list` them.
    Patient(cli::record::PatientArgs),
    /// Reviews in the store: `save` from inputs, `show`, `history`, and print the `leaflet`
    /// or `summary` of a stored version; `reprint` checks a print re-renders the same.
    Review(cli::record::ReviewArgs),
    /// Follow-ups of a stored review: `save` one (a re-plan saves the review's next
    /// version), `due` (where the patient should be on the plan that day), `list`.
    #[command(name = "followup")]
    FollowUp(cli::followup::FollowUpArgs),
    /// Outcomes per patient and month by month (reduced, reduced by half, stopped), as JSON or CSV.
    Outcomes(cli::followup::OutcomesArgs),
    /// Fill an empty store with synthetic demo patients (never real data).
    Demo(cli::store::DemoArgs),
    /// Test helper: save reviews in a loop, printing each acknowledged save.
    #[command(name = "__stress-writer", hide = true)]
    StressWriter(cli::store::StressWriterArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // Every message is shown through the one sanitiser: a value quoted in it
    // (an option, a path, a field of the input) may hold control or
    // right-to-left characters, or be very long (issue 20).
    let show = |msg: &str| stepdown::limits::sanitize_message(msg);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Input(msg)) => {
            // Every refusal should name its field. An empty one is a defect,
            // but the user must still be told the input was refused.
            if msg.trim().is_empty() {
                eprintln!(
                    "the input was refused, but no reason was given (a Stepdown defect: \
                     please report it with the input)"
                );
            } else {
                eprintln!("{}", show(&msg));
            }
            ExitCode::from(2)
        }
        Err(CliError::Environment(msg)) => {
            eprintln!("stepdown: {}", show(&msg));
            ExitCode::from(1)
        }
        Err(CliError::Refused(e)) => {
            // The details (who, when, the draft kept) as JSON for a script,
            // the message for a person.
            if let Ok(text) = serde_json::to_string_pretty(&e) {
                // The status still says what happened if no one reads this.
                let _ = cli::print_text(&format!("{text}\n"));
            }
            eprintln!("stepdown: {}", show(&e.message));
            ExitCode::from(cli::refused_status(e.code))
        }
        Err(CliError::Internal(e)) => {
            eprintln!("stepdown: internal error: {}", show(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// clap's own errors (an unknown option, a value not among the choices) quote
/// what was typed: each quoted value is sanitised and cut, then the message as
/// a whole, like every other message. Help and version go out as they are.
fn usage_error(mut e: clap::Error) -> ExitCode {
    use clap::error::ContextValue;
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let clean: Vec<_> = e
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::String(s) => {
                Some((kind, ContextValue::String(stepdown::limits::sanitize(s))))
            }
            ContextValue::Strings(v) => Some((
                kind,
                ContextValue::Strings(v.iter().map(|s| stepdown::limits::sanitize(s)).collect()),
            )),
            // Tips ("to pass '--x' as a value, use '-- --x'") quote it too.
            ContextValue::StyledStr(s) => Some((
                kind,
                ContextValue::StyledStr(stepdown::limits::sanitize(&s.to_string()).into()),
            )),
            ContextValue::StyledStrs(v) => Some((
                kind,
                ContextValue::StyledStrs(
                    v.iter()
                        .map(|s| stepdown::limits::sanitize(&s.to_string()).into())
                        .collect(),
                ),
            )),
            _ => None,
        })
        .collect();
    for (kind, value) in clean {
        e.insert(kind, value);
    }
    let text = e.render().to_string();
    eprint!("{}", stepdown::limits::sanitize_message(&text));
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Reference(args) => cli::reference::run(args),
        Command::Ome(args) => cli::ome::run(args),
        Command::Assess(args) => cli::assess::run(args),
        Command::Plan(args) => cli::plan::run(args),
        Command::Leaflet(args) => cli::leaflet::leaflet(args),
        Command::Summary(args) => cli::leaflet::summary(args),
        Command::Backup(args) => cli::store::backup(args),
        Command::Restore(args) => cli::store::restore(args),
        Command::Export(args) => cli::store::export(args),
        Command::MigrateStore(args) => cli::store::migrate_store(args),
        Command::Check(args) => cli::store::check(args),
        Command::Audit(args) => cli::audit::run(args),
        Command::Import(args) => cli::casefinding::import(args),
        Command::Worklist(args) => cli::casefinding::list(args),
        Command::Figures(args) => cli::casefinding::practice_figures(args),
        Command::Settings(args) => cli::record::settings(args),
        Command::Patient(args) => cli::record::patient(args),
        Command::Review(args) => cli::record::review(args),
        Command::FollowUp(args) => cli::followup::follow_up(args),
        Command::Outcomes(args) => cli::followup::outcomes(args),
        Command::Demo(args) => cli::store::demo(args),
        Command::StressWriter(args) => cli::store::stress_writer(args),
    }
}
