//! A record on a PostgreSQL server (`--db postgres://user@host/dbname`), for a clinic whose
//! rooms record at once. The same rows, MACs and chains as the SQLite file (so `db copy` moves
//! a record either way unchanged); what differs:
//!
//! - **Schema**: created by `ritplan init` in an empty database (the connection's current
//!   schema), versioned in `meta` (`application` = `ritplan`, `schema_version`), upgraded in
//!   order by `MIGRATIONS` (schema 3 is the first on PostgreSQL).
//! - **Append-only**: triggers refuse UPDATE, DELETE and TRUNCATE on events, courses and
//!   patients (and any UPDATE that moves a head back, or a DELETE of a head). A role that owns
//!   the tables can drop triggers: run ritplan as a role that does not (README).
//! - **Serialisation**: a recording locks its patient's row (`SELECT … FOR UPDATE`) in a
//!   read-committed transaction; a new course locks the courses table against other inserts.
//! - **Heads** are in the `heads` table, written in the event's own transaction.
//! - **The key** is a file on each workstation: `RITPLAN_KEY`, else
//!   `$XDG_DATA_HOME/ritplan/keys/HOST-PORT-DBNAME.key`; `ritplan init` creates it, and it is
//!   copied (privately) to every workstation that records.
//! - **The password** is in the URL, in `PGPASSWORD`, or in libpq's password file.
//! - **TLS** as the URL asks (`sslmode=disable|prefer|require`; `prefer` if unset), by rustls,
//!   with the server's certificate verified against the system's roots plus `PGSSLROOTCERT` if
//!   set, and its name checked. A connection that fails is an I/O error (exit 74) naming the server
//!   (never the password).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::db::{Begin, Db, vals};
use super::heads::HeadStore;
use super::keyed::{self, Key};
use super::made::Made;
use super::{SCHEMA_VERSION, Seed, Store, StoreError, flag};

/// The schema of a new record on PostgreSQL (version 3): the SQLite schema's columns, integers
/// as BIGINT (flags 0/1 as on SQLite), and the triggers in PL/pgSQL.
const SCHEMA_3: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE patients (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    dob              TEXT NOT NULL,
    weight_kg        TEXT NOT NULL,
    sige             TEXT NOT NULL,
    total_ige        TEXT NOT NULL,
    fev1_percent     TEXT,
    asthma           TEXT,
    beta_blocker     BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_by_staff TEXT,
    os_user          TEXT NOT NULL DEFAULT '',
    mac              TEXT NOT NULL DEFAULT ''
);
CREATE TABLE courses (
    id               BIGINT PRIMARY KEY,
    patient_id       TEXT NOT NULL REFERENCES patients(id),
    template_id      TEXT NOT NULL,
    rule_set         TEXT NOT NULL,
    template_text    TEXT NOT NULL,
    rules_json       TEXT NOT NULL,
    plan_json        TEXT NOT NULL,
    inputs_json      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_by_staff TEXT,
    os_user          TEXT NOT NULL DEFAULT '',
    keyed_from       BIGINT NOT NULL DEFAULT 1,
    mac              TEXT NOT NULL DEFAULT ''
);
CREATE TABLE events (
    course_id    BIGINT NOT NULL REFERENCES courses(id),
    seq          BIGINT NOT NULL,
    body_json    TEXT NOT NULL,
    happened_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    late_entered BIGINT NOT NULL DEFAULT 0,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    staff_id     TEXT,
    os_user      TEXT NOT NULL DEFAULT '',
    out_of_order BIGINT NOT NULL DEFAULT 0,
    keyed        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (course_id, seq)
);
CREATE TABLE staff (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    disabled     BIGINT NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    failures     BIGINT NOT NULL DEFAULT 0,
    locked_until TEXT,
    mac          TEXT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff(id),
    os_user    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used  TEXT NOT NULL,
    ended      BIGINT NOT NULL DEFAULT 0,
    mac        TEXT NOT NULL
);
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    mac        TEXT NOT NULL
);
CREATE TABLE course_state (
    course_id BIGINT PRIMARY KEY REFERENCES courses(id),
    active    BIGINT NOT NULL,
    events    BIGINT NOT NULL,
    last_at   TEXT NOT NULL,
    mac       TEXT NOT NULL
);
CREATE TABLE heads (
    name  TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    mac   TEXT NOT NULL
);
CREATE INDEX courses_patient ON courses(patient_id);
CREATE INDEX patients_dob ON patients(dob);
CREATE INDEX course_state_live ON course_state(active, last_at);
CREATE INDEX course_state_rebuild ON course_state(course_id) WHERE events < 0;

CREATE FUNCTION ritplan_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$;
CREATE FUNCTION ritplan_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.count < OLD.count OR NEW.name <> OLD.name THEN
        RAISE EXCEPTION 'a head only moves forward' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ritplan_refuse('events are append-only: record a correction instead');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ritplan_refuse('events are append-only: record a correction instead');
CREATE TRIGGER courses_frozen BEFORE UPDATE OR DELETE ON courses
    FOR EACH ROW EXECUTE FUNCTION ritplan_refuse('a course''s frozen template, rules and plan never change');
CREATE TRIGGER courses_no_truncate BEFORE TRUNCATE ON courses
    FOR EACH STATEMENT EXECUTE FUNCTION ritplan_refuse('courses are never deleted');
CREATE TRIGGER patients_frozen BEFORE UPDATE OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION ritplan_refuse('patients are never changed in place or deleted');
CREATE TRIGGER patients_no_truncate BEFORE TRUNCATE ON patients
    FOR EACH STATEMENT EXECUTE FUNCTION ritplan_refuse('patients are never deleted');
CREATE TRIGGER heads_forward BEFORE UPDATE OR DELETE ON heads
    FOR EACH ROW EXECUTE FUNCTION ritplan_head_forward();
CREATE TRIGGER heads_no_truncate BEFORE TRUNCATE ON heads
    FOR EACH STATEMENT EXECUTE FUNCTION ritplan_refuse('heads are never deleted');
"#;

/// Schema 4 on PostgreSQL: the index of vial codes (see the SQLite schema 4).
const SCHEMA_4: &str = r#"
CREATE TABLE vials (
    code      TEXT PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES courses(id),
    seq       BIGINT NOT NULL,
    mac       TEXT NOT NULL
);
CREATE INDEX vials_course ON vials(course_id);
CREATE TRIGGER vials_append_only BEFORE UPDATE OR DELETE ON vials
    FOR EACH ROW EXECUTE FUNCTION ritplan_refuse('vial codes are never changed or deleted: discard the vial instead');
CREATE TRIGGER vials_no_truncate BEFORE TRUNCATE ON vials
    FOR EACH STATEMENT EXECUTE FUNCTION ritplan_refuse('vial codes are never deleted');
"#;

/// Schema 6 on PostgreSQL: frozen texts kept once (see `frozen`). Not among [`MIGRATIONS`]: a
/// record reaches it from schema 5 only (`Store::settle_frozen`), after its times.
pub(super) const SCHEMA_6: &str = r#"
CREATE TABLE IF NOT EXISTS frozen (
    digest TEXT PRIMARY KEY,
    text   TEXT NOT NULL
);
CREATE OR REPLACE TRIGGER frozen_append_only BEFORE UPDATE OR DELETE ON frozen
    FOR EACH ROW EXECUTE FUNCTION ritplan_refuse('a frozen text never changes and is never deleted');
CREATE OR REPLACE TRIGGER frozen_no_truncate BEFORE TRUNCATE ON frozen
    FOR EACH STATEMENT EXECUTE FUNCTION ritplan_refuse('a frozen text is never deleted');
"#;

/// The migrations of a PostgreSQL record, in order: (version reached, SQL). A record at
/// version `v` runs every entry above `v`, each in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[(3, SCHEMA_3), (4, SCHEMA_4)];

/// The URL with the password left out (for messages and `Store` errors).
pub fn display(cfg: &postgres::Config, url: &str) -> String {
    let (host, port, _) = host_port(cfg);
    let scheme = url.split("://").next().unwrap_or("postgres");
    format!(
        "{scheme}://{}{host}:{port}/{}",
        cfg.get_user().map(|u| format!("{u}@")).unwrap_or_default(),
        cfg.get_dbname().unwrap_or("")
    )
}

/// `url` with the password of its user part left out (for a URL that does not parse).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the PostgreSQL URL".into();
    };
    let (auth, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match auth.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// The server a configuration names: its host (or socket folder), its port, and whether it is
/// a Unix socket.
fn host_port(cfg: &postgres::Config) -> (String, u16, bool) {
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    match cfg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => (h.clone(), port, false),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => (p.display().to_string(), port, true),
        None => ("localhost".into(), port, false),
    }
}

/// The key file of a server record: `RITPLAN_KEY`, else
/// `$XDG_DATA_HOME/ritplan/keys/HOST-PORT-DBNAME.key` (or under `~/.local/share`).
pub fn key_file(cfg: &postgres::Config) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RITPLAN_KEY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let (host, port, _) = host_port(cfg);
    let host = clean(&host);
    let db = clean(cfg.get_dbname().or(cfg.get_user()).unwrap_or("postgres"));
    let dir = super::default_path()?.parent()?.join("keys");
    Some(dir.join(format!("{host}-{port}-{db}.key")))
}

fn open_err(place: &str, message: String) -> StoreError {
    StoreError::Open {
        path: PathBuf::from(place),
        message,
    }
}

/// The password for this connection from libpq's password file (`PGPASSFILE`, else
/// `~/.pgpass`), read as libpq reads it: ignored unless only its owner can read it; lines
/// `host:port:database:user:password` with `*` for any and `\` escaping `:` and `\`; the
/// first line that matches wins.
fn pgpass_password(cfg: &postgres::Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    // libpq matches a Unix socket as `localhost`.
    let (host, port, socket) = host_port(cfg);
    let host = if socket { "localhost".into() } else { host };
    let port = port.to_string();
    let user = cfg.get_user()?;
    let db = cfg.get_dbname().unwrap_or(user);
    pgpass_lookup(&text, [&host, &port, db, user])
}

/// The password of the first line of a password file whose four fields match `want`.
fn pgpass_lookup(text: &str, want: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields: Vec<String> = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        fields.last_mut()?.push(n);
                    }
                }
                ':' if fields.len() < 5 => fields.push(String::new()),
                _ => fields.last_mut()?.push(c),
            }
        }
        if fields.len() == 5 && fields.iter().zip(want).all(|(f, w)| f == "*" || f == w) {
            return fields.pop();
        }
    }
    None
}

/// The TLS client: the server's certificate verified against the system's roots (Debian's
/// `/etc/ssl/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`) and `PGSSLROOTCERT` if set (a
/// clinic's own certificate authority, PEM), with its host name or address checked.
fn tls_connector(
    place: &str,
    required: bool,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    // The system's store may hold a certificate rustls cannot read: it is skipped, as the
    // others still verify; none at all is refused below unless PGSSLROOTCERT gives one.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    if let Some(p) = std::env::var_os("PGSSLROOTCERT").filter(|v| !v.is_empty()) {
        let pem = std::fs::read(&p).map_err(|e| {
            open_err(
                place,
                format!("PGSSLROOTCERT {}: {e}", Path::new(&p).display()),
            )
        })?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                open_err(
                    place,
                    format!("PGSSLROOTCERT is not a PEM certificate: {e}"),
                )
            })?;
        if certs.is_empty() {
            return Err(open_err(
                place,
                "PGSSLROOTCERT holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        for c in certs {
            roots.add(c).map_err(|e| {
                open_err(
                    place,
                    format!("PGSSLROOTCERT: a certificate that cannot be a root: {e}"),
                )
            })?;
        }
    }
    // Without any authority a TLS server cannot be verified (its handshake then fails, saying
    // so); `require` says it at once. `prefer` may still reach a server without TLS.
    if roots.is_empty() && required {
        return Err(open_err(
            place,
            "TLS: no certificate authority to verify the server with (none in the system's store; set PGSSLROOTCERT to the clinic's CA certificate, or use sslmode=disable on a trusted network)".into(),
        ));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| open_err(place, format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A certificate the server showed and rustls refused: what to do about it.
fn with_tls_hint(message: String) -> String {
    if message.contains("invalid peer certificate") {
        format!(
            "{message} (the server's certificate must be signed by an authority in the system's store or in PGSSLROOTCERT, and name the host as the URL writes it)"
        )
    } else {
        message
    }
}

/// Connects as the URL says: a bad URL, a refused connection or a failed TLS handshake is
/// [`StoreError::Open`] naming the server.
fn connect(url: &str) -> Result<(Db, postgres::Config, String), StoreError> {
    let mut cfg = postgres::Config::from_str(url).map_err(|e| {
        open_err(
            &without_password(url),
            format!(
                "{} (expected postgres://USER@HOST[:PORT]/DBNAME[?sslmode=disable|prefer|require])",
                super::db::pg_message(&e)
            ),
        )
    })?;
    let place = display(&cfg, url);
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    cfg.application_name("ritplan");
    // libpq's places for the password, so that it need not be written in the URL:
    // `PGPASSWORD`, else the password file.
    if cfg.get_password().is_none() {
        if let Some(p) = std::env::var_os("PGPASSWORD").filter(|v| !v.is_empty()) {
            use std::os::unix::ffi::OsStrExt;
            cfg.password(p.as_bytes());
        } else if let Some(p) = pgpass_password(&cfg) {
            cfg.password(p);
        }
    }
    // No TLS asked for: the system's roots are not even loaded (they cost a noticeable part of
    // a command's time).
    let tls = match cfg.get_ssl_mode() {
        postgres::config::SslMode::Disable => None,
        mode => Some(tls_connector(
            &place,
            mode == postgres::config::SslMode::Require,
        )?),
    };
    let (with, at) = (cfg.clone(), place.clone());
    let db = Db::postgres(move || {
        let mut client = match &tls {
            None => with.connect(postgres::NoTls),
            Some(t) => with.connect(t.clone()),
        }
        .map_err(|e| open_err(&at, with_tls_hint(super::db::pg_message(&e))))?;
        // A writer waits for another room's transaction at most this long (SQLite's busy
        // timeout).
        client.batch_execute("SET lock_timeout = '10s'; SET client_min_messages = warning")?;
        Ok(client)
    })?;
    Ok((db, cfg, place))
}

/// The tables in the connection's current schema.
fn tables(db: &Db) -> Result<Vec<String>, StoreError> {
    db.query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
        &[],
    )?
    .into_iter()
    .map(|mut r| r.text())
    .collect()
}

fn meta_value(db: &Db, key: &str) -> Result<Option<String>, StoreError> {
    db.query_opt("SELECT value FROM meta WHERE key = ?1", vals![key])?
        .map(|mut r| r.text())
        .transpose()
}

/// Creates a new record in the (empty) database at `url`, and its key file.
pub(super) fn create(
    url: &str,
    training: bool,
    seed: Option<&Seed<'_>>,
) -> Result<(Store, Made), StoreError> {
    let (db, cfg, place) = connect(url)?;
    let found = tables(&db)?;
    if !found.is_empty() {
        return Err(StoreError::Exists(format!(
            "the database {place} already has tables ({}): a record is created only in an empty database",
            found.join(", ")
        )));
    }
    let key_path = key_file(&cfg)
        .ok_or_else(|| open_err(&place, "no place for the key file: set RITPLAN_KEY".into()))?;
    // A copy may find its key already there (RITPLAN_KEY naming the source's): the same key
    // is used, any other refused.
    let same_key = match seed {
        Some(seed) if key_path.exists() => {
            Key::load_file(&key_path, Path::new(&place))?.same(seed.key)
        }
        _ => false,
    };
    if key_path.exists() && !same_key {
        return Err(StoreError::Exists(format!(
            "the key file {} already exists: a new record gets a new key (move the old one away, or set RITPLAN_KEY)",
            key_path.display()
        )));
    }
    let record_id = match seed {
        Some(s) => s.record_id.to_string(),
        None => keyed::hex(&keyed::random::<16>()?),
    };
    // The key file first (a failure leaves the database empty), then the schema; if the
    // schema or the counts fail, what was made is taken away again.
    let key = match seed {
        Some(s) if same_key => s.key.clone(),
        Some(s) => {
            s.key.write_new(&key_path)?;
            s.key.clone()
        }
        None => Key::create_file(&key_path)?,
    };
    let made = Made::Server {
        key_file: (!same_key).then(|| key_path.clone()),
    };
    let schema = || -> Result<(), StoreError> {
        let tx = db.begin(Begin::Write)?;
        for (_, sql) in MIGRATIONS {
            tx.batch(sql)?;
        }
        tx.batch(SCHEMA_6)?;
        tx.exec(
            "INSERT INTO meta (key, value) VALUES ('application', 'ritplan'), ('schema_version', ?1), ('record_id', ?2), ('training', ?3)",
            vals![SCHEMA_VERSION.to_string(), &record_id, flag(training)],
        )?;
        tx.commit()
    };
    if let Err(e) = schema() {
        // Its transaction rolled back: only the key file is there to take away.
        return Err(made.abandon(e, &place, None));
    }
    let store = Store {
        db,
        key,
        heads: HeadStore::Table,
        meta: super::Meta {
            record_id,
            training,
        },
        place,
        key_file: key_path,
        zone: std::cell::Cell::new(crate::zone::Zone::System),
    };
    if let Err(e) = store.advance_counts() {
        let place = store.place.clone();
        return Err(made.abandon(e, &place, Some(store)));
    }
    Ok((store, made))
}

/// Takes away the schema of a record this process has just created in an empty database (a
/// copy that failed): every table and the two trigger functions, in one transaction, which
/// first locks the record's tables and refuses if any holds a patient, course, entry, account,
/// login or setting (the failed copy's rows were never committed; anything there is somebody
/// else's since).
pub(super) fn discard(store: Store) -> Result<(), StoreError> {
    let tx = store.db.begin(Begin::Write)?;
    const CONTENT: &str =
        "patients, courses, events, staff, sessions, settings, course_state, vials";
    tx.batch(&format!("LOCK TABLE {CONTENT} IN ACCESS EXCLUSIVE MODE"))?;
    for table in CONTENT.split(", ") {
        if tx
            .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?
            .is_some()
        {
            return Err(StoreError::Exists(format!(
                "its table {table} holds rows now, so it was left as it is"
            )));
        }
    }
    let found = tables(&tx)?;
    tx.batch(&format!(
        "DROP TABLE {} CASCADE; DROP FUNCTION ritplan_refuse(), ritplan_head_forward();",
        found.join(", ")
    ))?;
    tx.commit()
}

/// Opens the record at `url`: refuses a database that is not a ritplan record, a newer schema,
/// a missing key; runs the migrations it lacks if `upgrade`, else refuses.
pub fn open_at(url: &str, upgrade: bool) -> Result<Store, StoreError> {
    let (db, cfg, place) = connect(url)?;
    let found = tables(&db)?;
    if !found.iter().any(|t| t == "meta") {
        return Err(StoreError::Foreign {
            path: PathBuf::from(&place),
            what: if found.is_empty() {
                "an empty database; create a record with `ritplan init`".into()
            } else {
                format!(
                    "a database of another program (tables: {})",
                    found.join(", ")
                )
            },
        });
    }
    if meta_value(&db, "application")?.as_deref() != Some("ritplan") {
        return Err(StoreError::Foreign {
            path: PathBuf::from(&place),
            what: "its meta table is not ritplan's".into(),
        });
    }
    let version: i64 = meta_value(&db, "schema_version")?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("the record has no schema version".into()))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew { found: version });
    }
    if version < SCHEMA_VERSION && !upgrade {
        return Err(StoreError::NeedsUpgrade(format!(
            "{place} is a record of schema {version}: open it once with this ritplan (`ritplan verify`) to upgrade it, then copy it (a copy never changes its source)"
        )));
    }
    for (to, sql) in MIGRATIONS.iter().filter(|(to, _)| *to > version) {
        let tx = db.begin(Begin::Write)?;
        // Another workstation may have run it between our look and our lock.
        tx.batch("LOCK TABLE meta IN EXCLUSIVE MODE")?;
        let now: i64 = meta_value(&tx, "schema_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if now < *to {
            tx.batch(sql)?;
            tx.exec(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                vals![to.to_string()],
            )?;
        }
        tx.commit()?;
    }
    let key_path = key_file(&cfg)
        .ok_or_else(|| open_err(&place, "no place for the key file: set RITPLAN_KEY".into()))?;
    let key = Key::load_file(&key_path, Path::new(&place))?;
    let meta = Store::read_meta(&db)?;
    let store = Store {
        db,
        key,
        heads: HeadStore::Table,
        meta,
        place,
        key_file: key_path,
        zone: std::cell::Cell::new(crate::zone::Zone::System),
    };
    // Schema 5 (instants) when the record names its zone; see `instants`.
    store.settle_times()?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::{pgpass_lookup, without_password};

    #[test]
    fn a_url_that_does_not_parse_is_named_without_its_password() {
        assert_eq!(
            without_password("postgres://nurse:s3cret@db:5432/ward?sslmode=bogus"),
            "postgres://nurse@db:5432/ward?sslmode=bogus"
        );
        assert_eq!(
            without_password("postgresql://db/ward"),
            "postgresql://db/ward"
        );
        assert_eq!(without_password("nonsense"), "the PostgreSQL URL");
    }

    #[test]
    fn the_password_file_is_read_as_libpq_reads_it() {
        let text = "# clinic\n\
                    db.clinic:5432:ritplan:ritplan_ward:ward\\:secret\n\
                    *:*:*:ritplan_owner:owner\n\
                    db.clinic:5432:ritplan:ritplan_ward:second\n";
        assert_eq!(
            pgpass_lookup(text, ["db.clinic", "5432", "ritplan", "ritplan_ward"]).as_deref(),
            Some("ward:secret"),
            "the first match, with its escaped colon"
        );
        assert_eq!(
            pgpass_lookup(text, ["other", "6543", "x", "ritplan_owner"]).as_deref(),
            Some("owner"),
            "wildcards"
        );
        assert_eq!(
            pgpass_lookup(text, ["db.clinic", "5433", "ritplan", "ritplan_ward"]),
            None
        );
        assert_eq!(
            pgpass_lookup("a:b:c", ["a", "b", "c", "d"]),
            None,
            "short line"
        );
    }

    /// With a test server (`RITPLAN_TEST_POSTGRES` or `RITPLAN_TEST_COPY_SERVER`): a connection
    /// the server closes is made again for the next statement outside a transaction, and a
    /// transaction cut by it fails, never "commits".
    #[test]
    fn a_closed_connection_is_made_again_but_a_cut_transaction_fails() {
        use crate::store::Store;
        use crate::store::db::{Begin, vals};
        let Some(base) = crate::testkit::needs::needs_server() else {
            return;
        };
        let name = format!("ritplan_reconnect_{}", std::process::id());
        let admin = |sql: String| crate::testkit::server_admin(&base, sql);
        admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        admin(format!("CREATE DATABASE {name}"));
        let url = format!("{base}/{name}?sslmode=disable");
        let store = Store::create(std::path::Path::new(&url), true).expect("create");
        let key = store.key_file().to_path_buf();
        let cut = |store: &Store| {
            let pid = store
                .db
                .query_int("SELECT pg_backend_pid()::bigint", &[])
                .expect("pid");
            admin(format!("SELECT pg_terminate_backend({pid})"));
        };
        cut(&store);
        assert!(store.patients().expect("reconnected").is_empty());
        // Inside a transaction: the statement after the cut fails, and so does the commit.
        let tx = store.db.begin(Begin::Write).expect("begin");
        tx.exec(
            "INSERT INTO meta (key, value) VALUES (?1, 'x')",
            vals!["cut-before-commit"],
        )
        .expect("insert");
        cut(&store);
        assert!(tx.commit().is_err(), "a cut transaction never commits");
        assert!(
            store
                .db
                .query_opt(
                    "SELECT value FROM meta WHERE key = ?1",
                    vals!["cut-before-commit"]
                )
                .expect("reconnected")
                .is_none(),
            "nothing of it written"
        );
        drop(store);
        let _ = std::fs::remove_file(key);
        admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
