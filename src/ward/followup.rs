//! Follow-ups: recorded as an entry of the patient's allergen immunotherapy course (by default
//! the most recent; never an omalizumab course), by a physician or a nurse, through the same
//! recording path as every entry (verified, checked and written in one transaction); listed
//! with their scores, the medication score under the clinic's definition
//! (`rules/medication-score.toml`).

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::auth::{Actor, Role};
use super::omalizumab::CourseKind;
use super::{Record, Recorded, Ward, WardError};
use crate::course::EventKind;
use crate::course::followup::{AcqRecord, AcqScore, MedicationUse};
use crate::diag::SourceText;
use crate::policy::medication_score::{MedScore, MedicationScore};

/// A follow-up as a front end parsed it.
#[derive(Clone, Debug)]
pub struct NewFollowUp {
    /// The patient.
    pub patient: String,
    /// The course to record it on (`None`: the patient's most recent immunotherapy course).
    pub course: Option<i64>,
    /// The day of the follow-up.
    pub date: NaiveDate,
    /// The ACQ, if taken.
    pub acq: Option<AcqRecord>,
    /// FEV1, % predicted, if measured.
    pub fev1_percent: Option<Decimal>,
    /// The medication used (`Some(vec![])`: none; `None`: not recorded).
    pub medication: Option<Vec<MedicationUse>>,
}

/// One follow-up as listed (`followup list`, the page).
#[derive(Clone, Debug, Serialize)]
pub struct FollowUpRow {
    /// The course it is recorded on.
    pub course: i64,
    /// Its entry number in the course.
    pub seq: u64,
    /// The day of the follow-up.
    pub date: NaiveDate,
    /// When it was recorded.
    pub recorded_at: NaiveDateTime,
    /// Who recorded it.
    pub by: String,
    /// The ACQ as recorded.
    pub acq: Option<AcqRecord>,
    /// The ACQ score (the mean of the items; `None` without a complete ACQ).
    pub acq_score: Option<AcqScore>,
    /// FEV1, % predicted.
    pub fev1_percent: Option<Decimal>,
    /// The medication as recorded.
    pub medication: Option<Vec<MedicationUse>>,
    /// Its score under [`FollowUps::definition`].
    pub medication_score: MedScore,
}

/// A patient's follow-ups, oldest first, with the medication score's definition.
#[derive(Clone, Debug, Serialize)]
pub struct FollowUps {
    /// The patient.
    pub patient: String,
    /// The definition the medication scores were computed under.
    pub definition: MedicationScore,
    /// The follow-ups.
    pub rows: Vec<FollowUpRow>,
}

impl Ward {
    /// Replaces the medication score definition (the bundled example at open) with a clinic's
    /// file.
    pub fn use_medication_score_rules(&mut self, src: SourceText) -> Result<(), WardError> {
        let rules = MedicationScore::from_source(src).map_err(|e| {
            WardError::Data(
                e.files
                    .iter()
                    .flat_map(|(s, d)| {
                        d.iter().map(move |d| {
                            let (line, col) =
                                d.span.as_ref().map_or((1, 1), |r| s.line_col(r.start));
                            format!("{}:{line}:{col}: {}", s.name, d.message)
                        })
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        self.medication_score = std::cell::OnceCell::from(rules);
        Ok(())
    }

    /// The medication score definition in force.
    pub fn medication_score_rules(&self) -> Result<&MedicationScore, WardError> {
        super::rules_or_bundled(&self.medication_score, super::bundled_medication_score)
    }

    /// The course a follow-up of `patient` goes on: `course` when given (it must be one of the
    /// patient's immunotherapy courses), else the patient's most recent immunotherapy course.
    fn follow_up_course(&self, patient: &str, course: Option<i64>) -> Result<i64, WardError> {
        let courses = self.store.courses_of(patient)?;
        let allergen = courses
            .iter()
            .filter(|c| CourseKind::of(c) == CourseKind::Immunotherapy);
        match course {
            Some(id) => {
                let c = courses
                    .iter()
                    .find(|c| c.id == id)
                    .ok_or_else(|| {
                        WardError::Data(format!(
                            "course {id} is not one of patient {patient}'s courses; nothing was recorded"
                        ))
                    })?;
                if CourseKind::of(c) == CourseKind::Omalizumab {
                    return Err(WardError::Data(format!(
                        "course {id} is an omalizumab course: a follow-up is recorded on an allergen immunotherapy course; nothing was recorded"
                    )));
                }
                Ok(id)
            }
            None => allergen
                .max_by_key(|c| (c.created_at, c.id))
                .map(|c| c.id)
                .ok_or_else(|| {
                    WardError::Data(format!(
                        "patient {patient} has no allergen immunotherapy course to record a follow-up on; nothing was recorded"
                    ))
                }),
        }
    }

    /// Records a follow-up (physician or nurse) on the patient's course, at `now`: the date not
    /// after today and not before the patient's birth, the values in their bounds; allowed on a
    /// finished or stopped course, and it never changes the dosing state.
    pub fn add_follow_up(
        &mut self,
        actor: &Actor,
        f: NewFollowUp,
        now: NaiveDateTime,
    ) -> Result<Recorded, WardError> {
        self.add_follow_up_if(actor, f, now, None)
    }

    /// [`Ward::add_follow_up`], refused as stale unless the course's last entry is still
    /// `seen` (a form shown before another person's entry).
    pub fn add_follow_up_if(
        &mut self,
        actor: &Actor,
        f: NewFollowUp,
        now: NaiveDateTime,
        seen: Option<u64>,
    ) -> Result<Recorded, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "recording a follow-up")?;
        let patient = self.patient(&f.patient)?;
        let id = self.follow_up_course(&patient.id, f.course)?;
        crate::course::followup::check(
            f.date,
            f.acq.as_ref(),
            f.fev1_percent,
            f.medication.as_deref(),
            now.date(),
            patient.dob,
        )
        .map_err(|(field, problem)| WardError::Input { field, problem })?;
        let kind = EventKind::FollowUp {
            date: f.date,
            acq: f.acq,
            fev1_percent: f.fev1_percent,
            medication: f.medication,
        };
        self.record_if(actor, id, now, now, Record::Event(kind), seen)
    }

    /// Every follow-up on the patient's immunotherapy courses (each course verified), oldest
    /// first (by date, then as recorded); a follow-up a correction voided is left out.
    pub fn follow_ups(&mut self, patient: &str) -> Result<FollowUps, WardError> {
        let patient = self.patient(patient)?;
        let ids: Vec<i64> = self
            .store
            .courses_of(&patient.id)?
            .iter()
            .filter(|c| CourseKind::of(c) == CourseKind::Immunotherapy)
            .map(|c| c.id)
            .collect();
        let views = self.views_of(&ids)?;
        let def = self.medication_score_rules()?;
        let mut rows = Vec::new();
        for v in &views {
            let voided = crate::course::voided(&v.plain_events());
            for e in &v.events {
                if voided.contains(&e.event.seq) {
                    continue;
                }
                if let EventKind::FollowUp {
                    date,
                    acq,
                    fev1_percent,
                    medication,
                } = &e.event.kind
                {
                    rows.push(FollowUpRow {
                        course: v.loaded.record.id,
                        seq: e.event.seq,
                        date: *date,
                        recorded_at: e.recorded_at,
                        by: e.event.by.clone(),
                        acq_score: acq.as_ref().and_then(AcqRecord::score),
                        acq: acq.clone(),
                        fev1_percent: *fev1_percent,
                        medication_score: def.score(medication.as_deref()),
                        medication: medication.clone(),
                    });
                }
            }
        }
        rows.sort_by_key(|r| (r.date, r.recorded_at, r.course, r.seq));
        Ok(FollowUps {
            patient: patient.id,
            definition: def.clone(),
            rows,
        })
    }
}
