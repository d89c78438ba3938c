//! The application layer between the front ends and the core: open the record, authenticate
//! staff and check their role, load a course from its frozen copies, verify it (and the
//! patient's other courses) before deciding or recording anything, gather the patient's other
//! courses (the patient, not the course, is the unit of safety), decide, and record with every
//! check inside the store's transaction. Front ends parse and render; they hold no clinical
//! decision and no authority rule.

mod auth;
mod board;
pub mod checklist;
pub mod import;
mod load;
pub mod location;
mod records;
mod sheet;
mod show;
mod staff;
pub mod text;
pub mod view;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDateTime;

use crate::course::{
    self, Context, CourseState, Decision, Event, EventKind, OtherCourse, PatientView, Proposed,
    Refusal,
};
use crate::diag::SourceText;
use crate::field::Field;
use crate::patient::PatientError;
use crate::planner::{self, ClinicCalendar, Plan};
use crate::policy::Policy;
use crate::store::{
    AppendError, Author, NewCourse, NewEvent, PatientRecord, Store, StoreError, StoredEvent, TxView,
};
use crate::template::{Catalog, Template};

pub use auth::{Actor, Credential, LOGIN_REFUSED, Role, SETTING_KEYS, Settings, hash_secret};
pub use load::{Inputs, Loaded, Parsed, lay_plan, load_record};
pub use show::{ProtocolOf, forecast_plan, protocol_data};
pub use staff::NewStaff;
pub use view::{
    BoardRow, BoardStatus, CalendarData, CourseView, ExportData, ProtocolData, ScheduleLine,
    SheetLine,
};

/// Why the ward did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum WardError {
    /// A clinical refusal by the state machine; nothing was written.
    #[error("{0}")]
    Refused(Box<Refusal>),
    /// A clinical refusal to start (eligibility, contraindication, risk, same extract).
    #[error("{0}")]
    NotStarted(String),
    /// The logged-in account's role may not do this; nothing was written.
    #[error("{0}")]
    Forbidden(String),
    /// Not logged in, the session ended, a wrong password, a locked account.
    #[error("{0}")]
    Auth(String),
    /// The patient in front of the nurse is not the course's; nothing was written.
    #[error("{0}")]
    WrongPatient(String),
    /// The course changed since the form was shown (its last entry was `seen`, it is now
    /// `now`); nothing was written.
    #[error(
        "course {course} has changed since this form was shown (its last entry was #{seen}, it is now #{now}): nothing was recorded; check the course as it is now"
    )]
    Stale {
        /// The course.
        course: i64,
        /// Its last entry when the form was shown.
        seen: u64,
        /// Its last entry now.
        now: u64,
    },
    /// The clinic's settings require a second person to check every dose, and none did;
    /// nothing was written. (Each front end says how its user adds the check.)
    #[error("this clinic's settings require a second person to check every dose")]
    SecondCheckNeeded,
    /// There is no record at this path (each front end says how its user names or makes one).
    #[error("there is no record database at {}", .path.display())]
    NoRecord {
        /// Where one was looked for.
        path: std::path::PathBuf,
    },
    /// No course has this id.
    #[error("no course has the id {id}")]
    NoCourse {
        /// The id asked for.
        id: i64,
    },
    /// No patient has this id.
    #[error("no patient has the id {id:?}")]
    NoPatient {
        /// The id asked for.
        id: String,
    },
    /// A value someone entered is not one the ward records (too long, a control character, out
    /// of its bounds); nothing was written. Each front end names the field in its own words.
    #[error("{field} {problem}")]
    Input {
        /// Which value.
        field: Field,
        /// What is wrong with it, as a sentence that follows the field's name.
        problem: String,
    },
    /// A patient value the planner cannot read; nothing was written.
    #[error("patient value {}: {}", .0.field, .0.why)]
    Patient(PatientError),
    /// Bad data: an unknown patient or course, a record that fails its checks, a bad value.
    #[error("{0}")]
    Data(String),
    /// The record database failed.
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for WardError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) | StoreError::Exists(m) | StoreError::Tampered(m) => {
                WardError::Data(m)
            }
            e @ (StoreError::Foreign { .. } | StoreError::NeedsUpgrade(_)) => {
                WardError::Data(e.to_string())
            }
            // Of the kind of its cause, which says what became of the new record.
            StoreError::Unfinished { cause, left } => match WardError::from(*cause) {
                WardError::Data(m) => WardError::Data(format!("{m}; {left}")),
                WardError::Store(cause) => WardError::Store(StoreError::Unfinished {
                    cause: Box::new(cause),
                    left,
                }),
                other => other,
            },
            StoreError::Missing(path) => WardError::NoRecord { path },
            other => WardError::Store(other),
        }
    }
}

impl From<view::MissingRuleSet> for WardError {
    fn from(e: view::MissingRuleSet) -> Self {
        WardError::Data(e.to_string())
    }
}

impl From<PatientError> for WardError {
    fn from(e: PatientError) -> Self {
        WardError::Patient(e)
    }
}

fn replay_stored(ctx: Context<'_>, events: &[StoredEvent]) -> CourseState {
    let plain: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
    course::replay(ctx, &plain)
}

/// The record, opened.
pub struct Ward {
    /// The store: private, the ward is the only door to the record.
    store: Store,
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
        /// The patient the nurse has in front of them (must be the course's).
        patient: String,
        /// A second person who checked the dose, authenticated by the front end.
        checked_by: Option<Actor>,
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
    /// Other patients with the same name and date of birth.
    pub lookalikes: Vec<PatientRecord>,
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
}

/// Why a course could not start: the planner's refusal, or an eligibility rule.
pub enum NotStarted {
    /// The planner refused.
    Plan(planner::Refusal),
    /// A required value is missing, or the patient has an active course of the same extract.
    Eligibility(String),
}

impl Ward {
    /// Opens the record at `path` (it must exist and be a ritplan record).
    pub fn open(path: &Path) -> Result<Ward, WardError> {
        let mut ward = Ward {
            store: Store::open(path)?,
            parsed: Parsed::default(),
        };
        ward.rebuild_states()?;
        Ok(ward)
    }

    /// Opens the record at `path` to read it only: refuses one that would need an upgrade,
    /// and rebuilds nothing (the source of a copy).
    pub fn open_unchanged(path: &Path) -> Result<Ward, WardError> {
        Ok(Ward {
            store: Store::open_unchanged(path)?,
            parsed: Parsed::default(),
        })
    }

    /// Rebuilds by replay the derived state rows the upgrade to schema 3 left (once per
    /// course); a course that does not verify keeps its row to rebuild, and so stays live.
    fn rebuild_states(&mut self) -> Result<(), WardError> {
        for id in self.store.states_to_rebuild()? {
            let Ok(v) = self.view(id) else { continue };
            let last = v.events.iter().map(|e| e.event.at).max();
            let count = v.events.last().map_or(0, |e| e.event.seq);
            self.store
                .rebuild_state(id, !v.state.inactive(), count, last)?;
        }
        Ok(())
    }

    /// Where the record is (its file, or its server without the password), its key file, and
    /// whether it is on a server.
    pub fn place(&self) -> (&str, &Path, bool) {
        (
            self.store.place(),
            self.store.key_file(),
            self.store.on_server(),
        )
    }

    /// Whether the record is a training record (its clock may be set with `RITPLAN_NOW`).
    pub fn training(&self) -> bool {
        self.store.meta().training
    }

    /// A patient, or an error naming the id.
    pub fn patient(&self, id: &str) -> Result<PatientRecord, WardError> {
        let id = id.trim();
        self.store
            .patient(id)?
            .ok_or_else(|| WardError::NoPatient { id: id.to_string() })
    }

    /// Other patients with the same name (ignoring case and spacing) and date of birth.
    pub fn lookalikes(&self, p: &PatientRecord) -> Result<Vec<PatientRecord>, WardError> {
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        Ok(self
            .store
            .patients_born(p.dob)?
            .into_iter()
            .filter(|o| o.id != p.id && norm(&o.name) == norm(&p.name))
            .collect())
    }

    /// Adds a patient (nurse or physician); returns the patients who look alike.
    pub fn add_patient(
        &mut self,
        actor: &Actor,
        p: &PatientRecord,
        now: NaiveDateTime,
    ) -> Result<Vec<PatientRecord>, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "adding a patient")?;
        let mut p = p.clone();
        p.id = text::text(Field::PatientId, &p.id)?;
        p.name = text::text(Field::Name, &p.name)?;
        import::patient_values(&p, now.date())?;
        self.store.add_patient(&p, now, &actor.author())?;
        self.lookalikes(&p)
    }

    /// Loads a course.
    pub fn load(&mut self, id: i64) -> Result<Loaded, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        load_record(record, &mut self.parsed)
    }

    /// The patient's other courses, with their states; each verified.
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
            self.store.verify_or_refuse(id)?;
            let l = load_record(r, &mut self.parsed)?;
            let state = replay_stored(l.ctx()?, &self.store.events(id)?);
            out.push((l, state));
        }
        Ok(out)
    }

    /// A course with its events, state and the patient's other courses, after verifying it and
    /// them: nothing is decided on a record that was changed outside ritplan.
    pub fn view(&mut self, id: i64) -> Result<CourseView, WardError> {
        if self.store.course(id)?.is_none() {
            return Err(WardError::NoCourse { id });
        }
        self.store.verify_or_refuse(id)?;
        self.view_unverified(id)
    }

    /// A course's view without verifying it first: for `course verify` and `course log`, which
    /// show what is there.
    pub fn view_unverified(&mut self, id: i64) -> Result<CourseView, WardError> {
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

    /// The views of the courses live on `since` or later (active, or with an event since),
    /// from the store's derived state (see [`Store::live_course_ids`]), each verified: what the
    /// board, the sheet and `course list --active` read, whatever the number of finished
    /// courses.
    pub fn live_views(&mut self, since: chrono::NaiveDate) -> Result<Vec<CourseView>, WardError> {
        let ids = self.store.live_course_ids(since)?;
        ids.into_iter().map(|id| self.view(id)).collect()
    }

    /// Starts a course (nurse or physician; accepting a refused risk, an age under the
    /// product's minimum or a missing lung function is a physician's): eligibility, the
    /// patient's active courses, the planner; then freezes the template, the rules and the plan.
    pub fn start(
        &mut self,
        actor: &Actor,
        s: Start<'_>,
    ) -> Result<Result<Started, NotStarted>, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "starting a course")?;
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
            let prov = &s.policy.eligibility.require_provenance;
            return Ok(Err(NotStarted::Eligibility(format!(
                "the patient record lacks {} [{} {}] {}; a physician may accept it with --accept-missing REASON",
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
            closed_dates: s.calendar.closed.clone(),
            accept_risk,
            accept_age,
            accept_missing: accept_missing.filter(|_| !missing.is_empty()),
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
        let id = self.store.add_course(&record, s.now, &actor.author())?;
        Ok(Ok(Started { id, plan }))
    }

    /// Whether `actor` may record `what` on the course whose events are `events`: the role each
    /// entry needs (a refusal names it).
    fn authorise(
        &self,
        actor: &Actor,
        events: &[StoredEvent],
        what: &Record,
        preview: bool,
    ) -> Result<(), WardError> {
        let clinical = [Role::Nurse, Role::Physician];
        match what {
            Record::Give {
                proposed,
                checked_by,
                ..
            } => {
                actor.require(&clinical, "giving a dose")?;
                if proposed.override_reason.is_some() {
                    actor.require(&[Role::Physician], "an override (a different dose)")?;
                }
                if let Some(c) = checked_by {
                    if c.staff.id == actor.staff.id {
                        return Err(WardError::Forbidden(
                            "the second check must be made by another person".into(),
                        ));
                    }
                    c.require(&clinical, "checking a dose")?;
                } else if !preview && auth::Settings::load(&self.store)?.second_check {
                    return Err(WardError::SecondCheckNeeded);
                }
                Ok(())
            }
            Record::Event(EventKind::PhysicianReview { decision, .. }) => actor.require(
                &[Role::Physician],
                &format!("a physician review ({decision})"),
            ),
            Record::Event(EventKind::Correction { corrects, .. }) => {
                let target = events.iter().find(|e| e.event.seq == *corrects);
                let decisive = target.is_some_and(|t| {
                    matches!(
                        t.event.kind,
                        EventKind::SystemicReaction { .. } | EventKind::PhysicianReview { .. }
                    )
                });
                if decisive {
                    return actor.require(
                        &[Role::Physician],
                        "correcting a systemic reaction or a physician's review",
                    );
                }
                actor.require(&clinical, "correcting an entry")?;
                let own = target.is_some_and(|t| t.staff_id.as_deref() == Some(&actor.staff.id));
                if actor.role == Role::Nurse && target.is_some() && !own {
                    return Err(WardError::Forbidden(format!(
                        "a nurse may correct only their own entries; event #{corrects} was recorded by {}; a physician may correct it",
                        target.map_or("someone else", |t| t.event.by.as_str())
                    )));
                }
                Ok(())
            }
            Record::Event(_) => actor.require(&clinical, "recording on a course"),
        }
    }

    /// Records one event, as `actor`: their role is checked, the course and the patient's other
    /// courses are verified, and the event is checked against the course's state and the
    /// patient's other courses inside the store's transaction, so that nothing is written when
    /// it is refused, two nurses cannot both give the same dose, and two courses of one patient
    /// are not dosed within the rules' spacing. The actor's login session is marked used in the
    /// same transaction (its idle timeout counts from this entry).
    pub fn record(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
    ) -> Result<Recorded, WardError> {
        self.record_if(actor, id, at, now, what, None)
    }

    /// [`Ward::record`], refused as stale (nothing written) unless the course's last event is
    /// still `seen` (the number of its last event when the form was shown, 0 for none): a form
    /// filled in while another person recorded on the course is not saved over their entry.
    /// The comparison is made inside the store's transaction.
    pub fn record_if(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
        seen: Option<u64>,
    ) -> Result<Recorded, WardError> {
        let p = self.prepare(actor, id, at, now, what, false)?;
        let ctx = p.loaded.ctx()?;
        let mut overridden = None;
        // What the transaction decided on: the course's events and the patient's other
        // courses, each verified inside it. With the event it wrote, they are the course as
        // the record now holds it (nobody else could write between), shown without reading
        // and verifying all of it a third time.
        let mut decided_on: Option<(Vec<StoredEvent>, PatientView)> = None;
        let author = actor.author();
        let result = self.store.append(
            id,
            |events, tx: &TxView<'_>| -> Result<NewEvent, WardError> {
                let last = events.last().map_or(0, |e| e.event.seq);
                if let Some(seen) = seen
                    && seen != last
                {
                    return Err(stale(id, seen, last));
                }
                let mut view = PatientView::default();
                for other in &p.others {
                    let s = replay_stored(other.ctx()?, &tx.events(other.record.id)?);
                    view.others.push(OtherCourse::of(other.record.id, &s));
                }
                let (kind, o) = check(ctx, events, &view, at, &p.what)?;
                overridden = o;
                // The course's state after this event, for the store's derived state row.
                let mut after: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
                after.push(Event {
                    seq: last + 1,
                    at,
                    by: author.name.clone(),
                    kind: kind.clone(),
                });
                let active = !course::replay(ctx, &after).inactive();
                decided_on = Some((events.to_vec(), view));
                Ok(NewEvent {
                    kind,
                    at,
                    by: author.clone(),
                    recorded_at: now,
                    late_entered: p.late_entered,
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
        let Some((mut events, patient_view)) = decided_on else {
            return Err(WardError::Data(format!(
                "course {id}: recorded, but its check left nothing to show; see its log (ritplan course log {id})"
            )));
        };
        events.push(event.clone());
        let state = replay_stored(p.loaded.ctx()?, &events);
        let view = CourseView {
            loaded: p.loaded,
            events,
            state,
            patient: patient_view,
        };
        let next = view.decide(now)?;
        let patient = self.store.patient(&p.patient_id)?;
        let lookalikes = match &patient {
            Some(p) => self.lookalikes(p)?,
            None => Vec::new(),
        };
        Ok(Recorded {
            event,
            patient,
            lookalikes,
            view,
            next,
            overridden,
        })
    }

    /// What [`Ward::record`] would record now, with every check it makes, and nothing written:
    /// for a confirmation step (the record re-checks everything inside its transaction). A
    /// clinic's second check is not asked for yet: the second person signs the confirmation.
    /// With `seen` (as for [`Ward::record_if`]), a form shown on an older state of the course
    /// is refused as stale, after the checks.
    pub fn preview(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
        seen: Option<u64>,
    ) -> Result<Preview, WardError> {
        let p = self.prepare(actor, id, at, now, what, true)?;
        let events = self.store.events(id)?;
        let mut view = PatientView::default();
        for other in &p.others {
            let s = replay_stored(other.ctx()?, &self.store.events(other.record.id)?);
            view.others.push(OtherCourse::of(other.record.id, &s));
        }
        let (kind, overridden) = check(p.loaded.ctx()?, &events, &view, at, &p.what)?;
        let last = events.last().map_or(0, |e| e.event.seq);
        if let Some(seen) = seen
            && seen != last
        {
            return Err(stale(id, seen, last));
        }
        Ok(Preview {
            kind,
            overridden,
            seen: last,
        })
    }

    /// Everything [`Ward::record`] checks before its transaction: the time, the text, the
    /// course's chain, the patient, the role; the other courses loaded.
    fn prepare(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
        preview: bool,
    ) -> Result<Prepared, WardError> {
        if at > now + chrono::Duration::minutes(1) {
            return Err(WardError::Input {
                field: Field::At,
                problem: format!(
                    "{} is in the future; record what has happened",
                    at.format("%Y-%m-%d %H:%M")
                ),
            });
        }
        let what = match what {
            Record::Event(kind) => Record::Event(text::event(kind)?),
            Record::Give {
                proposed,
                lot,
                site,
                patient,
                checked_by,
            } => {
                let mut proposed = proposed;
                proposed.override_reason =
                    text::opt_text(Field::Override, proposed.override_reason.as_deref())?;
                Record::Give {
                    proposed,
                    lot: text::opt_text(Field::Lot, lot.as_deref())?,
                    site: text::opt_text(Field::Site, site.as_deref())?,
                    patient: text::text(Field::PatientCheck, &patient)?,
                    checked_by,
                }
            }
        };
        let late_entered = now - at > chrono::Duration::minutes(5);
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        // Verified before anything is compared with it: a course moved to another patient in
        // the database is a changed record, not a wrong patient.
        self.store.verify_or_refuse(id)?;
        if let Record::Give { patient, .. } = &what
            && *patient != record.patient_id
        {
            let other = self.store.patient(patient)?;
            return Err(WardError::WrongPatient(format!(
                "wrong patient: course {id} is {}'s ({}), not {}; nothing was recorded",
                self.patient(&record.patient_id)
                    .map(|p| p.name)
                    .unwrap_or_default(),
                record.patient_id,
                match other {
                    Some(o) => format!("{} ({})", o.name, o.id),
                    None => format!("{patient:?}, which is no patient's id"),
                }
            )));
        }
        let loaded = load_record(record, &mut self.parsed)?;
        let patient_id = loaded.record.patient_id.clone();
        self.authorise(actor, &self.store.events(id)?, &what, preview)?;
        // The other courses, verified, and their frozen copies parsed before the transaction
        // takes its lock.
        let others: Vec<Loaded> = self
            .others(&patient_id, id)?
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        Ok(Prepared {
            what,
            loaded,
            others,
            late_entered,
            patient_id,
        })
    }

    /// The author of entries the record writes itself.
    pub fn system_author() -> Author {
        Author {
            name: "ritplan".into(),
            staff_id: None,
            os_user: String::new(),
        }
    }
}

/// The refusal of a form shown when the course's last entry was `seen` and is now `last`.
fn stale(id: i64, seen: u64, last: u64) -> WardError {
    WardError::Stale {
        course: id,
        seen,
        now: last,
    }
}

/// What a recording would record (see [`Ward::preview`]).
pub struct Preview {
    /// The event as it would be stored.
    pub kind: EventKind,
    /// For an override: the dose the rules allowed instead, and the reason.
    pub overridden: Option<(course::Dosing, String)>,
    /// The course's last event number the preview was made on (for [`Ward::record_if`]).
    pub seen: u64,
}

struct Prepared {
    what: Record,
    loaded: Loaded,
    others: Vec<Loaded>,
    late_entered: bool,
    patient_id: String,
}

/// The clinical check of one recording against the course's events and the patient's other
/// courses: the event to store, and for an override the dose the rules allowed.
fn check(
    ctx: Context<'_>,
    events: &[StoredEvent],
    view: &PatientView,
    at: NaiveDateTime,
    what: &Record,
) -> Result<(EventKind, Option<(course::Dosing, String)>), WardError> {
    let state = replay_stored(ctx, events);
    match what {
        Record::Give {
            proposed,
            lot,
            site,
            checked_by,
            ..
        } => {
            let allowed = course::next(ctx, &state, at, view).dosing;
            let d = course::check_give(ctx, &state, view, at, proposed)
                .map_err(|r| WardError::Refused(Box::new(r)))?;
            let overridden = match (allowed, &proposed.override_reason) {
                (Some(a), Some(why)) if (a.step, a.volume_ml) != (d.step, d.volume_ml) => {
                    Some((a, why.clone()))
                }
                _ => None,
            };
            Ok((
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
                    checked_by: checked_by.as_ref().map(|c| c.staff.id.clone()),
                },
                overridden,
            ))
        }
        Record::Event(kind) => {
            let plain: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
            course::admissible(ctx, &state, &plain, at, kind)
                .map_err(|r| WardError::Refused(Box::new(r)))?;
            Ok((kind.clone(), None))
        }
    }
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
