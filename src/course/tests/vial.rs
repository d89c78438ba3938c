use super::*;
use crate::policy::vial_change::{Trigger, VialAction, VialChangeRule, VialPhase};

// ---------------------------------------------------------------------------------------------
// Vial changes: a new lot in the nurse's hand against the lots of the doses given
// (rules/vial-change.toml; docs/sources.md: greer-extract-insert, allermed-timothy-label,
// aaaai-ask-expert-new-vial, alutard-sq-smpc-fi).

fn hand(vial: &str, lot: &str) -> VialInHand {
    VialInHand {
        vial: vial.into(),
        lot: lot.into(),
        manufacturer: None,
        prepared: None,
    }
}

/// The rules of `rule_set` with only `rule` as vial-change rule (none: an old course).
fn with_rule(fx: &Fixture, rule_set: &str, rule: Option<(VialPhase, VialAction)>) -> CourseRules {
    let mut r =
        fx.w.policy
            .rule_set(rule_set)
            .expect("rule set")
            .rules
            .clone();
    r.vial_change = rule
        .into_iter()
        .map(|(phase, action)| VialChangeRule {
            rules: rule_set.into(),
            trigger: Trigger::NewLot,
            phase,
            action,
            provenance: crate::policy::Provenance {
                source: "test".into(),
                evidence: crate::policy::Evidence::Example,
                certainty: crate::policy::Certainty::Inference,
            },
        })
        .collect();
    r
}

fn lot_event(d: &Dosing, lot: &str, override_reason: Option<&str>) -> EventKind {
    match dose_event(d, override_reason) {
        EventKind::DoseGiven {
            step,
            vial,
            volume_ml,
            dose,
            site,
            pef_percent,
            screen_ok,
            override_reason,
            checked_by,
            vial_code,
            phase,
            ..
        } => EventKind::DoseGiven {
            step,
            vial,
            volume_ml,
            dose,
            lot: Some(lot.into()),
            site,
            pef_percent,
            screen_ok,
            override_reason,
            checked_by,
            vial_code,
            phase,
            premedication: None,
        },
        other => other,
    }
}

impl Course<'_> {
    /// A physician's `continue` at `when`, answering what the course shows then
    /// ([`review_about`], as the ward records a review).
    fn review_as_ward(&mut self, when: &str, why: &str) -> ReviewAbout {
        let about = review_about(self.ctx, &self.state(), at(when), &self.patient);
        self.record(
            when,
            EventKind::PhysicianReview {
                decision: Review::Continue,
                reason: Some(why.into()),
                about: Some(about.clone()),
            },
        )
        .expect("review");
        about
    }

    /// The decision at `when` with a vial of lot `lot` of the vial the plain decision gives.
    fn next_lot(&self, when: &str, lot: &str) -> Decision {
        let plain = self.next(when);
        let vial = plain.dosing.as_ref().map_or("?".into(), |d| d.vial.clone());
        next(
            self.ctx,
            &self.state(),
            at(when),
            &self.patient,
            Some(&hand(&vial, lot)),
        )
    }

    /// Gives what `next` allows with a vial of `lot`, through `check_give`, and ends its
    /// observation on time with no local reaction.
    fn give_lot(&mut self, when: &str, lot: &str) -> Dosing {
        let d = self.next_lot(when, lot);
        assert!(d.action.gives(), "{when}: {d:?}");
        let dosing = d.dosing.expect("dosing");
        let h = hand(&dosing.vial, lot);
        let ok = check_give(
            self.ctx,
            &self.state(),
            &self.patient,
            at(when),
            &proposed(&dosing, None),
            Some(&h),
        );
        assert_eq!(ok.as_ref(), Ok(&dosing));
        self.push(when, lot_event(&dosing, lot, None));
        let s = self.state();
        let until = observation_until(self.ctx, &s, s.observation.as_ref().expect("obs"));
        self.push_at(until, obs(0));
        dosing
    }

    /// Every dose of the visit from `from`, all from vials of `lot`.
    fn visit_lot(&mut self, from: &str, lot: &str) -> Vec<Dosing> {
        let mut out = Vec::new();
        let mut t = at(from);
        loop {
            let d = self.next_lot(&fmt(t), lot);
            match d.action {
                ActionKind::Give | ActionKind::MaintenanceDue => {
                    out.push(self.give_lot(&fmt(t), lot));
                    t = self.events.last().map_or(t, |e| e.at);
                }
                ActionKind::Wait if d.not_before.is_some_and(|n| n.date() == t.date()) => {
                    t = d.not_before.unwrap_or(t);
                }
                _ => return out,
            }
        }
    }

    /// Up-dosing done with lot A1, and the first maintenance dose on 12-23 (lot A1).
    fn reach_maintenance(&mut self) {
        for day in ["2026-12-07", "2026-12-08", "2026-12-09"] {
            self.visit_lot(&format!("{day} 08:00"), "A1");
        }
        self.give_lot("2026-12-23 08:00", "A1");
        assert!(self.state().in_maintenance());
    }
}

/// A physician's `continue` that answers `about`.
fn answering(about: ReviewAbout, why: &str) -> EventKind {
    EventKind::PhysicianReview {
        decision: Review::Continue,
        reason: Some(why.into()),
        about: Some(about),
    }
}

fn vial_reason(d: &Decision) -> Option<&Reason> {
    d.reasons
        .iter()
        .find(|r| matches!(r, Reason::VialChange { .. }))
}

const DAY2: &str = "2026-12-08 08:00";

/// Day 1 given from lot A1; day 2 opens with step 5, 0.5 mL of vial 3 (5 000 SQ-U).
fn day_one(c: &mut Course<'_>) {
    c.visit_lot("2026-12-07 08:00", "A1");
    let plain = c.next(DAY2);
    let d = plain.dosing.expect("dosing");
    assert_eq!(
        (d.step, d.vial.as_str(), d.volume_ml.ml()),
        (5, "3", ml("0.5"))
    );
}

#[test]
fn us_new_lot_in_up_dosing_gives_this_dose_reduced_75_percent_and_names_the_label() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("us-practice-parameter");
    day_one(&mut c);
    // The same lot, or nothing known of the vial: the schedule's dose.
    assert_eq!(
        c.next_lot(DAY2, "a1 ").dosing.map(|d| d.volume_ml.ml()),
        Some(ml("0.5"))
    );
    let d = c.next_lot(DAY2, "B2");
    assert_eq!(d.action, ActionKind::Give);
    // 25 % of 5 000 SQ-U is 1 250, rounded down to the 0.01 mL syringe: 0.12 mL = 1 200 SQ-U.
    let dosing = d.dosing.clone().expect("dosing");
    assert_eq!((dosing.step, dosing.volume_ml.ml()), (5, ml("0.12")));
    let r = vial_reason(&d).expect("reason");
    let said = crate::render::course::reason(r);
    assert!(
        said.starts_with(
            "New lot B2 of vial 3 (last dose from lot A1): 75 % reduction: 0.12 mL this dose."
        ) && said.contains("[label C-partial] Greer"),
        "{said}"
    );
    // The full dose with the new lot is refused; the reduced one is taken; an override may go
    // lower only.
    let h = hand("3", "B2");
    let full = Proposed {
        volume_ml: Volume::from_ml(ml("0.5")),
        ..proposed(&dosing, None)
    };
    let t = at(DAY2);
    let r = check_give(c.ctx, &c.state(), &c.patient, t, &full, Some(&h));
    assert!(matches!(r, Err(Refusal::VialChangeDose { .. })), "{r:?}");
    let over = Proposed {
        override_reason: Some("as yesterday".into()),
        ..full.clone()
    };
    let r = check_give(c.ctx, &c.state(), &c.patient, t, &over, Some(&h));
    assert!(
        matches!(r, Err(Refusal::OverrideAboveAllowed { .. })),
        "{r:?}"
    );
    let lower = Proposed {
        volume_ml: Volume::from_ml(ml("0.1")),
        override_reason: Some("cautious".into()),
        ..full.clone()
    };
    assert!(check_give(c.ctx, &c.state(), &c.patient, t, &lower, Some(&h)).is_ok());
    // Without the vial known, today's behaviour: the full dose.
    assert!(check_give(c.ctx, &c.state(), &c.patient, t, &full, None).is_ok());
    // Given: the next dose from lot B2 is the schedule's again (from the first step above).
    c.give_lot(DAY2, "B2");
    let next = c.next_lot("2026-12-09 08:00", "B2");
    assert!(vial_reason(&next).is_none(), "{next:?}");
    assert_eq!(next.dosing.map(|d| d.step), Some(4));
}

#[test]
fn us_new_lot_in_maintenance_reduces_the_maintenance_dose_then_asks_the_physician() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("us-practice-parameter");
    c.reach_maintenance();
    let when = "2027-01-20 08:00";
    let plain = c.next(when).dosing.expect("dosing");
    let d = c.next_lot(when, "B2");
    assert_eq!(d.action, ActionKind::MaintenanceDue);
    let dosing = d.dosing.expect("dosing");
    assert_eq!(dosing.maintenance, plain.maintenance);
    assert_eq!(dosing.volume_ml.ml(), ml("0.25"));
    c.give_lot(when, "B2");
    // The US rules have no maintenance ladder to climb back on: the physician decides.
    assert_eq!(
        c.next_lot("2027-02-17 08:00", "B2").action,
        ActionKind::PhysicianReview
    );
}

#[test]
fn norwegian_new_lot_asks_the_physician_and_a_review_lets_the_schedule_s_dose_go_on() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    day_one(&mut c);
    let d = c.next_lot(DAY2, "B2");
    assert_eq!(d.action, ActionKind::PhysicianReview);
    let hold = d.hold.clone().expect("hold");
    assert!(matches!(hold.cause, Cause::VialChange { .. }), "{hold:?}");
    assert!(hold.rule.is_some());
    let json = serde_json::to_value(&d).expect("json");
    assert_eq!(json["hold"]["cause"], "vial_change", "{json}");
    assert_eq!(json["hold"]["change"], "new_lot", "{json}");
    assert_eq!(json["hold"]["previous"], "A1", "{json}");
    let said = crate::render::course::cause(&hold.cause);
    assert!(
        said.starts_with("new lot B2 of vial 3 (last dose from lot A1)"),
        "{said}"
    );
    let plain = c.next(DAY2).dosing.expect("dosing");
    let r = check_give(
        c.ctx,
        &c.state(),
        &c.patient,
        at(DAY2),
        &proposed(&plain, None),
        Some(&hand("3", "B2")),
    );
    assert!(matches!(r, Err(Refusal::ReviewPending { .. })), "{r:?}");
    // A review after the last dose, recorded as the ward records it: the lot was typed at the
    // refused give (no vial record), so the course showed no hold and the review answers it.
    c.review_as_ward("2026-12-08 07:50", "new lot B2 checked");
    let d = c.next_lot(DAY2, "B2");
    assert_eq!(d.action, ActionKind::Give);
    assert_eq!(d.dosing, Some(plain));
    let r = vial_reason(&d).expect("reason");
    assert!(matches!(r, Reason::VialChange { reviewed: true, .. }));
    c.give_lot(DAY2, "B2");
    assert_eq!(
        c.next_lot("2026-12-08 10:00", "B2").action,
        ActionKind::Give
    );
    // In maintenance too.
    let mut c = fx.course("norwegian-guide");
    c.reach_maintenance();
    assert_eq!(
        c.next_lot("2027-01-20 08:00", "B2").action,
        ActionKind::PhysicianReview
    );
}

#[test]
fn an_old_course_without_frozen_vial_change_rules_asks_the_physician() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let rules = with_rule(&fx, "us-practice-parameter", None);
    let mut c = fx.course_with(&rules);
    day_one(&mut c);
    let d = c.next_lot(DAY2, "B2");
    assert_eq!(d.action, ActionKind::PhysicianReview);
    let r = vial_reason(&d).expect("reason");
    assert!(matches!(r, Reason::VialChange { action: None, .. }));
    assert!(crate::render::course::reason(r).contains("no vial-change rule"));
    // A rule for up-dosing only: maintenance has none, and asks.
    let rules = with_rule(
        &fx,
        "us-practice-parameter",
        Some((
            VialPhase::UpDosing,
            VialAction::Reduce {
                percent: Decimal::from(50),
            },
        )),
    );
    let mut c = fx.course_with(&rules);
    c.reach_maintenance();
    assert_eq!(
        c.next_lot("2027-01-20 08:00", "B2").action,
        ActionKind::PhysicianReview
    );
}

#[test]
fn step_back_goes_down_distinct_doses_on_the_same_vial() {
    let fx = Fixture::new("example-hdm-rush-3d");
    for rule_set in ["us-practice-parameter", "norwegian-guide"] {
        let rules = with_rule(
            &fx,
            rule_set,
            Some((VialPhase::Any, VialAction::StepBack { steps: 1 })),
        );
        let mut c = fx.course_with(&rules);
        day_one(&mut c);
        let d = c.next_lot(DAY2, "B2").dosing.expect("dosing");
        // One distinct dose below 5 000: 2 000 SQ-U, step 4, 0.2 mL of vial 3.
        assert_eq!(
            (d.step, d.vial.as_str(), d.volume_ml.ml()),
            (4, "3", ml("0.2"))
        );
        // In maintenance: below the maintenance dose, on the maintenance vial, in up-dosing.
        let mut c = fx.course_with(&rules);
        c.reach_maintenance();
        let d = c.next_lot("2027-01-20 08:00", "B2").dosing.expect("dosing");
        assert_eq!((d.maintenance, d.vial.as_str()), (None, "4"));
        assert!(d.dose.amount() < fx.plan.maintenance.dose.amount());
        // Two steps back: vial 3's first dose, 1 000 SQ-U; three would leave vial 3 (100 SQ-U
        // of vial 2, not the vial in hand): the physician decides.
        let back = |steps| {
            let rules = with_rule(
                &fx,
                rule_set,
                Some((VialPhase::Any, VialAction::StepBack { steps })),
            );
            let mut c = fx.course_with(&rules);
            day_one(&mut c);
            let d = c.next_lot(DAY2, "B2");
            (d.action, d.dosing.map(|x| (x.step, x.vial)))
        };
        assert_eq!(back(2), (ActionKind::Give, Some((3, "3".to_string()))));
        assert_eq!(back(3).0, ActionKind::PhysicianReview);
    }
}

#[test]
fn a_rebuild_ladder_runs_over_three_maintenance_doses_then_the_full_dose() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let ladder = VialAction::Rebuild {
        volumes_ml: vec![ml("0.1"), ml("0.3"), ml("0.5")],
    };
    for rule_set in ["us-practice-parameter", "norwegian-guide"] {
        let rules = with_rule(
            &fx,
            rule_set,
            Some((VialPhase::Maintenance, ladder.clone())),
        );
        let mut c = fx.course_with(&rules);
        c.reach_maintenance();
        let mut got = Vec::new();
        let mut day = date("2027-01-19");
        for _ in 0..4 {
            let d = c.next_lot(&format!("{day} 08:00"), "B2");
            let nb = d.not_before.expect("not before");
            let d = c.next_lot(&fmt(nb), "B2");
            assert_eq!(d.action, ActionKind::MaintenanceDue, "{rule_set}: {d:?}");
            got.push(d.dosing.as_ref().map(|x| x.volume_ml.ml()));
            if let Some(Reason::VialChange { rung, .. }) = vial_reason(&d) {
                assert_eq!(*rung, Some((got.len(), 3)));
            }
            c.give_lot(&fmt(nb), "B2");
            day = nb.date() + Duration::days(1);
        }
        let want: Vec<Option<Decimal>> = ["0.1", "0.3", "0.5", "1.0"]
            .iter()
            .map(|v| Some(ml(v)))
            .collect();
        assert_eq!(got, want, "{rule_set}");
        assert!(c.state().review.is_none());
    }
}

#[test]
fn a_rebuild_in_up_dosing_never_gives_more_than_the_schedule() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let rules = with_rule(
        &fx,
        "us-practice-parameter",
        Some((
            VialPhase::UpDosing,
            VialAction::Rebuild {
                volumes_ml: vec![ml("0.1"), ml("0.3"), ml("0.5")],
            },
        )),
    );
    let mut c = fx.course_with(&rules);
    day_one(&mut c);
    let d = c.next_lot(DAY2, "B2");
    let dosing = d.dosing.clone().expect("dosing");
    assert_eq!(
        (dosing.vial.as_str(), dosing.volume_ml.ml()),
        ("3", ml("0.1"))
    );
    assert!(matches!(
        vial_reason(&d),
        Some(Reason::VialChange {
            rung: Some((1, 3)),
            ..
        })
    ));
    c.give_lot(DAY2, "B2");
    // The next dose from lot B2: the schedule's 0.2 mL is below the second rung (0.3 mL).
    let d = c.next_lot("2026-12-09 08:00", "B2").dosing.expect("dosing");
    assert_eq!(d.volume_ml.ml(), ml("0.2"));
    // A rung above the template's largest injection: the physician decides.
    let rules = with_rule(
        &fx,
        "us-practice-parameter",
        Some((
            VialPhase::Any,
            VialAction::Rebuild {
                volumes_ml: vec![ml("0.005")],
            },
        )),
    );
    let mut c = fx.course_with(&rules);
    day_one(&mut c);
    assert_eq!(c.next_lot(DAY2, "B2").action, ActionKind::PhysicianReview);
}

#[test]
fn a_vial_of_another_strength_or_a_first_vial_changes_nothing() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    day_one(&mut c);
    let plain = c.next(DAY2);
    let other = next(
        c.ctx,
        &c.state(),
        at(DAY2),
        &c.patient,
        Some(&hand("4", "B2")),
    );
    assert_eq!(other, plain);
    // Vial 4 was never given: its first lot is no change.
    c.visit_lot(DAY2, "A1");
    let mut c2 = fx.course("norwegian-guide");
    c2.visit_lot("2026-12-07 08:00", "A1");
    c2.give_lot(DAY2, "A1");
    let d = c2.next_lot("2026-12-08 10:00", "C3");
    assert_eq!(d.dosing.map(|x| x.vial), Some("4".into()));
    assert_eq!(d.action, ActionKind::Give, "{:?}", d.reasons);
}

#[test]
fn the_forecast_knows_a_new_lot() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let scenario = Scenario {
        new_lot: Some(date("2026-12-08")),
        ..Scenario::default()
    };
    let c = fx.course("us-practice-parameter");
    let p = project_with(
        c.ctx,
        &c.state(),
        &c.patient,
        at("2026-12-07 08:00"),
        None,
        12,
        &scenario,
    );
    let first = p
        .doses
        .iter()
        .find(|d| d.at.date() == date("2026-12-08"))
        .expect("a dose on 12-08");
    assert_eq!(
        (first.dosing.vial.as_str(), first.dosing.volume_ml.ml()),
        ("3", ml("0.12"))
    );
    assert!(
        first
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::VialChange { .. }))
    );
    let plain = project(
        c.ctx,
        &c.state(),
        &c.patient,
        at("2026-12-07 08:00"),
        None,
        12,
    );
    assert!(plain.doses.iter().all(|d| {
        d.reasons
            .iter()
            .all(|r| !matches!(r, Reason::VialChange { .. }))
    }));
    let c = fx.course("norwegian-guide");
    let p = project_with(
        c.ctx,
        &c.state(),
        &c.patient,
        at("2026-12-07 08:00"),
        None,
        12,
        &scenario,
    );
    let stop = p.stopped_by.expect("stopped");
    assert_eq!(stop.action, ActionKind::PhysicianReview);
    assert!(p.doses.iter().all(|d| d.at.date() < date("2026-12-08")));
}

mod property {
    use super::*;
    use proptest::prelude::*;

    /// Moves `t` on until `next` (nothing known of the vial) gives a dose; a hold gets a
    /// physician's `continue`. `None` if no dose comes within the bound.
    fn to_a_dose(c: &mut Course<'_>, t: &mut NaiveDateTime) -> Option<Decision> {
        for _ in 0..40 {
            let d = next(c.ctx, &c.state(), *t, &c.patient, None);
            match d.action {
                ActionKind::Give | ActionKind::MaintenanceDue => return Some(d),
                ActionKind::Wait | ActionKind::VisitClosed => {
                    *t = d
                        .not_before
                        .filter(|n| n > t)
                        .unwrap_or(*t + Duration::days(1));
                }
                ActionKind::Observe | ActionKind::ObservationNotClosed => {
                    let until = d.observation_until.unwrap_or(*t).max(*t);
                    c.push_at(until, obs(0));
                    *t = until;
                }
                ActionKind::PhysicianReview => {
                    let about = review_about(c.ctx, &c.state(), *t, &c.patient);
                    c.push_at(*t, answering(about, "seen"));
                    *t += Duration::minutes(1);
                }
                _ => return None,
            }
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        /// Whatever lots the nurse picks up: the same lot changes nothing; a changed lot gets at
        /// most 25 % of the schedule's dose on the US rules, and never a dose on the Norwegian
        /// rules without a physician's review since the last dose.
        #[test]
        fn a_changed_lot_never_gets_more_than_its_rule_allows(
            lots in proptest::collection::vec(0usize..3, 1..14),
        ) {
            let fx = Fixture::new("example-hdm-rush-3d");
            for rule_set in ["us-practice-parameter", "norwegian-guide"] {
                let mut c = fx.course(rule_set);
                let mut t = at("2026-12-07 08:00");
                for l in &lots {
                    let lot = ["A", "B", "C"][*l];
                    let Some(plain) = to_a_dose(&mut c, &mut t) else { break };
                    let pd = plain.dosing.clone().expect("dosing");
                    let s = c.state();
                    let h = hand(&pd.vial, lot);
                    let d = next(c.ctx, &s, t, &c.patient, Some(&h));
                    let last_lot = s
                        .given
                        .iter()
                        .rev()
                        .find(|g| g.vial == pd.vial)
                        .and_then(|g| g.lot.clone());
                    let changed = last_lot.is_some_and(|x| x != lot);
                    let reviewed = s
                        .reviewed_at
                        .is_some_and(|r| s.given.last().is_none_or(|g| r > g.at));
                    if !changed {
                        prop_assert_eq!(&d, &plain);
                    } else if rule_set == "norwegian-guide" {
                        prop_assert!(
                            d.action == ActionKind::PhysicianReview || reviewed,
                            "{:?}", d
                        );
                    } else if d.action.gives() {
                        let got = d.dosing.as_ref().expect("dosing").dose.amount();
                        prop_assert!(
                            got * Decimal::from(4) <= pd.dose.amount(),
                            "{} from {}", got, pd.dose
                        );
                    }
                    match d.action {
                        ActionKind::Give | ActionKind::MaintenanceDue => {
                            let dosing = d.dosing.expect("dosing");
                            let ok = check_give(
                                c.ctx, &c.state(), &c.patient, t, &proposed(&dosing, None), Some(&h),
                            );
                            prop_assert_eq!(ok.as_ref(), Ok(&dosing));
                            if dosing != pd {
                                let full = check_give(
                                    c.ctx, &c.state(), &c.patient, t, &proposed(&pd, None), Some(&h),
                                );
                                prop_assert!(full.is_err(), "the full dose was taken");
                            }
                            c.push_at(t, lot_event(&dosing, lot, None));
                        }
                        ActionKind::PhysicianReview => {
                            let about = review_about(c.ctx, &c.state(), t, &c.patient);
                            c.push_at(t, answering(about, "new lot seen"));
                            t += Duration::minutes(1);
                        }
                        other => prop_assert!(false, "{:?}", other),
                    }
                }
            }
        }
    }
}

/// A recorded vial of template vial 3.
fn vial3(code: &str, lot: &str, expires: &str) -> EventKind {
    EventKind::VialAdded {
        code: code.into(),
        vial: "3".into(),
        lot: lot.into(),
        lot_expires: date(expires),
        expires: date(expires),
        expiry_rule: None,
        manufacturer: None,
        prepared: None,
        volume_ml: None,
        gtin: None,
        serial: None,
    }
}

#[test]
fn next_takes_the_course_s_usable_recorded_vial_for_the_dose_in_hand() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("us-practice-parameter");
    day_one(&mut c);
    let decide = |c: &Course<'_>| next_with_vials(c.ctx, &c.state(), at(DAY2), &c.patient);
    let volume = |d: &Decision| d.dosing.as_ref().map(|d| d.volume_ml.ml());
    // No vial recorded: the plain decision.
    assert_eq!(volume(&decide(&c)), Some(ml("0.5")));
    // An expired vial of lot A1 is not the one in hand; the usable one of lot B2 is: 75 % off.
    c.record("2026-12-07 18:00", vial3("V000001", "A1", "2026-12-07"))
        .expect("vial");
    c.record("2026-12-07 18:01", vial3("V000002", "B2", "2027-06-30"))
        .expect("vial");
    let d = decide(&c);
    assert_eq!(volume(&d), Some(ml("0.12")), "{d:?}");
    assert!(vial_reason(&d).is_some(), "{d:?}");
    // A newer usable vial of the old lot: the schedule's dose again.
    c.record("2026-12-07 18:02", vial3("V000003", "A1", "2027-06-30"))
        .expect("vial");
    assert_eq!(volume(&decide(&c)), Some(ml("0.5")));
    // Discarded, it is not in hand: B2 again.
    c.record(
        "2026-12-07 18:03",
        EventKind::VialDiscarded {
            code: "V000003".into(),
            reason: "dropped".into(),
        },
    )
    .expect("discard");
    assert_eq!(volume(&decide(&c)), Some(ml("0.12")));
    // vial_for prefers the vial the last dose of that strength was drawn from.
    let s = c.state();
    assert_eq!(
        vial_for(&s, "3", date("2026-12-08")).map(|v| v.code.as_str()),
        Some("V000002")
    );
    assert!(vial_for(&s, "4", date("2026-12-08")).is_none());
}

#[test]
fn a_review_lifts_a_recorded_vial_s_change_only_when_it_answered_it_after_the_vial_came() {
    // The Norwegian rules ask the physician for a new lot (rules/vial-change.toml).
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    day_one(&mut c);
    let decide =
        |c: &Course<'_>, when: &str| next_with_vials(c.ctx, &c.state(), at(when), &c.patient);
    // A review after the last dose, about nothing held (made before the new vial came): it
    // used to lift any vial change after it.
    assert_eq!(
        c.review_as_ward("2026-12-07 18:00", "course checked"),
        ReviewAbout::NoHold
    );
    c.record("2026-12-07 18:10", vial3("V000002", "B2", "2027-06-30"))
        .expect("vial");
    let d = decide(&c, DAY2);
    assert_eq!(d.action, ActionKind::PhysicianReview, "{d:?}");
    // One recorded after the vial came, but while nothing was shown (an older record's review
    // without `about`), does not lift it either.
    c.record(
        "2026-12-07 18:20",
        review(Review::Continue, "older review, says nothing of the vial"),
    )
    .expect("review");
    assert_eq!(decide(&c, DAY2).action, ActionKind::PhysicianReview);
    // A review that answered another hold does not lift it.
    c.push_at(
        at("2026-12-07 18:30"),
        answering(ReviewAbout::OtherHold, "reaction seen"),
    );
    assert_eq!(decide(&c, DAY2).action, ActionKind::PhysicianReview);
    // Nor one that answered another lot's change.
    c.push_at(
        at("2026-12-07 18:40"),
        answering(
            ReviewAbout::VialChange {
                vial: "3".into(),
                lot: "C3".into(),
            },
            "other lot",
        ),
    );
    assert_eq!(decide(&c, DAY2).action, ActionKind::PhysicianReview);
    // The review recorded while the hold shows answers it, and the schedule's dose goes on.
    assert_eq!(
        c.review_as_ward("2026-12-08 07:50", "new lot B2 checked"),
        ReviewAbout::VialChange {
            vial: "3".into(),
            lot: "B2".into()
        }
    );
    let d = decide(&c, DAY2);
    assert_eq!(d.action, ActionKind::Give, "{d:?}");
    assert!(matches!(
        vial_reason(&d),
        Some(Reason::VialChange { reviewed: true, .. })
    ));
}

#[test]
fn a_review_of_a_reaction_does_not_lift_a_typed_lot_s_change() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    day_one(&mut c);
    // A review after the last dose that answered another hold (a late reaction, say).
    c.push_at(
        at("2026-12-07 20:00"),
        answering(ReviewAbout::OtherHold, "late swelling seen"),
    );
    assert_eq!(c.next_lot(DAY2, "B2").action, ActionKind::PhysicianReview);
    // The physician's review of the new lot (the course shows no hold): now it goes on.
    assert_eq!(
        c.review_as_ward("2026-12-08 07:50", "new lot B2 checked"),
        ReviewAbout::NoHold
    );
    assert_eq!(c.next_lot(DAY2, "B2").action, ActionKind::Give);
}
