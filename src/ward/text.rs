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

/// A free-text value of at most [`TEXT_MAX`] characters: trimmed, not empty, no control
/// character.
pub fn text(field: &str, value: &str) -> Result<String, WardError> {
    bounded(field, value, TEXT_MAX)
}

/// A free-text value of at most `max` characters: trimmed, not empty, no control character.
pub fn bounded(field: &str, value: &str, max: usize) -> Result<String, WardError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(WardError::Data(format!("{field} is empty")));
    }
    let n = t.chars().count();
    if n > max {
        return Err(WardError::Data(format!(
            "{field} is {n} characters long; at most {max} are recorded"
        )));
    }
    if let Some(c) = t.chars().find(|c| c.is_control()) {
        return Err(WardError::Data(format!(
            "{field} contains a control character ({}): only printable text is recorded",
            c.escape_unicode()
        )));
    }
    Ok(t.to_string())
}

/// An optional free-text value of at most [`TEXT_MAX`] characters.
pub fn opt_text(field: &str, value: Option<&str>) -> Result<Option<String>, WardError> {
    value.map(|v| text(field, v)).transpose()
}

/// An optional free-text value of at most `max` characters.
pub fn opt_bounded(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, WardError> {
    value.map(|v| bounded(field, v, max)).transpose()
}

/// A staff account id: letters, digits, '.', '_', '-' and '@' (what a person types to log in).
pub fn staff_id(value: &str) -> Result<String, WardError> {
    let t = bounded("the staff id", value, ID_MAX)?;
    if !t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(WardError::Data(format!(
            "the staff id {t:?} may hold only letters, digits, '.', '_', '-' and '@'"
        )));
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

/// A volume as typed, in mL: a number above 0 (the course's check then holds it to what the
/// syringe measures and the vial allows).
pub fn volume(value: &str) -> Result<Volume, String> {
    crate::units::parse_decimal(value.trim())
        .filter(|v| *v > Decimal::ZERO)
        .map(Volume::from_ml)
        .ok_or_else(|| format!("{:?} is not a volume in mL above 0", value.trim()))
}

/// A number held to `0..=max` (or `1..=max`), named by `field` when it is not.
fn at_most(field: &str, value: u32, min: u32, max: u32, unit: &str) -> Result<u32, WardError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(WardError::Data(format!(
            "{field} {value} is not a whole number of {unit} from {min} to {max}"
        )))
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
        } => EventKind::DoseGiven {
            step,
            vial,
            volume_ml,
            dose,
            lot: opt_bounded("--lot", lot.as_deref(), LOT_MAX)?,
            site: opt_bounded("--site", site.as_deref(), SITE_MAX)?,
            pef_percent,
            screen_ok,
            override_reason: opt_text("--override", override_reason.as_deref())?,
            checked_by,
        },
        EventKind::ObservationEnded {
            local_mm,
            not_assessable,
            early_reason,
        } => EventKind::ObservationEnded {
            local_mm: local_mm
                .map(|mm| at_most("--local-mm", mm, 0, MAX_REACTION_MM, "mm"))
                .transpose()?,
            not_assessable,
            early_reason: opt_text("--early", early_reason.as_deref())?,
        },
        EventKind::SystemicReaction {
            grade,
            onset_min,
            symptom,
            treatment,
        } => EventKind::SystemicReaction {
            grade,
            onset_min: at_most("--onset-min", onset_min, 0, MAX_ONSET_MIN, "minutes")?,
            symptom: text("--symptom", &symptom)?,
            treatment: opt_text("--treatment", treatment.as_deref())?,
        },
        EventKind::LateReaction { kind, symptom } => EventKind::LateReaction {
            kind,
            symptom: text("--symptom", &symptom)?,
        },
        EventKind::DoseDeferred { reason } => EventKind::DoseDeferred {
            reason: text("--reason", &reason)?,
        },
        EventKind::LateLocalReaction { mm } => EventKind::LateLocalReaction {
            mm: at_most("--late-local-mm", mm, 0, MAX_REACTION_MM, "mm")?,
        },
        EventKind::PhysicianReview { decision, reason } => EventKind::PhysicianReview {
            decision: match decision {
                Review::StepBack { steps } => Review::StepBack {
                    steps: at_most("step-back:N", steps, 1, MAX_STEPS_BACK, "steps")?,
                },
                other => other,
            },
            reason: opt_text("--reason", reason.as_deref())?,
        },
        EventKind::Correction { corrects, reason } => EventKind::Correction {
            corrects,
            reason: text("--reason", &reason)?,
        },
        EventKind::Note { text: t } => EventKind::Note {
            text: text("--text", &t)?,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_ids_trimmed() {
        assert_eq!(text("name", " Li Na ").ok().as_deref(), Some("Li Na"));
        for bad in ["Li\u{1b}[31mNa", "Li\nNa", "\u{7}", "a\u{0}b", "x\u{9b}y"] {
            let e = text("--name", bad).expect_err(bad);
            assert!(
                e.to_string()
                    .contains("--name contains a control character"),
                "{e}"
            );
        }
        assert!(text("--lot", "   ").is_err());
        // Lengths are counted in characters, and the limit itself is accepted.
        assert!(bounded("--name", &"é".repeat(NAME_MAX), NAME_MAX).is_ok());
        let e = bounded("--name", &"é".repeat(NAME_MAX + 1), NAME_MAX).expect_err("too long");
        assert!(
            e.to_string()
                .contains("--name is 201 characters long; at most 200"),
            "{e}"
        );
        assert!(text("--reason", &"x".repeat(TEXT_MAX)).is_ok());
        assert!(text("--reason", &"x".repeat(1 << 20)).is_err());
        let long_note = EventKind::Note {
            text: "x".repeat(TEXT_MAX + 1),
        };
        assert!(event(long_note).is_err());
        // Numbers past their bounds, whatever front end sent them.
        let e = event(EventKind::LateLocalReaction { mm: 501 }).expect_err("501 mm");
        assert!(e.to_string().contains("from 0 to 500"), "{e}");
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
        };
        assert!(event(review(0)).is_err());
        assert!(event(review(101)).is_err());
        assert!(event(review(100)).is_ok());
        assert!(opt_bounded("--lot", Some(&"L".repeat(LOT_MAX + 1)), LOT_MAX).is_err());
        assert!(opt_bounded("--lot", Some("AB123"), LOT_MAX).is_ok());
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
