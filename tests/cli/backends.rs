//! The two backends: a record moved between them with `db copy` is the same record (same rows,
//! verified), a server that cannot be reached is a clear I/O error, and the server's triggers
//! refuse changes to what is append-only. Without a test server the copy runs between files and
//! the server-only tests say they were skipped.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ward::{As, Ward, hh, server_admin, server_base};

/// The test server for copies and connections: `RITPLAN_TEST_POSTGRES` (every ward on it), or
/// `RITPLAN_TEST_COPY_SERVER` (wards on files, copies to and from it).
fn test_server() -> Option<String> {
    server_base().or_else(|| {
        std::env::var("RITPLAN_TEST_COPY_SERVER")
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| v.trim_end_matches('/').to_string())
    })
}

/// A new, empty database on the test server, if there is one.
fn empty_server_db(tag: &str) -> Option<PathBuf> {
    let base = test_server()?;
    Some(empty_db_on(&base, tag))
}

/// A new, empty database on the test server `base`.
fn empty_db_on(base: &str, tag: &str) -> PathBuf {
    let name = format!("ritplan_{}_{tag}", std::process::id());
    let mut admin = server_admin(base);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .expect("drop");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create");
    PathBuf::from(format!("{base}/{name}?sslmode=disable"))
}

/// Runs `args` as the ward's admin with `RITPLAN_DB` = `db` (the ward's key file as
/// `RITPLAN_KEY`, which a server record uses).
fn admin_on(w: &Ward, db: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    on(w, As::Admin, db, args)
}

/// [`admin_on`] as `who`.
fn on(w: &Ward, who: As, db: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = crate::ritplan()
        .envs(w.record_env())
        .env("RITPLAN_DB", db)
        .env("RITPLAN_NOW", hh(7, 9, 0))
        .env("XDG_RUNTIME_DIR", w.sessions(who))
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy(w: &Ward, from: &Path, to: &Path) -> Value {
    let (f, t) = (from.to_string_lossy(), to.to_string_lossy());
    let (code, out, err) = admin_on(w, from, &["db", "copy", "--from", &f, "--to", &t, "--json"]);
    assert_eq!(code, Some(0), "copy {f} → {t}: {out}{err}");
    serde_json::from_str(&out).expect("json")
}

fn log(w: &Ward, db: &Path, course: &str) -> String {
    let (code, out, err) = admin_on(w, db, &["course", "log", course, "--json"]);
    assert_eq!(code, Some(0), "{err}");
    out
}

#[test]
fn a_record_copied_to_the_other_backend_and_back_is_the_same_verified_record() {
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next(&hh(7, 8, 0), &c, 3);
    w.ok(&hh(7, 8, 40), &["note", &c, "--text", "arm fine"]);
    w.login(As::Admin, &hh(7, 9, 0));
    // There and back: a file ward goes to the server (if any) and back to a file; a server
    // ward to a file and back to the server.
    let middle = if w.on_server() {
        w.file("moved.db")
    } else {
        empty_server_db("copy_mid").unwrap_or_else(|| w.file("moved.db"))
    };
    let back = if w.on_server() {
        empty_server_db("copy_back").expect("server")
    } else {
        w.file("back.db")
    };
    let before = w.bytes();
    let there = copy(&w, &w.db, &middle);
    assert!(w.bytes() == before, "the source changed");
    let again = copy(&w, &middle, &back);
    for r in [&there, &again] {
        assert_eq!(r["verification"]["intact"], true, "{r}");
        assert_eq!(r["source_digest"], r["copy_digest"], "{r}");
        assert_eq!(r["courses"], 1);
        assert_eq!(r["patients"], 1);
    }
    assert_eq!(there["events"].as_u64(), Some(3), "dose, observation, note");
    assert_eq!(
        there["copy_digest"], again["copy_digest"],
        "identical rows at the end"
    );
    assert_eq!(log(&w, &w.db, &c), log(&w, &back, &c));
    // The copy is a working record: verified, and it takes the next entry (the nurse's
    // session moved with it).
    let (code, out, err) = admin_on(&w, &back, &["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, err) = on(&w, As::Nurse, &back, &["note", &c, "--text", "on the copy"]);
    assert_eq!(code, Some(0), "{err}");
    // Never over an existing record, and never by a nurse.
    let b = back.to_string_lossy();
    let (code, _, err) = admin_on(&w, &w.db, &["db", "copy", "--to", &b]);
    assert_ne!(code, Some(0), "copied over a record");
    assert!(err.contains("already"), "{err}");
    let (code, _, err) = w.run_as(
        As::Nurse,
        &hh(7, 9, 0),
        &["db", "copy", "--to", "/tmp/x.db"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("admin"), "{err}");
    assert!(w.bytes() == before, "the source changed");
}

#[test]
fn a_server_that_cannot_be_reached_is_an_io_error_naming_it_without_the_password() {
    let out = crate::ritplan()
        .env(
            "RITPLAN_DB",
            "postgres://ritplan:s3cret@127.0.0.1:1/ward?connect_timeout=5",
        )
        .env("RITPLAN_KEY", "/nonexistent/ritplan.key")
        .args(["whoami"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(74));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://ritplan@127.0.0.1:1/ward"), "{err}");
    assert!(
        !err.contains("s3cret"),
        "the password is never shown: {err}"
    );
    let out = crate::ritplan()
        .env("RITPLAN_DB", "postgres://ritplan@/ward?port=notaport")
        .args(["whoami"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(74));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected postgres://USER@HOST"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server that answers PostgreSQL's TLS request with "no TLS here" ('N'), as a server
/// without TLS (or a man in the middle) does; its address.
fn server_without_tls() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let Ok(mut s) = stream else { return };
            // SSLRequest: length 8, code 80877103.
            let mut request = [0u8; 8];
            if s.read_exact(&mut request).is_ok() && request == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
            {
                let _ = s.write_all(b"N");
            }
            // Whatever follows in plain text is read and dropped (nothing is answered).
            let mut rest = [0u8; 1024];
            let _ = s.read(&mut rest);
        }
    });
    format!("127.0.0.1:{port}")
}

#[test]
fn tls_required_by_the_url_is_never_dropped() {
    // A server that says it has no TLS: `sslmode=require` must fail, not go on in plain text
    // (the password would cross the network readable).
    let at = server_without_tls();
    let out = crate::ritplan()
        .env(
            "RITPLAN_DB",
            format!("postgres://ritplan:secret@{at}/ward?sslmode=require"),
        )
        .env("RITPLAN_KEY", "/nonexistent/ritplan.key")
        .args(["whoami"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(74));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("tls"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// The test server's TLS: `RITPLAN_TEST_PG_CA`, the certificate authority that signed its
/// certificate (`.ci/run` makes one for 127.0.0.1 only), with a new empty database on it.
fn tls_server_db(tag: &str) -> Option<(String, PathBuf)> {
    let base = crate::needs::needs_server()?;
    let ca = crate::needs::needs_var(
        "RITPLAN_TEST_PG_CA",
        "the certificate authority of the test server's TLS certificate",
    )?;
    let plain = empty_db_on(&base, tag);
    let url = plain
        .display()
        .to_string()
        .replace("sslmode=disable", "sslmode=require");
    Some((url, PathBuf::from(ca)))
}

#[test]
fn tls_is_verified_against_the_clinic_s_certificate_authority_and_the_server_s_name() {
    let Some((url, ca)) = tls_server_db("tls") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("tls.key");
    let run = |url: &str, root: Option<&Path>, args: &[&str]| {
        let mut cmd = crate::ritplan();
        cmd.env("RITPLAN_DB", url)
            .env("RITPLAN_KEY", &key)
            .env("RITPLAN_NOW", hh(7, 9, 0))
            .env("XDG_RUNTIME_DIR", dir.path().join("sessions"))
            .env_remove("PGSSLROOTCERT")
            .args(args);
        if let Some(r) = root {
            cmd.env("PGSSLROOTCERT", r);
        }
        let out = cmd.output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let init = [
        "init",
        "--admin",
        "root",
        "--name",
        "Root",
        "--password-stdin",
    ];
    // Not signed by anything the system trusts: refused before a byte of the record moves.
    let (code, _, err) = run(&url, None, &["whoami"]);
    assert_eq!(code, Some(74), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // The clinic's CA: the record is created and used over TLS (`require` never goes plain).
    let mut cmd = crate::ritplan();
    cmd.env("RITPLAN_DB", &url)
        .env("RITPLAN_KEY", &key)
        .env("RITPLAN_NOW", hh(7, 9, 0))
        .env("XDG_RUNTIME_DIR", dir.path().join("sessions"))
        .env("PGSSLROOTCERT", &ca)
        .args(init)
        .write_stdin("tls-admin-pass-1\n");
    let out = cmd.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out, err) = run(&url, Some(&ca), &["whoami"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("root"), "{out}");
    // The certificate names 127.0.0.1 only: the same server reached as "localhost" is not the
    // server it names, and is refused.
    let by_name = url.replace("127.0.0.1", "localhost");
    let (code, _, err) = run(&by_name, Some(&ca), &["whoami"]);
    assert_eq!(code, Some(74), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // A PGSSLROOTCERT that is not a certificate is named.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let (code, _, err) = run(&url, Some(&junk), &["whoami"]);
    assert_eq!(code, Some(74), "{err}");
    assert!(err.contains("PGSSLROOTCERT"), "{err}");
}

#[test]
fn the_record_s_own_triggers_refuse_changes_and_deletions() {
    let w = Ward::new();
    let c = w.rush_course();
    w.give_next(&hh(7, 8, 0), &c, 0);
    let changes = [
        "UPDATE events SET body_json = body_json WHERE seq = 1",
        "DELETE FROM events",
        "UPDATE courses SET plan_json = plan_json",
        "DELETE FROM courses",
        "UPDATE patients SET name = 'X'",
        "DELETE FROM patients",
    ];
    let before = (
        w.bytes(),
        w.ok(&hh(7, 9, 0), &["course", "log", &c, "--json"]),
    );
    for sql in changes {
        let refused = if w.on_server() {
            let mut c = postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls)
                .expect("connect");
            c.execute(sql, &[]).err().map(|e| {
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_default()
            })
        } else {
            let c = rusqlite::Connection::open(&w.db).expect("open");
            c.execute(sql, []).err().map(|e| e.to_string())
        };
        let why = refused.unwrap_or_else(|| panic!("{sql}: not refused"));
        assert!(
            why.contains("append-only") || why.contains("never"),
            "{sql}: {why}"
        );
    }
    if w.on_server() {
        let mut c =
            postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls).expect("connect");
        for sql in [
            "TRUNCATE events CASCADE",
            "UPDATE heads SET count = 0 WHERE name = 'course-1'",
            "DELETE FROM heads",
        ] {
            assert!(c.batch_execute(sql).is_err(), "{sql}: not refused");
        }
    }
    // (SQLite's own connection checkpoints the log into the file: the rows are compared.)
    if w.on_server() {
        assert!(w.bytes() == before.0, "a refused change changed the record");
    }
    assert_eq!(
        w.ok(&hh(7, 9, 0), &["course", "log", &c, "--json"]),
        before.1
    );
    w.ok(&hh(7, 9, 0), &["verify"]);
}

#[test]
fn the_ward_s_role_records_but_cannot_change_or_unprotect_the_record() {
    // Under RITPLAN_TEST_STRICT a test server is required; with one, this runs in the pass
    // that puts every ward on it (RITPLAN_TEST_POSTGRES; `.ci/run`'s second).
    if crate::needs::needs_server().is_none() {
        return;
    }
    let w = Ward::new();
    if !w.on_server() {
        crate::needs::skipped("the ward is not on a server in this pass (RITPLAN_TEST_POSTGRES)");
        return;
    }
    let c = w.rush_course();
    let base = server_base().expect("server");
    let role = format!("ward_{}", std::process::id());
    let url =
        w.db.to_string_lossy()
            .replace("postgres@", &format!("{role}@"));
    // The README's grants, run as the owner with psql's variable filled in.
    let grants = std::fs::read_to_string(crate::root().join("docs/postgresql-roles.sql"))
        .expect("grants")
        .replace(":\"role\"", &format!("\"{role}\""));
    let mut owner =
        postgres::Client::connect(&w.db.to_string_lossy(), postgres::NoTls).expect("connect");
    owner
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; {grants}"
        ))
        .expect("grants");
    // As the ward's role: a dose and its observation are recorded.
    let (code, _, err) = w.run_as(As::Nurse, &hh(7, 8, 0), &["whoami"]);
    assert_eq!(code, Some(0), "{err}");
    let out = crate::ritplan()
        .envs(w.record_env())
        .env("RITPLAN_DB", &url)
        .env("RITPLAN_NOW", hh(7, 8, 0))
        .env("XDG_RUNTIME_DIR", w.sessions(As::Nurse))
        .args(crate::ward::give_args(&c, "P1", "1", "0.1", &[]))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // As that role, no change, deletion or trigger switch is allowed.
    let mut ward = postgres::Client::connect(&url, postgres::NoTls).expect("connect as the role");
    for sql in [
        "DELETE FROM events",
        "UPDATE courses SET plan_json = ''",
        "ALTER TABLE events DISABLE TRIGGER ALL",
        "DROP TRIGGER events_append_only ON events",
        "TRUNCATE heads",
        "SET session_replication_role = replica",
    ] {
        assert!(ward.batch_execute(sql).is_err(), "{sql}: allowed");
    }
    drop(ward);
    // (Best effort: the test cluster is thrown away.)
    let _ = owner.batch_execute(&format!("DROP OWNED BY {role}"));
    let _ = server_admin(&base).batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
    w.ok(&hh(7, 8, 5), &["verify"]);
}

#[test]
fn a_copy_to_a_server_makes_its_key_file_or_leaves_nothing() {
    let Some(base) = crate::needs::needs_server() else {
        return;
    };
    let w = Ward::new();
    if w.on_server() {
        // (It runs in the pass with the wards on files: RITPLAN_TEST_COPY_SERVER.)
        crate::needs::skipped("it copies from a file, and the ward is on the server in this pass");
        return;
    }
    let target = empty_db_on(&base, "copy_key");
    w.rush_course();
    w.login(As::Admin, &hh(7, 9, 0));
    let data = w.file("fresh-data");
    let copy_to = |to: &Path| {
        crate::ritplan()
            .env("RITPLAN_DB", &w.db)
            .env("XDG_DATA_HOME", &data)
            .env("RITPLAN_NOW", hh(7, 9, 0))
            .env("XDG_RUNTIME_DIR", w.sessions(As::Admin))
            .args(["db", "copy", "--to", &to.to_string_lossy()])
            .output()
            .expect("run")
    };
    // A database that is not empty: refused, and no key file is left behind.
    let mut c =
        postgres::Client::connect(&target.to_string_lossy(), postgres::NoTls).expect("connect");
    c.batch_execute("CREATE TABLE billing (x int)")
        .expect("table");
    let out = copy_to(&target);
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("billing"));
    assert!(!data.exists(), "nothing written for a refused copy");
    c.batch_execute("DROP TABLE billing").expect("drop");
    drop(c);
    // The default key folder does not exist yet: it is made, privately, with the key in it.
    let out = copy_to(&target);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Vec<_> = std::fs::read_dir(data.join("ritplan").join("keys"))
        .expect("the keys folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        std::fs::read_to_string(&keys[0]).expect("key"),
        std::fs::read_to_string(w.key_file()).expect("source key"),
        "the copy has the source's key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys[0])
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
