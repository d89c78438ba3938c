//! `ritplan omalizumab start`, and an omalizumab course shown (`course show`).

use std::io::Write;

use chrono::NaiveDate;
use serde::Serialize;

use crate::cli::context::{Context, opened, policy_from};
use crate::cli::output::write_json;
use crate::cli::{CliError, session};
use crate::course::omalizumab::{OmalizumabAction, OmalizumabDecision};
use crate::policy::omalizumab_course::{LAID_WEEKS, NOT_RECALCULATED, OmalizumabPlan};
use crate::ward::omalizumab::OmalizumabRecord;
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
    /// patient has another active omalizumab course (not stopped, not finished).
    #[command(
        after_help = "Examples:\n  ritplan omalizumab start --patient P001 --start 2026-12-07\n  ritplan omalizumab start --patient P001 --start 2026-12-07 --label us --json"
    )]
    Start(OmalizumabStartArgs),
    /// Record an omalizumab injection (nurse or physician): the course's dose, refused before
    /// its date (no injection before its interval), while the patient is held or the last
    /// injection is still observed; a late one only by a physician with --accept-late REASON.
    ///
    /// The observation after it (2 h after each of the first 3, 30 min after later ones, as the
    /// rules say) ends with `ritplan observe COURSE`; a reaction is recorded with `ritplan react`,
    /// a physician's decision with `ritplan review` (continue or stop).
    #[command(
        after_help = "Examples:\n  ritplan omalizumab give 2 --patient P001 --site 'left arm, right arm'\n  ritplan omalizumab give 2 --patient P001 --accept-late 'asthma stable, 3 days late'"
    )]
    Give(OmalizumabGiveArgs),
    /// Record the patient's weight measured during an omalizumab course (nurse or physician).
    /// The dose was laid for the weight at the start; a different weight sends the course to
    /// the physician (no injection until a physician reviews it: continue with the same dose,
    /// or stop), as rules/omalizumab-course.toml's [weight_change] says.
    #[command(
        after_help = "Examples:\n  ritplan omalizumab weight 2 --kg 62.5\n  ritplan review 2 --decision continue --reason 'dose unchanged: same cell of the table'"
    )]
    Weight(OmalizumabWeightArgs),
}

// `omalizumab weight` arguments.
#[derive(Debug, clap::Args)]
pub struct OmalizumabWeightArgs {
    /// Course id.
    course: i64,
    /// The weight measured, kg.
    #[arg(long, value_name = "KG", allow_hyphen_values = true)]
    kg: String,
    #[command(flatten)]
    rec: crate::cli::args::RecordArgs,
}

// `omalizumab give` arguments.
#[derive(Debug, clap::Args)]
pub struct OmalizumabGiveArgs {
    /// Course id.
    course: i64,
    /// The patient in front of you (must be the course's).
    #[arg(long)]
    patient: String,
    /// Where the injections were given.
    #[arg(long)]
    site: Option<String>,
    /// A physician gives a late injection (the labels give no rule): why.
    #[arg(long, value_name = "REASON")]
    accept_late: Option<String>,
    #[command(flatten)]
    rec: crate::cli::args::RecordArgs,
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
        OmalizumabCommand::Give(a) => {
            let (mut ward, now) = opened(ctx, err)?;
            let what = OmalizumabRecord::Give {
                patient: a.patient,
                site: a.site,
                accept_late: a.accept_late,
            };
            record(&mut ward, a.course, &a.rec, now, what, out)
        }
        OmalizumabCommand::Weight(a) => {
            let (mut ward, now) = opened(ctx, err)?;
            let what = OmalizumabRecord::Event(crate::course::EventKind::WeightMeasured {
                weight_kg: a.kg,
            });
            record(&mut ward, a.course, &a.rec, now, what, out)
        }
    }
}

/// Records an entry on an omalizumab course under the login, and echoes it with what `next`
/// now says.
pub(in crate::cli) fn record(
    ward: &mut Ward,
    id: i64,
    rec: &crate::cli::args::RecordArgs,
    now: chrono::NaiveDateTime,
    what: OmalizumabRecord,
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
    let (event, view) = ward.record_omalizumab(&actor, id, rec.at.unwrap_or(now), now, what)?;
    if rec.json {
        return write_json(
            out,
            &RecordedJson {
                recorded: &event,
                course: id,
                next: &view.decision,
            },
        );
    }
    let late = if event.late_entered {
        " (entered late)"
    } else {
        ""
    };
    writeln!(
        out,
        "recorded #{} in course {id} by {}{late}: {}",
        event.event.seq,
        crate::render::course::entry_author(&event),
        crate::render::course::event(&event.event.kind)
    )?;
    write!(out, "next: ")?;
    print_decision(out, &view.decision)
}

/// An entry recorded on an omalizumab course, as JSON.
#[derive(Serialize)]
struct RecordedJson<'a> {
    recorded: &'a crate::ward::view::StoredEvent,
    course: i64,
    next: &'a OmalizumabDecision,
}

/// `next COURSE --json` on an omalizumab course.
#[derive(Serialize)]
struct NextJson<'a> {
    course: i64,
    kind: crate::ward::CourseKind,
    patient: &'a str,
    given: usize,
    #[serde(flatten)]
    decision: &'a OmalizumabDecision,
}

/// `next COURSE` on an omalizumab course.
pub(in crate::cli) fn next(
    ward: &mut Ward,
    id: i64,
    at: chrono::NaiveDateTime,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let v = ward.omalizumab_view(id, at)?;
    if json {
        return write_json(
            out,
            &NextJson {
                course: id,
                kind: crate::ward::CourseKind::Omalizumab,
                patient: &v.course.record.patient_id,
                given: v.given,
                decision: &v.decision,
            },
        );
    }
    let p = ward.patient(&v.course.record.patient_id)?;
    writeln!(
        out,
        "Omalizumab course {id} — patient {} ({}); {} injection{} given",
        p.id,
        p.name,
        v.given,
        if v.given == 1 { "" } else { "s" }
    )?;
    print_decision(out, &v.decision)
}

/// An omalizumab course's next action, in words; the label's rule on the dose last.
fn print_decision(out: &mut dyn Write, d: &OmalizumabDecision) -> Result<(), CliError> {
    use crate::policy::omalizumab_course::OmalizumabNext as N;
    match &d.action {
        OmalizumabAction::DoNotGive { hold, held_by } => {
            let whose = held_by.map_or(String::new(), |c| format!(" (course {c})"));
            writeln!(
                out,
                "DO NOT GIVE: {}{whose}; a physician reviews first",
                crate::render::course::hold(hold)
            )?;
        }
        OmalizumabAction::Stopped { hold } => {
            writeln!(out, "stopped: {}", crate::render::course::hold(hold))?
        }
        OmalizumabAction::Observe { until } => writeln!(
            out,
            "observe the patient until {}, then record its end (ritplan observe)",
            until.format("%Y-%m-%d %H:%M")
        )?,
        OmalizumabAction::WeightChanged {
            frozen_kg,
            measured_kg,
            measured_at,
            text,
            provenance: p,
        } => writeln!(
            out,
            "ASK THE PHYSICIAN: weight {} kg measured {} differs from the {} kg the dose was laid for: {text} [{} {}] {}; no injection until a physician reviews (ritplan review COURSE --decision continue|stop)",
            measured_kg.normalize(),
            measured_at.format("%Y-%m-%d %H:%M"),
            frozen_kg.normalize(),
            p.evidence,
            p.certainty,
            p.source
        )?,
        OmalizumabAction::OtherObservation {
            course,
            since,
            until,
        } => writeln!(
            out,
            "WAIT: the injection at {} on course {course} is under observation (until {} at least); no omalizumab injection until its end is recorded there",
            since.format("%H:%M"),
            until.format("%Y-%m-%d %H:%M")
        )?,
        OmalizumabAction::Next(N::Done) => writeln!(
            out,
            "every injection of the course's first year was given; a further year is a new course"
        )?,
        OmalizumabAction::Next(N::Injection {
            number,
            due,
            not_before,
            observation_min,
            observation_source: o,
            late,
            dose_mg,
            syringes,
        }) => {
            let parts: Vec<String> = syringes
                .iter()
                .map(|(size, n)| format!("{n} × {size} mg"))
                .collect();
            let when = if *not_before {
                format!("not before {due} (no injection before its interval)")
            } else {
                format!("due {due}")
            };
            writeln!(
                out,
                "omalizumab injection {number}: {dose_mg} mg ({}), {when}; observe {observation_min} min after it [{} {}] {}",
                parts.join(" + "),
                o.evidence,
                o.certainty,
                o.source
            )?;
            if let Some(l) = late {
                writeln!(
                    out,
                    "! LATE by {} day{}: {} [{} {}] {}; a physician gives it with --accept-late REASON",
                    l.days,
                    if l.days == 1 { "" } else { "s" },
                    l.text,
                    l.provenance.evidence,
                    l.provenance.certainty,
                    l.provenance.source
                )?;
            }
        }
    }
    writeln!(out, "Note: {}", d.note)?;
    Ok(())
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
                "no omalizumab course started: the patient already has omalizumab course {course}, still active (a physician stops it first with `ritplan review {course} --decision stop`)"
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

/// A recorded pretreatment, in words.
pub(in crate::cli) fn pretreatment_text(p: &crate::course::omalizumab::Pretreatment) -> String {
    let first = p.first.map_or("none".to_string(), |d| d.to_string());
    let gaps = if p.gaps.is_empty() {
        "no gap".to_string()
    } else {
        let g: Vec<String> = p.gaps.iter().map(|(a, b)| format!("{a} to {b}")).collect();
        format!("GAP {}", g.join(", "))
    };
    format!(
        "{} weeks without a gap to day 1 (course {}; first injection {first}; {} injection{} given; {gaps}; {})",
        p.weeks,
        p.course,
        p.doses,
        if p.doses == 1 { "" } else { "s" },
        if p.continues {
            "continues"
        } else {
            "does not continue"
        }
    )
}

/// `ritplan course pdf COURSE --out FILE` on an omalizumab course: its protocol.
pub(in crate::cli) fn pdf(
    ward: &mut Ward,
    id: i64,
    now: chrono::NaiveDateTime,
    pdf: &crate::cli::output::PdfOut,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let data = ward.omalizumab_protocol(id, now)?;
    let doc = crate::render::omalizumab::from_data(&data);
    let fonts = crate::cli::output::pdf_fonts(&[doc.who.name.as_str()], pdf.font.as_deref())?;
    let (bytes, warnings) = crate::render::omalizumab::render(&doc, &fonts, pdf.paper)
        .map_err(|e| CliError::Data(e.to_string()))?;
    crate::cli::output::write_atomically(&pdf.path, &bytes)?;
    for w in warnings {
        writeln!(err, "warning from the PDF writer: {w}")?;
    }
    writeln!(err, "protocol written to {}", pdf.path.display())?;
    writeln!(out, "{}", pdf.path.display())?;
    Ok(())
}
