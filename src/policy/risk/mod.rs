//! The risk rules (`rules/risk.toml`): sIgE classes, ratio thresholds, the paediatric age
//! cut-off, the strata, contraindications, the pretreatment that counts, and the planner's
//! adjustments by stratum × pretreatment × age group.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Provenance, Ruled};

/// A comparison written in the rules (`op = ">="`).
mod read;

pub(super) use read::read;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    /// Whether `x op threshold` holds.
    pub fn holds(self, x: Decimal, threshold: Decimal) -> bool {
        match self {
            Op::Lt => x < threshold,
            Op::Le => x <= threshold,
            Op::Gt => x > threshold,
            Op::Ge => x >= threshold,
        }
    }

    /// The symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "≤",
            Op::Gt => ">",
            Op::Ge => "≥",
        }
    }
}

impl FromStr for Op {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "<" => Op::Lt,
            "<=" | "≤" => Op::Le,
            ">" => Op::Gt,
            ">=" | "≥" => Op::Ge,
            _ => return Err(()),
        })
    }
}

/// A threshold on the sIgE/total-IgE ratio, in percent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RatioRule {
    /// The comparison.
    pub op: Op,
    /// The threshold, percent.
    pub percent: Decimal,
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// The ImmunoCAP class boundaries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SigeClasses {
    /// Ascending lower bounds of classes 1, 2, ... (kUA/L).
    pub boundaries: Vec<Decimal>,
    /// How a value on a boundary is classed, in words.
    pub convention: String,
    /// The warning when the sIgE may be class 0.
    pub class_0_warning: String,
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl SigeClasses {
    /// The class of an exact value: the number of boundaries at or below it (half-open).
    pub fn class_of(&self, kua_l: Decimal) -> u8 {
        u8::try_from(self.boundaries.iter().filter(|b| **b <= kua_l).count()).unwrap_or(u8::MAX)
    }

    /// The highest class.
    pub fn max_class(&self) -> u8 {
        u8::try_from(self.boundaries.len()).unwrap_or(u8::MAX)
    }
}

/// The age groups the study compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeGroup {
    /// Children and teenagers.
    Paediatric,
    /// Adults.
    Adult,
}

impl AgeGroup {
    /// The word in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            AgeGroup::Paediatric => "paediatric",
            AgeGroup::Adult => "adult",
        }
    }
}

impl fmt::Display for AgeGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgeGroup {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "paediatric" | "pediatric" => Ok(AgeGroup::Paediatric),
            "adult" => Ok(AgeGroup::Adult),
            _ => Err(()),
        }
    }
}

/// Asthma control (GINA-style).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AsthmaControl {
    /// Well controlled.
    Controlled,
    /// Partly controlled.
    Partly,
    /// Uncontrolled.
    Uncontrolled,
}

impl AsthmaControl {
    /// The word on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            AsthmaControl::Controlled => "controlled",
            AsthmaControl::Partly => "partly",
            AsthmaControl::Uncontrolled => "uncontrolled",
        }
    }
}

impl FromStr for AsthmaControl {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "controlled" => Ok(AsthmaControl::Controlled),
            "partly" | "partly-controlled" | "partly_controlled" => Ok(AsthmaControl::Partly),
            "uncontrolled" => Ok(AsthmaControl::Uncontrolled),
            _ => Err(()),
        }
    }
}

/// Which ratio condition a stratum requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioCondition {
    /// The high-risk ratio rule holds.
    High,
    /// The high-risk ratio rule does not hold.
    NotHigh,
}

/// One stratum of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StratumRule {
    /// Its name (`high`, `low`).
    pub id: String,
    /// Higher is more cautious.
    pub caution: u32,
    /// The sIgE classes, inclusive.
    pub sige_classes: (u8, u8),
    /// The ratio condition.
    pub ratio: RatioCondition,
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// The stratum for everything the table does not describe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DefaultStratum {
    /// Its name.
    pub id: String,
    /// Higher is more cautious.
    pub caution: u32,
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A condition that blocks a rush plan (or warns).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Contraindication {
    /// Stable id.
    pub id: String,
    /// Applies when FEV1 % predicted is below this.
    pub fev1_below_percent: Option<Decimal>,
    /// Applies only to this age group.
    pub age_group: Option<AgeGroup>,
    /// Applies when the patient takes a beta-blocker.
    pub beta_blocker: bool,
    /// Applies at this asthma control.
    pub asthma: Option<AsthmaControl>,
    /// Refuses the plan (true) or warns (false).
    pub block: bool,
    /// The sentence.
    pub reason: String,
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// One planner operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// At least `min` minutes of observation after every up-dosing injection.
    Observation {
        /// Minutes.
        min: u32,
    },
    /// At least `min` minutes between same-day injections.
    MinInterval {
        /// Minutes.
        min: u32,
    },
    /// Split any step rising more than `max_factor` × into steps on the same vial.
    SplitIncrements {
        /// The largest factor allowed between consecutive doses.
        max_factor: Decimal,
    },
    /// At most `max` injections a day.
    CapPerDay {
        /// Injections.
        max: u32,
    },
    /// Use another template.
    SwitchTemplate {
        /// Its id.
        template: String,
    },
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Observation { min } => {
                write!(f, "observe at least {min} min after every injection")
            }
            Operation::MinInterval { min } => {
                write!(f, "at least {min} min between same-day injections")
            }
            Operation::SplitIncrements { max_factor } => {
                write!(
                    f,
                    "split increments above {}× into smaller steps on the same vial",
                    max_factor.normalize()
                )
            }
            Operation::CapPerDay { max } => write!(f, "at most {max} injections a day"),
            Operation::SwitchTemplate { template } => write!(f, "use the template {template}"),
        }
    }
}

/// Whether a plan is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Make a plan.
    Plan,
    /// No rush plan unless the physician accepts the risk.
    Refuse,
}

/// One row of the adjustment table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdjustmentRule {
    /// Stratum id, `None` for any.
    pub stratum: Option<String>,
    /// Sufficient pretreatment, `None` for any.
    pub pretreated: Option<bool>,
    /// Age group, `None` for any.
    pub age_group: Option<AgeGroup>,
    /// Plan or refuse.
    pub decision: Decision,
    /// The sentence shown with the plan.
    pub note: String,
    /// What the planner does.
    pub operations: Vec<Operation>,
    /// What it does when the physician accepts a refused risk.
    pub accepted_risk_operations: Vec<Operation>,
    /// Provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl AdjustmentRule {
    /// Whether the row applies.
    pub fn matches(&self, stratum: &str, pretreated: bool, age_group: AgeGroup) -> bool {
        self.stratum.as_deref().is_none_or(|s| s == stratum)
            && self.pretreated.is_none_or(|p| p == pretreated)
            && self.age_group.is_none_or(|a| a == age_group)
    }
}

/// All risk rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskRules {
    /// sIgE classes.
    pub sige_classes: SigeClasses,
    /// The high-risk ratio threshold.
    pub ratio_high_risk: RatioRule,
    /// The favourable-response ratio threshold.
    pub ratio_favourable_response: RatioRule,
    /// Under this age, paediatric.
    pub paediatric_below_years: Ruled<u32>,
    /// Omalizumab weeks that count as pretreatment.
    pub min_omalizumab_weeks: Ruled<u32>,
    /// Strata, in order.
    pub strata: Vec<StratumRule>,
    /// The stratum for the rest.
    pub default_stratum: DefaultStratum,
    /// Contraindications.
    pub contraindications: Vec<Contraindication>,
    /// Adjustments, first match wins.
    pub adjustments: Vec<AdjustmentRule>,
}

impl RiskRules {
    /// The age group of an age.
    pub fn age_group(&self, age_years: u32) -> AgeGroup {
        if age_years < self.paediatric_below_years.value {
            AgeGroup::Paediatric
        } else {
            AgeGroup::Adult
        }
    }

    /// The first adjustment row that applies.
    pub fn adjustment(
        &self,
        stratum: &str,
        pretreated: bool,
        age_group: AgeGroup,
    ) -> Option<&AdjustmentRule> {
        self.adjustments
            .iter()
            .find(|a| a.matches(stratum, pretreated, age_group))
    }
}
