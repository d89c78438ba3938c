//! An omalizumab course's decision in words for the board, the daily sheet and the patient's
//! screen (the words `next` prints at length). It lays out the decision the ward returns; it
//! decides nothing.

use crate::course::omalizumab::{OmalizumabAction, OmalizumabDecision};
use crate::policy::omalizumab_course::OmalizumabNext;

/// The syringes of an injection: `4 × 150 mg`, `1 × 150 mg + 1 × 75 mg`.
pub fn syringes(s: &[(u32, u32)]) -> String {
    s.iter()
        .map(|(size, n)| format!("{n} × {size} mg"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The injection's product and dose: `omalizumab 600 mg (4 × 150 mg)`.
pub fn dose(dose_mg: u32, s: &[(u32, u32)]) -> String {
    format!("omalizumab {dose_mg} mg ({})", syringes(s))
}

/// A late injection, in words: `LATE by 3 days: only a physician gives it, with a reason`
/// (the labels give no rule for a late injection).
pub fn late(days: i64) -> String {
    format!(
        "LATE by {days} day{}: only a physician gives it, with a reason",
        if days == 1 { "" } else { "s" }
    )
}

/// The decision's headline, naming omalizumab: what the board and the patient's screen show.
pub fn headline(d: &OmalizumabDecision) -> String {
    match &d.action {
        OmalizumabAction::DoNotGive {
            held_by: Some(c), ..
        } => format!(
            "omalizumab: DO NOT GIVE: course {c} of the same patient awaits a physician"
        ),
        OmalizumabAction::DoNotGive { held_by: None, .. } => {
            "omalizumab: DO NOT GIVE: a systemic reaction on this course awaits a physician's review"
                .into()
        }
        OmalizumabAction::Stopped { .. } => "omalizumab: STOPPED by a physician".into(),
        OmalizumabAction::WeightChanged {
            frozen_kg,
            measured_kg,
            ..
        } => format!(
            "omalizumab: ASK THE PHYSICIAN: weight {} kg differs from the {} kg the dose was laid for",
            measured_kg.normalize(),
            frozen_kg.normalize()
        ),
        OmalizumabAction::OtherObservation { course, until, .. } => format!(
            "omalizumab: WAIT for the end of the observation on course {course} (until {} at least)",
            until.format("%H:%M")
        ),
        OmalizumabAction::Observe { until } => format!(
            "omalizumab: IN OBSERVATION until {}; then record its end (ritplan observe)",
            until.format("%H:%M")
        ),
        OmalizumabAction::Next(OmalizumabNext::Done) => {
            "omalizumab: every injection of the course's first year was given".into()
        }
        OmalizumabAction::Next(OmalizumabNext::Injection {
            number,
            due,
            not_before,
            observation_min,
            late: l,
            dose_mg,
            syringes: s,
            ..
        }) => {
            let when = if *not_before {
                format!("not before {due}")
            } else {
                format!("due {due}")
            };
            let late = l
                .as_ref()
                .map(|l| format!("; {}", late(l.days)))
                .unwrap_or_default();
            format!(
                "{} injection {number}, {when}; observe {observation_min} min after it{late}",
                dose(*dose_mg, s)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::omalizumab::OmalizumabDecision;
    use crate::policy::omalizumab_course::NOT_RECALCULATED;
    use chrono::NaiveDate;

    fn injection(late_days: Option<i64>) -> OmalizumabDecision {
        let prov = crate::policy::Provenance {
            source: "label".into(),
            evidence: crate::policy::Evidence::Label,
            certainty: crate::policy::Certainty::Confirmed,
        };
        OmalizumabDecision {
            action: OmalizumabAction::Next(OmalizumabNext::Injection {
                number: 2,
                due: NaiveDate::from_ymd_opt(2027, 1, 4).expect("date"),
                not_before: false,
                observation_min: 120,
                observation_source: prov.clone(),
                late: late_days.map(|days| crate::policy::omalizumab_course::Late {
                    days,
                    text: "a physician decides".into(),
                    provenance: prov.clone(),
                }),
                dose_mg: 375,
                syringes: vec![(150, 2), (75, 1)],
            }),
            note: NOT_RECALCULATED,
        }
    }

    #[test]
    fn an_injection_names_omalizumab_its_dose_its_syringes_and_a_late_one() {
        assert_eq!(
            headline(&injection(None)),
            "omalizumab 375 mg (2 × 150 mg + 1 × 75 mg) injection 2, due 2027-01-04; observe 120 min after it"
        );
        let h = headline(&injection(Some(3)));
        assert!(
            h.ends_with("; LATE by 3 days: only a physician gives it, with a reason"),
            "{h}"
        );
    }
}
