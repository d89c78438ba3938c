//! ritplan: a planner for allergen rush immunotherapy (RIT).
//!
//! The library holds the domain; the binary is a thin shell over [`cli::run`].
//!
//! - [`units`]: exact dose arithmetic (decimals, never binary floats) and syringe rounding.
//! - [`template`]: the TOML schedule-template format, its validation, the bundled templates.
//! - [`policy`]: rules as data, each threshold with its source and evidence.
//! - [`patient`]: a patient's values, validated; censored laboratory values.
//! - [`risk`]: patient → risk stratum with the reasons, each citing its rule.
//! - [`course`]: the treatment-course state machine: events, replay, the next dose.
//! - [`planner`]: template + assessment + rules + calendar → a dated, risk-adjusted plan.
//! - [`store`]: the SQLite record: patients, courses with frozen copies, the append-only event log.
//! - [`diag`], [`tomlread`]: located diagnostics for data files.
//! - [`render`]: terminal tables.
//! - [`cli`]: the command line: flags, commands, exit codes.
//!
//! ritplan supports clinical judgement; it never replaces it. Every number it shows carries the
//! evidence it rests on.

pub mod cli;
pub mod course;
pub mod diag;
pub mod export;
#[cfg(test)]
mod layering;
pub mod patient;
pub mod planner;
pub mod policy;
pub mod render;
pub mod risk;
pub mod secure;
pub mod store;
pub mod template;
#[cfg(test)]
mod testkit;
pub mod tomlread;
pub mod units;
pub mod ward;
#[cfg(feature = "web")]
pub mod web;
