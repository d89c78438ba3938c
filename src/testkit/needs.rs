//! What a test needs from the machine beyond Rust and a C compiler (a program, a font, a test
//! server), decided in one place for the unit tests and for the command-line suite, which
//! includes this file (`tests/cli/main.rs`).
//!
//! When a need is not met, the test says on stderr what it skipped, naming itself and what is
//! missing (`cargo test -- --nocapture` shows it), and returns early (or leaves out only the
//! checks that need it): a newcomer's `cargo test` passes with Rust and a C compiler alone. With `RITPLAN_TEST_STRICT=1` (`.ci/run` sets it) a
//! missing need fails the test instead, naming it, so that CI runs everything or fails.

use std::path::{Path, PathBuf};

/// The variable that turns every skip into a failure.
pub const STRICT: &str = "RITPLAN_TEST_STRICT";

/// Whether a missing need fails the test: `RITPLAN_TEST_STRICT` set, and not empty or `0`.
pub fn strict() -> bool {
    std::env::var_os(STRICT).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("this test")
        .to_string()
}

/// True when `met`; otherwise a line saying what is skipped and why (`missing`), and false, or in
/// strict mode a failure naming what is missing.
fn decide(met: bool, missing: &str) -> bool {
    if met {
        return true;
    }
    let test = test_name();
    assert!(
        !strict(),
        "{test}: {missing}; {STRICT} is set, so this is a failure, not a skip"
    );
    eprintln!(
        "skipped in {test}: {missing}; what needs it did not run (with {STRICT}=1 this fails)"
    );
    false
}

/// Says on stderr that the running test leaves something out for a reason that is not a missing
/// need (e.g. a test of files when this pass puts every record on the server).
pub fn skipped(why: &str) {
    eprintln!("skipped in {}: {why}", test_name());
}

/// The file that `name` means on PATH, if there is one and it is executable.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(candidate)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }
            #[cfg(not(unix))]
            {
                candidate.is_file()
            }
        })
}

/// Whether the program `name` is on PATH (`package`: the Debian package that has it).
pub fn needs_tool(name: &str, package: &str) -> bool {
    decide(
        on_path(name).is_some(),
        &format!("the program {name} is not on PATH (Debian package {package})"),
    )
}

/// The first of `paths` that is a file; `what` names it and where it comes from.
pub fn needs_file<'a>(paths: &[&'a str], what: &str) -> Option<&'a Path> {
    let found = paths.iter().map(|p| Path::new(*p)).find(|p| p.is_file());
    decide(
        found.is_some(),
        &format!("no {what}: none of {}", paths.join(", ")),
    )
    .then_some(found)
    .flatten()
}

/// A variable's value, if it is set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The test server's URL without a database (`RITPLAN_TEST_POSTGRES`, else
/// `RITPLAN_TEST_COPY_SERVER`; `.ci/run` sets one or the other for each pass), for a test that
/// does nothing without one.
pub fn needs_server() -> Option<String> {
    let base = var("RITPLAN_TEST_POSTGRES").or_else(|| var("RITPLAN_TEST_COPY_SERVER"));
    decide(
        base.is_some(),
        "no PostgreSQL test server (RITPLAN_TEST_POSTGRES or RITPLAN_TEST_COPY_SERVER)",
    )
    .then(|| base.map(|b| b.trim_end_matches('/').to_string()))
    .flatten()
}

/// The value of `name`, a variable that says where something the test uses is (`what`).
pub fn needs_var(name: &str, what: &str) -> Option<String> {
    let value = var(name);
    decide(value.is_some(), &format!("{name} is not set ({what})"))
        .then_some(value)
        .flatten()
}
