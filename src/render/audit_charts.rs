//! The outcomes audit's pictures ([`crate::audit::chart`]) laid out as figures: SR incidence by
//! stratum and arm with 95 % intervals, and completion over time. The arms differ by marker
//! shape (square, triangle) and line (solid, dashed) as well as colour (blue, orange: told apart
//! in the common colour-vision deficiencies), and every number drawn is also in the figure's
//! description. The PDF ([`pdf`]) prints the counts and both figures as vector paths, then the
//! report's tables.

use chrono::NaiveDateTime;

use super::figure::{Anchor, Colour, Figure, Shape};
use super::pdf::{Fonts, Paper, PdfError, Writer};
use crate::audit::chart::{ARMS, Charts, Completion, arm_label};
use crate::audit::facts::Arm;
use crate::audit::facts::{CourseFacts, Excluded};
use crate::audit::report::Report;

/// What the report prints: the window, the audit date, the rows and the courses left out (the
/// ward's audit read, passed field by field: a renderer does not name the ward).
#[derive(Clone, Copy, Debug)]
pub struct Audit<'a> {
    /// The first rush day 1 counted.
    pub from: chrono::NaiveDate,
    /// The last rush day 1 counted.
    pub to: chrono::NaiveDate,
    /// The audit date.
    pub as_of: chrono::NaiveDate,
    /// One row per course.
    pub rows: &'a [CourseFacts],
    /// Courses in the window left out, with why.
    pub excluded: &'a [Excluded],
}

impl Audit<'_> {
    /// `from 2026-01-01 to 2026-03-31`, or `up to 2026-03-31` when the window has no start
    /// (it begins at the first date ritplan holds).
    pub fn window(&self) -> String {
        let open = chrono::Datelike::year(&self.from) <= crate::when::FIRST_YEAR
            && chrono::Datelike::ordinal(&self.from) == 1;
        if open {
            format!("up to {}", self.to)
        } else {
            format!("from {} to {}", self.from, self.to)
        }
    }
}

/// The width of both figures, units (the A4 page's text width, pt).
pub const WIDTH: f32 = 515.0;

const TEXT: Colour = Colour::BLACK;
const MUTED: Colour = Colour(80, 80, 80);

/// The arm's colour (each has a contrast of at least 4.5:1 on white).
fn colour(arm: Arm) -> Colour {
    match arm {
        Arm::Rit => Colour(31, 78, 121),
        Arm::RitOmbPre => Colour(166, 77, 0),
    }
}

/// The arm's line: solid for rush alone, dashed for the pretreated.
fn dash(arm: Arm) -> Option<(f32, f32)> {
    match arm {
        Arm::Rit => None,
        Arm::RitOmbPre => Some((4.0, 2.5)),
    }
}

/// The arm's short tag, printed beside each of its numbers.
pub fn tag(arm: Arm) -> &'static str {
    match arm {
        Arm::Rit => "RIT",
        Arm::RitOmbPre => "RIT+OMB",
    }
}

/// The arm's marker at (`x`, `y`): a square for rush alone, a triangle for the pretreated.
fn marker(arm: Arm, x: f32, y: f32, r: f32) -> Shape {
    let points = match arm {
        Arm::Rit => vec![
            (x - r, y - r),
            (x + r, y - r),
            (x + r, y + r),
            (x - r, y + r),
        ],
        Arm::RitOmbPre => vec![
            (x, y - r * 1.25),
            (x + r * 1.2, y + r),
            (x - r * 1.2, y + r),
        ],
    };
    Shape::Fill {
        points,
        colour: colour(arm),
    }
}

fn line(points: Vec<(f32, f32)>, width: f32, colour: Colour, dash: Option<(f32, f32)>) -> Shape {
    Shape::Line {
        points,
        width,
        colour,
        dash,
    }
}

fn text(x: f32, y: f32, t: impl Into<String>, size: f32, bold: bool, anchor: Anchor) -> Shape {
    Shape::Text {
        x,
        y,
        text: t.into(),
        size,
        bold,
        anchor,
        colour: TEXT,
    }
}

/// A share as a whole percent (`30 %`), one decimal under 1 % (`0.4 %`).
fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 1.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// The legend at `y`: each arm's marker, line and name.
fn legend(shapes: &mut Vec<Shape>, x: f32, y: f32, arms: &[(Arm, String)]) {
    let mut x = x;
    for (arm, words) in arms {
        shapes.push(line(
            vec![(x, y - 3.0), (x + 22.0, y - 3.0)],
            1.4,
            colour(*arm),
            dash(*arm),
        ));
        shapes.push(marker(*arm, x + 11.0, y - 3.0, 3.2));
        shapes.push(text(x + 27.0, y, words.clone(), 8.0, false, Anchor::Start));
        x += 27.0 + words.chars().count() as f32 * 4.6 + 18.0;
    }
}

/// SR incidence: per stratifier a heading, per level one row per arm with courses: a bar to
/// the share, the Wilson 95 % interval as a whisker, the marker at the share, and the counts.
pub fn sr_figure(c: &Charts) -> Figure {
    let (left, right) = (120.0, WIDTH - 112.0);
    let x_of = |share: f64| left + (right - left) * share.clamp(0.0, 1.0) as f32;
    let row_h = 12.0;
    let mut shapes = Vec::new();
    let mut desc = vec![
        "Share of courses with at least one systemic reaction, by stratum and arm, with the Wilson 95 % interval.".to_string(),
    ];
    shapes.push(text(
        0.0,
        11.0,
        "Systemic reactions: courses with any SR, by stratum and arm",
        10.0,
        true,
        Anchor::Start,
    ));
    let arms: Vec<(Arm, String)> = ARMS
        .iter()
        .map(|a| (*a, format!("{} ({})", arm_label(*a), tag(*a))))
        .collect();
    legend(&mut shapes, 0.0, 28.0, &arms);
    shapes.push(text(
        WIDTH,
        28.0,
        "whisker: 95 % interval (Wilson)",
        7.5,
        false,
        Anchor::End,
    ));
    let top = 38.0;
    let mut y = top;
    let mut grid_rows: Vec<(f32, f32)> = Vec::new();
    for s in &c.sr_incidence {
        y += 13.0;
        shapes.push(text(0.0, y - 2.0, s.name, 8.5, true, Anchor::Start));
        if s.levels.is_empty() {
            y += row_h;
            shapes.push(text(8.0, y - 3.0, "no course", 8.0, false, Anchor::Start));
            desc.push(format!("{}: no course.", s.name));
            continue;
        }
        let mut said = Vec::new();
        for l in &s.levels {
            let first = y;
            shapes.push(text(
                8.0,
                y + 8.5,
                l.label.clone(),
                8.0,
                false,
                Anchor::Start,
            ));
            let mut arms_said = Vec::new();
            for b in &l.bars {
                let mid = y + row_h / 2.0;
                let (x0, xs) = (x_of(0.0), x_of(b.share));
                // The bar, light, so the whisker over it stays visible.
                let Colour(r, g, bl) = colour(b.arm);
                let light = Colour(
                    255 - (255 - r) / 4,
                    255 - (255 - g) / 4,
                    255 - (255 - bl) / 4,
                );
                if xs > x0 {
                    shapes.push(Shape::Fill {
                        points: vec![
                            (x0, mid - 3.5),
                            (xs, mid - 3.5),
                            (xs, mid + 3.5),
                            (x0, mid + 3.5),
                        ],
                        colour: light,
                    });
                }
                let (lo, hi) = (x_of(b.low), x_of(b.high));
                shapes.push(line(
                    vec![(lo, mid), (hi, mid)],
                    1.2,
                    colour(b.arm),
                    dash(b.arm),
                ));
                for x in [lo, hi] {
                    shapes.push(line(
                        vec![(x, mid - 3.0), (x, mid + 3.0)],
                        1.2,
                        colour(b.arm),
                        None,
                    ));
                }
                shapes.push(marker(b.arm, xs, mid, 3.0));
                shapes.push(text(
                    right + 6.0,
                    mid + 3.0,
                    format!(
                        "{} {}/{} · {}",
                        tag(b.arm),
                        b.with_sr,
                        b.courses,
                        pct(b.share)
                    ),
                    7.5,
                    false,
                    Anchor::Start,
                ));
                arms_said.push(format!(
                    "{} {} of {} ({}; 95 % interval {} to {})",
                    arm_label(b.arm).to_lowercase(),
                    b.with_sr,
                    b.courses,
                    pct(b.share),
                    pct(b.low),
                    pct(b.high)
                ));
                y += row_h;
            }
            if l.censored > 0 {
                // Beside the level's counts: on a row of its own when no course was counted,
                // else in a short row under the last arm's.
                let words = format!("{} in up-dosing, not counted", l.censored);
                if l.bars.is_empty() {
                    shapes.push(text(
                        right + 6.0,
                        y + row_h / 2.0 + 3.0,
                        words,
                        7.5,
                        false,
                        Anchor::Start,
                    ));
                } else {
                    y += row_h * 0.8;
                    shapes.push(text(right + 6.0, y - 1.0, words, 7.0, false, Anchor::Start));
                }
                arms_said.push(format!(
                    "{} course(s) still in up-dosing at the audit date, not counted",
                    l.censored
                ));
            }
            if l.bars.is_empty() {
                y += row_h;
            }
            grid_rows.push((first, y));
            said.push(format!("{}: {}", l.label, arms_said.join(", ")));
        }
        desc.push(format!("{}: {}.", s.name, said.join("; ")));
    }
    let bottom = y + 4.0;
    // The grid and the axis, under the data (drawn first).
    let mut grid = Vec::new();
    for k in 0..=5 {
        let share = f64::from(k) / 5.0;
        let x = x_of(share);
        grid.push(line(
            vec![(x, top + 4.0), (x, bottom)],
            0.4,
            Colour::GRID,
            None,
        ));
        grid.push(text(
            x,
            bottom + 10.0,
            pct(share),
            7.5,
            false,
            Anchor::Middle,
        ));
    }
    grid.push(line(
        vec![(left, bottom), (right, bottom)],
        0.6,
        MUTED,
        None,
    ));
    grid.push(text(
        (left + right) / 2.0,
        bottom + 22.0,
        "courses with any systemic reaction (%)",
        8.0,
        false,
        Anchor::Middle,
    ));
    // Faint rules between levels, so each level's rows read together.
    for (_, end) in grid_rows {
        grid.push(line(
            vec![(0.0, end), (WIDTH, end)],
            0.3,
            Colour(230, 230, 230),
            None,
        ));
    }
    grid.extend(shapes);
    Figure {
        width: WIDTH,
        height: bottom + 28.0,
        title: "Systemic reactions by stratum and arm".into(),
        desc: desc.join(" "),
        shapes: grid,
    }
}

/// A round step for `max` days: about 6 ticks, in days or weeks.
fn day_step(max: i64) -> i64 {
    [1, 2, 5, 7, 14, 28, 56, 91, 182, 364, 728]
        .into_iter()
        .find(|s| max / s <= 7)
        .unwrap_or(1456)
}

/// Completion over time: per arm a step curve of the share that reached the target dose by
/// each day from rush day 1, its markers at the ticks (one arm's between the other's), and the
/// courses still in the denominator ("at risk") under each tick.
pub fn completion_figure(c: &Charts) -> Figure {
    let n_arms = c.completion.len().max(1) as f32;
    let (left, right, top, bottom) = (66.0, WIDTH - 10.0, 60.0, 230.0);
    let last = c
        .completion
        .iter()
        .map(|k| k.last_day)
        .max()
        .unwrap_or(0)
        .max(1);
    let step = day_step(last);
    let end = ((last + step - 1) / step).max(1) * step;
    let x_of = |d: i64| left + (right - left) * (d.clamp(0, end) as f32 / end as f32);
    let y_of = |share: f64| bottom - (bottom - top) * share.clamp(0.0, 1.0) as f32;
    let ticks: Vec<i64> = (0..=end / step).map(|i| i * step).collect();
    let mut shapes = Vec::new();
    for k in 0..=5 {
        let share = f64::from(k) / 5.0;
        let y = y_of(share);
        shapes.push(line(vec![(left, y), (right, y)], 0.4, Colour::GRID, None));
        shapes.push(text(
            left - 4.0,
            y + 2.5,
            pct(share),
            7.5,
            false,
            Anchor::End,
        ));
    }
    shapes.push(text(
        left - 30.0,
        top - 8.0,
        "courses at the target dose (%)",
        8.0,
        false,
        Anchor::Start,
    ));
    for &d in &ticks {
        let x = x_of(d);
        shapes.push(line(vec![(x, bottom), (x, bottom + 3.0)], 0.6, MUTED, None));
        shapes.push(text(
            x,
            bottom + 12.0,
            d.to_string(),
            7.5,
            false,
            Anchor::Middle,
        ));
    }
    shapes.push(line(
        vec![(left, top), (left, bottom), (right, bottom)],
        0.6,
        MUTED,
        None,
    ));
    shapes.push(text(
        (left + right) / 2.0,
        bottom + 24.0,
        "days from rush day 1",
        8.0,
        false,
        Anchor::Middle,
    ));
    shapes.push(text(
        0.0,
        11.0,
        "Completion: courses that reached the target dose, by day from rush day 1",
        10.0,
        true,
        Anchor::Start,
    ));
    let words = |k: &Completion| {
        format!(
            "{} ({}): {} courses, {} completed, {} stopped, {} censored",
            arm_label(k.arm),
            tag(k.arm),
            k.courses,
            k.completed,
            k.stopped,
            k.censored
        )
    };
    // One arm per legend line: the counts are long.
    for (i, k) in c.completion.iter().enumerate() {
        legend(
            &mut shapes,
            0.0,
            26.0 + 11.0 * i as f32,
            &[(k.arm, words(k))],
        );
    }
    let mut desc = vec![
        "Estimated share of courses that reached the target dose by each day after rush day 1 (product-limit estimate: a course still in up-dosing leaves the denominator after the audit date; a stopped course counts as not reaching it).".to_string(),
    ];
    if c.completion.is_empty() {
        shapes.push(text(
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "no course",
            9.0,
            false,
            Anchor::Middle,
        ));
        desc.push("No course.".into());
    }
    // The "at risk" rows.
    let risk_top = bottom + 38.0;
    if !c.completion.is_empty() {
        shapes.push(text(
            0.0,
            risk_top,
            "at risk (still in the denominator)",
            7.5,
            true,
            Anchor::Start,
        ));
    }
    for (i, k) in c.completion.iter().enumerate() {
        let y = risk_top + 10.0 * (i as f32 + 1.0);
        shapes.push(marker(k.arm, 4.0, y - 2.5, 2.4));
        shapes.push(text(10.0, y, tag(k.arm), 7.5, false, Anchor::Start));
        for &d in &ticks {
            shapes.push(text(
                x_of(d),
                y,
                k.at_risk(d).to_string(),
                7.5,
                false,
                Anchor::Middle,
            ));
        }
    }
    for (i, k) in c.completion.iter().enumerate() {
        let mut pts = vec![(x_of(0), y_of(0.0))];
        let mut share = 0.0;
        for s in &k.steps {
            pts.push((x_of(s.day), y_of(share)));
            share = s.share;
            pts.push((x_of(s.day), y_of(share)));
        }
        pts.push((x_of(k.last_day), y_of(share)));
        shapes.push(line(pts, 1.6, colour(k.arm), dash(k.arm)));
        // Markers at the ticks (the arms' offset so they do not hide each other), up to the
        // curve's end.
        let offset = (step as f32 * i as f32 / n_arms).round() as i64;
        for &d in &ticks {
            let d = d + offset;
            if d <= k.last_day {
                shapes.push(marker(k.arm, x_of(d), y_of(k.share_on(d)), 2.8));
            }
        }
        let said: Vec<String> = k
            .steps
            .iter()
            .map(|s| format!("day {}: {}", s.day, pct(s.share)))
            .collect();
        desc.push(format!(
            "{}: {}, followed to day {}.",
            words(k),
            if said.is_empty() {
                "none reached the target".to_string()
            } else {
                said.join(", ")
            },
            k.last_day
        ));
    }
    let rows = c.completion.len() as f32;
    Figure {
        width: WIDTH,
        height: risk_top + 10.0 * rows + 8.0,
        title: "Completion over time by arm".into(),
        desc: desc.join(" "),
        shapes,
    }
}

/// The counts, one sentence each: courses, by arm, completed, stopped, censored, excluded
/// with their reasons.
pub fn counts(f: &Audit<'_>) -> Vec<String> {
    let n = |p: &dyn Fn(&CourseFacts) -> bool| f.rows.iter().filter(|r| p(r)).count();
    use crate::audit::facts::Status;
    let mut out = vec![
        format!(
            "{} courses with rush day 1 {}, as of {}: {} rush immunotherapy alone, {} omalizumab-pretreated.",
            f.rows.len(),
            f.window(),
            f.as_of,
            n(&|r| r.arm == Arm::Rit),
            n(&|r| r.arm == Arm::RitOmbPre)
        ),
        format!(
            "{} completed, {} stopped, {} censored (still in up-dosing on {}); {} with a systemic reaction.",
            n(&|r| r.status == Status::Completed),
            n(&|r| r.status == Status::Stopped),
            n(&|r| r.status == Status::Censored),
            f.as_of,
            n(&|r| r.sr.count > 0)
        ),
        format!("{} excluded.", f.excluded.len()),
    ];
    for e in f.excluded {
        out.push(format!("Excluded: course {}: {}", e.course_id, e.reason));
    }
    out
}

/// The audit's PDF: the counts and both pictures as vector paths, then the report's tables
/// T1–T6 with their footers ([`super::audit_report`]), from a new page.
pub fn pdf(
    f: &Audit<'_>,
    c: &Charts,
    report: &Report,
    made: NaiveDateTime,
    training: bool,
    fonts: &Fonts,
    paper: Paper,
) -> Result<(Vec<u8>, Vec<String>), PdfError> {
    let header = format!(
        "{}Outcomes audit · rush day 1 {} · as of {}",
        if training {
            format!("{} · ", super::protocol::TRAINING)
        } else {
            String::new()
        },
        f.window(),
        f.as_of
    );
    let mut w = Writer::new(fonts, paper, false, &header);
    w.heading("Outcomes audit");
    for line in counts(f) {
        w.paragraph(&line, 9.0, false);
    }
    w.paragraph(
        "Observational data, not randomised: compare the arms with caution.",
        9.0,
        true,
    );
    w.space(6.0);
    w.figure(&sr_figure(c));
    w.space(10.0);
    w.figure(&completion_figure(c));
    w.paragraph(
        "Completion is a product-limit estimate of the time to the target dose: a course still in up-dosing on the audit date leaves the denominator after that day; a stopped course stays in it as one that did not reach the target.",
        8.0,
        false,
    );
    w.paragraph(
        &format!(
            "Made {} from the record: a later entry is not in this report.",
            made.format("%Y-%m-%d %H:%M")
        ),
        8.0,
        false,
    );
    w.new_page();
    super::audit_report::tables(&mut w, fonts, report);
    w.finish(
        "Outcomes audit",
        "ritplan outcomes audit · physicians only",
        made.date(),
    )
}

#[cfg(test)]
#[path = "audit_charts_tests.rs"]
mod tests;
