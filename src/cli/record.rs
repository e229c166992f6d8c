//! The clinical record from the command line, the same core calls the desktop
//! app makes: `stepdown settings show|set`, `stepdown patient add|list` and
//! `stepdown review save|show|history|leaflet|summary|reprint`.
//!
//! A review is saved from its inputs only (`ReviewInput`); the core computes
//! OME, flags and plan. Leaflets and summaries are rendered from a stored
//! version, never from an input file, and a print is recorded against exactly
//! that version with its hash, so `review reprint` can show it re-renders the
//! same.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde_json::json;
use stepdown::consult::{self, LeafletPrintRequest};
use stepdown::record::ReviewInput;
use stepdown::reference::reference;
use stepdown::store::{PatientInput, Store};

use super::leaflet::{date_arg, today, write_output};
use super::store::{api_error, ActorArg, DbArg};
use super::{print_json, read_input, CliError, CliResult};

/// `stepdown settings ...`
#[derive(Debug, clap::Args)]
pub struct SettingsArgs {
    #[command(subcommand)]
    command: SettingsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SettingsCommand {
    /// The store's settings as JSON; with --practice CODE on a team store, that practice's
    /// leaflet details.
    Show(SettingsShowArgs),
    /// Change the settings named; the others keep their values. Prints the new settings.
    /// With --practice CODE on a team store: that practice's leaflet details (admins only).
    Set(SettingsSetArgs),
}

#[derive(Debug, clap::Args)]
struct SettingsShowArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    practice: PracticeSettingsArg,
}

/// `--practice` of `settings show|set`.
#[derive(Debug, clap::Args)]
struct PracticeSettingsArg {
    /// On a team store: the practice (ODS code, e.g. B82002) whose leaflet details (name,
    /// phone, address) to show or set; each practice's leaflets print its own. Refused for
    /// a store on this computer (one practice: its details are the settings).
    #[arg(long, value_name = "CODE")]
    practice: Option<String>,
}

#[derive(Debug, clap::Args)]
struct SettingsSetArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    practice: PracticeSettingsArg,
    /// Conversion profile for reviews saved from now on: uk or cdc.
    #[arg(long)]
    profile: Option<stepdown::Profile>,
    /// High-dose threshold in mg OME a day replacing the profile's; `none` for the profile's.
    #[arg(long, value_name = "MG|none")]
    high_dose_threshold: Option<String>,
    /// Practice name (printed on leaflets and summaries).
    #[arg(long, value_name = "NAME")]
    practice_name: Option<String>,
    /// Practice phone number (printed on leaflets).
    #[arg(long, value_name = "PHONE")]
    practice_phone: Option<String>,
    /// Practice address on one line.
    #[arg(long, value_name = "ADDRESS")]
    practice_address: Option<String>,
    /// Default reviewer name (also the default actor in the audit log).
    #[arg(long, value_name = "NAME")]
    reviewer_name: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
}

/// Runs `stepdown settings`.
pub fn settings(args: SettingsArgs) -> CliResult {
    match args.command {
        SettingsCommand::Show(a) => {
            let store = open(&a.db)?;
            match &a.practice.practice {
                Some(code) => print_json(&store.practice_contact(code).map_err(practice_flag)?),
                None => print_json(&store.settings()?),
            }
        }
        SettingsCommand::Set(a) if a.practice.practice.is_some() => set_practice(a),
        SettingsCommand::Set(a) => created_undone_on_failure(&a.db.path()?, |store| {
            let mut new = store.settings()?;
            if let Some(p) = a.profile {
                new.profile = p;
            }
            if let Some(t) = a.high_dose_threshold {
                new.high_dose_threshold_mg_per_day = match t.trim() {
                    "none" | "" => None,
                    v => Some(v.parse::<f64>().map_err(|_| {
                        CliError::Input(format!(
                            "--high-dose-threshold: must be a number of mg OME a day or `none` (got '{}')",
                            stepdown::limits::sanitize(v)
                        ))
                    })?),
                };
            }
            let text = |new: &mut String, v: Option<String>| {
                if let Some(v) = v {
                    *new = v;
                }
            };
            text(&mut new.practice_name, a.practice_name);
            text(&mut new.practice_phone, a.practice_phone);
            text(&mut new.practice_address, a.practice_address);
            text(&mut new.reviewer_name, a.reviewer_name);
            let actor = a.actor.name(store)?;
            print_json(&store.update_settings(&new, &actor)?)
        }),
    }
}

/// `settings set --practice CODE`: one practice's leaflet details on a team
/// store; the details not named keep their values. The store-wide settings
/// cannot be changed in the same command (they are not the practice's).
fn set_practice(a: SettingsSetArgs) -> CliResult {
    let code = a.practice.practice.unwrap_or_default();
    for (given, flag) in [
        (a.profile.is_some(), "--profile"),
        (a.high_dose_threshold.is_some(), "--high-dose-threshold"),
        (a.reviewer_name.is_some(), "--reviewer-name"),
    ] {
        if given {
            return Err(CliError::Input(format!(
                "{flag}: is a store-wide setting, not a practice's: set it without --practice"
            )));
        }
    }
    // Never creates a store: a practice is only on a team store that exists.
    let mut store = open(&a.db)?;
    let current = store.practice_contact(&code).map_err(practice_flag)?;
    let input = stepdown::store::PracticeContactInput {
        practice_name: a.practice_name.unwrap_or(current.name),
        practice_phone: a.practice_phone.unwrap_or(current.phone),
        practice_address: a.practice_address.unwrap_or(current.address),
    };
    let actor = a.actor.name(&store)?;
    print_json(
        &store
            .set_practice_contact(&code, &input, &actor)
            .map_err(practice_flag)?,
    )
}

/// A field error of the core named as the option that gave it
/// (`practice_phone` is `--practice-phone`).
fn practice_flag(e: stepdown::store::StoreError) -> CliError {
    match e {
        stepdown::store::StoreError::Invalid { field, message } => {
            CliError::Input(format!("--{}: {message}", field.replace('_', "-")))
        }
        other => other.into(),
    }
}

/// Opens the store for a command that may create it (`settings set`,
/// `patient add`), runs `f`, and if `f` fails removes the store and folders
/// the command created (issue 20: a mistyped `--db` left an empty store
/// behind a refused command). A store that existed is never touched.
fn created_undone_on_failure(
    db: &std::path::Path,
    f: impl FnOnce(&mut Store) -> CliResult,
) -> CliResult {
    let guard = super::NewStoreGuard::before(db);
    // The store is closed when the closure returns, before any removal.
    let result = Store::open(db)
        .map_err(CliError::from)
        .and_then(|mut store| f(&mut store));
    if result.is_err() {
        guard.undo();
    }
    result
}

/// `stepdown patient ...`
#[derive(Debug, clap::Args)]
pub struct PatientArgs {
    #[command(subcommand)]
    command: PatientCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PatientCommand {
    /// Add a patient to the store; prints the stored patient (with its id) as JSON.
    Add(PatientAddArgs),
    /// Patients whose name contains every word of QUERY (all when it is empty), as JSON.
    List(PatientListArgs),
}

#[derive(Debug, clap::Args)]
struct PatientAddArgs {
    #[command(flatten)]
    db: DbArg,
    /// The patient's name.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// NHS number (checked with its modulus-11 check digit).
    #[arg(long, value_name = "NUMBER")]
    nhs_number: Option<String>,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date_of_birth: Option<String>,
    /// The practice's own identifier for the patient (unique in the practice).
    #[arg(long, value_name = "ID")]
    local_id: Option<String>,
    #[command(flatten)]
    practice: super::casefinding::PracticeArg,
    #[command(flatten)]
    actor: ActorArg,
}

#[derive(Debug, clap::Args)]
struct PatientListArgs {
    #[command(flatten)]
    db: DbArg,
    /// Words to look for in the name, or the start of the local identifier.
    #[arg(long, default_value = "")]
    query: String,
    /// At most N patients (1 to 1,000).
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: u32,
}

/// `stepdown review ...`
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ReviewCommand {
    /// Save a review from its inputs (patient_id, reviewer, patient context, items, taper,
    /// notes); the core computes OME, flags and plan. Prints the saved version.
    Save(ReviewSaveArgs),
    /// A stored version as JSON: the inputs and what the core computed from them.
    Show(ReviewShowArgs),
    /// The saved versions of a review, or every review of a patient, newest first.
    History(ReviewHistoryArgs),
    /// Print the patient leaflet of a stored version to a PDF and record the print
    /// (hash and render details) against exactly that version.
    Leaflet(ReviewLeafletArgs),
    /// The clinician summary of a stored version (text for the record, audited).
    Summary(ReviewSummaryArgs),
    /// Render a recorded leaflet print again from its stored version and compare hashes.
    Reprint(ReviewReprintArgs),
    /// Entries kept when a save was refused because the review had a newer version:
    /// list, reapply on the latest version, or discard.
    Drafts(super::drafts::DraftsArgs),
}

#[derive(Debug, clap::Args)]
struct ReviewSaveArgs {
    #[command(flatten)]
    db: DbArg,
    /// Review input JSON, or `-` for standard input.
    #[arg(value_name = "REVIEW_INPUT")]
    file: PathBuf,
}

/// Which stored version.
#[derive(Debug, clap::Args)]
struct VersionArg {
    /// The review id.
    #[arg(long, value_name = "ID")]
    review: i64,
    /// The version (default: the latest).
    #[arg(long, value_name = "N")]
    version: Option<i64>,
}

#[derive(Debug, clap::Args)]
struct ReviewShowArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    which: VersionArg,
}

#[derive(Debug, clap::Args)]
struct ReviewHistoryArgs {
    #[command(flatten)]
    db: DbArg,
    /// The versions of this review.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "patient",
        required_unless_present = "patient"
    )]
    review: Option<i64>,
    /// Every review of this patient.
    #[arg(long, value_name = "ID")]
    patient: Option<i64>,
}

#[derive(Debug, clap::Args)]
struct ReviewLeafletArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    which: VersionArg,
    /// Where to write the PDF.
    #[arg(long, value_name = "FILE.pdf")]
    out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    overwrite: bool,
    /// Large print (18 pt) instead of clear print (14 pt).
    #[arg(long)]
    large_print: bool,
    /// Add the dose calendar page: a row a day for four weeks with a box to tick at each dose (patches: a box on each day a new patch goes on; as-needed: a box per dose allowed).
    #[arg(long)]
    calendar: bool,
    /// The agreed next review date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    next_review: Option<String>,
    /// The day the leaflet is given (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    issue_date: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
}

#[derive(Debug, clap::Args)]
struct ReviewSummaryArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    which: VersionArg,
    #[command(flatten)]
    actor: ActorArg,
    /// `text` for the record (printed, the copy audited) or `pdf` (written to `--out`).
    #[arg(long, value_parser = ["text", "pdf"], default_value = "text")]
    format: String,
    /// With `--format pdf`: the file to write.
    #[arg(long, value_name = "FILE.pdf", required_if_eq("format", "pdf"))]
    out: Option<PathBuf>,
    /// With `--out`: replace an existing file.
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Text for the record with the SNOMED CT codes of the review, the
    /// reduction plan and the follow-ups first (text only).
    #[arg(long)]
    coded: bool,
}

#[derive(Debug, clap::Args)]
struct ReviewReprintArgs {
    #[command(flatten)]
    db: DbArg,
    /// The leaflet print's id (from `review leaflet` or `review history`).
    #[arg(long, value_name = "ID")]
    print_id: i64,
    /// Also write the re-rendered PDF here.
    #[arg(long, value_name = "FILE.pdf")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    overwrite: bool,
}

fn open(db: &DbArg) -> CliResult<Store> {
    super::followup::open_existing(db)
}

/// The version asked for, or the review's latest.
fn version_of(store: &Store, which: &VersionArg) -> CliResult<i64> {
    match which.version {
        Some(v) => Ok(v),
        None => Ok(store.review(which.review)?.version),
    }
}

fn refuse_existing(out: &std::path::Path, overwrite: bool) -> CliResult {
    if out.exists() && !overwrite {
        return Err(CliError::Input(format!(
            "--out: {} already exists; choose another name or add --overwrite",
            super::shown(out)
        )));
    }
    Ok(())
}

/// Runs `stepdown patient`.
pub fn patient(args: PatientArgs) -> CliResult {
    match args.command {
        PatientCommand::Add(a) => created_undone_on_failure(&a.db.path()?, |store| {
            let actor = a.actor.name(store)?;
            let patient = store.create_patient(
                &PatientInput {
                    name: a.name,
                    nhs_number: a.nhs_number,
                    date_of_birth: a.date_of_birth,
                    local_id: a.local_id,
                    practice: a.practice.practice,
                },
                &actor,
            )?;
            print_json(&patient)
        }),
        PatientCommand::List(a) => {
            let store = open(&a.db)?;
            print_json(&store.search_patients(&a.query, a.limit)?)
        }
    }
}

/// Runs `stepdown review`.
pub fn review(args: ReviewArgs) -> CliResult {
    match args.command {
        ReviewCommand::Save(a) => {
            let input = ReviewInput::from_json(&read_input(&a.file)?).map_err(api_error)?;
            let mut store = open(&a.db)?;
            let saved = consult::save_review(&mut store, &input, reference()).map_err(api_error)?;
            print_json(&saved)
        }
        ReviewCommand::Show(a) => {
            let store = open(&a.db)?;
            let version = version_of(&store, &a.which)?;
            print_json(&store.review_version(a.which.review, version)?)
        }
        ReviewCommand::History(a) => {
            let store = open(&a.db)?;
            match (a.review, a.patient) {
                (Some(review), _) => print_json(&json!({
                    "versions": store.review_versions(review)?,
                    "leaflet_prints": store.leaflet_prints(review)?,
                })),
                (None, Some(patient)) => print_json(&store.patient_history(patient)?),
                (None, None) => Err(CliError::Input(
                    "--review or --patient: one is needed".into(),
                )),
            }
        }
        ReviewCommand::Leaflet(a) => print_stored_leaflet(a),
        ReviewCommand::Summary(a) => {
            if a.coded && a.format != "text" {
                return Err(CliError::Input(
                    "--coded: the coded summary is text for the record; leave out --format pdf"
                        .into(),
                ));
            }
            let mut store = open(&a.db)?;
            let version = version_of(&store, &a.which)?;
            if let (Some(out), "pdf") = (&a.out, a.format.as_str()) {
                let pdf = consult::stored_summary_pdf(&store, a.which.review, version, reference())
                    .map_err(api_error)?;
                super::leaflet::write_output(out, &pdf.bytes, a.overwrite, &[])?;
                return print_json(&serde_json::json!({
                    "out": out.display().to_string(),
                    "pages": pdf.pages,
                    "bytes": pdf.bytes.len(),
                    "sha256": stepdown::store::sha256_hex(&pdf.bytes),
                }));
            }
            let actor = a.actor.name(&store)?;
            let for_record = if a.coded {
                consult::coded_summary_for_record
            } else {
                consult::summary_for_record
            };
            let text = for_record(&mut store, a.which.review, version, &actor, reference())
                .map_err(api_error)?;
            super::print_text(&text)
        }
        ReviewCommand::Drafts(a) => super::drafts::drafts(a),
        ReviewCommand::Reprint(a) => {
            if let Some(out) = &a.out {
                refuse_existing(out, a.overwrite)?;
            }
            let store = open(&a.db)?;
            let (check, pdf) =
                consult::reprint(&store, a.print_id, reference()).map_err(api_error)?;
            if let Some(out) = &a.out {
                write_output(out, &pdf.bytes, a.overwrite, &[])?;
            }
            print_json(&check)?;
            if !check.matches {
                // The report is the output; a mismatch is a finding, exit 1 like `check`.
                return Err(CliError::Internal(anyhow::anyhow!(
                    "leaflet print {} re-rendered to {} but {} was recorded",
                    a.print_id,
                    check.sha256,
                    check.print.pdf_sha256
                )));
            }
            Ok(())
        }
    }
}

/// `stepdown review leaflet`: renders the stored version's leaflet, writes
/// it, then records the print; nothing is recorded if writing fails.
fn print_stored_leaflet(a: ReviewLeafletArgs) -> CliResult {
    refuse_existing(&a.out, a.overwrite)?;
    let issue_date: NaiveDate =
        date_arg("--issue-date", a.issue_date.as_deref())?.unwrap_or_else(today);
    let mut store = open(&a.db)?;
    let version = version_of(&store, &a.which)?;
    let actor = a.actor.name(&store)?;
    let request = LeafletPrintRequest {
        review_id: a.which.review,
        version,
        large_print: a.large_print,
        next_review: a.next_review,
        calendar: a.calendar,
    };
    let out = a.out.clone();
    let mut write = |bytes: &[u8]| {
        write_output(&out, bytes, a.overwrite, &[]).map_err(|e| match e {
            CliError::Input(m) => stepdown::ApiError::new(stepdown::ErrorCode::InvalidInput, m),
            CliError::Environment(m) => stepdown::ApiError::new(stepdown::ErrorCode::Storage, m),
            CliError::Refused(e) => *e,
            CliError::Internal(e) => {
                stepdown::ApiError::new(stepdown::ErrorCode::Internal, format!("{e:#}"))
            }
        })
    };
    let (print, pdf) = consult::print_leaflet(
        &mut store,
        &request,
        issue_date,
        &actor,
        &mut write,
        reference(),
    )
    .map_err(api_error)?;
    print_json(&json!({
        "out": a.out.display().to_string(),
        "pages": pdf.pages,
        "bytes": pdf.bytes.len(),
        "sha256": print.pdf_sha256,
        "print": print,
    }))
}
