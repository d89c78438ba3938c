//! `ritplan db backup | copy`: the record database itself (admin).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::args::DbCommand;
use crate::cli::context::{Context, opened, record_clock, record_path};
use crate::cli::output::{plural, write_json};
use crate::cli::{CliError, session};

/// `ritplan db ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: DbCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        DbCommand::Backup { out: dest } => backup(ctx, &dest, out, err),
        DbCommand::Copy { from, to, json } => copy(ctx, from, &to, json, out, err),
    }
}

/// `ritplan db backup --out FILE`: a verified copy, with its key file and heads.
fn backup(
    ctx: &Context,
    dest: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, now) = opened(ctx, err)?;
    let actor = session::actor(&ward, now)?;
    let v = ward.backup(&actor, dest)?;
    session::used(&ward, &actor, now)?;
    writeln!(
        out,
        "backed up {} course{} to {} (with {} and {}); the copy verifies",
        v.courses.len(),
        plural(v.courses.len()),
        dest.display(),
        crate::ward::location::key_path(dest).display(),
        crate::ward::location::heads_path(dest).display()
    )?;
    Ok(())
}

/// `ritplan db copy --to PATH_OR_URL`: the whole record into a new one, verified there.
fn copy(
    ctx: &Context,
    from: Option<PathBuf>,
    to: &Path,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let source = record_path(from.as_ref().or(ctx.db.as_ref()))?;
    let ward = crate::ward::Ward::open_unchanged(&source)?;
    let now = record_clock(ward.training(), ward.zone()?, err)?;
    // The session is read, not marked used: a copy changes nothing in its source.
    let actor = session::actor(&ward, now)?;
    let r = ward.copy_to(&actor, to)?;
    if json {
        write_json(out, &r)?;
    }
    if !json {
        writeln!(
            out,
            "copied {} patient{}, {} course{} and {} event{} from {} to {}; the copy verifies and its rows are identical (SHA-256 {})",
            r.patients,
            plural(r.patients as usize),
            r.courses,
            plural(r.courses as usize),
            r.events,
            plural(r.events as usize),
            r.from,
            r.to,
            &r.copy_digest[..16]
        )?;
    }
    Ok(())
}
