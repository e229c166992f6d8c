//! Which store the desktop app opens (issue 19: "`--db postgres://…`, the
//! same in Settings"): the store on this computer, or a team store on a
//! PostgreSQL server.
//!
//! The choice cannot live in a store (the app must know which store to open
//! before it opens one), so it is a small JSON file beside the app's other
//! configuration. It never holds a password: a team store's address is
//! refused if it carries one, and each seat signs in with its own role and
//! password when the app starts (kept in memory for that one connection).
//! `--db` and `STEPDOWN_DB` still decide over the file, passwords and all,
//! for tests and automation.
//!
//! Parsing and validation are pure; the only IO here is [`load`] and
//! [`save`] (the file) and [`open_choice`] (the store itself).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::db::{self, PgTarget};
use super::{OpenOptions, Store, StoreError};
use crate::input::FieldError;
use crate::{ApiError, ErrorCode};

/// The file's name in the app's configuration folder.
pub const CHOICE_FILE_NAME: &str = "store.json";
/// The `format` written into the file, so a stray JSON file is not taken for it.
pub const CHOICE_FORMAT: &str = "stepdown-store-choice";
/// The file's format version.
pub const CHOICE_VERSION: u32 = 1;
/// Bigger than any real choice file: a larger one is refused unread.
const MAX_FILE_BYTES: u64 = 16 * 1024;
/// PostgreSQL's longest role name (NAMEDATALEN - 1).
const MAX_ROLE_CHARS: usize = 63;
/// Longest address accepted (far longer than any real one).
const MAX_ADDRESS_CHARS: usize = 2000;
/// Longest password accepted.
const MAX_PASSWORD_CHARS: usize = 1000;

/// Which store the app opens when started without `--db` or `STEPDOWN_DB`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[ts(export)]
pub enum StoreChoice {
    /// The SQLite file in this computer's data folder (the default).
    #[default]
    Local,
    /// A team store on a PostgreSQL server.
    Team {
        /// `postgres://HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]`, never with a password.
        address: String,
        /// The role this computer last signed in as (offered again at sign-in; not a secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        role: Option<String>,
    },
}

/// Where the store the app opened came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ChoiceSource {
    /// `--db` on the command line (decides over Settings).
    Flag,
    /// The `STEPDOWN_DB` environment variable (decides over Settings).
    Env,
    /// The choice saved in Settings.
    Settings,
    /// Nothing chosen: the store on this computer.
    Default,
}

/// A seat's sign-in to a team store: its own PostgreSQL role and password,
/// typed at the sign-in prompt and kept only for the connection.
#[derive(Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct SignIn {
    /// The PostgreSQL role.
    pub role: String,
    /// Its password (may be empty where the provider signs seats in another way).
    pub password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("role", &self.role)
            .field("password", &"***")
            .finish()
    }
}

/// What the app should do at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartUp {
    /// Open this location (a file, or a `postgres://` address from `--db` or
    /// `STEPDOWN_DB`, which may carry its own password).
    Open {
        /// The file or address.
        location: PathBuf,
        /// Where it came from.
        source: ChoiceSource,
    },
    /// The saved choice is a team store: wait for the seat to sign in.
    SignIn {
        /// The saved address (without a password).
        address: String,
    },
}

/// Decides what the app opens: `--db`, else `STEPDOWN_DB` (non-empty), else
/// the saved choice (a team store waits for its sign-in), else `local_file`.
pub fn start_up(
    flag: Option<&std::ffi::OsStr>,
    env: Option<&std::ffi::OsStr>,
    saved: &StoreChoice,
    local_file: &Path,
) -> StartUp {
    if let Some(f) = flag {
        return StartUp::Open {
            location: PathBuf::from(f),
            source: ChoiceSource::Flag,
        };
    }
    if let Some(e) = env.filter(|e| !e.is_empty()) {
        return StartUp::Open {
            location: PathBuf::from(e),
            source: ChoiceSource::Env,
        };
    }
    match saved {
        StoreChoice::Team { address, .. } => StartUp::SignIn {
            address: address.clone(),
        },
        StoreChoice::Local => StartUp::Open {
            location: local_file.to_path_buf(),
            source: ChoiceSource::Default,
        },
    }
}

/// A store location as `--db` or `STEPDOWN_DB` give it: a `postgres://`
/// address (which may carry a password: automation's business) or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A team store address.
    Team(String),
}

/// Reads a `--db` value: a `postgres://` address, or else a file path. Any
/// other `scheme://` is refused, as it is surely not a file name.
pub fn parse_location(text: &str) -> Result<Location, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(FieldError::new(
            "db",
            "give a file or a postgres:// address",
        ));
    }
    if db::is_pg_url(t) {
        return Ok(Location::Team(t.to_string()));
    }
    if let Some(scheme) = foreign_scheme(t) {
        return Err(FieldError::new(
            "db",
            format!(
                "{scheme}:// is not a store address: a team store's starts with postgres:// \
                 or postgresql://, anything else is a file"
            ),
        ));
    }
    Ok(Location::File(PathBuf::from(text)))
}

/// The scheme of `text` when it looks like `scheme://…` (letters, digits, `+-.`).
fn foreign_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some(scheme)
}

/// The field error for a password found in an address.
fn password_refused() -> FieldError {
    FieldError::new(
        "address",
        "Remove the password: Stepdown never keeps a password on this computer. Give the \
         address without it, like postgres://HOST/DATABASE, and type your role and password \
         when you sign in.",
    )
}

/// Checks a team store address typed in Settings and returns it trimmed:
/// a `postgres://` or `postgresql://` address naming a server (in the
/// address or `host=`), a port from 1 to 65535 if one is given, and a
/// database; no password, in the user part or as `password=`; its `sslmode`
/// and `sslrootcert` as the store reads them. Every problem names the field
/// `address`.
pub fn validate_team_address(text: &str) -> Result<String, FieldError> {
    let bad = |m: String| FieldError::new("address", m);
    let t = text.trim();
    if t.is_empty() {
        return Err(bad(
            "Enter the team store's address, like postgres://stepdown-db.example.nhs.uk/stepdown?sslmode=verify-full.".into(),
        ));
    }
    let n = t.chars().count();
    if n > MAX_ADDRESS_CHARS {
        return Err(bad(format!(
            "The address must be at most {MAX_ADDRESS_CHARS} characters (got {n})."
        )));
    }
    if let Some(c) = t.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(format!(
            "Give one address, without spaces or control characters (found {c:?})."
        )));
    }
    if !db::is_pg_url(t) {
        return Err(bad(match foreign_scheme(t) {
            Some(s) => format!(
                "A team store's address starts with postgres:// or postgresql:// (got {s}://)."
            ),
            None => "A team store's address starts with postgres:// or postgresql://. To use \
                     the store on this computer, choose \"This computer\"."
                .into(),
        }));
    }
    let rest = &t[t.find("://").map_or(0, |i| i + 3)..];
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, p),
        None => (before_query, ""),
    };
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if userinfo.is_some_and(|u| u.contains(':')) {
        return Err(password_refused());
    }
    let params: Vec<(&str, &str)> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect();
    if params
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        return Err(password_refused());
    }
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let mut host_named = param("host").is_some_and(|h| !h.is_empty())
        || param("hostaddr").is_some_and(|h| !h.is_empty());
    for h in hosts.split(',').filter(|h| !h.is_empty()) {
        let (name, port) = split_host_port(h);
        if !name.is_empty() {
            host_named = true;
        }
        if let Some(p) = port {
            check_port(p).map_err(bad)?;
        }
    }
    if let Some(p) = param("port") {
        for p in p.split(',') {
            check_port(p).map_err(bad)?;
        }
    }
    if !host_named {
        return Err(bad(
            "Name the server: postgres://HOST/DATABASE, or host=… for a socket folder.".into(),
        ));
    }
    if path.is_empty() && param("dbname").is_none_or(str::is_empty) {
        return Err(bad(
            "Name the database after the server: postgres://HOST/DATABASE.".into(),
        ));
    }
    // The store's own reading: sslmode values, client certificates refused.
    PgTarget::parse(t).map_err(|e| match e {
        StoreError::Invalid { message, .. } => bad(message),
        other => bad(other.to_string()),
    })?;
    Ok(t.to_string())
}

/// `host:port`, `[v6]:port` or `host` (`port` as written).
fn split_host_port(h: &str) -> (&str, Option<&str>) {
    if let Some(rest) = h.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((v6, tail)) => (v6, tail.strip_prefix(':')),
            None => (h, None),
        };
    }
    match h.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (h, None),
    }
}

fn check_port(p: &str) -> Result<(), String> {
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(()),
        _ => Err(format!(
            "The port must be a number from 1 to 65535 (got {:?}).",
            crate::limits::sanitize(p)
        )),
    }
}

/// Checks a sign-in: a role name (PostgreSQL's rules: at most 63
/// characters, one line) and a password of sane length.
pub fn validate_sign_in(sign_in: &SignIn) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let role = sign_in.role.trim();
    if role.is_empty() {
        errors.push(FieldError::new(
            "role",
            "Enter your PostgreSQL role (your sign-in name for the team store).",
        ));
    } else if role.chars().count() > MAX_ROLE_CHARS {
        errors.push(FieldError::new(
            "role",
            format!("A role name has at most {MAX_ROLE_CHARS} characters."),
        ));
    } else if role.chars().any(|c| c.is_control()) {
        errors.push(FieldError::new(
            "role",
            "A role name is one line, without control characters.",
        ));
    }
    if sign_in.password.chars().count() > MAX_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            format!("The password must be at most {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    if sign_in.password.contains('\0') {
        errors.push(FieldError::new(
            "password",
            "The password must not contain a NUL character.",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks a choice as Settings would save it.
pub fn validate_choice(choice: &StoreChoice) -> Result<StoreChoice, Vec<FieldError>> {
    match choice {
        StoreChoice::Local => Ok(StoreChoice::Local),
        StoreChoice::Team { address, role } => {
            let address = validate_team_address(address).map_err(|e| vec![e])?;
            let role = match role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                Some(r) => {
                    validate_sign_in(&SignIn {
                        role: r.to_string(),
                        password: String::new(),
                    })?;
                    Some(r.to_string())
                }
                None => None,
            };
            Ok(StoreChoice::Team { address, role })
        }
    }
}

/// Why the choice file could not be used. The app then opens the store on
/// this computer and leaves the file as it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChoiceFileError {
    /// Not JSON, or not the choice file's shape.
    #[error("{path}: not a Stepdown store choice ({detail})")]
    Unreadable {
        /// The file.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// Written by a newer Stepdown.
    #[error("{path}: written by a newer Stepdown (format version {found}; this one reads {CHOICE_VERSION})")]
    Newer {
        /// The file.
        path: String,
        /// Its version.
        found: u32,
    },
    /// The team store in it fails the checks Settings makes (a password, say).
    #[error("{path}: the team store in it cannot be used: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// The check that failed.
        problem: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceFile {
    format: String,
    version: u32,
    store: StoreChoice,
}

/// Reads the choice file's text (`path` only names it in errors).
pub fn parse_choice_file(path: &str, text: &str) -> Result<StoreChoice, ChoiceFileError> {
    let unreadable = |detail: String| ChoiceFileError::Unreadable {
        path: path.to_string(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(CHOICE_FORMAT) {
        return Err(unreadable(format!("no \"format\": \"{CHOICE_FORMAT}\"")));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(CHOICE_VERSION) => {
            return Err(ChoiceFileError::Newer {
                path: path.to_string(),
                found: u32::try_from(v).unwrap_or(u32::MAX),
            })
        }
        Some(_) => {}
        None => return Err(unreadable("no \"version\"".into())),
    }
    let file: ChoiceFile = serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))?;
    validate_choice(&file.store).map_err(|errors| ChoiceFileError::Invalid {
        path: path.to_string(),
        problem: errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The choice file's text for `choice` (checked first: a password can never be written).
pub fn choice_file_text(choice: &StoreChoice) -> Result<String, Vec<FieldError>> {
    let store = validate_choice(choice)?;
    let file = ChoiceFile {
        format: CHOICE_FORMAT.into(),
        version: CHOICE_VERSION,
        store,
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| vec![FieldError::new("store", e.to_string())])?;
    text.push('\n');
    Ok(text)
}

/// The choice read at start-up, and why the file was not used if it was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// What to use ([`StoreChoice::Local`] when there is no file or it is unusable).
    pub choice: StoreChoice,
    /// Why the file was not used (it was left as it is).
    pub problem: Option<String>,
}

/// Reads the choice file at `path`. No file means the store on this
/// computer; an unreadable or unusable one the same, with the reason (the
/// file itself is never changed or removed here).
pub fn load(path: &Path) -> Loaded {
    let shown = path.display().to_string();
    let fallback = |problem: String| Loaded {
        choice: StoreChoice::Local,
        problem: Some(format!(
            "{problem}. Stepdown opened the store on this computer instead and left the file \
             as it is; choose the store again in Settings to replace it."
        )),
    };
    let text = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded {
                choice: StoreChoice::Local,
                problem: None,
            }
        }
        Err(e) => return fallback(format!("{shown}: cannot be read ({e})")),
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return fallback(format!(
                "{shown}: too large to be a store choice ({} bytes)",
                m.len()
            ))
        }
        Ok(_) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return fallback(format!("{shown}: cannot be read ({e})")),
        },
    };
    match parse_choice_file(&shown, &text) {
        Ok(choice) => Loaded {
            choice,
            problem: None,
        },
        Err(e) => fallback(e.to_string()),
    }
}

/// Writes the choice to `path` (folder created if needed), owner-only and
/// whole or not at all (the private-file writer: a temporary file placed
/// over the old one). Refuses, with the field named, a choice that fails
/// its checks, so a password is never written.
pub fn save(path: &Path, choice: &StoreChoice) -> Result<(), ApiError> {
    let text = choice_file_text(choice).map_err(ApiError::invalid_fields)?;
    let failed = |e: std::io::Error| {
        ApiError::new(
            ErrorCode::Storage,
            format!(
                "the store choice could not be saved to {}: {e}. Nothing was changed.",
                path.display()
            ),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    crate::private_file::write_private(path, text.as_bytes(), crate::private_file::Replace::Allowed)
        .map_err(failed)
}

/// Opens the chosen store to switch to it: the file on this computer
/// (`local_file`, created if new), or the team store signed in as the
/// seat's role; then the schema check (`stepdown check`'s). A team store
/// must already exist (its administrator makes it, with `--db`). Every
/// failure is one `ApiError` naming what to fix: the address (unreachable,
/// TLS, no store there), the password (sign-in refused), or the store
/// (schema too old or too new, changed outside Stepdown).
pub fn open_choice(
    choice: &StoreChoice,
    sign_in: Option<&SignIn>,
    local_file: &Path,
) -> Result<(Store, Reopen), ApiError> {
    let choice = validate_choice(choice).map_err(ApiError::invalid_fields)?;
    let (store, reopen) = match &choice {
        StoreChoice::Local => {
            let store = Store::open(local_file).map_err(|e| {
                ApiError::new(
                    ErrorCode::Storage,
                    format!("The store on this computer could not be opened: {e}"),
                )
            })?;
            (store, Reopen::Location(local_file.to_path_buf()))
        }
        StoreChoice::Team { address, .. } => {
            let sign_in = sign_in.cloned().unwrap_or_default();
            validate_sign_in(&sign_in).map_err(ApiError::invalid_fields)?;
            let target = PgTarget::parse(address)
                .map_err(|e| open_failure(e, address))?
                .with_sign_in(sign_in.role.trim(), &sign_in.password);
            let options = OpenOptions {
                create: false,
                ..OpenOptions::default()
            };
            let store =
                Store::open_server(&target, options).map_err(|e| open_failure(e, address))?;
            (store, Reopen::Server(Box::new(target)))
        }
    };
    let problems = store.schema_problems().map_err(ApiError::from)?;
    if !problems.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Storage,
            format!(
                "The store's schema check found problems, so Stepdown did not switch to it: {}. \
                 Ask the store's administrator to run `stepdown check`.",
                problems.join("; ")
            ),
        ));
    }
    Ok((store, reopen))
}

/// How to open the store the app has open again, signed in the same way
/// (the app's import runs on a connection of its own). A sign-in's
/// password stays in memory, inside the target, and is never shown.
#[derive(Debug, Clone)]
pub enum Reopen {
    /// A file, or an address as `--db` or `STEPDOWN_DB` gave it.
    Location(PathBuf),
    /// A team store signed in at the prompt.
    Server(Box<PgTarget>),
}

impl Reopen {
    /// A new connection to the same store.
    pub fn open(&self) -> super::StoreResult<Store> {
        match self {
            Reopen::Location(path) => Store::open(path),
            Reopen::Server(target) => Store::open_server(target, OpenOptions::default()),
        }
    }
}

/// A team store that could not be opened, as one error with the field to
/// fix. `address` may be shown (it holds no password: checked before).
pub fn open_failure(e: StoreError, address: &str) -> ApiError {
    let with_field = |field: &str, message: String| ApiError {
        code: ErrorCode::Storage,
        message: crate::limits::sanitize_message(&message),
        fields: vec![FieldError::new(field, crate::limits::sanitize(&message))],
        conflict: None,
    };
    match e {
        StoreError::AuthenticationFailed { detail, .. } => with_field(
            "password",
            format!(
                "The server refused the sign-in: wrong role or password ({detail}). Nothing \
                 was changed."
            ),
        ),
        StoreError::ServerUnreachable { detail, .. } if is_tls(&detail) => with_field(
            "address",
            format!(
                "The secure connection (TLS) to {address} failed: {detail}. Check sslmode and \
                 sslrootcert (the provider's CA certificate) in the address."
            ),
        ),
        StoreError::ServerUnreachable { detail, .. } => with_field(
            "address",
            format!(
                "Cannot reach the server at {address}: {detail}. Check the address and the \
                 network."
            ),
        ),
        StoreError::Database(detail) if is_tls(&detail) => with_field(
            "address",
            format!(
                "The secure connection (TLS) could not be set up: {detail}. Check sslrootcert \
                 in the address."
            ),
        ),
        StoreError::Invalid { message, .. } => with_field("address", message),
        other => ApiError::from(other),
    }
}

fn is_tls(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    ["tls", "ssl", "certificate"].iter().any(|w| d.contains(w))
}

#[cfg(test)]
mod tests;
