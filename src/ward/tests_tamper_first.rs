//! A recording verifies its course once, inside its transaction; a refusal found before then
//! (a wrong patient, a role, a time, a rule) still reports the course's tampering first, and
//! a refused entry writes nothing.

use super::tests_scan::{Setup, at, give, setup};
use super::{Record, WardError};
use crate::course::EventKind;

/// The record's database, opened as someone who bypasses ritplan (its guards dropped).
fn attacker(path: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).expect("open");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;
         DROP TRIGGER IF EXISTS courses_no_update; DROP TRIGGER IF EXISTS courses_no_delete;",
    )
    .expect("drop triggers");
    c
}

fn events_of(path: &std::path::Path) -> Vec<(i64, i64, String)> {
    let c = rusqlite::Connection::open(path).expect("open");
    let mut st = c
        .prepare("SELECT course_id, seq, hash FROM events ORDER BY course_id, seq")
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The first dose, typed patient `patient`, an override if given.
fn dose(patient: &str, override_reason: Option<&str>) -> Record {
    let mut r = give(Some(patient), None, None, Some("L1"));
    if let Record::Give { proposed, .. } = &mut r {
        proposed.override_reason = override_reason.map(str::to_string);
    }
    r
}

/// The two courses of `setup`, with the scan setting off; and the record's file.
fn scans_off(dir: &tempfile::TempDir) -> (Setup, std::path::PathBuf) {
    let s = setup(dir);
    s.ward
        .set_setting(&s.admin, "scan", "off", at("2026-12-07 08:00"))
        .expect("scan off");
    (s, dir.path().join("r.db"))
}

#[test]
fn a_refusal_before_the_transaction_reports_the_course_s_tampering_first() {
    let dir = tempfile::tempdir().expect("tmp");
    let (
        Setup {
            ward: mut w,
            nurse,
            physician,
            ..
        },
        path,
    ) = scans_off(&dir);
    let t = at("2026-12-07 08:10");
    // Intact: a wrong patient is a wrong patient, a nurse's override is the physician's.
    assert!(matches!(
        w.record(&nurse, 1, t, t, dose("P2", None)),
        Err(WardError::WrongPatient(_))
    ));
    assert!(matches!(
        w.record(&nurse, 1, t, t, dose("P1", Some("smaller"))),
        Err(WardError::Forbidden(_))
    ));
    w.record(&nurse, 1, t, t, dose("P1", None))
        .expect("the first dose");
    // The dose's volume edited in the database: the course's row is intact, its chain is not.
    let n = attacker(&path)
        .execute(
            "UPDATE events SET body_json = replace(body_json, '\"volume_ml\":0.1', '\"volume_ml\":0.05') WHERE course_id = 1",
            [],
        )
        .expect("tamper");
    assert_eq!(n, 1);
    let before = events_of(&path);
    let later = at("2026-12-07 08:45");
    let note = Record::Event(EventKind::Note {
        text: "anything".into(),
    });
    for (what, who, record) in [
        ("a wrong patient", &nurse, dose("P2", None)),
        ("a nurse's override", &nurse, dose("P1", Some("smaller"))),
        ("a dose the rules allow", &nurse, dose("P1", None)),
        ("a physician's dose", &physician, dose("P1", None)),
        ("a note", &nurse, note),
    ] {
        for preview in [true, false] {
            let r = if preview {
                w.preview(who, 1, later, later, record.clone(), None)
                    .map(|_| ())
            } else {
                w.record(who, 1, later, later, record.clone()).map(|_| ())
            };
            match r {
                Err(WardError::Tampered(m)) => assert!(m.contains("course 1"), "{what}: {m}"),
                other => panic!("{what} (preview {preview}): {:?}", other.err()),
            }
        }
        assert_eq!(events_of(&path), before, "{what}: nothing written");
    }
    // The other course is untouched and still takes a dose; a course that is not there is
    // not there.
    w.record(&nurse, 2, later, later, dose("P2", None))
        .expect("course 2 is intact");
    assert!(matches!(
        w.record(&nurse, 99, later, later, dose("P1", None)),
        Err(WardError::NoCourse { id: 99 })
    ));
}

#[test]
fn a_course_moved_to_another_patient_is_tampering_not_a_wrong_patient() {
    let dir = tempfile::tempdir().expect("tmp");
    let (
        Setup {
            ward: mut w, nurse, ..
        },
        path,
    ) = scans_off(&dir);
    let n = attacker(&path)
        .execute("UPDATE courses SET patient_id = 'P2' WHERE id = 1", [])
        .expect("tamper");
    assert_eq!(n, 1);
    let t = at("2026-12-07 08:10");
    // The nurse types the patient in front of them (P1, the course's real patient), or the
    // one the changed row now names (P2): either way the course does not verify.
    for typed in ["P1", "P2"] {
        match w.record(&nurse, 1, t, t, dose(typed, None)) {
            Err(WardError::Tampered(_)) => {}
            other => panic!("typed {typed}: {:?}", other.err()),
        }
    }
    assert!(events_of(&path).is_empty(), "nothing written");
}
