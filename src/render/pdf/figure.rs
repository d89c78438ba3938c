//! Draws a [`Figure`] into the page as vector paths: its lines, filled polygons and text, at the
//! writer's position, breaking the page first when it does not fit.

use super::writer::line;
use super::*;
use crate::render::figure::{Anchor, Colour, Figure, Shape};

fn rgb(c: Colour) -> Color {
    Color::Rgb(Rgb {
        r: f32::from(c.0) / 255.0,
        g: f32::from(c.1) / 255.0,
        b: f32::from(c.2) / 255.0,
        icc_profile: None,
    })
}

impl Writer<'_> {
    /// Draws `f` at full size under what is already on the page (a new page if it does not
    /// fit), then moves below it.
    pub fn figure(&mut self, f: &Figure) {
        self.ensure(f.height);
        let (x0, top) = (self.margin, self.y);
        let at = |x: f32, y: f32| (x0 + x, top - y);
        for shape in &f.shapes {
            match shape {
                Shape::Line {
                    points,
                    width,
                    colour,
                    dash,
                } => {
                    let pts: Vec<(f32, f32)> = points.iter().map(|(x, y)| at(*x, *y)).collect();
                    let pattern = match dash {
                        Some((d, g)) => printpdf::LineDashPattern::new(0.0, &[*d, *g]),
                        None => printpdf::LineDashPattern::solid(),
                    };
                    self.ops().extend([
                        Op::SetOutlineColor { col: rgb(*colour) },
                        Op::SetOutlineThickness { pt: Pt(*width) },
                        Op::SetLineDashPattern { dash: pattern },
                        Op::DrawLine { line: line(&pts) },
                    ]);
                }
                Shape::Fill { points, colour } => {
                    let ring = printpdf::PolygonRing {
                        points: line(&points.iter().map(|(x, y)| at(*x, *y)).collect::<Vec<_>>())
                            .points,
                    };
                    self.ops().extend([
                        Op::SetFillColor { col: rgb(*colour) },
                        Op::DrawPolygon {
                            polygon: printpdf::Polygon {
                                rings: vec![ring],
                                mode: printpdf::PaintMode::Fill,
                                winding_order: printpdf::WindingOrder::NonZero,
                            },
                        },
                    ]);
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
                    let w = self.fonts.width(text, *size, *bold);
                    let dx = match anchor {
                        Anchor::Start => 0.0,
                        Anchor::Middle => w / 2.0,
                        Anchor::End => w,
                    };
                    let (px, py) = at(*x - dx, *y);
                    self.ops().push(Op::SetFillColor { col: rgb(*colour) });
                    self.text_at(px, py, text, *size, *bold);
                }
            }
        }
        // What follows is drawn as before: black, solid.
        self.ops().extend([
            Op::SetFillColor {
                col: rgb(Colour::BLACK),
            },
            Op::SetOutlineColor {
                col: rgb(Colour::BLACK),
            },
            Op::SetLineDashPattern {
                dash: printpdf::LineDashPattern::solid(),
            },
            Op::SetOutlineThickness { pt: Pt(0.5) },
        ]);
        self.y = top - f.height;
    }
}
