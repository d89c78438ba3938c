//! Follow-ups (issue 22 item 1): `followup add` records the ACQ items, FEV1 and medication as an
//! entry of the patient's immunotherapy course; `followup list` shows them with their scores;
//! every refusal leaves the record byte-identical; the course's chain still verifies.

use serde_json::Value;

use crate::ward::{As, Ward, hh};

const ADD: [&str; 4] = ["followup", "add", "--patient", "P1"];

fn add(extra: &[&str]) -> Vec<String> {
    ADD.iter()
        .chain(extra.iter())
        .map(|s| (*s).to_string())
        .collect()
}

/// A refused `followup add`: exit 65 (bad input data), the message names `needle`, and not a
/// byte of the record changed.
fn refused(w: &Ward, now: &str, args: &[String], needle: &str) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.ready(now, &args);
    let before = w.bytes();
    let (code, out, err) = w.run(now, &args);
    assert_eq!(code, Some(65), "{args:?}: {out}{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(before == w.bytes(), "{args:?} changed the database");
}

#[test]
fn follow_ups_are_recorded_listed_with_their_scores_and_the_chain_verifies() {
    let w = Ward::new();
    let c = w.rush_course();
    let now = hh(20, 10, 0);
    let next_before = w.ok(&now, &["next", &c, "--json"]);
    let a = add(&[
        "--date",
        "2026-12-18",
        "--acq",
        "1,2,0,1,3",
        "--acq-version",
        "5",
        "--medication",
        "Budesonide/Formoterol",
        "--daily-dose",
        "320 µg",
        "--medication",
        "salbutamol",
        "--daily-dose",
        "2 puffs",
    ]);
    let out = w.ok(&now, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.contains(&format!("in course {c} by RN Li (rn.li): follow-up on 2026-12-18: ACQ-5 1.40 (items 1,2,0,1,3); medication: Budesonide/Formoterol 320 µg/day, salbutamol 2 puffs/day")),
        "{out}"
    );
    assert!(
        out.contains(
            "medication score: 3 (ics-laba) under example-asthma-step v1 (EXAMPLE definition, not a standard)"
        ),
        "{out}"
    );
    // The physician records a second, ACQ-7 with FEV1 and no medication; the course is picked
    // by default (the patient's only immunotherapy course) or named.
    let out = w.ok(
        &now,
        &[
            "followup",
            "add",
            "--patient",
            "P1",
            "--course",
            &c,
            "--date",
            "2026-12-19",
            "--acq",
            "1,2,3,1,1,1,1",
            "--acq-version",
            "7",
            "--fev1",
            "88.5",
            "--no-medication",
            "--by",
            "Dr Wang",
        ],
    );
    assert!(out.contains("ACQ-7 1.43"), "{out}");
    assert!(
        out.contains("FEV1 88.5 % predicted; medication: none"),
        "{out}"
    );
    // A drug no class of the definition holds: the score is not computable, naming it.
    w.ok(
        &now,
        &[
            "followup",
            "add",
            "--patient",
            "P1",
            "--date",
            "2026-12-01",
            "--medication",
            "montelukast",
            "--daily-dose",
            "10 mg",
        ],
    );
    // The dosing is untouched.
    assert_eq!(next_before, w.ok(&now, &["next", &c, "--json"]));
    let list = w.ok(&now, &["followup", "list", "--patient", "P1"]);
    let first = list.find("2026-12-01").expect("the oldest");
    let second = list.find("2026-12-18").expect("the second");
    assert!(first < second, "oldest first:\n{list}");
    for needle in [
        "3 follow-ups",
        "1.40",
        "1.43",
        "not computable: no class for \"montelukast\"",
        "0 (none)",
        "EXAMPLE definition, not a standard",
        "Kappen et al., Allergy 2023;78:2835-50",
    ] {
        assert!(list.contains(needle), "{needle}:\n{list}");
    }
    let json = w.ok(&now, &["followup", "list", "--patient", "P1", "--json"]);
    insta::assert_snapshot!("followup_list_json", json);
    let v: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["follow_ups"][1]["acq_score"], "1.40");
    assert_eq!(v["medication_score_definition"]["example"], true);
    // `course show` shows the entries; the record verifies.
    let show = w.ok(&now, &["course", "show", &c]);
    assert!(
        show.contains("follow-up on 2026-12-19: ACQ-7 1.43"),
        "{show}"
    );
    w.ok(&now, &["course", "verify", &c]);
    // FHIR: each complete ACQ as an Observation of its score on the follow-up's day.
    let fhir: Value =
        serde_json::from_str(&w.ok(&now, &["export", "fhir", &c])).expect("fhir json");
    let acq: Vec<&Value> = fhir["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| {
            r["code"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Asthma Control Questionnaire"))
        })
        .collect();
    assert_eq!(acq.len(), 2, "{acq:?}");
    assert_eq!(acq[1]["effectiveDateTime"], "2026-12-19");
    assert_eq!(acq[1]["valueQuantity"]["value"].to_string(), "1.43");
    assert_eq!(acq[1]["performer"][0]["display"], "Dr Wang (dr.wang)");
    w.run_as(As::Admin, &now, &["verify"]);
    let (code, out, err) = w.run_as(As::Admin, &now, &["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn a_follow_up_is_taken_on_a_stopped_course_and_a_correction_takes_it_out_of_the_list() {
    let w = Ward::new();
    let c = w.rush_course();
    w.ok(
        &hh(8, 9, 0),
        &["review", &c, "--decision", "stop", "--reason", "moved away"],
    );
    let now = hh(20, 10, 0);
    let out = w.ok(
        &now,
        &[
            "followup",
            "add",
            "--patient",
            "P1",
            "--date",
            "2026-12-20",
            "--acq",
            "0,0,0,0,0",
            "--acq-version",
            "5",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    let seq = v["recorded"]["seq"].as_u64().expect("seq");
    assert_eq!(v["follow_up"]["acq_score"], "0.00");
    assert!(
        w.ok(&now, &["next", &c]).contains("stopped") || w.ok(&now, &["next", &c]).contains("STOP"),
        "still stopped"
    );
    w.ok(
        &now,
        &[
            "correct",
            &c,
            "--event",
            &seq.to_string(),
            "--reason",
            "wrong patient's form",
        ],
    );
    let list = w.ok(&now, &["followup", "list", "--patient", "P1"]);
    assert!(list.contains("0 follow-ups"), "{list}");
    // Nobody but clinical staff records one.
    w.fresh(As::Admin, &now);
    let before = w.bytes();
    let (code, out, err) = w.run_as(
        As::Admin,
        &now,
        &[
            "followup",
            "add",
            "--patient",
            "P1",
            "--date",
            "2026-12-20",
            "--no-medication",
        ],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(before == w.bytes());
}

#[test]
fn every_refusal_names_its_value_and_writes_nothing() {
    let w = Ward::new();
    let c = w.rush_course();
    let now = hh(20, 10, 0);
    let acq5 = ["--acq", "1,2,0,1,3", "--acq-version", "5"];
    let with = |date: &str, extra: &[&str]| {
        let mut a = vec!["--date", date];
        a.extend_from_slice(extra);
        add(&a)
    };
    refused(
        &w,
        &now,
        &with("2026-12-21", &acq5),
        "--date 2026-12-21 is in the future",
    );
    refused(
        &w,
        &now,
        &with("1990-04-30", &acq5),
        "before the patient's birth",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--acq", "1,2,0,1", "--acq-version", "5"]),
        "ACQ-5 has 5 items; 4 were given",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--acq", "1,2,0,1,3", "--acq-version", "6"]),
        "ACQ-6 has 6 items; 5 were given",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--acq", "1,2,7,1,3", "--acq-version", "5"]),
        "item 3 is 7",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--acq", "1,2,x,1,3", "--acq-version", "5"]),
        "--acq",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--acq", "1,1,1,1", "--acq-version", "4"]),
        "ACQ version 4 is not known",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--acq", "1,2,0,1,3"]),
        "--acq-version is needed with --acq",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--medication", "budesonide"]),
        "1 --medication and 0 --daily-dose",
    );
    refused(
        &w,
        &now,
        &with(
            "2026-12-20",
            &["--medication", "budesonide", "--daily-dose", "400"],
        ),
        "has no unit",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &["--fev1", "250"]),
        "--fev1 250% predicted is not possible",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &[]),
        "needs something recorded",
    );
    refused(
        &w,
        &now,
        &with("2026-12-20", &[&acq5[..], &["--course", "99"]].concat()),
        "course 99 is not one of patient P1's courses",
    );
    // A patient without an immunotherapy course.
    w.add_patient(&now, "P2", "Ana Souza", "1985-01-01", "70", "2", "410");
    let mut a = vec!["followup", "add", "--patient", "P2", "--date", "2026-12-20"];
    a.extend_from_slice(&acq5);
    refused(
        &w,
        &now,
        &a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(),
        "patient P2 has no allergen immunotherapy course",
    );
    // An omalizumab course is never the follow-up's.
    let (code, out, err) = w.run_as(
        As::Physician,
        &now,
        &[
            "omalizumab",
            "start",
            "--patient",
            "P2",
            "--start",
            "2026-12-21",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let om = out
        .split_whitespace()
        .find_map(|t| t.trim_end_matches([':', ',']).parse::<i64>().ok())
        .expect("the course id");
    let mut a = vec!["followup", "add", "--patient", "P2", "--date", "2026-12-20"];
    a.extend_from_slice(&acq5);
    refused(
        &w,
        &now,
        &a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(),
        "patient P2 has no allergen immunotherapy course",
    );
    let om = om.to_string();
    a.extend_from_slice(&["--course", &om]);
    refused(
        &w,
        &now,
        &a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(),
        "is an omalizumab course",
    );
    assert!(!c.is_empty());
}

#[test]
fn a_clinic_s_own_definition_replaces_the_example_and_a_broken_one_is_refused_located() {
    let w = Ward::new();
    w.rush_course();
    let now = hh(20, 10, 0);
    w.ok(
        &now,
        &[
            "followup",
            "add",
            "--patient",
            "P1",
            "--date",
            "2026-12-20",
            "--medication",
            "montelukast",
            "--daily-dose",
            "10 mg",
        ],
    );
    let dir = tempfile::tempdir().expect("tmp");
    let own = r#"kind = "medication-score"
format = 1
id = "clinic-ltra"
version = 3
name = "The clinic's own"
source = "clinic protocol 2026"
evidence = "guideline"
certainty = "C"

[none]
score = 0
source = "clinic protocol 2026"
evidence = "guideline"
certainty = "C"

[[class]]
id = "ltra"
name = "leukotriene receptor antagonist"
score = 2
drugs = ["montelukast"]
source = "clinic protocol 2026"
evidence = "guideline"
certainty = "C"
"#;
    let file = dir.path().join("medication-score.toml");
    std::fs::write(&file, own).expect("write");
    let rules = dir.path().to_string_lossy().into_owned();
    let list = w.ok(
        &now,
        &["--rules", &rules, "followup", "list", "--patient", "P1"],
    );
    assert!(list.contains("2 (ltra)"), "{list}");
    assert!(list.contains("clinic-ltra v3 - The clinic's own"), "{list}");
    assert!(!list.contains("EXAMPLE"), "{list}");
    // A broken file: refused (exit 65), the problem located in the file.
    std::fs::write(&file, own.replace("score = 2", "score = \"two\"")).expect("write");
    let (code, out, err) = w.run(
        &now,
        &["--rules", &rules, "followup", "list", "--patient", "P1"],
    );
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(
        err.contains("medication-score.toml:19:9: `score` in class 1 must be a whole number"),
        "{err}"
    );
}
