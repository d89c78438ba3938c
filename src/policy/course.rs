//! Course rule sets (`rules/course-*.toml`): what the treatment-course state machine does after
//! a local or systemic reaction, a late dose, or a failed pre-injection check.

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Provenance, read_provenance};
use crate::diag::Diagnostic;
use crate::tomlread::{Diags, Table};

/// What a band tells the state machine to do with the next dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The next step of the plan.
    Proceed,
    /// The last dose again.
    Repeat,
    /// `steps` plan steps below the last dose.
    StepBack {
        /// How many.
        steps: u32,
    },
    /// The last dose reduced by `percent` %, on the same vial, rounded down to the syringe.
    Reduce {
        /// Percent.
        percent: Decimal,
    },
    /// This volume of the maintenance vial.
    Volume {
        /// mL.
        volume_ml: Decimal,
    },
    /// From the first step.
    Restart,
    /// Nothing more until a physician reviews the course.
    Review,
    /// The course stops (a physician review that records a reason may resume it).
    Stop,
}

/// A band over a number (mm, days): `from` exclusive or inclusive as documented per use, `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Band {
    /// Lower bound (`None`: from 0).
    pub from: Option<u32>,
    /// Upper bound (`None`: no limit).
    pub to: Option<u32>,
    /// What to do.
    pub action: Action,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A systemic-reaction rule for a range of WAO grades.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemicRule {
    /// Lowest grade, inclusive.
    pub from_grade: u8,
    /// Highest grade, inclusive.
    pub to_grade: u8,
    /// No further injection that day.
    pub end_day: bool,
    /// What to do.
    pub action: Action,
    /// Plan steps back that a physician's `continue` applies.
    pub steps: u32,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A course rule set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseRules {
    /// Local reaction bands, mm: `from` inclusive, `to` exclusive.
    pub local_reaction: Vec<Band>,
    /// Systemic reaction rules by WAO grade.
    pub systemic_reaction: Vec<SystemicRule>,
    /// Late doses in up-dosing, days since the previous dose: `from` exclusive, `to` inclusive.
    pub late_updosing: Vec<Band>,
    /// Late doses in maintenance, same band semantics.
    pub late_maintenance: Vec<Band>,
    /// A PEF/FEV1 below this % of the patient's best defers the dose.
    pub pre_injection_pef_below: Decimal,
    /// Its provenance.
    pub pre_injection_pef_provenance: Provenance,
}

impl CourseRules {
    /// The local-reaction band of a diameter; `None` (ask the physician) if no band holds it.
    pub fn local(&self, mm: u32) -> Option<&Band> {
        self.local_reaction
            .iter()
            .find(|b| b.from.is_none_or(|f| mm >= f) && b.to.is_none_or(|t| mm < t))
    }

    /// The systemic rule of a WAO grade.
    pub fn systemic(&self, grade: u8) -> Option<&SystemicRule> {
        self.systemic_reaction
            .iter()
            .find(|r| (r.from_grade..=r.to_grade).contains(&grade))
    }

    /// The late-dose band for `days` since the previous dose.
    pub fn late(&self, maintenance: bool, days: i64) -> Option<&Band> {
        let bands = if maintenance {
            &self.late_maintenance
        } else {
            &self.late_updosing
        };
        bands.iter().find(|b| {
            b.from.is_none_or(|f| days > i64::from(f)) && b.to.is_none_or(|t| days <= i64::from(t))
        })
    }
}

fn action(t: &Table<'_, '_>, diags: &mut Diags) -> Option<Action> {
    let a = t.string(diags, "action", true)?;
    let steps = |diags: &mut Diags| t.count(diags, "steps", true).map(|s| s.value);
    Some(match a.value.as_str() {
        "proceed" => Action::Proceed,
        "repeat" => Action::Repeat,
        "step_back" => Action::StepBack {
            steps: steps(diags)?,
        },
        "reduce" => {
            let p = t.decimal(diags, "percent", true)?;
            if p.value <= Decimal::ZERO || p.value >= Decimal::ONE_HUNDRED {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    p.at(),
                    "`percent` must be above 0 and below 100",
                ));
                return None;
            }
            Action::Reduce { percent: p.value }
        }
        "volume" => Action::Volume {
            volume_ml: t.decimal(diags, "volume_ml", true)?.value,
        },
        "restart" => Action::Restart,
        "review" => Action::Review,
        "stop" => Action::Stop,
        other => {
            diags.push(
                Diagnostic::error(
                    "unknown-action",
                    a.at(),
                    format!("unknown action {other:?}"),
                )
                .with_help(
                    "use proceed, repeat, step_back, reduce, volume, restart, review or stop",
                ),
            );
            return None;
        }
    })
}

fn bands(doc: &Table<'_, '_>, diags: &mut Diags, key: &str, unit: &str) -> Vec<Band> {
    let mut out: Vec<Band> = Vec::new();
    for t in doc.tables(diags, key) {
        let from_key = format!("from_{unit}");
        let to_key = if unit == "mm" {
            "below_mm".to_string()
        } else {
            format!("up_to_{unit}")
        };
        t.only_keys(
            diags,
            &[
                &from_key,
                &to_key,
                "action",
                "steps",
                "percent",
                "volume_ml",
                "source",
                "evidence",
                "certainty",
                "note",
            ],
        );
        let from = t.count(diags, &from_key, false).map(|v| v.value);
        let to = t.count(diags, &to_key, false).map(|v| v.value);
        let action = action(&t, diags);
        let provenance = read_provenance(&t, diags);
        // Bands must tile the line: each starts where the previous ended.
        let expected_from = out.last().and_then(|b| b.to);
        if from != expected_from || (out.last().is_some_and(|b| b.to.is_none())) {
            diags.push(Diagnostic::error(
                "bad-bands",
                t.at(),
                format!("the [[{key}]] bands must follow each other without gap or overlap, from 0 to no limit"),
            ));
        }
        if let (Some(action), Some(provenance)) = (action, provenance) {
            out.push(Band {
                from,
                to,
                action,
                provenance,
            });
        }
    }
    if out.last().is_some_and(|b| b.to.is_some()) || out.is_empty() {
        diags.push(Diagnostic::error(
            "bad-bands",
            None,
            format!("the [[{key}]] bands must end with one that has no upper limit"),
        ));
    }
    out
}

/// Reads the rule bands of a `kind = "course-rules"` file.
pub(super) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<CourseRules> {
    let local = bands(doc, diags, "local_reaction", "mm");
    let late_up = bands(doc, diags, "late_updosing", "days");
    let late_m = bands(doc, diags, "late_maintenance", "days");
    let mut systemic = Vec::new();
    for t in doc.tables(diags, "systemic_reaction") {
        t.only_keys(
            diags,
            &[
                "grades",
                "end_day",
                "action",
                "steps",
                "source",
                "evidence",
                "certainty",
                "note",
            ],
        );
        let grades = t.counts(diags, "grades");
        let end_day = t.boolean(diags, "end_day");
        let a = action(&t, diags);
        let steps = t.count(diags, "steps", false);
        let provenance = read_provenance(&t, diags);
        let (from, to) = match grades.as_deref() {
            Some([a, b]) if a.value >= 1 && a.value <= b.value && b.value <= 5 => {
                (a.value as u8, b.value as u8)
            }
            _ => {
                diags.push(Diagnostic::error(
                    "bad-grades",
                    t.at(),
                    "`grades` must be [from, to] within WAO grades 1-5",
                ));
                continue;
            }
        };
        if let (Some(end_day), Some(a), Some(provenance)) = (end_day, a, provenance) {
            let steps = steps.map(|s| s.value).or(match a {
                Action::StepBack { steps } => Some(steps),
                _ => None,
            });
            systemic.push(SystemicRule {
                from_grade: from,
                to_grade: to,
                end_day: end_day.value,
                steps: steps.unwrap_or(0),
                action: a,
                provenance,
            });
        }
    }
    // Every grade 1-5 must have a rule, and the floors hold whatever the file says:
    // grade >= 2 never proceeds without a review, grade >= 4 stops.
    for g in 1u8..=5 {
        match systemic
            .iter()
            .find(|r| (r.from_grade..=r.to_grade).contains(&g))
        {
            None => diags.push(Diagnostic::error(
                "uncovered-case",
                None,
                format!("no [[systemic_reaction]] covers WAO grade {g}"),
            )),
            Some(r) if g >= 2 && !matches!(r.action, Action::Review | Action::Stop) => {
                diags.push(Diagnostic::error(
                    "unsafe-rule",
                    None,
                    format!("WAO grade {g} must require a physician review or stop the course"),
                ))
            }
            Some(r) if g >= 4 && r.action != Action::Stop => diags.push(Diagnostic::error(
                "unsafe-rule",
                None,
                format!("WAO grade {g} must stop the course"),
            )),
            Some(_) => {}
        }
    }
    let pef = doc
        .sub_table(diags, "pre_injection_pef", true)
        .and_then(|t| {
            t.only_keys(
                diags,
                &["below_percent", "source", "evidence", "certainty", "note"],
            );
            let v = t.decimal(diags, "below_percent", true);
            let p = read_provenance(&t, diags);
            Some((v?.value, p?))
        });
    let (pef, pef_p) = pef?;
    Some(CourseRules {
        local_reaction: local,
        systemic_reaction: systemic,
        late_updosing: late_up,
        late_maintenance: late_m,
        pre_injection_pef_below: pef,
        pre_injection_pef_provenance: pef_p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceText;
    use crate::policy::{BUNDLED, Policy};

    fn rules(id: &str) -> CourseRules {
        Policy::bundled()
            .expect("bundled")
            .rule_set(id)
            .expect("rule set")
            .rules
            .clone()
    }

    #[test]
    fn norwegian_late_updosing_bands() {
        let r = rules("norwegian-guide");
        let a = |days| r.late(false, days).map(|b| b.action.clone());
        assert_eq!(a(7), Some(Action::Proceed));
        assert_eq!(a(14), Some(Action::Proceed));
        assert_eq!(a(15), Some(Action::Repeat));
        assert_eq!(a(28), Some(Action::Repeat));
        assert_eq!(a(29), Some(Action::StepBack { steps: 1 }));
        assert_eq!(a(43), Some(Action::StepBack { steps: 2 }));
        assert_eq!(a(84), Some(Action::StepBack { steps: 3 }));
        assert_eq!(a(85), Some(Action::Restart));
        let m = |days| r.late(true, days).map(|b| b.action.clone());
        assert_eq!(m(70), Some(Action::Proceed));
        assert_eq!(
            m(71),
            Some(Action::Volume {
                volume_ml: Decimal::new(6, 1)
            })
        );
        assert_eq!(
            m(112),
            Some(Action::Volume {
                volume_ml: Decimal::new(4, 1)
            })
        );
        assert_eq!(m(183), Some(Action::Restart));
    }

    #[test]
    fn us_late_updosing_bands() {
        let r = rules("us-practice-parameter");
        let a = |days| r.late(false, days).map(|b| b.action.clone());
        assert_eq!(a(14), Some(Action::Proceed));
        assert_eq!(a(15), Some(Action::Repeat)); // 8 days after the missed injection
        assert_eq!(
            a(21),
            Some(Action::Reduce {
                percent: Decimal::new(25, 0)
            })
        );
        assert_eq!(
            a(28),
            Some(Action::Reduce {
                percent: Decimal::new(50, 0)
            })
        ); // day 21: the cautious row
        assert_eq!(a(36), Some(Action::Review));
        assert_eq!(
            r.late(true, 71).map(|b| b.action.clone()),
            Some(Action::Review)
        );
    }

    #[test]
    fn reactions() {
        let r = rules("norwegian-guide");
        assert_eq!(r.local(0).map(|b| b.action.clone()), Some(Action::Proceed));
        assert_eq!(r.local(25).map(|b| b.action.clone()), Some(Action::Repeat));
        assert_eq!(
            r.local(50).map(|b| b.action.clone()),
            Some(Action::StepBack { steps: 1 })
        );
        assert_eq!(r.local(150).map(|b| b.action.clone()), Some(Action::Review));
        assert_eq!(
            r.systemic(1).map(|s| s.action.clone()),
            Some(Action::StepBack { steps: 1 })
        );
        assert!(r.systemic(1).is_some_and(|s| s.end_day));
        assert_eq!(
            r.systemic(2).map(|s| s.action.clone()),
            Some(Action::Review)
        );
        assert_eq!(r.systemic(4).map(|s| s.action.clone()), Some(Action::Stop));
    }

    #[test]
    fn a_rule_set_that_lets_grade_2_proceed_is_refused() {
        let (name, text) = BUNDLED
            .iter()
            .find(|(n, _)| *n == "course-norwegian-guide.toml")
            .expect("file");
        let unsafe_text = text.replacen(
            "grades = [2, 3]\nend_day = true\naction = \"review\"",
            "grades = [2, 3]\nend_day = true\naction = \"proceed\"",
            1,
        );
        assert_ne!(&unsafe_text, text);
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(*name, unsafe_text));
        let err = Policy::from_sources(sources).expect_err("refused");
        assert!(
            err.files
                .iter()
                .flat_map(|(_, d)| d)
                .any(|d| d.code == "unsafe-rule")
        );
    }

    #[test]
    fn bands_with_a_gap_are_refused() {
        let (name, text) = BUNDLED
            .iter()
            .find(|(n, _)| *n == "course-norwegian-guide.toml")
            .expect("file");
        let gap = text.replacen(
            "from_days = 14\nup_to_days = 28",
            "from_days = 15\nup_to_days = 28",
            1,
        );
        assert_ne!(&gap, text);
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(*name, gap));
        let err = Policy::from_sources(sources).expect_err("refused");
        assert!(
            err.files
                .iter()
                .flat_map(|(_, d)| d)
                .any(|d| d.code == "bad-bands")
        );
    }
}
