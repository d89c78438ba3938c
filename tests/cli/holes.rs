//! Holes an attacker found on the command line, each closed: free text of any size kept for
//! ever, sessions that cross front ends. (The page's holes are tested in `src/web/tests_guard.rs`;
//! dates and `--out` in `inputs.rs`.)

use crate::ward::{Ward, give_args};

/// Refused as bad input (exit 65) naming the field and its limit, and not a byte changed.
fn too_long(w: &Ward, now: &str, args: &[&str], needle: &str) {
    w.ready(now, args);
    let before = w.bytes();
    let (code, out, err) = w.run(now, args);
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(err.contains(needle), "{err}");
    assert_eq!(before, w.bytes(), "a refused entry changed the record");
}

#[test]
fn free_text_is_bounded_and_a_longer_value_changes_nothing() {
    let w = Ward::new();
    let c = w.rush_course();
    let now = "2026-12-07T08:00";
    let reason = "r".repeat(1001);
    too_long(
        &w,
        now,
        &["defer", &c, "--reason", &reason],
        "--reason is 1001 characters long; at most 1000 are recorded",
    );
    let note = "n".repeat(5000);
    too_long(
        &w,
        now,
        &["note", &c, "--text", &note],
        "--text is 5000 characters long; at most 1000",
    );
    let lot = "L".repeat(61);
    too_long(
        &w,
        now,
        &give_args(&c, "P1", "1", "0.1", &["--lot", &lot]),
        "--lot is 61 characters long; at most 60",
    );
    let name = "N".repeat(201);
    too_long(
        &w,
        now,
        &[
            "patient",
            "add",
            "--id",
            "P2",
            "--name",
            &name,
            "--dob",
            "1990-05-01",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
        ],
        "--name is 201 characters long; at most 200",
    );
    // At the limit, it is recorded.
    let reason = "r".repeat(1000);
    let (code, _, err) = w.run(now, &["defer", &c, "--reason", &reason]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn numbers_past_their_bounds_are_refused_by_the_ward_for_the_command_line_too() {
    // The page bounded these; the command line took any whole number. The ward now refuses them
    // for both (exit 65, nothing written).
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next("2026-12-07T08:00", &c, 0);
    let now = "2026-12-07T08:00";
    let before = w.bytes();
    for (args, needle) in [
        (
            vec!["observe", c.as_str(), "--local-mm", "501"],
            "--local-mm 501 is not a whole number of mm from 0 to 500",
        ),
        (
            vec!["react", c.as_str(), "--late-local-mm", "4294967295"],
            "from 0 to 500",
        ),
        (
            vec![
                "react",
                c.as_str(),
                "--grade",
                "1a",
                "--onset-min",
                "2881",
                "--symptom",
                "urticaria",
            ],
            "--onset-min 2881 is not a whole number of minutes from 0 to 2880",
        ),
    ] {
        let (code, out, err) = w.run(now, &args);
        assert_eq!(code, Some(65), "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(before, w.bytes(), "{args:?} changed the record");
    }
}
