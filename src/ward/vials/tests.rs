//! The ward's vial doors: add, list, find, discard; every refusal writes nothing.

use super::*;
use crate::ward::{NewStaff, Start};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// A record with a nurse and two courses (P1 and P2) on the 3-day rush template, vials 1-4.
fn ward(dir: &tempfile::TempDir) -> (Ward, Actor, Actor) {
    let now = at("2026-12-07 08:00");
    let (mut ward, admin, _) = Ward::init(
        &dir.path().join("r.db"),
        true,
        NewStaff {
            id: "admin".into(),
            name: "Admin".into(),
            role: Role::Admin,
            secret: "admin-password-1".into(),
        },
        "test",
        now,
    )
    .expect("init");
    ward.staff_add(
        &admin,
        NewStaff {
            id: "rn.li".into(),
            name: "RN Li".into(),
            role: Role::Nurse,
            secret: "nurse-password-1".into(),
        },
        now,
    )
    .expect("nurse");
    let (nurse, _) = ward
        .login("rn.li", "nurse-password-1", "test", now)
        .expect("nurse");
    let b = crate::testkit::bundled();
    let template = b.catalog.get("example-hdm-rush-3d").expect("template");
    for id in ["P1", "P2"] {
        let p = crate::ward::view::PatientRecord {
            id: id.into(),
            name: format!("Patient {id}"),
            dob: d("1990-05-01"),
            weight_kg: "70".into(),
            sige: "2".into(),
            total_ige: "410".into(),
            fev1_percent: Some("92".into()),
            asthma: Some("controlled".into()),
            beta_blocker: false,
        };
        ward.add_patient(&nurse, &p, now).expect("patient");
        let started = ward
            .start(
                &nurse,
                Start {
                    patient_id: id,
                    template,
                    catalog: &b.catalog,
                    policy: &b.policy,
                    rule_sources: crate::policy::bundled_sources(),
                    start: now,
                    calendar: crate::testkit::weekdays(),
                    omalizumab_weeks: None,
                    accept_risk: None,
                    accept_age: None,
                    accept_missing: None,
                    now,
                },
            )
            .expect("start");
        assert!(started.is_ok());
    }
    (ward, admin, nurse)
}

fn new_vial(vial: &str) -> NewVial {
    NewVial {
        vial: vial.into(),
        lot: Some("AB123".into()),
        expires: Some(d("2027-03-31")),
        ..NewVial::default()
    }
}

#[test]
fn a_vial_is_added_listed_found_and_discarded() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, admin, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    let v = w.add_vial(&nurse, 1, new_vial("4"), now).expect("added");
    assert_eq!(v.code, "V000001");
    assert_eq!((v.course, v.patient.as_str()), (1, "P1"));
    assert_eq!(v.strength.to_string(), "100 000 SQ-U/mL");
    assert_eq!(v.cap, "red");
    assert_eq!((v.expires, v.expiry_rule.clone()), (d("2027-03-31"), None));
    assert_eq!(v.status, VialStatus::Active);
    let v2 = w.add_vial(&nurse, 2, new_vial("1"), now).expect("added");
    let v3 = w.add_vial(&nurse, 1, new_vial("3"), now).expect("added");
    assert_eq!((v2.code.as_str(), v3.code.as_str()), ("V000002", "V000003"));
    let all = w.vials(None, now.date()).expect("list");
    let codes: Vec<&str> = all.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(codes, ["V000001", "V000003", "V000002"]);
    assert_eq!(w.vials(Some(2), now.date()).expect("list").len(), 1);
    // Case and spaces ignored; the status on a day after the expiry.
    let found = w.vial(" v000001 ", d("2027-04-01")).expect("found");
    assert_eq!(found.status, VialStatus::Expired);
    // A scanner's noise (byte-order mark, symbology identifier, CR LF) too, as for a dose's scan.
    let scanned = w.vial("\u{feff}]d2v000001\r\n", now.date()).expect("found");
    assert_eq!(scanned.code, "V000001");
    assert!(matches!(
        w.vial("V000099", now.date()),
        Err(WardError::NoVial { code }) if code == "V000099"
    ));
    assert!(matches!(
        w.vial("X1", now.date()),
        Err(WardError::Input {
            field: Field::VialCode,
            ..
        })
    ));
    // An admin may not add or discard a vial.
    assert!(matches!(
        w.add_vial(&admin, 1, new_vial("4"), now),
        Err(WardError::Forbidden(_))
    ));
    let gone = w
        .discard_vial(&nurse, "v000001", "dropped", at("2026-12-07 09:00"))
        .expect("discarded");
    assert_eq!(gone.status, VialStatus::Discarded);
    assert_eq!(gone.discarded_reason.as_deref(), Some("dropped"));
    let again = w.discard_vial(&nurse, "V000001", "twice", at("2026-12-07 09:01"));
    assert!(
        matches!(&again, Err(WardError::Input { field: Field::VialCode, problem }) if problem.contains("already discarded")),
        "{again:?}"
    );
    // Both are entries of course 1's chain.
    let kinds: Vec<EventKind> = w
        .view(1)
        .expect("view")
        .events
        .iter()
        .map(|e| e.event.kind.clone())
        .collect();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::VialAdded { code, .. } if code == "V000001"))
    );
    assert!(kinds.contains(&EventKind::VialDiscarded {
        code: "V000001".into(),
        reason: "dropped".into()
    }));
}

#[test]
fn every_bad_vial_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, _, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    let refused = |w: &mut Ward, v: NewVial| -> (Field, String) {
        match w.add_vial(&nurse, 1, v, now) {
            Err(WardError::Input { field, problem }) => (field, problem),
            other => panic!("{other:?}"),
        }
    };
    let (f, p) = refused(&mut w, new_vial("7"));
    assert_eq!(f, Field::VialNumber);
    assert!(p.contains("its vials are 1 (100 SQ-U/mL, grey)"), "{p}");
    let (f, p) = refused(
        &mut w,
        NewVial {
            expires: Some(d("2026-12-06")),
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::Expires);
    assert!(p.contains("2026-12-06 is past"), "{p}");
    // Usable on its expiry date.
    let today = NewVial {
        expires: Some(d("2026-12-07")),
        ..new_vial("4")
    };
    assert!(w.add_vial(&nurse, 1, today, now).is_ok());
    let (f, _) = refused(
        &mut w,
        NewVial {
            lot: None,
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::Lot);
    let (f, _) = refused(
        &mut w,
        NewVial {
            expires: None,
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::Expires);
    let (f, _) = refused(
        &mut w,
        NewVial {
            prepared: Some(d("2026-12-08")),
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::Prepared);
    let ml = |s: &str| Some(Volume::from_ml(crate::units::parse_decimal(s).expect("ml")));
    let (f, _) = refused(
        &mut w,
        NewVial {
            volume_ml: ml("50.1"),
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::VialVolume);
    assert!(
        w.add_vial(
            &nurse,
            1,
            NewVial {
                volume_ml: ml("50"),
                ..new_vial("4")
            },
            now
        )
        .is_ok()
    );
    let (f, _) = refused(
        &mut w,
        NewVial {
            lot: Some("A\u{1b}B".into()),
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::Lot);
    let (f, _) = refused(
        &mut w,
        NewVial {
            expires: Some(d("2200-01-01")),
            ..new_vial("4")
        },
    );
    assert_eq!(f, Field::Expires);
    assert_eq!(
        w.vials(Some(1), now.date()).expect("list").len(),
        2,
        "only the two good ones"
    );
}

#[test]
fn a_scan_fills_the_lot_and_expiry_and_must_agree_with_what_is_typed() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, _, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    // ]d2, GTIN, expiry 2027-03-31, lot AB123 ended by GS, serial; CR at the end.
    let scan = "]d20109506000134352172703311".to_string() + "0AB123\u{1d}21S42\r";
    let v = w
        .add_vial(
            &nurse,
            1,
            NewVial {
                vial: "4".into(),
                scan: Some(scan.clone()),
                ..NewVial::default()
            },
            now,
        )
        .expect("scanned");
    assert_eq!(v.lot, "AB123");
    assert_eq!(v.expires, d("2027-03-31"));
    assert_eq!(v.gtin.as_deref(), Some("09506000134352"));
    assert_eq!(v.serial.as_deref(), Some("S42"));
    let disagree = w.add_vial(
        &nurse,
        1,
        NewVial {
            vial: "4".into(),
            lot: Some("ZZ9".into()),
            scan: Some(scan),
            ..NewVial::default()
        },
        now,
    );
    assert!(
        matches!(&disagree, Err(WardError::Input { field: Field::Lot, problem }) if problem.contains("\"ZZ9\"") && problem.contains("\"AB123\"")),
        "{disagree:?}"
    );
}

#[test]
fn a_form_shown_on_an_older_state_or_for_another_course_writes_no_vial() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, _, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    let last = |w: &mut Ward, c: i64| {
        let log = w.event_log(c).expect("log");
        log.events.last().map_or(0, |e| e.event.seq)
    };
    let seen = last(&mut w, 1);
    let v = w
        .add_vial_if(&nurse, 1, new_vial("1"), now, Some(seen))
        .expect("added on the state shown");
    // The same form again: the course has moved on.
    let e = w.add_vial_if(&nurse, 1, new_vial("1"), now, Some(seen));
    assert!(
        matches!(e, Err(WardError::Stale { course: 1, seen: s, now: n }) if s == seen && n == seen + 1),
        "{e:?}"
    );
    let e = w.discard_vial_if(&nurse, &v.code, "dropped", now, Some((1, seen)));
    assert!(matches!(e, Err(WardError::Stale { .. })), "{e:?}");
    // Course 2's page cannot discard course 1's vial.
    let seen2 = last(&mut w, 2);
    let e = w.discard_vial_if(&nurse, &v.code, "dropped", now, Some((2, seen2)));
    assert!(
        matches!(&e, Err(WardError::Input { field: Field::VialCode, problem }) if problem.contains("is a vial of course 1, not of course 2")),
        "{e:?}"
    );
    assert_eq!(last(&mut w, 1), seen + 1, "nothing more written");
    assert_eq!(last(&mut w, 2), seen2);
    let done = w
        .discard_vial_if(&nurse, &v.code, "dropped", now, Some((1, seen + 1)))
        .expect("discarded");
    assert_eq!(done.status, VialStatus::Discarded);
}

#[test]
fn the_clinic_policy_shortens_the_expiry_and_needs_the_preparation_date() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, _, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    w.use_vial_expiry_rules(SourceText::new(
        "vial-expiry.toml",
        r#"
kind = "vial-expiry"
format = 1
source = "test"
evidence = "example"
certainty = "I"

[[limit]]
unit = "SQ-U"
strength = "[0, 1000]"
months = 3
source = "test clinic"
evidence = "example"
certainty = "I"
"#,
    ))
    .expect("rules");
    let e = w.add_vial(&nurse, 1, new_vial("1"), now);
    assert!(
        matches!(&e, Err(WardError::Input { field: Field::Prepared, problem }) if problem.contains("limits vial 1's shelf life")),
        "{e:?}"
    );
    let v = w
        .add_vial(
            &nurse,
            1,
            NewVial {
                prepared: Some(d("2026-12-01")),
                ..new_vial("2")
            },
            now,
        )
        .expect("added");
    assert_eq!(v.expires, d("2027-03-01"));
    assert_eq!(v.lot_expires, d("2027-03-31"));
    assert!(
        v.expiry_rule
            .as_deref()
            .is_some_and(|r| r.contains("3 months"))
    );
    // Vial 3 (10 000 SQ-U/mL) is outside the row: the lot's date, no date needed.
    let v = w.add_vial(&nurse, 1, new_vial("3"), now).expect("added");
    assert_eq!((v.expires, v.expiry_rule), (d("2027-03-31"), None));
}

#[test]
fn no_vial_is_added_to_a_stopped_course() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, admin, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    w.staff_add(
        &admin,
        NewStaff {
            id: "dr.ng".into(),
            name: "Dr Ng".into(),
            role: Role::Physician,
            secret: "doctor-password-1".into(),
        },
        now,
    )
    .expect("physician");
    let (doctor, _) = w
        .login("dr.ng", "doctor-password-1", "test", now)
        .expect("doctor");
    w.record(
        &doctor,
        1,
        now,
        now,
        crate::ward::Record::Event(EventKind::PhysicianReview {
            decision: crate::course::Review::Stop,
            reason: Some("moved away".into()),
            about: None,
        }),
    )
    .expect("stopped");
    let e = w.add_vial(&nurse, 1, new_vial("4"), at("2026-12-07 08:20"));
    assert!(matches!(e, Err(WardError::Refused(_))), "{e:?}");
    assert!(w.vials(Some(1), now.date()).expect("list").is_empty());
}

#[test]
fn a_vial_event_is_never_recorded_as_a_plain_entry() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, _, nurse) = ward(&dir);
    let now = at("2026-12-07 08:10");
    let e = w.record(
        &nurse,
        1,
        now,
        now,
        crate::ward::Record::Event(EventKind::VialDiscarded {
            code: "V000001".into(),
            reason: "x".into(),
        }),
    );
    assert!(matches!(e, Err(WardError::Data(_))));
    assert_eq!(
        w.settings().expect("settings").scan,
        crate::ward::Scan::Vial
    );
}
