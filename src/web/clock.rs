//! The page's clock: the system clock, or, for a training record, a clock the trainer sets on
//! the page (so that a scenario can move through an observation in minutes, not half an hour).
//!
//! The system clock shows the instant on the clinic's wall clock in the record's time zone as
//! the record holds it now: every request reads the zone from the record (one read of the
//! settings, with their MACs) and gives it to the clock before anything reads the time
//! ([`Clock::follow`]), so an admin's change of the zone (allowed before the first patient)
//! is the next page's clock, with no restart of `serve`.

use std::sync::Mutex;

use chrono::NaiveDateTime;

use crate::zone::Zone;

/// The record's clock, as the page reads it.
pub struct Clock {
    system: Box<dyn Fn(Zone) -> NaiveDateTime + Send + Sync>,
    /// The record's zone as the latest request read it.
    zone: Mutex<Zone>,
    training: Option<Mutex<NaiveDateTime>>,
}

impl Clock {
    /// The system clock: `now` gives the time on the clinic's wall clock in the zone it is
    /// given (the record's, `zone` until a request reads it again).
    pub fn system(
        zone: Zone,
        now: impl Fn(Zone) -> NaiveDateTime + Send + Sync + 'static,
    ) -> Clock {
        Clock {
            system: Box::new(now),
            zone: Mutex::new(zone),
            training: None,
        }
    }

    /// A training clock, starting at `at`, that the page may set. It is the clinic's wall
    /// clock already: the zone does not move it.
    pub fn training(at: NaiveDateTime) -> Clock {
        Clock {
            system: Box::new(|_| NaiveDateTime::MIN),
            zone: Mutex::new(Zone::System),
            training: Some(Mutex::new(at)),
        }
    }

    /// Now.
    pub fn now(&self) -> NaiveDateTime {
        match &self.training {
            Some(m) => *m.lock().unwrap_or_else(|p| p.into_inner()),
            None => (self.system)(self.zone()),
        }
    }

    /// The zone the system clock shows.
    pub fn zone(&self) -> Zone {
        *self.zone.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record's zone as a request has just read it: the system clock shows it from now on.
    pub fn follow(&self, zone: Zone) {
        *self.zone.lock().unwrap_or_else(|p| p.into_inner()) = zone;
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
