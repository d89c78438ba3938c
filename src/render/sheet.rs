//! The nurses' daily dosing sheet: its columns and cells for the terminal, and its landscape
//! PDF. It lays out the rows the ward layer built; it decides nothing.

use chrono::{NaiveDate, NaiveDateTime};

use crate::course::ActionKind;
use crate::render::pdf::{Align, Fonts, Paper, PdfError, RowStyle, Writer, col};
use crate::ward::view::SheetLine;

/// What the sheet says under its table.
pub const NOTE: &str = "Times are the earliest; each dose follows the previous observation. Later rows of a patient assume the earlier doses were tolerated: check the next dose in ritplan (ritplan next) before each dose. Two extracts of one patient are at least 30 min apart.";

/// The sheet's columns, for the terminal and the PDF: title, PDF width share, right-aligned.
pub const COLUMNS: [(&str, f32, bool); 16] = [
    ("time", 0.9, false),
    ("patient", 2.4, false),
    ("step", 0.75, true),
    ("vial", 2.7, false),
    ("vial code", 1.8, false),
    ("volume", 1.5, true),
    ("dose", 2.3, true),
    ("obs min", 0.8, true),
    ("PEF %", 0.9, false),
    ("screen ✓", 1.2, false),
    ("given at", 1.1, false),
    ("site L/R", 0.9, false),
    ("lot", 1.0, false),
    ("reaction", 1.2, false),
    ("nurse", 1.0, false),
    ("check", 1.0, false),
];

/// What the sheet says under its table, once, when an omalizumab row is on it.
pub const OMALIZUMAB_NOTE: &str = "Omalizumab rows: the dose is not recalculated from IgE measured during treatment (label). Not allergen doses: no vial, vial code, volume or lot (—).";

/// What an omalizumab row prints in the columns of an allergen dose that do not apply to it.
pub const NOT_APPLICABLE: &str = "—";

/// Whether the sheet has an omalizumab row (then it says [`OMALIZUMAB_NOTE`] once).
pub fn has_omalizumab(lines: &[SheetLine]) -> bool {
    lines.iter().any(|l| l.omalizumab.is_some())
}

/// The indices of the right-aligned columns.
pub fn right_aligned() -> Vec<usize> {
    COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, (_, _, right))| *right)
        .map(|(i, _)| i)
        .collect()
}

/// What a row prints for a vial code: the code of the course's vial to draw from, or "no vial"
/// for a dose row when none is recorded (a nurse must see it); nothing on other rows.
pub fn vial_code(l: &SheetLine) -> String {
    match (&l.row.dosing, &l.vial_code) {
        (Some(_), Some(code)) => code.clone(),
        (Some(_), None) => NO_VIAL.to_string(),
        (None, _) => String::new(),
    }
}

/// The vial code cell of a dose row for which the course has no active vial of that strength.
pub const NO_VIAL: &str = "no vial";

/// The premedication each dose row needs or is reminded of, one line each, for under the
/// table: `Zhang Wei (P1, course 1), 08:00 step 1 — Premedication REQUIRED: …`.
pub fn premedication_lines(lines: &[SheetLine]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| {
            l.row.premedication.iter().map(move |p| {
                format!(
                    "{} ({}, course {}), {} step {} — {} Taken at: ______",
                    l.name,
                    l.patient,
                    l.course,
                    l.row
                        .time
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    l.row
                        .dosing
                        .as_ref()
                        .map(|d| d.step.to_string())
                        .unwrap_or_default(),
                    crate::render::course::premedication_due(p)
                )
            })
        })
        .collect()
}

/// One sheet line's cells; the columns after the observation are left blank for the nurses.
pub fn row(l: &SheetLine) -> Vec<String> {
    if let Some(o) = &l.omalizumab {
        return omalizumab_row(l, o);
    }
    let (step, vial, volume, dose) = cells(l);
    let mut r = vec![
        l.row
            .time
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_else(|| "--:--".into()),
        format!("{} ({}, course {})", l.name, l.patient, l.course),
        step,
        vial,
        vial_code(l),
        volume,
        dose,
        l.row
            .observation_min
            .map(|o| o.to_string())
            .unwrap_or_default(),
    ];
    r.resize(COLUMNS.len(), String::new());
    r
}

/// An omalizumab course's row: the injection due on the day (any time of the day), its
/// syringes and observation, "—" in the allergen dose's vial, vial code, volume and lot
/// columns; or its DO NOT GIVE or observation row.
fn omalizumab_row(l: &SheetLine, o: &crate::ward::view::OmalizumabRow) -> Vec<String> {
    use crate::policy::omalizumab_course::OmalizumabNext;
    use crate::render::omalizumab_rows as om;
    let na = || NOT_APPLICABLE.to_string();
    let patient = format!("{} ({}, course {})", l.name, l.patient, l.course);
    let mut r = match &o.injection {
        Some(OmalizumabNext::Injection {
            number,
            dose_mg,
            syringes,
            late,
            observation_min,
            ..
        }) => {
            let what = match late {
                Some(x) => format!("{} — {}", om::dose(*dose_mg, syringes), om::late(x.days)),
                None => om::dose(*dose_mg, syringes),
            };
            vec![
                "today".to_string(),
                patient,
                format!("inj. {number}"),
                what,
                na(),
                na(),
                format!("{dose_mg} mg"),
                observation_min.to_string(),
            ]
        }
        _ => {
            let (_, words, _, _) = cells(l);
            vec![
                l.row
                    .time
                    .map(|t| t.format("%H:%M").to_string())
                    .unwrap_or_else(|| "--:--".into()),
                patient,
                String::new(),
                format!("omalizumab: {words}"),
            ]
        }
    };
    r.resize(COLUMNS.len(), String::new());
    if o.injection.is_some()
        && let Some(lot) = COLUMNS.iter().position(|(t, _, _)| *t == "lot")
    {
        r[lot] = na();
    }
    r
}

fn cells(l: &SheetLine) -> (String, String, String, String) {
    let until = l
        .row
        .time
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default();
    let words = |s: String| (String::new(), s, String::new(), String::new());
    match (&l.row.dosing, l.row.action) {
        (_, ActionKind::PhysicianReview) => words("DO NOT GIVE — physician review".into()),
        (_, ActionKind::PatientHold) => words(format!(
            "DO NOT GIVE — course {} of this patient awaits a physician",
            l.row.held_by.unwrap_or_default()
        )),
        (_, ActionKind::Observe) => words(format!("IN OBSERVATION until {until}")),
        (_, ActionKind::ObservationNotClosed) => {
            words(format!("OBSERVATION NOT CLOSED (since {until})"))
        }
        (Some(d), _) => (
            // The phase beside the step, only when the template names its phases.
            format!(
                "{}{}",
                match d.maintenance {
                    Some(n) => format!("M{n}"),
                    None => d.step.to_string(),
                },
                l.phase
                    .filter(|p| *p != crate::template::Phase::Maintenance)
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default()
            ),
            format!(
                "{} ({}) {}",
                l.vial_label.clone().unwrap_or_default(),
                l.cap.clone().unwrap_or_default(),
                l.concentration.clone().unwrap_or_default()
            ),
            d.volume_ml.to_string(),
            d.dose.to_string(),
        ),
        _ => words(String::new()),
    }
}

/// The sheet as a PDF (landscape, every page headed with the date, and with TRAINING RECORD
/// for a training record): the bytes and the PDF writer's warnings.
pub fn pdf(
    lines: &[SheetLine],
    date: NaiveDate,
    made: NaiveDateTime,
    training: bool,
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let mut w = Writer::new(
        fonts,
        paper,
        true,
        &format!(
            "{}Daily dosing sheet · {date} ({})",
            if training {
                format!("{} · ", crate::render::protocol::TRAINING)
            } else {
                String::new()
            },
            date.format("%A")
        ),
    );
    w.paragraph(
        "Doses as the record allows them. DO NOT GIVE rows wait for a physician; OBSERVATION NOT CLOSED rows must be recorded before any further dose.",
        8.5,
        false,
    );
    w.paragraph(NOTE, 8.5, false);
    w.paragraph(
        &format!(
            "Made {} from the record: a later entry is not on this paper.",
            made.format("%Y-%m-%d %H:%M")
        ),
        8.5,
        true,
    );
    w.space(4.0);
    let columns: Vec<_> = COLUMNS
        .iter()
        .map(|(title, weight, right)| {
            let c = col(
                title,
                *weight,
                if *right { Align::Right } else { Align::Left },
            );
            // What a nurse reads at arm's length: who, which vial, how much.
            match *title {
                "patient" | "vial" | "vial code" | "volume" | "dose" => c.emphasised(),
                _ => c,
            }
        })
        .collect();
    let strong: Vec<RowStyle> = lines
        .iter()
        .map(|l| {
            if l.row.action.do_not_give() {
                RowStyle::Banner
            } else if l.row.action == ActionKind::ObservationNotClosed {
                RowStyle::Strong
            } else {
                RowStyle::Plain
            }
        })
        .collect();
    let rows: Vec<Vec<String>> = lines
        .iter()
        .zip(&strong)
        .map(|(l, style)| {
            let mut r = row(l);
            // A banner has no time to fill in.
            if *style == RowStyle::Banner && r[0] == "--:--" {
                r[0].clear();
            }
            r
        })
        .collect();
    if rows.is_empty() {
        w.paragraph("No injection is due on this day.", 11.0, true);
    } else {
        w.table(&columns, &rows, &strong, 8.5, 24.0);
    }
    let premeds = premedication_lines(lines);
    if !premeds.is_empty() {
        w.space(4.0);
        w.paragraph("Premedication", 9.5, true);
        for line in &premeds {
            w.paragraph(&format!("• {line}"), 8.5, false);
        }
    }
    if has_omalizumab(lines) {
        w.space(4.0);
        w.paragraph(OMALIZUMAB_NOTE, 8.5, true);
    }
    let footer = format!(
        "ritplan {} · dosing sheet {date}",
        env!("CARGO_PKG_VERSION")
    );
    w.finish(&format!("Dosing sheet {date}"), &footer, date)
}
