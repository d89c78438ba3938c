//! Why a command did not succeed, and the process exit code for each kind (the table in
//! [`crate::cli`]).

use std::io;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The tool declines to proceed for a clinical reason.
pub const EXIT_REFUSED: u8 = 1;
/// The command line is wrong.
pub const EXIT_USAGE: u8 = 2;
/// Input data (a template, rules, a patient value) is wrong.
pub const EXIT_DATA: u8 = 65;
/// A file could not be read or written.
pub const EXIT_IO: u8 = 74;
/// Not logged in, the session ended, a wrong password, or a locked account.
pub const EXIT_AUTH: u8 = 77;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// Input data is wrong; its diagnostics have already been printed.
    #[error("{0}")]
    Data(String),
    /// The tool declines for a clinical reason, or the account's role may not do this.
    #[error("{0}")]
    Refused(String),
    /// Not logged in, the session ended, a wrong password, a locked account.
    #[error("{0}")]
    Auth(String),
    /// Reading or writing failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: io::Error,
    },
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Data(_) => EXIT_DATA,
            CliError::Refused(_) => EXIT_REFUSED,
            CliError::Auth(_) => EXIT_AUTH,
            CliError::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
            CliError::Io { .. } => EXIT_IO,
        }
    }
}

impl From<crate::patient::PatientError> for CliError {
    /// An impossible or missing patient value is bad input data (exit 65).
    fn from(e: crate::patient::PatientError) -> Self {
        CliError::Data(format!(
            "patient value {}: {}",
            crate::render::course::field(e.field, crate::render::course::Voice::Cli),
            e.why
        ))
    }
}

impl From<crate::ward::WardError> for CliError {
    /// The ward layer's errors, by kind: a refusal or a role (1), a login (77), bad data (65),
    /// the record (74).
    fn from(e: crate::ward::WardError) -> Self {
        use crate::ward::WardError;
        match e {
            WardError::Refused(r) => CliError::Refused(format!("not recorded: {r}")),
            WardError::Scan(r) => CliError::Refused(format!(
                "not recorded: {}",
                crate::render::course::scan_refusal(&r, crate::render::course::Voice::Cli)
            )),
            WardError::NotStarted(m) | WardError::Forbidden(m) | WardError::WrongPatient(m) => {
                CliError::Refused(m)
            }
            e @ WardError::Stale { .. } => CliError::Refused(e.to_string()),
            e @ WardError::NoRecord { .. } => CliError::Io {
                context: "record database".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{e}: check --db or RITPLAN_DB, or create one with `ritplan init`"),
                ),
            },
            e @ WardError::SecondCheckNeeded => CliError::Refused(format!(
                "{e}: {}",
                crate::render::course::second_check(crate::render::course::Voice::Cli)
            )),
            WardError::Auth(m) => CliError::Auth(m),
            WardError::Data(m) | WardError::Tampered(m) => CliError::Data(m),
            e @ (WardError::NoCourse { .. }
            | WardError::NoPatient { .. }
            | WardError::NoVial { .. }) => CliError::Data(e.to_string()),
            WardError::Input { field, problem } => CliError::Data(format!(
                "{} {problem}",
                crate::render::course::field(field, crate::render::course::Voice::Cli)
            )),
            WardError::Patient(e) => e.into(),
            WardError::Store(s) => CliError::Io {
                context: "record database".into(),
                source: std::io::Error::other(s.to_string()),
            },
        }
    }
}

impl From<io::Error> for CliError {
    /// Errors writing our own output (stdout or stderr).
    fn from(source: io::Error) -> Self {
        CliError::Io {
            context: "writing output".into(),
            source,
        }
    }
}
