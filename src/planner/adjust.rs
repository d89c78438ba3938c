//! Adjustments: the template switched to, volumes the syringe cannot measure, and the rules'
//! operations (observation, interval, split increments, per-day cap).

use super::*;
use crate::policy::risk::AdjustmentRule;

/// A step being adjusted, before dates.
#[derive(Clone, Debug)]
pub(super) struct Work {
    pub(super) session: usize,
    pub(super) protocol_day: u32,
    pub(super) vial: usize,
    pub(super) volume: Volume,
    pub(super) dose: Dose,
    pub(super) observation: u32,
    pub(super) template_step: Option<usize>,
}

/// The template to plan: the one asked for, or the one a rule switches to.
pub(super) fn switch_template<'a>(
    req: &Request<'a>,
    operations: &[Operation],
    rule: &AdjustmentRule,
    adjustments: &mut Vec<Adjustment>,
) -> Result<&'a Template, PlanError> {
    let mut template = req.template;
    for op in operations {
        if let Operation::SwitchTemplate { template: id } = op {
            template = req
                .catalog
                .get(id)
                .ok_or_else(|| PlanError::UnknownTemplate(id.clone()))?;
            adjustments.push(Adjustment::new(
                format!("Template switched from {} to {}.", req.template.id, id),
                &rule.provenance,
            ));
        }
    }
    Ok(template)
}

/// The template's steps as work, a session per protocol day, and the gap from each session to
/// the one before, in days. A volume the syringe cannot measure is rounded down.
pub(super) fn work(
    template: &Template,
    syringe: Syringe,
    adjustments: &mut Vec<Adjustment>,
) -> (Vec<Work>, Vec<u32>) {
    let vial_index = |id: &str| template.vials.iter().position(|v| v.id == id);
    // Protocol days become sessions; the gap to the previous session is kept in days.
    let mut work = Vec::new();
    let mut gaps = Vec::new();
    let mut last_day = None;
    for s in &template.steps {
        if last_day != Some(s.day) {
            gaps.push(last_day.map_or(0, |d| s.day - d));
            last_day = Some(s.day);
        }
        let Some(vial) = vial_index(&s.vial) else {
            continue;
        };
        let mut volume = s.volume_ml;
        let mut dose = s.dose;
        if !syringe.can_measure(volume) {
            volume = syringe.round_down(volume);
            dose = template.vials[vial]
                .concentration
                .dose_in(volume)
                .unwrap_or(dose);
            adjustments.push(Adjustment::new(
                format!(
                    "Step {}: {} cannot be measured with a syringe graduated in {}; rounded down to {volume} ({dose}).",
                    s.index, s.volume_ml, template.injection.syringe_graduation_ml
                ),
                &Provenance {
                    source: "ritplan: volumes are rounded down to the syringe graduation, never up".into(),
                    evidence: Evidence::Inference,
                    certainty: Certainty::Inference,
                },
            ));
            if volume.ml().is_zero() {
                continue;
            }
        }
        work.push(Work {
            session: gaps.len() - 1,
            protocol_day: s.day,
            vial,
            volume,
            dose,
            observation: s.observation_min,
            template_step: Some(s.index),
        });
    }
    (work, gaps)
}

/// How same-day injections are spaced: the minimum interval, and the rules' per-day cap.
#[derive(Clone, Copy, Debug)]
pub(super) struct Spacing {
    pub(super) min_interval: u32,
    pub(super) cap: Option<usize>,
}

/// Applies the rule's operations to the work (the switch is already made).
pub(super) fn apply(
    operations: &[Operation],
    template: &Template,
    syringe: Syringe,
    work: &mut Vec<Work>,
    rule: &AdjustmentRule,
    adjustments: &mut Vec<Adjustment>,
) -> Spacing {
    let mut min_interval = template.timing.min_interval_min;
    let mut observation_floor = template.timing.observation_min;
    let mut cap = None;
    for op in operations {
        match op {
            Operation::Observation { min } => {
                if *min > observation_floor {
                    observation_floor = *min;
                    adjustments.push(Adjustment::new(format!("Observation at least {min} min after every injection (template: {} min).", template.timing.observation_min), &rule.provenance));
                }
            }
            Operation::MinInterval { min } => {
                if *min > min_interval {
                    adjustments.push(Adjustment::new(format!("Same-day injections at least {min} min apart (template: {min_interval} min)."), &rule.provenance));
                    min_interval = *min;
                }
            }
            Operation::SplitIncrements { max_factor } => {
                let added = split_increments(work, template, syringe, *max_factor);
                if added > 0 {
                    adjustments.push(Adjustment::new(
                        format!("{added} step{} inserted so that no dose rises more than {}× over the one before (same vials).", if added == 1 { "" } else { "s" }, max_factor.normalize()),
                        &rule.provenance,
                    ));
                }
            }
            Operation::CapPerDay { max } => {
                cap = Some(*max as usize);
            }
            Operation::SwitchTemplate { .. } => {}
        }
    }
    for w in work.iter_mut() {
        w.observation = w.observation.max(observation_floor);
    }
    Spacing { min_interval, cap }
}

/// Inserts steps wherever a dose rises more than `max_factor` × over the one before. Each
/// inserted dose is the largest measurable dose at most `max_factor` × the previous one, strictly
/// between the two doses, on one of the two neighbouring steps' vials: the one that gives the
/// larger volume (a volume is measured more accurately than a tenth of it), within the
/// template's largest injection. Returns the number inserted.
fn split_increments(
    work: &mut Vec<Work>,
    template: &Template,
    syringe: Syringe,
    max_factor: Decimal,
) -> usize {
    let mut added = 0;
    let mut i = 1;
    while i < work.len() {
        let prev = work[i - 1].dose;
        let next = work[i].clone();
        let limit = prev.amount().checked_mul(max_factor);
        if let Some(limit) = limit
            && prev.amount() > Decimal::ZERO
            && next.dose.amount() > limit
        {
            let target = Dose::new(limit, next.dose.unit());
            let best = [work[i - 1].vial, next.vial]
                .into_iter()
                .filter_map(|v| {
                    let conc = template.vials[v].concentration;
                    let volume = conc.volume_for(target, syringe)?;
                    let dose = conc.dose_in(volume)?;
                    (volume <= template.injection.max_volume_ml
                        && dose.amount() > prev.amount()
                        && dose.amount() < next.dose.amount())
                    .then_some((v, volume, dose))
                })
                .max_by_key(|(_, volume, _)| *volume);
            if let Some((vial, volume, dose)) = best {
                work.insert(
                    i,
                    Work {
                        session: next.session,
                        protocol_day: next.protocol_day,
                        vial,
                        volume,
                        dose,
                        observation: next.observation,
                        template_step: None,
                    },
                );
                added += 1;
            }
        }
        i += 1;
    }
    added
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ok, run, run_with};
    use super::super::*;
    use crate::policy::risk::AdjustmentRule;
    use crate::testkit::{bundled as fixture, patient, weekdays};

    #[test]
    fn high_risk_with_pretreatment_gets_extended_observation() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(30, "52", "410", Some(8)),
            "2026-12-07",
            None,
        ));
        assert!(p.steps.iter().all(|s| s.observation_min >= 60));
        assert_eq!(p.steps.len(), 10, "no other operation applies");
        assert!(p.accepted_risk.is_none());
    }

    #[test]
    fn intermediate_splits_caps_and_spaces() {
        let f = fixture();
        // class 4, ratio 4.4 %: intermediate.
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(30, "18", "410", None),
            "2026-12-07",
            None,
        ));
        assert!(p.steps.len() > 10, "steps were inserted");
        for w in p.steps.windows(2) {
            assert!(
                w[1].dose.amount() <= w[0].dose.amount() * Decimal::TWO,
                "{:?} -> {:?}",
                w[0].dose,
                w[1].dose
            );
            if w[0].date == w[1].date {
                assert!((w[1].time - w[0].time).num_minutes() >= 60);
            }
        }
        let mut per_day: std::collections::BTreeMap<NaiveDate, usize> = Default::default();
        for s in &p.steps {
            *per_day.entry(s.date).or_default() += 1;
        }
        assert!(per_day.values().all(|n| *n <= 3), "{per_day:?}");
        assert_eq!(
            p.steps.last().map(|s| s.dose),
            Some(
                f.catalog
                    .get("example-hdm-rush-3d")
                    .unwrap()
                    .maintenance
                    .dose
            )
        );
    }

    #[test]
    fn switch_template_is_driven_by_the_rules() {
        let f = fixture();
        let mut rules = f.policy.risk.clone();
        let switch = AdjustmentRule {
            operations: vec![Operation::SwitchTemplate {
                template: "alutard-hdm-cluster-7w".into(),
            }],
            ..rules.adjustments[4].clone()
        };
        rules.adjustments.insert(0, switch);
        let p = ok(run_with(
            &f,
            &rules,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-07",
            None,
            &weekdays(),
        ));
        assert_eq!(p.template.id, "alutard-hdm-cluster-7w");
        assert_eq!(p.steps.len(), 11);
        assert!(p.adjustments.iter().any(|a| a.text.contains("switched")));
        rules.adjustments[0].operations = vec![Operation::SwitchTemplate {
            template: "nope".into(),
        }];
        assert_eq!(
            run_with(
                &f,
                &rules,
                "example-hdm-rush-3d",
                &patient(34, "2", "410", None),
                "2026-12-07",
                None,
                &weekdays()
            ),
            Err(PlanError::UnknownTemplate("nope".into()))
        );
    }
}
