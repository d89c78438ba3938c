//! The printable protocol for one patient: identity, risk, template and evidence, adjustments and
//! warnings, the step table with columns to fill by hand (filled from the record for a course),
//! the rules in force, the emergency essentials, and a signature line. Lays out what it is given;
//! every number comes from the plan, the template or the rules.

use rust_decimal::Decimal;

use super::pdf::{Align, Fonts, Paper, PdfError, Writer, col};
use crate::course::Administration;
use crate::planner::Plan;
use crate::policy::course::{Action, Band, CourseRules};
use crate::policy::{Emergency, RuleSetInfo};
use crate::template::Template;
use crate::ward::view::ProtocolData;

pub use crate::ward::view::Identity;

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

/// A dose the course would give next, re-projected from the record.
#[derive(Clone, Debug)]
pub struct ProjectedDose {
    /// Plan step (above the plan's length: maintenance).
    pub step: usize,
    /// When, at the earliest.
    pub at: chrono::NaiveDateTime,
    /// Vial label.
    pub vial: String,
    /// Volume.
    pub volume: String,
    /// Dose.
    pub dose: String,
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
    /// For a course: the rest of it re-projected from the record; empty for a plan.
    pub projected: Vec<ProjectedDose>,
    /// What to print as the course's title ("Plan" or "Course 3").
    pub title: String,
    /// A short hash of the template and rules used.
    pub hash: String,
    /// The document's date.
    pub date: chrono::NaiveDate,
    /// From a training record: every page says so.
    pub training: bool,
    /// The contraindication inputs the plan was checked against (FEV1, asthma, beta-blocker).
    pub checked_against: Option<String>,
    /// For a course: its reactions, reviews, deferrals and corrections, in words, in order.
    pub clinical_record: Vec<String>,
}

/// The contraindication inputs a plan was checked against, in words.
pub fn checked_against(
    fev1_percent: Option<&str>,
    asthma: Option<&str>,
    beta_blocker: bool,
) -> String {
    format!(
        "FEV1 {} · asthma {} · beta-blocker {}",
        fev1_percent.map_or("not recorded".to_string(), |f| format!("{f} % predicted")),
        asthma.unwrap_or("not recorded"),
        if beta_blocker { "yes" } else { "no" }
    )
}

/// The protocol document that `data` (assembled by the ward) shows: the record's cells, the
/// re-projected doses and the clinical record in words.
pub fn from_data(data: &ProtocolData) -> Protocol<'_> {
    let c = &data.checked;
    let course = data.course.as_ref();
    Protocol {
        who: &data.who,
        plan: &data.plan,
        template: &data.template,
        rules: &data.rules,
        emergency: &data.emergency,
        epinephrine_mg: data.epinephrine_mg,
        recorded: course.map_or_else(Vec::new, |c| c.steps.iter().map(|s| recorded(s)).collect()),
        projected: course.map_or_else(Vec::new, |c| {
            c.projected
                .iter()
                .map(|l| ProjectedDose {
                    step: l.step,
                    at: l.at,
                    vial: l.vial.clone(),
                    volume: l.volume_ml.to_string(),
                    dose: l.dose.to_string(),
                })
                .collect()
        }),
        title: course.map_or_else(|| "Plan".to_string(), |c| format!("Course {}", c.id)),
        training: data.training,
        hash: super::short_hash(data.sources.iter().map(String::as_str)),
        date: data.date,
        checked_against: Some(checked_against(
            c.fev1_percent.as_deref(),
            c.asthma.as_deref(),
            c.beta_blocker,
        )),
        clinical_record: course.map_or_else(Vec::new, |c| {
            c.clinical_record
                .iter()
                .map(|e| {
                    format!(
                        "#{} {} · {} · {}{}",
                        e.event.event.seq,
                        e.event.event.at.format("%Y-%m-%d %H:%M"),
                        super::course::entry_author(&e.event),
                        super::course::event(&e.event.event.kind),
                        if e.voided {
                            " (corrected: no longer counts)"
                        } else {
                            ""
                        }
                    )
                })
                .collect()
        }),
    }
}

/// What the record says of one planned step: every administration of the step, joined in
/// order ("12-07 08:00; 12-07 10:00"), each with its own reactions.
fn recorded(list: &[Administration]) -> Recorded {
    let join = |f: &dyn Fn(&Administration) -> String| -> String {
        let cells: Vec<String> = list.iter().map(f).collect();
        if cells.len() < 2 {
            return cells.into_iter().next().unwrap_or_default();
        }
        cells
            .into_iter()
            .map(|c| if c.is_empty() { "–".to_string() } else { c })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let opt = |o: Option<String>| o.unwrap_or_default();
    Recorded {
        given_at: join(&|a| a.at.format("%m-%d %H:%M").to_string()),
        site: join(&|a| opt(a.site.clone())),
        lot: join(&|a| opt(a.lot.clone())),
        pef: join(&|a| opt(a.pef_percent.map(|p| p.normalize().to_string()))),
        local_mm: join(&|a| {
            let late = a
                .late_local_mm
                .map(|m| format!(" (late {m})"))
                .unwrap_or_default();
            let measured = if a.not_assessable {
                "n/a".to_string()
            } else {
                opt(a.local_mm.map(|m| m.to_string()))
            };
            format!("{measured}{late}")
        }),
        systemic: join(&|a| opt(a.systemic.map(|g| g.to_string()))),
        by: join(&|a| a.by.clone()),
    }
}

/// What every page of a document from a training record says first.
pub const TRAINING: &str = "TRAINING RECORD, not a patient's record";

fn band_text(b: &Band) -> String {
    format!(
        "{}: {}{} [{} {}]",
        b.range.written,
        super::course::action(&b.action),
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
            super::course::action(&s.action),
            s.provenance.evidence,
            s.provenance.certainty
        ));
    }
    for l in &r.late_reaction {
        out.push(format!(
            "A {}: {} [{} {}].",
            super::course::late_kind(l.kind),
            super::course::action(&l.action),
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
    out.push(format!(
        "Before each injection: PEF/FEV1 below {} % of the patient's best, fever, infection, asthma symptoms or a vaccination in the past week: defer the dose. Two extracts on one day: at least {} min apart.",
        r.pre_injection_pef_below.normalize(),
        r.between_extracts_min
    ));
    out
}

/// Lays out the protocol and returns the PDF bytes and any writer warnings.
pub fn render(
    p: &Protocol<'_>,
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let mut w = Writer::new(fonts, paper, true, &header(p));
    w.begin_document(&header(p), &footer(p), true);
    write(&mut w, p);
    w.finish(&format!("RIT protocol {}", p.who.id), &footer(p), p.date)
}

/// Several protocols in one file (a ward's printing): each starts on a new page with its own
/// header, and numbers its pages on its own.
pub fn render_many(
    ps: &[Protocol<'_>],
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let Some(first) = ps.first() else {
        return Err(PdfError::BadFont("no protocol to print".into()));
    };
    let mut w = Writer::new(fonts, paper, true, &header(first));
    for (i, p) in ps.iter().enumerate() {
        w.begin_document(&header(p), &footer(p), i == 0);
        write(&mut w, p);
    }
    w.finish("RIT protocols", &footer(first), first.date)
}

/// Every page's header: the patient's identity (and TRAINING RECORD).
fn header(p: &Protocol<'_>) -> String {
    let who = p.who;
    let header = format!(
        "{} · ID {} · born {} · {} years · {} kg",
        who.name,
        who.id,
        who.dob.map_or("—".to_string(), |d| d.to_string()),
        who.age_years,
        who.weight_kg.normalize()
    );
    if p.training {
        format!("{TRAINING} · {header}")
    } else {
        header
    }
}

/// Every page's footer.
fn footer(p: &Protocol<'_>) -> String {
    format!(
        "ritplan {} · template and rules {}",
        env!("CARGO_PKG_VERSION"),
        p.hash
    )
}

/// Lays one protocol out.
fn write(w: &mut Writer<'_>, p: &Protocol<'_>) {
    let who = p.who;
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

    if let Some(c) = &p.checked_against {
        w.paragraph(&format!("Checked against: {c}"), 9.5, true);
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

    w.heading(if p.recorded.is_empty() {
        "Steps"
    } else {
        "Steps as first planned, with what the record says"
    });
    let columns = [
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
    if !p.projected.is_empty() {
        w.heading(&format!(
            "Remaining doses, re-projected from the record on {}",
            p.date
        ));
        w.paragraph(
            "Each at its earliest, assuming every dose is tolerated; the record decides each dose (ritplan next).",
            8.5,
            false,
        );
        let plan_len = plan.steps.len();
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
    let m = &plan.maintenance;
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
            super::every_weeks(m.interval_weeks, m.interval_tolerance_weeks)
        ),
        9.5,
        true,
    );

    if !p.clinical_record.is_empty() {
        w.heading("Reactions, reviews and deferrals");
        for line in &p.clinical_record {
            w.paragraph(&format!("• {line}"), 9.0, false);
        }
    }

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
}
