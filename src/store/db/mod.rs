//! The SQL the store runs, on either backend: SQLite (embedded, the default) or PostgreSQL (a
//! clinic's server, feature `postgres`). The store writes one dialect-neutral SQL for nearly
//! everything (`?1` placeholders, rewritten to `$1` for PostgreSQL; integers and text only:
//! flags are 0/1 integers on both) and asks [`Db::dialect`] for the few statements that differ
//! (schema, pragmas, the next course id, locking a course).
//!
//! Rows come back owned ([`Row`]), read column by column in order, so the store's methods keep
//! taking `&self`; PostgreSQL's client lives on a thread of its own (see `PgWorker`). Transactions are
//! explicit ([`Db::begin`]): a guard that rolls back unless committed, and that nests (an inner
//! `begin` joins the outer transaction), so a helper that needs a transaction may be called
//! inside another without committing it early.

use std::cell::Cell;

use rusqlite::Connection;

use super::StoreError;

/// Which SQL dialect a record speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A database error from either backend.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    #[error("{}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
}

/// A PostgreSQL error with the server's message, detail and hint (the crate's `Display` shows
/// only "db error").
#[cfg(feature = "postgres")]
pub fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => {
            let mut s = format!("{}: {}", d.severity(), d.message());
            if let Some(x) = d.detail() {
                s.push_str(&format!(" ({x})"));
            }
            if let Some(x) = d.hint() {
                s.push_str(&format!("; hint: {x}"));
            }
            s
        }
        None => {
            // The source says what failed (a refused connection, a TLS handshake).
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s.push_str(&format!(": {x}"));
                src = x.source();
            }
            s
        }
    }
}

impl DbError {
    /// A unique or primary-key constraint refused the row.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            DbError::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(DbError::Sqlite(e))
    }
}

#[cfg(feature = "postgres")]
impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Sql(DbError::Postgres(e))
    }
}

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (flags are 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Self {
        v.clone().map_or(Value::Null, Into::into)
    }
}

/// The values of a statement's placeholders, in order: `vals![a, b, c]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::db::Value::from($v)),*][..] };
}
pub(crate) use vals;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// One row, owned; read its columns in order with [`Row::int`], [`Row::text`] and the rest.
#[derive(Clone, Debug)]
pub struct Row {
    values: std::vec::IntoIter<Value>,
}

impl Row {
    fn new(values: Vec<Value>) -> Row {
        Row {
            values: values.into_iter(),
        }
    }

    /// Every column left, in order.
    pub fn into_values(self) -> Vec<Value> {
        self.values.collect()
    }

    fn next(&mut self) -> Result<Value, StoreError> {
        self.values
            .next()
            .ok_or_else(|| StoreError::Corrupt("a row has fewer columns than expected".into()))
    }

    /// The next column, an integer.
    pub fn int(&mut self) -> Result<i64, StoreError> {
        match self.next()? {
            Value::Int(i) => Ok(i),
            other => Err(StoreError::Corrupt(format!(
                "expected an integer, found {other:?}"
            ))),
        }
    }

    /// The next column, a 0/1 flag (any non-zero integer is set).
    pub fn flag(&mut self) -> Result<bool, StoreError> {
        Ok(self.int()? != 0)
    }

    /// The next column, text.
    pub fn text(&mut self) -> Result<String, StoreError> {
        self.opt_text()?
            .ok_or_else(|| StoreError::Corrupt("expected text, found NULL".into()))
    }

    /// The next column, text or NULL.
    pub fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        match self.next()? {
            Value::Text(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "expected text, found {other:?}"
            ))),
        }
    }
}

/// What a transaction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// A write: SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so that what the
    /// transaction reads is still true at its commit; PostgreSQL starts a read-committed
    /// transaction and the caller locks the rows it decides on (`SELECT … FOR UPDATE`).
    Write,
    /// A consistent snapshot for reading several tables.
    Snapshot,
}

/// A connection to a record's database.
pub struct Db {
    conn: Conn,
    /// How many transactions are open (inner ones join the outer).
    depth: Cell<u32>,
    /// An inner transaction ended without its commit: the outer one must not commit.
    inner_failed: Cell<bool>,
    /// SQLite: the log kept short (see [`Db::sqlite_record`]).
    log: Option<Log>,
}

/// An SQLite record's write-ahead log: its length in pages after this connection's last
/// commit (told by SQLite's WAL hook), and the length at which it is emptied.
struct Log {
    pages: std::sync::Arc<std::sync::atomic::AtomicI32>,
    limit: i32,
}

/// How long SQLite waits for another process's lock before it gives up (`SQLITE_BUSY`).
pub const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

enum Conn {
    /// The embedded file.
    Sqlite(Connection),
    /// A PostgreSQL server, through the thread that owns its client.
    #[cfg(feature = "postgres")]
    Postgres(PgWorker),
}

/// The thread that owns a PostgreSQL client. The `postgres` crate's synchronous client runs
/// its own async runtime and refuses to be called from inside another one (the ward page's):
/// every statement is handed to this thread, which has none, and its result handed back.
#[cfg(feature = "postgres")]
struct PgWorker {
    jobs: Option<std::sync::mpsc::Sender<PgJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Whether a statement may move to a new connection first (only outside a transaction: a
/// transaction's statements never move to another connection).
#[cfg(feature = "postgres")]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reconnect {
    /// Never (inside a transaction, or its COMMIT and ROLLBACK).
    No,
    /// If the client knows its connection is closed.
    IfClosed,
    /// Now (the statement just failed because the connection was lost).
    Now,
}

/// A statement for the client's thread.
#[cfg(feature = "postgres")]
type PgJob = (Reconnect, Box<dyn FnOnce(&mut PgConn) + Send>);

/// Whether an error means the connection to the server was lost (closed, cut, or the server
/// shutting it down: SQLSTATE class 57P), not that the statement was refused.
#[cfg(feature = "postgres")]
fn connection_lost(e: &StoreError) -> bool {
    match e {
        StoreError::Sql(DbError::Postgres(e)) => {
            e.is_closed()
                || e.code().is_some_and(|c| c.code().starts_with("57P"))
                || (e.code().is_none() && e.as_db_error().is_none())
        }
        _ => false,
    }
}

#[cfg(feature = "postgres")]
fn worker_gone() -> StoreError {
    StoreError::Corrupt("the connection to the PostgreSQL server is gone".into())
}

#[cfg(feature = "postgres")]
impl PgWorker {
    /// Starts the thread and connects from it.
    fn start(
        mut connect: impl FnMut() -> Result<postgres::Client, StoreError> + Send + 'static,
    ) -> Result<PgWorker, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<PgJob>();
        let (ready, connected) = std::sync::mpsc::sync_channel::<Result<(), StoreError>>(1);
        let thread = std::thread::Builder::new()
            .name("ritplan-postgres".into())
            .spawn(move || {
                let mut conn = match connect() {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        PgConn {
                            client,
                            statements: std::collections::HashMap::new(),
                        }
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                while let Ok((reconnect, job)) = queue.recv() {
                    // A connection the server closed (a restart, a network cut) is made again
                    // before a statement outside any transaction; if that fails, the statement
                    // fails as it would have.
                    let lost = match reconnect {
                        Reconnect::No => false,
                        Reconnect::IfClosed => conn.client.is_closed(),
                        Reconnect::Now => true,
                    };
                    if lost && let Ok(client) = connect() {
                        conn = PgConn {
                            client,
                            statements: std::collections::HashMap::new(),
                        };
                    }
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start a thread: {e}")))?;
        connected.recv().map_err(|_| worker_gone())??;
        Ok(PgWorker {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// [`PgWorker::call`] for a statement that may run twice: outside a transaction, a
    /// statement that failed because the server had closed the connection (which the client
    /// learns only then) runs once more on a new one. Only reads and BEGIN go through here: a
    /// write outside a transaction is never repeated (it might have been done).
    fn again<T: Send + 'static, F>(
        &self,
        may_reconnect: bool,
        job: impl Fn() -> F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(&mut PgConn) -> Result<T, StoreError> + Send + 'static,
    {
        match self.call(may_reconnect, job()) {
            // (The client may learn that its connection is closed only a moment after the
            // error: the error itself says so.)
            Err(e) if may_reconnect && connection_lost(&e) => self.send(Reconnect::Now, job()),
            r => r,
        }
    }

    /// Runs `f` on the client's thread and waits for its result.
    fn call<T: Send + 'static>(
        &self,
        may_reconnect: bool,
        f: impl FnOnce(&mut PgConn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reconnect = if may_reconnect {
            Reconnect::IfClosed
        } else {
            Reconnect::No
        };
        self.send(reconnect, f)
    }

    fn send<T: Send + 'static>(
        &self,
        reconnect: Reconnect,
        f: impl FnOnce(&mut PgConn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .ok_or_else(worker_gone)?
            .send((
                reconnect,
                Box::new(move |c: &mut PgConn| {
                    let _ = done.send(f(c));
                }),
            ))
            .map_err(|_| worker_gone())?;
        result.recv().map_err(|_| worker_gone())?
    }
}

#[cfg(feature = "postgres")]
impl Drop for PgWorker {
    fn drop(&mut self) {
        // Closing the queue ends the thread, which closes the connection.
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A PostgreSQL client and the statements it has prepared (each SQL text once per connection:
/// a statement then costs one round trip, not two; the store's texts are a fixed set).
#[cfg(feature = "postgres")]
struct PgConn {
    client: postgres::Client,
    statements: std::collections::HashMap<String, postgres::Statement>,
}

#[cfg(feature = "postgres")]
impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(pg_sql(sql).as_ref())?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs `f` with the client, the statement of `sql` and its parameters bound.
    fn run<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(
            &mut postgres::Client,
            &postgres::Statement,
            &[&(dyn postgres::types::ToSql + Sync)],
        ) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let stmt = self.statement(sql)?;
        let p = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            p.iter().map(|b| b.as_ref()).collect();
        Ok(f(&mut self.client, &stmt, &refs)?)
    }
}

/// A transaction: rolled back when dropped uncommitted. It dereferences to the [`Db`].
pub struct Tx<'a> {
    db: &'a Db,
    outer: bool,
    done: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Tx<'_> {
    /// Commits (a nested transaction leaves the commit to the outer one).
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        self.db.depth.set(self.db.depth.get().saturating_sub(1));
        if self.outer {
            if self.db.inner_failed.replace(false) {
                let _ = self.db.batch_on("ROLLBACK", false);
                return Err(StoreError::Corrupt(
                    "a step of this write failed, so none of it was written".into(),
                ));
            }
            self.db.batch_on("COMMIT", false)?;
            self.db.keep_log_short();
        }
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.db.depth.set(self.db.depth.get().saturating_sub(1));
            if self.outer {
                // Nothing to report to: the error that dropped the transaction is returned.
                self.db.inner_failed.set(false);
                let _ = self.db.batch_on("ROLLBACK", false);
            } else {
                self.db.inner_failed.set(true);
            }
        }
    }
}

/// `?1` → `$1` outside quoted text.
#[cfg(feature = "postgres")]
fn pg_sql(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('?') {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out.into()
}

#[cfg(feature = "postgres")]
fn pg_params(params: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                // Every NULL the store binds is text (an optional name, time or value).
                Value::Null => Box::new(None::<String>),
                Value::Int(i) => Box::new(*i),
                Value::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

#[cfg(feature = "postgres")]
fn pg_row(r: &postgres::Row) -> Result<Row, StoreError> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?
                .map_or(Value::Null, Value::Int)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map_or(Value::Null, |v| Value::Int(v.into()))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map_or(Value::Null, |v| Value::Int(v.into()))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map_or(Value::Null, Value::from)
        } else {
            r.try_get::<_, Option<String>>(i)?
                .map_or(Value::Null, Value::Text)
        };
        out.push(v);
    }
    Ok(Row::new(out))
}

impl Db {
    /// An SQLite connection.
    pub fn sqlite_conn(conn: Connection) -> Db {
        Db {
            conn: Conn::Sqlite(conn),
            depth: Cell::new(0),
            inner_failed: Cell::new(false),
            log: None,
        }
    }

    /// An SQLite record's connection (in WAL mode, not checkpointed when it closes) whose log
    /// is emptied once a commit leaves `limit` pages or more in it.
    ///
    /// Why not SQLite's own automatic checkpoint: it copies the log into the database but
    /// leaves the log in place, to be overwritten from its start by the next write *of the
    /// same process*. Every process that opens the record alone (each CLI command) rebuilds
    /// the log's index by reading the whole log, and forgets what was copied: the log then
    /// only grows, every command reads all of it, and each commit past the limit copies it
    /// all again with two more syncs (seen: a 6.7 MB log, 1 821 reads and 5 syncs for one
    /// dose). A `TRUNCATE` checkpoint empties the file, so the next process reads at most
    /// `limit` pages. It waits for nobody: when another process is reading or writing, it
    /// copies what it can and leaves the emptying to a later commit.
    pub fn sqlite_record(mut conn: Connection, limit: i32) -> Result<Db, StoreError> {
        use std::sync::atomic::{AtomicI32, Ordering};
        let pages = std::sync::Arc::new(AtomicI32::new(0));
        let seen = pages.clone();
        // Replaces SQLite's automatic checkpoint (which is a WAL hook too).
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n| {
            seen.store(n, Ordering::Relaxed);
            Ok(())
        }))?;
        // The pages counted include those left by an earlier process (a log left long by an
        // older ritplan, or one that could not be emptied): the first commit empties it.
        Ok(Db {
            conn: Conn::Sqlite(conn),
            depth: Cell::new(0),
            inner_failed: Cell::new(false),
            log: Some(Log { pages, limit }),
        })
    }

    /// After a commit: empties the log if it has reached its limit (never an error: the
    /// commit is done; a log that cannot be emptied now is emptied by a later commit).
    fn keep_log_short(&self) {
        if let Some(log) = &self.log
            && log.pages.load(std::sync::atomic::Ordering::Relaxed) >= log.limit
        {
            self.checkpoint_log();
        }
    }

    /// Copies the log into the database and empties it, if nobody else is using the record.
    fn checkpoint_log(&self) {
        let (Conn::Sqlite(c), Some(log)) = (&self.conn, &self.log) else {
            return;
        };
        if self.depth.get() > 0 {
            return;
        }
        let _ = c.busy_timeout(std::time::Duration::ZERO);
        if let Ok((n_log, n_done)) =
            c.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::TRUNCATE)
        {
            // Emptied (0, 0); or copied as far as readers allow (what is left is counted).
            log.pages.store(
                n_log.saturating_sub(n_done).max(0),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let _ = c.busy_timeout(SQLITE_BUSY_TIMEOUT);
    }

    /// A PostgreSQL connection, made by `connect` on the thread that will own it.
    #[cfg(feature = "postgres")]
    pub fn postgres(
        connect: impl FnMut() -> Result<postgres::Client, StoreError> + Send + 'static,
    ) -> Result<Db, StoreError> {
        Ok(Db {
            conn: Conn::Postgres(PgWorker::start(connect)?),
            depth: Cell::new(0),
            inner_failed: Cell::new(false),
            log: None,
        })
    }

    /// The SQLite connection, mutably (the schema-1 upgrade).
    pub fn sqlite_mut(&mut self) -> Option<&mut Connection> {
        match &mut self.conn {
            Conn::Sqlite(c) => Some(c),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => None,
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match &self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection (for what only SQLite has: the schema-1 upgrade, pragmas, the
    /// backup).
    pub fn sqlite(&self) -> Option<&Connection> {
        match &self.conn {
            Conn::Sqlite(c) => Some(c),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => None,
        }
    }

    /// Runs one statement; returns the rows changed.
    pub fn exec(&self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params))?)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(w) => {
                let (sql, params) = (sql.to_string(), params.to_vec());
                let n = w.call(self.depth.get() == 0, move |c| {
                    c.run(&sql, &params, |client, stmt, p| client.execute(stmt, p))
                })?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Runs one query; returns every row.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        vals.push(match r.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(i) => Value::Int(i),
                            ValueRef::Text(t) => Value::Text(
                                std::str::from_utf8(t)
                                    .map_err(|e| StoreError::Corrupt(format!("text: {e}")))?
                                    .to_string(),
                            ),
                            other => {
                                return Err(StoreError::Corrupt(format!(
                                    "unexpected {:?} in column {i}",
                                    other.data_type()
                                )));
                            }
                        });
                    }
                    out.push(Row::new(vals));
                }
                Ok(out)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(w) => w.again(self.depth.get() == 0, || {
                let (sql, params) = (sql.to_string(), params.to_vec());
                move |c: &mut PgConn| {
                    let rows = c.run(&sql, &params, |client, stmt, p| client.query(stmt, p))?;
                    rows.iter().map(pg_row).collect()
                }
            }),
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// One integer (a count, a maximum).
    pub fn query_int(&self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))?
            .int()
    }

    /// Runs statements without parameters.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.batch_on(sql, self.depth.get() == 0)
    }

    /// [`Db::batch`]; `may_reconnect` false for a transaction's own COMMIT and ROLLBACK (a
    /// COMMIT on a new connection would "succeed" with nothing to commit).
    fn batch_on(&self, sql: &str, _may_reconnect: bool) -> Result<(), StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            #[cfg(feature = "postgres")]
            Conn::Postgres(w) => w.again(_may_reconnect, || {
                let sql = sql.to_string();
                move |c: &mut PgConn| Ok(c.client.batch_execute(&sql)?)
            }),
        }
    }

    /// Starts a transaction (or joins the one already open).
    pub fn begin(&self, kind: Begin) -> Result<Tx<'_>, StoreError> {
        let depth = &self.depth;
        let outer = depth.get() == 0;
        if outer {
            self.inner_failed.set(false);
            self.batch(match (self.dialect(), kind) {
                (Dialect::Sqlite, Begin::Write) => "BEGIN IMMEDIATE",
                (Dialect::Sqlite, Begin::Snapshot) => "BEGIN DEFERRED",
                (Dialect::Postgres, Begin::Write) => "BEGIN",
                (Dialect::Postgres, Begin::Snapshot) => {
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                }
            })?;
        }
        depth.set(depth.get() + 1);
        Ok(Tx {
            db: self,
            outer,
            done: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Db {
        let db = Db::sqlite_conn(Connection::open_in_memory().expect("memory"));
        db.batch("CREATE TABLE t (x INTEGER)").expect("table");
        db
    }

    fn count(db: &Db) -> i64 {
        db.query_int("SELECT count(*) FROM t", &[]).expect("count")
    }

    #[test]
    fn a_nested_transaction_joins_the_outer_and_a_failed_one_fails_the_outer() {
        let db = memory();
        let outer = db.begin(Begin::Write).expect("begin");
        outer.exec("INSERT INTO t VALUES (1)", &[]).expect("insert");
        let inner = outer.begin(Begin::Write).expect("nested");
        inner.exec("INSERT INTO t VALUES (2)", &[]).expect("insert");
        inner.commit().expect("inner commit leaves it to the outer");
        outer.commit().expect("commit");
        assert_eq!(count(&db), 2);

        let outer = db.begin(Begin::Write).expect("begin");
        outer.exec("INSERT INTO t VALUES (3)", &[]).expect("insert");
        drop(outer.begin(Begin::Write).expect("nested"));
        assert!(
            outer.commit().is_err(),
            "an inner failure fails the whole write"
        );
        assert_eq!(count(&db), 2, "nothing of it written");

        drop(db.begin(Begin::Write).expect("begin"));
        let tx = db
            .begin(Begin::Write)
            .expect("a new transaction starts clean");
        tx.exec("INSERT INTO t VALUES (4)", &[]).expect("insert");
        tx.commit().expect("commit");
        assert_eq!(count(&db), 3);
    }

    #[test]
    fn rows_read_back_in_column_order_with_their_types() {
        let db = memory();
        let mut r = db
            .query_opt("SELECT 7, 'x', NULL, 1", &[])
            .expect("query")
            .expect("row");
        assert_eq!(r.int().expect("int"), 7);
        assert_eq!(r.text().expect("text"), "x");
        assert_eq!(r.opt_text().expect("null"), None);
        assert!(r.flag().expect("flag"));
        assert!(r.int().is_err(), "no more columns");
        let mut r = db
            .query_opt("SELECT 'seven'", &[])
            .expect("query")
            .expect("row");
        assert!(r.int().is_err(), "text is not an integer");
    }
}

#[cfg(all(test, feature = "postgres"))]
mod pg_tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quoted_text() {
        assert_eq!(
            pg_sql("SELECT '?1', a FROM t WHERE b = ?1 AND c = ?12"),
            "SELECT '?1', a FROM t WHERE b = $1 AND c = $12"
        );
        assert_eq!(pg_sql("SELECT 'it''s ?' , ?2"), "SELECT 'it''s ?' , $2");
    }
}
