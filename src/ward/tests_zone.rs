//! The clinic's time zone as a setting, through the ward: set by `init_in`, changed by an admin
//! only before the first patient; a record made before the setting (`system`) may be given its
//! zone once, whatever it holds, and stays intact.

use chrono::{NaiveDate, NaiveDateTime};

use super::{Actor, NewStaff, Role, Ward};
use crate::zone::Zone;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

fn admin() -> NewStaff {
    NewStaff {
        id: "admin".into(),
        name: "Admin".into(),
        role: Role::Admin,
        secret: "admin-password-1".into(),
    }
}

/// A nurse, and a patient added by them.
fn with_patient(ward: &mut Ward, admin: &Actor, now: NaiveDateTime) {
    ward.staff_add(
        admin,
        NewStaff {
            id: "rn.li".into(),
            name: "RN Li".into(),
            role: Role::Nurse,
            secret: "staff-password-1".into(),
        },
        now,
    )
    .expect("staff");
    let nurse = ward
        .login("rn.li", "staff-password-1", "test", now)
        .expect("login")
        .0;
    let p = crate::ward::view::PatientRecord {
        id: "P1".into(),
        name: "Patient P1".into(),
        dob: NaiveDate::from_ymd_opt(1990, 5, 1).expect("date"),
        weight_kg: "70".into(),
        sige: "2".into(),
        total_ige: "410".into(),
        fev1_percent: Some("92".into()),
        asthma: Some("controlled".into()),
        beta_blocker: false,
    };
    ward.add_patient(&nurse, &p, now).expect("patient");
}

#[test]
fn the_zone_changes_only_before_the_first_patient() {
    let dir = tempfile::tempdir().expect("tmp");
    let now = at("2026-12-07 08:00");
    let oslo = Zone::parse("Europe/Oslo").expect("zone");
    let (mut ward, admin, _) =
        Ward::init_in(&dir.path().join("r.db"), true, admin(), "test", now, oslo).expect("init");
    assert_eq!(ward.zone().expect("zone"), oslo);
    ward.set_setting(&admin, "time_zone", "UTC", now)
        .expect("before any patient");
    ward.set_setting(&admin, "time_zone", "Europe/Oslo", now)
        .expect("before any patient");
    with_patient(&mut ward, &admin, now);
    let e = ward
        .set_setting(&admin, "time_zone", "America/New_York", now)
        .expect_err("a patient is entered");
    assert!(e.to_string().contains("stays Europe/Oslo"), "{e}");
    assert_eq!(ward.zone().expect("zone"), oslo);
    assert!(ward.verify_all().expect("verify").intact);
}

#[test]
fn a_record_made_before_the_setting_is_given_its_zone_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let now = at("2026-12-07 08:00");
    // `init` without a zone: a record as ritplan made it before the setting.
    let (mut ward, admin, _) =
        Ward::init(&dir.path().join("r.db"), true, admin(), "test", now).expect("init");
    assert_eq!(ward.zone().expect("zone"), Zone::System);
    with_patient(&mut ward, &admin, now);
    ward.set_setting(&admin, "time_zone", "Europe/Oslo", now)
        .expect("the zone the record's times were written in");
    assert_eq!(
        ward.zone().expect("zone"),
        Zone::parse("Europe/Oslo").expect("zone")
    );
    assert!(
        ward.set_setting(&admin, "time_zone", "UTC", now).is_err(),
        "once only"
    );
    assert!(ward.verify_all().expect("verify").intact);
}
