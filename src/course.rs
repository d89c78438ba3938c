//! The treatment-course state machine. Pure: a course is its plan plus an append-only list of
//! events; [`replay`] derives the state, [`next`] says what the next dose may be at a given time,
//! and [`check_give`] refuses a dose other than the one allowed. No clock, no disk.
//!
//! Fail closed: a reaction no band covers, a systemic reaction of WAO grade 2 or more, or a late
//! dose the rules do not settle all stop at "physician review".

use std::fmt;
use std::str::FromStr;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::planner::Plan;
use crate::policy::course::{Action, CourseRules};
use crate::template::Template;
use crate::units::{Concentration, Dose, Syringe, Volume};

/// A WAO systemic-reaction grade (1-5) with its epinephrine suffix (a, b, c, d, z).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaoGrade {
    /// 1 to 5.
    pub grade: u8,
    /// a ≤5 min, b >5-≤10, c >10-≤20, d >20 min, z: epinephrine not given.
    pub suffix: char,
}

impl FromStr for WaoGrade {
    type Err = String;
    /// `2a`, `1z`, `3c`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let mut chars = s.chars();
        let (Some(g), Some(x), None) = (chars.next(), chars.next(), chars.next()) else {
            return Err(format!(
                "{s:?} is not a WAO grade: write the grade and the epinephrine suffix, e.g. 2a or 1z"
            ));
        };
        let grade = g
            .to_digit(10)
            .filter(|d| (1..=5).contains(d))
            .ok_or_else(|| format!("{s:?}: the WAO grade must be 1 to 5"))?;
        let suffix = x.to_ascii_lowercase();
        if !"abcdz".contains(suffix) {
            return Err(format!(
                "{s:?}: the epinephrine suffix must be a, b, c, d or z"
            ));
        }
        Ok(WaoGrade {
            grade: grade as u8,
            suffix,
        })
    }
}

impl fmt::Display for WaoGrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.grade, self.suffix)
    }
}

impl Serialize for WaoGrade {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for WaoGrade {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A physician's decision. (Externally tagged in JSON: stored events must round-trip, and
/// serde_json's exact numbers do not survive internally tagged enums.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Go on as the rules say after the event that asked for the review.
    Continue,
    /// The last dose again.
    Repeat,
    /// `steps` plan steps below the last dose.
    StepBack {
        /// How many.
        steps: u32,
    },
    /// From the first step.
    Restart,
    /// End the course.
    Stop,
}

impl FromStr for Review {
    type Err = String;
    /// `continue`, `repeat`, `step-back:N`, `restart`, `stop`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "continue" => Ok(Review::Continue),
            "repeat" => Ok(Review::Repeat),
            "restart" => Ok(Review::Restart),
            "stop" => Ok(Review::Stop),
            other => other
                .strip_prefix("step-back:")
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .map(|steps| Review::StepBack { steps })
                .ok_or_else(|| format!("{other:?} is not a decision: continue, repeat, step-back:N, restart or stop")),
        }
    }
}

/// What happened. Stored as JSON, externally tagged (`{"dose_given": {...}}`) so that it
/// round-trips exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A dose was given.
    DoseGiven {
        /// The plan step (1-based); above the plan's last step: a maintenance dose.
        step: usize,
        /// Vial id.
        vial: String,
        /// Volume.
        volume_ml: Volume,
        /// Dose.
        #[serde(with = "crate::units::dose_with_unit")]
        dose: Dose,
        /// Lot number.
        lot: Option<String>,
        /// Arm.
        site: Option<String>,
        /// Pre-dose PEF or FEV1, % of the patient's best.
        #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
        pef_percent: Option<Decimal>,
        /// The pre-injection health questions were asked and all answered no.
        screen_ok: bool,
        /// A physician's reason for giving a dose other than the one allowed.
        override_reason: Option<String>,
    },
    /// The observation after a dose ended.
    ObservationEnded {
        /// Immediate local reaction, mm.
        local_mm: Option<u32>,
    },
    /// A systemic reaction.
    SystemicReaction {
        /// WAO grade with suffix.
        grade: WaoGrade,
        /// Minutes from injection to onset.
        onset_min: u32,
        /// First symptom.
        symptom: String,
        /// Treatment given.
        treatment: Option<String>,
    },
    /// A late local reaction (6-24 h).
    LateLocalReaction {
        /// Diameter, mm.
        mm: u32,
    },
    /// Today's dose is deferred.
    DoseDeferred {
        /// Why.
        reason: String,
    },
    /// A physician reviewed the course.
    PhysicianReview {
        /// The decision.
        decision: Review,
        /// Why.
        reason: Option<String>,
    },
    /// An earlier event was wrong; it no longer counts.
    Correction {
        /// The sequence number of the event corrected.
        corrects: u64,
        /// Why.
        reason: String,
    },
    /// Free text.
    Note {
        /// Text.
        text: String,
    },
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Its number in the course, from 1.
    pub seq: u64,
    /// When it happened.
    pub at: NaiveDateTime,
    /// Who recorded it.
    pub by: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What the state machine needs besides the events.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The plan the course started with.
    pub plan: &'a Plan,
    /// The template (for vials).
    pub template: &'a Template,
    /// The course rules.
    pub rules: &'a CourseRules,
}

/// The next dose, as the rules have shaped it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dosing {
    /// The plan step it stands for (1-based; above the plan: maintenance).
    pub step: usize,
    /// Vial id.
    pub vial: String,
    /// Volume.
    pub volume_ml: Volume,
    /// Dose.
    pub dose: Dose,
}

/// A dose given, as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Given {
    /// Event number.
    pub seq: u64,
    /// Plan step.
    pub step: usize,
    /// When.
    pub at: NaiveDateTime,
    /// Dose.
    pub dose: Dose,
}

/// The state a course's events lead to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseState {
    /// Doses given, in order (corrected ones left out).
    pub given: Vec<Given>,
    /// The plan step (0-based index) the next up-dosing dose comes from, before late-dose rules.
    pub next_index: usize,
    /// A dose the rules set outside the plan's grid (a percentage reduction, a maintenance volume).
    pub next_custom: Option<Dosing>,
    /// The last dose's observation has not been recorded as ended.
    pub awaiting_observation: Option<(usize, NaiveDateTime)>,
    /// When the last observation ended.
    pub observation_ended_at: Option<NaiveDateTime>,
    /// No further injection on this date.
    pub day_closed: Option<NaiveDate>,
    /// Why a physician must review before any further dose.
    pub review: Option<String>,
    /// Plan steps back that a `continue` review applies.
    pub continue_steps: u32,
    /// Why the course stopped.
    pub stopped: Option<String>,
    /// Why the next dose is what it is, rule by rule.
    pub reasons: Vec<String>,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Give the dose now.
    Give,
    /// Wait until `not_before`.
    Wait,
    /// The last dose's observation is under way.
    Observe,
    /// A physician must review the course first.
    PhysicianReview,
    /// No further injection today.
    DayEnded,
    /// The course has stopped.
    Stopped,
    /// A maintenance dose is due.
    MaintenanceDue,
}

/// The answer of [`next`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// What to do.
    pub action: ActionKind,
    /// The dose, when there is one to give or wait for.
    #[serde(flatten)]
    pub dosing: Option<Dosing>,
    /// Not before this time.
    pub not_before: Option<NaiveDateTime>,
    /// Why, citing the rules.
    pub reasons: Vec<String>,
}

/// Derives a course's state from its events, in order. Corrected events do not count.
pub fn replay(ctx: Context<'_>, events: &[Event]) -> CourseState {
    let voided = voided(events);
    let mut s = CourseState {
        given: Vec::new(),
        next_index: 0,
        next_custom: None,
        awaiting_observation: None,
        observation_ended_at: None,
        day_closed: None,
        review: None,
        continue_steps: 0,
        stopped: None,
        reasons: Vec::new(),
    };
    let plan_len = ctx.plan.steps.len();
    for e in events.iter().filter(|e| !voided.contains(&e.seq)) {
        let last = s
            .given
            .last()
            .map(|g| g.step.min(plan_len).saturating_sub(1));
        match &e.kind {
            EventKind::DoseGiven { step, dose, .. } => {
                s.given.push(Given {
                    seq: e.seq,
                    step: *step,
                    at: e.at,
                    dose: *dose,
                });
                s.next_index = (*step).min(plan_len);
                s.next_custom = None;
                s.awaiting_observation = Some((*step, e.at));
                s.reasons.clear();
                s.reasons.push(format!(
                    "Step {step} given at {}.",
                    e.at.format("%Y-%m-%d %H:%M")
                ));
            }
            EventKind::ObservationEnded { local_mm } => {
                s.awaiting_observation = None;
                s.observation_ended_at = Some(e.at);
                if let (Some(mm), Some(last)) = (local_mm, last) {
                    match ctx.rules.local(*mm) {
                        Some(band) => {
                            apply(&mut s, &band.action, last, ctx);
                            s.reasons.push(format!(
                                "Local reaction {mm} mm: {} [{} {}] {}",
                                describe(&band.action),
                                band.provenance.evidence,
                                band.provenance.certainty,
                                band.provenance.source
                            ));
                        }
                        None => {
                            s.review = Some(format!("no rule covers a local reaction of {mm} mm"));
                        }
                    }
                }
            }
            EventKind::LateLocalReaction { mm } => {
                if let Some(last) = last {
                    let before = s.next_index;
                    match ctx.rules.local(*mm) {
                        Some(band) => {
                            apply(&mut s, &band.action, last, ctx);
                            // A late reaction never raises the next dose.
                            s.next_index = s.next_index.min(before);
                            s.reasons.push(format!(
                                "Late local reaction {mm} mm: {} [{}]",
                                describe(&band.action),
                                band.provenance.source
                            ));
                        }
                        None => {
                            s.review =
                                Some(format!("no rule covers a late local reaction of {mm} mm"))
                        }
                    }
                }
            }
            EventKind::SystemicReaction {
                grade,
                symptom,
                onset_min,
                ..
            } => {
                let Some(rule) = ctx.rules.systemic(grade.grade) else {
                    s.review = Some(format!("no rule covers WAO grade {}", grade.grade));
                    continue;
                };
                if rule.end_day {
                    s.day_closed = Some(e.at.date());
                }
                let last = last.unwrap_or(0);
                s.continue_steps = rule.steps;
                match &rule.action {
                    Action::Stop => {
                        s.stopped = Some(format!(
                            "systemic reaction WAO grade {grade} ({symptom}, {onset_min} min): the course stops unless a physician review records a reason"
                        ));
                        s.next_index = last.saturating_sub(rule.steps as usize);
                    }
                    Action::Review => {
                        s.review = Some(format!(
                            "systemic reaction WAO grade {grade} ({symptom}, {onset_min} min)"
                        ));
                        s.next_index = last.saturating_sub(rule.steps as usize);
                    }
                    other => {
                        apply(&mut s, other, last, ctx);
                    }
                }
                s.reasons.push(format!(
                    "Systemic reaction WAO grade {grade}: {}{} [{} {}] {}",
                    describe(&rule.action),
                    if rule.end_day {
                        "; no further injection that day"
                    } else {
                        ""
                    },
                    rule.provenance.evidence,
                    rule.provenance.certainty,
                    rule.provenance.source
                ));
            }
            EventKind::DoseDeferred { reason } => {
                s.day_closed = Some(e.at.date());
                s.reasons
                    .push(format!("Dose deferred on {}: {reason}.", e.at.date()));
            }
            EventKind::PhysicianReview { decision, reason } => {
                let last = last.unwrap_or(0);
                let by = format!(
                    "physician review by {}{}",
                    e.by,
                    reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
                match decision {
                    Review::Stop => s.stopped = Some(by.clone()),
                    // Resuming a stopped course needs a reason in words.
                    _ if s.stopped.is_some()
                        && reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {}
                    Review::Continue => {
                        s.review = None;
                        s.stopped = None;
                    }
                    Review::Repeat => {
                        s.review = None;
                        s.stopped = None;
                        s.next_index = last;
                        s.next_custom = None;
                    }
                    Review::StepBack { steps } => {
                        s.review = None;
                        s.stopped = None;
                        s.next_index = last.saturating_sub(*steps as usize);
                        s.next_custom = None;
                    }
                    Review::Restart => {
                        s.review = None;
                        s.stopped = None;
                        s.next_index = 0;
                        s.next_custom = None;
                    }
                }
                s.reasons.push(format!("{decision:?} ({by})."));
            }
            EventKind::Correction { .. } | EventKind::Note { .. } => {}
        }
    }
    s
}

/// The sequence numbers of the events a correction has voided.
fn voided(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Correction { corrects, .. } => Some(corrects),
            _ => None,
        })
        .collect()
}

/// One administration of a dose and what was recorded of it before the next dose (corrected
/// events left out): what `course show` and the course protocol print, step by step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Administration {
    /// The dose event's number.
    pub seq: u64,
    /// Plan step.
    pub step: usize,
    /// When it was given.
    pub at: NaiveDateTime,
    /// Who recorded it.
    pub by: String,
    /// Arm.
    pub site: Option<String>,
    /// Lot.
    pub lot: Option<String>,
    /// Pre-dose PEF/FEV1, %.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub pef_percent: Option<Decimal>,
    /// Immediate local reaction, mm.
    pub local_mm: Option<u32>,
    /// Late local reaction, mm.
    pub late_local_mm: Option<u32>,
    /// Systemic reaction.
    pub systemic: Option<WaoGrade>,
}

/// Every administration, in order.
pub fn administrations(events: &[Event]) -> Vec<Administration> {
    let voided = voided(events);
    let live: Vec<&Event> = events.iter().filter(|e| !voided.contains(&e.seq)).collect();
    let mut out: Vec<Administration> = Vec::new();
    for e in live {
        match &e.kind {
            EventKind::DoseGiven {
                step,
                site,
                lot,
                pef_percent,
                ..
            } => out.push(Administration {
                seq: e.seq,
                step: *step,
                at: e.at,
                by: e.by.clone(),
                site: site.clone(),
                lot: lot.clone(),
                pef_percent: *pef_percent,
                local_mm: None,
                late_local_mm: None,
                systemic: None,
            }),
            EventKind::ObservationEnded { local_mm } => {
                if let Some(a) = out.last_mut() {
                    a.local_mm = local_mm.or(a.local_mm);
                }
            }
            EventKind::LateLocalReaction { mm } => {
                if let Some(a) = out.last_mut() {
                    a.late_local_mm = Some(*mm);
                }
            }
            EventKind::SystemicReaction { grade, .. } => {
                if let Some(a) = out.last_mut() {
                    a.systemic = Some(*grade);
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether an event other than a dose may be recorded now (a dose goes through [`check_give`]):
/// an observation needs a dose awaiting it, a reaction needs a dose given, a correction must
/// point at an existing event that is not itself a correction and say why.
pub fn admissible(state: &CourseState, events: &[Event], kind: &EventKind) -> Result<(), String> {
    match kind {
        EventKind::ObservationEnded { .. } if state.awaiting_observation.is_none() => {
            Err("no dose is awaiting the end of its observation".into())
        }
        EventKind::SystemicReaction { .. } | EventKind::LateLocalReaction { .. }
            if state.given.is_empty() =>
        {
            Err("no dose has been given in this course".into())
        }
        EventKind::Correction { corrects, reason } => {
            let target = events
                .iter()
                .find(|e| e.seq == *corrects)
                .ok_or(format!("there is no event #{corrects}"))?;
            if matches!(target.kind, EventKind::Correction { .. }) {
                return Err(
                    "a correction cannot itself be corrected; record the right event instead"
                        .into(),
                );
            }
            if reason.trim().is_empty() {
                return Err("a correction must say why".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Applies a band's action to the next dose; `last` is the 0-based plan index of the last dose.
fn apply(s: &mut CourseState, action: &Action, last: usize, ctx: Context<'_>) {
    match action {
        Action::Proceed => {}
        Action::Repeat => s.next_index = s.next_index.min(last),
        Action::StepBack { steps } => {
            s.next_index = s.next_index.min(last.saturating_sub(*steps as usize))
        }
        Action::Restart => s.next_index = 0,
        Action::Review => s.review = Some("a reaction the rules send to the physician".into()),
        Action::Stop => s.stopped = Some("the rules stop the course".into()),
        Action::Reduce { percent } => s.next_custom = reduced(ctx, last, *percent),
        Action::Volume { .. } => {}
    }
}

/// The last dose reduced by `percent` on its own vial, rounded down to the syringe.
fn reduced(ctx: Context<'_>, last: usize, percent: Decimal) -> Option<Dosing> {
    let step = ctx.plan.steps.get(last)?;
    let target = Dose::new(
        step.dose.amount() * (Decimal::ONE_HUNDRED - percent) / Decimal::ONE_HUNDRED,
        step.dose.unit(),
    );
    let syringe = Syringe::new(ctx.template.injection.syringe_graduation_ml).ok()?;
    let volume = step.concentration.volume_for(target, syringe)?;
    Some(Dosing {
        step: step.index,
        vial: step.vial.clone(),
        volume_ml: volume,
        dose: step.concentration.dose_in(volume)?,
    })
}

fn describe(a: &Action) -> String {
    match a {
        Action::Proceed => "proceed per schedule".into(),
        Action::Repeat => "repeat the last dose".into(),
        Action::StepBack { steps } => format!(
            "step back {steps} dose step{}",
            if *steps == 1 { "" } else { "s" }
        ),
        Action::Reduce { percent } => format!("reduce the last dose by {} %", percent.normalize()),
        Action::Volume { volume_ml } => format!(
            "give {} of the maintenance vial",
            Volume::from_ml(*volume_ml)
        ),
        Action::Restart => "restart from the first step".into(),
        Action::Review => "physician review required".into(),
        Action::Stop => "stop the course".into(),
    }
}

fn plan_dosing(ctx: Context<'_>, index: usize) -> Option<Dosing> {
    ctx.plan.steps.get(index).map(|p| Dosing {
        step: p.index,
        vial: p.vial.clone(),
        volume_ml: p.volume_ml,
        dose: p.dose,
    })
}

fn maintenance_dosing(ctx: Context<'_>, number: usize, volume: Option<Decimal>) -> Option<Dosing> {
    let m = &ctx.plan.maintenance;
    let vial = ctx.template.vial(&m.vial)?;
    let conc: Concentration = vial.concentration;
    let volume = volume.map(Volume::from_ml).unwrap_or(m.volume_ml);
    Some(Dosing {
        step: ctx.plan.steps.len() + number,
        vial: m.vial.clone(),
        volume_ml: volume,
        dose: conc.dose_in(volume)?,
    })
}

/// What the next dose may be at `now`.
pub fn next(ctx: Context<'_>, state: &CourseState, now: NaiveDateTime) -> Decision {
    let mut reasons = state.reasons.clone();
    let decision = |action, dosing, not_before, reasons| Decision {
        action,
        dosing,
        not_before,
        reasons,
    };
    if let Some(why) = &state.stopped {
        return decision(
            ActionKind::Stopped,
            None,
            None,
            vec![format!("Stopped: {why}.")],
        );
    }
    if let Some(why) = &state.review {
        reasons.push(format!(
            "A physician must review the course before any further dose: {why}."
        ));
        return decision(ActionKind::PhysicianReview, None, None, reasons);
    }
    if let Some((step, at)) = state.awaiting_observation {
        let obs = ctx
            .plan
            .steps
            .get(step.saturating_sub(1))
            .map_or(ctx.template.timing.observation_min, |s| s.observation_min);
        reasons.push(format!("Observation after step {step} until at least {} ({obs} min); record its end with the local reaction.", (at + Duration::minutes(i64::from(obs))).format("%H:%M")));
        return decision(
            ActionKind::Observe,
            None,
            Some(at + Duration::minutes(i64::from(obs))),
            reasons,
        );
    }
    let plan_len = ctx.plan.steps.len();
    let last = state.given.last();
    let maintenance_given = state.given.iter().filter(|g| g.step > plan_len).count();
    let in_maintenance = state.next_index >= plan_len && state.next_custom.is_none();

    // Late doses: days since the previous dose decide against the rules' bands.
    let mut dosing = match &state.next_custom {
        Some(d) => Some(d.clone()),
        None if in_maintenance => maintenance_dosing(ctx, maintenance_given + 1, None),
        None => plan_dosing(ctx, state.next_index),
    };
    if let Some(last) = last {
        let days = (now.date() - last.at.date()).num_days();
        match ctx.rules.late(in_maintenance, days) {
            None => {
                reasons.push(format!("No rule covers a gap of {days} days."));
                return decision(ActionKind::PhysicianReview, None, None, reasons);
            }
            Some(band) => {
                let last_index = last.step.min(plan_len).saturating_sub(1);
                let cite = format!(
                    "[{} {}] {}",
                    band.provenance.evidence, band.provenance.certainty, band.provenance.source
                );
                match &band.action {
                    Action::Proceed => {}
                    Action::Review => {
                        reasons.push(format!(
                            "{days} days since the last dose: physician review required {cite}"
                        ));
                        return decision(ActionKind::PhysicianReview, None, None, reasons);
                    }
                    Action::Stop => {
                        return decision(
                            ActionKind::Stopped,
                            None,
                            None,
                            vec![format!(
                                "{days} days since the last dose: the rules stop the course {cite}"
                            )],
                        );
                    }
                    Action::Volume { volume_ml } => {
                        dosing = maintenance_dosing(ctx, maintenance_given + 1, Some(*volume_ml));
                        reasons.push(format!(
                            "{days} days since the last dose: {} {cite}",
                            describe(&band.action)
                        ));
                    }
                    Action::Reduce { percent } => {
                        dosing = reduced(ctx, last_index, *percent);
                        reasons.push(format!(
                            "{days} days since the last dose: {} {cite}",
                            describe(&band.action)
                        ));
                    }
                    other => {
                        let index = match other {
                            Action::Repeat => last_index,
                            Action::StepBack { steps } => {
                                last_index.saturating_sub(*steps as usize)
                            }
                            _ => 0,
                        };
                        let index = index.min(state.next_index);
                        dosing = plan_dosing(ctx, index);
                        reasons.push(format!(
                            "{days} days since the last dose: {} {cite}",
                            describe(other)
                        ));
                    }
                }
            }
        }
    }
    let Some(dosing) = dosing else {
        return decision(ActionKind::PhysicianReview, None, None, {
            reasons.push("The rules give no dose the plan can make; ask the physician.".into());
            reasons
        });
    };

    // Not before: the day closed, the planned gap between days, the interval, the observation.
    let mut not_before: Option<NaiveDateTime> = None;
    let mut later = |t: NaiveDateTime| not_before = Some(not_before.map_or(t, |n| n.max(t)));
    if let Some(closed) = state.day_closed
        && now.date() <= closed
    {
        let next_day = (closed + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or(now);
        reasons.push(format!("No further injection on {closed}."));
        return Decision {
            action: ActionKind::DayEnded,
            dosing: Some(dosing),
            not_before: Some(next_day),
            reasons,
        };
    }
    if last.is_none()
        && let Some(first) = ctx.plan.steps.first()
    {
        // The course starts on its planned date (the day gates, the clock time does not).
        later(first.date.and_hms_opt(0, 0, 0).unwrap_or(now));
    }
    if let Some(last) = last {
        let last_plan = ctx
            .plan
            .steps
            .get(last.step.min(plan_len).saturating_sub(1));
        let gap_days = if dosing.step > plan_len {
            let m = &ctx.template.maintenance;
            let weeks = m
                .first_intervals_weeks
                .get(maintenance_given)
                .copied()
                .unwrap_or(m.interval_weeks);
            i64::from(weeks) * 7
        } else {
            match (last_plan, ctx.plan.steps.get(dosing.step - 1)) {
                (Some(a), Some(b)) => (b.date - a.date).num_days().max(0),
                _ => 0,
            }
        };
        if gap_days > 0 {
            later(
                (last.at.date() + Duration::days(gap_days))
                    .and_hms_opt(0, 0, 0)
                    .unwrap_or(last.at),
            );
        } else {
            let interval = ctx
                .plan
                .steps
                .get(dosing.step - 1)
                .and_then(|s| s.min_interval_min)
                .unwrap_or(ctx.template.timing.min_interval_min);
            later(last.at + Duration::minutes(i64::from(interval)));
            if let Some(obs) = state.observation_ended_at {
                later(obs);
            }
        }
    }
    let action = if dosing.step > plan_len {
        ActionKind::MaintenanceDue
    } else {
        ActionKind::Give
    };
    match not_before {
        Some(t) if now < t => Decision {
            action: ActionKind::Wait,
            dosing: Some(dosing),
            not_before: Some(t),
            reasons,
        },
        _ => Decision {
            action,
            dosing: Some(dosing),
            not_before,
            reasons,
        },
    }
}

/// A proposed dose, as `give` records it.
#[derive(Clone, Debug)]
pub struct Proposed {
    /// Plan step.
    pub step: usize,
    /// Volume.
    pub volume_ml: Volume,
    /// PEF/FEV1 % of best.
    pub pef_percent: Option<Decimal>,
    /// Health questions asked and all answered no.
    pub screen_ok: bool,
    /// A physician's override reason.
    pub override_reason: Option<String>,
}

/// Refuses a dose other than the one [`next`] allows at `now`, or one whose pre-injection checks
/// fail or are missing. An override (a physician's reason) lifts the refusal, and is recorded.
pub fn check_give(
    ctx: Context<'_>,
    state: &CourseState,
    now: NaiveDateTime,
    p: &Proposed,
) -> Result<Dosing, String> {
    let d = next(ctx, state, now);
    let allowed = match (&d.action, &d.dosing) {
        (ActionKind::Give | ActionKind::MaintenanceDue, Some(dosing)) => Ok(dosing.clone()),
        (ActionKind::Wait, Some(_)) => Err(format!(
            "too early: the dose is due at {}",
            d.not_before
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        )),
        (ActionKind::Observe, _) => {
            Err("the last dose's observation has not been recorded as ended".into())
        }
        (ActionKind::PhysicianReview, _) => Err("the course awaits a physician review".into()),
        (ActionKind::DayEnded, _) => Err("no further injection today".into()),
        (ActionKind::Stopped, _) => Err("the course has stopped".into()),
        _ => Err("no dose is allowed now".into()),
    };
    let overridden = p
        .override_reason
        .as_ref()
        .is_some_and(|r| !r.trim().is_empty());
    // No override lifts the ceiling: nothing above the maintenance dose, ever.
    if let Some(proposed) = proposed_dosing(ctx, p)
        && proposed.dose.amount() > ctx.plan.maintenance.dose.amount()
    {
        return Err(format!(
            "{} is above the maintenance dose {}",
            proposed.dose, ctx.plan.maintenance.dose
        ));
    }
    if !p.screen_ok && !overridden {
        return Err("the pre-injection health questions were not recorded as asked and answered no (--screen ok); any other answer goes through `defer`".into());
    }
    match p.pef_percent {
        None if !overridden => return Err(
            "no pre-dose PEF/FEV1 was recorded; a check that cannot be answered blocks the dose"
                .into(),
        ),
        Some(pef) if pef < ctx.rules.pre_injection_pef_below && !overridden => {
            return Err(format!(
                "PEF/FEV1 {} % of best is below {} %: defer the dose [{}]",
                pef.normalize(),
                ctx.rules.pre_injection_pef_below.normalize(),
                ctx.rules.pre_injection_pef_provenance.source
            ));
        }
        _ => {}
    }
    match allowed {
        Ok(dosing) if dosing.step == p.step && dosing.volume_ml == p.volume_ml => Ok(dosing),
        Ok(dosing) if overridden => Ok(proposed_dosing(ctx, p).unwrap_or(dosing)),
        Ok(dosing) => Err(format!(
            "the allowed dose is step {} ({} = {}), not step {} with {}",
            dosing.step, dosing.volume_ml, dosing.dose, p.step, p.volume_ml
        )),
        Err(_) if overridden => {
            proposed_dosing(ctx, p).ok_or_else(|| format!("step {} is not in the plan", p.step))
        }
        Err(e) => Err(e),
    }
}

fn proposed_dosing(ctx: Context<'_>, p: &Proposed) -> Option<Dosing> {
    let plan_len = ctx.plan.steps.len();
    let vial = if p.step > plan_len {
        ctx.template.vial(&ctx.plan.maintenance.vial)?
    } else {
        ctx.template
            .vial(&ctx.plan.steps.get(p.step.checked_sub(1)?)?.vial)?
    };
    Some(Dosing {
        step: p.step,
        vial: vial.id.clone(),
        volume_ml: p.volume_ml,
        dose: vial.concentration.dose_in(p.volume_ml)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::{Request, plan};
    use crate::risk::assess;
    use proptest::prelude::*;

    use crate::testkit::{Bundled as World, at, bundled as world, patient, weekdays};

    /// A low-risk adult (34 years, sIgE 2, total IgE 410) from Monday 2026-12-07 08:00.
    fn make_plan(w: &World, template: &str) -> Plan {
        let a = assess(&patient(34, "2", "410", None), &w.policy.risk);
        plan(&Request {
            template: w.catalog.get(template).expect("template"),
            catalog: &w.catalog,
            assessment: &a,
            rules: &w.policy.risk,
            start: at("2026-12-07 08:00"),
            calendar: &weekdays(),
            accept_risk: None,
        })
        .expect("no error")
        .expect("a plan")
    }

    /// The bundled rules, a plan of `template` for a low-risk adult, and its template's id.
    struct Fixture {
        w: World,
        plan: Plan,
        template: &'static str,
    }

    impl Fixture {
        fn new(template: &'static str) -> Fixture {
            let w = world();
            let plan = make_plan(&w, template);
            Fixture { w, plan, template }
        }

        fn course(&self, rule_set: &str) -> Course<'_> {
            let t = self.w.catalog.get(self.template).expect("template");
            Course::new(&self.plan, t, rules(&self.w, rule_set))
        }
    }

    struct Course<'a> {
        ctx: Context<'a>,
        events: Vec<Event>,
    }

    impl<'a> Course<'a> {
        fn new(plan: &'a Plan, template: &'a Template, rules: &'a CourseRules) -> Self {
            Course {
                ctx: Context {
                    plan,
                    template,
                    rules,
                },
                events: Vec::new(),
            }
        }
        fn push(&mut self, when: &str, kind: EventKind) -> u64 {
            let seq = self.events.len() as u64 + 1;
            self.events.push(Event {
                seq,
                at: at(when),
                by: "nurse A".into(),
                kind,
            });
            seq
        }
        fn state(&self) -> CourseState {
            replay(self.ctx, &self.events)
        }
        fn next(&self, when: &str) -> Decision {
            next(self.ctx, &self.state(), at(when))
        }
        /// Gives whatever `next` allows at `when` (asserting it is a dose) and ends its
        /// observation `obs` minutes later with `mm` of local reaction.
        fn give_allowed(&mut self, when: &str) -> Dosing {
            let d = self.next(when);
            assert!(
                matches!(d.action, ActionKind::Give | ActionKind::MaintenanceDue),
                "{when}: {d:?}"
            );
            let dosing = d.dosing.expect("dosing");
            let ok = check_give(
                self.ctx,
                &self.state(),
                at(when),
                &Proposed {
                    step: dosing.step,
                    volume_ml: dosing.volume_ml,
                    pef_percent: Some(Decimal::new(95, 0)),
                    screen_ok: true,
                    override_reason: None,
                },
            );
            assert_eq!(ok.as_ref(), Ok(&dosing));
            self.push(when, given(&dosing));
            dosing
        }
        fn observe(&mut self, when: &str, mm: u32) {
            self.push(when, EventKind::ObservationEnded { local_mm: Some(mm) });
        }
    }

    fn given(d: &Dosing) -> EventKind {
        EventKind::DoseGiven {
            step: d.step,
            vial: d.vial.clone(),
            volume_ml: d.volume_ml,
            dose: d.dose,
            lot: None,
            site: Some("left".into()),
            pef_percent: Some(Decimal::new(95, 0)),
            screen_ok: true,
            override_reason: None,
        }
    }

    fn sr(grade: &str) -> EventKind {
        EventKind::SystemicReaction {
            grade: grade.parse().expect("grade"),
            onset_min: 12,
            symptom: "urticaria".into(),
            treatment: None,
        }
    }

    fn rules<'a>(w: &'a World, id: &str) -> &'a CourseRules {
        &w.policy.rule_set(id).expect("rule set").rules
    }

    #[test]
    fn wao_grades_parse() {
        assert_eq!(
            "2a".parse::<WaoGrade>(),
            Ok(WaoGrade {
                grade: 2,
                suffix: 'a'
            })
        );
        assert!("6a".parse::<WaoGrade>().is_err());
        assert!("2".parse::<WaoGrade>().is_err());
        assert!("2x".parse::<WaoGrade>().is_err());
        assert_eq!(
            "step-back:2".parse::<Review>(),
            Ok(Review::StepBack { steps: 2 })
        );
        assert!("step-back:0".parse::<Review>().is_err());
    }

    #[test]
    fn an_uneventful_rush_then_maintenance() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        assert_eq!(c.next("2026-12-07 08:00").dosing.map(|d| d.step), Some(1));
        let mut clock = at("2026-12-07 08:00");
        let mut day = clock.date();
        for step in 1..=10 {
            if fx.plan.steps[step - 1].date != day {
                day = fx.plan.steps[step - 1].date;
                clock = day.and_hms_opt(8, 0, 0).expect("t");
            }
            let when = clock.format("%Y-%m-%d %H:%M").to_string();
            let d = c.give_allowed(&when);
            assert_eq!(d.step, step);
            assert_eq!(c.next(&when).action, ActionKind::Observe);
            let obs = fx.plan.steps[step - 1].observation_min;
            clock += Duration::minutes(i64::from(obs));
            c.observe(&clock.format("%Y-%m-%d %H:%M").to_string(), 5);
        }
        // Maintenance: not before 2 weeks after the last up-dosing dose.
        let d = c.next("2026-12-10 08:00");
        assert_eq!(d.action, ActionKind::Wait);
        assert_eq!(d.not_before, Some(at("2026-12-23 00:00")));
        assert_eq!(
            c.next("2026-12-23 09:00").action,
            ActionKind::MaintenanceDue
        );
    }

    #[test]
    fn the_first_dose_waits_for_the_planned_start_date() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let c = fx.course("norwegian-guide");
        let d = c.next("2026-12-04 10:00");
        assert_eq!(
            (d.action, d.not_before),
            (ActionKind::Wait, Some(at("2026-12-07 00:00")))
        );
        assert_eq!(c.next("2026-12-07 07:30").action, ActionKind::Give);
    }

    #[test]
    fn the_interval_and_the_observation_gate_the_next_dose() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        c.give_allowed("2026-12-07 08:00");
        let d = c.next("2026-12-07 08:10");
        assert_eq!(d.action, ActionKind::Observe);
        c.observe("2026-12-07 08:20", 0);
        let d = c.next("2026-12-07 08:20");
        assert_eq!(d.action, ActionKind::Wait);
        assert_eq!(d.not_before, Some(at("2026-12-07 08:30")));
        // The planned clock time does not gate: 3 hours late on the same day is fine.
        assert_eq!(c.next("2026-12-07 11:30").action, ActionKind::Give);
    }

    #[test]
    fn a_large_local_reaction_steps_back() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        c.give_allowed("2026-12-07 08:00");
        c.observe("2026-12-07 08:30", 0);
        c.give_allowed("2026-12-07 08:30");
        c.observe("2026-12-07 09:00", 0);
        c.give_allowed("2026-12-07 09:00");
        c.observe("2026-12-07 09:30", 60); // 50-100 mm: back one step
        let d = c.next("2026-12-07 10:00");
        assert_eq!(d.dosing.map(|d| d.step), Some(2));
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("Local reaction 60 mm: step back 1"))
        );
        c.give_allowed("2026-12-07 10:00");
        c.observe("2026-12-07 10:30", 30); // 25-50 mm: repeat
        assert_eq!(c.next("2026-12-07 11:00").dosing.map(|d| d.step), Some(2));
    }

    #[test]
    fn a_grade_1_reaction_ends_the_day_and_steps_back() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        for (give, obs) in [("08:00", "08:30"), ("08:30", "09:00")] {
            c.give_allowed(&format!("2026-12-07 {give}"));
            c.observe(&format!("2026-12-07 {obs}"), 0);
        }
        c.give_allowed("2026-12-07 09:00");
        c.push("2026-12-07 09:15", sr("1z"));
        c.observe("2026-12-07 10:00", 0);
        let d = c.next("2026-12-07 11:00");
        assert_eq!(d.action, ActionKind::DayEnded);
        assert_eq!(d.not_before, Some(at("2026-12-08 00:00")));
        let d = c.next("2026-12-08 08:00");
        assert_eq!(d.action, ActionKind::Give);
        assert_eq!(
            d.dosing.map(|d| d.step),
            Some(2),
            "one step below the reaction's dose"
        );
    }

    #[test]
    fn a_grade_2_reaction_needs_a_physician_before_any_dose() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        for (give, obs) in [("08:00", "08:30"), ("08:30", "09:00"), ("09:00", "09:30")] {
            c.give_allowed(&format!("2026-12-07 {give}"));
            c.observe(&format!("2026-12-07 {obs}"), 0);
        }
        c.give_allowed("2026-12-07 09:30");
        c.push("2026-12-07 09:40", sr("2a"));
        c.observe("2026-12-07 11:30", 0);
        assert_eq!(
            c.next("2026-12-08 08:00").action,
            ActionKind::PhysicianReview
        );
        let refused = check_give(
            c.ctx,
            &c.state(),
            at("2026-12-08 08:00"),
            &Proposed {
                step: 4,
                volume_ml: fx.plan.steps[3].volume_ml,
                pef_percent: Some(Decimal::new(95, 0)),
                screen_ok: true,
                override_reason: None,
            },
        );
        assert!(refused.is_err_and(|e| e.contains("physician review")));
        c.push(
            "2026-12-07 12:00",
            EventKind::PhysicianReview {
                decision: Review::Continue,
                reason: Some("mild, resolved".into()),
            },
        );
        // Same day: still no injection; next day two steps back from step 4.
        assert_eq!(c.next("2026-12-07 13:00").action, ActionKind::DayEnded);
        let d = c.next("2026-12-08 08:00");
        assert_eq!(
            (d.action, d.dosing.map(|d| d.step)),
            (ActionKind::Give, Some(2))
        );
    }

    #[test]
    fn a_grade_4_reaction_stops_unless_a_review_gives_a_reason() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        c.give_allowed("2026-12-07 08:00");
        c.push("2026-12-07 08:10", sr("4a"));
        assert_eq!(c.next("2026-12-08 08:00").action, ActionKind::Stopped);
        c.push(
            "2026-12-08 09:00",
            EventKind::PhysicianReview {
                decision: Review::Continue,
                reason: None,
            },
        );
        assert_eq!(
            c.next("2026-12-08 09:00").action,
            ActionKind::Stopped,
            "no reason, no resumption"
        );
        c.push(
            "2026-12-08 09:05",
            EventKind::PhysicianReview {
                decision: Review::Restart,
                reason: Some("intercurrent infection was the cause".into()),
            },
        );
        c.observe("2026-12-08 09:06", 0);
        let d = c.next("2026-12-08 10:00");
        assert_eq!(d.dosing.map(|d| d.step), Some(1));
    }

    #[test]
    fn a_physician_stop_is_final_until_reviewed_again() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        c.give_allowed("2026-12-07 08:00");
        c.observe("2026-12-07 08:30", 0);
        c.push(
            "2026-12-07 08:40",
            EventKind::PhysicianReview {
                decision: Review::Stop,
                reason: Some("patient moved".into()),
            },
        );
        let d = c.next("2026-12-07 09:00");
        assert_eq!(d.action, ActionKind::Stopped);
        assert!(d.reasons[0].contains("patient moved"));
    }

    fn weekly_course_gap(rule_set: &str, gap_days: i64) -> Decision {
        let w = world();
        let plan = make_plan(&w, "alutard-hdm-conventional-15w");
        let t = w.catalog.get("alutard-hdm-conventional-15w").expect("t");
        let mut c = Course::new(&plan, t, rules(&w, rule_set));
        let mut day = at("2026-12-07 08:00");
        for _ in 0..6 {
            c.give_allowed(&day.format("%Y-%m-%d %H:%M").to_string());
            c.observe(
                &(day + Duration::minutes(30))
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                0,
            );
            day += Duration::days(7);
        }
        let last = day - Duration::days(7);
        c.next(
            &(last + Duration::days(gap_days))
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        )
    }

    #[test]
    fn a_missed_week_in_each_norwegian_band() {
        let step = |gap| {
            weekly_course_gap("norwegian-guide", gap)
                .dosing
                .map(|d| d.step)
        };
        assert_eq!(step(7), Some(7)); // on time
        assert_eq!(step(14), Some(7)); // <= 2 weeks: per schedule
        assert_eq!(step(21), Some(6)); // 2-4 weeks: repeat
        assert_eq!(step(35), Some(5)); // 4-6 weeks: back 1
        assert_eq!(step(50), Some(4)); // 6-8 weeks: back 2
        assert_eq!(step(70), Some(3)); // 8-12 weeks: back 3
        assert_eq!(step(100), Some(1)); // > 12 weeks: restart
        assert!(
            weekly_course_gap("norwegian-guide", 21)
                .reasons
                .iter()
                .any(|r| r.contains("21 days since the last dose: repeat"))
        );
    }

    #[test]
    fn a_missed_week_in_each_us_band() {
        let d = weekly_course_gap("us-practice-parameter", 21);
        let dosing = d.dosing.expect("dosing");
        // 25 % off step 6 (0.8 mL of 1 000 SQ-U/mL = 800 SQ-U): 600 SQ-U = 0.6 mL on the same vial.
        assert_eq!(
            (dosing.step, dosing.dose.amount(), dosing.volume_ml.ml()),
            (6, Decimal::new(600, 0), Decimal::new(6, 1))
        );
        let d = weekly_course_gap("us-practice-parameter", 30)
            .dosing
            .expect("dosing");
        assert_eq!(d.dose.amount(), Decimal::new(400, 0));
        assert_eq!(
            weekly_course_gap("us-practice-parameter", 40).action,
            ActionKind::PhysicianReview
        );
    }

    #[test]
    fn give_refuses_anything_but_the_allowed_dose() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let c = fx.course("norwegian-guide");
        let s = c.state();
        let now = at("2026-12-07 08:00");
        let p =
            |step: usize, ml: &str, pef: Option<i64>, screen: bool, ovr: Option<&str>| Proposed {
                step,
                volume_ml: Volume::from_ml(crate::units::parse_decimal(ml).expect("ml")),
                pef_percent: pef.map(|x| Decimal::new(x, 0)),
                screen_ok: screen,
                override_reason: ovr.map(str::to_string),
            };
        assert!(check_give(c.ctx, &s, now, &p(1, "0.1", Some(95), true, None)).is_ok());
        assert!(
            check_give(c.ctx, &s, now, &p(2, "0.1", Some(95), true, None))
                .is_err_and(|e| e.contains("allowed dose is step 1"))
        );
        assert!(check_give(c.ctx, &s, now, &p(1, "0.2", Some(95), true, None)).is_err());
        assert!(
            check_give(c.ctx, &s, now, &p(1, "0.1", Some(70), true, None))
                .is_err_and(|e| e.contains("below 80 %"))
        );
        assert!(
            check_give(c.ctx, &s, now, &p(1, "0.1", None, true, None))
                .is_err_and(|e| e.contains("cannot be answered"))
        );
        assert!(check_give(c.ctx, &s, now, &p(1, "0.1", Some(95), false, None)).is_err());
        let ovr = check_give(
            c.ctx,
            &s,
            now,
            &p(2, "0.1", Some(95), true, Some("dose confirmed by Dr B")),
        );
        assert_eq!(ovr.map(|d| d.step), Ok(2));
        // Nothing above maintenance, whoever asks.
        assert!(check_give(c.ctx, &s, now, &p(99, "2.0", Some(95), true, Some("x"))).is_err());
    }

    #[test]
    fn administrations_carry_their_own_reactions_and_skip_corrected_doses() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        c.give_allowed("2026-12-07 08:00");
        c.observe("2026-12-07 08:30", 60);
        c.give_allowed("2026-12-07 08:30");
        let wrong = c.events.last().map(|e| e.seq).expect("seq");
        c.push("2026-12-07 08:40", sr("1z"));
        let adm = administrations(&c.events);
        assert_eq!((adm[0].local_mm, adm[0].systemic), (Some(60), None));
        assert_eq!(
            adm[1].systemic.map(|g| g.to_string()).as_deref(),
            Some("1z")
        );
        c.push(
            "2026-12-07 08:45",
            EventKind::Correction {
                corrects: wrong,
                reason: "wrong patient".into(),
            },
        );
        assert_eq!(administrations(&c.events).len(), 1);
    }

    #[test]
    fn only_admissible_records_are_taken() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        let observe = EventKind::ObservationEnded { local_mm: None };
        assert!(admissible(&c.state(), &c.events, &observe).is_err());
        assert!(admissible(&c.state(), &c.events, &sr("1z")).is_err());
        c.give_allowed("2026-12-07 08:00");
        assert!(admissible(&c.state(), &c.events, &observe).is_ok());
        let fix = c.push(
            "2026-12-07 08:10",
            EventKind::Correction {
                corrects: 1,
                reason: "x".into(),
            },
        );
        let again = EventKind::Correction {
            corrects: fix,
            reason: "y".into(),
        };
        assert!(admissible(&c.state(), &c.events, &again).is_err());
        assert!(
            admissible(
                &c.state(),
                &c.events,
                &EventKind::Correction {
                    corrects: 99,
                    reason: "y".into()
                }
            )
            .is_err()
        );
        assert!(
            admissible(
                &c.state(),
                &c.events,
                &EventKind::Correction {
                    corrects: 1,
                    reason: " ".into()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn a_correction_voids_the_event_it_points_at() {
        let fx = Fixture::new("example-hdm-rush-3d");
        let mut c = fx.course("norwegian-guide");
        c.give_allowed("2026-12-07 08:00");
        c.observe("2026-12-07 08:30", 0);
        let wrong = c.push("2026-12-07 08:35", sr("2a"));
        assert_eq!(
            c.next("2026-12-07 09:00").action,
            ActionKind::PhysicianReview
        );
        c.push(
            "2026-12-07 08:40",
            EventKind::Correction {
                corrects: wrong,
                reason: "recorded on the wrong patient".into(),
            },
        );
        assert_eq!(c.next("2026-12-07 09:00").action, ActionKind::Give);
    }

    #[derive(Debug, Clone)]
    enum Act {
        Give,
        Observe(u32),
        React(u8),
        Defer,
        Review(u8),
        Advance(i64),
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            4 => Just(Act::Give),
            4 => (0u32..130).prop_map(Act::Observe),
            1 => (1u8..=5).prop_map(Act::React),
            1 => Just(Act::Defer),
            1 => (0u8..5).prop_map(Act::Review),
            4 => prop_oneof![(1i64..120), (600i64..3000), (10_000i64..60_000)].prop_map(Act::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        /// Random nurses and physicians: whatever they record, the decisions keep the safety
        /// invariants, and replay is deterministic.
        #[test]
        fn random_courses_keep_the_safety_invariants(
            template in prop::sample::select(vec!["example-hdm-rush-3d", "alutard-hdm-cluster-7w"]),
            rule_set in prop::sample::select(vec!["norwegian-guide", "us-practice-parameter"]),
            acts in prop::collection::vec(act(), 1..60),
        ) {
            let w = world();
            let plan = make_plan(&w, template);
            let t = w.catalog.get(template).expect("t");
            let mut c = Course::new(&plan, t, rules(&w, rule_set));
            let mut now = at("2026-12-07 08:00");
            let mut sr_dates: Vec<NaiveDate> = Vec::new();
            for a in acts {
                let when = now.format("%Y-%m-%d %H:%M").to_string();
                let state = c.state();
                prop_assert_eq!(&state, &replay(c.ctx, &c.events), "replay is deterministic");
                let d = next(c.ctx, &state, now);
                let review_pending = state.review.is_some() || state.stopped.is_some();
                if matches!(d.action, ActionKind::Give | ActionKind::MaintenanceDue) {
                    prop_assert!(!review_pending, "a dose offered while a review is pending");
                    prop_assert!(!sr_dates.contains(&now.date()), "a dose offered on the day of a systemic reaction");
                    let dosing = d.dosing.clone().expect("dosing");
                    prop_assert!(dosing.dose.amount() <= plan.maintenance.dose.amount());
                    // Never beyond the plan step after the highest given so far.
                    let highest = state.given.iter().map(|g| g.step).max().unwrap_or(0);
                    if dosing.step <= plan.steps.len() {
                        prop_assert!(dosing.step <= highest + 1);
                        prop_assert!(dosing.dose.amount() <= plan.steps[dosing.step - 1].dose.amount());
                    }
                }
                match a {
                    Act::Give => {
                        if let (ActionKind::Give | ActionKind::MaintenanceDue, Some(dosing)) = (&d.action, &d.dosing) {
                            c.push(&when, given(dosing));
                        }
                    }
                    Act::Observe(mm) => {
                        if state.awaiting_observation.is_some() {
                            c.push(&when, EventKind::ObservationEnded { local_mm: Some(mm) });
                        }
                    }
                    Act::React(g) => {
                        if !state.given.is_empty() {
                            c.push(&when, sr(&format!("{g}z")));
                            sr_dates.push(now.date());
                        }
                    }
                    Act::Defer => { c.push(&when, EventKind::DoseDeferred { reason: "fever".into() }); }
                    Act::Review(k) => {
                        let decision = [Review::Continue, Review::Repeat, Review::StepBack { steps: 1 }, Review::Restart, Review::Stop][k as usize].clone();
                        c.push(&when, EventKind::PhysicianReview { decision, reason: Some("reviewed".into()) });
                    }
                    Act::Advance(min) => now += Duration::minutes(min),
                }
            }
        }
    }
}

/// One row of a day's dosing sheet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SheetRow {
    /// Earliest time (`None` for a DO NOT GIVE row).
    #[serde(serialize_with = "opt_hhmm")]
    pub time: Option<chrono::NaiveTime>,
    /// What the row asks.
    pub action: ActionKind,
    /// The dose, for a dose row.
    #[serde(flatten)]
    pub dosing: Option<Dosing>,
    /// Observation after it, minutes.
    pub observation_min: Option<u32>,
    /// Why, citing the rules.
    pub reasons: Vec<String>,
}

fn opt_hhmm<S: Serializer>(t: &Option<chrono::NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.format("%H:%M").to_string()),
        None => s.serialize_none(),
    }
}

/// A course's rows on `date`'s dosing sheet, as the state machine sees it when the clinic opens
/// that day: the next dose (with any late-dose adjustment), then the rest of that planned day's
/// steps, each after the previous one's observation and interval, assuming no reaction. A course
/// awaiting a physician gives one DO NOT GIVE row (even on a closed day); a course with nothing
/// due that day, or a day the clinic is closed, gives none.
pub fn sheet_rows(
    ctx: Context<'_>,
    state: &CourseState,
    date: NaiveDate,
    calendar: &crate::planner::ClinicCalendar,
) -> Vec<SheetRow> {
    let opens = calendar.opens;
    let start = NaiveDateTime::new(date, opens);
    let day_end = NaiveDateTime::new(
        date,
        chrono::NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(opens),
    );
    let d = next(ctx, state, start);
    let row = |d: &Decision, time, obs| SheetRow {
        time,
        action: d.action.clone(),
        dosing: d.dosing.clone(),
        observation_min: obs,
        reasons: d.reasons.clone(),
    };
    match d.action {
        ActionKind::PhysicianReview => return vec![row(&d, None, None)],
        _ if !calendar.is_clinic_day(date) => return Vec::new(),
        ActionKind::Stopped | ActionKind::DayEnded | ActionKind::Observe => return Vec::new(),
        ActionKind::Wait if d.not_before.is_none_or(|t| t > day_end) => return Vec::new(),
        _ => {}
    }
    let Some(first) = d.dosing.clone() else {
        return Vec::new();
    };
    // On its planned date a dose is listed at its planned time (if later): nurses plan the day
    // by it, though it does not gate the dose.
    let planned = ctx
        .plan
        .steps
        .get(first.step.wrapping_sub(1))
        .filter(|s| s.date == date)
        .map_or(start, |s| NaiveDateTime::new(date, s.time));
    let first_time = d
        .not_before
        .map_or(start, |t| t.max(start))
        .max(planned)
        .time();
    let plan_len = ctx.plan.steps.len();
    let obs_of = |step: usize| {
        ctx.plan
            .steps
            .get(step.wrapping_sub(1))
            .map_or(ctx.template.timing.observation_min, |s| s.observation_min)
    };
    let mut rows = vec![SheetRow {
        action: if first.step > plan_len {
            ActionKind::MaintenanceDue
        } else {
            ActionKind::Give
        },
        ..row(&d, Some(first_time), Some(obs_of(first.step)))
    }];
    // The rest of the planned day: steps after this one that the plan puts on the same date.
    if first.step <= plan_len {
        let planned_date = ctx.plan.steps[first.step - 1].date;
        let mut time = first_time;
        let mut prev_obs = obs_of(first.step);
        for s in ctx
            .plan
            .steps
            .iter()
            .skip(first.step)
            .take_while(|s| s.date == planned_date)
        {
            let wait = prev_obs.max(
                s.min_interval_min
                    .unwrap_or(ctx.template.timing.min_interval_min),
            );
            let next_time = time + Duration::minutes(i64::from(wait));
            if next_time < time {
                break; // past midnight
            }
            time = next_time;
            prev_obs = s.observation_min;
            rows.push(SheetRow {
                time: Some(time),
                action: ActionKind::Give,
                dosing: Some(Dosing {
                    step: s.index,
                    vial: s.vial.clone(),
                    volume_ml: s.volume_ml,
                    dose: s.dose,
                }),
                observation_min: Some(s.observation_min),
                reasons: vec![format!(
                    "If step {} is tolerated: the next step of the same planned day.",
                    s.index - 1
                )],
            });
        }
    }
    rows
}

#[cfg(test)]
mod sheet_tests {
    use super::*;
    use crate::planner::{Request, plan};
    use crate::risk::assess;
    use crate::testkit::{at, bundled, date, patient, weekdays};

    #[test]
    fn a_rush_day_has_one_row_per_planned_injection_and_a_review_gives_do_not_give() {
        let w = bundled();
        let a = assess(&patient(34, "2", "410", None), &w.policy.risk);
        let t = w.catalog.get("example-hdm-rush-3d").expect("t");
        let p = plan(&Request {
            template: t,
            catalog: &w.catalog,
            assessment: &a,
            rules: &w.policy.risk,
            start: at("2026-12-07 08:00"),
            calendar: &weekdays(),
            accept_risk: None,
        })
        .expect("ok")
        .expect("plan");
        let rules = &w.policy.rule_set("norwegian-guide").expect("rs").rules;
        let ctx = Context {
            plan: &p,
            template: t,
            rules,
        };
        let cal = weekdays();
        let rows = sheet_rows(ctx, &replay(ctx, &[]), date("2026-12-07"), &cal);
        let times: Vec<String> = rows
            .iter()
            .map(|r| {
                r.time
                    .map(|t| t.format("%H:%M").to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(times, ["08:00", "08:30", "09:00", "09:30"]);
        assert!(
            sheet_rows(ctx, &replay(ctx, &[]), date("2026-12-04"), &cal).is_empty(),
            "nothing before the start"
        );
        // A systemic reaction of grade 2: one DO NOT GIVE row the next day.
        let events = vec![
            Event {
                seq: 1,
                at: at("2026-12-07 08:00"),
                by: "n".into(),
                kind: EventKind::DoseGiven {
                    step: 1,
                    vial: "1".into(),
                    volume_ml: p.steps[0].volume_ml,
                    dose: p.steps[0].dose,
                    lot: None,
                    site: None,
                    pef_percent: None,
                    screen_ok: true,
                    override_reason: None,
                },
            },
            Event {
                seq: 2,
                at: at("2026-12-07 08:10"),
                by: "n".into(),
                kind: EventKind::SystemicReaction {
                    grade: "2a".parse().expect("g"),
                    onset_min: 10,
                    symptom: "wheeze".into(),
                    treatment: None,
                },
            },
            Event {
                seq: 3,
                at: at("2026-12-07 08:30"),
                by: "n".into(),
                kind: EventKind::ObservationEnded { local_mm: None },
            },
        ];
        let rows = sheet_rows(ctx, &replay(ctx, &events), date("2026-12-08"), &cal);
        // On a closed day nothing is due, but the DO NOT GIVE row stays.
        assert!(sheet_rows(ctx, &replay(ctx, &[]), date("2026-12-12"), &cal).is_empty());
        assert_eq!(
            sheet_rows(ctx, &replay(ctx, &events), date("2026-12-12"), &cal).len(),
            1
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action, ActionKind::PhysicianReview);
        assert!(rows[0].dosing.is_none());
    }
}
