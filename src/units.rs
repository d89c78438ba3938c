//! Exact dose arithmetic: allergen units, concentrations per mL, volumes in mL, doses, and
//! rounding a volume to what a syringe can measure.
//!
//! Every quantity is a [`Decimal`], never a binary float: 0.1 mL of 100 SQ-U/mL is exactly
//! 10 SQ-U. Rounding to a syringe's graduation only ever goes *down*, so a rounded volume never
//! delivers more allergen than the dose it was computed for.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The unit an allergen extract's strength is declared in. Templates name one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllergenUnit {
    /// Standardised Quality Units (ALK: Alutard SQ, ALK-depot SQ).
    SqU,
    /// Therapeutic Units (Allergopharma, e.g. Allergovit).
    Tu,
    /// Allergy Units (US standardised mite extracts).
    Au,
    /// Bioequivalent Allergy Units (US standardised grass and cat extracts).
    Bau,
    /// Index of Reactivity (Stallergenes, e.g. Alustal).
    Ir,
    /// Protein Nitrogen Units.
    Pnu,
    /// Biological Units (used in older mite rush studies).
    Bu,
    /// Micrograms of major allergen.
    Microgram,
    /// Japanese Allergy Units (Japanese standardised mite extracts).
    Jau,
    /// Millilitres of the maintenance concentrate, for a product whose strength the sources do
    /// not give (e.g. Depigoid in the abstract its template cites): a dose is the volume of the
    /// one vial, and ritplan states no strength. Its vials are written `concentration = 1`
    /// (1 mL of concentrate per mL), which is not a strength.
    MlConcentrate,
}

impl AllergenUnit {
    /// Every unit with the spelling ritplan writes.
    pub const ALL: [AllergenUnit; 10] = [
        AllergenUnit::SqU,
        AllergenUnit::Tu,
        AllergenUnit::Au,
        AllergenUnit::Bau,
        AllergenUnit::Ir,
        AllergenUnit::Pnu,
        AllergenUnit::Bu,
        AllergenUnit::Microgram,
        AllergenUnit::Jau,
        AllergenUnit::MlConcentrate,
    ];

    /// The canonical spelling, as printed on doses (`SQ-U`, `µg`, ...).
    pub fn symbol(self) -> &'static str {
        match self {
            AllergenUnit::SqU => "SQ-U",
            AllergenUnit::Tu => "TU",
            AllergenUnit::Au => "AU",
            AllergenUnit::Bau => "BAU",
            AllergenUnit::Ir => "IR",
            AllergenUnit::Pnu => "PNU",
            AllergenUnit::Bu => "BU",
            AllergenUnit::Microgram => "µg",
            AllergenUnit::Jau => "JAU",
            AllergenUnit::MlConcentrate => "mL-concentrate",
        }
    }
}

impl fmt::Display for AllergenUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// The error for a unit name ritplan does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown allergen unit {0:?}; known units are SQ-U, TU, AU, BAU, IR, PNU, BU, µg, JAU and mL-concentrate"
)]
pub struct UnknownUnit(pub String);

impl FromStr for AllergenUnit {
    type Err = UnknownUnit;

    /// Accepts the canonical spelling and the usual variants (`SQ`, `SQU`, `ug`, `mcg`), case
    /// insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match folded.as_str() {
            "squ" | "sq" => AllergenUnit::SqU,
            "tu" => AllergenUnit::Tu,
            "au" => AllergenUnit::Au,
            "bau" => AllergenUnit::Bau,
            "ir" => AllergenUnit::Ir,
            "pnu" => AllergenUnit::Pnu,
            "bu" => AllergenUnit::Bu,
            "µg" | "μg" | "ug" | "mcg" => AllergenUnit::Microgram,
            "jau" => AllergenUnit::Jau,
            "mlconcentrate" => AllergenUnit::MlConcentrate,
            _ => return Err(UnknownUnit(s.to_string())),
        })
    }
}

impl Serialize for AllergenUnit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.symbol())
    }
}

/// A volume in millilitres.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Volume(Decimal);

impl Volume {
    /// A volume of `ml` millilitres.
    pub fn from_ml(ml: Decimal) -> Self {
        Volume(ml.normalize())
    }

    /// The volume in millilitres.
    pub fn ml(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Volume {
    /// `0.1 mL`, `1.0 mL`, `0.25 mL`: at least one decimal place, never a trailing zero beyond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} mL", format_ml(self.0))
    }
}

/// A millilitre amount with at least one decimal place (`1.0`, `0.1`, `0.25`).
pub fn format_ml(ml: Decimal) -> String {
    let n = ml.normalize();
    if n.scale() == 0 {
        format!("{n}.0")
    } else {
        n.to_string()
    }
}

impl Serialize for Volume {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&self.0.normalize(), s)
    }
}

/// An amount of allergen in a named unit: a dose, or a cumulative dose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dose {
    amount: Decimal,
    unit: AllergenUnit,
}

impl Dose {
    /// `amount` units of allergen.
    pub fn new(amount: Decimal, unit: AllergenUnit) -> Self {
        Dose {
            amount: amount.normalize(),
            unit,
        }
    }

    /// The amount, in [`Dose::unit`].
    pub fn amount(self) -> Decimal {
        self.amount
    }

    /// The unit of the amount.
    pub fn unit(self) -> AllergenUnit {
        self.unit
    }

    /// The sum of two doses of the same unit; `None` when the units differ (there is no
    /// conversion between allergen units).
    pub fn checked_add(self, other: Dose) -> Option<Dose> {
        (self.unit == other.unit)
            .then(|| self.amount.checked_add(other.amount))
            .flatten()
            .map(|a| Dose::new(a, self.unit))
    }
}

impl fmt::Display for Dose {
    /// `100 000 SQ-U`: digits grouped in threes by a space, as labels print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", group_thousands(self.amount), self.unit)
    }
}

impl Serialize for Dose {
    /// A dose serializes as its bare amount; the unit travels in its own field.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&self.amount, s)
    }
}

impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        rust_decimal::serde::arbitrary_precision::deserialize(d).map(Volume::from_ml)
    }
}

impl<'de> Deserialize<'de> for AllergenUnit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A dose as `{"amount": 10, "unit": "SQ-U"}`, for records that must keep the unit with the
/// amount (`#[serde(with = "dose_with_unit")]`).
pub mod dose_with_unit {
    use super::{AllergenUnit, Dose};
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Repr {
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        amount: Decimal,
        unit: AllergenUnit,
    }

    /// Serializes.
    pub fn serialize<S: Serializer>(d: &Dose, s: S) -> Result<S::Ok, S::Error> {
        Repr {
            amount: d.amount(),
            unit: d.unit(),
        }
        .serialize(s)
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Dose, D::Error> {
        Repr::deserialize(d).map(|r| Dose::new(r.amount, r.unit))
    }
}

/// A strength: units of allergen per millilitre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Concentration {
    per_ml: Decimal,
    unit: AllergenUnit,
}

impl Concentration {
    /// `per_ml` units of allergen in each millilitre.
    pub fn new(per_ml: Decimal, unit: AllergenUnit) -> Self {
        Concentration {
            per_ml: per_ml.normalize(),
            unit,
        }
    }

    /// Units per millilitre.
    pub fn per_ml(self) -> Decimal {
        self.per_ml
    }

    /// The allergen unit.
    pub fn unit(self) -> AllergenUnit {
        self.unit
    }

    /// The dose in `volume` of this strength, exactly; `None` only on overflow (beyond 7.9e28).
    ///
    /// ```
    /// use ritplan::units::{AllergenUnit, Concentration, Volume, parse_decimal};
    ///
    /// let vial_1 = Concentration::new(parse_decimal("100").unwrap(), AllergenUnit::SqU);
    /// let dose = vial_1.dose_in(Volume::from_ml(parse_decimal("0.1").unwrap())).unwrap();
    /// assert_eq!(dose.to_string(), "10 SQ-U"); // exactly 10, not 10.000000001
    /// ```
    pub fn dose_in(self, volume: Volume) -> Option<Dose> {
        self.per_ml
            .checked_mul(volume.ml())
            .map(|a| Dose::new(a, self.unit))
    }

    /// The largest volume the syringe can measure whose dose does not exceed `dose`.
    ///
    /// ```
    /// use ritplan::units::{AllergenUnit, Concentration, Dose, Syringe, Volume, parse_decimal};
    ///
    /// let d = |s| parse_decimal(s).unwrap();
    /// let conc = Concentration::new(d("3000"), AllergenUnit::SqU);
    /// let syringe = Syringe::new(Volume::from_ml(d("0.01"))).unwrap();
    /// // 1 000 SQ-U would need 0.333... mL: rounded down to 0.33 mL (990 SQ-U), never up.
    /// let v = conc.volume_for(Dose::new(d("1000"), AllergenUnit::SqU), syringe).unwrap();
    /// assert_eq!(v.to_string(), "0.33 mL");
    /// ```
    ///
    /// `None` when the units differ, the strength is not positive, or even the smallest
    /// measurable volume would exceed the dose. The result is checked by multiplying back, so a
    /// quotient that does not terminate (1 000 / 3) can never round up past the dose.
    pub fn volume_for(self, dose: Dose, syringe: Syringe) -> Option<Volume> {
        if dose.unit() != self.unit || self.per_ml <= Decimal::ZERO {
            return None;
        }
        let exact = dose.amount().checked_div(self.per_ml)?;
        let mut volume = syringe.round_down(Volume::from_ml(exact));
        // Decimal division rounds in its 28th digit; step down once if that rounding carried
        // the volume over the dose.
        while self.dose_in(volume)?.amount() > dose.amount() {
            volume = Volume::from_ml(volume.ml() - syringe.graduation().ml());
        }
        (volume.ml() >= syringe.graduation().ml()).then_some(volume)
    }
}

impl fmt::Display for Concentration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/mL", group_thousands(self.per_ml), self.unit)
    }
}

impl Serialize for Concentration {
    /// A concentration serializes as its bare units per mL; the unit travels in its own field.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&self.per_ml, s)
    }
}

/// What a syringe can measure: volumes in whole multiples of its graduation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syringe {
    graduation: Volume,
}

/// The error for a graduation that is not a positive volume.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a syringe graduation must be a positive volume, not {0} mL")]
pub struct BadGraduation(pub Decimal);

impl Syringe {
    /// A syringe graduated every `graduation` mL.
    pub fn new(graduation: Volume) -> Result<Self, BadGraduation> {
        if graduation.ml() > Decimal::ZERO {
            Ok(Syringe { graduation })
        } else {
            Err(BadGraduation(graduation.ml()))
        }
    }

    /// The smallest step the syringe measures.
    pub fn graduation(self) -> Volume {
        self.graduation
    }

    /// Whether `volume` lies exactly on a graduation mark, above zero.
    pub fn can_measure(self, volume: Volume) -> bool {
        volume.ml() > Decimal::ZERO && (volume.ml() % self.graduation.ml()).is_zero()
    }

    /// `volume` rounded *down* to the nearest graduation mark (never up past it).
    ///
    /// ```
    /// use ritplan::units::{Syringe, Volume, parse_decimal};
    ///
    /// let syringe = Syringe::new(Volume::from_ml(parse_decimal("0.01").unwrap())).unwrap();
    /// let v = syringe.round_down(Volume::from_ml(parse_decimal("0.257").unwrap()));
    /// assert_eq!(v.to_string(), "0.25 mL");
    /// ```
    pub fn round_down(self, volume: Volume) -> Volume {
        let g = self.graduation.ml();
        let marks = (volume.ml() / g).floor();
        Volume::from_ml(marks * g)
    }
}

/// Parses a decimal written by a person or a file: `0.1`, `1_000`, `1e3`, `100000`.
/// Refuses anything that is not a finite decimal number.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return None;
    }
    if cleaned.contains(['e', 'E']) {
        Decimal::from_scientific(&cleaned).ok()
    } else {
        Decimal::from_str(&cleaned).ok()
    }
    .map(|d| d.normalize())
}

/// `123456.7` → `123 456.7`: the integer part grouped in threes by a space.
pub fn group_thousands(value: Decimal) -> String {
    let text = value.normalize().to_string();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        parse_decimal(s).expect("test decimal")
    }

    fn sq(s: &str) -> Concentration {
        Concentration::new(d(s), AllergenUnit::SqU)
    }

    fn syringe(g: &str) -> Syringe {
        Syringe::new(Volume::from_ml(d(g))).expect("positive graduation")
    }

    #[test]
    fn dose_is_exact() {
        let dose = sq("100").dose_in(Volume::from_ml(d("0.1"))).unwrap();
        assert_eq!(dose.amount().to_string(), "10");
        assert_eq!(dose.to_string(), "10 SQ-U");
        let big = sq("100000").dose_in(Volume::from_ml(d("0.6"))).unwrap();
        assert_eq!(big.to_string(), "60 000 SQ-U");
        let third = sq("10000").dose_in(Volume::from_ml(d("0.3"))).unwrap();
        assert_eq!(third.amount(), d("3000"));
    }

    #[test]
    fn units_parse_with_variants_and_refuse_unknown() {
        assert_eq!("SQ-U".parse::<AllergenUnit>(), Ok(AllergenUnit::SqU));
        assert_eq!("squ".parse::<AllergenUnit>(), Ok(AllergenUnit::SqU));
        assert_eq!("ug".parse::<AllergenUnit>(), Ok(AllergenUnit::Microgram));
        assert_eq!("µg".parse::<AllergenUnit>(), Ok(AllergenUnit::Microgram));
        assert_eq!("BAU".parse::<AllergenUnit>(), Ok(AllergenUnit::Bau));
        assert!("mg".parse::<AllergenUnit>().is_err());
        assert!("".parse::<AllergenUnit>().is_err());
        for unit in AllergenUnit::ALL {
            assert_eq!(unit.symbol().parse::<AllergenUnit>(), Ok(unit));
        }
    }

    #[test]
    fn volumes_print_with_one_decimal_at_least() {
        assert_eq!(Volume::from_ml(d("1")).to_string(), "1.0 mL");
        assert_eq!(Volume::from_ml(d("0.10")).to_string(), "0.1 mL");
        assert_eq!(Volume::from_ml(d("0.25")).to_string(), "0.25 mL");
    }

    #[test]
    fn thousands_grouping() {
        assert_eq!(group_thousands(d("100000")), "100 000");
        assert_eq!(group_thousands(d("1000")), "1 000");
        assert_eq!(group_thousands(d("999")), "999");
        assert_eq!(group_thousands(d("1234567.5")), "1 234 567.5");
        assert_eq!(group_thousands(d("-2000")), "-2 000");
    }

    #[test]
    fn decimals_parse_like_toml_numbers() {
        assert_eq!(parse_decimal("1_000"), Some(d("1000")));
        assert_eq!(parse_decimal("1e3"), Some(d("1000")));
        assert_eq!(parse_decimal("0.10"), Some(d("0.1")));
        assert_eq!(parse_decimal("nan"), None);
        assert_eq!(parse_decimal("inf"), None);
        assert_eq!(parse_decimal(""), None);
    }

    #[test]
    fn rounding_goes_down_to_the_graduation() {
        let s = syringe("0.01");
        assert_eq!(s.round_down(Volume::from_ml(d("0.257"))).ml(), d("0.25"));
        assert_eq!(s.round_down(Volume::from_ml(d("0.25"))).ml(), d("0.25"));
        assert!(s.can_measure(Volume::from_ml(d("0.25"))));
        assert!(!s.can_measure(Volume::from_ml(d("0.255"))));
        assert!(!s.can_measure(Volume::from_ml(d("0"))));
        assert!(Syringe::new(Volume::from_ml(d("0"))).is_err());
    }

    #[test]
    fn volume_for_a_dose_that_does_not_divide() {
        // 1 000 SQ-U from 3 000 SQ-U/mL is 0.333... mL: 0.33 mL gives 990 SQ-U, never 1 000+.
        let conc = Concentration::new(d("3000"), AllergenUnit::SqU);
        let v = conc
            .volume_for(Dose::new(d("1000"), AllergenUnit::SqU), syringe("0.01"))
            .unwrap();
        assert_eq!(v.ml(), d("0.33"));
        // A dose below the smallest measurable volume has no volume.
        assert_eq!(
            sq("100000").volume_for(Dose::new(d("10"), AllergenUnit::SqU), syringe("0.01")),
            None
        );
        // Units must agree.
        assert_eq!(
            sq("100").volume_for(Dose::new(d("10"), AllergenUnit::Tu), syringe("0.01")),
            None
        );
    }

    #[test]
    fn doses_of_different_units_do_not_add() {
        let a = Dose::new(d("10"), AllergenUnit::SqU);
        let b = Dose::new(d("10"), AllergenUnit::Tu);
        assert_eq!(a.checked_add(b), None);
        assert_eq!(a.checked_add(a).map(Dose::amount), Some(d("20")));
    }

    proptest! {
        /// Rounding never goes up, never loses a whole graduation, and lands on a mark.
        #[test]
        fn round_down_is_below_and_close(millis in 0u64..5_000_000, grad in prop::sample::select(vec!["0.01", "0.02", "0.05", "0.1"])) {
            let s = syringe(grad);
            let v = Volume::from_ml(Decimal::new(millis as i64, 6));
            let r = s.round_down(v);
            prop_assert!(r.ml() <= v.ml());
            prop_assert!(v.ml() - r.ml() < s.graduation().ml());
            prop_assert!((r.ml() % s.graduation().ml()).is_zero());
        }

        /// The volume chosen for a dose never delivers more than the dose.
        #[test]
        fn volume_for_never_exceeds_dose(dose in 1u64..1_000_000, conc in prop::sample::select(vec![3u64, 7, 100, 1_000, 3_000, 10_000, 100_000])) {
            let c = Concentration::new(Decimal::from(conc), AllergenUnit::SqU);
            let target = Dose::new(Decimal::from(dose), AllergenUnit::SqU);
            if let Some(v) = c.volume_for(target, syringe("0.01")) {
                let given = c.dose_in(v).unwrap();
                prop_assert!(given.amount() <= target.amount());
                // and it is the largest such volume
                let next = Volume::from_ml(v.ml() + Decimal::new(1, 2));
                prop_assert!(c.dose_in(next).unwrap().amount() > target.amount());
            }
        }
    }
}
