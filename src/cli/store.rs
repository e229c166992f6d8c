//! Store subcommands: `backup`, `restore`, `export`, `check`, `demo`, and the
//! hidden `__stress-writer` used by the reliability tests.
//!
//! Every command finds the store the same way: `--db`, else `$STEPDOWN_DB`,
//! else the app's data folder (the same file the desktop app uses).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use stepdown::private_file::{write_private, Replace};
use stepdown::store::{
    check_file, resolve_db_path, restore_file, OpenOptions, PatientInput, ReviewInput, Store,
    StoreError,
};
use stepdown::Profile;

use super::{print_json, CliError, CliResult};

impl From<StoreError> for CliError {
    /// A problem with what the user named (a value, a file, a path) exits 2;
    /// a failure of the machine (busy, disk full, SQLite) exits 1.
    fn from(e: StoreError) -> Self {
        if matches!(
            e,
            StoreError::Conflict(_)
                | StoreError::PermissionDenied(_)
                | StoreError::Duplicate { .. }
        ) {
            CliError::Refused(Box::new(e.into()))
        } else if e.is_user_error() {
            CliError::Input(e.to_string())
        } else if matches!(
            e,
            StoreError::Busy
                | StoreError::DiskFull
                | StoreError::DiskIo(_)
                | StoreError::MissingStructure(_)
        ) {
            CliError::Environment(e.to_string())
        } else {
            CliError::Internal(anyhow::Error::new(e))
        }
    }
}

/// Where the store is.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArg {
    /// The store's database file [default: $STEPDOWN_DB, else the app's data folder,
    /// e.g. ~/.local/share/uk.nhs.stepdown/stepdown.db on Linux].
    #[arg(long, value_name = "DB")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    pub(super) fn path(&self) -> CliResult<PathBuf> {
        Ok(resolve_db_path(self.db.as_deref())?)
    }
}

/// Who is doing this, for the audit log.
#[derive(Debug, Clone, clap::Args)]
pub struct ActorArg {
    /// Name recorded in the audit log [default: the reviewer name in settings, else the
    /// login name; on a team store the role that signed in, and only that role is accepted].
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
}

impl ActorArg {
    /// The name to record: on a team store the signed-in role (a different
    /// `--actor` is refused naming both), else `--actor` or the default.
    pub(super) fn name(&self, store: &Store) -> CliResult<String> {
        Ok(store.seat_name(self.actor.as_deref(), "--actor")?)
    }
}

/// Arguments of `stepdown backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    db: DbArg,
    /// The backup file to write (a single SQLite file).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    actor: ActorArg,
}

/// Arguments of `stepdown restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    db: DbArg,
    /// The backup file to restore from (made by `stepdown backup`); it is not changed.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    #[command(flatten)]
    actor: ActorArg,
}

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON document with every record.
    Json,
}

/// Arguments of `stepdown export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: DbArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: ExportFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    actor: ActorArg,
}

/// Report formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    /// JSON.
    Json,
    /// Plain text for a terminal.
    Text,
}

/// Arguments of `stepdown check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    db: DbArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: ReportFormat,
}

/// Arguments of `stepdown demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    actor: ActorArg,
}

/// Arguments of the hidden `stepdown __stress-writer`.
#[derive(Debug, clap::Args)]
pub struct StressWriterArgs {
    #[command(flatten)]
    db: DbArg,
    /// Distinguishes this writer's records from others'.
    #[arg(long)]
    tag: String,
    /// How many saves to attempt (default: until killed).
    #[arg(long, default_value_t = u64::MAX)]
    count: u64,
    /// Size of the padding string in each regimen document.
    #[arg(long, default_value_t = 512)]
    payload_bytes: usize,
    /// Busy timeout in milliseconds.
    #[arg(long, default_value_t = 5000)]
    busy_timeout_ms: u64,
}

fn open_existing(db: &DbArg) -> CliResult<Store> {
    Ok(Store::open_existing(db.path()?)?)
}

/// `stepdown backup --db DB --out FILE`
pub fn backup(args: BackupArgs) -> CliResult {
    let mut store = open_existing(&args.db)?;
    let actor = args.actor.name(&store)?;
    let report = store.backup_to(&args.out, &actor, args.overwrite)?;
    print_json(&report)
}

/// `stepdown migrate-store --from FILE.db --to postgres://… --practice ODS`
#[derive(Debug, clap::Args)]
pub struct MigrateStoreArgs {
    /// The practice's SQLite store to copy (checked first; it is not changed).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The team store's address (postgres://…), signed in as its owner or an admin.
    #[arg(long, value_name = "URL")]
    to: String,
    /// The practice's ODS code: every record copied belongs to it.
    #[arg(long, value_name = "ODS")]
    practice: String,
}

/// `stepdown migrate-store`: the core copies and verifies; this prints its report.
pub fn migrate_store(args: MigrateStoreArgs) -> CliResult {
    let report = stepdown::store::migrate_store(&args.from, &args.to, &args.practice)?;
    print_json(&report)
}

/// `stepdown restore --db DB --from FILE`
pub fn restore(args: RestoreArgs) -> CliResult {
    let db = args.db.path()?;
    let actor = args
        .actor
        .actor
        .clone()
        .unwrap_or_else(stepdown::store::local_user_name);
    let report = restore_file(&db, &args.from, OpenOptions::default(), &actor)?;
    print_json(&report)
}

/// `stepdown export --db DB --format json [--out FILE]`
pub fn export(args: ExportArgs) -> CliResult {
    let ExportFormat::Json = args.format;
    if let Some(out) = &args.out {
        if out.exists() && !args.overwrite {
            return Err(StoreError::AlreadyExists { path: out.clone() }.into());
        }
    }
    let mut store = open_existing(&args.db)?;
    let actor = args.actor.name(&store)?;
    let placed = std::cell::Cell::new(false);
    // The file is written inside the transaction that records the export:
    // a failed write rolls the entry back.
    let result = store.export_with(&actor, |export| {
        let text = serde_json::to_string_pretty(&export).map_err(|e| StoreError::Io {
            context: "export".into(),
            source: std::io::Error::other(e),
        })?;
        match &args.out {
            None => {
                let mut stdout = std::io::stdout().lock();
                match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
                    // A reader that stopped early (`| head`) still received
                    // part of the records, so the export stays in the log.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    other => other.map_err(|e| StoreError::Io {
                        context: "standard output".into(),
                        source: e,
                    }),
                }
            }
            Some(out) => {
                write_export(out, text.as_bytes(), args.overwrite)?;
                placed.set(true);
                Ok(())
            }
        }
    });
    if result.is_err() && placed.get() {
        if let Some(out) = &args.out {
            // The entry did not commit, so neither may the file.
            let _ = std::fs::remove_file(out);
        }
    }
    Ok(result?)
}

/// Writes the export owner-only and whole (see `stepdown::private_file`); an
/// existing file is replaced only with `overwrite`.
fn write_export(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), StoreError> {
    let replace = if overwrite {
        Replace::Allowed
    } else {
        Replace::Refused
    };
    write_private(path, bytes, replace).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => StoreError::AlreadyExists {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::StorageFull => StoreError::DiskFull,
        _ => StoreError::Io {
            context: format!("{}: cannot write the export", super::shown(path)),
            source: e,
        },
    })
}

/// `stepdown check --db DB`: prints the report; exits 1 if it found problems.
pub fn check(args: CheckArgs) -> CliResult {
    let db = args.db.path()?;
    let report = check_file(&db)?;
    match args.format {
        ReportFormat::Json => print_json(&report)?,
        ReportFormat::Text => super::print_text(&report.to_text())?,
    }
    if !report.ok {
        eprintln!(
            "stepdown check: {} problem(s) found in {}: {}",
            report.problems.len(),
            super::shown(&db),
            report.problems.join("; ")
        );
        // The report is the output, so this is not "bad input" (exit 2, nothing
        // on stdout); a failed check exits 1 like fsck, after printing it.
        std::process::exit(1);
    }
    Ok(())
}

/// `stepdown demo --db DB`: synthetic patients for an empty store.
pub fn demo(args: DemoArgs) -> CliResult {
    let db = args.db.path()?;
    let guard = super::NewStoreGuard::before(&db);
    let report = Store::open(&db)
        .map_err(CliError::from)
        .and_then(|mut store| {
            let actor = args.actor.name(&store)?;
            stepdown::consult::load_demo_patients(
                &mut store,
                &actor,
                stepdown::reference::reference(),
            )
            .map_err(api_error)
        })
        .inspect_err(|_| guard.undo())?;
    print_json(&json!({"path": db.display().to_string(), "loaded": report}))
}

/// A refusal from the core as the CLI reports it: bad input exits 2, a conflict,
/// permission refusal or duplicate its own status (3, 4, 5), the rest 1.
pub fn api_error(e: stepdown::ApiError) -> CliError {
    match e.code {
        stepdown::ErrorCode::InvalidInput | stepdown::ErrorCode::NotFound => {
            CliError::Input(e.message)
        }
        stepdown::ErrorCode::Conflict
        | stepdown::ErrorCode::PermissionDenied
        | stepdown::ErrorCode::Duplicate => CliError::Refused(Box::new(e)),
        _ => CliError::Internal(anyhow::anyhow!(e.message)),
    }
}

/// `stepdown __stress-writer --db DB --tag T`: saves reviews in a loop and
/// prints `review_id version i` after each save has returned (flushed), so a
/// test that kills it knows exactly which saves were acknowledged.
pub fn stress_writer(args: StressWriterArgs) -> CliResult {
    let db = args.db.path()?;
    let mut store = Store::open_with(
        &db,
        OpenOptions {
            busy_timeout: Duration::from_millis(args.busy_timeout_ms),
            ..OpenOptions::default()
        },
    )?;
    let local_id = format!("stress-{}", args.tag);
    let patient = match store.patient_by_local_id(&local_id, None)? {
        Some(p) => p,
        None => store.create_patient(
            &PatientInput {
                name: format!("Stress Test {}", args.tag),
                local_id: Some(local_id),
                ..PatientInput::default()
            },
            "stress-writer",
        )?,
    };
    let stdout = std::io::stdout();
    let mut last_review = None;
    for i in 0..args.count {
        // Every third save is a new version of the previous review.
        let target = if i % 3 == 2 { last_review } else { None };
        let input = stress_review(patient.id, target, &args.tag, i, args.payload_bytes);
        let computed = stepdown::consult::compute_review(
            &input,
            Profile::Uk,
            None,
            stepdown::reference::reference(),
        )
        .map_err(api_error)?;
        match store.save_review(&computed) {
            Ok(saved) => {
                let mut out = stdout.lock();
                writeln!(out, "{} {} {}", saved.review_id, saved.version, i)?;
                out.flush()?;
                last_review = Some((saved.review_id, saved.version));
            }
            Err(StoreError::Busy) => eprintln!("{}", StoreError::Busy),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The review a stress writer saves as its `i`th; the reliability tests
/// rebuild the same content to check what was stored: morphine 10 mg
/// modified-release, 1 to 3 tablets 1 to 4 times a day (10 to 120 mg OME),
/// the padding in the notes.
fn stress_review(
    patient_id: i64,
    target: Option<(i64, i64)>,
    tag: &str,
    i: u64,
    payload_bytes: usize,
) -> ReviewInput {
    let padding: String = (0..payload_bytes as u64)
        .map(|k| char::from(b'a' + ((i + k) % 26) as u8))
        .collect();
    ReviewInput {
        patient_id,
        // A new version of the last review, started from its latest version.
        review_id: target.map(|(r, _)| r),
        base_version: target.map(|(_, v)| v),
        reviewer: "stress-writer".into(),
        // No trailing space when there is no padding: the store trims free text.
        notes: format!("stress {tag} {i} {padding}").trim_end().to_owned(),
        patient: stepdown::patient::RawPatient {
            age: Some(40.0 + (i % 50) as f64),
            ..Default::default()
        },
        items: vec![stepdown::regimen::RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            release: Some("modified".into()),
            strength_mg: Some(10.0),
            units_per_dose: Some((1 + i % 3) as f64),
            doses_per_day: Some((1 + (i / 3) % 4) as f64),
            ..Default::default()
        }],
        taper: None,
        shared_decision: None,
    }
}
