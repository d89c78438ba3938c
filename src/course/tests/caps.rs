use super::*;

// ---------------------------------------------------------------------------------------------
// Caps: the plan's per-visit limits, whatever reactions add.

#[test]
fn the_intermediate_strata_cap_holds_when_a_rule_allows_a_same_visit_repeat() {
    // Intermediate stratum (class 3, ratio < 10 %): at most 3 injections a day (risk.toml).
    let fx = Fixture::with("example-hdm-rush-3d", 34, "5");
    assert_eq!(fx.plan.limits.max_injections, 3);
    // A clinic's rules that repeat the dose at the same visit after a 25-50 mm reaction.
    let mut rules =
        fx.w.policy
            .rule_set("norwegian-guide")
            .expect("rs")
            .rules
            .clone();
    rules.local_reaction[1].close_visit = false;
    let mut c = fx.course_with(&rules);
    c.give_obs("2026-12-07 08:00", 30); // repeat at the same visit
    let d2 = c.give_visit("2026-12-07 09:00", 30);
    assert_eq!(d2.len(), 2, "3 in all: {:?}", steps(&d2));
    assert_eq!(steps(&d2), [1, 1]);
    let d = c.next("2026-12-07 12:00");
    assert_eq!(d.visit_closed, Some(VisitClosed::InjectionCap { max: 3 }));
}
