//! Page tests of an omalizumab course's page: the course shown with its plan and without any
//! vial or dose-step control; each form recorded through the ward as the CLI records it, and
//! refused with nothing written where the CLI refuses (an observation ended before its minutes,
//! a nurse's late injection, a stale form, a wrong patient).

use std::sync::Arc;

use axum::http::StatusCode;

use super::App;
use super::tests::{at, get, send};
use super::tests_course::{login_as, post_form, ward_with_a_course};
use crate::course::ActionKind;
use crate::ward::OmalizumabStart;

/// Course 1 of Zhang Wei (the 3-day rush) and course 2, his omalizumab course from
/// 2026-12-07 (the EU table: 600 mg every 4 weeks); the clock at 2026-12-07 08:00.
fn with_omalizumab(dir: &tempfile::TempDir) -> Arc<App> {
    let app = ward_with_a_course(dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (doctor, _) = ward
                .login("dr.ng", "doctor-password-1", "test", now)
                .expect("physician");
            let started = ward
                .start_omalizumab(
                    &doctor,
                    OmalizumabStart {
                        patient_id: "P1",
                        label: "eu",
                        rule_sources: crate::policy::bundled_sources(),
                        start: now.date(),
                        now,
                    },
                )
                .expect("ward")
                .expect("started");
            assert_eq!((started.0, started.1.dose_mg), (2, 600));
        })
        .expect("ward");
    app
}

/// The page's CSRF token and the course's last entry, from course 2's page.
async fn tokens(app: &Arc<App>, session: &str) -> (String, String) {
    let (status, _, body) = send(app, get("/course/2", Some(session))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let attr = |name: &str| {
        body.split(&format!(r#"name="{name}" value=""#))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("hidden field")
            .to_string()
    };
    (attr("csrf"), attr("seen"))
}

fn events(app: &Arc<App>, course: i64) -> usize {
    app.wards
        .with(|ward| ward.event_log(course).expect("events").events.len())
        .expect("ward")
}

/// Sets the training clock and logs the nurse in again (a session ends after its idle
/// minutes): her session.
async fn nurse_at(app: &Arc<App>, when: &str) -> String {
    assert!(app.clock.set(at(when)), "a training clock");
    login_as(app, "rn.li", "nurse-password-1").await
}

/// Posts a form of course 2's page with its tokens and `fields`.
async fn post2(
    app: &Arc<App>,
    session: &str,
    form: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Vec<String>, String) {
    let (csrf, seen) = tokens(app, session).await;
    let mut f = vec![("csrf", csrf.as_str()), ("seen", seen.as_str())];
    f.extend_from_slice(fields);
    post_form(app, &format!("/course/2/{form}"), session, &f).await
}

/// Gives injection 1 as the nurse at the clock's time; asserts it was recorded.
async fn give(app: &Arc<App>, session: &str) {
    let before = events(app, 2);
    let (status, cookies, body) = post2(
        app,
        session,
        "give",
        &[("patient", "P1"), ("site", "both upper arms")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body} {cookies:?}");
    assert_eq!(events(app, 2), before + 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_shows_the_omalizumab_course_its_plan_and_no_vial_or_step_control() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = with_omalizumab(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (status, _, body) = send(&app, get("/course/2", Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for said in [
        "Omalizumab course 2",
        "Zhang Wei",
        "600 mg every 4 weeks · 4 injections · syringes 4 × 150 mg",
        "The dose is not recalculated from IgE measured during treatment (label)",
        "13 laid over the first 52 weeks",
        "Omalizumab injection 1: 600 mg (4 × 150 mg), due 2026-12-07",
        "Observe 120 min after it",
        "Give this injection",
        "Mon 2027-01-04",
        "/course/2/protocol.pdf",
    ] {
        assert!(body.contains(said), "{said:?} not in the page:\n{body}");
    }
    // No vial section, no scan field, no dose step or step back.
    for absent in [
        "Vials",
        "scan_vial",
        "scan_patient",
        "vial-add",
        "step-back",
        r#"name="step""#,
        r#"name="volume""#,
    ] {
        assert!(!body.contains(absent), "{absent:?} in the page");
    }
    // Every field has its label, the physician's forms too.
    let doctor = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (_, _, doctors) = send(&app, get("/course/2", Some(&doctor))).await;
    assert!(doctors.contains("Physician&#39;s review") || doctors.contains("Physician's review"));
    for page in [&body, &doctors] {
        let (fields, labels) = super::tests_a11y::fields_and_labels(page);
        assert!(fields.len() >= 4, "{fields:?}");
        for f in &fields {
            assert!(labels.contains(f), "field {f} has no <label for>");
        }
    }
    // Its protocol, from the page's link.
    let (status, _, pdf) = send(&app, get("/course/2/protocol.pdf", Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with("%PDF-"));
    // The immunotherapy course's page is as it was.
    let (status, _, rush) = send(&app, get("/course/1", Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        rush.contains("Give this dose") && rush.contains("Vials"),
        "{rush}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn give_then_an_observation_ended_before_two_hours_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = with_omalizumab(&dir);
    let nurse = nurse_at(&app, "2026-12-07 09:00").await;
    // The wrong patient: refused, nothing written.
    let (status, _, body) = post2(&app, &nurse, "give", &[("patient", "P2")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("wrong patient"), "{body}");
    assert_eq!(events(&app, 2), 0);
    // No patient typed: the field says so.
    let (status, _, body) = post2(&app, &nurse, "give", &[("site", "left arm")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("read it from the wristband"), "{body}");
    assert_eq!(events(&app, 2), 0);
    give(&app, &nurse).await;
    let (_, _, page) = send(&app, get("/course/2", Some(&nurse))).await;
    assert!(
        page.contains("Observe the patient until 2026-12-07 11:00"),
        "{page}"
    );
    assert!(page.contains("given 2026-12-07 09:00") && page.contains("both upper arms"));
    // 30 minutes after: refused (2 h for the first 3 injections), nothing written.
    let nurse = nurse_at(&app, "2026-12-07 09:30").await;
    let (status, _, body) = post2(&app, &nurse, "observe", &[("local_mm", "0")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("observed 120 min, until 11:00"), "{body}");
    assert!(!body.contains("not recorded: not recorded"), "{body}");
    assert_eq!(events(&app, 2), 1);
    // With its reason it may end early; at 11:00 without one.
    let nurse = nurse_at(&app, "2026-12-07 11:00").await;
    let (status, _, body) = post2(&app, &nurse, "observe", &[("local_mm", "4")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(events(&app, 2), 2);
    let (_, _, page) = send(&app, get("/course/2", Some(&nurse))).await;
    assert!(page.contains("local 4 mm"), "{page}");
    assert!(
        page.contains("Omalizumab injection 2: 600 mg (4 × 150 mg), not before 2027-01-04"),
        "{page}"
    );
    // Not before its date: no give form, and a give sent anyway is refused.
    assert!(!page.contains("Give this injection"), "{page}");
    let (status, _, body) = post2(&app, &nurse, "give", &[("patient", "P1")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("no injection before its interval"), "{body}");
    assert_eq!(events(&app, 2), 2);
    // A vial form on it: no such thing.
    let (status, _, _) = post2(&app, &nurse, "vial-add", &[("vial", "1")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(events(&app, 2), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_stale_form_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = with_omalizumab(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    give(&app, &nurse).await;
    // A note filled in on the page as it was before the injection.
    let (status, _, body) = post_form(
        &app,
        "/course/2/note",
        &nurse,
        &[("csrf", &csrf), ("seen", &seen), ("text", "tolerated well")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("has changed since this form was shown"),
        "{body}"
    );
    assert_eq!(events(&app, 2), 1);
    // A wrong CSRF token: refused.
    let (status, _, _) = post_form(
        &app,
        "/course/2/note",
        &nurse,
        &[("csrf", "nope"), ("seen", "1"), ("text", "tolerated well")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(events(&app, 2), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_systemic_reaction_on_omalizumab_holds_the_patients_other_course() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = with_omalizumab(&dir);
    let nurse = nurse_at(&app, "2026-12-07 07:00").await;
    give(&app, &nurse).await;
    let nurse = nurse_at(&app, "2026-12-07 07:40").await;
    let (status, _, body) = post2(
        &app,
        &nurse,
        "react",
        &[
            ("type", "systemic"),
            ("grade", "3b"),
            ("onset_min", "35"),
            ("symptom", "wheeze and hypotension"),
            ("treatment", "epinephrine 0.5 mg"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(events(&app, 2), 2);
    // The rush course is held: its page says DO NOT GIVE, and the ward's decision agrees.
    let nurse = nurse_at(&app, "2026-12-07 08:00").await;
    let action = app
        .wards
        .with(|ward| {
            let v = ward.view(1).expect("view");
            v.decide(at("2026-12-07 08:00")).expect("decide").action
        })
        .expect("ward");
    assert_eq!(action, ActionKind::PatientHold);
    let (_, _, page) = send(&app, get("/course/2", Some(&nurse))).await;
    assert!(page.contains("DO NOT GIVE"), "{page}");
    assert!(!page.contains("Give this injection"), "{page}");
    // A nurse cannot lift it; a physician's review does.
    let (status, _, _) = post2(&app, &nurse, "review", &[("decision", "continue")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(events(&app, 2), 2);
    let doctor = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (status, _, body) = post2(
        &app,
        &doctor,
        "review",
        &[
            ("decision", "continue"),
            ("reason", "premedicate; observe longer"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let action = app
        .wards
        .with(|ward| {
            let v = ward.view(1).expect("view");
            v.decide(at("2026-12-07 08:00")).expect("decide").action
        })
        .expect("ward");
    assert_ne!(action, ActionKind::PatientHold);
}

#[tokio::test(flavor = "current_thread")]
async fn a_nurse_cannot_give_a_late_injection_a_physician_can_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = with_omalizumab(&dir);
    let nurse = nurse_at(&app, "2026-12-07 09:00").await;
    give(&app, &nurse).await;
    let nurse = nurse_at(&app, "2026-12-07 11:00").await;
    let (status, _, _) = post2(&app, &nurse, "observe", &[("local_mm", "0")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Two days past injection 2's date.
    let nurse = nurse_at(&app, "2027-01-06 09:00").await;
    let (_, _, page) = send(&app, get("/course/2", Some(&nurse))).await;
    assert!(page.contains("LATE by 2 days"), "{page}");
    assert!(!page.contains("Give this injection"), "{page}");
    assert!(
        page.contains("only a physician gives this injection"),
        "{page}"
    );
    // Sent anyway: refused, without a reason and with one.
    let (status, _, body) = post2(&app, &nurse, "give", &[("patient", "P1")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("2 days late"), "{body}");
    assert!(!body.contains("--accept-late"), "{body}");
    let (status, _, body) = post2(
        &app,
        &nurse,
        "give",
        &[("patient", "P1"), ("accept_late", "stable")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("physician"), "{body}");
    assert_eq!(events(&app, 2), 2);
    // The physician's page asks for the reason; with it, the injection is recorded.
    let doctor = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (_, _, page) = send(&app, get("/course/2", Some(&doctor))).await;
    assert!(page.contains("Physician: give it late, because"), "{page}");
    let (status, _, body) = post2(
        &app,
        &doctor,
        "give",
        &[
            ("patient", "P1"),
            ("accept_late", "asthma stable; away for the holiday"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(events(&app, 2), 3);
    let (_, _, page) = send(&app, get("/course/2", Some(&doctor))).await;
    assert!(
        page.contains("late, accepted by a physician: asthma stable; away for the holiday"),
        "{page}"
    );
}
