//! What the ward hands out: plain data that the front ends and the renderers read. No words
//! for people are made here (the renderers in `render` and `export` make them; only an error's
//! message is written here), and nothing here reaches the record: `render` and `export` import
//! this module only, never [`super::Ward`].

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::WardError;
use crate::course::omalizumab::OmalizumabDecision;
use crate::course::{self, Administration, CourseState, Decision, Event, PatientView};
use crate::planner::Plan;
use crate::policy::omalizumab_course::OmalizumabNext;
use crate::policy::{Emergency, RuleSetInfo};
use crate::template::Template;

pub use super::load::{Inputs, Loaded};
pub use super::omalizumab::OmalizumabProtocolData;
pub use super::vials::VialView;
pub use crate::store::{
    CourseRecord, PatientRecord, RecordVerification, StaffRow, StoredEvent, Verification,
};

/// A course loaded whose frozen rules lack the rule set it names (the state machine cannot run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("course {course}: its rule set {rule_set:?} is missing from its frozen rules")]
pub struct MissingRuleSet {
    /// The course.
    pub course: i64,
    /// The rule set it names.
    pub rule_set: String,
}

/// A course with its events and state.
pub struct CourseView {
    /// The loaded course.
    pub loaded: Loaded,
    /// Its events.
    pub events: Vec<StoredEvent>,
    /// Its state.
    pub state: CourseState,
    /// What the patient's other courses impose.
    pub patient: PatientView,
}

impl CourseView {
    /// The events without their audit fields.
    pub fn plain_events(&self) -> Vec<Event> {
        self.events.iter().map(|e| e.event.clone()).collect()
    }

    /// The next-dose decision at `now`, with the course's recorded vial for that dose in hand
    /// (`course::next_with_vials`: a new lot's rule shows before the dose is drawn).
    pub fn decide(&self, now: NaiveDateTime) -> Result<Decision, WardError> {
        Ok(course::next_with_vials(
            self.loaded.ctx()?,
            &self.state,
            now,
            &self.patient,
        ))
    }
}

/// One line of a course's schedule (`course show`, the protocol, the patient page): a dose
/// given, or one the course would give next.
#[derive(Clone, Debug, Serialize)]
pub struct ScheduleLine {
    pub step: usize,
    /// The original plan's date and time (none for maintenance).
    pub planned: Option<NaiveDateTime>,
    /// Given at, or re-projected at.
    pub at: NaiveDateTime,
    pub given: bool,
    pub vial: String,
    #[serde(with = "crate::units::dose_with_unit")]
    pub dose: crate::units::Dose,
    pub volume_ml: crate::units::Volume,
    pub by: Option<String>,
    pub local_mm: Option<u32>,
    pub systemic: Option<String>,
    /// The dose's phase: as recorded with a given dose, else as the plan names it (`None`
    /// when the template names no phases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::template::Phase>,
}

/// One line of the day's sheet.
#[derive(Serialize)]
pub struct SheetLine {
    /// Course id.
    pub course: i64,
    /// Patient id.
    pub patient: String,
    /// Patient name.
    pub name: String,
    /// The row.
    #[serde(flatten)]
    pub row: course::SheetRow,
    /// Vial label.
    pub vial_label: Option<String>,
    /// Cap colour.
    pub cap: Option<String>,
    /// Vial strength.
    pub concentration: Option<String>,
    /// For a dose row: the code of the course's vial of the row's template vial active on the
    /// sheet's day (the newest added, if several); `None` when no such vial is recorded.
    pub vial_code: Option<String>,
    /// The template's evidence label.
    pub evidence: String,
    /// The dose's phase, when the course's template names its phases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::template::Phase>,
    /// For an omalizumab course's row: its injection, when the row is one (the row has no
    /// `dosing`: it is not an allergen dose, no vial or lot applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omalizumab: Option<OmalizumabRow>,
}

/// An omalizumab course's row on the sheet.
#[derive(Clone, Debug, Serialize)]
pub struct OmalizumabRow {
    /// The injection due on the sheet's day (or late), from the course's decision; none on a
    /// DO NOT GIVE or observation row.
    pub injection: Option<OmalizumabNext>,
    /// The label's rule on the dose.
    pub note: &'static str,
}

/// Where a course stands on the board, in the board's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardStatus {
    /// The observation's minimum has passed and its end is not recorded: record it.
    ObservationOverdue,
    /// A dose may be given now.
    DueNow,
    /// In observation until a time.
    InObservation,
    /// The next dose is due later today.
    Waiting,
    /// Only a physician (or a correction) can lift it: DO NOT GIVE.
    DoNotGive,
    /// Nothing more today.
    DoneToday,
}

/// One course on the board.
#[derive(Clone, Debug, Serialize)]
pub struct BoardRow {
    /// Where it stands.
    pub status: BoardStatus,
    /// The time that matters: the observation's end, the time a dose is due, or none.
    pub at: Option<NaiveDateTime>,
    /// Course id.
    pub course: i64,
    /// The patient.
    pub patient: PatientRecord,
    /// Whether another patient has the same name and date of birth.
    pub lookalike: bool,
    /// The template's name and evidence label (for an omalizumab course: "omalizumab" and its
    /// label).
    pub template: String,
    /// The decision behind the row, by the course's kind.
    #[serde(flatten)]
    pub next: BoardNext,
}

/// The decision behind a board row: an immunotherapy course's, or an omalizumab course's (the
/// same pure decision `next` shows).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum BoardNext {
    /// An immunotherapy course.
    Immunotherapy {
        /// Its decision.
        next: Box<Decision>,
        /// The course's frozen template (its vials name the decision's dose).
        #[serde(skip)]
        frozen_template: Box<Template>,
    },
    /// An omalizumab course.
    Omalizumab {
        /// Always [`super::CourseKind::Omalizumab`].
        kind: super::CourseKind,
        /// Its decision.
        next: OmalizumabDecision,
        /// Injections given so far.
        given: usize,
    },
}

/// Who a protocol is for.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Name.
    pub name: String,
    /// Clinic id.
    pub id: String,
    /// Date of birth, if known.
    pub dob: Option<NaiveDate>,
    /// Age at the plan's start.
    pub age_years: u32,
    /// Weight, kg.
    pub weight_kg: Decimal,
}

/// The contraindication inputs a plan was checked against, as they are to be shown.
#[derive(Clone, Debug)]
pub struct Checked {
    /// FEV1 % predicted.
    pub fev1_percent: Option<String>,
    /// Asthma control.
    pub asthma: Option<String>,
    /// Takes a beta-blocker.
    pub beta_blocker: bool,
}

/// An entry of a course's clinical record (a reaction, review, deferral or correction).
#[derive(Clone, Debug)]
pub struct ClinicalEntry {
    /// The entry.
    pub event: StoredEvent,
    /// A later correction voided it: it no longer counts.
    pub voided: bool,
}

/// What the record says of a course, for its protocol.
#[derive(Clone, Debug)]
pub struct CourseRecorded {
    /// The course's id.
    pub id: i64,
    /// Each planned step's administrations (index 0 = step 1), in order.
    pub steps: Vec<Vec<Administration>>,
    /// The rest of the course re-projected from the record (vials named).
    pub projected: Vec<ScheduleLine>,
    /// Its reactions, reviews, deferrals and corrections, in order.
    pub clinical_record: Vec<ClinicalEntry>,
    /// Whether the course has ended or been stopped.
    pub finished: bool,
}

/// Everything a printed protocol (of a plan, or of a course) shows, assembled once by
/// [`super::protocol_data`].
#[derive(Clone, Debug)]
pub struct ProtocolData {
    /// The patient.
    pub who: Identity,
    /// The plan.
    pub plan: Plan,
    /// The template the plan uses.
    pub template: Template,
    /// The course rule set.
    pub rules: RuleSetInfo,
    /// Emergency essentials.
    pub emergency: Emergency,
    /// The epinephrine dose for this patient, mg.
    pub epinephrine_mg: Decimal,
    /// The texts the document was made from (template, rules), for its short hash.
    pub sources: Vec<String>,
    /// The document's date.
    pub date: NaiveDate,
    /// From a training record.
    pub training: bool,
    /// The contraindication inputs the plan was checked against.
    pub checked: Checked,
    /// For a course: what the record says of it; none for a plan.
    pub course: Option<CourseRecorded>,
}

impl ProtocolData {
    /// Whether this is a course's protocol whose course has ended or been stopped.
    pub fn finished(&self) -> bool {
        self.course.as_ref().is_some_and(|c| c.finished)
    }
}

/// What an export of a patient's courses reads: the record's id, the patient, their courses
/// (each verified).
pub struct ExportData {
    /// The record's id.
    pub record_id: String,
    /// The patient.
    pub patient: PatientRecord,
    /// The courses.
    pub views: Vec<CourseView>,
    /// The omalizumab courses.
    pub omalizumab: Vec<OmalizumabCourseView>,
}

pub use super::omalizumab::LoadedOmalizumab;
pub use crate::course::omalizumab::OmalizumabState;
pub use crate::policy::omalizumab_course::{CourseRules as OmalizumabRules, OmalizumabPlan};

/// An omalizumab course as the exports read it: verified, with its frozen course rules
/// (observation, late injections), its events and its state.
pub struct OmalizumabCourseView {
    /// The course, its plan laid again from its frozen copies.
    pub course: LoadedOmalizumab,
    /// Its frozen omalizumab course rules.
    pub rules: OmalizumabRules,
    /// Its events.
    pub events: Vec<StoredEvent>,
    /// Its state.
    pub state: OmalizumabState,
}

impl OmalizumabCourseView {
    /// The events without their audit fields.
    pub fn plain_events(&self) -> Vec<Event> {
        self.events.iter().map(|e| e.event.clone()).collect()
    }
}

/// What an omalizumab course's calendar reads.
pub struct OmalizumabCalendarData {
    /// The record's id.
    pub record_id: String,
    /// The clinic's name, checked.
    pub clinic: String,
    /// The course (verified).
    pub course: OmalizumabCourseView,
}

/// What a course's calendar reads.
pub struct CalendarData {
    /// The record's id.
    pub record_id: String,
    /// The clinic's name, checked.
    pub clinic: String,
    /// The course (verified).
    pub view: CourseView,
}

/// A staff account's state at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    /// May log in.
    Active,
    /// Disabled: cannot log in.
    Disabled,
    /// Locked after failed logins, until this time.
    LockedUntil(NaiveDateTime),
}

/// A staff account, with its state.
#[derive(Clone, Debug, Serialize)]
pub struct StaffListing {
    /// The account as stored.
    #[serde(flatten)]
    pub account: StaffRow,
    /// Its state at the time asked.
    #[serde(skip)]
    pub state: AccountState,
}

/// A course's log as stored, with its chain's verification.
pub struct EventLog {
    /// Its events.
    pub events: Vec<StoredEvent>,
    /// Its chain.
    pub chain: Verification,
    /// Its frozen template, if it still loads (to name its vials' strengths and colours).
    pub template: Option<crate::template::Template>,
}

/// Whether a course verifies ([`super::Ward::verify_course`]).
pub struct CourseCheck {
    /// Its chain of events.
    pub chain: Verification,
    /// Why its frozen plan does not reproduce from its frozen template and rules, if it does
    /// not.
    pub frozen: Option<String>,
}

impl CourseCheck {
    /// The course verifies: its chain is intact and its frozen plan reproduces.
    pub fn verifies(&self) -> bool {
        self.chain.intact && self.frozen.is_none()
    }
}

/// One patient's day (the patient's screen): every active course with a dose today, in the
/// order they may be given, each at its earliest time given the others (the rules' minutes
/// between two extracts); then the courses with nothing to give today.
pub struct PatientDay {
    /// The patient.
    pub patient: PatientRecord,
    /// The doses of the day, one after the other, earliest first.
    pub doses: Vec<VisitDose>,
    /// The patient's other active courses: nothing to give today (held, in observation, or
    /// next due another day).
    pub rest: Vec<VisitCourse>,
    /// The rules' minutes between injections of two extracts, and their source (the largest
    /// of the courses' frozen rules, with its source).
    pub between_extracts: Option<(u32, String)>,
    /// The patient's active omalizumab courses (not stopped, not done), each with its decision.
    pub omalizumab: Vec<OmalizumabDay>,
}

/// An omalizumab course on the patient's screen.
pub struct OmalizumabDay {
    /// Course id.
    pub id: i64,
    /// Its decision now (the one `next` shows).
    pub decision: OmalizumabDecision,
    /// Injections given so far.
    pub given: usize,
    /// Its injection may be given today (due, or late for a physician).
    pub due_today: bool,
}

/// One of the day's doses on the patient's screen.
pub struct VisitDose {
    /// The course, its decision and frozen template.
    pub course: VisitCourse,
    /// The earliest time it may be given: after its own interval and observation, and the
    /// rules' minutes after every other extract's injection of the day, given or laid before
    /// it on this screen.
    pub at: NaiveDateTime,
    /// The extract it is laid after (course, time), when that is what sets `at`.
    pub after: Option<(i64, NaiveDateTime)>,
    /// Which arm.
    pub arm: Arm,
}

/// A course on the patient's screen.
pub struct VisitCourse {
    /// Course id.
    pub id: i64,
    /// Its decision now (for a dose of the day: with the doses laid before it counted).
    pub decision: Decision,
    /// Its frozen template (the decision's vial is one of its vials).
    pub template: Template,
}

/// The arm of a dose when several extracts are given in one visit (the rules' source: alternate
/// arms between different allergens). The record knows the arm of a dose given, not a rule for
/// which arm comes first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arm {
    /// No other extract is given before it today: either arm.
    Either,
    /// The other arm than the one the course's dose today goes (or went) into; `given` is the
    /// arm recorded for that dose, when it was given with one.
    OtherThan {
        /// The other course.
        course: i64,
        /// Its dose's arm as recorded (left, right), if given and recorded.
        given: Option<String>,
    },
}

/// A course's vials to label, with what every label repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VialLabels {
    /// The course.
    pub course: i64,
    /// The patient's ID.
    pub patient: String,
    /// The patient's name.
    pub name: String,
    /// The patient's date of birth.
    pub dob: NaiveDate,
    /// The template's product name.
    pub product: String,
    /// The vials active on the day (not discarded, not expired), in the order they were added.
    pub active: Vec<VialView>,
    /// The course's other vials (discarded or expired on the day), to say why none is printed.
    pub inactive: Vec<VialView>,
}
