//! The page's wards: a few open records, each used by one request at a time on a blocking
//! thread, so that a long request (a large PDF) holds one of them and never the others.
//! rusqlite's connection is not `Sync`: each ward is used by one thread at a time, and no lock
//! is held across a request (the pool's own lock only while a ward is taken or given back).

use std::sync::{Condvar, Mutex};

use crate::ward::{Ward, WardError};

/// How a new ward is opened (the same record as the first).
pub type Opener = Box<dyn Fn() -> Result<Ward, WardError> + Send + Sync>;

/// Open wards, up to `max`, opened as requests need them.
pub struct Pool {
    state: Mutex<State>,
    returned: Condvar,
    open: Opener,
    max: usize,
}

struct State {
    idle: Vec<Ward>,
    /// Wards in existence (idle or in use).
    made: usize,
}

impl Pool {
    /// A pool starting with `first`; `open` makes more, up to `max` in all (at least 1).
    pub fn new(first: Ward, open: Opener, max: usize) -> Pool {
        Pool {
            state: Mutex::new(State {
                idle: vec![first],
                made: 1,
            }),
            returned: Condvar::new(),
            open,
            max: max.max(1),
        }
    }

    /// A pool of one ward that never opens another (tests).
    pub fn single(ward: Ward) -> Pool {
        Pool::new(
            ward,
            Box::new(|| Err(WardError::Data("no further ward".into()))),
            1,
        )
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A request that panicked gave back no ward (see `Taken`); the counts stay right.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with a ward of its own: an idle one, a new one if fewer than `max` exist, or
    /// the next one given back. Blocks: call it from a blocking thread.
    pub fn with<R>(&self, f: impl FnOnce(&mut Ward) -> R) -> Result<R, WardError> {
        let ward = {
            let mut s = self.state();
            loop {
                if let Some(w) = s.idle.pop() {
                    break Some(w);
                }
                if s.made < self.max {
                    s.made += 1;
                    break None;
                }
                s = self.returned.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let ward = match ward {
            Some(w) => w,
            None => match (self.open)() {
                Ok(w) => w,
                Err(e) => {
                    self.state().made -= 1;
                    self.returned.notify_one();
                    return Err(e);
                }
            },
        };
        let mut taken = Taken {
            pool: self,
            ward: Some(ward),
        };
        let w = taken.ward.as_mut().ok_or_else(|| {
            WardError::Data("the page's ward was taken twice (a bug in ritplan)".into())
        })?;
        Ok(f(w))
    }

    /// Wards in existence (idle or in use).
    pub fn made(&self) -> usize {
        self.state().made
    }
}

/// A ward in use: given back when the request ends, or dropped (and counted out) if the
/// request panicked, since a panic may have left it mid-way.
struct Taken<'a> {
    pool: &'a Pool,
    ward: Option<Ward>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut s = self.pool.state();
        match self.ward.take() {
            Some(w) if !std::thread::panicking() => s.idle.push(w),
            _ => s.made -= 1,
        }
        drop(s);
        self.pool.returned.notify_one();
    }
}
