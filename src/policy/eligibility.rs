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
            Required::Fev1 => "FEV1 % predicted (patient --fev1)",
            Required::Asthma => "asthma status (patient --asthma controlled|partly|uncontrolled)",
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

/// Eligibility rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    /// Values required before a course starts.
    pub require: Vec<Required>,
    /// Their provenance.
    pub require_provenance: Provenance,
    /// Products.
    pub products: Vec<Product>,
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
        &["kind", "id", "name", "note", "before_start", "product"],
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
    let (require, require_provenance) = before?;
    Some(Eligibility {
        require,
        require_provenance,
        products,
    })
}
