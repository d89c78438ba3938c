//! The store: creation and opening, append-only events, the keyed chain and its heads, each
//! tamper an attacker with the database file could make (triggers dropped), the upgrade of a
//! schema-1 record, and foreign or missing files refused unchanged.

use super::*;
use crate::units::{AllergenUnit, Dose, Volume, parse_decimal};
use rusqlite::params;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

fn nurse() -> Author {
    Author {
        name: "RN Li".into(),
        staff_id: Some("rn.li".into()),
        os_user: "li (uid 1000)".into(),
    }
}

fn patient() -> PatientRecord {
    PatientRecord {
        id: "P1".into(),
        name: "Zhāng Wěi".into(),
        dob: "1990-05-01".parse().expect("date"),
        weight_kg: "70".into(),
        sige: "<0.35".into(),
        total_ige: "410".into(),
        fev1_percent: Some("92".into()),
        asthma: Some("controlled".into()),
        beta_blocker: false,
    }
}

fn new_course() -> NewCourse {
    NewCourse {
        patient_id: "P1".into(),
        template_id: "x".into(),
        rule_set: "norwegian-guide".into(),
        template_text: "id = \"x\"".into(),
        rules_json: "{\"r.toml\":\"a = 1\"}".into(),
        plan_json: "{}".into(),
        inputs_json: "{\"start\":\"2026-12-07T08:00:00\"}".into(),
    }
}

fn store_with_course() -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = Store::create(&dir.path().join("sub/r.db"), false).expect("create");
    s.add_patient(&patient(), t("2026-12-01 09:00"), &nurse())
        .expect("patient");
    let id = s
        .add_course(&new_course(), t("2026-12-01 09:00"), &nurse())
        .expect("course");
    (dir, s, id)
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("sub/r.db")
}

fn dose_event() -> EventKind {
    EventKind::DoseGiven {
        step: 1,
        vial: "1".into(),
        volume_ml: Volume::from_ml(parse_decimal("0.1").expect("d")),
        dose: Dose::new(parse_decimal("10").expect("d"), AllergenUnit::SqU),
        lot: Some("L1".into()),
        site: Some("left".into()),
        pef_percent: Some(parse_decimal("95.5").expect("d")),
        screen_ok: true,
        override_reason: None,
        checked_by: None,
        vial_code: None,
        phase: None,
        premedication: None,
    }
}

fn obs(mm: u32) -> EventKind {
    EventKind::ObservationEnded {
        local_mm: Some(mm),
        not_assessable: false,
        early_reason: None,
    }
}

fn ev(kind: EventKind, at: &str) -> NewEvent {
    NewEvent {
        kind,
        at: t(at),
        by: nurse(),
        recorded_at: t(at),
        late_entered: false,
        active: true,
        session: None,
    }
}

fn append(s: &mut Store, c: i64, kind: EventKind, at: &str) -> StoredEvent {
    s.append(c, |_, _| Ok::<_, String>(ev(kind, at)))
        .map_err(|_| ())
        .expect("append")
}

/// A store with three events on its course.
fn busy() -> (tempfile::TempDir, Store, i64) {
    let (d, mut s, c) = store_with_course();
    append(&mut s, c, dose_event(), "2026-12-07 08:00");
    append(&mut s, c, obs(5), "2026-12-07 08:30");
    append(
        &mut s,
        c,
        EventKind::Note {
            text: "fine".into(),
        },
        "2026-12-07 08:31",
    );
    (d, s, c)
}

/// Opens the database as an attacker would: plain SQLite, triggers dropped.
fn attacker(dir: &tempfile::TempDir) -> Connection {
    let c = Connection::open(db(dir)).expect("open");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;
         DROP TRIGGER IF EXISTS courses_no_update; DROP TRIGGER IF EXISTS courses_no_delete;
         DROP TRIGGER IF EXISTS patients_no_update; DROP TRIGGER IF EXISTS patients_no_delete;
         DROP TRIGGER IF EXISTS frozen_no_update; DROP TRIGGER IF EXISTS frozen_no_delete;
         PRAGMA foreign_keys = OFF;",
    )
    .expect("drop triggers");
    c
}

fn problems(dir: &tempfile::TempDir) -> Vec<String> {
    let s = Store::open(&db(dir)).expect("open");
    let v = s.verify_all().expect("verify");
    let mut out = v.problems;
    for c in v.courses {
        out.extend(c.problems);
    }
    out
}

fn staff_row() -> StaffRow {
    StaffRow {
        id: "rn.li".into(),
        name: "RN Li".into(),
        role: "nurse".into(),
        secret_hash: "$argon2id$...".into(),
        disabled: false,
        created_at: t("2026-12-01 08:00"),
        created_by: "admin".into(),
        failures: 0,
        locked_until: None,
    }
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

mod events;
mod failures;
mod frozen;
mod instants;
mod migrate;
mod open;
mod staff;
mod state;
mod tamper;
mod vials;
