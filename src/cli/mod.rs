//! The command line: clap types, one file per command group, and the exit codes.
//!
//! Exit codes (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also when the reader of our output went away: a broken pipe) |
//! | 1 | clinical refusal: the tool declines to proceed |
//! | 2 | usage error: unknown command, flag, or template id |
//! | 65 | bad input data: a template or rules file with errors, an patient value |
//! | 74 | I/O error: a file that cannot be read or written |
//!
//! Results go to stdout; diagnostics and errors go to stderr. No colour is ever printed.

mod patient_args;
mod plan;
mod risk;
mod templates;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::diag::{Located, SourceText};
use crate::policy::{Policy, PolicyError};
use crate::template::{Catalog, Checked, bundled_sources};

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

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// Input data is wrong; its diagnostics have already been printed.
    #[error("{0}")]
    Data(String),
    /// The tool declines for a clinical reason.
    #[error("{0}")]
    Refused(String),
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
    after_help = "Examples:\n  ritplan templates\n  ritplan template show alutard-hdm-cluster-7w\n  ritplan template check my-schedule.toml\n\nExit codes: 0 ok, 1 clinical refusal, 2 usage error, 65 bad input data, 74 I/O error."
)]
pub struct Args {
    /// Also load every *.toml schedule template in DIR (may be given more than once).
    #[arg(long = "templates", value_name = "DIR", global = true)]
    templates: Vec<PathBuf>,

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
            json,
        } => plan::run(
            &ctx,
            &template,
            start,
            &patient,
            &calendar,
            accept_risk.as_deref(),
            json,
            out,
            &mut err,
        ),
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
}

/// Today's date on this machine: the one place the command line reads the clock for a date.
#[allow(clippy::disallowed_methods)]
fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

impl Context {
    /// The rules in force.
    fn policy(&self, err: &mut dyn Write) -> Result<Policy, CliError> {
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
        Policy::from_sources(sources).or_else(|e: PolicyError| {
            for (src, diags) in &e.files {
                print_diagnostics(err, src, diags)?;
            }
            Err(CliError::Data("the rules files have errors".into()))
        })
    }

    /// Every template: bundled, then each --templates directory in order. A file with errors
    /// is reported on `err` and makes the command fail after it has been reported, so that a
    /// broken clinic template is never silently skipped.
    fn catalog(&self, policy: &Policy, err: &mut dyn Write) -> Result<Catalog, CliError> {
        let mut sources = bundled_sources();
        for dir in &self.template_dirs {
            sources.extend(read_dir_toml(dir)?);
        }
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
