//! Case-finding commands: `import` (a practice prescribing extract),
//! `worklist` (patients ranked by risk) and `figures` (the practice's monthly
//! figures). The work is done by `stepdown::casefinding`, the same functions
//! the desktop app calls.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use chrono::NaiveDate;
use stepdown::casefinding::{
    figures, figures_csv, import_from, worklist, CaseFindingError, Exclusion, ImportOptions,
    ImportPhase, ImportProgress, Marker, WorklistFilters,
};
use stepdown::import::csv::ColumnMap;
use stepdown::store::{resolve_db_path, Store};

use super::{print_json, CliError, CliResult, NewStoreGuard};

/// Where the store is (as for every store command).
#[derive(Debug, Clone, clap::Args)]
pub struct DbArg {
    /// The store's database file [default: $STEPDOWN_DB, else the app's data folder,
    /// e.g. ~/.local/share/uk.nhs.stepdown/stepdown.db on Linux].
    #[arg(long, value_name = "DB")]
    db: Option<PathBuf>,
}

impl DbArg {
    fn path(&self) -> CliResult<PathBuf> {
        Ok(resolve_db_path(self.db.as_deref())?)
    }
}

impl From<CaseFindingError> for CliError {
    /// A problem with the file or an option exits 2; a failure of the machine exits 1.
    fn from(e: CaseFindingError) -> Self {
        match e {
            CaseFindingError::Store(s) => s.into(),
            other if other.is_user_error() => CliError::Input(other.to_string()),
            // Another import under way, or no room for temporary files: the
            // machine, not a bug ("internal error" before; exit 1 as before).
            CaseFindingError::Busy(m) | CaseFindingError::TemporaryFile(m) => {
                CliError::Environment(m)
            }
            other => CliError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// `--practice`, for the commands that make or show one practice's records.
#[derive(Debug, Clone, clap::Args)]
pub struct PracticeArg {
    /// On a team store: the practice (ODS code, e.g. A81001) this is for; needed when your
    /// seat works for several practices. Refused for a store on this computer (one practice).
    #[arg(long, value_name = "CODE")]
    pub practice: Option<String>,
}

/// Today's date for commands that take `--today` (the clock, only when not given).
fn today_or_clock(today: Option<NaiveDate>) -> CliResult<NaiveDate> {
    match today {
        Some(d) => super::leaflet::year_in_range("--today", d),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

/// Arguments of `stepdown import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The extract: CSV with patient_id, issue_date, drug, dose, quantity (and optionally age, sex, nhs_number).
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    practice: PracticeArg,
    /// Registered patients at the practice, for figures per 1,000.
    #[arg(long, value_name = "N")]
    list_size: Option<u32>,
    /// Header names for columns named differently, e.g. 'patient_id=Patient ID,issue_date=Date'
    /// (with --preset: replaces or adds to the preset's columns).
    #[arg(long, value_name = "COLUMN=HEADER,...")]
    map: Option<String>,
    /// The column map of a clinical-system export: systmone-sr (SystmOne Strategic Reporting,
    /// SRPrimaryCareMedication file) or emis-web (the CSV of Stepdown's EMIS Web list
    /// report, assets/emis/). See docs/casefinding.md.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Also write the import report (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Patients to leave off the worklist (palliative-care register, treatment for opioid
    /// dependence): one a line, `patient_id[,reason]`; they are counted apart.
    #[arg(long, value_name = "FILE")]
    exclusions: Option<PathBuf>,
    /// Today's date (YYYY-MM-DD) [default: the computer's date]; rows after it are refused.
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<NaiveDate>,
    /// Days of issues that make a patient's current regimen [default: 90, from the reference table].
    #[arg(long, value_name = "DAYS")]
    window_days: Option<u32>,
    /// Name recorded in the audit log [default: the reviewer name in settings, else the login name].
    #[arg(long, value_name = "NAME")]
    actor: Option<String>,
}

/// A progress bar on standard error, drawn only when it is a terminal.
struct ProgressBar {
    on: bool,
    last: Option<(ImportPhase, u64)>,
}

impl ProgressBar {
    fn new() -> ProgressBar {
        ProgressBar {
            on: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, p: ImportProgress) {
        if !self.on {
            return;
        }
        let percent = (p.done.min(p.total) * 100)
            .checked_div(p.total)
            .unwrap_or(100)
            .min(100);
        if self.last == Some((p.phase, percent)) {
            return;
        }
        self.last = Some((p.phase, percent));
        let label = match p.phase {
            ImportPhase::Reading => "reading rows",
            ImportPhase::Saving => "saving rows",
            ImportPhase::Computing => "computing patients",
            ImportPhase::Done => "done",
        };
        let filled = (percent / 5) as usize;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {percent:>3}% {label:<20}",
            "#".repeat(filled),
            ".".repeat(20 - filled)
        );
        if p.phase == ImportPhase::Done {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.on && self.last.is_some_and(|(p, _)| p != ImportPhase::Done) {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `stepdown import FILE.csv --db DB [...]`: prints the import report.
pub fn import(args: ImportArgs) -> CliResult {
    let column_map = match &args.map {
        Some(spec) => ColumnMap::parse(spec).map_err(|e| CliError::Input(e.to_string()))?,
        None => ColumnMap::default(),
    };
    let column_map = match &args.preset {
        Some(name) => stepdown::import::presets::preset_map(name, &column_map)
            .map_err(|e| CliError::Input(e.to_string()))?,
        None => column_map,
    };
    let cap = stepdown::limits::limits().max_extract_bytes;
    // Read from the file as the import goes (never held whole: issue 16).
    let could_not = |e: std::io::Error| {
        CliError::Input(format!(
            "{}: could not read the file ({e})",
            super::shown(&args.file)
        ))
    };
    let file = std::fs::File::open(&args.file).map_err(could_not)?;
    let size = file.metadata().map_err(could_not)?.len();
    if size > cap {
        return Err(CliError::Input(format!(
            "{}: larger than {cap} bytes (the cap in limits.json); export a shorter period",
            super::shown(&args.file)
        )));
    }
    // Check the report file can be written before changing anything.
    if let Some(path) = &args.report {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                CliError::Input(format!(
                    "--report {}: cannot write the file ({e})",
                    super::shown(path)
                ))
            })?;
    }
    let exclusions = match &args.exclusions {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Input(format!(
                    "--exclusions {}: could not read the file ({e})",
                    super::shown(path)
                ))
            })?;
            Exclusion::parse_list(&text)
                .map_err(|e| CliError::Input(format!("--exclusions {}: {e}", super::shown(path))))?
        }
        None => Vec::new(),
    };
    let db = args.db.path()?;
    let guard = NewStoreGuard::before(&db);
    let options = ImportOptions {
        file_name: args.file.file_name().map_or_else(
            || args.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        today: today_or_clock(args.today)?,
        list_size: args.list_size,
        column_map,
        window_days: args.window_days,
        actor: None,
        exclusions,
        practice: args.practice.practice.clone(),
    };
    let mut bar = ProgressBar::new();
    let result = Store::open(&db)
        .map_err(CliError::from)
        .and_then(|mut store| {
            // On a team store the import is recorded under the signed-in role.
            let options = ImportOptions {
                actor: Some(store.seat_name(args.actor.as_deref(), "--actor")?),
                ..options
            };
            import_from(&mut store, file, &options, &mut |p| bar.show(p)).map_err(|e| match e {
                CaseFindingError::BadFile(bad) => {
                    CliError::Input(format!("{}: {bad}", super::shown(&args.file)))
                }
                other => other.into(),
            })
        });
    bar.clear();
    let report = result.inspect_err(|_| guard.undo())?;
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.report {
        // Owner-only and whole, like every file Stepdown writes (the report
        // names the extract's patients' problems by line); the user named
        // the file, and it was checked writable above, so it is replaced.
        stepdown::private_file::write_private(
            path,
            format!("{json}\n").as_bytes(),
            stepdown::private_file::Replace::Allowed,
        )
        .map_err(|e| {
            CliError::Internal(anyhow::anyhow!(
                "the import was saved, but the report could not be written to {}: {e}",
                super::shown(path)
            ))
        })?;
    }
    super::print_text(&format!("{json}\n"))
}

/// Arguments of `stepdown worklist`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WorklistArgs {
    /// Claims: `claim`, `release`, `status` (without one: list the worklist).
    #[command(subcommand)]
    command: Option<super::claims::WorklistCommand>,
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    practice: PracticeArg,
    /// Only patients you hold (by the name from --actor).
    #[arg(long)]
    mine: bool,
    /// Only patients nobody holds.
    #[arg(long, conflicts_with = "mine")]
    unclaimed: bool,
    #[command(flatten)]
    actor: super::store::ActorArg,
    /// Only patients at or above this many mg OME a day (e.g. 90 or 120).
    #[arg(long, value_name = "MG", allow_negative_numbers = true)]
    min_ome: Option<f64>,
    /// Only patients with a benzodiazepine or Z-drug co-prescribed.
    #[arg(long)]
    benzodiazepine: bool,
    /// Only patients with a gabapentinoid co-prescribed.
    #[arg(long)]
    gabapentinoid: bool,
    /// Only patients whose total includes an estimated dose.
    #[arg(long)]
    estimates_only: bool,
    /// Only patients with this audit marker (repeat for several; all must be present):
    /// unclear-directions, immediate-release-only, combination, large-liquid-issue,
    /// dependence-forming.
    #[arg(long = "marker", value_name = "MARKER")]
    markers: Vec<String>,
    /// At most N patients [default: all].
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Skip the first N (for paging).
    #[arg(long, value_name = "N")]
    offset: Option<u32>,
    /// Today's date (YYYY-MM-DD) [default: the computer's date].
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<NaiveDate>,
    /// Days of issues that make a patient's current regimen [default: as last used, else 90].
    #[arg(long, value_name = "DAYS")]
    window_days: Option<u32>,
}

/// A marker by its kebab-case name, or a usage error listing them.
fn parse_marker(name: &str) -> CliResult<Marker> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_string())).map_err(|_| {
        let names: Vec<String> = Marker::ALL
            .iter()
            .filter_map(|m| serde_json::to_value(m).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        CliError::Input(format!(
            "--marker: unknown marker '{}' (one of: {})",
            stepdown::limits::sanitize(name),
            names.join(", ")
        ))
    })
}

/// `stepdown worklist --db DB [filters]`: prints `{"patients": [...], "metrics": {...}}`.
pub fn list(args: WorklistArgs) -> CliResult {
    if let Some(command) = args.command {
        return super::claims::run(command);
    }
    let mut store = Store::open_existing(args.db.path()?)?;
    let filters = WorklistFilters {
        held_by: args.mine.then(|| args.actor.name(&store)).transpose()?,
        unclaimed: args.unclaimed,
        min_ome: args.min_ome,
        benzodiazepine: args.benzodiazepine,
        gabapentinoid: args.gabapentinoid,
        estimates_only: args.estimates_only,
        markers: args
            .markers
            .iter()
            .map(|m| parse_marker(m))
            .collect::<CliResult<Vec<_>>>()?,
        limit: args.limit,
        offset: args.offset,
        window_days: args.window_days,
        practice: args.practice.practice,
    };
    let list = worklist(&mut store, &filters, today_or_clock(args.today)?)?;
    print_json(&list)
}

/// Output formats of `stepdown figures`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FiguresFormat {
    /// JSON.
    Json,
    /// CSV, one row per month.
    Csv,
}

/// Arguments of `stepdown figures`.
#[derive(Debug, clap::Args)]
pub struct FiguresArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    practice: PracticeArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: FiguresFormat,
    /// Today's date (YYYY-MM-DD) [default: the computer's date].
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<NaiveDate>,
}

/// `stepdown figures --db DB [--format json|csv]`: the practice's monthly figures.
pub fn practice_figures(args: FiguresArgs) -> CliResult {
    let mut store = Store::open_existing(args.db.path()?)?;
    let f = figures(
        &mut store,
        today_or_clock(args.today)?,
        args.practice.practice.as_deref(),
    )?;
    match args.format {
        FiguresFormat::Json => print_json(&f),
        FiguresFormat::Csv => super::print_text(&figures_csv(&f)),
    }
}
