//! The app's shared state: the one open store, or why it could not be opened.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stepdown::store::choice::{self, ChoiceSource, Loaded, Reopen, SignIn, StartUp, StoreChoice};
use stepdown::store::db::redact;
use stepdown::store::{local_user_name, Store, StoreError, StoreResult};
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

/// The store the window works on now, and how it came to be open.
struct Current {
    /// What the window shows: the file, or the address without a password.
    shown: String,
    store: Result<Store, ApiError>,
    /// How to open it again (the import's own connection); `None` while
    /// waiting for a sign-in.
    reopen: Option<Reopen>,
    /// A team store chosen in Settings, waiting for the seat to sign in.
    sign_in_needed: bool,
    /// Where the open store's location came from.
    source: ChoiceSource,
    /// The choice saved in Settings (what a start without `--db` opens).
    saved: StoreChoice,
    /// Why the saved choice could not be used at start-up, if it could not.
    saved_problem: Option<String>,
}

/// What the window's Settings show about the store (`store_status`).
#[derive(Debug, Clone)]
pub struct StoreView {
    /// The file, or the team store's address without a password.
    pub shown: String,
    /// Where it came from now.
    pub source: ChoiceSource,
    /// Where it came from when the app started (`--db` and `STEPDOWN_DB`
    /// decide again at the next start).
    pub started_with: ChoiceSource,
    /// The choice saved in Settings.
    pub saved: StoreChoice,
    /// Why the saved choice was not used at start-up.
    pub saved_problem: Option<String>,
    /// Waiting for the seat to sign in to the saved team store.
    pub sign_in_needed: bool,
    /// The store file on this computer.
    pub local_file: String,
    /// Where the choice is kept.
    pub choice_file: Option<String>,
}

/// Held by Tauri for the life of the app.
pub struct AppState {
    current: Mutex<Current>,
    chosen: Mutex<ChosenPaths>,
    started_with: ChoiceSource,
    /// Where the store choice is kept (Tauri's app config folder), if known.
    choice_file: Option<PathBuf>,
    /// The store on this computer (Tauri's app data folder).
    local_file: PathBuf,
}

/// Why a store could not be opened at start-up: the window still opens
/// and says so; the file is never touched.
fn not_opened(location: &Path, e: StoreError) -> ApiError {
    let team = location
        .to_str()
        .is_some_and(stepdown::store::db::is_pg_url);
    let what = if team {
        "The team store could not be opened"
    } else {
        "The Stepdown data file could not be opened"
    };
    ApiError::new(
        ErrorCode::Storage,
        format!("{what}, so nothing can be saved this session. {e}"),
    )
}

impl AppState {
    /// Opens (creating if needed) the store at `db_path`. A store that cannot
    /// be opened is remembered with its error, so the window still opens and
    /// says what is wrong; the file is never touched.
    pub fn open(db_path: PathBuf) -> AppState {
        AppState::start(
            StartUp::Open {
                location: db_path.clone(),
                source: ChoiceSource::Flag,
            },
            Loaded {
                choice: StoreChoice::Local,
                problem: None,
            },
            None,
            db_path,
        )
    }

    /// Starts as `start_up` says (`store::choice::start_up`): opens the
    /// location, or waits for the seat to sign in to the saved team store.
    pub fn start(
        start_up: StartUp,
        loaded: Loaded,
        choice_file: Option<PathBuf>,
        local_file: PathBuf,
    ) -> AppState {
        let (current, started_with) = match start_up {
            StartUp::Open { location, source } => {
                let store = Store::open(&location).map_err(|e| not_opened(&location, e));
                (
                    Current {
                        shown: redact(&location.display().to_string()),
                        store,
                        reopen: Some(Reopen::Location(location)),
                        sign_in_needed: false,
                        source,
                        saved: loaded.choice,
                        saved_problem: loaded.problem,
                    },
                    source,
                )
            }
            StartUp::SignIn { address } => (
                Current {
                    store: Err(ApiError::new(
                        ErrorCode::Storage,
                        format!(
                            "Sign in to the team store at {} to see and save records.",
                            redact(&address)
                        ),
                    )),
                    shown: redact(&address),
                    reopen: None,
                    sign_in_needed: true,
                    source: ChoiceSource::Settings,
                    saved: loaded.choice,
                    saved_problem: loaded.problem,
                },
                ChoiceSource::Settings,
            ),
        };
        AppState {
            current: Mutex::new(current),
            chosen: Mutex::new(ChosenPaths::default()),
            started_with,
            choice_file,
            local_file,
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (every write is one transaction), so a poisoned lock is still usable.
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The paths the save dialog returned (see [`ChosenPaths`]).
    pub fn chosen(&self) -> std::sync::MutexGuard<'_, ChosenPaths> {
        self.chosen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Which store is open, where that came from, and what Settings saved.
    pub fn view(&self) -> StoreView {
        let c = self.current();
        StoreView {
            shown: c.shown.clone(),
            source: c.source,
            started_with: self.started_with,
            saved: c.saved.clone(),
            saved_problem: c.saved_problem.clone(),
            sign_in_needed: c.sign_in_needed,
            local_file: self.local_file.display().to_string(),
            choice_file: self.choice_file.as_ref().map(|p| p.display().to_string()),
        }
    }

    /// A new connection to the open store, signed in the same way (the
    /// import's, so the window's saves go on between its batches).
    pub fn open_another(&self) -> Result<Store, ApiError> {
        let c = self.current();
        match (&c.reopen, &c.store) {
            (Some(reopen), Ok(_)) => {
                let reopen = reopen.clone();
                drop(c);
                reopen.open().map_err(ApiError::from)
            }
            (_, Err(e)) => Err(e.clone()),
            (None, Ok(_)) => Err(ApiError::new(ErrorCode::Internal, "no store to open")),
        }
    }

    /// Switches the window to `choice` (Settings, or the sign-in prompt):
    /// opens it and runs its schema check first, then saves the choice,
    /// then swaps it in. Any failure leaves the open store and the saved
    /// choice as they were.
    pub fn switch(&self, choice: StoreChoice, sign_in: Option<SignIn>) -> Result<(), ApiError> {
        // Opened before taking the lock: a slow server does not hold up the
        // window's other calls on the store still open.
        let (store, reopen) = choice::open_choice(&choice, sign_in.as_ref(), &self.local_file)?;
        let saved = match choice {
            StoreChoice::Local => StoreChoice::Local,
            // The role is remembered to offer it at the next sign-in; never the password.
            StoreChoice::Team { address, .. } => StoreChoice::Team {
                address: address.trim().to_string(),
                role: sign_in.map(|s| s.role.trim().to_string()),
            },
        };
        let file = self.choice_file.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Storage,
                "This computer has no folder for Stepdown's configuration, so the store \
                 choice cannot be kept. Nothing was changed.",
            )
        })?;
        choice::save(file, &saved)?;
        let shown = redact(&store.path().display().to_string());
        let mut c = self.current();
        // The old store closes as it is dropped: every write was already
        // its own committed transaction.
        *c = Current {
            shown,
            store: Ok(store),
            reopen: Some(reopen),
            sign_in_needed: false,
            source: ChoiceSource::Settings,
            saved,
            saved_problem: None,
        };
        Ok(())
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
        let mut guard = self.current();
        match guard.store.as_mut() {
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
    fn a_failed_switch_keeps_the_open_store_and_the_saved_choice() {
        let dir = std::env::temp_dir().join(format!("stepdown-switch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let flag_file = dir.join("flag.db");
        let local = dir.join("data").join("stepdown.db");
        let choice_file = dir.join("config").join(choice::CHOICE_FILE_NAME);
        let st = AppState::start(
            StartUp::Open {
                location: flag_file.clone(),
                source: ChoiceSource::Flag,
            },
            Loaded {
                choice: StoreChoice::Local,
                problem: None,
            },
            Some(choice_file.clone()),
            local.clone(),
        );
        let shown = flag_file.display().to_string();
        assert_eq!(st.view().shown, shown);

        let e = st
            .switch(
                StoreChoice::Team {
                    address: "postgres://seat:hunter2@db.example/stepdown".into(),
                    role: None,
                },
                None,
            )
            .unwrap_err();
        assert_eq!(e.fields[0].path, "address");
        let e = st
            .switch(
                StoreChoice::Team {
                    address: "postgresql:///stepdown?host=/nonexistent-dir&connect_timeout=2"
                        .into(),
                    role: None,
                },
                Some(SignIn {
                    role: "seat_alice".into(),
                    password: "hunter2".into(),
                }),
            )
            .unwrap_err();
        assert_eq!(e.fields[0].path, "address", "{e:?}");
        assert!(!e.message.contains("hunter2"));
        let view = st.view();
        assert_eq!(view.shown, shown, "still on the store it had");
        assert_eq!(view.source, ChoiceSource::Flag);
        assert!(st.with_store(|s| s.patient_count()).is_ok());
        assert!(!choice_file.exists(), "nothing saved");
        assert!(!local.exists(), "nothing made");

        st.switch(StoreChoice::Local, None).unwrap();
        let view = st.view();
        assert_eq!(view.shown, local.display().to_string());
        assert_eq!(view.source, ChoiceSource::Settings);
        assert_eq!(
            view.started_with,
            ChoiceSource::Flag,
            "--db decides at the next start"
        );
        assert_eq!(choice::load(&choice_file).choice, StoreChoice::Local);
        assert_eq!(st.open_another().unwrap().path(), local);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_saved_team_store_waits_for_the_sign_in() {
        let st = AppState::start(
            StartUp::SignIn {
                address: "postgres://db.example/stepdown".into(),
            },
            Loaded {
                choice: StoreChoice::Team {
                    address: "postgres://db.example/stepdown".into(),
                    role: Some("seat_alice".into()),
                },
                problem: None,
            },
            None,
            PathBuf::from("/nonexistent/stepdown.db"),
        );
        let view = st.view();
        assert!(view.sign_in_needed);
        assert_eq!(view.shown, "postgres://db.example/stepdown");
        let e = st.with_store(|s| s.patient_count()).unwrap_err();
        assert!(
            e.message.starts_with("Sign in to the team store"),
            "{}",
            e.message
        );
        assert!(st.open_another().is_err());
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
