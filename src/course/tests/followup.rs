//! A follow-up is taken like a note, whatever the course's holds or status, and never changes
//! the dosing state (issue 22).

use super::*;
use crate::course::followup::{AcqRecord, DailyDose, MedicationUse};

fn follow_up() -> EventKind {
    EventKind::FollowUp {
        date: date("2026-12-08"),
        acq: Some(AcqRecord {
            version: 5,
            items: vec![1, 2, 0, 1, 3],
        }),
        fev1_percent: Some(Decimal::from(91)),
        medication: Some(vec![MedicationUse {
            drug: "budesonide".into(),
            daily_dose: DailyDose::parse("400 µg").expect("dose"),
        }]),
    }
}

/// The decision at `when` with the follow-up recorded at `at` and without it: the same.
fn unchanged(c: &mut Course<'_>, at: &str, when: &str) {
    let before = (format!("{:?}", c.state()), format!("{:?}", c.next(when)));
    c.record(at, follow_up()).expect("a follow-up is taken");
    let after = (format!("{:?}", c.state()), format!("{:?}", c.next(when)));
    assert_eq!(before, after);
}

#[test]
fn a_follow_up_is_taken_in_any_state_and_changes_no_decision() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    // Before any dose.
    unchanged(&mut c, "2026-12-07 07:00", "2026-12-07 08:00");
    // During an observation.
    c.give("2026-12-07 08:00");
    unchanged(&mut c, "2026-12-07 08:05", "2026-12-07 08:10");
    // Held for a physician after a systemic reaction.
    c.push("2026-12-07 08:10", sr("2a"));
    assert!(c.next("2026-12-07 09:00").hold.is_some());
    unchanged(&mut c, "2026-12-07 09:00", "2026-12-08 08:00");
    // Stopped.
    c.record("2026-12-07 10:00", review(Review::Stop, "moved away"))
        .expect("stop");
    unchanged(&mut c, "2026-12-08 10:00", "2026-12-09 08:00");
    // An incomplete ACQ is refused by the core too (never stored to be imputed later).
    let bad = EventKind::FollowUp {
        date: date("2026-12-08"),
        acq: Some(AcqRecord {
            version: 6,
            items: vec![1, 2, 0, 1, 3],
        }),
        fev1_percent: None,
        medication: None,
    };
    assert!(c.record("2026-12-08 10:00", bad).is_err());
}
