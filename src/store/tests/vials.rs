//! The index of vial codes: codes allocated record-wide in the event's transaction, found by
//! code, every row checked against its event by verification, and added by the upgrade.

use super::*;

fn vial(code: String) -> EventKind {
    EventKind::VialAdded {
        code,
        vial: "4".into(),
        lot: "AB123".into(),
        lot_expires: "2027-03-31".parse().expect("date"),
        expires: "2027-03-31".parse().expect("date"),
        expiry_rule: None,
        manufacturer: None,
        prepared: None,
        volume_ml: None,
        gtin: None,
        serial: None,
    }
}

/// Adds a vial to course `c` with the next code, as the ward does.
fn add(s: &mut Store, c: i64, at: &str) -> String {
    let e = s
        .append(c, |_, tx| {
            let code = tx.next_vial_code().map_err(|e| e.to_string())?;
            Ok::<_, String>(ev(vial(code), at))
        })
        .map_err(|_| ())
        .expect("vial added");
    match e.event.kind {
        EventKind::VialAdded { code, .. } => code,
        other => panic!("{other:?}"),
    }
}

#[test]
fn codes_are_sequential_across_courses_and_found_by_code() {
    let (_dir, mut s, a) = store_with_course();
    let b = s
        .add_course(&new_course(), t("2026-12-01 09:00"), &nurse())
        .expect("course");
    assert_eq!(add(&mut s, a, "2026-12-07 08:00"), "V000001");
    assert_eq!(add(&mut s, b, "2026-12-07 08:01"), "V000002");
    assert_eq!(add(&mut s, a, "2026-12-07 08:02"), "V000003");
    assert_eq!(s.vial_course("V000002").expect("lookup"), Some(b));
    assert_eq!(s.vial_course("V000009").expect("lookup"), None);
    assert_eq!(s.courses_with_vials().expect("ids"), vec![a, b]);
    assert!(s.verify_all().expect("verify").intact);
    // A code given twice is refused by the index: nothing is written.
    let again = s.append(a, |_, _| {
        Ok::<_, String>(ev(vial("V000001".into()), "2026-12-07 09:00"))
    });
    assert!(again.is_err());
    assert_eq!(s.events(a).expect("events").len(), 2);
}

#[test]
fn a_changed_moved_or_missing_index_row_or_vial_event_is_a_tamper() {
    let (dir, mut s, a) = store_with_course();
    let b = s
        .add_course(&new_course(), t("2026-12-01 09:00"), &nurse())
        .expect("course");
    add(&mut s, a, "2026-12-07 08:00");
    add(&mut s, b, "2026-12-07 08:01");
    let c = attacker(&dir);
    c.execute_batch("DROP TRIGGER vials_no_update; DROP TRIGGER vials_no_delete;")
        .expect("drop vial triggers");
    // Moved to the other course.
    c.execute(
        "UPDATE vials SET course_id = ?1 WHERE code = 'V000001'",
        [b],
    )
    .expect("move");
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|p| p.contains("vial code V000001 is indexed under it, but no vial")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.contains("vial V000001 has no index row")),
        "{p:?}"
    );
    assert!(s.verify_or_refuse(a).is_err(), "nothing is decided on it");
    c.execute(
        "UPDATE vials SET course_id = ?1 WHERE code = 'V000001'",
        [a],
    )
    .expect("back");
    assert!(problems(&dir).is_empty());
    // Under a course that does not exist.
    c.execute("UPDATE vials SET course_id = 99 WHERE code = 'V000002'", [])
        .expect("orphan");
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|p| p.contains("V000002 is indexed under course 99, which does not exist")),
        "{p:?}"
    );
    c.execute(
        "UPDATE vials SET course_id = ?1 WHERE code = 'V000002'",
        [b],
    )
    .expect("back");
    assert!(problems(&dir).is_empty());
    // Deleted.
    c.execute("DELETE FROM vials WHERE code = 'V000002'", [])
        .expect("delete");
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|p| p.contains("vial V000002 has no index row")),
        "{p:?}"
    );
    // Its event's expiry changed: the chain breaks.
    let body: String = c
        .query_row(
            "SELECT body_json FROM events WHERE course_id = ?1 AND seq = 1",
            [a],
            |r| r.get(0),
        )
        .expect("body");
    c.execute(
        "UPDATE events SET body_json = ?1 WHERE course_id = ?2 AND seq = 1",
        params![body.replace("2027-03-31", "2029-03-31"), a],
    )
    .expect("tamper");
    let p = problems(&dir);
    assert!(
        p.iter()
            .any(|p| p.contains("event 1: its content does not match its MAC")),
        "{p:?}"
    );
}

#[test]
fn a_schema_3_record_gets_the_empty_index() {
    let (dir, mut s, a) = store_with_course();
    append(&mut s, a, dose_event(), "2026-12-07 08:00");
    drop(s);
    {
        let c = attacker(&dir);
        c.execute_batch("DROP TABLE vials; PRAGMA user_version = 3;")
            .expect("as schema 3");
    }
    let mut s = Store::open(&db(&dir)).expect("upgrade");
    assert!(s.verify_all().expect("verify").intact);
    assert_eq!(add(&mut s, a, "2026-12-07 09:00"), "V000001");
    let v: i64 =
        s.db.sqlite()
            .expect("sqlite")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
    // Schema 4; schema 5 (instants) and 6 (frozen texts) wait for the record's zone (see `instants`).
    assert_eq!(v, 4);
    assert_eq!(SCHEMA_VERSION, 6);
}
