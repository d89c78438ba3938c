//! `ritplan patient`, `course`, `next`, `sheet` and the recording commands (`give`, `observe`,
//! `react`, `defer`, `review`, `note`, `correct`). Thin: the ward layer loads, decides and
//! records; this module parses flags and renders.

use std::io::Write;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use super::{CliError, Context, policy_from, write_json};
use crate::course::Decision;
use crate::planner::Plan;
use crate::render::course as say;
use crate::render::sheet as sheet_render;
use crate::render::table;
use crate::ward::view::{PatientRecord, StoredEvent};
use crate::ward::{CourseView, NotStarted, Record, Start, Ward};

/// Opens the ward (the record with the application layer over it): --db, else RITPLAN_DB,
/// else the platform data directory. The record must exist.
pub(super) fn open_ward(db: Option<&PathBuf>) -> Result<Ward, CliError> {
    Ok(Ward::open(&super::staff::record_path(db)?)?)
}

/// The patient's identity line, with a warning for every other patient of the same name and
/// date of birth.
pub(super) fn identity(
    ward: &Ward,
    p: &PatientRecord,
    now: NaiveDateTime,
) -> Result<Vec<String>, CliError> {
    Ok(identity_with(p, now, &ward.lookalikes(p)?))
}

/// [`identity`] with the look-alikes already found.
fn identity_with(
    p: &PatientRecord,
    now: NaiveDateTime,
    lookalikes: &[PatientRecord],
) -> Vec<String> {
    let age = crate::patient::age_on(p.dob, now.date()).map_or("?".to_string(), |a| a.to_string());
    let mut lines = vec![format!(
        "Patient: {} · ID {} · born {} ({age} years) · {} kg",
        p.name, p.id, p.dob, p.weight_kg
    )];
    for o in lookalikes {
        lines.push(format!(
            "! LOOK-ALIKE: {} ({}) has the same name and date of birth: check the ID before every dose",
            o.name, o.id
        ));
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// patient

// `patient add` arguments.
#[derive(Debug, clap::Args)]
pub struct PatientAdd {
    /// Clinic id.
    #[arg(long)]
    id: String,
    /// Name as the clinic writes it.
    #[arg(long)]
    name: String,
    /// Date of birth.
    #[arg(long, value_name = "DATE")]
    dob: NaiveDate,
    /// Weight, kg.
    #[arg(long, allow_negative_numbers = true, value_name = "KG")]
    weight: String,
    /// Mite sIgE, kUA/L (censored values such as <0.35 allowed).
    #[arg(long, allow_hyphen_values = true)]
    sige: String,
    /// Total IgE, kU/L.
    #[arg(long = "total-ige", allow_hyphen_values = true)]
    total_ige: String,
    /// FEV1 % predicted (required before a course starts).
    #[arg(long, allow_negative_numbers = true)]
    fev1: Option<String>,
    /// Asthma control (required before a course starts).
    #[arg(long, value_parser = ["controlled", "partly", "uncontrolled"])]
    asthma: Option<String>,
    /// Takes a beta-blocker.
    #[arg(long)]
    beta_blocker: bool,
}

pub(super) fn patient_add(
    ward: &mut Ward,
    actor: &crate::ward::Actor,
    a: &PatientAdd,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    // The ward checks the values as the planner will read them.
    let p = PatientRecord {
        id: a.id.clone(),
        name: a.name.clone(),
        dob: a.dob,
        weight_kg: a.weight.clone(),
        sige: a.sige.clone(),
        total_ige: a.total_ige.clone(),
        fev1_percent: a.fev1.clone(),
        asthma: a.asthma.clone(),
        beta_blocker: a.beta_blocker,
    };
    let lookalikes = ward.add_patient(actor, &p, now)?;
    writeln!(out, "{}", p.id.trim())?;
    for o in lookalikes {
        writeln!(
            err,
            "! LOOK-ALIKE: {} ({}) has the same name and date of birth: check the ID before every dose",
            o.name, o.id
        )?;
    }
    Ok(())
}

pub(super) fn patient_list(
    ps: &[PatientRecord],
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if json {
        return write_json(out, &ps);
    }
    let mut t = table(
        &[
            "id",
            "name",
            "date of birth",
            "weight kg",
            "sIgE",
            "total IgE",
        ],
        &[],
    );
    for p in ps {
        t.add_row(vec![
            p.id.clone(),
            p.name.clone(),
            p.dob.to_string(),
            p.weight_kg.clone(),
            p.sige.clone(),
            p.total_ige.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

pub(super) fn patient_show(
    ward: &Ward,
    id: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let p = ward
        .patient_if_any(id)?
        .ok_or_else(|| CliError::Data(format!("no patient has the id {id:?}")))?;
    if json {
        return write_json(out, &p);
    }
    writeln!(out, "{} ({})", p.name, p.id)?;
    writeln!(
        out,
        "date of birth {}; weight {} kg; mite sIgE {} kUA/L; total IgE {} kU/L",
        p.dob, p.weight_kg, p.sige, p.total_ige
    )?;
    writeln!(
        out,
        "FEV1 {}; asthma {}; beta-blocker {}",
        p.fev1_percent
            .as_deref()
            .map_or("not given".to_string(), |f| format!("{f} % predicted")),
        p.asthma.as_deref().unwrap_or("not given"),
        if p.beta_blocker { "yes" } else { "no" }
    )?;
    for o in ward.lookalikes(&p)? {
        writeln!(
            out,
            "! LOOK-ALIKE: {} ({}) has the same name and date of birth: check the ID before every dose",
            o.name, o.id
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// course start / list / show / log / verify

// `course start` arguments.
#[derive(Debug, clap::Args)]
pub struct CourseStart {
    /// The patient's id.
    #[arg(long)]
    patient: String,
    /// A template id or file.
    #[arg(long, value_name = "ID|FILE")]
    template: String,
    /// First injection: a date or a date and time.
    #[arg(long, value_name = "DATETIME", value_parser = super::plan::parse_start)]
    start: (NaiveDate, Option<NaiveTime>),
    /// Weeks of omalizumab pretreatment so far.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    omalizumab_weeks: Option<u32>,
    /// The physician accepts a risk the rules refuse.
    #[arg(long, value_name = "REASON")]
    accept_risk: Option<String>,
    /// The physician accepts treating a patient under the product's minimum age.
    #[arg(long, value_name = "REASON")]
    accept_age: Option<String>,
    /// The physician accepts starting without FEV1 or asthma status recorded.
    #[arg(long, value_name = "REASON")]
    accept_missing: Option<String>,
    #[command(flatten)]
    calendar: super::plan::CalendarArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn course_start(
    ctx: &Context,
    ward: &mut Ward,
    actor: &crate::ward::Actor,
    a: &CourseStart,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let rule_sources = ctx.rule_sources()?;
    let policy = policy_from(rule_sources.clone(), err)?;
    let (requested, _, _) = super::templates::resolve(ctx, &policy, &a.template, err)?;
    let path = std::path::Path::new(&a.template);
    let extra = if path.is_file() {
        vec![super::read_source(path)?]
    } else {
        Vec::new()
    };
    let catalog = ctx.catalog_from(extra, &policy, err)?;
    let cal = a.calendar.calendar(&ctx.config);
    let started = ward.start(
        actor,
        Start {
            patient_id: &a.patient,
            template: &requested,
            catalog: &catalog,
            policy: &policy,
            rule_sources,
            start: NaiveDateTime::new(a.start.0, a.start.1.unwrap_or(cal.opens)),
            calendar: cal,
            omalizumab_weeks: a.omalizumab_weeks,
            accept_risk: a.accept_risk.clone(),
            accept_age: a.accept_age.clone(),
            accept_missing: a.accept_missing.clone(),
            now,
        },
    )?;
    let started = match started {
        Ok(s) => s,
        Err(NotStarted::Plan(refusal)) => {
            if a.json {
                write_json(out, &refusal)?;
            }
            return Err(CliError::Refused(format!(
                "no course started: {}",
                super::plan::refusal_text(&refusal)
            )));
        }
        Err(NotStarted::Eligibility(why)) => {
            return Err(CliError::Refused(format!("no course started: {why}")));
        }
    };
    if a.json {
        #[derive(Serialize)]
        struct Started<'a> {
            course: i64,
            patient: &'a str,
            plan: &'a Plan,
        }
        return write_json(
            out,
            &Started {
                course: started.id,
                patient: &a.patient,
                plan: &started.plan,
            },
        );
    }
    writeln!(out, "{}", started.id)?;
    for w in &started.plan.warnings {
        writeln!(err, "! {w}")?;
    }
    Ok(())
}

/// A decision as JSON: its fields, with the headline and the sentences for each reason.
#[derive(Serialize)]
struct DecisionJson<'a> {
    #[serde(flatten)]
    decision: &'a Decision,
    text: String,
    details: Vec<String>,
}

fn decision_json<'a>(d: &'a Decision, v: &CourseView) -> DecisionJson<'a> {
    DecisionJson {
        decision: d,
        text: say::headline(d, &v.loaded.template),
        details: say::details(d),
    }
}

#[derive(Serialize)]
struct CourseRow<'a> {
    course: i64,
    patient: String,
    template: String,
    started: NaiveDateTime,
    events: usize,
    next: DecisionJson<'a>,
}

pub(super) fn course_list(
    ward: &mut Ward,
    active: bool,
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let views = if active {
        ward.active_views(now.date())?
    } else {
        ward.views()?
    };
    let decisions: Vec<Decision> = views
        .iter()
        .map(|v| v.decide(now))
        .collect::<Result<_, _>>()?;
    let rows: Vec<CourseRow> = views
        .iter()
        .zip(&decisions)
        .map(|(v, d)| CourseRow {
            course: v.loaded.record.id,
            patient: v.loaded.record.patient_id.clone(),
            template: v.loaded.record.template_id.clone(),
            started: v.loaded.record.created_at,
            events: v.events.len(),
            next: decision_json(d, v),
        })
        .collect();
    if json {
        return write_json(out, &rows);
    }
    let mut t = table(
        &["course", "patient", "template", "events", "next"],
        &[0, 3],
    );
    for r in &rows {
        t.add_row(vec![
            r.course.to_string(),
            r.patient.clone(),
            r.template.clone(),
            r.events.to_string(),
            r.next.text.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

fn print_decision(out: &mut dyn Write, v: &CourseView, d: &Decision) -> Result<(), CliError> {
    writeln!(out, "{}", say::headline(d, &v.loaded.template))?;
    for line in say::details(d) {
        writeln!(out, "  - {line}")?;
    }
    Ok(())
}

pub(super) fn course_show(
    ward: &mut Ward,
    id: i64,
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let v = ward.view(id)?;
    let next = v.decide(now)?;
    let patient = ward.patient(&v.loaded.record.patient_id)?;
    let lines = v.schedule(now)?;
    if json {
        #[derive(Serialize)]
        struct Show<'a> {
            course: &'a crate::ward::view::CourseRecord,
            patient: &'a PatientRecord,
            plan: &'a Plan,
            schedule: &'a [crate::ward::ScheduleLine],
            events: &'a [StoredEvent],
            next: DecisionJson<'a>,
        }
        return write_json(
            out,
            &Show {
                course: &v.loaded.record,
                patient: &patient,
                plan: &v.loaded.plan,
                schedule: &lines,
                events: &v.events,
                next: decision_json(&next, &v),
            },
        );
    }
    let r = &v.loaded.record;
    writeln!(
        out,
        "Course {} — {} ({}, born {}) — {} ({}), evidence {}",
        r.id,
        patient.name,
        patient.id,
        patient.dob,
        v.loaded.plan.template.name,
        r.template_id,
        v.loaded.template.evidence_label()
    )?;
    for w in &v.loaded.plan.warnings {
        writeln!(out, "! {w}")?;
    }
    let mut t = table(
        &[
            "step",
            "planned",
            "given / due",
            "vial",
            "volume",
            "dose",
            "by",
            "local mm",
            "systemic",
        ],
        &[0, 4, 5, 7],
    );
    let plan_len = v.loaded.plan.steps.len();
    for l in &lines {
        t.add_row(vec![
            if l.step > plan_len {
                format!("M{}", l.step - plan_len)
            } else {
                l.step.to_string()
            },
            l.planned
                .map(|p| p.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "maintenance".into()),
            format!(
                "{}{}",
                if l.given { "" } else { "due " },
                l.at.format("%Y-%m-%d %H:%M")
            ),
            l.vial.clone(),
            l.volume_ml.to_string(),
            l.dose.to_string(),
            l.by.clone().unwrap_or_default(),
            l.local_mm.map(|m| m.to_string()).unwrap_or_default(),
            l.systemic.clone().unwrap_or_default(),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "Rows marked \"due\" are re-projected from the record: each at its earliest, assuming every dose is tolerated."
    )?;
    write!(out, "Next: ")?;
    print_decision(out, &v, &next)
}

pub(super) fn course_log(
    ward: &Ward,
    id: i64,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let log = ward.event_log(id)?;
    let (events, v) = (log.events, log.chain);
    if !v.intact {
        writeln!(
            out,
            "! course {id} DOES NOT VERIFY: {}",
            v.problems.join("; ")
        )?;
    }
    if json {
        return write_json(out, &events);
    }
    for e in &events {
        let late = if e.late_entered {
            " (entered late)"
        } else {
            ""
        };
        let order = if e.out_of_order {
            " ! OUT OF ORDER"
        } else {
            ""
        };
        writeln!(
            out,
            "#{} {} by {}{}; recorded {}{late}{order}: {}",
            e.event.seq,
            e.event.at.format("%Y-%m-%d %H:%M"),
            say::entry_author(e),
            if e.os_user.is_empty() {
                String::new()
            } else {
                format!(" as {}", e.os_user)
            },
            e.recorded_at.format("%Y-%m-%d %H:%M:%S"),
            say::event(&e.event.kind)
        )?;
    }
    Ok(())
}

pub(super) fn course_verify(
    ward: &mut Ward,
    id: i64,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let check = ward.verify_course(id)?;
    let (v, frozen) = (&check.chain, &check.frozen);
    if json {
        #[derive(Serialize)]
        struct V<'a> {
            #[serde(flatten)]
            chain: &'a crate::ward::view::Verification,
            frozen_copies_intact: bool,
        }
        write_json(
            out,
            &V {
                chain: v,
                frozen_copies_intact: frozen.is_none(),
            },
        )?;
    } else {
        writeln!(
            out,
            "course {}: {} events; chain {}",
            id,
            v.events,
            if v.intact { "intact" } else { "BROKEN" }
        )?;
        for p in &v.problems {
            writeln!(out, "  ! {p}")?;
        }
        if let Some(f) = frozen {
            writeln!(out, "  ! {f}")?;
        }
    }
    if check.verifies() {
        Ok(())
    } else {
        Err(CliError::Data(format!("course {id} does not verify")))
    }
}

// ---------------------------------------------------------------------------------------------
// next and recording

pub(super) fn next(
    ward: &mut Ward,
    id: i64,
    at: NaiveDateTime,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let v = ward.view(id)?;
    let d = v.decide(at)?;
    let p = ward.patient(&v.loaded.record.patient_id)?;
    if json {
        #[derive(Serialize)]
        struct Next<'a> {
            #[serde(flatten)]
            decision: DecisionJson<'a>,
            patient: &'a PatientRecord,
            lookalikes: Vec<PatientRecord>,
        }
        return write_json(
            out,
            &Next {
                decision: decision_json(&d, &v),
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

/// Who records, when, and how to answer: the recording commands' shared flags, parsed.
pub(super) struct Recording<'a> {
    /// Who records (logged in).
    pub actor: &'a crate::ward::Actor,
    /// When it happened (default now).
    pub at: Option<NaiveDateTime>,
    /// Now.
    pub now: NaiveDateTime,
    /// Answer in JSON.
    pub json: bool,
}

/// Records one event and echoes the patient and what `next` now says.
pub(super) fn record(
    ward: &mut Ward,
    id: i64,
    rec: Recording<'_>,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let Recording {
        actor,
        at,
        now,
        json,
    } = rec;
    let r = ward.record(actor, id, at.unwrap_or(now), now, what)?;
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            recorded: &'a StoredEvent,
            course: i64,
            patient: Option<&'a PatientRecord>,
            lookalikes: &'a [PatientRecord],
            overridden_allowed: Option<&'a crate::course::Dosing>,
            next: DecisionJson<'a>,
        }
        return write_json(
            out,
            &Out {
                recorded: &r.event,
                course: id,
                patient: r.patient.as_ref(),
                lookalikes: &r.lookalikes,
                overridden_allowed: r.overridden.as_ref().map(|(a, _)| a),
                next: decision_json(&r.next, &r.view),
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

// ---------------------------------------------------------------------------------------------
// sheet

/// `ritplan board`: the ward's board at `now`.
pub(super) fn board(
    ward: &mut Ward,
    now: NaiveDateTime,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let rows = ward.board(now)?;
    if json {
        /// A board row as JSON: its fields, then the decision in words.
        #[derive(Serialize)]
        struct Row<'a> {
            #[serde(flatten)]
            row: &'a crate::ward::BoardRow,
            text: String,
        }
        let rows: Vec<Row> = rows
            .iter()
            .map(|r| Row {
                row: r,
                text: say::headline(&r.next, &r.frozen_template),
            })
            .collect();
        return write_json(out, &rows);
    }
    writeln!(
        out,
        "Board {} ({})",
        now.format("%Y-%m-%d %H:%M"),
        now.format("%A")
    )?;
    let mut t = table(&["status", "time", "patient", "course", "next"], &[3]);
    for r in &rows {
        t.add_row(vec![
            say::board_status(r.status).to_string(),
            r.at.map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default(),
            format!(
                "{} · {} · born {}{}",
                r.patient.name,
                r.patient.id,
                r.patient.dob,
                if r.lookalike { " · ! LOOK-ALIKE" } else { "" }
            ),
            r.course.to_string(),
            say::headline(&r.next, &r.frozen_template),
        ]);
    }
    writeln!(out, "{t}")?;
    if rows.is_empty() {
        writeln!(out, "Nothing is due today.")?;
    }
    Ok(())
}

/// Where `sheet --pdf` writes, and how.
pub(super) struct PdfOut {
    /// The file.
    pub path: PathBuf,
    /// Paper size.
    pub paper: crate::render::pdf::Paper,
    /// A font for characters DejaVu lacks.
    pub font: Option<PathBuf>,
}

/// `ritplan sheet --date DATE`: every active course's rows for the day, in time order.
pub(super) fn sheet(
    ward: &mut Ward,
    date: NaiveDate,
    now: NaiveDateTime,
    json: bool,
    pdf: Option<PdfOut>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let lines = ward.sheet(date, now)?;
    if let Some(pdf) = pdf {
        return sheet_pdf(&lines, date, now, ward.training(), &pdf, out);
    }
    if json {
        return write_json(out, &lines);
    }
    writeln!(out, "Dosing sheet {date} ({})", date.format("%A"))?;
    let mut t = table(
        &sheet_render::COLUMNS.map(|(title, _, _)| title),
        &[2, 4, 5, 6],
    );
    for l in &lines {
        t.add_row(sheet_render::row(l));
    }
    writeln!(out, "{t}")?;
    writeln!(out, "{}", sheet_render::NOTE)?;
    Ok(())
}

fn sheet_pdf(
    lines: &[crate::ward::SheetLine],
    date: NaiveDate,
    made: NaiveDateTime,
    training: bool,
    pdf: &PdfOut,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let fonts = super::pdf_fonts(&names, pdf.font.as_deref())?;
    let (bytes, warnings) = sheet_render::pdf(lines, date, made, training, &fonts, pdf.paper)
        .map_err(|e| CliError::Data(e.to_string()))?;
    super::write_atomically(&pdf.path, &bytes)?;
    for warning in warnings {
        writeln!(out, "warning from the PDF writer: {warning}")?;
    }
    writeln!(out, "{}", pdf.path.display())?;
    Ok(())
}

/// `ritplan course pdf`: the course's protocol, with what the record says of each step and the
/// rest of the course re-projected from the state (assembled by the ward layer).
pub(super) fn course_pdf(
    protocols: &[crate::ward::ProtocolData],
    pdf: &PdfOut,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if protocols.is_empty() {
        return Err(CliError::Data("no active course to print".into()));
    }
    let docs: Vec<_> = protocols
        .iter()
        .map(crate::render::protocol::from_data)
        .collect();
    let names: Vec<&str> = docs.iter().map(|d| d.who.name.as_str()).collect();
    super::write_protocols(
        &docs,
        &names,
        pdf.paper,
        pdf.font.as_deref(),
        &pdf.path,
        err,
    )?;
    writeln!(out, "{}", pdf.path.display())?;
    Ok(())
}

/// The rules that changed a dose: reasons that apply a rule, not a tolerated dose's "proceed".
fn cited(r: &crate::course::Reason) -> Option<String> {
    if let crate::course::Reason::Local {
        action: crate::policy::course::Action::Proceed,
        ..
    } = r
    {
        return None;
    }
    r.rule().map(|_| say::reason(r))
}

#[derive(Serialize)]
pub(super) struct ForecastDose<'a> {
    at: NaiveDateTime,
    #[serde(flatten)]
    dosing: &'a crate::course::Dosing,
    observation_min: u32,
    rules: Vec<String>,
}

/// A forecast as JSON.
#[derive(Serialize)]
pub(super) struct ForecastJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    course: Option<i64>,
    from: NaiveDateTime,
    doses: Vec<ForecastDose<'a>>,
    stops: Option<String>,
    written: bool,
}

pub(super) fn forecast_json<'a>(
    course: Option<i64>,
    from: NaiveDateTime,
    template: &crate::template::Template,
    p: &'a crate::course::Projection,
) -> ForecastJson<'a> {
    ForecastJson {
        course,
        from,
        doses: p
            .doses
            .iter()
            .map(|d| ForecastDose {
                at: d.at,
                dosing: &d.dosing,
                observation_min: d.observation_min,
                rules: d.reasons.iter().filter_map(cited).collect(),
            })
            .collect(),
        stops: p.stopped_by.as_ref().map(|d| say::headline(d, template)),
        written: false,
    }
}

/// A forecast as a table, with the rule behind each changed dose and where it stops.
pub(super) fn print_forecast(
    out: &mut dyn Write,
    what: &str,
    from: NaiveDateTime,
    template: &crate::template::Template,
    plan_len: usize,
    p: &crate::course::Projection,
) -> Result<(), CliError> {
    writeln!(
        out,
        "Forecast for {what} from {} (what if; nothing is recorded):",
        from.format("%Y-%m-%d %H:%M")
    )?;
    let mut t = table(
        &["when", "step", "vial", "volume", "dose", "rule behind it"],
        &[1, 3, 4],
    );
    for d in &p.doses {
        let rules: Vec<String> = d.reasons.iter().filter_map(cited).collect();
        t.add_row(vec![
            d.at.format("%a %Y-%m-%d %H:%M").to_string(),
            if d.dosing.step > plan_len {
                format!("M{}", d.dosing.step - plan_len)
            } else {
                d.dosing.step.to_string()
            },
            template
                .vial(&d.dosing.vial)
                .map_or(d.dosing.vial.clone(), |x| {
                    format!("{} ({})", x.label, x.cap)
                }),
            d.dosing.volume_ml.to_string(),
            d.dosing.dose.to_string(),
            if rules.is_empty() {
                "the schedule goes on".into()
            } else {
                rules.join("; ")
            },
        ]);
    }
    writeln!(out, "{t}")?;
    if let Some(d) = &p.stopped_by {
        writeln!(out, "Then: {}", say::headline(d, template))?;
        for line in say::cited_details(d) {
            writeln!(out, "  - {line}")?;
        }
    }
    Ok(())
}

/// `ritplan forecast`: the rest of the course under a what-if, with the rules behind each dose.
pub(super) fn forecast(
    ward: &mut Ward,
    id: i64,
    from: NaiveDateTime,
    scenario: &crate::course::Scenario,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (v, p) = ward.forecast(id, from, scenario)?;
    if json {
        return write_json(out, &forecast_json(Some(id), from, &v.loaded.template, &p));
    }
    print_forecast(
        out,
        &format!("course {id}"),
        from,
        &v.loaded.template,
        v.loaded.plan.steps.len(),
        &p,
    )
}
