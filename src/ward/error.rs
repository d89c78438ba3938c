//! The ward's errors: what it did not do and why, typed so that each front end can word it.

use super::view;
use crate::course::Refusal;
use crate::field::Field;
use crate::patient::PatientError;
use crate::store::StoreError;

/// Why the ward did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum WardError {
    /// A clinical refusal by the state machine; nothing was written.
    #[error("{0}")]
    Refused(Box<Refusal>),
    /// A clinical refusal to start (eligibility, contraindication, risk, same extract), or to
    /// record an entry on an omalizumab course (its own checks: date, hold, observation, late).
    #[error("{0}")]
    NotStarted(String),
    /// The logged-in account's role may not do this; nothing was written.
    #[error("{0}")]
    Forbidden(String),
    /// Not logged in, the session ended, a wrong password, a locked account.
    #[error("{0}")]
    Auth(String),
    /// The patient in front of the nurse is not the course's; nothing was written.
    #[error("{0}")]
    WrongPatient(String),
    /// A scan before the dose refused it (wrong wristband, wrong, expired or discarded vial, a
    /// required scan missing); nothing was written, and no override lifts it.
    #[error("{0}")]
    Scan(crate::course::ScanRefusal),
    /// The course changed since the form was shown (its last entry was `seen`, it is now
    /// `now`); nothing was written.
    #[error(
        "course {course} has changed since this form was shown (its last entry was #{seen}, it is now #{now}): nothing was recorded; check the course as it is now"
    )]
    Stale {
        /// The course.
        course: i64,
        /// Its last entry when the form was shown.
        seen: u64,
        /// Its last entry now.
        now: u64,
    },
    /// The clinic's settings require a second person to check every dose, and none did;
    /// nothing was written. (Each front end says how its user adds the check.)
    #[error("this clinic's settings require a second person to check every dose")]
    SecondCheckNeeded,
    /// There is no record at this path (each front end says how its user names or makes one).
    #[error("there is no record database at {}", .path.display())]
    NoRecord {
        /// Where one was looked for.
        path: std::path::PathBuf,
    },
    /// No course has this id.
    #[error("no course has the id {id}")]
    NoCourse {
        /// The id asked for.
        id: i64,
    },
    /// No vial has this code (or the vial it named was corrected away).
    #[error("no vial has the code {code}")]
    NoVial {
        /// The code asked for.
        code: String,
    },
    /// No patient has this id.
    #[error("no patient has the id {id:?}")]
    NoPatient {
        /// The id asked for.
        id: String,
    },
    /// A value someone entered is not one the ward records (too long, a control character, out
    /// of its bounds); nothing was written. Each front end names the field in its own words.
    #[error("{field} {problem}")]
    Input {
        /// Which value.
        field: Field,
        /// What is wrong with it, as a sentence that follows the field's name.
        problem: String,
    },
    /// A patient value the planner cannot read; nothing was written.
    #[error("patient value {}: {}", .0.field, .0.why)]
    Patient(PatientError),
    /// Bad data: an unknown patient or course, a record that fails its checks, a bad value.
    #[error("{0}")]
    Data(String),
    /// The record database failed.
    #[error("{0}")]
    Store(StoreError),
    /// The record was changed outside ritplan (a MAC, a chain link or a head does not match):
    /// nothing is decided or recorded on it.
    #[error("{0}")]
    Tampered(String),
}

impl From<StoreError> for WardError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) | StoreError::Exists(m) => WardError::Data(m),
            StoreError::Tampered(m) => WardError::Tampered(m),
            e @ (StoreError::Foreign { .. } | StoreError::NeedsUpgrade(_)) => {
                WardError::Data(e.to_string())
            }
            // Of the kind of its cause, which says what became of the new record.
            StoreError::Unfinished { cause, left } => match WardError::from(*cause) {
                WardError::Data(m) => WardError::Data(format!("{m}; {left}")),
                WardError::Store(cause) => WardError::Store(StoreError::Unfinished {
                    cause: Box::new(cause),
                    left,
                }),
                other => other,
            },
            StoreError::Missing(path) => WardError::NoRecord { path },
            other => WardError::Store(other),
        }
    }
}

impl From<view::MissingRuleSet> for WardError {
    fn from(e: view::MissingRuleSet) -> Self {
        WardError::Data(e.to_string())
    }
}

impl From<PatientError> for WardError {
    fn from(e: PatientError) -> Self {
        WardError::Patient(e)
    }
}
