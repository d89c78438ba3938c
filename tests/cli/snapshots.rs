//! Snapshots (insta) of what people read: the help, tables and JSON. A change to any of them
//! shows up as a reviewable diff in `tests/cli/snapshots/`; accept it with
//! `INSTA_UPDATE=always cargo test` (or `cargo insta review`) after reading it.

use crate::ritplan;
use crate::ward::{Ward, hh};

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
