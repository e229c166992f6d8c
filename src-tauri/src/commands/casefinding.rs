//! Case-finding commands: import a practice prescribing extract, list the
//! worklist, show and export the practice's figures. Each maps onto one
//! `stepdown::casefinding` call.

use base64::Engine;
use tauri::ipc::Channel;
use tauri::State;

use stepdown::casefinding::{
    self, Figures, ImportOptions, ImportProgress, ImportReport, Worklist, WorklistFilters,
};
use stepdown::store::{Patient, PatientInput};
use stepdown::{ApiError, ErrorCode};

use crate::state::{today, AppState};

/// Imports an extract (the file's bytes, base64-encoded by the UI), all or
/// nothing, reporting progress on `on_progress`. Runs off the UI thread.
#[tauri::command(async)]
pub fn import_extract(
    state: State<'_, AppState>,
    file_name: String,
    data_base64: String,
    list_size: Option<u32>,
    on_progress: Channel<ImportProgress>,
) -> Result<ImportReport, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_base64.as_bytes())
        .map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("file: could not be read ({e})"),
            )
        })?;
    let options = ImportOptions {
        file_name,
        today: today(),
        list_size,
        column_map: Default::default(),
        window_days: None,
        actor: Some(state.actor()),
    };
    state.with_store_api(|s| {
        casefinding::import_csv(s, &bytes, &options, &mut |p| {
            // A closed channel (the window went away) must not stop the import.
            let _ = on_progress.send(p);
        })
        .map_err(ApiError::from)
    })
}

/// The worklist as of today, highest risk first, filtered.
#[tauri::command(async)]
pub fn worklist(
    state: State<'_, AppState>,
    filters: WorklistFilters,
) -> Result<Worklist, ApiError> {
    let day = today();
    state.with_store_api(|s| casefinding::worklist(s, &filters, day).map_err(ApiError::from))
}

/// The practice's figures month by month.
#[tauri::command(async)]
pub fn practice_figures(state: State<'_, AppState>) -> Result<Figures, ApiError> {
    let day = today();
    state.with_store_api(|s| casefinding::figures(s, day).map_err(ApiError::from))
}

/// The practice figures as CSV, for the UI to save where the user chooses.
#[tauri::command(async)]
pub fn practice_figures_csv(state: State<'_, AppState>) -> Result<String, ApiError> {
    let day = today();
    let figures = state.with_store_api(|s| casefinding::figures(s, day).map_err(ApiError::from))?;
    Ok(casefinding::figures_csv(&figures))
}

/// Writes the figures CSV to a path the user chose in the save dialog.
#[tauri::command(async)]
pub fn save_figures_csv(state: State<'_, AppState>, path: String) -> Result<(), ApiError> {
    let csv = practice_figures_csv(state)?;
    let target = std::path::PathBuf::from(&path);
    let tmp = target.with_extension("csv.partial");
    let fail = |e: std::io::Error| {
        ApiError::new(
            ErrorCode::Storage,
            format!("The figures could not be written to {path}: {e}"),
        )
    };
    std::fs::write(&tmp, csv).map_err(fail)?;
    std::fs::rename(&tmp, &target).map_err(fail)
}

/// The store's patient for a worklist entry (matched by NHS number, then by
/// the extract's identifier as the practice identifier), created if there is
/// none, so a consultation can start from the worklist.
#[tauri::command]
pub fn patient_for_extract(
    state: State<'_, AppState>,
    patient_id: String,
    nhs_number: Option<String>,
) -> Result<Patient, ApiError> {
    let actor = state.actor();
    state.with_store(|s| {
        if let Some(n) = nhs_number.as_deref().filter(|n| !n.trim().is_empty()) {
            if let Some(p) = s.patient_by_nhs_number(n)? {
                return Ok(p);
            }
        }
        if let Some(p) = s.patient_by_local_id(&patient_id)? {
            return Ok(p);
        }
        s.create_patient(
            &PatientInput {
                name: format!("Extract patient {patient_id}"),
                nhs_number: nhs_number.filter(|n| !n.trim().is_empty()),
                date_of_birth: None,
                local_id: Some(patient_id.clone()),
            },
            &actor,
        )
    })
}
