//! The TOML reader: every key of a template, each checked on its own, then the cross-step
//! checks (in `check.rs`).

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveTime;
use rust_decimal::Decimal;

use super::check::{
    CrossCheck, check_id, check_observation, check_product, check_rules, warn_below_maintenance,
    warn_evidence,
};
use super::*;
use crate::policy::{Certainty, Evidence};
use crate::tomlread::{Diags, Sp, Table, parse_document};
use crate::units::{AllergenUnit, Concentration, Syringe, Volume};

/// Reads and checks one template file. Never panics, whatever the text.
///
/// ```
/// use ritplan::diag::SourceText;
/// use ritplan::policy::Policy;
/// use ritplan::template::check;
///
/// let policy = Policy::bundled().unwrap();
/// let checked = check(SourceText::new("mine.toml", "id = \"x\"\n"), &policy);
/// assert!(checked.has_errors());
/// assert!(checked.template.is_none());
/// assert!(checked.diagnostics.iter().any(|d| d.code == "missing-provenance"));
/// ```
pub fn check(source: SourceText, policy: &Policy) -> Checked {
    let mut diags = Diags::default();
    let template = match parse_document(&source.text) {
        Err(d) => {
            diags.push(d);
            None
        }
        Ok(doc) => read_template(&doc.named("the template"), policy, &mut diags),
    };
    let mut diagnostics = diags.0;
    diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    let template = template.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Checked {
        source,
        diagnostics,
        template,
    }
}

const TOP_KEYS: &[&str] = &[
    "format",
    "id",
    "name",
    "product",
    "product_id",
    "manufacturer",
    "allergen",
    "kind",
    "unit",
    "evidence",
    "certainty",
    "evidence_note",
    "updated",
    "rules",
    "source",
    "vial",
    "timing",
    "injection",
    "step",
    "maintenance",
    "rush_target",
    "premedication",
];

const PROVENANCE_KEYS: &[&str] = &["evidence", "certainty", "source", "note"];

/// The largest values a template may hold. Not clinical limits: bounds that keep every date,
/// time and dose the planner computes from a template inside what the calendar and exact
/// decimal arithmetic can hold (ten years of protocol days, a day of minutes, ten years of
/// weeks, a billion units per mL, ten mL per injection), so that no template makes it fail.
const MAX_DAY: u32 = 3_650;
const MAX_MINUTES: u32 = 1_440;
const MAX_WEEKS: u32 = 520;
const MAX_CONCENTRATION: i64 = 1_000_000_000;
const MAX_VOLUME_ML: i64 = 10;

/// Reports a number above `max`.
fn bounded(diags: &mut Diags, v: &Sp<u32>, max: u32, what: &str) -> bool {
    if v.value > max {
        diags.push(Diagnostic::error(
            "out-of-range",
            v.at(),
            format!(
                "{what} of {} is above the largest ritplan accepts ({max})",
                v.value
            ),
        ));
        return false;
    }
    true
}

/// What one step says, before cross-checks.
pub(super) struct RawStep {
    pub(super) index: usize,
    pub(super) span: Range<usize>,
    pub(super) day: Sp<u32>,
    pub(super) time: Option<Sp<NaiveTime>>,
    pub(super) after_min: Option<Sp<u32>>,
    pub(super) vial: Sp<String>,
    pub(super) volume: Sp<Volume>,
    pub(super) stated_dose: Option<Sp<Decimal>>,
    pub(super) observation_min: Option<Sp<u32>>,
    pub(super) provenance: Option<Provenance>,
    pub(super) phase: Option<Sp<Phase>>,
}

fn read_template(doc: &Table<'_, '_>, policy: &Policy, diags: &mut Diags) -> Option<Template> {
    let header = read_header(doc, policy, diags);
    let sources = read_sources(doc, diags);
    let source_ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
    let (vials, rejected_vials) = header
        .unit
        .as_ref()
        .map(|u| read_vials(doc, u.value, diags))
        .unwrap_or_default();
    let timing = read_timing(doc, policy, header.kind.as_ref().map(|k| k.value), diags);
    let injection = read_injection(doc, diags);
    let raw_steps = read_steps(doc, &source_ids, diags);
    let maintenance = read_maintenance(doc, &source_ids, diags);
    let rush_target = doc.decimal(diags, "rush_target", false);
    let premedication = read_premedications(doc, Some(&source_ids), diags);

    // Cross-checks need the vials, the units and the timing.
    let (unit, timing, injection) = (header.unit?.value, timing?, injection?);
    let cross = CrossCheck {
        vials: &vials,
        rejected_vials: &rejected_vials,
        syringe: Syringe::new(injection.syringe_graduation_ml).ok(),
        injection: &injection,
        timing: &timing,
        policy,
    };
    let maintenance = maintenance.and_then(|m| cross.maintenance(m, diags));
    let steps = cross.steps(&raw_steps, maintenance.as_ref(), diags);
    warn_below_maintenance(maintenance.as_ref(), &steps, &raw_steps, diags);
    let rush_target = super::check::check_phases(
        rush_target.as_ref(),
        unit,
        maintenance.as_ref(),
        &steps,
        &raw_steps,
        diags,
    );
    if let Some(r) = &header.rules {
        super::check::check_rebuild_volumes(r, policy, &injection, diags);
        super::check::check_late_on_schedule(r, policy, &raw_steps, diags);
    }

    let id = header.id?;
    Some(Template {
        id_span: id.span.clone(),
        id: id.value,
        name: header.name?.value,
        product: header.product?.value,
        product_id: header.product_id.map(|p| p.value),
        manufacturer: header.manufacturer?.value,
        allergen: header.allergen?.value,
        kind: header.kind?.value,
        evidence: header.evidence?.value,
        certainty: header.certainty.map(|c| c.value),
        evidence_note: header.evidence_note.map(|n| n.value),
        unit,
        rules: header.rules?.value,
        sources,
        vials,
        timing,
        injection,
        steps,
        maintenance: maintenance?,
        rush_target,
        premedication,
    })
}

/// The template's top-level keys, each as read (absent where missing or wrong).
struct Header {
    id: Option<Sp<String>>,
    name: Option<Sp<String>>,
    product: Option<Sp<String>>,
    manufacturer: Option<Sp<String>>,
    allergen: Option<Sp<String>>,
    kind: Option<Sp<Kind>>,
    unit: Option<Sp<AllergenUnit>>,
    evidence: Option<Sp<Evidence>>,
    certainty: Option<Sp<Certainty>>,
    evidence_note: Option<Sp<String>>,
    product_id: Option<Sp<String>>,
    rules: Option<Sp<String>>,
}

/// Reads the header keys, with the product and rule-set references and the evidence warning.
fn read_header(doc: &Table<'_, '_>, policy: &Policy, diags: &mut Diags) -> Header {
    doc.only_keys(diags, TOP_KEYS);
    if let Some(f) = doc.count(diags, "format", false)
        && f.value != 1
    {
        diags.push(
            Diagnostic::error(
                "unknown-format",
                f.at(),
                format!("template format {} is not supported", f.value),
            )
            .with_help("this ritplan reads format = 1"),
        );
    }
    let id = doc.string(diags, "id", true);
    if let Some(id) = &id {
        check_id(id, diags);
    }
    let name = doc.string(diags, "name", true);
    let product = doc.string(diags, "product", true);
    let manufacturer = doc.string(diags, "manufacturer", true);
    let allergen = doc.string(diags, "allergen", true);
    let kind = doc.parsed::<Kind>(diags, "kind", true, "unknown-kind", Kind::NAMES);
    let unit = doc.parsed::<AllergenUnit>(
        diags,
        "unit",
        true,
        "unknown-unit",
        "SQ-U, TU, AU, BAU, IR, PNU, BU, µg, JAU, mL-concentrate",
    );
    let evidence =
        doc.parsed::<Evidence>(diags, "evidence", true, "unknown-evidence", Evidence::NAMES);
    let certainty = doc.parsed::<Certainty>(
        diags,
        "certainty",
        false,
        "unknown-certainty",
        Certainty::NAMES,
    );
    let evidence_note = doc.string(diags, "evidence_note", false);
    let _updated = doc.date(diags, "updated");
    let product_id = doc.string(diags, "product_id", false);
    if let Some(p) = &product_id {
        check_product(p, policy, diags);
    }
    let rules = doc.string(diags, "rules", true);
    if let Some(r) = &rules {
        check_rules(r, policy, diags);
    }
    if let Some(e) = &evidence {
        warn_evidence(e, diags);
    }
    Header {
        id,
        name,
        product,
        manufacturer,
        allergen,
        kind,
        unit,
        evidence,
        certainty,
        evidence_note,
        product_id,
        rules,
    }
}

/// Reads every [[step]]: one entry per table, `None` where the step could not be read.
fn read_steps(doc: &Table<'_, '_>, source_ids: &[&str], diags: &mut Diags) -> Vec<Option<RawStep>> {
    let step_tables = doc.tables(diags, "step");
    // One entry per [[step]], `None` where the step could not be read.
    let raw_steps: Vec<Option<RawStep>> = step_tables
        .iter()
        .enumerate()
        .map(|(i, t)| read_step(t, i + 1, source_ids, diags))
        .collect();
    if step_tables.len() < 3 {
        diags.push(
            Diagnostic::error(
                "too-few-steps",
                None,
                format!(
                    "the template has {} step{}; an up-dosing schedule needs at least 3",
                    step_tables.len(),
                    if step_tables.len() == 1 { "" } else { "s" }
                ),
            )
            .with_help("add the steps as [[step]] tables, in order"),
        );
    }
    raw_steps
}

fn read_sources(doc: &Table<'_, '_>, diags: &mut Diags) -> Vec<Source> {
    let tables = doc.tables(diags, "source");
    if tables.is_empty() {
        diags.push(
            Diagnostic::error("missing-provenance", None, "the template cites no source")
                .with_help("add at least one [[source]] table with `id` and `citation` (and `url` where there is one)"),
        );
    }
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut out = Vec::new();
    for t in &tables {
        t.only_keys(diags, &["id", "citation", "url"]);
        let id = t.string(diags, "id", true);
        let citation = t.string(diags, "citation", true);
        let url = t.string(diags, "url", false);
        let (Some(id), Some(citation)) = (id, citation) else {
            continue;
        };
        if seen.contains_key(&id.value) {
            diags.push(Diagnostic::error(
                "duplicate-id",
                id.at(),
                format!("two sources have the id {:?}", id.value),
            ));
            continue;
        }
        seen.insert(id.value.clone(), id.span.clone());
        out.push(Source {
            id: id.value,
            citation: citation.value,
            url: url.map(|u| u.value),
        });
    }
    out
}

/// The usable vials, and the ids of vials that were defined but rejected (so that steps naming
/// them are not reported a second time as naming an undefined vial).
fn read_vials(
    doc: &Table<'_, '_>,
    unit: AllergenUnit,
    diags: &mut Diags,
) -> (Vec<Vial>, Vec<String>) {
    let tables = doc.tables(diags, "vial");
    if tables.is_empty() {
        diags.push(
            Diagnostic::error("missing-vials", None, "the template defines no vial").with_help(
                "add the vial set as [[vial]] tables with id, label, cap, concentration",
            ),
        );
    }
    let mut out: Vec<Vial> = Vec::new();
    let mut rejected = Vec::new();
    for t in &tables {
        t.only_keys(diags, &["id", "label", "cap", "concentration", "unit"]);
        let id = t.string(diags, "id", true);
        let errors_before = diags.0.iter().filter(|d| d.is_error()).count();
        let label = t.string(diags, "label", true);
        let cap = t.string(diags, "cap", true);
        let conc = t.decimal(diags, "concentration", true);
        let vial_unit = t.parsed::<AllergenUnit>(
            diags,
            "unit",
            false,
            "unknown-unit",
            "SQ-U, TU, AU, BAU, IR, PNU, BU, µg, JAU, mL-concentrate",
        );
        if let Some(u) = &vial_unit
            && u.value != unit
        {
            diags.push(Diagnostic::error(
                "unit-mismatch",
                u.at(),
                format!(
                    "this vial is in {}, but the template's unit is {unit}",
                    u.value
                ),
            ));
        }
        if let Some(c) = &conc
            && c.value <= Decimal::ZERO
        {
            diags.push(Diagnostic::error(
                "bad-concentration",
                c.at(),
                "a vial's concentration must be above zero",
            ));
        }
        if let Some(c) = &conc
            && c.value > Decimal::from(MAX_CONCENTRATION)
        {
            diags.push(Diagnostic::error(
                "out-of-range",
                c.at(),
                format!(
                    "a concentration of {} per mL is above the largest ritplan accepts ({MAX_CONCENTRATION})",
                    c.value.normalize()
                ),
            ));
        }
        let (Some(id), Some(label), Some(cap), Some(conc)) = (id, label, cap, conc) else {
            continue;
        };
        if diags.0.iter().filter(|d| d.is_error()).count() > errors_before {
            rejected.push(id.value);
            continue;
        }
        if out.iter().any(|v| v.id == id.value) {
            diags.push(Diagnostic::error(
                "duplicate-id",
                id.at(),
                format!("two vials have the id {:?}", id.value),
            ));
            continue;
        }
        out.push(Vial {
            id: id.value,
            label: label.value,
            cap: cap.value,
            concentration: Concentration::new(conc.value, unit),
            unit,
        });
    }
    (out, rejected)
}

fn read_timing(
    doc: &Table<'_, '_>,
    policy: &Policy,
    kind: Option<Kind>,
    diags: &mut Diags,
) -> Option<Timing> {
    let t = doc.sub_table(diags, "timing", true)?;
    t.only_keys(
        diags,
        &[
            "observation_min",
            "last_of_day_observation_min",
            "min_interval_min",
        ],
    );
    let obs = t.count(diags, "observation_min", true);
    let last = t.count(diags, "last_of_day_observation_min", true);
    let interval = t.count(diags, "min_interval_min", true);
    let obs = obs.filter(|v| bounded(diags, v, MAX_MINUTES, "an observation in minutes"));
    let last = last.filter(|v| bounded(diags, v, MAX_MINUTES, "an observation in minutes"));
    let interval = interval.filter(|v| bounded(diags, v, MAX_MINUTES, "an interval in minutes"));
    let checks = &policy.template_checks;
    for o in [&obs, &last].into_iter().flatten() {
        check_observation(o, policy, diags);
    }
    if let Some(i) = &interval {
        if i.value == 0 {
            diags.push(Diagnostic::error(
                "interval-too-short",
                i.at(),
                "the minimum interval between same-day injections must be above 0 min",
            ));
        } else if i.value < checks.min_same_day_interval_min.value {
            diags.push(
                Diagnostic::warning(
                    "short-interval",
                    i.at(),
                    format!(
                        "same-day injections {} min apart are closer than the {} min the guideline asks",
                        i.value, checks.min_same_day_interval_min.value
                    ),
                )
                .with_help(checks.min_same_day_interval_min.provenance.source.clone()),
            );
        }
    }
    if let (Some(Kind::Rush), Some(l)) = (kind, &last)
        && l.value < checks.rush_last_of_day_observation_min.value
        && l.value >= checks.min_observation_min.value
    {
        diags.push(
            Diagnostic::warning(
                "short-rush-observation",
                l.at(),
                format!(
                    "a rush day's last injection is followed by {} min of observation; {} min or more is advised [{}]",
                    l.value,
                    checks.rush_last_of_day_observation_min.value,
                    checks.rush_last_of_day_observation_min.provenance.certainty
                ),
            )
            .with_help(checks.rush_last_of_day_observation_min.provenance.source.clone()),
        );
    }
    if let (Some(o), Some(l)) = (&obs, &last)
        && l.value < o.value
    {
        diags.push(Diagnostic::error(
            "observation-too-short",
            l.at(),
            format!("the observation after a day's last injection ({} min) is shorter than after any other ({} min)", l.value, o.value),
        ));
    }
    Some(Timing {
        observation_min: obs?.value,
        last_of_day_observation_min: last?.value,
        min_interval_min: interval?.value,
    })
}

fn read_injection(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<Injection> {
    let t = doc.sub_table(diags, "injection", true)?;
    t.only_keys(diags, &["max_volume_ml", "syringe_graduation_ml"]);
    let max = t.decimal(diags, "max_volume_ml", true);
    let grad = t.decimal(diags, "syringe_graduation_ml", true);
    for v in [&max, &grad].into_iter().flatten() {
        if v.value <= Decimal::ZERO {
            diags.push(Diagnostic::error(
                "bad-volume",
                v.at(),
                "this volume must be above 0 mL",
            ));
            return None;
        }
        if v.value > Decimal::from(MAX_VOLUME_ML) {
            diags.push(Diagnostic::error(
                "out-of-range",
                v.at(),
                format!(
                    "{} mL is above the largest ritplan accepts ({MAX_VOLUME_ML} mL)",
                    v.value.normalize()
                ),
            ));
            return None;
        }
    }
    Some(Injection {
        max_volume_ml: Volume::from_ml(max?.value),
        syringe_graduation_ml: Volume::from_ml(grad?.value),
    })
}

fn read_provenance_override(
    t: &Table<'_, '_>,
    source_ids: &[&str],
    diags: &mut Diags,
) -> Option<Provenance> {
    if !PROVENANCE_KEYS.iter().any(|k| t.has(k)) {
        return None;
    }
    let evidence =
        t.parsed::<Evidence>(diags, "evidence", true, "unknown-evidence", Evidence::NAMES);
    let certainty = t.parsed::<Certainty>(
        diags,
        "certainty",
        false,
        "unknown-certainty",
        Certainty::NAMES,
    );
    let source = t.string(diags, "source", false);
    if let Some(s) = &source
        && !source_ids.contains(&s.value.as_str())
    {
        diags.push(
            Diagnostic::error(
                "unknown-source",
                s.at(),
                format!(
                    "{} cites source {:?}, which the template does not list",
                    t.what, s.value
                ),
            )
            .with_help(format!("the sources are {}", source_ids.join(", "))),
        );
    }
    let note = t.string(diags, "note", false);
    Some(Provenance {
        evidence: evidence?.value,
        certainty: certainty.map(|c| c.value),
        source: source.map(|s| s.value),
        note: note.map(|n| n.value),
    })
}

fn read_step(
    t: &Table<'_, '_>,
    index: usize,
    source_ids: &[&str],
    diags: &mut Diags,
) -> Option<RawStep> {
    let mut keys = vec![
        "day",
        "time",
        "after_min",
        "vial",
        "volume_ml",
        "dose",
        "observation_min",
        "phase",
    ];
    keys.extend(PROVENANCE_KEYS);
    t.only_keys(diags, &keys);
    let phase = t.parsed::<Phase>(diags, "phase", false, "unknown-phase", Phase::STEP_NAMES);
    let day = t.count(diags, "day", true);
    if let Some(d) = &day
        && d.value == 0
    {
        diags.push(Diagnostic::error(
            "day-order",
            d.at(),
            "days are counted from 1 (the first injection day)",
        ));
    }
    let day = day.filter(|d| bounded(diags, d, MAX_DAY, "a protocol day"));
    let time = t.time(diags, "time");
    let after_min = t
        .count(diags, "after_min", false)
        .filter(|v| bounded(diags, v, MAX_MINUTES, "an interval in minutes"));
    let vial = t.string(diags, "vial", true);
    let volume = t.decimal(diags, "volume_ml", true);
    let stated_dose = t.decimal(diags, "dose", false);
    let observation_min = t
        .count(diags, "observation_min", false)
        .filter(|v| bounded(diags, v, MAX_MINUTES, "an observation in minutes"));
    let provenance = read_provenance_override(t, source_ids, diags);
    Some(RawStep {
        index,
        span: t.at().unwrap_or(0..0),
        day: day.filter(|d| d.value > 0)?,
        time,
        after_min,
        vial: vial?,
        volume: volume.map(|v| Sp {
            value: Volume::from_ml(v.value),
            span: v.span,
        })?,
        stated_dose,
        observation_min,
        provenance,
        phase,
    })
}

pub(super) type RawMaintenance = (Maintenance, Sp<String>, Sp<Volume>, Option<Sp<Decimal>>);

fn read_maintenance(
    doc: &Table<'_, '_>,
    source_ids: &[&str],
    diags: &mut Diags,
) -> Option<RawMaintenance> {
    let t = doc.sub_table(diags, "maintenance", true)?;
    let mut keys = vec![
        "vial",
        "volume_ml",
        "dose",
        "first_intervals_weeks",
        "interval_weeks",
        "interval_tolerance_weeks",
    ];
    keys.extend(PROVENANCE_KEYS);
    t.only_keys(diags, &keys);
    let vial = t.string(diags, "vial", true);
    let volume = t.decimal(diags, "volume_ml", true);
    let dose = t.decimal(diags, "dose", true);
    let first: Vec<Sp<u32>> = t
        .counts(diags, "first_intervals_weeks")
        .unwrap_or_default()
        .into_iter()
        .filter(|w| bounded(diags, w, MAX_WEEKS, "an interval in weeks"))
        .collect();
    let interval = t
        .count(diags, "interval_weeks", true)
        .filter(|w| bounded(diags, w, MAX_WEEKS, "an interval in weeks"));
    let tolerance = t.count(diags, "interval_tolerance_weeks", false);
    for w in first.iter().chain(interval.iter()) {
        if w.value == 0 {
            diags.push(Diagnostic::error(
                "bad-interval",
                w.at(),
                "a maintenance interval must be at least 1 week",
            ));
        }
    }
    if let (Some(i), Some(tol)) = (&interval, &tolerance)
        && i.value > 0
        && tol.value >= i.value
    {
        diags.push(Diagnostic::error(
            "bad-interval",
            tol.at(),
            format!(
                "a tolerance of ±{} weeks on a {}-week interval would allow an interval of 0",
                tol.value, i.value
            ),
        ));
    }
    let provenance = read_provenance_override(&t, source_ids, diags);
    let volume = volume.map(|v| Sp {
        value: Volume::from_ml(v.value),
        span: v.span,
    })?;
    let m = Maintenance {
        vial: String::new(),
        volume_ml: volume.value,
        dose: Dose::new(Decimal::ZERO, AllergenUnit::SqU),
        first_intervals_weeks: first.iter().map(|w| w.value).collect(),
        interval_weeks: interval?.value,
        interval_tolerance_weeks: tolerance.map_or(0, |t| t.value),
        provenance,
    };
    Some((m, vial?, volume, Some(dose?)))
}

/// The longest a premedication may be taken before its injection: a week, in minutes. Not a
/// clinical limit: a bound that keeps the window's arithmetic inside the calendar.
const MAX_PREMED_MIN: u32 = 10_080;

/// Every `[[premedication]]`; the unreadable ones are reported and left out. A template's
/// `source` names one of its `[[sources]]` (`source_ids`); a course rule set's (`None`) is the
/// citation itself, as for its other rules.
pub(crate) fn read_premedications(
    doc: &Table<'_, '_>,
    source_ids: Option<&[&str]>,
    diags: &mut Diags,
) -> Vec<Premedication> {
    doc.tables(diags, "premedication")
        .iter()
        .filter_map(|t| read_premedication(t, source_ids, diags))
        .collect()
}

fn read_premedication(
    t: &Table<'_, '_>,
    source_ids: Option<&[&str]>,
    diags: &mut Diags,
) -> Option<Premedication> {
    t.only_keys(
        diags,
        &[
            "class",
            "drug",
            "dose",
            "anchor",
            "before_min",
            "at_least_min",
            "at_most_min",
            "status",
            "source",
            "evidence",
            "certainty",
            "window_evidence",
            "note",
        ],
    );
    let class = t.parsed::<PremedClass>(
        diags,
        "class",
        true,
        "unknown-premedication",
        PremedClass::NAMES,
    );
    let status = t.parsed::<PremedStatus>(
        diags,
        "status",
        true,
        "unknown-premedication",
        PremedStatus::NAMES,
    );
    let drug = t.string(diags, "drug", false);
    let dose = t.string(diags, "dose", false);
    let evidence =
        t.parsed::<Evidence>(diags, "evidence", true, "unknown-evidence", Evidence::NAMES);
    let certainty = t.parsed::<Certainty>(
        diags,
        "certainty",
        false,
        "unknown-certainty",
        Certainty::NAMES,
    );
    let window_evidence = t.parsed::<Evidence>(
        diags,
        "window_evidence",
        false,
        "unknown-evidence",
        Evidence::NAMES,
    );
    let note = t.string(diags, "note", false);
    let source = t.string(diags, "source", true);
    if let Some(s) = &source
        && let Some(source_ids) = source_ids
        && !source_ids.contains(&s.value.as_str())
    {
        diags.push(
            Diagnostic::error(
                "unknown-source",
                s.at(),
                format!(
                    "{} cites source {:?}, which the template does not list",
                    t.what, s.value
                ),
            )
            .with_help(format!("the sources are {}", source_ids.join(", "))),
        );
    }
    // A premedication the schedule rules out needs no time; any other needs its anchor, its
    // time and its window.
    let timed = status
        .as_ref()
        .is_none_or(|s| s.value != PremedStatus::None);
    let anchor = t.parsed::<PremedAnchor>(
        diags,
        "anchor",
        timed,
        "unknown-premedication",
        PremedAnchor::NAMES,
    );
    let minutes = |diags: &mut Diags, key: &str| {
        t.count(diags, key, timed)
            .filter(|v| bounded(diags, v, MAX_PREMED_MIN, "a premedication time in minutes"))
    };
    let before = minutes(diags, "before_min");
    let at_least = minutes(diags, "at_least_min");
    let at_most = minutes(diags, "at_most_min");
    if let (Some(b), Some(l), Some(m)) = (&before, &at_least, &at_most)
        && !(l.value <= b.value && b.value <= m.value)
    {
        diags.push(
            Diagnostic::error(
                "bad-window",
                l.at(),
                format!(
                    "the window ({} to {} min before) must hold the time it is meant to be taken ({} min before)",
                    l.value, m.value, b.value
                ),
            )
            .with_help("at_least_min <= before_min <= at_most_min"),
        );
        return None;
    }
    let source = source?;
    if source_ids.is_some_and(|ids| !ids.contains(&source.value.as_str())) {
        return None;
    }
    let status = status?.value;
    let (anchor, before, at_least, at_most) = if status == PremedStatus::None {
        (
            anchor.map_or(PremedAnchor::FirstInjectionOfDay, |a| a.value),
            before.map_or(0, |v| v.value),
            at_least.map_or(0, |v| v.value),
            at_most.map_or(0, |v| v.value),
        )
    } else {
        (
            anchor?.value,
            before?.value,
            at_least?.value,
            at_most?.value,
        )
    };
    Some(Premedication {
        class: class?.value,
        drug: drug.map(|d| d.value),
        dose: dose.map(|d| d.value),
        anchor,
        before_min: before,
        at_least_min: at_least,
        at_most_min: at_most,
        status,
        source: Some(source.value),
        evidence: evidence?.value,
        certainty: certainty.map(|c| c.value),
        window_evidence: window_evidence.map(|e| e.value),
        note: note.map(|n| n.value),
    })
}
