//! Page tests of the patient's screen (several extracts in one visit) and of what the page does
//! for everyone: every field labelled, the error summary focused after a refusal, status in
//! words wherever the style sheet colours it.

use std::sync::Arc;

use axum::http::StatusCode;

use super::App;
use super::tests::{at, get, send};
use super::tests_course::{encode, login_as, post_form, tokens, ward_with_a_course};
use crate::ward::Start;
use crate::ward::view::Arm;

/// Course 1 of Zhang Wei (the bundled 3-day rush) and course 2 of another extract (the test
/// template `clinic-rush-2d`), both from 2026-12-07 08:00; the clock at 08:00.
fn two_extracts(dir: &tempfile::TempDir) -> Arc<App> {
    let app = ward_with_a_course(dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (nurse, _) = ward
                .login("rn.li", "nurse-password-1", "test", now)
                .expect("nurse");
            let policy = crate::policy::Policy::bundled().expect("rules");
            let mut sources = crate::template::bundled_sources();
            sources.push(crate::diag::SourceText::new(
                "clinic-rush-2d.toml",
                include_str!("../../tests/fixtures/clinic-templates/clinic-rush-2d.toml"),
            ));
            let (catalog, _) = crate::template::Catalog::build(sources, &policy);
            let template = catalog.get("clinic-rush-2d").expect("template");
            let started = ward
                .start(
                    &nurse,
                    Start {
                        patient_id: "P1",
                        template,
                        catalog: &catalog,
                        policy: &policy,
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
            assert!(started.is_ok(), "the second course starts");
        })
        .expect("ward");
    app
}

/// A give form of course 1 as a careful nurse fills it, confirmed, the left arm.
fn give<'a>(csrf: &'a str, seen: &'a str, patient: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("seen", seen),
        ("patient", patient),
        ("step", "1"),
        ("volume", "0.1"),
        ("pef", "95"),
        ("site", "left"),
        ("confirm", "yes"),
    ];
    for q in [
        "q-reaction",
        "q-illness",
        "q-asthma",
        "q-medication",
        "q-exposure",
        "q-vaccination",
    ] {
        f.push((q, "no"));
    }
    f
}

#[tokio::test(flavor = "current_thread")]
async fn two_extracts_are_laid_one_after_the_other_in_other_arms() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = two_extracts(&dir);
    // The ward lays them: course 1 now, course 2 the rules' 30 min later, in the other arm.
    let day = app
        .wards
        .with(|w| w.patient_day("P1", at("2026-12-07 08:00")).expect("day"))
        .expect("ward");
    let laid: Vec<_> = day
        .doses
        .iter()
        .map(|d| (d.course.id, d.at, d.after, d.arm.clone()))
        .collect();
    assert_eq!(
        laid,
        vec![
            (1, at("2026-12-07 08:00"), None, Arm::Either),
            (
                2,
                at("2026-12-07 08:30"),
                Some((1, at("2026-12-07 08:00"))),
                Arm::OtherThan {
                    course: 1,
                    given: None
                }
            ),
        ]
    );
    assert_eq!(day.between_extracts.as_ref().map(|b| b.0), Some(30));
    assert!(day.rest.is_empty());
    // Each with its next dose's vial.
    for d in &day.doses {
        assert_eq!(
            d.course.decision.dosing.as_ref().map(|x| x.vial.as_str()),
            Some("1")
        );
    }
    // The page renders it, in that order.
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (status, _, body) = send(&app, get("/patient?id=P1", Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body.find(r#"href="/course/1""#).expect("course 1");
    let second = body.find(r#"href="/course/2""#).expect("course 2");
    assert!(first < second, "course 1 first");
    for want in [
        "Two extracts at least 30 min apart",
        "now (08:00)",
        "at 08:30 — after course 1 at 08:00",
        "either arm",
        "the other arm than course 1",
        "step 1: 0.1 mL of Vial 1 (grey, 100 SQ-U/mL) = 10 SQ-U",
        "Alutard SQ patient information",
    ] {
        assert!(body.contains(want), "{want:?} in {body}");
    }
    // The board and the course page link to it.
    let (_, _, board) = send(&app, get("/", Some(&nurse))).await;
    assert!(board.contains(r#"href="/patient?id=P1""#), "{board}");

    // Course 1 given at 08:00 in the left arm: at 08:10, course 2 waits until 08:30, in the
    // right arm; course 1 is in observation.
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (status, _, body) =
        post_form(&app, "/course/1/give", &nurse, &give(&csrf, &seen, "P1")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(app.clock.set(at("2026-12-07 08:10")));
    let day = app
        .wards
        .with(|w| w.patient_day("P1", at("2026-12-07 08:10")).expect("day"))
        .expect("ward");
    assert_eq!(day.doses.len(), 1);
    let d = &day.doses[0];
    assert_eq!(
        (d.course.id, d.at, d.after, d.arm.clone()),
        (
            2,
            at("2026-12-07 08:30"),
            Some((1, at("2026-12-07 08:00"))),
            Arm::OtherThan {
                course: 1,
                given: Some("left".into())
            }
        )
    );
    assert_eq!(day.rest.iter().map(|c| c.id).collect::<Vec<_>>(), vec![1]);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, body) = send(&app, get("/patient?id=P1", Some(&nurse))).await;
    assert!(body.contains("not the left arm"), "{body}");
    assert!(body.contains("IN OBSERVATION until 08:30"), "{body}");
    // An unknown patient: not found, in words.
    let (status, _, body) = send(&app, get("/patient?id=P9", Some(&nurse))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// The opening tag of the element with this id.
fn tag_with_id<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body.find(&format!(r#"id="{id}""#)).expect("the element");
    let start = body[..at].rfind('<').expect("its tag");
    let end = at + body[at..].find('>').expect("its end");
    &body[start..=end]
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_give_focuses_its_error_summary() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = two_extracts(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (status, _, body) =
        post_form(&app, "/course/1/give", &nurse, &give(&csrf, &seen, "P2")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let summary = tag_with_id(&body, "error-summary");
    for want in [r#"role="alert""#, r#"tabindex="-1""#, "autofocus"] {
        assert!(summary.contains(want), "{want} in {summary}");
    }
    assert_eq!(
        body.matches("autofocus").count(),
        1,
        "one element is focused"
    );
    // A form with a missing field: the summary too.
    let mut form = give(&csrf, &seen, "P1");
    form.retain(|(k, _)| *k != "pef");
    let (status, _, body) = send(
        &app,
        super::tests::post("/course/1/give", Some(&nurse), &encode(&form)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(tag_with_id(&body, "error-summary").contains("autofocus"));
    // A refused login: its error, not the first field.
    let (_, cookies, _) = send(&app, get("/login", None)).await;
    let pre = super::tests::value_of(&cookies, "ritplan_login");
    let (status, _, body) = send(
        &app,
        super::tests::post(
            "/login",
            Some(&format!("ritplan_login={pre}")),
            &format!("id=rn.li&password=wrong&csrf={pre}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(tag_with_id(&body, "error-summary").contains("autofocus"));
    assert_eq!(body.matches("autofocus").count(), 1);
}

/// The ids of the visible form fields of a page, and the `for` of its labels.
pub(super) fn fields_and_labels(body: &str) -> (Vec<String>, Vec<String>) {
    let attr = |tag: &str, name: &str| {
        tag.split(&format!(r#" {name}=""#))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(String::from)
    };
    let mut fields = Vec::new();
    let mut labels = Vec::new();
    for (i, _) in body.match_indices('<') {
        let tag = &body[i..i + body[i..].find('>').unwrap_or(0)];
        if tag.starts_with("<label") {
            labels.extend(attr(tag, "for"));
        } else if (tag.starts_with("<input ") && !tag.contains(r#"type="hidden""#))
            || tag.starts_with("<select ")
            || tag.starts_with("<textarea ")
        {
            fields.push(attr(tag, "id").unwrap_or_else(|| format!("(no id) {tag}")));
        }
    }
    (fields, labels)
}

#[tokio::test(flavor = "current_thread")]
async fn every_field_has_a_label_for_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = two_extracts(&dir);
    let (_, _, login) = send(&app, get("/login", None)).await;
    let doctor = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (_, _, board) = send(&app, get("/?q=zhang", Some(&doctor))).await;
    let (_, _, course) = send(&app, get("/course/1", Some(&doctor))).await;
    let (csrf, seen) = tokens(&app, &doctor).await;
    let mut form = give(&csrf, &seen, "P1");
    form.retain(|(k, _)| *k != "confirm");
    let (_, _, confirm) = post_form(&app, "/course/1/give", &doctor, &form).await;
    assert!(confirm.contains("Check before you inject"), "{confirm}");
    let (_, _, patient) = send(&app, get("/patient?id=P1", Some(&doctor))).await;
    let mut checked = 0;
    for (what, body) in [
        ("login", &login),
        ("board", &board),
        ("course", &course),
        ("confirm", &confirm),
        ("patient", &patient),
    ] {
        let (fields, labels) = fields_and_labels(body);
        for f in &fields {
            assert!(labels.contains(f), "{what}: field {f} has no <label for>");
        }
        checked += fields.len();
    }
    // The physician's course page alone has the give, review, note, defer forms.
    assert!(checked > 20, "{checked} fields");
}

#[test]
fn every_coloured_status_class_says_its_status_in_words() {
    use crate::ward::BoardStatus;
    // The board's rows: each status has a class (the colour) and a word (the status cell).
    let all = [
        BoardStatus::ObservationOverdue,
        BoardStatus::DueNow,
        BoardStatus::InObservation,
        BoardStatus::Waiting,
        BoardStatus::DoNotGive,
        BoardStatus::DoneToday,
    ];
    let classes: Vec<&str> = all.iter().map(|s| super::pages::status_class(*s)).collect();
    for s in all {
        assert!(!crate::render::course::board_status(s).trim().is_empty());
    }
    // Every row class the style sheet colours is one of them; every decision or notice class
    // it colours also puts a symbol before its words (✖ ⚠ ▶ ✔) or is a notice the page
    // writes with one.
    let css = super::pages::CSS;
    let mut coloured = 0;
    for rule in css.lines() {
        let Some((selector, decl)) = rule.split_once('{') else {
            continue;
        };
        let colours = ["background", "color:", "border-color", "border-left"]
            .iter()
            .any(|p| decl.contains(p));
        let selector = selector.trim();
        if let Some(class) = selector.strip_prefix("tr.") {
            let class = class.split([' ', ':']).next().unwrap_or_default();
            assert!(
                classes.contains(&class),
                "{selector}: a row class with no status word"
            );
            coloured += usize::from(colours);
        }
        if let Some(kind) = selector.strip_prefix(".decision.") {
            let kind = kind.split([' ', ':']).next().unwrap_or_default();
            if colours {
                coloured += 1;
                assert!(
                    css.contains(&format!(
                        ".decision.{kind} .headline::before {{ content: \""
                    )),
                    "{selector}: coloured, with no symbol before the headline"
                );
            }
        }
    }
    assert!(coloured >= 6, "{coloured}");
}
