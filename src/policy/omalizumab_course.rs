//! An omalizumab course's plan: the label's dose for the pre-treatment values, and the injection
//! dates laid from the first one. Pure: the same inputs lay the same plan (a course's frozen plan
//! is laid again from its frozen inputs and compared).

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::omalizumab::{Dosing, OmalizumabTable};
use super::{Provenance, Ruled, read_provenance};
use crate::tomlread::{Diags, Table};

/// The `kind` of the rules file.
pub const KIND: &str = "omalizumab-course";

/// The rule-set name an omalizumab course is recorded under; it marks the course's kind, so no
/// immunotherapy rule set may be named so (the policy reader refuses it).
pub const COURSE_RULE_SET: &str = "omalizumab-label";

/// An omalizumab course's rules (`rules/omalizumab-course.toml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseRules {
    /// How many first injections get the longer observation.
    pub first_injections: u32,
    /// Minutes of observation after each of them.
    pub first_min: u32,
    /// Minutes of observation after later injections.
    pub later_min: u32,
    /// Where the observation rule comes from.
    pub observation: Provenance,
    /// Days after its date an injection may still be given without a physician.
    pub late_tolerance_days: Ruled<u32>,
    /// Days before its date (and before the interval after the last one) an injection may be
    /// given.
    pub early_tolerance_days: Ruled<u32>,
    /// What a late injection needs, in words.
    pub late_text: String,
    /// What a weight change needs, in words.
    pub weight_change_text: String,
    /// Where the weight rule comes from.
    pub weight_change: Provenance,
}

/// Reads a `kind = "omalizumab-course"` file.
pub(super) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<CourseRules> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "note",
            "observation",
            "late",
            "early",
            "weight_change",
        ],
    );
    let prov_keys = ["source", "evidence", "certainty", "note"];
    let o = doc.sub_table(diags, "observation", true)?;
    o.only_keys(
        diags,
        &[
            &["first_injections", "first_min", "later_min"][..],
            &prov_keys,
        ]
        .concat(),
    );
    let first_injections = o.count(diags, "first_injections", true);
    let first_min = o.count(diags, "first_min", true);
    let later_min = o.count(diags, "later_min", true);
    let observation = read_provenance(&o, diags);
    let l = doc.sub_table(diags, "late", true)?;
    l.only_keys(
        diags,
        &[&["tolerance_days", "text"][..], &prov_keys].concat(),
    );
    let tolerance = l.count(diags, "tolerance_days", true);
    let late_text = l.string(diags, "text", true);
    let late = read_provenance(&l, diags);
    // `[early]` came after the first omalizumab courses were frozen: a frozen rules file
    // without it keeps the rule those courses were decided by, 0 days (no injection before
    // its date), which is also the bundled file's value. Present, it must be complete.
    let early = match doc.sub_table(diags, "early", false) {
        Some(e) => {
            e.only_keys(diags, &[&["tolerance_days"][..], &prov_keys].concat());
            let days = e.count(diags, "tolerance_days", true);
            let prov = read_provenance(&e, diags);
            Some(Ruled {
                value: days?.value,
                provenance: prov?,
            })
        }
        None => Some(Ruled {
            value: 0,
            provenance: super::Provenance {
                source: "not in this rules file (frozen before [early] existed): 0 days, the rule it was decided by; Xolair EU SmPC section 4.2 and US prescribing information: every 2 or 4 weeks (docs/sources.md: xolair-eu-smpc, xolair-us-pi)".into(),
                evidence: super::Evidence::Label,
                certainty: super::Certainty::Confirmed,
            },
        }),
    };
    let w = doc.sub_table(diags, "weight_change", true)?;
    w.only_keys(diags, &[&["text"][..], &prov_keys].concat());
    let weight_text = w.string(diags, "text", true);
    let weight = read_provenance(&w, diags);
    Some(CourseRules {
        first_injections: first_injections?.value,
        first_min: first_min?.value,
        later_min: later_min?.value,
        observation: observation?,
        late_tolerance_days: Ruled {
            value: tolerance?.value,
            provenance: late?,
        },
        early_tolerance_days: early?,
        late_text: late_text?.value,
        weight_change_text: weight_text?.value,
        weight_change: weight?,
    })
}

/// What comes next on an omalizumab course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OmalizumabNext {
    /// An injection: its number, its date, the minutes to observe after it.
    Injection {
        /// Its number in the course, from 1.
        number: usize,
        /// Its date.
        due: NaiveDate,
        /// Before its date: not yet (no injection before its interval).
        not_before: bool,
        /// Minutes of observation after it.
        observation_min: u32,
        /// Where the observation comes from.
        observation_source: Provenance,
        /// Past its date and tolerance: what the rules say (a physician decides).
        late: Option<Late>,
        /// The dose, mg.
        dose_mg: u32,
        /// Syringes: (size mg, count), largest first.
        syringes: Vec<(u32, u32)>,
    },
    /// Every injection of the laid dates was given: the first year is over.
    Done,
}

/// A late injection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Late {
    /// Days past its date.
    pub days: i64,
    /// What the rules say.
    pub text: String,
    /// Where it comes from.
    pub provenance: Provenance,
}

/// The next injection of a plan after `given` injections (the last given on `last`), on
/// `today`. It is due on its planned date, and never before the label's interval after the last
/// injection given (a late injection moves the next one with it).
pub fn next(
    plan: &OmalizumabPlan,
    rules: &CourseRules,
    given: usize,
    last: Option<NaiveDate>,
    today: NaiveDate,
) -> OmalizumabNext {
    let Some(planned) = plan.dates.get(given).copied() else {
        return OmalizumabNext::Done;
    };
    let interval =
        last.and_then(|l| l.checked_add_days(Days::new(u64::from(plan.every_weeks) * 7)));
    let due = interval.map_or(planned, |i| i.max(planned));
    let number = given + 1;
    let first = usize::try_from(rules.first_injections).unwrap_or(usize::MAX);
    let observation_min = if number <= first {
        rules.first_min
    } else {
        rules.later_min
    };
    let days = (today - due).num_days();
    let late = (days > i64::from(rules.late_tolerance_days.value)).then(|| Late {
        days,
        text: rules.late_text.clone(),
        provenance: rules.late_tolerance_days.provenance.clone(),
    });
    OmalizumabNext::Injection {
        number,
        due,
        not_before: (due - today).num_days() > i64::from(rules.early_tolerance_days.value),
        observation_min,
        observation_source: rules.observation.clone(),
        late,
        dose_mg: plan.dose_mg,
        syringes: plan.syringes.clone(),
    }
}

/// How far ahead the injection dates are laid: the first year of treatment (the label reviews
/// the treatment at 16 weeks and the dose stays as long as the treatment goes on; the course
/// shows the dates of its first year, and a later year is a new course).
///
/// Not a clinical number, so not rules data: no source sets how long a course runs, this is the
/// record's horizon (the dates a course lays and shows, after which `next` says the first year
/// is over and a new course starts). No dose, interval or observation depends on it. It stays
/// in code because a frozen course's plan is laid again from its frozen rules files to verify
/// it: a horizon read from rules would need its own version for every frozen file.
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
    fn the_first_three_injections_are_observed_two_hours_later_ones_30_min_and_a_late_one_needs_a_physician()
     {
        let policy = Policy::bundled().expect("bundled");
        let eu = policy.omalizumab_table("eu").expect("eu");
        let rules = policy.omalizumab_course.as_ref().expect("course rules");
        let p = lay(
            eu,
            Decimal::from(410),
            Decimal::from(70),
            30,
            d("2026-12-07"),
        )
        .expect("dose");
        let obs = |given: usize, today: &str| match next(&p, rules, given, None, d(today)) {
            OmalizumabNext::Injection {
                number,
                observation_min,
                not_before,
                late,
                ..
            } => (number, observation_min, not_before, late.map(|l| l.days)),
            OmalizumabNext::Done => (0, 0, false, None),
        };
        assert_eq!(obs(0, "2026-12-01"), (1, 120, true, None));
        assert_eq!(obs(0, "2026-12-07"), (1, 120, false, None));
        assert_eq!(obs(2, "2027-02-01"), (3, 120, false, None));
        assert_eq!(obs(3, "2027-03-01"), (4, 30, false, None));
        // The early tolerance is the rules' (0 days in the labels): with 2 days, injection 1
        // may be given 2 days before its date, not 3.
        let mut two = rules.clone();
        two.early_tolerance_days.value = 2;
        let early = |today: &str| match next(&p, &two, 0, None, d(today)) {
            OmalizumabNext::Injection { not_before, .. } => not_before,
            OmalizumabNext::Done => false,
        };
        assert_eq!((early("2026-12-04"), early("2026-12-05")), (true, false));
        assert_eq!(obs(0, "2026-12-06"), (1, 120, true, None));
        // A day past its date, with no tolerance in the labels: late, a physician decides.
        assert_eq!(obs(3, "2027-03-02"), (4, 30, false, Some(1)));
        assert_eq!(
            next(&p, rules, p.dates.len(), None, d("2027-12-31")),
            OmalizumabNext::Done
        );
        // Injection 2 given 25 days late: injection 3 is due the interval after it, not on its
        // planned date 3 days later.
        let late2 = p.dates[1] + chrono::Duration::days(25);
        match next(&p, rules, 2, Some(late2), p.dates[2]) {
            OmalizumabNext::Injection {
                due, not_before, ..
            } => {
                assert!(not_before, "too soon after the late injection");
                assert_eq!(
                    due,
                    late2 + chrono::Duration::weeks(i64::from(p.every_weeks))
                );
            }
            OmalizumabNext::Done => panic!("injection 3"),
        }
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
