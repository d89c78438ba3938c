//! The rest of a course as the state machine would run it: every allowed dose given at its
//! earliest moment and tolerated (its observation ended on time with no local reaction). `course
//! show`, the course protocol and the daily sheet re-project the plan from the state this way,
//! so that a delay or a step back moves every later date.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

use super::Context;
use super::event::{Event, EventKind};
use super::next::{ActionKind, Decision, Dosing, PatientView, next};
use super::state::{CourseState, observation_until};
use super::vial::VialInHand;

/// The end of a projected dose's observation: on time, no local reaction.
const TOLERATED: EventKind = EventKind::ObservationEnded {
    local_mm: Some(0),
    not_assessable: false,
    early_reason: None,
};

/// One projected dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Projected {
    /// When, at the earliest.
    pub at: NaiveDateTime,
    /// What.
    pub dosing: Dosing,
    /// Its observation, minutes.
    pub observation_min: u32,
    /// Why the state machine allowed this dose (the decision's reasons).
    pub reasons: Vec<super::Reason>,
}

/// What-ifs for a projection (`ritplan forecast`): reactions and local sizes at given steps,
/// and dates the patient does not come. The default is every dose tolerated and every visit
/// kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scenario {
    /// A systemic reaction of this grade after the dose of this step (first time it is given).
    pub reactions: Vec<(usize, super::WaoGrade)>,
    /// This local reaction (mm) at the end of the observation of this step's dose.
    pub local: Vec<(usize, u32)>,
    /// Days the patient does not come: no dose is given on them.
    pub miss: Vec<chrono::NaiveDate>,
    /// From this day every vial in hand is of a new lot: the first dose from each vial used
    /// before is decided by the course's vial-change rule.
    pub new_lot: Option<chrono::NaiveDate>,
}

/// The lot a forecast gives the vials of a new lot.
pub const FORECAST_NEW_LOT: &str = "NEW (forecast)";
/// The lot a forecast assumes for doses recorded without one.
pub const FORECAST_CURRENT_LOT: &str = "CURRENT (forecast)";

/// Where a projection stopped, when it did not reach its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    /// The projected doses.
    pub doses: Vec<Projected>,
    /// The decision that stopped it (a review, a stop, an observation never closed), if one did.
    pub stopped_by: Option<Decision>,
    /// The state after the projected doses.
    pub state: CourseState,
}

/// How many doses a projection of the rest of a course shows: the up-dosing steps still to
/// give and the first three maintenance doses (a display horizon, not a clinical rule).
pub fn horizon(state: &CourseState, plan_len: usize) -> usize {
    let given = match &state.phase {
        super::Phase::UpDosing { cursor, .. } => *cursor,
        super::Phase::Maintenance { .. } => plan_len,
    };
    plan_len.saturating_sub(given) + 3
}

/// Runs the course forward from `from`: until `until` (exclusive), or `max` doses.
pub fn project(
    ctx: Context<'_>,
    state: &CourseState,
    patient: &PatientView,
    from: NaiveDateTime,
    until: Option<NaiveDateTime>,
    max: usize,
) -> Projection {
    project_with(ctx, state, patient, from, until, max, &Scenario::default())
}

/// [`project`] under a [`Scenario`]: the state machine decides every dose as it would if those
/// things happened; it stops where the course would wait for a physician.
pub fn project_with(
    ctx: Context<'_>,
    state: &CourseState,
    patient: &PatientView,
    from: NaiveDateTime,
    until: Option<NaiveDateTime>,
    max: usize,
    scenario: &Scenario,
) -> Projection {
    let mut state = state.clone();
    if scenario.new_lot.is_some() {
        // The doses recorded without a lot were of the lot in use until the new one.
        for g in state.given.iter_mut().filter(|g| g.lot.is_none()) {
            g.lot = Some(FORECAST_CURRENT_LOT.into());
        }
    }
    let mut run = Run {
        ctx,
        scenario,
        state,
        seq: u64::MAX / 2,
        reacted: Vec::new(),
        sized: Vec::new(),
    };
    let mut t = from;
    let mut doses = Vec::new();
    let mut stopped_by = None;
    // Each turn gives a dose or moves the clock forward; the bound only guards a rule set
    // that would make no progress.
    for _ in 0..(max * 4 + 16) {
        if doses.len() >= max || until.is_some_and(|u| t >= u) {
            break;
        }
        let plain = next(ctx, &run.state, t, patient, None);
        let hand = scenario
            .new_lot
            .filter(|day| t.date() >= *day)
            .and(plain.dosing.as_ref())
            .map(|d| VialInHand {
                vial: d.vial.clone(),
                lot: FORECAST_NEW_LOT.into(),
                manufacturer: None,
                prepared: None,
            });
        let d = match &hand {
            Some(h) => next(ctx, &run.state, t, patient, Some(h)),
            None => plain,
        };
        match d.action {
            ActionKind::Give | ActionKind::MaintenanceDue if scenario.miss.contains(&t.date()) => {
                // The patient does not come that day: the clinic's next opening.
                t = NaiveDateTime::new(t.date() + Duration::days(1), ctx.calendar.opens);
            }
            ActionKind::Give | ActionKind::MaintenanceDue => {
                let Some(dosing) = d.dosing.clone() else {
                    break;
                };
                let step = dosing.step;
                let lot = match &hand {
                    Some(h) => h.lot.clone(),
                    None => run
                        .state
                        .given
                        .iter()
                        .rev()
                        .find(|g| g.vial == dosing.vial)
                        .and_then(|g| g.lot.clone())
                        .unwrap_or_else(|| FORECAST_CURRENT_LOT.into()),
                };
                let lot = scenario.new_lot.map(|_| lot);
                let (dose, end) = run.give(t, dosing, d.reasons.clone(), lot);
                doses.push(dose);
                t = run.apply_scenario(step, t, end);
            }
            ActionKind::Observe => {
                let end = d.observation_until.unwrap_or(t);
                run.apply(end, TOLERATED);
                t = end.max(t);
            }
            ActionKind::Wait | ActionKind::VisitClosed => match d.not_before {
                Some(nb) if nb > t => t = nb,
                _ => t += Duration::days(1),
            },
            _ => {
                stopped_by = Some(d);
                break;
            }
        }
    }
    Projection {
        doses,
        stopped_by,
        state: run.state,
    }
}

/// A projection under way: the state it has reached and which of the scenario's what-ifs have
/// happened.
struct Run<'a> {
    ctx: Context<'a>,
    scenario: &'a Scenario,
    state: CourseState,
    /// The last projected event's number (far above any recorded one).
    seq: u64,
    /// The steps whose scenario reaction has happened (once each).
    reacted: Vec<usize>,
    /// The steps whose scenario local reaction has been measured (once each).
    sized: Vec<usize>,
}

impl Run<'_> {
    /// Applies a projected event at `at`.
    fn apply(&mut self, at: NaiveDateTime, kind: EventKind) {
        self.seq += 1;
        let event = Event {
            seq: self.seq,
            at,
            by: "projection".into(),
            kind,
        };
        self.state.apply(self.ctx, &event);
    }

    /// Gives `dosing` at `t`: the projected dose, and when its observation ends.
    fn give(
        &mut self,
        t: NaiveDateTime,
        dosing: Dosing,
        reasons: Vec<super::Reason>,
        lot: Option<String>,
    ) -> (Projected, NaiveDateTime) {
        self.apply(
            t,
            EventKind::DoseGiven {
                step: dosing.step,
                vial: dosing.vial.clone(),
                volume_ml: dosing.volume_ml,
                dose: dosing.dose,
                lot,
                site: None,
                pef_percent: None,
                screen_ok: true,
                override_reason: None,
                checked_by: None,
                vial_code: None,
                phase: self.ctx.phase_of(dosing.step),
                premedication: None,
            },
        );
        let end = self
            .state
            .observation
            .as_ref()
            .map_or(t, |o| observation_until(self.ctx, &self.state, o));
        let dose = Projected {
            at: t,
            dosing,
            observation_min: u32::try_from((end - t).num_minutes()).unwrap_or(0),
            reasons,
        };
        (dose, end)
    }

    /// What the scenario says follows the dose of `step` given at `t`, whose observation ends at
    /// `end`: its systemic reaction (the first time the step is given), then the observation's
    /// end with its local reaction, or tolerated. Returns when the observation ended.
    fn apply_scenario(
        &mut self,
        step: usize,
        t: NaiveDateTime,
        end: NaiveDateTime,
    ) -> NaiveDateTime {
        let scenario = self.scenario;
        let reaction = scenario
            .reactions
            .iter()
            .find(|(st, _)| *st == step && !self.reacted.contains(st));
        if let Some((_, grade)) = reaction {
            self.reacted.push(step);
            // Within the observation, so that it is the dose's reaction.
            let onset = ((end - t).num_minutes() / 2).max(1);
            self.apply(
                t + Duration::minutes(onset),
                EventKind::SystemicReaction {
                    grade: *grade,
                    onset_min: u32::try_from(onset).unwrap_or(1),
                    symptom: "forecast".into(),
                    treatment: None,
                },
            );
        }
        let mm = scenario
            .local
            .iter()
            .find(|(st, _)| *st == step && !self.sized.contains(st))
            .map(|(st, mm)| (*st, *mm));
        let end = self.state.observation.as_ref().map_or(end, |o| {
            observation_until(self.ctx, &self.state, o).max(end)
        });
        match mm {
            Some((st, mm)) => {
                self.sized.push(st);
                self.apply(
                    end,
                    EventKind::ObservationEnded {
                        local_mm: Some(mm),
                        not_assessable: false,
                        early_reason: None,
                    },
                );
            }
            None => self.apply(end, TOLERATED),
        }
        end
    }
}
