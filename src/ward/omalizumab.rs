//! Omalizumab courses: started by a physician from the patient's recorded pre-treatment total
//! IgE and weight, frozen in the same keyed record as an immunotherapy course (the label's
//! rules file as its "template", the rules in force, the plan and the inputs), and loaded by
//! laying the plan again from the frozen copies and comparing it with the stored one.
//!
//! An omalizumab course is told from an immunotherapy course by its rule set
//! ([`OMALIZUMAB_RULE_SET`]); the ward's immunotherapy paths (views, the board, the sheet, the
//! patient's other courses) leave it out, and [`super::load_record`] refuses it by name.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::auth::{Actor, Role};
use super::{Ward, WardError};
use crate::diag::SourceText;
use crate::patient::{Patient, PatientInput};
use crate::policy::Policy;
use crate::policy::omalizumab_course::{self, OmalizumabPlan};
use crate::store::{CourseRecord, NewCourse};

/// The rule set an omalizumab course records in place of an immunotherapy course's: it marks
/// the course's kind.
pub const OMALIZUMAB_RULE_SET: &str = "omalizumab-label";

/// What a course treats with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CourseKind {
    /// Allergen immunotherapy from a template.
    Immunotherapy,
    /// Omalizumab from a label's dosing table.
    Omalizumab,
}

impl CourseKind {
    /// The kind of a stored course.
    pub fn of(record: &CourseRecord) -> CourseKind {
        if record.rule_set == OMALIZUMAB_RULE_SET {
            CourseKind::Omalizumab
        } else {
            CourseKind::Immunotherapy
        }
    }
}

/// What an omalizumab course froze at its start: enough to lay the same plan again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmalizumabInputs {
    /// The label (`eu`, `us`).
    pub label: String,
    /// Date of birth (the age at the first injection picks the table).
    pub dob: NaiveDate,
    /// Pre-treatment total IgE, as recorded.
    pub total_ige: String,
    /// Weight, kg, as recorded.
    pub weight_kg: String,
    /// The first injection.
    pub start: NaiveDate,
}

/// What starting an omalizumab course needs.
pub struct OmalizumabStart<'a> {
    /// The patient.
    pub patient_id: &'a str,
    /// The label (`eu`, `us`).
    pub label: &'a str,
    /// The rules files in force, to freeze.
    pub rule_sources: Vec<SourceText>,
    /// The first injection.
    pub start: NaiveDate,
    /// Now.
    pub now: NaiveDateTime,
}

/// An omalizumab course loaded from its frozen copies, its plan checked against the stored one.
pub struct LoadedOmalizumab {
    /// The stored course.
    pub record: CourseRecord,
    /// Its inputs.
    pub inputs: OmalizumabInputs,
    /// Its plan, laid again from the frozen copies.
    pub plan: OmalizumabPlan,
}

/// Why an omalizumab course could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum OmalizumabNotStarted {
    /// The label gives no dose for the recorded values (the value named).
    NoDose(String),
    /// The patient already has an omalizumab course: two would double the dose.
    Already {
        /// That course.
        course: i64,
    },
}

/// Lays the plan of an omalizumab course from its inputs and the rules.
fn lay(
    policy: &Policy,
    inputs: &OmalizumabInputs,
) -> Result<Result<OmalizumabPlan, String>, WardError> {
    let table = policy.omalizumab_table(&inputs.label).ok_or_else(|| {
        WardError::Data(format!(
            "the rules hold no omalizumab table for label {:?}",
            inputs.label
        ))
    })?;
    let patient = Patient::from_input(
        &PatientInput {
            age: None,
            dob: Some(inputs.dob),
            weight_kg: Some(inputs.weight_kg.clone()),
            sige: Some("0".into()),
            total_ige: Some(inputs.total_ige.clone()),
            fev1_percent: None,
            beta_blocker: false,
            asthma: None,
            omalizumab_weeks: None,
            omalizumab_since: None,
        },
        inputs.start,
    )?;
    let Some(ige) = patient.total_ige.exact() else {
        return Ok(Err(format!(
            "the recorded total IgE {} is censored; the label's table needs the exact pre-treatment value",
            patient.total_ige
        )));
    };
    let weight = patient.require_weight()?;
    Ok(
        omalizumab_course::lay(table, ige, weight, patient.age_years, inputs.start)
            .map_err(|e| e.0),
    )
}

/// The text of the rules file holding the label's table, among the rules in force.
fn label_source<'a>(sources: &'a [SourceText], label: &str) -> Option<&'a SourceText> {
    sources.iter().find(|s| {
        toml::from_str::<toml::Table>(&s.text).is_ok_and(|t| {
            t.get("kind").and_then(|k| k.as_str()) == Some("omalizumab-table")
                && t.get("id").and_then(|k| k.as_str()) == Some(label)
        })
    })
}

/// A frozen copy's JSON text.
fn to_json<T: Serialize>(v: &T) -> Result<String, WardError> {
    serde_json::to_string(v).map_err(|e| WardError::Data(e.to_string()))
}

/// Loads an omalizumab course from its record: its frozen rules, the label's table among them,
/// and its plan laid again and compared with the stored one.
pub fn load_omalizumab(record: CourseRecord) -> Result<LoadedOmalizumab, WardError> {
    let id = record.id;
    if CourseKind::of(&record) != CourseKind::Omalizumab {
        return Err(WardError::Data(format!(
            "course {id} is not an omalizumab course"
        )));
    }
    let rules: BTreeMap<String, String> = serde_json::from_str(&record.rules_json)
        .map_err(|e| WardError::Data(format!("course {id}: frozen rules unreadable: {e}")))?;
    if !rules.values().any(|t| *t == record.template_text) {
        return Err(WardError::Data(format!(
            "course {id}: its frozen label table is not among its frozen rules; the record may have been altered"
        )));
    }
    let policy = Policy::from_sources(
        rules
            .into_iter()
            .map(|(n, t)| SourceText::new(n, t))
            .collect(),
    )
    .map_err(|_| {
        WardError::Data(format!(
            "course {id}: its frozen rules no longer load; a course started by an earlier ritplan must be stopped and started again"
        ))
    })?;
    let inputs: OmalizumabInputs = serde_json::from_str(&record.inputs_json)
        .map_err(|e| WardError::Data(format!("course {id}: frozen inputs unreadable: {e}")))?;
    if record.template_id != format!("omalizumab-{}", inputs.label) {
        return Err(WardError::Data(format!(
            "course {id}: its label does not match its frozen inputs; the record may have been altered"
        )));
    }
    let plan = lay(&policy, &inputs)?.map_err(|_| {
        WardError::Data(format!(
            "course {id}: its frozen plan can no longer be laid"
        ))
    })?;
    let same = to_json(&plan)? == record.plan_json
        || serde_json::from_str::<serde_json::Value>(&record.plan_json).ok()
            == serde_json::to_value(&plan).ok();
    if !same {
        return Err(WardError::Data(format!(
            "course {id}: its frozen plan does not reproduce from its frozen label table and inputs; the record may have been altered"
        )));
    }
    Ok(LoadedOmalizumab {
        record,
        inputs,
        plan,
    })
}

impl Ward {
    /// The ids of the omalizumab courses (left out of the immunotherapy paths).
    pub(super) fn omalizumab_ids(&self) -> Result<Vec<i64>, WardError> {
        Ok(self.store.course_ids_with_rule_set(OMALIZUMAB_RULE_SET)?)
    }

    /// The kind of a course.
    pub fn course_kind(&self, id: i64) -> Result<CourseKind, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        Ok(CourseKind::of(&record))
    }

    /// An omalizumab course, verified (its chain and its frozen plan).
    pub fn omalizumab_course(&mut self, id: i64) -> Result<LoadedOmalizumab, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        self.store.verify_or_refuse(id)?;
        load_omalizumab(record)
    }

    /// Starts an omalizumab course (a physician's act): the dose from the patient's recorded
    /// pre-treatment total IgE and weight and the age at the first injection; refused, naming
    /// the value, when the label gives no dose, and while the patient has another omalizumab
    /// course.
    pub fn start_omalizumab(
        &mut self,
        actor: &Actor,
        s: OmalizumabStart<'_>,
    ) -> Result<Result<(i64, OmalizumabPlan), OmalizumabNotStarted>, WardError> {
        actor.require(&[Role::Physician], "starting an omalizumab course")?;
        let p = self.patient(s.patient_id)?;
        for r in self.store.courses_of(&p.id)? {
            if CourseKind::of(&r) == CourseKind::Omalizumab {
                return Ok(Err(OmalizumabNotStarted::Already { course: r.id }));
            }
        }
        let policy = Policy::from_sources(s.rule_sources.clone())
            .map_err(|_| WardError::Data("the rules files have errors".into()))?;
        let inputs = OmalizumabInputs {
            label: s.label.to_string(),
            dob: p.dob,
            total_ige: p.total_ige.clone(),
            weight_kg: p.weight_kg.clone(),
            start: s.start,
        };
        let plan = match lay(&policy, &inputs)? {
            Ok(plan) => plan,
            Err(why) => return Ok(Err(OmalizumabNotStarted::NoDose(why))),
        };
        let table = label_source(&s.rule_sources, s.label).ok_or_else(|| {
            WardError::Data(format!(
                "no rules file holds the omalizumab table for label {:?}",
                s.label
            ))
        })?;
        let rules_json: BTreeMap<String, String> = s
            .rule_sources
            .iter()
            .map(|src| {
                let name = std::path::Path::new(&src.name)
                    .file_name()
                    .map_or(src.name.clone(), |f| f.to_string_lossy().into_owned());
                (name, src.text.clone())
            })
            .collect();
        let record = NewCourse {
            patient_id: p.id.clone(),
            template_id: format!("omalizumab-{}", s.label),
            rule_set: OMALIZUMAB_RULE_SET.to_string(),
            template_text: table.text.clone(),
            rules_json: to_json(&rules_json)?,
            plan_json: to_json(&plan)?,
            inputs_json: to_json(&inputs)?,
        };
        let id = self.store.add_course(&record, s.now, &actor.author())?;
        Ok(Ok((id, plan)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored omalizumab course as `start_omalizumab` freezes it, without a record.
    fn frozen() -> CourseRecord {
        let sources = crate::policy::bundled_sources();
        let policy = Policy::from_sources(sources.clone()).expect("rules");
        let inputs = OmalizumabInputs {
            label: "eu".into(),
            dob: NaiveDate::from_ymd_opt(1990, 5, 1).expect("date"),
            total_ige: "410".into(),
            weight_kg: "70".into(),
            start: NaiveDate::from_ymd_opt(2026, 12, 7).expect("date"),
        };
        let plan = lay(&policy, &inputs).expect("lay").expect("dose");
        let rules: BTreeMap<String, String> = sources
            .iter()
            .map(|s| (s.name.clone(), s.text.clone()))
            .collect();
        CourseRecord {
            id: 7,
            patient_id: "P1".into(),
            template_id: "omalizumab-eu".into(),
            rule_set: OMALIZUMAB_RULE_SET.into(),
            template_text: label_source(&sources, "eu").expect("eu").text.clone(),
            rules_json: to_json(&rules).expect("json"),
            plan_json: to_json(&plan).expect("json"),
            inputs_json: to_json(&inputs).expect("json"),
            created_at: NaiveDateTime::MIN,
            created_by: "Dr Wang".into(),
        }
    }

    #[test]
    fn a_frozen_omalizumab_plan_reproduces_and_an_altered_one_is_refused() {
        let r = frozen();
        assert_eq!(CourseKind::of(&r), CourseKind::Omalizumab);
        let l = load_omalizumab(r.clone()).expect("loads");
        assert_eq!((l.plan.dose_mg, l.plan.every_weeks), (600, 4));
        // The dose changed in the stored plan: not the plan the inputs lay.
        let mut changed = r.clone();
        changed.plan_json = r.plan_json.replace("\"dose_mg\":600", "\"dose_mg\":300");
        assert_ne!(changed.plan_json, r.plan_json);
        let e = load_omalizumab(changed).err().expect("refused").to_string();
        assert!(e.contains("does not reproduce"), "{e}");
        // The weight changed in the inputs: another cell, another plan.
        let mut changed = r.clone();
        changed.inputs_json = r.inputs_json.replace("\"70\"", "\"45\"");
        assert_ne!(changed.inputs_json, r.inputs_json);
        assert!(load_omalizumab(changed).is_err());
        // An immunotherapy loader refuses it by name.
        let e = super::super::load_record(r, &mut super::super::Parsed::default())
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("omalizumab course"), "{e}");
    }
}
