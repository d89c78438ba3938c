use super::*;

// ---------------------------------------------------------------------------------------------
// Maintenance (docs/sources.md: norwegian-guide).

/// A rush course in maintenance: up-dosing done, and the first maintenance dose on 12-23.
fn in_maintenance(fx: &Fixture) -> Course<'_> {
    let mut c = fx.course("norwegian-guide");
    for day in ["2026-12-07", "2026-12-08", "2026-12-09"] {
        c.give_visit(&format!("{day} 08:00"), 0);
    }
    c.give_obs("2026-12-23 08:00", 0);
    c
}

#[test]
fn a_systemic_reaction_in_maintenance_reduces_the_next_visit_only_and_climbs_back() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = in_maintenance(&fx);
    c.give("2027-01-20 08:00");
    c.record("2027-01-20 08:10", sr("1z")).expect("sr");
    c.record("2027-01-20 08:40", obs(0)).expect("obs");
    let d = c.next("2027-01-20 09:00");
    assert_eq!(d.action, ActionKind::VisitClosed);
    // One rung down the maintenance ladder: 0.6 mL, at the next visit (8 ± 2 weeks), alone.
    let d = c.next("2027-03-03 08:00");
    assert_eq!(
        (d.action, d.dosing.as_ref().map(|x| x.volume_ml.ml())),
        (ActionKind::MaintenanceDue, Some(ml("0.6")))
    );
    assert_eq!(c.give_visit("2027-03-03 08:00", 0).len(), 1);
    // Then full dose 4 weeks later, then after 8 weeks (re-escalation from 0.6).
    let d = c.next("2027-03-04 08:00");
    assert_eq!(
        (d.not_before, d.dosing.as_ref().map(|x| x.volume_ml.ml())),
        (Some(at("2027-03-31 08:00")), Some(ml("1.0")))
    );
    c.give_visit("2027-03-31 08:00", 0);
    assert_eq!(
        c.next("2027-04-01 08:00").not_before,
        Some(at("2027-05-26 08:00"))
    );
}

#[test]
fn a_long_gap_in_maintenance_reduces_then_reescalates_as_the_guide_says() {
    let fx = Fixture::new("example-hdm-rush-3d");
    // 10-12 weeks -> 0.6 mL, then full after 4 weeks, then 8 weeks, then 8 ± 2.
    let mut c = in_maintenance(&fx);
    let d = c.next("2027-03-10 08:00"); // 11 weeks after 12-23
    assert_eq!(
        d.dosing.as_ref().map(|x| x.volume_ml.ml()),
        Some(ml("0.6")),
        "{d:?}"
    );
    c.give_visit("2027-03-10 08:00", 0);
    let d = c.next("2027-03-11 08:00");
    assert_eq!(
        (d.not_before, d.dosing.map(|x| x.volume_ml.ml())),
        (Some(at("2027-04-07 08:00")), Some(ml("1.0")))
    );

    // 16-26 weeks -> 0.2 mL, then 0.4, 0.6, 1.0 at 1-2-week intervals, then full after 2, 4, 8.
    let mut c = in_maintenance(&fx);
    c.give_visit("2027-05-05 08:00", 0); // 19 weeks
    let mut got = vec![c.state().given.last().map(|g| g.volume_ml.ml())];
    let mut day = date("2027-05-05");
    for _ in 0..6 {
        let d = c.next(&format!("{} 08:00", day + Duration::days(1)));
        let nb = d.not_before.expect("not before");
        got.push(d.dosing.map(|x| x.volume_ml.ml()));
        c.give_visit(&fmt(nb), 0);
        day = nb.date();
    }
    let want: Vec<Option<Decimal>> = ["0.2", "0.4", "0.6", "1.0", "1.0", "1.0", "1.0"]
        .iter()
        .map(|v| Some(ml(v)))
        .collect();
    assert_eq!(got, want);
    let gaps: Vec<i64> = c
        .state()
        .given
        .windows(2)
        .skip(11)
        .map(|w| (w[1].at.date() - w[0].at.date()).num_days())
        .collect();
    assert_eq!(gaps, [7, 7, 7, 14, 28, 56]);

    // Stepping up later than 2 weeks: the guide gives no rule -> the physician.
    let mut c = in_maintenance(&fx);
    c.give_visit("2027-05-05 08:00", 0);
    assert_eq!(
        c.next("2027-05-24 08:00").action,
        ActionKind::PhysicianReview
    );
}

#[test]
fn the_us_rule_set_has_no_maintenance_ladder_and_asks_the_physician() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("us-practice-parameter");
    for day in ["2026-12-07", "2026-12-08", "2026-12-09"] {
        c.give_visit(&format!("{day} 08:00"), 0);
    }
    c.give("2026-12-23 08:00");
    c.record("2026-12-23 08:10", sr("1z")).expect("sr");
    assert_eq!(
        c.next("2027-02-03 08:00").action,
        ActionKind::PhysicianReview
    );
}
