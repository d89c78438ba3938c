//! `ritplan serve`: the ward page, on the same application layer as the CLI. axum routes,
//! maud pages (checked at compile time), htmx embedded in the binary (no build step, no CDN).
//! Sessions are the record's own (a cookie holds the token: HttpOnly, SameSite=Strict), every
//! form carries a CSRF token, and the roles are the ward layer's. It decides nothing: each
//! handler parses, calls the ward, and renders.
//!
//! Screens: log in, the board (refreshing itself), patient search, a course's page with its
//! forms (`course`, `screens`), the PDFs, log out.

mod clock;
mod course;
mod pages;
mod screens;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_course;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub use clock::Clock;

use crate::ward::{Actor, Ward, WardError};

/// The session cookie.
const COOKIE: &str = "ritplan_session";
/// The login form's double-submit cookie (before there is a session).
const PRE: &str = "ritplan_login";
/// htmx, pinned: the npm package `htmx.org` 2.0.4, `dist/htmx.min.js`.
const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.4.min.js");

/// What every request shares.
pub struct App {
    /// The record, with the application layer over it (rusqlite is not `Sync`: one at a time).
    pub ward: Mutex<Ward>,
    /// The record's clock (the front end chooses it, as the CLI does).
    pub clock: Clock,
    /// Set the cookies' `Secure` flag (behind a TLS reverse proxy).
    pub secure: bool,
    /// Shown as the OS user of the entries made through the page.
    pub os_user: String,
    /// The record's path, shown in the footer.
    pub db: PathBuf,
}

/// The page's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(board_page))
        .route("/board", get(board_fragment))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/course/{id}", get(course::page))
        .route("/course/{id}/protocol.pdf", get(course::protocol_pdf))
        .route("/course/{id}/{form}", post(course::submit))
        .route("/sheet.pdf", get(course::sheet_pdf))
        .route("/training/clock", post(course::set_clock))
        .route("/assets/htmx.min.js", get(htmx))
        .with_state(app)
}

/// Serves the page until the process is stopped.
pub async fn serve(app: Arc<App>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(app)).await
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(app: &App, name: &str, value: &str, max_age: Option<u32>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if app.secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The logged-in person and their session token, or a redirect to the login page.
fn session(app: &App, ward: &Ward, headers: &HeaderMap) -> Result<(Actor, String), Box<Response>> {
    let Some(token) = cookie(headers, COOKIE) else {
        return Err(Box::new(Redirect::to("/login").into_response()));
    };
    match ward.actor(&token, &app.os_user, app.clock.now()) {
        Ok(a) => Ok((a, token)),
        Err(WardError::Auth(_)) => Err(Box::new(Redirect::to("/login").into_response())),
        Err(e) => Err(Box::new(failure(&e))),
    }
}

/// A refusal or failure as a page: the status the error's kind calls for, and its words.
fn failure(e: &WardError) -> Response {
    let status = match e {
        WardError::Auth(_) => StatusCode::UNAUTHORIZED,
        WardError::Forbidden(_)
        | WardError::Refused(_)
        | WardError::NotStarted(_)
        | WardError::WrongPatient(_) => StatusCode::FORBIDDEN,
        WardError::Stale(_) => StatusCode::CONFLICT,
        WardError::Data(_) => StatusCode::UNPROCESSABLE_ENTITY,
        WardError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, pages::message("Not done", &e.to_string())).into_response()
}

/// A form whose CSRF token is not the session's: refused, nothing written.
fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        pages::message(
            "Not done",
            "the form's token does not match your session: nothing was recorded; reload the page",
        ),
    )
        .into_response()
}

fn lock(app: &App) -> std::sync::MutexGuard<'_, Ward> {
    // A handler that panicked leaves nothing half-written (every write is one transaction).
    app.ward.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
}

async fn board_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(s): Query<Search>,
) -> Response {
    let mut ward = lock(&app);
    let (actor, token) = match session(&app, &ward, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let now = app.clock.now();
    let rows = match ward.board(now) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let found = match s.q.as_deref().map(|q| ward.find_patients(q)) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return failure(&e),
        None => None,
    };
    let page = pages::Page {
        actor: &actor,
        csrf: ward.csrf_token(&token),
        training: ward.training(),
        now,
        clock: app.clock.settable(),
    };
    let mut courses = Vec::new();
    for p in found.iter().flatten() {
        match ward.courses_of(&p.id) {
            Ok(cs) => courses.extend(cs.into_iter().map(|c| {
                (
                    p.id.clone(),
                    c.id,
                    format!("course {} ({})", c.id, c.template_id),
                )
            })),
            Err(e) => return failure(&e),
        }
    }
    pages::board_page(&page, &rows, s.q.as_deref(), found.as_deref(), &courses).into_response()
}

async fn board_fragment(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut ward = lock(&app);
    if let Err(r) = session(&app, &ward, &headers) {
        return *r;
    }
    let now = app.clock.now();
    match ward.board(now) {
        Ok(rows) => pages::board(&rows, now).into_response(),
        Err(e) => failure(&e),
    }
}

async fn login_page(State(app): State<Arc<App>>) -> Response {
    login_form(&app, None)
}

fn login_form(app: &App, error: Option<&str>) -> Response {
    let pre = match crate::secure::random::<16>() {
        Ok(b) => crate::secure::hex(&b),
        Err(e) => {
            return failure(&WardError::Data(format!(
                "a stored record is unreadable: {e}"
            )));
        }
    };
    let training = lock(app).training();
    let mut r = pages::login(&pre, error, training).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(app, PRE, &pre, Some(600)));
    if error.is_some() {
        *r.status_mut() = StatusCode::UNAUTHORIZED;
    }
    r
}

#[derive(Deserialize)]
struct Login {
    id: String,
    password: String,
    csrf: String,
}

async fn login(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<Login>) -> Response {
    // Login CSRF: the form's token must be the one in this browser's cookie.
    if cookie(&headers, PRE).is_none_or(|c| c != f.csrf) {
        return (
            StatusCode::FORBIDDEN,
            pages::message(
                "Not done",
                "the form has expired: reload the page and log in again",
            ),
        )
            .into_response();
    }
    let result = lock(&app).login(&f.id, &f.password, &app.os_user, app.clock.now());
    match result {
        Ok((_, token)) => {
            let mut r = Redirect::to("/").into_response();
            r.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&app, COOKIE, &token, None));
            r.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&app, PRE, "", Some(0)));
            r
        }
        Err(WardError::Auth(m)) => login_form(&app, Some(&m)),
        Err(e) => failure(&e),
    }
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<Csrf>) -> Response {
    let ward = lock(&app);
    let (_, token) = match session(&app, &ward, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if f.csrf != ward.csrf_token(&token) {
        return csrf_refused();
    }
    if let Err(e) = ward.logout(&token) {
        return failure(&e);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, COOKIE, "", Some(0)));
    r
}

async fn htmx() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        HTMX,
    )
}
