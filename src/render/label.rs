//! The patient's label (a wristband or card): name, date of birth and ID in text, and the ID
//! as a Code 128 and a Data Matrix, both drawn as vector shapes so that a printer prints them
//! at its own resolution.
//!
//! Sizes: the symbologies' quiet zones (10 modules each side of a Code 128, 1 module round a
//! Data Matrix, here 2) lie inside the label, and no module is narrower than
//! [`MIN_MODULE_MM`] (three dots of a 300 dpi printer). A label too small for its name or its
//! codes is refused, saying so; nothing is shrunk below that or cut off.

use printpdf::{
    Color, LinePoint, Mm, Op, PaintMode, PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt,
    Rect, Rgb, WindingOrder,
};

use crate::render::pdf::{Fonts, PdfError, document, text_ops};

/// The narrowest module (Code 128 narrow bar, Data Matrix module), mm: 3 dots at 300 dpi.
pub const MIN_MODULE_MM: f32 = 0.25;

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
    /// An A4 sheet of identical 50 × 25 mm labels (4 × 10), with cutting guides.
    A4Sheet,
}

impl LabelSize {
    /// The default label: 50 × 25 mm.
    pub const DEFAULT: LabelSize = LabelSize::Label {
        width: 50,
        height: 25,
    };
}

/// Why a label cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    /// A font or glyph problem.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// The ID cannot be put in a code.
    #[error("the patient ID {id:?} cannot be printed as a {symbology}: {why}")]
    Code {
        /// The ID.
        id: String,
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
    let (page_w, page_h, ops) = match size {
        LabelSize::Label { width, height } => {
            let (w, h) = (f32::from(width), f32::from(height));
            (w, h, one_label(p, w, h, training, fonts, 0.0, 0.0)?)
        }
        LabelSize::A4Sheet => {
            let (w, h, cols, rows) = (50.0, 25.0, 4u8, 10u8);
            let (x0, y0) = (
                (210.0 - w * f32::from(cols)) / 2.0,
                (297.0 - h * f32::from(rows)) / 2.0,
            );
            let label = one_label(p, w, h, training, fonts, 0.0, 0.0)?;
            let mut ops = vec![
                Op::SetOutlineColor { col: grey() },
                Op::SetOutlineThickness { pt: Pt(0.25) },
            ];
            for r in 0..rows {
                for c in 0..cols {
                    let (x, y) = (x0 + w * f32::from(c), y0 + h * f32::from(r));
                    ops.push(Op::DrawRectangle {
                        rectangle: Rect {
                            x: Pt(pt(x)),
                            y: Pt(pt(y)),
                            width: Pt(pt(w)),
                            height: Pt(pt(h)),
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
            }
            (210.0, 297.0, ops)
        }
    };
    let mut doc = document(&format!("Label {}", p.id), made, fonts);
    let page = PdfPage::new(Mm(page_w), Mm(page_h), ops);
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(vec![page])
        .save(&PdfSaveOptions::default(), &mut warnings);
    Ok((bytes, warnings.iter().map(|w| format!("{w:?}")).collect()))
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

/// The drawing of one label of `w` × `h` mm with its lower left corner at (`x`, `y`) mm.
fn one_label(
    p: &LabelPatient<'_>,
    w: f32,
    h: f32,
    training: bool,
    fonts: &Fonts,
    x: f32,
    y: f32,
) -> Result<Vec<Op>, LabelError> {
    let too_small = |what: String| LabelError::TooSmall {
        width: w,
        height: h,
        what,
    };
    let margin = 1.5;
    let dob = format!(
        "born {}{}",
        p.dob.format("%Y-%m-%d"),
        if training { " · TRAINING" } else { "" }
    );
    let id_line = format!("ID {}", p.id);
    for text in [p.name, dob.as_str(), id_line.as_str()] {
        if let Some(ch) = fonts.missing(text) {
            return Err(PdfError::MissingGlyph {
                ch,
                code: ch as u32,
                context: text.chars().take(80).collect(),
            }
            .into());
        }
    }

    // The Code 128 along the bottom, across the whole width, its quiet zones inside.
    let bars = code128(p.id)?;
    let modules = bars.len() as f32 + 20.0;
    let narrow = ((w - 2.0 * margin) / modules).min(0.5);
    if narrow < MIN_MODULE_MM {
        return Err(too_small(format!(
            "the Code 128 of the ID {:?} ({} modules with its quiet zones need {:.0} mm at {MIN_MODULE_MM} mm)",
            p.id,
            modules,
            (modules * MIN_MODULE_MM + 2.0 * margin).ceil()
        )));
    }
    let bar_h = (h * 0.32).clamp(5.0, 15.0);
    let bar_x = x + (w - bars.len() as f32 * narrow) / 2.0;
    let bar_y = y + margin;

    // The Data Matrix at the top right, with a quiet zone of two modules.
    let dm = datamatrix::DataMatrix::encode_str(
        p.id,
        datamatrix::SymbolList::default().enforce_square(),
    )
    .map_err(|e| LabelError::Code {
        id: p.id.to_string(),
        symbology: "Data Matrix",
        why: format!("{e:?}"),
    })?
    .bitmap();
    let text_top = y + h - margin;
    let area_h = text_top - (bar_y + bar_h) - 1.0;
    let dm_side = area_h.min(w * 0.3);
    let dm_cells = dm.width().max(dm.height()) as f32 + 4.0;
    let module = (dm_side / dm_cells).min(0.6);
    if module < MIN_MODULE_MM {
        return Err(too_small(format!(
            "the Data Matrix of the ID {:?} ({} modules with its quiet zone)",
            p.id, dm_cells
        )));
    }
    let dm_w = dm_cells * module;
    let dm_x = x + w - margin - dm_w + 2.0 * module;
    let dm_top = text_top - 2.0 * module;

    // The text to the left of the Data Matrix: the name as large as fits.
    let text_w = pt(w - 2.0 * margin - dm_w);
    let area = pt(area_h);
    let mut small = (area * 0.2).clamp(5.0, 11.0);
    while (fonts.width(&dob, small, false) > text_w || fonts.width(&id_line, small, true) > text_w)
        && small > 5.0
    {
        small = (small - 0.25).max(5.0);
    }
    let mut name_size = (area * 0.4).clamp(6.0, 20.0);
    while fonts.width(p.name, name_size, true) > text_w && name_size > 6.0 {
        name_size = (name_size - 0.5).max(6.0);
    }
    if fonts.width(p.name, name_size, true) > text_w {
        return Err(too_small(format!("the name {:?} at 6 pt", p.name)));
    }
    for (text, size, bold) in [
        (dob.as_str(), small, false),
        (id_line.as_str(), small, true),
    ] {
        if fonts.width(text, size, bold) > text_w {
            return Err(too_small(format!("{text:?}")));
        }
    }
    let lead = |s: f32| s * 1.15;
    // The name's height, the two lines under it, and the last line's descent, within the area.
    let room = (area - 2.0 * lead(small) - small * 0.3) / 1.15;
    name_size = name_size.min(room);
    if name_size < 6.0 {
        return Err(too_small("the name, date of birth and ID".to_string()));
    }

    let mut ops = vec![Op::SetFillColor { col: black() }];
    let left = pt(x + margin);
    let mut baseline = pt(text_top) - name_size * 0.95;
    ops.extend(text_ops(fonts, left, baseline, p.name, name_size, true));
    baseline -= lead(small) + name_size * 0.2;
    ops.extend(text_ops(fonts, left, baseline, &dob, small, false));
    baseline -= lead(small);
    ops.extend(text_ops(fonts, left, baseline, &id_line, small, true));

    // Code 128: each run of dark modules one rectangle.
    let mut i = 0;
    while i < bars.len() {
        if bars[i] == 1 {
            let start = i;
            while i < bars.len() && bars[i] == 1 {
                i += 1;
            }
            ops.push(Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(pt(bar_x + start as f32 * narrow)),
                    y: Pt(pt(bar_y)),
                    width: Pt(pt((i - start) as f32 * narrow)),
                    height: Pt(pt(bar_h)),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            });
        } else {
            i += 1;
        }
    }

    // Data Matrix: its outline as one even-odd path (no seams between modules).
    ops.push(Op::DrawPolygon {
        polygon: outline(&dm, dm_x, dm_top, module),
    });
    Ok(ops)
}

/// The Code 128 modules (1 dark, 0 light) of `id`, in set B, switching to set C for a run of
/// four or more digits (shorter, so wider bars fit).
fn code128(id: &str) -> Result<Vec<u8>, LabelError> {
    let bad = |why: String| LabelError::Code {
        id: id.to_string(),
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
