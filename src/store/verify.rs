//! Verification: each course's chain against its rows, its patient and its head outside the
//! database; the counts and digests of every table; the whole record.

use super::*;

impl Store {
    pub(super) fn count(&self, table: &str) -> Result<u64, StoreError> {
        let n = self
            .db
            .query_int(&format!("SELECT count(*) FROM {table}"), &[])?;
        Ok(n.max(0) as u64)
    }

    /// The counts and digests of the database as it is now.
    pub(super) fn current_counts(&self) -> Result<Counts, StoreError> {
        self.counts_by(Self::count)
    }

    /// The counts and digests, with the patients and courses counted by `rows` (every row, or
    /// [`Store::newest`]); staff and settings are small tables, counted and digested in full.
    pub(super) fn counts_by(
        &self,
        rows: impl Fn(&Self, &str) -> Result<u64, StoreError>,
    ) -> Result<Counts, StoreError> {
        Ok(Counts {
            patients: rows(self, "patients")?,
            courses: rows(self, "courses")?,
            staff: self.count("staff")?,
            staff_rows: Some(self.table_digest("staff", "id")?),
            settings_rows: Some(self.table_digest("settings", "key")?),
        })
    }

    /// How many rows an append-only table (patients, courses) holds as far as its newest row
    /// tells: its rowid on SQLite (rows are numbered from 1 and never deleted, so the newest
    /// row's number is the count, and a missing last row lowers it; from an index, whatever
    /// the table's size), a count on PostgreSQL.
    pub(super) fn newest(&self, table: &str) -> Result<u64, StoreError> {
        let n = match self.db.dialect() {
            db::Dialect::Sqlite => self
                .db
                .query_int(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"), &[])?,
            db::Dialect::Postgres => self
                .db
                .query_int(&format!("SELECT count(*) FROM {table}"), &[])?,
        };
        Ok(n.max(0) as u64)
    }

    /// The MAC over every row's own MAC of a table whose rows change in place.
    pub(super) fn table_digest(&self, table: &str, id: &str) -> Result<String, StoreError> {
        let rows: Vec<(String, String)> = self
            .db
            .query(&format!("SELECT {id}, mac FROM {table} ORDER BY {id}"), &[])?
            .into_iter()
            .map(|mut r| Ok((r.text()?, r.text()?)))
            .collect::<Result<_, StoreError>>()?;
        let mut parts = vec![table];
        for (id, mac) in &rows {
            parts.push(id);
            parts.push(mac);
        }
        Ok(self.key.mac(&parts))
    }

    pub(super) fn advance_counts(&self) -> Result<(), StoreError> {
        self.heads
            .exclusive(&self.db, || Ok(((), self.current_counts()?)))
    }

    /// Runs a change to the staff or settings tables and writes their digests outside the
    /// database under the same lock (see [`Heads::exclusive`]).
    pub(super) fn accounts_write<T>(
        &self,
        write: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.heads.exclusive(&self.db, || {
            let t = write()?;
            Ok((t, self.current_counts()?))
        })
    }

    /// Staff, settings and session rows whose MAC does not hold, and what does not match
    /// between those tables (and the row counts) and the record file outside the database: a
    /// deleted row, or a row put back to an older copy.
    pub fn account_problems(&self) -> Result<Vec<String>, StoreError> {
        self.account_problems_counting(true)
    }

    /// [`Store::account_problems`]; `exact` false for the check every command makes: the
    /// patients and courses are not counted row by row (that would cost every command time in
    /// proportion to every patient and course ever recorded) but by their newest row, which
    /// finds a record put back to an older copy, or its last rows deleted. A row deleted from
    /// the middle is found by `ritplan verify` (which counts them all) and by the verification
    /// of its own course whenever that course is used.
    pub(super) fn account_problems_counting(&self, exact: bool) -> Result<Vec<String>, StoreError> {
        self.heads.shared(&self.db, |head| {
            let Some(head) = head else {
                return Ok(vec![
                    "the record's counts outside the database are missing".into(),
                ]);
            };
            let mut problems = self.staff_problems()?;
            let now = if exact {
                self.current_counts()?
            } else {
                self.counts_by(Self::newest)?
            };
            for (what, head, now) in [
                ("patients", head.patients, now.patients),
                ("courses", head.courses, now.courses),
                ("staff accounts", head.staff, now.staff),
            ] {
                if now < head {
                    problems.push(format!(
                        "{} {what} missing: the record held {head}, it holds {now}",
                        head - now
                    ));
                }
            }
            for (what, head, now) in [
                ("staff accounts", head.staff_rows, now.staff_rows),
                ("settings", head.settings_rows, now.settings_rows),
            ] {
                if head != now {
                    problems.push(format!(
                        "the {what} do not match their digest outside the database: a row was deleted, added, or put back to an older copy of itself"
                    ));
                }
            }
            Ok(problems)
        })
    }

    /// Fails with [`StoreError::Tampered`] unless the staff and settings tables match the
    /// record file outside the database (see [`Store::account_problems`]).
    pub fn verify_accounts(&self) -> Result<(), StoreError> {
        let problems = self.account_problems_counting(false)?;
        if problems.is_empty() {
            return Ok(());
        }
        Err(StoreError::Tampered(format!(
            "the record's accounts do not verify, so nobody is logged in or recorded: {}. Run `ritplan verify` to investigate, and restore the record from a backup",
            problems.join("; ")
        )))
    }
}

impl Store {
    /// Recomputes a course's chain from the stored bytes under the key, checks the course row
    /// and its patient's row, and compares the chain with its head outside the database.
    pub fn verify(&self, course: i64) -> Result<Verification, StoreError> {
        Ok(self.verify_read(course)?.0)
    }

    /// [`Store::verify`], with the course row and the event rows it checked (inside a
    /// transaction: what the transaction then decides on).
    pub(super) fn verify_read(
        &self,
        course: i64,
    ) -> Result<(Verification, CourseRow, Vec<RawEvent>), StoreError> {
        self.verify_read_with(course, false)
    }

    /// [`Store::verify_read`]; `known_texts` as for [`frozen::resolve_with`].
    fn verify_read_with(
        &self,
        course: i64,
        known_texts: bool,
    ) -> Result<(Verification, CourseRow, Vec<RawEvent>), StoreError> {
        // The head first: it is written after each commit, so a head read before the database
        // can never be ahead of what the database then shows, unless rows were removed.
        let head = self.heads.course(&self.db, course)?;
        let Some(row) = self.course_row_by_id(course, known_texts)? else {
            return Err(StoreError::NotFound(format!(
                "no course has the id {course}"
            )));
        };
        let patient = self.patient_rows(Some(&row.c.patient_id))?;
        let rows = RawEvent::load(&self.db, course)?;
        let indexed = self.vial_rows(course)?;
        let v = self.verification(course, head, &row, patient.first(), &rows, &indexed);
        Ok((v, row, rows))
    }

    /// A course's verification from the rows read for it: its head outside the database (read
    /// before the rows), its row, its patient's row, its events and its vial index rows. The
    /// one check of a course, whether it was read alone ([`Store::verify_read`]) or with
    /// others in a fixed number of queries ([`Store::read_courses_of`]).
    pub(super) fn verification(
        &self,
        course: i64,
        head: Option<Head>,
        row: &CourseRow,
        patient: Option<&PatientRow>,
        rows: &[RawEvent],
        indexed: &[(String, i64, String)],
    ) -> Verification {
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        self.row_problems(course, row, patient, &mut problems);
        self.chain_problems(course, row, rows, &mut problems);
        self.vial_problems(course, rows, indexed, &mut problems);
        head_problems(course, head, row, rows, &mut problems, &mut notes);
        Verification {
            course,
            events: rows.len(),
            intact: problems.is_empty(),
            problems,
            notes,
        }
    }

    /// The course row's MAC, and its patient's row.
    fn row_problems(
        &self,
        course: i64,
        row: &CourseRow,
        patient: Option<&PatientRow>,
        problems: &mut Vec<String>,
    ) {
        if Self::course_mac(&self.key, row) != row.mac {
            problems.push(format!(
                "course {course}: its row (patient, frozen template, rules, inputs or plan) does not match its MAC: changed outside ritplan"
            ));
        }
        if let Some(p) = &row.frozen_problem {
            problems.push(format!("course {course}: {p}"));
        }
        match patient {
            None => problems.push(format!(
                "course {course}: its patient {:?} is missing",
                row.c.patient_id
            )),
            Some(p) => problems.extend(self.patient_problem(p)),
        }
    }

    /// Each event's number, keyed mark, link to the one before, MAC (or hash) and body.
    fn chain_problems(
        &self,
        course: i64,
        row: &CourseRow,
        rows: &[RawEvent],
        problems: &mut Vec<String>,
    ) {
        let mut prev = String::new();
        for (i, e) in rows.iter().enumerate() {
            let seq = e.seq;
            if seq != i as i64 + 1 {
                problems.push(format!("event {seq}: expected number {}", i + 1));
            }
            let must_be_keyed = seq >= row.keyed_from;
            if must_be_keyed != e.keyed {
                problems.push(format!(
                    "event {seq}: {} (changed outside ritplan)",
                    if must_be_keyed {
                        "recorded under the key, but marked as from before it"
                    } else {
                        "marked as keyed, but the course's keyed chain starts later"
                    }
                ));
            }
            // A keyed chain starts from the course row's MAC; a migrated course's keyed part
            // starts with the migration event, linked to the last unkeyed event.
            if seq == 1 && e.keyed {
                prev = row.mac.clone();
            }
            if e.prev != prev {
                problems.push(format!(
                    "event {seq}: its link to the previous event does not match (an event was removed or changed)"
                ));
            }
            let expected = if e.keyed {
                e.mac(&self.key, course, &row.mac)
            } else {
                e.sha_hash(course)
            };
            if expected != e.hash {
                problems.push(format!(
                    "event {seq}: its content does not match its {} (changed after recording)",
                    if e.keyed { "MAC" } else { "hash" }
                ));
            }
            if serde_json::from_str::<EventKind>(&e.body).is_err() {
                problems.push(format!("event {seq}: unreadable"));
            }
            prev = e.hash.clone();
        }
    }

    /// A course's events after verifying it (and its patient): refused with
    /// [`StoreError::Tampered`] unless intact.
    pub(super) fn verified_events(
        &self,
        course: i64,
    ) -> Result<(CourseRow, Vec<StoredEvent>), StoreError> {
        self.verified_events_with(course, false)
    }

    /// [`Store::verified_events`]; `known_texts` as for [`frozen::resolve_with`].
    pub(super) fn verified_events_with(
        &self,
        course: i64,
        known_texts: bool,
    ) -> Result<(CourseRow, Vec<StoredEvent>), StoreError> {
        let (v, row, rows) = self.verify_read_with(course, known_texts)?;
        if !v.intact {
            return Err(tampered(&v));
        }
        let events = rows
            .into_iter()
            .map(|r| r.decode(self.times()))
            .collect::<Result<_, _>>()?;
        Ok((row, events))
    }

    /// Verifies the whole record: every course, every patient, staff, settings and sessions
    /// row, and the counts and heads outside the database.
    pub fn verify_all(&self) -> Result<RecordVerification, StoreError> {
        let mut problems = Vec::new();
        // What lies outside the database first (see `verify`).
        let head_ids = self.heads.course_ids(&self.db)?;
        let ids: Vec<i64> = self.courses()?.iter().map(|c| c.id).collect();
        let mut courses = Vec::new();
        for id in &ids {
            courses.push(self.verify(*id)?);
        }
        for p in self.patient_rows(None)? {
            problems.extend(self.patient_problem(&p));
        }
        for id in head_ids {
            if !ids.contains(&id) {
                problems.push(format!(
                    "course {id} has a head outside the database but no row in it: deleted"
                ));
            }
        }
        problems.extend(self.account_problems()?);
        problems.extend(self.state_problems()?);
        problems.extend(self.orphan_vial_problems()?);
        // A patient's row is named once: under its course if it has one.
        problems.retain(|p| !courses.iter().any(|c| c.problems.contains(p)));
        let intact = problems.is_empty() && courses.iter().all(|v| v.intact);
        Ok(RecordVerification {
            courses,
            problems,
            intact,
        })
    }

    /// A course and its events, read once and verified (with its patient and head): refused
    /// with [`StoreError::Tampered`] unless intact, [`StoreError::NotFound`] when no course has
    /// the id.
    pub fn verified_course(
        &self,
        course: i64,
    ) -> Result<(CourseRecord, Vec<StoredEvent>), StoreError> {
        let (row, events) = self.verified_events(course)?;
        Ok((row.c, events))
    }

    /// Fails with [`StoreError::Tampered`] unless the course (and its patient) verify.
    pub fn verify_or_refuse(&self, course: i64) -> Result<(), StoreError> {
        let v = self.verify(course)?;
        if v.intact {
            return Ok(());
        }
        Err(tampered(&v))
    }
}

/// The chain against its head outside the database: events missing at the end, a chain that no
/// longer matches, or events after the last head written (a note).
fn head_problems(
    course: i64,
    head: Option<Head>,
    row: &CourseRow,
    rows: &[RawEvent],
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    match head {
        None => problems.push(format!(
            "course {course}: its chain has no head (the heads folder or table is incomplete)"
        )),
        Some(h) => {
            let n = rows.len() as u64;
            if h.count > n {
                problems.push(format!(
                    "course {course}: {} recorded event{} missing at the end: the head outside the database names {} events, the database holds {n}",
                    h.count - n,
                    if h.count - n == 1 { " is" } else { "s are" },
                    h.count
                ));
            } else {
                let at_head = match h.count {
                    0 => Some(row.mac.as_str()),
                    c => rows.get(c as usize - 1).map(|e| e.hash.as_str()),
                };
                if at_head != Some(h.mac.as_str()) {
                    problems.push(format!(
                        "course {course}: the chain up to event {} no longer matches the head outside the database",
                        h.count
                    ));
                }
                if n > h.count {
                    notes.push(format!(
                        "course {course}: {} event(s) after the last head written outside the database (a process stopped after its commit?); the next record moves the head",
                        n - h.count
                    ));
                }
            }
        }
    }
}

/// The refusal to decide or record on a course that does not verify.
pub(super) fn tampered(v: &Verification) -> StoreError {
    let course = v.course;
    StoreError::Tampered(format!(
        "course {course} does not verify, so nothing is decided or recorded on it: {}. Run `ritplan verify` and `ritplan course log {course}` to investigate, and restore the record from a backup",
        v.problems.join("; ")
    ))
}
