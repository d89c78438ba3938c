//! Tables: columns, row styles, and the grid drawn across pages with its header repeated.

use super::*;

/// Text alignment in a table column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left,
    /// Right.
    Right,
}

/// A table column.
#[derive(Clone, Debug)]
pub struct Column {
    /// Header text.
    pub title: String,
    /// Share of the table width (relative).
    pub weight: f32,
    /// Alignment.
    pub align: Align,
    /// Printed larger and bold: what a nurse reads at arm's length (name, dose, volume, vial).
    pub emphasis: bool,
}

/// A column.
pub fn col(title: &str, weight: f32, align: Align) -> Column {
    Column {
        title: title.into(),
        weight,
        align,
        emphasis: false,
    }
}

impl Column {
    /// The column printed larger and bold.
    pub fn emphasised(mut self) -> Column {
        self.emphasis = true;
        self
    }
}

/// How a table row is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RowStyle {
    /// Plain.
    #[default]
    Plain,
    /// Bold on a tinted background.
    Strong,
    /// One cell across the whole table, large, bold, tinted: DO NOT GIVE.
    Banner,
}

/// How much larger an emphasised column or a banner prints.
const EMPHASIS: f32 = 1.35;

/// A table's columns across the page: their widths, the cell padding, the leading and the
/// text size.
struct Grid<'c> {
    columns: &'c [Column],
    widths: Vec<f32>,
    pad: f32,
    lead: f32,
    size: f32,
}

impl Grid<'_> {
    /// The text size of a cell of `c`.
    fn cell_size(&self, c: &Column, header: bool) -> f32 {
        let size = self.size;
        if c.emphasis && !header {
            size * EMPHASIS
        } else {
            size
        }
    }

    /// A row's cells wrapped to their columns, and the row's height.
    fn layout(
        &self,
        w: &Writer<'_>,
        cells: &[String],
        bold: bool,
        header: bool,
    ) -> (Vec<Vec<String>>, f32) {
        let (widths, columns, pad, lead) = (&self.widths, self.columns, self.pad, self.lead);
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(widths)
            .zip(columns)
            .map(|((c, cw), column)| {
                let sz = self.cell_size(column, header);
                w.wrap(c, cw - 2.0 * pad, sz, bold || (column.emphasis && !header))
            })
            .collect();
        let h = wrapped
            .iter()
            .zip(columns)
            .map(|(l, c)| l.len().max(1) as f32 * self.cell_size(c, header) * 1.25)
            .fold(lead, f32::max);
        (wrapped, h + 2.0 * pad)
    }

    /// Draws a row's wrapped cells and its grid lines.
    fn draw_row(
        &self,
        w: &mut Writer<'_>,
        cells: &[Vec<String>],
        h: f32,
        bold: bool,
        header: bool,
    ) {
        let (widths, columns, pad) = (&self.widths, self.columns, self.pad);
        let top = w.y;
        let mut x = w.margin;
        for ((lines, cw), column) in cells.iter().zip(widths).zip(columns) {
            let sz = self.cell_size(column, header);
            let b = bold || (column.emphasis && !header);
            let mut y = top - pad;
            for l in lines {
                y -= sz * 1.25;
                let tx = match column.align {
                    Align::Left => x + pad,
                    Align::Right => x + cw - pad - w.fonts.width(l, sz, b),
                };
                w.text_at(tx, y + sz * 0.25, l, sz, b);
            }
            w.vline(x, top, top - h);
            x += cw;
        }
        w.vline(x, top, top - h);
        let (x0, x1) = (w.margin, x);
        w.hline(x0, x1, top - h, if bold { 1.0 } else { 0.4 });
        w.y = top - h;
    }

    /// Draws the header row, with the rule above it.
    fn draw_header(&self, w: &mut Writer<'_>, header: &[Vec<String>], header_h: f32) {
        let widths = &self.widths;
        let top = w.y;
        let x1 = w.margin + widths.iter().sum::<f32>();
        let x0 = w.margin;
        w.hline(x0, x1, top, 1.0);
        self.draw_row(w, header, header_h, true, true);
    }
}

impl Writer<'_> {
    /// A table with a grid; the header row is repeated on every page the table spans. Cells
    /// wrap (at word boundaries); `min_row` keeps rows tall enough to write in by hand;
    /// emphasised columns print larger and bold; a `Strong` row prints bold on a tinted
    /// background, a `Banner` row as one large cell across the table (what must not be missed).
    pub fn table(
        &mut self,
        columns: &[Column],
        rows: &[Vec<String>],
        styles: &[RowStyle],
        size: f32,
        min_row: f32,
    ) {
        self.table_continued(columns, rows, styles, size, min_row, None);
    }

    /// [`Writer::table`], with `continued` (the table's name, "… (continued)") printed in bold
    /// above the header row it repeats on each page after the first: a reader of the second
    /// page knows which table the rows belong to.
    pub fn table_continued(
        &mut self,
        columns: &[Column],
        rows: &[Vec<String>],
        styles: &[RowStyle],
        size: f32,
        min_row: f32,
        continued: Option<&str>,
    ) {
        let total: f32 = columns.iter().map(|c| c.weight).sum();
        let widths: Vec<f32> = columns
            .iter()
            .map(|c| c.weight / total * self.content_width())
            .collect();
        let pad = 2.5;
        let lead = size * 1.25;
        let grid = Grid {
            columns,
            widths,
            pad,
            lead,
            size,
        };
        let titles: Vec<String> = columns.iter().map(|c| c.title.clone()).collect();
        let (header, header_h) = grid.layout(self, &titles, true, true);
        self.ensure(header_h + min_row.max(lead + 2.0 * pad));
        grid.draw_header(self, &header, header_h);
        let table_width = grid.widths.iter().sum::<f32>();
        for (i, row) in rows.iter().enumerate() {
            let style = styles.get(i).copied().unwrap_or_default();
            let bold = style != RowStyle::Plain;
            if style == RowStyle::Banner {
                self.banner(&grid, row, min_row, (&header, header_h), continued);
                continue;
            }
            let (cells, h) = grid.layout(self, row, bold, false);
            let h = h.max(min_row);
            if self.ensure(h) {
                self.continue_table(&grid, (&header, header_h), continued);
            }
            if bold {
                self.tint(self.margin, self.y - h, table_width, h);
            }
            grid.draw_row(self, &cells, h, bold, false);
        }
        self.y -= 4.0;
    }

    /// On the page a table continues on: its name (when given) and its header row.
    fn continue_table(
        &mut self,
        grid: &Grid<'_>,
        (header, header_h): (&[Vec<String>], f32),
        continued: Option<&str>,
    ) {
        if let Some(name) = continued {
            self.paragraph(name, grid.size, true);
            self.space(2.0);
        }
        grid.draw_header(self, header, header_h);
    }

    /// A `Banner` row: one large bold cell across the table, on a tinted background.
    fn banner(
        &mut self,
        grid: &Grid<'_>,
        row: &[String],
        min_row: f32,
        header: (&[Vec<String>], f32),
        continued: Option<&str>,
    ) {
        let (size, pad) = (grid.size, grid.pad);
        let table_width = grid.widths.iter().sum::<f32>();
        let text = row
            .iter()
            .filter(|c| !c.trim().is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("  ·  ");
        let sz = size * EMPHASIS;
        let lines = self.wrap(&text, table_width - 2.0 * pad, sz, true);
        let h = (lines.len().max(1) as f32 * sz * 1.25 + 2.0 * pad).max(min_row);
        if self.ensure(h) {
            self.continue_table(grid, header, continued);
        }
        let top = self.y;
        self.tint(self.margin, top - h, table_width, h);
        let mut y = top - pad;
        for l in &lines {
            y -= sz * 1.25;
            self.text_at(self.margin + pad, y + sz * 0.25, l, sz, true);
        }
        let (x0, x1) = (self.margin, self.margin + table_width);
        self.vline(x0, top, top - h);
        self.vline(x1, top, top - h);
        self.hline(x0, x1, top - h, 1.0);
        self.y = top - h;
    }

    /// A tinted rectangle (the background of what must not be missed).
    fn tint(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.ops().extend([
            Op::SetFillColor {
                col: Color::Rgb(Rgb {
                    r: 1.0,
                    g: 0.85,
                    b: 0.85,
                    icc_profile: None,
                }),
            },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(width),
                    height: Pt(height),
                    mode: Some(printpdf::PaintMode::Fill),
                    winding_order: None,
                },
            },
            Op::SetFillColor {
                col: Color::Rgb(Rgb {
                    r: 0.0,
                    g: 0.0,
                    b: 0.0,
                    icc_profile: None,
                }),
            },
        ]);
    }
}
