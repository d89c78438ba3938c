//! The course page's HTML: the identity banner, the next decision with its reasons and the
//! template's evidence label, the forms, the plan against what was given, the reactions and the
//! record; the give confirmation in large type. Every field has a label; an error stands next
//! to its field; the decision is in words as well as colour.

use maud::{Markup, html};

use super::course::{Errors, Fields, FormKind};
use super::pages::{Page, layout};
use crate::course::VialStatus;
use crate::course::{ActionKind, Decision, EventKind, voided};
use crate::render::course as say;
use crate::ward::view::PatientRecord;
use crate::ward::{CourseView, Preview, Role, ScheduleLine, VialView};

/// What the page says above the course.
pub enum Notice {
    /// An entry was recorded (its number).
    Recorded(u64),
    /// Some fields need correcting (they say which).
    Fields,
    /// The ward refused, in plain words.
    Refused(String),
    /// The course changed since the form was shown.
    Stale(String),
    /// The give form's scans were checked (what they are, in words); nothing was recorded.
    Scanned(String),
    /// A vial was added: its code is to be written on it or its label printed.
    VialAdded(Box<VialView>),
    /// A vial was discarded.
    VialDiscarded(Box<VialView>),
}

impl Notice {
    /// Whether it says something went wrong (it then takes the focus).
    fn is_error(&self) -> bool {
        matches!(self, Notice::Fields | Notice::Refused(_) | Notice::Stale(_))
    }
}

/// Everything the course page shows.
pub struct CourseScreen<'a> {
    /// The session's page.
    pub page: &'a Page<'a>,
    /// The course.
    pub view: &'a CourseView,
    /// Its patient.
    pub patient: &'a PatientRecord,
    /// Patients with the same name and date of birth.
    pub lookalikes: &'a [PatientRecord],
    /// The next decision.
    pub decision: &'a Decision,
    /// Plan against given, and the rest re-projected.
    pub schedule: &'a [ScheduleLine],
    /// The course's vials, with their state today.
    pub vials: &'a [VialView],
    /// The patient's follow-ups (this course's are shown), with the medication score's
    /// definition.
    pub follow_ups: &'a crate::ward::followup::FollowUps,
    /// A notice.
    pub notice: Option<Notice>,
    /// A form sent back: which, its values and its errors.
    pub open: Option<(FormKind, &'a Fields, &'a Errors)>,
}

/// A question's form field, from its id.
pub fn question_field(id: &str) -> String {
    format!("q-{id}")
}

/// A form's values and errors: those sent back for the open form, defaults for the others.
pub(super) struct FormState<'a> {
    form: FormKind,
    values: Option<&'a Fields>,
    errors: Option<&'a Errors>,
}

impl<'a> FormState<'a> {
    pub(super) fn of(
        form: FormKind,
        open: Option<(FormKind, &'a Fields, &'a Errors)>,
    ) -> FormState<'a> {
        match open {
            Some((k, v, e)) if k == form => FormState {
                form,
                values: Some(v),
                errors: Some(e),
            },
            _ => FormState {
                form,
                values: None,
                errors: None,
            },
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.values.is_some()
    }

    pub(super) fn value(&self, name: &str, default: &str) -> String {
        match self.values {
            Some(v) => v.get(name).cloned().unwrap_or_default(),
            None => default.to_string(),
        }
    }

    pub(super) fn error(&self, name: &str) -> Option<&str> {
        self.errors.and_then(|e| e.get(name)).map(String::as_str)
    }

    fn id(&self, name: &str) -> String {
        format!("{}-{name}", self.form.segment())
    }
}

/// A labelled input, its help and its error.
pub(super) fn input(
    fs: &FormState<'_>,
    name: &str,
    label: &str,
    kind: &str,
    default: &str,
    help: Option<&str>,
) -> Markup {
    input_focus(fs, name, label, kind, default, help, "")
}

/// [`input`], with `autofocus` when `focus` is its name.
fn input_focus(
    fs: &FormState<'_>,
    name: &str,
    label: &str,
    kind: &str,
    default: &str,
    help: Option<&str>,
    focus: &str,
) -> Markup {
    let id = fs.id(name);
    let err = fs.error(name);
    html! {
        div.field {
            label for=(id) { (label) }
            @if let Some(h) = help { span.help { (h) } }
            input id=(id) name=(name) type=(kind) value=(fs.value(name, default))
                autofocus[focus == name]
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-error"))];
            @if let Some(e) = err { p.error id=(format!("{id}-error")) { "⚠ " (e) } }
        }
    }
}

/// A labelled field a keyboard-wedge scanner types into: no autocomplete, a text keyboard,
/// `autofocus` when `focus` is its name.
fn scan_input(fs: &FormState<'_>, name: &str, label: &str, focus: &str) -> Markup {
    let id = fs.id(name);
    let err = fs.error(name);
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type="text" value=(fs.value(name, ""))
                autocomplete="off" inputmode="text" spellcheck="false" autocapitalize="off"
                autofocus[focus == name]
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-error"))];
            @if let Some(e) = err { p.error id=(format!("{id}-error")) { "⚠ " (e) } }
        }
    }
}

/// A labelled select.
pub(super) fn select(
    fs: &FormState<'_>,
    name: &str,
    label: &str,
    options: &[(&str, &str)],
    default: &str,
) -> Markup {
    let id = fs.id(name);
    let err = fs.error(name);
    let chosen = fs.value(name, default);
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) aria-invalid=[err.map(|_| "true")] {
                @for (v, l) in options {
                    option value=(v) selected[chosen == *v] { (l) }
                }
            }
            @if let Some(e) = err { p.error id=(format!("{id}-error")) { "⚠ " (e) } }
        }
    }
}

/// A labelled checkbox (value "yes").
pub(super) fn checkbox(fs: &FormState<'_>, name: &str, label: &str) -> Markup {
    let id = fs.id(name);
    html! {
        div.field.check {
            input id=(id) name=(name) type="checkbox" value="yes" checked[fs.value(name, "") == "yes"];
            label for=(id) { (label) }
            @if let Some(e) = fs.error(name) { p.error { "⚠ " (e) } }
        }
    }
}

/// The hidden fields every course form carries: the CSRF token and the entry it was shown on.
fn hidden(page: &Page<'_>, v: &CourseView) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(page.csrf);
        input type="hidden" name="seen" value=(v.events.last().map_or(0, |e| e.event.seq));
    }
}

/// One form of the course page, folded unless it is the main one or was sent back.
fn section(
    s: &CourseScreen<'_>,
    fs: &FormState<'_>,
    title: &str,
    open: bool,
    submit: &str,
    body: Markup,
) -> Markup {
    let action = format!("/course/{}/{}", s.view.loaded.record.id, fs.form.segment());
    html! {
        details.form open[open || fs.is_open()] id=(format!("form-{}", fs.form.segment())) {
            summary { h2 { (title) } }
            form method="post" action=(action) novalidate {
                (hidden(s.page, s.view))
                (body)
                p { button type="submit" { (submit) } }
            }
        }
    }
}

/// The identity banner: on every screen of a patient.
pub fn banner(
    p: &PatientRecord,
    lookalikes: &[PatientRecord],
    now: chrono::NaiveDateTime,
) -> Markup {
    let age = crate::patient::age_on(p.dob, now.date()).map_or("?".to_string(), |a| a.to_string());
    html! {
        section.banner aria-label="Patient" {
            span.name.big { (p.name) }
            span { "ID " strong { (p.id) } }
            span { "born " (p.dob) " (" (age) " years)" }
            span { (p.weight_kg) " kg" }
            @for o in lookalikes {
                p.lookalike role="alert" {
                    "⚠ LOOK-ALIKE: " (o.name) " (" (o.id) ") has the same name and date of birth: check the ID before every dose"
                }
            }
        }
    }
}

fn decision_class(d: &Decision) -> &'static str {
    match d.action {
        ActionKind::Give | ActionKind::MaintenanceDue => "due",
        ActionKind::PhysicianReview
        | ActionKind::PatientHold
        | ActionKind::Stopped
        | ActionKind::Ended => "stop",
        ActionKind::ObservationNotClosed => "overdue",
        _ => "wait",
    }
}

pub(super) const GRADES: [&str; 25] = [
    "1a", "1b", "1c", "1d", "1z", "2a", "2b", "2c", "2d", "2z", "3a", "3b", "3c", "3d", "3z", "4a",
    "4b", "4c", "4d", "4z", "5a", "5b", "5c", "5d", "5z",
];

/// What became of the last form sent, if anything. A refusal is the error summary: an alert,
/// focused when the page loads (`autofocus`, no JavaScript needed), so that the keyboard and a
/// screen reader start from it.
pub(super) fn notice(n: &Option<Notice>) -> Markup {
    let refused = |text: Markup| {
        html! { p.notice.bad #error-summary tabindex="-1" autofocus role="alert" { (text) } }
    };
    html! {
    @match n {
        Some(Notice::Recorded(n)) => {
            p.notice.ok role="status" { "✔ Recorded entry #" (n) "." }
        }
        // An error takes the focus (a screen reader says it; Tab goes on from it).
        Some(Notice::Fields) => {
            (refused(html! { "✖ Not recorded: correct the fields marked ⚠ below." }))
        }
        Some(Notice::Refused(m)) => {
            (refused(html! { "✖ Not recorded: " (m) }))
        }
        Some(Notice::Stale(m)) => {
            (refused(html! { "✖ " (m) }))
        }
        Some(Notice::Scanned(m)) => {
            p.notice.ok role="status" { "✔ Scans checked (nothing recorded yet): " (m) "." }
        }
        Some(Notice::VialAdded(v)) => {
            div.notice.ok role="status" {
                p { "✔ Vial added: " (vial_words(v)) "." }
                p.huge { "Write " strong.code { (v.code) } " on the vial, or print its label." }
                p { a.button href=(format!("/course/{}/vial-labels.pdf", v.course)) target="_blank" { "Print the vial labels (PDF)" } }
            }
        }
        Some(Notice::VialDiscarded(v)) => {
            p.notice.ok role="status" {
                "✔ Vial " (v.code) " discarded" @if let Some(r) = &v.discarded_reason { " (" (r) ")" } ": do not use it."
            }
        }
        None => {}
    }
    }
}

/// The give form: the decision's dose, the patient's ID from the wristband, the pre-dose PEF, the
/// pre-injection questions, lot and arm (a physician may also choose a lower dose).
fn give_form(s: &CourseScreen<'_>, dose: &crate::course::Dosing, physician: bool) -> Markup {
    let v = s.view;
    let t = &v.loaded.template;
    let fs = FormState::of(FormKind::Give, s.open);
    // Where the focus goes: an error notice takes it; else the first scan when the form opens,
    // and after a "check the scans" step the field after the last code scanned.
    let error = s.notice.as_ref().is_some_and(Notice::is_error);
    let filled = |name: &str| !fs.value(name, "").trim().is_empty();
    let focus = if error {
        ""
    } else if filled("scan_vial") {
        if filled("scan_patient") || filled("patient") {
            "pef"
        } else {
            "patient"
        }
    } else if filled("scan_patient") {
        "scan_vial"
    } else {
        "scan_patient"
    };
    html! {
    (section(s, &fs, "Give this dose", true, "Check the dose", html! {
        p.big { (say::dosing(dose, t)) }
        (scan_input(&fs, "scan_patient", "Scan the patient's wristband", focus))
        (scan_input(&fs, "scan_vial", "Scan the vial", focus))
        p.help { "A scanner's Enter checks the scans and moves on; nothing is recorded until you check the dose and save it." }
        // The first submit button: the one a scanner's Enter (implicit submission) presses.
        p { button type="submit" name="check" value="yes" formnovalidate { "Check the scans" } }
        (input_focus(&fs, "patient", "Patient ID (read it from the wristband)", "text", "", Some("not needed when the wristband is scanned"), focus))
        @if physician {
            (input(&fs, "step", "Step", "number", &dose.step.to_string(), None))
            (input(&fs, "volume", "Volume, mL", "text", &dose.volume_ml.ml().to_string(), Some("a lower dose than the allowed one needs an override reason")))
            (input(&fs, "override", "Override reason (physician: a lower dose)", "text", "", None))
        } @else {
            input type="hidden" name="step" value=(dose.step);
            input type="hidden" name="volume" value=(dose.volume_ml.ml());
        }
        (input_focus(&fs, "pef", "Pre-dose PEF/FEV1, % of the patient's best", "text", "", None, focus))
        @for due in &s.decision.premedication {
            p.warning { "Premedication " (if due.required { "REQUIRED" } else { "recommended" }) ": " (due.line()) }
        }
        @if !s.decision.premedication.is_empty() {
            (input(&fs, "premedication", "Premedication taken at (HH:MM today), or none", "text", "", Some(if s.decision.premedication.iter().any(|d| d.required) { "required for this dose: without it, or outside its window, the dose is not given" } else { "recommended: a reminder, it does not block the dose" })))
            @if physician && s.decision.premedication.iter().any(|d| d.required) {
                (input(&fs, "accept_premedication", "Physician: give without the required premedication today, because", "text", "", None))
            }
        }
        fieldset {
            legend { "Pre-injection questions (every answer must be no)" }
            @for q in v.pre_injection_questions() {
                @let field = question_field(&q.id);
                @let err = fs.error(&field);
                @let val = fs.value(&field, "");
                div.question {
                    p { (q.question) br; small { (q.source) } }
                    input type="radio" id=(format!("{field}-no")) name=(field) value="no" checked[val == "no"];
                    label.inline for=(format!("{field}-no")) { "No" }
                    " "
                    input type="radio" id=(format!("{field}-yes")) name=(field) value="yes" checked[val == "yes"];
                    label.inline for=(format!("{field}-yes")) { "Yes" }
                    @if let Some(e) = err { p.error { "⚠ " (e) } }
                }
            }
        }
        (input(&fs, "lot", "Lot number", "text", "", None))
        (select(&fs, "site", "Arm", &[("", "(not recorded)"), ("left", "left"), ("right", "right")], ""))
    }))
    }
}

/// The reaction form: systemic (WAO grade), late local, or another late reaction.
fn reaction_form(s: &CourseScreen<'_>) -> Markup {
    html! {
    @let fs = FormState::of(FormKind::React, s.open);
    (section(s, &fs, "Record a reaction", false, "Record the reaction", html! {
        (select(&fs, "type", "Reaction", &[
            ("", "(choose)"),
            ("systemic", "systemic reaction (WAO grade)"),
            ("late-local", "late local reaction (6–24 h)"),
            ("late", "another late reaction (6–24 h)"),
        ], ""))
        @let grades: Vec<(&str, &str)> = std::iter::once(("", "(choose)")).chain(GRADES.iter().map(|g| (*g, *g))).collect();
        (select(&fs, "grade", "WAO grade and epinephrine suffix (a ≤5 min, b >5–10, c >10–20, d >20, z none) — systemic", &grades, ""))
        (input(&fs, "onset_min", "Onset, minutes after the injection — systemic", "number", "", None))
        (input(&fs, "symptom", "First symptom, or what was seen — systemic and other late", "text", "", None))
        (input(&fs, "treatment", "Treatment given — systemic", "text", "", None))
        (input(&fs, "late_mm", "Late local reaction, mm", "number", "", None))
        (select(&fs, "late_kind", "Kind of late reaction", &[
            ("", "(choose)"),
            ("type-iii", "type III (fever, arthralgia, malaise)"),
            ("allergic-mild", "late allergic or asthmatic, mild"),
            ("allergic-severe", "late allergic or asthmatic, severe"),
        ], ""))
    }))
    }
}

/// The course page.
pub fn course(s: &CourseScreen<'_>) -> Markup {
    let v = s.view;
    let d = s.decision;
    let t = &v.loaded.template;
    let id = v.loaded.record.id;
    let physician = s.page.actor.role == Role::Physician;
    let given = v
        .events
        .iter()
        .any(|e| matches!(e.event.kind, EventKind::DoseGiven { .. }));
    let due = matches!(d.action, ActionKind::Give | ActionKind::MaintenanceDue);
    let observing = matches!(
        d.action,
        ActionKind::Observe | ActionKind::ObservationNotClosed
    );
    let held = matches!(
        d.action,
        ActionKind::PhysicianReview | ActionKind::PatientHold | ActionKind::Stopped
    );
    let body = html! {
        (banner(s.patient, s.lookalikes, s.page.now))
        h1.course { "Course " (id) " · " (v.loaded.plan.template.name) " · evidence " strong { (t.evidence_label()) } }
        p { a href=(super::patient::href(&s.patient.id)) { "This patient's doses today (every course)" } }
        @for w in &v.loaded.plan.warnings { p.warning { "⚠ " (w) } }
        (notice(&s.notice))
        section class=(format!("decision {}", decision_class(d))) aria-label="Next" {
            p.headline { (say::headline(d, t)) }
            ul { @for line in say::details(d) { li { (line) } } }
        }
        @let premeds = say::premedication_lines(&crate::course::administrations(&v.plain_events()));
        @if !premeds.is_empty() {
            section aria-label="Premedication" {
                h2 { "Premedication recorded" }
                ul { @for l in &premeds { li class=[l.starts_with('!').then_some("bad")] { (l) } } }
            }
        }
        @if due {
            @if let Some(dose) = &d.dosing {
                (give_form(s, dose, physician))
            }
        }
        @if observing {
            @let fs = FormState::of(FormKind::Observe, s.open);
            (section(s, &fs, "End the observation", true, "Record the end of the observation", html! {
                (input(&fs, "local_mm", "Local reaction at the injection site, mm (0 for none)", "number", "", None))
                (checkbox(&fs, "not_assessable", "The local reaction cannot be assessed (a physician then decides)"))
                (input(&fs, "early", "Ends before its minimum because… (only if the patient leaves early)", "text", "", None))
            }))
        }
        @if held && !physician {
            p.notice.bad { "✖ DO NOT GIVE. Only a physician can review this course: ask a physician to log in and record the review." }
        }
        @if physician {
            @let fs = FormState::of(FormKind::Review, s.open);
            (section(s, &fs, "Physician's review", held, "Record the review", html! {
                (select(&fs, "decision", "Decision", &[
                    ("", "(choose)"),
                    ("continue", "continue as the rules say"),
                    ("repeat", "repeat the last dose"),
                    ("step-back", "step back some distinct doses"),
                    ("restart", "restart the course"),
                    ("stop", "stop the course"),
                ], ""))
                (input(&fs, "steps", "Steps back (for step back)", "number", "1", None))
                (input(&fs, "reason", "Reason (required to resume a stopped course: the correctable cause)", "text", "", None))
            }))
        }
        @if given {
            (reaction_form(s))
        }
        @if d.dosing.is_some() && !held {
            @let fs = FormState::of(FormKind::Defer, s.open);
            (section(s, &fs, "Defer today's dose", false, "Defer the dose", html! {
                (input(&fs, "reason", "Reason", "text", "", None))
            }))
        }
        @let fs = FormState::of(FormKind::Note, s.open);
        (section(s, &fs, "Add a note", false, "Add the note", html! {
            (input(&fs, "text", "Note", "text", "", None))
        }))
        @if !v.events.is_empty() {
            @let fs = FormState::of(FormKind::Correct, s.open);
            @let gone = voided(&v.plain_events());
            @let options = correctable(v, &gone);
            @let refs: Vec<(&str, &str)> = options.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            (section(s, &fs, "Correct an entry", false, "Record the correction", html! {
                (select(&fs, "event", "Entry that was wrong", &refs, ""))
                (input(&fs, "reason", "Why it was wrong", "text", "", None))
            }))
        }
        (follow_ups_section(s))
        (vials_section(s))
        p.print {
            a.button href=(format!("/course/{id}/protocol.pdf")) target="_blank" { "Print this patient's protocol (PDF)" }
            " "
            a.button href=(format!("/sheet.pdf?date={}", s.page.now.date())) target="_blank" { "Print today's sheet (PDF)" }
        }
        h2 { "Plan and doses" }
        (schedule(s))
        h2 { "Reactions" }
        (reactions(v))
        details {
            summary { h2 { "The record of this course" } }
            ol {
                @for e in &v.events {
                    li value=(e.event.seq) {
                        (e.event.at.format("%Y-%m-%d %H:%M")) " · " (say::entry_author(e)) " · " (say::event(&e.event.kind))
                    }
                }
            }
        }
    };
    layout(&s.patient.name, Some(s.page), s.page.training, body)
}

/// The course's follow-ups with their scores, and the follow-up form (physicians and nurses).
/// Only item numbers and scores: the ACQ's wording is the rights holder's.
fn follow_ups_section(s: &CourseScreen<'_>) -> Markup {
    let id = s.view.loaded.record.id;
    let rows: Vec<_> = s
        .follow_ups
        .rows
        .iter()
        .filter(|r| r.course == id)
        .collect();
    let def = &s.follow_ups.definition;
    let clinical = matches!(s.page.actor.role, Role::Nurse | Role::Physician);
    let fs = FormState::of(FormKind::FollowUp, s.open);
    html! {
        section #follow-ups aria-labelledby="follow-ups-title" {
            h2 #follow-ups-title { "Follow-ups" }
            @if rows.is_empty() {
                p { "No follow-up recorded on this course." }
            } @else {
                table.follow-ups {
                    caption { "The follow-ups of course " (id) ", oldest first" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "ACQ items" } th scope="col" { "ACQ score" } th scope="col" { "FEV1 % predicted" } th scope="col" { "Medication" } th scope="col" { "Medication score" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                th scope="row" { (r.date) }
                                td { @if let Some(a) = &r.acq { "ACQ-" (a.version) ": " (a.items.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")) } @else { "not taken" } }
                                td { @match (&r.acq, r.acq_score) {
                                    (_, Some(sc)) => { (sc) }
                                    (Some(_), None) => { "not scored: incomplete" }
                                    (None, None) => { "—" }
                                } }
                                td { @if let Some(f) = r.fev1_percent { (f.normalize()) } @else { "—" } }
                                td { @match r.medication.as_deref() {
                                    None => { "not recorded" }
                                    Some([]) => { "none" }
                                    Some(m) => { (m.iter().map(|u| format!("{} {}/day", u.drug, u.daily_dose)).collect::<Vec<_>>().join("; ")) }
                                } }
                                td { (say::med_score(&r.medication_score)) }
                            }
                        }
                    }
                }
                p.help { "ACQ score: the mean of the items, to 2 places, only when every item of the version is there (never imputed). Medication score: " (def.label()) " — " (def.name) "." }
            }
            @if clinical {
                (section(s, &fs, "Record a follow-up", false, "Record the follow-up", html! {
                    p.help { (say::ACQ_LICENCE) }
                    (input(&fs, "date", "Date of the follow-up (YYYY-MM-DD)", "text", "", None))
                    (select(&fs, "acq_version", "ACQ version on the clinic's form", &[("", "(no ACQ taken)"), ("5", "ACQ-5 (5 items)"), ("6", "ACQ-6 (6 items)"), ("7", "ACQ-7 (7 items)")], ""))
                    (input(&fs, "acq", "ACQ item scores 0–6, in the form's order, separated by commas", "text", "", Some("e.g. 1,2,0,1,3")))
                    (input(&fs, "fev1", "FEV1, % predicted (optional)", "text", "", None))
                    (checkbox(&fs, "no_medication", "The patient uses no asthma medication"))
                    @for i in 1..=super::forms::FOLLOW_UP_MEDICATION_LINES {
                        (input(&fs, &format!("med{i}_drug"), &format!("Drug {i} (optional)"), "text", "", None))
                        (input(&fs, &format!("med{i}_dose"), &format!("Daily dose of drug {i}, with its unit"), "text", "", Some("e.g. 400 µg, 2 puffs")))
                    }
                }))
            }
        }
    }
}

/// A vial in words: `V000001 is vial 1 (Vial 1, 100 SQ-U/mL, grey cap), lot L100, expires 2027-03-31`.
fn vial_words(v: &VialView) -> String {
    format!(
        "{} is vial {} ({}, {}, {} cap), lot {}, expires {}",
        v.code, v.vial, v.label, v.strength, v.cap, v.lot, v.expires
    )
}

/// The course's vials: each with its state in words (never colour alone) and the doses drawn
/// from it; the print links; the "Add a vial" form; a "Discard" form per active vial.
fn vials_section(s: &CourseScreen<'_>) -> Markup {
    let v = s.view;
    let t = &v.loaded.template;
    let id = v.loaded.record.id;
    let fs = FormState::of(FormKind::AddVial, s.open);
    let mut options = vec![(String::new(), "(choose)".to_string())];
    options.extend(t.vials.iter().map(|tv| {
        (
            tv.id.clone(),
            format!(
                "vial {}: {}, {}, {} cap",
                tv.id, tv.label, tv.concentration, tv.cap
            ),
        )
    }));
    let refs: Vec<(&str, &str)> = options
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let active: Vec<&VialView> = s
        .vials
        .iter()
        .filter(|x| x.status == VialStatus::Active)
        .collect();
    let discard_open = matches!(s.open, Some((FormKind::DiscardVial, _, _)));
    html! {
        section #vials aria-labelledby="vials-title" {
            h2 #vials-title { "Vials" }
            @if s.vials.is_empty() {
                p { "No vial recorded for this course yet. Add the vial in your hand below, write its code on it or print its label; the dose's scan reads that code." }
            } @else {
                table.vials {
                    caption { "The vials of course " (id) ", their state today" }
                    thead { tr { th scope="col" { "Code" } th scope="col" { "Vial" } th scope="col" { "Strength" } th scope="col" { "Cap colour" } th scope="col" { "Lot" } th scope="col" { "Expires" } th scope="col" { "State" } th scope="col" { "Doses drawn" } } }
                    tbody {
                        @for x in s.vials {
                            tr class=(x.status.word()) {
                                th scope="row" { strong.code { (x.code) } }
                                td { (x.vial) " (" (x.label) ")" }
                                td.nowrap { (x.strength) }
                                td { (x.cap) }
                                td { (x.lot) }
                                td.nowrap {
                                    (x.expires)
                                    @if let Some(r) = &x.expiry_rule { br; small { "lot date " (x.lot_expires) "; " (r) } }
                                }
                                td { @match x.status {
                                    VialStatus::Active => { "active" }
                                    VialStatus::Expired => { "EXPIRED: do not use" }
                                    VialStatus::Discarded => { "DISCARDED: do not use" @if let Some(r) = &x.discarded_reason { " (" (r) ")" } }
                                } }
                                td { (x.doses_drawn) }
                            }
                        }
                    }
                }
            }
            p.print {
                @if active.is_empty() {
                    span.help { "No active vial: no vial label to print. " }
                } @else {
                    a.button href=(format!("/course/{id}/vial-labels.pdf")) target="_blank" { "Print the vial labels (PDF)" }
                    " "
                }
                a.button href=(super::patient::label_href(&s.patient.id)) target="_blank" { "Print the wristband label (PDF)" }
            }
            (section(s, &fs, "Add a vial", false, "Add the vial", html! {
                p.help { "Scan the manufacturer's code to fill the lot and its expiry, or type them from the vial's label." }
                (scan_input(&fs, "scan", "Scan the manufacturer's code (GS1)", ""))
                (select(&fs, "vial", "Template vial", &refs, ""))
                (input(&fs, "lot", "Lot", "text", "", Some("not needed when the code is scanned")))
                (input(&fs, "expires", "Lot's expiry date (YYYY-MM-DD)", "text", "", Some("not needed when the code is scanned")))
                (input(&fs, "manufacturer", "Manufacturer (optional)", "text", "", None))
                (input(&fs, "prepared", "Prepared on (YYYY-MM-DD, optional unless the clinic limits the vial's shelf life)", "text", "", None))
                (input(&fs, "volume", "Volume, mL (optional)", "text", "", None))
            }))
            @if !active.is_empty() {
                details.form open[discard_open] id="form-vial-discard" {
                    summary { h2 { "Discard a vial" } }
                    @for x in &active {
                        (discard_form(s, x))
                    }
                }
            }
        }
    }
}

/// The "Discard" form of one vial (its fields' ids carry its code: one page, many forms).
fn discard_form(s: &CourseScreen<'_>, x: &VialView) -> Markup {
    let id = s.view.loaded.record.id;
    let (value, err) = match s.open {
        Some((FormKind::DiscardVial, f, e)) if f.get("code").map(|c| c.trim()) == Some(&x.code) => {
            (
                f.get("reason").cloned().unwrap_or_default(),
                e.get("reason").or_else(|| e.get("code")).cloned(),
            )
        }
        _ => (String::new(), None),
    };
    let field = format!("discard-{}-reason", x.code);
    html! {
        form method="post" action=(format!("/course/{id}/vial-discard")) novalidate {
            (hidden(s.page, s.view))
            input type="hidden" name="code" value=(x.code);
            div.field {
                label for=(field) { "Why vial " (x.code) " (vial " (x.vial) ", lot " (x.lot) ") is discarded" }
                input id=(field) name="reason" type="text" value=(value)
                    aria-invalid=[err.as_ref().map(|_| "true")] aria-describedby=[err.as_ref().map(|_| format!("{field}-error"))];
                @if let Some(e) = &err { p.error id=(format!("{field}-error")) { "⚠ " (e) } }
            }
            p { button type="submit" { "Discard " (x.code) } }
        }
    }
}

/// The entries a correction may name (newest first): not voided, not a correction.
fn correctable(v: &CourseView, gone: &[u64]) -> Vec<(String, String)> {
    std::iter::once((String::new(), "(choose)".to_string()))
        .chain(
            v.events
                .iter()
                .rev()
                .filter(|e| !gone.contains(&e.event.seq))
                .filter(|e| {
                    !matches!(
                        e.event.kind,
                        EventKind::Correction { .. } | EventKind::Migrated { .. }
                    )
                })
                .map(|e| {
                    (
                        e.event.seq.to_string(),
                        format!(
                            "#{} {} — {}",
                            e.event.seq,
                            e.event.at.format("%H:%M"),
                            say::event(&e.event.kind)
                        ),
                    )
                }),
        )
        .collect()
}

fn schedule(s: &CourseScreen<'_>) -> Markup {
    let plan_len = s.view.loaded.plan.steps.len();
    // A phase column only when the course's template names its phases.
    let phases = s.schedule.iter().any(|l| l.phase.is_some());
    html! {
        table.schedule {
            thead { tr { th { "Step" } th { "Planned" } th { "Given / due" } th { "Vial" } th { "Volume" } th { "Dose" } th { "By" } th { "Local mm" } th { "Systemic" } @if phases { th { "Phase" } } } }
            tbody {
                @for l in s.schedule {
                    tr class=(if l.given { "given" } else { "due" }) {
                        td { @if l.step > plan_len { "M" (l.step - plan_len) } @else { (l.step) } }
                        td { @if let Some(p) = l.planned { (p.format("%a %m-%d %H:%M")) } @else { "maintenance" } }
                        td { @if l.given { "given " } @else { "due " } (l.at.format("%a %m-%d %H:%M")) }
                        td { (l.vial) }
                        td.nowrap { (l.volume_ml) }
                        td.nowrap { (l.dose) }
                        td { (l.by.clone().unwrap_or_default()) }
                        td { (l.local_mm.map(|m| m.to_string()).unwrap_or_default()) }
                        td { (l.systemic.clone().unwrap_or_default()) }
                        @if phases { td { (crate::render::phase_cell(l.phase)) } }
                    }
                }
            }
        }
        p.help { "Rows marked \"due\" are re-projected from the record: each at its earliest, assuming every dose is tolerated." }
    }
}

fn reactions(v: &CourseView) -> Markup {
    let gone = voided(&v.plain_events());
    let list: Vec<_> = v
        .events
        .iter()
        .filter(|e| !gone.contains(&e.event.seq))
        .filter(|e| e.event.kind.is_reaction())
        .collect();
    html! {
        @if list.is_empty() { p { "None recorded." } }
        ul {
            @for e in list {
                li { "#" (e.event.seq) " " (e.event.at.format("%Y-%m-%d %H:%M")) ": " (say::event(&e.event.kind)) " (" (e.event.by) ")" }
            }
        }
    }
}

/// What the give confirmation shows.
pub struct Confirm<'a> {
    /// The session's page.
    pub page: &'a Page<'a>,
    /// The course.
    pub view: &'a CourseView,
    /// Its patient.
    pub patient: &'a PatientRecord,
    /// Patients with the same name and date of birth.
    pub lookalikes: &'a [PatientRecord],
    /// What would be recorded.
    pub preview: &'a Preview,
    /// The give form as sent.
    pub fields: &'a Fields,
    /// The clinic requires a second person to check every dose.
    pub second_check: bool,
}

/// The give confirmation: name, dose, volume and vial in large type, and the form again, hidden,
/// to be saved with one more press; the second person's check, when the clinic asks for one.
pub fn confirm_give(c: &Confirm<'_>) -> Markup {
    let (page, v, patient, p, f) = (c.page, c.view, c.patient, c.preview, c.fields);
    let t = &v.loaded.template;
    let id = v.loaded.record.id;
    let body = html! {
        (banner(patient, c.lookalikes, page.now))
        h1 { "Check before you inject" }
        @if let EventKind::DoseGiven { step, vial, volume_ml, dose, pef_percent, lot, site, .. } = &p.kind {
            @let vial_label = t.vial(vial).map(|x| format!("{} ({}, {})", x.label, x.cap, x.concentration)).unwrap_or_else(|| vial.clone());
            dl.confirm {
                dt { "Patient" } dd.huge { (patient.name) " · ID " (patient.id) }
                dt { "Dose" } dd.huge { (dose) }
                dt { "Volume" } dd.huge { (volume_ml) }
                dt { "Vial" } dd.huge { (vial_label) }
                dt { "Step" } dd { (step) }
                dt { "PEF/FEV1" } dd { @if let Some(x) = pef_percent { (x.normalize()) " % of best" } }
                dt { "Health questions" } dd { "all answered no" }
                @if let Some(sv) = &p.vial {
                    @let tv = t.vial(&sv.vial).map(|x| format!("{} ({}, {})", x.label, x.cap, x.concentration)).unwrap_or_else(|| sv.vial.clone());
                    dt { "Vial scanned" } dd.huge { (sv.code) " · " (tv) }
                    dt { "Vial expires" } dd { (sv.expires) }
                }
                @if let Some(l) = lot { dt { "Lot" } dd { (l) } }
                @if let Some(s) = site { dt { "Arm" } dd { (s) } }
            }
            @if let EventKind::DoseGiven { premedication: Some(pm), .. } = &p.kind {
                p.notice.bad[pm.accepted.is_some()] { "Premedication: " (say::premedication_record(pm).trim_start_matches(", premedication ")) }
            }
            @if let Some((allowed, why)) = &p.overridden {
                p.notice.bad { "OVERRIDE: the rules allow step " (allowed.step) ", " (allowed.volume_ml) " = " (allowed.dose) "; you give this lower dose because: " (why) }
            }
        }
        form method="post" action=(format!("/course/{id}/give")) {
            @for (k, val) in f {
                @if k != "csrf" && k != "seen" && k != "confirm" {
                    input type="hidden" name=(k) value=(val);
                }
            }
            input type="hidden" name="csrf" value=(page.csrf);
            input type="hidden" name="seen" value=(p.seen);
            input type="hidden" name="confirm" value="yes";
            fieldset {
                legend { @if c.second_check { "Second check (this clinic requires it)" } @else { "Second check (optional)" } }
                p.help { "Another nurse or physician checks the patient, the dose, the volume and the vial on this screen, and signs with their own account." }
                label for="checker" { "Checked by: staff ID" }
                input id="checker" name="checker" autocomplete="off" required[c.second_check];
                label for="checker_password" { "Their password or PIN" }
                input id="checker_password" name="checker_password" type="password" autocomplete="off" required[c.second_check];
            }
            p {
                button.big type="submit" { "Save: this dose is given" }
                " "
                a.button href=(format!("/course/{id}")) { "Back: do not save" }
            }
        }
    };
    layout("Check the dose", Some(page), page.training, body)
}
