//! Timing marks for finding where a command's time goes: with `RITPLAN_TIMING` set (to
//! anything), each [`mark`] prints to standard error the time since the previous mark and
//! since the first, in microseconds; without it, a mark costs one read of a cached flag. The
//! core never marks (it has no clock); the command line, the ward and the store do, around the
//! phases of a recording (see bench/README.md).

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The first mark's instant and the previous one's, when timing is on.
fn state() -> Option<&'static Mutex<(Instant, Instant)>> {
    static STATE: OnceLock<Option<Mutex<(Instant, Instant)>>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            std::env::var_os("RITPLAN_TIMING").map(|_| {
                let now = Instant::now();
                Mutex::new((now, now))
            })
        })
        .as_ref()
}

/// Marks the end of the phase `what` (see the module's documentation).
pub fn mark(what: &str) {
    let Some(state) = state() else { return };
    let Ok(mut s) = state.lock() else { return };
    let now = Instant::now();
    let phase = now.duration_since(s.1).as_micros();
    let total = now.duration_since(s.0).as_micros();
    s.1 = now;
    eprintln!("ritplan timing: {what:<28} {phase:>7} µs  (at {total:>7} µs)");
}
