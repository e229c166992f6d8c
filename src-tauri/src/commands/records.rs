//! Commands over the local store: settings, patients, reviews.

use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use stepdown::store::{
    DemoReport, Patient, PatientInput, PatientSummary, Review, ReviewInput, ReviewSummary, Settings,
};
use stepdown::ApiError;

use crate::state::AppState;

/// Most patients one search returns.
const PATIENT_SEARCH_LIMIT: u32 = 200;

/// Where the store is and what it holds, for the About panel and first run.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct StoreStatus {
    /// Full path of the SQLite file.
    pub path: String,
    /// Patients in the store (null when the store could not be opened).
    #[ts(type = "number | null")]
    pub patients: Option<i64>,
    /// Why the store could not be opened, if it could not.
    pub error: Option<ApiError>,
}

/// Where the store is, how many patients it holds, or why it is unavailable.
#[tauri::command]
pub fn store_status(state: State<'_, AppState>) -> StoreStatus {
    let count = state.with_store(|s| s.patient_count());
    StoreStatus {
        path: state.db_path().display().to_string(),
        patients: count.as_ref().ok().copied(),
        error: count.err(),
    }
}

/// Current settings (defaults for anything never set).
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Result<Settings, ApiError> {
    state.with_store(|s| s.settings())
}

/// Validates and saves settings; audited.
#[tauri::command]
pub fn update_settings(
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings, ApiError> {
    let actor = state.actor();
    state.with_store(|s| s.update_settings(&settings, &actor))
}

/// Patients matching a name, NHS number or local identifier (empty lists everyone).
#[tauri::command]
pub fn search_patients(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<PatientSummary>, ApiError> {
    state.with_store(|s| s.search_patients(&query, PATIENT_SEARCH_LIMIT))
}

/// One patient.
#[tauri::command]
pub fn get_patient(state: State<'_, AppState>, id: i64) -> Result<Patient, ApiError> {
    state.with_store(|s| s.patient(id))
}

/// Adds a patient (NHS number checked); audited.
#[tauri::command]
pub fn create_patient(
    state: State<'_, AppState>,
    input: PatientInput,
) -> Result<Patient, ApiError> {
    let actor = state.actor();
    state.with_store(|s| s.create_patient(&input, &actor))
}

/// Changes a patient's details; audited.
#[tauri::command]
pub fn update_patient(
    state: State<'_, AppState>,
    id: i64,
    input: PatientInput,
) -> Result<Patient, ApiError> {
    let actor = state.actor();
    state.with_store(|s| s.update_patient(id, &input, &actor))
}

/// Fills an empty store with synthetic demo patients (refused otherwise).
#[tauri::command]
pub fn load_demo_patients(state: State<'_, AppState>) -> Result<DemoReport, ApiError> {
    let actor = state.actor();
    let assess = |profile: stepdown::Profile, input: &serde_json::Value| {
        stepdown::consult::assessment_document(profile, input, stepdown::reference::reference())
    };
    state.with_store(|s| s.load_demo_patients(&actor, Some(&assess)))
}

/// A patient's reviews, latest version of each, newest first.
#[tauri::command]
pub fn patient_history(
    state: State<'_, AppState>,
    patient_id: i64,
) -> Result<Vec<ReviewSummary>, ApiError> {
    state.with_store(|s| s.patient_history(patient_id))
}

/// Saves a review: a new review, or a new version of an existing one; audited.
#[tauri::command]
pub fn save_review(
    state: State<'_, AppState>,
    input: ReviewInput,
) -> Result<ReviewSummary, ApiError> {
    state.with_store(|s| s.save_review(&input))
}

/// One review: its latest version, or the version asked for.
#[tauri::command]
pub fn get_review(
    state: State<'_, AppState>,
    review_id: i64,
    version: Option<i64>,
) -> Result<Review, ApiError> {
    state.with_store(|s| match version {
        Some(v) => s.review_version(review_id, v),
        None => s.review(review_id),
    })
}

/// Checks an NHS number as it is typed: the number written 3-3-4, or why it is not valid.
#[tauri::command]
pub fn check_nhs_number(text: String) -> Result<String, ApiError> {
    stepdown::nhs_number::NhsNumber::parse(&text)
        .map(|n| n.formatted())
        .map_err(|e| {
            ApiError::invalid_fields(vec![stepdown::regimen::FieldError::new(
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
        assert_eq!(
            check_nhs_number("9434765919".into()).unwrap(),
            "943 476 5919"
        );
        let e = check_nhs_number("9434765918".into()).unwrap_err();
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
}

/// Writes `bytes` to `path` without ever leaving a half-written file: a
/// temporary file beside it, then a rename.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), ApiError> {
    let storage = |e: std::io::Error| {
        ApiError::new(
            stepdown::ErrorCode::Storage,
            format!(
                "The leaflet could not be written to {}: {e}",
                path.display()
            ),
        )
    };
    let tmp = path.with_extension("pdf.partial");
    std::fs::write(&tmp, bytes).map_err(storage)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        storage(e)
    })
}

/// Builds the patient leaflet for a saved review version, writes it to
/// `path` and records the print (who, when, hash) in the store.
#[tauri::command]
pub fn print_leaflet(
    state: State<'_, AppState>,
    request: stepdown::consult::LeafletRequestUi,
    path: String,
    review_id: i64,
    version: i64,
) -> Result<PrintResult, ApiError> {
    let settings = state.with_store(|s| s.settings())?;
    let practice = stepdown::leaflet::PracticeDetails {
        name: settings.practice_name.clone(),
        phone: settings.practice_phone.clone(),
        address: Some(settings.practice_address.replace('\n', ", "))
            .filter(|a| !a.trim().is_empty()),
    };
    let pdf =
        stepdown::consult::leaflet_pdf(&request, &practice, stepdown::reference::reference())?;
    let target = std::path::PathBuf::from(&path);
    write_atomically(&target, &pdf.bytes)?;
    let actor = state.actor();
    let print =
        state.with_store(|s| s.record_leaflet_print(review_id, version, &actor, &pdf.bytes))?;
    Ok(PrintResult {
        path,
        pages: u32::try_from(pdf.pages).unwrap_or(u32::MAX),
        bytes: u32::try_from(pdf.bytes.len()).unwrap_or(u32::MAX),
        sha256: print.pdf_sha256,
    })
}

/// The clinician summary text of a saved review version, for the clipboard;
/// the copy is recorded in the audit log.
#[tauri::command]
pub fn summary_for_record(
    state: State<'_, AppState>,
    request: stepdown::consult::SummaryRequestUi,
    review_id: i64,
    version: i64,
) -> Result<String, ApiError> {
    let settings = state.with_store(|s| s.settings())?;
    let text = stepdown::consult::summary_text(
        &request,
        Some(settings.practice_name).filter(|n| !n.trim().is_empty()),
        stepdown::reference::reference(),
    )?;
    let actor = state.actor();
    state.with_store(|s| s.record_summary_copy(review_id, version, &actor, &text))?;
    Ok(text)
}

/// A folder to write leaflets to without asking, given as `--save-dir DIR`
/// (the end-to-end tests use it, since no test can drive a native dialog).
#[tauri::command]
pub fn save_dir() -> Option<String> {
    crate::state::arg_value("--save-dir").map(|d| d.to_string_lossy().into_owned())
}
