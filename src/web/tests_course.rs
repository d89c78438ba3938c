//! Handler tests of the course page and its forms, without a browser: each form's success and
//! refusal, a stale form, a wrong patient, a missing CSRF token, a nurse's review, the give
//! confirmation step, and that nothing is written whenever a form is refused.

use std::sync::Arc;

use axum::http::StatusCode;

use super::App;
use super::tests::{app, at, get, post, send, value_of};
use crate::ward::{NewStaff, Role, Start};

/// A training record with a nurse (rn.li), a physician (dr.ng) and course 1 of Zhang Wei (P1)
/// on the bundled 3-day rush template from 2026-12-07 08:00; the clock at 08:00.
pub(super) fn ward_with_a_course(dir: &tempfile::TempDir) -> Arc<App> {
    let app = app(dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (admin, _) = ward
                .login("admin", "admin-password-1", "test", now)
                .expect("admin");
            ward.staff_add(
                &admin,
                NewStaff {
                    id: "dr.ng".into(),
                    name: "Dr Ng".into(),
                    role: Role::Physician,
                    secret: "doctor-password-1".into(),
                },
                now,
            )
            .expect("physician");
            let (nurse, _) = ward
                .login("rn.li", "nurse-password-1", "test", now)
                .expect("nurse");
            let p = crate::ward::view::PatientRecord {
                id: "P1".into(),
                name: "Zhang Wei".into(),
                dob: crate::testkit::date("1990-05-01"),
                weight_kg: "70".into(),
                sige: "2".into(),
                total_ige: "410".into(),
                fev1_percent: Some("92".into()),
                asthma: Some("controlled".into()),
                beta_blocker: false,
            };
            ward.add_patient(&nurse, &p, now).expect("patient");
            let b = crate::testkit::bundled();
            let template = b.catalog.get("example-hdm-rush-3d").expect("template");
            let started = ward
                .start(
                    &nurse,
                    Start {
                        patient_id: "P1",
                        template,
                        catalog: &b.catalog,
                        policy: &b.policy,
                        rule_sources: crate::policy::bundled_sources(),
                        start: now,
                        calendar: crate::testkit::weekdays(),
                        omalizumab_weeks: None,
                        accept_risk: None,
                        accept_age: None,
                        accept_missing: None,
                        now,
                    },
                )
                .expect("ward");
            assert!(started.is_ok(), "the course starts");
        })
        .expect("ward");
    app
}

pub(super) async fn login_as(app: &Arc<App>, id: &str, password: &str) -> String {
    let (_, cookies, _) = send(app, get("/login", None)).await;
    let pre = value_of(&cookies, "ritplan_login");
    let (status, cookies, _) = send(
        app,
        post(
            "/login",
            Some(&format!("ritplan_login={pre}")),
            &format!("id={id}&password={password}&csrf={pre}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{id} logs in");
    format!("ritplan_session={}", value_of(&cookies, "ritplan_session"))
}

/// A form's fields, URL-encoded.
pub(super) fn encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Posts a form as `session`.
pub(super) async fn post_form(
    app: &Arc<App>,
    path: &str,
    session: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Vec<String>, String) {
    send(app, post(path, Some(session), &encode(fields))).await
}

/// The page's CSRF token and the course's last entry as the page shows them.
pub(super) async fn tokens(app: &Arc<App>, session: &str) -> (String, String) {
    let (status, _, body) = send(app, get("/course/1", Some(session))).await;
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

/// Sends a form; asserts that it was recorded (the redirect back to the course page).
async fn recorded(app: &Arc<App>, req: axum::http::Request<axum::body::Body>) {
    let path = req.uri().to_string();
    let r = tower::ServiceExt::oneshot(super::router(app.clone()), req)
        .await
        .expect("response");
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        r.status() == StatusCode::SEE_OTHER && location.starts_with("/course/1?done="),
        "{path}: {} to {location:?}",
        r.status()
    );
}

pub(super) fn events(app: &Arc<App>) -> usize {
    app.wards
        .with(|ward| ward.event_log(1).expect("events").events.len())
        .expect("ward")
}

/// A give form answered as a careful nurse would, with `extra` replacing fields.
fn give_form<'a>(
    csrf: &'a str,
    seen: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("seen", seen),
        ("patient", "P1"),
        ("step", "1"),
        ("volume", "0.1"),
        ("pef", "95"),
        ("lot", "L-1"),
        ("site", "left"),
    ];
    for q in [
        "reaction",
        "illness",
        "asthma",
        "medication",
        "exposure",
        "vaccination",
    ] {
        f.push((
            match q {
                "reaction" => "q-reaction",
                "illness" => "q-illness",
                "asthma" => "q-asthma",
                "medication" => "q-medication",
                "exposure" => "q-exposure",
                _ => "q-vaccination",
            },
            "no",
        ));
    }
    for (k, v) in extra {
        f.retain(|(name, _)| name != k);
        f.push((k, v));
    }
    f
}

#[tokio::test(flavor = "current_thread")]
async fn the_course_page_shows_the_patient_the_decision_and_a_filled_give_form() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (status, _, body) = send(&app, get("/course/1", Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "Zhang Wei",
        "ID <strong>P1</strong>",
        "born 1990-05-01 (36 years)",
        "70 kg",
        "GIVE step 1",
        "evidence",
        r#"name="step" value="1""#,
        r#"name="volume" value="0.1""#,
        r#"<label for="give-pef">"#,
        "Does the patient have a respiratory infection or another illness today?",
        "Norwegian guide",
        "/course/1/protocol.pdf",
    ] {
        assert!(body.contains(want), "{want:?} in the page");
    }
    assert!(
        !body.contains("Physician&#39;s review") && !body.contains("Physician's review"),
        "a nurse has no review form"
    );
    // The board links to the course.
    let (_, _, board) = send(&app, get("/", Some(&nurse))).await;
    assert!(board.contains(r#"href="/course/1""#));
}

#[tokio::test(flavor = "current_thread")]
async fn a_give_form_with_bad_fields_comes_back_with_the_errors_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let form = give_form(
        &csrf,
        &seen,
        &[
            ("pef", "950"),
            ("q-illness", "yes"),
            ("q-asthma", ""),
            ("site", "leg"),
        ],
    );
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("correct the fields marked"), "{body}");
    assert!(
        body.contains("PEF/FEV1: &quot;950&quot; is not a percentage"),
        "next to the field"
    );
    assert!(body.contains("Answered yes: this dose is not given now; postpone until well"));
    assert!(body.contains("answer yes or no"));
    assert!(body.contains("the arm is left or right"));
    assert!(body.contains(r#"value="L-1""#), "what was typed is kept");
    assert_eq!(events(&app), 0, "nothing written");
}

#[tokio::test(flavor = "current_thread")]
async fn a_dose_is_saved_only_after_its_confirmation_and_a_wrong_patient_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (status, _, body) = post_form(
        &app,
        "/course/1/give",
        &nurse,
        &give_form(&csrf, &seen, &[("patient", "P2")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("wrong patient: course 1 is Zhang Wei"),
        "{body}"
    );
    assert_eq!(events(&app), 0);
    // The right patient: the confirmation first, nothing saved yet.
    let form = give_form(&csrf, &seen, &[]);
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Check before you inject"));
    assert!(
        body.contains(r#"<dd class="huge">Zhang Wei · ID P1</dd>"#),
        "{body}"
    );
    assert!(body.contains(r#"<dd class="huge">0.1 mL</dd>"#), "{body}");
    assert!(body.contains(r#"name="confirm" value="yes""#));
    assert_eq!(events(&app), 0, "not saved before it is confirmed");
    // Confirmed: saved, and the page says so.
    let mut confirmed = form.clone();
    confirmed.push(("confirm", "yes"));
    recorded(
        &app,
        post("/course/1/give", Some(&nurse), &encode(&confirmed)),
    )
    .await;
    assert_eq!(events(&app), 1);
    let (_, _, page) = send(&app, get("/course/1?done=1", Some(&nurse))).await;
    assert!(page.contains("Recorded entry #1"));
    assert!(page.contains("IN OBSERVATION until"), "the decision now");
    // The same confirmation sent twice (a double click, a second nurse's stale form) is stale.
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &confirmed).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains("has changed since this form was shown"),
        "{body}"
    );
    assert_eq!(events(&app), 1, "nothing written twice");
}

#[tokio::test(flavor = "current_thread")]
async fn forms_without_the_session_s_token_or_the_course_s_state_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, _) = tokens(&app, &nurse).await;
    let (status, _, _) = post_form(
        &app,
        "/course/1/note",
        &nurse,
        &[("csrf", "forged"), ("seen", "0"), ("text", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = post_form(
        &app,
        "/course/1/note",
        &nurse,
        &[("csrf", &csrf), ("text", "x")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no state: refused like a stale form"
    );
    assert!(body.contains("did not say which state"));
    let (status, _, _) = send(
        &app,
        post(
            "/course/1/note",
            None,
            &encode(&[("csrf", &csrf), ("seen", "0"), ("text", "x")]),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "no session: to the login page"
    );
    assert_eq!(events(&app), 0);
    // A note recorded: the form with the old state is now stale.
    recorded(
        &app,
        post(
            "/course/1/note",
            Some(&nurse),
            &encode(&[("csrf", &csrf), ("seen", "0"), ("text", "arrived")]),
        ),
    )
    .await;
    let (status, _, body) = post_form(
        &app,
        "/course/1/defer",
        &nurse,
        &[("csrf", &csrf), ("seen", "0"), ("reason", "fever")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains("its last entry was #0, it is now #1"),
        "{body}"
    );
    assert!(body.contains("arrived"), "re-shown with the new state");
    assert_eq!(events(&app), 1);
    // An empty required field: the error next to it.
    let (status, _, body) = post_form(
        &app,
        "/course/1/defer",
        &nurse,
        &[("csrf", &csrf), ("seen", "1"), ("reason", "  ")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains(r#"id="defer-reason-error""#), "{body}");
    assert_eq!(events(&app), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn observe_react_and_review_through_the_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let mut form = give_form(&csrf, &seen, &[]);
    form.push(("confirm", "yes"));
    recorded(&app, post("/course/1/give", Some(&nurse), &encode(&form))).await;
    // Too early, no size: the form comes back.
    let (status, _, body) = post_form(
        &app,
        "/course/1/observe",
        &nurse,
        &[("csrf", &csrf), ("seen", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("the local reaction&#39;s size in mm is required")
            || body.contains("the local reaction's size in mm is required"),
        "{body}"
    );
    let (status, _, body) = post_form(
        &app,
        "/course/1/observe",
        &nurse,
        &[("csrf", &csrf), ("seen", "1"), ("local_mm", "5")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("by writing why it ends early"),
        "the page's words, not a flag: {body}"
    );
    assert!(!body.contains("--early"), "{body}");
    assert_eq!(events(&app), 1);
    // 31 minutes later: past the 15-minute idle timeout, so the nurse logs in again.
    assert!(app.clock.set(at("2026-12-07 08:31")));
    let (status, _, _) = send(&app, get("/course/1", Some(&nurse))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the idle session has ended");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, _) = tokens(&app, &nurse).await;
    recorded(
        &app,
        post(
            "/course/1/observe",
            Some(&nurse),
            &encode(&[("csrf", &csrf), ("seen", "1"), ("local_mm", "5")]),
        ),
    )
    .await;
    let (status, _, body) = post_form(
        &app,
        "/course/1/react",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", "2"),
            ("type", "systemic"),
            ("grade", "2x"),
            ("onset_min", "12"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("the epinephrine suffix must be a, b, c, d or z"),
        "{body}"
    );
    assert!(body.contains("The first symptom is required"), "{body}");
    recorded(
        &app,
        post(
            "/course/1/react",
            Some(&nurse),
            &encode(&[
                ("csrf", &csrf),
                ("seen", "2"),
                ("type", "systemic"),
                ("grade", "2a"),
                ("onset_min", "12"),
                ("symptom", "wheeze"),
                ("treatment", "adrenaline 0.5 mg im"),
            ]),
        ),
    )
    .await;
    let (_, _, page) = send(&app, get("/course/1", Some(&nurse))).await;
    assert!(page.contains("DO NOT GIVE"), "{page}");
    // The rule is cited by its key in docs/sources.md, in plain words: no backticks.
    assert!(
        page.contains("(docs/sources.md: norwegian-guide)"),
        "{page}"
    );
    assert!(
        page.contains("if the physician decides to continue as the rules say"),
        "{page}"
    );
    assert!(!page.contains('`'), "{page}");
    assert!(page.contains("Only a physician can review this course"));
    assert!(
        !page.contains("Give this dose"),
        "no give form on a held course"
    );
    let (_, _, board) = send(&app, get("/board", Some(&nurse))).await;
    assert!(board.contains(r#"class="do_not_give""#), "{board}");
    // A nurse's review is refused by the ward, in words.
    let (status, _, body) = post_form(
        &app,
        "/course/1/review",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", "3"),
            ("decision", "repeat"),
            ("reason", "x"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("physician"), "{body}");
    assert_eq!(events(&app), 3);
    // The physician reviews.
    let doctor = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (csrf, seen) = tokens(&app, &doctor).await;
    assert_eq!(seen, "3");
    recorded(
        &app,
        post(
            "/course/1/review",
            Some(&doctor),
            &encode(&[
                ("csrf", &csrf),
                ("seen", &seen),
                ("decision", "step-back"),
                ("steps", "1"),
                ("reason", "grade 2 after step 1"),
            ]),
        ),
    )
    .await;
    assert_eq!(events(&app), 4);
    let (_, _, page) = send(&app, get("/course/1", Some(&doctor))).await;
    assert!(!page.contains("Only a physician can review"), "{page}");
    // A correction of the reaction is the physician's too; the nurse's is refused.
    let (csrf_n, _) = tokens(&app, &nurse).await;
    let (status, _, _) = post_form(
        &app,
        "/course/1/correct",
        &nurse,
        &[
            ("csrf", &csrf_n),
            ("seen", "4"),
            ("event", "3"),
            ("reason", "wrong patient"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(events(&app), 4);
}

#[tokio::test(flavor = "current_thread")]
async fn the_pdfs_come_from_a_button_and_only_a_training_clock_is_set() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    for path in [
        "/course/1/protocol.pdf",
        "/sheet.pdf?date=2026-12-07",
        "/sheet.pdf",
    ] {
        let r = tower::ServiceExt::oneshot(super::router(app.clone()), get(path, Some(&nurse)))
            .await
            .expect("response");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body = axum::body::to_bytes(r.into_body(), 1 << 24)
            .await
            .expect("body");
        assert!(body.starts_with(b"%PDF"), "{path}");
    }
    let (status, _, _) = send(&app, get("/course/1/protocol.pdf", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "behind the login");
    let (csrf, _) = tokens(&app, &nurse).await;
    let (status, _, _) = post_form(
        &app,
        "/training/clock",
        &nurse,
        &[("csrf", &csrf), ("at", "2026-12-07T09:15")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.clock.now(), at("2026-12-07 09:15"));
    let system = super::Clock::system(crate::zone::Zone::System, |_| at("2026-12-07 10:00"));
    assert!(
        !system.set(at("2026-12-08 10:00")),
        "a system clock is never set"
    );
    assert_eq!(system.now(), at("2026-12-07 10:00"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_clinic_s_second_check_is_signed_on_the_confirmation_screen() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (admin, _) = ward
                .login("admin", "admin-password-1", "test", now)
                .expect("admin");
            ward.set_setting(&admin, "second_check", "required", now)
                .expect("setting");
        })
        .expect("ward");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let form = give_form(&csrf, &seen, &[]);
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Second check (this clinic requires it)"),
        "{body}"
    );
    let mut confirmed = form.clone();
    confirmed.push(("confirm", "yes"));
    // Without the second person, by oneself, or with a wrong password: refused, nothing written.
    for extra in [
        vec![],
        vec![
            ("checker", "rn.li"),
            ("checker_password", "nurse-password-1"),
        ],
        vec![("checker", "dr.ng"), ("checker_password", "wrong-password")],
    ] {
        let mut f = confirmed.clone();
        f.extend(extra.iter().copied());
        let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &f).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{extra:?}: {body}");
        assert!(
            !body.contains("wrong-password"),
            "a password is never sent back"
        );
        assert_eq!(events(&app), 0, "{extra:?}");
    }
    let mut f = confirmed.clone();
    f.extend([
        ("checker", "dr.ng"),
        ("checker_password", "doctor-password-1"),
    ]);
    recorded(&app, post("/course/1/give", Some(&nurse), &encode(&f))).await;
    let e = app
        .wards
        .with(|ward| ward.event_log(1).expect("events").events)
        .expect("ward");
    assert!(
        matches!(&e[0].event.kind, crate::course::EventKind::DoseGiven { checked_by: Some(c), .. } if c == "dr.ng"),
        "{:?}",
        e[0].event.kind
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_give_form_shown_before_another_entry_is_stale_at_its_confirmation_step() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    assert_eq!(seen, "0");
    recorded(
        &app,
        post(
            "/course/1/note",
            Some(&nurse),
            &encode(&[("csrf", &csrf), ("seen", "0"), ("text", "arrived")]),
        ),
    )
    .await;
    // The ward's preview refuses it (nothing is confirmed on an old state of the course).
    let (status, _, body) = post_form(
        &app,
        "/course/1/give",
        &nurse,
        &give_form(&csrf, &seen, &[]),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("its last entry was #0, it is now #1"),
        "{body}"
    );
    assert!(!body.contains("Check before you inject"), "{body}");
    assert_eq!(events(&app), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_give_form_asks_for_the_premedication_the_template_names_and_the_dose_records_it() {
    // The bundled rush recommends an H1 antihistamine 2 h before each rush day's first
    // injection (docs/sources.md: nielsen-1996): a labelled field and a reminder.
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, page) = send(&app, get("/course/1", Some(&nurse))).await;
    for want in [
        r#"<label for="give-premedication">Premedication taken at (HH:MM today), or none</label>"#,
        "Premedication recommended: H1 antihistamine (e.g. loratadine 10 mg): recommended, taken between 04:00 and 07:00",
        "recommended: a reminder, it does not block the dose",
    ] {
        assert!(page.contains(want), "{want:?} in {page}");
    }
    assert!(
        !page.contains("accept_premedication"),
        "a nurse cannot accept a missing premedication"
    );
    let (csrf, seen) = tokens(&app, &nurse).await;
    // Not a time: back with the error beside the field, nothing written.
    let bad = give_form(&csrf, &seen, &[("premedication", "soon")]);
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("Premedication: &quot;soon&quot; is not when the premedication was taken"),
        "{body}"
    );
    assert_eq!(events(&app), 0);
    // A time: shown on the confirmation, then recorded with the dose.
    let form = give_form(&csrf, &seen, &[("premedication", "06:00")]);
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Premedication: taken 2026-12-07 06:00"),
        "{body}"
    );
    let mut confirmed = form.clone();
    confirmed.push(("confirm", "yes"));
    recorded(
        &app,
        post("/course/1/give", Some(&nurse), &encode(&confirmed)),
    )
    .await;
    let (_, _, page) = send(&app, get("/course/1?done=1", Some(&nurse))).await;
    assert!(
        page.contains("premedication taken 2026-12-07 06:00"),
        "{page}"
    );
}
