//! `ritplan next`: what the next dose of a course may be, and when.

use std::io::Write;

use chrono::NaiveDateTime;

use super::patient::identity;
use crate::cli::CliError;
use crate::cli::context::{Context, opened, parse_datetime};
use crate::cli::json::{DecisionJson, NextJson};
use crate::cli::output::write_json;
use crate::course::Decision;
use crate::render::course as say;
use crate::ward::{CourseView, Ward};

// `ritplan next` arguments.
#[derive(Debug, clap::Args)]
pub struct NextArgs {
    /// Course id.
    course: i64,
    /// As of this time (default now).
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    at: Option<NaiveDateTime>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `ritplan next COURSE`.
pub(in crate::cli) fn run(
    ctx: &Context,
    a: NextArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    next(&mut ward, a.course, a.at.unwrap_or(now), a.json, out)
}

fn next(
    ward: &mut Ward,
    id: i64,
    at: NaiveDateTime,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if ward.course_kind(id)? == crate::ward::CourseKind::Omalizumab {
        return super::omalizumab::next(ward, id, at, json, out);
    }
    let v = ward.view(id)?;
    let d = v.decide(at)?;
    let p = ward.patient(&v.loaded.record.patient_id)?;
    if json {
        return write_json(
            out,
            &NextJson {
                decision: DecisionJson::new(&d, &v),
                patient: &p,
                lookalikes: ward.lookalikes(&p)?,
            },
        );
    }
    for line in identity(ward, &p, at)? {
        writeln!(out, "{line}")?;
    }
    print_decision(out, &v, &d)
}

/// The decision's headline, and a line for each of its reasons.
/// The phase of the decision's dose, when the course's template names its phases.
pub(in crate::cli) fn dose_phase(v: &CourseView, d: &Decision) -> Option<crate::template::Phase> {
    let ctx = v.loaded.ctx().ok()?;
    d.dosing.as_ref().and_then(|x| ctx.phase_of(x.step))
}

pub(super) fn print_decision(
    out: &mut dyn Write,
    v: &CourseView,
    d: &Decision,
) -> Result<(), CliError> {
    writeln!(out, "{}", say::headline(d, &v.loaded.template))?;
    // The dose's phase, when the course's template names its phases.
    if let Some(p) = dose_phase(v, d) {
        writeln!(out, "  - Phase: {p}.")?;
    }
    for line in say::details(d) {
        writeln!(out, "  - {line}")?;
    }
    Ok(())
}
