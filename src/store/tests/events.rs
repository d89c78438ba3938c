use super::*;

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
