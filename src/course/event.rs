//! What can happen in a course: the events of its append-only record. Stored as JSON, externally
//! tagged (`{"dose_given": {...}}`) so that they round-trip exactly (serde_json's exact numbers do
//! not survive internally tagged enums). Fields added after format 1 default when absent, so
//! older records still read.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::policy::course::LateKind;
use crate::units::{Dose, Volume};

/// A WAO systemic-reaction grade (1-5) with its epinephrine suffix (a, b, c, d, z).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaoGrade {
    /// 1 to 5.
    pub grade: u8,
    /// a ≤5 min, b >5-≤10, c >10-≤20, d >20 min, z: epinephrine not given.
    pub suffix: char,
}

impl FromStr for WaoGrade {
    type Err = String;
    /// `2a`, `1z`, `3c`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let mut chars = s.chars();
        let (Some(g), Some(x), None) = (chars.next(), chars.next(), chars.next()) else {
            return Err(format!(
                "{s:?} is not a WAO grade: write the grade and the epinephrine suffix, e.g. 2a or 1z"
            ));
        };
        let grade = g
            .to_digit(10)
            .filter(|d| (1..=5).contains(d))
            .ok_or_else(|| format!("{s:?}: the WAO grade must be 1 to 5"))?;
        let suffix = x.to_ascii_lowercase();
        if !"abcdz".contains(suffix) {
            return Err(format!(
                "{s:?}: the epinephrine suffix must be a, b, c, d or z"
            ));
        }
        Ok(WaoGrade {
            grade: grade as u8,
            suffix,
        })
    }
}

impl fmt::Display for WaoGrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.grade, self.suffix)
    }
}

impl Serialize for WaoGrade {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for WaoGrade {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A physician's decision. "Step back N" is N distinct doses down the ladder of the course's
/// phase (up-dosing doses, or the maintenance volumes), never N injections of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Go on as the rules say after the event that asked for the review.
    Continue,
    /// The last dose again.
    Repeat,
    /// `steps` dose steps below the last dose.
    StepBack {
        /// How many.
        steps: u32,
    },
    /// From the first step.
    Restart,
    /// End the course (a later review with a reason may resume it).
    Stop,
}

impl FromStr for Review {
    type Err = String;
    /// `continue`, `repeat`, `step-back:N`, `restart`, `stop`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "continue" => Ok(Review::Continue),
            "repeat" => Ok(Review::Repeat),
            "restart" => Ok(Review::Restart),
            "stop" => Ok(Review::Stop),
            other => other
                .strip_prefix("step-back:")
                .and_then(|n| n.parse().ok())
                .filter(|n| (1..=MAX_STEPS_BACK).contains(n))
                .map(|steps| Review::StepBack { steps })
                .ok_or_else(|| {
                    format!(
                        "{other:?} is not a decision: continue, repeat, step-back:N (N from 1 to 100), restart or stop"
                    )
                }),
        }
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Review::Continue => f.write_str("continue"),
            Review::Repeat => f.write_str("repeat"),
            Review::StepBack { steps } => write!(f, "step-back:{steps}"),
            Review::Restart => f.write_str("restart"),
            Review::Stop => f.write_str("stop"),
        }
    }
}

/// What a physician's review answers, as the ward saw the course when it recorded the review
/// (`course::review_about`). A vial-change hold is computed, not stored: it shows only while
/// the vial in hand is known, so a review lifts it only when it was recorded while the course
/// showed that very hold (for a vial with a record), or, for a vial known only by a lot typed
/// at `give` (whose hold the course cannot show before the give is refused), while the course
/// showed no hold at all; and always after the last dose. A review answering a reaction, a late
/// dose or a stop never lifts a vial change it did not show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAbout {
    /// The vial-change hold of the first dose from this vial: the template vial and the lot of
    /// the vial in hand.
    VialChange {
        /// The template vial id.
        vial: String,
        /// The lot in hand.
        lot: String,
    },
    /// Another hold (a reaction, a late dose, a stop, another course).
    OtherHold,
    /// No hold was shown.
    NoHold,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The largest local reaction (an infiltrate's diameter) recorded, in mm. These input bounds are
/// a safety floor in code on purpose, not clinical policy: a value past them is a typing error
/// (a 5 000 mm wheal, an onset a week after the injection), refused for every front end by the
/// ward before it can reach a rule's band.
pub const MAX_REACTION_MM: u32 = 500;
/// The latest onset of a systemic reaction recorded, in minutes after the injection (48 h).
pub const MAX_ONSET_MIN: u32 = 2880;
/// The most dose steps a physician's review steps back.
pub const MAX_STEPS_BACK: u32 = 100;
/// The highest step number a command or form names.
pub const MAX_STEP: usize = 10_000;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A dose was given.
    DoseGiven {
        /// The plan step (1-based); above the plan's last step: maintenance dose number
        /// (step - plan length).
        step: usize,
        /// Vial id.
        vial: String,
        /// Volume.
        volume_ml: Volume,
        /// Dose.
        #[serde(with = "crate::units::dose_with_unit")]
        dose: Dose,
        /// Lot number.
        lot: Option<String>,
        /// Arm.
        site: Option<String>,
        /// Pre-dose PEF or FEV1, % of the patient's best.
        #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
        pef_percent: Option<Decimal>,
        /// The pre-injection health questions were asked and all answered no.
        screen_ok: bool,
        /// A physician's reason for giving a lower dose than the one allowed.
        override_reason: Option<String>,
        /// The staff account that checked the dose before it was given (a second person).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checked_by: Option<String>,
        /// The code of the vial the dose was drawn from (`V000001`), when it was scanned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vial_code: Option<String>,
        /// The phase the dose belongs to (rush or up-dosing, consolidation, maintenance), when
        /// the course's template names its phases; absent in older records and for templates
        /// that name none (then: up-dosing for a plan step, maintenance above the plan).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<crate::template::Phase>,
        /// What the give said about the template's premedication, when it asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        premedication: Option<PremedicationRecord>,
    },
    /// The observation after a dose ended.
    ObservationEnded {
        /// Immediate local reaction (infiltrate diameter), mm.
        local_mm: Option<u32>,
        /// The local reaction could not be assessed: escalation waits for a physician.
        #[serde(default, skip_serializing_if = "is_false")]
        not_assessable: bool,
        /// Why it ended before the planned minimum (e.g. the patient left against advice).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        early_reason: Option<String>,
    },
    /// A systemic reaction.
    SystemicReaction {
        /// WAO grade with suffix.
        grade: WaoGrade,
        /// Minutes from injection to onset.
        onset_min: u32,
        /// First symptom.
        symptom: String,
        /// Treatment given.
        treatment: Option<String>,
    },
    /// A late local reaction (6-24 h).
    LateLocalReaction {
        /// Diameter, mm.
        mm: u32,
    },
    /// A late (6-24 h) reaction other than a local one.
    LateReaction {
        /// Its type.
        kind: LateKind,
        /// What was seen.
        symptom: String,
    },
    /// Today's dose is deferred.
    DoseDeferred {
        /// Why.
        reason: String,
    },
    /// A physician reviewed the course.
    PhysicianReview {
        /// The decision.
        decision: Review,
        /// Why (required to resume a stopped course: the correctable cause).
        reason: Option<String>,
        /// What the review answers: the hold the course showed when the ward recorded it (set
        /// by the ward, never by a front end; absent in older records: then it answers no vial
        /// change). See [`ReviewAbout`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<ReviewAbout>,
    },
    /// An earlier event was wrong; it no longer counts.
    Correction {
        /// The sequence number of the event corrected.
        corrects: u64,
        /// Why.
        reason: String,
    },
    /// Free text.
    Note {
        /// Text.
        text: String,
    },
    /// A vial of the course's template was put in use: its own code, unique in the record.
    VialAdded {
        /// Its code (`V` and six digits), allocated record-wide.
        code: String,
        /// The template's vial id.
        vial: String,
        /// The manufacturer's lot.
        lot: String,
        /// The lot's expiry date (on the manufacturer's label).
        lot_expires: NaiveDate,
        /// The effective expiry: the earlier of the lot's date and the clinic's policy.
        expires: NaiveDate,
        /// Which policy row shortened the expiry, in words (None: the lot's date).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expiry_rule: Option<String>,
        /// The manufacturer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manufacturer: Option<String>,
        /// When the vial was prepared (mixed or diluted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prepared: Option<NaiveDate>,
        /// Its volume.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        volume_ml: Option<Volume>,
        /// GS1 GTIN (AI 01), when scanned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gtin: Option<String>,
        /// GS1 serial number (AI 21), when scanned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
    },
    /// A vial was taken out of use.
    VialDiscarded {
        /// Its code.
        code: String,
        /// Why.
        reason: String,
    },
    /// An omalizumab injection (an omalizumab course's; not an allergen dose: no vial, no dose
    /// ladder).
    OmalizumabGiven {
        /// Its number in the course, from 1.
        number: usize,
        /// The dose, mg (the course's plan).
        dose_mg: u32,
        /// Injection sites (one per syringe).
        injections: u32,
        /// Where it was given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site: Option<String>,
        /// A physician's reason for giving it past its date (the labels give no rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        accept_late: Option<String>,
    },
    /// The patient's weight measured during an omalizumab course (kg, as typed): the label's
    /// dose is for the weight at the course's start, so a change goes to the physician.
    WeightMeasured {
        /// Kilograms, as recorded.
        weight_kg: String,
    },
    /// A follow-up after (or during) the course: asthma control and medication as recorded at a
    /// clinic visit on `date` (see [`super::followup`]). Never changes the dosing state; allowed
    /// on a finished or stopped course. The ACQ's questionnaire wording is not held: only the
    /// version and the item scores.
    FollowUp {
        /// The day of the follow-up (given by the user; the entry's time is when it was recorded).
        date: NaiveDate,
        /// The ACQ item scores with the form's version, if taken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acq: Option<super::followup::AcqRecord>,
        /// Pre-bronchodilator FEV1, % predicted, if the clinic measured it.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "rust_decimal::serde::arbitrary_precision_option"
        )]
        fev1_percent: Option<Decimal>,
        /// The medication used (`Some(vec![])`: none); `None`: not recorded at this follow-up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        medication: Option<Vec<super::followup::MedicationUse>>,
    },
    /// The record was upgraded to the keyed chain; the events before this one were chained
    /// without a key and recorded with free-text names (unauthenticated).
    Migrated {
        /// The schema version migrated from.
        from_schema: u32,
        /// Events before this one.
        events: u64,
    },
}

impl EventKind {
    /// Whether this entry records a reaction: a systemic, late local or late reaction, or an
    /// observation that ended with a local reaction (a size above 0 mm, or one that could not
    /// be assessed).
    pub fn is_reaction(&self) -> bool {
        match self {
            EventKind::SystemicReaction { .. }
            | EventKind::LateLocalReaction { .. }
            | EventKind::LateReaction { .. } => true,
            EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                ..
            } => *not_assessable || local_mm.is_some_and(|m| m > 0),
            EventKind::DoseGiven { .. }
            | EventKind::OmalizumabGiven { .. }
            | EventKind::DoseDeferred { .. }
            | EventKind::PhysicianReview { .. }
            | EventKind::Correction { .. }
            | EventKind::Note { .. }
            | EventKind::VialAdded { .. }
            | EventKind::VialDiscarded { .. }
            | EventKind::WeightMeasured { .. }
            | EventKind::FollowUp { .. }
            | EventKind::Migrated { .. } => false,
        }
    }
}

/// The premedication answer recorded with a dose: when it was taken (`None`: not taken), and a
/// physician's reason for giving the dose without it, or outside its window, that day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremedicationRecord {
    /// When it was taken; `None`: not taken (or not said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<NaiveDateTime>,
    /// A physician accepted the missing or mistimed premedication for the day, for this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Its number in the course, from 1.
    pub seq: u64,
    /// When it happened.
    pub at: NaiveDateTime,
    /// Who recorded it.
    pub by: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The sequence numbers of the events a correction has voided.
pub fn voided(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Correction { corrects, .. } => Some(corrects),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_and_decisions_parse() {
        assert_eq!(
            "2a".parse::<WaoGrade>(),
            Ok(WaoGrade {
                grade: 2,
                suffix: 'a'
            })
        );
        for bad in ["6a", "2", "2x", "", "12a"] {
            assert!(bad.parse::<WaoGrade>().is_err(), "{bad}");
        }
        assert_eq!(
            "step-back:2".parse::<Review>(),
            Ok(Review::StepBack { steps: 2 })
        );
        for bad in ["step-back:0", "step-back:101", "step-back:x", "go"] {
            assert!(bad.parse::<Review>().is_err(), "{bad}");
        }
        assert_eq!(Review::StepBack { steps: 3 }.to_string(), "step-back:3");
    }

    #[test]
    fn an_old_observation_record_reads_and_new_ones_round_trip() {
        let old = r#"{"observation_ended":{"local_mm":12}}"#;
        let e: EventKind = serde_json::from_str(old).expect("old record");
        assert_eq!(
            e,
            EventKind::ObservationEnded {
                local_mm: Some(12),
                not_assessable: false,
                early_reason: None
            }
        );
        assert_eq!(serde_json::to_string(&e).expect("json"), old);
        let new = EventKind::ObservationEnded {
            local_mm: None,
            not_assessable: true,
            early_reason: Some("left against advice".into()),
        };
        let text = serde_json::to_string(&new).expect("json");
        assert_eq!(serde_json::from_str::<EventKind>(&text).expect("back"), new);
        let late = EventKind::LateReaction {
            kind: LateKind::TypeIii,
            symptom: "fever".into(),
        };
        let text = serde_json::to_string(&late).expect("json");
        assert!(text.contains("type-iii"), "{text}");
        assert_eq!(
            serde_json::from_str::<EventKind>(&text).expect("back"),
            late
        );
    }

    #[test]
    fn a_dose_keeps_its_phase_and_an_old_dose_reads_without_one() {
        let old = r#"{"dose_given":{"step":2,"vial":"3","volume_ml":0.1,"dose":{"amount":1000,"unit":"SQ-U"},"lot":null,"site":null,"pef_percent":null,"screen_ok":true,"override_reason":null}}"#;
        let e: EventKind = serde_json::from_str(old).expect("old record");
        let EventKind::DoseGiven { phase, step, .. } = &e else {
            panic!("a dose: {e:?}");
        };
        assert_eq!((*step, *phase), (2, None));
        // Written back without the field: old records and snapshots stay as they were.
        assert!(!serde_json::to_string(&e).expect("json").contains("phase"));
        let EventKind::DoseGiven {
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
            ..
        } = e
        else {
            unreachable!()
        };
        let new = EventKind::DoseGiven {
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
            phase: Some(crate::template::Phase::Consolidation),
            premedication: None,
        };
        let text = serde_json::to_string(&new).expect("json");
        assert!(text.contains(r#""phase":"consolidation""#), "{text}");
        assert_eq!(serde_json::from_str::<EventKind>(&text).expect("back"), new);
    }

    #[test]
    fn a_reaction_is_a_reaction_entry_or_an_observation_with_a_local_reaction() {
        let ended = |local_mm, not_assessable| EventKind::ObservationEnded {
            local_mm,
            not_assessable,
            early_reason: None,
        };
        assert!(ended(Some(60), false).is_reaction());
        assert!(ended(None, true).is_reaction(), "not assessable");
        assert!(!ended(Some(0), false).is_reaction());
        assert!(!ended(None, false).is_reaction());
        assert!(EventKind::LateLocalReaction { mm: 40 }.is_reaction());
        assert!(
            !EventKind::DoseDeferred {
                reason: "fever".into()
            }
            .is_reaction()
        );
        assert!(
            !EventKind::Note {
                text: "reaction?".into()
            }
            .is_reaction()
        );
    }
}
