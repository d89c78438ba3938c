//! `ritplan plan`: the physician's main job.

use std::io::Write;

use super::forecast::{forecast_json, print_forecast};
use super::risk::print_assessment;
use super::templates::resolve;
use crate::cli::CliError;
use crate::cli::args::{PdfArgs, WhatIf};
use crate::cli::context::Context;
use crate::cli::json::{PlanWhatIf, RefusalJson};
use crate::cli::output::{write_json, write_protocol};
use crate::cli::patient_args::PatientArgs;
use crate::planner::{ClinicCalendar, Plan, PlanError, Refusal, Request, plan};
use crate::policy::Policy;
use crate::render::table;
use crate::risk::assess;
use crate::template::{Catalog, Template};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};

// `ritplan plan` arguments.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// A template id (see `ritplan templates`) or a template file.
    #[arg(long, value_name = "ID|FILE")]
    template: String,
    /// First injection: a date (at opening time) or a date and time, e.g. 2026-12-07T08:00.
    #[arg(long, value_name = "DATE[THH:MM]", value_parser = parse_start)]
    start: (NaiveDate, Option<NaiveTime>),
    #[command(flatten)]
    patient: PatientArgs,
    #[command(flatten)]
    calendar: CalendarArgs,
    /// The physician accepts a risk the rules refuse; the reason is printed on every output.
    #[arg(long, value_name = "REASON")]
    accept_risk: Option<String>,
    /// The physician accepts treating a patient under the product's minimum age (Alutard
    /// SQ: 5 years); the reason is printed on every output.
    #[arg(long, value_name = "REASON")]
    accept_age: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pdf: PdfArgs,
    #[command(flatten)]
    what_if: Box<WhatIf>,
}

// Clinic calendar flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CalendarArgs {
    /// Clinic opening time [default: the configuration file's, else 08:00].
    #[arg(long, value_name = "HH:MM", value_parser = parse_hhmm)]
    opens: Option<NaiveTime>,
    /// Clinic closing time: the day's last observation must end by then [default: the
    /// configuration file's, else 17:00].
    #[arg(long, value_name = "HH:MM", value_parser = parse_hhmm)]
    closes: Option<NaiveTime>,
    /// Clinic days, comma-separated [default: the configuration file's, else
    /// mon,tue,wed,thu,fri].
    #[arg(long, value_name = "DAYS", value_delimiter = ',', value_parser = parse_weekday)]
    clinic_days: Vec<Weekday>,
    /// Dates the clinic is closed, comma-separated (added to the configuration file's
    /// `closed`).
    #[arg(long, value_name = "DATES", value_delimiter = ',', value_parser = crate::when::parse_date)]
    closed: Vec<NaiveDate>,
}

impl CalendarArgs {
    /// The calendar: each flag, else the configuration file, else the default.
    pub fn calendar(&self, cfg: &crate::cli::config::Config) -> ClinicCalendar {
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        ClinicCalendar {
            opens: self.opens.or(cfg.opens).unwrap_or(hm(8, 0)),
            closes: self.closes.or(cfg.closes).unwrap_or(hm(17, 0)),
            days: if self.clinic_days.is_empty() {
                cfg.clinic_days.clone().unwrap_or_else(|| {
                    vec![
                        Weekday::Mon,
                        Weekday::Tue,
                        Weekday::Wed,
                        Weekday::Thu,
                        Weekday::Fri,
                    ]
                })
            } else {
                self.clinic_days.clone()
            },
            closed: {
                let mut c = cfg.closed.clone();
                c.extend(self.closed.iter().copied());
                c.sort();
                c.dedup();
                c
            },
        }
    }
}

fn parse_hhmm(s: &str) -> Result<NaiveTime, String> {
    crate::tomlread::parse_time(s).ok_or_else(|| format!("{s:?} is not a clock time such as 08:00"))
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.trim()
        .parse::<Weekday>()
        .map_err(|_| format!("{s:?} is not a weekday (mon, tue, ...)"))
}

/// `2026-12-07` (at opening time) or `2026-12-07T08:30`, in the years 1900 to 2199 (a wider
/// date is a typing error, and would run a schedule off the calendar).
pub fn parse_start(s: &str) -> Result<(NaiveDate, Option<NaiveTime>), crate::when::DateError> {
    crate::when::parse_date_and_time(s)
}

/// `ritplan plan`.
pub(in crate::cli) fn run(
    ctx: &Context,
    a: PlanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (accept_risk, accept_age) = (a.accept_risk.as_deref(), a.accept_age.as_deref());
    if accept_risk.is_some_and(|r| r.trim().is_empty()) {
        return Err(CliError::Usage(
            "--accept-risk needs the physician's reason in words".into(),
        ));
    }
    if accept_age.is_some_and(|r| r.trim().is_empty()) {
        return Err(CliError::Usage(
            "--accept-age needs the physician's reason in words".into(),
        ));
    }
    let policy = ctx.policy(err)?;
    let (template, _, _) = resolve(ctx, &policy, &a.template, err)?;
    let catalog = ctx.catalog(&policy, err)?;
    let patient = a.patient.patient(a.start.0)?;
    patient.require_weight()?;
    let assessment = assess(&patient, &policy.risk);
    let cal = a.calendar.calendar(&ctx.config);
    let start_at = NaiveDateTime::new(a.start.0, a.start.1.unwrap_or(cal.opens));
    let req = Request {
        template: &template,
        catalog: &catalog,
        assessment: &assessment,
        rules: &policy.risk,
        start: start_at,
        calendar: &cal,
        accept_risk,
        eligibility: &policy.eligibility,
        accept_age,
        accept_missing: None,
    };
    let p = match plan(&req) {
        Err(PlanError::UnknownTemplate(id)) => {
            return Err(CliError::Data(format!(
                "the rules switch to template {id:?}, which does not exist"
            )));
        }
        Err(e) => return Err(CliError::Data(e.to_string())),
        Ok(Err(refusal)) => return refused(&refusal, a.json, out),
        Ok(Ok(p)) => p,
    };
    // The premedication shown: the template's, then the course rule set's (both apply).
    let mut p = p;
    let used = catalog.get(&p.template.id).unwrap_or(&template);
    if let Some(r) = policy.rule_set(&used.rules) {
        crate::ward::with_rule_set_premedication(&mut p, &r.rules);
    }
    let planned = Planned {
        plan: &p,
        template: &template,
        catalog: &catalog,
        policy: &policy,
    };
    if let Some(path) = &a.pdf.pdf {
        write_pdf(ctx, &planned, &a, &patient, path, err)?;
    }
    let Some(scenario) = a.what_if.scenario() else {
        return if a.json {
            write_json(out, &p)
        } else {
            print_plan(out, &p)
        };
    };
    what_if(&planned, &cal, start_at, &scenario, a.json, out)
}

/// A plan made, with what it was made from.
struct Planned<'a> {
    plan: &'a Plan,
    /// The template asked for.
    template: &'a Template,
    catalog: &'a Catalog,
    policy: &'a Policy,
}

/// Prints the planner's refusal (JSON or words) and returns it as the command's error.
fn refused(refusal: &Refusal, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    if json {
        write_json(
            out,
            &RefusalJson {
                plan: None,
                refusal,
            },
        )?;
    } else {
        print_refusal(out, refusal)?;
    }
    Err(CliError::Refused(match refusal {
        Refusal::BelowMinimumAge { .. } => {
            "no plan: the patient is under the product's minimum age".into()
        }
        Refusal::Contraindicated { .. } => "no rush plan: a contraindication applies".into(),
        Refusal::RiskNotAccepted { .. } => {
            "no rush plan: the risk stratum requires pretreatment or the physician's acceptance"
                .into()
        }
    }))
}

/// `plan --out FILE`: the printable protocol of the plan (not from a record).
fn write_pdf(
    ctx: &Context,
    planned: &Planned,
    a: &PlanArgs,
    patient: &crate::patient::Patient,
    path: &std::path::Path,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let Planned {
        plan: p,
        template,
        catalog,
        policy,
    } = *planned;
    let (patient_args, start, pdf) = (&a.patient, a.start, &a.pdf);
    let (name, id) = patient_args.identity()?;
    let used = catalog.get(&p.template.id).unwrap_or(template);
    let rule_set = policy
        .rule_set(&used.rules)
        .ok_or_else(|| CliError::Data(format!("rule set {:?} is missing", used.rules)))?;
    let weight = patient.require_weight()?;
    let mut hashed: Vec<String> = catalog
        .source(&used.id)
        .map(|s| s.text.clone())
        .into_iter()
        .collect();
    hashed.extend(ctx.rule_sources()?.into_iter().map(|s| s.text));
    let data = crate::ward::protocol_data(
        crate::ward::ProtocolOf {
            plan: p,
            template: used,
            policy,
            rules: rule_set,
            sources: hashed,
        },
        crate::ward::view::Identity {
            name: name.unwrap_or_else(|| "(name not given)".into()),
            id: id.unwrap_or_else(|| "—".into()),
            dob: patient_args.input()?.dob,
            age_years: patient.age_years,
            weight_kg: weight,
        },
        crate::ward::view::Checked {
            fev1_percent: patient.fev1_percent.map(|f| f.normalize().to_string()),
            asthma: patient.asthma.map(|a| a.as_str().to_string()),
            beta_blocker: patient.beta_blocker,
        },
        start.0,
        // A plan is not from a record.
        false,
        None,
    );
    let doc = crate::render::protocol::from_data(&data);
    write_protocol(
        &doc,
        &[doc.who.name.as_str()],
        pdf.print.paper,
        pdf.print.font.as_deref(),
        path,
        err,
    )
}

/// `plan --reaction/--local/--miss`: the state machine runs the plan as a course from its
/// first dose.
fn what_if(
    planned: &Planned,
    cal: &ClinicCalendar,
    start_at: NaiveDateTime,
    scenario: &crate::course::Scenario,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let Planned {
        plan: p,
        catalog,
        policy,
        ..
    } = *planned;
    let used = catalog
        .get(&p.template.id)
        .ok_or_else(|| CliError::Data(format!("template {:?} vanished", p.template.id)))?;
    let rules = policy
        .rule_set(&used.rules)
        .ok_or_else(|| CliError::Data(format!("the rule set {:?} is missing", used.rules)))?;
    let cctx = crate::course::Context {
        plan: p,
        template: used,
        rules: &rules.rules,
        calendar: cal,
    };
    let projection = crate::ward::forecast_plan(cctx, start_at, scenario);
    if json {
        return write_json(
            out,
            &PlanWhatIf {
                plan: p,
                forecast: forecast_json(None, start_at, used, &projection),
            },
        );
    }
    print_plan(out, p)?;
    writeln!(out)?;
    print_forecast(out, "the plan", start_at, used, p.steps.len(), &projection)
}

/// The planner's refusal in one sentence.
pub(super) fn refusal_text(r: &Refusal) -> String {
    match r {
        Refusal::BelowMinimumAge { age_years, product } => format!(
            "the patient is {age_years}; {} is not given under {} years [{} {}] {}. A physician may accept it with --accept-age REASON, printed on every output",
            product.name,
            product.min_age_years,
            product.provenance.evidence,
            product.provenance.certainty,
            product.provenance.source
        ),
        Refusal::Contraindicated { reasons, .. } => reasons
            .iter()
            .map(|r| r.reason.text.clone())
            .collect::<Vec<_>>()
            .join("; "),
        Refusal::RiskNotAccepted { note, .. } => note.clone(),
    }
}

fn print_refusal(out: &mut dyn Write, r: &Refusal) -> Result<(), CliError> {
    match r {
        Refusal::BelowMinimumAge { .. } => {
            writeln!(out, "NO PLAN: {}.", refusal_text(r))?;
            Ok(())
        }
        Refusal::Contraindicated {
            reasons,
            assessment,
        } => {
            writeln!(out, "NO RUSH PLAN: a contraindication applies.")?;
            for f in reasons {
                writeln!(out, "  ! {}", f.reason.text)?;
                writeln!(
                    out,
                    "    [{} {}] {}",
                    f.reason.evidence, f.reason.certainty, f.reason.source
                )?;
            }
            writeln!(out)?;
            print_assessment(out, assessment)
        }
        Refusal::RiskNotAccepted {
            note,
            rule,
            alternatives,
            assessment,
        } => {
            writeln!(out, "NO RUSH PLAN: {note}")?;
            writeln!(
                out,
                "  [{} {}] {}",
                rule.evidence, rule.certainty, rule.source
            )?;
            writeln!(out, "\nAlternatives:")?;
            for a in alternatives {
                writeln!(out, "  - {a}")?;
            }
            writeln!(out)?;
            print_assessment(out, assessment)
        }
    }
}

fn print_plan(out: &mut dyn Write, p: &Plan) -> Result<(), CliError> {
    print_plan_heading(out, p)?;
    print_plan_steps(out, p)?;
    print_plan_maintenance_and_reasons(out, p)
}

/// The template, the warnings, the risk and the adjustments with their citations.
fn print_plan_heading(out: &mut dyn Write, p: &Plan) -> Result<(), CliError> {
    let t = &p.template;
    writeln!(
        out,
        "Plan: {} ({}), {}, evidence {}{}",
        t.name,
        t.id,
        t.kind,
        t.evidence,
        t.certainty.map(|c| format!(" [{c}]")).unwrap_or_default()
    )?;
    for w in &p.warnings {
        writeln!(out, "! {w}")?;
    }
    let a = &p.assessment;
    writeln!(
        out,
        "\nRisk: stratum {}; sIgE class {}; ratio {}; {} ({} years); omalizumab {}",
        a.stratum.to_uppercase(),
        a.sige_class,
        a.ratio_percent.display(),
        a.age_group,
        a.age_years,
        a.omalizumab_status()
    )?;
    if a.omalizumab_weeks.is_some() {
        writeln!(
            out,
            "Omalizumab pretreatment as stated, not recorded (a course started from the record reads the recorded injections)"
        )?;
    }
    writeln!(out, "\nAdjustments:")?;
    // Consecutive adjustments from one rule share its citation: print it once, after them.
    for (i, adj) in p.adjustments.iter().enumerate() {
        writeln!(out, "  - {}", adj.text)?;
        if p.adjustments
            .get(i + 1)
            .is_none_or(|n| n.source != adj.source)
        {
            writeln!(
                out,
                "    [{} {}] {}",
                adj.evidence, adj.certainty, adj.source
            )?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The dated steps as a table.
fn print_plan_steps(out: &mut dyn Write, p: &Plan) -> Result<(), CliError> {
    // A phase column only when the template names its phases.
    let phases = p.steps.iter().any(|s| s.phase.is_some());
    let mut header = vec![
        "step",
        "day",
        "date",
        "time",
        "vial",
        "cap",
        "volume",
        "dose",
        "cumulative",
        "obs. min",
    ];
    if phases {
        header.push("phase");
    }
    let mut tbl = table(&header, &[0, 1, 6, 7, 8, 9]);
    for s in &p.steps {
        let mut row = vec![
            format!(
                "{}{}",
                s.index,
                if s.template_step.is_none() { "*" } else { "" }
            ),
            s.day.to_string(),
            format!("{} {}", s.date, s.date.format("%a")),
            s.time.format("%H:%M").to_string(),
            format!("{} ({})", s.vial_label, s.concentration),
            s.cap.clone(),
            s.volume_ml.to_string(),
            s.dose.to_string(),
            s.cumulative_dose.to_string(),
            s.observation_min.to_string(),
        ];
        if phases {
            row.push(crate::render::phase_cell(s.phase));
        }
        tbl.add_row(row);
    }
    writeln!(out, "{tbl}")?;
    if p.steps.iter().any(|s| s.template_step.is_none()) {
        writeln!(out, "* a step inserted by the planner (see Adjustments)")?;
    }
    writeln!(
        out,
        "Times are the earliest: each dose is due once the previous observation has ended and the minimum interval has passed."
    )?;
    Ok(())
}

/// The maintenance, the risk's reasons, and an accepted risk.
fn print_plan_maintenance_and_reasons(out: &mut dyn Write, p: &Plan) -> Result<(), CliError> {
    let m = &p.maintenance;
    let dates: Vec<String> = m.first_dates.iter().map(|d| d.to_string()).collect();
    writeln!(
        out,
        "Maintenance: {} ({}); first injections {}; then every {}.",
        m.dose,
        m.volume_ml,
        dates.join(", "),
        crate::render::every_weeks(m.interval_weeks, m.interval_tolerance_weeks)
    )?;
    if let Some(phases) = crate::render::phase_summary(&p.steps) {
        writeln!(out, "{phases}")?;
    }
    writeln!(out, "\nRisk reasons:")?;
    for (i, r) in p.assessment.reasons.iter().enumerate() {
        writeln!(
            out,
            "  {}. {} [{} {}]",
            i + 1,
            r.text,
            r.evidence,
            r.certainty
        )?;
    }
    if !p.premedication.is_empty() {
        writeln!(out, "\nPremedication:")?;
        for pm in &p.premedication {
            writeln!(out, "  - {}", pm.describe())?;
        }
    }
    if let Some(r) = &p.accepted_risk {
        writeln!(out, "\n! RISK ACCEPTED BY THE PHYSICIAN: \"{r}\"")?;
    }
    Ok(())
}
