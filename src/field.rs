//! The values a person enters, named once. The core and the ward say which value is wrong with a
//! [`Field`]; each front end names it in its own voice (the command line its flag, the page its
//! label, an import its column), so no flag name is written below the front ends.

use std::fmt;

use serde::Serialize;

/// A value someone enters: a patient's, an entry's, an account's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// A patient's ID, as registered.
    PatientId,
    /// The patient's ID as typed before a dose (from the wristband).
    PatientCheck,
    /// A person's name (a patient's or a staff member's).
    Name,
    /// A date of birth.
    Dob,
    /// An age in years.
    Age,
    /// A weight in kg.
    Weight,
    /// Mite-specific IgE.
    Sige,
    /// Total IgE.
    TotalIge,
    /// FEV1, % of predicted.
    Fev1,
    /// Weeks of omalizumab pretreatment.
    OmalizumabWeeks,
    /// Omalizumab pretreatment's start.
    OmalizumabSince,
    /// A lot number.
    Lot,
    /// An injection site.
    Site,
    /// A physician's reason for another dose.
    Override,
    /// A reason (a deferral, a correction, a review).
    Reason,
    /// A reaction's first symptom, or what was seen.
    Symptom,
    /// The treatment of a reaction.
    Treatment,
    /// A note's text.
    Note,
    /// Why an observation ended early.
    Early,
    /// When an entry happened.
    At,
    /// When a course's first day starts.
    CourseStart,
    /// The immediate local reaction, mm.
    LocalMm,
    /// A late local reaction, mm.
    LateLocalMm,
    /// A systemic reaction's onset, minutes after the injection.
    OnsetMin,
    /// How many dose steps a review steps back.
    StepsBack,
    /// The clinic's name.
    Clinic,
    /// A staff account's id.
    StaffId,
    /// A physician's acceptance of a high risk.
    AcceptRisk,
    /// A physician's acceptance of an age under the product's minimum.
    AcceptAge,
    /// A physician's acceptance of a missing value.
    AcceptMissing,
    /// A vial of the course's template (its id, e.g. `4`).
    VialNumber,
    /// A vial's lot expiry date.
    Expires,
    /// A vial's manufacturer.
    Manufacturer,
    /// When a vial was prepared.
    Prepared,
    /// A vial's volume, mL.
    VialVolume,
    /// A scanned manufacturer's code (GS1).
    Scan,
    /// A vial's own code (`V000001`).
    VialCode,
    /// When the premedication was taken (or that it was not).
    Premedication,
    /// A physician's acceptance of a missing or mistimed premedication.
    AcceptPremedication,
    /// The patient's wristband, scanned before a dose.
    ScanPatient,
    /// The vial's code, scanned before a dose.
    ScanVial,
    /// The date of a follow-up.
    FollowUpDate,
    /// A follow-up's ACQ item scores.
    Acq,
    /// The ACQ form's version (5, 6 or 7 items).
    AcqVersion,
    /// A drug the patient uses (at a follow-up).
    Medication,
    /// A drug's daily dose.
    DailyDose,
}

impl Field {
    /// Its name in a data file: a CSV import's column, a JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Field::PatientId => "id",
            Field::PatientCheck => "patient",
            Field::Name => "name",
            Field::Dob => "dob",
            Field::Age => "age",
            Field::Weight => "weight",
            Field::Sige => "sige",
            Field::TotalIge => "total_ige",
            Field::Fev1 => "fev1",
            Field::OmalizumabWeeks => "omalizumab_weeks",
            Field::OmalizumabSince => "omalizumab_since",
            Field::Lot => "lot",
            Field::Site => "site",
            Field::Override => "override",
            Field::Reason => "reason",
            Field::Symptom => "symptom",
            Field::Treatment => "treatment",
            Field::Note => "text",
            Field::Early => "early",
            Field::At => "at",
            Field::CourseStart => "start",
            Field::LocalMm => "local_mm",
            Field::LateLocalMm => "late_local_mm",
            Field::OnsetMin => "onset_min",
            Field::StepsBack => "steps",
            Field::Clinic => "clinic",
            Field::StaffId => "staff_id",
            Field::AcceptRisk => "accept_risk",
            Field::AcceptAge => "accept_age",
            Field::AcceptMissing => "accept_missing",
            Field::VialNumber => "vial",
            Field::Expires => "expires",
            Field::Manufacturer => "manufacturer",
            Field::Prepared => "prepared",
            Field::VialVolume => "volume_ml",
            Field::Scan => "scan",
            Field::VialCode => "code",
            Field::Premedication => "premedication",
            Field::AcceptPremedication => "accept_premedication",
            Field::ScanPatient => "scan_patient",
            Field::ScanVial => "scan_vial",
            Field::FollowUpDate => "date",
            Field::Acq => "acq",
            Field::AcqVersion => "acq_version",
            Field::Medication => "medication",
            Field::DailyDose => "daily_dose",
        }
    }

    /// Words for it in a sentence ("the lot").
    pub fn words(self) -> &'static str {
        match self {
            Field::PatientId => "the patient's ID",
            Field::PatientCheck => "the patient's ID as typed",
            Field::Name => "the name",
            Field::Dob => "the date of birth",
            Field::Age => "the age",
            Field::Weight => "the weight",
            Field::Sige => "the mite-specific IgE",
            Field::TotalIge => "the total IgE",
            Field::Fev1 => "the FEV1",
            Field::OmalizumabWeeks => "the weeks of omalizumab",
            Field::OmalizumabSince => "the start of omalizumab",
            Field::Lot => "the lot",
            Field::Site => "the site",
            Field::Override => "the override reason",
            Field::Reason => "the reason",
            Field::Symptom => "the symptom",
            Field::Treatment => "the treatment",
            Field::Note => "the note",
            Field::Early => "why it ends early",
            Field::At => "the time",
            Field::CourseStart => "the course's start",
            Field::LocalMm => "the local reaction",
            Field::LateLocalMm => "the late local reaction",
            Field::OnsetMin => "the onset",
            Field::StepsBack => "the steps back",
            Field::Clinic => "the clinic's name",
            Field::StaffId => "the staff id",
            Field::AcceptRisk => "the accepted risk",
            Field::AcceptAge => "the accepted age",
            Field::AcceptMissing => "the accepted missing value",
            Field::VialNumber => "the vial",
            Field::Expires => "the expiry date",
            Field::Manufacturer => "the manufacturer",
            Field::Prepared => "the preparation date",
            Field::VialVolume => "the vial's volume",
            Field::Scan => "the scanned code",
            Field::VialCode => "the vial code",
            Field::Premedication => "the premedication time",
            Field::AcceptPremedication => "the accepted premedication",
            Field::ScanPatient => "the scan of the patient's wristband",
            Field::ScanVial => "the scan of the vial",
            Field::FollowUpDate => "the follow-up's date",
            Field::Acq => "the ACQ item scores",
            Field::AcqVersion => "the ACQ version",
            Field::Medication => "the medication",
            Field::DailyDose => "the daily dose",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words())
    }
}
