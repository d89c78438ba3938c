//! Course rule sets (`rules/course-*.toml`, `format = 2`): what the treatment-course state
//! machine does after a local or systemic reaction, a late dose or a failed pre-injection check,
//! how a maintenance dose that was reduced climbs back, and how far apart two extracts are given.
//!
//! The mechanism is here; the numbers are in the files. Bands over days or millimetres are
//! written as the source writes them, with each edge inclusive or exclusive
//! (`weeks = "[0, 10)"` is "< 10 weeks", `weeks = "(2, 4]"` is "more than 2, up to 4 weeks"),
//! and must tile the whole line from 0 to no limit without gap or overlap.
//!
//! Safety floors that are in code on purpose (each says why where it is checked): a systemic
//! reaction of WAO grade 2 or more never proceeds without a physician; grade 4 or more stops;
//! grade 5 ends the course for good; a "review" or "stop" band always closes the visit.

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

use super::Provenance;

/// The course-rules format this code reads.
mod read;

pub(super) use read::read;

pub const FORMAT: u32 = 2;

/// What a band tells the state machine to do with the next dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The next dose of the schedule.
    Proceed,
    /// The last dose again (no escalation).
    Repeat,
    /// `steps` dose steps below the last dose (distinct doses; see [`DoseSteps`]).
    StepBack {
        /// How many.
        steps: u32,
    },
    /// The last dose reduced by `percent` %, on the same vial, rounded down to the syringe.
    Reduce {
        /// Percent.
        percent: Decimal,
    },
    /// This volume of the maintenance vial (a rung of the maintenance ladder).
    Volume {
        /// mL.
        volume_ml: Decimal,
    },
    /// From the first step of the schedule.
    Restart,
    /// Nothing more until a physician reviews the course.
    Review,
    /// The course stops; only a physician review that records why it may go on resumes it.
    Stop,
    /// The course ends for good; only a correction of the record undoes it.
    End,
}

impl Action {
    /// Whether the action asks for or imposes a physician's decision.
    pub fn needs_physician(&self) -> bool {
        matches!(self, Action::Review | Action::Stop | Action::End)
    }
}

/// A closed range of whole numbers (days, mm) written with explicit edges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// As written in the file, e.g. `"[0, 10)"` with its unit.
    pub written: String,
    /// The lowest whole number inside.
    pub lo: u32,
    /// The highest whole number inside (`None`: no limit).
    pub hi: Option<u32>,
}

impl Interval {
    /// Whether `x` lies inside.
    pub fn contains(&self, x: i64) -> bool {
        x >= i64::from(self.lo) && self.hi.is_none_or(|h| x <= i64::from(h))
    }

    /// Parses `"[a, b)"`, `"(a, b]"`, `"[a, ∞)"` (also `inf`); numbers are whole and are
    /// multiplied by `scale` (7 for weeks). `None` with a sentence saying what is wrong.
    pub fn parse(text: &str, scale: u32, unit: &str) -> Result<Interval, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{text:?} is not a range: write it with its edges, e.g. \"[0, 10)\" (0 up to but not including 10), \"(2, 4]\" or \"(12, ∞)\""
            )
        };
        let mut chars = t.chars();
        let open = chars.next().ok_or_else(bad)?;
        let close = chars.next_back().ok_or_else(bad)?;
        let lo_incl = match open {
            '[' => true,
            '(' => false,
            _ => return Err(bad()),
        };
        let hi_incl = match close {
            ']' => true,
            ')' => false,
            _ => return Err(bad()),
        };
        let inner = chars.as_str();
        let (a, b) = inner.split_once(',').ok_or_else(bad)?;
        let num = |s: &str| -> Result<Option<u32>, String> {
            let s = s.trim().replace('_', "");
            if s == "∞" || s.eq_ignore_ascii_case("inf") {
                return Ok(None);
            }
            let n: u32 = s
                .parse()
                .map_err(|_| format!("{s:?} in {text:?} is not a whole number"))?;
            n.checked_mul(scale)
                .map(Some)
                .ok_or_else(|| format!("{s:?} in {text:?} is too large"))
        };
        let lo = num(a)?.ok_or_else(|| format!("{text:?} cannot start at ∞"))?;
        let hi = num(b)?;
        if hi.is_none() && hi_incl {
            return Err(format!("{text:?}: ∞ is never included; close it with ')'"));
        }
        let first = if lo_incl { Some(lo) } else { lo.checked_add(1) };
        let last = match hi {
            None => None,
            Some(h) if hi_incl => Some(Some(h)),
            Some(h) => Some(h.checked_sub(1)),
        };
        let (Some(first), last) = (first, last) else {
            return Err(format!("{text:?} holds no whole {unit}"));
        };
        let last = match last {
            None => None,
            Some(None) => return Err(format!("{text:?} holds no whole {unit}")),
            Some(Some(l)) => Some(l),
        };
        if last.is_some_and(|l| l < first) {
            return Err(format!("{text:?} holds no whole {unit}"));
        }
        Ok(Interval {
            written: format!("{t} {unit}"),
            lo: first,
            hi: last,
        })
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// A band over a number (mm, days).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Band {
    /// Which numbers it covers.
    pub range: Interval,
    /// What to do.
    pub action: Action,
    /// No further injection at the visit where it was found (the action then applies to the
    /// next visit). A band that proceeds may leave the visit open.
    pub close_visit: bool,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A systemic-reaction rule for a range of WAO grades. Every systemic reaction closes the visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemicRule {
    /// Lowest grade, inclusive.
    pub from_grade: u8,
    /// Highest grade, inclusive.
    pub to_grade: u8,
    /// What to do.
    pub action: Action,
    /// Dose steps back that a physician's `continue` applies.
    pub steps: u32,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// The kinds of late (6-24 h) non-local reaction the Norwegian guide distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LateKind {
    /// Type III: fever, arthralgia, malaise.
    TypeIii,
    /// Late allergic or asthmatic reaction, mild.
    AllergicMild,
    /// Late allergic or asthmatic reaction, severe.
    AllergicSevere,
}

impl LateKind {
    /// Every value, as written in files and on the command line.
    pub const NAMES: &'static str = "type-iii, allergic-mild, allergic-severe";

    /// The word written in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LateKind::TypeIii => "type-iii",
            LateKind::AllergicMild => "allergic-mild",
            LateKind::AllergicSevere => "allergic-severe",
        }
    }

    /// All kinds.
    pub const ALL: [LateKind; 3] = [
        LateKind::TypeIii,
        LateKind::AllergicMild,
        LateKind::AllergicSevere,
    ];
}

impl std::str::FromStr for LateKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LateKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("{s:?} is not a late reaction type: {}", LateKind::NAMES))
    }
}

impl fmt::Display for LateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a late reaction of one kind does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LateRule {
    /// The kind.
    pub kind: LateKind,
    /// What to do.
    pub action: Action,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// What late-dose bands count their days from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountFrom {
    /// Days since the previous dose.
    LastDose,
    /// Days after the scheduled date that was missed (the re-projected next visit).
    MissedDate,
}

/// How late-dose bands count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LateCounting {
    /// From what.
    pub from: CountFrom,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// What "a dose step" means for "reduce N dose steps".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoseSteps {
    /// The only meaning ritplan implements: the schedule's distinct doses in rising order.
    pub meaning: String,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// The maintenance ladder: the volumes of the maintenance vial the maintenance rules name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaintenanceLadder {
    /// The full maintenance volume the rules are written for; a template with another
    /// maintenance volume gets no ladder (any reduction in maintenance asks the physician).
    pub full_volume_ml: Decimal,
    /// The rungs, rising, ending at the full volume.
    pub volumes_ml: Vec<Decimal>,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// How a maintenance dose reduced to one of `reduced_to_ml` climbs back to the full dose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reescalation {
    /// The reduced volumes this rule applies to.
    pub reduced_to_ml: Vec<Decimal>,
    /// Each higher rung of the ladder up to the full dose, not before this many weeks after the
    /// previous dose ...
    pub step_up_after_weeks: u32,
    /// ... and not later than this many (beyond it the guide gives no rule: the physician
    /// decides). `None`: the late-maintenance bands apply as usual.
    pub step_up_within_weeks: Option<u32>,
    /// Then the full dose after each of these intervals, then the steady maintenance interval.
    pub full_after_weeks: Vec<u32>,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A course rule set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CourseRules {
    /// What a dose step is.
    pub dose_steps: DoseSteps,
    /// Local reaction bands, mm.
    pub local_reaction: Vec<Band>,
    /// Systemic reaction rules by WAO grade.
    pub systemic_reaction: Vec<SystemicRule>,
    /// Late (6-24 h) non-local reactions by kind.
    pub late_reaction: Vec<LateRule>,
    /// What the late-dose bands count from.
    pub late_counting: LateCounting,
    /// Late doses in up-dosing, days.
    pub late_updosing: Vec<Band>,
    /// Late doses in maintenance, days since the previous dose.
    pub late_maintenance: Vec<Band>,
    /// The maintenance ladder, if the rule set has one.
    pub maintenance_ladder: Option<MaintenanceLadder>,
    /// Re-escalation after a maintenance reduction.
    pub reescalation: Vec<Reescalation>,
    /// A PEF/FEV1 below this % of the patient's best defers the dose.
    pub pre_injection_pef_below: Decimal,
    /// Its provenance.
    pub pre_injection_pef_provenance: Provenance,
    /// Minutes between injections of two different extracts the same day.
    pub between_extracts_min: u32,
    /// Its provenance.
    pub between_extracts_provenance: Provenance,
    /// The vial-change rules of this rule set (`rules/vial-change.toml`); empty for a course
    /// frozen before that file existed: any vial change then asks the physician.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vial_change: Vec<crate::policy::vial_change::VialChangeRule>,
    /// Premedication the rule set asks for on all its courses (`[[premedication]]`, the
    /// template's fields; `source` is the citation). It applies besides the template's: each
    /// entry of either is due on its own, so one `required` in either is required, and a
    /// template's `none` does not lift the rule set's. Empty for a rule set without the key
    /// (every course frozen before it existed reads as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub premedication: Vec<crate::template::Premedication>,
}

impl CourseRules {
    /// The local-reaction band of a diameter; `None` (ask the physician) if no band holds it.
    pub fn local(&self, mm: u32) -> Option<&Band> {
        self.local_reaction
            .iter()
            .find(|b| b.range.contains(i64::from(mm)))
    }

    /// The systemic rule of a WAO grade.
    pub fn systemic(&self, grade: u8) -> Option<&SystemicRule> {
        self.systemic_reaction
            .iter()
            .find(|r| (r.from_grade..=r.to_grade).contains(&grade))
    }

    /// The rule for a late reaction kind.
    pub fn late_reaction(&self, kind: LateKind) -> Option<&LateRule> {
        self.late_reaction.iter().find(|r| r.kind == kind)
    }

    /// The late-dose band for `days` (counted as [`CourseRules::late_counting`] says).
    pub fn late(&self, maintenance: bool, days: i64) -> Option<&Band> {
        let bands = if maintenance {
            &self.late_maintenance
        } else {
            &self.late_updosing
        };
        bands.iter().find(|b| b.range.contains(days))
    }

    /// The vial-change rule for a trigger in a phase; `None`: no rule, the physician decides.
    pub fn vial_change_rule(
        &self,
        trigger: crate::policy::vial_change::Trigger,
        maintenance: bool,
    ) -> Option<&crate::policy::vial_change::VialChangeRule> {
        self.vial_change
            .iter()
            .find(|r| r.trigger.as_str() == trigger.as_str() && r.phase.covers(maintenance))
    }

    /// The re-escalation rule for a reduced maintenance volume.
    pub fn reescalation_for(&self, volume_ml: Decimal) -> Option<&Reescalation> {
        self.reescalation
            .iter()
            .find(|r| r.reduced_to_ml.contains(&volume_ml))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceText;
    use crate::policy::{BUNDLED, Policy, PolicyError};

    fn rules(id: &str) -> CourseRules {
        Policy::bundled()
            .expect("bundled")
            .rule_set(id)
            .expect("rule set")
            .rules
            .clone()
    }

    /// The bundled rules with one edit in `file`; the edit must change something.
    fn edited(file: &str, from: &str, to: &str) -> Result<Policy, PolicyError> {
        let (name, text) = BUNDLED.iter().find(|(n, _)| *n == file).expect("file");
        let changed = text.replacen(from, to, 1);
        assert_ne!(&changed, text, "the edit {from:?} matched nothing");
        let mut sources: Vec<SourceText> = BUNDLED
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(n, t)| SourceText::new(*n, *t))
            .collect();
        sources.push(SourceText::new(*name, changed));
        Policy::from_sources(sources)
    }

    fn codes(r: Result<Policy, PolicyError>) -> Vec<&'static str> {
        match r {
            Ok(_) => Vec::new(),
            Err(e) => e
                .files
                .into_iter()
                .flat_map(|(_, d)| d)
                .map(|d| d.code)
                .collect(),
        }
    }

    #[test]
    fn intervals_are_read_as_written() {
        let i = Interval::parse("[0, 10)", 7, "days").expect("ok");
        assert_eq!((i.lo, i.hi), (0, Some(69)));
        let i = Interval::parse("(2, 4]", 7, "days").expect("ok");
        assert_eq!((i.lo, i.hi), (15, Some(28)));
        let i = Interval::parse("(12, ∞)", 7, "days").expect("ok");
        assert_eq!((i.lo, i.hi), (85, None));
        let i = Interval::parse("[8, 13]", 1, "days").expect("ok");
        assert_eq!((i.lo, i.hi), (8, Some(13)));
        for bad in [
            "0, 10", "[0, 10", "[a, 3]", "[5, 5)", "(5, 6)", "[3, ∞]", "[∞, 3)",
        ] {
            assert!(Interval::parse(bad, 1, "days").is_err(), "{bad}");
        }
        assert!(Interval::parse("[0, 4294967295]", 7, "days").is_err());
    }

    #[test]
    fn norwegian_late_updosing_bands_follow_the_guide_cautious_at_shared_edges() {
        let r = rules("norwegian-guide");
        let a = |days| r.late(false, days).map(|b| b.action.clone());
        assert_eq!(r.late_counting.from, CountFrom::LastDose);
        assert_eq!(a(14), Some(Action::Proceed)); // <= 2 weeks
        assert_eq!(a(15), Some(Action::Repeat));
        assert_eq!(a(27), Some(Action::Repeat));
        assert_eq!(a(28), Some(Action::StepBack { steps: 1 })); // 4 weeks: the cautious row
        assert_eq!(a(41), Some(Action::StepBack { steps: 1 }));
        assert_eq!(a(42), Some(Action::StepBack { steps: 2 }));
        assert_eq!(a(56), Some(Action::StepBack { steps: 3 }));
        assert_eq!(a(84), Some(Action::StepBack { steps: 3 })); // "> 12 weeks" restarts
        assert_eq!(a(85), Some(Action::Restart));
        let m = |days| r.late(true, days).map(|b| b.action.clone());
        let vol = |v: i64| {
            Some(Action::Volume {
                volume_ml: Decimal::new(v, 1),
            })
        };
        assert_eq!(m(69), Some(Action::Proceed)); // < 10 weeks
        assert_eq!(m(70), vol(6));
        assert_eq!(m(84), vol(4));
        assert_eq!(m(112), vol(2));
        assert_eq!(m(182), vol(2));
        assert_eq!(m(183), Some(Action::Restart));
    }

    #[test]
    fn us_late_updosing_bands_count_from_the_missed_date() {
        let r = rules("us-practice-parameter");
        assert_eq!(r.late_counting.from, CountFrom::MissedDate);
        let a = |days| r.late(false, days).map(|b| b.action.clone());
        assert_eq!(a(7), Some(Action::Proceed));
        assert_eq!(a(8), Some(Action::Repeat));
        assert_eq!(a(13), Some(Action::Repeat));
        let pct = |p| {
            Some(Action::Reduce {
                percent: Decimal::from(p),
            })
        };
        assert_eq!(a(14), pct(25));
        assert_eq!(a(20), pct(25));
        assert_eq!(a(21), pct(50)); // in both source rows: the cautious one
        assert_eq!(a(28), pct(50));
        assert_eq!(a(29), Some(Action::Review));
        assert!(r.maintenance_ladder.is_none());
    }

    #[test]
    fn reactions_and_the_maintenance_ladder() {
        let r = rules("norwegian-guide");
        assert_eq!(r.local(24).map(|b| b.action.clone()), Some(Action::Proceed));
        assert_eq!(r.local(25).map(|b| b.action.clone()), Some(Action::Repeat));
        assert!(r.local(25).is_some_and(|b| b.close_visit));
        assert_eq!(
            r.local(50).map(|b| b.action.clone()),
            Some(Action::StepBack { steps: 1 })
        );
        assert_eq!(r.local(150).map(|b| b.action.clone()), Some(Action::Review));
        assert_eq!(
            r.systemic(1).map(|s| s.action.clone()),
            Some(Action::StepBack { steps: 1 })
        );
        assert_eq!(
            r.systemic(3).map(|s| s.action.clone()),
            Some(Action::Review)
        );
        assert_eq!(r.systemic(4).map(|s| s.action.clone()), Some(Action::Stop));
        assert_eq!(r.systemic(5).map(|s| s.action.clone()), Some(Action::End));
        assert_eq!(
            r.late_reaction(LateKind::TypeIii).map(|l| l.action.clone()),
            Some(Action::Stop)
        );
        let l = r.maintenance_ladder.as_ref().expect("ladder");
        assert_eq!(l.volumes_ml.last(), Some(&Decimal::ONE));
        let back_to_full = r.reescalation_for(Decimal::new(6, 1)).expect("0.6");
        assert_eq!(
            (
                back_to_full.step_up_after_weeks,
                back_to_full.step_up_within_weeks
            ),
            (4, None)
        );
        assert_eq!(back_to_full.full_after_weeks, vec![8]);
        let low = r.reescalation_for(Decimal::new(2, 1)).expect("0.2");
        assert_eq!(
            (low.step_up_after_weeks, low.step_up_within_weeks),
            (1, Some(2))
        );
        assert_eq!(low.full_after_weeks, vec![2, 4, 8]);
        assert_eq!(r.between_extracts_min, 30);
    }

    #[test]
    fn unsafe_systemic_rules_are_refused() {
        let f = "course-norwegian-guide.toml";
        let c = codes(edited(
            f,
            "grades = [2, 3]\naction = \"review\"",
            "grades = [2, 3]\naction = \"proceed\"",
        ));
        assert!(c.contains(&"unsafe-rule"), "{c:?}");
        let c = codes(edited(
            f,
            "grades = [5, 5]\naction = \"end\"",
            "grades = [5, 5]\naction = \"stop\"",
        ));
        assert!(c.contains(&"unsafe-rule"), "{c:?}");
        let c = codes(edited(f, "grades = [5, 5]", "grades = [4, 5]"));
        assert!(c.contains(&"bad-grades"), "{c:?}");
    }

    #[test]
    fn bands_with_a_gap_or_an_overlap_are_refused() {
        let f = "course-norwegian-guide.toml";
        let c = codes(edited(f, "weeks = \"(2, 4)\"", "weeks = \"(3, 4)\""));
        assert!(c.contains(&"bad-bands"), "{c:?}");
        let c = codes(edited(f, "weeks = \"(2, 4)\"", "weeks = \"[2, 4)\""));
        assert!(c.contains(&"bad-bands"), "{c:?}");
        let c = codes(edited(f, "weeks = \"(2, 4)\"", "weeks = \"(2; 4)\""));
        assert!(c.contains(&"bad-range"), "{c:?}");
        let c = codes(edited(f, "mm = \"[100, ∞)\"", "mm = \"[100, 200)\""));
        assert!(c.contains(&"bad-bands"), "{c:?}");
    }

    #[test]
    fn a_review_band_must_close_the_visit_and_old_formats_are_named() {
        let f = "course-norwegian-guide.toml";
        let c = codes(edited(
            f,
            "mm = \"[100, ∞)\"\naction = \"review\"\nclose_visit = true",
            "mm = \"[100, ∞)\"\naction = \"review\"\nclose_visit = false",
        ));
        assert!(c.contains(&"unsafe-rule"), "{c:?}");
        let c = codes(edited(f, "format = 2\n", ""));
        assert!(c.contains(&"unknown-format"), "{c:?}");
        let c = codes(edited(f, "reduced_to_ml = [0.6]", "reduced_to_ml = [0.5]"));
        assert!(
            c.contains(&"uncovered-case") && c.contains(&"bad-ladder"),
            "{c:?}"
        );
    }
}
