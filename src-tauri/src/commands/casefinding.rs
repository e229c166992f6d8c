//! Case-finding commands: import a practice prescribing extract, list the
//! worklist, show and export the practice's figures. Each maps onto one
//! `stepdown::casefinding` call.

use tauri::ipc::Channel;
use tauri::AppHandle;

use stepdown::casefinding::{
    self, Figures, ImportProgress, ImportReport, Worklist, WorklistFilters,
};
use stepdown::store::Patient;
use stepdown::{ApiError, ErrorCode};

use crate::state::{blocking, today, AppState, OpenKind};

/// Imports the extract chosen with `choose_import_file` (read from its path on
/// the Rust side, in bounded memory), all or nothing, leaving off the patients
/// of the list chosen for exclusions if any, reporting progress on
/// `on_progress`. Each choice is used once. Runs on the blocking pool.
#[tauri::command]
pub async fn import_extract(
    app: AppHandle,
    list_size: Option<u32>,
    preset: Option<String>,
    on_progress: Channel<ImportProgress>,
) -> Result<ImportReport, ApiError> {
    blocking(app, move |state| {
        let (extract, exclusions) = {
            let mut chosen = state.chosen();
            (
                chosen.take_open(OpenKind::Extract),
                chosen.take_open(OpenKind::Exclusions),
            )
        };
        let extract = extract.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                "Choose the extract file (CSV) first.",
            )
        })?;
        stepdown::consult::import_extract_file(
            || state.open_another(),
            stepdown::consult::ExtractChoice {
                extract: &extract,
                exclusions: exclusions.as_deref(),
                preset: preset.as_deref(),
                practice: None,
            },
            list_size,
            today(),
            &state.actor(),
            // A closed channel (the window went away) must not stop the import.
            &mut |p| {
                let _ = on_progress.send(p);
            },
        )
    })
    .await
}

/// The column maps of clinical-system exports the import can read (issue 16),
/// each with the file it fits and where its headers come from.
#[tauri::command]
pub async fn import_presets() -> Vec<stepdown::import::presets::Preset> {
    stepdown::import::presets::presets().to_vec()
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
    state.with_store_api(|s| casefinding::figures(s, day, None).map_err(ApiError::from))
}

/// The practice's figures month by month.
#[tauri::command]
pub async fn practice_figures(app: AppHandle) -> Result<Figures, ApiError> {
    blocking(app, figures).await
}

/// Writes the figures CSV to the path the user chose in the save dialog
/// (`choose_save_path`), remembered on the Rust side: the webview passes no path.
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
            stepdown::consult::patient_for_extract(
                s,
                &patient_id,
                nhs_number.as_deref(),
                None,
                &actor,
            )
        })
    })
    .await
}
