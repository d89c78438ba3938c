//! A figure as a list of vector shapes (lines, filled polygons, text) in a box of its own units
//! (1 unit = 1 pt in a PDF), y downwards. The same figure is written as SVG for the page
//! ([`Figure::svg`]) and drawn into a PDF page (`pdf::Writer::figure`), so both show the same.

use std::fmt::Write as _;

/// An RGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

impl Colour {
    /// Black.
    pub const BLACK: Colour = Colour(0, 0, 0);
    /// The grey of grid lines.
    pub const GRID: Colour = Colour(200, 200, 200);

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Where a text's `x` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Its start.
    Start,
    /// Its middle.
    Middle,
    /// Its end.
    End,
}

/// One shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// An open line through the points.
    Line {
        /// The points.
        points: Vec<(f32, f32)>,
        /// Its width.
        width: f32,
        /// Its colour.
        colour: Colour,
        /// Dashed (dash, gap), or solid.
        dash: Option<(f32, f32)>,
    },
    /// A filled closed polygon.
    Fill {
        /// The corners.
        points: Vec<(f32, f32)>,
        /// Its colour.
        colour: Colour,
    },
    /// One line of text, its baseline at `y`.
    Text {
        /// Where.
        x: f32,
        /// Its baseline.
        y: f32,
        /// What.
        text: String,
        /// Size, units.
        size: f32,
        /// Bold.
        bold: bool,
        /// Where `x` is on it.
        anchor: Anchor,
        /// Its colour.
        colour: Colour,
    },
}

/// A figure: its size, an accessible title and description, and its shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Width, units.
    pub width: f32,
    /// Height, units.
    pub height: f32,
    /// A short title (the SVG's `<title>`).
    pub title: String,
    /// What it shows, in words, for a reader who cannot see it (the SVG's `<desc>`).
    pub desc: String,
    /// The shapes, drawn in order.
    pub shapes: Vec<Shape>,
}

/// `text` safe inside XML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// A number in SVG: two decimals at most, no `-0`.
fn n(x: f32) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let s = format!("{:.2}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    if s == "-0" { "0".into() } else { s }
}

fn points(pts: &[(f32, f32)]) -> String {
    pts.iter()
        .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Figure {
    /// The figure as an inline SVG element: `role="img"`, labelled by its `<title>` and
    /// described by its `<desc>` (ids begin with `id`, which must be unique on the page).
    pub fn svg(&self, id: &str) -> String {
        let id = escape(id);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc" class="chart" font-family="DejaVu Sans, sans-serif">"#,
            w = n(self.width),
            h = n(self.height),
        );
        let _ = write!(
            s,
            "\n<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>",
            escape(&self.title),
            escape(&self.desc)
        );
        for shape in &self.shapes {
            s.push('\n');
            match shape {
                Shape::Line {
                    points: p,
                    width,
                    colour,
                    dash,
                } => {
                    let _ = write!(
                        s,
                        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="{}""#,
                        points(p),
                        colour.hex(),
                        n(*width)
                    );
                    if let Some((d, g)) = dash {
                        let _ = write!(s, r#" stroke-dasharray="{} {}""#, n(*d), n(*g));
                    }
                    s.push_str("/>");
                }
                Shape::Fill { points: p, colour } => {
                    let _ = write!(
                        s,
                        r#"<polygon points="{}" fill="{}"/>"#,
                        points(p),
                        colour.hex()
                    );
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    size,
                    bold,
                    anchor,
                    colour,
                } => {
                    let a = match anchor {
                        Anchor::Start => "start",
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    };
                    let _ = write!(
                        s,
                        r#"<text x="{}" y="{}" font-size="{}"{} text-anchor="{a}" fill="{}">{}</text>"#,
                        n(*x),
                        n(*y),
                        n(*size),
                        if *bold { r#" font-weight="bold""# } else { "" },
                        colour.hex(),
                        escape(text)
                    );
                }
            }
        }
        s.push_str("\n</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_numbers_are_short() {
        let f = Figure {
            width: 100.0,
            height: 50.5,
            title: "A <b> & \"c\"".into(),
            desc: "x < 10 % & y >= 10".into(),
            shapes: vec![Shape::Text {
                x: 1.0,
                y: 2.25,
                text: "<18 & 'a'".into(),
                size: 8.0,
                bold: true,
                anchor: Anchor::End,
                colour: Colour::BLACK,
            }],
        };
        let svg = f.svg("t\"x");
        assert!(svg.contains("viewBox=\"0 0 100 50.5\""), "{svg}");
        assert!(
            svg.contains("<title id=\"t&quot;x-title\">A &lt;b&gt; &amp; &quot;c&quot;</title>")
        );
        assert!(svg.contains("&lt;18 &amp; &#39;a&#39;</text>"));
        assert!(!svg.contains("<b>") && !svg.contains("<18"));
        assert!(svg.contains(r#"y="2.25""#));
        assert_eq!(n(-0.001), "0");
        assert_eq!(n(f32::NAN), "0");
    }
}
