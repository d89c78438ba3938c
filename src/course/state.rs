//! The state a course's events lead to: its phase (up-dosing at a plan position, or maintenance
//! with its next visit), today's visit, the open observation and the holds. [`replay`] folds the
//! live events (those no correction voided) through [`CourseState::apply`]; the same events
//! always give the same state.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::Context;
use super::event::{Event, EventKind, LateKind, Review, WaoGrade, voided};
use super::ladder::{
    Ladder, first_above, first_of_rung, last_of_visit, maintenance_ladder, maintenance_rung,
};
use super::reason::{Cause, Hold, HoldKind, MaintenanceBasis, Reason, VisitClosed};
use crate::policy::Provenance;
use crate::policy::course::Action;
use crate::units::{Dose, Volume};

/// A dose given, as the state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Given {
    /// Event number.
    pub seq: u64,
    /// Plan step (plan length + n for the n-th maintenance dose).
    pub step: usize,
    /// When.
    pub at: NaiveDateTime,
    /// Dose.
    pub dose: Dose,
    /// Volume.
    pub volume_ml: Volume,
    /// Vial id.
    pub vial: String,
    /// A maintenance dose.
    pub maintenance: bool,
    /// Exactly the plan step's dose (not a reduced or overridden volume).
    pub on_plan: bool,
    /// A physician's override.
    pub overridden: bool,
    /// The lot recorded with the dose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// The manufacturer of the recorded vial the dose was drawn from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// The code of the recorded vial the dose was drawn from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vial_code: Option<String>,
}

/// How an observation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObservationEnd {
    /// When it was recorded as ended.
    pub at: NaiveDateTime,
    /// Immediate local reaction, mm.
    pub local_mm: Option<u32>,
    /// Not assessable.
    pub not_assessable: bool,
    /// Ended before the planned minimum, for this reason.
    pub early_reason: Option<String>,
}

/// The observation after the last dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// The dose's event number.
    pub dose_seq: u64,
    /// The dose's step.
    pub step: usize,
    /// The injection time: the observation is measured from it.
    pub at: NaiveDateTime,
    /// The planned minimum (per step, risk-adjusted; the day-end observation included where
    /// the plan makes it the day's last).
    pub planned_min: u32,
    /// A maintenance dose.
    pub maintenance: bool,
    /// How it ended, once recorded.
    pub ended: Option<ObservationEnd>,
}

/// One clinic day's injections of the course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Visit {
    /// The day.
    pub date: NaiveDate,
    /// Injections given.
    pub injections: u32,
    /// Their total dose.
    pub total: Decimal,
    /// Closed: no further injection, and why.
    pub closed: Option<VisitClosed>,
}

/// The next maintenance visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaintenanceVisit {
    /// mL of the maintenance vial.
    pub volume_ml: Decimal,
    /// Not before this many days after the previous dose.
    pub after_days: i64,
    /// Not later than this many days (beyond it the rules give no dose: the physician decides).
    pub within_days: Option<i64>,
    /// Why.
    pub basis: MaintenanceBasis,
    /// The rule behind it.
    pub rule: Option<Provenance>,
}

/// Up-dosing or maintenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Up-dosing: the next injection is plan step `cursor + 1`, or `custom` when a rule set a
    /// dose off the grid (a percentage reduction).
    UpDosing {
        /// 0-based plan index of the next injection.
        cursor: usize,
        /// A dose off the grid set by a rule for the next visit.
        custom_percent: Option<Decimal>,
    },
    /// Maintenance.
    Maintenance {
        /// Maintenance doses given.
        count: usize,
        /// The next visit.
        next: MaintenanceVisit,
        /// The visits after it (re-escalation), before the steady interval.
        queue: Vec<MaintenanceVisit>,
    },
}

/// The state a course's events lead to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseState {
    /// Where the course stands.
    pub phase: Phase,
    /// Doses given, in order (corrected ones left out).
    pub given: Vec<Given>,
    /// The last dose's observation.
    pub observation: Option<Observation>,
    /// The latest visit.
    pub visit: Option<Visit>,
    /// A physician must review before any further dose.
    pub review: Option<Hold>,
    /// The course has stopped.
    pub stopped: Option<Hold>,
    /// The course has ended for good.
    pub ended: Option<Hold>,
    /// Dose steps back that a physician's `continue` applies.
    pub continue_steps: u32,
    /// Days with a systemic reaction.
    pub systemic_dates: Vec<NaiveDate>,
    /// Why the next dose is what it is, since the last dose.
    pub reasons: Vec<Reason>,
    /// The latest physician review.
    pub reviewed_at: Option<NaiveDateTime>,
    /// Each physician review's time and what it answers (a vial change that asks the physician
    /// is lifted only by a review that answers it: `course::vial`).
    #[serde(skip)]
    pub reviews: Vec<(NaiveDateTime, Option<super::event::ReviewAbout>)>,
    /// The course's vials (a corrected addition left out), in the order they were added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vials: Vec<VialState>,
}

/// A vial of the course, as its events leave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VialState {
    /// Its code (`V000001`).
    pub code: String,
    /// The template's vial id.
    pub vial: String,
    /// The manufacturer's lot.
    pub lot: String,
    /// The lot's expiry date.
    pub lot_expires: NaiveDate,
    /// The effective expiry (the earlier of the lot's date and the clinic's policy).
    pub expires: NaiveDate,
    /// Which policy row shortened the expiry, in words.
    pub expiry_rule: Option<String>,
    /// The manufacturer.
    pub manufacturer: Option<String>,
    /// When it was prepared.
    pub prepared: Option<NaiveDate>,
    /// Its volume.
    pub volume_ml: Option<Volume>,
    /// GS1 GTIN, when scanned.
    pub gtin: Option<String>,
    /// GS1 serial, when scanned.
    pub serial: Option<String>,
    /// When it was added.
    pub added_at: NaiveDateTime,
    /// When and why it was discarded.
    pub discarded: Option<(NaiveDateTime, String)>,
    /// Doses recorded as drawn from it.
    pub doses_drawn: u32,
}

/// Whether a vial may be used on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VialStatus {
    /// In use.
    Active,
    /// Past its expiry date.
    Expired,
    /// Taken out of use.
    Discarded,
}

impl VialStatus {
    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            VialStatus::Active => "active",
            VialStatus::Expired => "expired",
            VialStatus::Discarded => "discarded",
        }
    }
}

impl VialState {
    /// Its status on `date`: discarded first, then expired when `date` is after its expiry (a
    /// vial is usable on its expiry date), else active.
    pub fn state_on(&self, date: NaiveDate) -> VialStatus {
        if self.discarded.is_some() {
            VialStatus::Discarded
        } else if date > self.expires {
            VialStatus::Expired
        } else {
            VialStatus::Active
        }
    }
}

/// Derives a course's state from its events, in order. Corrected events do not count.
pub fn replay(ctx: Context<'_>, events: &[Event]) -> CourseState {
    let voided = voided(events);
    let mut s = CourseState::new();
    for e in events.iter().filter(|e| !voided.contains(&e.seq)) {
        s.apply(ctx, e);
    }
    s
}

impl Default for CourseState {
    fn default() -> Self {
        Self::new()
    }
}

impl CourseState {
    /// A course before its first event.
    pub fn new() -> CourseState {
        CourseState {
            phase: Phase::UpDosing {
                cursor: 0,
                custom_percent: None,
            },
            given: Vec::new(),
            observation: None,
            visit: None,
            review: None,
            stopped: None,
            ended: None,
            continue_steps: 0,
            systemic_dates: Vec::new(),
            reasons: Vec::new(),
            reviewed_at: None,
            reviews: Vec::new(),
            vials: Vec::new(),
        }
    }

    /// Whether the course is over (stopped or ended): not active.
    pub fn inactive(&self) -> bool {
        self.ended.is_some() || self.stopped.is_some()
    }

    /// The visit of `date`, if the latest visit is that day.
    pub fn visit_on(&self, date: NaiveDate) -> Option<&Visit> {
        self.visit.as_ref().filter(|v| v.date == date)
    }

    /// Whether the course is in maintenance.
    pub fn in_maintenance(&self) -> bool {
        matches!(self.phase, Phase::Maintenance { .. })
    }

    /// Applies one live event.
    pub fn apply(&mut self, ctx: Context<'_>, e: &Event) {
        match &e.kind {
            EventKind::DoseGiven {
                step,
                vial,
                volume_ml,
                dose,
                override_reason,
                lot,
                vial_code,
                ..
            } => {
                // A dose drawn from a recorded vial: counted on the vial, and its manufacturer
                // kept with the dose (for the new-manufacturer rule).
                let mut manufacturer = None;
                if let Some(code) = vial_code
                    && let Some(v) = self.vials.iter_mut().find(|v| v.code == *code)
                {
                    v.doses_drawn = v.doses_drawn.saturating_add(1);
                    manufacturer = v.manufacturer.clone();
                }
                self.dose_given(
                    ctx,
                    e,
                    *step,
                    vial,
                    *volume_ml,
                    *dose,
                    override_reason.is_some(),
                    lot.as_deref(),
                    (manufacturer, vial_code.clone()),
                )
            }
            EventKind::VialAdded {
                code,
                vial,
                lot,
                lot_expires,
                expires,
                expiry_rule,
                manufacturer,
                prepared,
                volume_ml,
                gtin,
                serial,
            } => self.vials.push(VialState {
                code: code.clone(),
                vial: vial.clone(),
                lot: lot.clone(),
                lot_expires: *lot_expires,
                expires: *expires,
                expiry_rule: expiry_rule.clone(),
                manufacturer: manufacturer.clone(),
                prepared: *prepared,
                volume_ml: *volume_ml,
                gtin: gtin.clone(),
                serial: serial.clone(),
                added_at: e.at,
                discarded: None,
                doses_drawn: 0,
            }),
            EventKind::VialDiscarded { code, reason } => {
                if let Some(v) = self.vials.iter_mut().find(|v| v.code == *code) {
                    v.discarded = Some((e.at, reason.clone()));
                }
            }
            EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                early_reason,
            } => {
                self.observation_ended(ctx, e, *local_mm, *not_assessable, early_reason.as_deref())
            }
            EventKind::LateLocalReaction { mm } => {
                self.local_reaction(ctx, e, *mm, true, e.at.date());
            }
            EventKind::SystemicReaction {
                grade,
                onset_min,
                symptom,
                ..
            } => self.systemic_reaction(ctx, e, *grade, *onset_min, symptom),
            EventKind::LateReaction { kind, .. } => self.late_reaction(ctx, e, *kind),
            EventKind::DoseDeferred { reason } => self.dose_deferred(e, reason),
            EventKind::PhysicianReview {
                decision,
                reason,
                about,
            } => {
                self.reviews.push((e.at, about.clone()));
                self.review_decision(ctx, e, decision, reason.as_deref());
            }
            EventKind::Correction { .. }
            | EventKind::Note { .. }
            | EventKind::Migrated { .. }
            | EventKind::OmalizumabGiven { .. }
            | EventKind::WeightMeasured { .. }
            | EventKind::FollowUp { .. } => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dose_given(
        &mut self,
        ctx: Context<'_>,
        e: &Event,
        step: usize,
        vial: &str,
        volume_ml: Volume,
        dose: Dose,
        overridden: bool,
        lot: Option<&str>,
        (manufacturer, vial_code): (Option<String>, Option<String>),
    ) {
        let plan = ctx.plan;
        let maintenance = step > plan.steps.len();
        let rebuild =
            maintenance && super::vial::rebuild_rung(ctx, self, vial, lot, volume_ml.ml());
        let date = e.at.date();
        let late_closes = self.late_dose_closes_visit(ctx, date);
        self.count_injection(date, dose);
        let on_plan = plan
            .steps
            .get(step.wrapping_sub(1))
            .is_some_and(|s| s.dose == dose && s.volume_ml == volume_ml);
        self.observation = Some(Observation {
            dose_seq: e.seq,
            step,
            at: e.at,
            planned_min: planned_observation_min(ctx, step, maintenance),
            maintenance,
            ended: None,
        });
        self.given.push(Given {
            seq: e.seq,
            step,
            at: e.at,
            dose,
            volume_ml,
            vial: vial.to_string(),
            maintenance,
            on_plan,
            overridden,
            lot: lot.map(|l| l.trim().to_string()),
            manufacturer,
            vial_code,
        });
        self.restart_reasons(e, step, maintenance, dose, overridden);
        if late_closes {
            self.close_visit(date, VisitClosed::LateDose);
        }
        if maintenance {
            // One maintenance injection per visit, never more than the maintenance dose in a
            // visit (a floor in code: the maintenance dose is the most one visit may give).
            self.close_visit(date, VisitClosed::MaintenanceGiven);
            self.maintenance_given(ctx, volume_ml.ml(), e.at, rebuild);
        } else {
            self.updosing_given(ctx, date, step, dose, on_plan);
        }
        self.close_at_injection_cap(ctx, date);
    }

    /// Whether a dose on `date` opens a new visit after an earlier one and a late-dose band then
    /// applies to it that makes it the visit's only injection (asked before the dose is counted).
    fn late_dose_closes_visit(&self, ctx: Context<'_>, date: NaiveDate) -> bool {
        let opens_visit = self.visit_on(date).is_none_or(|v| v.injections == 0);
        opens_visit
            && !self.given.is_empty()
            && super::next::late_band(ctx, self, date).is_some_and(|(b, _)| b.close_visit)
    }

    /// Counts a dose into the visit of `date`, opening the visit if it is the day's first.
    fn count_injection(&mut self, date: NaiveDate, dose: Dose) {
        if self.visit_on(date).is_none() {
            self.visit = Some(Visit {
                date,
                injections: 0,
                total: Decimal::ZERO,
                closed: None,
            });
        }
        if let Some(v) = self.visit.as_mut() {
            v.injections += 1;
            v.total += dose.amount();
        }
    }

    /// A new dose starts the reasons afresh (and what a physician's `continue` applies): the
    /// dose given is the first.
    fn restart_reasons(
        &mut self,
        e: &Event,
        step: usize,
        maintenance: bool,
        dose: Dose,
        overridden: bool,
    ) {
        self.continue_steps = 0;
        self.reasons.clear();
        let count = match &self.phase {
            Phase::Maintenance { count, .. } => *count,
            Phase::UpDosing { .. } => 0,
        };
        self.reasons.push(Reason::Given {
            step,
            maintenance: maintenance.then_some(count + 1),
            at: e.at,
            dose,
            overridden,
        });
    }

    /// An up-dosing dose moves the cursor: past its step when on the plan, else to the first
    /// step above the dose. Off the plan, or at the planned visit's last step, the visit closes;
    /// past the plan's last step, maintenance begins.
    fn updosing_given(
        &mut self,
        ctx: Context<'_>,
        date: NaiveDate,
        step: usize,
        dose: Dose,
        on_plan: bool,
    ) {
        let plan = ctx.plan;
        let cursor = if on_plan {
            step
        } else {
            first_above(plan, dose.amount())
        };
        if !on_plan {
            self.close_visit(date, VisitClosed::OffGrid);
        } else if last_of_visit(plan, step - 1) {
            self.close_visit(date, VisitClosed::PlannedVisitComplete);
        }
        if cursor >= plan.steps.len() {
            self.close_visit(date, VisitClosed::PlannedVisitComplete);
            self.enter_maintenance(ctx);
        } else {
            self.phase = Phase::UpDosing {
                cursor,
                custom_percent: None,
            };
        }
    }

    /// Closes the visit of `date` once it has had the most injections the plan allows.
    fn close_at_injection_cap(&mut self, ctx: Context<'_>, date: NaiveDate) {
        let max = ctx.plan.limits.max_injections;
        if let Some(v) = self.visit.clone()
            && v.closed.is_none()
            && v.injections >= max
        {
            self.close_visit(date, VisitClosed::InjectionCap { max });
        }
    }

    /// The end of a dose's observation: leaving early closes the visit; the local reaction is
    /// read against the rules, and one not assessable or not recorded holds for a review.
    fn observation_ended(
        &mut self,
        ctx: Context<'_>,
        e: &Event,
        local_mm: Option<u32>,
        not_assessable: bool,
        early_reason: Option<&str>,
    ) {
        let Some(obs) = self.observation.as_mut() else {
            return;
        };
        obs.ended = Some(ObservationEnd {
            at: e.at,
            local_mm,
            not_assessable,
            early_reason: early_reason.map(str::to_string),
        });
        let dose_date = obs.at.date();
        self.reasons.push(Reason::ObservationEnded {
            at: e.at,
            early: early_reason.map(str::to_string),
        });
        if let Some(why) = early_reason {
            self.close_visit(
                dose_date,
                VisitClosed::LeftEarly {
                    reason: why.to_string(),
                },
            );
        }
        match (local_mm, not_assessable) {
            (_, true) => self.hold(HoldKind::Review, Cause::LocalNotAssessable, e.at, None),
            (None, false) => self.hold(HoldKind::Review, Cause::LocalNotRecorded, e.at, None),
            (Some(mm), false) => self.local_reaction(ctx, e, mm, false, dose_date),
        }
    }

    /// A systemic reaction: no more injections at its visit, then what the rules (with the
    /// floors in code) say for its grade.
    fn systemic_reaction(
        &mut self,
        ctx: Context<'_>,
        e: &Event,
        grade: WaoGrade,
        onset_min: u32,
        symptom: &str,
    ) {
        if !self.systemic_dates.contains(&e.at.date()) {
            self.systemic_dates.push(e.at.date());
        }
        // No injection at a visit after a systemic reaction (docs/sources.md: ritplan-default):
        // a floor in code, whatever the rules file says.
        self.close_visit(e.at.date(), VisitClosed::Systemic);
        let cause = Cause::Systemic {
            grade,
            symptom: symptom.to_string(),
            onset_min,
        };
        let Some(rule) = ctx.rules.systemic(grade.grade) else {
            self.hold(HoldKind::Review, cause, e.at, None);
            return;
        };
        // Floors again (the loader refuses such files): grade 5 ends, grade 4 stops,
        // grade 2 or more needs a physician.
        let action = match (&rule.action, grade.grade) {
            (_, 5) => Action::End,
            (Action::End, _) => Action::End,
            (_, 4) => Action::Stop,
            (a, g) if g >= 2 && !a.needs_physician() => Action::Review,
            (a, _) => a.clone(),
        };
        // What a physician's `continue` applies: the most any pending reaction asks.
        self.continue_steps = self.continue_steps.max(rule.steps);
        self.reasons.push(Reason::Systemic {
            grade,
            symptom: symptom.to_string(),
            onset_min,
            action: action.clone(),
            rule: rule.provenance.clone(),
        });
        self.act(ctx, &action, cause, e.at, Some(&rule.provenance));
    }

    /// A late (6-24 h) non-local reaction: what the rules say for its kind.
    fn late_reaction(&mut self, ctx: Context<'_>, e: &Event, kind: LateKind) {
        let cause = Cause::LateReaction { kind };
        let Some(rule) = ctx.rules.late_reaction(kind) else {
            self.hold(HoldKind::Review, cause, e.at, None);
            return;
        };
        self.close_visit(e.at.date(), VisitClosed::Reaction);
        self.reasons.push(Reason::LateReaction {
            kind,
            action: rule.action.clone(),
            rule: rule.provenance.clone(),
        });
        self.act(ctx, &rule.action, cause, e.at, Some(&rule.provenance));
    }

    /// Today's dose deferred: the visit closes, with the reason.
    fn dose_deferred(&mut self, e: &Event, reason: &str) {
        self.close_visit(
            e.at.date(),
            VisitClosed::Deferred {
                reason: reason.to_string(),
            },
        );
        self.reasons.push(Reason::Deferred {
            on: e.at.date(),
            reason: reason.to_string(),
        });
    }

    fn enter_maintenance(&mut self, ctx: Context<'_>) {
        let m = &ctx.template.maintenance;
        let full = m.volume_ml.ml();
        let mut queue: Vec<MaintenanceVisit> = m
            .first_intervals_weeks
            .iter()
            .map(|w| MaintenanceVisit {
                volume_ml: full,
                after_days: i64::from(*w) * 7,
                within_days: None,
                basis: MaintenanceBasis::FirstInterval,
                rule: None,
            })
            .collect();
        let next = if queue.is_empty() {
            steady(ctx)
        } else {
            queue.remove(0)
        };
        self.phase = Phase::Maintenance {
            count: 0,
            next,
            queue,
        };
    }

    /// A maintenance dose: the next visit follows from it. A rung of a rebuild after a new lot
    /// keeps the next visit as it was (the rebuild's next rung, then the schedule's dose).
    fn maintenance_given(
        &mut self,
        ctx: Context<'_>,
        volume: Decimal,
        at: NaiveDateTime,
        rebuild: bool,
    ) {
        let full = ctx.template.maintenance.volume_ml.ml();
        if !self.in_maintenance() {
            self.enter_maintenance(ctx);
        }
        let Phase::Maintenance { count, next, queue } = &mut self.phase else {
            return;
        };
        *count += 1;
        let reduced = volume < next.volume_ml || next.basis == MaintenanceBasis::Reduced;
        if rebuild {
            // The interval to the next rung is the schedule's next visit's.
        } else if reduced && volume < full {
            // A reduction: climb back by the re-escalation rule for this volume.
            let plan = match reescalation(ctx, volume) {
                Some(p) => p,
                None => {
                    let cause = if maintenance_ladder(ctx.rules, ctx.template).is_none() {
                        Cause::NoMaintenanceLadder
                    } else {
                        Cause::BelowMaintenanceLadder
                    };
                    *next = steady(ctx);
                    queue.clear();
                    self.hold(HoldKind::Review, cause, at, None);
                    return;
                }
            };
            let mut plan = plan;
            *next = plan.remove(0);
            *queue = plan;
        } else if queue.is_empty() {
            *next = steady(ctx);
        } else {
            *next = queue.remove(0);
        }
        let n = next.clone();
        self.reasons.push(Reason::MaintenanceSchedule {
            volume_ml: n.volume_ml,
            after_days: n.after_days,
            basis: n.basis,
            rule: n.rule,
        });
    }

    fn local_reaction(
        &mut self,
        ctx: Context<'_>,
        e: &Event,
        mm: u32,
        late: bool,
        visit_date: NaiveDate,
    ) {
        let cause = Cause::LocalReaction { mm, late };
        let Some(band) = ctx.rules.local(mm) else {
            self.hold(HoldKind::Review, cause, e.at, None);
            return;
        };
        // A late reaction never raises the next dose: only actions that lower or hold apply.
        let action = match (&band.action, late) {
            (Action::Proceed, true) => Action::Proceed,
            (a, _) => a.clone(),
        };
        if band.close_visit || action.needs_physician() {
            self.close_visit(visit_date, VisitClosed::Reaction);
        }
        self.reasons.push(Reason::Local {
            mm,
            late,
            band: band.range.written.clone(),
            action: action.clone(),
            next_visit: band.close_visit,
            rule: band.provenance.clone(),
        });
        self.act(ctx, &action, cause, e.at, Some(&band.provenance));
    }

    /// What a rule's action does to the next dose, relative to the last dose given. Every
    /// action can only hold or lower the next dose, never raise it.
    fn act(
        &mut self,
        ctx: Context<'_>,
        action: &Action,
        cause: Cause,
        at: NaiveDateTime,
        rule: Option<&Provenance>,
    ) {
        match action {
            Action::Proceed => {}
            Action::Review => self.hold(HoldKind::Review, cause, at, rule.cloned()),
            Action::Stop => self.hold(HoldKind::Stopped, cause, at, rule.cloned()),
            Action::End => self.hold(HoldKind::Ended, cause, at, rule.cloned()),
            Action::Restart => {
                self.phase = Phase::UpDosing {
                    cursor: 0,
                    custom_percent: None,
                };
            }
            Action::Repeat => self.lower(ctx, 0, at),
            Action::StepBack { steps } => self.lower(ctx, *steps, at),
            Action::Reduce { percent } => match &mut self.phase {
                Phase::UpDosing { custom_percent, .. } => {
                    *custom_percent = Some(custom_percent.map_or(*percent, |p| p.max(*percent)));
                }
                Phase::Maintenance { .. } => self.hold(
                    HoldKind::Review,
                    Cause::NoRuleForPhase {
                        action: action.clone(),
                    },
                    at,
                    rule.cloned(),
                ),
            },
            Action::Volume { volume_ml } => match &mut self.phase {
                Phase::Maintenance { next, .. } if *volume_ml <= next.volume_ml => {
                    next.volume_ml = *volume_ml;
                    next.basis = MaintenanceBasis::Reduced;
                }
                Phase::Maintenance { .. } => {}
                Phase::UpDosing { .. } => self.hold(
                    HoldKind::Review,
                    Cause::NoRuleForPhase {
                        action: action.clone(),
                    },
                    at,
                    rule.cloned(),
                ),
            },
        }
    }

    /// The next dose no higher than `steps` rungs below the last dose (0: the last dose
    /// again), on the ladder of the phase the last dose belongs to: a reaction to the last
    /// up-dosing dose steps back into up-dosing; one to a maintenance dose goes down the
    /// maintenance ladder.
    fn lower(&mut self, ctx: Context<'_>, steps: u32, at: NaiveDateTime) {
        let Some(last) = self.given.last().cloned() else {
            return;
        };
        if !last.maintenance {
            let l = Ladder::of(ctx.plan);
            let (rung, floor) = l.below(last.dose.amount(), steps);
            if floor {
                self.reasons.push(Reason::LadderFloor { asked: steps });
            }
            let index = first_of_rung(ctx.plan, &l, rung);
            match &mut self.phase {
                Phase::UpDosing { cursor, .. } => *cursor = (*cursor).min(index),
                Phase::Maintenance { .. } => {
                    let same_as_maintenance =
                        last.dose.amount() >= ctx.plan.maintenance.dose.amount();
                    if !(steps == 0 && same_as_maintenance) {
                        self.phase = Phase::UpDosing {
                            cursor: index,
                            custom_percent: None,
                        };
                    }
                }
            }
            return;
        }
        let ladder = maintenance_ladder(ctx.rules, ctx.template);
        let Phase::Maintenance { next, .. } = &mut self.phase else {
            return;
        };
        let last_ml = last.volume_ml.ml();
        if steps == 0 {
            if last_ml < next.volume_ml {
                next.volume_ml = last_ml;
                next.basis = MaintenanceBasis::Reduced;
            }
            return;
        }
        let Some(ladder) = ladder else {
            self.hold(HoldKind::Review, Cause::NoMaintenanceLadder, at, None);
            return;
        };
        let target = maintenance_rung(ladder, last_ml)
            .and_then(|r| r.checked_sub(usize::try_from(steps).unwrap_or(usize::MAX)));
        match target.and_then(|t| ladder.volumes_ml.get(t)) {
            Some(v) => {
                if *v <= next.volume_ml {
                    next.volume_ml = *v;
                    next.basis = MaintenanceBasis::Reduced;
                }
            }
            None => self.hold(HoldKind::Review, Cause::BelowMaintenanceLadder, at, None),
        }
    }

    fn review_decision(
        &mut self,
        ctx: Context<'_>,
        e: &Event,
        decision: &Review,
        reason: Option<&str>,
    ) {
        self.reviewed_at = Some(self.reviewed_at.map_or(e.at, |r| r.max(e.at)));
        self.reasons.push(Reason::Reviewed {
            decision: decision.clone(),
            by: e.by.clone(),
            reason: reason.map(str::to_string),
        });
        if self.ended.is_some() {
            // Only a correction of the record undoes an end.
            return;
        }
        let has_reason = reason.is_some_and(|r| !r.trim().is_empty());
        if *decision == Review::Stop {
            self.stopped = Some(Hold {
                kind: HoldKind::Stopped,
                cause: Cause::Physician {
                    by: e.by.clone(),
                    reason: reason.map(str::to_string),
                },
                since: e.at,
                rule: None,
            });
            return;
        }
        if self.stopped.is_some() && !has_reason {
            // Resuming a stopped course needs the reason in words (the record check refuses
            // it before it is written; an older record is read the same way).
            return;
        }
        self.review = None;
        self.stopped = None;
        let steps = std::mem::take(&mut self.continue_steps);
        match decision {
            Review::Continue if steps > 0 => self.lower(ctx, steps, e.at),
            Review::Continue | Review::Stop => {}
            Review::Repeat => self.lower(ctx, 0, e.at),
            Review::StepBack { steps } => self.lower(ctx, *steps, e.at),
            Review::Restart => {
                self.phase = Phase::UpDosing {
                    cursor: 0,
                    custom_percent: None,
                }
            }
        }
    }

    fn hold(&mut self, kind: HoldKind, cause: Cause, at: NaiveDateTime, rule: Option<Provenance>) {
        let h = Hold {
            kind,
            cause,
            since: at,
            rule,
        };
        let slot = match kind {
            HoldKind::Review => &mut self.review,
            HoldKind::Stopped => &mut self.stopped,
            HoldKind::Ended => &mut self.ended,
        };
        // The first hold stays, except that a reaction's replaces a physician's own stop: a
        // systemic reaction recorded on a course a physician had stopped still holds the
        // patient's other courses until a physician reviews it (found by the model test).
        let physician = |h: &Hold| matches!(h.cause, Cause::Physician { .. });
        if slot
            .as_ref()
            .is_none_or(|old| physician(old) && !physician(&h))
        {
            *slot = Some(h);
        }
    }

    /// Closes the visit of `date` (creating it if the latest visit is older).
    fn close_visit(&mut self, date: NaiveDate, why: VisitClosed) {
        match self.visit.as_mut() {
            Some(v) if v.date == date => {
                if v.closed.is_none() {
                    v.closed = Some(why);
                }
            }
            Some(v) if v.date > date => {}
            _ => {
                self.visit = Some(Visit {
                    date,
                    injections: 0,
                    total: Decimal::ZERO,
                    closed: Some(why),
                })
            }
        }
    }
}

/// The observation a dose of `step` is planned with: the step's, or the template's for a
/// maintenance dose (or a step the plan does not have).
fn planned_observation_min(ctx: Context<'_>, step: usize, maintenance: bool) -> u32 {
    if maintenance {
        ctx.template.timing.observation_min
    } else {
        ctx.plan
            .steps
            .get(step.wrapping_sub(1))
            .map_or(ctx.template.timing.observation_min, |s| s.observation_min)
    }
}

/// The steady maintenance visit: the full dose, not before the nominal interval minus the
/// tolerance (8 ± 2 weeks: from 6 weeks).
fn steady(ctx: Context<'_>) -> MaintenanceVisit {
    let m = &ctx.template.maintenance;
    MaintenanceVisit {
        volume_ml: m.volume_ml.ml(),
        after_days: i64::from(
            m.interval_weeks
                .saturating_sub(m.interval_tolerance_weeks)
                .max(1),
        ) * 7,
        within_days: None,
        basis: MaintenanceBasis::Steady {
            weeks: m.interval_weeks,
            tolerance_weeks: m.interval_tolerance_weeks,
        },
        rule: None,
    }
}

/// The visits that climb back from a reduced maintenance volume: each higher rung of the ladder
/// on the rule's step-up interval, then the full dose on the rule's intervals. `None` when the
/// rules have no ladder or no rule for the volume (the physician decides).
fn reescalation(ctx: Context<'_>, volume: Decimal) -> Option<Vec<MaintenanceVisit>> {
    let ladder = maintenance_ladder(ctx.rules, ctx.template)?;
    let rule = ctx.rules.reescalation_for(volume)?;
    let mut out: Vec<MaintenanceVisit> = ladder
        .volumes_ml
        .iter()
        .filter(|v| **v > volume)
        .map(|v| MaintenanceVisit {
            volume_ml: *v,
            after_days: i64::from(rule.step_up_after_weeks) * 7,
            within_days: rule.step_up_within_weeks.map(|w| i64::from(w) * 7),
            basis: MaintenanceBasis::StepUp,
            rule: Some(rule.provenance.clone()),
        })
        .collect();
    out.extend(rule.full_after_weeks.iter().map(|w| MaintenanceVisit {
        volume_ml: ladder.full_volume_ml,
        after_days: i64::from(*w) * 7,
        within_days: None,
        basis: MaintenanceBasis::FullAfterReduction,
        rule: Some(rule.provenance.clone()),
    }));
    (!out.is_empty()).then_some(out)
}

/// The injection time plus the observation the dose needs now: the planned minimum, and the
/// day-end observation when the visit has closed after an up-dosing dose that was not planned
/// as the day's last.
pub fn required_observation(ctx: Context<'_>, state: &CourseState, obs: &Observation) -> u32 {
    let closed = state
        .visit_on(obs.at.date())
        .is_some_and(|v| v.closed.is_some());
    if closed && !obs.maintenance {
        obs.planned_min
            .max(ctx.template.timing.last_of_day_observation_min)
    } else {
        obs.planned_min
    }
}

/// When the observation may end at the earliest.
pub fn observation_until(
    ctx: Context<'_>,
    state: &CourseState,
    obs: &Observation,
) -> NaiveDateTime {
    obs.at + Duration::minutes(i64::from(required_observation(ctx, state, obs)))
}
