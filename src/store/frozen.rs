//! Frozen texts kept once (schema 6). Every course freezes the template and the rules files it
//! was planned under: about 7 KB and 55 KB of text, the same for every course started under the
//! same files. Kept in each row, a board of 200 courses read 11 MB (on PostgreSQL, each row
//! decompressed by the server) and every verification hashed it again.
//!
//! From schema 6 a course row names such a text by its digest, `sha256:` and 64 hex digits,
//! and the text is in the `frozen` table once, under that digest:
//! - the row's MAC covers the reference as stored, so a course cannot be pointed at other text;
//! - the text is checked against its digest each time it is read, so a changed text is a
//!   course that does not verify (never another plan);
//! - the table is append-only (triggers refuse UPDATE and DELETE, as for courses).
//!
//! Rows written before schema 6 keep their texts in the row; they are never rewritten (their
//! MACs, chains and digests cover those bytes). A column is a reference only when it is
//! exactly `sha256:` and 64 lower-case hex digits: no template (TOML) or rules object (JSON)
//! can be that text.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::courses::CourseRow;
use super::db::{Db, vals};
use super::{StoreError, keyed};

/// How a reference to a frozen text starts.
const PREFIX: &str = "sha256:";

/// The reference to `text`: `sha256:` and its SHA-256 in hex.
pub(super) fn reference(text: &str) -> String {
    format!("{PREFIX}{}", keyed::hex(&Sha256::digest(text.as_bytes())))
}

/// Whether a stored column is a reference (see the module).
fn is_reference(col: &str) -> bool {
    col.strip_prefix(PREFIX).is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A stored column as (its reference, the text in the row): a reference leaves the text
/// empty until [`resolve`] fills it in.
pub(super) fn split(col: String) -> (Option<String>, Arc<str>) {
    if is_reference(&col) {
        (Some(col), Arc::from(""))
    } else {
        (None, Arc::from(col))
    }
}

/// Keeps `text` under its digest (once: a text already kept is left as it is, after checking
/// that it is the same text) and returns its reference, inside the caller's transaction.
pub(super) fn put(db: &Db, text: &str) -> Result<String, StoreError> {
    let r = reference(text);
    // `same` is compared by the database: the text is not sent back.
    let same = db.query_opt(
        "SELECT CASE WHEN text = ?2 THEN 1 ELSE 0 END FROM frozen WHERE digest = ?1",
        vals![&r, text],
    )?;
    match same {
        Some(mut row) => {
            if row.int()? != 1 {
                return Err(StoreError::Tampered(format!(
                    "the frozen text {r} does not match its digest: changed outside ritplan"
                )));
            }
        }
        None => {
            db.exec(
                "INSERT INTO frozen (digest, text) VALUES (?1, ?2)",
                vals![&r, text],
            )?;
        }
    }
    Ok(r)
}

/// Fills in the texts of `rows` kept by digest: one query for every digest they name. A text
/// that is missing, or does not match its digest, leaves the row's text empty and says so in
/// its `frozen_problem` (the course then does not verify). With `known`, a text this connection has already checked against its digest
/// ([`Db::checked_text`]) is taken as checked, without reading it again: only for a row read
/// again within one recording, whose texts its first read (moments before, in this process)
/// checked. The row's MAC, which covers the digests, is checked all the same.
pub(super) fn resolve_with(db: &Db, rows: &mut [CourseRow], known: bool) -> Result<(), StoreError> {
    let mut wanted: Vec<&str> = rows
        .iter()
        .flat_map(|r| [r.template_ref.as_deref(), r.rules_ref.as_deref()])
        .flatten()
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut texts: HashMap<String, Result<Arc<str>, String>> = HashMap::new();
    if known {
        wanted.retain(|d| match db.checked_text(d) {
            Some(t) => {
                texts.insert(d.to_string(), Ok(t));
                false
            }
            None => true,
        });
    }
    for mut r in (!wanted.is_empty())
        .then(|| {
            db.query(
                &format!(
                    "SELECT digest, text FROM frozen WHERE {}",
                    db.in_list("digest", 1, false)
                ),
                &[Db::list(&wanted)],
            )
        })
        .transpose()?
        .unwrap_or_default()
    {
        let (digest, text) = (r.text()?, r.text()?);
        let checked = db
            .text_checked(&digest, text, |t| reference(t) == digest)
            .ok_or_else(|| {
                format!(
                    "its frozen text {digest} does not match its digest: changed outside ritplan"
                )
            });
        texts.insert(digest, checked);
    }
    let fill = |reference: &Option<String>, problem: &mut Option<String>| -> Arc<str> {
        let Some(d) = reference else {
            return Arc::from("");
        };
        match texts.get(d) {
            Some(Ok(t)) => t.clone(),
            Some(Err(e)) => {
                problem.get_or_insert_with(|| e.clone());
                Arc::from("")
            }
            None => {
                problem.get_or_insert_with(|| {
                    format!("its frozen text {d} is missing: removed outside ritplan")
                });
                Arc::from("")
            }
        }
    };
    for row in rows.iter_mut() {
        if row.template_ref.is_some() {
            row.c.template_text = fill(&row.template_ref, &mut row.frozen_problem);
        }
        if row.rules_ref.is_some() {
            row.c.rules_json = fill(&row.rules_ref, &mut row.frozen_problem);
        }
    }
    Ok(())
}

impl super::Store {
    /// After opening (and after the upgrade to schema 5): moves a record of schema 5 to 6, in
    /// one transaction: the `frozen` table, empty (no row is rewritten; courses started from
    /// now on name their texts by digest). A record still at schema 4 (times without a zone)
    /// waits for its migration to 5.
    pub(super) fn settle_frozen(&self) -> Result<(), StoreError> {
        if self.schema_version()? != 5 {
            return Ok(());
        }
        let (tx, version) = self.begin_upgrade()?;
        let server = self.on_server();
        if version != 5 {
            return Ok(());
        }
        if server {
            #[cfg(feature = "postgres")]
            tx.batch(super::server::SCHEMA_6)?;
            tx.exec(
                "UPDATE meta SET value = '6' WHERE key = 'schema_version'",
                &[],
            )?;
        } else {
            tx.batch(super::schema::SCHEMA_6)?;
            tx.batch("PRAGMA user_version = 6")?;
        }
        tx.commit()
    }
}

/// The `frozen` table's columns, in the order a copy and a digest read them.
pub(super) const FROZEN_COLS: &str = "digest, text";

/// Used by tests: the number of texts kept.
#[cfg(test)]
pub(super) fn count(db: &Db) -> Result<i64, StoreError> {
    db.query_int("SELECT COUNT(*) FROM frozen", &[])
}
