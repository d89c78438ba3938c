use super::*;

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
