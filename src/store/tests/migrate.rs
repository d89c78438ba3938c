use super::*;

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
