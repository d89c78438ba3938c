//! Many courses at once: every course of the patients concerned read in a fixed number of
//! queries ([`crate::store::Store::read_courses_of`]), each verified from the rows read, loaded
//! from its frozen copies and replayed once, then handed out as the views the board, the
//! sheet, `course list` and a course's page show. A course read alone goes the same way: the
//! view of one course is a batch of its patient's courses.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;

use super::omalizumab::{OmalizumabView, load_omalizumab_in, plain};
use super::{CourseKind, CourseView, Loaded, LoadedOmalizumab, Ward, WardError};
use super::{load_record, replay_stored};
use crate::course::omalizumab::{OmalizumabState, decide};
use crate::course::{CourseState, OtherCourse, PatientView};
use crate::policy::omalizumab_course::CourseRules;
use crate::store::{PatientRecord, StoredEvent};

/// An omalizumab course of a batch: loaded, its events, state and frozen course rules.
type Omalizumab = (
    LoadedOmalizumab,
    Vec<StoredEvent>,
    OmalizumabState,
    CourseRules,
);

/// Every course of some patients, each verified, loaded and replayed once.
pub(super) struct Batch {
    /// The patients, by id.
    patients: HashMap<String, PatientRecord>,
    /// The immunotherapy courses not yet handed out.
    immunotherapy: BTreeMap<i64, (Loaded, Vec<StoredEvent>, CourseState)>,
    /// The omalizumab courses not yet handed out.
    omalizumab: BTreeMap<i64, Omalizumab>,
    /// Each patient's courses as they bear on the patient's other courses, by id: the
    /// immunotherapy courses' (`false`), then the omalizumab courses' (`true`).
    bearing: HashMap<String, Vec<(bool, i64, OtherCourse)>>,
    /// Each course's patient.
    patient_of: HashMap<i64, String>,
}

impl Ward {
    /// Every course of the patients of `ids`, verified (`ids` first, in their order, then the
    /// others by id: the first that does not verify or load refuses the whole read, as the
    /// view of any course refuses when one of its patient's courses does not verify).
    pub(super) fn batch(&mut self, ids: &[i64]) -> Result<Batch, WardError> {
        let mut patients: Vec<String> = self
            .store
            .patients_of(ids)?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        patients.sort();
        patients.dedup();
        self.batch_of(&patients, ids)
    }

    /// Every course of `patients`, verified (`first` first, then the others by id).
    pub(super) fn batch_of(
        &mut self,
        patients: &[String],
        first: &[i64],
    ) -> Result<Batch, WardError> {
        let ids = first;
        let read = self.store.read_courses_of(patients)?;
        let mut by_id: BTreeMap<i64, crate::store::ReadCourse> = read
            .courses
            .into_iter()
            .map(|c| (c.record().id, c))
            .collect();
        let mut order: Vec<i64> = Vec::with_capacity(by_id.len());
        let mut seen = std::collections::HashSet::new();
        for id in ids.iter().chain(by_id.keys()) {
            if by_id.contains_key(id) && seen.insert(*id) {
                order.push(*id);
            }
        }
        let mut batch = Batch {
            patients: read
                .patients
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect(),
            immunotherapy: BTreeMap::new(),
            omalizumab: BTreeMap::new(),
            bearing: HashMap::new(),
            patient_of: HashMap::new(),
        };
        let mut bearing: Vec<(String, bool, i64, OtherCourse)> = Vec::new();
        for id in order {
            let Some(c) = by_id.remove(&id) else { continue };
            // Verified first, always: the cache is looked at only for rows that verified.
            let (record, events, seal) = c.verified_sealed()?;
            let patient = record.patient_id.clone();
            batch.patient_of.insert(id, patient.clone());
            if CourseKind::of(&record) == CourseKind::Omalizumab {
                let (course, rules) = load_omalizumab_in(record, &mut self.parsed)?;
                let state = OmalizumabState::replay(&plain(&events));
                bearing.push((patient, true, id, state.as_other(id, &rules)));
                batch.omalizumab.insert(id, (course, events, state, rules));
            } else {
                let cached = match &self.courses {
                    Some(c) => c.get(&seal, record),
                    None => Err(Box::new(record)),
                };
                let (loaded, state) = match cached {
                    Ok((loaded, Some(state))) => (loaded, state),
                    Ok((loaded, None)) => {
                        let state = replay_stored(loaded.ctx()?, &events);
                        if let Some(c) = &self.courses {
                            c.put(&seal, &loaded, &state);
                        }
                        (loaded, state)
                    }
                    Err(record) => {
                        let loaded = load_record(*record, &mut self.parsed)?;
                        let state = replay_stored(loaded.ctx()?, &events);
                        if let Some(c) = &self.courses {
                            c.put(&seal, &loaded, &state);
                        }
                        (loaded, state)
                    }
                };
                bearing.push((patient, false, id, OtherCourse::of(id, &state)));
                batch.immunotherapy.insert(id, (loaded, events, state));
            }
        }
        crate::timing::mark("batch: decode, load, replay");
        bearing.sort_by_key(|(_, omalizumab, id, _)| (*omalizumab, *id));
        for (patient, omalizumab, id, other) in bearing {
            batch
                .bearing
                .entry(patient)
                .or_default()
                .push((omalizumab, id, other));
        }
        Ok(batch)
    }
}

impl Batch {
    /// The patient's courses but `except` as they bear on it: each immunotherapy course's
    /// state, then each omalizumab course's (its systemic reaction holds the patient).
    fn others(&self, patient: &str, except: i64) -> Vec<OtherCourse> {
        self.bearing
            .get(patient)
            .map(|v| {
                v.iter()
                    .filter(|(_, id, _)| *id != except)
                    .map(|(_, _, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The courses of the batch not yet handed out, by id, each with whether it is an
    /// omalizumab course.
    pub(super) fn courses(&self) -> Vec<(i64, bool)> {
        let mut out: Vec<(i64, bool)> = self
            .immunotherapy
            .keys()
            .map(|id| (*id, false))
            .chain(self.omalizumab.keys().map(|id| (*id, true)))
            .collect();
        out.sort_unstable();
        out
    }

    /// The patient of a course of the batch.
    pub(super) fn patient_of(&self, course: i64) -> Option<&str> {
        self.patient_of.get(&course).map(String::as_str)
    }

    /// A patient of the batch, or an error naming the id.
    pub(super) fn patient(&self, id: &str) -> Result<PatientRecord, WardError> {
        self.patients
            .get(id)
            .cloned()
            .ok_or_else(|| WardError::NoPatient { id: id.to_string() })
    }

    /// An immunotherapy course of the batch, handed out once (its events moved, not copied).
    pub(super) fn take_immunotherapy(
        &mut self,
        id: i64,
    ) -> Option<(Loaded, Vec<StoredEvent>, CourseState)> {
        self.immunotherapy.remove(&id)
    }

    /// When each omalizumab injection of the patient's omalizumab courses in the batch was
    /// given (corrected ones left out), in time order.
    pub(super) fn omalizumab_given(&self, patient: &str) -> Vec<NaiveDateTime> {
        let mut out: Vec<NaiveDateTime> = self
            .omalizumab
            .iter()
            .filter(|(id, _)| self.patient_of(**id) == Some(patient))
            .flat_map(|(_, (_, _, state, _))| state.given.iter().copied())
            .collect();
        out.sort_unstable();
        out
    }

    /// An immunotherapy course's view (handed out once).
    pub(super) fn view(&mut self, id: i64) -> Result<CourseView, WardError> {
        if self.omalizumab.contains_key(&id) {
            return Err(WardError::Data(format!(
                "course {id} is an omalizumab course, not an immunotherapy course"
            )));
        }
        let (loaded, events, state) = self
            .immunotherapy
            .remove(&id)
            .ok_or(WardError::NoCourse { id })?;
        let others = self.others(&loaded.record.patient_id, id);
        Ok(CourseView {
            loaded,
            events,
            state,
            patient: PatientView { others },
        })
    }

    /// An omalizumab course's view with its decision at `now` (handed out once).
    pub(super) fn omalizumab_view(
        &mut self,
        id: i64,
        now: NaiveDateTime,
    ) -> Result<OmalizumabView, WardError> {
        if self.immunotherapy.contains_key(&id) {
            return Err(WardError::Data(format!(
                "course {id} is not an omalizumab course"
            )));
        }
        let (course, events, state, rules) = self
            .omalizumab
            .remove(&id)
            .ok_or(WardError::NoCourse { id })?;
        let others = self.others(&course.record.patient_id, id);
        let decision = decide(&course.plan, &rules, &state, &others, now);
        let given = state.given.len();
        Ok(OmalizumabView {
            course,
            events,
            state,
            decision,
            given,
        })
    }
}
