//! `stepdown leaflet PLAN_INPUT.json --out FILE.pdf [...]`: the patient leaflet, and
//! `stepdown summary PLAN_INPUT.json [--format text|pdf --out FILE] [...]`: the
//! clinician summary for the record.
//!
//! Both build the plan exactly as `stepdown plan` does (same input, same
//! `--profile` and `--edits`). The input may also carry a `"patient"` object, as
//! `stepdown assess` takes it: the summary's risk flags use it (without it, only
//! the regimen's own flags fire), and the leaflet checks it so one file serves
//! both commands. Dates not given default to today's date on this computer's
//! clock (the library never reads the clock).
//!
//! A PDF is written to a temporary file next to `--out` and moved into place,
//! so a failure never leaves a partial PDF. `--out` must be a new file unless
//! `--overwrite` is given, is never the input, and is created owner-only
//! (0600). On success a short JSON report `{"out", "pages", "bytes",
//! "sha256"}` is printed.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use stepdown::assess::AssessReport;
use stepdown::input::parse_json;
use stepdown::leaflet::{from_plan, render_leaflet, LeafletDetails, LeafletError, PracticeDetails};
use stepdown::ome::OmeOptions;
use stepdown::pdf::Rendered;
use stepdown::private_file::{write_private, Replace};
use stepdown::reference::Reference;
use stepdown::store::sha256_hex;
use stepdown::summary::{compose, review_from_value, SummaryDetails, SummaryError};
use stepdown::taper::{apply_edits, edits_from_json, plan, Plan, PlanError};
use stepdown::Profile;

use super::ome::parse_threshold;
use super::{print_json, read_input, CliError, CliResult};

/// Arguments shared by `leaflet` and `summary`: the plan input and how to plan.
#[derive(Debug, clap::Args)]
pub struct PlanSource {
    /// Conversion factors to use: uk (BNF / Opioids Aware) or cdc (US CDC 2022).
    #[arg(long, default_value = "uk")]
    pub profile: Profile,
    /// Clinician edits to apply, `{"edits": [...]}`, as for `stepdown plan`.
    #[arg(long, value_name = "FILE")]
    pub edits: Option<PathBuf>,
    /// Plan input as for `stepdown plan`, optionally with a "patient" object as for
    /// `stepdown assess`; `-` for standard input.
    #[arg(value_name = "PLAN_INPUT")]
    pub file: PathBuf,
}

impl PlanSource {
    /// The files this command reads, which its output may never replace.
    fn inputs(&self) -> Vec<&Path> {
        std::iter::once(self.file.as_path())
            .chain(self.edits.as_deref())
            .collect()
    }
}

/// Arguments of `stepdown leaflet`.
#[derive(Debug, clap::Args)]
pub struct LeafletArgs {
    /// Where to write the PDF (a new file, unless --overwrite).
    #[arg(long, value_name = "FILE.pdf")]
    pub out: PathBuf,
    /// Replace --out if it exists (never the plan input or edits file).
    #[arg(long)]
    pub overwrite: bool,
    /// Large print (18 pt) instead of clear print (14 pt).
    #[arg(long)]
    pub large_print: bool,
    /// Add the dose calendar page: a row a day for four weeks with a box to tick at each dose (patches: a box on each day a new patch goes on; as-needed: a box per dose allowed).
    #[arg(long)]
    pub calendar: bool,
    /// The patient's name as they like it written (left off if not given).
    #[arg(long, value_name = "NAME")]
    pub patient_name: Option<String>,
    /// Practice name (blank lines to fill in by hand if not given).
    #[arg(long, value_name = "NAME")]
    pub practice_name: Option<String>,
    /// Practice phone number (a blank line to fill in by hand if not given).
    #[arg(long, value_name = "PHONE")]
    pub practice_phone: Option<String>,
    /// Practice address on one line.
    #[arg(long, value_name = "ADDRESS")]
    pub practice_address: Option<String>,
    /// The agreed next review date (without it the leaflet says a date will be agreed).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub next_review: Option<String>,
    /// The day the leaflet is given (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub issue_date: Option<String>,
    /// The plan input and how to plan.
    #[command(flatten)]
    pub source: PlanSource,
}

/// Output format of `stepdown summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    /// Plain text to paste into the record.
    Text,
    /// A PDF page for the notes (needs --out).
    Pdf,
}

/// Arguments of `stepdown summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: SummaryFormat,
    /// Where to write the summary (needed for pdf; text goes to standard output
    /// without it). A new file, unless --overwrite.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists (never the plan input or edits file).
    #[arg(long)]
    pub overwrite: bool,
    /// High-dose threshold in mg OME a day, replacing the profile's.
    #[arg(long, value_name = "MG", allow_negative_numbers = true)]
    pub high_dose_threshold: Option<f64>,
    /// The patient's name.
    #[arg(long, value_name = "NAME")]
    pub patient_name: Option<String>,
    /// The patient's NHS number (checked).
    #[arg(long, value_name = "NUMBER")]
    pub nhs_number: Option<String>,
    /// The reviewing clinician.
    #[arg(long, value_name = "NAME")]
    pub reviewer: Option<String>,
    /// Practice name.
    #[arg(long, value_name = "NAME")]
    pub practice_name: Option<String>,
    /// Date of this review (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub review_date: Option<String>,
    /// The booked next review (without it a date is suggested).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub next_review: Option<String>,
    /// The plan input and how to plan.
    #[command(flatten)]
    pub source: PlanSource,
}

/// What is printed after a PDF is written.
#[derive(Debug, Serialize)]
struct WrittenPdf {
    out: String,
    pages: usize,
    bytes: usize,
    sha256: String,
}

pub(super) fn date_arg(option: &str, value: Option<&str>) -> CliResult<Option<NaiveDate>> {
    value
        .map(|v| {
            let d = NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
                CliError::Input(format!(
                    "{option}: must be a date YYYY-MM-DD (got '{}')",
                    stepdown::limits::sanitize(v)
                ))
            })?;
            year_in_range(option, d)
        })
        .transpose()
}

/// A date option's year within the caps (issue 20: years 0000 and 9999 passed).
pub(super) fn year_in_range(option: &str, d: NaiveDate) -> CliResult<NaiveDate> {
    stepdown::limits::check_year(d).map_err(|m| CliError::Input(format!("{option}: {m}")))?;
    Ok(d)
}

pub(super) fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

fn plan_error(e: PlanError) -> CliError {
    match e {
        PlanError::Input(e) => CliError::Input(e.to_string()),
        PlanError::Internal(m) => CliError::Internal(anyhow::anyhow!(m)),
    }
}

/// The plan (with edits) and the assessment of the same input.
fn build(
    source: &PlanSource,
    reference: &Reference,
    options: &OmeOptions,
) -> CliResult<(Plan, AssessReport)> {
    let text = read_input(&source.file)?;
    // Read the edits first, so a broken edits file is reported even if the
    // plan input is also wrong (as `stepdown plan` does).
    let edits = match &source.edits {
        None => None,
        Some(path) => {
            let t = read_input(path)?;
            Some(edits_from_json(&t).map_err(|e| CliError::Input(e.to_string()))?)
        }
    };
    let value = parse_json(&text).map_err(|e| CliError::Input(e.to_string()))?;
    let (request, report) = review_from_value(&value, source.profile, reference, options)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let mut p = plan(&request, reference).map_err(plan_error)?;
    if let Some(edits) = edits {
        p = apply_edits(&p, &edits, reference).map_err(plan_error)?;
    }
    Ok((p, report))
}

/// The command-line option a detail came from, for messages.
fn option_for(field: &str) -> String {
    match field {
        "patient_name" => "--patient-name".into(),
        "practice.name" | "practice" => "--practice-name".into(),
        "practice.phone" => "--practice-phone".into(),
        "practice.address" => "--practice-address".into(),
        "nhs_number" => "--nhs-number".into(),
        "reviewer" => "--reviewer".into(),
        other => other.into(),
    }
}

fn leaflet_error(e: LeafletError) -> CliError {
    match e {
        LeafletError::Input { field, message } => {
            CliError::Input(format!("{}: {message}", option_for(&field)))
        }
        other => CliError::Internal(other.into()),
    }
}

fn summary_error(e: SummaryError) -> CliError {
    match e {
        SummaryError::Input { field, message } => {
            CliError::Input(format!("{}: {message}", option_for(&field)))
        }
        other => CliError::Internal(other.into()),
    }
}

/// Writes `bytes` to `out` through a temporary file in the same folder, so
/// `out` is either the whole new file or untouched. The file is created
/// owner-only (0600: it holds a name and medicines, like the store). An
/// existing file is replaced only with `overwrite`, and never when it is one
/// of the command's own `inputs` (`--out plan.json` once replaced the plan).
pub(super) fn write_output(
    out: &Path,
    bytes: &[u8],
    overwrite: bool,
    inputs: &[&Path],
) -> CliResult {
    if out.file_name().is_none() {
        return Err(CliError::Input(format!(
            "--out: {} is not a file name",
            super::shown(out)
        )));
    }
    for input in inputs {
        if same_file(out, input) {
            return Err(CliError::Input(format!(
                "--out: {} is the input file; choose another name (the input is never written over)",
                super::shown(out)
            )));
        }
    }
    if !overwrite && std::fs::symlink_metadata(out).is_ok() {
        return Err(CliError::Input(format!(
            "--out: {} already exists; choose another name or add --overwrite",
            super::shown(out)
        )));
    }
    let replace = if overwrite {
        Replace::Allowed
    } else {
        // Refused also covers a file that appears while this one is written.
        Replace::Refused
    };
    write_private(out, bytes, replace).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Input(format!(
                "--out: {} already exists; choose another name or add --overwrite",
                super::shown(out)
            ))
        } else if e.kind() == std::io::ErrorKind::StorageFull {
            CliError::Input(format!(
                "--out: the disk is full; nothing was written to {}",
                super::shown(out)
            ))
        } else {
            CliError::Input(format!(
                "--out: could not write {} ({e})",
                super::shown(out)
            ))
        }
    })
}

/// Whether `a` and `b` name the same existing file (through links or `..` too).
fn same_file(a: &Path, b: &Path) -> bool {
    if b.as_os_str() == "-" {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn report(out: &Path, r: &Rendered) -> CliResult {
    print_json(&WrittenPdf {
        out: out.display().to_string(),
        pages: r.pages,
        bytes: r.bytes.len(),
        sha256: sha256_hex(&r.bytes),
    })
}

/// Runs `stepdown leaflet`. Nothing is written unless the plan, every edit and
/// the leaflet succeeded.
pub fn leaflet(args: LeafletArgs) -> CliResult {
    let next_review = date_arg("--next-review", args.next_review.as_deref())?;
    let issue_date = date_arg("--issue-date", args.issue_date.as_deref())?.unwrap_or_else(today);
    let reference = Reference::load().map_err(anyhow::Error::from)?;
    let (plan, _) = build(&args.source, &reference, &OmeOptions::default())?;
    let blank = PracticeDetails::write_in();
    let details = LeafletDetails {
        patient_name: args.patient_name,
        practice: PracticeDetails {
            name: args.practice_name.unwrap_or(blank.name),
            phone: args.practice_phone.unwrap_or(blank.phone),
            address: args.practice_address,
        },
        next_review,
        large_print: args.large_print,
        issue_date,
        calendar: args.calendar,
    };
    let input = from_plan(&plan, &details, &reference).map_err(leaflet_error)?;
    let rendered = render_leaflet(&input).map_err(leaflet_error)?;
    write_output(
        &args.out,
        &rendered.bytes,
        args.overwrite,
        &args.source.inputs(),
    )?;
    report(&args.out, &rendered)
}

/// Runs `stepdown summary`.
pub fn summary(args: SummaryArgs) -> CliResult {
    let high_dose_threshold = parse_threshold(args.high_dose_threshold)?;
    let review_date = date_arg("--review-date", args.review_date.as_deref())?.unwrap_or_else(today);
    let next_review = date_arg("--next-review", args.next_review.as_deref())?;
    if args.format == SummaryFormat::Pdf && args.out.is_none() {
        return Err(CliError::Input(
            "--out: needed with --format pdf (a PDF is not printed to the terminal)".into(),
        ));
    }
    let reference = Reference::load().map_err(anyhow::Error::from)?;
    let options = OmeOptions {
        high_dose_threshold,
    };
    let (plan, assessment) = build(&args.source, &reference, &options)?;
    let details = SummaryDetails {
        patient_name: args.patient_name,
        nhs_number: args.nhs_number,
        reviewer: args.reviewer,
        practice: args.practice_name,
        review_date,
        next_review,
    };
    let summary = compose(&assessment, &plan, &details, &reference).map_err(summary_error)?;
    match (args.format, &args.out) {
        (SummaryFormat::Text, None) => super::print_text(&summary.to_text()),
        (SummaryFormat::Text, Some(out)) => write_output(
            out,
            summary.to_text().as_bytes(),
            args.overwrite,
            &args.source.inputs(),
        ),
        (SummaryFormat::Pdf, Some(out)) => {
            let rendered = summary.to_pdf(review_date).map_err(summary_error)?;
            write_output(out, &rendered.bytes, args.overwrite, &args.source.inputs())?;
            report(out, &rendered)
        }
        (SummaryFormat::Pdf, None) => {
            Err(CliError::Input("--out: needed with --format pdf".into()))
        }
    }
}
