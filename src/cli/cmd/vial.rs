//! `ritplan vial add | list | discard`: the vials of a course's template put in use, each with
//! its own code (`V000001`), its lot and its expiry.

use std::io::Write;

use chrono::NaiveDate;

use crate::cli::context::{Context, opened};
use crate::cli::output::write_json;
use crate::cli::{CliError, session};
use crate::render::table;
use crate::units::Volume;
use crate::ward::{NewVial, VialView};

/// `ritplan vial` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum VialCommand {
    /// Put a vial of the course's template in use: prints its own code (unique in the record).
    ///
    /// --vial names the template's vial (its strength and colour come from there). The lot and
    /// its expiry date are typed, or read from the manufacturer's GS1 code with --scan (a typed
    /// value that disagrees with the scan is refused). The vial's expiry is the earlier of the
    /// lot's date and the clinic's limit for that strength (rules/vial-expiry.toml, none by
    /// default); when a limit applies, --prepared is required. An expired vial is refused.
    #[command(
        after_help = "Examples:\n  ritplan vial add 3 --vial 4 --lot AB123 --expires 2027-03-31 --manufacturer ALK\n  ritplan vial add 3 --vial 4 --scan ']d201095060001343521727033110AB123' --volume 5"
    )]
    Add(AddArgs),
    /// List vials: every course's, or one course's (code, course, patient, vial, strength,
    /// colour, lot, expiry, state today, doses drawn).
    #[command(after_help = "Examples:\n  ritplan vial list\n  ritplan vial list 3 --json")]
    List {
        /// Course id (every course's vials without it).
        course: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a vial out of use (dropped, contaminated, empty, expired), with the reason.
    #[command(after_help = "Examples:\n  ritplan vial discard V000001 --reason 'dropped'")]
    Discard {
        /// The vial's code (V and six digits; case ignored).
        code: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ritplan vial add` arguments.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Course id.
    course: i64,
    /// The template's vial (its id, e.g. 4).
    #[arg(long, value_name = "N")]
    vial: String,
    /// The lot on the vial's label (or from --scan).
    #[arg(long)]
    lot: Option<String>,
    /// The lot's expiry date on the label, YYYY-MM-DD (or from --scan).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    expires: Option<NaiveDate>,
    /// The manufacturer.
    #[arg(long, value_name = "NAME")]
    manufacturer: Option<String>,
    /// When the vial was prepared (mixed or diluted), YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    prepared: Option<NaiveDate>,
    /// The vial's volume in mL (above 0, at most 50).
    #[arg(long, value_name = "ML", value_parser = crate::ward::text::volume)]
    volume: Option<Volume>,
    /// The manufacturer's GS1 code as the scanner typed it (fills the lot, expiry, GTIN and
    /// serial).
    #[arg(long, value_name = "CODE")]
    scan: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A vial in one line: `vial 4 (100 000 SQ-U/mL, red), lot AB123, expires 2027-03-31`.
fn described(v: &VialView) -> String {
    format!(
        "vial {} ({}, {}), lot {}, expires {}{}",
        v.vial,
        v.strength,
        v.cap,
        v.lot,
        v.expires,
        v.expiry_rule
            .as_deref()
            .map(|r| format!(" (lot date {}; {r})", v.lot_expires))
            .unwrap_or_default()
    )
}

/// `ritplan vial ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: VialCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, err)?;
    match cmd {
        VialCommand::Add(a) => {
            let actor = session::actor(&ward, now)?;
            let v = ward.add_vial(
                &actor,
                a.course,
                NewVial {
                    vial: a.vial,
                    lot: a.lot,
                    expires: a.expires,
                    manufacturer: a.manufacturer,
                    prepared: a.prepared,
                    volume_ml: a.volume,
                    scan: a.scan,
                },
                now,
            )?;
            if a.json {
                return write_json(out, &v);
            }
            writeln!(
                out,
                "vial {} added to course {} ({}): {}",
                v.code,
                v.course,
                v.patient,
                described(&v)
            )?;
            writeln!(out, "Write {} on the vial (or print its label).", v.code)?;
            Ok(())
        }
        VialCommand::List { course, json } => {
            let vials = ward.vials(course, now.date())?;
            if json {
                return write_json(out, &vials);
            }
            if vials.is_empty() {
                writeln!(
                    out,
                    "no vials{}",
                    course
                        .map(|c| format!(" in course {c}"))
                        .unwrap_or_default()
                )?;
                return Ok(());
            }
            let mut t = table(
                &[
                    "code", "course", "patient", "vial", "strength", "colour", "lot", "expires",
                    "state", "doses",
                ],
                &[1, 9],
            );
            for v in &vials {
                t.add_row(vec![
                    v.code.clone(),
                    v.course.to_string(),
                    v.patient.clone(),
                    v.vial.clone(),
                    v.strength.to_string(),
                    v.cap.clone(),
                    v.lot.clone(),
                    v.expires.to_string(),
                    v.status.word().to_string(),
                    v.doses_drawn.to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
            Ok(())
        }
        VialCommand::Discard { code, reason, json } => {
            let actor = session::actor(&ward, now)?;
            let v = ward.discard_vial(&actor, &code, &reason, now)?;
            if json {
                return write_json(out, &v);
            }
            writeln!(
                out,
                "vial {} discarded: {} (course {}: {})",
                v.code,
                v.discarded_reason.as_deref().unwrap_or(&reason),
                v.course,
                described(&v)
            )?;
            Ok(())
        }
    }
}
