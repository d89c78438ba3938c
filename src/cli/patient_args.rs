//! The patient flags shared by `risk`, `omalizumab` and `plan`, and the patient TOML file.

use std::path::PathBuf;

use chrono::NaiveDate;

use super::CliError;
use super::context::read_source;
use super::output::print_diagnostics;
use crate::diag::Diagnostic;
use crate::patient::{Patient, PatientInput};
use crate::policy::risk::AsthmaControl;
use crate::tomlread::{Diags, parse_document};

// Patient values: flags, or a patient file (flags given as well override the file).
#[derive(Debug, Clone, clap::Args)]
pub struct PatientArgs {
    /// A patient TOML file (keys: age or dob, weight_kg, sige, total_ige, fev1_percent,
    /// beta_blocker, asthma, omalizumab_weeks or omalizumab_since).
    #[arg(long, value_name = "FILE")]
    patient: Option<PathBuf>,
    /// The patient's name (for printed protocols).
    #[arg(long)]
    name: Option<String>,
    /// The patient's clinic id (for printed protocols).
    #[arg(long)]
    id: Option<String>,
    /// Age in years.
    #[arg(long, allow_negative_numbers = true)]
    age: Option<u32>,
    /// Date of birth (YYYY-MM-DD); the age is computed at the plan date.
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    dob: Option<NaiveDate>,
    /// Weight in kg.
    #[arg(long, allow_negative_numbers = true, value_name = "KG")]
    weight: Option<String>,
    /// Mite-specific IgE in kUA/L; censored values such as <0.35 or >100 are accepted.
    #[arg(long, value_name = "KUA_L", allow_hyphen_values = true)]
    sige: Option<String>,
    /// Total IgE in kU/L (= IU/mL), before any omalizumab.
    #[arg(long = "total-ige", value_name = "KU_L", allow_hyphen_values = true)]
    total_ige: Option<String>,
    /// FEV1 in % of predicted.
    #[arg(long, allow_negative_numbers = true, value_name = "PERCENT")]
    fev1: Option<String>,
    /// The patient takes a beta-blocker (including eye drops).
    #[arg(long)]
    beta_blocker: bool,
    /// Asthma control.
    #[arg(long, value_parser = ["controlled", "partly", "uncontrolled"])]
    asthma: Option<String>,
    /// Weeks of omalizumab pretreatment so far.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        conflicts_with = "omalizumab_since"
    )]
    omalizumab_weeks: Option<u32>,
    /// Date omalizumab pretreatment started (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    omalizumab_since: Option<NaiveDate>,
}

impl PatientArgs {
    /// The raw input: the file's values, overridden by any flag given.
    pub fn input(&self) -> Result<PatientInput, CliError> {
        let mut input = match &self.patient {
            Some(path) => read_patient_file(path)?,
            None => PatientInput::default(),
        };
        if self.age.is_some() || self.dob.is_some() {
            input.age = self.age;
            input.dob = self.dob;
        }
        macro_rules! take {
            ($($field:ident <- $flag:expr),*) => { $( if let Some(v) = $flag.clone() { input.$field = Some(v); } )* };
        }
        take!(weight_kg <- self.weight, sige <- self.sige, total_ige <- self.total_ige, fev1_percent <- self.fev1);
        if self.beta_blocker {
            input.beta_blocker = true;
        }
        if let Some(a) = &self.asthma {
            input.asthma = a.parse::<AsthmaControl>().ok();
        }
        if self.omalizumab_weeks.is_some() || self.omalizumab_since.is_some() {
            input.omalizumab_weeks = self.omalizumab_weeks;
            input.omalizumab_since = self.omalizumab_since;
        }
        Ok(input)
    }

    /// Name and id: flags, else the patient file's.
    pub fn identity(&self) -> Result<(Option<String>, Option<String>), CliError> {
        let (mut name, mut id) = match &self.patient {
            Some(path) => read_identity(path)?,
            None => (None, None),
        };
        if self.name.is_some() {
            name = self.name.clone();
        }
        if self.id.is_some() {
            id = self.id.clone();
        }
        Ok((name, id))
    }

    /// The validated patient at `on`.
    pub fn patient(&self, on: NaiveDate) -> Result<Patient, CliError> {
        Ok(Patient::from_input(&self.input()?, on)?)
    }
}

/// Reads a patient file; problems are printed with their location.
fn read_patient_file(path: &std::path::Path) -> Result<PatientInput, CliError> {
    let src = read_source(path)?;
    let mut diags = Diags::default();
    let input = match parse_document(&src.text) {
        Err(d) => {
            diags.push(d);
            None
        }
        Ok(doc) => {
            let doc = doc.named("the patient file");
            doc.only_keys(
                &mut diags,
                &[
                    "id",
                    "name",
                    "age",
                    "dob",
                    "weight_kg",
                    "sige",
                    "total_ige",
                    "fev1_percent",
                    "beta_blocker",
                    "asthma",
                    "omalizumab_weeks",
                    "omalizumab_since",
                ],
            );
            let _ = doc.string(&mut diags, "id", false);
            let _ = doc.string(&mut diags, "name", false);
            // Lab values may be numbers or censored strings; keep them as text for validation.
            let text = |diags: &mut Diags, key: &str| -> Option<String> {
                if doc.has(key) {
                    match doc.decimal(&mut Diags::default(), key, false) {
                        Some(d) => Some(d.value.to_string()),
                        None => doc.string(diags, key, false).map(|s| s.value),
                    }
                } else {
                    None
                }
            };
            Some(PatientInput {
                age: doc.count(&mut diags, "age", false).map(|a| a.value),
                dob: doc.date(&mut diags, "dob").map(|d| d.value),
                weight_kg: text(&mut diags, "weight_kg"),
                sige: text(&mut diags, "sige"),
                total_ige: text(&mut diags, "total_ige"),
                fev1_percent: text(&mut diags, "fev1_percent"),
                beta_blocker: doc
                    .boolean(&mut diags, "beta_blocker")
                    .is_some_and(|b| b.value),
                asthma: doc
                    .parsed::<AsthmaControl>(
                        &mut diags,
                        "asthma",
                        false,
                        "unknown-asthma",
                        "controlled, partly, uncontrolled",
                    )
                    .map(|a| a.value),
                omalizumab_weeks: doc
                    .count(&mut diags, "omalizumab_weeks", false)
                    .map(|w| w.value),
                omalizumab_since: doc.date(&mut diags, "omalizumab_since").map(|d| d.value),
            })
        }
    };
    if diags.has_errors() {
        let mut err = std::io::stderr().lock();
        let errors: Vec<Diagnostic> = diags.0;
        print_diagnostics(&mut err, &src, &errors)?;
        return Err(CliError::Data(format!("{} has errors", src.name)));
    }
    input.ok_or_else(|| CliError::Data(format!("{} has errors", src.name)))
}

fn read_identity(path: &std::path::Path) -> Result<(Option<String>, Option<String>), CliError> {
    let src = read_source(path)?;
    let Ok(doc) = parse_document(&src.text) else {
        return Ok((None, None));
    };
    let mut diags = Diags::default();
    let name = doc.string(&mut diags, "name", false).map(|s| s.value);
    let id = doc.string(&mut diags, "id", false).map(|s| s.value);
    Ok((name, id))
}
