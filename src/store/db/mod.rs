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

#[cfg(feature = "postgres")]
mod postgres;
mod value;

#[cfg(feature = "postgres")]
pub use postgres::pg_message;
#[cfg(feature = "postgres")]
use postgres::{PgConn, PgWorker, pg_row};
pub(crate) use value::vals;
pub use value::{Row, Value};

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
    Postgres(#[from] ::postgres::Error),
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
            DbError::Postgres(e) => {
                e.code() == Some(&::postgres::error::SqlState::UNIQUE_VIOLATION)
            }
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(DbError::Sqlite(e))
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
    /// How many statements this connection has sent (each one a round trip on a server):
    /// what the tests count to hold a read to a fixed number of queries.
    sent: Cell<u64>,
    /// Frozen texts this connection has read and found to match their digests (see
    /// [`Db::text_checked`]).
    checked_texts: std::cell::RefCell<Vec<(String, std::sync::Arc<str>)>>,
}

/// How many frozen texts a connection remembers as checked: a clinic's record holds a few
/// distinct rule and template texts; past this, texts are hashed each time they are read.
const CHECKED_TEXTS: usize = 32;

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

impl Db {
    /// An SQLite connection.
    pub fn sqlite_conn(conn: Connection) -> Db {
        Db {
            conn: Conn::Sqlite(conn),
            depth: Cell::new(0),
            inner_failed: Cell::new(false),
            log: None,
            sent: Cell::new(0),
            checked_texts: Default::default(),
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
        // Every statement a command sends stays prepared for the rest of the run: a recording
        // sends about 35 distinct ones, and with rusqlite's default of 16 kept, the course's
        // own reads were parsed again inside the transaction.
        conn.set_prepared_statement_cache_capacity(64);
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
            sent: Cell::new(0),
            checked_texts: Default::default(),
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
        connect: impl FnMut() -> Result<::postgres::Client, StoreError> + Send + 'static,
    ) -> Result<Db, StoreError> {
        Ok(Db {
            conn: Conn::Postgres(PgWorker::start(connect)?),
            depth: Cell::new(0),
            inner_failed: Cell::new(false),
            log: None,
            sent: Cell::new(0),
            checked_texts: Default::default(),
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

    /// A frozen text read now, as checked against its digest: the text this connection
    /// found to match the digest before (shared), when `text` is byte for byte that text;
    /// otherwise `check` decides, and a text that passes is remembered. A text is still read
    /// from the database every time and compared whole, so a text changed since is hashed
    /// again, and refused; only the hashing of an unchanged text is saved (a recording reads
    /// its course's 60 KB of frozen rules four times).
    pub fn text_checked(
        &self,
        digest: &str,
        text: String,
        check: impl FnOnce(&str) -> bool,
    ) -> Option<std::sync::Arc<str>> {
        let mut known = self.checked_texts.borrow_mut();
        if let Some((_, t)) = known.iter().find(|(d, t)| d == digest && **t == *text) {
            return Some(std::sync::Arc::clone(t));
        }
        if !check(&text) {
            return None;
        }
        let t: std::sync::Arc<str> = std::sync::Arc::from(text);
        if known.len() >= CHECKED_TEXTS {
            known.remove(0);
        }
        known.retain(|(d, _)| d != digest);
        known.push((digest.to_string(), std::sync::Arc::clone(&t)));
        Some(t)
    }

    /// The text this connection last found to match `digest` (see [`Db::text_checked`]).
    pub fn checked_text(&self, digest: &str) -> Option<std::sync::Arc<str>> {
        self.checked_texts
            .borrow()
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, t)| std::sync::Arc::clone(t))
    }

    /// How many statements (queries, writes, BEGIN and COMMIT) this connection has sent.
    pub fn statements_sent(&self) -> u64 {
        self.sent.get()
    }

    /// A condition that `column` is one of a list bound as one parameter, `?{param}`, whose
    /// value is [`Db::list`]: one statement whatever the list's length (SQLite reads the list
    /// with `json_each`, PostgreSQL with `json_array_elements_text`, both from the same JSON
    /// array; the column's index is used on both). `ints`: the column holds integers.
    ///
    /// On PostgreSQL the list is made an array first (`= ANY(ARRAY(…))`): as `IN (SELECT …)`,
    /// the planner joined the list with a sequential scan of the whole table (every course's
    /// row for 100 of 5 100 courses: 8.7 ms against 0.4 ms through the key).
    pub fn in_list(&self, column: &str, param: usize, ints: bool) -> String {
        match (self.dialect(), ints) {
            (Dialect::Sqlite, _) => format!("{column} IN (SELECT value FROM json_each(?{param}))"),
            (Dialect::Postgres, true) => format!(
                "{column} = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST(CAST(?{param} AS text) AS json))))"
            ),
            (Dialect::Postgres, false) => format!(
                "{column} = ANY(ARRAY(SELECT value FROM json_array_elements_text(CAST(CAST(?{param} AS text) AS json))))"
            ),
        }
    }

    /// The value of a list for [`Db::in_list`]: its items as a JSON array.
    pub fn list<T: serde::Serialize>(items: &[T]) -> Value {
        Value::Text(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
    }

    /// Runs one statement; returns the rows changed.
    pub fn exec(&self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        self.sent.set(self.sent.get() + 1);
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
        self.sent.set(self.sent.get() + 1);
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
        self.sent.set(self.sent.get() + 1);
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

    #[test]
    fn a_checked_text_is_remembered_and_a_changed_one_checked_again() {
        let db = Db::sqlite_conn(Connection::open_in_memory().expect("memory"));
        let checks = Cell::new(0);
        let good = |t: &str| {
            checks.set(checks.get() + 1);
            t.starts_with("good")
        };
        let a = db
            .text_checked("d1", "good text".into(), good)
            .expect("passes");
        let b = db
            .text_checked("d1", "good text".into(), good)
            .expect("same");
        assert_eq!(checks.get(), 1, "the same bytes are not checked again");
        assert!(std::sync::Arc::ptr_eq(&a, &b), "and are shared");
        // The same digest with other bytes (the text changed in the database): checked again,
        // and refused when it fails; the same bytes under another digest are checked too.
        assert!(db.text_checked("d1", "bad text".into(), good).is_none());
        assert!(db.text_checked("d2", "good text".into(), good).is_some());
        assert_eq!(checks.get(), 3);
        // Remembered texts are bounded.
        for i in 0..100 {
            assert!(
                db.text_checked(&format!("k{i}"), format!("good {i}"), good)
                    .is_some()
            );
        }
        assert!(db.checked_texts.borrow().len() <= CHECKED_TEXTS);
        // The newest are still known; the oldest checked again.
        let before = checks.get();
        assert!(db.text_checked("k99", "good 99".into(), good).is_some());
        assert_eq!(checks.get(), before);
        assert!(db.text_checked("d1", "good text".into(), good).is_some());
        assert_eq!(checks.get(), before + 1);
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
    fn a_list_bound_as_one_parameter_matches_its_items_and_nothing_else() {
        let db = memory();
        db.batch("CREATE TABLE u (id INTEGER, name TEXT); INSERT INTO u VALUES (1, 'a'), (2, 'b,c'), (3, 'd\"e'), (4, 'it''s')")
            .expect("rows");
        let ids = |list: &[i64]| -> Vec<i64> {
            db.query(
                &format!(
                    "SELECT id FROM u WHERE {} ORDER BY id",
                    db.in_list("id", 1, true)
                ),
                &[Db::list(list)],
            )
            .expect("query")
            .into_iter()
            .map(|mut r| r.int().expect("id"))
            .collect()
        };
        assert_eq!(ids(&[3, 1, 9]), vec![1, 3]);
        assert_eq!(ids(&[]), Vec::<i64>::new());
        let names = |list: &[&str]| -> Vec<i64> {
            db.query(
                &format!(
                    "SELECT id FROM u WHERE {} ORDER BY id",
                    db.in_list("name", 1, false)
                ),
                &[Db::list(list)],
            )
            .expect("query")
            .into_iter()
            .map(|mut r| r.int().expect("id"))
            .collect()
        };
        // A comma, a double quote and a single quote inside an item are the item's own.
        assert_eq!(names(&["b,c", "d\"e", "it's"]), vec![2, 3, 4]);
        assert_eq!(names(&["b", "c", "a"]), vec![1]);
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
