//! Patient → risk stratum, with every reason that put the patient there, each citing its rule.
//!
//! Censored laboratory values (`<0.35`, `>100`) give ranges, not numbers: a class range and a
//! ratio bound. A rule the range cannot settle is *undecided*, and an undecided stratum match
//! resolves to the most cautious stratum still possible (fail closed).

use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::patient::{Censor, Patient};
use crate::policy::risk::{AgeGroup, Op, RatioCondition, RatioRule, RiskRules};
use crate::policy::{Certainty, Evidence, Provenance};

/// The sIgE class, or the range of classes a censored value allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassRange {
    /// Lowest possible class.
    pub min: u8,
    /// Highest possible class.
    pub max: u8,
}

impl Serialize for ClassRange {
    /// A number for one class (`5`), a string for a range (`"0-1"`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.min == self.max {
            s.serialize_u8(self.min)
        } else {
            s.serialize_str(&format!("{}-{}", self.min, self.max))
        }
    }
}

impl fmt::Display for ClassRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}–{}", self.min, self.max)
        }
    }
}

/// The sIgE/total-IgE ratio in percent: exact, a bound, or unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ratio {
    /// Exactly this.
    Exact(Decimal),
    /// Below this.
    Below(Decimal),
    /// Above this.
    Above(Decimal),
    /// The censoring leaves it open.
    Unknown,
}

impl Ratio {
    /// The ratio of two lab values, in percent.
    pub fn of(patient: &Patient) -> Ratio {
        let (s, t) = (patient.sige, patient.total_ige);
        if t.value.is_zero() {
            return Ratio::Unknown;
        }
        let Some(pct) = s
            .value
            .checked_div(t.value)
            .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
        else {
            return Ratio::Unknown;
        };
        match (s.censor, t.censor) {
            (Censor::Exact, Censor::Exact) => Ratio::Exact(pct),
            (Censor::Below, Censor::Exact | Censor::Above) | (Censor::Exact, Censor::Above) => {
                Ratio::Below(pct)
            }
            (Censor::Above, Censor::Exact | Censor::Below) | (Censor::Exact, Censor::Below) => {
                Ratio::Above(pct)
            }
            _ => Ratio::Unknown,
        }
    }

    /// Whether `ratio op threshold` holds: `None` when the bound cannot settle it.
    pub fn compare(self, op: Op, threshold: Decimal) -> Option<bool> {
        match self {
            Ratio::Exact(r) => Some(op.holds(r, threshold)),
            // Every value is below r.
            Ratio::Below(r) if r <= threshold => Some(matches!(op, Op::Lt | Op::Le)),
            // Every value is above r.
            Ratio::Above(r) if r >= threshold => Some(matches!(op, Op::Gt | Op::Ge)),
            _ => None,
        }
    }

    /// The percentage shown, rounded to one decimal, with its bound.
    pub fn display(self) -> String {
        match self {
            Ratio::Exact(r) => format!("{} %", r.round_dp(1).normalize()),
            Ratio::Below(r) => format!("< {} %", r.round_dp(1).normalize()),
            Ratio::Above(r) => format!("> {} %", r.round_dp(1).normalize()),
            Ratio::Unknown => "unknown (both values censored)".into(),
        }
    }
}

impl Serialize for Ratio {
    /// A number when exact (2 decimals), else a string with its bound (`"<8.5"`), or null.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ratio::Exact(r) => {
                rust_decimal::serde::arbitrary_precision::serialize(&r.round_dp(2).normalize(), s)
            }
            Ratio::Below(r) => s.serialize_str(&format!("<{}", r.round_dp(2).normalize())),
            Ratio::Above(r) => s.serialize_str(&format!(">{}", r.round_dp(2).normalize())),
            Ratio::Unknown => s.serialize_none(),
        }
    }
}

/// One reason for the assessment, with the rule it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The sentence.
    pub text: String,
    /// The rule's source.
    pub source: String,
    /// Its evidence.
    pub evidence: Evidence,
    /// Its certainty.
    pub certainty: Certainty,
}

impl Reason {
    fn new(text: impl Into<String>, p: &Provenance) -> Self {
        Reason {
            text: text.into(),
            source: p.source.clone(),
            evidence: p.evidence,
            certainty: p.certainty,
        }
    }
}

/// A contraindication that applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id.
    pub id: String,
    /// Whether it blocks a rush plan.
    pub blocks: bool,
    /// The reason, citing the rule.
    pub reason: Reason,
}

/// The outcome of [`assess`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The stratum's id (`low`, `intermediate`, `high`).
    pub stratum: String,
    /// sIgE class (range when censored).
    pub sige_class: ClassRange,
    /// The ratio, percent.
    pub ratio_percent: Ratio,
    /// Age group.
    pub age_group: AgeGroup,
    /// Age in years.
    pub age_years: u32,
    /// Whether a favourable response is predicted (`None`: the ratio cannot tell).
    pub favourable_response: Option<bool>,
    /// Whether the omalizumab pretreatment counts as sufficient.
    pub pretreated: bool,
    /// Weeks of omalizumab so far.
    pub omalizumab_weeks: Option<u32>,
    /// Every reason, in order.
    pub reasons: Vec<Reason>,
    /// Contraindications that apply (blocking or warning).
    pub contraindications: Vec<Finding>,
    /// What could not be checked.
    pub warnings: Vec<String>,
}

impl Assessment {
    /// `none`, `10 weeks (sufficient)`, `3 weeks (not yet sufficient)`.
    pub fn omalizumab_status(&self) -> String {
        match self.omalizumab_weeks {
            None => "none".to_string(),
            Some(w) if self.pretreated => format!("{w} weeks (sufficient)"),
            Some(w) => format!("{w} weeks (not yet sufficient)"),
        }
    }

    /// Whether any contraindication blocks a rush plan.
    pub fn blocked(&self) -> bool {
        self.contraindications.iter().any(|c| c.blocks)
    }
}

fn all_of(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn rule_text(r: &RatioRule) -> String {
    format!("{} {} %", r.op.as_str(), r.percent.normalize())
}

/// Places a patient in a stratum. Pure: the same patient and rules give the same assessment.
pub fn assess(patient: &Patient, rules: &RiskRules) -> Assessment {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();

    let class = sige_class(patient, rules, &mut reasons, &mut warnings);
    let (ratio, ratio_high) = ratio_side(patient, rules, &mut reasons);

    // Age group.
    let age_group = rules.age_group(patient.age_years);
    reasons.push(Reason::new(
        format!(
            "Age {} years: {} (paediatric below {}).",
            patient.age_years, age_group, rules.paediatric_below_years.value
        ),
        &rules.paediatric_below_years.provenance,
    ));

    let stratum = stratum(rules, class, ratio_high, &mut reasons);
    let favourable = favourable(rules, ratio, &mut reasons);
    let pretreated = pretreatment(patient, rules, &mut reasons);
    let findings = contraindications(patient, rules, age_group, &mut warnings);

    Assessment {
        stratum,
        sige_class: class,
        ratio_percent: ratio,
        age_group,
        age_years: patient.age_years,
        favourable_response: favourable,
        pretreated,
        omalizumab_weeks: patient.omalizumab_weeks,
        reasons,
        contraindications: findings,
        warnings,
    }
}

/// The sIgE class (a range for a censored value), with its reason and the class 0 warning.
fn sige_class(
    patient: &Patient,
    rules: &RiskRules,
    reasons: &mut Vec<Reason>,
    warnings: &mut Vec<String>,
) -> ClassRange {
    let classes = &rules.sige_classes;
    // sIgE class (range).
    let s = patient.sige;
    let below = |v: Decimal| {
        u8::try_from(classes.boundaries.iter().filter(|b| **b < v).count()).unwrap_or(u8::MAX)
    };
    let class = match s.censor {
        Censor::Exact => {
            let c = classes.class_of(s.value);
            ClassRange { min: c, max: c }
        }
        Censor::Below => ClassRange {
            min: 0,
            max: below(s.value),
        },
        Censor::Above => ClassRange {
            min: classes.class_of(s.value),
            max: classes.max_class(),
        },
    };
    reasons.push(Reason::new(
        format!(
            "Mite sIgE {s} kUA/L is ImmunoCAP class {class} ({}).",
            classes.convention
        ),
        &classes.provenance,
    ));
    if class.min == 0 {
        warnings.push(format!("sIgE class {class}: {}.", classes.class_0_warning));
    }

    class
}

/// The sIgE/total IgE ratio, and whether it is on the high-risk side (`None`: undecided).
fn ratio_side(
    patient: &Patient,
    rules: &RiskRules,
    reasons: &mut Vec<Reason>,
) -> (Ratio, Option<bool>) {
    let s = patient.sige;
    // Ratio.
    let ratio = Ratio::of(patient);
    let high = &rules.ratio_high_risk;
    let ratio_high = ratio.compare(high.op, high.percent);
    let side = match ratio_high {
        Some(true) => format!("{}: the high-risk side", rule_text(high)),
        Some(false) => format!("not {}: the low-risk side", rule_text(high)),
        None => format!(
            "could be on either side of {}: undecided, so the more cautious stratum is taken",
            rule_text(high)
        ),
    };
    reasons.push(Reason::new(
        format!(
            "sIgE/total IgE ratio {} ({s} / {} × 100) is {side}.",
            ratio.display(),
            patient.total_ige
        ),
        &high.provenance,
    ));

    (ratio, ratio_high)
}

/// The stratum: the first sure match, unless an undecided one could be more cautious.
fn stratum(
    rules: &RiskRules,
    class: ClassRange,
    ratio_high: Option<bool>,
    reasons: &mut Vec<Reason>,
) -> String {
    let high = &rules.ratio_high_risk;
    // Stratum: the first sure match, unless an undecided one could be more cautious.
    let matches: Vec<(usize, Option<bool>)> = rules
        .strata
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let in_classes = if class.min >= st.sige_classes.0 && class.max <= st.sige_classes.1 {
                Some(true)
            } else if class.max < st.sige_classes.0 || class.min > st.sige_classes.1 {
                Some(false)
            } else {
                None
            };
            let ratio_ok = match st.ratio {
                RatioCondition::High => ratio_high,
                RatioCondition::NotHigh => ratio_high.map(|h| !h),
            };
            (i, all_of(in_classes, ratio_ok))
        })
        .collect();
    let sure = matches
        .iter()
        .find(|(_, m)| *m == Some(true))
        .map(|(i, _)| *i);
    let mut candidates: Vec<(u32, String, &Provenance, bool)> = matches
        .iter()
        .filter(|(_, m)| *m != Some(false))
        .map(|(i, m)| {
            let st = &rules.strata[*i];
            (st.caution, st.id.clone(), &st.provenance, m.is_none())
        })
        .collect();
    if sure.is_none() {
        let d = &rules.default_stratum;
        candidates.push((
            d.caution,
            d.id.clone(),
            &d.provenance,
            matches.iter().any(|(_, m)| m.is_none()),
        ));
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let (stratum, provenance, undecided) = candidates
        .first()
        .map(|(_, id, p, u)| (id.clone(), (*p).clone(), *u || candidates.len() > 1))
        .unwrap_or_else(|| {
            (
                rules.default_stratum.id.clone(),
                rules.default_stratum.provenance.clone(),
                true,
            )
        });
    let how = match rules.strata.iter().find(|st| st.id == stratum) {
        Some(st) => format!(
            "sIgE class {}–{} and ratio {}",
            st.sige_classes.0,
            st.sige_classes.1,
            match st.ratio {
                RatioCondition::High => rule_text(high),
                RatioCondition::NotHigh => format!("not {}", rule_text(high)),
            }
        ),
        None => "a combination the index study does not describe".into(),
    };
    let caveat = if undecided && candidates.len() > 1 {
        " (a censored value left the stratum open; the most cautious possible stratum is taken)"
    } else {
        ""
    };
    reasons.push(Reason::new(
        format!("Stratum {stratum}: {how}{caveat}."),
        &provenance,
    ));

    stratum
}

/// Whether the ratio predicts a favourable response (`None`: cannot tell).
fn favourable(rules: &RiskRules, ratio: Ratio, reasons: &mut Vec<Reason>) -> Option<bool> {
    // Favourable response.
    let fav = &rules.ratio_favourable_response;
    let favourable = ratio.compare(fav.op, fav.percent);
    let fav_text = match favourable {
        Some(true) => format!(
            "Ratio {} is {}: a favourable response is predicted.",
            ratio.display(),
            rule_text(fav)
        ),
        Some(false) => format!(
            "Ratio {} is not {}: a favourable response is not predicted.",
            ratio.display(),
            rule_text(fav)
        ),
        None => format!(
            "Ratio {} cannot tell whether it is {}: no response prediction.",
            ratio.display(),
            rule_text(fav)
        ),
    };
    reasons.push(Reason::new(fav_text, &fav.provenance));

    favourable
}

/// Whether the omalizumab pretreatment is sufficient.
fn pretreatment(patient: &Patient, rules: &RiskRules, reasons: &mut Vec<Reason>) -> bool {
    // Omalizumab pretreatment.
    let min_weeks = &rules.min_omalizumab_weeks;
    let pretreated = patient
        .omalizumab_weeks
        .is_some_and(|w| w >= min_weeks.value);
    let om = match patient.omalizumab_weeks {
        None => format!(
            "No omalizumab pretreatment (sufficient pretreatment is {} weeks or more).",
            min_weeks.value
        ),
        Some(w) if pretreated => format!(
            "Omalizumab for {w} weeks: sufficient ({} weeks or more).",
            min_weeks.value
        ),
        Some(w) => format!(
            "Omalizumab for {w} weeks: not yet sufficient ({} weeks or more).",
            min_weeks.value
        ),
    };
    reasons.push(Reason::new(om, &min_weeks.provenance));

    pretreated
}

/// The contraindications that apply, and warnings for those that could not be checked.
fn contraindications(
    patient: &Patient,
    rules: &RiskRules,
    age_group: AgeGroup,
    warnings: &mut Vec<String>,
) -> Vec<Finding> {
    // Contraindications.
    let mut findings = Vec::new();
    for c in &rules.contraindications {
        if c.age_group.is_some_and(|g| g != age_group) {
            continue;
        }
        let fev1 = match (c.fev1_below_percent, patient.fev1_percent) {
            (None, _) => Some(true),
            (Some(limit), Some(v)) => Some(v < limit),
            (Some(_), None) => None,
        };
        let bb = !c.beta_blocker || patient.beta_blocker;
        let asthma = c.asthma.is_none_or(|a| patient.asthma == Some(a));
        match fev1 {
            Some(true) if bb && asthma => {
                let measured = match (c.fev1_below_percent, patient.fev1_percent) {
                    (Some(_), Some(v)) => format!(" (FEV1 {} % predicted)", v.normalize()),
                    _ => String::new(),
                };
                findings.push(Finding {
                    id: c.id.clone(),
                    blocks: c.block,
                    reason: Reason::new(format!("{}{measured}.", c.reason), &c.provenance),
                });
            }
            None if c.block => warnings.push(format!(
                "FEV1 not given: the contraindication \"{}\" could not be checked.",
                c.reason
            )),
            _ => {}
        }
    }
    if patient.asthma.is_none() && rules.contraindications.iter().any(|c| c.asthma.is_some()) {
        warnings.push(
            "Asthma control not given: the asthma contraindications could not be checked.".into(),
        );
    }

    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patient::PatientInput;
    use crate::policy::Policy;
    use crate::policy::risk::AsthmaControl;
    use chrono::NaiveDate;

    fn rules() -> RiskRules {
        Policy::bundled().expect("bundled rules").risk
    }

    fn patient(age: u32, sige: &str, total: &str) -> Patient {
        let input = PatientInput {
            age: Some(age),
            weight_kg: Some("60".into()),
            sige: Some(sige.into()),
            total_ige: Some(total.into()),
            fev1_percent: Some("95".into()),
            asthma: Some(AsthmaControl::Controlled),
            ..PatientInput::default()
        };
        Patient::from_input(&input, NaiveDate::from_ymd_opt(2026, 12, 7).expect("date"))
            .expect("valid")
    }

    fn stratum(sige: &str, total: &str) -> String {
        assess(&patient(30, sige, total), &rules()).stratum
    }

    fn class(sige: &str) -> ClassRange {
        assess(&patient(30, sige, "10000"), &rules()).sige_class
    }

    #[test]
    fn class_edges_are_half_open() {
        let c = |v: &str| class(v).min;
        assert_eq!(c("0.34"), 0);
        assert_eq!(c("0.35"), 1);
        assert_eq!(c("0.69"), 1);
        assert_eq!(c("0.70"), 2);
        assert_eq!(c("3.49"), 2);
        assert_eq!(c("3.5"), 3);
        assert_eq!(c("17.49"), 3);
        assert_eq!(c("17.5"), 4);
        assert_eq!(c("49.9"), 4);
        assert_eq!(c("50"), 5);
        assert_eq!(c("99.9"), 5);
        assert_eq!(c("100"), 6);
        assert_eq!(c("2000"), 6);
    }

    #[test]
    fn censored_classes_are_ranges() {
        assert_eq!(class("<0.35"), ClassRange { min: 0, max: 0 });
        assert_eq!(class("<0.70"), ClassRange { min: 0, max: 1 });
        assert_eq!(class(">100"), ClassRange { min: 6, max: 6 });
        assert_eq!(class(">50"), ClassRange { min: 5, max: 6 });
    }

    #[test]
    fn ratio_exactly_ten_percent_is_high() {
        // 41 / 410 = 10 % exactly: the high-risk side (>= 10 %).
        assert_eq!(stratum("41", "410"), "high");
        assert_eq!(stratum("40.9", "410"), "intermediate"); // class 4, ratio < 10 %
        assert_eq!(stratum("2", "410"), "low"); // class 2, ratio 0.5 %
        assert_eq!(stratum("2", "20"), "intermediate"); // class 2, ratio 10 %
        assert_eq!(stratum("0.2", "100"), "intermediate"); // class 0
    }

    #[test]
    fn ratio_exactly_sixteen_percent_is_not_favourable() {
        let a = assess(&patient(30, "16", "100"), &rules());
        assert_eq!(a.favourable_response, Some(false));
        let a = assess(&patient(30, "16.01", "100"), &rules());
        assert_eq!(a.favourable_response, Some(true));
    }

    #[test]
    fn censored_values_fail_closed() {
        // >100 of 410: ratio > 24.4 %, class 6: surely high.
        let a = assess(&patient(30, ">100", "410"), &rules());
        assert_eq!(a.stratum, "high");
        assert_eq!(
            a.ratio_percent,
            Ratio::Above(Decimal::new(100, 0) / Decimal::new(410, 0) * Decimal::ONE_HUNDRED)
        );
        assert_eq!(a.favourable_response, Some(true));
        // >50 of 600: class 5-6, ratio > 8.3 %: could be high or intermediate -> high.
        assert_eq!(stratum(">50", "600"), "high");
        // <0.70 of 1000: class 0-1, ratio < 0.07 %: low or intermediate -> intermediate.
        assert_eq!(stratum("<0.70", "1000"), "intermediate");
        // >1.0 of "<8": ratio > 12.5 %, class 2-6: anything but low -> high.
        assert_eq!(stratum(">1.0", "<8"), "high");
        let a = assess(&patient(30, "<0.35", "<2"), &rules());
        assert_eq!(a.ratio_percent, Ratio::Unknown);
        assert_eq!(a.favourable_response, None);
    }

    #[test]
    fn age_groups_and_reasons_cite_rules() {
        let a = assess(&patient(9, "52", "410"), &rules());
        assert_eq!(a.age_group, AgeGroup::Paediatric);
        assert_eq!(a.sige_class, ClassRange { min: 5, max: 5 });
        assert_eq!(a.stratum, "high");
        assert!(a.reasons.iter().all(|r| !r.source.is_empty()));
        assert!(a.reasons.iter().any(|r| r.text.contains("12.7 %")));
        assert_eq!(
            assess(&patient(17, "52", "410"), &rules()).age_group,
            AgeGroup::Paediatric
        );
        assert_eq!(
            assess(&patient(18, "52", "410"), &rules()).age_group,
            AgeGroup::Adult
        );
    }

    #[test]
    fn contraindications_by_age_group() {
        let mut p = patient(30, "52", "410");
        p.fev1_percent = Some(Decimal::new(75, 0));
        assert!(
            !assess(&p, &rules()).blocked(),
            "75 % is allowed in an adult"
        );
        p.fev1_percent = Some(Decimal::new(69, 0));
        assert!(assess(&p, &rules()).blocked());
        let mut child = patient(9, "52", "410");
        child.fev1_percent = Some(Decimal::new(75, 0));
        assert!(assess(&child, &rules()).blocked(), "75 % blocks in a child");
        let mut bb = patient(30, "52", "410");
        bb.beta_blocker = true;
        assert!(assess(&bb, &rules()).blocked());
        let mut asthma = patient(30, "52", "410");
        asthma.asthma = Some(AsthmaControl::Uncontrolled);
        assert!(assess(&asthma, &rules()).blocked());
        asthma.asthma = Some(AsthmaControl::Partly);
        let a = assess(&asthma, &rules());
        assert!(!a.blocked());
        assert_eq!(a.contraindications.len(), 1);
        let mut unknown = patient(30, "52", "410");
        unknown.fev1_percent = None;
        let a = assess(&unknown, &rules());
        assert!(!a.blocked());
        assert!(a.warnings.iter().any(|w| w.starts_with("FEV1 not given")));
    }
}
