//! `ritplan patient add | list | find | show | import`, and the patient's identity lines that
//! the course commands print.

use std::io::Write;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};

use crate::cli::args::PatientCommand;
use crate::cli::context::{Context, opened, read_source};
use crate::cli::output::{plural, write_json};
use crate::cli::{CliError, session};
use crate::render::table;
use crate::ward::Ward;
use crate::ward::view::PatientRecord;

/// `ritplan patient ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: PatientCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    match cmd {
        PatientCommand::Add(a) => {
            let actor = session::actor(&ward, now)?;
            patient_add(&mut ward, &actor, &a, now, out, err)?;
            session::used(&ward, &actor, now)
        }
        PatientCommand::List { json } => patient_list(&ward.patients()?, json, out),
        PatientCommand::Import { file } => import(&mut ward, &file, now, out, err),
        PatientCommand::Find { query, json } => {
            patient_list(&ward.find_patients(&query)?, json, out)
        }
        PatientCommand::Show { id, json } => patient_show(&ward, id.trim(), json, out),
    }
}

/// `ritplan patient import FILE`: every row checked, all or none recorded.
fn import(
    ward: &mut Ward,
    file: &Path,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let actor = session::actor(ward, now)?;
    let src = read_source(file)?;
    match ward.import_patients(&actor, &src.text, now) {
        Ok(n) => writeln!(out, "imported {n} patient{}", plural(n))?,
        Err(crate::ward::import::ImportError::Rows(rows)) => {
            for r in &rows {
                writeln!(err, "{}:{}: {}", file.display(), r.line, r.message)?;
            }
            return Err(CliError::Data(format!(
                "no patient imported: {} error{} in {}",
                rows.len(),
                plural(rows.len()),
                file.display()
            )));
        }
        Err(crate::ward::import::ImportError::Ward(e)) => return Err(e.into()),
    }
    session::used(ward, &actor, now)
}

/// The patient's identity line, with a warning for every other patient of the same name and
/// date of birth.
pub(super) fn identity(
    ward: &Ward,
    p: &PatientRecord,
    now: NaiveDateTime,
) -> Result<Vec<String>, CliError> {
    Ok(identity_with(p, now, &ward.lookalikes(p)?))
}

/// [`identity`] with the look-alikes already found.
pub(super) fn identity_with(
    p: &PatientRecord,
    now: NaiveDateTime,
    lookalikes: &[PatientRecord],
) -> Vec<String> {
    let age = crate::patient::age_on(p.dob, now.date()).map_or("?".to_string(), |a| a.to_string());
    let mut lines = vec![format!(
        "Patient: {} · ID {} · born {} ({age} years) · {} kg",
        p.name, p.id, p.dob, p.weight_kg
    )];
    lines.extend(lookalikes.iter().map(lookalike_warning));
    lines
}

/// The warning about another patient of the same name and date of birth.
fn lookalike_warning(other: &PatientRecord) -> String {
    format!(
        "! LOOK-ALIKE: {} ({}) has the same name and date of birth: check the ID before every dose",
        other.name, other.id
    )
}

// `patient add` arguments.
#[derive(Debug, clap::Args)]
pub struct PatientAdd {
    /// Clinic id.
    #[arg(long)]
    id: String,
    /// Name as the clinic writes it.
    #[arg(long)]
    name: String,
    /// Date of birth.
    #[arg(long, value_name = "DATE")]
    dob: NaiveDate,
    /// Weight, kg.
    #[arg(long, allow_negative_numbers = true, value_name = "KG")]
    weight: String,
    /// Mite sIgE, kUA/L (censored values such as <0.35 allowed).
    #[arg(long, allow_hyphen_values = true)]
    sige: String,
    /// Total IgE, kU/L.
    #[arg(long = "total-ige", allow_hyphen_values = true)]
    total_ige: String,
    /// FEV1 % predicted (required before a course starts).
    #[arg(long, allow_negative_numbers = true)]
    fev1: Option<String>,
    /// Asthma control (required before a course starts).
    #[arg(long, value_parser = ["controlled", "partly", "uncontrolled"])]
    asthma: Option<String>,
    /// Takes a beta-blocker.
    #[arg(long)]
    beta_blocker: bool,
}

fn patient_add(
    ward: &mut Ward,
    actor: &crate::ward::Actor,
    a: &PatientAdd,
    now: NaiveDateTime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    // The ward checks the values as the planner will read them.
    let p = PatientRecord {
        id: a.id.clone(),
        name: a.name.clone(),
        dob: a.dob,
        weight_kg: a.weight.clone(),
        sige: a.sige.clone(),
        total_ige: a.total_ige.clone(),
        fev1_percent: a.fev1.clone(),
        asthma: a.asthma.clone(),
        beta_blocker: a.beta_blocker,
    };
    let lookalikes = ward.add_patient(actor, &p, now)?;
    writeln!(out, "{}", p.id.trim())?;
    for o in &lookalikes {
        writeln!(err, "{}", lookalike_warning(o))?;
    }
    Ok(())
}

fn patient_list(ps: &[PatientRecord], json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    if json {
        return write_json(out, &ps);
    }
    let mut t = table(
        &[
            "id",
            "name",
            "date of birth",
            "weight kg",
            "sIgE",
            "total IgE",
        ],
        &[],
    );
    for p in ps {
        t.add_row(vec![
            p.id.clone(),
            p.name.clone(),
            p.dob.to_string(),
            p.weight_kg.clone(),
            p.sige.clone(),
            p.total_ige.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

fn patient_show(ward: &Ward, id: &str, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ward.patient(id)?;
    if json {
        return write_json(out, &p);
    }
    writeln!(out, "{} ({})", p.name, p.id)?;
    writeln!(
        out,
        "date of birth {}; weight {} kg; mite sIgE {} kUA/L; total IgE {} kU/L",
        p.dob, p.weight_kg, p.sige, p.total_ige
    )?;
    writeln!(
        out,
        "FEV1 {}; asthma {}; beta-blocker {}",
        p.fev1_percent
            .as_deref()
            .map_or("not given".to_string(), |f| format!("{f} % predicted")),
        p.asthma.as_deref().unwrap_or("not given"),
        if p.beta_blocker { "yes" } else { "no" }
    )?;
    for o in ward.lookalikes(&p)? {
        writeln!(out, "{}", lookalike_warning(&o))?;
    }
    Ok(())
}
