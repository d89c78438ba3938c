//! The record store: SQLite (bundled), one file, created on first use with mode 0600.
//!
//! - Patients, courses (each with a frozen copy of its template text, its rules files and its
//!   plan, so later edits to `schedules/` or `rules/` never change a running course), and an
//!   **append-only** event log: SQL triggers refuse UPDATE and DELETE on events.
//! - Each event stores who recorded it, when it happened, when it was recorded, and a SHA-256
//!   hash chained to the previous event of the course; [`Store::verify`] recomputes the chain.
//! - WAL mode and a busy timeout, and every append runs in one `BEGIN IMMEDIATE` transaction that
//!   reads the course's events, lets the caller check the new event against them, and inserts it:
//!   two nurses recording at once are serialised, and the second sees the first's record.
//!   A refused record writes nothing.
//!
//! The store decides nothing clinical: the check passed to [`Store::append`] does.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::course::{Event, EventKind};

/// The schema version this code writes (SQLite `user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Migrations, in order: migration N brings the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE patients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    dob          TEXT NOT NULL,
    weight_kg    TEXT NOT NULL,
    sige         TEXT NOT NULL,
    total_ige    TEXT NOT NULL,
    fev1_percent TEXT,
    asthma       TEXT,
    beta_blocker INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE TABLE courses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id    TEXT NOT NULL REFERENCES patients(id),
    template_id   TEXT NOT NULL,
    rule_set      TEXT NOT NULL,
    template_text TEXT NOT NULL,
    rules_json    TEXT NOT NULL,
    plan_json     TEXT NOT NULL,
    inputs_json   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE TABLE events (
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    seq          INTEGER NOT NULL,
    body_json    TEXT NOT NULL,
    happened_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    late_entered INTEGER NOT NULL DEFAULT 0,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (course_id, seq)
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correction instead'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correction instead'); END;
CREATE TRIGGER courses_no_update BEFORE UPDATE ON courses
BEGIN SELECT RAISE(ABORT, 'a course''s frozen template, rules and plan never change'); END;
CREATE TRIGGER courses_no_delete BEFORE DELETE ON courses
BEGIN SELECT RAISE(ABORT, 'courses are never deleted'); END;
"#];

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be created or opened.
    #[error("cannot open the record database {path}: {message}")]
    Open {
        /// Where.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The database was written by a newer ritplan.
    #[error(
        "the record database is at schema version {found}; this ritplan knows up to {SCHEMA_VERSION}: upgrade ritplan"
    )]
    TooNew {
        /// The version found.
        found: i64,
    },
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored record could not be read back.
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// The record already exists.
    #[error("{0}")]
    Exists(String),
}

/// A stored patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PatientRecord {
    /// Clinic id.
    pub id: String,
    /// Name, as the clinic writes it.
    pub name: String,
    /// Date of birth.
    pub dob: chrono::NaiveDate,
    /// Weight, kg, as entered.
    pub weight_kg: String,
    /// Mite sIgE, as entered (may be censored).
    pub sige: String,
    /// Total IgE, as entered.
    pub total_ige: String,
    /// FEV1 % predicted.
    pub fev1_percent: Option<String>,
    /// Asthma control.
    pub asthma: Option<String>,
    /// Beta-blocker use.
    pub beta_blocker: bool,
}

/// A course to create.
#[derive(Clone, Debug)]
pub struct NewCourse {
    /// The patient.
    pub patient_id: String,
    /// Template id.
    pub template_id: String,
    /// Course rule set id.
    pub rule_set: String,
    /// The template's TOML text, frozen.
    pub template_text: String,
    /// The rules files, frozen: JSON object of file name → text.
    pub rules_json: String,
    /// The plan, frozen, as JSON.
    pub plan_json: String,
    /// The planner's inputs (start, calendar, pretreatment, accepted risk), as JSON.
    pub inputs_json: String,
}

/// A stored course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseRecord {
    /// Course id.
    pub id: i64,
    /// Patient id.
    pub patient_id: String,
    /// Template id.
    pub template_id: String,
    /// Course rule set id.
    pub rule_set: String,
    /// Frozen template text.
    #[serde(skip)]
    pub template_text: String,
    /// Frozen rules files (JSON object of name → text).
    #[serde(skip)]
    pub rules_json: String,
    /// Frozen plan (JSON).
    #[serde(skip)]
    pub plan_json: String,
    /// Planner inputs (JSON).
    #[serde(skip)]
    pub inputs_json: String,
    /// When it was started.
    pub created_at: NaiveDateTime,
    /// Who started it.
    pub created_by: String,
}

/// A stored event with its audit fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// When it was recorded.
    pub recorded_at: NaiveDateTime,
    /// Entered after the fact (`--at` in the past).
    pub late_entered: bool,
    /// The previous event's hash ("" for the first).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// When it happened.
    pub at: NaiveDateTime,
    /// Who records it.
    pub by: String,
    /// When it is recorded.
    pub recorded_at: NaiveDateTime,
    /// Entered after the fact.
    pub late_entered: bool,
}

/// The outcome of [`Store::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Course id.
    pub course: i64,
    /// Events checked.
    pub events: usize,
    /// Whether every hash and link holds.
    pub intact: bool,
    /// Each problem found.
    pub problems: Vec<String>,
}

/// Why an append did not happen: the caller's check refused it, or the store failed.
#[derive(Debug)]
pub enum AppendError<E> {
    /// The check refused the event; nothing was written.
    Refused(E),
    /// The store failed; nothing was written.
    Store(StoreError),
}

impl<E> From<rusqlite::Error> for AppendError<E> {
    fn from(e: rusqlite::Error) -> Self {
        AppendError::Store(StoreError::Sql(e))
    }
}

impl<E> From<StoreError> for AppendError<E> {
    fn from(e: StoreError) -> Self {
        AppendError::Store(e)
    }
}

/// What a check may read inside an append's transaction.
pub struct TxView<'a> {
    conn: &'a Connection,
}

impl TxView<'_> {
    /// A course's events, as committed before this transaction.
    pub fn events(&self, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        Store::read_events(self.conn, course)
    }

    /// The ids of a patient's courses.
    pub fn course_ids_of(&self, patient: &str) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM courses WHERE patient_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([patient], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The record store.
pub struct Store {
    conn: Connection,
}

const TIME: &str = "%Y-%m-%dT%H:%M:%S";

fn time_text(t: NaiveDateTime) -> String {
    t.format(TIME).to_string()
}

fn parse_time(s: &str) -> Result<NaiveDateTime, StoreError> {
    NaiveDateTime::parse_from_str(s, TIME)
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

/// One row of the events table, as stored.
struct RawEvent {
    seq: i64,
    body: String,
    happened: String,
    recorded: String,
    by: String,
    late: bool,
    prev: String,
    hash: String,
}

const EVENT_COLS: &str =
    "seq, body_json, happened_at, recorded_at, recorded_by, late_entered, prev_hash, hash";

impl RawEvent {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
        Ok(RawEvent {
            seq: r.get(0)?,
            body: r.get(1)?,
            happened: r.get(2)?,
            recorded: r.get(3)?,
            by: r.get(4)?,
            late: r.get::<_, i64>(5)? != 0,
            prev: r.get(6)?,
            hash: r.get(7)?,
        })
    }

    /// The hash of the row's content, chained to `prev`: every field, length-prefixed.
    fn compute_hash(&self, course: i64) -> String {
        let mut h = Sha256::new();
        let (course, seq) = (course.to_string(), self.seq.to_string());
        let late = if self.late { "1" } else { "0" };
        for part in [
            &self.prev,
            &course,
            &seq,
            &self.body,
            &self.happened,
            &self.recorded,
            &self.by,
            late,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let mut out = String::with_capacity(64);
        for b in h.finalize() {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    fn load(conn: &Connection, course: i64) -> Result<Vec<RawEvent>, StoreError> {
        let mut stmt = conn.prepare(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE course_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([course], RawEvent::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn decode(self) -> Result<StoredEvent, StoreError> {
        let kind: EventKind = serde_json::from_str(&self.body)
            .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", self.seq)))?;
        Ok(StoredEvent {
            event: Event {
                seq: self.seq as u64,
                at: parse_time(&self.happened)?,
                by: self.by,
                kind,
            },
            recorded_at: parse_time(&self.recorded)?,
            late_entered: self.late,
            prev_hash: self.prev,
            hash: self.hash,
        })
    }
}

/// The default database path: `$XDG_DATA_HOME/ritplan/ritplan.db`, else
/// `$HOME/.local/share/ritplan/ritplan.db`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("ritplan").join("ritplan.db"))
}

impl Store {
    /// Opens (creating with mode 0600 if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        if !path.exists() {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            o.open(path).map_err(|e| open_err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found: version });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx =
                rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Exclusive)?;
            // Another process may have migrated between our read and our lock.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Adds a patient; an id already used is refused.
    pub fn add_patient(
        &self,
        p: &PatientRecord,
        at: NaiveDateTime,
        by: &str,
    ) -> Result<(), StoreError> {
        let r = self.conn.execute(
            "INSERT INTO patients (id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![p.id, p.name, p.dob.to_string(), p.weight_kg, p.sige, p.total_ige, p.fev1_percent, p.asthma, p.beta_blocker, time_text(at), by],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Exists(format!(
                    "a patient with the id {:?} already exists",
                    p.id
                )))
            }
            other => other.map(|_| ()).map_err(StoreError::from),
        }
    }

    fn patient_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(PatientRecord, String)> {
        let dob: String = r.get(2)?;
        Ok((
            PatientRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                dob: chrono::NaiveDate::MIN,
                weight_kg: r.get(3)?,
                sige: r.get(4)?,
                total_ige: r.get(5)?,
                fev1_percent: r.get(6)?,
                asthma: r.get(7)?,
                beta_blocker: r.get::<_, i64>(8)? != 0,
            },
            dob,
        ))
    }

    fn finish_patient((mut p, dob): (PatientRecord, String)) -> Result<PatientRecord, StoreError> {
        p.dob = dob
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("date of birth {dob:?}: {e}")))?;
        Ok(p)
    }

    const PATIENT_COLS: &'static str =
        "id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker";

    /// One patient.
    pub fn patient(&self, id: &str) -> Result<Option<PatientRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {} FROM patients WHERE id = ?1", Self::PATIENT_COLS),
                [id],
                Self::patient_row,
            )
            .optional()?;
        row.map(Self::finish_patient).transpose()
    }

    /// All patients, by id.
    pub fn patients(&self) -> Result<Vec<PatientRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} FROM patients ORDER BY id",
            Self::PATIENT_COLS
        ))?;
        let rows = stmt.query_map([], Self::patient_row)?;
        rows.map(|r| Self::finish_patient(r?)).collect()
    }

    /// Creates a course; returns its id.
    pub fn add_course(
        &self,
        c: &NewCourse,
        at: NaiveDateTime,
        by: &str,
    ) -> Result<i64, StoreError> {
        if self.patient(&c.patient_id)?.is_none() {
            return Err(StoreError::NotFound(format!(
                "no patient has the id {:?}",
                c.patient_id
            )));
        }
        self.conn.execute(
            "INSERT INTO courses (patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![c.patient_id, c.template_id, c.rule_set, c.template_text, c.rules_json, c.plan_json, c.inputs_json, time_text(at), by],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn course_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(CourseRecord, String)> {
        Ok((
            CourseRecord {
                id: r.get(0)?,
                patient_id: r.get(1)?,
                template_id: r.get(2)?,
                rule_set: r.get(3)?,
                template_text: r.get(4)?,
                rules_json: r.get(5)?,
                plan_json: r.get(6)?,
                inputs_json: r.get(7)?,
                created_at: NaiveDateTime::MIN,
                created_by: r.get(9)?,
            },
            r.get(8)?,
        ))
    }

    const COURSE_COLS: &'static str = "id, patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by";

    /// One course.
    pub fn course(&self, id: i64) -> Result<Option<CourseRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {} FROM courses WHERE id = ?1", Self::COURSE_COLS),
                [id],
                Self::course_row,
            )
            .optional()?;
        row.map(|(mut c, t)| {
            c.created_at = parse_time(&t)?;
            Ok(c)
        })
        .transpose()
    }

    /// All courses, by id.
    pub fn courses(&self) -> Result<Vec<CourseRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} FROM courses ORDER BY id",
            Self::COURSE_COLS
        ))?;
        let rows = stmt.query_map([], Self::course_row)?;
        rows.map(|r| {
            let (mut c, t) = r?;
            c.created_at = parse_time(&t)?;
            Ok(c)
        })
        .collect()
    }

    fn read_events(conn: &Connection, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        RawEvent::load(conn, course)?
            .into_iter()
            .map(RawEvent::decode)
            .collect()
    }

    /// A course's events, in order.
    pub fn events(&self, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        Self::read_events(&self.conn, course)
    }

    /// The courses of one patient, by id.
    pub fn courses_of(&self, patient: &str) -> Result<Vec<CourseRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} FROM courses WHERE patient_id = ?1 ORDER BY id",
            Self::COURSE_COLS
        ))?;
        let rows = stmt.query_map([patient], Self::course_row)?;
        rows.map(|r| {
            let (mut c, t) = r?;
            c.created_at = parse_time(&t)?;
            Ok(c)
        })
        .collect()
    }

    /// Appends one event in a single immediate transaction: reads the course's events, calls
    /// `check` with them and a view of the database inside the same transaction (to read the
    /// patient's other courses: no other writer can change them until the commit), and inserts
    /// the event the check returns, chained to the last hash. A refusal or an error writes
    /// nothing.
    pub fn append<E>(
        &mut self,
        course: i64,
        check: impl FnOnce(&[StoredEvent], &TxView<'_>) -> Result<NewEvent, E>,
    ) -> Result<StoredEvent, AppendError<E>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM courses WHERE id = ?1", [course], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Err(AppendError::Store(StoreError::NotFound(format!(
                "no course has the id {course}"
            ))));
        }
        let events = Self::read_events(&tx, course)?;
        let new = check(&events, &TxView { conn: &tx }).map_err(AppendError::Refused)?;
        let seq = events.last().map_or(1, |e| e.event.seq + 1);
        let prev = events.last().map(|e| e.hash.clone()).unwrap_or_default();
        let body =
            serde_json::to_string(&new.kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut raw = RawEvent {
            seq: seq as i64,
            body,
            happened: time_text(new.at),
            recorded: time_text(new.recorded_at),
            by: new.by,
            late: new.late_entered,
            prev,
            hash: String::new(),
        };
        raw.hash = raw.compute_hash(course);
        tx.execute(
            &format!("INSERT INTO events (course_id, {EVENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![course, raw.seq, raw.body, raw.happened, raw.recorded, raw.by, raw.late, raw.prev, raw.hash],
        )?;
        tx.commit()?;
        Ok(raw.decode()?)
    }

    /// Recomputes a course's hash chain from the stored bytes.
    pub fn verify(&self, course: i64) -> Result<Verification, StoreError> {
        let rows = RawEvent::load(&self.conn, course)?;
        let mut problems = Vec::new();
        let mut prev = String::new();
        for (i, row) in rows.iter().enumerate() {
            let seq = row.seq;
            if seq != i as i64 + 1 {
                problems.push(format!("event {seq}: expected number {}", i + 1));
            }
            if row.prev != prev {
                problems.push(format!(
                    "event {seq}: its link to the previous event does not match"
                ));
            }
            if row.compute_hash(course) != row.hash {
                problems.push(format!(
                    "event {seq}: its content does not match its hash (changed after recording)"
                ));
            }
            if serde_json::from_str::<EventKind>(&row.body).is_err() {
                problems.push(format!("event {seq}: unreadable"));
            }
            prev = row.hash.clone();
        }
        Ok(Verification {
            course,
            events: rows.len(),
            intact: problems.is_empty(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{AllergenUnit, Dose, Volume, parse_decimal};

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    fn patient() -> PatientRecord {
        PatientRecord {
            id: "P1".into(),
            name: "Zhāng Wěi".into(),
            dob: "1990-05-01".parse().expect("date"),
            weight_kg: "70".into(),
            sige: "<0.35".into(),
            total_ige: "410".into(),
            fev1_percent: Some("92".into()),
            asthma: Some("controlled".into()),
            beta_blocker: false,
        }
    }

    fn store_with_course() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Store::open(&dir.path().join("sub/r.db")).expect("open");
        s.add_patient(&patient(), t("2026-12-01 09:00"), "dr a")
            .expect("patient");
        let id = s
            .add_course(
                &NewCourse {
                    patient_id: "P1".into(),
                    template_id: "x".into(),
                    rule_set: "norwegian-guide".into(),
                    template_text: "id = \"x\"".into(),
                    rules_json: "{}".into(),
                    plan_json: "{}".into(),
                    inputs_json: "{}".into(),
                },
                t("2026-12-01 09:00"),
                "dr a",
            )
            .expect("course");
        (dir, s, id)
    }

    fn dose_event() -> EventKind {
        EventKind::DoseGiven {
            step: 1,
            vial: "1".into(),
            volume_ml: Volume::from_ml(parse_decimal("0.1").expect("d")),
            dose: Dose::new(parse_decimal("10").expect("d"), AllergenUnit::SqU),
            lot: Some("L1".into()),
            site: Some("left".into()),
            pef_percent: Some(parse_decimal("95.5").expect("d")),
            screen_ok: true,
            override_reason: None,
        }
    }

    fn ev(kind: EventKind, at: &str) -> NewEvent {
        NewEvent {
            kind,
            at: t(at),
            by: "nurse b".into(),
            recorded_at: t(at),
            late_entered: false,
        }
    }

    #[test]
    fn created_with_mode_0600_and_migrated() {
        let (dir, s, _) = store_with_course();
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("v");
        assert_eq!(v, SCHEMA_VERSION);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sub/r.db"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Re-opening migrates nothing and keeps the data.
        drop(s);
        let s = Store::open(&dir.path().join("sub/r.db")).expect("reopen");
        assert_eq!(s.patients().expect("patients"), vec![patient()]);
    }

    #[test]
    fn events_round_trip_exactly_and_chain() {
        let (_d, mut s, c) = store_with_course();
        let a = s
            .append(c, |_, _| {
                Ok::<_, String>(ev(dose_event(), "2026-12-07 08:00"))
            })
            .map_err(|_| ())
            .expect("append");
        let b = s
            .append(c, |prior, _| {
                assert_eq!(prior.len(), 1);
                Ok::<_, String>(ev(
                    EventKind::ObservationEnded {
                        local_mm: Some(12),
                        not_assessable: false,
                        early_reason: None,
                    },
                    "2026-12-07 08:30",
                ))
            })
            .map_err(|_| ())
            .expect("append");
        assert_eq!(b.prev_hash, a.hash);
        let events = s.events(c).expect("events");
        assert_eq!(events[0].event.kind, dose_event());
        assert_eq!(events[1].event.seq, 2);
        assert!(s.verify(c).expect("verify").intact);
    }

    #[test]
    fn a_refused_event_writes_nothing() {
        let (_d, mut s, c) = store_with_course();
        let r = s.append(c, |_, _| Err::<NewEvent, _>("too early"));
        assert!(matches!(r, Err(AppendError::Refused("too early"))));
        assert!(s.events(c).expect("events").is_empty());
    }

    #[test]
    fn events_cannot_be_updated_or_deleted() {
        let (_d, mut s, c) = store_with_course();
        s.append(c, |_, _| {
            Ok::<_, String>(ev(dose_event(), "2026-12-07 08:00"))
        })
        .map_err(|_| ())
        .expect("append");
        let upd = s
            .conn
            .execute("UPDATE events SET recorded_by = 'someone else'", []);
        assert!(upd.is_err_and(|e| e.to_string().contains("append-only")));
        assert!(s.conn.execute("DELETE FROM events", []).is_err());
        assert!(
            s.conn
                .execute("UPDATE courses SET plan_json = '{}'", [])
                .is_err()
        );
        assert_eq!(s.events(c).expect("events").len(), 1);
    }

    #[test]
    fn tampering_is_detected() {
        let (_d, mut s, c) = store_with_course();
        for (k, at) in [
            (dose_event(), "2026-12-07 08:00"),
            (
                EventKind::ObservationEnded {
                    local_mm: Some(5),
                    not_assessable: false,
                    early_reason: None,
                },
                "2026-12-07 08:30",
            ),
        ] {
            s.append(c, |_, _| Ok::<_, String>(ev(k, at)))
                .map_err(|_| ())
                .expect("append");
        }
        // Someone with the file and sqlite3 drops the trigger and edits a record.
        s.conn
            .execute_batch("DROP TRIGGER events_no_update; UPDATE events SET body_json = replace(body_json, '5', '50') WHERE seq = 2;")
            .expect("tamper");
        let v = s.verify(c).expect("verify");
        assert!(!v.intact);
        assert!(v.problems[0].contains("event 2"), "{v:?}");
    }

    #[test]
    fn duplicate_patients_and_unknown_courses_are_refused() {
        let (_d, mut s, _) = store_with_course();
        assert!(matches!(
            s.add_patient(&patient(), t("2026-12-01 09:00"), "x"),
            Err(StoreError::Exists(_))
        ));
        assert!(matches!(
            s.append(99, |_, _| Ok::<_, String>(ev(
                dose_event(),
                "2026-12-07 08:00"
            ))),
            Err(AppendError::Store(StoreError::NotFound(_)))
        ));
    }

    fn file_bytes(dir: &std::path::Path) -> Vec<Vec<u8>> {
        ["sub/r.db", "sub/r.db-wal"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Whatever was recorded before, a refused append leaves the database files
        /// byte-for-byte as they were, and the chain stays intact.
        #[test]
        fn a_refused_append_changes_no_byte(plan in proptest::collection::vec(proptest::prelude::any::<bool>(), 1..12)) {
            let (dir, mut s, c) = store_with_course();
            for (i, accept) in plan.into_iter().enumerate() {
                let before = file_bytes(dir.path());
                let r = s.append(c, |_, _| if accept { Ok(ev(EventKind::Note { text: format!("n{i}") }, "2026-12-07 08:00")) } else { Err("refused") });
                if accept {
                    proptest::prop_assert!(r.is_ok());
                } else {
                    proptest::prop_assert!(matches!(r, Err(AppendError::Refused("refused"))));
                    proptest::prop_assert_eq!(before, file_bytes(dir.path()));
                }
            }
            proptest::prop_assert!(s.verify(c).expect("verify").intact);
        }
    }
}
