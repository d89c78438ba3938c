//! What creating a record has made, so that a creation or a copy that fails takes it away
//! again: a half-made record would refuse the next try ("already exists") and look like a
//! record that holds nothing.

use std::path::{Path, PathBuf};

use super::{Store, StoreError};

#[cfg(test)]
thread_local! {
    /// Tests: the step (counted from 1, in this thread) that fails as a full disk would.
    pub(super) static FAULT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Tests: fails the step [`FAULT`] counts down to, naming `what`; in a build that is not a
/// test, nothing.
#[cfg(test)]
pub(super) fn fault(what: &str) -> Result<(), StoreError> {
    let Some(n) = FAULT.get() else {
        return Ok(());
    };
    FAULT.set(Some(n.saturating_sub(1)));
    if n == 1 {
        return Err(StoreError::Io {
            path: what.into(),
            source: std::io::Error::other("no space left on device (a test's fault)"),
        });
    }
    Ok(())
}

#[cfg(not(test))]
#[inline(always)]
pub(super) fn fault(_what: &str) -> Result<(), StoreError> {
    Ok(())
}

/// What a new record is made of, as far as its creation got.
#[derive(Debug)]
pub(super) enum Made {
    /// A record in files: each path was created by this process (exclusively, so nobody
    /// else's), the database's journal files with it.
    Files(Vec<PathBuf>),
    /// A record on a server, in a database that was empty: its schema, and the key file if
    /// this creation wrote it (not one that was there already, a copy's source's).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Server {
        /// The key file written, if any.
        key_file: Option<PathBuf>,
    },
}

impl Made {
    /// Nothing made yet, in files.
    pub(super) fn files() -> Made {
        Made::Files(Vec::new())
    }

    /// Notes that the database file `db` was created (and so its journal files will be ours).
    pub(super) fn database(&mut self, db: &Path) {
        if let Made::Files(paths) = self {
            paths.push(db.to_path_buf());
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut s = db.as_os_str().to_owned();
                s.push(suffix);
                paths.push(PathBuf::from(s));
            }
        }
    }

    /// Notes that `path` (a file or a folder) was created.
    pub(super) fn path(&mut self, path: PathBuf) {
        if let Made::Files(paths) = self {
            paths.push(path);
        }
    }

    /// Takes away what was made: `store` (the new record, if it was opened) is closed first;
    /// on a server its tables and functions are dropped, refused if a patient, course, entry,
    /// account or setting is in them (a failed copy's rows were never committed).
    pub(super) fn undo(self, store: Option<Store>) -> Result<(), String> {
        match self {
            Made::Files(paths) => {
                drop(store);
                let mut failed = Vec::new();
                for p in paths.iter().rev() {
                    let gone = if p.is_dir() {
                        std::fs::remove_dir_all(p)
                    } else {
                        std::fs::remove_file(p)
                    };
                    match gone {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            failed.push(format!("{}: {e}", p.display()));
                        }
                        _ => {}
                    }
                }
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(failed.join("; "))
                }
            }
            Made::Server { key_file } => {
                if let Some(store) = store {
                    super::server::discard(store).map_err(|e| e.to_string())?;
                }
                match key_file.map(std::fs::remove_file) {
                    Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(format!("the key file: {e}"))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// `cause`, after taking away what was made (see [`Made::undo`]; `store` is the new
    /// record, if it was opened): with what became of the new record at `place`, or `cause`
    /// alone if nothing had been made.
    pub(super) fn abandon(
        self,
        cause: StoreError,
        place: &str,
        store: Option<Store>,
    ) -> StoreError {
        if matches!(&self, Made::Files(paths) if paths.is_empty()) {
            return cause;
        }
        let left = match self.undo(store) {
            Ok(()) => format!("nothing of the new record at {place} was left"),
            Err(why) => format!(
                "the unfinished record at {place} could not be taken away ({why}): remove it by hand before trying again"
            ),
        };
        StoreError::Unfinished {
            cause: Box::new(cause),
            left,
        }
    }
}
