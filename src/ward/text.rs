//! Hygiene for what people type: every free-text field (names, ids, lots, reasons, notes,
//! symptoms) is trimmed and refused if it holds a control character (an escape sequence or a
//! newline would be printed raw to a terminal, or forge a line of the log). Ids are trimmed and
//! then compared exactly, case-sensitively.
//!
//! Every free-text value is bounded in length (counted in characters), so that nothing a
//! person or a script sends is kept forever at any size and sent again with every board and
//! sheet: a name 200 characters, an id 64, a lot or a site 60, a reason, symptom, treatment or
//! note 1 000. A longer value is refused naming the field, and nothing is written.

use super::WardError;
use rust_decimal::Decimal;

use crate::course::EventKind;
use crate::field::Field;
use crate::units::Volume;

/// The longest name (a patient's, a staff member's, the clinic's), in characters.
pub const NAME_MAX: usize = 200;
/// The longest id (a patient's, a staff account's).
pub const ID_MAX: usize = 64;
/// The longest lot number.
pub const LOT_MAX: usize = 60;
/// The longest injection site.
pub const SITE_MAX: usize = 60;
/// The longest reason, symptom, treatment or note.
pub const TEXT_MAX: usize = 1000;

/// The most characters `field` holds.
pub fn max_len(field: Field) -> usize {
    match field {
        Field::Name | Field::Clinic => NAME_MAX,
        Field::PatientId | Field::PatientCheck | Field::StaffId => ID_MAX,
        Field::Lot => LOT_MAX,
        Field::Manufacturer => NAME_MAX,
        Field::Site => SITE_MAX,
        Field::Medication => NAME_MAX,
        Field::DailyDose => crate::course::followup::DOSE_UNIT_MAX,
        _ => TEXT_MAX,
    }
}

fn input(field: Field, problem: String) -> WardError {
    WardError::Input { field, problem }
}

/// A free-text value of at most [`max_len`] characters for its field: trimmed, not empty, no
/// control character.
pub fn text(field: Field, value: &str) -> Result<String, WardError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(input(field, "is empty".into()));
    }
    let (n, max) = (t.chars().count(), max_len(field));
    if n > max {
        return Err(input(
            field,
            format!("is {n} characters long; at most {max} are recorded"),
        ));
    }
    if let Some(c) = t.chars().find(|c| c.is_control()) {
        return Err(input(
            field,
            format!(
                "contains a control character ({}): only printable text is recorded",
                c.escape_unicode()
            ),
        ));
    }
    Ok(t.to_string())
}

/// An optional free-text value.
pub fn opt_text(field: Field, value: Option<&str>) -> Result<Option<String>, WardError> {
    value.map(|v| text(field, v)).transpose()
}

/// A staff account id: letters, digits, '.', '_', '-' and '@' (what a person types to log in).
pub fn staff_id(value: &str) -> Result<String, WardError> {
    let t = text(Field::StaffId, value)?;
    if !t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(input(
            Field::StaffId,
            format!("{t:?} may hold only letters, digits, '.', '_', '-' and '@'"),
        ));
    }
    Ok(t)
}

/// A pre-dose PEF or FEV1 as typed: a percentage of the patient's best above 0 and at most
/// 200 (a value above that is a typing error, not a lung). The error says why, without the
/// field's name (each front end names its own field).
pub fn pef(value: &str) -> Result<Decimal, String> {
    crate::units::parse_decimal(value.trim())
        .filter(|v| *v > Decimal::ZERO && *v <= Decimal::from(200))
        .ok_or_else(|| {
            format!(
                "{:?} is not a percentage of the best above 0 and at most 200",
                value.trim()
            )
        })
}

/// A premedication answer as typed: `none` (not taken), a clock time `HH:MM` on the dose's
/// day `day`, or a date and time (`2026-12-01 21:30`, `2026-12-01T21:30`). The error says why,
/// without the field's name.
pub fn premedication(
    value: &str,
    day: chrono::NaiveDate,
) -> Result<crate::course::PremedicationAnswer, String> {
    use crate::course::PremedicationAnswer;
    let v = value.trim();
    if v.eq_ignore_ascii_case("none") {
        return Ok(PremedicationAnswer::NotTaken);
    }
    if let Ok(t) = chrono::NaiveTime::parse_from_str(v, "%H:%M") {
        return Ok(PremedicationAnswer::Taken(day.and_time(t)));
    }
    for f in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, f) {
            return Ok(PremedicationAnswer::Taken(t));
        }
    }
    Err(format!(
        "{v:?} is not when the premedication was taken: a time HH:MM (today), a date and time YYYY-MM-DD HH:MM, or none"
    ))
}

/// A volume as typed, in mL: a number above 0 (the course's check then holds it to what the
/// syringe measures and the vial allows).
pub fn volume(value: &str) -> Result<Volume, String> {
    crate::units::parse_decimal(value.trim())
        .filter(|v| *v > Decimal::ZERO)
        .map(Volume::from_ml)
        .ok_or_else(|| format!("{:?} is not a volume in mL above 0", value.trim()))
}

/// A number held to `0..=max` (or `1..=max`), named by `field` when it is not.
fn at_most(field: Field, value: u32, min: u32, max: u32, unit: &str) -> Result<u32, WardError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(input(
            field,
            format!("{value} is not a whole number of {unit} from {min} to {max}"),
        ))
    }
}

/// The free text inside an event, cleaned, and its numbers held to their bounds
/// ([`crate::course::MAX_REACTION_MM`] and the others): the same check for every front end.
pub fn event(kind: EventKind) -> Result<EventKind, WardError> {
    use crate::course::{MAX_ONSET_MIN, MAX_REACTION_MM, MAX_STEPS_BACK, Review};
    Ok(match kind {
        EventKind::DoseGiven {
            step,
            vial,
            volume_ml,
            dose,
            lot,
            site,
            pef_percent,
            screen_ok,
            override_reason,
            checked_by,
            vial_code,
            phase,
            premedication,
        } => EventKind::DoseGiven {
            step,
            vial,
            volume_ml,
            dose,
            lot: opt_text(Field::Lot, lot.as_deref())?,
            site: opt_text(Field::Site, site.as_deref())?,
            pef_percent,
            screen_ok,
            override_reason: opt_text(Field::Override, override_reason.as_deref())?,
            checked_by,
            vial_code,
            phase,
            premedication: premedication
                .map(|p| -> Result<_, WardError> {
                    Ok(crate::course::PremedicationRecord {
                        taken_at: p.taken_at,
                        accepted: opt_text(Field::AcceptPremedication, p.accepted.as_deref())?,
                    })
                })
                .transpose()?,
        },
        EventKind::ObservationEnded {
            local_mm,
            not_assessable,
            early_reason,
        } => EventKind::ObservationEnded {
            local_mm: local_mm
                .map(|mm| at_most(Field::LocalMm, mm, 0, MAX_REACTION_MM, "mm"))
                .transpose()?,
            not_assessable,
            early_reason: opt_text(Field::Early, early_reason.as_deref())?,
        },
        EventKind::SystemicReaction {
            grade,
            onset_min,
            symptom,
            treatment,
        } => EventKind::SystemicReaction {
            grade,
            onset_min: at_most(Field::OnsetMin, onset_min, 0, MAX_ONSET_MIN, "minutes")?,
            symptom: text(Field::Symptom, &symptom)?,
            treatment: opt_text(Field::Treatment, treatment.as_deref())?,
        },
        EventKind::LateReaction { kind, symptom } => EventKind::LateReaction {
            kind,
            symptom: text(Field::Symptom, &symptom)?,
        },
        EventKind::DoseDeferred { reason } => EventKind::DoseDeferred {
            reason: text(Field::Reason, &reason)?,
        },
        EventKind::LateLocalReaction { mm } => EventKind::LateLocalReaction {
            mm: at_most(Field::LateLocalMm, mm, 0, MAX_REACTION_MM, "mm")?,
        },
        EventKind::PhysicianReview {
            decision,
            reason,
            about,
        } => EventKind::PhysicianReview {
            about,
            decision: match decision {
                Review::StepBack { steps } => Review::StepBack {
                    steps: at_most(Field::StepsBack, steps, 1, MAX_STEPS_BACK, "steps")?,
                },
                other => other,
            },
            reason: opt_text(Field::Reason, reason.as_deref())?,
        },
        EventKind::Correction { corrects, reason } => EventKind::Correction {
            corrects,
            reason: text(Field::Reason, &reason)?,
        },
        EventKind::Note { text: t } => EventKind::Note {
            text: text(Field::Note, &t)?,
        },
        EventKind::WeightMeasured { weight_kg } => EventKind::WeightMeasured {
            weight_kg: crate::patient::parse_weight(weight_kg.trim())?
                .normalize()
                .to_string(),
        },
        EventKind::FollowUp {
            date,
            acq,
            fev1_percent,
            medication,
        } => {
            let medication = medication
                .map(|m| {
                    m.into_iter()
                        .map(|u| -> Result<_, WardError> {
                            Ok(crate::course::followup::MedicationUse {
                                drug: text(Field::Medication, &u.drug)?,
                                daily_dose: crate::course::followup::DailyDose {
                                    amount: u.daily_dose.amount.normalize(),
                                    unit: text(Field::DailyDose, &u.daily_dose.unit)?,
                                },
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            // The bounds that need no patient and no clock (the ward checks the date).
            crate::course::followup::check(
                date,
                acq.as_ref(),
                fev1_percent,
                medication.as_deref(),
                date,
                date,
            )
            .map_err(|(field, problem)| input(field, problem))?;
            EventKind::FollowUp {
                date,
                acq,
                fev1_percent: fev1_percent.map(|f| f.normalize()),
                medication,
            }
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_ids_trimmed() {
        assert_eq!(text(Field::Name, " Li Na ").ok().as_deref(), Some("Li Na"));
        for bad in ["Li\u{1b}[31mNa", "Li\nNa", "\u{7}", "a\u{0}b", "x\u{9b}y"] {
            let e = text(Field::Name, bad).expect_err(bad);
            assert!(
                matches!(&e, WardError::Input { field: Field::Name, problem } if problem.starts_with("contains a control character")),
                "{e}"
            );
            assert!(
                e.to_string()
                    .starts_with("the name contains a control character")
            );
        }
        assert!(text(Field::Lot, "   ").is_err());
        assert_eq!(staff_id(" rn.li ").ok().as_deref(), Some("rn.li"));
        assert!(staff_id("rn li").is_err());
        // Lengths are counted in characters, each field to its own limit, the limit accepted.
        assert!(text(Field::Name, &"é".repeat(NAME_MAX)).is_ok());
        let e = text(Field::Name, &"é".repeat(NAME_MAX + 1)).expect_err("too long");
        assert_eq!(
            e.to_string(),
            "the name is 201 characters long; at most 200 are recorded"
        );
        assert!(text(Field::Reason, &"x".repeat(TEXT_MAX)).is_ok());
        assert!(text(Field::Reason, &"x".repeat(1 << 20)).is_err());
        assert!(text(Field::Lot, &"L".repeat(LOT_MAX + 1)).is_err());
        assert!(text(Field::Lot, "AB123").is_ok());
        assert!(text(Field::PatientId, &"P".repeat(ID_MAX + 1)).is_err());
        let long_note = EventKind::Note {
            text: "x".repeat(TEXT_MAX + 1),
        };
        assert!(event(long_note).is_err());
        // Numbers past their bounds, whatever front end sent them.
        let e = event(EventKind::LateLocalReaction { mm: 501 }).expect_err("501 mm");
        assert_eq!(
            e.to_string(),
            "the late local reaction 501 is not a whole number of mm from 0 to 500"
        );
        assert!(event(EventKind::LateLocalReaction { mm: 500 }).is_ok());
        let obs = |mm| EventKind::ObservationEnded {
            local_mm: Some(mm),
            not_assessable: false,
            early_reason: None,
        };
        assert!(event(obs(u32::MAX)).is_err());
        assert!(event(obs(0)).is_ok());
        let review = |steps| EventKind::PhysicianReview {
            decision: crate::course::Review::StepBack { steps },
            reason: Some("why".into()),
            about: None,
        };
        assert!(event(review(0)).is_err());
        assert!(event(review(101)).is_err());
        assert!(event(review(100)).is_ok());
        assert_eq!(staff_id(" rn.li ").ok().as_deref(), Some("rn.li"));
        assert!(staff_id("rn li").is_err());
    }

    #[test]
    fn pef_and_volume_are_bounded() {
        assert_eq!(pef(" 95 ").ok(), Some(Decimal::from(95)));
        assert_eq!(pef("200").ok(), Some(Decimal::from(200)));
        for bad in ["0", "-5", "200.1", "ninety", "", "1e9"] {
            assert!(pef(bad).is_err(), "{bad}");
        }
        assert!(volume("0.1").is_ok());
        for bad in ["0", "-0.1", "a lot", ""] {
            assert!(volume(bad).is_err(), "{bad}");
        }
    }
}
