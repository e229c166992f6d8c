//! Schema migrations: numbered, append-only SQL files applied in order, with
//! the schema version kept in SQLite's `PRAGMA user_version`.
//!
//! Rules (enforced by [`validate`] and the tests):
//! - versions run 1, 2, 3… with no gaps; the list only ever grows;
//! - a released migration's SQL never changes (its SHA-256 is pinned by a test);
//! - the SQL contains no transaction control and does not set `user_version`:
//!   the runner applies each migration and its version bump in one
//!   transaction, so a crash leaves the database at the old or the new
//!   version, never in between.
//!
//! A migration that must rebuild a table with foreign keys pointing at it
//! needs `foreign_keys` off, which SQLite only allows outside a transaction;
//! extend the runner for that case rather than working around it in SQL.

use rusqlite::{Connection, TransactionBehavior};

use super::{StoreError, StoreResult, APPLICATION_ID};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The schema version this migration produces.
    pub version: i64,
    /// What it does, in a few words.
    pub name: &'static str,
    /// The SQL (several statements).
    pub sql: &'static str,
}

/// Every migration, oldest first. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema: patients, reviews, versions, leaflets, settings, audit log",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "audit log hash chain (tamper evidence)",
        sql: include_str!("migrations/0002_audit_chain.sql"),
    },
    Migration {
        version: 3,
        name: "case-finding: imported extracts, extract patients, issued items, worklist cache",
        sql: include_str!("migrations/0003_casefinding.sql"),
    },
    Migration {
        version: 4,
        name: "review records computed by the core; leaflet render options",
        sql: include_str!("migrations/0004_review_records.sql"),
    },
    Migration {
        version: 5,
        name: "audit head: entry count and newest hash kept apart from the log",
        sql: include_str!("migrations/0005_audit_head.sql"),
    },
    Migration {
        version: 6,
        name: "case-finding: audit markers on the worklist cache; patient exclusions",
        sql: include_str!("migrations/0006_casefinding_markers.sql"),
    },
    Migration {
        version: 7,
        name: "follow-up reviews, append-only",
        sql: include_str!("migrations/0007_follow_ups.sql"),
    },
    Migration {
        version: 8,
        name: "case-finding: imports stored in batches and published at the end",
        sql: include_str!("migrations/0008_casefinding_batches.sql"),
    },
    Migration {
        version: 9,
        name: "reviews: the shared decision recorded with each version (NICE NG215)",
        sql: include_str!("migrations/0009_shared_decision.sql"),
    },
    Migration {
        version: 10,
        name: "review drafts kept from refused saves; worklist claims",
        sql: include_str!("migrations/0010_drafts_and_claims.sql"),
    },
    Migration {
        version: 11,
        name: "the practice (ODS code) of patients, imports, extract patients and claims",
        sql: include_str!("migrations/0011_practice.sql"),
    },
    Migration {
        version: 12,
        name: "worklist claims keyed by practice and extract identifier",
        sql: include_str!("migrations/0012_claims_by_practice.sql"),
    },
];

/// The schema version this build creates and understands.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn latest_version_of(list: &[Migration]) -> i64 {
    list.last().map_or(0, |m| m.version)
}

/// Checks the migration list: numbering, forbidden statements, and that
/// applying every migration to an empty in-memory database succeeds and
/// leaves a sound schema.
pub fn validate() -> StoreResult<()> {
    validate_list(MIGRATIONS)
}

pub(crate) fn validate_list(list: &[Migration]) -> StoreResult<()> {
    let bad = |m: &Migration, msg: String| {
        StoreError::invalid(format!("migrations[{}] ({})", m.version, m.name), msg)
    };
    for (i, m) in list.iter().enumerate() {
        let expected = i as i64 + 1;
        if m.version != expected {
            return Err(bad(
                m,
                format!("version must be {expected} (numbered 1, 2, 3… without gaps)"),
            ));
        }
        if m.sql.trim().is_empty() {
            return Err(bad(m, "has no SQL".into()));
        }
        let upper = strip_comments(m.sql).to_ascii_uppercase();
        for word in [
            "BEGIN TRANSACTION",
            "BEGIN IMMEDIATE",
            "BEGIN EXCLUSIVE",
            "BEGIN DEFERRED",
            "COMMIT",
            "END TRANSACTION",
            "USER_VERSION",
        ] {
            if upper.contains(word) {
                return Err(bad(
                    m,
                    format!(
                        "must not contain {word}: the runner owns transactions and the version"
                    ),
                ));
            }
        }
    }
    let mut conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let (from, to) = migrate(&mut conn, list)?;
    debug_assert_eq!(from, 0);
    if to != latest_version_of(list) {
        return Err(StoreError::invalid(
            "migrations",
            format!(
                "ended at version {to}, expected {}",
                latest_version_of(list)
            ),
        ));
    }
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        return Err(StoreError::invalid(
            "migrations",
            format!("application_id is {app_id}, expected {APPLICATION_ID}"),
        ));
    }
    let problems = super::file::integrity_check(&conn, 10)?;
    if !problems.is_empty() {
        return Err(StoreError::invalid(
            "migrations",
            format!("integrity check failed: {}", problems.join("; ")),
        ));
    }
    Ok(())
}

/// How the schema of `conn` (at schema `version`) differs from the one the
/// migrations up to that version create, in words: a table, index or
/// trigger missing, added or changed. A dropped append-only trigger is how
/// the audit log was emptied unnoticed, and a dropped table otherwise only
/// showed later as a raw SQL error. Empty when they match (or the version is
/// one this build does not know).
pub(crate) fn schema_differences(conn: &Connection, version: i64) -> StoreResult<Vec<String>> {
    let Some(list) = usize::try_from(version)
        .ok()
        .filter(|v| (1..=MIGRATIONS.len()).contains(v))
        .map(|v| &MIGRATIONS[..v])
    else {
        return Ok(Vec::new());
    };
    let mut expected = Connection::open_in_memory()?;
    migrate(&mut expected, list)?;
    let objects = |c: &Connection| -> StoreResult<std::collections::BTreeMap<(String, String), Option<String>>> {
        let mut stmt = c.prepare(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )?;
        let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let want = objects(&expected)?;
    let have = objects(conn)?;
    // A table renamed into place (the worklist cache, swapped in from its
    // staging table by every case-finding import) has its name written
    // quoted by SQLite: the same table.
    let same = |a: &Option<String>, b: &Option<String>| {
        a.as_deref().map(unquoted_table_name) == b.as_deref().map(unquoted_table_name)
    };
    let mut problems = Vec::new();
    for ((kind, name), sql) in &want {
        match have.get(&(kind.clone(), name.clone())) {
            None if kind == "trigger" => problems.push(format!(
                "the safeguard trigger {name} is missing (dropped outside Stepdown): what it \
                 protects may have been changed"
            )),
            None => problems.push(format!(
                "the {kind} {name} is missing (dropped outside Stepdown)"
            )),
            Some(found) if !same(found, sql) => problems.push(format!(
                "the {kind} {name} differs from the one Stepdown created (changed outside Stepdown)"
            )),
            Some(_) => {}
        }
    }
    for (kind, name) in have.keys() {
        // The worklist cache's staging table exists while an import or a
        // recomputation writes it (one left by a killed process is dropped
        // by the next import or worklist, see casefinding.md).
        if kind == "table" && name.starts_with("cfstage_summaries_") {
            continue;
        }
        if !want.contains_key(&(kind.clone(), name.clone())) {
            problems.push(format!(
                "an unexpected {kind} {name} is in the database (added outside Stepdown)"
            ));
        }
    }
    Ok(problems)
}

/// `CREATE TABLE "name"…` as `CREATE TABLE name…` (how SQLite writes a
/// table's name after `ALTER TABLE … RENAME TO`).
fn unquoted_table_name(sql: &str) -> std::borrow::Cow<'_, str> {
    if let Some(rest) = sql.strip_prefix("CREATE TABLE \"") {
        if let Some(end) = rest.find('"') {
            return format!("CREATE TABLE {}{}", &rest[..end], &rest[end + 1..]).into();
        }
    }
    sql.into()
}

/// Drops `-- …` comments so the forbidden-word check ignores prose.
pub(crate) fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Brings the database up to the last migration in `list`. Returns the
/// versions before and after. Safe against other processes migrating at the
/// same moment: each step re-reads the version under the write lock.
pub(crate) fn migrate(conn: &mut Connection, list: &[Migration]) -> StoreResult<(i64, i64)> {
    let latest = latest_version_of(list);
    let before: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if before > latest {
        return Err(newer(before, latest));
    }
    if before == latest {
        return Ok((before, before));
    }
    // Functions the migration SQL may call (migration 2 hashes the audit log).
    super::audit::register_sql_functions(conn)?;
    for m in list {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > latest {
            return Err(newer(current, latest));
        }
        if current >= m.version {
            continue;
        }
        tx.execute_batch(m.sql)
            .map_err(|e| match StoreError::from(e) {
                StoreError::Sqlite(inner) => StoreError::invalid(
                    format!("migrations[{}] ({})", m.version, m.name),
                    format!("failed: {inner}"),
                ),
                // A migration refused by a unique key: the migration is named.
                d @ StoreError::Duplicate { .. } => StoreError::invalid(
                    format!("migrations[{}] ({})", m.version, m.name),
                    format!("failed: {d}"),
                ),
                // A migration naming a table it does not find: the migration is named.
                StoreError::MissingStructure(what) => StoreError::invalid(
                    format!("migrations[{}] ({})", m.version, m.name),
                    format!("failed: {what}"),
                ),
                other => other,
            })?;
        tx.pragma_update(None, "user_version", m.version)?;
        let fk_problems: i64 =
            tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if fk_problems > 0 {
            return Err(StoreError::invalid(
                format!("migrations[{}] ({})", m.version, m.name),
                format!("left {fk_problems} foreign-key violation(s); not applied"),
            ));
        }
        tx.commit()?;
    }
    let after: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok((before, after))
}

fn newer(found: i64, supported: i64) -> StoreError {
    StoreError::NewerVersion {
        path: Default::default(),
        found,
        supported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::leaflets::sha256_hex;

    #[test]
    fn migrations_validate() {
        validate().unwrap();
    }

    #[test]
    fn an_empty_database_migrates_to_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        let (from, to) = migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!((from, to), (0, LATEST_VERSION));
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            tables,
            [
                "audit_head",
                "audit_log",
                "cf_claims",
                "cf_imports",
                "cf_issues",
                "cf_patients",
                "cf_state",
                "cf_summaries",
                "cf_texts",
                "follow_ups",
                "leaflet_prints",
                "patients",
                "review_drafts",
                "review_versions",
                "reviews",
                "settings"
            ]
        );
        // Running again is a no-op.
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).unwrap(),
            (LATEST_VERSION, LATEST_VERSION)
        );
    }

    /// Migration 12 rebuilds cf_claims keyed by (practice, identifier): the
    /// rows of a file at version 11 are kept with their ids; without a
    /// practice (a single-seat file) an identifier is still claimed once, and
    /// two practices' patients with one identifier are two claims.
    #[test]
    fn claims_are_kept_and_keyed_by_practice_from_version_12() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &MIGRATIONS[..11]).unwrap();
        fn claim(
            conn: &Connection,
            practice: Option<&str>,
            id: &str,
            holder: &str,
        ) -> rusqlite::Result<usize> {
            conn.execute(
                "INSERT INTO cf_claims
                   (practice_code, extract_id, holder, claimed_at, status, changed_at, changed_by)
                 VALUES (?1, ?2, ?3, 't', 'booked', 't', ?3)",
                rusqlite::params![practice, id, holder],
            )
        }
        claim(&conn, None, "P1", "Alice").unwrap();
        claim(&conn, None, "P2", "Bob").unwrap();
        claim(&conn, None, "P3", "Bob").unwrap();
        // Version 11: the identifier alone is the key.
        assert!(claim(&conn, Some("B82002"), "P1", "Bob").is_err());
        // A gap in the ids, which the rebuild must keep.
        conn.execute("DELETE FROM cf_claims WHERE extract_id = 'P2'", [])
            .unwrap();

        migrate(&mut conn, MIGRATIONS).unwrap();
        let rows: Vec<(i64, Option<String>, String, String)> = conn
            .prepare("SELECT id, practice_code, extract_id, holder FROM cf_claims ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, None, "P1".into(), "Alice".into()),
                (3, None, "P3".into(), "Bob".into())
            ]
        );
        assert!(
            claim(&conn, None, "P1", "Bob").is_err(),
            "no practice counts as one"
        );
        claim(&conn, Some("A81001"), "P1", "Carol").unwrap();
        claim(&conn, Some("B82002"), "P1", "Dan").unwrap();
        assert!(claim(&conn, Some("B82002"), "P1", "Erin").is_err());
    }

    /// Migrations are append-only. If this fails you edited a released
    /// migration: revert it and add a new numbered one instead.
    #[test]
    fn released_migrations_never_change() {
        let pinned: &[(i64, &str)] = &[
            (
                1,
                "bc019c90935bd451ab99744ab677dea59d48808171baf75ea6a0e7e589159e7b",
            ),
            (
                2,
                "bb6ad21d7c2059c3b8a942e9f1aae6daa877eeb2fa55b04f769aaf19da9088d4",
            ),
            (
                3,
                "eee65316c0a5da5a3a9f7b6b30e2177ece6adc8ac11db74ad30fcf328ab6b75c",
            ),
            (
                4,
                "af0cdec218de9d6a9327594a0a6ed7373fbcbae0170bddccd2158f971b09b5f7",
            ),
            (
                5,
                "038e42b620729fe953570311b42c9ebb015f2c7c46b60e5fd5a7294ea5114495",
            ),
            (
                6,
                "e5554291dfbb03ad03758578514bff7eeeb5650bc7cbf451f3f0b3d174b82c31",
            ),
            (
                7,
                "0313de56523aa2fbb87057cd1c4cf8d88dac991b33be40a053580d629fe4b7e2",
            ),
            (
                8,
                "ecd8289443aca292d0ae9bd465c66850475a2a6f54907c98a4eedabacd5e1c74",
            ),
            (
                9,
                "3e0a033da1e33e73fefa490385cb9a9152391718889e9bbf21fce942ebdcab9a",
            ),
            (
                10,
                "094dc5487c4554acd1b14d4388ad3be03779d2465e718eea002390f00c4e0068",
            ),
            (
                11,
                "3bf86d2e6e793785d343e155cf1c1781bc412306f089c63fb55bc6ccbf616696",
            ),
            (
                12,
                "031333eeda0d8a1b648977d8672858227663f6027811379e69220d07e0df3ffd",
            ),
        ];
        // Every migration is pinned: adding one means adding its hash here,
        // in the same commit that lands it on main.
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        let pinned_versions: Vec<i64> = pinned.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            versions, pinned_versions,
            "every migration must have its SHA-256 pinned here"
        );
        for (version, hash) in pinned {
            let m = MIGRATIONS
                .iter()
                .find(|m| m.version == *version)
                .expect("a released migration was removed");
            assert_eq!(
                sha256_hex(m.sql.as_bytes()),
                *hash,
                "migration {version} changed"
            );
        }
    }

    #[test]
    fn validate_rejects_gaps_and_transaction_control() {
        let gap = [Migration {
            version: 2,
            name: "gap",
            sql: "CREATE TABLE t (x);",
        }];
        let e = validate_list(&gap).unwrap_err().to_string();
        assert!(e.contains("version must be 1"), "{e}");

        let tx = [Migration {
            version: 1,
            name: "tx",
            sql: "BEGIN TRANSACTION; CREATE TABLE t (x); COMMIT;",
        }];
        let e = validate_list(&tx).unwrap_err().to_string();
        assert!(e.contains("BEGIN TRANSACTION"), "{e}");

        let uv = [Migration {
            version: 1,
            name: "uv",
            sql: "PRAGMA user_version = 7;",
        }];
        assert!(validate_list(&uv).is_err());
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let list = [
            MIGRATIONS[0],
            Migration {
                version: 2,
                name: "broken",
                sql: "CREATE TABLE extra (x INTEGER); SELECT * FROM no_such_table;",
            },
        ];
        let mut conn = Connection::open_in_memory().unwrap();
        let e = migrate(&mut conn, &list).unwrap_err().to_string();
        assert!(e.contains("migrations[2] (broken)"), "{e}");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
        let extra: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(extra, 0, "the failed migration was rolled back whole");
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            migrate(&mut conn, MIGRATIONS),
            Err(StoreError::NewerVersion { found: 99, .. })
        ));
    }
}
