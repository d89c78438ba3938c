//! Schema 5: moments stored as UTC instants, read in the record's zone.
//!
//! A record made before schema 5 holds the clinic's wall-clock times without a zone. Its rows are
//! never rewritten: the chains, MACs and digests cover their bytes, and an upgrade that rewrote
//! them would have to re-seal the record, blessing whatever it held. Instead the upgrade fixes
//! the zone those times were written in for good (the record's `time_zone`, which cannot change
//! once a patient is entered), and every row written from then on holds the instant (`…Z`). A
//! stored text says which it is, so each is read the way it was written:
//!
//! - a record whose zone is set is upgraded when it is opened (its times were written in that
//!   zone: nothing to ask);
//! - a record without one (`system`: made before the zone was a setting) keeps being read in the
//!   zone of the machine that reads it, as before, until an admin runs
//!   `ritplan db migrate --time-zone ZONE`: the ward verifies the whole record, checks that every
//!   recorded time exists in that zone ([`Store::legacy_times_in`]), sets the zone and upgrades
//!   ([`Store::upgrade_times`]).

use chrono::NaiveDateTime;
use serde::Serialize;

use super::db::{Begin, vals};
use super::{Author, STATE_COLS, Store, StoreError, Times, state_mac};
use crate::zone::Zone;

impl Times {
    /// For rows written before any zone was known (a schema-1 record's upgrade): their text is
    /// wall-clock time, read as written.
    pub(super) const LEGACY: Times = Times(Zone::System);
}

/// What the recorded wall-clock times (written before schema 5) are in a zone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LegacyTimes {
    /// Moments checked: every entry's time and recording time, every course's and patient's
    /// creation time.
    pub checked: u64,
    /// Those the clocks skip in the zone (the hour put forward): each where it is and the time.
    pub skipped: Vec<String>,
    /// Those that exist twice in the zone (the hour put back): read as the earlier.
    pub repeated: u64,
}

impl Store {
    /// How the store reads and writes moments: in the record's zone.
    pub(super) fn times(&self) -> Times {
        Times(self.zone.get())
    }

    /// Reads and writes moments in `zone` from now on: for a record just created, before its
    /// first row (its `time_zone` setting is written by the caller).
    pub fn use_zone(&self, zone: Zone) {
        self.zone.set(zone);
    }

    /// The zone the store reads and writes moments in.
    pub fn zone(&self) -> Zone {
        self.zone.get()
    }

    /// Reads the record's zone again from its `time_zone` setting (another process or another of
    /// the page's workers may have set it: only possible before the first patient, when no
    /// clinical time is recorded yet). A setting that does not verify leaves the zone as it was
    /// (reading the settings then refuses, naming it).
    pub fn refresh_zone(&self) -> Result<Zone, StoreError> {
        if let Ok(Some(name)) = self.setting("time_zone")
            && let Ok(z) = Zone::parse(&name)
        {
            self.zone.set(z);
        }
        Ok(self.zone.get())
    }

    /// The schema version the database says it is at.
    pub(super) fn schema_version(&self) -> Result<i64, StoreError> {
        version_in(&self.db, self.on_server())
    }

    /// A write transaction for an upgrade, with the schema version as it then stands (on a
    /// server, with the `meta` table locked: another workstation may have upgraded it between
    /// a look before and this lock).
    pub(super) fn begin_upgrade(&self) -> Result<(super::db::Tx<'_>, i64), StoreError> {
        let tx = self.db.begin(Begin::Write)?;
        if self.on_server() {
            tx.batch("LOCK TABLE meta IN EXCLUSIVE MODE")?;
        }
        let version = version_in(&tx, self.on_server())?;
        Ok((tx, version))
    }

    /// Whether the record still holds its times as wall-clock times in a zone it does not name
    /// (schema 4 without a `time_zone`): it needs `ritplan db migrate --time-zone ZONE`.
    pub fn needs_zone(&self) -> Result<bool, StoreError> {
        Ok(self.schema_version()? < 5)
    }

    /// After opening: takes the record's zone from its settings, and upgrades a record of
    /// schema 4 that has one (its times were written in that zone).
    pub(super) fn settle_times(&self) -> Result<(), StoreError> {
        let zone = self.refresh_zone()?;
        if zone != Zone::System && self.needs_zone()? {
            self.upgrade_times(None)?;
        }
        self.settle_frozen()
    }

    /// Checks every wall-clock time recorded before schema 5 in `zone`: those the clocks skip
    /// and those they repeat. Reads only.
    pub fn legacy_times_in(&self, zone: Zone) -> Result<LegacyTimes, StoreError> {
        let mut out = LegacyTimes::default();
        let mut check = |text: &str, place: &dyn Fn() -> String| -> Result<(), StoreError> {
            if text.is_empty() || text.ends_with('Z') {
                return Ok(());
            }
            let at = Times::LEGACY.parse(text)?;
            out.checked += 1;
            if zone.instant(at).is_err() {
                out.skipped
                    .push(format!("{} at {}", place(), at.format("%Y-%m-%d %H:%M")));
            } else if zone.is_repeated(at) {
                out.repeated += 1;
            }
            Ok(())
        };
        for mut r in self.db.query(
            "SELECT course_id, seq, happened_at, recorded_at FROM events ORDER BY course_id, seq",
            &[],
        )? {
            let (course, seq, happened, recorded) = (r.int()?, r.int()?, r.text()?, r.text()?);
            check(&happened, &|| format!("course {course} entry {seq}"))?;
            check(&recorded, &|| {
                format!("course {course} entry {seq} (recorded)")
            })?;
        }
        for mut r in self
            .db
            .query("SELECT id, created_at FROM courses ORDER BY id", &[])?
        {
            let (id, at) = (r.int()?, r.text()?);
            check(&at, &|| format!("course {id} (started)"))?;
        }
        for mut r in self
            .db
            .query("SELECT id, created_at FROM patients ORDER BY id", &[])?
        {
            let (id, at) = (r.text()?, r.text()?);
            check(&at, &|| format!("patient {id:?} (entered)"))?;
        }
        Ok(out)
    }

    /// Upgrades the record to schema 5 in one transaction: sets the zone when `set` gives it
    /// (with who set it and when), and marks every course's derived state to rebuild (its last
    /// moment is then written as an instant, which the live-course scan compares). No entry,
    /// course or patient row is rewritten. The caller has checked the zone (see the module).
    pub fn upgrade_times(
        &self,
        set: Option<(Zone, &Author, NaiveDateTime)>,
    ) -> Result<(), StoreError> {
        if let Some((zone, by, at)) = set {
            // The setting first, in its own write: if the upgrade below fails, the next opening
            // finds the zone set and upgrades.
            self.zone.set(zone);
            self.set_setting("time_zone", &zone.name(), at, by)?;
        }
        let (tx, version) = self.begin_upgrade()?;
        if version >= 5 {
            // Another process upgraded it between our look and our lock.
            return Ok(());
        }
        tx.exec("DELETE FROM course_state", &[])?;
        for mut r in tx.query("SELECT id FROM courses ORDER BY id", &[])? {
            let id = r.int()?;
            let mac = state_mac(&self.key, id, true, -1, "");
            tx.exec(
                &format!("INSERT INTO course_state ({STATE_COLS}) VALUES (?1, 1, -1, '', ?2)"),
                vals![id, mac],
            )?;
        }
        if self.on_server() {
            tx.exec(
                "UPDATE meta SET value = '5' WHERE key = 'schema_version'",
                &[],
            )?;
        } else {
            tx.batch("PRAGMA user_version = 5")?;
        }
        tx.commit()?;
        self.settle_frozen()
    }
}

/// The schema version `db` says it is at: SQLite's `user_version`, or on a server the `meta`
/// row (0 when missing or unreadable).
fn version_in(db: &super::db::Db, server: bool) -> Result<i64, StoreError> {
    if server {
        Ok(db
            .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
            .map(|mut r| r.text())
            .transpose()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    } else {
        db.query_int("PRAGMA user_version", &[])
    }
}
