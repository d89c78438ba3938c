//! The fonts: DejaVu Sans embedded, and an optional CJK font found on disk; the font of each
//! character, its glyph check and the text's measured width.

use super::*;

/// Fonts: regular and bold DejaVu Sans, and an optional extra font for what DejaVu lacks.
pub struct Fonts {
    pub(super) regular: ParsedFont,
    pub(super) bold: ParsedFont,
    pub(super) extra: Option<ParsedFont>,
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
pub(super) fn dejavu() -> Result<&'static (Vec<u8>, Vec<u8>), PdfError> {
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

    pub(super) fn get(&self, i: usize) -> &ParsedFont {
        match i {
            0 => &self.regular,
            1 => &self.bold,
            _ => self.extra.as_ref().unwrap_or(&self.regular),
        }
    }

    /// The font index (0 regular, 1 bold, 2 extra) that prints `c`.
    pub(super) fn for_char(&self, c: char, bold: bool) -> Option<usize> {
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

/// Stable font ids: the pages refer to fonts by these names, registered in [`register`].
pub(super) fn font_ref(i: usize) -> FontId {
    FontId(format!("F{}", i + 1))
}

/// A new document of ritplan's: its title, the fonts registered, and every date in its metadata
/// set to `date` (midnight UTC) so that the same input makes the same file.
pub(in crate::render) fn document(
    title: &str,
    date: chrono::NaiveDate,
    fonts: &Fonts,
) -> PdfDocument {
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
    register(&mut doc, fonts);
    doc
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
