//! PostgreSQL: the store's location (`postgres://…`), the connection with
//! TLS as the URL asks (libpq's `sslmode` and `sslrootcert`), and the
//! server's errors in words. A password in the URL is never shown: every
//! message names the server by [`PgTarget::display`].

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use postgres::config::SslMode;
use postgres::error::SqlState;

use crate::store::StoreError;

/// Address schemes that select the PostgreSQL backend.
pub const PG_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// How the server's certificate is checked (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, certificate not checked (libpq's default).
    Prefer,
    /// TLS required, certificate not checked (checked against `sslrootcert`
    /// when one is given, as libpq does).
    Require,
    /// TLS, certificate checked against the trusted roots.
    VerifyCa,
    /// TLS, certificate and host name checked.
    VerifyFull,
}

/// A PostgreSQL store location, parsed from its URL.
#[derive(Clone)]
pub struct PgTarget {
    /// The URL as given (may hold a password: never printed).
    url: String,
    /// The URL without Stepdown's TLS parameters, for the `postgres` crate.
    config: postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.display())
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// True when `location` is a PostgreSQL URL rather than a file.
pub fn is_pg_url(location: &str) -> bool {
    PG_SCHEMES
        .iter()
        .any(|s| location.len() >= s.len() && location[..s.len()].eq_ignore_ascii_case(s))
}

/// `url` with any password replaced by `***` (in the user part and in a
/// `password=` parameter).
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{}", &userinfo[..colon], &authority[at..]),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{head}{authority}{tail}")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PgTarget {
    /// Parses a `postgres://` or `postgresql://` URL. `sslmode` takes libpq's
    /// values (disable, allow, prefer, require, verify-ca, verify-full) and
    /// `sslrootcert` a PEM file of trusted roots (or `system`).
    pub fn parse(url: &str) -> Result<PgTarget, StoreError> {
        let bad = |detail: String| StoreError::invalid("db", format!("{}: {detail}", redact(url)));
        if !is_pg_url(url) {
            return Err(bad("not a postgres:// or postgresql:// address".into()));
        }
        let mut tls = None;
        let mut root_cert = None;
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut kept = Vec::new();
        for kv in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|kv| !kv.is_empty())
        {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "sslmode" => {
                    tls = Some(match percent_decode(v).as_str() {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        other => {
                            return Err(bad(format!(
                                "sslmode {other:?} is not one of disable, allow, prefer, \
                                 require, verify-ca, verify-full"
                            )))
                        }
                    })
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(v))),
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" => {
                    return Err(bad(format!(
                        "{k} is not supported: seats sign in with a role and password or the \
                         provider's authentication"
                    )))
                }
                _ => kept.push(kv),
            }
        }
        let rebuilt = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config = postgres::Config::from_str(&rebuilt)
            .map_err(|e| bad(format!("not a usable PostgreSQL address ({e})")))?;
        if config.get_connect_timeout().is_none() {
            // An unreachable server is reported in seconds, not minutes.
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("stepdown");
        }
        let mut tls = tls.unwrap_or(TlsMode::Prefer);
        // As libpq: with a root certificate given, require checks the chain.
        if tls == TlsMode::Require && root_cert.is_some() {
            tls = TlsMode::VerifyCa;
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Ok(PgTarget {
            url: url.to_string(),
            config,
            tls,
            root_cert,
        })
    }

    /// The URL without its password, for messages.
    pub fn display(&self) -> String {
        redact(&self.url)
    }

    /// How the server's certificate is checked.
    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// The role it signs in as, if the URL names one.
    pub fn user(&self) -> Option<&str> {
        self.config.get_user()
    }

    /// Signs in as `role` with `password` (typed at the desktop's sign-in
    /// prompt, never part of the address), replacing any user the address
    /// names. An empty password leaves the server's own authentication to
    /// it (the address used this way never holds one). [`PgTarget::display`]
    /// is unchanged: it shows the address, never the password.
    pub fn with_sign_in(mut self, role: &str, password: &str) -> PgTarget {
        self.config.user(role);
        if !password.is_empty() {
            self.config.password(password);
        }
        self
    }

    /// Sets libpq's `options` (e.g. `-c search_path=…`), replacing any given.
    pub fn with_options(mut self, options: &str) -> PgTarget {
        self.config.options(options);
        self
    }

    pub(crate) fn connect(&self) -> Result<postgres::Client, super::Error> {
        if self.tls == TlsMode::Disable {
            return Ok(self.config.connect(postgres::NoTls)?);
        }
        let connector = self.tls_connector().map_err(|e| {
            super::Error::Usage(format!("{}: cannot set up TLS: {e}", self.display()))
        })?;
        Ok(self.config.connect(connector)?)
    }

    fn tls_connector(&self) -> Result<postgres_openssl::MakeTlsConnector, String> {
        let mut builder = SslConnector::builder(SslMethod::tls()).map_err(|e| e.to_string())?;
        let verify = matches!(self.tls, TlsMode::VerifyCa | TlsMode::VerifyFull);
        if verify {
            match &self.root_cert {
                Some(p) if p.as_os_str() != "system" => {
                    let pem = std::fs::read(p)
                        .map_err(|e| format!("cannot read sslrootcert {}: {e}", p.display()))?;
                    let certs = X509::stack_from_pem(&pem).map_err(|e| {
                        format!("sslrootcert {} holds no PEM certificate ({e})", p.display())
                    })?;
                    // Only the roots given are trusted, as libpq does.
                    let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
                    for c in certs {
                        store.add_cert(c).map_err(|e| e.to_string())?;
                    }
                    builder.set_cert_store(store.build());
                }
                _ => builder
                    .set_default_verify_paths()
                    .map_err(|e| e.to_string())?,
            }
            builder.set_verify(SslVerifyMode::PEER);
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = postgres_openssl::MakeTlsConnector::new(builder.build());
        let check_host = self.tls == TlsMode::VerifyFull;
        connector.set_callback(move |config, _domain| {
            config.set_verify_hostname(check_host);
            Ok(())
        });
        Ok(connector)
    }
}

/// The server's error in words: its message, detail and hint, without the
/// crate's "db error:" prefix.
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(&format!(": {c}"));
        }
        source = cause.source();
    }
    s
}

/// A failure of TLS itself, in words a person can act on, followed by the
/// library's or server's own reason; `None` for any other failure.
fn tls_failure(e: &postgres::Error, text: &str) -> Option<String> {
    if let Some(db) = e.as_db_error() {
        // pg_hba's `hostnossl … reject` (or no line for a plain connection)
        // names the missing encryption: the address said sslmode=disable.
        let refused = *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().ends_with("no encryption");
        return refused.then(|| {
            format!(
                "the server accepts only TLS connections and the address asks for none \
                 (sslmode=disable); use sslmode=verify-full with the provider's CA in \
                 sslrootcert ({text})"
            )
        });
    }
    let lower = text.to_ascii_lowercase();
    if !lower.contains("tls") && !lower.contains("ssl") && !lower.contains("certificate") {
        return None;
    }
    let what = if lower.contains("hostname mismatch") || lower.contains("ip address mismatch") {
        "the server's certificate is not for the host named in the address (sslmode=verify-full \
         checks the name): use the name the certificate was issued for"
    } else if lower.contains("certificate verify failed") {
        "the server's certificate is not signed by a CA this seat trusts (sslrootcert), or it \
         has expired"
    } else if lower.contains("server does not support tls") {
        "the server does not offer TLS, and the address requires it (sslmode)"
    } else {
        "the TLS handshake failed"
    };
    Some(format!("{what} ({text})"))
}

/// A PostgreSQL failure as the store's error: what the person can act on
/// (server unreachable, sign-in refused, not allowed, busy, conflict)
/// named; the rest as the server's words. `server` is the redacted address.
pub(crate) fn classify(e: &postgres::Error, server: &str) -> StoreError {
    let text = describe(e);
    if let Some(detail) = tls_failure(e, &text) {
        return StoreError::TlsRefused {
            server: server.to_string(),
            detail,
        };
    }
    let Some(db) = e.as_db_error() else {
        let lower = text.to_ascii_lowercase();
        if lower.contains("password") || lower.contains("authentication") {
            return StoreError::AuthenticationFailed {
                server: server.to_string(),
                detail: text,
            };
        }
        return StoreError::ServerUnreachable {
            server: server.to_string(),
            detail: text,
        };
    };
    let code = db.code();
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        return StoreError::AuthenticationFailed {
            server: server.to_string(),
            detail: text,
        };
    }
    if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        return StoreError::PermissionDenied(Box::new(crate::store::refusal::denied_from_server(
            db.message(),
        )));
    }
    if *code == SqlState::UNIQUE_VIOLATION {
        // The detail quotes the values ("Key (nhs_number)=(…)"): not shown.
        let key = db
            .constraint()
            .map(str::to_string)
            .unwrap_or_else(|| db.table().unwrap_or_default().to_string());
        return StoreError::Duplicate { key };
    }
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return StoreError::Serialization(text);
    }
    if *code == SqlState::LOCK_NOT_AVAILABLE || *code == SqlState::QUERY_CANCELED {
        return StoreError::Busy;
    }
    if *code == SqlState::UNDEFINED_TABLE
        || *code == SqlState::UNDEFINED_COLUMN
        || *code == SqlState::UNDEFINED_FUNCTION
    {
        return StoreError::MissingStructure(text);
    }
    if *code == SqlState::DISK_FULL {
        return StoreError::DiskFull;
    }
    if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        return StoreError::WriteRefused(text);
    }
    if *code == SqlState::INVALID_CATALOG_NAME {
        return StoreError::ServerUnreachable {
            server: server.to_string(),
            detail: text,
        };
    }
    let class = &code.code()[..2];
    if matches!(class, "08" | "57" | "53") {
        return StoreError::ServerUnreachable {
            server: server.to_string(),
            detail: text,
        };
    }
    StoreError::Postgres(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://seat:s3cret@db.example/stepdown?sslmode=verify-full"),
            "postgres://seat:***@db.example/stepdown?sslmode=verify-full"
        );
        assert_eq!(
            redact("postgresql:///db?host=/tmp/s&user=u&password=p%40ss"),
            "postgresql:///db?host=/tmp/s&user=u&password=***"
        );
        assert_eq!(redact("postgres://seat@db/x"), "postgres://seat@db/x");
        let e = PgTarget::parse("postgres://u:hunter2@db/x?sslmode=sometimes").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("sslmode"), "{e}");
        let t = PgTarget::parse("postgres://u:hunter2@db/x").unwrap();
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn tls_modes_are_libpqs() {
        let mode = |u: &str| PgTarget::parse(u).unwrap().tls_mode();
        assert_eq!(mode("postgres://db/x"), TlsMode::Prefer);
        assert_eq!(mode("postgres://db/x?sslmode=disable"), TlsMode::Disable);
        assert_eq!(mode("postgres://db/x?sslmode=require"), TlsMode::Require);
        assert_eq!(
            mode("postgres://db/x?sslmode=require&sslrootcert=/ca.pem"),
            TlsMode::VerifyCa
        );
        assert_eq!(
            mode("postgresql://db/x?sslmode=verify-full&sslrootcert=/ca.pem&user=a"),
            TlsMode::VerifyFull
        );
        assert!(is_pg_url("POSTGRES://db/x"));
        assert!(!is_pg_url("/home/me/postgres.db"));
        assert!(PgTarget::parse("postgres://db/x?sslcert=/c.pem").is_err());
    }
}
