//! The patient's course page and its forms: give (with its confirmation step), observe, react,
//! defer, note, correct, a physician's review; the protocol and sheet PDFs. Each handler parses
//! the form into the ward's `Record`, with an error next to each bad field, and lets the ward
//! decide and record. A form carries the number of the course's last entry when it was shown:
//! if another entry came meanwhile, it is refused (nothing written) and the page re-shown.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub use super::forms::{Errors, Fields, FormKind};
use super::forms::{field, parse_event, parse_give};
use super::screens::{self, CourseScreen, Notice};
use super::{App, blocking, failure, pages, session};
use crate::ward::{Actor, Record, Ward, WardError};

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<u64>,
    /// A vial just added (its code, shown large).
    vial: Option<String>,
    /// A vial just discarded.
    discarded: Option<String>,
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
        let now = app.clock.now();
        // A vial named in the address is shown only if it is this course's (the address is
        // the browser's, not the record's).
        let this_course = |ward: &mut Ward, code: &Option<String>| {
            code.as_deref()
                .and_then(|c| ward.vial(c, now.date()).ok())
                .filter(|v| v.course == id)
        };
        let notice = match (
            q.done,
            this_course(ward, &q.vial),
            this_course(ward, &q.discarded),
        ) {
            (Some(n), _, _) => Some(Notice::Recorded(n)),
            (None, Some(v), _) => Some(Notice::VialAdded(Box::new(v))),
            (None, None, Some(v)) => Some(Notice::VialDiscarded(Box::new(v))),
            (None, None, None) => None,
        };
        show(app, ward, &actor, &token, id, notice, None, StatusCode::OK)
    })
    .await
}

/// Renders the course page as it is now, with a notice and, for a form sent back, its values
/// and errors.
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
    // An omalizumab course has a page of its own (no dose steps, no vials).
    if is_omalizumab(ward, id) {
        return super::omalizumab::show(app, ward, actor, token, id, notice, open, status);
    }
    let now = app.clock.now();
    let built = (|| -> Result<_, WardError> {
        let v = ward.view(id)?;
        let d = v.decide(now)?;
        let patient = ward.patient(&v.loaded.record.patient_id)?;
        let lookalikes = ward.lookalikes(&patient)?;
        let schedule = v.schedule(now)?;
        let vials = ward.vials(Some(id), now.date())?;
        let follow_ups = ward.follow_ups(&patient.id)?;
        Ok((v, d, patient, lookalikes, schedule, vials, follow_ups))
    })();
    let (v, d, patient, lookalikes, schedule, vials, follow_ups) = match built {
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
        vials: &vials,
        follow_ups: &follow_ups,
        notice,
        open,
    };
    (status, screens::course(&screen)).into_response()
}

/// Whether course `id` is an omalizumab course (an unknown one is not: its own page says so).
fn is_omalizumab(ward: &Ward, id: i64) -> bool {
    matches!(
        ward.course_kind(id),
        Ok(crate::ward::CourseKind::Omalizumab)
    )
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
        if !ward.csrf_matches(&token, field(&f, "csrf")) {
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
        if is_omalizumab(ward, id) {
            return super::omalizumab::submit(app, ward, &actor, &token, id, kind, &f, seen);
        }
        let now = app.clock.now();
        if matches!(kind, FormKind::AddVial | FormKind::DiscardVial) {
            return super::vials::submit(app, ward, &actor, &token, id, kind, &f, seen);
        }
        if kind == FormKind::FollowUp {
            return super::followup::submit(app, ward, &actor, &token, id, &f, seen);
        }
        // The "check the scans" step: the give form's first submit button, so that the Enter a
        // keyboard-wedge scanner sends after a code checks the scans and shows the form again
        // (focus on the next field) instead of sending a half-filled dose.
        if kind == FormKind::Give && !field(&f, "check").is_empty() {
            let scan = |name: &str| Some(field(&f, name)).filter(|s| !s.is_empty());
            return match ward.check_scans(&actor, id, scan("scan_patient"), scan("scan_vial"), now)
            {
                Ok(c) => {
                    let mut kept = f.clone();
                    kept.remove("check");
                    show(
                        app,
                        ward,
                        &actor,
                        &token,
                        id,
                        Some(Notice::Scanned(scans_checked(&c))),
                        Some((kind, &kept, &Errors::new())),
                        StatusCode::OK,
                    )
                }
                Err(e) => refused(app, ward, &actor, &token, id, kind, &f, e),
            };
        }
        let parsed = match kind {
            FormKind::Give => match ward.view(id) {
                Ok(v) => parse_give(&f, &v, &actor, now.date()),
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
                Ok(p) => confirm_screen(app, ward, &actor, &token, id, &f, &p),
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
                scan_patient,
                scan_vial,
                ..
            } if !checker.is_empty() => {
                let secret = f.get("checker_password").map_or("", String::as_str);
                match ward.check_person(checker, secret, &app.os_user, now) {
                    Ok(c) => Record::Give {
                        proposed,
                        lot,
                        site,
                        patient,
                        scan_patient,
                        scan_vial,
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

/// What the scans checked, in words.
fn scans_checked(c: &crate::ward::ScansChecked) -> String {
    let mut said = Vec::new();
    if let Some(p) = &c.patient {
        said.push(format!("the wristband is patient {p}, this course's"));
    }
    if let Some(v) = &c.vial {
        said.push(format!(
            "vial {} is {} ({}, {}), lot {}, expires {}: the dose's vial",
            v.code, v.label, v.strength, v.cap, v.lot, v.expires
        ));
    }
    if said.is_empty() {
        "nothing was scanned yet".into()
    } else {
        said.join("; ")
    }
}

/// The give form's second screen: the dose the ward would record, in large type, with the
/// patient's identity, before anything is saved.
fn confirm_screen(
    app: &App,
    ward: &mut Ward,
    actor: &Actor,
    token: &str,
    id: i64,
    f: &Fields,
    p: &crate::ward::Preview,
) -> Response {
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
        actor,
        csrf: ward.csrf_token(token),
        training: ward.training(),
        now: app.clock.now(),
        clock: app.clock.settable(),
    };
    let shown = screens::Confirm {
        page: &page,
        view: &v,
        patient: &patient,
        lookalikes: &lookalikes,
        preview: p,
        fields: f,
        second_check: second,
    };
    screens::confirm_give(&shown).into_response()
}

/// A refusal by the ward: the course page again, the refusal in plain words above the form (a
/// stale form is shown afresh, on the course as it is now).
#[allow(clippy::too_many_arguments)]
pub(super) fn refused(
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
        WardError::Forbidden(m)
        | WardError::Data(m)
        | WardError::Tampered(m)
        | WardError::Auth(m) => (
            Notice::Refused(m),
            Some((kind, f, &empty)),
            StatusCode::FORBIDDEN,
        ),
        e @ WardError::SecondCheckNeeded => (
            Notice::Refused(super::said(&e)),
            Some((kind, f, &empty)),
            StatusCode::FORBIDDEN,
        ),
        e @ (WardError::Input { .. } | WardError::Patient(_) | WardError::Scan(_)) => (
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
        if is_omalizumab(ward, id) {
            return super::omalizumab::protocol_pdf(app, ward, id);
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
        Ok((bytes, _)) => pdf_response(bytes, name),
        Err(e) => failure(&WardError::Data(e.to_string())),
    }
}

/// A PDF served inline, never cached.
pub(super) fn pdf_response(bytes: Vec<u8>, name: &str) -> Response {
    (
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
        .into_response()
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
        if !ward.csrf_matches(&token, &f.csrf) {
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
