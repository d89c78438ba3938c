//! The course page's follow-up form (physicians and nurses): the ACQ item scores from the
//! clinic's licensed form (no questionnaire wording on the page), FEV1 and the medication used.
//! The ward checks and records on this course, refused as stale like the other course forms.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::course::{refused, show};
use super::forms::{Errors, Fields, FormKind, follow_up_field, parse_follow_up};
use super::screens::Notice;
use super::{App, failure, said};
use crate::ward::{Actor, Ward, WardError};

/// The follow-up form of course `id`, shown when its last entry was `seen`.
#[allow(clippy::too_many_arguments)]
pub(super) fn submit(
    app: &App,
    ward: &mut Ward,
    actor: &Actor,
    token: &str,
    id: i64,
    f: &Fields,
    seen: u64,
) -> Response {
    let kind = FormKind::FollowUp;
    let now = app.clock.now();
    let patient = match ward.load(id) {
        Ok(l) => l.record.patient_id,
        Err(e) => return failure(&e),
    };
    let new = match parse_follow_up(f, &patient, id) {
        Ok(n) => n,
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
    match ward.add_follow_up_if(actor, new, now, Some(seen)) {
        Ok(r) => Redirect::to(&format!(
            "/course/{id}?done={}#follow-ups",
            r.event.event.seq
        ))
        .into_response(),
        // A value the ward refused: its words in the alert and beside the field.
        Err(e @ WardError::Input { .. }) => {
            let mut errors = Errors::new();
            if let WardError::Input { field, .. } = &e
                && let Some(name) = follow_up_field(*field)
            {
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
        Err(e) => refused(app, ward, actor, token, id, kind, f, e),
    }
}
