//! Premedication at the give (template `[[premedication]]`; the example rush's sources in
//! docs/sources.md: nielsen-1996): a required one missing, not taken or outside its window
//! refuses the dose; a physician may accept its absence for the day; a recommended one never
//! blocks.

use super::*;
use crate::template::PremedStatus;

fn with(p: &Proposed, answer: Option<PremedicationAnswer>, accepted: Option<&str>) -> Proposed {
    Proposed {
        premedication: answer,
        premedication_accepted: accepted.map(str::to_string),
        ..p.clone()
    }
}

fn taken(when: &str) -> Option<PremedicationAnswer> {
    Some(PremedicationAnswer::Taken(at(when)))
}

#[test]
fn a_required_premedication_is_asked_for_the_first_dose_of_the_day_with_its_window() {
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Required);
    let c = fx.course("norwegian-guide");
    let d = c.next("2026-12-07 08:00");
    assert!(d.action.gives());
    assert_eq!(d.premedication.len(), 1);
    let due = &d.premedication[0];
    assert!(due.required);
    assert_eq!(due.not_before, at("2026-12-07 04:00"));
    assert_eq!(due.not_after, at("2026-12-07 07:00"));
    let lines = crate::render::course::details(&d);
    assert!(
        lines.iter().any(|l| l.starts_with("Premedication REQUIRED: H1 antihistamine (e.g. loratadine 10 mg): required, taken between 04:00 and 07:00")),
        "{lines:?}"
    );
}

#[test]
fn a_required_premedication_missing_or_not_taken_refuses_the_dose() {
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Required);
    let c = fx.course("norwegian-guide");
    let dosing = c.next("2026-12-07 08:00").dosing.expect("dose");
    let p = proposed(&dosing, None);
    for (answer, want) in [
        (None, PremedicationProblem::NotAsked),
        (
            Some(PremedicationAnswer::NotTaken),
            PremedicationProblem::NotTaken,
        ),
    ] {
        let r = c.try_give("2026-12-07 08:00", &with(&p, answer, None));
        let Err(Refusal::Premedication { due, problem }) = &r else {
            panic!("{r:?}");
        };
        assert_eq!(*problem, want);
        assert_eq!(due.not_after, at("2026-12-07 07:00"));
        let words = r
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            words.starts_with(
                "DO NOT GIVE: the required premedication H1 antihistamine (e.g. loratadine 10 mg)"
            ),
            "{words}"
        );
        assert!(
            words.contains(
                "between 04:00 and 07:00 (2 h before the first injection of the day) [published]"
            ),
            "{words}"
        );
        assert!(words.contains("--accept-premedication REASON"), "{words}");
        // The page names its fields instead of the flags.
        let page = r
            .as_ref()
            .err()
            .map(|r| crate::render::course::refusal(r, crate::render::course::Voice::Page))
            .unwrap_or_default();
        assert!(page.contains("Defer the dose (Defer)"), "{page}");
        assert!(
            page.contains("by writing the acceptance of the missing premedication"),
            "{page}"
        );
    }
}

#[test]
fn taken_in_the_window_the_dose_proceeds_and_later_doses_that_day_need_nothing() {
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Required);
    let mut c = fx.course("norwegian-guide");
    let dosing = c.next("2026-12-07 08:00").dosing.expect("dose");
    let p = with(&proposed(&dosing, None), taken("2026-12-07 06:00"), None);
    assert_eq!(c.try_give("2026-12-07 08:00", &p), Ok(dosing.clone()));
    // The window's edges are inside it.
    for edge in ["2026-12-07 04:00", "2026-12-07 07:00"] {
        let p = with(&proposed(&dosing, None), taken(edge), None);
        assert_eq!(
            c.try_give("2026-12-07 08:00", &p),
            Ok(dosing.clone()),
            "{edge}"
        );
    }
    c.push("2026-12-07 08:00", dose_event(&dosing, None));
    let s = c.state();
    let until = observation_until(c.ctx, &s, s.observation.as_ref().expect("obs"));
    c.push_at(until, obs(0));
    let second = c.next(&fmt(until + Duration::minutes(1)));
    assert!(second.action.gives(), "{second:?}");
    assert!(second.premedication.is_empty(), "only the day's first dose");
    let d2 = second.dosing.expect("dose");
    assert!(
        c.try_give(&fmt(until + Duration::minutes(1)), &proposed(&d2, None))
            .is_ok()
    );
}

#[test]
fn taken_too_late_or_too_early_refuses_the_dose() {
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Required);
    let c = fx.course("norwegian-guide");
    let dosing = c.next("2026-12-07 08:00").dosing.expect("dose");
    for (when, late) in [
        ("2026-12-07 07:30", true),
        ("2026-12-07 08:05", true),
        ("2026-12-07 03:59", false),
        ("2026-12-06 21:00", false),
    ] {
        let p = with(&proposed(&dosing, None), taken(when), None);
        let r = c.try_give("2026-12-07 08:00", &p);
        let want = if late {
            PremedicationProblem::TooLate { taken: at(when) }
        } else {
            PremedicationProblem::TooEarly { taken: at(when) }
        };
        assert!(
            matches!(&r, Err(Refusal::Premedication { problem, .. }) if *problem == want),
            "{when}: {r:?}"
        );
    }
    let p = with(&proposed(&dosing, None), taken("2026-12-07 07:30"), None);
    let words = c
        .try_give("2026-12-07 08:00", &p)
        .err()
        .map(|r| r.to_string())
        .unwrap_or_default();
    assert!(words.contains("was taken at 07:30, too late"), "{words}");
}

#[test]
fn a_physician_may_accept_the_missing_premedication_for_the_day_and_it_is_recorded() {
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Required);
    let c = fx.course("norwegian-guide");
    let dosing = c.next("2026-12-07 08:00").dosing.expect("dose");
    let p = with(
        &proposed(&dosing, None),
        Some(PremedicationAnswer::NotTaken),
        Some("forgot at home; physician present all day"),
    );
    assert_eq!(c.try_give("2026-12-07 08:00", &p), Ok(dosing));
    let rec = p.premedication_record().expect("recorded");
    assert_eq!(rec.taken_at, None);
    assert_eq!(
        rec.accepted.as_deref(),
        Some("forgot at home; physician present all day")
    );
    // Nothing missing, nothing to accept: the record would say what did not happen.
    let needless = with(
        &proposed(&p_dosing(&c), None),
        taken("2026-12-07 06:00"),
        Some("just in case"),
    );
    let r = c.try_give("2026-12-07 08:00", &needless);
    assert_eq!(r, Err(Refusal::NoPremedicationToAccept));
    assert!(
        r.err()
            .map(|r| r.to_string())
            .unwrap_or_default()
            .contains("there is nothing to accept; give it without --accept-premedication REASON")
    );
    // A blank acceptance is no acceptance.
    let blank = with(&proposed(&p_dosing(&c), None), None, Some("  "));
    assert!(matches!(
        c.try_give("2026-12-07 08:00", &blank),
        Err(Refusal::Premedication { .. })
    ));
}

fn p_dosing(c: &Course<'_>) -> Dosing {
    c.next("2026-12-07 08:00").dosing.expect("dose")
}

#[test]
fn the_next_day_asks_again() {
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Required);
    let mut c = fx.course("norwegian-guide");
    let day1 = c.give_visit_premedicated("2026-12-07 08:00");
    assert!(day1.len() >= 2, "{day1:?}");
    let d = c.next("2026-12-08 08:00");
    assert!(d.action.gives(), "{d:?}");
    assert_eq!(d.premedication.len(), 1);
    let dosing = d.dosing.expect("dose");
    assert!(matches!(
        c.try_give("2026-12-08 08:00", &proposed(&dosing, None)),
        Err(Refusal::Premedication { .. })
    ));
}

#[test]
fn a_recommended_premedication_is_a_reminder_and_never_blocks() {
    // The bundled example rush says `recommended`.
    let fx = Fixture::new("example-hdm-rush-3d");
    let c = fx.course("norwegian-guide");
    let d = c.next("2026-12-07 08:00");
    assert_eq!(d.premedication.len(), 1);
    assert!(!d.premedication[0].required);
    let lines = crate::render::course::details(&d);
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("Premedication recommended (a reminder, it does not block the dose)")),
        "{lines:?}"
    );
    let dosing = d.dosing.expect("dose");
    for answer in [
        None,
        Some(PremedicationAnswer::NotTaken),
        taken("2026-12-07 07:59"),
    ] {
        let p = with(&proposed(&dosing, None), answer, None);
        assert_eq!(c.try_give("2026-12-07 08:00", &p), Ok(dosing.clone()));
    }
    // A template that says nothing asks nothing.
    let cluster = Fixture::new("alutard-hdm-cluster-7w");
    let c = cluster.course("norwegian-guide");
    let d = c.next("2026-12-07 08:00");
    assert!(d.premedication.is_empty(), "{d:?}");
}

impl Course<'_> {
    /// Gives every allowed dose of the visit from `from`, the premedication taken 2 h before
    /// the first.
    fn give_visit_premedicated(&mut self, from: &str) -> Vec<Dosing> {
        let mut out = Vec::new();
        let mut t = at(from);
        let premed = Some(PremedicationAnswer::Taken(t - Duration::minutes(120)));
        loop {
            let d = next(self.ctx, &self.state(), t, &self.patient, None);
            match d.action {
                ActionKind::Give | ActionKind::MaintenanceDue => {
                    let dosing = d.dosing.expect("dose");
                    let p = with(&proposed(&dosing, None), premed, None);
                    let ok = check_give(self.ctx, &self.state(), &self.patient, t, &p, None);
                    assert_eq!(ok.as_ref(), Ok(&dosing), "{t}");
                    self.push_at(t, dose_event(&dosing, None));
                    let s = self.state();
                    let until =
                        observation_until(self.ctx, &s, s.observation.as_ref().expect("obs"));
                    self.push_at(until, obs(0));
                    t = until;
                    out.push(dosing);
                }
                ActionKind::Wait if d.not_before.is_some_and(|n| n.date() == t.date()) => {
                    t = d.not_before.unwrap_or(t);
                }
                _ => return out,
            }
        }
    }
}

#[test]
fn a_dose_entry_without_premedication_reads_and_writes_as_before() {
    let old = EventKind::DoseGiven {
        step: 1,
        vial: "1".into(),
        volume_ml: Volume::from_ml(ml("0.1")),
        dose: crate::units::Dose::new(Decimal::from(10), crate::units::AllergenUnit::SqU),
        lot: None,
        site: None,
        pef_percent: None,
        screen_ok: true,
        override_reason: None,
        checked_by: None,
        vial_code: None,
        phase: None,
        premedication: None,
    };
    let text = serde_json::to_string(&old).expect("json");
    assert!(!text.contains("premedication"), "{text}");
    let back: EventKind = serde_json::from_str(&text).expect("an old entry reads");
    assert_eq!(back, old);
    let mut new = back;
    if let EventKind::DoseGiven { premedication, .. } = &mut new {
        *premedication = Some(PremedicationRecord {
            taken_at: Some(at("2026-12-07 06:00")),
            accepted: None,
        });
    }
    let text = serde_json::to_string(&new).expect("json");
    assert!(
        text.contains(r#""premedication":{"taken_at":"2026-12-07T06:00:00"}"#),
        "{text}"
    );
    assert_eq!(
        serde_json::from_str::<EventKind>(&text).expect("reads"),
        new
    );
}

/// A rule set's premedication (`CourseRules::premedication`): an LTRA required before each
/// injection, taken 30 to 120 min before.
fn rules_with_ltra(fx: &Fixture, rule_set: &str) -> CourseRules {
    use crate::template::{PremedAnchor, PremedClass, Premedication};
    let mut r =
        fx.w.policy
            .rule_set(rule_set)
            .expect("rule set")
            .rules
            .clone();
    r.premedication = vec![Premedication {
        class: PremedClass::Ltra,
        drug: None,
        dose: None,
        anchor: PremedAnchor::EachInjection,
        before_min: 60,
        at_least_min: 30,
        at_most_min: 120,
        status: PremedStatus::Required,
        source: Some("a clinic's rule set (test)".into()),
        evidence: crate::policy::Evidence::Example,
        certainty: None,
        window_evidence: None,
        note: None,
    }];
    r
}

#[test]
fn a_rule_set_s_premedication_applies_besides_the_template_s_and_a_required_one_in_either_blocks() {
    use crate::template::PremedClass;
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::Recommended);
    let rules = rules_with_ltra(&fx, "norwegian-guide");
    let c = fx.course_with(&rules);
    let d = c.next("2026-12-07 08:00");
    let due: Vec<(PremedClass, bool)> = d
        .premedication
        .iter()
        .map(|p| (p.premedication.class, p.required))
        .collect();
    assert_eq!(due, [(PremedClass::H1, false), (PremedClass::Ltra, true)]);
    let p = proposed(d.dosing.as_ref().expect("dose"), None);
    let r = c.try_give("2026-12-07 08:00", &p);
    let Err(Refusal::Premedication { due, problem }) = &r else {
        panic!("{r:?}");
    };
    assert_eq!(
        (due.premedication.class, *problem),
        (PremedClass::Ltra, PremedicationProblem::NotAsked)
    );
    // Taken 07:00: inside the LTRA's window (06:00 to 07:30); the dose goes on.
    assert!(
        c.try_give(
            "2026-12-07 08:00",
            &with(&p, taken("2026-12-07 07:00"), None)
        )
        .is_ok()
    );
    // A template that says `none` does not lift the rule set's.
    let fx = Fixture::new("example-hdm-rush-3d").with_premedication(PremedStatus::None);
    let rules = rules_with_ltra(&fx, "norwegian-guide");
    let c = fx.course_with(&rules);
    let d = c.next("2026-12-07 08:00");
    assert_eq!(d.premedication.len(), 1);
    assert!(d.premedication[0].required);
    // The bundled rule sets ask for none: a template without premedication needs none.
    let fx = Fixture::new("example-hdm-rush-3d");
    for rule_set in ["norwegian-guide", "us-practice-parameter"] {
        assert!(
            fx.w.policy
                .rule_set(rule_set)
                .expect("rule set")
                .rules
                .premedication
                .is_empty()
        );
    }
}

#[test]
fn the_plan_and_protocol_show_the_rule_set_s_premedication_after_the_template_s_once() {
    use crate::template::PremedClass;
    let fx = Fixture::new("example-hdm-rush-3d");
    let rules = rules_with_ltra(&fx, "norwegian-guide");
    let mut plan = fx.plan.clone();
    let before: Vec<PremedClass> = plan.premedication.iter().map(|p| p.class).collect();
    crate::ward::with_rule_set_premedication(&mut plan, &rules);
    crate::ward::with_rule_set_premedication(&mut plan, &rules);
    let after: Vec<PremedClass> = plan.premedication.iter().map(|p| p.class).collect();
    let mut want = before.clone();
    want.push(PremedClass::Ltra);
    assert_eq!(after, want);
}
