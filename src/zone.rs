//! The clinic's time zone: the one zone in which the record's times are the clinic's wall-clock
//! times, whatever the `TZ` of the machine or process that reads them.
//!
//! The core (planner, course) works in the clinic's wall-clock time (`NaiveDateTime`): a day is
//! a calendar day in the clinic's zone, and a visit planned at 08:00 stays at 08:00 across a
//! daylight-saving change. Intervals in minutes (an observation, the spacing of doses in hours)
//! are counted on wall-clock times too: they differ from elapsed time only across the night-time
//! change itself (in Europe/Oslo 02:00–03:00 on the last Sunday of March and October), where an
//! observation begun before the change and ended after it is counted an hour longer (spring) or
//! shorter (autumn) than it lasted. Nobody is observed across those hours in an outpatient
//! clinic, and a time inside the spring gap is refused at the door (see [`Zone::instant`]).
//!
//! This module converts at the door, both ways: a wall-clock time to the instant it names
//! (refusing a time that does not exist, resolving one that exists twice to the earlier), and
//! an instant to the clinic's wall-clock time. It reads no clock and no file (the CLI does).

use std::fmt;
use std::sync::Mutex;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone,
    Timelike, Utc,
};
use jiff::tz::AmbiguousOffset;

/// The zone the record's times are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The clinic's IANA zone, held by the record (`init --time-zone`, `settings`).
    Clinic(&'static Known),
    /// A record made before the zone was a setting, until an admin sets it: its times are read
    /// in the zone of the machine that reads them (as ritplan always did).
    System,
}

/// A zone of the tz database built into ritplan (`jiff`'s bundled copy: the same rules on
/// every machine, whatever the system's own database), read once per process and name.
///
/// Kept as one table of compact rules rather than as a table of pointers: the zone table
/// ritplan used before (`chrono-tz`) was 29 000 pointers that every process start had to
/// relocate, about 0.9 ms of each command's start-up (see bench/README.md).
pub struct Known {
    name: Box<str>,
    tz: jiff::tz::TimeZone,
}

impl PartialEq for Known {
    fn eq(&self, other: &Known) -> bool {
        self.name == other.name
    }
}

impl Eq for Known {}

impl fmt::Debug for Known {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name)
    }
}

/// The zone named exactly `name` in the built-in database. Each name read is kept for the
/// rest of the process (at most the database's few hundred names, so the memory is bounded),
/// which makes [`Zone`] a plain copyable value.
fn known(name: &str) -> Option<&'static Known> {
    static KNOWN: Mutex<Vec<&'static Known>> = Mutex::new(Vec::new());
    let mut all = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = all.iter().find(|k| &*k.name == name) {
        return Some(k);
    }
    let tz = jiff::tz::db().get(name).ok()?;
    // Exactly as spelled in the database: `europe/oslo` is not a name the record keeps.
    if tz.iana_name() != Some(name) {
        return None;
    }
    let k: &'static Known = Box::leak(Box::new(Known {
        name: name.into(),
        tz,
    }));
    all.push(k);
    Some(k)
}

/// The civil time of `at` (`None` outside the years -9999 to 9999, which no record holds).
fn civil(at: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let small = |v: u32| i8::try_from(v).ok();
    jiff::civil::DateTime::new(
        i16::try_from(at.year()).ok()?,
        small(at.month())?,
        small(at.day())?,
        small(at.hour())?,
        small(at.minute())?,
        // A leap second's nanoseconds run past a second: the last nanosecond of that second.
        small(at.second())?,
        i32::try_from(at.nanosecond().min(999_999_999)).ok()?,
    )
    .ok()
}

/// An offset of the database as chrono's.
fn fixed(o: jiff::tz::Offset) -> FixedOffset {
    FixedOffset::east_opt(o.seconds()).unwrap_or_else(|| Utc.fix())
}

/// The offset of `tz` at the instant `u` (its first or last instant beyond the years
/// -9999 to 9999).
fn offset_at(tz: &jiff::tz::TimeZone, u: DateTime<Utc>) -> FixedOffset {
    let nanos = i32::try_from(u.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(0);
    let ts = jiff::Timestamp::new(u.timestamp(), nanos).unwrap_or(if u.timestamp() < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    fixed(tz.to_offset(ts))
}

/// Where the wall-clock time `at` falls in `tz`.
fn local(tz: &jiff::tz::TimeZone, at: NaiveDateTime) -> AmbiguousOffset {
    match civil(at) {
        Some(c) => tz.to_ambiguous_timestamp(c).offset(),
        None => AmbiguousOffset::Unambiguous {
            offset: tz.to_offset(if at.year() < 0 {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            }),
        },
    }
}

/// `at` with the offset `o` (as UTC when the sum leaves chrono's range).
fn with_offset(at: NaiveDateTime, o: FixedOffset) -> DateTime<FixedOffset> {
    o.from_local_datetime(&at)
        .single()
        .unwrap_or_else(|| at.and_utc().fixed_offset())
}

/// Why a wall-clock time names no instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneError {
    /// The time is skipped by a change of the clock (spring forward).
    Skipped {
        /// The time as given.
        at: NaiveDateTime,
        /// The zone's name.
        zone: String,
    },
    /// Not an IANA zone name.
    Unknown(String),
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneError::Skipped { at, zone } => write!(
                f,
                "{} does not exist in {zone}: the clocks were put forward over it that night; give the time as the clock on the wall showed it",
                at.format("%Y-%m-%d %H:%M")
            ),
            ZoneError::Unknown(name) => write!(
                f,
                "{name:?} is not an IANA time zone (for example Europe/Oslo, America/New_York, UTC)"
            ),
        }
    }
}

impl std::error::Error for ZoneError {}

impl Zone {
    /// The IANA zone named `name` (`Europe/Oslo`), exactly as spelled in the tz database.
    pub fn parse(name: &str) -> Result<Zone, ZoneError> {
        known(name.trim())
            .map(Zone::Clinic)
            .ok_or_else(|| ZoneError::Unknown(name.to_string()))
    }

    /// Its name (`Europe/Oslo`), or `system` for a record without one.
    pub fn name(&self) -> String {
        match self {
            Zone::Clinic(k) => k.name.to_string(),
            Zone::System => "system".to_string(),
        }
    }

    /// The instant that the wall-clock time `at` names in this zone, with the offset in force
    /// then. A time that exists twice (the hour repeated when the clocks go back) is the
    /// earlier of the two; a time that does not exist (the hour skipped when they go forward)
    /// is refused.
    pub fn instant(&self, at: NaiveDateTime) -> Result<DateTime<FixedOffset>, ZoneError> {
        let system = |r: LocalResult<DateTime<FixedOffset>>| match r {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t),
            LocalResult::None => Err(ZoneError::Skipped {
                at,
                zone: self.name(),
            }),
        };
        match self {
            Zone::Clinic(k) => match local(&k.tz, at) {
                AmbiguousOffset::Unambiguous { offset } => Ok(with_offset(at, fixed(offset))),
                // The earlier of the two instants: the offset in force before the change.
                AmbiguousOffset::Fold { before, .. } => Ok(with_offset(at, fixed(before))),
                AmbiguousOffset::Gap { .. } => Err(ZoneError::Skipped {
                    at,
                    zone: self.name(),
                }),
            },
            Zone::System => system(
                chrono::Local
                    .from_local_datetime(&at)
                    .map(|t| t.fixed_offset()),
            ),
        }
    }

    /// Whether the wall-clock time `at` exists twice in this zone (the hour repeated when the
    /// clocks go back), so that [`Zone::instant`] took the earlier of the two.
    pub fn is_repeated(&self, at: NaiveDateTime) -> bool {
        match self {
            Zone::Clinic(k) => matches!(local(&k.tz, at), AmbiguousOffset::Fold { .. }),
            Zone::System => matches!(
                chrono::Local.from_local_datetime(&at),
                LocalResult::Ambiguous(..)
            ),
        }
    }

    /// [`Zone::instant`] for a time already in the record: a time inside a skipped hour (written
    /// before such times were refused) is read with the offset in force before the change, so
    /// that 02:30 on the night the clocks go forward from 02:00 is 03:30 of the new offset.
    pub fn instant_lenient(&self, at: NaiveDateTime) -> DateTime<FixedOffset> {
        match self.instant(at) {
            Ok(t) => t,
            Err(_) => match self.instant(at - Duration::hours(1)) {
                Ok(t) => {
                    let u = t.with_timezone(&Utc) + Duration::hours(1);
                    self.at_instant(u)
                }
                // No zone skips two hours in a row; said as UTC rather than invented.
                Err(_) => at.and_utc().fixed_offset(),
            },
        }
    }

    /// The instant `u` in this zone, with its offset.
    pub fn at_instant(&self, u: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self {
            Zone::Clinic(k) => u.with_timezone(&offset_at(&k.tz, u)),
            Zone::System => u.with_timezone(&chrono::Local).fixed_offset(),
        }
    }

    /// The clinic's wall-clock time at the instant `u`, to the second.
    pub fn wall_clock(&self, u: DateTime<Utc>) -> NaiveDateTime {
        let t = self.at_instant(u).naive_local();
        t - Duration::nanoseconds(i64::from(t.nanosecond()))
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn rfc(z: &Zone, s: &str) -> String {
        z.instant(at(s)).unwrap().to_rfc3339()
    }

    #[test]
    fn wall_clock_times_name_their_instants_across_the_changes() {
        let oslo = Zone::parse("Europe/Oslo").unwrap();
        // 2026: summer time from 29 March to 25 October.
        assert_eq!(rfc(&oslo, "2026-03-28 08:00"), "2026-03-28T08:00:00+01:00");
        assert_eq!(rfc(&oslo, "2026-03-30 08:00"), "2026-03-30T08:00:00+02:00");
        assert_eq!(rfc(&oslo, "2026-10-24 08:00"), "2026-10-24T08:00:00+02:00");
        assert_eq!(rfc(&oslo, "2026-10-26 08:00"), "2026-10-26T08:00:00+01:00");
        let ny = Zone::parse("America/New_York").unwrap();
        // 2026: daylight time from 8 March to 1 November.
        assert_eq!(rfc(&ny, "2026-03-07 08:00"), "2026-03-07T08:00:00-05:00");
        assert_eq!(rfc(&ny, "2026-03-09 08:00"), "2026-03-09T08:00:00-04:00");
        assert_eq!(rfc(&ny, "2026-11-02 08:00"), "2026-11-02T08:00:00-05:00");
    }

    #[test]
    fn a_skipped_time_is_refused_and_a_repeated_one_is_the_earlier() {
        let oslo = Zone::parse("Europe/Oslo").unwrap();
        let e = oslo.instant(at("2026-03-29 02:30")).unwrap_err();
        assert!(matches!(e, ZoneError::Skipped { .. }));
        assert!(
            e.to_string().contains("does not exist in Europe/Oslo"),
            "{e}"
        );
        // 02:30 on 25 October 2026 happens twice: summer time first.
        assert_eq!(rfc(&oslo, "2026-10-25 02:30"), "2026-10-25T02:30:00+02:00");
        let ny = Zone::parse("America/New_York").unwrap();
        assert!(ny.instant(at("2026-03-08 02:30")).is_err());
        assert_eq!(rfc(&ny, "2026-11-01 01:30"), "2026-11-01T01:30:00-04:00");
        // A skipped time already in the record: read with the offset before the change.
        assert_eq!(
            oslo.instant_lenient(at("2026-03-29 02:30")).to_rfc3339(),
            "2026-03-29T03:30:00+02:00"
        );
    }

    #[test]
    fn an_instant_reads_as_the_clinics_wall_clock_whatever_the_machine() {
        let u = DateTime::parse_from_rfc3339("2026-12-07T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Zone::parse("Europe/Oslo").unwrap().wall_clock(u),
            at("2026-12-07 08:00")
        );
        assert_eq!(
            Zone::parse("Asia/Shanghai").unwrap().wall_clock(u),
            at("2026-12-07 15:00")
        );
        assert_eq!(
            Zone::parse("America/New_York").unwrap().wall_clock(u),
            at("2026-12-07 02:00")
        );
    }

    #[test]
    fn only_iana_names_are_zones() {
        assert!(Zone::parse("Europe/Oslo").is_ok());
        assert!(Zone::parse("UTC").is_ok());
        // Names a record may hold from an older tz database (links to the current zones).
        for old in [
            "US/Eastern",
            "Asia/Calcutta",
            "Europe/Kiev",
            "Etc/UTC",
            "GMT",
        ] {
            assert!(Zone::parse(old).is_ok(), "{old}");
        }
        // Exactly as spelled in the database, and never a POSIX rule or an offset.
        for bad in [
            "",
            "Oslo",
            "Europe/Olso",
            "+01:00",
            "CET1CEST",
            "europe/oslo",
            "EUROPE/OSLO",
        ] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }

    /// Every zone name the earlier zone table (chrono-tz, which records made before this one
    /// were written with) accepted is still a zone, with the same offsets in 2026.
    #[test]
    fn every_name_the_earlier_zone_table_knew_is_still_a_zone_with_the_same_offsets() {
        let mut missing = Vec::new();
        for tz in chrono_tz::TZ_VARIANTS {
            let Ok(z) = Zone::parse(tz.name()) else {
                missing.push(tz.name());
                continue;
            };
            for month in [1, 7] {
                let u = chrono::NaiveDate::from_ymd_opt(2026, month, 15)
                    .unwrap()
                    .and_hms_opt(12, 0, 0)
                    .unwrap()
                    .and_utc();
                let theirs = u.with_timezone(&tz).naive_local();
                assert_eq!(z.wall_clock(u), theirs, "{} in month {month}", tz.name());
            }
        }
        assert!(missing.is_empty(), "no longer zones: {missing:?}");
    }

    #[test]
    fn a_zone_read_twice_is_the_same_zone_and_far_years_do_not_panic() {
        let a = Zone::parse("America/New_York").unwrap();
        let b = Zone::parse(" America/New_York ").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Zone::parse("Europe/Oslo").unwrap());
        assert_eq!(a.name(), "America/New_York");
        // Beyond the database's years: an offset, never a panic.
        for y in [-200_000, -9999, 1, 9999, 200_000] {
            if let Some(d) = chrono::NaiveDate::from_ymd_opt(y, 6, 1) {
                let at = d.and_hms_opt(8, 0, 0).unwrap();
                let _ = a.instant(at);
                let _ = a.is_repeated(at);
                let _ = a.instant_lenient(at);
                let _ = a.wall_clock(at.and_utc());
            }
        }
    }

    proptest::proptest! {
        /// Every instant from 1900 to 2200 reads as a wall-clock time that names it again
        /// (the earlier of two when the hour repeats), in zones either side of UTC.
        #[test]
        fn an_instant_and_its_wall_clock_time_name_each_other(
            secs in -2_208_988_800i64..7_258_118_400i64,
            zone in proptest::sample::select(vec!["Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
        ) {
            let z = Zone::parse(zone).unwrap();
            let u = DateTime::from_timestamp(secs, 0).unwrap();
            let wall = z.wall_clock(u);
            let back = z.instant(wall).unwrap().with_timezone(&Utc);
            if z.is_repeated(wall) {
                proptest::prop_assert!(back <= u, "{zone} {u} {wall} {back}");
            } else {
                proptest::prop_assert_eq!(back, u, "{} {}", zone, wall);
            }
        }
    }
}
