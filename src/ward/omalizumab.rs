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
use super::{Ward, WardError, replay_stored};
use crate::course::omalizumab::{
    NotGiven, OmalizumabAction, OmalizumabDecision, OmalizumabState, check_give,
};
use crate::course::{Event, EventKind, OtherCourse, Review};
use crate::diag::SourceText;
use crate::patient::{Patient, PatientInput};
use crate::policy::Policy;
use crate::policy::omalizumab_course::{self, OmalizumabPlan};
use crate::store::{AppendError, NewEvent, StoredEvent, TxView};
use crate::store::{CourseRecord, NewCourse};

/// The rule set an omalizumab course records in place of an immunotherapy course's: it marks
/// the course's kind (reserved: no course rule set may take the name, see the policy reader).
pub use crate::policy::omalizumab_course::COURSE_RULE_SET as OMALIZUMAB_RULE_SET;

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
    /// The patient already has an active omalizumab course (not stopped, not finished): two
    /// would double the dose.
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

/// The omalizumab course rules among a course's frozen rules (a course started before they
/// existed cannot be decided on: fail closed).
pub(super) fn course_rules(
    c: &LoadedOmalizumab,
) -> Result<crate::policy::omalizumab_course::CourseRules, WardError> {
    frozen_course_rules(&c.record)
}

/// The omalizumab course rules among a stored course's frozen rules.
pub(super) fn frozen_course_rules(
    record: &CourseRecord,
) -> Result<crate::policy::omalizumab_course::CourseRules, WardError> {
    let rules: BTreeMap<String, String> =
        serde_json::from_str(&record.rules_json).map_err(|e| {
            WardError::Data(format!(
                "course {}: frozen rules unreadable: {e}",
                record.id
            ))
        })?;
    let policy = Policy::from_sources(
        rules
            .into_iter()
            .map(|(n, t)| SourceText::new(n, t))
            .collect(),
    )
    .map_err(|_| {
        WardError::Data(format!(
            "course {}: its frozen rules no longer load",
            record.id
        ))
    })?;
    policy.omalizumab_course.ok_or_else(|| {
        WardError::Data(format!(
            "course {}: its frozen rules hold no omalizumab course rules (observation, late injections); stop it and start it again",
            record.id
        ))
    })
}

/// The checks of an entry other than an injection.
fn check_event(
    rules: &crate::policy::omalizumab_course::CourseRules,
    state: &OmalizumabState,
    events: &[StoredEvent],
    at: NaiveDateTime,
    kind: &EventKind,
) -> Result<(), WardError> {
    let refuse = |m: String| Err(WardError::NotStarted(format!("not recorded: {m}")));
    match kind {
        EventKind::ObservationEnded { early_reason, .. } => {
            let Some(given) = state.observing else {
                return refuse("no injection is under observation".into());
            };
            let min = crate::course::omalizumab::observation_min(rules, state.given.len());
            let until = given + chrono::Duration::minutes(i64::from(min));
            if at < until && early_reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return refuse(format!(
                    "omalizumab injection {} is observed {min} min, until {} [{} {}] {}; an earlier end needs its reason",
                    state.given.len(),
                    until.format("%H:%M"),
                    rules.observation.evidence,
                    rules.observation.certainty,
                    rules.observation.source
                ));
            }
            Ok(())
        }
        EventKind::SystemicReaction { .. } if state.given.is_empty() => {
            refuse("no omalizumab injection was given on this course".into())
        }
        EventKind::PhysicianReview { reason, .. }
            if state.stopped.is_some() && reason.as_deref().is_none_or(|r| r.trim().is_empty()) =>
        {
            refuse("resuming a stopped course needs its reason".into())
        }
        EventKind::Correction { corrects, reason } => {
            if reason.trim().is_empty() {
                return refuse("a correction needs its reason".into());
            }
            if !events.iter().any(|e| e.event.seq == *corrects) {
                return refuse(format!("this course has no event #{corrects}"));
            }
            Ok(())
        }
        EventKind::Note { text } if text.trim().is_empty() => {
            refuse("a note needs its text".into())
        }
        EventKind::DoseDeferred { reason } if reason.trim().is_empty() => {
            refuse("a deferral needs its reason".into())
        }
        _ => Ok(()),
    }
}

/// A frozen copy's JSON text.
fn to_json<T: Serialize>(v: &T) -> Result<String, WardError> {
    serde_json::to_string(v).map_err(|e| WardError::Data(e.to_string()))
}

/// Loads an omalizumab course from its record: its frozen rules, the label's table among them,
/// and its plan laid again and compared with the stored one.
pub fn load_omalizumab(record: CourseRecord) -> Result<LoadedOmalizumab, WardError> {
    let policy = frozen_policy(&record)?;
    loaded_with(record, &policy)
}

/// The frozen rules of an omalizumab course, parsed, after checking that its label table is
/// among them.
fn frozen_policy(record: &CourseRecord) -> Result<Policy, WardError> {
    let id = record.id;
    if CourseKind::of(record) != CourseKind::Omalizumab {
        return Err(WardError::Data(format!(
            "course {id} is not an omalizumab course"
        )));
    }
    let rules: BTreeMap<String, String> = serde_json::from_str(&record.rules_json)
        .map_err(|e| WardError::Data(format!("course {id}: frozen rules unreadable: {e}")))?;
    if !rules.values().any(|t| **t == *record.template_text) {
        return Err(WardError::Data(format!(
            "course {id}: its frozen label table is not among its frozen rules; the record may have been altered"
        )));
    }
    Policy::from_sources(
        rules
            .into_iter()
            .map(|(n, t)| SourceText::new(n, t))
            .collect(),
    )
    .map_err(|_| {
        WardError::Data(format!(
            "course {id}: its frozen rules no longer load; a course started by an earlier ritplan must be stopped and started again"
        ))
    })
}

/// [`load_omalizumab`] and [`frozen_course_rules`] at once, the frozen rules parsed once per
/// distinct pair of texts in `parsed` (many courses read together froze the same rules: each
/// parse of them is the larger part of loading a course). The same checks, in the same order.
pub(super) fn load_omalizumab_in(
    record: CourseRecord,
    parsed: &mut super::Parsed,
) -> Result<(LoadedOmalizumab, omalizumab_course::CourseRules), WardError> {
    let policy = parsed.omalizumab(&record, frozen_policy)?;
    let rules = policy.omalizumab_course.clone().ok_or_else(|| {
        WardError::Data(format!(
            "course {}: its frozen rules hold no omalizumab course rules (observation, late injections); stop it and start it again",
            record.id
        ))
    })?;
    Ok((loaded_with(record, &policy)?, rules))
}

/// An omalizumab course loaded with its parsed frozen rules: its plan laid again and compared
/// with the stored one.
fn loaded_with(record: CourseRecord, policy: &Policy) -> Result<LoadedOmalizumab, WardError> {
    let id = record.id;
    let inputs: OmalizumabInputs = serde_json::from_str(&record.inputs_json)
        .map_err(|e| WardError::Data(format!("course {id}: frozen inputs unreadable: {e}")))?;
    if record.template_id != format!("omalizumab-{}", inputs.label) {
        return Err(WardError::Data(format!(
            "course {id}: its label does not match its frozen inputs; the record may have been altered"
        )));
    }
    let plan = lay(policy, &inputs)?.map_err(|_| {
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

impl LoadedOmalizumab {
    /// The omalizumab course rules among its frozen rules (observation, late injections).
    pub fn rules(&self) -> Result<crate::policy::omalizumab_course::CourseRules, WardError> {
        course_rules(self)
    }

    /// The emergency essentials among its frozen rules (for its printed protocol).
    pub fn emergency(&self) -> Result<crate::policy::Emergency, WardError> {
        let rules: BTreeMap<String, String> = serde_json::from_str(&self.record.rules_json)
            .map_err(|e| {
                WardError::Data(format!(
                    "course {}: frozen rules unreadable: {e}",
                    self.record.id
                ))
            })?;
        let policy = Policy::from_sources(
            rules
                .into_iter()
                .map(|(n, t)| SourceText::new(n, t))
                .collect(),
        )
        .map_err(|_| {
            WardError::Data(format!(
                "course {}: its frozen rules no longer load",
                self.record.id
            ))
        })?;
        Ok(policy.emergency)
    }
}

/// The plain events of stored ones.
pub(super) fn plain(events: &[StoredEvent]) -> Vec<Event> {
    events.iter().map(|e| e.event.clone()).collect()
}

/// An omalizumab course as `next` shows it.
pub struct OmalizumabView {
    /// The course, verified.
    pub course: LoadedOmalizumab,
    /// Its events.
    pub events: Vec<StoredEvent>,
    /// Its state.
    pub state: OmalizumabState,
    /// The decision at the time asked.
    pub decision: OmalizumabDecision,
    /// How many injections were given (not corrected away).
    pub given: usize,
}

/// What an omalizumab course's printed protocol shows (see [`Ward::omalizumab_protocol`]).
pub struct OmalizumabProtocolData {
    /// The course, its events and its next action.
    pub view: OmalizumabView,
    /// The patient.
    pub who: super::view::Identity,
    /// Its rules (observation, late injections, weight change).
    pub rules: crate::policy::omalizumab_course::CourseRules,
    /// The emergency essentials of its frozen rules.
    pub emergency: crate::policy::Emergency,
    /// The document's date.
    pub date: NaiveDate,
    /// From a training record.
    pub training: bool,
    /// The label's table and the rules the course froze (the document's footer hashes them).
    pub sources: Vec<String>,
}

/// What an entry on an omalizumab course records.
#[derive(Clone, Debug)]
pub enum OmalizumabRecord {
    /// An injection.
    Give {
        /// The patient in front of the nurse (must be the course's).
        patient: String,
        /// Where.
        site: Option<String>,
        /// A physician's reason for a late injection.
        accept_late: Option<String>,
    },
    /// An observation ended, a systemic reaction, a deferral, a review, a note or a correction.
    Event(EventKind),
}

/// Why an entry on an omalizumab course was refused, in words (the front end prefixes it).
fn refusal(n: NotGiven) -> WardError {
    WardError::NotStarted(match n {
        NotGiven::TooEarly { number, due } => format!(
            "not recorded: omalizumab injection {number} is due on {due}; no injection before its interval"
        ),
        NotGiven::Late(l) => format!(
            "not recorded: omalizumab injection is {} day{} late: {} [{} {}] {}; a physician may give it with --accept-late REASON",
            l.days,
            if l.days == 1 { "" } else { "s" },
            l.text,
            l.provenance.evidence,
            l.provenance.certainty,
            l.provenance.source
        ),
        NotGiven::Decision(a) => match *a {
            OmalizumabAction::DoNotGive { held_by, .. } => match held_by {
                Some(c) => format!(
                    "not recorded: DO NOT GIVE: course {c} holds the patient until a physician reviews it"
                ),
                None => "not recorded: DO NOT GIVE: a systemic reaction on this course waits for a physician's review".to_string(),
            },
            OmalizumabAction::Stopped { .. } => {
                "not recorded: a physician stopped this course".to_string()
            }
            OmalizumabAction::Observe { until } => format!(
                "not recorded: the last injection is under observation until {}; record its end first (omalizumab observe)",
                until.format("%Y-%m-%d %H:%M")
            ),
            OmalizumabAction::WeightChanged {
                frozen_kg,
                measured_kg,
                text,
                provenance,
                ..
            } => format!(
                "not recorded: ASK THE PHYSICIAN: the weight measured, {} kg, differs from the {} kg the dose was laid for: {text} [{} {}] {}; a physician's review (continue with the same dose, or stop) comes first",
                measured_kg.normalize(),
                frozen_kg.normalize(),
                provenance.evidence,
                provenance.certainty,
                provenance.source
            ),
            OmalizumabAction::OtherObservation { course, until, .. } => format!(
                "not recorded: the injection on course {course} is under observation (until {} at least); record its end there first",
                until.format("%Y-%m-%d %H:%M")
            ),
            OmalizumabAction::Next(_) => {
                "not recorded: every injection of the course's first year was given".to_string()
            }
        },
    })
}

impl Ward {
    /// What the patient's omalizumab courses (but `except`) impose on their other courses,
    /// each verified.
    pub(super) fn omalizumab_holds(
        &self,
        patient: &str,
        except: i64,
    ) -> Result<Vec<OtherCourse>, WardError> {
        let mut out = Vec::new();
        for r in self.store.courses_of_except(patient, except)? {
            if CourseKind::of(&r) != CourseKind::Omalizumab {
                continue;
            }
            self.store.verify_or_refuse(r.id)?;
            let rules = frozen_course_rules(&r)?;
            let s = OmalizumabState::replay(&plain(&self.store.events(r.id)?));
            out.push(s.as_other(r.id, &rules));
        }
        Ok(out)
    }

    /// An omalizumab course with its state and its next action at `now`, verified with its
    /// patient's other courses (read together in a fixed number of queries: see
    /// [`Ward::batch`]).
    pub fn omalizumab_view(
        &mut self,
        id: i64,
        now: NaiveDateTime,
    ) -> Result<OmalizumabView, WardError> {
        self.batch(&[id])?.omalizumab_view(id, now)
    }

    /// Records an entry on an omalizumab course (nurse or physician; a review, a late injection
    /// and the correction of a reaction or a review are a physician's), checked inside the
    /// store's transaction against the course and the patient's other courses.
    pub fn record_omalizumab(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: OmalizumabRecord,
    ) -> Result<(StoredEvent, OmalizumabView), WardError> {
        self.record_omalizumab_if(actor, id, at, now, what, None)
    }

    /// [`Ward::record_omalizumab`], refused as stale (nothing written) unless the course's last
    /// event is still `seen` (the number of its last event when the page's form was shown, 0
    /// for none), compared inside the store's transaction, as [`Ward::record_if`] does.
    pub fn record_omalizumab_if(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: OmalizumabRecord,
        seen: Option<u64>,
    ) -> Result<(StoredEvent, OmalizumabView), WardError> {
        use crate::field::Field;
        if at > now + chrono::Duration::minutes(1) {
            return Err(WardError::Input {
                field: Field::At,
                problem: format!(
                    "{} is in the future; record what has happened",
                    at.format("%Y-%m-%d %H:%M")
                ),
            });
        }
        let clinical = [Role::Nurse, Role::Physician];
        actor.require(&clinical, "recording on a course")?;
        super::existing_time(self.zone()?, at)?;
        let course = self.omalizumab_course(id)?;
        let rules = course_rules(&course)?;
        let what = match what {
            OmalizumabRecord::Give {
                patient,
                site,
                accept_late,
            } => {
                let patient = super::text::text(Field::PatientCheck, &patient)?;
                if patient != course.record.patient_id {
                    return Err(WardError::WrongPatient(format!(
                        "wrong patient: course {id} is {}'s, not {patient:?}; nothing was recorded",
                        course.record.patient_id
                    )));
                }
                let accept_late = super::text::opt_text(Field::Override, accept_late.as_deref())?;
                if accept_late.is_some() {
                    actor.require(&[Role::Physician], "giving a late omalizumab injection")?;
                }
                OmalizumabRecord::Give {
                    patient,
                    site: super::text::opt_text(Field::Site, site.as_deref())?,
                    accept_late,
                }
            }
            OmalizumabRecord::Event(kind) => {
                match &kind {
                    EventKind::PhysicianReview { decision, .. } => {
                        actor.require(&[Role::Physician], "a physician review")?;
                        if !matches!(decision, Review::Continue | Review::Stop) {
                            return Err(WardError::NotStarted(format!(
                                "not recorded: an omalizumab course has no dose steps: review it with continue or stop, not {decision}"
                            )));
                        }
                    }
                    EventKind::Correction { .. } => {
                        actor.require(
                            &[Role::Physician],
                            "correcting an omalizumab course's entry",
                        )?;
                    }
                    EventKind::ObservationEnded { .. }
                    | EventKind::SystemicReaction { .. }
                    | EventKind::DoseDeferred { .. }
                    | EventKind::WeightMeasured { .. }
                    | EventKind::Note { .. } => {}
                    _ => {
                        return Err(WardError::NotStarted(
                            "not recorded: this entry is not one an omalizumab course takes".into(),
                        ));
                    }
                }
                OmalizumabRecord::Event(super::text::event(kind)?)
            }
        };
        // Resuming a stopped course while the patient has another active one would double the
        // dose: refused.
        if let OmalizumabRecord::Event(EventKind::PhysicianReview {
            decision: Review::Continue,
            ..
        }) = &what
            && OmalizumabState::replay(&plain(&self.store.events(id)?))
                .stopped
                .is_some()
            && let Some(other) = self.active_omalizumab(&course.record.patient_id, Some(id))?
        {
            return Err(WardError::NotStarted(format!(
                "not recorded: the patient has another active omalizumab course ({other}); two would double the dose"
            )));
        }
        // The patient's other courses, verified and loaded before the transaction's lock.
        let others: Vec<super::Loaded> = self
            .others(&course.record.patient_id, id)?
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        // The patient's own other omalizumab courses (never another patient's).
        let omalizumab_others: Vec<(i64, crate::policy::omalizumab_course::CourseRules)> = self
            .store
            .courses_of(&course.record.patient_id)?
            .into_iter()
            .filter(|r| r.id != id && CourseKind::of(r) == CourseKind::Omalizumab)
            .map(|r| frozen_course_rules(&r).map(|rules| (r.id, rules)))
            .collect::<Result<_, _>>()?;
        let plan = course.plan.clone();
        let author = actor.author();
        let late_entered = now - at > chrono::Duration::minutes(5);
        let result = self.store.append(
            id,
            |events, tx: &TxView<'_>| -> Result<NewEvent, WardError> {
                let last = events.last().map_or(0, |e| e.event.seq);
                if let Some(seen) = seen
                    && seen != last
                {
                    return Err(WardError::Stale {
                        course: id,
                        seen,
                        now: last,
                    });
                }
                let mut view: Vec<OtherCourse> = Vec::new();
                for other in &others {
                    let s = replay_stored(other.ctx()?, &tx.events(other.record.id)?);
                    view.push(OtherCourse::of(other.record.id, &s));
                }
                for (o, o_rules) in &omalizumab_others {
                    let ev = tx.events(*o)?;
                    if ev.is_empty() {
                        continue;
                    }
                    view.push(OmalizumabState::replay(&plain(&ev)).as_other(*o, o_rules));
                }
                let state = OmalizumabState::replay(&plain(events));
                let kind = match &what {
                    OmalizumabRecord::Give {
                        site, accept_late, ..
                    } => {
                        let number =
                            check_give(&plan, &rules, &state, &view, at, accept_late.is_some())
                                .map_err(refusal)?;
                        EventKind::OmalizumabGiven {
                            number,
                            dose_mg: plan.dose_mg,
                            injections: plan.injections,
                            site: site.clone(),
                            accept_late: accept_late.clone(),
                        }
                    }
                    OmalizumabRecord::Event(k) => {
                        check_event(&rules, &state, events, at, k)?;
                        k.clone()
                    }
                };
                let mut after = plain(events);
                after.push(Event {
                    seq: events.last().map_or(0, |e| e.event.seq) + 1,
                    at,
                    by: author.name.clone(),
                    kind: kind.clone(),
                });
                let s = OmalizumabState::replay(&after);
                let active = s.stopped.is_none() && s.given.len() < plan.dates.len();
                Ok(NewEvent {
                    kind,
                    at,
                    by: author.clone(),
                    recorded_at: now,
                    late_entered,
                    active,
                    session: actor.token_hash.clone(),
                })
            },
        );
        let event = match result {
            Ok(ev) => ev,
            Err(AppendError::Refused(e)) => return Err(e),
            Err(AppendError::Store(e)) => return Err(e.into()),
        };
        let view = self.omalizumab_view(id, now)?;
        Ok((event, view))
    }

    /// The patient's omalizumab pretreatment as the record shows it on `day1` (an
    /// immunotherapy course's first day): `None` without an omalizumab course with an
    /// injection given.
    pub fn recorded_pretreatment(
        &mut self,
        patient: &str,
        day1: NaiveDate,
    ) -> Result<Option<crate::course::omalizumab::Pretreatment>, WardError> {
        let ids: Vec<i64> = self
            .store
            .courses_of(patient)?
            .iter()
            .filter(|r| CourseKind::of(r) == CourseKind::Omalizumab)
            .map(|r| r.id)
            .collect();
        let mut best: Option<crate::course::omalizumab::Pretreatment> = None;
        for id in ids {
            let course = self.omalizumab_course(id)?;
            let rules = course_rules(&course)?;
            let state = OmalizumabState::replay(&plain(&self.store.events(id)?));
            let p = crate::course::omalizumab::pretreatment(id, &course.plan, &rules, &state, day1);
            if p.doses > 0 && best.as_ref().is_none_or(|b| p.weeks > b.weeks) {
                best = Some(p);
            }
        }
        Ok(best)
    }

    /// What an omalizumab course's printed protocol shows at `now`: the course verified, its
    /// record and next action, the patient's identity (age at the first injection, weight at
    /// the start, as the plan used them), its frozen rules and emergency essentials.
    pub fn omalizumab_protocol(
        &mut self,
        id: i64,
        now: NaiveDateTime,
    ) -> Result<OmalizumabProtocolData, WardError> {
        let view = self.omalizumab_view(id, now)?;
        let patient = self.patient(&view.course.record.patient_id)?;
        let rules = view.course.rules()?;
        let emergency = view.course.emergency()?;
        let who = super::view::Identity {
            name: patient.name.clone(),
            id: patient.id.clone(),
            dob: Some(patient.dob),
            age_years: view.course.plan.age_years,
            weight_kg: view.course.plan.weight_kg,
        };
        let sources = vec![
            view.course.record.template_text.to_string(),
            view.course.record.rules_json.to_string(),
        ];
        Ok(OmalizumabProtocolData {
            view,
            who,
            rules,
            emergency,
            date: now.date(),
            training: self.training(),
            sources,
        })
    }

    /// The patient's active omalizumab course other than `except`, each verified: not stopped,
    /// injections of its first year still to give (one stopped or finished is not active).
    fn active_omalizumab(
        &self,
        patient: &str,
        except: Option<i64>,
    ) -> Result<Option<i64>, WardError> {
        for r in self.store.courses_of(patient)? {
            if CourseKind::of(&r) != CourseKind::Omalizumab || Some(r.id) == except {
                continue;
            }
            let id = r.id;
            self.store.verify_or_refuse(id)?;
            let c = load_omalizumab(r)?;
            let s = OmalizumabState::replay(&plain(&self.store.events(id)?));
            if s.stopped.is_none() && s.given.len() < c.plan.dates.len() {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// The kind of a course.
    pub fn course_kind(&self, id: i64) -> Result<CourseKind, WardError> {
        // The rule set alone: a course's kind is told by it, and its frozen copies (tens of
        // kilobytes) are read where they are used.
        let rule_set = self
            .store
            .rule_set_of(id)?
            .ok_or(WardError::NoCourse { id })?;
        Ok(if rule_set == OMALIZUMAB_RULE_SET {
            CourseKind::Omalizumab
        } else {
            CourseKind::Immunotherapy
        })
    }

    /// An omalizumab course, verified (its chain and its frozen plan).
    pub fn omalizumab_course(&mut self, id: i64) -> Result<LoadedOmalizumab, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        self.store.verify_or_refuse(id)?;
        load_omalizumab(record)
    }

    /// Starts an omalizumab course (a physician's act): the dose from the patient's recorded
    /// pre-treatment total IgE and weight and the age at the first injection; refused, naming
    /// the value, when the label gives no dose, and while the patient has another active
    /// omalizumab course (one stopped or finished does not stop a new one).
    pub fn start_omalizumab(
        &mut self,
        actor: &Actor,
        s: OmalizumabStart<'_>,
    ) -> Result<Result<(i64, OmalizumabPlan), OmalizumabNotStarted>, WardError> {
        actor.require(&[Role::Physician], "starting an omalizumab course")?;
        let p = self.patient(s.patient_id)?;
        // Another omalizumab course still active would double the dose.
        if let Some(course) = self.active_omalizumab(&p.id, None)? {
            return Ok(Err(OmalizumabNotStarted::Already { course }));
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
            template_text: label_source(&sources, "eu")
                .expect("eu")
                .text
                .as_str()
                .into(),
            rules_json: to_json(&rules).expect("json").into(),
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

    #[test]
    fn a_course_frozen_before_the_early_rule_still_verifies_and_reads_0_days() {
        let mut r = frozen();
        let rules: BTreeMap<String, String> =
            serde_json::from_str(&r.rules_json).expect("rules json");
        let (name, text) = rules
            .iter()
            .find(|(_, t)| t.contains("kind = \"omalizumab-course\""))
            .map(|(n, t)| (n.clone(), t.clone()))
            .expect("course rules");
        let start = text.find("[early]").expect("[early] in the bundled file");
        let end = start + text[start..].find("\n\n").expect("its end");
        let old = format!("{}{}", &text[..start], &text[end..]);
        assert!(
            !old.contains("[early]")
                && !old
                    .contains("tolerance_days = 0\nsource = \"Xolair EU SmPC section 4.2 and US")
        );
        let mut rules = rules;
        rules.insert(name, old);
        r.rules_json = to_json(&rules).expect("json").into();
        let l = load_omalizumab(r.clone()).expect("verifies");
        assert_eq!(l.plan.dates.len(), 13);
        let cr = frozen_course_rules(&r).expect("rules");
        assert_eq!(cr.early_tolerance_days.value, 0);
        assert!(
            cr.early_tolerance_days
                .provenance
                .source
                .starts_with("not in this rules file"),
            "{}",
            cr.early_tolerance_days.provenance.source
        );
        // The bundled file says it, with its source.
        let bundled = frozen_course_rules(&frozen()).expect("rules");
        assert_eq!(bundled.early_tolerance_days.value, 0);
        assert!(
            bundled
                .early_tolerance_days
                .provenance
                .source
                .starts_with("Xolair EU SmPC")
        );
    }
}
