//! A course's rows on a day's dosing sheet, as the state machine sees it at the moment the sheet
//! is made (the opening time of another day): a DO NOT GIVE row while a physician must decide;
//! "IN OBSERVATION until" or "OBSERVATION NOT CLOSED" while the last dose's observation is open;
//! then the day's doses as the course would run (each after the previous observation and
//! interval, assuming each dose is tolerated).

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Serialize, Serializer};

use super::Context;
use super::next::{ActionKind, Dosing, PatientView};
use super::project::project;
use super::reason::{Hold, Reason};
use super::state::CourseState;

/// One row of a day's dosing sheet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SheetRow {
    /// Earliest time (the observation's end for an observation row; `None` for DO NOT GIVE).
    #[serde(serialize_with = "opt_hhmm")]
    pub time: Option<NaiveTime>,
    /// What the row asks.
    pub action: ActionKind,
    /// The dose, for a dose row.
    #[serde(flatten)]
    pub dosing: Option<Dosing>,
    /// Observation after it, minutes.
    pub observation_min: Option<u32>,
    /// Assumes the earlier doses of the day were tolerated.
    pub assumes_tolerated: bool,
    /// The hold, for a DO NOT GIVE row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// The course holding this one, for a patient hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<i64>,
    /// Why, citing the rules.
    pub reasons: Vec<Reason>,
    /// The premedication this dose needs or is reminded of, with its window.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub premedication: Vec<super::PremedicationDue>,
}

fn opt_hhmm<S: Serializer>(t: &Option<NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.format("%H:%M").to_string()),
        None => s.serialize_none(),
    }
}

/// The moment a sheet for `date` is computed at: now for today, the opening time otherwise.
pub fn sheet_moment(ctx: Context<'_>, date: NaiveDate, now: NaiveDateTime) -> NaiveDateTime {
    let opens = NaiveDateTime::new(date, ctx.calendar.opens);
    if date == now.date() {
        now.max(opens)
    } else {
        opens
    }
}

/// A course's rows on `date`'s sheet, made at `now`.
pub fn sheet_rows(
    ctx: Context<'_>,
    state: &CourseState,
    patient: &PatientView,
    date: NaiveDate,
    now: NaiveDateTime,
) -> Vec<SheetRow> {
    let start = sheet_moment(ctx, date, now);
    // With the course's recorded vial for the dose in hand, as `next` shows it.
    let d = super::vial::next_with_vials(ctx, state, start, patient);
    let row = |action, time: Option<NaiveTime>| SheetRow {
        time,
        action,
        dosing: None,
        observation_min: None,
        assumes_tolerated: false,
        hold: d.hold.clone(),
        held_by: d.held_by,
        reasons: d.reasons.clone(),
        premedication: Vec::new(),
    };
    let mut rows = Vec::new();
    match d.action {
        ActionKind::Ended | ActionKind::Stopped | ActionKind::VisitClosed => return rows,
        ActionKind::PhysicianReview | ActionKind::PatientHold => {
            return vec![row(d.action, None)];
        }
        ActionKind::ObservationNotClosed => {
            return vec![row(d.action, d.observation_until.map(|t| t.time()))];
        }
        ActionKind::Observe => rows.push(row(d.action, d.observation_until.map(|t| t.time()))),
        ActionKind::Wait | ActionKind::Give | ActionKind::MaintenanceDue => {}
    }
    if !ctx.calendar.is_clinic_day(date) {
        return rows;
    }
    // The front ends hold dates to the years ritplan accepts (`crate::when`); the last
    // representable day has no next day, and then nothing is projected rather than a panic.
    let Some(end) = NaiveDateTime::new(date, NaiveTime::MIN).checked_add_signed(Duration::days(1))
    else {
        return rows;
    };
    let p = project(ctx, state, patient, start, Some(end), 64);
    // The first projected dose is due with the state as it is; the later ones of the day follow
    // a dose of the same day, so only a premedication before each injection applies to them.
    let premedication = |i: usize, at: NaiveDateTime| {
        let mut due = super::premedication_due(ctx, state, at);
        if i > 0 {
            due.retain(|p| p.premedication.anchor == crate::template::PremedAnchor::EachInjection);
        }
        due
    };
    for (i, x) in p
        .doses
        .into_iter()
        .filter(|x| x.at.date() == date)
        .enumerate()
    {
        let due = premedication(i, x.at);
        rows.push(SheetRow {
            premedication: due,
            time: Some(x.at.time()),
            action: if x.dosing.maintenance.is_some() {
                ActionKind::MaintenanceDue
            } else {
                ActionKind::Give
            },
            dosing: Some(x.dosing),
            observation_min: Some(x.observation_min),
            assumes_tolerated: i > 0 || d.action == ActionKind::Observe,
            hold: None,
            held_by: None,
            reasons: if i == 0 {
                d.reasons.clone()
            } else {
                Vec::new()
            },
        });
    }
    rows
}
