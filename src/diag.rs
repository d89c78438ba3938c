//! Diagnostics for data files: a problem found in a template or rules file, located by file,
//! line and column, shown with a caret under the offending text and a plain sentence.
//!
//! Two severities, as in a careful protocol checker: an *error* means the file must not be
//! used; a *warning* is printed but the file stays usable.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// A data file's name (as the user gave it) and its text.
#[derive(Clone, Debug)]
pub struct SourceText {
    /// The path or name shown in messages, e.g. `schedules/rush.toml` or `<bundled>/rush.toml`.
    pub name: String,
    /// The whole file.
    pub text: String,
    /// Where each line starts (byte offsets), computed once on first use: locating thousands of
    /// diagnostics then costs one pass over the file, not one per diagnostic.
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl PartialEq for SourceText {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.text == other.text
    }
}

impl Eq for SourceText {}

impl SourceText {
    /// A named text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceText {
            name: name.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    fn starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// 1-based line and column (in characters) of a byte offset. An offset past the end, or
    /// inside a character, is clamped to the nearest place before it.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = self.starts();
        let line = starts.partition_point(|s| *s <= offset).max(1);
        let line_start = starts[line - 1];
        // `get`: the text is a public field; a stale table gives column 1, never a panic.
        let col = self
            .text
            .get(line_start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    /// The text of 1-based line `line`, without its line ending.
    fn line_text(&self, line: usize) -> &str {
        let starts = self.starts();
        let Some(start) = line.checked_sub(1).and_then(|i| starts.get(i)) else {
            return "";
        };
        let end = starts.get(line).map_or(self.text.len(), |e| e - 1);
        self.text
            .get(*start..end.max(*start))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Printed; the file stays usable.
    Warning,
    /// The file must not be used.
    Error,
}

/// One problem in a data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable short name for the kind of problem (`unknown-vial`, `dose-mismatch`, ...).
    pub code: &'static str,
    /// The plain sentence.
    pub message: String,
    /// The byte range the problem points at; `None` for the file as a whole.
    pub span: Option<Range<usize>>,
    /// What would fix it, where that is more than the message says.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(
        code: &'static str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(
        code: &'static str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code,
            message: message.into(),
            span,
            help: None,
        }
    }

    /// The same diagnostic with a hint on how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic together with the file it belongs to, ready to print or serialize.
#[derive(Clone, Debug)]
pub struct Located<'a> {
    /// The file.
    pub source: &'a SourceText,
    /// The problem.
    pub diagnostic: &'a Diagnostic,
}

impl Located<'_> {
    /// 1-based line and column of the problem (1:1 for a whole-file problem).
    pub fn line_col(&self) -> (usize, usize) {
        self.diagnostic
            .span
            .as_ref()
            .map_or((1, 1), |s| self.source.line_col(s.start))
    }
}

impl fmt::Display for Located<'_> {
    /// ```text
    /// error[unknown-vial]: step 3 uses vial "5", which this template does not define
    ///   --> schedules/x.toml:21:8
    ///    |
    /// 21 | vial = "5"
    ///    |        ^^^
    ///    = help: the vials are "1", "2", "3", "4"
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{kind}[{}]: {}", d.code, d.message)?;
        let (line, col) = self.line_col();
        let gutter = " ".repeat(line.to_string().len());
        writeln!(f, "{gutter}--> {}:{line}:{col}", self.source.name)?;
        if let Some(span) = &d.span {
            let text = self.source.line_text(line);
            // The caret runs to the end of the span, or the end of the line if the span goes on.
            let (end_line, end_col) = self.source.line_col(span.end.max(span.start));
            let width = if end_line == line && end_col > col {
                end_col - col
            } else {
                text.chars().count().saturating_sub(col - 1).max(1)
            };
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{line} | {text}")?;
            writeln!(
                f,
                "{gutter} | {}{}",
                " ".repeat(col - 1),
                "^".repeat(width.max(1))
            )?;
        }
        if let Some(help) = &d.help {
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// The JSON shape of one diagnostic (`ritplan template check --json`).
#[derive(Serialize)]
pub struct DiagnosticJson<'a> {
    /// File name.
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable short code.
    pub code: &'a str,
    /// The sentence.
    pub message: &'a str,
    /// The hint, if any.
    pub help: Option<&'a str>,
}

impl<'a> From<&Located<'a>> for DiagnosticJson<'a> {
    fn from(l: &Located<'a>) -> Self {
        let (line, column) = l.line_col();
        DiagnosticJson {
            file: &l.source.name,
            line,
            column,
            severity: l.diagnostic.severity,
            code: l.diagnostic.code,
            message: &l.diagnostic.message,
            help: l.diagnostic.help.as_deref(),
        }
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let s = SourceText::new("f", "a = 1\nµ = \"x\"\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        // "µ" is two bytes; the '=' after it is column 3.
        assert_eq!(s.line_col(9), (2, 3));
        assert_eq!(s.line_col(1000), (3, 1));
    }

    #[test]
    fn rendered_with_caret_under_the_span() {
        let s = SourceText::new("t.toml", "id = \"x\"\nvial = \"5\"\n");
        let d = Diagnostic::error("unknown-vial", Some(16..19), "no vial \"5\"")
            .with_help("the vials are \"1\"");
        let text = Located {
            source: &s,
            diagnostic: &d,
        }
        .to_string();
        assert_eq!(
            text,
            "error[unknown-vial]: no vial \"5\"\n --> t.toml:2:8\n  |\n2 | vial = \"5\"\n  |        ^^^\n  = help: the vials are \"1\"\n"
        );
    }

    #[test]
    fn suggestions_for_typos_only() {
        assert_eq!(
            did_you_mean("volume_m", ["volume_ml", "vial"]),
            Some("volume_ml")
        );
        assert_eq!(
            did_you_mean("obsrvation_min", ["observation_min"]),
            Some("observation_min")
        );
        assert_eq!(did_you_mean("banana", ["volume_ml", "vial"]), None);
    }
}
