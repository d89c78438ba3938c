//! The template commands, run as the real binary.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{fixture, ritplan};

fn stdout_of(args: &[&str]) -> String {
    let out = ritplan().args(args).output().expect("run ritplan");
    assert!(
        out.status.success(),
        "ritplan {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&stdout_of(args)).expect("valid JSON")
}

#[test]
fn templates_lists_the_bundled_schedules_with_their_evidence() {
    let text = stdout_of(&["templates"]);
    for id in [
        "alutard-hdm-cluster-7w",
        "alutard-hdm-conventional-15w",
        "alutard-hdm-slow-25w",
        "example-hdm-rush-3d",
    ] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    assert!(text.contains("label [C-partial]"));
    assert!(text.contains("example [I]"));
    assert!(text.contains("unverified [C-partial]"));
    // The example and unverified templates carry their warning on the listing itself.
    assert!(text.contains("! example-hdm-rush-3d: EXAMPLE schedule"));
    assert!(text.contains("! alutard-hdm-slow-25w: UNVERIFIED schedule"));
    assert!(!text.contains("! alutard-hdm-conventional-15w"));
}

#[test]
fn templates_json_has_stable_fields_and_exact_numbers() {
    let v = json_of(&["templates", "--json"]);
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 6);
    let cluster = rows
        .iter()
        .find(|r| r["id"] == "alutard-hdm-cluster-7w")
        .expect("cluster");
    assert_eq!(cluster["kind"], "cluster");
    assert_eq!(cluster["evidence"], "label");
    assert_eq!(cluster["certainty"], "C-partial");
    assert_eq!(cluster["steps"], 11);
    assert_eq!(cluster["days"], 7);
    assert_eq!(cluster["span_days"], 43);
    assert_eq!(cluster["target_dose"].to_string(), "100000");
    assert_eq!(cluster["unit"], "SQ-U");
    let rush = rows
        .iter()
        .find(|r| r["id"] == "example-hdm-rush-3d")
        .expect("rush");
    assert_eq!(rush["evidence"], "example");
    assert!(rush["warnings"][0].as_str().unwrap().starts_with("EXAMPLE"));
}

#[test]
fn show_prints_steps_with_vial_volume_dose_cumulative_and_observation() {
    let text = stdout_of(&["template", "show", "alutard-hdm-conventional-15w"]);
    assert!(text.contains("evidence: label [C]"));
    // Step 10 switches to vial 4: 0.1 mL of 100 000 SQ-U/mL = 10 000 SQ-U; cumulative 25 540.
    let step10 = text
        .lines()
        .find(|l| l.trim_start().starts_with("10 "))
        .expect("step 10 row");
    for part in [
        "Vial 4 (100 000 SQ-U/mL)",
        "red",
        "0.1 mL",
        "10 000 SQ-U",
        "25 540 SQ-U",
        "30",
    ] {
        assert!(step10.contains(part), "{part:?} not in {step10:?}");
    }
    assert!(text.contains("Maintenance: 1.0 mL of Vial 4 = 100 000 SQ-U"));
    assert!(text.contains("Sources:"));
}

#[test]
fn show_json_has_exact_doses_and_cumulative_doses() {
    let v = json_of(&["template", "show", "alutard-hdm-cluster-7w", "--json"]);
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 11);
    assert_eq!(steps[0]["volume_ml"].to_string(), "0.1");
    assert_eq!(steps[0]["dose"].to_string(), "10");
    assert_eq!(steps[0]["concentration"].to_string(), "100");
    assert_eq!(steps[10]["cumulative_dose"].to_string(), "235110");
    assert_eq!(steps[10]["provenance"]["certainty"], "C-partial");
    assert_eq!(steps[1]["min_interval_min"], 30);
    assert!(steps[0]["min_interval_min"].is_null());
    assert_eq!(
        v["maintenance"]["first_intervals_weeks"],
        serde_json::json!([2, 4])
    );
    assert_eq!(v["evidence"], "label");
}

#[test]
fn show_of_the_rush_example_says_it_is_an_example() {
    let text = stdout_of(&["template", "show", "example-hdm-rush-3d"]);
    assert!(text.contains("evidence: example [I]"));
    assert!(text.contains("! EXAMPLE schedule: not a published protocol"));
    let v = json_of(&["template", "show", "example-hdm-rush-3d", "--json"]);
    assert!(v["warnings"][0].as_str().unwrap().starts_with("EXAMPLE"));
    // The last injection of each rush day is followed by the longer observation.
    let last_obs: Vec<i64> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["last_of_day"] == true)
        .map(|s| s["observation_min"].as_i64().unwrap())
        .collect();
    assert_eq!(last_obs, [120, 120, 120]);
}

#[test]
fn show_an_unknown_id_is_a_usage_error_with_a_suggestion() {
    let out = ritplan()
        .args(["template", "show", "alutard-hdm-cluster-7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no template has the id"), "{err}");
    assert!(
        err.contains("Did you mean \"alutard-hdm-cluster-7w\"?"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn show_a_broken_file_names_file_line_and_column() {
    let path = fixture("corpus/07-unknown-vial.toml");
    let out = ritplan()
        .args(["template", "show", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[unknown-vial]"), "{err}");
    assert!(err.contains("07-unknown-vial.toml:60:8"), "{err}");
    assert!(err.contains("^^^"), "caret snippet missing: {err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn show_a_user_file_with_bare_and_quoted_times() {
    let path = fixture("fixtures/clinic-templates/clinic-rush-2d.toml");
    let v = json_of(&["template", "show", path.to_str().unwrap(), "--json"]);
    assert_eq!(v["steps"][0]["time"], "08:00");
    assert_eq!(v["steps"][1]["time"], "08:30");
    assert!(v["warnings"][0].as_str().unwrap().starts_with("EXAMPLE"));
}

#[test]
fn check_reports_every_problem_and_exits_65() {
    let good = fixture("corpus/00-valid-base.toml");
    let bad = fixture("corpus/03-unknown-key-typo.toml");
    let out = ritplan()
        .args([
            "template",
            "check",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("00-valid-base.toml: usable (0 errors, 0 warnings)"),
        "{text}"
    );
    assert!(
        text.contains("03-unknown-key-typo.toml: NOT usable (2 errors, 0 warnings)"),
        "{text}"
    );
    assert!(text.contains("help: did you mean `volume_ml`?"), "{text}");
    assert!(
        text.contains("error[missing-field]: step 2 is missing `volume_ml`"),
        "{text}"
    );
}

#[test]
fn check_with_warnings_only_exits_0() {
    let f = fixture("corpus/42-warn-unmeasurable-volume.toml");
    let out = ritplan()
        .args(["template", "check", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("warning[unmeasurable-volume]"), "{text}");
    assert!(
        text.contains("the nearest measurable volume below it is 0.12 mL"),
        "{text}"
    );
}

#[test]
fn check_json_gives_locations() {
    let f = fixture("corpus/12-dose-mismatch.toml");
    let out = ritplan()
        .args(["template", "check", "--json", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v[0]["diagnostics"][0];
    assert_eq!(v[0]["usable"], false);
    assert_eq!(d["code"], "dose-mismatch");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 56);
    assert_eq!(d["column"], 8);
}

#[test]
fn check_of_a_missing_file_is_an_io_error_and_the_others_are_still_checked() {
    let good = fixture("corpus/00-valid-base.toml");
    let out = ritplan()
        .args([
            "template",
            "check",
            "no/such/file.toml",
            good.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no/such/file.toml"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("00-valid-base.toml: usable"));
}

#[test]
fn check_of_a_non_utf8_file_is_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("latin1.toml");
    std::fs::write(&f, b"name = \"caf\xe9\"\n").unwrap();
    let out = ritplan()
        .args(["template", "show", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not UTF-8 text"));
}

#[test]
fn user_template_directories_join_the_catalogue() {
    let dir = fixture("fixtures/clinic-templates");
    let text = stdout_of(&["templates", "--templates", dir.to_str().unwrap()]);
    assert!(text.contains("clinic-rush-2d"), "{text}");
    assert!(
        text.contains("! clinic-rush-2d: EXAMPLE schedule"),
        "{text}"
    );
}

#[test]
fn a_broken_user_template_is_never_silently_skipped() {
    let dir = fixture("fixtures/broken-dir");
    let out = ritplan()
        .args(["templates", "--templates", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[unknown-vial]"), "{err}");
    assert!(err.contains("1 template file could not be used"), "{err}");
}

#[test]
fn a_user_template_reusing_a_bundled_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("copy.toml"),
        std::fs::read_to_string(crate::root().join("schedules/example-hdm-rush-3d.toml")).unwrap(),
    )
    .unwrap();
    let out = ritplan()
        .args(["templates", "--templates", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "error[duplicate-id]: template id \"example-hdm-rush-3d\" is already used by <bundled>"
        ),
        "{err}"
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    for args in [
        vec!["--help"],
        vec!["templates", "--help"],
        vec!["template", "show", "--help"],
        vec!["template", "check", "--help"],
        vec!["risk", "--help"],
        vec!["omalizumab", "--help"],
        vec!["plan", "--help"],
    ] {
        let text = stdout_of(&args);
        assert!(text.contains("Examples:"), "{args:?}:\n{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = ritplan().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = ritplan().args(["template", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let bin = assert_cmd::cargo::cargo_bin!("ritplan");
    let mut child = Command::new(bin)
        .args(["template", "show", "alutard-hdm-slow-25w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end before ritplan writes anything.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn completions_and_manual_pages() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = crate::ritplan()
            .args(["completions", shell])
            .output()
            .expect("run");
        assert!(o.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&o.stdout);
        assert!(
            script.contains("course") && script.contains("give"),
            "{shell}"
        );
    }
    let bash = crate::ritplan()
        .args(["completions", "bash"])
        .output()
        .expect("run");
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("ritplan.bash");
    std::fs::write(&f, &bash.stdout).expect("write");
    if crate::needs::needs_tool("bash", "bash") {
        let check = std::process::Command::new("bash")
            .arg("-n")
            .arg(&f)
            .status()
            .expect("bash");
        assert!(check.success(), "the bash script parses");
    }
    let o = crate::ritplan().arg("man").output().expect("run");
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        page.contains(".TH ritplan 1") && page.contains(".SH SUBCOMMANDS"),
        "{page}"
    );
    let out = dir.path().join("man1");
    let o = crate::ritplan()
        .args(["man", "--out-dir", out.to_str().expect("path")])
        .output()
        .expect("run");
    assert!(o.status.success());
    let give = std::fs::read_to_string(out.join("ritplan-give.1")).expect("page");
    assert!(
        give.contains("ritplan\\-give") && give.contains("\\-\\-patient"),
        "{give}"
    );
    assert!(out.join("ritplan-course-start.1").is_file());
}

#[test]
fn tables_fit_the_terminal_and_stay_whole_in_a_pipe() {
    // In a pipe, the same table is as wide as its cells.
    let o = crate::ritplan().arg("templates").output().expect("run");
    let piped = String::from_utf8_lossy(&o.stdout);
    assert!(piped.lines().any(|l| l.chars().count() > 72), "{piped}");
    if !crate::needs::needs_tool("script", "bsdutils or util-linux") {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin!("ritplan");
    // A terminal of 72 columns (util-linux `script` gives the command a pseudo-terminal).
    let o = std::process::Command::new("script")
        .args([
            "-qc",
            &format!("stty rows 40 cols 72; {} templates", bin.display()),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent/ritplan-tests")
        .output()
        .expect("script (util-linux)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("example-hdm-rush-3d"), "{text}");
    // The table's lines (its rows start with a cell's padding; its rule is ─); the prose
    // note under it is the terminal's to wrap.
    let table: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(' ') || l.starts_with('─'))
        .collect();
    assert!(table.len() > 3, "{text}");
    for line in table {
        assert!(
            line.trim_end().chars().count() <= 72,
            "{} columns: {line}",
            line.chars().count()
        );
    }
}
