//! Hand-built rows whose counts are known.

use rust_decimal::Decimal;

use super::*;
use crate::audit::facts::{ByPhase, FollowUp, Local, Premedication, Systemic, Target};
use crate::patient::LabValue;
use crate::risk::{ClassRange, Ratio};
use crate::testkit::date;

/// A course of `arm` in `age` group, rush day 1 on `day1`, with `sr` systemic reactions,
/// reaching its target after `target_days` (None: not reached) with `status`.
pub(crate) fn row(
    id: i64,
    arm: Arm,
    age: &str,
    sr: u32,
    day1: &str,
    status: Status,
    target_days: Option<i64>,
) -> CourseFacts {
    let lab = |s: &str| LabValue::parse(s).expect("lab value");
    CourseFacts {
        course_id: id,
        patient_id: format!("P{id}"),
        rush_day1: date(day1),
        arm,
        omb_doses_before: 0,
        omb_days_first_dose_to_rush: None,
        omb_weeks_recorded: None,
        age_years: 30,
        age_group: age.into(),
        sige: lab("20"),
        sige_censored: false,
        sige_class: ClassRange { min: 4, max: 4 },
        sige_band: "3-6".into(),
        total_ige: lab("200"),
        tige_band: "100-<1000".into(),
        ratio_pct: Ratio::Exact(Decimal::TEN),
        ratio_band10: ">=10".into(),
        ratio_band16: "<=16".into(),
        risk_stratum: "standard".into(),
        premedication: Premedication::default(),
        template_id: "t".into(),
        product: "p".into(),
        injections: ByPhase::default(),
        sr: Systemic {
            count: sr,
            ..Systemic::default()
        },
        lr: Local::default(),
        target: Target {
            dose: "100 000 SQ-U".into(),
            reached: target_days.is_some(),
            date: None,
            days: target_days,
            max_pct: None,
        },
        status,
        stop_cause: None,
        stopped_after_sr: false,
        follow_up: FollowUp::default(),
    }
}

fn level<'a>(c: &'a Charts, column: &str, label: &str) -> &'a Level {
    c.sr_incidence
        .iter()
        .find(|s| s.column == column)
        .and_then(|s| s.levels.iter().find(|l| l.label == label))
        .unwrap_or_else(|| panic!("{column} {label}"))
}

#[test]
fn sr_incidence_counts_courses_with_any_reaction_by_level_and_arm() {
    let mut rows = Vec::new();
    // Adults, rush alone: 10 courses, 3 with SR (one of them with two).
    for i in 0..10 {
        let sr = match i {
            0 => 2,
            1 | 2 => 1,
            _ => 0,
        };
        rows.push(row(
            i,
            Arm::Rit,
            ">=18",
            sr,
            "2026-01-05",
            Status::Completed,
            Some(3),
        ));
    }
    // Adults, pretreated: 4 courses, 1 with SR.
    for i in 10..14 {
        let sr = u32::from(i == 10);
        rows.push(row(
            i,
            Arm::RitOmbPre,
            ">=18",
            sr,
            "2026-01-05",
            Status::Completed,
            Some(3),
        ));
    }
    // Children, rush alone only: one course, with SR.
    rows.push(row(
        20,
        Arm::Rit,
        "<18",
        1,
        "2026-01-05",
        Status::Stopped,
        None,
    ));
    let c = charts(&rows, date("2026-06-01"));

    let adults = level(&c, "age_group", ">=18");
    assert_eq!(adults.bars.len(), 2);
    let rit = &adults.bars[0];
    assert_eq!((rit.arm, rit.with_sr, rit.courses), (Arm::Rit, 3, 10));
    assert!((rit.share - 0.3).abs() < 1e-12);
    // Wilson 95 % for 3/10: statsmodels proportion_confint(3, 10, method="wilson").
    assert!((rit.low - 0.107_791_3).abs() < 1e-6, "{}", rit.low);
    assert!((rit.high - 0.603_221_9).abs() < 1e-6, "{}", rit.high);
    let pre = &adults.bars[1];
    assert_eq!((pre.arm, pre.with_sr, pre.courses), (Arm::RitOmbPre, 1, 4));

    // A stratum with one course: one bar, 1/1, an interval that is a number.
    let children = level(&c, "age_group", "<18");
    assert_eq!(children.bars.len(), 1, "no pretreated child: no bar");
    let b = &children.bars[0];
    assert_eq!((b.with_sr, b.courses), (1, 1));
    assert!((b.share - 1.0).abs() < 1e-12 && b.high <= 1.0 && (b.low - 0.206_549_3).abs() < 1e-6);
    // Levels in ascending order: <18 before >=18.
    let age = &c.sr_incidence[0];
    let labels: Vec<&str> = age.levels.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["<18", ">=18"]);
    // Nothing anywhere is NaN.
    for s in &c.sr_incidence {
        for l in &s.levels {
            for b in &l.bars {
                assert!(b.share.is_finite() && b.low.is_finite() && b.high.is_finite());
                assert!(b.courses > 0);
            }
        }
    }
}

#[test]
fn levels_sort_by_their_numbers_and_unknown_comes_last() {
    let mut labels = vec![
        "unknown",
        ">=1000",
        "100-<1000",
        "<100",
        "3-6",
        "0",
        "1-2",
        "high",
    ];
    labels.sort_by_key(|l| level_key(l));
    assert_eq!(
        labels,
        [
            "0",
            "1-2",
            "3-6",
            "<100",
            "100-<1000",
            ">=1000",
            "high",
            "unknown"
        ]
    );
}

#[test]
fn no_rows_give_no_bars_and_no_curves() {
    let c = charts(&[], date("2026-06-01"));
    assert_eq!(c.sr_incidence.len(), 5);
    assert!(c.sr_incidence.iter().all(|s| s.levels.is_empty()));
    assert!(c.completion.is_empty());
}

#[test]
fn completion_is_the_share_reached_by_each_day_without_censoring() {
    // Rush alone: 4 courses; target on days 2, 2 and 5; one stopped (never reaches it).
    let rows = vec![
        row(
            1,
            Arm::Rit,
            ">=18",
            0,
            "2026-01-05",
            Status::Completed,
            Some(2),
        ),
        row(
            2,
            Arm::Rit,
            ">=18",
            0,
            "2026-01-05",
            Status::Completed,
            Some(2),
        ),
        row(
            3,
            Arm::Rit,
            ">=18",
            0,
            "2026-01-05",
            Status::Completed,
            Some(5),
        ),
        row(4, Arm::Rit, ">=18", 1, "2026-01-05", Status::Stopped, None),
    ];
    let c = charts(&rows, date("2026-06-01"));
    assert_eq!(c.completion.len(), 1, "no pretreated course: no curve");
    let k = &c.completion[0];
    assert_eq!(
        (k.courses, k.completed, k.stopped, k.censored),
        (4, 3, 1, 0)
    );
    let s: Vec<(i64, u64, u64)> = k
        .steps
        .iter()
        .map(|s| (s.day, s.at_risk, s.reached))
        .collect();
    assert_eq!(s, [(2, 4, 2), (5, 2, 1)]);
    assert!((k.steps[0].share - 0.5).abs() < 1e-12);
    // The stopped course counts against completion: 3 of 4, not 3 of 3.
    assert!((k.steps[1].share - 0.75).abs() < 1e-12);
}

#[test]
fn a_censored_course_leaves_the_denominator_after_its_last_day() {
    // Audit date 2026-01-15. Course 3 began 2026-01-12: observed to day 3, still in
    // up-dosing. Courses 1 and 2 reached their target on days 2 and 6.
    let rows = vec![
        row(
            1,
            Arm::RitOmbPre,
            ">=18",
            0,
            "2026-01-01",
            Status::Completed,
            Some(2),
        ),
        row(
            2,
            Arm::RitOmbPre,
            ">=18",
            0,
            "2026-01-01",
            Status::Completed,
            Some(6),
        ),
        row(
            3,
            Arm::RitOmbPre,
            ">=18",
            0,
            "2026-01-12",
            Status::Censored,
            None,
        ),
    ];
    let c = charts(&rows, date("2026-01-15"));
    let k = &c.completion[0];
    assert_eq!((k.arm, k.censored), (Arm::RitOmbPre, 1));
    // Day 2: 3 at risk, 1 reached → 1/3. Day 6: course 3 gone (after day 3); 1 at risk,
    // 1 reached → 1 − (2/3)(0/1) = 1.
    assert_eq!(k.steps[0].at_risk, 3);
    assert!((k.steps[0].share - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(k.steps[1].at_risk, 1);
    assert!((k.steps[1].share - 1.0).abs() < 1e-12);
    // The at-risk counts and the share on any day agree with the steps.
    assert_eq!(
        (k.at_risk(0), k.at_risk(3), k.at_risk(4), k.at_risk(7)),
        (3, 2, 1, 0)
    );
    assert_eq!(k.share_on(1), 0.0);
    assert!((k.share_on(5) - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn all_censored_gives_a_flat_curve_not_nan() {
    let rows = vec![
        row(1, Arm::Rit, ">=18", 0, "2026-01-01", Status::Censored, None),
        row(2, Arm::Rit, ">=18", 0, "2026-01-03", Status::Censored, None),
    ];
    let c = charts(&rows, date("2026-01-10"));
    let k = &c.completion[0];
    assert_eq!((k.courses, k.censored, k.completed), (2, 2, 0));
    assert!(k.steps.is_empty(), "nobody reached the target: no step");
    assert_eq!(k.last_day, 9);
    // No SR bar: a course still in up-dosing is counted in neither T4 nor its chart; the
    // level says how many it left out.
    let l = level(&c, "age_group", ">=18");
    assert!(l.bars.is_empty(), "{l:?}");
    assert_eq!(l.censored, 2);
}
