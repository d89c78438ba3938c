//! The printable protocol for one patient: identity, risk, template and evidence, adjustments and
//! warnings, the step table with columns to fill by hand (filled from the record for a course),
//! the rules in force, the emergency essentials, and a signature line. Lays out what it is given;
//! every number comes from the plan, the template or the rules.

use rust_decimal::Decimal;

mod sections;

use super::pdf::{Fonts, Paper, PdfError, Writer};
use crate::course::Administration;
use crate::planner::Plan;
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
    /// For a course: the premedication recorded with each dose (a physician's acceptance
    /// marked `!`).
    pub premedication_given: Vec<String>,
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
        premedication_given: course.map_or_else(Vec::new, |c| {
            let mut adms: Vec<Administration> = c.steps.iter().flatten().cloned().collect();
            adms.sort_by_key(|a| a.seq);
            super::course::premedication_lines(&adms)
        }),
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

/// Lays out the protocol and returns the PDF bytes and any writer warnings.
pub fn render(
    p: &Protocol<'_>,
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let mut w = Writer::new(fonts, paper, true, &header(p));
    w.begin_document(&header(p), &footer(p), true);
    sections::write(&mut w, p);
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
        sections::write(&mut w, p);
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
