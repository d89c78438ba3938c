//! A temporary ward: a database, the real binary, and helpers that act as a nurse would.

use std::path::PathBuf;

use serde_json::Value;

use crate::ritplan;

pub struct Ward {
    _dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Ward {
    pub fn new() -> Ward {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("ward.db");
        Ward { _dir: dir, db }
    }

    pub fn run(&self, now: &str, args: &[&str]) -> (Option<i32>, String, String) {
        let out = ritplan()
            .env("RITPLAN_DB", &self.db)
            .env("RITPLAN_NOW", now)
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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
        self.run(
            now,
            &[
                "give",
                course,
                "--step",
                &step.to_string(),
                "--volume",
                volume,
                "--by",
                "RN Li",
                "--pef",
                "95",
                "--screen",
                "ok",
            ],
        )
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

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.db).expect("db bytes")
    }
}

/// `2026-12-DDTHH:MM`.
pub fn hh(day: u32, h: u32, m: u32) -> String {
    format!("2026-12-{day:02}T{h:02}:{m:02}")
}
