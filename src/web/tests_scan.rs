//! The give form's scans, without JavaScript: a scanner's Enter presses the form's first submit
//! button ("Check the scans"), which checks the scans, keeps them and moves the focus on, and
//! records nothing; each refused scan is a 422 with its words in an alert that takes the focus,
//! nothing written, no override lifting it; a good scan is shown on the confirmation and records
//! the vial's code and lot.

use std::sync::Arc;

use axum::http::StatusCode;

use super::App;
use super::tests::{at, get, post, send};
use super::tests_course::{encode, events, login_as, post_form, tokens, ward_with_a_course};
use crate::course::EventKind;
use crate::ward::{NewVial, Role, Start};

/// Course 1 (P1) as [`ward_with_a_course`], course 2 of a second patient (P2), the clinic's
/// `scan` setting, and vials: on course 1 vial 1 (good, "L100"), vial 3 (strong), vial 1
/// expiring today (old) and a discarded vial 1; on course 2 vial 1 (theirs).
struct Vials {
    good: String,
    strong: String,
    old: String,
    dropped: String,
    theirs: String,
}

fn setup(dir: &tempfile::TempDir, scan: &str) -> (Arc<App>, Vials) {
    let app = ward_with_a_course(dir);
    let vials = app
        .wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (admin, _) = ward
                .login("admin", "admin-password-1", "test", now)
                .expect("admin");
            ward.set_setting(&admin, "scan", scan, now).expect("scan");
            let (nurse, _) = ward
                .login("rn.li", "nurse-password-1", "test", now)
                .expect("nurse");
            assert_eq!(nurse.role, Role::Nurse);
            let p = crate::ward::view::PatientRecord {
                id: "P2".into(),
                name: "Ana Souza".into(),
                dob: crate::testkit::date("1985-02-01"),
                weight_kg: "60".into(),
                sige: "2".into(),
                total_ige: "300".into(),
                fev1_percent: Some("95".into()),
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
                        patient_id: "P2",
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
                .expect("start");
            assert!(started.is_ok());
            let mut add = |course: i64, vial: &str, lot: &str, expires: &str| {
                ward.add_vial(
                    &nurse,
                    course,
                    NewVial {
                        vial: vial.into(),
                        lot: Some(lot.into()),
                        expires: Some(crate::testkit::date(expires)),
                        ..NewVial::default()
                    },
                    now,
                )
                .expect("vial")
                .code
            };
            let v = Vials {
                good: add(1, "1", "L100", "2027-03-31"),
                strong: add(1, "3", "L300", "2027-03-31"),
                old: add(1, "1", "L0", "2026-12-07"),
                dropped: add(1, "1", "L9", "2027-03-31"),
                theirs: add(2, "1", "L2", "2027-03-31"),
            };
            ward.discard_vial(&nurse, &v.dropped, "dropped", now)
                .expect("discard");
            v
        })
        .expect("ward");
    (app, vials)
}

/// A give form answered in full, with `extra` replacing or adding fields.
fn give<'a>(csrf: &'a str, seen: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("seen", seen),
        ("patient", "P1"),
        ("step", "1"),
        ("volume", "0.1"),
        ("pef", "95"),
        ("site", "left"),
        ("q-reaction", "no"),
        ("q-illness", "no"),
        ("q-asthma", "no"),
        ("q-medication", "no"),
        ("q-exposure", "no"),
        ("q-vaccination", "no"),
    ];
    for (k, v) in extra {
        f.retain(|(name, _)| name != k);
        f.push((k, v));
    }
    f
}

/// The element with `id`'s opening tag.
fn tag<'b>(body: &'b str, id: &str) -> &'b str {
    let start = body
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("{id} in {body}"));
    let open = body[..start].rfind('<').expect("tag");
    let end = start + body[start..].find('>').expect("end");
    &body[open..=end]
}

#[tokio::test(flavor = "current_thread")]
async fn the_scan_fields_are_labelled_first_and_the_patient_scan_has_the_focus() {
    let dir = tempfile::tempdir().expect("tmp");
    let (app, _) = setup(&dir, "patient-and-vial");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, body) = send(&app, get("/course/1", Some(&nurse))).await;
    for (id, label) in [
        ("give-scan_patient", "Scan the patient&#39;s wristband"),
        ("give-scan_vial", "Scan the vial"),
    ] {
        assert!(
            body.contains(&format!(r#"<label for="{id}">{label}</label>"#))
                || body.contains(&format!(
                    r#"<label for="{id}">{}</label>"#,
                    label.replace("&#39;", "'")
                )),
            "{id}: {body}"
        );
        let t = tag(&body, id);
        assert!(t.contains(r#"autocomplete="off""#), "{t}");
        assert!(t.contains(r#"inputmode="text""#), "{t}");
    }
    assert!(tag(&body, "give-scan_patient").contains("autofocus"));
    assert!(!tag(&body, "give-scan_vial").contains("autofocus"));
    // In the form's order: the patient scan, the vial scan, then the "check the scans" button,
    // the first submit button of the form (the one an Enter presses), before the dose's fields.
    let form = &body[body.find(r#"action="/course/1/give""#).expect("give form")..];
    let pos = |s: &str| form.find(s).unwrap_or_else(|| panic!("{s}"));
    let check = r#"<button type="submit" name="check""#;
    assert!(pos("give-scan_patient") < pos("give-scan_vial"));
    assert!(pos("give-scan_vial") < pos(check));
    assert!(pos(check) < pos("give-pef"));
    assert_eq!(
        form[..pos(check)].matches(r#"type="submit""#).count(),
        0,
        "no submit button before it"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn enter_in_a_scan_field_checks_the_scans_moves_the_focus_and_records_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let (app, v) = setup(&dir, "patient-and-vial");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let before = events(&app);
    // The wristband scanned, Enter: the half-filled form (only the scan) comes back, the scan
    // kept and the focus on the vial's scan.
    let (status, _, body) = post_form(
        &app,
        "/course/1/give",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", &seen),
            ("scan_patient", "P1"),
            ("check", "yes"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("the wristband is patient P1, this course&#39;s")
            || body.contains("the wristband is patient P1, this course's"),
        "{body}"
    );
    assert!(tag(&body, "give-scan_patient").contains(r#"value="P1""#));
    assert!(tag(&body, "give-scan_vial").contains("autofocus"));
    assert!(!tag(&body, "give-scan_patient").contains("autofocus"));
    // Then the vial, Enter: the focus on the next field to fill in.
    let (status, _, body) = post_form(
        &app,
        "/course/1/give",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", &seen),
            ("scan_patient", "P1"),
            ("scan_vial", &v.good.to_lowercase()),
            ("check", "yes"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(&format!("vial {} is Vial 1", v.good)),
        "{body}"
    );
    assert!(body.contains("lot L100"), "{body}");
    assert!(tag(&body, "give-pef").contains("autofocus"), "{body}");
    assert_eq!(events(&app), before, "a check records nothing");
    // A wrong vial at the check step: refused there, the alert takes the focus.
    let (status, _, body) = post_form(
        &app,
        "/course/1/give",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", &seen),
            ("scan_patient", "P1"),
            ("scan_vial", &v.strong),
            ("check", "yes"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let alert = tag(&body, "error-summary");
    assert!(
        alert.contains(r#"role="alert""#)
            && alert.contains(r#"tabindex="-1""#)
            && alert.contains("autofocus"),
        "{alert}"
    );
    assert!(
        body.contains("this is vial 3 (10 000 SQ-U/mL); the dose needs vial 1 (100 SQ-U/mL)"),
        "{body}"
    );
    assert!(!tag(&body, "give-scan_patient").contains("autofocus"));
    assert_eq!(events(&app), before);
}

#[tokio::test(flavor = "current_thread")]
async fn each_refused_scan_is_a_422_nothing_is_written_and_no_override_lifts_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let (app, v) = setup(&dir, "patient-and-vial");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let doctor = login_as(&app, "dr.ng", "doctor-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (dcsrf, dseen) = tokens(&app, &doctor).await;
    let theirs = format!("vial {} is not one of this course", v.theirs);
    let dropped = format!("vial {} was discarded: dropped", v.dropped);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("scan_vial", v.good.as_str())],
            "this clinic requires a scan of the patient&#39;s wristband before every dose",
        ),
        (
            vec![("scan_patient", "P1")],
            "this clinic requires a scan of the vial before every dose",
        ),
        (
            vec![("scan_patient", "P2"), ("scan_vial", v.good.as_str())],
            "the scanned wristband is patient P2; this course is patient P1&#39;s",
        ),
        (
            vec![("scan_patient", "P1"), ("scan_vial", v.theirs.as_str())],
            theirs.as_str(),
        ),
        (
            vec![("scan_patient", "P1"), ("scan_vial", v.strong.as_str())],
            "this is vial 3 (10 000 SQ-U/mL); the dose needs vial 1 (100 SQ-U/mL)",
        ),
        (
            vec![("scan_patient", "P1"), ("scan_vial", v.dropped.as_str())],
            dropped.as_str(),
        ),
    ];
    let before = events(&app);
    for (scans, says) in &cases {
        for confirm in [false, true] {
            let mut extra = scans.clone();
            if confirm {
                extra.push(("confirm", "yes"));
            }
            let (status, _, body) =
                post_form(&app, "/course/1/give", &nurse, &give(&csrf, &seen, &extra)).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{scans:?}: {body}"
            );
            let says_it = body.contains(says) || body.contains(&says.replace("&#39;", "'"));
            assert!(says_it, "{says}: {body}");
            assert!(tag(&body, "error-summary").contains("autofocus"));
        }
        // A physician's override does not lift it.
        let mut extra = scans.clone();
        extra.extend([("override", "a lower dose"), ("confirm", "yes")]);
        let (status, _, body) = post_form(
            &app,
            "/course/1/give",
            &doctor,
            &give(&dcsrf, &dseen, &extra),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "override {scans:?}: {body}"
        );
        assert_eq!(events(&app), before, "nothing written");
    }
    // The day after its expiry (on the training clock), the old vial is refused.
    assert!(app.clock.set(at("2026-12-08 08:10")));
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (status, _, body) = post_form(
        &app,
        "/course/1/give",
        &nurse,
        &give(
            &csrf,
            &seen,
            &[("scan_patient", "P1"), ("scan_vial", v.old.as_str())],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains(&format!("vial {} expired on 2026-12-07", v.old)),
        "{body}"
    );
    assert_eq!(events(&app), before, "nothing written");
}

#[tokio::test(flavor = "current_thread")]
async fn a_good_scan_is_shown_on_the_confirmation_and_records_the_vial_and_its_lot() {
    let dir = tempfile::tempdir().expect("tmp");
    let (app, v) = setup(&dir, "vial");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    // Usable on its expiry day; the typed ID may be left out with a wristband scan.
    let form = give(
        &csrf,
        &seen,
        &[
            ("patient", ""),
            ("scan_patient", "P1"),
            ("scan_vial", v.old.as_str()),
        ],
    );
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Check before you inject"));
    assert!(body.contains("Vial scanned"), "{body}");
    assert!(body.contains(&format!("{} · Vial 1", v.old)), "{body}");
    assert!(body.contains("2026-12-07"));
    assert!(
        body.contains("<dd>L0</dd>"),
        "the lot from the vial: {body}"
    );
    let mut confirmed = form.clone();
    confirmed.push(("confirm", "yes"));
    let (status, _, _) = send(
        &app,
        post("/course/1/give", Some(&nurse), &encode(&confirmed)),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let given = app
        .wards
        .with(|ward| {
            let log = ward.event_log(1).expect("log");
            let last = log.events.last().expect("an event").event.kind.clone();
            let count = ward
                .vial(&v.old, crate::testkit::date("2026-12-07"))
                .expect("vial")
                .doses_drawn;
            (last, count)
        })
        .expect("ward");
    assert!(
        matches!(&given.0, EventKind::DoseGiven { vial_code: Some(c), lot: Some(l), .. } if *c == v.old && l == "L0"),
        "{:?}",
        given.0
    );
    assert_eq!(given.1, 1, "the vial counts the dose drawn");
}
