//! The clinic's vial expiry policy (`rules/vial-expiry.toml`): how long a vial of a given
//! strength may be used after it was prepared (mixed or diluted). A vial's effective expiry is
//! the earlier of its lot's date and the date a row gives; without a row that applies, the
//! lot's date alone. When a row applies and the preparation date is not known, the vial is
//! refused (fail closed): its shelf life cannot be worked out.
//!
//! This file is not part of a course's frozen rules: a vial's effective expiry is worked out
//! once, when the vial is added, and recorded in its event.

use std::fmt;

use chrono::{Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{PolicyError, Provenance, read_provenance};
use crate::diag::{Diagnostic, SourceText};
use crate::tomlread::{Diags, Table};
use crate::units::{AllergenUnit, Concentration, parse_decimal};

/// The bundled file: (file name, text).
pub const BUNDLED: (&str, &str) = (
    "vial-expiry.toml",
    include_str!("../../rules/vial-expiry.toml"),
);

/// The `kind` of a vial expiry rules file.
pub const KIND: &str = "vial-expiry";

/// A range of strengths per mL, with its edges as written (`"[1000, 20000]"`, `"[0, 1000)"`,
/// `"(20000, ∞)"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StrengthRange {
    /// As written in the file.
    pub written: String,
    /// The lower edge.
    #[serde(skip)]
    pub lo: Decimal,
    /// Whether the lower edge is inside.
    #[serde(skip)]
    pub lo_incl: bool,
    /// The upper edge (`None`: no limit).
    #[serde(skip)]
    pub hi: Option<Decimal>,
    /// Whether the upper edge is inside.
    #[serde(skip)]
    pub hi_incl: bool,
}

impl StrengthRange {
    /// Parses `"[a, b)"`, `"(a, b]"`, `"[a, ∞)"` (also `inf`), with exact decimal edges.
    pub fn parse(text: &str) -> Result<StrengthRange, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{text:?} is not a range: write it with its edges, e.g. \"[1000, 20000]\" (1 000 to 20 000 inclusive), \"[0, 1000)\" or \"(20000, ∞)\""
            )
        };
        let mut chars = t.chars();
        let lo_incl = match chars.next() {
            Some('[') => true,
            Some('(') => false,
            _ => return Err(bad()),
        };
        let hi_incl = match chars.next_back() {
            Some(']') => true,
            Some(')') => false,
            _ => return Err(bad()),
        };
        let (a, b) = chars.as_str().split_once(',').ok_or_else(bad)?;
        let lo = parse_decimal(a)
            .filter(|d| *d >= Decimal::ZERO)
            .ok_or_else(bad)?;
        let hi = match b.trim() {
            "∞" | "inf" => None,
            other => Some(parse_decimal(other).ok_or_else(bad)?),
        };
        if hi.is_none() && hi_incl {
            return Err(format!(
                "{text:?}: no limit (∞) is never inside: close it with \")\""
            ));
        }
        if let Some(h) = hi
            && (h < lo || (h == lo && !(lo_incl && hi_incl)))
        {
            return Err(format!(
                "{text:?} is empty: its upper edge is not above its lower edge"
            ));
        }
        Ok(StrengthRange {
            written: t.to_string(),
            lo,
            lo_incl,
            hi,
            hi_incl,
        })
    }

    /// Whether `x` lies inside.
    pub fn contains(&self, x: Decimal) -> bool {
        let above = if self.lo_incl {
            x >= self.lo
        } else {
            x > self.lo
        };
        let below = match self.hi {
            None => true,
            Some(h) if self.hi_incl => x <= h,
            Some(h) => x < h,
        };
        above && below
    }
}

/// How long a vial lasts after its preparation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shelf {
    /// Calendar months.
    Months(u32),
    /// Days.
    Days(u32),
}

impl Shelf {
    /// The last day of use of a vial prepared on `prepared` (`None` past the calendar's end).
    pub fn from(self, prepared: NaiveDate) -> Option<NaiveDate> {
        match self {
            Shelf::Months(m) => prepared.checked_add_months(Months::new(m)),
            Shelf::Days(d) => prepared.checked_add_days(Days::new(u64::from(d))),
        }
    }
}

impl fmt::Display for Shelf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shelf::Months(1) => f.write_str("1 month"),
            Shelf::Months(m) => write!(f, "{m} months"),
            Shelf::Days(1) => f.write_str("1 day"),
            Shelf::Days(d) => write!(f, "{d} days"),
        }
    }
}

/// One row: vials of this unit and strength last this long after preparation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// The allergen unit the strengths are in (a row applies only to vials in this unit).
    pub unit: AllergenUnit,
    /// The strengths per mL it covers.
    pub strength: StrengthRange,
    /// How long such a vial lasts after its preparation.
    pub shelf: Shelf,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl Limit {
    /// The row in words, as recorded with a vial it shortened.
    pub fn words(&self) -> String {
        format!(
            "the clinic's limit for {} {}/mL: {} from preparation ({})",
            self.strength.written,
            self.unit.symbol(),
            self.shelf,
            self.provenance.source
        )
    }
}

/// The policy: every row (none: the lot's date only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VialExpiry {
    /// The rows.
    pub limits: Vec<Limit>,
}

/// A vial's effective expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// The last day it may be used.
    pub expires: NaiveDate,
    /// The row that made it earlier than the lot's date, in words.
    pub rule: Option<String>,
}

/// Why no expiry could be worked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryRefusal {
    /// A row applies, and it counts from the preparation date, which was not given.
    NeedsPrepared {
        /// The row, in words.
        rule: String,
    },
}

impl VialExpiry {
    /// The bundled policy.
    pub fn bundled() -> Result<VialExpiry, PolicyError> {
        VialExpiry::from_source(super::bundled_source(BUNDLED))
    }

    /// Reads a vial expiry rules file; every problem is reported.
    pub fn from_source(src: SourceText) -> Result<VialExpiry, PolicyError> {
        super::read_rules_file(src, read)
    }

    /// The rows that apply to a vial of `strength`.
    pub fn limits_for(&self, strength: Concentration) -> impl Iterator<Item = &Limit> {
        self.limits
            .iter()
            .filter(move |l| l.unit == strength.unit() && l.strength.contains(strength.per_ml()))
    }

    /// The effective expiry of a vial of `strength` whose lot expires on `lot_expires`,
    /// prepared on `prepared`: the earliest of the lot's date and every row that applies.
    /// Refused when a row applies and the preparation date is not known.
    pub fn effective(
        &self,
        strength: Concentration,
        lot_expires: NaiveDate,
        prepared: Option<NaiveDate>,
    ) -> Result<Effective, ExpiryRefusal> {
        let mut out = Effective {
            expires: lot_expires,
            rule: None,
        };
        for l in self.limits_for(strength) {
            let Some(p) = prepared else {
                return Err(ExpiryRefusal::NeedsPrepared { rule: l.words() });
            };
            // A date past the calendar's end is no limit at all.
            if let Some(d) = l.shelf.from(p)
                && d < out.expires
            {
                out = Effective {
                    expires: d,
                    rule: Some(l.words()),
                };
            }
        }
        Ok(out)
    }
}

/// Reads the document of a `kind = "vial-expiry"` file.
pub fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<VialExpiry> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "format",
            "id",
            "name",
            "note",
            "source",
            "evidence",
            "certainty",
            "limit",
        ],
    );
    super::read_kind_and_format(doc, diags, KIND, "vial expiry rules")?;
    let _ = read_provenance(doc, diags);
    let mut limits = Vec::new();
    for t in doc.tables(diags, "limit") {
        t.only_keys(
            diags,
            &[
                "unit",
                "strength",
                "months",
                "days",
                "source",
                "evidence",
                "certainty",
                "note",
            ],
        );
        let unit = t.parsed::<AllergenUnit>(
            diags,
            "unit",
            true,
            "unknown-unit",
            "SQ-U, TU, AU, BAU, IR, PNU, BU, µg",
        );
        let strength = t.string(diags, "strength", true).and_then(|s| {
            StrengthRange::parse(&s.value)
                .map_err(|why| diags.push(Diagnostic::error("bad-range", s.at(), why)))
                .ok()
        });
        let shelf = match (t.has("months"), t.has("days")) {
            (true, false) => t
                .count(diags, "months", true)
                .map(|m| Shelf::Months(m.value)),
            (false, true) => t.count(diags, "days", true).map(|d| Shelf::Days(d.value)),
            _ => {
                diags.push(Diagnostic::error(
                    "missing-field",
                    t.at(),
                    format!(
                        "{} needs its shelf life: `months` or `days` (one of them)",
                        t.what
                    ),
                ));
                None
            }
        };
        let shelf = shelf.filter(|s| {
            let zero = matches!(s, Shelf::Months(0) | Shelf::Days(0));
            if zero {
                diags.push(Diagnostic::error(
                    "bad-value",
                    t.at(),
                    format!("{}: a shelf life of 0 leaves no day of use", t.what),
                ));
            }
            !zero
        });
        let provenance = read_provenance(&t, diags);
        if let (Some(unit), Some(strength), Some(shelf), Some(provenance)) =
            (unit, strength, shelf, provenance)
        {
            limits.push(Limit {
                unit: unit.value,
                strength,
                shelf,
                provenance,
            });
        }
    }
    Some(VialExpiry { limits })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn pnu(x: i64) -> Concentration {
        Concentration::new(Decimal::from(x), AllergenUnit::Pnu)
    }

    const TEST_RULES: &str = r#"
kind = "vial-expiry"
format = 1
source = "test"
evidence = "example"
certainty = "I"

[[limit]]
unit = "PNU"
strength = "[1000, 20000]"
months = 12
source = "test one year"
evidence = "example"
certainty = "I"

[[limit]]
unit = "PNU"
strength = "[0, 1000)"
days = 180
source = "test six months"
evidence = "example"
certainty = "I"
"#;

    fn rules() -> VialExpiry {
        VialExpiry::from_source(SourceText::new("test.toml", TEST_RULES)).expect("test rules")
    }

    #[test]
    fn the_shipped_file_has_no_active_row_so_the_lots_date_holds() {
        let v = VialExpiry::bundled().expect("bundled vial expiry");
        assert!(v.limits.is_empty());
        let e = v
            .effective(pnu(5000), d("2027-03-31"), None)
            .expect("no row: no preparation date needed");
        assert_eq!(e.expires, d("2027-03-31"));
        assert_eq!(e.rule, None);
    }

    #[test]
    fn a_row_shortens_the_expiry_on_both_edges_of_its_range() {
        let r = rules();
        let lot = d("2030-01-01");
        let prepared = Some(d("2026-12-06"));
        // Both edges of "[1000, 20000]" are inside: one year.
        for x in [1000, 20000] {
            let e = r.effective(pnu(x), lot, prepared).expect("row");
            assert_eq!(e.expires, d("2027-12-06"), "{x}");
            assert!(
                e.rule.as_deref().is_some_and(|w| w.contains("12 months")),
                "{e:?}"
            );
        }
        // 999 is in "[0, 1000)": 180 days; 1000 is not.
        let e = r.effective(pnu(999), lot, prepared).expect("row");
        assert_eq!(e.expires, d("2027-06-04"));
        // Above the last row: the lot's date, no preparation date needed.
        let e = r.effective(pnu(20001), lot, None).expect("no row");
        assert_eq!((e.expires, e.rule), (lot, None));
        // Another unit: no row applies.
        let sq = Concentration::new(Decimal::from(5000), AllergenUnit::SqU);
        assert_eq!(r.effective(sq, lot, None).expect("no row").expires, lot);
        // The lot's date when it is the earlier one.
        let early = d("2027-01-31");
        let e = r.effective(pnu(5000), early, prepared).expect("row");
        assert_eq!((e.expires, e.rule), (early, None));
    }

    #[test]
    fn a_row_that_applies_without_a_preparation_date_is_refused() {
        let r = rules();
        let e = r.effective(pnu(5000), d("2030-01-01"), None);
        assert!(
            matches!(&e, Err(ExpiryRefusal::NeedsPrepared { rule }) if rule.contains("[1000, 20000] PNU/mL")),
            "{e:?}"
        );
    }

    #[test]
    fn ranges_parse_with_their_edges_and_bad_files_are_refused() {
        let r = StrengthRange::parse("(0.5, ∞)").expect("range");
        assert!(!r.contains(Decimal::new(5, 1)));
        assert!(r.contains(Decimal::new(51, 2)));
        for bad in [
            "[1, 2", "1, 2]", "[2, 1]", "[1, 1)", "[0, ∞]", "[-1, 2]", "[a, 2]",
        ] {
            assert!(StrengthRange::parse(bad).is_err(), "{bad}");
        }
        let broken = TEST_RULES.replace("months = 12", "months = 0");
        assert!(VialExpiry::from_source(SourceText::new("t.toml", broken)).is_err());
        let both = TEST_RULES.replace("months = 12", "months = 12\ndays = 3");
        assert!(VialExpiry::from_source(SourceText::new("t.toml", both)).is_err());
        let unit = TEST_RULES.replace("unit = \"PNU\"", "unit = \"drops\"");
        assert!(VialExpiry::from_source(SourceText::new("t.toml", unit)).is_err());
    }
}
