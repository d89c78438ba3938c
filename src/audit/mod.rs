//! The outcomes audit (issue 22): per-course facts ([`facts`]) computed from the record under
//! the audit's definitions ([`rules`], `rules/audit.toml`), the statistics its tables use
//! ([`stats`]), and the pseudonymised research export ([`export`]). Pure: no clock, disk or
//! printing; the ward reads the courses and the front ends write the files.

pub mod chart;
pub mod export;
pub mod facts;
pub mod report;
pub mod report_text;
pub mod rules;
pub mod stats;
