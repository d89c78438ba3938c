//! What the front ends read of the record besides courses' decisions: the patients, a
//! patient's courses, the courses live on a day, the staff accounts with their state, the
//! record's id, a course's log, and whether a course or the whole record verifies. The store
//! stays behind the ward: these are its only doors.

use chrono::{NaiveDate, NaiveDateTime};

use super::view::{
    AccountState, CourseCheck, CourseRecord, EventLog, PatientRecord, RecordVerification,
    StaffListing,
};
use super::{Ward, WardError};

impl Ward {
    /// Every patient, in the store's order.
    pub fn patients(&self) -> Result<Vec<PatientRecord>, WardError> {
        Ok(self.store.patients()?)
    }

    /// A patient's courses.
    pub fn courses_of(&self, patient: &str) -> Result<Vec<CourseRecord>, WardError> {
        Ok(self.store.courses_of(patient)?)
    }

    /// The ids of the courses live on `since` or later (active, or with an event since), from
    /// the store's derived state.
    pub fn live_course_ids(&self, since: NaiveDate) -> Result<Vec<i64>, WardError> {
        Ok(self.store.live_course_ids(since)?)
    }

    /// The record's id (random, made with the record).
    pub fn record_id(&self) -> &str {
        &self.store.meta().record_id
    }

    /// Every staff account, each with its state at `now` (disabled, locked until a time, or
    /// active).
    pub fn staff_list(&self, now: NaiveDateTime) -> Result<Vec<StaffListing>, WardError> {
        Ok(self
            .store
            .staff_list()?
            .into_iter()
            .map(|account| {
                let state = if account.disabled {
                    AccountState::Disabled
                } else {
                    match account.locked_until {
                        Some(u) if u > now => AccountState::LockedUntil(u),
                        _ => AccountState::Active,
                    }
                };
                StaffListing { account, state }
            })
            .collect())
    }

    /// A course's log as stored, with whether its chain verifies (shown, not refused: the log
    /// is how a changed record is looked at).
    pub fn event_log(&self, id: i64) -> Result<EventLog, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        let events = self.store.events(id)?;
        let chain = self.store.verify(id)?;
        let template = super::load_record(record, &mut super::Parsed::default())
            .ok()
            .map(|l| (*l.template).clone());
        Ok(EventLog {
            events,
            chain,
            template,
        })
    }

    /// Whether a course verifies: its chain is intact **and** its frozen plan reproduces from
    /// its frozen template and rules.
    pub fn verify_course(&mut self, id: i64) -> Result<CourseCheck, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        let chain = self.store.verify(id)?;
        let frozen = if super::CourseKind::of(&record) == super::CourseKind::Omalizumab {
            super::omalizumab::load_omalizumab(record)
                .err()
                .map(|e| e.to_string())
        } else {
            self.load(id).err().map(|e| e.to_string())
        };
        Ok(CourseCheck { chain, frozen })
    }

    /// The whole record checked: every MAC, chain and head.
    pub fn verify_all(&self) -> Result<RecordVerification, WardError> {
        Ok(self.store.verify_all()?)
    }
}
