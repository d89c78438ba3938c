use super::*;

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
        c.execute_batch("DROP TABLE course_state; DROP TABLE vials; PRAGMA user_version = 2;")
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
    // Schema 4: with no zone named, schema 5 waits for `db migrate --time-zone`.
    assert_eq!(v, 4);
    assert!(s.needs_zone().expect("version"));
}
