//! `ritplan board`: the ward's board now.

use std::io::Write;

use chrono::NaiveDateTime;

use crate::cli::CliError;
use crate::cli::context::{Context, opened};
use crate::cli::json::BoardRowJson;
use crate::cli::output::write_json;
use crate::render::course as say;
use crate::render::table;
use crate::ward::{BoardNext, BoardRow, Ward};

/// A board row's decision in words, by its course's kind.
fn headline(r: &BoardRow) -> String {
    match &r.next {
        BoardNext::Immunotherapy {
            next,
            frozen_template,
        } => say::headline(next, frozen_template),
        BoardNext::Omalizumab { next, .. } => crate::render::omalizumab_rows::headline(next),
    }
}

/// `ritplan board`.
pub(in crate::cli) fn run(
    ctx: &Context,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    board(&mut ward, now, json, out)
}

/// `ritplan board`: the ward's board at `now`.
fn board(
    ward: &mut Ward,
    now: NaiveDateTime,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let rows = ward.board(now)?;
    if json {
        let rows: Vec<BoardRowJson> = rows
            .iter()
            .map(|r| BoardRowJson {
                row: r,
                text: headline(r),
            })
            .collect();
        return write_json(out, &rows);
    }
    writeln!(
        out,
        "Board {} ({})",
        now.format("%Y-%m-%d %H:%M"),
        now.format("%A")
    )?;
    let mut t = table(&["status", "time", "patient", "course", "next"], &[3]);
    for r in &rows {
        t.add_row(vec![
            say::board_status(r.status).to_string(),
            r.at.map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default(),
            format!(
                "{} · {} · born {}{}",
                r.patient.name,
                r.patient.id,
                r.patient.dob,
                if r.lookalike { " · ! LOOK-ALIKE" } else { "" }
            ),
            r.course.to_string(),
            headline(r),
        ]);
    }
    writeln!(out, "{t}")?;
    // The label's rule, once, when an omalizumab course is on the board.
    if rows
        .iter()
        .any(|r| matches!(r.next, BoardNext::Omalizumab { .. }))
    {
        writeln!(
            out,
            "Omalizumab: {}",
            crate::policy::omalizumab_course::NOT_RECALCULATED
        )?;
    }
    if rows.is_empty() {
        writeln!(out, "Nothing is due today.")?;
    }
    Ok(())
}
