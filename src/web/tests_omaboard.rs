//! Omalizumab courses on the page's board and the patient's screen, without a browser: beside
//! the same patient's rush, due, under observation with the minutes left, held after an
//! anaphylaxis; every word from the ward's decision, none worked out in the page.

use std::sync::Arc;

use axum::http::StatusCode;

use super::App;
use super::tests::{at, get, send};
use super::tests_course::{login_as, ward_with_a_course};
use crate::course::EventKind;
use crate::ward::OmalizumabStart;
use crate::ward::omalizumab::OmalizumabRecord;

/// Course 1 of P1 (the rush from 2026-12-07 08:00) and course 2, omalizumab from 2026-12-07
/// (600 mg every 4 weeks), started by the physician; the clock at 2026-12-07 08:00.
fn with_omalizumab(dir: &tempfile::TempDir) -> Arc<App> {
    let app = ward_with_a_course(dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (physician, _) = ward
                .login("dr.ng", "doctor-password-1", "test", now)
                .expect("physician");
            let (id, _) = ward
                .start_omalizumab(
                    &physician,
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
            assert_eq!(id, 2);
        })
        .expect("ward");
    app
}

/// Records an entry on course 2 as the physician, at `t` (the nurse stays logged in to the
/// page).
fn record(app: &Arc<App>, t: &str, what: OmalizumabRecord) {
    app.wards
        .with(|ward| {
            let t = at(t);
            let (physician, _) = ward
                .login("dr.ng", "doctor-password-1", "test", t)
                .expect("physician");
            ward.record_omalizumab(&physician, 2, t, t, what)
                .expect("recorded");
        })
        .expect("ward");
}

#[tokio::test(flavor = "current_thread")]
async fn the_board_and_the_patient_s_screen_show_the_omalizumab_course_beside_the_rush() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = with_omalizumab(&dir);
    let session = login_as(&app, "rn.li", "nurse-password-1").await;
    let (status, _, body) = send(&app, get("/", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);
    // Due now, with its dose, syringes and observation, linked to its course page.
    assert!(
        body.contains(
            "omalizumab 600 mg (4 × 150 mg) injection 1, due 2026-12-07; observe 120 min after it"
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"id="board-course-2" href="/course/2""#),
        "{body}"
    );
    assert!(
        body.contains("not recalculated from IgE measured during treatment"),
        "{body}"
    );
    // The rush's first dose is on the board as before.
    assert!(
        body.contains(r#"id="board-course-1" href="/course/1""#),
        "{body}"
    );
    let (_, _, day) = send(&app, get("/patient?id=P1", Some(&session))).await;
    assert!(day.contains("<h2>Omalizumab</h2>"), "{day}");
    assert!(day.contains(r#"<a href="/course/2">Course 2</a>"#), "{day}");
    assert!(
        day.contains("omalizumab 600 mg (4 × 150 mg) injection 1, due 2026-12-07"),
        "{day}"
    );
    assert!(day.contains("0 injections given"), "{day}");
    // Given at 08:00: 2 h of observation; at 08:30 the board says 90 min left.
    record(
        &app,
        "2026-12-07 08:00",
        OmalizumabRecord::Give {
            patient: "P1".into(),
            site: Some("both arms".into()),
            accept_late: None,
        },
    );
    assert!(app.clock.set(at("2026-12-07 08:30")));
    // (The session is idle past the ward's 15 minutes: log in again.)
    let session = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, board) = send(&app, get("/board", Some(&session))).await;
    assert!(
        board.contains("omalizumab: IN OBSERVATION until 10:00"),
        "{board}"
    );
    assert!(board.contains("90 min left"), "{board}");
    // An anaphylaxis at 08:40 holds both courses.
    record(
        &app,
        "2026-12-07 08:40",
        OmalizumabRecord::Event(EventKind::SystemicReaction {
            grade: "3b".parse().expect("grade"),
            onset_min: 40,
            symptom: "wheeze and hypotension".into(),
            treatment: Some("epinephrine 0.5 mg".into()),
        }),
    );
    assert!(app.clock.set(at("2026-12-07 08:45")));
    let session = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, board) = send(&app, get("/board", Some(&session))).await;
    insta::assert_snapshot!("board_omalizumab_held", board);
    assert!(
        board.contains(
            "omalizumab: DO NOT GIVE: a systemic reaction on this course awaits a physician's review"
        ),
        "{board}"
    );
    assert!(
        board.contains("DO NOT GIVE: course 2 of the same patient awaits a physician"),
        "{board}"
    );
    let (_, _, day) = send(&app, get("/patient?id=P1", Some(&session))).await;
    assert!(day.contains("1 injection given"), "{day}");
    assert!(day.contains("omalizumab: DO NOT GIVE"), "{day}");
    assert!(day.contains("No allergen dose is due today."), "{day}");
}
