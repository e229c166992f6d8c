//! The app's shared state: the one open store, or why it could not be opened.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stepdown::store::{local_user_name, Store, StoreResult};
use stepdown::{ApiError, ErrorCode};

/// What a save dialog is for (`choose_save_path`'s `kind`): it decides the
/// dialog's filter and fallback name, and which write may use the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum SaveKind {
    /// A leaflet PDF.
    Leaflet,
    /// The practice figures as CSV.
    FiguresCsv,
    /// The outcomes as CSV (month by month, or per patient).
    OutcomesCsv,
    /// The one-page outcomes report PDF.
    OutcomesReport,
    /// The clinician summary PDF of a saved version.
    SummaryPdf,
}

/// What an open dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpenKind {
    /// A prescribing extract to import.
    Extract,
    /// A list of patients to leave off the worklist.
    Exclusions,
}

/// Paths the save and open dialogs returned, kept on the Rust side: the app
/// writes, opens and reads only these, never a path string from the webview.
/// Each is used once.
#[derive(Debug, Default)]
pub struct ChosenPaths {
    leaflet: Option<PathBuf>,
    figures_csv: Option<PathBuf>,
    outcomes_csv: Option<PathBuf>,
    outcomes_report: Option<PathBuf>,
    summary_pdf: Option<PathBuf>,
    extract: Option<PathBuf>,
    exclusions: Option<PathBuf>,
    /// The last leaflet written, the only file the app will open.
    printed: Option<PathBuf>,
}

impl ChosenPaths {
    /// Remembers what the dialog returned for `kind` (replacing an earlier choice).
    pub fn remember(&mut self, kind: SaveKind, path: PathBuf) {
        match kind {
            SaveKind::Leaflet => self.leaflet = Some(path),
            SaveKind::FiguresCsv => self.figures_csv = Some(path),
            SaveKind::OutcomesCsv => self.outcomes_csv = Some(path),
            SaveKind::OutcomesReport => self.outcomes_report = Some(path),
            SaveKind::SummaryPdf => self.summary_pdf = Some(path),
        }
    }

    /// Takes the chosen path for `kind`: a second write needs a second choice.
    pub fn take(&mut self, kind: SaveKind) -> Option<PathBuf> {
        match kind {
            SaveKind::Leaflet => self.leaflet.take(),
            SaveKind::FiguresCsv => self.figures_csv.take(),
            SaveKind::OutcomesCsv => self.outcomes_csv.take(),
            SaveKind::OutcomesReport => self.outcomes_report.take(),
            SaveKind::SummaryPdf => self.summary_pdf.take(),
        }
    }

    /// Remembers what the open dialog returned for `kind` (`None` forgets
    /// an earlier choice).
    pub fn remember_open(&mut self, kind: OpenKind, path: Option<PathBuf>) {
        match kind {
            OpenKind::Extract => self.extract = path,
            OpenKind::Exclusions => self.exclusions = path,
        }
    }

    /// Takes the chosen file for `kind`: a second import needs a second choice.
    pub fn take_open(&mut self, kind: OpenKind) -> Option<PathBuf> {
        match kind {
            OpenKind::Extract => self.extract.take(),
            OpenKind::Exclusions => self.exclusions.take(),
        }
    }

    /// Records the leaflet just written (the one file `open_leaflet` opens).
    pub fn set_printed(&mut self, path: PathBuf) {
        self.printed = Some(path);
    }

    /// The leaflet last written, if any.
    pub fn printed(&self) -> Option<&Path> {
        self.printed.as_deref()
    }
}

/// Held by Tauri for the life of the app.
pub struct AppState {
    db_path: PathBuf,
    store: Mutex<Result<Store, ApiError>>,
    chosen: Mutex<ChosenPaths>,
}

impl AppState {
    /// Opens (creating if needed) the store at `db_path`. A store that cannot
    /// be opened is remembered with its error, so the window still opens and
    /// says what is wrong; the file is never touched.
    pub fn open(db_path: PathBuf) -> AppState {
        let team = db_path.to_str().is_some_and(stepdown::store::db::is_pg_url);
        let what = if team {
            "The team store could not be opened"
        } else {
            "The Stepdown data file could not be opened"
        };
        let store = Store::open(&db_path).map_err(|e| {
            ApiError::new(
                ErrorCode::Storage,
                format!("{what}, so nothing can be saved this session. {e}"),
            )
        });
        AppState {
            db_path,
            store: Mutex::new(store),
            chosen: Mutex::new(ChosenPaths::default()),
        }
    }

    /// The paths the save dialog returned (see [`ChosenPaths`]).
    pub fn chosen(&self) -> std::sync::MutexGuard<'_, ChosenPaths> {
        self.chosen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where the store lives.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Runs `f` on the open store, mapping every failure to an `ApiError`.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> StoreResult<T>,
    ) -> Result<T, ApiError> {
        self.with_store_api(|s| f(s).map_err(ApiError::from))
    }

    /// Like [`AppState::with_store`] for calls that already return an `ApiError`.
    pub fn with_store_api<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (every write is one transaction), so a poisoned lock is still usable.
        let mut guard = self
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_mut() {
            Ok(store) => f(store),
            Err(e) => Err(e.clone()),
        }
    }

    /// The PostgreSQL role this app signed in as, on a team store (`None` on
    /// a SQLite file, or when the store could not be opened).
    pub fn signed_in_role(&self) -> Option<String> {
        self.with_store(|s| s.signed_in_role()).ok().flatten()
    }

    /// Who is acting, for the audit log, claims and saved reviews: on a team
    /// store the role that signed in (the server vouches for it; settings
    /// are shared by every seat there), else the reviewer name from
    /// settings, else the operating-system user.
    pub fn actor(&self) -> String {
        if let Some(role) = self.signed_in_role() {
            return role;
        }
        self.with_store(|s| s.settings())
            .ok()
            .map(|s| s.reviewer_name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(local_user_name)
    }
}

/// Runs `f` with the app's state on Tauri's blocking thread pool, never on
/// the main (window) thread: the store may wait up to 5 s for its lock, and
/// rendering a PDF or importing an extract takes longer than a frame.
pub async fn blocking<T: Send + 'static>(
    app: tauri::AppHandle,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    use tauri::Manager;
    tauri::async_runtime::spawn_blocking(move || f(&app.state::<AppState>()))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the task stopped: {e}")))?
}

/// The value after `flag` on the app's command line (`--db PATH`,
/// `--today DATE`, and in debug builds only `--save-dir DIR`), if given.
pub fn arg_value(flag: &str) -> Option<std::ffi::OsString> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == flag {
            return args.next();
        }
    }
    None
}

/// Today's date: `--today YYYY-MM-DD` on the command line (tests see the app
/// on a chosen day), else this computer's local date. The shell reads the
/// clock; the core only ever receives the date.
pub fn today() -> chrono::NaiveDate {
    arg_value("--today")
        .and_then(|v| v.to_str().map(str::to_owned))
        .and_then(|v| chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
        .unwrap_or_else(|| chrono::Local::now().date_naive())
}

/// The end-to-end tests' hook: `--save-dir DIR` makes the save "dialog"
/// return `DIR/<suggested name>` without asking (no test can drive a native
/// dialog). Compiled into debug builds only: a release build always asks.
#[cfg(debug_assertions)]
pub fn test_save_dir() -> Option<PathBuf> {
    arg_value("--save-dir").map(PathBuf::from)
}

/// Release builds have no test hook.
#[cfg(not(debug_assertions))]
pub fn test_save_dir() -> Option<PathBuf> {
    None
}

/// The end-to-end tests' hook for the open dialog: `--open-extract PATH` and
/// `--open-exclusions PATH` are what the "dialog" returns for each kind,
/// without asking. Debug builds only: a release build always asks.
#[cfg(debug_assertions)]
pub fn test_open_file(kind: OpenKind) -> Option<PathBuf> {
    arg_value(match kind {
        OpenKind::Extract => "--open-extract",
        OpenKind::Exclusions => "--open-exclusions",
    })
    .map(PathBuf::from)
}

/// Release builds have no test hook.
#[cfg(not(debug_assertions))]
pub fn test_open_file(_kind: OpenKind) -> Option<PathBuf> {
    None
}

/// A suggested file name reduced to a bare name (no folders, no `..`), so the
/// webview's suggestion can only ever be a default the user sees in the dialog.
pub fn bare_file_name(suggested: &str, fallback: &str) -> String {
    let name: String = suggested
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let name = name.trim().trim_start_matches('.');
    if name.is_empty() {
        fallback.to_string()
    } else {
        name.chars().take(120).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_paths_are_used_once_and_kept_apart() {
        let mut c = ChosenPaths::default();
        assert_eq!(c.take(SaveKind::Leaflet), None);
        c.remember(SaveKind::Leaflet, PathBuf::from("/a/leaflet.pdf"));
        assert_eq!(c.take(SaveKind::FiguresCsv), None);
        assert_eq!(
            c.take(SaveKind::Leaflet),
            Some(PathBuf::from("/a/leaflet.pdf"))
        );
        assert_eq!(c.take(SaveKind::Leaflet), None, "one write per choice");
        assert!(c.printed().is_none());
        c.remember_open(OpenKind::Extract, Some(PathBuf::from("/a/extract.csv")));
        assert_eq!(c.take_open(OpenKind::Exclusions), None);
        c.remember_open(OpenKind::Exclusions, Some(PathBuf::from("/a/x.csv")));
        c.remember_open(OpenKind::Exclusions, None);
        assert_eq!(c.take_open(OpenKind::Exclusions), None, "forgotten");
        assert_eq!(
            c.take_open(OpenKind::Extract),
            Some(PathBuf::from("/a/extract.csv"))
        );
        assert_eq!(
            c.take_open(OpenKind::Extract),
            None,
            "one import per choice"
        );
    }

    #[test]
    fn suggested_names_cannot_carry_folders() {
        assert_eq!(bare_file_name("../../etc/passwd", "x.pdf"), "passwd");
        assert_eq!(bare_file_name("a\\b\\c.pdf", "x.pdf"), "c.pdf");
        assert_eq!(bare_file_name("..", "x.pdf"), "x.pdf");
        assert_eq!(bare_file_name("", "x.pdf"), "x.pdf");
        assert_eq!(bare_file_name(".hidden.pdf", "x.pdf"), "hidden.pdf");
    }
}
