//! `ritplan omalizumab start`, and an omalizumab course shown (`course show`).

use std::io::Write;

use chrono::NaiveDate;
use serde::Serialize;

use crate::cli::context::{Context, opened, policy_from};
use crate::cli::output::write_json;
use crate::cli::{CliError, session};
use crate::policy::omalizumab_course::{LAID_WEEKS, NOT_RECALCULATED, OmalizumabPlan};
use crate::ward::view::CourseRecord;
use crate::ward::{OmalizumabNotStarted, OmalizumabStart, Ward};

/// How many injection dates the text output lists.
const FIRST_DATES: usize = 4;

// `ritplan omalizumab` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum OmalizumabCommand {
    /// Start an omalizumab course (physician): the dose from the patient's recorded
    /// pre-treatment total IgE and weight and the age at the first injection, the injection
    /// dates of the first year, frozen in the record with the label's table. Prints the course
    /// id, the dose, the interval, the syringes and the first dates.
    ///
    /// Refused (exit 1), naming the value, when the label gives no dose for the recorded values
    /// (outside the table, a cell the sources dispute, no table for the age), and while the
    /// patient has another omalizumab course.
    #[command(
        after_help = "Examples:\n  ritplan omalizumab start --patient P001 --start 2026-12-07\n  ritplan omalizumab start --patient P001 --start 2026-12-07 --label us --json"
    )]
    Start(OmalizumabStartArgs),
}

// `omalizumab start` arguments.
#[derive(Debug, clap::Args)]
pub struct OmalizumabStartArgs {
    /// The patient's id.
    #[arg(long)]
    patient: String,
    /// The first injection (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    start: NaiveDate,
    /// Which label's table: eu (China follows it) or us [default: the configuration file's
    /// `omalizumab_label`, else eu].
    #[arg(long, value_parser = ["eu", "us"])]
    label: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `ritplan omalizumab start --json`.
#[derive(Serialize)]
struct StartedJson<'a> {
    course: i64,
    patient: &'a str,
    kind: crate::ward::CourseKind,
    plan: &'a OmalizumabPlan,
    note: &'static str,
}

/// `ritplan omalizumab <subcommand>`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: OmalizumabCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        OmalizumabCommand::Start(a) => {
            let (mut ward, now) = opened(ctx, err)?;
            let actor = session::actor(&ward, now)?;
            start(ctx, &mut ward, &actor, &a, now, out, err)?;
            session::used(&ward, &actor, now)
        }
    }
}

fn start(
    ctx: &Context,
    ward: &mut Ward,
    actor: &crate::ward::Actor,
    a: &OmalizumabStartArgs,
    now: chrono::NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let label = a
        .label
        .as_deref()
        .or(ctx.config.omalizumab_label.as_deref())
        .unwrap_or("eu");
    let rule_sources = ctx.rule_sources()?;
    policy_from(rule_sources.clone(), err)?;
    let started = ward.start_omalizumab(
        actor,
        OmalizumabStart {
            patient_id: &a.patient,
            label,
            rule_sources,
            start: a.start,
            now,
        },
    )?;
    let (id, plan) = match started {
        Ok(s) => s,
        Err(OmalizumabNotStarted::NoDose(why)) => {
            return Err(CliError::Refused(format!(
                "no omalizumab course started: {why}"
            )));
        }
        Err(OmalizumabNotStarted::Already { course }) => {
            return Err(CliError::Refused(format!(
                "no omalizumab course started: the patient already has omalizumab course {course}"
            )));
        }
    };
    if a.json {
        return write_json(
            out,
            &StartedJson {
                course: id,
                patient: &a.patient,
                kind: crate::ward::CourseKind::Omalizumab,
                plan: &plan,
                note: NOT_RECALCULATED,
            },
        );
    }
    writeln!(out, "{id}")?;
    print_plan(out, &plan)
}

/// An omalizumab plan for people.
fn print_plan(out: &mut dyn Write, plan: &OmalizumabPlan) -> Result<(), CliError> {
    writeln!(out, "Omalizumab: {}", plan.table)?;
    writeln!(
        out,
        "Pre-treatment total IgE {} IU/mL, weight {} kg, age {} years at the first injection",
        plan.total_ige.normalize(),
        plan.weight_kg.normalize(),
        plan.age_years
    )?;
    writeln!(
        out,
        "Dose: {} mg every {} weeks",
        plan.dose_mg, plan.every_weeks
    )?;
    let parts: Vec<String> = plan
        .syringes
        .iter()
        .map(|(size, n)| format!("{n} × {size} mg"))
        .collect();
    writeln!(
        out,
        "Injections: {}; syringes: {}",
        plan.injections,
        parts.join(" + ")
    )?;
    if let Some(p) = &plan.provenance {
        writeln!(out, "Source: [{} {}] {}", p.evidence, p.certainty, p.source)?;
    }
    let first: Vec<String> = plan
        .dates
        .iter()
        .take(FIRST_DATES)
        .map(|d| d.to_string())
        .collect();
    writeln!(
        out,
        "First injections: {} ({} in the first {LAID_WEEKS} weeks)",
        first.join(", "),
        plan.dates.len()
    )?;
    if let Some(c) = &plan.low_ige_condition {
        writeln!(out, "! Condition: {c}")?;
    }
    writeln!(out, "Note: {NOT_RECALCULATED}")?;
    writeln!(out, "Reminder: {}", plan.reminder)?;
    Ok(())
}

/// `ritplan omalizumab start`'s and `course show`'s JSON of an omalizumab course.
#[derive(Serialize)]
struct ShowJson<'a> {
    course: &'a CourseRecord,
    kind: crate::ward::CourseKind,
    plan: &'a OmalizumabPlan,
    note: &'static str,
}

/// `course show` on an omalizumab course: the course and its plan, verified.
pub(in crate::cli) fn show(
    ward: &mut Ward,
    id: i64,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let c = ward.omalizumab_course(id)?;
    if json {
        return write_json(
            out,
            &ShowJson {
                course: &c.record,
                kind: crate::ward::CourseKind::Omalizumab,
                plan: &c.plan,
                note: NOT_RECALCULATED,
            },
        );
    }
    let patient = ward.patient(&c.record.patient_id)?;
    writeln!(
        out,
        "Omalizumab course {} — patient {} ({}), started {} by {}",
        c.record.id,
        patient.id,
        patient.name,
        c.record.created_at.format("%Y-%m-%d %H:%M"),
        c.record.created_by
    )?;
    print_plan(out, &c.plan)
}
