//! `ritplan course start | list | show | log | pdf | verify`.

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::next::print_decision;
use crate::cli::args::CourseCommand;
use crate::cli::context::{Context, opened, policy_from, read_source};
use crate::cli::json::{CourseRow, CourseShow, CourseStarted, CourseVerified, DecisionJson};
use crate::cli::output::{PdfOut, write_json, write_protocols};
use crate::cli::{CliError, session};
use crate::render::course as say;
use crate::render::table;
use crate::ward::{NotStarted, Start, Ward};

/// `ritplan course ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: CourseCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    match cmd {
        CourseCommand::Start(a) => {
            let actor = session::actor(&ward, now)?;
            course_start(ctx, &mut ward, &actor, &a, now, out, err)?;
            session::used(&ward, &actor, now)
        }
        CourseCommand::List { active, json } => course_list(&mut ward, active, json, now, out),
        CourseCommand::Show { id, json } => course_show(&mut ward, id, json, now, out),
        CourseCommand::Log { id, json } => course_log(&ward, id, json, out),
        CourseCommand::Pdf {
            id,
            all_active,
            out: file,
            print,
        } => {
            // An omalizumab course prints its own protocol, on its own.
            if !all_active {
                let mut kinds = Vec::new();
                for i in &id {
                    kinds.push(ward.course_kind(*i)?);
                }
                if let ([one], [crate::ward::CourseKind::Omalizumab]) = (&id[..], &kinds[..]) {
                    return super::omalizumab::pdf(&mut ward, *one, now, &print.to(file), out, err);
                }
                if let Some(pos) = kinds
                    .iter()
                    .position(|k| *k == crate::ward::CourseKind::Omalizumab)
                {
                    return Err(CliError::Usage(format!(
                        "course {} is an omalizumab course: print its protocol on its own (ritplan course pdf {} --out FILE)",
                        id[pos], id[pos]
                    )));
                }
            }
            let protocols = if all_active {
                ward.active_protocols(now)?
            } else {
                ward.course_protocols(&id, now)?
            };
            course_pdf(&protocols, &print.to(file), out, err)
        }
        CourseCommand::Verify { id, json } => course_verify(&mut ward, id, json, out),
    }
}

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
    #[arg(long, value_name = "DATETIME", value_parser = crate::cli::cmd::plan::parse_start)]
    start: (NaiveDate, Option<NaiveTime>),
    /// Refused (a usage error): course start reads the omalizumab pretreatment from the
    /// record; `plan --omalizumab-weeks` plans with a stated number. Hidden from the help.
    #[arg(long, hide = true, allow_hyphen_values = true, value_name = "N")]
    omalizumab_weeks: Option<String>,
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
    calendar: crate::cli::cmd::plan::CalendarArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn course_start(
    ctx: &Context,
    ward: &mut Ward,
    actor: &crate::ward::Actor,
    a: &CourseStart,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if let Some(w) = &a.omalizumab_weeks {
        return Err(CliError::Usage(format!(
            "--omalizumab-weeks {w}: course start takes no typed pretreatment; it reads the omalizumab pretreatment from the record (the patient's omalizumab course: `ritplan omalizumab start`, `ritplan omalizumab give`). To plan with a stated number before anything is recorded, use `ritplan plan --omalizumab-weeks N`"
        )));
    }
    let rule_sources = ctx.rule_sources()?;
    let policy = policy_from(rule_sources.clone(), err)?;
    let (requested, _, _) = super::templates::resolve(ctx, &policy, &a.template, err)?;
    let path = std::path::Path::new(&a.template);
    let extra = if path.is_file() {
        vec![read_source(path)?]
    } else {
        Vec::new()
    };
    let catalog = ctx.catalog_from(extra, &policy, err)?;
    let cal = a.calendar.calendar(&ctx.config);
    // Said before the planner's answer: it sets the stratum's adjustment, or the refusal.
    match ward.recorded_pretreatment(&a.patient, a.start.0)? {
        Some(p) => writeln!(
            err,
            "Omalizumab pretreatment (recorded): {}",
            super::omalizumab::pretreatment_text(&p)
        )?,
        None => writeln!(err, "Omalizumab pretreatment (recorded): none")?,
    }
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
            omalizumab_weeks: None,
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
        Err(NotStarted::Missing { what, rule }) => {
            return Err(CliError::Refused(format!(
                "no course started: the patient record lacks {} [{} {}] {}; a physician may accept it with --accept-missing REASON",
                what.join(" and "),
                rule.evidence,
                rule.certainty,
                rule.source
            )));
        }
        Err(NotStarted::SameExtract {
            course,
            product,
            allergen,
        }) => {
            return Err(CliError::Refused(format!(
                "no course started: the patient already has active course {course} of the same extract ({product}, {allergen}); stop it (review {course} --decision stop) before starting another"
            )));
        }
    };
    if a.json {
        return write_json(
            out,
            &CourseStarted {
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

fn course_list(
    ward: &mut Ward,
    active: bool,
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // Each course's row made from its view as it is read: the views of every course are
    // never held at once (see `Ward::map_views`).
    let row = |v: &crate::ward::CourseView| -> Result<CourseRow<'static>, crate::ward::WardError> {
        let d = v.decide(now)?;
        Ok(CourseRow {
            course: v.loaded.record.id,
            patient: v.loaded.record.patient_id.clone(),
            template: v.loaded.record.template_id.clone(),
            started: v.loaded.record.created_at,
            events: v.events.len(),
            next: DecisionJson::owned(d, v),
        })
    };
    let rows: Vec<CourseRow> = if active {
        ward.active_views(now.date())?
            .iter()
            .map(row)
            .collect::<Result<_, _>>()?
    } else {
        ward.map_views(|v| row(&v))?
    };
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

fn course_show(
    ward: &mut Ward,
    id: i64,
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if ward.course_kind(id)? == crate::ward::CourseKind::Omalizumab {
        return super::omalizumab::show(ward, id, json, out);
    }
    let v = ward.view(id)?;
    let next = v.decide(now)?;
    let patient = ward.patient(&v.loaded.record.patient_id)?;
    let lines = v.schedule(now)?;
    if json {
        return write_json(
            out,
            &CourseShow {
                course: &v.loaded.record,
                patient: &patient,
                plan: &v.loaded.plan,
                schedule: &lines,
                events: &v.events,
                next: DecisionJson::new(&next, &v),
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
    // A phase column only when the template names its phases.
    let phases = lines.iter().any(|l| l.phase.is_some());
    let mut header = vec![
        "step",
        "planned",
        "given / due",
        "vial",
        "volume",
        "dose",
        "by",
        "local mm",
        "systemic",
    ];
    if phases {
        header.push("phase");
    }
    let mut t = table(&header, &[0, 4, 5, 7]);
    let plan_len = v.loaded.plan.steps.len();
    for l in &lines {
        let mut row = vec![
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
        ];
        if phases {
            row.push(crate::render::phase_cell(l.phase));
        }
        t.add_row(row);
    }
    writeln!(out, "{t}")?;
    for l in say::premedication_lines(&crate::course::administrations(&v.plain_events())) {
        writeln!(out, "{l}")?;
    }
    // Follow-ups (after or during the course; they never change the dosing), a corrected one
    // left out as everywhere.
    let voided = crate::course::voided(&v.plain_events());
    for e in v.events.iter().filter(|e| !voided.contains(&e.event.seq)) {
        if let crate::course::EventKind::FollowUp { .. } = &e.event.kind {
            writeln!(
                out,
                "#{} by {}: {}",
                e.event.seq,
                say::entry_author(e),
                say::event(&e.event.kind)
            )?;
        }
    }
    writeln!(
        out,
        "Rows marked \"due\" are re-projected from the record: each at its earliest, assuming every dose is tolerated."
    )?;
    write!(out, "Next: ")?;
    print_decision(out, &v, &next)
}

fn course_log(ward: &Ward, id: i64, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let log = ward.event_log(id)?;
    let (events, v, template) = (log.events, log.chain, log.template);
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
            say::event_in(&e.event.kind, template.as_ref())
        )?;
    }
    Ok(())
}

fn course_verify(
    ward: &mut Ward,
    id: i64,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let check = ward.verify_course(id)?;
    let (v, frozen) = (&check.chain, &check.frozen);
    if json {
        write_json(
            out,
            &CourseVerified {
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

/// `ritplan course pdf`: the course's protocol, with what the record says of each step and the
/// rest of the course re-projected from the state (assembled by the ward layer).
fn course_pdf(
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
    write_protocols(
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
