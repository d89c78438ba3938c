//! `ritplan vial add | list | discard` on the real binary: codes sequential and unique across
//! courses, every refusal (exit 65, nothing written), a GS1 scan as a wedge scanner types it,
//! a discarded vial, and a vial event changed in the database found by `verify`.

use serde_json::Value;

use crate::ward::{As, Ward, hh};

/// P1 on the rush (course 1) and P2 on the cluster (course 2).
fn two_courses() -> Ward {
    let w = Ward::new();
    assert_eq!(w.rush_course(), "1");
    w.add_patient(
        &hh(1, 9, 0),
        "P2",
        "Wu Fang",
        "1980-01-01",
        "70",
        "2",
        "300",
    );
    w.ok(
        &hh(1, 9, 0),
        &[
            "course",
            "start",
            "--patient",
            "P2",
            "--template",
            "alutard-hdm-cluster-7w",
            "--start",
            "2026-12-14",
        ],
    );
    w
}

fn add<'a>(course: &'a str, vial: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["vial", "add", course, "--vial", vial];
    a.extend_from_slice(extra);
    a
}

const LABEL: [&str; 4] = ["--lot", "AB123", "--expires", "2027-03-31"];

fn list(w: &Ward, now: &str, course: Option<&str>) -> Vec<Value> {
    let mut args = vec!["vial", "list"];
    args.extend(course);
    args.push("--json");
    serde_json::from_str::<Value>(&w.ok(now, &args))
        .expect("json")
        .as_array()
        .expect("array")
        .clone()
}

#[test]
fn vials_are_added_listed_and_discarded_with_codes_unique_across_courses() {
    let w = two_courses();
    let now = hh(7, 8, 0);
    let out = w.ok(&now, &add("1", "4", &LABEL));
    assert_eq!(
        out.lines().next(),
        Some(
            "vial V000001 added to course 1 (P1): vial 4 (100 000 SQ-U/mL, red), lot AB123, expires 2027-03-31"
        ),
        "{out}"
    );
    assert!(
        w.ok(&now, &add("2", "1", &LABEL))
            .starts_with("vial V000002 added to course 2 (P2)")
    );
    assert!(
        w.ok(&now, &add("1", "3", &LABEL))
            .starts_with("vial V000003 added to course 1")
    );
    let all = list(&w, &now, None);
    let codes: Vec<&str> = all
        .iter()
        .map(|v| v["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["V000001", "V000003", "V000002"]);
    assert_eq!(list(&w, &now, Some("2")).len(), 1);
    let table = w.ok(&now, &["vial", "list", "1"]);
    assert!(table.contains("code"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("V000001") && l.contains("red") && l.contains("active")),
        "{table}"
    );
    // Discarded (the code typed in lower case): listed as discarded, and in the course's log.
    let out = w.ok(
        &hh(7, 9, 0),
        &["vial", "discard", "v000001", "--reason", "dropped"],
    );
    assert!(out.starts_with("vial V000001 discarded: dropped"), "{out}");
    let table = w.ok(&hh(7, 9, 0), &["vial", "list", "1"]);
    assert!(
        table
            .lines()
            .any(|l| l.contains("V000001") && l.contains("discarded")),
        "{table}"
    );
    let log = w.ok(&hh(7, 9, 0), &["course", "log", "1"]);
    assert!(
        log.contains(
            "vial V000001 added: vial 4 (100 000 SQ-U/mL, red), lot AB123, expires 2027-03-31"
        ),
        "{log}"
    );
    assert!(log.contains("vial V000001 discarded: dropped"), "{log}");
    // Twice: refused.
    let (code, _, err) = w.run(
        &hh(7, 9, 1),
        &["vial", "discard", "V000001", "--reason", "x"],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("already discarded"), "{err}");
    let (code, _, err) = w.run(
        &hh(7, 9, 1),
        &["vial", "discard", "V000099", "--reason", "x"],
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("no vial has the code V000099"), "{err}");
    // Expired the day after its expiry date.
    let later = list(&w, "2027-04-01T09:00", Some("1"));
    assert_eq!(later[1]["status"], "expired");
}

#[test]
fn every_bad_vial_is_refused_and_nothing_is_written() {
    let w = two_courses();
    let now = hh(7, 8, 0);
    let refused = |args: &[&str], says: &str| {
        let (code, out, err) = w.run(&now, args);
        assert_eq!(code, Some(65), "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &add("1", "7", &LABEL),
        "--vial \"7\" is not a vial of course 1's template example-hdm-rush-3d: its vials are 1 (100 SQ-U/mL, grey)",
    );
    refused(
        &add("1", "4", &["--lot", "AB123", "--expires", "2026-12-06"]),
        "--expires 2026-12-06 is past",
    );
    refused(
        &add("1", "4", &["--expires", "2027-03-31"]),
        "--lot is needed",
    );
    refused(&add("1", "4", &["--lot", "AB123"]), "--expires is needed");
    refused(
        &add(
            "1",
            "4",
            &[
                "--lot",
                "AB123",
                "--expires",
                "2027-03-31",
                "--volume",
                "51",
            ],
        ),
        "--volume 51 is not a vial's volume",
    );
    // A scan whose lot is not the typed one.
    let scan = "]d201095060001343521727033110AB123\u{1d}21S42";
    refused(
        &add("1", "4", &["--lot", "ZZ9", "--scan", scan]),
        "--lot \"ZZ9\" disagrees with the scanned code's lot \"AB123\"",
    );
    refused(
        &add("1", "4", &["--scan", "]d2999"]),
        "--scan is not a GS1 code",
    );
    assert!(list(&w, &now, None).is_empty(), "nothing was written");
}

#[test]
fn a_scan_fills_the_lot_and_expiry_as_a_wedge_scanner_types_them() {
    let w = two_courses();
    let now = hh(7, 8, 0);
    // ]d2, GTIN, expiry, lot ended by the GS separator, serial, and the scanner's CR.
    let scan = "]d201095060001343521727033110AB123\u{1d}21S42\r";
    let out = w.ok(&now, &add("1", "4", &["--scan", scan, "--json"]));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["code"], "V000001");
    assert_eq!(v["lot"], "AB123");
    assert_eq!(v["expires"], "2027-03-31");
    assert_eq!(v["gtin"], "09506000134352");
    assert_eq!(v["serial"], "S42");
}

#[test]
fn a_changed_vial_event_fails_verification() {
    let w = two_courses();
    if w.file_only("the tamper edits the SQLite file") {
        return;
    }
    let now = hh(7, 8, 0);
    w.ok(&now, &add("1", "4", &LABEL));
    let c = rusqlite::Connection::open(&w.db).expect("open");
    c.execute_batch("DROP TRIGGER events_no_update")
        .expect("drop trigger");
    let n = c
        .execute(
            "UPDATE events SET body_json = replace(body_json, '2027-03-31', '2029-03-31') WHERE body_json LIKE '{\"vial_added\"%'",
            [],
        )
        .expect("tamper");
    assert_eq!(n, 1);
    drop(c);
    w.login(As::Admin, &now);
    let (code, out, err) = w.run_as(As::Admin, &now, &["verify"]);
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(
        format!("{out}{err}").contains("does not match its MAC"),
        "{out}{err}"
    );
    // Nothing is decided on it: the vial is not shown.
    let (code, _, err) = w.run(&now, &["vial", "list"]);
    assert_eq!(code, Some(65), "{err}");
}

#[test]
fn vials_are_left_out_of_the_fhir_export_and_a_doses_lot_stays() {
    let w = two_courses();
    let now = hh(7, 8, 0);
    w.ok(&now, &add("1", "4", &LABEL));
    let patient = w.patient_of(&now, "1");
    w.ok(
        &now,
        &crate::ward::give_args("1", &patient, "1", "0.1", &["--lot", "LOT-7"]),
    );
    let file = w.file("course-1.fhir.json");
    w.ok(
        &hh(7, 8, 5),
        &["export", "fhir", "1", "--out", file.to_str().expect("path")],
    );
    let text = std::fs::read_to_string(&file).expect("export");
    assert!(
        !text.contains("V000001") && !text.contains("AB123"),
        "{text}"
    );
    assert!(text.contains("LOT-7"), "the dose's lot is exported");
}

#[test]
fn a_schema_3_record_is_upgraded_with_the_empty_index() {
    let w = Ward::new();
    assert_eq!(w.rush_course(), "1");
    if w.on_server() {
        let mut c =
            postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls).expect("connect");
        c.batch_execute(
            "DROP TABLE vials; UPDATE meta SET value = '3' WHERE key = 'schema_version'",
        )
        .expect("as schema 3");
    } else {
        let c = rusqlite::Connection::open(&w.db).expect("open");
        c.execute_batch("DROP TABLE vials; PRAGMA user_version = 3")
            .expect("as schema 3");
    }
    let now = hh(7, 8, 0);
    let out = w.ok(&now, &add("1", "4", &LABEL));
    assert!(out.starts_with("vial V000001 added"), "{out}");
    w.login(As::Admin, &now);
    let (code, out, err) = w.run_as(As::Admin, &now, &["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

/// `vial add` works out the expiry with the clinic's rules from --rules DIR (installed when the
/// command opens the record, as for the page's wards).
#[test]
fn vial_add_takes_the_clinic_s_expiry_rules_from_the_rules_dir() {
    let w = Ward::new();
    assert_eq!(w.rush_course(), "1");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("vial-expiry.toml"),
        r#"
kind = "vial-expiry"
format = 1
source = "test"
evidence = "example"
certainty = "I"

[[limit]]
unit = "SQ-U"
strength = "[0, 1000]"
months = 3
source = "test clinic"
evidence = "example"
certainty = "I"
"#,
    )
    .expect("write");
    let rules = dir.path().to_str().expect("path");
    let now = hh(7, 8, 0);
    let mut args = vec!["--rules", rules];
    args.extend(add("1", "1", &LABEL));
    let (code, out, err) = w.run(&now, &args);
    assert_eq!(code, Some(65), "{err}{out}");
    assert!(err.contains("prepared"), "{err}");
    args.extend(["--prepared", "2026-12-01"]);
    let out = w.ok(&now, &args);
    assert!(out.contains("expires 2027-03-01"), "{out}");
}
