//! The dependency rule of the crate (see the crate's documentation), kept by a test that reads
//! the sources: the front ends and the renderers never name the store, the ward never names a
//! renderer, and the renderers read only the ward's plain data (`ward::view`).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What a file under `src/<layer>/` may not name, as (text, why).
fn forbidden(layer: &str) -> &'static [(&'static str, &'static str)] {
    const NO_STORE: &[(&str, &str)] = &[
        ("crate::store", "only the ward reaches the store"),
        ("store::", "only the ward reaches the store"),
    ];
    const RENDERER: &[(&str, &str)] = &[
        ("crate::store", "only the ward reaches the store"),
        ("store::", "only the ward reaches the store"),
        ("crate::ward::", "a renderer reads crate::ward::view only"),
    ];
    const WARD: &[(&str, &str)] = &[
        ("crate::render", "the ward makes no words or documents"),
        ("crate::export", "the ward makes no words or documents"),
    ];
    match layer {
        "cli" | "web" => NO_STORE,
        "render" | "export" => RENDERER,
        "ward" => WARD,
        _ => &[],
    }
}

/// Every breach of the dependency rule under `src`, as `path:line: why (text)`.
fn breaches(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in sources(src) {
        let Ok(rel) = file.strip_prefix(src) else {
            continue;
        };
        let layer = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs");
        let rules = forbidden(layer);
        if rules.is_empty() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            out.push(format!("{}: unreadable", rel.display()));
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            // `crate::ward::view` is the renderers' door; every other path into the ward is not.
            let hit = rules.iter().find(|(needle, _)| {
                line.match_indices(needle).any(|(i, _)| {
                    !(*needle == "crate::ward::" && line[i + needle.len()..].starts_with("view"))
                })
            });
            if let Some((needle, why)) = hit {
                out.push(format!("{}:{}: {why} ({needle})", rel.display(), n + 1));
            }
        }
    }
    out
}

#[test]
fn the_front_ends_and_renderers_never_name_the_store_and_the_ward_never_names_a_renderer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(
        sources(&src.join("ward")).len() > 5,
        "the sources are where the test looks"
    );
    let found = breaches(&src);
    assert!(
        found.is_empty(),
        "the dependency rule is broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_planted_breach_of_each_kind_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("cli/a.rs", "use crate::store::Store;\n");
    write("web/b/c.rs", "fn f() { let _ = x.store::y; }\n");
    write(
        "render/d.rs",
        "use crate::ward::view::CourseView;\nuse crate::ward::Ward;\n",
    );
    write(
        "export/e.rs",
        "use crate::ward::{view::CourseView, WardError};\n",
    );
    write(
        "ward/f.rs",
        "fn f() { crate::render::course::headline(); }\n",
    );
    write("ward/g.rs", "use crate::export::fhir;\n");
    // Allowed: the ward names the store; a renderer names ward::view; the core anything.
    write("ward/h.rs", "use crate::store::Store;\n");
    write("render/i.rs", "use crate::ward::view::SheetLine;\n");
    write("course/j.rs", "use crate::store::Store;\n");
    let found = breaches(dir.path());
    let at: Vec<&str> = found
        .iter()
        .map(|b| b.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        at,
        [
            "cli/a.rs",
            "export/e.rs",
            "render/d.rs",
            "ward/f.rs",
            "ward/g.rs",
            "web/b/c.rs"
        ],
        "{found:#?}"
    );
}
