//! The course page's follow-up form: a nurse records one (the ACQ items, FEV1, medication) and
//! the page lists it with its scores and the medication score's definition (marked EXAMPLE);
//! refused values come back as a 422 with the field marked and nothing written; an admin is
//! refused; a stale or tokenless form writes nothing. No ACQ wording on the page, only the
//! licence's note.

use super::tests::{get, send};
use super::tests_course::{events, login_as, post_form, tokens, ward_with_a_course};

/// A follow-up form with `extra` replacing or adding fields.
fn form<'a>(csrf: &'a str, seen: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("seen", seen),
        ("date", "2026-12-07"),
        ("acq_version", "5"),
        ("acq", "1,2,0,1,3"),
        ("fev1", "91"),
        ("med1_drug", "budesonide"),
        ("med1_dose", "400 µg"),
        ("med2_drug", "salbutamol"),
        ("med2_dose", "2 puffs"),
    ];
    for (k, v) in extra {
        f.retain(|(name, _)| name != k);
        f.push((k, v));
    }
    f
}

#[tokio::test(flavor = "current_thread")]
async fn a_nurse_records_a_follow_up_and_the_page_lists_it_with_its_scores() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, body) = send(&app, get("/course/1", Some(&nurse))).await;
    assert!(body.contains(r#"action="/course/1/followup""#), "{body}");
    assert!(body.contains("No follow-up recorded on this course."));
    assert!(body.contains("copyrighted by QOL Technologies"));
    assert!(body.contains(r#"<label for="followup-acq">"#));
    let (csrf, seen) = tokens(&app, &nurse).await;
    let before = events(&app);
    let (status, _, body) =
        post_form(&app, "/course/1/followup", &nurse, &form(&csrf, &seen, &[])).await;
    assert_eq!(status, axum::http::StatusCode::SEE_OTHER, "{body}");
    assert_eq!(events(&app), before + 1);
    let (_, _, body) = send(&app, get("/course/1", Some(&nurse))).await;
    assert!(body.contains("ACQ-5: 1, 2, 0, 1, 3"), "{body}");
    assert!(body.contains("<td>1.40</td>"), "{body}");
    assert!(body.contains("2 (ics)"), "{body}");
    assert!(
        body.contains("example-asthma-step v1 (EXAMPLE definition, not a standard)"),
        "{body}"
    );
    // The dosing is untouched: the first dose is still due.
    assert!(body.contains("GIVE step 1"), "{body}");
}

#[tokio::test(flavor = "current_thread")]
async fn refused_values_come_back_marked_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let before = events(&app);
    for (extra, field, words) in [
        (
            vec![("acq", "1,2,0,1")],
            "followup-acq-error",
            "ACQ-5 has 5 items; 4 were given",
        ),
        (
            vec![("acq", "1,2,9,1,3")],
            "followup-acq-error",
            "item 3 is 9",
        ),
        (
            vec![("acq_version", "")],
            "followup-acq_version-error",
            "Choose the version",
        ),
        (
            vec![("med1_dose", "")],
            "followup-med1_dose-error",
            "The daily dose is required",
        ),
        (
            vec![("date", "2026-12-08")],
            "followup-date-error",
            "is in the future",
        ),
        (
            vec![("date", "1990-04-30")],
            "followup-date-error",
            "before the patient's birth",
        ),
        (vec![("fev1", "250")], "followup-fev1-error", "not possible"),
    ] {
        let (status, _, body) = post_form(
            &app,
            "/course/1/followup",
            &nurse,
            &form(&csrf, &seen, &extra),
        )
        .await;
        assert_eq!(
            status,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "{extra:?}: {body}"
        );
        assert!(
            body.contains(&format!(r#"id="{field}""#)),
            "{extra:?}: {body}"
        );
        assert!(body.contains(words), "{extra:?}: {words}: {body}");
        assert!(body.contains(r#"role="alert""#), "{extra:?}");
        assert_eq!(events(&app), before, "{extra:?} wrote");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_admin_is_refused_and_a_stale_or_tokenless_form_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let admin = login_as(&app, "admin", "admin-password-1").await;
    let (_, _, body) = send(&app, get("/course/1", Some(&admin))).await;
    assert!(
        !body.contains(r#"action="/course/1/followup""#),
        "no form for an admin"
    );
    let (csrf, seen) = tokens(&app, &admin).await;
    let before = events(&app);
    let (status, _, body) =
        post_form(&app, "/course/1/followup", &admin, &form(&csrf, &seen, &[])).await;
    assert_eq!(status, axum::http::StatusCode::FORBIDDEN, "{body}");
    assert_eq!(events(&app), before);
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (status, _, _) =
        post_form(&app, "/course/1/followup", &nurse, &form(&csrf, &seen, &[])).await;
    assert_eq!(status, axum::http::StatusCode::SEE_OTHER);
    // The same form again, shown before that entry: stale, nothing written.
    let (status, _, body) =
        post_form(&app, "/course/1/followup", &nurse, &form(&csrf, &seen, &[])).await;
    assert_eq!(status, axum::http::StatusCode::CONFLICT, "{body}");
    let (status, _, _) = post_form(
        &app,
        "/course/1/followup",
        &nurse,
        &form("not-the-token", &seen, &[]),
    )
    .await;
    assert_eq!(status, axum::http::StatusCode::FORBIDDEN);
    assert_eq!(events(&app), before + 1);
}
