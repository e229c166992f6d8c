//! The app's shared state: the one open store, or why it could not be opened.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stepdown::store::{local_user_name, Store, StoreResult};
use stepdown::{ApiError, ErrorCode};

/// Held by Tauri for the life of the app.
pub struct AppState {
    db_path: PathBuf,
    store: Mutex<Result<Store, ApiError>>,
}

impl AppState {
    /// Opens (creating if needed) the store at `db_path`. A store that cannot
    /// be opened is remembered with its error, so the window still opens and
    /// says what is wrong; the file is never touched.
    pub fn open(db_path: PathBuf) -> AppState {
        let store = Store::open(&db_path).map_err(|e| {
            ApiError::new(
                ErrorCode::Storage,
                format!(
                    "The Stepdown data file could not be opened, so nothing can be saved this session. {e}"
                ),
            )
        });
        AppState {
            db_path,
            store: Mutex::new(store),
        }
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

    /// Who is acting, for the audit log: the reviewer name from settings,
    /// else the operating-system user.
    pub fn actor(&self) -> String {
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
/// `--save-dir DIR`, `--today DATE`), if given.
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
