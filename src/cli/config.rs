//! The clinic's configuration file: `--config FILE`, else `$XDG_CONFIG_HOME/ritplan/config.toml`
//! (`~/.config/ritplan/config.toml`), else `/etc/ritplan/config.toml`; none is fine. It holds
//! what a clinic would otherwise type on every command — its hours and days, the record's
//! path, its name for calendars — never a clinical rule (those are `rules/*.toml`). Flags win
//! over the environment (`RITPLAN_DB`), which wins over the file, which wins over the defaults.
//!
//! ```toml
//! db = "/srv/ritplan/ward.db"
//! opens = "07:30"
//! closes = "16:00"
//! clinic_days = ["mon", "tue", "wed", "thu"]
//! clinic_name = "Allergy clinic, Ward 4"
//! closed = ["2026-12-24", "2026-12-25", "2026-12-31"]
//! omalizumab_label = "us"
//! ```

use std::path::{Path, PathBuf};

use chrono::{NaiveTime, Weekday};

use super::CliError;
use super::context::read_source;
use super::output::print_diagnostics;
use crate::diag::Diagnostic;
use crate::tomlread::{Diags, Table, parse_document};

/// What the configuration file says (every key optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Where it was read from.
    pub path: Option<PathBuf>,
    /// The record.
    pub db: Option<PathBuf>,
    /// Opening time.
    pub opens: Option<NaiveTime>,
    /// Closing time.
    pub closes: Option<NaiveTime>,
    /// Clinic days.
    pub clinic_days: Option<Vec<Weekday>>,
    /// The clinic's name (calendar titles).
    pub clinic_name: Option<String>,
    /// Dates the clinic is closed.
    pub closed: Vec<chrono::NaiveDate>,
    /// The omalizumab label whose table `ritplan omalizumab` reads by default (eu or us).
    pub omalizumab_label: Option<String>,
}

/// The file to read: the one asked for, else the first that exists.
fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("ritplan").join("config.toml"));
    [user, Some(PathBuf::from("/etc/ritplan/config.toml"))]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

impl Config {
    /// Reads the configuration; a file named with `--config` must exist. Errors are printed
    /// with their file, line and column (exit 65).
    pub fn load(explicit: Option<&Path>) -> Result<Config, CliError> {
        let Some(path) = locate(explicit) else {
            return Ok(Config::default());
        };
        let src = read_source(&path)?;
        let mut diags = Diags::default();
        let mut cfg = Config {
            path: Some(path.clone()),
            ..Config::default()
        };
        match parse_document(&src.text) {
            Err(d) => diags.push(d),
            Ok(doc) => {
                let doc = doc.named("the configuration file");
                doc.only_keys(
                    &mut diags,
                    &[
                        "db",
                        "opens",
                        "closes",
                        "clinic_days",
                        "clinic_name",
                        "closed",
                        "omalizumab_label",
                    ],
                );
                cfg.db = doc
                    .string(&mut diags, "db", false)
                    .map(|s| PathBuf::from(s.value));
                cfg.opens = doc.time(&mut diags, "opens").map(|t| t.value);
                cfg.closes = doc.time(&mut diags, "closes").map(|t| t.value);
                cfg.clinic_name = doc
                    .string(&mut diags, "clinic_name", false)
                    .map(|s| s.value);
                if let Some(l) = doc.string(&mut diags, "omalizumab_label", false) {
                    if matches!(l.value.as_str(), "eu" | "us") {
                        cfg.omalizumab_label = Some(l.value);
                    } else {
                        diags.push(
                            Diagnostic::error(
                                "unknown-kind",
                                l.at(),
                                format!("{:?} is not an omalizumab label ritplan has", l.value),
                            )
                            .with_help("use \"eu\" (China follows it) or \"us\""),
                        );
                    }
                }
                cfg.read_calendar(&doc, &mut diags);
                if let (Some(o), Some(c)) = (cfg.opens, cfg.closes)
                    && c <= o
                {
                    diags.push(Diagnostic::error(
                        "bad-range",
                        doc.at(),
                        format!("closes ({c}) must be after opens ({o})"),
                    ));
                }
            }
        }
        if diags.has_errors() {
            let mut err = std::io::stderr().lock();
            print_diagnostics(&mut err, &src, &diags.0)?;
            return Err(CliError::Data(format!("{} has errors", path.display())));
        }
        Ok(cfg)
    }

    /// The clinic's days and the dates it is closed.
    fn read_calendar(&mut self, doc: &Table, diags: &mut Diags) {
        if let Some(days) = doc.strings(diags, "clinic_days", false) {
            let mut out = Vec::new();
            for d in days {
                match d.value.trim().parse::<Weekday>() {
                    Ok(w) => out.push(w),
                    Err(_) => diags.push(
                        Diagnostic::error(
                            "unknown-kind",
                            d.at(),
                            format!("{:?} is not a weekday", d.value),
                        )
                        .with_help("use mon, tue, wed, thu, fri, sat, sun"),
                    ),
                }
            }
            self.clinic_days = Some(out);
        }
        if let Some(dates) = doc.strings(diags, "closed", false) {
            if dates.len() > crate::planner::MAX_CLOSED {
                diags.push(Diagnostic::error(
                    "bad-range",
                    doc.at(),
                    format!(
                        "closed lists {} dates; at most {} (one year)",
                        dates.len(),
                        crate::planner::MAX_CLOSED
                    ),
                ));
            }
            for d in dates {
                match crate::when::parse_date(&d.value) {
                    Ok(x) => self.closed.push(x),
                    Err(e) => diags.push(Diagnostic::error("bad-date", d.at(), e.to_string())),
                }
            }
        }
    }
}
