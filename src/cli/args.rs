//! The command line's types: one variant per command, and the flag groups several commands
//! share, declared once. A command with several flags is a variant over its own argument
//! struct, declared beside the command's code in `cli::cmd`. Values are parsed into typed
//! values by clap, before any record is opened.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::cmd;
use super::context::parse_datetime;

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
    pub templates: Vec<PathBuf>,

    /// The record database (default: $RITPLAN_DB, else the configuration file's `db`, else
    /// the platform data directory).
    #[arg(long = "db", value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,

    /// The clinic's configuration file (default: $XDG_CONFIG_HOME/ritplan/config.toml, else
    /// /etc/ritplan/config.toml, if present): hours, days, record, clinic name.
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Read rules from DIR: a file there replaces the bundled rules file of the same name
    /// (risk.toml, omalizumab-eu.toml, ...); other *.toml files are added.
    #[arg(long = "rules", value_name = "DIR", global = true)]
    pub rules: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

// Each subcommand's arguments are built only when it runs (or its help is shown): clap builds
// the whole tree of ~50 commands otherwise, about half a millisecond of every command. So the
// argument structs (`#[derive(clap::Args)]`) carry plain comments, not doc comments: built
// late, a struct's doc comment would replace its command's description.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
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
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan template show alutard-hdm-cluster-7w\n  ritplan template check my-schedule.toml"
    )]
    Template(TemplateCommand),
    /// Assess a patient's risk of systemic reactions during rush immunotherapy.
    ///
    /// Prints the stratum (low, intermediate, high), the sIgE class, the sIgE/total-IgE ratio,
    /// the age group, whether a favourable response is predicted, contraindications, and every
    /// reason with the rule it comes from.
    #[command(
        after_help = "Examples:\n  ritplan risk --age 9 --sige 52 --total-ige 410\n  ritplan risk --dob 2017-03-02 --sige '>100' --total-ige 410 --fev1 85 --json"
    )]
    Risk(cmd::risk::RiskArgs),
    /// Plan a dated, risk-adjusted schedule for a patient from a template.
    ///
    /// Assesses the risk, applies the adjustments the rules give for the stratum, age group and
    /// omalizumab pretreatment, and lays the steps on clinic days and times. Refuses (exit 1)
    /// when a contraindication applies, or for a high-risk patient without sufficient
    /// pretreatment unless the physician passes --accept-risk with a reason.
    #[command(
        after_help = "Examples:\n  ritplan plan --template example-hdm-rush-3d --start 2026-12-07T08:00 --age 34 --weight 70 --sige 2 --total-ige 410 --fev1 92 --asthma controlled\n  ritplan plan --template alutard-hdm-cluster-7w --start 2026-12-07 --patient patient.toml --json"
    )]
    Plan(cmd::plan::PlanArgs),
    /// Create a record (its database, key file and heads folder) and its first account, an admin.
    #[command(
        after_help = "Examples:\n  ritplan --db ward.db init --admin it.admin --name 'Ward admin'\n  printf 'a long password\\n' | ritplan --db training.db init --admin trainer --name Trainer --training --password-stdin"
    )]
    Init(cmd::staff::InitArgs),
    /// Log in to the record (the session ends after the idle timeout or with `logout`).
    #[command(
        after_help = "Examples:\n  ritplan login rn.li\n  printf '%s\\n' \"$PASSWORD\" | ritplan login rn.li --password-stdin"
    )]
    Login(cmd::staff::LoginArgs),
    /// End the session.
    Logout,
    /// Who is logged in.
    Whoami {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Staff accounts: add, list, disable, password.
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan staff add --id rn.li --name 'RN Li' --role nurse\n  ritplan staff list\n  ritplan staff disable rn.li"
    )]
    Staff(cmd::staff::StaffCommand),
    /// The clinic's settings: show, set (admin).
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan settings show\n  ritplan settings set second_check required"
    )]
    Settings(cmd::staff::SettingsCommand),
    /// The record database itself: backups (admin).
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan db backup --out /backups/ward-2026-12-01.db"
    )]
    Db(DbCommand),
    /// Export a course in a clinic's standard format.
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan export fhir 3 --out course-3.fhir.json\n  ritplan export ics 3 --clinic 'Allergy clinic, Ward 4' --out course-3.ics"
    )]
    Export(ExportCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  ritplan completions bash > ~/.local/share/bash-completion/completions/ritplan\n  ritplan completions zsh > ~/.zfunc/_ritplan\n  ritplan completions fish > ~/.config/fish/completions/ritplan.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a folder.
    #[command(
        after_help = "Examples:\n  ritplan man | man -l -\n  ritplan man --out-dir ~/.local/share/man/man1"
    )]
    Man {
        /// Write ritplan.1 and a page per command (ritplan-give.1, ...) into this folder.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<std::path::PathBuf>,
    },
    /// Check the whole record: every MAC, chain and head (exit 65 if anything was altered).
    #[command(after_help = "Examples:\n  ritplan verify\n  ritplan verify --json")]
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Patients: add, list, find, show, import.
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan patient add --id P001 --name 'Li Na' --dob 2017-03-02 --weight 31 --sige 52 --total-ige 410 --fev1 95 --asthma controlled\n  ritplan patient find 'li na'\n  ritplan patient import cohort.csv"
    )]
    Patient(PatientCommand),
    /// Treatment courses: start, list, show, log, pdf, verify.
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan course start --patient P001 --template example-hdm-rush-3d --start 2026-12-07T08:00\n  ritplan course list --active\n  ritplan course show 3\n  ritplan course pdf --all-active --out ward.pdf"
    )]
    Course(CourseCommand),
    /// What the next dose of a course may be, and when.
    #[command(
        after_help = "Examples:\n  ritplan next 3\n  ritplan next 3 --at 2026-12-08T08:00 --json"
    )]
    Next(cmd::next::NextArgs),
    /// What-if: the rest of the course as the state machine would run it if these things
    /// happened (nothing is written).
    #[command(
        after_help = "Each --reaction STEP=GRADE is a systemic reaction (WAO grade with its epinephrine suffix) after that step's dose; each --local STEP=MM a local reaction of that size; each --miss DATE a day the patient does not come; --new-lot DATE makes every vial from that day one of a new lot (the course's vial-change rule applies to the first dose from each).\n\nExamples:\n  ritplan forecast 3 --local 4=60\n  ritplan forecast 3 --reaction 5=1z --miss 2026-12-09 --json\n  ritplan forecast 3 --new-lot 2026-12-14"
    )]
    Forecast(cmd::forecast::ForecastArgs),
    /// Record a dose given. Refused (exit 1, nothing written) unless it is the dose `next` allows,
    /// for the patient named with --patient or scanned with --scan-patient.
    #[command(
        after_help = "A vial scanned with --scan-vial must be one of the course's, neither expired nor discarded, of the dose's strength; the clinic's `scan` setting may require the scans (exit 1, nothing written, and no --override lifts it).\n\nExamples:\n  ritplan give 3 --patient P001 --step 1 --volume 0.1 --pef 95 --screen ok --lot A123 --site left\n  ritplan give 3 --scan-patient P001 --scan-vial V000012 --step 1 --volume 0.1 --pef 95 --screen ok\n  ritplan give 3 --patient P001 --step 1 --volume 0.1 --pef 95 --screen ok --checked-by rn.wu"
    )]
    Give(cmd::record::GiveArgs),
    /// Record the end of a dose's observation, with the local reaction.
    ///
    /// The observation is measured from the injection: ending it before the planned minimum
    /// (per step, risk-adjusted, the day's last) is refused unless --early gives the reason
    /// (the patient left against advice); the visit then ends. The local reaction is required:
    /// --local-mm N, or --not-assessable (escalation then waits for a physician).
    #[command(
        after_help = "Examples:\n  ritplan observe 3 --by 'RN Li' --local-mm 12\n  ritplan observe 3 --by 'RN Li' --not-assessable\n  ritplan observe 3 --by 'RN Li' --local-mm 0 --early 'left against advice'"
    )]
    Observe(cmd::record::ObserveArgs),
    /// Record a systemic reaction (WAO grade), a late local reaction, or a late reaction.
    #[command(
        after_help = "Examples:\n  ritplan react 3 --grade 2a --onset-min 12 --symptom 'urticaria and wheeze' --by 'Dr Wang'\n  ritplan react 3 --late-local-mm 80 --by 'RN Li'\n  ritplan react 3 --late type-iii --symptom 'fever, joint pain' --by 'Dr Wang'"
    )]
    React(cmd::record::ReactArgs),
    /// Record that today's dose is deferred (fever, infection, asthma symptoms, vaccination, low PEF).
    #[command(after_help = "Examples:\n  ritplan defer 3 --reason 'fever 38.4' --by 'RN Li'")]
    Defer(cmd::record::DeferArgs),
    /// Record a physician's review: continue, repeat, step-back:N, restart or stop.
    ///
    /// "step-back:N" is N distinct doses down the ladder of the course's phase. Every review
    /// needs a reason; resuming a stopped course needs the correctable cause in it.
    #[command(
        after_help = "Examples:\n  ritplan review 3 --by 'Dr Wang' --decision step-back:2 --reason 'grade 2 SR, resolved'"
    )]
    Review(cmd::record::ReviewArgs),
    /// Record a note.
    #[command(after_help = "Examples:\n  ritplan note 3 --text 'mother present' --by 'RN Li'")]
    Note(cmd::record::NoteArgs),
    /// Record that an earlier event was wrong; it no longer counts (it stays in the log).
    #[command(
        after_help = "Examples:\n  ritplan correct 3 --event 5 --reason 'recorded on the wrong course' --by 'RN Li'"
    )]
    Correct(cmd::record::CorrectArgs),
    /// Follow-ups after a course: ACQ item scores, FEV1 and medication (add, list).
    #[command(
        subcommand,
        after_help = "The ACQ is copyrighted (QOL Technologies, licensed through Mapi Research Trust): ritplan ships no questionnaire wording, only item numbers and scores.\n\nExamples:\n  ritplan followup add --patient P001 --date 2026-12-01 --acq 1,2,0,1,3 --acq-version 5 --medication budesonide --daily-dose '400 µg'\n  ritplan followup list --patient P001 --json"
    )]
    Followup(cmd::followup::FollowUpCommand),
    /// The nurses' dosing sheet for a day: every active course's doses in time order.
    #[command(
        after_help = "Examples:\n  ritplan sheet --date 2026-12-07\n  ritplan sheet --date 2026-12-07 --json"
    )]
    Sheet(cmd::sheet::SheetArgs),
    /// Vials: add one of a course's template (it gets its own code), list, discard.
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan vial add 3 --vial 4 --lot AB123 --expires 2027-03-31\n  ritplan vial list 3\n  ritplan vial discard V000001 --reason dropped"
    )]
    Vial(cmd::vial::VialCommand),
    /// Print labels: a patient's label with the ID as a Code 128 and a Data Matrix; a course's
    /// vial labels with each vial's code as a Data Matrix.
    #[command(
        subcommand,
        after_help = "Examples:\n  ritplan label patient P001 --out p001-label.pdf\n  ritplan label patient P001 --size a4 --out p001-labels.pdf\n  ritplan label vials 3 --out course3-vials.pdf"
    )]
    Label(cmd::label::LabelCommand),
    /// Serve the ward page (log in, the board) on this machine: http://127.0.0.1:8470/.
    #[cfg(feature = "web")]
    #[command(after_help = "Examples:\n  ritplan serve\n  ritplan serve --listen 127.0.0.1:9000")]
    Serve(cmd::serve::ServeArgs),
    /// The ward's board now: every course due now, in observation (until when), with its
    /// observation overdue, waiting until later today, DO NOT GIVE (with the reason), or done
    /// for today, in the order to work through them.
    #[command(after_help = "Examples:\n  ritplan board\n  ritplan board --json")]
    Board {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The outcomes audit (physicians only): one row of facts per course whose rush day 1
    /// falls in the window (arm, strata, injections by phase, reactions, target dose, status),
    /// as counts, JSON, or a pseudonymised CSV with its data dictionary.
    #[command(
        after_help = "Examples:\n  ritplan audit --from 2026-01-01 --to 2026-12-31\n  ritplan audit --json\n  ritplan audit --csv courses.csv --study-key-file study.key\n  ritplan audit --csv courses.csv --study-key-file study.key --dates shifted"
    )]
    Audit(cmd::audit::AuditArgs),
    /// Look up the omalizumab dose in the label's table (exact cells, no interpolation).
    ///
    /// Exit 1 when the label gives no dose (outside the table), when the cell is one the
    /// sources dispute (shown as unverified, with the candidates), or when ritplan holds no table
    /// for the patient's age.
    ///
    /// `ritplan omalizumab start` starts an omalizumab course from the patient's record.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  ritplan omalizumab --total-ige 410 --weight 31 --age 9\n  ritplan omalizumab --total-ige 410 --weight 70 --age 30 --label us --json\n  ritplan omalizumab start --patient P001 --start 2026-12-07"
    )]
    Omalizumab(cmd::risk::OmalizumabArgs),
}

// How a PDF is printed: the flags every PDF-writing command shares, declared once.
#[derive(Debug, Clone, clap::Args)]
pub struct PaperArgs {
    /// Paper size.
    #[arg(long, value_enum, default_value = "a4")]
    pub paper: crate::render::pdf::Paper,
    /// A TrueType/OpenType font for characters DejaVu Sans lacks (e.g. Chinese names); without
    /// it the usual system locations are searched when a name needs one.
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,
}

impl PaperArgs {
    /// Where and how to write a PDF.
    pub(super) fn to(&self, path: PathBuf) -> super::output::PdfOut {
        super::output::PdfOut {
            path,
            paper: self.paper,
            font: self.font.clone(),
        }
    }
}

// Where to write a plan's PDF, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct PdfArgs {
    /// Also write the printable protocol to FILE (PDF; `--pdf` is the old name).
    #[arg(long = "out", visible_alias = "pdf", value_name = "FILE")]
    pub pdf: Option<PathBuf>,
    #[command(flatten)]
    pub print: PaperArgs,
}

// Who records and when: on every recording command.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// Optional: the logged-in staff member's id or name (refused if it is anyone else's).
    #[arg(long)]
    pub by: Option<String>,
    /// When it happened (default now); an earlier time is flagged as entered late.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    pub at: Option<chrono::NaiveDateTime>,
    /// Print what was recorded and what `next` now says as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PatientCommand {
    /// Add a patient.
    #[command(
        after_help = "Examples:\n  ritplan patient add --id P001 --name 'Li Na' --dob 2017-03-02 --weight 31 --sige 52 --total-ige 410 --fev1 95 --asthma controlled"
    )]
    Add(cmd::patient::PatientAdd),
    /// List patients.
    #[command(after_help = "Examples:\n  ritplan patient list --json")]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    // (Each variant's description is the doc comment right above its own attributes: two doc
    // comments in a row are one description, of the variant under them.)
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
    /// Import patients from a CSV file: every row checked, all or none recorded.
    #[command(
        after_help = "The header names the columns, in any order: id, name, dob (YYYY-MM-DD), weight (kg), sige (kUA/L), total_ige (kU/L), and optionally fev1 (%), asthma (controlled|partly|uncontrolled), beta_blocker (yes|no).\n\nExamples:\n  ritplan patient import trial-cohort.csv"
    )]
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CourseCommand {
    /// Start a course: runs the planner (and refuses as it refuses), then freezes the template,
    /// the rules and the plan in the record. Prints the course id.
    #[command(
        after_help = "Examples:\n  ritplan course start --patient P001 --template example-hdm-rush-3d --start 2026-12-07T08:00"
    )]
    Start(cmd::course::CourseStart),
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
    /// Write courses' printable protocols: the plan with the doses given and the reactions
    /// (several courses: one file, each protocol on its own pages).
    #[command(
        after_help = "Examples:\n  ritplan course pdf 3 --out course-3.pdf\n  ritplan course pdf 1 2 3 --out ward.pdf\n  ritplan course pdf --all-active --out ward.pdf\n  ritplan course pdf 3 --out course-3.pdf --paper letter --font /usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    )]
    Pdf {
        /// Course ids.
        #[arg(required_unless_present = "all_active", conflicts_with = "all_active")]
        id: Vec<i64>,
        /// Every active course.
        #[arg(long)]
        all_active: bool,
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
#[command(defer = true)]
pub enum TemplateCommand {
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

/// `ritplan db` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum DbCommand {
    /// Back the record up: a consistent copy of the database (with its write-ahead log), its
    /// key file and its heads, verified before it is reported (admin).
    #[command(
        after_help = "Copying ward.db alone loses the entries still in ward.db-wal and the key that checks them: back up with this, then store the three (ward.db, ward.db.key, ward.db.heads/) together and privately.\n\nExamples:\n  ritplan db backup --out /backups/ward-2026-12-01.db"
    )]
    Backup {
        /// Where the copy goes (its key file and heads folder beside it); must not exist.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Give a record made before ritplan stored moments as instants the time zone its times were
    /// written in, and upgrade it (admin): the whole record is verified and every recorded time
    /// checked in the zone first; no entry is rewritten, and the chains stay as they are.
    #[command(
        after_help = "Records made by ritplan before schema 5 with no time zone (`settings show`: time_zone system) hold the clinic's wall-clock times without saying where; until they are migrated they are read in the zone of the machine that reads them. Give the zone the clinic was in when they were written. Refused, with nothing changed: a record that does not verify, a zone other than one the record already names, a recorded time the clocks skip in that zone. Times that the zone repeats (the hour the clocks go back) are read as the earlier and counted.\n\nExamples:\n  ritplan db migrate --time-zone Europe/Oslo"
    )]
    Migrate {
        /// The IANA zone the record's times were written in (Europe/Oslo, America/New_York).
        #[arg(long, value_name = "ZONE")]
        time_zone: String,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy the whole record into a new record, from a file to a PostgreSQL server or back:
    /// every row with its MAC, the same key, verified on the target before success; the
    /// source is only read (admin, logged in on the source).
    #[command(
        after_help = "The target must be new: a file that does not exist, or an empty database. A server record's key file is RITPLAN_KEY, else ~/.local/share/ritplan/keys/HOST-PORT-DBNAME.key; a file's is beside it.\n\nExamples:\n  ritplan db copy --from ward.db --to postgres://ritplan@db.clinic/ritplan?sslmode=require\n  ritplan db copy --from postgres://ritplan@db.clinic/ritplan --to /backups/ward-2026-12-01.db"
    )]
    Copy {
        /// The record to copy (default: the record, --db or RITPLAN_DB).
        #[arg(long, value_name = "PATH_OR_URL")]
        from: Option<std::path::PathBuf>,
        /// The new record: a file path, or postgres://USER@HOST[:PORT]/DBNAME[?sslmode=require].
        #[arg(long, value_name = "PATH_OR_URL")]
        to: std::path::PathBuf,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ritplan export` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ExportCommand {
    /// A FHIR R4 (4.0.1) JSON Bundle: the patient, the planned steps, the doses given or
    /// deferred, the reactions and the measurements; the same course exports identically twice.
    #[command(
        after_help = "Examples:\n  ritplan export fhir 3 --out course-3.fhir.json\n  ritplan export fhir --patient P001"
    )]
    Fhir {
        /// The course (or --patient for every course of a patient).
        #[arg(required_unless_present = "patient", conflicts_with = "patient")]
        course: Option<i64>,
        /// Every course of this patient.
        #[arg(long, value_name = "ID")]
        patient: Option<String>,
        /// Write to this file (private, atomic) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// An iCalendar file of the course's visits for the patient's calendar: one event per
    /// visit, with a UID that stays when the course is re-projected.
    #[command(
        after_help = "SUMMARY holds only the clinic's name; the steps and doses are added to DESCRIPTION only with --details.\n\nExamples:\n  ritplan export ics 3 --clinic 'Allergy clinic, Ward 4' --out course-3.ics"
    )]
    Ics {
        /// The course.
        course: i64,
        /// The clinic's name, the only thing each event's title shows (default: the
        /// configuration file's `clinic_name`, else "Allergy clinic").
        #[arg(long)]
        clinic: Option<String>,
        /// Add the visit's steps and doses to each event's description.
        #[arg(long)]
        details: bool,
        /// Write to this file (private, atomic) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
}

fn step_of(s: &str) -> Result<(usize, &str), String> {
    let (step, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write STEP=VALUE, e.g. 4=60"))?;
    let step = step
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=crate::course::MAX_STEP).contains(n))
        .ok_or_else(|| format!("{s:?}: the step must be a number from 1"))?;
    Ok((step, v.trim()))
}

fn parse_reaction(s: &str) -> Result<(usize, crate::course::WaoGrade), String> {
    let (step, g) = step_of(s)?;
    Ok((step, g.parse()?))
}

fn parse_local(s: &str) -> Result<(usize, u32), String> {
    let (step, mm) = step_of(s)?;
    let mm = mm
        .parse::<u32>()
        .ok()
        .filter(|m| *m <= crate::course::MAX_REACTION_MM)
        .ok_or_else(|| {
            format!(
                "{s:?}: the size is whole mm from 0 to {}",
                crate::course::MAX_REACTION_MM
            )
        })?;
    Ok((step, mm))
}

// What-ifs for `forecast` and `plan`: the state machine runs the rest as if these happened.
#[derive(Debug, Clone, clap::Args)]
pub struct WhatIf {
    /// A systemic reaction after a step's dose: STEP=GRADE, e.g. 5=1z.
    #[arg(long, value_name = "STEP=GRADE", value_parser = parse_reaction)]
    pub reaction: Vec<(usize, crate::course::WaoGrade)>,
    /// A local reaction at the end of a step's observation: STEP=MM, e.g. 4=60.
    #[arg(long, value_name = "STEP=MM", value_parser = parse_local)]
    pub local: Vec<(usize, u32)>,
    /// A day the patient does not come.
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    pub miss: Vec<chrono::NaiveDate>,
    /// From this day, every vial is of a new lot: the first dose from each vial used before
    /// follows the course's vial-change rule (rules/vial-change.toml).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    pub new_lot: Option<chrono::NaiveDate>,
}

impl WhatIf {
    /// The scenario, or none when nothing is asked.
    pub fn scenario(&self) -> Option<crate::course::Scenario> {
        if self.reaction.is_empty()
            && self.local.is_empty()
            && self.miss.is_empty()
            && self.new_lot.is_none()
        {
            return None;
        }
        Some(crate::course::Scenario {
            reactions: self.reaction.clone(),
            local: self.local.clone(),
            miss: self.miss.clone(),
            new_lot: self.new_lot,
        })
    }
}
