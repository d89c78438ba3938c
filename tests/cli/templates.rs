//! The template commands, run as the real binary.
