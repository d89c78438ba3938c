//! What the record says of each dose: the administrations, each with the reactions recorded
//! after it and before the next dose (corrected events left out). `course show` and the course
//! protocol print them step by step.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Serialize;

use super::event::{Event, EventKind, LateKind, WaoGrade, voided};
use crate::units::{Dose, Volume};

/// One administration of a dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Administration {
    /// The dose event's number.
    pub seq: u64,
    /// Plan step (plan length + n for the n-th maintenance dose).
    pub step: usize,
    /// When it was given.
    pub at: NaiveDateTime,
    /// Who recorded it.
    pub by: String,
    /// Vial id.
    pub vial: String,
    /// Volume.
    pub volume_ml: Volume,
    /// Dose.
    pub dose: Dose,
    /// The phase recorded with the dose (absent in older records and for templates that name
    /// no phases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::template::Phase>,
    /// Arm.
    pub site: Option<String>,
    /// Lot.
    pub lot: Option<String>,
    /// Pre-dose PEF/FEV1, %.
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub pef_percent: Option<Decimal>,
    /// Immediate local reaction, mm.
    pub local_mm: Option<u32>,
    /// The local reaction could not be assessed.
    pub not_assessable: bool,
    /// The observation ended early, for this reason.
    pub left_early: Option<String>,
    /// Late local reaction, mm.
    pub late_local_mm: Option<u32>,
    /// Systemic reaction.
    pub systemic: Option<WaoGrade>,
    /// Late reaction.
    pub late: Option<LateKind>,
    /// A physician's override reason.
    pub override_reason: Option<String>,
    /// The premedication recorded with the dose (its time, a physician's acceptance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub premedication: Option<super::event::PremedicationRecord>,
}

/// Every administration, in order.
pub fn administrations(events: &[Event]) -> Vec<Administration> {
    let voided = voided(events);
    let mut out: Vec<Administration> = Vec::new();
    for e in events.iter().filter(|e| !voided.contains(&e.seq)) {
        match &e.kind {
            EventKind::DoseGiven {
                step,
                site,
                lot,
                pef_percent,
                vial,
                volume_ml,
                dose,
                override_reason,
                phase,
                premedication,
                ..
            } => out.push(Administration {
                phase: *phase,
                seq: e.seq,
                step: *step,
                at: e.at,
                by: e.by.clone(),
                vial: vial.clone(),
                volume_ml: *volume_ml,
                dose: *dose,
                site: site.clone(),
                lot: lot.clone(),
                pef_percent: *pef_percent,
                local_mm: None,
                not_assessable: false,
                left_early: None,
                late_local_mm: None,
                systemic: None,
                late: None,
                override_reason: override_reason.clone(),
                premedication: premedication.clone(),
            }),
            EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                early_reason,
            } => {
                if let Some(a) = out.last_mut() {
                    a.local_mm = local_mm.or(a.local_mm);
                    a.not_assessable |= *not_assessable;
                    a.left_early = early_reason.clone().or(a.left_early.take());
                }
            }
            EventKind::LateLocalReaction { mm } => {
                if let Some(a) = out.last_mut() {
                    a.late_local_mm = Some(*mm);
                }
            }
            EventKind::SystemicReaction { grade, .. } => {
                if let Some(a) = out.last_mut() {
                    a.systemic =
                        Some(
                            a.systemic.map_or(*grade, |g| {
                                if g.grade >= grade.grade { g } else { *grade }
                            }),
                        );
                }
            }
            EventKind::LateReaction { kind, .. } => {
                if let Some(a) = out.last_mut() {
                    a.late = Some(*kind);
                }
            }
            _ => {}
        }
    }
    out
}
