//! A temporary ward: a training record, the real binary, three staff members each logged in
//! with their own session folder, and helpers that act as a nurse would.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::ritplan;

/// Who runs a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum As {
    /// `rn.li`, "RN Li".
    Nurse,
    /// `dr.wang`, "Dr Wang".
    Physician,
    /// `admin`.
    Admin,
}

impl As {
    pub fn id(self) -> &'static str {
        match self {
            As::Nurse => "rn.li",
            As::Physician => "dr.wang",
            As::Admin => "admin",
        }
    }

    pub fn password(self) -> &'static str {
        match self {
            As::Nurse => "nurse-password-1",
            As::Physician => "doctor-password-1",
            As::Admin => "admin-password-1",
        }
    }
}

pub struct Ward {
    dir: tempfile::TempDir,
    /// The record: a file in `dir`, or a PostgreSQL URL (see [`server_base`]).
    pub db: PathBuf,
    /// On a server: the database's name (dropped with the ward).
    server: Option<String>,
    /// When each staff member last used their session (as far as the tests know).
    used: std::sync::Mutex<Vec<(As, String)>>,
}

impl Default for Ward {
    fn default() -> Self {
        Ward::new()
    }
}

/// What a command does that only a physician may: the test helper runs it as the physician.
fn physicians(args: &[&str]) -> bool {
    let by_doctor = args
        .windows(2)
        .any(|w| w[0] == "--by" && w[1].starts_with("Dr"));
    by_doctor
        || args.first() == Some(&"review")
        || args.iter().any(|a| {
            matches!(
                *a,
                "--override"
                    | "--accept-risk"
                    | "--accept-age"
                    | "--accept-missing"
                    | "--accept-premedication"
            )
        })
}

/// The arguments without `--by NAME` (the login says who records).
fn without_by<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if *a == "--by" {
            skip = true;
        } else {
            out.push(*a);
        }
    }
    out
}

/// `RITPLAN_TEST_POSTGRES` (a server's URL without a database, e.g.
/// `postgres://postgres@127.0.0.1:5432`): every ward is then a new database on that server, and
/// the course and recording suite runs against PostgreSQL instead of SQLite files.
pub fn server_base() -> Option<String> {
    std::env::var("RITPLAN_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_end_matches('/').to_string())
}

static COPIES: AtomicUsize = AtomicUsize::new(0);

/// A client of the test server's `postgres` database (to create and drop the wards' databases).
pub fn server_admin(base: &str) -> postgres::Client {
    postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
        .expect("connect to RITPLAN_TEST_POSTGRES")
}

impl Drop for Ward {
    fn drop(&mut self) {
        if let (Some(base), Some(name)) = (server_base(), &self.server) {
            // Best effort: the test cluster is thrown away after the run anyway.
            let _ = server_admin(&base)
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

impl Ward {
    /// A new training record with an admin, a nurse and a physician, logged in; the clinic's
    /// time zone is UTC (whatever the machine's).
    pub fn new() -> Ward {
        Ward::new_in("UTC")
    }

    /// [`Ward::new`] for a clinic in the IANA time zone `zone`.
    pub fn new_in(zone: &str) -> Ward {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, server) = match server_base() {
            None => (dir.path().join("ward.db"), None),
            Some(base) => {
                let tag: String = dir
                    .path()
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_lowercase();
                let name = format!("ritplan_{}_{tag}", std::process::id());
                server_admin(&base)
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create database");
                (
                    PathBuf::from(format!("{base}/{name}?sslmode=disable")),
                    Some(name),
                )
            }
        };
        let w = Ward {
            dir,
            db,
            server,
            used: std::sync::Mutex::new(Vec::new()),
        };
        let now = "2026-10-01T08:00";
        w.secret_ok(
            As::Admin,
            now,
            &[
                "init",
                "--admin",
                "admin",
                "--name",
                "Ward Admin",
                "--training",
                "--password-stdin",
                "--time-zone",
                zone,
            ],
            As::Admin.password(),
        );
        for (who, name, role) in [
            (As::Nurse, "RN Li", "nurse"),
            (As::Physician, "Dr Wang", "physician"),
        ] {
            w.secret_ok(
                As::Admin,
                now,
                &[
                    "staff",
                    "add",
                    "--id",
                    who.id(),
                    "--name",
                    name,
                    "--role",
                    role,
                    "--password-stdin",
                ],
                who.password(),
            );
        }
        w.run_as(
            As::Admin,
            now,
            &["settings", "set", "idle_timeout_min", "720"],
        );
        // A new record asks for the vial's scan before every dose; the tests of doses without
        // vials turn it off (tests/cli/scan.rs turns it on again).
        w.run_as(As::Admin, now, &["settings", "set", "scan", "off"]);
        for who in [As::Nurse, As::Physician] {
            w.login(who, now);
        }
        w
    }

    /// A record made by an older ritplan (`from` holds its `ward.db`, key file and heads folder),
    /// copied into a new folder (private, as ritplan keeps them), with its three accounts logged
    /// in at `now`. A file record: older records on a server are not kept as fixtures.
    pub fn from_files(from: &std::path::Path, now: &str) -> Ward {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let private = |p: &std::path::Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        for f in ["ward.db", "ward.db.key"] {
            std::fs::copy(from.join(f), dir.path().join(f)).expect("copy");
            private(&dir.path().join(f), 0o600);
        }
        let heads = dir.path().join("ward.db.heads");
        std::fs::create_dir(&heads).expect("mkdir");
        private(&heads, 0o700);
        for e in std::fs::read_dir(from.join("ward.db.heads")).expect("heads") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), heads.join(e.file_name())).expect("copy");
            private(&heads.join(e.file_name()), 0o600);
        }
        let w = Ward {
            db: dir.path().join("ward.db"),
            dir,
            server: None,
            used: std::sync::Mutex::new(Vec::new()),
        };
        for who in [As::Admin, As::Nurse, As::Physician] {
            w.login(who, now);
        }
        w
    }

    /// Whether the record is on a PostgreSQL server.
    pub fn on_server(&self) -> bool {
        self.server.is_some()
    }

    /// For a test of the SQLite file itself (its bytes on disk, its heads folder): true, and a
    /// line saying the test was skipped, when the ward is on a server.
    pub fn file_only(&self, what: &str) -> bool {
        if self.on_server() {
            crate::needs::skipped(&format!("on PostgreSQL, {what}"));
        }
        self.on_server()
    }

    /// A path in the ward's folder (for files a test writes: PDFs, CSV).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where the record is and its key file, for a command run outside the helpers.
    pub fn record_env(&self) -> [(&'static str, std::ffi::OsString); 2] {
        [
            ("RITPLAN_DB", self.db.clone().into_os_string()),
            ("RITPLAN_KEY", self.key_file().into_os_string()),
        ]
    }

    /// The record's key file.
    pub fn key_file(&self) -> PathBuf {
        match self.server {
            Some(_) => self.dir.path().join("ward.key"),
            None => self.dir.path().join("ward.db.key"),
        }
    }

    /// The session folder of one staff member.
    pub fn sessions(&self, who: As) -> PathBuf {
        self.dir.path().join(format!("run-{}", who.id()))
    }

    /// Runs with `secret` on standard input.
    pub fn run_secret(
        &self,
        who: As,
        now: &str,
        args: &[&str],
        secret: &str,
    ) -> (Option<i32>, String, String) {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ritplan"))
            .env_remove("RITPLAN_DB")
            .envs(self.record_env())
            .env("RITPLAN_NOW", now)
            .env("XDG_RUNTIME_DIR", self.sessions(who))
            .env("NO_COLOR", "1")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{secret}\n").as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn secret_ok(&self, who: As, now: &str, args: &[&str], secret: &str) {
        let (code, out, err) = self.run_secret(who, now, args, secret);
        assert_eq!(code, Some(0), "{args:?}: {out}{err}");
    }

    /// Logs a staff member in at `now`.
    pub fn login(&self, who: As, now: &str) {
        self.secret_ok(
            who,
            now,
            &["login", who.id(), "--password-stdin"],
            who.password(),
        );
        self.mark(who, now);
    }

    fn mark(&self, who: As, now: &str) {
        let mut used = self.used.lock().expect("lock");
        used.retain(|(w, _)| *w != who);
        used.push((who, now.to_string()));
    }

    /// Logs `who` in again if their session would have ended by `now` (the tests jump days):
    /// call it before taking a snapshot that a refused command must leave unchanged.
    pub fn fresh(&self, who: As, now: &str) {
        let t = |s: &str| chrono::NaiveDateTime::parse_from_str(&s[..16], "%Y-%m-%dT%H:%M").ok();
        let last = self
            .used
            .lock()
            .expect("lock")
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.clone());
        let stale = match (last.as_deref().and_then(t), t(now)) {
            (Some(l), Some(n)) => n - l > chrono::Duration::minutes(600),
            _ => true,
        };
        if stale {
            self.login(who, now);
        }
    }

    /// [`Ward::fresh`] for whoever [`Ward::run`] would run `args` as.
    pub fn ready(&self, now: &str, args: &[&str]) {
        self.fresh(
            if physicians(args) {
                As::Physician
            } else {
                As::Nurse
            },
            now,
        );
    }

    /// Runs a command as `who`, logging in first if their session would have ended (the tests
    /// jump days and weeks).
    pub fn run_as(&self, who: As, now: &str, args: &[&str]) -> (Option<i32>, String, String) {
        self.run_as_in(who, None, now, args)
    }

    /// [`Ward::run_as`] in a process whose `TZ` is `tz` (else the test's own).
    pub fn run_as_in(
        &self,
        who: As,
        tz: Option<&str>,
        now: &str,
        args: &[&str],
    ) -> (Option<i32>, String, String) {
        if who != As::Admin {
            self.fresh(who, now);
        }
        let go = || {
            let mut c = ritplan();
            if let Some(tz) = tz {
                c.env("TZ", tz);
            }
            let out = c
                .envs(self.record_env())
                .env("RITPLAN_NOW", now)
                .env("XDG_RUNTIME_DIR", self.sessions(who))
                .args(args)
                .output()
                .expect("run");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let result = go();
        if result.0 == Some(0) {
            self.mark(who, now);
        }
        result
    }

    /// Runs a command as the nurse, or as the physician for what only a physician does (a
    /// review, an override, an accepted risk, or `--by 'Dr ...'`); `--by` is dropped.
    pub fn run(&self, now: &str, args: &[&str]) -> (Option<i32>, String, String) {
        let who = if physicians(args) {
            As::Physician
        } else {
            As::Nurse
        };
        self.run_as(who, now, &without_by(args))
    }

    pub fn ok(&self, now: &str, args: &[&str]) -> String {
        let (code, out, err) = self.run(now, args);
        assert_eq!(code, Some(0), "{args:?} at {now}: {err}{out}");
        out
    }

    /// Adds a patient with FEV1 95 % and controlled asthma.
    #[allow(clippy::too_many_arguments)]
    pub fn add_patient(
        &self,
        now: &str,
        id: &str,
        name: &str,
        dob: &str,
        weight: &str,
        sige: &str,
        total: &str,
    ) {
        self.ok(
            now,
            &[
                "patient",
                "add",
                "--id",
                id,
                "--name",
                name,
                "--dob",
                dob,
                "--weight",
                weight,
                "--sige",
                sige,
                "--total-ige",
                total,
                "--fev1",
                "95",
                "--asthma",
                "controlled",
            ],
        );
    }

    pub fn next(&self, now: &str, course: &str) -> Value {
        serde_json::from_str(&self.ok(now, &["next", course, "--json"])).expect("json")
    }

    /// A low-risk adult on the 3-day rush example, starting Monday 2026-12-07 08:00.
    pub fn rush_course(&self) -> String {
        self.ok(
            "2026-12-01T09:00",
            &[
                "patient",
                "add",
                "--id",
                "P1",
                "--name",
                "Zhāng Wěi",
                "--dob",
                "1990-05-01",
                "--weight",
                "70",
                "--sige",
                "2",
                "--total-ige",
                "410",
                "--fev1",
                "92",
                "--asthma",
                "controlled",
            ],
        );
        self.ok(
            "2026-12-01T09:00",
            &[
                "course",
                "start",
                "--patient",
                "P1",
                "--template",
                "example-hdm-rush-3d",
                "--start",
                "2026-12-07T08:00",
            ],
        )
        .trim()
        .to_string()
    }

    pub fn give(
        &self,
        now: &str,
        course: &str,
        step: u64,
        volume: &str,
    ) -> (Option<i32>, String, String) {
        let patient = self.patient_of(now, course);
        let step = step.to_string();
        self.run(now, &give_args(course, &patient, &step, volume, &[]))
    }

    /// The patient of a course, as `next` names them.
    pub fn patient_of(&self, now: &str, course: &str) -> String {
        let (_, out, err) = self.run(now, &["next", course, "--json"]);
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|_| panic!("next {course}: {err}"));
        v["patient"]["id"].as_str().expect("patient id").to_string()
    }

    /// Gives whatever `next` allows at `now` and ends its observation at its earliest end
    /// with `mm`; returns that time (`2026-12-07T08:30`).
    pub fn give_next(&self, now: &str, course: &str, mm: u32) -> String {
        let n = self.next(now, course);
        assert!(
            n["action"] == "give" || n["action"] == "maintenance_due",
            "{now}: {n}"
        );
        let (code, _, err) = self.give(
            now,
            course,
            n["step"].as_u64().expect("step"),
            &n["volume_ml"].to_string(),
        );
        assert_eq!(code, Some(0), "{err}");
        let after = self.next(now, course);
        let end = after["observation_until"].as_str().expect("an observation")[..16].to_string();
        self.observe(&end, course, mm);
        end
    }

    /// Ends the observation at `now` with `mm`.
    pub fn observe(&self, now: &str, course: &str, mm: u32) -> String {
        self.ok(
            now,
            &[
                "observe",
                course,
                "--by",
                "RN Li",
                "--local-mm",
                &mm.to_string(),
            ],
        )
    }

    /// Gives every dose of the visit from `now`, each on time and with `mm`; returns the steps.
    pub fn give_visit(&self, now: &str, course: &str, mm: u32) -> Vec<u64> {
        let mut t = now.to_string();
        let mut steps = Vec::new();
        loop {
            let n = self.next(&t, course);
            match n["action"].as_str() {
                Some("give" | "maintenance_due") => {
                    steps.push(n["step"].as_u64().expect("step"));
                    t = self.give_next(&t, course, mm);
                }
                Some("wait")
                    if n["not_before"]
                        .as_str()
                        .is_some_and(|nb| nb[..10] == t[..10]) =>
                {
                    t = n["not_before"].as_str().expect("nb")[..16].to_string();
                }
                _ => return steps,
            }
        }
    }

    /// Starts a course; returns its id.
    pub fn start(
        &self,
        now: &str,
        patient: &str,
        template: &str,
        start: &str,
        extra: &[&str],
    ) -> String {
        let mut args = vec![
            "course",
            "start",
            "--patient",
            patient,
            "--template",
            template,
            "--start",
            start,
        ];
        args.extend_from_slice(extra);
        self.ok(now, &args).trim().to_string()
    }

    /// A copy of this ward in a new folder: the record (database, key file, heads folder) and
    /// the sessions, for an attacker to change.
    pub fn copy(&self) -> Ward {
        fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
            std::fs::create_dir_all(to).expect("mkdir");
            for e in std::fs::read_dir(from).expect("read dir") {
                let e = e.expect("entry");
                let target = to.join(e.file_name());
                if e.file_type().expect("type").is_dir() {
                    copy_dir(&e.path(), &target);
                } else {
                    std::fs::copy(e.path(), &target).expect("copy");
                }
            }
        }
        let dir = tempfile::tempdir().expect("tmp");
        copy_dir(self.dir.path(), dir.path());
        let (db, server) = match (server_base(), &self.server) {
            (Some(base), Some(name)) => {
                let copy = format!("{name}_c{}", COPIES.fetch_add(1, Ordering::Relaxed));
                server_admin(&base)
                    .batch_execute(&format!("CREATE DATABASE {copy} TEMPLATE {name}"))
                    .expect("copy the database");
                (
                    PathBuf::from(format!("{base}/{copy}?sslmode=disable")),
                    Some(copy),
                )
            }
            _ => (dir.path().join("ward.db"), None),
        };
        let used = self.used.lock().expect("lock").clone();
        Ward {
            dir,
            db,
            server,
            used: std::sync::Mutex::new(used),
        }
    }

    /// The record's bytes: the database and its write-ahead log (kept between processes; the
    /// `-shm` index is not data).
    /// On a server: every row of every table, in order, as text.
    pub fn bytes(&self) -> Vec<u8> {
        if self.on_server() {
            let mut c = postgres::Client::connect(&self.db.to_string_lossy(), postgres::NoTls)
                .expect("connect");
            let mut out = Vec::new();
            for t in [
                "meta",
                "patients",
                "courses",
                "events",
                "staff",
                "sessions",
                "settings",
                "course_state",
                "heads",
            ] {
                let rows = c
                    .query(&format!("SELECT t::text FROM {t} t ORDER BY t::text"), &[])
                    .expect("dump");
                out.extend(format!("--{t}--\n").into_bytes());
                for r in rows {
                    out.extend(r.get::<_, String>(0).into_bytes());
                    out.push(b'\n');
                }
            }
            return out;
        }
        let mut b = std::fs::read(&self.db).expect("db bytes");
        if let Ok(wal) = std::fs::read(wal(&self.db)) {
            b.extend(b"--wal--");
            b.extend(wal);
        }
        b
    }

    /// Puts this record's database back to `from`'s (the file and its log), leaving the rest.
    pub fn roll_back_to(&self, from: &Ward) {
        std::fs::copy(&from.db, &self.db).expect("roll back");
        let _ = std::fs::remove_file(wal(&self.db));
        let _ = std::fs::remove_file(self.db.with_extension("db-shm"));
        if wal(&from.db).exists() {
            std::fs::copy(wal(&from.db), wal(&self.db)).expect("roll back the log");
        }
    }
}

/// The write-ahead log beside a database.
pub fn wal(db: &std::path::Path) -> std::path::PathBuf {
    db.with_extension("db-wal")
}

/// `give COURSE --patient PATIENT --step STEP --volume ML --pef 95 --screen ok`, then `extra`.
pub fn give_args<'a>(
    course: &'a str,
    patient: &'a str,
    step: &'a str,
    volume: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut a = vec![
        "give",
        course,
        "--patient",
        patient,
        "--step",
        step,
        "--volume",
        volume,
        "--pef",
        "95",
        "--screen",
        "ok",
    ];
    a.extend_from_slice(extra);
    a
}

/// `2026-12-DDTHH:MM`.
pub fn hh(day: u32, h: u32, m: u32) -> String {
    format!("2026-12-{day:02}T{h:02}:{m:02}")
}
