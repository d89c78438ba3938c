//! Eligibility at course start (`rules/eligibility.toml`): the patient values a course cannot
//! start without, and the youngest age each product is given at.

use serde::Serialize;

use super::{Provenance, read_provenance};
use crate::diag::Diagnostic;
use crate::tomlread::{Diags, Table};

/// A patient value that must be recorded before a course starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Required {
    /// FEV1 % predicted.
    Fev1,
    /// Asthma control.
    Asthma,
}

impl Required {
    /// What the patient record calls it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Required::Fev1 => "FEV1 % predicted",
            Required::Asthma => "asthma status (controlled, partly or uncontrolled)",
        }
    }
}

/// One product's rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    /// The id templates name with `product_id`.
    pub id: String,
    /// A readable name.
    pub name: String,
    /// The youngest age, whole years.
    pub min_age_years: u32,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// One question asked before each injection; a dose is given only when every answer is "no".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Question {
    /// Its id (the form's field).
    pub id: String,
    /// The question, asked of the patient.
    pub question: String,
    /// What to do when the answer is yes (the dose is not given now).
    pub if_yes: String,
    /// Where it comes from.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// Eligibility rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    /// Values required before a course starts.
    pub require: Vec<Required>,
    /// Their provenance.
    pub require_provenance: Provenance,
    /// Products.
    pub products: Vec<Product>,
    /// The pre-injection questions (none in rules frozen before they were data: the page then
    /// asks the one question the CLI's `--screen ok` stands for).
    pub questions: Vec<Question>,
}

impl Eligibility {
    /// A product's rules.
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }
}

/// Reads a `kind = "eligibility"` file.
pub(super) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<Eligibility> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "note",
            "before_start",
            "product",
            "pre_injection",
        ],
    );
    let prov = ["source", "evidence", "certainty", "note"];
    let before = doc.sub_table(diags, "before_start", true).and_then(|t| {
        let mut k = vec!["require"];
        k.extend(prov);
        t.only_keys(diags, &k);
        let p = read_provenance(&t, diags);
        let mut require = Vec::new();
        let list = t.strings(diags, "require", true)?;
        for item in list {
            match item.value.as_str() {
                "fev1" => require.push(Required::Fev1),
                "asthma" => require.push(Required::Asthma),
                other => diags.push(
                    Diagnostic::error(
                        "unknown-kind",
                        item.at(),
                        format!("{other:?} is not a patient value ritplan can require"),
                    )
                    .with_help("use \"fev1\" or \"asthma\""),
                ),
            }
        }
        Some((require, p?))
    });
    let mut products: Vec<Product> = Vec::new();
    for t in doc.tables(diags, "product") {
        let mut k = vec!["id", "name", "min_age_years"];
        k.extend(prov);
        t.only_keys(diags, &k);
        let id = t.string(diags, "id", true);
        let name = t.string(diags, "name", true);
        let age = t.count(diags, "min_age_years", true);
        let p = read_provenance(&t, diags);
        if let (Some(id), Some(name), Some(age), Some(p)) = (id, name, age, p) {
            if products.iter().any(|x| x.id == id.value) {
                diags.push(Diagnostic::error(
                    "duplicate-id",
                    id.at(),
                    format!("a second [[product]] is named {:?}", id.value),
                ));
                continue;
            }
            products.push(Product {
                id: id.value,
                name: name.value,
                min_age_years: age.value,
                provenance: p,
            });
        }
    }
    let mut questions: Vec<Question> = Vec::new();
    for t in doc.tables(diags, "pre_injection") {
        let mut k = vec!["id", "question", "if_yes"];
        k.extend(prov);
        t.only_keys(diags, &k);
        let id = t.string(diags, "id", true);
        let question = t.string(diags, "question", true);
        let if_yes = t.string(diags, "if_yes", true);
        let p = read_provenance(&t, diags);
        if let (Some(id), Some(question), Some(if_yes), Some(p)) = (id, question, if_yes, p) {
            if questions.iter().any(|x| x.id == id.value)
                || !id
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                diags.push(Diagnostic::error(
                    "duplicate-id",
                    id.at(),
                    format!(
                        "{:?}: each [[pre_injection]] needs its own id of letters, digits and '-'",
                        id.value
                    ),
                ));
                continue;
            }
            questions.push(Question {
                id: id.value,
                question: question.value,
                if_yes: if_yes.value,
                provenance: p,
            });
        }
    }
    let (require, require_provenance) = before?;
    Some(Eligibility {
        require,
        require_provenance,
        products,
        questions,
    })
}
