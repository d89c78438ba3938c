//! The index of vial codes (schema 4): a vial is a `VialAdded` event in its course's chain; a
//! row here finds its course from its code and keeps the code unique in the record. It is a
//! lookup only, never trusted over the chain: each row is MACed with its event's own MAC, and
//! a course's verification checks its rows against its `VialAdded` events (a row missing,
//! moved, changed or left without its event is a problem, as a changed event is).

use super::*;

/// The prefix of every vial code.
pub const VIAL_CODE_PREFIX: char = 'V';

/// The first key of the PostgreSQL advisory lock on new vial codes.
const LOCK_VIAL_CODES: i64 = 0x5249_5403;

/// The MAC of a vial code's index row: its code, course, event number and the event's MAC.
fn vial_mac(key: &Key, code: &str, course: i64, seq: i64, event_mac: &str) -> String {
    key.mac(&[
        "vial",
        code,
        &course.to_string(),
        &seq.to_string(),
        event_mac,
    ])
}

/// The number in a code `V000123` (`None` for anything else).
pub fn vial_code_number(code: &str) -> Option<u64> {
    let digits = code.strip_prefix(VIAL_CODE_PREFIX)?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The code of vial number `n`: `V` and at least six digits.
pub fn vial_code(n: u64) -> String {
    format!("{VIAL_CODE_PREFIX}{n:06}")
}

/// The code of a `VialAdded` event's body, read without decoding the rest of the course.
fn added_code(body: &str) -> Option<String> {
    if !body.starts_with("{\"vial_added\"") {
        return None;
    }
    match serde_json::from_str::<EventKind>(body).ok()? {
        EventKind::VialAdded { code, .. } => Some(code),
        _ => None,
    }
}

impl Store {
    /// Writes the index row of a vial code (inside the event's transaction).
    pub(super) fn insert_vial(
        db: &Db,
        key: &Key,
        code: &str,
        course: i64,
        seq: i64,
        event_mac: &str,
    ) -> Result<(), StoreError> {
        db.exec(
            &format!("INSERT INTO vials ({VIAL_COLS}) VALUES (?1, ?2, ?3, ?4)"),
            vals![
                code,
                course,
                seq,
                vial_mac(key, code, course, seq, event_mac)
            ],
        )?;
        Ok(())
    }

    /// The course a vial code is indexed under (`None`: no such code). A lookup only: the
    /// caller verifies the course and finds the code in its events.
    pub fn vial_course(&self, code: &str) -> Result<Option<i64>, StoreError> {
        self.db
            .query_opt("SELECT course_id FROM vials WHERE code = ?1", vals![code])?
            .map(|mut r| r.int())
            .transpose()
    }

    /// The courses with at least one vial code, in order.
    pub fn courses_with_vials(&self) -> Result<Vec<i64>, StoreError> {
        self.db
            .query(
                "SELECT DISTINCT course_id FROM vials ORDER BY course_id",
                &[],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// A course's vial index rows: code, event number, MAC, by code.
    pub(super) fn vial_rows(&self, course: i64) -> Result<Vec<(String, i64, String)>, StoreError> {
        self.db
            .query(
                "SELECT code, seq, mac FROM vials WHERE course_id = ?1 ORDER BY code",
                vals![course],
            )?
            .into_iter()
            .map(|mut r| Ok((r.text()?, r.int()?, r.text()?)))
            .collect()
    }

    /// The course's index rows (`indexed`: code, event number, MAC, by code) whose row, MAC
    /// or event does not hold, and its `VialAdded` events without their row.
    pub(super) fn vial_problems(
        &self,
        course: i64,
        rows: &[RawEvent],
        indexed: &[(String, i64, String)],
        problems: &mut Vec<String>,
    ) {
        let added: Vec<(String, &RawEvent)> = rows
            .iter()
            .filter_map(|e| added_code(&e.body).map(|c| (c, e)))
            .collect();
        for (code, seq, mac) in indexed {
            let event = added.iter().find(|(c, _)| c == code).map(|(_, e)| *e);
            match event {
                None => problems.push(format!(
                    "course {course}: the vial code {code} is indexed under it, but no vial of the course has that code (a vial row was moved or added outside ritplan)"
                )),
                Some(e) if e.seq != *seq || vial_mac(&self.key, code, course, e.seq, &e.hash) != *mac => {
                    problems.push(format!(
                        "course {course}: the index row of vial {code} does not match its event (changed outside ritplan)"
                    ));
                }
                Some(_) => {}
            }
        }
        for (code, e) in &added {
            if !indexed.iter().any(|(c, _, _)| c == code) {
                problems.push(format!(
                    "course {course}: event {}: vial {code} has no index row (deleted or moved outside ritplan)",
                    e.seq
                ));
            }
        }
    }
}

impl Store {
    /// Index rows that name no course (the rows of a course are checked with it).
    pub(super) fn orphan_vial_problems(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "SELECT code, course_id FROM vials WHERE course_id NOT IN (SELECT id FROM courses) ORDER BY code",
                &[],
            )?
            .into_iter()
            .map(|mut r| {
                let (code, course) = (r.text()?, r.int()?);
                Ok(format!(
                    "the vial code {code} is indexed under course {course}, which does not exist (added outside ritplan)"
                ))
            })
            .collect()
    }
}

impl TxView<'_> {
    /// The next vial code, record-wide, inside the transaction that records it: one above the
    /// highest code given so far. The index's primary key keeps codes unique; on PostgreSQL a
    /// transaction-scoped advisory lock makes two rooms adding vials take turns.
    pub fn next_vial_code(&self) -> Result<String, StoreError> {
        let db = &self.store.db;
        if db.dialect() == db::Dialect::Postgres {
            db.query(
                "SELECT pg_advisory_xact_lock(?1::bigint << 32)::text",
                vals![LOCK_VIAL_CODES],
            )?;
        }
        let last = db
            .query_opt(
                "SELECT code FROM vials ORDER BY length(code) DESC, code DESC LIMIT 1",
                &[],
            )?
            .map(|mut r| r.text())
            .transpose()?;
        let n = match last {
            None => 0,
            Some(c) => vial_code_number(&c).ok_or_else(|| {
                StoreError::Corrupt(format!("the vial code {c:?} is not a code ritplan gives"))
            })?,
        };
        Ok(vial_code(n + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_v_and_six_digits_and_read_back() {
        assert_eq!(vial_code(1), "V000001");
        assert_eq!(vial_code(1_234_567), "V1234567");
        assert_eq!(vial_code_number("V000123"), Some(123));
        for bad in ["V12345", "v000001", "X000001", "V00000a", ""] {
            assert_eq!(vial_code_number(bad), None, "{bad}");
        }
    }
}
