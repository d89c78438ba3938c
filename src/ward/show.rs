//! What a course shows beside its next decision: its schedule (given and re-projected) and
//! the inputs of its printed protocol. Assembled here so that every front end shows the same.

use chrono::{NaiveDate, NaiveDateTime};

use super::view::{
    CalendarData, Checked, ClinicalEntry, CourseRecorded, ExportData, Identity,
    OmalizumabCalendarData, OmalizumabCourseView, ProtocolData,
};
use super::{CourseView, ScheduleLine, Ward, WardError};
use crate::course;
use crate::planner::Plan;
use crate::policy::{Policy, RuleSetInfo};
use crate::template::Template;

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
        let ctx = v.loaded.ctx()?;
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
                phase: a.phase.or_else(|| ctx.phase_of(a.step)),
            })
            .collect();
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
                phase: ctx.phase_of(x.dosing.step),
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

/// What a printed protocol is made from: the plan, its template, the rules, and the texts they
/// were read from (for the document's hash).
pub struct ProtocolOf<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The template the plan uses.
    pub template: &'a Template,
    /// The rules in force (their emergency essentials are printed).
    pub policy: &'a Policy,
    /// The course rule set the template names.
    pub rules: &'a RuleSetInfo,
    /// The template's and the rules' texts.
    pub sources: Vec<String>,
}

/// The premedication a plan shows: its template's, then the course rule set's (both apply:
/// `CourseRules::premedication`); an entry already there is not repeated.
pub fn with_rule_set_premedication(plan: &mut Plan, rules: &crate::policy::course::CourseRules) {
    for p in &rules.premedication {
        if !plan.premedication.contains(p) {
            plan.premedication.push(p.clone());
        }
    }
}

/// The one assembly of a printed protocol, of a plan (`ritplan plan --pdf`, `course` None) or
/// of a course ([`Ward::course_protocol`]): the patient's epinephrine dose is worked out here,
/// from the rules, and nowhere else.
pub fn protocol_data(
    of: ProtocolOf<'_>,
    who: Identity,
    checked: Checked,
    date: NaiveDate,
    training: bool,
    course: Option<CourseRecorded>,
) -> ProtocolData {
    let epinephrine_mg = of
        .policy
        .emergency
        .epinephrine_mg(who.age_years, who.weight_kg);
    let mut plan = of.plan.clone();
    with_rule_set_premedication(&mut plan, &of.rules.rules);
    ProtocolData {
        who,
        plan,
        template: of.template.clone(),
        rules: of.rules.clone(),
        emergency: of.policy.emergency.clone(),
        epinephrine_mg,
        sources: of.sources,
        date,
        training,
        checked,
        course,
    }
}

impl Ward {
    /// A course's protocol at `now`: the plan, what the record says of each step, and the rest
    /// of the course re-projected; the course is verified first.
    pub fn course_protocol(
        &mut self,
        id: i64,
        now: NaiveDateTime,
    ) -> Result<ProtocolData, WardError> {
        let view = self.view(id)?;
        let patient = self.patient(&view.loaded.record.patient_id)?;
        let pat = view.loaded.inputs.patient()?;
        let weight = pat
            .require_weight()
            .map_err(|e| WardError::Data(e.to_string()))?;
        let l = &view.loaded;
        let rules = l
            .policy
            .rule_set(&l.record.rule_set)
            .ok_or_else(|| WardError::Data(format!("course {id}: rule set missing")))?;
        let events = view.plain_events();
        let adms = course::administrations(&events);
        let steps = l
            .plan
            .steps
            .iter()
            .map(|s| adms.iter().filter(|a| a.step == s.index).cloned().collect())
            .collect();
        let projected: Vec<ScheduleLine> = view
            .schedule(now)?
            .into_iter()
            .filter(|l| !l.given)
            .collect();
        let gone = course::voided(&events);
        let clinical_record = view
            .events
            .iter()
            .filter(|e| {
                e.event.kind.is_reaction()
                    || matches!(
                        e.event.kind,
                        course::EventKind::DoseDeferred { .. }
                            | course::EventKind::PhysicianReview { .. }
                            | course::EventKind::Correction { .. }
                    )
            })
            .map(|e| ClinicalEntry {
                event: e.clone(),
                voided: gone.contains(&e.event.seq),
            })
            .collect();
        let i = &l.inputs;
        Ok(protocol_data(
            ProtocolOf {
                plan: &l.plan,
                template: &l.template,
                policy: &l.policy,
                rules,
                sources: vec![
                    l.record.template_text.to_string(),
                    l.record.rules_json.to_string(),
                ],
            },
            Identity {
                name: patient.name.clone(),
                id: patient.id.clone(),
                dob: Some(patient.dob),
                age_years: pat.age_years,
                weight_kg: weight,
            },
            Checked {
                fev1_percent: i.fev1_percent.clone(),
                asthma: i.asthma.clone(),
                beta_blocker: i.beta_blocker,
            },
            now.date(),
            self.training(),
            Some(CourseRecorded {
                id: l.record.id,
                steps,
                projected,
                clinical_record,
                finished: view.state.inactive(),
            }),
        ))
    }
}

impl Ward {
    /// The protocols of the courses `ids` at `now`: one course's whatever its state; of
    /// several, only those still active (a finished course has nothing left to give).
    pub fn course_protocols(
        &mut self,
        ids: &[i64],
        now: NaiveDateTime,
    ) -> Result<Vec<ProtocolData>, WardError> {
        let mut protocols = Vec::new();
        for &id in ids {
            let p = self.course_protocol(id, now)?;
            if ids.len() == 1 || !p.finished() {
                protocols.push(p);
            }
        }
        Ok(protocols)
    }

    /// The protocols of every course active on `now`'s day (see [`Ward::course_protocols`]).
    pub fn active_protocols(&mut self, now: NaiveDateTime) -> Result<Vec<ProtocolData>, WardError> {
        let ids = self.immunotherapy_live_ids(now.date())?;
        self.course_protocols(&ids, now)
    }

    /// The views of the courses active on `today`: live on the day, and neither ended nor
    /// stopped (`course list --active`).
    pub fn active_views(&mut self, today: NaiveDate) -> Result<Vec<CourseView>, WardError> {
        Ok(self
            .live_views(today)?
            .into_iter()
            .filter(|v| !v.state.inactive())
            .collect())
    }
}

impl Ward {
    /// What a FHIR R4 Bundle of a course, or of every course of a patient (`course` None),
    /// reads: each course verified first.
    pub fn fhir(
        &mut self,
        course: Option<i64>,
        patient: Option<&str>,
    ) -> Result<ExportData, WardError> {
        let (pid, ids) = match (course, patient) {
            (Some(id), _) => {
                let pid = self
                    .store
                    .patient_of(id)?
                    .ok_or(WardError::NoCourse { id })?;
                (pid, vec![(id, self.course_kind(id)?)])
            }
            (None, Some(p)) => {
                let p = self.patient(p)?;
                let ids = self
                    .store
                    .courses_of(&p.id)?
                    .iter()
                    .map(|c| (c.id, super::CourseKind::of(c)))
                    .collect();
                (p.id, ids)
            }
            (None, None) => {
                return Err(WardError::Data("name a course or a patient".into()));
            }
        };
        let patient = self.patient(&pid)?;
        let mut views = Vec::new();
        let mut omalizumab = Vec::new();
        for (id, kind) in ids {
            match kind {
                super::CourseKind::Immunotherapy => views.push(self.view(id)?),
                super::CourseKind::Omalizumab => omalizumab.push(self.omalizumab_export(id)?),
            }
        }
        Ok(ExportData {
            record_id: self.store.meta().record_id.clone(),
            patient,
            views,
            omalizumab,
        })
    }

    /// An omalizumab course as the exports read it (verified: its chain and its frozen plan).
    pub fn omalizumab_export(&mut self, id: i64) -> Result<OmalizumabCourseView, WardError> {
        let course = self.omalizumab_course(id)?;
        let rules = super::omalizumab::course_rules(&course)?;
        let events = self.store.events(id)?;
        let plain: Vec<course::Event> = events.iter().map(|e| e.event.clone()).collect();
        let state = course::omalizumab::OmalizumabState::replay(&plain);
        Ok(OmalizumabCourseView {
            course,
            rules,
            events,
            state,
        })
    }

    /// What an omalizumab course's injection dates as an iCalendar file read (the course
    /// verified first).
    pub fn omalizumab_ics(
        &mut self,
        id: i64,
        clinic: &str,
    ) -> Result<OmalizumabCalendarData, WardError> {
        let clinic = super::text::text(crate::field::Field::Clinic, clinic)?;
        let course = self.omalizumab_export(id)?;
        Ok(OmalizumabCalendarData {
            record_id: self.store.meta().record_id.clone(),
            clinic,
            course,
        })
    }
}

impl Ward {
    /// What a course's visits as an iCalendar file read (the course verified first).
    pub fn ics(&mut self, id: i64, clinic: &str) -> Result<CalendarData, WardError> {
        let clinic = super::text::text(crate::field::Field::Clinic, clinic)?;
        let view = self.view(id)?;
        Ok(CalendarData {
            record_id: self.store.meta().record_id.clone(),
            clinic,
            view,
        })
    }
}

/// The one what-if projection: the rest of a course (its state and the patient's other
/// courses) under `scenario`, from `from`, as far as the course can go.
fn what_if(
    ctx: course::Context<'_>,
    state: &course::CourseState,
    patient: &course::PatientView,
    from: NaiveDateTime,
    scenario: &course::Scenario,
) -> course::Projection {
    let max = course::horizon(state, ctx.plan.steps.len());
    course::project_with(ctx, state, patient, from, None, max, scenario)
}

/// What-if for a plan not yet started (`ritplan plan --what-if`): the state machine runs the
/// plan as a course from its first dose, at `from`; nothing is written.
pub fn forecast_plan(
    ctx: course::Context<'_>,
    from: NaiveDateTime,
    scenario: &course::Scenario,
) -> course::Projection {
    let state = course::replay(ctx, &[]);
    what_if(ctx, &state, &course::PatientView::default(), from, scenario)
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
        let p = what_if(v.loaded.ctx()?, &v.state, &v.patient, now, scenario);
        Ok((v, p))
    }
}
