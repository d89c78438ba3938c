//! The audit's definitions (`rules/audit.toml`): the arm rule, the band edges of each
//! stratifier, late systemic and large local reactions, the follow-up windows and the censoring
//! rule, each with its source and evidence. Read like the other rules files: every problem at
//! once, each located in the file. Not part of a course's frozen rules: the audit applies the
//! definitions in force when it runs, and prints them.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::diag::{Diagnostic, SourceText};
use crate::policy::{PolicyError, Provenance, Ruled, read_provenance};
use crate::tomlread::{Diags, Table};

/// The bundled file: (file name, text).
pub const BUNDLED: (&str, &str) = ("audit.toml", include_str!("../../rules/audit.toml"));

/// The `kind` of an audit rules file.
pub const KIND: &str = "audit";

/// The only censoring rule ritplan knows.
pub const CENSOR_UP_DOSING: &str = "up-dosing-at-audit-date";

/// Which side of a ratio edge is the high band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HighFrom {
    /// The edge itself is high (`<10` / `>=10`).
    At,
    /// Only above the edge is high (`<=16` / `>16`).
    Above,
}

/// A ratio band's edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RatioEdge {
    /// The edge, percent.
    pub edge_percent: Decimal,
    /// Which side the edge belongs to.
    pub high_from: HighFrom,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl RatioEdge {
    /// The two band labels, low then high: `<10`, `>=10`; `<=16`, `>16`.
    pub fn labels(&self) -> (String, String) {
        let e = self.edge_percent.normalize();
        match self.high_from {
            HighFrom::At => (format!("<{e}"), format!(">={e}")),
            HighFrom::Above => (format!("<={e}"), format!(">{e}")),
        }
    }
}

/// The follow-up windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowUpWindows {
    /// The baseline: the latest value this many days before rush day 1 or on it.
    pub baseline_days_before: u32,
    /// The later value: this many months after rush day 1.
    pub at_months: u32,
    /// ± months.
    pub tolerance_months: u32,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// The audit's definitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRules {
    /// Pretreated: at least this many omalizumab injections before rush day 1.
    pub arm_doses_before: Ruled<u32>,
    /// Adult from this age (years) at rush day 1.
    pub adult_from_years: Ruled<u32>,
    /// sIgE grade bands: classes 1 to this, and above it.
    pub sige_low_max_class: Ruled<u8>,
    /// The ratio's 10 % bands.
    pub ratio_band10: RatioEdge,
    /// The ratio's 16 % bands.
    pub ratio_band16: RatioEdge,
    /// Total IgE band edges, kU/L, ascending (each opens the next band).
    pub total_ige_edges: Ruled<Vec<Decimal>>,
    /// A systemic reaction is late when its onset is more than this, minutes.
    pub late_sr_after_min: Ruled<u32>,
    /// A local reaction is large from this, mm.
    pub large_local_from_mm: Ruled<u32>,
    /// The follow-up windows.
    pub follow_up: FollowUpWindows,
    /// The censoring rule.
    pub censoring: Ruled<String>,
    /// The ACQ's minimal important difference: a fall of at least this much (ACQ points) from
    /// baseline to 12 months counts as reaching it.
    pub acq_mid: Ruled<Decimal>,
}

impl AuditRules {
    /// The bundled definitions.
    pub fn bundled() -> Result<AuditRules, PolicyError> {
        AuditRules::from_source(crate::policy::bundled_source(BUNDLED))
    }

    /// Reads an audit rules file; every problem is reported.
    pub fn from_source(src: SourceText) -> Result<AuditRules, PolicyError> {
        crate::policy::read_rules_file(src, read)
    }

    /// The definitions in force: the clinic's file when it has one (`audit.toml` from
    /// `--rules DIR`), else the bundled ones. The CLI and the page read them alike: a clinic's
    /// file with errors is an error, never the bundled definitions instead.
    pub fn clinic_or_bundled(clinic: Option<&SourceText>) -> Result<AuditRules, PolicyError> {
        match clinic {
            Some(src) => AuditRules::from_source(src.clone()),
            None => AuditRules::bundled(),
        }
    }

    /// The total-IgE band labels, lowest first: `<100`, `100-<400`, `>=400`.
    pub fn total_ige_labels(&self) -> Vec<String> {
        let e: Vec<Decimal> = self
            .total_ige_edges
            .value
            .iter()
            .map(|d| d.normalize())
            .collect();
        let mut out = Vec::with_capacity(e.len() + 1);
        for (i, edge) in e.iter().enumerate() {
            match i.checked_sub(1).and_then(|p| e.get(p)) {
                None => out.push(format!("<{edge}")),
                Some(prev) => out.push(format!("{prev}-<{edge}")),
            }
        }
        if let Some(last) = e.last() {
            out.push(format!(">={last}"));
        } else {
            out.push("all".into());
        }
        out
    }

    /// The sIgE grade band labels, low then high: `1-2`, `3-6`.
    pub fn sige_labels(&self, max_class: u8) -> (String, String) {
        let k = self.sige_low_max_class.value;
        (
            format!("1-{k}"),
            format!("{}-{max_class}", k.saturating_add(1)),
        )
    }
}

fn ruled<T>(value: Option<T>, provenance: Option<Provenance>) -> Option<Ruled<T>> {
    Some(Ruled {
        value: value?,
        provenance: provenance?,
    })
}

/// A rule's table: its keys checked, its provenance read.
fn section<'a, 'i>(
    doc: &'a Table<'a, 'i>,
    diags: &mut Diags,
    key: &str,
    keys: &[&str],
) -> Option<(Table<'a, 'i>, Option<Provenance>)> {
    let t = doc.sub_table(diags, key, true)?.named(format!("[{key}]"));
    let mut known = vec!["source", "evidence", "certainty"];
    known.extend_from_slice(keys);
    t.only_keys(diags, &known);
    let p = read_provenance(&t, diags);
    Some((t, p))
}

fn ratio_edge(doc: &Table<'_, '_>, diags: &mut Diags, key: &str) -> Option<RatioEdge> {
    let (t, p) = section(doc, diags, key, &["edge_percent", "high_from"])?;
    let edge = t.decimal(diags, "edge_percent", true);
    if let Some(e) = &edge
        && (e.value <= Decimal::ZERO || e.value >= Decimal::ONE_HUNDRED)
    {
        diags.push(Diagnostic::error(
            "out-of-range",
            e.at(),
            format!("[{key}] edge_percent must lie between 0 and 100 %"),
        ));
    }
    let high = t.string(diags, "high_from", true);
    let high_from = match high.as_ref().map(|h| h.value.as_str()) {
        Some("at") => Some(HighFrom::At),
        Some("above") => Some(HighFrom::Above),
        Some(other) => {
            diags.push(
                Diagnostic::error(
                    "unknown-value",
                    high.as_ref().and_then(|h| h.at()),
                    format!("[{key}] high_from {other:?} is neither \"at\" nor \"above\""),
                )
                .with_help("\"at\": the edge is in the high band (<10 / >=10); \"above\": it is in the low band (<=16 / >16)"),
            );
            None
        }
        None => None,
    };
    Some(RatioEdge {
        edge_percent: edge?.value,
        high_from: high_from?,
        provenance: p?,
    })
}

/// Reads the document of a `kind = "audit"` file.
pub fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<AuditRules> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "format",
            "name",
            "note",
            "arm",
            "age",
            "sige_grade",
            "ratio_band10",
            "ratio_band16",
            "total_ige",
            "late_sr",
            "large_local",
            "follow_up",
            "censoring",
            "acq_mid",
        ],
    );
    let kind = doc.string(diags, "kind", true)?;
    if kind.value != KIND {
        diags.push(Diagnostic::error(
            "unknown-kind",
            kind.at(),
            format!(
                "an audit rules file has kind = \"{KIND}\", not {:?}",
                kind.value
            ),
        ));
        return None;
    }
    let format = doc.count(diags, "format", true);
    if let Some(f) = &format
        && f.value != 1
    {
        diags.push(Diagnostic::error(
            "unknown-format",
            f.at(),
            format!(
                "format {} is not known: this ritplan reads format 1",
                f.value
            ),
        ));
    }
    doc.string(diags, "name", true);

    let arm = section(doc, diags, "arm", &["omalizumab_doses_before"]).and_then(|(t, p)| {
        let n = t.count(diags, "omalizumab_doses_before", true);
        if let Some(n) = &n
            && n.value == 0
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                n.at(),
                "[arm] omalizumab_doses_before must be at least 1 (0 would put every course in the pretreated arm)",
            ));
        }
        ruled(n.map(|n| n.value), p)
    });
    let age = section(doc, diags, "age", &["adult_from_years"]).and_then(|(t, p)| {
        let n = t.count(diags, "adult_from_years", true);
        if let Some(n) = &n
            && !(1..=120).contains(&n.value)
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                n.at(),
                "[age] adult_from_years must be 1 to 120",
            ));
        }
        ruled(n.map(|n| n.value), p)
    });
    let sige = section(doc, diags, "sige_grade", &["low_max_class"]).and_then(|(t, p)| {
        let n = t.count(diags, "low_max_class", true);
        let v = match &n {
            Some(n) if (1..=5).contains(&n.value) => u8::try_from(n.value).ok(),
            Some(n) => {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    n.at(),
                    "[sige_grade] low_max_class must be 1 to 5 (the low band is classes 1 to it)",
                ));
                None
            }
            None => None,
        };
        ruled(v, p)
    });
    let r10 = ratio_edge(doc, diags, "ratio_band10");
    let r16 = ratio_edge(doc, diags, "ratio_band16");
    let tige = section(doc, diags, "total_ige", &["edges_ku_l"]).and_then(|(t, p)| {
        let edges = t.decimals(diags, "edges_ku_l", true);
        let v = edges.and_then(|e| {
            let ascending = e.windows(2).all(|w| w[0].value < w[1].value);
            let positive = e.iter().all(|d| d.value > Decimal::ZERO);
            if !ascending || !positive {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    t.at(),
                    "[total_ige] edges_ku_l must be positive and strictly ascending",
                ));
                return None;
            }
            Some(e.into_iter().map(|d| d.value).collect::<Vec<_>>())
        });
        ruled(v, p)
    });
    let late = section(doc, diags, "late_sr", &["after_min"])
        .and_then(|(t, p)| ruled(t.count(diags, "after_min", true).map(|n| n.value), p));
    let large = section(doc, diags, "large_local", &["from_mm"]).and_then(|(t, p)| {
        let n = t.count(diags, "from_mm", true);
        if let Some(n) = &n
            && n.value == 0
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                n.at(),
                "[large_local] from_mm must be above 0 mm",
            ));
        }
        ruled(n.map(|n| n.value), p)
    });
    let follow = section(
        doc,
        diags,
        "follow_up",
        &["baseline_days_before", "at_months", "tolerance_months"],
    )
    .and_then(|(t, p)| {
        let b = t.count(diags, "baseline_days_before", true);
        let m = t.count(diags, "at_months", true);
        let tol = t.count(diags, "tolerance_months", true);
        if let (Some(m), Some(tol)) = (&m, &tol)
            && tol.value >= m.value
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                tol.at(),
                "[follow_up] tolerance_months must be less than at_months (the window would reach rush day 1)",
            ));
        }
        Some(FollowUpWindows {
            baseline_days_before: b?.value,
            at_months: m?.value,
            tolerance_months: tol?.value,
            provenance: p?,
        })
    });
    let censoring = section(doc, diags, "censoring", &["rule"]).and_then(|(t, p)| {
        let r = t.string(diags, "rule", true);
        if let Some(r) = &r
            && r.value != CENSOR_UP_DOSING
        {
            diags.push(Diagnostic::error(
                "unknown-value",
                r.at(),
                format!(
                    "[censoring] rule {:?} is not known: ritplan censors courses still in up-dosing at the audit date (\"{CENSOR_UP_DOSING}\")",
                    r.value
                ),
            ));
            return None;
        }
        ruled(r.map(|r| r.value), p)
    });
    let mid = section(doc, diags, "acq_mid", &["points"]).and_then(|(t, p)| {
        let d = t.decimal(diags, "points", true);
        if let Some(d) = &d
            && (d.value <= Decimal::ZERO || d.value > Decimal::from(6))
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                d.at(),
                "[acq_mid] points must be above 0 and at most 6 (the ACQ's range)",
            ));
            return None;
        }
        ruled(d.map(|d| d.value), p)
    });
    Some(AuditRules {
        arm_doses_before: arm?,
        adult_from_years: age?,
        sige_low_max_class: sige?,
        ratio_band10: r10?,
        ratio_band16: r16?,
        total_ige_edges: tige?,
        late_sr_after_min: late?,
        large_local_from_mm: large?,
        follow_up: follow?,
        censoring: censoring?,
        acq_mid: mid?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_definitions_load_with_their_edges() {
        let r = AuditRules::bundled().expect("bundled audit.toml");
        assert_eq!(r.arm_doses_before.value, 1);
        assert_eq!(r.adult_from_years.value, 18);
        assert_eq!(r.sige_labels(6), ("1-2".to_string(), "3-6".to_string()));
        assert_eq!(r.ratio_band10.labels(), ("<10".into(), ">=10".into()));
        assert_eq!(r.ratio_band16.labels(), ("<=16".into(), ">16".into()));
        assert_eq!(r.total_ige_labels(), vec!["<100", "100-<400", ">=400"]);
        assert_eq!(r.late_sr_after_min.value, 30);
        assert_eq!(r.censoring.value, CENSOR_UP_DOSING);
        assert_eq!(r.acq_mid.value, Decimal::new(5, 1));
        assert_eq!(
            r.acq_mid.provenance.evidence,
            crate::policy::Evidence::Guideline
        );
        assert_eq!(
            r.adult_from_years.provenance.evidence,
            crate::policy::Evidence::Example
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let broken = BUNDLED
            .1
            .replace("high_from = \"at\"", "high_from = \"on\"")
            .replace("edges_ku_l = [100, 400]", "edges_ku_l = [400, 100]")
            .replace("omalizumab_doses_before = 1", "omalizumab_doses_before = 0")
            .replace("rule = \"up-dosing-at-audit-date\"", "rule = \"never\"");
        let e =
            AuditRules::from_source(SourceText::new("audit.toml", broken)).expect_err("refused");
        let (_, diags) = &e.files[0];
        let text: Vec<String> = diags.iter().map(|d| format!("{d:?}")).collect();
        assert_eq!(diags.len(), 4, "{text:#?}");
        assert!(
            diags.iter().all(|d| d.is_error() && d.span.is_some()),
            "{text:#?}"
        );
        let missing = BUNDLED.1.replace(
            "evidence = \"example\"\ncertainty = \"I\"\n\n# Mite",
            "certainty = \"I\"\n\n# Mite",
        );
        assert!(AuditRules::from_source(SourceText::new("audit.toml", missing)).is_err());
    }
}
