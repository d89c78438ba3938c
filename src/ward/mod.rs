//! The application layer between the front ends and the core: open the record, load a course
//! from its frozen copies and check that its plan reproduces, gather the patient's other courses
//! (the patient, not the course, is the unit of safety), decide, and record with every check
//! inside the store's transaction. Front ends parse and render; they hold no clinical decision.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use crate::course::{
    self, Context, CourseState, Decision, Event, EventKind, OtherCourse, PatientView, Proposed,
    Refusal,
};
use crate::diag::SourceText;
use crate::patient::{Patient, PatientError, PatientInput};
use crate::planner::{self, ClinicCalendar, Plan, Request};
use crate::policy::Policy;
use crate::risk::assess;
use crate::store::{
    AppendError, CourseRecord, NewCourse, NewEvent, PatientRecord, Store, StoreError, StoredEvent,
    TxView,
};
use crate::template::{Catalog, Template};

/// Why the ward did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum WardError {
    /// A clinical refusal by the state machine; nothing was written.
    #[error("{0}")]
    Refused(Box<Refusal>),
    /// A clinical refusal to start (eligibility, contraindication, risk, same extract).
    #[error("{0}")]
    NotStarted(String),
    /// Bad data: an unknown patient or course, a record that fails its checks.
    #[error("{0}")]
    Data(String),
    /// The record database failed.
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for WardError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) | StoreError::Exists(m) => WardError::Data(m),
            other => WardError::Store(other),
        }
    }
}

impl From<PatientError> for WardError {
    fn from(e: PatientError) -> Self {
        WardError::Data(format!("patient value {}: {}", e.field, e.why))
    }
}

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
    /// The physician's reason for accepting a refused risk.
    pub accept_risk: Option<String>,
    /// The physician's reason for treating under the product's minimum age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_age: Option<String>,
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
        }
    }
}

/// A course loaded from its frozen copies, its plan checked against the stored one.
pub struct Loaded {
    /// The stored course.
    pub record: CourseRecord,
    /// Its frozen template.
    pub template: Template,
    /// Its frozen rules.
    pub policy: Policy,
    /// Its plan, laid again from the frozen copies.
    pub plan: Plan,
    /// Its inputs.
    pub inputs: Inputs,
    /// Its clinic calendar.
    pub calendar: ClinicCalendar,
}

impl Loaded {
    /// The state machine's context.
    pub fn ctx(&self) -> Result<Context<'_>, WardError> {
        let rules = self.policy.rule_set(&self.record.rule_set).ok_or_else(|| {
            WardError::Data(format!(
                "course {}: its rule set {:?} is missing from its frozen rules",
                self.record.id, self.record.rule_set
            ))
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
    })
    .map_err(|e| WardError::Data(e.to_string()))
}

/// Parsed frozen copies, shared by courses whose frozen rules and template are the same text.
#[derive(Default)]
pub struct Parsed {
    by_text: HashMap<(String, String), (Policy, Catalog)>,
}

/// Whether a re-laid plan is the stored one. Plans stored by an earlier ritplan lack fields
/// added since (`limits`, each step's `protocol_day`); those may be absent, every other field
/// must be equal.
fn same_plan(stored: &str, relaid: &Plan) -> bool {
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

/// Loads a course from its record, parsing its frozen copies (once per distinct text).
pub fn load_record(record: CourseRecord, parsed: &mut Parsed) -> Result<Loaded, WardError> {
    let id = record.id;
    let key = (record.rules_json.clone(), record.template_text.clone());
    if !parsed.by_text.contains_key(&key) {
        let rules: BTreeMap<String, String> = serde_json::from_str(&record.rules_json)
            .map_err(|e| WardError::Data(format!("course {id}: frozen rules unreadable: {e}")))?;
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
                .flat_map(|(src, d)| d.iter().map(move |d| format!("{}: {}", src.name, d.message)))
                .next()
                .unwrap_or_default();
            WardError::Data(format!(
                "course {id}: its frozen rules no longer load ({first}); a course started by an earlier ritplan must be stopped and started again"
            ))
        })?;
        let source = SourceText::new(
            format!("<course {id}>/{}.toml", record.template_id),
            record.template_text.clone(),
        );
        let (catalog, _) = Catalog::build(vec![source], &policy);
        parsed.by_text.insert(key.clone(), (policy, catalog));
    }
    let (policy, catalog) = parsed
        .by_text
        .get(&key)
        .ok_or_else(|| WardError::Data("cache".into()))?;
    let template = catalog.get(&record.template_id).cloned().ok_or_else(|| {
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
        policy: policy.clone(),
        plan,
        inputs,
        calendar,
    })
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

    /// The next-dose decision at `now`.
    pub fn decide(&self, now: NaiveDateTime) -> Result<Decision, WardError> {
        Ok(course::next(
            self.loaded.ctx()?,
            &self.state,
            now,
            &self.patient,
        ))
    }
}

fn replay_stored(ctx: Context<'_>, events: &[StoredEvent]) -> CourseState {
    let plain: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
    course::replay(ctx, &plain)
}

/// The record, opened.
pub struct Ward {
    /// The store.
    pub store: Store,
    parsed: Parsed,
}

/// What each recording command records, as the front end parsed it.
#[derive(Clone, Debug)]
pub enum Record {
    /// A dose.
    Give {
        /// The dose proposed.
        proposed: Proposed,
        /// Lot.
        lot: Option<String>,
        /// Arm.
        site: Option<String>,
    },
    /// Any other event.
    Event(EventKind),
}

/// What was recorded, and what the course says now.
pub struct Recorded {
    /// The stored event.
    pub event: StoredEvent,
    /// The patient.
    pub patient: Option<PatientRecord>,
    /// The course now.
    pub view: CourseView,
    /// The next decision now.
    pub next: Decision,
    /// For an override: the dose the rules allowed instead, and the reason.
    pub overridden: Option<(course::Dosing, String)>,
}

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
    /// Omalizumab weeks so far.
    pub omalizumab_weeks: Option<u32>,
    /// The physician accepts a refused risk.
    pub accept_risk: Option<String>,
    /// The physician accepts treating under the product's minimum age.
    pub accept_age: Option<String>,
    /// Who starts it.
    pub by: &'a str,
    /// Now.
    pub now: NaiveDateTime,
}

/// A course started.
pub struct Started {
    /// Its id.
    pub id: i64,
    /// Its plan.
    pub plan: Plan,
}

/// Why a course could not start: the planner's refusal, or an eligibility rule.
pub enum NotStarted {
    /// The planner refused.
    Plan(planner::Refusal),
    /// A required value is missing, or the patient has an active course of the same extract.
    Eligibility(String),
}

impl Ward {
    /// Wraps an opened store.
    pub fn new(store: Store) -> Ward {
        Ward {
            store,
            parsed: Parsed::default(),
        }
    }

    /// A patient, or an error naming the id.
    pub fn patient(&self, id: &str) -> Result<PatientRecord, WardError> {
        self.store
            .patient(id)?
            .ok_or_else(|| WardError::Data(format!("no patient has the id {id:?}")))
    }

    /// Loads a course.
    pub fn load(&mut self, id: i64) -> Result<Loaded, WardError> {
        let record = self
            .store
            .course(id)?
            .ok_or_else(|| WardError::Data(format!("no course has the id {id}")))?;
        load_record(record, &mut self.parsed)
    }

    /// The patient's other courses, with their states.
    fn others(
        &mut self,
        patient: &str,
        except: i64,
    ) -> Result<Vec<(Loaded, CourseState)>, WardError> {
        let mut out = Vec::new();
        for r in self.store.courses_of(patient)? {
            if r.id == except {
                continue;
            }
            let id = r.id;
            let l = load_record(r, &mut self.parsed)?;
            let state = replay_stored(l.ctx()?, &self.store.events(id)?);
            out.push((l, state));
        }
        Ok(out)
    }

    /// A course with its events, state and the patient's other courses.
    pub fn view(&mut self, id: i64) -> Result<CourseView, WardError> {
        let loaded = self.load(id)?;
        let events = self.store.events(id)?;
        let state = replay_stored(loaded.ctx()?, &events);
        let others = self.others(&loaded.record.patient_id, id)?;
        let patient = PatientView {
            others: others
                .iter()
                .map(|(l, s)| OtherCourse::of(l.record.id, s))
                .collect(),
        };
        Ok(CourseView {
            loaded,
            events,
            state,
            patient,
        })
    }

    /// Every course, each with its view (for `course list`).
    pub fn views(&mut self) -> Result<Vec<CourseView>, WardError> {
        let ids: Vec<i64> = self.store.courses()?.iter().map(|c| c.id).collect();
        ids.into_iter().map(|id| self.view(id)).collect()
    }

    /// Starts a course: eligibility, the patient's active courses, the planner; then freezes
    /// the template, the rules and the plan in the record.
    pub fn start(&mut self, s: Start<'_>) -> Result<Result<Started, NotStarted>, WardError> {
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
        if !missing.is_empty() {
            let prov = &s.policy.eligibility.require_provenance;
            return Ok(Err(NotStarted::Eligibility(format!(
                "the patient record lacks {} [{} {}] {}",
                missing.join(" and "),
                prov.evidence,
                prov.certainty,
                prov.source
            ))));
        }
        let inputs = Inputs {
            dob: p.dob,
            weight_kg: p.weight_kg.clone(),
            sige: p.sige.clone(),
            total_ige: p.total_ige.clone(),
            fev1_percent: p.fev1_percent.clone(),
            asthma: p.asthma.clone(),
            beta_blocker: p.beta_blocker,
            omalizumab_weeks: s.omalizumab_weeks,
            start: s.start,
            opens: s.calendar.opens,
            closes: s.calendar.closes,
            clinic_days: s.calendar.days.iter().map(|d| d.to_string()).collect(),
            accept_risk: s.accept_risk.clone(),
            accept_age: s.accept_age.clone(),
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
                return Ok(Err(NotStarted::Eligibility(format!(
                    "the patient already has active course {} of the same extract ({}, {}); stop it (review --decision stop) before starting another",
                    other.record.id, template.product, template.allergen
                ))));
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
        let json = |v: &dyn erased::Json| v.json().map_err(|e| WardError::Data(e.to_string()));
        let record = NewCourse {
            patient_id: p.id.clone(),
            template_id: plan.template.id.clone(),
            rule_set: template.rules.clone(),
            template_text: used.text.clone(),
            rules_json: json(&rules_json)?,
            plan_json: json(&plan)?,
            inputs_json: json(&inputs)?,
        };
        let id = self.store.add_course(&record, s.now, s.by)?;
        Ok(Ok(Started { id, plan }))
    }

    /// Records one event: checked against the course's state and the patient's other courses
    /// inside the store's transaction, so that nothing is written when it is refused, two
    /// nurses cannot both give the same dose, and two courses of one patient are not dosed
    /// within the rules' spacing.
    pub fn record(
        &mut self,
        id: i64,
        by: &str,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
    ) -> Result<Recorded, WardError> {
        if at > now + chrono::Duration::minutes(1) {
            return Err(WardError::Data(format!(
                "--at {} is in the future; record what has happened",
                at.format("%Y-%m-%d %H:%M")
            )));
        }
        let late_entered = now - at > chrono::Duration::minutes(5);
        let loaded = self.load(id)?;
        let patient_id = loaded.record.patient_id.clone();
        // The other courses' frozen copies, parsed before the transaction takes its lock.
        let mut others: Vec<Loaded> = Vec::new();
        for r in self.store.courses_of(&patient_id)? {
            if r.id != id {
                others.push(load_record(r, &mut self.parsed)?);
            }
        }
        let ctx = loaded.ctx()?;
        let mut overridden = None;
        let result = self.store.append(
            id,
            |events, tx: &TxView<'_>| -> Result<NewEvent, WardError> {
                let state = replay_stored(ctx, events);
                let mut view = PatientView::default();
                for other in &others {
                    let s = replay_stored(other.ctx()?, &tx.events(other.record.id)?);
                    view.others.push(OtherCourse::of(other.record.id, &s));
                }
                let plain: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
                let kind = match &what {
                    Record::Give {
                        proposed,
                        lot,
                        site,
                    } => {
                        let allowed = course::next(ctx, &state, at, &view).dosing;
                        let d = course::check_give(ctx, &state, &view, at, proposed)
                            .map_err(|r| WardError::Refused(Box::new(r)))?;
                        if let (Some(a), Some(why)) = (allowed, &proposed.override_reason)
                            && (a.step, a.volume_ml) != (d.step, d.volume_ml)
                        {
                            overridden = Some((a, why.clone()));
                        }
                        EventKind::DoseGiven {
                            step: d.step,
                            vial: d.vial,
                            volume_ml: d.volume_ml,
                            dose: d.dose,
                            lot: lot.clone(),
                            site: site.clone(),
                            pef_percent: proposed.pef_percent,
                            screen_ok: proposed.screen_ok,
                            override_reason: proposed.override_reason.clone(),
                        }
                    }
                    Record::Event(kind) => {
                        course::admissible(ctx, &state, &plain, at, kind)
                            .map_err(|r| WardError::Refused(Box::new(r)))?;
                        kind.clone()
                    }
                };
                Ok(NewEvent {
                    kind,
                    at,
                    by: by.to_string(),
                    recorded_at: now,
                    late_entered,
                })
            },
        );
        let event = match result {
            Ok(ev) => ev,
            Err(AppendError::Refused(e)) => return Err(e),
            Err(AppendError::Store(e)) => return Err(e.into()),
        };
        let view = self.view(id)?;
        let next = view.decide(now)?;
        let patient = self.store.patient(&patient_id)?;
        Ok(Recorded {
            event,
            patient,
            view,
            next,
            overridden,
        })
    }

    /// Every active course's sheet rows for `date`, made at `now`, with the patient and the
    /// course; a patient's courses are laid one after the other so that two extracts keep their
    /// spacing.
    pub fn sheet(
        &mut self,
        date: NaiveDate,
        now: NaiveDateTime,
    ) -> Result<Vec<SheetLine>, WardError> {
        let patients: BTreeMap<String, PatientRecord> = self
            .store
            .patients()?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut by_patient: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for c in self.store.courses()? {
            by_patient
                .entry(c.patient_id.clone())
                .or_default()
                .push(c.id);
        }
        let mut lines = Vec::new();
        for (pid, ids) in by_patient {
            let mut planned: Vec<(i64, Vec<NaiveDateTime>)> = Vec::new();
            for id in ids {
                let mut v = self.view(id)?;
                if v.state.inactive() {
                    continue;
                }
                // The other courses' planned injections of the day count as injections.
                for o in &mut v.patient.others {
                    if let Some((_, times)) = planned.iter().find(|(c, _)| *c == o.course) {
                        o.injections.extend(times.iter().copied());
                    }
                }
                let ctx = v.loaded.ctx()?;
                let rows = course::sheet_rows(ctx, &v.state, &v.patient, date, now);
                planned.push((
                    id,
                    rows.iter()
                        .filter(|r| r.dosing.is_some())
                        .filter_map(|r| r.time.map(|t| NaiveDateTime::new(date, t)))
                        .collect(),
                ));
                let name = patients
                    .get(&pid)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                for row in rows {
                    let vial = row
                        .dosing
                        .as_ref()
                        .and_then(|d| v.loaded.template.vial(&d.vial));
                    lines.push(SheetLine {
                        course: id,
                        patient: pid.clone(),
                        name: name.clone(),
                        vial_label: vial.map(|x| x.label.clone()),
                        concentration: vial.map(|x| x.concentration.to_string()),
                        cap: vial.map(|x| x.cap.clone()),
                        evidence: v.loaded.template.evidence_label(),
                        row,
                    });
                }
            }
        }
        // DO NOT GIVE and observation rows first (no time, or the observation's end), then time.
        lines.sort_by_key(|l| {
            (
                !(l.row.action.do_not_give()
                    || l.row.action == course::ActionKind::ObservationNotClosed),
                l.row.time,
                l.course,
            )
        });
        Ok(lines)
    }
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
    /// The template's evidence label.
    pub evidence: String,
}

mod erased {
    /// Serialise through a trait object (one helper for several types).
    pub trait Json {
        fn json(&self) -> Result<String, serde_json::Error>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Result<String, serde_json::Error> {
            serde_json::to_string(self)
        }
    }
}
