//! `ritplan label patient`: the PDF is made, private, one page with the name and ID. (The codes
//! are decoded from the rendered page by zxing-cpp in tests/labels.)

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
