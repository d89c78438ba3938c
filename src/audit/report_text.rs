//! The audit report as text: each table's blocks aligned in columns, its notes and footer
//! wrapped to a width (100 columns by default). Pure: returns the text.

use super::report::{Block, Cell, DASH, Report, Table, Val};

/// The width the report is written for.
pub const WIDTH: usize = 100;

fn width_of(s: &str) -> usize {
    s.chars().count()
}

/// A number to a few places: 2 under 10, 1 under 100, none above.
fn short(x: f64) -> String {
    let a = x.abs();
    if a < 10.0 {
        format!("{x:.2}")
    } else if a < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn val(v: &Val<f64>, f: impl Fn(f64) -> String) -> String {
    match v {
        Val::Ok(x) => f(*x),
        Val::NotComputable { .. } => DASH.to_string(),
    }
}

/// A p-value: 3 places, `<0.001` below.
pub fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// One cell as text.
pub fn cell_text(c: &Cell, intervals: bool) -> String {
    match c {
        Cell::Blank => String::new(),
        Cell::Text { text } => text.clone(),
        Cell::Number { value } => val(value, |x| format!("{x:.2}")),
        Cell::N { n } => n.to_string(),
        Cell::Count {
            n,
            percent,
            wilson95,
            ..
        } => match (percent, wilson95) {
            (Val::Ok(p), Val::Ok(ci)) if intervals => format!(
                "{n} ({p:.1}%; {:.1}–{:.1})",
                100.0 * ci.low,
                100.0 * ci.high
            ),
            (Val::Ok(p), _) => format!("{n} ({p:.1}%)"),
            _ => format!("{n} ({DASH})"),
        },
        Cell::Events { n, percent, .. } => match percent {
            Val::Ok(p) => format!("{n} ({p:.2}%)"),
            _ => format!("{n} ({DASH})"),
        },
        Cell::Summary { median, q1, q3, .. } => match median {
            Val::Ok(m) => format!("{} ({}; {})", short(*m), val(q1, short), val(q3, short)),
            _ => DASH.to_string(),
        },
        Cell::P { test, p } => format!("{} {}", val(p, p_text), test.mark()),
        Cell::OddsRatio { or, haldane } => match or {
            Val::Ok(e) => format!(
                "{} ({}–{}){}",
                short(e.estimate),
                short(e.low),
                short(e.high),
                if *haldane { " h" } else { "" }
            ),
            _ => DASH.to_string(),
        },
        Cell::RiskDifference { rd } => match rd {
            Val::Ok(e) => format!(
                "{:.1} ({:.1}; {:.1})",
                100.0 * e.estimate,
                100.0 * e.low,
                100.0 * e.high
            ),
            _ => DASH.to_string(),
        },
    }
}

/// `text` wrapped to `width`, continuation lines indented by `indent` spaces.
fn wrap(out: &mut String, text: &str, first: &str, indent: usize, width: usize) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && width_of(&line) + 1 + width_of(word) > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn block(out: &mut String, b: &Block, width: usize) {
    if let Some(h) = &b.heading {
        wrap(out, h, "", 2, width);
    }
    if !b.rows.is_empty() {
        let mut grid: Vec<Vec<String>> = vec![b.columns.clone()];
        for r in &b.rows {
            let mut line = vec![r.label.clone()];
            line.extend(r.cells.iter().map(|c| cell_text(c, b.intervals_in_text)));
            grid.push(line);
        }
        let ncols = grid.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..ncols)
            .map(|j| {
                grid.iter()
                    .filter_map(|r| r.get(j))
                    .map(|s| width_of(s))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (i, r) in grid.iter().enumerate() {
            let mut line = String::new();
            for (j, w) in widths.iter().enumerate() {
                let s = r.get(j).map(String::as_str).unwrap_or("");
                let pad = w.saturating_sub(width_of(s));
                if j == 0 {
                    line.push_str(s);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(s);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
            if i == 0 {
                let total: usize =
                    widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
                out.push_str(&"-".repeat(total.min(width)));
                out.push('\n');
            }
        }
    }
    for n in &b.notes {
        wrap(out, n, "  ", 4, width);
    }
}

/// One table as text.
pub fn table_text(t: &Table, width: usize) -> String {
    let mut out = String::new();
    let title = format!("{}  {}", t.id, t.title);
    out.push_str(&title);
    out.push('\n');
    out.push_str(&"=".repeat(width_of(&title).min(width)));
    out.push('\n');
    for (i, b) in t.blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        block(&mut out, b, width);
    }
    out.push('\n');
    for f in &t.footer {
        wrap(&mut out, f, "  · ", 4, width);
    }
    out
}

/// The report's first paragraph: the window, the courses, and what the p marks mean.
pub fn preamble(r: &Report) -> String {
    format!(
        "Outcomes audit: rush day 1 from {} to {}, as of {}. {} course(s): {} analysed, {} censored, {} excluded. p marks: F Fisher, Y χ² Yates, X χ², R r×c χ², U Mann–Whitney, MH Mantel–Haenszel, BD Breslow–Day, CA Cochran–Armitage; — not computable (the JSON says why).",
        r.from,
        r.to,
        r.as_of,
        r.courses,
        r.analysed,
        r.censored,
        r.excluded.len()
    )
}

/// The whole report as text.
pub fn report_text(r: &Report, width: usize) -> String {
    let mut out = String::new();
    wrap(&mut out, &preamble(r), "", 0, width);
    for t in &r.tables {
        out.push('\n');
        out.push_str(&table_text(t, width));
    }
    out
}
