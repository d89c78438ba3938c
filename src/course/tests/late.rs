use super::*;

// ---------------------------------------------------------------------------------------------
// Late doses, counted as the source counts them (docs/sources.md: aaaai-acaai-pp-2011, norwegian-guide).

fn weekly_gap(rule_set: &str, gap_days: i64) -> Decision {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course(rule_set);
    let mut day = date("2026-12-07");
    for _ in 0..6 {
        c.give_visit(&format!("{day} 08:00"), 0);
        day += Duration::days(7);
    }
    let last = day - Duration::days(7);
    c.next(&format!("{} 08:00", last + Duration::days(gap_days)))
}

#[test]
fn a_missed_week_in_each_norwegian_band() {
    let step = |gap| weekly_gap("norwegian-guide", gap).dosing.map(|d| d.step);
    assert_eq!(step(7), Some(7));
    assert_eq!(step(14), Some(7)); // <= 2 weeks
    assert_eq!(step(21), Some(6)); // 2-4 weeks: repeat
    assert_eq!(step(28), Some(5)); // 4 weeks: the cautious row
    assert_eq!(step(43), Some(4)); // 6-8 weeks: back 2
    assert_eq!(step(70), Some(3)); // 8-12 weeks: back 3
    assert_eq!(step(85), Some(1)); // > 12 weeks: restart
}

#[test]
fn us_bands_count_from_the_missed_date() {
    // Weekly: the missed date is a week after the last dose.
    let d = weekly_gap("us-practice-parameter", 7 + 14)
        .dosing
        .expect("dosing");
    // 14 days after the missed date: 25 % off step 6 (800 SQ-U) = 600 SQ-U, 0.6 mL.
    assert_eq!(
        (d.step, d.dose.amount(), d.volume_ml.ml()),
        (6, Decimal::from(600), ml("0.6"))
    );
    assert_eq!(
        weekly_gap("us-practice-parameter", 7 + 13)
            .dosing
            .map(|d| d.step),
        Some(6)
    );
    assert_eq!(
        weekly_gap("us-practice-parameter", 7 + 29).action,
        ActionKind::PhysicianReview
    );
    // On a rush the missed date is the next day: 9 days after day 1 is 8 days late -> repeat.
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("us-practice-parameter");
    c.give_visit("2026-12-07 08:00", 0);
    let d = c.next("2026-12-16 08:00");
    assert_eq!(d.dosing.map(|x| x.step), Some(4), "repeat 2 000");
    assert!(
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::Late { days: 8, .. })),
        "{:?}",
        d.reasons
    );
    // A reduced dose is the visit's only injection, and the schedule climbs back from it.
    let mut c = fx.course("us-practice-parameter");
    c.give_visit("2026-12-07 08:00", 0);
    let got = c.give_visit("2026-12-22 08:00", 0);
    assert_eq!(
        got.iter().map(|d| d.dose.amount()).collect::<Vec<_>>(),
        [Decimal::from(1500)]
    );
    assert_eq!(c.next("2026-12-23 08:00").dosing.map(|x| x.step), Some(4));
}
