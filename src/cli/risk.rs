//! `ritplan risk` and `ritplan omalizumab`.

use std::io::Write;

use rust_decimal::Decimal;
use serde::Serialize;

use super::patient_args::PatientArgs;
use super::{CliError, Context, write_json};
use crate::patient::Patient;
use crate::policy::omalizumab::Dosing;
use crate::risk::{Assessment, assess};

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
    writeln!(out, "Omalizumab pretreatment: {om}")?;
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

#[derive(Serialize)]
struct RiskJson<'a> {
    patient: &'a Patient,
    #[serde(flatten)]
    assessment: &'a Assessment,
}

pub(super) fn risk(
    ctx: &Context,
    args: &PatientArgs,
    on: chrono::NaiveDate,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
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

#[derive(Serialize)]
struct OmalizumabJson<'a> {
    label: &'a str,
    table: &'a str,
    total_ige: Decimal,
    weight_kg: Decimal,
    age_years: u32,
    #[serde(flatten)]
    dosing: &'a Dosing,
    reminder: &'a str,
    low_ige_condition: Option<&'a crate::policy::omalizumab::LowIge>,
}

pub(super) fn omalizumab(
    ctx: &Context,
    args: &PatientArgs,
    label: &str,
    on: chrono::NaiveDate,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
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
    if json {
        write_json(
            out,
            &OmalizumabJson {
                label: &table.id,
                table: &table.name,
                total_ige: ige,
                weight_kg: weight,
                age_years: patient.age_years,
                dosing: &dosing,
                reminder: &table.reminder,
                low_ige_condition: condition,
            },
        )?;
    } else {
        writeln!(out, "{}", table.name)?;
        writeln!(
            out,
            "Pre-treatment total IgE {} IU/mL, weight {} kg, age {} years",
            ige.normalize(),
            weight.normalize(),
            patient.age_years
        )?;
        match &dosing {
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
                    "Injections: {injections} (no more than {} mg at one site); syringes: {}",
                    table.max_mg_per_site,
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
        if let Some(c) = condition {
            writeln!(
                out,
                "! Condition: {} [{} {}] {}",
                c.text, c.provenance.evidence, c.provenance.certainty, c.provenance.source
            )?;
        }
        writeln!(out, "Reminder: {}", table.reminder)?;
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
