//! `ritplan export fhir | ics`: a course in a clinic's standard format.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::CliError;
use crate::cli::args::ExportCommand;
use crate::cli::context::{Context, opened};
use crate::cli::output::write_atomically;

/// `ritplan export ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: ExportCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        ExportCommand::Fhir {
            course,
            patient,
            out: file,
        } => fhir(ctx, course, patient.as_deref(), file, out, err),
        ExportCommand::Ics {
            course,
            clinic,
            details,
            out: file,
        } => ics(ctx, course, clinic, details, file, out, err),
    }
}

/// `ritplan export fhir`: a FHIR R4 Bundle of a course, or of every course of a patient.
fn fhir(
    ctx: &Context,
    course: Option<i64>,
    patient: Option<&str>,
    file: Option<PathBuf>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, _) = opened(ctx, err)?;
    let zone = ward.zone()?;
    let data = ward.fhir(course, patient)?;
    let views: Vec<&crate::ward::CourseView> = data.views.iter().collect();
    let omalizumab: Vec<&crate::ward::view::OmalizumabCourseView> =
        data.omalizumab.iter().collect();
    let bundle =
        crate::export::fhir::bundle(&data.record_id, zone, &data.patient, &views, &omalizumab);
    let mut text = serde_json::to_vec_pretty(&bundle).map_err(|e| CliError::Data(e.to_string()))?;
    text.push(b'\n');
    deliver(file, &text, out)
}

/// `ritplan export ics`: an iCalendar file of a course's visits.
fn ics(
    ctx: &Context,
    course: i64,
    clinic: Option<String>,
    details: bool,
    file: Option<PathBuf>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    let zone = ward.zone()?;
    let clinic = clinic
        .or_else(|| ctx.config.clinic_name.clone())
        .unwrap_or_else(|| "Allergy clinic".into());
    if ward.course_kind(course)? == crate::ward::CourseKind::Omalizumab {
        let data = ward.omalizumab_ics(course, &clinic)?;
        let text = crate::export::ics::omalizumab_calendar(
            &data.course,
            &crate::export::ics::IcsOptions {
                clinic: &data.clinic,
                details,
                record_id: &data.record_id,
                now,
                zone,
            },
        );
        return deliver(file, text.as_bytes(), out);
    }
    let data = ward.ics(course, &clinic)?;
    let text = crate::export::ics::calendar(
        &data.view,
        &crate::export::ics::IcsOptions {
            clinic: &data.clinic,
            details,
            record_id: &data.record_id,
            now,
            zone,
        },
    )
    .map_err(crate::ward::WardError::from)?;
    deliver(file, text.as_bytes(), out)
}

/// Writes an export to `file` (privately, atomically; its name on `out`), else to `out`.
fn deliver(file: Option<PathBuf>, bytes: &[u8], out: &mut dyn Write) -> Result<(), CliError> {
    match file {
        Some(path) => {
            write_atomically(&path, bytes)?;
            writeln!(out, "{}", path.display())?;
        }
        None => out.write_all(bytes)?,
    }
    Ok(())
}
