//! Timing marks for finding where a command's time goes: with `RITPLAN_TIMING` set (to
//! anything), each [`mark`] prints to standard error the time since the previous mark and
//! since the first, in microseconds; without it, a mark costs one read of a cached flag. The
//! core never marks (it has no clock); the command line, the ward and the store do, around the
//! phases of a recording (see bench/README.md).
//!
//! Only the thread that made the first mark prints. A mark made on another thread (the audit's
//! second reader) is kept and printed by that thread's next mark: the command line holds
//! standard error's lock while a command runs, so a second thread that printed would wait for
//! it, while the first waited for the second to finish (a deadlock seen with the audit).

use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Instant;

/// The marks made so far, when timing is on.
struct Marks {
    first: Instant,
    previous: Instant,
    /// The thread that prints.
    printer: ThreadId,
    /// Lines marked on other threads, not printed yet.
    waiting: Vec<String>,
}

impl Marks {
    fn new(now: Instant, printer: ThreadId) -> Marks {
        Marks {
            first: now,
            previous: now,
            printer,
            waiting: Vec::new(),
        }
    }

    /// Marks `what` at `now` on thread `on`; returns the lines to print (none on a thread
    /// other than the printer).
    fn mark(&mut self, what: &str, now: Instant, on: ThreadId) -> Vec<String> {
        let phase = now.saturating_duration_since(self.previous).as_micros();
        let total = now.saturating_duration_since(self.first).as_micros();
        self.previous = now;
        let who = if on == self.printer {
            ""
        } else {
            "[other thread] "
        };
        let line = format!("ritplan timing: {who}{what:<28} {phase:>7} µs  (at {total:>7} µs)");
        self.waiting.push(line);
        if on == self.printer {
            std::mem::take(&mut self.waiting)
        } else {
            Vec::new()
        }
    }
}

/// The marks, when timing is on.
fn state() -> Option<&'static Mutex<Marks>> {
    static STATE: OnceLock<Option<Mutex<Marks>>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            std::env::var_os("RITPLAN_TIMING")
                .map(|_| Mutex::new(Marks::new(Instant::now(), std::thread::current().id())))
        })
        .as_ref()
}

/// Marks the end of the phase `what` (see the module's documentation).
pub fn mark(what: &str) {
    let Some(state) = state() else { return };
    let lines = {
        let Ok(mut s) = state.lock() else { return };
        s.mark(what, Instant::now(), std::thread::current().id())
    };
    for line in lines {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_threads_marks_wait_for_the_printers_next_mark() {
        let t0 = Instant::now();
        let printer = std::thread::current().id();
        let mut marks = Marks::new(t0, printer);
        let other = std::thread::spawn(|| std::thread::current().id())
            .join()
            .expect("thread");
        let t = |ms| t0 + std::time::Duration::from_millis(ms);
        assert_eq!(marks.mark("open", t(2), printer).len(), 1);
        assert!(marks.mark("chunk", t(5), other).is_empty());
        assert!(marks.mark("chunk", t(7), other).is_empty());
        let lines = marks.mark("facts", t(10), printer);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("[other thread] chunk") && lines[0].contains("3000 µs"));
        assert!(lines[2].contains("facts") && lines[2].contains("(at   10000 µs)"));
        assert!(!lines[2].contains("other thread"));
    }
}
