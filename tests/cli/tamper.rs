//! A record that cannot be changed quietly: an attacker with the database file (and SQLite)
//! but not the key changes it as they like, triggers dropped; `ritplan verify` names what
//! changed (exit 65), and `next`, `give` and `note` refuse to act on it (exit 65), changing
//! nothing.

use rusqlite::Connection;

use crate::ward::{As, Ward, give_args, hh};

/// Changes the copy's database as an attacker would, with every right on the database but
/// not the key: triggers dropped (SQLite) or disabled (PostgreSQL, as a superuser), foreign
/// keys off. Returns the rows changed.
fn tamper(w: &Ward, sql: &str) -> u64 {
    if w.on_server() {
        let mut c =
            postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls).expect("connect");
        c.batch_execute("SET session_replication_role = replica")
            .expect("triggers off");
        return c.execute(sql, &[]).expect(sql);
    }
    attacker(w).execute(sql, []).expect(sql) as u64
}

/// Opens the copy's database as an attacker would: triggers dropped, foreign keys off.
fn attacker(w: &Ward) -> Connection {
    let c = Connection::open(&w.db).expect("open");
    let triggers: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names");
    for t in triggers {
        c.execute_batch(&format!("DROP TRIGGER {t}")).expect("drop");
    }
    c.execute_batch("PRAGMA foreign_keys = OFF")
        .expect("fk off");
    c
}

/// The ward every tamper starts from: P1 on the rush with step 1 given and observed, P2
/// without a course, and a setting changed from its default.
fn ward() -> (Ward, Ward) {
    let w = Ward::new();
    let c = w.rush_course();
    assert_eq!(c, "1");
    w.add_patient(
        "2026-12-01T09:00",
        "P2",
        "Wu Fang",
        "1980-01-01",
        "70",
        "2",
        "300",
    );
    w.login(As::Admin, "2026-12-01T09:00");
    let (code, _, err) = w.run_as(
        As::Admin,
        "2026-12-01T09:00",
        &["settings", "set", "lock_minutes", "30"],
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = w.give(&hh(7, 8, 0), "1", 1, "0.1");
    assert_eq!(code, Some(0), "{err}");
    // A copy from before the observation, to roll the database back to.
    let before = w.copy();
    w.observe(&hh(7, 8, 30), "1", 0);
    (w, before)
}

/// Expects the record to be refused everywhere, saying `needle`.
fn refused_everywhere(w: &Ward, what: &str, needle: &str, course_too: bool) {
    let now = hh(7, 8, 35);
    w.login(As::Nurse, &now);
    let (code, out, err) = w.run(&now, &["verify"]);
    assert_eq!(code, Some(65), "{what}: verify said {out}{err}");
    let said = format!("{out}{err}");
    assert!(said.contains(needle), "{what}: {needle:?} not in {said}");
    let give = give_args("1", "P1", "2", "0.2", &[]);
    for args in [&give[..], &["note", "1", "--text", "anything"][..]] {
        let before = w.bytes();
        let (code, out, err) = w.run_as(As::Nurse, &now, args);
        assert_eq!(code, Some(65), "{what}: {args:?} {out}{err}");
        assert!(
            err.contains("Run `ritplan verify`"),
            "{what}: {args:?} says how to investigate: {err}"
        );
        assert!(before == w.bytes(), "{what}: {args:?} changed the record");
    }
    if course_too {
        let (code, out, err) = w.run(&now, &["next", "1"]);
        assert_eq!(code, Some(65), "{what}: next said {out}{err}");
        assert!(err.contains("does not verify"), "{what}: {err}");
    }
}

#[test]
fn the_untouched_record_verifies() {
    let (w, _) = ward();
    let (code, out, err) = w.run(&hh(7, 8, 35), &["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("intact"), "{out}");
}

#[test]
fn every_change_to_what_decides_a_dose_is_seen_and_refused() {
    let (w, _) = ward();
    let sql = [
        (
            "the last event deleted",
            "DELETE FROM events WHERE course_id = 1 AND seq = 2",
            "1 recorded event is missing at the end",
        ),
        (
            "every event deleted",
            "DELETE FROM events WHERE course_id = 1",
            "2 recorded events are missing at the end",
        ),
        (
            "a dose's time moved",
            "UPDATE events SET happened_at = '2026-12-07T06:00:00' WHERE seq = 1",
            "event 1: its content does not match its MAC",
        ),
        (
            "a dose's volume edited",
            "UPDATE events SET body_json = replace(body_json, '\"volume_ml\":0.1', '\"volume_ml\":0.5') WHERE seq = 1",
            "event 1: its content does not match its MAC",
        ),
        (
            "an event forged at the end",
            "INSERT INTO events SELECT course_id, 3, body_json, happened_at, recorded_at, recorded_by, late_entered, hash, hash, staff_id, os_user, out_of_order, keyed FROM events WHERE seq = 2",
            "event 3: its content does not match its MAC",
        ),
        (
            "the frozen rules edited",
            "UPDATE courses SET rules_json = rules_json || ' '",
            "does not match its MAC: changed outside ritplan",
        ),
        (
            "a frozen text kept by digest edited",
            "UPDATE frozen SET text = text || ' '",
            "does not match its digest: changed outside ritplan",
        ),
        (
            "the frozen texts deleted",
            "DELETE FROM frozen",
            "is missing: removed outside ritplan",
        ),
        (
            "the course's rules pointed at its template's text",
            "UPDATE courses SET rules_json = template_text",
            "does not match its MAC: changed outside ritplan",
        ),
        (
            "the inputs edited",
            "UPDATE courses SET inputs_json = replace(inputs_json, '\"sige\":\"2\"', '\"sige\":\"0.5\"')",
            "does not match its MAC: changed outside ritplan",
        ),
        (
            "the plan edited",
            "UPDATE courses SET plan_json = plan_json || ' '",
            "does not match its MAC: changed outside ritplan",
        ),
        (
            "the frozen template edited",
            "UPDATE courses SET template_text = template_text || '#'",
            "does not match its MAC: changed outside ritplan",
        ),
        (
            "the course moved to another patient",
            "UPDATE courses SET patient_id = 'P2'",
            "does not match its MAC: changed outside ritplan",
        ),
        (
            "the patient's date of birth changed",
            "UPDATE patients SET dob = '2016-05-01' WHERE id = 'P1'",
            "patient \"P1\"",
        ),
        (
            "the patient's sIgE changed",
            "UPDATE patients SET sige = '0.4' WHERE id = 'P1'",
            "patient \"P1\"",
        ),
    ];
    for (what, change, needle) in sql {
        let t = w.copy();
        let n = tamper(&t, change);
        assert!(n > 0, "{what}: the change touched no row");
        refused_everywhere(&t, what, needle, true);
    }
}

#[test]
fn changes_to_the_accounts_and_settings_are_seen_and_refused() {
    let (w, _) = ward();
    let sql = [
        (
            "a nurse made a physician",
            "UPDATE staff SET role = 'physician' WHERE id = 'rn.li'",
            "staff account \"rn.li\": the row does not match its MAC",
        ),
        (
            "a setting deleted (its default back)",
            "DELETE FROM settings WHERE key = 'lock_minutes'",
            "the settings do not match their digest",
        ),
        (
            "a setting changed",
            "UPDATE settings SET value = '1' WHERE key = 'lock_minutes'",
            "the setting \"lock_minutes\" does not match its MAC",
        ),
        (
            "a patient without a course deleted",
            "DELETE FROM patients WHERE id = 'P2'",
            "1 patients missing",
        ),
        (
            "a staff account deleted",
            "DELETE FROM staff WHERE id = 'admin'",
            "1 staff accounts missing",
        ),
    ];
    for (what, change, needle) in sql {
        let t = w.copy();
        let n = tamper(&t, change);
        assert!(n > 0, "{what}: the change touched no row");
        let now = hh(7, 8, 35);
        let (code, out, err) = t.run(&now, &["verify"]);
        assert_eq!(code, Some(65), "{what}: {out}{err}");
        assert!(
            format!("{out}{err}").contains(needle),
            "{what}: {needle:?} not in {out}{err}"
        );
        // Recording is refused, whoever is logged in.
        let before = t.bytes();
        let (code, out, err) = t.run_as(As::Nurse, &now, &["note", "1", "--text", "x"]);
        assert_eq!(code, Some(65), "{what}: {out}{err}");
        assert!(before == t.bytes(), "{what}: the note changed the record");
    }
}

#[test]
fn files_outside_the_database_changed_or_rolled_back() {
    let (w, before) = ward();
    if w.file_only("the heads folder and key file beside an SQLite record") {
        return;
    }
    // The database put back to a copy from before the observation: the heads are ahead.
    let t = w.copy();
    t.roll_back_to(&before);
    refused_everywhere(
        &t,
        "the database rolled back",
        "1 recorded event is missing at the end",
        true,
    );
    // Another key: nothing verifies.
    let t = w.copy();
    let mut key = std::fs::read_to_string(format!("{}.key", t.db.display())).expect("key");
    key.replace_range(0..2, if key.starts_with("00") { "11" } else { "00" });
    std::fs::write(format!("{}.key", t.db.display()), key).expect("write key");
    let (code, out, err) = t.run(&hh(7, 8, 35), &["verify"]);
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(
        format!("{out}{err}").contains("does not match its MAC"),
        "{out}{err}"
    );
    // A course's head removed.
    let t = w.copy();
    std::fs::remove_file(format!("{}.heads/course-1", t.db.display())).expect("rm");
    refused_everywhere(
        &t,
        "a head removed",
        "course 1: its chain has no head",
        true,
    );
    // The whole heads folder or the key file gone: the record is not opened at all.
    for gone in [".heads", ".key"] {
        let t = w.copy();
        let path = format!("{}{gone}", t.db.display());
        if gone == ".heads" {
            std::fs::remove_dir_all(&path).expect("rm");
        } else {
            std::fs::remove_file(&path).expect("rm");
        }
        let before = t.bytes();
        let (code, out, err) = t.run(&hh(7, 8, 35), &["next", "1"]);
        // A missing key file is a file not found (74); a missing heads folder is how deleted
        // events would be hidden (65).
        let expected = if gone == ".key" { 74 } else { 65 };
        assert_eq!(code, Some(expected), "{gone}: {out}{err}");
        assert!(err.contains("restored"), "{gone}: {err}");
        assert!(before == t.bytes(), "{gone}: the record was changed");
    }
}

#[test]
fn a_backup_is_a_verified_copy_with_the_log_the_key_and_the_heads() {
    let w = Ward::new();
    let c = w.rush_course();
    let (code, _, err) = w.give(&hh(7, 8, 0), &c, 1, "0.1");
    assert_eq!(code, Some(0), "{err}");
    // Into a folder that is not there yet (it is made).
    let dest = w.file("backups/2026-12-07/backup.db");
    let d = dest.to_str().expect("path");
    let (code, _, err) = w.run_as(As::Nurse, &hh(7, 8, 5), &["db", "backup", "--out", d]);
    assert_eq!(code, Some(1), "a nurse may not: {err}");
    assert!(err.contains("admin"), "{err}");
    w.login(As::Admin, &hh(7, 8, 5));
    let (code, out, err) = w.run_as(As::Admin, &hh(7, 8, 5), &["db", "backup", "--out", d]);
    if w.on_server() {
        assert_eq!(code, Some(74), "{out}{err}");
        assert!(err.contains("pg_dump") && err.contains("db copy"), "{err}");
        assert!(!dest.exists(), "nothing written");
        return;
    }
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("the copy verifies"), "{out}");
    // The dose is in the copy (it was still in the live record's write-ahead log).
    let log = |db: &std::path::Path| {
        let o = crate::ritplan()
            .env("RITPLAN_DB", db)
            .args(["course", "log", "1", "--json"])
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(log(&w.db), log(&dest));
    assert!(log(&dest).contains("dose_given"));
    let o = crate::ritplan()
        .env("RITPLAN_DB", &dest)
        .arg("verify")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [dest.clone(), dest.with_file_name("backup.db.key")] {
            let mode = std::fs::metadata(&f).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
    // Never over an existing file.
    let (code, _, err) = w.run_as(As::Admin, &hh(7, 8, 6), &["db", "backup", "--out", d]);
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("already exists"), "{err}");
}
