//! The planner: template + patient assessment + rules + clinic calendar + start → a dated,
//! risk-adjusted plan, or a refusal with its reason and the alternatives.
//!
//! Pure: no clock, no disk. The same inputs give the same plan. The adjustments are a small set
//! of operations (see [`Operation`]) chosen by the rules data, never by code.
//!
//! Safety properties (property-tested): no step above the maintenance dose; doses never
//! decrease; same-day injections are at least the minimum interval apart and never before the
//! previous observation has ended; every volume is measurable with the template's syringe; every
//! injection, with its observation, falls on a clinic day within opening hours.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::policy::risk::{Decision, Operation, RiskRules};
use crate::policy::{Certainty, Evidence, Provenance};
use crate::risk::{Assessment, Finding};
use crate::template::{Catalog, Kind, Template};
use crate::units::{AllergenUnit, Concentration, Dose, Syringe, Volume};

/// When the clinic gives injections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClinicCalendar {
    /// Opening time.
    pub opens: NaiveTime,
    /// Closing time: the last observation must end by then.
    pub closes: NaiveTime,
    /// Clinic weekdays.
    pub days: Vec<Weekday>,
    /// Dates the clinic is closed (holidays): no plan or course puts an injection on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<NaiveDate>,
}

/// At most this many closed dates (a bound on the search for the next clinic day).
pub const MAX_CLOSED: usize = 366;

impl ClinicCalendar {
    /// Whether `d` is a clinic day: a clinic weekday the clinic is not closed on.
    pub fn is_clinic_day(&self, d: NaiveDate) -> bool {
        self.days.contains(&d.weekday()) && !self.closed.contains(&d)
    }

    /// The first clinic day on or after `d` (`None` if the calendar has no clinic day within
    /// the bound that closed dates can push it to).
    pub fn on_or_after(&self, d: NaiveDate) -> Option<NaiveDate> {
        (0..(7 + 7 * MAX_CLOSED as u64))
            .filter_map(|i| d.checked_add_days(chrono::Days::new(i)))
            .find(|x| self.is_clinic_day(*x))
    }
}

/// One adjustment the planner made, with the rule that caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    /// What was done.
    pub text: String,
    /// The rule's source.
    pub source: String,
    /// Its evidence.
    pub evidence: Evidence,
    /// Its certainty.
    pub certainty: Certainty,
}

impl Adjustment {
    fn new(text: impl Into<String>, p: &Provenance) -> Self {
        Adjustment {
            text: text.into(),
            source: p.source.clone(),
            evidence: p.evidence,
            certainty: p.certainty,
        }
    }
}

/// One dated injection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// 1-based number in the plan.
    pub index: usize,
    /// Visit number: 1 = the first injection day; every clinic day of the plan is one visit.
    pub day: u32,
    /// The template's protocol day this injection belongs to (two visits of one protocol day
    /// are one day moved in two by the per-day cap or closing time).
    pub protocol_day: u32,
    /// Date.
    pub date: NaiveDate,
    /// Earliest clock time.
    #[serde(serialize_with = "hhmm")]
    pub time: NaiveTime,
    /// Vial id.
    pub vial: String,
    /// Vial label.
    pub vial_label: String,
    /// Cap colour.
    pub cap: String,
    /// Strength per mL.
    pub concentration: Concentration,
    /// Allergen unit.
    pub unit: AllergenUnit,
    /// Volume.
    pub volume_ml: Volume,
    /// Dose.
    pub dose: Dose,
    /// Cumulative dose.
    pub cumulative_dose: Dose,
    /// Observation after it, minutes.
    pub observation_min: u32,
    /// Minimum minutes after the previous injection of the same day.
    pub min_interval_min: Option<u32>,
    /// The template step it comes from (`None` for a step the planner inserted).
    pub template_step: Option<usize>,
}

fn hhmm<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%H:%M").to_string())
}

/// A dated, risk-adjusted plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The template used (after any switch).
    pub template: TemplateRef,
    /// The risk assessment.
    pub assessment: Assessment,
    /// Every adjustment with the rule that caused it.
    pub adjustments: Vec<Adjustment>,
    /// Warnings every output of the plan must show (accepted risk first).
    pub warnings: Vec<String>,
    /// The physician's reason for accepting a refused risk.
    pub accepted_risk: Option<String>,
    /// The steps.
    pub steps: Vec<PlannedStep>,
    /// What one visit may hold, whatever reactions add.
    pub limits: VisitLimits,
    /// Maintenance.
    pub maintenance: MaintenancePlan,
}

/// What one visit (one clinic day's injections of one course) may hold. Carried in the plan so
/// that the course state machine enforces the same caps the planner laid the days with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VisitLimits {
    /// At most this many injections at one visit.
    pub max_injections: u32,
    /// Where that comes from (the rules' per-day cap, or the plan's own fullest visit).
    pub max_injections_source: String,
    /// At most this total dose at one visit: the plan's largest visit total.
    pub max_total_dose: Dose,
}

/// The template a plan uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Evidence.
    pub evidence: Evidence,
    /// Certainty.
    pub certainty: Option<Certainty>,
}

/// The maintenance phase's first dates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaintenancePlan {
    /// Dose.
    pub dose: Dose,
    /// Vial id.
    pub vial: String,
    /// Volume.
    pub volume_ml: Volume,
    /// The first maintenance injection dates (on clinic days).
    pub first_dates: Vec<NaiveDate>,
    /// Then every this many weeks.
    pub interval_weeks: u32,
    /// ± weeks.
    pub interval_tolerance_weeks: u32,
}

/// Why no plan was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// A contraindication blocks a rush plan.
    Contraindicated {
        /// The findings that block.
        reasons: Vec<Finding>,
        /// The assessment.
        assessment: Box<Assessment>,
    },
    /// The patient is younger than the product's minimum age.
    BelowMinimumAge {
        /// The patient's age, whole years.
        age_years: u32,
        /// The product's rule.
        product: crate::policy::eligibility::Product,
    },
    /// The rules refuse this stratum without the physician accepting the risk.
    RiskNotAccepted {
        /// The rule's sentence.
        note: String,
        /// The rule's provenance.
        rule: Adjustment,
        /// What the physician can do instead.
        alternatives: Vec<String>,
        /// The assessment.
        assessment: Box<Assessment>,
    },
}

/// A request the planner cannot lay out (not a clinical refusal): a bad date or calendar, or a
/// rule naming a template that does not exist.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The start is not a clinic day or not within opening hours.
    #[error("{0}")]
    BadStart(String),
    /// The calendar cannot hold the schedule.
    #[error("{0}")]
    BadCalendar(String),
    /// The rules name a template that does not exist.
    #[error("the rules switch to template {0:?}, which does not exist")]
    UnknownTemplate(String),
}

/// Everything the planner needs.
pub struct Request<'a> {
    /// The template asked for.
    pub template: &'a Template,
    /// All templates (for a switch, and for the alternatives).
    pub catalog: &'a Catalog,
    /// The patient's assessment.
    pub assessment: &'a Assessment,
    /// Risk rules.
    pub rules: &'a RiskRules,
    /// The first injection's earliest date and time.
    pub start: NaiveDateTime,
    /// The clinic calendar.
    pub calendar: &'a ClinicCalendar,
    /// The physician's reason for accepting a risk the rules refuse.
    pub accept_risk: Option<&'a str>,
    /// Eligibility rules (product minimum ages).
    pub eligibility: &'a crate::policy::eligibility::Eligibility,
    /// The physician's reason for treating a patient under the product's minimum age.
    pub accept_age: Option<&'a str>,
    /// The physician's reason for starting a course without FEV1 or asthma status.
    pub accept_missing: Option<&'a str>,
}

/// A step being adjusted, before dates.
#[derive(Clone, Debug)]
struct Work {
    session: usize,
    protocol_day: u32,
    vial: usize,
    volume: Volume,
    dose: Dose,
    observation: u32,
    template_step: Option<usize>,
}

/// Plans, or says why not.
pub fn plan(req: &Request<'_>) -> Result<Result<Plan, Refusal>, PlanError> {
    let a = req.assessment;
    let blocking: Vec<Finding> = a
        .contraindications
        .iter()
        .filter(|c| c.blocks)
        .cloned()
        .collect();
    if !blocking.is_empty() {
        return Ok(Err(Refusal::Contraindicated {
            reasons: blocking,
            assessment: Box::new(a.clone()),
        }));
    }
    let Some(rule) = req.rules.adjustment(&a.stratum, a.pretreated, a.age_group) else {
        // Checked when the rules are read; fail closed all the same.
        return Ok(Err(Refusal::RiskNotAccepted {
            note: "no adjustment rule covers this patient".into(),
            rule: Adjustment {
                text: String::new(),
                source: String::new(),
                evidence: Evidence::Unverified,
                certainty: Certainty::Unverified,
            },
            alternatives: Vec::new(),
            assessment: Box::new(a.clone()),
        }));
    };
    let mut warnings = Vec::new();
    let mut adjustments = Vec::new();
    match req
        .template
        .product_id
        .as_deref()
        .map(|id| req.eligibility.product(id))
    {
        None => warnings.push(format!(
            "The template names no product_id: ritplan did not check the product's minimum age (rules/eligibility.toml). Check the label of {}.",
            req.template.product
        )),
        // The template checker refuses an unknown product; fail closed all the same.
        Some(None) => {
            return Err(PlanError::BadCalendar(format!(
                "the template names product {:?}, which the eligibility rules do not list",
                req.template.product_id.as_deref().unwrap_or_default()
            )));
        }
        Some(Some(product)) if a.age_years < product.min_age_years => match req.accept_age {
            None => {
                return Ok(Err(Refusal::BelowMinimumAge {
                    age_years: a.age_years,
                    product: product.clone(),
                }));
            }
            Some(reason) => {
                warnings.push(format!(
                    "UNDER THE MINIMUM AGE, ACCEPTED BY THE PHYSICIAN: {} is not given under {} years; the patient is {}. Reason given: \"{reason}\". [{} {}] {}",
                    product.name,
                    product.min_age_years,
                    a.age_years,
                    product.provenance.evidence,
                    product.provenance.certainty,
                    product.provenance.source
                ));
            }
        },
        Some(Some(_)) => {}
    }
    if let Some(reason) = req.accept_missing {
        warnings.push(format!(
            "STARTED WITHOUT FEV1 OR ASTHMA STATUS, ACCEPTED BY THE PHYSICIAN: the contraindications that need them were not checked. Reason given: \"{reason}\"."
        ));
    }
    let operations = match (rule.decision, req.template.kind, req.accept_risk) {
        (Decision::Plan, _, _) => rule.operations.clone(),
        (Decision::Refuse, Kind::Rush, None) => {
            return Ok(Err(Refusal::RiskNotAccepted {
                note: rule.note.clone(),
                rule: Adjustment::new(rule.note.clone(), &rule.provenance),
                alternatives: alternatives(req),
                assessment: Box::new(a.clone()),
            }));
        }
        (Decision::Refuse, Kind::Rush, Some(reason)) => {
            warnings.push(format!(
                "RISK ACCEPTED BY THE PHYSICIAN: {} Reason given: \"{reason}\". Cautious adjustments apply.",
                rule.note
            ));
            rule.accepted_risk_operations.clone()
        }
        (Decision::Refuse, _, _) => {
            warnings.push(format!(
                "{} This is a {} schedule, not a rush: it is planned with the cautious adjustments.",
                rule.note, req.template.kind
            ));
            rule.accepted_risk_operations.clone()
        }
    };
    adjustments.push(Adjustment::new(rule.note.clone(), &rule.provenance));

    // A switch comes first: the other operations apply to the template switched to.
    let mut template = req.template;
    for op in &operations {
        if let Operation::SwitchTemplate { template: id } = op {
            template = req
                .catalog
                .get(id)
                .ok_or_else(|| PlanError::UnknownTemplate(id.clone()))?;
            adjustments.push(Adjustment::new(
                format!("Template switched from {} to {}.", req.template.id, id),
                &rule.provenance,
            ));
        }
    }
    warnings.extend(template.evidence_warnings());
    warnings.extend(a.warnings.iter().cloned());
    for c in a.contraindications.iter().filter(|c| !c.blocks) {
        warnings.push(c.reason.text.clone());
    }

    let syringe = Syringe::new(template.injection.syringe_graduation_ml)
        .map_err(|e| PlanError::BadCalendar(e.to_string()))?;
    let vial_index = |id: &str| template.vials.iter().position(|v| v.id == id);
    // Protocol days become sessions; the gap to the previous session is kept in days.
    let mut work = Vec::new();
    let mut gaps = Vec::new();
    let mut last_day = None;
    for s in &template.steps {
        if last_day != Some(s.day) {
            gaps.push(last_day.map_or(0, |d| s.day - d));
            last_day = Some(s.day);
        }
        let Some(vial) = vial_index(&s.vial) else {
            continue;
        };
        let mut volume = s.volume_ml;
        let mut dose = s.dose;
        if !syringe.can_measure(volume) {
            volume = syringe.round_down(volume);
            dose = template.vials[vial]
                .concentration
                .dose_in(volume)
                .unwrap_or(dose);
            adjustments.push(Adjustment::new(
                format!(
                    "Step {}: {} cannot be measured with a syringe graduated in {}; rounded down to {volume} ({dose}).",
                    s.index, s.volume_ml, template.injection.syringe_graduation_ml
                ),
                &Provenance {
                    source: "ritplan: volumes are rounded down to the syringe graduation, never up".into(),
                    evidence: Evidence::Inference,
                    certainty: Certainty::Inference,
                },
            ));
            if volume.ml().is_zero() {
                continue;
            }
        }
        work.push(Work {
            session: gaps.len() - 1,
            protocol_day: s.day,
            vial,
            volume,
            dose,
            observation: s.observation_min,
            template_step: Some(s.index),
        });
    }

    let mut min_interval = template.timing.min_interval_min;
    let mut observation_floor = template.timing.observation_min;
    let mut cap = None;
    for op in &operations {
        match op {
            Operation::Observation { min } => {
                if *min > observation_floor {
                    observation_floor = *min;
                    adjustments.push(Adjustment::new(format!("Observation at least {min} min after every injection (template: {} min).", template.timing.observation_min), &rule.provenance));
                }
            }
            Operation::MinInterval { min } => {
                if *min > min_interval {
                    adjustments.push(Adjustment::new(format!("Same-day injections at least {min} min apart (template: {min_interval} min)."), &rule.provenance));
                    min_interval = *min;
                }
            }
            Operation::SplitIncrements { max_factor } => {
                let added = split_increments(&mut work, template, syringe, *max_factor);
                if added > 0 {
                    adjustments.push(Adjustment::new(
                        format!("{added} step{} inserted so that no dose rises more than {}× over the one before (same vials).", if added == 1 { "" } else { "s" }, max_factor.normalize()),
                        &rule.provenance,
                    ));
                }
            }
            Operation::CapPerDay { max } => {
                cap = Some(*max as usize);
            }
            Operation::SwitchTemplate { .. } => {}
        }
    }
    for w in &mut work {
        w.observation = w.observation.max(observation_floor);
    }

    // Lay the sessions on clinic days and the steps on clock times.
    let cal = req.calendar;
    if cal.days.is_empty() || cal.opens >= cal.closes {
        return Err(PlanError::BadCalendar(
            "the clinic calendar has no opening hours".into(),
        ));
    }
    if !cal.is_clinic_day(req.start.date()) {
        let next = cal
            .on_or_after(req.start.date())
            .map(|d| format!("; the next clinic day is {d}"))
            .unwrap_or_default();
        return Err(PlanError::BadStart(format!(
            "{} ({}) is not a clinic day{next}",
            req.start.date(),
            req.start.date().weekday()
        )));
    }
    if req.start.time() < cal.opens || req.start.time() >= cal.closes {
        return Err(PlanError::BadStart(format!(
            "{} is outside opening hours ({}–{})",
            req.start.time().format("%H:%M"),
            cal.opens.format("%H:%M"),
            cal.closes.format("%H:%M")
        )));
    }
    let mut steps: Vec<PlannedStep> = Vec::new();
    let mut date = req.start.date();
    let mut day_no = 1u32;
    let mut session_of_day: Option<usize> = None;
    let mut time = req.start.time();
    let mut on_day = 0usize;
    let mut moved = 0usize;
    let mut total = Dose::new(Decimal::ZERO, template.unit);
    for (i, w) in work.iter().enumerate() {
        let last_of_session = work.get(i + 1).is_none_or(|n| n.session != w.session);
        let observation = if last_of_session {
            w.observation
                .max(template.timing.last_of_day_observation_min)
        } else {
            w.observation
        };
        // Any injection may turn out to be the day's last (when the rest of the day moves to the
        // next clinic day), so each must leave room for the day-end observation.
        let room = i64::from(observation.max(template.timing.last_of_day_observation_min));
        if session_of_day != Some(w.session) {
            if let Some(prev) = session_of_day {
                // A new protocol day: keep the template's gap, on a clinic day.
                let gap: u32 = gaps[prev + 1..=w.session].iter().sum();
                date = next_clinic_day(cal, date, i64::from(gap.max(1)))?;
                day_no += 1;
                time = cal.opens;
                on_day = 0;
            }
            session_of_day = Some(w.session);
        } else {
            // Same day: after the previous observation and the minimum interval.
            let prev = steps.last().map_or(0, |p| p.observation_min);
            let wait = i64::from(min_interval.max(prev));
            let next = time + Duration::minutes(wait);
            let over_cap = cap.is_some_and(|c| on_day >= c);
            let fits = next > time && next + Duration::minutes(room) <= cal.closes;
            if over_cap || !fits {
                // Move the rest of this protocol day to the next clinic day.
                date = next_clinic_day(cal, date, 1)?;
                day_no += 1;
                time = cal.opens;
                on_day = 0;
                moved += 1;
            } else {
                time = next;
            }
        }
        if time + Duration::minutes(room) > cal.closes || time < cal.opens {
            return Err(PlanError::BadCalendar(format!(
                "an injection at {} with {room} min of observation does not fit in opening hours {}–{}",
                time.format("%H:%M"),
                cal.opens.format("%H:%M"),
                cal.closes.format("%H:%M")
            )));
        }
        let vial = &template.vials[w.vial];
        total = total.checked_add(w.dose).unwrap_or(total);
        let same_day = steps.last().is_some_and(|p| p.date == date);
        steps.push(PlannedStep {
            index: steps.len() + 1,
            day: day_no,
            protocol_day: w.protocol_day,
            date,
            time,
            vial: vial.id.clone(),
            vial_label: vial.label.clone(),
            cap: vial.cap.clone(),
            concentration: vial.concentration,
            unit: vial.unit,
            volume_ml: w.volume,
            dose: w.dose,
            cumulative_dose: total,
            observation_min: observation,
            min_interval_min: same_day.then_some(min_interval),
            template_step: w.template_step,
        });
        on_day += 1;
    }
    // The day-end observation belongs to each date's last injection.
    for i in 0..steps.len() {
        let last = steps.get(i + 1).is_none_or(|n| n.date != steps[i].date);
        if last {
            steps[i].observation_min = steps[i]
                .observation_min
                .max(template.timing.last_of_day_observation_min);
        }
    }
    if moved > 0 {
        let why = match cap {
            Some(c) => format!(
                "at most {c} injections a day, and the day's last observation must end by closing time"
            ),
            None => "the day's last observation must end by closing time".into(),
        };
        adjustments.push(Adjustment::new(
            format!(
                "{moved} time{} the rest of a day moved to the next clinic day ({why}).",
                if moved == 1 { "" } else { "s" }
            ),
            &rule.provenance,
        ));
    }

    let limits = visit_limits(&steps, cap, template.unit);
    let m = &template.maintenance;
    if let Some(last) = steps.last()
        && last.dose.amount() < m.dose.amount()
    {
        warnings.push(format!(
            "The last up-dosing step gives {}, below the maintenance dose {}.",
            last.dose, m.dose
        ));
    }
    let mut first_dates = Vec::new();
    let mut d = steps.last().map_or(date, |s| s.date);
    for w in m
        .first_intervals_weeks
        .iter()
        .chain(std::iter::repeat_n(&m.interval_weeks, 2))
    {
        d = next_clinic_day(cal, d, i64::from(*w) * 7)?;
        first_dates.push(d);
    }
    let accepted_risk = match (rule.decision, req.accept_risk) {
        (Decision::Refuse, Some(r)) if req.template.kind == Kind::Rush => Some(r.to_string()),
        _ => None,
    };
    Ok(Ok(Plan {
        template: TemplateRef {
            id: template.id.clone(),
            name: template.name.clone(),
            kind: template.kind,
            evidence: template.evidence,
            certainty: template.certainty,
        },
        assessment: a.clone(),
        adjustments,
        warnings,
        accepted_risk,
        steps,
        limits,
        maintenance: MaintenancePlan {
            dose: m.dose,
            vial: m.vial.clone(),
            volume_ml: m.volume_ml,
            first_dates,
            interval_weeks: m.interval_weeks,
            interval_tolerance_weeks: m.interval_tolerance_weeks,
        },
    }))
}

/// The caps of one visit: the rules' per-day cap if any, else the fullest planned visit; and the
/// largest planned visit total dose.
fn visit_limits(steps: &[PlannedStep], cap: Option<usize>, unit: AllergenUnit) -> VisitLimits {
    let mut count = 0u32;
    let mut total = Dose::new(Decimal::ZERO, unit);
    let mut day = None;
    let mut visit = (0u32, Dose::new(Decimal::ZERO, unit));
    for s in steps {
        if day != Some(s.date) {
            day = Some(s.date);
            visit = (0, Dose::new(Decimal::ZERO, unit));
        }
        visit.0 += 1;
        visit.1 = visit.1.checked_add(s.dose).unwrap_or(visit.1);
        count = count.max(visit.0);
        if visit.1.amount() > total.amount() {
            total = visit.1;
        }
    }
    let (max_injections, max_injections_source) = match cap {
        Some(c) => (
            u32::try_from(c).unwrap_or(u32::MAX),
            "the risk rules' per-day cap (rules/risk.toml cap_per_day)".to_string(),
        ),
        None => (
            count,
            "the plan's fullest visit (no per-day cap in the risk rules)".to_string(),
        ),
    };
    VisitLimits {
        max_injections,
        max_injections_source,
        max_total_dose: total,
    }
}

/// The first clinic day at least `days` after `from`.
fn next_clinic_day(
    cal: &ClinicCalendar,
    from: NaiveDate,
    days: i64,
) -> Result<NaiveDate, PlanError> {
    let d = Duration::try_days(days)
        .and_then(|d| from.checked_add_signed(d))
        .ok_or_else(|| {
            PlanError::BadCalendar(format!(
                "the schedule runs past the calendar's last date ({days} days after {from})"
            ))
        })?;
    cal.on_or_after(d)
        .ok_or_else(|| PlanError::BadCalendar("the clinic calendar has no clinic day".into()))
}

/// Inserts steps wherever a dose rises more than `max_factor` × over the one before. Each
/// inserted dose is the largest measurable dose at most `max_factor` × the previous one, strictly
/// between the two doses, on one of the two neighbouring steps' vials: the one that gives the
/// larger volume (a volume is measured more accurately than a tenth of it), within the
/// template's largest injection. Returns the number inserted.
fn split_increments(
    work: &mut Vec<Work>,
    template: &Template,
    syringe: Syringe,
    max_factor: Decimal,
) -> usize {
    let mut added = 0;
    let mut i = 1;
    while i < work.len() {
        let prev = work[i - 1].dose;
        let next = work[i].clone();
        let limit = prev.amount().checked_mul(max_factor);
        if let Some(limit) = limit
            && prev.amount() > Decimal::ZERO
            && next.dose.amount() > limit
        {
            let target = Dose::new(limit, next.dose.unit());
            let best = [work[i - 1].vial, next.vial]
                .into_iter()
                .filter_map(|v| {
                    let conc = template.vials[v].concentration;
                    let volume = conc.volume_for(target, syringe)?;
                    let dose = conc.dose_in(volume)?;
                    (volume <= template.injection.max_volume_ml
                        && dose.amount() > prev.amount()
                        && dose.amount() < next.dose.amount())
                    .then_some((v, volume, dose))
                })
                .max_by_key(|(_, volume, _)| *volume);
            if let Some((vial, volume, dose)) = best {
                work.insert(
                    i,
                    Work {
                        session: next.session,
                        protocol_day: next.protocol_day,
                        vial,
                        volume,
                        dose,
                        observation: next.observation,
                        template_step: None,
                    },
                );
                added += 1;
            }
        }
        i += 1;
    }
    added
}

/// What the physician can do instead of a refused rush.
fn alternatives(req: &Request<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let min = req.rules.min_omalizumab_weeks.value;
    let have = req.assessment.omalizumab_weeks.unwrap_or(0);
    let weeks = min.saturating_sub(have);
    let from = req
        .calendar
        .on_or_after(req.start.date() + Duration::weeks(i64::from(weeks)));
    out.push(match from {
        Some(d) => format!(
            "Pretreat with omalizumab for {weeks} more week{} ({min} in all; see `ritplan omalizumab` for the dose): the rush could start on {d} or later.",
            if weeks == 1 { "" } else { "s" }
        ),
        None => format!("Pretreat with omalizumab for {weeks} more weeks ({min} in all)."),
    });
    let slower: Vec<String> = req
        .catalog
        .iter()
        .filter(|(t, _)| t.kind != Kind::Rush)
        .map(|(t, _)| format!("{} ({}, evidence {})", t.id, t.kind, t.evidence_label()))
        .collect();
    if !slower.is_empty() {
        out.push(format!(
            "Use a cluster or conventional schedule instead: {}.",
            slower.join(", ")
        ));
    }
    out.push("Or, as the physician, accept the risk with --accept-risk \"REASON\": cautious adjustments then apply, and the reason is printed on every output of the plan.".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patient::Patient;
    use crate::policy::risk::AdjustmentRule;
    use crate::risk::assess;
    use proptest::prelude::*;

    use crate::testkit::{Bundled as Fixture, bundled as fixture, date, patient, weekdays};

    fn run(
        f: &Fixture,
        template: &str,
        p: &Patient,
        start: &str,
        accept: Option<&str>,
    ) -> Result<Result<Plan, Refusal>, PlanError> {
        run_with(f, &f.policy.risk, template, p, start, accept, &weekdays())
    }

    fn run_with(
        f: &Fixture,
        rules: &RiskRules,
        template: &str,
        p: &Patient,
        start: &str,
        accept: Option<&str>,
        cal: &ClinicCalendar,
    ) -> Result<Result<Plan, Refusal>, PlanError> {
        let a = assess(p, rules);
        let t = f.catalog.get(template).expect("template");
        let (d, time) = start.split_once('T').unwrap_or((start, "08:00"));
        let start = NaiveDateTime::new(date(d), crate::tomlread::parse_time(time).expect("time"));
        plan(&Request {
            template: t,
            catalog: &f.catalog,
            assessment: &a,
            rules,
            start,
            calendar: cal,
            accept_risk: accept,
            eligibility: &f.policy.eligibility,
            accept_age: None,
            accept_missing: None,
        })
    }

    fn ok(r: Result<Result<Plan, Refusal>, PlanError>) -> Plan {
        r.expect("no plan error").expect("a plan")
    }

    #[test]
    fn low_risk_adult_gets_the_template_unchanged() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-07",
            None,
        ));
        let t = f.catalog.get("example-hdm-rush-3d").expect("t");
        assert_eq!(p.steps.len(), t.steps.len());
        for (s, ts) in p.steps.iter().zip(&t.steps) {
            assert_eq!(
                (s.dose, s.volume_ml, s.observation_min),
                (ts.dose, ts.volume_ml, ts.observation_min)
            );
        }
        let dates: Vec<NaiveDate> = p.steps.iter().map(|s| s.date).collect();
        assert_eq!(dates.first(), Some(&date("2026-12-07")));
        assert_eq!(dates.last(), Some(&date("2026-12-09")));
        assert!(
            p.adjustments[0]
                .text
                .contains("Omalizumab is not expected to lower SR risk")
        );
        // Maintenance: 2 then 4 weeks after the last step, then every 8 weeks.
        assert_eq!(p.maintenance.first_dates[0], date("2026-12-23"));
        assert_eq!(p.maintenance.first_dates[1], date("2027-01-20"));
        assert_eq!(p.maintenance.first_dates[2], date("2027-03-17"));
    }

    #[test]
    fn a_rush_skips_the_weekend() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-11",
            None,
        ));
        let days: Vec<String> = p
            .steps
            .iter()
            .map(|s| s.date.format("%a").to_string())
            .collect();
        assert_eq!(days.first().map(String::as_str), Some("Fri"));
        assert!(days.contains(&"Mon".to_string()) && days.contains(&"Tue".to_string()));
        assert!(!days.iter().any(|d| d == "Sat" || d == "Sun"));
    }

    #[test]
    fn high_risk_without_pretreatment_is_refused_with_alternatives() {
        let f = fixture();
        match run(
            &f,
            "example-hdm-rush-3d",
            &patient(9, "52", "410", Some(3)),
            "2026-12-07",
            None,
        ) {
            Ok(Err(Refusal::RiskNotAccepted { alternatives, .. })) => {
                assert!(alternatives[0].contains("5 more weeks"), "{alternatives:?}");
                assert!(alternatives[0].contains("2027-01-11"), "{alternatives:?}");
                assert!(alternatives[1].contains("alutard-hdm-cluster-7w"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepted_risk_is_recorded_and_cautious() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(9, "52", "410", None),
            "2026-12-07",
            Some("ward bed, parents declined omalizumab"),
        ));
        assert_eq!(
            p.accepted_risk.as_deref(),
            Some("ward bed, parents declined omalizumab")
        );
        assert!(p.warnings[0].starts_with("RISK ACCEPTED BY THE PHYSICIAN"));
        assert!(p.warnings[0].contains("ward bed"));
        assert!(p.steps.iter().all(|s| s.observation_min >= 60));
    }

    #[test]
    fn high_risk_with_pretreatment_gets_extended_observation() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(30, "52", "410", Some(8)),
            "2026-12-07",
            None,
        ));
        assert!(p.steps.iter().all(|s| s.observation_min >= 60));
        assert_eq!(p.steps.len(), 10, "no other operation applies");
        assert!(p.accepted_risk.is_none());
    }

    #[test]
    fn intermediate_splits_caps_and_spaces() {
        let f = fixture();
        // class 4, ratio 4.4 %: intermediate.
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(30, "18", "410", None),
            "2026-12-07",
            None,
        ));
        assert!(p.steps.len() > 10, "steps were inserted");
        for w in p.steps.windows(2) {
            assert!(
                w[1].dose.amount() <= w[0].dose.amount() * Decimal::TWO,
                "{:?} -> {:?}",
                w[0].dose,
                w[1].dose
            );
            if w[0].date == w[1].date {
                assert!((w[1].time - w[0].time).num_minutes() >= 60);
            }
        }
        let mut per_day: std::collections::BTreeMap<NaiveDate, usize> = Default::default();
        for s in &p.steps {
            *per_day.entry(s.date).or_default() += 1;
        }
        assert!(per_day.values().all(|n| *n <= 3), "{per_day:?}");
        assert_eq!(
            p.steps.last().map(|s| s.dose),
            Some(
                f.catalog
                    .get("example-hdm-rush-3d")
                    .unwrap()
                    .maintenance
                    .dose
            )
        );
    }

    #[test]
    fn contraindication_refuses() {
        let f = fixture();
        let mut p = patient(30, "2", "410", None);
        p.beta_blocker = true;
        assert!(matches!(
            run(&f, "example-hdm-rush-3d", &p, "2026-12-07", None),
            Ok(Err(Refusal::Contraindicated { .. }))
        ));
        // Accepting the risk does not lift a contraindication.
        assert!(matches!(
            run(&f, "example-hdm-rush-3d", &p, "2026-12-07", Some("x")),
            Ok(Err(Refusal::Contraindicated { .. }))
        ));
    }

    #[test]
    fn switch_template_is_driven_by_the_rules() {
        let f = fixture();
        let mut rules = f.policy.risk.clone();
        let switch = AdjustmentRule {
            operations: vec![Operation::SwitchTemplate {
                template: "alutard-hdm-cluster-7w".into(),
            }],
            ..rules.adjustments[4].clone()
        };
        rules.adjustments.insert(0, switch);
        let p = ok(run_with(
            &f,
            &rules,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-07",
            None,
            &weekdays(),
        ));
        assert_eq!(p.template.id, "alutard-hdm-cluster-7w");
        assert_eq!(p.steps.len(), 11);
        assert!(p.adjustments.iter().any(|a| a.text.contains("switched")));
        rules.adjustments[0].operations = vec![Operation::SwitchTemplate {
            template: "nope".into(),
        }];
        assert_eq!(
            run_with(
                &f,
                &rules,
                "example-hdm-rush-3d",
                &patient(34, "2", "410", None),
                "2026-12-07",
                None,
                &weekdays()
            ),
            Err(PlanError::UnknownTemplate("nope".into()))
        );
    }

    #[test]
    fn a_start_outside_the_calendar_is_an_error() {
        let f = fixture();
        let p = patient(34, "2", "410", None);
        assert!(
            matches!(run(&f, "example-hdm-rush-3d", &p, "2026-12-06", None), Err(PlanError::BadStart(m)) if m.contains("next clinic day is 2026-12-07"))
        );
        assert!(matches!(
            run(&f, "example-hdm-rush-3d", &p, "2026-12-07T06:00", None),
            Err(PlanError::BadStart(_))
        ));
    }

    #[test]
    fn closed_dates_are_not_clinic_days() {
        let cal = ClinicCalendar {
            closed: vec![date("2026-12-24"), date("2026-12-25")],
            ..weekdays()
        };
        assert!(!cal.is_clinic_day(date("2026-12-24")));
        assert_eq!(
            cal.on_or_after(date("2026-12-24")),
            Some(date("2026-12-28"))
        );
        let none = ClinicCalendar {
            days: Vec::new(),
            ..weekdays()
        };
        assert_eq!(none.on_or_after(date("2026-12-24")), None, "bounded search");
    }

    #[test]
    fn a_day_too_short_moves_the_rest_to_the_next_clinic_day() {
        let f = fixture();
        let cal = ClinicCalendar {
            closes: NaiveTime::from_hms_opt(11, 0, 0).expect("time"),
            ..weekdays()
        };
        let p = ok(run_with(
            &f,
            &f.policy.risk,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-07",
            None,
            &cal,
        ));
        for s in &p.steps {
            assert!(
                s.time + Duration::minutes(i64::from(s.observation_min)) <= cal.closes,
                "{s:?}"
            );
        }
        assert!(
            p.adjustments
                .iter()
                .any(|a| a.text.contains("moved to the next clinic day"))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the patient, template, start and calendar, a plan keeps the safety invariants.
        #[test]
        fn plans_keep_the_safety_invariants(
            template in prop::sample::select(vec!["example-hdm-rush-3d", "alutard-hdm-cluster-7w", "alutard-hdm-conventional-15w", "alutard-hdm-slow-25w"]),
            age in 5u32..80,
            sige in prop::sample::select(vec!["0.2", "<0.35", "0.5", "2", "3.5", "18", "40", "52", ">100", "<0.70", ">50"]),
            total in prop::sample::select(vec!["120", "410", "1000", "3000"]),
            om in prop::option::of(0u32..20),
            accept in any::<bool>(),
            day_offset in 0i64..400,
            opens_h in 7u32..10,
            closes_h in 14u32..20,
            saturday in any::<bool>(),
        ) {
            let f = fixture();
            let p = patient(age, sige, total, om);
            let mut cal = weekdays();
            cal.opens = NaiveTime::from_hms_opt(opens_h, 0, 0).expect("time");
            cal.closes = NaiveTime::from_hms_opt(closes_h, 0, 0).expect("time");
            if saturday { cal.days.push(Weekday::Sat); }
            let start = cal.on_or_after(date("2026-12-01") + Duration::days(day_offset)).expect("clinic day");
            let start = format!("{}T{:02}:00", start, opens_h);
            let t = f.catalog.get(template).expect("template");
            let result = run_with(&f, &f.policy.risk, template, &p, &start, accept.then_some("accepted in test"), &cal);
            let Ok(Ok(plan)) = result else { return Ok(()) };
            let syringe = Syringe::new(t.injection.syringe_graduation_ml).expect("syringe");
            prop_assert!(!plan.steps.is_empty());
            for (i, s) in plan.steps.iter().enumerate() {
                prop_assert!(s.dose.amount() <= plan.maintenance.dose.amount());
                prop_assert!(syringe.can_measure(s.volume_ml), "{:?}", s.volume_ml);
                prop_assert!(s.volume_ml <= t.injection.max_volume_ml);
                prop_assert_eq!(s.concentration.dose_in(s.volume_ml), Some(s.dose));
                prop_assert!(cal.is_clinic_day(s.date));
                prop_assert!(s.time >= cal.opens);
                prop_assert!(s.time + Duration::minutes(i64::from(s.observation_min)) <= cal.closes);
                prop_assert!(s.observation_min >= t.timing.observation_min);
                if i > 0 {
                    let prev = &plan.steps[i - 1];
                    prop_assert!(s.dose.amount() >= prev.dose.amount(), "dose decreased");
                    prop_assert!(s.date >= prev.date);
                    if s.date == prev.date {
                        let gap = (s.time - prev.time).num_minutes();
                        prop_assert!(gap >= i64::from(t.timing.min_interval_min));
                        prop_assert!(gap >= i64::from(prev.observation_min), "dose before the previous observation ended");
                    }
                }
            }
        }
    }

    /// The byte ranges of the number literals in a TOML text (digits, with a point or
    /// exponent), in strings too.
    fn numbers(text: &str) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                out.push((start, i));
            } else {
                i += 1;
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(800))]

        /// A template that `template check` accepts never makes the planner panic, however its
        /// numbers were changed: huge days, intervals, concentrations, volumes, zeros. (Run on
        /// the planner and checker before their bounds, it finds the calendar overflow within
        /// 800 cases; sIgE 18 is the intermediate stratum, whose steps are split.)
        #[test]
        fn checked_templates_never_make_plan_panic(
            which in 0usize..4,
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![
                "0", "1", "2", "7", "59", "1440", "1441", "3650", "3651", "9999", "65535", "65536",
                "262142", "4294967295", "4294967296", "9223372036854775807",
                "18446744073709551616", "79228162514264337593543950335", "1000000000",
                "1000000001", "0.001", "0.0000000001", "10.0", "10.01", "99999999999.999",
            ])), 1..4),
            start_year in prop::sample::select(vec![1900i32, 2026, 2199]),
            sige in prop::sample::select(vec!["2", "18", "52"]),
        ) {
            let f = fixture();
            let mut sources = crate::template::bundled_sources();
            let mut text = sources[which].text.clone();
            for (at, value) in &edits {
                let spots = numbers(&text);
                if spots.is_empty() { break; }
                let (a, b) = spots[at.index(spots.len())];
                text.replace_range(a..b, value);
            }
            let name = sources[which].name.clone();
            sources[which] = crate::diag::SourceText::new(name, text);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // What `template check` says of the changed file; only an accepted one is planned.
                let checked = crate::template::check(sources[which].clone(), &f.policy);
                let Some(id) = checked.template.map(|t| t.id) else {
                    return;
                };
                let (catalog, _) = Catalog::build(sources, &f.policy);
                let Some(t) = catalog.get(&id) else {
                    return;
                };
                let a = assess(&patient(30, sige, "410", Some(8)), &f.policy.risk);
                let cal = weekdays();
                let Some(d) = NaiveDate::from_ymd_opt(start_year, 1, 5).and_then(|d| cal.on_or_after(d)) else {
                    return;
                };
                let start = NaiveDateTime::new(d, NaiveTime::from_hms_opt(8, 0, 0).expect("time"));
                let _ = plan(&Request {
                    template: t,
                    catalog: &catalog,
                    assessment: &a,
                    rules: &f.policy.risk,
                    start,
                    calendar: &cal,
                    accept_risk: Some("accepted in test"),
                    eligibility: &f.policy.eligibility,
                    accept_age: None,
                    accept_missing: None,
                });
            }));
            prop_assert!(outcome.is_ok(), "checking or planning panicked on {edits:?}");
        }
    }
}
