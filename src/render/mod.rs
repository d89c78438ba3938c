//! Terminal tables and PDF pages. Rendering decides nothing clinical: it lays out what it is
//! given.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

/// A comfy-table preset that draws one rule under the header and nothing else (the 6th and
/// 7th characters are the header line and its intersections; a space draws nothing).
const HEADER_RULE_ONLY: &str = "     ──            ";

/// The width tables fit, when the front end knows one (a terminal); unset, tables take the
/// width their cells need (a pipe, a file).
static WIDTH: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

/// Sets the width terminal tables fit (once, by the front end, from the terminal's size).
pub fn fit_tables_to(width: u16) {
    let _ = WIDTH.set(width.max(40));
}

/// A table with a header row, in the house style: thin rules, no colour (so `NO_COLOR` and
/// pipes need no special case), right-aligned numeric columns; on a terminal, its cells wrap
/// to fit the terminal's width.
pub fn table(header: &[&str], right_aligned: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(HEADER_RULE_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| Cell::new(*h)));
    if let Some(w) = WIDTH.get() {
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(*w);
    }
    for &i in right_aligned {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// `8 ± 2 weeks`, or `6 weeks` without a tolerance.
pub fn every_weeks(interval: u32, tolerance: u32) -> String {
    if tolerance > 0 {
        format!("{interval} ± {tolerance} weeks")
    } else {
        format!("{interval} weeks")
    }
}

/// A short hash of the texts a document was made from (template and rules), for its footer.
pub fn short_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub mod audit_charts;
pub mod audit_report;
pub mod course;
pub mod figure;
pub mod label;
pub mod omalizumab;
pub mod omalizumab_rows;
pub mod pdf;
pub mod protocol;
pub mod sheet;

/// The phases of a plan in one sentence — `Phases: rush steps 1–3 (to 300 JAU, below the
/// maintenance dose), consolidation step 4, then maintenance.` — when its template names its
/// phases; `None` otherwise (outputs for templates without phases stay as they were).
pub fn phase_summary(steps: &[crate::planner::PlannedStep]) -> Option<String> {
    use crate::template::Phase;
    if steps.iter().all(|s| s.phase.is_none()) {
        return None;
    }
    // Runs of consecutive steps in one phase.
    let mut runs: Vec<(Phase, usize, usize, crate::units::Dose)> = Vec::new();
    for s in steps {
        let phase = s.phase.unwrap_or(Phase::UpDosing);
        match runs.last_mut() {
            Some((p, _, last, dose)) if *p == phase => {
                *last = s.index;
                *dose = s.dose;
            }
            _ => runs.push((phase, s.index, s.index, s.dose)),
        }
    }
    let has_consolidation = runs.iter().any(|r| r.0 == Phase::Consolidation);
    let parts: Vec<String> = runs
        .iter()
        .map(|(p, a, b, dose)| {
            let which = if a == b {
                format!("{p} step {a}")
            } else {
                format!("{p} steps {a}–{b}")
            };
            if p.rank() == 0 && has_consolidation {
                format!("{which} (to {dose})")
            } else {
                which
            }
        })
        .collect();
    Some(format!("Phases: {}, then maintenance.", parts.join(", ")))
}

/// The phase of a dose as a table cell: its name, or nothing when the template names none.
pub fn phase_cell(phase: Option<crate::template::Phase>) -> String {
    phase.map(|p| p.to_string()).unwrap_or_default()
}
