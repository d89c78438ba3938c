//! A small page-layout layer over printpdf 0.12: embedded fonts (DejaVu Sans, plus an optional
//! CJK font) chosen per character, text measured from the fonts' own advances, wrapping, page
//! breaks with a repeated table header, an identity line at the top of every page, and
//! "page N of M" footers.
//!
//! Before any byte is written, every character is checked for a glyph: a name that no font can
//! print fails with the character named, never a silent `?`.

use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

/// Paper sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Paper {
    /// 210 × 297 mm.
    A4,
    /// 8.5 × 11 in.
    Letter,
}

impl Paper {
    fn size(self, landscape: bool) -> (f32, f32) {
        let (w, h) = match self {
            Paper::A4 => (Mm(210.0).into_pt().0, Mm(297.0).into_pt().0),
            Paper::Letter => (612.0, 792.0),
        };
        if landscape { (h, w) } else { (w, h) }
    }
}

/// Why a PDF could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// A character no embedded font can print.
    #[error(
        "no font has a glyph for {ch:?} (U+{code:04X}) in {context:?}; give a font that has it with --font FILE (for Chinese, Japanese or Korean names: a CJK font such as Noto Sans CJK or WenQuanYi)"
    )]
    MissingGlyph {
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// The text it stands in.
        context: String,
    },
    /// A font file that cannot be used.
    #[error("the font cannot be used: {0}")]
    BadFont(String),
}

/// Fonts: regular and bold DejaVu Sans, and an optional extra font for what DejaVu lacks.
pub struct Fonts {
    regular: ParsedFont,
    bold: ParsedFont,
    extra: Option<ParsedFont>,
}

/// Where fonts for Chinese, Japanese and Korean usually are on Linux (Debian packages
/// fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming, fonts-droid-fallback).
pub const CJK_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

/// DejaVu Sans regular and bold (version 2.37, `assets/fonts`, its licence beside them), as
/// TrueType: embedded deflated (see `build.rs`), inflated once per process.
fn dejavu() -> Result<&'static (Vec<u8>, Vec<u8>), PdfError> {
    /// Regular and bold, or why they would not inflate.
    type Inflated = Result<(Vec<u8>, Vec<u8>), String>;
    static FONTS: std::sync::OnceLock<Inflated> = std::sync::OnceLock::new();
    const REGULAR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSans.ttf.deflate"));
    const BOLD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSans-Bold.ttf.deflate"));
    // Each font is under 1 MB; the limit only bounds a broken build.
    let inflate = |b: &[u8]| {
        miniz_oxide::inflate::decompress_to_vec_with_limit(b, 4 << 20)
            .map_err(|e| format!("the embedded DejaVu font does not inflate: {e}"))
    };
    FONTS
        .get_or_init(|| Ok((inflate(REGULAR)?, inflate(BOLD)?)))
        .as_ref()
        .map_err(|e| PdfError::BadFont(e.clone()))
}

impl Fonts {
    /// DejaVu Sans, with `extra` (e.g. a CJK font's bytes) for characters DejaVu lacks.
    pub fn new(extra: Option<&[u8]>) -> Result<Fonts, PdfError> {
        let parse = |b: &[u8]| {
            ParsedFont::from_bytes(b, 0, &mut Vec::new())
                .ok_or_else(|| PdfError::BadFont("not a TrueType/OpenType font".into()))
        };
        Ok(Fonts {
            regular: parse(&dejavu()?.0)?,
            bold: parse(&dejavu()?.1)?,
            extra: extra.map(parse).transpose()?,
        })
    }

    /// DejaVu Sans, and a system CJK font (the first of [`CJK_FONTS`] that reads) when some
    /// of `texts` needs one; without one the writer refuses later, naming the character.
    pub fn for_texts(texts: &[&str]) -> Result<Fonts, PdfError> {
        let plain = Fonts::new(None)?;
        if texts.iter().all(|t| plain.missing(t).is_none()) {
            return Ok(plain);
        }
        for candidate in CJK_FONTS {
            if let Ok(bytes) = std::fs::read(candidate)
                && let Ok(fonts) = Fonts::new(Some(&bytes))
            {
                return Ok(fonts);
            }
        }
        Ok(plain)
    }

    fn get(&self, i: usize) -> &ParsedFont {
        match i {
            0 => &self.regular,
            1 => &self.bold,
            _ => self.extra.as_ref().unwrap_or(&self.regular),
        }
    }

    /// The font index (0 regular, 1 bold, 2 extra) that prints `c`.
    fn for_char(&self, c: char, bold: bool) -> Option<usize> {
        let primary = usize::from(bold);
        if c.is_whitespace()
            || self
                .get(primary)
                .lookup_glyph_index(c as u32)
                .is_some_and(|g| g != 0)
        {
            return Some(primary);
        }
        self.extra
            .as_ref()
            .and_then(|f| f.lookup_glyph_index(c as u32))
            .filter(|g| *g != 0)
            .map(|_| 2)
    }

    /// Width of `text` at `size` pt, in pt.
    pub fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        text.chars()
            .map(|c| {
                let i = self.for_char(c, bold).unwrap_or(usize::from(bold));
                let f = self.get(i);
                let adv = f
                    .lookup_glyph_index(c as u32)
                    .map_or(f.font_metrics.units_per_em / 2, |g| {
                        f.get_horizontal_advance(g)
                    });
                f32::from(adv) * size / f32::from(f.font_metrics.units_per_em.max(1))
            })
            .sum()
    }

    /// The first character of `text` no font can print.
    pub fn missing(&self, text: &str) -> Option<char> {
        text.chars()
            .find(|c| !c.is_control() && self.for_char(*c, false).is_none())
    }
}

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

/// A document being laid out.
pub struct Writer<'f> {
    fonts: &'f Fonts,
    width: f32,
    height: f32,
    margin: f32,
    pages: Vec<Vec<Op>>,
    y: f32,
    header: String,
    missing: Option<PdfError>,
    /// Documents after the first, in one file: (first page, footer).
    docs: Vec<(usize, String)>,
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

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page with the identity header.
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.height - self.margin;
        let header = self.header.clone();
        if !header.is_empty() {
            let (x, y) = (self.margin, self.y - 9.0);
            self.text_at(x, y, &header, 9.0, true);
            self.rule(self.y - 13.0, 0.6);
            self.y -= 22.0;
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

    fn check(&mut self, text: &str) {
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

    fn rule(&mut self, y: f32, thickness: f32) {
        let (x0, x1) = (self.margin, self.width - self.margin);
        self.hline(x0, x1, y, thickness);
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32, thickness: f32) {
        self.ops().extend([
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: line(&[(x0, y), (x1, y)]),
            },
        ]);
    }

    fn vline(&mut self, x: f32, y0: f32, y1: f32) {
        self.ops().extend([
            Op::SetOutlineThickness { pt: Pt(0.4) },
            Op::DrawLine {
                line: line(&[(x, y0), (x, y1)]),
            },
        ]);
    }

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
        let total: f32 = columns.iter().map(|c| c.weight).sum();
        let widths: Vec<f32> = columns
            .iter()
            .map(|c| c.weight / total * self.content_width())
            .collect();
        let pad = 2.5;
        let lead = size * 1.25;
        let cell_size = |c: &Column, header: bool| {
            if c.emphasis && !header {
                size * EMPHASIS
            } else {
                size
            }
        };
        let layout =
            |w: &Self, cells: &[String], bold: bool, header: bool| -> (Vec<Vec<String>>, f32) {
                let wrapped: Vec<Vec<String>> = cells
                    .iter()
                    .zip(&widths)
                    .zip(columns)
                    .map(|((c, cw), column)| {
                        let sz = cell_size(column, header);
                        w.wrap(c, cw - 2.0 * pad, sz, bold || (column.emphasis && !header))
                    })
                    .collect();
                let h = wrapped
                    .iter()
                    .zip(columns)
                    .map(|(l, c)| l.len().max(1) as f32 * cell_size(c, header) * 1.25)
                    .fold(lead, f32::max);
                (wrapped, h + 2.0 * pad)
            };
        let titles: Vec<String> = columns.iter().map(|c| c.title.clone()).collect();
        let (header, header_h) = layout(self, &titles, true, true);
        let draw_row = |w: &mut Self, cells: &[Vec<String>], h: f32, bold: bool, header: bool| {
            let top = w.y;
            let mut x = w.margin;
            for ((lines, cw), column) in cells.iter().zip(&widths).zip(columns) {
                let sz = cell_size(column, header);
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
        };
        let draw_header = |w: &mut Self| {
            let top = w.y;
            let x1 = w.margin + widths.iter().sum::<f32>();
            let x0 = w.margin;
            w.hline(x0, x1, top, 1.0);
            draw_row(w, &header, header_h, true, true);
        };
        self.ensure(header_h + min_row.max(lead + 2.0 * pad));
        draw_header(self);
        let table_width = widths.iter().sum::<f32>();
        for (i, row) in rows.iter().enumerate() {
            let style = styles.get(i).copied().unwrap_or_default();
            let bold = style != RowStyle::Plain;
            if style == RowStyle::Banner {
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
                    draw_header(self);
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
                continue;
            }
            let (cells, h) = layout(self, row, bold, false);
            let h = h.max(min_row);
            if self.ensure(h) {
                draw_header(self);
            }
            if bold {
                self.tint(self.margin, self.y - h, table_width, h);
            }
            draw_row(self, &cells, h, bold, false);
        }
        self.y -= 4.0;
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
        let mut doc = PdfDocument::new(title);
        let ts = date
            .and_hms_opt(0, 0, 0)
            .map_or(0, |d| d.and_utc().timestamp());
        let when = printpdf::OffsetDateTime::from_unix_timestamp(ts)
            .unwrap_or(doc.metadata.info.creation_date);
        doc.metadata.info.creation_date = when;
        doc.metadata.info.modification_date = when;
        doc.metadata.info.metadata_date = when;
        doc.metadata.info.creator = format!("ritplan {}", env!("CARGO_PKG_VERSION"));
        doc.metadata.info.producer = format!("ritplan {}", env!("CARGO_PKG_VERSION"));
        // Register the fonts under the ids the pages use.
        register(&mut doc, self.fonts);
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

fn unbreakable_words(text: &str) -> Vec<String> {
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
fn text_ops(fonts: &Fonts, x: f32, y: f32, text: &str, size: f32, bold: bool) -> Vec<Op> {
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

fn line(points: &[(f32, f32)]) -> Line {
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

/// Stable font ids: the pages refer to fonts by these names, registered in [`register`].
fn font_ref(i: usize) -> FontId {
    FontId(format!("F{}", i + 1))
}

fn register(doc: &mut PdfDocument, fonts: &Fonts) {
    for i in 0..3 {
        if i == 2 && fonts.extra.is_none() {
            continue;
        }
        let id = doc.add_font(fonts.get(i));
        // Re-key the font under its stable name.
        if let Some(font) = doc.resources.fonts.map.remove(&id) {
            doc.resources.fonts.map.insert(font_ref(i), font);
        }
    }
}

/// The text of each page, read back from PDF bytes (for tests and checks).
pub fn extract_text(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let doc = PdfDocument::parse(
        bytes,
        &printpdf::PdfParseOptions::default(),
        &mut Vec::new(),
    )?;
    Ok(doc.extract_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_fonts_inflate_to_the_dejavu_files_byte_for_byte() {
        let (regular, bold) = dejavu().expect("fonts");
        assert!(regular[..] == include_bytes!("../../../assets/fonts/DejaVuSans.ttf")[..]);
        assert!(bold[..] == include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf")[..]);
        // Deflated, they are about half the size in the binary.
        let packed = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSans.ttf.deflate")).len();
        assert!(
            packed < regular.len() * 6 / 10,
            "{packed} of {}",
            regular.len()
        );
    }

    fn d() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 7).expect("date")
    }

    #[test]
    fn a_long_table_repeats_its_header_and_every_page_has_identity_and_numbering() {
        let fonts = Fonts::new(None).expect("fonts");
        let mut w = Writer::new(
            &fonts,
            Paper::A4,
            false,
            "Patient: José Núñez · ID P9 · born 1990-05-01 · 70 kg",
        );
        w.heading("Steps");
        let rows: Vec<Vec<String>> = (1..=120)
            .map(|i| vec![i.to_string(), format!("{} µg ≥ ±", i * 10), String::new()])
            .collect();
        w.table(
            &[
                col("step", 1.0, Align::Right),
                col("dose", 3.0, Align::Left),
                col("given", 2.0, Align::Left),
            ],
            &rows,
            &[],
            9.0,
            14.0,
        );
        let (bytes, warnings) = w.finish("t", "ritplan test", d()).expect("pdf");
        assert!(warnings.is_empty(), "{warnings:?}");
        let pages = extract_text(&bytes).expect("parse");
        assert!(pages.len() >= 3, "{}", pages.len());
        let n = pages.len();
        for (i, page) in pages.iter().enumerate() {
            let text = page.join("\n");
            assert!(text.contains("José Núñez"), "page {i}");
            assert!(text.contains(&format!("Page {} of {n}", i + 1)), "page {i}");
            assert!(text.contains("step"), "header on page {i}");
        }
        let all = pages.concat().join("\n");
        for i in [1, 60, 120] {
            assert!(all.contains(&format!("{} µg ≥ ±", i * 10)), "row {i}");
        }
    }

    #[test]
    fn a_character_without_a_glyph_fails_naming_it() {
        let fonts = Fonts::new(None).expect("fonts");
        let mut w = Writer::new(&fonts, Paper::Letter, false, "Patient: 张伟");
        w.paragraph("x", 10.0, false);
        match w.finish("t", "f", d()) {
            Err(PdfError::MissingGlyph { ch, .. }) => assert_eq!(ch, '张'),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_same_input_gives_the_same_text() {
        let fonts = Fonts::new(None).expect("fonts");
        let make = || {
            let mut w = Writer::new(&fonts, Paper::A4, true, "P");
            w.boxed("RISK ACCEPTED BY THE PHYSICIAN: reason", 10.0);
            w.finish("t", "f", d()).expect("pdf").0
        };
        assert_eq!(extract_text(&make()), extract_text(&make()));
    }

    #[test]
    fn long_lot_numbers_break_after_a_hyphen() {
        let fonts = Fonts::new(None).expect("fonts");
        let w = Writer::new(&fonts, Paper::A4, false, "");
        let width = fonts.width("ALK-2026-", 8.5, false) + 1.0;
        let lines = w.wrap("ALK-2026-117-B", width, 8.5, false);
        assert_eq!(lines[0], "ALK-2026-", "{lines:?}");
        assert_eq!(lines.concat(), "ALK-2026-117-B", "nothing lost");
        for l in &lines {
            assert!(fonts.width(l, 8.5, false) <= width, "{lines:?}");
        }
    }

    #[test]
    fn thousands_groups_stay_on_one_line() {
        let fonts = Fonts::new(None).expect("fonts");
        let w = Writer::new(&fonts, Paper::A4, false, "");
        let width = fonts.width("Vial 2 (green) 1", 8.5, false) + 1.0;
        let lines = w.wrap("Vial 2 (green) 1 000 SQ-U/mL", width, 8.5, false);
        assert!(lines.iter().any(|l| l.contains("1 000")), "{lines:?}");
        assert_eq!(
            unbreakable_words("1 000 000 SQ-U at 2 1000"),
            ["1 000 000 SQ-U", "at", "2", "1000"]
        );
        assert_eq!(
            unbreakable_words("0.5 mL of Vial SQ-U"),
            ["0.5 mL", "of", "Vial", "SQ-U"],
            "a unit stays with its number, not with a word"
        );
    }

    #[test]
    fn wrapping_never_exceeds_the_width() {
        let fonts = Fonts::new(None).expect("fonts");
        let w = Writer::new(&fonts, Paper::A4, false, "");
        let text = "A very long sentence with a Supercalifragilisticexpialidocious-word-that-must-break and more words";
        for line in w.wrap(text, 80.0, 10.0, false) {
            assert!(
                fonts.width(&line, 10.0, false) <= 80.0 || line.chars().count() == 1,
                "{line:?}"
            );
        }
    }
}
