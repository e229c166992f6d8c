//! The PostgreSQL team store's SQL (src/store/migrations_pg/), checked
//! without a server: the conventions the shared SQL relies on, and the audit
//! chain hash the server computes pinned to the Rust one. The SQL itself runs
//! on a real cluster in tests/pg/access_test.sh (from `make test`).

use std::path::{Path, PathBuf};

use stepdown::store::{chain_hash, ChainContent};

fn pg_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations_pg")
}

/// The migration files, in order, with their text.
fn migrations() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(pg_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The SQL without `--` comments, upper-cased, split into words.
fn words(sql: &str) -> Vec<String> {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_uppercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn pg_migrations_are_numbered_from_one_without_gaps() {
    let names: Vec<String> = migrations().into_iter().map(|(n, _)| n).collect();
    assert!(names.len() >= 2, "{names:?}");
    for (i, name) in names.iter().enumerate() {
        let want = format!("{:04}_", i + 1);
        assert!(name.starts_with(&want), "{name} should start with {want}");
    }
}

/// The application binds every integer as i64 and reads it back as i64:
/// a 32-bit column would fail to bind (the `postgres` crate checks types),
/// and REAL would lose digits SQLite keeps.
#[test]
fn pg_columns_are_bigint_and_double_precision() {
    for (name, sql) in migrations() {
        for w in words(&sql) {
            assert!(
                !matches!(
                    w.as_str(),
                    "INTEGER" | "SMALLINT" | "SERIAL" | "BIGSERIAL" | "REAL" | "FLOAT4" | "NUMERIC"
                ),
                "{name}: {w} (use BIGINT, or DOUBLE PRECISION for reals)"
            );
        }
    }
}

/// The runner owns transactions, as for SQLite's migrations.
#[test]
fn pg_migrations_have_no_transaction_control() {
    for (name, sql) in migrations() {
        let w = words(&sql);
        for pair in w.windows(2) {
            let bad = matches!(pair[0].as_str(), "COMMIT" | "ROLLBACK" | "SAVEPOINT")
                || (matches!(pair[0].as_str(), "BEGIN" | "START")
                    && matches!(pair[1].as_str(), "TRANSACTION" | "WORK"));
            assert!(!bad, "{name}: {} {}", pair[0], pair[1]);
        }
    }
}

/// `\set NAME 'VALUE'` in tests/pg/access_test.sql.
fn psql_var(name: &str) -> String {
    let sql = include_str!("pg/access_test.sql");
    let prefix = format!("\\set {name} '");
    let line = sql
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{prefix} not in access_test.sql"));
    line.trim_end().trim_end_matches('\'').to_string()
}

/// The server's stepdown_audit_chain_hash (migrations_pg/0001) must give the
/// bytes of audit::chain_hash, or a store moved from SQLite would not verify
/// and entries the server chains would not verify in Rust. access_test.sql
/// computes these two entries on a real server and compares them with the
/// values here, which are Rust's.
#[test]
fn pg_chain_hash_fixture_is_rusts() {
    let first = chain_hash(
        None,
        &ChainContent {
            id: 1,
            at: "2026-12-07T05:50:00.123Z",
            actor: "Dr Zoë O'Brien \"Jo\"",
            action: "create",
            entity: "patient",
            entity_id: Some(1),
            patient_id: Some(1),
            summary: "patient 1 created",
        },
    );
    let prev = "a".repeat(64);
    let second = chain_hash(
        Some(&prev),
        &ChainContent {
            id: 2,
            at: "2026-12-07T05:50:01.000Z",
            actor: "R\\x",
            action: "change",
            entity: "review",
            entity_id: None,
            patient_id: None,
            summary: "line1\nline2\t€ \\ \"q\" \u{1} /",
        },
    );
    assert_eq!(psql_var("rust_first"), first);
    assert_eq!(psql_var("rust_second"), second);
}
