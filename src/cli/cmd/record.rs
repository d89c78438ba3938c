//! The recording commands: `ritplan give`, `observe`, `react`, `defer`, `review`, `note` and
//! `correct`. Each turns its flags into a `ward::Record`; the ward checks and writes it, and
//! the answer echoes the patient and what `next` now says.

use std::io::Write;

use chrono::NaiveDateTime;

use super::next::print_decision;
use super::patient::identity_with;
use crate::cli::args::RecordArgs;
use crate::cli::context::{Context, opened};
use crate::cli::json::{DecisionJson, RecordedJson};
use crate::cli::output::write_json;
use crate::cli::{CliError, session};
use crate::course::{EventKind, LateKind, Review, WaoGrade};
use crate::render::course as say;
use crate::ward::{Record, Ward};

// `ritplan give` arguments.
#[derive(Debug, clap::Args)]
pub struct GiveArgs {
    /// Course id.
    course: i64,
    /// The patient's id, as on the patient's wristband or card: it must be the course's (may be
    /// left out when the wristband is scanned with --scan-patient).
    #[arg(long, value_name = "ID", required_unless_present = "scan_patient")]
    patient: Option<String>,
    /// The patient's wristband or card as scanned (its Code 128 or Data Matrix): it must be the
    /// course's patient.
    #[arg(long, value_name = "CODE")]
    scan_patient: Option<String>,
    /// The vial's code as scanned (its label's Data Matrix, or typed: V000123): one of the
    /// course's vials, of the dose's strength, not expired or discarded. The dose's lot comes
    /// from the vial.
    #[arg(long, value_name = "CODE")]
    scan_vial: Option<String>,
    /// A second person who checked the dose (their password is asked).
    #[arg(long, value_name = "STAFF_ID")]
    checked_by: Option<String>,
    /// Read the checker's password from the first line of standard input.
    #[arg(long, requires = "checked_by")]
    checker_password_stdin: bool,
    /// Plan step.
    #[arg(long, allow_negative_numbers = true)]
    step: usize,
    /// Volume in mL.
    #[arg(long, allow_negative_numbers = true, value_name = "ML")]
    volume: String,
    #[command(flatten)]
    rec: RecordArgs,
    /// Pre-dose PEF/FEV1, % of the patient's best.
    #[arg(long, allow_negative_numbers = true, value_name = "PERCENT")]
    pef: Option<String>,
    /// `ok`: the pre-injection health questions were asked and all answered no.
    #[arg(long, value_parser = ["ok"])]
    screen: Option<String>,
    /// Lot number (with --scan-vial it comes from the vial, and a lot typed must be the vial's).
    #[arg(long)]
    lot: Option<String>,
    /// Arm.
    #[arg(long, value_parser = ["left", "right"])]
    site: Option<String>,
    /// A physician gives a dose other than the allowed one, for this reason (recorded).
    #[arg(long = "override", value_name = "REASON")]
    override_reason: Option<String>,
    /// When the template's premedication was taken: HH:MM (on the dose's day), YYYY-MM-DD HH:MM,
    /// or `none`. Asked where the template requires it for this dose (see `next`).
    #[arg(long, value_name = "HH:MM|none")]
    premedication: Option<String>,
    /// A physician gives the dose without its required premedication (or outside its window)
    /// today, for this reason (recorded, shown with the dose).
    #[arg(long, value_name = "REASON")]
    accept_premedication: Option<String>,
}

// `ritplan observe` arguments.
#[derive(Debug, clap::Args)]
pub struct ObserveArgs {
    /// Course id.
    course: i64,
    /// Immediate local reaction (infiltrate diameter), mm.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "MM",
        required_unless_present = "not_assessable"
    )]
    local_mm: Option<u32>,
    /// The local reaction could not be assessed.
    #[arg(long, conflicts_with = "local_mm")]
    not_assessable: bool,
    /// The observation ends before its planned minimum, for this reason.
    #[arg(long, value_name = "REASON")]
    early: Option<String>,
    #[command(flatten)]
    rec: RecordArgs,
}

// `ritplan react` arguments.
#[derive(Debug, clap::Args)]
pub struct ReactArgs {
    /// Course id.
    course: i64,
    /// WAO grade with the epinephrine suffix (1a ... 5z).
    #[arg(long)]
    grade: Option<String>,
    /// Minutes from injection to onset.
    #[arg(long, allow_negative_numbers = true, value_name = "MIN")]
    onset_min: Option<u32>,
    /// First symptom.
    #[arg(long)]
    symptom: Option<String>,
    /// Treatment given.
    #[arg(long)]
    treatment: Option<String>,
    /// A late local reaction, mm.
    #[arg(long, allow_negative_numbers = true, value_name = "MM", conflicts_with_all = ["grade", "late"])]
    late_local_mm: Option<u32>,
    /// A late (6-24 h) reaction: type-iii (fever, arthralgia, malaise), allergic-mild or
    /// allergic-severe.
    #[arg(long, value_name = "TYPE", conflicts_with = "grade")]
    late: Option<String>,
    #[command(flatten)]
    rec: RecordArgs,
}

// `ritplan defer` arguments.
#[derive(Debug, clap::Args)]
pub struct DeferArgs {
    /// Course id.
    course: i64,
    /// Why.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    rec: RecordArgs,
}

// `ritplan review` arguments.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
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
}

// `ritplan note` arguments.
#[derive(Debug, clap::Args)]
pub struct NoteArgs {
    /// Course id.
    course: i64,
    /// Text.
    #[arg(long)]
    text: String,
    #[command(flatten)]
    rec: RecordArgs,
}

// `ritplan correct` arguments.
#[derive(Debug, clap::Args)]
pub struct CorrectArgs {
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
}

/// `ritplan give COURSE`: a dose given, with the second person's check if asked.
pub(in crate::cli) fn give(
    ctx: &Context,
    a: GiveArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let volume = crate::ward::text::volume(&a.volume)
        .map_err(|why| CliError::Usage(format!("--volume {why}")))?;
    let pef = a
        .pef
        .map(|p| crate::ward::text::pef(&p).map_err(|why| CliError::Usage(format!("--pef {why}"))))
        .transpose()?;
    let (mut ward, now) = opened(ctx, err)?;
    let day = a.rec.at.unwrap_or(now).date();
    let premedication = a
        .premedication
        .as_deref()
        .map(|p| {
            crate::ward::text::premedication(p, day)
                .map_err(|why| CliError::Usage(format!("--premedication {why}")))
        })
        .transpose()?;
    let checker = match a.checked_by {
        Some(c) => {
            let secret = session::read_secret(
                &format!("Password of {c}, who checks the dose: "),
                a.checker_password_stdin,
            )?;
            Some(ward.check_person(&c, &secret, &session::os_user(), now)?)
        }
        None => None,
    };
    let what = Record::Give {
        proposed: crate::course::Proposed {
            step: a.step,
            volume_ml: volume,
            pef_percent: pef,
            screen_ok: a.screen.is_some(),
            override_reason: a.override_reason,
            premedication,
            premedication_accepted: a.accept_premedication,
        },
        lot: a.lot,
        site: a.site,
        patient: a.patient,
        scan_patient: a.scan_patient,
        scan_vial: a.scan_vial,
        checked_by: checker,
    };
    record_on(&mut ward, now, a.course, a.rec, what, out)
}

/// `ritplan observe COURSE`: the end of a dose's observation, with the local reaction.
pub(in crate::cli) fn observe(
    ctx: &Context,
    a: ObserveArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let kind = EventKind::ObservationEnded {
        local_mm: a.local_mm,
        not_assessable: a.not_assessable,
        early_reason: a.early,
    };
    record(ctx, a.course, a.rec, Record::Event(kind), out, err)
}

/// `ritplan react COURSE`: a systemic reaction, a late local reaction, or a late reaction.
pub(in crate::cli) fn react(
    ctx: &Context,
    a: ReactArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let kind = match (a.grade, a.late_local_mm, a.late) {
        (Some(g), _, _) => EventKind::SystemicReaction {
            grade: g.parse::<WaoGrade>().map_err(CliError::Usage)?,
            onset_min: a
                .onset_min
                .ok_or_else(|| CliError::Usage("a systemic reaction needs --onset-min".into()))?,
            symptom: a
                .symptom
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| CliError::Usage("a systemic reaction needs --symptom".into()))?,
            treatment: a.treatment,
        },
        (None, Some(mm), _) => EventKind::LateLocalReaction { mm },
        (None, None, Some(t)) => EventKind::LateReaction {
            kind: t.parse::<LateKind>().map_err(CliError::Usage)?,
            symptom: a
                .symptom
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| CliError::Usage("a late reaction needs --symptom".into()))?,
        },
        (None, None, None) => {
            return Err(CliError::Usage(
                "give --grade (systemic reaction), --late-local-mm or --late TYPE".into(),
            ));
        }
    };
    record(ctx, a.course, a.rec, Record::Event(kind), out, err)
}

/// `ritplan defer COURSE`: today's dose is deferred.
pub(in crate::cli) fn defer(
    ctx: &Context,
    a: DeferArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let kind = EventKind::DoseDeferred { reason: a.reason };
    record(ctx, a.course, a.rec, Record::Event(kind), out, err)
}

/// `ritplan review COURSE`: a physician's review.
pub(in crate::cli) fn review(
    ctx: &Context,
    a: ReviewArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let decision = a.decision.parse::<Review>().map_err(CliError::Usage)?;
    let kind = EventKind::PhysicianReview {
        decision,
        reason: a.reason,
        about: None,
    };
    record(ctx, a.course, a.rec, Record::Event(kind), out, err)
}

/// `ritplan note COURSE`: a note.
pub(in crate::cli) fn note(
    ctx: &Context,
    a: NoteArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let kind = EventKind::Note { text: a.text };
    record(ctx, a.course, a.rec, Record::Event(kind), out, err)
}

/// `ritplan correct COURSE`: an earlier entry was wrong and no longer counts.
pub(in crate::cli) fn correct(
    ctx: &Context,
    a: CorrectArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let kind = EventKind::Correction {
        corrects: a.event,
        reason: a.reason,
    };
    record(ctx, a.course, a.rec, Record::Event(kind), out, err)
}

/// Opens the record and records `what` on course `id`.
fn record(
    ctx: &Context,
    id: i64,
    rec: RecordArgs,
    what: Record,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    record_on(&mut ward, now, id, rec, what, out)
}

/// Records `what` on course `id` under the login (`--by`, if given, must name it).
fn record_on(
    ward: &mut Ward,
    now: NaiveDateTime,
    id: i64,
    rec: RecordArgs,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let actor = session::actor(ward, now)?;
    crate::timing::mark("session, accounts");
    if let Some(by) = rec.by.as_deref().map(str::trim)
        && by != actor.staff.id
        && by != actor.staff.name
    {
        return Err(CliError::Usage(format!(
            "--by {by:?} is not the logged-in staff member ({}, {}): entries are recorded under the login",
            actor.staff.name, actor.staff.id
        )));
    }
    let rec = Recording {
        actor: &actor,
        at: rec.at,
        now,
        json: rec.json,
    };
    // The session was marked used in the recording's own transaction.
    record_and_echo(ward, id, rec, what, out)
}

/// Who records, when, and how to answer: the recording commands' shared flags, parsed.
struct Recording<'a> {
    /// Who records (logged in).
    actor: &'a crate::ward::Actor,
    /// When it happened (default now).
    at: Option<NaiveDateTime>,
    /// Now.
    now: NaiveDateTime,
    /// Answer in JSON.
    json: bool,
}

/// Records one event and echoes the patient and what `next` now says.
fn record_and_echo(
    ward: &mut Ward,
    id: i64,
    rec: Recording<'_>,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if ward.course_kind(id)? == crate::ward::CourseKind::Omalizumab {
        // An omalizumab course takes its own entries (no dose steps, no vials).
        let Record::Event(kind) = what else {
            return Err(CliError::Usage(format!(
                "course {id} is an omalizumab course: record an injection with: ritplan omalizumab give {id} --patient ID"
            )));
        };
        let args = crate::cli::args::RecordArgs {
            by: None,
            at: rec.at,
            json: rec.json,
        };
        return super::omalizumab::record(
            ward,
            id,
            &args,
            rec.now,
            crate::ward::omalizumab::OmalizumabRecord::Event(kind),
            out,
        );
    }
    let Recording {
        actor,
        at,
        now,
        json,
    } = rec;
    crate::timing::mark("course kind");
    let r = ward.record(actor, id, at.unwrap_or(now), now, what)?;
    if json {
        return write_json(
            out,
            &RecordedJson {
                recorded: &r.event,
                course: id,
                patient: r.patient.as_ref(),
                lookalikes: &r.lookalikes,
                overridden_allowed: r.overridden.as_ref().map(|(a, _)| a),
                next: DecisionJson::new(&r.next, &r.view),
            },
        );
    }
    let late = if r.event.late_entered {
        " (entered late)"
    } else {
        ""
    };
    if let Some(p) = &r.patient {
        for line in identity_with(p, now, &r.lookalikes) {
            writeln!(out, "{line}")?;
        }
    }
    let order = if r.event.out_of_order {
        " ! OUT OF ORDER: earlier than the course's previous entry"
    } else {
        ""
    };
    writeln!(
        out,
        "recorded #{} in course {id} by {}{late}{order}: {}",
        r.event.event.seq,
        say::entry_author(&r.event),
        say::event(&r.event.event.kind)
    )?;
    if let (
        Some((allowed, why)),
        crate::course::EventKind::DoseGiven {
            step,
            volume_ml,
            dose,
            ..
        },
    ) = (&r.overridden, &r.event.event.kind)
    {
        writeln!(
            out,
            "OVERRIDE by {}: step {step}, {volume_ml} = {dose} instead of the allowed step {}, {} = {} (reason: {why})",
            r.event.event.by, allowed.step, allowed.volume_ml, allowed.dose
        )?;
    }
    write!(out, "next: ")?;
    print_decision(out, &r.view, &r.next)
}
