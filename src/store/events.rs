//! Events: the stored row, appending under the caller's check, and the derived state of each
//! course.

use super::*;

/// One row of the events table, as stored.
pub(super) struct RawEvent {
    pub(super) seq: i64,
    pub(super) body: String,
    pub(super) happened: String,
    pub(super) recorded: String,
    pub(super) by: String,
    pub(super) late: bool,
    pub(super) prev: String,
    pub(super) hash: String,
    pub(super) staff_id: Option<String>,
    pub(super) os_user: String,
    pub(super) out_of_order: bool,
    pub(super) keyed: bool,
}

macro_rules! event_cols {
    () => {
        "seq, body_json, happened_at, recorded_at, recorded_by, late_entered, prev_hash, hash, staff_id, os_user, out_of_order, keyed"
    };
}

/// The columns of an event, without its course.
pub(super) const EVENT_COLS: &str = event_cols!();

/// The columns of an event row, its course first.
pub(super) const EVENT_ROW_COLS: &str = concat!("course_id, ", event_cols!());

impl RawEvent {
    pub(super) fn from_row(mut r: Row) -> Result<RawEvent, StoreError> {
        Ok(RawEvent {
            seq: r.int()?,
            body: r.text()?,
            happened: r.text()?,
            recorded: r.text()?,
            by: r.text()?,
            late: r.flag()?,
            prev: r.text()?,
            hash: r.text()?,
            staff_id: r.opt_text()?,
            os_user: r.text()?,
            out_of_order: r.flag()?,
            keyed: r.flag()?,
        })
    }

    /// The unkeyed hash of schema 1, chained to `prev`: every field, length-prefixed.
    pub(super) fn sha_hash(&self, course: i64) -> String {
        let mut h = Sha256::new();
        let (course, seq) = (course.to_string(), self.seq.to_string());
        for part in [
            &self.prev,
            &course,
            &seq,
            &self.body,
            &self.happened,
            &self.recorded,
            &self.by,
            flag(self.late),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let mut out = String::with_capacity(64);
        for b in h.finalize() {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// The keyed MAC: every field, the link to the previous event and the course row's MAC.
    pub(super) fn mac(&self, key: &Key, course: i64, course_mac: &str) -> String {
        let (course, seq) = (course.to_string(), self.seq.to_string());
        key.mac(&[
            "event",
            course_mac,
            &self.prev,
            &course,
            &seq,
            &self.body,
            &self.happened,
            &self.recorded,
            &self.by,
            self.staff_id.as_deref().unwrap_or(""),
            &self.os_user,
            flag(self.late),
            flag(self.out_of_order),
        ])
    }

    /// Inserts this event as course `course`'s.
    pub(super) fn insert(&self, db: &Db, course: i64) -> Result<(), StoreError> {
        db.exec(
            &format!("INSERT INTO events ({EVENT_ROW_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            vals![course, self.seq, &self.body, &self.happened, &self.recorded, &self.by, self.late, &self.prev, &self.hash, &self.staff_id, &self.os_user, self.out_of_order, self.keyed],
        )?;
        Ok(())
    }

    pub(super) fn load(db: &Db, course: i64) -> Result<Vec<RawEvent>, StoreError> {
        db.query(
            &format!("SELECT {EVENT_COLS} FROM events WHERE course_id = ?1 ORDER BY seq"),
            vals![course],
        )?
        .into_iter()
        .map(RawEvent::from_row)
        .collect()
    }

    pub(super) fn decode(self, times: Times) -> Result<StoredEvent, StoreError> {
        let kind: EventKind = serde_json::from_str(&self.body)
            .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", self.seq)))?;
        Ok(StoredEvent {
            event: Event {
                seq: self.seq as u64,
                at: times.parse(&self.happened)?,
                by: self.by,
                kind,
            },
            staff_id: self.staff_id,
            os_user: self.os_user,
            recorded_at: times.parse(&self.recorded)?,
            late_entered: self.late,
            out_of_order: self.out_of_order,
            prev_hash: self.prev,
            hash: self.hash,
        })
    }
}

impl Store {
    pub(super) fn read_events(
        db: &Db,
        course: i64,
        times: Times,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        RawEvent::load(db, course)?
            .into_iter()
            .map(|r| r.decode(times))
            .collect()
    }

    /// A course's events, in order.
    pub fn events(&self, course: i64) -> Result<Vec<StoredEvent>, StoreError> {
        Self::read_events(&self.db, course, self.times())
    }

    /// Appends one event in a single immediate transaction: reads the course's events and
    /// verifies the course (refused with [`StoreError::Tampered`] unless intact), calls
    /// `check` with them and a view of the database inside the same transaction (to read the
    /// patient's other courses, verified too: no other writer can change them until the
    /// commit), and inserts the event the check returns, chained to the last MAC. A refusal
    /// or an error writes nothing. After the commit the course's head moves forward.
    pub fn append<E>(
        &mut self,
        course: i64,
        check: impl FnOnce(&[StoredEvent], &TxView<'_>) -> Result<NewEvent, E>,
    ) -> Result<StoredEvent, AppendError<E>> {
        self.append_to(course, None, check)
    }

    /// [`Store::append`] for a caller that prepared its check from the course's row read
    /// before the transaction, not yet verified (`read`): the course is verified inside the
    /// transaction, and the entry is refused, nothing written, unless the row verified is the
    /// row read.
    pub fn append_to<E>(
        &mut self,
        course: i64,
        read: Option<&CourseRecord>,
        check: impl FnOnce(&[StoredEvent], &TxView<'_>) -> Result<NewEvent, E>,
    ) -> Result<StoredEvent, AppendError<E>> {
        let tx = self.db.begin(Begin::Write)?;
        Self::lock_course(&tx, course)?;
        crate::timing::mark("tx: begin");
        // Verified inside the transaction: what is decided on is what the lock now holds
        // (another room may have recorded since the caller read the course).
        // With the row read before (`read`), the frozen texts that read checked against their
        // digests, moments ago in this process, are not read and hashed again: the row's MAC,
        // checked here, covers the digests, and the entry is decided on the texts checked.
        let (row, events) = self.verified_events_with(course, read.is_some())?;
        if read.is_some_and(|r| *r != row.c) {
            return Err(AppendError::Store(StoreError::Corrupt(format!(
                "course {course}: its row changed while an entry was being recorded on it; nothing was recorded"
            ))));
        }
        crate::timing::mark("tx: verify the course");
        let new = check(&events, &TxView { store: self }).map_err(AppendError::Refused)?;
        let seq = events.last().map_or(1, |e| e.event.seq + 1);
        let prev = events
            .last()
            .map_or_else(|| row.mac.clone(), |e| e.hash.clone());
        let out_of_order = events
            .last()
            .is_some_and(|e| new.at < e.event.at || new.recorded_at < e.recorded_at);
        let body =
            serde_json::to_string(&new.kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut raw = RawEvent {
            seq: seq as i64,
            body,
            happened: self.times().text(new.at),
            recorded: self.times().text(new.recorded_at),
            by: new.by.name,
            late: new.late_entered,
            prev,
            hash: String::new(),
            staff_id: new.by.staff_id,
            os_user: new.by.os_user,
            out_of_order,
            keyed: true,
        };
        raw.hash = raw.mac(&self.key, course, &row.mac);
        raw.insert(&tx, course)?;
        if let EventKind::VialAdded { code, .. } = &new.kind {
            Self::insert_vial(&tx, &self.key, code, course, seq as i64, &raw.hash)?;
        }
        let last_at = events
            .iter()
            .map(|e| e.event.at)
            .chain([new.at])
            .max()
            .map_or_else(String::new, |t| self.times().text(t));
        Self::put_state(&tx, &self.key, course, new.active, seq as i64, &last_at)?;
        if let Some(h) = &new.session {
            self.touch_session(h, new.recorded_at)?;
        }
        crate::timing::mark("tx: insert, state, session");
        self.write_head(
            tx,
            course,
            &Head {
                count: seq,
                mac: raw.hash.clone(),
            },
        )?;
        Ok(raw.decode(self.times())?)
    }

    pub(super) fn put_state(
        db: &Db,
        key: &Key,
        course: i64,
        active: bool,
        events: i64,
        last_at: &str,
    ) -> Result<(), StoreError> {
        db.exec(
            &format!("INSERT INTO course_state ({STATE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (course_id) DO UPDATE SET active = excluded.active, events = excluded.events, last_at = excluded.last_at, mac = excluded.mac"),
            vals![course, active, events, last_at, state_mac(key, course, active, events, last_at)],
        )?;
        Ok(())
    }

    /// The next course id. Course ids are part of every MAC, so the id is chosen before the
    /// insert, inside the write transaction: SQLite's write lock keeps it unique (and never
    /// reuses an id, `sqlite_sequence`); on PostgreSQL a transaction-scoped advisory lock
    /// serialises the new courses until the commit (it needs no privilege beyond INSERT, unlike
    /// `LOCK TABLE`, so ritplan can run as a role that cannot change or delete rows).
    pub(super) fn next_course_id(db: &Db) -> Result<i64, StoreError> {
        match db.dialect() {
            db::Dialect::Sqlite => db.query_int(
                "SELECT max(coalesce((SELECT max(id) FROM courses), 0), coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'courses'), 0)) + 1",
                &[],
            ),
            db::Dialect::Postgres => {
                db.query(
                    "SELECT pg_advisory_xact_lock(?1::bigint << 32)::text",
                    vals![LOCK_COURSE_IDS],
                )?;
                db.query_int("SELECT coalesce(max(id), 0) + 1 FROM courses", &[])
            }
        }
    }

    /// Serialises the writers of one course (and of its patient's other courses, which a check
    /// may read) until the commit. SQLite: the transaction already holds the database's write
    /// lock. PostgreSQL: a transaction-scoped advisory lock on the patient (a hash of the id:
    /// two patients that share a hash only wait for each other), taken before anything is read,
    /// so two rooms recording on one patient's courses take turns and rooms recording on other
    /// patients do not wait. (`SELECT … FOR UPDATE` would need the UPDATE privilege on patients,
    /// which the role ritplan runs as should not have.)
    pub(super) fn lock_course(db: &Db, course: i64) -> Result<(), StoreError> {
        if db.dialect() == db::Dialect::Postgres {
            db.query(
                "SELECT pg_advisory_xact_lock((?1::bigint << 32) | (hashtext(patient_id)::bigint & 4294967295))::text FROM courses WHERE id = ?2",
                vals![LOCK_PATIENT, course],
            )?;
        }
        Ok(())
    }

    /// Sets a course's derived state after replaying it (for rows the upgrade left to
    /// rebuild): written only if the chain still has `events` entries.
    pub fn rebuild_state(
        &mut self,
        course: i64,
        active: bool,
        events: u64,
        last_at: Option<NaiveDateTime>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin(Begin::Write)?;
        Self::lock_course(&tx, course)?;
        let now = tx.query_int(
            "SELECT coalesce(max(seq), 0) FROM events WHERE course_id = ?1",
            vals![course],
        )?;
        if now == events as i64 {
            let last = last_at.map_or_else(String::new, |t| self.times().text(t));
            Self::put_state(&tx, &self.key, course, active, now, &last)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The courses whose derived state the upgrade left to rebuild.
    pub fn states_to_rebuild(&self) -> Result<Vec<i64>, StoreError> {
        self.db
            .query(
                "SELECT course_id FROM course_state WHERE events < 0 ORDER BY course_id",
                &[],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The ids of the courses live on `since` or later: active ones, those with an event on
    /// or after `since`, and those whose state the upgrade left to rebuild. Reads the small
    /// state table through its index, never the rows of finished courses: its cost is what is
    /// live. A course without a state row makes every course read (failing closed). A finished
    /// course's row is trusted here between full verifications ([`Store::verify_all`] checks
    /// every row's MAC and that it is in step with its chain); a live course is verified in
    /// full before anything is decided on it.
    pub fn live_course_ids(&self, since: NaiveDate) -> Result<Vec<i64>, StoreError> {
        let (courses, states) = self.state_rows()?;
        if states != courses {
            // A state row is missing: every course is read (and verified).
            return Ok(self.courses()?.iter().map(|c| c.id).collect());
        }
        self.db
            .query(
                "SELECT course_id FROM course_state WHERE active = 1 OR last_at >= ?1 OR events < 0
                 ORDER BY course_id",
                vals![self.times().day_floor(since)],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The number of courses (their ids run from 1 without gaps: courses are never deleted)
    /// and of derived state rows.
    pub(super) fn state_rows(&self) -> Result<(i64, i64), StoreError> {
        let courses = self
            .db
            .query_int("SELECT coalesce(max(id), 0) FROM courses", &[])?;
        let states = self
            .db
            .query_int("SELECT count(*) FROM course_state", &[])?;
        Ok((courses, states))
    }

    /// The problems of the derived state rows: a bad MAC, or out of step with the chain.
    pub(super) fn state_problems(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.db.query(
            "SELECT s.course_id, s.active, s.events, s.last_at, s.mac,
                    coalesce((SELECT max(seq) FROM events e WHERE e.course_id = s.course_id), 0)
             FROM course_state s ORDER BY s.course_id",
            &[],
        )?;
        let mut out = Vec::new();
        for mut r in rows {
            let (id, active, events, last_at, mac, chain) = (
                r.int()?,
                r.flag()?,
                r.int()?,
                r.text()?,
                r.text()?,
                r.int()?,
            );
            if mac != state_mac(&self.key, id, active, events, &last_at) {
                out.push(format!(
                    "course {id}'s state row was changed outside ritplan (its MAC does not match)"
                ));
            } else if events >= 0 && events != chain {
                out.push(format!(
                    "course {id}'s state row says {events} events, its chain has {chain}: an older row was put back"
                ));
            }
        }
        let (courses, states) = self.state_rows()?;
        if states != courses {
            out.push(format!(
                "{} of {courses} courses have no state row: rows were deleted outside ritplan",
                courses - states
            ));
        }
        Ok(out)
    }
}
