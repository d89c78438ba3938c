//! The patient's screen: the day's doses of every active course of one patient (several
//! extracts in one visit), one after the other, each with its vial, arm and earliest time, as
//! the ward lays them (`Ward::patient_day`); then the patient's other active courses.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::pages::{Page, layout};
use super::screens::banner;
use super::{App, blocking, failure, session};
use crate::render::course as say;
use crate::render::omalizumab_rows as om;
use crate::ward::WardError;
use crate::ward::view::{Arm, PatientDay};

#[derive(Deserialize)]
pub(super) struct Which {
    id: String,
}

/// `/patient?id=…`.
pub(super) async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<Which>,
) -> Response {
    blocking(app, move |app, ward| {
        let (actor, token) = match session(app, ward, &headers) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        let now = app.clock.now();
        let built = (|| -> Result<_, WardError> {
            let day = ward.patient_day(&q.id, now)?;
            let lookalikes = ward.lookalikes(&day.patient)?;
            Ok((day, lookalikes))
        })();
        let (day, lookalikes) = match built {
            Ok(x) => x,
            Err(e) => return failure(&e),
        };
        let page = Page {
            actor: &actor,
            csrf: ward.csrf_token(&token),
            training: ward.training(),
            now,
            clock: app.clock.settable(),
        };
        screen(&page, &day, &lookalikes).into_response()
    })
    .await
}

/// A patient's page link (the id percent-encoded).
pub fn href(id: &str) -> String {
    format!("/patient?id={}", encode(id))
}

/// The address of the patient's wristband label (PDF).
pub fn label_href(id: &str) -> String {
    format!("/patient/label.pdf?id={}", encode(id))
}

/// A patient ID in an address's query.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn arm(a: &Arm) -> String {
    match a {
        Arm::Either => "either arm".to_string(),
        Arm::OtherThan {
            course,
            given: Some(g),
        } => format!("not the {g} arm: course {course}'s dose went there today"),
        Arm::OtherThan {
            course,
            given: None,
        } => format!("the other arm than course {course}'s dose"),
    }
}

/// The patient's screen.
pub fn screen(
    page: &Page<'_>,
    day: &PatientDay,
    lookalikes: &[crate::ward::view::PatientRecord],
) -> Markup {
    let body = html! {
        (banner(&day.patient, lookalikes, page.now))
        h1 { "Today: " (day.patient.name) }
        @if day.doses.is_empty() {
            @if day.omalizumab.is_empty() {
                p { "No dose is due today." }
            } @else {
                p { "No allergen dose is due today." }
            }
        } @else {
            h2 { "Doses today, in this order" }
            @if let Some((min, source)) = &day.between_extracts {
                p.help { "Two extracts at least " (min) " min apart, in alternating arms (" (source) ")." }
            }
            ol.visit {
                @for (n, d) in day.doses.iter().enumerate() {
                    li {
                        h3 {
                            (n + 1) ". " a href=(format!("/course/{}", d.course.id)) { "Course " (d.course.id) } " · " (d.course.template.name)
                        }
                        dl.visit {
                            dt { "Earliest" }
                            dd.big {
                                @if d.at <= page.now { "now (" (d.at.format("%H:%M")) ")" } @else { "at " (d.at.format("%H:%M")) }
                                @if let Some((c, t)) = d.after { " — after course " (c) " at " (t.format("%H:%M")) }
                            }
                            @if let Some(x) = &d.course.decision.dosing {
                                dt { "Dose and vial" } dd.big { (say::dosing(x, &d.course.template)) }
                            }
                            dt { "Arm" } dd { (arm(&d.arm)) }
                        }
                    }
                }
            }
        }
        @if !day.omalizumab.is_empty() {
            h2 { "Omalizumab" }
            ul.omalizumab {
                @for c in &day.omalizumab {
                    li {
                        a href=(format!("/course/{}", c.id)) { "Course " (c.id) } " · omalizumab · "
                        (c.given) " injection" @if c.given != 1 { "s" } " given: "
                        @if c.due_today { strong.big { (om::headline(&c.decision)) } } @else { strong { (om::headline(&c.decision)) } }
                        span.help { (c.decision.note) }
                    }
                }
            }
        }
        @if !day.rest.is_empty() {
            h2 { "Other active courses" }
            ul {
                @for c in &day.rest {
                    li {
                        a href=(format!("/course/{}", c.id)) { "Course " (c.id) } " · " (c.template.name) ": "
                        strong { (say::headline(&c.decision, &c.template)) }
                    }
                }
            }
        }
        p { a href="/" { "Back to the board" } }
    };
    layout(&day.patient.name, Some(page), page.training, body)
}
