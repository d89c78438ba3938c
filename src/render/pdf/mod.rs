//! A small page-layout layer over printpdf 0.12: embedded fonts (DejaVu Sans, plus an optional
//! CJK font) chosen per character, text measured from the fonts' own advances, wrapping, page
//! breaks with a repeated table header, an identity line at the top of every page, and
//! "page N of M" footers.
//!
//! Before any byte is written, every character is checked for a glyph: a name that no font can
//! print fails with the character named, never a silent `?`.

mod figure;
mod fonts;
mod table;
mod writer;

/// For the label, which lays out its own small pages.
pub(in crate::render) use fonts::document;
pub use fonts::{CJK_FONTS, Fonts};
pub use table::{Align, Column, RowStyle, col};
pub use writer::Writer;
pub(in crate::render) use writer::text_ops;

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
    use super::fonts::dejavu;
    use super::writer::unbreakable_words;
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
    fn a_header_wider_than_the_page_wraps_rather_than_run_off_it() {
        let fonts = Fonts::new(None).expect("fonts");
        let header = "TRAINING RECORD, not a patient's record · Outcomes audit · rush day 1 from 2026-01-01 to 2026-03-31 · as of 2026-03-10";
        let mut w = Writer::new(&fonts, Paper::A4, false, header);
        assert!(
            fonts.width(header, 9.0, true) > w.content_width(),
            "a long one"
        );
        w.paragraph("body", 10.0, false);
        let (bytes, _) = w.finish("t", "f", d()).expect("pdf");
        let page = &extract_text(&bytes).expect("parse")[0];
        let at = page
            .iter()
            .position(|s| s.len() > 10 && header.starts_with(s.as_str()))
            .expect("the header's first line");
        let lines = &page[at..at + 2];
        assert_eq!(lines.join(" "), header, "{page:?}");
        for l in lines {
            assert!(fonts.width(l, 9.0, true) <= w_width(&fonts), "{l}");
        }
    }

    /// A4's text width (the writer's margins are 14 mm).
    fn w_width(fonts: &Fonts) -> f32 {
        Writer::new(fonts, Paper::A4, false, "").content_width()
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
