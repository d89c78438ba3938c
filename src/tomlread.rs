//! Reading TOML data files field by field, keeping every value's place in the file.
//!
//! Templates and rules are read through [`Table`], not through serde derive: serde stops at the
//! first problem, while a clinician fixing a template wants every problem at once, each with its
//! line and column. Numbers are taken from the file's own text, so `0.1` is the decimal 0.1,
//! never the binary float nearest to it. Dates and times may be bare TOML (`08:00`,
//! `2026-12-01`) or quoted strings (`"08:00"`).

use std::ops::Range;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, did_you_mean};
use crate::units::parse_decimal;

/// A value and where it stands in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Its byte range in the file.
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    /// The span, as diagnostics take it.
    pub fn at(&self) -> Option<Range<usize>> {
        Some(self.span.clone())
    }
}

/// Collected diagnostics for one file.
#[derive(Debug, Default)]
pub struct Diags(pub Vec<Diagnostic>);

impl Diags {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Whether any error (not warning) was found.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
}

/// Parses a whole document; a syntax error becomes one located diagnostic.
pub fn parse_document(text: &str) -> Result<Table<'_, '_>, Diagnostic> {
    // The document's own span is empty; whole-document problems point at its start.
    DeTable::parse(text)
        .map(|doc| Table::owned_root(doc.into_inner()))
        .map_err(|e| {
            let span = e.span().map(|s| {
                // An empty span at the end of a line points at nothing visible: widen it to one
                // character so the caret shows.
                if s.is_empty() {
                    s.start..s.start + 1
                } else {
                    s
                }
            });
            Diagnostic::error(
                "toml-syntax",
                span,
                format!("this is not valid TOML: {}", e.message()),
            )
        })
}

enum Inner<'a, 'i> {
    Owned(Box<DeTable<'i>>),
    Borrowed(&'a DeTable<'i>),
}

/// A TOML table being read, named for messages (`step 3`, `[maintenance]`).
pub struct Table<'a, 'i> {
    inner: Inner<'a, 'i>,
    span: Range<usize>,
    /// How messages name this table, e.g. "the template" or "step 3".
    pub what: String,
}

impl<'a, 'i> Table<'a, 'i> {
    fn owned_root(t: DeTable<'i>) -> Self {
        Table {
            inner: Inner::Owned(Box::new(t)),
            span: 0..0,
            what: "the file".into(),
        }
    }

    fn table(&self) -> &DeTable<'i> {
        match &self.inner {
            Inner::Owned(t) => t,
            Inner::Borrowed(t) => t,
        }
    }

    /// Where the table starts (its `[header]`), for problems about the table as a whole; `None`
    /// for the document itself, which has no header to point at.
    pub fn at(&self) -> Option<Range<usize>> {
        (!self.span.is_empty()).then(|| self.span.clone())
    }

    /// Renames the table for messages.
    pub fn named(mut self, what: impl Into<String>) -> Self {
        self.what = what.into();
        self
    }

    fn get(&self, key: &str) -> Option<&toml::Spanned<DeValue<'i>>> {
        self.table()
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Whether the key is present.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Reports every key not in `known`, suggesting the nearest known key.
    pub fn only_keys(&self, diags: &mut Diags, known: &[&str]) {
        for (k, _) in self.table().iter() {
            let key = k.get_ref().as_ref();
            if !known.contains(&key) {
                let mut d = Diagnostic::error(
                    "unknown-key",
                    Some(k.span()),
                    format!("{} has no field `{key}`", self.what),
                );
                d = match did_you_mean(key, known.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("the fields are: {}", known.join(", "))),
                };
                diags.push(d);
            }
        }
    }

    fn missing(&self, diags: &mut Diags, key: &str, expected: &str) {
        diags.push(
            Diagnostic::error(
                "missing-field",
                self.at(),
                format!("{} is missing `{key}` ({expected})", self.what),
            )
            .with_help(format!("add `{key} = ...` to {}", self.what)),
        );
    }

    fn wrong_type(
        &self,
        diags: &mut Diags,
        key: &str,
        v: &toml::Spanned<DeValue<'i>>,
        expected: &str,
    ) {
        diags.push(Diagnostic::error(
            "wrong-type",
            Some(v.span()),
            format!(
                "`{key}` in {} must be {expected}, not {}",
                self.what,
                describe(v.get_ref())
            ),
        ));
    }

    /// A string field. `required` fields that are absent are reported.
    pub fn string(&self, diags: &mut Diags, key: &str, required: bool) -> Option<Sp<String>> {
        let Some(v) = self.get(key) else {
            if required {
                self.missing(diags, key, "a text");
            }
            return None;
        };
        match v.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                diags.push(Diagnostic::error(
                    "empty-field",
                    Some(v.span()),
                    format!("`{key}` in {} is empty", self.what),
                ));
                None
            }
            DeValue::String(s) => Some(Sp {
                value: s.to_string(),
                span: v.span(),
            }),
            _ => {
                self.wrong_type(diags, key, v, "a text in quotes");
                None
            }
        }
    }

    /// A field whose text must parse as `T` (an enumeration such as `kind` or `unit`);
    /// `allowed` is shown to the user when it does not.
    pub fn parsed<T: FromStr>(
        &self,
        diags: &mut Diags,
        key: &str,
        required: bool,
        code: &'static str,
        allowed: &str,
    ) -> Option<Sp<T>> {
        let s = self.string(diags, key, required)?;
        match s.value.parse::<T>() {
            Ok(value) => Some(Sp {
                value,
                span: s.span,
            }),
            Err(_) => {
                diags.push(
                    Diagnostic::error(
                        code,
                        s.at(),
                        format!(
                            "`{key}` in {} is {:?}, which ritplan does not know",
                            self.what, s.value
                        ),
                    )
                    .with_help(format!("use one of: {allowed}")),
                );
                None
            }
        }
    }

    /// An exact decimal: a TOML integer, a TOML float (read from its text, not as binary), or a
    /// quoted decimal such as `"0.1"`.
    pub fn decimal(&self, diags: &mut Diags, key: &str, required: bool) -> Option<Sp<Decimal>> {
        let Some(v) = self.get(key) else {
            if required {
                self.missing(diags, key, "a number");
            }
            return None;
        };
        let parsed = match v.get_ref() {
            DeValue::Integer(i) if i.radix() == 10 => parse_decimal(i.as_str()),
            DeValue::Float(f) => parse_decimal(f.as_str()),
            DeValue::String(s) => parse_decimal(s),
            _ => {
                self.wrong_type(diags, key, v, "a number");
                return None;
            }
        };
        match parsed {
            Some(value) => Some(Sp {
                value,
                span: v.span(),
            }),
            None => {
                diags.push(Diagnostic::error(
                    "not-a-number",
                    Some(v.span()),
                    format!("`{key}` in {} must be a finite decimal number", self.what),
                ));
                None
            }
        }
    }

    /// A whole number ≥ 0 that fits in u32.
    pub fn count(&self, diags: &mut Diags, key: &str, required: bool) -> Option<Sp<u32>> {
        let Some(v) = self.get(key) else {
            if required {
                self.missing(diags, key, "a whole number");
            }
            return None;
        };
        self.count_value(diags, key, v)
    }

    fn count_value(
        &self,
        diags: &mut Diags,
        key: &str,
        v: &toml::Spanned<DeValue<'i>>,
    ) -> Option<Sp<u32>> {
        match v.get_ref() {
            DeValue::Integer(i) => match u32::from_str_radix(i.as_str(), i.radix()) {
                Ok(value) => Some(Sp {
                    value,
                    span: v.span(),
                }),
                Err(_) => {
                    diags.push(Diagnostic::error(
                        "out-of-range",
                        Some(v.span()),
                        format!(
                            "`{key}` in {} must be a whole number from 0 to {}",
                            self.what,
                            u32::MAX
                        ),
                    ));
                    None
                }
            },
            _ => {
                self.wrong_type(diags, key, v, "a whole number");
                None
            }
        }
    }

    /// An array of whole numbers (`[2, 4]`).
    pub fn counts(&self, diags: &mut Diags, key: &str) -> Option<Vec<Sp<u32>>> {
        let v = self.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(diags, key, v, "a list of whole numbers, like [2, 4]");
            return None;
        };
        Some(
            items
                .iter()
                .filter_map(|i| self.count_value(diags, key, i))
                .collect(),
        )
    }

    /// A list of texts (`["fev1", "asthma"]`).
    pub fn strings(&self, diags: &mut Diags, key: &str, required: bool) -> Option<Vec<Sp<String>>> {
        let items = self.array(diags, key, required, "a list of texts in quotes")?;
        let mut out = Vec::new();
        for i in items {
            match i.get_ref() {
                DeValue::String(s) => out.push(Sp {
                    value: s.to_string(),
                    span: i.span(),
                }),
                other => {
                    diags.push(Diagnostic::error(
                        "wrong-type",
                        Some(i.span()),
                        format!(
                            "each item of `{key}` in {} must be a text in quotes, not {}",
                            self.what,
                            describe(other)
                        ),
                    ));
                    return None;
                }
            }
        }
        Some(out)
    }

    fn array(
        &self,
        diags: &mut Diags,
        key: &str,
        required: bool,
        expected: &str,
    ) -> Option<&[toml::Spanned<DeValue<'i>>]> {
        let Some(v) = self.get(key) else {
            if required {
                self.missing(diags, key, expected);
            }
            return None;
        };
        match v.get_ref() {
            DeValue::Array(items) => Some(items),
            _ => {
                self.wrong_type(diags, key, v, expected);
                None
            }
        }
    }

    fn decimal_value(
        &self,
        diags: &mut Diags,
        key: &str,
        v: &toml::Spanned<DeValue<'i>>,
    ) -> Option<Sp<Decimal>> {
        let parsed = match v.get_ref() {
            DeValue::Integer(i) if i.radix() == 10 => parse_decimal(i.as_str()),
            DeValue::Float(f) => parse_decimal(f.as_str()),
            DeValue::String(s) => parse_decimal(s),
            _ => None,
        };
        if parsed.is_none() {
            diags.push(Diagnostic::error(
                "not-a-number",
                Some(v.span()),
                format!(
                    "each item of `{key}` in {} must be a finite decimal number",
                    self.what
                ),
            ));
        }
        parsed.map(|value| Sp {
            value,
            span: v.span(),
        })
    }

    /// A list of decimals (`[0.35, 0.70, 3.5]`).
    pub fn decimals(
        &self,
        diags: &mut Diags,
        key: &str,
        required: bool,
    ) -> Option<Vec<Sp<Decimal>>> {
        let items = self.array(diags, key, required, "a list of numbers")?;
        let out: Vec<_> = items
            .iter()
            .map(|i| self.decimal_value(diags, key, i))
            .collect();
        out.into_iter().collect()
    }

    /// A list of `[low, high]` pairs (`[[30, 100], [100, 200]]`).
    pub fn decimal_pairs(
        &self,
        diags: &mut Diags,
        key: &str,
        required: bool,
    ) -> Option<Vec<Sp<(Decimal, Decimal)>>> {
        let items = self.array(diags, key, required, "a list of [low, high] pairs")?;
        let mut out = Vec::new();
        for item in items {
            let pair = match item.get_ref() {
                DeValue::Array(p) if p.len() == 2 => {
                    let a = self.decimal_value(diags, key, &p[0]);
                    let b = self.decimal_value(diags, key, &p[1]);
                    a.zip(b).map(|(a, b)| (a.value, b.value))
                }
                _ => {
                    diags.push(Diagnostic::error(
                        "wrong-type",
                        Some(item.span()),
                        format!(
                            "each item of `{key}` in {} must be a pair [low, high]",
                            self.what
                        ),
                    ));
                    None
                }
            };
            out.push(pair.map(|value| Sp {
                value,
                span: item.span(),
            }));
        }
        out.into_iter().collect()
    }

    /// A grid of texts: a list of rows, each a list of texts.
    pub fn string_grid(
        &self,
        diags: &mut Diags,
        key: &str,
        required: bool,
    ) -> Option<Vec<Vec<Sp<String>>>> {
        let rows = self.array(diags, key, required, "a list of rows of texts")?;
        let mut out = Vec::new();
        for row in rows {
            let DeValue::Array(cells) = row.get_ref() else {
                diags.push(Diagnostic::error(
                    "wrong-type",
                    Some(row.span()),
                    format!("each row of `{key}` must be a list of texts"),
                ));
                return None;
            };
            let mut r = Vec::new();
            for c in cells.iter() {
                match c.get_ref() {
                    DeValue::String(s) => r.push(Sp {
                        value: s.to_string(),
                        span: c.span(),
                    }),
                    _ => {
                        diags.push(Diagnostic::error(
                            "wrong-type",
                            Some(c.span()),
                            format!("each cell of `{key}` must be a text in quotes"),
                        ));
                        return None;
                    }
                }
            }
            out.push(r);
        }
        Some(out)
    }

    /// `true`, `false`, or `"*"` (either): `Some(None)` for `"*"`.
    pub fn bool_or_any(&self, diags: &mut Diags, key: &str) -> Option<Sp<Option<bool>>> {
        let Some(v) = self.get(key) else {
            self.missing(diags, key, "true, false or \"*\"");
            return None;
        };
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp {
                value: Some(*b),
                span: v.span(),
            }),
            DeValue::String(s) if s == "*" => Some(Sp {
                value: None,
                span: v.span(),
            }),
            _ => {
                self.wrong_type(diags, key, v, "true, false or \"*\"");
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&self, diags: &mut Diags, key: &str) -> Option<Sp<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp {
                value: *b,
                span: v.span(),
            }),
            _ => {
                self.wrong_type(diags, key, v, "true or false");
                None
            }
        }
    }

    /// A clock time: bare TOML (`08:00`, `08:00:00`) or quoted (`"08:00"`).
    pub fn time(&self, diags: &mut Diags, key: &str) -> Option<Sp<NaiveTime>> {
        let v = self.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Datetime(dt) if dt.date.is_none() && dt.offset.is_none() => {
                dt.time.and_then(|t| {
                    NaiveTime::from_hms_opt(
                        t.hour.into(),
                        t.minute.into(),
                        t.second.unwrap_or(0).into(),
                    )
                })
            }
            DeValue::String(s) => parse_time(s),
            _ => {
                self.wrong_type(diags, key, v, "a clock time such as 08:30");
                return None;
            }
        };
        if parsed.is_none() {
            diags.push(Diagnostic::error(
                "bad-time",
                Some(v.span()),
                format!(
                    "`{key}` in {} must be a clock time such as 08:30",
                    self.what
                ),
            ));
        }
        parsed.map(|value| Sp {
            value,
            span: v.span(),
        })
    }

    /// A calendar date: bare TOML (`2026-12-01`) or quoted (`"2026-12-01"`).
    pub fn date(&self, diags: &mut Diags, key: &str) -> Option<Sp<NaiveDate>> {
        let v = self.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Datetime(dt) if dt.time.is_none() => dt
                .date
                .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())),
            DeValue::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
            _ => {
                self.wrong_type(diags, key, v, "a date such as 2026-12-01");
                return None;
            }
        };
        if parsed.is_none() {
            diags.push(Diagnostic::error(
                "bad-date",
                Some(v.span()),
                format!("`{key}` in {} must be a date such as 2026-12-01", self.what),
            ));
        }
        parsed.map(|value| Sp {
            value,
            span: v.span(),
        })
    }

    /// A sub-table (`[timing]` or `timing = { ... }`).
    pub fn sub_table(&self, diags: &mut Diags, key: &str, required: bool) -> Option<Table<'_, 'i>> {
        let Some(v) = self.get(key) else {
            if required {
                self.missing(diags, key, "a table");
            }
            return None;
        };
        match v.get_ref() {
            DeValue::Table(t) => Some(Table {
                inner: Inner::Borrowed(t),
                span: v.span(),
                what: format!("[{key}]"),
            }),
            _ => {
                self.wrong_type(diags, key, v, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[step]]`); absent means empty. Each is named `{key} N`.
    pub fn tables(&self, diags: &mut Diags, key: &str) -> Vec<Table<'_, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(diags, key, v, &format!("a list of [[{key}]] tables"));
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(n, item)| match item.get_ref() {
                DeValue::Table(t) => Some(Table {
                    inner: Inner::Borrowed(t),
                    span: item.span(),
                    what: format!("{key} {}", n + 1),
                }),
                other => {
                    diags.push(Diagnostic::error(
                        "wrong-type",
                        Some(item.span()),
                        format!("each `{key}` must be a table, not {}", describe(other)),
                    ));
                    None
                }
            })
            .collect()
    }
}

/// `08:30` or `08:30:00`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
}

fn describe(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a text",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date or time",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_from_the_text() {
        let doc = parse_document("a = 0.1\nb = 1_000\nc = \"0.25\"\nd = 3e2\ne = true\n").unwrap();
        let mut diags = Diags::default();
        let get = |k| {
            doc.decimal(&mut Diags::default(), k, true)
                .map(|s| s.value.to_string())
        };
        assert_eq!(get("a").as_deref(), Some("0.1"));
        assert_eq!(get("b").as_deref(), Some("1000"));
        assert_eq!(get("c").as_deref(), Some("0.25"));
        assert_eq!(get("d").as_deref(), Some("300"));
        assert!(doc.decimal(&mut diags, "e", true).is_none());
        assert_eq!(diags.0[0].code, "wrong-type");
        assert!(doc.decimal(&mut diags, "zz", true).is_none());
        assert_eq!(diags.0[1].code, "missing-field");
    }

    #[test]
    fn bare_and_quoted_times_and_dates() {
        let doc = parse_document(
            "t1 = 08:00\nt2 = \"08:30\"\nd1 = 2026-12-01\nd2 = \"2026-12-02\"\nbad = \"25:00\"\n",
        )
        .unwrap();
        let mut diags = Diags::default();
        assert_eq!(
            doc.time(&mut diags, "t1").unwrap().value,
            NaiveTime::from_hms_opt(8, 0, 0).unwrap()
        );
        assert_eq!(
            doc.time(&mut diags, "t2").unwrap().value,
            NaiveTime::from_hms_opt(8, 30, 0).unwrap()
        );
        assert_eq!(
            doc.date(&mut diags, "d1").unwrap().value,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        assert_eq!(
            doc.date(&mut diags, "d2").unwrap().value,
            NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
        );
        assert!(diags.0.is_empty());
        assert!(doc.time(&mut diags, "bad").is_none());
        assert_eq!(diags.0[0].code, "bad-time");
    }

    #[test]
    fn syntax_errors_are_located() {
        let Err(d) = parse_document("a = 1\nb = \n") else {
            panic!("expected a syntax error")
        };
        assert_eq!(d.code, "toml-syntax");
        assert_eq!(d.span.map(|s| s.start), Some(10));
    }
}
