//! The treatment-course state machine. Pure: a course is its plan plus an append-only list of
//! events; [`replay`] derives the state, [`next`] says what the next dose may be at a given
//! moment, [`check_give`] and [`admissible`] refuse what the record must not take, and
//! [`project`] runs the rest of the course forward. No clock, no disk.
//!
//! The model:
//! - a course is in **up-dosing** (at a position of the plan) or **maintenance** (with its next
//!   visit's volume and interval, and the re-escalation visits after a reduction);
//! - doses belong to **visits**, one clinic day's injections of one course. A visit follows one
//!   planned visit and never runs into the next; it closes after a systemic reaction, a
//!   deferral, a reaction whose rule says so, a maintenance dose, a dose off the grid, the
//!   plan's caps or an early end of observation. What a reaction sets is for the next visit;
//! - "step back N" is N **distinct doses** down the ladder of the phase, never N injections;
//! - **holds** are the gates: a pending physician review, a stop, an end, another course of the
//!   same patient under a hold, an open observation. Only a physician review (with its reason)
//!   or a correction of the record lifts them; an override only picks a lower dose.
//!
//! Fail closed: a reaction the rules send to the physician, a late dose they do not settle, a
//! local reaction that was not measured, and a reduction the maintenance ladder cannot give all
//! stop at "physician review".

mod event;
pub mod followup;
mod history;
mod ladder;
mod next;
pub mod omalizumab;
mod premed;
mod project;
mod reason;
mod record;
pub mod scan;
mod sheet;
mod state;
mod vial;

pub use event::{
    Event, EventKind, LateKind, MAX_ONSET_MIN, MAX_REACTION_MM, MAX_STEP, MAX_STEPS_BACK,
    PremedicationRecord, Review, ReviewAbout, WaoGrade, voided,
};
pub use history::{Administration, administrations};
pub use ladder::Ladder;
pub use next::{
    ActionKind, Decision, Dosing, OtherCourse, PatientView, VisitSoFar, late_band, next,
    visit_start,
};
pub use premed::{
    PremedicationAnswer, PremedicationDue, PremedicationProblem, check_premedication,
    premedication_due,
};
pub use project::{Projected, Projection, Scenario, horizon, project, project_with};
pub use reason::{Cause, Hold, HoldKind, MaintenanceBasis, Reason, VialTrigger, VisitClosed, Wait};
pub use record::{Proposed, Refusal, admissible, check_give};
pub use scan::{ScanRefusal, ScanWhat};
pub use sheet::{SheetRow, sheet_moment, sheet_rows};
pub use state::{
    CourseState, Given, MaintenanceVisit, Observation, ObservationEnd, Phase, VialState,
    VialStatus, Visit, observation_until, replay, required_observation,
};
pub use vial::{
    VialInHand, VialRefusal, next_with_vials, review_about, unscanned_lot_problem, unscanned_vial,
    vial_admissible, vial_for, vial_in_hand,
};

use crate::planner::{ClinicCalendar, Plan};
use crate::policy::course::CourseRules;
use crate::template::Template;

/// What the state machine needs besides the events.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The plan the course started with.
    pub plan: &'a Plan,
    /// The template (vials, timing, maintenance).
    pub template: &'a Template,
    /// The course rules.
    pub rules: &'a CourseRules,
    /// The clinic calendar the course was planned on.
    pub calendar: &'a ClinicCalendar,
}

impl Context<'_> {
    /// The phase of a dose at plan step `step` (1-based; above the plan: maintenance), when the
    /// plan names phases (its template does); `None` otherwise, and for step 0.
    pub fn phase_of(&self, step: usize) -> Option<crate::template::Phase> {
        let steps = &self.plan.steps;
        if step == 0 || steps.iter().all(|s| s.phase.is_none()) {
            return None;
        }
        match steps.get(step - 1) {
            Some(p) => p.phase,
            None => Some(crate::template::Phase::Maintenance),
        }
    }
}

#[cfg(test)]
mod tests;
