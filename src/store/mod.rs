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

mod backup;
mod batch;
mod copy;
mod courses;
pub mod db;
mod events;
mod frozen;
mod heads;
mod instants;
pub mod keyed;
mod made;
mod migrate;
mod patients;
mod records;
mod schema;
#[cfg(feature = "postgres")]
pub mod server;
#[cfg(not(feature = "postgres"))]
#[path = "server_disabled.rs"]
mod server;
mod staff;
mod verify;
mod vials;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use db::{Begin, Db, Row, vals};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::course::{Event, EventKind};
pub use batch::{PatientsCourses, ReadCourse, Seal};
use courses::CourseRow;
use events::{EVENT_COLS, EVENT_ROW_COLS, RawEvent};
use heads::HeadStore;
pub use instants::LegacyTimes;
use keyed::{Counts, Head, Heads, Key};
use patients::PatientRow;
pub use records::{
    AppendError, Author, CopyReport, CourseRecord, Meta, NewCourse, NewEvent, PatientRecord,
    RecordVerification, StoreError, StoredEvent, TxView, Verification,
};
use schema::{SCHEMA_1, SCHEMA_2, SCHEMA_3, SCHEMA_4, SCHEMA_6, TRIGGERS_2};
pub use staff::{SessionRow, StaffRow};
pub use vials::{VIAL_CODE_PREFIX, vial_code, vial_code_number};

/// The schema version this code writes (SQLite `user_version`): 5 stores moments as UTC
/// instants in the record's zone; 6 keeps each distinct frozen text once (see `frozen`).
pub const SCHEMA_VERSION: i64 = 6;

/// SQLite `application_id` of a ritplan record ("RITP").
pub const APPLICATION_ID: i64 = 0x5249_5450;

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
    /// The record's zone, in which its moments are read and written (its `time_zone` setting;
    /// `System` while an older record has none, see [`Store::migrate_times`]).
    zone: std::cell::Cell<crate::zone::Zone>,
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
    // Schema 6 (a record still at 4, without its zone, has none: see `has_frozen`).
    ("frozen", frozen::FROZEN_COLS, "digest"),
];

const COURSE_TABLES: &[(&str, &str, &str)] = &[
    ("courses", Store::COURSE_COLS, "id"),
    ("events", EVENT_ROW_COLS, "seq"),
    ("course_state", STATE_COLS, "course_id"),
    ("vials", VIAL_COLS, "code"),
];

/// The columns of a vial code's index row.
const VIAL_COLS: &str = "code, course_id, seq, mac";

/// The columns of a course's derived state row.
const STATE_COLS: &str = "course_id, active, events, last_at, mac";

/// The URL of a record on a PostgreSQL server, if `db` names one (`postgres://…` or
/// `postgresql://…`) rather than a file.
pub fn server_url(db: &Path) -> Option<&str> {
    db.to_str()
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// A moment as the record holds it: the UTC instant, `2026-03-29T06:00:00Z` (schema 5). Rows
/// written before schema 5 hold the clinic's wall-clock time without the `Z`
/// (`2026-03-29T08:00:00`): they are never rewritten (the chain covers their bytes) and are read
/// as wall-clock times in the record's zone, which the upgrade to schema 5 fixed for good (see
/// [`Store::migrate_times`]).
const TIME: &str = "%Y-%m-%dT%H:%M:%S";

/// How the store turns the clinic's wall-clock times (what the core works in) into the instants
/// it holds, and back, in the record's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Times(crate::zone::Zone);

impl Times {
    /// The text stored for the wall-clock time `t`: its instant in UTC. A time that exists twice
    /// (the hour repeated when the clocks go back) is the earlier instant, so a time read back
    /// and written again gives the same text; a skipped one (refused at the door, never taken
    /// from a clock) is read with the offset before the change.
    fn text(self, t: NaiveDateTime) -> String {
        let u = self.0.instant_lenient(t).with_timezone(&chrono::Utc);
        format!("{}Z", u.format(TIME))
    }

    /// The clinic's wall-clock time of a stored moment: a UTC instant (`…Z`) in the record's
    /// zone, or (written before schema 5) the wall-clock time as it was written.
    fn parse(self, s: &str) -> Result<NaiveDateTime, StoreError> {
        let bad = |e: chrono::ParseError| StoreError::Corrupt(format!("time {s:?}: {e}"));
        let parse = |t: &str| match plain_time(t) {
            Some(at) => Ok(at),
            None => NaiveDateTime::parse_from_str(t, TIME).map_err(bad),
        };
        match s.strip_suffix('Z') {
            Some(utc) => Ok(self.0.wall_clock(parse(utc)?.and_utc())),
            None => parse(s),
        }
    }

    /// A text that every stored moment on or after the clinic's day `d` sorts at or after: the
    /// lesser of the instant of its first wall-clock time and the bare date (which every
    /// wall-clock text of that day, written before schema 5, sorts after).
    fn day_floor(self, d: NaiveDate) -> String {
        let instant = self.text(d.and_time(chrono::NaiveTime::MIN));
        instant.min(d.to_string())
    }
}

/// A stored time as ritplan writes it (`2026-12-07T08:00:00`, [`TIME`], the form nearly every
/// stored moment has), read without the format parser; anything else (`None`) goes to the
/// parser, which gives the same moment or the error.
fn plain_time(t: &str) -> Option<NaiveDateTime> {
    let b = t.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)
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
        tx.batch(SCHEMA_4)?;
        tx.batch(SCHEMA_6)?;
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
            zone: std::cell::Cell::new(crate::zone::Zone::System),
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
        if version < 4 {
            let tx = db.begin(Begin::Write)?;
            if version < 3 {
                // Every course gets a state row marked "to rebuild" (and so read as live).
                tx.batch(SCHEMA_3)?;
                Self::mark_states_to_rebuild(&tx, &key)?;
            }
            // Schema 4: the (empty) index of vial codes; no record before it has vials.
            tx.batch(SCHEMA_4)?;
            tx.batch("PRAGMA user_version = 4")?;
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
            zone: std::cell::Cell::new(crate::zone::Zone::System),
        };
        if version < 2 {
            // The digests of the (new, empty) staff and settings tables.
            store.advance_counts()?;
        }
        // Schema 5 (instants) when the record names its zone; see `instants`.
        store.settle_times()?;
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
}

#[cfg(test)]
mod tests;
