//! `/audit`: the outcomes audit's pictures and counts (physicians only). The window comes from
//! the query (`from`, `to`: dates, both optional); a bad date or a window that ends before it
//! starts is a 400 that says which. A nurse or an administrator is refused (403) before anything
//! is read. The definitions are the clinic's `audit.toml` when `serve --rules DIR` found one
//! there (as `ritplan audit --rules DIR` does), else the bundled ones; the page says which file
//! it used. A clinic's file with errors is a 500 that shows them located (file, line, column)
//! and no audit: never the bundled definitions in its place.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use maud::{PreEscaped, html};
use serde::Deserialize;

use super::pages::{self, Page};
use super::{App, blocking, failure, session};
use crate::audit::chart::charts;
use crate::audit::rules::AuditRules;
use crate::diag::{Located, SourceText};
use crate::policy::PolicyError;
use crate::render::audit_charts::{Audit, completion_figure, counts, sr_figure};
use crate::ward::{Role, WardError};

#[derive(Deserialize)]
pub(super) struct Window {
    from: Option<String>,
    to: Option<String>,
}

/// A date from the query: empty is absent; a bad one is a 400 naming the field.
fn date(value: Option<&str>, what: &str) -> Result<Option<NaiveDate>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::when::parse_date(v)
            .map(Some)
            .map_err(|e| format!("the audit window's {what}: {e} (write a date as YYYY-MM-DD)")),
    }
}

/// Which definitions the page used: the clinic's file, by its path, or the bundled one.
fn definitions(clinic: Option<&SourceText>) -> String {
    match clinic {
        Some(src) => format!("{} (the clinic's, from serve --rules)", src.name),
        None => format!("bundled ({})", crate::audit::rules::BUNDLED.0),
    }
}

/// The clinic's audit definitions have errors: each shown where it is (file, line, column), and
/// no audit (500: the page's set-up is at fault, not the request).
fn broken_rules(page: &Page<'_>, e: &PolicyError) -> Response {
    let located: Vec<String> = e
        .files
        .iter()
        .flat_map(|(source, diags)| {
            diags
                .iter()
                .map(move |diagnostic| Located { source, diagnostic }.to_string())
        })
        .collect();
    let body = html! {
        h1 { "Outcomes audit" }
        p.error #error-summary tabindex="-1" autofocus role="alert" {
            "The clinic's audit definitions have errors, so no audit is shown (the bundled definitions are not used in their place). Fix the file below and start the page again (" code { "ritplan serve" } ")."
        }
        @for l in &located { pre.diagnostic { (l) } }
    };
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::layout("Outcomes audit", Some(page), page.training, body),
    )
        .into_response()
}

fn bad(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, pages::message("Not done", text)).into_response()
}

pub(super) async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<Window>,
) -> Response {
    blocking(app, move |app, ward| {
        let (actor, token) = match session(app, ward, &headers) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        // Refused before anything is read.
        if actor.role != Role::Physician {
            return failure(&WardError::Forbidden(
                "the outcomes audit is for physicians only".into(),
            ));
        }
        let now = app.clock.now();
        let today = now.date();
        let (from, to) = match (date(q.from.as_deref(), "start (from)"), date(q.to.as_deref(), "end (to)")) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(why), _) | (_, Err(why)) => return bad(&why),
        };
        let first =
            NaiveDate::from_ymd_opt(crate::when::FIRST_YEAR, 1, 1).unwrap_or(NaiveDate::MIN);
        let (from_d, to_d) = (from.unwrap_or(first), to.unwrap_or(today));
        if from_d > to_d {
            return bad(&format!(
                "the audit window starts ({from_d}) after it ends ({to_d}): it would be empty"
            ));
        }
        let page = Page {
            actor: &actor,
            csrf: ward.csrf_token(&token),
            training: ward.training(),
            now,
            clock: app.clock.settable(),
        };
        let rules = match AuditRules::clinic_or_bundled(app.audit_rules.as_ref()) {
            Ok(r) => r,
            Err(e) => return broken_rules(&page, &e),
        };
        let used = definitions(app.audit_rules.as_ref());
        let facts = match ward.audit_facts(&actor, from_d, to_d, today, &rules) {
            Ok(f) => f,
            Err(e) => return failure(&e),
        };
        let c = charts(&facts.rows, facts.as_of);
        let lines = counts(&Audit {
            from: facts.from,
            to: facts.to,
            as_of: facts.as_of,
            rows: &facts.rows,
            excluded: &facts.excluded,
        });
        let body = html! {
            h1 { "Outcomes audit" }
            form method="get" action="/audit" {
                p.help { "Courses whose rush day 1 falls in the window. Leave a date empty for no limit (the end: today)." }
                label for="audit-from" { "From (rush day 1, YYYY-MM-DD)" }
                input id="audit-from" name="from" type="date" value=[from.map(|d| d.to_string())];
                label for="audit-to" { "To (rush day 1, YYYY-MM-DD)" }
                input id="audit-to" name="to" type="date" value=[to.map(|d| d.to_string())];
                p { button type="submit" { "Show" } }
            }
            h2 { "Counts" }
            ul.counts {
                @for l in &lines { li { (l) } }
                @for e in &facts.censored { li { "Censored: course " (e.course_id) ": " (e.reason) } }
            }
            p { strong { "Observational data, not randomised: compare the arms with caution." } }
            h2 { "Systemic reactions by stratum and arm" }
            figure.chart {
                (PreEscaped(sr_figure(&c).svg("audit-sr")))
                figcaption { "Share of courses with any systemic reaction, with the Wilson 95 % interval; rush alone: squares and solid lines, omalizumab-pretreated: triangles and dashed lines." }
            }
            h2 { "Completion over time" }
            figure.chart {
                (PreEscaped(completion_figure(&c).svg("audit-completion")))
                figcaption { "Estimated share of courses that reached the target dose by each day from rush day 1: a course still in up-dosing leaves the denominator after the audit date (" (facts.as_of) "); a stopped course counts as not reaching it." }
            }
            p.help #audit-definitions { "Definitions: " (used) ". The CLI's " code { "ritplan audit --out report.pdf" } " prints the same charts with the tables T1-T6." }
        };
        pages::layout("Outcomes audit", Some(&page), page.training, body).into_response()
    })
    .await
}
