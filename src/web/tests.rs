//! Handler tests without a browser (`tower::ServiceExt::oneshot`): login with its CSRF
//! cookie, the board behind the login, logout with the session's CSRF token.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::{App, router};
use crate::ward::{NewStaff, Role, Ward};

pub(super) fn at(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
}

/// The record of a test: a file in `dir`, or, with `RITPLAN_TEST_POSTGRES` set (a server's URL
/// without a database), a new database on that server, so that every handler runs against
/// PostgreSQL from inside the page's runtime (its key file goes to the default place).
fn record(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let Some(base) = std::env::var("RITPLAN_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return dir.path().join("ward.db");
    };
    let base = base.trim_end_matches('/');
    let tag: String = dir
        .path()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let name = format!("ritplan_web_{}_{tag}", std::process::id());
    // (On a thread of its own: the synchronous client may not run inside the test's runtime.)
    let (server, create) = (
        format!("{base}/postgres"),
        format!("CREATE DATABASE {name}"),
    );
    std::thread::spawn(move || {
        postgres::Client::connect(&server, postgres::NoTls)
            .expect("connect to RITPLAN_TEST_POSTGRES")
            .batch_execute(&create)
            .expect("create database");
    })
    .join()
    .expect("created");
    std::path::PathBuf::from(format!("{base}/{name}?sslmode=disable"))
}

pub(super) fn app(dir: &tempfile::TempDir) -> Arc<App> {
    let db = record(dir);
    let now = at("2026-12-07 08:00");
    let (ward, admin, _) = Ward::init(
        &db,
        true,
        NewStaff {
            id: "admin".into(),
            name: "Ward Admin".into(),
            role: Role::Admin,
            secret: "admin-password-1".into(),
        },
        "test",
        now,
    )
    .expect("init");
    ward.staff_add(
        &admin,
        NewStaff {
            id: "rn.li".into(),
            name: "RN Li".into(),
            role: Role::Nurse,
            secret: "nurse-password-1".into(),
        },
        now,
    )
    .expect("nurse");
    // A new record asks for the vial's scan before every dose; the tests of doses without vials
    // turn it off (the scan tests turn it on again).
    ward.set_setting(&admin, "scan", "off", now)
        .expect("scan off");
    let again = db.clone();
    Arc::new(App {
        wards: super::Pool::new(ward, Box::new(move || Ward::open(&again)), super::WARDS),
        clock: super::Clock::training(now),
        secure: false,
        os_user: "test".into(),
        db,
        hosts: super::Hosts::new(HOST.parse().expect("address"), &[]),
        limits: super::Limits::default(),
        audit_rules: None,
    })
}

pub(super) async fn send(app: &Arc<App>, req: Request<Body>) -> (StatusCode, Vec<String>, String) {
    let r = router(app.clone()).oneshot(req).await.expect("response");
    let status = r.status();
    let cookies = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    let body = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, cookies, String::from_utf8_lossy(&body).into_owned())
}

/// The address the test page is served on (every request names it as its `Host`).
pub(super) const HOST: &str = "127.0.0.1:8470";

pub(super) fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path).header(header::HOST, HOST);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).expect("request")
}

pub(super) fn post(path: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut b = Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(form.to_string())).expect("request")
}

pub(super) fn value_of(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string()
}

/// Logs the nurse in; returns the session cookie.
pub(super) async fn logged_in(app: &Arc<App>) -> String {
    let (_, cookies, _) = send(app, get("/login", None)).await;
    let pre = value_of(&cookies, "ritplan_login");
    let (status, cookies, _) = send(
        app,
        post(
            "/login",
            Some(&format!("ritplan_login={pre}")),
            &format!("id=rn.li&password=nurse-password-1&csrf={pre}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    format!("ritplan_session={}", value_of(&cookies, "ritplan_session"))
}

#[tokio::test(flavor = "current_thread")]
async fn the_board_is_behind_the_login() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(&dir);
    let (status, _, _) = send(&app, get("/", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "to the login page");
    let (status, _, _) = send(&app, get("/board", Some("ritplan_session=forged"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = logged_in(&app).await;
    let (status, _, body) = send(&app, get("/", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("RN Li (rn.li, nurse)"),
        "the user's name is shown"
    );
    assert!(body.contains("TRAINING RECORD"));
    assert!(
        body.contains(r#"hx-get="/board""#),
        "the board refreshes itself"
    );
    assert!(body.contains("Nothing is due today."));
}

#[tokio::test(flavor = "current_thread")]
async fn login_needs_its_csrf_cookie_and_the_right_password() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(&dir);
    let (_, cookies, body) = send(&app, get("/login", None)).await;
    let pre = value_of(&cookies, "ritplan_login");
    assert!(body.contains(r#"<label for="id">"#), "labelled fields");
    assert!(
        cookies
            .iter()
            .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict"))
    );
    // Another site's form cannot know the cookie.
    let (status, cookies, _) = send(
        &app,
        post(
            "/login",
            Some(&format!("ritplan_login={pre}")),
            "id=rn.li&password=nurse-password-1&csrf=guessed",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(cookies.iter().all(|c| !c.starts_with("ritplan_session=")));
    let (status, _, body) = send(
        &app,
        post(
            "/login",
            Some(&format!("ritplan_login={pre}")),
            &format!("id=rn.li&password=wrong&csrf={pre}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("wrong staff id or password"), "{body}");
}

#[tokio::test(flavor = "current_thread")]
async fn logout_needs_the_session_s_csrf_token() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(&dir);
    let session = logged_in(&app).await;
    let (status, _, _) = send(&app, post("/logout", Some(&session), "csrf=nope")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, body) = send(&app, get("/", Some(&session))).await;
    let token = body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("csrf in the page")
        .to_string();
    let (status, _, _) = send(
        &app,
        post("/logout", Some(&session), &format!("csrf={token}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = send(&app, get("/", Some(&session))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the session has ended");
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_s_clock_follows_a_change_of_the_record_s_zone_while_it_is_served() {
    let dir = tempfile::tempdir().expect("tmp");
    let served = app(&dir);
    // The same record, served with a system clock that stands at one instant (07:00 UTC): what
    // the page shows of it is the record's zone alone.
    let instant = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
        .and_then(|d| d.and_hms_opt(7, 0, 0))
        .expect("instant")
        .and_utc();
    let ward = Ward::open(&served.db).expect("ward");
    let admin = |ward: &Ward| {
        ward.login("admin", "admin-password-1", "test", at("2026-12-07 08:00"))
            .expect("admin")
            .0
    };
    ward.set_setting(
        &admin(&ward),
        "time_zone",
        "Europe/Oslo",
        at("2026-12-07 08:00"),
    )
    .expect("Oslo, before the first patient");
    let db = served.db.clone();
    let again = db.clone();
    let app = Arc::new(App {
        wards: super::Pool::new(
            Ward::open(&db).expect("ward"),
            Box::new(move || Ward::open(&again)),
            super::WARDS,
        ),
        // The zone serve started with: the machine's (UTC here), not the record's.
        clock: super::Clock::system(crate::zone::Zone::System, move |z| z.wall_clock(instant)),
        secure: false,
        os_user: "test".into(),
        db,
        hosts: super::Hosts::new(HOST.parse().expect("address"), &[]),
        limits: super::Limits::default(),
        audit_rules: None,
    });
    let session = logged_in(&app).await;
    let (status, _, body) = send(&app, get("/board", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("At 08:00 on Monday 2026-12-07."),
        "Oslo: {body}"
    );
    // The admin changes the zone (still no patient) while the page is served.
    ward.set_setting(
        &admin(&ward),
        "time_zone",
        "America/New_York",
        at("2026-12-07 08:00"),
    )
    .expect("New York, before the first patient");
    let (status, _, body) = send(&app, get("/board", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("At 02:00 on Monday 2026-12-07."),
        "the next page's clock is New York's: {body}"
    );
    let (_, _, body) = send(&app, get("/", Some(&session))).await;
    assert!(body.contains("At 02:00 on Monday 2026-12-07."), "{body}");
    assert_eq!(app.clock.zone().name(), "America/New_York");
}
