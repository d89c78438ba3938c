//! `ritplan label patient`: the PDF is made, private, one page with the name and ID;
//! `ritplan label vials`: a page per active vial, none for a discarded or expired one, refused
//! when there is none. (The codes are decoded from the rendered page by zxing-cpp in
//! tests/labels.)

use std::os::unix::fs::PermissionsExt;

use crate::ward::Ward;

const NOW: &str = "2026-12-07T09:00";

fn ward_with_patient() -> Ward {
    let w = Ward::new();
    w.add_patient(
        NOW,
        "P-000123",
        "José Núñez",
        "1985-01-01",
        "80",
        "1.5",
        "300",
    );
    w
}

#[test]
fn a_patient_label_is_one_private_page_with_the_name_and_id() {
    let w = ward_with_patient();
    let pdf = w.file("label.pdf");
    let (code, out, err) = w.run(
        NOW,
        &[
            "label",
            "patient",
            "P-000123",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // As for every PDF: nothing on standard output, the file named on standard error.
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("label written to {}", pdf.display())),
        "{err}"
    );
    let meta = std::fs::symlink_metadata(&pdf).expect("meta");
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let bytes = std::fs::read(&pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"));
    let pages = ritplan::render::pdf::extract_text(&bytes).expect("parse");
    assert_eq!(pages.len(), 1, "{pages:?}");
    let text = pages[0].join("\n");
    for s in ["José Núñez", "born 1985-01-01", "ID P-000123"] {
        assert!(text.contains(s), "{s:?} in {text}");
    }
}

#[test]
fn an_a4_sheet_of_labels_is_one_page() {
    let w = ward_with_patient();
    let pdf = w.file("labels.pdf");
    w.ok(
        NOW,
        &[
            "label",
            "patient",
            "P-000123",
            "--size",
            "a4",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    let pages =
        ritplan::render::pdf::extract_text(&std::fs::read(&pdf).expect("pdf")).expect("parse");
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].join("\n").matches("ID P-000123").count(), 40);
}

#[test]
fn a_label_is_refused_for_an_unknown_patient_a_bad_size_or_a_link() {
    let w = ward_with_patient();
    let pdf = w.file("label.pdf");
    let (code, _, err) = w.run(
        NOW,
        &["label", "patient", "P-999", "--out", pdf.to_str().unwrap()],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("no patient has the id \"P-999\""), "{err}");
    assert!(!pdf.exists());
    let (code, _, err) = w.run(
        NOW,
        &[
            "label",
            "patient",
            "P-000123",
            "--size",
            "20x10",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("out of range"), "{err}");
    // The smallest size allowed is still too narrow for this ID's Code 128: refused, saying
    // so, rather than printed with bars a printer cannot resolve.
    let (code, _, err) = w.run(
        NOW,
        &[
            "label",
            "patient",
            "P-000123",
            "--size",
            "30x15",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("too small for the Code 128"), "{err}");
    assert!(!pdf.exists());
    let victim = w.file("victim.txt");
    std::fs::write(&victim, "someone else's file\n").expect("write");
    std::os::unix::fs::symlink(&victim, &pdf).expect("link");
    let (code, _, err) = w.run(
        NOW,
        &[
            "label",
            "patient",
            "P-000123",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert_ne!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "someone else's file\n"
    );
}

/// P1 on the rush template (course 1), with vials 1 and 2 (V000001, V000002) and vial 4
/// (V000003) discarded.
fn ward_with_vials() -> Ward {
    let w = Ward::new();
    assert_eq!(w.rush_course(), "1");
    for vial in ["1", "2", "4"] {
        w.ok(
            NOW,
            &[
                "vial",
                "add",
                "1",
                "--vial",
                vial,
                "--lot",
                "AB123",
                "--expires",
                "2027-03-31",
            ],
        );
    }
    w.ok(NOW, &["vial", "discard", "V000003", "--reason", "dropped"]);
    w
}

fn pages_of(pdf: &std::path::Path) -> Vec<String> {
    ritplan::render::pdf::extract_text(&std::fs::read(pdf).expect("pdf"))
        .expect("parse")
        .iter()
        .map(|lines| lines.join(" "))
        .collect()
}

#[test]
fn a_label_per_active_vial_one_per_page_and_a_discarded_vial_is_not_printed() {
    let w = ward_with_vials();
    let pdf = w.file("vials.pdf");
    let (code, out, err) = w.run(
        NOW,
        &["label", "vials", "1", "--out", pdf.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!(
            "label written to {} (vials V000001, V000002)",
            pdf.display()
        )),
        "{err}"
    );
    let meta = std::fs::symlink_metadata(&pdf).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let pages = pages_of(&pdf);
    assert_eq!(pages.len(), 2, "{pages:?}");
    for (page, (code, vial)) in pages.iter().zip([
        ("V000001", "Vial 1 · 100 SQ-U/mL · cap grey"),
        ("V000002", "Vial 2 · 1 000 SQ-U/mL · cap green"),
    ]) {
        for s in [
            "Zhāng Wěi",
            "born 1990-05-01 · ID P1",
            "Alutard SQ house-dust mite",
            vial,
            "Lot AB123 · expires 2027-03-31",
            code,
        ] {
            assert!(page.contains(s), "{s:?} in {page}");
        }
        assert!(!page.contains("V000003"), "the discarded vial: {page}");
        assert!(!page.contains("lot expiry"), "no other expiry: {page}");
    }
}

#[test]
fn vial_labels_on_an_a4_sheet_are_one_page() {
    let w = ward_with_vials();
    let pdf = w.file("vials.pdf");
    w.ok(
        NOW,
        &[
            "label",
            "vials",
            "1",
            "--size",
            "a4",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    let pages = pages_of(&pdf);
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].matches("Zhāng Wěi").count(), 2, "{}", pages[0]);
    assert!(pages[0].contains("V000001") && pages[0].contains("V000002"));
    assert!(!pages[0].contains("V000003"));
}

#[test]
fn vial_labels_are_refused_without_an_active_vial_and_nothing_is_written() {
    let w = Ward::new();
    assert_eq!(w.rush_course(), "1");
    let pdf = w.file("vials.pdf");
    let label = |now: &str| {
        w.run(
            now,
            &["label", "vials", "1", "--out", pdf.to_str().unwrap()],
        )
    };
    let (code, out, err) = label(NOW);
    assert_eq!(code, Some(65), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("course 1 has no active vial on 2026-12-07: no label written"),
        "{err}"
    );
    assert!(!pdf.exists());
    // A discarded vial and one expired on the day: each named with why.
    w.ok(
        NOW,
        &[
            "vial",
            "add",
            "1",
            "--vial",
            "1",
            "--lot",
            "A1",
            "--expires",
            "2026-12-31",
        ],
    );
    w.ok(
        NOW,
        &[
            "vial",
            "add",
            "1",
            "--vial",
            "2",
            "--lot",
            "A2",
            "--expires",
            "2026-12-08",
        ],
    );
    w.ok(NOW, &["vial", "discard", "V000001", "--reason", "cloudy"]);
    let (code, _, err) = label("2026-12-09T09:00");
    assert_eq!(code, Some(65), "{err}");
    assert!(
        err.contains("(V000001 is discarded, V000002 expired on 2026-12-08)"),
        "{err}"
    );
    assert!(!pdf.exists());
    // Usable on its expiry date.
    let (code, _, err) = label("2026-12-08T09:00");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(pages_of(&pdf).len(), 1);
    std::fs::remove_file(&pdf).expect("rm");
    // No such course; too small a label; a link.
    let (code, _, err) = w.run(
        NOW,
        &["label", "vials", "9", "--out", pdf.to_str().unwrap()],
    );
    assert_eq!(code, Some(65), "{err}");
    let (code, _, err) = w.run(
        "2026-12-08T09:00",
        &[
            "label",
            "vials",
            "1",
            "--size",
            "50x25",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("too small"), "{err}");
    assert!(!pdf.exists());
    let victim = w.file("victim.txt");
    std::fs::write(&victim, "someone else's file\n").expect("write");
    std::os::unix::fs::symlink(&victim, &pdf).expect("link");
    let (code, _, err) = label("2026-12-08T09:00");
    assert_ne!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "someone else's file\n"
    );
}
