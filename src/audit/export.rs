//! The pseudonymised research export: one CSV row per course, with no name, date of birth,
//! record id, course id or staff name. The patient and course keys are HMAC-SHA256 under a
//! study key the user keeps, so two exports under the same key link (the same patient has the
//! same key) and nobody without it can reverse them or link them to the record. Dates are
//! either left out (`days`: every interval is counted from rush day 1; the default) or shifted
//! by a per-patient offset derived from the key (`shifted`: 1 to 180 days either way, never 0,
//! the same for all of a patient's dates, so intervals are kept). Ages from 90 are written
//! `>=90`. Rows are sorted by course key (their order says nothing about the record's).
//! Pure: the bytes of the CSV and of its data dictionary; the front end writes them.

use std::fmt::Write as _;

use chrono::{Days, NaiveDate};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::facts::{CourseFacts, Status};
use super::rules::AuditRules;
use crate::policy::Provenance;
use crate::secure::hex;

/// The shortest study key taken, bytes (the HMAC's output size: a shorter key is easier to
/// guess than the keys it makes).
pub const MIN_KEY_BYTES: usize = 32;

/// The largest date shift, days either way.
pub const MAX_SHIFT_DAYS: i64 = 180;

/// How dates are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dates {
    /// No dates: intervals in days from rush day 1 only (the default).
    Days,
    /// Dates shifted by the patient's offset (1 to 180 days either way).
    Shifted,
}

/// The study key.
pub struct StudyKey(Vec<u8>);

impl StudyKey {
    /// The key from a key file's bytes (one trailing newline is not part of it); refused, with
    /// why, when shorter than [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Result<StudyKey, String> {
        let b = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(bytes);
        if b.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the study key has {} bytes; it needs at least {MIN_KEY_BYTES} (e.g. `head -c 32 /dev/urandom | base64 > study.key`): a short key can be guessed, and with it every patient key reversed by trying the record's ids",
                b.len()
            ));
        }
        Ok(StudyKey(b.to_vec()))
    }

    fn mac(&self, domain: &str, value: &str) -> [u8; 32] {
        let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            // HMAC takes a key of any length.
            return [0; 32];
        };
        // Each part with its length first: ("ab", "c") and ("a", "bc") never collide.
        for part in [domain, value] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        m.finalize().into_bytes().into()
    }

    /// The patient's key.
    pub fn patient(&self, patient_id: &str) -> String {
        hex(&self.mac("ritplan-audit-patient", patient_id))
    }

    /// The course's key.
    pub fn course(&self, course_id: i64) -> String {
        hex(&self.mac("ritplan-audit-course", &course_id.to_string()))
    }

    /// The patient's date shift, from the patient's key: -180 to -1 or 1 to 180 days.
    pub fn shift_days(&self, patient_key: &str) -> i64 {
        let m = self.mac("ritplan-audit-date-shift", patient_key);
        let v = i64::from(u32::from_be_bytes([m[0], m[1], m[2], m[3]]) % 360);
        if v < MAX_SHIFT_DAYS {
            -(v + 1)
        } else {
            v - (MAX_SHIFT_DAYS - 1)
        }
    }
}

fn shift(d: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        d.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

/// One column: name, type, meaning, unit, edges and source.
pub struct Column {
    /// Its name in the header.
    pub name: &'static str,
    /// `text`, `integer`, `decimal`, `boolean`, `date`, `category`.
    pub kind: &'static str,
    /// What it holds.
    pub meaning: &'static str,
    /// Its unit.
    pub unit: &'static str,
}

const fn col(
    name: &'static str,
    kind: &'static str,
    meaning: &'static str,
    unit: &'static str,
) -> Column {
    Column {
        name,
        kind,
        meaning,
        unit,
    }
}

/// Every column, in order (the date columns only with `--dates shifted`).
pub fn columns(dates: Dates) -> Vec<Column> {
    let mut c = vec![
        col(
            "patient_key",
            "text",
            "HMAC-SHA256 of the patient's record id under the study key (hex): the same patient has the same key in every export under that key",
            "",
        ),
        col(
            "course_key",
            "text",
            "HMAC-SHA256 of the course's record id under the study key (hex)",
            "",
        ),
    ];
    if dates == Dates::Shifted {
        c.push(col("rush_day1_shifted", "date", "the day of the first injection given (the planned first day when none was), shifted by the patient's offset", "date"));
    }
    c.extend([
        col("arm", "category", "rit (rush immunotherapy alone) or rit_omb_pre (omalizumab pretreated: the arm rule)", ""),
        col("omb_doses_before", "integer", "omalizumab injections recorded as given before rush day 1", "injections"),
        col("omb_days_first_dose_to_rush", "integer", "days from the first of them to rush day 1 (empty: none)", "days"),
        col("omb_weeks_recorded", "integer", "weeks of omalizumab the patient's record showed at the course's start (given outside the record)", "weeks"),
        col("age_years", "integer", "age at the course's start; from 90 written >=90", "years"),
        col("age_group", "category", "age group at the course's start", ""),
        col("mite_sige_kua_l", "text", "mite-specific IgE as the laboratory wrote it (a bound such as >100 when censored)", "kUA/L"),
        col("sige_censored", "boolean", "the sIgE value is a bound (< or >)", ""),
        col("sige_class", "text", "ImmunoCAP class 0-6 by the course's frozen risk rules (a range such as 5-6 when censored)", "class"),
        col("sige_band", "category", "mite sIgE grade band; 0: class 0, in neither band; unknown: a censored value either side", ""),
        col("total_ige_ku_l", "text", "total IgE as the laboratory wrote it", "kU/L"),
        col("tige_band", "category", "total IgE band; unknown: a censored value either side of an edge", ""),
        col("ratio_pct", "text", "sIgE / total IgE x 100, 2 decimals (a bound such as >24.39 when a value is censored; empty when both are)", "%"),
        col("ratio_band10", "category", "ratio band at 10 %; unknown: a bound either side", ""),
        col("ratio_band16", "category", "ratio band at 16 %; unknown: a bound either side", ""),
        col("risk_stratum", "category", "the risk stratum the course's plan was made for (low, intermediate, high)", ""),
        col("premed_required", "boolean", "the course's schedule requires premedication before some injections", ""),
        col("premed_taken", "integer", "injections recorded with premedication taken", "injections"),
        col("premed_accepted", "integer", "injections given without premedication (or outside its window) that a physician accepted", "injections"),
        col("template_id", "text", "the schedule template", ""),
        col("product", "text", "the allergen product", ""),
        col("inj_rush", "integer", "injections given in the rush phase", "injections"),
        col("inj_up_dosing", "integer", "injections given in up-dosing (schedules without a rush phase)", "injections"),
        col("inj_consolidation", "integer", "injections given in consolidation", "injections"),
        col("inj_maintenance", "integer", "injections given in maintenance", "injections"),
        col("inj_total", "integer", "all injections given (the denominator of event rates)", "injections"),
        col("sr_any", "boolean", "at least one systemic reaction", ""),
        col("sr_count", "integer", "systemic reactions", "reactions"),
        col("sr_max_grade", "integer", "the highest WAO grade (1-5; WAO 2010 grading); empty: none", "grade"),
        col("sr_epinephrine_any", "boolean", "epinephrine given for any systemic reaction (a WAO suffix other than z)", ""),
        col("sr_onset_min_first", "integer", "the first systemic reaction's onset after the injection", "minutes"),
        col("sr_phase_first", "category", "the phase of the injection before the first systemic reaction", ""),
        col("sr_late_any", "boolean", "a systemic reaction began after the late edge", ""),
        col("sr_late_count", "integer", "systemic reactions that began after the late edge", "reactions"),
        col("lr_any", "boolean", "at least one local reaction above 0 mm (immediate or late)", ""),
        col("lr_count", "integer", "local reactions above 0 mm (immediate and late entries)", "reactions"),
        col("lr_large_any", "boolean", "a local reaction at or above the large edge", ""),
        col("lr_large_count", "integer", "local reactions at or above the large edge", "reactions"),
        col("lr_max_mm", "integer", "the largest local reaction", "mm"),
        col("target_dose", "text", "the plan's maintenance (target) dose", "allergen units"),
        col("reached_target", "boolean", "a dose at or above the target, or a maintenance dose, was given", ""),
    ]);
    if dates == Dates::Shifted {
        c.push(col(
            "target_date_shifted",
            "date",
            "the day the target was first given, shifted by the patient's offset",
            "date",
        ));
    }
    c.extend([
        col("days_to_target", "integer", "days from rush day 1 to the target", "days"),
        col("max_dose_pct_of_target", "decimal", "the highest dose given, percent of the target", "%"),
        col("course_status", "category", "completed (target reached), stopped (before the target), censored (still in up-dosing at the audit date)", ""),
        col("stop_cause", "category", "what stopped it (physician, systemic, ...), when stopped; free text is never exported", ""),
        col("stopped_after_sr", "boolean", "stopped after a systemic reaction", ""),
        col("acq_0", "decimal", "ACQ score at baseline (the mean of a complete form; empty when none is recorded in the window)", "score"),
        col("acq_12m", "decimal", "ACQ score at 12 months", "score"),
        col("acq_delta", "decimal", "ACQ change, 12 months - baseline", "score"),
        col("med_score_0", "decimal", "medication score at baseline", "score"),
        col("med_score_12m", "decimal", "medication score at 12 months", "score"),
        col("med_score_delta", "decimal", "medication score change", "score"),
    ]);
    c
}

fn cell(s: &str) -> String {
    // A spreadsheet runs a cell that opens with = + @ as a formula: such text is quoted inert.
    let s = if s.starts_with(['=', '+', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn json_text<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) | Err(_) => String::new(),
        Ok(other) => other.to_string(),
    }
}

fn row(f: &CourseFacts, key: &StudyKey, dates: Dates) -> (String, Vec<String>) {
    let pk = key.patient(&f.patient_id);
    let ck = key.course(f.course_id);
    let offset = key.shift_days(&pk);
    let shifted = |d: NaiveDate| opt(shift(d, offset));
    let mut v = vec![pk, ck.clone()];
    if dates == Dates::Shifted {
        v.push(shifted(f.rush_day1));
    }
    let age = if f.age_years >= 90 {
        ">=90".to_string()
    } else {
        f.age_years.to_string()
    };
    v.extend([
        f.arm.as_str().to_string(),
        f.omb_doses_before.to_string(),
        opt(f.omb_days_first_dose_to_rush),
        opt(f.omb_weeks_recorded),
        age,
        f.age_group.clone(),
        f.sige.to_string(),
        f.sige_censored.to_string(),
        json_text(&f.sige_class),
        f.sige_band.clone(),
        f.total_ige.to_string(),
        f.tige_band.clone(),
        json_text(&f.ratio_pct),
        f.ratio_band10.clone(),
        f.ratio_band16.clone(),
        f.risk_stratum.clone(),
        f.premedication.required.to_string(),
        f.premedication.taken.to_string(),
        f.premedication.accepted.to_string(),
        f.template_id.clone(),
        f.product.clone(),
        f.injections.rush.to_string(),
        f.injections.up_dosing.to_string(),
        f.injections.consolidation.to_string(),
        f.injections.maintenance.to_string(),
        f.injections.total().to_string(),
        (f.sr.count > 0).to_string(),
        f.sr.count.to_string(),
        opt(f.sr.max_grade),
        f.sr.epinephrine.to_string(),
        opt(f.sr.first_onset_min),
        opt(f.sr.first_phase.map(|p| p.as_str())),
        f.sr.late_any.to_string(),
        f.sr.late_count.to_string(),
        (f.lr.count > 0).to_string(),
        f.lr.count.to_string(),
        (f.lr.large_count > 0).to_string(),
        f.lr.large_count.to_string(),
        opt(f.lr.max_mm),
        f.target.dose.clone(),
        f.target.reached.to_string(),
    ]);
    if dates == Dates::Shifted {
        v.push(f.target.date.map(shifted).unwrap_or_default());
    }
    let u = &f.follow_up;
    v.extend([
        opt(f.target.days),
        opt(f.target.max_pct),
        f.status.as_str().to_string(),
        if f.status == Status::Stopped {
            opt(f.stop_cause.as_deref())
        } else {
            String::new()
        },
        f.stopped_after_sr.to_string(),
        opt(u.acq_0),
        opt(u.acq_12m),
        opt(u.acq_delta),
        opt(u.med_score_0),
        opt(u.med_score_12m),
        opt(u.med_score_delta),
    ]);
    (ck, v)
}

/// The CSV: a header and one row per course, sorted by course key.
pub fn csv(rows: &[CourseFacts], key: &StudyKey, dates: Dates) -> String {
    let mut out = String::new();
    let names: Vec<&str> = columns(dates).iter().map(|c| c.name).collect();
    let _ = writeln!(out, "{}", names.join(","));
    let mut lines: Vec<(String, Vec<String>)> = rows.iter().map(|f| row(f, key, dates)).collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, v) in lines {
        let cells: Vec<String> = v.iter().map(|s| cell(s)).collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

fn cite(p: &Provenance) -> String {
    format!(
        "{} [evidence: {}, certainty: {}]",
        p.source,
        json_text(&p.evidence),
        json_text(&p.certainty)
    )
}

/// The data dictionary (CSV): each column's type, meaning, unit, and for a band or rule its
/// edges with their source and evidence.
pub fn dictionary(rules: &AuditRules, dates: Dates) -> String {
    let (lo10, hi10) = rules.ratio_band10.labels();
    let (lo16, hi16) = rules.ratio_band16.labels();
    let (slo, shi) = rules.sige_labels(6);
    let rule_of = |name: &str| -> String {
        match name {
            "arm" => format!(
                "rit_omb_pre: at least {} omalizumab injection(s) before rush day 1. {}",
                rules.arm_doses_before.value,
                cite(&rules.arm_doses_before.provenance)
            ),
            "age_group" => format!(
                "<{0} / >={0} years. {1}",
                rules.adult_from_years.value,
                cite(&rules.adult_from_years.provenance)
            ),
            "sige_band" => format!(
                "{slo} / {shi} (ImmunoCAP classes). {}",
                cite(&rules.sige_low_max_class.provenance)
            ),
            "tige_band" => format!(
                "{} (kU/L; an edge opens the higher band). {}",
                rules.total_ige_labels().join(" / "),
                cite(&rules.total_ige_edges.provenance)
            ),
            "ratio_band10" => format!(
                "{lo10} / {hi10} %. {}",
                cite(&rules.ratio_band10.provenance)
            ),
            "ratio_band16" => format!(
                "{lo16} / {hi16} %. {}",
                cite(&rules.ratio_band16.provenance)
            ),
            "sr_late_any" | "sr_late_count" => format!(
                "onset more than {} min after the injection. {}",
                rules.late_sr_after_min.value,
                cite(&rules.late_sr_after_min.provenance)
            ),
            "lr_large_any" | "lr_large_count" => format!(
                "{} mm or more. {}",
                rules.large_local_from_mm.value,
                cite(&rules.large_local_from_mm.provenance)
            ),
            "course_status" => format!(
                "censoring rule {}. {}",
                rules.censoring.value,
                cite(&rules.censoring.provenance)
            ),
            "acq_0" | "med_score_0" | "acq_12m" | "med_score_12m" => format!(
                "baseline: the latest in the {} days up to rush day 1; 12 months: the nearest to {} months after rush day 1, within {} months. {}",
                rules.follow_up.baseline_days_before,
                rules.follow_up.at_months,
                rules.follow_up.tolerance_months,
                cite(&rules.follow_up.provenance)
            ),
            "rush_day1_shifted" | "target_date_shifted" => format!(
                "each patient's dates moved by the same number of days (1 to {MAX_SHIFT_DAYS} either way, from the study key): intervals are kept, calendar dates are not"
            ),
            _ => String::new(),
        }
    };
    let mut out = String::from("column,type,meaning,unit,edges_and_source\n");
    for c in columns(dates) {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            cell(c.name),
            cell(c.kind),
            cell(c.meaning),
            cell(c.unit),
            cell(&rule_of(c.name))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_short_key_is_refused_and_a_trailing_newline_is_not_part_of_the_key() {
        let e = StudyKey::new(b"0123456789abcdef0123456789abcde\n").err();
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("31 bytes") && e.contains("at least 32")),
            "{e:?}"
        );
        let with_newline = StudyKey::new(&[KEY, b"\n"].concat()).expect("key");
        let bare = StudyKey::new(KEY).expect("key");
        assert_eq!(with_newline.patient("P1"), bare.patient("P1"));
    }

    #[test]
    fn keys_link_under_one_study_key_only_and_shifts_are_never_zero() {
        let a = StudyKey::new(KEY).expect("key");
        let b = StudyKey::new(b"another study key of 32 bytes!!!").expect("key");
        assert_eq!(a.patient("P1"), a.patient("P1"));
        assert_ne!(a.patient("P1"), a.patient("P2"));
        assert_ne!(a.patient("P1"), b.patient("P1"));
        // Patient and course keys are kept apart: the id "1" gives two keys.
        assert_ne!(a.patient("1"), a.course(1));
        assert_eq!(a.course(7).len(), 64);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let s = a.shift_days(&a.patient(&format!("P{i}")));
            assert!(s != 0 && s.abs() <= MAX_SHIFT_DAYS, "{s}");
            seen.insert(s);
        }
        // Both directions and most of the range are used.
        assert!(seen.contains(&-MAX_SHIFT_DAYS) || seen.contains(&MAX_SHIFT_DAYS));
        assert!(seen.len() > 300, "{}", seen.len());
    }

    #[test]
    fn cells_are_quoted_and_formulas_made_inert() {
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1.5"), "-1.5");
    }

    #[test]
    fn the_dictionary_has_every_column_with_its_edges() {
        let rules = AuditRules::bundled().expect("rules");
        for dates in [Dates::Days, Dates::Shifted] {
            let d = dictionary(&rules, dates);
            for c in columns(dates) {
                assert!(
                    d.lines().any(|l| l.starts_with(&format!("{},", c.name))),
                    "{}",
                    c.name
                );
            }
            assert!(d.contains("<10 / >=10 %"), "{d}");
            assert!(d.contains("<100 / 100-<400 / >=400"), "{d}");
        }
        assert!(!dictionary(&rules, Dates::Days).contains("rush_day1_shifted"));
    }
}
