//! Omalizumab courses through the real binary: started by a physician from the patient's
//! record, frozen and verified like an immunotherapy course, and kept apart from the
//! immunotherapy paths.

use serde_json::Value;

use crate::ward::{As, Ward};

const NOW: &str = "2026-12-01T09:00";

fn start(w: &Ward, who: As, patient: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec![
        "omalizumab",
        "start",
        "--patient",
        patient,
        "--start",
        "2026-12-07",
    ];
    args.extend_from_slice(extra);
    w.run_as(who, NOW, &args)
}

#[test]
fn a_physician_starts_an_omalizumab_course_from_the_record_and_it_verifies() {
    let w = Ward::new();
    let rush = w.rush_course();
    // A nurse may not start a treatment.
    let (code, _, err) = start(&w, As::Nurse, "P1", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("physician"), "{err}");
    // P1: total IgE 410 IU/mL, 70 kg, 36 years: the EU table's 600 mg every 4 weeks.
    let (code, out, err) = start(&w, As::Physician, "P1", &[]);
    assert_eq!(code, Some(0), "{err}");
    let mut lines = out.lines();
    let course = lines.next().expect("id").trim().to_string();
    assert_eq!(course, "2");
    assert!(out.contains("Dose: 600 mg every 4 weeks"), "{out}");
    assert!(out.contains("syringes: 4 × 150 mg"), "{out}");
    assert!(
        out.contains("First injections: 2026-12-07, 2027-01-04, 2027-02-01, 2027-03-01 (13 in the first 52 weeks)"),
        "{out}"
    );
    assert!(
        out.contains("not recalculated from IgE measured during treatment"),
        "{out}"
    );
    // Shown and verified as any course: the frozen plan reproduces.
    let show: Value =
        serde_json::from_str(&w.ok(NOW, &["course", "show", &course, "--json"])).expect("json");
    assert_eq!(show["kind"], "omalizumab");
    assert_eq!(show["plan"]["dose_mg"], 600);
    assert_eq!(show["plan"]["every_weeks"], 4);
    assert_eq!(show["course"]["template_id"], "omalizumab-eu");
    let text = w.ok(NOW, &["course", "show", &course]);
    assert!(text.contains("Omalizumab course 2"), "{text}");
    let v: Value =
        serde_json::from_str(&w.ok(NOW, &["course", "verify", &course, "--json"])).expect("json");
    assert_eq!(v["frozen_copies_intact"], true, "{v}");
    // The immunotherapy paths read on as before.
    assert_eq!(w.next("2026-12-07T08:00", &rush)["action"], "give");
    let list = w.ok(NOW, &["course", "list", "--json"]);
    let list: Value = serde_json::from_str(&list).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    w.ok("2026-12-07T08:00", &["board"]);
    w.ok("2026-12-07T08:00", &["sheet", "--date", "2026-12-07"]);
    // Not two omalizumab courses for one patient.
    let (code, _, err) = start(&w, As::Physician, "P1", &["--label", "us"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("already has omalizumab course 2"), "{err}");
}

#[test]
fn an_omalizumab_course_is_refused_naming_the_value_off_the_table() {
    let w = Ward::new();
    w.add_patient(NOW, "P2", "Li Na", "1980-01-01", "70", "2", "2000");
    let (code, _, err) = start(&w, As::Physician, "P2", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("total IgE 2000 IU/mL is outside the table"),
        "{err}"
    );
    // A disputed cell (EU: 500-600 IU/mL at 80-90 kg) is not used.
    w.add_patient(NOW, "P3", "Wang Fang", "1980-01-01", "85", "2", "550");
    let (code, _, err) = start(&w, As::Physician, "P3", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("disputed"), "{err}");
    // Nothing was started.
    let list: Value =
        serde_json::from_str(&w.ok(NOW, &["course", "list", "--json"])).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
}

#[test]
fn the_calculator_keeps_its_flags() {
    let w = Ward::new();
    let out = w.ok(
        NOW,
        &[
            "omalizumab",
            "--total-ige",
            "410",
            "--weight",
            "31",
            "--age",
            "9",
        ],
    );
    assert!(out.contains("Dose: 450 mg every 4 weeks"), "{out}");
}

/// P1 (the rush patient) with an omalizumab course from 2026-12-07: 600 mg every 4 weeks.
fn with_omalizumab(w: &Ward) -> (String, String) {
    let rush = w.rush_course();
    let (code, out, err) = start(w, As::Physician, "P1", &[]);
    assert_eq!(code, Some(0), "{err}");
    let om = out.lines().next().expect("id").trim().to_string();
    (rush, om)
}

fn om_give(
    w: &Ward,
    who: As,
    now: &str,
    course: &str,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut args = vec!["omalizumab", "give", course, "--patient", "P1"];
    args.extend_from_slice(extra);
    w.run_as(who, now, &args)
}

#[test]
fn three_injections_observed_two_hours_then_a_fourth_observed_30_minutes() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    // No injection before its date.
    let (code, _, err) = om_give(&w, As::Nurse, "2026-12-06T09:00", &om, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("due on 2026-12-07; no injection before its interval"),
        "{err}"
    );
    let n = w.ok("2026-12-06T09:00", &["next", &om]);
    assert!(n.contains("not before 2026-12-07"), "{n}");
    assert!(
        n.contains("not recalculated from IgE measured during treatment"),
        "{n}"
    );
    for (i, (day, observed)) in [
        ("2026-12-07", 120),
        ("2027-01-04", 120),
        ("2027-02-01", 120),
        ("2027-03-01", 30),
    ]
    .into_iter()
    .enumerate()
    {
        let given = format!("{day}T09:00");
        let (code, out, err) = om_give(&w, As::Nurse, &given, &om, &["--site", "both arms"]);
        assert_eq!(code, Some(0), "injection {}: {err}", i + 1);
        assert!(
            out.contains(&format!(
                "omalizumab injection {}: 600 mg in 4 injections",
                i + 1
            )),
            "{out}"
        );
        let until = chrono::NaiveDateTime::parse_from_str(&given, "%Y-%m-%dT%H:%M").expect("t")
            + chrono::Duration::minutes(observed);
        let until = until.format("%Y-%m-%dT%H:%M").to_string();
        let next: Value =
            serde_json::from_str(&w.ok(&given, &["next", &om, "--json"])).expect("json");
        assert_eq!(next["action"], "observe", "{next}");
        assert_eq!(next["until"], format!("{until}:00"), "{next}");
        // Not ended before its minutes, without a reason; then ended.
        let early = format!("{day}T09:29");
        let (code, _, err) = w.run_as(As::Nurse, &early, &["observe", &om, "--local-mm", "0"]);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(&format!("observed {observed} min")), "{err}");
        w.ok(&until, &["observe", &om, "--local-mm", "0"]);
    }
    let next: Value =
        serde_json::from_str(&w.ok("2027-03-01T12:00", &["next", &om, "--json"])).expect("json");
    assert_eq!(next["action"], "injection", "{next}");
    assert_eq!(next["not_before"], true, "{next}");
    assert_eq!(next["number"], 5, "{next}");
    assert_eq!(next["due"], "2027-03-29", "{next}");
    assert_eq!(next["observation_min"], 30, "{next}");
    assert_eq!(next["given"], 4, "{next}");
    let v: Value =
        serde_json::from_str(&w.ok("2027-03-01T12:00", &["course", "verify", &om, "--json"]))
            .expect("json");
    assert_eq!(
        (v["intact"].as_bool(), v["frozen_copies_intact"].as_bool()),
        (Some(true), Some(true)),
        "{v}"
    );
    // Not an allergen dose: the allergen give is refused on it.
    let (code, _, err) = w.run_as(
        As::Nurse,
        "2027-03-29T09:00",
        &[
            "give",
            &om,
            "--patient",
            "P1",
            "--step",
            "1",
            "--volume",
            "0.1",
            "--pef",
            "95",
            "--screen",
            "ok",
        ],
    );
    assert_ne!(code, Some(0), "{err}");
}

#[test]
fn a_late_injection_is_given_only_by_a_physician_with_a_reason() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    om_give(&w, As::Nurse, "2026-12-07T09:00", &om, &[]);
    w.ok("2026-12-07T11:00", &["observe", &om, "--local-mm", "0"]);
    let n = w.ok("2027-01-06T09:00", &["next", &om]);
    assert!(n.contains("LATE by 2 days"), "{n}");
    assert!(n.contains("a physician decides"), "{n}");
    let (code, _, err) = om_give(&w, As::Nurse, "2027-01-06T09:00", &om, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("2 days late"), "{err}");
    let (code, _, err) = om_give(
        &w,
        As::Nurse,
        "2027-01-06T09:00",
        &om,
        &["--accept-late", "stable"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("physician"), "{err}");
    let (code, out, err) = om_give(
        &w,
        As::Physician,
        "2027-01-06T09:00",
        &om,
        &["--accept-late", "asthma stable; away for the holiday"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("given late, accepted by a physician: asthma stable"),
        "{out}"
    );
    // The third is due the label's interval (4 weeks) after the late second, not on its planned
    // date 2027-02-01, two days sooner.
    w.ok("2027-01-06T11:00", &["observe", &om, "--local-mm", "0"]);
    let next: Value =
        serde_json::from_str(&w.ok("2027-01-06T12:00", &["next", &om, "--json"])).expect("json");
    assert_eq!(
        (next["number"].as_u64(), next["due"].as_str()),
        (Some(3), Some("2027-02-03")),
        "{next}"
    );
}

#[test]
fn anaphylaxis_on_omalizumab_holds_the_patients_immunotherapy_course() {
    let w = Ward::new();
    let (rush, om) = with_omalizumab(&w);
    om_give(&w, As::Nurse, "2026-12-07T07:00", &om, &[]);
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
    let n = w.next("2026-12-07T08:00", &rush);
    assert_eq!(n["action"], "patient_hold", "{n}");
    let (code, _, err) = w.give("2026-12-07T08:00", &rush, 1, "0.1");
    assert_eq!(code, Some(1), "{err}");
    let next: Value =
        serde_json::from_str(&w.ok("2026-12-07T08:00", &["next", &om, "--json"])).expect("json");
    assert_eq!(next["action"], "do_not_give", "{next}");
    // A nurse cannot lift it; a physician's review does.
    let (code, _, _) = w.run_as(
        As::Nurse,
        "2026-12-07T09:00",
        &["review", &om, "--decision", "continue"],
    );
    assert_eq!(code, Some(1));
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
    let n = w.next("2026-12-07T09:05", &rush);
    assert_ne!(n["action"], "patient_hold", "{n}");
}

/// A high-risk adult (sIgE 52 kUA/L, ratio 12.7 %) with omalizumab from `first`, each
/// injection given on its date (late ones by the physician) and observed.
fn pretreated(w: &Ward, first: &str, given: &[(&str, bool)]) -> String {
    w.add_patient(
        NOW.replace("2026-12-01", "2026-08-01").as_str(),
        "P9",
        "Chen Jie",
        "1990-05-01",
        "70",
        "52",
        "410",
    );
    let (code, out, err) = w.run_as(
        As::Physician,
        "2026-08-01T09:00",
        &["omalizumab", "start", "--patient", "P9", "--start", first],
    );
    assert_eq!(code, Some(0), "{err}");
    let om = out.lines().next().expect("id").trim().to_string();
    for (day, late) in given {
        let at = format!("{day}T09:00");
        let mut args = vec!["omalizumab", "give", om.as_str(), "--patient", "P9"];
        let who = if *late {
            args.extend(["--accept-late", "away"]);
            As::Physician
        } else {
            As::Nurse
        };
        let (code, _, err) = w.run_as(who, &at, &args);
        assert_eq!(code, Some(0), "{day}: {err}");
        w.ok(
            &format!("{day}T11:00"),
            &["observe", &om, "--local-mm", "0"],
        );
    }
    om
}

fn rush_start(w: &Ward, now: &str, start: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec![
        "course",
        "start",
        "--patient",
        "P9",
        "--template",
        "example-hdm-rush-3d",
        "--start",
        start,
    ];
    args.extend_from_slice(extra);
    w.run_as(As::Physician, now, &args)
}

#[test]
fn a_high_risk_rush_is_refused_with_6_weeks_recorded_and_a_physician_may_accept_it() {
    let w = Ward::new();
    pretreated(
        &w,
        "2026-10-26",
        &[("2026-10-26", false), ("2026-11-23", false)],
    );
    let (code, _, err) = rush_start(&w, "2026-12-01T09:00", "2026-12-07T08:00", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Omalizumab pretreatment (recorded): 6 weeks without a gap"),
        "{err}"
    );
    assert!(
        err.contains("2 injections given; no gap; continues"),
        "{err}"
    );
    // A typed number is a usage error: the record says, or `plan` plans with a stated one.
    for typed in ["12", "-1", "ten"] {
        let (code, out, err) = rush_start(
            &w,
            "2026-12-01T09:00",
            "2026-12-07T08:00",
            &["--omalizumab-weeks", typed],
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.contains(&format!(
                "--omalizumab-weeks {typed}: course start takes no typed pretreatment"
            )) && err.contains("reads the omalizumab pretreatment from the record")
                && err.contains("ritplan plan --omalizumab-weeks N"),
            "{err}"
        );
        assert!(!err.contains("Omalizumab pretreatment (recorded)"), "{err}");
    }
    let (code, _, err) = rush_start(
        &w,
        "2026-12-01T09:00",
        "2026-12-07T08:00",
        &["--omalizumab-weeks", "12", "--accept-risk", "x"],
    );
    assert_eq!(code, Some(2), "{err}");
    // Nothing was started by them.
    let list = w.ok("2026-12-01T09:10", &["course", "list", "--json"]);
    assert!(!list.contains("example-hdm-rush-3d"), "{list}");
    let (code, out, err) = rush_start(
        &w,
        "2026-12-01T09:00",
        "2026-12-07T08:00",
        &["--accept-risk", "ward bed; omalizumab continues"],
    );
    assert_eq!(code, Some(0), "{err}");
    let show = w.ok("2026-12-01T09:00", &["course", "show", out.trim()]);
    assert!(show.contains("RISK ACCEPTED"), "{show}");
}

#[test]
fn a_high_risk_rush_starts_with_9_weeks_recorded() {
    let w = Ward::new();
    pretreated(
        &w,
        "2026-10-05",
        &[
            ("2026-10-05", false),
            ("2026-11-02", false),
            ("2026-11-30", false),
        ],
    );
    let (code, out, err) = rush_start(&w, "2026-12-01T09:00", "2026-12-07T08:00", &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("(recorded): 9 weeks without a gap"), "{err}");
    let v: Value = serde_json::from_str(&w.ok(
        "2026-12-01T09:00",
        &["course", "show", out.trim(), "--json"],
    ))
    .expect("json");
    assert_eq!(v["plan"]["assessment"]["omalizumab_weeks"], 9, "{v}");
}

#[test]
fn a_gap_in_pretreatment_counts_only_the_weeks_after_it() {
    let w = Ward::new();
    // The second injection (due 2026-10-05) was given 4 weeks late: a gap.
    pretreated(
        &w,
        "2026-09-07",
        &[("2026-09-07", false), ("2026-11-02", true)],
    );
    let (code, _, err) = rush_start(&w, "2026-11-10T09:00", "2026-11-16T08:00", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("GAP 2026-09-07 to 2026-11-02; continues"),
        "{err}"
    );
    assert!(err.contains("2 weeks without a gap"), "{err}");
    // More than the interval after the last injection, on day 1: lapsed, nothing counts.
    let (code, _, err) = rush_start(&w, "2026-12-01T09:00", "2026-12-07T08:00", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("0 weeks without a gap"), "{err}");
    assert!(
        err.contains("2026-11-02 to 2026-12-07; does not continue"),
        "{err}"
    );
}

#[test]
fn pretreatment_stated_in_a_plan_is_said_to_be_not_recorded() {
    let w = Ward::new();
    let out = w.ok(
        NOW,
        &[
            "plan",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07",
            "--age",
            "36",
            "--weight",
            "70",
            "--sige",
            "52",
            "--total-ige",
            "410",
            "--fev1",
            "95",
            "--asthma",
            "controlled",
            "--omalizumab-weeks",
            "10",
        ],
    );
    assert!(
        out.contains("Omalizumab pretreatment as stated, not recorded"),
        "{out}"
    );
    let out = w.ok(
        NOW,
        &[
            "risk",
            "--age",
            "36",
            "--sige",
            "52",
            "--total-ige",
            "410",
            "--omalizumab-weeks",
            "10",
        ],
    );
    assert!(out.contains("(as stated, not recorded)"), "{out}");
}

#[test]
fn defer_note_and_correct_work_on_an_omalizumab_course() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    w.ok("2026-12-07T08:00", &["defer", &om, "--reason", "fever"]);
    w.ok(
        "2026-12-07T08:05",
        &["note", &om, "--text", "rebooked for tomorrow"],
    );
    let (code, out, err) = om_give(&w, As::Nurse, "2026-12-07T09:00", &om, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("recorded #3"), "{out}");
    // A nurse may not correct an omalizumab entry; a physician may, and the injection no
    // longer counts.
    let (code, _, _) = w.run_as(
        As::Nurse,
        "2026-12-07T09:10",
        &["correct", &om, "--event", "3", "--reason", "wrong patient"],
    );
    assert_eq!(code, Some(1));
    let (code, _, err) = w.run_as(
        As::Physician,
        "2026-12-07T09:10",
        &[
            "correct",
            &om,
            "--event",
            "3",
            "--reason",
            "recorded on the wrong day",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let next: Value =
        serde_json::from_str(&w.ok("2026-12-07T09:15", &["next", &om, "--json"])).expect("json");
    assert_eq!(
        (
            next["action"].as_str(),
            next["number"].as_u64(),
            next["given"].as_u64()
        ),
        (Some("injection"), Some(1), Some(0)),
        "{next}"
    );
    let log = w.ok("2026-12-07T09:15", &["course", "log", &om]);
    assert!(
        log.contains("omalizumab injection 1: 600 mg in 4 injections"),
        "{log}"
    );
}

#[test]
fn course_pdf_prints_an_omalizumab_courses_protocol() {
    let w = Ward::new();
    let (rush, om) = with_omalizumab(&w);
    om_give(
        &w,
        As::Nurse,
        "2026-12-07T09:00",
        &om,
        &["--site", "both arms"],
    );
    w.ok("2026-12-07T11:05", &["observe", &om, "--local-mm", "3"]);
    let pdf = w.file("omalizumab.pdf");
    let path = pdf.to_str().expect("path");
    let out = w.ok("2026-12-08T09:00", &["course", "pdf", &om, "--out", path]);
    assert_eq!(out.trim(), path);
    let bytes = std::fs::read(&pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let text = ritplan::render::pdf::extract_text(&bytes)
        .expect("parse")
        .concat()
        .join("\n");
    // Identity, the label's dose with its source, the rule on recalculation.
    for said in [
        "Omalizumab course protocol",
        &format!("Course {om}"),
        "Zhāng Wěi",
        "ID P1",
        "600 mg every 4 weeks",
        "4 × 150 mg",
        "Source: [",
        "not recalculated from IgE measured during treatment",
        // The laid dates, with the observation after each (2 h for the first 3, 30 min later).
        "2026-12-07",
        "2027-01-04",
        "2027-11-08",
        "120",
        "30",
        // The injection given, where and the end of its observation.
        "2026-12-07 09:00",
        "both arms",
        "local 3 mm",
        // The next one, and the columns left blank for the nurse.
        "Omalizumab injection 2: 600 mg",
        "nurse",
        "check",
        "Epinephrine",
    ] {
        assert!(text.contains(said), "{said:?} not in:\n{text}");
    }
    // No vial or dose-step columns on it: the dose is the label's.
    assert!(
        !text.contains("vial code") && !text.contains("cumulative"),
        "{text}"
    );
    assert!(text.contains("Not an allergen dose"), "{text}");
    // Not with another course in one file: refused, naming it.
    let both = w.file("both.pdf");
    let (code, _, err) = w.run(
        "2026-12-08T09:00",
        &[
            "course",
            "pdf",
            &rush,
            &om,
            "--out",
            both.to_str().expect("path"),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("course {om} is an omalizumab course")),
        "{err}"
    );
    assert!(!both.exists());
}

#[test]
fn an_open_observation_on_either_course_holds_the_other_courses_injection() {
    let w = Ward::new();
    let (rush, om) = with_omalizumab(&w);
    // An allergen dose first: omalizumab waits for its observation's recorded end.
    let n = w.next("2026-12-07T08:00", &rush);
    assert_eq!(n["action"], "give", "{n}");
    let (code, _, err) = w.give("2026-12-07T08:00", &rush, 1, &n["volume_ml"].to_string());
    assert_eq!(code, Some(0), "{err}");
    let next: Value =
        serde_json::from_str(&w.ok("2026-12-07T08:10", &["next", &om, "--json"])).expect("json");
    assert_eq!(next["action"], "other_observation", "{next}");
    assert_eq!(next["course"].to_string(), rush, "{next}");
    let (code, _, err) = om_give(&w, As::Nurse, "2026-12-07T08:10", &om, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the injection on course {rush} is under observation"
        )),
        "{err}"
    );
    // Past its minutes but not recorded as ended: still no omalizumab injection.
    let n = w.ok("2026-12-07T09:00", &["next", &om]);
    assert!(
        n.contains("no omalizumab injection until its end is recorded"),
        "{n}"
    );
    w.observe("2026-12-07T09:00", &rush, 0);
    let (code, _, err) = om_give(&w, As::Nurse, "2026-12-07T09:05", &om, &[]);
    assert_eq!(code, Some(0), "{err}");
    // Now the omalizumab observation (2 h: the first injection) holds the allergen dose.
    let n = w.next("2026-12-07T09:40", &rush);
    assert_eq!(n["action"], "observe", "{n}");
    assert_eq!(n["held_by"].to_string(), om, "{n}");
    assert_eq!(n["observation_until"], "2026-12-07T11:05:00", "{n}");
    let text = w.ok("2026-12-07T09:40", &["next", &rush]);
    assert!(
        text.contains(&format!("after the omalizumab injection of course {om}")),
        "{text}"
    );
    let (code, _, err) = w.give("2026-12-07T09:40", &rush, 2, "0.2");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the omalizumab injection of course {om} is under observation"
        )),
        "{err}"
    );
    // Its end past but not recorded: still held.
    let n = w.next("2026-12-07T11:10", &rush);
    assert_eq!(n["action"], "observation_not_closed", "{n}");
    w.ok("2026-12-07T11:10", &["observe", &om, "--local-mm", "0"]);
    let n = w.next("2026-12-07T11:10", &rush);
    assert_ne!(n["action"], "observe", "{n}");
    assert_ne!(n["action"], "observation_not_closed", "{n}");
}

#[test]
fn a_weight_change_goes_to_the_physician_before_the_next_injection() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    om_give(&w, As::Nurse, "2026-12-07T09:00", &om, &[]);
    w.ok("2026-12-07T11:00", &["observe", &om, "--local-mm", "0"]);
    // The same weight as at the start (70 kg): nothing to ask.
    w.ok(
        "2027-01-04T08:30",
        &["omalizumab", "weight", &om, "--kg", "70"],
    );
    let next: Value =
        serde_json::from_str(&w.ok("2027-01-04T08:40", &["next", &om, "--json"])).expect("json");
    assert_eq!(next["action"], "injection", "{next}");
    // Not a weight: refused, nothing recorded.
    let (code, _, err) = w.run_as(
        As::Nurse,
        "2027-01-04T08:40",
        &["omalizumab", "weight", &om, "--kg", "-3"],
    );
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("impossible"), "{err}");
    // 64 kg: the next injection waits for the physician, with the rule's text and source.
    let out = w.ok(
        "2027-01-04T08:45",
        &["omalizumab", "weight", &om, "--kg", "64"],
    );
    assert!(out.contains("weight measured: 64 kg"), "{out}");
    let n = w.ok("2027-01-04T08:50", &["next", &om]);
    assert!(n.contains("ASK THE PHYSICIAN: weight 64 kg"), "{n}");
    assert!(n.contains("the 70 kg the dose was laid for"), "{n}");
    assert!(n.contains("no source gives a threshold"), "{n}");
    assert!(n.contains("xolair-us-pi"), "{n}");
    let next: Value =
        serde_json::from_str(&w.ok("2027-01-04T08:50", &["next", &om, "--json"])).expect("json");
    assert_eq!(next["action"], "weight_changed", "{next}");
    assert_eq!(next["measured_kg"], "64", "{next}");
    let (code, _, err) = om_give(&w, As::Nurse, "2027-01-04T09:00", &om, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ASK THE PHYSICIAN"), "{err}");
    // A physician may not skip it with --accept-late either.
    let (code, _, err) = om_give(
        &w,
        As::Physician,
        "2027-01-04T09:00",
        &om,
        &["--accept-late", "fine"],
    );
    assert_eq!(code, Some(1), "{err}");
    // A nurse cannot review; a physician's review lifts it.
    let (code, _, _) = w.run_as(
        As::Nurse,
        "2027-01-04T09:05",
        &["review", &om, "--decision", "continue"],
    );
    assert_eq!(code, Some(1));
    w.ok(
        "2027-01-04T09:05",
        &[
            "review",
            &om,
            "--decision",
            "continue",
            "--reason",
            "64 kg is in the same cell: same dose",
        ],
    );
    let (code, out, err) = om_give(&w, As::Nurse, "2027-01-04T09:10", &om, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("omalizumab injection 2"), "{out}");
}

#[test]
fn a_second_omalizumab_course_starts_only_once_the_first_is_no_longer_active() {
    let w = Ward::new();
    let (_, first) = with_omalizumab(&w);
    om_give(&w, As::Nurse, "2026-12-07T09:00", &first, &[]);
    w.ok("2026-12-07T11:00", &["observe", &first, "--local-mm", "0"]);
    // Refused while the first is active.
    let (code, _, err) = start(&w, As::Physician, "P1", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "already has omalizumab course {first}, still active"
        )),
        "{err}"
    );
    // The physician stops it: a second course may start.
    w.ok(
        "2026-12-08T09:00",
        &[
            "review",
            &first,
            "--decision",
            "stop",
            "--reason",
            "moved to the 2-weekly table after a new IgE: new course",
        ],
    );
    let (code, out, err) = start(&w, As::Physician, "P1", &[]);
    assert_eq!(code, Some(0), "{err}");
    let second = out.lines().next().expect("id").trim().to_string();
    assert_ne!(second, first);
    // A third is refused while the second is active, and the first is not resumed beside it.
    let (code, _, err) = start(&w, As::Physician, "P1", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("already has omalizumab course {second}")),
        "{err}"
    );
    let (code, _, err) = w.run_as(
        As::Physician,
        "2026-12-08T10:00",
        &[
            "review",
            &first,
            "--decision",
            "continue",
            "--reason",
            "resume",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("another active omalizumab course ({second})")),
        "{err}"
    );
    let v: Value =
        serde_json::from_str(&w.ok("2026-12-08T10:00", &["course", "verify", &second, "--json"]))
            .expect("json");
    assert_eq!(v["intact"].as_bool(), Some(true), "{v}");
}
