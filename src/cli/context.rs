//! What a command works in: where the user's templates, rules and record are, the record's
//! clock (the system clock; `RITPLAN_NOW` on a training record), and reading data files.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::CliError;
use super::output::{plural, print_checked, print_diagnostics};
use crate::diag::SourceText;
use crate::policy::{Policy, PolicyError};
use crate::template::{Catalog, bundled_sources};

/// What every command may need: where the user's data lives.
pub(super) struct Context {
    pub(super) template_dirs: Vec<PathBuf>,
    pub(super) rules_dir: Option<PathBuf>,
    pub(super) db: Option<PathBuf>,
    /// The clinic's configuration file.
    pub(super) config: super::config::Config,
}

/// The current time for commands that need no record (and for a training record), in `zone`:
/// `RITPLAN_NOW` (`2026-12-07T08:30`, the clinic's wall-clock time) sets it instead; an
/// unreadable value, or a time the clocks skip in that zone, is ignored with a warning rather
/// than silently taken as now. A record that is not a training record always takes the system
/// clock (see `opened`).
#[allow(clippy::disallowed_methods)]
pub(super) fn now_in(zone: crate::zone::Zone) -> chrono::NaiveDateTime {
    if let Some(v) = std::env::var_os("RITPLAN_NOW") {
        match parse_datetime(&v.to_string_lossy()).map_err(|e| e.to_string()) {
            Ok(t) => match zone.instant(t) {
                Ok(_) => return t,
                Err(e) => {
                    let _ = writeln!(io::stderr(), "ritplan: warning: RITPLAN_NOW ignored: {e}");
                }
            },
            Err(e) => {
                let _ = writeln!(io::stderr(), "ritplan: warning: RITPLAN_NOW ignored: {e}");
            }
        }
    }
    system_now_in(zone)
}

/// [`now_in`] the machine's zone (commands that read no record).
pub(super) fn now() -> chrono::NaiveDateTime {
    now_in(crate::zone::Zone::System)
}

/// The system clock, to the second, as the clinic's wall clock in `zone` shows it (never the
/// machine's or the process's `TZ`, unless the record has no zone).
#[allow(clippy::disallowed_methods)]
pub(super) fn system_now_in(zone: crate::zone::Zone) -> chrono::NaiveDateTime {
    zone.wall_clock(chrono::Utc::now())
}

/// The zone of this machine, by its IANA name, for `ritplan init`: `TZ` if it is set (an IANA
/// name, with or without a leading `:`), else `/etc/timezone`, else the target of the
/// `/etc/localtime` link (`…/zoneinfo/Europe/Oslo`). `Err` says why none could be told (a `TZ`
/// that is not an IANA name, or none of the three): `init` then asks for `--time-zone` rather
/// than guess (UTC would put every time of a clinic elsewhere an hour or more off).
pub(super) fn system_zone() -> Result<crate::zone::Zone, String> {
    if let Some(tz) = std::env::var_os("TZ").filter(|v| !v.is_empty()) {
        let name = tz.to_string_lossy();
        let name = name.trim_start_matches(':');
        return crate::zone::Zone::parse(name)
            .map_err(|_| format!("TZ={name:?} is not an IANA time zone name"));
    }
    if let Ok(text) = std::fs::read_to_string("/etc/timezone")
        && let Ok(z) = crate::zone::Zone::parse(text.lines().next().unwrap_or_default())
    {
        return Ok(z);
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime") {
        let target = target.to_string_lossy().into_owned();
        if let Some((_, name)) = target.split_once("zoneinfo/")
            && let Ok(z) = crate::zone::Zone::parse(name)
        {
            return Ok(z);
        }
    }
    Err("this machine's time zone cannot be told (no TZ, /etc/timezone or /etc/localtime link to a zone)".into())
}

/// `2026-12-07T08:30`, `2026-12-07 08:30` or `2026-12-07` (midnight).
pub(super) fn parse_datetime(s: &str) -> Result<chrono::NaiveDateTime, crate::when::DateError> {
    crate::when::parse_datetime(s)
}

/// Opens the record and reads its clock (see [`record_clock`]).
pub(super) fn opened(
    ctx: &Context,
    err: &mut dyn Write,
) -> Result<(crate::ward::Ward, chrono::NaiveDateTime), CliError> {
    let ward = ward_opener(ctx)?.open()?;
    let zone = ward.zone()?;
    if zone == crate::zone::Zone::System && ward.needs_zone()? {
        writeln!(
            err,
            "ritplan: warning: this record was made before ritplan stored moments as instants and names no time zone: its times are read in this machine's zone; an admin should run `ritplan db migrate --time-zone ZONE` (the zone they were written in)"
        )?;
    }
    let now = record_clock(ward.training(), zone, err)?;
    crate::timing::mark("open the record");
    Ok((ward, now))
}

/// The clinic's audit definitions: `audit.toml` in --rules DIR; `None` without a DIR or when it
/// holds none (the bundled ones are then in force: [`crate::audit::rules::AuditRules::clinic_or_bundled`]).
/// `ritplan audit` and the page (`serve`) look it up here, alike.
pub(super) fn audit_rules_source(ctx: &Context) -> Result<Option<SourceText>, CliError> {
    let file = crate::audit::rules::BUNDLED.0;
    Ok(ctx
        .rule_sources()?
        .into_iter()
        .find(|s| Path::new(&s.name).file_name().is_some_and(|f| f == file)))
}

/// How a command opens the ward (the record with the application layer over it): the record
/// at --db, else RITPLAN_DB, else the platform data directory (it must exist), with the
/// clinic's vial expiry rules (`vial-expiry.toml` from --rules DIR; else the bundled ones)
/// installed. The one place they are installed: `vial add`, the page's wards (`serve`) and
/// every other command work out a vial's expiry with the same rules.
pub(super) struct WardOpener {
    path: PathBuf,
    vial_expiry: Option<SourceText>,
    /// The clinic's medication score for follow-ups (`medication-score.toml` from --rules DIR).
    medication_score: Option<SourceText>,
}

impl WardOpener {
    /// Opens the ward.
    pub(super) fn open(&self) -> Result<crate::ward::Ward, crate::ward::WardError> {
        let mut ward = crate::ward::Ward::open(&self.path)?;
        if let Some(src) = &self.vial_expiry {
            ward.use_vial_expiry_rules(src.clone())?;
        }
        if let Some(src) = &self.medication_score {
            ward.use_medication_score_rules(src.clone())?;
        }
        Ok(ward)
    }
}

/// The opener of the command's ward (see [`WardOpener`]).
pub(super) fn ward_opener(ctx: &Context) -> Result<WardOpener, CliError> {
    let sources = match &ctx.rules_dir {
        Some(_) => ctx.rule_sources()?,
        None => Vec::new(),
    };
    let named = |file: &str| {
        sources
            .iter()
            .find(|s| Path::new(&s.name).file_name().is_some_and(|f| f == file))
            .cloned()
    };
    Ok(WardOpener {
        path: record_path(ctx.db.as_ref())?,
        vial_expiry: named(crate::policy::vial_expiry::BUNDLED.0),
        medication_score: named(crate::policy::medication_score::BUNDLED.0),
    })
}

/// The path of the record: --db, else RITPLAN_DB, else the platform data directory.
pub(super) fn record_path(db: Option<&PathBuf>) -> Result<PathBuf, CliError> {
    db.cloned()
        .or_else(|| {
            std::env::var_os("RITPLAN_DB")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(crate::ward::location::default_path)
        .ok_or_else(|| CliError::Usage("no database path: give --db PATH or set RITPLAN_DB".into()))
}

/// A record's clock in the clinic's zone: the system clock, or `RITPLAN_NOW` on a training
/// record (said on stderr by every command on it); on any other record `RITPLAN_NOW` is
/// ignored with a warning.
pub(super) fn record_clock(
    training: bool,
    zone: crate::zone::Zone,
    err: &mut dyn Write,
) -> Result<chrono::NaiveDateTime, CliError> {
    let set = std::env::var_os("RITPLAN_NOW").is_some();
    if training {
        writeln!(
            err,
            "ritplan: TRAINING RECORD{}",
            if set {
                ": the clock is RITPLAN_NOW"
            } else {
                ""
            }
        )?;
        return Ok(now_in(zone));
    }
    if set {
        writeln!(
            err,
            "ritplan: warning: RITPLAN_NOW is ignored: this record is not a training record (ritplan init --training)"
        )?;
    }
    Ok(system_now_in(zone))
}

/// Today's date (see [`now`]).
pub(super) fn today() -> chrono::NaiveDate {
    now().date()
}

impl Context {
    /// The rules in force.
    pub(super) fn policy(&self, err: &mut dyn Write) -> Result<Policy, CliError> {
        policy_from(self.rule_sources()?, err)
    }

    /// The rules files in force: bundled, with any of the same name from --rules DIR instead.
    pub(super) fn rule_sources(&self) -> Result<Vec<SourceText>, CliError> {
        let mut sources = crate::policy::bundled_sources();
        if let Some(dir) = &self.rules_dir {
            for src in read_dir_toml(dir)? {
                let file = Path::new(&src.name)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
                sources.retain(|b| {
                    Path::new(&b.name)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        != file
                });
                sources.push(src);
            }
        }
        Ok(sources)
    }

    /// Every template: bundled, then each --templates directory in order. A file with errors
    /// is reported on `err` and makes the command fail after it has been reported, so that a
    /// broken clinic template is never silently skipped.
    pub(super) fn catalog(
        &self,
        policy: &Policy,
        err: &mut dyn Write,
    ) -> Result<Catalog, CliError> {
        self.catalog_from(Vec::new(), policy, err)
    }

    /// The catalogue with `extra` template files after the bundled and --templates ones.
    pub(super) fn catalog_from(
        &self,
        extra: Vec<SourceText>,
        policy: &Policy,
        err: &mut dyn Write,
    ) -> Result<Catalog, CliError> {
        let mut sources = bundled_sources();
        for dir in &self.template_dirs {
            sources.extend(read_dir_toml(dir)?);
        }
        sources.extend(extra);
        let (catalog, problems) = Catalog::build(sources, policy);
        let mut broken = 0;
        for c in &problems {
            if c.has_errors() {
                broken += 1;
                print_checked(err, c)?;
            }
        }
        if broken > 0 {
            return Err(CliError::Data(format!(
                "{broken} template file{} could not be used; fix {} or remove {} from the --templates directory",
                plural(broken),
                if broken == 1 { "it" } else { "them" },
                if broken == 1 { "it" } else { "them" },
            )));
        }
        Ok(catalog)
    }
}

/// Reads rules from sources, printing every problem.
pub(super) fn policy_from(
    sources: Vec<SourceText>,
    err: &mut dyn Write,
) -> Result<Policy, CliError> {
    Policy::from_sources(sources).or_else(|e: PolicyError| {
        for (src, diags) in &e.files {
            print_diagnostics(err, src, diags)?;
        }
        Err(CliError::Data("the rules files have errors".into()))
    })
}

/// Reads a whole file as UTF-8 text, naming the file in any error.
pub(super) fn read_source(path: &Path) -> Result<SourceText, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        context: format!("cannot read {}", path.display()),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        CliError::Data(format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(SourceText::new(path.display().to_string(), text))
}

/// Every `*.toml` file of a directory, sorted by name.
pub(super) fn read_dir_toml(dir: &Path) -> Result<Vec<SourceText>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Io {
        context: format!("cannot read template directory {}", dir.display()),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    paths.iter().map(|p| read_source(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLINIC: &str = r#"
kind = "vial-expiry"
format = 1
source = "test"
evidence = "example"
certainty = "I"

[[limit]]
unit = "SQ-U"
strength = "[0, 1000]"
months = 3
source = "test clinic"
evidence = "example"
certainty = "I"
"#;

    fn ctx(db: &Path, rules: Option<&Path>) -> Context {
        Context {
            template_dirs: Vec::new(),
            rules_dir: rules.map(Path::to_path_buf),
            db: Some(db.to_path_buf()),
            config: super::super::config::Config::default(),
        }
    }

    /// Every ward a command opens (the command's, and each the page's pool opens) has the
    /// clinic's vial expiry rules from --rules DIR; without --rules, the bundled ones.
    #[test]
    fn every_ward_opened_has_the_clinic_s_vial_expiry_rules() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("r.db");
        let now = chrono::NaiveDateTime::parse_from_str("2026-12-07 08:00", "%Y-%m-%d %H:%M")
            .expect("time");
        crate::ward::Ward::init(
            &db,
            true,
            crate::ward::NewStaff {
                id: "admin".into(),
                name: "Admin".into(),
                role: crate::ward::Role::Admin,
                secret: "admin-password-1".into(),
            },
            "test",
            now,
        )
        .expect("init");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("dir");
        std::fs::write(rules.join("vial-expiry.toml"), CLINIC).expect("write");
        let opener = ward_opener(&ctx(&db, Some(&rules))).expect("opener");
        for _ in 0..2 {
            let w = opener.open().expect("open");
            let limits = &w.vial_expiry_rules().expect("rules").limits;
            assert_eq!(limits.len(), 1, "{limits:?}");
        }
        let bundled = crate::policy::vial_expiry::VialExpiry::bundled().expect("bundled");
        let w = ward_opener(&ctx(&db, None))
            .expect("opener")
            .open()
            .expect("open");
        assert_eq!(w.vial_expiry_rules().expect("rules"), &bundled);
    }

    /// `ritplan audit` and the page find the clinic's audit definitions alike: `audit.toml` in
    /// --rules DIR, by its path; none without a DIR or when the DIR holds none.
    #[test]
    fn the_clinic_s_audit_definitions_are_audit_toml_in_the_rules_dir() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("r.db");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("dir");
        std::fs::write(rules.join("vial-expiry.toml"), CLINIC).expect("write");
        assert_eq!(
            audit_rules_source(&ctx(&db, Some(&rules))).expect("read"),
            None,
            "a DIR without audit.toml: the bundled ones"
        );
        assert_eq!(audit_rules_source(&ctx(&db, None)).expect("read"), None);
        let text = crate::audit::rules::BUNDLED
            .1
            .replace("adult_from_years = 18", "adult_from_years = 40");
        std::fs::write(rules.join("audit.toml"), &text).expect("write");
        let found = audit_rules_source(&ctx(&db, Some(&rules)))
            .expect("read")
            .expect("the clinic's");
        assert_eq!(Path::new(&found.name), rules.join("audit.toml"));
        assert_eq!(found.text, text);
    }
}
