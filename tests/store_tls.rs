//! TLS to a real PostgreSQL server: the throwaway test cluster
//! (tests/pg/cluster.sh) also listens on 127.0.0.1 with `ssl=on`, TLS only,
//! its certificate signed by a throwaway CA for `localhost` alone.
//! `tests/pg/with-cluster.sh` names that listener's folder in
//! `STEPDOWN_TEST_PG_TLS_DIR` (port, the owner's password, ca.pem,
//! other-ca.pem); without it the tests say so and pass.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use stepdown::store::{Store, StoreError};

/// The TLS listener of the test cluster: its folder, port and password.
struct Tls {
    dir: PathBuf,
    port: u16,
    password: String,
}

fn tls() -> Option<Tls> {
    let dir = PathBuf::from(
        std::env::var("STEPDOWN_TEST_PG_TLS_DIR")
            .ok()
            .filter(|d| !d.trim().is_empty())?,
    );
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
            .trim()
            .to_string()
    };
    let port = read("port").parse().expect("the port file holds a port");
    let password = read("password");
    Some(Tls {
        dir,
        port,
        password,
    })
}

/// Runs `body` with the TLS listener, or says why it is skipped.
fn with_tls(body: impl FnOnce(&Tls)) {
    match tls() {
        Some(t) => body(&t),
        None => eprintln!(
            "skipped: STEPDOWN_TEST_PG_TLS_DIR is not set (tests/pg/with-cluster.sh sets it)"
        ),
    }
}

impl Tls {
    /// The owner's address on `host` with `query` (sslmode and sslrootcert).
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://stepdown_test_owner:{}@{host}:{}/stepdown_test?connect_timeout=10&{query}",
            self.password, self.port
        )
    }

    fn ca(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// A schema of its own on the test database (made and dropped over the
/// Unix socket), so opening a store over TLS migrates nothing shared.
struct Schema {
    base: String,
    name: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Schema {
    fn new() -> Schema {
        let base = std::env::var("STEPDOWN_TEST_PG_URL").expect("STEPDOWN_TEST_PG_URL");
        let name = format!(
            "tls_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        postgres::Client::connect(&base, postgres::NoTls)
            .expect("the test cluster's socket")
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .expect("a test schema");
        Schema { base, name }
    }

    fn options(&self) -> String {
        format!("options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Opens the store at `url`, which must fail; returns the error after
/// checking that neither its message nor its debug form shows the password.
fn refused(t: &Tls, url: &str) -> StoreError {
    let e = match Store::open(url) {
        Ok(_) => panic!(
            "{}: opened, but should have been refused",
            url.replace(&t.password, "***")
        ),
        Err(e) => e,
    };
    let (shown, debug) = (e.to_string(), format!("{e:?}"));
    assert!(!shown.contains(&t.password), "password shown: {shown}");
    assert!(!debug.contains(&t.password), "password shown: {debug}");
    assert!(shown.contains("stepdown_test_owner:***@"), "{shown}");
    e
}

fn opens(url: &str) -> Store {
    Store::open(url).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn verify_full_connects_to_the_name_on_the_certificate() {
    with_tls(|t| {
        let schema = Schema::new();
        let store = opens(&t.url(
            "localhost",
            &format!(
                "sslmode=verify-full&sslrootcert={}&{}",
                t.ca("ca.pem"),
                schema.options()
            ),
        ));
        // A store was made and read back over the TLS connection.
        assert_eq!(
            store.signed_in_role().unwrap().as_deref(),
            Some("stepdown_test_owner")
        );
        let report = store.check();
        assert!(report.ok, "{:?}", report.problems);
    });
}

#[test]
fn verify_full_refuses_a_host_the_certificate_does_not_name() {
    with_tls(|t| {
        // The certificate names DNS:localhost only; 127.0.0.1 is the same
        // server, but not a name it was issued for.
        let url = t.url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={}", t.ca("ca.pem")),
        );
        let e = refused(t, &url);
        assert!(matches!(e, StoreError::TlsRefused { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(shown.contains("TLS"), "{shown}");
        assert!(
            shown.contains("certificate is not for the host named in the address"),
            "{shown}"
        );
        assert!(shown.contains("IP address mismatch"), "{shown}");

        // verify-ca checks the signature, not the name: the same address opens.
        let schema = Schema::new();
        opens(&t.url(
            "127.0.0.1",
            &format!(
                "sslmode=verify-ca&sslrootcert={}&{}",
                t.ca("ca.pem"),
                schema.options()
            ),
        ));
    });
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    with_tls(|t| {
        for mode in ["verify-ca", "verify-full", "require"] {
            // require with a root certificate checks the chain, as libpq does.
            let url = t.url(
                "localhost",
                &format!("sslmode={mode}&sslrootcert={}", t.ca("other-ca.pem")),
            );
            let e = refused(t, &url);
            assert!(matches!(e, StoreError::TlsRefused { .. }), "{mode}: {e:?}");
            assert!(
                e.to_string()
                    .contains("not signed by a CA this seat trusts (sslrootcert)"),
                "{mode}: {e}"
            );
        }
    });
}

#[test]
fn require_connects_without_checking_the_certificate() {
    with_tls(|t| {
        let schema = Schema::new();
        for host in ["localhost", "127.0.0.1"] {
            let store = opens(&t.url(host, &format!("sslmode=require&{}", schema.options())));
            assert_eq!(
                store.signed_in_role().unwrap().as_deref(),
                Some("stepdown_test_owner")
            );
        }
    });
}

#[test]
fn a_plain_connection_to_a_server_that_requires_tls_is_refused() {
    with_tls(|t| {
        let e = refused(t, &t.url("localhost", "sslmode=disable"));
        assert!(matches!(e, StoreError::TlsRefused { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(
            shown.contains("accepts only TLS connections") && shown.contains("sslmode=disable"),
            "{shown}"
        );
    });
}

#[test]
fn the_cli_names_the_tls_failure_and_never_the_password() {
    with_tls(|t| {
        let url = t.url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={}", t.ca("ca.pem")),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_stepdown"))
            .args(["check", "--db", &url])
            .env_remove("STEPDOWN_DB")
            .output()
            .expect("run stepdown");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("TLS") && stderr.contains("not for the host named"),
            "{stderr}"
        );
        assert!(!stderr.contains(&t.password) && !stdout.contains(&t.password));
    });
}
