//! Hand-built courses whose counts are known.

use super::*;
use crate::course::{PremedicationRecord, Review};
use crate::testkit::{Bundled, at, bundled, date, make_plan, patient};

struct Built {
    w: Bundled,
    plan: Plan,
    events: Vec<Event>,
}

const TEMPLATE: &str = "example-hdm-rscit-modified";

impl Built {
    fn new(age: u32, sige: &str) -> Built {
        let w = bundled();
        let plan = make_plan(&w, TEMPLATE, age, sige);
        Built {
            w,
            plan,
            events: Vec::new(),
        }
    }

    fn push(&mut self, when: &str, kind: EventKind) -> u64 {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            seq,
            at: at(when),
            by: "RN Li".into(),
            kind,
        });
        seq
    }

    /// Plan step `step` given at `when`.
    fn give(&mut self, step: usize, when: &str, premed: Option<PremedicationRecord>) -> u64 {
        let s = &self.plan.steps[step - 1];
        let kind = EventKind::DoseGiven {
            step,
            vial: s.vial.clone(),
            volume_ml: s.volume_ml,
            dose: s.dose,
            lot: None,
            site: None,
            pef_percent: None,
            screen_ok: true,
            override_reason: None,
            checked_by: None,
            vial_code: None,
            phase: None,
            premedication: premed,
        };
        self.push(when, kind)
    }

    fn maintenance(&mut self, when: &str) -> u64 {
        let m = &self.plan.maintenance;
        let kind = EventKind::DoseGiven {
            step: self.plan.steps.len() + 1,
            vial: m.vial.clone(),
            volume_ml: m.volume_ml,
            dose: m.dose,
            lot: None,
            site: None,
            pef_percent: None,
            screen_ok: true,
            override_reason: None,
            checked_by: None,
            vial_code: None,
            phase: Some(Phase::Maintenance),
            premedication: None,
        };
        self.push(when, kind)
    }

    fn sr(&mut self, when: &str, grade: &str, onset_min: u32) -> u64 {
        self.push(
            when,
            EventKind::SystemicReaction {
                grade: grade.parse().expect("grade"),
                onset_min,
                symptom: "urticaria".into(),
                treatment: None,
            },
        )
    }

    fn observed(&mut self, when: &str, mm: u32) -> u64 {
        self.push(
            when,
            EventKind::ObservationEnded {
                local_mm: Some(mm),
                not_assessable: false,
                early_reason: None,
            },
        )
    }

    fn void(&mut self, when: &str, seq: u64) {
        self.push(
            when,
            EventKind::Correction {
                corrects: seq,
                reason: "wrong course".into(),
            },
        );
    }

    fn facts(
        &self,
        p: &Patient,
        omalizumab: &[NaiveDateTime],
        weeks: Option<u32>,
        stopped: Option<&str>,
        as_of: &str,
    ) -> Result<CourseFacts, Excluded> {
        let rules = AuditRules::bundled().expect("audit rules");
        course_facts(
            &CourseIn {
                course_id: 7,
                patient_id: "P7",
                plan: &self.plan,
                template: self.w.catalog.get(TEMPLATE).expect("template"),
                patient: p,
                omalizumab_weeks: weeks,
                events: &self.events,
                omalizumab_given: omalizumab,
                stopped: stopped.map(str::to_string),
                max_class: 6,
            },
            &rules,
            date(as_of),
        )
    }
}

/// The plan's steps by phase: (rush, up-dosing, consolidation).
fn planned_by_phase(plan: &Plan) -> ByPhase {
    let mut b = ByPhase::default();
    for s in &plan.steps {
        b.add(s.phase.unwrap_or(Phase::UpDosing));
    }
    b
}

#[test]
fn a_completed_course_counts_its_injections_by_phase_and_its_reactions() {
    let mut c = Built::new(34, "2");
    let n = c.plan.steps.len();
    let planned = planned_by_phase(&c.plan);
    assert!(
        planned.rush > 0 && planned.total() as usize == n,
        "{planned:?}"
    );
    let steps = c.plan.steps.clone();
    let target = c.plan.maintenance.dose.amount();
    let day = |i: usize| steps[i - 1].date;
    let mut first_target = None;
    for i in 1..=n {
        let when = format!("{} {}", day(i), steps[i - 1].time.format("%H:%M"));
        c.give(i, &when, None);
        if first_target.is_none() && steps[i - 1].dose.amount() >= target {
            first_target = Some(day(i));
        }
        if i == 2 {
            // Immediate local reactions: 120 mm (large), 0 mm (none).
            c.observed(&format!("{} 11:00", day(i)), 120);
        }
        if i == 3 {
            c.observed(&format!("{} 11:00", day(i)), 0);
            // A grade 2 SR with epinephrine 45 min after (late), then a grade 1 at 10 min.
            c.sr(&format!("{} 11:30", day(i)), "2a", 45);
            c.sr(&format!("{} 11:40", day(i)), "1z", 10);
            // A grade 4 entered on the wrong course, voided: it never counts.
            let wrong = c.sr(&format!("{} 11:50", day(i)), "4a", 5);
            c.void(&format!("{} 11:55", day(i)), wrong);
        }
    }
    let last = day(n);
    c.push(
        &format!("{} 10:00", last + chrono::Days::new(1)),
        EventKind::LateLocalReaction { mm: 30 },
    );
    let maintenance = last + chrono::Days::new(21);
    c.maintenance(&format!("{maintenance} 09:00"));
    let f = c
        .facts(
            &patient(34, "2", "410", None),
            &[],
            None,
            None,
            "2028-01-01",
        )
        .expect("row");
    let mut expected = planned;
    expected.maintenance = 1;
    assert_eq!(f.injections, expected);
    assert_eq!(f.rush_day1, day(1));
    assert_eq!(f.arm, Arm::Rit);
    assert_eq!(f.omb_doses_before, 0);
    assert_eq!(
        f.sr,
        Systemic {
            count: 2,
            max_grade: Some(2),
            epinephrine: true,
            first_onset_min: Some(45),
            first_phase: steps[2].phase.or(Some(Phase::UpDosing)),
            late_any: true,
            late_count: 1,
            by_grade: [1, 1, 0, 0, 0],
            epinephrine_count: 1,
        }
    );
    assert_eq!(
        f.lr,
        Local {
            count: 2,
            large_count: 1,
            max_mm: Some(120)
        }
    );
    assert_eq!(f.status, Status::Completed);
    assert!(f.target.reached);
    let reached = first_target.unwrap_or(maintenance);
    assert_eq!(f.target.date, Some(reached));
    assert_eq!(f.target.days, Some((reached - day(1)).num_days()));
    assert_eq!(f.stop_cause, None);
    assert_eq!(f.template_id, TEMPLATE);
    assert_eq!((f.age_years, f.age_group.as_str()), (34, ">=18"));
    // sIgE 2 kUA/L: class 2; 2/410 = 0.49 %.
    assert_eq!(
        (f.sige_band.as_str(), f.tige_band.as_str()),
        ("1-2", ">=400")
    );
    assert_eq!(
        (f.ratio_band10.as_str(), f.ratio_band16.as_str()),
        ("<10", "<=16")
    );
    // The audit date before the maintenance dose: that dose and the late reaction not counted.
    let earlier = c
        .facts(
            &patient(34, "2", "410", None),
            &[],
            None,
            None,
            &last.to_string(),
        )
        .expect("row");
    assert_eq!(earlier.injections.maintenance, 0);
    assert_eq!(earlier.lr.count, 1);
}

#[test]
fn a_stopped_course_and_a_course_still_in_up_dosing() {
    let mut c = Built::new(12, "20");
    let d1 = c.plan.steps[0].date;
    c.give(1, &format!("{d1} 08:00"), None);
    c.sr(&format!("{d1} 08:20"), "3a", 20);
    let p = patient(12, "20", "410", None);
    let ongoing = c.facts(&p, &[], None, None, "2027-01-01").expect("row");
    assert_eq!(ongoing.status, Status::Censored);
    assert!(!ongoing.target.reached);
    assert_eq!(
        (ongoing.age_group.as_str(), ongoing.sige_band.as_str()),
        ("<18", "3-6")
    );
    c.push(
        &format!("{d1} 09:00"),
        EventKind::PhysicianReview {
            decision: Review::Stop,
            reason: Some("grade 3".into()),
            about: None,
        },
    );
    let stopped = c
        .facts(&p, &[], None, Some("physician"), "2027-01-01")
        .expect("row");
    assert_eq!(stopped.status, Status::Stopped);
    assert_eq!(stopped.stop_cause.as_deref(), Some("physician"));
    assert!(stopped.stopped_after_sr);
    assert_eq!(
        stopped.sr.first_phase,
        c.plan.steps[0].phase.or(Some(Phase::UpDosing))
    );
    assert_eq!(stopped.injections.total(), 1);
}

#[test]
fn the_arm_counts_omalizumab_injections_before_rush_day_1() {
    let mut c = Built::new(34, "2");
    let d1 = c.plan.steps[0].date;
    c.give(1, &format!("{d1} 08:00"), None);
    let p = patient(34, "2", "410", None);
    let before = [at("2026-11-09 09:00"), at("2026-11-23 09:00")];
    let f = c.facts(&p, &before, None, None, "2027-01-01").expect("row");
    assert_eq!(f.arm, Arm::RitOmbPre);
    assert_eq!(f.omb_doses_before, 2);
    assert_eq!(
        f.omb_days_first_dose_to_rush,
        Some((d1 - date("2026-11-09")).num_days())
    );
    // An injection on or after rush day 1 does not pretreat.
    let after = [at(&format!("{d1} 07:00")), at("2027-01-01 09:00")];
    let f = c.facts(&p, &after, None, None, "2027-01-01").expect("row");
    assert_eq!((f.arm, f.omb_doses_before), (Arm::Rit, 0));
    // Weeks recorded outside the record, and no injection in it: not placed in an arm.
    let e = c
        .facts(&p, &[], Some(8), None, "2027-01-01")
        .expect_err("excluded");
    assert_eq!(e.course_id, 7);
    assert!(e.reason.contains("8 weeks"), "{}", e.reason);
}

#[test]
fn premedication_given_and_accepted_are_counted_per_injection() {
    let mut c = Built::new(34, "2");
    let d1 = c.plan.steps[0].date;
    let taken = PremedicationRecord {
        taken_at: Some(at(&format!("{d1} 06:00"))),
        accepted: None,
    };
    let accepted = PremedicationRecord {
        taken_at: None,
        accepted: Some("forgot; physician present".into()),
    };
    c.give(1, &format!("{d1} 08:00"), Some(taken));
    c.give(2, &format!("{d1} 09:00"), Some(accepted));
    let f = c
        .facts(
            &patient(34, "2", "410", None),
            &[],
            None,
            None,
            "2027-01-01",
        )
        .expect("row");
    assert_eq!((f.premedication.taken, f.premedication.accepted), (1, 1));
}

#[test]
fn censored_laboratory_values_go_to_the_band_their_bound_settles_or_unknown() {
    let rules = AuditRules::bundled().expect("rules");
    let edges = &rules.total_ige_edges.value;
    let lab = |s: &str| LabValue::parse(s).expect("lab");
    // Total IgE bands <100, 100-<400, >=400.
    for (v, band) in [
        ("99.9", Some(0)),
        ("100", Some(1)),
        ("400", Some(2)),
        (">1000", Some(2)),
        (">400", Some(2)),
        (">399", None),
        ("<50", Some(0)),
        ("<100", Some(0)),
        ("<200", None),
    ] {
        assert_eq!(band_index(lab(v), edges), band, "{v}");
    }
    // sIgE >100 kUA/L: class 6, band 3-6; ratio > 24 %: >=10 and >16.
    let w = bundled();
    let p = patient(34, ">100", "410", None);
    let a = crate::risk::assess(&p, &w.policy.risk);
    assert_eq!(sige_band(a.sige_class, &rules, 6), "3-6");
    assert_eq!(ratio_band(a.ratio_percent, &rules.ratio_band10), ">=10");
    assert_eq!(ratio_band(a.ratio_percent, &rules.ratio_band16), ">16");
    // sIgE >20 over total IgE 410: ratio above 4.9 %, either side of 10 %: unknown.
    let p = patient(34, ">20", "410", None);
    let a = crate::risk::assess(&p, &w.policy.risk);
    assert_eq!(ratio_band(a.ratio_percent, &rules.ratio_band10), UNKNOWN);
    // sIgE <0.35: class 0, in neither grade band.
    let p = patient(34, "<0.35", "410", None);
    let a = crate::risk::assess(&p, &w.policy.risk);
    assert_eq!(sige_band(a.sige_class, &rules, 6), "0");
    // A class range across the bands (2-3): unknown.
    assert_eq!(sige_band(ClassRange { min: 2, max: 3 }, &rules, 6), UNKNOWN);
    // The edge itself: 10 % is >=10, 16 % is <=16.
    assert_eq!(
        ratio_band(Ratio::Exact(Decimal::from(10)), &rules.ratio_band10),
        ">=10"
    );
    assert_eq!(
        ratio_band(Ratio::Exact(Decimal::from(16)), &rules.ratio_band16),
        "<=16"
    );
    // The footer counts the unknown bands.
    let mut c = Built::new(34, "2");
    let d1 = c.plan.steps[0].date;
    c.give(1, &format!("{d1} 08:00"), None);
    let f = c
        .facts(
            &patient(34, "2", "<200", None),
            &[],
            None,
            None,
            "2027-01-01",
        )
        .expect("row");
    let unknown = unknown_bands(&[f]);
    assert_eq!(unknown.get("tige_band"), Some(&1));
    assert_eq!(unknown.get("sige_band"), None, "{unknown:?}");
}

#[test]
fn follow_up_scores_are_taken_from_their_windows() {
    let rules = AuditRules::bundled().expect("rules");
    let d1 = date("2027-01-04");
    let s = |d: &str, v: i64| Score {
        date: date(d),
        value: Decimal::new(v, 1),
    };
    let acq = [
        s("2026-09-01", 40), // more than 90 days before: not the baseline
        s("2026-12-20", 25),
        s("2027-01-04", 24), // rush day 1: the latest, the baseline
        s("2027-11-20", 15), // 45 days before 12 months
        s("2028-01-14", 12), // 10 days after 12 months: the nearest
        s("2028-03-10", 5),  // outside ±2 months
    ];
    let f = follow_up(d1, &acq, &[s("2027-01-01", 30)], &rules.follow_up);
    assert_eq!(f.acq_0, Some(Decimal::new(24, 1)));
    assert_eq!(f.acq_12m, Some(Decimal::new(12, 1)));
    assert_eq!(f.acq_delta, Some(Decimal::new(-12, 1)));
    assert_eq!(f.med_score_0, Some(Decimal::new(30, 1)));
    assert_eq!((f.med_score_12m, f.med_score_delta), (None, None));
    assert_eq!(
        follow_up(d1, &[], &[], &rules.follow_up),
        FollowUp::default()
    );
}
