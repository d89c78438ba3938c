//! Every file in tests/corpus/ states, in its header, the diagnostics the checker must produce:
//!
//! ```text
//! # expect: error unknown-vial 52:8 step 3 uses vial "5", which this template does not define
//! ```
//!
//! severity, code, line:column, and a substring of the message. The errors must be exactly those
//! listed (no more, no fewer); listed warnings must be present. A file with no `expect` line
//! must produce no diagnostic at all.

use ritplan::diag::{Located, SourceText};
use ritplan::policy::Policy;
use ritplan::template::check;

struct Expect {
    severity: String,
    code: String,
    line: usize,
    col: usize,
    message: String,
}

fn expectations(text: &str) -> Vec<Expect> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|rest| {
            let mut parts = rest.splitn(4, ' ');
            let severity = parts.next().unwrap_or_default().to_string();
            let code = parts.next().unwrap_or_default().to_string();
            let loc = parts.next().unwrap_or_default();
            let (line, col) = loc.split_once(':').expect("line:col");
            Expect {
                severity,
                code,
                line: line.parse().expect("line"),
                col: col.parse().expect("col"),
                message: parts.next().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

#[test]
fn corpus_messages_and_locations() {
    let policy = Policy::bundled().expect("bundled rules");
    let dir = crate::fixture("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "the corpus has only {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("read");
        let expects = expectations(&text);
        let checked = check(SourceText::new(name.clone(), text), &policy);
        let found: Vec<(String, &'static str, usize, usize, String)> = checked
            .diagnostics
            .iter()
            .map(|d| {
                let (l, c) = Located {
                    source: &checked.source,
                    diagnostic: d,
                }
                .line_col();
                let sev = if d.is_error() { "error" } else { "warning" };
                (sev.to_string(), d.code, l, c, d.message.clone())
            })
            .collect();
        for e in &expects {
            let hit = found.iter().any(|(s, code, l, c, m)| {
                *s == e.severity
                    && *code == e.code
                    && *l == e.line
                    && *c == e.col
                    && m.contains(&e.message)
            });
            if !hit {
                failures.push(format!(
                    "{name}: expected {} {} at {}:{} containing {:?}; found {found:#?}",
                    e.severity, e.code, e.line, e.col, e.message
                ));
            }
        }
        let expected_errors = expects.iter().filter(|e| e.severity == "error").count();
        let found_errors = found.iter().filter(|f| f.0 == "error").count();
        if found_errors != expected_errors {
            failures.push(format!(
                "{name}: expected {expected_errors} errors, found {found_errors}: {found:#?}"
            ));
        }
        if expects.is_empty() && !found.is_empty() {
            failures.push(format!("{name}: expected no diagnostics, found {found:#?}"));
        }
        // A file with errors yields no template; one with only warnings yields one.
        if checked.template.is_some() != (expected_errors == 0) {
            failures.push(format!(
                "{name}: usable = {}, but {expected_errors} errors are expected",
                checked.template.is_some()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
