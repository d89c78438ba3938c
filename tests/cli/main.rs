//! Integration tests: the broken-template corpus (through the library) and the real binary.

mod access;
mod audit;
mod backends;
mod board;
mod corpus;
mod courses;
mod followup;
mod holes;
mod inputs;
mod labels;
mod omaboard;
mod omaexport;
mod omalizumab;
// What a test needs beyond Rust and a C compiler (a program, a font, a test server): one file,
// shared with the unit tests.
#[path = "../../src/testkit/needs.rs"]
mod needs;
mod phases;
mod planning;
mod premedication;
mod safety;
mod scan;
mod snapshots;
mod sources;
mod tamper;
mod templates;
mod timezone;
mod vials;
mod ward;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path under tests/.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests").join(rel)
}

/// The real binary, with a clean environment for what ritplan reads.
pub fn ritplan() -> assert_cmd::Command {
    let mut c = assert_cmd::cargo::cargo_bin_cmd!("ritplan");
    // No user configuration file either: the tests say what they use.
    c.env_remove("RITPLAN_DB")
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent/ritplan-tests");
    c
}
