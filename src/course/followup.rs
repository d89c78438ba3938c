//! Follow-up after a course: the Asthma Control Questionnaire's item scores as the clinic's
//! licensed paper form gave them, FEV1 if the clinic measured it, and the medication the patient
//! used (drug, daily dose). Recorded as an entry of the course's chain
//! ([`super::EventKind::FollowUp`]); it never changes the dosing state.
//!
//! The ACQ (Juniper 1999) is copyrighted (QOL Technologies; licensed through Mapi Research
//! Trust): ritplan holds no questionnaire wording, only the version (ACQ-5, -6 or -7, the
//! number of items) and the item scores 0-6 in the form's order. The score is the mean of the
//! items, computed only when every item of the version is there; it is never imputed.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::field::Field;

/// The highest score of one ACQ item (the 7-point scale is 0-6).
pub const ACQ_ITEM_MAX: u8 = 6;
/// The most medication entries one follow-up holds.
pub const MAX_MEDICATIONS: usize = 20;
/// The longest dose unit (`µg`, `puffs`, `mg`), in characters.
pub const DOSE_UNIT_MAX: usize = 20;
/// The largest daily dose recorded (in any unit): a value past it is a typing error.
pub const MAX_DAILY_DOSE: i64 = 1_000_000;

/// The ACQ item scores of one follow-up, as the clinic's form gave them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcqRecord {
    /// The form's version: 5 (symptoms), 6 (and rescue bronchodilator use), 7 (and FEV1).
    pub version: u8,
    /// The item scores 0-6, in the form's item order.
    pub items: Vec<u8>,
}

/// An ACQ score: the mean of the items, kept as its sum and count so that it stays exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AcqScore {
    /// The sum of the item scores.
    pub sum: u32,
    /// How many items (the version).
    pub items: u8,
}

impl AcqScore {
    /// The mean, to the precision of a decimal (28 digits; exact when the mean is a
    /// terminating decimal, as it always is for ACQ-5).
    pub fn mean(self) -> Decimal {
        if self.items == 0 {
            return Decimal::ZERO;
        }
        Decimal::from(self.sum) / Decimal::from(self.items)
    }

    /// The mean to 2 places, half away from zero (no mean of 5, 6 or 7 whole numbers is
    /// exactly half-way at the third place, so the rounding direction never matters).
    pub fn shown(self) -> Decimal {
        self.mean()
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    }
}

impl fmt::Display for AcqScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.shown())
    }
}

impl AcqRecord {
    /// Whether the version is one ritplan knows and every item of it is there, each 0-6.
    pub fn check(&self) -> Result<(), String> {
        if !(5..=7).contains(&self.version) {
            return Err(format!(
                "ACQ version {} is not known: 5, 6 or 7 (the number of items on the clinic's form)",
                self.version
            ));
        }
        if self.items.len() != usize::from(self.version) {
            return Err(format!(
                "ACQ-{} has {} items; {} were given (every item is needed: a missing item is never filled in)",
                self.version,
                self.version,
                self.items.len()
            ));
        }
        if let Some((i, s)) = self
            .items
            .iter()
            .enumerate()
            .find(|(_, s)| **s > ACQ_ITEM_MAX)
        {
            return Err(format!(
                "item {} is {s}: each ACQ item is scored 0 to {ACQ_ITEM_MAX}",
                i + 1
            ));
        }
        Ok(())
    }

    /// The score: the mean of the items, only when the record is complete ([`Self::check`]).
    pub fn score(&self) -> Option<AcqScore> {
        self.check().ok()?;
        Some(AcqScore {
            sum: self.items.iter().map(|s| u32::from(*s)).sum(),
            items: self.version,
        })
    }
}

/// ACQ item scores as typed: whole numbers separated by commas (`1,2,0,1,3`). The count and
/// the range are checked with the version ([`AcqRecord::check`]).
pub fn parse_acq_items(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("no item scores: give them in the form's order, e.g. 1,2,0,1,3".into());
    }
    t.split(',')
        .enumerate()
        .map(|(i, s)| {
            let s = s.trim();
            s.parse::<u8>()
                .ok()
                .filter(|_| s.chars().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| {
                    format!(
                        "item {} is {s:?}: each item is a whole number from 0 to {ACQ_ITEM_MAX}, the items separated by commas",
                        i + 1
                    )
                })
        })
        .collect()
}

/// A daily dose: an exact amount above 0 with its unit as the clinic writes it (`400 µg`,
/// `2 puffs`, `10 mg`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyDose {
    /// The amount.
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub amount: Decimal,
    /// The unit.
    pub unit: String,
}

impl DailyDose {
    /// `400 µg`, `2 puffs`, `0.5mg`: a number above 0 (at most [`MAX_DAILY_DOSE`]) and a unit
    /// of letters (and `µ`, `/`, `%`, `.`), at most [`DOSE_UNIT_MAX`] characters.
    pub fn parse(text: &str) -> Result<DailyDose, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let bad = || {
            format!(
                "{t:?} is not a daily dose: a number above 0 and its unit, e.g. \"400 µg\" or \"2 puffs\""
            )
        };
        let amount = crate::units::parse_decimal(number)
            .filter(|a| *a > Decimal::ZERO)
            .ok_or_else(bad)?;
        let unit = unit.trim();
        if unit.is_empty() {
            return Err(format!(
                "{t:?} has no unit: write it after the number, e.g. \"400 µg\""
            ));
        }
        let d = DailyDose {
            amount,
            unit: unit.to_string(),
        };
        d.check()?;
        Ok(d)
    }

    /// The bounds of [`Self::parse`], for a dose from any front end.
    pub fn check(&self) -> Result<(), String> {
        if self.amount <= Decimal::ZERO || self.amount > Decimal::from(MAX_DAILY_DOSE) {
            return Err(format!(
                "{} is not a daily dose above 0 and at most {MAX_DAILY_DOSE}",
                self.amount
            ));
        }
        let n = self.unit.chars().count();
        if n == 0 || n > DOSE_UNIT_MAX {
            return Err(format!(
                "the unit {:?} is not 1 to {DOSE_UNIT_MAX} characters",
                self.unit
            ));
        }
        if !self
            .unit
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, 'µ' | '/' | '%' | '.' | ' '))
        {
            return Err(format!(
                "the unit {:?} may hold only letters, µ, '/', '%', '.' and spaces",
                self.unit
            ));
        }
        Ok(())
    }
}

impl fmt::Display for DailyDose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.unit)
    }
}

/// One medication the patient used, as recorded at the follow-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationUse {
    /// The drug, as typed (the medication score matches it against the rules' names).
    pub drug: String,
    /// Its daily dose.
    pub daily_dose: DailyDose,
}

/// A follow-up's values checked together, whatever front end sent them: the date not after
/// `today` and not before the patient's birth `born`, something recorded, the ACQ complete and
/// in range, FEV1 above 0 and at most 200 % predicted, at most [`MAX_MEDICATIONS`] drugs each
/// with a daily dose in its bounds. The drug names' text is the ward's to clean. A problem names
/// its field.
pub fn check(
    date: NaiveDate,
    acq: Option<&AcqRecord>,
    fev1_percent: Option<Decimal>,
    medication: Option<&[MedicationUse]>,
    today: NaiveDate,
    born: NaiveDate,
) -> Result<(), (Field, String)> {
    if date > today {
        return Err((
            Field::FollowUpDate,
            format!("{date} is in the future; record a follow-up that has happened"),
        ));
    }
    if date < born {
        return Err((
            Field::FollowUpDate,
            format!("{date} is before the patient's birth ({born})"),
        ));
    }
    if acq.is_none() && fev1_percent.is_none() && medication.is_none() {
        return Err((
            Field::Acq,
            "a follow-up needs something recorded: the ACQ items, FEV1, or the medication (or that none is used)"
                .into(),
        ));
    }
    if let Some(a) = acq {
        a.check().map_err(|p| (Field::Acq, p))?;
    }
    if let Some(f) = fev1_percent
        && (f <= Decimal::ZERO || f > Decimal::from(200))
    {
        return Err((
            Field::Fev1,
            format!(
                "{}% predicted is not possible (expected above 0 and at most 200)",
                f.normalize()
            ),
        ));
    }
    if let Some(m) = medication {
        if m.len() > MAX_MEDICATIONS {
            return Err((
                Field::Medication,
                format!(
                    "{} drugs were given; at most {MAX_MEDICATIONS} are recorded at one follow-up",
                    m.len()
                ),
            ));
        }
        for u in m {
            u.daily_dose
                .check()
                .map_err(|p| (Field::DailyDose, format!("{}: {p}", u.drug)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn each_version_needs_exactly_its_items_each_0_to_6() {
        for (version, n) in [(5u8, 5usize), (6, 6), (7, 7)] {
            let ok = AcqRecord {
                version,
                items: vec![1; n],
            };
            assert!(ok.check().is_ok(), "{version}");
            assert_eq!(
                ok.score().map(|s| s.shown()),
                Some(Decimal::ONE),
                "{version}"
            );
            for wrong in [n - 1, n + 1, 0] {
                let bad = AcqRecord {
                    version,
                    items: vec![1; wrong],
                };
                assert!(bad.check().is_err(), "{version} with {wrong}");
                assert_eq!(bad.score(), None, "never imputed: {version} with {wrong}");
            }
        }
        let seven = AcqRecord {
            version: 5,
            items: vec![0, 6, 7, 1, 1],
        };
        let e = seven.check().expect_err("7 is out of range");
        assert!(e.contains("item 3 is 7"), "{e}");
        for version in [0u8, 4, 8] {
            let items = vec![0; usize::from(version)];
            assert!(AcqRecord { version, items }.check().is_err(), "{version}");
        }
    }

    #[test]
    fn the_score_is_the_mean_exact_and_shown_to_two_places() {
        let acq = |version, items: &[u8]| {
            AcqRecord {
                version,
                items: items.to_vec(),
            }
            .score()
            .expect("complete")
        };
        // 1+2+0+1+3 = 7, / 5 = 1.4 exactly.
        let s = acq(5, &[1, 2, 0, 1, 3]);
        assert_eq!((s.sum, s.items), (7, 5));
        assert_eq!(s.mean(), Decimal::new(14, 1));
        assert_eq!(s.to_string(), "1.40");
        // 10 / 7 = 1.428571…: 1.43; 1 / 6 = 0.1666…: 0.17; 6 × 7 / 7 = 6.00.
        assert_eq!(acq(7, &[1, 2, 3, 1, 1, 1, 1]).to_string(), "1.43");
        assert_eq!(acq(6, &[1, 0, 0, 0, 0, 0]).to_string(), "0.17");
        assert_eq!(acq(7, &[6; 7]).to_string(), "6.00");
        assert_eq!(acq(5, &[0; 5]).to_string(), "0.00");
        // The exact mean keeps its digits; only the shown one is rounded.
        assert!(acq(7, &[1, 2, 3, 1, 1, 1, 1]).mean() > Decimal::new(142857, 5));
    }

    #[test]
    fn items_parse_as_whole_numbers_separated_by_commas() {
        assert_eq!(parse_acq_items("1,2,0,1,3"), Ok(vec![1, 2, 0, 1, 3]));
        assert_eq!(parse_acq_items(" 1, 2 ,0,1,3 "), Ok(vec![1, 2, 0, 1, 3]));
        for bad in ["", "1,,2", "1;2", "1.5,2", "-1,2", "+1,2", "a", "1,2,300"] {
            assert!(parse_acq_items(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn daily_doses_parse_with_their_unit_and_bounds() {
        let dd = DailyDose::parse("400 µg").expect("dose");
        assert_eq!((dd.amount, dd.unit.as_str()), (Decimal::from(400), "µg"));
        assert_eq!(dd.to_string(), "400 µg");
        assert_eq!(
            DailyDose::parse("0.5mg").expect("dose").to_string(),
            "0.5 mg"
        );
        assert_eq!(DailyDose::parse("2 puffs").expect("dose").unit, "puffs");
        for bad in [
            "",
            "400",
            "µg",
            "0 mg",
            "-2 mg",
            "2 mg\u{1b}",
            "2 mg;drop",
            "2000000 mg",
            "1 abcdefghijklmnopqrstu",
        ] {
            assert!(DailyDose::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_follow_up_is_checked_as_a_whole() {
        let today = d("2026-12-06");
        let born = d("2000-01-01");
        let acq = AcqRecord {
            version: 5,
            items: vec![1, 2, 0, 1, 3],
        };
        assert!(check(today, Some(&acq), None, None, today, born).is_ok());
        let field = |r: Result<(), (Field, String)>| r.expect_err("refused").0;
        assert_eq!(
            field(check(d("2026-12-07"), Some(&acq), None, None, today, born)),
            Field::FollowUpDate
        );
        assert_eq!(
            field(check(d("1999-12-31"), Some(&acq), None, None, today, born)),
            Field::FollowUpDate
        );
        assert_eq!(
            field(check(today, None, None, None, today, born)),
            Field::Acq
        );
        assert!(
            check(today, None, None, Some(&[]), today, born).is_ok(),
            "none used"
        );
        assert_eq!(
            field(check(
                today,
                None,
                Some(Decimal::from(201)),
                None,
                today,
                born
            )),
            Field::Fev1
        );
        let many = vec![
            MedicationUse {
                drug: "salbutamol".into(),
                daily_dose: DailyDose::parse("2 puffs").expect("dose"),
            };
            MAX_MEDICATIONS + 1
        ];
        assert_eq!(
            field(check(today, None, None, Some(&many), today, born)),
            Field::Medication
        );
        assert!(
            check(
                today,
                None,
                None,
                Some(&many[..MAX_MEDICATIONS]),
                today,
                born
            )
            .is_ok()
        );
    }
}
