//! Vials and labels on the page: the "Add a vial" form (typed, and from a scanned GS1 code with
//! the scanner's `]d2` and a GS between fields), its refusals (a vial the template lacks, an
//! expired lot, no lot) as a 422 whose alert takes the focus, the fields kept and nothing
//! written; the "Discard" form; a stale form; the vial labels and the wristband label as PDFs;
//! and a nurse who adds a vial on the page and then gives a dose with its scan.

use std::sync::Arc;

use axum::http::StatusCode;
use tower::ServiceExt;

use super::App;
use super::tests::{at, get, post, send};
use super::tests_course::{encode, events, login_as, post_form, tokens, ward_with_a_course};
use crate::course::{EventKind, VialStatus};

/// The element with `id`'s opening tag.
fn tag<'b>(body: &'b str, id: &str) -> &'b str {
    let start = body
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("{id} in {body}"));
    let open = body[..start].rfind('<').expect("tag");
    let end = start + body[start..].find('>').expect("end");
    &body[open..=end]
}

/// The vials of course 1 today.
fn vials(app: &Arc<App>) -> Vec<crate::ward::VialView> {
    app.wards
        .with(|ward| {
            ward.vials(Some(1), crate::testkit::date("2026-12-07"))
                .expect("vials")
        })
        .expect("ward")
}

/// An "Add a vial" form with `extra` replacing or adding fields.
fn add<'a>(csrf: &'a str, seen: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("seen", seen),
        ("vial", "1"),
        ("lot", "L100"),
        ("expires", "2027-03-31"),
        ("manufacturer", "ALK"),
    ];
    for (k, v) in extra {
        f.retain(|(name, _)| name != k);
        f.push((k, v));
    }
    f
}

/// A refused form: the fields changed, the field marked, the words said.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

/// A GET's status, headers and body bytes.
async fn fetch(
    app: &Arc<App>,
    path: &str,
    session: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let r = super::router(app.clone())
        .oneshot(get(path, Some(session)))
        .await
        .expect("response");
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("body")
        .to_vec();
    (parts.status, parts.headers, bytes)
}

/// The redirect's target of a form that was done.
async fn done(app: &Arc<App>, path: &str, session: &str, fields: &[(&str, &str)]) -> String {
    let r = super::router(app.clone())
        .oneshot(post(path, Some(session), &encode(fields)))
        .await
        .expect("response");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path} {fields:?}");
    r.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn the_course_page_lists_no_vial_yet_and_offers_the_add_form_and_the_wristband_label() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (_, _, body) = send(&app, get("/course/1", Some(&nurse))).await;
    assert!(
        body.contains(r#"<h2 id="vials-title">Vials</h2>"#),
        "{body}"
    );
    assert!(body.contains("No vial recorded for this course yet"));
    assert!(body.contains(r#"action="/course/1/vial-add""#));
    // The template's vials as a labelled select, each with its strength and cap colour.
    assert!(body.contains(r#"<label for="vial-add-vial">Template vial</label>"#));
    assert!(body.contains("vial 1: Vial 1, 100 SQ-U/mL"), "{body}");
    assert!(body.contains(r#"<label for="vial-add-scan">"#));
    assert!(body.contains(r#"href="/patient/label.pdf?id=P1""#));
    // No active vial: no vial-label link, and no discard form.
    assert!(!body.contains("/course/1/vial-labels.pdf"));
    assert!(!body.contains("form-vial-discard"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_typed_vial_is_added_and_its_code_shown_large_with_the_label_link() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let before = events(&app);
    let to = done(&app, "/course/1/vial-add", &nurse, &add(&csrf, &seen, &[])).await;
    let v = vials(&app);
    assert_eq!(v.len(), 1);
    assert_eq!(to, format!("/course/1?vial={}#vials", v[0].code));
    assert_eq!(
        (v[0].vial.as_str(), v[0].lot.as_str(), v[0].expires),
        ("1", "L100", crate::testkit::date("2027-03-31"))
    );
    assert_eq!(v[0].manufacturer.as_deref(), Some("ALK"));
    assert_eq!(events(&app), before + 1);
    let (status, _, body) = send(&app, get(&to, Some(&nurse))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(&format!(
            r#"Write <strong class="code">{}</strong> on the vial, or print its label."#,
            v[0].code
        )),
        "{body}"
    );
    assert!(body.contains(r#"href="/course/1/vial-labels.pdf""#));
    // The list: code, vial, strength, cap colour, lot, expiry, state in words, doses drawn.
    let table = &body[body.find(r#"<table class="vials">"#).expect("table")..];
    let row = &table[table.find("<tbody>").expect("tbody")..table.find("</tbody>").expect("end")];
    for s in [
        v[0].code.as_str(),
        "Vial 1",
        "100 SQ-U/mL",
        v[0].cap.as_str(),
        "L100",
        "2027-03-31",
        "active",
        "<td>0</td>",
    ] {
        assert!(row.contains(s), "{s} in {row}");
    }
    // A code in the address that is not this course's vial shows nothing.
    let (_, _, body) = send(&app, get("/course/1?vial=V999999", Some(&nurse))).await;
    assert!(!body.contains("on the vial, or print its label"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_scanned_gs1_code_fills_the_lot_and_expiry() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    // As a wedge scanner types it: the symbology identifier, a GS after the lot, and CR LF.
    let scan = "]d2010950600013435210AB123\u{1d}17270331\r\n";
    let (csrf, seen) = tokens(&app, &nurse).await;
    done(
        &app,
        "/course/1/vial-add",
        &nurse,
        &add(
            &csrf,
            &seen,
            &[
                ("lot", ""),
                ("expires", ""),
                ("scan", scan),
                ("volume", "5"),
            ],
        ),
    )
    .await;
    let v = vials(&app);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].lot, "AB123");
    assert_eq!(v[0].lot_expires, crate::testkit::date("2027-03-31"));
    assert_eq!(v[0].gtin.as_deref(), Some("09506000134352"));
    assert_eq!(v[0].volume_ml.map(|x| x.ml().to_string()), Some("5".into()));
    // A typed lot that disagrees with the scan is refused beside the lot.
    let (csrf, seen) = tokens(&app, &nurse).await;
    let before = events(&app);
    let (status, _, body) = post_form(
        &app,
        "/course/1/vial-add",
        &nurse,
        &add(
            &csrf,
            &seen,
            &[("lot", "ZZ9"), ("expires", ""), ("scan", scan)],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("disagrees with the scanned code"), "{body}");
    assert!(tag(&body, "vial-add-lot").contains(r#"aria-invalid="true""#));
    assert_eq!(events(&app), before);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_vial_is_a_422_with_the_alert_focused_the_fields_kept_and_nothing_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    let before = events(&app);
    let cases: Vec<Case> = vec![
        (
            vec![("vial", "9")],
            "vial-add-vial",
            "is not a vial of course 1",
        ),
        (
            vec![("expires", "2026-12-01")],
            "vial-add-expires",
            "an expired vial is not added",
        ),
        (vec![("lot", "")], "vial-add-lot", "type it from the vial"),
        (
            vec![("expires", "31/03/2027")],
            "vial-add-expires",
            "The lot&#39;s expiry date",
        ),
        (vec![("vial", "")], "vial-add-vial", "choose the template"),
        (
            vec![("scan", "]d2not a code")],
            "vial-add-scan",
            "is not a GS1 code ritplan reads",
        ),
    ];
    for (extra, field, says) in &cases {
        let (status, _, body) = post_form(
            &app,
            "/course/1/vial-add",
            &nurse,
            &add(&csrf, &seen, extra),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{extra:?}: {body}"
        );
        let alert = tag(&body, "error-summary");
        assert!(
            alert.contains(r#"role="alert""#)
                && alert.contains(r#"tabindex="-1""#)
                && alert.contains("autofocus"),
            "{alert}"
        );
        let said = body.contains(says) || body.contains(&says.replace("&#39;", "'"));
        assert!(said, "{says}: {body}");
        assert!(
            tag(&body, field).contains(r#"aria-invalid="true""#),
            "{field}: {body}"
        );
        // The form is open again with what was typed.
        assert!(tag(&body, "form-vial-add").contains("open"), "{body}");
        assert!(
            tag(&body, "vial-add-manufacturer").contains(r#"value="ALK""#),
            "{body}"
        );
        assert_eq!(events(&app), before, "{extra:?}: nothing written");
    }
    assert!(vials(&app).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_admin_cannot_add_a_vial_and_a_stale_or_tokenless_form_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let admin = login_as(&app, "admin", "admin-password-1").await;
    let (csrf, seen) = tokens(&app, &admin).await;
    let before = events(&app);
    let (status, _, body) =
        post_form(&app, "/course/1/vial-add", &admin, &add(&csrf, &seen, &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(events(&app), before);
    // A form shown before another entry: refused, nothing written.
    let (csrf, seen) = tokens(&app, &nurse).await;
    done(&app, "/course/1/vial-add", &nurse, &add(&csrf, &seen, &[])).await;
    let (status, _, body) =
        post_form(&app, "/course/1/vial-add", &nurse, &add(&csrf, &seen, &[])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("has changed since this form was shown"));
    let (status, _, _) = post_form(
        &app,
        "/course/1/vial-add",
        &nurse,
        &add("not-the-token", &seen, &[]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(vials(&app).len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_vial_is_discarded_with_a_reason_and_a_refused_discard_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    done(&app, "/course/1/vial-add", &nurse, &add(&csrf, &seen, &[])).await;
    let code = vials(&app)[0].code.clone();
    let (csrf, seen) = tokens(&app, &nurse).await;
    let (_, _, body) = send(&app, get("/course/1", Some(&nurse))).await;
    let field = format!("discard-{code}-reason");
    assert!(
        body.contains(&format!(r#"<label for="{field}">"#)),
        "{body}"
    );
    // No reason: refused beside the reason of that vial's form.
    let before = events(&app);
    let (status, _, body) = post_form(
        &app,
        "/course/1/vial-discard",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", &seen),
            ("code", &code),
            ("reason", " "),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(tag(&body, "error-summary").contains("autofocus"));
    assert!(
        tag(&body, &field).contains(r#"aria-invalid="true""#),
        "{body}"
    );
    // A vial that is not there.
    let (status, _, body) = post_form(
        &app,
        "/course/1/vial-discard",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", &seen),
            ("code", "V999999"),
            ("reason", "dropped"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("V999999"), "{body}");
    assert_eq!(events(&app), before);
    let to = done(
        &app,
        "/course/1/vial-discard",
        &nurse,
        &[
            ("csrf", &csrf),
            ("seen", &seen),
            ("code", &code.to_lowercase()),
            ("reason", "dropped"),
        ],
    )
    .await;
    assert_eq!(to, format!("/course/1?discarded={code}#vials"));
    let v = vials(&app);
    assert_eq!(v[0].status, VialStatus::Discarded);
    assert_eq!(v[0].discarded_reason.as_deref(), Some("dropped"));
    let (_, _, body) = send(&app, get(&to, Some(&nurse))).await;
    assert!(
        body.contains(&format!("Vial {code} discarded (dropped)")),
        "{body}"
    );
    assert!(body.contains("DISCARDED: do not use"), "{body}");
    // No active vial left: no label to print, and no discard form.
    assert!(!body.contains(r#"href="/course/1/vial-labels.pdf""#));
    assert!(!body.contains("form-vial-discard"));
    let (status, headers, bytes) = fetch(&app, "/course/1/vial-labels.pdf", &nurse).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
    let page = String::from_utf8_lossy(&bytes);
    assert!(page.contains(&format!("{code} is discarded")), "{page}");
    assert!(page.contains("no active vial"), "{page}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_vial_labels_and_the_wristband_label_are_pdfs_like_the_clis() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    // None yet: a page saying why, not an empty PDF.
    let (status, _, bytes) = fetch(&app, "/course/1/vial-labels.pdf", &nurse).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&bytes).contains("course 1 has no active vial on 2026-12-07"));
    for lot in ["L1", "L2"] {
        let (csrf, seen) = tokens(&app, &nurse).await;
        done(
            &app,
            "/course/1/vial-add",
            &nurse,
            &add(&csrf, &seen, &[("lot", lot)]),
        )
        .await;
    }
    let codes: Vec<String> = vials(&app).into_iter().map(|v| v.code).collect();
    let (status, headers, bytes) = fetch(&app, "/course/1/vial-labels.pdf", &nurse).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        headers["content-disposition"],
        r#"inline; filename="course-1-vial-labels.pdf""#
    );
    assert!(bytes.starts_with(b"%PDF"));
    let pages = crate::render::pdf::extract_text(&bytes).expect("text");
    assert_eq!(pages.len(), 2, "a page per active vial");
    for (page, code) in pages.iter().zip(&codes) {
        let text = page.join(" ");
        assert!(text.contains(code.as_str()), "{code} in {text}");
        assert!(text.contains("Zhang Wei"), "{text}");
    }
    // The same labels as `ritplan label vials` at its default size (the text of each page; the
    // file's /ID differs from one document to the next).
    let same = app
        .wards
        .with(|ward| {
            let l = ward
                .vial_labels(1, crate::testkit::date("2026-12-07"))
                .expect("labels");
            let fonts =
                crate::render::pdf::Fonts::for_texts(&[&l.name, &l.product]).expect("fonts");
            crate::render::label::vials_pdf(
                &l,
                crate::render::label::LabelSize::VIAL,
                ward.training(),
                &fonts,
                crate::testkit::date("2026-12-07"),
            )
            .expect("pdf")
            .0
        })
        .expect("ward");
    assert_eq!(
        pages,
        crate::render::pdf::extract_text(&same).expect("text")
    );
    let (status, headers, bytes) = fetch(&app, "/patient/label.pdf?id=P1", &nurse).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        headers["content-disposition"],
        r#"inline; filename="patient-P1-label.pdf""#
    );
    let pages = crate::render::pdf::extract_text(&bytes).expect("text");
    assert_eq!(pages.len(), 1);
    let text = pages[0].join(" ");
    assert!(
        text.contains("ID P1") && text.contains("Zhang Wei"),
        "{text}"
    );
    let (status, _, _) = fetch(&app, "/patient/label.pdf?id=NOBODY", &nurse).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Behind the login.
    let r = super::router(app.clone())
        .oneshot(get("/course/1/vial-labels.pdf", None))
        .await
        .expect("response");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "current_thread")]
async fn a_nurse_adds_a_vial_on_the_page_then_gives_the_dose_with_its_scan() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = ward_with_a_course(&dir);
    app.wards
        .with(|ward| {
            let now = at("2026-12-07 08:00");
            let (admin, _) = ward
                .login("admin", "admin-password-1", "test", now)
                .expect("admin");
            ward.set_setting(&admin, "scan", "vial", now).expect("scan");
        })
        .expect("ward");
    let nurse = login_as(&app, "rn.li", "nurse-password-1").await;
    let (csrf, seen) = tokens(&app, &nurse).await;
    done(&app, "/course/1/vial-add", &nurse, &add(&csrf, &seen, &[])).await;
    let code = vials(&app)[0].code.clone();
    let (csrf, seen) = tokens(&app, &nurse).await;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("seen", seen.as_str()),
        ("patient", "P1"),
        ("step", "1"),
        ("volume", "0.1"),
        ("pef", "95"),
        ("site", "left"),
        ("scan_vial", code.as_str()),
        ("q-reaction", "no"),
        ("q-illness", "no"),
        ("q-asthma", "no"),
        ("q-medication", "no"),
        ("q-exposure", "no"),
        ("q-vaccination", "no"),
    ];
    let (status, _, body) = post_form(&app, "/course/1/give", &nurse, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Vial scanned"), "{body}");
    form.push(("confirm", "yes"));
    let to = done(&app, "/course/1/give", &nurse, &form).await;
    assert!(to.starts_with("/course/1?done="), "{to}");
    let last = app
        .wards
        .with(|ward| {
            let log = ward.event_log(1).expect("log");
            log.events.last().expect("event").event.kind.clone()
        })
        .expect("ward");
    assert!(
        matches!(&last, EventKind::DoseGiven { vial_code: Some(c), lot: Some(l), .. } if *c == code && l == "L100"),
        "{last:?}"
    );
    assert_eq!(vials(&app)[0].doses_drawn, 1);
}
