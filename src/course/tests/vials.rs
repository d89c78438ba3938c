//! Vials in the course's state: added, discarded, voided by a correction, the doses drawn from
//! each, and their status on a day (usable on the expiry date itself).

use super::*;

fn added(code: &str, expires: &str) -> EventKind {
    EventKind::VialAdded {
        code: code.into(),
        vial: "4".into(),
        lot: "AB123".into(),
        lot_expires: date(expires),
        expires: date(expires),
        expiry_rule: None,
        manufacturer: Some("ALK".into()),
        prepared: None,
        volume_ml: None,
        gtin: None,
        serial: None,
    }
}

#[test]
fn vials_are_added_discarded_and_counted_and_are_not_doses() {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    c.record("2026-12-07 08:00", added("V000001", "2027-03-31"))
        .expect("vial added");
    c.record("2026-12-07 08:01", added("V000002", "2027-03-31"))
        .expect("second vial");
    let before = c.next("2026-12-07 08:05");
    assert!(c.state().given.is_empty(), "a vial is not a dose");
    let d = c.give("2026-12-07 08:05");
    // The dose drew from V000002.
    let last = c.events.last_mut().expect("dose");
    if let EventKind::DoseGiven { vial_code, .. } = &mut last.kind {
        *vial_code = Some("V000002".into());
    }
    assert_eq!(before.dosing.as_ref(), Some(&d), "vials change no decision");
    c.record(
        "2026-12-07 09:00",
        EventKind::VialDiscarded {
            code: "V000001".into(),
            reason: "dropped".into(),
        },
    )
    .expect("discarded");
    let s = c.state();
    assert_eq!(s.vials.len(), 2);
    assert_eq!(s.vials[0].code, "V000001");
    assert_eq!(
        s.vials[0].discarded,
        Some((at("2026-12-07 09:00"), "dropped".to_string()))
    );
    assert_eq!(
        s.vials[0].state_on(date("2026-12-08")),
        VialStatus::Discarded
    );
    assert_eq!((s.vials[0].doses_drawn, s.vials[1].doses_drawn), (0, 1));
    // Usable on its expiry date, expired the day after.
    assert_eq!(s.vials[1].state_on(date("2027-03-31")), VialStatus::Active);
    assert_eq!(s.vials[1].state_on(date("2027-04-01")), VialStatus::Expired);
    assert!(
        !EventKind::VialDiscarded {
            code: "V000001".into(),
            reason: "x".into()
        }
        .is_reaction()
    );
}

#[test]
fn a_correction_voids_a_vial_or_its_discard() {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    let a = c
        .record("2026-12-07 08:00", added("V000001", "2027-03-31"))
        .expect("vial");
    let b = c
        .record("2026-12-07 08:01", added("V000002", "2027-03-31"))
        .expect("vial");
    let discard = c
        .record(
            "2026-12-07 08:02",
            EventKind::VialDiscarded {
                code: "V000002".into(),
                reason: "cracked".into(),
            },
        )
        .expect("discard");
    let fix = |seq| EventKind::Correction {
        corrects: seq,
        reason: "wrong entry".into(),
    };
    c.record("2026-12-07 08:03", fix(a)).expect("correct");
    c.record("2026-12-07 08:04", fix(discard)).expect("correct");
    let s = c.state();
    assert_eq!(s.vials.len(), 1, "the corrected vial is gone");
    assert_eq!(s.vials[0].code, "V000002");
    assert_eq!(s.vials[0].discarded, None, "the discarded vial is back");
    let _ = b;
}

#[test]
fn an_old_dose_record_reads_unchanged_and_vial_events_round_trip() {
    let old = r#"{"dose_given":{"step":1,"vial":"1","volume_ml":0.1,"dose":{"amount":10,"unit":"SQ-U"},"lot":null,"site":null,"pef_percent":null,"screen_ok":true,"override_reason":null}}"#;
    let e: EventKind = serde_json::from_str(old).expect("old dose");
    assert!(matches!(
        &e,
        EventKind::DoseGiven {
            vial_code: None,
            phase: None,
            ..
        }
    ));
    assert!(
        !serde_json::to_string(&e)
            .expect("json")
            .contains("vial_code"),
        "an absent vial code is not written"
    );
    let v = added("V000123", "2027-03-31");
    let text = serde_json::to_string(&v).expect("json");
    assert!(
        !text.contains("gtin") && !text.contains("prepared"),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<EventKind>(&text).expect("back"), v);
}

#[test]
fn the_course_refuses_a_vial_on_a_stopped_course_and_a_second_discard() {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    let add = added("V000001", "2027-03-31");
    assert_eq!(vial_admissible(&c.state(), &add), Ok(()));
    c.record("2026-12-07 08:00", add).expect("vial added");
    let discard = |code: &str| EventKind::VialDiscarded {
        code: code.into(),
        reason: "dropped".into(),
    };
    assert_eq!(
        vial_admissible(&c.state(), &discard("V000009")),
        Err(VialRefusal::NoVial {
            code: "V000009".into()
        })
    );
    assert!(c.record("2026-12-07 08:30", discard("V000009")).is_err());
    c.record("2026-12-07 09:00", discard("V000001"))
        .expect("discarded");
    assert_eq!(
        vial_admissible(&c.state(), &discard("V000001")),
        Err(VialRefusal::AlreadyDiscarded {
            code: "V000001".into(),
            at: at("2026-12-07 09:00"),
            reason: "dropped".into(),
        })
    );
    assert!(c.record("2026-12-07 09:10", discard("V000001")).is_err());
    c.record("2026-12-07 10:00", review(Review::Stop, "moved away"))
        .expect("stopped");
    let again = added("V000002", "2027-03-31");
    assert!(matches!(
        vial_admissible(&c.state(), &again),
        Err(VialRefusal::Course(Refusal::Stopped { .. }))
    ));
    assert!(matches!(
        c.record("2026-12-07 10:05", again),
        Err(Refusal::Stopped { .. })
    ));
}

#[test]
fn the_vial_in_hand_is_the_scanned_one_else_the_typed_lot_else_the_one_next_shows() {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    c.record("2026-12-07 08:00", added("V000001", "2027-03-31"))
        .expect("vial added");
    let s = c.state();
    let d = Dosing {
        vial: "4".into(),
        ..c.next("2026-12-07 08:05").dosing.expect("dosing")
    };
    let day = date("2026-12-07");
    let scanned = vial_in_hand(&s, None, Some("X9"), Some(" v000001"), day).expect("hand");
    assert_eq!(
        (scanned.lot.as_str(), scanned.manufacturer.as_deref()),
        ("AB123", Some("ALK"))
    );
    let typed = vial_in_hand(&s, Some(&d), Some(" X9 "), None, day).expect("hand");
    assert_eq!((typed.vial.as_str(), typed.lot.as_str()), ("4", "X9"));
    let shown = vial_in_hand(&s, Some(&d), None, None, day).expect("hand");
    assert_eq!(shown.lot, "AB123");
    assert_eq!(vial_in_hand(&s, None, Some("X9"), None, day), None);
}
