//! The ward's board: every course with something to do or to know today, at `now`, in the
//! order a nurse works through them. Built from each course's decision; it decides nothing of
//! its own.

use chrono::NaiveDateTime;

use super::{BoardRow, BoardStatus, Ward, WardError};
use crate::course::ActionKind;
use crate::store::PatientRecord;

impl Ward {
    /// The board at `now`: every active course due, observed, waiting or held today, and those
    /// done for today; DO NOT GIVE courses always. Each course is verified.
    pub fn board(&mut self, now: NaiveDateTime) -> Result<Vec<BoardRow>, WardError> {
        let today = now.date();
        let mut rows = Vec::new();
        for v in self.live_views(today)? {
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
            let patient = self.patient(&v.loaded.record.patient_id)?;
            let lookalike = !self.lookalikes(&patient)?.is_empty();
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
                next: d,
                frozen_template: v.loaded.template.clone(),
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
