//! Scenario tests of the state machine, each citing the docs/sources.md entry it follows, and the
//! model-based property test of its safety invariants.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use super::*;
use crate::planner::{ClinicCalendar, Plan};
use crate::policy::course::CourseRules;
use crate::testkit::{Bundled as World, at, bundled as world, date, make_plan, weekdays};
use crate::units::Volume;

struct Fixture {
    w: World,
    plan: Plan,
    cal: ClinicCalendar,
    template: &'static str,
    /// The template as the course uses it, where a test changed it.
    custom: Option<crate::template::Template>,
}

impl Fixture {
    /// A low-risk adult (34 years, sIgE 2, total IgE 410).
    fn new(template: &'static str) -> Fixture {
        Fixture::with(template, 34, "2")
    }

    fn with(template: &'static str, age: u32, sige: &str) -> Fixture {
        let w = world();
        let plan = make_plan(&w, template, age, sige);
        Fixture {
            w,
            plan,
            cal: weekdays(),
            template,
            custom: None,
        }
    }

    /// The same template with an H1 antihistamine `status` before the first injection of each
    /// day, taken 60 to 240 min before (120 min meant), in place of whatever it says.
    fn with_premedication(mut self, status: crate::template::PremedStatus) -> Fixture {
        use crate::template::{PremedAnchor, PremedClass, Premedication};
        let mut t = self.w.catalog.get(self.template).expect("template").clone();
        t.premedication = vec![Premedication {
            class: PremedClass::H1,
            drug: Some("loratadine".into()),
            dose: Some("10 mg".into()),
            anchor: PremedAnchor::FirstInjectionOfDay,
            before_min: 120,
            at_least_min: 60,
            at_most_min: 240,
            status,
            source: Some("premedication".into()),
            evidence: crate::policy::Evidence::Published,
            certainty: None,
            window_evidence: Some(crate::policy::Evidence::Example),
            note: None,
        }];
        self.custom = Some(t);
        self
    }

    fn course(&self, rule_set: &str) -> Course<'_> {
        self.course_with(&self.w.policy.rule_set(rule_set).expect("rule set").rules)
    }

    fn course_with<'a>(&'a self, rules: &'a CourseRules) -> Course<'a> {
        Course {
            ctx: Context {
                plan: &self.plan,
                template: self
                    .custom
                    .as_ref()
                    .unwrap_or_else(|| self.w.catalog.get(self.template).expect("template")),
                rules,
                calendar: &self.cal,
            },
            events: Vec::new(),
            patient: PatientView::default(),
        }
    }
}

struct Course<'a> {
    ctx: Context<'a>,
    events: Vec<Event>,
    patient: PatientView,
}

const PEF: i64 = 95;

fn proposed(d: &Dosing, override_reason: Option<&str>) -> Proposed {
    Proposed {
        step: d.step,
        volume_ml: d.volume_ml,
        pef_percent: Some(Decimal::from(PEF)),
        screen_ok: true,
        override_reason: override_reason.map(str::to_string),
        premedication: None,
        premedication_accepted: None,
    }
}

fn dose_event(d: &Dosing, override_reason: Option<&str>) -> EventKind {
    EventKind::DoseGiven {
        step: d.step,
        vial: d.vial.clone(),
        volume_ml: d.volume_ml,
        dose: d.dose,
        lot: None,
        site: Some("left".into()),
        pef_percent: Some(Decimal::from(PEF)),
        screen_ok: true,
        override_reason: override_reason.map(str::to_string),
        checked_by: None,
        vial_code: None,
        phase: None,
        premedication: None,
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

fn obs(mm: u32) -> EventKind {
    EventKind::ObservationEnded {
        local_mm: Some(mm),
        not_assessable: false,
        early_reason: None,
    }
}

fn review(d: Review, why: &str) -> EventKind {
    EventKind::PhysicianReview {
        decision: d,
        reason: Some(why.into()),
        about: None,
    }
}

impl<'a> Course<'a> {
    fn push(&mut self, when: &str, kind: EventKind) -> u64 {
        self.push_at(at(when), kind)
    }

    fn push_at(&mut self, when: NaiveDateTime, kind: EventKind) -> u64 {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            seq,
            at: when,
            by: "nurse A".into(),
            kind,
        });
        seq
    }

    /// Records an event through the admissibility check.
    fn record(&mut self, when: &str, kind: EventKind) -> Result<u64, Refusal> {
        admissible(self.ctx, &self.state(), &self.events, at(when), &kind)?;
        Ok(self.push(when, kind))
    }

    fn state(&self) -> CourseState {
        replay(self.ctx, &self.events)
    }

    fn next(&self, when: &str) -> Decision {
        next(self.ctx, &self.state(), at(when), &self.patient, None)
    }

    fn try_give(&self, when: &str, p: &Proposed) -> Result<Dosing, Refusal> {
        check_give(self.ctx, &self.state(), &self.patient, at(when), p, None)
    }

    /// Gives whatever `next` allows at `when`, through `check_give`.
    fn give(&mut self, when: &str) -> Dosing {
        let d = self.next(when);
        assert!(d.action.gives(), "{when}: {d:?}");
        let dosing = d.dosing.expect("dosing");
        let ok = self.try_give(when, &proposed(&dosing, None));
        assert_eq!(ok.as_ref(), Ok(&dosing));
        self.push(when, dose_event(&dosing, None));
        dosing
    }

    /// Gives the allowed dose at `when` and ends its observation on time with `mm`.
    fn give_obs(&mut self, when: &str, mm: u32) -> Dosing {
        let d = self.give(when);
        let s = self.state();
        let until = observation_until(self.ctx, &s, s.observation.as_ref().expect("obs"));
        self.push_at(until, obs(mm));
        d
    }

    /// Gives every allowed dose from `from` while the visit lasts, each on time with `mm`.
    fn give_visit(&mut self, from: &str, mm: u32) -> Vec<Dosing> {
        let mut out = Vec::new();
        let mut t = at(from);
        loop {
            let d = next(self.ctx, &self.state(), t, &self.patient, None);
            match d.action {
                ActionKind::Give | ActionKind::MaintenanceDue => {
                    out.push(self.give_obs(&fmt(t), mm));
                    t = self.events.last().map_or(t, |e| e.at);
                }
                ActionKind::Wait if d.not_before.is_some_and(|n| n.date() == t.date()) => {
                    t = d.not_before.unwrap_or(t);
                }
                _ => return out,
            }
        }
    }
}

fn fmt(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn steps(ds: &[Dosing]) -> Vec<usize> {
    ds.iter().map(|d| d.step).collect()
}

fn ml(s: &str) -> Decimal {
    crate::units::parse_decimal(s).expect("ml")
}

mod caps;
mod followup;
mod late;
mod maintenance;
mod model;
mod overrides;
mod patient;
mod premed;
mod reactions;
mod sheet;
mod time;
mod vial;
mod vials;
