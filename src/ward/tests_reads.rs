//! Reads in a fixed number of round trips: the board, the sheet, `course list --active`, the
//! patient search and a course with its patient's other courses send the same number of
//! statements to the record for 10 courses as for 100. On the embedded file, or on the
//! PostgreSQL test server when `RITPLAN_TEST_POSTGRES` is set (a new database there).

use chrono::{NaiveDate, NaiveDateTime};

use super::{Actor, NewStaff, OmalizumabStart, Role, Start, Ward};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// The test's record: a file in `dir`, or a new database on the test server.
fn record(dir: &tempfile::TempDir) -> std::path::PathBuf {
    #[cfg(feature = "postgres")]
    if let Some(base) = std::env::var("RITPLAN_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
    {
        let base = base.trim_end_matches('/');
        let tag: String = dir
            .path()
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let name = format!("ritplan_reads_{}_{tag}", std::process::id());
        crate::testkit::server_admin(base, format!("CREATE DATABASE {name}"));
        return std::path::PathBuf::from(format!("{base}/{name}?sslmode=disable"));
    }
    dir.path().join("r.db")
}

/// A record with a nurse and a physician.
pub(super) fn setup(dir: &tempfile::TempDir) -> (Ward, Actor, Actor) {
    let now = at("2026-12-01 09:00");
    let (ward, admin, _) = Ward::init(
        &record(dir),
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
    (ward, nurse, physician)
}

/// Patients `from..to`, each on the 3-day rush from 2026-12-07 08:00; every tenth also on
/// omalizumab from the same day (two kinds of course, and a patient's other course, on the
/// board and the sheet). Two patients share a name and a date of birth (a look-alike).
pub(super) fn add_courses(
    ward: &mut Ward,
    nurse: &Actor,
    physician: &Actor,
    from: usize,
    to: usize,
) {
    let now = at("2026-12-01 09:00");
    let b = crate::testkit::bundled();
    let template = b.catalog.get("example-hdm-rush-3d").expect("template");
    for i in from..to {
        let id = format!("P{i}");
        let p = crate::ward::view::PatientRecord {
            id: id.clone(),
            name: if i < 2 {
                "Same Name".into()
            } else {
                format!("Patient {i}")
            },
            dob: d("1990-05-01"),
            weight_kg: "70".into(),
            sige: "2".into(),
            total_ige: "410".into(),
            fev1_percent: Some("92".into()),
            asthma: Some("controlled".into()),
            beta_blocker: false,
        };
        ward.add_patient(nurse, &p, now).expect("patient");
        let started = ward
            .start(
                nurse,
                Start {
                    patient_id: &id,
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
        if i % 10 == 0 {
            ward.start_omalizumab(
                physician,
                OmalizumabStart {
                    patient_id: &id,
                    label: "eu",
                    rule_sources: crate::policy::bundled_sources(),
                    start: d("2026-12-07"),
                    now,
                },
            )
            .expect("ward")
            .expect("started");
        }
    }
}

/// The statements each read sends: board, sheet, `course list --active`, the patient search,
/// a course's view and an omalizumab course's view (with their patient's other courses).
fn counts(ward: &mut Ward, courses: usize) -> Vec<(&'static str, u64)> {
    let now = at("2026-12-07 08:00");
    let mut out = Vec::new();
    let mut count = |what, ward: &mut Ward, read: &dyn Fn(&mut Ward) -> usize, expect: usize| {
        let before = ward.statements_sent();
        let n = read(ward);
        out.push((what, ward.statements_sent() - before));
        assert_eq!(n, expect, "{what}: what it reads");
    };
    count(
        "board",
        ward,
        &|w| w.board(now).expect("board").len(),
        courses + courses / 10,
    );
    count(
        "sheet",
        ward,
        &|w| {
            let lines = w.sheet(now.date(), now).expect("sheet");
            let mut ids: Vec<i64> = lines.iter().map(|l| l.course).collect();
            ids.dedup();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        },
        courses + courses / 10,
    );
    count(
        "course list --active",
        ward,
        &|w| w.active_views(now.date()).expect("list").len(),
        courses,
    );
    count(
        "patient search",
        ward,
        &|w| w.find_patients("patient").expect("search").len(),
        courses - 2,
    );
    count(
        "course view",
        ward,
        &|w| w.view(1).map(|_| 1).expect("view"),
        1,
    );
    count(
        "omalizumab view",
        ward,
        &|w| w.omalizumab_view(2, now).map(|_| 1).expect("view"),
        1,
    );
    out
}

#[test]
fn the_board_the_sheet_and_the_lists_send_as_many_queries_for_100_courses_as_for_10() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, physician) = setup(&dir);
    add_courses(&mut ward, &nurse, &physician, 0, 10);
    let ten = counts(&mut ward, 10);
    add_courses(&mut ward, &nurse, &physician, 10, 100);
    let hundred = counts(&mut ward, 100);
    eprintln!("statements: {ten:?}");
    assert_eq!(
        ten, hundred,
        "the same statements for 10 and for 100 courses"
    );
    // A handful each, not one per course.
    for (what, n) in &ten {
        assert!(*n <= 20, "{what}: {n} statements");
    }
    // The look-alikes are still found from the batch.
    let board = ward.board(at("2026-12-07 08:00")).expect("board");
    let alike: Vec<&str> = board
        .iter()
        .filter(|r| r.lookalike)
        .map(|r| r.patient.id.as_str())
        .collect();
    assert!(alike.contains(&"P0") && alike.contains(&"P1"), "{alike:?}");
    assert!(!alike.contains(&"P2"));
}

#[test]
fn a_list_read_in_batches_is_every_course_read_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, physician) = setup(&dir);
    add_courses(&mut ward, &nurse, &physician, 0, 12);
    let now = at("2026-12-07 08:00");
    let ids = ward
        .store
        .course_ids_without_rule_set(super::omalizumab::OMALIZUMAB_RULE_SET)
        .expect("ids");
    let whole: Vec<_> = ward
        .views_of(&ids)
        .expect("views")
        .into_iter()
        .map(|v| {
            (
                v.loaded.record.id,
                v.events.len(),
                v.decide(now).expect("decide"),
            )
        })
        .collect();
    // The twelve immunotherapy courses, in order; the omalizumab courses of P0 and P10 left out.
    assert_eq!(whole.len(), 12);
    assert!(whole.windows(2).all(|w| w[0].0 < w[1].0));
    for chunk in [1, 3, 5, 500] {
        let batched = ward
            .map_views_in(chunk, |v| {
                Ok((v.loaded.record.id, v.events.len(), v.decide(now)?))
            })
            .expect("map");
        assert_eq!(batched, whole, "read {chunk} at a time");
    }
}
