//! `ritplan board`: the ward at a glance, built by the ward layer from each course's decision.

use serde_json::Value;

use crate::ward::{Ward, hh};

fn board(w: &Ward, now: &str) -> Vec<(String, i64, String)> {
    let v: Value = serde_json::from_str(&w.ok(now, &["board", "--json"])).expect("json");
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().expect("status").to_string(),
                r["course"].as_i64().expect("course"),
                r["at"]
                    .as_str()
                    .map(|t| t[11..16].to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn the_board_orders_the_ward_as_a_nurse_works_through_it() {
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
    w.add_patient(
        "2026-12-01T09:00",
        "P3",
        "Wu Fang",
        "1980-01-01",
        "70",
        "2",
        "410",
    );
    let c3 = w.start(
        "2026-12-01T09:00",
        "P3",
        "example-hdm-rush-3d",
        "2026-12-14T08:00",
        &[],
    );
    let (c1n, c2n, c3n): (i64, i64, i64) = (
        c1.parse().expect("id"),
        c2.parse().expect("id"),
        c3.parse().expect("id"),
    );
    // Before the first day nothing is due; the course starting next week is never listed.
    assert!(board(&w, &hh(4, 9, 0)).is_empty());
    // Two doses due at the same time: by name (Ana Souza, then Zhāng Wěi).
    let b = board(&w, &hh(7, 8, 0));
    assert_eq!(
        b,
        [
            ("due_now".to_string(), c2n, "08:00".to_string()),
            ("due_now".to_string(), c1n, "08:00".to_string()),
        ]
    );
    let (code, _, err) = w.give(&hh(7, 8, 0), &c1, 1, "0.1");
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = w.give(&hh(7, 8, 5), &c2, 1, "0.1");
    assert_eq!(code, Some(0), "{err}");
    // P2 reacts (grade 2): DO NOT GIVE; P1's observation runs until 08:30, then is overdue.
    w.ok(
        &hh(7, 8, 20),
        &[
            "react",
            &c2,
            "--grade",
            "2a",
            "--onset-min",
            "15",
            "--symptom",
            "wheeze",
        ],
    );
    let b = board(&w, &hh(7, 8, 20));
    assert_eq!(
        b,
        [
            ("in_observation".to_string(), c1n, "08:30".to_string()),
            ("do_not_give".to_string(), c2n, String::new()),
        ]
    );
    let b = board(&w, &hh(7, 8, 40));
    assert_eq!(
        b[0],
        ("observation_overdue".to_string(), c1n, "08:30".to_string())
    );
    assert!(!b.iter().any(|r| r.1 == c3n));
    // The human board names the patient and says what to do.
    let text = w.ok(&hh(7, 8, 40), &["board"]);
    assert!(text.contains("OBSERVATION OVERDUE"), "{text}");
    assert!(text.contains("Zhāng Wěi · P1 · born 1990-05-01"), "{text}");
    assert!(
        text.contains("DO NOT GIVE: a physician must review the course"),
        "{text}"
    );
    // After the observation and the rest of the visit: done for today, P2 still held.
    w.observe(&hh(7, 8, 41), &c1, 0);
    w.give_visit(&hh(7, 8, 41), &c1, 0);
    let b = board(&w, &hh(7, 16, 59));
    assert_eq!(
        b.first().map(|r| r.0.as_str()),
        Some("do_not_give"),
        "{b:?}"
    );
    assert_eq!(
        b.last().map(|r| (r.0.as_str(), r.1)),
        Some(("done_today", c1n)),
        "{b:?}"
    );
}

#[test]
fn patients_are_found_by_id_or_a_part_of_the_name() {
    let w = Ward::new();
    let t = "2026-12-01T09:00";
    w.add_patient(t, "P1", "Li  Na", "1990-03-04", "60", "2", "300");
    w.add_patient(t, "P2", "Lina Berg", "1980-01-01", "60", "2", "300");
    w.add_patient(t, "P3", "Wu Fang", "1980-01-01", "60", "2", "300");
    let ids = |q: &str| -> Vec<String> {
        let v: Value =
            serde_json::from_str(&w.ok(t, &["patient", "find", q, "--json"])).expect("json");
        v.as_array()
            .expect("rows")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(ids("li na"), ["P1"], "case and spacing ignored");
    assert_eq!(ids("LI"), ["P1", "P2"], "by name");
    assert_eq!(ids("P3"), ["P3"], "by ID");
    assert!(ids("nobody").is_empty());
}

#[test]
fn patients_are_imported_from_csv_all_or_none_with_errors_by_line() {
    let w = Ward::new();
    let now = "2026-12-01T09:00";
    w.login(crate::ward::As::Nurse, now);
    let bad = w.file("bad.csv");
    std::fs::write(
        &bad,
        "id,name,dob,weight,sige,total_ige\nP1,Li Na,1990-05-01,70,2,410\nP2,Ana,1990-02-30,70,2,410\nP3,\"Souza, Ana\",1980-01-01,abc,2,410\n",
    )
    .expect("write");
    let before = w.bytes();
    let (code, out, err) = w.run(now, &["patient", "import", bad.to_str().expect("path")]);
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(
        err.contains("bad.csv:3: dob \"1990-02-30\" is not a date"),
        "{err}"
    );
    assert!(err.contains("bad.csv:4: weight"), "{err}");
    assert!(err.contains("no patient imported: 2 errors"), "{err}");
    assert_eq!(before, w.bytes(), "nothing written");
    let good = w.file("good.csv");
    std::fs::write(
        &good,
        "name,id,dob,weight,sige,total_ige,fev1,asthma\n\"Souza, Ana\",P7,1980-01-01,61,<0.35,120,95,controlled\nLi Na,P8,1990-05-01,70,2,410,,\n",
    )
    .expect("write");
    let out = w.ok(now, &["patient", "import", good.to_str().expect("path")]);
    assert_eq!(out.trim(), "imported 2 patients");
    assert!(w.ok(now, &["patient", "show", "P7"]).contains("Souza, Ana"));
    // The same file again: both ids are taken, nothing is added.
    let before = w.bytes();
    let (code, _, err) = w.run(now, &["patient", "import", good.to_str().expect("path")]);
    assert_eq!(code, Some(65));
    assert!(
        err.contains("good.csv:2: a patient with the id \"P7\" is already in the record"),
        "{err}"
    );
    assert_eq!(before, w.bytes());
}

#[test]
fn a_forecast_runs_the_state_machine_on_a_what_if_and_writes_nothing() {
    let w = Ward::new();
    let c = w.rush_course();
    let now = "2026-12-07T07:30";
    let plain = w.ok(now, &["forecast", &c]);
    // (The harness's login for the first command is a write; the forecasts after it are not.)
    let before = w.bytes();
    assert!(plain.contains("nothing is recorded"), "{plain}");
    // A 60 mm local reaction at step 4: the next visit steps back, and the rule is named.
    let local = w.ok(now, &["forecast", &c, "--local", "4=60", "--json"]);
    let v: Value = serde_json::from_str(&local).expect("json");
    assert_eq!(v["written"], false);
    let doses = v["doses"].as_array().expect("doses");
    let after_4 = doses
        .iter()
        .skip_while(|d| d["step"] != 4)
        .nth(1)
        .expect("a dose after step 4");
    assert_eq!(after_4["step"], 3, "one dose step back: {after_4}");
    assert!(
        after_4["rules"][0]
            .as_str()
            .expect("rule")
            .contains("Local reaction 60 mm"),
        "{after_4}"
    );
    assert_ne!(
        after_4["at"].as_str().expect("at")[..10],
        *"2026-12-07",
        "at the next visit"
    );
    // A grade 2 reaction at step 2: the forecast stops where a physician must review.
    let sr = w.ok(now, &["forecast", &c, "--reaction", "2=2a"]);
    assert!(
        sr.contains("Then: DO NOT GIVE: a physician must review"),
        "{sr}"
    );
    // A missed day: no dose that day.
    let miss = w.ok(now, &["forecast", &c, "--miss", "2026-12-08", "--json"]);
    let v: Value = serde_json::from_str(&miss).expect("json");
    assert!(
        v["doses"]
            .as_array()
            .expect("doses")
            .iter()
            .all(|d| !d["at"].as_str().expect("at").starts_with("2026-12-08"))
    );
    for bad in [
        ["--reaction", "2=9q"],
        ["--local", "x=5"],
        ["--local", "3=9999"],
    ] {
        let (code, _, err) = w.run(now, &["forecast", &c, bad[0], bad[1]]);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
    }
    assert!(
        before == w.bytes(),
        "a forecast changes no byte of the record"
    );
}
