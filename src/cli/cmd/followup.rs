//! `ritplan followup add | list`: follow-ups after a course (ACQ item scores, FEV1, medication),
//! recorded as entries of the patient's immunotherapy course, listed with their scores.

use std::io::Write;

use chrono::NaiveDate;

use crate::cli::context::{Context, opened};
use crate::cli::json::{FollowUpAdded, FollowUpJson, FollowUpList};
use crate::cli::output::write_json;
use crate::cli::{CliError, session};
use crate::course::followup::{AcqRecord, DailyDose, MedicationUse, parse_acq_items};
use crate::field::Field;
use crate::ward::WardError;
use crate::ward::followup::{FollowUps, NewFollowUp};

/// `ritplan followup` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FollowUpCommand {
    /// Record a follow-up (physician or nurse): the ACQ item scores from the clinic's licensed
    /// form, FEV1, and the medication the patient uses, as an entry of the patient's allergen
    /// immunotherapy course (by default the most recent one; never an omalizumab course).
    ///
    /// Allowed on a finished or stopped course; it never changes the dosing. Refused (exit 65,
    /// nothing written) when the patient has no immunotherapy course, the date is in the
    /// future or before the patient's birth, the item count is not the version's, an item is
    /// outside 0-6, --acq comes without --acq-version (no default: the version is checked
    /// against the form's item count), or a --medication comes without its --daily-dose.
    #[command(
        after_help = "The Asthma Control Questionnaire (ACQ, Juniper 1999) is copyrighted by QOL Technologies and licensed through Mapi Research Trust: ritplan holds no questionnaire wording, only the form's version and the item numbers' scores 0-6 as the clinic's licensed form gave them.\n\nEach --medication is paired with the --daily-dose in the same position. --no-medication records that none is used (medication score: the definition's none step); without either, the medication is not recorded at this follow-up.\n\nExamples:\n  ritplan followup add --patient P001 --date 2026-12-01 --acq 1,2,0,1,3 --acq-version 5 --medication budesonide --daily-dose '400 µg' --medication salbutamol --daily-dose '2 puffs'\n  ritplan followup add --patient P001 --date 2026-12-01 --course 3 --acq 1,1,0,0,1,2,1 --acq-version 7 --fev1 88 --no-medication"
    )]
    Add(AddArgs),
    /// List a patient's follow-ups, oldest first: the ACQ score (the mean of the items, to 2
    /// places, only when every item of the version is there), the version, FEV1, the medication
    /// and its score under rules/medication-score.toml (the bundled one is an example).
    #[command(
        after_help = "Examples:\n  ritplan followup list --patient P001\n  ritplan followup list --patient P001 --json"
    )]
    List {
        /// The patient's id.
        #[arg(long)]
        patient: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

// `followup add` arguments.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The patient's id.
    #[arg(long)]
    patient: String,
    /// The day of the follow-up (YYYY-MM-DD; not in the future).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    date: NaiveDate,
    /// The course to record it on [default: the patient's most recent immunotherapy course].
    #[arg(long, value_name = "N")]
    course: Option<i64>,
    /// The ACQ item scores 0-6 in the form's order, separated by commas (e.g. 1,2,0,1,3).
    #[arg(long, value_name = "ITEMS")]
    acq: Option<String>,
    /// The ACQ form's version: 5, 6 or 7 (its number of items); required with --acq.
    #[arg(long, value_name = "5|6|7")]
    acq_version: Option<u8>,
    /// A drug the patient uses, as the clinic names it (repeat for each; each with its
    /// --daily-dose).
    #[arg(long, value_name = "TEXT")]
    medication: Vec<String>,
    /// The daily dose of the --medication in the same position, with its unit ('400 µg',
    /// '2 puffs').
    #[arg(long, value_name = "DOSE", allow_hyphen_values = true)]
    daily_dose: Vec<String>,
    /// The patient uses no asthma medication.
    #[arg(long, conflicts_with_all = ["medication", "daily_dose"])]
    no_medication: bool,
    /// Pre-bronchodilator FEV1, % predicted, if measured.
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    fev1: Option<String>,
    /// Print what was recorded as JSON.
    #[arg(long)]
    json: bool,
}

fn input(field: Field, problem: impl Into<String>) -> CliError {
    WardError::Input {
        field,
        problem: problem.into(),
    }
    .into()
}

impl AddArgs {
    /// The follow-up as typed values (each problem names its flag; exit 65).
    fn parsed(&self) -> Result<NewFollowUp, CliError> {
        let acq = match (&self.acq, self.acq_version) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(input(
                    Field::Acq,
                    "is missing: --acq-version was given without the item scores",
                ));
            }
            (Some(_), None) => {
                return Err(input(
                    Field::AcqVersion,
                    "is needed with --acq: 5, 6 or 7, the version on the clinic's form (not guessed from the item count)",
                ));
            }
            (Some(items), Some(version)) => Some(AcqRecord {
                version,
                items: parse_acq_items(items).map_err(|p| input(Field::Acq, p))?,
            }),
        };
        if self.medication.len() != self.daily_dose.len() {
            return Err(input(
                Field::DailyDose,
                format!(
                    "{} --medication and {} --daily-dose were given: each drug needs its daily dose, in the same order",
                    self.medication.len(),
                    self.daily_dose.len()
                ),
            ));
        }
        let medication = if self.no_medication {
            Some(Vec::new())
        } else if self.medication.is_empty() {
            None
        } else {
            Some(
                self.medication
                    .iter()
                    .zip(&self.daily_dose)
                    .map(|(drug, dose)| {
                        Ok(MedicationUse {
                            drug: drug.clone(),
                            daily_dose: DailyDose::parse(dose)
                                .map_err(|p| input(Field::DailyDose, format!("of {drug}: {p}")))?,
                        })
                    })
                    .collect::<Result<Vec<_>, CliError>>()?,
            )
        };
        let fev1_percent = match &self.fev1 {
            None => None,
            Some(t) => Some(
                crate::units::parse_decimal(t)
                    .ok_or_else(|| input(Field::Fev1, format!("{t:?} is not a percentage")))?,
            ),
        };
        Ok(NewFollowUp {
            patient: self.patient.clone(),
            course: self.course,
            date: self.date,
            acq,
            fev1_percent,
            medication,
        })
    }
}

/// `ritplan followup ...`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: FollowUpCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        FollowUpCommand::Add(a) => {
            let f = a.parsed()?;
            let (mut ward, now) = opened(ctx, err)?;
            let actor = session::actor(&ward, now)?;
            let r = ward.add_follow_up(&actor, f, now)?;
            let (course, seq) = (r.view.loaded.record.id, r.event.event.seq);
            let row = ward
                .follow_ups(&r.view.loaded.record.patient_id)?
                .rows
                .into_iter()
                .find(|x| x.course == course && x.seq == seq);
            let def = ward.medication_score_rules()?.label();
            if a.json {
                return write_json(
                    out,
                    &FollowUpAdded {
                        recorded: &r.event,
                        course,
                        follow_up: row.as_ref().map(FollowUpJson::of),
                        medication_score_definition: &def,
                    },
                );
            }
            writeln!(
                out,
                "recorded #{seq} in course {course} by {}: {}",
                crate::render::course::entry_author(&r.event),
                crate::render::course::event(&r.event.event.kind)
            )?;
            if let Some(row) = row
                && row.medication.is_some()
            {
                writeln!(
                    out,
                    "medication score: {} under {def}",
                    crate::render::course::med_score(&row.medication_score)
                )?;
            }
            Ok(())
        }
        FollowUpCommand::List { patient, json: j } => {
            let (mut ward, now) = opened(ctx, err)?;
            session::actor(&ward, now)?;
            let f = ward.follow_ups(&patient)?;
            if j {
                return write_json(out, &FollowUpList::of(&f));
            }
            list(&f, out)
        }
    }
}

/// The text listing.
fn list(f: &FollowUps, out: &mut dyn Write) -> Result<(), CliError> {
    let d = &f.definition;
    writeln!(
        out,
        "follow-ups of patient {} ({}), oldest first",
        f.patient,
        match f.rows.len() {
            1 => "1 follow-up".to_string(),
            n => format!("{n} follow-ups"),
        }
    )?;
    if f.rows.is_empty() {
        return Ok(());
    }
    let headers = [
        "date",
        "course",
        "entry",
        "ACQ",
        "score",
        "FEV1 %",
        "medication",
        "med score",
    ];
    let mut t = crate::render::table(&headers, &[1, 4]);
    for r in &f.rows {
        t.add_row(vec![
            r.date.to_string(),
            r.course.to_string(),
            format!("#{}", r.seq),
            r.acq.as_ref().map_or("-".into(), |a| {
                format!(
                    "ACQ-{} ({})",
                    a.version,
                    a.items
                        .iter()
                        .map(u8::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }),
            match (&r.acq, r.acq_score) {
                (_, Some(s)) => s.to_string(),
                (Some(_), None) => "incomplete".into(),
                (None, None) => "-".into(),
            },
            r.fev1_percent
                .map_or("-".into(), |f| f.normalize().to_string()),
            match r.medication.as_deref() {
                None => "not recorded".into(),
                Some([]) => "none".into(),
                Some(m) => m
                    .iter()
                    .map(|u| format!("{} {}/day", u.drug, u.daily_dose))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
            crate::render::course::med_score(&r.medication_score),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "ACQ score: the mean of the items, to 2 places, only when every item of the version is there (never imputed)."
    )?;
    writeln!(out, "medication score: {} - {}", d.label(), d.name)?;
    if d.is_example() {
        writeln!(
            out,
            "  no standard asthma medication score exists (Kappen et al., Allergy 2023;78:2835-50); this one is an example: a clinic sets its own in rules/medication-score.toml (--rules DIR)"
        )?;
    }
    Ok(())
}
