use super::*;

// ---------------------------------------------------------------------------------------------
// Time: the first dose, intervals, observation (docs/sources.md: alutard-sq-fachinfo-ch, norwegian-guide, aaaai-acaai-pp-2011, ritplan-default).

#[test]
fn the_first_dose_waits_for_the_planned_day_at_opening_time() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let c = fx.course("norwegian-guide");
    let d = c.next("2026-12-04 10:00");
    assert_eq!(
        (d.action, d.not_before),
        (ActionKind::Wait, Some(at("2026-12-07 08:00")))
    );
    assert_eq!(c.next("2026-12-07 07:30").action, ActionKind::Wait);
    assert_eq!(c.next("2026-12-07 08:00").action, ActionKind::Give);
}

#[test]
fn an_uneventful_rush_then_maintenance_on_clinic_days() {
    // The example rush (docs/sources.md: ritplan-example-rush), maintenance 2 then 4 weeks after (docs/sources.md: nct06771934), then 8 ± 2.
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    assert_eq!(steps(&c.give_visit("2026-12-07 08:00", 5)), [1, 2, 3, 4]);
    assert_eq!(c.next("2026-12-07 13:00").action, ActionKind::VisitClosed);
    assert_eq!(steps(&c.give_visit("2026-12-08 08:00", 5)), [5, 6, 7]);
    assert_eq!(steps(&c.give_visit("2026-12-09 08:00", 5)), [8, 9, 10]);
    let d = c.next("2026-12-10 08:00");
    assert_eq!(d.action, ActionKind::Wait);
    assert_eq!(
        d.not_before,
        Some(at("2026-12-23 08:00")),
        "opening time, not midnight"
    );
    assert_eq!(
        c.next("2026-12-23 09:00").action,
        ActionKind::MaintenanceDue
    );
    assert_eq!(
        c.give_visit("2026-12-23 09:00", 0).len(),
        1,
        "one maintenance injection"
    );
    assert_eq!(c.next("2026-12-23 12:00").action, ActionKind::VisitClosed);
    assert_eq!(
        c.next("2026-12-24 12:00").not_before,
        Some(at("2027-01-20 08:00")),
        "4 weeks"
    );
    c.give_visit("2027-01-20 08:00", 0);
    // Steady: 8 ± 2 weeks, so from 6 weeks.
    assert_eq!(
        c.next("2027-01-21 08:00").not_before,
        Some(at("2027-03-03 08:00"))
    );
}

#[test]
fn a_not_before_after_a_friday_visit_is_monday_at_opening_time() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give_visit("2026-12-11 08:00", 0); // a late start on Friday: the whole first day
    let d = c.next("2026-12-11 14:00");
    assert_eq!(d.action, ActionKind::VisitClosed);
    assert_eq!(d.not_before, Some(at("2026-12-14 08:00")));
}

#[test]
fn the_observation_is_measured_from_the_injection() {
    // At least 30 min (docs/sources.md: aaaai-acaai-pp-2011); the rush day's last dose 120 min (docs/sources.md: ritplan-default).
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    assert_eq!(
        c.record("2026-12-07 08:10", obs(0)),
        Err(Refusal::ObservationTooShort {
            until: at("2026-12-07 08:30")
        })
    );
    assert!(c.next("2026-12-07 08:10").action == ActionKind::Observe);
    let d = c.next("2026-12-07 08:45");
    assert_eq!(d.action, ActionKind::ObservationNotClosed);
    c.record("2026-12-07 08:45", obs(0)).expect("on time");
    // The next dose counts from the injection, not from the late record of its end.
    assert_eq!(c.next("2026-12-07 08:45").action, ActionKind::Give);
    c.give_obs("2026-12-07 08:45", 0);
    c.give_obs("2026-12-07 09:15", 0);
    c.give("2026-12-07 09:45");
    // Step 4 is the day's last: 120 min.
    assert_eq!(
        c.record("2026-12-07 10:30", obs(0)),
        Err(Refusal::ObservationTooShort {
            until: at("2026-12-07 11:45")
        })
    );
}

#[test]
fn an_early_end_needs_a_reason_and_ends_the_visit() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    let early = EventKind::ObservationEnded {
        local_mm: Some(0),
        not_assessable: false,
        early_reason: Some("left against advice".into()),
    };
    c.record("2026-12-07 08:10", early).expect("with a reason");
    let d = c.next("2026-12-07 08:40");
    assert_eq!(d.action, ActionKind::VisitClosed);
    assert!(matches!(
        d.visit_closed,
        Some(VisitClosed::LeftEarly { .. })
    ));
    // The visit closed after step 1, so it was the day's last: it needed the day-end
    // observation, and the next visit continues planned visit 1.
    assert_eq!(d.dosing.map(|x| x.step), Some(2));
    assert_eq!(d.not_before, Some(at("2026-12-08 08:00")));
}

#[test]
fn an_observation_needs_a_local_size_or_not_assessable_which_holds_escalation() {
    // The size of the immediate reaction must be measured and recorded (docs/sources.md: norwegian-guide).
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    let none = EventKind::ObservationEnded {
        local_mm: None,
        not_assessable: false,
        early_reason: None,
    };
    assert_eq!(
        c.record("2026-12-07 08:30", none),
        Err(Refusal::NeedsLocalSize)
    );
    let na = EventKind::ObservationEnded {
        local_mm: None,
        not_assessable: true,
        early_reason: None,
    };
    c.record("2026-12-07 08:30", na).expect("not assessable");
    let d = c.next("2026-12-14 08:00");
    assert_eq!(d.action, ActionKind::PhysicianReview);
    assert_eq!(d.hold.map(|h| h.cause), Some(Cause::LocalNotAssessable));
    // An older record closed without a size is read the same way (fail closed).
    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    c.push(
        "2026-12-07 08:30",
        EventKind::ObservationEnded {
            local_mm: None,
            not_assessable: false,
            early_reason: None,
        },
    );
    assert_eq!(
        c.next("2026-12-14 08:00").action,
        ActionKind::PhysicianReview
    );
}
