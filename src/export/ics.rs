//! iCalendar (RFC 5545) export of a course's visits for the patient's calendar: one VEVENT per
//! visit (a clinic day of the course, not each injection), from the doses given and the rest
//! re-projected by the state machine. Each visit's UID is its place in the course (the n-th
//! visit), so that re-exporting after a delay updates the same calendar entries; SEQUENCE
//! counts how often the visit moved as the course's record grew (replayed entry by entry), so
//! it only ever rises. SUMMARY is the clinic's name only; the steps and doses go in DESCRIPTION
//! only when asked for. Times are UTC (`Z`), converted with this machine's time zone.
//!
//! An omalizumab course's calendar holds its injections not yet given, one all-day VEVENT each
//! (the course lays dates, not times): UID by the injection's number, SEQUENCE as above; the
//! minutes of observation after it in DESCRIPTION (the drug, dose and syringes only when asked
//! for). None while a systemic reaction waits for a physician's review or after a stop.
//!
//! Written by hand rather than with the `icalendar` crate: one component, nine properties, and
//! control of PRODID, folding and escaping; the tests parse the file with Python's
//! `icalendar`.

use std::collections::BTreeMap;

use chrono::{Days, Duration, NaiveDate, NaiveDateTime, Utc};

use crate::course::omalizumab::observation_min;
use crate::course::{self, Event};
use crate::ward::view::{
    CourseView, MissingRuleSet, OmalizumabCourseView, OmalizumabPlan, OmalizumabRules,
    OmalizumabState,
};

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
    /// The clinic's time zone: the record's times are its wall-clock times.
    pub zone: crate::zone::Zone,
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

/// An iCalendar UTC DATE-TIME (`20261207T070000Z`) of the clinic's wall-clock time `t`: the
/// same instant under any `TZ` of the exporting process (UTC, so no VTIMEZONE is needed: a
/// calendar shows it in its own zone).
fn utc(zone: crate::zone::Zone, t: NaiveDateTime) -> String {
    zone.instant_lenient(t)
        .with_timezone(&Utc)
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
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
        line(&mut out, &format!("DTSTAMP:{}", utc(o.zone, o.now)));
        line(&mut out, &format!("DTSTART:{}", utc(o.zone, visit.start)));
        line(&mut out, &format!("DTEND:{}", utc(o.zone, visit.end)));
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

/// An omalizumab injection not yet given: its number, its date, the minutes observed after it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Planned {
    number: usize,
    date: NaiveDate,
    /// Its laid date had passed on the day projected from (it moved to that day).
    overdue_since: Option<NaiveDate>,
    observation_min: u32,
}

/// The injections not yet given of an omalizumab course after `events`, projected from
/// `today`: none while a systemic reaction waits for a physician's review or after a stop.
/// The next one is due on its laid date, never sooner than the label's interval after the last
/// one given (as `next` decides), and on `today` once that has passed; each later one on its
/// laid date and never sooner than the interval after the one before.
fn planned(
    plan: &OmalizumabPlan,
    rules: &OmalizumabRules,
    events: &[Event],
    today: NaiveDate,
) -> Vec<Planned> {
    let state = OmalizumabState::replay(events);
    if state.stopped.is_some() || state.review.is_some() {
        return Vec::new();
    }
    let given = state.given.len();
    let interval = Days::new(u64::from(plan.every_weeks) * 7);
    let mut prev = state.given.last().map(NaiveDateTime::date);
    let mut out = Vec::new();
    for (i, laid) in plan.dates.iter().enumerate().skip(given) {
        let due = prev
            .and_then(|p| p.checked_add_days(interval))
            .map_or(*laid, |p| p.max(*laid));
        let overdue_since = (i == given && due < today).then_some(due);
        let date = if i == given { due.max(today) } else { due };
        out.push(Planned {
            number: i + 1,
            date,
            overdue_since,
            observation_min: observation_min(rules, i + 1),
        });
        prev = Some(date);
    }
    out
}

/// How often each injection (by its number) moved as the record grew, and then with time.
fn omalizumab_sequences(
    o: &OmalizumabCourseView,
    events: &[Event],
    today: NaiveDate,
) -> BTreeMap<usize, u32> {
    let plan = &o.course.plan;
    let start = plan
        .dates
        .first()
        .copied()
        .unwrap_or(o.course.record.created_at.date());
    let mut moved: BTreeMap<usize, u32> = BTreeMap::new();
    let mut before: Option<Vec<Planned>> = None;
    let moved_from = |b: &[Planned], a: &Planned| {
        b.iter()
            .find(|x| x.number == a.number)
            .is_some_and(|x| x.date != a.date)
    };
    for k in 0..=events.len() {
        let from = if k == 0 {
            start
        } else {
            events[k - 1].at.date()
        };
        let after = planned(plan, &o.rules, &events[..k], from);
        if let Some(b) = &before {
            for a in &after {
                if moved_from(b, a) {
                    *moved.entry(a.number).or_default() += 2;
                }
            }
        }
        before = Some(after);
    }
    // With time alone (a missed injection moved to today): one more, odd, so that the next
    // entry's count is above it.
    let last = events.last().map_or(start, |e| e.at.date());
    let mut out = BTreeMap::new();
    for a in planned(plan, &o.rules, events, today.max(last)) {
        let mut s = moved.get(&a.number).copied().unwrap_or(0);
        if before.as_deref().is_some_and(|b| moved_from(b, &a)) {
            s += 1;
        }
        out.insert(a.number, s);
    }
    out
}

/// Minutes as people read them: `2 h`, `30 min`, `1 h 30 min`.
fn minutes(m: u32) -> String {
    match (m / 60, m % 60) {
        (0, r) => format!("{r} min"),
        (h, 0) => format!("{h} h"),
        (h, r) => format!("{h} h {r} min"),
    }
}

/// The calendar of an omalizumab course: its injections not yet given.
pub fn omalizumab_calendar(o: &OmalizumabCourseView, opts: &IcsOptions<'_>) -> String {
    let events = o.plain_events();
    let today = opts
        .now
        .date()
        .max(events.last().map_or(opts.now.date(), |e| e.at.date()));
    let plan = &o.course.plan;
    let seq = omalizumab_sequences(o, &events, opts.now.date());
    let id = o.course.record.id;
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//ritplan//ritplan course visits//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    for p in planned(plan, &o.rules, &events, today) {
        line(&mut out, "BEGIN:VEVENT");
        line(
            &mut out,
            &format!(
                "UID:{}-course-{id}-injection-{}@ritplan",
                opts.record_id, p.number
            ),
        );
        line(&mut out, &format!("DTSTAMP:{}", utc(opts.zone, opts.now)));
        line(
            &mut out,
            &format!("DTSTART;VALUE=DATE:{}", p.date.format("%Y%m%d")),
        );
        let end = p.date.succ_opt().unwrap_or(p.date);
        line(
            &mut out,
            &format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")),
        );
        line(
            &mut out,
            &format!("SEQUENCE:{}", seq.get(&p.number).copied().unwrap_or(0)),
        );
        line(&mut out, &format!("SUMMARY:{}", escape(opts.clinic)));
        let stay = match p.observation_min {
            m if m >= 60 => format!("{} ({m} min)", minutes(m)),
            m => minutes(m),
        };
        let mut text = format!("Plan to stay {stay} after the injection: observation.");
        if opts.details {
            let syringes: Vec<String> = plan
                .syringes
                .iter()
                .map(|(size, n)| format!("{n} × {size} mg"))
                .collect();
            text.push_str(&format!(
                "\nOmalizumab injection {} of course {id}: {} mg ({}), every {} weeks (projected).\nObservation {} min: [{} {}] {}.",
                p.number,
                plan.dose_mg,
                syringes.join(" + "),
                plan.every_weeks,
                p.observation_min,
                o.rules.observation.evidence,
                o.rules.observation.certainty,
                o.rules.observation.source
            ));
            if let Some(d) = p.overdue_since {
                text.push_str(&format!("\nDue on {d}, past: {}", o.rules.late_text));
            }
            text.push_str(&format!(
                "\nNote: {}",
                crate::policy::omalizumab_course::NOT_RECALCULATED
            ));
        }
        line(&mut out, &format!("DESCRIPTION:{}", escape(&text)));
        // A whole day, not a time: the calendar is not blocked.
        line(&mut out, "TRANSP:TRANSPARENT");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::{EventKind, Review};
    use crate::policy::Policy;
    use crate::policy::omalizumab_course::{OmalizumabNext, lay, next};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn ev(seq: u64, at: &str, kind: EventKind) -> Event {
        Event {
            seq,
            at: NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M").expect("time"),
            by: "RN Li".into(),
            kind,
        }
    }

    fn given(number: usize) -> EventKind {
        EventKind::OmalizumabGiven {
            number,
            dose_mg: 600,
            injections: 4,
            site: None,
            accept_late: None,
        }
    }

    /// The bundled EU table's plan for 410 IU/mL, 70 kg, 36 years, from 2026-12-07 (600 mg
    /// every 4 weeks), and the bundled omalizumab course rules.
    fn plan() -> (OmalizumabPlan, OmalizumabRules) {
        let policy = Policy::from_sources(crate::policy::bundled_sources()).expect("rules");
        let table = policy.omalizumab_table("eu").expect("eu");
        let plan = lay(
            table,
            rust_decimal::Decimal::from(410),
            rust_decimal::Decimal::from(70),
            36,
            d("2026-12-07"),
        )
        .expect("dose");
        (plan, policy.omalizumab_course.expect("course rules"))
    }

    #[test]
    fn omalizumab_injections_to_come_follow_the_label_interval_and_the_holds() {
        let (plan, rules) = plan();
        assert_eq!((plan.dose_mg, plan.every_weeks), (600, 4));
        let all = planned(&plan, &rules, &[], d("2026-12-01"));
        assert_eq!(all.len(), plan.dates.len());
        assert_eq!(
            all.iter().map(|p| p.date).collect::<Vec<_>>(),
            plan.dates,
            "on their laid dates"
        );
        let minutes_after: Vec<u32> = all.iter().map(|p| p.observation_min).collect();
        assert_eq!(minutes_after[..4], [120, 120, 120, 30]);
        assert!(all.iter().all(|p| p.overdue_since.is_none()));
        // The second given two days late: the third is due 4 weeks after it, as `next` says,
        // and every later one moves with it.
        let events = vec![
            ev(1, "2026-12-07T09:00", given(1)),
            ev(2, "2027-01-06T09:00", given(2)),
        ];
        let rest = planned(&plan, &rules, &events, d("2027-01-06"));
        assert_eq!(rest.len(), plan.dates.len() - 2);
        assert_eq!((rest[0].number, rest[0].date), (3, d("2027-02-03")));
        assert_eq!(rest[1].date, d("2027-03-03"));
        let OmalizumabNext::Injection { due, .. } =
            next(&plan, &rules, 2, Some(d("2027-01-06")), d("2027-01-06"))
        else {
            panic!("an injection is next");
        };
        assert_eq!(due, rest[0].date);
        // Missed: moved to the day projected from, and said so.
        let late = planned(&plan, &rules, &events, d("2027-02-20"));
        assert_eq!(late[0].date, d("2027-02-20"));
        assert_eq!(late[0].overdue_since, Some(d("2027-02-03")));
        // A systemic reaction: nothing to come until a physician's review; a stop: nothing.
        let mut held = events.clone();
        held.push(ev(
            3,
            "2027-01-06T09:40",
            EventKind::SystemicReaction {
                grade: "3b".parse().expect("grade"),
                onset_min: 35,
                symptom: "wheeze".into(),
                treatment: None,
            },
        ));
        assert!(planned(&plan, &rules, &held, d("2027-01-06")).is_empty());
        let review = |decision: Review| {
            ev(
                4,
                "2027-01-06T10:00",
                EventKind::PhysicianReview {
                    decision,
                    reason: Some("recovered".into()),
                    about: None,
                },
            )
        };
        let mut resumed = held.clone();
        resumed.push(review(Review::Continue));
        assert_eq!(planned(&plan, &rules, &resumed, d("2027-01-06")), rest);
        let mut stopped = held;
        stopped.push(review(Review::Stop));
        assert!(planned(&plan, &rules, &stopped, d("2027-01-06")).is_empty());
        assert_eq!(
            [minutes(120), minutes(30), minutes(90)],
            ["2 h", "30 min", "1 h 30 min"]
        );
    }

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
