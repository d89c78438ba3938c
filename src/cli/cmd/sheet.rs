//! `ritplan sheet`: the nurses' dosing sheet for a day, as a table, JSON or a PDF.

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime};

use crate::cli::CliError;
use crate::cli::args::PaperArgs;
use crate::cli::context::{Context, opened};
use crate::cli::output::{PdfOut, pdf_fonts, write_atomically, write_json};
use crate::render::sheet as sheet_render;
use crate::render::table;
use crate::ward::Ward;

// `ritplan sheet` arguments.
#[derive(Debug, clap::Args)]
pub struct SheetArgs {
    /// The day (default today).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    date: Option<NaiveDate>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Write a PDF to FILE (landscape) instead of the terminal table (`--pdf` is the old
    /// name).
    #[arg(long = "out", visible_alias = "pdf", value_name = "FILE")]
    pdf: Option<std::path::PathBuf>,
    #[command(flatten)]
    print: PaperArgs,
}

/// `ritplan sheet`.
pub(in crate::cli) fn run(
    ctx: &Context,
    a: SheetArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    let pdf = a.pdf.map(|path| a.print.to(path));
    sheet(
        &mut ward,
        a.date.unwrap_or(now.date()),
        now,
        a.json,
        pdf,
        out,
    )
}

/// `ritplan sheet --date DATE`: every active course's rows for the day, in time order.
fn sheet(
    ward: &mut Ward,
    date: NaiveDate,
    now: NaiveDateTime,
    json: bool,
    pdf: Option<PdfOut>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let lines = ward.sheet(date, now)?;
    if let Some(pdf) = pdf {
        return sheet_pdf(&lines, date, now, ward.training(), &pdf, out);
    }
    if json {
        return write_json(out, &lines);
    }
    writeln!(out, "Dosing sheet {date} ({})", date.format("%A"))?;
    let mut t = table(
        &sheet_render::COLUMNS.map(|(title, _, _)| title),
        &sheet_render::right_aligned(),
    );
    for l in &lines {
        t.add_row(sheet_render::row(l));
    }
    writeln!(out, "{t}")?;
    let premeds = sheet_render::premedication_lines(&lines);
    if !premeds.is_empty() {
        writeln!(out, "Premedication:")?;
        for l in premeds {
            writeln!(out, "  - {l}")?;
        }
    }
    writeln!(out, "{}", sheet_render::NOTE)?;
    if sheet_render::has_omalizumab(&lines) {
        writeln!(out, "{}", sheet_render::OMALIZUMAB_NOTE)?;
    }
    Ok(())
}

fn sheet_pdf(
    lines: &[crate::ward::SheetLine],
    date: NaiveDate,
    made: NaiveDateTime,
    training: bool,
    pdf: &PdfOut,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let fonts = pdf_fonts(&names, pdf.font.as_deref())?;
    let (bytes, warnings) = sheet_render::pdf(lines, date, made, training, &fonts, pdf.paper)
        .map_err(|e| CliError::Data(e.to_string()))?;
    write_atomically(&pdf.path, &bytes)?;
    for warning in warnings {
        writeln!(out, "warning from the PDF writer: {warning}")?;
    }
    writeln!(out, "{}", pdf.path.display())?;
    Ok(())
}
