//! Benchmark helper (bench/run): fills a record with a large ward. Copies patient P1 and its
//! course 1 to patients P2..PN with one course each, through the store, so that every row
//! carries its MAC and every course its head, exactly as ritplan writes them.
//!
//!     cargo run --release --example seed_ward -- RECORD.db N [ACTIVE]
//!
//! With ACTIVE, only courses 1..=ACTIVE stay active: each later one is stopped by a physician's
//! review at its start (a finished course, as a record of years holds thousands of).

use std::path::PathBuf;

use ritplan::course::{EventKind, Review};
use ritplan::store::{Author, NewCourse, NewEvent, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: seed_ward RECORD.db N".into());
    };
    let n: u32 = n.parse()?;
    let active: u32 = match args.next() {
        Some(a) => a.parse()?,
        None => n,
    };
    let mut store = Store::open(&PathBuf::from(db))?;
    let p = store.patient("P1")?.ok_or("the record has no patient P1")?;
    let c = store.course(1)?.ok_or("the record has no course 1")?;
    let by = Author {
        name: "Bench".into(),
        staff_id: Some("bench".into()),
        os_user: "bench".into(),
    };
    for i in 2..=n {
        let mut q = p.clone();
        q.id = format!("P{i}");
        // A name and a birthday of their own: ten thousand look-alikes would flag everyone.
        q.name = format!("{} {i}", p.name);
        q.dob = p.dob - chrono::Duration::days(i64::from(i % 7000));
        store.add_patient(&q, c.created_at, &by)?;
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
            &by,
        )?;
        if i > active {
            let stop = NewEvent {
                kind: EventKind::PhysicianReview {
                    decision: Review::Stop,
                    reason: Some("bench: a finished course".into()),
                    about: None,
                },
                at: c.created_at,
                by: by.clone(),
                recorded_at: c.created_at,
                late_entered: false,
                active: false,
                session: None,
            };
            store
                .append(id, |_, _| Ok::<_, String>(stop))
                .map_err(|_| format!("course {id} could not be stopped"))?;
        }
    }
    Ok(())
}
