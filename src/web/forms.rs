//! The course page's forms, parsed: each field into the typed value the ward takes, with an
//! error next to each bad field (in the page's words). A free-text field is checked by the ward's
//! own function, so the rule is the ward's; the page only puts its answer beside the field.

use std::collections::BTreeMap;

use crate::course::{EventKind, LateKind, Proposed, Review, WaoGrade};
use crate::field::Field;
use crate::ward::{Actor, CourseView, Record, Role, WardError, checklist, text};

/// A submitted form, field by field.
pub type Fields = BTreeMap<String, String>;
/// Errors by field name.
pub type Errors = BTreeMap<String, String>;

/// The forms of the course page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    /// A dose.
    Give,
    /// The end of an observation.
    Observe,
    /// A reaction.
    React,
    /// A deferred dose.
    Defer,
    /// A note.
    Note,
    /// A correction of an entry.
    Correct,
    /// A physician's review.
    Review,
    /// A vial of the course's template put in use.
    AddVial,
    /// A vial taken out of use.
    DiscardVial,
    /// A follow-up (ACQ, FEV1, medication).
    FollowUp,
}

impl FormKind {
    /// Its path segment, `/course/{id}/{segment}`.
    pub fn segment(self) -> &'static str {
        match self {
            FormKind::Give => "give",
            FormKind::Observe => "observe",
            FormKind::React => "react",
            FormKind::Defer => "defer",
            FormKind::Note => "note",
            FormKind::Correct => "correct",
            FormKind::Review => "review",
            FormKind::AddVial => "vial-add",
            FormKind::DiscardVial => "vial-discard",
            FormKind::FollowUp => "followup",
        }
    }

    pub(super) fn parse(s: &str) -> Option<FormKind> {
        [
            FormKind::Give,
            FormKind::Observe,
            FormKind::React,
            FormKind::Defer,
            FormKind::Note,
            FormKind::Correct,
            FormKind::Review,
            FormKind::AddVial,
            FormKind::DiscardVial,
            FormKind::FollowUp,
        ]
        .into_iter()
        .find(|k| k.segment() == s)
    }
}

pub(super) fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map_or("", |v| v.trim())
}

/// A required free-text field, cleaned, or an error next to it.
/// The ward's own check of the value (`text::text`), its problem told under the page's label.
fn required(
    f: &Fields,
    name: &str,
    which: Field,
    label: &str,
    errors: &mut Errors,
) -> Option<String> {
    match text::text(which, field(f, name)) {
        Ok(v) => Some(v),
        Err(e) => {
            let why = match (field(f, name), e) {
                ("", _) => format!("{label} is required"),
                (_, WardError::Input { problem, .. }) => format!("{label} {problem}"),
                (_, other) => other.to_string(),
            };
            errors.insert(name.into(), why);
            None
        }
    }
}

/// An optional free-text field.
fn optional(
    f: &Fields,
    name: &str,
    which: Field,
    label: &str,
    errors: &mut Errors,
) -> Option<String> {
    if field(f, name).is_empty() {
        return None;
    }
    required(f, name, which, label, errors)
}

/// A whole number in `range`, or an error next to it.
fn number(
    f: &Fields,
    name: &str,
    label: &str,
    range: std::ops::RangeInclusive<u32>,
    errors: &mut Errors,
) -> Option<u32> {
    let v = field(f, name);
    if v.is_empty() {
        errors.insert(name.into(), format!("{label} is required"));
        return None;
    }
    match v.parse::<u32>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            errors.insert(
                name.into(),
                format!(
                    "{label}: {v:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

/// The give form, parsed: the record, or the errors by field. `questions` are the course's
/// pre-injection questions; every one must be answered, and a dose goes only with every "no".
/// `today`: the dose's day, for a premedication time typed as HH:MM.
pub(super) fn parse_give(
    f: &Fields,
    v: &CourseView,
    actor: &Actor,
    today: chrono::NaiveDate,
) -> Result<Record, Errors> {
    let mut e = Errors::new();
    // The scans go to the ward as typed (it takes a scanner's noise off); an empty one is none.
    let scan = |name: &str| Some(field(f, name).to_string()).filter(|s| !s.is_empty());
    let (scan_patient, scan_vial) = (scan("scan_patient"), scan("scan_vial"));
    // The typed ID may be left out when the wristband is scanned.
    let patient = if scan_patient.is_some() && field(f, "patient").is_empty() {
        None
    } else {
        required(
            f,
            "patient",
            Field::PatientCheck,
            "The patient's ID",
            &mut e,
        )
    };
    let step = match field(f, "step").parse::<usize>() {
        Ok(s) if (1..=crate::course::MAX_STEP).contains(&s) => Some(s),
        _ => {
            e.insert(
                "step".into(),
                "the step is not a step of this course".into(),
            );
            None
        }
    };
    let volume = text::volume(field(f, "volume"))
        .map_err(|why| e.insert("volume".into(), format!("The volume: {why}")))
        .ok();
    let pef = match field(f, "pef") {
        "" => {
            e.insert(
                "pef".into(),
                "the pre-dose PEF/FEV1 is required: a check that cannot be answered blocks the dose"
                    .into(),
            );
            None
        }
        p => text::pef(p)
            .map_err(|why| e.insert("pef".into(), format!("PEF/FEV1: {why}")))
            .ok(),
    };
    // The ward's checklist decides; the page only reads the radio buttons.
    let questions = v.pre_injection_questions();
    let screen_ok = match checklist::cleared(&questions, |q| {
        match field(f, &super::screens::question_field(&q.id)) {
            "no" => Some(false),
            "yes" => Some(true),
            _ => None,
        }
    }) {
        Ok(()) => true,
        Err(not) => {
            for n in not {
                e.insert(super::screens::question_field(&n.id), n.why);
            }
            false
        }
    };
    let lot = optional(f, "lot", Field::Lot, "The lot", &mut e);
    let site = match field(f, "site") {
        "" => None,
        s @ ("left" | "right") => Some(s.to_string()),
        _ => {
            e.insert("site".into(), "the arm is left or right".into());
            None
        }
    };
    // Only a physician's form has the field; the ward refuses a nurse's override anyway.
    let override_reason = match actor.role {
        Role::Physician => optional(
            f,
            "override",
            Field::Override,
            "The override reason",
            &mut e,
        ),
        _ => None,
    };
    // Empty: not asked (the ward refuses the dose where the template requires it).
    let premedication = match field(f, "premedication") {
        "" => None,
        p => text::premedication(p, today)
            .map_err(|why| e.insert("premedication".into(), format!("Premedication: {why}")))
            .ok(),
    };
    // Only a physician's form has the field; the ward refuses a nurse's acceptance anyway.
    let premedication_accepted = match actor.role {
        Role::Physician => optional(
            f,
            "accept_premedication",
            Field::AcceptPremedication,
            "The acceptance of the missing premedication",
            &mut e,
        ),
        _ => None,
    };
    match (step, volume, e.is_empty()) {
        (Some(step), Some(volume_ml), true) => Ok(Record::Give {
            proposed: Proposed {
                step,
                volume_ml,
                pef_percent: pef,
                screen_ok,
                override_reason,
                premedication,
                premedication_accepted,
            },
            lot,
            site,
            patient,
            scan_patient,
            scan_vial,
            checked_by: None,
        }),
        _ => Err(e),
    }
}

/// Any other form, parsed.
pub(super) fn parse_event(kind: FormKind, f: &Fields) -> Result<Record, Errors> {
    let mut e = Errors::new();
    let event = match kind {
        // Not entries of the course's own: see `parse_vial`, `parse_discard`, `parse_follow_up`.
        FormKind::Give | FormKind::AddVial | FormKind::DiscardVial | FormKind::FollowUp => None,
        FormKind::Observe => observe(f, &mut e),
        FormKind::React => react(f, &mut e),
        FormKind::Defer => required(f, "reason", Field::Reason, "The reason", &mut e)
            .map(|reason| EventKind::DoseDeferred { reason }),
        FormKind::Note => required(f, "text", Field::Note, "The note", &mut e)
            .map(|text| EventKind::Note { text }),
        FormKind::Correct => correct(f, &mut e),
        FormKind::Review => review(f, &mut e),
    };
    match (event, e.is_empty()) {
        (Some(k), true) => Ok(Record::Event(k)),
        _ => Err(e),
    }
}

/// An optional date field (YYYY-MM-DD), or an error next to it.
fn date(f: &Fields, name: &str, label: &str, e: &mut Errors) -> Option<chrono::NaiveDate> {
    match field(f, name) {
        "" => None,
        d => crate::when::parse_date(d)
            .map_err(|why| e.insert(name.into(), format!("{label}: {why}")))
            .ok(),
    }
}

/// The "Add a vial" form, parsed: the vial as the ward takes it (the ward checks the values and
/// reads the scanned code), or the errors by field. The scan goes as the scanner typed it.
pub(super) fn parse_vial(f: &Fields) -> Result<crate::ward::NewVial, Errors> {
    let mut e = Errors::new();
    let vial = field(f, "vial").to_string();
    if vial.is_empty() {
        e.insert("vial".into(), "choose the template's vial".into());
    }
    let some = |name: &str| Some(field(f, name).to_string()).filter(|s| !s.is_empty());
    let expires = date(f, "expires", "The lot's expiry date", &mut e);
    let prepared = date(f, "prepared", "The preparation date", &mut e);
    let volume_ml = match field(f, "volume") {
        "" => None,
        v => text::volume(v)
            .map_err(|why| e.insert("volume".into(), format!("The volume: {why}")))
            .ok(),
    };
    let scan = f
        .get("scan")
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.to_string());
    if !e.is_empty() {
        return Err(e);
    }
    Ok(crate::ward::NewVial {
        vial,
        lot: some("lot"),
        expires,
        manufacturer: some("manufacturer"),
        prepared,
        volume_ml,
        scan,
    })
}

/// The "Discard" form of a vial, parsed: its code and the reason, or the errors by field.
pub(super) fn parse_discard(f: &Fields) -> Result<(String, String), Errors> {
    let mut e = Errors::new();
    let code = field(f, "code").to_string();
    if code.is_empty() {
        e.insert("code".into(), "the vial to discard is missing".into());
    }
    let reason = required(f, "reason", Field::Reason, "The reason", &mut e);
    match (reason, e.is_empty()) {
        (Some(r), true) => Ok((code, r)),
        _ => Err(e),
    }
}

/// The form field of a ward's input error on the "Add a vial" form.
/// How many medication lines the follow-up form has (`med1_drug`, `med1_dose`, ...).
pub(super) const FOLLOW_UP_MEDICATION_LINES: usize = 4;

/// The follow-up form of course `course`'s patient, parsed: what the ward takes, or the errors
/// by field. The ward checks the values again (date, bounds, item count).
pub(super) fn parse_follow_up(
    f: &Fields,
    patient: &str,
    course: i64,
) -> Result<crate::ward::followup::NewFollowUp, Errors> {
    use crate::course::followup::{AcqRecord, DailyDose, MedicationUse, parse_acq_items};
    let mut e = Errors::new();
    let date = match field(f, "date") {
        "" => {
            e.insert("date".into(), "The follow-up's date is required".into());
            None
        }
        _ => date(f, "date", "The follow-up's date", &mut e),
    };
    let acq = match (field(f, "acq"), field(f, "acq_version")) {
        ("", "") => None,
        ("", _) => {
            e.insert(
                "acq".into(),
                "The ACQ item scores are required with a version".into(),
            );
            None
        }
        (_, "") => {
            e.insert(
                "acq_version".into(),
                "Choose the version on the clinic's form (5, 6 or 7 items)".into(),
            );
            None
        }
        (items, version) => match (parse_acq_items(items), version.parse::<u8>()) {
            (Ok(items), Ok(version)) => {
                let a = AcqRecord { version, items };
                match a.check() {
                    Ok(()) => Some(a),
                    Err(why) => {
                        e.insert("acq".into(), format!("The ACQ item scores: {why}"));
                        None
                    }
                }
            }
            (Err(why), _) => {
                e.insert("acq".into(), format!("The ACQ item scores: {why}"));
                None
            }
            (_, Err(_)) => {
                e.insert("acq_version".into(), "The ACQ version is 5, 6 or 7".into());
                None
            }
        },
    };
    let fev1_percent = match field(f, "fev1") {
        "" => None,
        t => crate::units::parse_decimal(t)
            .ok_or_else(|| {
                e.insert(
                    "fev1".into(),
                    format!("FEV1: {t:?} is not a percentage of predicted"),
                )
            })
            .ok(),
    };
    let mut used = Vec::new();
    for i in 1..=FOLLOW_UP_MEDICATION_LINES {
        let (dn, dd) = (format!("med{i}_drug"), format!("med{i}_dose"));
        match (field(f, &dn), field(f, &dd)) {
            ("", "") => {}
            ("", _) => {
                e.insert(dn, "The drug is required with its daily dose".into());
            }
            (_, "") => {
                e.insert(dd, "The daily dose is required with the drug".into());
            }
            (drug, dose) => match DailyDose::parse(dose) {
                Ok(daily_dose) => used.push(MedicationUse {
                    drug: drug.to_string(),
                    daily_dose,
                }),
                Err(why) => {
                    e.insert(dd, format!("The daily dose: {why}"));
                }
            },
        }
    }
    let none = field(f, "no_medication") == "yes";
    if none && !used.is_empty() {
        e.insert(
            "no_medication".into(),
            "No medication is ticked, but drugs are listed: one or the other".into(),
        );
    }
    let medication = if none {
        Some(Vec::new())
    } else if used.is_empty() {
        None
    } else {
        Some(used)
    };
    match (date, e.is_empty()) {
        (Some(date), true) => Ok(crate::ward::followup::NewFollowUp {
            patient: patient.to_string(),
            course: Some(course),
            date,
            acq,
            fev1_percent,
            medication,
        }),
        _ => Err(e),
    }
}

/// The follow-up form's field for a value the ward refused.
pub(super) fn follow_up_field(which: Field) -> Option<&'static str> {
    Some(match which {
        Field::FollowUpDate => "date",
        Field::Acq => "acq",
        Field::AcqVersion => "acq_version",
        Field::Fev1 => "fev1",
        Field::Medication => "med1_drug",
        Field::DailyDose => "med1_dose",
        _ => return None,
    })
}

pub(super) fn vial_field(which: Field) -> Option<&'static str> {
    Some(match which {
        Field::VialNumber => "vial",
        Field::Lot => "lot",
        Field::Expires => "expires",
        Field::Manufacturer => "manufacturer",
        Field::Prepared => "prepared",
        Field::VialVolume => "volume",
        Field::Scan => "scan",
        Field::Reason => "reason",
        _ => return None,
    })
}

/// The observe form's event, or its errors in `e`.
fn observe(f: &Fields, e: &mut Errors) -> Option<EventKind> {
    let not_assessable = field(f, "not_assessable") == "yes";
    let local_mm = match (field(f, "local_mm"), not_assessable) {
        ("", true) => None,
        ("", false) => {
            e.insert(
                "local_mm".into(),
                "the local reaction's size in mm is required, or tick \"not assessable\"".into(),
            );
            None
        }
        (_, true) => {
            e.insert(
                "local_mm".into(),
                "give a size or tick \"not assessable\", not both".into(),
            );
            None
        }
        (_, false) => number(
            f,
            "local_mm",
            "The local reaction",
            0..=crate::course::MAX_REACTION_MM,
            e,
        ),
    };
    let early_reason = optional(f, "early", Field::Early, "Why it ends early", e);
    Some(EventKind::ObservationEnded {
        local_mm,
        not_assessable,
        early_reason,
    })
}

/// The react form's event, or its errors in `e`.
fn react(f: &Fields, e: &mut Errors) -> Option<EventKind> {
    match field(f, "type") {
        "systemic" => {
            let grade = match field(f, "grade") {
                "" => {
                    e.insert(
                        "grade".into(),
                        "the WAO grade with its suffix is required".into(),
                    );
                    None
                }
                g => g
                    .parse::<WaoGrade>()
                    .map_err(|why| e.insert("grade".into(), why))
                    .ok(),
            };
            let onset = number(
                f,
                "onset_min",
                "The onset",
                0..=crate::course::MAX_ONSET_MIN,
                e,
            );
            let symptom = required(f, "symptom", Field::Symptom, "The first symptom", e);
            let treatment = optional(f, "treatment", Field::Treatment, "The treatment", e);
            match (grade, onset, symptom) {
                (Some(grade), Some(onset_min), Some(symptom)) => {
                    Some(EventKind::SystemicReaction {
                        grade,
                        onset_min,
                        symptom,
                        treatment,
                    })
                }
                _ => None,
            }
        }
        "late-local" => number(
            f,
            "late_mm",
            "The late local reaction",
            0..=crate::course::MAX_REACTION_MM,
            e,
        )
        .map(|mm| EventKind::LateLocalReaction { mm }),
        "late" => {
            let late = serde_json::from_value::<LateKind>(serde_json::Value::String(
                field(f, "late_kind").to_string(),
            ))
            .map_err(|_| {
                e.insert(
                    "late_kind".into(),
                    format!("choose the late reaction's kind ({})", LateKind::NAMES),
                )
            })
            .ok();
            let symptom = required(f, "symptom", Field::Symptom, "What was seen", e);
            match (late, symptom) {
                (Some(kind), Some(symptom)) => Some(EventKind::LateReaction { kind, symptom }),
                _ => None,
            }
        }
        _ => {
            e.insert(
                "type".into(),
                "choose the reaction: systemic, late local or another late reaction".into(),
            );
            None
        }
    }
}

/// The correct form's event, or its errors in `e`.
fn correct(f: &Fields, e: &mut Errors) -> Option<EventKind> {
    let corrects = match field(f, "event").parse::<u64>() {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            e.insert("event".into(), "choose the entry to correct".into());
            None
        }
    };
    let reason = required(f, "reason", Field::Reason, "The reason", e);
    match (corrects, reason) {
        (Some(corrects), Some(reason)) => Some(EventKind::Correction { corrects, reason }),
        _ => None,
    }
}

/// The review form's event, or its errors in `e`.
fn review(f: &Fields, e: &mut Errors) -> Option<EventKind> {
    let decision = match field(f, "decision") {
        "step-back" => number(
            f,
            "steps",
            "The steps back",
            1..=crate::course::MAX_STEPS_BACK,
            e,
        )
        .map(|steps| Review::StepBack { steps }),
        d => d
            .parse::<Review>()
            .map_err(|_| e.insert("decision".into(), "choose a decision".into()))
            .ok(),
    };
    let reason = optional(f, "reason", Field::Reason, "The reason", e);
    decision.map(|decision| EventKind::PhysicianReview {
        decision,
        reason,
        about: None,
    })
}
