//! Snapshots (insta) of what people read: the help, tables and JSON. A change to any of them
//! shows up as a reviewable diff in `tests/cli/snapshots/`; accept it with
//! `INSTA_UPDATE=always cargo test` (or `cargo insta review`) after reading it.

use crate::ritplan;
use crate::ward::{Ward, hh};

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

#[test]
fn help() {
    insta::assert_snapshot!("help", stdout(&["--help"]));
    insta::assert_snapshot!("help_give", stdout(&["give", "--help"]));
    insta::assert_snapshot!("help_board", stdout(&["board", "--help"]));
    insta::assert_snapshot!("help_sheet", stdout(&["sheet", "--help"]));
    insta::assert_snapshot!("help_login", stdout(&["login", "--help"]));
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
