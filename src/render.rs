//! Terminal tables. Rendering decides nothing clinical: it lays out what it is given.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

/// A table with a header row, in the house style: thin rules, no colour (so `NO_COLOR` and
/// pipes need no special case), right-aligned numeric columns.
pub fn table(header: &[&str], right_aligned: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| Cell::new(*h)));
    for &i in right_aligned {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}
