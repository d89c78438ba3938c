//! The outcomes audit's report (issue 22; clinical sources §5.3): tables T1–T6 computed from the
//! per-course rows ([`super::facts`]) with the statistics of [`super::stats`], each with its
//! footer (window, arm rule, band edges with source and evidence, grading scale, tests,
//! multiplicity, small cells, censored and excluded courses, "observational data").
//!
//! Pure: no clock, disk or printing. A statistic that cannot be computed is
//! [`Val::NotComputable`] ("—" with its reason), never NaN or ∞. Courses still in up-dosing at
//! the audit date (censored) are in no table's denominator; they are counted in every footer.
//!
//! Conventions: every between-arm 2×2 table has RIT+Omb-pre as its first row and RIT alone as
//! its second, "event" (a systemic reaction, the target reached, …) as its first column, so an
//! odds ratio below 1 means fewer events in the pretreated arm. The reported p of a 2×2 table is
//! χ² with Yates' correction, or Fisher's exact test when an expected count is below 5
//! ([`TwoByTwo::p_value`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::facts::{Arm, CourseFacts, Excluded, Status, UNKNOWN};
use super::rules::AuditRules;
use super::stats::{
    self, Expected, Interval, NotComputable, Stat, Table2x2, Test2x2, TwoByTwo, two_by_two,
};
use crate::patient::Censor;
use crate::policy::Provenance;
use crate::risk::Ratio;

/// What a value that cannot be computed shows.
pub const DASH: &str = "—";

/// A value, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Val<T> {
    /// Computed.
    Ok(T),
    /// Not computable: shown as "—", with the reason.
    NotComputable {
        /// Always "—".
        shown: &'static str,
        /// Why.
        reason: String,
    },
}

impl<T> Val<T> {
    /// The value, if computed.
    pub fn ok(&self) -> Option<&T> {
        match self {
            Val::Ok(v) => Some(v),
            Val::NotComputable { .. } => None,
        }
    }
}

fn nc<T>(why: impl ToString) -> Val<T> {
    Val::NotComputable {
        shown: DASH,
        reason: why.to_string(),
    }
}

fn finite(v: f64) -> Val<f64> {
    if v.is_finite() {
        Val::Ok(v)
    } else {
        nc(NotComputable::NotFinite)
    }
}

fn num(s: Stat<f64>) -> Val<f64> {
    match s {
        Ok(v) => finite(v),
        Err(e) => nc(e),
    }
}

/// An estimate with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate.
    pub estimate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

fn estimate(e: f64, ci: Interval) -> Val<Estimate> {
    if e.is_finite() && ci.low.is_finite() && ci.high.is_finite() {
        Val::Ok(Estimate {
            estimate: e,
            low: ci.low,
            high: ci.high,
        })
    } else {
        nc(NotComputable::NotFinite)
    }
}

/// A 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ci {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

fn wilson(n: u64, of: u64) -> Val<Ci> {
    match stats::wilson(n, of) {
        Ok(i) if i.low.is_finite() && i.high.is_finite() => Val::Ok(Ci {
            low: i.low,
            high: i.high,
        }),
        Ok(_) => nc(NotComputable::NotFinite),
        Err(e) => nc(e),
    }
}

/// The test a p-value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// Fisher's exact test, two-sided.
    Fisher,
    /// Pearson's χ² with Yates' correction (2×2).
    ChiSquareYates,
    /// Pearson's χ² without correction (2×2).
    ChiSquare,
    /// Pearson's χ² on an r×c table, without correction.
    ChiSquareRxc,
    /// Mann–Whitney U, two-sided.
    MannWhitney,
    /// The Mantel–Haenszel test of a common OR of 1.
    MantelHaenszel,
    /// Breslow–Day test of equal ORs.
    BreslowDay,
    /// Cochran–Armitage test for trend.
    CochranArmitage,
}

impl Test {
    /// The mark printed after a p-value in the text tables.
    pub fn mark(self) -> &'static str {
        match self {
            Test::Fisher => "F",
            Test::ChiSquareYates => "Y",
            Test::ChiSquare => "X",
            Test::ChiSquareRxc => "R",
            Test::MannWhitney => "U",
            Test::MantelHaenszel => "MH",
            Test::BreslowDay => "BD",
            Test::CochranArmitage => "CA",
        }
    }

    /// What the test is, for the footer.
    pub fn describe(self) -> &'static str {
        match self {
            Test::Fisher => {
                "Fisher's exact test, two-sided (tables at least as extreme, SciPy's convention), reported when an expected count is below 5"
            }
            Test::ChiSquareYates => {
                "Pearson's χ² with Yates' continuity correction, df 1, reported when every expected count is 5 or more"
            }
            Test::ChiSquare => "Pearson's χ² without continuity correction, df 1",
            Test::ChiSquareRxc => {
                "Pearson's χ² on the r×c table without correction (empty rows left out; no exact r×c test: small cells are flagged)"
            }
            Test::MannWhitney => {
                "Mann–Whitney U, two-sided (exact without ties when a group has at most 8 values, else the normal approximation with tie and continuity corrections)"
            }
            Test::MantelHaenszel => {
                "Mantel–Haenszel χ² test of a common OR of 1 (no continuity correction); pooled OR with the Robins–Breslow–Greenland 95 % CI; a stratum with a zero cell has 0.5 added to each cell"
            }
            Test::BreslowDay => {
                "Breslow–Day test of equal ORs across the strata (without Tarone's adjustment)"
            }
            Test::CochranArmitage => {
                "Cochran–Armitage test for trend over sIgE classes 1-6 (scores 1-6), two-sided"
            }
        }
    }
}

fn test_of(t: Test2x2) -> Test {
    match t {
        Test2x2::Fisher => Test::Fisher,
        Test2x2::ChiSquareYates => Test::ChiSquareYates,
        Test2x2::ChiSquare => Test::ChiSquare,
    }
}

/// One cell of a table.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cell {
    /// Nothing.
    Blank,
    /// Words.
    Text {
        /// The words.
        text: String,
    },
    /// A number.
    Number {
        /// The number.
        value: Val<f64>,
    },
    /// A count of courses.
    N {
        /// How many.
        n: u64,
    },
    /// Courses with something, of a denominator, with the percent and its Wilson 95 % interval.
    Count {
        /// How many.
        n: u64,
        /// Of how many.
        of: u64,
        /// Percent.
        percent: Val<f64>,
        /// Wilson 95 % interval, as proportions.
        wilson95: Val<Ci>,
    },
    /// Events, percent of injections (described only).
    Events {
        /// How many.
        n: u64,
        /// Injections given.
        injections: u64,
        /// Percent of injections.
        percent: Val<f64>,
    },
    /// A median with its interquartile range.
    Summary {
        /// How many values.
        n: u64,
        /// Median.
        median: Val<f64>,
        /// First quartile.
        q1: Val<f64>,
        /// Third quartile.
        q3: Val<f64>,
    },
    /// A p-value and its test.
    P {
        /// The test.
        test: Test,
        /// The p-value.
        p: Val<f64>,
    },
    /// An odds ratio with its 95 % interval.
    OddsRatio {
        /// The estimate and interval.
        or: Val<Estimate>,
        /// Haldane's +0.5 on every cell (a zero cell).
        haldane: bool,
    },
    /// A risk difference (proportions) with its Wald 95 % interval.
    RiskDifference {
        /// The estimate and interval.
        rd: Val<Estimate>,
    },
}

/// A row: its label and cells (one per column after the label).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The label.
    pub label: String,
    /// The cells.
    pub cells: Vec<Cell>,
}

/// A block of rows under one header.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    /// The block's heading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// The column headers, the label column first.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
    /// Notes under the block.
    pub notes: Vec<String>,
    /// Whether the text shows the Wilson intervals of counts.
    #[serde(skip)]
    pub intervals_in_text: bool,
}

/// One table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    /// `T1` … `T6`.
    pub id: &'static str,
    /// The title.
    pub title: String,
    /// Its blocks.
    pub blocks: Vec<Block>,
    /// The footer.
    pub footer: Vec<String>,
}

/// The report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The first rush day 1 counted.
    pub from: NaiveDate,
    /// The last.
    pub to: NaiveDate,
    /// The audit date.
    pub as_of: NaiveDate,
    /// Courses in the rows.
    pub courses: usize,
    /// Courses analysed (completed or stopped).
    pub analysed: usize,
    /// Courses censored (in no table).
    pub censored: usize,
    /// Courses excluded from the rows, with why.
    pub excluded: Vec<Excluded>,
    /// The medication score's definition, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medication_score: Option<String>,
    /// T1 to T6.
    pub tables: Vec<Table>,
}

/// What the report is computed from.
pub struct ReportIn<'a> {
    /// The first rush day 1 counted.
    pub from: NaiveDate,
    /// The last.
    pub to: NaiveDate,
    /// The audit date.
    pub as_of: NaiveDate,
    /// One row per course.
    pub rows: &'a [CourseFacts],
    /// Courses left out of the rows, with why.
    pub excluded: &'a [Excluded],
    /// The definitions in force.
    pub rules: &'a AuditRules,
    /// The medication score's definition, as outputs name it.
    pub medication_score: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn percent(n: u64, of: u64) -> Val<f64> {
    if of == 0 {
        nc(NotComputable::Empty)
    } else {
        finite(100.0 * n as f64 / of as f64)
    }
}

fn count(n: u64, of: u64) -> Cell {
    Cell::Count {
        n,
        of,
        percent: percent(n, of),
        wilson95: wilson(n, of),
    }
}

fn text(t: impl Into<String>) -> Cell {
    Cell::Text { text: t.into() }
}

fn row(label: impl Into<String>, cells: Vec<Cell>) -> Row {
    Row {
        label: label.into(),
        cells,
    }
}

fn n64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The quantile `q` of sorted values, linear between order statistics (NumPy's default).
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q * last as f64;
    let lo = pos.floor();
    let i = lo as usize;
    let a = *sorted.get(i)?;
    let b = sorted.get(i + 1).copied().unwrap_or(a);
    Some(a + (b - a) * (pos - lo))
}

/// Median and quartiles of the values (NaN and ∞ left out).
pub fn summary(values: &[f64]) -> Cell {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| match quantile(&v, p) {
        Some(x) => finite(x),
        None => nc(NotComputable::Empty),
    };
    Cell::Summary {
        n: n64(v.len()),
        median: q(0.5),
        q1: q(0.25),
        q3: q(0.75),
    }
}

fn dec(d: Decimal) -> Option<f64> {
    d.to_f64().filter(|x| x.is_finite())
}

fn mann_whitney(x: &[f64], y: &[f64]) -> Cell {
    Cell::P {
        test: Test::MannWhitney,
        p: num(stats::mann_whitney_u(x, y).map(|m| m.p)),
    }
}

fn odds_ratio(t: &TwoByTwo) -> Cell {
    match &t.odds_ratio {
        Ok(o) => Cell::OddsRatio {
            or: estimate(o.estimate, o.ci),
            haldane: o.haldane,
        },
        Err(e) => Cell::OddsRatio {
            or: nc(e),
            haldane: false,
        },
    }
}

fn risk_difference(t: &TwoByTwo) -> Cell {
    Cell::RiskDifference {
        rd: match &t.risk_difference {
            Ok(d) => estimate(d.estimate, d.ci),
            Err(e) => nc(e),
        },
    }
}

/// The cells of `e` with an expected count below 5, named `row × column`.
fn small_cells(e: &Expected, rows: &[&str], cols: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, r) in e.counts.iter().enumerate() {
        for (j, x) in r.iter().enumerate() {
            if *x < 5.0 {
                out.push(format!(
                    "{} × {} ({x:.1})",
                    rows.get(i).copied().unwrap_or("?"),
                    cols.get(j).copied().unwrap_or("?")
                ));
            }
        }
    }
    out
}

/// A table's tests and warnings, gathered as its cells are made.
#[derive(Default)]
struct Notes {
    tests: BTreeSet<Test>,
    warnings: Vec<String>,
    haldane: bool,
    odds_ratios: bool,
    intervals: bool,
}

impl Notes {
    /// The reported p of a 2×2 table, with a small-cell warning naming the cells.
    fn p2(&mut self, what: &str, t: &TwoByTwo, rows: [&str; 2], cols: [&str; 2]) -> Cell {
        let (test, p) = t.p_value(true);
        let test = test_of(test);
        self.tests.insert(test);
        if t.small_cell
            && let Ok(e) = &t.expected
        {
            self.warnings.push(format!(
                "{what}: expected count below 5 in {} — Fisher's exact test reported",
                small_cells(e, &rows, &cols).join(", ")
            ));
        }
        Cell::P { test, p: num(p) }
    }

    fn or(&mut self, t: &TwoByTwo) -> Cell {
        self.odds_ratios = true;
        if t.odds_ratio.as_ref().is_ok_and(|o| o.haldane) {
            self.haldane = true;
        }
        odds_ratio(t)
    }

    fn mwu(&mut self, x: &[f64], y: &[f64]) -> Cell {
        self.tests.insert(Test::MannWhitney);
        mann_whitney(x, y)
    }

    /// A test of `levels` (each `[count in group 1, count in group 2]`) with an r×c χ² (or
    /// the 2×2 rule when only two levels have data).
    fn levels(&mut self, what: &str, levels: &[(String, [u64; 2])], groups: [&str; 2]) -> Cell {
        let kept: Vec<&(String, [u64; 2])> =
            levels.iter().filter(|(_, c)| c[0] + c[1] > 0).collect();
        if let [a, b] = kept.as_slice() {
            // Rows the groups, columns the two levels.
            let t = two_by_two(&Table2x2::new(a.1[1], b.1[1], a.1[0], b.1[0]));
            return self.p2(
                what,
                &t,
                [groups[1], groups[0]],
                [a.0.as_str(), b.0.as_str()],
            );
        }
        self.tests.insert(Test::ChiSquareRxc);
        let table: Vec<Vec<u64>> = kept.iter().map(|(_, c)| c.to_vec()).collect();
        match stats::chi_square_rxc(&table) {
            Ok(r) => {
                if r.expected.small_cell {
                    let names: Vec<&str> = kept.iter().map(|(l, _)| l.as_str()).collect();
                    self.warnings.push(format!(
                        "{what}: expected count below 5 in {} — the r×c χ² is approximate (no exact test offered)",
                        small_cells(&r.expected, &names, &groups).join(", ")
                    ));
                }
                Cell::P {
                    test: Test::ChiSquareRxc,
                    p: finite(r.chi2.p),
                }
            }
            Err(e) => Cell::P {
                test: Test::ChiSquareRxc,
                p: nc(e),
            },
        }
    }
}

/// The courses of each arm, censored ones left out.
struct Arms<'a> {
    rit: Vec<&'a CourseFacts>,
    omb: Vec<&'a CourseFacts>,
}

impl<'a> Arms<'a> {
    fn of(rows: &'a [CourseFacts]) -> Arms<'a> {
        let analysed = rows.iter().filter(|r| r.status != Status::Censored);
        let (omb, rit) = analysed.partition(|r| r.arm == Arm::RitOmbPre);
        Arms { rit, omb }
    }

    fn count(&self, f: impl Fn(&CourseFacts) -> bool) -> [u64; 2] {
        [
            n64(self.rit.iter().filter(|r| f(r)).count()),
            n64(self.omb.iter().filter(|r| f(r)).count()),
        ]
    }

    fn values(&self, f: impl Fn(&CourseFacts) -> Option<f64>) -> [Vec<f64>; 2] {
        [
            self.rit.iter().filter_map(|r| f(r)).collect(),
            self.omb.iter().filter_map(|r| f(r)).collect(),
        ]
    }

    fn n(&self) -> [u64; 2] {
        [n64(self.rit.len()), n64(self.omb.len())]
    }
}

const RIT: &str = "RIT";
const OMB: &str = "RIT+Omb-pre";
const SR: &str = "SR";
const NO_SR: &str = "no SR";

/// The levels of a stratifier in order: the known ones, then others present (sorted), then
/// `unknown` when present.
fn ordered_levels(known: &[String], present: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = known.to_vec();
    for p in present {
        if !out.contains(p) && p != UNKNOWN {
            out.push(p.clone());
        }
    }
    if present.contains(UNKNOWN) {
        out.push(UNKNOWN.to_string());
    }
    out
}

fn stratum_rank(s: &str) -> (u8, String) {
    let r = match s {
        "low" => 0,
        "intermediate" => 1,
        "high" => 2,
        _ => 3,
    };
    (r, s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Footers
// ---------------------------------------------------------------------------------------------

/// `example, I; docs/sources.md: index-study-2025, ritplan-default`.
fn cite(p: &Provenance) -> String {
    let keys = p
        .source
        .rfind("(docs/sources.md:")
        .and_then(|i| p.source.get(i + 1..))
        .map(|s| s.trim_end_matches(')').to_string());
    format!(
        "{}, {}; {}",
        p.evidence.as_str(),
        serde_json::to_value(p.certainty)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        keys.unwrap_or_else(|| p.source.clone())
    )
}

struct Common {
    window: String,
    arm: String,
    bands: Vec<String>,
    grading: String,
    courses: String,
}

fn common(i: &ReportIn<'_>) -> Common {
    let r = i.rules;
    let censored: Vec<String> = i
        .rows
        .iter()
        .filter(|c| c.status == Status::Censored)
        .map(|c| c.course_id.to_string())
        .collect();
    let analysed = i.rows.len() - censored.len();
    let mut courses = format!(
        "Courses: {} in the window, {analysed} analysed (completed or stopped); {} censored (still in up-dosing at the audit date, rule {}; in no denominator){}",
        i.rows.len(),
        censored.len(),
        r.censoring.value,
        if censored.is_empty() {
            String::new()
        } else {
            format!(": course {}", censored.join(", "))
        }
    );
    if i.excluded.is_empty() {
        courses.push_str("; none excluded.");
    } else {
        let why: Vec<String> = i
            .excluded
            .iter()
            .map(|e| format!("course {}: {}", e.course_id, e.reason))
            .collect();
        courses.push_str(&format!(
            "; {} excluded — {}.",
            i.excluded.len(),
            why.join("; ")
        ));
    }
    let (lo10, hi10) = r.ratio_band10.labels();
    let (lo16, hi16) = r.ratio_band16.labels();
    let (slo, shi) = r.sige_labels(6);
    Common {
        window: format!(
            "Window: rush day 1 (the first injection given) from {} to {}; audit date {} (entries after it not counted).",
            i.from, i.to, i.as_of
        ),
        arm: format!(
            "Arm: RIT+Omb-pre = at least {} omalizumab injection(s) recorded before rush day 1, else RIT alone ({}).",
            r.arm_doses_before.value,
            cite(&r.arm_doses_before.provenance)
        ),
        bands: vec![
            format!(
                "Age group: <{a} / >={a} years at rush day 1 ({}).",
                cite(&r.adult_from_years.provenance),
                a = r.adult_from_years.value
            ),
            format!(
                "sIgE grade band: ImmunoCAP class {slo} / {shi} ({}).",
                cite(&r.sige_low_max_class.provenance)
            ),
            format!(
                "Ratio sIgE/total IgE: {lo10} / {hi10} % ({}); {lo16} / {hi16} % ({}).",
                cite(&r.ratio_band10.provenance),
                cite(&r.ratio_band16.provenance)
            ),
            format!(
                "Total IgE: {} kU/L ({}). A censored laboratory value either side of an edge is \"unknown\": counted, in no test.",
                r.total_ige_labels().join(" / "),
                cite(&r.total_ige_edges.provenance)
            ),
        ],
        grading: format!(
            "Grading: systemic reactions (SR) by the WAO grading, grades 1-5 (docs/sources.md: wao-grading-2010); late SR: onset over {} min ({}); large local reaction (LR): {} mm or more ({}).",
            r.late_sr_after_min.value,
            cite(&r.late_sr_after_min.provenance),
            r.large_local_from_mm.value,
            cite(&r.large_local_from_mm.provenance)
        ),
        courses,
    }
}

fn footer(c: &Common, notes: &Notes, extra: &[String]) -> Vec<String> {
    let mut out = vec![c.window.clone(), c.arm.clone()];
    out.extend(c.bands.iter().cloned());
    out.push(c.grading.clone());
    out.extend(extra.iter().cloned());
    for t in &notes.tests {
        out.push(format!("Test {}: {}.", t.mark(), t.describe()));
    }
    if notes.odds_ratios {
        out.push(format!(
            "OR: the sample (unconditional) odds ratio ad/bc, SciPy's, with Woolf's 95 % CI{}; none (—) when an arm has no course or every course had the same outcome (0/0).",
            if notes.haldane {
                "; h: a zero cell, Haldane's +0.5 added to every cell (never ∞)"
            } else {
                "; Haldane's +0.5 on every cell when a cell is zero (marked h)"
            }
        ));
    }
    if notes.intervals {
        out.push("Intervals on percentages: Wilson 95 % score intervals (in the JSON for every percentage; in the text where there is room).".into());
    }
    out.push("p-values not adjusted for multiplicity.".into());
    if notes.warnings.is_empty() {
        out.push("Small cells: none (every expected count 5 or more).".into());
    } else {
        for w in &notes.warnings {
            out.push(format!("Small cells: {w}."));
        }
    }
    out.push(c.courses.clone());
    out.push("Observational data, not randomised: compare with caution.".into());
    out
}

// ---------------------------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------------------------

/// The report of the rows.
pub fn report(i: &ReportIn<'_>) -> Report {
    let arms = Arms::of(i.rows);
    let c = common(i);
    let censored = i
        .rows
        .iter()
        .filter(|r| r.status == Status::Censored)
        .count();
    Report {
        from: i.from,
        to: i.to,
        as_of: i.as_of,
        courses: i.rows.len(),
        analysed: i.rows.len() - censored,
        censored,
        excluded: i.excluded.to_vec(),
        medication_score: i.medication_score.map(str::to_string),
        tables: vec![
            t1(i, &arms, &c),
            t2(&arms, &c),
            t3(&arms, &c),
            t4(i, &arms, &c),
            t5(&arms, &c),
            t6(i, &arms, &c),
        ],
    }
}

fn arm_columns(arms: &Arms<'_>, last: &[&str]) -> Vec<String> {
    let [r, o] = arms.n();
    let mut v = vec![
        String::new(),
        format!("{RIT} (n={r})"),
        format!("{OMB} (n={o})"),
    ];
    v.extend(last.iter().map(|s| s.to_string()));
    v
}

/// A categorical variable of T1: a heading row with the test, then one row per level.
fn categorical(
    notes: &mut Notes,
    arms: &Arms<'_>,
    label: &str,
    known: &[String],
    value: impl Fn(&CourseFacts) -> String,
) -> Vec<Row> {
    let present: BTreeSet<String> = arms.rit.iter().chain(&arms.omb).map(|r| value(r)).collect();
    let levels = ordered_levels(known, &present);
    let counts: Vec<(String, [u64; 2])> = levels
        .iter()
        .map(|l| (l.clone(), arms.count(|r| value(r) == *l)))
        .collect();
    let tested: Vec<(String, [u64; 2])> = counts
        .iter()
        .filter(|(l, _)| l != UNKNOWN)
        .cloned()
        .collect();
    let p = notes.levels(label, &tested, [RIT, OMB]);
    let [nr, no] = arms.n();
    let mut out = vec![row(label, vec![Cell::Blank, Cell::Blank, p])];
    for (l, [r, o]) in counts {
        let note = if l == UNKNOWN {
            text("not tested")
        } else {
            Cell::Blank
        };
        out.push(row(
            format!("  {l}"),
            vec![count(r, nr), count(o, no), note],
        ));
    }
    out
}

fn t1(i: &ReportIn<'_>, arms: &Arms<'_>, c: &Common) -> Table {
    let mut notes = Notes::default();
    let r = i.rules;
    let mut rows = Vec::new();
    let continuous = |notes: &mut Notes, label: &str, v: [Vec<f64>; 2]| {
        let p = notes.mwu(&v[0], &v[1]);
        row(label, vec![summary(&v[0]), summary(&v[1]), p])
    };
    rows.push(continuous(
        &mut notes,
        "Age, years, median (IQR)",
        arms.values(|c| Some(f64::from(c.age_years))),
    ));
    let a = r.adult_from_years.value;
    rows.extend(categorical(
        &mut notes,
        arms,
        "Age group",
        &[format!("<{a}"), format!(">={a}")],
        |c| c.age_group.clone(),
    ));
    let classes: Vec<String> = (1..=6).map(|k: u8| k.to_string()).collect();
    rows.extend(categorical(
        &mut notes,
        arms,
        "Mite sIgE class",
        &classes,
        |c| {
            if c.sige_class.min == c.sige_class.max {
                c.sige_class.min.to_string()
            } else {
                UNKNOWN.to_string()
            }
        },
    ));
    rows.push(continuous(
        &mut notes,
        "Ratio sIgE/total IgE, %, median (IQR)",
        arms.values(|c| match c.ratio_pct {
            Ratio::Exact(d) => dec(d),
            _ => None,
        }),
    ));
    rows.push(continuous(
        &mut notes,
        "Total IgE, kU/L, median (IQR)",
        arms.values(|c| {
            (c.total_ige.censor == Censor::Exact)
                .then_some(c.total_ige.value)
                .and_then(dec)
        }),
    ));
    let mut strata: Vec<String> = arms
        .rit
        .iter()
        .chain(&arms.omb)
        .map(|c| c.risk_stratum.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    strata.sort_by_key(|s| stratum_rank(s));
    rows.extend(categorical(
        &mut notes,
        arms,
        "Risk stratum",
        &strata,
        |c| c.risk_stratum.clone(),
    ));
    rows.extend(categorical(
        &mut notes,
        arms,
        "Premedication in the plan",
        &["required".to_string(), "not required".to_string()],
        |c| {
            if c.premedication.required {
                "required".into()
            } else {
                "not required".into()
            }
        },
    ));
    let acq = arms.values(|c| c.follow_up.acq_0.and_then(dec));
    if acq[0].is_empty() && acq[1].is_empty() {
        rows.push(row(
            "Baseline ACQ",
            vec![text("not recorded"), text("not recorded"), Cell::Blank],
        ));
    } else {
        rows.push(continuous(&mut notes, "Baseline ACQ, median (IQR)", acq));
    }
    let censored_sige = arms
        .rit
        .iter()
        .chain(&arms.omb)
        .filter(|c| !matches!(c.ratio_pct, Ratio::Exact(_)))
        .count();
    let mut block_notes =
        vec!["Sex and diagnosis are not among the per-course facts and are not shown.".to_string()];
    if censored_sige > 0 {
        block_notes.push(format!(
            "{censored_sige} course(s) with a censored laboratory value: their ratio (a bound) is left out of its median."
        ));
    }
    Table {
        id: "T1",
        title: "Baseline by arm".into(),
        blocks: vec![Block {
            heading: None,
            columns: arm_columns(arms, &["p"]),
            rows,
            notes: block_notes,
            intervals_in_text: false,
        }],
        footer: footer(
            c,
            &notes,
            &["Continuous rows: median (IQR, NumPy's linear quartiles), Mann–Whitney U; categories: n (% of the arm's courses), χ² or Fisher's exact test.".to_string()],
        ),
    }
}

/// T2's outcomes: label, events per course, course has it.
type Outcome = (String, Box<dyn Fn(&CourseFacts) -> u64>);

fn outcomes() -> Vec<Outcome> {
    let mut v: Vec<Outcome> = vec![
        ("LR".into(), Box::new(|c| u64::from(c.lr.count))),
        ("Large LR".into(), Box::new(|c| u64::from(c.lr.large_count))),
        ("SR, any".into(), Box::new(|c| u64::from(c.sr.count))),
    ];
    for g in 1..=5usize {
        v.push((
            format!("SR, WAO grade {g}"),
            Box::new(move |c| {
                c.sr.by_grade
                    .get(g - 1)
                    .copied()
                    .map(u64::from)
                    .unwrap_or(0)
            }),
        ));
    }
    v.push((
        "Epinephrine given".into(),
        Box::new(|c| u64::from(c.sr.epinephrine_count)),
    ));
    v.push(("Late SR".into(), Box::new(|c| u64::from(c.sr.late_count))));
    v
}

fn t2(arms: &Arms<'_>, c: &Common) -> Table {
    let mut notes = Notes {
        intervals: true,
        ..Notes::default()
    };
    let inj =
        |v: &[&CourseFacts]| -> u64 { v.iter().map(|c| u64::from(c.injections.total())).sum() };
    let (ir, io) = (inj(&arms.rit), inj(&arms.omb));
    let [nr, no] = arms.n();
    let mut described = Vec::new();
    let mut tested = Vec::new();
    for (label, f) in outcomes() {
        let ev =
            |v: &[&CourseFacts]| -> u64 { v.iter().map(|c| f(c)).fold(0, u64::saturating_add) };
        let (er, eo) = (ev(&arms.rit), ev(&arms.omb));
        let [cr, co] = arms.count(|c| f(c) > 0);
        described.push(row(
            label.clone(),
            vec![
                Cell::Events {
                    n: er,
                    injections: ir,
                    percent: percent(er, ir),
                },
                count(cr, nr),
                Cell::Events {
                    n: eo,
                    injections: io,
                    percent: percent(eo, io),
                },
                count(co, no),
            ],
        ));
        let t = two_by_two(&Table2x2::from_groups(co, no, cr, nr));
        let p = notes.p2(&label, &t, [OMB, RIT], [label.as_str(), "none"]);
        tested.push(row(
            label,
            vec![
                p,
                Cell::P {
                    test: Test::ChiSquareYates,
                    p: num(t.chi2_yates.map(|x| x.p)),
                },
                Cell::P {
                    test: Test::ChiSquare,
                    p: num(t.chi2_uncorrected.map(|x| x.p)),
                },
                Cell::P {
                    test: Test::Fisher,
                    p: num(t.fisher_p),
                },
                risk_difference(&t),
                notes.or(&t),
            ],
        ));
    }
    notes
        .tests
        .extend([Test::ChiSquareYates, Test::ChiSquare, Test::Fisher]);
    Table {
        id: "T2",
        title: "Safety by arm".into(),
        blocks: vec![
            Block {
                heading: Some(format!(
                    "Events, n (% of injections: {RIT} {ir}, {OMB} {io}); courses with one or more, n (% of courses: {RIT} {nr}, {OMB} {no}; Wilson 95 % CI)"
                )),
                columns: vec![
                    String::new(),
                    format!("{RIT} events"),
                    format!("{RIT} courses"),
                    "Omb-pre events".into(),
                    "Omb-pre courses".into(),
                ],
                rows: described,
                notes: vec![],
                intervals_in_text: true,
            },
            Block {
                heading: Some(format!(
                    "Courses with one or more, {OMB} vs {RIT}: p reported, the three tests, risk difference (% points) and OR (95 % CI)"
                )),
                columns: vec![
                    String::new(),
                    "p".into(),
                    "χ² Yates".into(),
                    "χ²".into(),
                    "Fisher".into(),
                    "RD (95 % CI)".into(),
                    "OR (95 % CI)".into(),
                ],
                rows: tested,
                notes: vec![],
                intervals_in_text: false,
            },
        ],
        footer: footer(
            c,
            &notes,
            &[
                "Events as % of injections are described only, with no test: injections within a patient are not independent, so a test on them would overstate significance.".to_string(),
                "Reported p (column p): χ² with Yates' correction, or Fisher's exact test when an expected count is below 5; χ² with and without Yates and Fisher are all shown. RD: Wald 95 % CI.".to_string(),
            ],
        ),
    }
}

fn t3(arms: &Arms<'_>, c: &Common) -> Table {
    let mut notes = Notes {
        intervals: true,
        ..Notes::default()
    };
    let [nr, no] = arms.n();
    let [rr, ro] = arms.count(|c| c.target.reached);
    let t = two_by_two(&Table2x2::from_groups(ro, no, rr, nr));
    let p = notes.p2(
        "Reached the target dose",
        &t,
        [OMB, RIT],
        ["reached", "not reached"],
    );
    let or = notes.or(&t);
    let days = arms.values(|c| c.target.days.map(|d| d as f64));
    let pd = notes.mwu(&days[0], &days[1]);
    let [sr_r, sr_o] = arms.count(|c| c.status == Status::Stopped);
    let [sa_r, sa_o] = arms.count(|c| c.stopped_after_sr);
    let rows = vec![
        row(
            "Reached the target dose",
            vec![count(rr, nr), count(ro, no), p, or],
        ),
        row(
            "Days to target, median (IQR)",
            vec![summary(&days[0]), summary(&days[1]), pd, Cell::Blank],
        ),
        row(
            "Stopped (any cause)",
            vec![count(sr_r, nr), count(sr_o, no), Cell::Blank, Cell::Blank],
        ),
        row(
            "Stopped after an SR",
            vec![count(sa_r, nr), count(sa_o, no), Cell::Blank, Cell::Blank],
        ),
    ];
    Table {
        id: "T3",
        title: "Completion by arm".into(),
        blocks: vec![Block {
            heading: None,
            columns: arm_columns(arms, &["p", "OR (95 % CI)"]),
            rows,
            notes: vec![],
            intervals_in_text: false,
        }],
        footer: footer(
            c,
            &notes,
            &["Reached: a dose at or above the plan's target (maintenance) dose, or a maintenance dose, was given; days from rush day 1. Denominator: courses completed or stopped.".to_string()],
        ),
    }
}

/// A stratifier of T4: its name, its known levels, and each course's level.
type Stratifier<'r> = (
    &'static str,
    Vec<String>,
    Box<dyn Fn(&CourseFacts) -> String + 'r>,
);

fn stratifiers(i: &ReportIn<'_>) -> Vec<Stratifier<'static>> {
    let r = i.rules;
    let a = r.adult_from_years.value;
    let (slo, shi) = r.sige_labels(6);
    let (lo10, hi10) = r.ratio_band10.labels();
    let mut strata: Vec<String> = i
        .rows
        .iter()
        .map(|c| c.risk_stratum.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    strata.sort_by_key(|s| stratum_rank(s));
    vec![
        (
            "age_group",
            vec![format!("<{a}"), format!(">={a}")],
            Box::new(|c| c.age_group.clone()),
        ),
        (
            "sige_band",
            vec![slo, shi],
            Box::new(|c| c.sige_band.clone()),
        ),
        (
            "ratio_band10",
            vec![lo10, hi10],
            Box::new(|c| c.ratio_band10.clone()),
        ),
        (
            "tige_band",
            r.total_ige_labels(),
            Box::new(|c| c.tige_band.clone()),
        ),
        ("risk_stratum", strata, Box::new(|c| c.risk_stratum.clone())),
    ]
}

fn t4(i: &ReportIn<'_>, arms: &Arms<'_>, c: &Common) -> Table {
    let mut notes = Notes::default();
    let mut blocks = Vec::new();
    let mut unknown_total = BTreeMap::new();
    for (name, known, level_of) in stratifiers(i) {
        let present: BTreeSet<String> = i.rows.iter().map(&level_of).collect();
        let levels = ordered_levels(&known, &present);
        let mut rows = Vec::new();
        let mut strata = Vec::new();
        let mut within_rit = Vec::new();
        let mut block_notes = Vec::new();
        let mut one_arm: Vec<String> = Vec::new();
        let mut same_outcome: Vec<String> = Vec::new();
        let mut stratum_levels: Vec<String> = Vec::new();
        for l in &levels {
            let at = |c: &CourseFacts| level_of(c) == *l;
            let [nr, no] = arms.count(at);
            let [sr, so] = arms.count(|c| at(c) && c.sr.count > 0);
            let censored = i
                .rows
                .iter()
                .filter(|c| c.status == Status::Censored && at(c))
                .count();
            if censored > 0 {
                block_notes.push(format!("{l}: {censored} censored course(s), not counted"));
            }
            let mut cells = vec![
                Cell::N { n: nr },
                count(sr, nr),
                Cell::N { n: no },
                count(so, no),
            ];
            if l == UNKNOWN {
                unknown_total.insert(name, nr + no);
                cells.extend([text("not tested"), Cell::Blank]);
            } else {
                let t = two_by_two(&Table2x2::from_groups(so, no, sr, nr));
                cells.push(notes.p2(&format!("{name} {l}"), &t, [OMB, RIT], [SR, NO_SR]));
                if nr == 0 || no == 0 {
                    // An arm without courses at this level: no odds ratio, no stratum.
                    cells.push(Cell::OddsRatio {
                        or: nc(NotComputable::ZeroMargin),
                        haldane: false,
                    });
                    if nr + no > 0 {
                        one_arm.push(l.clone());
                    }
                } else if so + sr == 0 || so + sr == no + nr {
                    // Every course at this level had the same outcome (no SR in either arm, or
                    // an SR in all): the odds ratio is 0/0, and Haldane's +0.5 would only show
                    // the ratio of the arms' sizes. None, and no stratum.
                    cells.push(Cell::OddsRatio {
                        or: nc(NotComputable::ZeroMargin),
                        haldane: false,
                    });
                    same_outcome.push(l.clone());
                } else {
                    cells.push(notes.or(&t));
                    strata.push(Table2x2::from_groups(so, no, sr, nr));
                    stratum_levels.push(l.clone());
                }
                within_rit.push((l.clone(), [sr, nr.saturating_sub(sr)]));
            }
            rows.push(row(l.clone(), cells));
        }
        // SR vs level within rush alone (rows: levels; columns: SR, no SR).
        let assoc = {
            let kept: Vec<&(String, [u64; 2])> =
                within_rit.iter().filter(|(_, c)| c[0] + c[1] > 0).collect();
            if let [a, b] = kept.as_slice() {
                let t = two_by_two(&Table2x2::new(a.1[0], a.1[1], b.1[0], b.1[1]));
                notes.p2(
                    &format!("{name}, SR vs level within {RIT}"),
                    &t,
                    [a.0.as_str(), b.0.as_str()],
                    [SR, NO_SR],
                )
            } else {
                notes.tests.insert(Test::ChiSquareRxc);
                let table: Vec<Vec<u64>> = kept.iter().map(|(_, c)| c.to_vec()).collect();
                match stats::chi_square_rxc(&table) {
                    Ok(r) => {
                        if r.expected.small_cell {
                            let names: Vec<&str> = kept.iter().map(|(l, _)| l.as_str()).collect();
                            notes.warnings.push(format!(
                                "{name}, SR vs level within {RIT}: expected count below 5 in {} — the r×c χ² is approximate",
                                small_cells(&r.expected, &names, &[SR, NO_SR]).join(", ")
                            ));
                        }
                        Cell::P {
                            test: Test::ChiSquareRxc,
                            p: finite(r.chi2.p),
                        }
                    }
                    Err(e) => Cell::P {
                        test: Test::ChiSquareRxc,
                        p: nc(e),
                    },
                }
            }
        };
        rows.push(row(
            format!("SR vs level, {RIT} alone"),
            vec![
                Cell::Blank,
                Cell::Blank,
                Cell::Blank,
                Cell::Blank,
                assoc,
                Cell::Blank,
            ],
        ));
        notes.tests.insert(Test::BreslowDay);
        notes.tests.insert(Test::MantelHaenszel);
        let (bd, mh_p, mh_or) = match stats::mantel_haenszel(&strata) {
            Ok(m) => {
                if !m.strata_shifted.is_empty() {
                    let names: Vec<&str> = m
                        .strata_shifted
                        .iter()
                        .filter_map(|k| stratum_levels.get(*k))
                        .map(String::as_str)
                        .collect();
                    block_notes.push(format!(
                        "Mantel–Haenszel: 0.5 added to every cell of {} (a zero cell)",
                        names.join(", ")
                    ));
                }
                (
                    num(m.breslow_day.map(|x| x.p)),
                    finite(m.test_null.p),
                    Cell::OddsRatio {
                        or: estimate(m.pooled_or, m.pooled_ci),
                        haldane: false,
                    },
                )
            }
            Err(e) => (
                nc(e),
                nc(e),
                Cell::OddsRatio {
                    or: nc(e),
                    haldane: false,
                },
            ),
        };
        if !one_arm.is_empty() {
            block_notes.push(format!(
                "{}: courses in one arm only — no odds ratio; left out of Breslow–Day and Mantel–Haenszel",
                one_arm.join(", ")
            ));
        }
        if !same_outcome.is_empty() {
            block_notes.push(format!(
                "{}: the same outcome in every course of both arms (no SR, or SR in all) — no odds ratio; left out of Breslow–Day and Mantel–Haenszel",
                same_outcome.join(", ")
            ));
        }
        rows.push(row(
            "Breslow–Day, equal ORs",
            vec![
                Cell::Blank,
                Cell::Blank,
                Cell::Blank,
                Cell::Blank,
                Cell::P {
                    test: Test::BreslowDay,
                    p: bd,
                },
                Cell::Blank,
            ],
        ));
        rows.push(row(
            "Mantel–Haenszel pooled OR",
            vec![
                Cell::Blank,
                Cell::Blank,
                Cell::Blank,
                Cell::Blank,
                Cell::P {
                    test: Test::MantelHaenszel,
                    p: mh_p,
                },
                mh_or,
            ],
        ));
        blocks.push(Block {
            heading: Some(name.to_string()),
            columns: vec![
                "level".into(),
                format!("{RIT} N"),
                "SR n (%)".into(),
                "Omb-pre N".into(),
                "SR n (%)".into(),
                "p".into(),
                "OR (95 % CI)".into(),
            ],
            rows,
            notes: block_notes,
            intervals_in_text: false,
        });
    }
    let mut extra = vec![
        "Per level: the courses with one or more SR, RIT+Omb-pre vs RIT (p, OR); per block: SR vs level within RIT alone, Breslow–Day and the Mantel–Haenszel pooled OR over the known levels.".to_string(),
    ];
    if !unknown_total.is_empty() {
        let u: Vec<String> = unknown_total
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        extra.push(format!(
            "Unknown band (a censored laboratory value either side of an edge), counted and in no test: {}.",
            u.join(", ")
        ));
    }
    Table {
        id: "T4",
        title: "Systemic reactions by stratum and arm".into(),
        blocks,
        footer: footer(c, &notes, &extra),
    }
}

fn t5(arms: &Arms<'_>, c: &Common) -> Table {
    let mut notes = Notes::default();
    let class_of =
        |c: &CourseFacts| (c.sige_class.min == c.sige_class.max).then_some(c.sige_class.min);
    let mut rows = Vec::new();
    let mut per: [Vec<(u64, u64)>; 3] = Default::default();
    for k in 1..=6u8 {
        let at = |c: &CourseFacts| class_of(c) == Some(k);
        let [nr, no] = arms.count(at);
        let [sr, so] = arms.count(|c| at(c) && c.sr.count > 0);
        per[0].push((sr, nr));
        per[1].push((so, no));
        per[2].push((sr + so, nr + no));
        rows.push(row(
            format!("class {k}"),
            vec![
                Cell::N { n: nr },
                count(sr, nr),
                Cell::N { n: no },
                count(so, no),
                Cell::N { n: nr + no },
                count(sr + so, nr + no),
            ],
        ));
    }
    notes.tests.insert(Test::CochranArmitage);
    let trend = |v: &[(u64, u64)]| -> [Cell; 2] {
        match stats::cochran_armitage(v) {
            Ok(z) => [
                Cell::Number { value: finite(z.z) },
                Cell::P {
                    test: Test::CochranArmitage,
                    p: finite(z.p),
                },
            ],
            Err(e) => [
                Cell::Number { value: nc(e) },
                Cell::P {
                    test: Test::CochranArmitage,
                    p: nc(e),
                },
            ],
        }
    };
    let trend_rows = vec![
        row(RIT, trend(&per[0]).to_vec()),
        row(OMB, trend(&per[1]).to_vec()),
        row("Both arms", trend(&per[2]).to_vec()),
    ];
    let [z0, u0] = arms.count(|c| class_of(c) == Some(0) || class_of(c).is_some_and(|k| k > 6));
    let [zu, uu] = arms.count(|c| class_of(c).is_none());
    let mut block_notes = Vec::new();
    if z0 + u0 > 0 {
        block_notes.push(format!(
            "Class 0 (or above 6): {} course(s), not in the trend",
            z0 + u0
        ));
    }
    if zu + uu > 0 {
        block_notes.push(format!(
            "Class unknown (a censored sIgE spanning classes): {} course(s), not in the trend",
            zu + uu
        ));
    }
    Table {
        id: "T5",
        title: "Systemic reactions by mite sIgE class (trend)".into(),
        blocks: vec![
            Block {
                heading: None,
                columns: vec![
                    "sIgE class".into(),
                    format!("{RIT} N"),
                    "SR n (%)".into(),
                    "Omb-pre N".into(),
                    "SR n (%)".into(),
                    "All N".into(),
                    "SR n (%)".into(),
                ],
                rows,
                notes: block_notes,
                intervals_in_text: false,
            },
            Block {
                heading: Some("Cochran–Armitage trend over classes 1-6".into()),
                columns: vec![String::new(), "z".into(), "p".into()],
                rows: trend_rows,
                notes: vec![],
                intervals_in_text: false,
            },
        ],
        footer: footer(c, &notes, &[]),
    }
}

/// A follow-up measure of T6.
struct Measure {
    name: &'static str,
    base: fn(&CourseFacts) -> Option<Decimal>,
    later: fn(&CourseFacts) -> Option<Decimal>,
    delta: fn(&CourseFacts) -> Option<Decimal>,
    mid: bool,
}

/// A group of T6 (a ratio band, or an arm within it) described for one measure.
struct Described {
    /// n with both scores; baseline, 12 m and Δ, median (IQR); MID reached (ACQ); missing.
    cells: Vec<Cell>,
    /// The changes (12 m − baseline).
    deltas: Vec<f64>,
    /// Courses whose change reached the MID.
    reached: u64,
    /// Courses with both scores.
    with_both: u64,
    /// Courses without a 12-month score whose window had not closed by the audit date.
    not_due: usize,
}

/// The cells of `group` for `m`: `due` says whether a course's 12-month window has closed.
fn described(
    m: &Measure,
    group: &[&CourseFacts],
    mid: Decimal,
    due: &dyn Fn(&CourseFacts) -> bool,
) -> Described {
    let both: Vec<&CourseFacts> = group
        .iter()
        .copied()
        .filter(|c| (m.delta)(c).is_some())
        .collect();
    let vals = |f: fn(&CourseFacts) -> Option<Decimal>| -> Vec<f64> {
        both.iter().filter_map(|c| f(c).and_then(dec)).collect()
    };
    let d = vals(m.delta);
    let reached = n64(both
        .iter()
        .filter(|c| (m.delta)(c).is_some_and(|x| x <= -mid))
        .count());
    let nb = n64(both.len());
    let missing = n64(group
        .iter()
        .filter(|c| due(c) && (m.later)(c).is_none())
        .count());
    let not_due = group
        .iter()
        .filter(|c| !due(c) && (m.later)(c).is_none())
        .count();
    Described {
        cells: vec![
            Cell::N { n: nb },
            summary(&vals(m.base)),
            summary(&vals(m.later)),
            summary(&d),
            if m.mid {
                count(reached, nb)
            } else {
                Cell::Blank
            },
            Cell::N { n: missing },
        ],
        deltas: d,
        reached,
        with_both: nb,
        not_due,
    }
}

fn t6(i: &ReportIn<'_>, arms: &Arms<'_>, c: &Common) -> Table {
    let mut notes = Notes::default();
    let r = i.rules;
    let (lo, hi) = r.ratio_band16.labels();
    let all: Vec<&CourseFacts> = arms.rit.iter().chain(&arms.omb).copied().collect();
    let any = all.iter().any(|c| {
        let u = &c.follow_up;
        u.acq_0.is_some()
            || u.acq_12m.is_some()
            || u.med_score_0.is_some()
            || u.med_score_12m.is_some()
    });
    let w = &r.follow_up;
    let mut extra = vec![format!(
        "Follow-up: baseline the latest score up to {} days before rush day 1; 12 m the score nearest {} months after it, ± {} months ({}). Missing at 12 m: the window has closed by the audit date and no score is in it.",
        w.baseline_days_before,
        w.at_months,
        w.tolerance_months,
        cite(&w.provenance)
    )];
    extra.push(format!(
        "MID: a fall of {} ACQ points or more (Δ ≤ −{}) ({}).",
        r.acq_mid.value.normalize(),
        r.acq_mid.value.normalize(),
        cite(&r.acq_mid.provenance)
    ));
    if let Some(m) = i.medication_score {
        extra.push(format!("Medication score: {m}."));
    }
    if !any {
        return Table {
            id: "T6",
            title: format!(
                "Asthma control and medication at 12 months by ratio band ({lo} vs {hi} %)"
            ),
            blocks: vec![Block {
                heading: None,
                columns: vec![],
                rows: vec![],
                notes: vec!["no follow-up recorded".into()],
                intervals_in_text: false,
            }],
            footer: footer(c, &notes, &extra),
        };
    }
    extra.push(format!(
        "By arm: within each ratio band a row for {RIT} alone and one for {OMB}, described only (no test between the arms); the p row compares the bands over both arms."
    ));
    let mid = r.acq_mid.value;
    let due = |c: &CourseFacts| {
        c.rush_day1
            .checked_add_months(Months::new(w.at_months.saturating_add(w.tolerance_months)))
            .is_some_and(|end| end < i.as_of)
    };
    let measures = [
        Measure {
            name: "ACQ",
            base: |c| c.follow_up.acq_0,
            later: |c| c.follow_up.acq_12m,
            delta: |c| c.follow_up.acq_delta,
            mid: true,
        },
        Measure {
            name: "Medication score",
            base: |c| c.follow_up.med_score_0,
            later: |c| c.follow_up.med_score_12m,
            delta: |c| c.follow_up.med_score_delta,
            mid: false,
        },
    ];
    let mut blocks = Vec::new();
    for m in &measures {
        let mut rows = Vec::new();
        let mut deltas: Vec<Vec<f64>> = Vec::new();
        let mut mids: Vec<[u64; 2]> = Vec::new();
        let mut block_notes = Vec::new();
        for band in [lo.clone(), hi.clone(), UNKNOWN.to_string()] {
            let group: Vec<&CourseFacts> = all
                .iter()
                .copied()
                .filter(|c| c.ratio_band16 == band)
                .collect();
            if band == UNKNOWN && group.is_empty() {
                continue;
            }
            let g = described(m, &group, mid, &due);
            if g.not_due > 0 {
                block_notes.push(format!(
                    "{band}: {} course(s) whose 12-month window had not closed by the audit date",
                    g.not_due
                ));
            }
            rows.push(row(format!("ratio {band}"), g.cells));
            // The arms within the band: described only (no test between them).
            for (arm, name) in [(Arm::Rit, RIT), (Arm::RitOmbPre, OMB)] {
                let of_arm: Vec<&CourseFacts> =
                    group.iter().copied().filter(|c| c.arm == arm).collect();
                rows.push(row(
                    format!("  {name}"),
                    described(m, &of_arm, mid, &due).cells,
                ));
            }
            if band != UNKNOWN {
                deltas.push(g.deltas);
                mids.push([g.reached, g.with_both]);
            } else {
                block_notes.push("ratio unknown: counted, in no test".into());
            }
        }
        let (pd, pm) = match (deltas.as_slice(), mids.as_slice()) {
            ([d0, d1], [m0, m1]) => {
                let pd = notes.mwu(d0, d1);
                let pm = if m.mid {
                    let t = two_by_two(&Table2x2::from_groups(m1[0], m1[1], m0[0], m0[1]));
                    notes.p2(
                        &format!("{} MID reached", m.name),
                        &t,
                        [hi.as_str(), lo.as_str()],
                        ["reached", "not reached"],
                    )
                } else {
                    Cell::Blank
                };
                (pd, pm)
            }
            _ => (Cell::Blank, Cell::Blank),
        };
        rows.push(row(
            format!("p, {hi} vs {lo}"),
            vec![Cell::Blank, Cell::Blank, Cell::Blank, pd, pm, Cell::Blank],
        ));
        blocks.push(Block {
            heading: Some(format!(
                "{}: n with both; baseline, 12 m and Δ (12 m − baseline), median (IQR){}; missing at 12 m; each band also by arm",
                m.name,
                if m.mid { "; MID reached, n (%)" } else { "" }
            )),
            columns: vec![
                "group".into(),
                "n".into(),
                "baseline".into(),
                "12 m".into(),
                "Δ".into(),
                if m.mid { "MID".into() } else { String::new() },
                "missing".into(),
            ],
            rows,
            notes: block_notes,
            intervals_in_text: false,
        });
    }
    Table {
        id: "T6",
        title: format!("Asthma control and medication at 12 months by ratio band ({lo} vs {hi} %)"),
        blocks,
        footer: footer(c, &notes, &extra),
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
