//! Typed reasons, holds and refusals: what the state machine says and why, as data. They are
//! rendered to sentences at the edge (`render::course`), so that the CLI, the page and JSON
//! consumers say the same thing and no Rust debug text reaches a nurse.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::event::{LateKind, Review, WaoGrade};
use crate::policy::Provenance;
use crate::policy::course::{Action, CountFrom};
use crate::units::{Dose, Volume};

/// What caused a hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// A systemic reaction.
    Systemic {
        /// Its WAO grade.
        grade: WaoGrade,
        /// First symptom.
        symptom: String,
        /// Minutes after the injection.
        onset_min: u32,
    },
    /// A local reaction (immediate or late) the rules send to the physician.
    LocalReaction {
        /// Diameter, mm.
        mm: u32,
        /// A late (6-24 h) reaction.
        late: bool,
    },
    /// The local reaction could not be assessed.
    LocalNotAssessable,
    /// The observation was closed without a local-reaction size (an older record).
    LocalNotRecorded,
    /// A late reaction of a kind the rules send to the physician or stop on.
    LateReaction {
        /// Its type.
        kind: LateKind,
    },
    /// A late dose the rules send to the physician.
    LateDose {
        /// Days, counted as the rules count.
        days: i64,
    },
    /// A step in maintenance re-escalation came later than the rules allow.
    ReescalationOverdue {
        /// Days since the previous dose.
        days: i64,
        /// The rules' limit, weeks.
        within_weeks: i64,
    },
    /// A reduction in maintenance goes below the maintenance ladder.
    BelowMaintenanceLadder,
    /// The rules have no maintenance ladder for this template's maintenance dose.
    NoMaintenanceLadder,
    /// The rules give an action that does not apply in this phase.
    NoRuleForPhase {
        /// The action.
        action: Action,
    },
    /// A change of vial (a new lot, manufacturer, or an old vial) whose rule, or the lack of
    /// one, asks the physician before the dose.
    VialChange {
        /// The template vial.
        vial: String,
        /// What changed.
        #[serde(flatten)]
        change: VialTrigger,
    },
    /// A physician's decision.
    Physician {
        /// Who.
        by: String,
        /// Why.
        reason: Option<String>,
    },
}

/// What changed about the vial in hand, against the doses given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum VialTrigger {
    /// Another lot than the last dose from the same template vial.
    NewLot {
        /// The lot in hand.
        lot: String,
        /// The last dose's lot.
        previous: String,
    },
    /// Another manufacturer than the last dose whose manufacturer is known.
    NewManufacturer {
        /// The manufacturer in hand.
        manufacturer: String,
        /// The last known one.
        previous: String,
    },
    /// A vial prepared longer ago than the rule's limit.
    VialAge {
        /// When it was prepared.
        prepared: NaiveDate,
        /// Its age on the day of the dose, days.
        age_days: i64,
        /// The rule's limit, days.
        limit_days: u32,
    },
}

/// What a hold is: what lifts it follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    /// A physician must review the course (lifted by a review).
    Review,
    /// The course has stopped (lifted by a physician review that records why it may go on).
    Stopped,
    /// The course has ended for good (lifted only by a correction of the record).
    Ended,
}

/// A gate on the course that only a physician review or a correction lifts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// What it is.
    pub kind: HoldKind,
    /// What caused it.
    #[serde(flatten)]
    pub cause: Cause,
    /// When.
    pub since: NaiveDateTime,
    /// The rule that imposed it, if a rule did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Provenance>,
}

/// Why a visit takes no further injection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum VisitClosed {
    /// A systemic reaction at this visit (no injection after a systemic reaction the same day).
    Systemic,
    /// A systemic reaction on another course of the same patient today.
    PatientSystemic {
        /// That course.
        course: i64,
    },
    /// The dose was deferred.
    Deferred {
        /// Why.
        reason: String,
    },
    /// A reaction whose rule gives the adjusted dose at the next visit.
    Reaction,
    /// Every injection of the planned visit has been given.
    PlannedVisitComplete,
    /// A maintenance visit holds one injection.
    MaintenanceGiven,
    /// A dose off the schedule's grid (a percentage reduction, an override volume) is the
    /// visit's only injection.
    OffGrid,
    /// A late-dose rule that makes its adjusted dose the visit's only injection.
    LateDose,
    /// The plan's injections-per-visit cap.
    InjectionCap {
        /// The cap.
        max: u32,
    },
    /// The plan's total dose per visit.
    TotalDoseCap {
        /// The cap.
        max: Dose,
    },
    /// The observation was ended early (the patient left).
    LeftEarly {
        /// Why.
        reason: String,
    },
    /// The next injection would start after closing time.
    ClosingTime,
}

/// Why the next dose must wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "until", rename_all = "snake_case")]
pub enum Wait {
    /// The course's planned first day.
    PlannedStart,
    /// The previous injection's observation and the minimum interval.
    Interval {
        /// The previous injection.
        after: NaiveDateTime,
        /// Its planned observation, minutes.
        observation_min: u32,
        /// The minimum interval before the next, minutes.
        interval_min: u32,
    },
    /// The schedule's interval to the next visit, on a clinic day.
    NextVisit {
        /// The previous visit.
        after: NaiveDate,
        /// Days.
        days: i64,
    },
    /// Another extract was injected less than the minimum before.
    OtherExtract {
        /// That course.
        course: i64,
        /// Its injection.
        at: NaiveDateTime,
        /// The minimum, minutes.
        min: u32,
    },
}

/// One reason the next dose is what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// A dose was given.
    Given {
        /// Plan step, or plan length + maintenance dose number.
        step: usize,
        /// Maintenance dose number, for a maintenance dose.
        maintenance: Option<usize>,
        /// When.
        at: NaiveDateTime,
        /// What.
        dose: Dose,
        /// Given as a physician's override.
        overridden: bool,
    },
    /// The observation ended.
    ObservationEnded {
        /// When.
        at: NaiveDateTime,
        /// Ended before the planned minimum, for this reason.
        early: Option<String>,
    },
    /// A local reaction and its rule.
    Local {
        /// Diameter, mm.
        mm: u32,
        /// Late (6-24 h).
        late: bool,
        /// The band, as written.
        band: String,
        /// What it does.
        action: Action,
        /// It closed the visit: the adjusted dose is for the next visit.
        next_visit: bool,
        /// The rule.
        rule: Provenance,
    },
    /// A systemic reaction and its rule.
    Systemic {
        /// Grade.
        grade: WaoGrade,
        /// First symptom.
        symptom: String,
        /// Onset, minutes after the injection.
        onset_min: u32,
        /// What it does.
        action: Action,
        /// The rule.
        rule: Provenance,
    },
    /// A late reaction and its rule.
    LateReaction {
        /// Its type.
        kind: LateKind,
        /// What it does.
        action: Action,
        /// The rule.
        rule: Provenance,
    },
    /// The dose was deferred.
    Deferred {
        /// On.
        on: NaiveDate,
        /// Why.
        reason: String,
    },
    /// A physician's decision.
    Reviewed {
        /// What.
        decision: Review,
        /// Who.
        by: String,
        /// Why.
        reason: Option<String>,
    },
    /// "Step back N" went below the first dose of the schedule: the first dose.
    LadderFloor {
        /// Steps asked.
        asked: u32,
    },
    /// A late dose and the band that applies.
    Late {
        /// Days.
        days: i64,
        /// What they count from.
        counted_from: CountFrom,
        /// The missed date, when counted from it.
        missed: Option<NaiveDate>,
        /// The band, as written.
        band: String,
        /// What it does.
        action: Action,
        /// The rule.
        rule: Provenance,
    },
    /// The next maintenance visit: volume and interval.
    MaintenanceSchedule {
        /// mL of the maintenance vial.
        volume_ml: Decimal,
        /// Not before this many days after the previous dose.
        after_days: i64,
        /// Why this volume and interval.
        basis: MaintenanceBasis,
        /// The rule.
        rule: Option<Provenance>,
    },
    /// The visit so far, against the plan's caps.
    VisitSoFar {
        /// Injections given at this visit.
        injections: u32,
        /// The cap.
        max_injections: u32,
        /// Total dose so far.
        total: Dose,
        /// The cap.
        max_total: Dose,
    },
    /// The dose comes from the planned visit that continues the last one.
    ContinuesVisit {
        /// The planned visit number.
        visit: u32,
    },
    /// A vial-change rule shaped this dose (or its absence asks the physician).
    VialChange {
        /// The template vial.
        vial: String,
        /// What changed.
        change: VialTrigger,
        /// The rule's action; `None`: the rule set has no rule for it.
        action: Option<crate::policy::vial_change::VialAction>,
        /// For a rebuild: this dose's rung (1-based) of how many.
        #[serde(skip_serializing_if = "Option::is_none")]
        rung: Option<(usize, usize)>,
        /// A physician has reviewed the course since the change.
        reviewed: bool,
        /// The dose it comes to, when the rule gives one.
        #[serde(skip_serializing_if = "Option::is_none")]
        volume_ml: Option<Volume>,
        /// The rule.
        rule: Option<Provenance>,
    },
    /// A percentage reduction of the previous dose, rounded down to the syringe.
    Reduced {
        /// Percent.
        percent: Decimal,
        /// The previous dose.
        from: Dose,
        /// The volume it comes to.
        volume_ml: Volume,
    },
}

impl Reason {
    /// The rule this reason applies, if it applies one (a reaction's, a late dose's, a
    /// maintenance interval's): what "the rule behind a dose" means, asked of the reason, not
    /// of its sentence.
    pub fn rule(&self) -> Option<&Provenance> {
        match self {
            Reason::Local { rule, .. }
            | Reason::Systemic { rule, .. }
            | Reason::LateReaction { rule, .. }
            | Reason::Late { rule, .. } => Some(rule),
            Reason::MaintenanceSchedule { rule, .. } | Reason::VialChange { rule, .. } => {
                rule.as_ref()
            }
            Reason::Given { .. }
            | Reason::ObservationEnded { .. }
            | Reason::Deferred { .. }
            | Reason::Reviewed { .. }
            | Reason::LadderFloor { .. }
            | Reason::VisitSoFar { .. }
            | Reason::ContinuesVisit { .. }
            | Reason::Reduced { .. } => None,
        }
    }
}

/// Why the next maintenance visit gives what it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceBasis {
    /// The template's first maintenance intervals after up-dosing.
    FirstInterval,
    /// The steady interval (nominal ± tolerance: not before nominal − tolerance).
    Steady {
        /// Nominal weeks.
        weeks: u32,
        /// ± weeks.
        tolerance_weeks: u32,
    },
    /// One rung up the maintenance ladder after a reduction.
    StepUp,
    /// The full dose again, on the re-escalation rule's intervals.
    FullAfterReduction,
    /// A reaction or a physician reduced it.
    Reduced,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Certainty, Evidence};

    fn rule() -> Provenance {
        Provenance {
            source: "a guideline".into(),
            evidence: Evidence::Guideline,
            certainty: Certainty::Confirmed,
        }
    }

    #[test]
    fn a_reason_names_its_rule_and_free_text_in_brackets_is_no_rule() {
        let local = Reason::Local {
            mm: 60,
            late: false,
            band: "50-79".into(),
            action: Action::Repeat,
            next_visit: false,
            rule: rule(),
        };
        assert_eq!(local.rule(), Some(&rule()));
        let maintenance = |rule| Reason::MaintenanceSchedule {
            volume_ml: Decimal::ONE,
            after_days: 28,
            basis: MaintenanceBasis::StepUp,
            rule,
        };
        assert_eq!(maintenance(Some(rule())).rule(), Some(&rule()));
        assert_eq!(maintenance(None).rule(), None);
        // A deferral's reason is the nurse's text: brackets in it cite nothing.
        let deferred = Reason::Deferred {
            on: NaiveDate::from_ymd_opt(2026, 12, 7).expect("date"),
            reason: "fever [38.5 C]".into(),
        };
        assert_eq!(deferred.rule(), None);
    }
}
