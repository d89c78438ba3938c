//! Labels: the patient's (a wristband or card: name, date of birth and ID in text, and the ID
//! as a Code 128 and a Data Matrix) and a vial's (the patient, the product, the vial's number,
//! strength and cap colour in words, its lot and expiry, and its code printed large and as a
//! Data Matrix). Codes are drawn as vector shapes so that a printer prints them at its own
//! resolution.
//!
//! Sizes: the symbologies' quiet zones (10 modules each side of a Code 128, 1 module round a
//! Data Matrix, here 2) lie inside the label, and no module is narrower than
//! [`MIN_MODULE_MM`] (three dots of a 300 dpi printer). A label too small for its text or its
//! codes is refused, saying so; nothing is shrunk below that or cut off.

use printpdf::{
    Color, LinePoint, Mm, Op, PaintMode, PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt,
    Rect, Rgb, WindingOrder,
};

use crate::render::pdf::{Fonts, PdfError, document, text_ops};
use crate::ward::view::{VialLabels, VialView};

/// The narrowest module (Code 128 narrow bar, Data Matrix module), mm: 3 dots at 300 dpi.
pub const MIN_MODULE_MM: f32 = 0.25;

/// The smallest text on a vial label, pt.
pub const MIN_VIAL_TEXT_PT: f32 = 6.0;

/// What to print on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LabelSize {
    /// One label of this width and height, mm.
    Label {
        /// Width, mm.
        width: u16,
        /// Height, mm.
        height: u16,
    },
    /// An A4 sheet of labels of the default size for their kind, with cutting guides.
    A4Sheet,
}

impl LabelSize {
    /// The default patient label: 50 × 25 mm.
    pub const DEFAULT: LabelSize = LabelSize::Label {
        width: 50,
        height: 25,
    };
    /// The default vial label: 64 × 32 mm (the product's name and the vial's strength and
    /// colour stay at 6 pt or more).
    pub const VIAL: LabelSize = LabelSize::Label {
        width: 64,
        height: 32,
    };
}

/// How labels of one size lie on an A4 sheet: their size, mm, and how many across and down.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Grid {
    w: f32,
    h: f32,
    cols: u8,
    rows: u8,
}

/// Patient labels on A4: 4 × 10 of 50 × 25 mm.
const PATIENT_GRID: Grid = Grid {
    w: 50.0,
    h: 25.0,
    cols: 4,
    rows: 10,
};

/// Vial labels on A4: 3 × 8 of 64 × 32 mm.
const VIAL_GRID: Grid = Grid {
    w: 64.0,
    h: 32.0,
    cols: 3,
    rows: 8,
};

/// Why a label cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    /// A font or glyph problem.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// A value cannot be put in a code.
    #[error("{what} cannot be printed as a {symbology}: {why}")]
    Code {
        /// What was to be encoded (e.g. `the patient ID "P1"`).
        what: String,
        /// Code 128 or Data Matrix.
        symbology: &'static str,
        /// Why not.
        why: String,
    },
    /// The label is too small for what must be on it.
    #[error("a {width} × {height} mm label is too small for {what}; choose a larger --size")]
    TooSmall {
        /// Label width, mm.
        width: f32,
        /// Label height, mm.
        height: f32,
        /// What does not fit.
        what: String,
    },
    /// There is no label to print.
    #[error("there is no label to print")]
    Empty,
}

/// What the label shows (the patient's record, as the ward gives it).
#[derive(Clone, Debug)]
pub struct LabelPatient<'a> {
    /// The clinic's patient ID (encoded in both codes).
    pub id: &'a str,
    /// The name as the clinic writes it.
    pub name: &'a str,
    /// Date of birth.
    pub dob: chrono::NaiveDate,
}

const PT_PER_MM: f32 = 72.0 / 25.4;

fn pt(mm: f32) -> f32 {
    mm * PT_PER_MM
}

/// The label as a PDF (one page; an A4 sheet for [`LabelSize::A4Sheet`]): the bytes and the
/// PDF writer's warnings. `made` dates the document, so the same inputs give the same bytes.
pub fn pdf(
    p: &LabelPatient<'_>,
    size: LabelSize,
    training: bool,
    fonts: &Fonts,
    made: chrono::NaiveDate,
) -> Result<(Vec<u8>, Vec<String>), LabelError> {
    let (w, h) = label_mm(size, PATIENT_GRID);
    let label = patient_label(p, w, h, training, fonts)?;
    // A sheet of patient labels is one page of the same label.
    let labels = match size {
        LabelSize::Label { .. } => vec![label],
        LabelSize::A4Sheet => {
            vec![label; usize::from(PATIENT_GRID.cols) * usize::from(PATIENT_GRID.rows)]
        }
    };
    Ok(pages(
        &format!("Label {}", p.id),
        &labels,
        size,
        PATIENT_GRID,
        fonts,
        made,
    ))
}

/// The labels of a course's active vials as a PDF: one page per label of the given size, or
/// A4 sheets of [`VIAL_GRID`] labels, one label per vial. Refused when there is none.
pub fn vials_pdf(
    l: &VialLabels,
    size: LabelSize,
    training: bool,
    fonts: &Fonts,
    made: chrono::NaiveDate,
) -> Result<(Vec<u8>, Vec<String>), LabelError> {
    if l.active.is_empty() {
        return Err(LabelError::Empty);
    }
    let (w, h) = label_mm(size, VIAL_GRID);
    let labels = l
        .active
        .iter()
        .map(|v| vial_label(l, v, w, h, training, fonts))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pages(
        &format!("Vial labels, course {} ({})", l.course, l.patient),
        &labels,
        size,
        VIAL_GRID,
        fonts,
        made,
    ))
}

/// A label's width and height, mm: the size given, or the grid's for an A4 sheet.
fn label_mm(size: LabelSize, grid: Grid) -> (f32, f32) {
    match size {
        LabelSize::Label { width, height } => (f32::from(width), f32::from(height)),
        LabelSize::A4Sheet => (grid.w, grid.h),
    }
}

/// The document: a page per label of a label size, or A4 pages of `grid` (centred, each label
/// outlined for cutting) filled in reading order from the top.
fn pages(
    title: &str,
    labels: &[Vec<Op>],
    size: LabelSize,
    grid: Grid,
    fonts: &Fonts,
    made: chrono::NaiveDate,
) -> (Vec<u8>, Vec<String>) {
    let pages: Vec<PdfPage> = match size {
        LabelSize::Label { width, height } => labels
            .iter()
            .map(|ops| PdfPage::new(Mm(f32::from(width)), Mm(f32::from(height)), ops.clone()))
            .collect(),
        LabelSize::A4Sheet => {
            let per_page = usize::from(grid.cols) * usize::from(grid.rows);
            labels
                .chunks(per_page.max(1))
                .map(|chunk| PdfPage::new(Mm(210.0), Mm(297.0), sheet_ops(chunk, grid)))
                .collect()
        }
    };
    let mut doc = document(title, made, fonts);
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    (bytes, warnings.iter().map(|w| format!("{w:?}")).collect())
}

/// One A4 page of up to `grid.cols × grid.rows` labels: row by row from the bottom left, as
/// the patient's sheet always was (every cell holds the same label there).
fn sheet_ops(labels: &[Vec<Op>], g: Grid) -> Vec<Op> {
    let (x0, y0) = (
        (210.0 - g.w * f32::from(g.cols)) / 2.0,
        (297.0 - g.h * f32::from(g.rows)) / 2.0,
    );
    let mut ops = vec![
        Op::SetOutlineColor { col: grey() },
        Op::SetOutlineThickness { pt: Pt(0.25) },
    ];
    // Labels fill the sheet from the top row down; the cells are drawn bottom row first.
    let cells = (0..g.rows)
        .flat_map(|r| (0..g.cols).map(move |c| (r, c)))
        .map(|(r, c)| {
            let top_index = usize::from(g.rows - 1 - r) * usize::from(g.cols) + usize::from(c);
            (r, c, top_index)
        });
    for (r, c, i) in cells {
        let Some(label) = labels.get(i) else {
            continue;
        };
        let (x, y) = (x0 + g.w * f32::from(c), y0 + g.h * f32::from(r));
        ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(pt(x)),
                y: Pt(pt(y)),
                width: Pt(pt(g.w)),
                height: Pt(pt(g.h)),
                mode: Some(PaintMode::Stroke),
                winding_order: None,
            },
        });
        ops.push(Op::SaveGraphicsState);
        ops.push(Op::SetTransformationMatrix {
            matrix: printpdf::CurTransMat::Translate(Mm(x).into_pt(), Mm(y).into_pt()),
        });
        ops.extend(label.iter().cloned());
        ops.push(Op::RestoreGraphicsState);
    }
    ops
}

fn grey() -> Color {
    Color::Rgb(Rgb {
        r: 0.6,
        g: 0.6,
        b: 0.6,
        icc_profile: None,
    })
}

fn black() -> Color {
    Color::Rgb(Rgb {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        icc_profile: None,
    })
}

/// The margin inside a label, mm.
const MARGIN: f32 = 1.5;

/// Refuses text with a character no font has, naming it.
fn check_glyphs(fonts: &Fonts, texts: &[&str]) -> Result<(), LabelError> {
    for text in texts {
        if let Some(ch) = fonts.missing(text) {
            return Err(PdfError::MissingGlyph {
                ch,
                code: ch as u32,
                context: text.chars().take(80).collect(),
            }
            .into());
        }
    }
    Ok(())
}

/// "born DATE", and TRAINING on a training record's label.
fn born(dob: chrono::NaiveDate, training: bool) -> String {
    format!(
        "born {}{}",
        dob.format("%Y-%m-%d"),
        if training { " · TRAINING" } else { "" }
    )
}

/// A Data Matrix placed on a label: its modules, their size and its top left corner (mm,
/// the quiet zone outside it).
struct PlacedMatrix {
    bitmap: datamatrix::placement::Bitmap<bool>,
    module: f32,
    /// Its width with the quiet zone of two modules each side, mm.
    outer: f32,
}

impl PlacedMatrix {
    /// `text` as a square Data Matrix whose side with its quiet zone is at most `side` mm
    /// (modules at most `max_module` mm); refused when the modules would be narrower than
    /// [`MIN_MODULE_MM`].
    fn fit(
        text: &str,
        what: &str,
        side: f32,
        max_module: f32,
        too_small: impl Fn(String) -> LabelError,
    ) -> Result<PlacedMatrix, LabelError> {
        let bitmap = datamatrix::DataMatrix::encode_str(
            text,
            datamatrix::SymbolList::default().enforce_square(),
        )
        .map_err(|e| LabelError::Code {
            what: format!("{what} {text:?}"),
            symbology: "Data Matrix",
            why: format!("{e:?}"),
        })?
        .bitmap();
        let cells = bitmap.width().max(bitmap.height()) as f32 + 4.0;
        let module = (side / cells).min(max_module);
        if module < MIN_MODULE_MM {
            return Err(too_small(format!(
                "the Data Matrix of {what} {text:?} ({cells} modules with its quiet zone)"
            )));
        }
        Ok(PlacedMatrix {
            bitmap,
            module,
            outer: cells * module,
        })
    }

    /// Its drawing with the top left corner of its quiet zone at (`x`, `top`) mm.
    fn ops(&self, x: f32, top: f32) -> Op {
        Op::DrawPolygon {
            polygon: outline(
                &self.bitmap,
                x + 2.0 * self.module,
                top - 2.0 * self.module,
                self.module,
            ),
        }
    }
}

/// A Code 128 of `id` across the label's width `w` (quiet zones inside), its bars' height and
/// their lower left corner.
struct PlacedCode128 {
    bars: Vec<u8>,
    narrow: f32,
    height: f32,
    x: f32,
    y: f32,
}

impl PlacedCode128 {
    fn fit(
        id: &str,
        w: f32,
        h: f32,
        x: f32,
        y: f32,
        too_small: impl Fn(String) -> LabelError,
    ) -> Result<PlacedCode128, LabelError> {
        let bars = code128(id)?;
        let modules = bars.len() as f32 + 20.0;
        let narrow = ((w - 2.0 * MARGIN) / modules).min(0.5);
        if narrow < MIN_MODULE_MM {
            return Err(too_small(format!(
                "the Code 128 of the ID {:?} ({} modules with its quiet zones need {:.0} mm at {MIN_MODULE_MM} mm)",
                id,
                modules,
                (modules * MIN_MODULE_MM + 2.0 * MARGIN).ceil()
            )));
        }
        Ok(PlacedCode128 {
            height: (h * 0.32).clamp(5.0, 15.0),
            x: x + (w - bars.len() as f32 * narrow) / 2.0,
            y: y + MARGIN,
            narrow,
            bars,
        })
    }

    /// Each run of dark modules one rectangle.
    fn ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut i = 0;
        while i < self.bars.len() {
            if self.bars[i] == 1 {
                let start = i;
                while i < self.bars.len() && self.bars[i] == 1 {
                    i += 1;
                }
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Pt(pt(self.x + start as f32 * self.narrow)),
                        y: Pt(pt(self.y)),
                        width: Pt(pt((i - start) as f32 * self.narrow)),
                        height: Pt(pt(self.height)),
                        mode: Some(PaintMode::Fill),
                        winding_order: None,
                    },
                });
            } else {
                i += 1;
            }
        }
        ops
    }
}

/// The patient's label of `w` × `h` mm: the text at the top left, the Data Matrix at the top
/// right, the Code 128 along the bottom.
fn patient_label(
    p: &LabelPatient<'_>,
    w: f32,
    h: f32,
    training: bool,
    fonts: &Fonts,
) -> Result<Vec<Op>, LabelError> {
    let too_small = |what: String| LabelError::TooSmall {
        width: w,
        height: h,
        what,
    };
    let dob = born(p.dob, training);
    let id_line = format!("ID {}", p.id);
    check_glyphs(fonts, &[p.name, dob.as_str(), id_line.as_str()])?;

    // The Code 128 along the bottom, across the whole width, its quiet zones inside.
    let bars = PlacedCode128::fit(p.id, w, h, 0.0, 0.0, too_small)?;
    // The Data Matrix at the top right, with a quiet zone of two modules.
    let text_top = h - MARGIN;
    let area_h = text_top - (bars.y + bars.height) - 1.0;
    let dm = PlacedMatrix::fit(p.id, "the ID", area_h.min(w * 0.3), 0.6, too_small)?;

    // The text to the left of the Data Matrix.
    let text = patient_text(
        p.name,
        &dob,
        &id_line,
        pt(w - 2.0 * MARGIN - dm.outer),
        pt(area_h),
        fonts,
    )
    .map_err(too_small)?;
    let mut ops = vec![Op::SetFillColor { col: black() }];
    let left = pt(MARGIN);
    let mut baseline = pt(text_top) - text.name * 0.95;
    ops.extend(text_ops(fonts, left, baseline, p.name, text.name, true));
    baseline -= lead(text.small) + text.name * 0.2;
    ops.extend(text_ops(fonts, left, baseline, &dob, text.small, false));
    baseline -= lead(text.small);
    ops.extend(text_ops(fonts, left, baseline, &id_line, text.small, true));
    ops.extend(bars.ops());
    ops.push(dm.ops(w - MARGIN - dm.outer, text_top));
    Ok(ops)
}

fn lead(size: f32) -> f32 {
    size * 1.15
}

/// The patient label's font sizes, pt: the name's and the two lines' under it.
struct PatientText {
    name: f32,
    small: f32,
}

/// The name as large as fits a text area `text_w` × `area` pt, with the date of birth and ID
/// lines under it; what does not fit at 6 pt (5 pt for the small lines), named.
fn patient_text(
    name: &str,
    dob: &str,
    id_line: &str,
    text_w: f32,
    area: f32,
    fonts: &Fonts,
) -> Result<PatientText, String> {
    let mut small = (area * 0.2).clamp(5.0, 11.0);
    while (fonts.width(dob, small, false) > text_w || fonts.width(id_line, small, true) > text_w)
        && small > 5.0
    {
        small = (small - 0.25).max(5.0);
    }
    let mut name_size = (area * 0.4).clamp(6.0, 20.0);
    while fonts.width(name, name_size, true) > text_w && name_size > 6.0 {
        name_size = (name_size - 0.5).max(6.0);
    }
    if fonts.width(name, name_size, true) > text_w {
        return Err(format!("the name {name:?} at 6 pt"));
    }
    for (text, bold) in [(dob, false), (id_line, true)] {
        if fonts.width(text, small, bold) > text_w {
            return Err(format!("{text:?}"));
        }
    }
    // The name's height, the two lines under it, and the last line's descent, within the area.
    let room = (area - 2.0 * lead(small) - small * 0.3) / 1.15;
    name_size = name_size.min(room);
    if name_size < 6.0 {
        return Err("the name, date of birth and ID".to_string());
    }
    Ok(PatientText {
        name: name_size,
        small,
    })
}

/// A line of a vial label: its text, preferred size (pt) and weight; long lines wrap at
/// spaces.
struct Line {
    text: String,
    size: f32,
    bold: bool,
}

/// A line of text placed: the left x and baseline (pt), the text, its size and weight.
type Placed = (f32, f32, String, f32, bool);

/// Where a label's text goes, pt: from `top` down to `bottom`, from `left`, each physical line
/// `full` wide, or `narrow` once it reaches below `narrow_below` (beside a code).
struct Area {
    left: f32,
    top: f32,
    bottom: f32,
    full: f32,
    narrow: f32,
    narrow_below: f32,
}

/// Lays `lines` out in `area`, wrapping at spaces, every size scaled by the largest factor (1,
/// 0.95, ...) that lets all fit, none under [`MIN_VIAL_TEXT_PT`]. `None` when nothing fits.
fn flow(fonts: &Fonts, lines: &[Line], area: &Area) -> Option<Vec<Placed>> {
    let mut scale = 1.0f32;
    loop {
        if let Some(placed) = flow_at(fonts, lines, scale, area) {
            return Some(placed);
        }
        if lines.iter().all(|l| l.size * scale <= MIN_VIAL_TEXT_PT) {
            return None;
        }
        scale -= 0.05;
    }
}

/// [`flow`] at one scale.
fn flow_at(fonts: &Fonts, lines: &[Line], scale: f32, area: &Area) -> Option<Vec<Placed>> {
    let mut placed = Vec::new();
    let mut cursor = area.top;
    for l in lines {
        let size = (l.size * scale).max(MIN_VIAL_TEXT_PT);
        let mut words = l.text.split(' ').filter(|w| !w.is_empty()).peekable();
        while words.peek().is_some() {
            let baseline = cursor - size * 0.92;
            let descent = baseline - size * 0.24;
            let width = if descent < area.narrow_below {
                area.narrow
            } else {
                area.full
            };
            let mut text = String::new();
            while let Some(word) = words.peek() {
                let candidate = if text.is_empty() {
                    (*word).to_string()
                } else {
                    format!("{text} {word}")
                };
                if fonts.width(&candidate, size, l.bold) > width {
                    break;
                }
                text = candidate;
                words.next();
            }
            if text.is_empty() || descent < area.bottom {
                // A word wider than the line, or no room left.
                return None;
            }
            placed.push((area.left, baseline, text, size, l.bold));
            cursor = descent - size * 0.02;
        }
    }
    Some(placed)
}

/// "Vial 4 · 100 000 SQ-U/mL · cap red": the vial, its strength with the unit, and its
/// colour in words (status never by colour alone).
fn vial_line(v: &VialView) -> String {
    format!("{} · {} · cap {}", v.label, v.strength, v.cap)
}

/// "Lot AB123 · expires 2027-03-01 (lot expiry 2027-03-31)": the lot and the effective
/// expiry, with the lot's date when the clinic's policy made it earlier.
fn lot_line(v: &VialView) -> String {
    let mut s = format!("Lot {} · expires {}", v.lot, v.expires.format("%Y-%m-%d"));
    if v.lot_expires != v.expires {
        s.push_str(&format!(
            " (lot expiry {})",
            v.lot_expires.format("%Y-%m-%d")
        ));
    }
    s
}

/// A vial's label of `w` × `h` mm: the patient, product, vial and lot lines from the top, the
/// vial's code printed large at the bottom left and as a Data Matrix at the bottom right.
fn vial_label(
    l: &VialLabels,
    v: &VialView,
    w: f32,
    h: f32,
    training: bool,
    fonts: &Fonts,
) -> Result<Vec<Op>, LabelError> {
    let too_small = |what: String| LabelError::TooSmall {
        width: w,
        height: h,
        what,
    };
    // Text sized for the default label, larger on a taller one.
    let grow = (h / 32.0).clamp(1.0, 3.0);
    let lines = [
        Line {
            text: l.name.clone(),
            size: 10.0 * grow,
            bold: true,
        },
        Line {
            text: format!(
                "born {} · ID {}{}",
                l.dob.format("%Y-%m-%d"),
                l.patient,
                if training { " · TRAINING" } else { "" }
            ),
            size: 7.5 * grow,
            bold: false,
        },
        Line {
            text: l.product.clone(),
            size: 7.0 * grow,
            bold: false,
        },
        Line {
            text: vial_line(v),
            size: 8.5 * grow,
            bold: true,
        },
        Line {
            text: lot_line(v),
            size: 7.5 * grow,
            bold: false,
        },
    ];
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    check_glyphs(fonts, &texts)?;

    // The Data Matrix at the bottom right, with its quiet zone.
    let dm = PlacedMatrix::fit(
        &v.code,
        "the vial code",
        (h * 0.45).min(w * 0.3),
        0.6 * grow,
        too_small,
    )?;
    let dm_x = w - MARGIN - dm.outer;
    let dm_top = MARGIN + dm.outer;
    // The code in text at the bottom left, as large as fits beside the Data Matrix.
    let beside = pt(dm_x - MARGIN - 1.0);
    let mut code_size = pt(dm.outer * 0.7).min(14.0 * grow);
    while fonts.width(&v.code, code_size, true) > beside && code_size > 8.0 {
        code_size -= 0.5;
    }
    if fonts.width(&v.code, code_size, true) > beside {
        return Err(too_small(format!("the vial code {:?} at 8 pt", v.code)));
    }
    let code_baseline = pt(MARGIN) + code_size * 0.25;
    // Text down to the code's capitals, a gap above them.
    let text_bottom = code_baseline + code_size * 0.75 + 2.0;
    let area = Area {
        left: pt(MARGIN),
        top: pt(h - MARGIN),
        bottom: text_bottom,
        full: pt(w - 2.0 * MARGIN),
        narrow: beside,
        narrow_below: pt(dm_top + 0.5),
    };
    let placed = flow(fonts, &lines, &area).ok_or_else(|| {
        too_small(format!(
            "the patient, product, vial and lot at {MIN_VIAL_TEXT_PT} pt or more"
        ))
    })?;

    let mut ops = vec![Op::SetFillColor { col: black() }];
    for (x, baseline, text, size, bold) in &placed {
        ops.extend(text_ops(fonts, *x, *baseline, text, *size, *bold));
    }
    ops.extend(text_ops(
        fonts,
        pt(MARGIN),
        code_baseline,
        &v.code,
        code_size,
        true,
    ));
    ops.push(dm.ops(dm_x, dm_top));
    Ok(ops)
}

/// The Code 128 modules (1 dark, 0 light) of `id`, in set B, switching to set C for a run of
/// four or more digits (shorter, so wider bars fit).
fn code128(id: &str) -> Result<Vec<u8>, LabelError> {
    let bad = |why: String| LabelError::Code {
        what: format!("the patient ID {id:?}"),
        symbology: "Code 128",
        why,
    };
    if id.is_empty() || !id.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(bad("only printable ASCII characters can be encoded".into()));
    }
    let chars: Vec<char> = id.chars().collect();
    let mut data = String::new();
    let mut set = ' ';
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 4 {
            let (odd, pairs) = (run % 2, run - run % 2);
            if odd == 1 {
                if set != 'B' {
                    data.push('\u{0181}');
                    set = 'B';
                }
                data.push(chars[i]);
                i += 1;
            }
            if set != 'C' {
                data.push('\u{0106}');
                set = 'C';
            }
            data.extend(&chars[i..i + pairs]);
            i += pairs;
        } else {
            if set != 'B' {
                data.push('\u{0181}');
                set = 'B';
            }
            data.push(chars[i]);
            i += 1;
        }
    }
    barcoders::sym::code128::Code128::new(&data)
        .map(|c| c.encode())
        .map_err(|e| bad(format!("{e:?}")))
}

/// The Data Matrix's outline path, scaled to `module` mm, its top left corner at (`x`, `top`)
/// mm (the bitmap's rows run downwards, the page's y upwards).
fn outline(bitmap: &datamatrix::placement::Bitmap<bool>, x: f32, top: f32, module: f32) -> Polygon {
    use datamatrix::placement::PathSegment;
    let point = |cx: i32, cy: i32| LinePoint {
        p: Point {
            x: Pt(pt(x + cx as f32 * module)),
            y: Pt(pt(top - cy as f32 * module)),
        },
        bezier: false,
    };
    let (mut cx, mut cy) = (0i32, 0i32);
    let (mut sx, mut sy) = (0i32, 0i32);
    let mut rings = Vec::new();
    let mut ring = vec![point(0, 0)];
    for seg in bitmap.path() {
        match seg {
            PathSegment::Horizontal(d) => {
                cx += i32::from(d);
                ring.push(point(cx, cy));
            }
            PathSegment::Vertical(d) => {
                cy += i32::from(d);
                ring.push(point(cx, cy));
            }
            PathSegment::Close => {
                (cx, cy) = (sx, sy);
                if ring.len() > 1 {
                    rings.push(PolygonRing {
                        points: std::mem::take(&mut ring),
                    });
                }
                ring = vec![point(cx, cy)];
            }
            PathSegment::Move(dx, dy) => {
                cx += i32::from(dx);
                cy += i32::from(dy);
                (sx, sy) = (cx, cy);
                ring = vec![point(cx, cy)];
            }
        }
    }
    if ring.len() > 1 {
        rings.push(PolygonRing { points: ring });
    }
    Polygon {
        rings,
        mode: PaintMode::Fill,
        winding_order: WindingOrder::EvenOdd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> LabelPatient<'static> {
        LabelPatient {
            id: "P-000123",
            name: "José Núñez",
            dob: chrono::NaiveDate::from_ymd_opt(1990, 5, 1).expect("date"),
        }
    }

    fn d() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 7).expect("date")
    }

    #[test]
    fn a_label_has_one_page_with_the_name_dob_and_id() {
        let fonts = Fonts::new(None).expect("fonts");
        let (bytes, _) = pdf(&patient(), LabelSize::DEFAULT, false, &fonts, d()).expect("pdf");
        let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
        assert_eq!(pages.len(), 1);
        let text = pages[0].join("\n");
        for s in ["José Núñez", "born 1990-05-01", "ID P-000123"] {
            assert!(text.contains(s), "{s} in {text}");
        }
        assert!(!text.contains("TRAINING"));
    }

    #[test]
    fn a_training_label_says_so() {
        let fonts = Fonts::new(None).expect("fonts");
        let (bytes, _) = pdf(&patient(), LabelSize::DEFAULT, true, &fonts, d()).expect("pdf");
        let text = crate::render::pdf::extract_text(&bytes).expect("parse")[0].join("\n");
        assert!(text.contains("TRAINING"), "{text}");
    }

    #[test]
    fn code_128_uses_set_c_for_digit_runs_and_refuses_non_ascii() {
        let short = code128("P-000123").expect("code").len();
        // Set B throughout would be 11 modules a character more for the six digits.
        let all_b = barcoders::sym::code128::Code128::new("\u{0181}P-000123")
            .expect("b")
            .encode()
            .len();
        assert!(short < all_b, "{short} < {all_b}");
        assert!(code128("P-00012").is_ok(), "an odd digit run");
        assert!(code128("Å1").is_err());
        assert!(code128("").is_err());
    }

    #[test]
    fn too_small_a_label_or_too_long_a_name_is_refused_not_shrunk() {
        let fonts = Fonts::new(None).expect("fonts");
        let long = LabelPatient {
            name: "Maximiliana Wilhelmina Theodora von Hohenzollern-Sigmaringen",
            ..patient()
        };
        assert!(matches!(
            pdf(
                &long,
                LabelSize::Label {
                    width: 30,
                    height: 15
                },
                false,
                &fonts,
                d()
            ),
            Err(LabelError::TooSmall { .. })
        ));
        let long_id = LabelPatient {
            id: "ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnop",
            ..patient()
        };
        assert!(matches!(
            pdf(
                &long_id,
                LabelSize::Label {
                    width: 30,
                    height: 15
                },
                false,
                &fonts,
                d()
            ),
            Err(LabelError::TooSmall { .. })
        ));
    }

    #[test]
    fn a_name_without_a_glyph_is_refused_naming_the_character() {
        let fonts = Fonts::new(None).expect("fonts");
        let p = LabelPatient {
            name: "张伟",
            ..patient()
        };
        match pdf(&p, LabelSize::DEFAULT, false, &fonts, d()) {
            Err(LabelError::Pdf(PdfError::MissingGlyph { ch, .. })) => assert_eq!(ch, '张'),
            other => panic!("{other:?}"),
        }
    }

    fn vials(codes: &[&str]) -> VialLabels {
        let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
        let vial = |code: &str| VialView {
            course: 1,
            patient: "P-000123".into(),
            code: code.into(),
            vial: "3".into(),
            label: "Vial 3".into(),
            strength: crate::units::Concentration::new(
                rust_decimal::Decimal::from(10_000),
                crate::units::AllergenUnit::SqU,
            ),
            unit: crate::units::AllergenUnit::SqU,
            cap: "yellow (orange in some markets)".into(),
            lot: "LOT-42".into(),
            lot_expires: day("2027-03-31"),
            expires: day("2027-03-01"),
            expiry_rule: Some("3 months from preparation".into()),
            manufacturer: None,
            prepared: Some(day("2026-12-01")),
            volume_ml: None,
            added_at: day("2026-12-07").and_hms_opt(8, 0, 0).expect("time"),
            status: crate::course::VialStatus::Active,
            discarded_at: None,
            discarded_reason: None,
            doses_drawn: 0,
            gtin: None,
            serial: None,
        };
        VialLabels {
            course: 1,
            patient: "P-000123".into(),
            name: "José Núñez".into(),
            dob: day("1990-05-01"),
            product:
                "Alutard SQ house-dust mite (503 D. pteronyssinus, 504 D. farinae, 510 mixture)"
                    .into(),
            active: codes.iter().map(|c| vial(c)).collect(),
            inactive: Vec::new(),
        }
    }

    #[test]
    fn a_vial_label_per_page_says_who_what_which_vial_lot_expiry_and_code() {
        let fonts = Fonts::new(None).expect("fonts");
        let l = vials(&["V000001", "V000002"]);
        let (bytes, _) = vials_pdf(&l, LabelSize::VIAL, false, &fonts, d()).expect("pdf");
        let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
        assert_eq!(pages.len(), 2);
        for (page, code) in pages.iter().zip(["V000001", "V000002"]) {
            // Wrapped lines are joined with spaces to read the whole phrase.
            let text = page.join(" ");
            for s in [
                "José Núñez",
                "born 1990-05-01 · ID P-000123",
                "Alutard SQ house-dust mite",
                "Vial 3 · 10 000 SQ-U/mL · cap yellow",
                "Lot LOT-42 · expires 2027-03-01 (lot expiry 2027-03-31)",
                code,
            ] {
                assert!(text.contains(s), "{s} in {text}");
            }
            assert!(!text.contains("TRAINING"));
        }
    }

    #[test]
    fn vial_labels_fill_a4_sheets_of_twenty_four_and_refuse_nothing_or_too_small() {
        let fonts = Fonts::new(None).expect("fonts");
        let codes: Vec<String> = (1..=25).map(|i| format!("V{i:06}")).collect();
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let (bytes, _) =
            vials_pdf(&vials(&refs), LabelSize::A4Sheet, true, &fonts, d()).expect("pdf");
        let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
        assert_eq!(pages.len(), 2);
        let first = pages[0].join(" ");
        assert_eq!(first.matches("TRAINING").count(), 24);
        assert!(first.contains("V000024") && !first.contains("V000025"));
        assert!(pages[1].join(" ").contains("V000025"));
        assert_eq!(
            vials_pdf(&vials(&[]), LabelSize::VIAL, false, &fonts, d()),
            Err(LabelError::Empty)
        );
        let small = LabelSize::Label {
            width: 50,
            height: 25,
        };
        assert!(matches!(
            vials_pdf(&vials(&["V000001"]), small, false, &fonts, d()),
            Err(LabelError::TooSmall { .. })
        ));
    }

    #[test]
    fn an_a4_sheet_is_one_page_of_forty_labels() {
        let fonts = Fonts::new(None).expect("fonts");
        let (bytes, _) = pdf(&patient(), LabelSize::A4Sheet, false, &fonts, d()).expect("pdf");
        let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
        assert_eq!(pages.len(), 1);
        let n = pages[0].join("\n").matches("ID P-000123").count();
        assert_eq!(n, 40);
    }
}
