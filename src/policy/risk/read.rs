//! The risk rules' TOML reader: one reader per table, then the coverage check.

use rust_decimal::Decimal;

use super::*;
use crate::diag::Diagnostic;
use crate::policy::{Ruled, read_provenance};
use crate::tomlread::{Diags, Table};

const PROV: [&str; 4] = ["source", "evidence", "certainty", "note"];

fn keys<'a>(own: &[&'a str]) -> Vec<&'a str> {
    let mut k = own.to_vec();
    k.extend(PROV);
    k
}

fn ratio_rule(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<RatioRule> {
    let t = doc.sub_table(diags, key, true)?;
    t.only_keys(diags, &keys(&["op", "percent"]));
    let op = t.parsed::<Op>(diags, "op", true, "unknown-op", "<, <=, >, >=");
    let percent = t.decimal(diags, "percent", true);
    let provenance = read_provenance(&t, diags);
    Some(RatioRule {
        op: op?.value,
        percent: percent?.value,
        provenance: provenance?,
    })
}

fn ruled_count(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<Ruled<u32>> {
    let t = doc.sub_table(diags, key, true)?;
    t.only_keys(diags, &keys(&["value"]));
    let value = t.count(diags, "value", true);
    let provenance = read_provenance(&t, diags);
    Some(Ruled {
        value: value?.value,
        provenance: provenance?,
    })
}

fn operations(t: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<Vec<Operation>> {
    let mut out = Vec::new();
    for o in t.tables(diags, key) {
        let op = o.string(diags, "op", true)?;
        let parsed = match op.value.as_str() {
            "observation" => {
                o.only_keys(diags, &["op", "min"]);
                o.count(diags, "min", true)
                    .map(|m| Operation::Observation { min: m.value })
            }
            "min_interval" => {
                o.only_keys(diags, &["op", "min"]);
                o.count(diags, "min", true)
                    .map(|m| Operation::MinInterval { min: m.value })
            }
            "split_increments" => {
                o.only_keys(diags, &["op", "max_factor"]);
                match o.decimal(diags, "max_factor", true) {
                    Some(f) if f.value <= Decimal::ONE => {
                        diags.push(Diagnostic::error(
                            "out-of-range",
                            f.at(),
                            "`max_factor` must be above 1",
                        ));
                        None
                    }
                    f => f.map(|f| Operation::SplitIncrements {
                        max_factor: f.value,
                    }),
                }
            }
            "cap_per_day" => {
                o.only_keys(diags, &["op", "max"]);
                match o.count(diags, "max", true) {
                    Some(m) if m.value == 0 => {
                        diags.push(Diagnostic::error(
                            "out-of-range",
                            m.at(),
                            "`max` must be at least 1",
                        ));
                        None
                    }
                    m => m.map(|m| Operation::CapPerDay { max: m.value }),
                }
            }
            "switch_template" => {
                o.only_keys(diags, &["op", "template"]);
                o.string(diags, "template", true)
                    .map(|t| Operation::SwitchTemplate { template: t.value })
            }
            other => {
                diags.push(
                    Diagnostic::error("unknown-operation", op.at(), format!("unknown planner operation {other:?}"))
                        .with_help("use observation, min_interval, split_increments, cap_per_day or switch_template"),
                );
                None
            }
        };
        out.push(parsed?);
    }
    Some(out)
}

/// Reads a `kind = "risk"` file, checking that the adjustment table covers every case.
pub(in crate::policy) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<RiskRules> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "note",
            "sige_classes",
            "ratio_high_risk",
            "ratio_favourable_response",
            "paediatric_below_years",
            "min_omalizumab_weeks",
            "stratum",
            "default_stratum",
            "contraindication",
            "adjustment",
        ],
    );
    let classes = sige_classes(doc, diags);
    let ratio_high = ratio_rule(doc, diags, "ratio_high_risk");
    let ratio_fav = ratio_rule(doc, diags, "ratio_favourable_response");
    let paediatric = ruled_count(doc, diags, "paediatric_below_years");
    let min_weeks = ruled_count(doc, diags, "min_omalizumab_weeks");

    let strata = strata(doc, diags);
    let default_stratum = default_stratum(doc, diags);

    let contraindications = contraindications(doc, diags);

    let adjustments = adjustments(doc, diags);

    let rules = RiskRules {
        sige_classes: classes?,
        ratio_high_risk: ratio_high?,
        ratio_favourable_response: ratio_fav?,
        paediatric_below_years: paediatric?,
        min_omalizumab_weeks: min_weeks?,
        strata,
        default_stratum: default_stratum?,
        contraindications,
        adjustments,
    };
    check_coverage(&rules, diags);
    Some(rules)
}

/// The `[sige_classes]` table: the class boundaries.
fn sige_classes(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<SigeClasses> {
    let t = doc.sub_table(diags, "sige_classes", true)?;
    t.only_keys(
        diags,
        &keys(&["boundaries_kua_l", "convention", "class_0_warning"]),
    );
    let b = t.decimals(diags, "boundaries_kua_l", true);
    let convention = t.string(diags, "convention", true);
    let class_0_warning = t.string(diags, "class_0_warning", true);
    let provenance = read_provenance(&t, diags);
    let b: Vec<Decimal> = b?.into_iter().map(|x| x.value).collect();
    if b.is_empty() || b.windows(2).any(|w| w[0] >= w[1]) || b[0] <= Decimal::ZERO {
        diags.push(Diagnostic::error(
            "bad-boundaries",
            t.at(),
            "class boundaries must be positive and strictly ascending",
        ));
        return None;
    }
    Some(SigeClasses {
        boundaries: b,
        convention: convention?.value,
        class_0_warning: class_0_warning?.value,
        provenance: provenance?,
    })
}

/// The `[[stratum]]` tables.
fn strata(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<StratumRule> {
    let mut strata = Vec::new();
    for t in doc.tables(diags, "stratum") {
        t.only_keys(diags, &keys(&["id", "caution", "sige_classes", "ratio"]));
        let id = t.string(diags, "id", true);
        let caution = t.count(diags, "caution", true);
        let cls = t.counts(diags, "sige_classes");
        let ratio = t
            .string(diags, "ratio", true)
            .and_then(|r| match r.value.as_str() {
                "high" => Some(RatioCondition::High),
                "not_high" => Some(RatioCondition::NotHigh),
                _ => {
                    diags.push(Diagnostic::error(
                        "unknown-ratio",
                        r.at(),
                        "`ratio` must be \"high\" or \"not_high\"",
                    ));
                    None
                }
            });
        let provenance = read_provenance(&t, diags);
        let cls = match cls.as_deref() {
            Some([a, b]) if a.value <= b.value && b.value <= 255 => {
                Some((a.value as u8, b.value as u8))
            }
            _ => {
                diags.push(Diagnostic::error(
                    "bad-classes",
                    t.at(),
                    format!("{} needs `sige_classes = [from, to]`", t.what),
                ));
                None
            }
        };
        if let (Some(id), Some(caution), Some(cls), Some(ratio), Some(provenance)) =
            (id, caution, cls, ratio, provenance)
        {
            strata.push(StratumRule {
                id: id.value,
                caution: caution.value,
                sige_classes: cls,
                ratio,
                provenance,
            });
        }
    }
    strata
}

/// The `[default_stratum]` table.
fn default_stratum(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<DefaultStratum> {
    let t = doc.sub_table(diags, "default_stratum", true)?;
    t.only_keys(diags, &keys(&["id", "caution"]));
    let id = t.string(diags, "id", true);
    let caution = t.count(diags, "caution", true);
    let provenance = read_provenance(&t, diags);
    Some(DefaultStratum {
        id: id?.value,
        caution: caution?.value,
        provenance: provenance?,
    })
}

/// The `[[contraindication]]` tables.
fn contraindications(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<Contraindication> {
    let mut contraindications = Vec::new();
    for t in doc.tables(diags, "contraindication") {
        t.only_keys(
            diags,
            &keys(&[
                "id",
                "fev1_below_percent",
                "age_group",
                "beta_blocker",
                "asthma",
                "block",
                "reason",
            ]),
        );
        let id = t.string(diags, "id", true);
        let fev1 = t.decimal(diags, "fev1_below_percent", false);
        let age = t.parsed::<AgeGroup>(
            diags,
            "age_group",
            false,
            "unknown-age-group",
            "paediatric, adult",
        );
        let bb = t.boolean(diags, "beta_blocker");
        let asthma = t.parsed::<AsthmaControl>(
            diags,
            "asthma",
            false,
            "unknown-asthma",
            "controlled, partly, uncontrolled",
        );
        let block = t.boolean(diags, "block");
        let reason = t.string(diags, "reason", true);
        let provenance = read_provenance(&t, diags);
        if fev1.is_none() && bb.is_none() && asthma.is_none() {
            diags.push(Diagnostic::error(
                "empty-condition",
                t.at(),
                format!(
                    "{} has no condition (fev1_below_percent, beta_blocker or asthma)",
                    t.what
                ),
            ));
            continue;
        }
        if block.is_none() {
            diags.push(Diagnostic::error(
                "missing-field",
                t.at(),
                format!("{} is missing `block` (true or false)", t.what),
            ));
        }
        if let (Some(id), Some(block), Some(reason), Some(provenance)) =
            (id, block, reason, provenance)
        {
            contraindications.push(Contraindication {
                id: id.value,
                fev1_below_percent: fev1.map(|f| f.value),
                age_group: age.map(|a| a.value),
                beta_blocker: bb.is_some_and(|b| b.value),
                asthma: asthma.map(|a| a.value),
                block: block.value,
                reason: reason.value,
                provenance,
            });
        }
    }
    contraindications
}

/// The `[[adjustment]]` tables.
fn adjustments(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<AdjustmentRule> {
    let mut adjustments = Vec::new();
    for t in doc.tables(diags, "adjustment") {
        t.only_keys(
            diags,
            &keys(&[
                "stratum",
                "pretreated",
                "age_group",
                "decision",
                "operations",
                "accepted_risk_operations",
            ]),
        );
        let stratum = t.string(diags, "stratum", true);
        let pretreated = t.bool_or_any(diags, "pretreated");
        let age = t.string(diags, "age_group", true).and_then(|a| {
            if a.value == "*" {
                return Some(None);
            }
            match a.value.parse::<AgeGroup>() {
                Ok(g) => Some(Some(g)),
                Err(()) => {
                    diags.push(Diagnostic::error(
                        "unknown-age-group",
                        a.at(),
                        "`age_group` must be paediatric, adult or \"*\"",
                    ));
                    None
                }
            }
        });
        let decision = t
            .string(diags, "decision", true)
            .and_then(|d| match d.value.as_str() {
                "plan" => Some(Decision::Plan),
                "refuse" => Some(Decision::Refuse),
                _ => {
                    diags.push(Diagnostic::error(
                        "unknown-decision",
                        d.at(),
                        "`decision` must be \"plan\" or \"refuse\"",
                    ));
                    None
                }
            });
        let note = t.string(diags, "note", true);
        let ops = operations(&t, diags, "operations");
        let accepted = operations(&t, diags, "accepted_risk_operations");
        let provenance = read_provenance(&t, diags);
        if let (Some(s), Some(p), Some(a), Some(d), Some(n), Some(ops), Some(acc), Some(prov)) = (
            stratum, pretreated, age, decision, note, ops, accepted, provenance,
        ) {
            adjustments.push(AdjustmentRule {
                stratum: (s.value != "*").then_some(s.value),
                pretreated: p.value,
                age_group: a,
                decision: d,
                note: n.value,
                operations: ops,
                accepted_risk_operations: acc,
                provenance: prov,
            });
        }
    }
    adjustments
}

/// Fail closed: every stratum × pretreatment × age group must have an adjustment row, and
/// every row must name a stratum that exists.
fn check_coverage(rules: &RiskRules, diags: &mut Diags) {
    let mut ids: Vec<&str> = rules.strata.iter().map(|s| s.id.as_str()).collect();
    ids.push(&rules.default_stratum.id);
    for a in &rules.adjustments {
        if let Some(s) = &a.stratum
            && !ids.contains(&s.as_str())
        {
            diags.push(Diagnostic::error(
                "unknown-stratum",
                None,
                format!("an adjustment names stratum {s:?}, which is not defined"),
            ));
        }
    }
    for s in &ids {
        for p in [false, true] {
            for g in [AgeGroup::Paediatric, AgeGroup::Adult] {
                if rules.adjustment(s, p, g).is_none() {
                    diags.push(Diagnostic::error(
                        "uncovered-case",
                        None,
                        format!("no adjustment row covers stratum {s:?}, pretreated = {p}, age group {g}"),
                    ));
                }
            }
        }
    }
}
