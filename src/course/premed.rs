//! Premedication at the give: which of the template's `[[premedication]]` a dose needs, and
//! whether the answer the nurse gives (taken at a time, or not taken) fits its window. Pure: the
//! moment of the dose is an argument, never the clock.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::Context;
use super::state::CourseState;
use crate::template::{PremedAnchor, PremedStatus, Premedication};

/// What the give says about premedication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "premedication", content = "at", rename_all = "snake_case")]
pub enum PremedicationAnswer {
    /// Taken at this time.
    Taken(NaiveDateTime),
    /// Not taken.
    NotTaken,
}

/// A premedication a dose at a given moment needs (or is reminded of), with its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PremedicationDue {
    /// The template's premedication.
    pub premedication: Premedication,
    /// Taken no earlier than this.
    pub not_before: NaiveDateTime,
    /// Taken no later than this.
    pub not_after: NaiveDateTime,
    /// Whether the dose is refused without it.
    pub required: bool,
}

impl PremedicationDue {
    /// `H1 antihistamine (e.g. loratadine 10 mg): required, taken between 06:00 and 09:00`.
    pub fn line(&self) -> String {
        format!(
            "{}: {}, taken between {} and {} ({} before {})",
            self.premedication.what(),
            self.premedication.status.as_str(),
            self.not_before.format("%H:%M"),
            self.not_after.format("%H:%M"),
            crate::template::minutes_words(self.premedication.before_min),
            self.premedication.anchor.words(),
        )
    }
}

/// What is wrong with the premedication of a dose that needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum PremedicationProblem {
    /// The give did not say whether it was taken.
    NotAsked,
    /// It was not taken.
    NotTaken,
    /// Taken after the window closed (too close to the injection, or after it).
    TooLate {
        /// When.
        taken: NaiveDateTime,
    },
    /// Taken before the window opened.
    TooEarly {
        /// When.
        taken: NaiveDateTime,
    },
}

/// The premedications a dose given at `at` needs or is reminded of: every `required` or
/// `recommended` one of the template's and then the course rule set's (both apply, each on its
/// own) whose anchor is this dose (the first dose of the course on that day, or
/// each dose). `none` entries are never due.
pub fn premedication_due(
    ctx: Context<'_>,
    state: &CourseState,
    at: NaiveDateTime,
) -> Vec<PremedicationDue> {
    let first_of_day = !state.given.iter().any(|g| g.at.date() == at.date());
    ctx.template
        .premedication
        .iter()
        .chain(&ctx.rules.premedication)
        .filter(|p| p.status != PremedStatus::None)
        .filter(|p| match p.anchor {
            PremedAnchor::FirstInjectionOfDay => first_of_day,
            PremedAnchor::EachInjection => true,
        })
        .map(|p| PremedicationDue {
            premedication: p.clone(),
            not_before: minus(at, p.at_most_min),
            not_after: minus(at, p.at_least_min),
            required: p.status == PremedStatus::Required,
        })
        .collect()
}

fn minus(at: NaiveDateTime, minutes: u32) -> NaiveDateTime {
    at.checked_sub_signed(Duration::minutes(i64::from(minutes)))
        .unwrap_or(NaiveDateTime::MIN)
}

/// Whether `answer` satisfies `due`. A recommended premedication is never a problem.
pub fn check_premedication(
    due: &PremedicationDue,
    answer: Option<PremedicationAnswer>,
) -> Result<(), PremedicationProblem> {
    if !due.required {
        return Ok(());
    }
    match answer {
        None => Err(PremedicationProblem::NotAsked),
        Some(PremedicationAnswer::NotTaken) => Err(PremedicationProblem::NotTaken),
        Some(PremedicationAnswer::Taken(t)) if t > due.not_after => {
            Err(PremedicationProblem::TooLate { taken: t })
        }
        Some(PremedicationAnswer::Taken(t)) if t < due.not_before => {
            Err(PremedicationProblem::TooEarly { taken: t })
        }
        Some(PremedicationAnswer::Taken(_)) => Ok(()),
    }
}
