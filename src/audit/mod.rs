//! The outcomes audit (issue 22).

pub mod stats;
