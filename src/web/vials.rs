//! Vials and labels on the page: the course page's "Add a vial" and "Discard" forms, and the
//! label PDFs (a course's vial labels, a patient's wristband label) as the CLI's `ritplan label`
//! makes them. The ward checks and records; the page parses the form and says what it returned.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::course::{pdf_response, refused, show};
use super::forms::{Errors, Fields, FormKind, parse_discard, parse_vial, vial_field};
use super::screens::Notice;
use super::{App, blocking, failure, pages, said, session};
use crate::render::label::{self, LabelPatient, LabelSize};
use crate::ward::{Actor, Ward, WardError};

/// The "Add a vial" or a "Discard" form of course `id`, shown when its last entry was `seen`.
/// A form shown on an older state of the course is refused like the other course forms, by
/// the ward inside the write's transaction (a vial added or discarded meanwhile could make this
/// one a duplicate).
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
    let fields_wrong = |ward: &mut Ward, errors: &Errors| {
        show(
            app,
            ward,
            actor,
            token,
            id,
            Some(Notice::Fields),
            Some((kind, f, errors)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let done = match kind {
        FormKind::AddVial => {
            let new = match parse_vial(f) {
                Ok(v) => v,
                Err(errors) => return fields_wrong(ward, &errors),
            };
            ward.add_vial_if(actor, id, new, now, Some(seen))
                .map(|v| format!("/course/{id}?vial={}#vials", v.code))
        }
        _ => {
            let (code, reason) = match parse_discard(f) {
                Ok(x) => x,
                Err(errors) => return fields_wrong(ward, &errors),
            };
            // Only a vial of this course is discarded from its page (the ward checks).
            ward.discard_vial_if(actor, &code, &reason, now, Some((id, seen)))
                .map(|v| format!("/course/{id}?discarded={}#vials", v.code))
        }
    };
    match done {
        Ok(to) => Redirect::to(&to).into_response(),
        // A value the ward refused: its words in the alert and beside the field.
        Err(e @ WardError::Input { .. }) => {
            let WardError::Input { field, .. } = &e else {
                return failure(&e);
            };
            let mut errors = Errors::new();
            if let Some(name) = vial_field(*field) {
                errors.insert(name.into(), said(&e));
            }
            show(
                app,
                ward,
                actor,
                token,
                id,
                Some(Notice::Refused(said(&e))),
                Some((kind, f, &errors)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e @ WardError::NoVial { .. }) => show(
            app,
            ward,
            actor,
            token,
            id,
            Some(Notice::Refused(said(&e))),
            Some((kind, f, &Errors::new())),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => refused(app, ward, actor, token, id, kind, f, e),
    }
}

/// The labels of a course's active vials, as `ritplan label vials` makes them (64 × 32 mm, a
/// page per label); with no active vial, a page saying why instead of an empty PDF.
pub(super) async fn vial_labels_pdf(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    blocking(app, move |app, ward| {
        if let Err(r) = session(app, ward, &headers) {
            return *r;
        }
        let today = app.clock.now().date();
        let l = match ward.vial_labels(id, today) {
            Ok(l) => l,
            Err(e) => return failure(&e),
        };
        if l.active.is_empty() {
            return (
                StatusCode::NOT_FOUND,
                pages::message("No vial label to print", &no_active_vial(&l, today)),
            )
                .into_response();
        }
        let made = crate::render::pdf::Fonts::for_texts(&[l.name.as_str(), l.product.as_str()])
            .map_err(label::LabelError::from)
            .and_then(|fonts| {
                label::vials_pdf(&l, LabelSize::VIAL, ward.training(), &fonts, today)
            });
        match made {
            Ok((bytes, _)) => pdf_response(bytes, &format!("course-{id}-vial-labels.pdf")),
            Err(e) => failure(&WardError::Data(e.to_string())),
        }
    })
    .await
}

/// Why there is no vial label: the course's vials and why none is active, or that it has none.
fn no_active_vial(l: &crate::ward::VialLabels, today: chrono::NaiveDate) -> String {
    let why: Vec<String> = l
        .inactive
        .iter()
        .map(|v| match v.status {
            crate::course::VialStatus::Expired => format!("{} expired on {}", v.code, v.expires),
            _ => format!("{} is {}", v.code, v.status.word()),
        })
        .collect();
    format!(
        "course {} has no active vial on {today}{}: there is no label to print; add a vial with the course page's \"Add a vial\" form",
        l.course,
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        }
    )
}

#[derive(Deserialize)]
pub(super) struct Which {
    id: String,
}

/// The patient's wristband label, as `ritplan label patient` makes it (50 × 25 mm).
pub(super) async fn patient_label_pdf(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<Which>,
) -> Response {
    blocking(app, move |app, ward| {
        if let Err(r) = session(app, ward, &headers) {
            return *r;
        }
        let p = match ward.patient(q.id.trim()) {
            Ok(p) => p,
            Err(e) => return failure(&e),
        };
        let shown = LabelPatient {
            id: &p.id,
            name: &p.name,
            dob: p.dob,
        };
        let made = crate::render::pdf::Fonts::for_texts(&[p.name.as_str()])
            .map_err(label::LabelError::from)
            .and_then(|fonts| {
                label::pdf(
                    &shown,
                    LabelSize::DEFAULT,
                    ward.training(),
                    &fonts,
                    app.clock.now().date(),
                )
            });
        // The file's name from the ID's letters and digits only (a header carries it).
        let name: String =
            p.id.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        match made {
            Ok((bytes, _)) => pdf_response(bytes, &format!("patient-{name}-label.pdf")),
            Err(e) => failure(&WardError::Data(e.to_string())),
        }
    })
    .await
}
