//! The command line: clap types, one file per command group, and the exit codes.
//!
//! Exit codes (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also when the reader of our output went away: a broken pipe) |
//! | 1 | refusal: the rules decline (no plan, no dose), or the logged-in role may not do it |
//! | 2 | usage error: unknown command, flag, or template id |
//! | 65 | bad input data: a template or rules file with errors, an impossible patient value, a control character, a database that is not a ritplan record, a record that fails verification |
//! | 74 | I/O error: a file that cannot be read or written, a record or key file that does not exist |
//! | 77 | not permitted: not logged in, the session ended, a wrong password, a locked or disabled account |
//!
//! Results go to stdout; diagnostics and errors go to stderr. No colour is ever printed.

mod course;
mod patient_args;
mod plan;
mod risk;
mod session;
mod staff;
mod templates;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use rust_decimal::Decimal;

use crate::course::{EventKind, LateKind, Review, WaoGrade};
use crate::diag::{Located, SourceText};
use crate::policy::{Policy, PolicyError};
use crate::template::{Catalog, Checked, bundled_sources};
use crate::units::{Volume, parse_decimal};
use crate::ward::Record;

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
        CliError::Data(format!("patient value {}: {}", e.field, e.why))
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

/// ritplan: plan allergen rush immunotherapy from schedule templates.
///
/// ritplan supports clinical judgement; it never replaces it. Every schedule it shows carries
/// the evidence it rests on.
#[derive(Debug, Parser)]
#[command(name = "ritplan", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  ritplan templates\n  ritplan template show alutard-hdm-cluster-7w\n  ritplan template check my-schedule.toml\n\nExit codes: 0 ok, 1 refusal (the rules, or the role), 2 usage error, 65 bad input data or a record that fails verification, 74 I/O error or no such record, 77 not logged in."
)]
pub struct Args {
    /// Also load every *.toml schedule template in DIR (may be given more than once).
    #[arg(long = "templates", value_name = "DIR", global = true)]
    templates: Vec<PathBuf>,

    /// The record database (default: $RITPLAN_DB, else the platform data directory).
    #[arg(long = "db", value_name = "PATH", global = true)]
    db: Option<PathBuf>,

    /// Read rules from DIR: a file there replaces the bundled rules file of the same name
    /// (risk.toml, omalizumab-eu.toml, ...); other *.toml files are added.
    #[arg(long = "rules", value_name = "DIR", global = true)]
    rules: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the schedule templates: bundled ones and those in --templates directories.
    #[command(
        after_help = "Examples:\n  ritplan templates\n  ritplan templates --json\n  ritplan templates --templates ./clinic-schedules"
    )]
    Templates {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show or check schedule templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Assess a patient's risk of systemic reactions during rush immunotherapy.
    ///
    /// Prints the stratum (low, intermediate, high), the sIgE class, the sIgE/total-IgE ratio,
    /// the age group, whether a favourable response is predicted, contraindications, and every
    /// reason with the rule it comes from.
    #[command(
        after_help = "Examples:\n  ritplan risk --age 9 --sige 52 --total-ige 410\n  ritplan risk --dob 2017-03-02 --sige '>100' --total-ige 410 --fev1 85 --json"
    )]
    Risk {
        #[command(flatten)]
        patient: patient_args::PatientArgs,
        /// Assess as of this date (for --dob and --omalizumab-since); default today.
        #[arg(long, value_name = "DATE")]
        on: Option<chrono::NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plan a dated, risk-adjusted schedule for a patient from a template.
    ///
    /// Assesses the risk, applies the adjustments the rules give for the stratum, age group and
    /// omalizumab pretreatment, and lays the steps on clinic days and times. Refuses (exit 1)
    /// when a contraindication applies, or for a high-risk patient without sufficient
    /// pretreatment unless the physician passes --accept-risk with a reason.
    #[command(
        after_help = "Examples:\n  ritplan plan --template example-hdm-rush-3d --start 2026-12-07T08:00 --age 34 --weight 70 --sige 2 --total-ige 410 --fev1 92 --asthma controlled\n  ritplan plan --template alutard-hdm-cluster-7w --start 2026-12-07 --patient patient.toml --json"
    )]
    Plan {
        /// A template id (see `ritplan templates`) or a template file.
        #[arg(long, value_name = "ID|FILE")]
        template: String,
        /// First injection: a date (at opening time) or a date and time, e.g. 2026-12-07T08:00.
        #[arg(long, value_name = "DATE[THH:MM]", value_parser = plan::parse_start)]
        start: (chrono::NaiveDate, Option<chrono::NaiveTime>),
        #[command(flatten)]
        patient: patient_args::PatientArgs,
        #[command(flatten)]
        calendar: plan::CalendarArgs,
        /// The physician accepts a risk the rules refuse; the reason is printed on every output.
        #[arg(long, value_name = "REASON")]
        accept_risk: Option<String>,
        /// The physician accepts treating a patient under the product's minimum age (Alutard
        /// SQ: 5 years); the reason is printed on every output.
        #[arg(long, value_name = "REASON")]
        accept_age: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        pdf: PdfArgs,
    },
    /// Create a record (its database, key file and heads folder) and its first account, an admin.
    #[command(
        after_help = "Examples:\n  ritplan --db ward.db init --admin it.admin --name 'Ward admin'\n  printf 'a long password\\n' | ritplan --db training.db init --admin trainer --name Trainer --training --password-stdin"
    )]
    Init(staff::InitArgs),
    /// Log in to the record (the session ends after the idle timeout or with `logout`).
    #[command(
        after_help = "Examples:\n  ritplan login rn.li\n  printf '%s\\n' \"$PASSWORD\" | ritplan login rn.li --password-stdin"
    )]
    Login {
        /// Staff id.
        id: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End the session.
    Logout,
    /// Who is logged in.
    Whoami {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Staff accounts: add, list, disable, password.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// The clinic's settings: show, set (admin).
    #[command(subcommand)]
    Settings(staff::SettingsCommand),
    /// Check the whole record: every MAC, chain and head (exit 65 if anything was altered).
    #[command(after_help = "Examples:\n  ritplan verify\n  ritplan verify --json")]
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Patients: add, list, show.
    #[command(subcommand)]
    Patient(PatientCommand),
    /// Treatment courses: start, list, show, log, verify.
    #[command(subcommand)]
    Course(CourseCommand),
    /// What the next dose of a course may be, and when.
    #[command(
        after_help = "Examples:\n  ritplan next 3\n  ritplan next 3 --at 2026-12-08T08:00 --json"
    )]
    Next {
        /// Course id.
        course: i64,
        /// As of this time (default now).
        #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
        at: Option<chrono::NaiveDateTime>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a dose given. Refused (exit 1, nothing written) unless it is the dose `next` allows,
    /// for the patient named with --patient.
    #[command(
        after_help = "Examples:\n  ritplan give 3 --patient P001 --step 1 --volume 0.1 --pef 95 --screen ok --lot A123 --site left\n  ritplan give 3 --patient P001 --step 1 --volume 0.1 --pef 95 --screen ok --checked-by rn.wu"
    )]
    Give {
        /// Course id.
        course: i64,
        /// The patient's id, as on the patient's wristband or card: it must be the course's.
        #[arg(long, value_name = "ID")]
        patient: String,
        /// A second person who checked the dose (their password is asked).
        #[arg(long, value_name = "STAFF_ID")]
        checked_by: Option<String>,
        /// Read the checker's password from the first line of standard input.
        #[arg(long, requires = "checked_by")]
        checker_password_stdin: bool,
        /// Plan step.
        #[arg(long)]
        step: usize,
        /// Volume in mL.
        #[arg(long, value_name = "ML")]
        volume: String,
        #[command(flatten)]
        rec: RecordArgs,
        /// Pre-dose PEF/FEV1, % of the patient's best.
        #[arg(long, value_name = "PERCENT")]
        pef: Option<String>,
        /// `ok`: the pre-injection health questions were asked and all answered no.
        #[arg(long, value_parser = ["ok"])]
        screen: Option<String>,
        /// Lot number.
        #[arg(long)]
        lot: Option<String>,
        /// Arm.
        #[arg(long, value_parser = ["left", "right"])]
        site: Option<String>,
        /// A physician gives a dose other than the allowed one, for this reason (recorded).
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Record the end of a dose's observation, with the local reaction.
    ///
    /// The observation is measured from the injection: ending it before the planned minimum
    /// (per step, risk-adjusted, the day's last) is refused unless --early gives the reason
    /// (the patient left against advice); the visit then ends. The local reaction is required:
    /// --local-mm N, or --not-assessable (escalation then waits for a physician).
    #[command(
        after_help = "Examples:\n  ritplan observe 3 --by 'RN Li' --local-mm 12\n  ritplan observe 3 --by 'RN Li' --not-assessable\n  ritplan observe 3 --by 'RN Li' --local-mm 0 --early 'left against advice'"
    )]
    Observe {
        /// Course id.
        course: i64,
        /// Immediate local reaction (infiltrate diameter), mm.
        #[arg(long, value_name = "MM", required_unless_present = "not_assessable")]
        local_mm: Option<u32>,
        /// The local reaction could not be assessed.
        #[arg(long, conflicts_with = "local_mm")]
        not_assessable: bool,
        /// The observation ends before its planned minimum, for this reason.
        #[arg(long, value_name = "REASON")]
        early: Option<String>,
        #[command(flatten)]
        rec: RecordArgs,
    },
    /// Record a systemic reaction (WAO grade), a late local reaction, or a late reaction.
    #[command(
        after_help = "Examples:\n  ritplan react 3 --grade 2a --onset-min 12 --symptom 'urticaria and wheeze' --by 'Dr Wang'\n  ritplan react 3 --late-local-mm 80 --by 'RN Li'\n  ritplan react 3 --late type-iii --symptom 'fever, joint pain' --by 'Dr Wang'"
    )]
    React {
        /// Course id.
        course: i64,
        /// WAO grade with the epinephrine suffix (1a ... 5z).
        #[arg(long)]
        grade: Option<String>,
        /// Minutes from injection to onset.
        #[arg(long, value_name = "MIN")]
        onset_min: Option<u32>,
        /// First symptom.
        #[arg(long)]
        symptom: Option<String>,
        /// Treatment given.
        #[arg(long)]
        treatment: Option<String>,
        /// A late local reaction, mm.
        #[arg(long, value_name = "MM", conflicts_with_all = ["grade", "late"])]
        late_local_mm: Option<u32>,
        /// A late (6-24 h) reaction: type-iii (fever, arthralgia, malaise), allergic-mild or
        /// allergic-severe.
        #[arg(long, value_name = "TYPE", conflicts_with = "grade")]
        late: Option<String>,
        #[command(flatten)]
        rec: RecordArgs,
    },
    /// Record that today's dose is deferred (fever, infection, asthma symptoms, vaccination, low PEF).
    #[command(after_help = "Examples:\n  ritplan defer 3 --reason 'fever 38.4' --by 'RN Li'")]
    Defer {
        /// Course id.
        course: i64,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        rec: RecordArgs,
    },
    /// Record a physician's review: continue, repeat, step-back:N, restart or stop.
    ///
    /// "step-back:N" is N distinct doses down the ladder of the course's phase. Every review
    /// needs a reason; resuming a stopped course needs the correctable cause in it.
    #[command(
        after_help = "Examples:\n  ritplan review 3 --by 'Dr Wang' --decision step-back:2 --reason 'grade 2 SR, resolved'"
    )]
    Review {
        /// Course id.
        course: i64,
        /// continue | repeat | step-back:N | restart | stop
        #[arg(long)]
        decision: String,
        /// Why (for a stopped course: the correctable cause).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        rec: RecordArgs,
    },
    /// Record a note.
    #[command(after_help = "Examples:\n  ritplan note 3 --text 'mother present' --by 'RN Li'")]
    Note {
        /// Course id.
        course: i64,
        /// Text.
        #[arg(long)]
        text: String,
        #[command(flatten)]
        rec: RecordArgs,
    },
    /// Record that an earlier event was wrong; it no longer counts (it stays in the log).
    #[command(
        after_help = "Examples:\n  ritplan correct 3 --event 5 --reason 'recorded on the wrong course' --by 'RN Li'"
    )]
    Correct {
        /// Course id.
        course: i64,
        /// The event number (see `course log`).
        #[arg(long)]
        event: u64,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        rec: RecordArgs,
    },
    /// The nurses' dosing sheet for a day: every active course's doses in time order.
    #[command(
        after_help = "Examples:\n  ritplan sheet --date 2026-12-07\n  ritplan sheet --date 2026-12-07 --json"
    )]
    Sheet {
        /// The day (default today).
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Write a PDF to FILE (landscape) instead of the terminal table.
        #[arg(long, value_name = "FILE")]
        pdf: Option<PathBuf>,
        #[command(flatten)]
        print: PaperArgs,
    },
    /// The ward's board now: every course due now, in observation (until when), with its
    /// observation overdue, waiting until later today, DO NOT GIVE (with the reason), or done
    /// for today, in the order to work through them.
    #[command(after_help = "Examples:\n  ritplan board\n  ritplan board --json")]
    Board {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Look up the omalizumab dose in the label's table (exact cells, no interpolation).
    ///
    /// Exit 1 when the label gives no dose (outside the table), when the cell is one the
    /// sources dispute (shown as unverified, with the candidates), or when ritplan holds no table
    /// for the patient's age.
    #[command(
        after_help = "Examples:\n  ritplan omalizumab --total-ige 410 --weight 31 --age 9\n  ritplan omalizumab --total-ige 410 --weight 70 --age 30 --label us --json"
    )]
    Omalizumab {
        #[command(flatten)]
        patient: patient_args::PatientArgs,
        /// Which label's table: eu (default; China follows it) or us.
        #[arg(long, default_value = "eu", value_parser = ["eu", "us"])]
        label: String,
        /// Compute ages as of this date (for --dob); default today.
        #[arg(long, value_name = "DATE")]
        on: Option<chrono::NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How a PDF is printed: the flags every PDF-writing command shares, declared once.
#[derive(Debug, Clone, clap::Args)]
struct PaperArgs {
    /// Paper size.
    #[arg(long, value_enum, default_value = "a4")]
    paper: crate::render::pdf::Paper,
    /// A TrueType/OpenType font for characters DejaVu Sans lacks (e.g. Chinese names); without
    /// it the usual system locations are searched when a name needs one.
    #[arg(long, value_name = "FILE")]
    font: Option<PathBuf>,
}

impl PaperArgs {
    /// Where and how to write a PDF.
    fn to(&self, path: PathBuf) -> course::PdfOut {
        course::PdfOut {
            path,
            paper: self.paper,
            font: self.font.clone(),
        }
    }
}

/// Where to write a plan's PDF, and how.
#[derive(Debug, Clone, clap::Args)]
struct PdfArgs {
    /// Also write the printable protocol to FILE (PDF).
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
    #[command(flatten)]
    print: PaperArgs,
}

/// Who records and when: on every recording command.
#[derive(Debug, Clone, clap::Args)]
struct RecordArgs {
    /// Optional: the logged-in staff member's id or name (refused if it is anyone else's).
    #[arg(long)]
    by: Option<String>,
    /// When it happened (default now); an earlier time is flagged as entered late.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    at: Option<chrono::NaiveDateTime>,
    /// Print what was recorded and what `next` now says as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum PatientCommand {
    /// Add a patient.
    #[command(
        after_help = "Examples:\n  ritplan patient add --id P001 --name 'Li Na' --dob 2017-03-02 --weight 31 --sige 52 --total-ige 410 --fev1 95 --asthma controlled"
    )]
    Add(course::PatientAdd),
    /// List patients.
    #[command(after_help = "Examples:\n  ritplan patient list --json")]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find patients by ID or by a part of their name (case and spacing ignored).
    #[command(
        after_help = "Examples:\n  ritplan patient find 'li na'\n  ritplan patient find P001 --json"
    )]
    Find {
        /// An ID, or a part of a name.
        query: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a patient.
    #[command(after_help = "Examples:\n  ritplan patient show P001")]
    Show {
        /// Patient id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CourseCommand {
    /// Start a course: runs the planner (and refuses as it refuses), then freezes the template,
    /// the rules and the plan in the record. Prints the course id.
    #[command(
        after_help = "Examples:\n  ritplan course start --patient P001 --template example-hdm-rush-3d --start 2026-12-07T08:00 --omalizumab-weeks 10"
    )]
    Start(course::CourseStart),
    /// List courses with their next action.
    #[command(after_help = "Examples:\n  ritplan course list --active")]
    List {
        /// Leave out stopped courses.
        #[arg(long)]
        active: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plan versus given, step by step, with reactions, and the next action.
    #[command(after_help = "Examples:\n  ritplan course show 3")]
    Show {
        /// Course id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The audit trail: every event, who recorded it, when.
    #[command(after_help = "Examples:\n  ritplan course log 3 --json")]
    Log {
        /// Course id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the course's printable protocol: the plan with the doses given and the reactions.
    #[command(
        after_help = "Examples:\n  ritplan course pdf 3 --out course-3.pdf\n  ritplan course pdf 3 --out course-3.pdf --paper letter --font /usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    )]
    Pdf {
        /// Course id.
        id: i64,
        /// The PDF file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        print: PaperArgs,
    },
    /// Check the hash chain and the frozen copies (exit 65 if anything was altered).
    #[command(after_help = "Examples:\n  ritplan course verify 3")]
    Verify {
        /// Course id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Show one template's steps: vial, volume, dose, cumulative dose, observation.
    #[command(
        after_help = "Examples:\n  ritplan template show alutard-hdm-cluster-7w\n  ritplan template show ./my-schedule.toml --json"
    )]
    Show {
        /// A template id (see `ritplan templates`) or the path of a template file.
        template: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check template files and report every problem with its line and column.
    ///
    /// Errors mean the template must not be used (exit 65); warnings are printed and the
    /// template stays usable (exit 0).
    #[command(
        after_help = "Examples:\n  ritplan template check my-schedule.toml\n  ritplan template check schedules/*.toml --json"
    )]
    Check {
        /// Template files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the problems as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command line and returns the exit code. Errors are printed to stderr.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> u8 {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors; clap knows which exit code each wants.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(args, &mut out).and_then(|()| out.flush().map_err(CliError::from));
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let code = e.exit_code();
            if code != EXIT_OK {
                let _ = writeln!(io::stderr(), "ritplan: error: {e}");
            }
            code
        }
    }
}

/// Runs parsed arguments, writing results to `out` and diagnostics to stderr.
pub fn run(args: Args, out: &mut dyn Write) -> Result<(), CliError> {
    let mut err = io::stderr().lock();
    let ctx = Context {
        template_dirs: args.templates,
        rules_dir: args.rules,
        db: args.db,
    };
    match args.command {
        Command::Templates { json } => templates::list(&ctx, json, out, &mut err),
        Command::Template(TemplateCommand::Show { template, json }) => {
            templates::show(&ctx, &template, json, out, &mut err)
        }
        Command::Template(TemplateCommand::Check { files, json }) => {
            templates::check_files(&ctx, &files, json, out)
        }
        Command::Plan {
            template,
            start,
            patient,
            calendar,
            accept_risk,
            accept_age,
            json,
            pdf,
        } => plan::run(
            &ctx,
            &template,
            start,
            &patient,
            &calendar,
            accept_risk.as_deref(),
            accept_age.as_deref(),
            json,
            &pdf,
            out,
            &mut err,
        ),
        Command::Init(a) => {
            let path = staff::record_path(ctx.db.as_ref())?;
            let now = record_clock(a.training, &mut err)?;
            staff::init(&path, &a, now, out, &mut err)
        }
        Command::Login { id, password_stdin } => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::login(&ward, &id, password_stdin, now, out)
        }
        Command::Logout => {
            let (ward, _) = opened(&ctx, &mut err)?;
            staff::logout(&ward, out)
        }
        Command::Whoami { json } => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::whoami(&ward, json, now, out)
        }
        Command::Staff(cmd) => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::staff(&ward, cmd, now, out)
        }
        Command::Settings(cmd) => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::settings(&ward, cmd, now, out)
        }
        Command::Verify { json } => {
            let (ward, _) = opened(&ctx, &mut err)?;
            staff::verify(&ward, json, out)
        }
        Command::Patient(cmd) => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            match cmd {
                PatientCommand::Add(a) => {
                    let actor = session::actor(&ward, now)?;
                    course::patient_add(&mut ward, &actor, &a, now, out, &mut err)?;
                    session::used(&ward, &actor, now)
                }
                PatientCommand::List { json } => {
                    course::patient_list(&ward.store.patients()?, json, out)
                }
                PatientCommand::Find { query, json } => {
                    course::patient_list(&ward.find_patients(&query)?, json, out)
                }
                PatientCommand::Show { id, json } => {
                    course::patient_show(&ward, id.trim(), json, out)
                }
            }
        }
        Command::Course(cmd) => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            match cmd {
                CourseCommand::Start(a) => {
                    let actor = session::actor(&ward, now)?;
                    course::course_start(&ctx, &mut ward, &actor, &a, now, out, &mut err)?;
                    session::used(&ward, &actor, now)
                }
                CourseCommand::List { active, json } => {
                    course::course_list(&mut ward, active, json, now, out)
                }
                CourseCommand::Show { id, json } => {
                    course::course_show(&mut ward, id, json, now, out)
                }
                CourseCommand::Log { id, json } => course::course_log(&ward.store, id, json, out),
                CourseCommand::Pdf {
                    id,
                    out: file,
                    print,
                } => course::course_pdf(&mut ward, id, &print.to(file), now, out, &mut err),
                CourseCommand::Verify { id, json } => {
                    course::course_verify(&mut ward, id, json, out)
                }
            }
        }
        Command::Next {
            course: id,
            at,
            json,
        } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            course::next(&mut ward, id, at.unwrap_or(now), json, out)
        }
        Command::Give {
            course: id,
            patient,
            checked_by,
            checker_password_stdin,
            step,
            volume,
            rec,
            pef,
            screen,
            lot,
            site,
            override_reason,
        } => {
            let volume = parse_decimal(&volume)
                .filter(|v| *v > Decimal::ZERO)
                .map(Volume::from_ml)
                .ok_or_else(|| {
                    CliError::Usage(format!("--volume {volume:?} is not a volume in mL"))
                })?;
            let pef = pef
                .map(|p| {
                    parse_decimal(&p)
                        .filter(|v| *v > Decimal::ZERO && *v <= Decimal::from(200))
                        .ok_or_else(|| CliError::Usage(format!("--pef {p:?} is not a percentage")))
                })
                .transpose()?;
            if override_reason
                .as_deref()
                .is_some_and(|r| r.trim().is_empty())
            {
                return Err(CliError::Usage(
                    "--override needs the physician's reason in words".into(),
                ));
            }
            let (mut ward, now) = opened(&ctx, &mut err)?;
            let checker = match checked_by {
                Some(c) => {
                    let secret = session::read_secret(
                        &format!("Password of {c}, who checks the dose: "),
                        checker_password_stdin,
                    )?;
                    Some(ward.check_person(&c, &secret, &session::os_user(), now)?)
                }
                None => None,
            };
            let what = Record::Give {
                proposed: crate::course::Proposed {
                    step,
                    volume_ml: volume,
                    pef_percent: pef,
                    screen_ok: screen.is_some(),
                    override_reason,
                },
                lot,
                site,
                patient,
                checked_by: checker,
            };
            record_on(&mut ward, now, id, rec, what, out)
        }
        Command::Observe {
            course: id,
            local_mm,
            not_assessable,
            early,
            rec,
        } => record(
            &ctx,
            id,
            rec,
            Record::Event(EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                early_reason: early,
            }),
            out,
        ),
        Command::React {
            course: id,
            grade,
            onset_min,
            symptom,
            treatment,
            late_local_mm,
            late,
            rec,
        } => {
            let kind = match (grade, late_local_mm, late) {
                (Some(g), _, _) => EventKind::SystemicReaction {
                    grade: g.parse::<WaoGrade>().map_err(CliError::Usage)?,
                    onset_min: onset_min.ok_or_else(|| {
                        CliError::Usage("a systemic reaction needs --onset-min".into())
                    })?,
                    symptom: symptom.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                        CliError::Usage("a systemic reaction needs --symptom".into())
                    })?,
                    treatment,
                },
                (None, Some(mm), _) => EventKind::LateLocalReaction { mm },
                (None, None, Some(t)) => EventKind::LateReaction {
                    kind: t.parse::<LateKind>().map_err(CliError::Usage)?,
                    symptom: symptom
                        .filter(|s| !s.trim().is_empty())
                        .ok_or_else(|| CliError::Usage("a late reaction needs --symptom".into()))?,
                },
                (None, None, None) => {
                    return Err(CliError::Usage(
                        "give --grade (systemic reaction), --late-local-mm or --late TYPE".into(),
                    ));
                }
            };
            record(&ctx, id, rec, Record::Event(kind), out)
        }
        Command::Defer {
            course: id,
            reason,
            rec,
        } => record(
            &ctx,
            id,
            rec,
            Record::Event(EventKind::DoseDeferred { reason }),
            out,
        ),
        Command::Review {
            course: id,
            decision,
            reason,
            rec,
        } => {
            let decision = decision.parse::<Review>().map_err(CliError::Usage)?;
            record(
                &ctx,
                id,
                rec,
                Record::Event(EventKind::PhysicianReview { decision, reason }),
                out,
            )
        }
        Command::Note {
            course: id,
            text,
            rec,
        } => record(&ctx, id, rec, Record::Event(EventKind::Note { text }), out),
        Command::Correct {
            course: id,
            event,
            reason,
            rec,
        } => record(
            &ctx,
            id,
            rec,
            Record::Event(EventKind::Correction {
                corrects: event,
                reason,
            }),
            out,
        ),
        Command::Sheet {
            date,
            json,
            pdf,
            print,
        } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            let pdf = pdf.map(|path| print.to(path));
            course::sheet(&mut ward, date.unwrap_or(now.date()), now, json, pdf, out)
        }
        Command::Board { json } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            course::board(&mut ward, now, json, out)
        }
        Command::Risk { patient, on, json } => risk::risk(
            &ctx,
            &patient,
            on.unwrap_or_else(today),
            json,
            out,
            &mut err,
        ),
        Command::Omalizumab {
            patient,
            label,
            on,
            json,
        } => risk::omalizumab(
            &ctx,
            &patient,
            &label,
            on.unwrap_or_else(today),
            json,
            out,
            &mut err,
        ),
    }
}

/// What every command may need: where the user's data lives.
struct Context {
    template_dirs: Vec<PathBuf>,
    rules_dir: Option<PathBuf>,
    db: Option<PathBuf>,
}

/// The current local time for commands that need no record (and for a training record):
/// `RITPLAN_NOW` (`2026-12-07T08:30`) sets it instead; an unreadable value is ignored with a
/// warning rather than silently taken as now. A record that is not a training record always
/// takes the system clock (see `opened`).
#[allow(clippy::disallowed_methods)]
fn now() -> chrono::NaiveDateTime {
    if let Some(v) = std::env::var_os("RITPLAN_NOW") {
        match parse_datetime(&v.to_string_lossy()) {
            Ok(t) => return t,
            Err(e) => {
                let _ = writeln!(io::stderr(), "ritplan: warning: RITPLAN_NOW ignored: {e}");
            }
        }
    }
    system_now()
}

/// The system clock, local time, to the second (a record's time outside training).
#[allow(clippy::disallowed_methods)]
fn system_now() -> chrono::NaiveDateTime {
    let t = chrono::Local::now().naive_local();
    t - chrono::Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&t)))
}

/// `2026-12-07T08:30`, `2026-12-07 08:30` or `2026-12-07` (midnight).
fn parse_datetime(s: &str) -> Result<chrono::NaiveDateTime, String> {
    let (d, t) = plan::parse_start(s)?;
    Ok(chrono::NaiveDateTime::new(
        d,
        t.unwrap_or(chrono::NaiveTime::MIN),
    ))
}

/// Opens the record and reads its clock (see [`record_clock`]).
fn opened(
    ctx: &Context,
    err: &mut dyn Write,
) -> Result<(crate::ward::Ward, chrono::NaiveDateTime), CliError> {
    let ward = course::open_ward(ctx.db.as_ref())?;
    let now = record_clock(ward.training(), err)?;
    Ok((ward, now))
}

/// A record's clock: the system clock, or `RITPLAN_NOW` on a training record (said on stderr
/// by every command on it); on any other record `RITPLAN_NOW` is ignored with a warning.
fn record_clock(training: bool, err: &mut dyn Write) -> Result<chrono::NaiveDateTime, CliError> {
    let set = std::env::var_os("RITPLAN_NOW").is_some();
    if training {
        writeln!(
            err,
            "ritplan: TRAINING RECORD{}",
            if set {
                ": the clock is RITPLAN_NOW"
            } else {
                ""
            }
        )?;
        return Ok(now());
    }
    if set {
        writeln!(
            err,
            "ritplan: warning: RITPLAN_NOW is ignored: this record is not a training record (ritplan init --training)"
        )?;
    }
    Ok(system_now())
}

fn record(
    ctx: &Context,
    id: i64,
    rec: RecordArgs,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, &mut io::stderr().lock())?;
    record_on(&mut ward, now, id, rec, what, out)
}

fn record_on(
    ward: &mut crate::ward::Ward,
    now: chrono::NaiveDateTime,
    id: i64,
    rec: RecordArgs,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let actor = session::actor(ward, now)?;
    if let Some(by) = rec.by.as_deref().map(str::trim)
        && by != actor.staff.id
        && by != actor.staff.name
    {
        return Err(CliError::Usage(format!(
            "--by {by:?} is not the logged-in staff member ({}, {}): entries are recorded under the login",
            actor.staff.name, actor.staff.id
        )));
    }
    let rec = course::Recording {
        actor: &actor,
        at: rec.at,
        now,
        json: rec.json,
    };
    course::record(ward, id, rec, what, out)?;
    session::used(ward, &actor, now)
}

/// Today's date (see [`now`]).
fn today() -> chrono::NaiveDate {
    now().date()
}

impl Context {
    /// The rules in force.
    fn policy(&self, err: &mut dyn Write) -> Result<Policy, CliError> {
        policy_from(self.rule_sources()?, err)
    }

    /// The rules files in force: bundled, with any of the same name from --rules DIR instead.
    fn rule_sources(&self) -> Result<Vec<SourceText>, CliError> {
        let mut sources = crate::policy::bundled_sources();
        if let Some(dir) = &self.rules_dir {
            for src in read_dir_toml(dir)? {
                let file = Path::new(&src.name)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
                sources.retain(|b| {
                    Path::new(&b.name)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        != file
                });
                sources.push(src);
            }
        }
        Ok(sources)
    }

    /// Every template: bundled, then each --templates directory in order. A file with errors
    /// is reported on `err` and makes the command fail after it has been reported, so that a
    /// broken clinic template is never silently skipped.
    fn catalog(&self, policy: &Policy, err: &mut dyn Write) -> Result<Catalog, CliError> {
        self.catalog_from(Vec::new(), policy, err)
    }

    /// The catalogue with `extra` template files after the bundled and --templates ones.
    fn catalog_from(
        &self,
        extra: Vec<SourceText>,
        policy: &Policy,
        err: &mut dyn Write,
    ) -> Result<Catalog, CliError> {
        let mut sources = bundled_sources();
        for dir in &self.template_dirs {
            sources.extend(read_dir_toml(dir)?);
        }
        sources.extend(extra);
        let (catalog, problems) = Catalog::build(sources, policy);
        let mut broken = 0;
        for c in &problems {
            if c.has_errors() {
                broken += 1;
                print_checked(err, c)?;
            }
        }
        if broken > 0 {
            return Err(CliError::Data(format!(
                "{broken} template file{} could not be used; fix {} or remove {} from the --templates directory",
                plural(broken),
                if broken == 1 { "it" } else { "them" },
                if broken == 1 { "it" } else { "them" },
            )));
        }
        Ok(catalog)
    }
}

/// Where fonts for Chinese, Japanese and Korean usually are on Linux (Debian packages
/// fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming, fonts-droid-fallback).
const CJK_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

/// DejaVu Sans, plus `font` if given, else a system CJK font when some text needs one.
fn pdf_fonts(texts: &[&str], font: Option<&Path>) -> Result<crate::render::pdf::Fonts, CliError> {
    use crate::render::pdf::Fonts;
    let bad = |e: crate::render::pdf::PdfError| CliError::Data(e.to_string());
    if let Some(path) = font {
        let bytes = std::fs::read(path).map_err(|source| CliError::Io {
            context: format!("cannot read font {}", path.display()),
            source,
        })?;
        return Fonts::new(Some(&bytes))
            .map_err(|e| CliError::Data(format!("{}: {e}", path.display())));
    }
    let plain = Fonts::new(None).map_err(bad)?;
    if texts.iter().all(|t| plain.missing(t).is_none()) {
        return Ok(plain);
    }
    for candidate in CJK_FONTS {
        if let Ok(bytes) = std::fs::read(candidate)
            && let Ok(fonts) = Fonts::new(Some(&bytes))
        {
            return Ok(fonts);
        }
    }
    // No font found: the PDF writer will refuse, naming the character.
    Ok(plain)
}

/// Renders a protocol and writes it atomically; reports the file on stderr.
fn write_protocol(
    doc: &crate::render::protocol::Protocol<'_>,
    names: &[&str],
    paper: crate::render::pdf::Paper,
    font: Option<&Path>,
    path: &Path,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let fonts = pdf_fonts(names, font)?;
    let (bytes, warnings) = crate::render::protocol::render(doc, &fonts, paper)
        .map_err(|e| CliError::Data(e.to_string()))?;
    write_atomically(path, &bytes)?;
    for w in warnings {
        writeln!(err, "warning from the PDF writer: {w}")?;
    }
    writeln!(err, "protocol written to {}", path.display())?;
    Ok(())
}

/// Writes `bytes` to `path` atomically and readable by the owner only
/// (patient documents): a fresh temporary file beside it that is never a
/// followed link, then a rename that replaces a planted link rather than
/// writing through it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    crate::store::keyed::write_private(path, bytes).map_err(|source| CliError::Io {
        context: format!("cannot write {}", path.display()),
        source,
    })
}

/// Reads rules from sources, printing every problem.
fn policy_from(sources: Vec<SourceText>, err: &mut dyn Write) -> Result<Policy, CliError> {
    Policy::from_sources(sources).or_else(|e: PolicyError| {
        for (src, diags) in &e.files {
            print_diagnostics(err, src, diags)?;
        }
        Err(CliError::Data("the rules files have errors".into()))
    })
}

/// Reads a whole file as UTF-8 text, naming the file in any error.
fn read_source(path: &Path) -> Result<SourceText, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        context: format!("cannot read {}", path.display()),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        CliError::Data(format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(SourceText::new(path.display().to_string(), text))
}

/// Every `*.toml` file of a directory, sorted by name.
fn read_dir_toml(dir: &Path) -> Result<Vec<SourceText>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Io {
        context: format!("cannot read template directory {}", dir.display()),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    paths.iter().map(|p| read_source(p)).collect()
}

fn print_diagnostics(
    w: &mut dyn Write,
    source: &SourceText,
    diags: &[crate::diag::Diagnostic],
) -> io::Result<()> {
    for d in diags {
        write!(
            w,
            "{}",
            Located {
                source,
                diagnostic: d
            }
        )?;
        writeln!(w)?;
    }
    Ok(())
}

fn print_checked(w: &mut dyn Write, c: &Checked) -> io::Result<()> {
    print_diagnostics(w, &c.source, &c.diagnostics)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value)
        .map_err(|e| CliError::from(io::Error::from(e)))?;
    writeln!(out)?;
    Ok(())
}
