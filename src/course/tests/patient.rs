use super::*;

// ---------------------------------------------------------------------------------------------
// The patient is the unit of safety (docs/sources.md: alutard-sq-pil-pl, purethal-label-be).

#[test]
fn another_course_of_the_patient_holds_this_one() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut a = fx.course("norwegian-guide");
    let mut b = fx.course("norwegian-guide");
    b.give_obs("2026-12-07 08:00", 0);
    a.give("2026-12-07 08:40");
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    // 30 minutes between two extracts.
    let d = b.next("2026-12-07 08:50");
    assert_eq!(
        (d.action, d.not_before),
        (ActionKind::Wait, Some(at("2026-12-07 09:10")))
    );
    assert!(matches!(d.wait, Some(Wait::OtherExtract { course: 1, .. })));
    // A systemic reaction on A closes B's day.
    a.push("2026-12-07 08:50", sr("1z"));
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    let d = b.next("2026-12-07 09:30");
    assert_eq!(
        d.visit_closed,
        Some(VisitClosed::PatientSystemic { course: 1 })
    );
    // A pending review on A holds B until A is reviewed.
    a.push("2026-12-07 09:00", sr("2a"));
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    assert_eq!(b.next("2026-12-08 08:00").action, ActionKind::PatientHold);
    a.push(
        "2026-12-07 12:00",
        review(Review::StepBack { steps: 1 }, "seen"),
    );
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    assert_eq!(b.next("2026-12-08 08:00").action, ActionKind::Give);
    // A physician's own stop of A does not hold B.
    a.push("2026-12-07 12:05", review(Review::Stop, "patient's choice"));
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    assert_eq!(b.next("2026-12-08 08:00").action, ActionKind::Give);
}

#[test]
fn an_omalizumab_injection_under_observation_holds_an_allergen_dose_until_its_end_is_recorded() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut b = fx.course("norwegian-guide");
    let policy = crate::policy::Policy::bundled().expect("rules");
    let rules = policy.omalizumab_course.as_ref().expect("course rules");
    let mut om = crate::course::omalizumab::OmalizumabState::default();
    om.given.push(at("2026-12-07 07:30"));
    om.observing = Some(at("2026-12-07 07:30"));
    b.patient = PatientView {
        others: vec![om.as_other(5, rules)],
    };
    // The first omalizumab injection: 2 h.
    let d = b.next("2026-12-07 08:00");
    assert_eq!(
        (d.action, d.held_by, d.observation_until),
        (ActionKind::Observe, Some(5), Some(at("2026-12-07 09:30")))
    );
    // Its minutes past, its end not recorded: still no allergen dose.
    assert_eq!(
        b.next("2026-12-07 09:45").action,
        ActionKind::ObservationNotClosed
    );
    // Recorded as ended: the dose.
    om.observing = None;
    b.patient = PatientView {
        others: vec![om.as_other(5, rules)],
    };
    assert_eq!(b.next("2026-12-07 09:45").action, ActionKind::Give);
    // An immunotherapy course's open observation is not one that holds another allergen
    // course (the extracts' own 30 min apply), only an omalizumab injection.
    let mut a = fx.course("norwegian-guide");
    a.give("2026-12-07 08:00");
    let other = OtherCourse::of(1, &a.state());
    assert!(other.observing.is_some() && !other.omalizumab);
}

#[test]
fn a_reaction_recorded_on_a_course_a_physician_stopped_still_holds_the_patient() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut a = fx.course("norwegian-guide");
    let mut b = fx.course("norwegian-guide");
    a.give_obs("2026-12-07 08:00", 0);
    a.push("2026-12-07 09:00", review(Review::Stop, "patient's choice"));
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    assert_eq!(b.next("2026-12-08 08:00").action, ActionKind::Give);
    // Anaphylaxis after A's last dose, recorded after the stop: B waits for a physician.
    a.push("2026-12-07 09:30", sr("4a"));
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    assert_eq!(b.next("2026-12-08 08:00").action, ActionKind::PatientHold);
    a.push(
        "2026-12-07 12:00",
        review(Review::Stop, "seen; A stays stopped"),
    );
    b.patient = PatientView {
        others: vec![OtherCourse::of(1, &a.state())],
    };
    assert_eq!(b.next("2026-12-08 08:00").action, ActionKind::Give);
}
