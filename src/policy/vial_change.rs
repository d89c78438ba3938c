//! Vial-change rules (`rules/vial-change.toml`, `format = 1`): what the first dose from a new
//! lot, from a new manufacturer or from a vial older than a clinic's limit is, per course rule
//! set and phase. The mechanism is here and in `course::vial`; the numbers are in the file.
//!
//! Fail closed: a rule set with no rule for a trigger that fires, in the phase of the dose, asks
//! the physician (`CourseRules::vial_change_rule` returns `None` and the course says review).

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

use super::Provenance;
use crate::diag::Diagnostic;
use crate::policy::read_provenance;
use crate::tomlread::{Diags, Sp, Table};

/// The vial-change format this code reads.
pub const FORMAT: u32 = 1;

/// What fires a vial-change rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "trigger", rename_all = "kebab-case")]
pub enum Trigger {
    /// Another lot than the last dose from the same template vial.
    NewLot,
    /// Another manufacturer than the last dose whose manufacturer is known.
    NewManufacturer,
    /// A vial prepared more than `days` days before the dose.
    VialAge {
        /// The limit, days.
        days: u32,
    },
}

impl Trigger {
    /// The word written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::NewLot => "new-lot",
            Trigger::NewManufacturer => "new-manufacturer",
            Trigger::VialAge { .. } => "vial-age",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The phase a rule applies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VialPhase {
    /// Up-dosing only.
    UpDosing,
    /// Maintenance only.
    Maintenance,
    /// Both.
    Any,
}

impl VialPhase {
    /// Whether the rule applies in maintenance (`true`) or up-dosing (`false`).
    pub fn covers(self, maintenance: bool) -> bool {
        match self {
            VialPhase::Any => true,
            VialPhase::Maintenance => maintenance,
            VialPhase::UpDosing => !maintenance,
        }
    }
}

/// What a vial-change rule does to the dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum VialAction {
    /// This dose reduced by `percent` %, rounded down to the syringe.
    Reduce {
        /// Percent.
        percent: Decimal,
    },
    /// `steps` distinct dose steps below this dose, on the same vial.
    StepBack {
        /// How many.
        steps: u32,
    },
    /// These volumes of the new vial, one per visit, then the schedule's dose.
    Rebuild {
        /// mL, rising.
        volumes_ml: Vec<Decimal>,
    },
    /// Not before a physician has reviewed the course after the change.
    Review,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VialChangeRule {
    /// The course rule set it belongs to.
    pub rules: String,
    /// What fires it.
    #[serde(flatten)]
    pub trigger: Trigger,
    /// Where it applies.
    pub phase: VialPhase,
    /// What it does.
    #[serde(flatten)]
    pub action: VialAction,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A rule as read, with where its rule-set id is written (checked once every file is read).
pub struct ReadRule {
    /// The rule.
    pub rule: VialChangeRule,
    /// Where `rules = "..."` is.
    pub rules_at: std::ops::Range<usize>,
}

const KEYS: [&str; 11] = [
    "rules",
    "trigger",
    "days",
    "phase",
    "action",
    "percent",
    "steps",
    "volumes_ml",
    "source",
    "evidence",
    "certainty",
];

/// Reads a `kind = "vial-change"` file: every rule, every problem located.
pub fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<ReadRule> {
    doc.only_keys(diags, &["kind", "format", "note", "rule"]);
    match doc.count(diags, "format", false) {
        Some(f) if f.value == FORMAT => {}
        Some(f) => {
            diags.push(Diagnostic::error(
                "unknown-format",
                f.at(),
                format!(
                    "vial-change rules format {} is not one this ritplan reads ({FORMAT})",
                    f.value
                ),
            ));
            return Vec::new();
        }
        None => {
            diags.push(Diagnostic::error(
                "unknown-format",
                doc.at(),
                format!("the vial-change rules have no `format = {FORMAT}`"),
            ));
            return Vec::new();
        }
    }
    let mut out: Vec<ReadRule> = Vec::new();
    for t in doc.tables(diags, "rule") {
        let t = t.named("a [[rule]]");
        let mut keys = KEYS.to_vec();
        keys.push("note");
        t.only_keys(diags, &keys);
        let rules = t.string(diags, "rules", true);
        let trigger = trigger(&t, diags);
        let phase = phase(&t, diags);
        let action = action(&t, diags);
        let provenance = read_provenance(&t, diags);
        let (Some(rules), Some(trigger), Some(phase), Some(action), Some(provenance)) =
            (rules, trigger, phase, action, provenance)
        else {
            continue;
        };
        if matches!(trigger, Trigger::VialAge { .. })
            && matches!(action.value, VialAction::Rebuild { .. })
        {
            diags.push(Diagnostic::error(
                "unsafe-rule",
                action.at(),
                "a rebuild follows a new lot or manufacturer, not a vial's age: use reduce, step-back or review",
            ));
            continue;
        }
        let overlaps = out.iter().any(|r| {
            r.rule.rules == rules.value
                && r.rule.trigger.as_str() == trigger.as_str()
                && (r.rule.phase == VialPhase::Any
                    || phase == VialPhase::Any
                    || r.rule.phase == phase)
        });
        if overlaps {
            diags.push(Diagnostic::error(
                "duplicate-rule",
                t.at(),
                format!(
                    "a second {} rule for {:?} in the same phase",
                    trigger.as_str(),
                    rules.value
                ),
            ));
            continue;
        }
        out.push(ReadRule {
            rule: VialChangeRule {
                rules: rules.value,
                trigger,
                phase,
                action: action.value,
                provenance,
            },
            rules_at: rules.span,
        });
    }
    out
}

fn trigger(t: &Table<'_, '_>, diags: &mut Diags) -> Option<Trigger> {
    let s = t.string(diags, "trigger", true)?;
    match s.value.as_str() {
        "new-lot" => Some(Trigger::NewLot),
        "new-manufacturer" => Some(Trigger::NewManufacturer),
        "vial-age" => {
            let d = t.count(diags, "days", true)?;
            if d.value == 0 {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    d.at(),
                    "`days` must be at least 1",
                ));
                return None;
            }
            Some(Trigger::VialAge { days: d.value })
        }
        other => {
            diags.push(
                Diagnostic::error(
                    "unknown-trigger",
                    s.at(),
                    format!("unknown trigger {other:?}"),
                )
                .with_help("use new-lot, new-manufacturer or vial-age"),
            );
            None
        }
    }
}

fn phase(t: &Table<'_, '_>, diags: &mut Diags) -> Option<VialPhase> {
    let s = t.string(diags, "phase", true)?;
    match s.value.as_str() {
        "up-dosing" => Some(VialPhase::UpDosing),
        "maintenance" => Some(VialPhase::Maintenance),
        "any" => Some(VialPhase::Any),
        other => {
            diags.push(
                Diagnostic::error("unknown-phase", s.at(), format!("unknown phase {other:?}"))
                    .with_help("use up-dosing, maintenance or any"),
            );
            None
        }
    }
}

fn action(t: &Table<'_, '_>, diags: &mut Diags) -> Option<Sp<VialAction>> {
    let a = t.string(diags, "action", true)?;
    let value = match a.value.as_str() {
        "reduce" => {
            let p = t.decimal(diags, "percent", true)?;
            if p.value < Decimal::ONE || p.value > Decimal::from(99) {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    p.at(),
                    "`percent` must be from 1 to 99",
                ));
                return None;
            }
            VialAction::Reduce { percent: p.value }
        }
        "step-back" => {
            let s = t.count(diags, "steps", true)?;
            if !(1..=100).contains(&s.value) {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    s.at(),
                    "`steps` must be from 1 to 100",
                ));
                return None;
            }
            VialAction::StepBack { steps: s.value }
        }
        "rebuild" => {
            let vs = t.decimals(diags, "volumes_ml", true)?;
            let Some(first) = vs.first() else {
                diags.push(Diagnostic::error(
                    "bad-ladder",
                    a.at(),
                    "`volumes_ml` must name at least one volume",
                ));
                return None;
            };
            if first.value <= Decimal::ZERO {
                diags.push(Diagnostic::error(
                    "bad-ladder",
                    first.at(),
                    "the volumes of a rebuild must be above 0 mL",
                ));
                return None;
            }
            if let Some(w) = vs.windows(2).find(|w| w[1].value <= w[0].value) {
                diags.push(Diagnostic::error(
                    "bad-ladder",
                    w[1].at(),
                    "the volumes of a rebuild must rise",
                ));
                return None;
            }
            VialAction::Rebuild {
                volumes_ml: vs.into_iter().map(|v| v.value).collect(),
            }
        }
        "review" => VialAction::Review,
        other => {
            diags.push(
                Diagnostic::error(
                    "unknown-action",
                    a.at(),
                    format!("unknown action {other:?}"),
                )
                .with_help("use reduce, step-back, rebuild or review"),
            );
            return None;
        }
    };
    Some(Sp {
        value,
        span: a.span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceText;
    use crate::policy::{BUNDLED, Policy, PolicyError};

    const FILE: &str = "vial-change.toml";

    /// The bundled rules with `from` replaced by `to` in the vial-change file.
    fn edited(from: &str, to: &str) -> Result<Policy, PolicyError> {
        let (_, text) = BUNDLED.iter().find(|(n, _)| *n == FILE).expect("file");
        let changed = text.replacen(from, to, 1);
        assert_ne!(&changed, text, "the edit {from:?} matched nothing");
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .filter(|(n, _)| *n != FILE)
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(FILE, changed));
        Policy::from_sources(sources)
    }

    /// Each error's code with its 1-based line and column in the vial-change file.
    fn located(r: Result<Policy, PolicyError>) -> Vec<(&'static str, usize, usize)> {
        let Err(e) = r else {
            return Vec::new();
        };
        e.files
            .iter()
            .filter(|(s, _)| s.name == FILE)
            .flat_map(|(s, ds)| {
                ds.iter().map(move |d| {
                    let (line, col) = d.span.as_ref().map_or((0, 0), |r| s.line_col(r.start));
                    (d.code, line, col)
                })
            })
            .collect()
    }

    fn line_of(needle: &str) -> usize {
        let (_, text) = BUNDLED.iter().find(|(n, _)| *n == FILE).expect("file");
        text.lines()
            .position(|l| l.starts_with(needle))
            .map(|i| i + 1)
            .expect("line")
    }

    #[test]
    fn each_rule_set_gets_its_shipped_rules() {
        let p = Policy::bundled().expect("bundled");
        let us = &p.rule_set("us-practice-parameter").expect("us").rules;
        let lot = us.vial_change_rule(Trigger::NewLot, false).expect("rule");
        assert_eq!(
            lot.action,
            VialAction::Reduce {
                percent: Decimal::from(75)
            }
        );
        assert_eq!(lot.provenance.evidence, crate::policy::Evidence::Label);
        assert_eq!(
            us.vial_change_rule(Trigger::NewLot, true)
                .map(|r| &r.action),
            Some(&lot.action)
        );
        assert_eq!(
            us.vial_change_rule(Trigger::NewManufacturer, true)
                .map(|r| &r.action),
            Some(&VialAction::Review)
        );
        assert!(
            us.vial_change_rule(Trigger::VialAge { days: 0 }, false)
                .is_none()
        );
        let no = &p.rule_set("norwegian-guide").expect("no").rules;
        for t in [Trigger::NewLot, Trigger::NewManufacturer] {
            for m in [false, true] {
                assert_eq!(
                    no.vial_change_rule(t, m).map(|r| &r.action),
                    Some(&VialAction::Review)
                );
            }
        }
    }

    #[test]
    fn rules_frozen_before_the_vial_change_file_still_load_with_no_vial_change_rule() {
        let sources: Vec<SourceText> = BUNDLED
            .iter()
            .filter(|(n, _)| *n != FILE)
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        let p = Policy::from_sources(sources).expect("an old course's frozen rules load");
        for set in &p.rule_sets {
            assert!(set.rules.vial_change.is_empty(), "{}", set.id);
            assert!(set.rules.vial_change_rule(Trigger::NewLot, false).is_none());
        }
    }

    #[test]
    fn a_rebuild_above_a_template_s_largest_injection_makes_the_template_an_error() {
        let p = edited(
            "trigger = \"new-manufacturer\"\nphase = \"any\"\naction = \"review\"\nsource = \"the Norwegian",
            "trigger = \"new-manufacturer\"\nphase = \"any\"\naction = \"rebuild\"\nvolumes_ml = [0.1, 1.5]\nsource = \"the Norwegian",
        )
        .expect("the rules alone are valid");
        let (_, checked) = crate::template::Catalog::build(crate::template::bundled_sources(), &p);
        let bad: Vec<&str> = checked
            .iter()
            .flat_map(|c| c.diagnostics.iter())
            .filter(|d| d.code == "bad-volume" && d.message.contains("1.5 mL"))
            .map(|d| d.message.as_str())
            .collect();
        assert!(!bad.is_empty());
        assert!(
            bad.iter().all(|m| m.contains("new-manufacturer")),
            "{bad:?}"
        );
        let (_, checked) = crate::template::Catalog::build(
            crate::template::bundled_sources(),
            &Policy::bundled().expect("bundled"),
        );
        assert!(checked.iter().all(|c| !c.has_errors()));
    }

    #[test]
    fn bad_rules_are_refused_at_their_line_and_column() {
        let percent = line_of("percent = 75");
        assert_eq!(
            located(edited("percent = 75", "percent = 100")),
            vec![("out-of-range", percent, 11)]
        );
        assert_eq!(
            located(edited("percent = 75", "percent = 0")),
            vec![("out-of-range", percent, 11)]
        );
        let rules = line_of("rules = \"us-practice-parameter\"");
        assert_eq!(
            located(edited(
                "rules = \"us-practice-parameter\"",
                "rules = \"us-practise-parameter\""
            )),
            vec![("unknown-rule-set", rules, 9)]
        );
        let action = line_of("action = \"reduce\"");
        assert_eq!(
            located(edited(
                "action = \"reduce\"\npercent = 75",
                "action = \"rebuild\"\nvolumes_ml = [0.1, 0.5, 0.3]"
            )),
            vec![("bad-ladder", action + 1, 25)]
        );
        assert_eq!(
            located(edited(
                "action = \"reduce\"\npercent = 75",
                "action = \"rebuild\"\nvolumes_ml = [0, 0.5]"
            )),
            vec![("bad-ladder", action + 1, 15)]
        );
        assert_eq!(
            located(edited(
                "action = \"reduce\"\npercent = 75",
                "action = \"step-back\"\nsteps = 101"
            )),
            vec![("out-of-range", action + 1, 9)]
        );
        let trigger = line_of("trigger = \"new-lot\"");
        assert_eq!(
            located(edited(
                "\ntrigger = \"new-lot\"",
                "\ntrigger = \"new-vial\""
            )),
            vec![("unknown-trigger", trigger, 11)]
        );
        assert_eq!(
            located(edited(
                "phase = \"any\"",
                "phase = \"up-dosing\"\nphase2 = 1"
            )),
            vec![("unknown-key", line_of("phase = \"any\"") + 1, 1)]
        );
        // Two new-lot rules for one rule set in overlapping phases.
        let c = located(edited(
            "trigger = \"new-manufacturer\"",
            "trigger = \"new-lot\"",
        ));
        assert_eq!(c.first().map(|c| c.0), Some("duplicate-rule"), "{c:?}");
        let c = located(edited("format = 1", "format = 2"));
        assert_eq!(c.first().map(|c| c.0), Some("unknown-format"), "{c:?}");
        // A vial-age rule needs its days and cannot rebuild.
        let c = located(edited(
            "trigger = \"new-manufacturer\"",
            "trigger = \"vial-age\"",
        ));
        assert_eq!(c.first().map(|c| c.0), Some("missing-field"), "{c:?}");
    }
}
