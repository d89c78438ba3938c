//! The record store: SQLite (bundled), one file, created explicitly (`ritplan init`) with mode
//! 0600, never by opening.
//!
//! - Patients, courses (each with a frozen copy of its template text, its rules files and its
//!   plan, so later edits to `schedules/` or `rules/` never change a running course), staff
//!   accounts, sessions, settings, and an **append-only** event log: SQL triggers refuse UPDATE
//!   and DELETE on events, patients and courses.
//! - Every row that decides a dose carries an HMAC-SHA-256 under a key kept outside the
//!   database ([`keyed`]); each course's events are chained to one another and to the course row;
//!   the heads of the chains are also written outside the database. [`Store::verify`] and
//!   [`Store::verify_all`] recompute everything.
//! - WAL mode and a busy timeout, and every append runs in one `BEGIN IMMEDIATE` transaction that
//!   reads the course's events, lets the caller check the new event against them (and against
//!   the patient's other courses, through [`TxView`]), and inserts it: two nurses recording at
//!   once are serialised, and the second sees the first's record. A refused record writes
//!   nothing.
//! - Opening refuses a file that does not exist, is not an SQLite database, or is a database
//!   ritplan did not create, before writing anything to it. A record of schema 1 is upgraded in
//!   place: its unkeyed chains are verified first, and each course's keyed chain starts from a
//!   migration event.
//!
//! The store decides nothing clinical: the check passed to [`Store::append`] does.

mod copy;
pub mod db;
mod heads;
pub mod keyed;
mod made;
mod migrate;
#[cfg(feature = "postgres")]
pub mod server;
mod staff;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use db::{Begin, Db, Row, vals};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::course::{Event, EventKind};
use heads::HeadStore;
use keyed::{Counts, Head, Heads, Key};
pub use staff::{SessionRow, StaffRow};

/// The schema version this code writes (SQLite `user_version`).
pub const SCHEMA_VERSION: i64 = 3;

/// SQLite `application_id` of a ritplan record ("RITP").
pub const APPLICATION_ID: i64 = 0x5249_5450;

/// Schema 1: patients, courses, events with an unkeyed SHA-256 chain.
const SCHEMA_1: &str = r#"
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
"#;

/// Schema 3: each course's derived state (active or not, its number of events, its latest
/// event time), kept by every write in the same transaction so that the board, the sheet and
/// `course list --active` read only what is live. A hint, never trusted over replay: MACed,
/// compared with the chain's length on every read, and a course without one is read anyway.
/// Rows with `events = -1` (written by the upgrade from schema 2) are rebuilt by replay.
const SCHEMA_3: &str = r#"
CREATE TABLE course_state (
    course_id INTEGER PRIMARY KEY REFERENCES courses(id),
    active    INTEGER NOT NULL,
    events    INTEGER NOT NULL,
    last_at   TEXT NOT NULL,
    mac       TEXT NOT NULL
);
CREATE INDEX course_state_live ON course_state(active, last_at);
CREATE INDEX course_state_rebuild ON course_state(course_id) WHERE events < 0;
"#;

/// Schema 2, the columns and tables: who recorded (staff account and OS user), MACs, staff,
/// sessions, settings, and the record's identity.
const SCHEMA_2: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE staff (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    mac          TEXT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff(id),
    os_user    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used  TEXT NOT NULL,
    ended      INTEGER NOT NULL DEFAULT 0,
    mac        TEXT NOT NULL
);
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    mac        TEXT NOT NULL
);
ALTER TABLE patients ADD COLUMN created_by_staff TEXT;
ALTER TABLE patients ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE courses ADD COLUMN created_by_staff TEXT;
ALTER TABLE courses ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
ALTER TABLE courses ADD COLUMN keyed_from INTEGER NOT NULL DEFAULT 1;
ALTER TABLE courses ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN staff_id TEXT;
ALTER TABLE events ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN out_of_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX courses_patient ON courses(patient_id);
CREATE INDEX patients_dob ON patients(dob);
"#;

/// The row triggers of schema 2 (created after a migration has filled in the MACs).
const TRIGGERS_2: &str = r#"
DROP TRIGGER IF EXISTS courses_no_update;
CREATE TRIGGER courses_no_update BEFORE UPDATE ON courses
BEGIN SELECT RAISE(ABORT, 'a course''s frozen template, rules and plan never change'); END;
CREATE TRIGGER patients_no_update BEFORE UPDATE ON patients
BEGIN SELECT RAISE(ABORT, 'patients are never changed in place'); END;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
BEGIN SELECT RAISE(ABORT, 'patients are never deleted'); END;
"#;

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
    /// There is no record at the path.
    #[error(
        "there is no record database at {0}: check --db or RITPLAN_DB, or create one with `ritplan init`"
    )]
    Missing(PathBuf),
    /// The file is not a ritplan record; it was not changed.
    #[error("{path} is not a ritplan record ({what}); it was not changed")]
    Foreign {
        /// Where.
        path: PathBuf,
        /// What it is.
        what: String,
    },
    /// The database was written by a newer ritplan.
    #[error(
        "the record database is at schema version {found}; this ritplan knows up to {SCHEMA_VERSION}: upgrade ritplan"
    )]
    TooNew {
        /// The version found.
        found: i64,
    },
    /// The record needs an upgrade that was not allowed here (a copy's source).
    #[error("{0}")]
    NeedsUpgrade(String),
    /// The database reported an error.
    #[error("database error: {0}")]
    Sql(db::DbError),
    /// A stored record could not be read back.
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
    /// The record fails verification.
    #[error("{0}")]
    Tampered(String),
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// The record already exists.
    #[error("{0}")]
    Exists(String),
    /// A file beside the record (the heads) could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Creating or copying a record failed after the new record was begun: why, and what
    /// became of what was made (taken away, or what to remove by hand).
    #[error("{cause}; {left}")]
    Unfinished {
        /// Why it failed.
        cause: Box<StoreError>,
        /// What was left.
        left: String,
    },
}

/// Who writes a row: the name shown, the authenticated staff account, and the OS user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// The name recorded (the staff member's name).
    pub name: String,
    /// The staff account (`None` only for the record's own upgrade).
    pub staff_id: Option<String>,
    /// The operating-system user who ran the command.
    pub os_user: String,
}

/// The record's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Meta {
    /// A random id, tying sessions and the key file to this record.
    pub record_id: String,
    /// A training record: the clock may be set with `RITPLAN_NOW`.
    pub training: bool,
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
    /// The staff account that recorded it (`None`: before staff accounts; the name is not
    /// authenticated).
    pub staff_id: Option<String>,
    /// The OS user who ran the command.
    pub os_user: String,
    /// When it was recorded.
    pub recorded_at: NaiveDateTime,
    /// Entered after the fact (`--at` in the past).
    pub late_entered: bool,
    /// Its time (or the time of recording) is earlier than the course's previous event's.
    pub out_of_order: bool,
    /// The previous event's MAC ("" or the course's MAC for the first).
    pub prev_hash: String,
    /// This event's MAC (a SHA-256 for events from before the keyed chain).
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
    pub by: Author,
    /// When it is recorded.
    pub recorded_at: NaiveDateTime,
    /// Entered after the fact.
    pub late_entered: bool,
    /// Whether the course is active after this event, as the application layer replayed it
    /// (kept in `course_state`, a derived hint).
    pub active: bool,
    /// The login session that records it (its token's hash), marked used at `recorded_at` in
    /// the same transaction: one commit for the entry and the session's idle clock.
    pub session: Option<String>,
}

/// The outcome of [`Store::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Course id.
    pub course: i64,
    /// Events checked.
    pub events: usize,
    /// Whether every MAC, link and head holds.
    pub intact: bool,
    /// Each problem found.
    pub problems: Vec<String>,
    /// What is not a failure but worth knowing (events after the last head: a crash after a
    /// commit).
    pub notes: Vec<String>,
}

/// The outcome of [`Store::verify_all`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordVerification {
    /// Every course.
    pub courses: Vec<Verification>,
    /// Problems outside the courses' chains: patients, staff, settings, sessions, counts.
    pub problems: Vec<String>,
    /// Whether everything holds.
    pub intact: bool,
}

/// Why an append did not happen: the caller's check refused it, or the store failed.
#[derive(Debug)]
pub enum AppendError<E> {
    /// The check refused the event; nothing was written.
    Refused(E),
    /// The store failed; nothing was written.
    Store(StoreError),
}

impl<E> From<StoreError> for AppendError<E> {
    fn from(e: StoreError) -> Self {
        AppendError::Store(e)
    }
}

/// What a check may read inside an append's transaction.
pub struct TxView<'a> {
    store: &'a Store,
}

impl TxView<'_> {
    /// A course's events, as committed before this transaction, after verifying the course
    /// inside it (refused with [`StoreError::Tampered`] unless intact).
    pub fn events(&self, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self.store.verified_events(course)?.1)
    }

    /// The ids of a patient's courses.
    pub fn course_ids_of(&self, patient: &str) -> Result<Vec<i64>, StoreError> {
        self.store
            .db
            .query(
                "SELECT id FROM courses WHERE patient_id = ?1 ORDER BY id",
                vals![patient],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }
}

/// The record store.
pub struct Store {
    db: Db,
    key: Key,
    heads: HeadStore,
    meta: Meta,
    /// Where the record is, for messages: the file, or the server's URL without a password.
    place: String,
    /// Its key file.
    key_file: PathBuf,
}

/// The first key of PostgreSQL advisory locks on a patient's courses, and on new course ids.
const LOCK_PATIENT: i64 = 0x5249_5401;
const LOCK_COURSE_IDS: i64 = 0x5249_5402;

/// What a copy of a record keeps: its key and its id.
pub struct Seed<'a> {
    key: &'a Key,
    record_id: &'a str,
}

/// The tables a copy moves and a digest covers, each with its columns (the same lists the
/// store reads and writes them with) and its order; events are moved course by course.
const TABLES: &[(&str, &str, &str)] = &[
    ("patients", Store::PATIENT_COLS, "id"),
    ("staff", staff::STAFF_COLS, "id"),
    ("sessions", staff::SESSION_COLS, "token_hash"),
    ("settings", staff::SETTING_COLS, "key"),
];

const COURSE_TABLES: &[(&str, &str, &str)] = &[
    ("courses", Store::COURSE_COLS, "id"),
    ("events", EVENT_ROW_COLS, "seq"),
    ("course_state", STATE_COLS, "course_id"),
];

/// The columns of a course's derived state row.
const STATE_COLS: &str = "course_id, active, events, last_at, mac";

/// What [`Store::copy_to`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Where from and to (no password).
    pub from: String,
    /// Where to.
    pub to: String,
    /// Patients copied.
    pub patients: u64,
    /// Courses copied.
    pub courses: u64,
    /// Events copied.
    pub events: u64,
    /// The copy, opened afresh and verified.
    pub verification: RecordVerification,
    /// The SHA-256 of every row of the source and of the copy ([`Store::digest`]).
    pub source_digest: String,
    /// See `source_digest`.
    pub copy_digest: String,
}

/// The URL of a record on a PostgreSQL server, if `db` names one (`postgres://…` or
/// `postgresql://…`) rather than a file.
pub fn server_url(db: &Path) -> Option<&str> {
    db.to_str()
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

#[cfg(not(feature = "postgres"))]
mod server {
    use super::{Store, StoreError};

    fn unsupported(url: &str) -> StoreError {
        StoreError::Open {
            path: url.into(),
            message: "this ritplan was built without PostgreSQL (feature `postgres`)".into(),
        }
    }

    pub fn create(
        url: &str,
        _training: bool,
        _seed: Option<&super::Seed<'_>>,
    ) -> Result<(Store, super::made::Made), StoreError> {
        Err(unsupported(url))
    }

    pub fn discard(store: Store) -> Result<(), StoreError> {
        Err(unsupported(&store.place))
    }

    pub fn open_at(url: &str, _upgrade: bool) -> Result<Store, StoreError> {
        Err(unsupported(url))
    }
}

const TIME: &str = "%Y-%m-%dT%H:%M:%S";

fn time_text(t: NaiveDateTime) -> String {
    t.format(TIME).to_string()
}

fn parse_time(s: &str) -> Result<NaiveDateTime, StoreError> {
    NaiveDateTime::parse_from_str(s, TIME)
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

/// The MAC of a course's derived state row.
fn state_mac(key: &Key, course: i64, active: bool, events: i64, last_at: &str) -> String {
    key.mac(&[
        "course_state",
        &course.to_string(),
        flag(active),
        &events.to_string(),
        last_at,
    ])
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
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
    staff_id: Option<String>,
    os_user: String,
    out_of_order: bool,
    keyed: bool,
}

macro_rules! event_cols {
    () => {
        "seq, body_json, happened_at, recorded_at, recorded_by, late_entered, prev_hash, hash, staff_id, os_user, out_of_order, keyed"
    };
}

/// The columns of an event, without its course.
const EVENT_COLS: &str = event_cols!();

/// The columns of an event row, its course first.
const EVENT_ROW_COLS: &str = concat!("course_id, ", event_cols!());

impl RawEvent {
    fn from_row(mut r: Row) -> Result<RawEvent, StoreError> {
        Ok(RawEvent {
            seq: r.int()?,
            body: r.text()?,
            happened: r.text()?,
            recorded: r.text()?,
            by: r.text()?,
            late: r.flag()?,
            prev: r.text()?,
            hash: r.text()?,
            staff_id: r.opt_text()?,
            os_user: r.text()?,
            out_of_order: r.flag()?,
            keyed: r.flag()?,
        })
    }

    /// The unkeyed hash of schema 1, chained to `prev`: every field, length-prefixed.
    fn sha_hash(&self, course: i64) -> String {
        let mut h = Sha256::new();
        let (course, seq) = (course.to_string(), self.seq.to_string());
        for part in [
            &self.prev,
            &course,
            &seq,
            &self.body,
            &self.happened,
            &self.recorded,
            &self.by,
            flag(self.late),
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

    /// The keyed MAC: every field, the link to the previous event and the course row's MAC.
    fn mac(&self, key: &Key, course: i64, course_mac: &str) -> String {
        let (course, seq) = (course.to_string(), self.seq.to_string());
        key.mac(&[
            "event",
            course_mac,
            &self.prev,
            &course,
            &seq,
            &self.body,
            &self.happened,
            &self.recorded,
            &self.by,
            self.staff_id.as_deref().unwrap_or(""),
            &self.os_user,
            flag(self.late),
            flag(self.out_of_order),
        ])
    }

    /// Inserts this event as course `course`'s.
    fn insert(&self, db: &Db, course: i64) -> Result<(), StoreError> {
        db.exec(
            &format!("INSERT INTO events ({EVENT_ROW_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            vals![course, self.seq, &self.body, &self.happened, &self.recorded, &self.by, self.late, &self.prev, &self.hash, &self.staff_id, &self.os_user, self.out_of_order, self.keyed],
        )?;
        Ok(())
    }

    fn load(db: &Db, course: i64) -> Result<Vec<RawEvent>, StoreError> {
        db.query(
            &format!("SELECT {EVENT_COLS} FROM events WHERE course_id = ?1 ORDER BY seq"),
            vals![course],
        )?
        .into_iter()
        .map(RawEvent::from_row)
        .collect()
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
            staff_id: self.staff_id,
            os_user: self.os_user,
            recorded_at: parse_time(&self.recorded)?,
            late_entered: self.late,
            out_of_order: self.out_of_order,
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

/// What a file at the path is, looked at read-only.
enum Identity {
    Ritplan(i64),
    Foreign(String),
}

/// The application id and user version in an SQLite file's header (bytes 68 and 60, big
/// endian), if it has one. The log may hold newer values: a hint for the fast path only.
fn header(path: &Path) -> Option<(i64, i64)> {
    use std::io::Read as _;
    let mut b = [0u8; 100];
    std::fs::File::open(path).ok()?.read_exact(&mut b).ok()?;
    if &b[..16] != b"SQLite format 3\0" {
        return None;
    }
    let word = |at: usize| i64::from(u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]));
    Some((word(68), word(60)))
}

fn identify(path: &Path) -> Result<Identity, StoreError> {
    let conn = match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(c) => c,
        Err(e) => {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    let probe = || -> rusqlite::Result<(i64, i64, Vec<String>)> {
        let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let mut stmt =
            conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
        let tables = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((app, version, tables))
    };
    let (app, version, tables) = match probe() {
        Ok(x) => x,
        Err(_) => return Ok(Identity::Foreign("not an SQLite database".into())),
    };
    let ours = ["courses", "events", "patients"]
        .iter()
        .all(|t| tables.iter().any(|x| x == t));
    Ok(match (app, version) {
        (APPLICATION_ID, v) => Identity::Ritplan(v),
        (0, 1) if ours => Identity::Ritplan(1),
        (0, 0) if tables.is_empty() => {
            Identity::Foreign("an empty database; create a record with `ritplan init`".into())
        }
        (0, _) => Identity::Foreign(format!(
            "an SQLite database of another program (tables: {})",
            if tables.is_empty() {
                "none".to_string()
            } else {
                tables.join(", ")
            }
        )),
        (other, _) => Identity::Foreign(format!(
            "an SQLite database of another program (application id {other:#x})"
        )),
    })
}

impl Store {
    fn connect(path: &Path) -> Result<Db, StoreError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(|e| {
                StoreError::Open {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
        conn.busy_timeout(db::SQLITE_BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // FULL: each commit syncs the WAL, so a recorded dose survives a power cut (NORMAL
        // would lose the last commits). The WAL is kept between processes (no checkpoint when
        // a process closes the record): a recording command then costs that one sync, not the
        // four of creating, checkpointing and deleting the WAL each time. The log is emptied
        // into the database once it holds 64 pages (about 16 recordings; see
        // `Db::sqlite_record`); copy the record with the backup API (`ritplan db backup`, or
        // sqlite3's `.backup`), never the file alone.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "journal_size_limit", 1 << 20)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        Db::sqlite_record(conn, 64)
    }

    /// Creates a new record at `path` (its folder is created if needed): the database (mode
    /// 0600), its key file and its heads folder. Refuses if anything is already there.
    pub fn create(path: &Path, training: bool) -> Result<Store, StoreError> {
        Self::create_seeded(path, training, None).map(|(store, _)| store)
    }

    /// [`Store::create`], with a given key and record id (a copy of a record); also returns
    /// what was made, for a copy that fails to take away again. A creation that fails takes
    /// away what it made itself.
    fn create_seeded(
        path: &Path,
        training: bool,
        seed: Option<&Seed<'_>>,
    ) -> Result<(Store, made::Made), StoreError> {
        if let Some(url) = server_url(path) {
            return server::create(url, training, seed);
        }
        if path.exists() || keyed::key_path(path).exists() || keyed::heads_path(path).exists() {
            return Err(StoreError::Exists(format!(
                "{} (or its key file or heads folder) already exists: a record is never created over another",
                path.display()
            )));
        }
        let mut made = made::Made::files();
        match Self::create_files(path, training, seed, &mut made) {
            Ok(store) => Ok((store, made)),
            Err(e) => {
                let place = path.display().to_string();
                Err(made.abandon(e, &place, None))
            }
        }
    }

    /// The files of a new record at `path`, each noted in `made` as soon as it is there.
    fn create_files(
        path: &Path,
        training: bool,
        seed: Option<&Seed<'_>>,
        made: &mut made::Made,
    ) -> Result<Store, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        keyed::make_parent(path).map_err(|e| open_err(e.to_string()))?;
        keyed::create_private(path).map_err(|e| open_err(e.to_string()))?;
        made.database(path);
        let key = match seed {
            Some(s) => {
                s.key
                    .copy_to(path)
                    .map_err(|e| open_err(format!("cannot write the key file: {e}")))?;
                s.key.clone()
            }
            None => Key::create(path)?,
        };
        made.path(keyed::key_path(path));
        made::fault("the key file")?;
        let heads = Heads::of(path);
        heads.create().map_err(|source| StoreError::Io {
            path: keyed::heads_path(path),
            source,
        })?;
        made.path(keyed::heads_path(path));
        made::fault("the heads")?;
        let db = Self::connect(path)?;
        let record_id = match seed {
            Some(s) => s.record_id.to_string(),
            None => keyed::hex(&keyed::random::<16>()?),
        };
        let tx = db.begin(Begin::Write)?;
        tx.batch(SCHEMA_1)?;
        tx.batch(SCHEMA_2)?;
        tx.batch(TRIGGERS_2)?;
        tx.batch(SCHEMA_3)?;
        tx.exec(
            "INSERT INTO meta (key, value) VALUES ('record_id', ?1), ('training', ?2)",
            vals![&record_id, flag(training)],
        )?;
        tx.batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        tx.commit()?;
        let store = Store {
            db,
            key,
            heads: HeadStore::Files(heads),
            meta: Meta {
                record_id,
                training,
            },
            place: path.display().to_string(),
            key_file: keyed::key_path(path),
        };
        store.advance_counts()?;
        made::fault("the counts")?;
        Ok(store)
    }

    /// Opens the record at `path`: refuses a missing file, a file that is not a ritplan record
    /// (unchanged), a newer schema, a missing key; upgrades a schema-1 record in place.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(url) = server_url(path) {
            return server::open_at(url, true);
        }
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        // A current record whose file header says so is opened with one connection; anything
        // else is first looked at through a read-only one (which costs a second reading of the
        // log and the schema).
        let current = header(path) == Some((APPLICATION_ID, SCHEMA_VERSION));
        let version = if current {
            SCHEMA_VERSION
        } else {
            match identify(path)? {
                Identity::Ritplan(v) => v,
                Identity::Foreign(what) => {
                    return Err(StoreError::Foreign {
                        path: path.to_path_buf(),
                        what,
                    });
                }
            }
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found: version });
        }
        if version < 2 {
            // Refuse a broken record before the read-write connection touches its header.
            let ro = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            migrate::check_schema_1(&ro)?;
        }
        let db = Self::connect(path)?;
        if current {
            // The header in the file may be older than the log: the version as the log has it.
            let now = db.query_int("PRAGMA user_version", &[])?;
            if now > SCHEMA_VERSION {
                return Err(StoreError::TooNew { found: now });
            }
        }
        let heads = Heads::of(path);
        let key = if version < 2 {
            migrate::migrate_1_to_2(&db, path)?
        } else {
            Key::load(path)?
        };
        if version < 3 {
            // Every course gets a state row marked "to rebuild" (and so read as live).
            let tx = db.begin(Begin::Write)?;
            tx.batch(SCHEMA_3)?;
            Self::mark_states_to_rebuild(&tx, &key)?;
            tx.batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
            tx.commit()?;
        }
        let meta = Self::read_meta(&db)?;
        if !heads.exists() {
            return Err(StoreError::Tampered(format!(
                "the heads folder {} is missing: it is created with the record and must be restored with it",
                keyed::heads_path(path).display()
            )));
        }
        let store = Store {
            db,
            key,
            heads: HeadStore::Files(heads),
            meta,
            place: path.display().to_string(),
            key_file: keyed::key_path(path),
        };
        if version < 2 {
            // The digests of the (new, empty) staff and settings tables.
            store.advance_counts()?;
        }
        Ok(store)
    }

    /// Gives every course a state row marked "to rebuild" (by replay, in the ward).
    fn mark_states_to_rebuild(db: &Db, key: &Key) -> Result<(), StoreError> {
        for mut r in db.query("SELECT id FROM courses ORDER BY id", &[])? {
            let id = r.int()?;
            let mac = state_mac(key, id, true, -1, "");
            db.exec(
                &format!("INSERT INTO course_state ({STATE_COLS}) VALUES (?1, 1, -1, '', ?2)"),
                vals![id, mac],
            )?;
        }
        Ok(())
    }

    /// The record's identity, from its `meta` table.
    fn read_meta(db: &Db) -> Result<Meta, StoreError> {
        let get = |k: &str| -> Result<Option<String>, StoreError> {
            db.query_opt("SELECT value FROM meta WHERE key = ?1", vals![k])?
                .map(|mut r| r.text())
                .transpose()
        };
        Ok(Meta {
            record_id: get("record_id")?
                .ok_or_else(|| StoreError::Corrupt("the record has no id".into()))?,
            training: get("training")?.as_deref() == Some("1"),
        })
    }

    /// Backs the record up to `dest`: the database through SQLite's `VACUUM INTO` (a
    /// consistent snapshot, the write-ahead log included, which copying the file would miss),
    /// its key file and its heads, written privately, under the heads' shared lock so that the
    /// copy's digests match its rows (heads first, then the database: the copy's database is
    /// never behind its heads). Then the copy is opened and verified in full. Refuses if
    /// anything is already at `dest`.
    pub fn backup_to(&self, dest: &Path) -> Result<RecordVerification, StoreError> {
        let io = |path: &Path, source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if dest.exists() || keyed::key_path(dest).exists() || keyed::heads_path(dest).exists() {
            return Err(StoreError::Exists(format!(
                "{} (or its key file or heads folder) already exists: a backup is never written over another file",
                dest.display()
            )));
        }
        let HeadStore::Files(heads) = &self.heads else {
            return Err(StoreError::Open {
                path: dest.to_path_buf(),
                message: "a record on a PostgreSQL server is backed up with pg_dump, or copied to a file with `ritplan db copy`".into(),
            });
        };
        let target = dest.to_str().ok_or_else(|| StoreError::Open {
            path: dest.to_path_buf(),
            message: "the backup's path is not UTF-8".into(),
        })?;
        // A backup that fails on the way (a full disk) takes away what it wrote: a half
        // backup would refuse the next try and could pass for a backup.
        keyed::make_parent(dest).map_err(|e| io(dest, e))?;
        let mut made = made::Made::files();
        let written = heads
            .shared(|_| {
                let to = Heads::of(dest);
                to.create().map_err(|e| io(&keyed::heads_path(dest), e))?;
                made.path(keyed::heads_path(dest));
                heads
                    .copy_into(&to)
                    .map_err(|e| io(&keyed::heads_path(dest), e))?;
                made::fault("the heads")?;
                drop(keyed::create_private(dest).map_err(|e| io(dest, e))?);
                made.database(dest);
                if let Some(conn) = self.db.sqlite() {
                    conn.execute("VACUUM INTO ?1", [target])?;
                }
                made::fault("the database")
            })
            .and_then(|()| {
                self.key
                    .copy_to(dest)
                    .map_err(|e| io(&keyed::key_path(dest), e))?;
                made.path(keyed::key_path(dest));
                made::fault("the key file")
            });
        if let Err(e) = written {
            return Err(made.abandon(e, target, None));
        }
        Store::open(dest)?.verify_all()
    }

    /// A MAC under the record's key, for tokens the application layer hands out.
    pub(crate) fn mac(&self, parts: &[&str]) -> String {
        self.key.mac(parts)
    }

    /// Where the record is: its file, or its server's URL without the password.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The record's key file.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// Whether the record is on a server (its heads in its database, not in files).
    pub fn on_server(&self) -> bool {
        self.heads.in_database()
    }

    /// The record's identity.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    fn count(&self, table: &str) -> Result<u64, StoreError> {
        let n = self
            .db
            .query_int(&format!("SELECT count(*) FROM {table}"), &[])?;
        Ok(n.max(0) as u64)
    }

    /// The counts and digests of the database as it is now.
    fn current_counts(&self) -> Result<Counts, StoreError> {
        self.counts_by(Self::count)
    }

    /// The counts and digests, with the patients and courses counted by `rows` (every row, or
    /// [`Store::newest`]); staff and settings are small tables, counted and digested in full.
    fn counts_by(
        &self,
        rows: impl Fn(&Self, &str) -> Result<u64, StoreError>,
    ) -> Result<Counts, StoreError> {
        Ok(Counts {
            patients: rows(self, "patients")?,
            courses: rows(self, "courses")?,
            staff: self.count("staff")?,
            staff_rows: Some(self.table_digest("staff", "id")?),
            settings_rows: Some(self.table_digest("settings", "key")?),
        })
    }

    /// How many rows an append-only table (patients, courses) holds as far as its newest row
    /// tells: its rowid on SQLite (rows are numbered from 1 and never deleted, so the newest
    /// row's number is the count, and a missing last row lowers it; from an index, whatever
    /// the table's size), a count on PostgreSQL.
    fn newest(&self, table: &str) -> Result<u64, StoreError> {
        let n = match self.db.dialect() {
            db::Dialect::Sqlite => self
                .db
                .query_int(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"), &[])?,
            db::Dialect::Postgres => self
                .db
                .query_int(&format!("SELECT count(*) FROM {table}"), &[])?,
        };
        Ok(n.max(0) as u64)
    }

    /// The MAC over every row's own MAC of a table whose rows change in place.
    fn table_digest(&self, table: &str, id: &str) -> Result<String, StoreError> {
        let rows: Vec<(String, String)> = self
            .db
            .query(&format!("SELECT {id}, mac FROM {table} ORDER BY {id}"), &[])?
            .into_iter()
            .map(|mut r| Ok((r.text()?, r.text()?)))
            .collect::<Result<_, StoreError>>()?;
        let mut parts = vec![table];
        for (id, mac) in &rows {
            parts.push(id);
            parts.push(mac);
        }
        Ok(self.key.mac(&parts))
    }

    fn advance_counts(&self) -> Result<(), StoreError> {
        self.heads
            .exclusive(&self.db, || Ok(((), self.current_counts()?)))
    }

    /// Runs a change to the staff or settings tables and writes their digests outside the
    /// database under the same lock (see [`Heads::exclusive`]).
    pub(super) fn accounts_write<T>(
        &self,
        write: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.heads.exclusive(&self.db, || {
            let t = write()?;
            Ok((t, self.current_counts()?))
        })
    }

    /// Staff, settings and session rows whose MAC does not hold, and what does not match
    /// between those tables (and the row counts) and the record file outside the database: a
    /// deleted row, or a row put back to an older copy.
    pub fn account_problems(&self) -> Result<Vec<String>, StoreError> {
        self.account_problems_counting(true)
    }

    /// [`Store::account_problems`]; `exact` false for the check every command makes: the
    /// patients and courses are not counted row by row (that would cost every command time in
    /// proportion to every patient and course ever recorded) but by their newest row, which
    /// finds a record put back to an older copy, or its last rows deleted. A row deleted from
    /// the middle is found by `ritplan verify` (which counts them all) and by the verification
    /// of its own course whenever that course is used.
    fn account_problems_counting(&self, exact: bool) -> Result<Vec<String>, StoreError> {
        self.heads.shared(&self.db, |head| {
            let Some(head) = head else {
                return Ok(vec![
                    "the record's counts outside the database are missing".into(),
                ]);
            };
            let mut problems = self.staff_problems()?;
            let now = if exact {
                self.current_counts()?
            } else {
                self.counts_by(Self::newest)?
            };
            for (what, head, now) in [
                ("patients", head.patients, now.patients),
                ("courses", head.courses, now.courses),
                ("staff accounts", head.staff, now.staff),
            ] {
                if now < head {
                    problems.push(format!(
                        "{} {what} missing: the record held {head}, it holds {now}",
                        head - now
                    ));
                }
            }
            for (what, head, now) in [
                ("staff accounts", head.staff_rows, now.staff_rows),
                ("settings", head.settings_rows, now.settings_rows),
            ] {
                if head != now {
                    problems.push(format!(
                        "the {what} do not match their digest outside the database: a row was deleted, added, or put back to an older copy of itself"
                    ));
                }
            }
            Ok(problems)
        })
    }

    /// Fails with [`StoreError::Tampered`] unless the staff and settings tables match the
    /// record file outside the database (see [`Store::account_problems`]).
    pub fn verify_accounts(&self) -> Result<(), StoreError> {
        let problems = self.account_problems_counting(false)?;
        if problems.is_empty() {
            return Ok(());
        }
        Err(StoreError::Tampered(format!(
            "the record's accounts do not verify, so nobody is logged in or recorded: {}. Run `ritplan verify` to investigate, and restore the record from a backup",
            problems.join("; ")
        )))
    }

    fn patient_mac(key: &Key, r: &PatientRow) -> String {
        key.mac(&[
            "patient",
            &r.p.id,
            &r.p.name,
            &r.dob_text,
            &r.p.weight_kg,
            &r.p.sige,
            &r.p.total_ige,
            r.p.fev1_percent.as_deref().unwrap_or("\u{0}"),
            r.p.asthma.as_deref().unwrap_or("\u{0}"),
            flag(r.p.beta_blocker),
            &r.created_at,
            &r.created_by,
            r.created_by_staff.as_deref().unwrap_or(""),
            &r.os_user,
        ])
    }

    /// Adds a patient; an id already used is refused.
    pub fn add_patient(
        &self,
        p: &PatientRecord,
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<(), StoreError> {
        Self::insert_patient(&self.db, &self.key, p, at, by)?;
        self.advance_counts()
    }

    /// Adds several patients in one transaction: all of them, or none.
    pub fn add_patients(
        &mut self,
        ps: &[PatientRecord],
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin(Begin::Write)?;
        for p in ps {
            Self::insert_patient(&tx, &self.key, p, at, by)?;
        }
        tx.commit()?;
        self.advance_counts()
    }

    fn insert_patient(
        db: &Db,
        key: &Key,
        p: &PatientRecord,
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<(), StoreError> {
        let row = PatientRow {
            p: p.clone(),
            dob_text: p.dob.to_string(),
            created_at: time_text(at),
            created_by: by.name.clone(),
            created_by_staff: by.staff_id.clone(),
            os_user: by.os_user.clone(),
            mac: String::new(),
        };
        let mac = Self::patient_mac(key, &row);
        let r = db.exec(
            "INSERT INTO patients (id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker, created_at, created_by, created_by_staff, os_user, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            vals![&p.id, &p.name, &row.dob_text, &p.weight_kg, &p.sige, &p.total_ige, &p.fev1_percent, &p.asthma, p.beta_blocker, &row.created_at, &row.created_by, &row.created_by_staff, &row.os_user, mac],
        );
        match r {
            Err(StoreError::Sql(e)) if e.is_unique_violation() => Err(StoreError::Exists(format!(
                "a patient with the id {:?} already exists",
                p.id
            ))),
            other => {
                other?;
                Ok(())
            }
        }
    }

    const PATIENT_COLS: &'static str = "id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker, created_at, created_by, created_by_staff, os_user, mac";

    fn patient_row(mut r: Row) -> Result<PatientRow, StoreError> {
        let (id, name, dob_text) = (r.text()?, r.text()?, r.text()?);
        Ok(PatientRow {
            p: PatientRecord {
                id,
                name,
                dob: chrono::NaiveDate::MIN,
                weight_kg: r.text()?,
                sige: r.text()?,
                total_ige: r.text()?,
                fev1_percent: r.opt_text()?,
                asthma: r.opt_text()?,
                beta_blocker: r.flag()?,
            },
            dob_text,
            created_at: r.text()?,
            created_by: r.text()?,
            created_by_staff: r.opt_text()?,
            os_user: r.text()?,
            mac: r.text()?,
        })
    }

    fn finish_patient(mut r: PatientRow) -> Result<PatientRecord, StoreError> {
        r.p.dob = r
            .dob_text
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("date of birth {:?}: {e}", r.dob_text)))?;
        Ok(r.p)
    }

    fn patient_rows(&self, filter: Option<&str>) -> Result<Vec<PatientRow>, StoreError> {
        let sql = match filter {
            Some(_) => format!("SELECT {} FROM patients WHERE id = ?1", Self::PATIENT_COLS),
            None => format!("SELECT {} FROM patients ORDER BY id", Self::PATIENT_COLS),
        };
        let rows = match filter {
            Some(id) => self.db.query(&sql, vals![id])?,
            None => self.db.query(&sql, &[])?,
        };
        rows.into_iter().map(Self::patient_row).collect()
    }

    /// One patient.
    pub fn patient(&self, id: &str) -> Result<Option<PatientRecord>, StoreError> {
        self.patient_rows(Some(id))?
            .into_iter()
            .next()
            .map(Self::finish_patient)
            .transpose()
    }

    /// The patients born on `dob`, by id (for look-alikes: indexed, not a scan of the ward).
    pub fn patients_born(&self, dob: NaiveDate) -> Result<Vec<PatientRecord>, StoreError> {
        self.db
            .query(
                &format!(
                    "SELECT {} FROM patients WHERE dob = ?1 ORDER BY id",
                    Self::PATIENT_COLS
                ),
                vals![dob.to_string()],
            )?
            .into_iter()
            .map(|r| Self::finish_patient(Self::patient_row(r)?))
            .collect()
    }

    /// All patients, by id.
    pub fn patients(&self) -> Result<Vec<PatientRecord>, StoreError> {
        self.patient_rows(None)?
            .into_iter()
            .map(Self::finish_patient)
            .collect()
    }

    /// The problem with a patient's row, if its MAC does not hold.
    fn patient_problem(&self, r: &PatientRow) -> Option<String> {
        (Self::patient_mac(&self.key, r) != r.mac).then(|| {
            format!(
                "patient {:?}: the row does not match its MAC (changed outside ritplan)",
                r.p.id
            )
        })
    }

    fn course_mac(key: &Key, r: &CourseRow) -> String {
        let id = r.c.id.to_string();
        let keyed_from = r.keyed_from.to_string();
        key.mac(&[
            "course",
            &id,
            &r.c.patient_id,
            &r.c.template_id,
            &r.c.rule_set,
            &r.c.template_text,
            &r.c.rules_json,
            &r.c.plan_json,
            &r.c.inputs_json,
            &r.created_at,
            &r.c.created_by,
            r.created_by_staff.as_deref().unwrap_or(""),
            &r.os_user,
            &keyed_from,
        ])
    }

    /// Creates a course; returns its id.
    pub fn add_course(
        &mut self,
        c: &NewCourse,
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<i64, StoreError> {
        if self.patient(&c.patient_id)?.is_none() {
            return Err(StoreError::NotFound(format!(
                "no patient has the id {:?}",
                c.patient_id
            )));
        }
        let tx = self.db.begin(Begin::Write)?;
        let id = Self::next_course_id(&tx)?;
        let row = CourseRow {
            c: CourseRecord {
                id,
                patient_id: c.patient_id.clone(),
                template_id: c.template_id.clone(),
                rule_set: c.rule_set.clone(),
                template_text: c.template_text.clone(),
                rules_json: c.rules_json.clone(),
                plan_json: c.plan_json.clone(),
                inputs_json: c.inputs_json.clone(),
                created_at: at,
                created_by: by.name.clone(),
            },
            created_at: time_text(at),
            created_by_staff: by.staff_id.clone(),
            os_user: by.os_user.clone(),
            keyed_from: 1,
            mac: String::new(),
        };
        let mac = Self::course_mac(&self.key, &row);
        tx.exec(
            "INSERT INTO courses (id, patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by, created_by_staff, os_user, keyed_from, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
            vals![id, &c.patient_id, &c.template_id, &c.rule_set, &c.template_text, &c.rules_json, &c.plan_json, &c.inputs_json, &row.created_at, &by.name, &by.staff_id, &by.os_user, &mac],
        )?;
        Self::put_state(&tx, &self.key, id, true, 0, &row.created_at)?;
        self.write_head(tx, id, &Head { count: 0, mac })?;
        self.advance_counts()?;
        Ok(id)
    }

    /// Commits a write of a course's chain and moves its head: in the same transaction when
    /// the heads are in the database, else right after the commit (a crash between the two
    /// leaves the head behind, which verification notes; never ahead).
    fn write_head(&self, tx: db::Tx<'_>, course: i64, head: &Head) -> Result<(), StoreError> {
        if self.heads.in_database() {
            self.heads.advance_course(&tx, course, head)?;
            tx.commit()
        } else {
            tx.commit()?;
            self.heads.advance_course(&self.db, course, head)
        }
    }

    const COURSE_COLS: &'static str = "id, patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by, created_by_staff, os_user, keyed_from, mac";

    fn course_row(mut r: Row) -> Result<CourseRow, StoreError> {
        let c = CourseRecord {
            id: r.int()?,
            patient_id: r.text()?,
            template_id: r.text()?,
            rule_set: r.text()?,
            template_text: r.text()?,
            rules_json: r.text()?,
            plan_json: r.text()?,
            inputs_json: r.text()?,
            created_at: NaiveDateTime::MIN,
            created_by: String::new(),
        };
        let created_at = r.text()?;
        let c = CourseRecord {
            created_at: parse_time(&created_at)?,
            created_by: r.text()?,
            ..c
        };
        Ok(CourseRow {
            c,
            created_at,
            created_by_staff: r.opt_text()?,
            os_user: r.text()?,
            keyed_from: r.int()?,
            mac: r.text()?,
        })
    }

    fn course_rows(
        db: &Db,
        filter: &str,
        arg: Option<db::Value>,
    ) -> Result<Vec<CourseRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM courses {filter} ORDER BY id",
            Self::COURSE_COLS
        );
        let rows = match arg {
            Some(a) => db.query(&sql, &[a])?,
            None => db.query(&sql, &[])?,
        };
        rows.into_iter().map(Self::course_row).collect()
    }

    /// One course.
    pub fn course(&self, id: i64) -> Result<Option<CourseRecord>, StoreError> {
        Ok(
            Self::course_rows(&self.db, "WHERE id = ?1", Some(id.into()))?
                .into_iter()
                .next()
                .map(|r| r.c),
        )
    }

    /// All courses, by id.
    pub fn courses(&self) -> Result<Vec<CourseRecord>, StoreError> {
        Ok(Self::course_rows(&self.db, "", None)?
            .into_iter()
            .map(|r| r.c)
            .collect())
    }

    /// The patient of a course (without reading its frozen copies).
    pub fn patient_of(&self, course: i64) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt(
                "SELECT patient_id FROM courses WHERE id = ?1",
                vals![course],
            )?
            .map(|mut r| r.text())
            .transpose()
    }

    /// The courses of one patient, by id.
    pub fn courses_of(&self, patient: &str) -> Result<Vec<CourseRecord>, StoreError> {
        Ok(
            Self::course_rows(&self.db, "WHERE patient_id = ?1", Some(patient.into()))?
                .into_iter()
                .map(|r| r.c)
                .collect(),
        )
    }

    fn read_events(db: &Db, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        RawEvent::load(db, course)?
            .into_iter()
            .map(RawEvent::decode)
            .collect()
    }

    /// A course's events, in order.
    pub fn events(&self, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        Self::read_events(&self.db, course)
    }

    /// Appends one event in a single immediate transaction: reads the course's events and
    /// verifies the course (refused with [`StoreError::Tampered`] unless intact), calls
    /// `check` with them and a view of the database inside the same transaction (to read the
    /// patient's other courses, verified too: no other writer can change them until the
    /// commit), and inserts the event the check returns, chained to the last MAC. A refusal
    /// or an error writes nothing. After the commit the course's head moves forward.
    pub fn append<E>(
        &mut self,
        course: i64,
        check: impl FnOnce(&[StoredEvent], &TxView<'_>) -> Result<NewEvent, E>,
    ) -> Result<StoredEvent, AppendError<E>> {
        let tx = self.db.begin(Begin::Write)?;
        Self::lock_course(&tx, course)?;
        // Verified again inside the transaction: what is decided on is what the lock now
        // holds (another room may have recorded since the caller's own verification).
        let (row, events) = self.verified_events(course)?;
        let new = check(&events, &TxView { store: self }).map_err(AppendError::Refused)?;
        let seq = events.last().map_or(1, |e| e.event.seq + 1);
        let prev = events
            .last()
            .map_or_else(|| row.mac.clone(), |e| e.hash.clone());
        let out_of_order = events
            .last()
            .is_some_and(|e| new.at < e.event.at || new.recorded_at < e.recorded_at);
        let body =
            serde_json::to_string(&new.kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut raw = RawEvent {
            seq: seq as i64,
            body,
            happened: time_text(new.at),
            recorded: time_text(new.recorded_at),
            by: new.by.name,
            late: new.late_entered,
            prev,
            hash: String::new(),
            staff_id: new.by.staff_id,
            os_user: new.by.os_user,
            out_of_order,
            keyed: true,
        };
        raw.hash = raw.mac(&self.key, course, &row.mac);
        raw.insert(&tx, course)?;
        let last_at = events
            .iter()
            .map(|e| e.event.at)
            .chain([new.at])
            .max()
            .map_or_else(String::new, time_text);
        Self::put_state(&tx, &self.key, course, new.active, seq as i64, &last_at)?;
        if let Some(h) = &new.session {
            self.touch_session(h, new.recorded_at)?;
        }
        self.write_head(
            tx,
            course,
            &Head {
                count: seq,
                mac: raw.hash.clone(),
            },
        )?;
        Ok(raw.decode()?)
    }

    fn put_state(
        db: &Db,
        key: &Key,
        course: i64,
        active: bool,
        events: i64,
        last_at: &str,
    ) -> Result<(), StoreError> {
        db.exec(
            &format!("INSERT INTO course_state ({STATE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (course_id) DO UPDATE SET active = excluded.active, events = excluded.events, last_at = excluded.last_at, mac = excluded.mac"),
            vals![course, active, events, last_at, state_mac(key, course, active, events, last_at)],
        )?;
        Ok(())
    }

    /// The next course id. Course ids are part of every MAC, so the id is chosen before the
    /// insert, inside the write transaction: SQLite's write lock keeps it unique (and never
    /// reuses an id, `sqlite_sequence`); on PostgreSQL a transaction-scoped advisory lock
    /// serialises the new courses until the commit (it needs no privilege beyond INSERT, unlike
    /// `LOCK TABLE`, so ritplan can run as a role that cannot change or delete rows).
    fn next_course_id(db: &Db) -> Result<i64, StoreError> {
        match db.dialect() {
            db::Dialect::Sqlite => db.query_int(
                "SELECT max(coalesce((SELECT max(id) FROM courses), 0), coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'courses'), 0)) + 1",
                &[],
            ),
            db::Dialect::Postgres => {
                db.query(
                    "SELECT pg_advisory_xact_lock(?1::bigint << 32)::text",
                    vals![LOCK_COURSE_IDS],
                )?;
                db.query_int("SELECT coalesce(max(id), 0) + 1 FROM courses", &[])
            }
        }
    }

    /// Serialises the writers of one course (and of its patient's other courses, which a check
    /// may read) until the commit. SQLite: the transaction already holds the database's write
    /// lock. PostgreSQL: a transaction-scoped advisory lock on the patient (a hash of the id:
    /// two patients that share a hash only wait for each other), taken before anything is read,
    /// so two rooms recording on one patient's courses take turns and rooms recording on other
    /// patients do not wait. (`SELECT … FOR UPDATE` would need the UPDATE privilege on patients,
    /// which the role ritplan runs as should not have.)
    fn lock_course(db: &Db, course: i64) -> Result<(), StoreError> {
        if db.dialect() == db::Dialect::Postgres {
            db.query(
                "SELECT pg_advisory_xact_lock((?1::bigint << 32) | (hashtext(patient_id)::bigint & 4294967295))::text FROM courses WHERE id = ?2",
                vals![LOCK_PATIENT, course],
            )?;
        }
        Ok(())
    }

    /// Sets a course's derived state after replaying it (for rows the upgrade left to
    /// rebuild): written only if the chain still has `events` entries.
    pub fn rebuild_state(
        &mut self,
        course: i64,
        active: bool,
        events: u64,
        last_at: Option<NaiveDateTime>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin(Begin::Write)?;
        Self::lock_course(&tx, course)?;
        let now = tx.query_int(
            "SELECT coalesce(max(seq), 0) FROM events WHERE course_id = ?1",
            vals![course],
        )?;
        if now == events as i64 {
            let last = last_at.map_or_else(String::new, time_text);
            Self::put_state(&tx, &self.key, course, active, now, &last)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The courses whose derived state the upgrade left to rebuild.
    pub fn states_to_rebuild(&self) -> Result<Vec<i64>, StoreError> {
        self.db
            .query(
                "SELECT course_id FROM course_state WHERE events < 0 ORDER BY course_id",
                &[],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The ids of the courses live on `since` or later: active ones, those with an event on
    /// or after `since`, and those whose state the upgrade left to rebuild. Reads the small
    /// state table through its index, never the rows of finished courses: its cost is what is
    /// live. A course without a state row makes every course read (failing closed). A finished
    /// course's row is trusted here between full verifications ([`Store::verify_all`] checks
    /// every row's MAC and that it is in step with its chain); a live course is verified in
    /// full before anything is decided on it.
    pub fn live_course_ids(&self, since: NaiveDate) -> Result<Vec<i64>, StoreError> {
        let (courses, states) = self.state_rows()?;
        if states != courses {
            // A state row is missing: every course is read (and verified).
            return Ok(self.courses()?.iter().map(|c| c.id).collect());
        }
        self.db
            .query(
                "SELECT course_id FROM course_state WHERE active = 1 OR last_at >= ?1 OR events < 0
                 ORDER BY course_id",
                vals![since.to_string()],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The number of courses (their ids run from 1 without gaps: courses are never deleted)
    /// and of derived state rows.
    fn state_rows(&self) -> Result<(i64, i64), StoreError> {
        let courses = self
            .db
            .query_int("SELECT coalesce(max(id), 0) FROM courses", &[])?;
        let states = self
            .db
            .query_int("SELECT count(*) FROM course_state", &[])?;
        Ok((courses, states))
    }

    /// The problems of the derived state rows: a bad MAC, or out of step with the chain.
    fn state_problems(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.db.query(
            "SELECT s.course_id, s.active, s.events, s.last_at, s.mac,
                    coalesce((SELECT max(seq) FROM events e WHERE e.course_id = s.course_id), 0)
             FROM course_state s ORDER BY s.course_id",
            &[],
        )?;
        let mut out = Vec::new();
        for mut r in rows {
            let (id, active, events, last_at, mac, chain) = (
                r.int()?,
                r.flag()?,
                r.int()?,
                r.text()?,
                r.text()?,
                r.int()?,
            );
            if mac != state_mac(&self.key, id, active, events, &last_at) {
                out.push(format!(
                    "course {id}'s state row was changed outside ritplan (its MAC does not match)"
                ));
            } else if events >= 0 && events != chain {
                out.push(format!(
                    "course {id}'s state row says {events} events, its chain has {chain}: an older row was put back"
                ));
            }
        }
        let (courses, states) = self.state_rows()?;
        if states != courses {
            out.push(format!(
                "{} of {courses} courses have no state row: rows were deleted outside ritplan",
                courses - states
            ));
        }
        Ok(out)
    }

    /// Recomputes a course's chain from the stored bytes under the key, checks the course row
    /// and its patient's row, and compares the chain with its head outside the database.
    pub fn verify(&self, course: i64) -> Result<Verification, StoreError> {
        Ok(self.verify_read(course)?.0)
    }

    /// [`Store::verify`], with the course row and the event rows it checked (inside a
    /// transaction: what the transaction then decides on).
    fn verify_read(
        &self,
        course: i64,
    ) -> Result<(Verification, CourseRow, Vec<RawEvent>), StoreError> {
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        // The head first: it is written after each commit, so a head read before the database
        // can never be ahead of what the database then shows, unless rows were removed.
        let head = self.heads.course(&self.db, course)?;
        let Some(row) = Self::course_rows(&self.db, "WHERE id = ?1", Some(course.into()))?
            .into_iter()
            .next()
        else {
            return Err(StoreError::NotFound(format!(
                "no course has the id {course}"
            )));
        };
        if Self::course_mac(&self.key, &row) != row.mac {
            problems.push(format!(
                "course {course}: its row (patient, frozen template, rules, inputs or plan) does not match its MAC: changed outside ritplan"
            ));
        }
        match self.patient_rows(Some(&row.c.patient_id))?.first() {
            None => problems.push(format!(
                "course {course}: its patient {:?} is missing",
                row.c.patient_id
            )),
            Some(p) => problems.extend(self.patient_problem(p)),
        }
        let rows = RawEvent::load(&self.db, course)?;
        let mut prev = String::new();
        for (i, e) in rows.iter().enumerate() {
            let seq = e.seq;
            if seq != i as i64 + 1 {
                problems.push(format!("event {seq}: expected number {}", i + 1));
            }
            let must_be_keyed = seq >= row.keyed_from;
            if must_be_keyed != e.keyed {
                problems.push(format!(
                    "event {seq}: {} (changed outside ritplan)",
                    if must_be_keyed {
                        "recorded under the key, but marked as from before it"
                    } else {
                        "marked as keyed, but the course's keyed chain starts later"
                    }
                ));
            }
            // A keyed chain starts from the course row's MAC; a migrated course's keyed part
            // starts with the migration event, linked to the last unkeyed event.
            if seq == 1 && e.keyed {
                prev = row.mac.clone();
            }
            if e.prev != prev {
                problems.push(format!(
                    "event {seq}: its link to the previous event does not match (an event was removed or changed)"
                ));
            }
            let expected = if e.keyed {
                e.mac(&self.key, course, &row.mac)
            } else {
                e.sha_hash(course)
            };
            if expected != e.hash {
                problems.push(format!(
                    "event {seq}: its content does not match its {} (changed after recording)",
                    if e.keyed { "MAC" } else { "hash" }
                ));
            }
            if serde_json::from_str::<EventKind>(&e.body).is_err() {
                problems.push(format!("event {seq}: unreadable"));
            }
            prev = e.hash.clone();
        }
        match head {
            None => problems.push(format!(
                "course {course}: its chain has no head (the heads folder or table is incomplete)"
            )),
            Some(h) => {
                let n = rows.len() as u64;
                if h.count > n {
                    problems.push(format!(
                        "course {course}: {} recorded event{} missing at the end: the head outside the database names {} events, the database holds {n}",
                        h.count - n,
                        if h.count - n == 1 { " is" } else { "s are" },
                        h.count
                    ));
                } else {
                    let at_head = match h.count {
                        0 => Some(row.mac.as_str()),
                        c => rows.get(c as usize - 1).map(|e| e.hash.as_str()),
                    };
                    if at_head != Some(h.mac.as_str()) {
                        problems.push(format!(
                            "course {course}: the chain up to event {} no longer matches the head outside the database",
                            h.count
                        ));
                    }
                    if n > h.count {
                        notes.push(format!(
                            "course {course}: {} event(s) after the last head written outside the database (a process stopped after its commit?); the next record moves the head",
                            n - h.count
                        ));
                    }
                }
            }
        }
        Ok((
            Verification {
                course,
                events: rows.len(),
                intact: problems.is_empty(),
                problems,
                notes,
            },
            row,
            rows,
        ))
    }

    /// A course's events after verifying it (and its patient): refused with
    /// [`StoreError::Tampered`] unless intact.
    fn verified_events(&self, course: i64) -> Result<(CourseRow, Vec<StoredEvent>), StoreError> {
        let (v, row, rows) = self.verify_read(course)?;
        if !v.intact {
            return Err(tampered(&v));
        }
        let events = rows
            .into_iter()
            .map(RawEvent::decode)
            .collect::<Result<_, _>>()?;
        Ok((row, events))
    }

    /// Verifies the whole record: every course, every patient, staff, settings and sessions
    /// row, and the counts and heads outside the database.
    pub fn verify_all(&self) -> Result<RecordVerification, StoreError> {
        let mut problems = Vec::new();
        // What lies outside the database first (see `verify`).
        let head_ids = self.heads.course_ids(&self.db)?;
        let ids: Vec<i64> = self.courses()?.iter().map(|c| c.id).collect();
        let mut courses = Vec::new();
        for id in &ids {
            courses.push(self.verify(*id)?);
        }
        for p in self.patient_rows(None)? {
            problems.extend(self.patient_problem(&p));
        }
        for id in head_ids {
            if !ids.contains(&id) {
                problems.push(format!(
                    "course {id} has a head outside the database but no row in it: deleted"
                ));
            }
        }
        problems.extend(self.account_problems()?);
        problems.extend(self.state_problems()?);
        // A patient's row is named once: under its course if it has one.
        problems.retain(|p| !courses.iter().any(|c| c.problems.contains(p)));
        let intact = problems.is_empty() && courses.iter().all(|v| v.intact);
        Ok(RecordVerification {
            courses,
            problems,
            intact,
        })
    }

    /// Fails with [`StoreError::Tampered`] unless the course (and its patient) verify.
    pub fn verify_or_refuse(&self, course: i64) -> Result<(), StoreError> {
        let v = self.verify(course)?;
        if v.intact {
            return Ok(());
        }
        Err(tampered(&v))
    }
}

/// The refusal to decide or record on a course that does not verify.
fn tampered(v: &Verification) -> StoreError {
    let course = v.course;
    StoreError::Tampered(format!(
        "course {course} does not verify, so nothing is decided or recorded on it: {}. Run `ritplan verify` and `ritplan course log {course}` to investigate, and restore the record from a backup",
        v.problems.join("; ")
    ))
}

/// A patient row with its audit fields.
struct PatientRow {
    p: PatientRecord,
    dob_text: String,
    created_at: String,
    created_by: String,
    created_by_staff: Option<String>,
    os_user: String,
    mac: String,
}

/// A course row with its audit fields.
struct CourseRow {
    c: CourseRecord,
    created_at: String,
    created_by_staff: Option<String>,
    os_user: String,
    keyed_from: i64,
    mac: String,
}

#[cfg(test)]
mod tests;
