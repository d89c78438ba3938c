//! The course rules' TOML reader: the bands, the systemic and late reaction rules, the
//! maintenance ladder, the re-escalations and the sub-tables.

use rust_decimal::Decimal;

use super::*;
use crate::diag::Diagnostic;
use crate::policy::read_provenance;
use crate::tomlread::{Diags, Sp, Table};

fn action(t: &Table<'_, '_>, diags: &mut Diags) -> Option<Sp<Action>> {
    let a = t.string(diags, "action", true)?;
    let steps = |diags: &mut Diags| {
        let s = t.count(diags, "steps", true)?;
        if s.value == 0 {
            diags.push(Diagnostic::error(
                "out-of-range",
                s.at(),
                "`steps` must be at least 1",
            ));
            return None;
        }
        Some(s.value)
    };
    let value = match a.value.as_str() {
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
        "volume" => {
            let v = t.decimal(diags, "volume_ml", true)?;
            if v.value <= Decimal::ZERO {
                diags.push(Diagnostic::error(
                    "out-of-range",
                    v.at(),
                    "`volume_ml` must be above 0",
                ));
                return None;
            }
            Action::Volume { volume_ml: v.value }
        }
        "restart" => Action::Restart,
        "review" => Action::Review,
        "stop" => Action::Stop,
        "end" => Action::End,
        other => {
            diags.push(
                Diagnostic::error(
                    "unknown-action",
                    a.at(),
                    format!("unknown action {other:?}"),
                )
                .with_help(
                    "use proceed, repeat, step_back, reduce, volume, restart, review, stop or end",
                ),
            );
            return None;
        }
    };
    Some(Sp {
        value,
        span: a.span,
    })
}

const PROVENANCE_KEYS: [&str; 4] = ["source", "evidence", "certainty", "note"];

fn keys<'k>(own: &[&'k str]) -> Vec<&'k str> {
    let mut k = own.to_vec();
    k.extend(PROVENANCE_KEYS);
    k
}

/// Reads a band's range from `days`, `weeks` or `mm`, as `unit` allows.
fn range(t: &Table<'_, '_>, diags: &mut Diags, units: &[(&str, u32, &str)]) -> Option<Interval> {
    let present: Vec<_> = units.iter().filter(|(k, _, _)| t.has(k)).collect();
    let names: Vec<&str> = units.iter().map(|(k, _, _)| *k).collect();
    let Some((key, scale, unit)) = present.first() else {
        diags.push(Diagnostic::error(
            "missing-field",
            t.at(),
            format!(
                "{} needs its range: `{}` = \"[from, to)\"",
                t.what,
                names.join("` or `")
            ),
        ));
        return None;
    };
    if present.len() > 1 {
        diags.push(Diagnostic::error(
            "conflicting-fields",
            t.at(),
            format!(
                "{} gives its range twice: use only one of `{}`",
                t.what,
                names.join("`, `")
            ),
        ));
    }
    let s = t.string(diags, key, true)?;
    match Interval::parse(&s.value, *scale, unit) {
        Ok(i) => Some(i),
        Err(why) => {
            diags.push(Diagnostic::error("bad-range", s.at(), why));
            None
        }
    }
}

fn bands(
    doc: &Table<'_, '_>,
    diags: &mut Diags,
    key: &str,
    units: &[(&str, u32, &str)],
) -> Vec<Band> {
    let mut out: Vec<Band> = Vec::new();
    let mut own: Vec<&str> = units.iter().map(|(k, _, _)| *k).collect();
    own.extend(["action", "steps", "percent", "volume_ml", "close_visit"]);
    for t in doc.tables(diags, key) {
        t.only_keys(diags, &keys(&own));
        let range = range(&t, diags, units);
        let action = action(&t, diags);
        let close = t.boolean(diags, "close_visit");
        let provenance = read_provenance(&t, diags);
        let (Some(range), Some(action), Some(close), Some(provenance)) =
            (range, action, close, provenance)
        else {
            continue;
        };
        // A band that sends the course to the physician (or stops it) ends the visit: no
        // injection is given while a physician's decision is pending, so "close_visit = false"
        // on such a band is a contradiction, refused rather than silently corrected.
        if action.value.needs_physician() && !close.value {
            diags.push(Diagnostic::error(
                "unsafe-rule",
                close.at(),
                format!(
                    "{} sends the course to a physician: it must close the visit (close_visit = true)",
                    t.what
                ),
            ));
        }
        // Bands must tile the whole numbers from 0 to no limit, each starting right after the
        // previous one ends.
        let expected = match out.last() {
            None => Some(0),
            Some(b) => b.range.hi.map(|h| h + 1),
        };
        if expected != Some(range.lo) {
            let why = match (out.last(), expected) {
                (Some(prev), None) => format!(
                    "{} comes after {:?}, which already has no upper limit",
                    t.what, prev.range.written
                ),
                (None, _) => format!(
                    "the first [[{key}]] band must start at 0 (\"[0, ...\"), not {:?}",
                    range.written
                ),
                (Some(prev), Some(e)) if range.lo > e => format!(
                    "there is a gap between {:?} and {:?}: nothing covers {e}",
                    prev.range.written, range.written
                ),
                (Some(prev), Some(_)) => format!(
                    "{:?} overlaps {:?}: an edge shared by two bands must be inside one and outside the other",
                    range.written, prev.range.written
                ),
            };
            diags.push(Diagnostic::error("bad-bands", t.at(), why));
        }
        out.push(Band {
            range,
            action: action.value,
            close_visit: close.value,
            provenance,
        });
    }
    if out.last().is_none_or(|b| b.range.hi.is_some()) {
        diags.push(Diagnostic::error(
            "bad-bands",
            doc.at(),
            format!("the [[{key}]] bands must end with one that has no upper limit (\"..., ∞)\")"),
        ));
    }
    out
}

fn systemic(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<SystemicRule> {
    let mut out: Vec<SystemicRule> = Vec::new();
    for t in doc.tables(diags, "systemic_reaction") {
        t.only_keys(diags, &keys(&["grades", "action", "steps"]));
        let grades = t.counts(diags, "grades");
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
        if let (Some(a), Some(provenance)) = (a, provenance) {
            let steps = steps.map(|s| s.value).or(match a.value {
                Action::StepBack { steps } => Some(steps),
                _ => None,
            });
            out.push(SystemicRule {
                from_grade: from,
                to_grade: to,
                steps: steps.unwrap_or(0),
                action: a.value,
                provenance,
            });
        }
    }
    // Floors in code, whatever the file says: a grade 2 or more reaction involves more than one
    // organ system or the lower airway (docs/sources.md: wao-grading-2010) and never proceeds
    // without a physician; grade 4 (respiratory failure, hypotension) stops the course (Norwegian
    // guide, docs/sources.md: norwegian-guide); grade 5 is death and ends the course for good.
    for g in 1u8..=5 {
        let rules: Vec<&SystemicRule> = out
            .iter()
            .filter(|r| (r.from_grade..=r.to_grade).contains(&g))
            .collect();
        let unsafe_rule = |why: String| Diagnostic::error("unsafe-rule", doc.at(), why);
        match rules.as_slice() {
            [] => diags.push(Diagnostic::error(
                "uncovered-case",
                doc.at(),
                format!("no [[systemic_reaction]] covers WAO grade {g}"),
            )),
            [_, _, ..] => diags.push(Diagnostic::error(
                "bad-grades",
                doc.at(),
                format!("more than one [[systemic_reaction]] covers WAO grade {g}"),
            )),
            [r] if g == 5 && r.action != Action::End => diags.push(unsafe_rule(
                "WAO grade 5 must end the course (action = \"end\")".into(),
            )),
            [r] if g >= 4 && !matches!(r.action, Action::Stop | Action::End) => {
                diags.push(unsafe_rule(format!("WAO grade {g} must stop the course")))
            }
            [r] if g >= 2 && !r.action.needs_physician() => diags.push(unsafe_rule(format!(
                "WAO grade {g} must require a physician review or stop the course"
            ))),
            [_] => {}
        }
    }
    out
}

fn late_reactions(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<LateRule> {
    let mut out: Vec<LateRule> = Vec::new();
    for t in doc.tables(diags, "late_reaction") {
        t.only_keys(diags, &keys(&["type", "action", "steps"]));
        let kind = t.parsed::<LateKind>(diags, "type", true, "unknown-type", LateKind::NAMES);
        let a = action(&t, diags);
        let p = read_provenance(&t, diags);
        if let (Some(kind), Some(a), Some(p)) = (kind, a, p) {
            if out.iter().any(|r| r.kind == kind.value) {
                diags.push(Diagnostic::error(
                    "duplicate-id",
                    kind.at(),
                    format!("a second [[late_reaction]] for {}", kind.value),
                ));
            }
            out.push(LateRule {
                kind: kind.value,
                action: a.value,
                provenance: p,
            });
        }
    }
    for k in LateKind::ALL {
        if !out.iter().any(|r| r.kind == k) {
            diags.push(Diagnostic::error(
                "uncovered-case",
                doc.at(),
                format!("no [[late_reaction]] covers type = \"{k}\""),
            ));
        }
    }
    out
}

fn ladder(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<MaintenanceLadder> {
    let t = doc.sub_table(diags, "maintenance_ladder", false)?;
    t.only_keys(diags, &keys(&["full_volume_ml", "volumes_ml"]));
    let full = t.decimal(diags, "full_volume_ml", true);
    let volumes = t.decimals(diags, "volumes_ml", true);
    let p = read_provenance(&t, diags);
    let (full, volumes, p) = (full?, volumes?, p?);
    let vs: Vec<Decimal> = volumes.iter().map(|v| v.value).collect();
    let rising = vs.windows(2).all(|w| w[0] < w[1]);
    if vs.is_empty() || !rising || vs.first().is_some_and(|v| *v <= Decimal::ZERO) {
        diags.push(Diagnostic::error(
            "bad-ladder",
            t.at(),
            "`volumes_ml` must rise strictly, from above 0",
        ));
        return None;
    }
    if vs.last() != Some(&full.value) {
        diags.push(Diagnostic::error(
            "bad-ladder",
            full.at(),
            "the last of `volumes_ml` must be `full_volume_ml`",
        ));
        return None;
    }
    Some(MaintenanceLadder {
        full_volume_ml: full.value,
        volumes_ml: vs,
        provenance: p,
    })
}

fn reescalations(
    doc: &Table<'_, '_>,
    diags: &mut Diags,
    ladder: Option<&MaintenanceLadder>,
) -> Vec<Reescalation> {
    let mut out: Vec<Reescalation> = Vec::new();
    let tables = doc.tables(diags, "reescalation");
    if ladder.is_none() && !tables.is_empty() {
        diags.push(Diagnostic::error(
            "missing-field",
            doc.at(),
            "[[reescalation]] needs a [maintenance_ladder]",
        ));
    }
    for t in tables {
        t.only_keys(
            diags,
            &keys(&[
                "reduced_to_ml",
                "step_up_after_weeks",
                "step_up_within_weeks",
                "full_after_weeks",
            ]),
        );
        let reduced = t.decimals(diags, "reduced_to_ml", true);
        let after = t.count(diags, "step_up_after_weeks", true);
        let within = t.count(diags, "step_up_within_weeks", false);
        let full = t.counts(diags, "full_after_weeks");
        let p = read_provenance(&t, diags);
        let (Some(reduced), Some(after), Some(full), Some(p)) = (reduced, after, full, p) else {
            continue;
        };
        if after.value == 0 || full.iter().any(|f| f.value == 0) {
            diags.push(Diagnostic::error(
                "out-of-range",
                after.at(),
                "re-escalation intervals must be at least 1 week",
            ));
        }
        if within.as_ref().is_some_and(|w| w.value < after.value) {
            diags.push(Diagnostic::error(
                "out-of-range",
                within.as_ref().and_then(Sp::at),
                "`step_up_within_weeks` must not be below `step_up_after_weeks`",
            ));
        }
        out.push(Reescalation {
            reduced_to_ml: reduced.iter().map(|r| r.value).collect(),
            step_up_after_weeks: after.value,
            step_up_within_weeks: within.map(|w| w.value),
            full_after_weeks: full.iter().map(|f| f.value).collect(),
            provenance: p,
        });
    }
    // Every rung below the full dose has exactly one re-escalation rule: a reduction the rules
    // cannot climb back from would leave the course without a next dose.
    if let Some(l) = ladder {
        for v in &l.volumes_ml[..l.volumes_ml.len() - 1] {
            let n = out.iter().filter(|r| r.reduced_to_ml.contains(v)).count();
            if n != 1 {
                diags.push(Diagnostic::error(
                    if n == 0 { "uncovered-case" } else { "bad-ladder" },
                    doc.at(),
                    format!(
                        "{} [[reescalation]] rules name {} mL; each rung below the full dose needs exactly one",
                        n,
                        v.normalize()
                    ),
                ));
            }
        }
        for r in &out {
            for v in &r.reduced_to_ml {
                if !l.volumes_ml[..l.volumes_ml.len() - 1].contains(v) {
                    diags.push(Diagnostic::error(
                        "bad-ladder",
                        doc.at(),
                        format!(
                            "[[reescalation]] names {} mL, which is not a rung below the full dose of the [maintenance_ladder]",
                            v.normalize()
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Reads a `kind = "course-rules"` file's rules.
pub(in crate::policy) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<CourseRules> {
    check_format(doc, diags)?;
    let days = [("days", 1, "days"), ("weeks", 7, "weeks")];
    let local = bands(doc, diags, "local_reaction", &[("mm", 1, "mm")]);
    let late_up = bands(doc, diags, "late_updosing", &days);
    let late_m = bands(doc, diags, "late_maintenance", &days);
    let systemic = systemic(doc, diags);
    let late_r = late_reactions(doc, diags);
    let ladder = ladder(doc, diags);
    let rees = reescalations(doc, diags, ladder.as_ref());
    check_ladder_rungs(doc, &late_m, ladder.as_ref(), diags);
    let steps = dose_steps(doc, diags);
    let counting = late_counting(doc, diags);
    let pef = sub(doc, diags, "pre_injection_pef", &["below_percent"]).and_then(|t| {
        let v = t.decimal(diags, "below_percent", true);
        let p = read_provenance(&t, diags);
        Some((v?.value, p?))
    });
    let extracts = sub(doc, diags, "between_extracts", &["min_minutes"]).and_then(|t| {
        let v = t.count(diags, "min_minutes", true);
        let p = read_provenance(&t, diags);
        Some((v?.value, p?))
    });
    let (pef, pef_p) = pef?;
    let (extracts, extracts_p) = extracts?;
    Some(CourseRules {
        dose_steps: steps?,
        local_reaction: local,
        systemic_reaction: systemic,
        late_reaction: late_r,
        late_counting: counting?,
        late_updosing: late_up,
        late_maintenance: late_m,
        maintenance_ladder: ladder,
        reescalation: rees,
        pre_injection_pef_below: pef,
        pre_injection_pef_provenance: pef_p,
        between_extracts_min: extracts,
        between_extracts_provenance: extracts_p,
        vial_change: Vec::new(),
        premedication: crate::template::read_premedications(doc, None, diags),
    })
}

/// Refuses a file that is not `format = 2`.
fn check_format(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<()> {
    match doc.count(diags, "format", false) {
        Some(f) if f.value == FORMAT => {}
        Some(f) => {
            diags.push(Diagnostic::error(
                "unknown-format",
                f.at(),
                format!(
                    "course rules format {} is not one this ritplan reads ({FORMAT})",
                    f.value
                ),
            ));
            return None;
        }
        None => {
            diags.push(
                Diagnostic::error(
                    "unknown-format",
                    doc.at(),
                    format!("these course rules have no `format = {FORMAT}`: they were written for an earlier ritplan"),
                )
                .with_help("format 2 writes band edges explicitly, says what late doses count from, and adds the maintenance ladder and late reaction types: see rules/course-norwegian-guide.toml"),
            );
            return None;
        }
    }
    Some(())
}

/// Reports a `[[late_maintenance]]` band that reduces to a volume the ladder does not have.
fn check_ladder_rungs(
    doc: &Table<'_, '_>,
    late_m: &[Band],
    ladder: Option<&MaintenanceLadder>,
    diags: &mut Diags,
) {
    for b in late_m.iter() {
        if let Action::Volume { volume_ml } = b.action
            && !ladder.is_some_and(|l| l.volumes_ml.contains(&volume_ml))
        {
            diags.push(Diagnostic::error(
                "bad-ladder",
                doc.at(),
                format!(
                    "a [[late_maintenance]] band reduces to {} mL, which is not a rung of the [maintenance_ladder]",
                    volume_ml.normalize()
                ),
            ));
        }
    }
}

/// A required sub-table, with its own keys and the provenance keys.
fn sub<'t, 'i>(
    doc: &'t Table<'_, 'i>,
    diags: &mut Diags,
    key: &str,
    own: &[&str],
) -> Option<Table<'t, 'i>> {
    let t = doc.sub_table(diags, key, true)?;
    t.only_keys(diags, &keys(own));
    Some(t)
}

/// The `[dose_steps]` table: what one step of the dose means.
fn dose_steps(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<DoseSteps> {
    let t = sub(doc, diags, "dose_steps", &["meaning"])?;
    let m = t.string(diags, "meaning", true);
    let p = read_provenance(&t, diags);
    let m = m?;
    if m.value != "distinct-dose" {
        diags.push(
            Diagnostic::error(
                "unknown-kind",
                m.at(),
                format!(
                    "dose step meaning {:?} is not one ritplan implements",
                    m.value
                ),
            )
            .with_help("use meaning = \"distinct-dose\""),
        );
        return None;
    }
    Some(DoseSteps {
        meaning: m.value,
        provenance: p?,
    })
}

/// The `[late_doses]` table: what a late dose is counted from.
fn late_counting(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<LateCounting> {
    let t = sub(doc, diags, "late_doses", &["counted_from"])?;
    let c = t.string(diags, "counted_from", true);
    let p = read_provenance(&t, diags);
    let from = match c?.value.as_str() {
        "last_dose" => CountFrom::LastDose,
        "missed_date" => CountFrom::MissedDate,
        other => {
            diags.push(
                Diagnostic::error(
                    "unknown-kind",
                    t.at(),
                    format!("`counted_from` {other:?} is not known"),
                )
                .with_help("use \"last_dose\" or \"missed_date\""),
            );
            return None;
        }
    };
    Some(LateCounting {
        from,
        provenance: p?,
    })
}
