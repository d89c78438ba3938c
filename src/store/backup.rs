//! Backups: a consistent copy of the record, its key file and its heads.

use super::*;

impl Store {
    /// Backs the record up to `dest`: the database through SQLite's `VACUUM INTO` (a
    /// consistent snapshot, the write-ahead log included, which copying the file would miss),
    /// its key file and its heads, written privately, under the heads' shared lock so that the
    /// copy's digests match its rows (heads first, then the database: the copy's database is
    /// never behind its heads). Then the copy is opened and verified in full. Refuses if
    /// anything is already at `dest`.
    pub fn backup_to(&self, dest: &Path) -> Result<RecordVerification, StoreError> {
        let io = |path: &Path, source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if dest.exists() || keyed::key_path(dest).exists() || keyed::heads_path(dest).exists() {
            return Err(StoreError::Exists(format!(
                "{} (or its key file or heads folder) already exists: a backup is never written over another file",
                dest.display()
            )));
        }
        let HeadStore::Files(heads) = &self.heads else {
            return Err(StoreError::Open {
                path: dest.to_path_buf(),
                message: "a record on a PostgreSQL server is backed up with pg_dump, or copied to a file with `ritplan db copy`".into(),
            });
        };
        let target = dest.to_str().ok_or_else(|| StoreError::Open {
            path: dest.to_path_buf(),
            message: "the backup's path is not UTF-8".into(),
        })?;
        // A backup that fails on the way (a full disk) takes away what it wrote: a half
        // backup would refuse the next try and could pass for a backup.
        keyed::make_parent(dest).map_err(|e| io(dest, e))?;
        let mut made = made::Made::files();
        let written = heads
            .shared(|_| {
                let to = Heads::of(dest);
                to.create().map_err(|e| io(&keyed::heads_path(dest), e))?;
                made.path(keyed::heads_path(dest));
                heads
                    .copy_into(&to)
                    .map_err(|e| io(&keyed::heads_path(dest), e))?;
                made::fault("the heads")?;
                drop(keyed::create_private(dest).map_err(|e| io(dest, e))?);
                made.database(dest);
                if let Some(conn) = self.db.sqlite() {
                    conn.execute("VACUUM INTO ?1", [target])?;
                }
                made::fault("the database")
            })
            .and_then(|()| {
                self.key
                    .copy_to(dest)
                    .map_err(|e| io(&keyed::key_path(dest), e))?;
                made.path(keyed::key_path(dest));
                made::fault("the key file")
            });
        if let Err(e) = written {
            return Err(made.abandon(e, target, None));
        }
        Store::open(dest)?.verify_all()
    }
}
