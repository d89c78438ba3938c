//! The clinic calendar, and laying the sessions on clinic days and the steps on clock times.

use super::adjust::{Spacing, Work};
use super::*;
use crate::policy::risk::AdjustmentRule;
use crate::template::Maintenance;

/// When the clinic gives injections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClinicCalendar {
    /// Opening time.
    pub opens: NaiveTime,
    /// Closing time: the last observation must end by then.
    pub closes: NaiveTime,
    /// Clinic weekdays.
    pub days: Vec<Weekday>,
    /// Dates the clinic is closed (holidays): no plan or course puts an injection on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<NaiveDate>,
}

/// At most this many closed dates (a bound on the search for the next clinic day).
pub const MAX_CLOSED: usize = 366;

impl ClinicCalendar {
    /// Whether `d` is a clinic day: a clinic weekday the clinic is not closed on.
    pub fn is_clinic_day(&self, d: NaiveDate) -> bool {
        self.days.contains(&d.weekday()) && !self.closed.contains(&d)
    }

    /// The first clinic day on or after `d` (`None` if the calendar has no clinic day within
    /// the bound that closed dates can push it to).
    pub fn on_or_after(&self, d: NaiveDate) -> Option<NaiveDate> {
        (0..(7 + 7 * MAX_CLOSED as u64))
            .filter_map(|i| d.checked_add_days(chrono::Days::new(i)))
            .find(|x| self.is_clinic_day(*x))
    }
}

/// Refuses a calendar with no opening hours, and a start off a clinic day or outside opening
/// hours.
pub(super) fn check_start(cal: &ClinicCalendar, start: NaiveDateTime) -> Result<(), PlanError> {
    if cal.days.is_empty() || cal.opens >= cal.closes {
        return Err(PlanError::BadCalendar(
            "the clinic calendar has no opening hours".into(),
        ));
    }
    if !cal.is_clinic_day(start.date()) {
        let next = cal
            .on_or_after(start.date())
            .map(|d| format!("; the next clinic day is {d}"))
            .unwrap_or_default();
        return Err(PlanError::BadStart(format!(
            "{} ({}) is not a clinic day{next}",
            start.date(),
            start.date().weekday()
        )));
    }
    if start.time() < cal.opens || start.time() >= cal.closes {
        return Err(PlanError::BadStart(format!(
            "{} is outside opening hours ({}–{})",
            start.time().format("%H:%M"),
            cal.opens.format("%H:%M"),
            cal.closes.format("%H:%M")
        )));
    }
    Ok(())
}

/// The planned steps, the date they end on, and how often the rest of a day moved to the next
/// clinic day.
pub(super) struct Laid {
    pub(super) steps: Vec<PlannedStep>,
    pub(super) date: NaiveDate,
    pub(super) moved: usize,
}

/// Lays the sessions on clinic days (keeping the template's gaps) and the steps on clock times.
pub(super) fn lay(
    cal: &ClinicCalendar,
    start: NaiveDateTime,
    template: &Template,
    work: &[Work],
    gaps: &[u32],
    spacing: Spacing,
) -> Result<Laid, PlanError> {
    let Spacing { min_interval, cap } = spacing;
    let mut steps: Vec<PlannedStep> = Vec::new();
    let mut date = start.date();
    let mut day_no = 1u32;
    let mut session_of_day: Option<usize> = None;
    let mut time = start.time();
    let mut on_day = 0usize;
    let mut moved = 0usize;
    let mut total = Dose::new(Decimal::ZERO, template.unit);
    for (i, w) in work.iter().enumerate() {
        let last_of_session = work.get(i + 1).is_none_or(|n| n.session != w.session);
        let observation = if last_of_session {
            w.observation
                .max(template.timing.last_of_day_observation_min)
        } else {
            w.observation
        };
        // Any injection may turn out to be the day's last (when the rest of the day moves to the
        // next clinic day), so each must leave room for the day-end observation.
        let room = i64::from(observation.max(template.timing.last_of_day_observation_min));
        if session_of_day != Some(w.session) {
            if let Some(prev) = session_of_day {
                // A new protocol day: keep the template's gap, on a clinic day.
                let gap: u32 = gaps[prev + 1..=w.session].iter().sum();
                date = next_clinic_day(cal, date, i64::from(gap.max(1)))?;
                day_no += 1;
                time = cal.opens;
                on_day = 0;
            }
            session_of_day = Some(w.session);
        } else {
            // Same day: after the previous observation and the minimum interval.
            let prev = steps.last().map_or(0, |p| p.observation_min);
            let wait = i64::from(min_interval.max(prev));
            let next = time + Duration::minutes(wait);
            let over_cap = cap.is_some_and(|c| on_day >= c);
            let fits = next > time && next + Duration::minutes(room) <= cal.closes;
            if over_cap || !fits {
                // Move the rest of this protocol day to the next clinic day.
                date = next_clinic_day(cal, date, 1)?;
                day_no += 1;
                time = cal.opens;
                on_day = 0;
                moved += 1;
            } else {
                time = next;
            }
        }
        if time + Duration::minutes(room) > cal.closes || time < cal.opens {
            return Err(PlanError::BadCalendar(format!(
                "an injection at {} with {room} min of observation does not fit in opening hours {}–{}",
                time.format("%H:%M"),
                cal.opens.format("%H:%M"),
                cal.closes.format("%H:%M")
            )));
        }
        let vial = &template.vials[w.vial];
        total = total.checked_add(w.dose).unwrap_or(total);
        let same_day = steps.last().is_some_and(|p| p.date == date);
        steps.push(PlannedStep {
            index: steps.len() + 1,
            day: day_no,
            protocol_day: w.protocol_day,
            date,
            time,
            vial: vial.id.clone(),
            vial_label: vial.label.clone(),
            cap: vial.cap.clone(),
            concentration: vial.concentration,
            unit: vial.unit,
            volume_ml: w.volume,
            dose: w.dose,
            cumulative_dose: total,
            observation_min: observation,
            min_interval_min: same_day.then_some(min_interval),
            template_step: w.template_step,
            phase: work[i..]
                .iter()
                .find_map(|n| n.template_step)
                .and_then(|t| template.step_phase(t)),
        });
        on_day += 1;
    }
    day_end_observation(&mut steps, template);
    Ok(Laid { steps, date, moved })
}

/// The day-end observation belongs to each date's last injection.
fn day_end_observation(steps: &mut [PlannedStep], template: &Template) {
    for i in 0..steps.len() {
        let last = steps.get(i + 1).is_none_or(|n| n.date != steps[i].date);
        if last {
            steps[i].observation_min = steps[i]
                .observation_min
                .max(template.timing.last_of_day_observation_min);
        }
    }
}

/// The adjustment that says how often the rest of a day moved to the next clinic day.
pub(super) fn moved_adjustment(
    moved: usize,
    cap: Option<usize>,
    rule: &AdjustmentRule,
) -> Option<Adjustment> {
    if moved == 0 {
        return None;
    }
    let why = match cap {
        Some(c) => format!(
            "at most {c} injections a day, and the day's last observation must end by closing time"
        ),
        None => "the day's last observation must end by closing time".into(),
    };
    Some(Adjustment::new(
        format!(
            "{moved} time{} the rest of a day moved to the next clinic day ({why}).",
            if moved == 1 { "" } else { "s" }
        ),
        &rule.provenance,
    ))
}

/// The first maintenance dates after `from`: the first intervals, then two regular ones.
pub(super) fn maintenance_dates(
    cal: &ClinicCalendar,
    from: NaiveDate,
    m: &Maintenance,
) -> Result<Vec<NaiveDate>, PlanError> {
    let mut first_dates = Vec::new();
    let mut d = from;
    for w in m
        .first_intervals_weeks
        .iter()
        .chain(std::iter::repeat_n(&m.interval_weeks, 2))
    {
        d = next_clinic_day(cal, d, i64::from(*w) * 7)?;
        first_dates.push(d);
    }
    Ok(first_dates)
}

/// The first clinic day at least `days` after `from`.
pub(super) fn next_clinic_day(
    cal: &ClinicCalendar,
    from: NaiveDate,
    days: i64,
) -> Result<NaiveDate, PlanError> {
    let d = Duration::try_days(days)
        .and_then(|d| from.checked_add_signed(d))
        .ok_or_else(|| {
            PlanError::BadCalendar(format!(
                "the schedule runs past the calendar's last date ({days} days after {from})"
            ))
        })?;
    cal.on_or_after(d)
        .ok_or_else(|| PlanError::BadCalendar("the clinic calendar has no clinic day".into()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ok, run, run_with};
    use super::super::*;
    use crate::testkit::{bundled as fixture, date, patient, weekdays};

    #[test]
    fn a_rush_skips_the_weekend() {
        let f = fixture();
        let p = ok(run(
            &f,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-11",
            None,
        ));
        let days: Vec<String> = p
            .steps
            .iter()
            .map(|s| s.date.format("%a").to_string())
            .collect();
        assert_eq!(days.first().map(String::as_str), Some("Fri"));
        assert!(days.contains(&"Mon".to_string()) && days.contains(&"Tue".to_string()));
        assert!(!days.iter().any(|d| d == "Sat" || d == "Sun"));
    }

    #[test]
    fn a_start_outside_the_calendar_is_an_error() {
        let f = fixture();
        let p = patient(34, "2", "410", None);
        assert!(
            matches!(run(&f, "example-hdm-rush-3d", &p, "2026-12-06", None), Err(PlanError::BadStart(m)) if m.contains("next clinic day is 2026-12-07"))
        );
        assert!(matches!(
            run(&f, "example-hdm-rush-3d", &p, "2026-12-07T06:00", None),
            Err(PlanError::BadStart(_))
        ));
    }

    #[test]
    fn closed_dates_are_not_clinic_days() {
        let cal = ClinicCalendar {
            closed: vec![date("2026-12-24"), date("2026-12-25")],
            ..weekdays()
        };
        assert!(!cal.is_clinic_day(date("2026-12-24")));
        assert_eq!(
            cal.on_or_after(date("2026-12-24")),
            Some(date("2026-12-28"))
        );
        let none = ClinicCalendar {
            days: Vec::new(),
            ..weekdays()
        };
        assert_eq!(none.on_or_after(date("2026-12-24")), None, "bounded search");
    }

    #[test]
    fn a_day_too_short_moves_the_rest_to_the_next_clinic_day() {
        let f = fixture();
        let cal = ClinicCalendar {
            closes: NaiveTime::from_hms_opt(11, 0, 0).expect("time"),
            ..weekdays()
        };
        let p = ok(run_with(
            &f,
            &f.policy.risk,
            "example-hdm-rush-3d",
            &patient(34, "2", "410", None),
            "2026-12-07",
            None,
            &cal,
        ));
        for s in &p.steps {
            assert!(
                s.time + Duration::minutes(i64::from(s.observation_min)) <= cal.closes,
                "{s:?}"
            );
        }
        assert!(
            p.adjustments
                .iter()
                .any(|a| a.text.contains("moved to the next clinic day"))
        );
    }
}
