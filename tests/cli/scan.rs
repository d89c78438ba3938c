//! `give --scan-patient CODE --scan-vial CODE` on the real binary: each refusal (wrong
//! wristband, another patient's vial, the wrong strength, an expired or discarded vial, a scan
//! the clinic requires missing) exits 1 and leaves the record's bytes as they were, and no
//! `--override` lifts it; a good scan records the vial's code and lot and `vial list` counts the
//! dose.

use serde_json::Value;

use crate::ward::{As, Ward, give_args, hh};

/// P1 (course 1) and P2 (course 2) on the rush, starting Monday 2026-12-07 08:00, and the
/// clinic's `scan` setting.
fn two_courses(scan: &str) -> Ward {
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
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07T08:00",
        ],
    );
    w.login(As::Admin, &hh(1, 9, 0));
    w.run_as(As::Admin, &hh(1, 9, 0), &["settings", "set", "scan", scan]);
    w
}

/// Adds a vial; its code.
fn vial(w: &Ward, course: &str, vial: &str, lot: &str, expires: &str) -> String {
    let out = w.ok(
        &hh(7, 7, 0),
        &[
            "vial",
            "add",
            course,
            "--vial",
            vial,
            "--lot",
            lot,
            "--expires",
            expires,
        ],
    );
    out.split_whitespace().nth(1).expect("code").to_string()
}

/// Runs `args` at `now` as whoever it needs: exit 1 naming `says`, and the record unchanged.
fn refused(w: &Ward, now: &str, args: &[&str], says: &str) {
    w.ready(now, args);
    let before = w.bytes();
    let (code, out, err) = w.run(now, args);
    assert_eq!(code, Some(1), "{args:?}: {out}{err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert!(before == w.bytes(), "{args:?}: nothing written");
}

#[test]
fn every_bad_scan_is_refused_nothing_is_written_and_no_override_lifts_it() {
    let w = two_courses("vial");
    let good = vial(&w, "1", "1", "L100", "2027-03-31");
    let strong = vial(&w, "1", "3", "L300", "2027-03-31");
    let theirs = vial(&w, "2", "1", "L2", "2027-03-31");
    let old = vial(&w, "1", "1", "L0", "2026-12-07");
    let dropped = vial(&w, "1", "1", "L9", "2027-03-31");
    w.ok(
        &hh(7, 7, 1),
        &["vial", "discard", &dropped, "--reason", "dropped"],
    );
    // Tuesday: step 1 is due; the vial that expired on Monday is not usable.
    let now = hh(8, 8, 10);
    let give = |extra: &[&'static str], scan_vial: Option<&str>| -> Vec<String> {
        let mut a: Vec<String> = give_args("1", "P1", "1", "0.1", extra)
            .into_iter()
            .map(str::to_string)
            .collect();
        if let Some(v) = scan_vial {
            a.extend(["--scan-vial".to_string(), v.to_string()]);
        }
        a
    };
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            give(&[], None),
            "this clinic requires a scan of the vial before every dose (--scan-vial CODE)".into(),
        ),
        (
            give(&["--scan-patient", "]C0P2\r"], Some(&good)),
            "the scanned wristband is patient P2; this course is patient P1's".into(),
        ),
        (
            give(&[], Some(&theirs)),
            format!("vial {theirs} is not one of this course's vials"),
        ),
        (
            give(&[], Some("V999999")),
            "vial V999999 is not one of this course's vials".into(),
        ),
        (
            give(&[], Some(&strong)),
            "this is vial 3 (10 000 SQ-U/mL); the dose needs vial 1 (100 SQ-U/mL)".into(),
        ),
        (
            give(&[], Some(&old)),
            format!("vial {old} expired on 2026-12-07"),
        ),
        (
            give(&[], Some(&dropped)),
            format!("vial {dropped} was discarded: dropped"),
        ),
        (
            give(&["--lot", "L999"], Some(&good)),
            format!("the lot \"L999\" is not the scanned vial {good}'s lot \"L100\""),
        ),
    ];
    for (args, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&w, &now, &args, says);
        // A physician's override does not lift it.
        let overridden = [&args[..], &["--override", "a lower dose"]].concat();
        refused(&w, &now, &overridden, says);
    }
    // The wristband scanned and the ID typed must both be the course's patient.
    refused(
        &w,
        &now,
        &[
            "give",
            "1",
            "--patient",
            "P2",
            "--scan-patient",
            "P1",
            "--scan-vial",
            &good,
            "--step",
            "1",
            "--volume",
            "0.1",
            "--pef",
            "95",
            "--screen",
            "ok",
        ],
        "wrong patient",
    );
}

#[test]
fn patient_and_vial_requires_both_scans_and_a_good_scan_records_the_vial() {
    let w = two_courses("patient-and-vial");
    // Usable on its expiry day.
    let code = vial(&w, "1", "1", "L100", "2026-12-07");
    let now = hh(7, 8, 10);
    refused(
        &w,
        &now,
        &give_args("1", "P1", "1", "0.1", &["--scan-vial", &code]),
        "this clinic requires a scan of the patient's wristband before every dose (--scan-patient CODE)",
    );
    // The wristband identifies the patient: no --patient; the scanner's noise and case are
    // taken off; the lot comes from the vial.
    let scanned = format!("]d2{}\r\n", code.to_lowercase());
    let out = w.ok(
        &now,
        &[
            "give",
            "1",
            "--scan-patient",
            "\u{feff}P1\r",
            "--scan-vial",
            &scanned,
            "--step",
            "1",
            "--volume",
            "0.1",
            "--pef",
            "95",
            "--screen",
            "ok",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    let given = &v["recorded"]["dose_given"];
    assert_eq!(given["vial_code"], code.as_str(), "{out}");
    assert_eq!(given["lot"], "L100", "{out}");
    let list: Value =
        serde_json::from_str(&w.ok(&now, &["vial", "list", "1", "--json"])).expect("json");
    assert_eq!(list[0]["code"], code.as_str());
    assert_eq!(list[0]["doses_drawn"], 1, "{list}");
    // Neither --patient nor --scan-patient: a usage error.
    let (c, _, err) = w.run(&now, &["give", "1", "--step", "2", "--volume", "0.2"]);
    assert_eq!(c, Some(2), "{err}");
}
