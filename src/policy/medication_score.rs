//! The clinic's medication score for follow-ups (`rules/medication-score.toml`): a versioned step
//! score from the drugs a patient uses. No standard asthma medication score exists (Kappen et
//! al., Allergy 2023;78:2835-50): the bundled definition is an `example`, and every output that
//! shows a score names the definition and says when it is one.
//!
//! A drug matches a class when its name, as recorded, equals one of the class's names ignoring
//! case and spacing; the score is the highest class score among the drugs, the `[none]` score
//! when none is used. A drug that matches no class leaves the score not computable (never
//! guessed), naming the drug. Like the vial expiry policy, this file is not frozen into a
//! course's rules: a score is computed when it is shown, under the definition it names.

use serde::Serialize;

use super::{Evidence, PolicyError, Provenance, read_provenance};
use crate::course::followup::MedicationUse;
use crate::diag::{Diagnostic, SourceText};
use crate::tomlread::{Diags, Table};

/// The bundled file: (file name, text).
pub const BUNDLED: (&str, &str) = (
    "medication-score.toml",
    include_str!("../../rules/medication-score.toml"),
);

/// The `kind` of a medication score rules file.
pub const KIND: &str = "medication-score";

/// One class of drugs and its step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DrugClass {
    /// Its id (`ics`).
    pub id: String,
    /// Its name in words.
    pub name: String,
    /// Its score.
    pub score: u32,
    /// The drug names it holds, as written in the file.
    pub drugs: Vec<String>,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A medication score definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MedicationScore {
    /// Its id (`example-asthma-step`).
    pub id: String,
    /// Its version (a clinic raises it with every change).
    pub version: u32,
    /// Its name.
    pub name: String,
    /// Where the definition comes from (`example` for the bundled one).
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The score with no drug used.
    pub none: u32,
    /// The classes.
    pub classes: Vec<DrugClass>,
}

/// A follow-up's medication score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MedScore {
    /// Computed.
    Score {
        /// The score.
        value: u32,
        /// The class that gave it (`none` when no drug is used).
        class: String,
    },
    /// At least one drug matches no class: no score (never guessed).
    NotComputable {
        /// The drugs that match no class, as recorded.
        unmatched: Vec<String>,
    },
    /// The follow-up did not record the medication.
    NotRecorded,
}

/// A drug's name for matching: lower case, runs of spaces as one, no space around '/'.
fn norm(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" /", "/")
        .replace("/ ", "/")
        .to_lowercase()
}

impl MedicationScore {
    /// The bundled definition (an example).
    pub fn bundled() -> Result<MedicationScore, PolicyError> {
        MedicationScore::from_source(super::bundled_source(BUNDLED))
    }

    /// Reads a medication score rules file; every problem is reported, located.
    pub fn from_source(src: SourceText) -> Result<MedicationScore, PolicyError> {
        super::read_rules_file(src, read)
    }

    /// Whether the definition is an example (or otherwise not a clinic's checked one): said on
    /// every output that shows its score.
    pub fn is_example(&self) -> bool {
        matches!(
            self.provenance.evidence,
            Evidence::Example | Evidence::Unverified | Evidence::Inference
        )
    }

    /// `example-asthma-step v1 (example)`: the definition named as outputs name it.
    pub fn label(&self) -> String {
        format!(
            "{} v{}{}",
            self.id,
            self.version,
            if self.is_example() {
                " (EXAMPLE definition, not a standard)"
            } else {
                ""
            }
        )
    }

    /// The class of a drug, by its name as recorded.
    pub fn class_of(&self, drug: &str) -> Option<&DrugClass> {
        let d = norm(drug);
        self.classes
            .iter()
            .find(|c| c.drugs.iter().any(|n| norm(n) == d))
    }

    /// The score of a follow-up's medication (`None`: not recorded; empty: none used).
    pub fn score(&self, medication: Option<&[MedicationUse]>) -> MedScore {
        let Some(m) = medication else {
            return MedScore::NotRecorded;
        };
        let unmatched: Vec<String> = m
            .iter()
            .filter(|u| self.class_of(&u.drug).is_none())
            .map(|u| u.drug.clone())
            .collect();
        if !unmatched.is_empty() {
            return MedScore::NotComputable { unmatched };
        }
        m.iter()
            .filter_map(|u| self.class_of(&u.drug))
            .max_by_key(|c| c.score)
            .map_or(
                MedScore::Score {
                    value: self.none,
                    class: "none".into(),
                },
                |c| MedScore::Score {
                    value: c.score,
                    class: c.id.clone(),
                },
            )
    }
}

/// Reads the document of a `kind = "medication-score"` file.
pub fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<MedicationScore> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "format",
            "id",
            "version",
            "name",
            "note",
            "source",
            "evidence",
            "certainty",
            "none",
            "class",
        ],
    );
    super::read_kind_and_format(doc, diags, KIND, "medication score rules")?;
    let id = doc.string(diags, "id", true);
    let version = doc.count(diags, "version", true);
    let name = doc.string(diags, "name", true);
    let provenance = read_provenance(doc, diags);
    let none = doc.sub_table(diags, "none", true).and_then(|t| {
        t.only_keys(diags, &["score", "source", "evidence", "certainty", "note"]);
        let score = t.count(diags, "score", true);
        let _ = read_provenance(&t, diags)?;
        score.map(|s| s.value)
    });
    let mut classes: Vec<DrugClass> = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for t in doc.tables(diags, "class") {
        t.only_keys(
            diags,
            &[
                "id",
                "name",
                "score",
                "drugs",
                "source",
                "evidence",
                "certainty",
                "note",
            ],
        );
        let cid = t.string(diags, "id", true);
        let cname = t.string(diags, "name", true);
        let score = t.count(diags, "score", true);
        let drugs = t.strings(diags, "drugs", true);
        let p = read_provenance(&t, diags);
        if let Some(c) = &cid
            && classes.iter().any(|k| k.id == c.value)
        {
            diags.push(Diagnostic::error(
                "duplicate-id",
                c.at(),
                format!("a second class is named {:?}", c.value),
            ));
        }
        if let (Some(c), Some(list)) = (&cid, &drugs) {
            if list.is_empty() {
                diags.push(Diagnostic::error(
                    "bad-value",
                    t.at(),
                    format!("class {:?} names no drug", c.value),
                ));
            }
            for d in list {
                let n = norm(&d.value);
                if n.is_empty() {
                    diags.push(Diagnostic::error(
                        "bad-value",
                        d.at(),
                        format!("class {:?}: an empty drug name", c.value),
                    ));
                } else if let Some((_, other)) = seen.iter().find(|(s, _)| *s == n) {
                    // One drug in two classes would make its score depend on the file's order.
                    diags.push(Diagnostic::error(
                        "duplicate-id",
                        d.at(),
                        format!(
                            "{:?} is already in class {other:?}: a drug belongs to one class",
                            d.value
                        ),
                    ));
                } else {
                    seen.push((n, c.value.clone()));
                }
            }
        }
        if let (Some(cid), Some(cname), Some(score), Some(drugs), Some(provenance)) =
            (cid, cname, score, drugs, p)
        {
            classes.push(DrugClass {
                id: cid.value,
                name: cname.value,
                score: score.value,
                drugs: drugs.into_iter().map(|d| d.value).collect(),
                provenance,
            });
        }
    }
    Some(MedicationScore {
        id: id?.value,
        version: version?.value,
        name: name?.value,
        provenance: provenance?,
        none: none?,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::followup::DailyDose;

    fn used(drugs: &[&str]) -> Vec<MedicationUse> {
        drugs
            .iter()
            .map(|d| MedicationUse {
                drug: (*d).to_string(),
                daily_dose: DailyDose::parse("1 mg").expect("dose"),
            })
            .collect()
    }

    #[test]
    fn the_bundled_definition_is_an_example_and_scores_by_the_highest_step() {
        let m = MedicationScore::bundled().expect("bundled medication score");
        assert!(m.is_example());
        assert_eq!((m.id.as_str(), m.version), ("example-asthma-step", 1));
        assert!(m.label().contains("EXAMPLE"), "{}", m.label());
        let score = |d: &[&str]| m.score(Some(&used(d)));
        assert_eq!(
            score(&[]),
            MedScore::Score {
                value: 0,
                class: "none".into()
            }
        );
        assert_eq!(
            score(&["Salbutamol"]),
            MedScore::Score {
                value: 1,
                class: "saba".into()
            }
        );
        assert_eq!(
            score(&["salbutamol", "  Budesonide / Formoterol "]),
            MedScore::Score {
                value: 3,
                class: "ics-laba".into()
            }
        );
        assert_eq!(
            score(&["prednisolone", "budesonide"]),
            MedScore::Score {
                value: 4,
                class: "ocs".into()
            }
        );
        assert_eq!(
            score(&["budesonide", "montelukast", "Xolair"]),
            MedScore::NotComputable {
                unmatched: vec!["montelukast".into(), "Xolair".into()]
            }
        );
        assert_eq!(m.score(None), MedScore::NotRecorded);
    }

    #[test]
    fn a_broken_file_is_refused_with_located_errors() {
        let (_, text) = BUNDLED;
        let load = |t: String| MedicationScore::from_source(SourceText::new("m.toml", t));
        assert!(load(text.to_string()).is_ok());
        // A drug in two classes.
        let twice = text.replace("\"terbutaline\"]", "\"terbutaline\", \"Budesonide\"]");
        let e = load(twice).expect_err("a drug in two classes");
        let d = &e.files[0].1;
        assert!(
            d.iter()
                .any(|d| d.message.contains("already in class") && d.span.is_some()),
            "{d:?}"
        );
        for broken in [
            text.replace("version = 1\n", ""),
            text.replace("score = 2", "score = -2"),
            text.replace(
                "evidence = \"example\"\ncertainty = \"U\"\n\n[none]",
                "certainty = \"U\"\n\n[none]",
            ),
            text.replace("kind = \"medication-score\"", "kind = \"vial-expiry\""),
            text.replace("[none]\nscore = 0", "[none]\nscor = 0"),
            text.replace("id = \"ocs\"", "id = \"ics\""),
        ] {
            assert!(load(broken.clone()).is_err(), "{broken}");
        }
    }
}
