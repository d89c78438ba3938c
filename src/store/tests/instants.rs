//! Schema 5: moments stored as UTC instants and read in the record's zone; rows written before
//! it (wall-clock text) read as written; a zone change never breaks a MAC; the upgrade of a
//! schema-4 record that names its zone.

use super::*;
use crate::zone::Zone;

fn oslo() -> Zone {
    Zone::parse("Europe/Oslo").expect("zone")
}

fn raw_times(dir: &tempfile::TempDir) -> Vec<(String, String)> {
    let c = Connection::open(db(dir)).expect("open");
    let mut q = c
        .prepare("SELECT happened_at, recorded_at FROM events ORDER BY course_id, seq")
        .expect("prepare");
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn a_wall_clock_time_is_stored_as_its_instant_and_read_back_as_it_was() {
    let (d, mut s, c) = store_with_course();
    s.use_zone(oslo());
    // The day before and the day of the spring change (02:00 → 03:00 on 29 March 2026), and
    // a time in the hour repeated on 25 October (read as the earlier, +02:00).
    append(&mut s, c, dose_event(), "2026-03-28 08:00");
    append(&mut s, c, obs(3), "2026-03-29 08:00");
    append(
        &mut s,
        c,
        EventKind::Note {
            text: "night".into(),
        },
        "2026-10-25 02:30",
    );
    let raw = raw_times(&d);
    assert_eq!(raw[0].0, "2026-03-28T07:00:00Z");
    assert_eq!(raw[1].0, "2026-03-29T06:00:00Z");
    assert_eq!(raw[2].0, "2026-10-25T00:30:00Z");
    let back: Vec<NaiveDateTime> = s
        .events(c)
        .expect("events")
        .iter()
        .map(|e| e.event.at)
        .collect();
    assert_eq!(
        back,
        [
            t("2026-03-28 08:00"),
            t("2026-03-29 08:00"),
            t("2026-10-25 02:30")
        ]
    );
    // The same instants read by a clinic in New York: its wall clock, six hours earlier.
    s.use_zone(Zone::parse("America/New_York").expect("zone"));
    let ny: Vec<NaiveDateTime> = s
        .events(c)
        .expect("events")
        .iter()
        .map(|e| e.event.at)
        .collect();
    assert_eq!(ny[0], t("2026-03-28 03:00"));
    assert_eq!(ny[1], t("2026-03-29 02:00"));
    assert!(s.verify(c).expect("verify").intact);
}

#[test]
fn a_time_written_before_instants_reads_as_written_and_an_instant_in_the_zone() {
    let z = Times(oslo());
    assert_eq!(
        z.parse("2026-03-29T08:00:00").expect("legacy"),
        t("2026-03-29 08:00")
    );
    assert_eq!(
        z.parse("2026-03-29T06:00:00Z").expect("instant"),
        t("2026-03-29 08:00")
    );
    assert_eq!(
        z.parse("2026-12-07T07:00:00Z").expect("instant"),
        t("2026-12-07 08:00")
    );
    assert!(matches!(
        z.parse("2026-13-01T00:00:00Z"),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(z.parse("08:00"), Err(StoreError::Corrupt(_))));
    // Written and read again: the same text, in the repeated hour too.
    for s in ["2026-10-25 02:30", "2026-03-29 03:00", "2026-07-01 12:00"] {
        let text = z.text(t(s));
        assert_eq!(z.text(z.parse(&text).expect("parse")), text, "{s}");
    }
    // Every moment of the clinic's day sorts at or after its floor, whichever form it has.
    let floor = z.day_floor(chrono::NaiveDate::from_ymd_opt(2026, 3, 29).expect("date"));
    for text in [
        "2026-03-29T00:00:00",
        "2026-03-28T23:00:00Z",
        "2026-03-29T07:00:00Z",
    ] {
        assert!(text >= floor.as_str(), "{text} before {floor}");
    }
    assert!("2026-03-28T22:59:59Z" < floor.as_str());
}

#[test]
fn an_account_and_a_session_keep_their_mac_when_the_zone_is_read_otherwise() {
    let (_d, s, _c) = store_with_course();
    s.use_zone(oslo());
    s.add_staff(&staff_row()).expect("staff");
    let session = SessionRow {
        token_hash: "h".into(),
        staff_id: "rn.li".into(),
        os_user: "li".into(),
        created_at: t("2026-10-25 02:30"),
        last_used: t("2026-10-25 02:30"),
        ended: false,
    };
    s.add_session(&session).expect("session");
    for z in [Zone::parse("Asia/Shanghai").expect("zone"), oslo()] {
        s.use_zone(z);
        assert_eq!(
            s.staff_problems().expect("problems"),
            Vec::<String>::new(),
            "{z}"
        );
        let mut row = s.staff("rn.li").expect("read").expect("there");
        row.disabled = true;
        s.update_staff(&row).expect("update");
        row.disabled = false;
        s.update_staff(&row).expect("update");
        assert!(s.session("h").expect("read").is_some(), "{z}");
    }
    s.end_session("h").expect("end");
    assert_eq!(s.staff_problems().expect("problems"), Vec::<String>::new());
}

#[test]
fn a_schema_4_record_that_names_its_zone_is_upgraded_on_opening_and_its_old_rows_kept() {
    let (d, mut s, c) = store_with_course();
    append(&mut s, c, dose_event(), "2026-12-07 08:00");
    s.set_setting("time_zone", "Europe/Oslo", t("2026-12-01 08:00"), &nurse())
        .expect("setting");
    let before = raw_times(&d);
    drop(s);
    // As a schema-4 record: its version and its state rows as they were.
    attacker(&d)
        .execute_batch("PRAGMA user_version = 4;")
        .expect("downgrade");
    let s = Store::open(&db(&d)).expect("open");
    assert!(!s.needs_zone().expect("version"));
    assert_eq!(s.zone(), oslo());
    assert_eq!(raw_times(&d), before, "no entry rewritten");
    assert_eq!(s.states_to_rebuild().expect("states"), vec![c]);
    assert!(s.verify(c).expect("verify").intact);
}

#[test]
fn a_schema_4_record_without_a_zone_waits_for_the_migration() {
    let (d, s, _c) = store_with_course();
    drop(s);
    attacker(&d)
        .execute_batch("PRAGMA user_version = 4;")
        .expect("downgrade");
    let s = Store::open(&db(&d)).expect("open");
    assert!(s.needs_zone().expect("version"));
    assert_eq!(s.zone(), Zone::System);
    let legacy = s.legacy_times_in(oslo()).expect("check");
    assert_eq!(legacy.skipped, Vec::<String>::new());
    s.upgrade_times(Some((oslo(), &nurse(), t("2026-12-02 09:00"))))
        .expect("upgrade");
    assert!(!s.needs_zone().expect("version"));
    assert_eq!(
        s.setting("time_zone").expect("setting").as_deref(),
        Some("Europe/Oslo")
    );
}

proptest::proptest! {
    /// The fast reading of a stored time gives what the format parser gives, for any text of
    /// that shape (digits or not, days that do not exist, leap seconds), and leaves every
    /// other text to the parser.
    #[test]
    fn a_stored_time_reads_the_same_without_the_format_parser(
        t in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9 +a-]{0,4}-[0-9]{1,2}-[0-9]{1,3}T[0-9:]{5,9}"
    ) {
        let parsed = NaiveDateTime::parse_from_str(&t, super::super::TIME).ok();
        match super::super::plain_time(&t) {
            Some(at) => proptest::prop_assert_eq!(Some(at), parsed, "{}", t),
            // Not read: the parser decides (it must then reject it or be off the plain shape).
            None => proptest::prop_assert!(parsed.is_none() || t.len() != 19 || t.contains(":60"), "{}", t),
        }
    }
}

#[test]
fn stored_times_of_the_plain_shape_read_as_written() {
    use super::super::plain_time;
    let at = |s| NaiveDateTime::parse_from_str(s, super::super::TIME).ok();
    for s in [
        "2026-12-07T08:00:00",
        "2024-02-29T23:59:59",
        "0001-01-01T00:00:00",
    ] {
        assert_eq!(plain_time(s), at(s), "{s}");
        assert!(plain_time(s).is_some());
    }
    for s in [
        "2026-02-29T08:00:00",
        "2026-12-07T24:00:00",
        "2026-12-07 08:00:00",
        "2026-1-07T08:00:00",
    ] {
        assert_eq!(plain_time(s), None, "{s}");
    }
}
