//! What a course shows beside its next decision: its schedule (given and re-projected) and
//! the inputs of its printed protocol. Assembled here so that every front end shows the same.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::{CourseView, Ward, WardError};
use crate::course::{self, Event};
use crate::planner::Plan;
use crate::render::protocol::{Identity, ProjectedDose, Protocol, Recorded};
use crate::store::PatientRecord;

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
}

impl CourseView {
    /// The doses given, then the rest of the course re-projected from the state at `now`
    /// (each at its earliest, assuming every dose is tolerated), vials named as on the label.
    pub fn schedule(&self, now: NaiveDateTime) -> Result<Vec<ScheduleLine>, WardError> {
        let v = self;
        let plan = &v.loaded.plan;
        let planned = |step: usize| {
            plan.steps
                .get(step.wrapping_sub(1))
                .map(|s| NaiveDateTime::new(s.date, s.time))
        };
        let mut lines: Vec<ScheduleLine> = course::administrations(&v.plain_events())
            .into_iter()
            .map(|a| ScheduleLine {
                step: a.step,
                planned: planned(a.step),
                at: a.at,
                given: true,
                vial: a.vial,
                dose: a.dose,
                volume_ml: a.volume_ml,
                by: Some(a.by),
                local_mm: a.local_mm,
                systemic: a.systemic.map(|g| g.to_string()),
            })
            .collect();
        let ctx = v.loaded.ctx()?;
        let max = course::horizon(&v.state, plan.steps.len());
        let p = course::project(ctx, &v.state, &v.patient, now, None, max);
        for x in p.doses {
            lines.push(ScheduleLine {
                step: x.dosing.step,
                planned: planned(x.dosing.step),
                at: x.at,
                given: false,
                vial: x.dosing.vial.clone(),
                dose: x.dosing.dose,
                volume_ml: x.dosing.volume_ml,
                by: None,
                local_mm: None,
                systemic: None,
            });
        }
        for l in &mut lines {
            l.vial = v
                .loaded
                .template
                .vial(&l.vial)
                .map(|x| format!("{} ({})", x.label, x.cap))
                .unwrap_or_else(|| l.vial.clone());
        }
        Ok(lines)
    }
}

/// Everything a course's printed protocol needs, owned; [`CourseProtocol::doc`] borrows it as
/// the renderer's [`Protocol`].
pub struct CourseProtocol {
    view: CourseView,
    /// The patient.
    pub patient: PatientRecord,
    who: Identity,
    epinephrine_mg: rust_decimal::Decimal,
    recorded: Vec<Recorded>,
    projected: Vec<ProjectedDose>,
    rules: crate::policy::RuleSetInfo,
    training: bool,
    date: chrono::NaiveDate,
    checked_against: String,
    clinical_record: Vec<String>,
}

impl CourseProtocol {
    /// Whether the course has ended or been stopped.
    pub fn finished(&self) -> bool {
        self.view.state.inactive()
    }

    /// The protocol document, for `render::protocol::render`.
    pub fn doc(&self) -> Protocol<'_> {
        let l = &self.view.loaded;
        Protocol {
            who: &self.who,
            plan: &l.plan,
            template: &l.template,
            rules: &self.rules,
            emergency: &l.policy.emergency,
            epinephrine_mg: self.epinephrine_mg,
            recorded: self.recorded.clone(),
            projected: self.projected.clone(),
            title: format!("Course {}", l.record.id),
            training: self.training,
            hash: crate::render::short_hash([
                l.record.template_text.as_str(),
                l.record.rules_json.as_str(),
            ]),
            date: self.date,
            checked_against: Some(self.checked_against.clone()),
            clinical_record: self.clinical_record.clone(),
        }
    }
}

impl Ward {
    /// A course's protocol at `now`: the plan, what the record says of each step, and the rest
    /// of the course re-projected; the course is verified first.
    pub fn course_protocol(
        &mut self,
        id: i64,
        now: NaiveDateTime,
    ) -> Result<CourseProtocol, WardError> {
        let view = self.view(id)?;
        let patient = self.patient(&view.loaded.record.patient_id)?;
        let pat = view.loaded.inputs.patient()?;
        let weight = pat
            .require_weight()
            .map_err(|e| WardError::Data(e.to_string()))?;
        let rules = view
            .loaded
            .policy
            .rule_set(&view.loaded.record.rule_set)
            .cloned()
            .ok_or_else(|| WardError::Data(format!("course {id}: rule set missing")))?;
        let recorded = step_records(&view.loaded.plan, &view.plain_events());
        let projected = view
            .schedule(now)?
            .into_iter()
            .filter(|l| !l.given)
            .map(|l| ProjectedDose {
                step: l.step,
                at: l.at,
                vial: l.vial,
                volume: l.volume_ml.to_string(),
                dose: l.dose.to_string(),
            })
            .collect();
        let i = &view.loaded.inputs;
        let checked_against = crate::render::protocol::checked_against(
            i.fev1_percent.as_deref(),
            i.asthma.as_deref(),
            i.beta_blocker,
        );
        let gone = course::voided(&view.plain_events());
        let clinical_record = view
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.event.kind,
                    course::EventKind::SystemicReaction { .. }
                        | course::EventKind::LateLocalReaction { .. }
                        | course::EventKind::LateReaction { .. }
                        | course::EventKind::DoseDeferred { .. }
                        | course::EventKind::PhysicianReview { .. }
                        | course::EventKind::Correction { .. }
                ) || matches!(
                    e.event.kind,
                    course::EventKind::ObservationEnded { local_mm, not_assessable, .. }
                        if not_assessable || local_mm.is_some_and(|m| m > 0)
                )
            })
            .map(|e| {
                format!(
                    "#{} {} · {} · {}{}",
                    e.event.seq,
                    e.event.at.format("%Y-%m-%d %H:%M"),
                    Ward::entry_author(e),
                    crate::render::course::event(&e.event.kind),
                    if gone.contains(&e.event.seq) {
                        " (corrected: no longer counts)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        Ok(CourseProtocol {
            checked_against,
            clinical_record,
            who: Identity {
                name: patient.name.clone(),
                id: patient.id.clone(),
                dob: Some(patient.dob),
                age_years: pat.age_years,
                weight_kg: weight,
            },
            epinephrine_mg: view
                .loaded
                .policy
                .emergency
                .epinephrine_mg(pat.age_years, weight),
            rules,
            training: self.training(),
            date: now.date(),
            patient,
            recorded,
            projected,
            view,
        })
    }
}

/// What the record says of each planned step (index 0 = step 1): every administration of the
/// step, joined in order ("12-07 08:00; 12-07 10:00"), each with its own reactions.
fn step_records(plan: &Plan, events: &[Event]) -> Vec<Recorded> {
    let adms = course::administrations(events);
    let join = |list: &[&course::Administration],
                f: &dyn Fn(&course::Administration) -> String|
     -> String {
        let cells: Vec<String> = list.iter().map(|a| f(a)).collect();
        if cells.len() < 2 {
            return cells.into_iter().next().unwrap_or_default();
        }
        cells
            .into_iter()
            .map(|c| if c.is_empty() { "–".to_string() } else { c })
            .collect::<Vec<_>>()
            .join("; ")
    };
    plan.steps
        .iter()
        .map(|s| {
            let list: Vec<&course::Administration> =
                adms.iter().filter(|a| a.step == s.index).collect();
            let opt = |o: Option<String>| o.unwrap_or_default();
            Recorded {
                given_at: join(&list, &|a| a.at.format("%m-%d %H:%M").to_string()),
                site: join(&list, &|a| opt(a.site.clone())),
                lot: join(&list, &|a| opt(a.lot.clone())),
                pef: join(&list, &|a| {
                    opt(a.pef_percent.map(|p| p.normalize().to_string()))
                }),
                local_mm: join(&list, &|a| {
                    let late = a
                        .late_local_mm
                        .map(|m| format!(" (late {m})"))
                        .unwrap_or_default();
                    let measured = if a.not_assessable {
                        "n/a".to_string()
                    } else {
                        opt(a.local_mm.map(|m| m.to_string()))
                    };
                    format!("{measured}{late}")
                }),
                systemic: join(&list, &|a| opt(a.systemic.map(|g| g.to_string()))),
                by: join(&list, &|a| a.by.clone()),
            }
        })
        .collect()
}

impl Ward {
    /// A FHIR R4 Bundle of a course, or of every course of a patient (`course` None), each
    /// verified first.
    pub fn fhir(
        &mut self,
        course: Option<i64>,
        patient: Option<&str>,
    ) -> Result<serde_json::Value, WardError> {
        let (pid, ids) = match (course, patient) {
            (Some(id), _) => {
                let pid = self
                    .store
                    .patient_of(id)?
                    .ok_or_else(|| WardError::Data(format!("no course has the id {id}")))?;
                (pid, vec![id])
            }
            (None, Some(p)) => {
                let p = self.patient(p)?;
                let ids = self.store.courses_of(&p.id)?.iter().map(|c| c.id).collect();
                (p.id, ids)
            }
            (None, None) => {
                return Err(WardError::Data(
                    "name a course, or a patient with --patient".into(),
                ));
            }
        };
        let patient = self.patient(&pid)?;
        let views = ids
            .into_iter()
            .map(|id| self.view(id))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&CourseView> = views.iter().collect();
        Ok(crate::export::fhir::bundle(
            &self.store.meta().record_id,
            &patient,
            &refs,
        ))
    }
}

impl Ward {
    /// A course's visits as an iCalendar file (the course verified first).
    pub fn ics(
        &mut self,
        id: i64,
        now: NaiveDateTime,
        clinic: &str,
        details: bool,
    ) -> Result<String, WardError> {
        let clinic = super::text::bounded("--clinic", clinic, super::text::NAME_MAX)?;
        let v = self.view(id)?;
        crate::export::ics::calendar(
            &v,
            &crate::export::ics::IcsOptions {
                clinic: &clinic,
                details,
                record_id: &self.store.meta().record_id,
                now,
            },
        )
    }
}

impl Ward {
    /// What-if: the rest of a course under `scenario`, from `now` (the course verified first;
    /// nothing is written).
    pub fn forecast(
        &mut self,
        id: i64,
        now: NaiveDateTime,
        scenario: &course::Scenario,
    ) -> Result<(CourseView, course::Projection), WardError> {
        let v = self.view(id)?;
        let ctx = v.loaded.ctx()?;
        let max = course::horizon(&v.state, v.loaded.plan.steps.len());
        let p = course::project_with(ctx, &v.state, &v.patient, now, None, max, scenario);
        Ok((v, p))
    }
}
