//! The audit's reads: physicians only, and a fixed number of statements per chunk of courses
//! (the same for 10 courses as for 100 in one chunk; ten chunks send ten times a chunk's).

use chrono::NaiveDate;

use super::tests_reads::{add_courses, setup};
use super::{AUDIT_CHUNK, Ward, WardError};
use crate::audit::facts::{Arm, Status};
use crate::audit::rules::AuditRules;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// The statements one audit sends, and its rows.
fn audit(ward: &mut Ward, who: &super::Actor, chunk: usize) -> (u64, usize) {
    let rules = AuditRules::bundled().expect("rules");
    let before = ward.statements_sent();
    let a = ward
        .audit_facts_in_chunks(
            who,
            d("2026-12-01"),
            d("2026-12-31"),
            d("2026-12-20"),
            &rules,
            chunk,
            1,
        )
        .expect("audit");
    assert!(
        a.rows
            .iter()
            .all(|r| r.arm == Arm::Rit && r.status == Status::Censored)
    );
    assert_eq!(a.censored.len(), a.rows.len());
    (ward.statements_sent() - before, a.rows.len())
}

#[test]
fn the_audit_reads_in_chunks_of_a_fixed_number_of_statements_and_only_for_a_physician() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, physician) = setup(&dir);
    let rules = AuditRules::bundled().expect("rules");
    let refused = ward.audit_facts(
        &nurse,
        d("2026-12-01"),
        d("2026-12-31"),
        d("2026-12-20"),
        &rules,
    );
    assert!(
        matches!(&refused, Err(WardError::Forbidden(m)) if m.contains("physician")),
        "{:?}",
        refused.map(|a| a.rows.len())
    );
    let backwards = ward.audit_facts(
        &physician,
        d("2026-12-31"),
        d("2026-12-01"),
        d("2026-12-20"),
        &rules,
    );
    assert!(matches!(backwards, Err(WardError::Data(_))));
    add_courses(&mut ward, &nurse, &physician, 0, 10);
    let (ten, rows) = audit(&mut ward, &physician, AUDIT_CHUNK);
    assert_eq!(rows, 10);
    let (one_chunk, _) = audit(&mut ward, &physician, 10);
    add_courses(&mut ward, &nurse, &physician, 10, 100);
    let started = std::time::Instant::now();
    let (hundred, rows) = audit(&mut ward, &physician, AUDIT_CHUNK);
    eprintln!(
        "audit of 100 courses: {hundred} statements, {:?}",
        started.elapsed()
    );
    assert_eq!(rows, 100);
    assert_eq!(
        ten, hundred,
        "one chunk: the same statements for 10 and 100 courses"
    );
    let (ten_chunks, rows) = audit(&mut ward, &physician, 10);
    assert_eq!(rows, 100);
    // The list of ids once, then each chunk's reads.
    assert_eq!(
        ten_chunks - 1,
        10 * (one_chunk - 1),
        "{one_chunk} for one chunk"
    );
    assert!(one_chunk <= 20, "{one_chunk} statements");
    // Two workers (the second half of the chunks on a second connection, on another core)
    // give the same facts, in the same order, as one.
    let facts = |ward: &mut Ward, workers: usize| {
        let before = ward.statements_sent();
        let a = ward
            .audit_facts_in_chunks(
                &physician,
                d("2026-12-01"),
                d("2026-12-31"),
                d("2026-12-20"),
                &rules,
                10,
                workers,
            )
            .expect("audit");
        (
            serde_json::to_string(&a).expect("json"),
            ward.statements_sent() - before,
        )
    };
    let (one, alone) = facts(&mut ward, 1);
    let (two, shared) = facts(&mut ward, 2);
    assert!(one.contains("\"course_id\":100"), "{one}");
    assert_eq!(one, two);
    // With two, this ward read only its half of the chunks.
    assert_eq!(alone, ten_chunks);
    assert_eq!(shared - 1, 5 * (one_chunk - 1), "{alone} alone");
}

#[test]
fn a_course_s_follow_ups_fill_its_acq_and_medication_score_columns() {
    use crate::course::followup::AcqRecord;
    use crate::ward::followup::NewFollowUp;
    use rust_decimal::Decimal;
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, physician) = setup(&dir);
    add_courses(&mut ward, &nurse, &physician, 0, 2);
    let follow = |ward: &mut Ward, patient: &str, date: &str, items: Vec<u8>| {
        let now = format!("{date}T12:00:00")
            .parse::<chrono::NaiveDateTime>()
            .expect("now");
        ward.add_follow_up(
            &nurse,
            NewFollowUp {
                patient: patient.into(),
                course: None,
                date: d(date),
                acq: Some(AcqRecord { version: 5, items }),
                fev1_percent: None,
                medication: Some(vec![]),
            },
            now,
        )
        .expect("follow-up");
    };
    // P0: a baseline 6 days before rush day 1 (2026-12-07) and one 12 months after it.
    follow(&mut ward, "P0", "2026-12-01", vec![2, 2, 2, 2, 2]);
    follow(&mut ward, "P0", "2027-12-07", vec![1, 1, 1, 1, 0]);
    // P1: a baseline only.
    follow(&mut ward, "P1", "2026-12-02", vec![3, 3, 3, 3, 3]);
    let rules = AuditRules::bundled().expect("rules");
    let a = ward
        .audit_facts(
            &physician,
            d("2026-12-01"),
            d("2026-12-31"),
            d("2027-12-10"),
            &rules,
        )
        .expect("audit");
    let row = |p: &str| {
        a.rows
            .iter()
            .find(|r| r.patient_id == p)
            .expect("row")
            .follow_up
    };
    let p0 = row("P0");
    assert_eq!(p0.acq_0, Some(Decimal::from(2)));
    assert_eq!(p0.acq_12m, Some(Decimal::new(8, 1)));
    assert_eq!(p0.acq_delta, Some(Decimal::new(-12, 1)));
    assert!(p0.med_score_0.is_some(), "no medication is a score");
    assert_eq!(p0.med_score_0, p0.med_score_12m);
    assert_eq!(p0.med_score_delta, Some(Decimal::ZERO));
    let p1 = row("P1");
    assert_eq!(p1.acq_0, Some(Decimal::from(3)));
    assert_eq!((p1.acq_12m, p1.acq_delta), (None, None));
    // Before the 12-month follow-up was taken, the audit does not see it.
    let early = ward
        .audit_facts(
            &physician,
            d("2026-12-01"),
            d("2026-12-31"),
            d("2027-06-01"),
            &rules,
        )
        .expect("audit");
    let p0 = early
        .rows
        .iter()
        .find(|r| r.patient_id == "P0")
        .expect("row")
        .follow_up;
    assert_eq!((p0.acq_0, p0.acq_12m), (Some(Decimal::from(2)), None));
}

#[test]
fn a_course_changed_outside_ritplan_among_many_refuses_the_audit_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut ward, nurse, physician) = setup(&dir);
    add_courses(&mut ward, &nurse, &physician, 0, 30);
    let (_, rows) = audit(&mut ward, &physician, 10);
    assert_eq!(rows, 30);
    let file = dir.path().join("r.db");
    if !file.exists() {
        eprintln!("the record is on a server: the SQLite tamper is not run");
        return;
    }
    // The stored plan of course 27 (the third chunk of ten: with two workers, the second's)
    // given one more space: the same
    // plan to a reader of its JSON, but no longer the bytes its MAC covers.
    let attacker = rusqlite::Connection::open(&file).expect("open");
    attacker
        .execute_batch(
            "DROP TRIGGER IF EXISTS courses_no_update;
             UPDATE courses SET plan_json = replace(plan_json, '\"steps\":', '\"steps\": ') WHERE id = 27;",
        )
        .expect("tamper");
    drop(attacker);
    let rules = AuditRules::bundled().expect("rules");
    for (chunk, workers) in [(10, 1), (10, 2), (AUDIT_CHUNK, 1), (AUDIT_CHUNK, 2)] {
        let refused = ward.audit_facts_in_chunks(
            &physician,
            d("2026-12-01"),
            d("2026-12-31"),
            d("2026-12-20"),
            &rules,
            chunk,
            workers,
        );
        assert!(
            matches!(&refused, Err(WardError::Tampered(m)) if m.contains("course 27")),
            "chunk {chunk}, {workers} workers: {:?}",
            refused.map(|a| a.rows.len())
        );
    }
}
