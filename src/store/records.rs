//! The record's types: what is stored and read back, and what the store reports.

use super::*;
use std::sync::Arc;

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
    #[error("there is no record database at {}", .0.display())]
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
    /// Frozen template text (shared by the courses read together that froze the same text).
    #[serde(skip)]
    pub template_text: Arc<str>,
    /// Frozen rules files (JSON object of name → text), shared the same way.
    #[serde(skip)]
    pub rules_json: Arc<str>,
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
    pub(super) store: &'a Store,
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
