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
