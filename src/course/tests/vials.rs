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
