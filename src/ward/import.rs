//! Bulk load of patients from a CSV file (trials, benchmarks, a clinic moving in): every row
//! validated as `patient add` validates one, every error reported with its line, and nothing
//! written unless every row is good (one transaction).
//!
//! The file: RFC 4180 CSV (commas, double quotes around a field that holds a comma, a quote or
//! a line break, `""` for a quote), UTF-8, a header naming the columns in any order —
//! `id`, `name`, `dob` (YYYY-MM-DD), `weight` (kg), `sige` (kUA/L, censored values such as
//! `<0.35` allowed), `total_ige` (kU/L) required; `fev1` (% predicted), `asthma`
//! (controlled, partly, uncontrolled), `beta_blocker` (yes/no) optional.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};

use super::{Actor, Role, Ward, WardError, text};
use crate::field::Field;
use crate::patient::{Patient, PatientError, PatientInput};
use crate::policy::risk::AsthmaControl;
use crate::store::PatientRecord;

/// At most this many rows in one file (a bound on memory and on one transaction).
pub const MAX_ROWS: usize = 100_000;

/// At most this many errors are listed.
const MAX_ERRORS: usize = 50;

/// One bad row (or the file itself, at line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The line the row starts on, from 1.
    pub line: usize,
    /// What is wrong, naming the column.
    pub message: String,
}

/// Why nothing was imported.
#[derive(Debug)]
pub enum ImportError {
    /// Rows were bad (all of them listed, up to 50); nothing was written.
    Rows(Vec<RowError>),
    /// The ward refused (role, store).
    Ward(WardError),
}

impl From<WardError> for ImportError {
    fn from(e: WardError) -> Self {
        ImportError::Ward(e)
    }
}

/// The records of a CSV text, each with the line it starts on.
pub fn parse_csv(input: &str) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = input
        .strip_prefix('\u{feff}')
        .unwrap_or(input)
        .chars()
        .peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => {
                return Err(RowError {
                    line,
                    message: "a double quote inside an unquoted field: quote the whole field and write the quote twice".into(),
                });
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push((start, std::mem::take(&mut row)));
                } else {
                    row.clear();
                }
                line += 1;
                start = line;
                at_field_start = true;
                if rows.len() > MAX_ROWS + 1 {
                    return Err(RowError {
                        line,
                        message: format!("more than {MAX_ROWS} rows: split the file"),
                    });
                }
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(RowError {
            line: start,
            message: "a quoted field is not closed".into(),
        });
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push((start, row));
    }
    Ok(rows)
}

const REQUIRED: [&str; 6] = ["id", "name", "dob", "weight", "sige", "total_ige"];
const OPTIONAL: [&str; 3] = ["fev1", "asthma", "beta_blocker"];

/// A patient's values as the planner will read them (weight, laboratory values, lung function,
/// the age from the date of birth on `on`): the one check of a patient's record, for every way
/// one is added (`patient add`, an import, any later front end).
pub fn patient_values(p: &PatientRecord, on: NaiveDate) -> Result<Patient, PatientError> {
    Patient::from_input(
        &PatientInput {
            dob: Some(p.dob),
            weight_kg: Some(p.weight_kg.clone()),
            sige: Some(p.sige.clone()),
            total_ige: Some(p.total_ige.clone()),
            fev1_percent: p.fev1_percent.clone(),
            asthma: p.asthma.as_deref().and_then(|a| a.parse().ok()),
            beta_blocker: p.beta_blocker,
            ..PatientInput::default()
        },
        on,
    )
}

/// The patients of a CSV text, validated at `today`, or every row's errors.
pub fn patients(input: &str, today: NaiveDate) -> Result<Vec<PatientRecord>, Vec<RowError>> {
    let rows = parse_csv(input).map_err(|e| vec![e])?;
    let Some(((_, header), body)) = rows.split_first() else {
        return Err(vec![RowError {
            line: 1,
            message: "the file is empty: it needs a header and a row per patient".into(),
        }]);
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut errors = check_header(&header);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (line, fields) in body {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let line = *line;
        let mut bad = |message: String| errors.push(RowError { line, message });
        if let Some(record) = checked_row(&header, fields, today, &mut seen, &mut bad) {
            out.push(record);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The header's errors: every unknown column, then every missing required one.
fn check_header(header: &[String]) -> Vec<RowError> {
    let mut errors = Vec::new();
    for h in header {
        if !REQUIRED.contains(&h.as_str()) && !OPTIONAL.contains(&h.as_str()) {
            errors.push(RowError {
                line: 1,
                message: format!(
                    "unknown column {h:?}: the columns are {} (required) and {} (optional)",
                    REQUIRED.join(", "),
                    OPTIONAL.join(", ")
                ),
            });
        }
    }
    for r in REQUIRED {
        if !header.iter().any(|h| h == r) {
            errors.push(RowError {
                line: 1,
                message: format!("the header lacks the required column {r:?}"),
            });
        }
    }
    errors
}

/// One data row checked: its number of fields, each value, its id unique in the file (`seen`),
/// and its values as `patient add` checks them. None after reporting to `bad` what is wrong.
fn checked_row(
    header: &[String],
    fields: &[String],
    today: NaiveDate,
    seen: &mut BTreeSet<String>,
    bad: &mut dyn FnMut(String),
) -> Option<PatientRecord> {
    if fields.len() != header.len() {
        bad(format!(
            "{} fields where the header has {}",
            fields.len(),
            header.len()
        ));
        return None;
    }
    let record = Row { header, fields }.record(bad)?;
    if !seen.insert(record.id.clone()) {
        bad(format!("the id {:?} is on an earlier row too", record.id));
        return None;
    }
    // The values as the planner will read them, as `patient add` checks them.
    if let Err(e) = patient_values(&record, today) {
        // Named as the file's column.
        bad(format!("{}: {}", e.field.key(), e.why));
        return None;
    }
    Some(record)
}

/// One data row, its fields read by the header's column names (as many of each).
struct Row<'a> {
    header: &'a [String],
    fields: &'a [String],
}

impl<'a> Row<'a> {
    /// The trimmed value of the column `name`; None when there is no such column or it is empty.
    fn get(&self, name: &str) -> Option<&'a str> {
        let fields = self.fields;
        self.header
            .iter()
            .position(|h| h == name)
            .map(|i| fields[i].trim())
            .filter(|v| !v.is_empty())
    }

    /// A required column's value, checked as `patient add` checks it; each problem is named as
    /// the file's column.
    fn need(&self, field: Field, bad: &mut dyn FnMut(String)) -> Option<String> {
        let column = field.key();
        match self.get(column) {
            None => {
                bad(format!("{column} is empty"));
                None
            }
            Some(v) => match text::text(field, v) {
                Ok(v) => Some(v),
                Err(WardError::Input { problem, .. }) => {
                    bad(format!("{column} {problem}"));
                    None
                }
                Err(e) => {
                    bad(e.to_string());
                    None
                }
            },
        }
    }

    /// The record the row holds: the required columns, then the optional ones. None after
    /// reporting every bad or missing value to `bad`.
    fn record(&self, bad: &mut dyn FnMut(String)) -> Option<PatientRecord> {
        let id = self.need(Field::PatientId, bad);
        let name = self.need(Field::Name, bad);
        let dob = self
            .need(Field::Dob, bad)
            .and_then(|d| match crate::when::parse_date(&d) {
                Ok(d) => Some(d),
                Err(e) => {
                    bad(format!("dob {e}"));
                    None
                }
            });
        let weight = self.need(Field::Weight, bad);
        let sige = self.need(Field::Sige, bad);
        let total = self.need(Field::TotalIge, bad);
        let fev1 = self.get("fev1").map(str::to_string);
        let asthma = match self.get("asthma") {
            None => None,
            Some(a) => match a.parse::<AsthmaControl>() {
                Ok(_) => Some(a.to_string()),
                Err(()) => {
                    bad(format!(
                        "asthma {a:?} is not controlled, partly or uncontrolled"
                    ));
                    None
                }
            },
        };
        let beta_blocker = match self.get("beta_blocker").map(str::to_lowercase).as_deref() {
            None | Some("no" | "false" | "0") => false,
            Some("yes" | "true" | "1") => true,
            Some(other) => {
                bad(format!("beta_blocker {other:?} is not yes or no"));
                false
            }
        };
        let (Some(id), Some(name), Some(dob), Some(weight), Some(sige), Some(total)) =
            (id, name, dob, weight, sige, total)
        else {
            return None;
        };
        Some(PatientRecord {
            id,
            name,
            dob,
            weight_kg: weight,
            sige,
            total_ige: total,
            fev1_percent: fev1,
            asthma,
            beta_blocker,
        })
    }
}

impl Ward {
    /// Imports the patients of a CSV text (nurse or physician): all of them in one
    /// transaction, or none; an id already in the record is an error on its row.
    pub fn import_patients(
        &mut self,
        actor: &Actor,
        input: &str,
        now: NaiveDateTime,
    ) -> Result<usize, ImportError> {
        actor.require(&[Role::Nurse, Role::Physician], "importing patients")?;
        let ps = patients(input, now.date()).map_err(ImportError::Rows)?;
        let mut errors = Vec::new();
        let rows = parse_csv(input).map_err(|e| ImportError::Rows(vec![e]))?;
        for (p, (line, _)) in ps.iter().zip(rows.iter().skip(1)) {
            if self
                .store
                .patient(&p.id)
                .map_err(WardError::from)?
                .is_some()
            {
                errors.push(RowError {
                    line: *line,
                    message: format!("a patient with the id {:?} is already in the record", p.id),
                });
            }
        }
        if !errors.is_empty() {
            return Err(ImportError::Rows(errors));
        }
        self.store
            .add_patients(&ps, now, &actor.author())
            .map_err(WardError::from)?;
        Ok(ps.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        "2026-12-07".parse().expect("date")
    }

    #[test]
    fn quoted_fields_line_breaks_and_a_bom_are_read() {
        let rows = parse_csv("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\n\n")
            .expect("csv");
        assert_eq!(
            rows,
            vec![
                (1, vec!["a".to_string(), "b".to_string()]),
                (2, vec!["x, y".to_string(), "say \"hi\"".to_string()]),
                (3, vec!["two\nlines".to_string(), "z".to_string()]),
            ]
        );
        assert_eq!(parse_csv("a\n\"open").expect_err("open").line, 2);
        assert_eq!(parse_csv("a\nb\"c").expect_err("quote").line, 2);
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_and_nothing_is_kept() {
        let csv = "id,name,dob,weight,sige,total_ige,asthma\n\
                   P1,Li Na,1990-05-01,70,2,410,controlled\n\
                   P2,,1990-13-01,70,2,410,\n\
                   P3,Ana,1990-05-01,-70,2,410,sometimes\n\
                   P1,Again,1990-05-01,70,2,410,\n\
                   P4,Short,1990-05-01\n";
        let errors = patients(csv, today()).expect_err("bad rows");
        let said: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect();
        for want in [
            "3: name is empty",
            "3: dob \"1990-13-01\" is not a date",
            "4: asthma \"sometimes\"",
            "4: weight",
            "5: the id \"P1\" is on an earlier row too",
            "6: 3 fields where the header has 7",
        ] {
            assert!(
                said.iter().any(|s| s.starts_with(want)),
                "{want:?} in {said:#?}"
            );
        }
        let head = patients("id,name\nP1,x\n", today()).expect_err("header");
        assert!(
            head.iter()
                .any(|e| e.line == 1 && e.message.contains("\"dob\""))
        );
        let ok = patients(
            "name,id,dob,weight,sige,total_ige,beta_blocker\n\"Souza, Ana\",P9,1980-01-02,61,<0.35,120,yes\n",
            today(),
        )
        .expect("good");
        assert_eq!(ok[0].name, "Souza, Ana");
        assert!(ok[0].beta_blocker);
    }
}
