//! ritplan: a planner for allergen rush immunotherapy (RIT).
//!
//! The library holds everything; the binary (`main.rs`) is a thin shell over [`cli::main`].
//!
//! # The modules
//!
//! The core (pure: no clock, no disk, no printing):
//! - [`units`]: exact dose arithmetic (decimals, never binary floats) and syringe rounding.
//! - [`when`]: the dates and times ritplan accepts (the years 1900 to 2199), parsed and bounded
//!   in one place.
//! - [`zone`]: the clinic's time zone: its wall-clock times to instants and back, at the door
//!   (the core keeps wall-clock times; a time skipped by a change of the clocks is refused).
//! - [`field`]: the values a person enters, named once; each front end words them its own way.
//! - [`diag`], [`tomlread`]: located diagnostics for data files, and reading TOML field by field.
//! - [`gs1`]: GS1 element strings as a scanner types them (GTIN, lot, expiry, serial, GSRN),
//!   parsed into typed values or refused naming what is wrong and where.
//! - [`template`]: the TOML schedule-template format, its validation, the bundled templates.
//! - [`policy`]: rules as data, each threshold with its source and evidence.
//! - [`patient`]: a patient's values, validated; censored laboratory values.
//! - [`risk`]: patient → risk stratum with the reasons, each citing its rule.
//! - [`planner`]: template + assessment + rules + calendar → a dated, risk-adjusted plan.
//! - [`course`]: the treatment-course state machine: events, replay, the next dose, what-if
//!   projections; typed reasons ([`course::Reason::rule`]) and entries
//!   ([`course::EventKind::is_reaction`]).
//!
//! The record and the application layer:
//! - [`store`]: the record (SQLite file or PostgreSQL server): patients, courses with frozen
//!   copies, the append-only, keyed event chain, staff and sessions. It decides nothing clinical.
//! - [`ward`]: the only door to the record: opens it, authenticates staff and checks roles,
//!   loads and verifies courses, decides (through [`course`]) and records with every check inside
//!   the store's transaction. It hands out plain data, [`ward::view`], and makes no English.
//! - [`secure`]: random bytes, hex, and writing a file atomically and privately.
//! - [`timing`]: the time of each phase of a command, printed with `RITPLAN_TIMING` set (the
//!   command line, the ward and the store mark their phases; the core has no clock).
//!
//! The edges:
//! - [`render`]: the words and documents: sentences for typed reasons and decisions, terminal
//!   tables, the PDF protocol and dosing sheet.
//! - [`export`]: the clinic's standard formats: FHIR R4 and iCalendar.
//! - [`cli`]: the command line: flags, commands, exit codes.
//! - `web` (feature `web`): `ritplan serve`, the ward page.
//!
//! # The dependency rule
//!
//! ```text
//! cli, web        → ward → {course, planner, policy, risk, patient, store}
//! render, export  → ward::view and the core (course, planner, policy, template, units)
//! ```
//!
//! The ward imports neither `render` nor `export`; nothing outside the ward imports `store`
//! (the record's types the front ends read are re-exported as `ward::view::*`); `render` and
//! `export` reach the ward only through `ward::view`. A test (`layering.rs`) reads the sources
//! and fails on any breach.
//!
//! ritplan supports clinical judgement; it never replaces it. Every number it shows carries the
//! evidence it rests on.

pub mod audit;
pub mod cli;
pub mod course;
pub mod diag;
pub mod export;
pub mod field;
pub mod gs1;
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
pub mod timing;
pub mod tomlread;
pub mod units;
pub mod ward;
#[cfg(feature = "web")]
pub mod web;
pub mod when;
pub mod zone;
