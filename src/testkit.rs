//! Shared test scaffolding: the bundled rules and templates, a weekday clinic, a patient.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};

use crate::patient::{Patient, PatientInput};
use crate::planner::{ClinicCalendar, Plan, Request, plan};
use crate::policy::Policy;
use crate::policy::risk::AsthmaControl;
use crate::template::{Catalog, bundled_sources};

// What a test needs beyond Rust and a C compiler: skipped without it, failed under
// RITPLAN_TEST_STRICT (shared with the command-line suite, which uses the rest of it).
#[allow(dead_code)]
pub mod needs;

/// The bundled rules and templates.
pub struct Bundled {
    pub policy: Policy,
    pub catalog: Catalog,
}

pub fn bundled() -> Bundled {
    let policy = Policy::bundled().expect("bundled rules");
    let (catalog, _) = Catalog::build(bundled_sources(), &policy);
    Bundled { policy, catalog }
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("datetime")
}

/// 08:00-17:00, Monday to Friday.
pub fn weekdays() -> ClinicCalendar {
    ClinicCalendar {
        opens: NaiveTime::from_hms_opt(8, 0, 0).expect("time"),
        closes: NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        closed: Vec::new(),
    }
}

/// A patient of 60 kg with FEV1 95 % and controlled asthma, as of 2026-12-07.
pub fn patient(age: u32, sige: &str, total: &str, omalizumab_weeks: Option<u32>) -> Patient {
    let input = PatientInput {
        age: Some(age),
        weight_kg: Some("60".into()),
        sige: Some(sige.into()),
        total_ige: Some(total.into()),
        fev1_percent: Some("95".into()),
        asthma: Some(AsthmaControl::Controlled),
        omalizumab_weeks,
        ..PatientInput::default()
    };
    Patient::from_input(&input, date("2026-12-07")).expect("valid patient")
}

/// A plan of `template` for a patient of `age` with `sige` / total IgE 410, from Monday
/// 2026-12-07 08:00 on a weekday clinic.
pub fn make_plan(w: &Bundled, template: &str, age: u32, sige: &str) -> Plan {
    let a = crate::risk::assess(&patient(age, sige, "410", None), &w.policy.risk);
    plan(&Request {
        template: w.catalog.get(template).expect("template"),
        catalog: &w.catalog,
        assessment: &a,
        rules: &w.policy.risk,
        start: at("2026-12-07 08:00"),
        calendar: &weekdays(),
        accept_risk: None,
        eligibility: &w.policy.eligibility,
        accept_age: None,
        accept_missing: None,
    })
    .expect("no error")
    .expect("a plan")
}

/// Runs `sql` on the `postgres` database of the test server at `base` (creating and dropping
/// the tests' databases, ending a connection), from a thread of its own.
#[cfg(feature = "postgres")]
pub fn server_admin(base: &str, sql: String) {
    let server = format!("{base}/postgres");
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&server, postgres::NoTls).expect("connect");
        c.batch_execute(&sql).expect(&sql);
    })
    .join()
    .expect("admin");
}
