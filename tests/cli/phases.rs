//! Phases a template names (a rush target below maintenance, then consolidation) through every
//! output: the plan (table and JSON), course start, give, course show, the log, the sheet and
//! the protocol PDF; the phase stored with each dose. And the bundled Depigoid 1-day rush.

use serde_json::Value;

use crate::ward::{Ward, hh};

fn pdf_text(path: &std::path::Path) -> String {
    ritplan::render::pdf::extract_text(&std::fs::read(path).expect("pdf"))
        .expect("parse")
        .into_iter()
        .map(|page| page.join("\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn plan_args(template: &str) -> Vec<&str> {
    vec![
        "plan",
        "--template",
        template,
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
        "92",
        "--asthma",
        "controlled",
    ]
}

/// The phase of each dose in the `course log --json` of a course.
fn logged_phases(w: &Ward, now: &str, c: &str) -> Vec<(u64, Option<String>)> {
    let log: Value =
        serde_json::from_str(&w.ok(now, &["course", "log", c, "--json"])).expect("json");
    let events = log
        .as_array()
        .cloned()
        .or_else(|| log["events"].as_array().cloned())
        .expect("events");
    events
        .iter()
        .filter_map(|e| {
            let k = e.get("kind").unwrap_or(e);
            let d = k.get("dose_given")?;
            Some((
                d["step"].as_u64().expect("step"),
                d.get("phase").and_then(|p| p.as_str()).map(str::to_string),
            ))
        })
        .collect()
}

#[test]
fn a_rush_target_and_consolidation_through_every_output() {
    // The plan: a phase column and a sentence, and the phase in the JSON.
    let w = Ward::new();
    let text = w.ok("2026-12-01T09:00", &plan_args("example-hdm-rscit-modified"));
    assert!(
        text.contains(
            "Phases: rush steps 1–6 (to 300 JAU), consolidation step 7, then maintenance."
        ),
        "{text}"
    );
    assert!(text.contains("obs. min   phase"), "{text}");
    let mut json_args = plan_args("example-hdm-rscit-modified");
    json_args.push("--json");
    let plan: Value = serde_json::from_str(&w.ok("2026-12-01T09:00", &json_args)).expect("json");
    let phases: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["phase"].as_str().expect("a phase on every step"))
        .collect();
    assert_eq!(
        phases,
        [
            "rush",
            "rush",
            "rush",
            "rush",
            "rush",
            "rush",
            "consolidation"
        ]
    );

    // template show: the phase of each step and the rush target.
    let shown = w.ok(
        "2026-12-01T09:00",
        &["template", "show", "example-hdm-rscit-modified"],
    );
    assert!(
        shown.contains("Rush target: 300 JAU, below the maintenance dose"),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.trim_start().starts_with("7 ") && l.ends_with("consolidation ")),
        "{shown}"
    );
    let shown: Value = serde_json::from_str(&w.ok(
        "2026-12-01T09:00",
        &["template", "show", "example-hdm-rscit-modified", "--json"],
    ))
    .expect("json");
    assert_eq!(shown["rush_target"].to_string(), "300");
    assert_eq!(shown["steps"][6]["phase"], "consolidation");

    // A course: the rush over two days, then consolidation on day 9 (Tuesday 2026-12-15).
    w.add_patient(
        "2026-12-01T09:00",
        "J1",
        "Sato Aiko",
        "1990-05-01",
        "60",
        "2",
        "410",
    );
    let c = w.start(
        "2026-12-01T09:00",
        "J1",
        "example-hdm-rscit-modified",
        "2026-12-07T08:00",
        &[],
    );
    assert_eq!(w.give_visit(&hh(7, 8, 0), &c, 0), [1, 2, 3]);
    assert_eq!(w.give_visit(&hh(8, 8, 0), &c, 0), [4, 5, 6]);
    // The sheet of the consolidation day names the phase beside the step.
    let sheet = w.ok(&hh(14, 7, 0), &["sheet", "--date", "2026-12-15"]);
    assert!(sheet.contains("7 consolidation"), "{sheet}");
    let rows: Value =
        serde_json::from_str(&w.ok(&hh(14, 7, 0), &["sheet", "--date", "2026-12-15", "--json"]))
            .expect("json");
    assert_eq!(rows[0]["phase"], "consolidation", "{rows}");
    let n = w.next(&hh(15, 8, 0), &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("give"), Some(7)),
        "{n}"
    );
    assert_eq!(n["dose_phase"], "consolidation", "{n}");
    // The course's own phase (the state machine's) is still up-dosing.
    assert_eq!(n["phase"], "up_dosing", "{n}");
    let said = w.ok(&hh(15, 8, 0), &["next", &c]);
    assert!(said.contains("Phase: consolidation."), "{said}");
    w.give_next(&hh(15, 8, 0), &c, 0);

    // Each dose keeps its phase in the record.
    let logged = logged_phases(&w, &hh(15, 12, 0), &c);
    assert_eq!(logged.len(), 7);
    assert!(
        logged[..6]
            .iter()
            .all(|(_, p)| p.as_deref() == Some("rush"))
    );
    assert_eq!(logged[6], (7, Some("consolidation".into())));
    let log = w.ok(&hh(15, 12, 0), &["course", "log", &c]);
    assert!(log.contains("dose given: step 7 (consolidation)"), "{log}");

    // course show: the phase of each given and re-projected dose.
    let show = w.ok(&hh(15, 12, 0), &["course", "show", &c]);
    assert!(show.contains("phase"), "{show}");
    let consolidation_row = show
        .lines()
        .find(|l| l.trim_start().starts_with("7 ") && l.contains("consolidation"));
    assert!(consolidation_row.is_some(), "{show}");
    assert!(
        show.lines()
            .any(|l| l.trim_start().starts_with("M1 ") && l.contains("maintenance")),
        "{show}"
    );
    let shown: Value =
        serde_json::from_str(&w.ok(&hh(15, 12, 0), &["course", "show", &c, "--json"]))
            .expect("json");
    assert!(
        shown["schedule"]
            .as_array()
            .expect("schedule")
            .iter()
            .any(|l| l["step"] == 7 && l["phase"] == "consolidation"),
        "{shown}"
    );

    // The protocol PDF: a phase column and the sentence.
    let pdf = w.file("protocol.pdf");
    w.ok(
        &hh(15, 12, 0),
        &["course", "pdf", &c, "--out", pdf.to_str().expect("path")],
    );
    let text = pdf_text(&pdf);
    assert!(text.contains("consolidation"), "{text}");
    assert!(text.contains("Phases: rush steps 1–6"), "{text}");

    // The exports: the FHIR administration's text and the calendar's visit details.
    let fhir = w.file("bundle.json");
    w.ok(
        &hh(15, 12, 0),
        &["export", "fhir", &c, "--out", fhir.to_str().expect("path")],
    );
    let bundle = std::fs::read_to_string(&fhir).expect("export");
    assert!(
        bundle.contains("0.5 mL of vial B = 500 JAU, consolidation phase"),
        "{bundle}"
    );
    let ics = w.ok(&hh(15, 12, 0), &["export", "ics", &c, "--details"]);
    assert!(ics.contains("step 7 (consolidation)"), "{ics}");
}

#[test]
fn the_depigoid_rush_is_checked_planned_and_given_on_time() {
    let w = Ward::new();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schedules/depigoid-1-day-rush.toml"
    );
    let checked = w.ok("2026-12-01T09:00", &["template", "check", file]);
    assert!(
        checked.contains("usable (0 errors, 0 warnings)"),
        "{checked}"
    );
    let mut args = plan_args("depigoid-1-day-rush");
    args.push("--json");
    let plan: Value = serde_json::from_str(&w.ok("2026-12-01T09:00", &args)).expect("json");
    assert_eq!(plan["template"]["evidence"], "published");
    let steps: Vec<(String, String, String)> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["date"].as_str().expect("date").to_string(),
                s["volume_ml"].to_string(),
                s["phase"].as_str().expect("phase").to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("2026-12-07".into(), "0.2".into(), "rush".into()),
            ("2026-12-07".into(), "0.3".into(), "rush".into()),
            // Day 28 is a Sunday: the next clinic day.
            ("2027-01-04".into(), "0.5".into(), "consolidation".into()),
        ]
    );
    // The unverified day-1 interval is said on the plan.
    let text = w.ok("2026-12-01T09:00", &plan_args("depigoid-1-day-rush"));
    assert!(text.contains("Step 2 is unverified"), "{text}");
    assert!(text.contains("08:30"), "{text}");

    w.add_patient(
        "2026-12-01T09:00",
        "D1",
        "Ana García",
        "1985-02-03",
        "64",
        "2",
        "410",
    );
    let c = w.start(
        "2026-12-01T09:00",
        "D1",
        "depigoid-1-day-rush",
        "2026-12-07T08:00",
        &[],
    );
    assert_eq!(w.give_visit(&hh(7, 8, 0), &c, 0), [1, 2]);
    // The consolidation dose 4 weeks later is on time: the rules proceed, no late band.
    let n = w.next("2027-01-04T08:00", &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("give"), Some(3)),
        "{n}"
    );
    assert_eq!(n["volume_ml"].to_string(), "0.5");
    w.give_next("2027-01-04T08:00", &c, 0);
    let logged = logged_phases(&w, "2027-01-04T12:00", &c);
    assert_eq!(
        logged,
        [
            (1, Some("rush".into())),
            (2, Some("rush".into())),
            (3, Some("consolidation".into()))
        ]
    );
}

#[test]
fn a_template_without_phases_stores_and_shows_none() {
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next(&hh(7, 8, 0), &c, 0);
    assert_eq!(logged_phases(&w, &hh(7, 12, 0), &c), [(1, None)]);
    assert!(w.next(&hh(7, 12, 0), &c).get("dose_phase").is_none());
    let show = w.ok(&hh(7, 12, 0), &["course", "show", &c]);
    assert!(!show.contains("phase"), "{show}");
    let plan = w.ok("2026-12-01T09:00", &plan_args("example-hdm-rush-3d"));
    assert!(
        !plan.contains("Phases:") && !plan.contains("phase"),
        "{plan}"
    );
}

#[test]
fn a_late_consolidation_dose_follows_the_up_dosing_late_rules() {
    let w = Ward::new();
    w.add_patient(
        "2026-12-01T09:00",
        "J2",
        "Ito Ren",
        "1988-01-01",
        "70",
        "2",
        "410",
    );
    let c = w.start(
        "2026-12-01T09:00",
        "J2",
        "example-hdm-rscit-modified",
        "2026-12-07T08:00",
        &[],
    );
    assert_eq!(w.give_visit(&hh(7, 8, 0), &c, 0), [1, 2, 3]);
    assert_eq!(w.give_visit(&hh(8, 8, 0), &c, 0), [4, 5, 6]);
    // 4 weeks after the last rush dose (Norwegian guide, up-dosing table: 4-6 weeks -> one dose
    // step back): the consolidation dose is not given; 200 JAU (step 5) is, in the rush phase.
    let n = w.next("2027-01-05T08:00", &c);
    assert_eq!(
        (n["action"].as_str(), n["step"].as_u64()),
        (Some("give"), Some(5)),
        "{n}"
    );
    assert_eq!(n["dose_phase"], "rush", "{n}");
    assert!(
        n["text"].as_str().is_some_and(|t| t.contains("200 JAU")),
        "{n}"
    );
    assert!(
        n["details"]
            .as_array()
            .expect("details")
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.contains("4-6 weeks"))),
        "{n}"
    );
}
