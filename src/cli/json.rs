//! Every `--json` answer of the command line, by name: the contract scripts read. A field's
//! name and its place are part of it.
//!
//! Where a command prints the ward's own data unchanged, the shape is declared with that data
//! (`crate::ward::view` and the ward's types):
//!
//! | command | prints |
//! |---|---|
//! | `patient list --json`, `patient find --json` | `[PatientRecord]` |
//! | `patient show --json` | `PatientRecord` |
//! | `course log --json` | `[StoredEvent]` |
//! | `sheet --json` | `[SheetLine]` |
//! | `staff list --json` | `[StaffListing]` |
//! | `settings show --json` | `Settings` |
//! | `verify --json` | `RecordVerification` |
//! | `db copy --json` | the copy's report (`Ward::copy_to`) |
//! | `vial add --json`, `vial discard --json` | `VialView` |
//! | `vial list --json` | `[VialView]` |
//! | `plan --json` | `Plan` (a refusal: [`RefusalJson`]; with a what-if: [`PlanWhatIf`]) |
//!
//! Every other `--json` answer is declared here. Each answer has a snapshot in
//! `tests/cli/snapshots/` (`*_json.snap`).

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::course::{Decision, Dosing};
use crate::diag::DiagnosticJson;
use crate::patient::Patient;
use crate::planner::{Plan, Refusal};
use crate::policy::{Certainty, Evidence};
use crate::risk::Assessment;
use crate::template::{Kind, Maintenance, Provenance, Source, Timing};
use crate::units::{AllergenUnit, Concentration, Dose, Volume};
use crate::ward::view::{PatientRecord, StoredEvent};
use crate::ward::{CourseView, Role};

// ---------------------------------------------------------------------------------------------
// templates

/// One row of `ritplan templates --json`.
#[derive(Serialize)]
pub(super) struct TemplateRow<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) kind: Kind,
    pub(super) evidence: Evidence,
    pub(super) certainty: Option<Certainty>,
    pub(super) steps: usize,
    pub(super) days: usize,
    pub(super) span_days: u32,
    pub(super) target_dose: Dose,
    pub(super) unit: AllergenUnit,
    pub(super) file: &'a str,
    pub(super) warnings: Vec<String>,
}

/// A step as `template show --json` prints it.
#[derive(Serialize)]
pub(super) struct TemplateStep<'a> {
    pub(super) index: usize,
    pub(super) day: u32,
    pub(super) time: Option<String>,
    pub(super) min_interval_min: Option<u32>,
    pub(super) vial: &'a str,
    pub(super) vial_label: &'a str,
    pub(super) cap: &'a str,
    pub(super) concentration: Concentration,
    pub(super) unit: AllergenUnit,
    pub(super) volume_ml: Volume,
    pub(super) dose: Dose,
    pub(super) cumulative_dose: Dose,
    pub(super) observation_min: u32,
    pub(super) last_of_day: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) provenance: Option<&'a Provenance>,
    /// The step's phase, when the template names its phases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) phase: Option<crate::template::Phase>,
}

/// `ritplan template show --json`: the template, its steps with cumulative doses, and its
/// warnings.
#[derive(Serialize)]
pub(super) struct TemplateShow<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) product: &'a str,
    pub(super) manufacturer: &'a str,
    pub(super) allergen: &'a str,
    pub(super) kind: Kind,
    pub(super) evidence: Evidence,
    pub(super) certainty: Option<Certainty>,
    pub(super) evidence_note: Option<&'a str>,
    pub(super) unit: AllergenUnit,
    pub(super) rules: &'a str,
    pub(super) sources: &'a [Source],
    pub(super) vials: &'a [crate::template::Vial],
    pub(super) timing: &'a Timing,
    pub(super) max_volume_ml: Volume,
    pub(super) syringe_graduation_ml: Volume,
    pub(super) steps: Vec<TemplateStep<'a>>,
    pub(super) maintenance: &'a Maintenance,
    /// The dose the rush stops at, below maintenance, when the template names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) rush_target: Option<Dose>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(super) premedication: &'a [crate::template::Premedication],
    pub(super) warnings: Vec<String>,
}

/// One file of `ritplan template check --json`.
#[derive(Serialize)]
pub(super) struct TemplateCheck<'a> {
    pub(super) file: &'a str,
    pub(super) usable: bool,
    pub(super) errors: usize,
    pub(super) warnings: usize,
    pub(super) diagnostics: Vec<DiagnosticJson<'a>>,
}

// ---------------------------------------------------------------------------------------------
// risk, omalizumab, plan

/// `ritplan risk --json`: the patient as read, then the assessment's fields.
#[derive(Serialize)]
pub(super) struct RiskJson<'a> {
    pub(super) patient: &'a Patient,
    #[serde(flatten)]
    pub(super) assessment: &'a Assessment,
}

/// `ritplan omalizumab --json`: the table, the values looked up, and the label's answer.
#[derive(Serialize)]
pub(super) struct OmalizumabJson<'a> {
    pub(super) label: &'a str,
    pub(super) table: &'a str,
    pub(super) total_ige: Decimal,
    pub(super) weight_kg: Decimal,
    pub(super) age_years: u32,
    #[serde(flatten)]
    pub(super) dosing: &'a crate::policy::omalizumab::Dosing,
    pub(super) reminder: &'a str,
    pub(super) low_ige_condition: Option<&'a crate::policy::omalizumab::LowIge>,
}

/// `ritplan plan --json` when the planner refuses: `"plan": null`, then the refusal.
#[derive(Serialize)]
pub(super) struct RefusalJson<'a> {
    pub(super) plan: Option<()>,
    #[serde(flatten)]
    pub(super) refusal: &'a Refusal,
}

/// `ritplan plan --json` with a what-if: the plan, and the course run from its first dose.
#[derive(Serialize)]
pub(super) struct PlanWhatIf<'a> {
    pub(super) plan: &'a Plan,
    pub(super) forecast: ForecastJson<'a>,
}

// ---------------------------------------------------------------------------------------------
// staff

/// `ritplan whoami --json`.
#[derive(Serialize)]
pub(super) struct WhoamiJson<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) role: Role,
    pub(super) os_user: &'a str,
    pub(super) record: &'a str,
    pub(super) training: bool,
}

// ---------------------------------------------------------------------------------------------
// courses

/// A decision as JSON: its fields, with the headline and the sentences for each reason.
#[derive(Serialize)]
pub(super) struct DecisionJson<'a> {
    #[serde(flatten)]
    pub(super) decision: std::borrow::Cow<'a, Decision>,
    pub(super) text: String,
    pub(super) details: Vec<String>,
    /// The dose's phase (rush, up-dosing, consolidation, maintenance), when the course's
    /// template names its phases (`phase` is the course's: up-dosing or maintenance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dose_phase: Option<crate::template::Phase>,
}

impl<'a> DecisionJson<'a> {
    /// The decision `d` on the course `v`, with its words.
    pub(super) fn new(d: &'a Decision, v: &CourseView) -> Self {
        DecisionJson {
            text: crate::render::course::headline(d, &v.loaded.template),
            details: crate::render::course::details(d),
            dose_phase: super::cmd::next::dose_phase(v, d),
            decision: std::borrow::Cow::Borrowed(d),
        }
    }

    /// [`DecisionJson::new`], owning the decision (a list's row, kept after its course's view
    /// is dropped).
    pub(super) fn owned(d: Decision, v: &CourseView) -> DecisionJson<'static> {
        let DecisionJson {
            text,
            details,
            dose_phase,
            ..
        } = DecisionJson::new(&d, v);
        DecisionJson {
            decision: std::borrow::Cow::Owned(d),
            text,
            details,
            dose_phase,
        }
    }
}

/// `ritplan course start --json`: the new course's id, the patient, and the frozen plan.
#[derive(Serialize)]
pub(super) struct CourseStarted<'a> {
    pub(super) course: i64,
    pub(super) patient: &'a str,
    pub(super) plan: &'a Plan,
}

/// One row of `ritplan course list --json`.
#[derive(Serialize)]
pub(super) struct CourseRow<'a> {
    pub(super) course: i64,
    pub(super) patient: String,
    pub(super) template: String,
    pub(super) started: NaiveDateTime,
    pub(super) events: usize,
    pub(super) next: DecisionJson<'a>,
}

/// `ritplan course show --json`: the course, its patient, plan, schedule, events and next.
#[derive(Serialize)]
pub(super) struct CourseShow<'a> {
    pub(super) course: &'a crate::ward::view::CourseRecord,
    pub(super) patient: &'a PatientRecord,
    pub(super) plan: &'a Plan,
    pub(super) schedule: &'a [crate::ward::ScheduleLine],
    pub(super) events: &'a [StoredEvent],
    pub(super) next: DecisionJson<'a>,
}

/// `ritplan course verify --json`: the chain's verification, and whether the frozen copies
/// are intact.
#[derive(Serialize)]
pub(super) struct CourseVerified<'a> {
    #[serde(flatten)]
    pub(super) chain: &'a crate::ward::view::Verification,
    pub(super) frozen_copies_intact: bool,
}

/// `ritplan next --json`: the decision, the patient, and every look-alike patient.
#[derive(Serialize)]
pub(super) struct NextJson<'a> {
    #[serde(flatten)]
    pub(super) decision: DecisionJson<'a>,
    pub(super) patient: &'a PatientRecord,
    pub(super) lookalikes: Vec<PatientRecord>,
}

/// What a recording command (`give`, `observe`, `react`, `defer`, `review`, `note`,
/// `correct`) prints with `--json`: the entry, the patient, and what `next` now says.
#[derive(Serialize)]
pub(super) struct RecordedJson<'a> {
    pub(super) recorded: &'a StoredEvent,
    pub(super) course: i64,
    pub(super) patient: Option<&'a PatientRecord>,
    pub(super) lookalikes: &'a [PatientRecord],
    pub(super) overridden_allowed: Option<&'a Dosing>,
    pub(super) next: DecisionJson<'a>,
}

/// A board row as JSON (`ritplan board --json`): its fields, then the decision in words.
#[derive(Serialize)]
pub(super) struct BoardRowJson<'a> {
    #[serde(flatten)]
    pub(super) row: &'a crate::ward::BoardRow,
    pub(super) text: String,
}

/// One dose of a forecast.
#[derive(Serialize)]
pub(super) struct ForecastDose<'a> {
    pub(super) at: NaiveDateTime,
    #[serde(flatten)]
    pub(super) dosing: &'a Dosing,
    pub(super) observation_min: u32,
    pub(super) rules: Vec<String>,
}

/// A forecast as JSON (`ritplan forecast --json`, and `plan --json` with a what-if).
#[derive(Serialize)]
pub(super) struct ForecastJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) course: Option<i64>,
    pub(super) from: NaiveDateTime,
    pub(super) doses: Vec<ForecastDose<'a>>,
    pub(super) stops: Option<String>,
    pub(super) written: bool,
}

// ---------------------------------------------------------------------------------------------
// follow-ups

/// `ritplan followup list --json`: the patient's follow-ups, oldest first, with the medication
/// score's definition (its evidence, and whether it is an example).
#[derive(Serialize)]
pub(super) struct FollowUpList<'a> {
    pub(super) patient: &'a str,
    pub(super) medication_score_definition: MedScoreDefinitionJson<'a>,
    pub(super) follow_ups: Vec<FollowUpJson<'a>>,
}

impl<'a> FollowUpList<'a> {
    pub(super) fn of(f: &'a crate::ward::followup::FollowUps) -> FollowUpList<'a> {
        let d = &f.definition;
        FollowUpList {
            patient: &f.patient,
            medication_score_definition: MedScoreDefinitionJson {
                id: &d.id,
                version: d.version,
                name: &d.name,
                evidence: d.provenance.evidence,
                example: d.is_example(),
                source: &d.provenance.source,
            },
            follow_ups: f.rows.iter().map(FollowUpJson::of).collect(),
        }
    }
}

/// The medication score's definition, as the follow-up answers name it.
#[derive(Serialize)]
pub(super) struct MedScoreDefinitionJson<'a> {
    pub(super) id: &'a str,
    pub(super) version: u32,
    pub(super) name: &'a str,
    pub(super) evidence: Evidence,
    /// Evidence `example`, `inference` or `unverified`: every output says so.
    pub(super) example: bool,
    pub(super) source: &'a str,
}

/// One follow-up: the ACQ as recorded with its score (the mean to 2 places, as text; `null`
/// without a complete ACQ, never imputed) and the sum of its items (the exact mean is the sum
/// over the version), FEV1, the medication and its score.
#[derive(Serialize)]
pub(super) struct FollowUpJson<'a> {
    pub(super) course: i64,
    pub(super) entry: u64,
    pub(super) date: chrono::NaiveDate,
    pub(super) recorded_at: NaiveDateTime,
    pub(super) by: &'a str,
    pub(super) acq_version: Option<u8>,
    pub(super) acq_items: Option<&'a [u8]>,
    pub(super) acq_score: Option<String>,
    pub(super) acq_item_sum: Option<u32>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub(super) fev1_percent: Option<Decimal>,
    pub(super) medication: Option<&'a [crate::course::followup::MedicationUse]>,
    pub(super) medication_score: &'a crate::policy::medication_score::MedScore,
}

impl<'a> FollowUpJson<'a> {
    pub(super) fn of(r: &'a crate::ward::followup::FollowUpRow) -> FollowUpJson<'a> {
        FollowUpJson {
            course: r.course,
            entry: r.seq,
            date: r.date,
            recorded_at: r.recorded_at,
            by: &r.by,
            acq_version: r.acq.as_ref().map(|a| a.version),
            acq_items: r.acq.as_ref().map(|a| a.items.as_slice()),
            acq_score: r.acq_score.map(|s| s.to_string()),
            acq_item_sum: r.acq_score.map(|s| s.sum),
            fev1_percent: r.fev1_percent,
            medication: r.medication.as_deref(),
            medication_score: &r.medication_score,
        }
    }
}

/// `ritplan followup add --json`: the entry recorded, and the follow-up as listed.
#[derive(Serialize)]
pub(super) struct FollowUpAdded<'a> {
    pub(super) recorded: &'a StoredEvent,
    pub(super) course: i64,
    pub(super) follow_up: Option<FollowUpJson<'a>>,
    /// The definition's id and version, marked when it is an example.
    pub(super) medication_score_definition: &'a str,
}
