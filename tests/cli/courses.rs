//! Treatment courses through the real binary, with a temporary database: whole scenarios,
//! refusals that must leave the database byte-for-byte unchanged, several processes recording
//! at once, and processes killed mid-write.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::ritplan;
use crate::ward::{As, Ward, give_args, hh};

#[test]
fn an_uneventful_rush() {
    let w = Ward::new();
    let c = w.rush_course();
    assert_eq!(c, "1");
    // Day 1: 4 injections, day 2: 3, day 3: 3, each after the previous observation.
    assert_eq!(w.give_visit(&hh(7, 8, 0), &c, 5), [1, 2, 3, 4]);
    assert_eq!(w.give_visit(&hh(8, 8, 0), &c, 5), [5, 6, 7]);
    assert_eq!(w.give_visit(&hh(9, 8, 0), &c, 5), [8, 9, 10]);
    let n = w.next("2026-12-10T08:00", &c);
    assert_eq!(n["action"], "wait");
    // Two weeks later, at the clinic's opening time (not midnight).
    assert_eq!(n["not_before"], "2026-12-23T08:00:00");
    let n = w.next("2026-12-23T08:00", &c);
    assert_eq!(n["action"], "maintenance_due");
    assert_eq!(n["dose"].to_string(), "100000");
    let v: Value =
        serde_json::from_str(&w.ok("2026-12-10T08:00", &["course", "verify", &c, "--json"]))
            .expect("json");
    assert_eq!(
        (
            v["events"].as_u64(),
            v["intact"].as_bool(),
            v["frozen_copies_intact"].as_bool()
        ),
        (Some(20), Some(true), Some(true))
    );
    let show = w.ok("2026-12-10T08:00", &["course", "show", &c]);
    assert!(show.contains("EXAMPLE schedule"), "{show}");
}

#[test]
fn a_large_local_reaction_and_a_grade_1_reaction_mid_day() {
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next(&hh(7, 8, 0), &c, 0);
    w.give_next(&hh(7, 8, 30), &c, 0);
    w.give_next(&hh(7, 9, 0), &c, 60); // 50-100 mm: back one step, at the next visit
    let n = w.next(&hh(7, 9, 30), &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("visit_closed"), Some(2)),
        "{n}"
    );
    assert_eq!(w.give_visit(&hh(8, 8, 0), &c, 0), [2, 3, 4]);
    w.give_next(&hh(9, 8, 0), &c, 0);
    w.ok(
        &hh(9, 8, 45),
        &[
            "react",
            &c,
            "--grade",
            "1z",
            "--onset-min",
            "25",
            "--symptom",
            "rhinitis",
            "--by",
            "RN Li",
            "--at",
            &hh(9, 8, 40),
        ],
    );
    // Step 5 (5 000 SQ-U) reacted: no more today; tomorrow one dose step down, 2 000 (step 4).
    let n = w.next(&hh(9, 11, 0), &c);
    assert_eq!(n["action"], "visit_closed");
    let n = w.next(&hh(10, 8, 0), &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("give"), Some(4))
    );
}

#[test]
fn a_grade_2_reaction_pauses_the_course_and_give_is_refused_without_a_write() {
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next(&hh(7, 8, 0), &c, 0);
    w.give_next(&hh(7, 8, 30), &c, 0);
    w.ok(
        &hh(7, 9, 10),
        &[
            "react",
            &c,
            "--grade",
            "2a",
            "--onset-min",
            "8",
            "--symptom",
            "wheeze",
            "--by",
            "Dr Wang",
        ],
    );
    assert_eq!(w.next(&hh(8, 8, 0), &c)["action"], "physician_review");
    w.fresh(As::Nurse, &hh(8, 8, 0));
    let before = w.bytes();
    let (code, _, err) = w.give(&hh(8, 8, 0), &c, 3, "0.1");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("physician must review"), "{err}");
    assert_eq!(before, w.bytes(), "a refused give changed the database");
    // Wrong step, wrong volume, too early: each refused, nothing written.
    w.ok(
        &hh(8, 7, 50),
        &[
            "review",
            &c,
            "--by",
            "Dr Wang",
            "--decision",
            "step-back:1",
            "--reason",
            "resolved with salbutamol",
        ],
    );
    w.fresh(As::Nurse, &hh(8, 8, 0));
    let before = w.bytes();
    for (step, vol) in [(3, "0.1"), (2, "0.5"), (9, "0.6")] {
        let (code, _, _) = w.give(&hh(8, 8, 0), &c, step, vol);
        assert_eq!(code, Some(1));
    }
    assert_eq!(before, w.bytes());
    let n = w.next(&hh(8, 8, 0), &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("give"), Some(1))
    );
    // A physician's override chooses a lower dose, and is recorded with its reason; a higher
    // one is refused whatever the reason.
    let over = |step: &str, vol: &str| {
        w.run(
            &hh(8, 8, 0),
            &give_args(
                &c,
                "P1",
                step,
                vol,
                &["--by", "Dr Wang", "--override", "half the first dose"],
            ),
        )
    };
    let (code, _, err) = over("2", "0.1");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("only choose a lower dose"), "{err}");
    let (code, out, err) = over("1", "0.05");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("physician's override"), "{out}");
    assert!(
        out.contains("OVERRIDE by Dr Wang: step 1, 0.05 mL = 5 SQ-U instead of the allowed step 1, 0.1 mL = 10 SQ-U"),
        "{out}"
    );
    let log = w.ok(&hh(8, 8, 1), &["course", "log", &c]);
    assert!(log.contains("half the first dose"), "{log}");
}

#[test]
fn a_missed_week_on_the_conventional_schedule() {
    let w = Ward::new();
    w.add_patient(
        "2026-11-01T09:00",
        "P2",
        "Ana",
        "1980-01-01",
        "60",
        "2",
        "410",
    );
    let c = w
        .ok(
            "2026-11-01T09:00",
            &[
                "course",
                "start",
                "--patient",
                "P2",
                "--template",
                "alutard-hdm-conventional-15w",
                "--start",
                "2026-11-02T08:00",
            ],
        )
        .trim()
        .to_string();
    for week in 0..3 {
        let day = 2 + 7 * week;
        let now = format!("2026-11-{day:02}T08:00");
        w.give_next(&now, &c, 0);
    }
    // Last dose on 2026-11-16; next on 2026-12-10 (24 days): Norwegian 2-4 weeks -> repeat step 3.
    let n = w.next("2026-12-10T08:00", &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("give"), Some(3)),
        "{n}"
    );
    // 2027-01-10 (55 days): 6-8 weeks -> back 2 steps (step 1).
    assert_eq!(w.next("2027-01-10T08:00", &c)["step"], 1);
}

#[test]
fn a_physician_stop() {
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next(&hh(7, 8, 0), &c, 0);
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
            "pregnancy",
        ],
    );
    assert_eq!(w.next(&hh(8, 8, 0), &c)["action"], "stopped");
    let list = w.ok(&hh(8, 8, 0), &["course", "list", "--active"]);
    assert!(!list.contains("Zh"), "{list}");
    let (code, _, _) = w.give(&hh(8, 8, 0), &c, 2, "0.1");
    assert_eq!(code, Some(1));
}

#[test]
fn recording_errors() {
    let w = Ward::new();
    let c = w.rush_course();
    let (code, _, err) = w.run(
        &hh(7, 8, 0),
        &give_args(
            &c,
            "P1",
            "1",
            "0.1",
            &["--by", "RN Li", "--at", "2026-12-07T09:00"],
        ),
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("in the future"));
    let (code, _, _) = w.run(
        &hh(7, 8, 0),
        &[
            "react",
            &c,
            "--grade",
            "7a",
            "--onset-min",
            "1",
            "--symptom",
            "x",
            "--by",
            "RN Li",
        ],
    );
    assert_eq!(code, Some(2));
    let (code, _, err) = w.run(&hh(7, 8, 0), &["next", "99"]);
    assert_eq!(code, Some(65), "{err}");
    let (code, _, _) = w.run(
        &hh(7, 8, 0),
        &[
            "patient",
            "add",
            "--id",
            "P1",
            "--name",
            "X",
            "--dob",
            "1990-01-01",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
        ],
    );
    assert_eq!(code, Some(65), "a duplicate patient id is refused");
    // Late entry is flagged.
    let out = w.ok(
        &hh(7, 10, 0),
        &give_args(
            &c,
            "P1",
            "1",
            "0.1",
            &["--by", "RN Li", "--at", "2026-12-07T08:00"],
        ),
    );
    assert!(out.contains("entered late"), "{out}");
    // A course cannot start for a high-risk unpretreated patient (the planner refuses).
    w.add_patient(&hh(1, 9, 0), "K1", "Kid", "2017-03-02", "31", "52", "410");
    let (code, _, err) = w.run(
        &hh(1, 9, 0),
        &[
            "course",
            "start",
            "--patient",
            "K1",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
}

#[test]
fn the_database_is_private() {
    let w = Ward::new();
    w.rush_course();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&w.key_file()), 0o600);
        if !w.on_server() {
            assert_eq!(mode(&w.db), 0o600);
        }
    }
}

fn bin() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("ritplan"))
}

fn note_cmd(w: &Ward, course: &str, who: &str, i: usize) -> Command {
    let mut c = Command::new(bin());
    c.envs(w.record_env())
        .env("RITPLAN_NOW", "2026-12-07T08:00")
        .env("XDG_RUNTIME_DIR", w.sessions(As::Nurse))
        .args(["note", course, "--text", &format!("note {i} from {who}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Four rooms (processes) each record `per` notes at once, room `k` on `courses[k % n]`; then
/// nothing is lost, each course's entries are numbered without a gap, each room's notes are in
/// the order it wrote them on a course (an entry is never split or reordered), and every chain
/// verifies.
fn four_rooms_at_once(w: &Ward, courses: &[String], per: usize) {
    let rooms = ["RN A", "RN B", "RN C", "RN D"];
    w.login(As::Nurse, "2026-12-07T08:00");
    std::thread::scope(|scope| {
        for (k, who) in rooms.iter().enumerate() {
            let c = &courses[k % courses.len()];
            scope.spawn(move || {
                for i in 0..per {
                    let out = note_cmd(w, c, who, i).output().expect("spawn");
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    for (j, c) in courses.iter().enumerate() {
        let log: Value =
            serde_json::from_str(&w.ok("2026-12-07T08:00", &["course", "log", c, "--json"]))
                .expect("json");
        let events = log.as_array().expect("array");
        let mine: Vec<&str> = rooms
            .iter()
            .enumerate()
            .filter(|(k, _)| k % courses.len() == j)
            .map(|(_, r)| *r)
            .collect();
        assert_eq!(events.len(), mine.len() * per, "course {c}: entries lost");
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["seq"].as_u64(), Some(i as u64 + 1), "course {c}: a gap");
        }
        for who in &mine {
            let order: Vec<String> = events
                .iter()
                .filter_map(|e| e["note"]["text"].as_str())
                .filter(|t| t.ends_with(&format!(" from {who}")))
                .map(str::to_string)
                .collect();
            let expected: Vec<String> = (0..per).map(|i| format!("note {i} from {who}")).collect();
            assert_eq!(
                order, expected,
                "course {c}: {who}'s notes lost or out of order"
            );
        }
        w.ok("2026-12-07T08:00", &["course", "verify", c]);
    }
    let (code, out, err) = w.run("2026-12-07T08:00", &["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

/// The first course and three more patients' courses on the 3-day rush.
fn four_courses(w: &Ward) -> Vec<String> {
    let mut courses = vec![w.rush_course()];
    for p in ["P2", "P3", "P4"] {
        w.add_patient(
            "2026-12-01T09:00",
            p,
            &format!("Patient {p}"),
            "1985-03-03",
            "70",
            "2",
            "400",
        );
        courses.push(w.start(
            "2026-12-01T09:00",
            p,
            "example-hdm-rush-3d",
            "2026-12-07T08:00",
            &[],
        ));
    }
    courses
}

#[test]
fn several_nurses_recording_at_once_lose_nothing() {
    let w = Ward::new();
    four_rooms_at_once(&w, &four_courses(&w), 10);
    let w = Ward::new();
    let c = w.rush_course();
    four_rooms_at_once(&w, std::slice::from_ref(&c), 15);
    w.ok("2026-12-07T08:00", &["course", "verify", &c]);
    // Two nurses giving the same dose at the same moment: exactly one is recorded.
    let gives: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = Command::new(bin());
            cmd.envs(w.record_env())
                .env("RITPLAN_NOW", "2026-12-07T08:00")
                .env("XDG_RUNTIME_DIR", w.sessions(As::Nurse))
                .args(give_args(&c, "P1", "1", "0.1", &[]))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd.spawn().expect("spawn")
        })
        .collect();
    let codes: Vec<i32> = gives
        .into_iter()
        .map(|mut g| g.wait().expect("wait").code().unwrap_or(-1))
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 1).count(), 1, "{codes:?}");
}

/// The issue's figure: four rooms × 500 entries, on one course and on four (run by `.ci/run`
/// with `--ignored`, against each backend).
#[test]
#[ignore = "2 × 2 000 processes: run with --ignored (CI does, on each backend)"]
fn four_rooms_recording_500_entries_each_lose_nothing() {
    let w = Ward::new();
    let c = w.rush_course();
    four_rooms_at_once(&w, std::slice::from_ref(&c), 500);
    let w = Ward::new();
    four_rooms_at_once(&w, &four_courses(&w), 500);
}

#[test]
fn a_process_killed_mid_write_leaves_a_sound_database() {
    let w = Ward::new();
    let c = w.rush_course();
    w.login(As::Nurse, "2026-12-07T08:00");
    // Kill recording processes at staggered moments, from before they open the database to
    // after they commit.
    for i in 0..40u64 {
        let mut child = note_cmd(&w, &c, "RN K", i as usize).spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_micros((i * 397) % 6000));
        let _ = child.kill();
        let _ = child.wait();
    }
    let v: Value =
        serde_json::from_str(&w.ok("2026-12-07T08:00", &["course", "verify", &c, "--json"]))
            .expect("json");
    assert_eq!(v["intact"], true, "{v}");
    let log: Value =
        serde_json::from_str(&w.ok("2026-12-07T08:00", &["course", "log", &c, "--json"]))
            .expect("json");
    let events = log.as_array().expect("array");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"].as_u64(), Some(i as u64 + 1), "gap or duplicate");
    }
    // And it still takes records.
    w.ok(
        "2026-12-07T08:00",
        &["note", &c, "--text", "after the crashes", "--by", "RN K"],
    );
}

#[test]
fn the_daily_sheet_lists_doses_in_time_order_and_do_not_give_rows_first() {
    let w = Ward::new();
    let c1 = w.rush_course();
    w.add_patient(
        "2026-12-01T09:00",
        "P2",
        "Ana Souza",
        "1985-01-01",
        "80",
        "1.5",
        "300",
    );
    let c2 = w
        .ok(
            "2026-12-01T09:00",
            &[
                "course",
                "start",
                "--patient",
                "P2",
                "--template",
                "example-hdm-rush-3d",
                "--start",
                "2026-12-07T09:00",
            ],
        )
        .trim()
        .to_string();
    w.give_next(&hh(7, 9, 0), &c2, 0);
    w.ok(
        &hh(7, 9, 40),
        &[
            "react",
            &c2,
            "--grade",
            "2b",
            "--onset-min",
            "35",
            "--symptom",
            "wheeze",
            "--by",
            "Dr Wang",
        ],
    );
    // Patient 1 did not come on the 7th: on the 8th the sheet starts their course.
    let v: Value =
        serde_json::from_str(&w.ok(&hh(8, 7, 0), &["sheet", "--date", "2026-12-08", "--json"]))
            .expect("json");
    let rows = v.as_array().expect("rows");
    assert_eq!(rows[0]["action"], "physician_review");
    assert_eq!(rows[0]["course"].as_i64(), c2.parse().ok());
    let times: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r["time"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(times, ["08:00", "08:30", "09:00", "09:30"]);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r["course"].as_i64() == c1.parse().ok())
    );
    assert_eq!(rows[1]["dose"].to_string(), "10");
    let text = w.ok(&hh(8, 7, 0), &["sheet", "--date", "2026-12-08"]);
    assert!(text.contains("DO NOT GIVE — physician review"), "{text}");
    assert!(
        text.contains(&format!("Zhāng Wěi (P1, course {c1})")),
        "{text}"
    );
    // Nothing is due on a Saturday.
    let v: Value =
        serde_json::from_str(&w.ok(&hh(8, 7, 0), &["sheet", "--date", "2026-12-12", "--json"]))
            .expect("json");
    assert_eq!(
        v.as_array().map(|a| a
            .iter()
            .filter(|r| r["action"] != "physician_review")
            .count()),
        Some(0)
    );
}

/// The vial code of each of `date`'s dose rows of the sheet made at `now`, by the template's
/// vial: (vial, code or null).
fn sheet_vial_codes(w: &Ward, now: &str, date: &str) -> Vec<(String, Value)> {
    let v: Value =
        serde_json::from_str(&w.ok(now, &["sheet", "--date", date, "--json"])).expect("json");
    v.as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["dose"].is_number())
        .map(|r| {
            (
                r["vial"].as_str().unwrap_or_default().to_string(),
                r["vial_code"].clone(),
            )
        })
        .collect()
}

#[test]
fn the_daily_sheet_prints_the_vial_code_of_each_row_or_no_vial() {
    let w = Ward::new();
    let c = w.rush_course();
    let before = hh(7, 7, 0);
    let rows = sheet_vial_codes(&w, &before, "2026-12-07");
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(rows.iter().all(|(_, code)| code.is_null()), "{rows:?}");
    // The nurse sees it on each dose row.
    let text = w.ok(&before, &["sheet", "--date", "2026-12-07"]);
    let dose_lines = text.lines().filter(|l| l.contains("SQ-U/mL")).count();
    assert_eq!(dose_lines, rows.len(), "{text}");
    assert_eq!(text.matches("no vial").count(), rows.len(), "{text}");
    let add = |vial: &str, expires: &str| {
        w.ok(
            &before,
            &[
                "vial",
                "add",
                &c,
                "--vial",
                vial,
                "--lot",
                "L1",
                "--expires",
                expires,
            ],
        )
    };
    add("1", "2027-03-31"); // V000001
    add("2", "2027-03-31"); // V000002
    add("2", "2027-03-31"); // V000003, the newest of vial 2
    add("3", "2026-12-07"); // V000004, expired from the 8th
    let expected = |vial: &str, discarded_3: bool| match vial {
        "1" => Value::from("V000001"),
        "2" if discarded_3 => Value::from("V000002"),
        "2" => Value::from("V000003"),
        _ => Value::Null,
    };
    let rows = sheet_vial_codes(&w, &before, "2026-12-07");
    let vials: Vec<&str> = rows.iter().map(|(v, _)| v.as_str()).collect();
    assert!(vials.contains(&"1") && vials.contains(&"2"), "{vials:?}");
    for (vial, code) in &rows {
        let want = if vial == "3" {
            Value::from("V000004")
        } else {
            expected(vial, false)
        };
        assert_eq!(code, &want, "vial {vial}: {rows:?}");
    }
    let text = w.ok(&before, &["sheet", "--date", "2026-12-07"]);
    assert!(
        text.contains("V000001") && text.contains("V000003"),
        "{text}"
    );
    assert!(!text.contains("V000002"), "{text}");
    // A discarded vial is not drawn from; an expired one neither, the day after.
    w.ok(
        &before,
        &["vial", "discard", "V000003", "--reason", "cloudy"],
    );
    for (vial, code) in sheet_vial_codes(&w, &before, "2026-12-08") {
        assert_eq!(code, expected(&vial, true), "vial {vial} on the 8th");
    }
    let pdf = w.file("sheet.pdf");
    w.ok(
        &before,
        &[
            "sheet",
            "--date",
            "2026-12-07",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    let text = ritplan::render::pdf::extract_text(&std::fs::read(&pdf).expect("pdf"))
        .expect("parse")
        .concat()
        .join("\n");
    assert!(text.contains("vial code"), "{text}");
    assert!(
        text.contains("V000001") && text.contains("V000002"),
        "{text}"
    );
    assert!(!text.contains("V000003"), "{text}");
}

#[test]
fn the_daily_sheet_as_pdf() {
    let w = Ward::new();
    let _c1 = w.rush_course();
    w.add_patient(
        "2026-12-01T09:00",
        "P2",
        "José Núñez",
        "1985-01-01",
        "80",
        "1.5",
        "300",
    );
    let c2 = w
        .ok(
            "2026-12-01T09:00",
            &[
                "course",
                "start",
                "--patient",
                "P2",
                "--template",
                "example-hdm-rush-3d",
                "--start",
                "2026-12-07T09:00",
            ],
        )
        .trim()
        .to_string();
    w.give_next(&hh(7, 9, 0), &c2, 0);
    w.ok(
        &hh(7, 9, 40),
        &[
            "react",
            &c2,
            "--grade",
            "2b",
            "--onset-min",
            "35",
            "--symptom",
            "wheeze",
            "--by",
            "Dr Wang",
        ],
    );
    let pdf = w.file("sheet.pdf");
    w.ok(
        &hh(8, 7, 0),
        &[
            "sheet",
            "--date",
            "2026-12-08",
            "--pdf",
            pdf.to_str().unwrap(),
        ],
    );
    let pages =
        ritplan::render::pdf::extract_text(&std::fs::read(&pdf).expect("pdf")).expect("parse");
    let text = pages.concat().join("\n");
    assert!(text.contains("DO NOT GIVE"), "{text}");
    assert!(text.contains("José Núñez"), "{text}");
    assert!(
        text.contains("Zhāng Wěi") && text.contains("(P1, course"),
        "{text}"
    );
    assert!(
        text.contains("10 SQ-U") && text.contains("2 000 SQ-U"),
        "{text}"
    );
    assert!(text.contains("Page 1 of"), "{text}");
    assert!(
        text.contains("Made 2026-12-08 07:00 from the record"),
        "the time the sheet was made: {text}"
    );
    // DO NOT GIVE is one banner across the table: the patient and the words on one line.
    assert!(
        text.lines()
            .any(|l| l.contains("DO NOT GIVE") && l.contains("José Núñez (P2, course")),
        "{text}"
    );
    for page in &pages {
        assert!(
            page.join("\n")
                .contains("TRAINING RECORD, not a patient's record"),
            "every page of a training record's sheet says so"
        );
    }
    assert_pages_not_blank(&pdf);
    // A name no font can print: refused, naming the character, and no file written.
    w.add_patient(
        "2026-12-01T09:00",
        "P3",
        "王芳",
        "1985-01-01",
        "60",
        "1.5",
        "300",
    );
    w.ok(
        "2026-12-01T09:00",
        &[
            "course",
            "start",
            "--patient",
            "P3",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07T09:00",
        ],
    );
    let other = w.file("other.pdf");
    let (code, _, err) = w.run(
        &hh(8, 7, 0),
        &[
            "sheet",
            "--date",
            "2026-12-08",
            "--pdf",
            other.to_str().unwrap(),
            "--font",
            "/nonexistent/font.ttf",
        ],
    );
    assert_eq!(code, Some(74), "{err}");
    // A font that lacks the characters (the bundled DejaVu Sans): refused, naming the first.
    let latin = crate::root().join("assets/fonts/DejaVuSans.ttf");
    let (code, _, err) = w.run(
        &hh(8, 7, 0),
        &[
            "sheet",
            "--date",
            "2026-12-08",
            "--pdf",
            other.to_str().unwrap(),
            "--font",
            latin.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("'王'"), "{err}");
    assert!(!other.exists());
}

/// Renders every page with poppler's `pdftoppm` (grey, 20 dpi) and checks that each has ink
/// (skipped, saying so, where poppler is not installed; a failure under RITPLAN_TEST_STRICT).
fn assert_pages_not_blank(pdf: &Path) {
    if !crate::needs::needs_tool("pdftoppm", "poppler-utils") {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let status = std::process::Command::new("pdftoppm")
        .args(["-gray", "-r", "20"])
        .arg(pdf)
        .arg(dir.path().join("page"))
        .status()
        .expect("run pdftoppm");
    assert!(status.success());
    let mut pages = 0;
    for e in std::fs::read_dir(dir.path()).expect("pages") {
        let bytes = std::fs::read(e.expect("entry").path()).expect("pgm");
        // P5: "P5\nW H\n255\n" then one byte per pixel.
        let header_end = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(2)
            .map(|(i, _)| i + 1)
            .expect("a PGM header");
        assert!(bytes.starts_with(b"P5"));
        let ink = bytes[header_end..].iter().filter(|p| **p < 128).count();
        assert!(ink > 200, "page {} is blank ({ink} dark pixels)", pages + 1);
        pages += 1;
    }
    assert!(pages >= 1);
}

fn pdf_text(path: &Path) -> Vec<String> {
    ritplan::render::pdf::extract_text(&std::fs::read(path).expect("pdf"))
        .expect("parse")
        .into_iter()
        .map(|page| page.join("\n"))
        .collect()
}

#[test]
fn the_protocol_of_a_course_with_reactions() {
    let w = Ward::new();
    w.add_patient(
        "2026-12-01T09:00",
        "K7",
        "Emma Dubois",
        "2017-03-02",
        "31",
        "52",
        "410",
    );
    let c = w
        .ok(
            "2026-12-01T09:00",
            &[
                "course",
                "start",
                "--patient",
                "K7",
                "--template",
                "example-hdm-rush-3d",
                "--start",
                "2026-12-07T08:00",
                "--accept-risk",
                "Parents declined omalizumab",
            ],
        )
        .trim()
        .to_string();
    w.give_next(&hh(7, 8, 0), &c, 60);
    w.ok(
        &hh(7, 9, 5),
        &[
            "react",
            &c,
            "--grade",
            "1z",
            "--onset-min",
            "50",
            "--symptom",
            "urticaria",
            "--by",
            "Dr Wang",
        ],
    );
    let pdf = w.file("protocol.pdf");
    w.ok(
        &hh(7, 12, 0),
        &["course", "pdf", &c, "--out", pdf.to_str().unwrap()],
    );
    let pages = pdf_text(&pdf);
    let again = w.file("protocol-again.pdf");
    w.ok(
        &hh(7, 12, 0),
        &["course", "pdf", &c, "--out", again.to_str().unwrap()],
    );
    assert_eq!(
        pages,
        pdf_text(&again),
        "the same inputs must give the same text"
    );
    let n = pages.len();
    assert!(n >= 3, "{n} pages");
    for (i, p) in pages.iter().enumerate() {
        assert!(
            p.contains("TRAINING RECORD, not a patient's record"),
            "page {i} of a training record's protocol says so"
        );
        assert!(
            p.contains("Emma Dubois")
                && p.contains("K7")
                && p.contains("2017-03-02")
                && p.contains("31 kg"),
            "identity on page {}",
            i + 1
        );
        assert!(
            p.contains(&format!("Page {} of {n}", i + 1)),
            "numbering on page {}",
            i + 1
        );
        assert!(
            p.contains("ritplan 0.1.0 · template and rules "),
            "footer on page {}",
            i + 1
        );
    }
    let all = pages.join("\n");
    for needle in [
        "RISK ACCEPTED BY THE PHYSICIAN",
        "Parents declined omalizumab",
        "EXAMPLE schedule",
        "evidence example [I]",
        "Risk stratum HIGH",
        "0.31 mg",
        "Physician: name, signature, date",
        "60",
        "1z",
        // The inputs the plan was checked against, and the reactions in words.
        "Checked against: FEV1 95 % predicted · asthma controlled · beta-blocker no",
        "Reactions, reviews and deferrals",
        "local reaction 60 mm",
        "systemic reaction WAO grade 1z: urticaria, 50 min after the injection",
    ] {
        assert!(all.contains(needle), "{needle:?} missing");
    }
    assert_pages_not_blank(&pdf);
    // Every planned step's dose and volume is printed.
    let plan: Value = serde_json::from_str(&w.ok(&hh(7, 12, 0), &["course", "show", &c, "--json"]))
        .expect("json");
    for s in plan["plan"]["steps"].as_array().expect("steps") {
        let dose = s["dose"].to_string();
        let grouped = dose
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(all.contains(&format!("{grouped} SQ-U")), "dose {grouped}");
        assert!(
            all.contains(&format!("{} mL", s["volume_ml"])),
            "volume {}",
            s["volume_ml"]
        );
    }
}

#[test]
fn a_plan_protocol_on_letter_paper_and_a_chinese_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let pdf = dir.path().join("plan.pdf");
    let base = [
        "plan",
        "--template",
        "alutard-hdm-cluster-7w",
        "--start",
        "2026-12-07",
        "--age",
        "34",
        "--weight",
        "70",
        "--sige",
        "2",
        "--total-ige",
        "410",
        "--fev1",
        "95",
        "--asthma",
        "controlled",
        "--id",
        "C-88",
        "--paper",
        "letter",
    ];
    // Without a font that has the characters: refused, naming the first one, and no file.
    let latin = crate::root().join("assets/fonts/DejaVuSans.ttf");
    let out = ritplan()
        .args(base)
        .args(["--name", "张伟", "--pdf", pdf.to_str().unwrap(), "--font"])
        .arg(&latin)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("'张'"));
    assert!(!pdf.exists());
    // With a CJK font the name prints: given with --font, and found where such fonts are
    // installed (`.ci/run` installs fonts-wqy-microhei; skipped where there is none).
    let Some(cjk) = crate::needs::needs_file(
        ritplan::render::pdf::CJK_FONTS,
        "CJK font (Debian: fonts-wqy-microhei or fonts-noto-cjk)",
    ) else {
        return;
    };
    for font in [Some(cjk), None] {
        std::fs::remove_file(&pdf).ok();
        let mut cmd = ritplan();
        cmd.args(base)
            .args(["--name", "张伟", "--pdf", pdf.to_str().unwrap()]);
        if let Some(f) = font {
            cmd.arg("--font").arg(f);
        }
        let out = cmd.output().expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{font:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pages = pdf_text(&pdf);
        assert!(
            pages
                .iter()
                .all(|p| p.contains("张伟") && p.contains("C-88")),
            "{font:?}: {pages:?}"
        );
        assert!(pages[0].contains("evidence label [C-partial]"));
        assert!(
            pages.concat().contains(
                "Checked against: FEV1 95 % predicted · asthma controlled · beta-blocker no"
            ),
            "a plan's protocol names the inputs it was checked against"
        );
    }
}

#[test]
fn several_protocols_print_into_one_file_each_on_its_own_pages() {
    let w = Ward::new();
    let c1 = w.rush_course();
    w.add_patient(
        "2026-12-01T09:00",
        "P2",
        "Ana Souza",
        "1985-01-01",
        "70",
        "2",
        "410",
    );
    let c2 = w.start(
        "2026-12-01T09:00",
        "P2",
        "example-hdm-rush-3d",
        "2026-12-07T08:00",
        &[],
    );
    let pdf = w.file("ward.pdf");
    let out = pdf.to_str().expect("path");
    w.ok(&hh(7, 7, 0), &["course", "pdf", &c1, &c2, "--out", out]);
    let pages = pdf_text(&pdf);
    let first: Vec<&String> = pages.iter().filter(|p| p.contains("ID P1 ·")).collect();
    let second: Vec<&String> = pages.iter().filter(|p| p.contains("ID P2 ·")).collect();
    assert!(!first.is_empty() && !second.is_empty());
    assert_eq!(
        first.len() + second.len(),
        pages.len(),
        "one patient per page"
    );
    assert!(pages[0].contains("ID P1 ·") && pages[pages.len() - 1].contains("ID P2 ·"));
    let n = second.len();
    assert!(
        second[0].contains(&format!("Page 1 of {n}")),
        "each protocol numbers its pages"
    );
    // --all-active: the same two.
    w.ok(
        &hh(7, 7, 0),
        &["course", "pdf", "--all-active", "--out", out],
    );
    assert_eq!(pdf_text(&pdf).len(), pages.len());
    assert_pages_not_blank(&pdf);
}

/// Rows of the record's `frozen` table (each distinct frozen text, kept once), on either backend.
fn kept_texts(w: &Ward) -> i64 {
    let sql = "SELECT count(*) FROM frozen";
    if w.on_server() {
        let mut c =
            postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls).expect("connect");
        return c.query_one(sql, &[]).expect(sql).get(0);
    }
    rusqlite::Connection::open(&w.db)
        .expect("open")
        .query_row(sql, [], |r| r.get(0))
        .expect(sql)
}

#[test]
fn courses_started_at_once_under_new_rules_keep_each_text_once_and_verify() {
    // Four workstations start the record's first four courses at the same moment: each keeps
    // the same new template and rules texts, and none may fail for it (on a server, the course
    // ids' lock orders them: the first keeps the texts, the others find them kept).
    let w = Ward::new();
    for p in ["P1", "P2", "P3", "P4"] {
        w.add_patient(
            "2026-12-01T09:00",
            p,
            &format!("Patient {p}"),
            "1985-03-03",
            "70",
            "2",
            "400",
        );
    }
    w.login(As::Nurse, "2026-12-01T09:00");
    std::thread::scope(|scope| {
        for p in ["P1", "P2", "P3", "P4"] {
            let w = &w;
            scope.spawn(move || {
                let out = Command::new(bin())
                    .envs(w.record_env())
                    .env("RITPLAN_NOW", "2026-12-01T09:00")
                    .env("XDG_RUNTIME_DIR", w.sessions(As::Nurse))
                    .args([
                        "course",
                        "start",
                        "--patient",
                        p,
                        "--template",
                        "example-hdm-rush-3d",
                        "--start",
                        "2026-12-07T08:00",
                    ])
                    .output()
                    .expect("spawn");
                assert!(
                    out.status.success(),
                    "{p}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            });
        }
    });
    // One template text and one rules text, whatever the order.
    assert_eq!(kept_texts(&w), 2);
    let (code, out, err) = w.run("2026-12-01T09:00", &["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("4 courses"), "{out}");
}
