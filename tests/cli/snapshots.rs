//! Snapshots (insta) of what people read: the help, tables and JSON. A change to any of them
//! shows up as a reviewable diff in `tests/cli/snapshots/`; accept it with
//! `INSTA_UPDATE=always cargo test` (or `cargo insta review`) after reading it.

use crate::ritplan;
use crate::ward::{As, Ward, give_args, hh};

/// What `ritplan ARGS` prints, 100 columns wide: clap wraps help to the terminal's width when
/// one of the standard streams is a terminal, else to `COLUMNS`; here all three are pipes
/// (assert_cmd pipes stdin too), so `COLUMNS` decides, and the snapshots are the same anywhere.
fn stdout(args: &[&str]) -> String {
    let out = ritplan()
        .env("COLUMNS", "100")
        .args(args)
        .output()
        .expect("run ritplan");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The "Commands:" section of a help text: each subcommand's name and its description as listed
/// (its wrapped lines joined), `help` left out.
fn listed_commands(help: &str) -> Vec<(String, String)> {
    let mut listed: Vec<(String, String)> = Vec::new();
    for line in help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
    {
        let entry = line.strip_prefix("  ").expect("an indented line");
        if entry.starts_with(' ') {
            // A wrapped description goes on under the one before.
            let (_, text) = listed.last_mut().expect("a command before");
            text.push(' ');
            text.push_str(entry.trim());
        } else {
            let (name, text) = entry.split_once(' ').unwrap_or((entry, ""));
            listed.push((name.to_string(), text.trim().to_string()));
        }
    }
    listed.retain(|(name, _)| name != "help");
    listed
}

/// A help text's description: its first paragraph, lines joined; empty when it begins with the
/// usage line.
fn description(help: &str) -> String {
    if help.starts_with("Usage:") {
        return String::new();
    }
    help.lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every help text users can ask for, from the real binary: `ritplan --help` and the `--help`
/// of every subcommand and nested subcommand (found in each help's "Commands:" list), each a
/// snapshot named `help_<command>_<subcommand>`. Each description must be there, where its
/// parent lists it, and differ from its siblings'.
#[test]
fn help() {
    let top = stdout(&["--help"]);
    insta::assert_snapshot!("help", top);
    let mut seen = 0;
    // Commands still to look at: the path to each, and its parent's help.
    let mut todo: Vec<(Vec<String>, String)> = vec![(Vec::new(), top)];
    while let Some((path, help)) = todo.pop() {
        let listed = listed_commands(&help);
        let mut descriptions: Vec<(String, String)> = Vec::new();
        for (name, as_listed) in listed {
            let mut args: Vec<String> = path.clone();
            args.push(name.clone());
            let shown = args.join(" ");
            let child = {
                let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
                with_help.push("--help");
                stdout(&with_help)
            };
            insta::assert_snapshot!(format!("help_{}", args.join("_")), child);
            let own = description(&child);
            assert!(
                !as_listed.is_empty(),
                "`ritplan {shown}` has no description in its parent's list"
            );
            assert!(
                !own.is_empty(),
                "`ritplan {shown} --help` has no description:\n{child}"
            );
            // Listed with the first paragraph of its own help (clap drops the final period).
            assert!(
                own.starts_with(as_listed.trim_end_matches('.')),
                "`ritplan {shown}` is listed as {as_listed:?} but its help says {own:?}"
            );
            if let Some((other, _)) = descriptions.iter().find(|(_, d)| *d == own) {
                panic!("`ritplan {shown}` has the description of its sibling `{other}`: {own:?}");
            }
            descriptions.push((name, own));
            seen += 1;
            todo.push((args, child));
        }
    }
    // The top level's 31 commands and the groups' 23 subcommands (serve included).
    assert!(seen >= 50, "{seen} help texts");
}

#[test]
fn tables_and_json() {
    insta::assert_snapshot!("templates", stdout(&["templates"]));
    insta::assert_snapshot!(
        "risk_json",
        stdout(&[
            "risk",
            "--age",
            "9",
            "--sige",
            "52",
            "--total-ige",
            "410",
            "--json"
        ])
    );
    let w = Ward::new();
    let c = w.rush_course();
    let (code, _, err) = w.give(&hh(7, 8, 0), &c, 1, "0.1");
    assert_eq!(code, Some(0), "{err}");
    insta::assert_snapshot!("board", w.ok(&hh(7, 8, 10), &["board"]));
    insta::assert_snapshot!("board_json", w.ok(&hh(7, 8, 10), &["board", "--json"]));
    insta::assert_snapshot!("next", w.ok(&hh(7, 8, 40), &["next", &c]));
    insta::assert_snapshot!(
        "sheet",
        w.ok(&hh(7, 8, 40), &["sheet", "--date", "2026-12-07"])
    );
}

/// `text` with every SHA-256 in hex (`"…"`, 64 digits) named instead: a chain's hashes and a
/// record's digest differ from one record to another.
fn without_hashes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('"') {
        let (before, from) = rest.split_at(i + 1);
        out.push_str(before);
        let hex = from
            .get(..65)
            .filter(|h| h.ends_with('"') && h[..64].bytes().all(|b| b.is_ascii_hexdigit()));
        rest = match hex {
            Some(_) => {
                out.push_str("[sha-256]\"");
                &from[65..]
            }
            None => from,
        };
    }
    out.push_str(rest);
    out
}

/// `text` with what differs from one record or machine to another named instead: the
/// record's random id and the operating-system user (both from `whoami --json`), and hashes.
fn stable(w: &Ward, text: &str) -> String {
    let who: serde_json::Value =
        serde_json::from_str(&w.ok(&hh(1, 9, 0), &["whoami", "--json"])).expect("json");
    let mut text = without_hashes(text);
    for (field, name) in [("record", "[record id]"), ("os_user", "[os user]")] {
        let value = who[field].as_str().expect(field);
        assert!(!value.is_empty(), "{field}");
        text = text.replace(value, name);
    }
    text
}

/// Every `--json` answer whose fields are a contract (`src/cli/json.rs`), on a training record
/// at fixed times: the field names, their order and the values.
#[test]
fn json_answers() {
    insta::assert_snapshot!("templates_json", stdout(&["templates", "--json"]));
    insta::assert_snapshot!(
        "template_show_json",
        stdout(&["template", "show", "example-hdm-rush-3d", "--json"])
    );
    insta::assert_snapshot!(
        "template_check_json",
        stdout(&[
            "template",
            "check",
            "--json",
            "tests/corpus/42-warn-unmeasurable-volume.toml"
        ])
    );
    insta::assert_snapshot!(
        "omalizumab_json",
        stdout(&[
            "omalizumab",
            "--total-ige",
            "410",
            "--weight",
            "31",
            "--age",
            "9",
            "--json"
        ])
    );
    let plan = [
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
        "--json",
    ];
    insta::assert_snapshot!("plan_json", stdout(&plan));
    insta::assert_snapshot!(
        "plan_what_if_json",
        stdout(&[&plan[..], &["--local", "2=60"]].concat())
    );
    let refused = ritplan()
        .args([&plan[..], &["--beta-blocker"]].concat())
        .output()
        .expect("run ritplan");
    assert_eq!(refused.status.code(), Some(1), "a refusal");
    insta::assert_snapshot!(
        "plan_refusal_json",
        String::from_utf8(refused.stdout).expect("utf-8")
    );
    // A high-risk child without omalizumab: the alternatives, typed in the planner, are the
    // command line's sentences in the JSON.
    let high_risk = ritplan()
        .args([
            "plan",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07",
            "--age",
            "10",
            "--weight",
            "31",
            "--sige",
            "20",
            "--total-ige",
            "100",
            "--json",
        ])
        .output()
        .expect("run ritplan");
    assert_eq!(high_risk.status.code(), Some(1), "a refusal");
    insta::assert_snapshot!(
        "plan_risk_not_accepted_json",
        String::from_utf8(high_risk.stdout).expect("utf-8")
    );

    let w = Ward::new();
    let c = w.rush_course();
    let at = hh(7, 8, 0);
    let patient = w.patient_of(&at, &c);
    let given = w.ok(&at, &give_args(&c, &patient, "1", "0.1", &["--json"]));
    insta::assert_snapshot!("give_json", stable(&w, &given));
    let observed = w.ok(&hh(7, 8, 30), &["observe", &c, "--local-mm", "5", "--json"]);
    insta::assert_snapshot!("observe_json", stable(&w, &observed));
    let now = hh(7, 8, 40);
    for (name, args) in [
        ("whoami_json", vec!["whoami", "--json"]),
        ("patient_list_json", vec!["patient", "list", "--json"]),
        (
            "patient_find_json",
            vec!["patient", "find", "zhāng", "--json"],
        ),
        ("patient_show_json", vec!["patient", "show", "P1", "--json"]),
        ("course_list_json", vec!["course", "list", "--json"]),
        ("course_show_json", vec!["course", "show", &c, "--json"]),
        ("course_log_json", vec!["course", "log", &c, "--json"]),
        ("course_verify_json", vec!["course", "verify", &c, "--json"]),
        ("next_json", vec!["next", &c, "--json"]),
        (
            "forecast_json",
            vec!["forecast", &c, "--local", "2=60", "--json"],
        ),
        (
            "sheet_json",
            vec!["sheet", "--date", "2026-12-07", "--json"],
        ),
        ("staff_list_json", vec!["staff", "list", "--json"]),
        ("settings_show_json", vec!["settings", "show", "--json"]),
        ("verify_json", vec!["verify", "--json"]),
    ] {
        insta::assert_snapshot!(name, stable(&w, &w.ok(&now, &args)));
    }
    w.add_patient(&now, "P2", "Li Na", "2017-03-02", "31", "52", "410");
    let started = w.ok(
        &now,
        &[
            "course",
            "start",
            "--patient",
            "P2",
            "--template",
            "alutard-hdm-cluster-7w",
            "--start",
            "2026-12-14",
            "--json",
        ],
    );
    insta::assert_snapshot!("course_start_json", stable(&w, &started));
    if !w.file_only("the copy's report names the record's file") {
        w.login(As::Admin, &now);
        let to = w.file("copy.db");
        let copy = ["db", "copy", "--to", to.to_str().expect("path"), "--json"];
        let (code, out, err) = w.run_as(As::Admin, &now, &copy);
        assert_eq!(code, Some(0), "{err}");
        let folder = w.file("").display().to_string();
        insta::assert_snapshot!(
            "db_copy_json",
            stable(&w, &out).replace(&folder, "[folder]/")
        );
    }
    // Vials last, so that the record's other answers above stay as they were.
    let vial = [
        "vial",
        "add",
        &c,
        "--vial",
        "4",
        "--lot",
        "AB123",
        "--expires",
        "2027-03-31",
        "--manufacturer",
        "ALK",
        "--prepared",
        "2026-12-01",
        "--volume",
        "5",
        "--json",
    ];
    insta::assert_snapshot!("vial_add_json", stable(&w, &w.ok(&now, &vial)));
    insta::assert_snapshot!(
        "vial_list_json",
        stable(&w, &w.ok(&now, &["vial", "list", "--json"]))
    );
    insta::assert_snapshot!(
        "vial_discard_json",
        stable(
            &w,
            &w.ok(
                &now,
                &[
                    "vial", "discard", "V000001", "--reason", "dropped", "--json"
                ]
            )
        )
    );
}
