//! PostgreSQL: the thread that owns the client, its connection, and the translation of the
//! store's SQL, values and rows.

use super::*;

/// A PostgreSQL error with the server's message, detail and hint (the crate's `Display` shows
/// only "db error").
pub fn pg_message(e: &::postgres::Error) -> String {
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

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Sql(DbError::Postgres(e))
    }
}

/// The thread that owns a PostgreSQL client. The `postgres` crate's synchronous client runs
/// its own async runtime and refuses to be called from inside another one (the ward page's):
/// every statement is handed to this thread, which has none, and its result handed back.
pub(super) struct PgWorker {
    jobs: Option<std::sync::mpsc::Sender<PgJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Whether a statement may move to a new connection first (only outside a transaction: a
/// transaction's statements never move to another connection).
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
type PgJob = (Reconnect, Box<dyn FnOnce(&mut PgConn) + Send>);

/// Whether an error means the connection to the server was lost (closed, cut, or the server
/// shutting it down: SQLSTATE class 57P), not that the statement was refused.
pub(super) fn connection_lost(e: &StoreError) -> bool {
    match e {
        StoreError::Sql(DbError::Postgres(e)) => {
            e.is_closed()
                || e.code().is_some_and(|c| c.code().starts_with("57P"))
                || (e.code().is_none() && e.as_db_error().is_none())
        }
        _ => false,
    }
}

pub(super) fn worker_gone() -> StoreError {
    StoreError::Corrupt("the connection to the PostgreSQL server is gone".into())
}

impl PgWorker {
    /// Starts the thread and connects from it.
    pub(super) fn start(
        mut connect: impl FnMut() -> Result<::postgres::Client, StoreError> + Send + 'static,
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
    pub(super) fn again<T: Send + 'static, F>(
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
    pub(super) fn call<T: Send + 'static>(
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
pub(super) struct PgConn {
    pub(super) client: ::postgres::Client,
    pub(super) statements: std::collections::HashMap<String, ::postgres::Statement>,
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<::postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(pg_sql(sql).as_ref())?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs `f` with the client, the statement of `sql` and its parameters bound.
    pub(super) fn run<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(
            &mut ::postgres::Client,
            &::postgres::Statement,
            &[&(dyn ::postgres::types::ToSql + Sync)],
        ) -> Result<T, ::postgres::Error>,
    ) -> Result<T, StoreError> {
        let stmt = self.statement(sql)?;
        let p = pg_params(params);
        let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
            p.iter().map(|b| b.as_ref()).collect();
        Ok(f(&mut self.client, &stmt, &refs)?)
    }
}

/// `?1` → `$1` outside quoted text.
pub(super) fn pg_sql(sql: &str) -> std::borrow::Cow<'_, str> {
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

pub(super) fn pg_params(params: &[Value]) -> Vec<Box<dyn ::postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn ::postgres::types::ToSql + Sync> {
            match v {
                // Every NULL the store binds is text (an optional name, time or value).
                Value::Null => Box::new(None::<String>),
                Value::Int(i) => Box::new(*i),
                Value::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

pub(super) fn pg_row(r: &::postgres::Row) -> Result<Row, StoreError> {
    use ::postgres::types::Type;
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

#[cfg(test)]
mod tests {
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
