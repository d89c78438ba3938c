#!/usr/bin/env python3
"""Reference values for src/audit/stats.rs from SciPy, statsmodels and numpy.

Usage: reference.py IN.json OUT.json. IN holds the cases that tests/stats_reference.rs generated;
OUT gets, case by case, what the real tools say (null where they give no number: NaN, ∞ or an
error). The conventions of stats.rs are applied here the same way (written out below), so each
number is compared with the one the Rust code computes, to 1e-6 relative.
"""

import json
import math
import sys

import numpy as np
from scipy import stats
from scipy.stats.contingency import odds_ratio
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

Z = stats.norm.ppf(0.975)


def num(x):
    """A finite float, or None."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def two_by_two(cells):
    a, b, c, d = cells
    table = np.array([[a, b], [c, d]])
    out = {}
    for key, correction in (("chi2", False), ("yates", True)):
        try:
            res = stats.chi2_contingency(table, correction=correction)
            out[key] = num(res.statistic)
            out[key + "_p"] = num(res.pvalue)
            out["small_cell"] = bool((res.expected_freq < 5).any())
        except ValueError:
            out[key] = None
            out[key + "_p"] = None
    if table.sum() > 0:
        fisher = stats.fisher_exact(table)
        out["fisher_p"] = num(fisher.pvalue)
    else:
        out["fisher_p"] = None
    # The sample odds ratio: SciPy's statistic and statsmodels' Woolf (normal) interval when no
    # cell is zero; Haldane's +0.5 to every cell (written out) when one is.
    if table.sum() == 0 or (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        # Empty, or a zero margin: the odds ratio is 0/0 (SciPy: NaN); not computable.
        out["or"] = out["or_low"] = out["or_high"] = None
    elif table.min() > 0:
        t = Table2x2(table, shift_zeros=False)
        out["or"] = num(stats.fisher_exact(table).statistic)
        out["or_sm"] = num(t.oddsratio)
        low, high = t.oddsratio_confint(alpha=0.05, method="normal")
        out["or_low"], out["or_high"] = num(low), num(high)
    else:
        h = table + 0.5
        lor = math.log(h[0, 0] * h[1, 1] / (h[0, 1] * h[1, 0]))
        se = math.sqrt((1.0 / h).sum())
        out["or"] = math.exp(lor)
        out["or_low"], out["or_high"] = math.exp(lor - Z * se), math.exp(lor + Z * se)
    # The conditional MLE and its exact interval (∞ and NaN become null).
    res = odds_ratio(table, kind="conditional")
    out["cond_or"] = num(res.statistic)
    if num(res.statistic) is not None or res.statistic == math.inf:
        ci = res.confidence_interval(confidence_level=0.95)
        out["cond_low"], out["cond_high"] = num(ci.low), num(ci.high)
    else:
        out["cond_low"] = out["cond_high"] = None
    n1, n2 = a + b, c + d
    if n1 > 0 and n2 > 0:
        low, high = confint_proportions_2indep(a, n1, c, n2, method="wald", compare="diff")
        out["rd"] = a / n1 - c / n2
        out["rd_low"], out["rd_high"] = num(low), num(high)
    else:
        out["rd"] = out["rd_low"] = out["rd_high"] = None
    return out


def rxc(rows):
    table = np.array(rows, dtype=float)
    # stats.rs: empty rows and columns are left out.
    table = table[table.sum(axis=1) > 0]
    if table.size:
        table = table[:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return {"chi2": None, "p": None, "df": None}
    res = stats.chi2_contingency(table, correction=False)
    return {
        "chi2": num(res.statistic),
        "p": num(res.pvalue),
        "df": int(res.dof),
        "small_cell": bool((res.expected_freq < 5).any()),
    }


def mwu(case):
    x, y = case["x"], case["y"]
    if not x or not y:
        return {"u1": None, "p": None}
    res = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto")
    return {"u1": num(res.statistic), "p": num(res.pvalue)}


def strata(tables):
    # stats.rs: strata with no observations are left out; the rest as statsmodels with
    # shift_zeros=True (0.5 added to each cell of a stratum with a zero cell).
    kept = [np.array([[a, b], [c, d]], dtype=float) for a, b, c, d in tables if a + b + c + d > 0]
    if not kept:
        return {"or": None}
    st = StratifiedTable(kept, shift_zeros=True)
    low, high = st.oddsratio_pooled_confint()
    out = {"or": num(st.oddsratio_pooled), "or_low": num(low), "or_high": num(high)}
    for key, corr in (("null", False), ("null_corrected", True)):
        r = st.test_null_odds(correction=corr)
        out[key] = num(r.statistic)
        # statsmodels' p is 1 − CDF; the upper tail itself keeps small p-values exact.
        out[key + "_p"] = num(stats.chi2.sf(r.statistic, 1))
        out[key + "_p_sm"] = num(r.pvalue)
    if len(kept) >= 2:
        with np.errstate(all="ignore"):
            for key, adjust in (("bd", False), ("bd_tarone", True)):
                r = st.test_equal_odds(adjust=adjust)
                out[key] = num(r.statistic)
                out[key + "_p"] = num(stats.chi2.sf(r.statistic, len(kept) - 1)) if num(r.statistic) is not None else None
    else:
        out["bd"] = out["bd_p"] = out["bd_tarone"] = out["bd_tarone_p"] = None
    return out


def trend(classes):
    # Cochran–Armitage by hand: scores 1..k, Var = p̄(1−p̄)(Σnt² − (Σnt)²/N) (N, not N − 1).
    r = np.array([min(e, n) for e, n in classes], dtype=float)
    n = np.array([n for _, n in classes], dtype=float)
    t = np.arange(1, len(classes) + 1, dtype=float)
    big_n = n.sum()
    if big_n == 0:
        return {"z": None, "p": None}
    pbar = r.sum() / big_n
    stat = (t * (r - n * pbar)).sum()
    var = pbar * (1 - pbar) * ((n * t * t).sum() - (n * t).sum() ** 2 / big_n)
    if not var > 0:
        return {"z": None, "p": None}
    z = stat / math.sqrt(var)
    return {"z": z, "p": num(2 * stats.norm.sf(abs(z)))}


def wilson(case):
    count, n = case
    if n == 0:
        return {"low": None, "high": None}
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    return {"low": num(low), "high": num(high)}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    out = {
        "two_by_two": [two_by_two(c) for c in cases["two_by_two"]],
        "rxc": [rxc(c) for c in cases["rxc"]],
        "mwu": [mwu(c) for c in cases["mwu"]],
        "strata": [strata(c) for c in cases["strata"]],
        "trend": [trend(c) for c in cases["trend"]],
        "wilson": [wilson(c) for c in cases["wilson"]],
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
