//! The outcomes audit's statistics (issue 22; clinical sources §4.2, §5.3, §5.4): 2×2 and r×c
//! χ², Fisher's exact test, odds ratios and risk differences with their intervals, Mann–Whitney U,
//! Mantel–Haenszel and Breslow–Day over strata, the Cochran–Armitage trend test and Wilson
//! intervals, with the χ² and normal distributions they need.
//!
//! Pure: no clock, disk or printing. Counts are `u64`, results `f64`: these are statistics of a
//! record, not dose arithmetic (doses stay exact decimals elsewhere); each function is written to
//! keep its relative error far below the 1e-6 its tests demand against SciPy 1.17 and
//! statsmodels 0.15 (`tests/stats_reference.rs`, `tests/stats/reference.py`).
//!
//! No statistic panics or returns NaN or ∞: what cannot be computed from the counts given (an
//! empty table, a zero margin where the statistic divides by it, no variance) is
//! `Err(NotComputable)`, saying why, for the report to print as "—" with the reason; an unbounded
//! conditional odds ratio or interval end is `None`, not a float ∞.
//!
//! The distributions are written here rather than taken from a crate (`statrs` would add a
//! dependency for two functions): ln Γ by Lanczos, the regularised incomplete gamma by its series
//! and continued fraction, the χ² upper tail and the normal CDF from it; tested against SciPy's
//! values to 1e-10 relative and far into the tails.
//!
//! Not provided: an exact test for r×c tables (χ² with a small-cell flag instead), exact
//! intervals for the Mantel–Haenszel OR, adjustment for multiplicity (the report says "p-values
//! not adjusted for multiplicity").
//!
//! Conventions shared by every 2×2 function: a [`Table2x2`] is `[[a, b], [c, d]]`, rows the two
//! groups compared (the audit: pretreated first, then rush alone; or stratum levels), columns
//! "event" then "no event" (a systemic reaction, target reached, …). The 95 % intervals use
//! z = 1.959963984540054 (the normal's 0.975 quantile, `scipy.stats.norm.ppf(0.975)`).

use std::fmt;

/// The normal's 0.975 quantile: the half-width factor of every 95 % interval here.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// Why a statistic cannot be computed from the counts given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotComputable {
    /// No observations at all.
    Empty,
    /// A row or column total is zero where the statistic divides by it (an expected count of 0).
    ZeroMargin,
    /// The statistic has no variance (every observation alike, every course in one class).
    NoVariance,
    /// Fewer than two strata or classes with data (a test across strata needs two).
    TooFewGroups,
    /// A measurement is NaN or infinite.
    NotFinite,
    /// An exact computation over more than [`EXACT_LIMIT`] observations (never a clinic's audit).
    TooLarge,
}

/// The largest table (total count) the exact 2×2 computations (Fisher, the conditional odds
/// ratio) take: their cost grows with it, and no clinic's record comes near.
pub const EXACT_LIMIT: u64 = 10_000_000;

impl fmt::Display for NotComputable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotComputable::Empty => "no observations",
            NotComputable::ZeroMargin => "a row or column with no observations",
            NotComputable::NoVariance => "no variation in the data",
            NotComputable::TooFewGroups => "fewer than two groups with data",
            NotComputable::NotFinite => "a value that is not a finite number",
            NotComputable::TooLarge => "too many observations for the exact computation",
        })
    }
}

/// A computed statistic or why there is none.
pub type Stat<T> = Result<T, NotComputable>;

/// A 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// A χ² test: statistic, degrees of freedom and upper-tail p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    pub statistic: f64,
    pub df: u64,
    pub p: f64,
}

impl ChiSquare {
    fn new(statistic: f64, df: u64) -> ChiSquare {
        ChiSquare {
            statistic,
            df,
            p: chi2_sf(statistic, df as f64),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------------

/// ln Γ(x) for x > 0: the Lanczos approximation (g = 7, nine coefficients; Press et al.,
/// Numerical Recipes, §6.1, and Godfrey's coefficients), with the reflection formula below 0.5.
/// Relative error about 1e-15. Not finite for x ≤ 0 (never called so here).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Γ(x) Γ(1 − x) = π / sin(πx)
        let s = (std::f64::consts::PI * x).sin();
        return std::f64::consts::PI.ln() - s.abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised upper incomplete gamma function Q(a, x) = Γ(a, x)/Γ(a), a > 0: the series for
/// P = 1 − Q below x = a + 1, the continued fraction (modified Lentz) for Q above (Press et al.,
/// Numerical Recipes, §6.2), so that a small Q keeps its relative accuracy. NaN for a ≤ 0 or a
/// NaN x (the statistics here never pass either).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let prefactor = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        (1.0 - sum * prefactor).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (prefactor * h).clamp(0.0, 1.0)
    }
}

/// The χ² distribution's upper tail P(X ≥ x) with `df` degrees of freedom: Q(df/2, x/2)
/// (`scipy.stats.chi2.sf`). 1 for x ≤ 0.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return 1.0;
    }
    gamma_q(df / 2.0, x / 2.0)
}

/// erfc(y) = Q(1/2, y²) for y ≥ 0, 2 − erfc(−y) below.
fn erfc(y: f64) -> f64 {
    if y >= 0.0 {
        gamma_q(0.5, y * y)
    } else {
        2.0 - gamma_q(0.5, y * y)
    }
}

/// The standard normal's CDF Φ(z) = erfc(−z/√2)/2 (`scipy.stats.norm.cdf`, `scipy.special.ndtr`),
/// accurate in relative terms far into the lower tail. NaN for a NaN z (never passed here).
pub fn normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Two-sided normal p-value 2·Φ(−|z|), at most 1.
fn two_sided_normal(z: f64) -> f64 {
    (2.0 * normal_cdf(-z.abs())).min(1.0)
}

// ---------------------------------------------------------------------------------------------
// 2×2 tables
// ---------------------------------------------------------------------------------------------

/// A 2×2 table `[[a, b], [c, d]]`: rows the groups compared, columns event / no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Table2x2 {
    pub a: u64,
    pub b: u64,
    pub c: u64,
    pub d: u64,
}

impl Table2x2 {
    pub fn new(a: u64, b: u64, c: u64, d: u64) -> Table2x2 {
        Table2x2 { a, b, c, d }
    }

    /// The table from each group's events and total (`events ≤ total`; a larger count is taken
    /// as the total, so that no cell is negative).
    pub fn from_groups(events1: u64, total1: u64, events2: u64, total2: u64) -> Table2x2 {
        Table2x2 {
            a: events1,
            b: total1.saturating_sub(events1),
            c: events2,
            d: total2.saturating_sub(events2),
        }
    }

    fn n(&self) -> u64 {
        self.a
            .saturating_add(self.b)
            .saturating_add(self.c)
            .saturating_add(self.d)
    }

    fn cells(&self) -> [f64; 4] {
        [self.a as f64, self.b as f64, self.c as f64, self.d as f64]
    }

    fn rows(&self) -> Vec<Vec<u64>> {
        vec![vec![self.a, self.b], vec![self.c, self.d]]
    }
}

/// Expected counts under independence (row total × column total / n), row by row, and whether
/// any is below 5 (`small_cell`: the report then uses Fisher's exact test and prints a
/// small-cell warning; the usual guideline, SciPy's `chi2_contingency` notes).
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub counts: Vec<Vec<f64>>,
    pub small_cell: bool,
}

/// The expected counts of a table of any size; `Err(Empty)` for no observations.
pub fn expected(rows: &[Vec<u64>]) -> Stat<Expected> {
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let row_totals: Vec<f64> = rows
        .iter()
        .map(|r| r.iter().map(|v| *v as f64).sum())
        .collect();
    let col_totals: Vec<f64> = (0..ncols)
        .map(|j| {
            rows.iter()
                .map(|r| r.get(j).copied().unwrap_or(0))
                .map(|v| v as f64)
                .sum::<f64>()
        })
        .collect();
    let n: f64 = row_totals.iter().sum();
    if n == 0.0 {
        return Err(NotComputable::Empty);
    }
    let counts: Vec<Vec<f64>> = row_totals
        .iter()
        .map(|r| col_totals.iter().map(|c| r * c / n).collect())
        .collect();
    let small_cell = counts.iter().flatten().any(|e| *e < 5.0);
    Ok(Expected { counts, small_cell })
}

/// Pearson's χ² test of independence on a 2×2 table, df = 1, as
/// `scipy.stats.chi2_contingency(table, correction=yates)`: with `yates = true`, Yates'
/// continuity correction (each |observed − expected| reduced by 0.5, but not past 0 — SciPy's
/// rule; SciPy's default for df = 1); with `false`, the uncorrected statistic. `Err(ZeroMargin)`
/// when an expected count is 0 (SciPy refuses such a table), `Err(Empty)` for no observations.
pub fn chi_square_2x2(t: &Table2x2, yates: bool) -> Stat<ChiSquare> {
    pearson(&t.rows(), yates)
}

fn pearson(rows: &[Vec<u64>], yates: bool) -> Stat<ChiSquare> {
    let e = expected(rows)?;
    if e.counts.iter().flatten().any(|x| *x == 0.0) {
        return Err(NotComputable::ZeroMargin);
    }
    let r = rows.len() as u64;
    let c = e.counts.first().map_or(0, Vec::len) as u64;
    let df = r.saturating_sub(1) * c.saturating_sub(1);
    if df == 0 {
        return Err(NotComputable::TooFewGroups);
    }
    let mut stat = 0.0;
    for (row, exp) in rows.iter().zip(&e.counts) {
        for (j, ex) in exp.iter().enumerate() {
            let o = row.get(j).copied().unwrap_or(0) as f64;
            let mut diff = (o - ex).abs();
            if yates && df == 1 {
                diff -= diff.min(0.5);
            }
            stat += diff * diff / ex;
        }
    }
    Ok(ChiSquare::new(stat, df))
}

/// Fisher's exact test, two-sided, as `scipy.stats.fisher_exact(table)` (SciPy 1.17): under the
/// hypergeometric null with both margins fixed, the p-value is the total probability of the
/// tables (values of `a`) whose probability is at most the observed table's, with SciPy's
/// relative tolerance 1e-14 for ties; ties are decided exactly here (equal products of
/// factorials, compared by their prime factorisations), so a symmetric table's mirror is always
/// counted. Probabilities from ln Γ, normalised by their sum. A table with a zero row or column
/// total has p = 1 (SciPy's answer: only one table is possible); `Err(Empty)` for no
/// observations. The odds ratio reported with it is [`odds_ratio`] (the sample OR, as SciPy's
/// `statistic`, with Haldane's correction where SciPy would give ∞ or NaN).
pub fn fisher_exact(t: &Table2x2) -> Stat<f64> {
    let n = t.n();
    if n == 0 {
        return Err(NotComputable::Empty);
    }
    if n > EXACT_LIMIT {
        return Err(NotComputable::TooLarge);
    }
    let r0 = t.a + t.b;
    let r1 = t.c + t.d;
    let c0 = t.a + t.c;
    let c1 = t.b + t.d;
    if r0 == 0 || r1 == 0 || c0 == 0 || c1 == 0 {
        return Ok(1.0);
    }
    let lo = c0.saturating_sub(r1);
    let hi = r0.min(c0);
    // ln of x!(r0−x)!(c0−x)!(r1−c0+x)! (the table's probability is a constant over it).
    let factorials = |x: u64| [x, r0 - x, c0 - x, r1 + x - c0];
    let ln_denominator = |x: u64| -> f64 {
        factorials(x)
            .iter()
            .map(|k| ln_gamma(*k as f64 + 1.0))
            .sum()
    };
    let observed = ln_denominator(t.a);
    let min_ln_den = (lo..=hi).map(ln_denominator).fold(f64::INFINITY, f64::min);
    let mut total = 0.0;
    let mut extreme = 0.0;
    for x in lo..=hi {
        let den = ln_denominator(x);
        let w = (min_ln_den - den).exp();
        total += w;
        // pmf(x) ≤ pmf(observed) ⇔ den(x) ≥ den(observed)
        let included = if x == t.a {
            true
        } else if (den - observed).abs() <= 1e-9 * observed.abs().max(1.0) {
            factorial_products_equal(factorials(x), factorials(t.a)) || den > observed
        } else {
            den > observed
        };
        if included {
            extreme += w;
        }
    }
    Ok((extreme / total).min(1.0))
}

/// Whether the products of the factorials of `lhs` and of `rhs` are equal, exactly: the same
/// exponent of every prime (Legendre's formula).
fn factorial_products_equal(lhs: [u64; 4], rhs: [u64; 4]) -> bool {
    let mut l = lhs;
    let mut r = rhs;
    l.sort_unstable();
    r.sort_unstable();
    if l == r {
        return true;
    }
    let max = l.iter().chain(r.iter()).copied().max().unwrap_or(0);
    let Ok(max) = usize::try_from(max) else {
        return false;
    };
    let mut composite = vec![false; max + 1];
    for p in 2..=max {
        if composite[p] {
            continue;
        }
        let mut m = p * p;
        while m <= max {
            composite[m] = true;
            m += p;
        }
        let legendre = |k: u64| {
            let mut e = 0u64;
            let mut q = k;
            while q > 0 {
                q /= p as u64;
                e += q;
            }
            e
        };
        let el: u64 = l.iter().map(|k| legendre(*k)).sum();
        let er: u64 = r.iter().map(|k| legendre(*k)).sum();
        if el != er {
            return false;
        }
    }
    true
}

/// An odds ratio with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OddsRatio {
    pub estimate: f64,
    pub ci: Interval,
    /// True when a cell was zero and Haldane's correction (+0.5 to every cell) was applied to
    /// the estimate and its interval.
    pub haldane: bool,
}

/// The sample (unconditional) odds ratio ad/bc — SciPy's `fisher_exact` statistic — with Woolf's
/// 95 % interval exp(ln OR ± 1.96·√(1/a + 1/b + 1/c + 1/d)); when any cell is zero, both on the
/// Haldane-corrected table (0.5 added to every cell; Haldane 1956), so the estimate is finite and
/// never 0 or ∞, and `haldane` says so. The conditional MLE (R's `fisher.test`) is
/// [`conditional_odds_ratio`]. `Err(Empty)` for no observations; `Err(ZeroMargin)` when a row
/// or a column is all zero (0/0: no correction makes it an odds ratio).
pub fn odds_ratio(t: &Table2x2) -> Stat<OddsRatio> {
    if t.n() == 0 {
        return Err(NotComputable::Empty);
    }
    let [a, b, c, d] = t.cells();
    // A zero margin (a group without observations, or the same outcome in every one): the odds
    // ratio is 0/0 (SciPy gives NaN), and Haldane's +0.5 would only show the ratio of the other
    // margin's cells.
    if a + b == 0.0 || c + d == 0.0 || a + c == 0.0 || b + d == 0.0 {
        return Err(NotComputable::ZeroMargin);
    }
    let mut cells = t.cells();
    let haldane = cells.contains(&0.0);
    if haldane {
        for c in &mut cells {
            *c += 0.5;
        }
    }
    let [a, b, c, d] = cells;
    let ln_or = a.ln() + d.ln() - b.ln() - c.ln();
    let se = (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt();
    Ok(OddsRatio {
        estimate: ln_or.exp(),
        ci: Interval {
            low: (ln_or - Z_975 * se).exp(),
            high: (ln_or + Z_975 * se).exp(),
        },
        haldane,
    })
}

/// The conditional maximum-likelihood odds ratio with its exact 95 % interval. `None` stands for
/// an unbounded value (+∞: the observed table is the most extreme possible in that direction);
/// no field is ever NaN or ∞.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionalOddsRatio {
    /// The estimate: 0 when `a` is the smallest value the margins allow, `None` (∞) when the
    /// largest.
    pub estimate: Option<f64>,
    pub low: f64,
    /// `None`: no upper limit (∞).
    pub high: Option<f64>,
}

/// The conditional MLE of the odds ratio and its exact ("conditional", Cornfield) 95 % interval,
/// as `scipy.stats.contingency.odds_ratio(table, kind="conditional")` and its
/// `confidence_interval(0.95)` (R's `fisher.test` gives the same): with both margins fixed, `a`
/// follows Fisher's noncentral hypergeometric distribution with parameter ψ; the estimate is the
/// ψ whose mean is the observed `a`, the interval's ends the ψ with P(X ≥ a) = 0.025 and
/// P(X ≤ a) = 0.025 (0 when the sample OR is 0, unbounded when it is ∞). Each ψ is found by
/// bisection on ln ψ to full precision. `Err(ZeroMargin)` for a zero row or column total (SciPy's
/// NaN), `Err(Empty)` for no observations.
pub fn conditional_odds_ratio(t: &Table2x2) -> Stat<ConditionalOddsRatio> {
    let n = t.n();
    if n == 0 {
        return Err(NotComputable::Empty);
    }
    if n > EXACT_LIMIT {
        return Err(NotComputable::TooLarge);
    }
    let r0 = t.a + t.b;
    let r1 = t.c + t.d;
    let c0 = t.a + t.c;
    if r0 == 0 || r1 == 0 || c0 == 0 || c0 == n {
        return Err(NotComputable::ZeroMargin);
    }
    let lo = c0.saturating_sub(r1);
    let hi = r0.min(c0);
    let ln_choose = |n: u64, k: u64| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
    };
    let support: Vec<(f64, f64)> = (lo..=hi)
        .map(|x| (x as f64, ln_choose(r0, x) + ln_choose(r1, c0 - x)))
        .collect();
    let observed = t.a as f64;
    // The distribution at ln ψ = θ: (Σ w, Σ x·w, Σ_{x ≤ a} w, Σ_{x ≥ a} w), w scaled by its largest.
    let moments = |theta: f64| {
        let top = support
            .iter()
            .map(|(x, l)| l + x * theta)
            .fold(f64::NEG_INFINITY, f64::max);
        let (mut total, mut first, mut below, mut above) = (0.0, 0.0, 0.0, 0.0);
        for (x, l) in &support {
            let w = (l + x * theta - top).exp();
            total += w;
            first += x * w;
            if *x <= observed {
                below += w;
            }
            if *x >= observed {
                above += w;
            }
        }
        (total, first, below, above)
    };
    let alpha = 0.025;
    let estimate = if t.a == lo {
        Some(0.0)
    } else if t.a == hi {
        None
    } else {
        Some(solve_increasing(|th| {
            let (total, first, _, _) = moments(th);
            first / total - observed
        }))
    };
    // Sample OR 0 ⇔ a at its lowest; ∞ ⇔ at its highest (all margins positive).
    let low = if t.a == lo {
        0.0
    } else {
        solve_increasing(|th| {
            let (total, _, _, above) = moments(th);
            above / total - alpha
        })
    };
    let high = if t.a == hi {
        None
    } else {
        Some(solve_increasing(|th| {
            let (total, _, below, _) = moments(th);
            alpha - below / total
        }))
    };
    Ok(ConditionalOddsRatio {
        estimate,
        low,
        high,
    })
}

/// The ψ = e^θ where `f(θ)` (increasing in θ) crosses 0: bracketed by doubling ψ away from 1,
/// then bisected on θ until the bracket no longer shrinks.
fn solve_increasing(f: impl Fn(f64) -> f64) -> f64 {
    let step = std::f64::consts::LN_2;
    let at_one = f(0.0);
    if at_one == 0.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = if at_one > 0.0 {
        let mut th = -step;
        let mut steps = 0;
        while f(th) > 0.0 && steps < 2_000 {
            th -= step;
            steps += 1;
        }
        (th, th + step)
    } else {
        let mut th = step;
        let mut steps = 0;
        while f(th) < 0.0 && steps < 2_000 {
            th += step;
            steps += 1;
        }
        (th - step, th)
    };
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

/// A difference with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    pub estimate: f64,
    pub ci: Interval,
}

/// The risk difference a/(a+b) − c/(c+d) with the Wald 95 % interval
/// RD ± 1.96·√(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂) (not clipped to [−1, 1]; of zero width when both
/// risks are 0 or 1). `Err(ZeroMargin)` when a group is empty.
pub fn risk_difference(t: &Table2x2) -> Stat<Difference> {
    let n1 = t.a as f64 + t.b as f64;
    let n2 = t.c as f64 + t.d as f64;
    if n1 == 0.0 && n2 == 0.0 {
        return Err(NotComputable::Empty);
    }
    if n1 == 0.0 || n2 == 0.0 {
        return Err(NotComputable::ZeroMargin);
    }
    let p1 = t.a as f64 / n1;
    let p2 = t.c as f64 / n2;
    let rd = p1 - p2;
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    Ok(Difference {
        estimate: rd,
        ci: Interval {
            low: rd - Z_975 * se,
            high: rd + Z_975 * se,
        },
    })
}

/// Everything the report prints for one 2×2 table.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoByTwo {
    pub table: Table2x2,
    pub expected: Stat<Expected>,
    /// Any expected count below 5: report Fisher's p and a small-cell warning.
    pub small_cell: bool,
    /// Pearson's χ² with Yates' continuity correction.
    pub chi2_yates: Stat<ChiSquare>,
    /// Pearson's χ² without correction.
    pub chi2_uncorrected: Stat<ChiSquare>,
    pub fisher_p: Stat<f64>,
    pub odds_ratio: Stat<OddsRatio>,
    /// The conditional MLE odds ratio with its exact interval (R's `fisher.test`).
    pub conditional_odds_ratio: Stat<ConditionalOddsRatio>,
    pub risk_difference: Stat<Difference>,
}

/// The test a reported 2×2 p-value comes from (for the table's footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test2x2 {
    /// Fisher's exact test, two-sided.
    Fisher,
    /// Pearson's χ² with Yates' continuity correction.
    ChiSquareYates,
    /// Pearson's χ² without correction.
    ChiSquare,
}

impl TwoByTwo {
    /// The p-value to report and its test: Fisher's exact test when any expected count is below
    /// 5 or χ² cannot be computed (clinical sources §5.3: "χ², or Fisher exact when any expected
    /// count is <5"), otherwise χ² with Yates' correction when `yates`, without it otherwise.
    pub fn p_value(&self, yates: bool) -> (Test2x2, Stat<f64>) {
        let chi2 = if yates {
            (Test2x2::ChiSquareYates, &self.chi2_yates)
        } else {
            (Test2x2::ChiSquare, &self.chi2_uncorrected)
        };
        match chi2.1 {
            Ok(c) if !self.small_cell => (chi2.0, Ok(c.p)),
            _ => (Test2x2::Fisher, self.fisher_p),
        }
    }
}

/// All the 2×2 statistics of a table at once.
pub fn two_by_two(t: &Table2x2) -> TwoByTwo {
    let expected = expected(&t.rows());
    TwoByTwo {
        table: *t,
        small_cell: expected.as_ref().is_ok_and(|e| e.small_cell),
        expected,
        chi2_yates: chi_square_2x2(t, true),
        chi2_uncorrected: chi_square_2x2(t, false),
        fisher_p: fisher_exact(t),
        odds_ratio: odds_ratio(t),
        conditional_odds_ratio: conditional_odds_ratio(t),
        risk_difference: risk_difference(t),
    }
}

// ---------------------------------------------------------------------------------------------
// r×c tables
// ---------------------------------------------------------------------------------------------

/// An r×c χ² test and the table it was computed on.
#[derive(Debug, Clone, PartialEq)]
pub struct RxC {
    pub chi2: ChiSquare,
    /// Expected counts of the table tested (empty rows and columns removed) and the small-cell
    /// flag: with small cells the χ² approximation is doubtful and the report says so (no r×c
    /// exact test is provided).
    pub expected: Expected,
    /// Indices of the rows and columns left out because they held no observations.
    pub empty_rows: Vec<usize>,
    pub empty_columns: Vec<usize>,
}

/// Pearson's χ² test of independence on an r×c table (rows: e.g. stratum levels; columns: event
/// / no event), without continuity correction, as `scipy.stats.chi2_contingency(table,
/// correction=False)` on the table with its empty rows and columns removed (a level with no
/// courses says nothing; SciPy would refuse it): df = (r′−1)(c′−1). Fisher's exact test is not
/// offered for r×c: use `expected.small_cell` to warn. `Err(TooFewGroups)` when fewer than two
/// non-empty rows or columns remain, `Err(Empty)` for no observations. Ragged rows are padded
/// with zeros.
pub fn chi_square_rxc(rows: &[Vec<u64>]) -> Stat<RxC> {
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let cell = |i: usize, j: usize| rows.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0);
    let empty_rows: Vec<usize> = (0..rows.len())
        .filter(|i| (0..ncols).all(|j| cell(*i, j) == 0))
        .collect();
    let empty_columns: Vec<usize> = (0..ncols)
        .filter(|j| (0..rows.len()).all(|i| cell(i, *j) == 0))
        .collect();
    let kept: Vec<Vec<u64>> = (0..rows.len())
        .filter(|i| !empty_rows.contains(i))
        .map(|i| {
            (0..ncols)
                .filter(|j| !empty_columns.contains(j))
                .map(|j| cell(i, j))
                .collect()
        })
        .collect();
    if kept.is_empty() {
        return Err(NotComputable::Empty);
    }
    let chi2 = pearson(&kept, false)?;
    let expected = expected(&kept)?;
    Ok(RxC {
        chi2,
        expected,
        empty_rows,
        empty_columns,
    })
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U
// ---------------------------------------------------------------------------------------------

/// How a Mann–Whitney p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MwuMethod {
    /// The exact distribution of U (no ties, a sample of at most 8).
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// A Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: R₁ − n₁(n₁+1)/2 (SciPy's `statistic`).
    pub u1: f64,
    pub p: f64,
    pub method: MwuMethod,
}

/// The Mann–Whitney U test, two-sided, as `scipy.stats.mannwhitneyu(x, y,
/// alternative="two-sided")` with its default `method="auto"` and `use_continuity=True`: exact
/// when there are no ties and either sample has at most 8 values (p = 2·P(U ≥ max(U₁, U₂)) from
/// the exact null distribution, counted exactly as a Gaussian binomial coefficient), otherwise
/// the normal approximation with the tie-corrected variance
/// n₁n₂/12·((n+1) − Σ(t³−t)/(n(n−1))) and continuity correction 0.5; p at most 1. (Beyond
/// 128-bit counts — a sample of some 200 000 against one of 8 — the exact p gives way to the
/// normal one, which `method` says.)
/// `Err(Empty)` when a sample is empty, `Err(NotFinite)` for a NaN or infinite value.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Stat<MannWhitney> {
    if x.is_empty() || y.is_empty() {
        return Err(NotComputable::Empty);
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(NotComputable::NotFinite);
    }
    let n1 = x.len();
    let n2 = y.len();
    let n = n1 + n2;
    // Average ranks, and the sizes of the groups of ties.
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|p, q| p.0.total_cmp(&q.0));
    let mut r1 = 0.0;
    let mut tie_term = 0.0;
    let mut ties = false;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        r1 += rank * all[i..=j].iter().filter(|v| v.1).count() as f64;
        if t > 1.0 {
            ties = true;
            tie_term += t * t * t - t;
        }
        i = j + 1;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let u = u1.max(u2);
    // U is an integer when there are no ties.
    let exact_sf = if !ties && (n1 <= 8 || n2 <= 8) {
        mwu_exact_sf(n1, n2, u.round() as usize)
    } else {
        None
    };
    let exact = exact_sf.is_some();
    let p = if let Some(sf) = exact_sf {
        2.0 * sf
    } else {
        let nf = n as f64;
        let var = f1 * f2 / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
        let s = var.max(0.0).sqrt();
        let numerator = u - f1 * f2 / 2.0 - 0.5;
        if s == 0.0 {
            // Every value tied: SciPy's z is −∞ (or NaN), its p clipped to 1.
            1.0
        } else {
            2.0 * normal_cdf(-(numerator / s))
        }
    };
    Ok(MannWhitney {
        u1,
        p: p.clamp(0.0, 1.0),
        method: if exact {
            MwuMethod::Exact
        } else {
            MwuMethod::Asymptotic
        },
    })
}

/// P(U ≥ u) under the null for samples of sizes n1 and n2 without ties. By symmetry it is
/// P(U ≤ mk − u) (m ≤ k the two sizes), and the number of arrangements with U = v is the
/// coefficient of q^v in the Gaussian binomial [m+k choose m]_q = Π_{i=1..m} (1 − q^{k+i})/(1 − q^i),
/// computed exactly in 128-bit integers up to degree mk − u (O(m·(mk − u)) steps) and divided by
/// C(m+k, m). `None` should a count not fit in 128 bits (a sample of hundreds of thousands).
fn mwu_exact_sf(n1: usize, n2: usize, u: usize) -> Option<f64> {
    let (m, k) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
    let max_u = m * k;
    if u > max_u {
        return Some(0.0);
    }
    let v_max = max_u - u;
    let (count, total) = gaussian_binomial_cdf(m, k, v_max)?;
    Some((count as f64 / total as f64).min(1.0))
}

/// Σ_{v ≤ v_max} [coefficient of q^v in [m+k choose m]_q] and C(m+k, m), exactly; `None` on
/// overflow.
fn gaussian_binomial_cdf(m: usize, k: usize, v_max: usize) -> Option<(i128, i128)> {
    let mut poly = vec![0i128; v_max + 1];
    poly[0] = 1;
    let mut total: i128 = 1;
    for i in 1..=m {
        // × (1 − q^{k+i}), from the top so that each term uses the old coefficients.
        let up = k + i;
        for v in (up..=v_max).rev() {
            poly[v] = poly[v].checked_sub(poly[v - up])?;
        }
        // ÷ (1 − q^i) = × (1 + q^i + q^{2i} + …), from the bottom.
        for v in i..=v_max {
            poly[v] = poly[v].checked_add(poly[v - i])?;
        }
        // C(k+i, i) = C(k+i−1, i−1)·(k+i)/i, exact at each step.
        total = total.checked_mul(i128::try_from(k + i).ok()?)? / i128::try_from(i).ok()?;
    }
    let mut sum: i128 = 0;
    for c in &poly {
        sum = sum.checked_add(*c)?;
    }
    Some((sum, total))
}

/// P(U ≤ v_max) for sizes m ≤ k (the tests' cross-check of [`gaussian_binomial_cdf`]) by the
/// recursion on probabilities
/// p(m, k, v) = m/(m+k)·p(m−1, k, v−k) + k/(m+k)·p(m, k−1, v) (the largest value is in the first
/// sample or the second), truncated at v_max: O(m·k·v_max) steps.
#[cfg(test)]
fn mwu_exact_cdf_float(m: usize, k: usize, v_max: usize) -> f64 {
    // prev[mm][v] = p(mm, kk−1, v); cur[mm][v] = p(mm, kk, v).
    let mut prev: Vec<Vec<f64>> = vec![vec![0.0; v_max + 1]; m + 1];
    for row in prev.iter_mut() {
        row[0] = 1.0; // k = 0: U = 0 surely
    }
    for kk in 1..=k {
        let mut cur: Vec<Vec<f64>> = vec![vec![0.0; v_max + 1]; m + 1];
        cur[0][0] = 1.0;
        for mm in 1..=m {
            let total = (mm + kk) as f64;
            let wa = mm as f64 / total;
            let wb = kk as f64 / total;
            for v in 0..=v_max.min(mm * kk) {
                let from_first = if v >= kk { cur[mm - 1][v - kk] } else { 0.0 };
                cur[mm][v] = wa * from_first + wb * prev[mm][v];
            }
        }
        prev = cur;
    }
    prev[m].iter().sum::<f64>().min(1.0)
}

// ---------------------------------------------------------------------------------------------
// Strata: Mantel–Haenszel, Breslow–Day
// ---------------------------------------------------------------------------------------------

/// Mantel–Haenszel and Breslow–Day over 2×2 strata.
#[derive(Debug, Clone, PartialEq)]
pub struct MantelHaenszel {
    /// The pooled (Mantel–Haenszel) odds ratio Σ(ad/n) / Σ(bc/n).
    pub pooled_or: f64,
    /// Its 95 % interval from the Robins–Breslow–Greenland variance of ln OR.
    pub pooled_ci: Interval,
    /// The Cochran–Mantel–Haenszel test that every stratum's OR is 1, without continuity
    /// correction, df = 1.
    pub test_null: ChiSquare,
    /// The same with continuity correction (|Σ(a − E a)| − 0.5)².
    pub test_null_corrected: ChiSquare,
    /// Breslow–Day test that the strata's ORs are equal, df = strata − 1 (without Tarone's
    /// adjustment); `Err(TooFewGroups)` with one stratum.
    pub breslow_day: Stat<ChiSquare>,
    /// Breslow–Day with Tarone's adjustment.
    pub breslow_day_tarone: Stat<ChiSquare>,
    /// Indices (into the input) of the strata used: those with at least one observation.
    pub strata_used: Vec<usize>,
    /// Indices of the strata that had a zero cell and were shifted by 0.5.
    pub strata_shifted: Vec<usize>,
}

/// Mantel–Haenszel pooled odds ratio with the Robins–Breslow–Greenland (1986) 95 % interval, the
/// Mantel–Haenszel test of null odds (with and without continuity correction) and the
/// Breslow–Day test of homogeneous odds ratios (with and without Tarone's adjustment), as
/// statsmodels 0.15 `StratifiedTable(tables, shift_zeros=True)`: `oddsratio_pooled`,
/// `oddsratio_pooled_confint()`, `test_null_odds(correction)`, `test_equal_odds(adjust)`.
///
/// Convention for sparse strata: a stratum with no observations is left out (listed by
/// `strata_used`); a stratum with any zero cell has 0.5 added to all four of its cells
/// (statsmodels' `shift_zeros=True`; listed by `strata_shifted`), so that every stratum has
/// n ≥ 2 and no term divides by zero, and the pooled OR is finite and positive. p-values are
/// χ² upper tails (statsmodels computes 1 − CDF, equal to within 1e-16 absolute).
/// `Err(Empty)` when no stratum has observations.
pub fn mantel_haenszel(strata: &[Table2x2]) -> Stat<MantelHaenszel> {
    let mut used = Vec::new();
    let mut shifted = Vec::new();
    let mut tables: Vec<[f64; 4]> = Vec::new();
    for (i, t) in strata.iter().enumerate() {
        if t.n() == 0 {
            continue;
        }
        used.push(i);
        let mut cells = t.cells();
        if cells.contains(&0.0) {
            shifted.push(i);
            for c in &mut cells {
                *c += 0.5;
            }
        }
        tables.push(cells);
    }
    if tables.is_empty() {
        return Err(NotComputable::Empty);
    }
    let mut ad_n = 0.0;
    let mut bc_n = 0.0;
    for [a, b, c, d] in &tables {
        let n = a + b + c + d;
        ad_n += a * d / n;
        bc_n += b * c / n;
    }
    let pooled_or = ad_n / bc_n;
    // Robins–Breslow–Greenland: with P = (a+d)/n, Q = (b+c)/n, R = ad/n, S = bc/n,
    // var ln OR = ΣPR/(2(ΣR)²) + Σ(PS+QR)/(2ΣRΣS) + ΣQS/(2(ΣS)²).
    let (mut pr, mut ps_qr, mut qs) = (0.0, 0.0, 0.0);
    for [a, b, c, d] in &tables {
        let n = a + b + c + d;
        let p = (a + d) / n;
        let q = 1.0 - p;
        let r = a * d / n;
        let s = b * c / n;
        pr += p * r;
        ps_qr += p * s + q * r;
        qs += q * s;
    }
    let var = (pr / (ad_n * ad_n) + ps_qr / (ad_n * bc_n) + qs / (bc_n * bc_n)) / 2.0;
    let se = var.sqrt();
    let ln_or = pooled_or.ln();
    let pooled_ci = Interval {
        low: (ln_or - Z_975 * se).exp(),
        high: (ln_or + Z_975 * se).exp(),
    };
    // The test of null odds.
    let mut deviation = 0.0;
    let mut variance = 0.0;
    for [a, b, c, d] in &tables {
        let n = a + b + c + d;
        let (apb, apc, bpd, cpd) = (a + b, a + c, b + d, c + d);
        deviation += a - apb * apc / n;
        variance += apb * apc * bpd * cpd / (n * n * (n - 1.0));
    }
    let dev = deviation.abs();
    let test_null = ChiSquare::new(dev * dev / variance, 1);
    let corrected = dev - 0.5;
    let test_null_corrected = ChiSquare::new(corrected * corrected / variance, 1);
    let (breslow_day, breslow_day_tarone) = breslow_day(&tables, pooled_or);
    Ok(MantelHaenszel {
        pooled_or,
        pooled_ci,
        test_null,
        test_null_corrected,
        breslow_day,
        breslow_day_tarone,
        strata_used: used,
        strata_shifted: shifted,
    })
}

/// Breslow–Day (and Tarone-adjusted) statistics: for each stratum the expected first cell e
/// under the common OR r solves (1−r)e² + (r(a+b+a+c) + d − a)e − r(a+b)(a+c) = 0 (the root
/// statsmodels takes, computed without cancellation), its variance
/// 1/(1/e + 1/(a+c−e) + 1/(a+b−e) + 1/(d−a+e)); the statistic Σ(a−e)²/v, Tarone subtracting
/// (Σa − Σe)²/Σv; df = strata − 1.
fn breslow_day(tables: &[[f64; 4]], r: f64) -> (Stat<ChiSquare>, Stat<ChiSquare>) {
    if tables.len() < 2 {
        return (
            Err(NotComputable::TooFewGroups),
            Err(NotComputable::TooFewGroups),
        );
    }
    let mut stat = 0.0;
    let mut sum_a = 0.0;
    let mut sum_e = 0.0;
    let mut sum_v = 0.0;
    for [a, b, c, d] in tables {
        let (apb, apc, dma) = (a + b, a + c, d - a);
        let qa = 1.0 - r;
        let qb = r * (apb + apc) + dma;
        let qc = -r * apb * apc;
        let disc = (qb * qb - 4.0 * qa * qc).max(0.0).sqrt();
        let e = if qb > 0.0 {
            2.0 * qc / (-qb - disc)
        } else {
            (-qb + disc) / (2.0 * qa)
        };
        let v = 1.0 / (1.0 / e + 1.0 / (apc - e) + 1.0 / (apb - e) + 1.0 / (dma + e));
        if !(v.is_finite() && v > 0.0) {
            return (
                Err(NotComputable::NoVariance),
                Err(NotComputable::NoVariance),
            );
        }
        stat += (a - e) * (a - e) / v;
        sum_a += a;
        sum_e += e;
        sum_v += v;
    }
    let df = tables.len() as u64 - 1;
    let tarone = stat - (sum_a - sum_e) * (sum_a - sum_e) / sum_v;
    (Ok(ChiSquare::new(stat, df)), Ok(ChiSquare::new(tarone, df)))
}

// ---------------------------------------------------------------------------------------------
// Trend, proportions
// ---------------------------------------------------------------------------------------------

/// A z test with its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZTest {
    pub z: f64,
    pub p: f64,
}

/// The Cochran–Armitage test for trend in proportions across ordered classes, `classes[i] =
/// (events, total)` with scores 1, 2, …, k in the order given: T = Σ tᵢ(rᵢ − nᵢp̄), with
/// p̄ = R/N, Var T = p̄(1−p̄)·(Σnᵢtᵢ² − (Σnᵢtᵢ)²/N) (the usual form, N in the denominator;
/// Armitage 1955, Agresti, Categorical Data Analysis §5.3.5), z = T/√Var, p = 2Φ(−|z|). An empty
/// class contributes nothing but keeps its score. `Err(Empty)` for no courses, `Err(NoVariance)`
/// when every course had the event, none did, or all are in one class. Events above a class's
/// total are taken as the total.
pub fn cochran_armitage(classes: &[(u64, u64)]) -> Stat<ZTest> {
    let n: f64 = classes.iter().map(|c| c.1 as f64).sum();
    if n == 0.0 {
        return Err(NotComputable::Empty);
    }
    let r: f64 = classes.iter().map(|c| c.0.min(c.1) as f64).sum();
    let pbar = r / n;
    let mut t_stat = 0.0;
    let mut snt = 0.0;
    let mut sntt = 0.0;
    for (i, (events, total)) in classes.iter().enumerate() {
        let score = (i + 1) as f64;
        let ni = *total as f64;
        let ri = (*events).min(*total) as f64;
        t_stat += score * (ri - ni * pbar);
        snt += ni * score;
        sntt += ni * score * score;
    }
    let spread = sntt - snt * snt / n;
    let var = pbar * (1.0 - pbar) * spread;
    if var.is_nan() || var <= 0.0 || spread.abs() < 1e-9 * sntt {
        return Err(NotComputable::NoVariance);
    }
    let z = t_stat / var.sqrt();
    Ok(ZTest {
        z,
        p: two_sided_normal(z),
    })
}

/// The Wilson score 95 % interval for `count` events in `n`, as statsmodels
/// `proportion_confint(count, n, method="wilson")`: centre (p̂ + z²/2n)/(1 + z²/n), half-width
/// z·√(p̂(1−p̂)/n + z²/4n²)/(1 + z²/n); clipped to [0, 1] (only rounding reaches past). `Err(Empty)`
/// for n = 0; a count above n is taken as n.
pub fn wilson(count: u64, n: u64) -> Stat<Interval> {
    if n == 0 {
        return Err(NotComputable::Empty);
    }
    let nf = n as f64;
    let p = count.min(n) as f64 / nf;
    let z2 = Z_975 * Z_975;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z_975 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    Ok(Interval {
        low: (centre - half).clamp(0.0, 1.0),
        high: (centre + half).clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()) || (a - b).abs() <= 1e-15
    }

    #[test]
    fn distributions_match_known_values() {
        // Φ(−1.96) = 0.024997895148220435; Φ(−8) = 6.22096057427174e-16.
        assert!(close(normal_cdf(-1.96), 0.024_997_895_148_220_435, 1e-12));
        assert!(close(normal_cdf(-8.0), 6.220_960_574_271_74e-16, 1e-10));
        assert!(close(normal_cdf(0.0), 0.5, 1e-15));
        assert!(close(normal_cdf(1.0), 0.841_344_746_068_542_9, 1e-13));
        // χ²(1) upper tail at 3.841458820694124 is 0.05; χ²(5) at 20 is 0.0012497305630313773.
        assert!(close(chi2_sf(3.841_458_820_694_124, 1.0), 0.05, 1e-12));
        assert!(close(
            chi2_sf(20.0, 5.0),
            0.001_249_730_563_031_377_3,
            1e-10
        ));
        assert_eq!(chi2_sf(0.0, 3.0), 1.0);
        assert_eq!(chi2_sf(-1.0, 3.0), 1.0);
        // ln Γ(0.5) = ln √π, ln Γ(10) = ln 362880.
        assert!(close(ln_gamma(0.5), 0.5 * std::f64::consts::PI.ln(), 1e-14));
        assert!(close(ln_gamma(10.0), 362_880f64.ln(), 1e-14));
    }

    #[test]
    fn fisher_on_a_symmetric_table_counts_its_mirror() {
        // [[3,1],[1,3]]: tables a = 0, 1, 3, 4 are at most as likely: (1+16+16+1)/70.
        let p = fisher_exact(&Table2x2::new(3, 1, 1, 3)).expect("computable");
        assert!(close(p, 34.0 / 70.0, 1e-12), "{p}");
        assert!(close(p, 0.485_714_285_714_285_7, 1e-12));
        // The tea-tasting table's one-sided mass doubled: [[1,9],[11,3]] p = 0.002759456...
        let p = fisher_exact(&Table2x2::new(1, 9, 11, 3)).expect("computable");
        assert!(close(p, 0.002_759_456_185_220_083, 1e-9), "{p}");
    }

    #[test]
    fn fisher_with_a_zero_margin_is_one_and_an_empty_table_is_not_computable() {
        assert_eq!(fisher_exact(&Table2x2::new(0, 0, 3, 4)), Ok(1.0));
        assert_eq!(fisher_exact(&Table2x2::new(2, 0, 3, 0)), Ok(1.0));
        assert_eq!(
            fisher_exact(&Table2x2::default()),
            Err(NotComputable::Empty)
        );
        assert_eq!(fisher_exact(&Table2x2::new(1, 0, 0, 0)), Ok(1.0));
    }

    #[test]
    fn a_zero_cell_gives_a_finite_haldane_odds_ratio() {
        let or = odds_ratio(&Table2x2::new(0, 10, 5, 5)).expect("computable");
        assert!(or.haldane);
        // (0.5·5.5)/(10.5·5.5) = 0.5/10.5
        assert!(close(or.estimate, 0.5 / 10.5, 1e-12));
        assert!(or.ci.low > 0.0 && or.ci.high.is_finite() && or.ci.low < or.estimate);
        let or = odds_ratio(&Table2x2::new(2, 3, 4, 5)).expect("computable");
        assert!(!or.haldane);
        assert!(close(or.estimate, 10.0 / 12.0, 1e-12));
        let se = (1.0f64 / 2.0 + 1.0 / 3.0 + 1.0 / 4.0 + 1.0 / 5.0).sqrt();
        assert!(close(
            or.ci.high,
            (10.0f64 / 12.0).ln().exp() * (Z_975 * se).exp(),
            1e-12
        ));
        assert_eq!(odds_ratio(&Table2x2::default()), Err(NotComputable::Empty));
    }

    #[test]
    fn conditional_odds_ratio_matches_scipy_and_its_bounds() {
        // SciPy's documented example: odds_ratio([[7, 15], [58, 472]]) → 3.7836687705553493,
        // interval (1.2514829132266785, 10.363493716701269).
        let c = conditional_odds_ratio(&Table2x2::new(7, 15, 58, 472)).expect("computable");
        assert!(close(
            c.estimate.expect("finite"),
            3.783_668_770_555_349_3,
            1e-9
        ));
        assert!(close(c.low, 1.251_482_913_226_678_5, 1e-8));
        assert!(close(c.high.expect("finite"), 10.363_493_716_701_269, 1e-8));
        // a at its lowest: 0 and a lower limit of 0; at its highest: unbounded.
        let c = conditional_odds_ratio(&Table2x2::new(0, 5, 3, 2)).expect("computable");
        assert_eq!((c.estimate, c.low), (Some(0.0), 0.0));
        assert!(c.high.is_some_and(f64::is_finite));
        let c = conditional_odds_ratio(&Table2x2::new(5, 0, 0, 5)).expect("computable");
        assert_eq!((c.estimate, c.high), (None, None));
        assert!(c.low.is_finite() && c.low > 1.0);
        assert_eq!(
            conditional_odds_ratio(&Table2x2::new(0, 0, 3, 4)),
            Err(NotComputable::ZeroMargin)
        );
        assert_eq!(
            conditional_odds_ratio(&Table2x2::default()),
            Err(NotComputable::Empty)
        );
        // A symmetric table: exactly 1 (the mean at ψ = 1 is the observed a).
        let c = conditional_odds_ratio(&Table2x2::new(4, 4, 4, 4)).expect("computable");
        assert!(close(c.estimate.expect("finite"), 1.0, 1e-12));
    }

    #[test]
    fn chi_square_both_ways_and_refusals() {
        // [[10,20],[30,40]]: expected 12,18,28,42; uncorrected χ² = 0.7936507936507936,
        // Yates 0.44642857142857145 (SciPy).
        let t = Table2x2::new(10, 20, 30, 40);
        let plain = chi_square_2x2(&t, false).expect("computable");
        let yates = chi_square_2x2(&t, true).expect("computable");
        assert!(close(plain.statistic, 0.793_650_793_650_793_6, 1e-12));
        assert!(close(yates.statistic, 0.446_428_571_428_571_45, 1e-12));
        assert_eq!(plain.df, 1);
        assert!(yates.p > plain.p);
        assert_eq!(
            chi_square_2x2(&Table2x2::new(0, 0, 3, 4), true),
            Err(NotComputable::ZeroMargin)
        );
        assert_eq!(
            chi_square_2x2(&Table2x2::default(), false),
            Err(NotComputable::Empty)
        );
        let all = two_by_two(&Table2x2::new(1, 0, 0, 0));
        assert!(all.small_cell);
        assert_eq!(all.p_value(true), (Test2x2::Fisher, Ok(1.0)));
        let big = two_by_two(&t);
        assert!(!big.small_cell);
        assert_eq!(big.p_value(true), (Test2x2::ChiSquareYates, Ok(yates.p)));
        assert_eq!(big.p_value(false), (Test2x2::ChiSquare, Ok(plain.p)));
        // A zero margin: 0/0, not an odds ratio (Haldane's +0.5 would only show the other
        // margin's ratio).
        assert_eq!(all.odds_ratio, Err(NotComputable::ZeroMargin));
        assert!(
            two_by_two(&Table2x2::new(0, 121, 0, 20))
                .odds_ratio
                .is_err()
        );
        let one_zero = two_by_two(&Table2x2::new(0, 20, 5, 15));
        assert!(one_zero.odds_ratio.expect("Haldane").haldane);
        assert_eq!(all.risk_difference, Err(NotComputable::ZeroMargin));
    }

    #[test]
    fn rxc_drops_empty_levels_and_flags_small_cells() {
        let rows = vec![vec![5, 10], vec![0, 0], vec![10, 5]];
        let r = chi_square_rxc(&rows).expect("computable");
        assert_eq!(r.empty_rows, vec![1]);
        assert_eq!(r.chi2.df, 1);
        let two = chi_square_2x2(&Table2x2::new(5, 10, 10, 5), false).expect("computable");
        assert!(close(r.chi2.statistic, two.statistic, 1e-14));
        assert!(!r.expected.small_cell);
        assert_eq!(
            chi_square_rxc(&[vec![3, 4]]),
            Err(NotComputable::TooFewGroups)
        );
        assert_eq!(chi_square_rxc(&[]), Err(NotComputable::Empty));
        assert!(
            chi_square_rxc(&[vec![1, 0], vec![0, 1], vec![1, 1]])
                .expect("computable")
                .expected
                .small_cell
        );
    }

    #[test]
    fn mann_whitney_exact_and_asymptotic() {
        // x = 1,2,3 and y = 4,5,6: U1 = 0, exact p = 2/20 = 0.1.
        let r = mann_whitney_u(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).expect("computable");
        assert_eq!(r.method, MwuMethod::Exact);
        assert_eq!(r.u1, 0.0);
        assert!(close(r.p, 0.1, 1e-12));
        // n = 1 each: p = 1.
        assert!(close(
            mann_whitney_u(&[1.0], &[2.0]).expect("ok").p,
            1.0,
            1e-15
        ));
        // Ties: asymptotic; all tied: p = 1.
        let r = mann_whitney_u(&[1.0, 1.0], &[1.0, 1.0]).expect("computable");
        assert_eq!(r.method, MwuMethod::Asymptotic);
        assert_eq!(r.p, 1.0);
        assert_eq!(mann_whitney_u(&[], &[1.0]), Err(NotComputable::Empty));
        assert_eq!(
            mann_whitney_u(&[f64::NAN], &[1.0]),
            Err(NotComputable::NotFinite)
        );
    }

    #[test]
    fn the_exact_u_distribution_two_ways_agrees() {
        for m in 1..=8 {
            for k in m..=12 {
                for v in 0..=m * k {
                    let (count, total) = gaussian_binomial_cdf(m, k, v).expect("fits");
                    let exact = count as f64 / total as f64;
                    let float = mwu_exact_cdf_float(m, k, v);
                    assert!(close(exact, float, 1e-12), "{m} {k} {v}: {exact} {float}");
                }
                let (all, total) = gaussian_binomial_cdf(m, k, m * k).expect("fits");
                assert_eq!(all, total, "every arrangement counted once");
            }
        }
        // 8 against 10 000 without ties: instant, and P(U ≥ 0) = 1, P(U ≥ 80 000) = 1/C(10008, 8).
        assert_eq!(mwu_exact_sf(8, 10_000, 0), Some(1.0));
        let (_, total) = gaussian_binomial_cdf(8, 10_000, 0).expect("fits");
        let tail = mwu_exact_sf(8, 10_000, 80_000).expect("fits");
        assert!(close(tail, 1.0 / total as f64, 1e-12));
        let middle = mwu_exact_sf(8, 10_000, 40_000).expect("fits");
        assert!(middle > 0.5 && middle < 0.51, "{middle}");
    }

    #[test]
    fn mantel_haenszel_of_one_stratum_is_its_odds_ratio() {
        let t = Table2x2::new(4, 6, 2, 8);
        let mh = mantel_haenszel(&[t, Table2x2::default()]).expect("computable");
        assert_eq!(mh.strata_used, vec![0]);
        assert!(close(mh.pooled_or, 32.0 / 12.0, 1e-12));
        assert_eq!(mh.breslow_day, Err(NotComputable::TooFewGroups));
        assert!(mh.test_null_corrected.p > mh.test_null.p);
        // Two identical strata: Breslow–Day statistic 0 (equal odds), p = 1.
        let mh = mantel_haenszel(&[t, t]).expect("computable");
        let bd = mh.breslow_day.expect("computable");
        assert!(bd.statistic.abs() < 1e-12 && bd.p > 0.999_999);
        // A stratum with a zero cell is shifted; nothing is infinite.
        let mh = mantel_haenszel(&[Table2x2::new(0, 5, 3, 2), Table2x2::new(1, 0, 0, 0)])
            .expect("computable");
        assert_eq!(mh.strata_shifted, vec![0, 1]);
        assert!(mh.pooled_or.is_finite() && mh.pooled_ci.high.is_finite());
        assert_eq!(mantel_haenszel(&[]), Err(NotComputable::Empty));
        // A pooled OR of exactly 1 (Breslow–Day's quadratic is linear then).
        let mh = mantel_haenszel(&[Table2x2::new(2, 2, 2, 2), Table2x2::new(3, 3, 3, 3)])
            .expect("computable");
        assert!(close(mh.pooled_or, 1.0, 1e-15));
        assert!(mh.breslow_day.expect("computable").statistic.abs() < 1e-12);
    }

    #[test]
    fn trend_and_wilson() {
        // Events 0/10, 5/10, 10/10: T = Σ t(r − n/2) = −5 + 0 + 15 = 10,
        // Var = 0.25·(10+40+90 − 60²/30) = 0.25·20 = 5, z = 10/√5.
        let t = cochran_armitage(&[(0, 10), (5, 10), (10, 10)]).expect("computable");
        assert!(close(t.z, 10.0 / 5f64.sqrt(), 1e-12));
        // An empty class in the middle keeps the scores.
        let t2 = cochran_armitage(&[(0, 10), (0, 0), (5, 10)]).expect("computable");
        assert!(t2.z > 0.0 && t2.p < 1.0);
        assert_eq!(
            cochran_armitage(&[(0, 10), (0, 5)]),
            Err(NotComputable::NoVariance)
        );
        assert_eq!(
            cochran_armitage(&[(0, 0), (3, 5)]),
            Err(NotComputable::NoVariance)
        );
        assert_eq!(cochran_armitage(&[]), Err(NotComputable::Empty));
        // Wilson for 0/10: [0, 0.2775327998628892] (statsmodels).
        let w = wilson(0, 10).expect("computable");
        assert_eq!(w.low, 0.0);
        assert!(close(w.high, 0.277_532_799_862_889_2, 1e-9));
        assert_eq!(wilson(1, 0), Err(NotComputable::Empty));
    }

    #[test]
    fn huge_counts_neither_panic_nor_hang() {
        let big = u64::MAX / 2;
        let t = Table2x2::new(big, big, big, 1);
        let all = two_by_two(&t);
        assert_eq!(all.fisher_p, Err(NotComputable::TooLarge));
        assert_eq!(all.conditional_odds_ratio, Err(NotComputable::TooLarge));
        assert!(all.odds_ratio.expect("computable").estimate.is_finite());
        assert!(chi_square_rxc(&[vec![u64::MAX, u64::MAX], vec![u64::MAX, 1]]).is_ok());
        assert!(mantel_haenszel(&[t, t]).is_ok());
        assert!(cochran_armitage(&[(u64::MAX, u64::MAX), (0, u64::MAX)]).is_ok());
        assert!(wilson(u64::MAX, u64::MAX).is_ok());
        // A sample of 8 against 300 000 without ties: past 128 bits, the normal p.
        let x: Vec<f64> = (0..8).map(|i| i as f64 + 0.5).collect();
        let y: Vec<f64> = (0..300_000).map(|i| i as f64).collect();
        let r = mann_whitney_u(&x, &y).expect("computable");
        assert_eq!(r.method, MwuMethod::Asymptotic);
        assert!(r.p > 0.0 && r.p <= 1.0);
    }

    fn finite_or_refused<T>(r: &Stat<T>, values: impl Fn(&T) -> Vec<f64>) -> bool {
        match r {
            Ok(v) => values(v).iter().all(|x| x.is_finite()),
            Err(_) => true,
        }
    }

    proptest::proptest! {
        /// Any small table, zeros everywhere included: every statistic is a finite number in
        /// range or `NotComputable`, never NaN, ∞ or a panic.
        #[test]
        fn every_statistic_is_finite_or_refused(
            cells in proptest::collection::vec(0u64..6, 4..=12),
            xs in proptest::collection::vec(-3i32..3, 0..10),
            ys in proptest::collection::vec(-3i32..3, 0..10),
        ) {
            let t = Table2x2::new(cells[0], cells[1], cells[2], cells[3]);
            let all = two_by_two(&t);
            let p_ok = |p: f64| (0.0..=1.0).contains(&p);
            let ok1 = finite_or_refused(&all.chi2_yates, |c| vec![c.statistic, c.p]);
            proptest::prop_assert!(ok1, "check 1 on {:?}", cells);
            let ok2 = finite_or_refused(&all.chi2_uncorrected, |c| vec![c.statistic, c.p]);
            proptest::prop_assert!(ok2, "check 2 on {:?}", cells);
            let ok3 = all.fisher_p.is_err() || all.fisher_p.is_ok_and(p_ok);
            proptest::prop_assert!(ok3, "check 3 on {:?}", cells);
            let ok4 = finite_or_refused(&all.odds_ratio, |o| vec![o.estimate, o.ci.low, o.ci.high]);
            proptest::prop_assert!(ok4, "check 4 on {:?}", cells);
            let ok5 = finite_or_refused(&all.conditional_odds_ratio, |c| {
                vec![c.estimate.unwrap_or(0.0), c.low, c.high.unwrap_or(0.0)]
            });
            proptest::prop_assert!(ok5, "check 5 on {:?}", cells);
            let ok6 = finite_or_refused(&all.risk_difference, |d| vec![d.estimate, d.ci.low, d.ci.high]);
            proptest::prop_assert!(ok6, "check 6 on {:?}", cells);
            let [a, b, c, d] = [cells[0], cells[1], cells[2], cells[3]];
            if a + b > 0 && c + d > 0 && a + c > 0 && b + d > 0 {
                let ok7 = all.odds_ratio.is_ok() && all.fisher_p.is_ok();
                proptest::prop_assert!(ok7, "check 7 on {:?}", cells);
            }
            let rows: Vec<Vec<u64>> = cells.chunks(2).map(<[u64]>::to_vec).collect();
            let ok8 = finite_or_refused(&chi_square_rxc(&rows), |r| vec![r.chi2.statistic, r.chi2.p]);
            proptest::prop_assert!(ok8, "check 8 on {:?}", cells);
            let strata: Vec<Table2x2> = cells
                .chunks_exact(4)
                .map(|c| Table2x2::new(c[0], c[1], c[2], c[3]))
                .collect();
            let mh = mantel_haenszel(&strata);
            let ok9 = finite_or_refused(&mh, |m| {
                let mut v = vec![m.pooled_or, m.pooled_ci.low, m.pooled_ci.high, m.test_null.p, m.test_null_corrected.p];
                if let Ok(b) = m.breslow_day { v.extend([b.statistic, b.p]); }
                if let Ok(b) = m.breslow_day_tarone { v.extend([b.statistic, b.p]); }
                v
            });
            proptest::prop_assert!(ok9, "check 9 on {:?}", cells);
            let classes: Vec<(u64, u64)> = cells.chunks(2).map(|c| (c[0], c[0] + c.get(1).copied().unwrap_or(0))).collect();
            let ok10 = finite_or_refused(&cochran_armitage(&classes), |z| vec![z.z, z.p]);
            proptest::prop_assert!(ok10, "check 10 on {:?}", cells);
            let ok11 = finite_or_refused(&wilson(cells[0], cells[1]), |w| vec![w.low, w.high]);
            proptest::prop_assert!(ok11, "check 11 on {:?}", cells);
            let x: Vec<f64> = xs.iter().map(|v| f64::from(*v)).collect();
            let y: Vec<f64> = ys.iter().map(|v| f64::from(*v)).collect();
            let m = mann_whitney_u(&x, &y);
            let ok12 = m.is_err() || m.is_ok_and(|m| m.u1.is_finite() && p_ok(m.p));
            proptest::prop_assert!(ok12, "check 12 on {:?}", cells);
            proptest::prop_assert_eq!(m.is_err(), x.is_empty() || y.is_empty());
        }
    }

    #[test]
    fn factorial_products_are_compared_exactly() {
        // 3!·1!·1!·3! = 2!·2!·... : a symmetric table's mirror.
        assert!(factorial_products_equal([3, 1, 1, 3], [1, 3, 3, 1]));
        // 4!·1! = 24 = 3!·2!·2!... no: 3!·2!·2! = 24; with zeros as 0! = 1.
        assert!(factorial_products_equal([4, 1, 0, 0], [3, 2, 2, 0]));
        assert!(!factorial_products_equal([4, 1, 0, 0], [3, 2, 1, 0]));
    }
}
