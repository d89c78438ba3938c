//! `ritplan db backup | migrate | copy`: the record database itself (admin).

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
        DbCommand::Migrate { time_zone, json } => migrate(ctx, &time_zone, json, out, err),
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

/// `ritplan db migrate --time-zone ZONE`: the zone of a record's wall-clock times, and schema 5.
fn migrate(
    ctx: &Context,
    zone: &str,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let zone =
        crate::zone::Zone::parse(zone).map_err(|e| CliError::Usage(format!("--time-zone: {e}")))?;
    let (mut ward, now) = opened(ctx, err)?;
    let actor = session::actor(&ward, now)?;
    let r = ward.migrate_times(&actor, zone, now)?;
    session::used(&ward, &actor, now)?;
    if json {
        return write_json(out, &r);
    }
    if r.already {
        writeln!(
            out,
            "this record already stores its moments as instants in {}: nothing to do",
            r.zone
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "migrated: {} course{} with {} entr{}, every one kept and chained as it was; the {} time{} recorded before are read in {}{}; the record verifies{}",
        r.courses,
        plural(r.courses as usize),
        r.entries,
        if r.entries == 1 { "y" } else { "ies" },
        r.legacy.checked,
        plural(r.legacy.checked as usize),
        r.zone,
        if r.legacy.repeated > 0 {
            format!(
                " ({} in an hour the clocks repeat, read as the earlier)",
                r.legacy.repeated
            )
        } else {
            String::new()
        },
        if r.intact {
            ""
        } else {
            " NOT: run `ritplan verify`"
        }
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
