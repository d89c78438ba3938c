//! The audit's statistics (`src/audit/stats.rs`) against the real tools: many tables and samples
//! generated with a fixed seed (the awkward ones included: zero cells, a zero row, n = 1, ties,
//! small samples without ties, strata with a zero cell or none at all, an empty trend class) are
//! written as JSON, `tests/stats/reference.py` computes each statistic with SciPy, statsmodels
//! and numpy, and every p-value, odds ratio, interval and statistic must agree to 1e-6 relative
//! (1e-12 absolute near 0). Where the tools give no number (an error, NaN or ∞), stats.rs must
//! give `NotComputable` or, where it documents a finite answer instead (Haldane's odds ratio, a
//! Breslow–Day test at a pooled OR of exactly 1), a finite one.
//!
//! Needs python3 with scipy, statsmodels and numpy (`.ci/run` installs them from PyPI): without
//! them the test says so and is skipped, and fails under `RITPLAN_TEST_STRICT` or `CI`.

#[allow(dead_code)]
#[path = "../src/testkit/needs.rs"]
mod needs;

use std::path::Path;
use std::process::Command;

use ritplan::audit::stats::{self, MwuMethod, Table2x2};
use serde_json::{Value, json};

/// splitmix64: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..=max.
    fn upto(&mut self, max: u64) -> u64 {
        self.next() % (max + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Cases {
    two_by_two: Vec<[u64; 4]>,
    rxc: Vec<Vec<Vec<u64>>>,
    mwu: Vec<(Vec<f64>, Vec<f64>)>,
    strata: Vec<Vec<[u64; 4]>>,
    trend: Vec<Vec<(u64, u64)>>,
    wilson: Vec<(u64, u64)>,
}

fn generate() -> Cases {
    let mut rng = Rng(20_261_206);
    // 2×2: the awkward ones by hand, then random tables of small, medium and large counts.
    let mut two_by_two: Vec<[u64; 4]> = vec![
        [3, 1, 1, 3],
        [0, 0, 0, 0],
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
        [0, 0, 3, 4],
        [2, 0, 3, 0],
        [0, 5, 3, 2],
        [5, 0, 0, 5],
        [0, 10, 0, 10],
        [1, 9, 11, 3],
        [30, 2, 3, 30],
        [60, 5, 4, 70],
        [200, 150, 180, 210],
        [7, 7, 7, 7],
        [1000, 10, 5, 900],
    ];
    for i in 0..400 {
        let max = [3, 8, 30, 200][i % 4];
        let mut t = [0u64; 4];
        for c in &mut t {
            *c = rng.upto(max);
        }
        if i % 10 == 0 {
            t[rng.upto(3) as usize] = 0;
        }
        two_by_two.push(t);
    }
    // r×c: 2–6 levels × 2–3 outcomes, some levels empty.
    let mut rxc = vec![
        vec![vec![5, 10], vec![0, 0], vec![10, 5]],
        vec![vec![0, 3], vec![0, 4]],
    ];
    for _ in 0..120 {
        let r = 2 + rng.upto(4) as usize;
        let c = 2 + rng.upto(1) as usize;
        let max = [4, 15, 60][rng.upto(2) as usize];
        let mut rows: Vec<Vec<u64>> = (0..r)
            .map(|_| (0..c).map(|_| rng.upto(max)).collect())
            .collect();
        if rng.upto(4) == 0 {
            let k = rng.upto(r as u64 - 1) as usize;
            rows[k] = vec![0; c];
        }
        rxc.push(rows);
    }
    // Mann–Whitney: continuous values (no ties; exact when a sample has ≤ 8), small integers and
    // ACQ-like sixths (ties: asymptotic), sizes 1 to 40.
    let mut mwu = vec![
        (vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]),
        (vec![1.0], vec![2.0]),
        (vec![1.0, 1.0], vec![1.0, 1.0]),
        (vec![0.5], vec![0.5, 1.0]),
        (vec![3.0; 10], vec![3.0; 12]),
        (
            (0..40).map(|i| i as f64).collect(),
            (0..40).map(|i| i as f64 + 30.5).collect(),
        ),
        (
            (0..8).map(|i| i as f64).collect(),
            (0..60).map(|i| i as f64 + 8.5).collect(),
        ),
        (
            (0..60).map(|i| (i % 7) as f64).collect(),
            (0..50).map(|i| (i % 5) as f64 + 5.0).collect(),
        ),
    ];
    for i in 0..240 {
        let sizes = |rng: &mut Rng| match i % 3 {
            0 => 1 + rng.upto(8) as usize,
            1 => 1 + rng.upto(14) as usize,
            _ => 5 + rng.upto(35) as usize,
        };
        let n1 = sizes(&mut rng);
        let n2 = sizes(&mut rng);
        let kind = (i / 3) % 3;
        let shift = rng.unit() - 0.5;
        let draw = |rng: &mut Rng, off: f64| match kind {
            0 => rng.unit() * 4.0 - 2.0 + off,
            1 => rng.upto(5) as f64,
            _ => (rng.upto(36) as f64 - 18.0) / 6.0,
        };
        let x: Vec<f64> = (0..n1).map(|_| draw(&mut rng, shift)).collect();
        let y: Vec<f64> = (0..n2).map(|_| draw(&mut rng, 0.0)).collect();
        mwu.push((x, y));
    }
    // Strata: 1–5 strata, some with a zero cell, some with no observations.
    let mut strata = vec![
        vec![[4, 6, 2, 8], [0, 0, 0, 0]],
        vec![[2, 2, 2, 2], [3, 3, 3, 3]],
        vec![[0, 5, 3, 2], [1, 0, 0, 0]],
        vec![[0, 0, 0, 0]],
        vec![[10, 20, 5, 40], [8, 12, 3, 30], [15, 5, 6, 9]],
        vec![[40, 5, 6, 50], [30, 4, 5, 45], [2, 40, 35, 3]],
    ];
    for _ in 0..150 {
        let k = 1 + rng.upto(4) as usize;
        let max = [3, 10, 40][rng.upto(2) as usize];
        let tables = (0..k)
            .map(|_| {
                let mut t = [0u64; 4];
                for c in &mut t {
                    *c = rng.upto(max);
                }
                match rng.upto(6) {
                    0 => t[rng.upto(3) as usize] = 0,
                    1 => t = [0; 4],
                    _ => {}
                }
                t
            })
            .collect();
        strata.push(tables);
    }
    // Trend: 2–6 classes, totals 0–40, an empty class now and then.
    let mut trend = vec![
        vec![(0, 10), (5, 10), (10, 10)],
        vec![(0, 10), (0, 0), (5, 10)],
        vec![(0, 10), (0, 5)],
        vec![(0, 0), (3, 5)],
        vec![(1, 1), (0, 1)],
        vec![(1, 100), (10, 100), (30, 100), (60, 100), (90, 100)],
    ];
    for _ in 0..150 {
        let k = 2 + rng.upto(4) as usize;
        let classes = (0..k)
            .map(|_| {
                let total = if rng.upto(5) == 0 { 0 } else { rng.upto(40) };
                (rng.upto(total), total)
            })
            .collect();
        trend.push(classes);
    }
    let mut wilson = vec![
        (0, 10),
        (10, 10),
        (0, 1),
        (1, 1),
        (0, 0),
        (5, 10),
        (1, 10_000),
    ];
    for _ in 0..100 {
        let n = 1 + rng.upto(300);
        wilson.push((rng.upto(n), n));
    }
    Cases {
        two_by_two,
        rxc,
        mwu,
        strata,
        trend,
        wilson,
    }
}

/// Whether python3 has scipy, statsmodels and numpy; otherwise says so (skip), or fails under
/// RITPLAN_TEST_STRICT or CI.
fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import scipy, statsmodels, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    let what = "python3 with scipy, statsmodels and numpy is not available (pip install scipy statsmodels numpy)";
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        !(needs::strict() || ci),
        "{what}; RITPLAN_TEST_STRICT or CI is set, so this is a failure, not a skip"
    );
    eprintln!("skipped: {what}; the statistics were not checked against SciPy and statsmodels");
    false
}

/// Collects every mismatch, so that one run names them all.
#[derive(Default)]
struct Check {
    compared: usize,
    /// p-values below 1e-8 compared (the tails' relative accuracy).
    small_p: usize,
    failures: Vec<String>,
}

impl Check {
    /// `ours` against the tools' `theirs`: equal to 1e-6 relative or 1e-12 absolute; the tools'
    /// null (no number) must meet `NotComputable`, unless `finite_ok` (stats.rs documents a
    /// finite answer there).
    fn num(&mut self, what: &str, ours: Option<f64>, theirs: &Value, finite_ok: bool) {
        match (ours, theirs.as_f64()) {
            (Some(o), Some(t)) => {
                self.compared += 1;
                if what.ends_with(" p") && t > 0.0 && t < 1e-8 {
                    self.small_p += 1;
                }
                let diff = (o - t).abs();
                let close = diff <= 1e-6 * o.abs().max(t.abs()) || diff <= 1e-12;
                if !close {
                    self.failures
                        .push(format!("{what}: ours {o:e}, reference {t:e}"));
                }
            }
            (None, None) => self.compared += 1,
            (Some(o), None) => {
                if !(finite_ok && o.is_finite()) {
                    self.failures
                        .push(format!("{what}: ours {o:e}, the reference has no number"));
                }
            }
            (None, Some(t)) => self
                .failures
                .push(format!("{what}: not computable here, reference {t:e}")),
        }
        if let Some(o) = ours
            && !o.is_finite()
        {
            self.failures.push(format!("{what}: ours is {o}"));
        }
    }
}

#[test]
fn statistics_match_scipy_and_statsmodels() {
    if !python_ready() {
        return;
    }
    let cases = generate();
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("cases.json");
    let output = dir.path().join("reference.json");
    let body = json!({
        "two_by_two": cases.two_by_two,
        "rxc": cases.rxc,
        "mwu": cases.mwu.iter().map(|(x, y)| json!({"x": x, "y": y})).collect::<Vec<_>>(),
        "strata": cases.strata,
        "trend": cases.trend,
        "wilson": cases.wilson,
    });
    std::fs::write(&input, body.to_string()).expect("write cases");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stats/reference.py");
    let run = Command::new("python3")
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .output()
        .expect("run python3");
    assert!(
        run.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(&output).expect("read reference"))
            .expect("reference JSON");
    let mut check = Check::default();

    for (i, cells) in cases.two_by_two.iter().enumerate() {
        let r = &reference["two_by_two"][i];
        let t = Table2x2::new(cells[0], cells[1], cells[2], cells[3]);
        let all = stats::two_by_two(&t);
        let w = |s: &str| format!("2×2 {cells:?} {s}");
        let plain = all.chi2_uncorrected.ok();
        let yates = all.chi2_yates.ok();
        check.num(&w("χ²"), plain.map(|c| c.statistic), &r["chi2"], false);
        check.num(&w("χ² p"), plain.map(|c| c.p), &r["chi2_p"], false);
        check.num(
            &w("Yates χ²"),
            yates.map(|c| c.statistic),
            &r["yates"],
            false,
        );
        check.num(&w("Yates p"), yates.map(|c| c.p), &r["yates_p"], false);
        check.num(&w("Fisher p"), all.fisher_p.ok(), &r["fisher_p"], false);
        let or = all.odds_ratio.ok();
        check.num(&w("OR"), or.map(|o| o.estimate), &r["or"], false);
        check.num(&w("OR low"), or.map(|o| o.ci.low), &r["or_low"], false);
        check.num(&w("OR high"), or.map(|o| o.ci.high), &r["or_high"], false);
        if !r["or_sm"].is_null() {
            check.num(
                &w("OR (statsmodels)"),
                or.map(|o| o.estimate),
                &r["or_sm"],
                false,
            );
        }
        let cond = all.conditional_odds_ratio.ok();
        check.num(
            &w("conditional OR"),
            cond.and_then(|c| c.estimate),
            &r["cond_or"],
            false,
        );
        check.num(
            &w("conditional low"),
            cond.map(|c| c.low),
            &r["cond_low"],
            false,
        );
        check.num(
            &w("conditional high"),
            cond.and_then(|c| c.high),
            &r["cond_high"],
            false,
        );
        let rd = all.risk_difference.ok();
        check.num(&w("RD"), rd.map(|d| d.estimate), &r["rd"], false);
        check.num(&w("RD low"), rd.map(|d| d.ci.low), &r["rd_low"], false);
        check.num(&w("RD high"), rd.map(|d| d.ci.high), &r["rd_high"], false);
        if let Some(small) = r["small_cell"].as_bool()
            && t != Table2x2::default()
        {
            check.compared += 1;
            if small != all.small_cell {
                check
                    .failures
                    .push(w(&format!("small_cell ours {}", all.small_cell)));
            }
        }
    }

    for (i, rows) in cases.rxc.iter().enumerate() {
        let r = &reference["rxc"][i];
        let ours = stats::chi_square_rxc(rows).ok();
        let w = |s: &str| format!("r×c {rows:?} {s}");
        check.num(
            &w("χ²"),
            ours.as_ref().map(|o| o.chi2.statistic),
            &r["chi2"],
            false,
        );
        check.num(&w("p"), ours.as_ref().map(|o| o.chi2.p), &r["p"], false);
        check.num(
            &w("df"),
            ours.as_ref().map(|o| o.chi2.df as f64),
            &r["df"],
            false,
        );
        if let (Some(o), Some(small)) = (&ours, r["small_cell"].as_bool())
            && o.expected.small_cell != small
        {
            check.failures.push(w("small_cell differs"));
        }
    }

    let mut exact = 0;
    for (i, (x, y)) in cases.mwu.iter().enumerate() {
        let r = &reference["mwu"][i];
        let ours = stats::mann_whitney_u(x, y).ok();
        if ours.is_some_and(|o| o.method == MwuMethod::Exact) {
            exact += 1;
        }
        let w = |s: &str| format!("Mann–Whitney {x:?} {y:?} {s}");
        check.num(&w("U1"), ours.map(|o| o.u1), &r["u1"], false);
        check.num(&w("p"), ours.map(|o| o.p), &r["p"], false);
    }

    let mut shifted = 0;
    let mut breslow_day = 0;
    for (i, tables) in cases.strata.iter().enumerate() {
        let r = &reference["strata"][i];
        let strata: Vec<Table2x2> = tables
            .iter()
            .map(|c| Table2x2::new(c[0], c[1], c[2], c[3]))
            .collect();
        let ours = stats::mantel_haenszel(&strata);
        let w = |s: &str| format!("strata {tables:?} {s}");
        let mh = ours.as_ref().ok();
        if mh.is_some_and(|m| !m.strata_shifted.is_empty()) {
            shifted += 1;
        }
        check.num(&w("pooled OR"), mh.map(|m| m.pooled_or), &r["or"], false);
        if mh.is_none() {
            continue;
        }
        check.num(
            &w("OR low"),
            mh.map(|m| m.pooled_ci.low),
            &r["or_low"],
            false,
        );
        check.num(
            &w("OR high"),
            mh.map(|m| m.pooled_ci.high),
            &r["or_high"],
            false,
        );
        check.num(
            &w("MH χ²"),
            mh.map(|m| m.test_null.statistic),
            &r["null"],
            false,
        );
        check.num(&w("MH p"), mh.map(|m| m.test_null.p), &r["null_p"], false);
        check.num(
            &w("MH p (statsmodels' own)"),
            mh.map(|m| m.test_null.p),
            &r["null_p_sm"],
            false,
        );
        check.num(
            &w("MH χ² corrected"),
            mh.map(|m| m.test_null_corrected.statistic),
            &r["null_corrected"],
            false,
        );
        check.num(
            &w("MH p corrected"),
            mh.map(|m| m.test_null_corrected.p),
            &r["null_corrected_p"],
            false,
        );
        let bd = mh.and_then(|m| m.breslow_day.ok());
        let tarone = mh.and_then(|m| m.breslow_day_tarone.ok());
        if bd.is_some() && !r["bd"].is_null() {
            breslow_day += 1;
        }
        // A pooled OR of exactly 1: statsmodels divides by zero; stats.rs solves the linear case.
        check.num(&w("Breslow–Day"), bd.map(|b| b.statistic), &r["bd"], true);
        check.num(&w("Breslow–Day p"), bd.map(|b| b.p), &r["bd_p"], true);
        check.num(
            &w("Tarone"),
            tarone.map(|b| b.statistic),
            &r["bd_tarone"],
            true,
        );
        check.num(&w("Tarone p"), tarone.map(|b| b.p), &r["bd_tarone_p"], true);
    }

    for (i, classes) in cases.trend.iter().enumerate() {
        let r = &reference["trend"][i];
        let ours = stats::cochran_armitage(classes).ok();
        let w = |s: &str| format!("trend {classes:?} {s}");
        check.num(&w("z"), ours.map(|o| o.z), &r["z"], false);
        check.num(&w("p"), ours.map(|o| o.p), &r["p"], false);
    }

    for (i, (count, n)) in cases.wilson.iter().enumerate() {
        let r = &reference["wilson"][i];
        let ours = stats::wilson(*count, *n).ok();
        let w = |s: &str| format!("Wilson {count}/{n} {s}");
        check.num(&w("low"), ours.map(|o| o.low), &r["low"], false);
        check.num(&w("high"), ours.map(|o| o.high), &r["high"], false);
    }

    eprintln!(
        "compared {} numbers ({} p-values below 1e-8): {} 2×2 tables, {} r×c, {} Mann–Whitney ({exact} exact), {} sets of strata ({shifted} with a shifted stratum, {breslow_day} Breslow–Day), {} trends, {} Wilson",
        check.compared,
        check.small_p,
        cases.two_by_two.len(),
        cases.rxc.len(),
        cases.mwu.len(),
        cases.strata.len(),
        cases.trend.len(),
        cases.wilson.len()
    );
    assert!(
        check.failures.is_empty(),
        "{} mismatches:\n{}",
        check.failures.len(),
        check.failures.join("\n")
    );
    // The generated set reaches the awkward paths it is meant to.
    assert!(
        check.small_p >= 20,
        "only {} p-values below 1e-8",
        check.small_p
    );
    assert!(exact >= 40, "only {exact} exact Mann–Whitney cases");
    assert!(
        shifted >= 20,
        "only {shifted} sets of strata with a zero cell"
    );
    assert!(
        breslow_day >= 40,
        "only {breslow_day} Breslow–Day comparisons"
    );
    assert!(
        check.compared > 5_000,
        "only {} numbers compared",
        check.compared
    );
}
