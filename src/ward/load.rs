//! Loading a course from its frozen copies: the inputs, template and rules it started with, and
//! its plan laid again and compared with the stored one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use super::WardError;
use crate::course::Context;
use crate::diag::SourceText;
use crate::patient::{Patient, PatientInput};
use crate::planner::{self, ClinicCalendar, Plan, Request};
use crate::policy::Policy;
use crate::risk::assess;
use crate::store::CourseRecord;
use crate::template::{Catalog, Template};

/// What a course froze at its start besides template and rules: enough to lay the same plan
/// again, and check that it is the same.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inputs {
    /// Date of birth.
    pub dob: NaiveDate,
    /// Weight, kg, as entered.
    pub weight_kg: String,
    /// Mite sIgE, as entered.
    pub sige: String,
    /// Total IgE, as entered.
    pub total_ige: String,
    /// FEV1 % predicted.
    pub fev1_percent: Option<String>,
    /// Asthma control.
    pub asthma: Option<String>,
    /// Beta-blocker use.
    pub beta_blocker: bool,
    /// Omalizumab weeks at the start.
    pub omalizumab_weeks: Option<u32>,
    /// The first injection.
    pub start: NaiveDateTime,
    /// Opening time.
    pub opens: NaiveTime,
    /// Closing time.
    pub closes: NaiveTime,
    /// Clinic days.
    pub clinic_days: Vec<String>,
    /// Dates the clinic is closed (absent in courses started before holidays were known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed_dates: Vec<NaiveDate>,
    /// The physician's reason for accepting a refused risk.
    pub accept_risk: Option<String>,
    /// The physician's reason for treating under the product's minimum age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_age: Option<String>,
    /// The physician's reason for starting without FEV1 or asthma status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_missing: Option<String>,
    /// The omalizumab pretreatment the record showed at the start (its weeks are
    /// `omalizumab_weeks`); absent when none was recorded, and in older courses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omalizumab_recorded: Option<crate::course::omalizumab::Pretreatment>,
}

impl Inputs {
    /// The patient as the planner reads them.
    pub fn patient(&self) -> Result<Patient, WardError> {
        let input = PatientInput {
            age: None,
            dob: Some(self.dob),
            weight_kg: Some(self.weight_kg.clone()),
            sige: Some(self.sige.clone()),
            total_ige: Some(self.total_ige.clone()),
            fev1_percent: self.fev1_percent.clone(),
            beta_blocker: self.beta_blocker,
            asthma: self.asthma.as_deref().and_then(|a| a.parse().ok()),
            omalizumab_weeks: self.omalizumab_weeks,
            omalizumab_since: None,
        };
        Ok(Patient::from_input(&input, self.start.date())?)
    }

    /// The clinic calendar.
    pub fn calendar(&self) -> ClinicCalendar {
        ClinicCalendar {
            opens: self.opens,
            closes: self.closes,
            days: self
                .clinic_days
                .iter()
                .filter_map(|d| d.parse::<Weekday>().ok())
                .collect(),
            closed: self.closed_dates.clone(),
        }
    }
}

/// A course loaded from its frozen copies, its plan checked against the stored one.
pub struct Loaded {
    /// The stored course.
    pub record: CourseRecord,
    /// Its frozen template (shared by the courses read together that froze the same text).
    pub template: Arc<Template>,
    /// Its frozen rules (shared by the courses read together that froze the same text).
    pub policy: Arc<Policy>,
    /// Its plan, laid again from the frozen copies.
    pub plan: Plan,
    /// Its inputs.
    pub inputs: Inputs,
    /// Its clinic calendar.
    pub calendar: ClinicCalendar,
}

impl Loaded {
    /// The state machine's context.
    pub fn ctx(&self) -> Result<Context<'_>, super::view::MissingRuleSet> {
        let rules = self.policy.rule_set(&self.record.rule_set).ok_or_else(|| {
            super::view::MissingRuleSet {
                course: self.record.id,
                rule_set: self.record.rule_set.clone(),
            }
        })?;
        Ok(Context {
            plan: &self.plan,
            template: &self.template,
            rules: &rules.rules,
            calendar: &self.calendar,
        })
    }

    /// The extract the course gives: product and allergen of its template.
    pub fn extract(&self) -> (&str, &str) {
        (&self.template.product, &self.template.allergen)
    }
}

/// Lays the plan of a course from its inputs.
pub fn lay_plan(
    template: &Template,
    catalog: &Catalog,
    policy: &Policy,
    inputs: &Inputs,
) -> Result<Result<Plan, planner::Refusal>, WardError> {
    let patient = inputs.patient()?;
    let assessment = assess(&patient, &policy.risk);
    let cal = inputs.calendar();
    planner::plan(&Request {
        template,
        catalog,
        assessment: &assessment,
        rules: &policy.risk,
        start: inputs.start,
        calendar: &cal,
        accept_risk: inputs.accept_risk.as_deref(),
        eligibility: &policy.eligibility,
        accept_age: inputs.accept_age.as_deref(),
        accept_missing: inputs.accept_missing.as_deref(),
    })
    .map_err(|e| WardError::Data(e.to_string()))
}

/// Parsed frozen copies, shared by courses whose frozen rules and template are the same text.
/// Found by a cheap key (the texts' lengths and a sample of their bytes), then by comparing the
/// texts themselves: a comparison of tens of KB costs far less than hashing them (a SHA-256 per
/// course was a fifth of an audit's time), and two texts that differ are never confused.
#[derive(Default)]
pub struct Parsed {
    by_text: HashMap<u64, Vec<ParsedTexts>>,
    /// Omalizumab courses' frozen rules, by the same key.
    omalizumab: HashMap<u64, Vec<ParsedOmalizumab>>,
}

impl Parsed {
    /// An omalizumab course's frozen rules, parsed by `parse` once per distinct pair of texts
    /// (rules and label table; a refusal is not kept).
    pub(super) fn omalizumab(
        &mut self,
        record: &CourseRecord,
        parse: impl FnOnce(&CourseRecord) -> Result<Policy, WardError>,
    ) -> Result<Arc<Policy>, WardError> {
        let slot = self
            .omalizumab
            .entry(content_key(&record.rules_json, &record.template_text))
            .or_default();
        if let Some((_, _, p)) = slot
            .iter()
            .find(|(r, t, _)| *r == record.rules_json && *t == record.template_text)
        {
            return Ok(Arc::clone(p));
        }
        let policy = Arc::new(parse(record)?);
        slot.push((
            record.rules_json.clone(),
            record.template_text.clone(),
            Arc::clone(&policy),
        ));
        Ok(policy)
    }
}

/// An omalizumab course's frozen rules and label table, and the rules parsed from them.
type ParsedOmalizumab = (Arc<str>, Arc<str>, Arc<Policy>);

/// One distinct pair of frozen texts, parsed.
struct ParsedTexts {
    rules_json: Arc<str>,
    template_text: Arc<str>,
    policy: Arc<Policy>,
    catalog: Catalog,
    /// The catalog's templates, shared by the courses loaded from them (not copied into each).
    templates: HashMap<String, Arc<Template>>,
}

/// The cheap key of a course's frozen rules and template: their lengths and up to 64 bytes from
/// each one's start, middle and end (equal texts always share it; the texts decide).
fn content_key(rules_json: &str, template_text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in [rules_json, template_text] {
        let b = p.as_bytes();
        b.len().hash(&mut h);
        let mid = b.len() / 2;
        for r in [
            0..b.len().min(64),
            mid..(mid + 64).min(b.len()),
            b.len().saturating_sub(64)..b.len(),
        ] {
            b.get(r).hash(&mut h);
        }
    }
    h.finish()
}

/// Whether a re-laid plan is the stored one. Plans stored by an earlier ritplan lack fields
/// added since (`limits`, each step's `protocol_day`); those may be absent, every other field
/// must be equal.
fn same_plan(stored: &str, relaid: &Plan) -> bool {
    // The stored plan was written by the same serialiser (`serde_json::to_string`): the same
    // bytes are the same plan, without reading the stored text back into a tree. Written into
    // one buffer per thread, kept from plan to plan, and compared whole: an audit lays and
    // compares 10 000 plans, and comparing each small piece as it was written (or allocating
    // a text for each plan) cost more than laying them.
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let same = BUFFER.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let same = serde_json::to_writer(&mut *buf, relaid).is_ok()
                && buf.as_slice() == stored.as_bytes();
            // A plan far larger than usual does not keep its memory for the rest of the run.
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
            same
        }
        Err(_) => serde_json::to_string(relaid).is_ok_and(|t| t == stored),
    });
    if same {
        return true;
    }
    let (Ok(stored), Ok(relaid)) = (
        serde_json::from_str::<serde_json::Value>(stored),
        serde_json::to_value(relaid),
    ) else {
        return false;
    };
    if stored == relaid {
        return true;
    }
    let mut relaid = relaid;
    let added_top = ["limits"];
    let added_step = ["protocol_day"];
    let (Some(s), Some(r)) = (stored.as_object(), relaid.as_object_mut()) else {
        return false;
    };
    for k in added_top {
        if !s.contains_key(k) {
            r.remove(k);
        }
    }
    if let (Some(ss), Some(rs)) = (
        s.get("steps").and_then(|v| v.as_array()),
        r.get_mut("steps").and_then(|v| v.as_array_mut()),
    ) {
        for (a, b) in ss.iter().zip(rs.iter_mut()) {
            for k in added_step {
                if a.get(k).is_none()
                    && let Some(o) = b.as_object_mut()
                {
                    o.remove(k);
                }
            }
        }
    }
    stored == relaid
}

/// The parsed frozen rules and template of a course (parsed once per distinct pair of texts).
fn frozen<'a>(record: &CourseRecord, parsed: &'a mut Parsed) -> Result<&'a ParsedTexts, WardError> {
    let id = record.id;
    let same = |p: &ParsedTexts| {
        p.rules_json == record.rules_json && p.template_text == record.template_text
    };
    let slot = parsed
        .by_text
        .entry(content_key(&record.rules_json, &record.template_text))
        .or_default();
    let at = match slot.iter().position(same) {
        Some(at) => at,
        None => {
            let rules: BTreeMap<String, String> = serde_json::from_str(&record.rules_json)
                .map_err(|e| {
                    WardError::Data(format!("course {id}: frozen rules unreadable: {e}"))
                })?;
            let policy = Policy::from_sources(
                rules
                    .into_iter()
                    .map(|(n, t)| SourceText::new(n, t))
                    .collect(),
            )
            .map_err(|e| {
                let first = e
                    .files
                    .iter()
                    .flat_map(|(src, d)| {
                        d.iter().map(move |d| format!("{}: {}", src.name, d.message))
                    })
                    .next()
                    .unwrap_or_default();
                WardError::Data(format!(
                    "course {id}: its frozen rules no longer load ({first}); a course started by an earlier ritplan must be stopped and started again"
                ))
            })?;
            let source = SourceText::new(
                format!("<course {id}>/{}.toml", record.template_id),
                record.template_text.to_string(),
            );
            let (catalog, _) = Catalog::build(vec![source], &policy);
            let templates = catalog
                .iter()
                .map(|(t, _)| (t.id.clone(), Arc::new(t.clone())))
                .collect();
            slot.push(ParsedTexts {
                rules_json: record.rules_json.clone(),
                template_text: record.template_text.clone(),
                policy: Arc::new(policy),
                catalog,
                templates,
            });
            slot.len() - 1
        }
    };
    slot.get(at).ok_or_else(|| WardError::Data("cache".into()))
}

/// Loads a course from its record, parsing its frozen copies (once per distinct text), its plan
/// laid again and compared with the stored one.
pub fn load_record(record: CourseRecord, parsed: &mut Parsed) -> Result<Loaded, WardError> {
    let id = record.id;
    if super::CourseKind::of(&record) == super::CourseKind::Omalizumab {
        return Err(WardError::Data(format!(
            "course {id} is an omalizumab course, not an immunotherapy course"
        )));
    }
    let texts = frozen(&record, parsed)?;
    let (policy, catalog) = (&texts.policy, &texts.catalog);
    let template = texts
        .templates
        .get(&record.template_id)
        .cloned()
        .ok_or_else(|| {
            WardError::Data(format!("course {id}: its frozen template no longer checks"))
        })?;
    let inputs: Inputs = serde_json::from_str(&record.inputs_json)
        .map_err(|e| WardError::Data(format!("course {id}: frozen inputs unreadable: {e}")))?;
    let plan = match lay_plan(&template, catalog, policy, &inputs)? {
        Ok(p) => p,
        Err(_) => {
            return Err(WardError::Data(format!(
                "course {id}: its frozen plan can no longer be laid"
            )));
        }
    };
    if !same_plan(&record.plan_json, &plan) {
        return Err(WardError::Data(format!(
            "course {id}: its frozen plan does not reproduce from its frozen template and rules; the record may have been altered"
        )));
    }
    let calendar = inputs.calendar();
    Ok(Loaded {
        record,
        template,
        policy: Arc::clone(policy),
        plan,
        inputs,
        calendar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{bundled, make_plan};

    #[test]
    fn a_frozen_plan_is_the_same_by_its_bytes_or_its_fields_and_never_when_changed() {
        let p = make_plan(&bundled(), "example-hdm-rush-3d", 34, "2");
        let stored = serde_json::to_string(&p).expect("json");
        assert!(same_plan(&stored, &p));
        // Written by an earlier ritplan: the same fields in another layout, and without the
        // fields added since.
        let mut older: serde_json::Value = serde_json::from_str(&stored).expect("value");
        if let Some(o) = older.as_object_mut() {
            o.remove("limits");
        }
        let older = serde_json::to_string_pretty(&older).expect("json");
        assert_ne!(older, stored);
        assert!(same_plan(&older, &p));
        // One dose changed: not the same plan, whatever the layout.
        let changed = stored.replacen("\"dose\":10,", "\"dose\":11,", 1);
        assert_ne!(changed, stored);
        assert!(!same_plan(&changed, &p));
        assert!(!same_plan("not json", &p));
        // A prefix of the plan is not the plan; the same plan with a space after it is (the
        // fields decide when the bytes differ).
        assert!(!same_plan(&stored[..stored.len() - 1], &p));
        assert!(same_plan(&format!("{stored} "), &p));
    }
}
