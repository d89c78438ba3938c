//! The ward's board: every course with something to do or to know today, at `now`, in the
//! order a nurse works through them. Built from each course's decision; it decides nothing of
//! its own.

use chrono::NaiveDateTime;

use super::{BoardNext, BoardRow, BoardStatus, CourseKind, Ward, WardError};
use crate::course::ActionKind;
use crate::course::omalizumab::{OmalizumabAction, OmalizumabDecision};
use crate::policy::omalizumab_course::OmalizumabNext;
use crate::store::PatientRecord;

impl Ward {
    /// The board at `now`: every active course due, observed, waiting or held today, and those
    /// done for today; DO NOT GIVE courses always. Each course is verified.
    pub fn board(&mut self, now: NaiveDateTime) -> Result<Vec<BoardRow>, WardError> {
        let today = now.date();
        // Every live course, its patient's other courses and the look-alikes read together:
        // a fixed number of queries whatever the number of courses.
        let (immunotherapy, omalizumab) = self.live_ids(today)?;
        let all: Vec<i64> = immunotherapy.iter().chain(&omalizumab).copied().collect();
        let mut batch = self.batch(&all)?;
        let mut dobs: Vec<chrono::NaiveDate> = all
            .iter()
            .filter_map(|id| batch.patient_of(*id))
            .filter_map(|p| batch.patient(p).ok())
            .map(|p| p.dob)
            .collect();
        dobs.sort_unstable();
        dobs.dedup();
        let born = self.store.patients_born_on(&dobs)?;
        let lookalike = |p: &PatientRecord| born.iter().any(|o| super::alike(p, o));
        let views = immunotherapy
            .iter()
            .map(|id| batch.view(*id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::new();
        for v in views {
            let touched_today = v.events.iter().any(|e| e.event.at.date() == today);
            if v.state.inactive() && !touched_today {
                continue;
            }
            let d = v.decide(now)?;
            let later_today = d.not_before.is_some_and(|t| t.date() == today);
            let (status, at) = match d.action {
                ActionKind::ObservationNotClosed => {
                    (BoardStatus::ObservationOverdue, d.observation_until)
                }
                ActionKind::Observe => (BoardStatus::InObservation, d.observation_until),
                a if a.do_not_give() => (BoardStatus::DoNotGive, None),
                a if a.gives() && d.not_before.is_none_or(|t| t <= now) => {
                    (BoardStatus::DueNow, Some(now))
                }
                _ if later_today => (BoardStatus::Waiting, d.not_before),
                _ if touched_today => (BoardStatus::DoneToday, d.not_before),
                _ => continue,
            };
            let patient = batch.patient(&v.loaded.record.patient_id)?;
            let lookalike = lookalike(&patient);
            rows.push(BoardRow {
                status,
                at,
                course: v.loaded.record.id,
                lookalike,
                template: format!(
                    "{} ({})",
                    v.loaded.template.name,
                    v.loaded.template.evidence_label()
                ),
                patient,
                next: BoardNext::Immunotherapy {
                    next: Box::new(d),
                    frozen_template: Box::new((*v.loaded.template).clone()),
                },
            });
        }
        // The omalizumab courses, each from the decision `next` shows.
        for id in omalizumab {
            let v = batch.omalizumab_view(id, now)?;
            let touched_today = v.events.iter().any(|e| e.event.at.date() == today);
            let (status, at) = match omalizumab_status(&v.decision, now) {
                Some(x) => x,
                None if touched_today => (BoardStatus::DoneToday, None),
                None => continue,
            };
            let patient = batch.patient(&v.course.record.patient_id)?;
            let lookalike = lookalike(&patient);
            rows.push(BoardRow {
                status,
                at,
                course: id,
                lookalike,
                template: format!(
                    "omalizumab ({} label, {} mg every {} weeks)",
                    v.course.plan.label.to_uppercase(),
                    v.course.plan.dose_mg,
                    v.course.plan.every_weeks
                ),
                patient,
                next: BoardNext::Omalizumab {
                    kind: CourseKind::Omalizumab,
                    next: v.decision,
                    given: v.given,
                },
            });
        }
        rows.sort_by(|a, b| {
            (a.status, a.at, &a.patient.name, a.course).cmp(&(
                b.status,
                b.at,
                &b.patient.name,
                b.course,
            ))
        });
        Ok(rows)
    }

    /// Patients whose id is `query` or whose name contains it (ignoring case and spacing),
    /// by name.
    pub fn find_patients(&self, query: &str) -> Result<Vec<PatientRecord>, WardError> {
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let q = norm(query);
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: Vec<PatientRecord> = self
            .store
            .patients()?
            .into_iter()
            .filter(|p| p.id == query.trim() || norm(&p.name).contains(&q))
            .collect();
        found.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(found)
    }
}

/// Where an omalizumab course stands on the board at `now`, read from its decision: `None`
/// when it has nothing for today (stopped, done, or its next injection another day).
pub(super) fn omalizumab_status(
    d: &OmalizumabDecision,
    now: NaiveDateTime,
) -> Option<(BoardStatus, Option<NaiveDateTime>)> {
    match &d.action {
        // A weight change stops the injection until a physician reviews, as a hold does.
        OmalizumabAction::DoNotGive { .. } | OmalizumabAction::WeightChanged { .. } => {
            Some((BoardStatus::DoNotGive, None))
        }
        OmalizumabAction::OtherObservation { until, .. } => {
            Some((BoardStatus::Waiting, Some(*until)))
        }
        // As an immunotherapy course's: from the observation's end on, it waits to be recorded.
        OmalizumabAction::Observe { until } if now >= *until => {
            Some((BoardStatus::ObservationOverdue, Some(*until)))
        }
        OmalizumabAction::Observe { until } => Some((BoardStatus::InObservation, Some(*until))),
        OmalizumabAction::Next(OmalizumabNext::Injection {
            not_before: false, ..
        }) => Some((BoardStatus::DueNow, Some(now))),
        OmalizumabAction::Next(_) | OmalizumabAction::Stopped { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::omalizumab_course::NOT_RECALCULATED;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    #[test]
    fn an_omalizumab_observation_is_overdue_from_its_end_and_a_later_injection_is_not_listed() {
        let observe = OmalizumabDecision {
            action: OmalizumabAction::Observe {
                until: t("2026-12-07 09:00"),
            },
            note: NOT_RECALCULATED,
        };
        assert_eq!(
            omalizumab_status(&observe, t("2026-12-07 08:59")),
            Some((BoardStatus::InObservation, Some(t("2026-12-07 09:00"))))
        );
        assert_eq!(
            omalizumab_status(&observe, t("2026-12-07 09:00")),
            Some((BoardStatus::ObservationOverdue, Some(t("2026-12-07 09:00"))))
        );
        let done = OmalizumabDecision {
            action: OmalizumabAction::Next(OmalizumabNext::Done),
            note: NOT_RECALCULATED,
        };
        assert_eq!(omalizumab_status(&done, t("2026-12-07 09:00")), None);
    }
}
