//! Omalizumab courses on the ward's board and the daily sheet, through the real binary: beside
//! the same patient's immunotherapy course, each row read from the course's own decision (the
//! one `next` shows), held after an anaphylaxis on omalizumab.

use serde_json::Value;

use crate::ward::{As, Ward};

/// P1 on the 3-day rush from 2026-12-07 08:00 (course 1) and on omalizumab from 2026-12-07
/// (course 2: 600 mg every 4 weeks, 4 × 150 mg).
fn both(w: &Ward) -> (String, String) {
    let rush = w.rush_course();
    let (code, out, err) = w.run_as(
        As::Physician,
        "2026-12-01T09:00",
        &[
            "omalizumab",
            "start",
            "--patient",
            "P1",
            "--start",
            "2026-12-07",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let om = out.lines().next().expect("id").trim().to_string();
    (rush, om)
}

fn om_give(w: &Ward, who: As, now: &str, course: &str, extra: &[&str]) {
    let mut args = vec!["omalizumab", "give", course, "--patient", "P1"];
    args.extend_from_slice(extra);
    let (code, _, err) = w.run_as(who, now, &args);
    assert_eq!(code, Some(0), "{err}");
}

fn board(w: &Ward, now: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&w.ok(now, &["board", "--json"])).expect("json");
    v.as_array().expect("rows").clone()
}

/// Whether a board row or a sheet line is course `course`'s.
fn is(r: &Value, course: &str) -> bool {
    r["course"].as_i64().is_some() && r["course"].as_i64() == course.parse::<i64>().ok()
}

fn row<'a>(rows: &'a [Value], course: &str) -> &'a Value {
    rows.iter()
        .find(|r| is(r, course))
        .unwrap_or_else(|| panic!("course {course} not on {rows:?}"))
}

fn sheet(w: &Ward, now: &str, date: &str) -> Vec<Value> {
    let v: Value =
        serde_json::from_str(&w.ok(now, &["sheet", "--date", date, "--json"])).expect("json");
    v.as_array().expect("lines").clone()
}

const NOTE: &str = "dose is not recalculated from IgE measured during treatment";

#[test]
fn the_board_and_the_sheet_list_an_omalizumab_course_beside_the_rush_and_hold_both_after_anaphylaxis()
 {
    let w = Ward::new();
    let (rush, om) = both(&w);
    // Before the day: the omalizumab injection is not on the board, nor on the sheet.
    let b = board(&w, "2026-12-06T09:00");
    assert!(b.iter().all(|r| !is(r, &om)), "{b:?}");
    assert!(
        sheet(&w, "2026-12-06T09:00", "2026-12-06")
            .iter()
            .all(|l| l.get("omalizumab").is_none())
    );
    // On the day, at 07:00: the injection is due now, the rush's first dose at 08:00.
    let b = board(&w, "2026-12-07T07:00");
    let r = row(&b, &om);
    assert_eq!(r["status"], "due_now", "{r}");
    assert_eq!(r["kind"], "omalizumab", "{r}");
    assert_eq!(r["given"], 0, "{r}");
    assert_eq!(r["next"]["action"], "injection", "{r}");
    assert_eq!(r["next"]["number"], 1, "{r}");
    assert_eq!(r["next"]["dose_mg"], 600, "{r}");
    assert_eq!(r["next"]["observation_min"], 120, "{r}");
    assert_eq!(
        r["template"], "omalizumab (EU label, 600 mg every 4 weeks)",
        "{r}"
    );
    assert_eq!(
        r["text"],
        "omalizumab 600 mg (4 × 150 mg) injection 1, due 2026-12-07; observe 120 min after it",
        "{r}"
    );
    // The same decision `next` shows.
    let n: Value =
        serde_json::from_str(&w.ok("2026-12-07T07:00", &["next", &om, "--json"])).expect("json");
    assert_eq!(n["due"], r["next"]["due"], "{n}");
    assert_eq!(n["action"], r["next"]["action"], "{n}");
    let rr = row(&b, &rush);
    assert_eq!(rr["status"], "waiting", "{rr}");
    assert!(rr.get("kind").is_none(), "{rr}");
    let text = w.ok("2026-12-07T07:00", &["board"]);
    assert!(
        text.contains("omalizumab 600 mg (4 × 150 mg) injection 1"),
        "{text}"
    );
    assert_eq!(text.matches(NOTE).count(), 1, "{text}");
    // The sheet: the injection is a row of its own, not an allergen dose.
    let s = sheet(&w, "2026-12-07T07:00", "2026-12-07");
    let o: Vec<&Value> = s.iter().filter(|l| is(l, &om)).collect();
    assert_eq!(o.len(), 1, "{s:?}");
    assert_eq!(o[0]["omalizumab"]["injection"]["number"], 1, "{o:?}");
    assert_eq!(o[0]["observation_min"], 120, "{o:?}");
    assert!(o[0]["vial_code"].is_null(), "{o:?}");
    assert!(o[0].get("vial").is_none(), "{o:?}");
    assert!(s.iter().any(|l| is(l, &rush) && l["step"] == 1), "{s:?}");
    let text = w.ok("2026-12-07T07:00", &["sheet", "--date", "2026-12-07"]);
    insta::assert_snapshot!("sheet_omalizumab_due", text);
    assert_eq!(text.matches(NOTE).count(), 1, "{text}");
    // Given at 07:00: under observation until 09:00 (2 h, the first of 3).
    om_give(
        &w,
        As::Nurse,
        "2026-12-07T07:00",
        &om,
        &["--site", "both arms"],
    );
    let r = row(&board(&w, "2026-12-07T07:30"), &om).clone();
    assert_eq!(r["status"], "in_observation", "{r}");
    assert_eq!(r["at"], "2026-12-07T09:00:00", "{r}");
    assert_eq!(r["given"], 1, "{r}");
    // An anaphylaxis at 07:40: both courses DO NOT GIVE, on the board and on the sheet.
    w.ok(
        "2026-12-07T07:40",
        &[
            "react",
            &om,
            "--grade",
            "3b",
            "--onset-min",
            "35",
            "--symptom",
            "wheeze and hypotension",
            "--treatment",
            "epinephrine 0.5 mg",
        ],
    );
    let b = board(&w, "2026-12-07T08:00");
    assert_eq!(row(&b, &om)["status"], "do_not_give", "{b:?}");
    assert_eq!(row(&b, &om)["next"]["action"], "do_not_give", "{b:?}");
    assert_eq!(row(&b, &rush)["status"], "do_not_give", "{b:?}");
    assert_eq!(row(&b, &rush)["next"]["held_by"].to_string(), om, "{b:?}");
    insta::assert_snapshot!(
        "board_omalizumab_held",
        w.ok("2026-12-07T08:00", &["board"])
    );
    let text = w.ok("2026-12-07T08:00", &["sheet", "--date", "2026-12-07"]);
    insta::assert_snapshot!("sheet_omalizumab_held", text);
    assert!(
        text.contains("omalizumab: DO NOT GIVE — physician review"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "DO NOT GIVE — course {om} of this patient awaits a physician"
        )),
        "{text}"
    );
    // The physician lets it go on: the omalizumab course is done for today.
    w.ok(
        "2026-12-07T09:00",
        &[
            "review",
            &om,
            "--decision",
            "continue",
            "--reason",
            "premedicate; observe longer",
        ],
    );
    let b = board(&w, "2026-12-07T09:05");
    assert_eq!(row(&b, &om)["status"], "done_today", "{b:?}");
    assert!(
        b.iter()
            .all(|r| !is(r, &rush) || r["status"] != "do_not_give"),
        "{b:?}"
    );
    // The next day it is no longer listed (next injection 2027-01-04).
    let b = board(&w, "2026-12-08T09:00");
    assert!(b.iter().all(|r| !is(r, &om)), "{b:?}");
}

#[test]
fn a_late_omalizumab_injection_is_flagged_on_the_board_and_the_sheet() {
    let w = Ward::new();
    let (_, om) = both(&w);
    om_give(&w, As::Nurse, "2026-12-07T09:00", &om, &[]);
    // The observation's 2 h are over and its end is not recorded: overdue.
    let r = row(&board(&w, "2026-12-07T11:10"), &om).clone();
    assert_eq!(r["status"], "observation_overdue", "{r}");
    assert_eq!(r["at"], "2026-12-07T11:00:00", "{r}");
    let text = w.ok("2026-12-08T07:00", &["sheet", "--date", "2026-12-08"]);
    assert!(
        text.contains("omalizumab: OBSERVATION NOT CLOSED (since 11:00)"),
        "{text}"
    );
    w.ok("2026-12-07T11:10", &["observe", &om, "--local-mm", "0"]);
    // Injection 2 is due 2027-01-04: not on the sheet the day before, on it that day.
    let on = |date: &str| {
        sheet(&w, "2026-12-08T07:00", date)
            .into_iter()
            .filter(|l| is(l, &om))
            .count()
    };
    assert_eq!(on("2027-01-03"), 0);
    assert_eq!(on("2027-01-04"), 1);
    // Two days past it: LATE, only a physician gives it.
    let r = row(&board(&w, "2027-01-06T09:00"), &om).clone();
    assert_eq!(r["status"], "due_now", "{r}");
    assert_eq!(r["next"]["late"]["days"], 2, "{r}");
    assert!(
        r["text"]
            .as_str()
            .is_some_and(|t| t.contains("LATE by 2 days: only a physician gives it")),
        "{r}"
    );
    let text = w.ok("2027-01-06T09:00", &["sheet", "--date", "2027-01-06"]);
    assert!(
        text.contains("omalizumab 600 mg (4 × 150 mg) — LATE by 2 days"),
        "{text}"
    );
    // And on paper.
    let pdf = w.file("late.pdf");
    let pdf_s = pdf.to_string_lossy().into_owned();
    w.ok(
        "2027-01-06T09:00",
        &["sheet", "--date", "2027-01-06", "--out", &pdf_s],
    );
    // (The cell wraps: its words one line after the other.)
    let text = pdf_text(&pdf)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("LATE by 2 days: only a physician gives it, with a reason"),
        "{text}"
    );
}

/// A PDF's text (the library's extraction), pages joined.
fn pdf_text(pdf: &std::path::Path) -> String {
    ritplan::render::pdf::extract_text(&std::fs::read(pdf).expect("pdf"))
        .expect("parse")
        .into_iter()
        .map(|page| page.join("\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_sheet_pdf_prints_the_omalizumab_row() {
    let w = Ward::new();
    let (_, om) = both(&w);
    let pdf = w.file("sheet.pdf");
    let pdf_s = pdf.to_string_lossy().into_owned();
    w.ok(
        "2026-12-07T07:00",
        &["sheet", "--date", "2026-12-07", "--out", &pdf_s],
    );
    let bytes = std::fs::read(&pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF"), "{om}");
    let text = ritplan::render::pdf::extract_text(&bytes)
        .expect("parse")
        .into_iter()
        .map(|page| page.join("\n"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("inj. 1"), "{text}");
    assert!(text.contains("omalizumab"), "{text}");
    assert!(text.contains("600 mg"), "{text}");
    assert_eq!(
        text.matches("not recalculated from IgE").count(),
        1,
        "{text}"
    );
}
