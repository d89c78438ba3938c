//! `ritplan patient`, `course`, `next`, and the recording commands (`give`, `observe`, `react`,
//! `defer`, `review`, `note`, `correct`). Thin: the store keeps records, `course` decides.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{CliError, Context, policy_from, write_json};
use crate::course::{
    self, ActionKind, Context as CourseCtx, Decision, EventKind, Proposed, Review, WaoGrade,
};
use crate::diag::SourceText;
use crate::patient::{Patient, PatientInput};
use crate::planner::{ClinicCalendar, Plan, Refusal, Request, plan};
use crate::policy::Policy;
use crate::policy::risk::AsthmaControl;
use crate::render::table;
use crate::risk::assess;
use crate::store::{
    AppendError, CourseRecord, NewCourse, NewEvent, PatientRecord, Store, StoreError, StoredEvent,
};
use crate::template::{Catalog, Template};
use crate::units::{Volume, parse_decimal};

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) | StoreError::Exists(m) => CliError::Data(m),
            other => CliError::Io {
                context: "record database".into(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

/// Opens the record database: --db, else RITPLAN_DB, else the platform data directory.
pub(super) fn open_store(db: Option<&PathBuf>) -> Result<Store, CliError> {
    let path = db
        .cloned()
        .or_else(|| {
            std::env::var_os("RITPLAN_DB")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(crate::store::default_path)
        .ok_or_else(|| {
            CliError::Usage("no database path: give --db PATH or set RITPLAN_DB".into())
        })?;
    Ok(Store::open(&path)?)
}

/// What a course froze at its start, besides template and rules: enough to lay the same plan
/// again, and check that it is the same.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Inputs {
    dob: NaiveDate,
    weight_kg: String,
    sige: String,
    total_ige: String,
    fev1_percent: Option<String>,
    asthma: Option<String>,
    beta_blocker: bool,
    omalizumab_weeks: Option<u32>,
    start: NaiveDateTime,
    opens: NaiveTime,
    closes: NaiveTime,
    clinic_days: Vec<String>,
    accept_risk: Option<String>,
}

impl Inputs {
    fn patient(&self) -> Result<Patient, CliError> {
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

    fn calendar(&self) -> ClinicCalendar {
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

/// A course loaded from its frozen copies.
struct Loaded {
    record: CourseRecord,
    template: Template,
    policy: Policy,
    plan: Plan,
    calendar: ClinicCalendar,
}

impl Loaded {
    fn ctx(&self) -> Result<CourseCtx<'_>, CliError> {
        let rules = self.policy.rule_set(&self.record.rule_set).ok_or_else(|| {
            CliError::Data(format!(
                "the course's rule set {:?} is missing from its frozen rules",
                self.record.rule_set
            ))
        })?;
        Ok(CourseCtx {
            plan: &self.plan,
            template: &self.template,
            rules: &rules.rules,
        })
    }
}

fn lay_plan(
    template: &Template,
    catalog: &Catalog,
    policy: &Policy,
    inputs: &Inputs,
) -> Result<Result<Plan, Refusal>, CliError> {
    let patient = inputs.patient()?;
    let assessment = assess(&patient, &policy.risk);
    let cal = inputs.calendar();
    plan(&Request {
        template,
        catalog,
        assessment: &assessment,
        rules: &policy.risk,
        start: inputs.start,
        calendar: &cal,
        accept_risk: inputs.accept_risk.as_deref(),
    })
    .map_err(|e| CliError::Data(e.to_string()))
}

/// Parsed frozen copies, shared by courses whose frozen rules and template are the same text.
#[derive(Default)]
struct Parsed {
    by_text: std::collections::HashMap<(String, String), (Policy, Catalog)>,
}

fn load(store: &Store, id: i64, err: &mut dyn Write) -> Result<Loaded, CliError> {
    let record = store
        .course(id)?
        .ok_or_else(|| CliError::Data(format!("no course has the id {id}")))?;
    load_record(record, &mut Parsed::default(), err)
}

fn load_record(
    record: CourseRecord,
    parsed: &mut Parsed,
    err: &mut dyn Write,
) -> Result<Loaded, CliError> {
    let id = record.id;
    let key = (record.rules_json.clone(), record.template_text.clone());
    if !parsed.by_text.contains_key(&key) {
        let rules: BTreeMap<String, String> = serde_json::from_str(&record.rules_json)
            .map_err(|e| CliError::Data(format!("course {id}: frozen rules unreadable: {e}")))?;
        let policy = policy_from(
            rules
                .into_iter()
                .map(|(n, t)| SourceText::new(n, t))
                .collect(),
            err,
        )?;
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
        .ok_or_else(|| CliError::Data("cache".into()))?;
    let template = catalog.get(&record.template_id).cloned().ok_or_else(|| {
        CliError::Data(format!("course {id}: its frozen template no longer checks"))
    })?;
    let inputs: Inputs = serde_json::from_str(&record.inputs_json)
        .map_err(|e| CliError::Data(format!("course {id}: frozen inputs unreadable: {e}")))?;
    let plan = match lay_plan(&template, catalog, policy, &inputs)? {
        Ok(p) => p,
        Err(_) => {
            return Err(CliError::Data(format!(
                "course {id}: its frozen plan can no longer be laid"
            )));
        }
    };
    let again = serde_json::to_string(&plan).map_err(|e| CliError::Data(e.to_string()))?;
    if again != record.plan_json {
        return Err(CliError::Data(format!(
            "course {id}: its frozen plan does not reproduce from its frozen template and rules; the record may have been altered"
        )));
    }
    Ok(Loaded {
        record,
        template,
        policy: policy.clone(),
        plan,
        calendar: inputs.calendar(),
    })
}

// ---------------------------------------------------------------------------------------------
// patient

/// `patient add` arguments.
#[derive(Debug, clap::Args)]
pub struct PatientAdd {
    /// Clinic id.
    #[arg(long)]
    id: String,
    /// Name as the clinic writes it.
    #[arg(long)]
    name: String,
    /// Date of birth.
    #[arg(long, value_name = "DATE")]
    dob: NaiveDate,
    /// Weight, kg.
    #[arg(long, value_name = "KG")]
    weight: String,
    /// Mite sIgE, kUA/L (censored values such as <0.35 allowed).
    #[arg(long, allow_hyphen_values = true)]
    sige: String,
    /// Total IgE, kU/L.
    #[arg(long = "total-ige", allow_hyphen_values = true)]
    total_ige: String,
    /// FEV1 % predicted.
    #[arg(long)]
    fev1: Option<String>,
    /// Asthma control.
    #[arg(long, value_parser = ["controlled", "partly", "uncontrolled"])]
    asthma: Option<String>,
    /// Takes a beta-blocker.
    #[arg(long)]
    beta_blocker: bool,
    /// Who records it.
    #[arg(long, default_value = "unknown")]
    by: String,
}

pub(super) fn patient_add(
    store: &Store,
    a: &PatientAdd,
    now: NaiveDateTime,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if a.id.trim().is_empty() || a.name.trim().is_empty() {
        return Err(CliError::Data("--id and --name must not be empty".into()));
    }
    // Validate the values as the planner will read them.
    Patient::from_input(
        &PatientInput {
            dob: Some(a.dob),
            weight_kg: Some(a.weight.clone()),
            sige: Some(a.sige.clone()),
            total_ige: Some(a.total_ige.clone()),
            fev1_percent: a.fev1.clone(),
            asthma: a
                .asthma
                .as_deref()
                .and_then(|x| x.parse::<AsthmaControl>().ok()),
            beta_blocker: a.beta_blocker,
            ..PatientInput::default()
        },
        now.date(),
    )?;
    store.add_patient(
        &PatientRecord {
            id: a.id.clone(),
            name: a.name.clone(),
            dob: a.dob,
            weight_kg: a.weight.clone(),
            sige: a.sige.clone(),
            total_ige: a.total_ige.clone(),
            fev1_percent: a.fev1.clone(),
            asthma: a.asthma.clone(),
            beta_blocker: a.beta_blocker,
        },
        now,
        &a.by,
    )?;
    writeln!(out, "{}", a.id)?;
    Ok(())
}

pub(super) fn patient_list(store: &Store, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let ps = store.patients()?;
    if json {
        return write_json(out, &ps);
    }
    let mut t = table(
        &[
            "id",
            "name",
            "date of birth",
            "weight kg",
            "sIgE",
            "total IgE",
        ],
        &[],
    );
    for p in &ps {
        t.add_row(vec![
            p.id.clone(),
            p.name.clone(),
            p.dob.to_string(),
            p.weight_kg.clone(),
            p.sige.clone(),
            p.total_ige.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

pub(super) fn patient_show(
    store: &Store,
    id: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let p = store
        .patient(id)?
        .ok_or_else(|| CliError::Data(format!("no patient has the id {id:?}")))?;
    if json {
        return write_json(out, &p);
    }
    writeln!(out, "{} ({})", p.name, p.id)?;
    writeln!(
        out,
        "date of birth {}; weight {} kg; mite sIgE {} kUA/L; total IgE {} kU/L",
        p.dob, p.weight_kg, p.sige, p.total_ige
    )?;
    writeln!(
        out,
        "FEV1 {}; asthma {}; beta-blocker {}",
        p.fev1_percent
            .as_deref()
            .map_or("not given".to_string(), |f| format!("{f} % predicted")),
        p.asthma.as_deref().unwrap_or("not given"),
        if p.beta_blocker { "yes" } else { "no" }
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// course start / list / show / log / verify

/// `course start` arguments.
#[derive(Debug, clap::Args)]
pub struct CourseStart {
    /// The patient's id.
    #[arg(long)]
    patient: String,
    /// A template id or file.
    #[arg(long, value_name = "ID|FILE")]
    template: String,
    /// First injection: a date or a date and time.
    #[arg(long, value_name = "DATETIME", value_parser = super::plan::parse_start)]
    start: (NaiveDate, Option<NaiveTime>),
    /// Weeks of omalizumab pretreatment so far.
    #[arg(long, value_name = "N")]
    omalizumab_weeks: Option<u32>,
    /// The physician accepts a risk the rules refuse.
    #[arg(long, value_name = "REASON")]
    accept_risk: Option<String>,
    #[command(flatten)]
    calendar: super::plan::CalendarArgs,
    /// Who starts it.
    #[arg(long, default_value = "unknown")]
    by: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn course_start(
    ctx: &Context,
    store: &Store,
    a: &CourseStart,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let p = store
        .patient(&a.patient)?
        .ok_or_else(|| CliError::Data(format!("no patient has the id {:?}", a.patient)))?;
    let rule_sources = ctx.rule_sources()?;
    let policy = policy_from(rule_sources.clone(), err)?;
    let (requested, _, _) = super::templates::resolve(ctx, &policy, &a.template, err)?;
    let path = std::path::Path::new(&a.template);
    let extra = if path.is_file() {
        vec![super::read_source(path)?]
    } else {
        Vec::new()
    };
    let catalog = ctx.catalog_from(extra, &policy, err)?;
    let cal = a.calendar.calendar();
    let inputs = Inputs {
        dob: p.dob,
        weight_kg: p.weight_kg.clone(),
        sige: p.sige.clone(),
        total_ige: p.total_ige.clone(),
        fev1_percent: p.fev1_percent.clone(),
        asthma: p.asthma.clone(),
        beta_blocker: p.beta_blocker,
        omalizumab_weeks: a.omalizumab_weeks,
        start: NaiveDateTime::new(a.start.0, a.start.1.unwrap_or(cal.opens)),
        opens: cal.opens,
        closes: cal.closes,
        clinic_days: cal.days.iter().map(|d| d.to_string()).collect(),
        accept_risk: a.accept_risk.clone(),
    };
    let plan = match lay_plan(&requested, &catalog, &policy, &inputs)? {
        Ok(p) => p,
        Err(refusal) => {
            let why = match &refusal {
                Refusal::Contraindicated { reasons, .. } => reasons
                    .iter()
                    .map(|r| r.reason.text.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                Refusal::RiskNotAccepted { note, .. } => note.clone(),
            };
            if a.json {
                write_json(out, &refusal)?;
            }
            return Err(CliError::Refused(format!("no course started: {why}")));
        }
    };
    // Freeze the template the plan uses (after any switch) and every rules file.
    let used = catalog.source(&plan.template.id).ok_or_else(|| {
        CliError::Data(format!(
            "template {:?} has no source text",
            plan.template.id
        ))
    })?;
    let rules_json: BTreeMap<String, String> = rule_sources
        .into_iter()
        .map(|s| {
            let name = std::path::Path::new(&s.name)
                .file_name()
                .map_or(s.name.clone(), |f| f.to_string_lossy().into_owned());
            (name, s.text)
        })
        .collect();
    let template = catalog
        .get(&plan.template.id)
        .ok_or_else(|| CliError::Data("template vanished".into()))?;
    let record = NewCourse {
        patient_id: p.id.clone(),
        template_id: plan.template.id.clone(),
        rule_set: template.rules.clone(),
        template_text: used.text.clone(),
        rules_json: serde_json::to_string(&rules_json)
            .map_err(|e| CliError::Data(e.to_string()))?,
        plan_json: serde_json::to_string(&plan).map_err(|e| CliError::Data(e.to_string()))?,
        inputs_json: serde_json::to_string(&inputs).map_err(|e| CliError::Data(e.to_string()))?,
    };
    let id = store.add_course(&record, now, &a.by)?;
    if a.json {
        #[derive(Serialize)]
        struct Started<'a> {
            course: i64,
            patient: &'a str,
            plan: &'a Plan,
        }
        return write_json(
            out,
            &Started {
                course: id,
                patient: &p.id,
                plan: &plan,
            },
        );
    }
    writeln!(out, "{id}")?;
    for w in &plan.warnings {
        writeln!(err, "! {w}")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct CourseRow {
    course: i64,
    patient: String,
    template: String,
    started: NaiveDateTime,
    events: usize,
    next: Decision,
}

fn decision_of(
    store: &Store,
    id: i64,
    now: NaiveDateTime,
    err: &mut dyn Write,
) -> Result<(Loaded, Vec<StoredEvent>, Decision), CliError> {
    let loaded = load(store, id, err)?;
    let events = store.events(id)?;
    let plain: Vec<course::Event> = events.iter().map(|e| e.event.clone()).collect();
    let ctx = loaded.ctx()?;
    let state = course::replay(ctx, &plain);
    let d = course::next(ctx, &state, now);
    Ok((loaded, events, d))
}

pub(super) fn course_list(
    store: &Store,
    active: bool,
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for c in store.courses()? {
        let (_, events, next) = decision_of(store, c.id, now, err)?;
        if active && next.action == ActionKind::Stopped {
            continue;
        }
        rows.push(CourseRow {
            course: c.id,
            patient: c.patient_id,
            template: c.template_id,
            started: c.created_at,
            events: events.len(),
            next,
        });
    }
    if json {
        return write_json(out, &rows);
    }
    let mut t = table(
        &["course", "patient", "template", "events", "next"],
        &[0, 3],
    );
    for r in &rows {
        t.add_row(vec![
            r.course.to_string(),
            r.patient.clone(),
            r.template.clone(),
            r.events.to_string(),
            describe_decision(&r.next),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

fn describe_decision(d: &Decision) -> String {
    let dose = d
        .dosing
        .as_ref()
        .map(|x| {
            format!(
                "step {}: {} of vial {} = {}",
                x.step, x.volume_ml, x.vial, x.dose
            )
        })
        .unwrap_or_default();
    let when = d
        .not_before
        .map(|t| format!(" not before {}", t.format("%Y-%m-%d %H:%M")))
        .unwrap_or_default();
    match d.action {
        ActionKind::Give => format!("GIVE {dose}"),
        ActionKind::MaintenanceDue => format!("MAINTENANCE DUE {dose}"),
        ActionKind::Wait => format!("WAIT{when}: {dose}"),
        ActionKind::Observe => format!("OBSERVE{}", when.replace("not before", "until")),
        ActionKind::PhysicianReview => "DO NOT GIVE: physician review".into(),
        ActionKind::DayEnded => format!("NO MORE TODAY{when}"),
        ActionKind::Stopped => "STOPPED".into(),
    }
}

pub(super) fn course_show(
    store: &Store,
    id: i64,
    json: bool,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (loaded, events, next) = decision_of(store, id, now, err)?;
    if json {
        #[derive(Serialize)]
        struct Show<'a> {
            course: &'a CourseRecord,
            plan: &'a Plan,
            events: &'a [StoredEvent],
            next: &'a Decision,
        }
        return write_json(
            out,
            &Show {
                course: &loaded.record,
                plan: &loaded.plan,
                events: &events,
                next: &next,
            },
        );
    }
    let r = &loaded.record;
    writeln!(
        out,
        "Course {} — patient {} — {} ({})",
        r.id, r.patient_id, loaded.plan.template.name, r.template_id
    )?;
    for w in &loaded.plan.warnings {
        writeln!(out, "! {w}")?;
    }
    let mut t = table(
        &[
            "step", "planned", "vial", "volume", "dose", "given", "by", "local mm", "systemic",
        ],
        &[0, 7],
    );
    let plain: Vec<course::Event> = events.iter().map(|e| e.event.clone()).collect();
    for (s, r) in loaded
        .plan
        .steps
        .iter()
        .zip(step_records(&loaded.plan, &plain))
    {
        t.add_row(vec![
            s.index.to_string(),
            format!("{} {}", s.date, s.time.format("%H:%M")),
            format!("{} ({})", s.vial_label, s.cap),
            s.volume_ml.to_string(),
            s.dose.to_string(),
            r.given_at,
            r.by,
            r.local_mm,
            r.systemic,
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(out, "Next: {}", describe_decision(&next))?;
    for reason in &next.reasons {
        writeln!(out, "  - {reason}")?;
    }
    Ok(())
}

pub(super) fn course_log(
    store: &Store,
    id: i64,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    store
        .course(id)?
        .ok_or_else(|| CliError::Data(format!("no course has the id {id}")))?;
    let events = store.events(id)?;
    if json {
        return write_json(out, &events);
    }
    for e in &events {
        let late = if e.late_entered {
            " (entered late)"
        } else {
            ""
        };
        let body = serde_json::to_string(&e.event.kind).unwrap_or_default();
        writeln!(
            out,
            "#{} {} by {}; recorded {}{late}: {body}",
            e.event.seq,
            e.event.at.format("%Y-%m-%d %H:%M"),
            e.event.by,
            e.recorded_at.format("%Y-%m-%d %H:%M:%S")
        )?;
    }
    Ok(())
}

pub(super) fn course_verify(
    store: &Store,
    id: i64,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    store
        .course(id)?
        .ok_or_else(|| CliError::Data(format!("no course has the id {id}")))?;
    let v = store.verify(id)?;
    // The frozen plan must also reproduce from the frozen template and rules.
    let frozen = load(store, id, err).err().map(|e| e.to_string());
    if json {
        #[derive(Serialize)]
        struct V<'a> {
            #[serde(flatten)]
            chain: &'a crate::store::Verification,
            frozen_copies_intact: bool,
        }
        write_json(
            out,
            &V {
                chain: &v,
                frozen_copies_intact: frozen.is_none(),
            },
        )?;
    } else {
        writeln!(
            out,
            "course {}: {} events; chain {}",
            id,
            v.events,
            if v.intact { "intact" } else { "BROKEN" }
        )?;
        for p in &v.problems {
            writeln!(out, "  ! {p}")?;
        }
        if let Some(f) = &frozen {
            writeln!(out, "  ! {f}")?;
        }
    }
    if v.intact && frozen.is_none() {
        Ok(())
    } else {
        Err(CliError::Data(format!("course {id} does not verify")))
    }
}

// ---------------------------------------------------------------------------------------------
// next and recording

pub(super) fn next(
    store: &Store,
    id: i64,
    at: NaiveDateTime,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (_, _, d) = decision_of(store, id, at, err)?;
    if json {
        return write_json(out, &d);
    }
    writeln!(out, "{}", describe_decision(&d))?;
    for r in &d.reasons {
        writeln!(out, "  - {r}")?;
    }
    Ok(())
}

/// What each recording command records.
pub(super) enum Record {
    Give {
        step: usize,
        volume: String,
        pef: Option<String>,
        screen_ok: bool,
        lot: Option<String>,
        site: Option<String>,
        override_reason: Option<String>,
    },
    Observe {
        local_mm: Option<u32>,
    },
    React {
        grade: Option<String>,
        onset_min: Option<u32>,
        symptom: Option<String>,
        treatment: Option<String>,
        late_local_mm: Option<u32>,
    },
    Defer {
        reason: String,
    },
    Review {
        decision: String,
        reason: Option<String>,
    },
    Note {
        text: String,
    },
    Correct {
        event: u64,
        reason: String,
    },
}

/// Records one event: checked against the course's state inside the store's transaction, so
/// that nothing is written when it is refused, and two nurses cannot both give the same dose.
#[allow(clippy::too_many_arguments)]
pub(super) fn record(
    store: &mut Store,
    id: i64,
    by: &str,
    at: Option<NaiveDateTime>,
    now: NaiveDateTime,
    what: Record,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if by.trim().is_empty() {
        return Err(CliError::Usage(
            "--by needs the name of the person recording".into(),
        ));
    }
    let when = at.unwrap_or(now);
    if when > now + chrono::Duration::minutes(1) {
        return Err(CliError::Data(format!(
            "--at {} is in the future; record what has happened",
            when.format("%Y-%m-%d %H:%M")
        )));
    }
    let late_entered = now - when > chrono::Duration::minutes(5);
    // Input that can be checked without the course: refused before anything is opened.
    let volume = match &what {
        Record::Give { volume, .. } => Some(
            parse_decimal(volume)
                .filter(|v| *v > Decimal::ZERO)
                .map(Volume::from_ml)
                .ok_or_else(|| {
                    CliError::Usage(format!("--volume {volume:?} is not a volume in mL"))
                })?,
        ),
        _ => None,
    };
    let pef = match &what {
        Record::Give { pef: Some(p), .. } => Some(
            parse_decimal(p)
                .filter(|v| *v > Decimal::ZERO && *v <= Decimal::from(200))
                .ok_or_else(|| CliError::Usage(format!("--pef {p:?} is not a percentage")))?,
        ),
        _ => None,
    };
    let grade = match &what {
        Record::React { grade: Some(g), .. } => {
            Some(g.parse::<WaoGrade>().map_err(CliError::Usage)?)
        }
        _ => None,
    };
    let review = match &what {
        Record::Review { decision, .. } => {
            Some(decision.parse::<Review>().map_err(CliError::Usage)?)
        }
        _ => None,
    };
    let loaded = load(store, id, err)?;
    let ctx = loaded.ctx()?;
    let result = store.append(id, |events| -> Result<NewEvent, String> {
        let plain: Vec<course::Event> = events.iter().map(|e| e.event.clone()).collect();
        let state = course::replay(ctx, &plain);
        let kind = match &what {
            Record::Give {
                step,
                screen_ok,
                lot,
                site,
                override_reason,
                ..
            } => {
                let volume = volume.ok_or("no volume")?;
                let dosing = course::check_give(
                    ctx,
                    &state,
                    when,
                    &Proposed {
                        step: *step,
                        volume_ml: volume,
                        pef_percent: pef,
                        screen_ok: *screen_ok,
                        override_reason: override_reason.clone(),
                    },
                )?;
                EventKind::DoseGiven {
                    step: dosing.step,
                    vial: dosing.vial,
                    volume_ml: dosing.volume_ml,
                    dose: dosing.dose,
                    lot: lot.clone(),
                    site: site.clone(),
                    pef_percent: pef,
                    screen_ok: *screen_ok,
                    override_reason: override_reason.clone(),
                }
            }
            Record::Observe { local_mm } => EventKind::ObservationEnded {
                local_mm: *local_mm,
            },
            Record::React {
                onset_min,
                symptom,
                treatment,
                late_local_mm,
                ..
            } => match (grade, late_local_mm) {
                (Some(grade), _) => EventKind::SystemicReaction {
                    grade,
                    onset_min: onset_min.ok_or("a systemic reaction needs --onset-min")?,
                    symptom: symptom
                        .clone()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or("a systemic reaction needs --symptom")?,
                    treatment: treatment.clone(),
                },
                (None, Some(mm)) => EventKind::LateLocalReaction { mm: *mm },
                (None, None) => {
                    return Err("give --grade (systemic reaction) or --late-local-mm".into());
                }
            },
            Record::Defer { reason } => EventKind::DoseDeferred {
                reason: reason.clone(),
            },
            Record::Review { reason, .. } => EventKind::PhysicianReview {
                decision: review.clone().ok_or("no decision")?,
                reason: reason.clone(),
            },
            Record::Note { text } => EventKind::Note { text: text.clone() },
            Record::Correct { event, reason } => EventKind::Correction {
                corrects: *event,
                reason: reason.clone(),
            },
        };
        course::admissible(&state, &plain, &kind)?;
        Ok(NewEvent {
            kind,
            at: when,
            by: by.to_string(),
            recorded_at: now,
            late_entered,
        })
    });
    match result {
        Ok(ev) => {
            let late = if ev.late_entered {
                " (entered late)"
            } else {
                ""
            };
            writeln!(out, "recorded #{} in course {id}{late}", ev.event.seq)?;
            let events: Vec<course::Event> =
                store.events(id)?.into_iter().map(|e| e.event).collect();
            let state = course::replay(ctx, &events);
            writeln!(
                out,
                "next: {}",
                describe_decision(&course::next(ctx, &state, now))
            )?;
            Ok(())
        }
        Err(AppendError::Refused(why)) => Err(CliError::Refused(format!("not recorded: {why}"))),
        Err(AppendError::Store(e)) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// sheet

#[derive(Serialize)]
struct SheetLine {
    course: i64,
    patient: String,
    name: String,
    #[serde(flatten)]
    row: course::SheetRow,
    vial_label: Option<String>,
    cap: Option<String>,
    concentration: Option<String>,
}

/// Where `sheet --pdf` writes, and how.
pub(super) struct PdfOut {
    /// The file.
    pub path: PathBuf,
    /// Paper size.
    pub paper: crate::render::pdf::Paper,
    /// A font for characters DejaVu lacks.
    pub font: Option<PathBuf>,
}

/// `ritplan sheet --date DATE`: every active course's rows for the day, in time order.
pub(super) fn sheet(
    store: &Store,
    date: NaiveDate,
    json: bool,
    pdf: Option<PdfOut>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let mut parsed = Parsed::default();
    let patients: BTreeMap<String, PatientRecord> = store
        .patients()?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let mut lines = Vec::new();
    for record in store.courses()? {
        let id = record.id;
        let loaded = load_record(record, &mut parsed, err)?;
        let events: Vec<course::Event> = store.events(id)?.into_iter().map(|e| e.event).collect();
        let ctx = loaded.ctx()?;
        let state = course::replay(ctx, &events);
        let name = patients
            .get(&loaded.record.patient_id)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        for row in course::sheet_rows(ctx, &state, date, &loaded.calendar) {
            let vial = row
                .dosing
                .as_ref()
                .and_then(|d| loaded.template.vial(&d.vial));
            lines.push(SheetLine {
                course: id,
                patient: loaded.record.patient_id.clone(),
                name: name.clone(),
                vial_label: vial.map(|v| v.label.clone()),
                concentration: vial.map(|v| v.concentration.to_string()),
                cap: vial.map(|v| v.cap.clone()),
                row,
            });
        }
    }
    // Time order; DO NOT GIVE rows first, so that nobody misses them.
    lines.sort_by_key(|l| (l.row.time, l.course));
    if let Some(pdf) = pdf {
        return sheet_pdf(&lines, date, &pdf, out);
    }
    if json {
        return write_json(out, &lines);
    }
    writeln!(out, "Dosing sheet {date} ({})", date.format("%A"))?;
    let mut t = table(&SHEET_COLUMNS.map(|(title, _, _)| title), &[2, 4, 5, 6]);
    for l in &lines {
        t.add_row(sheet_row(l));
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "Times are the earliest; each dose follows the previous observation. Later rows of a patient assume the earlier doses were tolerated: check `ritplan next` before each dose."
    )?;
    Ok(())
}

/// The sheet's columns, for the terminal and the PDF: title, PDF width share, right-aligned.
const SHEET_COLUMNS: [(&str, f32, bool); 15] = [
    ("time", 0.9, false),
    ("patient", 2.5, false),
    ("step", 0.7, true),
    ("vial", 2.9, false),
    ("volume", 1.1, true),
    ("dose", 1.6, true),
    ("obs min", 0.9, true),
    ("PEF %", 0.9, false),
    ("screen ✓", 1.2, false),
    ("given at", 1.1, false),
    ("site L/R", 0.9, false),
    ("lot", 1.0, false),
    ("reaction", 1.2, false),
    ("nurse", 1.0, false),
    ("check", 1.0, false),
];

/// One sheet line's cells; the columns after the observation are left blank for the nurses.
fn sheet_row(l: &SheetLine) -> Vec<String> {
    let (step, vial, volume, dose) = sheet_cells(l);
    let mut r = vec![
        l.row
            .time
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_else(|| "--:--".into()),
        format!("{} ({}, course {})", l.name, l.patient, l.course),
        step,
        vial,
        volume,
        dose,
        l.row
            .observation_min
            .map(|o| o.to_string())
            .unwrap_or_default(),
    ];
    r.resize(SHEET_COLUMNS.len(), String::new());
    r
}

fn sheet_cells(l: &SheetLine) -> (String, String, String, String) {
    match (&l.row.dosing, &l.row.action) {
        (_, ActionKind::PhysicianReview) => (
            String::new(),
            "DO NOT GIVE — physician review".to_string(),
            String::new(),
            String::new(),
        ),
        (Some(d), _) => (
            d.step.to_string(),
            format!(
                "{} ({}) {}",
                l.vial_label.clone().unwrap_or_default(),
                l.cap.clone().unwrap_or_default(),
                l.concentration.clone().unwrap_or_default()
            ),
            d.volume_ml.to_string(),
            d.dose.to_string(),
        ),
        _ => (String::new(), String::new(), String::new(), String::new()),
    }
}

fn sheet_pdf(
    lines: &[SheetLine],
    date: NaiveDate,
    pdf: &PdfOut,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use crate::render::pdf::{Align, Writer, col};
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let fonts = super::pdf_fonts(&names, pdf.font.as_deref())?;
    let mut w = Writer::new(
        &fonts,
        pdf.paper,
        true,
        &format!("Daily dosing sheet · {date} ({})", date.format("%A")),
    );
    w.paragraph(
        "Doses as the record allows them at opening time. Later rows of a patient assume the earlier doses were tolerated: check `ritplan next` before each dose. DO NOT GIVE rows wait for a physician.",
        8.5,
        false,
    );
    w.space(4.0);
    let columns: Vec<_> = SHEET_COLUMNS
        .iter()
        .map(|(title, weight, right)| {
            col(
                title,
                *weight,
                if *right { Align::Right } else { Align::Left },
            )
        })
        .collect();
    let strong: Vec<bool> = lines
        .iter()
        .map(|l| l.row.action == ActionKind::PhysicianReview)
        .collect();
    let rows: Vec<Vec<String>> = lines.iter().map(sheet_row).collect();
    if rows.is_empty() {
        w.paragraph("No injection is due on this day.", 11.0, true);
    } else {
        w.table(&columns, &rows, &strong, 8.5, 24.0);
    }
    let footer = format!(
        "ritplan {} · dosing sheet {date}",
        env!("CARGO_PKG_VERSION")
    );
    let (bytes, warnings) = w
        .finish(&format!("Dosing sheet {date}"), &footer, date)
        .map_err(|e| CliError::Data(e.to_string()))?;
    super::write_atomically(&pdf.path, &bytes)?;
    for warning in warnings {
        writeln!(out, "warning from the PDF writer: {warning}")?;
    }
    writeln!(out, "{}", pdf.path.display())?;
    Ok(())
}

/// `ritplan course pdf`: the course's protocol, with what the record says of each step.
pub(super) fn course_pdf(
    store: &Store,
    id: i64,
    pdf: &PdfOut,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let loaded = load(store, id, err)?;
    let patient = store
        .patient(&loaded.record.patient_id)?
        .ok_or_else(|| CliError::Data(format!("course {id}: its patient is missing")))?;
    let inputs: Inputs = serde_json::from_str(&loaded.record.inputs_json)
        .map_err(|e| CliError::Data(e.to_string()))?;
    let pat = inputs.patient()?;
    let weight = pat.require_weight()?;
    let events: Vec<course::Event> = store.events(id)?.into_iter().map(|e| e.event).collect();
    let recorded = step_records(&loaded.plan, &events);
    let rule_set = loaded
        .policy
        .rule_set(&loaded.record.rule_set)
        .ok_or_else(|| CliError::Data(format!("course {id}: rule set missing")))?;
    let who = crate::render::protocol::Identity {
        name: patient.name.clone(),
        id: patient.id.clone(),
        dob: Some(patient.dob),
        age_years: pat.age_years,
        weight_kg: weight,
    };
    let doc = crate::render::protocol::Protocol {
        who: &who,
        plan: &loaded.plan,
        template: &loaded.template,
        rules: rule_set,
        emergency: &loaded.policy.emergency,
        epinephrine_mg: loaded
            .policy
            .emergency
            .epinephrine_mg(pat.age_years, weight),
        recorded,
        title: format!("Course {id}"),
        hash: super::short_hash([
            loaded.record.template_text.as_str(),
            loaded.record.rules_json.as_str(),
        ]),
        date: now.date(),
    };
    super::write_protocol(
        &doc,
        &[who.name.as_str()],
        pdf.paper,
        pdf.font.as_deref(),
        &pdf.path,
        err,
    )?;
    writeln!(out, "{}", pdf.path.display())?;
    Ok(())
}

/// What the record says of each planned step (index 0 = step 1): every administration of the
/// step, joined in order ("12-07 08:00; 12-07 10:00"), each with its own reactions.
fn step_records(plan: &Plan, events: &[course::Event]) -> Vec<crate::render::protocol::Recorded> {
    use crate::render::protocol::Recorded;
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
                    format!("{}{late}", opt(a.local_mm.map(|m| m.to_string())))
                }),
                systemic: join(&list, &|a| opt(a.systemic.map(|g| g.to_string()))),
                by: join(&list, &|a| a.by.clone()),
            }
        })
        .collect()
}
