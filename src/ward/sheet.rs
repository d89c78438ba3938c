//! The day's dosing sheet over every active course: the patient's courses laid one after the
//! other so that two extracts keep their spacing.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::batch::Batch;
use super::{OmalizumabRow, SheetLine, Ward, WardError};
use crate::course;
use crate::course::omalizumab::OmalizumabAction;
use crate::policy::omalizumab_course::OmalizumabNext;
use crate::store::PatientRecord;

impl Ward {
    /// Every active course's sheet rows for `date`, made at `now`, with the patient and the
    /// course; a patient's courses are laid one after the other so that two extracts keep their
    /// spacing.
    pub fn sheet(
        &mut self,
        date: NaiveDate,
        now: NaiveDateTime,
    ) -> Result<Vec<SheetLine>, WardError> {
        let date = crate::when::date(date).map_err(|e| WardError::Data(format!("the day {e}")))?;
        crate::when::datetime(now).map_err(|e| WardError::Data(format!("the clock: {e}")))?;
        // Only the courses live on the day: finished ones are never read (but those of the
        // same patients, read with them). Read together: a fixed number of queries whatever
        // the number of courses.
        let (immunotherapy, omalizumab) = self.live_ids(date)?;
        let all: Vec<i64> = immunotherapy.iter().chain(&omalizumab).copied().collect();
        let mut batch = self.batch(&all)?;
        let mut by_patient: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for id in immunotherapy {
            if let Some(pid) = batch.patient_of(id) {
                by_patient.entry(pid.to_string()).or_default().push(id);
            }
        }
        let mut patients: BTreeMap<String, PatientRecord> = BTreeMap::new();
        for pid in by_patient.keys() {
            if let Ok(p) = batch.patient(pid) {
                patients.insert(pid.clone(), p);
            }
        }
        let mut lines = Vec::new();
        for (pid, ids) in by_patient {
            let mut planned: Vec<(i64, Vec<NaiveDateTime>)> = Vec::new();
            for id in ids {
                let mut v = batch.view(id)?;
                if v.state.inactive() {
                    continue;
                }
                // The other courses' planned injections of the day count as injections.
                for o in &mut v.patient.others {
                    if let Some((_, times)) = planned.iter().find(|(c, _)| *c == o.course) {
                        o.injections.extend(times.iter().copied());
                    }
                }
                let ctx = v.loaded.ctx()?;
                let rows = course::sheet_rows(ctx, &v.state, &v.patient, date, now);
                planned.push((
                    id,
                    rows.iter()
                        .filter(|r| r.dosing.is_some())
                        .filter_map(|r| r.time.map(|t| NaiveDateTime::new(date, t)))
                        .collect(),
                ));
                let name = patients
                    .get(&pid)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                for row in rows {
                    let vial = row
                        .dosing
                        .as_ref()
                        .and_then(|d| v.loaded.template.vial(&d.vial));
                    // The vial `next` takes in hand for that dose (course::vial_for): the one
                    // the last dose of that strength was drawn from while usable, else the newest
                    // usable one.
                    let vial_code = vial.and_then(|tv| {
                        course::vial_for(&v.state, &tv.id, date).map(|x| x.code.clone())
                    });
                    let phase = row.dosing.as_ref().and_then(|d| ctx.phase_of(d.step));
                    lines.push(SheetLine {
                        phase,
                        course: id,
                        patient: pid.clone(),
                        name: name.clone(),
                        vial_label: vial.map(|x| x.label.clone()),
                        concentration: vial.map(|x| x.concentration.to_string()),
                        cap: vial.map(|x| x.cap.clone()),
                        vial_code,
                        evidence: v.loaded.template.evidence_label(),
                        row,
                        omalizumab: None,
                    });
                }
            }
        }
        lines.extend(omalizumab_sheet(&mut batch, &omalizumab, date, now)?);
        // DO NOT GIVE and observation rows first (no time, or the observation's end), then time.
        lines.sort_by_key(|l| {
            (
                !(l.row.action.do_not_give()
                    || l.row.action == course::ActionKind::ObservationNotClosed),
                l.row.time,
                l.course,
            )
        });
        Ok(lines)
    }
}

/// The omalizumab courses' rows for `date`, made at `now`, each from the decision `next`
/// shows at the sheet's moment (now for today, the day's start otherwise): a DO NOT GIVE
/// row while the patient is held, an observation row while the last injection's is open,
/// and the injection when it is due on the day or late. Not an allergen dose: no dosing,
/// vial or lot.
fn omalizumab_sheet(
    batch: &mut Batch,
    ids: &[i64],
    date: NaiveDate,
    now: NaiveDateTime,
) -> Result<Vec<SheetLine>, WardError> {
    let moment = if date == now.date() {
        now
    } else {
        NaiveDateTime::new(date, NaiveTime::MIN)
    };
    let mut lines = Vec::new();
    for &id in ids {
        let v = batch.omalizumab_view(id, moment)?;
        let blank = |action, time: Option<NaiveTime>| course::SheetRow {
            time,
            action,
            dosing: None,
            observation_min: None,
            assumes_tolerated: false,
            hold: None,
            held_by: None,
            reasons: Vec::new(),
            premedication: Vec::new(),
        };
        let (row, injection) = match &v.decision.action {
            OmalizumabAction::DoNotGive { hold, held_by } => {
                let mut r = blank(
                    if held_by.is_some() {
                        course::ActionKind::PatientHold
                    } else {
                        course::ActionKind::PhysicianReview
                    },
                    None,
                );
                r.hold = Some(hold.clone());
                r.held_by = *held_by;
                (r, None)
            }
            OmalizumabAction::WeightChanged { .. } => {
                (blank(course::ActionKind::PhysicianReview, None), None)
            }
            OmalizumabAction::OtherObservation { course, until, .. } => {
                let mut r = blank(course::ActionKind::Wait, Some(until.time()));
                r.held_by = Some(*course);
                (r, None)
            }
            OmalizumabAction::Observe { until } => (
                blank(
                    if moment >= *until {
                        course::ActionKind::ObservationNotClosed
                    } else {
                        course::ActionKind::Observe
                    },
                    Some(until.time()),
                ),
                None,
            ),
            OmalizumabAction::Next(
                n @ OmalizumabNext::Injection {
                    not_before: false,
                    observation_min,
                    ..
                },
            ) => {
                let mut r = blank(course::ActionKind::Give, None);
                r.observation_min = Some(*observation_min);
                (r, Some(n.clone()))
            }
            OmalizumabAction::Next(_) | OmalizumabAction::Stopped { .. } => continue,
        };
        let patient = batch.patient(&v.course.record.patient_id)?;
        lines.push(SheetLine {
            course: id,
            patient: patient.id.clone(),
            name: patient.name.clone(),
            row,
            vial_label: None,
            cap: None,
            concentration: None,
            vial_code: None,
            evidence: v
                .course
                .plan
                .provenance
                .as_ref()
                .map_or_else(|| "label".to_string(), |p| p.evidence.to_string()),
            phase: None,
            omalizumab: Some(OmalizumabRow {
                injection,
                note: v.decision.note,
            }),
        });
    }
    Ok(lines)
}
