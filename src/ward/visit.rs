//! A patient's day on the patient's screen: every active course with a dose today, laid one
//! after the other so that two extracts keep the rules' minutes between them, each with its
//! vial and arm. Built from each course's own decision (`course::next`, with the doses laid
//! before it counted as injections of the day); it decides nothing of its own.

use chrono::NaiveDateTime;

use super::view::{Arm, OmalizumabDay, PatientDay, VisitCourse, VisitDose};
use super::{Ward, WardError};
use crate::course::omalizumab::OmalizumabAction;
use crate::course::{self, ActionKind, EventKind, voided};
use crate::policy::omalizumab_course::OmalizumabNext;

impl Ward {
    /// Patient `id`'s day at `now` (each course verified).
    pub fn patient_day(&mut self, id: &str, now: NaiveDateTime) -> Result<PatientDay, WardError> {
        let patient = self.patient(id)?;
        let today = now.date();
        let mut views = Vec::new();
        let mut omalizumab = Vec::new();
        // Every course of the patient read together (a fixed number of queries).
        let mut batch = self.batch_of(std::slice::from_ref(&patient.id), &[])?;
        for (course, is_omalizumab) in batch.courses() {
            if is_omalizumab {
                // Its own decision, as `next` shows it; a stopped or finished course is left out.
                let v = batch.omalizumab_view(course, now)?;
                let due_today = match &v.decision.action {
                    OmalizumabAction::Stopped { .. }
                    | OmalizumabAction::Next(OmalizumabNext::Done) => continue,
                    OmalizumabAction::Next(OmalizumabNext::Injection { not_before, .. }) => {
                        !not_before
                    }
                    OmalizumabAction::DoNotGive { .. }
                    | OmalizumabAction::Observe { .. }
                    | OmalizumabAction::OtherObservation { .. }
                    | OmalizumabAction::WeightChanged { .. } => false,
                };
                omalizumab.push(OmalizumabDay {
                    id: course,
                    decision: v.decision,
                    given: v.given,
                    due_today,
                });
                continue;
            }
            let v = batch.view(course)?;
            if !v.state.inactive() {
                views.push(v);
            }
        }
        // The arms of the day's injections already given, by course (the latest first).
        let mut given_today: Vec<(NaiveDateTime, i64, Option<String>)> = Vec::new();
        for v in &views {
            let gone = voided(&v.plain_events());
            for e in &v.events {
                if let EventKind::DoseGiven { site, .. } = &e.event.kind
                    && e.event.at.date() == today
                    && !gone.contains(&e.event.seq)
                {
                    given_today.push((e.event.at, v.loaded.record.id, site.clone()));
                }
            }
        }
        given_today.sort_by(|a, b| b.cmp(a));
        let mut between: Option<(u32, String)> = None;
        // Each course's own decision, and its earliest time today if it has a dose today.
        let mut due = Vec::new();
        let mut rest = Vec::new();
        for v in views {
            let ctx = v.loaded.ctx()?;
            let min = ctx.rules.between_extracts_min;
            if between.as_ref().is_none_or(|(m, _)| min > *m) {
                between = Some((min, ctx.rules.between_extracts_provenance.source.clone()));
            }
            let d = v.decide(now)?;
            match earliest_today(&d, now) {
                Some(at) => due.push((at, v)),
                None => rest.push(VisitCourse {
                    id: v.loaded.record.id,
                    decision: d,
                    template: (*v.loaded.template).clone(),
                }),
            }
        }
        due.sort_by_key(|(at, v)| (*at, v.loaded.record.id));
        // One after the other: each decided again with the doses laid before it counted.
        let mut doses: Vec<VisitDose> = Vec::new();
        for (_, v) in due {
            let id = v.loaded.record.id;
            let mut others = v.patient.clone();
            for o in &mut others.others {
                o.injections.extend(
                    doses
                        .iter()
                        .filter(|x| x.course.id == o.course)
                        .map(|x| x.at),
                );
            }
            // As `CourseView::decide`: with the course's recorded vial for the dose in hand.
            let d = course::next_with_vials(v.loaded.ctx()?, &v.state, now, &others);
            let Some(at) = earliest_today(&d, now) else {
                // Laid after the others, it no longer fits today (closing time).
                rest.push(VisitCourse {
                    id,
                    decision: d,
                    template: (*v.loaded.template).clone(),
                });
                continue;
            };
            let after = match &d.wait {
                Some(course::Wait::OtherExtract { course, at: t, .. })
                    if d.not_before == Some(at) =>
                {
                    Some((*course, *t))
                }
                _ => None,
            };
            let arm = match doses.last() {
                Some(prev) => Arm::OtherThan {
                    course: prev.course.id,
                    given: None,
                },
                None => match given_today.iter().find(|(_, c, _)| *c != id) {
                    Some((_, c, site)) => Arm::OtherThan {
                        course: *c,
                        given: site.clone(),
                    },
                    None => Arm::Either,
                },
            };
            doses.push(VisitDose {
                course: VisitCourse {
                    id,
                    decision: d,
                    template: (*v.loaded.template).clone(),
                },
                at,
                after,
                arm,
            });
        }
        rest.sort_by_key(|c| c.id);
        Ok(PatientDay {
            patient,
            doses,
            rest,
            between_extracts: between,
            omalizumab,
        })
    }
}

/// The time a decision's dose may be given, if that is today.
fn earliest_today(d: &course::Decision, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let gives = matches!(
        d.action,
        ActionKind::Give | ActionKind::MaintenanceDue | ActionKind::Wait
    );
    let at = d.not_before.unwrap_or(now).max(now);
    (gives && d.dosing.is_some() && at.date() == now.date()).then_some(at)
}
