//! The project's own clinical sources (docs/sources.md): every rule's `source` and every
//! schedule's citation names a key that has an entry there, written as
//! `(docs/sources.md: KEY)` or `(docs/sources.md: KEY1, KEY2)`; no file sends a reader to notes
//! outside the repository; rule and schedule text, which nurses read, has no backtick.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::root;

/// How a citation opens; the keys follow, separated by ", ", up to ")".
const CITE: &str = "(docs/sources.md: ";

/// The keys of docs/sources.md: its `### key` headings.
fn listed_keys() -> BTreeSet<String> {
    let text = read("docs/sources.md");
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        if let Some(key) = line.strip_prefix("### ") {
            assert!(is_key(key), "docs/sources.md: heading {key:?} is not a key");
            assert!(keys.insert(key.to_string()), "docs/sources.md: {key} twice");
        }
    }
    assert!(keys.len() > 10, "docs/sources.md lists only {keys:?}");
    keys
}

/// A key: lowercase letters, digits and '-', starting with a letter.
fn is_key(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Every citation in `text`: the keys of each, or the text of one that is not well formed.
fn citations(text: &str) -> Vec<Result<Vec<String>, String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(CITE) {
        rest = &rest[at + CITE.len()..];
        let Some(end) = rest.find(')') else {
            out.push(Err(rest.chars().take(60).collect()));
            break;
        };
        let inside = &rest[..end];
        let keys: Vec<String> = inside.split(", ").map(str::to_string).collect();
        if keys.iter().all(|k| is_key(k)) {
            out.push(Ok(keys));
        } else {
            out.push(Err(inside.to_string()));
        }
        rest = &rest[end..];
    }
    out
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The repository's tracked files (git ls-files); without git, every file but target/, .git/ and
/// node_modules/.
fn tracked_files() -> Vec<String> {
    let git = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output();
    if let Ok(o) = git
        && o.status.success()
    {
        return String::from_utf8_lossy(&o.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
    }
    let mut out = Vec::new();
    walk(root(), &mut out);
    out
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if matches!(name.to_str(), Some("target" | ".git" | "node_modules")) {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if let Ok(rel) = path.strip_prefix(root()) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

/// The tracked rules and schedule files.
fn data_files() -> Vec<String> {
    let files: Vec<String> = tracked_files()
        .into_iter()
        .filter(|p| {
            (p.starts_with("rules/") || p.starts_with("schedules/"))
                && p.ends_with(".toml")
                && !p[p.find('/').map_or(0, |i| i + 1)..].contains('/')
        })
        .collect();
    assert!(files.len() >= 8, "too few rules and schedules: {files:?}");
    files
}

/// Every string value of a TOML document, with its dotted path.
fn strings(path: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::String(s) => out.push((path.to_string(), s.clone())),
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(&format!("{path}[{i}]"), v, out);
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                strings(&p, v, out);
            }
        }
        _ => {}
    }
}

fn parse(rel: &str) -> Vec<(String, String)> {
    let doc: toml::Table = read(rel)
        .parse()
        .unwrap_or_else(|e| panic!("{rel} is not TOML: {e}"));
    let mut out = Vec::new();
    strings("", &toml::Value::Table(doc), &mut out);
    out
}

/// Where a rules file or a schedule names its source: a rule's `source` (in a schedule, `source`
/// is the id of one of its `[[source]]` tables) and a schedule's `[[source]]` `citation`.
fn is_source_field(rel: &str, path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    if rel.starts_with("rules/") {
        last == "source"
    } else {
        path.starts_with("source[") && last == "citation"
    }
}

/// Problems with the citations of one file: each source field must cite at least one key, every
/// citation anywhere in it must be well formed, and every key must be listed.
fn check_file(rel: &str, text_values: &[(String, String)], keys: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, value) in text_values {
        let found = citations(value);
        if is_source_field(rel, path) && !found.iter().any(Result::is_ok) {
            problems.push(format!(
                "{rel}: {path} cites no key of docs/sources.md: {value:?}"
            ));
        }
        for c in found {
            match c {
                Ok(ks) => {
                    for k in ks.iter().filter(|k| !keys.contains(*k)) {
                        problems.push(format!(
                            "{rel}: {path} cites {k}, which docs/sources.md does not list"
                        ));
                    }
                }
                Err(bad) => problems.push(format!(
                    "{rel}: {path} has a citation that is not a list of keys: {bad:?}"
                )),
            }
        }
    }
    problems
}

#[test]
fn every_rule_and_schedule_source_cites_a_listed_key() {
    let keys = listed_keys();
    let mut problems = Vec::new();
    let mut sources = 0;
    for rel in data_files() {
        let values = parse(&rel);
        sources += values
            .iter()
            .filter(|(p, _)| is_source_field(&rel, p))
            .count();
        problems.extend(check_file(&rel, &values, &keys));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(sources > 80, "only {sources} source fields were found");
}

/// A citation of `keys` (built here, so that this file cites nothing itself).
fn cite(keys: &str) -> String {
    format!("{CITE}{keys})")
}

#[test]
fn a_broken_citation_is_caught() {
    let keys = listed_keys();
    let case = |path: &str, value: &str| {
        check_file(
            "rules/x.toml",
            &[(path.to_string(), value.to_string())],
            &keys,
        )
    };
    let ok = format!("Norwegian guide {}", cite("norwegian-guide"));
    assert!(case("rule.source", &ok).is_empty());
    let two = format!("two {}", cite("wao-grading-2010, norwegian-guide"));
    assert!(case("rule.source", &two).is_empty());
    assert_eq!(case("rule.source", "Norwegian guide").len(), 1, "no key");
    let unlisted = format!("a {}", cite("no-such-source"));
    assert_eq!(case("rule.source", &unlisted).len(), 1, "unlisted key");
    let not_key = format!("a {}", cite("Norwegian guide"));
    assert_eq!(
        case("rule.source", &not_key).len(),
        2,
        "not a key, so no key"
    );
    assert_eq!(
        case("rule.note", &unlisted).len(),
        1,
        "a citation outside a source field is checked too"
    );
    assert!(case("rule.note", "no citation").is_empty());
    // In a schedule, a step's `source` is the id of a [[source]]; the citation is checked.
    assert!(case_in("schedules/x.toml", "step[0].source", "table-1", &keys).is_empty());
    assert_eq!(
        case_in("schedules/x.toml", "source[0].citation", "a label", &keys).len(),
        1
    );
}

fn case_in(rel: &str, path: &str, value: &str, keys: &BTreeSet<String>) -> Vec<String> {
    check_file(rel, &[(path.to_string(), value.to_string())], keys)
}

#[test]
fn every_citation_in_the_repository_names_a_listed_key() {
    let keys = listed_keys();
    let mut cited: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for rel in tracked_files() {
        let Ok(text) = std::fs::read_to_string(root().join(&rel)) else {
            continue; // binary, or removed in the work tree
        };
        // Prose may show the form itself ("KEY"); only key-shaped citations are checked.
        for k in citations(&text).into_iter().flatten().flatten() {
            if !keys.contains(&k) {
                problems.push(format!(
                    "{rel}: cites {k}, which docs/sources.md does not list"
                ));
            }
            *cited.entry(k).or_default() += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let unused: Vec<&String> = keys.iter().filter(|k| !cited.contains_key(*k)).collect();
    assert!(
        unused.is_empty(),
        "docs/sources.md entries nothing cites: {unused:?}"
    );
}

#[test]
fn every_entry_has_its_fields() {
    let text = read("docs/sources.md");
    for entry in text.split("\n### ").skip(1) {
        let key = entry.lines().next().unwrap_or_default();
        for field in [
            "- **Title**:",
            "- **By**:",
            "- **Year**:",
            "- **Where**:",
            "- **Evidence**:",
        ] {
            assert!(
                entry.contains(field),
                "docs/sources.md: {key} has no {field:?}"
            );
        }
        assert!(
            entry.contains("- **Used for**:") || entry.contains("- **What it is**:"),
            "docs/sources.md: {key} does not say what ritplan takes from it"
        );
    }
}

#[test]
fn no_file_sends_readers_to_notes_outside_the_repository() {
    // Spelled in pieces so that this file does not name them itself.
    let names = [concat!("clinical", ".md"), concat!("course-model", ".md")];
    let mut problems = Vec::new();
    let files = tracked_files();
    assert!(files.iter().any(|f| f == "README.md"), "{files:?}");
    for rel in &files {
        let Ok(text) = std::fs::read_to_string(root().join(rel)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if !names.iter().any(|name| line.contains(name)) {
                continue;
            }
            problems.push(format!("{rel}:{}: {}", n + 1, line.trim()));
        }
    }
    assert!(
        problems.is_empty(),
        "cite docs/sources.md instead:\n{}",
        problems.join("\n")
    );
}

#[test]
fn rule_and_schedule_text_has_no_backtick() {
    let mut problems = Vec::new();
    for rel in data_files() {
        for (path, value) in parse(&rel) {
            if value.contains('`') {
                problems.push(format!("{rel}: {path}: {value:?}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "text nurses read has backticks:\n{}",
        problems.join("\n")
    );
}

/// The files this module reads exist where it looks (a moved file must not pass by being absent).
#[test]
fn the_checked_files_are_found() {
    let files: Vec<PathBuf> = data_files().iter().map(|f| root().join(f)).collect();
    for f in [
        "rules/course-norwegian-guide.toml",
        "schedules/alutard-hdm-cluster-7w.toml",
    ] {
        assert!(
            files.contains(&root().join(f)),
            "{f} is not among {files:?}"
        );
    }
}
