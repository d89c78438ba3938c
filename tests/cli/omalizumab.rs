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
