//! Benchmark helper (bench/audit.py): fills a record for the outcomes audit. The record holds a
//! few model patients made by ritplan's own commands (their courses and every entry of them);
//! this copies them, in turn by the weights given, to new patients `A1..`, until `N`
//! immunotherapy courses exist: each copy gets its patient's every course (an omalizumab
//! course too) and each course's every entry, through the store, so that every row carries its
//! MAC and every course its head, exactly as ritplan writes them.
//!
//!     cargo run --release --example seed_audit -- RECORD N P1:WEIGHT P2:WEIGHT ...

use std::path::PathBuf;

use ritplan::store::{Author, NewCourse, NewEvent, Store};

/// A model patient: its record and its courses with their entries, the immunotherapy courses
/// counted.
struct Model {
    patient: ritplan::store::PatientRecord,
    courses: Vec<(
        ritplan::store::CourseRecord,
        Vec<ritplan::store::StoredEvent>,
    )>,
    immunotherapy: u32,
    weight: u32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: seed_audit RECORD N PATIENT:WEIGHT...".into());
    };
    let n: u32 = n.parse()?;
    let mut store = Store::open(&PathBuf::from(db))?;
    let mut models = Vec::new();
    let mut have = 0;
    for a in args {
        let (id, w) = a.split_once(':').ok_or("PATIENT:WEIGHT")?;
        let patient = store.patient(id)?.ok_or(format!("no patient {id}"))?;
        let mut courses = Vec::new();
        let mut immunotherapy = 0;
        for c in store.courses_of(id)? {
            let events = store.events(c.id)?;
            if c.rule_set != "omalizumab-label" {
                immunotherapy += 1;
            }
            courses.push((c, events));
        }
        have += immunotherapy;
        models.push(Model {
            patient,
            courses,
            immunotherapy,
            weight: w.parse()?,
        });
    }
    if models.iter().all(|m| m.immunotherapy == 0 || m.weight == 0) {
        return Err("no model patient with an immunotherapy course".into());
    }
    let turn: Vec<usize> = models
        .iter()
        .enumerate()
        .flat_map(|(i, m)| std::iter::repeat_n(i, m.weight as usize))
        .collect();
    let mut i = 0u32;
    while have < n {
        let m = &models[turn[i as usize % turn.len()]];
        i += 1;
        if m.immunotherapy == 0 {
            continue;
        }
        let mut q = m.patient.clone();
        q.id = format!("A{i}");
        q.name = format!("{} {i}", m.patient.name);
        q.dob = m.patient.dob - chrono::Duration::days(i64::from(i % 3000));
        let by = |name: &str, staff: &Option<String>| Author {
            name: name.to_string(),
            staff_id: staff.clone(),
            os_user: "bench".into(),
        };
        let at = m
            .courses
            .iter()
            .map(|(c, _)| c.created_at)
            .min()
            .ok_or("no course")?;
        store.add_patient(&q, at, &by("Bench", &None))?;
        for (c, events) in &m.courses {
            let id = store.add_course(
                &NewCourse {
                    patient_id: q.id.clone(),
                    template_id: c.template_id.clone(),
                    rule_set: c.rule_set.clone(),
                    template_text: c.template_text.to_string(),
                    rules_json: c.rules_json.to_string(),
                    plan_json: c.plan_json.clone(),
                    inputs_json: c.inputs_json.clone(),
                },
                c.created_at,
                &by(&c.created_by, &None),
            )?;
            for (k, e) in events.iter().enumerate() {
                let new = NewEvent {
                    kind: e.event.kind.clone(),
                    at: e.event.at,
                    by: by(&e.event.by, &e.staff_id),
                    recorded_at: e.recorded_at,
                    late_entered: e.late_entered,
                    active: k + 1 < events.len(),
                    session: None,
                };
                store
                    .append(id, |_, _| Ok::<_, String>(new))
                    .map_err(|_| format!("course {id}: an entry could not be copied"))?;
            }
            if c.rule_set != "omalizumab-label" {
                have += 1;
            }
        }
    }
    Ok(())
}
