//! The scan before a dose: the patient's wristband and the vial in the nurse's hand, checked
//! against the course and the dose the decision calls for. Pure: the caller passes the course's
//! state, the dose's template vial, the scans (as the scanner typed them, normalised here) and
//! the day of the dose.
//!
//! A keyboard-wedge scanner types what it reads, often with noise around it: a symbology
//! identifier first (`]d2` Data Matrix, `]C1` Code 128, `]Q3` QR…), a CR or LF (the Enter that
//! ends a scan), a NUL, a byte-order mark, spaces. [`normalise`] takes all of that off, in one
//! place; a vial code is then compared without regard to case ([`vial_code`]), a patient's ID
//! exactly as it is printed on `ritplan label patient` ([`patient_code`]).

use chrono::NaiveDate;
use serde::Serialize;

use super::state::{CourseState, VialState, VialStatus};
use crate::template::Template;
use crate::units::Concentration;

/// The scanned text without a scanner's noise: a leading byte-order mark, NULs, CR and LF
/// anywhere, spaces around it, and a leading symbology identifier (`]` followed by a letter and
/// a digit, e.g. `]d2`, `]C1`, `]Q3`, `]C0`).
pub fn normalise(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, '\u{feff}' | '\0' | '\r' | '\n'))
        .collect();
    let mut t = cleaned.trim();
    let b = t.as_bytes();
    if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_digit() {
        t = t[3..].trim();
    }
    t.to_string()
}

/// A scanned vial code, normalised and in upper case (`]d2v000123\r` → `V000123`).
pub fn vial_code(raw: &str) -> String {
    normalise(raw).to_ascii_uppercase()
}

/// A scanned patient code (the patient's ID as the wristband's Code 128 or Data Matrix holds it),
/// normalised; compared exactly.
pub fn patient_code(raw: &str) -> String {
    normalise(raw)
}

/// Which scans the clinic requires before every dose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Required {
    /// The patient's wristband.
    pub patient: bool,
    /// The vial.
    pub vial: bool,
}

/// What was scanned, normalised ([`patient_code`], [`vial_code`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scans<'a> {
    /// The patient's code.
    pub patient: Option<&'a str>,
    /// The vial's code.
    pub vial: Option<&'a str>,
}

/// A template vial: its id and strength.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VialStrength {
    /// The template's vial id.
    pub vial: String,
    /// Its strength per mL (unknown for a vial the template no longer names).
    pub strength: Option<Concentration>,
}

/// What a scan missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanWhat {
    /// The patient's wristband.
    Patient,
    /// The vial.
    Vial,
}

/// Why a scan refuses the dose. No override lifts any of these. In words:
/// `render::course::scan_refusal`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum ScanRefusal {
    /// The wristband scanned is another patient's.
    WrongPatient {
        /// The code scanned.
        scanned: String,
        /// The course's patient.
        expected: String,
    },
    /// The vial is not one of this course's (another patient's vial, or an unknown code).
    NotThisCourse {
        /// The code scanned.
        code: String,
    },
    /// The vial is of another strength than the dose needs.
    WrongStrength {
        /// The scanned vial's template vial.
        vial: VialStrength,
        /// The dose's.
        needed: VialStrength,
    },
    /// The vial's expiry is before the dose's day.
    Expired {
        /// The vial's code.
        code: String,
        /// Its effective expiry.
        on: NaiveDate,
    },
    /// The vial was taken out of use.
    Discarded {
        /// The vial's code.
        code: String,
        /// Why.
        reason: String,
    },
    /// The clinic requires a scan that was not made.
    ScanMissing {
        /// Which scan.
        what: ScanWhat,
    },
    /// A lot typed for the dose is not the scanned vial's lot.
    LotDisagrees {
        /// The lot typed.
        typed: String,
        /// The vial's code.
        code: String,
        /// The vial's lot.
        lot: String,
    },
}

fn strength_of(template: &Template, vial: &str) -> VialStrength {
    VialStrength {
        vial: vial.to_string(),
        strength: template.vial(vial).map(|v| v.concentration),
    }
}

/// Checks the scans before a dose of the template's vial `needed` on `date`, on the course whose
/// patient is `patient` and whose state is `state`: the scans the clinic requires were made, the
/// wristband is the course's patient, and the vial is one of the course's, neither discarded nor
/// expired on `date` (a vial is usable on its expiry day), of the strength the dose needs.
/// `Ok(Some(vial))` for a vial scanned, `Ok(None)` when no vial was scanned (and none required).
pub fn check<'s>(
    state: &'s CourseState,
    template: &Template,
    needed: &str,
    scans: Scans<'_>,
    patient: &str,
    date: NaiveDate,
    required: Required,
) -> Result<Option<&'s VialState>, ScanRefusal> {
    if required.patient && scans.patient.is_none() {
        return Err(ScanRefusal::ScanMissing {
            what: ScanWhat::Patient,
        });
    }
    if required.vial && scans.vial.is_none() {
        return Err(ScanRefusal::ScanMissing {
            what: ScanWhat::Vial,
        });
    }
    if let Some(scanned) = scans.patient
        && scanned != patient
    {
        return Err(ScanRefusal::WrongPatient {
            scanned: scanned.to_string(),
            expected: patient.to_string(),
        });
    }
    let Some(code) = scans.vial else {
        return Ok(None);
    };
    let Some(v) = state.vials.iter().find(|v| v.code == code) else {
        return Err(ScanRefusal::NotThisCourse {
            code: code.to_string(),
        });
    };
    match v.state_on(date) {
        VialStatus::Discarded => {
            return Err(ScanRefusal::Discarded {
                code: v.code.clone(),
                reason: v
                    .discarded
                    .as_ref()
                    .map(|(_, r)| r.clone())
                    .unwrap_or_default(),
            });
        }
        VialStatus::Expired => {
            return Err(ScanRefusal::Expired {
                code: v.code.clone(),
                on: v.expires,
            });
        }
        VialStatus::Active => {}
    }
    if v.vial != needed {
        return Err(ScanRefusal::WrongStrength {
            vial: strength_of(template, &v.vial),
            needed: strength_of(template, needed),
        });
    }
    Ok(Some(v))
}

/// The lot a dose records: the scanned vial's, which a typed lot must equal; else the typed one.
pub fn lot(typed: Option<&str>, vial: Option<&VialState>) -> Result<Option<String>, ScanRefusal> {
    match (typed, vial) {
        (Some(t), Some(v)) if t.trim() != v.lot => Err(ScanRefusal::LotDisagrees {
            typed: t.trim().to_string(),
            code: v.code.clone(),
            lot: v.lot.clone(),
        }),
        (_, Some(v)) => Ok(Some(v.lot.clone())),
        (t, None) => Ok(t.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn vial(code: &str, id: &str, expires: &str, discarded: Option<&str>) -> VialState {
        let at = NaiveDateTime::parse_from_str("2026-12-01 08:00", "%Y-%m-%d %H:%M").expect("at");
        VialState {
            code: code.into(),
            vial: id.into(),
            lot: format!("LOT-{code}"),
            lot_expires: d(expires),
            expires: d(expires),
            expiry_rule: None,
            manufacturer: None,
            prepared: None,
            volume_ml: None,
            gtin: None,
            serial: None,
            added_at: at,
            discarded: discarded.map(|r| (at, r.to_string())),
            doses_drawn: 0,
        }
    }

    fn state() -> CourseState {
        let mut s = CourseState::new();
        s.vials = vec![
            vial("V000001", "4", "2026-11-30", None),
            vial("V000002", "3", "2027-03-31", None),
            vial("V000003", "4", "2027-03-31", Some("dropped")),
            vial("V000004", "4", "2027-03-31", None),
        ];
        s
    }

    fn template() -> Template {
        let b = crate::testkit::bundled();
        b.catalog
            .get("example-hdm-rush-3d")
            .expect("template")
            .clone()
    }

    #[test]
    fn wedge_noise_is_taken_off_in_one_place() {
        for raw in [
            "V000123",
            "]d2V000123",
            "]C1V000123\r\n",
            "]Q3 V000123\n",
            "\u{feff}V000123\0",
            "  v000123  ",
            "]d2v000123\r",
        ] {
            assert_eq!(vial_code(raw), "V000123", "{raw:?}");
        }
        assert_eq!(patient_code("]C0P-000123\r"), "P-000123");
        assert_eq!(
            patient_code("\u{feff}p1\n"),
            "p1",
            "a patient's ID keeps its case"
        );
        // Only a leading identifier: a `]` later is part of the code.
        assert_eq!(normalise("AB]d2"), "AB]d2");
        assert_eq!(normalise("]d"), "]d");
        assert_eq!(normalise("\r\n"), "");
    }

    #[test]
    fn each_refusal_names_what_is_wrong() {
        let (s, t) = (state(), template());
        let day = d("2026-12-01");
        let both = Required {
            patient: true,
            vial: true,
        };
        let scans = |p: Option<&'static str>, v: Option<&'static str>| Scans {
            patient: p,
            vial: v,
        };
        let ok = check(
            &s,
            &t,
            "4",
            scans(Some("P1"), Some("V000004")),
            "P1",
            day,
            both,
        );
        assert_eq!(
            ok.map(|v| v.map(|v| v.code.clone())),
            Ok(Some("V000004".into()))
        );
        assert_eq!(
            check(&s, &t, "4", scans(None, Some("V000004")), "P1", day, both),
            Err(ScanRefusal::ScanMissing {
                what: ScanWhat::Patient
            })
        );
        assert_eq!(
            check(&s, &t, "4", scans(Some("P1"), None), "P1", day, both),
            Err(ScanRefusal::ScanMissing {
                what: ScanWhat::Vial
            })
        );
        assert_eq!(
            check(
                &s,
                &t,
                "4",
                scans(Some("P2"), Some("V000004")),
                "P1",
                day,
                both
            ),
            Err(ScanRefusal::WrongPatient {
                scanned: "P2".into(),
                expected: "P1".into()
            })
        );
        assert_eq!(
            check(
                &s,
                &t,
                "4",
                scans(None, Some("V000099")),
                "P1",
                day,
                Required::default()
            ),
            Err(ScanRefusal::NotThisCourse {
                code: "V000099".into()
            })
        );
        let wrong = check(
            &s,
            &t,
            "4",
            scans(None, Some("V000002")),
            "P1",
            day,
            Required::default(),
        );
        let Err(ScanRefusal::WrongStrength { vial, needed }) = wrong else {
            panic!("{wrong:?}")
        };
        assert_eq!((vial.vial.as_str(), needed.vial.as_str()), ("3", "4"));
        assert_eq!(
            vial.strength.map(|c| c.to_string()).as_deref(),
            Some("10 000 SQ-U/mL")
        );
        assert_eq!(
            check(
                &s,
                &t,
                "4",
                scans(None, Some("V000003")),
                "P1",
                day,
                Required::default()
            ),
            Err(ScanRefusal::Discarded {
                code: "V000003".into(),
                reason: "dropped".into()
            })
        );
        // Usable on its expiry day, refused the day after.
        assert!(
            check(
                &s,
                &t,
                "4",
                scans(None, Some("V000001")),
                "P1",
                d("2026-11-30"),
                Required::default()
            )
            .is_ok()
        );
        assert_eq!(
            check(
                &s,
                &t,
                "4",
                scans(None, Some("V000001")),
                "P1",
                day,
                Required::default()
            ),
            Err(ScanRefusal::Expired {
                code: "V000001".into(),
                on: d("2026-11-30")
            })
        );
        // Nothing required, nothing scanned: no vial.
        assert_eq!(
            check(
                &s,
                &t,
                "4",
                Scans::default(),
                "P1",
                day,
                Required::default()
            ),
            Ok(None)
        );
    }

    #[test]
    fn the_lot_comes_from_the_scanned_vial() {
        let v = vial("V000004", "4", "2027-03-31", None);
        assert_eq!(lot(None, Some(&v)), Ok(Some("LOT-V000004".into())));
        assert_eq!(
            lot(Some("LOT-V000004"), Some(&v)),
            Ok(Some("LOT-V000004".into()))
        );
        assert_eq!(
            lot(Some("ZZ9"), Some(&v)),
            Err(ScanRefusal::LotDisagrees {
                typed: "ZZ9".into(),
                code: "V000004".into(),
                lot: "LOT-V000004".into()
            })
        );
        assert_eq!(lot(Some("A1"), None), Ok(Some("A1".into())));
        assert_eq!(lot(None, None), Ok(None));
    }
}
