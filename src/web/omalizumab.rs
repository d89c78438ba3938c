//! The course page of an omalizumab course: its plan (the label's dose, interval and syringes,
//! the laid dates), what the record says of each injection, the next action from the same
//! decision `next` uses, and the recording forms that apply to it (give, observe, a systemic
//! reaction, defer, a physician's review, note, correct), each through the ward as the CLI's
//! `omalizumab give`, `observe`, `react`... record it. No vial, scan or dose-step control: its
//! injections are not allergen doses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::course::{Errors, Fields, FormKind};
use super::forms::{field, parse_event};
use super::pages::{self, Page, layout};
use super::screens::{FormState, GRADES, Notice, banner, checkbox, input, notice, select};
use super::{App, failure};
use crate::course::omalizumab::OmalizumabAction;
use crate::course::{EventKind, voided};
use crate::policy::omalizumab_course::{CourseRules, LAID_WEEKS, NOT_RECALCULATED, OmalizumabNext};
use crate::render::course as say;
use crate::render::omalizumab as oma;
use crate::ward::omalizumab::{OmalizumabRecord, OmalizumabView};
use crate::ward::view::PatientRecord;
use crate::ward::{Actor, Record, Role, Ward, WardError};

/// Renders an omalizumab course's page as it is now, with a notice and, for a form sent back,
/// its values and errors.
#[allow(clippy::too_many_arguments)]
pub(super) fn show(
    app: &App,
    ward: &mut Ward,
    actor: &Actor,
    token: &str,
    id: i64,
    notice: Option<Notice>,
    open: Option<(FormKind, &Fields, &Errors)>,
    status: StatusCode,
) -> Response {
    let now = app.clock.now();
    let built = (|| -> Result<_, WardError> {
        let v = ward.omalizumab_view(id, now)?;
        let rules = v.course.rules()?;
        let patient = ward.patient(&v.course.record.patient_id)?;
        let lookalikes = ward.lookalikes(&patient)?;
        Ok((v, rules, patient, lookalikes))
    })();
    let (v, rules, patient, lookalikes) = match built {
        Ok(x) => x,
        Err(e) => return failure(&e),
    };
    let page = Page {
        actor,
        csrf: ward.csrf_token(token),
        training: ward.training(),
        now,
        clock: app.clock.settable(),
    };
    let screen = Screen {
        page: &page,
        view: &v,
        rules: &rules,
        patient: &patient,
        lookalikes: &lookalikes,
        notice,
        open,
    };
    (status, course(&screen)).into_response()
}

/// A form sent from an omalizumab course's page (its CSRF token and the entry it was shown on
/// already read): parsed, recorded through the ward, or shown again with the refusal.
#[allow(clippy::too_many_arguments)]
pub(super) fn submit(
    app: &App,
    ward: &mut Ward,
    actor: &Actor,
    token: &str,
    id: i64,
    kind: FormKind,
    f: &Fields,
    seen: u64,
) -> Response {
    let now = app.clock.now();
    let parsed = match kind {
        FormKind::AddVial | FormKind::DiscardVial => {
            return (
                StatusCode::NOT_FOUND,
                pages::message(
                    "Not done",
                    "an omalizumab course has no vials: its injections are not allergen doses; nothing was recorded",
                ),
            )
                .into_response();
        }
        FormKind::Give => parse_give(f),
        other => match parse_event(other, f) {
            Ok(Record::Event(k)) => Ok(OmalizumabRecord::Event(k)),
            Ok(_) => Err(Errors::new()),
            Err(e) => Err(e),
        },
    };
    let what = match parsed {
        Ok(w) => w,
        Err(errors) => {
            return show(
                app,
                ward,
                actor,
                token,
                id,
                Some(Notice::Fields),
                Some((kind, f, &errors)),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match ward.record_omalizumab_if(actor, id, now, now, what, Some(seen)) {
        Ok((event, _)) => {
            Redirect::to(&format!("/course/{id}?done={}", event.event.seq)).into_response()
        }
        Err(e) => refused(app, ward, actor, token, id, kind, f, e),
    }
}

/// The give form, parsed: the patient's ID as read from the wristband, the sites, and a
/// physician's reason for a late injection (sent on as typed: the ward refuses it from anyone
/// but a physician, and checks every text).
fn parse_give(f: &Fields) -> Result<OmalizumabRecord, Errors> {
    let some = |name: &str| Some(field(f, name).to_string()).filter(|s| !s.is_empty());
    let Some(patient) = some("patient") else {
        let mut e = Errors::new();
        e.insert(
            "patient".into(),
            "The patient's ID is required: read it from the wristband".into(),
        );
        return Err(e);
    };
    Ok(OmalizumabRecord::Give {
        patient,
        site: some("site"),
        accept_late: some("accept_late"),
    })
}

/// A refusal by the ward: the page again, the refusal in plain words above the form (a stale
/// form is shown afresh, on the course as it is now).
#[allow(clippy::too_many_arguments)]
fn refused(
    app: &App,
    ward: &mut Ward,
    actor: &Actor,
    token: &str,
    id: i64,
    kind: FormKind,
    f: &Fields,
    e: WardError,
) -> Response {
    let empty = Errors::new();
    let (notice, open, status) = match e {
        e @ WardError::Stale { .. } => (Notice::Stale(e.to_string()), None, StatusCode::CONFLICT),
        // The course's own checks (its date, a hold, the observation's minutes, a late
        // injection): the entry cannot be recorded as it stands.
        WardError::NotStarted(m) => (
            Notice::Refused(
                m.strip_prefix("not recorded: ")
                    .unwrap_or(&m)
                    .replace("--accept-late REASON", "the late injection's reason"),
            ),
            Some((kind, f, &empty)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        WardError::WrongPatient(m) => {
            let mut errors = Errors::new();
            errors.insert("patient".into(), m.clone());
            return show(
                app,
                ward,
                actor,
                token,
                id,
                Some(Notice::Refused(m)),
                Some((kind, f, &errors)),
                StatusCode::FORBIDDEN,
            );
        }
        WardError::Forbidden(m) | WardError::Auth(m) => (
            Notice::Refused(m),
            Some((kind, f, &empty)),
            StatusCode::FORBIDDEN,
        ),
        e @ (WardError::Input { .. } | WardError::Patient(_)) => (
            Notice::Refused(super::said(&e)),
            Some((kind, f, &empty)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        other => return failure(&other),
    };
    show(app, ward, actor, token, id, Some(notice), open, status)
}

/// An omalizumab course's protocol, as the CLI's `course pdf` makes it.
pub(super) fn protocol_pdf(app: &App, ward: &mut Ward, id: i64) -> Response {
    let data = match ward.omalizumab_protocol(id, app.clock.now()) {
        Ok(d) => d,
        Err(e) => return failure(&e),
    };
    let doc = oma::from_data(&data);
    let made = crate::render::pdf::Fonts::for_texts(&[doc.who.name.as_str()])
        .and_then(|fonts| oma::render(&doc, &fonts, crate::render::pdf::Paper::A4));
    match made {
        Ok((bytes, _)) => super::course::pdf_response(bytes, &format!("course-{id}.pdf")),
        Err(e) => failure(&WardError::Data(e.to_string())),
    }
}

/// Everything the page shows.
struct Screen<'a> {
    page: &'a Page<'a>,
    view: &'a OmalizumabView,
    rules: &'a CourseRules,
    patient: &'a PatientRecord,
    lookalikes: &'a [PatientRecord],
    notice: Option<Notice>,
    open: Option<(FormKind, &'a Fields, &'a Errors)>,
}

/// One form of the page, folded unless it is the main one or was sent back; it carries the
/// CSRF token and the course's last entry (a form shown on an older state is refused).
fn section(
    s: &Screen<'_>,
    kind: FormKind,
    fs: &FormState<'_>,
    title: &str,
    open: bool,
    submit: &str,
    body: Markup,
) -> Markup {
    let id = s.view.course.record.id;
    html! {
        details.form open[open || fs.is_open()] id=(format!("form-{}", kind.segment())) {
            summary { h2 { (title) } }
            form method="post" action=(format!("/course/{id}/{}", kind.segment())) novalidate {
                input type="hidden" name="csrf" value=(s.page.csrf);
                input type="hidden" name="seen" value=(s.view.events.last().map_or(0, |e| e.event.seq));
                (body)
                p { button type="submit" { (submit) } }
            }
        }
    }
}

/// The page.
fn course(s: &Screen<'_>) -> Markup {
    let v = s.view;
    let plan = &v.course.plan;
    let id = v.course.record.id;
    let physician = s.page.actor.role == Role::Physician;
    let action = &v.decision.action;
    let held = matches!(
        action,
        OmalizumabAction::DoNotGive { .. } | OmalizumabAction::Stopped { .. }
    );
    let injection = match action {
        OmalizumabAction::Next(OmalizumabNext::Injection {
            number,
            not_before,
            late,
            observation_min,
            ..
        }) => Some((*number, *not_before, late.as_ref(), *observation_min)),
        _ => None,
    };
    let body = html! {
        (banner(s.patient, s.lookalikes, s.page.now))
        h1.course { "Omalizumab course " (id) " · " (plan.table) }
        p { a href=(super::patient::href(&s.patient.id)) { "This patient's doses today (every course)" } }
        p.warning { "⚠ " (oma::sentence(NOT_RECALCULATED)) }
        @if let Some(c) = &plan.low_ige_condition { p.warning { "⚠ Condition: " (c) } }
        (notice(&s.notice))
        section class=(format!("decision {}", oma::decision_class(&v.decision))) aria-label="Next" {
            p.headline { (oma::headline(&v.decision)) }
            ul { @for line in oma::details(&v.decision) { li { (line) } } }
        }
        @if let Some((number, false, late, observation_min)) = injection {
            @if late.is_some() && !physician {
                p.notice.bad { "✖ LATE: only a physician gives this injection, with the reason. Ask a physician to log in." }
            } @else {
                @let fs = FormState::of(FormKind::Give, s.open);
                (section(s, FormKind::Give, &fs, "Give this injection", true, "Record the injection", html! {
                    p.big { "Omalizumab injection " (number) ": " (plan.dose_mg) " mg (" (oma::syringes(&plan.syringes)) ")" }
                    p.help { "Observe the patient " (observation_min) " min after it." }
                    (input(&fs, "patient", "Patient ID (read it from the wristband)", "text", "", None))
                    (input(&fs, "site", "Injection sites", "text", "", Some("e.g. both upper arms; optional")))
                    @if late.is_some() {
                        (input(&fs, "accept_late", "Physician: give it late, because", "text", "", Some("required: the labels give no rule for a late injection")))
                    }
                }))
            }
        }
        @if matches!(action, OmalizumabAction::Observe { .. }) {
            @let fs = FormState::of(FormKind::Observe, s.open);
            (section(s, FormKind::Observe, &fs, "End the observation", true, "Record the end of the observation", html! {
                (input(&fs, "local_mm", "Local reaction at the injection sites, mm (0 for none)", "number", "", None))
                (checkbox(&fs, "not_assessable", "The local reaction cannot be assessed"))
                (input(&fs, "early", "Ends before its minimum because… (only if the patient leaves early)", "text", "", None))
            }))
        }
        @if held && !physician {
            p.notice.bad { "✖ DO NOT GIVE. Only a physician can review this course: ask a physician to log in and record the review." }
        }
        @if physician {
            @let fs = FormState::of(FormKind::Review, s.open);
            (section(s, FormKind::Review, &fs, "Physician's review", held, "Record the review", html! {
                (select(&fs, "decision", "Decision", &[
                    ("", "(choose)"),
                    ("continue", "continue the course"),
                    ("stop", "stop the course"),
                ], ""))
                (input(&fs, "reason", "Reason (required to resume a stopped course)", "text", "", None))
            }))
        }
        @if !v.state.given.is_empty() {
            @let fs = FormState::of(FormKind::React, s.open);
            (section(s, FormKind::React, &fs, "Record a systemic reaction", false, "Record the reaction", html! {
                p.help { "A systemic reaction holds every course of this patient until a physician reviews it." }
                input type="hidden" name="type" value="systemic";
                @let grades: Vec<(&str, &str)> = std::iter::once(("", "(choose)")).chain(GRADES.iter().map(|g| (*g, *g))).collect();
                (select(&fs, "grade", "WAO grade and epinephrine suffix (a ≤5 min, b >5–10, c >10–20, d >20, z none)", &grades, ""))
                (input(&fs, "onset_min", "Onset, minutes after the injection", "number", "", None))
                (input(&fs, "symptom", "First symptom", "text", "", None))
                (input(&fs, "treatment", "Treatment given", "text", "", None))
            }))
        }
        @if injection.is_some() {
            @let fs = FormState::of(FormKind::Defer, s.open);
            (section(s, FormKind::Defer, &fs, "Defer the injection", false, "Defer the injection", html! {
                (input(&fs, "reason", "Reason", "text", "", None))
            }))
        }
        @let fs = FormState::of(FormKind::Note, s.open);
        (section(s, FormKind::Note, &fs, "Add a note", false, "Add the note", html! {
            (input(&fs, "text", "Note", "text", "", None))
        }))
        @if physician && !v.events.is_empty() {
            @let fs = FormState::of(FormKind::Correct, s.open);
            @let options = correctable(v);
            @let refs: Vec<(&str, &str)> = options.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            (section(s, FormKind::Correct, &fs, "Correct an entry", false, "Record the correction", html! {
                (select(&fs, "event", "Entry that was wrong", &refs, ""))
                (input(&fs, "reason", "Why it was wrong", "text", "", None))
            }))
        }
        p.print {
            a.button href=(format!("/course/{id}/protocol.pdf")) target="_blank" { "Print this course's protocol (PDF)" }
        }
        h2 { "Plan" }
        dl {
            dt { "Dose" } dd { strong { (oma::dose_line(plan)) } }
            dt { "From" } dd { "pre-treatment total IgE " (plan.total_ige.normalize()) " IU/mL, weight " (plan.weight_kg.normalize()) " kg, age " (plan.age_years) " years at the first injection (label " (plan.label.to_uppercase()) ")" }
            dt { "Source" } dd { (oma::dose_source(plan)) }
            dt { "Injection dates" } dd { (plan.dates.len()) " laid over the first " (LAID_WEEKS) " weeks, from " (plan.dates.first().map(|d| d.to_string()).unwrap_or_default()) }
            dt { "Reminder" } dd { (plan.reminder) }
        }
        p.help { "Not an allergen dose: no vial, dose ladder, step back or lot rule applies." }
        h2 { "Injections" }
        (injections(s))
        h2 { "Rules" }
        ul {
            li { (oma::observation_rule(s.rules)) }
            li { (oma::late_rule(s.rules)) }
        }
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

/// Each laid injection with what the record says of it.
fn injections(s: &Screen<'_>) -> Markup {
    let list = oma::injections(&s.view.course.plan, s.rules, &s.view.events);
    html! {
        table.schedule {
            caption { "The injections of omalizumab course " (s.view.course.record.id) " as laid, with what the record says" }
            thead { tr {
                th scope="col" { "No." } th scope="col" { "Planned" } th scope="col" { "Observe, min" }
                th scope="col" { "Given" } th scope="col" { "Sites" } th scope="col" { "By" }
                th scope="col" { "Observation ended" } th scope="col" { "Reaction" }
            } }
            tbody {
                @for x in &list {
                    tr class=(if x.given_at.is_some() { "given" } else { "due" }) {
                        th scope="row" { (x.number) }
                        td.nowrap { (x.planned.map(|d| d.format("%a %Y-%m-%d").to_string()).unwrap_or_default()) }
                        td { (x.observation_min) }
                        td {
                            @if let Some(g) = x.given_at { "given " (g.format("%Y-%m-%d %H:%M")) } @else { "not given" }
                            @if let Some(r) = &x.accept_late { br; small { "late, accepted by a physician: " (r) } }
                        }
                        td { (x.site.clone().unwrap_or_default()) }
                        td { (x.by.clone().unwrap_or_default()) }
                        td { @if let Some((at, local)) = &x.observed { (at.format("%m-%d %H:%M")) " " (local) } }
                        td { @if let Some(r) = &x.systemic { "systemic " (r) } }
                    }
                }
            }
        }
    }
}

/// The entries a correction may name (newest first): not voided, not a correction.
fn correctable(v: &OmalizumabView) -> Vec<(String, String)> {
    let plain: Vec<crate::course::Event> = v.events.iter().map(|e| e.event.clone()).collect();
    let gone = voided(&plain);
    std::iter::once((String::new(), "(choose)".to_string()))
        .chain(
            v.events
                .iter()
                .rev()
                .filter(|e| !gone.contains(&e.event.seq))
                .filter(|e| !matches!(e.event.kind, EventKind::Correction { .. }))
                .map(|e| {
                    (
                        e.event.seq.to_string(),
                        format!(
                            "#{} {} — {}",
                            e.event.seq,
                            e.event.at.format("%m-%d %H:%M"),
                            say::event(&e.event.kind)
                        ),
                    )
                }),
        )
        .collect()
}
