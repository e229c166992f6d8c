//! Case-finding commands: import a practice prescribing extract, list the
//! worklist, show and export the practice's figures. Each maps onto one
//! `stepdown::casefinding` call.

use base64::Engine;
use tauri::ipc::Channel;
use tauri::AppHandle;

use stepdown::casefinding::{
    self, Figures, ImportOptions, ImportProgress, ImportReport, Worklist, WorklistFilters,
};
use stepdown::store::{Patient, Store};
use stepdown::{ApiError, ErrorCode};

use crate::state::{blocking, today, AppState};

/// Imports an extract (the file's bytes, base64-encoded by the UI), all or
/// nothing, reporting progress on `on_progress`. Runs on the blocking pool.
#[tauri::command]
pub async fn import_extract(
    app: AppHandle,
    file_name: String,
    data_base64: String,
    list_size: Option<u32>,
    exclusions: Option<String>,
    on_progress: Channel<ImportProgress>,
) -> Result<ImportReport, ApiError> {
    blocking(app, move |state| {
        // The exclusion list (palliative-care register, opioid dependence
        // treatment), as text: one patient a line, `patient_id[,reason]`.
        let exclusions = match exclusions.as_deref() {
            Some(text) => casefinding::Exclusion::parse_list(text).map_err(ApiError::from)?,
            None => Vec::new(),
        };
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
            exclusions,
        };
        // Its own connection, not the app's shared one: the import stores in
        // short transactions (issue 16), and between them the app's saves
        // go ahead instead of waiting for the whole import behind the lock.
        let mut store = Store::open(state.db_path()).map_err(ApiError::from)?;
        casefinding::import_csv(&mut store, &bytes, &options, &mut |p| {
            // A closed channel (the window went away) must not stop the import.
            let _ = on_progress.send(p);
        })
        .map_err(ApiError::from)
    })
    .await
}

/// The worklist as of today, highest risk first, filtered.
#[tauri::command]
pub async fn worklist(app: AppHandle, filters: WorklistFilters) -> Result<Worklist, ApiError> {
    let day = today();
    blocking(app, move |state| {
        state.with_store_api(|s| casefinding::worklist(s, &filters, day).map_err(ApiError::from))
    })
    .await
}

fn figures(state: &AppState) -> Result<Figures, ApiError> {
    let day = today();
    state.with_store_api(|s| casefinding::figures(s, day).map_err(ApiError::from))
}

/// The practice's figures month by month.
#[tauri::command]
pub async fn practice_figures(app: AppHandle) -> Result<Figures, ApiError> {
    blocking(app, figures).await
}

/// The practice figures as CSV, for the UI to save where the user chooses.
#[tauri::command]
pub async fn practice_figures_csv(app: AppHandle) -> Result<String, ApiError> {
    blocking(app, |state| Ok(casefinding::figures_csv(&figures(state)?))).await
}

/// Writes the figures CSV to the path the user chose in the save dialog
/// (`choose_figures_path`), remembered on the Rust side: the webview passes no path.
#[tauri::command]
pub async fn save_figures_csv(app: AppHandle) -> Result<String, ApiError> {
    blocking(app, move |state| {
        let target = super::files::take_chosen(state, crate::state::SaveKind::FiguresCsv)?;
        let csv = casefinding::figures_csv(&figures(state)?);
        super::files::write_private(&target, csv.as_bytes(), "figures")?;
        Ok(target.display().to_string())
    })
    .await
}

/// The store's patient for a worklist entry (matched by NHS number, then by
/// the extract's identifier; created if there is none), so a consultation
/// can start from the worklist. The matching is the core's.
#[tauri::command]
pub async fn patient_for_extract(
    app: AppHandle,
    patient_id: String,
    nhs_number: Option<String>,
) -> Result<Patient, ApiError> {
    blocking(app, move |state| {
        let actor = state.actor();
        state.with_store_api(|s| {
            stepdown::consult::patient_for_extract(s, &patient_id, nhs_number.as_deref(), &actor)
        })
    })
    .await
}
