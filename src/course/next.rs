//! The next-dose decision: what the course allows at a given moment, with the reason and the
//! rule behind it. Holds come first (ended, stopped, physician review, another course of the
//! patient, an open observation); then the visit (closed, or its caps); then the dose of the
//! phase with the late-dose rules; then the time (interval, next visit on the clinic calendar,
//! the spacing from another extract).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::Context;
use super::ladder::{Ladder, first_of_rung, gap_after_visit, maintenance_ladder};
use super::reason::{Cause, Hold, HoldKind, Reason, VisitClosed, Wait};
use super::state::{
    CourseState, Given, MaintenanceVisit, Phase, observation_until, required_observation,
};
use super::vial::VialInHand;
use crate::policy::Provenance;
use crate::policy::course::{Action, Band, CountFrom};
use crate::units::{Dose, Volume};

/// The next dose, as the rules have shaped it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dosing {
    /// The plan step it stands for (1-based; above the plan's length: maintenance).
    pub step: usize,
    /// Maintenance dose number, for a maintenance dose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<usize>,
    /// Vial id.
    pub vial: String,
    /// Volume.
    pub volume_ml: Volume,
    /// Dose.
    pub dose: Dose,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Give the up-dosing dose now.
    Give,
    /// Give the maintenance dose now.
    MaintenanceDue,
    /// Wait until `not_before`.
    Wait,
    /// The last dose's observation is under way.
    Observe,
    /// The last dose's observation should have ended but was not recorded.
    ObservationNotClosed,
    /// A physician must review the course first.
    PhysicianReview,
    /// Another course of the same patient holds this one.
    PatientHold,
    /// No further injection at this visit; the next visit is shown.
    VisitClosed,
    /// The course has stopped.
    Stopped,
    /// The course has ended for good.
    Ended,
}

impl ActionKind {
    /// Whether a dose may be given now.
    pub fn gives(self) -> bool {
        matches!(self, ActionKind::Give | ActionKind::MaintenanceDue)
    }

    /// Whether only a physician (or a correction) can lift it: DO NOT GIVE.
    pub fn do_not_give(self) -> bool {
        matches!(
            self,
            ActionKind::PhysicianReview
                | ActionKind::PatientHold
                | ActionKind::Stopped
                | ActionKind::Ended
        )
    }
}

/// The visit so far against the plan's caps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VisitSoFar {
    /// Injections given at this visit.
    pub injections: u32,
    /// The cap.
    pub max_injections: u32,
    /// Total dose given at this visit.
    pub total: Dose,
    /// The cap.
    pub max_total: Dose,
}

/// The answer of [`next`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// What to do.
    pub action: ActionKind,
    /// `up_dosing` or `maintenance`.
    pub phase: &'static str,
    /// The dose, when there is one to give or wait for.
    #[serde(flatten)]
    pub dosing: Option<Dosing>,
    /// Not before this time (a clinic time on a clinic day, or within the visit).
    pub not_before: Option<NaiveDateTime>,
    /// What the wait is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    /// Why the visit is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_closed: Option<VisitClosed>,
    /// The hold, for a DO NOT GIVE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// The other course of the patient that holds this one (for an observation: the
    /// omalizumab course whose injection is under observation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<i64>,
    /// The observation's earliest end, while one is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_until: Option<NaiveDateTime>,
    /// The visit so far, for a dose at a visit that has begun.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit: Option<VisitSoFar>,
    /// Why, citing the rules.
    pub reasons: Vec<Reason>,
    /// The premedication the dose needs (required) or is reminded of (recommended), with its
    /// window, for a dose that may be given now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub premedication: Vec<super::PremedicationDue>,
}

/// What the patient's other active courses impose on this one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatientView {
    /// The other courses.
    pub others: Vec<OtherCourse>,
}

/// One other course of the same patient, as it bears on this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherCourse {
    /// Its id.
    pub course: i64,
    /// A hold that holds the patient: a pending review, a stop or an end after a reaction.
    pub hold: Option<Hold>,
    /// Days with a systemic reaction on it.
    pub systemic_dates: Vec<NaiveDate>,
    /// Its injections (and, for a sheet, those planned for the day).
    pub injections: Vec<NaiveDateTime>,
    /// Its last injection's observation while it is open (not recorded as ended): the
    /// injection and the observation's planned earliest end.
    pub observing: Option<(NaiveDateTime, NaiveDateTime)>,
    /// An omalizumab course: its open observation holds the patient's allergen doses too.
    pub omalizumab: bool,
}

impl OtherCourse {
    /// What a course's state imposes on the patient's other courses. A physician's own stop
    /// does not hold the others (the physician decided for that course); a reaction's does.
    pub fn of(course: i64, s: &CourseState) -> OtherCourse {
        let hold = s.ended.clone().or_else(|| s.review.clone()).or_else(|| {
            s.stopped
                .clone()
                .filter(|h| !matches!(h.cause, Cause::Physician { .. }))
        });
        OtherCourse {
            course,
            hold,
            systemic_dates: s.systemic_dates.clone(),
            injections: s.given.iter().map(|g| g.at).collect(),
            observing: s
                .observation
                .as_ref()
                .filter(|o| o.ended.is_none())
                .map(|o| (o.at, o.at + Duration::minutes(i64::from(o.planned_min)))),
            omalizumab: false,
        }
    }
}

impl PatientView {
    /// The earliest time from `t` that is at least `min` minutes from every other course's
    /// injection, and the injection that moved it last.
    pub fn apart(
        &self,
        t: NaiveDateTime,
        min: u32,
    ) -> (NaiveDateTime, Option<(i64, NaiveDateTime)>) {
        let gap = Duration::minutes(i64::from(min));
        let mut all: Vec<(NaiveDateTime, i64)> = self
            .others
            .iter()
            .flat_map(|o| o.injections.iter().map(move |i| (*i, o.course)))
            .collect();
        all.sort();
        let mut t = t;
        let mut by = None;
        // Each pass moves t past one conflicting injection; sorted, one pass suffices, a
        // second confirms.
        for _ in 0..2 {
            for (i, c) in &all {
                if t < *i + gap && t + gap > *i {
                    t = *i + gap;
                    by = Some((*c, *i));
                }
            }
        }
        (t, by)
    }
}

fn phase_name(s: &CourseState) -> &'static str {
    if s.in_maintenance() {
        "maintenance"
    } else {
        "up_dosing"
    }
}

fn decision(s: &CourseState, action: ActionKind, reasons: Vec<Reason>) -> Decision {
    Decision {
        action,
        phase: phase_name(s),
        dosing: None,
        not_before: None,
        wait: None,
        visit_closed: None,
        hold: None,
        held_by: None,
        observation_until: None,
        visit: None,
        reasons,
        premedication: Vec::new(),
    }
}

fn held(s: &CourseState, action: ActionKind, hold: &Hold) -> Decision {
    Decision {
        hold: Some(hold.clone()),
        ..decision(s, action, s.reasons.clone())
    }
}

/// The late-dose band that applies to a visit on `date` after the last dose, with the days as
/// the rules count them and the missed date when they count from it. `None` before the first
/// dose, or when the visit is not yet due by the rules' count (never late).
pub fn late_band<'r>(
    ctx: Context<'r>,
    s: &CourseState,
    date: NaiveDate,
) -> Option<(&'r Band, Reason)> {
    let last = s.given.last()?;
    let maintenance = s.in_maintenance();
    let (days, missed) = match ctx.rules.late_counting.from {
        CountFrom::LastDose => ((date - last.at.date()).num_days(), None),
        CountFrom::MissedDate => {
            let due = visit_start(ctx, s);
            ((date - due).num_days(), Some(due))
        }
    };
    if days < 0 {
        return None;
    }
    let band = ctx.rules.late(maintenance, days)?;
    Some((
        band,
        Reason::Late {
            days,
            counted_from: ctx.rules.late_counting.from,
            missed,
            band: band.range.written.clone(),
            action: band.action.clone(),
            rule: band.provenance.clone(),
        },
    ))
}

/// The earliest date of the next visit: the schedule's interval after the last visit, on a
/// clinic day. Up-dosing: the protocol gap after the planned visit of the last dose (one clinic
/// day when the next dose continues that planned visit). Maintenance: the next maintenance
/// visit's interval.
pub fn visit_start(ctx: Context<'_>, s: &CourseState) -> NaiveDate {
    let Some(last) = s.given.last() else {
        return ctx.plan.steps.first().map_or(NaiveDate::MIN, |f| {
            ctx.calendar.on_or_after(f.date).unwrap_or(f.date)
        });
    };
    let plan = ctx.plan;
    let days = match &s.phase {
        Phase::Maintenance { next, .. } => next.after_days,
        Phase::UpDosing { cursor, .. } => {
            let next_visit = plan.steps.get(*cursor).map(|p| p.day);
            match plan.steps.get(last.step.wrapping_sub(1)) {
                Some(lp) if !last.maintenance => {
                    if continues_visit(plan, last.step, *cursor) {
                        1
                    } else {
                        gap_after_visit(plan, lp.day)
                    }
                }
                // Back in up-dosing after a maintenance dose (a restart): the cadence of the
                // planned visit it restarts at.
                _ => next_visit.map_or(1, |v| gap_after_visit(plan, v)),
            }
        }
    };
    let d = last.at.date() + Duration::days(days.max(1));
    ctx.calendar.on_or_after(d).unwrap_or(d)
}

/// Whether plan index `cursor` continues the planned visit of the last dose (step `last_step`,
/// 1-based) after an interruption: later in the same planned visit. A repeat or a step back
/// (the cursor at or before the last dose) is a new visit after the schedule's interval.
fn continues_visit(plan: &crate::planner::Plan, last_step: usize, cursor: usize) -> bool {
    match (
        plan.steps.get(last_step.wrapping_sub(1)),
        plan.steps.get(cursor),
    ) {
        (Some(lp), Some(np)) => cursor >= last_step && np.day == lp.day,
        _ => false,
    }
}

/// The dose of plan step `index` (0-based).
fn plan_dosing(ctx: Context<'_>, index: usize) -> Option<Dosing> {
    ctx.plan.steps.get(index).map(|p| Dosing {
        step: p.index,
        maintenance: None,
        vial: p.vial.clone(),
        volume_ml: p.volume_ml,
        dose: p.dose,
    })
}

/// `volume` of the maintenance vial as the maintenance dose number `number`.
fn maintenance_dosing(ctx: Context<'_>, number: usize, volume: Decimal) -> Option<Dosing> {
    let m = &ctx.plan.maintenance;
    let vial = ctx.template.vial(&m.vial)?;
    let volume = Volume::from_ml(volume);
    Some(Dosing {
        step: ctx.plan.steps.len() + number,
        maintenance: Some(number),
        vial: m.vial.clone(),
        volume_ml: volume,
        dose: vial.concentration.dose_in(volume)?,
    })
}

/// The last dose reduced by `percent` on its own vial, rounded down to the syringe.
fn reduced(ctx: Context<'_>, s: &CourseState, percent: Decimal) -> Option<(Dosing, Reason)> {
    let last = s.given.last()?;
    let (volume, dose) = super::vial::reduced_dose(ctx, &last.vial, last.dose, percent)?;
    let step = if last.maintenance {
        ctx.plan.steps.len()
    } else {
        last.step
    };
    Some((
        Dosing {
            step,
            maintenance: None,
            vial: last.vial.clone(),
            volume_ml: volume,
            dose,
        },
        Reason::Reduced {
            percent,
            from: last.dose,
            volume_ml: volume,
        },
    ))
}

/// What the next dose may be at `now`, given the patient's other courses and what is known of
/// the vial in hand (`None`: nothing, no vial-change rule can fire).
pub fn next(
    ctx: Context<'_>,
    s: &CourseState,
    now: NaiveDateTime,
    patient: &PatientView,
    vial: Option<&VialInHand>,
) -> Decision {
    let mut d = decide(ctx, s, now, patient, vial);
    if d.action.gives() {
        d.premedication = super::premedication_due(ctx, s, now);
    }
    d
}

fn decide(
    ctx: Context<'_>,
    s: &CourseState,
    now: NaiveDateTime,
    patient: &PatientView,
    vial: Option<&VialInHand>,
) -> Decision {
    if let Some(h) = &s.ended {
        return held(s, ActionKind::Ended, h);
    }
    if let Some(h) = &s.stopped {
        return held(s, ActionKind::Stopped, h);
    }
    if let Some(h) = &s.review {
        return held(s, ActionKind::PhysicianReview, h);
    }
    if let Some(o) = patient.others.iter().find(|o| o.hold.is_some()) {
        let mut d = decision(s, ActionKind::PatientHold, s.reasons.clone());
        d.hold = o.hold.clone();
        d.held_by = Some(o.course);
        return d;
    }
    if let Some(obs) = s.observation.as_ref().filter(|o| o.ended.is_none()) {
        let until = observation_until(ctx, s, obs);
        let action = if now < until {
            ActionKind::Observe
        } else {
            ActionKind::ObservationNotClosed
        };
        let mut d = decision(s, action, s.reasons.clone());
        d.observation_until = Some(until);
        return d;
    }
    // An omalizumab injection's observation holds the patient's allergen doses until its end
    // is recorded (its own rules' minutes; no source gives a shorter gap).
    if let Some((o, (_, until))) = patient
        .others
        .iter()
        .filter(|o| o.omalizumab)
        .find_map(|o| o.observing.map(|w| (o.course, w)))
    {
        let action = if now < until {
            ActionKind::Observe
        } else {
            ActionKind::ObservationNotClosed
        };
        let mut d = decision(s, action, s.reasons.clone());
        d.observation_until = Some(until);
        d.held_by = Some(o);
        return d;
    }
    let today = now.date();
    let closed = s
        .visit_on(today)
        .and_then(|v| v.closed.clone())
        .or_else(|| {
            patient
                .others
                .iter()
                .find(|o| o.systemic_dates.contains(&today))
                .map(|o| VisitClosed::PatientSystemic { course: o.course })
        });
    if let Some(why) = closed {
        return visit_closed(ctx, s, today, patient, why, vial);
    }
    let same_visit = s.visit_on(today).is_some_and(|v| v.injections > 0);
    let mut reasons = s.reasons.clone();
    let (dosing, mut not_before, mut wait) = if same_visit {
        match continue_visit(ctx, s, today) {
            Ok(x) => x,
            Err(why) => return visit_closed(ctx, s, today, patient, why, vial),
        }
    } else {
        match open_visit(ctx, s, today, &mut reasons) {
            Ok(x) => x,
            Err(d) => return *d,
        }
    };
    // The vial in hand: a new lot, manufacturer or an old vial shapes this dose, or holds it.
    let dosing = match super::vial::apply(ctx, s, vial, dosing, today, &mut reasons) {
        Ok(d) => d,
        Err(h) => {
            return Decision {
                hold: Some(Hold {
                    kind: HoldKind::Review,
                    cause: h.cause,
                    since: now,
                    rule: h.rule,
                }),
                ..decision(s, ActionKind::PhysicianReview, reasons)
            };
        }
    };
    if same_visit && let Some(v) = s.visit_on(today) {
        let limits = &ctx.plan.limits;
        let total = Dose::new(v.total, dosing.dose.unit());
        reasons.push(Reason::VisitSoFar {
            injections: v.injections,
            max_injections: limits.max_injections,
            total,
            max_total: limits.max_total_dose,
        });
    }
    // Two extracts for one patient on one day: apart by the rules' minimum.
    let min = ctx.rules.between_extracts_min;
    let (apart, by) = patient.apart(not_before.unwrap_or(now).max(now), min);
    if let Some((course, at)) = by
        && not_before.is_none_or(|t| apart > t)
    {
        not_before = Some(apart);
        wait = Some(Wait::OtherExtract { course, at, min });
    }
    // A same-visit injection whose observation would run past closing time waits for the next
    // clinic day, as the planner lays the days.
    if same_visit {
        let start = not_before.unwrap_or(now).max(now);
        let obs = ctx
            .plan
            .steps
            .get(dosing.step.wrapping_sub(1))
            .map_or(0, |p| p.observation_min)
            .max(ctx.template.timing.last_of_day_observation_min);
        if start.date() != today
            || start + Duration::minutes(i64::from(obs))
                > NaiveDateTime::new(today, ctx.calendar.closes)
        {
            return visit_closed(ctx, s, today, patient, VisitClosed::ClosingTime, vial);
        }
    }
    let visit = s
        .visit_on(today)
        .filter(|v| v.injections > 0)
        .map(|v| VisitSoFar {
            injections: v.injections,
            max_injections: ctx.plan.limits.max_injections,
            total: Dose::new(v.total, dosing.dose.unit()),
            max_total: ctx.plan.limits.max_total_dose,
        });
    let due = not_before.is_none_or(|t| now >= t);
    let action = match (due, dosing.maintenance.is_some()) {
        (false, _) => ActionKind::Wait,
        (true, true) => ActionKind::MaintenanceDue,
        (true, false) => ActionKind::Give,
    };
    Decision {
        action,
        phase: phase_name(s),
        dosing: Some(dosing),
        not_before,
        wait: if due { None } else { wait },
        visit_closed: None,
        hold: None,
        held_by: None,
        observation_until: None,
        visit,
        reasons,
        premedication: Vec::new(),
    }
}

type Next = (Dosing, Option<NaiveDateTime>, Option<Wait>);

/// The next injection at a visit that has begun: the plan's next step, if it belongs to the
/// same planned visit and fits the caps, after the previous injection's observation and the
/// minimum interval.
fn continue_visit(
    ctx: Context<'_>,
    s: &CourseState,
    today: NaiveDate,
) -> Result<Next, VisitClosed> {
    let plan = ctx.plan;
    let limits = &plan.limits;
    let Phase::UpDosing {
        cursor,
        custom_percent,
    } = &s.phase
    else {
        return Err(VisitClosed::MaintenanceGiven);
    };
    if custom_percent.is_some() {
        return Err(VisitClosed::Reaction);
    }
    let Some(last) = s.given.last() else {
        return Err(VisitClosed::PlannedVisitComplete);
    };
    let (Some(lp), Some(np)) = (
        plan.steps.get(last.step.wrapping_sub(1)),
        plan.steps.get(*cursor),
    ) else {
        return Err(VisitClosed::PlannedVisitComplete);
    };
    // A visit never runs into the next planned visit's injections.
    if last.maintenance || np.day != lp.day {
        return Err(VisitClosed::PlannedVisitComplete);
    }
    let v = s.visit_on(today).ok_or(VisitClosed::PlannedVisitComplete)?;
    if v.injections >= limits.max_injections {
        return Err(VisitClosed::InjectionCap {
            max: limits.max_injections,
        });
    }
    if v.total + np.dose.amount() > limits.max_total_dose.amount() {
        return Err(VisitClosed::TotalDoseCap {
            max: limits.max_total_dose,
        });
    }
    let obs_min = s
        .observation
        .as_ref()
        .map_or(lp.observation_min, |o| required_observation(ctx, s, o));
    let interval = np
        .min_interval_min
        .unwrap_or(ctx.template.timing.min_interval_min);
    let t = last.at + Duration::minutes(i64::from(obs_min.max(interval)));
    let dosing = plan_dosing(ctx, *cursor).ok_or(VisitClosed::PlannedVisitComplete)?;
    Ok((
        dosing,
        Some(t),
        Some(Wait::Interval {
            after: last.at,
            observation_min: obs_min,
            interval_min: interval,
        }),
    ))
}

/// The first injection of a new visit: the phase's next dose with the late-dose rules applied,
/// not before the planned start or the schedule's interval, on a clinic day.
fn open_visit(
    ctx: Context<'_>,
    s: &CourseState,
    today: NaiveDate,
    reasons: &mut Vec<Reason>,
) -> Result<Next, Box<Decision>> {
    let cal = ctx.calendar;
    let refusal = Refuse {
        s,
        since: NaiveDateTime::new(today, cal.opens),
    };
    let Some(last) = s.given.last() else {
        let first = plan_dosing(ctx, 0).ok_or_else(|| {
            refusal.refuse(
                ActionKind::PhysicianReview,
                Cause::NoRuleForPhase {
                    action: Action::Proceed,
                },
                None,
                reasons,
            )
        })?;
        let start = visit_start(ctx, s);
        return Ok((
            first,
            Some(NaiveDateTime::new(start, cal.opens)),
            Some(Wait::PlannedStart),
        ));
    };
    let start = visit_start(ctx, s);
    let not_before = Some(NaiveDateTime::new(start, cal.opens));
    let wait = Some(Wait::NextVisit {
        after: last.at.date(),
        days: (start - last.at.date()).num_days(),
    });
    let late = late_band(ctx, s, today);
    let action = late
        .as_ref()
        .map(|(b, _)| b.action.clone())
        .unwrap_or(Action::Proceed);
    if let Some((band, reason)) = &late
        && band.action != Action::Proceed
    {
        reasons.push(reason.clone());
    }
    let late_days = match &late {
        Some((_, Reason::Late { days, .. })) => *days,
        _ => 0,
    };
    let rule = late.as_ref().map(|(b, _)| b.provenance.clone());
    let held = match &action {
        Action::Review => Some(ActionKind::PhysicianReview),
        Action::Stop => Some(ActionKind::Stopped),
        Action::End => Some(ActionKind::Ended),
        _ => None,
    };
    if let Some(kind) = held {
        return Err(refusal.refuse(kind, Cause::LateDose { days: late_days }, rule, reasons));
    }
    let open = Opening {
        ctx,
        today,
        last,
        action,
        rule,
        not_before,
        wait,
        refusal,
    };
    match &s.phase {
        Phase::UpDosing {
            cursor,
            custom_percent,
        } => open.up_dosing(s, *cursor, *custom_percent, reasons),
        Phase::Maintenance { count, next, .. } => open.maintenance(*count, next, reasons),
    }
}

/// A refusal to open the visit: held for a physician, stopped or ended, from the day's opening.
struct Refuse<'s> {
    s: &'s CourseState,
    since: NaiveDateTime,
}

impl Refuse<'_> {
    fn refuse(
        &self,
        action: ActionKind,
        cause: Cause,
        rule: Option<Provenance>,
        reasons: &[Reason],
    ) -> Box<Decision> {
        let kind = match action {
            ActionKind::Stopped => HoldKind::Stopped,
            ActionKind::Ended => HoldKind::Ended,
            _ => HoldKind::Review,
        };
        Box::new(Decision {
            hold: Some(Hold {
                kind,
                cause,
                since: self.since,
                rule,
            }),
            ..decision(self.s, action, reasons.to_vec())
        })
    }

    // The rules say something that gives no dose here: the physician decides.
    fn no_rule(
        &self,
        action: &Action,
        rule: &Option<Provenance>,
        reasons: &[Reason],
    ) -> Box<Decision> {
        self.refuse(
            ActionKind::PhysicianReview,
            Cause::NoRuleForPhase {
                action: action.clone(),
            },
            rule.clone(),
            reasons,
        )
    }
}

/// What opening a visit has found before the phase decides the dose: the last injection, the
/// late-dose rule's action and source, and when the visit may start.
struct Opening<'a> {
    ctx: Context<'a>,
    today: NaiveDate,
    last: &'a Given,
    action: Action,
    rule: Option<Provenance>,
    not_before: Option<NaiveDateTime>,
    wait: Option<Wait>,
    refusal: Refuse<'a>,
}

impl Opening<'_> {
    /// Up-dosing: the plan's next step, moved back or reduced as the late-dose rule says.
    fn up_dosing(
        self,
        s: &CourseState,
        cursor: usize,
        custom_percent: Option<Decimal>,
        reasons: &mut Vec<Reason>,
    ) -> Result<Next, Box<Decision>> {
        let Opening {
            ctx,
            today: _,
            last,
            action,
            rule,
            not_before,
            wait,
            refusal,
        } = self;
        let no_rule = |reasons: &[Reason]| refusal.no_rule(&action, &rule, reasons);
        let plan = ctx.plan;
        let l = Ladder::of(plan);
        let mut index = cursor;
        let mut percent = custom_percent;
        match &action {
            Action::Repeat => {
                index = index.min(first_of_rung(plan, &l, l.rung(last.dose.amount())))
            }
            Action::StepBack { steps } => {
                let (rung, floor) = l.below(last.dose.amount(), *steps);
                if floor {
                    reasons.push(Reason::LadderFloor { asked: *steps });
                }
                index = index.min(first_of_rung(plan, &l, rung));
            }
            Action::Restart => index = 0,
            Action::Reduce { percent: p } => percent = Some(percent.map_or(*p, |x| x.max(*p))),
            Action::Volume { .. } => {
                return Err(no_rule(reasons));
            }
            _ => {}
        }
        let planned = plan_dosing(ctx, index);
        let dosing = match percent {
            Some(p) => match reduced(ctx, s, p) {
                Some((d, why))
                    if planned
                        .as_ref()
                        .is_none_or(|x| d.dose.amount() < x.dose.amount()) =>
                {
                    reasons.push(why);
                    Some(d)
                }
                Some(_) => planned,
                None => None,
            },
            None => planned,
        };
        let dosing = dosing.ok_or_else(|| no_rule(reasons))?;
        if !last.maintenance
            && continues_visit(plan, last.step, index)
            && let Some(p) = plan.steps.get(index)
        {
            reasons.push(Reason::ContinuesVisit { visit: p.day });
        }
        Ok((dosing, not_before, wait))
    }

    /// Maintenance: the next maintenance visit's volume, lowered as the late-dose rule says.
    fn maintenance(
        self,
        count: usize,
        next: &MaintenanceVisit,
        reasons: &[Reason],
    ) -> Result<Next, Box<Decision>> {
        let Opening {
            ctx,
            today,
            last,
            action,
            rule,
            not_before,
            wait,
            refusal,
        } = self;
        let refuse =
            |action, cause, rule, reasons: &[Reason]| refusal.refuse(action, cause, rule, reasons);
        let no_rule = |reasons: &[Reason]| refusal.no_rule(&action, &rule, reasons);
        let days_since = (today - last.at.date()).num_days();
        if let Some(within) = next.within_days
            && days_since > within
        {
            return Err(refuse(
                ActionKind::PhysicianReview,
                Cause::ReescalationOverdue {
                    days: days_since,
                    within_weeks: within / 7,
                },
                next.rule.clone(),
                reasons,
            ));
        }
        let mut volume = next.volume_ml;
        match &action {
            Action::Volume { volume_ml } => {
                if maintenance_ladder(ctx.rules, ctx.template).is_none() {
                    return Err(refuse(
                        ActionKind::PhysicianReview,
                        Cause::NoMaintenanceLadder,
                        rule,
                        reasons,
                    ));
                }
                volume = volume.min(*volume_ml);
            }
            Action::Repeat if last.maintenance => {
                volume = volume.min(last.volume_ml.ml());
            }
            Action::Restart => {
                let first = plan_dosing(ctx, 0).ok_or_else(|| no_rule(reasons))?;
                return Ok((first, not_before, wait));
            }
            Action::StepBack { .. } | Action::Reduce { .. } => {
                return Err(no_rule(reasons));
            }
            _ => {}
        }
        let dosing = maintenance_dosing(ctx, count + 1, volume).ok_or_else(|| no_rule(reasons))?;
        if dosing.dose.amount() > ctx.plan.maintenance.dose.amount() {
            return Err(no_rule(reasons));
        }
        Ok((dosing, not_before, wait))
    }
}

/// The visit is closed: say why, and what the next visit gives and when.
fn visit_closed(
    ctx: Context<'_>,
    s: &CourseState,
    today: NaiveDate,
    patient: &PatientView,
    why: VisitClosed,
    vial: Option<&VialInHand>,
) -> Decision {
    let cal = ctx.calendar;
    let tomorrow = today + Duration::days(1);
    let day = cal.on_or_after(tomorrow).unwrap_or(tomorrow);
    let at = NaiveDateTime::new(day, cal.opens);
    let later = next(ctx, s, at, patient, vial);
    if !later.action.gives() && later.action != ActionKind::Wait {
        return later;
    }
    Decision {
        action: ActionKind::VisitClosed,
        not_before: Some(later.not_before.map_or(at, |t| t.max(at))),
        visit_closed: Some(why),
        wait: None,
        ..later
    }
}
