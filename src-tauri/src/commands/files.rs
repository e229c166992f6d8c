//! Where outputs go, and which files are imported. The save and open dialogs
//! are opened from here, and the path they return is kept on the Rust side
//! ([`crate::state::ChosenPaths`]): the commands that write (`print_leaflet`,
//! `save_figures_csv`), open (`open_leaflet`) and read (`import_extract`)
//! take no path from the webview, so a compromised or buggy page cannot
//! write, open or read anything the user did not choose. The webview
//! is granted neither the dialog nor the opener plugin (capabilities/main.json).

use std::path::{Path, PathBuf};

use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use stepdown::private_file::Replace;
use stepdown::{ApiError, ErrorCode};

use crate::state::{bare_file_name, blocking, test_open_file, test_save_dir, OpenKind, SaveKind};

/// Asks where to save an output of `kind` (a leaflet, a summary, the figures
/// or outcomes), with the native save dialog (or, in debug builds given
/// `--save-dir`, that folder without asking), and remembers the answer on the
/// Rust side for the next write of that kind (`print_leaflet`,
/// `save_summary_pdf`, `save_figures_csv`, `save_outcomes_csv`,
/// `save_outcomes_report`). Returns the path to show; `None` when the user
/// cancelled.
#[tauri::command]
pub async fn choose_save_path(
    app: AppHandle,
    kind: SaveKind,
    suggested_name: String,
) -> Result<Option<String>, ApiError> {
    let (fallback, filter, ext) = match kind {
        SaveKind::Leaflet => ("leaflet.pdf", "PDF", "pdf"),
        SaveKind::FiguresCsv => ("practice-figures.csv", "CSV", "csv"),
        SaveKind::OutcomesCsv => ("outcomes.csv", "CSV", "csv"),
        SaveKind::OutcomesReport => ("outcomes-report.pdf", "PDF", "pdf"),
        SaveKind::SummaryPdf => ("clinician-summary.pdf", "PDF", "pdf"),
    };
    let name = bare_file_name(&suggested_name, fallback);
    let chosen: Option<PathBuf> = match test_save_dir() {
        Some(dir) => Some(dir.join(&name)),
        None => {
            let dialog_app = app.clone();
            tauri::async_runtime::spawn_blocking(move || {
                dialog_app
                    .dialog()
                    .file()
                    .set_file_name(name)
                    .add_filter(filter, &[ext])
                    .blocking_save_file()
                    .and_then(|p| p.into_path().ok())
            })
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the dialog stopped: {e}")))?
        }
    };
    blocking(app, move |st| {
        Ok(chosen.map(|path| {
            let shown = path.display().to_string();
            st.chosen().remember(kind, path);
            shown
        }))
    })
    .await
}

/// Asks which file to import (`kind`: the extract, or the list of patients to
/// leave off), with the native open dialog (or, in debug builds, the file
/// given with `--open-extract` / `--open-exclusions`), and remembers it on the
/// Rust side for `import_extract`, which reads it from there: the webview
/// never holds the file or its path. Returns the file's name to show, or
/// `None` when the user cancelled (an earlier choice is kept).
#[tauri::command]
pub async fn choose_import_file(
    app: AppHandle,
    kind: OpenKind,
) -> Result<Option<String>, ApiError> {
    let (title, filter, exts): (&str, &str, &[&str]) = match kind {
        OpenKind::Extract => ("Choose the prescribing extract", "CSV", &["csv", "txt"]),
        OpenKind::Exclusions => (
            "Choose the list of patients to leave off",
            "CSV or text",
            &["csv", "txt"],
        ),
    };
    let chosen: Option<PathBuf> = match test_open_file(kind) {
        Some(path) => Some(path),
        None => {
            let dialog_app = app.clone();
            tauri::async_runtime::spawn_blocking(move || {
                dialog_app
                    .dialog()
                    .file()
                    .set_title(title)
                    .add_filter(filter, exts)
                    .blocking_pick_file()
                    .and_then(|p| p.into_path().ok())
            })
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the dialog stopped: {e}")))?
        }
    };
    blocking(app, move |st| {
        Ok(chosen.map(|path| {
            let shown = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            st.chosen().remember_open(kind, Some(path));
            shown
        }))
    })
    .await
}

/// Forgets the file chosen for `kind` (the user took it back).
#[tauri::command]
pub async fn forget_import_file(app: AppHandle, kind: OpenKind) -> Result<(), ApiError> {
    blocking(app, move |st| {
        st.chosen().remember_open(kind, None);
        Ok(())
    })
    .await
}

/// Opens the leaflet last written in the system's PDF viewer (to print it).
/// Only that file: the path never comes from the webview. The end-to-end
/// tests' `--save-dir` (debug builds) skips opening.
#[tauri::command]
pub async fn open_leaflet(app: AppHandle) -> Result<(), ApiError> {
    let opener = app.clone();
    let path = blocking(app, |st| {
        st.chosen()
            .printed()
            .map(Path::to_path_buf)
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidInput, "No leaflet has been saved yet."))
    })
    .await?;
    if test_save_dir().is_some() {
        return Ok(());
    }
    opener
        .opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::Storage,
                format!(
                    "The leaflet was saved to {} but could not be opened: {e}",
                    path.display()
                ),
            )
        })
}

/// The path the dialog returned for `kind`, taken for one write.
pub(crate) fn take_chosen(
    st: &crate::state::AppState,
    kind: SaveKind,
) -> Result<PathBuf, ApiError> {
    st.chosen().take(kind).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidInput,
            "Choose where to save the file first (the save dialog was not used or was cancelled).",
        )
    })
}

/// Writes `bytes` to `path` owner-only and whole (`stepdown::private_file`).
/// The user chose `path` in the save dialog, which itself asks before
/// replacing a file, so an existing one is replaced.
pub(crate) fn write_private(path: &Path, bytes: &[u8], what: &str) -> Result<(), ApiError> {
    stepdown::private_file::write_private(path, bytes, Replace::Allowed).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::StorageFull {
            "the disk is full".to_string()
        } else {
            e.to_string()
        };
        ApiError::new(
            ErrorCode::Storage,
            format!(
                "The {what} could not be written to {}: {why}",
                path.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_owner_only_and_whole() {
        let dir = std::env::temp_dir().join(format!("stepdown-app-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("leaflet.pdf");
        write_private(&out, b"%PDF-1.7", "leaflet").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"%PDF-1.7");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let e = write_private(&dir.join("no-such-dir").join("x.pdf"), b"x", "leaflet").unwrap_err();
        assert!(e.message.contains("could not be written"), "{}", e.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
