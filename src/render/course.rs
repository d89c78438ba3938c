//! Sentences for the course state machine's typed reasons, holds, decisions and refusals: the
//! one place their English lives, shared by every front end. Provenance is printed as
//! `[evidence certainty] source`.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

use crate::course::{
    ActionKind, Cause, Decision, Dosing, EventKind, Hold, HoldKind, LateKind, MaintenanceBasis,
    Reason, Refusal, Review, VialTrigger, VisitClosed, Wait,
};
use crate::field::Field;
use crate::policy::Provenance;
use crate::policy::course::{Action, CountFrom};
use crate::policy::vial_change::VialAction;
use crate::template::Template;
use crate::units::format_ml;
use crate::ward::view::{BoardStatus, StoredEvent};

fn plural(n: impl Into<i64>, word: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `[guideline C] Norwegian guide ...`.
pub fn cite(p: &Provenance) -> String {
    format!("[{} {}] {}", p.evidence, p.certainty, p.source)
}

/// `2026-12-08 08:00 (Tue)`.
pub fn when(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M (%a)").to_string()
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d (%a)").to_string()
}

/// What a rule's action does, as a clause.
pub fn action(a: &Action) -> String {
    match a {
        Action::Proceed => "proceed per schedule".into(),
        Action::Repeat => "repeat the last dose".into(),
        Action::StepBack { steps } => format!("step back {}", plural(*steps, "dose step")),
        Action::Reduce { percent } => format!("reduce the last dose by {} %", percent.normalize()),
        Action::Volume { volume_ml } => {
            format!("give {} of the maintenance vial", format_ml(*volume_ml))
        }
        Action::Restart => "restart from the first step".into(),
        Action::Review => "physician review before any further dose".into(),
        Action::Stop => {
            "stop the course (a physician review that records the correctable cause may resume it)"
                .into()
        }
        Action::End => "end the course for good".into(),
    }
}

fn decision_clause(d: &Review) -> String {
    match d {
        Review::Continue => "continue as the rules say".into(),
        Review::Repeat => "repeat the last dose".into(),
        Review::StepBack { steps } => format!("step back {}", plural(*steps, "dose step")),
        Review::Restart => "restart from the first step".into(),
        Review::Stop => "stop the course".into(),
    }
}

/// What changed about the vial in hand: `new lot AB124 of vial 4 (last dose from lot AB123)`.
pub fn vial_change(vial: &str, c: &VialTrigger) -> String {
    match c {
        VialTrigger::NewLot { lot, previous } => {
            format!("new lot {lot} of vial {vial} (last dose from lot {previous})")
        }
        VialTrigger::NewManufacturer {
            manufacturer,
            previous,
        } => format!("new manufacturer {manufacturer} for vial {vial} (last dose from {previous})"),
        VialTrigger::VialAge {
            prepared,
            age_days,
            limit_days,
        } => format!(
            "vial {vial} prepared on {}, {} ago (the limit is {})",
            day(*prepared),
            plural(*age_days, "day"),
            plural(*limit_days, "day")
        ),
    }
}

/// What a vial-change rule does, as a clause.
pub fn vial_action(a: &VialAction) -> String {
    match a {
        VialAction::Reduce { percent } => format!("{} % reduction", percent.normalize()),
        VialAction::StepBack { steps } => {
            format!("step back {} on the same vial", plural(*steps, "dose step"))
        }
        VialAction::Rebuild { volumes_ml } => format!(
            "rebuild on the new vial, one volume per visit: {}",
            volumes_ml
                .iter()
                .map(|v| format_ml(*v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        VialAction::Review => "physician review before the dose".into(),
    }
}

/// A late reaction type in words.
pub fn late_kind(k: LateKind) -> &'static str {
    match k {
        LateKind::TypeIii => "late type III reaction (fever, arthralgia, malaise)",
        LateKind::AllergicMild => "mild late allergic or asthmatic reaction",
        LateKind::AllergicSevere => "severe late allergic or asthmatic reaction",
    }
}

/// What caused a hold.
pub fn cause(c: &Cause) -> String {
    match c {
        Cause::Systemic {
            grade,
            symptom,
            onset_min,
        } => format!(
            "systemic reaction WAO grade {grade} ({symptom}, {} after the injection)",
            plural(*onset_min, "min")
        ),
        Cause::LocalReaction { mm, late } => format!(
            "a {}local reaction of {mm} mm",
            if *late { "late " } else { "" }
        ),
        Cause::LocalNotAssessable => {
            "the local reaction could not be assessed: escalation needs a physician's decision".into()
        }
        Cause::LocalNotRecorded => {
            "the observation was closed without a local-reaction size: escalation needs a physician's decision".into()
        }
        Cause::LateReaction { kind } => format!("a {}", late_kind(*kind)),
        Cause::LateDose { days } => format!(
            "the dose is {} late and the rules give no dose for that",
            plural(*days, "day")
        ),
        Cause::ReescalationOverdue { days, within_weeks } => format!(
            "{} since the last dose, beyond the {} the maintenance re-escalation allows; the rules give no dose for that",
            plural(*days, "day"),
            plural(*within_weeks, "week")
        ),
        Cause::BelowMaintenanceLadder => {
            "the reduction goes below the lowest volume of the maintenance ladder".into()
        }
        Cause::NoMaintenanceLadder => {
            "the course rules have no maintenance ladder for this template's maintenance dose".into()
        }
        Cause::NoRuleForPhase { action: a } => format!(
            "the rules say \"{}\", which gives no dose in this phase",
            action(a)
        ),
        Cause::VialChange { vial, change } => format!(
            "{}: the course's vial-change rules ask the physician before the dose",
            vial_change(vial, change)
        ),
        Cause::Physician { by, reason } => format!(
            "physician's decision by {by}{}",
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
    }
}

/// A hold, as a sentence.
pub fn hold(h: &Hold) -> String {
    let rule = h
        .rule
        .as_ref()
        .map(|r| format!(" {}", cite(r)))
        .unwrap_or_default();
    match h.kind {
        HoldKind::Review => format!(
            "A physician must review the course before any further dose: {} (since {}).{rule}",
            cause(&h.cause),
            when(h.since)
        ),
        HoldKind::Stopped => format!(
            "The course has stopped: {} (since {}). Only a physician review that records why it may go on (the correctable cause) resumes it.{rule}",
            cause(&h.cause),
            when(h.since)
        ),
        HoldKind::Ended => format!(
            "The course has ended: {} (since {}). Only a correction of the record undoes this.{rule}",
            cause(&h.cause),
            when(h.since)
        ),
    }
}

/// Why a visit is closed, as a clause.
pub fn visit_closed(v: &VisitClosed) -> String {
    match v {
        VisitClosed::Systemic => "a systemic reaction at this visit".into(),
        VisitClosed::PatientSystemic { course } => {
            format!("a systemic reaction today on course {course} of the same patient")
        }
        VisitClosed::Deferred { reason } => format!("the dose was deferred: {reason}"),
        VisitClosed::Reaction => {
            "a reaction whose rule gives the adjusted dose at the next visit".into()
        }
        VisitClosed::PlannedVisitComplete => {
            "every injection of the planned visit has been given".into()
        }
        VisitClosed::MaintenanceGiven => "a maintenance visit holds one injection".into(),
        VisitClosed::OffGrid => {
            "a dose off the schedule's grid is the visit's only injection".into()
        }
        VisitClosed::LateDose => {
            "the late-dose rule makes its dose the visit's only injection".into()
        }
        VisitClosed::InjectionCap { max } => {
            format!(
                "the plan allows at most {} per visit",
                plural(*max, "injection")
            )
        }
        VisitClosed::TotalDoseCap { max } => format!("the plan allows at most {max} per visit"),
        VisitClosed::LeftEarly { reason } => format!("the observation ended early: {reason}"),
        VisitClosed::ClosingTime => {
            "the next injection's observation would end after closing time".into()
        }
    }
}

/// What a wait is for, as a clause.
pub fn wait(w: &Wait) -> String {
    match w {
        Wait::PlannedStart => "the course's planned first day, at opening time".into(),
        Wait::Interval {
            after,
            observation_min,
            interval_min,
        } => format!(
            "{} after the injection at {} (its observation {} min, the minimum interval {} min)",
            plural((*observation_min).max(*interval_min), "min"),
            after.format("%H:%M"),
            observation_min,
            interval_min
        ),
        Wait::NextVisit { after, days } => format!(
            "the schedule's interval, {} after the visit of {}, on a clinic day at opening time",
            plural(*days, "day"),
            day(*after)
        ),
        Wait::OtherExtract { course, at, min } => format!(
            "{min} min after the injection of another extract at {} (course {course})",
            at.format("%H:%M")
        ),
    }
}

fn basis(b: &MaintenanceBasis) -> String {
    match b {
        MaintenanceBasis::FirstInterval => "the template's first maintenance interval".into(),
        MaintenanceBasis::Steady {
            weeks,
            tolerance_weeks,
        } => format!(
            "the steady interval of {}",
            super::every_weeks(*weeks, *tolerance_weeks)
        ),
        MaintenanceBasis::StepUp => "one rung up the maintenance ladder after a reduction".into(),
        MaintenanceBasis::FullAfterReduction => {
            "the full dose again, on the re-escalation intervals".into()
        }
        MaintenanceBasis::Reduced => "reduced after a reaction or by a physician".into(),
    }
}

/// One reason, as a sentence.
pub fn reason(r: &Reason) -> String {
    match r {
        Reason::Given {
            step,
            maintenance,
            at,
            dose,
            overridden,
        } => format!(
            "{} ({dose}) given at {}{}.",
            match maintenance {
                Some(n) => format!("Maintenance dose {n}"),
                None => format!("Step {step}"),
            },
            when(*at),
            if *overridden {
                ", a physician's override"
            } else {
                ""
            }
        ),
        Reason::ObservationEnded { at, early } => match early {
            Some(why) => format!("Observation ended early at {}: {why}.", at.format("%H:%M")),
            None => format!("Observation ended at {}.", at.format("%H:%M")),
        },
        Reason::Local {
            mm,
            late,
            band,
            action: a,
            next_visit,
            rule,
        } => format!(
            "{} {mm} mm (band {band}): {}{} {}",
            if *late {
                "Late local reaction"
            } else {
                "Local reaction"
            },
            action(a),
            if *next_visit && *a != Action::Proceed {
                " at the next visit"
            } else {
                ""
            },
            cite(rule)
        ),
        Reason::Systemic {
            grade,
            symptom,
            onset_min,
            action: a,
            rule,
        } => format!(
            "Systemic reaction WAO grade {grade} ({symptom}, {onset_min} min): no further injection at this visit; {} {}",
            action(a),
            cite(rule)
        ),
        Reason::LateReaction {
            kind,
            action: a,
            rule,
        } => format!("A {}: {} {}", late_kind(*kind), action(a), cite(rule)),
        Reason::Deferred { on, reason } => format!("Dose deferred on {}: {reason}.", day(*on)),
        Reason::Reviewed {
            decision,
            by,
            reason,
        } => format!(
            "Physician review by {by}: {}{}.",
            decision_clause(decision),
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        Reason::LadderFloor { asked } => format!(
            "Stepping back {} reaches the schedule's first dose, which is given.",
            plural(*asked, "dose step")
        ),
        Reason::Late {
            days,
            counted_from,
            missed,
            band,
            action: a,
            rule,
        } => {
            let counted = match (counted_from, missed) {
                (CountFrom::MissedDate, Some(m)) => format!(
                    "{} after the missed scheduled date {}",
                    plural(*days, "day"),
                    day(*m)
                ),
                _ => format!("{} since the last dose", plural(*days, "day")),
            };
            format!(
                "{counted}, in the band {band}: {} {}",
                action(a),
                cite(rule)
            )
        }
        Reason::MaintenanceSchedule {
            volume_ml,
            after_days,
            basis: b,
            rule,
        } => format!(
            "Next maintenance visit: {} of the maintenance vial, not before {} after this dose ({}).{}",
            format_ml(*volume_ml),
            plural(*after_days, "day"),
            basis(b),
            rule.as_ref()
                .map(|r| format!(" {}", cite(r)))
                .unwrap_or_default()
        ),
        Reason::VisitSoFar {
            injections,
            max_injections,
            total,
            max_total,
        } => format!(
            "This visit so far: {injections} of at most {}, {total} of at most {max_total}.",
            plural(*max_injections, "injection")
        ),
        Reason::ContinuesVisit { visit } => {
            format!("It continues planned visit {visit}, which was not finished.")
        }
        Reason::VialChange {
            vial,
            change,
            action: a,
            rung,
            reviewed,
            volume_ml,
            rule,
        } => {
            let what = match a {
                Some(a) => vial_action(a),
                None => {
                    "no vial-change rule in the course's rules: physician review before the dose"
                        .into()
                }
            };
            let rung = rung
                .map(|(k, n)| format!(" (dose {k} of {n})"))
                .unwrap_or_default();
            let then = match (volume_ml, reviewed) {
                (Some(v), _) => format!(": {v} this dose"),
                (None, true) => ": reviewed by a physician since; the schedule's dose".into(),
                (None, false) => String::new(),
            };
            let from = rule
                .as_ref()
                .map(|r| format!(" {}", cite(r)))
                .unwrap_or_default();
            let mut first = vial_change(vial, change);
            if let Some(c) = first.get(..1).map(str::to_uppercase) {
                first.replace_range(..1, &c);
            }
            format!("{first}: {what}{rung}{then}.{from}")
        }
        Reason::Reduced {
            percent,
            from,
            volume_ml,
        } => format!(
            "{} % off the last dose ({from}) on its vial, rounded down to what the syringe measures: {volume_ml}.",
            percent.normalize()
        ),
    }
}

/// A dose: `step 4: 0.2 mL of Vial 3 (yellow, 10 000 SQ-U/mL) = 2 000 SQ-U`.
pub fn dosing(d: &Dosing, t: &Template) -> String {
    let vial = t
        .vial(&d.vial)
        .map(|v| format!("{} ({}, {})", v.label, v.cap, v.concentration))
        .unwrap_or_else(|| format!("vial {}", d.vial));
    let what = match d.maintenance {
        Some(n) => format!("maintenance dose {n} (step {})", d.step),
        None => format!("step {}", d.step),
    };
    format!("{what}: {} of {vial} = {}", d.volume_ml, d.dose)
}

/// A decision's headline.
pub fn headline(d: &Decision, t: &Template) -> String {
    let dose = d.dosing.as_ref().map(|x| dosing(x, t)).unwrap_or_default();
    let nb = d.not_before.map(when).unwrap_or_default();
    match d.action {
        ActionKind::Give | ActionKind::MaintenanceDue => format!("GIVE {dose}"),
        ActionKind::Wait => format!("WAIT until {nb}, then {dose}"),
        ActionKind::Observe | ActionKind::ObservationNotClosed if d.held_by.is_some() => format!(
            "IN OBSERVATION after the omalizumab injection of course {} (until {} at least): no allergen dose until its end is recorded there",
            d.held_by.unwrap_or_default(),
            d.observation_until.map(when).unwrap_or_default()
        ),
        ActionKind::Observe => format!(
            "IN OBSERVATION until {}; then record its end with the local reaction's size",
            d.observation_until
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default()
        ),
        ActionKind::ObservationNotClosed => format!(
            "OBSERVATION NOT CLOSED: it could have ended at {}; record its end with the local reaction before any further dose",
            d.observation_until.map(when).unwrap_or_default()
        ),
        ActionKind::PhysicianReview => "DO NOT GIVE: a physician must review the course".into(),
        ActionKind::PatientHold => format!(
            "DO NOT GIVE: course {} of the same patient awaits a physician",
            d.held_by.unwrap_or_default()
        ),
        ActionKind::VisitClosed => format!(
            "NO MORE TODAY ({}). Next visit not before {nb}: {dose}",
            d.visit_closed
                .as_ref()
                .map(visit_closed)
                .unwrap_or_default()
        ),
        ActionKind::Stopped => "STOPPED".into(),
        ActionKind::Ended => "ENDED".into(),
    }
}

/// Every line of a decision after its headline: the hold, the wait, then the reasons.
pub fn details(d: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = &d.hold {
        out.push(hold(h));
    }
    if let (Some(w), ActionKind::Wait) = (&d.wait, d.action) {
        out.push(format!("Waiting for {}.", wait(w)));
    }
    out.extend(d.reasons.iter().map(reason));
    out.extend(d.premedication.iter().map(premedication_due));
    out
}

/// A premedication a dose needs or is reminded of, as a checklist line.
pub fn premedication_due(p: &crate::course::PremedicationDue) -> String {
    if p.required {
        format!(
            "Premedication REQUIRED: {} [{}]. Ask when it was taken: without it, or outside that window, the dose is not given.",
            p.line(),
            p.premedication.evidence_label()
        )
    } else {
        format!(
            "Premedication recommended (a reminder, it does not block the dose): {} [{}].",
            p.line(),
            p.premedication.evidence_label()
        )
    }
}

/// An alternative to a refused rush in the command line's words (as `plan` prints it and its
/// `--json` carries it).
impl fmt::Display for crate::planner::Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::planner::Alternative;
        match self {
            Alternative::Pretreat {
                weeks,
                total,
                from: Some(d),
            } => write!(
                f,
                "Pretreat with omalizumab for {weeks} more week{} ({total} in all; ritplan omalizumab gives the dose): the rush could start on {d} or later.",
                if *weeks == 1 { "" } else { "s" }
            ),
            Alternative::Pretreat {
                weeks,
                total,
                from: None,
            } => write!(
                f,
                "Pretreat with omalizumab for {weeks} more weeks ({total} in all)."
            ),
            Alternative::Slower { templates } => {
                let listed: Vec<String> = templates
                    .iter()
                    .map(|(id, kind, evidence)| format!("{id} ({kind}, evidence {evidence})"))
                    .collect();
                write!(
                    f,
                    "Use a cluster or conventional schedule instead: {}.",
                    listed.join(", ")
                )
            }
            Alternative::AcceptRisk => f.write_str(
                "Or, as the physician, accept the risk with --accept-risk \"REASON\": cautious adjustments then apply, and the reason is printed on every output of the plan.",
            ),
        }
    }
}

/// In JSON, an alternative is the sentence [`fmt::Display`] gives (the `--json` contract).
impl serde::Serialize for crate::planner::Alternative {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a user of `voice` adds the second person's check to a dose.
pub fn second_check(voice: Voice) -> &'static str {
    match voice {
        Voice::Cli => "give --checked-by ID",
        Voice::Page => "the second person checks it on the confirmation screen",
    }
}

/// A value someone entered, named in `voice`: the command line's flag, or the page's label
/// (a sentence's start). The one place where a [`Field`] gets the front ends' words.
pub fn field(f: Field, voice: Voice) -> String {
    match voice {
        Voice::Cli => flag(f).to_string(),
        Voice::Page => {
            let words = f.words();
            let mut c = words.chars();
            c.next()
                .map(|first| first.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// The command line's flag for a field.
fn flag(f: Field) -> &'static str {
    match f {
        Field::PatientId => "--id",
        Field::PatientCheck => "--patient",
        Field::Name => "--name",
        Field::Dob => "--dob",
        Field::Age => "--age",
        Field::Weight => "--weight",
        Field::Sige => "--sige",
        Field::TotalIge => "--total-ige",
        Field::Fev1 => "--fev1",
        Field::OmalizumabWeeks => "--omalizumab-weeks",
        Field::OmalizumabSince => "--omalizumab-since",
        Field::Lot => "--lot",
        Field::Site => "--site",
        Field::Override => "--override",
        Field::Reason => "--reason",
        Field::Symptom => "--symptom",
        Field::Treatment => "--treatment",
        Field::Note => "--text",
        Field::Early => "--early",
        Field::At => "--at",
        Field::CourseStart => "--start",
        Field::LocalMm => "--local-mm",
        Field::LateLocalMm => "--late-local-mm",
        Field::OnsetMin => "--onset-min",
        Field::StepsBack => "step-back:N",
        Field::Clinic => "--clinic",
        Field::StaffId => "the staff id",
        Field::AcceptRisk => "--accept-risk",
        Field::AcceptAge => "--accept-age",
        Field::AcceptMissing => "--accept-missing",
        Field::VialNumber => "--vial",
        Field::Expires => "--expires",
        Field::Manufacturer => "--manufacturer",
        Field::Prepared => "--prepared",
        Field::VialVolume => "--volume",
        Field::Scan => "--scan",
        Field::VialCode => "the vial code",
        Field::Premedication => "--premedication",
        Field::AcceptPremedication => "--accept-premedication",
        Field::ScanPatient => "--scan-patient",
        Field::ScanVial => "--scan-vial",
        Field::FollowUpDate => "--date",
        Field::Acq => "--acq",
        Field::AcqVersion => "--acq-version",
        Field::Medication => "--medication",
        Field::DailyDose => "--daily-dose",
    }
}

/// The lines of a decision's [`details`] that cite a rule: its hold, if a rule imposed it, and
/// each reason that applies a rule.
pub fn cited_details(d: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = d.hold.as_ref().filter(|h| h.rule.is_some()) {
        out.push(hold(h));
    }
    out.extend(d.reasons.iter().filter(|r| r.rule().is_some()).map(reason));
    out
}

/// Who reads a refusal: a command line names the flags to type, the ward page the fields to
/// fill in. The clinical words are the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voice {
    /// The CLI.
    Cli,
    /// The ward page.
    Page,
}

struct Names {
    pef: &'static str,
    screen: &'static str,
    defer: &'static str,
    override_: &'static str,
    early: &'static str,
    local: &'static str,
    both: &'static str,
    reason: &'static str,
    correct: &'static str,
    premed: &'static str,
    accept_premed: &'static str,
}

const CLI: Names = Names {
    pef: "(--pef)",
    screen: "(--screen ok)",
    defer: "ritplan defer",
    override_: "with --override REASON",
    early: "with --early REASON",
    local: "--local-mm N, or --not-assessable",
    both: "give --local-mm or --not-assessable, not both",
    reason: "(--reason)",
    correct: "(ritplan correct)",
    premed: "(--premedication HH:MM, or --premedication none)",
    accept_premed: "with --accept-premedication REASON",
};

const PAGE: Names = Names {
    pef: "(the PEF field)",
    screen: "(the health questions)",
    defer: "Defer",
    override_: "by writing an override reason",
    early: "by writing why it ends early",
    local: "its size in mm, or \"not assessable\"",
    both: "give a size in mm or \"not assessable\", not both",
    reason: "(the reason field)",
    correct: "(Correct, on the course page)",
    premed: "(the premedication field: the time it was taken, or none)",
    accept_premed: "by writing the acceptance of the missing premedication",
};

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&refusal(self, Voice::Cli))
    }
}

/// A refusal in words, for `voice`.
pub fn refusal(r: &Refusal, voice: Voice) -> String {
    let n = match voice {
        Voice::Cli => &CLI,
        Voice::Page => &PAGE,
    };
    {
        match r {
            Refusal::Ended { hold: h }
            | Refusal::Stopped { hold: h }
            | Refusal::ReviewPending { hold: h } => hold(h),
            Refusal::PatientHold { course, hold: h } => format!(
                "course {course} of the same patient is on hold, and so is every course of this patient{}",
                h.as_ref()
                    .map(|h| format!(": {}", hold(h)))
                    .unwrap_or_default()
            ),
            Refusal::Observing { until } => format!(
                "the last dose's observation runs until {}",
                until.format("%H:%M")
            ),
            Refusal::OmalizumabObserving { course, until } => format!(
                "the omalizumab injection of course {course} is under observation (until {} at least); record its end there first",
                when(*until)
            ),
            Refusal::ObservationNotClosed { since } => format!(
                "the last dose's observation was not recorded as ended (it could have ended at {}); record it with the local reaction first",
                when(*since)
            ),
            Refusal::TooEarly {
                not_before,
                wait: w,
            } => format!(
                "too early: not before {}{}",
                when(*not_before),
                w.as_ref()
                    .map(|w| format!(" ({})", wait(w)))
                    .unwrap_or_default()
            ),
            Refusal::VisitClosed { why, next } => format!(
                "no further injection at this visit: {}{}",
                visit_closed(why),
                next.map(|n| format!("; next visit not before {}", when(n)))
                    .unwrap_or_default()
            ),
            Refusal::VialChangeDose {
                allowed,
                step,
                volume_ml,
                reason: r,
            } => format!(
                "{} The allowed dose is step {} ({} = {}), not step {step} with {volume_ml}; a physician may choose a lower dose {}",
                reason(r),
                allowed.step,
                allowed.volume_ml,
                allowed.dose,
                n.override_
            ),
            Refusal::WrongDose {
                allowed,
                step,
                volume_ml,
            } => format!(
                "the allowed dose is step {} ({} = {}), not step {step} with {volume_ml}; a physician may choose a lower dose {}",
                allowed.step, allowed.volume_ml, allowed.dose, n.override_
            ),
            Refusal::OverrideAboveAllowed { allowed, proposed } => format!(
                "an override may only choose a lower dose: {} is above the allowed {} (step {})",
                proposed.dose, allowed.dose, allowed.step
            ),
            Refusal::AboveMaintenance {
                proposed,
                maintenance,
            } => format!("{proposed} is above the maintenance dose {maintenance}"),
            Refusal::UnknownStep { step } => {
                format!("step {step} is not in the plan, or not the next maintenance dose")
            }
            Refusal::BadVolume {
                volume_ml,
                graduation,
                max,
            } => format!(
                "{volume_ml} cannot be given: a volume above 0, at most {max}, that a syringe graduated in {graduation} measures"
            ),
            Refusal::NoPef => format!(
                "no pre-dose PEF/FEV1 was recorded {}: a check that cannot be answered blocks the dose",
                n.pef
            ),
            Refusal::PefBelow { pef, below, rule } => format!(
                "PEF/FEV1 {} % of best is below {} %: defer the dose {}",
                pef.normalize(),
                below.normalize(),
                cite(rule)
            ),
            Refusal::ScreenNotOk => format!(
                "the pre-injection health questions were not recorded as asked and answered no {}; any other answer goes through {}",
                n.screen, n.defer
            ),
            Refusal::NothingToObserve => "no dose is awaiting the end of its observation".into(),
            Refusal::ObservationTooShort { until } => format!(
                "the observation cannot end before {} (its planned minimum, counted from the injection); if the patient leaves earlier, record why {}",
                until.format("%H:%M"),
                n.early
            ),
            Refusal::NeedsLocalSize => format!(
                "ending an observation needs the local reaction: {}",
                n.local
            ),
            Refusal::SizeAndNotAssessable => n.both.into(),
            Refusal::NoDoseGiven => "no dose has been given in this course".into(),
            Refusal::NoSuchEvent { seq } => format!("there is no event #{seq}"),
            Refusal::CorrectingACorrection => {
                "a correction cannot itself be corrected; record the right event instead".into()
            }
            Refusal::AlreadyCorrected { seq } => format!("event #{seq} is already corrected"),
            Refusal::NoReason { what } => format!("{what} needs a reason {}", n.reason),
            Refusal::EndedIsFinal => format!(
                "the course has ended; only a correction of the record {} undoes that",
                n.correct
            ),
            Refusal::BelowMaintenanceLadder { steps } => format!(
                "step-back:{steps} goes below the lowest volume of the maintenance ladder; choose fewer steps, or restart"
            ),
            Refusal::Premedication { due, problem } => format!(
                "DO NOT GIVE: the required premedication {} {}; it must be taken between {} and {} ({} before {}) [{}]. Defer the dose ({}), or a physician may accept giving it without the premedication for today {}",
                due.premedication.what(),
                premedication_problem(problem, due.not_after, n.premed),
                premed_time(due.not_before, due.not_after),
                premed_time(due.not_after, due.not_after),
                crate::template::minutes_words(due.premedication.before_min),
                due.premedication.anchor.words(),
                due.premedication.evidence_label(),
                n.defer,
                n.accept_premed
            ),
            Refusal::NoPremedicationToAccept => format!(
                "no required premedication is missing or mistimed for this dose: there is nothing to accept; give it without {}",
                n.accept_premed
                    .trim_start_matches("with ")
                    .trim_start_matches("by ")
            ),
            Refusal::BeforeLastEvent { last } => format!(
                "the course's last event is at {}; a record cannot come before it",
                when(*last)
            ),
        }
    }
}

/// A premedication time: the clock time on the dose's day, the full date otherwise.
fn premed_time(t: NaiveDateTime, dose_day: NaiveDateTime) -> String {
    if t.date() == dose_day.date() {
        t.format("%H:%M").to_string()
    } else {
        when(t)
    }
}

/// What is wrong with a required premedication, as a clause.
fn premedication_problem(
    p: &crate::course::PremedicationProblem,
    day: NaiveDateTime,
    ask: &str,
) -> String {
    use crate::course::PremedicationProblem as P;
    match p {
        P::NotAsked => format!("was not recorded as taken or not {ask}"),
        P::NotTaken => "was not taken".into(),
        P::TooLate { taken } => format!("was taken at {}, too late", premed_time(*taken, day)),
        P::TooEarly { taken } => {
            format!("was taken at {}, too early", premed_time(*taken, day))
        }
    }
}

/// The premedication recorded with a dose, as a clause (`, premedication taken 06:05`,
/// `, premedication not taken — ACCEPTED by the physician: ...`).
pub fn premedication_record(p: &crate::course::PremedicationRecord) -> String {
    format!(
        ", premedication {}{}",
        p.taken_at
            .map(|t| format!("taken {}", t.format("%Y-%m-%d %H:%M")))
            .unwrap_or_else(|| "not taken".into()),
        p.accepted
            .as_deref()
            .map(|r| format!(
                " — ACCEPTED without the required premedication or outside its window: {r}"
            ))
            .unwrap_or_default()
    )
}

/// The premedication recorded with each dose, one line each (`!` first where a physician
/// accepted a dose without it): for `course show`, the course page and the protocol.
pub fn premedication_lines(adms: &[crate::course::Administration]) -> Vec<String> {
    adms.iter()
        .filter_map(|a| {
            let p = a.premedication.as_ref()?;
            Some(format!(
                "{}Step {} given {} by {}{}",
                if p.accepted.is_some() { "! " } else { "" },
                a.step,
                a.at.format("%Y-%m-%d %H:%M"),
                a.by,
                premedication_record(p).replacen(',', ":", 1)
            ))
        })
        .collect()
}

/// What the ACQ's licence means for ritplan (said wherever follow-ups are entered).
pub const ACQ_LICENCE: &str = "The Asthma Control Questionnaire (ACQ, Juniper 1999) is copyrighted by QOL Technologies and licensed through Mapi Research Trust: ritplan holds no questionnaire wording, only the form's version and the item numbers' scores 0-6 as the clinic's licensed form gave them.";

/// A medication score in words: `3 (ics-laba)`, `not computable: no class for "montelukast"`.
pub fn med_score(s: &crate::policy::medication_score::MedScore) -> String {
    use crate::policy::medication_score::MedScore;
    match s {
        MedScore::Score { value, class } => format!("{value} ({class})"),
        MedScore::NotComputable { unmatched } => format!(
            "not computable: no class for {}",
            unmatched
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        MedScore::NotRecorded => "not recorded".into(),
    }
}

/// A follow-up's values in words: `ACQ-5 1.40 (items 1,2,0,1,3); FEV1 92 % predicted;
/// medication: budesonide 400 µg/day` (the ACQ's items and score only, never its wording).
pub fn follow_up(
    acq: Option<&crate::course::followup::AcqRecord>,
    fev1_percent: Option<rust_decimal::Decimal>,
    medication: Option<&[crate::course::followup::MedicationUse]>,
) -> String {
    let mut parts = Vec::new();
    if let Some(a) = acq {
        let items = a
            .items
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",");
        parts.push(match a.score() {
            Some(s) => format!("ACQ-{} {s} (items {items})", a.version),
            None => format!("ACQ-{} not scored: incomplete (items {items})", a.version),
        });
    }
    if let Some(f) = fev1_percent {
        parts.push(format!("FEV1 {} % predicted", f.normalize()));
    }
    match medication {
        None => {}
        Some([]) => parts.push("medication: none".into()),
        Some(m) => parts.push(format!(
            "medication: {}",
            m.iter()
                .map(|u| format!("{} {}/day", u.drug, u.daily_dose))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    parts.join("; ")
}

/// An event, in words (for the log and the echo of a recording command).
pub fn event(k: &crate::course::EventKind) -> String {
    use crate::course::EventKind as K;
    match k {
        K::DoseGiven {
            step,
            vial,
            volume_ml,
            dose,
            lot,
            site,
            pef_percent,
            screen_ok,
            override_reason,
            checked_by,
            vial_code,
            phase,
            premedication,
        } => format!(
            "dose given: step {step}{}, {volume_ml} of vial {vial}{} = {dose}{}{}{}{}{}{}{}",
            phase.map(|p| format!(" ({p})")).unwrap_or_default(),
            vial_code
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
            lot.as_deref()
                .map(|l| format!(", lot {l}"))
                .unwrap_or_default(),
            site.as_deref()
                .map(|s| format!(", {s} arm"))
                .unwrap_or_default(),
            pef_percent
                .map(|p| format!(", PEF {} %", p.normalize()))
                .unwrap_or_default(),
            if *screen_ok { ", screen ok" } else { "" },
            override_reason
                .as_deref()
                .map(|r| format!(", OVERRIDE: {r}"))
                .unwrap_or_default(),
            checked_by
                .as_deref()
                .map(|c| format!(", checked by {c}"))
                .unwrap_or_default(),
            premedication
                .as_ref()
                .map(premedication_record)
                .unwrap_or_default()
        ),
        K::ObservationEnded {
            local_mm,
            not_assessable,
            early_reason,
        } => format!(
            "observation ended: {}{}",
            match (local_mm, not_assessable) {
                (_, true) => "local reaction not assessable".to_string(),
                (Some(mm), false) => format!("local reaction {mm} mm"),
                (None, false) => "no local-reaction size recorded".to_string(),
            },
            early_reason
                .as_deref()
                .map(|r| format!(", EARLY: {r}"))
                .unwrap_or_default()
        ),
        K::SystemicReaction {
            grade,
            onset_min,
            symptom,
            treatment,
        } => format!(
            "systemic reaction WAO grade {grade}: {symptom}, {onset_min} min after the injection{}",
            treatment
                .as_deref()
                .map(|t| format!("; treated with {t}"))
                .unwrap_or_default()
        ),
        K::LateLocalReaction { mm } => format!("late local reaction {mm} mm"),
        K::LateReaction { kind, symptom } => format!("{}: {symptom}", late_kind(*kind)),
        K::DoseDeferred { reason } => format!("dose deferred: {reason}"),
        K::PhysicianReview {
            decision, reason, ..
        } => format!(
            "physician review: {}{}",
            decision_clause(decision),
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        K::Correction { corrects, reason } => {
            format!("correction: event #{corrects} no longer counts ({reason})")
        }
        K::Note { text } => format!("note: {text}"),
        K::FollowUp {
            date,
            acq,
            fev1_percent,
            medication,
        } => format!(
            "follow-up on {date}: {}",
            follow_up(acq.as_ref(), *fev1_percent, medication.as_deref())
        ),
        K::WeightMeasured { weight_kg } => format!("weight measured: {weight_kg} kg"),
        K::OmalizumabGiven {
            number,
            dose_mg,
            injections,
            site,
            accept_late,
        } => {
            let mut s = format!(
                "omalizumab injection {number}: {dose_mg} mg in {injections} injection{}",
                if *injections == 1 { "" } else { "s" }
            );
            if let Some(site) = site {
                s.push_str(&format!(", {site}"));
            }
            if let Some(r) = accept_late {
                s.push_str(&format!("; given late, accepted by a physician: {r}"));
            }
            s
        }
        K::VialAdded {
            code,
            vial,
            lot,
            expires,
            expiry_rule,
            ..
        } => format!(
            "vial {code} added: vial {vial}, lot {lot}, expires {expires}{}",
            expiry_rule
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        K::VialDiscarded { code, reason } => format!("vial {code} discarded: {reason}"),
        K::Migrated {
            from_schema,
            events,
        } => format!(
            "record upgraded from schema {from_schema} to the keyed chain; the {events} entries before this one were chained without a key and their names are not authenticated"
        ),
    }
}

/// An event, in words, with a vial named by its template's strength and colour when the
/// course's template is known: "vial V000001 added: vial 4 (100 000 SQ-U/mL, red), lot AB123,
/// expires 2027-03-31".
pub fn event_in(k: &crate::course::EventKind, template: Option<&Template>) -> String {
    use crate::course::EventKind as K;
    match (k, template) {
        (
            K::VialAdded {
                code,
                vial,
                lot,
                expires,
                expiry_rule,
                ..
            },
            Some(t),
        ) => match t.vial(vial) {
            Some(v) => format!(
                "vial {code} added: vial {vial} ({}, {}), lot {lot}, expires {expires}{}",
                v.concentration,
                v.cap,
                expiry_rule
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            None => event(k),
        },
        _ => event(k),
    }
}

/// Who recorded an entry, as shown: the name, and "(unauthenticated)" for entries from before
/// staff accounts.
pub fn entry_author(e: &StoredEvent) -> String {
    match &e.staff_id {
        Some(id) => format!("{} ({id})", e.event.by),
        None if matches!(e.event.kind, EventKind::Migrated { .. }) => e.event.by.clone(),
        None => format!("{} (unauthenticated)", e.event.by),
    }
}

/// Where a course stands on the board, in the words a nurse reads.
pub fn board_status(s: BoardStatus) -> &'static str {
    match s {
        BoardStatus::ObservationOverdue => "OBSERVATION OVERDUE",
        BoardStatus::DueNow => "DUE NOW",
        BoardStatus::InObservation => "IN OBSERVATION",
        BoardStatus::Waiting => "WAITING",
        BoardStatus::DoNotGive => "DO NOT GIVE",
        BoardStatus::DoneToday => "DONE FOR TODAY",
    }
}

impl fmt::Display for crate::course::ScanRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&scan_refusal(self, Voice::Cli))
    }
}

/// A template vial and its strength: `vial 4 (100 000 SQ-U/mL)`.
fn vial_strength(v: &crate::course::scan::VialStrength) -> String {
    match &v.strength {
        Some(s) => format!("vial {} ({s})", v.vial),
        None => format!("vial {}", v.vial),
    }
}

/// A scan's refusal in words, for `voice` (a command line names its flag, the page its field).
pub fn scan_refusal(r: &crate::course::ScanRefusal, voice: Voice) -> String {
    use crate::course::{ScanRefusal, ScanWhat};
    match r {
        ScanRefusal::WrongPatient { scanned, expected } => format!(
            "the scanned wristband is patient {scanned}; this course is patient {expected}'s"
        ),
        ScanRefusal::NotThisCourse { code } => format!(
            "vial {code} is not one of this course's vials (another patient's vial, or a code no vial has): do not use it"
        ),
        ScanRefusal::WrongStrength { vial, needed } => format!(
            "this is {}; the dose needs {}",
            vial_strength(vial),
            vial_strength(needed)
        ),
        ScanRefusal::Expired { code, on } => format!("vial {code} expired on {on}"),
        ScanRefusal::Discarded { code, reason } => {
            format!("vial {code} was discarded: {reason}")
        }
        ScanRefusal::ScanMissing { what } => {
            let (thing, how) = match (what, voice) {
                (ScanWhat::Vial, Voice::Cli) => ("the vial", "--scan-vial CODE"),
                (ScanWhat::Vial, Voice::Page) => ("the vial", "\"Scan the vial\""),
                (ScanWhat::Patient, Voice::Cli) => {
                    ("the patient's wristband", "--scan-patient CODE")
                }
                (ScanWhat::Patient, Voice::Page) => (
                    "the patient's wristband",
                    "\"Scan the patient's wristband\"",
                ),
            };
            format!("this clinic requires a scan of {thing} before every dose ({how})")
        }
        ScanRefusal::LotDisagrees { typed, code, lot } => format!(
            "the lot {typed:?} is not the scanned vial {code}'s lot {lot:?}: check the vial (with a scan, the lot comes from the vial)"
        ),
    }
}
