//! An omalizumab course's state and its next action, from its events: injections counted, the
//! observation after each, a systemic reaction that holds the patient until a physician
//! reviews, a physician's stop. Pure. Not an allergen course: no dose ladder, no vials, no step
//! back; the dose and the dates are the course's frozen plan.

use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Cause, Event, EventKind, Hold, HoldKind, OtherCourse, Review, voided};
use crate::policy::Provenance;
use crate::policy::omalizumab_course::{
    CourseRules, Late, NOT_RECALCULATED, OmalizumabNext, OmalizumabPlan, next,
};

/// An omalizumab course's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OmalizumabState {
    /// The injections given (not corrected away): when.
    pub given: Vec<NaiveDateTime>,
    /// The last injection's observation, while it is open: when it was given.
    pub observing: Option<NaiveDateTime>,
    /// A hold only a physician's review lifts (a systemic reaction).
    pub review: Option<Hold>,
    /// A physician stopped the course.
    pub stopped: Option<Hold>,
    /// Days with a systemic reaction.
    pub systemic_dates: Vec<chrono::NaiveDate>,
    /// The last weight measured on the course: when, kg as recorded.
    pub weight: Option<(NaiveDateTime, String)>,
    /// A physician reviewed the course after that weight was measured.
    pub weight_reviewed: bool,
}

impl OmalizumabState {
    /// Replays an omalizumab course's events (corrected ones left out).
    pub fn replay(events: &[Event]) -> OmalizumabState {
        let gone = voided(events);
        let mut s = OmalizumabState::default();
        for e in events.iter().filter(|e| !gone.contains(&e.seq)) {
            match &e.kind {
                EventKind::OmalizumabGiven { .. } => {
                    s.given.push(e.at);
                    s.observing = Some(e.at);
                }
                EventKind::ObservationEnded { .. } => s.observing = None,
                EventKind::WeightMeasured { weight_kg } => {
                    s.weight = Some((e.at, weight_kg.clone()));
                    s.weight_reviewed = false;
                }
                EventKind::SystemicReaction {
                    grade,
                    onset_min,
                    symptom,
                    ..
                } => {
                    s.review = Some(Hold {
                        kind: HoldKind::Review,
                        cause: Cause::Systemic {
                            grade: *grade,
                            symptom: symptom.clone(),
                            onset_min: *onset_min,
                        },
                        since: e.at,
                        rule: None,
                    });
                    s.systemic_dates.push(e.at.date());
                    s.observing = None;
                }
                EventKind::PhysicianReview {
                    decision, reason, ..
                } => {
                    // Any review after a weight was measured has seen it (continue: the same
                    // dose; stop: the course ends).
                    s.weight_reviewed = true;
                    match decision {
                        Review::Stop => {
                            s.stopped = Some(Hold {
                                kind: HoldKind::Stopped,
                                cause: Cause::Physician {
                                    by: e.by.clone(),
                                    reason: reason.clone(),
                                },
                                since: e.at,
                                rule: None,
                            });
                            s.review = None;
                        }
                        _ => {
                            s.review = None;
                            s.stopped = None;
                        }
                    }
                }
                _ => {}
            }
        }
        s
    }

    /// What this course imposes on the patient's other courses: a systemic reaction's hold
    /// until a physician reviews it (a physician's own stop does not hold the others), and
    /// the last injection's observation while it is open (no allergen dose meanwhile).
    pub fn as_other(&self, course: i64, rules: &CourseRules) -> OtherCourse {
        OtherCourse {
            course,
            hold: self.review.clone(),
            systemic_dates: self.systemic_dates.clone(),
            injections: self.given.clone(),
            observing: self.observing.map(|at| {
                let min = observation_min(rules, self.given.len());
                (at, at + Duration::minutes(i64::from(min)))
            }),
            omalizumab: true,
        }
    }
}

/// What to do next on an omalizumab course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OmalizumabAction {
    /// DO NOT GIVE: this course or another of the patient's is held until a physician reviews.
    DoNotGive {
        /// The hold.
        hold: Hold,
        /// The course holding the patient, when it is another.
        held_by: Option<i64>,
    },
    /// A physician stopped the course.
    Stopped {
        /// The hold.
        hold: Hold,
    },
    /// The last injection's observation is open until this time (then it is recorded as ended).
    Observe {
        /// Until when.
        until: NaiveDateTime,
    },
    /// Another of the patient's courses has an injection under observation (its end not yet
    /// recorded): no omalizumab injection until it is recorded there.
    OtherObservation {
        /// That course.
        course: i64,
        /// Its injection.
        since: NaiveDateTime,
        /// Its observation's planned earliest end.
        until: NaiveDateTime,
    },
    /// The patient's measured weight differs from the weight the dose was laid for: ask the
    /// physician (continue with the same dose, or stop) before the next injection.
    WeightChanged {
        /// The weight at the start, kg (frozen with the plan).
        frozen_kg: Decimal,
        /// The weight measured, kg.
        measured_kg: Decimal,
        /// When it was measured.
        measured_at: NaiveDateTime,
        /// What the rules say.
        text: String,
        /// Where it comes from.
        provenance: Provenance,
    },
    /// The next injection (see its `not_before` and `late`).
    Next(OmalizumabNext),
}

/// The decision, with the sentence every output carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OmalizumabDecision {
    /// The action.
    #[serde(flatten)]
    pub action: OmalizumabAction,
    /// The label's rule on the dose (said on every output).
    pub note: &'static str,
}

/// The minutes of observation after injection number `number`.
pub fn observation_min(rules: &CourseRules, number: usize) -> u32 {
    if number <= usize::try_from(rules.first_injections).unwrap_or(usize::MAX) {
        rules.first_min
    } else {
        rules.later_min
    }
}

/// The next action on an omalizumab course at `now`.
pub fn decide(
    plan: &OmalizumabPlan,
    rules: &CourseRules,
    state: &OmalizumabState,
    others: &[OtherCourse],
    now: NaiveDateTime,
) -> OmalizumabDecision {
    let action = if let Some(h) = &state.stopped {
        OmalizumabAction::Stopped { hold: h.clone() }
    } else if let Some(h) = &state.review {
        OmalizumabAction::DoNotGive {
            hold: h.clone(),
            held_by: None,
        }
    } else if let Some((o, h)) = others
        .iter()
        .find_map(|o| o.hold.as_ref().map(|h| (o.course, h)))
    {
        OmalizumabAction::DoNotGive {
            hold: h.clone(),
            held_by: Some(o),
        }
    } else if let Some(at) = state.observing {
        let min = observation_min(rules, state.given.len());
        OmalizumabAction::Observe {
            until: at + Duration::minutes(i64::from(min)),
        }
    } else if let Some((course, (since, until))) = others
        .iter()
        .find_map(|o| o.observing.map(|w| (o.course, w)))
    {
        OmalizumabAction::OtherObservation {
            course,
            since,
            until,
        }
    } else if let Some(w) = weight_changed(plan, rules, state) {
        w
    } else {
        OmalizumabAction::Next(next(
            plan,
            rules,
            state.given.len(),
            state.given.last().map(|g| g.date()),
            now.date(),
        ))
    };
    OmalizumabDecision {
        action,
        note: NOT_RECALCULATED,
    }
}

/// The weight flag: the last weight measured differs from the plan's and no physician has
/// reviewed the course since (a weight the record cannot read counts as changed: fail closed).
fn weight_changed(
    plan: &OmalizumabPlan,
    rules: &CourseRules,
    state: &OmalizumabState,
) -> Option<OmalizumabAction> {
    let (at, kg) = state.weight.as_ref()?;
    if state.weight_reviewed {
        return None;
    }
    let measured = crate::units::parse_decimal(kg).unwrap_or(Decimal::ZERO);
    (measured != plan.weight_kg).then(|| OmalizumabAction::WeightChanged {
        frozen_kg: plan.weight_kg,
        measured_kg: measured,
        measured_at: *at,
        text: rules.weight_change_text.clone(),
        provenance: rules.weight_change.clone(),
    })
}

/// Why an omalizumab injection may not be recorded now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotGiven {
    /// Held, stopped, observing, or every injection given: the decision says what.
    Decision(Box<OmalizumabAction>),
    /// Before its date: no injection before its interval.
    TooEarly {
        /// Its number.
        number: usize,
        /// Its date.
        due: chrono::NaiveDate,
    },
    /// Past its date: the rules send it to a physician, who accepts it with a reason.
    Late(Late),
}

/// The injection to record at `at`, or why not: `accept_late` is a physician's reason.
pub fn check_give(
    plan: &OmalizumabPlan,
    rules: &CourseRules,
    state: &OmalizumabState,
    others: &[OtherCourse],
    at: NaiveDateTime,
    accept_late: bool,
) -> Result<usize, NotGiven> {
    match decide(plan, rules, state, others, at).action {
        OmalizumabAction::Next(OmalizumabNext::Injection {
            number,
            due,
            not_before,
            late,
            ..
        }) => {
            if not_before {
                return Err(NotGiven::TooEarly { number, due });
            }
            match late {
                Some(l) if !accept_late => Err(NotGiven::Late(l)),
                _ => Ok(number),
            }
        }
        other => Err(NotGiven::Decision(Box::new(other))),
    }
}

/// Omalizumab pretreatment as the record shows it on an immunotherapy course's day 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Pretreatment {
    /// The omalizumab course.
    pub course: i64,
    /// The first injection given.
    pub first: Option<chrono::NaiveDate>,
    /// Injections given up to day 1.
    pub doses: usize,
    /// Whole weeks from the first injection after the last gap to day 1 (0 after a lapse).
    pub weeks: u32,
    /// Gaps: (an injection, the next one or day 1) further apart than the interval and the
    /// rules' tolerance.
    pub gaps: Vec<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// The course goes on into the rush (not stopped, no lapse before day 1).
    pub continues: bool,
}

/// The pretreatment an omalizumab course's injections `given` make by `day1`.
pub fn pretreatment(
    course: i64,
    plan: &OmalizumabPlan,
    rules: &CourseRules,
    state: &OmalizumabState,
    day1: chrono::NaiveDate,
) -> Pretreatment {
    let given: Vec<chrono::NaiveDate> = state
        .given
        .iter()
        .map(NaiveDateTime::date)
        .filter(|d| *d <= day1)
        .collect();
    let allowed = i64::from(plan.every_weeks) * 7 + i64::from(rules.late_tolerance_days.value);
    let mut gaps = Vec::new();
    let mut from = given.first().copied();
    for w in given.windows(2) {
        if (w[1] - w[0]).num_days() > allowed {
            gaps.push((w[0], w[1]));
            from = Some(w[1]);
        }
    }
    let lapsed = given
        .last()
        .is_some_and(|last| (day1 - *last).num_days() > allowed);
    if let (true, Some(last)) = (lapsed, given.last()) {
        gaps.push((*last, day1));
    }
    // Pretreatment that has lapsed or that a physician stopped does not cover the rush: 0 weeks
    // (fail closed; the weeks would otherwise let the planner's pretreatment rule pass).
    let stopped = state.stopped.is_some();
    let weeks = match from {
        Some(f) if !lapsed && !stopped => u32::try_from((day1 - f).num_days() / 7).unwrap_or(0),
        _ => 0,
    };
    Pretreatment {
        course,
        first: given.first().copied(),
        doses: given.len(),
        weeks,
        gaps,
        continues: !lapsed && !stopped && !given.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::policy::omalizumab_course::lay;
    use crate::testkit::at;
    use rust_decimal::Decimal;

    fn plan(policy: &Policy) -> OmalizumabPlan {
        let eu = policy.omalizumab_table("eu").expect("eu");
        lay(
            eu,
            Decimal::from(410),
            Decimal::from(70),
            30,
            at("2026-12-07 00:00").date(),
        )
        .expect("dose")
    }

    fn other(observing: Option<(NaiveDateTime, NaiveDateTime)>) -> OtherCourse {
        OtherCourse {
            course: 3,
            hold: None,
            systemic_dates: Vec::new(),
            injections: observing.iter().map(|o| o.0).collect(),
            observing,
            omalizumab: false,
        }
    }

    #[test]
    fn no_omalizumab_injection_while_another_course_has_an_open_observation() {
        let policy = Policy::bundled().expect("rules");
        let rules = policy.omalizumab_course.as_ref().expect("course rules");
        let p = plan(&policy);
        let s = OmalizumabState::default();
        let now = at("2026-12-07 08:40");
        let open = other(Some((at("2026-12-07 08:00"), at("2026-12-07 08:30"))));
        // Past the other dose's minutes but its end not recorded: not yet.
        assert_eq!(
            decide(&p, rules, &s, std::slice::from_ref(&open), now).action,
            OmalizumabAction::OtherObservation {
                course: 3,
                since: at("2026-12-07 08:00"),
                until: at("2026-12-07 08:30"),
            }
        );
        assert!(matches!(
            check_give(&p, rules, &s, std::slice::from_ref(&open), now, false),
            Err(NotGiven::Decision(a)) if matches!(*a, OmalizumabAction::OtherObservation { .. })
        ));
        // Recorded as ended: the injection.
        let closed = other(None);
        assert_eq!(check_give(&p, rules, &s, &[closed], now, false), Ok(1));
        // A hold on another course comes first: DO NOT GIVE.
        let mut held = open.clone();
        held.hold = Some(Hold {
            kind: HoldKind::Review,
            cause: Cause::Physician {
                by: "Dr Wang".into(),
                reason: None,
            },
            since: now,
            rule: None,
        });
        assert!(matches!(
            decide(&p, rules, &s, &[held], now).action,
            OmalizumabAction::DoNotGive {
                held_by: Some(3),
                ..
            }
        ));
    }

    #[test]
    fn an_open_omalizumab_observation_is_what_the_other_courses_see() {
        let policy = Policy::bundled().expect("rules");
        let rules = policy.omalizumab_course.as_ref().expect("course rules");
        let mut s = OmalizumabState::default();
        for (i, t) in [
            "2026-12-07 09:00",
            "2027-01-04 09:00",
            "2027-02-01 09:00",
            "2027-03-01 09:00",
        ]
        .into_iter()
        .enumerate()
        {
            s.given.push(at(t));
            s.observing = Some(at(t));
            let o = s.as_other(8, rules);
            let min = if i < 3 { 120 } else { 30 };
            assert_eq!(
                o.observing,
                Some((at(t), at(t) + Duration::minutes(min))),
                "injection {}",
                i + 1
            );
            assert!(o.omalizumab);
        }
        s.observing = None;
        assert_eq!(s.as_other(8, rules).observing, None);
    }

    fn ev(seq: u64, t: &str, kind: EventKind) -> Event {
        Event {
            seq,
            at: at(t),
            by: "RN Li".into(),
            kind,
        }
    }

    #[test]
    fn a_weight_change_asks_the_physician_until_a_review_after_it() {
        let policy = Policy::bundled().expect("rules");
        let rules = policy.omalizumab_course.as_ref().expect("course rules");
        let p = plan(&policy);
        let now = at("2026-12-07 09:00");
        let weight = |kg: &str| EventKind::WeightMeasured {
            weight_kg: kg.into(),
        };
        let review = |d: Review| EventKind::PhysicianReview {
            about: None,
            decision: d,
            reason: Some("same cell of the table".into()),
        };
        // The same weight as at the start: no flag.
        let s = OmalizumabState::replay(&[ev(1, "2026-12-07 08:00", weight("70"))]);
        assert_eq!(check_give(&p, rules, &s, &[], now, false), Ok(1));
        // Another weight: ask the physician, with the rule's text and source.
        let mut events = vec![ev(1, "2026-12-07 08:00", weight("64.5"))];
        let s = OmalizumabState::replay(&events);
        match decide(&p, rules, &s, &[], now).action {
            OmalizumabAction::WeightChanged {
                frozen_kg,
                measured_kg,
                text,
                provenance,
                ..
            } => {
                assert_eq!(
                    (frozen_kg, measured_kg),
                    (Decimal::from(70), Decimal::new(645, 1))
                );
                assert_eq!(text, rules.weight_change_text);
                assert!(
                    provenance.source.contains("xolair-us-pi"),
                    "{}",
                    provenance.source
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_give(&p, rules, &s, &[], now, true),
            Err(NotGiven::Decision(a)) if matches!(*a, OmalizumabAction::WeightChanged { .. })
        ));
        // A physician's review after it lifts it (continue: the same dose).
        events.push(ev(2, "2026-12-07 08:30", review(Review::Continue)));
        let s = OmalizumabState::replay(&events);
        assert_eq!(check_give(&p, rules, &s, &[], now, false), Ok(1));
        // A later, different weight asks again; a review before it does not count.
        events.push(ev(3, "2026-12-07 08:40", weight("60")));
        let s = OmalizumabState::replay(&events);
        assert!(matches!(
            decide(&p, rules, &s, &[], now).action,
            OmalizumabAction::WeightChanged { .. }
        ));
        // A stop after it: the course is stopped.
        events.push(ev(4, "2026-12-07 08:50", review(Review::Stop)));
        let s = OmalizumabState::replay(&events);
        assert!(matches!(
            decide(&p, rules, &s, &[], now).action,
            OmalizumabAction::Stopped { .. }
        ));
        // A weight corrected away no longer counts.
        let events = vec![
            ev(1, "2026-12-07 08:00", weight("64.5")),
            ev(
                2,
                "2026-12-07 08:05",
                EventKind::Correction {
                    corrects: 1,
                    reason: "typed the wrong patient's weight".into(),
                },
            ),
        ];
        let s = OmalizumabState::replay(&events);
        assert_eq!(check_give(&p, rules, &s, &[], now, false), Ok(1));
    }
}
