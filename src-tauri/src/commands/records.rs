//! Commands over the local store: settings, patients, reviews.

use serde::Serialize;
use tauri::AppHandle;
use ts_rs::TS;

use stepdown::consult;
use stepdown::consult::FollowUpDue;
use stepdown::followup::FollowUpInput;
use stepdown::outcomes::Outcomes;
use stepdown::reference::reference;
use stepdown::reference::scales::ScaleItemRow;
use stepdown::store::choice::{ChoiceSource, StoreChoice};
use stepdown::store::{
    DemoReport, FollowUp, Patient, PatientInput, PatientSummary, PracticeContact,
    PracticeContactInput, PracticeContacts, Review, ReviewInput, ReviewSummary, Settings,
};
use stepdown::ApiError;

use crate::state::{blocking, today};

#[cfg(test)]
use crate::state::AppState;

/// Most patients one search returns.
const PATIENT_SEARCH_LIMIT: u32 = 200;

/// Where the store is and what it holds, for the header, Settings and first run.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct StoreStatus {
    /// Full path of the SQLite file, or the team store's address without its password.
    pub path: String,
    /// Patients in the store (null when the store could not be opened).
    #[ts(type = "number | null")]
    pub patients: Option<i64>,
    /// Why the store could not be opened, if it could not.
    pub error: Option<ApiError>,
    /// On a team store (PostgreSQL), the role this app signed in as.
    pub signed_in_as: Option<String>,
    /// Where the open store came from: `--db`, `STEPDOWN_DB`, Settings, or the default.
    pub source: ChoiceSource,
    /// Where it came from when the app started: `--db` and `STEPDOWN_DB`
    /// decide again at the next start, whatever Settings say.
    pub started_with: ChoiceSource,
    /// The store chosen in Settings (never with a password).
    pub saved: StoreChoice,
    /// Why the saved choice was not used at start-up (the file was left as it is).
    pub saved_problem: Option<String>,
    /// The team store chosen in Settings waits for this seat to sign in.
    pub sign_in_needed: bool,
    /// The store file on this computer (the "This computer" choice).
    pub local_file: String,
    /// Where the choice is kept, if this computer has a configuration folder.
    pub choice_file: Option<String>,
}

/// Where the store is, how many patients it holds, or why it is unavailable.
#[tauri::command]
pub async fn store_status(app: AppHandle) -> Result<StoreStatus, ApiError> {
    blocking(app, |st| Ok(store_status_of(st))).await
}

/// [`store_status`] of `st`, also the answer of a switch.
pub(crate) fn store_status_of(st: &crate::state::AppState) -> StoreStatus {
    let count = st.with_store(|s| s.patient_count());
    let view = st.view();
    StoreStatus {
        // A team store's address is shown without its password.
        path: view.shown,
        patients: count.as_ref().ok().copied(),
        error: count.err(),
        signed_in_as: st.signed_in_role(),
        source: view.source,
        started_with: view.started_with,
        saved: view.saved,
        saved_problem: view.saved_problem,
        sign_in_needed: view.sign_in_needed,
        local_file: view.local_file,
        choice_file: view.choice_file,
    }
}

/// Current settings (defaults for anything never set).
#[tauri::command]
pub async fn get_settings(app: AppHandle) -> Result<Settings, ApiError> {
    blocking(app, |st| st.with_store(|s| s.settings())).await
}

/// Validates and saves settings; audited.
#[tauri::command]
pub async fn update_settings(app: AppHandle, settings: Settings) -> Result<Settings, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| s.update_settings(&settings, &actor))
    })
    .await
}

/// Each practice's leaflet details this seat sees (a SQLite file's one
/// practice: the settings'), and whether it may change them.
#[tauri::command]
pub async fn practice_contacts(app: AppHandle) -> Result<PracticeContacts, ApiError> {
    blocking(app, |st| st.with_store(|s| s.practice_contacts())).await
}

/// Sets one practice's leaflet details on a team store (administrators only:
/// the server refuses anyone else); audited by the server.
#[tauri::command]
pub async fn set_practice_contact(
    app: AppHandle,
    code: String,
    input: PracticeContactInput,
) -> Result<PracticeContact, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| s.set_practice_contact(&code, &input, &actor))
    })
    .await
}

/// Patients matching a name, NHS number or local identifier (empty lists everyone).
#[tauri::command]
pub async fn search_patients(
    app: AppHandle,
    query: String,
) -> Result<Vec<PatientSummary>, ApiError> {
    blocking(app, move |st| {
        st.with_store(|s| s.search_patients(&query, PATIENT_SEARCH_LIMIT))
    })
    .await
}

/// One patient.
#[tauri::command]
pub async fn get_patient(app: AppHandle, id: i64) -> Result<Patient, ApiError> {
    blocking(app, move |st| st.with_store(|s| s.patient(id))).await
}

/// Adds a patient (NHS number checked); audited.
#[tauri::command]
pub async fn create_patient(app: AppHandle, input: PatientInput) -> Result<Patient, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| s.create_patient(&input, &actor))
    })
    .await
}

/// Changes a patient's details; audited.
#[tauri::command]
pub async fn update_patient(
    app: AppHandle,
    id: i64,
    input: PatientInput,
) -> Result<Patient, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| s.update_patient(id, &input, &actor))
    })
    .await
}

/// Fills an empty store with synthetic demo patients (refused otherwise).
#[tauri::command]
pub async fn load_demo_patients(app: AppHandle) -> Result<DemoReport, ApiError> {
    blocking(app, |st| {
        let actor = st.actor();
        st.with_store_api(|s| consult::load_demo_patients(s, &actor, reference()))
    })
    .await
}

/// A patient's reviews, latest version of each, newest first.
#[tauri::command]
pub async fn patient_history(
    app: AppHandle,
    patient_id: i64,
) -> Result<Vec<ReviewSummary>, ApiError> {
    blocking(app, move |st| {
        st.with_store(|s| s.patient_history(patient_id))
    })
    .await
}

/// Saves a review from its inputs (a new review, or a new version of one);
/// the core computes OME, flags and plan; an entry with errors is refused
/// with its fields; audited.
#[tauri::command]
pub async fn save_review(app: AppHandle, input: ReviewInput) -> Result<ReviewSummary, ApiError> {
    blocking(app, move |st| {
        let mut input = input;
        // On a team store a version names the seat that signed in, not a
        // name anyone can type: it is who another seat's conflict names.
        if let Some(role) = st.signed_in_role() {
            input.reviewer = role;
        }
        st.with_store_api(|s| consult::save_review(s, &input, reference()))
    })
    .await
}

/// Saves a follow-up of a review's current version from its entry (a
/// re-plan saves the review's next version); refused with its fields; audited.
#[tauri::command]
pub async fn save_follow_up(app: AppHandle, input: FollowUpInput) -> Result<FollowUp, ApiError> {
    blocking(app, move |st| {
        let mut input = input;
        // On a team store the follow-up names the seat that signed in (the
        // window shows it, not editable), as a review version does.
        if let Some(role) = st.signed_in_role() {
            input.reviewer = role;
        }
        st.with_store_api(|s| consult::save_follow_up(s, &input, reference()))
    })
    .await
}

/// Where the patient should be on a review's current plan today, with its follow-ups.
#[tauri::command]
pub async fn follow_up_due(app: AppHandle, review_id: i64) -> Result<FollowUpDue, ApiError> {
    let day = today();
    blocking(app, move |st| {
        st.with_store_api(|s| consult::follow_up_due(s, review_id, day))
    })
    .await
}

/// Outcomes per patient and month by month, as of today.
#[tauri::command]
pub async fn outcomes(app: AppHandle) -> Result<Outcomes, ApiError> {
    let day = today();
    blocking(app, move |st| {
        st.with_store_api(|s| consult::outcomes(s, day, reference()))
    })
    .await
}

/// The outcomes CSV (month by month, or per patient with `patients`) as of
/// today, written to the path the user chose (`choose_save_path`),
/// remembered on the Rust side: the webview passes no path. Returns the path.
#[tauri::command]
pub async fn save_outcomes_csv(app: AppHandle, patients: bool) -> Result<String, ApiError> {
    let day = today();
    blocking(app, move |st| {
        let target = super::files::take_chosen(st, crate::state::SaveKind::OutcomesCsv)?;
        let csv = st.with_store_api(|s| consult::outcomes_csv(s, day, patients, reference()))?;
        super::files::write_private(&target, csv.as_bytes(), "outcomes CSV")?;
        Ok(target.display().to_string())
    })
    .await
}

/// The practice's one-page outcomes report PDF as of today, written to the
/// path the user chose (`choose_save_path`). Returns the path.
#[tauri::command]
pub async fn save_outcomes_report(app: AppHandle) -> Result<String, ApiError> {
    let day = today();
    blocking(app, move |st| {
        let target = super::files::take_chosen(st, crate::state::SaveKind::OutcomesReport)?;
        let pdf = st.with_store_api(|s| consult::outcomes_report(s, day, reference()))?;
        super::files::write_private(&target, &pdf.bytes, "outcomes report")?;
        Ok(target.display().to_string())
    })
    .await
}

/// The clinician summary of a saved version as a PDF (with the shared
/// decision and the follow-ups), written to the path the user chose
/// (`choose_save_path`). Returns the path.
#[tauri::command]
pub async fn save_summary_pdf(
    app: AppHandle,
    review_id: i64,
    version: i64,
) -> Result<String, ApiError> {
    blocking(app, move |st| {
        let target = super::files::take_chosen(st, crate::state::SaveKind::SummaryPdf)?;
        let pdf =
            st.with_store_api(|s| consult::stored_summary_pdf(s, review_id, version, reference()))?;
        super::files::write_private(&target, &pdf.bytes, "summary")?;
        Ok(target.display().to_string())
    })
    .await
}

/// The follow-up scales' items (PEG, then SOWS) with wording and ranges.
#[tauri::command]
pub async fn follow_up_scales() -> Result<Vec<ScaleItemRow>, ApiError> {
    Ok(consult::scale_items(reference()))
}

/// One review: its latest version, or the version asked for.
#[tauri::command]
pub async fn get_review(
    app: AppHandle,
    review_id: i64,
    version: Option<i64>,
) -> Result<Review, ApiError> {
    blocking(app, move |st| {
        st.with_store(|s| match version {
            Some(v) => s.review_version(review_id, v),
            None => s.review(review_id),
        })
    })
    .await
}

/// Checks an NHS number as it is typed: the number written 3-3-4, or why it is not valid.
#[tauri::command]
pub async fn check_nhs_number(text: String) -> Result<String, ApiError> {
    stepdown::nhs_number::NhsNumber::parse(&text)
        .map(|n| n.formatted())
        .map_err(|e| {
            ApiError::invalid_fields(vec![stepdown::input::FieldError::new(
                "nhs_number",
                e.to_string(),
            )])
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_number_is_checked_by_the_core_and_errors_name_the_field() {
        let check = |t: &str| tauri::async_runtime::block_on(check_nhs_number(t.into()));
        assert_eq!(check("9434765919").unwrap(), "943 476 5919");
        let e = check("9434765918").unwrap_err();
        assert_eq!(e.code, stepdown::ErrorCode::InvalidInput);
        assert_eq!(e.fields[0].path, "nhs_number");
    }

    #[test]
    fn an_unopenable_store_is_reported_not_fatal() {
        let dir = std::env::temp_dir().join(format!("stepdown-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("not-a-db.db");
        std::fs::write(
            &path,
            b"this is not an SQLite file, and must not be changed",
        )
        .unwrap();
        let state = AppState::open(path.clone());
        let e = state.with_store(|s| s.patient_count()).unwrap_err();
        assert_eq!(e.code, stepdown::ErrorCode::Storage);
        assert!(e.message.contains("could not be opened"), "{}", e.message);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"this is not an SQLite file, and must not be changed"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// What printing a leaflet produced.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PrintResult {
    /// Where the PDF was written.
    pub path: String,
    /// Pages.
    pub pages: u32,
    /// Size in bytes.
    pub bytes: u32,
    /// SHA-256 of the PDF, as recorded in the store.
    pub sha256: String,
    /// The print record's id (`stepdown leaflet --db DB --print-id ID` renders it again).
    #[ts(type = "number")]
    pub print_id: i64,
}

/// Prints the patient leaflet of a saved review version from its stored
/// plan (today's date from the clock or `--today`), writes it to `path` and
/// records the print (who, when, hash, render details) against exactly that
/// version. Rendering and writing run off the window thread.
///
/// The file is the one the user chose in the save dialog
/// (`choose_save_path`), remembered here: the webview passes no path.
#[tauri::command]
pub async fn print_leaflet(
    app: AppHandle,
    request: consult::LeafletPrintRequest,
) -> Result<PrintResult, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        let target = super::files::take_chosen(st, crate::state::SaveKind::Leaflet)?;
        let (print, pdf) = st.with_store_api(|s| {
            consult::print_leaflet(
                s,
                &request,
                today(),
                &actor,
                &mut |bytes| super::files::write_private(&target, bytes, "leaflet"),
                reference(),
            )
        })?;
        let path = target.display().to_string();
        st.chosen().set_printed(target);
        Ok(PrintResult {
            path,
            pages: u32::try_from(pdf.pages).unwrap_or(u32::MAX),
            bytes: u32::try_from(pdf.bytes.len()).unwrap_or(u32::MAX),
            sha256: print.pdf_sha256,
            print_id: print.id,
        })
    })
    .await
}

/// The clinician summary text of a saved review version, from its stored
/// assessment and plan, for the clipboard; the copy is recorded in the audit log.
#[tauri::command]
pub async fn summary_for_record(
    app: AppHandle,
    review_id: i64,
    version: i64,
) -> Result<String, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store_api(|s| {
            consult::summary_for_record(s, review_id, version, &actor, reference())
        })
    })
    .await
}

/// The coded summary of a saved review version (SNOMED CT codes of the review,
/// the reduction plan and the follow-ups, then the summary text), for the
/// clipboard; the copy is recorded in the audit log.
#[tauri::command]
pub async fn coded_summary_for_record(
    app: AppHandle,
    review_id: i64,
    version: i64,
) -> Result<String, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store_api(|s| {
            consult::coded_summary_for_record(s, review_id, version, &actor, reference())
        })
    })
    .await
}
