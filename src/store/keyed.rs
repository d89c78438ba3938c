//! What makes the record tamper-evident: a secret key kept outside the database, HMAC-SHA-256
//! over every row that decides a dose, and the head of each chain written outside the database
//! as well, so that deleting the last events is seen.
//!
//! Files beside the record `ward.db` (all mode 0600, in a folder the OS user owns):
//! - `ward.db.key`: 32 random bytes, hex. Created with the record; back it up with it. Without
//!   it nothing can be verified, and ritplan refuses to open the record.
//! - `ward.db.heads/`: one file per course chain (`course-12`: the number of events and the MAC
//!   of the last) and `record` (how many patients, courses and staff accounts, and a digest of
//!   the staff and settings rows). A head only ever moves forward: a head ahead of the
//!   database means rows were deleted; a digest that differs, a row put back to an older copy.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::StoreError;

/// The record's secret key, and the HMAC state keyed with it (the key's two padded blocks
/// hashed once, not again for each of the tens of thousands of rows an audit verifies).
#[derive(Clone)]
pub struct Key([u8; 32], Hmac<Sha256>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Where the key of a record at `db` lives.
pub fn key_path(db: &Path) -> PathBuf {
    sibling(db, ".key")
}

/// Where the heads of a record at `db` live.
pub fn heads_path(db: &Path) -> PathBuf {
    sibling(db, ".heads")
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    crate::secure::random().map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub use crate::secure::hex;

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub use crate::secure::create_private;

/// Makes the folder that `path` is to be created in, if it is not there (and keeps it).
pub fn make_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

pub use crate::secure::write_private;

impl Key {
    /// Writes this key as the key file of the record at `db` (a backup's); refuses if one
    /// exists.
    pub fn copy_to(&self, db: &Path) -> std::io::Result<()> {
        self.write_file(&key_path(db))
    }

    /// Writes this key to a new file at `path`; refuses if one exists.
    pub fn write_file(&self, path: &Path) -> std::io::Result<()> {
        let mut f = create_private(path)?;
        let written = f
            .write_all(format!("{}\n", hex(&self.0)).as_bytes())
            .and_then(|()| f.sync_all());
        if written.is_err() {
            // Created here, so ours: a key file cut short is taken away, not left to refuse
            // the next try or to be read as a wrong key.
            let _ = std::fs::remove_file(path);
        }
        written
    }

    /// Creates a new key file for the record at `db`; refuses if one exists.
    pub fn create(db: &Path) -> Result<Key, StoreError> {
        Key::create_file(&key_path(db))
    }

    /// Creates a new key file at `path` (its folder is created, mode 0700); refuses if one
    /// exists.
    pub fn create_file(path: &Path) -> Result<Key, StoreError> {
        let key = Key::from_bytes(random::<32>()?)?;
        key.write_new(path)?;
        Ok(key)
    }

    /// Writes this key to a new file at `path`, creating its folder (mode 0700) if needed;
    /// refuses if a file is there.
    pub fn write_new(&self, path: &Path) -> Result<(), StoreError> {
        let err = |message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir)
                .map_err(|e| err(format!("cannot create the key file's folder: {e}")))?;
        }
        self.write_file(path)
            .map_err(|e| err(format!("cannot create the key file: {e}")))
    }

    /// Reads the key file of the record at `db`.
    pub fn load(db: &Path) -> Result<Key, StoreError> {
        Key::load_file(&key_path(db), db)
    }

    /// Reads the key file at `path` of the record `db` (named in errors).
    pub fn load_file(path: &Path, db: &Path) -> Result<Key, StoreError> {
        let path = path.to_path_buf();
        let mut text = String::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| StoreError::Open {
                path: db.to_path_buf(),
                message: format!(
                    "its key file {} cannot be read ({e}); it is created with the record and must be restored from the backup made with it",
                    path.display()
                ),
            })?;
        let bytes = unhex(&text)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| StoreError::Open {
                path: db.to_path_buf(),
                message: format!(
                    "its key file {} is not 64 hexadecimal digits; restore it from the backup made with the record",
                    path.display()
                ),
            })?;
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes);
        Key::from_bytes(k)
    }

    fn from_bytes(k: [u8; 32]) -> Result<Key, StoreError> {
        // HMAC accepts a key of any length: 32 bytes do not fail.
        let state = <Hmac<Sha256> as KeyInit>::new_from_slice(&k)
            .map_err(|e| StoreError::Corrupt(format!("the record's key: {e}")))?;
        Ok(Key(k, state))
    }

    /// Whether two keys are the same key.
    pub fn same(&self, other: &Key) -> bool {
        self.0 == other.0
    }

    /// HMAC-SHA-256 over the parts, each length-prefixed, in hex.
    pub fn mac(&self, parts: &[&str]) -> String {
        let mut m = self.1.clone();
        for p in parts {
            m.update(&(p.len() as u64).to_le_bytes());
            m.update(p.as_bytes());
        }
        hex(&m.finalize().into_bytes())
    }
}

/// The head of one chain: how many entries, and the MAC of the last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Entries.
    pub count: u64,
    /// The last entry's MAC (the course row's MAC for a course without events).
    pub mac: String,
}

/// How many rows the record held at the last write, and digests of the tables whose rows
/// change in place (staff accounts, settings), so that a deleted row or a row put back to an
/// older copy of itself (with its older, valid MAC) is seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Patients.
    pub patients: u64,
    /// Courses.
    pub courses: u64,
    /// Staff accounts.
    pub staff: u64,
    /// The MAC over every staff row's MAC, as last written.
    pub staff_rows: Option<String>,
    /// The MAC over every settings row's MAC, as last written.
    pub settings_rows: Option<String>,
}

impl Counts {
    /// The counts raised to at least `c`'s, and `c`'s digests where it has them.
    pub(crate) fn merged(&self, c: &Counts) -> Counts {
        Counts {
            patients: self.patients.max(c.patients),
            courses: self.courses.max(c.courses),
            staff: self.staff.max(c.staff),
            staff_rows: c.staff_rows.clone().or_else(|| self.staff_rows.clone()),
            settings_rows: c
                .settings_rows
                .clone()
                .or_else(|| self.settings_rows.clone()),
        }
    }

    /// Reads [`Counts::text`] back (a line it does not know is skipped; a count that is not a
    /// number reads as 0, which only makes a later comparison stricter).
    pub(crate) fn parse(s: &str) -> Counts {
        let mut c = Counts::default();
        for line in s.lines() {
            if let Some((k, v)) = line.split_once(' ') {
                let n = || v.trim().parse().unwrap_or(0);
                match k {
                    "patients" => c.patients = n(),
                    "courses" => c.courses = n(),
                    "staff" => c.staff = n(),
                    "staff_rows" => c.staff_rows = Some(v.trim().to_string()),
                    "settings_rows" => c.settings_rows = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        c
    }

    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "patients {}\ncourses {}\nstaff {}\n",
            self.patients, self.courses, self.staff
        );
        for (k, v) in [
            ("staff_rows", &self.staff_rows),
            ("settings_rows", &self.settings_rows),
        ] {
            if let Some(v) = v {
                let _ = writeln!(out, "{k} {v}");
            }
        }
        out
    }
}

/// A course's head as its file has it: the number of events and the last MAC.
fn parse_head(s: &str) -> Option<Head> {
    let (count, mac) = s.trim().split_once(' ')?;
    Some(Head {
        count: count.parse().ok()?,
        mac: mac.to_string(),
    })
}

/// The head files of a record.
#[derive(Clone, Debug)]
pub struct Heads {
    dir: PathBuf,
}

impl Heads {
    /// The heads folder of the record at `db`.
    pub fn of(db: &Path) -> Heads {
        Heads {
            dir: heads_path(db),
        }
    }

    /// Creates the folder (mode 0700).
    pub fn create(&self) -> std::io::Result<()> {
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&self.dir)
    }

    /// Whether the folder exists.
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    fn lock_file(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))
    }

    fn lock(&self) -> std::io::Result<File> {
        let f = self.lock_file()?;
        f.lock()?;
        Ok(f)
    }

    pub(crate) fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    /// Runs `write` (a change to rows that change in place) under the exclusive lock and
    /// writes the counts it returns before the lock is released: a reader holding the shared
    /// lock ([`Heads::shared`]) never sees the database ahead of the digests.
    pub fn exclusive<T>(
        &self,
        write: impl FnOnce() -> Result<(T, Counts), StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = self.lock().map_err(|e| self.io(e))?;
        let (t, c) = write()?;
        self.write_counts(&c).map_err(|e| self.io(e))?;
        Ok(t)
    }

    /// Runs `read` with the record's counts under the shared lock (see [`Heads::exclusive`]).
    pub fn shared<T>(
        &self,
        read: impl FnOnce(Option<Counts>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let f = self.lock_file().map_err(|e| self.io(e))?;
        f.lock_shared().map_err(|e| self.io(e))?;
        let counts = self.counts().map_err(|e| self.io(e))?;
        read(counts)
    }

    /// Copies every head file into the heads folder `to` (a backup's, just created), privately.
    pub fn copy_into(&self, to: &Heads) -> std::io::Result<()> {
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !e.file_type()?.is_file() {
                continue;
            }
            write_private(&to.dir.join(&*name), &std::fs::read(e.path())?)?;
        }
        Ok(())
    }

    fn read_file(&self, name: &str) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(self.dir.join(name)) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The head of a course's chain, if written: read under the shared lock, so that a head
    /// being written in place ([`Heads::advance_course`]) is read whole, before or after.
    pub fn course(&self, id: i64) -> std::io::Result<Option<Head>> {
        // A folder that cannot take the lock file (read-only) is read as it is.
        let lock = self.lock_file().ok();
        if let Some(f) = &lock {
            f.lock_shared()?;
        }
        Ok(self.course_text(id)?.as_deref().and_then(parse_head))
    }

    /// The heads of several courses' chains (those written), read under one shared lock: a
    /// batch of 500 courses takes the lock once, not 500 times.
    pub fn courses(&self, ids: &[i64]) -> std::io::Result<Vec<(i64, Head)>> {
        let lock = self.lock_file().ok();
        if let Some(f) = &lock {
            f.lock_shared()?;
        }
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(head) = self.course_text(id)?.as_deref().and_then(parse_head) {
                out.push((id, head));
            }
        }
        Ok(out)
    }

    /// A course's head file as it is (the lock held by the caller).
    fn course_text(&self, id: i64) -> std::io::Result<Option<String>> {
        self.read_file(&format!("course-{id}"))
    }

    /// The courses that have a head file.
    pub fn course_ids(&self) -> std::io::Result<Vec<i64>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix("course-").and_then(|n| n.parse().ok()) {
                out.push(id);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Moves a course's head forward (never back: a slower writer that committed earlier does
    /// not overwrite a later head).
    ///
    /// One sync per recording, the database's: a head of the same length as the one it
    /// replaces (every time but when the count gains a digit) is written over it in place,
    /// within its first block and without a sync of its own. The database's commit was synced
    /// before, so after a power cut the head is the new one or the one before (never ahead of
    /// the database, never torn: a write within one sector), and a head behind the database
    /// is a note of `verify`, not a problem; readers take the shared lock (see
    /// [`Heads::course`]). A head of another length, or the first, is written to a new file,
    /// synced and renamed over the old one.
    pub fn advance_course(&self, id: i64, head: &Head) -> std::io::Result<()> {
        let _lock = self.lock()?;
        let old = self.course_text(id)?;
        if old
            .as_deref()
            .and_then(parse_head)
            .is_some_and(|h| h.count > head.count)
        {
            return Ok(());
        }
        let text = format!("{} {}\n", head.count, head.mac);
        let path = self.dir.join(format!("course-{id}"));
        match old {
            Some(o) if o.len() == text.len() => {
                let mut f = OpenOptions::new().write(true).open(&path)?;
                f.write_all(text.as_bytes())
            }
            _ => write_private(&path, text.as_bytes()),
        }
    }

    /// The record's counts, if written.
    pub fn counts(&self) -> std::io::Result<Option<Counts>> {
        Ok(self.read_file("record")?.map(|s| Counts::parse(&s)))
    }

    /// Raises the record's counts to at least `c` and takes its digests.
    pub fn advance_counts(&self, c: &Counts) -> std::io::Result<()> {
        let _lock = self.lock()?;
        self.write_counts(c)
    }

    /// [`Heads::advance_counts`], the lock held.
    fn write_counts(&self, c: &Counts) -> std::io::Result<()> {
        let old = self.counts()?.unwrap_or_default();
        let new = old.merged(c);
        if new == old && self.dir.join("record").exists() {
            return Ok(());
        }
        write_private(&self.dir.join("record"), new.text().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_depend_on_the_key_and_on_every_part() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("r.db");
        let k = Key::create(&db).expect("key");
        assert!(Key::create(&db).is_err(), "never replaced");
        let again = Key::load(&db).expect("load");
        assert_eq!(k.mac(&["a", "b"]), again.mac(&["a", "b"]));
        assert_ne!(k.mac(&["a", "b"]), k.mac(&["ab", ""]), "length-prefixed");
        let other = Key::create(&dir.path().join("s.db")).expect("key");
        assert_ne!(k.mac(&["a"]), other.mac(&["a"]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(&db))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_head_of_the_same_length_is_written_in_place_and_another_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let h = Heads::of(&dir.path().join("r.db"));
        h.create().expect("dir");
        let head = |count: u64, mac: &str| Head {
            count,
            mac: mac.into(),
        };
        let file = dir.path().join("r.db.heads").join("course-7");
        h.advance_course(7, &head(8, "aa")).expect("first");
        h.advance_course(7, &head(9, "bb")).expect("same length");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "9 bb\n");
        assert_eq!(h.course(7).expect("r"), Some(head(9, "bb")));
        #[cfg(unix)]
        let before = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&file).expect("meta").ino()
        };
        // The count gains a digit: a new file, renamed over the old one, never a longer text
        // over a shorter one.
        h.advance_course(7, &head(10, "cc")).expect("longer");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "10 cc\n");
        assert_eq!(h.course(7).expect("r"), Some(head(10, "cc")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_ne!(std::fs::metadata(&file).expect("meta").ino(), before);
        }
        h.advance_course(7, &head(11, "dd")).expect("in place");
        assert_eq!(h.course(7).expect("r"), Some(head(11, "dd")));
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path().join("r.db.heads"))
            .expect("dir")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".lock"))
            .collect();
        assert_eq!(names, vec!["course-7".to_string()]);
    }

    #[test]
    fn heads_only_move_forward() {
        let dir = tempfile::tempdir().expect("tmp");
        let h = Heads::of(&dir.path().join("r.db"));
        h.create().expect("dir");
        h.advance_course(
            3,
            &Head {
                count: 5,
                mac: "m5".into(),
            },
        )
        .expect("w");
        h.advance_course(
            3,
            &Head {
                count: 4,
                mac: "m4".into(),
            },
        )
        .expect("w");
        assert_eq!(
            h.course(3).expect("r"),
            Some(Head {
                count: 5,
                mac: "m5".into()
            })
        );
        assert_eq!(h.course_ids().expect("ids"), vec![3]);
        h.advance_counts(&Counts {
            patients: 2,
            courses: 1,
            staff: 1,
            staff_rows: Some("s1".into()),
            settings_rows: Some("t1".into()),
        })
        .expect("w");
        h.advance_counts(&Counts {
            patients: 1,
            courses: 3,
            staff: 0,
            staff_rows: Some("s2".into()),
            settings_rows: None,
        })
        .expect("w");
        assert_eq!(
            h.counts().expect("r"),
            Some(Counts {
                patients: 2,
                courses: 3,
                staff: 1,
                staff_rows: Some("s2".into()),
                settings_rows: Some("t1".into()),
            }),
            "counts only rise; a digest is replaced by the newer one"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious").expect("w");
        let link = dir.path().join("out.pdf");
        std::os::unix::fs::symlink(&target, &link).expect("link");
        assert!(create_private(&link).is_err());
        write_private(&link, b"new").expect("rename replaces the link itself");
        assert_eq!(std::fs::read(&target).expect("r"), b"precious");
        assert_eq!(std::fs::read(&link).expect("r"), b"new");
    }
}
