//! Who did what, through the real binary: roles, sessions, lock-out, the right patient, the
//! second check, clean text and the record's clock. Every refusal leaves the database
//! byte-for-byte unchanged.

use ritplan::ward::LOGIN_REFUSED;
use serde_json::Value;

use crate::ward::{As, Ward, give_args, hh};

/// Runs `args` as `who` and expects exit `code`, `needle` in the message, and no byte changed.
fn refused_as(w: &Ward, who: As, now: &str, args: &[&str], code: i32, needle: &str) {
    if who != As::Admin {
        w.fresh(who, now);
    }
    let before = w.bytes();
    let (got, out, err) = w.run_as(who, now, args);
    assert_eq!(got, Some(code), "{args:?} as {who:?}: {out}{err}");
    assert!(err.contains(needle), "{args:?} as {who:?}: {err}");
    assert!(
        before == w.bytes(),
        "{args:?} as {who:?} changed the database"
    );
}

/// A course for P1 on the rush example, its first dose given by the nurse at 12-07 08:00.
fn started(w: &Ward) -> String {
    let c = w.rush_course();
    let (code, _, err) = w.give(&hh(7, 8, 0), &c, 1, "0.1");
    assert_eq!(code, Some(0), "{err}");
    c
}

/// The number of the last event of a course.
fn last_event(w: &Ward, now: &str, c: &str) -> u64 {
    let (_, out, _) = w.run(now, &["course", "log", c, "--json"]);
    let v: Value = serde_json::from_str(&out).expect("log json");
    v.as_array()
        .and_then(|a| a.last())
        .and_then(|e| e["seq"].as_u64())
        .expect("an event")
}

#[test]
fn each_physician_only_action_refuses_a_nurse_naming_the_role() {
    let w = Ward::new();
    let c = started(&w);
    let t = hh(7, 8, 10);
    let needs = "needs a physician account; rn.li is logged in as a nurse";
    // A review, whatever the decision: continue, repeat, step back, restart, stop.
    for decision in ["continue", "repeat", "step-back:1", "restart", "stop"] {
        refused_as(
            &w,
            As::Nurse,
            &t,
            &["review", &c, "--decision", decision, "--reason", "r"],
            1,
            needs,
        );
    }
    // A different dose than the rules allow.
    refused_as(
        &w,
        As::Nurse,
        &hh(7, 8, 40),
        &give_args(&c, "P1", "1", "0.1", &["--override", "repeat"]),
        1,
        needs,
    );
    // Accepting what the rules refuse at the start of a course.
    for flag in ["--accept-risk", "--accept-age", "--accept-missing"] {
        refused_as(
            &w,
            As::Nurse,
            &t,
            &[
                "course",
                "start",
                "--patient",
                "P1",
                "--template",
                "alutard-hdm-cluster-7w",
                "--start",
                "2027-03-01T08:00",
                flag,
                "the physician's reason",
            ],
            1,
            needs,
        );
    }
    // Correcting a systemic reaction: the nurse records it, only a physician may void it.
    w.ok(
        &t,
        &[
            "react",
            &c,
            "--grade",
            "2a",
            "--onset-min",
            "10",
            "--symptom",
            "wheeze",
        ],
    );
    let sr = last_event(&w, &t, &c).to_string();
    refused_as(
        &w,
        As::Nurse,
        &t,
        &["correct", &c, "--event", &sr, "--reason", "not a reaction"],
        1,
        "correcting a systemic reaction or a physician's review needs a physician account",
    );
    // ... and the grade 2 gate cannot be cleared by the nurse's review.
    refused_as(
        &w,
        As::Nurse,
        &t,
        &["review", &c, "--decision", "continue", "--reason", "fine"],
        1,
        needs,
    );
    // Correcting a physician's review.
    w.ok(
        &hh(7, 9, 0),
        &[
            "review",
            &c,
            "--by",
            "Dr Wang",
            "--decision",
            "stop",
            "--reason",
            "grade 2",
        ],
    );
    let review = last_event(&w, &hh(7, 9, 0), &c).to_string();
    refused_as(
        &w,
        As::Nurse,
        &hh(7, 9, 5),
        &["correct", &c, "--event", &review, "--reason", "wrong"],
        1,
        "correcting a systemic reaction or a physician's review needs a physician account",
    );
    // The physician may do both.
    let (code, _, err) = w.run_as(
        As::Physician,
        &hh(7, 9, 10),
        &[
            "correct",
            &c,
            "--event",
            &review,
            "--reason",
            "wrong course",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_nurse_corrects_only_their_own_entries_and_an_admin_records_nothing_clinical() {
    let w = Ward::new();
    let c = started(&w);
    let t = hh(7, 8, 10);
    let (code, _, err) = w.run_as(As::Physician, &t, &["note", &c, "--text", "seen"]);
    assert_eq!(code, Some(0), "{err}");
    let physicians = last_event(&w, &t, &c).to_string();
    refused_as(
        &w,
        As::Nurse,
        &t,
        &["correct", &c, "--event", &physicians, "--reason", "typo"],
        1,
        "a nurse may correct only their own entries; event #",
    );
    // Their own note, they may.
    w.ok(&t, &["note", &c, "--text", "mine"]);
    let own = last_event(&w, &t, &c).to_string();
    w.ok(&t, &["correct", &c, "--event", &own, "--reason", "typo"]);

    // The admin manages accounts, not patients.
    w.login(As::Admin, &t);
    refused_as(
        &w,
        As::Admin,
        &t,
        &["note", &c, "--text", "admin"],
        1,
        "needs a nurse or physician account; admin is logged in as an admin",
    );
    refused_as(
        &w,
        As::Admin,
        &hh(7, 8, 40),
        &give_args(&c, "P1", "2", "0.2", &[]),
        1,
        "giving a dose needs a nurse or physician account",
    );
    // And a nurse manages no accounts or settings.
    for args in [
        &["settings", "set", "second_check", "required"][..],
        &["staff", "disable", "dr.wang"][..],
        &["staff", "password", "dr.wang", "--password-stdin"][..],
        &[
            "staff",
            "add",
            "--id",
            "x",
            "--name",
            "X",
            "--role",
            "physician",
            "--password-stdin",
        ][..],
    ] {
        refused_as(&w, As::Nurse, &t, args, 1, "needs an admin account");
    }
}

#[test]
fn a_session_ends_after_the_idle_timeout_and_with_logout() {
    let w = Ward::new();
    let t0 = "2026-12-01T09:00";
    w.login(As::Admin, t0);
    w.run_as(
        As::Admin,
        t0,
        &["settings", "set", "idle_timeout_min", "15"],
    );
    w.login(As::Nurse, t0);
    let add = [
        "patient",
        "add",
        "--id",
        "P9",
        "--name",
        "A B",
        "--dob",
        "1990-01-01",
        "--weight",
        "60",
        "--sige",
        "2",
        "--total-ige",
        "300",
    ];
    // Reading does not keep a session alive; recording does: a record at 09:14 keeps it
    // until 09:29.
    let (code, out, _) = w.run_as(As::Nurse, "2026-12-01T09:10", &["whoami"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("RN Li (rn.li, nurse)"), "{out}");
    let (code, _, err) = w.run_as(As::Nurse, "2026-12-01T09:14", &add);
    assert_eq!(code, Some(0), "{err}");
    let mut again = add;
    again[3] = "P10";
    let (code, _, err) = w.run_as(As::Nurse, "2026-12-01T09:29", &again);
    assert_eq!(code, Some(0), "{err}");
    let before = w.bytes();
    let out = crate::ritplan()
        .envs(w.record_env())
        .env("RITPLAN_NOW", "2026-12-01T09:45")
        .env("XDG_RUNTIME_DIR", w.sessions(As::Nurse))
        .args(["note", "1", "--text", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(77));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("your session ended after 15 minutes without use; log in with"),
        "{err}"
    );
    assert!(before == w.bytes(), "a refusal changed the database");

    // Logged out: refused, exit 77, and whoami says so.
    w.login(As::Nurse, "2026-12-01T10:00");
    let (code, out, _) = w.run_as(As::Nurse, "2026-12-01T10:00", &["logout"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("logged out"));
    let bare = |args: &[&str]| {
        crate::ritplan()
            .envs(w.record_env())
            .env("RITPLAN_NOW", "2026-12-01T10:01")
            .env("XDG_RUNTIME_DIR", w.sessions(As::Nurse))
            .args(args)
            .output()
            .expect("run")
    };
    let before = w.bytes();
    assert_eq!(bare(&["whoami"]).status.code(), Some(77));
    let o = bare(&add);
    assert_eq!(o.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&o.stderr).contains("log in first with: ritplan login ID"));
    assert!(before == w.bytes(), "a refusal changed the database");

    // A session file someone wrote by hand is no session.
    let dir = w.sessions(As::Nurse).join("ritplan");
    std::fs::create_dir_all(&dir).expect("dir");
    let record = std::fs::read_dir(w.sessions(As::Physician).join("ritplan"))
        .expect("physician's sessions")
        .next()
        .expect("one")
        .expect("entry")
        .file_name();
    std::fs::write(dir.join(&record), "00112233445566778899aabbccddeeff\n").expect("forge");
    let o = bare(&add);
    assert_eq!(o.status.code(), Some(77));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("you are not logged in to this record"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Nor is the physician's token copied into the nurse's file a way to act as the nurse:
    // it acts as the physician, whose name the record then shows (the file is 0600 for that).
    assert!(before == w.bytes(), "a refusal changed the database");
}

#[test]
fn repeated_failures_lock_an_account_for_a_while() {
    let w = Ward::new();
    let t = "2026-12-01T09:00";
    let login = |now: &str, pw: &str| {
        w.run_secret(
            As::Nurse,
            now,
            &["login", As::Nurse.id(), "--password-stdin"],
            pw,
        )
    };
    for i in 1..=4 {
        let (code, _, err) = login(t, "not-the-password");
        assert_eq!(code, Some(77), "{i}");
        assert!(err.contains("wrong staff id or password"), "{err}");
    }
    // Every refusal reads the same: a wrong password, a lock, an unknown id, a disabled
    // account (the page must not tell which staff ids exist or which are locked).
    let refused = format!("\"{}\": {LOGIN_REFUSED}", As::Nurse.id());
    let (code, _, err) = login(t, "not-the-password");
    assert_eq!(code, Some(77));
    assert!(err.contains(&refused), "{err}");
    // The right password does not open a locked account, nor is it told apart...
    let (code, _, err) = login("2026-12-01T09:14", As::Nurse.password());
    assert_eq!(code, Some(77));
    assert!(err.contains(&refused), "{err}");
    // ... until the lock has run out; then the count starts again.
    let (code, out, err) = login("2026-12-01T09:15", As::Nurse.password());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("logged in as RN Li"));
    let (code, _, err) = login("2026-12-01T09:16", "not-the-password");
    assert_eq!(code, Some(77));
    assert!(err.contains(&refused), "{err}");
    // An unknown id is refused in the same words as a wrong password.
    let (code, _, err) = w.run_secret(
        As::Nurse,
        t,
        &["login", "nobody", "--password-stdin"],
        "whatever-1",
    );
    assert_eq!(code, Some(77));
    assert!(
        err.contains(&format!("\"nobody\": {LOGIN_REFUSED}")),
        "{err}"
    );
    // A disabled account cannot log in, and its session ends with it.
    w.login(As::Admin, t);
    let (code, _, _) = w.run_as(As::Admin, t, &["staff", "disable", "dr.wang"]);
    assert_eq!(code, Some(0));
    let (code, _, err) = w.run_secret(
        As::Physician,
        t,
        &["login", "dr.wang", "--password-stdin"],
        As::Physician.password(),
    );
    assert_eq!(code, Some(77));
    assert!(
        err.contains(&format!("\"dr.wang\": {LOGIN_REFUSED}")),
        "{err}"
    );
}

#[test]
fn the_wrong_patient_is_refused_and_look_alikes_are_flagged_on_both() {
    let w = Ward::new();
    let t = "2026-12-01T09:00";
    w.add_patient(t, "P1", "Li Na", "1990-03-04", "60", "2", "300");
    w.add_patient(t, "P2", "Li Na", "1990-03-04", "22", "2", "300");
    w.add_patient(t, "P3", "Wu Fang", "1980-01-01", "70", "2", "300");
    let c = w.start(t, "P1", "example-hdm-rush-3d", "2026-12-07T08:00", &[]);
    for p in ["P1", "P2"] {
        let (_, out, _) = w.run(t, &["patient", "show", p]);
        assert!(out.contains("! LOOK-ALIKE: Li Na"), "{p}: {out}");
    }
    let (_, out, _) = w.run(t, &["patient", "show", "P3"]);
    assert!(!out.contains("LOOK-ALIKE"), "{out}");
    let now = hh(7, 8, 0);
    let (_, out, _) = w.run(&now, &["next", &c]);
    assert!(
        out.contains("Patient: Li Na · ID P1 · born 1990-03-04 (36 years) · 60 kg"),
        "{out}"
    );
    assert!(
        out.contains("! LOOK-ALIKE: Li Na (P2) has the same name and date of birth"),
        "{out}"
    );
    for wrong in ["P2", "P3", "p1", "nobody"] {
        let args = give_args(&c, wrong, "1", "0.1", &[]);
        refused_as(&w, As::Nurse, &now, &args, 1, "wrong patient: course");
    }
    // Ids are trimmed: " P1 " is P1.
    let (code, out, err) = w.run(&now, &give_args(&c, " P1 ", "1", "0.1", &[]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Patient: Li Na · ID P1"), "{out}");
    assert!(out.contains("recorded #1 in course"), "{out}");
    assert!(out.contains("by RN Li (rn.li)"), "{out}");
    assert!(out.contains("next: IN OBSERVATION until 08:30"), "{out}");
    // A second patient " P3 " is the existing P3: refused as a duplicate.
    let (code, _, err) = w.run(
        t,
        &[
            "patient",
            "add",
            "--id",
            " P3 ",
            "--name",
            "Wu Fang",
            "--dob",
            "1980-01-01",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "300",
        ],
    );
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("P3"), "{err}");
}

#[test]
fn a_clinic_that_asks_for_a_second_check_gets_one_from_another_person() {
    let w = Ward::new();
    let c = w.rush_course();
    w.login(As::Admin, "2026-12-01T09:00");
    let (code, _, err) = w.run_as(
        As::Admin,
        "2026-12-01T09:00",
        &["settings", "set", "second_check", "required"],
    );
    assert_eq!(code, Some(0), "{err}");
    let now = hh(7, 8, 0);
    let dose = give_args(&c, "P1", "1", "0.1", &[]);
    refused_as(
        &w,
        As::Nurse,
        &now,
        &dose,
        1,
        "require a second person to check every dose: give --checked-by ID",
    );
    let with = |checker: &'static str| {
        let mut a = dose.to_vec();
        a.extend_from_slice(&["--checked-by", checker, "--checker-password-stdin"]);
        a
    };
    // Not oneself; not with a wrong password; not an admin.
    // (A wrong password is a failed login of the checker's account, and counted.)
    let (code, _, err) = w.run_secret(As::Nurse, &now, &with("dr.wang"), "wrong-password");
    assert_eq!(code, Some(77), "{err}");
    assert!(err.contains("wrong staff id or password"), "{err}");
    let before = w.bytes();
    let (code, _, err) = w.run_secret(As::Nurse, &now, &with("rn.li"), As::Nurse.password());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("must be made by another person"), "{err}");
    let (code, _, err) = w.run_secret(As::Nurse, &now, &with("admin"), As::Admin.password());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("checking a dose needs"), "{err}");
    assert!(before == w.bytes(), "a refusal changed the database");
    let (code, out, err) =
        w.run_secret(As::Nurse, &now, &with("dr.wang"), As::Physician.password());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("checked by dr.wang"), "{out}");
    let (_, log, _) = w.run(&now, &["course", "log", &c]);
    assert!(log.contains("checked by dr.wang"), "{log}");
}

#[test]
fn control_characters_are_refused_in_every_free_text_field() {
    let w = Ward::new();
    let c = started(&w);
    let t = hh(7, 8, 10);
    let evil = [
        "a\u{1b}[2J",
        "two\nlines",
        "tab\there",
        "bell\u{7}",
        "del\u{7f}",
        "csi\u{9b}31m",
    ];
    let cases: Vec<(As, Vec<String>, &str)> = evil
        .iter()
        .flat_map(|e| {
            let s = |v: &[&str]| v.iter().map(|a| a.replace("EVIL", e)).collect::<Vec<_>>();
            vec![
                (
                    As::Nurse,
                    s(&[
                        "patient",
                        "add",
                        "--id",
                        "P7",
                        "--name",
                        "EVIL",
                        "--dob",
                        "1990-01-01",
                        "--weight",
                        "60",
                        "--sige",
                        "2",
                        "--total-ige",
                        "300",
                    ]),
                    "--name",
                ),
                (
                    As::Nurse,
                    s(&[
                        "patient",
                        "add",
                        "--id",
                        "EVIL",
                        "--name",
                        "Ok Name",
                        "--dob",
                        "1990-01-01",
                        "--weight",
                        "60",
                        "--sige",
                        "2",
                        "--total-ige",
                        "300",
                    ]),
                    "--id",
                ),
                (As::Nurse, s(&["note", &c, "--text", "EVIL"]), "--text"),
                (
                    As::Nurse,
                    s(&["correct", &c, "--event", "1", "--reason", "EVIL"]),
                    "--reason",
                ),
                (As::Nurse, s(&["defer", &c, "--reason", "EVIL"]), "--reason"),
                (
                    As::Nurse,
                    s(&[
                        "react",
                        &c,
                        "--grade",
                        "1a",
                        "--onset-min",
                        "5",
                        "--symptom",
                        "itch",
                        "--treatment",
                        "EVIL",
                    ]),
                    "--treatment",
                ),
                (
                    As::Nurse,
                    s(&[
                        "react",
                        &c,
                        "--grade",
                        "1a",
                        "--onset-min",
                        "5",
                        "--symptom",
                        "EVIL",
                    ]),
                    "--symptom",
                ),
                (
                    As::Physician,
                    s(&["review", &c, "--decision", "stop", "--reason", "EVIL"]),
                    "--reason",
                ),
                (
                    As::Nurse,
                    s(&give_args(
                        &c,
                        "P1",
                        "2",
                        "0.2",
                        &["--lot", "EVIL", "--at", "2026-12-07T08:40"],
                    )),
                    "--lot",
                ),
            ]
        })
        .collect();
    for (who, args, field) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let now = if args[0] == "give" {
            hh(7, 8, 40)
        } else {
            t.clone()
        };
        refused_as(
            &w,
            *who,
            &now,
            &args,
            65,
            &format!("{field} contains a control character"),
        );
    }
    // A staff member's name, by the admin.
    w.login(As::Admin, &t);
    let before = w.bytes();
    let (code, _, err) = w.run_secret(
        As::Admin,
        &t,
        &[
            "staff",
            "add",
            "--id",
            "rn.evil",
            "--name",
            "RN \u{1b}[31mEvil",
            "--role",
            "nurse",
            "--password-stdin",
        ],
        "a-good-password-9",
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("--name contains a control character"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "the message itself is clean: {err:?}"
    );
    assert!(before == w.bytes(), "a refusal changed the database");
}

#[test]
fn stamps_earlier_than_the_course_s_last_are_flagged() {
    let w = Ward::new();
    let c = started(&w);
    let (code, out, err) = w.run(
        &hh(7, 8, 20),
        &["note", &c, "--text", "late", "--at", "2026-12-07T07:50"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("(entered late) ! OUT OF ORDER"), "{out}");
    // The record clock of a training record going back is flagged too, even at the same time.
    let (code, out, err) = w.run(&hh(7, 8, 10), &["note", &c, "--text", "clock went back"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("OUT OF ORDER"), "{out}");
    let (_, log, _) = w.run(&hh(7, 8, 30), &["course", "log", &c]);
    assert_eq!(log.matches("OUT OF ORDER").count(), 2, "{log}");
    let (_, json, _) = w.run(&hh(7, 8, 30), &["course", "log", &c, "--json"]);
    let v: Value = serde_json::from_str(&json).expect("json");
    let flags: Vec<bool> = v
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["out_of_order"].as_bool().expect("flag"))
        .collect();
    assert_eq!(flags, [false, true, true]);
}

#[test]
#[allow(clippy::disallowed_methods)] // the test compares the record's stamp with the clock
fn only_a_training_record_follows_ritplan_now() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("clinic.db");
    let run = |args: &[&str], now: Option<&str>, stdin: &str| {
        let mut c = crate::ritplan();
        c.env("RITPLAN_DB", &db)
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .args(args)
            .write_stdin(format!("{stdin}\n"));
        if let Some(n) = now {
            c.env("RITPLAN_NOW", n);
        }
        c.output().expect("run")
    };
    let o = run(
        &[
            "init",
            "--admin",
            "admin",
            "--name",
            "A",
            "--password-stdin",
        ],
        Some("2001-01-01T08:00"),
        "admin-password-1",
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("RITPLAN_NOW is ignored: this record is not a training record"),
        "{err}"
    );
    let o = run(&["staff", "list", "--json"], None, "");
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let created = v[0]["created_at"].as_str().expect("created_at");
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let utc_today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        created.starts_with(&today) || created.starts_with(&utc_today),
        "stamped {created}, not today"
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("TRAINING"));
}

#[test]
fn one_s_own_password_takes_the_current_one_and_an_admin_s_reset_unlocks() {
    let w = Ward::new();
    let t = "2026-12-01T09:00";
    w.login(As::Nurse, t);
    let own = ["staff", "password", "rn.li", "--password-stdin"];
    let before = w.bytes();
    let (code, _, err) = w.run_secret(As::Nurse, t, &own, "guess\nnew-password-22");
    assert_eq!(code, Some(77), "{err}");
    assert!(err.contains("wrong"), "{err}");
    assert_ne!(
        before,
        w.bytes(),
        "a wrong current password counts as a failed login"
    );
    let (code, out, err) = w.run_secret(
        As::Nurse,
        t,
        &own,
        &format!("{}\nnew-password-22", As::Nurse.password()),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("password of rn.li set"), "{out}");
    let (code, _, _) = w.run_secret(
        As::Nurse,
        t,
        &["login", "rn.li", "--password-stdin"],
        As::Nurse.password(),
    );
    assert_eq!(code, Some(77), "the old password no longer works");
    // Locked out by five failures; the admin's reset opens the account at once.
    for _ in 0..5 {
        w.run_secret(
            As::Nurse,
            t,
            &["login", "rn.li", "--password-stdin"],
            "wrong-wrong-1",
        );
    }
    w.login(As::Admin, t);
    let (code, _, err) = w.run_secret(
        As::Admin,
        t,
        &["staff", "password", "rn.li", "--password-stdin"],
        "reset-password-33",
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = w.run_secret(
        As::Nurse,
        t,
        &["login", "rn.li", "--password-stdin"],
        "reset-password-33",
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn an_acceptance_or_an_override_without_words_is_refused_by_the_ward() {
    let w = Ward::new();
    let c = started(&w);
    let t = hh(7, 8, 10);
    for flag in ["--accept-risk", "--accept-age", "--accept-missing"] {
        refused_as(
            &w,
            As::Physician,
            &t,
            &[
                "course",
                "start",
                "--patient",
                "P1",
                "--template",
                "alutard-hdm-cluster-7w",
                "--start",
                "2027-03-01T08:00",
                flag,
                "  ",
            ],
            65,
            &format!("{flag} is empty"),
        );
    }
    refused_as(
        &w,
        As::Physician,
        &hh(7, 8, 40),
        &give_args(&c, "P1", "2", "0.1", &["--override", " "]),
        65,
        "--override is empty",
    );
}
