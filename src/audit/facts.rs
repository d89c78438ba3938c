//! One course's facts for the outcomes audit: one row per course, computed from the course's
//! frozen plan and template, its patient's values as frozen at the start, its events (a voided
//! entry never counts) and the patient's omalizumab injections. Pure: no clock, no disk.
//!
//! Censored laboratory values (`>100`) give class ranges and ratio bounds (see
//! [`crate::risk`]); a band the bound cannot settle is `unknown`, and the footer counts them.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::rules::{AuditRules, FollowUpWindows, HighFrom, RatioEdge};
use crate::course::{Event, EventKind, WaoGrade, voided};
use crate::patient::{Censor, LabValue, Patient};
use crate::planner::Plan;
use crate::policy::risk::Op;
use crate::risk::{ClassRange, Ratio};
use crate::template::{Phase, PremedStatus, Template};

/// The band of a value the censoring leaves on both sides of an edge.
pub const UNKNOWN: &str = "unknown";

/// The comparison arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Rush immunotherapy alone.
    Rit,
    /// Rush immunotherapy after omalizumab pretreatment (the arm rule's doses before rush day 1).
    RitOmbPre,
}

impl Arm {
    /// The word in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Rit => "rit",
            Arm::RitOmbPre => "rit_omb_pre",
        }
    }
}

/// Where a course stands at the audit date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It reached its target (maintenance) dose.
    Completed,
    /// It stopped (or ended) before its target dose.
    Stopped,
    /// Still in up-dosing at the audit date: censored.
    Censored,
}

impl Status {
    /// The word in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Stopped => "stopped",
            Status::Censored => "censored",
        }
    }
}

/// Injections given, by phase (a voided dose not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ByPhase {
    /// Rush.
    pub rush: u32,
    /// Up-dosing (a template without a rush phase, or older records).
    pub up_dosing: u32,
    /// Consolidation.
    pub consolidation: u32,
    /// Maintenance.
    pub maintenance: u32,
}

impl ByPhase {
    /// All injections.
    pub fn total(&self) -> u32 {
        self.rush + self.up_dosing + self.consolidation + self.maintenance
    }

    fn add(&mut self, p: Phase) {
        let n = match p {
            Phase::Rush => &mut self.rush,
            Phase::UpDosing => &mut self.up_dosing,
            Phase::Consolidation => &mut self.consolidation,
            Phase::Maintenance => &mut self.maintenance,
        };
        *n = n.saturating_add(1);
    }
}

/// Premedication on the course.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Premedication {
    /// The course's plan requires premedication before some injections.
    pub required: bool,
    /// Injections recorded with premedication taken.
    pub taken: u32,
    /// Injections given without it (or outside its window) that a physician accepted.
    pub accepted: u32,
}

/// Systemic reactions (a voided entry not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Systemic {
    /// How many.
    pub count: u32,
    /// The highest WAO grade (1-5).
    pub max_grade: Option<u8>,
    /// Epinephrine was given for any (a WAO suffix other than z).
    pub epinephrine: bool,
    /// The first one's onset, minutes after the injection.
    pub first_onset_min: Option<u32>,
    /// The phase of the injection before the first one.
    pub first_phase: Option<Phase>,
    /// Any began later than the rules' late edge.
    pub late_any: bool,
    /// How many began later than it.
    pub late_count: u32,
    /// How many of each WAO grade, 1 to 5 (`by_grade[0]` is grade 1).
    pub by_grade: [u32; 5],
    /// How many were treated with epinephrine.
    pub epinephrine_count: u32,
}

/// Local reactions, immediate and late (a voided entry not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Local {
    /// Entries with a reaction above 0 mm.
    pub count: u32,
    /// Of which large (the rules' edge or more).
    pub large_count: u32,
    /// The largest, mm.
    pub max_mm: Option<u32>,
}

/// The target (maintenance) dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The plan's maintenance dose, as printed (`100 000 SQ-U`).
    pub dose: String,
    /// Reached (a dose at or above it, or a maintenance dose, was given).
    pub reached: bool,
    /// The day it was first given.
    pub date: Option<NaiveDate>,
    /// Days from rush day 1.
    pub days: Option<i64>,
    /// The highest dose given, percent of the target (2 decimals).
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub max_pct: Option<Decimal>,
}

/// The follow-up scores (filled by [`follow_up`] once follow-up records exist).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// ACQ score at baseline.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub acq_0: Option<Decimal>,
    /// ACQ score at 12 months.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub acq_12m: Option<Decimal>,
    /// Its change (12 months - baseline).
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub acq_delta: Option<Decimal>,
    /// Medication score at baseline.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub med_score_0: Option<Decimal>,
    /// Medication score at 12 months.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub med_score_12m: Option<Decimal>,
    /// Its change.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub med_score_delta: Option<Decimal>,
}

/// One course's row: what the report tables read and the CSV exports (without the ids).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseFacts {
    /// The course (never exported: the CSV has a keyed pseudonym).
    pub course_id: i64,
    /// The patient (never exported).
    pub patient_id: String,
    /// The day of the first injection given (the planned first day when none was given).
    pub rush_day1: NaiveDate,
    /// The arm.
    pub arm: Arm,
    /// Omalizumab injections recorded as given before rush day 1.
    pub omb_doses_before: u32,
    /// Days from the first of them to rush day 1.
    pub omb_days_first_dose_to_rush: Option<i64>,
    /// Weeks of omalizumab the patient's record showed at the start (given outside the record).
    pub omb_weeks_recorded: Option<u32>,
    /// Age at rush day 1 (at the course's start), years.
    pub age_years: u32,
    /// `<18` or `>=18` (the rules' edge).
    pub age_group: String,
    /// Mite sIgE, kUA/L, as the laboratory wrote it.
    pub sige: LabValue,
    /// It is a bound (`>100`, `<0.35`).
    pub sige_censored: bool,
    /// ImmunoCAP class (a range for a censored value), by the course's frozen risk rules.
    pub sige_class: ClassRange,
    /// `1-2`, `3-6`, `0` (class 0, in neither band) or `unknown`.
    pub sige_band: String,
    /// Total IgE, kU/L, as written.
    pub total_ige: LabValue,
    /// The total-IgE band, or `unknown`.
    pub tige_band: String,
    /// sIgE/total IgE, percent (a bound when a value is censored).
    pub ratio_pct: Ratio,
    /// `<10`, `>=10` or `unknown`.
    pub ratio_band10: String,
    /// `<=16`, `>16` or `unknown`.
    pub ratio_band16: String,
    /// The risk stratum the plan was made for.
    pub risk_stratum: String,
    /// Premedication.
    pub premedication: Premedication,
    /// The template.
    pub template_id: String,
    /// The product.
    pub product: String,
    /// Injections given by phase.
    pub injections: ByPhase,
    /// Systemic reactions.
    pub sr: Systemic,
    /// Local reactions.
    pub lr: Local,
    /// The target dose.
    pub target: Target,
    /// Completed, stopped or censored.
    pub status: Status,
    /// What stopped it (`physician`, `systemic`, ...), when stopped.
    pub stop_cause: Option<String>,
    /// A systemic reaction was recorded before it stopped.
    pub stopped_after_sr: bool,
    /// The follow-up scores.
    pub follow_up: FollowUp,
}

/// What a course's row is computed from.
pub struct CourseIn<'a> {
    /// The course's id.
    pub course_id: i64,
    /// Its patient's id.
    pub patient_id: &'a str,
    /// Its frozen plan.
    pub plan: &'a Plan,
    /// Its frozen template.
    pub template: &'a Template,
    /// The patient as frozen at the start (age at the start, laboratory values).
    pub patient: &'a Patient,
    /// Weeks of omalizumab recorded on the patient at the start.
    pub omalizumab_weeks: Option<u32>,
    /// Its events.
    pub events: &'a [Event],
    /// When each of the patient's omalizumab injections was given (voided ones left out).
    pub omalizumab_given: &'a [NaiveDateTime],
    /// What stopped or ended it, if it stopped: the hold's cause, in one word.
    pub stopped: Option<String>,
    /// The highest ImmunoCAP class of the course's frozen risk rules.
    pub max_class: u8,
}

/// Why a course is not in the audit's rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Excluded {
    /// The course.
    pub course_id: i64,
    /// Why.
    pub reason: String,
}

fn phase_of(plan: &Plan, step: usize, recorded: Option<Phase>) -> Phase {
    recorded.unwrap_or_else(
        || match step.checked_sub(1).and_then(|i| plan.steps.get(i)) {
            Some(s) => s.phase.unwrap_or(Phase::UpDosing),
            None if step == 0 => Phase::UpDosing,
            None => Phase::Maintenance,
        },
    )
}

fn epinephrine(g: WaoGrade) -> bool {
    g.suffix != 'z'
}

/// The band index of a laboratory value among ascending `edges` (each opens the next band),
/// or `None` when a censored value could lie in two bands.
pub fn band_index(v: LabValue, edges: &[Decimal]) -> Option<usize> {
    let at_or_below = |x: Decimal| edges.iter().filter(|e| **e <= x).count();
    let below = |x: Decimal| edges.iter().filter(|e| **e < x).count();
    let (lo, hi) = match v.censor {
        Censor::Exact => (at_or_below(v.value), at_or_below(v.value)),
        // Every value under v: from the first band up to the one just under v.
        Censor::Below => (0, below(v.value)),
        // Every value over v: from v's band up to the last.
        Censor::Above => (at_or_below(v.value), edges.len()),
    };
    (lo == hi).then_some(lo)
}

fn sige_band(class: ClassRange, rules: &AuditRules, max_class: u8) -> String {
    let k = rules.sige_low_max_class.value;
    let (low, high) = rules.sige_labels(max_class);
    let band = |c: u8| match c {
        0 => "0".to_string(),
        c if c <= k => low.clone(),
        _ => high.clone(),
    };
    let (a, b) = (band(class.min), band(class.max));
    if a == b { a } else { UNKNOWN.to_string() }
}

fn ratio_band(ratio: Ratio, edge: &RatioEdge) -> String {
    let op = match edge.high_from {
        HighFrom::At => Op::Ge,
        HighFrom::Above => Op::Gt,
    };
    let (low, high) = edge.labels();
    match ratio.compare(op, edge.edge_percent) {
        Some(true) => high,
        Some(false) => low,
        None => UNKNOWN.to_string(),
    }
}

/// The day of the first injection given up to `as_of` (the plan's first day when none was).
pub fn rush_day1(plan: &Plan, events: &[Event], as_of: NaiveDate) -> Option<NaiveDate> {
    let gone = voided(events);
    events
        .iter()
        .filter(|e| e.at.date() <= as_of && !gone.contains(&e.seq))
        .find(|e| matches!(e.kind, EventKind::DoseGiven { .. }))
        .map(|e| e.at.date())
        .or_else(|| plan.steps.first().map(|s| s.date))
}

/// One course's row at the audit date `as_of` (entries after it are not counted); `Err` when
/// the course cannot be placed in an arm.
pub fn course_facts(
    c: &CourseIn<'_>,
    rules: &AuditRules,
    as_of: NaiveDate,
) -> Result<CourseFacts, Excluded> {
    let excluded = |reason: String| Excluded {
        course_id: c.course_id,
        reason,
    };
    let gone = voided(c.events);
    let events: Vec<&Event> = c
        .events
        .iter()
        .filter(|e| e.at.date() <= as_of && !gone.contains(&e.seq))
        .collect();
    let day1 = rush_day1(c.plan, c.events, as_of)
        .ok_or_else(|| excluded("the plan has no first day".into()))?;

    // The arm: omalizumab injections before rush day 1.
    let before: Vec<NaiveDateTime> = c
        .omalizumab_given
        .iter()
        .copied()
        .filter(|t| t.date() < day1)
        .collect();
    let omb_doses_before = u32::try_from(before.len()).unwrap_or(u32::MAX);
    let first_omb = before.iter().min().map(|t| (day1 - t.date()).num_days());
    let needed = rules.arm_doses_before.value;
    let arm = if omb_doses_before >= needed {
        Arm::RitOmbPre
    } else if c.omalizumab_weeks.is_some_and(|w| w > 0) {
        // Given outside the record: how many doses is not known.
        return Err(excluded(format!(
            "omalizumab recorded as {} weeks given outside the record, with {omb_doses_before} injection(s) in it: the arm rule (at least {needed} before rush day 1) cannot be applied",
            c.omalizumab_weeks.unwrap_or(0)
        )));
    } else {
        Arm::Rit
    };

    let a = &c.plan.assessment;
    let age_group = if c.patient.age_years < rules.adult_from_years.value {
        format!("<{}", rules.adult_from_years.value)
    } else {
        format!(">={}", rules.adult_from_years.value)
    };
    let tige_labels = rules.total_ige_labels();
    let tige_band = band_index(c.patient.total_ige, &rules.total_ige_edges.value)
        .and_then(|i| tige_labels.get(i).cloned())
        .unwrap_or_else(|| UNKNOWN.to_string());

    // Injections, premedication, reactions, target, in the record's order.
    let target_dose = c.plan.maintenance.dose;
    let mut injections = ByPhase::default();
    let mut premedication = Premedication {
        required: c
            .plan
            .premedication
            .iter()
            .any(|p| p.status == PremedStatus::Required),
        ..Premedication::default()
    };
    let mut sr = Systemic::default();
    let mut lr = Local::default();
    let mut last_phase: Option<Phase> = None;
    let mut reached: Option<NaiveDate> = None;
    let mut max_amount: Option<Decimal> = None;
    let late_after = rules.late_sr_after_min.value;
    let large_from = rules.large_local_from_mm.value;
    let local = |mm: u32, lr: &mut Local| {
        if mm > 0 {
            lr.count = lr.count.saturating_add(1);
            if mm >= large_from {
                lr.large_count = lr.large_count.saturating_add(1);
            }
            lr.max_mm = lr.max_mm.max(Some(mm));
        }
    };
    for e in &events {
        match &e.kind {
            EventKind::DoseGiven {
                step,
                dose,
                phase,
                premedication: p,
                ..
            } => {
                let ph = phase_of(c.plan, *step, *phase);
                injections.add(ph);
                last_phase = Some(ph);
                if let Some(p) = p {
                    if p.taken_at.is_some() {
                        premedication.taken = premedication.taken.saturating_add(1);
                    }
                    if p.accepted.is_some() {
                        premedication.accepted = premedication.accepted.saturating_add(1);
                    }
                }
                if dose.unit() == target_dose.unit() {
                    max_amount = max_amount.max(Some(dose.amount()));
                }
                let at_target = ph == Phase::Maintenance
                    || (dose.unit() == target_dose.unit() && dose.amount() >= target_dose.amount());
                if at_target && reached.is_none() {
                    reached = Some(e.at.date());
                }
            }
            EventKind::SystemicReaction {
                grade, onset_min, ..
            } => {
                if sr.count == 0 {
                    sr.first_onset_min = Some(*onset_min);
                    sr.first_phase = last_phase;
                }
                sr.count = sr.count.saturating_add(1);
                sr.max_grade = sr.max_grade.max(Some(grade.grade));
                sr.epinephrine |= epinephrine(*grade);
                if epinephrine(*grade) {
                    sr.epinephrine_count = sr.epinephrine_count.saturating_add(1);
                }
                if let Some(n) = usize::from(grade.grade)
                    .checked_sub(1)
                    .and_then(|i| sr.by_grade.get_mut(i))
                {
                    *n = n.saturating_add(1);
                }
                if *onset_min > late_after {
                    sr.late_any = true;
                    sr.late_count = sr.late_count.saturating_add(1);
                }
            }
            EventKind::ObservationEnded {
                local_mm: Some(mm), ..
            } => local(*mm, &mut lr),
            EventKind::LateLocalReaction { mm } => local(*mm, &mut lr),
            _ => {}
        }
    }
    let max_pct = max_amount.and_then(|m| {
        m.checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|x| x.checked_div(target_dose.amount()))
            .map(|x| x.round_dp(2).normalize())
    });
    let status = if reached.is_some() {
        Status::Completed
    } else if c.stopped.is_some() {
        Status::Stopped
    } else {
        Status::Censored
    };
    let stop_cause = (status == Status::Stopped)
        .then(|| c.stopped.clone())
        .flatten();
    Ok(CourseFacts {
        course_id: c.course_id,
        patient_id: c.patient_id.to_string(),
        rush_day1: day1,
        arm,
        omb_doses_before,
        omb_days_first_dose_to_rush: first_omb,
        omb_weeks_recorded: c.omalizumab_weeks,
        age_years: c.patient.age_years,
        age_group,
        sige: c.patient.sige,
        sige_censored: c.patient.sige.censor != Censor::Exact,
        sige_class: a.sige_class,
        sige_band: sige_band(a.sige_class, rules, c.max_class),
        total_ige: c.patient.total_ige,
        tige_band,
        ratio_pct: a.ratio_percent,
        ratio_band10: ratio_band(a.ratio_percent, &rules.ratio_band10),
        ratio_band16: ratio_band(a.ratio_percent, &rules.ratio_band16),
        risk_stratum: a.stratum.clone(),
        premedication,
        template_id: c.template.id.clone(),
        product: c.template.product.clone(),
        injections,
        stopped_after_sr: status == Status::Stopped && sr.count > 0,
        sr,
        lr,
        target: Target {
            dose: target_dose.to_string(),
            reached: reached.is_some(),
            date: reached,
            days: reached.map(|d| (d - day1).num_days()),
            max_pct,
        },
        status,
        stop_cause,
        follow_up: FollowUp::default(),
    })
}

/// A follow-up score on a day (an ACQ score, a medication score).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    /// The day it was taken.
    pub date: NaiveDate,
    /// The score.
    pub value: Decimal,
}

/// The baseline (the latest score in the window before rush day 1, rush day 1 included) and the
/// later score (the nearest to the rules' months after rush day 1, within the tolerance; the
/// earlier of two as near).
pub fn baseline_and_later(
    day1: NaiveDate,
    scores: &[Score],
    w: &FollowUpWindows,
) -> (Option<Decimal>, Option<Decimal>) {
    let from = day1 - chrono::Days::new(u64::from(w.baseline_days_before));
    let base = scores
        .iter()
        .filter(|s| s.date >= from && s.date <= day1)
        .max_by_key(|s| s.date)
        .map(|s| s.value);
    let later = day1
        .checked_add_months(Months::new(w.at_months))
        .and_then(|target| {
            let lo = target.checked_sub_months(Months::new(w.tolerance_months))?;
            let hi = target.checked_add_months(Months::new(w.tolerance_months))?;
            scores
                .iter()
                .filter(|s| s.date >= lo && s.date <= hi)
                .min_by_key(|s| ((s.date - target).num_days().abs(), s.date))
                .map(|s| s.value)
        });
    (base, later)
}

/// The follow-up columns from the patient's ACQ and medication scores.
pub fn follow_up(day1: NaiveDate, acq: &[Score], med: &[Score], w: &FollowUpWindows) -> FollowUp {
    let (acq_0, acq_12m) = baseline_and_later(day1, acq, w);
    let (med_score_0, med_score_12m) = baseline_and_later(day1, med, w);
    let delta = |a: Option<Decimal>, b: Option<Decimal>| b?.checked_sub(a?);
    FollowUp {
        acq_0,
        acq_12m,
        acq_delta: delta(acq_0, acq_12m),
        med_score_0,
        med_score_12m,
        med_score_delta: delta(med_score_0, med_score_12m),
    }
}

/// How many rows have each band `unknown` (a censored value the edge cannot settle), by column.
pub fn unknown_bands(rows: &[CourseFacts]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        for (col, v) in [
            ("sige_band", &r.sige_band),
            ("tige_band", &r.tige_band),
            ("ratio_band10", &r.ratio_band10),
            ("ratio_band16", &r.ratio_band16),
        ] {
            if v == UNKNOWN {
                *out.entry(col).or_insert(0) += 1;
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
