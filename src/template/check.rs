//! The checks that look past one value: the header's references to the product and rule set,
//! each step against its vial, the step before it, its day and the maintenance dose; and the
//! warnings.

use std::ops::Range;

use rust_decimal::Decimal;

use super::read::{RawMaintenance, RawStep};
use super::*;
use crate::policy::Evidence;
use crate::tomlread::{Diags, Sp};
use crate::units::{Dose, Syringe, Volume, format_ml};

/// What the cross-step checks need: the template's vials, injection limits and timing.
pub(super) struct CrossCheck<'a> {
    pub(super) vials: &'a [Vial],
    /// Ids of vials that were defined but rejected.
    pub(super) rejected_vials: &'a [String],
    pub(super) injection: &'a Injection,
    pub(super) syringe: Option<Syringe>,
    pub(super) timing: &'a Timing,
    pub(super) policy: &'a Policy,
}

impl CrossCheck<'_> {
    /// The vial `id` names; an undefined vial is reported (unless it was defined but rejected).
    fn vial(&self, id: &Sp<String>, what: &str, diags: &mut Diags) -> Option<Vial> {
        let vials = self.vials;
        let found = vials.iter().find(|v| v.id == id.value).cloned();
        if found.is_none() && !self.rejected_vials.contains(&id.value) {
            let known: Vec<String> = vials.iter().map(|v| format!("{:?}", v.id)).collect();
            diags.push(
                Diagnostic::error(
                    "unknown-vial",
                    id.at(),
                    format!(
                        "{what} uses vial {:?}, which this template does not define",
                        id.value
                    ),
                )
                .with_help(if known.is_empty() {
                    "define the vials as [[vial]] tables".to_string()
                } else {
                    format!("the vials are {}", known.join(", "))
                }),
            );
        }
        found
    }

    /// The maintenance phase with its vial and dose checked.
    pub(super) fn maintenance(
        &self,
        (m, vial_id, volume, stated): RawMaintenance,
        diags: &mut Diags,
    ) -> Option<Maintenance> {
        let vial = self.vial(&vial_id, "[maintenance]", diags)?;
        check_volume(
            &volume,
            self.injection,
            self.syringe,
            "[maintenance]",
            diags,
        );
        let dose = vial_dose(&vial, &volume, stated.as_ref(), "[maintenance]", diags)?;
        Some(Maintenance {
            vial: vial.id,
            dose,
            volume_ml: volume.value,
            ..m
        })
    }

    /// The steps, each checked against its vial, the step before it and the maintenance dose.
    pub(super) fn steps(
        &self,
        raw_steps: &[Option<RawStep>],
        maintenance: Option<&Maintenance>,
        diags: &mut Diags,
    ) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        let mut previous: Option<(&RawStep, Dose)> = None;
        for (n, raw) in raw_steps.iter().enumerate() {
            let Some(raw) = raw else {
                previous = None;
                continue;
            };
            let what = format!("step {}", raw.index);
            // A step that cannot be read is skipped, and so is the comparison with it: comparing the
            // next step with an older one would report an escalation the template does not have.
            let Some(vial) = self.vial(&raw.vial, &what, diags) else {
                previous = None;
                continue;
            };
            check_volume(&raw.volume, self.injection, self.syringe, &what, diags);
            let Some(dose) = vial_dose(&vial, &raw.volume, raw.stated_dose.as_ref(), &what, diags)
            else {
                previous = None;
                continue;
            };
            let dose_span = raw
                .stated_dose
                .as_ref()
                .map_or(raw.volume.span.clone(), |d| d.span.clone());
            let next_day = raw_steps
                .get(n + 1)
                .and_then(|s| s.as_ref())
                .map(|s| s.day.value);
            let last_of_day = next_day != Some(raw.day.value);
            let same_day = previous.filter(|(p, _)| p.day.value == raw.day.value);

            self.check_order(raw, dose, &dose_span, previous, maintenance, diags);
            let (observation, min_interval) =
                self.same_day_timing(raw, last_of_day, same_day, steps.last(), diags);

            steps.push(Step {
                index: raw.index,
                day: raw.day.value,
                time: raw.time.as_ref().map(|t| t.value),
                min_interval_min: min_interval,
                vial: vial.id.clone(),
                volume_ml: raw.volume.value,
                dose,
                observation_min: observation,
                last_of_day,
                provenance: raw.provenance.clone(),
                phase: raw.phase.as_ref().map(|p| p.value),
            });
            previous = Some((raw, dose));
        }
        steps
    }

    /// Reports a step out of day order, a dose that decreases or escalates steeply, and a dose
    /// above maintenance.
    fn check_order(
        &self,
        raw: &RawStep,
        dose: Dose,
        dose_span: &Range<usize>,
        previous: Option<(&RawStep, Dose)>,
        maintenance: Option<&Maintenance>,
        diags: &mut Diags,
    ) {
        let checks = &self.policy.template_checks;
        if let Some((p, _)) = previous
            && raw.day.value < p.day.value
        {
            diags.push(Diagnostic::error(
                "day-order",
                raw.day.at(),
                format!(
                    "step {} is on day {}, before step {} on day {}; steps must be in order",
                    raw.index, raw.day.value, p.index, p.day.value
                ),
            ));
        }
        if let Some((p, pdose)) = previous {
            if dose.amount() < pdose.amount() {
                diags.push(
                    Diagnostic::error(
                        "dose-decrease",
                        Some(dose_span.clone()),
                        format!("step {} gives {dose}, less than step {} ({pdose}); up-dosing must not decrease", raw.index, p.index),
                    )
                    .with_help("a dose reduction after a reaction belongs to the course rules, not the template"),
                );
            } else if pdose.amount() > Decimal::ZERO {
                let factor = dose.amount() / pdose.amount();
                let near = maintenance.is_some_and(|m| {
                    m.dose
                        .amount()
                        .checked_mul(checks.near_maintenance_from_fraction.value)
                        .is_some_and(|from| pdose.amount() >= from)
                });
                if near && factor > checks.near_maintenance_max_factor.value {
                    diags.push(Diagnostic::warning(
                        "steep-escalation",
                        Some(dose_span.clone()),
                        format!(
                            "step {} is {}× step {} near maintenance (more than {}×)",
                            raw.index,
                            factor.round_dp(2).normalize(),
                            p.index,
                            checks.near_maintenance_max_factor.value
                        ),
                    ));
                } else if factor > checks.max_escalation_factor.value {
                    diags.push(Diagnostic::warning(
                        "steep-escalation",
                        Some(dose_span.clone()),
                        format!(
                            "step {} is {}× step {} (more than {}×)",
                            raw.index,
                            factor.round_dp(2).normalize(),
                            p.index,
                            checks.max_escalation_factor.value
                        ),
                    ));
                }
            }
        }
        if let Some(m) = &maintenance
            && dose.amount() > m.dose.amount()
        {
            diags.push(Diagnostic::error(
                "above-maintenance",
                Some(dose_span.clone()),
                format!(
                    "step {} gives {dose}, more than the maintenance dose {}",
                    raw.index, m.dose
                ),
            ));
        }
    }

    /// Same-day timing: the step's observation and its interval after the previous injection of
    /// its day (`None` for the first of a day), with the interval and clock-time checks.
    fn same_day_timing(
        &self,
        raw: &RawStep,
        last_of_day: bool,
        same_day: Option<(&RawStep, Dose)>,
        last_step: Option<&Step>,
        diags: &mut Diags,
    ) -> (u32, Option<u32>) {
        let (timing, policy) = (self.timing, self.policy);
        // Same-day timing.
        if let Some(o) = &raw.observation_min {
            check_observation(o, policy, diags);
        }
        let observation = raw
            .observation_min
            .as_ref()
            .map_or(timing.observation_min, |o| o.value);
        let observation = if last_of_day {
            observation.max(timing.last_of_day_observation_min)
        } else {
            observation
        };
        let min_interval = same_day.map(|_| {
            raw.after_min
                .as_ref()
                .map_or(timing.min_interval_min, |a| a.value)
        });
        if let Some(a) = &raw.after_min {
            if same_day.is_none() {
                diags.push(Diagnostic::warning(
                    "interval-ignored",
                    a.at(),
                    format!(
                        "step {} is the first of its day, so `after_min` has no effect",
                        raw.index
                    ),
                ));
            } else if a.value < timing.min_interval_min {
                diags.push(Diagnostic::error(
                    "interval-too-short",
                    a.at(),
                    format!(
                        "step {} follows the previous injection after {} min, less than the template's minimum interval of {} min",
                        raw.index, a.value, timing.min_interval_min
                    ),
                ));
            }
        }
        if let (Some((p, _)), Some(t)) = (same_day, &raw.time)
            && let Some(pt) = &p.time
        {
            let gap = (t.value - pt.value).num_minutes();
            let prev_obs = last_step.map_or(timing.observation_min, |s| s.observation_min);
            let needed = i64::from(min_interval.unwrap_or(0).max(prev_obs));
            if gap <= 0 {
                diags.push(Diagnostic::error(
                    "time-order",
                    t.at(),
                    format!(
                        "step {} at {} is not after step {} at {} on the same day",
                        raw.index,
                        t.value.format("%H:%M"),
                        p.index,
                        pt.value.format("%H:%M")
                    ),
                ));
            } else if gap < needed {
                diags.push(Diagnostic::error(
                    "interval-too-short",
                    t.at(),
                    format!(
                        "step {} at {} is {gap} min after step {}; same-day injections need at least {needed} min (the minimum interval and the previous observation)",
                        raw.index,
                        t.value.format("%H:%M"),
                        p.index
                    ),
                ));
            }
        }
        (observation, min_interval)
    }
}

/// Reports an id with characters that are hard to type.
pub(super) fn check_id(id: &Sp<String>, diags: &mut Diags) {
    if !id
        .value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        diags.push(
            Diagnostic::error(
                "bad-id",
                id.at(),
                format!(
                    "template id {:?} has characters that are hard to type",
                    id.value
                ),
            )
            .with_help("use letters, digits, '-', '_' and '.' only"),
        );
    }
}

/// Reports a product that rules/eligibility.toml does not list.
pub(super) fn check_product(p: &Sp<String>, policy: &Policy, diags: &mut Diags) {
    if policy.eligibility.product(&p.value).is_none() {
        let known: Vec<String> = policy
            .eligibility
            .products
            .iter()
            .map(|p| format!("{:?}", p.id))
            .collect();
        diags.push(
            Diagnostic::error(
                "unknown-product",
                p.at(),
                format!(
                    "the template names product {:?}, which rules/eligibility.toml does not list",
                    p.value
                ),
            )
            .with_help(format!("the products are {}", known.join(", "))),
        );
    }
}

/// Reports a rule set that does not exist.
pub(super) fn check_rules(r: &Sp<String>, policy: &Policy, diags: &mut Diags) {
    if policy.rule_set(&r.value).is_none() {
        let known: Vec<String> = policy
            .rule_sets
            .iter()
            .map(|r| format!("{:?}", r.id))
            .collect();
        diags.push(
            Diagnostic::error(
                "unknown-rules",
                r.at(),
                format!(
                    "the template names rule set {:?}, which does not exist",
                    r.value
                ),
            )
            .with_help(format!("the rule sets are {}", known.join(", "))),
        );
    }
}

/// Reports a vial-change rebuild volume of the template's rule set above the template's largest
/// injection (`rules/vial-change.toml`): the rule could never be given with this template.
pub(super) fn check_rebuild_volumes(
    r: &Sp<String>,
    policy: &Policy,
    injection: &Injection,
    diags: &mut Diags,
) {
    let Some(set) = policy.rule_set(&r.value) else {
        return;
    };
    for rule in &set.rules.vial_change {
        if let crate::policy::vial_change::VialAction::Rebuild { volumes_ml } = &rule.action
            && let Some(v) = volumes_ml
                .iter()
                .find(|v| Volume::from_ml(**v) > injection.max_volume_ml)
        {
            diags.push(Diagnostic::error(
                "bad-volume",
                r.at(),
                format!(
                    "the {} rule of rule set {:?} (rules/vial-change.toml) rebuilds with {} mL, above the template's per-injection maximum of {}",
                    rule.trigger,
                    r.value,
                    format_ml(*v),
                    injection.max_volume_ml
                ),
            ));
        }
    }
}

/// Warns of evidence that every output will flag.
pub(super) fn warn_evidence(e: &Sp<Evidence>, diags: &mut Diags) {
    if e.value.needs_warning() {
        diags.push(
            Diagnostic::warning(
                "weak-evidence",
                e.at(),
                format!(
                    "this template's evidence is `{}`: every output that shows it will say so",
                    e.value
                ),
            )
            .with_help("do not use it for patients without a clinician's own check of every step"),
        );
    }
}

/// Warns when the last step stays below the maintenance dose (only when every step was read).
pub(super) fn warn_below_maintenance(
    maintenance: Option<&Maintenance>,
    steps: &[Step],
    raw_steps: &[Option<RawStep>],
    diags: &mut Diags,
) {
    if let (Some(m), Some(last)) = (&maintenance, steps.last())
        && last.dose.amount() < m.dose.amount()
        && steps.len() == raw_steps.len()
    {
        diags.push(
            Diagnostic::warning(
                "below-maintenance",
                raw_steps
                    .last()
                    .and_then(|r| r.as_ref())
                    .map(|r| r.span.clone()),
                format!(
                    "the last step gives {}, less than the maintenance dose {}",
                    last.dose, m.dose
                ),
            )
            .with_help(
                "the course will have to step up to maintenance; make sure that is intended",
            ),
        );
    }
}

pub(super) fn check_observation(o: &Sp<u32>, policy: &Policy, diags: &mut Diags) {
    let min = &policy.template_checks.min_observation_min;
    if o.value < min.value {
        diags.push(
            Diagnostic::error(
                "observation-too-short",
                o.at(),
                format!("an observation of {} min is shorter than the {} min minimum after any injection", o.value, min.value),
            )
            .with_help(min.provenance.source.clone()),
        );
    }
}

/// Reports a volume that is not positive, above the per-injection maximum, or not measurable.
pub(super) fn check_volume(
    volume: &Sp<Volume>,
    injection: &Injection,
    syringe: Option<Syringe>,
    what: &str,
    diags: &mut Diags,
) {
    let v = volume.value;
    if v.ml() <= Decimal::ZERO {
        diags.push(Diagnostic::error(
            "bad-volume",
            volume.at(),
            format!(
                "{what} has a volume of {}, which must be above 0 mL",
                format_ml(v.ml())
            ),
        ));
    } else if v > injection.max_volume_ml {
        diags.push(Diagnostic::error(
            "bad-volume",
            volume.at(),
            format!(
                "{what} has a volume of {v}, above the template's per-injection maximum of {}",
                injection.max_volume_ml
            ),
        ));
    } else if let Some(s) = syringe
        && !s.can_measure(v)
    {
        diags.push(
            Diagnostic::warning(
                "unmeasurable-volume",
                volume.at(),
                format!(
                    "{what}'s volume of {v} cannot be measured with a syringe graduated in {}",
                    injection.syringe_graduation_ml
                ),
            )
            .with_help(format!(
                "the nearest measurable volume below it is {}",
                s.round_down(v)
            )),
        );
    }
}

/// The dose of `volume` from `vial`, cross-checked against a stated dose.
pub(super) fn vial_dose(
    vial: &Vial,
    volume: &Sp<Volume>,
    stated: Option<&Sp<Decimal>>,
    what: &str,
    diags: &mut Diags,
) -> Option<Dose> {
    let dose = vial.concentration.dose_in(volume.value)?;
    if let Some(s) = stated
        && s.value != dose.amount()
    {
        diags.push(
            Diagnostic::error(
                "dose-mismatch",
                s.at(),
                format!(
                    "{what} states a dose of {}, but {} of {} ({}) is {dose}",
                    Dose::new(s.value, dose.unit()),
                    volume.value,
                    vial.label,
                    vial.concentration
                ),
            )
            .with_help("correct the dose, the volume or the vial; ritplan computes dose = concentration × volume"),
        );
        return None;
    }
    Some(dose)
}

/// The phases: each step's phase in order (rush or up-dosing, then consolidation), the rush
/// target below maintenance and reached by the rush's last step, and consolidation doses at
/// or above it. Returns the rush target as a dose.
pub(super) fn check_phases(
    rush_target: Option<&Sp<Decimal>>,
    unit: AllergenUnit,
    maintenance: Option<&Maintenance>,
    steps: &[Step],
    raw_steps: &[Option<RawStep>],
    diags: &mut Diags,
) -> Option<Dose> {
    let mut latest: Option<(Phase, usize)> = None;
    let mut first_name: Option<(Phase, usize)> = None;
    for raw in raw_steps.iter().flatten() {
        let phase = raw.phase.as_ref().map(|p| p.value);
        let at = raw.phase.as_ref().map_or_else(|| raw.day.at(), |p| p.at());
        let rank = phase.map_or(0, Phase::rank);
        if let Some(p) = phase
            && p != Phase::Consolidation
        {
            match first_name {
                Some((f, fi)) if f != p => diags.push(
                    Diagnostic::error(
                        "phase-order",
                        at.clone(),
                        format!(
                            "step {} calls the up-dosing phase `{p}`, step {fi} calls it `{f}`",
                            raw.index
                        ),
                    )
                    .with_help("name the up-dosing phase one way: `rush` or `up-dosing`"),
                ),
                None => first_name = Some((p, raw.index)),
                _ => {}
            }
        }
        if phase == Some(Phase::Consolidation) && latest.is_none() {
            diags.push(
                Diagnostic::error(
                    "phase-order",
                    at,
                    format!(
                        "step {} is in the consolidation phase, before any rush or up-dosing step",
                        raw.index
                    ),
                )
                .with_help("consolidation follows the rush (or up-dosing): the phases run rush, consolidation, then maintenance"),
            );
            continue;
        } else if let Some((lp, li)) = latest
            && rank < lp.rank()
        {
            diags.push(
                Diagnostic::error(
                    "phase-order",
                    at,
                    format!(
                        "step {} is in the {} phase after step {li} in the {lp} phase",
                        raw.index,
                        phase.map_or("up-dosing", Phase::as_str)
                    ),
                )
                .with_help("the phases run rush (or up-dosing), consolidation, then maintenance; a step without `phase` is up-dosing"),
            );
        }
        if latest.is_none_or(|(lp, _)| rank >= lp.rank()) {
            latest = Some((phase.unwrap_or(Phase::UpDosing), raw.index));
        }
    }

    let target = rush_target?;
    let dose = Dose::new(target.value, unit);
    let mut ok = true;
    if target.value <= Decimal::ZERO {
        diags.push(Diagnostic::error(
            "bad-dose",
            target.at(),
            "a rush target must be above zero",
        ));
        return None;
    }
    if let Some(m) = maintenance
        && target.value > m.dose.amount()
    {
        diags.push(
            Diagnostic::error(
                "rush-target-above-maintenance",
                target.at(),
                format!(
                    "the rush target {dose} is above the maintenance dose {}",
                    m.dose
                ),
            )
            .with_help("a rush target is the dose a rush stops at, below maintenance"),
        );
        return None;
    }
    // Only when every step was read: a skipped step would move the rush's end.
    if steps.len() != raw_steps.len() {
        return None;
    }
    let rush_last = steps
        .iter()
        .rev()
        .find(|s| s.phase.is_none_or(|p| p.rank() == 0));
    if let Some(last) = rush_last
        && last.dose.amount() != target.value
    {
        diags.push(
            Diagnostic::error(
                "rush-target-mismatch",
                target.at(),
                format!(
                    "the rush target is {dose}, but the rush's last step (step {}) gives {}",
                    last.index, last.dose
                ),
            )
            .with_help("the rush (or up-dosing) ends at its target: make its last step give it"),
        );
        ok = false;
    }
    let consolidation: Vec<&Step> = steps
        .iter()
        .filter(|s| s.phase == Some(Phase::Consolidation))
        .collect();
    if consolidation.is_empty() && maintenance.is_some_and(|m| target.value < m.dose.amount()) {
        diags.push(
            Diagnostic::error(
                "missing-consolidation",
                target.at(),
                format!(
                    "the rush stops at {dose}, below maintenance, but no step is in the consolidation phase"
                ),
            )
            .with_help("give the steps that reach maintenance `phase = \"consolidation\"`"),
        );
        ok = false;
    }
    for s in consolidation {
        if s.dose.amount() < target.value {
            let span = raw_steps
                .iter()
                .flatten()
                .find(|r| r.index == s.index)
                .map(|r| {
                    r.stated_dose
                        .as_ref()
                        .map_or(r.volume.span.clone(), |d| d.span.clone())
                });
            diags.push(Diagnostic::error(
                "consolidation-below-target",
                span,
                format!(
                    "consolidation step {} gives {}, less than the rush target {dose}",
                    s.index, s.dose
                ),
            ));
            ok = false;
        }
    }
    ok.then_some(dose)
}

/// Fail closed on a schedule the rule set cannot govern: when the rule set counts a late dose
/// from the previous dose, a planned gap between two up-dosing (or consolidation) days that its
/// late-dose bands already treat as late (a consolidation dose 4 weeks after a 1-day rush,
/// under a table written for weekly up-dosing) would make every on-time dose "late". The
/// rule set cannot decide such a schedule: the template is refused.
pub(super) fn check_late_on_schedule(
    rules: &Sp<String>,
    policy: &Policy,
    raw_steps: &[Option<RawStep>],
    diags: &mut Diags,
) {
    use crate::policy::course::{Action, CountFrom};
    let Some(set) = policy.rule_set(&rules.value) else {
        return;
    };
    if set.rules.late_counting.from != CountFrom::LastDose {
        return;
    }
    let mut previous: Option<&RawStep> = None;
    for raw in raw_steps.iter().flatten() {
        if let Some(p) = previous
            && raw.day.value > p.day.value
        {
            let gap = i64::from(raw.day.value - p.day.value);
            let band = set.rules.late(false, gap);
            if band.is_none_or(|b| b.action != Action::Proceed) {
                diags.push(
                    Diagnostic::error(
                        "late-on-schedule",
                        raw.day.at(),
                        format!(
                            "step {} comes {gap} days after step {} as planned, which rule set {:?} counts as a late dose{}: its late-dose rules cannot decide this schedule",
                            raw.index,
                            p.index,
                            rules.value,
                            band.map(|b| format!(" (band {})", b.range.written))
                                .unwrap_or_default()
                        ),
                    )
                    .with_help("use a rule set that counts from the missed date (\"us-practice-parameter\"), or one with rules for this interval"),
                );
            }
        }
        previous = Some(raw);
    }
}
