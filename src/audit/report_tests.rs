//! Report tests: rows built by hand with known counts; each number equals the hand count and
//! each p-value the statistics function called on the same table.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;
use crate::audit::facts::{ByPhase, FollowUp, Local, Premedication, Systemic, Target};
use crate::audit::report_text::{WIDTH, report_text};
use crate::patient::LabValue;
use crate::risk::ClassRange;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn lab(v: i64) -> LabValue {
    LabValue {
        value: Decimal::from(v),
        censor: Censor::Exact,
    }
}

/// A finished course: 20 injections, no reaction, completed at day 10, adult, class 3.
fn course(id: i64, arm: Arm) -> CourseFacts {
    CourseFacts {
        course_id: id,
        patient_id: format!("P{id}"),
        rush_day1: d("2026-01-10"),
        arm,
        omb_doses_before: u32::from(arm == Arm::RitOmbPre),
        omb_days_first_dose_to_rush: None,
        omb_weeks_recorded: None,
        age_years: 30,
        age_group: ">=18".into(),
        sige: lab(20),
        sige_censored: false,
        sige_class: ClassRange { min: 3, max: 3 },
        sige_band: "3-6".into(),
        total_ige: lab(200),
        tige_band: "100-<400".into(),
        ratio_pct: Ratio::Exact(Decimal::from(10)),
        ratio_band10: ">=10".into(),
        ratio_band16: "<=16".into(),
        risk_stratum: "high".into(),
        premedication: Premedication::default(),
        template_id: "t".into(),
        product: "p".into(),
        injections: ByPhase {
            rush: 20,
            ..ByPhase::default()
        },
        sr: Systemic::default(),
        lr: Local::default(),
        target: Target {
            dose: "100 000 SQ-U".into(),
            reached: true,
            date: Some(d("2026-01-20")),
            days: Some(10),
            max_pct: None,
        },
        status: Status::Completed,
        stop_cause: None,
        stopped_after_sr: false,
        follow_up: FollowUp::default(),
    }
}

fn with_sr(mut c: CourseFacts, grades: &[u8]) -> CourseFacts {
    for g in grades {
        c.sr.count += 1;
        c.sr.max_grade = c.sr.max_grade.max(Some(*g));
        c.sr.by_grade[usize::from(*g) - 1] += 1;
    }
    c
}

fn censored(mut c: CourseFacts) -> CourseFacts {
    c.status = Status::Censored;
    c.target.reached = false;
    c.target.days = None;
    c
}

fn run(rows: &[CourseFacts]) -> Report {
    let rules = AuditRules::bundled().expect("rules");
    report(&ReportIn {
        from: d("2026-01-01"),
        to: d("2026-12-31"),
        as_of: d("2027-06-01"),
        rows,
        excluded: &[],
        rules: &rules,
        medication_score: Some("example-asthma-step v1"),
    })
}

fn table<'a>(r: &'a Report, id: &str) -> &'a Table {
    r.tables.iter().find(|t| t.id == id).expect("table")
}

fn cells<'a>(b: &'a Block, label: &str) -> &'a [Cell] {
    &b.rows
        .iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("row {label:?} in {:?}", b.heading))
        .cells
}

fn block<'a>(t: &'a Table, heading: &str) -> &'a Block {
    t.blocks
        .iter()
        .find(|b| b.heading.as_deref().is_some_and(|h| h.starts_with(heading)))
        .expect("block")
}

fn p_of(c: &Cell) -> (Test, Option<f64>) {
    match c {
        Cell::P { test, p } => (*test, p.ok().copied()),
        other => panic!("not a p: {other:?}"),
    }
}

fn count_of(c: &Cell) -> (u64, u64) {
    match c {
        Cell::Count { n, of, .. } => (*n, *of),
        other => panic!("not a count: {other:?}"),
    }
}

/// 10 RIT courses, 3 with an SR (one with two, grades 1 and 2); 10 pretreated, 1 with a
/// grade 1 SR; one more pretreated course censored.
fn clinic() -> Vec<CourseFacts> {
    let mut rows = Vec::new();
    for i in 0..10 {
        let c = course(i, Arm::Rit);
        rows.push(match i {
            0 => with_sr(c, &[1, 2]),
            1 | 2 => with_sr(c, &[1]),
            _ => c,
        });
    }
    for i in 10..20 {
        let c = course(i, Arm::RitOmbPre);
        rows.push(if i == 10 { with_sr(c, &[1]) } else { c });
    }
    rows.push(censored(with_sr(course(20, Arm::RitOmbPre), &[3])));
    rows
}

#[test]
fn t2_counts_events_per_injection_and_courses_with_the_stats_functions_p_values() {
    let r = run(&clinic());
    assert_eq!((r.courses, r.analysed, r.censored), (21, 20, 1));
    let t2 = table(&r, "T2");
    let events = block(t2, "Events");
    let sr = cells(events, "SR, any");
    // RIT: 4 SR events in 200 injections; 3 of 10 courses. Pretreated: 1 in 200; 1 of 10.
    assert!(
        matches!(&sr[0], Cell::Events { n: 4, injections: 200, percent: Val::Ok(p) } if (*p - 2.0).abs() < 1e-12)
    );
    assert_eq!(count_of(&sr[1]), (3, 10));
    assert!(matches!(
        &sr[2],
        Cell::Events {
            n: 1,
            injections: 200,
            ..
        }
    ));
    assert_eq!(count_of(&sr[3]), (1, 10));
    if let Cell::Count {
        wilson95: Val::Ok(ci),
        ..
    } = &sr[1]
    {
        let w = stats::wilson(3, 10).expect("wilson");
        assert_eq!((ci.low, ci.high), (w.low, w.high));
    } else {
        panic!("no interval");
    }
    let g2 = cells(events, "SR, WAO grade 2");
    assert_eq!(count_of(&g2[1]), (1, 10));
    assert!(matches!(&g2[0], Cell::Events { n: 1, .. }));
    // The censored course's grade 3 counts nowhere.
    let g3 = cells(events, "SR, WAO grade 3");
    assert_eq!(count_of(&g3[3]), (0, 10));

    let tested = cells(block(t2, "Courses with one or more"), "SR, any");
    let t = two_by_two(&Table2x2::from_groups(1, 10, 3, 10));
    let (test, p) = t.p_value(true);
    assert_eq!(test, Test2x2::Fisher, "expected counts of 2: small cells");
    assert_eq!(p_of(&tested[0]), (Test::Fisher, Some(p.expect("p"))));
    assert_eq!(p_of(&tested[1]).1, t.chi2_yates.ok().map(|c| c.p));
    assert_eq!(p_of(&tested[2]).1, t.chi2_uncorrected.ok().map(|c| c.p));
    assert_eq!(p_of(&tested[3]).1, t.fisher_p.ok());
    let or = t.odds_ratio.expect("or");
    assert!(
        matches!(&tested[5], Cell::OddsRatio { or: Val::Ok(e), haldane: false } if e.estimate == or.estimate && e.low == or.ci.low)
    );
    // OR by hand: (1·7)/(9·3).
    assert!((or.estimate - 7.0 / 27.0).abs() < 1e-12);
    assert!(
        matches!(&tested[4], Cell::RiskDifference { rd: Val::Ok(e) } if (e.estimate - (0.1 - 0.3)).abs() < 1e-12)
    );
    assert!(
        t2.footer
            .iter()
            .any(|f| f.contains("not independent") && f.contains("no test"))
    );
    assert!(
        t2.footer
            .iter()
            .any(|f| f.contains("SR × ") || f.contains("× SR"))
    );
}

#[test]
fn a_zero_cell_gives_haldane_s_odds_ratio_and_fisher_s_p() {
    // Pretreated: no SR in 10; RIT: 4 in 10.
    let mut rows: Vec<CourseFacts> = (0..10).map(|i| course(i, Arm::RitOmbPre)).collect();
    for i in 10..20 {
        let c = course(i, Arm::Rit);
        rows.push(if i < 14 { with_sr(c, &[1]) } else { c });
    }
    let r = run(&rows);
    let tested = cells(
        block(table(&r, "T2"), "Courses with one or more"),
        "SR, any",
    );
    match &tested[5] {
        Cell::OddsRatio {
            or: Val::Ok(e),
            haldane: true,
        } => assert!((e.estimate - (0.5 * 6.5) / (10.5 * 4.5)).abs() < 1e-12),
        other => panic!("{other:?}"),
    }
    let fisher = stats::fisher_exact(&Table2x2::new(0, 10, 4, 6)).expect("fisher");
    assert_eq!(p_of(&tested[0]), (Test::Fisher, Some(fisher)));
    assert!(
        table(&r, "T2")
            .footer
            .iter()
            .any(|f| f.contains("h: a zero cell"))
    );
}

#[test]
fn t4_levels_unknown_band_all_censored_stratum_and_a_stratum_of_one() {
    let mut rows = clinic();
    // A child's course, censored: the <18 level has no analysed course.
    let mut child = censored(course(30, Arm::Rit));
    child.age_years = 12;
    child.age_group = "<18".into();
    rows.push(child);
    // One course in the >=400 total-IgE band; one unknown (a censored value).
    rows[0].tige_band = ">=400".into();
    rows[1].tige_band = UNKNOWN.into();
    let r = run(&rows);
    let t4 = table(&r, "T4");
    let age = block(t4, "age_group");
    let child = cells(age, "<18");
    assert!(matches!(child[0], Cell::N { n: 0 }));
    assert!(matches!(child[2], Cell::N { n: 0 }));
    assert!(p_of(&child[4]).1.is_none());
    assert!(age.notes.iter().any(|n| n.contains("<18: 1 censored")));
    let adult = cells(age, ">=18");
    let t = two_by_two(&Table2x2::from_groups(1, 10, 3, 10));
    assert_eq!(p_of(&adult[4]).1, t.p_value(true).1.ok());

    let tige = block(t4, "tige_band");
    let unknown = cells(tige, UNKNOWN);
    assert!(matches!(unknown[0], Cell::N { n: 1 }));
    assert_eq!(
        unknown[4],
        Cell::Text {
            text: "not tested".into()
        }
    );
    let one = cells(tige, ">=400");
    assert!(matches!(one[0], Cell::N { n: 1 }));
    assert_eq!(count_of(&one[1]), (1, 1));
    // A level with courses in one arm only has no odds ratio and is no stratum.
    assert!(matches!(
        &one[5],
        Cell::OddsRatio {
            or: Val::NotComputable { .. },
            ..
        }
    ));
    assert!(
        tige.notes
            .iter()
            .any(|n| n.starts_with(">=400: courses in one arm only"))
    );
    // Mantel–Haenszel and Breslow–Day over the known levels with both arms: 100-<400 only.
    let strata = [Table2x2::from_groups(1, 10, 1, 8)];
    let mh = stats::mantel_haenszel(&strata).expect("mh");
    let pooled = cells(tige, "Mantel–Haenszel pooled OR");
    assert_eq!(
        p_of(&pooled[4]),
        (Test::MantelHaenszel, Some(mh.test_null.p))
    );
    assert!(
        matches!(&pooled[5], Cell::OddsRatio { or: Val::Ok(e), .. } if e.estimate == mh.pooled_or)
    );
    let bd = cells(tige, "Breslow–Day, equal ORs");
    assert_eq!(p_of(&bd[4]).1, mh.breslow_day.ok().map(|c| c.p));
    // SR vs level within RIT alone: 100-<400 (1 of 8) vs >=400 (1 of 1).
    let assoc = cells(tige, "SR vs level, RIT alone");
    let t = two_by_two(&Table2x2::new(1, 7, 1, 0));
    assert_eq!(p_of(&assoc[4]).1, t.p_value(true).1.ok());
    assert!(t4.footer.iter().any(|f| f.contains("tige_band 1")));

    let json = serde_json::to_string(&r).expect("json");
    assert!(!json.contains("null") && !json.contains("NaN") && !json.contains("inf"));
    assert!(json.contains("\"shown\":\"—\""));
}

#[test]
fn t3_t5_and_t1_numbers_equal_hand_counts() {
    let mut rows = clinic();
    // Two RIT courses stopped, one after its SR.
    rows[0].status = Status::Stopped;
    rows[0].stopped_after_sr = true;
    rows[0].target.reached = false;
    rows[0].target.days = None;
    rows[5].status = Status::Stopped;
    rows[5].target.reached = false;
    rows[5].target.days = None;
    // Classes: RIT courses 3..9 in classes 1..6 by id.
    for (i, r) in rows.iter_mut().enumerate().take(10) {
        let k = u8::try_from(i % 6).expect("class") + 1;
        r.sige_class = ClassRange { min: k, max: k };
        r.age_years = 20 + u32::try_from(i).expect("age");
    }
    let r = run(&rows);
    let t3 = &table(&r, "T3").blocks[0];
    let reached = cells(t3, "Reached the target dose");
    assert_eq!(count_of(&reached[0]), (8, 10));
    assert_eq!(count_of(&reached[1]), (10, 10));
    let t = two_by_two(&Table2x2::from_groups(10, 10, 8, 10));
    assert_eq!(p_of(&reached[2]).1, t.p_value(true).1.ok());
    assert_eq!(count_of(&cells(t3, "Stopped after an SR")[0]), (1, 10));

    let t5 = table(&r, "T5");
    // RIT by class: ids 0,6 class 1 (SR: 0); 1,7 class 2 (SR: 1); 2,8 class 3 (SR: 2); 3,9 class
    // 4; 4 class 5; 5 class 6. Pretreated all class 3 (1 SR of 10).
    let rit = [(1, 2), (1, 2), (1, 2), (0, 2), (0, 1), (0, 1)];
    let omb = [(0, 0), (0, 0), (1, 10), (0, 0), (0, 0), (0, 0)];
    let both: Vec<(u64, u64)> = rit
        .iter()
        .zip(&omb)
        .map(|(a, b)| (a.0 + b.0, a.1 + b.1))
        .collect();
    for (k, (sr, n)) in rit.iter().enumerate() {
        let c = cells(&t5.blocks[0], &format!("class {}", k + 1));
        assert_eq!(count_of(&c[1]), (*sr, *n), "class {}", k + 1);
        assert_eq!(count_of(&c[5]), both[k]);
    }
    let trend = &t5.blocks[1];
    assert_eq!(
        p_of(&cells(trend, "RIT")[1]).1,
        stats::cochran_armitage(&rit).ok().map(|z| z.p)
    );
    assert_eq!(
        p_of(&cells(trend, "Both arms")[1]).1,
        stats::cochran_armitage(&both).ok().map(|z| z.p)
    );
    // The pretreated arm is all in class 3: no trend, shown as — with its reason.
    assert!(matches!(
        &cells(trend, "RIT+Omb-pre")[1],
        Cell::P {
            p: Val::NotComputable { .. },
            ..
        }
    ));

    let t1 = &table(&r, "T1").blocks[0];
    let age = cells(t1, "Age, years, median (IQR)");
    // RIT ages 20..29: median 24.5, quartiles 22.25 and 26.75.
    assert_eq!(
        age[0],
        Cell::Summary {
            n: 10,
            median: Val::Ok(24.5),
            q1: Val::Ok(22.25),
            q3: Val::Ok(26.75)
        }
    );
    let ages: Vec<f64> = (20..30).map(f64::from).collect();
    let omb_ages = vec![30.0; 10];
    assert_eq!(
        p_of(&age[2]).1,
        stats::mann_whitney_u(&ages, &omb_ages).ok().map(|m| m.p)
    );
    // sIgE class: an r×c χ² over the classes with courses, flagged for small cells.
    let class = cells(t1, "Mite sIgE class");
    assert_eq!(p_of(&class[2]).0, Test::ChiSquareRxc);
    let table_rc = vec![
        vec![2, 0],
        vec![2, 0],
        vec![2, 10],
        vec![2, 0],
        vec![1, 0],
        vec![1, 0],
    ];
    assert_eq!(
        p_of(&class[2]).1,
        stats::chi_square_rxc(&table_rc).ok().map(|c| c.chi2.p)
    );
    assert!(
        table(&r, "T1")
            .footer
            .iter()
            .any(|f| f.contains("Mite sIgE class: expected count below 5"))
    );
}

#[test]
fn t6_says_no_follow_up_and_with_follow_ups_counts_the_mid_and_tests_the_change() {
    let r = run(&clinic());
    let t6 = table(&r, "T6");
    assert_eq!(
        t6.blocks[0].notes,
        vec!["no follow-up recorded".to_string()]
    );

    let mut rows = clinic();
    let dec = |x: i64| Decimal::new(x, 1);
    // <=16: deltas -1.0, -0.5 (MID), -0.2; >16: +0.3, -0.6 (MID); one >16 with a baseline only.
    let set = |r: &mut CourseFacts, band: &str, base: i64, later: Option<i64>| {
        r.ratio_band16 = band.into();
        r.follow_up.acq_0 = Some(dec(base));
        r.follow_up.acq_12m = later.map(dec);
        r.follow_up.acq_delta = later.map(|l| dec(l - base));
    };
    set(&mut rows[0], "<=16", 20, Some(10));
    set(&mut rows[1], "<=16", 20, Some(15));
    set(&mut rows[2], "<=16", 20, Some(18));
    set(&mut rows[3], ">16", 10, Some(13));
    set(&mut rows[4], ">16", 16, Some(10));
    set(&mut rows[5], ">16", 16, None);
    for r in rows.iter_mut().skip(6).take(4) {
        r.ratio_band16 = ">16".into();
    }
    let r = run(&rows);
    let acq = block(table(&r, "T6"), "ACQ");
    let low = cells(acq, "ratio <=16");
    assert!(matches!(low[0], Cell::N { n: 3 }));
    assert_eq!(count_of(&low[4]), (2, 3));
    let high = cells(acq, "ratio >16");
    assert!(matches!(high[0], Cell::N { n: 2 }));
    assert_eq!(count_of(&high[4]), (1, 2));
    // Rush day 1 2026-01-10: the 12-month window closed 2027-03-10, before the audit date, so
    // every >16 course without a 12-month score is missing (5 of them).
    assert!(matches!(high[5], Cell::N { n: 5 }));
    match &low[3] {
        Cell::Summary {
            n: 3,
            median: Val::Ok(m),
            q1: Val::Ok(q1),
            q3: Val::Ok(q3),
        } => assert!(
            (m + 0.5).abs() < 1e-12 && (q1 + 0.75).abs() < 1e-12 && (q3 + 0.35).abs() < 1e-12
        ),
        other => panic!("{other:?}"),
    }
    let p = cells(acq, "p, >16 vs <=16");
    assert_eq!(
        p_of(&p[3]).1,
        stats::mann_whitney_u(&[-1.0, -0.5, -0.2], &[0.3, -0.6])
            .ok()
            .map(|m| m.p)
    );
    let t = two_by_two(&Table2x2::from_groups(1, 2, 2, 3));
    assert_eq!(p_of(&p[4]).1, t.p_value(true).1.ok());
}

#[test]
fn t6_describes_each_arm_within_each_band_and_tests_only_the_bands() {
    let mut rows = clinic();
    let dec = |x: i64| Decimal::new(x, 1);
    let set = |r: &mut CourseFacts, band: &str, base: i64, later: i64| {
        r.ratio_band16 = band.into();
        r.follow_up.acq_0 = Some(dec(base));
        r.follow_up.acq_12m = Some(dec(later));
        r.follow_up.acq_delta = Some(dec(later - base));
    };
    // <=16: rush alone -1.0 (MID), -0.2; pretreated -0.5 (MID), -0.8 (MID); course 1 (rush
    // alone) and the other 8 pretreated without a 12-month score. >16: rush alone +0.3, and 6
    // more without; no pretreated course.
    set(&mut rows[0], "<=16", 20, 10);
    set(&mut rows[2], "<=16", 20, 18);
    set(&mut rows[10], "<=16", 20, 15);
    set(&mut rows[11], "<=16", 20, 12);
    set(&mut rows[3], ">16", 10, 13);
    for r in rows.iter_mut().skip(4).take(6) {
        r.ratio_band16 = ">16".into();
    }
    let r = run(&rows);
    let t6 = table(&r, "T6");
    let acq = block(t6, "ACQ");
    let labels: Vec<&str> = acq.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "ratio <=16",
            "  RIT",
            "  RIT+Omb-pre",
            "ratio >16",
            "  RIT",
            "  RIT+Omb-pre",
            "p, >16 vs <=16"
        ]
    );
    let n = |c: &Cell| match c {
        Cell::N { n } => *n,
        other => panic!("not n: {other:?}"),
    };
    let median = |c: &Cell| match c {
        Cell::Summary { median, .. } => median.ok().copied(),
        other => panic!("not a summary: {other:?}"),
    };
    // (n with both, MID reached, missing) of the band, then of each arm.
    let want: [(u64, (u64, u64), u64); 6] = [
        (4, (3, 4), 9),
        (2, (1, 2), 1),
        (2, (2, 2), 8),
        (1, (0, 1), 6),
        (1, (0, 1), 6),
        (0, (0, 0), 0),
    ];
    for (row, (nb, reached, missing)) in acq.rows.iter().zip(want) {
        let c = &row.cells;
        assert_eq!(n(&c[0]), nb, "{}", row.label);
        assert_eq!(count_of(&c[4]), reached, "{}", row.label);
        assert_eq!(n(&c[5]), missing, "{}", row.label);
        assert!(
            !c.iter().any(|c| matches!(c, Cell::P { .. })),
            "{}: described only",
            row.label
        );
    }
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
    assert!(close(median(&acq.rows[1].cells[3]), -0.6), "rush alone's Δ");
    assert!(
        close(median(&acq.rows[2].cells[3]), -0.65),
        "the pretreated's Δ"
    );
    assert!(median(&acq.rows[5].cells[3]).is_none(), "no course: —");
    // The test compares the bands over both arms, as before the split.
    let p = cells(acq, "p, >16 vs <=16");
    assert_eq!(
        p_of(&p[3]).1,
        stats::mann_whitney_u(&[-1.0, -0.2, -0.5, -0.8], &[0.3])
            .ok()
            .map(|m| m.p)
    );
    assert!(
        t6.footer
            .iter()
            .any(|f| f.starts_with("By arm:") && f.contains("described only")),
        "{:?}",
        t6.footer
    );
    let text = report_text(&r, WIDTH);
    assert!(
        text.lines().any(|l| l.starts_with("  RIT+Omb-pre  ")),
        "{text}"
    );
    // The JSON holds the same rows: an arm's n and its MID count with the Wilson interval.
    let json = serde_json::to_value(t6).expect("json");
    let omb = &json["blocks"][0]["rows"][2];
    assert_eq!(omb["label"], "  RIT+Omb-pre");
    assert_eq!(omb["cells"][0]["n"], 2);
    assert_eq!(omb["cells"][4]["kind"], "count");
    assert_eq!(omb["cells"][4]["of"], 2);
    assert!(omb["cells"][4]["wilson95"]["low"].is_number(), "{omb}");
    let t6_text = crate::audit::report_text::table_text(t6, WIDTH);
    eprintln!("{t6_text}");
    assert!(t6_text.lines().all(|l| l.chars().count() <= WIDTH));
}

#[test]
fn every_table_has_its_footer_and_the_text_fits_100_columns() {
    let r = run(&clinic());
    for t in &r.tables {
        let f = t.footer.join("\n");
        for needle in [
            "Window: rush day 1",
            "Arm: RIT+Omb-pre",
            "Age group: <18 / >=18",
            "Ratio sIgE/total IgE",
            "Total IgE",
            "WAO grading",
            "p-values not adjusted for multiplicity",
            "Small cells",
            "1 censored",
            "Observational data, not randomised",
        ] {
            assert!(f.contains(needle), "{} lacks {needle:?}:\n{f}", t.id);
        }
    }
    let text = report_text(&r, WIDTH);
    eprintln!("{text}");
    for id in ["T1  ", "T2  ", "T3  ", "T4  ", "T5  ", "T6  "] {
        assert!(text.lines().any(|l| l.starts_with(id)), "{id}");
    }
    for l in text.lines() {
        assert!(
            l.chars().count() <= WIDTH,
            "{} chars: {l}",
            l.chars().count()
        );
    }
}
