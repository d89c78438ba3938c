use super::*;

// ---------------------------------------------------------------------------------------------
// Overrides choose a lower dose; they never lift a gate.

#[test]
fn an_override_never_lifts_a_gate() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let step1 = Dosing {
        step: 1,
        maintenance: None,
        vial: "1".into(),
        volume_ml: fx.plan.steps[0].volume_ml,
        dose: fx.plan.steps[0].dose,
    };
    let ovr = proposed(&step1, Some("physician's decision"));
    // A running observation.
    let mut c = fx.course("norwegian-guide");
    c.give("2026-12-07 08:00");
    assert!(matches!(
        c.try_give("2026-12-07 08:10", &ovr),
        Err(Refusal::Observing { .. })
    ));
    // A closed visit.
    c.record("2026-12-07 08:10", sr("1z")).expect("sr");
    c.record("2026-12-07 10:00", obs(0)).expect("obs");
    assert!(matches!(
        c.try_give("2026-12-07 10:30", &ovr),
        Err(Refusal::VisitClosed { .. })
    ));
    // A stopped course.
    c.record("2026-12-07 10:40", review(Review::Stop, "moved away"))
        .expect("stop");
    assert!(matches!(
        c.try_give("2026-12-08 08:00", &ovr),
        Err(Refusal::Stopped { .. })
    ));
    // PEF and screen: missing or failed, whatever the override.
    let c = fx.course("norwegian-guide");
    let mut p = ovr.clone();
    p.pef_percent = None;
    assert_eq!(c.try_give("2026-12-07 08:00", &p), Err(Refusal::NoPef));
    p.pef_percent = Some(Decimal::from(70));
    assert!(matches!(
        c.try_give("2026-12-07 08:00", &p),
        Err(Refusal::PefBelow { .. })
    ));
    let mut p = ovr.clone();
    p.screen_ok = false;
    assert_eq!(
        c.try_give("2026-12-07 08:00", &p),
        Err(Refusal::ScreenNotOk)
    );
    // Too early.
    assert!(matches!(
        c.try_give("2026-12-04 08:00", &ovr),
        Err(Refusal::TooEarly { .. })
    ));
}

#[test]
fn an_override_chooses_only_a_lower_dose() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    c.give_obs("2026-12-07 08:00", 0);
    c.give_obs("2026-12-07 08:30", 0);
    let big = Proposed {
        step: 10,
        volume_ml: Volume::from_ml(ml("1.0")),
        pef_percent: Some(Decimal::from(PEF)),
        screen_ok: true,
        override_reason: Some("jump".into()),
        premedication: None,
        premedication_accepted: None,
    };
    assert!(matches!(
        c.try_give("2026-12-07 09:00", &big),
        Err(Refusal::OverrideAboveAllowed { .. })
    ));
    let above = Proposed {
        step: 99,
        volume_ml: Volume::from_ml(ml("1.0")),
        ..big.clone()
    };
    assert!(c.try_give("2026-12-07 09:00", &above).is_err());
    let lower = Proposed {
        step: 2,
        volume_ml: fx.plan.steps[1].volume_ml,
        ..big.clone()
    };
    assert_eq!(
        c.try_give("2026-12-07 09:00", &lower).map(|d| d.step),
        Ok(2)
    );
    let unmeasurable = Proposed {
        step: 3,
        volume_ml: Volume::from_ml(ml("0.055")),
        ..big
    };
    assert!(matches!(
        c.try_give("2026-12-07 09:00", &unmeasurable),
        Err(Refusal::BadVolume { .. })
    ));
    // Without an override, only the allowed dose.
    let mut plain = lower.clone();
    plain.override_reason = None;
    assert!(matches!(
        c.try_give("2026-12-07 09:00", &plain),
        Err(Refusal::WrongDose { .. })
    ));
}
