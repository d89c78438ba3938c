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

#[test]
fn created_private_with_its_key_and_heads_and_reopened() {
    let (dir, s, c) = store_with_course();
    let v: i64 =
        s.db.sqlite()
            .expect("sqlite")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("v");
    assert_eq!(v, SCHEMA_VERSION);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [db(&dir), keyed::key_path(&db(&dir))] {
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
    }
    assert!(!s.meta().training);
    drop(s);
    let s = Store::open(&db(&dir)).expect("reopen");
    assert_eq!(s.patients().expect("patients"), vec![patient()]);
    assert!(s.verify(c).expect("verify").intact);
    assert!(
        Store::create(&db(&dir), false).is_err(),
        "never over another"
    );
}

#[test]
fn events_round_trip_exactly_chain_and_name_who_recorded() {
    let (_d, mut s, c) = store_with_course();
    let a = append(&mut s, c, dose_event(), "2026-12-07 08:00");
    let b = s
        .append(c, |prior, _| {
            assert_eq!(prior.len(), 1);
            Ok::<_, String>(ev(obs(12), "2026-12-07 08:30"))
        })
        .map_err(|_| ())
        .expect("append");
    assert_eq!(b.prev_hash, a.hash);
    let events = s.events(c).expect("events");
    assert_eq!(events[0].event.kind, dose_event());
    assert_eq!(events[1].event.seq, 2);
    assert_eq!(events[1].staff_id.as_deref(), Some("rn.li"));
    assert_eq!(events[1].os_user, "li (uid 1000)");
    assert!(s.verify(c).expect("verify").intact);
}

#[test]
fn a_stamp_earlier_than_the_last_one_is_flagged() {
    let (_d, mut s, c) = store_with_course();
    append(&mut s, c, dose_event(), "2026-12-07 08:00");
    let late = append(&mut s, c, obs(0), "2026-12-07 07:55");
    assert!(late.out_of_order);
    assert!(s.verify(c).expect("verify").intact, "flagged, not broken");
}

#[test]
fn a_refused_event_writes_nothing() {
    let (_d, mut s, c) = store_with_course();
    let r = s.append(c, |_, _| Err::<NewEvent, _>("too early"));
    assert!(matches!(r, Err(AppendError::Refused("too early"))));
    assert!(s.events(c).expect("events").is_empty());
}

#[test]
fn an_append_verifies_the_course_inside_its_transaction() {
    // The caller verified the course, then another process changed it before the append took
    // its lock: the append itself refuses, never deciding on (or chaining to) a forged entry.
    let (d, mut s, c) = busy();
    s.verify_or_refuse(c).expect("intact before");
    attacker(&d)
        .execute(
            r#"UPDATE events SET body_json = replace(body_json, '"local_mm":5', '"local_mm":50') WHERE seq = 2"#,
            [],
        )
        .expect("edit");
    let mut called = false;
    let r = s.append(c, |_, _| {
        called = true;
        Ok::<_, String>(ev(obs(1), "2026-12-07 09:00"))
    });
    assert!(
        matches!(r, Err(AppendError::Store(StoreError::Tampered(ref m))) if m.contains("event 2")),
        "{:?}",
        r.err().map(|e| match e {
            AppendError::Store(e) => e.to_string(),
            AppendError::Refused(e) => e,
        })
    );
    assert!(!called, "the check ran on a course that does not verify");
    assert_eq!(s.events(c).expect("events").len(), 3);
    // The same through the view a check gets of the patient's other courses.
    let (_d2, mut s2, c2) = store_with_course();
    let other = s2
        .add_course(&new_course(), t("2026-12-01 09:00"), &nurse())
        .expect("second course");
    append(&mut s2, other, dose_event(), "2026-12-07 08:00");
    attacker(&_d2)
        .execute("DELETE FROM events WHERE course_id = ?1", [other])
        .expect("delete");
    let r = s2.append(c2, |_, tx| {
        tx.events(other).map_err(|e| e.to_string())?;
        Ok::<_, String>(ev(obs(1), "2026-12-07 09:00"))
    });
    assert!(
        matches!(r, Err(AppendError::Refused(ref m)) if m.contains("does not verify")),
        "{:?}",
        r.err().map(|e| match e {
            AppendError::Store(e) => e.to_string(),
            AppendError::Refused(e) => e,
        })
    );
    assert!(s2.events(c2).expect("events").is_empty());
}

#[test]
fn rows_cannot_be_updated_or_deleted_through_sql() {
    let (_d, s, _) = busy();
    let upd =
        s.db.sqlite()
            .expect("sqlite")
            .execute("UPDATE events SET recorded_by = 'someone else'", []);
    assert!(upd.is_err_and(|e| e.to_string().contains("append-only")));
    assert!(
        s.db.sqlite()
            .expect("sqlite")
            .execute("DELETE FROM events", [])
            .is_err()
    );
    assert!(
        s.db.sqlite()
            .expect("sqlite")
            .execute("UPDATE courses SET plan_json = '{}'", [])
            .is_err()
    );
    assert!(
        s.db.sqlite()
            .expect("sqlite")
            .execute("UPDATE patients SET name = 'X'", [])
            .is_err()
    );
    assert!(
        s.db.sqlite()
            .expect("sqlite")
            .execute("DELETE FROM patients", [])
            .is_err()
    );
}

#[test]
fn every_tamper_is_detected() {
    type Tamper = (&'static str, &'static str, &'static str);
    let cases: &[Tamper] = &[
        (
            "delete the last event",
            "DELETE FROM events WHERE seq = 3",
            "missing at the end",
        ),
        (
            "delete every event",
            "DELETE FROM events",
            "missing at the end",
        ),
        (
            "edit an event's body",
            "UPDATE events SET body_json = replace(body_json, '5', '50') WHERE seq = 2",
            "does not match its MAC",
        ),
        (
            "edit the frozen rules",
            "UPDATE courses SET rules_json = '{\"r.toml\":\"a = 2\"}'",
            "does not match its MAC",
        ),
        (
            "edit the inputs",
            "UPDATE courses SET inputs_json = '{}'",
            "does not match its MAC",
        ),
        (
            "move the course to another patient",
            "UPDATE courses SET patient_id = 'P2'",
            "does not match its MAC",
        ),
        (
            "edit a patient",
            "UPDATE patients SET dob = '2020-05-01'",
            "patient \"P1\"",
        ),
        (
            "mark a keyed event as old",
            "UPDATE events SET keyed = 0 WHERE seq = 2",
            "marked as from before",
        ),
        (
            "delete the course",
            "DELETE FROM events; DELETE FROM courses",
            "no row in it",
        ),
        (
            "delete the patient",
            "DELETE FROM events; DELETE FROM courses; DELETE FROM patients",
            "patients missing",
        ),
    ];
    for (what, sql, needle) in cases {
        let (dir, s, _) = busy();
        drop(s);
        attacker(&dir).execute_batch(sql).expect(what);
        let p = problems(&dir);
        assert!(
            p.iter().any(|x| x.contains(needle)),
            "{what}: {p:?} has no {needle:?}"
        );
    }
}

#[test]
fn recomputing_the_old_unkeyed_hash_after_an_edit_does_not_help() {
    let (dir, s, c) = busy();
    drop(s);
    let conn = attacker(&dir);
    conn.execute(
        "UPDATE events SET body_json = replace(body_json, '5', '50') WHERE seq = 2",
        [],
    )
    .expect("edit");
    // Recompute every hash of the chain as the schema-1 chain did, without the key.
    let rows = RawEvent::load(
        &Db::sqlite_conn(Connection::open(db(&dir)).expect("open")),
        c,
    )
    .expect("rows");
    let mut prev = String::new();
    for mut r in rows {
        r.prev = prev.clone();
        r.hash = r.sha_hash(c);
        conn.execute(
            "UPDATE events SET prev_hash = ?1, hash = ?2 WHERE course_id = ?3 AND seq = ?4",
            params![r.prev, r.hash, c, r.seq],
        )
        .expect("rewrite");
        prev = r.hash;
    }
    drop(conn);
    let s = Store::open(&db(&dir)).expect("open");
    let v = s.verify(c).expect("verify");
    assert!(!v.intact, "{v:?}");
    assert!(
        s.verify_or_refuse(c)
            .is_err_and(|e| e.to_string().contains("does not verify"))
    );
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

#[test]
fn staff_settings_and_sessions_are_under_the_key() {
    let (dir, s, _) = busy();
    let staff = staff_row();
    s.add_staff(&staff).expect("staff");
    s.set_setting("second_check", "required", t("2026-12-01 08:00"), &nurse())
        .expect("setting");
    s.add_session(&SessionRow {
        token_hash: "abc".into(),
        staff_id: "rn.li".into(),
        os_user: "li".into(),
        created_at: t("2026-12-01 08:00"),
        last_used: t("2026-12-01 08:00"),
        ended: false,
    })
    .expect("session");
    assert!(s.session("abc").expect("session").is_some());
    drop(s);
    let conn = attacker(&dir);
    conn.execute_batch(
        "UPDATE staff SET role = 'physician';
         UPDATE settings SET value = 'off';
         INSERT INTO sessions VALUES ('forged', 'rn.li', 'x', '2026-12-01T08:00:00', '2026-12-01T08:00:00', 0, 'nope');",
    )
    .expect("tamper");
    drop(conn);
    let p = problems(&dir);
    for needle in ["staff account \"rn.li\"", "second_check", "session row"] {
        assert!(p.iter().any(|x| x.contains(needle)), "{needle}: {p:?}");
    }
    let s = Store::open(&db(&dir)).expect("open");
    assert!(
        s.session("forged").expect("read").is_none(),
        "a forged session is none"
    );
}

#[test]
fn a_deleted_setting_or_an_older_copy_of_an_account_is_seen() {
    let (dir, s, _) = busy();
    let mut staff = StaffRow {
        id: "rn.li".into(),
        name: "RN Li".into(),
        role: "nurse".into(),
        secret_hash: "$argon2id$old".into(),
        disabled: false,
        created_at: t("2026-12-01 08:00"),
        created_by: "admin".into(),
        failures: 0,
        locked_until: None,
    };
    s.add_staff(&staff).expect("staff");
    s.set_setting("second_check", "required", t("2026-12-01 08:00"), &nurse())
        .expect("setting");
    assert!(s.verify_accounts().is_ok());
    // The attacker keeps a copy of the account as it was, then it is disabled.
    let conn = attacker(&dir);
    let old: (String, String) = conn
        .query_row(
            "SELECT secret_hash, mac FROM staff WHERE id = 'rn.li'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("copy");
    staff.disabled = true;
    s.update_staff(&staff).expect("disable");
    assert!(s.verify_accounts().is_ok(), "ritplan's own writes verify");
    // Putting the older copy back: the row's own MAC holds, the digest does not.
    conn.execute(
        "UPDATE staff SET disabled = 0, secret_hash = ?1, mac = ?2 WHERE id = 'rn.li'",
        [&old.0, &old.1],
    )
    .expect("replay");
    assert!(s.staff("rn.li").expect("row").is_some_and(|r| !r.disabled));
    let e = s.verify_accounts().expect_err("refused");
    assert!(
        e.to_string()
            .contains("the staff accounts do not match their digest"),
        "{e}"
    );
    // Deleting a setting brings back its default: seen the same way.
    conn.execute_batch("DELETE FROM settings WHERE key = 'second_check'")
        .expect("delete");
    drop(conn);
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|x| x.contains("the settings do not match their digest")),
        "{p:?}"
    );
}

#[test]
fn the_key_and_the_heads_must_be_there() {
    let (dir, s, _) = busy();
    drop(s);
    std::fs::rename(keyed::key_path(&db(&dir)), dir.path().join("key.bak")).expect("mv");
    assert!(Store::open(&db(&dir)).is_err_and(|e| e.to_string().contains("key file")));
    std::fs::rename(dir.path().join("key.bak"), keyed::key_path(&db(&dir))).expect("mv");
    std::fs::rename(keyed::heads_path(&db(&dir)), dir.path().join("heads.bak")).expect("mv");
    assert!(Store::open(&db(&dir)).is_err_and(|e| e.to_string().contains("heads folder")));
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[test]
fn missing_foreign_and_empty_files_are_refused_unchanged() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("typo/ward.db");
    assert!(matches!(Store::open(&missing), Err(StoreError::Missing(_))));
    assert!(!dir.path().join("typo").exists(), "no folder created");
    let foreign = dir.path().join("other.db");
    let c = Connection::open(&foreign).expect("open");
    c.execute_batch("CREATE TABLE invoices (n INTEGER); INSERT INTO invoices VALUES (1);")
        .expect("foreign");
    drop(c);
    let empty = dir.path().join("empty.db");
    Connection::open(&empty)
        .and_then(|c| c.execute_batch("PRAGMA user_version = 0;"))
        .expect("empty");
    let text = dir.path().join("notes.db");
    std::fs::write(&text, b"not a database at all").expect("w");
    for (p, needle) in [
        (&foreign, "another program"),
        (&empty, "empty database"),
        (&text, "not an SQLite database"),
    ] {
        let before = file_bytes(p);
        let e = Store::open(p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(needle), "{}: {e}", p.display());
        assert_eq!(before, file_bytes(p), "{} changed", p.display());
        assert!(!keyed::key_path(p).exists());
    }
}

/// Builds a schema-1 record the way ritplan 0.1 wrote it.
fn schema_1(dir: &Path) -> (PathBuf, i64) {
    let path = dir.join("old.db");
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch(SCHEMA_1).expect("schema 1");
    conn.pragma_update(None, "user_version", 1).expect("v");
    conn.execute(
        "INSERT INTO patients (id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker, created_at, created_by) VALUES ('P1', 'Old', '1980-01-01', '70', '2', '410', '95', 'controlled', 0, '2026-11-01T09:00:00', 'unknown')",
        [],
    )
    .expect("patient");
    conn.execute(
        "INSERT INTO courses (patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by) VALUES ('P1', 'x', 'norwegian-guide', 't', '{}', '{}', '{}', '2026-11-01T09:00:00', 'unknown')",
        [],
    )
    .expect("course");
    let mut prev = String::new();
    for (seq, body) in [
        (1i64, serde_json::to_string(&dose_event())),
        (2, serde_json::to_string(&obs(3))),
    ] {
        let mut r = RawEvent {
            seq,
            body: body.expect("json"),
            happened: "2026-12-07T08:00:00".into(),
            recorded: "2026-12-07T08:00:00".into(),
            by: "RN Li".into(),
            late: false,
            prev: prev.clone(),
            hash: String::new(),
            staff_id: None,
            os_user: String::new(),
            out_of_order: false,
            keyed: false,
        };
        r.hash = r.sha_hash(1);
        conn.execute(
            "INSERT INTO events (course_id, seq, body_json, happened_at, recorded_at, recorded_by, late_entered, prev_hash, hash) VALUES (1, ?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)",
            params![r.seq, r.body, r.happened, r.recorded, r.by, r.prev, r.hash],
        )
        .expect("event");
        prev = r.hash;
    }
    (path, 1)
}

#[test]
fn a_schema_1_record_is_upgraded_in_place_from_a_verified_migration_event() {
    let dir = tempfile::tempdir().expect("tmp");
    let (path, c) = schema_1(dir.path());
    let mut s = Store::open(&path).expect("upgraded");
    let events = s.events(c).expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].staff_id, None, "old names stay unauthenticated");
    assert!(matches!(
        events[2].event.kind,
        EventKind::Migrated {
            from_schema: 1,
            events: 2
        }
    ));
    assert!(s.verify_all().expect("verify").intact);
    append(
        &mut s,
        c,
        EventKind::Note {
            text: "after".into(),
        },
        "2026-12-08 08:00",
    );
    assert!(s.verify(c).expect("verify").intact);
    drop(s);
    // Editing an old event afterwards (and recomputing its unkeyed hash) is detected: the
    // migration event's MAC covers the old chain's last hash.
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch("DROP TRIGGER events_no_update;")
        .expect("drop");
    let rows =
        RawEvent::load(&Db::sqlite_conn(Connection::open(&path).expect("open")), c).expect("rows");
    let mut r = rows.into_iter().next().expect("first");
    r.body = r.body.replace("L1", "L9");
    r.hash = r.sha_hash(c);
    conn.execute(
        "UPDATE events SET body_json = ?1, hash = ?2 WHERE seq = 1",
        params![r.body, r.hash],
    )
    .expect("edit");
    drop(conn);
    let s = Store::open(&path).expect("open");
    assert!(!s.verify(c).expect("verify").intact);
}

#[test]
fn a_broken_schema_1_record_is_not_upgraded() {
    let dir = tempfile::tempdir().expect("tmp");
    let (path, _) = schema_1(dir.path());
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch(
        "DROP TRIGGER events_no_update; UPDATE events SET body_json = replace(body_json, '3', '30') WHERE seq = 2;",
    )
    .expect("tamper");
    drop(conn);
    let before = file_bytes(&path);
    let e = Store::open(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("cannot be upgraded"), "{e}");
    assert_eq!(before, file_bytes(&path));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// Whatever was recorded before, a refused append leaves the database file byte-for-byte
    /// as it was, and the chain stays intact.
    #[test]
    fn a_refused_append_changes_no_byte(plan in proptest::collection::vec(proptest::prelude::any::<bool>(), 1..10)) {
        let (dir, mut s, c) = store_with_course();
        let files = |d: &tempfile::TempDir| (file_bytes(&db(d)), file_bytes(&db(d).with_extension("db-wal")));
        for (i, accept) in plan.into_iter().enumerate() {
            let before = files(&dir);
            let r = s.append(c, |_, _| if accept { Ok(ev(EventKind::Note { text: format!("n{i}") }, "2026-12-07 08:00")) } else { Err("refused") });
            if accept {
                proptest::prop_assert!(r.is_ok());
            } else {
                proptest::prop_assert!(matches!(r, Err(AppendError::Refused("refused"))));
                proptest::prop_assert_eq!(before, files(&dir));
            }
        }
        proptest::prop_assert!(s.verify(c).expect("verify").intact);
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

#[test]
fn the_live_courses_come_from_the_derived_state_and_verify_checks_it() {
    let (dir, mut s, a) = store_with_course();
    let b = s
        .add_course(&new_course(), t("2026-12-01 09:00"), &nurse())
        .expect("course");
    // b is recorded as no longer active on the 2nd (as the ward replays a stop).
    s.append(b, |_, _| {
        let mut e = ev(
            EventKind::Note {
                text: "stopped".into(),
            },
            "2026-12-02 10:00",
        );
        e.active = false;
        Ok::<_, String>(e)
    })
    .expect("append");
    assert_eq!(
        s.live_course_ids(day("2026-12-02")).expect("live"),
        vec![a, b],
        "touched that day"
    );
    assert_eq!(
        s.live_course_ids(day("2026-12-03")).expect("live"),
        vec![a],
        "finished"
    );
    assert!(s.verify_all().expect("verify").intact);
    let c = attacker(&dir);
    // An older (validly MACed) row put back, or a row changed: the full verification says so.
    let old: (i64, String, String) = c
        .query_row(
            "SELECT events, last_at, mac FROM course_state WHERE course_id = ?1",
            [b],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row");
    append(
        &mut s,
        b,
        EventKind::Note {
            text: "again".into(),
        },
        "2026-12-02 11:00",
    );
    c.execute(
        "UPDATE course_state SET active = 0, events = ?1, last_at = ?2, mac = ?3 WHERE course_id = ?4",
        params![old.0, old.1, old.2, b],
    )
    .expect("restore");
    let v = s.verify_all().expect("verify");
    assert!(!v.intact);
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("course 2's state row says 1 events, its chain has 2")),
        "{:?}",
        v.problems
    );
    c.execute(
        "UPDATE course_state SET active = 0 WHERE course_id = ?1",
        [a],
    )
    .expect("tamper");
    let v = s.verify_all().expect("verify");
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("course 1's state row was changed")),
        "{:?}",
        v.problems
    );
    // A deleted row: every course is read, and verification says so.
    c.execute("DELETE FROM course_state WHERE course_id = ?1", [b])
        .expect("delete");
    assert_eq!(
        s.live_course_ids(day("2026-12-09")).expect("live"),
        vec![a, b]
    );
    let v = s.verify_all().expect("verify");
    assert!(
        v.problems.iter().any(|p| p.contains("have no state row")),
        "{:?}",
        v.problems
    );
}

#[test]
fn a_schema_2_record_gets_state_rows_to_rebuild_and_they_are_rebuilt() {
    let (dir, mut s, a) = store_with_course();
    append(&mut s, a, dose_event(), "2026-12-07 08:00");
    drop(s);
    {
        let c = attacker(&dir);
        c.execute_batch("DROP TABLE course_state; PRAGMA user_version = 2;")
            .expect("as schema 2");
    }
    let mut s = Store::open(&db(&dir)).expect("upgrade");
    assert_eq!(s.states_to_rebuild().expect("rows"), vec![a]);
    assert_eq!(
        s.live_course_ids(day("2030-01-01")).expect("live"),
        vec![a],
        "live until rebuilt"
    );
    s.rebuild_state(a, false, 1, Some(t("2026-12-07 08:00")))
        .expect("rebuild");
    assert!(s.states_to_rebuild().expect("rows").is_empty());
    assert!(
        s.live_course_ids(day("2030-01-01"))
            .expect("live")
            .is_empty()
    );
    // A rebuild from a stale replay (the chain moved on) writes nothing.
    append(&mut s, a, obs(0), "2026-12-07 08:30");
    s.rebuild_state(a, false, 1, None).expect("rebuild");
    assert_eq!(s.live_course_ids(day("2030-01-01")).expect("live"), vec![a]);
    let v: i64 =
        s.db.sqlite()
            .expect("sqlite")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn the_log_stays_short_when_every_command_is_a_new_process() {
    // Each CLI command opens the record alone, so SQLite's own checkpoint could never start
    // the log again from its beginning: it grew by every recording, and every command read
    // all of it. Here each append is made by a fresh open, as each command is.
    let (dir, s, c) = store_with_course();
    drop(s);
    let wal = PathBuf::from(format!("{}-wal", db(&dir).display()));
    let mut longest = 0;
    for i in 0..200u32 {
        let mut s = Store::open(&db(&dir)).expect("open");
        append(
            &mut s,
            c,
            EventKind::Note {
                text: format!("note {i} {}", "x".repeat(3000)),
            },
            "2026-12-07 08:00",
        );
        drop(s);
        longest = longest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // 64 pages of 4 KiB with their frame headers, and the last commit's pages on top.
    assert!(
        longest < 80 * (4096 + 24),
        "the log reached {longest} bytes"
    );
    let s = Store::open(&db(&dir)).expect("open");
    assert_eq!(s.events(c).expect("events").len(), 200);
    assert!(s.verify(c).expect("verify").problems.is_empty());
}

#[test]
fn the_recording_session_is_marked_used_in_the_entry_s_own_transaction() {
    let (_d, mut s, c) = store_with_course();
    s.add_staff(&staff_row()).expect("staff");
    s.add_session(&SessionRow {
        token_hash: "tok".into(),
        staff_id: "rn.li".into(),
        os_user: "li".into(),
        created_at: t("2026-12-07 08:00"),
        last_used: t("2026-12-07 08:00"),
        ended: false,
    })
    .expect("session");
    let with_session = |at: &str| NewEvent {
        session: Some("tok".into()),
        ..ev(dose_event(), at)
    };
    // Refused: neither the entry nor the session's clock moves.
    let r = s.append(c, |_, _| {
        let _ = with_session("2026-12-07 08:10");
        Err::<NewEvent, _>("refused")
    });
    assert!(matches!(r, Err(AppendError::Refused("refused"))));
    let used = |s: &Store| s.session("tok").expect("read").expect("there").last_used;
    assert_eq!(used(&s), t("2026-12-07 08:00"));
    // Recorded: both, in one transaction.
    s.append(c, |_, _| Ok::<_, String>(with_session("2026-12-07 08:20")))
        .map_err(|_| ())
        .expect("append");
    assert_eq!(used(&s), t("2026-12-07 08:20"));
    assert_eq!(s.events(c).expect("events").len(), 1);
}

#[test]
fn every_command_finds_the_newest_rows_missing_and_verify_finds_any() {
    let (dir, s, _) = store_with_course();
    for id in ["P2", "P3"] {
        let p = PatientRecord {
            id: id.into(),
            ..patient()
        };
        s.add_patient(&p, t("2026-12-01 09:00"), &nurse())
            .expect("patient");
    }
    s.verify_accounts().expect("intact");
    drop(s);
    // A patient from the middle: the check every command makes (the newest row's number, not
    // a count of every row) does not see it; `verify` counts them all.
    attacker(&dir)
        .execute("DELETE FROM patients WHERE id = 'P2'", [])
        .expect("delete");
    let s = Store::open(&db(&dir)).expect("open");
    s.verify_accounts().expect("not counted per command");
    assert!(
        problems(&dir)
            .iter()
            .any(|p| p.contains("1 patients missing")),
        "{:?}",
        problems(&dir)
    );
    drop(s);
    // The newest patient (a record put back to an older copy loses its last rows): refused.
    attacker(&dir)
        .execute("DELETE FROM patients WHERE id = 'P3'", [])
        .expect("delete");
    let s = Store::open(&db(&dir)).expect("open");
    assert!(matches!(
        s.verify_accounts(),
        Err(StoreError::Tampered(ref m)) if m.contains("patients missing")
    ));
}

/// Runs `attempt` with its k-th step failing as a full disk would (`made::fault`), for k = 1,
/// 2, … until a run reaches no fault: each failure must say that nothing of the new record was
/// left, and `left` (what is still there) must then be empty. Returns how many runs failed and
/// what the run that succeeded gave.
fn fail_each_step<T>(
    mut attempt: impl FnMut() -> Result<T, StoreError>,
    left: impl Fn() -> Vec<String>,
) -> (u32, T) {
    let mut failures = 0;
    for k in 1.. {
        super::made::FAULT.set(Some(k));
        let result = attempt();
        let unreached = super::made::FAULT.get() != Some(0);
        super::made::FAULT.set(None);
        match result {
            Err(StoreError::Unfinished { cause, left: said }) => {
                assert!(cause.to_string().contains("no space left"), "{cause}");
                assert!(said.starts_with("nothing of the new record"), "{said}");
                assert_eq!(left(), Vec::<String>::new(), "step {k}: left behind");
                failures += 1;
            }
            Ok(done) => {
                assert!(unreached, "step {k} was to fail");
                return (failures, done);
            }
            Err(e) => panic!("step {k}: {e}"),
        }
    }
    unreachable!("the steps are counted until one run succeeds")
}

/// The names in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// What a target holds after a failed copy (nothing, if all is well).
type LeftBehind = Box<dyn Fn() -> Vec<String>>;

/// A copy that fails at any of its inserts (a full disk, a lost connection) takes away the
/// record it began, so that nothing half-copied is left to refuse the next try: the file, its
/// journal, its key file and heads folder are gone; on a server (with `RITPLAN_TEST_POSTGRES`
/// or `RITPLAN_TEST_COPY_SERVER`) the database is empty again and the key file written for it
/// removed. The source is not changed, and the next try copies it whole.
#[test]
fn a_copy_that_fails_leaves_nothing_and_the_next_try_succeeds() {
    let (dir, s, _) = busy();
    drop(s);
    let source_bytes = file_bytes(&db(&dir));
    let s = Store::open(&db(&dir)).expect("open");
    let file = dir.path().join("copy/c.db");
    #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
    let mut targets: Vec<(PathBuf, LeftBehind)> = vec![(
        file.clone(),
        Box::new({
            let file = file.clone();
            move || {
                [
                    file.clone(),
                    keyed::key_path(&file),
                    keyed::heads_path(&file),
                    PathBuf::from(format!("{}-wal", file.display())),
                ]
                .into_iter()
                .filter(|p| p.exists())
                .map(|p| p.display().to_string())
                .collect()
            }
        }),
    )];
    #[cfg(feature = "postgres")]
    let server = ["RITPLAN_TEST_POSTGRES", "RITPLAN_TEST_COPY_SERVER"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|v| !v.is_empty()))
        .map(|base| {
            let base = base.trim_end_matches('/').to_string();
            let name = format!("ritplan_failed_copy_{}", std::process::id());
            crate::testkit::server_admin(
                &base,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
            crate::testkit::server_admin(&base, format!("CREATE DATABASE {name}"));
            (base, name)
        });
    #[cfg(feature = "postgres")]
    if let Some((base, name)) = server.clone() {
        let url = PathBuf::from(format!("{base}/{name}?sslmode=disable"));
        let check = url.clone();
        targets.push((
            url,
            Box::new(move || {
                let s = Store::open(&check);
                let mut left = Vec::new();
                match s {
                    Err(StoreError::Foreign { .. }) | Err(StoreError::Missing(_)) => {}
                    Err(e) => left.push(format!("open: {e}")),
                    Ok(_) => left.push("a record opens there".into()),
                }
                let cfg: postgres::Config = format!("{base}/{name}").parse().expect("url");
                if let Some(k) = server::key_file(&cfg).filter(|k| k.exists()) {
                    left.push(k.display().to_string());
                }
                left
            }),
        ));
    }
    for (target, left) in &targets {
        let (failures, r) = fail_each_step(|| s.copy_to(target), left);
        assert!(r.verification.intact);
        assert_eq!(r.source_digest, r.copy_digest);
        // Every row of the source is an insert: the patient, the course, its three entries.
        assert!(
            failures >= 5,
            "{} failed {failures} times",
            target.display()
        );
    }
    drop(targets);
    drop(s);
    assert_eq!(
        file_bytes(&db(&dir)),
        source_bytes,
        "the source is unchanged"
    );
    #[cfg(feature = "postgres")]
    if let Some((base, name)) = server {
        let cfg: postgres::Config = format!("{base}/{name}").parse().expect("url");
        if let Some(k) = server::key_file(&cfg) {
            let _ = std::fs::remove_file(k);
        }
        crate::testkit::server_admin(
            &base,
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
}

/// A backup that fails after its heads, its database or its key file (a full disk) takes away
/// what it wrote; the next try writes a backup that verifies.
#[test]
fn a_backup_that_fails_leaves_nothing_and_the_next_try_succeeds() {
    let (dir, s, _) = busy();
    let dest = dir.path().join("backups/b.db");
    // A folder that is not there yet is made (and kept).
    let folder = dest.parent().expect("parent").to_path_buf();
    let (failures, v) = fail_each_step(|| s.backup_to(&dest), || names_in(&folder));
    assert!(v.intact);
    assert_eq!(failures, 3, "the heads, the database, the key file");
}

/// A creation that fails after its key file, its heads folder or its schema and counts (a full
/// disk) takes away what it made: the same `init` can be run again.
#[test]
fn a_creation_that_fails_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("w/r.db");
    let folder = path.parent().expect("parent").to_path_buf();
    let (failures, s) = fail_each_step(
        || Store::create(&path, true),
        || {
            // The folder itself is made (and kept) before anything of the record.
            if folder.exists() {
                names_in(&folder)
            } else {
                Vec::new()
            }
        },
    );
    assert!(s.verify_all().expect("verify").intact);
    assert_eq!(
        failures, 3,
        "the key file, the heads, the schema and counts"
    );
}
