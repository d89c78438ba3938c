//! The scan before a dose, through the ward: every refusal writes nothing and no override lifts
//! it; the clinic's setting decides which scans are required; a good scan records the vial's
//! code and lot, and the vial counts the dose drawn.

use chrono::{NaiveDate, NaiveDateTime};

use super::vials::NewVial;
use super::{Actor, NewStaff, Record, Role, Start, Ward, WardError};
use crate::course::{EventKind, Proposed, ScanRefusal, ScanWhat};
use crate::units::{Volume, parse_decimal};

pub(super) fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

pub(super) struct Setup {
    pub(super) ward: Ward,
    pub(super) admin: Actor,
    pub(super) nurse: Actor,
    pub(super) physician: Actor,
}

/// A new record (scan = vial) with a nurse, a physician and two courses (P1: 1, P2: 2) of the
/// 3-day rush template started 2026-12-07 08:00, whose first dose is step 1, 0.1 mL of vial 1.
pub(super) fn setup(dir: &tempfile::TempDir) -> Setup {
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
    let login = |id: &str, role: Role| {
        ward.staff_add(
            &admin,
            NewStaff {
                id: id.into(),
                name: id.into(),
                role,
                secret: "staff-password-1".into(),
            },
            now,
        )
        .expect("staff");
        ward.login(id, "staff-password-1", "test", now)
            .expect("login")
            .0
    };
    let nurse = login("rn.li", Role::Nurse);
    let physician = login("dr.ng", Role::Physician);
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
    Setup {
        ward,
        admin,
        nurse,
        physician,
    }
}

fn vial(w: &mut Ward, nurse: &Actor, course: i64, vial: &str, lot: &str, expires: &str) -> String {
    w.add_vial(
        nurse,
        course,
        NewVial {
            vial: vial.into(),
            lot: Some(lot.into()),
            expires: Some(d(expires)),
            ..NewVial::default()
        },
        at("2026-12-07 08:01"),
    )
    .expect("vial")
    .code
}

/// The first dose (step 1, 0.1 mL), typed patient P1, with these scans and lot.
pub(super) fn give(
    patient: Option<&str>,
    scan_patient: Option<&str>,
    scan_vial: Option<&str>,
    lot: Option<&str>,
) -> Record {
    Record::Give {
        proposed: Proposed {
            step: 1,
            volume_ml: Volume::from_ml(parse_decimal("0.1").expect("ml")),
            pef_percent: Some(parse_decimal("95").expect("pef")),
            screen_ok: true,
            override_reason: None,
            premedication: None,
            premedication_accepted: None,
        },
        lot: lot.map(str::to_string),
        site: Some("left".into()),
        patient: patient.map(str::to_string),
        scan_patient: scan_patient.map(str::to_string),
        scan_vial: scan_vial.map(str::to_string),
        checked_by: None,
    }
}

/// Every event of both courses (a refusal must leave them as they were).
fn events(w: &mut Ward) -> Vec<EventKind> {
    [1, 2]
        .iter()
        .flat_map(|id| {
            w.view(*id)
                .expect("view")
                .events
                .into_iter()
                .map(|e| e.event.kind)
        })
        .collect()
}

fn refused(w: &mut Ward, who: &Actor, when: &str, what: Record) -> ScanRefusal {
    let before = events(w);
    let t = at(when);
    // The confirmation's preview refuses it as the recording does.
    match w.preview(who, 1, t, t, what.clone(), None) {
        Err(WardError::Scan(_)) => {}
        Err(other) => panic!("preview: {other:?}"),
        Ok(_) => panic!("preview accepted"),
    }
    let r = match w.record(who, 1, t, t, what) {
        Err(WardError::Scan(r)) => r,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("recorded"),
    };
    assert_eq!(events(w), before, "nothing written");
    r
}

#[test]
fn every_bad_scan_is_refused_nothing_is_written_and_no_override_lifts_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let Setup {
        ward: mut w,
        admin,
        nurse,
        physician,
    } = setup(&dir);
    let good = vial(&mut w, &nurse, 1, "1", "L100", "2027-03-31");
    let strong = vial(&mut w, &nurse, 1, "3", "L300", "2027-03-31");
    let theirs = vial(&mut w, &nurse, 2, "1", "L2", "2027-03-31");
    let old = vial(&mut w, &nurse, 1, "1", "L0", "2026-12-07");
    let dropped = vial(&mut w, &nurse, 1, "1", "L9", "2027-03-31");
    w.discard_vial(&nurse, &dropped, "dropped", at("2026-12-07 08:02"))
        .expect("discard");
    let when = "2026-12-08 08:10";
    // Scan required (scan = vial, a new record's default) but missing.
    assert_eq!(
        refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), None, None, Some("L100"))
        ),
        ScanRefusal::ScanMissing {
            what: ScanWhat::Vial
        }
    );
    // Wrong wristband, another patient's vial, an unknown code, the wrong strength, a
    // discarded vial, a vial the day after its expiry, a lot that is not the vial's.
    assert_eq!(
        refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), Some("]C0P2\r"), Some(&good), None)
        ),
        ScanRefusal::WrongPatient {
            scanned: "P2".into(),
            expected: "P1".into()
        }
    );
    for code in [theirs.as_str(), "V999999", "not a code"] {
        let r = refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), None, Some(code), None),
        );
        assert!(matches!(r, ScanRefusal::NotThisCourse { .. }), "{r:?}");
    }
    let r = refused(
        &mut w,
        &nurse,
        when,
        give(Some("P1"), None, Some(&strong), None),
    );
    assert_eq!(
        r.to_string(),
        "this is vial 3 (10 000 SQ-U/mL); the dose needs vial 1 (100 SQ-U/mL)"
    );
    assert_eq!(
        refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), None, Some(&dropped), None)
        ),
        ScanRefusal::Discarded {
            code: dropped.clone(),
            reason: "dropped".into()
        }
    );
    assert_eq!(
        refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), None, Some(&old), None)
        ),
        ScanRefusal::Expired {
            code: old.clone(),
            on: d("2026-12-07")
        }
    );
    assert!(matches!(
        refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), None, Some(&good), Some("L999"))
        ),
        ScanRefusal::LotDisagrees { .. }
    ));
    // A physician's override does not lift any of them.
    for code in [&theirs, &strong, &dropped, &old] {
        let mut g = give(Some("P1"), None, Some(code), None);
        if let Record::Give { proposed, .. } = &mut g {
            proposed.override_reason = Some("a lower dose".into());
        }
        refused(&mut w, &physician, when, g);
    }
    // patient-and-vial: the wristband is required too.
    w.set_setting(&admin, "scan", "patient-and-vial", at(when))
        .expect("setting");
    assert_eq!(
        refused(
            &mut w,
            &nurse,
            when,
            give(Some("P1"), None, Some(&good), None)
        ),
        ScanRefusal::ScanMissing {
            what: ScanWhat::Patient
        }
    );
}

#[test]
fn a_good_scan_records_the_vial_and_its_lot_and_the_vial_counts_the_dose() {
    let dir = tempfile::tempdir().expect("tmp");
    let Setup {
        ward: mut w,
        admin,
        nurse,
        ..
    } = setup(&dir);
    w.set_setting(&admin, "scan", "patient-and-vial", at("2026-12-07 08:00"))
        .expect("setting");
    // Usable on its expiry day.
    let code = vial(&mut w, &nurse, 1, "1", "L100", "2026-12-07");
    let t = at("2026-12-07 08:10");
    // The wristband alone identifies the patient; the scanner's noise and case are taken off.
    let scan_vial = format!("]d2{}\r\n", code.to_lowercase());
    let p = w
        .preview(
            &nurse,
            1,
            t,
            t,
            give(None, Some("\u{feff}P1\r"), Some(&scan_vial), None),
            None,
        )
        .expect("preview");
    let shown = p.vial.expect("the scanned vial");
    assert_eq!(
        (shown.code.as_str(), shown.lot.as_str()),
        (code.as_str(), "L100")
    );
    let r = w
        .record(
            &nurse,
            1,
            t,
            t,
            give(None, Some("P1"), Some(&scan_vial), Some("L100")),
        )
        .expect("recorded");
    let EventKind::DoseGiven { vial_code, lot, .. } = &r.event.event.kind else {
        panic!("{:?}", r.event.event.kind)
    };
    assert_eq!(vial_code.as_deref(), Some(code.as_str()));
    assert_eq!(lot.as_deref(), Some("L100"));
    let v = w.vial(&code, t.date()).expect("vial");
    assert_eq!(v.doses_drawn, 1);
}

#[test]
fn with_scans_off_none_is_required_but_a_scan_given_is_checked() {
    let dir = tempfile::tempdir().expect("tmp");
    let Setup {
        ward: mut w,
        admin,
        nurse,
        ..
    } = setup(&dir);
    w.set_setting(&admin, "scan", "off", at("2026-12-07 08:00"))
        .expect("setting");
    let theirs = vial(&mut w, &nurse, 2, "1", "L2", "2027-03-31");
    let t = "2026-12-07 08:10";
    assert!(matches!(
        refused(
            &mut w,
            &nurse,
            t,
            give(Some("P1"), None, Some(&theirs), None)
        ),
        ScanRefusal::NotThisCourse { .. }
    ));
    // A scan with a control character left after the wedge noise is taken off: refused as
    // the vial's scan, before anything is checked.
    let e = w.record(
        &nurse,
        1,
        at(t),
        at(t),
        give(Some("P1"), None, Some("V00\u{1d}0001\r"), None),
    );
    assert!(
        matches!(
            &e,
            Err(WardError::Input {
                field: crate::field::Field::ScanVial,
                ..
            })
        ),
        "{:?}",
        e.err()
    );
    // Neither the typed ID nor a wristband: refused as a missing field.
    let e = w.record(&nurse, 1, at(t), at(t), give(None, None, None, None));
    assert!(
        matches!(
            &e,
            Err(WardError::Input {
                field: crate::field::Field::PatientCheck,
                ..
            })
        ),
        "{:?}",
        e.err()
    );
    let r = w
        .record(
            &nurse,
            1,
            at(t),
            at(t),
            give(Some("P1"), None, None, Some("L7")),
        )
        .expect("recorded without a scan");
    assert!(matches!(
        &r.event.event.kind,
        EventKind::DoseGiven { vial_code: None, lot: Some(l), .. } if l == "L7"
    ));
}

#[test]
fn with_scans_off_a_course_with_recorded_vials_needs_the_lot_of_a_usable_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let Setup {
        ward: mut w,
        admin,
        nurse,
        ..
    } = setup(&dir);
    w.set_setting(&admin, "scan", "off", at("2026-12-07 08:00"))
        .expect("setting");
    // Vial 1 of lot L100 expired yesterday; a usable one of lot L101.
    vial(&mut w, &nurse, 1, "1", "L100", "2026-12-07");
    let usable = vial(&mut w, &nurse, 1, "1", "L101", "2027-03-31");
    let t = "2026-12-08 08:00";
    let before = events(&mut w).len();
    for lot in [None, Some("L100"), Some("nope")] {
        let e = w.record(&nurse, 1, at(t), at(t), give(Some("P1"), None, None, lot));
        assert!(
            matches!(
                &e,
                Err(WardError::Input {
                    field: crate::field::Field::Lot,
                    ..
                })
            ),
            "{lot:?}: {:?}",
            e.err()
        );
        assert_eq!(events(&mut w).len(), before, "{lot:?}: nothing written");
    }
    let r = w
        .record(
            &nurse,
            1,
            at(t),
            at(t),
            give(Some("P1"), None, None, Some("l101")),
        )
        .expect("the usable vial's lot");
    // The record names the vial by its code, and its lot as the vial has it (not as typed).
    let EventKind::DoseGiven { lot, vial_code, .. } = &r.event.event.kind else {
        panic!("{:?}", r.event.event.kind)
    };
    assert_eq!(
        (lot.as_deref(), vial_code.as_deref()),
        (Some("L101"), Some(usable.as_str()))
    );
    assert_eq!(
        w.vial(&usable, d("2026-12-08")).expect("vial").doses_drawn,
        1
    );
}

#[test]
fn a_review_records_what_the_course_showed_not_what_a_front_end_says() {
    let dir = tempfile::tempdir().expect("tmp");
    let Setup {
        ward: mut w,
        physician,
        ..
    } = setup(&dir);
    let t = at("2026-12-07 08:10");
    let r = w
        .record(
            &physician,
            1,
            t,
            t,
            Record::Event(EventKind::PhysicianReview {
                decision: crate::course::Review::Continue,
                reason: Some("checked".into()),
                about: Some(crate::course::ReviewAbout::VialChange {
                    vial: "1".into(),
                    lot: "L999".into(),
                }),
            }),
        )
        .expect("review");
    let EventKind::PhysicianReview { about, .. } = &r.event.event.kind else {
        panic!("{:?}", r.event.event.kind)
    };
    assert_eq!(about, &Some(crate::course::ReviewAbout::NoHold));
}
