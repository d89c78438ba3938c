use super::*;

// ---------------------------------------------------------------------------------------------
// Reactions set the next visit (docs/sources.md: ritplan-default, norwegian-guide).

#[test]
fn a_local_reaction_on_a_weekly_schedule_gives_the_repeat_at_the_next_visit() {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    c.give_obs("2026-12-07 08:00", 0);
    c.give_obs("2026-12-14 08:00", 30); // [25, 50) mm: repeat
    let d = c.next("2026-12-14 09:00");
    assert_eq!(d.action, ActionKind::VisitClosed, "not the same day");
    assert_eq!(d.not_before, Some(at("2026-12-21 08:00")));
    assert_eq!(d.dosing.map(|x| x.step), Some(2), "step 2 again");
}

#[test]
fn a_local_reaction_at_maintenance_never_gives_a_second_maintenance_dose() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    for day in ["2026-12-07", "2026-12-08", "2026-12-09"] {
        c.give_visit(&format!("{day} 08:00"), 0);
    }
    c.give_obs("2026-12-23 08:00", 30);
    let d = c.next("2026-12-23 09:00");
    assert_eq!(d.action, ActionKind::VisitClosed);
    assert!(
        check_give(
            c.ctx,
            &c.state(),
            &c.patient,
            at("2026-12-23 09:00"),
            &proposed(&d.dosing.expect("d"), Some("again")),
            None
        )
        .is_err()
    );
}

#[test]
fn a_grade_1_reaction_closes_the_visit_and_steps_back_one_distinct_dose() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give_obs("2026-12-07 08:00", 0);
    c.give_obs("2026-12-07 08:30", 0);
    c.give("2026-12-07 09:00"); // step 3, 1 000 SQ-U
    c.record("2026-12-07 09:15", sr("1z")).expect("sr");
    // The visit is closed; the observation of the day's last dose is now the day-end one.
    let d = c.next("2026-12-07 09:40");
    assert_eq!(d.action, ActionKind::Observe);
    assert_eq!(d.observation_until, Some(at("2026-12-07 11:00")));
    c.record("2026-12-07 11:00", obs(0)).expect("obs");
    let d = c.next("2026-12-07 11:30");
    assert_eq!(d.action, ActionKind::VisitClosed);
    assert_eq!(d.dosing.as_ref().map(|x| x.step), Some(2), "100 SQ-U");
    assert_eq!(steps(&c.give_visit("2026-12-08 08:00", 0)), [2, 3, 4]);
}

#[test]
fn step_back_counts_distinct_doses_on_a_cluster_schedule() {
    // Cluster table I (docs/sources.md: alutard-sq-smpc-fi): week 2 gives 2 000 twice, week 3 gives 5 000 twice.
    let fx = Fixture::new("alutard-hdm-cluster-7w");
    let mut c = fx.course("norwegian-guide");
    assert_eq!(steps(&c.give_visit("2026-12-07 08:00", 0)), [1, 2, 3]);
    assert_eq!(steps(&c.give_visit("2026-12-14 08:00", 0)), [4, 5]);
    c.give_obs("2026-12-21 08:00", 0); // step 6: 5 000
    c.give("2026-12-21 08:30"); // step 7: 5 000 again
    c.record("2026-12-21 08:45", sr("1z")).expect("sr");
    c.record("2026-12-21 09:30", obs(0)).expect("obs");
    // One dose step below 5 000 is 2 000 (step 4), not the other 5 000 (step 6).
    let d = c.next("2026-12-28 08:00");
    assert_eq!(
        d.dosing.as_ref().map(|x| (x.step, x.dose.amount())),
        Some((4, Decimal::from(2000)))
    );
    assert_eq!(
        steps(&c.give_visit("2026-12-28 08:00", 0)),
        [4, 5],
        "the 2 000 visit"
    );

    // A late dose on the same schedule: last dose step 5 (2 000); 5 weeks later (4-6 weeks:
    // back 1 dose step, docs/sources.md: norwegian-guide) gives 1 000 (step 3), not the first 2 000 (step 4).
    let mut c = fx.course("norwegian-guide");
    c.give_visit("2026-12-07 08:00", 0);
    c.give_visit("2026-12-14 08:00", 0);
    let d = c.next("2027-01-18 08:00");
    assert_eq!(d.dosing.as_ref().map(|x| x.step), Some(3), "{d:?}");
}

#[test]
fn a_physicians_step_back_counts_distinct_doses_too() {
    let fx = Fixture::new("alutard-hdm-cluster-7w");
    let mut c = fx.course("norwegian-guide");
    c.give_visit("2026-12-07 08:00", 0);
    c.give_visit("2026-12-14 08:00", 0);
    c.give_visit("2026-12-21 08:00", 0);
    c.record(
        "2026-12-22 10:00",
        review(Review::StepBack { steps: 2 }, "tired"),
    )
    .expect("review");
    // Two distinct doses below 5 000: 2 000, then 1 000 (step 3).
    assert_eq!(c.next("2026-12-28 08:00").dosing.map(|x| x.step), Some(3));
}

#[test]
fn a_grade_2_reaction_waits_for_a_physician_and_a_closed_visit_stays_closed() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give_obs("2026-12-07 08:00", 0);
    c.give_obs("2026-12-07 08:30", 0);
    c.give_obs("2026-12-07 09:00", 0);
    c.give("2026-12-07 09:30"); // step 4, 2 000
    c.record("2026-12-07 09:40", sr("2a")).expect("sr");
    c.record("2026-12-07 11:30", obs(0)).expect("obs");
    assert_eq!(
        c.next("2026-12-08 08:00").action,
        ActionKind::PhysicianReview
    );
    let p = proposed(
        &Dosing {
            step: 4,
            maintenance: None,
            vial: "3".into(),
            volume_ml: fx.plan.steps[3].volume_ml,
            dose: fx.plan.steps[3].dose,
        },
        Some("I say so"),
    );
    assert!(matches!(
        c.try_give("2026-12-08 08:00", &p),
        Err(Refusal::ReviewPending { .. })
    ));
    // A review needs a reason.
    let bare = EventKind::PhysicianReview {
        decision: Review::Continue,
        reason: None,
        about: None,
    };
    assert!(matches!(
        c.record("2026-12-07 12:00", bare),
        Err(Refusal::NoReason { .. })
    ));
    c.record(
        "2026-12-07 12:00",
        review(Review::Continue, "mild, resolved"),
    )
    .expect("review");
    assert_eq!(c.next("2026-12-07 13:00").action, ActionKind::VisitClosed);
    // `continue` applies the rule's 2 dose steps: 2 000 -> 1 000 -> 100 (step 2).
    let d = c.next("2026-12-08 08:00");
    assert_eq!(
        (d.action, d.dosing.map(|x| x.step)),
        (ActionKind::Give, Some(2))
    );
}

#[test]
fn grade_4_stops_unless_a_review_names_the_cause_and_grade_5_ends_for_good() {
    // Severe (WAO 4) -> stop unless a correctable cause (docs/sources.md: norwegian-guide); WAO 5 is death (docs/sources.md: wao-grading-2010).
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    c.record("2026-12-07 08:10", sr("4a")).expect("sr");
    assert_eq!(c.next("2026-12-08 08:00").action, ActionKind::Stopped);
    let bare = EventKind::PhysicianReview {
        decision: Review::Restart,
        reason: None,
        about: None,
    };
    assert!(matches!(
        c.record("2026-12-08 09:00", bare),
        Err(Refusal::NoReason { .. })
    ));
    c.record(
        "2026-12-08 09:05",
        review(Review::Restart, "intercurrent infection was the cause"),
    )
    .expect("resume");
    c.record("2026-12-08 09:06", obs(0)).expect("obs");
    assert_eq!(c.next("2026-12-09 08:00").dosing.map(|x| x.step), Some(1));

    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    let death = c.record("2026-12-07 08:10", sr("5z")).expect("sr");
    assert_eq!(c.next("2026-12-08 08:00").action, ActionKind::Ended);
    assert_eq!(
        c.record("2026-12-08 09:00", review(Review::Restart, "wrong")),
        Err(Refusal::EndedIsFinal)
    );
    // Only a correction of the record undoes it.
    c.record(
        "2026-12-08 09:00",
        EventKind::Correction {
            corrects: death,
            reason: "recorded on the wrong patient".into(),
        },
    )
    .expect("correction");
    assert_eq!(
        c.next("2026-12-08 09:00").action,
        ActionKind::ObservationNotClosed
    );
}

#[test]
fn late_reactions_by_type() {
    // Late type III -> stop; late allergic -> the physician decides (docs/sources.md: norwegian-guide).
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    for (kind, action) in [
        (LateKind::TypeIii, ActionKind::Stopped),
        (LateKind::AllergicMild, ActionKind::PhysicianReview),
        (LateKind::AllergicSevere, ActionKind::PhysicianReview),
    ] {
        let mut c = fx.course("norwegian-guide");
        c.give_obs("2026-12-07 08:00", 0);
        c.record(
            "2026-12-08 07:00",
            EventKind::LateReaction {
                kind,
                symptom: "fever".into(),
            },
        )
        .expect("late");
        assert_eq!(c.next("2026-12-14 08:00").action, action, "{kind}");
    }
}
