//! An omalizumab course's plan: the label's dose for the pre-treatment values, and the injection
//! dates laid from the first one. Pure: the same inputs lay the same plan (a course's frozen plan
//! is laid again from its frozen inputs and compared).

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::omalizumab::{Dosing, OmalizumabTable};

/// How far ahead the injection dates are laid: the first year of treatment (the label reviews
/// the treatment at 16 weeks and the dose stays as long as the treatment goes on; the course
/// shows the dates of its first year, and a later year is a new course).
pub const LAID_WEEKS: u32 = 52;

/// The sentence every output about an omalizumab course carries (the label's rule).
pub const NOT_RECALCULATED: &str = "the dose is not recalculated from IgE measured during treatment (label): it comes from the pre-treatment total IgE and the weight";

/// An omalizumab course's plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OmalizumabPlan {
    /// The label (`eu`, `us`).
    pub label: String,
    /// The label's table, named.
    pub table: String,
    /// Pre-treatment total IgE, IU/mL.
    pub total_ige: Decimal,
    /// Weight at the start, kg.
    pub weight_kg: Decimal,
    /// Age at the first injection, years.
    pub age_years: u32,
    /// mg per administration.
    pub dose_mg: u32,
    /// Weeks between administrations.
    pub every_weeks: u32,
    /// Injections per administration.
    pub injections: u32,
    /// Pre-filled syringes per administration: (size mg, count), largest first.
    pub syringes: Vec<(u32, u32)>,
    /// The injection dates of the first [`LAID_WEEKS`] weeks, the first one first.
    pub dates: Vec<NaiveDate>,
    /// Where the cell comes from.
    pub provenance: Option<super::Provenance>,
    /// The label's reminder (pre-treatment IgE).
    pub reminder: String,
    /// A condition the label attaches to a low pre-treatment IgE, if one applies.
    pub low_ige_condition: Option<String>,
}

/// Why the label gives no plan for these values: the value named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoDose(pub String);

/// Lays an omalizumab plan from the pre-treatment values; no dose unless the label's table has
/// an exact, undisputed cell for them.
pub fn lay(
    table: &OmalizumabTable,
    total_ige: Decimal,
    weight_kg: Decimal,
    age_years: u32,
    first: NaiveDate,
) -> Result<OmalizumabPlan, NoDose> {
    let (dose_mg, every_weeks, injections, syringes, provenance) = match table
        .lookup(total_ige, weight_kg, age_years)
    {
        Dosing::Dose {
            dose_mg,
            every_weeks,
            injections,
            syringes,
            provenance,
        } => (dose_mg, every_weeks, injections, syringes, provenance),
        Dosing::NotDosable { reason } => return Err(NoDose(reason)),
        Dosing::Unverified { candidates, .. } => {
            let c: Vec<String> = candidates
                .iter()
                .map(|c| c.map_or("not dosable".to_string(), |mg| format!("{mg} mg")))
                .collect();
            return Err(NoDose(format!(
                "the {} table's cell for total IgE {} IU/mL at {} kg is disputed by the sources ({}); it is not used until checked",
                table.id.to_uppercase(),
                total_ige.normalize(),
                weight_kg.normalize(),
                c.join(" or ")
            )));
        }
        Dosing::NoTable { note } => return Err(NoDose(note)),
    };
    if every_weeks == 0 {
        return Err(NoDose("the table's interval is 0 weeks".into()));
    }
    let dates = (0..LAID_WEEKS.div_ceil(every_weeks))
        .filter_map(|k| first.checked_add_days(Days::new(u64::from(k * every_weeks) * 7)))
        .collect();
    Ok(OmalizumabPlan {
        label: table.id.clone(),
        table: table.name.clone(),
        total_ige,
        weight_kg,
        age_years,
        dose_mg,
        every_weeks,
        injections,
        syringes,
        dates,
        provenance,
        reminder: table.reminder.clone(),
        low_ige_condition: table
            .low_ige_condition(total_ige, age_years)
            .map(|c| c.text.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_four_weekly_dose_lays_thirteen_dates_and_a_two_weekly_twenty_six() {
        let policy = Policy::bundled().expect("bundled");
        let eu = policy.omalizumab_table("eu").expect("eu");
        let p = lay(
            eu,
            Decimal::from(410),
            Decimal::from(31),
            9,
            d("2026-12-07"),
        )
        .expect("dose");
        assert_eq!((p.dose_mg, p.every_weeks), (450, 4));
        assert_eq!(p.syringes, vec![(150, 3)]);
        assert_eq!(p.dates.len(), 13);
        assert_eq!(p.dates[0], d("2026-12-07"));
        assert_eq!(p.dates[1], d("2027-01-04"));
        let p = lay(
            eu,
            Decimal::from(410),
            Decimal::from(75),
            30,
            d("2026-12-07"),
        )
        .expect("dose");
        assert_eq!((p.dose_mg, p.every_weeks), (375, 2));
        assert_eq!(p.syringes, vec![(150, 2), (75, 1)]);
        assert_eq!(p.dates.len(), 26);
        assert_eq!(p.dates[1], d("2026-12-21"));
    }

    #[test]
    fn no_plan_outside_the_table_or_in_a_disputed_cell_and_the_value_is_named() {
        let policy = Policy::bundled().expect("bundled");
        let eu = policy.omalizumab_table("eu").expect("eu");
        let e = lay(
            eu,
            Decimal::from(2000),
            Decimal::from(70),
            30,
            d("2026-12-07"),
        )
        .expect_err("outside");
        assert!(e.0.contains("2000"), "{}", e.0);
        let e = lay(
            eu,
            Decimal::from(550),
            Decimal::from(85),
            30,
            d("2026-12-07"),
        )
        .expect_err("disputed");
        assert!(e.0.contains("disputed") && e.0.contains("550"), "{}", e.0);
    }
}
