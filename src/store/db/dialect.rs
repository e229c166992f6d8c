//! The few places where SQLite and PostgreSQL need different SQL, chosen by
//! backend here and nowhere else. Everything else is written once in the
//! common subset (CAST(… AS BIGINT), `IS DISTINCT FROM`, `RETURNING`,
//! `ON CONFLICT`, `1 = 1` rather than a bare `1`).

use super::{Backend, Conn};

/// SQL fragments for one backend.
#[derive(Debug, Clone, Copy)]
pub struct Dialect(pub Backend);

impl Conn {
    /// The fragments for this connection's backend.
    pub fn dialect(&self) -> Dialect {
        Dialect(self.backend())
    }
}

impl Dialect {
    /// `a = b` ignoring ASCII case. SQLite's column is `COLLATE NOCASE`
    /// (so `=` folds case and uses its index); PostgreSQL's index is on
    /// `lower(column)`.
    pub fn nocase_eq(self, column: &str, param: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("{column} = {param}"),
            Backend::Postgres => format!("lower({column}) = lower({param})"),
        }
    }

    /// The case-insensitive LIKE operator (SQLite's LIKE folds ASCII case,
    /// PostgreSQL's does not).
    pub fn like_nocase(self) -> &'static str {
        match self.0 {
            Backend::Sqlite => "LIKE",
            Backend::Postgres => "ILIKE",
        }
    }

    /// An ORDER BY term sorting `column` ignoring ASCII case.
    pub fn order_nocase(self, column: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("{column} COLLATE NOCASE"),
            Backend::Postgres => format!("lower({column})"),
        }
    }
}

impl Dialect {
    /// The ON CONFLICT target of a key that is unique per practice on the
    /// server (migrations_pg/0002: NHS number, extract id, cache state),
    /// store-wide in a SQLite file, which holds one practice.
    pub fn practice_key(self, columns: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("({columns})"),
            Backend::Postgres => format!("(practice_code, {columns})"),
        }
    }

    /// The ON CONFLICT target of a worklist claim, (practice, extract id):
    /// SQLite's key is an index on `ifnull(practice_code, '')` (a
    /// single-seat file's rows have no practice; migration 12), the server's
    /// the columns themselves (its practice is never NULL; migrations_pg/0003).
    pub fn claim_key(self) -> &'static str {
        match self.0 {
            Backend::Sqlite => "(ifnull(practice_code, ''), extract_id)",
            Backend::Postgres => "(practice_code, extract_id)",
        }
    }

    /// The LIMIT value meaning "no limit": SQLite takes a negative number,
    /// PostgreSQL NULL.
    pub fn no_limit(self) -> super::Value {
        match self.0 {
            Backend::Sqlite => super::Value::Integer(-1),
            Backend::Postgres => super::Value::Null,
        }
    }

    /// An ORDER BY term sorting text by its bytes, as SQLite's BINARY
    /// collation does (PostgreSQL would use the database's locale).
    pub fn order_binary(self, column: &str) -> String {
        match self.0 {
            Backend::Sqlite => column.to_string(),
            Backend::Postgres => format!("{column} COLLATE \"C\""),
        }
    }
}
