//! The page-layout writer: pages, wrapping, paragraphs, boxes, rules, footers and the finished
//! document.

use super::fonts::{document, font_ref};
use super::*;

/// A document being laid out.
pub struct Writer<'f> {
    pub(super) fonts: &'f Fonts,
    pub(super) width: f32,
    pub(super) height: f32,
    pub(super) margin: f32,
    pub(super) pages: Vec<Vec<Op>>,
    pub(super) y: f32,
    pub(super) header: String,
    pub(super) missing: Option<PdfError>,
    /// Documents after the first, in one file: (first page, footer).
    pub(super) docs: Vec<(usize, String)>,
}

const FOOTER_SPACE: f32 = 28.0;

impl<'f> Writer<'f> {
    /// A new document; `header` is printed at the top of every page (the patient's identity).
    pub fn new(fonts: &'f Fonts, paper: Paper, landscape: bool, header: &str) -> Writer<'f> {
        let (width, height) = paper.size(landscape);
        let mut w = Writer {
            fonts,
            width,
            height,
            margin: Mm(14.0).into_pt().0,
            pages: Vec::new(),
            y: 0.0,
            header: header.to_string(),
            missing: None,
            docs: Vec::new(),
        };
        w.new_page();
        w
    }

    /// Starts another document in the same file (several patients' protocols): a new page
    /// with its own header; its pages are numbered on their own, with `footer`. The first
    /// document is the one [`Writer::new`] began; call this for it too (with `first`), before
    /// anything is written, to give it its footer.
    pub fn begin_document(&mut self, header: &str, footer: &str, first: bool) {
        if first {
            self.docs.push((0, footer.to_string()));
            return;
        }
        self.header = header.to_string();
        self.new_page();
        self.docs.push((self.pages.len() - 1, footer.to_string()));
    }

    /// The usable width, pt.
    pub fn content_width(&self) -> f32 {
        self.width - 2.0 * self.margin
    }

    pub(super) fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page with the identity header (wrapped when it is wider than the page's
    /// text: never cut off at the edge).
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.height - self.margin;
        let header = self.header.clone();
        if !header.is_empty() {
            let lines = self.wrap(&header, self.content_width(), 9.0, true);
            let more = 11.0 * lines.len().saturating_sub(1) as f32;
            for (i, line) in lines.iter().enumerate() {
                let (x, y) = (self.margin, self.y - 9.0 - 11.0 * i as f32);
                self.text_at(x, y, line, 9.0, true);
            }
            self.rule(self.y - 13.0 - more, 0.6);
            self.y -= 22.0 + more;
        }
    }

    /// Makes room for `h` pt, breaking the page if needed; returns whether it broke.
    pub fn ensure(&mut self, h: f32) -> bool {
        if self.y - h < self.margin + FOOTER_SPACE {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Vertical space.
    pub fn space(&mut self, h: f32) {
        self.y -= h;
    }

    pub(super) fn check(&mut self, text: &str) {
        if self.missing.is_none()
            && let Some(ch) = self.fonts.missing(text)
        {
            self.missing = Some(PdfError::MissingGlyph {
                ch,
                code: ch as u32,
                context: text.chars().take(80).collect(),
            });
        }
    }

    /// Writes one line of text with its baseline at (`x`, `y`), switching fonts per character.
    pub fn text_at(&mut self, x: f32, y: f32, text: &str, size: f32, bold: bool) {
        self.check(text);
        let ops = text_ops(self.fonts, x, y, text, size, bold);
        self.ops().extend(ops);
    }

    /// Splits `text` into lines no wider than `width` at `size`: at spaces, and anywhere inside a
    /// word too long for a line (and between CJK characters).
    pub fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in unbreakable_words(para) {
                let word = word.as_str();
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.fonts.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone may still be too wide: break it after a hyphen or a slash
                // where the part fits (a lot number "L-2026-117"), else by characters.
                let mut rest = word;
                while self.fonts.width(rest, size, bold) > width {
                    let cut = rest
                        .char_indices()
                        .filter(|(_, c)| matches!(c, '-' | '/'))
                        .map(|(i, c)| i + c.len_utf8())
                        .filter(|&i| {
                            i < rest.len() && self.fonts.width(&rest[..i], size, bold) <= width
                        })
                        .last();
                    let Some(cut) = cut else { break };
                    lines.push(rest[..cut].to_string());
                    rest = &rest[cut..];
                }
                let word = rest;
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && self.fonts.width(&next, size, bold) > width {
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = next;
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    /// A wrapped paragraph across the content width.
    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool) {
        let lead = size * 1.3;
        for line in self.wrap(text, self.content_width(), size, bold) {
            self.ensure(lead);
            self.y -= lead;
            let x = self.margin;
            self.text_at(x, self.y + size * 0.25, &line, size, bold);
        }
    }

    /// A heading.
    pub fn heading(&mut self, text: &str) {
        self.ensure(40.0);
        self.space(6.0);
        self.paragraph(text, 12.0, true);
        self.space(2.0);
    }

    /// A paragraph in a box with a thick border (for what must not be missed).
    pub fn boxed(&mut self, text: &str, size: f32) {
        let lead = size * 1.3;
        let pad = 6.0;
        let lines = self.wrap(text, self.content_width() - 2.0 * pad, size, true);
        let h = lines.len() as f32 * lead + 2.0 * pad;
        self.ensure(h + 4.0);
        let top = self.y;
        let (x, w) = (self.margin, self.content_width());
        self.ops().extend([
            Op::SetOutlineColor {
                col: Color::Rgb(Rgb {
                    r: 0.75,
                    g: 0.0,
                    b: 0.0,
                    icc_profile: None,
                }),
            },
            Op::SetOutlineThickness { pt: Pt(2.5) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(top - h),
                    width: Pt(w),
                    height: Pt(h),
                    mode: Some(printpdf::PaintMode::Stroke),
                    winding_order: None,
                },
            },
            Op::SetOutlineColor {
                col: Color::Rgb(Rgb {
                    r: 0.0,
                    g: 0.0,
                    b: 0.0,
                    icc_profile: None,
                }),
            },
            Op::SetOutlineThickness { pt: Pt(0.5) },
        ]);
        let mut y = top - pad;
        for line in lines {
            y -= lead;
            self.text_at(x + pad, y + size * 0.25, &line, size, true);
        }
        self.y = top - h - 4.0;
    }

    pub(super) fn rule(&mut self, y: f32, thickness: f32) {
        let (x0, x1) = (self.margin, self.width - self.margin);
        self.hline(x0, x1, y, thickness);
    }

    pub(super) fn hline(&mut self, x0: f32, x1: f32, y: f32, thickness: f32) {
        self.ops().extend([
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: line(&[(x0, y), (x1, y)]),
            },
        ]);
    }

    pub(super) fn vline(&mut self, x: f32, y0: f32, y1: f32) {
        self.ops().extend([
            Op::SetOutlineThickness { pt: Pt(0.4) },
            Op::DrawLine {
                line: line(&[(x, y0), (x, y1)]),
            },
        ]);
    }

    /// A signature line with a caption.
    pub fn signature(&mut self, caption: &str) {
        self.ensure(50.0);
        self.space(34.0);
        let x0 = self.margin;
        let x1 = self.margin + self.content_width() * 0.55;
        let y = self.y;
        self.hline(x0, x1, y, 0.6);
        self.text_at(x0, y - 11.0, caption, 9.0, false);
        self.y -= 16.0;
    }

    /// Adds "page N of M" and `footer` to every page, checks every glyph, and returns the PDF.
    /// The document date is `date` (so the same inputs give the same document).
    pub fn finish(
        mut self,
        title: &str,
        footer: &str,
        date: chrono::NaiveDate,
    ) -> Result<(Vec<u8>, Vec<String>), PdfError> {
        let n = self.pages.len();
        // Each document's pages are numbered on their own.
        let mut docs = self.docs.clone();
        if docs.is_empty() {
            docs.push((0, footer.to_string()));
        }
        let ends: Vec<usize> = docs.iter().skip(1).map(|(s, _)| *s).chain([n]).collect();
        let mut labels = Vec::with_capacity(n);
        for ((start, f), end) in docs.iter().zip(ends) {
            for k in *start..end {
                labels.push(format!("Page {} of {} · {f}", k - start + 1, end - start));
            }
        }
        for (i, text) in labels.into_iter().enumerate().take(n) {
            self.check(&text);
            let y = self.margin - 4.0;
            let mut ops = vec![
                Op::SetOutlineThickness { pt: Pt(0.4) },
                Op::DrawLine {
                    line: line(&[
                        (self.margin, y + 12.0),
                        (self.width - self.margin, y + 12.0),
                    ]),
                },
            ];
            ops.extend(text_ops(self.fonts, self.margin, y, &text, 8.0, false));
            self.pages[i].extend(ops);
        }
        if let Some(e) = self.missing {
            return Err(e);
        }
        let mut doc = document(title, date, self.fonts);
        let pages = self
            .pages
            .into_iter()
            .map(|ops| PdfPage::new(Mm::from(Pt(self.width)), Mm::from(Pt(self.height)), ops))
            .collect();
        let mut warnings = Vec::new();
        let bytes = doc
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut warnings);
        Ok((bytes, warnings.iter().map(|w| format!("{w:?}")).collect()))
    }
}

/// The words of `text`, keeping a number's thousands groups together (`1 000 SQ-U/mL` never
/// breaks between `1` and `000`, which a reader could take for two numbers).
/// Units kept on the line of their number.
const UNITS: [&str; 12] = [
    "SQ-U", "TU", "AU", "BAU", "IR", "PNU", "BU", "µg", "mL", "mm", "min", "%",
];

pub(super) fn unbreakable_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in text.split(' ') {
        let joins = words.last().is_some_and(|prev: &String| {
            let after_number = prev.ends_with(|c: char| c.is_ascii_digit());
            // A digit group (the thousands of "2 000"), or a unit after its number ("2 000
            // SQ-U", "0.5 mL"): never split from the number.
            let group = w.len() >= 3
                && w.chars().take(3).all(|c| c.is_ascii_digit())
                && !w.chars().nth(3).is_some_and(|c| c.is_ascii_digit());
            let unit = UNITS.contains(&w.trim_end_matches([',', ';', ')']));
            after_number && (group || unit)
        });
        match words.last_mut() {
            Some(prev) if joins => {
                prev.push(' ');
                prev.push_str(w);
            }
            _ => words.push(w.to_string()),
        }
    }
    words
}

/// The operations that print one line of `text`, one run per font.
pub(in crate::render) fn text_ops(
    fonts: &Fonts,
    x: f32,
    y: f32,
    text: &str,
    size: f32,
    bold: bool,
) -> Vec<Op> {
    let mut runs: Vec<(usize, String)> = Vec::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        let f = fonts.for_char(c, bold).unwrap_or(usize::from(bold));
        match runs.last_mut() {
            Some((lf, s)) if *lf == f => s.push(c),
            _ => runs.push((f, c.to_string())),
        }
    }
    let mut ops = Vec::new();
    let mut cx = x;
    for (f, s) in runs {
        let w = fonts.width(&s, size, bold);
        ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(font_ref(f)),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(cx),
                    y: Pt(y),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(s)],
            },
            Op::EndTextSection,
        ]);
        cx += w;
    }
    ops
}

pub(super) fn line(points: &[(f32, f32)]) -> Line {
    Line {
        points: points
            .iter()
            .map(|(x, y)| LinePoint {
                p: Point {
                    x: Pt(*x),
                    y: Pt(*y),
                },
                bezier: false,
            })
            .collect(),
        is_closed: false,
    }
}
