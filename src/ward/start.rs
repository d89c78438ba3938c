//! Starting a course: the roles, the eligibility rule, the plan, one active course per extract,
//! and the frozen copies.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::auth::{Actor, Role};
use super::{Inputs, Ward, WardError, lay_plan, text};
use crate::diag::SourceText;
use crate::field::Field;
use crate::planner::{self, ClinicCalendar, Plan};
use crate::policy::Policy;
use crate::store::NewCourse;
use crate::template::{Catalog, Template};

/// What starting a course needs.
pub struct Start<'a> {
    /// The patient.
    pub patient_id: &'a str,
    /// The template asked for.
    pub template: &'a Template,
    /// All templates (for a switch).
    pub catalog: &'a Catalog,
    /// The rules in force.
    pub policy: &'a Policy,
    /// The rules files in force, to freeze.
    pub rule_sources: Vec<SourceText>,
    /// The first injection.
    pub start: NaiveDateTime,
    /// The clinic calendar.
    pub calendar: ClinicCalendar,
    /// Omalizumab weeks as typed: never used (the record's pretreatment is); the CLI refuses a
    /// typed number, and front ends pass `None`.
    pub omalizumab_weeks: Option<u32>,
    /// The physician accepts a refused risk.
    pub accept_risk: Option<String>,
    /// The physician accepts treating under the product's minimum age.
    pub accept_age: Option<String>,
    /// The physician accepts starting without FEV1 or asthma status.
    pub accept_missing: Option<String>,
    /// Now.
    pub now: NaiveDateTime,
}

/// A course started.
pub struct Started {
    /// Its id.
    pub id: i64,
    /// Its plan.
    pub plan: Plan,
    /// The omalizumab pretreatment the record showed (its weeks set the stratum's adjustment).
    pub pretreatment: Option<crate::course::omalizumab::Pretreatment>,
}

/// Why a course could not start: the planner's refusal, or an eligibility rule. Each front end
/// words it (and says how its user accepts or stops, in its own terms).
pub enum NotStarted {
    /// The planner refused.
    Plan(planner::Refusal),
    /// Values the eligibility rule requires are missing from the patient's record, and no
    /// physician accepted starting without them.
    Missing {
        /// What is missing, described.
        what: Vec<&'static str>,
        /// The rule that requires them.
        rule: crate::policy::Provenance,
    },
    /// The patient has an active course of the same extract: two would double the dose the
    /// schedule allows.
    SameExtract {
        /// That course.
        course: i64,
        /// Its product.
        product: String,
        /// Its allergen.
        allergen: String,
    },
}

impl Ward {
    /// Starts a course (nurse or physician; accepting a refused risk, an age under the
    /// product's minimum or a missing lung function is a physician's): eligibility, the
    /// patient's active courses, the planner; then freezes the template, the rules and the plan.
    pub fn start(
        &mut self,
        actor: &Actor,
        s: Start<'_>,
    ) -> Result<Result<Started, NotStarted>, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "starting a course")?;
        // A first day that starts at a wall-clock time the clocks skip names no moment:
        // refused. A date alone (read as its midnight) names the day, not a moment, and is not
        // refused where a zone's clocks skip midnight itself.
        if s.start.time() != chrono::NaiveTime::MIN {
            super::existing(self.zone()?, s.start, Field::CourseStart)?;
        }
        let accept_risk = text::opt_text(Field::AcceptRisk, s.accept_risk.as_deref())?;
        let accept_age = text::opt_text(Field::AcceptAge, s.accept_age.as_deref())?;
        let accept_missing = text::opt_text(Field::AcceptMissing, s.accept_missing.as_deref())?;
        for (doing, v) in [
            ("accepting the risk for the patient", &accept_risk),
            ("accepting the age for the patient", &accept_age),
            ("accepting a missing value for the patient", &accept_missing),
        ] {
            if v.is_some() {
                actor.require(&[Role::Physician], doing)?;
            }
        }
        let p = self.patient(s.patient_id)?;
        let missing: Vec<&str> = s
            .policy
            .eligibility
            .require
            .iter()
            .filter(|r| match r {
                crate::policy::eligibility::Required::Fev1 => p.fev1_percent.is_none(),
                crate::policy::eligibility::Required::Asthma => p.asthma.is_none(),
            })
            .map(|r| r.describe())
            .collect();
        if !missing.is_empty() && accept_missing.is_none() {
            return Ok(Err(NotStarted::Missing {
                what: missing,
                rule: s.policy.eligibility.require_provenance.clone(),
            }));
        }
        // Omalizumab pretreatment is what the record shows on day 1, never a typed number.
        let recorded = self.recorded_pretreatment(&p.id, s.start.date())?;
        let inputs = Inputs {
            dob: p.dob,
            weight_kg: p.weight_kg.clone(),
            sige: p.sige.clone(),
            total_ige: p.total_ige.clone(),
            fev1_percent: p.fev1_percent.clone(),
            asthma: p.asthma.clone(),
            beta_blocker: p.beta_blocker,
            omalizumab_weeks: recorded.as_ref().map(|r| r.weeks),
            start: s.start,
            opens: s.calendar.opens,
            closes: s.calendar.closes,
            clinic_days: s.calendar.days.iter().map(|d| d.to_string()).collect(),
            closed_dates: s.calendar.closed.clone(),
            accept_risk,
            accept_age,
            accept_missing: accept_missing.filter(|_| !missing.is_empty()),
            omalizumab_recorded: recorded.clone(),
        };
        let plan = match lay_plan(s.template, s.catalog, s.policy, &inputs)? {
            Ok(p) => p,
            Err(refusal) => return Ok(Err(NotStarted::Plan(refusal))),
        };
        let template = s
            .catalog
            .get(&plan.template.id)
            .ok_or_else(|| WardError::Data(format!("template {:?} vanished", plan.template.id)))?;
        // One active course per extract and patient: two courses of one extract would double
        // the dose the schedule allows.
        for (other, state) in self.others(&p.id, i64::MIN)? {
            if !state.inactive()
                && other.extract() == (template.product.as_str(), template.allergen.as_str())
            {
                return Ok(Err(NotStarted::SameExtract {
                    course: other.record.id,
                    product: template.product.clone(),
                    allergen: template.allergen.clone(),
                }));
            }
        }
        let used = s.catalog.source(&plan.template.id).ok_or_else(|| {
            WardError::Data(format!(
                "template {:?} has no source text",
                plan.template.id
            ))
        })?;
        let rules_json: BTreeMap<String, String> = s
            .rule_sources
            .into_iter()
            .map(|src| {
                let name = std::path::Path::new(&src.name)
                    .file_name()
                    .map_or(src.name.clone(), |f| f.to_string_lossy().into_owned());
                (name, src.text)
            })
            .collect();
        let record = NewCourse {
            patient_id: p.id.clone(),
            template_id: plan.template.id.clone(),
            rule_set: template.rules.clone(),
            template_text: used.text.clone(),
            rules_json: to_json(&rules_json)?,
            plan_json: to_json(&plan)?,
            inputs_json: to_json(&inputs)?,
        };
        let id = self.store.add_course(&record, s.now, &actor.author())?;
        Ok(Ok(Started {
            id,
            plan,
            pretreatment: recorded,
        }))
    }
}

/// A frozen copy's JSON text.
fn to_json<T: serde::Serialize>(v: &T) -> Result<String, WardError> {
    serde_json::to_string(v).map_err(|e| WardError::Data(e.to_string()))
}
