//! `ritplan audit` through the real binary: a small generated clinic whose counts are known, the
//! pseudonymised CSV (every column and value against the allowed ones; no name, id, date of
//! birth, staff name or date anywhere), exports that join under one study key and not under
//! another, and the refusals (a nurse, a short key, a window that ends before it starts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::ward::{As, Ward};

const NOW: &str = "2026-12-20T09:00";

/// Three patients, each with one course from 2026-12-07:
/// - P1 (adult, sIgE 2, total IgE 410): the first rush day given, still in up-dosing;
/// - P2 (14 years, sIgE 2, total IgE >1000, a censored value): step 1, a late grade 1 SR
///   (onset 45 min), stopped by the physician;
/// - P3 (adult, sIgE 2, total IgE 410): two omalizumab injections before rush day 1, then the
///   first rush day given.
fn clinic() -> (Ward, Vec<String>) {
    let w = Ward::new();
    let c1 = w.rush_course();
    w.give_visit("2026-12-07T08:00", &c1, 0);

    w.add_patient(
        "2026-11-01T09:00",
        "P2",
        "Li Na",
        "2012-03-04",
        "50",
        "2",
        ">1000",
    );
    let c2 = w.start(
        "2026-12-01T09:00",
        "P2",
        "example-hdm-rush-3d",
        "2026-12-07T08:00",
        &[],
    );
    let end = w.give_next("2026-12-07T08:00", &c2, 0);
    assert!(end.starts_with("2026-12-07"), "{end}");
    w.ok(
        "2026-12-07T09:00",
        &[
            "react",
            &c2,
            "--grade",
            "1z",
            "--onset-min",
            "45",
            "--symptom",
            "urticaria",
            "--by",
            "Dr Wang",
        ],
    );
    w.ok(
        "2026-12-07T10:00",
        &[
            "review",
            &c2,
            "--decision",
            "stop",
            "--reason",
            "family moved away",
        ],
    );

    w.add_patient(
        "2026-10-01T09:00",
        "P3",
        "Wang Fang",
        "1985-07-08",
        "70",
        "2",
        "410",
    );
    let (code, out, err) = w.run_as(
        As::Physician,
        "2026-11-01T09:00",
        &[
            "omalizumab",
            "start",
            "--patient",
            "P3",
            "--start",
            "2026-11-02",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let om = out.lines().next().expect("id").trim().to_string();
    for day in ["2026-11-02", "2026-11-30"] {
        let (code, _, err) = w.run_as(
            As::Nurse,
            &format!("{day}T09:00"),
            &["omalizumab", "give", &om, "--patient", "P3"],
        );
        assert_eq!(code, Some(0), "{day}: {err}");
        w.ok(
            &format!("{day}T11:00"),
            &["observe", &om, "--local-mm", "0"],
        );
    }
    let c3 = w.start(
        "2026-12-01T09:00",
        "P3",
        "example-hdm-rush-3d",
        "2026-12-07T08:00",
        &[],
    );
    w.give_visit("2026-12-07T08:00", &c3, 0);
    // P3's baseline follow-up, 6 days before rush day 1 (ACQ-5 mean 1.4, no medication).
    w.ok(
        "2026-12-07T12:00",
        &[
            "followup",
            "add",
            "--patient",
            "P3",
            "--date",
            "2026-12-01",
            "--acq",
            "1,2,0,1,3",
            "--acq-version",
            "5",
            "--no-medication",
        ],
    );
    (w, vec![c1, c2, c3, om])
}

fn audit(w: &Ward, who: As, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    w.run_as(who, NOW, &all)
}

fn key_file(dir: &Path, name: &str, key: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, key).expect("write key");
    p.display().to_string()
}

/// One CSV line's cells (RFC 4180 quoting; the fixture's cells hold no line break).
fn split(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    cells.push(cur);
    cells
}

/// The CSV as rows of (column → value).
fn read_csv(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            let cells = split(l);
            assert_eq!(cells.len(), header.len(), "{l}");
            header.iter().cloned().zip(cells).collect()
        })
        .collect();
    (header, rows)
}

const COLUMNS: &[&str] = &[
    "patient_key",
    "course_key",
    "arm",
    "omb_doses_before",
    "omb_days_first_dose_to_rush",
    "omb_weeks_recorded",
    "age_years",
    "age_group",
    "mite_sige_kua_l",
    "sige_censored",
    "sige_class",
    "sige_band",
    "total_ige_ku_l",
    "tige_band",
    "ratio_pct",
    "ratio_band10",
    "ratio_band16",
    "risk_stratum",
    "premed_required",
    "premed_taken",
    "premed_accepted",
    "template_id",
    "product",
    "inj_rush",
    "inj_up_dosing",
    "inj_consolidation",
    "inj_maintenance",
    "inj_total",
    "sr_any",
    "sr_count",
    "sr_max_grade",
    "sr_epinephrine_any",
    "sr_onset_min_first",
    "sr_phase_first",
    "sr_late_any",
    "sr_late_count",
    "lr_any",
    "lr_count",
    "lr_large_any",
    "lr_large_count",
    "lr_max_mm",
    "target_dose",
    "reached_target",
    "days_to_target",
    "max_dose_pct_of_target",
    "course_status",
    "stop_cause",
    "stopped_after_sr",
    "acq_0",
    "acq_12m",
    "acq_delta",
    "med_score_0",
    "med_score_12m",
    "med_score_delta",
];

/// Whether `v` is an allowed value of column `c`.
fn allowed(c: &str, v: &str) -> bool {
    let int = |v: &str| v.parse::<u64>().is_ok();
    let int_or_empty = |v: &str| v.is_empty() || int(v);
    let dec_or_empty = |v: &str| v.is_empty() || v.parse::<f64>().is_ok();
    let boolean = |v: &str| v == "true" || v == "false";
    let lab = |v: &str| {
        let n = v.trim_start_matches(['<', '>']);
        n.parse::<f64>().is_ok()
    };
    match c {
        "patient_key" | "course_key" => {
            v.len() == 64
                && v.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }
        "arm" => ["rit", "rit_omb_pre"].contains(&v),
        "age_group" => ["<18", ">=18"].contains(&v),
        "age_years" => int(v) || v == ">=90",
        "sige_band" => ["0", "1-2", "3-6", "unknown"].contains(&v),
        "tige_band" => ["<100", "100-<400", ">=400", "unknown"].contains(&v),
        "ratio_band10" => ["<10", ">=10", "unknown"].contains(&v),
        "ratio_band16" => ["<=16", ">16", "unknown"].contains(&v),
        "risk_stratum" => ["low", "intermediate", "high"].contains(&v),
        "mite_sige_kua_l" | "total_ige_ku_l" => lab(v),
        "ratio_pct" => v.is_empty() || lab(v),
        "sige_class" => v.split('-').all(|p| p.parse::<u8>().is_ok_and(|n| n <= 6)),
        "template_id" => v == "example-hdm-rush-3d",
        "product" => {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " -().,".contains(c))
        }
        "target_dose" => {
            v.ends_with("SQ-U")
                && v.trim_end_matches("SQ-U")
                    .trim()
                    .replace(' ', "")
                    .parse::<u64>()
                    .is_ok()
        }
        "sr_phase_first" => ["", "rush", "up-dosing", "consolidation", "maintenance"].contains(&v),
        "course_status" => ["completed", "stopped", "censored"].contains(&v),
        "stop_cause" => v.is_empty() || v.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "sige_censored" | "premed_required" | "sr_any" | "sr_epinephrine_any" | "sr_late_any"
        | "lr_any" | "lr_large_any" | "reached_target" | "stopped_after_sr" => boolean(v),
        "sr_max_grade" => v.is_empty() || v.parse::<u8>().is_ok_and(|g| (1..=5).contains(&g)),
        "omb_days_first_dose_to_rush"
        | "omb_weeks_recorded"
        | "sr_onset_min_first"
        | "lr_max_mm"
        | "days_to_target" => int_or_empty(v),
        "max_dose_pct_of_target"
        | "acq_0"
        | "acq_12m"
        | "acq_delta"
        | "med_score_0"
        | "med_score_12m"
        | "med_score_delta" => dec_or_empty(v),
        _ => int(v),
    }
}

#[test]
fn the_audit_counts_a_generated_clinic_and_its_csv_holds_no_identifying_field() {
    let (w, ids) = clinic();
    let dir = tempfile::tempdir().expect("tmp");

    // The rows and counts, as JSON.
    let (code, out, err) = audit(
        &w,
        As::Physician,
        &["--from", "2026-12-01", "--to", "2026-12-31", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let c = &v["counts"];
    assert_eq!(
        (
            c["courses"].as_u64(),
            c["rit"].as_u64(),
            c["rit_omb_pre"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{c}"
    );
    assert_eq!(
        (
            c["stopped"].as_u64(),
            c["censored"].as_u64(),
            c["with_sr"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{c}"
    );
    let rows = v["rows"].as_array().expect("rows");
    let row = |course: &str| {
        rows.iter()
            .find(|r| r["course_id"].as_i64().map(|i| i.to_string()).as_deref() == Some(course))
            .unwrap_or_else(|| panic!("course {course}: {v}"))
    };
    let p2 = row(&ids[1]);
    assert_eq!(p2["age_group"], "<18");
    assert_eq!(p2["total_ige"], ">1000");
    assert_eq!(
        p2["tige_band"], ">=400",
        "the censored value in its documented band"
    );
    assert_eq!(p2["status"], "stopped");
    assert_eq!(p2["stop_cause"], "physician");
    assert_eq!(p2["sr"]["count"], 1);
    assert_eq!(p2["sr"]["late_any"], true);
    assert_eq!(p2["sr"]["first_onset_min"], 45);
    assert_eq!(
        p2["injections"]["rush"].as_u64().unwrap_or(0)
            + p2["injections"]["up_dosing"].as_u64().unwrap_or(0),
        1
    );
    let p3 = row(&ids[2]);
    assert_eq!(p3["arm"], "rit_omb_pre");
    assert_eq!(p3["omb_doses_before"], 2);
    assert_eq!(p3["omb_days_first_dose_to_rush"], 35);
    // The follow-up entry fills the baseline columns; no 12-month score yet.
    assert_eq!(p3["follow_up"]["acq_0"], 1.4, "{p3}");
    assert_eq!(p3["follow_up"]["med_score_0"], 0, "{p3}");
    assert!(p3["follow_up"]["acq_12m"].is_null(), "{p3}");
    assert_eq!(
        v["report"]["tables"]
            .as_array()
            .map(|t| t.iter().map(|t| t["id"].clone()).collect::<Vec<_>>()),
        Some(
            vec!["T1", "T2", "T3", "T4", "T5", "T6"]
                .into_iter()
                .map(Value::from)
                .collect()
        ),
    );
    insta::assert_snapshot!(
        "audit_report_json",
        serde_json::to_string_pretty(&v["report"]).expect("json")
    );
    let p1 = row(&ids[0]);
    assert_eq!(
        (p1["arm"].as_str(), p1["status"].as_str()),
        (Some("rit"), Some("censored"))
    );
    assert!(
        p1["injections"]["rush"].as_u64().unwrap_or(0)
            + p1["injections"]["up_dosing"].as_u64().unwrap_or(0)
            > 1,
        "{p1}"
    );
    // A window without them: no rows.
    let (code, out, err) = audit(
        &w,
        As::Physician,
        &["--from", "2026-01-01", "--to", "2026-11-30", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let none: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(none["counts"]["courses"], 0, "{none}");

    // The CSV and its dictionary.
    let key_a = key_file(
        dir.path(),
        "a.key",
        "study key A: 0123456789abcdef0123456789abcdef\n",
    );
    let csv_a = dir.path().join("a.csv");
    let (code, out, err) = audit(
        &w,
        As::Physician,
        &[
            "--csv",
            &csv_a.display().to_string(),
            "--study-key-file",
            &key_a,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Wrote 3 course rows"), "{out}");
    let (header, rows) = read_csv(&csv_a);
    assert_eq!(header, COLUMNS, "the columns, in order");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter().filter(|r| r["acq_0"] == "1.4").count(),
        1,
        "P3's baseline ACQ in the CSV"
    );
    for r in &rows {
        for (c, v) in r {
            assert!(allowed(c, v), "column {c}: {v:?} is not an allowed value");
        }
    }
    let text = std::fs::read_to_string(&csv_a).expect("csv");
    for needle in [
        "P1",
        "P2",
        "P3",
        "Zhāng Wěi",
        "Zhang",
        "Li Na",
        "Wang Fang",
        "1990-05-01",
        "2012-03-04",
        "1985-07-08",
        "Dr Wang",
        "RN Li",
        "dr.wang",
        "rn.li",
        "family moved",
        "2026-",
    ] {
        assert!(
            !text.to_lowercase().contains(&needle.to_lowercase()),
            "{needle:?} in the CSV:\n{text}"
        );
    }
    // No course id is a key, and no key is any id's plain hash.
    for r in &rows {
        for id in &ids {
            assert_ne!(&r["course_key"], id);
            assert_ne!(&r["patient_key"], id);
        }
    }
    let dict =
        std::fs::read_to_string(dir.path().join("a.csv.dictionary.csv")).expect("dictionary");
    for c in COLUMNS {
        assert!(
            dict.lines().any(|l| l.starts_with(&format!("{c},"))),
            "{c} not in the dictionary"
        );
    }
    assert!(
        dict.contains("index-study-2025") && dict.contains("evidence: example"),
        "{dict}"
    );

    // The same key: the same patient and course keys (the exports join); another key: none.
    let csv_a2 = dir.path().join("a2.csv");
    audit(
        &w,
        As::Physician,
        &[
            "--csv",
            &csv_a2.display().to_string(),
            "--study-key-file",
            &key_a,
            "--dates",
            "shifted",
        ],
    );
    let (header2, rows_a2) = read_csv(&csv_a2);
    assert!(
        header2.contains(&"rush_day1_shifted".to_string()),
        "{header2:?}"
    );
    let keys = |rows: &[BTreeMap<String, String>], c: &str| -> BTreeSet<String> {
        rows.iter().map(|r| r[c].clone()).collect()
    };
    assert_eq!(keys(&rows, "patient_key"), keys(&rows_a2, "patient_key"));
    assert_eq!(keys(&rows, "course_key"), keys(&rows_a2, "course_key"));
    let key_b = key_file(
        dir.path(),
        "b.key",
        "study key B: 0123456789abcdef0123456789abcdef\n",
    );
    let csv_b = dir.path().join("b.csv");
    audit(
        &w,
        As::Physician,
        &[
            "--csv",
            &csv_b.display().to_string(),
            "--study-key-file",
            &key_b,
        ],
    );
    let (_, rows_b) = read_csv(&csv_b);
    assert_eq!(rows_b.len(), 3);
    assert!(keys(&rows, "patient_key").is_disjoint(&keys(&rows_b, "patient_key")));
    assert!(keys(&rows, "course_key").is_disjoint(&keys(&rows_b, "course_key")));
    // Shifted dates: every patient's rush day 1 (2026-12-07) moved by 1 to 180 days, never kept.
    let day1 = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
    for r in &rows_a2 {
        let d: chrono::NaiveDate = r["rush_day1_shifted"].parse().expect("a date");
        let shift = (d - day1).num_days().abs();
        assert!((1..=180).contains(&shift), "{d}");
    }
}

#[test]
fn the_audit_refuses_a_nurse_a_short_key_and_a_window_that_ends_before_it_starts() {
    let w = Ward::new();
    w.rush_course();
    let dir = tempfile::tempdir().expect("tmp");
    let (code, out, err) = audit(&w, As::Nurse, &["--json"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("physician"), "{err}");
    let (code, _, err) = audit(
        &w,
        As::Physician,
        &["--from", "2026-12-31", "--to", "2026-12-01"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--from 2026-12-31 is after --to 2026-12-01"),
        "{err}"
    );
    let short = key_file(dir.path(), "short.key", "too short\n");
    let csv = dir.path().join("out.csv");
    let (code, _, err) = audit(
        &w,
        As::Physician,
        &[
            "--csv",
            &csv.display().to_string(),
            "--study-key-file",
            &short,
        ],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(
        err.contains("9 bytes") && err.contains("at least 32"),
        "{err}"
    );
    assert!(!csv.exists());
    // A CSV needs a key.
    let (code, _, err) = audit(&w, As::Physician, &["--csv", &csv.display().to_string()]);
    assert_eq!(code, Some(2), "{err}");
    // The physician's summary.
    let (code, out, err) = audit(&w, As::Physician, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("1 courses: 1 rush immunotherapy alone, 0 omalizumab-pretreated"),
        "{out}"
    );
    assert!(out.contains("Observational data, not randomised"), "{out}");
}

#[test]
fn a_clinics_audit_definitions_replace_the_bundled_ones_and_a_broken_file_is_located() {
    let w = Ward::new();
    w.rush_course();
    let rules = tempfile::tempdir().expect("tmp");
    let bundled =
        std::fs::read_to_string(crate::root().join("rules/audit.toml")).expect("audit.toml");
    let file = rules.path().join("audit.toml");
    std::fs::write(
        &file,
        bundled.replace("adult_from_years = 18", "adult_from_years = 40"),
    )
    .expect("write");
    let dir = rules.path().display().to_string();
    let (code, out, err) = audit(&w, As::Physician, &["--rules", &dir, "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    // P1 is 36 at the start: under the clinic's edge of 40.
    assert_eq!(v["rows"][0]["age_group"], "<40", "{v}");
    assert_eq!(v["definitions"]["adult_from_years"]["value"], 40);
    std::fs::write(
        &file,
        bundled.replace("high_from = \"above\"", "high_from = \"over\""),
    )
    .expect("write");
    let (code, out, err) = audit(&w, As::Physician, &["--rules", &dir, "--json"]);
    assert_eq!(code, Some(65), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("audit.toml:") && err.contains("high_from \"over\""),
        "{err}"
    );
}

#[test]
fn the_audit_prints_its_tables_with_their_footers_in_100_columns() {
    let (w, _) = clinic();
    let (code, out, err) = audit(
        &w,
        As::Physician,
        &["--from", "2026-12-01", "--to", "2026-12-31"],
    );
    assert_eq!(code, Some(0), "{err}");
    for heading in [
        "T1  Baseline by arm",
        "T2  Safety by arm",
        "T3  Completion by arm",
        "T4  Systemic reactions by stratum and arm",
        "T5  Systemic reactions by mite sIgE class (trend)",
        "T6  Asthma control and medication at 12 months",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(heading)),
            "{heading}:\n{out}"
        );
    }
    // Every table's footer (the text wraps it: one count per table).
    for needle in [
        "· Window: rush day 1",
        "· Arm: RIT+Omb-pre = at least 1",
        "· Grading: systemic reactions (SR) by the WAO grading",
        "· p-values not adjusted for multiplicity.",
        "· Observational data, not randomised: compare with caution.",
    ] {
        assert_eq!(out.matches(needle).count(), 6, "{needle}:\n{out}");
    }
    // Two of the three courses are still in up-dosing: censored, counted in every footer.
    assert_eq!(
        out.matches("2 censored (still in up-dosing at").count(),
        6,
        "{out}"
    );
    assert!(out.contains("no follow-up recorded"), "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("injections within a patient are not independent"),
        "{out}"
    );
    for l in out.lines() {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    eprintln!("{out}");
}

#[test]
fn the_audit_report_pdf_has_the_counts_both_charts_and_the_tables_and_only_a_physician_writes_it() {
    let (w, _) = clinic();
    let dir = tempfile::tempdir().expect("tmp");
    let pdf = dir.path().join("report.pdf");
    let path = pdf.display().to_string();
    // A nurse is refused before anything is written.
    let (code, _, err) = audit(&w, As::Nurse, &["--out", &path]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("physician"), "{err}");
    assert!(!pdf.exists());
    let (code, out, err) = audit(&w, As::Physician, &["--out", &path]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!("Wrote the report to {path}.")),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pdf).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "written privately");
    }
    let pages =
        ritplan::render::pdf::extract_text(&std::fs::read(&pdf).expect("pdf")).expect("parse");
    let text = pages.concat().join("\n");
    for want in [
        "3 courses with rush day 1 up to 2026-12-20",
        "2 rush immunotherapy alone, 1",
        "Systemic reactions: courses with any SR, by stratum and arm",
        "Age group (years)",
        // The stopped course with its reaction counts; the two still in up-dosing do not
        // (as in T4), and the chart says so.
        "RIT 1/1",
        "2 in up-dosing, not counted",
        "Completion: courses that reached the target dose",
        "days from rush day 1",
        // The tables T1-T6 after the charts, each with its footer.
        "T1  Baseline by arm",
        "T2  Safety by arm",
        "T3  Completion by arm",
        "T4  Systemic reactions by stratum and arm",
        "T5  Systemic reactions by mite sIgE class (trend)",
        "T6  Asthma control and medication at 12 months by ratio band",
        "Mantel–Haenszel pooled OR",
        "· p-values not adjusted for multiplicity.",
        "· Observational data, not randomised: compare with caution.",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    assert_eq!(
        text.matches("· p-values not adjusted for multiplicity.")
            .count(),
        6,
        "a footer under each table"
    );
    // A directory in the way is refused, nothing replaced.
    let (code, _, err) = audit(
        &w,
        As::Physician,
        &["--out", &dir.path().display().to_string()],
    );
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("regular file"), "{err}");
}
