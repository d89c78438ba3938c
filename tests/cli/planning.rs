//! `ritplan risk`, `ritplan omalizumab` and `ritplan plan`, run as the real binary.

use serde_json::Value;

use crate::{fixture, ritplan};

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = ritplan().args(args).output().expect("run ritplan");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> (Option<i32>, Value) {
    let (code, out, err) = run(args);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}")),
    )
}

const CHILD: [&str; 6] = ["--age", "9", "--sige", "52", "--total-ige", "410"];

#[test]
fn risk_of_the_issue_example() {
    let (code, v) = json(&[&["risk"][..], &CHILD, &["--json"]].concat());
    assert_eq!(code, Some(0));
    assert_eq!(v["stratum"], "high");
    assert_eq!(v["sige_class"], 5);
    assert_eq!(v["ratio_percent"].to_string(), "12.68");
    assert_eq!(v["age_group"], "paediatric");
    assert_eq!(v["favourable_response"], false);
    let reasons = v["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .all(|r| r["source"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert!(reasons.iter().any(
        |r| r["evidence"] == "inference" && r["text"].as_str().unwrap().contains("paediatric")
    ));
}

#[test]
fn risk_human_output_cites_rules_and_warns_of_unchecked_values() {
    let (code, out, _) = run(&[&["risk"][..], &CHILD].concat());
    assert_eq!(code, Some(0));
    assert!(out.contains("Risk stratum: HIGH"), "{out}");
    assert!(out.contains("[published C]"), "{out}");
    assert!(out.contains("FEV1 not given"), "{out}");
}

#[test]
fn risk_with_censored_values() {
    let (code, v) = json(&[
        "risk",
        "--age",
        "30",
        "--sige",
        ">100",
        "--total-ige",
        "410",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["stratum"], "high");
    assert_eq!(v["sige_class"], 6);
    assert_eq!(v["ratio_percent"], ">24.39");
    let (_, v) = json(&[
        "risk",
        "--age",
        "30",
        "--sige",
        "<0.70",
        "--total-ige",
        "1000",
        "--json",
    ]);
    assert_eq!(v["sige_class"], "0-1");
    assert_eq!(v["stratum"], "intermediate");
}

#[test]
fn impossible_values_exit_65_naming_the_value() {
    for (args, field) in [
        (
            vec!["--age", "9", "--sige", "500", "--total-ige", "410"],
            "--sige",
        ),
        (
            vec!["--age", "9", "--sige", "52", "--total-ige", "-410"],
            "--total-ige",
        ),
        (
            vec!["--age", "0", "--sige", "52", "--total-ige", "410"],
            "--age",
        ),
        (
            vec!["--age", "150", "--sige", "52", "--total-ige", "410"],
            "--age",
        ),
        (
            vec![
                "--age",
                "9",
                "--weight",
                "0",
                "--sige",
                "52",
                "--total-ige",
                "410",
            ],
            "--weight",
        ),
    ] {
        let (code, out, err) = run(&[&["risk"][..], &args].concat());
        assert_eq!(code, Some(65), "{args:?}: {err}");
        assert!(
            err.contains(&format!("patient value {field}")),
            "{args:?}: {err}"
        );
        assert!(out.is_empty());
    }
}

#[test]
fn a_patient_file_works_and_a_bad_one_is_located() {
    let f = fixture("fixtures/patients/child-high-risk.toml");
    let (code, v) = json(&[
        "risk",
        "--patient",
        f.to_str().unwrap(),
        "--on",
        "2026-12-07",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["patient"]["age_years"], 9);
    assert_eq!(v["stratum"], "high");
    assert!(v["contraindications"].as_array().unwrap().is_empty());
    let bad = fixture("fixtures/patients/bad-sige.toml");
    let (code, _, err) = run(&["risk", "--patient", bad.to_str().unwrap()]);
    assert_eq!(code, Some(65));
    assert!(err.contains("bad-sige.toml:5:1"), "{err}");
    assert!(err.contains("did you mean `asthma`?"), "{err}");
}

#[test]
fn omalizumab_of_the_issue_example() {
    let (code, v) = json(&[
        "omalizumab",
        "--total-ige",
        "410",
        "--weight",
        "31",
        "--age",
        "9",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["dose_mg"], 450);
    assert_eq!(v["every_weeks"], 4);
    assert_eq!(v["injections"], 3);
    assert_eq!(v["label"], "eu");
    assert!(v["reminder"].as_str().unwrap().contains("PRE-TREATMENT"));
}

#[test]
fn omalizumab_refusals_exit_1() {
    let (code, out, _) = run(&[
        "omalizumab",
        "--total-ige",
        "2000",
        "--weight",
        "60",
        "--age",
        "30",
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("Not dosable per label"), "{out}");
    let (code, out, _) = run(&[
        "omalizumab",
        "--total-ige",
        "550",
        "--weight",
        "85",
        "--age",
        "30",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("UNVERIFIED")
            && out.contains("450 mg or 525 mg")
            && out.contains("official label"),
        "{out}"
    );
    let (code, out, _) = run(&[
        "omalizumab",
        "--total-ige",
        "410",
        "--weight",
        "31",
        "--age",
        "9",
        "--label",
        "us",
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("No table"), "{out}");
    let (code, v) = json(&[
        "omalizumab",
        "--total-ige",
        "410",
        "--weight",
        "70",
        "--age",
        "30",
        "--label",
        "us",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        (v["dose_mg"].as_i64(), v["every_weeks"].as_i64()),
        (Some(300), Some(2))
    );
}

const PLAN: [&str; 5] = [
    "plan",
    "--template",
    "example-hdm-rush-3d",
    "--start",
    "2026-12-07T08:00",
];
const HEALTHY: [&str; 4] = ["--fev1", "95", "--asthma", "controlled"];

#[test]
fn plan_json_has_the_documented_fields() {
    let (code, v) = json(
        &[
            &PLAN[..],
            &[
                "--age",
                "34",
                "--weight",
                "70",
                "--sige",
                "2",
                "--total-ige",
                "410",
            ],
            &HEALTHY,
            &["--json"],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0));
    assert_eq!(v["template"]["id"], "example-hdm-rush-3d");
    assert_eq!(v["template"]["evidence"], "example");
    assert_eq!(v["assessment"]["stratum"], "low");
    for k in ["sige_class", "ratio_percent", "age_group", "reasons"] {
        assert!(!v["assessment"][k].is_null(), "{k}");
    }
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10);
    let s = &steps[0];
    for k in [
        "index",
        "day",
        "date",
        "time",
        "vial",
        "concentration",
        "unit",
        "volume_ml",
        "dose",
        "cumulative_dose",
        "observation_min",
    ] {
        assert!(!s[k].is_null(), "step field {k}");
    }
    assert_eq!(
        (s["date"].as_str(), s["time"].as_str()),
        (Some("2026-12-07"), Some("08:00"))
    );
    assert_eq!(steps[9]["cumulative_dose"].to_string(), "238110");
    assert_eq!(v["maintenance"]["first_dates"][0], "2026-12-23");
    assert!(v["warnings"][0].as_str().unwrap().starts_with("EXAMPLE"));
    assert!(
        v["adjustments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| !a["source"].as_str().unwrap().is_empty())
    );
}

#[test]
fn plan_refuses_a_high_risk_child_without_pretreatment() {
    let (code, out, err) = run(&[&PLAN[..], &CHILD, &["--weight", "31"], &HEALTHY].concat());
    assert_eq!(code, Some(1), "{err}");
    assert!(out.starts_with("NO RUSH PLAN"), "{out}");
    assert!(
        out.contains("Pretreat with omalizumab for 8 more weeks"),
        "{out}"
    );
    assert!(out.contains("2027-02-01"), "{out}");
    assert!(out.contains("alutard-hdm-cluster-7w"), "{out}");
    let (code, v) = json(&[&PLAN[..], &CHILD, &["--weight", "31", "--json"], &HEALTHY].concat());
    assert_eq!(code, Some(1));
    assert_eq!(v["refusal"], "risk_not_accepted");
    assert!(v["plan"].is_null());
}

#[test]
fn plan_with_accepted_risk_shows_the_reason_everywhere() {
    let reason = "Parents declined omalizumab; inpatient ward";
    let (code, out, _) = run(&[
        &PLAN[..],
        &CHILD,
        &["--weight", "31", "--accept-risk", reason],
        &HEALTHY,
    ]
    .concat());
    assert_eq!(code, Some(0));
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .contains("RISK ACCEPTED BY THE PHYSICIAN"),
        "{out}"
    );
    assert!(out.matches(reason).count() >= 2, "{out}");
    let (_, v) = json(
        &[
            &PLAN[..],
            &CHILD,
            &["--weight", "31", "--accept-risk", reason, "--json"],
            &HEALTHY,
        ]
        .concat(),
    );
    assert_eq!(v["accepted_risk"], reason);
    assert!(v["warnings"][0].as_str().unwrap().contains(reason));
    let (code, _, _) = run(&[
        &PLAN[..],
        &CHILD,
        &["--weight", "31", "--accept-risk", " "],
        &HEALTHY,
    ]
    .concat());
    assert_eq!(code, Some(2));
}

#[test]
fn plan_refuses_contraindications() {
    let (code, out, _) = run(&[
        &PLAN[..],
        &[
            "--age",
            "34",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
            "--fev1",
            "60",
            "--asthma",
            "controlled",
        ],
    ]
    .concat());
    assert_eq!(code, Some(1));
    assert!(
        out.contains("NO RUSH PLAN: a contraindication applies"),
        "{out}"
    );
    assert!(
        out.contains("FEV1 below 70 % predicted in an adult (FEV1 60 % predicted)"),
        "{out}"
    );
    let (code, out, _) = run(&[
        &PLAN[..],
        &[
            "--age",
            "34",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
            "--beta-blocker",
            "--accept-risk",
            "x",
        ],
        &HEALTHY,
    ]
    .concat());
    assert_eq!(code, Some(1));
    assert!(out.contains("beta-blocker"), "{out}");
}

#[test]
fn plan_input_errors() {
    let base = [
        "--age",
        "34",
        "--weight",
        "70",
        "--sige",
        "2",
        "--total-ige",
        "410",
    ];
    let (code, _, err) = run(&[
        &[
            "plan",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-06",
        ][..],
        &base,
    ]
    .concat());
    assert_eq!(code, Some(65));
    assert!(
        err.contains("not a clinic day; the next clinic day is 2026-12-07"),
        "{err}"
    );
    let (code, _, err) = run(&[
        &[
            "plan",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "tomorrow",
        ][..],
        &base,
    ]
    .concat());
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = run(&[
        "plan",
        "--template",
        "example-hdm-rush-3d",
        "--start",
        "2026-12-07",
        "--age",
        "34",
        "--sige",
        "2",
        "--total-ige",
        "410",
    ]);
    assert_eq!(code, Some(65));
    assert!(err.contains("--weight"), "{err}");
    let (code, _, _) = run(&[
        &["plan", "--template", "nope", "--start", "2026-12-07"][..],
        &base,
    ]
    .concat());
    assert_eq!(code, Some(2));
}

#[test]
fn rules_directory_overrides_a_bundled_rule() {
    let dir = tempfile::tempdir().unwrap();
    let risk = std::fs::read_to_string(crate::root().join("rules/risk.toml")).unwrap();
    let changed = risk.replacen(
        "[paediatric_below_years]\nvalue = 18",
        "[paediatric_below_years]\nvalue = 12",
        1,
    );
    assert_ne!(risk, changed);
    std::fs::write(dir.path().join("risk.toml"), changed).unwrap();
    let (code, v) = json(&[
        "risk",
        "--age",
        "14",
        "--sige",
        "2",
        "--total-ige",
        "410",
        "--json",
        "--rules",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["age_group"], "adult");
    std::fs::write(
        dir.path().join("risk.toml"),
        risk.replacen("certainty = \"I\"\n", "", 1),
    )
    .unwrap();
    let (code, _, err) = run(&[
        "risk",
        "--age",
        "14",
        "--sige",
        "2",
        "--total-ige",
        "410",
        "--rules",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(65));
    assert!(
        err.contains("risk.toml") && err.contains("certainty"),
        "{err}"
    );
}

#[test]
fn the_clinic_s_configuration_file_sets_hours_days_and_the_record() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "opens = \"09:15\"\ncloses = \"16:00\"\nclinic_days = [\"mon\", \"wed\"]\nclinic_name = \"Ward 4\"\n",
    )
    .expect("write");
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "--config",
            cfg.to_str().expect("path"),
            "plan",
            "--template",
            "example-hdm-rush-3d",
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
            "92",
            "--asthma",
            "controlled",
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = crate::ritplan().args(&args).output().expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v
    };
    let v = plan(&[]);
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["time"], "09:15", "opening time from the file");
    assert!(
        steps.iter().all(|s| {
            let d =
                chrono::NaiveDate::parse_from_str(s["date"].as_str().expect("date"), "%Y-%m-%d")
                    .expect("date");
            matches!(
                chrono::Datelike::weekday(&d),
                chrono::Weekday::Mon | chrono::Weekday::Wed
            )
        }),
        "clinic days from the file"
    );
    // A flag wins over the file.
    let v = plan(&["--opens", "08:00"]);
    assert_eq!(v["steps"][0]["time"], "08:00");
    // A bad file: its line and column, exit 65; a missing --config file: exit 74.
    std::fs::write(
        &cfg,
        "opens = \"09:15\"\nclinic_days = [\"mon\", \"someday\"]\n",
    )
    .expect("write");
    let o = risk_with_config(&cfg);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains("config.toml:2:") && err.contains("\"someday\" is not a weekday"),
        "{err}"
    );
    let o = crate::ritplan()
        .args([
            "--config",
            "/nonexistent/ritplan.toml",
            "risk",
            "--age",
            "9",
            "--sige",
            "2",
            "--total-ige",
            "410",
        ])
        .output()
        .expect("run");
    assert_eq!(
        o.status.code(),
        Some(74),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_plan_takes_the_forecast_s_what_ifs() {
    let base = ADULT_PLAN;
    let o = crate::ritplan()
        .args(base)
        .args(["--local", "4=60"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        text.contains("Forecast for the plan from 2026-12-07 08:00"),
        "{text}"
    );
    assert!(
        text.contains("Local reaction 60 mm (band [50, 100) mm): step back 1 dose step"),
        "{text}"
    );
    let o = crate::ritplan()
        .args(base)
        .args(["--reaction", "2=2a", "--json"])
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["plan"]["steps"].as_array().map(Vec::len), Some(10));
    assert_eq!(v["forecast"]["doses"].as_array().map(Vec::len), Some(2));
    assert!(
        v["forecast"]["stops"]
            .as_str()
            .is_some_and(|s| s.starts_with("DO NOT GIVE")),
        "{v}"
    );
    // Without what-ifs the plan's JSON is the plan itself, as before.
    let o = crate::ritplan()
        .args(base)
        .arg("--json")
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v.get("forecast").is_none() && v.get("steps").is_some());
}

#[test]
fn closed_dates_are_skipped_by_the_plan_and_come_from_flags_or_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "closed = [\"2026-12-08\"]\n").expect("write");
    let days = |extra: &[&str]| -> Vec<String> {
        let o = crate::ritplan()
            .args(["--config", cfg.to_str().expect("path")])
            .args(ADULT_PLAN)
            .arg("--json")
            .args(extra)
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["date"].as_str().expect("date").to_string())
            .collect()
    };
    let d = days(&[]);
    assert!(!d.contains(&"2026-12-08".to_string()), "{d:?}");
    assert!(d.contains(&"2026-12-09".to_string()), "{d:?}");
    let d = days(&["--closed", "2026-12-09"]);
    assert!(
        !d.iter().any(|x| x == "2026-12-08" || x == "2026-12-09"),
        "the flag adds to the file: {d:?}"
    );
    std::fs::write(&cfg, "closed = [\"2026-13-01\"]\n").expect("write");
    let o = risk_with_config(&cfg);
    assert_eq!(o.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"2026-13-01\" is not a date"));
}

/// `ritplan --config FILE risk ...` (a command that reads the configuration file and no record).
fn risk_with_config(cfg: &std::path::Path) -> std::process::Output {
    crate::ritplan()
        .args(["--config", cfg.to_str().expect("path")])
        .args(["risk", "--age", "9", "--sige", "2", "--total-ige", "410"])
        .output()
        .expect("run")
}

#[test]
fn the_configuration_file_chooses_the_omalizumab_label_and_a_flag_overrides_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "omalizumab_label = \"us\"\n").expect("write");
    let label = |extra: &[&str]| -> String {
        let o = crate::ritplan()
            .args(["--config", cfg.to_str().expect("path"), "omalizumab"])
            .args([
                "--total-ige",
                "410",
                "--weight",
                "70",
                "--age",
                "30",
                "--json",
            ])
            .args(extra)
            .output()
            .expect("run");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["label"].as_str().expect("label").to_string()
    };
    assert_eq!(label(&[]), "us");
    assert_eq!(label(&["--label", "eu"]), "eu");
    std::fs::write(&cfg, "omalizumab_label = \"uk\"\n").expect("write");
    let o = risk_with_config(&cfg);
    assert_eq!(o.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"uk\" is not an omalizumab label"));
}

/// A low-risk adult's plan of the bundled 3-day rush from Monday 2026-12-07 08:00.
const ADULT_PLAN: [&str; 17] = [
    "plan",
    "--template",
    "example-hdm-rush-3d",
    "--start",
    "2026-12-07T08:00",
    "--age",
    "34",
    "--weight",
    "70",
    "--sige",
    "2",
    "--total-ige",
    "410",
    "--fev1",
    "92",
    "--asthma",
    "controlled",
];
