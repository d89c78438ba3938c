//! The ward's board: every course with something to do or to know today, at `now`, in the
//! order a nurse works through them. Built from each course's decision; it decides nothing of
//! its own.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::{Ward, WardError};
use crate::course::{ActionKind, Decision};
use crate::store::PatientRecord;

/// Where a course stands on the board, in the board's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardStatus {
    /// The observation's minimum has passed and its end is not recorded: record it.
    ObservationOverdue,
    /// A dose may be given now.
    DueNow,
    /// In observation until a time.
    InObservation,
    /// The next dose is due later today.
    Waiting,
    /// Only a physician (or a correction) can lift it: DO NOT GIVE.
    DoNotGive,
    /// Nothing more today.
    DoneToday,
}

impl BoardStatus {
    /// The words a nurse reads.
    pub fn label(self) -> &'static str {
        match self {
            BoardStatus::ObservationOverdue => "OBSERVATION OVERDUE",
            BoardStatus::DueNow => "DUE NOW",
            BoardStatus::InObservation => "IN OBSERVATION",
            BoardStatus::Waiting => "WAITING",
            BoardStatus::DoNotGive => "DO NOT GIVE",
            BoardStatus::DoneToday => "DONE FOR TODAY",
        }
    }
}

/// One course on the board.
#[derive(Clone, Debug, Serialize)]
pub struct BoardRow {
    /// Where it stands.
    pub status: BoardStatus,
    /// The time that matters: the observation's end, the time a dose is due, or none.
    pub at: Option<NaiveDateTime>,
    /// Course id.
    pub course: i64,
    /// The patient.
    pub patient: PatientRecord,
    /// Whether another patient has the same name and date of birth.
    pub lookalike: bool,
    /// The template's name and evidence label.
    pub template: String,
    /// The decision behind the row.
    pub next: Decision,
    /// The decision in words, as `next` says it (`render::course::headline`), vials named.
    pub text: String,
}

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
            let text = crate::render::course::headline(&d, &v.loaded.template);
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
                text,
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
