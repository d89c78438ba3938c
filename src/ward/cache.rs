//! What the page's wards keep of the courses they have read: each immunotherapy course's frozen
//! copies parsed and its plan laid again (the costly part of reading a course), and the state
//! its events replay to, shared by the wards of one `ritplan serve` process so that a board
//! polled every few seconds does not lay 200 plans again each time.
//!
//! **What is still read and verified on every request**: the course's row, its head outside the
//! database, its patient's row, every event and vial index row, and the whole verification of
//! them ([`crate::store::Store::read_courses_of`]: the row's MAC, every event's number, link and
//! MAC, the vial rows, the head against the chain), then every event decoded. A course that
//! does not verify is refused before the cache is looked at, exactly as without it.
//!
//! **What is cached**: for a course that has just verified, what is derived from its rows
//! alone: the frozen template and rules parsed, its inputs, its plan laid again and found the
//! same as the stored one (keyed by the course's id and its row's MAC, which the verification
//! has just checked over the patient, frozen template, rules, inputs and plan: the same MAC is
//! the same row), and the state its events replay to (keyed besides by the number of events and
//! the last event's MAC, which the verification has just checked along the whole chain from the
//! row's MAC: the same last MAC is the same events). A new entry, a course row or event changed
//! behind the page, a head moved: each changes what is read and verified, so a course whose
//! key does not match is loaded and replayed again, never taken from the cache. The record shown
//! is always the row just read; the decision at `now` is always made again.
//!
//! The cache holds at most [`COURSES`] courses; when full, the one used longest ago goes.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Loaded;
use crate::course::CourseState;
use crate::planner::{ClinicCalendar, Plan};
use crate::policy::Policy;
use crate::store::Seal;
use crate::template::Template;

use super::Inputs;

/// The most courses the cache holds (each about the size of its frozen copies parsed: a few
/// hundred KB at most; a board of 1 000 active courses fits).
pub const COURSES: usize = 2048;

/// What is derived from a course's row (its record itself is not kept: the one just read is
/// always the one handed out).
struct Entry {
    row: String,
    template: std::sync::Arc<Template>,
    policy: std::sync::Arc<Policy>,
    plan: Plan,
    inputs: Inputs,
    calendar: ClinicCalendar,
    /// The replayed state, with the events' count and last MAC it came from.
    state: Option<(usize, String, CourseState)>,
    used: u64,
}

#[derive(Default)]
struct Inner {
    courses: HashMap<i64, Entry>,
    tick: u64,
    hits: u64,
    misses: u64,
}

/// Loaded and replayed courses, shared by the wards of one process (see the module's text).
pub struct CourseCache {
    inner: Mutex<Inner>,
    cap: usize,
}

impl Default for CourseCache {
    fn default() -> Self {
        CourseCache::new(COURSES)
    }
}

impl CourseCache {
    /// An empty cache of at most `cap` courses (at least one).
    pub fn new(cap: usize) -> CourseCache {
        CourseCache {
            inner: Mutex::new(Inner::default()),
            cap: cap.max(1),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing is left half-changed under the lock: a poisoned one is still whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The course loaded (its record the one just read, `record`) and, when its events are the
    /// same as those replayed before, its state; `Err` (with `record`) when its row is not one loaded
    /// before.
    pub(super) fn get(
        &self,
        seal: &Seal,
        record: crate::store::CourseRecord,
    ) -> Result<(Loaded, Option<CourseState>), Box<crate::store::CourseRecord>> {
        let mut guard = self.inner();
        let inner = &mut *guard;
        inner.tick += 1;
        let tick = inner.tick;
        match inner.courses.get_mut(&seal.course) {
            Some(e) if e.row == seal.row && seal.course == record.id => {
                e.used = tick;
                inner.hits += 1;
                let state = e
                    .state
                    .as_ref()
                    .filter(|(n, last, _)| *n == seal.events && *last == seal.last)
                    .map(|(_, _, s)| s.clone());
                Ok((
                    Loaded {
                        record,
                        template: e.template.clone(),
                        policy: e.policy.clone(),
                        plan: e.plan.clone(),
                        inputs: e.inputs.clone(),
                        calendar: e.calendar.clone(),
                    },
                    state,
                ))
            }
            _ => {
                inner.misses += 1;
                Err(Box::new(record))
            }
        }
    }

    /// Keeps a course just loaded and replayed from rows that verified.
    pub(super) fn put(&self, seal: &Seal, loaded: &Loaded, state: &CourseState) {
        let mut inner = self.inner();
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.courses.contains_key(&seal.course) && inner.courses.len() >= self.cap {
            // The one used longest ago goes (a scan: the cap is a few thousand).
            if let Some(oldest) = inner
                .courses
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(id, _)| *id)
            {
                inner.courses.remove(&oldest);
            }
        }
        inner.courses.insert(
            seal.course,
            Entry {
                row: seal.row.clone(),
                template: loaded.template.clone(),
                policy: loaded.policy.clone(),
                plan: loaded.plan.clone(),
                inputs: loaded.inputs.clone(),
                calendar: loaded.calendar.clone(),
                state: Some((seal.events, seal.last.clone(), state.clone())),
                used: tick,
            },
        );
    }

    /// How many courses it holds, and how many reads found their course loaded (hits) or not.
    pub fn counts(&self) -> (usize, u64, u64) {
        let inner = self.inner();
        (inner.courses.len(), inner.hits, inner.misses)
    }
}
