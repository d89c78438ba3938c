//! The courses a `serve` process keeps loaded and replayed ([`super::CourseCache`]): a course
//! whose rows and events are the ones loaded before is taken from the cache, one that gets a
//! new entry is replayed with it, and one altered in the database behind the cache is refused
//! exactly as without it (its rows are verified on every read, before the cache is looked at).

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::{Actor, CourseCache, NewStaff, Record, Role, Start, Ward};
use crate::course::Proposed;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

/// A record with a nurse and two patients, each on the 3-day rush from 2026-12-07 08:00, and a
/// ward sharing a new cache.
fn setup(path: &std::path::Path) -> (Ward, Actor, Arc<CourseCache>) {
    let now = at("2026-12-01 09:00");
    let (mut ward, admin, _) = Ward::init(
        path,
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
    ward.set_setting(&admin, "scan", "off", now).expect("scan");
    ward.staff_add(
        &admin,
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
    let b = crate::testkit::bundled();
    let template = b.catalog.get("example-hdm-rush-3d").expect("template");
    for id in ["P1", "P2"] {
        let p = crate::ward::view::PatientRecord {
            id: id.into(),
            name: format!("Patient {id}"),
            dob: "1990-05-01".parse().expect("dob"),
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
                    start: at("2026-12-07 08:00"),
                    calendar: crate::testkit::weekdays(),
                    omalizumab_weeks: None,
                    accept_risk: None,
                    accept_age: None,
                    accept_missing: None,
                    now,
                },
            )
            .expect("ward");
        assert!(started.is_ok(), "the course starts");
    }
    let cache = Arc::new(CourseCache::default());
    ward.share_course_cache(cache.clone());
    (ward, nurse, cache)
}

fn first_dose(patient: &str) -> Record {
    Record::Give {
        proposed: Proposed {
            step: 1,
            volume_ml: crate::units::Volume::from_ml(
                crate::units::parse_decimal("0.1").expect("ml"),
            ),
            pef_percent: Some(crate::units::parse_decimal("95").expect("pef")),
            screen_ok: true,
            override_reason: None,
            premedication: None,
            premedication_accepted: None,
        },
        lot: None,
        site: Some("left".into()),
        patient: Some(patient.into()),
        scan_patient: None,
        scan_vial: None,
        checked_by: None,
    }
}

#[test]
fn a_cached_course_that_gets_a_new_entry_shows_it_and_an_unchanged_one_comes_from_the_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, cache) = setup(&dir.path().join("r.db"));
    let now = at("2026-12-07 08:00");
    let board = ward.board(now).expect("board");
    assert_eq!(board.len(), 2);
    let (held, hits, misses) = cache.counts();
    assert_eq!((held, hits, misses), (2, 0, 2), "both loaded once");
    let again = ward.board(now).expect("board");
    assert_eq!(cache.counts(), (2, 2, 2), "both from the cache");
    assert_eq!(format!("{board:?}"), format!("{again:?}"), "the same board");
    // Another ward of the same process (the page's pool) shares the cache.
    let mut other = Ward::open(&dir.path().join("r.db")).expect("open");
    other.share_course_cache(cache.clone());
    assert_eq!(
        serde_json::to_string(&other.sheet(now.date(), now).expect("sheet")).expect("json"),
        serde_json::to_string(&ward.sheet(now.date(), now).expect("sheet")).expect("json")
    );
    // A dose recorded on course 1 (by the other ward): the next read replays it.
    other
        .record(&nurse, 1, now, now, first_dose("P1"))
        .expect("given");
    let view = ward.view(1).expect("view");
    assert_eq!(view.state.given.len(), 1, "the new entry is shown");
    assert_eq!(view.events.len(), 1);
    let without = Ward::open(&dir.path().join("r.db"))
        .expect("open")
        .view(1)
        .expect("view");
    assert_eq!(
        view.state, without.state,
        "the same state as a ward without the cache"
    );
    let row = |w: &mut Ward| {
        w.board(now)
            .expect("board")
            .into_iter()
            .map(|r| (r.course, r.status))
            .collect::<Vec<_>>()
    };
    let mut plain = Ward::open(&dir.path().join("r.db")).expect("open");
    assert_eq!(
        row(&mut ward),
        row(&mut plain),
        "the board as without the cache"
    );
    assert_ne!(
        row(&mut ward)[0],
        (board[0].course, board[0].status),
        "course 1 has moved on the board"
    );
}

/// Opens the record's file as an attacker would: plain SQLite, the triggers that refuse
/// updates dropped.
fn attacker(path: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).expect("open");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;
         DROP TRIGGER IF EXISTS courses_no_update; DROP TRIGGER IF EXISTS courses_no_delete;
         PRAGMA foreign_keys = OFF;",
    )
    .expect("drop triggers");
    c
}

#[test]
fn a_cached_course_altered_in_the_database_behind_the_cache_is_still_refused() {
    let now = at("2026-12-07 08:00");
    let cases: &[(&str, &str)] = &[
        (
            "an event's body edited",
            "UPDATE events SET body_json = replace(body_json, '\"step\":1', '\"step\":2') WHERE course_id = 1",
        ),
        (
            "the last event deleted",
            "DELETE FROM events WHERE course_id = 1",
        ),
        (
            "the frozen plan edited (a space added: the same plan as JSON, not the same row)",
            "UPDATE courses SET plan_json = plan_json || ' ' WHERE id = 1",
        ),
    ];
    for (what, sql) in cases {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("r.db");
        let (mut ward, nurse, cache) = setup(&path);
        ward.record(&nurse, 1, now, now, first_dose("P1"))
            .expect("given");
        ward.board(now).expect("board");
        ward.board(now).expect("board");
        let (_, hits, _) = cache.counts();
        assert!(
            hits >= 2,
            "{what}: cached before the change ({:?})",
            cache.counts()
        );
        let changed = attacker(&path).execute(sql, []).expect(what);
        assert!(changed >= 1, "{what}: a row changed");
        for (read, result) in [
            ("board", ward.board(now).map(|_| ())),
            ("sheet", ward.sheet(now.date(), now).map(|_| ())),
            ("view", ward.view(1).map(|_| ())),
        ] {
            let e = result.expect_err(&format!("{what}: the {read} is refused"));
            assert!(
                e.to_string().contains("course 1 does not verify"),
                "{what}: {read}: {e}"
            );
        }
        // The untouched course is still read.
        assert!(ward.view(2).is_ok(), "{what}");
    }
}
