//! A small backend-neutral SQL executor: the store's SQL runs on SQLite (the
//! single-seat file) or PostgreSQL (the team store) through one API that
//! mirrors rusqlite's names (`execute`, `query_row`, `query_map`,
//! `prepare_cached`, `optional`), so the store's modules read as before.
//!
//! - SQL is written once, with SQLite's `?N` placeholders; for PostgreSQL
//!   they are rewritten to `$N` ([`placeholders`]). Where the dialects truly
//!   differ, a fragment is chosen by backend in [`dialect`], nowhere else.
//! - Values are SQLite's storage classes ([`Value`]); PostgreSQL columns map
//!   onto them, and parameters are encoded as the type the server expects.
//! - A write is one [`Tx`]: `BEGIN IMMEDIATE` on SQLite (the write lock up
//!   front), `BEGIN` on PostgreSQL, where the store then locks the audit
//!   head (see `Store::write`). Dropped without commit, it rolls back.
//! - PostgreSQL's client needs `&mut` for every call; it sits in a
//!   `RefCell` so that the store's functions keep taking `&Conn` as they
//!   took `&rusqlite::Connection`. Rows are read whole before the caller
//!   sees them, so a callback may run another statement.

pub mod dialect;
mod pg;
pub(crate) mod placeholders;
mod value;

use std::cell::RefCell;
use std::collections::HashMap;

pub(crate) use pg::classify as classify_pg;
pub use pg::{is_pg_url, redact, PgTarget, TlsMode, PG_SCHEMES};
pub(crate) use value::from_sqlite as value_from_sqlite;
pub use value::{FromValue, ToValue, Value};

/// Which database is behind a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the single-seat store).
    Sqlite,
    /// A PostgreSQL server (the team store).
    Postgres,
}

/// Errors of the executor. The store turns them into `StoreError`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From SQLite.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// From PostgreSQL (the server or the connection).
    #[error("{}", pg::describe(.0))]
    Pg(#[from] postgres::Error),
    /// `query_row` found no row (see [`OptionalExtension::optional`]).
    #[error("the query returned no rows")]
    NoRows,
    /// A column could not be read as the type asked for.
    #[error("column {column}: {detail}")]
    Conversion {
        /// Its index.
        column: usize,
        /// Why.
        detail: String,
    },
    /// The executor was used in a way it does not support (a bug).
    #[error("{0}")]
    Usage(String),
}

/// Result of the executor.
pub type Result<T> = std::result::Result<T, Error>;

/// `query_row(…).optional()`: no row is `None`, as in rusqlite.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(Error::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Parameters of a statement.
pub trait Params {
    /// The values, in placeholder order.
    fn into_values(self) -> Vec<Value>;
}

impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Params for &[&dyn ToValue] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl Params for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

/// Parameters from an iterator (as rusqlite's `params_from_iter`).
pub fn params_from_iter<I>(iter: I) -> Vec<Value>
where
    I: IntoIterator,
    I::Item: ToValue,
{
    iter.into_iter().map(|v| v.to_value()).collect()
}

/// `params![a, b, c]`: a parameter list of mixed types, as rusqlite's.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(crate) use params;

/// A connection to either backend.
pub enum Conn {
    /// A SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server (boxed: its client and statement cache are large).
    Pg(Box<PgConn>),
}

/// A PostgreSQL connection with its prepared statements.
pub struct PgConn {
    client: RefCell<postgres::Client>,
    /// Prepared statements by their (rewritten) SQL, as rusqlite's cache.
    cache: RefCell<HashMap<String, postgres::Statement>>,
    target: PgTarget,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conn::Sqlite(_) => f.write_str("Conn::Sqlite"),
            Conn::Pg(p) => write!(f, "Conn::Pg({})", p.target.display()),
        }
    }
}

impl PgConn {
    /// Connects to the server named by `target`.
    pub fn connect(target: &PgTarget) -> Result<PgConn> {
        Ok(PgConn {
            client: RefCell::new(target.connect()?),
            cache: RefCell::new(HashMap::new()),
            target: target.clone(),
        })
    }

    /// Where it is connected (without any password).
    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    fn client(&self) -> Result<std::cell::RefMut<'_, postgres::Client>> {
        self.client.try_borrow_mut().map_err(|_| {
            Error::Usage("a PostgreSQL statement was run while another held the connection".into())
        })
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.cache.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.client()?.prepare(sql)?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn run_query(&self, sql: &str, cached: bool, values: &[Value]) -> Result<Vec<postgres::Row>> {
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        if cached {
            let stmt = self.statement(sql)?;
            Ok(self.client()?.query(&stmt, &refs)?)
        } else {
            Ok(self.client()?.query(sql, &refs)?)
        }
    }

    fn run_execute(&self, sql: &str, cached: bool, values: &[Value]) -> Result<u64> {
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        if cached {
            let stmt = self.statement(sql)?;
            Ok(self.client()?.execute(&stmt, &refs)?)
        } else {
            Ok(self.client()?.execute(sql, &refs)?)
        }
    }

    /// Runs statements without parameters (the simple query protocol).
    pub fn batch_execute(&self, sql: &str) -> Result<()> {
        Ok(self.client()?.batch_execute(sql)?)
    }
}

impl Conn {
    /// Which backend.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, the backup
    /// API, the file checks); `None` on PostgreSQL.
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Some(c),
            Conn::Pg(_) => None,
        }
    }

    /// The SQLite connection, mutably.
    pub fn sqlite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Some(c),
            Conn::Pg(_) => None,
        }
    }

    /// The PostgreSQL connection; `None` on SQLite.
    pub fn pg(&self) -> Option<&PgConn> {
        match self {
            Conn::Pg(p) => Some(&**p),
            Conn::Sqlite(_) => None,
        }
    }

    /// A statement kept prepared for the next call with the same SQL.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>> {
        Ok(Stmt(match self {
            Conn::Sqlite(c) => StmtInner::SqliteCached(c.prepare_cached(sql)?),
            Conn::Pg(p) => StmtInner::Pg {
                conn: p,
                sql: placeholders::to_dollar(sql),
                cached: true,
            },
        }))
    }

    /// A statement for this call only.
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>> {
        Ok(Stmt(match self {
            Conn::Sqlite(c) => StmtInner::Sqlite(c.prepare(sql)?),
            Conn::Pg(p) => StmtInner::Pg {
                conn: p,
                sql: placeholders::to_dollar(sql),
                cached: false,
            },
        }))
    }

    /// Runs one statement; the number of rows changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare(sql)?.execute(params)
    }

    /// The first row, mapped by `f`; [`Error::NoRows`] when there is none.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare(sql)?.query_row(params, f)
    }

    /// Runs several statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(p) => p.batch_execute(sql),
        }
    }

    /// Starts a write transaction: `BEGIN IMMEDIATE` on SQLite (the write
    /// lock taken now, so the busy timeout applies here and the transaction
    /// cannot fail half-way on a lock upgrade), `BEGIN` on PostgreSQL.
    pub fn transaction_immediate(&mut self) -> Result<Tx<'_>> {
        let begin = match self {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE",
            Conn::Pg(_) => "BEGIN",
        };
        self.execute_batch(begin)?;
        Ok(Tx {
            conn: self,
            done: false,
        })
    }
}

/// A transaction. Reads and writes go through it as through the connection
/// (it derefs to [`Conn`]); dropped without [`Tx::commit`], it rolls back.
pub struct Tx<'c> {
    conn: &'c Conn,
    done: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Tx<'_> {
    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        match self.conn {
            Conn::Sqlite(c) => match c.execute_batch("COMMIT") {
                Ok(()) => Ok(()),
                Err(e) => {
                    // As rusqlite's Transaction: a failed commit is rolled back.
                    if !c.is_autocommit() {
                        let _ = c.execute_batch("ROLLBACK");
                    }
                    Err(e.into())
                }
            },
            Conn::Pg(p) => p.batch_execute("COMMIT"),
        }
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Best effort: an error here leaves nothing committed either way.
        match self.conn {
            Conn::Sqlite(c) => {
                if !c.is_autocommit() {
                    let _ = c.execute_batch("ROLLBACK");
                }
            }
            Conn::Pg(p) => {
                let _ = p.batch_execute("ROLLBACK");
            }
        }
    }
}

/// A prepared statement.
pub struct Stmt<'c>(StmtInner<'c>);

enum StmtInner<'c> {
    SqliteCached(rusqlite::CachedStatement<'c>),
    Sqlite(rusqlite::Statement<'c>),
    Pg {
        conn: &'c PgConn,
        sql: String,
        cached: bool,
    },
}

fn sqlite_params(values: &[Value]) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, Value>> {
    rusqlite::params_from_iter(values.iter())
}

impl<'c> Stmt<'c> {
    fn sqlite(&mut self) -> Option<&mut rusqlite::Statement<'c>> {
        match &mut self.0 {
            StmtInner::SqliteCached(s) => Some(s),
            StmtInner::Sqlite(s) => Some(s),
            StmtInner::Pg { .. } => None,
        }
    }

    /// Runs it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = params.into_values();
        if let Some(s) = self.sqlite() {
            return Ok(s.execute(sqlite_params(&values))?);
        }
        let StmtInner::Pg { conn, sql, cached } = &self.0 else {
            unreachable!("not SQLite, so PostgreSQL")
        };
        let n = conn.run_execute(sql, *cached, &values)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Runs it and returns its rows, to walk with [`Rows::next`].
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let values = params.into_values();
        let rows = match &mut self.0 {
            StmtInner::SqliteCached(s) => RowsInner::Sqlite(s.query(sqlite_params(&values))?),
            StmtInner::Sqlite(s) => RowsInner::Sqlite(s.query(sqlite_params(&values))?),
            StmtInner::Pg { conn, sql, cached } => RowsInner::Pg {
                rows: conn.run_query(sql, *cached, &values)?.into_iter(),
                current: None,
            },
        };
        Ok(Rows(rows))
    }

    /// The first row, mapped by `f`; [`Error::NoRows`] when there is none.
    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(r) => f(&r),
            None => Err(Error::NoRows),
        }
    }

    /// Every row, mapped by `f` as it is read.
    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> Result<MappedRows<'_, F>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        Ok(MappedRows {
            rows: self.query(params)?,
            f,
        })
    }

    /// Whether it returns at least one row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        Ok(self.query(params)?.next()?.is_some())
    }
}

/// The rows of a query.
pub struct Rows<'s>(RowsInner<'s>);

enum RowsInner<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Pg {
        rows: std::vec::IntoIter<postgres::Row>,
        current: Option<postgres::Row>,
    },
}

impl Rows<'_> {
    /// The next row, or `None` after the last.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match &mut self.0 {
            RowsInner::Sqlite(r) => Ok(r.next()?.map(Row::Sqlite)),
            RowsInner::Pg { rows, current } => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Pg))
            }
        }
    }
}

/// The rows of [`Stmt::query_map`], each mapped.
pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<T, F> Iterator for MappedRows<'_, F>
where
    F: FnMut(&Row<'_>) -> Result<T>,
{
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        match self.rows.next() {
            Ok(Some(r)) => Some((self.f)(&r)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// One row.
pub enum Row<'a> {
    /// From SQLite.
    Sqlite(&'a rusqlite::Row<'a>),
    /// From PostgreSQL.
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `idx` (from 0) as `T`.
    pub fn get<T: FromValue>(&self, idx: usize) -> Result<T> {
        let v = self.value(idx)?;
        T::from_value(v).map_err(|detail| Error::Conversion {
            column: idx,
            detail,
        })
    }

    /// Column `idx` as it is stored.
    pub fn value(&self, idx: usize) -> Result<Value> {
        match self {
            Row::Sqlite(r) => {
                let v = r.get_ref(idx)?;
                value::from_sqlite(v).map_err(|detail| Error::Conversion {
                    column: idx,
                    detail,
                })
            }
            Row::Pg(r) => value::from_pg(r, idx).map_err(|detail| Error::Conversion {
                column: idx,
                detail,
            }),
        }
    }

    /// Number of columns.
    pub fn column_count(&self) -> usize {
        match self {
            Row::Sqlite(r) => r.as_ref().column_count(),
            Row::Pg(r) => r.len(),
        }
    }
}
