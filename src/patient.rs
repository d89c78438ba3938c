//! A patient's values as the planner needs them, validated: impossible values are refused with
//! a sentence naming the value and why. Laboratory results may be censored (`<0.35`, `>100`).

use crate::field::Field;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::policy::risk::AsthmaControl;
use crate::units::parse_decimal;

/// Which side of a value a censored laboratory result lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Censor {
    /// The value itself.
    Exact,
    /// Below the value (`<0.35`).
    Below,
    /// Above the value (`>100`).
    Above,
}

/// A laboratory result, possibly censored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabValue {
    /// The number printed by the laboratory.
    pub value: Decimal,
    /// Exact, or a bound.
    pub censor: Censor,
}

impl LabValue {
    /// Parses `52`, `<0.35`, `>100` (also `≤`/`≥`/`<=`/`>=`, taken as the same bound).
    pub fn parse(text: &str) -> Option<LabValue> {
        let t = text.trim();
        let (censor, rest) = if let Some(r) = t
            .strip_prefix("<=")
            .or_else(|| t.strip_prefix('≤'))
            .or_else(|| t.strip_prefix('<'))
        {
            (Censor::Below, r)
        } else if let Some(r) = t
            .strip_prefix(">=")
            .or_else(|| t.strip_prefix('≥'))
            .or_else(|| t.strip_prefix('>'))
        {
            (Censor::Above, r)
        } else {
            (Censor::Exact, t)
        };
        parse_decimal(rest).map(|value| LabValue { value, censor })
    }

    /// The exact value, if not censored.
    pub fn exact(self) -> Option<Decimal> {
        (self.censor == Censor::Exact).then_some(self.value)
    }
}

impl fmt::Display for LabValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.censor {
            Censor::Exact => "",
            Censor::Below => "<",
            Censor::Above => ">",
        };
        write!(f, "{prefix}{}", self.value.normalize())
    }
}

impl Serialize for LabValue {
    /// As the laboratory wrote it: `"52"`, `"<0.35"`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Omalizumab pretreatment as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pretreatment {
    /// None.
    None,
    /// This many weeks so far.
    Weeks(u32),
    /// Since this date.
    Since(NaiveDate),
}

/// The patient's raw values, from flags or a patient file, before validation.
#[derive(Clone, Debug, Default)]
pub struct PatientInput {
    /// Age in years.
    pub age: Option<u32>,
    /// Date of birth (the age is computed at the plan date).
    pub dob: Option<NaiveDate>,
    /// Weight, kg.
    pub weight_kg: Option<String>,
    /// Mite-specific IgE, kUA/L, possibly censored.
    pub sige: Option<String>,
    /// Total IgE, kU/L (= IU/mL), possibly censored.
    pub total_ige: Option<String>,
    /// FEV1 % predicted.
    pub fev1_percent: Option<String>,
    /// Takes a beta-blocker (including eye drops).
    pub beta_blocker: bool,
    /// Asthma control.
    pub asthma: Option<AsthmaControl>,
    /// Omalizumab weeks so far.
    pub omalizumab_weeks: Option<u32>,
    /// Omalizumab since.
    pub omalizumab_since: Option<NaiveDate>,
}

/// A validated patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Patient {
    /// Age in whole years at the plan date.
    pub age_years: u32,
    /// Weight, kg (needed for omalizumab and the plan; the risk needs none).
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub weight_kg: Option<Decimal>,
    /// Mite sIgE, kUA/L.
    pub sige: LabValue,
    /// Total IgE, kU/L.
    pub total_ige: LabValue,
    /// FEV1 % predicted.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub fev1_percent: Option<Decimal>,
    /// Beta-blocker use.
    pub beta_blocker: bool,
    /// Asthma control.
    pub asthma: Option<AsthmaControl>,
    /// Omalizumab pretreatment.
    pub omalizumab: Pretreatment,
    /// Weeks of omalizumab at the plan date.
    pub omalizumab_weeks: Option<u32>,
}

/// An impossible or missing patient value: which, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct PatientError {
    /// Which value.
    pub field: Field,
    /// Why it cannot be used.
    pub why: String,
}

fn bad(field: Field, why: impl Into<String>) -> PatientError {
    PatientError {
        field,
        why: why.into(),
    }
}

/// Whole years from `dob` to `on`.
pub fn age_on(dob: NaiveDate, on: NaiveDate) -> Option<u32> {
    let mut years = on.year() - dob.year();
    if (on.month(), on.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

fn lab(field: Field, text: Option<&str>) -> Result<LabValue, PatientError> {
    let text = text.ok_or_else(|| {
        bad(
            field,
            "is required (a number, or a censored value such as <0.35)",
        )
    })?;
    let v = LabValue::parse(text).ok_or_else(|| {
        bad(field, format!("{text:?} is not a laboratory value (write a number such as 52, or a censored value such as <0.35 or >100)"))
    })?;
    if v.value < Decimal::ZERO {
        return Err(bad(
            field,
            format!("{v} is negative; an IgE concentration cannot be below 0"),
        ));
    }
    // Plausibility, not policy: no laboratory reports an IgE of a million kU/L; a larger value
    // is a typing error (and would overflow the ratio's arithmetic).
    if v.value > Decimal::from(1_000_000) {
        return Err(bad(
            field,
            format!("{v} is not a plausible IgE concentration (above 1 000 000)"),
        ));
    }
    if v.censor == Censor::Below && v.value.is_zero() {
        return Err(bad(
            field,
            "<0 is impossible; an IgE concentration cannot be below 0",
        ));
    }
    Ok(v)
}

impl Patient {
    /// The weight, or an error naming the flag when the command needs it.
    pub fn require_weight(&self) -> Result<Decimal, PatientError> {
        self.weight_kg
            .ok_or_else(|| bad(Field::Weight, "the weight in kg is required"))
    }

    /// Validates raw values at the plan date `on` (used for the age from a date of birth and the
    /// weeks of omalizumab from a start date).
    pub fn from_input(input: &PatientInput, on: NaiveDate) -> Result<Patient, PatientError> {
        let age = age(input, on)?;
        let weight = weight(input.weight_kg.as_deref())?;
        let (sige, total) = labs(input)?;
        let fev1 = fev1(input.fev1_percent.as_deref())?;
        let (omalizumab, weeks) = pretreatment(input, on)?;
        Ok(Patient {
            age_years: age,
            weight_kg: weight,
            sige,
            total_ige: total,
            fev1_percent: fev1,
            beta_blocker: input.beta_blocker,
            asthma: input.asthma,
            omalizumab,
            omalizumab_weeks: weeks,
        })
    }
}

/// The age in years on `on`: given, or from the date of birth (one of them, not both).
fn age(input: &PatientInput, on: NaiveDate) -> Result<u32, PatientError> {
    let age = match (input.age, input.dob) {
        (Some(_), Some(_)) => {
            return Err(bad(
                Field::Age,
                "give the age or the date of birth, not both",
            ));
        }
        (Some(a), None) => a,
        (None, Some(dob)) => {
            if !crate::when::in_range(dob) {
                return Err(bad(
                    Field::Dob,
                    crate::when::DateError::OutOfRange {
                        value: dob.to_string(),
                    }
                    .to_string(),
                ));
            }
            if dob > on {
                return Err(bad(
                    Field::Dob,
                    format!("{dob} is after the plan date {on}"),
                ));
            }
            age_on(dob, on).ok_or_else(|| bad(Field::Dob, "cannot compute an age from it"))?
        }
        (None, None) => {
            return Err(bad(Field::Age, "the age or the date of birth is required"));
        }
    };
    // Plausibility, not clinical policy: rush immunotherapy in infants does not exist, and
    // nobody is 150. A value outside is a typing error.
    if age == 0 {
        return Err(bad(
            Field::Age,
            "0 years is not a possible age for immunotherapy (check the value, or give the date of birth)",
        ));
    }
    if age >= 130 {
        return Err(bad(
            Field::Age,
            format!("{age} years is not a possible age"),
        ));
    }
    Ok(age)
}

/// A weight in kg measured later (an omalizumab course's): the same checks as the record's.
pub fn parse_weight(text: &str) -> Result<Decimal, PatientError> {
    weight(Some(text))?.ok_or_else(|| bad(Field::Weight, "the weight in kg is required"))
}

/// The weight in kg, if given: a number above 0 and plausible in kg.
fn weight(text: Option<&str>) -> Result<Option<Decimal>, PatientError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let w = parse_decimal(text)
        .ok_or_else(|| bad(Field::Weight, format!("{text:?} is not a number of kg")))?;
    if w <= Decimal::ZERO {
        return Err(bad(
            Field::Weight,
            format!(
                "{} kg is impossible; a weight must be above 0",
                w.normalize()
            ),
        ));
    }
    if w > Decimal::from(400) {
        return Err(bad(
            Field::Weight,
            format!(
                "{} kg is not a plausible weight (is it in pounds?)",
                w.normalize()
            ),
        ));
    }
    Ok(Some(w))
}

/// Specific and total IgE: each a possible concentration, and together consistent.
fn labs(input: &PatientInput) -> Result<(LabValue, LabValue), PatientError> {
    let sige = lab(Field::Sige, input.sige.as_deref())?;
    let total = lab(Field::TotalIge, input.total_ige.as_deref())?;
    if total.value.is_zero() && total.censor != Censor::Above {
        return Err(bad(
            Field::TotalIge,
            "0 kU/L is impossible for a patient with specific IgE",
        ));
    }
    // Specific IgE is part of total IgE: it cannot be larger. Only a comparison the values
    // settle is refused (">100" against 80 is; "<0.35" against 80 is not).
    let s_low = sige.value;
    let t_high = total.value;
    let surely_above = match (sige.censor, total.censor) {
        (Censor::Exact, Censor::Exact) => s_low > t_high,
        (Censor::Above, Censor::Exact | Censor::Below) => s_low >= t_high,
        (Censor::Exact, Censor::Below) => s_low >= t_high,
        _ => false,
    };
    if surely_above {
        return Err(bad(
            Field::Sige,
            format!(
                "specific IgE {sige} kUA/L is above total IgE {total} kU/L; specific IgE is part of total IgE, so one of the values is wrong"
            ),
        ));
    }
    Ok((sige, total))
}

/// FEV1 in % predicted, if given: above 0 and at most 200.
fn fev1(text: Option<&str>) -> Result<Option<Decimal>, PatientError> {
    let Some(t) = text else {
        return Ok(None);
    };
    let v =
        parse_decimal(t).ok_or_else(|| bad(Field::Fev1, format!("{t:?} is not a percentage")))?;
    if v <= Decimal::ZERO || v > Decimal::from(200) {
        return Err(bad(
            Field::Fev1,
            format!(
                "{}% predicted is not possible (expected above 0 and at most 200)",
                v.normalize()
            ),
        ));
    }
    Ok(Some(v))
}

/// Omalizumab pretreatment: weeks given, or counted from a start date (one of them, not both),
/// with its weeks on `on`.
fn pretreatment(
    input: &PatientInput,
    on: NaiveDate,
) -> Result<(Pretreatment, Option<u32>), PatientError> {
    Ok(match (input.omalizumab_weeks, input.omalizumab_since) {
        (Some(_), Some(_)) => {
            return Err(bad(
                Field::OmalizumabWeeks,
                "give the weeks or the start date of omalizumab, not both",
            ));
        }
        (Some(w), None) => (Pretreatment::Weeks(w), Some(w)),
        (None, Some(since)) => {
            if since > on {
                return Err(bad(
                    Field::OmalizumabSince,
                    format!("{since} is after the plan date {on}"),
                ));
            }
            let weeks = u32::try_from((on - since).num_days() / 7).unwrap_or(0);
            (Pretreatment::Since(since), Some(weeks))
        }
        (None, None) => (Pretreatment::None, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn input() -> PatientInput {
        PatientInput {
            age: Some(9),
            weight_kg: Some("31".into()),
            sige: Some("52".into()),
            total_ige: Some("410".into()),
            ..PatientInput::default()
        }
    }

    fn refuse(f: impl FnOnce(&mut PatientInput)) -> PatientError {
        let mut i = input();
        f(&mut i);
        Patient::from_input(&i, date("2026-12-07")).expect_err("must be refused")
    }

    #[test]
    fn censored_values_parse() {
        assert_eq!(
            LabValue::parse("<0.35"),
            Some(LabValue {
                value: parse_decimal("0.35").unwrap(),
                censor: Censor::Below
            })
        );
        assert_eq!(
            LabValue::parse(">100").map(|v| v.censor),
            Some(Censor::Above)
        );
        assert_eq!(
            LabValue::parse("≥100").map(|v| v.censor),
            Some(Censor::Above)
        );
        assert_eq!(
            LabValue::parse(" 52 ").map(|v| v.censor),
            Some(Censor::Exact)
        );
        assert_eq!(LabValue::parse("lots"), None);
        assert_eq!(LabValue::parse(">100").unwrap().to_string(), ">100");
    }

    #[test]
    fn impossible_values_name_the_value_and_why() {
        assert_eq!(
            refuse(|i| i.total_ige = Some("-5".into())).field,
            Field::TotalIge
        );
        assert_eq!(refuse(|i| i.sige = Some("-1".into())).field, Field::Sige);
        let e = refuse(|i| i.sige = Some("500".into()));
        assert_eq!(e.field, Field::Sige);
        assert!(e.why.contains("above total IgE"), "{e}");
        assert_eq!(refuse(|i| i.sige = Some(">410".into())).field, Field::Sige);
        assert_eq!(refuse(|i| i.age = Some(0)).field, Field::Age);
        assert_eq!(refuse(|i| i.age = Some(150)).field, Field::Age);
        assert_eq!(
            refuse(|i| i.weight_kg = Some("0".into())).field,
            Field::Weight
        );
        assert_eq!(
            refuse(|i| i.weight_kg = Some("-3".into())).field,
            Field::Weight
        );
        assert_eq!(
            refuse(|i| i.fev1_percent = Some("0".into())).field,
            Field::Fev1
        );
        assert_eq!(
            refuse(|i| i.dob = Some(date("2017-01-01"))).field,
            Field::Age
        );
        assert_eq!(
            refuse(|i| i.omalizumab_since = Some(date("2027-01-01"))).field,
            Field::OmalizumabSince
        );
    }

    #[test]
    fn censored_sige_below_total_is_accepted() {
        let mut i = input();
        i.sige = Some("<0.35".into());
        assert!(Patient::from_input(&i, date("2026-12-07")).is_ok());
        i.sige = Some(">100".into());
        assert!(Patient::from_input(&i, date("2026-12-07")).is_ok());
    }

    #[test]
    fn age_from_date_of_birth_at_the_plan_date() {
        let mut i = input();
        i.age = None;
        i.dob = Some(date("2017-12-08"));
        assert_eq!(
            Patient::from_input(&i, date("2026-12-07"))
                .unwrap()
                .age_years,
            8
        );
        assert_eq!(
            Patient::from_input(&i, date("2026-12-08"))
                .unwrap()
                .age_years,
            9
        );
    }

    #[test]
    fn omalizumab_weeks_from_a_start_date() {
        let mut i = input();
        i.omalizumab_since = Some(date("2026-10-12"));
        let p = Patient::from_input(&i, date("2026-12-07")).unwrap();
        assert_eq!(p.omalizumab_weeks, Some(8));
    }
}
