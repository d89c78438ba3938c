//! Rules as data: every clinical threshold ritplan applies, read from `rules/*.toml` with the
//! source it comes from and how sure that source is.
//!
//! The code here defines the *mechanism* (what kinds of rule exist and how they are read); the
//! bundled files in `rules/` define the *policy* (the numbers). A clinic can replace them.
//! For now the policy holds the thresholds the template checker uses and the registry of
//! course rule sets that templates name.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

pub mod course;
pub mod eligibility;
pub mod medication_score;
pub mod omalizumab;
pub mod omalizumab_course;
pub mod risk;
pub mod vial_change;
pub mod vial_expiry;

use crate::diag::{Diagnostic, SourceText};
use crate::tomlread::{Diags, Sp, Table, parse_document};
use eligibility::Eligibility;
use omalizumab::OmalizumabTable;
use risk::RiskRules;

/// Where a clinical number comes from (the template and rules vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A product label (SmPC, package insert).
    Label,
    /// A peer-reviewed publication.
    Published,
    /// A national or society guideline.
    Guideline,
    /// Reasoned from sources but stated in none of them.
    Inference,
    /// An illustration only: not for clinical use as it stands.
    Example,
    /// Not checked against a primary source.
    Unverified,
}

impl Evidence {
    /// Every value, as written in files.
    pub const NAMES: &'static str = "label, published, guideline, inference, example, unverified";

    /// The word written in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Label => "label",
            Evidence::Published => "published",
            Evidence::Guideline => "guideline",
            Evidence::Inference => "inference",
            Evidence::Example => "example",
            Evidence::Unverified => "unverified",
        }
    }

    /// Whether every output that shows a number of this evidence must warn about it.
    pub fn needs_warning(self) -> bool {
        matches!(
            self,
            Evidence::Inference | Evidence::Example | Evidence::Unverified
        )
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Evidence {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "label" => Evidence::Label,
            "published" => Evidence::Published,
            "guideline" => Evidence::Guideline,
            "inference" => Evidence::Inference,
            "example" => Evidence::Example,
            "unverified" => Evidence::Unverified,
            _ => return Err(()),
        })
    }
}

/// How sure the clinical reference (docs/sources.md) is of a fact, in its own labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Certainty {
    /// `[C]`: confirmed in the cited source.
    #[serde(rename = "C")]
    Confirmed,
    /// `[C-partial]`: source read only in part, or second-hand.
    #[serde(rename = "C-partial")]
    Partial,
    /// `[I]`: inference, in no source.
    #[serde(rename = "I")]
    Inference,
    /// `[U]`: unverified recollection.
    #[serde(rename = "U")]
    Unverified,
}

impl Certainty {
    /// Every value, as written in files.
    pub const NAMES: &'static str = "C, C-partial, I, U";

    /// The label as the clinical reference writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Confirmed => "C",
            Certainty::Partial => "C-partial",
            Certainty::Inference => "I",
            Certainty::Unverified => "U",
        }
    }
}

impl fmt::Display for Certainty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Certainty {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "C" => Certainty::Confirmed,
            "C-partial" => Certainty::Partial,
            "I" => Certainty::Inference,
            "U" => Certainty::Unverified,
            _ => return Err(()),
        })
    }
}

/// Where a rule comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The citation.
    pub source: String,
    /// The kind of source.
    pub evidence: Evidence,
    /// How sure the clinical reference is.
    pub certainty: Certainty,
}

/// A number and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ruled<T> {
    /// The number.
    pub value: T,
    /// Its provenance.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A rules file read on its own (not frozen with a course): parsed, read by `read`, refused with
/// every problem located unless it reads without an error.
pub fn read_rules_file<T>(
    src: SourceText,
    read: impl FnOnce(&Table<'_, '_>, &mut Diags) -> Option<T>,
) -> Result<T, PolicyError> {
    let mut diags = Diags::default();
    let out = match parse_document(&src.text) {
        Err(d) => {
            diags.push(d);
            None
        }
        Ok(doc) => read(&doc.named("the rules file"), &mut diags),
    };
    match out {
        Some(v) if !diags.has_errors() => Ok(v),
        _ => Err(PolicyError {
            files: vec![(src, diags.0)],
        }),
    }
}

/// The `kind` and `format` of a rules file read on its own: `None`, with the problem located,
/// unless the kind is `kind` and the format 1. `what` names such files in messages ("vial expiry
/// rules").
pub fn read_kind_and_format(
    doc: &Table<'_, '_>,
    diags: &mut Diags,
    kind: &str,
    what: &str,
) -> Option<()> {
    let found = doc.string(diags, "kind", true)?;
    if found.value != kind {
        diags.push(Diagnostic::error(
            "unknown-kind",
            found.at(),
            format!("a {what} file has kind = \"{kind}\", not {:?}", found.value),
        ));
        return None;
    }
    let format = doc.count(diags, "format", true)?;
    if format.value != 1 {
        diags.push(Diagnostic::error(
            "unknown-format",
            format.at(),
            format!(
                "{what} of format {} are not known: this ritplan reads format 1",
                format.value
            ),
        ));
        return None;
    }
    Some(())
}

/// The text of a rules file bundled into ritplan (`(name, text)`), named as bundled.
pub fn bundled_source(bundled: (&str, &str)) -> SourceText {
    SourceText::new(format!("<bundled>/rules/{}", bundled.0), bundled.1)
}

/// Reads `source`, `evidence` and `certainty` from a rule's table; all three are required.
pub fn read_provenance(t: &Table<'_, '_>, diags: &mut Diags) -> Option<Provenance> {
    let source = t.string(diags, "source", true);
    let evidence =
        t.parsed::<Evidence>(diags, "evidence", true, "unknown-evidence", Evidence::NAMES);
    let certainty = t.parsed::<Certainty>(
        diags,
        "certainty",
        true,
        "unknown-certainty",
        Certainty::NAMES,
    );
    Some(Provenance {
        source: source?.value,
        evidence: evidence?.value,
        certainty: certainty?.value,
    })
}

/// The thresholds the template checker applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateChecks {
    /// The shortest observation after any injection (error below it).
    pub min_observation_min: Ruled<u32>,
    /// The shortest interval between same-day injections a template may set without a warning.
    pub min_same_day_interval_min: Ruled<u32>,
    /// The shortest observation after a rush day's last injection without a warning.
    pub rush_last_of_day_observation_min: Ruled<u32>,
    /// A warning above this factor between consecutive doses.
    pub max_escalation_factor: Ruled<Decimal>,
    /// Near maintenance: a warning above this factor ...
    pub near_maintenance_max_factor: Ruled<Decimal>,
    /// ... once the previous dose is at least this fraction of the maintenance dose.
    pub near_maintenance_from_fraction: Ruled<Decimal>,
}

/// A named set of course rules (reactions, late doses) that templates refer to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleSetInfo {
    /// What templates write in `rules = "..."`.
    pub id: String,
    /// A readable name.
    pub name: String,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The bands.
    pub rules: course::CourseRules,
}

/// All rules in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Template-checking thresholds.
    pub template_checks: TemplateChecks,
    /// Known course rule sets.
    pub rule_sets: Vec<RuleSetInfo>,
    /// Risk strata, contraindications and planner adjustments.
    pub risk: RiskRules,
    /// Omalizumab dosing tables by label (`eu`, `us`).
    pub omalizumab: Vec<OmalizumabTable>,
    /// Emergency essentials for the protocol.
    pub emergency: Emergency,
    /// Eligibility at course start: required values, product minimum ages.
    pub eligibility: Eligibility,
    /// An omalizumab course's rules (absent in rules frozen before they existed).
    pub omalizumab_course: Option<omalizumab_course::CourseRules>,
}

/// Epinephrine dosing and the call-the-physician text, for printed protocols.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Emergency {
    /// Adult IM dose, mg.
    pub adult_mg: Decimal,
    /// Child IM dose per kg, mg.
    pub child_mg_per_kg: Decimal,
    /// Child maximum, mg.
    pub child_max_mg: Decimal,
    /// The adult dose from this age.
    pub adult_from_years: u32,
    /// May be repeated after this many minutes.
    pub repeat_every_min: u32,
    /// Provenance of the epinephrine numbers.
    pub epinephrine: Provenance,
    /// When to call the physician.
    pub call_physician: String,
    /// Its provenance.
    pub call_provenance: Provenance,
}

impl Emergency {
    /// The IM epinephrine dose for a patient, mg (1 mg/mL: the same number in mL).
    pub fn epinephrine_mg(&self, age_years: u32, weight_kg: Decimal) -> Decimal {
        if age_years >= self.adult_from_years {
            self.adult_mg
        } else {
            (self.child_mg_per_kg * weight_kg)
                .min(self.child_max_mg)
                .round_dp(2)
        }
    }
}

fn read_emergency(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<Emergency> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "note",
            "epinephrine_im",
            "call_physician",
        ],
    );
    let e = doc.sub_table(diags, "epinephrine_im", true)?;
    e.only_keys(
        diags,
        &[
            "adult_mg",
            "child_mg_per_kg",
            "child_max_mg",
            "adult_from_years",
            "repeat_every_min",
            "source",
            "evidence",
            "certainty",
            "note",
        ],
    );
    let adult = e.decimal(diags, "adult_mg", true);
    let per_kg = e.decimal(diags, "child_mg_per_kg", true);
    let max = e.decimal(diags, "child_max_mg", true);
    let from = e.count(diags, "adult_from_years", true);
    let repeat = e.count(diags, "repeat_every_min", true);
    let p = read_provenance(&e, diags);
    let c = doc.sub_table(diags, "call_physician", true)?;
    c.only_keys(diags, &["text", "source", "evidence", "certainty", "note"]);
    let text = c.string(diags, "text", true);
    let cp = read_provenance(&c, diags);
    Some(Emergency {
        adult_mg: adult?.value,
        child_mg_per_kg: per_kg?.value,
        child_max_mg: max?.value,
        adult_from_years: from?.value,
        repeat_every_min: repeat?.value,
        epinephrine: p?,
        call_physician: text?.value,
        call_provenance: cp?,
    })
}

/// The rules files compiled into the binary: (file name, text).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "template-checks.toml",
        include_str!("../../rules/template-checks.toml"),
    ),
    (
        "course-norwegian-guide.toml",
        include_str!("../../rules/course-norwegian-guide.toml"),
    ),
    (
        "course-us-practice-parameter.toml",
        include_str!("../../rules/course-us-practice-parameter.toml"),
    ),
    ("risk.toml", include_str!("../../rules/risk.toml")),
    ("emergency.toml", include_str!("../../rules/emergency.toml")),
    (
        "eligibility.toml",
        include_str!("../../rules/eligibility.toml"),
    ),
    (
        "omalizumab-eu.toml",
        include_str!("../../rules/omalizumab-eu.toml"),
    ),
    (
        "omalizumab-us.toml",
        include_str!("../../rules/omalizumab-us.toml"),
    ),
    (
        "vial-change.toml",
        include_str!("../../rules/vial-change.toml"),
    ),
    (
        "omalizumab-course.toml",
        include_str!("../../rules/omalizumab-course.toml"),
    ),
];

/// The bundled rules files as named sources.
pub fn bundled_sources() -> Vec<SourceText> {
    BUNDLED
        .iter()
        .map(|(name, text)| SourceText::new(format!("<bundled>/rules/{name}"), *text))
        .collect()
}

/// The rules files failed to load; each file's problems are listed.
#[derive(Debug, thiserror::Error)]
#[error("the rules files have errors")]
pub struct PolicyError {
    /// Each file with its problems.
    pub files: Vec<(SourceText, Vec<Diagnostic>)>,
}

impl Policy {
    /// The rules bundled with ritplan.
    pub fn bundled() -> Result<Policy, PolicyError> {
        Policy::from_sources(bundled_sources())
    }

    /// Reads rules from files; every file is checked and every problem reported.
    pub fn from_sources(sources: Vec<SourceText>) -> Result<Policy, PolicyError> {
        let mut checks = None;
        let mut risk_rules = None;
        let mut emergency = None;
        let mut eligibility = None;
        let mut omalizumab = Vec::new();
        let mut omalizumab_rules = None;
        let mut rule_sets = Vec::new();
        let mut failed = Vec::new();
        let mut vial_file: Option<(SourceText, Vec<vial_change::ReadRule>)> = None;
        for src in sources {
            let mut diags = Diags::default();
            match parse_document(&src.text) {
                Err(d) => diags.push(d),
                Ok(doc) => {
                    let doc = doc.named("the rules file");
                    match doc.string(&mut diags, "kind", true).map(|k| k.value) {
                        Some(k) if k == "template-checks" => {
                            checks = read_template_checks(&doc, &mut diags).or(checks);
                        }
                        Some(k) if k == "course-rules" => {
                            if let Some(info) = read_rule_set(&doc, &mut diags) {
                                if info.id == omalizumab_course::COURSE_RULE_SET {
                                    diags.push(Diagnostic::error(
                                        "reserved-id",
                                        None,
                                        format!(
                                            "{:?} names omalizumab courses in the record: give this rule set another id",
                                            info.id
                                        ),
                                    ));
                                } else if rule_sets.iter().any(|r: &RuleSetInfo| r.id == info.id) {
                                    diags.push(Diagnostic::error(
                                        "duplicate-id",
                                        None,
                                        format!("a second rule set is named {:?}", info.id),
                                    ));
                                } else {
                                    rule_sets.push(info);
                                }
                            }
                        }
                        Some(k) if k == "emergency" => {
                            emergency = read_emergency(&doc, &mut diags).or(emergency);
                        }
                        Some(k) if k == "eligibility" => {
                            eligibility = eligibility::read(&doc, &mut diags).or(eligibility);
                        }
                        Some(k) if k == "vial-change" => {
                            let read = vial_change::read(&doc, &mut diags);
                            if vial_file.is_some() {
                                diags.push(Diagnostic::error(
                                    "duplicate-id",
                                    None,
                                    "a second vial-change rules file: keep all vial-change rules in one file",
                                ));
                            } else {
                                vial_file = Some((src.clone(), read));
                            }
                        }
                        Some(k) if k == "risk" => {
                            risk_rules = risk::read(&doc, &mut diags).or(risk_rules);
                        }
                        // Read on its own by the ward (`vial_expiry`), never frozen into a
                        // course's rules: a file in a clinic's rules folder is not an error.
                        Some(k) if k == vial_expiry::KIND => {}
                        // Read on its own by the audit (`crate::audit::rules`), never frozen.
                        Some(k) if k == crate::audit::rules::KIND => {}
                        // Read on its own when follow-ups are shown (`medication_score`).
                        Some(k) if k == medication_score::KIND => {}
                        Some(k) if k == omalizumab_course::KIND => {
                            omalizumab_rules =
                                omalizumab_course::read(&doc, &mut diags).or(omalizumab_rules);
                        }
                        Some(k) if k == "omalizumab-table" => {
                            if let Some(t) = omalizumab::read(&doc, &mut diags) {
                                omalizumab.retain(|o: &OmalizumabTable| o.id != t.id);
                                omalizumab.push(t);
                            }
                        }
                        Some(other) => diags.push(
                            Diagnostic::error(
                                "unknown-kind",
                                None,
                                format!("rules file of unknown kind {other:?}"),
                            )
                            .with_help("use kind = \"template-checks\", \"course-rules\", \"risk\", \"eligibility\", \"emergency\", \"omalizumab-table\", \"omalizumab-course\" or \"vial-change\""),
                        ),
                        None => {}
                    }
                }
            }
            if !diags.0.is_empty() {
                failed.push((src, diags.0));
            }
        }
        // Each vial-change rule names a course rule set that exists; then each rule set takes its
        // own (a rule set with none asks the physician at any vial change).
        if let Some((src, read)) = vial_file {
            let unknown: Vec<Diagnostic> = read
                .iter()
                .filter(|r| !rule_sets.iter().any(|s| s.id == r.rule.rules))
                .map(|r| {
                    Diagnostic::error(
                        "unknown-rule-set",
                        Some(r.rules_at.clone()),
                        format!("no course rule set is named {:?}", r.rule.rules),
                    )
                    .with_help(format!(
                        "the rule sets are: {}",
                        rule_sets
                            .iter()
                            .map(|s| s.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
                .collect();
            if !unknown.is_empty() {
                match failed.iter_mut().find(|(s, _)| s.name == src.name) {
                    Some((_, d)) => d.extend(unknown),
                    None => failed.push((src, unknown)),
                }
            }
            for set in &mut rule_sets {
                set.rules.vial_change = read
                    .iter()
                    .filter(|r| r.rule.rules == set.id)
                    .map(|r| r.rule.clone())
                    .collect();
            }
        }
        if failed
            .iter()
            .any(|(_, d)| d.iter().any(Diagnostic::is_error))
        {
            return Err(PolicyError { files: failed });
        }
        let missing = |kind: &str| PolicyError {
            files: vec![(
                SourceText::new("<rules>", ""),
                vec![Diagnostic::error(
                    "missing-rules",
                    None,
                    format!("no rules file of kind {kind:?} was found"),
                )],
            )],
        };
        Ok(Policy {
            template_checks: checks.ok_or_else(|| missing("template-checks"))?,
            risk: risk_rules.ok_or_else(|| missing("risk"))?,
            emergency: emergency.ok_or_else(|| missing("emergency"))?,
            eligibility: eligibility.ok_or_else(|| missing("eligibility"))?,
            rule_sets,
            omalizumab,
            omalizumab_course: omalizumab_rules,
        })
    }

    /// The omalizumab table of a label (`eu`, `us`).
    pub fn omalizumab_table(&self, id: &str) -> Option<&OmalizumabTable> {
        self.omalizumab.iter().find(|t| t.id == id)
    }

    /// The rule set a template names, if it exists.
    pub fn rule_set(&self, id: &str) -> Option<&RuleSetInfo> {
        self.rule_sets.iter().find(|r| r.id == id)
    }
}

fn ruled_count(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<Ruled<u32>> {
    let t = doc.sub_table(diags, key, true)?.named(format!("[{key}]"));
    t.only_keys(diags, &["value", "source", "evidence", "certainty", "note"]);
    let value = t.count(diags, "value", true);
    let provenance = read_provenance(&t, diags);
    Some(Ruled {
        value: value?.value,
        provenance: provenance?,
    })
}

fn ruled_decimal(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<Ruled<Decimal>> {
    let t = doc.sub_table(diags, key, true)?.named(format!("[{key}]"));
    t.only_keys(diags, &["value", "source", "evidence", "certainty", "note"]);
    let value: Option<Sp<Decimal>> = t.decimal(diags, "value", true);
    if let Some(v) = &value
        && v.value <= Decimal::ZERO
    {
        diags.push(Diagnostic::error(
            "out-of-range",
            v.at(),
            format!("`value` in [{key}] must be above zero"),
        ));
        return None;
    }
    let provenance = read_provenance(&t, diags);
    Some(Ruled {
        value: value?.value,
        provenance: provenance?,
    })
}

fn read_template_checks(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<TemplateChecks> {
    const KEYS: [&str; 6] = [
        "min_observation_min",
        "min_same_day_interval_min",
        "rush_last_of_day_observation_min",
        "max_escalation_factor",
        "near_maintenance_max_factor",
        "near_maintenance_from_fraction",
    ];
    let mut known = vec!["kind", "id", "name", "note"];
    known.extend(KEYS);
    doc.only_keys(diags, &known);
    let c = TemplateChecks {
        min_observation_min: ruled_count(doc, diags, KEYS[0])?,
        min_same_day_interval_min: ruled_count(doc, diags, KEYS[1])?,
        rush_last_of_day_observation_min: ruled_count(doc, diags, KEYS[2])?,
        max_escalation_factor: ruled_decimal(doc, diags, KEYS[3])?,
        near_maintenance_max_factor: ruled_decimal(doc, diags, KEYS[4])?,
        near_maintenance_from_fraction: ruled_decimal(doc, diags, KEYS[5])?,
    };
    Some(c)
}

fn read_rule_set(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<RuleSetInfo> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "source",
            "evidence",
            "certainty",
            "note",
            "format",
            "dose_steps",
            "local_reaction",
            "systemic_reaction",
            "late_reaction",
            "late_doses",
            "late_updosing",
            "late_maintenance",
            "maintenance_ladder",
            "reescalation",
            "pre_injection_pef",
            "between_extracts",
            "premedication",
        ],
    );
    let id = doc.string(diags, "id", true);
    let name = doc.string(diags, "name", true);
    let provenance = read_provenance(doc, diags);
    let rules = course::read(doc, diags);
    Some(RuleSetInfo {
        id: id?.value,
        name: name?.value,
        provenance: provenance?,
        rules: rules?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_rules_load() {
        let p = Policy::bundled().expect("bundled rules are valid");
        assert_eq!(p.template_checks.min_observation_min.value, 30);
        assert!(p.rule_set("norwegian-guide").is_some());
        assert!(p.rule_set("us-practice-parameter").is_some());
        assert!(p.rule_set("nonsense").is_none());
    }

    #[test]
    fn epinephrine_by_age_and_weight() {
        let e = Policy::bundled().expect("rules").emergency;
        assert_eq!(e.epinephrine_mg(30, Decimal::from(90)), Decimal::new(5, 1));
        assert_eq!(e.epinephrine_mg(9, Decimal::from(31)), Decimal::new(31, 2));
        assert_eq!(
            e.epinephrine_mg(11, Decimal::from(60)),
            Decimal::new(5, 1),
            "capped at 0.5 mg"
        );
    }

    #[test]
    fn a_rule_without_provenance_is_refused() {
        let broken = BUNDLED[0].1.replacen("evidence = \"label\"\n", "", 1);
        let mut sources = vec![SourceText::new("checks.toml", broken)];
        sources.extend(BUNDLED[1..].iter().map(|(n, t)| SourceText::new(*n, *t)));
        let err = Policy::from_sources(sources).unwrap_err();
        let (_, diags) = &err.files[0];
        assert!(
            diags
                .iter()
                .any(|d| d.code == "missing-field" && d.message.contains("evidence"))
        );
    }

    /// A course rule set may ask for premedication on all its courses, with the template's
    /// fields and its citation as `source`; one without the key (a frozen copy from before it
    /// existed) reads as before, with none.
    #[test]
    fn a_rule_set_reads_its_premedication_and_one_without_has_none() {
        let (name, text) = BUNDLED
            .iter()
            .find(|(n, _)| n.contains("course-norwegian-guide"))
            .expect("the Norwegian rule set");
        let without = Policy::bundled().expect("bundled");
        let frozen = &without.rule_set("norwegian-guide").expect("rule set").rules;
        let with = format!(
            "{}\n[[premedication]]\nclass = \"ltra\"\nanchor = \"each-injection\"\nbefore_min = 60\nat_least_min = 30\nat_most_min = 120\nstatus = \"required\"\nsource = \"a clinic's citation\"\nevidence = \"example\"\n",
            text.replacen("id = \"norwegian-guide\"", "id = \"clinic-guide\"", 1)
        );
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(format!("clinic-{name}"), with.clone()));
        let p = Policy::from_sources(sources).expect("valid");
        let r = &p.rule_set("clinic-guide").expect("rule set").rules;
        assert_eq!(r.premedication.len(), 1);
        let pm = &r.premedication[0];
        assert_eq!(
            (pm.class, pm.status, pm.before_min, pm.source.as_deref()),
            (
                crate::template::PremedClass::Ltra,
                crate::template::PremedStatus::Required,
                60,
                Some("a clinic's citation")
            )
        );
        // Without the key: the same rules as before, no premedication.
        let old = &p.rule_set("norwegian-guide").expect("rule set").rules;
        assert_eq!(old, frozen);
        assert!(old.premedication.is_empty());
        // A bad entry is refused, located.
        let bad = with.replace("class = \"ltra\"", "class = \"h2\"");
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(format!("clinic-{name}"), bad));
        let err = Policy::from_sources(sources).unwrap_err();
        assert!(
            err.files
                .iter()
                .flat_map(|(_, d)| d)
                .any(|d| d.code == "unknown-premedication"),
            "{err:?}"
        );
    }

    #[test]
    fn no_course_rule_set_may_take_the_omalizumab_course_s_name() {
        let (name, text) = BUNDLED
            .iter()
            .find(|(n, _)| n.contains("course-us-practice-parameter"))
            .expect("the US rule set");
        let renamed = text.replacen(
            "id = \"us-practice-parameter\"",
            "id = \"omalizumab-label\"",
            1,
        );
        assert_ne!(&renamed, text);
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(format!("clinic-{name}"), renamed));
        let err = Policy::from_sources(sources).unwrap_err();
        assert!(
            err.files
                .iter()
                .flat_map(|(_, d)| d)
                .any(|d| d.code == "reserved-id"),
            "{err:?}"
        );
    }
}
