//! Upgrading a record in place. Schema 1 (ritplan 0.1) chained each course's events with an
//! unkeyed SHA-256 and recorded free-text names; schema 2 keys every row. The upgrade verifies
//! every old chain first (it never blesses a record that was already altered), creates the key,
//! MACs the rows as they stand, and starts each course's keyed chain with a migration event
//! linked to its last unkeyed event. Old names stay, marked unauthenticated.

use std::path::Path;

use rusqlite::Connection;

use super::db::{Begin, Db, vals};
use super::keyed::{self, Counts, Head, Heads, Key};
use super::{APPLICATION_ID, PatientRow, RawEvent, SCHEMA_2, Store, StoreError, TRIGGERS_2};
use crate::course::EventKind;

/// Verifies every schema-1 (unkeyed) chain: returns each course's id, event count and last
/// hash, or refuses naming the first broken course. Reads only.
pub(super) fn check_schema_1(conn: &Connection) -> Result<Vec<(i64, u64, String)>, StoreError> {
    // Schema-1 events have no `keyed` column yet: read them the old way.
    let mut stmt = conn.prepare("SELECT id FROM courses ORDER BY id")?;
    let ids: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    let mut heads_old: Vec<(i64, u64, String)> = Vec::new();
    for id in &ids {
        let mut stmt = conn.prepare(
            "SELECT seq, body_json, happened_at, recorded_at, recorded_by, late_entered, prev_hash, hash FROM events WHERE course_id = ?1 ORDER BY seq",
        )?;
        let rows: Vec<RawEvent> = stmt
            .query_map([id], |r| {
                Ok(RawEvent {
                    seq: r.get(0)?,
                    body: r.get(1)?,
                    happened: r.get(2)?,
                    recorded: r.get(3)?,
                    by: r.get(4)?,
                    late: r.get::<_, i64>(5)? != 0,
                    prev: r.get(6)?,
                    hash: r.get(7)?,
                    staff_id: None,
                    os_user: String::new(),
                    out_of_order: false,
                    keyed: false,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut prev = String::new();
        for (i, e) in rows.iter().enumerate() {
            if e.seq != i as i64 + 1 || e.prev != prev || e.sha_hash(*id) != e.hash {
                return Err(StoreError::Tampered(format!(
                    "this record (schema 1) cannot be upgraded: course {id}'s chain is broken at event {}; investigate it with the ritplan that wrote it before upgrading",
                    e.seq
                )));
            }
            prev = e.hash.clone();
        }
        heads_old.push((*id, rows.len() as u64, prev));
    }
    Ok(heads_old)
}

/// Upgrades a schema-1 record in place: verifies every unkeyed chain first (an upgrade never
/// blesses a record that was already altered), creates the key, fills in the MACs, and starts
/// each course's keyed chain with a migration event that links to its last unkeyed event.
pub(super) fn migrate_1_to_2(db: &Db, path: &Path) -> Result<Key, StoreError> {
    let tx = db.begin(Begin::Write)?;
    let version = tx.query_int("PRAGMA user_version", &[])?;
    if version >= 2 {
        // Another process upgraded it between our look and our lock.
        drop(tx);
        return Key::load(path);
    }
    let conn = tx
        .sqlite()
        .ok_or_else(|| StoreError::Corrupt("schema 1 is SQLite's".into()))?;
    let heads_old = check_schema_1(conn)?;
    let key = match Key::load(path) {
        Ok(k) => k,
        Err(_) => Key::create(path)?,
    };
    let heads = Heads::of(path);
    if !heads.exists() {
        heads.create().map_err(|source| StoreError::Io {
            path: keyed::heads_path(path),
            source,
        })?;
    }
    tx.batch(SCHEMA_2)?;
    tx.batch("DROP TRIGGER IF EXISTS courses_no_update;")?;
    let record_id = keyed::hex(&keyed::random::<16>()?);
    tx.exec(
        "INSERT INTO meta (key, value) VALUES ('record_id', ?1), ('training', '0')",
        vals![record_id],
    )?;
    // Patients: MAC each row as it stands.
    let patients: Vec<PatientRow> = tx
        .query(
            &format!("SELECT {} FROM patients", Store::PATIENT_COLS),
            &[],
        )?
        .into_iter()
        .map(Store::patient_row)
        .collect::<Result<_, _>>()?;
    for p in &patients {
        tx.exec(
            "UPDATE patients SET mac = ?1 WHERE id = ?2",
            vals![Store::patient_mac(&key, p), &p.p.id],
        )?;
    }
    let mut new_heads = Vec::new();
    for (id, n, last) in heads_old {
        let keyed_from = n as i64 + 1;
        tx.exec(
            "UPDATE courses SET keyed_from = ?1 WHERE id = ?2",
            vals![keyed_from, id],
        )?;
        let row = Store::course_rows(&tx, "WHERE id = ?1", Some(id.into()), super::Times::LEGACY)?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt(format!("course {id} vanished")))?;
        let mac = Store::course_mac(&key, &row);
        tx.exec("UPDATE courses SET mac = ?1 WHERE id = ?2", vals![&mac, id])?;
        // The migration event: its time is the last event's (or the course's), so that it
        // never stands out of order.
        let at = tx
            .query_opt(
                "SELECT coalesce((SELECT max(recorded_at) FROM events WHERE course_id = ?1), (SELECT created_at FROM courses WHERE id = ?1))",
                vals![id],
            )?
            .ok_or_else(|| StoreError::Corrupt(format!("course {id} vanished")))?
            .text()?;
        let body = serde_json::to_string(&EventKind::Migrated {
            from_schema: 1,
            events: n,
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut raw = RawEvent {
            seq: keyed_from,
            body,
            happened: at.clone(),
            recorded: at,
            by: "ritplan (record upgrade)".into(),
            late: false,
            prev: if n == 0 { mac.clone() } else { last },
            hash: String::new(),
            staff_id: None,
            os_user: String::new(),
            out_of_order: false,
            keyed: true,
        };
        raw.hash = raw.mac(&key, id, &mac);
        raw.insert(&tx, id)?;
        new_heads.push((
            id,
            Head {
                count: keyed_from as u64,
                mac: raw.hash,
            },
        ));
    }
    tx.batch(TRIGGERS_2)?;
    // Schema 2 here; `Store::open` then upgrades to the current schema.
    tx.batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 2;"
    ))?;
    tx.commit()?;
    let io = |source| StoreError::Io {
        path: keyed::heads_path(path),
        source,
    };
    for (id, h) in new_heads {
        heads.advance_course(id, &h).map_err(io)?;
    }
    let count = |t: &str| -> Result<u64, StoreError> {
        let n = db.query_int(&format!("SELECT count(*) FROM {t}"), &[])?;
        Ok(n.max(0) as u64)
    };
    heads
        .advance_counts(&Counts {
            patients: count("patients")?,
            courses: count("courses")?,
            staff: count("staff")?,
            ..Counts::default()
        })
        .map_err(io)?;
    Ok(key)
}
