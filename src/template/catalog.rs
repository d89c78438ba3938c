//! The templates compiled into the binary, and the catalogue of every usable template.

use super::*;

/// The templates compiled into the binary: (file name, text).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "alutard-hdm-cluster-7w.toml",
        include_str!("../../schedules/alutard-hdm-cluster-7w.toml"),
    ),
    (
        "alutard-hdm-conventional-15w.toml",
        include_str!("../../schedules/alutard-hdm-conventional-15w.toml"),
    ),
    (
        "alutard-hdm-slow-25w.toml",
        include_str!("../../schedules/alutard-hdm-slow-25w.toml"),
    ),
    (
        "depigoid-1-day-rush.toml",
        include_str!("../../schedules/depigoid-1-day-rush.toml"),
    ),
    (
        "example-hdm-rscit-modified.toml",
        include_str!("../../schedules/example-hdm-rscit-modified.toml"),
    ),
    (
        "example-hdm-rush-3d.toml",
        include_str!("../../schedules/example-hdm-rush-3d.toml"),
    ),
];

/// The bundled templates as named sources.
pub fn bundled_sources() -> Vec<SourceText> {
    BUNDLED
        .iter()
        .map(|(name, text)| SourceText::new(format!("<bundled>/schedules/{name}"), *text))
        .collect()
}

/// Every usable template, bundled and the user's, by id.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: Vec<(Template, SourceText)>,
}

impl Catalog {
    /// Checks every file; usable templates enter the catalogue, and every file with any
    /// problem is returned with it. A second template with an id already taken is refused.
    pub fn build(sources: Vec<SourceText>, policy: &Policy) -> (Catalog, Vec<Checked>) {
        let mut catalog = Catalog::default();
        let mut problems = Vec::new();
        for src in sources {
            let mut checked = check(src, policy);
            if let Some(t) = checked.template.take() {
                if let Some((_, origin)) = catalog.entries.iter().find(|(e, _)| e.id == t.id) {
                    let origin = &origin.name;
                    checked.diagnostics.push(
                        Diagnostic::error(
                            "duplicate-id",
                            Some(t.id_span.clone()),
                            format!("template id {:?} is already used by {origin}", t.id),
                        )
                        .with_help("give this template its own id"),
                    );
                } else {
                    catalog.entries.push((t, checked.source.clone()));
                }
            }
            if !checked.diagnostics.is_empty() {
                problems.push(checked);
            }
        }
        (catalog, problems)
    }

    /// All templates with the file each came from, in load order.
    pub fn iter(&self) -> impl Iterator<Item = (&Template, &str)> {
        self.entries.iter().map(|(t, o)| (t, o.name.as_str()))
    }

    /// The template with this id.
    pub fn get(&self, id: &str) -> Option<&Template> {
        self.entries.iter().map(|(t, _)| t).find(|t| t.id == id)
    }

    /// The text a template was read from (to freeze into a course).
    pub fn source(&self, id: &str) -> Option<&SourceText> {
        self.entries
            .iter()
            .find(|(t, _)| t.id == id)
            .map(|(_, s)| s)
    }

    /// All ids.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|(t, _)| t.id.as_str()).collect()
    }
}
