//! Schedule templates: the TOML format describing one up-dosing protocol toward a maintenance
//! dose, its validation, and the catalogue of bundled and user templates.
//!
//! The format is documented with a complete annotated example in `schedules/README.md`.
//! [`check`] reads a template and reports *every* problem it finds, each located by line and
//! column: errors (the template must not be used) and warnings (printed, still usable). A
//! template that fails to parse never panics.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use chrono::NaiveTime;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::diag::{Diagnostic, SourceText};
use crate::policy::{Certainty, Evidence, Policy};
use crate::units::{AllergenUnit, Concentration, Dose, Volume};

/// What kind of up-dosing a template describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Maintenance in 1-3 days, several injections a day.
    Rush,
    /// 2-4 injections on one day, on non-consecutive days.
    Cluster,
    /// One injection a visit, usually weekly.
    Conventional,
}

impl Kind {
    const NAMES: &'static str = "rush, cluster, conventional";

    /// The word written in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rush => "rush",
            Kind::Cluster => "cluster",
            Kind::Conventional => "conventional",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "rush" => Ok(Kind::Rush),
            "cluster" => Ok(Kind::Cluster),
            "conventional" => Ok(Kind::Conventional),
            _ => Err(()),
        }
    }
}

/// The phase a dose belongs to: the up-dosing (called `rush` in a rush template), an optional
/// consolidation between a rush that ends below maintenance and maintenance, then maintenance.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The rush: up-dosing over 1-3 days (the template calls it `rush`).
    Rush,
    /// Up-dosing (the template calls it `up-dosing`).
    UpDosing,
    /// Between the rush (or up-dosing) and maintenance: e.g. the maintenance dose on day 9-10
    /// after a rush that stopped below it, or the first injections after discharge.
    Consolidation,
    /// Maintenance.
    Maintenance,
}

impl Phase {
    /// The names a step may carry.
    pub const STEP_NAMES: &'static str = "rush, up-dosing, consolidation";

    /// The word written in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Rush => "rush",
            Phase::UpDosing => "up-dosing",
            Phase::Consolidation => "consolidation",
            Phase::Maintenance => "maintenance",
        }
    }

    /// The position in the course: rush and up-dosing first, then consolidation, maintenance.
    pub fn rank(self) -> u8 {
        match self {
            Phase::Rush | Phase::UpDosing => 0,
            Phase::Consolidation => 1,
            Phase::Maintenance => 2,
        }
    }

    /// Whether the course rules' up-dosing rules govern it. No rule set bundled with ritplan
    /// has rules of its own for consolidation: a consolidation dose is a plan step, and the
    /// up-dosing rules govern it (said in each `rules/course-*.toml`).
    pub fn uses_updosing_rules(self) -> bool {
        self != Phase::Maintenance
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = ();
    /// A step's phase: `maintenance` is not a step's (it is the `[maintenance]` table).
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "rush" => Ok(Phase::Rush),
            "up-dosing" => Ok(Phase::UpDosing),
            "consolidation" => Ok(Phase::Consolidation),
            _ => Err(()),
        }
    }
}

/// A cited source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The id steps refer to.
    pub id: String,
    /// The citation.
    pub citation: String,
    /// Where to read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One vial of the set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Vial {
    /// The id steps refer to.
    pub id: String,
    /// The printed name.
    pub label: String,
    /// Cap or label colour.
    pub cap: String,
    /// Strength per mL.
    pub concentration: Concentration,
    /// The allergen unit.
    pub unit: AllergenUnit,
}

/// Evidence and certainty for one number, where it differs from the template's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The kind of source.
    pub evidence: Evidence,
    /// The clinical reference's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certainty: Option<Certainty>,
    /// Ids of the template's sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One injection of the up-dosing schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// 1-based position in the schedule.
    pub index: usize,
    /// Protocol day, 1 = first injection day.
    pub day: u32,
    /// Planned clock time, if the template fixes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<NaiveTime>,
    /// Minimum minutes after the previous injection of the same day; `None` on a day's first.
    pub min_interval_min: Option<u32>,
    /// The vial's id.
    pub vial: String,
    /// Volume to inject.
    pub volume_ml: Volume,
    /// Dose = vial strength × volume.
    pub dose: Dose,
    /// Minutes of observation after this injection (the longer day-end observation included).
    pub observation_min: u32,
    /// Whether it is the last injection of its day.
    pub last_of_day: bool,
    /// Provenance where this step's numbers differ from the template's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// The phase, when the template names its phases (`None`: it names none, and every step
    /// is up-dosing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

/// Observation and interval defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// Observation after each injection, minutes.
    pub observation_min: u32,
    /// Observation after a day's last injection, minutes.
    pub last_of_day_observation_min: u32,
    /// Minimum interval between same-day injections, minutes.
    pub min_interval_min: u32,
}

/// Injection limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Injection {
    /// The largest volume one injection may have.
    pub max_volume_ml: Volume,
    /// What the syringe measures.
    pub syringe_graduation_ml: Volume,
}

/// The maintenance phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// The vial's id.
    pub vial: String,
    /// Volume.
    pub volume_ml: Volume,
    /// The target maintenance dose.
    pub dose: Dose,
    /// Weeks between the last up-dosing injection and the first maintenance injections.
    pub first_intervals_weeks: Vec<u32>,
    /// The steady interval, weeks.
    pub interval_weeks: u32,
    /// Allowed deviation from the steady interval, weeks.
    pub interval_tolerance_weeks: u32,
    /// Provenance of the maintenance numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// The drug class of a premedication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PremedClass {
    /// An H1 antihistamine.
    H1,
    /// A leukotriene receptor antagonist.
    Ltra,
    /// A systemic corticosteroid.
    SystemicCorticosteroid,
}

impl PremedClass {
    const NAMES: &'static str = "h1, ltra, systemic-corticosteroid";

    /// The word written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            PremedClass::H1 => "h1",
            PremedClass::Ltra => "ltra",
            PremedClass::SystemicCorticosteroid => "systemic-corticosteroid",
        }
    }

    /// The class in words.
    pub fn words(self) -> &'static str {
        match self {
            PremedClass::H1 => "H1 antihistamine",
            PremedClass::Ltra => "leukotriene antagonist",
            PremedClass::SystemicCorticosteroid => "systemic corticosteroid",
        }
    }
}

impl FromStr for PremedClass {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "h1" => Ok(PremedClass::H1),
            "ltra" => Ok(PremedClass::Ltra),
            "systemic-corticosteroid" => Ok(PremedClass::SystemicCorticosteroid),
            _ => Err(()),
        }
    }
}

/// Whether a premedication must be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PremedStatus {
    /// The dose is not given without it (unless a physician accepts its absence for the day).
    Required,
    /// A reminder; never blocks a dose.
    Recommended,
    /// The schedule says explicitly: no premedication.
    None,
}

impl PremedStatus {
    const NAMES: &'static str = "required, recommended, none";

    /// The word written in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            PremedStatus::Required => "required",
            PremedStatus::Recommended => "recommended",
            PremedStatus::None => "none",
        }
    }
}

impl FromStr for PremedStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "required" => Ok(PremedStatus::Required),
            "recommended" => Ok(PremedStatus::Recommended),
            "none" => Ok(PremedStatus::None),
            _ => Err(()),
        }
    }
}

/// Which injections a premedication is taken before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PremedAnchor {
    /// Before the first injection of each injection day.
    FirstInjectionOfDay,
    /// Before every injection.
    EachInjection,
}

impl PremedAnchor {
    const NAMES: &'static str = "first-injection-of-day, each-injection";

    /// The anchor in words.
    pub fn words(self) -> &'static str {
        match self {
            PremedAnchor::FirstInjectionOfDay => "the first injection of the day",
            PremedAnchor::EachInjection => "each injection",
        }
    }
}

impl FromStr for PremedAnchor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "first-injection-of-day" => Ok(PremedAnchor::FirstInjectionOfDay),
            "each-injection" => Ok(PremedAnchor::EachInjection),
            _ => Err(()),
        }
    }
}

/// A premedication the schedule asks for, `[[premedication]]` in the template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Premedication {
    /// The drug class.
    pub class: PremedClass,
    /// An example drug (`loratadine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Its dose, as text (`10 mg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose: Option<String>,
    /// Which injections it is taken before.
    pub anchor: PremedAnchor,
    /// Minutes before the anchor injection it is meant to be taken.
    pub before_min: u32,
    /// Taken at least this many minutes before the anchor injection (later is too late).
    pub at_least_min: u32,
    /// Taken at most this many minutes before the anchor injection (earlier is too early).
    pub at_most_min: u32,
    /// required, recommended or none.
    pub status: PremedStatus,
    /// The template source it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The kind of source.
    pub evidence: Evidence,
    /// The clinical reference's certainty label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certainty: Option<Certainty>,
    /// The kind of source for the window, where it differs from `evidence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_evidence: Option<Evidence>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Minutes as `2 h`, `90 min`, `1 h 30 min`.
pub fn minutes_words(m: u32) -> String {
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

impl Premedication {
    /// `H1 antihistamine (e.g. loratadine 10 mg)`.
    pub fn what(&self) -> String {
        let drug = match (&self.drug, &self.dose) {
            (Some(d), Some(x)) => format!(" (e.g. {d} {x})"),
            (Some(d), None) => format!(" (e.g. {d})"),
            (None, Some(x)) => format!(" ({x})"),
            (None, None) => String::new(),
        };
        format!("{}{drug}", self.class.words())
    }

    /// The window in words: `taken 1 h to 4 h before`.
    pub fn window(&self) -> String {
        format!(
            "taken {} to {} before{}",
            minutes_words(self.at_least_min),
            minutes_words(self.at_most_min),
            self.window_evidence
                .map(|e| format!(", window {e}"))
                .unwrap_or_default()
        )
    }

    /// The line every output prints: `H1 antihistamine (e.g. loratadine 10 mg) 2 h before the
    /// first injection of the day (taken 1 h to 4 h before) — required [published]`.
    pub fn describe(&self) -> String {
        if self.status == PremedStatus::None {
            return format!(
                "No premedication ({}) — none [{}]",
                self.class.words(),
                self.evidence_label()
            );
        }
        format!(
            "{} {} before {} ({}) — {} [{}]",
            self.what(),
            minutes_words(self.before_min),
            self.anchor.words(),
            self.window(),
            self.status.as_str(),
            self.evidence_label()
        )
    }

    /// `published`, `published, C`.
    pub fn evidence_label(&self) -> String {
        match self.certainty {
            Some(c) => format!("{}, {c}", self.evidence),
            None => self.evidence.to_string(),
        }
    }
}

/// A checked schedule template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Template {
    /// Stable id, used on the command line.
    pub id: String,
    /// Readable name.
    pub name: String,
    /// Product name.
    pub product: String,
    /// The product's id in `rules/eligibility.toml` (minimum age); `None`: not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Manufacturer.
    pub manufacturer: String,
    /// Allergen.
    pub allergen: String,
    /// rush, cluster or conventional.
    pub kind: Kind,
    /// The kind of source the schedule comes from.
    pub evidence: Evidence,
    /// The clinical reference's certainty label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certainty: Option<Certainty>,
    /// What a reader must know about the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_note: Option<String>,
    /// The allergen unit.
    pub unit: AllergenUnit,
    /// The course rule set's id.
    pub rules: String,
    /// Citations.
    pub sources: Vec<Source>,
    /// The vial set.
    pub vials: Vec<Vial>,
    /// Observation and intervals.
    pub timing: Timing,
    /// Injection limits.
    pub injection: Injection,
    /// Up-dosing steps in order.
    pub steps: Vec<Step>,
    /// Maintenance.
    pub maintenance: Maintenance,
    /// The dose the rush (or up-dosing) ends at, below maintenance; consolidation steps then
    /// reach maintenance. `None`: not named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rush_target: Option<Dose>,
    /// Premedication the schedule asks for (`[[premedication]]`; empty: none stated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub premedication: Vec<Premedication>,
    /// Where `id` stands in the file (for duplicate-id messages).
    #[serde(skip)]
    pub id_span: Range<usize>,
}

impl Template {
    /// The vial with this id.
    pub fn vial(&self, id: &str) -> Option<&Vial> {
        self.vials.iter().find(|v| v.id == id)
    }

    /// Whether the template names its phases (a step's `phase`, or `rush_target`): only then
    /// do outputs show the phase of each dose.
    pub fn names_phases(&self) -> bool {
        self.rush_target.is_some() || self.steps.iter().any(|s| s.phase.is_some())
    }

    /// The phase of plan step `index` (1-based) of the template's steps, or of a maintenance
    /// dose (`None` for an index beyond the steps); `None` when the template names no phases.
    pub fn step_phase(&self, index: usize) -> Option<Phase> {
        if !self.names_phases() {
            return None;
        }
        if index == 0 {
            return None;
        }
        let unnamed = if self.kind == Kind::Rush {
            Phase::Rush
        } else {
            Phase::UpDosing
        };
        match self.steps.get(index - 1) {
            Some(s) => Some(s.phase.unwrap_or(unnamed)),
            None => Some(Phase::Maintenance),
        }
    }

    /// How many distinct days hold injections.
    pub fn injection_days(&self) -> usize {
        let mut days: Vec<u32> = self.steps.iter().map(|s| s.day).collect();
        days.dedup();
        days.len()
    }

    /// Protocol days from the first to the last injection, inclusive.
    pub fn span_days(&self) -> u32 {
        match (self.steps.first(), self.steps.last()) {
            (Some(a), Some(b)) => b.day - a.day + 1,
            _ => 0,
        }
    }

    /// Each step's cumulative dose (the sum of all doses up to and including it).
    pub fn cumulative_doses(&self) -> Vec<Dose> {
        let mut total = Dose::new(Decimal::ZERO, self.unit);
        self.steps
            .iter()
            .map(|s| {
                total = total.checked_add(s.dose).unwrap_or(total);
                total
            })
            .collect()
    }

    /// The sentences every output showing this template must carry about its evidence.
    pub fn evidence_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.evidence.needs_warning() {
            let what = match self.evidence {
                Evidence::Example => {
                    "EXAMPLE schedule: not a published protocol; do not use without a clinician's own validated schedule"
                }
                Evidence::Unverified => {
                    "UNVERIFIED schedule: check every step against the product label before use"
                }
                _ => "INFERRED schedule: not stated in any source; check before use",
            };
            out.push(match &self.evidence_note {
                Some(n) => format!("{what}. {n}"),
                None => format!("{what}."),
            });
        }
        for s in &self.steps {
            if let Some(p) = &s.provenance
                && (p.evidence.needs_warning()
                    || matches!(
                        p.certainty,
                        Some(Certainty::Unverified | Certainty::Inference)
                    ))
            {
                out.push(format!(
                    "Step {} is {}{}: check it before use.",
                    s.index,
                    p.evidence,
                    p.certainty.map(|c| format!(" [{c}]")).unwrap_or_default()
                ));
            }
        }
        // A template whose own evidence is weak already says so for every number.
        if let Some(p) = &self.maintenance.provenance
            && !self.evidence.needs_warning()
            && (p.evidence.needs_warning()
                || matches!(
                    p.certainty,
                    Some(Certainty::Unverified | Certainty::Inference)
                ))
        {
            out.push(format!(
                "The maintenance phase is {}{}: check it before use.",
                p.evidence,
                p.certainty.map(|c| format!(" [{c}]")).unwrap_or_default()
            ));
        }
        out
    }

    /// `label [C]`, `example [I]`: the evidence as shown beside the template's name.
    pub fn evidence_label(&self) -> String {
        match self.certainty {
            Some(c) => format!("{} [{c}]", self.evidence),
            None => self.evidence.to_string(),
        }
    }
}

/// The outcome of checking one file.
#[derive(Debug)]
pub struct Checked {
    /// The file.
    pub source: SourceText,
    /// Every problem, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The template, when there is no error.
    pub template: Option<Template>,
}

impl Checked {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

mod catalog;
mod check;
mod read;

pub use catalog::{BUNDLED, Catalog, bundled_sources};
pub use read::check;
pub(crate) use read::read_premedications;

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::bundled().expect("bundled rules")
    }

    #[test]
    fn every_bundled_template_is_valid_and_cited() {
        let p = policy();
        for src in bundled_sources() {
            let name = src.name.clone();
            let c = check(src, &p);
            let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
            let t = c.template.expect("template");
            assert!(!t.sources.is_empty(), "{name} cites nothing");
            assert!(t.certainty.is_some(), "{name} has no certainty label");
            assert!(t.steps.len() >= 3);
        }
    }

    #[test]
    fn every_file_in_schedules_is_bundled() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schedules");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("schedules/")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED.iter().map(|(n, _)| n.to_string()).collect();
        bundled.sort();
        assert_eq!(on_disk, bundled);
    }

    #[test]
    fn cluster_table_matches_the_label() {
        let (cat, problems) = Catalog::build(bundled_sources(), &policy());
        assert!(problems.iter().all(|c| !c.has_errors()));
        let t = cat.get("alutard-hdm-cluster-7w").expect("cluster template");
        let doses: Vec<String> = t
            .steps
            .iter()
            .map(|s| s.dose.amount().to_string())
            .collect();
        assert_eq!(
            doses,
            [
                "10", "100", "1000", "2000", "2000", "5000", "5000", "20000", "40000", "60000",
                "100000"
            ]
        );
        assert_eq!(t.injection_days(), 7);
        assert_eq!(
            t.cumulative_doses().last().map(|d| d.amount().to_string()),
            Some("235110".into())
        );
        // Week 1: three injections 30 min apart; the day's last gets the day-end observation.
        assert_eq!(t.steps[1].min_interval_min, Some(30));
        assert!(t.steps[2].last_of_day && !t.steps[1].last_of_day);
    }

    #[test]
    fn conventional_table_matches_the_label() {
        let (cat, _) = Catalog::build(bundled_sources(), &policy());
        let t = cat
            .get("alutard-hdm-conventional-15w")
            .expect("conventional template");
        let doses: Vec<String> = t
            .steps
            .iter()
            .map(|s| s.dose.amount().to_string())
            .collect();
        assert_eq!(
            doses,
            [
                "20", "40", "80", "200", "400", "800", "2000", "4000", "8000", "10000", "20000",
                "40000", "60000", "80000", "100000"
            ]
        );
        assert_eq!(t.span_days(), 99);
    }

    #[test]
    fn the_rush_example_says_it_is_an_example() {
        let (cat, _) = Catalog::build(bundled_sources(), &policy());
        let t = cat.get("example-hdm-rush-3d").expect("rush template");
        assert_eq!(t.evidence, Evidence::Example);
        assert!(t.evidence_warnings()[0].starts_with("EXAMPLE"));
        assert_eq!(t.injection_days(), 3);
        assert!(
            t.steps
                .iter()
                .filter(|s| s.last_of_day)
                .all(|s| s.observation_min >= 120)
        );
    }

    #[test]
    fn the_depigoid_rush_matches_the_abstract() {
        let (cat, _) = Catalog::build(bundled_sources(), &policy());
        let t = cat.get("depigoid-1-day-rush").expect("depigoid template");
        assert_eq!(t.evidence, Evidence::Published);
        assert_eq!(t.unit, AllergenUnit::MlConcentrate);
        let steps: Vec<(u32, String)> = t
            .steps
            .iter()
            .map(|s| (s.day, s.volume_ml.ml().to_string()))
            .collect();
        assert_eq!(
            steps,
            [(1, "0.2".into()), (1, "0.3".into()), (28, "0.5".into())]
        );
        assert_eq!(t.maintenance.volume_ml.ml().to_string(), "0.5");
        assert_eq!(
            t.rush_target.map(|d| d.amount().to_string()).as_deref(),
            Some("0.3")
        );
        // The day-1 interval is not in the abstract: 30 min, marked unverified.
        assert_eq!(t.steps[1].min_interval_min, Some(30));
        assert_eq!(
            t.steps[1].provenance.as_ref().map(|p| p.evidence),
            Some(Evidence::Unverified)
        );
        assert!(
            t.evidence_warnings()
                .iter()
                .any(|w| w.starts_with("Step 2 is unverified"))
        );
        assert!(
            t.evidence_warnings()
                .iter()
                .any(|w| w.starts_with("The maintenance phase is unverified"))
        );
        assert_eq!(
            (1..=4).map(|i| t.step_phase(i)).collect::<Vec<_>>(),
            [
                Some(Phase::Rush),
                Some(Phase::Rush),
                Some(Phase::Consolidation),
                Some(Phase::Maintenance)
            ]
        );
        assert_eq!(t.step_phase(0), None);
    }

    #[test]
    fn templates_without_phases_name_none() {
        let (cat, _) = Catalog::build(bundled_sources(), &policy());
        for id in [
            "alutard-hdm-cluster-7w",
            "alutard-hdm-conventional-15w",
            "alutard-hdm-slow-25w",
            "example-hdm-rush-3d",
        ] {
            let t = cat.get(id).expect("template");
            assert!(!t.names_phases(), "{id}");
            assert!(t.rush_target.is_none());
            assert_eq!(t.step_phase(1), None);
            assert_eq!(t.step_phase(t.steps.len() + 1), None);
        }
        let t = cat.get("example-hdm-rscit-modified").expect("rscit");
        assert_eq!(t.evidence, Evidence::Example);
        assert_eq!(t.rush_target.map(|d| d.amount()), Some(Decimal::from(300)));
        assert_eq!(t.step_phase(7), Some(Phase::Consolidation));
    }

    #[test]
    fn the_rush_example_recommends_an_h1_antihistamine_before_each_rush_day() {
        let (cat, _) = Catalog::build(bundled_sources(), &policy());
        let t = cat.get("example-hdm-rush-3d").expect("rush template");
        assert_eq!(t.premedication.len(), 1);
        let p = &t.premedication[0];
        assert_eq!(p.class, PremedClass::H1);
        assert_eq!(p.status, PremedStatus::Recommended);
        assert_eq!(p.anchor, PremedAnchor::FirstInjectionOfDay);
        assert_eq!(
            (p.at_least_min, p.before_min, p.at_most_min),
            (60, 120, 240)
        );
        assert_eq!(p.evidence, Evidence::Published);
        assert_eq!(
            p.describe(),
            "H1 antihistamine (e.g. loratadine 10 mg) 2 h before the first injection of the day \
             (taken 1 h to 4 h before, window example) — recommended [published, C-partial]"
        );
        // A template that says nothing has no premedication.
        let c = cat.get("alutard-hdm-cluster-7w").expect("cluster template");
        assert!(c.premedication.is_empty());
    }

    /// The rush example with its `[[premedication]]` replaced by `block`.
    fn with_premedication(block: &str) -> Checked {
        let rush = BUNDLED
            .iter()
            .find(|(n, _)| n.contains("example-hdm-rush-3d"))
            .expect("rush")
            .1;
        let cut = rush
            .find("\n[[premedication]]")
            .expect("a premedication table")
            + 1;
        let text = format!("{}{block}", &rush[..cut]);
        check(SourceText::new("mine.toml", text), &policy())
    }

    #[test]
    fn premedication_problems_are_located() {
        let c = with_premedication(
            "[[premedication]]\nclass = \"h2\"\nstatus = \"mandatory\"\nanchor = \"first-injection-of-day\"\n\
             before_min = 120\nat_least_min = 150\nat_most_min = 240\nsource = \"nope\"\nevidence = \"published\"\ntime = 3\n",
        );
        assert!(c.template.is_none());
        let at = |code: &str| {
            c.diagnostics
                .iter()
                .filter(|d| d.code == code)
                .map(|d| {
                    (
                        c.source.line_col(d.span.as_ref().map_or(0, |s| s.start)).0,
                        d.message.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let unknown = at("unknown-premedication");
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert!(unknown[0].1.contains("\"h2\""), "{unknown:?}");
        assert!(unknown[1].1.contains("\"mandatory\""), "{unknown:?}");
        let window = at("bad-window");
        assert_eq!(window.len(), 1);
        assert!(window[0].1.contains("must hold"), "{window:?}");
        assert!(!at("unknown-source").is_empty());
        assert!(at("unknown-key").iter().any(|(_, m)| m.contains("`time`")));
        // Each problem points at its own line, below the header.
        let header = c.source.text.find("[[premedication]]").expect("header");
        let header_line = c.source.line_col(header).0;
        assert!(unknown.iter().all(|(l, _)| *l > header_line));
    }

    #[test]
    fn a_required_premedication_needs_its_time_and_none_needs_none() {
        let c = with_premedication(
            "[[premedication]]\nclass = \"h1\"\nstatus = \"required\"\nsource = \"premedication\"\nevidence = \"published\"\n",
        );
        let missing: Vec<&str> = c
            .diagnostics
            .iter()
            .filter(|d| d.code == "missing-field")
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(missing.len(), 4, "{:?}", c.diagnostics);
        assert!(missing.iter().any(|m| m.contains("`before_min`")));
        let none = with_premedication(
            "[[premedication]]\nclass = \"h1\"\nstatus = \"none\"\nsource = \"premedication\"\nevidence = \"published\"\n",
        );
        let t = none.template.expect("no premedication needs no time");
        assert_eq!(t.premedication[0].status, PremedStatus::None);
        assert!(
            t.premedication[0]
                .describe()
                .starts_with("No premedication")
        );
    }

    #[test]
    fn duplicate_template_ids_are_refused() {
        let p = policy();
        let mut sources = bundled_sources();
        sources.push(SourceText::new("mine.toml", BUNDLED[0].1));
        let (cat, problems) = Catalog::build(sources, &p);
        assert_eq!(cat.ids().len(), BUNDLED.len());
        let dup = problems
            .iter()
            .find(|c| c.source.name == "mine.toml")
            .expect("reported");
        assert!(
            dup.diagnostics
                .iter()
                .any(|d| d.code == "duplicate-id" && d.message.contains("<bundled>"))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let p = policy();
        for text in [
            "",
            "\u{0}",
            "[[step]]\n[[step]]",
            "id = 1\n[timing]\nobservation_min = -5",
            "step = 3",
            "vial = [1, 2]",
            "[maintenance]\nvolume_ml = \"x\"",
        ] {
            let c = check(SourceText::new("x.toml", text), &p);
            assert!(c.has_errors(), "{text:?}");
            assert!(c.template.is_none());
        }
    }
}

#[cfg(test)]
mod readme_example {
    use super::*;

    /// The annotated example in schedules/README.md is a valid template: its only diagnostic is
    /// the warning for its `example` evidence.
    #[test]
    fn the_documented_example_checks_clean() {
        let readme = include_str!("../../schedules/README.md");
        let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let len = readme[start..].find("```").expect("closing fence");
        let policy = Policy::bundled().expect("bundled rules");
        let c = check(
            SourceText::new("README example", &readme[start..start + len]),
            &policy,
        );
        let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["weak-evidence"], "{:#?}", c.diagnostics);
        let t = c.template.expect("usable");
        assert_eq!(
            t.steps[0].time.map(|t| t.to_string()).as_deref(),
            Some("08:00:00")
        );
        assert_eq!(t.steps[1].min_interval_min, Some(60));
        // The day's last injection gets the longer day-end observation.
        assert_eq!(t.steps[1].observation_min, 120);
        assert_eq!(t.steps[2].observation_min, 30);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> Policy {
        Policy::bundled().expect("bundled rules")
    }

    /// Whatever a usable template says, it keeps the safety invariants.
    fn assert_invariants(t: &Template) -> Result<(), TestCaseError> {
        let mut previous: Option<&Step> = None;
        for s in &t.steps {
            let vial = t
                .vial(&s.vial)
                .expect("a usable template's steps name real vials");
            prop_assert_eq!(vial.concentration.dose_in(s.volume_ml), Some(s.dose));
            prop_assert!(s.dose.amount() <= t.maintenance.dose.amount());
            prop_assert!(s.volume_ml <= t.injection.max_volume_ml);
            prop_assert!(s.observation_min >= policy().template_checks.min_observation_min.value);
            if let Some(p) = previous {
                prop_assert!(s.dose.amount() >= p.dose.amount());
                prop_assert!(s.day >= p.day);
                if s.day == p.day {
                    prop_assert!(s.min_interval_min.unwrap_or(0) >= t.timing.min_interval_min);
                }
            }
            previous = Some(s);
        }
        prop_assert!(t.steps.len() >= 3);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let c = check(SourceText::new("x.toml", text), &policy());
            prop_assert!(c.template.is_none() || !c.has_errors());
        }

        /// Delete, duplicate or rewrite one line of a bundled template: the checker never
        /// panics, and whatever it still accepts keeps the invariants.
        #[test]
        fn mutated_templates_never_slip_through(
            which in 0..BUNDLED.len(),
            line in 0usize..400,
            op in 0u8..4,
            number in prop::sample::select(vec!["0", "-1", "0.05", "0.125", "2", "9.99", "100_000", "1e9", "\"x\""]),
        ) {
            let text = BUNDLED[which].1;
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let i = line % lines.len();
            match op {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => {
                    if let Some((k, _)) = lines[i].split_once(" = ") {
                        lines[i] = format!("{k} = {number}");
                    }
                }
                _ => { let j = (i + 7) % lines.len(); lines.swap(i, j); }
            }
            let c = check(SourceText::new("m.toml", lines.join("\n")), &policy());
            if let Some(t) = &c.template {
                assert_invariants(t)?;
            }
        }
    }
}
