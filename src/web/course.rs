//! The patient's course page and its forms: give (with its confirmation step), observe, react,
//! defer, note, correct, a physician's review; the protocol and sheet PDFs. Each handler parses
//! the form into the ward's `Record`, with an error next to each bad field, and lets the ward
//! decide and record. A form carries the number of the course's last entry when it was shown:
//! if another entry came meanwhile, it is refused (nothing written) and the page re-shown.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::screens::{self, CourseScreen, Notice};
use super::{App, blocking, failure, pages, session};
use crate::course::{EventKind, LateKind, Proposed, Review, WaoGrade};
use crate::field::Field;
use crate::ward::{Actor, CourseView, Record, Role, Ward, WardError, checklist, text};

/// A submitted form, field by field.
pub type Fields = BTreeMap<String, String>;
/// Errors by field name.
pub type Errors = BTreeMap<String, String>;

/// The forms of the course page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    /// A dose.
    Give,
    /// The end of an observation.
    Observe,
    /// A reaction.
    React,
    /// A deferred dose.
    Defer,
    /// A note.
    Note,
    /// A correction of an entry.
    Correct,
    /// A physician's review.
    Review,
}

impl FormKind {
    /// Its path segment, `/course/{id}/{segment}`.
    pub fn segment(self) -> &'static str {
        match self {
            FormKind::Give => "give",
            FormKind::Observe => "observe",
            FormKind::React => "react",
            FormKind::Defer => "defer",
            FormKind::Note => "note",
            FormKind::Correct => "correct",
            FormKind::Review => "review",
        }
    }

    fn parse(s: &str) -> Option<FormKind> {
        [
            FormKind::Give,
            FormKind::Observe,
            FormKind::React,
            FormKind::Defer,
            FormKind::Note,
            FormKind::Correct,
            FormKind::Review,
        ]
        .into_iter()
        .find(|k| k.segment() == s)
    }
}

fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map_or("", |v| v.trim())
}

/// A required free-text field, cleaned, or an error next to it.
/// The ward's own check of the value (`text::text`), its problem told under the page's label.
fn required(
    f: &Fields,
    name: &str,
    which: Field,
    label: &str,
    errors: &mut Errors,
) -> Option<String> {
    match text::text(which, field(f, name)) {
        Ok(v) => Some(v),
        Err(e) => {
            let why = match (field(f, name), e) {
                ("", _) => format!("{label} is required"),
                (_, WardError::Input { problem, .. }) => format!("{label} {problem}"),
                (_, other) => other.to_string(),
            };
            errors.insert(name.into(), why);
            None
        }
    }
}

/// An optional free-text field.
fn optional(
    f: &Fields,
    name: &str,
    which: Field,
    label: &str,
    errors: &mut Errors,
) -> Option<String> {
    if field(f, name).is_empty() {
        return None;
    }
    required(f, name, which, label, errors)
}

/// A whole number in `range`, or an error next to it.
fn number(
    f: &Fields,
    name: &str,
    label: &str,
    range: std::ops::RangeInclusive<u32>,
    errors: &mut Errors,
) -> Option<u32> {
    let v = field(f, name);
    if v.is_empty() {
        errors.insert(name.into(), format!("{label} is required"));
        return None;
    }
    match v.parse::<u32>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            errors.insert(
                name.into(),
                format!(
                    "{label}: {v:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

/// The give form, parsed: the record, or the errors by field. `questions` are the course's
/// pre-injection questions; every one must be answered, and a dose goes only with every "no".
fn parse_give(f: &Fields, v: &CourseView, actor: &Actor) -> Result<Record, Errors> {
    let mut e = Errors::new();
    let patient = required(
        f,
        "patient",
        Field::PatientCheck,
        "The patient's ID",
        &mut e,
    );
    let step = match field(f, "step").parse::<usize>() {
        Ok(s) if (1..=crate::course::MAX_STEP).contains(&s) => Some(s),
        _ => {
            e.insert(
                "step".into(),
                "the step is not a step of this course".into(),
            );
            None
        }
    };
    let volume = text::volume(field(f, "volume"))
        .map_err(|why| e.insert("volume".into(), format!("The volume: {why}")))
        .ok();
    let pef = match field(f, "pef") {
        "" => {
            e.insert(
                "pef".into(),
                "the pre-dose PEF/FEV1 is required: a check that cannot be answered blocks the dose"
                    .into(),
            );
            None
        }
        p => text::pef(p)
            .map_err(|why| e.insert("pef".into(), format!("PEF/FEV1: {why}")))
            .ok(),
    };
    // The ward's checklist decides; the page only reads the radio buttons.
    let questions = v.pre_injection_questions();
    let screen_ok = match checklist::cleared(&questions, |q| {
        match field(f, &screens::question_field(&q.id)) {
            "no" => Some(false),
            "yes" => Some(true),
            _ => None,
        }
    }) {
        Ok(()) => true,
        Err(not) => {
            for n in not {
                e.insert(screens::question_field(&n.id), n.why);
            }
            false
        }
    };
    let lot = optional(f, "lot", Field::Lot, "The lot", &mut e);
    let site = match field(f, "site") {
        "" => None,
        s @ ("left" | "right") => Some(s.to_string()),
        _ => {
            e.insert("site".into(), "the arm is left or right".into());
            None
        }
    };
    // Only a physician's form has the field; the ward refuses a nurse's override anyway.
    let override_reason = match actor.role {
        Role::Physician => optional(
            f,
            "override",
            Field::Override,
            "The override reason",
            &mut e,
        ),
        _ => None,
    };
    match (patient, step, volume, e.is_empty()) {
        (Some(patient), Some(step), Some(volume_ml), true) => Ok(Record::Give {
            proposed: Proposed {
                step,
                volume_ml,
                pef_percent: pef,
                screen_ok,
                override_reason,
            },
            lot,
            site,
            patient,
            checked_by: None,
        }),
        _ => Err(e),
    }
}

/// Any other form, parsed.
fn parse_event(kind: FormKind, f: &Fields) -> Result<Record, Errors> {
    let mut e = Errors::new();
    let event = match kind {
        FormKind::Give => None,
        FormKind::Observe => {
            let not_assessable = field(f, "not_assessable") == "yes";
            let local_mm = match (field(f, "local_mm"), not_assessable) {
                ("", true) => None,
                ("", false) => {
                    e.insert(
                        "local_mm".into(),
                        "the local reaction's size in mm is required, or tick \"not assessable\""
                            .into(),
                    );
                    None
                }
                (_, true) => {
                    e.insert(
                        "local_mm".into(),
                        "give a size or tick \"not assessable\", not both".into(),
                    );
                    None
                }
                (_, false) => number(
                    f,
                    "local_mm",
                    "The local reaction",
                    0..=crate::course::MAX_REACTION_MM,
                    &mut e,
                ),
            };
            let early_reason = optional(f, "early", Field::Early, "Why it ends early", &mut e);
            Some(EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                early_reason,
            })
        }
        FormKind::React => match field(f, "type") {
            "systemic" => {
                let grade = match field(f, "grade") {
                    "" => {
                        e.insert(
                            "grade".into(),
                            "the WAO grade with its suffix is required".into(),
                        );
                        None
                    }
                    g => g
                        .parse::<WaoGrade>()
                        .map_err(|why| e.insert("grade".into(), why))
                        .ok(),
                };
                let onset = number(
                    f,
                    "onset_min",
                    "The onset",
                    0..=crate::course::MAX_ONSET_MIN,
                    &mut e,
                );
                let symptom = required(f, "symptom", Field::Symptom, "The first symptom", &mut e);
                let treatment = optional(f, "treatment", Field::Treatment, "The treatment", &mut e);
                match (grade, onset, symptom) {
                    (Some(grade), Some(onset_min), Some(symptom)) => {
                        Some(EventKind::SystemicReaction {
                            grade,
                            onset_min,
                            symptom,
                            treatment,
                        })
                    }
                    _ => None,
                }
            }
            "late-local" => number(
                f,
                "late_mm",
                "The late local reaction",
                0..=crate::course::MAX_REACTION_MM,
                &mut e,
            )
            .map(|mm| EventKind::LateLocalReaction { mm }),
            "late" => {
                let late = serde_json::from_value::<LateKind>(serde_json::Value::String(
                    field(f, "late_kind").to_string(),
                ))
                .map_err(|_| {
                    e.insert(
                        "late_kind".into(),
                        format!("choose the late reaction's kind ({})", LateKind::NAMES),
                    )
                })
                .ok();
                let symptom = required(f, "symptom", Field::Symptom, "What was seen", &mut e);
                match (late, symptom) {
                    (Some(kind), Some(symptom)) => Some(EventKind::LateReaction { kind, symptom }),
                    _ => None,
                }
            }
            _ => {
                e.insert(
                    "type".into(),
                    "choose the reaction: systemic, late local or another late reaction".into(),
                );
                None
            }
        },
        FormKind::Defer => required(f, "reason", Field::Reason, "The reason", &mut e)
            .map(|reason| EventKind::DoseDeferred { reason }),
        FormKind::Note => required(f, "text", Field::Note, "The note", &mut e)
            .map(|text| EventKind::Note { text }),
        FormKind::Correct => {
            let corrects = match field(f, "event").parse::<u64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    e.insert("event".into(), "choose the entry to correct".into());
                    None
                }
            };
            let reason = required(f, "reason", Field::Reason, "The reason", &mut e);
            match (corrects, reason) {
                (Some(corrects), Some(reason)) => Some(EventKind::Correction { corrects, reason }),
                _ => None,
            }
        }
        FormKind::Review => {
            let decision = match field(f, "decision") {
                "step-back" => number(
                    f,
                    "steps",
                    "The steps back",
                    1..=crate::course::MAX_STEPS_BACK,
                    &mut e,
                )
                .map(|steps| Review::StepBack { steps }),
                d => d
                    .parse::<Review>()
                    .map_err(|_| e.insert("decision".into(), "choose a decision".into()))
                    .ok(),
            };
            let reason = optional(f, "reason", Field::Reason, "The reason", &mut e);
            decision.map(|decision| EventKind::PhysicianReview { decision, reason })
        }
    };
    match (event, e.is_empty()) {
        (Some(k), true) => Ok(Record::Event(k)),
        _ => Err(e),
    }
}

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<u64>,
}

/// The course page.
pub(super) async fn page(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> Response {
    blocking(app, move |app, ward| {
        let (actor, token) = match session(app, ward, &headers) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        let notice = q.done.map(Notice::Recorded);
        show(app, ward, &actor, &token, id, notice, None, StatusCode::OK)
    })
    .await
}

/// Renders the course page as it is now, with a notice and, for a form sent back, its values
/// and errors.
#[allow(clippy::too_many_arguments)]
fn show(
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
        let v = ward.view(id)?;
        let d = v.decide(now)?;
        let patient = ward.patient(&v.loaded.record.patient_id)?;
        let lookalikes = ward.lookalikes(&patient)?;
        let schedule = v.schedule(now)?;
        Ok((v, d, patient, lookalikes, schedule))
    })();
    let (v, d, patient, lookalikes, schedule) = match built {
        Ok(x) => x,
        Err(e) => return failure(&e),
    };
    let page = pages::Page {
        actor,
        csrf: ward.csrf_token(token),
        training: ward.training(),
        now,
        clock: app.clock.settable(),
    };
    let screen = CourseScreen {
        page: &page,
        view: &v,
        patient: &patient,
        lookalikes: &lookalikes,
        decision: &d,
        schedule: &schedule,
        notice,
        open,
    };
    (status, screens::course(&screen)).into_response()
}

fn seen(f: &Fields) -> Option<u64> {
    field(f, "seen").parse().ok()
}

/// A form sent from the course page.
pub(super) async fn submit(
    State(app): State<Arc<App>>,
    Path((id, form)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let Some(kind) = FormKind::parse(&form) else {
        return (
            StatusCode::NOT_FOUND,
            pages::message("Not found", "no such form"),
        )
            .into_response();
    };
    blocking(app, move |app, ward| {
        let (actor, token) = match session(app, ward, &headers) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        if field(&f, "csrf") != ward.csrf_token(&token) {
            return super::csrf_refused();
        }
        // A form without the number of the entry it was shown on cannot be checked for staleness:
        // refused like a stale one.
        let Some(seen) = seen(&f) else {
            return show(
                app,
                ward,
                &actor,
                &token,
                id,
                Some(Notice::Stale(
                    "the form did not say which state of the course it was filled in on: nothing was recorded; here is the course now".into(),
                )),
                None,
                StatusCode::CONFLICT,
            );
        };
        let now = app.clock.now();
        let parsed = match kind {
            FormKind::Give => match ward.view(id) {
                Ok(v) => parse_give(&f, &v, &actor),
                Err(e) => return failure(&e),
            },
            other => parse_event(other, &f),
        };
        let what = match parsed {
            Ok(w) => w,
            Err(errors) => {
                return show(
                    app,
                    ward,
                    &actor,
                    &token,
                    id,
                    Some(Notice::Fields),
                    Some((kind, &f, &errors)),
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
        };
        // The dose is confirmed on a second screen before it is saved.
        if kind == FormKind::Give && field(&f, "confirm") != "yes" {
            let preview = ward.preview(&actor, id, now, now, what, Some(seen));
            return match preview {
                Ok(p) => {
                    let shown = (|| -> Result<_, WardError> {
                        let v = ward.view(id)?;
                        let patient = ward.patient(&v.loaded.record.patient_id)?;
                        let lookalikes = ward.lookalikes(&patient)?;
                        let second = ward.settings()?.second_check;
                        Ok((v, patient, lookalikes, second))
                    })();
                    let (v, patient, lookalikes, second) = match shown {
                        Ok(x) => x,
                        Err(e) => return failure(&e),
                    };
                    let page = pages::Page {
                        actor: &actor,
                        csrf: ward.csrf_token(&token),
                        training: ward.training(),
                        now,
                        clock: app.clock.settable(),
                    };
                    let shown = screens::Confirm {
                        page: &page,
                        view: &v,
                        patient: &patient,
                        lookalikes: &lookalikes,
                        preview: &p,
                        fields: &f,
                        second_check: second,
                    };
                    screens::confirm_give(&shown).into_response()
                }
                Err(e) => refused(app, ward, &actor, &token, id, kind, &f, e),
            };
        }
        // The second person who checked the dose on the confirmation screen, authenticated here;
        // their password is never sent back in a page.
        let checker = field(&f, "checker");
        let what = match what {
            Record::Give {
                proposed,
                lot,
                site,
                patient,
                ..
            } if !checker.is_empty() => {
                let secret = f.get("checker_password").map_or("", String::as_str);
                match ward.check_person(checker, secret, &app.os_user, now) {
                    Ok(c) => Record::Give {
                        proposed,
                        lot,
                        site,
                        patient,
                        checked_by: Some(c),
                    },
                    Err(e) => {
                        let mut kept = f.clone();
                        kept.remove("checker_password");
                        return refused(app, ward, &actor, &token, id, kind, &kept, e);
                    }
                }
            }
            other => other,
        };
        match ward.record_if(&actor, id, now, now, what, Some(seen)) {
            Ok(r) => Redirect::to(&format!("/course/{id}?done={}", r.event.event.seq)).into_response(),
            Err(e) => refused(app, ward, &actor, &token, id, kind, &f, e),
        }
    })
    .await
}

/// A refusal by the ward: the course page again, the refusal in plain words above the form (a
/// stale form is shown afresh, on the course as it is now).
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
        WardError::Refused(r) => (
            Notice::Refused(crate::render::course::refusal(
                &r,
                crate::render::course::Voice::Page,
            )),
            Some((kind, f, &empty)),
            StatusCode::FORBIDDEN,
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
        WardError::Forbidden(m) | WardError::Data(m) | WardError::Auth(m) => (
            Notice::Refused(m),
            Some((kind, f, &empty)),
            StatusCode::FORBIDDEN,
        ),
        e @ WardError::SecondCheckNeeded => (
            Notice::Refused(super::said(&e)),
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

/// A course's protocol, as the CLI's `course pdf` makes it.
pub(super) async fn protocol_pdf(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    blocking(app, move |app, ward| {
        if let Err(r) = session(app, ward, &headers) {
            return *r;
        }
        let protocol = match ward.course_protocol(id, app.clock.now()) {
            Ok(p) => p,
            Err(e) => return failure(&e),
        };
        let doc = crate::render::protocol::from_data(&protocol);
        let bytes = crate::render::pdf::Fonts::for_texts(&[doc.who.name.as_str()])
            .and_then(|fonts| crate::render::protocol::render(&doc, &fonts, paper()));
        pdf(bytes, &format!("course-{id}.pdf"))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct SheetDate {
    date: Option<String>,
}

/// The day's sheet, as the CLI's `sheet --pdf` makes it.
pub(super) async fn sheet_pdf(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<SheetDate>,
) -> Response {
    blocking(app, move |app, ward| {
        if let Err(r) = session(app, ward, &headers) {
            return *r;
        }
        let now = app.clock.now();
        let date = match q.date.as_deref().map(crate::when::parse_date) {
            None => now.date(),
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                return (
                    StatusCode::BAD_REQUEST,
                    pages::message("Not done", &format!("the sheet's day: {e}")),
                )
                    .into_response();
            }
        };
        let lines = match ward.sheet(date, now) {
            Ok(l) => l,
            Err(e) => return failure(&e),
        };
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        let bytes = crate::render::pdf::Fonts::for_texts(&names).and_then(|fonts| {
            crate::render::sheet::pdf(&lines, date, now, ward.training(), &fonts, paper())
        });
        pdf(bytes, &format!("sheet-{date}.pdf"))
    })
    .await
}

/// A4, the CLI's default paper.
fn paper() -> crate::render::pdf::Paper {
    crate::render::pdf::Paper::A4
}

fn pdf(
    bytes: Result<(Vec<u8>, Vec<String>), crate::render::pdf::PdfError>,
    name: &str,
) -> Response {
    match bytes {
        Ok((bytes, _)) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{name}\""),
                ),
                // A patient document: not kept in a shared browser's cache.
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => failure(&WardError::Data(e.to_string())),
    }
}

#[derive(Deserialize)]
pub(super) struct SetClock {
    csrf: String,
    at: String,
}

/// Sets a training record's clock (refused for a patient record).
pub(super) async fn set_clock(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<SetClock>,
) -> Response {
    blocking(app, move |app, ward| {
        let (_, token) = match session(app, ward, &headers) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        if f.csrf != ward.csrf_token(&token) {
            return super::csrf_refused();
        }
        // Held to the years ritplan accepts: a clock set past them would overflow every date
        // computed from it.
        let at = crate::when::parse_datetime(&f.at);
        match at {
            Ok(at) if ward.training() && app.clock.set(at) => Redirect::to("/").into_response(),
            Ok(_) => (
                StatusCode::FORBIDDEN,
                pages::message(
                    "Not done",
                    "only a training record's clock can be set; a patient record runs on the system clock",
                ),
            )
                .into_response(),
            Err(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::message("Not done", &format!("the clock: {e}")),
            )
                .into_response(),
        }
    })
    .await
}
