use super::*;

#[test]
fn created_private_with_its_key_and_heads_and_reopened() {
    let (dir, s, c) = store_with_course();
    let v: i64 =
        s.db.sqlite()
            .expect("sqlite")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("v");
    assert_eq!(v, SCHEMA_VERSION);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [db(&dir), keyed::key_path(&db(&dir))] {
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
    }
    assert!(!s.meta().training);
    drop(s);
    let s = Store::open(&db(&dir)).expect("reopen");
    assert_eq!(s.patients().expect("patients"), vec![patient()]);
    assert!(s.verify(c).expect("verify").intact);
    assert!(
        Store::create(&db(&dir), false).is_err(),
        "never over another"
    );
}

#[test]
fn the_key_and_the_heads_must_be_there() {
    let (dir, s, _) = busy();
    drop(s);
    std::fs::rename(keyed::key_path(&db(&dir)), dir.path().join("key.bak")).expect("mv");
    assert!(Store::open(&db(&dir)).is_err_and(|e| e.to_string().contains("key file")));
    std::fs::rename(dir.path().join("key.bak"), keyed::key_path(&db(&dir))).expect("mv");
    std::fs::rename(keyed::heads_path(&db(&dir)), dir.path().join("heads.bak")).expect("mv");
    assert!(Store::open(&db(&dir)).is_err_and(|e| e.to_string().contains("heads folder")));
}

#[test]
fn missing_foreign_and_empty_files_are_refused_unchanged() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("typo/ward.db");
    assert!(matches!(Store::open(&missing), Err(StoreError::Missing(_))));
    assert!(!dir.path().join("typo").exists(), "no folder created");
    let foreign = dir.path().join("other.db");
    let c = Connection::open(&foreign).expect("open");
    c.execute_batch("CREATE TABLE invoices (n INTEGER); INSERT INTO invoices VALUES (1);")
        .expect("foreign");
    drop(c);
    let empty = dir.path().join("empty.db");
    Connection::open(&empty)
        .and_then(|c| c.execute_batch("PRAGMA user_version = 0;"))
        .expect("empty");
    let text = dir.path().join("notes.db");
    std::fs::write(&text, b"not a database at all").expect("w");
    for (p, needle) in [
        (&foreign, "another program"),
        (&empty, "empty database"),
        (&text, "not an SQLite database"),
    ] {
        let before = file_bytes(p);
        let e = Store::open(p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(needle), "{}: {e}", p.display());
        assert_eq!(before, file_bytes(p), "{} changed", p.display());
        assert!(!keyed::key_path(p).exists());
    }
}

#[test]
fn the_log_stays_short_when_every_command_is_a_new_process() {
    // Each CLI command opens the record alone, so SQLite's own checkpoint could never start
    // the log again from its beginning: it grew by every recording, and every command read
    // all of it. Here each append is made by a fresh open, as each command is.
    let (dir, s, c) = store_with_course();
    drop(s);
    let wal = PathBuf::from(format!("{}-wal", db(&dir).display()));
    let mut longest = 0;
    for i in 0..200u32 {
        let mut s = Store::open(&db(&dir)).expect("open");
        append(
            &mut s,
            c,
            EventKind::Note {
                text: format!("note {i} {}", "x".repeat(3000)),
            },
            "2026-12-07 08:00",
        );
        drop(s);
        longest = longest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // 64 pages of 4 KiB with their frame headers, and the last commit's pages on top.
    assert!(
        longest < 80 * (4096 + 24),
        "the log reached {longest} bytes"
    );
    let s = Store::open(&db(&dir)).expect("open");
    assert_eq!(s.events(c).expect("events").len(), 200);
    assert!(s.verify(c).expect("verify").problems.is_empty());
}
