//! The holes an attacker found in the page, each closed: another `Host`, missing security
//! headers, a login token the client chose, sessions that outlive a new login or cross from the
//! command line, failed logins that tell accounts apart, unbounded text and dates, one request
//! holding up every other, and connections held open by a slow client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::tests::{HOST, app, at, get, post, send, value_of};
use super::tests_course::{encode, events, login_as, post_form, tokens, ward_with_a_course};
use super::{App, CONTENT_SECURITY_POLICY, Limits};
use crate::ward::LOGIN_REFUSED;

fn with_host(path: &str, host: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(h) = host {
        b = b.header(header::HOST, h);
    }
    b.body(Body::empty()).expect("request")
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_for_another_host_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(&dir);
    // DNS rebinding: a page of evil.example.com whose name now points here sends its own name.
    for host in [
        Some("evil.example.com"),
        Some("evil.example.com:8470"),
        Some("127.0.0.1:9999"),
        None,
    ] {
        let (status, cookies, body) = send(&app, with_host("/login", host)).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host:?}");
        assert!(cookies.is_empty(), "{host:?}: no login token handed out");
        assert!(!body.contains("Log in"), "{host:?}");
        let (status, _, _) = send(
            &app,
            Request::post("/login")
                .header(header::HOST, host.unwrap_or(""))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("id=rn.li&password=x&csrf=x"))
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host:?}");
    }
    for host in [HOST, "localhost:8470"] {
        let (status, _, _) = send(&app, with_host("/login", Some(host))).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_answer_carries_the_security_headers_and_patient_pages_are_not_cached() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    for (path, cookie, store) in [
        ("/login", None, true),
        ("/", Some(nurse.as_str()), true),
        ("/board", Some(nurse.as_str()), true),
        ("/course/1", Some(nurse.as_str()), true),
        ("/course/1/protocol.pdf", Some(nurse.as_str()), true),
        ("/course/1", None, true),
        ("/nowhere", None, true),
        ("/assets/ward.css", None, false),
        ("/assets/htmx.min.js", None, false),
    ] {
        let r = tower::ServiceExt::oneshot(super::router(app.clone()), get(path, cookie))
            .await
            .expect("response");
        let h = r.headers();
        assert_eq!(
            h["content-security-policy"], CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            h.get("cache-control").is_some_and(|v| v == "no-store"),
            store,
            "{path}"
        );
    }
    // Nothing inline for the policy to refuse: no style element or attribute, no inline script.
    for path in ["/", "/course/1", "/login"] {
        let cookie = (path != "/login").then_some(nurse.as_str());
        let (_, _, body) = send(&app, get(path, cookie)).await;
        assert!(!body.contains("<style"), "{path}");
        assert!(!body.contains(" style="), "{path}");
        assert_eq!(
            body.matches("<script").count(),
            body.matches("<script src=\"/assets/").count(),
            "{path}"
        );
        assert!(body.contains(r#"href="/assets/ward.css""#), "{path}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_login_token_the_client_chose_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(&dir);
    // A page of another site sets the cookie and the field to the same value of its choice.
    for chosen in [
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef.29000000.ffff",
        "",
    ] {
        let (status, cookies, _) = send(
            &app,
            post(
                "/login",
                Some(&format!("ritplan_login={chosen}")),
                &format!("id=rn.li&password=nurse-password-1&csrf={chosen}"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{chosen}");
        assert!(cookies.iter().all(|c| !c.starts_with("ritplan_session=")));
    }
    // One the server issued, but eleven minutes ago by the clock: expired.
    let (_, cookies, _) = send(&app, get("/login", None)).await;
    let pre = value_of(&cookies, "ritplan_login");
    assert!(app.clock.set(at("2026-12-07 08:11")));
    let (status, _, _) = send(
        &app,
        post(
            "/login",
            Some(&format!("ritplan_login={pre}")),
            &format!("id=rn.li&password=nurse-password-1&csrf={pre}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "current_thread")]
async fn a_new_login_ends_the_browser_s_session_and_sessions_do_not_cross_front_ends() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(&dir);
    let first = login_as(&app, "rn.li", "nurse-password-1").await;
    // The same browser logs in again (another person at the shared workstation): it sends its
    // old cookie, which ends.
    let (_, cookies, _) = send(&app, get("/login", Some(&first))).await;
    let pre = value_of(&cookies, "ritplan_login");
    let (status, cookies, _) = send(
        &app,
        post(
            "/login",
            Some(&format!("{first}; ritplan_login={pre}")),
            &format!("id=admin&password=admin-password-1&csrf={pre}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let second = format!("ritplan_session={}", value_of(&cookies, "ritplan_session"));
    let (status, _, _) = send(&app, get("/", Some(&first))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the first session has ended");
    let (status, _, body) = send(&app, get("/", Some(&second))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Ward Admin"), "{body}");
    // A command-line session's token is not a page cookie, nor a page cookie a CLI token.
    let (cli, page_token) = app
        .wards
        .with(|ward| {
            let (_, cli) = ward
                .login("rn.li", "nurse-password-1", "test", at("2026-12-07 08:00"))
                .expect("cli login");
            (
                cli,
                second.trim_start_matches("ritplan_session=").to_string(),
            )
        })
        .expect("ward");
    let (status, _, _) = send(&app, get("/", Some(&format!("ritplan_session={cli}")))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a CLI token opens no page");
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            assert!(ward.actor(&page_token, "test", now).is_err());
            assert!(ward.actor(&cli, "test", now).is_ok());
            assert!(ward.page_actor(&page_token, "test", now).is_ok());
        })
        .expect("ward");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_login_reads_the_same_for_unknown_disabled_locked_and_wrong() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (admin, _) = ward
                .login("admin", "admin-password-1", "test", now)
                .expect("admin");
            ward.staff_disable(&admin, "dr.ng").expect("disable");
        })
        .expect("ward");
    let attempt = |id: &'static str, password: &'static str| {
        let app = app.clone();
        async move {
            let (_, cookies, _) = send(&app, get("/login", None)).await;
            let pre = value_of(&cookies, "ritplan_login");
            let (status, _, body) = send(
                &app,
                post(
                    "/login",
                    Some(&format!("ritplan_login={pre}")),
                    &format!("id={id}&password={password}&csrf={pre}"),
                ),
            )
            .await;
            (status, body)
        }
    };
    // Five wrong passwords lock the nurse's account.
    for _ in 0..5 {
        let (status, _) = attempt("rn.li", "not-the-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let mut seen = Vec::new();
    for (id, password, what) in [
        ("nobody", "whatever-123", "unknown"),
        ("dr.ng", "doctor-password-1", "disabled, right password"),
        ("rn.li", "nurse-password-1", "locked, right password"),
        ("rn.li", "not-the-password", "locked, wrong password"),
        ("admin", "not-the-password", "known, wrong password"),
    ] {
        let (status, body) = attempt(id, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        let said = body
            .split(r#"role="alert">"#)
            .nth(1)
            .and_then(|s| s.split('<').next())
            .expect("an error")
            .replace(&format!("&quot;{id}&quot;"), "ID");
        assert!(said.contains(LOGIN_REFUSED), "{what}: {said}");
        assert!(!said.contains("locked until") && !said.contains("is disabled"));
        seen.push(said);
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "one message for every failure: {seen:?}");
    // The lock still holds the right password out until it runs out.
    assert!(app.clock.set(at("2026-12-07 08:15")));
    let (status, _) = attempt("rn.li", "nurse-password-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the lock has run out");
}

#[tokio::test(flavor = "current_thread")]
async fn free_text_and_dates_are_bounded_on_the_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let long = "x".repeat(1001);
    let (status, _, body) = post_form(
        &app,
        "/course/1/defer",
        &nurse,
        &[("csrf", &csrf), ("seen", &seen), ("reason", &long)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("1001 characters long; at most 1000"),
        "{body}"
    );
    assert_eq!(events(&app), 0, "nothing written");
    // A body past the page's limit is refused before any handler reads it.
    let huge = encode(&[
        ("csrf", &csrf),
        ("seen", &seen),
        ("reason", &"y".repeat(Limits::default().body_bytes)),
    ]);
    let (status, _, _) = send(&app, post("/course/1/defer", Some(&nurse), &huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(events(&app), 0);
    // Dates past the years ritplan accepts: refused naming the value, never a panic.
    for date in ["%2B262142-12-31", "2200-01-01", "1899-12-31"] {
        let (status, _, body) =
            send(&app, get(&format!("/sheet.pdf?date={date}"), Some(&nurse))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{date}: {body}");
        assert!(body.contains("outside the years 1900 to 2199"), "{body}");
    }
    let (status, _, body) = post_form(
        &app,
        "/training/clock",
        &nurse,
        &[("csrf", &csrf), ("at", "+262142-12-31T08:00")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.clock.now(),
        at("2026-12-07 08:00"),
        "the clock unchanged"
    );
    let (status, _, _) = send(&app, get("/course/1", Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK, "the course page still answers");
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_holding_a_ward_does_not_hold_up_another_nurse_s_board() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    // A request that takes its ward and does not give it back until told (as a PDF of a very
    // long course would): with one lock over the whole record, the board below would wait for
    // it for ever.
    let (taken_tx, taken_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let held = app.clone();
    let holder = std::thread::spawn(move || {
        held.wards
            .with(|_ward| {
                let _ = taken_tx.send(());
                let _ = release_rx.recv();
            })
            .expect("ward");
    });
    taken_rx.recv().expect("the slow request holds a ward");
    // (A bound on the wait only so that a regression fails instead of hanging the suite.)
    let board = tokio::time::timeout(
        Duration::from_secs(60),
        send(&app, get("/board", Some(&nurse))),
    )
    .await;
    let _ = release_tx.send(());
    holder.join().expect("holder");
    let (status, _, _) = board.expect("the board was served while the other request ran");
    assert_eq!(status, StatusCode::OK);
    assert!(app.wards.made() >= 2);
}

/// Serves `app` on a free loopback port with short limits; returns the address.
fn serve_with(app: Arc<App>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = super::serve(app, listener).await;
        });
    });
    addr
}

/// Reads until the server closes the connection (or `wait` passes); returns what came.
fn read_until_closed(s: &mut TcpStream, wait: Duration) -> Option<String> {
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&all).into_owned()),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&all).into_owned());
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = app(&dir);
    let limits = Limits {
        header: Duration::from_millis(300),
        body: Duration::from_millis(300),
        connection: Duration::from_secs(5),
        ..Limits::default()
    };
    let app = Arc::new(App {
        wards: super::Pool::single(crate::ward::Ward::open(&base.db).expect("open")),
        clock: super::Clock::training(at("2026-12-07 08:00")),
        secure: false,
        os_user: "test".into(),
        db: base.db.clone(),
        hosts: super::Hosts::new(HOST.parse().expect("address"), &[]),
        limits,
        audit_rules: None,
    });
    let addr = serve_with(app);
    // (Each wait below is a bound for a regression to fail on, not a measurement.)
    let patience = Duration::from_secs(20);
    // Half a header, then nothing: closed.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1:8470\r\n")
        .expect("write");
    assert!(
        read_until_closed(&mut s, patience).is_some(),
        "a half-sent header is closed"
    );
    // A connection that sends nothing at all: closed.
    let mut s = TcpStream::connect(addr).expect("connect");
    assert!(read_until_closed(&mut s, patience).is_some());
    // A whole request is answered; the kept-alive connection is then closed when idle.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /assets/ward.css HTTP/1.1\r\nHost: 127.0.0.1:8470\r\n\r\n")
        .expect("write");
    let answer = read_until_closed(&mut s, patience).expect("closed when idle");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A body sent a byte at a time: 408 and closed.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1:8470\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nid=",
    )
    .expect("write");
    let answer = read_until_closed(&mut s, patience).expect("closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}
