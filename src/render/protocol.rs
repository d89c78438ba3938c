//! The printable protocol for one patient: identity, risk, template and evidence, adjustments and
//! warnings, the step table with columns to fill by hand (filled from the record for a course),
//! the rules in force, the emergency essentials, and a signature line. Lays out what it is given;
//! every number comes from the plan, the template or the rules.

use rust_decimal::Decimal;

use super::pdf::{Align, Fonts, Paper, PdfError, Writer, col};
use crate::planner::Plan;
use crate::policy::course::{Action, Band, CourseRules};
use crate::policy::{Emergency, RuleSetInfo};
use crate::template::Template;

/// Who the protocol is for.
pub struct Identity {
    /// Name.
    pub name: String,
    /// Clinic id.
    pub id: String,
    /// Date of birth, if known.
    pub dob: Option<chrono::NaiveDate>,
    /// Age at the plan's start.
    pub age_years: u32,
    /// Weight, kg.
    pub weight_kg: Decimal,
}

/// What the record says of one planned step (a course's protocol fills these in).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// When it was given.
    pub given_at: String,
    /// Arm.
    pub site: String,
    /// Lot.
    pub lot: String,
    /// Pre-dose PEF %.
    pub pef: String,
    /// Local reaction, mm.
    pub local_mm: String,
    /// Systemic reaction grade.
    pub systemic: String,
    /// Who gave it.
    pub by: String,
}

/// Everything a protocol shows.
pub struct Protocol<'a> {
    /// The patient.
    pub who: &'a Identity,
    /// The plan.
    pub plan: &'a Plan,
    /// The template the plan uses.
    pub template: &'a Template,
    /// The course rule set.
    pub rules: &'a RuleSetInfo,
    /// Emergency essentials.
    pub emergency: &'a Emergency,
    /// The epinephrine dose for this patient, mg.
    pub epinephrine_mg: Decimal,
    /// Recorded doses by plan step (index 0 = step 1); empty for a plan.
    pub recorded: Vec<Recorded>,
    /// What to print as the course's title ("Plan" or "Course 3").
    pub title: String,
    /// A short hash of the template and rules used.
    pub hash: String,
    /// The document's date.
    pub date: chrono::NaiveDate,
}

fn band_text(b: &Band, unit: &str) -> String {
    let range = match (b.from, b.to) {
        (None, Some(t)) => format!("below {t} {unit}"),
        (Some(f), Some(t)) => format!("{f}–{t} {unit}"),
        (Some(f), None) => format!("{f} {unit} or more"),
        (None, None) => "any".into(),
    };
    format!(
        "{range}: {} [{} {}]",
        action_text(&b.action),
        b.provenance.evidence,
        b.provenance.certainty
    )
}

fn action_text(a: &Action) -> String {
    match a {
        Action::Proceed => "proceed per schedule".into(),
        Action::Repeat => "repeat the last dose".into(),
        Action::StepBack { steps } => format!(
            "step back {steps} dose step{}",
            if *steps == 1 { "" } else { "s" }
        ),
        Action::Reduce { percent } => format!("reduce the last dose by {} %", percent.normalize()),
        Action::Volume { volume_ml } => {
            format!("give {} mL of the maintenance vial", volume_ml.normalize())
        }
        Action::Restart => "restart from step 1".into(),
        Action::Review => "physician review before any further dose".into(),
        Action::Stop => "stop; only a physician's review with a reason may resume".into(),
    }
}

fn rules_in_short(r: &CourseRules) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "Local reaction at the end of observation (mm): {}.",
        r.local_reaction
            .iter()
            .map(|b| band_text(b, "mm"))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    for s in &r.systemic_reaction {
        out.push(format!(
            "Systemic reaction WAO grade {}{}: {}{} [{} {}].",
            s.from_grade,
            if s.to_grade > s.from_grade {
                format!("–{}", s.to_grade)
            } else {
                String::new()
            },
            action_text(&s.action),
            if s.end_day {
                "; no further injection that day"
            } else {
                ""
            },
            s.provenance.evidence,
            s.provenance.certainty
        ));
    }
    out.push(format!(
        "Late dose in up-dosing (days since the last dose): {}.",
        r.late_updosing
            .iter()
            .map(|b| band_text(b, "days"))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    out.push(format!(
        "Late dose in maintenance (days since the last dose): {}.",
        r.late_maintenance
            .iter()
            .map(|b| band_text(b, "days"))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    out.push(format!(
        "Before each injection: PEF/FEV1 below {} % of the patient's best, fever, infection, asthma symptoms or a vaccination in the past week: defer the dose.",
        r.pre_injection_pef_below.normalize()
    ));
    out
}

/// Lays out the protocol and returns the PDF bytes and any writer warnings.
pub fn render(
    p: &Protocol<'_>,
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let who = p.who;
    let header = format!(
        "{} · ID {} · born {} · {} years · {} kg",
        who.name,
        who.id,
        who.dob.map_or("—".to_string(), |d| d.to_string()),
        who.age_years,
        who.weight_kg.normalize()
    );
    let mut w = Writer::new(fonts, paper, true, &header);
    let plan = p.plan;
    let t = p.template;
    w.paragraph(
        &format!("Rush immunotherapy protocol — {} — {}", p.title, t.name),
        14.0,
        true,
    );
    w.space(4.0);
    // The accepted-risk warning is the plan's first warning: it goes in a box that cannot be missed.
    if plan.accepted_risk.is_some()
        && let Some(first) = plan.warnings.first()
    {
        w.boxed(first, 10.5);
    }
    for warning in t.evidence_warnings() {
        w.boxed(&warning, 9.5);
    }

    w.heading("Patient and risk");
    let a = &plan.assessment;
    w.paragraph(
        &format!(
            "Risk stratum {} · sIgE class {} · sIgE/total IgE ratio {} · {} · favourable response predicted: {} · omalizumab pretreatment: {}",
            a.stratum.to_uppercase(),
            a.sige_class,
            a.ratio_percent.display(),
            a.age_group,
            match a.favourable_response {
                Some(true) => "yes",
                Some(false) => "no",
                None => "cannot tell",
            },
            a.omalizumab_status()
        ),
        10.0,
        true,
    );
    for r in &a.reasons {
        w.paragraph(
            &format!("• {} [{} {}] {}", r.text, r.evidence, r.certainty, r.source),
            8.5,
            false,
        );
    }
    for c in &a.contraindications {
        w.paragraph(
            &format!(
                "! {} [{} {}]",
                c.reason.text, c.reason.evidence, c.reason.certainty
            ),
            9.0,
            true,
        );
    }

    w.heading("Schedule template and evidence");
    w.paragraph(
        &format!(
            "{} ({}) · {} by {} · {} · kind {} · evidence {}",
            t.name,
            t.id,
            t.product,
            t.manufacturer,
            t.allergen,
            t.kind,
            t.evidence_label()
        ),
        9.5,
        false,
    );
    if let Some(n) = &t.evidence_note {
        w.paragraph(&format!("Evidence note: {n}"), 8.5, false);
    }
    for s in &t.sources {
        w.paragraph(
            &format!(
                "[{}] {}{}",
                s.id,
                s.citation,
                s.url
                    .as_ref()
                    .map(|u| format!(" <{u}>"))
                    .unwrap_or_default()
            ),
            8.0,
            false,
        );
    }

    w.heading("Adjustments and warnings");
    // Consecutive adjustments from one rule share its citation: printed once, after them.
    for (i, adj) in plan.adjustments.iter().enumerate() {
        w.paragraph(&format!("• {}", adj.text), 8.5, false);
        if plan
            .adjustments
            .get(i + 1)
            .is_none_or(|n| n.source != adj.source)
        {
            w.paragraph(
                &format!("   [{} {}] {}", adj.evidence, adj.certainty, adj.source),
                7.5,
                false,
            );
        }
    }
    for warning in &plan.warnings {
        w.paragraph(&format!("! {warning}"), 8.5, true);
    }

    w.heading("Steps");
    let columns = [
        col("step", 0.6, Align::Right),
        col("date / time", 1.9, Align::Left),
        col("vial", 2.0, Align::Left),
        col("volume", 0.9, Align::Right),
        col("dose", 1.3, Align::Right),
        col("cumulative", 1.4, Align::Right),
        col("obs min", 0.8, Align::Right),
        col("given at", 1.1, Align::Left),
        col("site", 0.7, Align::Left),
        col("lot", 0.9, Align::Left),
        col("PEF %", 0.7, Align::Left),
        col("local mm", 0.8, Align::Left),
        col("SR grade", 0.8, Align::Left),
        col("nurse", 0.9, Align::Left),
        col("check", 0.9, Align::Left),
    ];
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .map(|s| {
            let r = p.recorded.get(s.index - 1).cloned().unwrap_or_default();
            vec![
                format!(
                    "{}{}",
                    s.index,
                    if s.template_step.is_none() { "*" } else { "" }
                ),
                format!(
                    "{} {}",
                    s.date.format("%a %Y-%m-%d"),
                    s.time.format("%H:%M")
                ),
                format!("{} ({}) {}", s.vial_label, s.cap, s.concentration),
                s.volume_ml.to_string(),
                s.dose.to_string(),
                s.cumulative_dose.to_string(),
                s.observation_min.to_string(),
                r.given_at,
                r.site,
                r.lot,
                r.pef,
                r.local_mm,
                r.systemic,
                r.by,
                String::new(),
            ]
        })
        .collect();
    w.table(&columns, &rows, &[], 8.5, 22.0);
    if plan.steps.iter().any(|s| s.template_step.is_none()) {
        w.paragraph(
            "* a step inserted by the planner (see Adjustments).",
            8.0,
            false,
        );
    }
    let m = &plan.maintenance;
    w.paragraph(
        &format!(
            "Maintenance: {} ({} of vial {}); first injections {}; then every {}.",
            m.dose,
            m.volume_ml,
            m.vial,
            m.first_dates
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            super::every_weeks(m.interval_weeks, m.interval_tolerance_weeks)
        ),
        9.5,
        true,
    );

    w.heading(&format!(
        "Rules in force: {} [{} {}]",
        p.rules.name, p.rules.provenance.evidence, p.rules.provenance.certainty
    ));
    for line in rules_in_short(&p.rules.rules) {
        w.paragraph(&format!("• {line}"), 8.5, false);
    }

    w.heading("Emergency essentials");
    let e = p.emergency;
    w.boxed(
        &format!(
            "Epinephrine (adrenaline) 1 mg/mL IM, anterolateral thigh: {} mg = {} mL for this patient ({}); may be repeated every {} min. Observation: {} min after each injection, {} min after the day's last.",
            p.epinephrine_mg.normalize(),
            p.epinephrine_mg.normalize(),
            if who.age_years >= e.adult_from_years {
                format!("adult dose {} mg", e.adult_mg.normalize())
            } else {
                format!("{} mg/kg × {} kg, at most {} mg", e.child_mg_per_kg.normalize(), who.weight_kg.normalize(), e.child_max_mg.normalize())
            },
            e.repeat_every_min,
            plan.steps.iter().map(|s| s.observation_min).min().unwrap_or(t.timing.observation_min),
            t.timing.last_of_day_observation_min
        ),
        10.0,
    );
    w.paragraph(
        &format!(
            "[{} {}] {}",
            e.epinephrine.evidence, e.epinephrine.certainty, e.epinephrine.source
        ),
        7.5,
        false,
    );
    w.paragraph(&e.call_physician, 9.5, false);
    w.signature("Physician: name, signature, date");
    let footer = format!(
        "ritplan {} · template and rules {}",
        env!("CARGO_PKG_VERSION"),
        p.hash
    );
    w.finish(&format!("RIT protocol {}", who.id), &footer, p.date)
}
