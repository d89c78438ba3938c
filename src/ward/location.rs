//! Where a record's files are: the default database path, and the key file and heads folder
//! beside a database.

use std::path::{Path, PathBuf};

/// The default database path: `$XDG_DATA_HOME/ritplan/ritplan.db`, else
/// `$HOME/.local/share/ritplan/ritplan.db`.
pub fn default_path() -> Option<PathBuf> {
    crate::store::default_path()
}

/// Where the key of a record at `db` lives.
pub fn key_path(db: &Path) -> PathBuf {
    crate::store::keyed::key_path(db)
}

/// Where the heads of a record at `db` live.
pub fn heads_path(db: &Path) -> PathBuf {
    crate::store::keyed::heads_path(db)
}
