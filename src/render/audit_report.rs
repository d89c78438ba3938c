//! The outcomes audit's tables T1–T6 on PDF pages: the same report the text and the JSON print
//! ([`crate::audit::report`]; each cell written by [`crate::audit::report_text::cell_text`], so
//! nothing is computed twice), each block drawn as a table (a header row, the label column on the
//! left, numbers right-aligned), its notes under it and the table's footer after it. A table
//! breaks between rows, never inside one; on the next page its name ("… (continued)") and its
//! header row are printed again.

use super::pdf::{Align, Column, Fonts, Writer, col};
use crate::audit::report::{Block, Report, Table};
use crate::audit::report_text::{cell_text, preamble};

/// The tables' text size, pt.
const SIZE: f32 = 7.5;
/// The notes' and the footers' text size, pt.
const SMALL: f32 = 7.0;
/// A table cell's padding each side ([`Writer::table`]'s), pt, and a little air.
const CELL_SIDES: f32 = 2.0 * 2.5 + 1.5;

/// A row label's leading spaces (a level under its variable) as no-break spaces, which the
/// PDF's wrapping keeps.
fn indented(label: &str) -> String {
    let trimmed = label.trim_start_matches(' ');
    let n = label.len() - trimmed.len();
    format!("{}{trimmed}", "\u{a0}".repeat(n * 2))
}

/// The widest of `text`'s words.
fn widest_word(fonts: &Fonts, text: &str, bold: bool) -> f32 {
    text.split(' ')
        .map(|w| fonts.width(w, SIZE, bold))
        .fold(0.0, f32::max)
}

/// The columns' widths (as weights over `avail`): each its widest cell and whole title when
/// they fit; else the titles and the row labels wrap at words first (numbers never, while there
/// is room), the room left shared in proportion to what each column still lacks.
fn weights(fonts: &Fonts, titles: &[String], rows: &[Vec<String>], avail: f32) -> Vec<f32> {
    let n = titles.len();
    let mut need: Vec<f32> = titles.iter().map(|t| fonts.width(t, SIZE, true)).collect();
    let mut least: Vec<f32> = titles.iter().map(|t| widest_word(fonts, t, true)).collect();
    for r in rows {
        for (j, c) in r.iter().enumerate().take(n) {
            let full = fonts.width(c, SIZE, false);
            need[j] = need[j].max(full);
            least[j] = least[j].max(if j == 0 {
                widest_word(fonts, c, false)
            } else {
                full
            });
        }
    }
    let need: Vec<f32> = need.iter().map(|w| w + CELL_SIDES).collect();
    let least: Vec<f32> = least.iter().map(|w| w + CELL_SIDES).collect();
    let (sum_need, sum_least) = (need.iter().sum::<f32>(), least.iter().sum::<f32>());
    if sum_need <= avail {
        return need;
    }
    if sum_least >= avail || sum_need <= sum_least {
        return least;
    }
    let share = (avail - sum_least) / (sum_need - sum_least);
    least
        .iter()
        .zip(&need)
        .map(|(l, n)| l + (n - l) * share)
        .collect()
}

/// The room a block is begun in: the whole block when it is short (a T4 stratifier: it is not
/// split for a row or two), else its heading, the header row and a first row or two. An
/// estimate (rows of one line); a row that wraps may still take the block on to the next page,
/// between rows.
fn keep(b: &Block) -> f32 {
    let heading = if b.heading.is_some() { 16.0 } else { 0.0 };
    let whole = heading + 24.0 + (SIZE * 1.25 + 5.0) * b.rows.len() as f32;
    if whole <= 250.0 {
        whole
    } else {
        heading + 54.0
    }
}

/// One block: its heading, its rows as a table, its notes.
fn block(w: &mut Writer<'_>, fonts: &Fonts, t: &Table, b: &Block) {
    // The heading is not left alone at the foot of a page.
    w.ensure(keep(b));
    if let Some(h) = &b.heading {
        w.space(2.0);
        w.paragraph(h, SIZE + 1.0, true);
        w.space(1.0);
    }
    if !b.rows.is_empty() {
        let rows: Vec<Vec<String>> = b
            .rows
            .iter()
            .map(|r| {
                let mut line = vec![indented(&r.label)];
                line.extend(r.cells.iter().map(|c| cell_text(c, b.intervals_in_text)));
                line
            })
            .collect();
        let n = rows
            .iter()
            .map(Vec::len)
            .chain([b.columns.len()])
            .max()
            .unwrap_or(1);
        let mut titles = b.columns.clone();
        titles.resize(n, String::new());
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|mut r| {
                r.resize(n, String::new());
                r
            })
            .collect();
        let widths = weights(fonts, &titles, &rows, w.content_width());
        let columns: Vec<Column> = titles
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(j, (title, width))| {
                col(
                    title,
                    *width,
                    if j == 0 { Align::Left } else { Align::Right },
                )
            })
            .collect();
        let name = match &b.heading {
            Some(h) => format!("{}  {} · {h} (continued)", t.id, t.title),
            None => format!("{}  {} (continued)", t.id, t.title),
        };
        w.table_continued(&columns, &rows, &[], SIZE, 0.0, Some(&name));
    }
    for note in &b.notes {
        w.paragraph(note, SMALL, false);
    }
}

/// One table: its title, its blocks, its footer.
fn table(w: &mut Writer<'_>, fonts: &Fonts, t: &Table) {
    // The title with its first block.
    w.ensure(32.0 + t.blocks.first().map_or(0.0, keep));
    w.heading(&format!("{}  {}", t.id, t.title));
    for b in &t.blocks {
        block(w, fonts, t, b);
        w.space(3.0);
    }
    w.space(2.0);
    for f in &t.footer {
        w.paragraph(&format!("· {f}"), SMALL, false);
    }
    w.space(8.0);
}

/// The report's tables T1–T6 after its first paragraph (the window, the courses, the p marks).
pub fn tables(w: &mut Writer<'_>, fonts: &Fonts, r: &Report) {
    w.paragraph(&preamble(r), 8.5, false);
    w.space(4.0);
    for t in &r.tables {
        table(w, fonts, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_keeps_its_indent_and_numbers_get_their_full_width_when_there_is_room() {
        assert_eq!(indented("  <18"), "\u{a0}\u{a0}\u{a0}\u{a0}<18");
        assert_eq!(indented("Age group"), "Age group");
        let fonts = Fonts::new(None).expect("fonts");
        let titles = vec![String::new(), "SR n (%)".to_string()];
        let rows = vec![vec![
            "a long label that may wrap".to_string(),
            "12 (30.0%; 20.1–45.2)".to_string(),
        ]];
        let roomy = weights(&fonts, &titles, &rows, 500.0);
        assert!(roomy.iter().sum::<f32>() <= 500.0, "{roomy:?}");
        // Narrow: the label wraps, the number keeps its width.
        let narrow = weights(&fonts, &titles, &rows, 150.0);
        let number = fonts.width("12 (30.0%; 20.1–45.2)", SIZE, false);
        assert!(narrow[1] >= number + CELL_SIDES - 0.01, "{narrow:?}");
        assert!(narrow.iter().sum::<f32>() <= 150.01, "{narrow:?}");
    }
}
