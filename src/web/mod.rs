//! `ritplan serve`: the ward page, on the same application layer as the CLI. axum routes,
//! maud pages (checked at compile time), htmx embedded in the binary (no build step, no CDN).
//! Sessions are the record's own (a cookie holds the token: HttpOnly, SameSite=Strict), every
//! form carries a CSRF token, and the roles are the ward layer's. It decides nothing: each
//! handler parses, calls the ward, and renders.
//!
//! Screens: log in, the board (refreshing itself), patient search, a course's page with its
//! forms (`course`, `screens`), its vials (`vials`), the PDFs (protocol, sheet, labels), log
//! out.

mod audit;
mod clock;
mod course;
mod followup;
mod forms;
mod guard;
mod omalizumab;
mod pages;
mod patient;
mod pool;
mod screens;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_a11y;
#[cfg(test)]
mod tests_audit;
#[cfg(test)]
mod tests_course;
#[cfg(test)]
mod tests_followup;
#[cfg(test)]
mod tests_guard;
#[cfg(test)]
mod tests_omaboard;
#[cfg(test)]
mod tests_omalizumab;
#[cfg(test)]
mod tests_scan;
#[cfg(test)]
mod tests_vials;
mod vials;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub use clock::Clock;
pub use guard::{CONTENT_SECURITY_POLICY, Hosts, Limits};
pub use pool::{Opener, Pool};

use crate::ward::{Actor, Ward, WardError};

/// The session cookie.
const COOKIE: &str = "ritplan_session";
/// The login form's cookie (before there is a session): a token this server issued.
const PRE: &str = "ritplan_login";
/// How long a login form stays valid, in minutes.
const LOGIN_FORM_MINUTES: i64 = 10;
/// htmx, pinned: the npm package `htmx.org` 2.0.4, `dist/htmx.min.js`.
const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.4.min.js");
/// Wards open at once for the page's requests: a long request (a large PDF) holds one, and the
/// others go on serving boards and forms (two cores; the rest wait for the next one free).
pub const WARDS: usize = 4;

/// What every request shares.
pub struct App {
    /// The record, with the application layer over it: a few wards, one per request at a time.
    pub wards: Pool,
    /// The record's clock (the front end chooses it, as the CLI does).
    pub clock: Clock,
    /// Set the cookies' `Secure` flag (behind a TLS reverse proxy).
    pub secure: bool,
    /// Shown as the OS user of the entries made through the page.
    pub os_user: String,
    /// The record's path, shown in the footer.
    pub db: PathBuf,
    /// The `Host` values answered.
    pub hosts: Hosts,
    /// Time and size limits of connections and requests.
    pub limits: Limits,
    /// The clinic's audit definitions (`audit.toml` from `serve --rules DIR`, read when the
    /// page started); `None`: the bundled ones. `/audit` reads them on each request and shows
    /// a file with errors, located, rather than use the bundled ones.
    pub audit_rules: Option<crate::diag::SourceText>,
}

/// The page's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(board_page))
        .route("/board", get(board_fragment))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/patient", get(patient::page))
        .route("/course/{id}", get(course::page))
        .route("/patient/label.pdf", get(vials::patient_label_pdf))
        .route("/course/{id}/protocol.pdf", get(course::protocol_pdf))
        .route("/course/{id}/vial-labels.pdf", get(vials::vial_labels_pdf))
        .route("/course/{id}/{form}", post(course::submit))
        .route("/sheet.pdf", get(course::sheet_pdf))
        .route("/audit", get(audit::page))
        .route("/training/clock", post(course::set_clock))
        .route("/assets/htmx.min.js", get(htmx))
        .route("/assets/ward.css", get(css))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::guard,
        ))
        .with_state(app)
}

/// Serves the page until the process is stopped: HTTP/1.1, each connection on a task of its
/// own, with the time limits of `app.limits` (a header that does not arrive, an idle kept-alive
/// connection, a body sent a byte at a time, a connection held open: each is closed).
pub async fn serve(app: Arc<App>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let limits = app.limits;
    let router = router(app);
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors, a connection reset before it was taken: go on.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::SeqCst) >= limits.connections {
            open.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let open = open.clone();
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header)
                .keep_alive(true);
            let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // An error is the client's (it went away, sent garbage, or was too slow).
            let _ = tokio::time::timeout(limits.connection, conn).await;
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Runs a request's work on a blocking thread with a ward of its own (see [`Pool`]).
async fn blocking<F>(app: Arc<App>, f: F) -> Response
where
    F: FnOnce(&App, &mut Ward) -> Response + Send + 'static,
{
    let done = tokio::task::spawn_blocking(move || {
        let app = &*app;
        app.wards.with(|ward| {
            // The record's zone, read for every request (an admin may change it while the
            // page is served): the clock shows this request its time in it.
            match ward.zone() {
                Ok(zone) => app.clock.follow(zone),
                Err(e) => return failure(&e),
            }
            f(app, ward)
        })
    })
    .await;
    match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => failure(&e),
        // A handler that panicked leaves nothing half-written (every write is one transaction).
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message(
                "Not done",
                "the server failed on this request: nothing was recorded",
            ),
        )
            .into_response(),
    }
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
    match ward.page_actor(&token, &app.os_user, app.clock.now()) {
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
        | WardError::SecondCheckNeeded
        | WardError::WrongPatient(_) => StatusCode::FORBIDDEN,
        WardError::Stale { .. } => StatusCode::CONFLICT,
        WardError::NoCourse { .. } | WardError::NoPatient { .. } | WardError::NoVial { .. } => {
            StatusCode::NOT_FOUND
        }
        WardError::Data(_)
        | WardError::Tampered(_)
        | WardError::Input { .. }
        | WardError::Patient(_)
        | WardError::Scan(_) => StatusCode::UNPROCESSABLE_ENTITY,
        WardError::Store(_) | WardError::NoRecord { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, pages::message("Not done", &said(e))).into_response()
}

/// A ward error in the page's words: a field by its label, not a flag.
fn said(e: &WardError) -> String {
    use crate::render::course::{Voice, field};
    match e {
        WardError::Input { field: f, problem } => format!("{} {problem}", field(*f, Voice::Page)),
        WardError::Patient(p) => format!("{}: {}", field(p.field, Voice::Page), p.why),
        e @ WardError::SecondCheckNeeded => {
            format!("{e}: {}", crate::render::course::second_check(Voice::Page))
        }
        WardError::Scan(r) => crate::render::course::scan_refusal(r, Voice::Page),
        other => other.to_string(),
    }
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

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
}

async fn board_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(s): Query<Search>,
) -> Response {
    blocking(app, move |app, ward| {
        let (actor, token) = match session(app, ward, &headers) {
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
    })
    .await
}

async fn board_fragment(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    blocking(app, move |app, ward| {
        if let Err(r) = session(app, ward, &headers) {
            return *r;
        }
        let now = app.clock.now();
        match ward.board(now) {
            Ok(rows) => pages::board(&rows, now).into_response(),
            Err(e) => failure(&e),
        }
    })
    .await
}

async fn login_page(State(app): State<Arc<App>>) -> Response {
    blocking(app, |app, ward| login_form(app, ward, None)).await
}

/// The login form with a token this server issued, in the form and in a cookie.
fn login_form(app: &App, ward: &Ward, error: Option<&str>) -> Response {
    let pre = match ward.login_form_token(app.clock.now()) {
        Ok(t) => t,
        Err(e) => return failure(&e),
    };
    let mut r = pages::login(&pre, error, ward.training()).into_response();
    let max_age = u32::try_from(LOGIN_FORM_MINUTES * 60).unwrap_or(600);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, PRE, &pre, Some(max_age)),
    );
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
    blocking(app, move |app, ward| {
        // Login CSRF: the form's token must be the one in this browser's cookie, and one this
        // server issued (a value a page of another site chose for both is refused).
        let now = app.clock.now();
        let issued = cookie(&headers, PRE)
            .is_some_and(|c| crate::secure::same_bytes(c.as_bytes(), f.csrf.as_bytes()))
            && ward.login_form_token_valid(&f.csrf, now, LOGIN_FORM_MINUTES);
        if !issued {
            return (
                StatusCode::FORBIDDEN,
                pages::message(
                    "Not done",
                    "the form has expired: reload the page and log in again",
                ),
            )
                .into_response();
        }
        // A new login in this browser ends the session it had (whoever it was).
        let previous = cookie(&headers, COOKIE);
        let result = ward.page_login(previous.as_deref(), &f.id, &f.password, &app.os_user, now);
        match result {
            Ok((_, token)) => {
                let mut r = Redirect::to("/").into_response();
                r.headers_mut()
                    .append(header::SET_COOKIE, set_cookie(app, COOKIE, &token, None));
                r.headers_mut()
                    .append(header::SET_COOKIE, set_cookie(app, PRE, "", Some(0)));
                r
            }
            Err(WardError::Auth(m)) => {
                let mut r = login_form(app, ward, Some(&m));
                if previous.is_some() {
                    r.headers_mut()
                        .append(header::SET_COOKIE, set_cookie(app, COOKIE, "", Some(0)));
                }
                r
            }
            Err(e) => failure(&e),
        }
    })
    .await
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<Csrf>) -> Response {
    blocking(app, move |app, ward| {
        let (_, token) = match session(app, ward, &headers) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        if !ward.csrf_matches(&token, &f.csrf) {
            return csrf_refused();
        }
        if let Err(e) = ward.page_logout(&token) {
            return failure(&e);
        }
        let mut r = Redirect::to("/login").into_response();
        r.headers_mut()
            .append(header::SET_COOKIE, set_cookie(app, COOKIE, "", Some(0)));
        r
    })
    .await
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

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        pages::CSS,
    )
}
