//! Refusals: a blocking contraindication, the product's minimum age, a risk the rules refuse;
//! and what the physician can do instead.

use super::*;
use crate::policy::risk::AdjustmentRule;

/// What the rules decided for a patient they do not refuse: the rule, the operations it asks
/// for, and the warnings and adjustments so far.
pub(super) struct Decided<'a> {
    pub(super) rule: &'a AdjustmentRule,
    pub(super) operations: Vec<Operation>,
    pub(super) warnings: Vec<String>,
    pub(super) adjustments: Vec<Adjustment>,
}

/// Refuses (a contraindication, the minimum age, a refused risk), or says what the rules ask for.
pub(super) fn decide<'a>(req: &Request<'a>) -> Result<Result<Decided<'a>, Refusal>, PlanError> {
    let a = req.assessment;
    let blocking: Vec<Finding> = a
        .contraindications
        .iter()
        .filter(|c| c.blocks)
        .cloned()
        .collect();
    if !blocking.is_empty() {
        return Ok(Err(Refusal::Contraindicated {
            reasons: blocking,
            assessment: Box::new(a.clone()),
        }));
    }
    let Some(rule) = req.rules.adjustment(&a.stratum, a.pretreated, a.age_group) else {
        // Checked when the rules are read; fail closed all the same.
        return Ok(Err(Refusal::RiskNotAccepted {
            note: "no adjustment rule covers this patient".into(),
            rule: Adjustment {
                text: String::new(),
                source: String::new(),
                evidence: Evidence::Unverified,
                certainty: Certainty::Unverified,
            },
            alternatives: Vec::new(),
            assessment: Box::new(a.clone()),
        }));
    };
    let mut warnings = Vec::new();
    let mut adjustments = Vec::new();
    if let Some(refusal) = check_age(req, &mut warnings)? {
        return Ok(Err(refusal));
    }
    if let Some(reason) = req.accept_missing {
        warnings.push(format!(
            "STARTED WITHOUT FEV1 OR ASTHMA STATUS, ACCEPTED BY THE PHYSICIAN: the contraindications that need them were not checked. Reason given: \"{reason}\"."
        ));
    }
    let operations = match operations(req, rule, &mut warnings) {
        Ok(operations) => operations,
        Err(refusal) => return Ok(Err(refusal)),
    };
    adjustments.push(Adjustment::new(rule.note.clone(), &rule.provenance));
    Ok(Ok(Decided {
        rule,
        operations,
        warnings,
        adjustments,
    }))
}

/// The product's minimum age: below it, a refusal unless the physician accepted it (then a
/// warning); a warning when the template names no product.
fn check_age(req: &Request<'_>, warnings: &mut Vec<String>) -> Result<Option<Refusal>, PlanError> {
    let a = req.assessment;
    match req
        .template
        .product_id
        .as_deref()
        .map(|id| req.eligibility.product(id))
    {
        None => warnings.push(format!(
            "The template names no product_id: ritplan did not check the product's minimum age (rules/eligibility.toml). Check the label of {}.",
            req.template.product
        )),
        // The template checker refuses an unknown product; fail closed all the same.
        Some(None) => {
            return Err(PlanError::BadCalendar(format!(
                "the template names product {:?}, which the eligibility rules do not list",
                req.template.product_id.as_deref().unwrap_or_default()
            )));
        }
        Some(Some(product)) if a.age_years < product.min_age_years => match req.accept_age {
            None => {
                return Ok(Some(Refusal::BelowMinimumAge {
                    age_years: a.age_years,
                    product: product.clone(),
                }));
            }
            Some(reason) => {
                warnings.push(format!(
                    "UNDER THE MINIMUM AGE, ACCEPTED BY THE PHYSICIAN: {} is not given under {} years; the patient is {}. Reason given: \"{reason}\". [{} {}] {}",
                    product.name,
                    product.min_age_years,
                    a.age_years,
                    product.provenance.evidence,
                    product.provenance.certainty,
                    product.provenance.source
                ));
            }
        },
        Some(Some(_)) => {}
    }
    Ok(None)
}

/// The operations the rule asks for; a rush the rules refuse is refused unless the physician
/// accepted the risk.
fn operations(
    req: &Request<'_>,
    rule: &AdjustmentRule,
    warnings: &mut Vec<String>,
) -> Result<Vec<Operation>, Refusal> {
    let a = req.assessment;
    let operations = match (rule.decision, req.template.kind, req.accept_risk) {
        (Decision::Plan, _, _) => rule.operations.clone(),
        (Decision::Refuse, Kind::Rush, None) => {
            return Err(Refusal::RiskNotAccepted {
                note: rule.note.clone(),
                rule: Adjustment::new(rule.note.clone(), &rule.provenance),
                alternatives: alternatives(req),
                assessment: Box::new(a.clone()),
            });
        }
        (Decision::Refuse, Kind::Rush, Some(reason)) => {
            warnings.push(format!(
                "RISK ACCEPTED BY THE PHYSICIAN: {} Reason given: \"{reason}\". Cautious adjustments apply.",
                rule.note
            ));
            rule.accepted_risk_operations.clone()
        }
        (Decision::Refuse, _, _) => {
            warnings.push(format!(
                "{} This is a {} schedule, not a rush: it is planned with the cautious adjustments.",
                rule.note, req.template.kind
            ));
            rule.accepted_risk_operations.clone()
        }
    };
    Ok(operations)
}

/// What the physician can do instead of a refused rush.
fn alternatives(req: &Request<'_>) -> Vec<Alternative> {
    let mut out = Vec::new();
    let total = req.rules.min_omalizumab_weeks.value;
    let have = req.assessment.omalizumab_weeks.unwrap_or(0);
    let weeks = total.saturating_sub(have);
    let from = req
        .calendar
        .on_or_after(req.start.date() + Duration::weeks(i64::from(weeks)));
    out.push(Alternative::Pretreat { weeks, total, from });
    let templates: Vec<(String, String, String)> = req
        .catalog
        .iter()
        .filter(|(t, _)| t.kind != Kind::Rush)
        .map(|(t, _)| (t.id.clone(), t.kind.to_string(), t.evidence_label()))
        .collect();
    if !templates.is_empty() {
        out.push(Alternative::Slower { templates });
    }
    out.push(Alternative::AcceptRisk);
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ok, run};
    use super::super::*;
    use crate::testkit::{bundled as fixture, patient};

    #[test]
    fn high_risk_without_pretreatment_is_refused_with_alternatives() {
        let f = fixture();
        match run(
            &f,
            "example-hdm-rush-3d",
            &patient(9, "52", "410", Some(3)),
            "2026-12-07",
            None,
        ) {
            Ok(Err(Refusal::RiskNotAccepted { alternatives, .. })) => {
                assert!(
                    matches!(
                        alternatives[0],
                        Alternative::Pretreat { weeks: 5, from: Some(d), .. }
                            if d.to_string() == "2027-01-11"
                    ),
                    "{alternatives:?}"
                );
                assert!(matches!(
                    &alternatives[1],
                    Alternative::Slower { templates } if templates.iter().any(|t| t.0 == "alutard-hdm-cluster-7w")
                ));
                assert_eq!(alternatives.last(), Some(&Alternative::AcceptRisk));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepted_risk_is_recorded_and_cautious() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(9, "52", "410", None),
            "2026-12-07",
            Some("ward bed, parents declined omalizumab"),
        ));
        assert_eq!(
            p.accepted_risk.as_deref(),
            Some("ward bed, parents declined omalizumab")
        );
        assert!(p.warnings[0].starts_with("RISK ACCEPTED BY THE PHYSICIAN"));
        assert!(p.warnings[0].contains("ward bed"));
        assert!(p.steps.iter().all(|s| s.observation_min >= 60));
    }

    #[test]
    fn contraindication_refuses() {
        let f = fixture();
        let mut p = patient(30, "2", "410", None);
        p.beta_blocker = true;
        assert!(matches!(
            run(&f, "example-hdm-rush-3d", &p, "2026-12-07", None),
            Ok(Err(Refusal::Contraindicated { .. }))
        ));
        // Accepting the risk does not lift a contraindication.
        assert!(matches!(
            run(&f, "example-hdm-rush-3d", &p, "2026-12-07", Some("x")),
            Ok(Err(Refusal::Contraindicated { .. }))
        ));
    }
}
