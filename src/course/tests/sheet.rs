use super::*;

// ---------------------------------------------------------------------------------------------
// The sheet (docs/sources.md: aaaai-acaai-pp-2011, ritplan-default).

#[test]
fn the_sheet_shows_a_running_observation_an_unclosed_one_and_do_not_give() {
    let fx = Fixture::new("example-hdm-rush-3d");
    let mut c = fx.course("norwegian-guide");
    let rows = sheet_rows(
        c.ctx,
        &c.state(),
        &c.patient,
        date("2026-12-07"),
        at("2026-12-01 09:00"),
    );
    let times: Vec<String> = rows
        .iter()
        .filter_map(|r| r.time.map(|t| t.format("%H:%M").to_string()))
        .collect();
    assert_eq!(times, ["08:00", "08:30", "09:00", "09:30"]);
    c.give("2026-12-07 08:00");
    let rows = sheet_rows(
        c.ctx,
        &c.state(),
        &c.patient,
        date("2026-12-07"),
        at("2026-12-07 08:10"),
    );
    assert_eq!(rows[0].action, ActionKind::Observe);
    assert_eq!(
        rows[0]
            .time
            .map(|t| t.format("%H:%M").to_string())
            .as_deref(),
        Some("08:30")
    );
    assert_eq!(rows.len(), 4, "in observation, then steps 2-4");
    let rows = sheet_rows(
        c.ctx,
        &c.state(),
        &c.patient,
        date("2026-12-07"),
        at("2026-12-07 09:10"),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, ActionKind::ObservationNotClosed);
    c.push("2026-12-07 08:20", sr("2a"));
    let rows = sheet_rows(
        c.ctx,
        &c.state(),
        &c.patient,
        date("2026-12-08"),
        at("2026-12-07 17:00"),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, ActionKind::PhysicianReview);
    // Nothing on a closed day.
    let fresh = fx.course("norwegian-guide");
    assert!(
        sheet_rows(
            fresh.ctx,
            &fresh.state(),
            &fresh.patient,
            date("2026-12-12"),
            at("2026-12-01 09:00")
        )
        .is_empty()
    );
}

#[test]
fn course_show_projects_the_rest_after_a_delay() {
    let fx = Fixture::new("alutard-hdm-conventional-15w");
    let mut c = fx.course("norwegian-guide");
    c.give_visit("2026-12-07 08:00", 0);
    // Three weeks later than planned: every later date moves.
    let p = project(
        c.ctx,
        &c.state(),
        &c.patient,
        at("2027-01-04 08:00"),
        None,
        3,
    );
    let dates: Vec<String> = p.doses.iter().map(|d| d.at.date().to_string()).collect();
    assert_eq!(dates, ["2027-01-04", "2027-01-11", "2027-01-18"]);
    assert_eq!(
        p.doses[0].dosing.step, 1,
        "repeat after 2-4 weeks... 28 days is 4-6: back 1 from step 1 is step 1"
    );
}
