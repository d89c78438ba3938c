//! The risk rules (`rules/risk.toml`): sIgE classes, ratio thresholds, the paediatric age
//! cut-off, the strata, contraindications, the pretreatment that counts, and the planner's
//! adjustments by stratum × pretreatment × age group.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Provenance, Ruled, read_provenance};
use crate::diag::Diagnostic;
use crate::tomlread::{Diags, Table};

/// A comparison written in the rules (`op = ">="`).
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

const PROV: [&str; 4] = ["source", "evidence", "certainty", "note"];

fn keys<'a>(own: &[&'a str]) -> Vec<&'a str> {
    let mut k = own.to_vec();
    k.extend(PROV);
    k
}

fn ratio_rule(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<RatioRule> {
    let t = doc.sub_table(diags, key, true)?;
    t.only_keys(diags, &keys(&["op", "percent"]));
    let op = t.parsed::<Op>(diags, "op", true, "unknown-op", "<, <=, >, >=");
    let percent = t.decimal(diags, "percent", true);
    let provenance = read_provenance(&t, diags);
    Some(RatioRule {
        op: op?.value,
        percent: percent?.value,
        provenance: provenance?,
    })
}

fn ruled_count(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<Ruled<u32>> {
    let t = doc.sub_table(diags, key, true)?;
    t.only_keys(diags, &keys(&["value"]));
    let value = t.count(diags, "value", true);
    let provenance = read_provenance(&t, diags);
    Some(Ruled {
        value: value?.value,
        provenance: provenance?,
    })
}

fn operations(t: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<Vec<Operation>> {
    let mut out = Vec::new();
    for o in t.tables(diags, key) {
        let op = o.string(diags, "op", true)?;
        let parsed = match op.value.as_str() {
            "observation" => {
                o.only_keys(diags, &["op", "min"]);
                o.count(diags, "min", true)
                    .map(|m| Operation::Observation { min: m.value })
            }
            "min_interval" => {
                o.only_keys(diags, &["op", "min"]);
                o.count(diags, "min", true)
                    .map(|m| Operation::MinInterval { min: m.value })
            }
            "split_increments" => {
                o.only_keys(diags, &["op", "max_factor"]);
                match o.decimal(diags, "max_factor", true) {
                    Some(f) if f.value <= Decimal::ONE => {
                        diags.push(Diagnostic::error(
                            "out-of-range",
                            f.at(),
                            "`max_factor` must be above 1",
                        ));
                        None
                    }
                    f => f.map(|f| Operation::SplitIncrements {
                        max_factor: f.value,
                    }),
                }
            }
            "cap_per_day" => {
                o.only_keys(diags, &["op", "max"]);
                match o.count(diags, "max", true) {
                    Some(m) if m.value == 0 => {
                        diags.push(Diagnostic::error(
                            "out-of-range",
                            m.at(),
                            "`max` must be at least 1",
                        ));
                        None
                    }
                    m => m.map(|m| Operation::CapPerDay { max: m.value }),
                }
            }
            "switch_template" => {
                o.only_keys(diags, &["op", "template"]);
                o.string(diags, "template", true)
                    .map(|t| Operation::SwitchTemplate { template: t.value })
            }
            other => {
                diags.push(
                    Diagnostic::error("unknown-operation", op.at(), format!("unknown planner operation {other:?}"))
                        .with_help("use observation, min_interval, split_increments, cap_per_day or switch_template"),
                );
                None
            }
        };
        out.push(parsed?);
    }
    Some(out)
}

/// Reads a `kind = "risk"` file, checking that the adjustment table covers every case.
pub(super) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<RiskRules> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "note",
            "sige_classes",
            "ratio_high_risk",
            "ratio_favourable_response",
            "paediatric_below_years",
            "min_omalizumab_weeks",
            "stratum",
            "default_stratum",
            "contraindication",
            "adjustment",
        ],
    );
    let classes = doc.sub_table(diags, "sige_classes", true).and_then(|t| {
        t.only_keys(
            diags,
            &keys(&["boundaries_kua_l", "convention", "class_0_warning"]),
        );
        let b = t.decimals(diags, "boundaries_kua_l", true);
        let convention = t.string(diags, "convention", true);
        let class_0_warning = t.string(diags, "class_0_warning", true);
        let provenance = read_provenance(&t, diags);
        let b: Vec<Decimal> = b?.into_iter().map(|x| x.value).collect();
        if b.is_empty() || b.windows(2).any(|w| w[0] >= w[1]) || b[0] <= Decimal::ZERO {
            diags.push(Diagnostic::error(
                "bad-boundaries",
                t.at(),
                "class boundaries must be positive and strictly ascending",
            ));
            return None;
        }
        Some(SigeClasses {
            boundaries: b,
            convention: convention?.value,
            class_0_warning: class_0_warning?.value,
            provenance: provenance?,
        })
    });
    let ratio_high = ratio_rule(doc, diags, "ratio_high_risk");
    let ratio_fav = ratio_rule(doc, diags, "ratio_favourable_response");
    let paediatric = ruled_count(doc, diags, "paediatric_below_years");
    let min_weeks = ruled_count(doc, diags, "min_omalizumab_weeks");

    let mut strata = Vec::new();
    for t in doc.tables(diags, "stratum") {
        t.only_keys(diags, &keys(&["id", "caution", "sige_classes", "ratio"]));
        let id = t.string(diags, "id", true);
        let caution = t.count(diags, "caution", true);
        let cls = t.counts(diags, "sige_classes");
        let ratio = t
            .string(diags, "ratio", true)
            .and_then(|r| match r.value.as_str() {
                "high" => Some(RatioCondition::High),
                "not_high" => Some(RatioCondition::NotHigh),
                _ => {
                    diags.push(Diagnostic::error(
                        "unknown-ratio",
                        r.at(),
                        "`ratio` must be \"high\" or \"not_high\"",
                    ));
                    None
                }
            });
        let provenance = read_provenance(&t, diags);
        let cls = match cls.as_deref() {
            Some([a, b]) if a.value <= b.value && b.value <= 255 => {
                Some((a.value as u8, b.value as u8))
            }
            _ => {
                diags.push(Diagnostic::error(
                    "bad-classes",
                    t.at(),
                    format!("{} needs `sige_classes = [from, to]`", t.what),
                ));
                None
            }
        };
        if let (Some(id), Some(caution), Some(cls), Some(ratio), Some(provenance)) =
            (id, caution, cls, ratio, provenance)
        {
            strata.push(StratumRule {
                id: id.value,
                caution: caution.value,
                sige_classes: cls,
                ratio,
                provenance,
            });
        }
    }
    let default_stratum = doc.sub_table(diags, "default_stratum", true).and_then(|t| {
        t.only_keys(diags, &keys(&["id", "caution"]));
        let id = t.string(diags, "id", true);
        let caution = t.count(diags, "caution", true);
        let provenance = read_provenance(&t, diags);
        Some(DefaultStratum {
            id: id?.value,
            caution: caution?.value,
            provenance: provenance?,
        })
    });

    let mut contraindications = Vec::new();
    for t in doc.tables(diags, "contraindication") {
        t.only_keys(
            diags,
            &keys(&[
                "id",
                "fev1_below_percent",
                "age_group",
                "beta_blocker",
                "asthma",
                "block",
                "reason",
            ]),
        );
        let id = t.string(diags, "id", true);
        let fev1 = t.decimal(diags, "fev1_below_percent", false);
        let age = t.parsed::<AgeGroup>(
            diags,
            "age_group",
            false,
            "unknown-age-group",
            "paediatric, adult",
        );
        let bb = t.boolean(diags, "beta_blocker");
        let asthma = t.parsed::<AsthmaControl>(
            diags,
            "asthma",
            false,
            "unknown-asthma",
            "controlled, partly, uncontrolled",
        );
        let block = t.boolean(diags, "block");
        let reason = t.string(diags, "reason", true);
        let provenance = read_provenance(&t, diags);
        if fev1.is_none() && bb.is_none() && asthma.is_none() {
            diags.push(Diagnostic::error(
                "empty-condition",
                t.at(),
                format!(
                    "{} has no condition (fev1_below_percent, beta_blocker or asthma)",
                    t.what
                ),
            ));
            continue;
        }
        if block.is_none() {
            diags.push(Diagnostic::error(
                "missing-field",
                t.at(),
                format!("{} is missing `block` (true or false)", t.what),
            ));
        }
        if let (Some(id), Some(block), Some(reason), Some(provenance)) =
            (id, block, reason, provenance)
        {
            contraindications.push(Contraindication {
                id: id.value,
                fev1_below_percent: fev1.map(|f| f.value),
                age_group: age.map(|a| a.value),
                beta_blocker: bb.is_some_and(|b| b.value),
                asthma: asthma.map(|a| a.value),
                block: block.value,
                reason: reason.value,
                provenance,
            });
        }
    }

    let mut adjustments = Vec::new();
    for t in doc.tables(diags, "adjustment") {
        t.only_keys(
            diags,
            &keys(&[
                "stratum",
                "pretreated",
                "age_group",
                "decision",
                "operations",
                "accepted_risk_operations",
            ]),
        );
        let stratum = t.string(diags, "stratum", true);
        let pretreated = t.bool_or_any(diags, "pretreated");
        let age = t.string(diags, "age_group", true).and_then(|a| {
            if a.value == "*" {
                return Some(None);
            }
            match a.value.parse::<AgeGroup>() {
                Ok(g) => Some(Some(g)),
                Err(()) => {
                    diags.push(Diagnostic::error(
                        "unknown-age-group",
                        a.at(),
                        "`age_group` must be paediatric, adult or \"*\"",
                    ));
                    None
                }
            }
        });
        let decision = t
            .string(diags, "decision", true)
            .and_then(|d| match d.value.as_str() {
                "plan" => Some(Decision::Plan),
                "refuse" => Some(Decision::Refuse),
                _ => {
                    diags.push(Diagnostic::error(
                        "unknown-decision",
                        d.at(),
                        "`decision` must be \"plan\" or \"refuse\"",
                    ));
                    None
                }
            });
        let note = t.string(diags, "note", true);
        let ops = operations(&t, diags, "operations");
        let accepted = operations(&t, diags, "accepted_risk_operations");
        let provenance = read_provenance(&t, diags);
        if let (Some(s), Some(p), Some(a), Some(d), Some(n), Some(ops), Some(acc), Some(prov)) = (
            stratum, pretreated, age, decision, note, ops, accepted, provenance,
        ) {
            adjustments.push(AdjustmentRule {
                stratum: (s.value != "*").then_some(s.value),
                pretreated: p.value,
                age_group: a,
                decision: d,
                note: n.value,
                operations: ops,
                accepted_risk_operations: acc,
                provenance: prov,
            });
        }
    }

    let rules = RiskRules {
        sige_classes: classes?,
        ratio_high_risk: ratio_high?,
        ratio_favourable_response: ratio_fav?,
        paediatric_below_years: paediatric?,
        min_omalizumab_weeks: min_weeks?,
        strata,
        default_stratum: default_stratum?,
        contraindications,
        adjustments,
    };
    // Fail closed: every stratum × pretreatment × age group must have an adjustment row, and
    // every row must name a stratum that exists.
    let mut ids: Vec<&str> = rules.strata.iter().map(|s| s.id.as_str()).collect();
    ids.push(&rules.default_stratum.id);
    for a in &rules.adjustments {
        if let Some(s) = &a.stratum
            && !ids.contains(&s.as_str())
        {
            diags.push(Diagnostic::error(
                "unknown-stratum",
                None,
                format!("an adjustment names stratum {s:?}, which is not defined"),
            ));
        }
    }
    for s in &ids {
        for p in [false, true] {
            for g in [AgeGroup::Paediatric, AgeGroup::Adult] {
                if rules.adjustment(s, p, g).is_none() {
                    diags.push(Diagnostic::error(
                        "uncovered-case",
                        None,
                        format!("no adjustment row covers stratum {s:?}, pretreated = {p}, age group {g}"),
                    ));
                }
            }
        }
    }
    Some(rules)
}
