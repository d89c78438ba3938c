//! `/audit`: a physician sees both charts and the counts; a nurse and an administrator are
//! refused (403); a bad date or a window that ends before it starts is a 400 saying which.

use axum::http::StatusCode;

use super::tests::{get, send};
use super::tests_course::{login_as, ward_with_a_course};

#[tokio::test(flavor = "current_thread")]
async fn a_physician_sees_both_charts_and_the_counts() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let dr = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (_, _, board) = send(&app, get("/", Some(&dr))).await;
    assert!(
        board.contains(r#"<a href="/audit">Outcomes audit</a>"#),
        "linked from the header"
    );
    let (status, _, body) = send(&app, get("/audit", Some(&dr))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.matches("<svg ").count(), 2, "{body}");
    assert!(body.contains(r#"aria-labelledby="audit-sr-title audit-sr-desc""#));
    assert!(body.contains(r#"aria-labelledby="audit-completion-title audit-completion-desc""#));
    assert!(
        body.contains("<title id=\"audit-sr-title\">Systemic reactions by stratum and arm</title>")
    );
    // Course 1 (rush alone, started 2026-12-07, the audit date): one course, censored.
    assert!(
        body.contains("1 courses with rush day 1 up to 2026-12-07, as of 2026-12-07: 1 rush immunotherapy alone, 0 omalizumab-pretreated."),
        "{body}"
    );
    assert!(
        body.contains("0 completed, 0 stopped, 1 censored"),
        "{body}"
    );
    assert!(
        body.contains("Censored: course 1: still in up-dosing on 2026-12-07"),
        "{body}"
    );
    assert!(body.contains("RIT 0/1 · 0 %"), "{body}");
    // A window without the course: no bars, no curve, words instead.
    let (status, _, body) =
        send(&app, get("/audit?from=2025-01-01&to=2025-12-31", Some(&dr))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("0 courses with rush day 1 from 2025-01-01 to 2025-12-31"),
        "{body}"
    );
    assert!(
        body.contains("no course") && !body.contains("NaN"),
        "{body}"
    );
    assert!(
        body.contains(r#"value="2025-01-01""#),
        "the window stays in the form"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_nurse_and_an_administrator_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    for (id, pw) in [("rn.li", "nurse-password-1"), ("admin", "admin-password-1")] {
        let s = login_as(&app, id, pw).await;
        let (_, _, board) = send(&app, get("/", Some(&s))).await;
        assert!(!board.contains("/audit"), "no link for {id}");
        let (status, _, body) = send(&app, get("/audit", Some(&s))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{id}: {body}");
        assert!(body.contains("physicians only"), "{body}");
        assert!(!body.contains("<svg") && !body.contains("courses with rush day 1"));
        // Refused before the window is even read.
        let (status, _, _) = send(&app, get("/audit?from=bad", Some(&s))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _, _) = send(&app, get("/audit", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "to the login page");
}

#[tokio::test(flavor = "current_thread")]
async fn a_bad_date_or_an_inverted_window_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let dr = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (status, _, body) = send(&app, get("/audit?from=2026-13-01", Some(&dr))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("the audit window&#39;s start (from)")
            || body.contains("the audit window's start (from)"),
        "{body}"
    );
    assert!(body.contains("YYYY-MM-DD"), "{body}");
    let (status, _, body) = send(&app, get("/audit?to=yesterday", Some(&dr))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("end (to)"), "{body}");
    let (status, _, body) =
        send(&app, get("/audit?from=2026-12-31&to=2026-12-01", Some(&dr))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("starts (2026-12-31) after it ends (2026-12-01)"),
        "{body}"
    );
}
