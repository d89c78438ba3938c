//! Premedication at the give, through the real binary: a template whose `[[premedication]]` is
//! `required` (an H1 antihistamine 2 h before each rush day's first injection, Nielsen 1996,
//! docs/sources.md: nielsen-1996) refuses the day's first dose without it, or taken outside its
//! window, and writes nothing; taken in the window the dose proceeds and the time is recorded; a
//! physician may accept its absence for the day, shown with the dose (text and JSON). The
//! bundled example rush only recommends it: a reminder that never blocks.

use serde_json::Value;

use crate::fixture;
use crate::ward::{As, Ward, give_args};

fn premedicated(w: &Ward, patient: &str) -> String {
    let dir = fixture("fixtures/premedication-templates");
    w.add_patient(
        "2026-11-01T09:00",
        patient,
        "Ana Souza",
        "1985-01-01",
        "70",
        "2",
        "410",
    );
    w.ok(
        "2026-11-01T09:00",
        &[
            "--templates",
            dir.to_str().expect("utf-8"),
            "course",
            "start",
            "--patient",
            patient,
            "--template",
            "clinic-rush-premedicated",
            "--start",
            "2026-12-07T08:00",
        ],
    )
    .trim()
    .to_string()
}

/// Refused with exit 1, `needle` in the message, the database unchanged.
fn refused(w: &Ward, now: &str, args: &[&str], needle: &str) {
    w.ready(now, args);
    let before = w.bytes();
    let (code, out, err) = w.run(now, args);
    assert_eq!(code, Some(1), "{args:?}: {out}{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert_eq!(before, w.bytes(), "{args:?} changed the database");
}

#[test]
fn a_required_premedication_missing_or_mistimed_refuses_the_dose_and_writes_nothing() {
    let w = Ward::new();
    let c = premedicated(&w, "P1");
    let now = "2026-12-07T08:00";
    let n = w.next(now, &c);
    assert_eq!(n["action"], "give", "{n}");
    assert_eq!(n["premedication"][0]["required"], true, "{n}");
    assert_eq!(n["premedication"][0]["not_after"], "2026-12-07T07:00:00");
    assert!(
        n["details"]
            .to_string()
            .contains("Premedication REQUIRED: H1 antihistamine (e.g. loratadine 10 mg): required, taken between 04:00 and 07:00"),
        "{n}"
    );
    refused(
        &w,
        now,
        &give_args(&c, "P1", "1", "0.1", &[]),
        "DO NOT GIVE: the required premedication H1 antihistamine (e.g. loratadine 10 mg) was not recorded as taken or not (--premedication HH:MM, or --premedication none); it must be taken between 04:00 and 07:00",
    );
    refused(
        &w,
        now,
        &give_args(&c, "P1", "1", "0.1", &["--premedication", "none"]),
        "was not taken",
    );
    refused(
        &w,
        now,
        &give_args(&c, "P1", "1", "0.1", &["--premedication", "07:30"]),
        "was taken at 07:30, too late",
    );
    refused(
        &w,
        now,
        &give_args(
            &c,
            "P1",
            "1",
            "0.1",
            &["--premedication", "2026-12-06 22:00"],
        ),
        "too early",
    );
    // Not a time: a usage error.
    let (code, _, err) = w.run(
        now,
        &give_args(&c, "P1", "1", "0.1", &["--premedication", "yes"]),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--premedication \"yes\" is not when"), "{err}");
    // A nurse cannot accept it.
    let (code, _, err) = w.run_as(
        As::Nurse,
        now,
        &give_args(
            &c,
            "P1",
            "1",
            "0.1",
            &["--premedication", "none", "--accept-premedication", "x"],
        ),
    );
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("physician"), "{err}");
    // Taken in the window: given, and the time is in the record.
    let out = w.ok(
        now,
        &give_args(&c, "P1", "1", "0.1", &["--premedication", "06:00"]),
    );
    assert!(
        out.contains("premedication taken 2026-12-07 06:00"),
        "{out}"
    );
    let log = w.ok(now, &["course", "log", &c]);
    assert!(
        log.contains("premedication taken 2026-12-07 06:00"),
        "{log}"
    );
    // The day's later doses ask nothing.
    w.observe("2026-12-07T08:30", &c, 0);
    let n = w.next("2026-12-07T08:30", &c);
    assert_eq!(n["action"], "give", "{n}");
    assert!(n["premedication"].is_null(), "{n}");
    w.ok("2026-12-07T08:30", &give_args(&c, "P1", "2", "0.1", &[]));
}

#[test]
fn a_physician_accepts_the_missing_premedication_for_the_day_and_every_output_shows_it() {
    let w = Ward::new();
    let c = premedicated(&w, "P1");
    let now = "2026-12-07T08:00";
    let out = w.ok(
        now,
        &give_args(
            &c,
            "P1",
            "1",
            "0.1",
            &[
                "--premedication",
                "none",
                "--accept-premedication",
                "forgotten at home; physician on the ward all day",
                "--json",
            ],
        ),
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    let pm = &v["recorded"]["dose_given"]["premedication"];
    assert_eq!(
        pm["accepted"], "forgotten at home; physician on the ward all day",
        "{v}"
    );
    assert!(pm["taken_at"].is_null(), "{v}");
    for args in [
        vec!["course", "log", c.as_str()],
        vec!["course", "show", c.as_str()],
    ] {
        let text = w.ok("2026-12-07T08:10", &args);
        assert!(
            text.contains("premedication not taken — ACCEPTED without the required premedication or outside its window: forgotten at home; physician on the ward all day"),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn the_bundled_rush_only_recommends_it_and_never_blocks() {
    let w = Ward::new();
    w.add_patient(
        "2026-11-01T09:00",
        "P1",
        "Ana Souza",
        "1985-01-01",
        "70",
        "2",
        "410",
    );
    let c = w.start(
        "2026-11-01T09:00",
        "P1",
        "example-hdm-rush-3d",
        "2026-12-07T08:00",
        &[],
    );
    let n = w.next("2026-12-07T08:00", &c);
    assert_eq!(n["premedication"][0]["required"], false, "{n}");
    assert!(
        n["details"]
            .to_string()
            .contains("Premedication recommended (a reminder, it does not block the dose)"),
        "{n}"
    );
    w.ok("2026-12-07T08:00", &give_args(&c, "P1", "1", "0.1", &[]));
}

fn pdf_text(path: &std::path::Path) -> String {
    ritplan::render::pdf::extract_text(&std::fs::read(path).expect("pdf"))
        .expect("parse")
        .into_iter()
        .map(|page| page.join("\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_plan_the_sheet_and_the_protocol_print_the_premedication() {
    // The plan (no record needed).
    let out = crate::ritplan()
        .args([
            "plan",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07T08:00",
            "--age",
            "34",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
            "--fev1",
            "95",
            "--asthma",
            "controlled",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Premedication:\n  - H1 antihistamine (e.g. loratadine 10 mg) 2 h before the first injection of the day (taken 1 h to 4 h before, window example) — recommended [published, C-partial]"),
        "{text}"
    );
    let out = crate::ritplan()
        .args(["template", "show", "example-hdm-rush-3d"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Premedication: H1 antihistamine (e.g. loratadine 10 mg) 2 h before the first injection of the day"),
        "{text}"
    );
    // A template that says nothing prints nothing.
    let out = crate::ritplan()
        .args([
            "plan",
            "--template",
            "alutard-hdm-cluster-7w",
            "--start",
            "2026-12-07T08:00",
            "--age",
            "34",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
            "--fev1",
            "95",
            "--asthma",
            "controlled",
        ])
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Premedication"));

    // The day's sheet: the premedicated course's first dose asks for it; a line to fill in.
    let w = Ward::new();
    let c = premedicated(&w, "P1");
    let sheet = w.ok("2026-12-07T06:00", &["sheet", "--date", "2026-12-07"]);
    assert!(
        sheet.contains(&format!("Premedication:\n  - Ana Souza (P1, course {c}), 08:00 step 1 — Premedication REQUIRED: H1 antihistamine (e.g. loratadine 10 mg): required, taken between 04:00 and 07:00")),
        "{sheet}"
    );
    assert_eq!(
        sheet.matches("Premedication REQUIRED").count(),
        1,
        "only the day's first dose: {sheet}"
    );
    let json: Value = serde_json::from_str(&w.ok(
        "2026-12-07T06:00",
        &["sheet", "--date", "2026-12-07", "--json"],
    ))
    .expect("json");
    assert_eq!(json[0]["premedication"][0]["required"], true, "{json}");
    assert!(json[1]["premedication"].is_null(), "{json}");
    let sheet_pdf = w.file("sheet.pdf");
    w.ok(
        "2026-12-07T06:00",
        &[
            "sheet",
            "--date",
            "2026-12-07",
            "--pdf",
            sheet_pdf.to_str().expect("path"),
        ],
    );
    let text = pdf_text(&sheet_pdf);
    assert!(text.contains("Premedication"), "{text}");
    assert!(text.contains("Premedication REQUIRED"), "{text}");

    // The course protocol: the template's line, and what was recorded (a physician's
    // acceptance).
    w.ok(
        "2026-12-07T08:00",
        &give_args(
            &c,
            "P1",
            "1",
            "0.1",
            &[
                "--premedication",
                "none",
                "--accept-premedication",
                "forgotten at home",
            ],
        ),
    );
    let pdf = w.file("protocol.pdf");
    w.ok(
        "2026-12-07T08:10",
        &["course", "pdf", &c, "--out", pdf.to_str().expect("path")],
    );
    let text = pdf_text(&pdf).replace('\n', " ");
    for want in [
        "Premedication",
        "H1 antihistamine (e.g. loratadine 10 mg) 2 h before the first injection of the day",
        "— required [published, C-partial]",
        "unless a physician accepts its absence for the day",
        "ACCEPTED without the required premedication or outside its window: forgotten at home",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
}
