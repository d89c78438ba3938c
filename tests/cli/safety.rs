//! Safe dosing through the real binary: each scenario follows a rule of a source listed in
//! docs/sources.md (its key is cited) and shows that `next`, `give` and the other records keep to it. Refusals
//! exit 1 and leave the database byte-for-byte unchanged.

use serde_json::Value;

use crate::fixture;
use crate::ward::{Ward, hh};

fn react(w: &Ward, now: &str, c: &str, grade: &str) {
    w.ok(
        now,
        &[
            "react",
            c,
            "--grade",
            grade,
            "--onset-min",
            "10",
            "--symptom",
            "urticaria",
            "--by",
            "Dr Wang",
        ],
    );
}

fn review(
    w: &Ward,
    now: &str,
    c: &str,
    decision: &str,
    reason: &str,
) -> (Option<i32>, String, String) {
    w.run(
        now,
        &[
            "review",
            c,
            "--by",
            "Dr Wang",
            "--decision",
            decision,
            "--reason",
            reason,
        ],
    )
}

/// A refused command: exit 1, the message contains `needle`, and not a byte changed.
fn refused(w: &Ward, now: &str, args: &[&str], needle: &str) {
    w.ready(now, args);
    let before = w.bytes();
    let (code, out, err) = w.run(now, args);
    assert_eq!(code, Some(1), "{args:?}: {out}{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert_eq!(before, w.bytes(), "{args:?} changed the database");
}

/// A dose for P1 (see [`crate::ward::give_args`]).
fn give_args<'a>(c: &'a str, step: &'a str, vol: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    crate::ward::give_args(c, "P1", step, vol, extra)
}

fn adult(w: &Ward, id: &str, sige: &str) {
    w.add_patient(
        "2026-11-01T09:00",
        id,
        "Ana Souza",
        "1985-01-01",
        "70",
        sige,
        "410",
    );
}

/// A course of `template` for a low-risk adult from 2026-12-07.
fn course(w: &Ward, id: &str, template: &str) -> String {
    adult(w, id, "2");
    w.start("2026-11-01T09:00", id, template, "2026-12-07T08:00", &[])
}

#[test]
fn a_local_reaction_on_a_weekly_schedule_repeats_at_the_next_visit_not_the_same_day() {
    // ritplan's local-reaction bands, [25, 50) mm: repeat, an example (docs/sources.md:
    // ritplan-default), and the Norwegian guide's check before each injection, a reaction after
    // the previous injection adjusts the next dose (docs/sources.md: norwegian-guide): the repeat
    // is the next visit's.
    let w = Ward::new();
    let c = course(&w, "P1", "alutard-hdm-conventional-15w");
    w.give_next("2026-12-07T08:00", &c, 0);
    let end = w.give_next("2026-12-14T08:00", &c, 30);
    let n = w.next(&end, &c);
    assert_eq!(n["action"], "visit_closed", "{n}");
    assert_eq!(n["not_before"], "2026-12-21T08:00:00");
    assert_eq!(n["step"], 2);
    refused(
        &w,
        &hh(14, 9, 0),
        &give_args(&c, "2", "0.4", &[]),
        "no further injection at this visit",
    );
    refused(
        &w,
        &hh(14, 9, 0),
        &give_args(&c, "1", "0.2", &["--override", "lower, same day"]),
        "no further injection at this visit",
    );
}

/// A low-risk adult on the rush, through up-dosing and the first maintenance dose (12-23).
fn rush_in_maintenance(w: &Ward) -> String {
    let c = course(w, "P1", "example-hdm-rush-3d");
    for day in [7, 8, 9] {
        w.give_visit(&hh(day, 8, 0), &c, 0);
    }
    assert_eq!(w.give_visit(&hh(23, 8, 0), &c, 0), [11]);
    c
}

#[test]
fn maintenance_visits_hold_one_injection_and_a_reaction_reduces_the_next_visit_only() {
    // Norwegian guide (docs/sources.md: norwegian-guide): in maintenance a mild systemic reaction reduces the next
    // dose one step (1.0 -> 0.6 mL); after 0.6 mL the full dose comes 4 weeks later.
    let w = Ward::new();
    let c = rush_in_maintenance(&w);
    let n = w.next(&hh(23, 9, 0), &c);
    assert_eq!(n["action"], "visit_closed", "{n}");
    refused(
        &w,
        &hh(23, 9, 0),
        &give_args(&c, "12", "1.0", &["--override", "a second one"]),
        "a maintenance visit holds one injection",
    );
    // 4 weeks later (2027-01-20), a grade 1 reaction.
    w.give_next("2027-01-20T08:00", &c, 0);
    react(&w, "2027-01-20T08:40", &c, "1z");
    let n = w.next("2027-03-03T08:00", &c);
    assert_eq!(
        (n["action"].as_str(), n["volume_ml"].to_string().as_str()),
        (Some("maintenance_due"), "0.6"),
        "{n}"
    );
    assert_eq!(
        w.give_visit("2027-03-03T08:00", &c, 0).len(),
        1,
        "the reduced dose alone"
    );
    let n = w.next("2027-03-04T08:00", &c);
    assert_eq!(n["not_before"], "2027-03-31T08:00:00");
    assert_eq!(n["volume_ml"].to_string(), "1");
}

#[test]
fn a_maintenance_dose_reduced_after_a_gap_climbs_back_visit_by_visit() {
    // Norwegian guide (docs/sources.md: norwegian-guide): 16-26 weeks -> 0.2 mL, then up at 1-2-week intervals to the
    // full dose, then the full dose after 2, 4 and 8 weeks.
    let w = Ward::new();
    let c = rush_in_maintenance(&w);
    let n = w.next("2027-05-05T08:00", &c);
    assert_eq!(n["volume_ml"].to_string(), "0.2", "{n}");
    assert!(
        n["details"]
            .as_array()
            .expect("details")
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.contains("[16, 26] weeks"))),
        "{n}"
    );
    w.give_visit("2027-05-05T08:00", &c, 0);
    let mut got = Vec::new();
    let mut t = "2027-05-06T08:00".to_string();
    for _ in 0..4 {
        let n = w.next(&t, &c);
        let nb = n["not_before"].as_str().expect("not before")[..16].to_string();
        got.push((nb[..10].to_string(), n["volume_ml"].to_string()));
        w.give_visit(&nb, &c, 0);
        t = format!("{}T16:00", &nb[..10]);
    }
    assert_eq!(
        got,
        [
            ("2027-05-12".to_string(), "0.4".to_string()),
            ("2027-05-19".to_string(), "0.6".to_string()),
            ("2027-05-26".to_string(), "1".to_string()),
            ("2027-06-09".to_string(), "1".to_string()),
        ]
    );
}

#[test]
fn step_back_goes_to_the_lower_distinct_dose_on_a_cluster_schedule() {
    // The cluster table repeats 2 000 and 5 000 SQ-U within a visit (docs/sources.md:
    // alutard-sq-smpc-fi); the Norwegian guide reduces 1-2 dose steps (docs/sources.md:
    // norwegian-guide): one step below 5 000 is 2 000, not the other 5 000.
    let w = Ward::new();
    let c = course(&w, "P1", "alutard-hdm-cluster-7w");
    assert_eq!(w.give_visit(&hh(7, 8, 0), &c, 0), [1, 2, 3]);
    assert_eq!(w.give_visit(&hh(14, 8, 0), &c, 0), [4, 5]);
    w.give_next(&hh(21, 8, 0), &c, 0);
    w.give_next(&hh(21, 8, 30), &c, 0);
    react(&w, &hh(21, 9, 10), &c, "1z");
    let n = w.next(&hh(28, 8, 0), &c);
    assert_eq!(
        (n["step"].as_u64(), n["dose"].to_string().as_str()),
        (Some(4), "2000"),
        "{n}"
    );
    assert_eq!(w.give_visit(&hh(28, 8, 0), &c, 0), [4, 5]);
}

#[test]
fn an_override_never_lifts_a_gate_and_never_jumps() {
    let w = Ward::new();
    let c = course(&w, "P1", "example-hdm-rush-3d");
    let ovr = ["--override", "physician says so"];
    // Too early, a running observation, a failed or missing check.
    refused(
        &w,
        "2026-12-04T08:00",
        &give_args(&c, "1", "0.1", &ovr),
        "too early",
    );
    w.ok("2026-12-07T08:00", &give_args(&c, "1", "0.1", &[]));
    refused(
        &w,
        "2026-12-07T08:10",
        &give_args(&c, "1", "0.05", &ovr),
        "observation runs until 08:30",
    );
    w.observe("2026-12-07T08:30", &c, 0);
    // 10 -> 100 000 SQ-U is refused, whatever the reason.
    refused(
        &w,
        "2026-12-07T08:30",
        &give_args(&c, "10", "1.0", &ovr),
        "only choose a lower dose",
    );
    let mut no_pef = give_args(&c, "2", "0.1", &ovr);
    no_pef.retain(|a| *a != "--pef" && *a != "95");
    refused(&w, "2026-12-07T08:30", &no_pef, "no pre-dose PEF");
    let low: Vec<&str> = give_args(&c, "2", "0.1", &ovr)
        .into_iter()
        .map(|a| if a == "95" { "70" } else { a })
        .collect();
    refused(&w, "2026-12-07T08:30", &low, "below 80 %");
    let mut no_screen = give_args(&c, "2", "0.1", &ovr);
    no_screen.retain(|a| *a != "--screen" && *a != "ok");
    refused(&w, "2026-12-07T08:30", &no_screen, "--screen ok");
    // A closed visit, a pending review, a stopped course.
    react(&w, "2026-12-07T08:35", &c, "2a");
    refused(
        &w,
        "2026-12-08T08:00",
        &give_args(&c, "1", "0.05", &ovr),
        "physician must review",
    );
    let (code, _, err) = review(&w, "2026-12-07T11:00", &c, "stop", "moving abroad");
    assert_eq!(code, Some(0), "{err}");
    refused(
        &w,
        "2026-12-08T08:00",
        &give_args(&c, "1", "0.05", &ovr),
        "has stopped",
    );
}

#[test]
fn the_observation_is_measured_from_the_injection_and_needs_a_local_size() {
    // At least 30 min (docs/sources.md: aaaai-acaai-pp-2011); 120 min after a rush day's last
    // injection (docs/sources.md: ritplan-default); the immediate reaction must be measured and
    // recorded (docs/sources.md: norwegian-guide).
    let w = Ward::new();
    let c = course(&w, "P1", "example-hdm-rush-3d");
    w.ok("2026-12-07T08:00", &give_args(&c, "1", "0.1", &[]));
    refused(
        &w,
        "2026-12-07T08:05",
        &["observe", &c, "--by", "RN Li", "--local-mm", "0"],
        "cannot end before 08:30",
    );
    let (code, _, err) = w.run("2026-12-07T08:30", &["observe", &c, "--by", "RN Li"]);
    assert_eq!(
        code,
        Some(2),
        "a size or --not-assessable is required: {err}"
    );
    w.observe("2026-12-07T08:30", &c, 0);
    w.give_next("2026-12-07T08:30", &c, 0);
    w.give_next("2026-12-07T09:00", &c, 0);
    w.ok("2026-12-07T09:30", &give_args(&c, "4", "0.2", &[]));
    // The day's last injection: 120 min.
    refused(
        &w,
        "2026-12-07T10:00",
        &["observe", &c, "--by", "RN Li", "--local-mm", "0"],
        "cannot end before 11:30",
    );
    // The patient leaves: recorded with the reason, and nothing more that day.
    w.ok(
        "2026-12-07T10:00",
        &[
            "observe",
            &c,
            "--by",
            "RN Li",
            "--local-mm",
            "0",
            "--early",
            "left against advice",
        ],
    );
    let n = w.next("2026-12-07T12:00", &c);
    assert_eq!(n["action"], "visit_closed");
    // Not assessable: escalation waits for a physician.
    w.ok("2026-12-08T08:00", &give_args(&c, "5", "0.5", &[]));
    w.ok(
        "2026-12-08T08:30",
        &["observe", &c, "--by", "RN Li", "--not-assessable"],
    );
    let n = w.next("2026-12-08T09:00", &c);
    assert_eq!(n["action"], "physician_review", "{n}");
    assert!(
        n["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("DO NOT GIVE")),
        "{n}"
    );
}

#[test]
fn the_plans_per_visit_cap_holds_when_a_clinics_rule_repeats_at_the_same_visit() {
    // rules/risk.toml: the intermediate stratum gets at most 3 injections a day [example I];
    // a clinic's own rules may repeat a dose at the same visit after a 25-50 mm reaction.
    let w = Ward::new();
    let rules = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(crate::root().join("rules/course-norwegian-guide.toml"))
        .expect("rules");
    let same_visit = text.replacen(
        "mm = \"[25, 50)\"\naction = \"repeat\"\nclose_visit = true",
        "mm = \"[25, 50)\"\naction = \"repeat\"\nclose_visit = false",
        1,
    );
    assert_ne!(text, same_visit);
    std::fs::write(rules.path().join("course-norwegian-guide.toml"), same_visit).expect("write");
    let dir = rules.path().to_str().expect("utf-8");
    adult(&w, "P1", "5");
    let c = w
        .ok(
            "2026-11-01T09:00",
            &[
                "--rules",
                dir,
                "course",
                "start",
                "--patient",
                "P1",
                "--template",
                "example-hdm-rush-3d",
                "--start",
                "2026-12-07T08:00",
            ],
        )
        .trim()
        .to_string();
    let mut t = "2026-12-07T08:00".to_string();
    for _ in 0..3 {
        let n = w.next(&t, &c);
        let nb = n["not_before"]
            .as_str()
            .map(|s| s[..16].to_string())
            .unwrap_or(t.clone());
        t = w.give_next(&nb.max(t.clone()), &c, 30);
    }
    let n = w.next(&t, &c);
    assert_eq!(n["action"], "visit_closed", "{n}");
    assert_eq!(n["visit_closed"]["why"], "injection_cap", "{n}");
    assert!(
        n["text"]
            .as_str()
            .is_some_and(|x| x.contains("at most 3 injections per visit")),
        "{n}"
    );
}

#[test]
fn us_late_doses_count_from_the_missed_scheduled_date() {
    // The practice parameter (docs/sources.md: aaaai-acaai-pp-2011): the eTable counts "days after missed scheduled injection". On a
    // rush the missed date is the next day: back 9 days after day 1 is 8 days late -> repeat.
    let w = Ward::new();
    let dir = tempfile::tempdir().expect("tmp");
    let rush = std::fs::read_to_string(crate::root().join("schedules/example-hdm-rush-3d.toml"))
        .expect("template");
    let us = rush
        .replacen(
            "id = \"example-hdm-rush-3d\"",
            "id = \"example-hdm-rush-3d-us\"",
            1,
        )
        .replacen(
            "rules = \"norwegian-guide\"",
            "rules = \"us-practice-parameter\"",
            1,
        );
    let file = dir.path().join("us.toml");
    std::fs::write(&file, us).expect("write");
    adult(&w, "P1", "2");
    let c = w.start(
        "2026-11-01T09:00",
        "P1",
        file.to_str().expect("utf-8"),
        "2026-12-07T08:00",
        &[],
    );
    w.give_visit(&hh(7, 8, 0), &c, 0);
    let n = w.next(&hh(16, 8, 0), &c);
    assert_eq!(n["step"], 4, "{n}");
    let details = n["details"].to_string();
    assert!(
        details.contains("8 days after the missed scheduled date 2026-12-08"),
        "{details}"
    );
    assert!(
        details.contains("[8, 13] days: repeat the last dose"),
        "{details}"
    );
}

/// A course of the rush template under `rule_set` for a low-risk adult P1 from 2026-12-07 (the
/// template file lives in the returned directory).
fn rush_course_under(w: &Ward, rule_set: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let rush = std::fs::read_to_string(crate::root().join("schedules/example-hdm-rush-3d.toml"))
        .expect("template");
    let text = rush
        .replacen(
            "id = \"example-hdm-rush-3d\"",
            "id = \"example-hdm-rush-3d-other\"",
            1,
        )
        .replacen(
            "rules = \"norwegian-guide\"",
            &format!("rules = \"{rule_set}\""),
            1,
        );
    let file = dir.path().join("rush.toml");
    std::fs::write(&file, text).expect("write");
    adult(w, "P1", "2");
    let c = w.start(
        "2026-11-01T09:00",
        "P1",
        file.to_str().expect("utf-8"),
        "2026-12-07T08:00",
        &[],
    );
    (dir, c)
}

/// Gives every dose of the visit from `now` with `--lot LOT`, each observation ended on time.
fn give_visit_lot(w: &Ward, now: &str, c: &str, lot: &str) {
    let mut t = now.to_string();
    loop {
        let n = w.next(&t, c);
        match n["action"].as_str() {
            Some("give") => {
                let step = n["step"].to_string();
                let vol = n["volume_ml"].to_string();
                w.ok(&t, &give_args(c, &step, &vol, &["--lot", lot]));
                let end = w.next(&t, c)["observation_until"]
                    .as_str()
                    .expect("an observation")[..16]
                    .to_string();
                w.observe(&end, c, 0);
                t = end;
            }
            Some("wait")
                if n["not_before"]
                    .as_str()
                    .is_some_and(|nb| nb[..10] == t[..10]) =>
            {
                t = n["not_before"].as_str().expect("nb")[..16].to_string();
            }
            _ => return,
        }
    }
}

#[test]
fn a_new_lot_needs_the_us_label_s_75_percent_reduction_and_the_norwegian_rules_ask_the_physician() {
    // rules/vial-change.toml: US extract labels reduce the first dose from a new lot by 75 %
    // (docs/sources.md: greer-extract-insert, allermed-timothy-label); the Alutard label gives
    // no rule, so the Norwegian rule set asks the physician (docs/sources.md: alutard-sq-smpc-fi).
    let w = Ward::new();
    let (_dir, c) = rush_course_under(&w, "us-practice-parameter");
    give_visit_lot(&w, &hh(7, 8, 0), &c, "A1");
    let day2 = hh(8, 8, 0);
    // Step 5 is 0.5 mL of vial 3 (5 000 SQ-U); nothing is known of the vial on `next`.
    let n = w.next(&day2, &c);
    assert_eq!(
        (n["step"].as_u64(), n["volume_ml"].to_string()),
        (Some(5), "0.5".to_string()),
        "{n}"
    );
    // The forecast with a new lot from day 2 gives the reduced dose; without it, the full one.
    let f = w.ok(&day2, &["forecast", &c, "--new-lot", "2026-12-08"]);
    assert!(
        f.contains("New lot NEW (forecast) of vial 3 (last dose from lot A1): 75 % reduction"),
        "{f}"
    );
    let plain = w.ok(&day2, &["forecast", &c]);
    assert!(!plain.contains("New lot"), "{plain}");
    refused(
        &w,
        &day2,
        &give_args(&c, "5", "0.5", &["--lot", "B2"]),
        "New lot B2 of vial 3 (last dose from lot A1): 75 % reduction: 0.12 mL this dose.",
    );
    refused(
        &w,
        &day2,
        &give_args(&c, "5", "0.5", &["--lot", "B2", "--override", "as before"]),
        "an override may only choose a lower dose",
    );
    // The same lot: the schedule's dose. 25 % of it (rounded down to the syringe) with lot B2.
    w.ready(&day2, &give_args(&c, "5", "0.12", &["--lot", "B2"]));
    let (code, _, err) = w.run(&day2, &give_args(&c, "5", "0.12", &["--lot", "B2"]));
    assert_eq!(code, Some(0), "{err}");
    let shown = w.ok(&hh(8, 9, 0), &["course", "show", &c, "--json"]);
    assert!(shown.contains("\"B2\""), "{shown}");

    let w = Ward::new();
    let (_dir, c) = rush_course_under(&w, "norwegian-guide");
    give_visit_lot(&w, &hh(7, 8, 0), &c, "A1");
    refused(
        &w,
        &day2,
        &give_args(&c, "5", "0.5", &["--lot", "B2"]),
        "new lot B2 of vial 3 (last dose from lot A1)",
    );
    // The same lot goes on as planned.
    w.ready(&day2, &give_args(&c, "5", "0.5", &["--lot", "A1"]));
    let (code, _, err) = w.run(&day2, &give_args(&c, "5", "0.5", &["--lot", "A1"]));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn terminal_states_grade_5_grade_4_and_late_type_iii() {
    // Grade 5 is death (docs/sources.md: wao-grading-2010); severe -> stop unless a correctable
    // cause, late type III -> stop (docs/sources.md: norwegian-guide).
    let w = Ward::new();
    let c = course(&w, "P1", "example-hdm-rush-3d");
    w.ok("2026-12-07T08:00", &give_args(&c, "1", "0.1", &[]));
    react(&w, "2026-12-07T08:10", &c, "5z");
    assert_eq!(w.next("2026-12-08T08:00", &c)["action"], "ended");
    refused(
        &w,
        "2026-12-08T08:00",
        &[
            "review",
            &c,
            "--by",
            "Dr Wang",
            "--decision",
            "restart",
            "--reason",
            "x",
        ],
        "only a correction",
    );
    w.ok(
        "2026-12-08T09:00",
        &[
            "correct",
            &c,
            "--event",
            "2",
            "--reason",
            "recorded on the wrong patient",
            "--by",
            "Dr Wang",
        ],
    );
    assert_ne!(w.next("2026-12-08T09:00", &c)["action"], "ended");

    let w = Ward::new();
    let c = course(&w, "P1", "example-hdm-rush-3d");
    w.give_next("2026-12-07T08:00", &c, 0);
    react(&w, "2026-12-07T08:40", &c, "4a");
    assert_eq!(w.next("2026-12-08T08:00", &c)["action"], "stopped");
    refused(
        &w,
        "2026-12-08T08:00",
        &["review", &c, "--by", "Dr Wang", "--decision", "repeat"],
        "needs a reason",
    );
    let (code, _, err) = review(
        &w,
        "2026-12-08T08:00",
        &c,
        "repeat",
        "intercurrent infection was the cause",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(w.next("2026-12-08T08:00", &c)["action"], "give");

    let w = Ward::new();
    let c = course(&w, "P1", "alutard-hdm-conventional-15w");
    w.give_next("2026-12-07T08:00", &c, 0);
    w.ok(
        "2026-12-08T07:00",
        &[
            "react",
            &c,
            "--late",
            "type-iii",
            "--symptom",
            "fever, joint pain",
            "--by",
            "Dr Wang",
        ],
    );
    let n = w.next("2026-12-14T08:00", &c);
    assert_eq!(n["action"], "stopped");
    assert!(
        n["details"].to_string().contains("late type III reaction"),
        "{n}"
    );
}

#[test]
fn the_patient_not_the_course_is_the_unit_of_safety() {
    // At least 30 min between injections of different allergens (docs/sources.md:
    // alutard-sq-pil-pl, purethal-label-be); a reaction or a pending review holds every course.
    let w = Ward::new();
    let clinic = fixture("fixtures/clinic-templates");
    let clinic = clinic.to_str().expect("utf-8");
    adult(&w, "P1", "2");
    let a = w.start(
        "2026-11-01T09:00",
        "P1",
        "alutard-hdm-conventional-15w",
        "2026-12-07T08:00",
        &[],
    );
    let b = w
        .ok(
            "2026-11-01T09:00",
            &[
                "--templates",
                clinic,
                "course",
                "start",
                "--patient",
                "P1",
                "--template",
                "clinic-rush-2d",
                "--start",
                "2026-12-07T08:00",
            ],
        )
        .trim()
        .to_string();
    // A second course of the same extract is refused.
    let (code, _, err) = w.run(
        "2026-11-01T09:00",
        &[
            "course",
            "start",
            "--patient",
            "P1",
            "--template",
            "alutard-hdm-cluster-7w",
            "--start",
            "2026-12-07T08:00",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("same extract"), "{err}");
    // Two extracts at least 30 min apart.
    w.ok("2026-12-07T08:00", &give_args(&a, "1", "0.2", &[]));
    let n = w.next("2026-12-07T08:10", &b);
    assert_eq!(
        (n["action"].as_str(), n["not_before"].as_str()),
        (Some("wait"), Some("2026-12-07T08:30:00")),
        "{n}"
    );
    refused(
        &w,
        "2026-12-07T08:10",
        &[
            "--templates",
            clinic,
            "give",
            &b,
            "--patient",
            "P1",
            "--step",
            "1",
            "--volume",
            "0.1",
            "--by",
            "RN Li",
            "--pef",
            "95",
            "--screen",
            "ok",
        ],
        "another extract",
    );
    // The sheet lays the second extract 30 min after the first.
    let sheet: Value = serde_json::from_str(&w.ok(
        "2026-12-07T08:05",
        &[
            "--templates",
            clinic,
            "sheet",
            "--date",
            "2026-12-07",
            "--json",
        ],
    ))
    .expect("json");
    let rows = sheet.as_array().expect("rows");
    let b_first = rows
        .iter()
        .find(|r| r["course"].as_i64() == b.parse().ok() && r["step"].is_u64())
        .expect("a row for b");
    assert!(b_first["time"].as_str() >= Some("08:30"), "{b_first}");
    // A systemic reaction on A holds B.
    react(&w, "2026-12-07T08:20", &a, "2a");
    let n = w.next("2026-12-08T08:00", &b);
    assert_eq!(n["action"], "patient_hold", "{n}");
    assert_eq!(n["held_by"].to_string(), a);
    let sheet = w.ok(
        "2026-12-08T07:00",
        &["--templates", clinic, "sheet", "--date", "2026-12-08"],
    );
    assert!(
        sheet.contains(&format!(
            "DO NOT GIVE — course {a} of this patient awaits a physician"
        )),
        "{sheet}"
    );
}

#[test]
fn eligibility_at_course_start() {
    // Alutard SQ is not recommended under 5 (docs/sources.md: alutard-sq-pil-cz); spirometry and
    // asthma status before starting SCIT (docs/sources.md: norwegian-guide).
    let w = Ward::new();
    w.add_patient(
        "2026-11-01T09:00",
        "K4",
        "Tom",
        "2022-06-01",
        "17",
        "2",
        "410",
    );
    let (code, _, err) = w.run(
        "2026-11-01T09:00",
        &[
            "course",
            "start",
            "--patient",
            "K4",
            "--template",
            "alutard-hdm-conventional-15w",
            "--start",
            "2026-12-07",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not given under 5 years"), "{err}");
    let c = w.start(
        "2026-11-01T09:00",
        "K4",
        "alutard-hdm-conventional-15w",
        "2026-12-07",
        &[
            "--accept-age",
            "severe HDM asthma, paediatric allergist's decision",
        ],
    );
    let show = w.ok("2026-11-01T09:00", &["course", "show", &c]);
    assert!(
        show.contains("UNDER THE MINIMUM AGE, ACCEPTED BY THE PHYSICIAN"),
        "{show}"
    );
    let (code, out, err) = crate::ritplan()
        .args([
            "plan",
            "--template",
            "alutard-hdm-conventional-15w",
            "--start",
            "2026-12-07",
            "--age",
            "4",
            "--weight",
            "17",
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
        .map(|o| {
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .expect("run");
    assert_eq!(code, Some(1), "{out}{err}");
    // No FEV1, no asthma status: refused, naming both.
    w.ok(
        "2026-11-01T09:00",
        &[
            "patient",
            "add",
            "--id",
            "P9",
            "--name",
            "Bo",
            "--dob",
            "1980-01-01",
            "--weight",
            "70",
            "--sige",
            "2",
            "--total-ige",
            "410",
        ],
    );
    let (code, _, err) = w.run(
        "2026-11-01T09:00",
        &[
            "course",
            "start",
            "--patient",
            "P9",
            "--template",
            "alutard-hdm-conventional-15w",
            "--start",
            "2026-12-07",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("FEV1") && err.contains("asthma status"),
        "{err}"
    );
    // The omalizumab lookup states the label's low-IgE condition.
    let out = crate::ritplan()
        .args([
            "omalizumab",
            "--total-ige",
            "60",
            "--weight",
            "70",
            "--age",
            "30",
        ])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("below 76 IU/mL"),
        "{out:?}"
    );
}

#[test]
fn next_speaks_sentences_and_course_show_reprojects_after_a_delay() {
    let w = Ward::new();
    let c = course(&w, "P1", "alutard-hdm-conventional-15w");
    w.give_next("2026-12-07T08:00", &c, 0);
    w.give_next("2026-12-14T08:00", &c, 0);
    for t in ["2026-12-14T09:00", "2026-12-21T08:00", "2027-01-20T08:00"] {
        let (_, out, _) = w.run(t, &["next", &c]);
        for debug in ["StepBack {", "Some(", "{ steps", "Reduce {", "::"] {
            assert!(!out.contains(debug), "{t}: {out}");
        }
        assert!(!out.contains("00:00 ("), "midnight: {out}");
    }
    // A week late (2026-12-21 was due): the rest of the plan moves.
    let show: Value =
        serde_json::from_str(&w.ok("2026-12-28T08:00", &["course", "show", &c, "--json"]))
            .expect("json");
    let due: Vec<&Value> = show["schedule"]
        .as_array()
        .expect("schedule")
        .iter()
        .filter(|l| l["given"] == false)
        .collect();
    assert_eq!(due[0]["at"], "2026-12-28T08:00:00", "{:?}", due[0]);
    assert_eq!(due[1]["at"], "2027-01-04T08:00:00");
    assert_eq!(due[0]["step"], 3);
    assert_eq!(
        due[0]["planned"], "2026-12-21T08:00:00",
        "the original date beside it"
    );
}

#[test]
fn the_sheet_shows_observations_running_and_not_closed() {
    let w = Ward::new();
    let c = course(&w, "P1", "example-hdm-rush-3d");
    w.ok("2026-12-07T08:00", &give_args(&c, "1", "0.1", &[]));
    let sheet = w.ok("2026-12-07T08:05", &["sheet", "--date", "2026-12-07"]);
    assert!(sheet.contains("IN OBSERVATION until 08:30"), "{sheet}");
    assert!(sheet.contains("2 000 SQ-U"), "the rest of the day: {sheet}");
    let sheet = w.ok("2026-12-07T09:00", &["sheet", "--date", "2026-12-07"]);
    assert!(sheet.contains("OBSERVATION NOT CLOSED"), "{sheet}");
    assert!(!sheet.contains("2 000 SQ-U"), "{sheet}");
}
