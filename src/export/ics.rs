//! iCalendar (RFC 5545) export of a course's visits for the patient's calendar: one VEVENT per
//! visit (a clinic day of the course, not each injection), from the doses given and the rest
//! re-projected by the state machine. Each visit's UID is its place in the course (the n-th
//! visit), so that re-exporting after a delay updates the same calendar entries; SEQUENCE
//! counts how often the visit moved as the course's record grew (replayed entry by entry), so
//! it only ever rises. SUMMARY is the clinic's name only; the steps and doses go in DESCRIPTION
//! only when asked for. Times are UTC (`Z`), converted with this machine's time zone.
//!
//! Written by hand rather than with the `icalendar` crate: one component, nine properties, and
//! control of PRODID, folding and escaping; the tests parse the file with Python's
//! `icalendar`.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::course::{self, Event};
use crate::ward::view::{CourseView, MissingRuleSet};

/// What the calendar shows.
pub struct IcsOptions<'a> {
    /// SUMMARY of every visit: the clinic's name.
    pub clinic: &'a str,
    /// Put the steps and doses in DESCRIPTION.
    pub details: bool,
    /// The record's id (part of each UID).
    pub record_id: &'a str,
    /// Now (DTSTAMP, and where the re-projection starts).
    pub now: NaiveDateTime,
}

/// One visit: its first injection and when its last observation ends, and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Visit {
    start: NaiveDateTime,
    end: NaiveDateTime,
    lines: Vec<String>,
}

/// The visits of the course as the record stands after `events`, projected from `from`.
fn visits(
    v: &CourseView,
    events: &[Event],
    from: NaiveDateTime,
) -> Result<Vec<Visit>, MissingRuleSet> {
    let ctx = v.loaded.ctx()?;
    let plan = &v.loaded.plan;
    let observation = |step: usize| {
        let s = plan
            .steps
            .get(step.wrapping_sub(1))
            .or(plan.steps.last())
            .map_or(0, |s| s.observation_min);
        Duration::minutes(i64::from(s))
    };
    let mut doses: Vec<(NaiveDateTime, usize, String)> = course::administrations(events)
        .into_iter()
        .map(|a| {
            (
                a.at,
                a.step,
                format!(
                    "step {}{}: {} = {}",
                    a.step,
                    phase_note(a.phase.or_else(|| ctx.phase_of(a.step))),
                    a.volume_ml,
                    a.dose
                ),
            )
        })
        .collect();
    let state = course::replay(ctx, events);
    let max = course::horizon(&state, plan.steps.len());
    let p = course::project(ctx, &state, &v.patient, from, None, max);
    doses.extend(p.doses.into_iter().map(|x| {
        (
            x.at,
            x.dosing.step,
            format!(
                "step {}{}: {} = {} (projected)",
                x.dosing.step,
                phase_note(ctx.phase_of(x.dosing.step)),
                x.dosing.volume_ml,
                x.dosing.dose
            ),
        )
    }));
    let mut by_day: BTreeMap<NaiveDate, Visit> = BTreeMap::new();
    for (at, step, line) in doses {
        let end = at + observation(step);
        let e = by_day.entry(at.date()).or_insert(Visit {
            start: at,
            end,
            lines: Vec::new(),
        });
        e.start = e.start.min(at);
        e.end = e.end.max(end);
        e.lines.push(line);
    }
    Ok(by_day.into_values().collect())
}

/// ` (consolidation)` after a step, when the template names its phases.
fn phase_note(phase: Option<crate::template::Phase>) -> String {
    phase.map(|p| format!(" ({p})")).unwrap_or_default()
}

/// How often each visit (by its number) moved as the record grew, and then with time.
fn sequences(v: &CourseView, now: NaiveDateTime) -> Result<Vec<u32>, MissingRuleSet> {
    let events = v.plain_events();
    let mut moved: Vec<u32> = Vec::new();
    let mut before: Option<Vec<Visit>> = None;
    let start = v
        .loaded
        .plan
        .steps
        .first()
        .map_or(v.loaded.record.created_at, |s| {
            NaiveDateTime::new(s.date, s.time)
        });
    for k in 0..=events.len() {
        let from = if k == 0 { start } else { events[k - 1].at };
        let after = visits(v, &events[..k], from)?;
        if let Some(b) = &before {
            for (i, a) in after.iter().enumerate() {
                if b.get(i).is_some_and(|x| x.start != a.start) {
                    if moved.len() <= i {
                        moved.resize(i + 1, 0);
                    }
                    moved[i] += 2;
                }
            }
        }
        before = Some(after);
    }
    // With time alone (a missed visit re-projected), a visit may have moved since the last
    // entry: one more, odd, so that the next entry's count is above it.
    let last_at = events.last().map_or(start, |e| e.at);
    let now_visits = visits(v, &events, now.max(last_at))?;
    let mut out = Vec::new();
    for (i, a) in now_visits.iter().enumerate() {
        let mut s = moved.get(i).copied().unwrap_or(0);
        if before
            .as_ref()
            .and_then(|b| b.get(i))
            .is_some_and(|x| x.start != a.start)
        {
            s += 1;
        }
        out.push(s);
    }
    Ok(out)
}

fn utc(t: NaiveDateTime) -> String {
    let u = match chrono::Local.from_local_datetime(&t).earliest() {
        Some(l) => l.with_timezone(&Utc).naive_utc(),
        None => t,
    };
    u.format("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 TEXT escaping.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            ';' => o.push_str("\\;"),
            ',' => o.push_str("\\,"),
            '\n' => o.push_str("\\n"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// A content line folded at 75 octets (never inside a UTF-8 character), ended by CRLF.
fn line(out: &mut String, text: &str) {
    let mut width = 0;
    for c in text.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// The calendar of a course.
pub fn calendar(v: &CourseView, o: &IcsOptions<'_>) -> Result<String, MissingRuleSet> {
    let now_visits = visits(
        v,
        &v.plain_events(),
        o.now.max(v.events.last().map_or(o.now, |e| e.event.at)),
    )?;
    let seq = sequences(v, o.now)?;
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//ritplan//ritplan course visits//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    let id = v.loaded.record.id;
    for (i, visit) in now_visits.iter().enumerate() {
        line(&mut out, "BEGIN:VEVENT");
        line(
            &mut out,
            &format!("UID:{}-course-{id}-visit-{}@ritplan", o.record_id, i + 1),
        );
        line(&mut out, &format!("DTSTAMP:{}", utc(o.now)));
        line(&mut out, &format!("DTSTART:{}", utc(visit.start)));
        line(&mut out, &format!("DTEND:{}", utc(visit.end)));
        line(
            &mut out,
            &format!("SEQUENCE:{}", seq.get(i).copied().unwrap_or(0)),
        );
        line(&mut out, &format!("SUMMARY:{}", escape(o.clinic)));
        if o.details {
            line(
                &mut out,
                &format!(
                    "DESCRIPTION:{}",
                    escape(&format!(
                        "Visit {} of course {id} ({}):\n{}",
                        i + 1,
                        v.loaded.plan.template.name,
                        visit.lines.join("\n")
                    ))
                ),
            );
        }
        line(&mut out, "TRANSP:OPAQUE");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fold_at_75_octets_and_text_is_escaped() {
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "é".repeat(60));
        line(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{long}\r\n"));
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
