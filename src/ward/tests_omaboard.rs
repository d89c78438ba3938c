//! Omalizumab courses on the board, the daily sheet and the patient's day, through the ward:
//! each row is the course's own decision (the one `next` shows), beside the same patient's
//! immunotherapy course, and an anaphylaxis on omalizumab holds both.

use chrono::{NaiveDate, NaiveDateTime};

use super::omalizumab::OmalizumabRecord;
use super::{Actor, BoardNext, BoardStatus, NewStaff, OmalizumabStart, Role, Start, Ward};
use crate::course::omalizumab::OmalizumabAction;
use crate::course::{ActionKind, EventKind, Review};
use crate::policy::omalizumab_course::OmalizumabNext;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// P1 on the 3-day rush from 2026-12-07 08:00 (course 1) and on omalizumab from 2026-12-07
/// (course 2: 600 mg every 4 weeks, 4 × 150 mg); a nurse and a physician.
fn setup(dir: &tempfile::TempDir) -> (Ward, Actor, Actor) {
    let now = at("2026-12-01 09:00");
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
    let p = crate::ward::view::PatientRecord {
        id: "P1".into(),
        name: "Zhang Wei".into(),
        dob: d("1990-05-01"),
        weight_kg: "70".into(),
        sige: "2".into(),
        total_ige: "410".into(),
        fev1_percent: Some("92".into()),
        asthma: Some("controlled".into()),
        beta_blocker: false,
    };
    ward.add_patient(&nurse, &p, now).expect("patient");
    let b = crate::testkit::bundled();
    let template = b.catalog.get("example-hdm-rush-3d").expect("template");
    let started = ward
        .start(
            &nurse,
            Start {
                patient_id: "P1",
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
    let om = ward
        .start_omalizumab(
            &physician,
            OmalizumabStart {
                patient_id: "P1",
                label: "eu",
                rule_sources: crate::policy::bundled_sources(),
                start: d("2026-12-07"),
                now,
            },
        )
        .expect("ward")
        .expect("started");
    assert_eq!(om.0, 2);
    (ward, nurse, physician)
}

/// The board's row of `course`, if it is on the board at `now`.
fn on_board(ward: &mut Ward, now: &str, course: i64) -> Option<super::BoardRow> {
    ward.board(at(now))
        .expect("board")
        .into_iter()
        .find(|r| r.course == course)
}

#[test]
fn the_board_the_sheet_and_the_patient_s_day_read_the_omalizumab_course_s_own_decision() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, physician) = setup(&dir);
    // The day before: not on the board, not on the sheet; on the patient's day, not today.
    assert!(on_board(&mut ward, "2026-12-06 09:00", 2).is_none());
    let sheet = ward
        .sheet(d("2026-12-06"), at("2026-12-06 09:00"))
        .expect("sheet");
    assert!(sheet.iter().all(|l| l.omalizumab.is_none()));
    let day = ward.patient_day("P1", at("2026-12-06 09:00")).expect("day");
    assert_eq!(day.omalizumab.len(), 1);
    assert!(!day.omalizumab[0].due_today);
    // On the day at 07:30: due now, with the decision `next` shows.
    let now = at("2026-12-07 07:30");
    let r = on_board(&mut ward, "2026-12-07 07:30", 2).expect("on the board");
    assert_eq!((r.status, r.at), (BoardStatus::DueNow, Some(now)));
    let shown = ward.omalizumab_view(2, now).expect("view").decision;
    match &r.next {
        BoardNext::Omalizumab { next, given, .. } => {
            assert_eq!(*next, shown);
            assert_eq!(*given, 0);
        }
        BoardNext::Immunotherapy { .. } => panic!("course 2 is an omalizumab course"),
    }
    assert!(r.template.starts_with("omalizumab"), "{}", r.template);
    let sheet = ward.sheet(d("2026-12-07"), now).expect("sheet");
    let o: Vec<_> = sheet.iter().filter(|l| l.course == 2).collect();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].row.action, ActionKind::Give);
    assert_eq!(o[0].row.observation_min, Some(120));
    assert!(o[0].row.dosing.is_none() && o[0].vial_code.is_none());
    match o[0].omalizumab.as_ref().and_then(|x| x.injection.as_ref()) {
        Some(OmalizumabNext::Injection {
            number, dose_mg, ..
        }) => assert_eq!((*number, *dose_mg), (1, 600)),
        other => panic!("no injection row: {other:?}"),
    }
    // The rush course is on the sheet as before.
    assert!(
        sheet
            .iter()
            .any(|l| l.course == 1 && l.row.dosing.is_some())
    );
    let day = ward.patient_day("P1", now).expect("day");
    assert!(day.omalizumab[0].due_today);
    assert_eq!(day.omalizumab[0].decision, shown);
    // Given at 07:30: observed 2 h, until 09:30; then overdue when not recorded.
    ward.record_omalizumab(
        &nurse,
        2,
        now,
        now,
        OmalizumabRecord::Give {
            patient: "P1".into(),
            site: None,
            accept_late: None,
        },
    )
    .expect("given");
    let until = at("2026-12-07 09:30");
    let r = on_board(&mut ward, "2026-12-07 08:00", 2).expect("on the board");
    assert_eq!((r.status, r.at), (BoardStatus::InObservation, Some(until)));
    let r = on_board(&mut ward, "2026-12-07 09:30", 2).expect("on the board");
    assert_eq!(
        (r.status, r.at),
        (BoardStatus::ObservationOverdue, Some(until))
    );
    let sheet = ward
        .sheet(d("2026-12-07"), at("2026-12-07 08:00"))
        .expect("sheet");
    let o = sheet.iter().find(|l| l.course == 2).expect("row");
    assert_eq!(o.row.action, ActionKind::Observe);
    assert_eq!(o.row.time, Some(until.time()));
    let day = ward.patient_day("P1", at("2026-12-07 08:00")).expect("day");
    assert!(!day.omalizumab[0].due_today);
    assert_eq!(day.omalizumab[0].given, 1);
    // An anaphylaxis at 08:10 holds both courses, on the board and on the sheet.
    let t = at("2026-12-07 08:10");
    ward.record_omalizumab(
        &nurse,
        2,
        t,
        t,
        OmalizumabRecord::Event(EventKind::SystemicReaction {
            grade: "3b".parse().expect("grade"),
            onset_min: 40,
            symptom: "wheeze and hypotension".into(),
            treatment: Some("epinephrine 0.5 mg".into()),
        }),
    )
    .expect("reaction");
    for c in [1, 2] {
        let r = on_board(&mut ward, "2026-12-07 08:20", c).expect("on the board");
        assert_eq!(r.status, BoardStatus::DoNotGive, "course {c}");
    }
    let sheet = ward
        .sheet(d("2026-12-07"), at("2026-12-07 08:20"))
        .expect("sheet");
    let kinds: Vec<(i64, ActionKind, Option<i64>)> = sheet
        .iter()
        .map(|l| (l.course, l.row.action, l.row.held_by))
        .collect();
    assert!(
        kinds.contains(&(2, ActionKind::PhysicianReview, None)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(1, ActionKind::PatientHold, Some(2))),
        "{kinds:?}"
    );
    let day = ward.patient_day("P1", at("2026-12-07 08:20")).expect("day");
    assert!(matches!(
        day.omalizumab[0].decision.action,
        OmalizumabAction::DoNotGive { held_by: None, .. }
    ));
    // A physician stops it: done for today on the board, then off the board, the sheet and the
    // patient's day.
    let t = at("2026-12-07 09:00");
    ward.record_omalizumab(
        &physician,
        2,
        t,
        t,
        OmalizumabRecord::Event(EventKind::PhysicianReview {
            decision: Review::Stop,
            reason: Some("anaphylaxis on omalizumab".into()),
            about: None,
        }),
    )
    .expect("stopped");
    let r = on_board(&mut ward, "2026-12-07 09:05", 2).expect("on the board");
    assert_eq!(r.status, BoardStatus::DoneToday);
    assert!(on_board(&mut ward, "2026-12-08 09:00", 2).is_none());
    let sheet = ward
        .sheet(d("2027-01-04"), at("2026-12-08 09:00"))
        .expect("sheet");
    assert!(sheet.iter().all(|l| l.course != 2));
    let day = ward.patient_day("P1", at("2026-12-08 09:00")).expect("day");
    assert!(day.omalizumab.is_empty());
}
