//! Ladders, not plan positions. The up-dosing ladder is the schedule's distinct doses in rising
//! order (a cluster visit that gives 2 000 SQ-U twice has one rung of 2 000); the maintenance
//! ladder is the volumes of the maintenance vial the course rules name. "Step back N" is always
//! N rungs down the ladder of the course's phase.

use rust_decimal::Decimal;

use crate::planner::{Plan, PlannedStep};
use crate::policy::course::{CourseRules, MaintenanceLadder};
use crate::template::Template;

/// The up-dosing ladder of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ladder {
    /// Distinct doses, rising (the planner never lets a dose fall).
    pub doses: Vec<Decimal>,
}

impl Ladder {
    /// The plan's distinct doses.
    pub fn of(plan: &Plan) -> Ladder {
        let mut doses: Vec<Decimal> = Vec::new();
        for s in &plan.steps {
            let d = s.dose.amount();
            if doses.last().is_none_or(|l| d > *l) {
                doses.push(d);
            } else if !doses.contains(&d) {
                // A falling dose cannot come from the planner; keep the ladder sorted anyway.
                doses.push(d);
                doses.sort();
            }
        }
        Ladder { doses }
    }

    /// The rung of a dose: the highest rung not above it (0 for a dose below the first).
    pub fn rung(&self, dose: Decimal) -> usize {
        self.doses.iter().rposition(|d| *d <= dose).unwrap_or(0)
    }

    /// The dose `steps` rungs below `dose`'s rung, and whether the ladder ran out first.
    pub fn below(&self, dose: Decimal, steps: u32) -> (usize, bool) {
        let r = self.rung(dose);
        let steps = usize::try_from(steps).unwrap_or(usize::MAX);
        (r.saturating_sub(steps), steps > r)
    }

    /// The next distinct dose above `dose` (`None` above the top rung).
    pub fn above(&self, dose: Decimal) -> Option<Decimal> {
        self.doses.iter().copied().find(|d| *d > dose)
    }
}

/// The 0-based index of the first plan step giving rung `rung`'s dose.
pub fn first_of_rung(plan: &Plan, ladder: &Ladder, rung: usize) -> usize {
    let dose = ladder.doses.get(rung).copied();
    plan.steps
        .iter()
        .position(|s| Some(s.dose.amount()) == dose)
        .unwrap_or(0)
}

/// The 0-based index of the first plan step whose dose is above `dose` (the plan's length if
/// none is).
pub fn first_above(plan: &Plan, dose: Decimal) -> usize {
    plan.steps
        .iter()
        .position(|s| s.dose.amount() > dose)
        .unwrap_or(plan.steps.len())
}

/// Whether plan step `i` (0-based) is the last of its planned visit.
pub fn last_of_visit(plan: &Plan, i: usize) -> bool {
    match (plan.steps.get(i), plan.steps.get(i + 1)) {
        (Some(a), Some(b)) => a.day != b.day,
        _ => true,
    }
}

/// The protocol days from planned visit `visit` (the plan's `day`) to the next one, as the
/// template counts them; a visit split off the same protocol day (by the per-day cap or closing
/// time) is one clinic day later. After the last visit: the gap into it (the up-dosing cadence).
pub fn gap_after_visit(plan: &Plan, visit: u32) -> i64 {
    let first_of = |v: u32| -> Option<&PlannedStep> { plan.steps.iter().find(|s| s.day == v) };
    let gap = |a: &PlannedStep, b: &PlannedStep| {
        i64::from(b.protocol_day.saturating_sub(a.protocol_day)).max(1)
    };
    match (first_of(visit), first_of(visit + 1)) {
        (Some(a), Some(b)) => gap(a, b),
        (Some(b), None) => match visit.checked_sub(1).and_then(first_of) {
            Some(a) => gap(a, b),
            None => 1,
        },
        _ => 1,
    }
}

/// The maintenance ladder of the course, if the rules have one written for the template's
/// maintenance volume; otherwise any maintenance reduction goes to the physician.
pub fn maintenance_ladder<'r>(
    rules: &'r CourseRules,
    template: &Template,
) -> Option<&'r MaintenanceLadder> {
    rules
        .maintenance_ladder
        .as_ref()
        .filter(|l| l.full_volume_ml == template.maintenance.volume_ml.ml())
}

/// The rung of a maintenance volume on its ladder: the highest rung not above it.
pub fn maintenance_rung(ladder: &MaintenanceLadder, volume_ml: Decimal) -> Option<usize> {
    ladder.volumes_ml.iter().rposition(|v| *v <= volume_ml)
}
