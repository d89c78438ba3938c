//! Moving a record between backends (`ritplan db copy`): every row as it is (the same MACs
//! under the same key, the same record id), verified on the target before success, and a
//! digest of every row on both sides. The source is opened without upgrading and only read.

use sha2::{Digest, Sha256};

use super::db::{Begin, Db, Value, vals};
use super::keyed::{self, Head};
use super::{COURSE_TABLES, CopyReport, Seed, Store, StoreError, TABLES};

/// Reads the rows of `table` (`filter` binds `?1` to `arg`) in order, and hands each to `f`.
fn rows(
    db: &Db,
    (table, cols, order): (&str, &str, &str),
    filter: Option<(&str, i64)>,
    mut f: impl FnMut(Vec<Value>) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let (sql, params) = match filter {
        Some((col, id)) => (
            format!("SELECT {cols} FROM {table} WHERE {col} = ?1 ORDER BY {order}"),
            vec![Value::Int(id)],
        ),
        None => (
            format!("SELECT {cols} FROM {table} ORDER BY {order}"),
            vec![],
        ),
    };
    let mut n = 0;
    for r in db.query(&sql, &params)? {
        f(r.into_values())?;
        n += 1;
    }
    Ok(n)
}

fn course_filter(table: &str) -> &'static str {
    if table == "courses" {
        "id"
    } else {
        "course_id"
    }
}

fn course_ids(db: &Db) -> Result<Vec<i64>, StoreError> {
    db.query("SELECT id FROM courses ORDER BY id", &[])?
        .into_iter()
        .map(|mut r| r.int())
        .collect()
}

fn insert(db: &Db, table: &str, cols: &str, values: &[Value]) -> Result<(), StoreError> {
    super::made::fault(table)?;
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    db.exec(
        &format!("INSERT INTO {table} ({cols}) VALUES ({})", marks.join(", ")),
        values,
    )?;
    Ok(())
}

fn hash_values(h: &mut Sha256, values: &[Value]) {
    for v in values {
        match v {
            Value::Null => h.update([0u8]),
            Value::Int(i) => {
                h.update([1u8]);
                h.update(i.to_le_bytes());
            }
            Value::Text(s) => {
                h.update([2u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    h.update([0xffu8]);
}

impl Store {
    /// Opens the record at `path` only if it needs no upgrade (a copy never changes its
    /// source).
    pub fn open_unchanged(path: &std::path::Path) -> Result<Store, StoreError> {
        if let Some(url) = super::server_url(path) {
            return super::server::open_at(url, false);
        }
        if path.is_file()
            && let super::Identity::Ritplan(v) = super::identify(path)?
            && v < super::SCHEMA_VERSION
        {
            return Err(StoreError::NeedsUpgrade(format!(
                "{} is a record of schema {v}: open it once with this ritplan (`ritplan verify`; a record without a time zone: `ritplan db migrate --time-zone ZONE`) to upgrade it, then copy it (a copy never changes its source)",
                path.display()
            )));
        }
        Store::open(path)
    }

    /// The SHA-256 of every row of the record (its id and kind, patients, staff, sessions,
    /// settings, then each course with its events and state), as stored: two records with the
    /// same digest hold the same rows, whatever their backend.
    pub fn digest(&self) -> Result<String, StoreError> {
        let mut h = Sha256::new();
        for key in ["record_id", "training"] {
            let v = self
                .db
                .query_opt("SELECT value FROM meta WHERE key = ?1", vals![key])?
                .map(|r| r.into_values())
                .unwrap_or_default();
            hash_values(&mut h, &v);
        }
        let has_frozen = self.schema_version()? >= 6;
        for t in TABLES.iter().filter(|t| has_frozen || t.0 != "frozen") {
            rows(&self.db, *t, None, |v| {
                hash_values(&mut h, &v);
                Ok(())
            })?;
        }
        for id in course_ids(&self.db)? {
            for t in COURSE_TABLES {
                rows(&self.db, *t, Some((course_filter(t.0), id)), |v| {
                    hash_values(&mut h, &v);
                    Ok(())
                })?;
            }
        }
        Ok(keyed::hex(&h.finalize()))
    }

    /// Copies the whole record into a new record at `dest` (a file, or an empty database on a
    /// server) with the same key and id: refuses a source that does not verify, copies every
    /// row in one transaction (course by course, so memory is one course's), writes the heads,
    /// then opens the copy afresh, verifies it in full and compares the digests.
    pub fn copy_to(&self, dest: &std::path::Path) -> Result<CopyReport, StoreError> {
        let v = self.verify_all()?;
        if !v.intact {
            let n = v.problems.len() + v.courses.iter().map(|c| c.problems.len()).sum::<usize>();
            return Err(StoreError::Tampered(format!(
                "{} does not verify ({n} problem{}): nothing was copied. Run `ritplan verify` to investigate",
                self.place,
                if n == 1 { "" } else { "s" }
            )));
        }
        let source_digest = self.digest()?;
        let seed = Seed {
            key: &self.key,
            record_id: &self.meta.record_id,
        };
        let (target, made) = Store::create_seeded(dest, self.meta.training, Some(&seed))?;
        let to = target.place.clone();
        // A copy that fails takes away the record it began: nothing half-copied is left to
        // refuse the next try or to pass for a record.
        let (patients, courses, events) = match self.copy_rows(&target) {
            Ok(n) => n,
            Err(e) => return Err(made.abandon(e, &to, Some(target))),
        };
        drop(target);
        let copy = Store::open(dest)?;
        let verification = copy.verify_all()?;
        let copy_digest = copy.digest()?;
        Ok(CopyReport {
            from: self.place.clone(),
            to,
            patients,
            courses,
            events,
            verification,
            source_digest,
            copy_digest,
        })
    }

    /// Copies every row into the new record `target` (one transaction), then its heads and
    /// counts; returns how many patients, courses and events.
    fn copy_rows(&self, target: &Store) -> Result<(u64, u64, u64), StoreError> {
        let (mut patients, mut courses, mut events) = (0, 0, 0);
        let mut heads = Vec::new();
        {
            let tx = target.db.begin(Begin::Write)?;
            let has_frozen = self.schema_version()? >= 6;
            for t in TABLES.iter().filter(|t| has_frozen || t.0 != "frozen") {
                let n = rows(&self.db, *t, None, |v| insert(&tx, t.0, t.1, &v))?;
                if t.0 == "patients" {
                    patients = n;
                }
            }
            for id in course_ids(&self.db)? {
                for t in COURSE_TABLES {
                    let n = rows(&self.db, *t, Some((course_filter(t.0), id)), |v| {
                        insert(&tx, t.0, t.1, &v)
                    })?;
                    match t.0 {
                        "courses" => courses += n,
                        "events" => events += n,
                        _ => {}
                    }
                }
                // The head is the chain's end as it now stands (the source verified).
                let head = match self.events(id)?.last() {
                    Some(e) => Head {
                        count: e.event.seq,
                        mac: e.hash.clone(),
                    },
                    None => Head {
                        count: 0,
                        mac: Self::course_rows(
                            &self.db,
                            "WHERE id = ?1",
                            Some(id.into()),
                            self.times(),
                        )?
                        .into_iter()
                        .next()
                        .map(|r| r.mac)
                        .unwrap_or_default(),
                    },
                };
                if target.heads.in_database() {
                    target.heads.advance_course(&tx, id, &head)?;
                } else {
                    heads.push((id, head));
                }
            }
            tx.commit()?;
        }
        for (id, head) in heads {
            target.heads.advance_course(&target.db, id, &head)?;
        }
        target.advance_counts()?;
        Ok((patients, courses, events))
    }
}
