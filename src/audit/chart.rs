//! The audit's two pictures as data (issue 22): systemic-reaction (SR) incidence by stratifier
//! level and arm with Wilson 95 % intervals, and completion over time by arm. Pure: rows in,
//! numbers out; [`crate::render::chart`] draws them (SVG for the page, vector paths for the PDF).
//!
//! **SR incidence** of a level × arm: courses with at least one SR / courses, with its Wilson
//! score interval ([`super::stats::wilson`]), over the courses T2 and T4 count (a course still in
//! up-dosing at the audit date, censored, is left out, as there). A level × arm with no course has no bar (never a
//! 0/0 share). Stratifiers: age group, mite sIgE grade band, sIgE/total-IgE ratio band (10 %),
//! total-IgE band, risk stratum; `unknown` (a censored laboratory value either side of an edge)
//! is a level of its own, drawn last.
//!
//! **Completion over time** of an arm: the estimated share of courses that reached their target
//! dose by day *d* after rush day 1 (day 0), a step curve. It is a product-limit
//! (Kaplan–Meier-type) estimate of the time to target, `1 − Π (1 − reached_d / at_risk_d)`,
//! where
//! - a course that reached its target is an event on the day it did,
//! - a course still in up-dosing at the audit date (censored) leaves the denominator after its
//!   last observed day, the audit date (day `as_of − rush day 1`),
//! - a course that stopped before its target stays in the denominator, as a course that did not
//!   reach it, up to the same day (its potential follow-up): stopping counts against
//!   completion. (Treating a stop as censoring, as a plain Kaplan–Meier estimate would, overstates
//!   completion.) With no censoring this is exactly the share completed by day *d*.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::facts::{Arm, CourseFacts, Status, UNKNOWN};
use super::stats::wilson;

/// Both arms, in the order the charts show them.
pub const ARMS: [Arm; 2] = [Arm::Rit, Arm::RitOmbPre];

/// The arm as a reader calls it.
pub fn arm_label(arm: Arm) -> &'static str {
    match arm {
        Arm::Rit => "Rush alone",
        Arm::RitOmbPre => "Omalizumab-pretreated",
    }
}

/// One bar: a level × arm with at least one course.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bar {
    /// The arm.
    pub arm: Arm,
    /// Courses with at least one systemic reaction.
    pub with_sr: u64,
    /// Courses.
    pub courses: u64,
    /// `with_sr / courses`.
    pub share: f64,
    /// The Wilson 95 % interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

/// One level of a stratifier: a bar per arm that has courses in it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Level {
    /// The level's label (`<18`, `3-6`, `unknown`).
    pub label: String,
    /// The bars, rush alone first; an arm without courses here has none.
    pub bars: Vec<Bar>,
    /// Courses of the level still in up-dosing at the audit date: in no bar (see the module).
    pub censored: u64,
}

/// A stratifier and its levels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stratifier {
    /// The CSV column it is read from.
    pub column: &'static str,
    /// Its name as a reader calls it.
    pub name: &'static str,
    /// Its levels, in ascending order, `unknown` last.
    pub levels: Vec<Level>,
}

/// One step of the completion curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Days from rush day 1.
    pub day: i64,
    /// Courses in the denominator that day.
    pub at_risk: u64,
    /// Courses that reached their target that day.
    pub reached: u64,
    /// The estimated share that reached it by that day (0–1).
    pub share: f64,
}

/// The completion curve of one arm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Completion {
    /// The arm.
    pub arm: Arm,
    /// Courses.
    pub courses: u64,
    /// Reached their target.
    pub completed: u64,
    /// Stopped before it.
    pub stopped: u64,
    /// Still in up-dosing at the audit date.
    pub censored: u64,
    /// The last day any course of the arm was observed (the curve ends there).
    pub last_day: i64,
    /// One step per day on which a course reached its target, in day order.
    pub steps: Vec<Step>,
    /// Each course's last day in the denominator, ascending (for [`Completion::at_risk`]).
    #[serde(skip)]
    leaves_after: Vec<i64>,
}

impl Completion {
    /// Courses in the denominator on `day` (for the "at risk" row under the curve).
    pub fn at_risk(&self, day: i64) -> u64 {
        let gone = self.leaves_after.partition_point(|&d| d < day);
        (self.leaves_after.len() - gone) as u64
    }

    /// The estimated share that reached the target by `day` (0 before the first step).
    pub fn share_on(&self, day: i64) -> f64 {
        self.steps
            .iter()
            .take_while(|s| s.day <= day)
            .last()
            .map_or(0.0, |s| s.share)
    }
}

/// Both pictures' data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Charts {
    /// SR incidence by stratifier level and arm.
    pub sr_incidence: Vec<Stratifier>,
    /// Completion over time, one curve per arm with courses.
    pub completion: Vec<Completion>,
}

/// The stratifiers: (column, name, the level of a row).
type Of = fn(&CourseFacts) -> &str;
const STRATIFIERS: [(&str, &str, Of); 5] = [
    ("age_group", "Age group (years)", |r| &r.age_group),
    ("sige_band", "Mite sIgE class band", |r| &r.sige_band),
    ("ratio_band10", "sIgE / total IgE (%), 10 % edge", |r| {
        &r.ratio_band10
    }),
    ("tige_band", "Total IgE (kU/L)", |r| &r.tige_band),
    ("risk_stratum", "Risk stratum", |r| &r.risk_stratum),
];

/// The order of levels: by the first number in the label, `<x` before `x…` before `>=x`;
/// labels without a number after those with one, by name; `unknown` last.
type LevelKey = (u8, u64, u8, String);
/// A level's label, its (with SR, courses) by arm, and its censored courses.
type LevelCounts = (String, BTreeMap<Arm, (u64, u64)>, u64);

fn level_key(label: &str) -> LevelKey {
    if label == UNKNOWN {
        return (2, 0, 0, String::new());
    }
    let digits: String = label
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let group = match label.chars().next() {
        Some('<') => 0,
        Some('>') => 2,
        _ => 1,
    };
    match digits.parse::<f64>() {
        // Thousandths are enough to order band edges.
        Ok(n) if n.is_finite() && n >= 0.0 => (0, (n * 1000.0) as u64, group, label.to_string()),
        _ => (1, 0, 0, label.to_string()),
    }
}

/// SR incidence of one stratifier.
fn stratifier(
    rows: &[CourseFacts],
    column: &'static str,
    name: &'static str,
    of: Of,
) -> Stratifier {
    // level → arm → (with SR, courses)
    let mut counts: BTreeMap<LevelKey, LevelCounts> = BTreeMap::new();
    // The courses T2 and T4 count: one still in up-dosing at the audit date (censored) has not
    // had all its injections, so it is in neither the numerator nor the denominator (its level
    // says how many it left out).
    for r in rows {
        let label = of(r);
        let entry = counts
            .entry(level_key(label))
            .or_insert_with(|| (label.to_string(), BTreeMap::new(), 0));
        if r.status == Status::Censored {
            entry.2 += 1;
            continue;
        }
        let c = entry.1.entry(r.arm).or_insert((0, 0));
        c.0 += u64::from(r.sr.count > 0);
        c.1 += 1;
    }
    let levels = counts
        .into_values()
        .map(|(label, arms, censored)| Level {
            label,
            censored,
            bars: ARMS
                .iter()
                .filter_map(|arm| {
                    let &(with_sr, courses) = arms.get(arm)?;
                    // No course, no bar: wilson refuses n = 0.
                    let ci = wilson(with_sr, courses).ok()?;
                    Some(Bar {
                        arm: *arm,
                        with_sr,
                        courses,
                        share: with_sr as f64 / courses as f64,
                        low: ci.low,
                        high: ci.high,
                    })
                })
                .collect(),
        })
        .collect();
    Stratifier {
        column,
        name,
        levels,
    }
}

/// The completion curve of one arm's rows, at the audit date `as_of`.
fn completion(rows: &[&CourseFacts], arm: Arm, as_of: NaiveDate) -> Completion {
    // Each course: (the day it reached its target, if it did; its last observed day).
    let mut reached_on: BTreeMap<i64, u64> = BTreeMap::new();
    let mut leaves_after: Vec<i64> = Vec::new();
    let (mut completed, mut stopped, mut censored) = (0, 0, 0);
    let mut last_day = 0;
    for r in rows {
        let followed = (as_of - r.rush_day1).num_days().max(0);
        match (r.status, r.target.days) {
            (Status::Completed, Some(d)) => {
                completed += 1;
                *reached_on.entry(d.max(0)).or_insert(0) += 1;
                last_day = last_day.max(d.max(0));
                // Out of the denominator after the day it reached the target.
                leaves_after.push(d.max(0));
            }
            (status, _) => {
                match status {
                    Status::Censored => censored += 1,
                    _ => stopped += 1,
                }
                last_day = last_day.max(followed);
                leaves_after.push(followed);
            }
        }
    }
    leaves_after.sort_unstable();
    let mut steps = Vec::with_capacity(reached_on.len());
    let mut not_yet = 1.0_f64;
    let mut gone = 0usize;
    for (&day, &n) in &reached_on {
        // Courses still in the denominator on `day`: those that leave on it or later.
        while leaves_after.get(gone).is_some_and(|&d| d < day) {
            gone += 1;
        }
        let at_risk = (leaves_after.len() - gone) as u64;
        if at_risk > 0 {
            not_yet *= 1.0 - n as f64 / at_risk as f64;
        }
        steps.push(Step {
            day,
            at_risk,
            reached: n,
            share: (1.0 - not_yet).clamp(0.0, 1.0),
        });
    }
    Completion {
        arm,
        courses: rows.len() as u64,
        completed,
        stopped,
        censored,
        last_day,
        steps,
        leaves_after,
    }
}

/// Both pictures' data from the audit's rows at the audit date `as_of`.
pub fn charts(rows: &[CourseFacts], as_of: NaiveDate) -> Charts {
    let sr_incidence = STRATIFIERS
        .iter()
        .map(|&(column, name, of)| stratifier(rows, column, name, of))
        .collect();
    let completion = ARMS
        .iter()
        .filter_map(|&arm| {
            let of_arm: Vec<&CourseFacts> = rows.iter().filter(|r| r.arm == arm).collect();
            (!of_arm.is_empty()).then(|| completion(&of_arm, arm, as_of))
        })
        .collect();
    Charts {
        sr_incidence,
        completion,
    }
}

#[cfg(test)]
#[path = "chart_tests.rs"]
pub(crate) mod tests;
