//! Checks before anything is recorded: [`check_give`] refuses a dose other than the one
//! [`next`](super::next::next) allows, or one whose pre-injection checks fail or are missing;
//! [`admissible`] refuses other events that do not fit the record. An override chooses a
//! *lower* dose than the one allowed; it never lifts a gate: a stop, an end, a pending review,
//! a hold from another course, an open or too-short observation, a closed visit, a wait, a
//! missing or failed PEF or screen all refuse, whatever the override says.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Serialize;

use super::Context;
use super::event::{Event, EventKind, Review};
use super::next::{ActionKind, Decision, Dosing, PatientView, next};
use super::reason::{Hold, VisitClosed, Wait};
use super::state::{CourseState, Phase, observation_until};
use super::vial::VialInHand;
use crate::policy::Provenance;
use crate::units::{Dose, Syringe, Volume};

/// Why something is not recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// The course has ended.
    Ended {
        /// The hold.
        hold: Box<Hold>,
    },
    /// The course has stopped.
    Stopped {
        /// The hold.
        hold: Box<Hold>,
    },
    /// A physician must review first.
    ReviewPending {
        /// The hold.
        hold: Box<Hold>,
    },
    /// Another course of the patient holds this one.
    PatientHold {
        /// That course.
        course: i64,
        /// Its hold.
        hold: Option<Box<Hold>>,
    },
    /// The previous dose's observation is running.
    Observing {
        /// Until.
        until: NaiveDateTime,
    },
    /// An omalizumab injection of the patient's is under observation (its end not recorded).
    OmalizumabObserving {
        /// The omalizumab course.
        course: i64,
        /// Its planned earliest end.
        until: NaiveDateTime,
    },
    /// The previous dose's observation was never recorded as ended.
    ObservationNotClosed {
        /// It could have ended at.
        since: NaiveDateTime,
    },
    /// Too early.
    TooEarly {
        /// Not before.
        not_before: NaiveDateTime,
        /// What for.
        wait: Option<Wait>,
    },
    /// The visit takes no further injection.
    VisitClosed {
        /// Why.
        why: VisitClosed,
        /// The next visit, not before.
        next: Option<NaiveDateTime>,
    },
    /// Not the dose allowed (and no override).
    WrongDose {
        /// The allowed dose.
        allowed: Box<Dosing>,
        /// Step proposed.
        step: usize,
        /// Volume proposed.
        volume_ml: Volume,
    },
    /// Not the dose a vial-change rule allows for the vial in hand (and no override).
    VialChangeDose {
        /// The allowed dose.
        allowed: Box<Dosing>,
        /// Step proposed.
        step: usize,
        /// Volume proposed.
        volume_ml: Volume,
        /// The vial change and its rule.
        reason: Box<super::Reason>,
    },
    /// An override asked for more than the allowed dose.
    OverrideAboveAllowed {
        /// The allowed dose.
        allowed: Box<Dosing>,
        /// What was asked.
        proposed: Box<Dosing>,
    },
    /// Above the maintenance dose.
    AboveMaintenance {
        /// What was asked.
        proposed: Dose,
        /// The maintenance dose.
        maintenance: Dose,
    },
    /// A step the plan does not have (or a maintenance number out of turn).
    UnknownStep {
        /// The step.
        step: usize,
    },
    /// A volume the syringe cannot measure, or above the largest injection.
    BadVolume {
        /// The volume.
        volume_ml: Volume,
        /// The syringe graduation.
        graduation: Volume,
        /// The largest injection.
        max: Volume,
    },
    /// No pre-dose PEF/FEV1.
    NoPef,
    /// PEF/FEV1 below the rules' threshold.
    PefBelow {
        /// Measured, %.
        pef: Decimal,
        /// Threshold, %.
        below: Decimal,
        /// The rule.
        rule: Provenance,
    },
    /// The pre-injection questions were not recorded as asked and answered no.
    ScreenNotOk,
    /// No dose is awaiting the end of its observation.
    NothingToObserve,
    /// The observation cannot end before its planned minimum without a reason.
    ObservationTooShort {
        /// The earliest end.
        until: NaiveDateTime,
    },
    /// Closing an observation needs a local-reaction size or "not assessable".
    NeedsLocalSize,
    /// Both a size and "not assessable" were given.
    SizeAndNotAssessable,
    /// No dose has been given.
    NoDoseGiven,
    /// The correction names no such event.
    NoSuchEvent {
        /// The number.
        seq: u64,
    },
    /// A correction cannot itself be corrected.
    CorrectingACorrection,
    /// The event was already corrected.
    AlreadyCorrected {
        /// The number.
        seq: u64,
    },
    /// A text that must say why is empty.
    NoReason {
        /// What needed it.
        what: &'static str,
    },
    /// The course has ended; a review cannot resume it (only a correction of the record).
    EndedIsFinal,
    /// A physician's step-back that goes below the maintenance ladder.
    BelowMaintenanceLadder {
        /// Steps asked.
        steps: u32,
    },
    /// A required premedication was not asked about, not taken, or taken outside its window:
    /// the dose is not given (deferred), unless a physician accepts for the day.
    Premedication {
        /// The premedication, its window and status.
        due: Box<super::PremedicationDue>,
        /// What is wrong.
        problem: super::PremedicationProblem,
    },
    /// A physician's acceptance of a missing premedication, where none is missing.
    NoPremedicationToAccept,
    /// The record's times go backwards.
    BeforeLastEvent {
        /// The last event's time.
        last: NaiveDateTime,
    },
}

/// A proposed dose, as `give` records it.
#[derive(Clone, Debug)]
pub struct Proposed {
    /// Plan step (plan length + n for the n-th maintenance dose).
    pub step: usize,
    /// Volume.
    pub volume_ml: Volume,
    /// PEF/FEV1 % of best.
    pub pef_percent: Option<Decimal>,
    /// Health questions asked and all answered no.
    pub screen_ok: bool,
    /// A physician's override reason (a lower dose than the one allowed).
    pub override_reason: Option<String>,
    /// Whether, and when, the template's premedication was taken (`None`: not asked).
    pub premedication: Option<super::PremedicationAnswer>,
    /// A physician's reason for giving the dose without its required premedication (or outside
    /// its window) that day.
    pub premedication_accepted: Option<String>,
}

impl Proposed {
    /// What the dose entry records about premedication: the answer and any acceptance, when
    /// either was given.
    pub fn premedication_record(&self) -> Option<super::PremedicationRecord> {
        let accepted = self
            .premedication_accepted
            .clone()
            .filter(|r| !r.trim().is_empty());
        if self.premedication.is_none() && accepted.is_none() {
            return None;
        }
        Some(super::PremedicationRecord {
            taken_at: match self.premedication {
                Some(super::PremedicationAnswer::Taken(t)) => Some(t),
                _ => None,
            },
            accepted,
        })
    }
}

/// The refusal a decision that is not a dose amounts to.
fn refusal(d: &Decision) -> Refusal {
    let hold = || d.hold.clone().map(Box::new);
    match d.action {
        ActionKind::Ended => hold().map_or(Refusal::EndedIsFinal, |hold| Refusal::Ended { hold }),
        ActionKind::Stopped => match hold() {
            Some(hold) => Refusal::Stopped { hold },
            None => Refusal::EndedIsFinal,
        },
        ActionKind::PhysicianReview => match hold() {
            Some(hold) => Refusal::ReviewPending { hold },
            None => Refusal::EndedIsFinal,
        },
        ActionKind::PatientHold => Refusal::PatientHold {
            course: d.held_by.unwrap_or_default(),
            hold: hold(),
        },
        ActionKind::Observe | ActionKind::ObservationNotClosed if d.held_by.is_some() => {
            Refusal::OmalizumabObserving {
                course: d.held_by.unwrap_or_default(),
                until: d.observation_until.unwrap_or(NaiveDateTime::MIN),
            }
        }
        ActionKind::Observe => Refusal::Observing {
            until: d.observation_until.unwrap_or(NaiveDateTime::MIN),
        },
        ActionKind::ObservationNotClosed => Refusal::ObservationNotClosed {
            since: d.observation_until.unwrap_or(NaiveDateTime::MIN),
        },
        ActionKind::VisitClosed => Refusal::VisitClosed {
            why: d
                .visit_closed
                .clone()
                .unwrap_or(VisitClosed::PlannedVisitComplete),
            next: d.not_before,
        },
        ActionKind::Wait | ActionKind::Give | ActionKind::MaintenanceDue => Refusal::TooEarly {
            not_before: d.not_before.unwrap_or(NaiveDateTime::MIN),
            wait: d.wait.clone(),
        },
    }
}

/// The dose a proposal stands for: the step's vial (the maintenance vial above the plan) at
/// the proposed volume.
fn proposed_dosing(ctx: Context<'_>, p: &Proposed) -> Result<Dosing, Refusal> {
    let plan_len = ctx.plan.steps.len();
    let (vial_id, maintenance) = if p.step > plan_len {
        (ctx.plan.maintenance.vial.clone(), Some(p.step - plan_len))
    } else {
        let s = ctx
            .plan
            .steps
            .get(p.step.wrapping_sub(1))
            .ok_or(Refusal::UnknownStep { step: p.step })?;
        (s.vial.clone(), None)
    };
    let vial = ctx
        .template
        .vial(&vial_id)
        .ok_or(Refusal::UnknownStep { step: p.step })?;
    let inj = &ctx.template.injection;
    let bad = || Refusal::BadVolume {
        volume_ml: p.volume_ml,
        graduation: inj.syringe_graduation_ml,
        max: inj.max_volume_ml,
    };
    let syringe = Syringe::new(inj.syringe_graduation_ml).map_err(|_| bad())?;
    if p.volume_ml.ml() <= Decimal::ZERO
        || p.volume_ml > inj.max_volume_ml
        || !syringe.can_measure(p.volume_ml)
    {
        return Err(bad());
    }
    Ok(Dosing {
        step: p.step,
        maintenance,
        vial: vial_id,
        volume_ml: p.volume_ml,
        dose: vial.concentration.dose_in(p.volume_ml).ok_or_else(bad)?,
    })
}

/// Refuses a dose other than the one [`next`] allows at `now`, or one whose pre-injection checks
/// fail or are missing. With an override reason, a physician may give a *lower* dose than the
/// allowed one (recorded with the reason); nothing else changes. `vial`: what is known of the
/// vial in hand; its vial-change rule shapes the allowed dose as in [`next`].
pub fn check_give(
    ctx: Context<'_>,
    state: &CourseState,
    patient: &PatientView,
    now: NaiveDateTime,
    p: &Proposed,
    vial: Option<&VialInHand>,
) -> Result<Dosing, Refusal> {
    let d = next(ctx, state, now, patient, vial);
    if !d.action.gives() {
        return Err(refusal(&d));
    }
    let allowed = d.dosing.clone().ok_or_else(|| refusal(&d))?;
    let proposed = proposed_dosing(ctx, p)?;
    // Nothing above the maintenance dose, ever, whoever asks.
    if proposed.dose.amount() > ctx.plan.maintenance.dose.amount() {
        return Err(Refusal::AboveMaintenance {
            proposed: proposed.dose,
            maintenance: ctx.plan.maintenance.dose,
        });
    }
    if !p.screen_ok {
        return Err(Refusal::ScreenNotOk);
    }
    let rules = ctx.rules;
    match p.pef_percent {
        None => return Err(Refusal::NoPef),
        Some(pef) if pef < rules.pre_injection_pef_below => {
            return Err(Refusal::PefBelow {
                pef,
                below: rules.pre_injection_pef_below,
                rule: rules.pre_injection_pef_provenance.clone(),
            });
        }
        Some(_) => {}
    }
    // A required premedication not taken, not asked, or taken outside its window: not given
    // (fail closed), unless a physician accepts it for the day with a reason.
    let accepted = p
        .premedication_accepted
        .as_ref()
        .is_some_and(|r| !r.trim().is_empty());
    let missing = super::premedication_due(ctx, state, now)
        .into_iter()
        .find_map(|due| {
            super::check_premedication(&due, p.premedication)
                .err()
                .map(|problem| (due, problem))
        });
    match (missing, accepted) {
        (Some((due, problem)), false) => {
            return Err(Refusal::Premedication {
                due: Box::new(due),
                problem,
            });
        }
        // The record must not say a physician accepted a missing premedication that was not.
        (None, true) => return Err(Refusal::NoPremedicationToAccept),
        _ => {}
    }
    if proposed.step == allowed.step && proposed.volume_ml == allowed.volume_ml {
        return Ok(allowed);
    }
    let overridden = p
        .override_reason
        .as_ref()
        .is_some_and(|r| !r.trim().is_empty());
    let vial_change = d.reasons.iter().find(|r| {
        matches!(
            r,
            super::Reason::VialChange {
                volume_ml: Some(_),
                ..
            }
        )
    });
    if !overridden && let Some(r) = vial_change {
        return Err(Refusal::VialChangeDose {
            allowed: Box::new(allowed),
            step: p.step,
            volume_ml: p.volume_ml,
            reason: Box::new(r.clone()),
        });
    }
    if !overridden {
        return Err(Refusal::WrongDose {
            allowed: Box::new(allowed),
            step: p.step,
            volume_ml: p.volume_ml,
        });
    }
    if proposed.dose.amount() > allowed.dose.amount() {
        return Err(Refusal::OverrideAboveAllowed {
            allowed: Box::new(allowed),
            proposed: Box::new(proposed),
        });
    }
    // A maintenance dose keeps its number in the sequence.
    if proposed.maintenance.is_some() && proposed.maintenance != allowed.maintenance {
        return Err(Refusal::UnknownStep { step: p.step });
    }
    Ok(proposed)
}

/// Whether an event other than a dose may be recorded at `at` (a dose goes through
/// [`check_give`]).
pub fn admissible(
    ctx: Context<'_>,
    state: &CourseState,
    events: &[Event],
    at: NaiveDateTime,
    kind: &EventKind,
) -> Result<(), Refusal> {
    let empty = |s: &str| s.trim().is_empty();
    match kind {
        EventKind::DoseGiven { .. } => Ok(()),
        EventKind::ObservationEnded {
            local_mm,
            not_assessable,
            early_reason,
        } => {
            let obs = state
                .observation
                .as_ref()
                .filter(|o| o.ended.is_none())
                .ok_or(Refusal::NothingToObserve)?;
            match (local_mm, not_assessable) {
                (Some(_), true) => return Err(Refusal::SizeAndNotAssessable),
                (None, false) => return Err(Refusal::NeedsLocalSize),
                _ => {}
            }
            let until = observation_until(ctx, state, obs);
            if at < until && early_reason.as_deref().is_none_or(empty) {
                return Err(Refusal::ObservationTooShort { until });
            }
            Ok(())
        }
        EventKind::SystemicReaction { symptom, .. } => {
            if state.given.is_empty() {
                return Err(Refusal::NoDoseGiven);
            }
            if empty(symptom) {
                return Err(Refusal::NoReason {
                    what: "a systemic reaction's first symptom",
                });
            }
            Ok(())
        }
        EventKind::LateLocalReaction { .. } | EventKind::LateReaction { .. }
            if state.given.is_empty() =>
        {
            Err(Refusal::NoDoseGiven)
        }
        EventKind::LateLocalReaction { .. } | EventKind::LateReaction { .. } => Ok(()),
        EventKind::DoseDeferred { reason } if empty(reason) => {
            Err(Refusal::NoReason { what: "a deferral" })
        }
        EventKind::DoseDeferred { .. } => Ok(()),
        EventKind::PhysicianReview {
            decision, reason, ..
        } => {
            if state.ended.is_some() {
                return Err(Refusal::EndedIsFinal);
            }
            if reason.as_deref().is_none_or(empty) {
                return Err(Refusal::NoReason {
                    what: if state.stopped.is_some() && *decision != Review::Stop {
                        "resuming a stopped course (name the correctable cause)"
                    } else {
                        "a physician review"
                    },
                });
            }
            // A step back below the maintenance ladder is not a dose the rules can give.
            if let (Review::StepBack { steps }, Phase::Maintenance { .. }) =
                (decision, &state.phase)
                && let Some(last) = state.given.last()
                && last.maintenance
            {
                let ladder = super::ladder::maintenance_ladder(ctx.rules, ctx.template);
                let rung =
                    ladder.and_then(|l| super::ladder::maintenance_rung(l, last.volume_ml.ml()));
                if rung.is_none_or(|r| (*steps as usize) > r) {
                    return Err(Refusal::BelowMaintenanceLadder { steps: *steps });
                }
            }
            Ok(())
        }
        EventKind::Migrated { .. } => Err(Refusal::NoReason {
            what: "a migration (recorded only by the record's upgrade)",
        }),
        // Recorded only on an omalizumab course, by the ward's own door (`give_omalizumab`).
        EventKind::OmalizumabGiven { .. } => Err(Refusal::NoReason {
            what: "an omalizumab injection on an allergen course",
        }),
        // An omalizumab course's: its dose is the one that depends on the weight.
        EventKind::WeightMeasured { .. } => Err(Refusal::NoReason {
            what: "a weight on an allergen course (it is recorded on the omalizumab course)",
        }),
        EventKind::Note { text } if empty(text) => Err(Refusal::NoReason { what: "a note" }),
        EventKind::Note { .. } => Ok(()),
        // Like a note: on any course, whatever its holds or status (a follow-up comes after
        // the course); it never changes the dosing state. Its values are checked by the ward
        // (`text::event`, and the date against today and the patient's birth).
        EventKind::FollowUp { acq, .. } => match acq {
            Some(a) if a.check().is_err() => Err(Refusal::NoReason {
                what: "a follow-up with an incomplete or out-of-range ACQ",
            }),
            _ => Ok(()),
        },
        // Whether the course takes a vial event: `vial_admissible` (its own refusals); a new
        // vial's own values are the ward's, before it allocates the code.
        EventKind::VialAdded { .. } | EventKind::VialDiscarded { .. } => {
            match super::vial::vial_admissible(state, kind) {
                Err(super::vial::VialRefusal::Course(r)) => Err(r),
                Err(_) => Err(Refusal::NoReason {
                    what: "discarding a vial that is not the course's or is discarded already",
                }),
                Ok(()) => Ok(()),
            }
        }
        EventKind::Correction { corrects, reason } => {
            let target = events
                .iter()
                .find(|e| e.seq == *corrects)
                .ok_or(Refusal::NoSuchEvent { seq: *corrects })?;
            if matches!(target.kind, EventKind::Correction { .. }) {
                return Err(Refusal::CorrectingACorrection);
            }
            if super::event::voided(events).contains(corrects) {
                return Err(Refusal::AlreadyCorrected { seq: *corrects });
            }
            if empty(reason) {
                return Err(Refusal::NoReason {
                    what: "a correction",
                });
            }
            Ok(())
        }
    }
}
