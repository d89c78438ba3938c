use super::*;

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
            "edit a frozen text kept by digest",
            "UPDATE frozen SET text = replace(text, 'a = 1', 'a = 2')",
            "does not match its digest",
        ),
        (
            "delete the frozen texts",
            "DELETE FROM frozen",
            "is missing",
        ),
        (
            "point the course's rules at its template's text",
            "UPDATE courses SET rules_json = template_text",
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
