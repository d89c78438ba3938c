//! Reading many courses at once: the board, the sheet, `course list --active` and a course
//! with its patient's other courses read every row they need in a fixed number of queries
//! (one per table, each with the list of courses or patients as one parameter), whatever the
//! number of courses, and verify each course from those rows exactly as a course read alone
//! is verified ([`Store::verification`]).

use std::collections::HashMap;

use super::*;

/// A course read with others, and its verification.
pub struct ReadCourse {
    record: CourseRecord,
    verification: Verification,
    raw: Vec<RawEvent>,
    /// The record's zone, to read the events' moments in.
    times: super::Times,
    /// The course row's MAC.
    mac: String,
}

/// A course as a read that verified identifies it: its id, its row's MAC (over its patient,
/// frozen template, rules, inputs and plan), its number of events and the last event's MAC (or
/// hash, before the key), which the verification has checked along the whole chain from the
/// row's MAC. Two verified reads with the same seal read the same row and the same events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    /// The course's id.
    pub course: i64,
    /// The course row's MAC.
    pub row: String,
    /// How many events it has.
    pub events: usize,
    /// The last event's MAC (empty for none).
    pub last: String,
}

impl ReadCourse {
    /// The stored course (not yet known to verify).
    pub fn record(&self) -> &CourseRecord {
        &self.record
    }

    /// The course and its events: refused with [`StoreError::Tampered`] unless it verified.
    pub fn verified(self) -> Result<(CourseRecord, Vec<StoredEvent>), StoreError> {
        if !self.verification.intact {
            return Err(verify::tampered(&self.verification));
        }
        let events = self
            .raw
            .into_iter()
            .map(|r| r.decode(self.times))
            .collect::<Result<_, _>>()?;
        Ok((self.record, events))
    }

    /// [`ReadCourse::verified`], with the course's [`Seal`] (given only when it verified).
    pub fn verified_sealed(self) -> Result<(CourseRecord, Vec<StoredEvent>, Seal), StoreError> {
        let seal = Seal {
            course: self.record.id,
            row: self.mac.clone(),
            events: self.raw.len(),
            last: self.raw.last().map(|e| e.hash.clone()).unwrap_or_default(),
        };
        let (record, events) = self.verified()?;
        Ok((record, events, seal))
    }
}

/// Patients and every course of theirs, read together.
pub struct PatientsCourses {
    /// The patients found, by id.
    pub patients: Vec<PatientRecord>,
    /// Their courses, by id.
    pub courses: Vec<ReadCourse>,
}

impl Store {
    /// Every course of `patients` with its events, each verified, and the patients: five
    /// queries whatever their number (course rows; the heads, on a server; patient rows;
    /// events; vial index rows). The heads are read after the course rows (which never
    /// change) and before the events, as [`Store::verify`] reads them.
    pub fn read_courses_of(&self, patients: &[String]) -> Result<PatientsCourses, StoreError> {
        let list = Db::list(patients);
        // Sorted here, not by the database: SQLite would sort the rows (each with its frozen
        // copies, tens of KB) through a temporary B-tree written to disk.
        let rows = self.db.query(
            &format!(
                "SELECT {} FROM courses WHERE {}",
                Self::COURSE_COLS,
                self.db.in_list("patient_id", 1, false)
            ),
            std::slice::from_ref(&list),
        )?;
        let mut rows = Self::finish_course_rows(&self.db, rows, self.times())?;
        rows.sort_by_key(|r| r.c.id);
        crate::timing::mark("batch: course rows");
        let ids: Vec<i64> = rows.iter().map(|r| r.c.id).collect();
        let mut heads = self.heads.courses(&self.db, &ids)?;
        // The patients, events and vial rows from one snapshot, taken after the heads: a
        // recording that commits meanwhile is either wholly in it (its event with its vial
        // row) or wholly out, and the snapshot is never behind a head read before it. Read
        // one by one, a vial added between the events' and the vials' reads would look like a
        // row without its event, and the whole board would be refused as changed.
        let snapshot = self.db.begin(Begin::Snapshot)?;
        let mut patient_rows: HashMap<String, PatientRow> = HashMap::new();
        for r in self.db.query(
            &format!(
                "SELECT {} FROM patients WHERE {} ORDER BY id",
                Self::PATIENT_COLS,
                self.db.in_list("id", 1, false)
            ),
            &[list],
        )? {
            let p = Self::patient_row(r)?;
            patient_rows.insert(p.p.id.clone(), p);
        }
        let id_list = Db::list(&ids);
        let mut events: HashMap<i64, Vec<RawEvent>> = HashMap::new();
        for mut r in self.db.query(
            &format!(
                "SELECT course_id, {EVENT_COLS} FROM events WHERE {} ORDER BY course_id, seq",
                self.db.in_list("course_id", 1, true)
            ),
            std::slice::from_ref(&id_list),
        )? {
            let course = r.int()?;
            events
                .entry(course)
                .or_default()
                .push(RawEvent::from_row(r)?);
        }
        let mut vials: HashMap<i64, Vec<(String, i64, String)>> = HashMap::new();
        for mut r in self.db.query(
            &format!(
                "SELECT course_id, code, seq, mac FROM vials WHERE {}",
                self.db.in_list("course_id", 1, true)
            ),
            &[id_list],
        )? {
            let course = r.int()?;
            vials
                .entry(course)
                .or_default()
                .push((r.text()?, r.int()?, r.text()?));
        }
        for v in vials.values_mut() {
            v.sort();
        }
        snapshot.commit()?;
        crate::timing::mark("batch: heads, patients, events");
        let mut courses = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.c.id;
            let raw = events.remove(&id).unwrap_or_default();
            let verification = self.verification(
                id,
                heads.remove(&id),
                &row,
                patient_rows.get(&row.c.patient_id),
                &raw,
                vials.get(&id).map_or(&[][..], |v| v.as_slice()),
            );
            courses.push(ReadCourse {
                record: row.c,
                verification,
                raw,
                times: self.times(),
                mac: row.mac,
            });
        }
        let mut patients = patient_rows
            .into_values()
            .map(Self::finish_patient)
            .collect::<Result<Vec<_>, _>>()?;
        patients.sort_by(|a, b| a.id.cmp(&b.id));
        crate::timing::mark("batch: verify (MACs, heads)");
        Ok(PatientsCourses { patients, courses })
    }

    /// The patient of each of `courses` that exists, by course id: one query.
    pub fn patients_of(&self, courses: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        self.db
            .query(
                &format!(
                    "SELECT id, patient_id FROM courses WHERE {} ORDER BY id",
                    self.db.in_list("id", 1, true)
                ),
                &[Db::list(courses)],
            )?
            .into_iter()
            .map(|mut r| Ok((r.int()?, r.text()?)))
            .collect()
    }

    /// Those of `courses` recorded with a rule set (the ward tells a course's kind by it), by
    /// id: one query, through the courses' key (never a scan of every course's row).
    pub fn course_ids_with_rule_set_among(
        &self,
        rule_set: &str,
        courses: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        self.db
            .query(
                &format!(
                    "SELECT id FROM courses WHERE {} AND rule_set = ?2 ORDER BY id",
                    self.db.in_list("id", 1, true)
                ),
                &[Db::list(courses), rule_set.into()],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The ids of every course not recorded with `rule_set`, in order: one query, without the
    /// courses' frozen copies (the audit reads the immunotherapy courses in chunks by them).
    pub fn course_ids_except_rule_set(&self, rule_set: &str) -> Result<Vec<i64>, StoreError> {
        self.db
            .query(
                "SELECT id FROM courses WHERE rule_set <> ?1 ORDER BY id",
                &[rule_set.into()],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The patients born on any of `dobs`, by id (look-alikes of many patients): one query.
    pub fn patients_born_on(&self, dobs: &[NaiveDate]) -> Result<Vec<PatientRecord>, StoreError> {
        let dobs: Vec<String> = dobs.iter().map(|d| d.to_string()).collect();
        self.db
            .query(
                &format!(
                    "SELECT {} FROM patients WHERE {} ORDER BY id",
                    Self::PATIENT_COLS,
                    self.db.in_list("dob", 1, false)
                ),
                &[Db::list(&dobs)],
            )?
            .into_iter()
            .map(|r| Self::finish_patient(Self::patient_row(r)?))
            .collect()
    }

    /// How many statements the store has sent to its database (queries, writes, BEGIN and
    /// COMMIT): what a test counts to hold a read to a fixed number of round trips.
    pub fn statements_sent(&self) -> u64 {
        self.db.statements_sent()
    }
}
