//! `ritplan label patient ID --out FILE [--size WxH | a4]`: the patient's label, with the ID as
//! a Code 128 and a Data Matrix; `ritplan label vials COURSE --out FILE [--size WxH | a4]`: a
//! label per active vial of the course, its code printed and as a Data Matrix.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::CliError;
use crate::cli::context::{Context, opened};
use crate::cli::output::{pdf_fonts, write_atomically};
use crate::render::label::{self, LabelPatient, LabelSize};

/// `ritplan label` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LabelCommand {
    /// A patient's label (wristband or card): name, date of birth, and the ID in text, as a
    /// Code 128 and as a Data Matrix.
    #[command(
        after_help = "Examples:\n  ritplan label patient P001 --out p001-label.pdf\n  ritplan label patient P001 --size 54x25 --out p001-label.pdf\n  ritplan label patient P001 --size a4 --out p001-labels.pdf"
    )]
    Patient(PatientLabelArgs),
    /// A label per active vial of a course (not discarded, not expired today): the patient,
    /// the product, the vial's number, strength and cap colour, its lot and expiry, and the
    /// vial's code printed large and as a Data Matrix for the scan before a dose.
    #[command(
        after_help = "Examples:\n  ritplan label vials 1 --out course1-vials.pdf\n  ritplan label vials 1 --size 70x35 --out course1-vials.pdf\n  ritplan label vials 1 --size a4 --out course1-vials.pdf"
    )]
    Vials(VialLabelArgs),
}

/// `ritplan label vials` arguments.
#[derive(Debug, clap::Args)]
pub struct VialLabelArgs {
    /// Course id.
    course: i64,
    /// Write the PDF to FILE, one page per label (private to you; an existing link, FIFO or
    /// device is refused).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Label size in whole millimetres, WIDTHxHEIGHT (30..=150 x 15..=100), or `a4` for A4
    /// sheets of 24 labels of 64x32 mm.
    #[arg(long, value_name = "WxH", default_value = "64x32", value_parser = parse_size)]
    size: LabelSize,
    /// A font for characters DejaVu Sans lacks (else a CJK font on this machine is looked
    /// for).
    #[arg(long, value_name = "FILE")]
    font: Option<PathBuf>,
}

/// `ritplan label patient` arguments.
#[derive(Debug, clap::Args)]
pub struct PatientLabelArgs {
    /// Patient id.
    id: String,
    /// Write the PDF to FILE (private to you; an existing link, FIFO or device is refused).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Label size in whole millimetres, WIDTHxHEIGHT (30..=150 x 15..=100), or `a4` for an A4
    /// sheet of 40 labels of 50x25 mm.
    #[arg(long, value_name = "WxH", default_value = "50x25", value_parser = parse_size)]
    size: LabelSize,
    /// A font for characters DejaVu Sans lacks (else a CJK font on this machine is looked
    /// for).
    #[arg(long, value_name = "FILE")]
    font: Option<PathBuf>,
}

/// `50x25` (mm, bounded) or `a4`.
fn parse_size(s: &str) -> Result<LabelSize, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("a4") {
        return Ok(LabelSize::A4Sheet);
    }
    let bad =
        || format!("{s:?} is not a label size: give WIDTHxHEIGHT in whole mm (e.g. 50x25) or a4");
    let (w, h) = s.split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let w: u16 = w.trim().parse().map_err(|_| bad())?;
    let h: u16 = h.trim().parse().map_err(|_| bad())?;
    if !(30..=150).contains(&w) || !(15..=100).contains(&h) {
        return Err(format!(
            "a label of {w}x{h} mm is out of range: the width must be 30 to 150 mm, the height 15 to 100 mm"
        ));
    }
    Ok(LabelSize::Label {
        width: w,
        height: h,
    })
}

/// `ritplan label ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: LabelCommand,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, now) = opened(ctx, err)?;
    match cmd {
        LabelCommand::Patient(a) => {
            let id = a.id.trim();
            let p = ward.patient(id)?;
            let fonts = pdf_fonts(&[&p.name], a.font.as_deref())?;
            let shown = LabelPatient {
                id: &p.id,
                name: &p.name,
                dob: p.dob,
            };
            let (bytes, warnings) = label::pdf(&shown, a.size, ward.training(), &fonts, now.date())
                .map_err(|e| CliError::Data(e.to_string()))?;
            write_atomically(&a.out, &bytes)?;
            for warning in warnings {
                writeln!(err, "warning from the PDF writer: {warning}")?;
            }
            writeln!(err, "label written to {}", a.out.display())?;
            Ok(())
        }
        LabelCommand::Vials(a) => {
            let mut ward = ward;
            let l = ward.vial_labels(a.course, now.date())?;
            if l.active.is_empty() {
                return Err(CliError::Data(no_active_vial(&l, now.date())));
            }
            let fonts = pdf_fonts(&[&l.name, &l.product], a.font.as_deref())?;
            let (bytes, warnings) =
                label::vials_pdf(&l, a.size, ward.training(), &fonts, now.date())
                    .map_err(|e| CliError::Data(e.to_string()))?;
            write_atomically(&a.out, &bytes)?;
            for warning in warnings {
                writeln!(err, "warning from the PDF writer: {warning}")?;
            }
            let codes: Vec<&str> = l.active.iter().map(|v| v.code.as_str()).collect();
            writeln!(
                err,
                "label written to {} (vial{} {})",
                a.out.display(),
                if codes.len() == 1 { "" } else { "s" },
                codes.join(", ")
            )?;
            Ok(())
        }
    }
}

/// Why nothing is printed: the course's vials and why none is active, or that it has none.
fn no_active_vial(l: &crate::ward::VialLabels, today: chrono::NaiveDate) -> String {
    let why: Vec<String> = l
        .inactive
        .iter()
        .map(|v| match v.status {
            crate::course::VialStatus::Expired => {
                format!("{} expired on {}", v.code, v.expires.format("%Y-%m-%d"))
            }
            _ => format!("{} is {}", v.code, v.status.word()),
        })
        .collect();
    format!(
        "course {} has no active vial on {today}{}: no label written; add one with `ritplan vial add {} --vial N --lot LOT --expires DATE`",
        l.course,
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join(", "))
        },
        l.course
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_and_bounded() {
        assert_eq!(
            parse_size("54x25"),
            Ok(LabelSize::Label {
                width: 54,
                height: 25
            })
        );
        assert_eq!(parse_size("A4"), Ok(LabelSize::A4Sheet));
        for bad in [
            "29x25", "50x14", "151x25", "50x101", "50", "x", "50x25.5", "-5x20", "",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
