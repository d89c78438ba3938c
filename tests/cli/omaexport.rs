//! Omalizumab courses in the exports, through the real binary: the FHIR Bundle's
//! MedicationRequests, MedicationAdministrations (a late one with the physician's acceptance),
//! AdverseEvent and Observation; the iCalendar file's injections not yet given, with their
//! observation minutes and UIDs that stay when an injection moves.

use serde_json::Value;

use crate::ward::{As, Ward};

const NOW: &str = "2026-12-01T09:00";

/// P1 with the rush course (1) and an omalizumab course (2) from 2026-12-07: 600 mg every 4
/// weeks in 4 injections of 150 mg.
fn with_omalizumab(w: &Ward) -> (String, String) {
    let rush = w.rush_course();
    let (code, out, err) = w.run_as(
        As::Physician,
        NOW,
        &[
            "omalizumab",
            "start",
            "--patient",
            "P1",
            "--start",
            "2026-12-07",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let om = out.lines().next().expect("id").trim().to_string();
    (rush, om)
}

fn om_give(w: &Ward, who: As, now: &str, course: &str, extra: &[&str]) {
    let mut args = vec!["omalizumab", "give", course, "--patient", "P1"];
    args.extend_from_slice(extra);
    let (code, out, err) = w.run_as(who, now, &args);
    assert_eq!(code, Some(0), "{args:?}: {err}{out}");
}

/// The first injection on its date (a local reaction of 12 mm), the second two days late by a
/// physician: the record at 2027-01-06 12:00.
fn two_given(w: &Ward, om: &str) {
    om_give(
        w,
        As::Nurse,
        "2026-12-07T09:00",
        om,
        &["--site", "left arm, right arm"],
    );
    w.ok("2026-12-07T11:00", &["observe", om, "--local-mm", "12"]);
    om_give(
        w,
        As::Physician,
        "2027-01-06T09:00",
        om,
        &["--accept-late", "asthma stable; away for the holiday"],
    );
    w.ok("2027-01-06T11:00", &["observe", om, "--local-mm", "0"]);
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

#[test]
fn omalizumab_injections_are_medication_administrations_in_the_fhir_bundle() {
    let w = Ward::new();
    let (rush, om) = with_omalizumab(&w);
    two_given(&w, &om);
    let text = w.ok("2027-01-06T12:00", &["export", "fhir", &om]);
    let bundle: Value = serde_json::from_str(&text).expect("json");
    // The same course exports byte for byte the same twice.
    assert_eq!(w.ok("2027-01-06T13:00", &["export", "fhir", &om]), text);
    assert_eq!(resources(&bundle, "Patient").len(), 1);
    // One MedicationRequest per laid injection date (13 in the first 52 weeks), 2 completed.
    let requests = resources(&bundle, "MedicationRequest");
    assert_eq!(requests.len(), 13);
    let status: Vec<&str> = requests
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(status.iter().filter(|s| **s == "completed").count(), 2);
    assert_eq!(status.iter().filter(|s| **s == "active").count(), 11);
    let first = &requests[0]["dosageInstruction"][0];
    assert_eq!(first["timing"]["event"][0], "2026-12-07");
    assert_eq!(
        first["doseAndRate"][0]["doseQuantity"],
        serde_json::json!({"value": 600, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"})
    );
    assert!(
        first["text"]
            .as_str()
            .is_some_and(|t| t.contains("4 × 150 mg") && t.contains("not recalculated")),
        "{first}"
    );
    // The injections given.
    let admins = resources(&bundle, "MedicationAdministration");
    assert_eq!(admins.len(), 2, "{text}");
    for a in &admins {
        assert_eq!(a["status"], "completed");
        assert_eq!(
            a["medicationCodeableConcept"],
            serde_json::json!({
                "coding": [{"system": "http://www.whocc.no/atc", "code": "R03DX05", "display": "omalizumab"}],
                "text": "omalizumab",
            })
        );
        assert_eq!(a["dosage"]["dose"]["value"], 600);
        assert_eq!(a["dosage"]["dose"]["code"], "mg");
        assert!(a["effectiveDateTime"].as_str().is_some(), "{a}");
        assert!(a["subject"]["reference"].as_str().is_some(), "{a}");
    }
    assert_eq!(admins[0]["dosage"]["site"]["text"], "left arm, right arm");
    assert_eq!(
        admins[0]["dosage"]["text"],
        "omalizumab injection 1: 600 mg in 4 injections"
    );
    assert!(admins[0].get("note").is_none(), "{}", admins[0]);
    assert!(
        admins[0]["effectiveDateTime"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-12-07T09:00:00")),
        "{}",
        admins[0]
    );
    // The late one: the physician's acceptance, with the reason.
    assert_eq!(
        admins[1]["note"][0]["text"],
        "given late, accepted by the physician Dr Wang (dr.wang): asthma stable; away for the holiday"
    );
    assert_eq!(
        admins[1]["performer"][0]["actor"]["display"],
        "Dr Wang (dr.wang)"
    );
    // Each points at its planned injection.
    let urls: Vec<&str> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["fullUrl"].as_str().expect("url"))
        .collect();
    for a in &admins {
        let r = a["request"]["reference"].as_str().expect("request");
        assert!(urls.contains(&r), "{r}");
    }
    // The local reaction after each (12 mm, then none), part of it.
    let obs = resources(&bundle, "Observation");
    assert_eq!(obs.len(), 2, "{text}");
    for (o, (mm, a)) in obs.iter().zip([(12, admins[0]), (0, admins[1])]) {
        assert_eq!(o["valueQuantity"]["value"], mm);
        assert_eq!(
            o["partOf"][0]["reference"],
            format!("urn:uuid:{}", a["id"].as_str().expect("id"))
        );
    }
    // The patient's Bundle holds both courses; the immunotherapy course's resources are the
    // same as in its own Bundle.
    let all: Value =
        serde_json::from_str(&w.ok("2027-01-06T12:00", &["export", "fhir", "--patient", "P1"]))
            .expect("json");
    let rush_only: Value =
        serde_json::from_str(&w.ok("2027-01-06T12:00", &["export", "fhir", &rush])).expect("json");
    let entries = all["entry"].as_array().expect("entries");
    for e in rush_only["entry"].as_array().expect("entries") {
        assert!(entries.contains(e), "{e}");
    }
    for e in bundle["entry"].as_array().expect("entries") {
        assert!(entries.contains(e), "{e}");
    }
    assert_eq!(
        entries.len(),
        rush_only["entry"].as_array().map_or(0, Vec::len)
            + bundle["entry"].as_array().map_or(0, Vec::len)
            - 1,
        "one Patient"
    );
}

#[test]
fn a_reaction_on_omalizumab_is_an_adverse_event_and_a_corrected_injection_is_entered_in_error() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    om_give(&w, As::Nurse, "2026-12-07T07:00", &om, &[]);
    w.ok(
        "2026-12-07T07:40",
        &[
            "react",
            &om,
            "--grade",
            "3b",
            "--onset-min",
            "35",
            "--symptom",
            "wheeze and hypotension",
            "--treatment",
            "epinephrine 0.5 mg",
        ],
    );
    let bundle: Value =
        serde_json::from_str(&w.ok("2026-12-07T08:00", &["export", "fhir", &om])).expect("json");
    let admins = resources(&bundle, "MedicationAdministration");
    assert_eq!(admins.len(), 1);
    let events = resources(&bundle, "AdverseEvent");
    assert_eq!(events.len(), 1, "{bundle}");
    assert_eq!(events[0]["extension"][0]["valueString"], "3b");
    assert_eq!(
        events[0]["event"]["text"],
        "systemic reaction: wheeze and hypotension"
    );
    assert_eq!(
        events[0]["suspectEntity"][0]["instance"]["reference"],
        format!("urn:uuid:{}", admins[0]["id"].as_str().expect("id"))
    );
    assert_eq!(events[0]["outcome"]["text"], "treated: epinephrine 0.5 mg");
    // A held course has no injection to come in the calendar until a physician reviews it.
    let ics = w.ok("2026-12-07T08:00", &["export", "ics", &om]);
    assert!(!ics.contains("BEGIN:VEVENT"), "{ics}");
    w.ok(
        "2026-12-07T09:00",
        &[
            "review",
            &om,
            "--decision",
            "continue",
            "--reason",
            "premedicate; observe longer",
        ],
    );
    let ics = w.ok("2026-12-07T09:00", &["export", "ics", &om]);
    assert!(ics.contains("-injection-2@ritplan"), "{ics}");
    // The injection corrected away: entered in error, its request no longer completed.
    let (code, _, err) = w.run_as(
        As::Physician,
        "2026-12-07T09:10",
        &[
            "correct",
            &om,
            "--event",
            "1",
            "--reason",
            "recorded on the wrong patient",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let bundle: Value =
        serde_json::from_str(&w.ok("2026-12-07T09:20", &["export", "fhir", &om])).expect("json");
    let admins = resources(&bundle, "MedicationAdministration");
    assert_eq!(admins[0]["status"], "entered-in-error", "{bundle}");
    assert_eq!(
        resources(&bundle, "MedicationRequest")[0]["status"],
        "active"
    );
}

/// The events of an iCalendar file: (UID, DTSTART, SEQUENCE, DESCRIPTION unfolded).
fn vevents(text: &str) -> Vec<(String, String, u32, String)> {
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    let unfolded = text.replace("\r\n ", "");
    let mut out = Vec::new();
    for block in unfolded.split("BEGIN:VEVENT\r\n").skip(1) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim_end_matches('\r').to_string())
                .unwrap_or_default()
        };
        out.push((
            field("UID:"),
            field("DTSTART;VALUE=DATE:"),
            field("SEQUENCE:").parse().expect("sequence"),
            field("DESCRIPTION:")
                .replace("\\n", "\n")
                .replace("\\,", ",")
                .replace("\\;", ";"),
        ));
    }
    out
}

#[test]
fn the_calendar_holds_the_injections_to_come_with_their_observation_and_stable_uids() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    let before = vevents(&w.ok(NOW, &["export", "ics", &om, "--clinic", "Ward 4"]));
    assert_eq!(before.len(), 13, "every laid injection");
    assert!(
        before[0].0.ends_with("-course-2-injection-1@ritplan"),
        "{before:?}"
    );
    assert_eq!(before[0].1, "20261207");
    assert_eq!(before[2].1, "20270201");
    // 2 h after each of the first 3, 30 min after later ones; no dose without --details.
    assert!(before[2].3.contains("2 h (120 min)"), "{before:?}");
    assert!(before[3].3.contains("stay 30 min after"), "{before:?}");
    assert!(before.iter().all(|e| !e.3.contains("mg")), "{before:?}");
    two_given(&w, &om);
    let text = w.ok(
        "2027-01-06T12:00",
        &["export", "ics", &om, "--clinic", "Ward 4", "--details"],
    );
    assert!(text.contains("SUMMARY:Ward 4\r\n"), "{text}");
    let after = vevents(&text);
    // The injections given are no longer to come; the third moved with the late second.
    assert_eq!(after.len(), 11);
    assert!(
        after[0].0.ends_with("-course-2-injection-3@ritplan"),
        "{after:?}"
    );
    assert_eq!(after[0].1, "20270203");
    assert!(after[0].3.contains("600 mg (4 × 150 mg)"), "{after:?}");
    assert!(after[0].3.contains("2 h (120 min)"), "{after:?}");
    assert!(after[1].3.contains("stay 30 min after"), "{after:?}");
    // The same UIDs, a higher SEQUENCE where the date moved.
    for a in &after {
        let b = before.iter().find(|b| b.0 == a.0).expect("same uid");
        if a.1 == b.1 {
            assert!(a.2 >= b.2, "{a:?} {b:?}");
        } else {
            assert!(a.2 > b.2, "{a:?} {b:?}");
        }
    }
    assert!(after[0].2 > 0);
    // Missed with nothing recorded: the third moves to today, its SEQUENCE rises again.
    let missed = vevents(&w.ok("2027-02-20T09:00", &["export", "ics", &om, "--details"]));
    assert_eq!(missed[0].1, "20270220");
    assert!(missed[0].2 > after[0].2, "{missed:?}");
    assert!(
        missed[0].3.contains("Due on 2027-02-03, past"),
        "{missed:?}"
    );
}

/// The calendar of the omalizumab course after its late second injection, with --details, as
/// a reviewable snapshot (the record's random id and the DTSTAMP, this machine's UTC offset of
/// now, named instead).
#[test]
fn the_omalizumab_calendar_snapshot() {
    let w = Ward::new();
    let (_, om) = with_omalizumab(&w);
    two_given(&w, &om);
    let text = w.ok(
        "2027-01-06T12:00",
        &["export", "ics", &om, "--clinic", "Ward 4", "--details"],
    );
    let who: Value =
        serde_json::from_str(&w.ok("2027-01-06T12:00", &["whoami", "--json"])).expect("json");
    let record = who["record"].as_str().expect("record");
    let text: String = text
        .replace(record, "[record id]")
        .split("\r\n")
        .map(|l| {
            if l.starts_with("DTSTAMP:") {
                "DTSTAMP:[now in UTC]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("export_ics_omalizumab", text);
}
