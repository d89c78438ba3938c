//! The protocol's printed sections, in the order they appear on the page: one function each.

use super::Protocol;
use crate::planner::PlannedStep;
use crate::policy::course::{Action, Band, CourseRules};
use crate::render::pdf::{Align, Writer, col};

/// Lays one protocol out.
pub(super) fn write(w: &mut Writer<'_>, p: &Protocol<'_>) {
    title_and_warnings(w, p);
    patient_and_risk(w, p);
    template_and_evidence(w, p);
    adjustments_and_warnings(w, p);
    steps(w, p);
    remaining_doses(w, p);
    maintenance(w, p);
    premedication(w, p);
    clinical_record(w, p);
    rules_in_force(w, p);
    emergency(w, p);
    w.signature("Physician: name, signature, date");
}

/// The title, then the warnings that go in boxes.
fn title_and_warnings(w: &mut Writer<'_>, p: &Protocol<'_>) {
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
}

/// "Patient and risk": the assessment, its reasons, the contraindications and what the plan was
/// checked against.
fn patient_and_risk(w: &mut Writer<'_>, p: &Protocol<'_>) {
    w.heading("Patient and risk");
    let a = &p.plan.assessment;
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

    if let Some(c) = &p.checked_against {
        w.paragraph(&format!("Checked against: {c}"), 9.5, true);
    }
}

/// "Schedule template and evidence": the template, its evidence note and its sources.
fn template_and_evidence(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let t = p.template;
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
}

/// "Adjustments and warnings": what the planner changed, each rule cited once, then every warning.
fn adjustments_and_warnings(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let plan = p.plan;
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
}

/// The steps table: each planned step, with columns to fill by hand (filled from the record for
/// a course).
fn steps(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let plan = p.plan;
    w.heading(if p.recorded.is_empty() {
        "Steps"
    } else {
        "Steps as first planned, with what the record says"
    });
    let phases = plan.steps.iter().any(|s| s.phase.is_some());
    let mut columns = vec![
        col("step", 0.6, Align::Right),
        col("date / time", 1.4, Align::Left),
        col("vial", 2.4, Align::Left).emphasised(),
        col("volume", 1.35, Align::Right).emphasised(),
        col("dose", 2.0, Align::Right).emphasised(),
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
    // A phase column only when the template names its phases.
    if phases {
        columns.insert(1, col("phase", 1.1, Align::Left));
    }
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .map(|s| {
            let mut row = step_row(p, s);
            if phases {
                row.insert(1, crate::render::phase_cell(s.phase));
            }
            row
        })
        .collect();
    w.table(&columns, &rows, &[], 8.5, 22.0);
    if let Some(summary) = crate::render::phase_summary(&plan.steps) {
        w.paragraph(&summary, 8.5, false);
    }
    if plan.steps.iter().any(|s| s.template_step.is_none()) {
        w.paragraph(
            "* a step inserted by the planner (see Adjustments).",
            8.0,
            false,
        );
    }
}

/// One row of the steps table: the planned step, then what the record says of it.
fn step_row(p: &Protocol<'_>, s: &PlannedStep) -> Vec<String> {
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
}

/// For a course: the rest of it, re-projected from the record (nothing for a plan).
fn remaining_doses(w: &mut Writer<'_>, p: &Protocol<'_>) {
    if p.projected.is_empty() {
        return;
    }
    w.heading(&format!(
        "Remaining doses, re-projected from the record on {}",
        p.date
    ));
    w.paragraph(
        "Each at its earliest, assuming every dose is tolerated; the record decides each dose (ritplan next).",
        8.5,
        false,
    );
    let plan_len = p.plan.steps.len();
    let columns = [
        col("step", 0.7, Align::Right),
        col("not before", 2.0, Align::Left),
        col("vial", 2.2, Align::Left).emphasised(),
        col("volume", 1.0, Align::Right).emphasised(),
        col("dose", 1.4, Align::Right).emphasised(),
    ];
    let rows: Vec<Vec<String>> = p
        .projected
        .iter()
        .map(|x| {
            vec![
                if x.step > plan_len {
                    format!("M{}", x.step - plan_len)
                } else {
                    x.step.to_string()
                },
                x.at.format("%a %Y-%m-%d %H:%M").to_string(),
                x.vial.clone(),
                x.volume.clone(),
                x.dose.clone(),
            ]
        })
        .collect();
    w.table(&columns, &rows, &[], 9.0, 12.0);
}

/// The maintenance line: dose, vial, first injections and interval.
fn maintenance(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let m = &p.plan.maintenance;
    w.paragraph(
        &format!(
            "Maintenance: {} ({} of vial {}); first injections {} (as first planned); then every {}.",
            m.dose,
            m.volume_ml,
            m.vial,
            m.first_dates
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            crate::render::every_weeks(m.interval_weeks, m.interval_tolerance_weeks)
        ),
        9.5,
        true,
    );
}

/// The template's premedication, and for a course what was recorded with each dose (nothing
/// when the template names none and none was recorded).
fn premedication(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let named = &p.plan.premedication;
    if named.is_empty() && p.premedication_given.is_empty() {
        return;
    }
    w.heading("Premedication");
    for pm in named {
        w.paragraph(&format!("• {}", pm.describe()), 9.0, false);
    }
    if named
        .iter()
        .any(|pm| pm.status == crate::template::PremedStatus::Required)
    {
        w.paragraph(
            "Required: the give asks when it was taken; without it, or outside its window, the dose is not given unless a physician accepts its absence for the day (recorded with the dose).",
            8.5,
            false,
        );
    }
    for line in &p.premedication_given {
        w.paragraph(&format!("• {line}"), 9.0, false);
    }
}

/// For a course: its reactions, reviews, deferrals and corrections (nothing for a plan).
fn clinical_record(w: &mut Writer<'_>, p: &Protocol<'_>) {
    if p.clinical_record.is_empty() {
        return;
    }
    w.heading("Reactions, reviews and deferrals");
    for line in &p.clinical_record {
        w.paragraph(&format!("• {line}"), 9.0, false);
    }
}

/// "Rules in force": the course rule set, in short.
fn rules_in_force(w: &mut Writer<'_>, p: &Protocol<'_>) {
    w.heading(&format!(
        "Rules in force: {} [{} {}]",
        p.rules.name, p.rules.provenance.evidence, p.rules.provenance.certainty
    ));
    for line in rules_in_short(&p.rules.rules) {
        w.paragraph(&format!("• {line}"), 8.5, false);
    }
}

/// "Emergency essentials": this patient's epinephrine dose, the observation times and whom to
/// call.
fn emergency(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let who = p.who;
    let t = p.template;
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
            p.plan.steps.iter().map(|s| s.observation_min).min().unwrap_or(t.timing.observation_min),
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
}

fn band_text(b: &Band) -> String {
    format!(
        "{}: {}{} [{} {}]",
        b.range.written,
        crate::render::course::action(&b.action),
        if b.close_visit && b.action != Action::Proceed {
            ", at the next visit"
        } else {
            ""
        },
        b.provenance.evidence,
        b.provenance.certainty
    )
}

fn bands(bands: &[Band]) -> String {
    bands.iter().map(band_text).collect::<Vec<_>>().join("; ")
}

/// What a new lot, a new manufacturer (and an old vial, where the rules name a limit) does.
fn vial_change_in_short(r: &CourseRules) -> Vec<String> {
    use crate::policy::vial_change::Trigger;
    let said = |t: Trigger, maintenance: bool| {
        r.vial_change_rule(t, maintenance).map_or_else(
            || "no rule: physician review before the dose".to_string(),
            |v| {
                format!(
                    "{} [{} {}]",
                    crate::render::course::vial_action(&v.action),
                    v.provenance.evidence,
                    v.provenance.certainty
                )
            },
        )
    };
    let mut out = Vec::new();
    for (t, what) in [
        (Trigger::NewLot, "New lot of a vial's strength"),
        (Trigger::NewManufacturer, "New manufacturer"),
        (Trigger::VialAge { days: 0 }, "Vial older than"),
    ] {
        let limit = [false, true].into_iter().find_map(|m| {
            match r.vial_change_rule(t, m).map(|v| v.trigger) {
                Some(Trigger::VialAge { days }) => Some(format!(" {days} days")),
                _ => None,
            }
        });
        let what = match (t, limit) {
            (Trigger::VialAge { .. }, None) => continue,
            (_, Some(l)) => format!("{what}{l}"),
            (_, None) => what.to_string(),
        };
        let (up, m) = (said(t, false), said(t, true));
        if up == m {
            out.push(format!("{what}: {up}."));
        } else {
            out.push(format!("{what}: in up-dosing {up}; in maintenance {m}."));
        }
    }
    out
}

fn rules_in_short(r: &CourseRules) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "Local reaction at the end of observation: {}.",
        bands(&r.local_reaction)
    ));
    for s in &r.systemic_reaction {
        out.push(format!(
            "Systemic reaction WAO grade {}{}: no further injection that day; {} [{} {}].",
            s.from_grade,
            if s.to_grade > s.from_grade {
                format!("–{}", s.to_grade)
            } else {
                String::new()
            },
            crate::render::course::action(&s.action),
            s.provenance.evidence,
            s.provenance.certainty
        ));
    }
    for l in &r.late_reaction {
        out.push(format!(
            "A {}: {} [{} {}].",
            crate::render::course::late_kind(l.kind),
            crate::render::course::action(&l.action),
            l.provenance.evidence,
            l.provenance.certainty
        ));
    }
    let counted = match r.late_counting.from {
        crate::policy::course::CountFrom::LastDose => "time since the last dose",
        crate::policy::course::CountFrom::MissedDate => "days after the missed scheduled date",
    };
    out.push(format!(
        "Late dose in up-dosing ({counted}): {}.",
        bands(&r.late_updosing)
    ));
    out.push(format!(
        "Late dose in maintenance ({counted}): {}.",
        bands(&r.late_maintenance)
    ));
    if let Some(l) = &r.maintenance_ladder {
        out.push(format!(
            "Maintenance ladder: {} mL; after a reduction the dose climbs back visit by visit ({}).",
            l.volumes_ml
                .iter()
                .map(|v| v.normalize().to_string())
                .collect::<Vec<_>>()
                .join(" → "),
            r.reescalation
                .iter()
                .map(|e| {
                    let weeks = |n: u32| if n == 1 { "1 week".to_string() } else { format!("{n} weeks") };
                    format!(
                        "from {} mL: each step after {}{}, then the full dose after {} weeks",
                        e.reduced_to_ml
                            .iter()
                            .map(|v| v.normalize().to_string())
                            .collect::<Vec<_>>()
                            .join(" or "),
                        weeks(e.step_up_after_weeks),
                        e.step_up_within_weeks
                            .map(|w| format!(" (at most {})", weeks(w)))
                            .unwrap_or_default(),
                        e.full_after_weeks
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    out.extend(vial_change_in_short(r));
    out.push(format!(
        "Before each injection: PEF/FEV1 below {} % of the patient's best, fever, infection, asthma symptoms or a vaccination in the past week: defer the dose. Two extracts on one day: at least {} min apart.",
        r.pre_injection_pef_below.normalize(),
        r.between_extracts_min
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_says_what_a_new_lot_does_in_each_rule_set() {
        let p = crate::policy::Policy::bundled().expect("bundled");
        let us = vial_change_in_short(&p.rule_set("us-practice-parameter").expect("us").rules);
        assert_eq!(
            us,
            vec![
                "New lot of a vial's strength: 75 % reduction [label C-partial].".to_string(),
                "New manufacturer: physician review before the dose [guideline C-partial]."
                    .to_string(),
            ]
        );
        let mut old = p.rule_set("norwegian-guide").expect("no").rules.clone();
        old.vial_change.clear();
        assert_eq!(
            vial_change_in_short(&old),
            vec![
                "New lot of a vial's strength: no rule: physician review before the dose."
                    .to_string(),
                "New manufacturer: no rule: physician review before the dose.".to_string(),
            ]
        );
    }
}
