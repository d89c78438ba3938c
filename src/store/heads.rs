//! Where a record keeps the heads of its chains and its counts: in files beside an SQLite
//! record ([`Heads`], outside the database, so that a database file rolled back or cut short is
//! seen), or in the `heads` table of a PostgreSQL record (shared by every workstation; a
//! trigger lets a head only move forward and refuses deleting it; written in the same
//! transaction as the event it names).

use super::StoreError;
use super::db::{Begin, Db, vals};
use super::keyed::{Counts, Head, Heads};

/// The name of the counts row in the `heads` table.
const RECORD: &str = "record";

/// Where the heads are.
#[derive(Clone, Debug)]
pub enum HeadStore {
    /// Files beside an SQLite record.
    Files(Heads),
    /// The `heads` table of a server record.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Table,
}

fn course_name(id: i64) -> String {
    format!("course-{id}")
}

impl HeadStore {
    /// Whether the heads are written inside the event's own transaction.
    pub fn in_database(&self) -> bool {
        matches!(self, HeadStore::Table)
    }

    fn read_counts(db: &Db) -> Result<Option<Counts>, StoreError> {
        db.query_opt("SELECT mac FROM heads WHERE name = ?1", vals![RECORD])?
            .map(|mut r| Ok(Counts::parse(&r.text()?)))
            .transpose()
    }

    /// Runs `write` (a change to rows that change in place) and writes the counts it returns
    /// so that a reader under [`HeadStore::shared`] never sees the rows ahead of the digests:
    /// the files' exclusive lock, or one transaction holding the counts row.
    pub fn exclusive<T>(
        &self,
        db: &Db,
        write: impl FnOnce() -> Result<(T, Counts), StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            HeadStore::Files(h) => h.exclusive(write),
            HeadStore::Table => {
                let tx = db.begin(Begin::Write)?;
                let old = tx
                    .query_opt(
                        "SELECT mac FROM heads WHERE name = ?1 FOR UPDATE",
                        vals![RECORD],
                    )?
                    .map(|mut r| r.text().map(|t| Counts::parse(&t)))
                    .transpose()?;
                let (t, c) = write()?;
                let new = old.clone().unwrap_or_default().merged(&c);
                if old.as_ref() != Some(&new) {
                    tx.exec(
                        "INSERT INTO heads (name, count, mac) VALUES (?1, 0, ?2)
                         ON CONFLICT (name) DO UPDATE SET mac = excluded.mac",
                        vals![RECORD, new.text()],
                    )?;
                }
                tx.commit()?;
                Ok(t)
            }
        }
    }

    /// Runs `read` with the record's counts, consistent with the rows it reads (see
    /// [`HeadStore::exclusive`]): the files' shared lock, or one snapshot.
    pub fn shared<T>(
        &self,
        db: &Db,
        read: impl FnOnce(Option<Counts>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            HeadStore::Files(h) => h.shared(read),
            HeadStore::Table => {
                let tx = db.begin(Begin::Snapshot)?;
                let counts = Self::read_counts(&tx)?;
                let t = read(counts)?;
                tx.commit()?;
                Ok(t)
            }
        }
    }

    /// The head of a course's chain, if written.
    pub fn course(&self, db: &Db, id: i64) -> Result<Option<Head>, StoreError> {
        match self {
            HeadStore::Files(h) => h.course(id).map_err(|e| h.io(e)),
            HeadStore::Table => db
                .query_opt(
                    "SELECT count, mac FROM heads WHERE name = ?1",
                    vals![course_name(id)],
                )?
                .map(|mut r| {
                    Ok(Head {
                        count: r.int()?.max(0) as u64,
                        mac: r.text()?,
                    })
                })
                .transpose(),
        }
    }

    /// The heads of several courses' chains (those written), in one query on a server.
    pub fn courses(
        &self,
        db: &Db,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Head>, StoreError> {
        let mut out = std::collections::HashMap::new();
        match self {
            HeadStore::Files(h) => out.extend(h.courses(ids).map_err(|e| h.io(e))?),
            HeadStore::Table => {
                let names: Vec<String> = ids.iter().map(|&id| course_name(id)).collect();
                let sql = format!(
                    "SELECT name, count, mac FROM heads WHERE {}",
                    db.in_list("name", 1, false)
                );
                for mut r in db.query(&sql, &[Db::list(&names)])? {
                    let name = r.text()?;
                    let head = Head {
                        count: r.int()?.max(0) as u64,
                        mac: r.text()?,
                    };
                    if let Some(id) = name.strip_prefix("course-").and_then(|n| n.parse().ok()) {
                        out.insert(id, head);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The courses that have a head.
    pub fn course_ids(&self, db: &Db) -> Result<Vec<i64>, StoreError> {
        match self {
            HeadStore::Files(h) => h.course_ids().map_err(|e| h.io(e)),
            HeadStore::Table => {
                let mut ids = Vec::new();
                for mut r in db.query("SELECT name FROM heads WHERE name LIKE 'course-%'", &[])? {
                    if let Some(id) = r
                        .text()?
                        .strip_prefix("course-")
                        .and_then(|n| n.parse().ok())
                    {
                        ids.push(id);
                    }
                }
                ids.sort_unstable();
                Ok(ids)
            }
        }
    }

    /// Moves a course's head forward (never back). For the table, call it inside the event's
    /// transaction; for the files, after its commit.
    pub fn advance_course(&self, db: &Db, id: i64, head: &Head) -> Result<(), StoreError> {
        match self {
            HeadStore::Files(h) => h.advance_course(id, head).map_err(|e| h.io(e)),
            HeadStore::Table => {
                db.exec(
                    "INSERT INTO heads (name, count, mac) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET count = excluded.count, mac = excluded.mac
                     WHERE heads.count <= excluded.count",
                    vals![
                        course_name(id),
                        i64::try_from(head.count).unwrap_or(i64::MAX),
                        &head.mac
                    ],
                )?;
                Ok(())
            }
        }
    }
}
