//! The clinic's time zone, through the real binary: `init --time-zone`, `settings`, the clock
//! and the exports in the clinic's zone whatever the process's `TZ`, a course across the
//! daylight-saving changes of Europe/Oslo and America/New_York.

use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::ward::{As, Ward};

/// The processes' zones an export must not depend on.
const TZS: [&str; 3] = ["UTC", "Asia/Shanghai", "Europe/Oslo"];

/// P1 on the 3-day rush, starting `start` (the clinic's wall clock), added at `now`.
fn course(w: &Ward, now: &str, start: &str) -> String {
    w.add_patient(now, "P1", "Zhāng Wěi", "1990-05-01", "70", "2", "410");
    w.start(now, "P1", "example-hdm-rush-3d", start, &[])
}

fn ok_in(w: &Ward, tz: &str, now: &str, args: &[&str]) -> String {
    let (code, out, err) = w.run_as_in(As::Nurse, Some(tz), now, args);
    assert_eq!(code, Some(0), "{args:?} under TZ={tz}: {err}{out}");
    out
}

/// The DTSTARTs of a calendar, as instants.
fn starts(ics: &str) -> Vec<DateTime<Utc>> {
    ics.lines()
        .filter_map(|l| l.strip_prefix("DTSTART:"))
        .map(|v| {
            NaiveDateTime::parse_from_str(v.trim(), "%Y%m%dT%H%M%SZ")
                .expect("a UTC DATE-TIME")
                .and_utc()
        })
        .collect()
}

/// Exports the course under every `TZ` of [`TZS`] (the same bytes), and checks that the first
/// visit of each day starts at 08:00 on the clinic's wall clock, on both sides of the change on
/// `change` (a date of the clinic's).
fn same_everywhere_and_at_eight(zone: &str, start: &str, now: &str, change: &str) {
    let w = Ward::new_in(zone);
    let c = course(&w, "2026-10-01T09:00", start);
    let tz: Tz = zone.parse().expect("zone");
    let ics: Vec<String> = TZS
        .iter()
        .map(|t| ok_in(&w, t, now, &["export", "ics", &c]))
        .collect();
    let fhir: Vec<String> = TZS
        .iter()
        .map(|t| ok_in(&w, t, now, &["export", "fhir", &c]))
        .collect();
    // The course as a process in any zone reads it: the same times.
    let shown: Vec<String> = TZS
        .iter()
        .map(|t| ok_in(&w, t, now, &["course", "show", &c, "--json"]))
        .collect();
    for (i, t) in TZS.iter().enumerate() {
        assert_eq!(shown[i], shown[0], "course show under TZ={t}");
        assert_eq!(ics[i], ics[0], "the calendar under TZ={t}");
        assert_eq!(fhir[i], fhir[0], "the FHIR Bundle under TZ={t}");
    }
    let local: Vec<NaiveDateTime> = starts(&ics[0])
        .iter()
        .map(|u| u.with_timezone(&tz).naive_local())
        .collect();
    let change: chrono::NaiveDate = change.parse().expect("date");
    let mut days: Vec<chrono::NaiveDate> = local.iter().map(|t| t.date()).collect();
    days.dedup();
    assert!(
        days.iter().any(|d| *d < change) && days.iter().any(|d| *d >= change),
        "visits on both sides of the change: {local:?}"
    );
    for d in days {
        let first = local
            .iter()
            .filter(|t| t.date() == d)
            .min()
            .expect("a visit");
        assert_eq!(
            (first.hour(), first.minute()),
            (8, 0),
            "{d} in {zone}: {local:?}"
        );
    }
    // The FHIR requests carry the zone's offset for their own date.
    let bundle: serde_json::Value = serde_json::from_str(&fhir[0]).expect("json");
    let mut seen = 0;
    for e in bundle["entry"].as_array().expect("entries") {
        let r = &e["resource"];
        if r["resourceType"] != "MedicationRequest" {
            continue;
        }
        for at in r["dosageInstruction"][0]["timing"]["event"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = at.as_str().expect("dateTime");
            let t = DateTime::parse_from_rfc3339(text).expect("a dateTime with an offset");
            let there = tz
                .from_local_datetime(&t.naive_local())
                .earliest()
                .expect("exists");
            assert_eq!(
                chrono::Offset::fix(there.offset()),
                *t.offset(),
                "{text}: the offset of {zone} on that day"
            );
            seen += 1;
        }
    }
    assert!(
        seen > 0,
        "timed MedicationRequests in {fhir:?}",
        fhir = fhir[0]
    );
}

#[test]
fn a_course_across_the_autumn_change_stays_at_eight_and_exports_the_same_instants_anywhere() {
    // Europe/Oslo: summer time ends on Sunday 25 October 2026 (a course from Thursday to Monday;
    // weekends are not clinic days).
    same_everywhere_and_at_eight(
        "Europe/Oslo",
        "2026-10-22T08:00",
        "2026-10-20T09:00",
        "2026-10-25",
    );
    // America/New_York: daylight time ends on Sunday 1 November 2026.
    same_everywhere_and_at_eight(
        "America/New_York",
        "2026-10-29T08:00",
        "2026-10-20T09:00",
        "2026-11-01",
    );
}

#[test]
fn a_course_across_the_spring_change_stays_at_eight_and_exports_the_same_instants_anywhere() {
    // Europe/Oslo: summer time starts on Sunday 28 March 2027; New York on 14 March 2027.
    same_everywhere_and_at_eight(
        "Europe/Oslo",
        "2027-03-25T08:00",
        "2027-03-20T09:00",
        "2027-03-28",
    );
    same_everywhere_and_at_eight(
        "America/New_York",
        "2027-03-11T08:00",
        "2027-03-01T09:00",
        "2027-03-14",
    );
}

#[test]
fn the_zone_is_the_records_shown_by_settings_and_kept_once_a_patient_is_entered() {
    let w = Ward::new_in("Europe/Oslo");
    let now = "2026-10-01T09:00";
    // Shown whatever the process's TZ.
    let (code, out, err) = w.run_as_in(
        As::Admin,
        Some("Asia/Shanghai"),
        now,
        &["settings", "show", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(s["time_zone"], "Europe/Oslo");
    // Not an IANA zone: refused.
    let (code, _, err) = w.run_as(As::Admin, now, &["settings", "set", "time_zone", "Oslo"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("not an IANA time zone"), "{err}");
    // Only an admin.
    let (code, _, _) = w.run_as(As::Nurse, now, &["settings", "set", "time_zone", "UTC"]);
    assert_ne!(code, Some(0));
    // Before the first patient, an admin may change it.
    let (code, _, err) = w.run_as(
        As::Admin,
        now,
        &["settings", "set", "time_zone", "America/New_York"],
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = w.run_as(
        As::Admin,
        now,
        &["settings", "set", "time_zone", "Europe/Oslo"],
    );
    assert_eq!(code, Some(0), "{err}");
    w.add_patient(now, "P1", "Zhāng Wěi", "1990-05-01", "70", "2", "410");
    let (code, _, err) = w.run_as(As::Admin, now, &["settings", "set", "time_zone", "UTC"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("the time zone stays Europe/Oslo"), "{err}");
    // The same zone again is no change.
    let (code, _, err) = w.run_as(
        As::Admin,
        now,
        &["settings", "set", "time_zone", "Europe/Oslo"],
    );
    assert_eq!(code, Some(0), "{err}");
    let v = w.run_as_in(As::Admin, Some("UTC"), now, &["verify"]);
    assert_eq!(v.0, Some(0), "{}{}", v.1, v.2);
}

#[test]
fn init_takes_the_machines_zone_or_refuses_to_guess() {
    let dir = tempfile::tempdir().expect("tmp");
    let init = |db: &str, tz: &str, extra: &[&str]| {
        let mut args = vec![
            "--db",
            db,
            "init",
            "--admin",
            "admin",
            "--name",
            "Ward Admin",
            "--training",
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        crate::ritplan()
            .env("TZ", tz)
            .env("RITPLAN_NOW", "2026-10-01T08:00")
            .env("XDG_RUNTIME_DIR", dir.path())
            .args(&args)
            .write_stdin("correct horse battery\n")
            .output()
            .expect("run")
    };
    let a = dir.path().join("a.db");
    let out = init(a.to_str().expect("path"), "Asia/Shanghai", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The zone taken by default is said, with how to change it.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("The clinic's time zone is Asia/Shanghai, this machine's")
            && said.contains("settings set time_zone"),
        "{said}"
    );
    let show = crate::ritplan()
        .env("TZ", "UTC")
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("RITPLAN_NOW", "2026-10-01T08:00")
        .args([
            "--db",
            a.to_str().expect("path"),
            "settings",
            "show",
            "--json",
        ])
        .output()
        .expect("run");
    let s: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(s["time_zone"], "Asia/Shanghai");
    // A POSIX TZ string names no IANA zone: init asks rather than guess.
    let b = dir.path().join("b.db");
    let out = init(b.to_str().expect("path"), "CET-1CEST,M3.5.0,M10.5.0/3", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--time-zone"), "{err}");
    assert!(!b.exists(), "no record was made");
    let out = init(
        b.to_str().expect("path"),
        "CET-1CEST,M3.5.0,M10.5.0/3",
        &["--time-zone", "Europe/Oslo"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
// The test compares the command's clock with the real one.
#[allow(clippy::disallowed_methods)]
fn the_clock_is_the_clinics_wall_clock_whatever_the_processs_tz() {
    // Not a training record: the system clock, shown in the clinic's zone. The calendar's
    // DTSTAMP is now, converted from New York's wall clock: the real instant under any TZ.
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("r.db");
    let db = db.to_str().expect("path");
    let run = |who: &str, tz: &str, args: &[&str], stdin: &str| {
        let out = crate::ritplan()
            .env("TZ", tz)
            .env("XDG_RUNTIME_DIR", dir.path().join(who))
            .arg("--db")
            .arg(db)
            .args(args)
            .write_stdin(stdin)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let secret = "correct horse battery\n";
    run(
        "admin",
        "Asia/Shanghai",
        &[
            "init",
            "--admin",
            "admin",
            "--name",
            "Ward Admin",
            "--password-stdin",
            "--time-zone",
            "America/New_York",
        ],
        secret,
    );
    run(
        "admin",
        "UTC",
        &[
            "staff",
            "add",
            "--id",
            "nurse",
            "--name",
            "RN Li",
            "--role",
            "nurse",
            "--password-stdin",
        ],
        secret,
    );
    run("admin", "UTC", &["settings", "set", "scan", "off"], "");
    run(
        "nurse",
        "UTC",
        &["login", "nurse", "--password-stdin"],
        secret,
    );
    run(
        "nurse",
        "Asia/Shanghai",
        &[
            "patient",
            "add",
            "--id",
            "P1",
            "--name",
            "Zhang Wei",
            "--dob",
            "1990-05-01",
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
        ],
        "",
    );
    let c = run(
        "nurse",
        "Europe/Oslo",
        &[
            "course",
            "start",
            "--patient",
            "P1",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2030-01-07T08:00",
        ],
        "",
    );
    let c = c.trim();
    for tz in ["UTC", "Asia/Shanghai", "Europe/Oslo"] {
        let before = Utc::now() - chrono::Duration::seconds(2);
        let ics = run("nurse", tz, &["export", "ics", c], "");
        let after = Utc::now() + chrono::Duration::seconds(2);
        let stamp = ics
            .lines()
            .find_map(|l| l.strip_prefix("DTSTAMP:"))
            .expect("DTSTAMP");
        let stamp = NaiveDateTime::parse_from_str(stamp.trim(), "%Y%m%dT%H%M%SZ")
            .expect("UTC")
            .and_utc();
        assert!(
            stamp >= before && stamp <= after,
            "TZ={tz}: DTSTAMP {stamp} is not now ({before} to {after})"
        );
        // The first visit: 08:00 in New York.
        let first = starts(&ics)[0];
        assert_eq!(first.to_rfc3339(), "2030-01-07T13:00:00+00:00", "TZ={tz}");
    }
}

#[test]
fn a_time_the_clocks_skip_is_refused_and_one_they_repeat_is_taken() {
    let w = Ward::new_in("Europe/Oslo");
    let c = course(&w, "2026-10-01T09:00", "2026-10-22T08:00");
    // 02:30 happens twice on 25 October 2026 in Oslo: taken (as the first).
    w.ok(
        "2026-10-25T09:00",
        &["note", &c, "--text", "phoned", "--at", "2026-10-25T02:30"],
    );
    // 02:30 never happens on 28 March 2027 in Oslo: refused, nothing recorded.
    let before = w.ok("2027-03-28T09:00", &["course", "show", &c, "--json"]);
    let (code, out, err) = w.run(
        "2027-03-28T09:00",
        &["note", &c, "--text", "phoned", "--at", "2027-03-28T02:30"],
    );
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(err.contains("does not exist in Europe/Oslo"), "{err}");
    assert_eq!(
        w.ok("2027-03-28T09:00", &["course", "show", &c, "--json"]),
        before
    );
    w.ok(
        "2027-03-28T09:00",
        &["note", &c, "--text", "phoned", "--at", "2027-03-28T03:30"],
    );
    // The same moment is fine in a clinic whose clocks do not change that night.
    let ny = Ward::new_in("America/New_York");
    let c = course(&ny, "2026-10-01T09:00", "2026-10-22T08:00");
    ny.ok(
        "2027-03-28T09:00",
        &["note", &c, "--text", "phoned", "--at", "2027-03-28T02:30"],
    );
}

#[test]
fn a_course_cannot_start_at_a_time_the_clocks_skip() {
    let w = Ward::new_in("Europe/Oslo");
    w.ok(
        "2027-03-20T09:00",
        &[
            "patient",
            "add",
            "--id",
            "P9",
            "--name",
            "Test Patient",
            "--dob",
            "1990-05-01",
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
        ],
    );
    let start = |at: &str| {
        w.run(
            "2027-03-20T09:00",
            &[
                "course",
                "start",
                "--patient",
                "P9",
                "--template",
                "example-hdm-rush-3d",
                "--start",
                at,
            ],
        )
    };
    let (code, out, err) = start("2027-03-28T02:30");
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(err.contains("does not exist in Europe/Oslo"), "{err}");
    assert!(err.contains("--start"), "{err}");
    let (code, out, err) = w.run("2027-03-20T09:00", &["course", "list", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("P9"), "nothing started: {out}");
    let (code, _, err) = start("2027-03-29T08:00");
    assert_eq!(code, Some(0), "{err}");
    let listed = w.ok("2027-03-20T09:00", &["course", "list", "--json"]);
    assert!(listed.contains("P9"), "started: {listed}");
}

/// The record in tests/fixtures/schema4-no-zone, made by the ritplan before the record named its
/// zone (see its make.py): a clinic in Europe/Oslo whose times are wall-clock text.
fn old_record(now: &str) -> Ward {
    let from =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema4-no-zone");
    Ward::from_files(&from, now)
}

fn raw_event_time(w: &Ward, seq: i64) -> String {
    let c = rusqlite::Connection::open(w.file("ward.db")).expect("open");
    c.query_row(
        "SELECT happened_at FROM events WHERE course_id = 1 AND seq = ?1",
        [seq],
        |r| r.get(0),
    )
    .expect("row")
}

#[test]
fn a_record_made_before_the_zone_migrates_in_place_with_every_entry_and_its_chain() {
    let now = "2027-03-20T09:00";
    let w = old_record(now);
    let (code, before, err) = w.run_as_in(
        As::Nurse,
        Some("Europe/Oslo"),
        now,
        &["course", "show", "1", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("ritplan db migrate --time-zone"), "{err}");
    let bytes = w.bytes();

    // A zone in which a recorded time does not exist: refused, naming it; nothing changed.
    let (code, out, err) = w.run_as(
        As::Admin,
        now,
        &["db", "migrate", "--time-zone", "America/New_York"],
    );
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(
        err.contains("course 1 entry 7 at 2027-03-14 02:30"),
        "{err}"
    );
    assert!(err.contains("Nothing was migrated"), "{err}");
    assert_eq!(w.bytes(), bytes, "a refused migration changes no byte");
    // Not an admin: refused, nothing changed.
    let (code, _, err) = w.run_as(
        As::Nurse,
        now,
        &["db", "migrate", "--time-zone", "Europe/Oslo"],
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("admin"), "{err}");
    assert_eq!(w.bytes(), bytes);
    // Not a zone.
    let (code, _, err) = w.run_as(As::Admin, now, &["db", "migrate", "--time-zone", "CET+1"]);
    assert_eq!(code, Some(2), "{err}");

    // The zone it was written in: every entry kept, the chain as it was.
    let (code, out, err) = w.run_as(
        As::Admin,
        now,
        &["db", "migrate", "--time-zone", "Europe/Oslo", "--json"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(r["already"], false);
    assert_eq!(r["courses"], 1);
    assert_eq!(r["entries"], 7);
    assert_eq!(r["intact"], true);
    // 7 entries (each its time and when it was recorded), the course and the patient.
    assert_eq!(r["legacy"]["checked"], 16);
    // The patient was entered at 02:30 on 25 October 2026, an hour Oslo repeats.
    assert_eq!(r["legacy"]["repeated"], 1);
    assert_eq!(
        raw_event_time(&w, 1),
        "2026-10-26T08:00:00",
        "no entry rewritten"
    );
    let verify = w.ok(now, &["verify"]);
    assert!(verify.contains("intact"), "{verify}");

    // Read by processes in three zones: the times as before, and no warning.
    for tz in TZS {
        let (code, shown, err) =
            w.run_as_in(As::Nurse, Some(tz), now, &["course", "show", "1", "--json"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(shown, before, "course show under TZ={tz}");
        assert!(!err.contains("migrate"), "{err}");
    }
    let settings = w.run_as(As::Admin, now, &["settings", "show"]).1;
    assert!(settings.contains("Europe/Oslo"), "{settings}");

    // A new entry is stored as its instant (CET, +01:00, in March before the change).
    w.ok(now, &["note", "1", "--text", "after the migration"]);
    assert_eq!(raw_event_time(&w, 8), "2027-03-20T08:00:00Z");
    // The exports carry the offsets of the clinic's zone, for old and new entries alike.
    let fhir = ok_in(&w, "Asia/Shanghai", now, &["export", "fhir", "1"]);
    assert!(
        fhir.contains("2026-10-26T08:00:00+01:00"),
        "the first dose, after the autumn change"
    );
    // Twice: nothing to do.
    let again = w
        .run_as(
            As::Admin,
            now,
            &["db", "migrate", "--time-zone", "Europe/Oslo"],
        )
        .1;
    assert!(again.contains("nothing to do"), "{again}");
}

#[test]
fn a_record_that_names_its_zone_is_upgraded_when_opened_on_either_backend() {
    let w = Ward::new_in("Europe/Oslo");
    let c = course(&w, "2026-10-01T09:00", "2026-10-05");
    w.give_next("2026-10-05T08:00", &c, 2);
    let before = w.ok("2026-10-05T10:00", &["course", "show", &c, "--json"]);
    // As a schema-4 record (the version is all an older ritplan wrote differently: the rows of
    // one that named its zone are read the same).
    if w.on_server() {
        let mut pg =
            postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls).expect("connect");
        pg.batch_execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
            .expect("downgrade");
    } else {
        rusqlite::Connection::open(&w.db)
            .expect("open")
            .execute_batch("PRAGMA user_version = 4")
            .expect("downgrade");
    }
    let after = w.ok("2026-10-05T10:00", &["course", "show", &c, "--json"]);
    assert_eq!(after, before);
    let verify = w.ok("2026-10-05T10:00", &["verify"]);
    assert!(verify.contains("intact"), "{verify}");
    w.give_next("2026-10-05T10:00", &c, 2);
}
