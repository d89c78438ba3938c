//! `ritplan risk` and `ritplan omalizumab`.

use std::io::Write;

use chrono::NaiveDate;

use crate::cli::CliError;
use crate::cli::context::{Context, today};
use crate::cli::json::{OmalizumabJson, RiskJson};
use crate::cli::output::write_json;
use crate::cli::patient_args::PatientArgs;
use crate::patient::Patient;
use crate::policy::omalizumab::Dosing;
use crate::risk::{Assessment, assess};

// `ritplan risk` arguments.
#[derive(Debug, clap::Args)]
pub struct RiskArgs {
    #[command(flatten)]
    patient: PatientArgs,
    /// Assess as of this date (for --dob and --omalizumab-since); default today.
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    on: Option<NaiveDate>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

// `ritplan omalizumab` arguments.
#[derive(Debug, clap::Args)]
pub struct OmalizumabArgs {
    #[command(subcommand)]
    pub(in crate::cli) command: Option<super::omalizumab::OmalizumabCommand>,
    #[command(flatten)]
    patient: PatientArgs,
    /// Which label's table: eu (China follows it) or us [default: the configuration file's
    /// `omalizumab_label`, else eu].
    #[arg(long, value_parser = ["eu", "us"])]
    label: Option<String>,
    /// Compute ages as of this date (for --dob); default today.
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    on: Option<NaiveDate>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints an assessment for people.
pub(super) fn print_assessment(out: &mut dyn Write, a: &Assessment) -> Result<(), CliError> {
    writeln!(out, "Risk stratum: {}", a.stratum.to_uppercase())?;
    writeln!(
        out,
        "sIgE class: {}   ratio: {}   age group: {} ({} years)",
        a.sige_class,
        a.ratio_percent.display(),
        a.age_group,
        a.age_years
    )?;
    let fav = match a.favourable_response {
        Some(true) => "yes",
        Some(false) => "no",
        None => "cannot tell",
    };
    writeln!(out, "Favourable response predicted: {fav}")?;
    let om = a.omalizumab_status();
    let stated = if a.omalizumab_weeks.is_some() {
        " (as stated, not recorded)"
    } else {
        ""
    };
    writeln!(out, "Omalizumab pretreatment: {om}{stated}")?;
    writeln!(out, "\nReasons:")?;
    for (i, r) in a.reasons.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, r.text)?;
        writeln!(out, "     [{} {}] {}", r.evidence, r.certainty, r.source)?;
    }
    if !a.contraindications.is_empty() {
        writeln!(out, "\nContraindications:")?;
        for c in &a.contraindications {
            let what = if c.blocks {
                "BLOCKS a rush plan"
            } else {
                "warning"
            };
            writeln!(out, "  ! {what}: {}", c.reason.text)?;
            writeln!(
                out,
                "     [{} {}] {}",
                c.reason.evidence, c.reason.certainty, c.reason.source
            )?;
        }
    }
    for w in &a.warnings {
        writeln!(out, "! {w}")?;
    }
    Ok(())
}

/// `ritplan risk`: the assessment, with every reason and the rule it comes from.
pub(in crate::cli) fn risk(
    ctx: &Context,
    a: RiskArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (args, on, json) = (&a.patient, a.on.unwrap_or_else(today), a.json);
    let policy = ctx.policy(err)?;
    let patient = args.patient(on)?;
    let a = assess(&patient, &policy.risk);
    if json {
        return write_json(
            out,
            &RiskJson {
                patient: &patient,
                assessment: &a,
            },
        );
    }
    print_assessment(out, &a)
}

/// `ritplan omalizumab`: the label table's dose for the patient.
pub(in crate::cli) fn omalizumab(
    ctx: &Context,
    a: OmalizumabArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let label = a
        .label
        .as_deref()
        .or(ctx.config.omalizumab_label.as_deref())
        .unwrap_or("eu");
    let (args, on, json) = (&a.patient, a.on.unwrap_or_else(today), a.json);
    let policy = ctx.policy(err)?;
    let table = policy.omalizumab_table(label).ok_or_else(|| {
        let known: Vec<&str> = policy.omalizumab.iter().map(|t| t.id.as_str()).collect();
        CliError::Usage(format!(
            "no omalizumab table for label {label:?}; the labels are {}",
            known.join(", ")
        ))
    })?;
    let input = args.input()?;
    // The omalizumab table needs only age, weight and total IgE: validate those, and the sIgE
    // only if it was given.
    let mut input = input;
    let sige_given = input.sige.is_some();
    if !sige_given {
        input.sige = Some("0".into());
    }
    let patient = Patient::from_input(&input, on)?;
    let Some(ige) = patient.total_ige.exact() else {
        return Err(CliError::Data(format!(
            "--total-ige: {} is censored; the label table needs the exact pre-treatment total IgE",
            patient.total_ige
        )));
    };
    let weight = patient.require_weight()?;
    let dosing = table.lookup(ige, weight, patient.age_years);
    let condition = table.low_ige_condition(ige, patient.age_years);
    let answer = OmalizumabJson {
        label: &table.id,
        table: &table.name,
        total_ige: ige,
        weight_kg: weight,
        age_years: patient.age_years,
        dosing: &dosing,
        reminder: &table.reminder,
        low_ige_condition: condition,
    };
    if json {
        write_json(out, &answer)?;
    } else {
        print_omalizumab(out, &answer, table.max_mg_per_site)?;
    }
    match dosing {
        Dosing::Dose { .. } => Ok(()),
        Dosing::NotDosable { .. } => Err(CliError::Refused("not dosable per label".into())),
        Dosing::Unverified { .. } => Err(CliError::Refused(
            "this table cell is unverified: check the official label".into(),
        )),
        Dosing::NoTable { .. } => Err(CliError::Refused(
            "ritplan has no dosing table for this age and label".into(),
        )),
    }
}

/// The label table's answer for people.
fn print_omalizumab(
    out: &mut dyn Write,
    a: &OmalizumabJson,
    max_mg_per_site: u32,
) -> Result<(), CliError> {
    writeln!(out, "{}", a.table)?;
    writeln!(
        out,
        "Pre-treatment total IgE {} IU/mL, weight {} kg, age {} years",
        a.total_ige.normalize(),
        a.weight_kg.normalize(),
        a.age_years
    )?;
    match a.dosing {
        Dosing::Dose {
            dose_mg,
            every_weeks,
            injections,
            syringes,
            provenance,
        } => {
            writeln!(out, "Dose: {dose_mg} mg every {every_weeks} weeks")?;
            let parts: Vec<String> = syringes
                .iter()
                .map(|(size, n)| format!("{n} × {size} mg"))
                .collect();
            writeln!(
                out,
                "Injections: {injections} (no more than {max_mg_per_site} mg at one site); syringes: {}",
                parts.join(" + ")
            )?;
            if let Some(p) = provenance {
                writeln!(out, "Source: [{} {}] {}", p.evidence, p.certainty, p.source)?;
            }
        }
        Dosing::NotDosable { reason } => writeln!(out, "Not dosable per label: {reason}.")?,
        Dosing::Unverified {
            candidates,
            every_weeks,
        } => {
            let c: Vec<String> = candidates
                .iter()
                .map(|c| c.map_or("not dosable".to_string(), |mg| format!("{mg} mg")))
                .collect();
            writeln!(
                out,
                "UNVERIFIED cell: the sources disagree ({}, every {every_weeks} weeks). Check the official label (EMA product information, section 4.2) before dosing.",
                c.join(" or ")
            )?;
        }
        Dosing::NoTable { note } => writeln!(out, "No table: {note}")?,
    }
    if let Some(c) = a.low_ige_condition {
        writeln!(
            out,
            "! Condition: {} [{} {}] {}",
            c.text, c.provenance.evidence, c.provenance.certainty, c.provenance.source
        )?;
    }
    writeln!(out, "Reminder: {}", a.reminder)?;
    Ok(())
}
