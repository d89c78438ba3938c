//! An omalizumab course for people: its next action in words (the page's decision box), each
//! laid injection with what the record says of it, and its printed protocol (identity, the
//! label's dose with its source, the injection dates with the observation after each, what was
//! given, blank columns for the nurse). Decides nothing: it lays out the plan, the rules and the
//! record it is given.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use super::pdf::{Align, Fonts, Paper, PdfError, Writer, col};
use crate::course::omalizumab::{OmalizumabAction, OmalizumabDecision, observation_min};
use crate::course::{EventKind, voided};
use crate::policy::Emergency;
use crate::policy::omalizumab_course::{
    CourseRules, NOT_RECALCULATED, OmalizumabNext, OmalizumabPlan,
};
use crate::ward::view::{Identity, StoredEvent};

/// How the next action looks: `due`, `stop`, `overdue` or `wait` (the page's classes).
pub fn decision_class(d: &OmalizumabDecision) -> &'static str {
    match &d.action {
        OmalizumabAction::DoNotGive { .. }
        | OmalizumabAction::Stopped { .. }
        | OmalizumabAction::WeightChanged { .. } => "stop",
        OmalizumabAction::Observe { .. } | OmalizumabAction::OtherObservation { .. } => "wait",
        OmalizumabAction::Next(OmalizumabNext::Injection {
            not_before: false,
            late: Some(_),
            ..
        }) => "overdue",
        OmalizumabAction::Next(OmalizumabNext::Injection {
            not_before: false, ..
        }) => "due",
        OmalizumabAction::Next(_) => "wait",
    }
}

/// Syringes in words: `4 × 150 mg`, `2 × 150 mg + 1 × 75 mg`.
pub fn syringes(s: &[(u32, u32)]) -> String {
    s.iter()
        .map(|(size, n)| format!("{n} × {size} mg"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The next action's headline.
pub fn headline(d: &OmalizumabDecision) -> String {
    match &d.action {
        OmalizumabAction::DoNotGive { hold, held_by } => format!(
            "DO NOT GIVE: {}{}; a physician reviews first",
            super::course::hold(hold),
            held_by.map_or(String::new(), |c| format!(" (course {c})"))
        ),
        OmalizumabAction::Stopped { hold } => {
            format!("Stopped: {}", super::course::hold(hold))
        }
        OmalizumabAction::Observe { until } => format!(
            "Observe the patient until {}, then record the end of the observation",
            until.format("%Y-%m-%d %H:%M")
        ),
        OmalizumabAction::OtherObservation {
            course,
            since,
            until,
        } => format!(
            "Wait: the injection at {} on course {course} is under observation (until {} at least); no omalizumab injection until its end is recorded there",
            since.format("%H:%M"),
            until.format("%Y-%m-%d %H:%M")
        ),
        OmalizumabAction::WeightChanged {
            frozen_kg,
            measured_kg,
            measured_at,
            text,
            provenance: p,
        } => format!(
            "ASK THE PHYSICIAN: weight {} kg measured {} differs from the {} kg the dose was laid for: {text} [{} {}] {}; no injection until a physician reviews",
            measured_kg.normalize(),
            measured_at.format("%Y-%m-%d %H:%M"),
            frozen_kg.normalize(),
            p.evidence,
            p.certainty,
            p.source
        ),
        OmalizumabAction::Next(OmalizumabNext::Done) => {
            "Every injection of the course's first year was given; a further year is a new course"
                .into()
        }
        OmalizumabAction::Next(OmalizumabNext::Injection {
            number,
            due,
            not_before,
            dose_mg,
            syringes: s,
            ..
        }) => {
            let when = if *not_before {
                format!("not before {due} (no injection before its interval)")
            } else {
                format!("due {due}")
            };
            format!(
                "Omalizumab injection {number}: {dose_mg} mg ({}), {when}",
                syringes(s)
            )
        }
    }
}

/// The next action's details, each a line; the label's rule on the dose last.
pub fn details(d: &OmalizumabDecision) -> Vec<String> {
    let mut out = Vec::new();
    if let OmalizumabAction::Next(OmalizumabNext::Injection {
        observation_min,
        observation_source: o,
        late,
        ..
    }) = &d.action
    {
        out.push(format!(
            "Observe {observation_min} min after it [{} {}] {}",
            o.evidence, o.certainty, o.source
        ));
        if let Some(l) = late {
            out.push(format!(
                "LATE by {} day{}: {} [{} {}] {}; only a physician gives it, with the reason",
                l.days,
                if l.days == 1 { "" } else { "s" },
                l.text,
                l.provenance.evidence,
                l.provenance.certainty,
                l.provenance.source
            ));
        }
    }
    out.push(format!("Note: {}", d.note));
    out
}

/// One laid injection with what the record says of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    /// Its number, from 1.
    pub number: usize,
    /// Its planned date.
    pub planned: Option<NaiveDate>,
    /// Minutes of observation after it (the rules).
    pub observation_min: u32,
    /// When it was given.
    pub given_at: Option<NaiveDateTime>,
    /// Where.
    pub site: Option<String>,
    /// Who gave it.
    pub by: Option<String>,
    /// A physician's reason for giving it late.
    pub accept_late: Option<String>,
    /// The end of its observation: when, and the local reaction in words.
    pub observed: Option<(NaiveDateTime, String)>,
    /// A systemic reaction after it (WAO grade).
    pub systemic: Option<String>,
}

/// Each laid injection of `plan` with what the events (corrected ones left out) say of it.
pub fn injections(
    plan: &OmalizumabPlan,
    rules: &CourseRules,
    events: &[StoredEvent],
) -> Vec<Injection> {
    let plain: Vec<crate::course::Event> = events.iter().map(|e| e.event.clone()).collect();
    let gone = voided(&plain);
    let mut out: Vec<Injection> = plan
        .dates
        .iter()
        .enumerate()
        .map(|(i, d)| Injection {
            number: i + 1,
            planned: Some(*d),
            observation_min: observation_min(rules, i + 1),
            ..Injection::default()
        })
        .collect();
    // The injection the next observation or reaction belongs to: the last one given.
    let mut last: Option<usize> = None;
    for e in events.iter().filter(|e| !gone.contains(&e.event.seq)) {
        match &e.event.kind {
            EventKind::OmalizumabGiven {
                number,
                site,
                accept_late,
                ..
            } => {
                let i = number.saturating_sub(1);
                while out.len() <= i {
                    let n = out.len() + 1;
                    out.push(Injection {
                        number: n,
                        observation_min: observation_min(rules, n),
                        ..Injection::default()
                    });
                }
                if let Some(x) = out.get_mut(i) {
                    x.given_at = Some(e.event.at);
                    x.site = site.clone();
                    x.by = Some(super::course::entry_author(e));
                    x.accept_late = accept_late.clone();
                }
                last = Some(i);
            }
            EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                early_reason,
            } => {
                if let Some(x) = last.and_then(|i| out.get_mut(i)) {
                    let mut local = if *not_assessable {
                        "not assessable".to_string()
                    } else {
                        local_mm.map_or(String::new(), |m| format!("local {m} mm"))
                    };
                    if let Some(r) = early_reason {
                        local.push_str(&format!("; ended early: {r}"));
                    }
                    x.observed = Some((e.event.at, local));
                }
            }
            EventKind::SystemicReaction {
                grade, onset_min, ..
            } => {
                if let Some(x) = last.and_then(|i| out.get_mut(i)) {
                    x.systemic = Some(format!("{grade} at {onset_min} min"));
                }
            }
            _ => {}
        }
    }
    out
}

/// The plan's dose in one line: `600 mg every 4 weeks · 4 injections · syringes 4 × 150 mg`.
pub fn dose_line(plan: &OmalizumabPlan) -> String {
    format!(
        "{} mg every {} weeks · {} injection{} · syringes {}",
        plan.dose_mg,
        plan.every_weeks,
        plan.injections,
        if plan.injections == 1 { "" } else { "s" },
        syringes(&plan.syringes)
    )
}

/// The label's source of the dose, in words.
pub fn dose_source(plan: &OmalizumabPlan) -> String {
    match &plan.provenance {
        Some(p) => format!("[{} {}] {}", p.evidence, p.certainty, p.source),
        None => "the label's table gives no source for this cell".into(),
    }
}

/// The observation rule in words.
pub fn observation_rule(rules: &CourseRules) -> String {
    let o = &rules.observation;
    format!(
        "Observation: {} min after each of the first {} injections, {} min after later ones [{} {}] {}",
        rules.first_min, rules.first_injections, rules.later_min, o.evidence, o.certainty, o.source
    )
}

/// The late-injection rule in words.
pub fn late_rule(rules: &CourseRules) -> String {
    let l = &rules.late_tolerance_days;
    let when = match l.value {
        0 => "past its date".to_string(),
        1 => "more than 1 day past its date".to_string(),
        n => format!("more than {n} days past its date"),
    };
    format!(
        "Late injection ({when}): {} [{} {}] {}",
        rules.late_text, l.provenance.evidence, l.provenance.certainty, l.provenance.source
    )
}

/// `text` as a sentence: its first letter capitalised, a full stop at its end.
pub fn sentence(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

/// Everything an omalizumab course's printed protocol shows.
pub struct OmalizumabProtocol<'a> {
    /// The course's id.
    pub course: i64,
    /// The patient (age at the first injection, weight at the start).
    pub who: &'a Identity,
    /// The frozen plan.
    pub plan: &'a OmalizumabPlan,
    /// The course's rules.
    pub rules: &'a CourseRules,
    /// The emergency essentials of the course's rules.
    pub emergency: &'a Emergency,
    /// The course's events.
    pub events: &'a [StoredEvent],
    /// The next action at the document's time.
    pub decision: &'a OmalizumabDecision,
    /// The document's date.
    pub date: NaiveDate,
    /// From a training record: every page says so.
    pub training: bool,
    /// A short hash of the label's table and the rules the course froze.
    pub hash: String,
}

/// The protocol that `data` (assembled by the ward) shows.
pub fn from_data(data: &crate::ward::view::OmalizumabProtocolData) -> OmalizumabProtocol<'_> {
    OmalizumabProtocol {
        course: data.view.course.record.id,
        who: &data.who,
        plan: &data.view.course.plan,
        rules: &data.rules,
        emergency: &data.emergency,
        events: &data.view.events,
        decision: &data.view.decision,
        date: data.date,
        training: data.training,
        hash: super::short_hash(data.sources.iter().map(String::as_str)),
    }
}

/// Lays out an omalizumab course's protocol; the PDF bytes and any writer warnings.
pub fn render(
    p: &OmalizumabProtocol<'_>,
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let header = header(p);
    let footer = format!(
        "ritplan {} · label table and rules {}",
        env!("CARGO_PKG_VERSION"),
        p.hash
    );
    let mut w = Writer::new(fonts, paper, true, &header);
    w.begin_document(&header, &footer, true);
    write(&mut w, p);
    w.finish(
        &format!("Omalizumab protocol {}", p.who.id),
        &footer,
        p.date,
    )
}

/// Every page's header: the patient's identity (and TRAINING RECORD).
fn header(p: &OmalizumabProtocol<'_>) -> String {
    let who = p.who;
    let header = format!(
        "{} · ID {} · born {} · {} years at the first injection · {} kg at the start",
        who.name,
        who.id,
        who.dob.map_or("—".to_string(), |d| d.to_string()),
        who.age_years,
        who.weight_kg.normalize()
    );
    if p.training {
        format!("{} · {header}", super::protocol::TRAINING)
    } else {
        header
    }
}

fn write(w: &mut Writer<'_>, p: &OmalizumabProtocol<'_>) {
    let plan = p.plan;
    w.paragraph(
        &format!(
            "Omalizumab course protocol — Course {} — {}",
            p.course, plan.table
        ),
        14.0,
        true,
    );
    w.space(4.0);
    w.boxed(&sentence(NOT_RECALCULATED), 10.5);
    if let Some(c) = &plan.low_ige_condition {
        w.boxed(&format!("Condition: {c}"), 9.5);
    }
    w.heading("Dose from the label");
    w.paragraph(
        &format!(
            "Pre-treatment total IgE {} IU/mL · weight {} kg · age {} years at the first injection · label {}",
            plan.total_ige.normalize(),
            plan.weight_kg.normalize(),
            plan.age_years,
            plan.label.to_uppercase()
        ),
        10.0,
        false,
    );
    w.paragraph(&dose_line(plan), 12.0, true);
    w.paragraph(&format!("Source: {}", dose_source(plan)), 8.5, false);
    w.paragraph(&format!("Reminder: {}", plan.reminder), 8.5, false);
    w.paragraph(
        "Not an allergen dose: no vial, dose ladder, step back or lot rule applies.",
        8.5,
        false,
    );
    w.heading("Next");
    w.paragraph(&headline(p.decision), 10.5, true);
    for d in details(p.decision)
        .into_iter()
        .filter(|d| !d.starts_with("Note: "))
    {
        w.paragraph(&d, 8.5, false);
    }
    w.heading("Injections as laid, with what the record says");
    let columns = [
        col("no.", 0.5, Align::Right),
        col("planned", 1.2, Align::Left),
        col("dose", 1.1, Align::Right).emphasised(),
        col("obs min", 0.7, Align::Right),
        col("given at", 1.4, Align::Left),
        col("site", 1.2, Align::Left),
        col("observed until", 1.4, Align::Left),
        col("local / SR", 1.4, Align::Left),
        col("by", 1.1, Align::Left),
        col("nurse", 1.0, Align::Left),
        col("check", 1.0, Align::Left),
    ];
    let rows: Vec<Vec<String>> = injections(plan, p.rules, p.events)
        .into_iter()
        .map(|x| {
            let mut local = x.observed.as_ref().map(|o| o.1.clone()).unwrap_or_default();
            if let Some(s) = &x.systemic {
                if !local.is_empty() {
                    local.push_str("; ");
                }
                local.push_str(&format!("SR {s}"));
            }
            let mut given = x
                .given_at
                .map(|g| g.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            if let Some(r) = &x.accept_late {
                given.push_str(&format!(" (late, accepted: {r})"));
            }
            vec![
                x.number.to_string(),
                x.planned.map(|d| d.to_string()).unwrap_or_default(),
                format!("{} mg", plan.dose_mg),
                x.observation_min.to_string(),
                given,
                x.site.clone().unwrap_or_default(),
                x.observed
                    .as_ref()
                    .map(|o| o.0.format("%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                local,
                x.by.clone().unwrap_or_default(),
                String::new(),
                String::new(),
            ]
        })
        .collect();
    w.table(&columns, &rows, &[], 8.5, 20.0);
    w.paragraph(
        "An injection is never given before its date (no injection before the interval after the last one given); past its date it is given only by a physician, with the reason.",
        8.0,
        false,
    );
    let record: Vec<String> = clinical_record(p.events);
    if !record.is_empty() {
        w.heading("Reactions, reviews, deferrals, notes and corrections");
        for r in &record {
            w.paragraph(r, 8.5, false);
        }
    }
    w.heading("Rules in force");
    w.paragraph(&observation_rule(p.rules), 8.5, false);
    w.paragraph(&late_rule(p.rules), 8.5, false);
    let wc = &p.rules.weight_change;
    w.paragraph(
        &format!(
            "Weight change: {} [{} {}] {}",
            p.rules.weight_change_text, wc.evidence, wc.certainty, wc.source
        ),
        8.5,
        false,
    );
    w.paragraph(
        "A systemic reaction (anaphylaxis) holds every course of the patient until a physician reviews it.",
        8.5,
        false,
    );
    emergency(w, p);
    w.signature("Physician: name, signature, date");
}

/// The course's reactions, reviews, deferrals, notes and corrections, in words, in order.
pub fn clinical_record(events: &[StoredEvent]) -> Vec<String> {
    let plain: Vec<crate::course::Event> = events.iter().map(|e| e.event.clone()).collect();
    let gone = voided(&plain);
    events
        .iter()
        .filter(|e| {
            matches!(
                e.event.kind,
                EventKind::SystemicReaction { .. }
                    | EventKind::DoseDeferred { .. }
                    | EventKind::PhysicianReview { .. }
                    | EventKind::Correction { .. }
                    | EventKind::Note { .. }
            )
        })
        .map(|e| {
            format!(
                "#{} {} · {} · {}{}",
                e.event.seq,
                e.event.at.format("%Y-%m-%d %H:%M"),
                super::course::entry_author(e),
                super::course::event(&e.event.kind),
                if gone.contains(&e.event.seq) {
                    " (corrected: no longer counts)"
                } else {
                    ""
                }
            )
        })
        .collect()
}

fn emergency(w: &mut Writer<'_>, p: &OmalizumabProtocol<'_>) {
    let (who, e) = (p.who, p.emergency);
    let mg: Decimal = e.epinephrine_mg(who.age_years, who.weight_kg);
    w.heading("Emergency essentials");
    w.boxed(
        &format!(
            "Epinephrine (adrenaline) 1 mg/mL IM, anterolateral thigh: {} mg = {} mL for this patient ({}); may be repeated every {} min.",
            mg.normalize(),
            mg.normalize(),
            if who.age_years >= e.adult_from_years {
                format!("adult dose {} mg", e.adult_mg.normalize())
            } else {
                format!(
                    "{} mg/kg × {} kg, at most {} mg",
                    e.child_mg_per_kg.normalize(),
                    who.weight_kg.normalize(),
                    e.child_max_mg.normalize()
                )
            },
            e.repeat_every_min
        ),
        10.0,
    );
    w.paragraph(
        &format!(
            "[{} {}] {}",
            e.epinephrine.evidence, e.epinephrine.certainty, e.epinephrine.source
        ),
        7.5,
        false,
    );
    w.paragraph(&e.call_physician, 9.5, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::Event;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    fn stored(seq: u64, when: &str, kind: EventKind) -> StoredEvent {
        StoredEvent {
            event: Event {
                seq,
                at: at(when),
                by: "RN Li".into(),
                kind,
            },
            staff_id: Some("rn.li".into()),
            os_user: "test".into(),
            recorded_at: at(when),
            late_entered: false,
            out_of_order: false,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn given(number: usize, site: Option<&str>) -> EventKind {
        EventKind::OmalizumabGiven {
            number,
            dose_mg: 600,
            injections: 4,
            site: site.map(String::from),
            accept_late: None,
        }
    }

    #[test]
    fn each_injection_shows_its_observation_and_reaction_and_a_corrected_one_is_not_given() {
        let policy = crate::policy::Policy::bundled().expect("bundled");
        let eu = policy.omalizumab_table("eu").expect("eu");
        let rules = policy.omalizumab_course.as_ref().expect("course rules");
        let plan = crate::policy::omalizumab_course::lay(
            eu,
            Decimal::from(410),
            Decimal::from(70),
            36,
            NaiveDate::from_ymd_opt(2026, 12, 7).expect("date"),
        )
        .expect("dose");
        let events = vec![
            stored(1, "2026-12-07 09:00", given(1, Some("both arms"))),
            stored(
                2,
                "2026-12-07 11:00",
                EventKind::ObservationEnded {
                    local_mm: Some(3),
                    not_assessable: false,
                    early_reason: None,
                },
            ),
            stored(3, "2027-01-04 09:00", given(2, None)),
            stored(
                4,
                "2027-01-04 09:20",
                EventKind::SystemicReaction {
                    grade: "2a".parse().expect("grade"),
                    onset_min: 20,
                    symptom: "wheeze".into(),
                    treatment: None,
                },
            ),
            stored(5, "2027-01-04 10:00", given(3, None)),
            stored(
                6,
                "2027-01-04 10:05",
                EventKind::Correction {
                    corrects: 5,
                    reason: "entered twice".into(),
                },
            ),
        ];
        let list = injections(&plan, rules, &events);
        assert_eq!(list.len(), plan.dates.len());
        let first = &list[0];
        assert_eq!(first.given_at, Some(at("2026-12-07 09:00")));
        assert_eq!(first.site.as_deref(), Some("both arms"));
        assert_eq!(first.by.as_deref(), Some("RN Li (rn.li)"));
        assert_eq!(
            first.observed,
            Some((at("2026-12-07 11:00"), "local 3 mm".to_string()))
        );
        assert_eq!((first.observation_min, list[3].observation_min), (120, 30));
        assert_eq!(list[1].systemic.as_deref(), Some("2a at 20 min"));
        assert_eq!(list[1].observed, None);
        // The corrected third injection counts as not given.
        assert_eq!(list[2].given_at, None);
        assert_eq!(list[2].planned, plan.dates.get(2).copied());
        // The record in words: the reaction and the correction, in order.
        let record = clinical_record(&events);
        assert_eq!(record.len(), 2, "{record:?}");
        assert!(record[0].contains("wheeze"), "{record:?}");
        assert!(record[1].starts_with("#6 "), "{record:?}");
    }

    #[test]
    fn the_sentence_of_the_label_s_rule_starts_with_a_capital_and_ends_with_a_stop() {
        assert_eq!(
            sentence(NOT_RECALCULATED),
            format!("T{}.", &NOT_RECALCULATED[1..])
        );
        assert_eq!(sentence(""), "");
        assert_eq!(syringes(&[(150, 2), (75, 1)]), "2 × 150 mg + 1 × 75 mg");
    }
}
