//! One module per command or command group. Each parses its flags into typed values, asks the
//! ward (or, for a command that needs no record, the core), and renders the answer; `cli::run`
//! only chooses which.

pub(super) mod audit;
pub(super) mod board;
pub(super) mod completions;
pub(super) mod course;
pub(super) mod db;
pub(super) mod export;
pub(super) mod followup;
pub(super) mod forecast;
pub(super) mod label;
pub(super) mod next;
pub(super) mod omalizumab;
pub(super) mod patient;
pub(super) mod plan;
pub(super) mod record;
pub(super) mod risk;
#[cfg(feature = "web")]
pub(super) mod serve;
pub(super) mod sheet;
pub(super) mod staff;
pub(super) mod templates;
pub(super) mod vial;
