//! Schedule templates: the TOML format describing one up-dosing protocol toward a maintenance
//! dose, its validation, and the catalogue of bundled and user templates.
//!
//! The format is documented with a complete annotated example in `schedules/README.md`.
//! [`check`] reads a template and reports *every* problem it finds, each located by line and
//! column: errors (the template must not be used) and warnings (printed, still usable). A
//! template that fails to parse never panics.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use chrono::NaiveTime;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::diag::{Diagnostic, SourceText};
use crate::policy::{Certainty, Evidence, Policy};
use crate::tomlread::{Diags, Sp, Table, parse_document};
use crate::units::{AllergenUnit, Concentration, Dose, Syringe, Volume, format_ml};

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
    /// Where `id` stands in the file (for duplicate-id messages).
    #[serde(skip)]
    pub id_span: Range<usize>,
}

impl Template {
    /// The vial with this id.
    pub fn vial(&self, id: &str) -> Option<&Vial> {
        self.vials.iter().find(|v| v.id == id)
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

/// Reads and checks one template file. Never panics, whatever the text.
///
/// ```
/// use ritplan::diag::SourceText;
/// use ritplan::policy::Policy;
/// use ritplan::template::check;
///
/// let policy = Policy::bundled().unwrap();
/// let checked = check(SourceText::new("mine.toml", "id = \"x\"\n"), &policy);
/// assert!(checked.has_errors());
/// assert!(checked.template.is_none());
/// assert!(checked.diagnostics.iter().any(|d| d.code == "missing-provenance"));
/// ```
pub fn check(source: SourceText, policy: &Policy) -> Checked {
    let mut diags = Diags::default();
    let template = match parse_document(&source.text) {
        Err(d) => {
            diags.push(d);
            None
        }
        Ok(doc) => read_template(&doc.named("the template"), policy, &mut diags),
    };
    let mut diagnostics = diags.0;
    diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    let template = template.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Checked {
        source,
        diagnostics,
        template,
    }
}

const TOP_KEYS: &[&str] = &[
    "format",
    "id",
    "name",
    "product",
    "product_id",
    "manufacturer",
    "allergen",
    "kind",
    "unit",
    "evidence",
    "certainty",
    "evidence_note",
    "updated",
    "rules",
    "source",
    "vial",
    "timing",
    "injection",
    "step",
    "maintenance",
];

const PROVENANCE_KEYS: &[&str] = &["evidence", "certainty", "source", "note"];

/// The largest values a template may hold. Not clinical limits: bounds that keep every date,
/// time and dose the planner computes from a template inside what the calendar and exact
/// decimal arithmetic can hold (ten years of protocol days, a day of minutes, ten years of
/// weeks, a billion units per mL, ten mL per injection), so that no template makes it fail.
const MAX_DAY: u32 = 3_650;
const MAX_MINUTES: u32 = 1_440;
const MAX_WEEKS: u32 = 520;
const MAX_CONCENTRATION: i64 = 1_000_000_000;
const MAX_VOLUME_ML: i64 = 10;

/// Reports a number above `max`.
fn bounded(diags: &mut Diags, v: &Sp<u32>, max: u32, what: &str) -> bool {
    if v.value > max {
        diags.push(Diagnostic::error(
            "out-of-range",
            v.at(),
            format!(
                "{what} of {} is above the largest ritplan accepts ({max})",
                v.value
            ),
        ));
        return false;
    }
    true
}

/// What one step says, before cross-checks.
struct RawStep {
    index: usize,
    span: Range<usize>,
    day: Sp<u32>,
    time: Option<Sp<NaiveTime>>,
    after_min: Option<Sp<u32>>,
    vial: Sp<String>,
    volume: Sp<Volume>,
    stated_dose: Option<Sp<Decimal>>,
    observation_min: Option<Sp<u32>>,
    provenance: Option<Provenance>,
}

fn read_template(doc: &Table<'_, '_>, policy: &Policy, diags: &mut Diags) -> Option<Template> {
    doc.only_keys(diags, TOP_KEYS);
    if let Some(f) = doc.count(diags, "format", false)
        && f.value != 1
    {
        diags.push(
            Diagnostic::error(
                "unknown-format",
                f.at(),
                format!("template format {} is not supported", f.value),
            )
            .with_help("this ritplan reads format = 1"),
        );
    }
    let id = doc.string(diags, "id", true);
    if let Some(id) = &id
        && !id
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        diags.push(
            Diagnostic::error(
                "bad-id",
                id.at(),
                format!(
                    "template id {:?} has characters that are hard to type",
                    id.value
                ),
            )
            .with_help("use letters, digits, '-', '_' and '.' only"),
        );
    }
    let name = doc.string(diags, "name", true);
    let product = doc.string(diags, "product", true);
    let manufacturer = doc.string(diags, "manufacturer", true);
    let allergen = doc.string(diags, "allergen", true);
    let kind = doc.parsed::<Kind>(diags, "kind", true, "unknown-kind", Kind::NAMES);
    let unit = doc.parsed::<AllergenUnit>(
        diags,
        "unit",
        true,
        "unknown-unit",
        "SQ-U, TU, AU, BAU, IR, PNU, BU, µg",
    );
    let evidence =
        doc.parsed::<Evidence>(diags, "evidence", true, "unknown-evidence", Evidence::NAMES);
    let certainty = doc.parsed::<Certainty>(
        diags,
        "certainty",
        false,
        "unknown-certainty",
        Certainty::NAMES,
    );
    let evidence_note = doc.string(diags, "evidence_note", false);
    let _updated = doc.date(diags, "updated");
    let product_id = doc.string(diags, "product_id", false);
    if let Some(p) = &product_id
        && policy.eligibility.product(&p.value).is_none()
    {
        let known: Vec<String> = policy
            .eligibility
            .products
            .iter()
            .map(|p| format!("{:?}", p.id))
            .collect();
        diags.push(
            Diagnostic::error(
                "unknown-product",
                p.at(),
                format!(
                    "the template names product {:?}, which rules/eligibility.toml does not list",
                    p.value
                ),
            )
            .with_help(format!("the products are {}", known.join(", "))),
        );
    }
    let rules = doc.string(diags, "rules", true);
    if let Some(r) = &rules
        && policy.rule_set(&r.value).is_none()
    {
        let known: Vec<String> = policy
            .rule_sets
            .iter()
            .map(|r| format!("{:?}", r.id))
            .collect();
        diags.push(
            Diagnostic::error(
                "unknown-rules",
                r.at(),
                format!(
                    "the template names rule set {:?}, which does not exist",
                    r.value
                ),
            )
            .with_help(format!("the rule sets are {}", known.join(", "))),
        );
    }
    if let Some(e) = &evidence
        && e.value.needs_warning()
    {
        diags.push(
            Diagnostic::warning(
                "weak-evidence",
                e.at(),
                format!(
                    "this template's evidence is `{}`: every output that shows it will say so",
                    e.value
                ),
            )
            .with_help("do not use it for patients without a clinician's own check of every step"),
        );
    }

    let sources = read_sources(doc, diags);
    let source_ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
    let (vials, rejected_vials) = unit
        .as_ref()
        .map(|u| read_vials(doc, u.value, diags))
        .unwrap_or_default();
    let timing = read_timing(doc, policy, kind.as_ref().map(|k| k.value), diags);
    let injection = read_injection(doc, diags);

    let step_tables = doc.tables(diags, "step");
    // One entry per [[step]], `None` where the step could not be read.
    let raw_steps: Vec<Option<RawStep>> = step_tables
        .iter()
        .enumerate()
        .map(|(i, t)| read_step(t, i + 1, &source_ids, diags))
        .collect();
    if step_tables.len() < 3 {
        diags.push(
            Diagnostic::error(
                "too-few-steps",
                None,
                format!(
                    "the template has {} step{}; an up-dosing schedule needs at least 3",
                    step_tables.len(),
                    if step_tables.len() == 1 { "" } else { "s" }
                ),
            )
            .with_help("add the steps as [[step]] tables, in order"),
        );
    }

    let maintenance = read_maintenance(doc, &source_ids, diags);

    // Cross-checks need the vials, the units and the timing.
    let (unit, timing, injection) = (unit?.value, timing?, injection?);
    let vial_of = |id: &Sp<String>, what: &str, diags: &mut Diags| -> Option<Vial> {
        let found = vials.iter().find(|v| v.id == id.value).cloned();
        if found.is_none() && !rejected_vials.contains(&id.value) {
            let known: Vec<String> = vials.iter().map(|v| format!("{:?}", v.id)).collect();
            diags.push(
                Diagnostic::error(
                    "unknown-vial",
                    id.at(),
                    format!(
                        "{what} uses vial {:?}, which this template does not define",
                        id.value
                    ),
                )
                .with_help(if known.is_empty() {
                    "define the vials as [[vial]] tables".to_string()
                } else {
                    format!("the vials are {}", known.join(", "))
                }),
            );
        }
        found
    };
    let syringe = Syringe::new(injection.syringe_graduation_ml).ok();

    let maintenance = maintenance.and_then(|(m, vial_id, volume, stated)| {
        let vial = vial_of(&vial_id, "[maintenance]", diags)?;
        check_volume(&volume, &injection, syringe, "[maintenance]", diags);
        let dose = vial_dose(&vial, &volume, stated.as_ref(), "[maintenance]", diags)?;
        Some(Maintenance {
            vial: vial.id,
            dose,
            volume_ml: volume.value,
            ..m
        })
    });

    let checks = &policy.template_checks;
    let mut steps: Vec<Step> = Vec::new();
    let mut previous: Option<(&RawStep, Dose)> = None;
    for (n, raw) in raw_steps.iter().enumerate() {
        let Some(raw) = raw else {
            previous = None;
            continue;
        };
        let what = format!("step {}", raw.index);
        // A step that cannot be read is skipped, and so is the comparison with it: comparing the
        // next step with an older one would report an escalation the template does not have.
        let Some(vial) = vial_of(&raw.vial, &what, diags) else {
            previous = None;
            continue;
        };
        check_volume(&raw.volume, &injection, syringe, &what, diags);
        let Some(dose) = vial_dose(&vial, &raw.volume, raw.stated_dose.as_ref(), &what, diags)
        else {
            previous = None;
            continue;
        };
        let dose_span = raw
            .stated_dose
            .as_ref()
            .map_or(raw.volume.span.clone(), |d| d.span.clone());
        let next_day = raw_steps
            .get(n + 1)
            .and_then(|s| s.as_ref())
            .map(|s| s.day.value);
        let last_of_day = next_day != Some(raw.day.value);
        let same_day = previous.filter(|(p, _)| p.day.value == raw.day.value);

        if let Some((p, _)) = previous
            && raw.day.value < p.day.value
        {
            diags.push(Diagnostic::error(
                "day-order",
                raw.day.at(),
                format!(
                    "step {} is on day {}, before step {} on day {}; steps must be in order",
                    raw.index, raw.day.value, p.index, p.day.value
                ),
            ));
        }
        if let Some((p, pdose)) = previous {
            if dose.amount() < pdose.amount() {
                diags.push(
                    Diagnostic::error(
                        "dose-decrease",
                        Some(dose_span.clone()),
                        format!("step {} gives {dose}, less than step {} ({pdose}); up-dosing must not decrease", raw.index, p.index),
                    )
                    .with_help("a dose reduction after a reaction belongs to the course rules, not the template"),
                );
            } else if pdose.amount() > Decimal::ZERO {
                let factor = dose.amount() / pdose.amount();
                let near = maintenance.as_ref().is_some_and(|m| {
                    m.dose
                        .amount()
                        .checked_mul(checks.near_maintenance_from_fraction.value)
                        .is_some_and(|from| pdose.amount() >= from)
                });
                if near && factor > checks.near_maintenance_max_factor.value {
                    diags.push(Diagnostic::warning(
                        "steep-escalation",
                        Some(dose_span.clone()),
                        format!(
                            "step {} is {}× step {} near maintenance (more than {}×)",
                            raw.index,
                            factor.round_dp(2).normalize(),
                            p.index,
                            checks.near_maintenance_max_factor.value
                        ),
                    ));
                } else if factor > checks.max_escalation_factor.value {
                    diags.push(Diagnostic::warning(
                        "steep-escalation",
                        Some(dose_span.clone()),
                        format!(
                            "step {} is {}× step {} (more than {}×)",
                            raw.index,
                            factor.round_dp(2).normalize(),
                            p.index,
                            checks.max_escalation_factor.value
                        ),
                    ));
                }
            }
        }
        if let Some(m) = &maintenance
            && dose.amount() > m.dose.amount()
        {
            diags.push(Diagnostic::error(
                "above-maintenance",
                Some(dose_span.clone()),
                format!(
                    "step {} gives {dose}, more than the maintenance dose {}",
                    raw.index, m.dose
                ),
            ));
        }

        // Same-day timing.
        if let Some(o) = &raw.observation_min {
            check_observation(o, policy, diags);
        }
        let observation = raw
            .observation_min
            .as_ref()
            .map_or(timing.observation_min, |o| o.value);
        let observation = if last_of_day {
            observation.max(timing.last_of_day_observation_min)
        } else {
            observation
        };
        let min_interval = same_day.map(|_| {
            raw.after_min
                .as_ref()
                .map_or(timing.min_interval_min, |a| a.value)
        });
        if let Some(a) = &raw.after_min {
            if same_day.is_none() {
                diags.push(Diagnostic::warning(
                    "interval-ignored",
                    a.at(),
                    format!(
                        "step {} is the first of its day, so `after_min` has no effect",
                        raw.index
                    ),
                ));
            } else if a.value < timing.min_interval_min {
                diags.push(Diagnostic::error(
                    "interval-too-short",
                    a.at(),
                    format!(
                        "step {} follows the previous injection after {} min, less than the template's minimum interval of {} min",
                        raw.index, a.value, timing.min_interval_min
                    ),
                ));
            }
        }
        if let (Some((p, _)), Some(t)) = (same_day, &raw.time)
            && let Some(pt) = &p.time
        {
            let gap = (t.value - pt.value).num_minutes();
            let prev_obs = steps
                .last()
                .map_or(timing.observation_min, |s| s.observation_min);
            let needed = i64::from(min_interval.unwrap_or(0).max(prev_obs));
            if gap <= 0 {
                diags.push(Diagnostic::error(
                    "time-order",
                    t.at(),
                    format!(
                        "step {} at {} is not after step {} at {} on the same day",
                        raw.index,
                        t.value.format("%H:%M"),
                        p.index,
                        pt.value.format("%H:%M")
                    ),
                ));
            } else if gap < needed {
                diags.push(Diagnostic::error(
                    "interval-too-short",
                    t.at(),
                    format!(
                        "step {} at {} is {gap} min after step {}; same-day injections need at least {needed} min (the minimum interval and the previous observation)",
                        raw.index,
                        t.value.format("%H:%M"),
                        p.index
                    ),
                ));
            }
        }

        steps.push(Step {
            index: raw.index,
            day: raw.day.value,
            time: raw.time.as_ref().map(|t| t.value),
            min_interval_min: min_interval,
            vial: vial.id.clone(),
            volume_ml: raw.volume.value,
            dose,
            observation_min: observation,
            last_of_day,
            provenance: raw.provenance.clone(),
        });
        previous = Some((raw, dose));
    }

    if let (Some(m), Some(last)) = (&maintenance, steps.last())
        && last.dose.amount() < m.dose.amount()
        && steps.len() == raw_steps.len()
    {
        diags.push(
            Diagnostic::warning(
                "below-maintenance",
                raw_steps
                    .last()
                    .and_then(|r| r.as_ref())
                    .map(|r| r.span.clone()),
                format!(
                    "the last step gives {}, less than the maintenance dose {}",
                    last.dose, m.dose
                ),
            )
            .with_help(
                "the course will have to step up to maintenance; make sure that is intended",
            ),
        );
    }

    let id = id?;
    Some(Template {
        id_span: id.span.clone(),
        id: id.value,
        name: name?.value,
        product: product?.value,
        product_id: product_id.map(|p| p.value),
        manufacturer: manufacturer?.value,
        allergen: allergen?.value,
        kind: kind?.value,
        evidence: evidence?.value,
        certainty: certainty.map(|c| c.value),
        evidence_note: evidence_note.map(|n| n.value),
        unit,
        rules: rules?.value,
        sources,
        vials,
        timing,
        injection,
        steps,
        maintenance: maintenance?,
    })
}

fn read_sources(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<Source> {
    let tables = doc.tables(diags, "source");
    if tables.is_empty() {
        diags.push(
            Diagnostic::error("missing-provenance", None, "the template cites no source")
                .with_help("add at least one [[source]] table with `id` and `citation` (and `url` where there is one)"),
        );
    }
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut out = Vec::new();
    for t in &tables {
        t.only_keys(diags, &["id", "citation", "url"]);
        let id = t.string(diags, "id", true);
        let citation = t.string(diags, "citation", true);
        let url = t.string(diags, "url", false);
        let (Some(id), Some(citation)) = (id, citation) else {
            continue;
        };
        if seen.contains_key(&id.value) {
            diags.push(Diagnostic::error(
                "duplicate-id",
                id.at(),
                format!("two sources have the id {:?}", id.value),
            ));
            continue;
        }
        seen.insert(id.value.clone(), id.span.clone());
        out.push(Source {
            id: id.value,
            citation: citation.value,
            url: url.map(|u| u.value),
        });
    }
    out
}

/// The usable vials, and the ids of vials that were defined but rejected (so that steps naming
/// them are not reported a second time as naming an undefined vial).
fn read_vials(
    doc: &Table<'_, '_>,
    unit: AllergenUnit,
    diags: &mut Diags,
) -> (Vec<Vial>, Vec<String>) {
    let tables = doc.tables(diags, "vial");
    if tables.is_empty() {
        diags.push(
            Diagnostic::error("missing-vials", None, "the template defines no vial").with_help(
                "add the vial set as [[vial]] tables with id, label, cap, concentration",
            ),
        );
    }
    let mut out: Vec<Vial> = Vec::new();
    let mut rejected = Vec::new();
    for t in &tables {
        t.only_keys(diags, &["id", "label", "cap", "concentration", "unit"]);
        let id = t.string(diags, "id", true);
        let errors_before = diags.0.iter().filter(|d| d.is_error()).count();
        let label = t.string(diags, "label", true);
        let cap = t.string(diags, "cap", true);
        let conc = t.decimal(diags, "concentration", true);
        let vial_unit = t.parsed::<AllergenUnit>(
            diags,
            "unit",
            false,
            "unknown-unit",
            "SQ-U, TU, AU, BAU, IR, PNU, BU, µg",
        );
        if let Some(u) = &vial_unit
            && u.value != unit
        {
            diags.push(Diagnostic::error(
                "unit-mismatch",
                u.at(),
                format!(
                    "this vial is in {}, but the template's unit is {unit}",
                    u.value
                ),
            ));
        }
        if let Some(c) = &conc
            && c.value <= Decimal::ZERO
        {
            diags.push(Diagnostic::error(
                "bad-concentration",
                c.at(),
                "a vial's concentration must be above zero",
            ));
        }
        if let Some(c) = &conc
            && c.value > Decimal::from(MAX_CONCENTRATION)
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                c.at(),
                format!(
                    "a concentration of {} per mL is above the largest ritplan accepts ({MAX_CONCENTRATION})",
                    c.value.normalize()
                ),
            ));
        }
        let (Some(id), Some(label), Some(cap), Some(conc)) = (id, label, cap, conc) else {
            continue;
        };
        if diags.0.iter().filter(|d| d.is_error()).count() > errors_before {
            rejected.push(id.value);
            continue;
        }
        if out.iter().any(|v| v.id == id.value) {
            diags.push(Diagnostic::error(
                "duplicate-id",
                id.at(),
                format!("two vials have the id {:?}", id.value),
            ));
            continue;
        }
        out.push(Vial {
            id: id.value,
            label: label.value,
            cap: cap.value,
            concentration: Concentration::new(conc.value, unit),
            unit,
        });
    }
    (out, rejected)
}

fn read_timing(
    doc: &Table<'_, '_>,
    policy: &Policy,
    kind: Option<Kind>,
    diags: &mut Diags,
) -> Option<Timing> {
    let t = doc.sub_table(diags, "timing", true)?;
    t.only_keys(
        diags,
        &[
            "observation_min",
            "last_of_day_observation_min",
            "min_interval_min",
        ],
    );
    let obs = t.count(diags, "observation_min", true);
    let last = t.count(diags, "last_of_day_observation_min", true);
    let interval = t.count(diags, "min_interval_min", true);
    let obs = obs.filter(|v| bounded(diags, v, MAX_MINUTES, "an observation in minutes"));
    let last = last.filter(|v| bounded(diags, v, MAX_MINUTES, "an observation in minutes"));
    let interval = interval.filter(|v| bounded(diags, v, MAX_MINUTES, "an interval in minutes"));
    let checks = &policy.template_checks;
    for o in [&obs, &last].into_iter().flatten() {
        check_observation(o, policy, diags);
    }
    if let Some(i) = &interval {
        if i.value == 0 {
            diags.push(Diagnostic::error(
                "interval-too-short",
                i.at(),
                "the minimum interval between same-day injections must be above 0 min",
            ));
        } else if i.value < checks.min_same_day_interval_min.value {
            diags.push(
                Diagnostic::warning(
                    "short-interval",
                    i.at(),
                    format!(
                        "same-day injections {} min apart are closer than the {} min the guideline asks",
                        i.value, checks.min_same_day_interval_min.value
                    ),
                )
                .with_help(checks.min_same_day_interval_min.provenance.source.clone()),
            );
        }
    }
    if let (Some(Kind::Rush), Some(l)) = (kind, &last)
        && l.value < checks.rush_last_of_day_observation_min.value
        && l.value >= checks.min_observation_min.value
    {
        diags.push(
            Diagnostic::warning(
                "short-rush-observation",
                l.at(),
                format!(
                    "a rush day's last injection is followed by {} min of observation; {} min or more is advised [{}]",
                    l.value,
                    checks.rush_last_of_day_observation_min.value,
                    checks.rush_last_of_day_observation_min.provenance.certainty
                ),
            )
            .with_help(checks.rush_last_of_day_observation_min.provenance.source.clone()),
        );
    }
    if let (Some(o), Some(l)) = (&obs, &last)
        && l.value < o.value
    {
        diags.push(Diagnostic::error(
            "observation-too-short",
            l.at(),
            format!("the observation after a day's last injection ({} min) is shorter than after any other ({} min)", l.value, o.value),
        ));
    }
    Some(Timing {
        observation_min: obs?.value,
        last_of_day_observation_min: last?.value,
        min_interval_min: interval?.value,
    })
}

fn check_observation(o: &Sp<u32>, policy: &Policy, diags: &mut Diags) {
    let min = &policy.template_checks.min_observation_min;
    if o.value < min.value {
        diags.push(
            Diagnostic::error(
                "observation-too-short",
                o.at(),
                format!("an observation of {} min is shorter than the {} min minimum after any injection", o.value, min.value),
            )
            .with_help(min.provenance.source.clone()),
        );
    }
}

fn read_injection(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<Injection> {
    let t = doc.sub_table(diags, "injection", true)?;
    t.only_keys(diags, &["max_volume_ml", "syringe_graduation_ml"]);
    let max = t.decimal(diags, "max_volume_ml", true);
    let grad = t.decimal(diags, "syringe_graduation_ml", true);
    for v in [&max, &grad].into_iter().flatten() {
        if v.value <= Decimal::ZERO {
            diags.push(Diagnostic::error(
                "bad-volume",
                v.at(),
                "this volume must be above 0 mL",
            ));
            return None;
        }
        if v.value > Decimal::from(MAX_VOLUME_ML) {
            diags.push(Diagnostic::error(
                "out-of-range",
                v.at(),
                format!(
                    "{} mL is above the largest ritplan accepts ({MAX_VOLUME_ML} mL)",
                    v.value.normalize()
                ),
            ));
            return None;
        }
    }
    Some(Injection {
        max_volume_ml: Volume::from_ml(max?.value),
        syringe_graduation_ml: Volume::from_ml(grad?.value),
    })
}

fn read_provenance_override(
    t: &Table<'_, '_>,
    source_ids: &[&str],
    diags: &mut Diags,
) -> Option<Provenance> {
    if !PROVENANCE_KEYS.iter().any(|k| t.has(k)) {
        return None;
    }
    let evidence =
        t.parsed::<Evidence>(diags, "evidence", true, "unknown-evidence", Evidence::NAMES);
    let certainty = t.parsed::<Certainty>(
        diags,
        "certainty",
        false,
        "unknown-certainty",
        Certainty::NAMES,
    );
    let source = t.string(diags, "source", false);
    if let Some(s) = &source
        && !source_ids.contains(&s.value.as_str())
    {
        diags.push(
            Diagnostic::error(
                "unknown-source",
                s.at(),
                format!(
                    "{} cites source {:?}, which the template does not list",
                    t.what, s.value
                ),
            )
            .with_help(format!("the sources are {}", source_ids.join(", "))),
        );
    }
    let note = t.string(diags, "note", false);
    Some(Provenance {
        evidence: evidence?.value,
        certainty: certainty.map(|c| c.value),
        source: source.map(|s| s.value),
        note: note.map(|n| n.value),
    })
}

fn read_step(
    t: &Table<'_, '_>,
    index: usize,
    source_ids: &[&str],
    diags: &mut Diags,
) -> Option<RawStep> {
    let mut keys = vec![
        "day",
        "time",
        "after_min",
        "vial",
        "volume_ml",
        "dose",
        "observation_min",
    ];
    keys.extend(PROVENANCE_KEYS);
    t.only_keys(diags, &keys);
    let day = t.count(diags, "day", true);
    if let Some(d) = &day
        && d.value == 0
    {
        diags.push(Diagnostic::error(
            "day-order",
            d.at(),
            "days are counted from 1 (the first injection day)",
        ));
    }
    let day = day.filter(|d| bounded(diags, d, MAX_DAY, "a protocol day"));
    let time = t.time(diags, "time");
    let after_min = t
        .count(diags, "after_min", false)
        .filter(|v| bounded(diags, v, MAX_MINUTES, "an interval in minutes"));
    let vial = t.string(diags, "vial", true);
    let volume = t.decimal(diags, "volume_ml", true);
    let stated_dose = t.decimal(diags, "dose", false);
    let observation_min = t
        .count(diags, "observation_min", false)
        .filter(|v| bounded(diags, v, MAX_MINUTES, "an observation in minutes"));
    let provenance = read_provenance_override(t, source_ids, diags);
    Some(RawStep {
        index,
        span: t.at().unwrap_or(0..0),
        day: day.filter(|d| d.value > 0)?,
        time,
        after_min,
        vial: vial?,
        volume: volume.map(|v| Sp {
            value: Volume::from_ml(v.value),
            span: v.span,
        })?,
        stated_dose,
        observation_min,
        provenance,
    })
}

type RawMaintenance = (Maintenance, Sp<String>, Sp<Volume>, Option<Sp<Decimal>>);

fn read_maintenance(
    doc: &Table<'_, '_>,
    source_ids: &[&str],
    diags: &mut Diags,
) -> Option<RawMaintenance> {
    let t = doc.sub_table(diags, "maintenance", true)?;
    let mut keys = vec![
        "vial",
        "volume_ml",
        "dose",
        "first_intervals_weeks",
        "interval_weeks",
        "interval_tolerance_weeks",
    ];
    keys.extend(PROVENANCE_KEYS);
    t.only_keys(diags, &keys);
    let vial = t.string(diags, "vial", true);
    let volume = t.decimal(diags, "volume_ml", true);
    let dose = t.decimal(diags, "dose", true);
    let first: Vec<Sp<u32>> = t
        .counts(diags, "first_intervals_weeks")
        .unwrap_or_default()
        .into_iter()
        .filter(|w| bounded(diags, w, MAX_WEEKS, "an interval in weeks"))
        .collect();
    let interval = t
        .count(diags, "interval_weeks", true)
        .filter(|w| bounded(diags, w, MAX_WEEKS, "an interval in weeks"));
    let tolerance = t.count(diags, "interval_tolerance_weeks", false);
    for w in first.iter().chain(interval.iter()) {
        if w.value == 0 {
            diags.push(Diagnostic::error(
                "bad-interval",
                w.at(),
                "a maintenance interval must be at least 1 week",
            ));
        }
    }
    if let (Some(i), Some(tol)) = (&interval, &tolerance)
        && i.value > 0
        && tol.value >= i.value
    {
        diags.push(Diagnostic::error(
            "bad-interval",
            tol.at(),
            format!(
                "a tolerance of ±{} weeks on a {}-week interval would allow an interval of 0",
                tol.value, i.value
            ),
        ));
    }
    let provenance = read_provenance_override(&t, source_ids, diags);
    let volume = volume.map(|v| Sp {
        value: Volume::from_ml(v.value),
        span: v.span,
    })?;
    let m = Maintenance {
        vial: String::new(),
        volume_ml: volume.value,
        dose: Dose::new(Decimal::ZERO, AllergenUnit::SqU),
        first_intervals_weeks: first.iter().map(|w| w.value).collect(),
        interval_weeks: interval?.value,
        interval_tolerance_weeks: tolerance.map_or(0, |t| t.value),
        provenance,
    };
    Some((m, vial?, volume, Some(dose?)))
}

/// Reports a volume that is not positive, above the per-injection maximum, or not measurable.
fn check_volume(
    volume: &Sp<Volume>,
    injection: &Injection,
    syringe: Option<Syringe>,
    what: &str,
    diags: &mut Diags,
) {
    let v = volume.value;
    if v.ml() <= Decimal::ZERO {
        diags.push(Diagnostic::error(
            "bad-volume",
            volume.at(),
            format!(
                "{what} has a volume of {}, which must be above 0 mL",
                format_ml(v.ml())
            ),
        ));
    } else if v > injection.max_volume_ml {
        diags.push(Diagnostic::error(
            "bad-volume",
            volume.at(),
            format!(
                "{what} has a volume of {v}, above the template's per-injection maximum of {}",
                injection.max_volume_ml
            ),
        ));
    } else if let Some(s) = syringe
        && !s.can_measure(v)
    {
        diags.push(
            Diagnostic::warning(
                "unmeasurable-volume",
                volume.at(),
                format!(
                    "{what}'s volume of {v} cannot be measured with a syringe graduated in {}",
                    injection.syringe_graduation_ml
                ),
            )
            .with_help(format!(
                "the nearest measurable volume below it is {}",
                s.round_down(v)
            )),
        );
    }
}

/// The dose of `volume` from `vial`, cross-checked against a stated dose.
fn vial_dose(
    vial: &Vial,
    volume: &Sp<Volume>,
    stated: Option<&Sp<Decimal>>,
    what: &str,
    diags: &mut Diags,
) -> Option<Dose> {
    let dose = vial.concentration.dose_in(volume.value)?;
    if let Some(s) = stated
        && s.value != dose.amount()
    {
        diags.push(
            Diagnostic::error(
                "dose-mismatch",
                s.at(),
                format!(
                    "{what} states a dose of {}, but {} of {} ({}) is {dose}",
                    Dose::new(s.value, dose.unit()),
                    volume.value,
                    vial.label,
                    vial.concentration
                ),
            )
            .with_help("correct the dose, the volume or the vial; ritplan computes dose = concentration × volume"),
        );
        return None;
    }
    Some(dose)
}

/// The templates compiled into the binary: (file name, text).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "alutard-hdm-cluster-7w.toml",
        include_str!("../../schedules/alutard-hdm-cluster-7w.toml"),
    ),
    (
        "alutard-hdm-conventional-15w.toml",
        include_str!("../../schedules/alutard-hdm-conventional-15w.toml"),
    ),
    (
        "alutard-hdm-slow-25w.toml",
        include_str!("../../schedules/alutard-hdm-slow-25w.toml"),
    ),
    (
        "example-hdm-rush-3d.toml",
        include_str!("../../schedules/example-hdm-rush-3d.toml"),
    ),
];

/// The bundled templates as named sources.
pub fn bundled_sources() -> Vec<SourceText> {
    BUNDLED
        .iter()
        .map(|(name, text)| SourceText::new(format!("<bundled>/schedules/{name}"), *text))
        .collect()
}

/// Every usable template, bundled and the user's, by id.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: Vec<(Template, SourceText)>,
}

impl Catalog {
    /// Checks every file; usable templates enter the catalogue, and every file with any
    /// problem is returned with it. A second template with an id already taken is refused.
    pub fn build(sources: Vec<SourceText>, policy: &Policy) -> (Catalog, Vec<Checked>) {
        let mut catalog = Catalog::default();
        let mut problems = Vec::new();
        for src in sources {
            let mut checked = check(src, policy);
            if let Some(t) = checked.template.take() {
                if let Some((_, origin)) = catalog.entries.iter().find(|(e, _)| e.id == t.id) {
                    let origin = &origin.name;
                    checked.diagnostics.push(
                        Diagnostic::error(
                            "duplicate-id",
                            Some(t.id_span.clone()),
                            format!("template id {:?} is already used by {origin}", t.id),
                        )
                        .with_help("give this template its own id"),
                    );
                } else {
                    catalog.entries.push((t, checked.source.clone()));
                }
            }
            if !checked.diagnostics.is_empty() {
                problems.push(checked);
            }
        }
        (catalog, problems)
    }

    /// All templates with the file each came from, in load order.
    pub fn iter(&self) -> impl Iterator<Item = (&Template, &str)> {
        self.entries.iter().map(|(t, o)| (t, o.name.as_str()))
    }

    /// The template with this id.
    pub fn get(&self, id: &str) -> Option<&Template> {
        self.entries.iter().map(|(t, _)| t).find(|t| t.id == id)
    }

    /// The text a template was read from (to freeze into a course).
    pub fn source(&self, id: &str) -> Option<&SourceText> {
        self.entries
            .iter()
            .find(|(t, _)| t.id == id)
            .map(|(_, s)| s)
    }

    /// All ids.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|(t, _)| t.id.as_str()).collect()
    }
}

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
