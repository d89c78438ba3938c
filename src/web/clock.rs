//! The page's clock: the system clock, or, for a training record, a clock the trainer sets on
//! the page (so that a scenario can move through an observation in minutes, not half an hour).

use std::sync::Mutex;

use chrono::NaiveDateTime;

/// The record's clock, as the page reads it.
pub struct Clock {
    system: Box<dyn Fn() -> NaiveDateTime + Send + Sync>,
    training: Option<Mutex<NaiveDateTime>>,
}

impl Clock {
    /// The system clock (as the clinic's wall clock shows it: `now` converts).
    pub fn system(now: impl Fn() -> NaiveDateTime + Send + Sync + 'static) -> Clock {
        Clock {
            system: Box::new(now),
            training: None,
        }
    }

    /// A training clock, starting at `at`, that the page may set.
    pub fn training(at: NaiveDateTime) -> Clock {
        Clock {
            system: Box::new(|| NaiveDateTime::MIN),
            training: Some(Mutex::new(at)),
        }
    }

    /// Now.
    pub fn now(&self) -> NaiveDateTime {
        match &self.training {
            Some(m) => *m.lock().unwrap_or_else(|p| p.into_inner()),
            None => (self.system)(),
        }
    }

    /// Whether the page may set it.
    pub fn settable(&self) -> bool {
        self.training.is_some()
    }

    /// Sets a training clock; a system clock is never set.
    pub fn set(&self, at: NaiveDateTime) -> bool {
        match &self.training {
            Some(m) => {
                *m.lock().unwrap_or_else(|p| p.into_inner()) = at;
                true
            }
            None => false,
        }
    }
}
