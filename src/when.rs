//! The dates and times ritplan accepts: one place that parses them and bounds them.
//!
//! chrono represents years from about -262 000 to +262 000, and adding a day or a week to a date
//! near either end panics. No clinical date lies outside 1900–2199, so every date or time a
//! person, a file, an environment variable or a training clock gives is held to those years
//! here, before it reaches the core; a value outside them is refused naming the value, never
//! carried on to an arithmetic overflow. (This bound is a safety floor in code on purpose: it
//! is not clinical policy, and the whole program relies on it.)

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

/// The first year ritplan accepts.
pub const FIRST_YEAR: i32 = 1900;
/// The last year ritplan accepts.
pub const LAST_YEAR: i32 = 2199;

/// Why a date or time was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateError {
    /// The text is not a date (or date and time) in a form ritplan reads.
    Syntax {
        /// The text as given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A real date, outside the years ritplan accepts.
    OutOfRange {
        /// The date as given.
        value: String,
    },
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateError::Syntax { value, expected } => {
                write!(f, "{value:?} is not {expected}")
            }
            DateError::OutOfRange { value } => write!(
                f,
                "{value} is outside the years {FIRST_YEAR} to {LAST_YEAR} that ritplan accepts"
            ),
        }
    }
}

impl std::error::Error for DateError {}

/// Whether a date lies within the accepted years.
pub fn in_range(d: NaiveDate) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&d.year())
}

/// Holds a date to the accepted years.
pub fn date(d: NaiveDate) -> Result<NaiveDate, DateError> {
    if in_range(d) {
        Ok(d)
    } else {
        Err(DateError::OutOfRange {
            value: d.to_string(),
        })
    }
}

/// Holds a date and time to the accepted years.
pub fn datetime(t: NaiveDateTime) -> Result<NaiveDateTime, DateError> {
    date(t.date())
        .map(|_| t)
        .map_err(|_| DateError::OutOfRange {
            value: t.format("%Y-%m-%dT%H:%M").to_string(),
        })
}

/// `2026-12-07`, bounded.
pub fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    let s = s.trim();
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DateError::Syntax {
        value: s.to_string(),
        expected: "a date (2026-12-07)",
    })?;
    date(d).map_err(|_| DateError::OutOfRange {
        value: s.to_string(),
    })
}

/// `2026-12-07`, `2026-12-07T08:30`, `2026-12-07T08:30:15` or `2026-12-07 08:30`, bounded: the
/// date, and the time if one was given.
pub fn parse_date_and_time(s: &str) -> Result<(NaiveDate, Option<NaiveTime>), DateError> {
    let s = s.trim();
    let parsed = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| (d, None))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|dt| (dt.date(), Some(dt.time())))
        });
    match parsed {
        Some((d, t)) if in_range(d) => Ok((d, t)),
        Some(_) => Err(DateError::OutOfRange {
            value: s.to_string(),
        }),
        None => Err(DateError::Syntax {
            value: s.to_string(),
            expected: "a date (2026-12-07) or a date and time (2026-12-07T08:00)",
        }),
    }
}

/// A date and time (a date alone is its midnight), bounded.
pub fn parse_datetime(s: &str) -> Result<NaiveDateTime, DateError> {
    let (d, t) = parse_date_and_time(s)?;
    Ok(NaiveDateTime::new(d, t.unwrap_or(NaiveTime::MIN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_held_to_the_accepted_years() {
        assert!(parse_date("1900-01-01").is_ok());
        assert!(parse_date("2199-12-31").is_ok());
        for bad in ["1899-12-31", "2200-01-01", "+262142-12-31", "-0001-01-01"] {
            assert!(
                matches!(
                    parse_date(bad),
                    Err(DateError::OutOfRange { .. }) | Err(DateError::Syntax { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            parse_date("+262142-12-31").map_err(|e| e.to_string()),
            Err("+262142-12-31 is outside the years 1900 to 2199 that ritplan accepts".into())
        );
        assert!(matches!(
            parse_datetime("2200-01-01T08:00"),
            Err(DateError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_datetime("2026-02-30T08:00"),
            Err(DateError::Syntax { .. })
        ));
        assert_eq!(
            parse_datetime("2026-12-07").ok(),
            NaiveDate::from_ymd_opt(2026, 12, 7).and_then(|d| d.and_hms_opt(0, 0, 0))
        );
        // Every date in range can be moved a year either way without overflow.
        for d in [NaiveDate::MIN, NaiveDate::MAX] {
            assert!(date(d).is_err());
        }
    }
}
