//! Omalizumab dosing tables (`rules/omalizumab-*.toml`) and the exact-cell lookup: no
//! interpolation, and "not dosable per label" outside the grid.

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Provenance, read_provenance};
use crate::diag::Diagnostic;
use crate::tomlread::{Diags, Table};

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cell", rename_all = "snake_case")]
pub enum Cell {
    /// A dose every 2 or 4 weeks.
    Dose {
        /// mg per administration.
        dose_mg: u32,
        /// Weeks between administrations.
        every_weeks: u32,
    },
    /// Insufficient data to recommend a dose.
    NotDosable,
    /// The sources disagree; candidates (`None` = not dosable), not to be used until checked.
    Unverified {
        /// Candidate doses in mg (`None` = not dosable).
        candidates: Vec<Option<u32>>,
        /// Weeks between administrations.
        every_weeks: u32,
    },
}

/// A label's dosing grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OmalizumabTable {
    /// `eu` or `us`.
    pub id: String,
    /// Readable name.
    pub name: String,
    /// The table applies from this age.
    pub min_age_years: u32,
    /// Below `min_age_years` but from this age a table exists that ritplan lacks: say so.
    pub missing_table_from_years: Option<(u32, String)>,
    /// IgE bands (IU/mL).
    pub ige_bands: Vec<(Decimal, Decimal)>,
    /// Weight bands (kg).
    pub weight_bands: Vec<(Decimal, Decimal)>,
    /// Rows by IgE band, columns by weight band.
    pub cells: Vec<Vec<Cell>>,
    /// Syringe sizes, mg, largest first.
    pub syringes_mg: Vec<u32>,
    /// The most that may go in one injection site.
    pub max_mg_per_site: u32,
    /// Provenance by interval: (every_weeks, provenance).
    pub provenance: Vec<(u32, Provenance)>,
}

/// What the label says for a patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Dosing {
    /// A dose.
    Dose {
        /// mg per administration.
        dose_mg: u32,
        /// Weeks between administrations.
        every_weeks: u32,
        /// Injections per administration (no more than the per-site maximum each).
        injections: u32,
        /// Pre-filled syringes: (size mg, count), largest first.
        syringes: Vec<(u32, u32)>,
        /// Where the cell comes from.
        provenance: Option<Provenance>,
    },
    /// Outside the grid, or a "—" cell.
    NotDosable {
        /// Why.
        reason: String,
    },
    /// A disputed cell.
    Unverified {
        /// Candidate doses (mg; `None` = not dosable).
        candidates: Vec<Option<u32>>,
        /// Weeks between administrations.
        every_weeks: u32,
    },
    /// The label has a table for this age that ritplan does not hold.
    NoTable {
        /// What to do instead.
        note: String,
    },
}

fn band_index(bands: &[(Decimal, Decimal)], x: Decimal) -> Option<usize> {
    // The first band includes its lower bound (">=30-100", ">=20-25"); the others are
    // "lower < x <= upper".
    bands.iter().enumerate().position(|(i, (lo, hi))| {
        let above_lo = if i == 0 { x >= *lo } else { x > *lo };
        above_lo && x <= *hi
    })
}

impl OmalizumabTable {
    /// Looks up one exact cell. `ige` is the **pre-treatment** total IgE.
    pub fn lookup(&self, ige_iu_ml: Decimal, weight_kg: Decimal, age_years: u32) -> Dosing {
        if age_years < self.min_age_years {
            if let Some((from, note)) = &self.missing_table_from_years
                && age_years >= *from
            {
                return Dosing::NoTable { note: note.clone() };
            }
            return Dosing::NotDosable {
                reason: format!("the {} table applies from age {}; the patient is {age_years}", self.id.to_uppercase(), self.min_age_years),
            };
        }
        let (Some(first_ige), Some(last_ige)) = (self.ige_bands.first(), self.ige_bands.last()) else {
            return Dosing::NotDosable { reason: "the table is empty".into() };
        };
        let Some(row) = band_index(&self.ige_bands, ige_iu_ml) else {
            return Dosing::NotDosable {
                reason: format!(
                    "total IgE {} IU/mL is outside the table ({}–{} IU/mL)",
                    ige_iu_ml.normalize(),
                    first_ige.0.normalize(),
                    last_ige.1.normalize()
                ),
            };
        };
        let (Some(first_w), Some(last_w)) = (self.weight_bands.first(), self.weight_bands.last()) else {
            return Dosing::NotDosable { reason: "the table is empty".into() };
        };
        let Some(col) = band_index(&self.weight_bands, weight_kg) else {
            return Dosing::NotDosable {
                reason: format!(
                    "weight {} kg is outside the table ({}–{} kg)",
                    weight_kg.normalize(),
                    first_w.0.normalize(),
                    last_w.1.normalize()
                ),
            };
        };
        match &self.cells[row][col] {
            Cell::Dose { dose_mg, every_weeks } => {
                let syringes = self.syringes_for(*dose_mg);
                Dosing::Dose {
                    dose_mg: *dose_mg,
                    every_weeks: *every_weeks,
                    injections: syringes.iter().map(|(_, n)| n).sum(),
                    syringes,
                    provenance: self.provenance.iter().find(|(w, _)| w == every_weeks).map(|(_, p)| p.clone()),
                }
            }
            Cell::NotDosable => Dosing::NotDosable {
                reason: format!(
                    "the label gives no dose for total IgE {} IU/mL at {} kg (insufficient data)",
                    ige_iu_ml.normalize(),
                    weight_kg.normalize()
                ),
            },
            Cell::Unverified { candidates, every_weeks } => Dosing::Unverified {
                candidates: candidates.clone(),
                every_weeks: *every_weeks,
            },
        }
    }

    /// Syringes for a dose, largest first; each syringe is one injection site as long as no
    /// syringe exceeds the per-site maximum (checked when the table is read).
    pub fn syringes_for(&self, dose_mg: u32) -> Vec<(u32, u32)> {
        let mut left = dose_mg;
        let mut out = Vec::new();
        for &size in &self.syringes_mg {
            let n = left / size;
            if n > 0 {
                out.push((size, n));
                left -= n * size;
            }
        }
        out
    }
}

fn parse_cell(text: &str) -> Option<Cell> {
    let text = text.trim();
    if text == "-" {
        return Some(Cell::NotDosable);
    }
    if let Some(rest) = text.strip_prefix('?') {
        let (cands, weeks) = rest.split_once('/')?;
        let candidates = cands
            .split('|')
            .map(|c| if c == "-" { Some(None) } else { c.parse().ok().map(Some) })
            .collect::<Option<Vec<_>>>()?;
        return Some(Cell::Unverified {
            candidates,
            every_weeks: weeks.parse().ok()?,
        });
    }
    let (dose, weeks) = text.split_once('/')?;
    Some(Cell::Dose {
        dose_mg: dose.parse().ok()?,
        every_weeks: weeks.parse().ok()?,
    })
}

/// Reads a `kind = "omalizumab-table"` file.
pub(super) fn read(doc: &Table<'_, '_>, diags: &mut Diags) -> Option<OmalizumabTable> {
    doc.only_keys(
        diags,
        &[
            "kind",
            "id",
            "name",
            "note",
            "min_age_years",
            "missing_table_below_years",
            "ige_bands_iu_ml",
            "weight_bands_kg",
            "cells",
            "syringes_mg",
            "max_mg_per_site",
            "provenance",
        ],
    );
    let id = doc.string(diags, "id", true);
    let name = doc.string(diags, "name", true);
    let min_age = doc.count(diags, "min_age_years", true);
    let missing = doc.sub_table(diags, "missing_table_below_years", false).and_then(|t| {
        t.only_keys(diags, &["from_years", "note"]);
        let from = t.count(diags, "from_years", true);
        let note = t.string(diags, "note", true);
        Some((from?.value, note?.value))
    });
    let ige = doc.decimal_pairs(diags, "ige_bands_iu_ml", true);
    let weight = doc.decimal_pairs(diags, "weight_bands_kg", true);
    let grid = doc.string_grid(diags, "cells", true);
    let syringes: Vec<u32> = doc.counts(diags, "syringes_mg").unwrap_or_default().into_iter().map(|s| s.value).collect();
    let max_site = doc.count(diags, "max_mg_per_site", true);
    let mut provenance = Vec::new();
    for t in doc.tables(diags, "provenance") {
        t.only_keys(diags, &["every_weeks", "source", "evidence", "certainty", "note"]);
        let w = t.count(diags, "every_weeks", true);
        let p = read_provenance(&t, diags);
        if let (Some(w), Some(p)) = (w, p) {
            provenance.push((w.value, p));
        }
    }
    let (ige, weight, grid) = (ige?, weight?, grid?);
    for bands in [&ige, &weight] {
        for (i, b) in bands.iter().enumerate() {
            let ordered = b.value.0 < b.value.1 && (i == 0 || bands[i - 1].value.1 == b.value.0);
            if !ordered {
                diags.push(Diagnostic::error("bad-bands", b.at(), "bands must be ascending and contiguous (each starts where the previous ends)"));
            }
        }
    }
    if grid.len() != ige.len() {
        diags.push(Diagnostic::error("bad-grid", None, format!("`cells` has {} rows, but there are {} IgE bands", grid.len(), ige.len())));
        return None;
    }
    let mut cells = Vec::new();
    for row in &grid {
        if row.len() != weight.len() {
            diags.push(Diagnostic::error(
                "bad-grid",
                row.first().and_then(|c| c.at()),
                format!("this row has {} cells, but there are {} weight bands", row.len(), weight.len()),
            ));
            return None;
        }
        let mut r = Vec::new();
        for c in row {
            match parse_cell(&c.value) {
                Some(cell) => r.push(cell),
                None => {
                    diags.push(
                        Diagnostic::error("bad-cell", c.at(), format!("cell {:?} is not a dose", c.value))
                            .with_help("write \"DOSE/WEEKS\" (\"300/4\"), \"-\", or \"?A|B/WEEKS\" for a disputed cell"),
                    );
                    return None;
                }
            }
        }
        cells.push(r);
    }
    let max_site = max_site?.value;
    if syringes.is_empty() || syringes.iter().any(|s| *s == 0 || *s > max_site) || syringes.windows(2).any(|w| w[0] <= w[1]) {
        diags.push(Diagnostic::error(
            "bad-syringes",
            None,
            "`syringes_mg` must list sizes from largest to smallest, none above max_mg_per_site",
        ));
        return None;
    }
    let smallest = syringes[syringes.len() - 1];
    for c in cells.iter().flatten() {
        if let Cell::Dose { dose_mg, every_weeks } = c {
            if dose_mg % smallest != 0 {
                diags.push(Diagnostic::error("bad-cell", None, format!("a dose of {dose_mg} mg cannot be made from {smallest} mg syringes")));
            }
            if !provenance.iter().any(|(w, _)| w == every_weeks) {
                diags.push(Diagnostic::error("missing-provenance", None, format!("no [[provenance]] for doses every {every_weeks} weeks")));
            }
        }
    }
    Some(OmalizumabTable {
        id: id?.value,
        name: name?.value,
        min_age_years: min_age?.value,
        missing_table_from_years: missing,
        ige_bands: ige.into_iter().map(|b| b.value).collect(),
        weight_bands: weight.into_iter().map(|b| b.value).collect(),
        cells,
        syringes_mg: syringes,
        max_mg_per_site: max_site,
        provenance,
    })
}
