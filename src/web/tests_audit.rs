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
    // Still in up-dosing: in no bar, and the chart says so.
    assert!(!body.contains("RIT 0/1 · 0 %"), "{body}");
    assert!(body.contains("1 in up-dosing, not counted"), "{body}");
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

/// The app of `ward_with_a_course` with `rules` as the clinic's audit definitions (as `serve
/// --rules DIR` finds them).
fn with_audit_rules(
    app: std::sync::Arc<super::App>,
    rules: Option<crate::diag::SourceText>,
) -> std::sync::Arc<super::App> {
    let Ok(app) = std::sync::Arc::try_unwrap(app) else {
        panic!("the test app has one owner");
    };
    std::sync::Arc::new(super::App {
        audit_rules: rules,
        ..app
    })
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_uses_the_clinic_s_audit_definitions_and_says_which_file() {
    let dir = tempfile::tempdir().expect("tmp");
    // Without --rules (or a DIR without audit.toml): the bundled ones, said.
    let app = ward_with_a_course(&dir);
    let dr = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (status, _, body) = send(&app, get("/audit", Some(&dr))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Definitions: bundled (audit.toml)."),
        "{body}"
    );
    assert!(body.contains("&gt;=18"), "the bundled age edge: {body}");
    // The clinic's: adults from 40; P1 (born 1990-05-01) is 36 at rush day 1.
    let dir2 = tempfile::tempdir().expect("tmp");
    let path = dir2.path().join("audit.toml");
    let text = crate::audit::rules::BUNDLED
        .1
        .replace("adult_from_years = 18", "adult_from_years = 40");
    let app = with_audit_rules(
        ward_with_a_course(&dir2),
        Some(crate::diag::SourceText::new(
            path.display().to_string(),
            text,
        )),
    );
    let dr = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (status, _, body) = send(&app, get("/audit", Some(&dr))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(&format!(
            "Definitions: {} (the clinic&#39;s, from serve --rules).",
            path.display()
        )) || body.contains(&format!(
            "Definitions: {} (the clinic's, from serve --rules).",
            path.display()
        )),
        "{body}"
    );
    assert!(body.contains("&lt;40"), "the clinic's age edge: {body}");
    assert!(
        !body.contains("&gt;=18") && !body.contains("bundled"),
        "{body}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_broken_clinic_file_is_shown_located_and_never_replaced_by_the_bundled_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.toml");
    let text = crate::audit::rules::BUNDLED.1.replacen(
        "\nhigh_from = \"above\"",
        "\nhigh_from = \"over\"",
        1,
    );
    let line = text
        .lines()
        .position(|l| l == "high_from = \"over\"")
        .expect("the broken line")
        + 1;
    let app = with_audit_rules(
        ward_with_a_course(&dir),
        Some(crate::diag::SourceText::new(
            path.display().to_string(),
            text,
        )),
    );
    let dr = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (status, _, body) = send(&app, get("/audit", Some(&dr))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    // File, line and column, and the line itself.
    assert!(
        body.contains(&format!("--&gt; {}:{line}:", path.display())),
        "{body}"
    );
    assert!(
        body.contains("high_from = &quot;over&quot;") || body.contains("high_from = \"over\""),
        "{body}"
    );
    assert!(body.contains("role=\"alert\""), "{body}");
    // No audit at all: no chart, no count, no bundled definitions.
    assert!(!body.contains("<svg"), "{body}");
    assert!(!body.contains("courses with rush day 1"), "{body}");
    assert!(!body.contains("Definitions: bundled"), "{body}");
    // A nurse is still refused before the definitions are read.
    let rn = login_as(&app, "rn.li", "nurse-password-1").await;
    let (status, _, _) = send(&app, get("/audit", Some(&rn))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
