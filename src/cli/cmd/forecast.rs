//! `ritplan forecast`: what-if, the rest of a course as the state machine would run it (nothing
//! is written); and the forecast's table and JSON, which `plan` prints too.

use std::io::Write;

use chrono::NaiveDateTime;

use crate::cli::CliError;
use crate::cli::args::WhatIf;
use crate::cli::context::{Context, opened, parse_datetime};
use crate::cli::json::{ForecastDose, ForecastJson};
use crate::cli::output::write_json;
use crate::render::course as say;
use crate::render::table;
use crate::ward::Ward;

// `ritplan forecast` arguments.
#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// Course id.
    course: i64,
    #[command(flatten)]
    what_if: WhatIf,
    /// From this time (default now).
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    at: Option<NaiveDateTime>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `ritplan forecast COURSE`.
pub(in crate::cli) fn run(
    ctx: &Context,
    a: ForecastArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    let scenario = a.what_if.scenario().unwrap_or_default();
    forecast(
        &mut ward,
        a.course,
        a.at.unwrap_or(now),
        &scenario,
        a.json,
        out,
    )
}

/// The rules that changed a dose: reasons that apply a rule, not a tolerated dose's "proceed".
fn cited(r: &crate::course::Reason) -> Option<String> {
    if let crate::course::Reason::Local {
        action: crate::policy::course::Action::Proceed,
        ..
    } = r
    {
        return None;
    }
    r.rule().map(|_| say::reason(r))
}

pub(super) fn forecast_json<'a>(
    course: Option<i64>,
    from: NaiveDateTime,
    template: &crate::template::Template,
    p: &'a crate::course::Projection,
) -> ForecastJson<'a> {
    ForecastJson {
        course,
        from,
        doses: p
            .doses
            .iter()
            .map(|d| ForecastDose {
                at: d.at,
                dosing: &d.dosing,
                observation_min: d.observation_min,
                rules: d.reasons.iter().filter_map(cited).collect(),
            })
            .collect(),
        stops: p.stopped_by.as_ref().map(|d| say::headline(d, template)),
        written: false,
    }
}

/// A forecast as a table, with the rule behind each changed dose and where it stops.
pub(super) fn print_forecast(
    out: &mut dyn Write,
    what: &str,
    from: NaiveDateTime,
    template: &crate::template::Template,
    plan_len: usize,
    p: &crate::course::Projection,
) -> Result<(), CliError> {
    writeln!(
        out,
        "Forecast for {what} from {} (what if; nothing is recorded):",
        from.format("%Y-%m-%d %H:%M")
    )?;
    let mut t = table(
        &["when", "step", "vial", "volume", "dose", "rule behind it"],
        &[1, 3, 4],
    );
    for d in &p.doses {
        let rules: Vec<String> = d.reasons.iter().filter_map(cited).collect();
        t.add_row(vec![
            d.at.format("%a %Y-%m-%d %H:%M").to_string(),
            if d.dosing.step > plan_len {
                format!("M{}", d.dosing.step - plan_len)
            } else {
                d.dosing.step.to_string()
            },
            template
                .vial(&d.dosing.vial)
                .map_or(d.dosing.vial.clone(), |x| {
                    format!("{} ({})", x.label, x.cap)
                }),
            d.dosing.volume_ml.to_string(),
            d.dosing.dose.to_string(),
            if rules.is_empty() {
                "the schedule goes on".into()
            } else {
                rules.join("; ")
            },
        ]);
    }
    writeln!(out, "{t}")?;
    if let Some(d) = &p.stopped_by {
        writeln!(out, "Then: {}", say::headline(d, template))?;
        for line in say::cited_details(d) {
            writeln!(out, "  - {line}")?;
        }
    }
    Ok(())
}

/// `ritplan forecast`: the rest of the course under a what-if, with the rules behind each dose.
fn forecast(
    ward: &mut Ward,
    id: i64,
    from: NaiveDateTime,
    scenario: &crate::course::Scenario,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (v, p) = ward.forecast(id, from, scenario)?;
    if json {
        return write_json(out, &forecast_json(Some(id), from, &v.loaded.template, &p));
    }
    print_forecast(
        out,
        &format!("course {id}"),
        from,
        &v.loaded.template,
        v.loaded.plan.steps.len(),
        &p,
    )
}
