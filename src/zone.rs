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

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone the record's times are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The clinic's IANA zone, held by the record (`init --time-zone`, `settings`).
    Clinic(Tz),
    /// A record made before the zone was a setting, until an admin sets it: its times are read
    /// in the zone of the machine that reads them (as ritplan always did).
    System,
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
        name.trim()
            .parse::<Tz>()
            .map(Zone::Clinic)
            .map_err(|_| ZoneError::Unknown(name.to_string()))
    }

    /// Its name (`Europe/Oslo`), or `system` for a record without one.
    pub fn name(&self) -> String {
        match self {
            Zone::Clinic(tz) => tz.name().to_string(),
            Zone::System => "system".to_string(),
        }
    }

    /// The instant that the wall-clock time `at` names in this zone, with the offset in force
    /// then. A time that exists twice (the hour repeated when the clocks go back) is the
    /// earlier of the two; a time that does not exist (the hour skipped when they go forward)
    /// is refused.
    pub fn instant(&self, at: NaiveDateTime) -> Result<DateTime<FixedOffset>, ZoneError> {
        let fixed = |r: LocalResult<DateTime<FixedOffset>>| match r {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t),
            LocalResult::None => Err(ZoneError::Skipped {
                at,
                zone: self.name(),
            }),
        };
        match self {
            Zone::Clinic(tz) => fixed(
                tz.from_local_datetime(&at)
                    .map(|t| t.with_timezone(&t.offset().fix_offset())),
            ),
            Zone::System => fixed(
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
            Zone::Clinic(tz) => matches!(tz.from_local_datetime(&at), LocalResult::Ambiguous(..)),
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
            Zone::Clinic(tz) => {
                let t = u.with_timezone(tz);
                t.with_timezone(&t.offset().fix_offset())
            }
            Zone::System => u.with_timezone(&chrono::Local).fixed_offset(),
        }
    }

    /// The clinic's wall-clock time at the instant `u`, to the second.
    pub fn wall_clock(&self, u: DateTime<Utc>) -> NaiveDateTime {
        let t = self.at_instant(u).naive_local();
        t - Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&t)))
    }
}

/// An offset of a `chrono-tz` zone as a fixed offset.
trait FixOffset {
    fn fix_offset(&self) -> FixedOffset;
}

impl FixOffset for chrono_tz::TzOffset {
    fn fix_offset(&self) -> FixedOffset {
        chrono::Offset::fix(self)
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
        for bad in ["", "Oslo", "Europe/Olso", "+01:00", "CET1CEST"] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }
}
