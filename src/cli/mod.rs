//! The command line: clap types, one module per command (`cmd`), the `--json` shapes (`json`),
//! and the exit codes (`error`).
//!
//! Exit codes (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also when the reader of our output went away: a broken pipe) |
//! | 1 | refusal: the rules decline (no plan, no dose), or the logged-in role may not do it |
//! | 2 | usage error: unknown command, flag, or template id |
//! | 65 | bad input data: a template or rules file with errors, an impossible patient value, a control character, a database that is not a ritplan record, a record that fails verification |
//! | 74 | I/O error: a file that cannot be read or written, a record or key file that does not exist, a PostgreSQL server that cannot be reached |
//! | 77 | not permitted: not logged in, the session ended, a wrong password, a locked or disabled account |
//!
//! Results go to stdout; diagnostics and errors go to stderr. No colour is ever printed.

mod args;
mod cmd;
mod config;
mod context;
mod error;
mod json;
mod output;
mod patient_args;
mod session;

use std::ffi::OsString;
use std::io::{self, Write};

use clap::Parser;

pub use args::Args;
use args::Command;
use context::Context;
pub use error::{CliError, EXIT_AUTH, EXIT_DATA, EXIT_IO, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

/// Runs the command line and returns the exit code. Errors are printed to stderr.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> u8 {
    crate::timing::mark("start (main)");
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors; clap knows which exit code each wants.
            let _ = e.print();
            // A real date outside the years ritplan accepts is bad input data, not a usage
            // error (exit 65, as for a patient value out of range).
            let out_of_range = matches!(
                std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<crate::when::DateError>()),
                Some(crate::when::DateError::OutOfRange { .. })
            );
            if out_of_range {
                return EXIT_DATA;
            }
            return u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE);
        }
    };
    crate::timing::mark("arguments");
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(args, &mut out).and_then(|()| out.flush().map_err(CliError::from));
    crate::timing::mark("output");
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
    let err: &mut dyn Write = &mut err;
    // Tables fit a terminal's width; a pipe or a file gets them whole.
    if io::IsTerminal::is_terminal(&io::stdout())
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
    {
        crate::render::fit_tables_to(w);
    }
    let config = config::Config::load(args.config.as_deref())?;
    // --db, then RITPLAN_DB (read where the record is opened), then the configuration file.
    let db = args.db.or_else(|| {
        std::env::var_os("RITPLAN_DB")
            .is_none()
            .then(|| config.db.clone())
            .flatten()
    });
    let ctx = Context {
        template_dirs: args.templates,
        rules_dir: args.rules,
        db,
        config,
    };
    let ctx = &ctx;
    match args.command {
        Command::Templates { json } => cmd::templates::list(ctx, json, out, err),
        Command::Template(c) => cmd::templates::run(ctx, c, out, err),
        Command::Risk(a) => cmd::risk::risk(ctx, a, out, err),
        Command::Omalizumab(mut a) => match a.command.take() {
            Some(c) => cmd::omalizumab::run(ctx, c, out, err),
            None => cmd::risk::omalizumab(ctx, a, out, err),
        },
        Command::Plan(a) => cmd::plan::run(ctx, a, out, err),
        Command::Init(a) => cmd::staff::init(ctx, &a, out, err),
        Command::Login(a) => cmd::staff::login(ctx, &a, out, err),
        Command::Logout => cmd::staff::logout(ctx, out, err),
        Command::Whoami { json } => cmd::staff::whoami(ctx, json, out, err),
        Command::Staff(c) => cmd::staff::staff(ctx, c, out, err),
        Command::Settings(c) => cmd::staff::settings(ctx, c, out, err),
        Command::Verify { json } => cmd::staff::verify(ctx, json, out, err),
        Command::Db(c) => cmd::db::run(ctx, c, out, err),
        Command::Export(c) => cmd::export::run(ctx, c, out, err),
        Command::Completions { shell } => cmd::completions::completions(shell, out),
        Command::Man { out_dir } => cmd::completions::man(out_dir.as_deref(), out),
        Command::Patient(c) => cmd::patient::run(ctx, c, out, err),
        Command::Course(c) => cmd::course::run(ctx, c, out, err),
        Command::Next(a) => cmd::next::run(ctx, a, out, err),
        Command::Forecast(a) => cmd::forecast::run(ctx, a, out, err),
        Command::Give(a) => cmd::record::give(ctx, a, out, err),
        Command::Observe(a) => cmd::record::observe(ctx, a, out, err),
        Command::React(a) => cmd::record::react(ctx, a, out, err),
        Command::Defer(a) => cmd::record::defer(ctx, a, out, err),
        Command::Review(a) => cmd::record::review(ctx, a, out, err),
        Command::Note(a) => cmd::record::note(ctx, a, out, err),
        Command::Followup(c) => cmd::followup::run(ctx, c, out, err),
        Command::Correct(a) => cmd::record::correct(ctx, a, out, err),
        Command::Sheet(a) => cmd::sheet::run(ctx, a, out, err),
        Command::Label(c) => cmd::label::run(ctx, c, err),
        Command::Vial(c) => cmd::vial::run(ctx, c, out, err),
        Command::Board { json } => cmd::board::run(ctx, json, out, err),
        Command::Audit(a) => cmd::audit::run(ctx, a, out, err),
        #[cfg(feature = "web")]
        Command::Serve(a) => cmd::serve::run(ctx, &a, err),
    }
}
