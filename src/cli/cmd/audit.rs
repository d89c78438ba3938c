//! `ritplan audit`: the outcomes audit (physicians only): the report's tables T1-T6 as text
//! (the default) or JSON with the per-course rows, or a pseudonymised CSV with its data
//! dictionary.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use crate::audit::export::{self, Dates, StudyKey};
use crate::audit::facts::{Arm, CourseFacts, Excluded, Status};
use crate::audit::report::{self, Report, ReportIn};
use crate::audit::report_text::{WIDTH, report_text};
use crate::audit::rules::AuditRules;
use crate::cli::CliError;
use crate::cli::args::PaperArgs;
use crate::cli::context::{Context, opened};
use crate::cli::output::{pdf_fonts, print_diagnostics, write_atomically};
use crate::cli::session;
use crate::ward::AuditFacts;

// How the CSV writes dates.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DatesArg {
    /// No dates: every interval in days from rush day 1 (the default).
    Days,
    /// Each patient's dates shifted by an offset derived from the study key (intervals kept).
    Shifted,
}

// `ritplan audit` arguments.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The first rush day 1 counted (default: the record's first).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    from: Option<NaiveDate>,
    /// The last rush day 1 counted (default: today).
    #[arg(long, value_name = "DATE", value_parser = crate::when::parse_date)]
    to: Option<NaiveDate>,
    /// Print the report (tables T1-T6 with their statistics and footers), the per-course rows
    /// and the counts as JSON.
    #[arg(long)]
    json: bool,
    /// Write the pseudonymised CSV (one row per course; no names, dates of birth or ids) to
    /// FILE, and its data dictionary to FILE.dictionary.csv.
    #[arg(long, value_name = "FILE", requires = "study_key_file")]
    csv: Option<PathBuf>,
    /// The study key (at least 32 bytes): patient and course keys are HMAC-SHA256 under it, so
    /// exports under the same key link, and nobody without it can reverse them.
    #[arg(long, value_name = "FILE", requires = "csv")]
    study_key_file: Option<PathBuf>,
    /// How the CSV writes dates: days from rush day 1 only (default), or shifted per patient.
    #[arg(long, value_enum, default_value = "days", requires = "csv")]
    dates: DatesArg,
    /// Write the report to FILE (PDF): the counts, the charts (SR incidence by stratum and arm
    /// with 95 % intervals, completion over time) and the tables T1-T6 with their footers,
    /// written privately.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    print: PaperArgs,
}

/// The counts `--json` and the summary show.
#[derive(Debug, Serialize)]
struct Counts {
    courses: usize,
    rit: usize,
    rit_omb_pre: usize,
    completed: usize,
    stopped: usize,
    censored: usize,
    excluded: usize,
    with_sr: usize,
    injections: u64,
}

fn counts(a: &AuditFacts) -> Counts {
    let n = |f: &dyn Fn(&CourseFacts) -> bool| a.rows.iter().filter(|r| f(r)).count();
    Counts {
        courses: a.rows.len(),
        rit: n(&|r| r.arm == Arm::Rit),
        rit_omb_pre: n(&|r| r.arm == Arm::RitOmbPre),
        completed: n(&|r| r.status == Status::Completed),
        stopped: n(&|r| r.status == Status::Stopped),
        censored: n(&|r| r.status == Status::Censored),
        excluded: a.excluded.len(),
        with_sr: n(&|r| r.sr.count > 0),
        injections: a.rows.iter().map(|r| u64::from(r.injections.total())).sum(),
    }
}

#[derive(Serialize)]
struct AuditJson<'a> {
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
    definitions: &'a AuditRules,
    counts: Counts,
    unknown_bands: &'a std::collections::BTreeMap<&'static str, usize>,
    excluded: &'a [Excluded],
    censored: &'a [Excluded],
    report: &'a Report,
    /// Left out when the rows are written beside the rest ([`write_audit_json`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<&'a [CourseFacts]>,
}

/// The rows as they stand in the audit's JSON: pretty, one level in. At 10 000 courses an
/// 18 MB text, made in two halves on two threads while the report is computed.
fn rows_json<T: Serialize + Sync>(rows: &[T]) -> Result<Vec<u8>, CliError> {
    if rows.is_empty() {
        return Ok(b"[]".to_vec());
    }
    let (a, b) = rows.split_at(rows.len() / 2);
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| row_items(b));
        let a = row_items(a);
        let b = b
            .join()
            .unwrap_or_else(|_| Err(CliError::Data("the rows' JSON could not be made".into())));
        (a, b)
    });
    let (a, b) = (a?, b?);
    let mut out = Vec::with_capacity(a.len() + b.len() + 8);
    out.push(b'[');
    out.extend_from_slice(&a);
    if !a.is_empty() && !b.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(&b);
    out.extend_from_slice(b"\n  ]");
    Ok(out)
}

/// The rows as the items of the JSON's `rows` array, two levels in, separated by commas: each
/// on a new line, its own lines indented by four spaces (a line break is never inside a JSON
/// string, where it is written `\n`).
fn row_items<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, CliError> {
    let mut out = Vec::with_capacity(rows.len().saturating_mul(2048));
    let mut one = Vec::with_capacity(4096);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        one.clear();
        serde_json::to_writer_pretty(&mut one, row)
            .map_err(|e| CliError::from(io::Error::from(e)))?;
        for line in one.split(|&b| b == b'\n') {
            out.extend_from_slice(b"\n    ");
            out.extend_from_slice(line);
        }
    }
    Ok(out)
}

/// The audit's JSON: `head` (every field but the rows) with `rows` (from [`rows_json`]) as its
/// last field, byte for byte what serialising the whole gives.
fn write_audit_json(
    out: &mut dyn Write,
    head: &impl Serialize,
    rows: &[u8],
) -> Result<(), CliError> {
    let mut text =
        serde_json::to_vec_pretty(head).map_err(|e| CliError::from(io::Error::from(e)))?;
    if !text.ends_with(b"\n}") {
        return Err(CliError::Data(
            "the audit's JSON did not end as an object".into(),
        ));
    }
    text.truncate(text.len() - 2);
    let mut buf = io::BufWriter::with_capacity(64 * 1024, &mut *out);
    buf.write_all(&text)?;
    buf.write_all(b",\n  \"rows\": ")?;
    buf.write_all(rows)?;
    buf.write_all(b"\n}\n")?;
    buf.flush()?;
    Ok(())
}

/// The audit definitions in force: `audit.toml` from --rules DIR, else the bundled ones.
fn audit_rules(ctx: &Context, err: &mut dyn Write) -> Result<AuditRules, CliError> {
    let clinic = crate::cli::context::audit_rules_source(ctx)?;
    AuditRules::clinic_or_bundled(clinic.as_ref()).or_else(|e| {
        for (src, diags) in &e.files {
            print_diagnostics(err, src, diags)?;
        }
        Err(CliError::Data("the audit rules file has errors".into()))
    })
}

/// The study key from its file.
fn study_key(path: &Path) -> Result<StudyKey, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        context: format!("cannot read the study key {}", path.display()),
        source,
    })?;
    StudyKey::new(&bytes).map_err(|why| CliError::Data(format!("{}: {why}", path.display())))
}

/// `FILE.dictionary.csv` beside `FILE`.
fn dictionary_path(csv: &Path) -> PathBuf {
    let mut name = csv
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".dictionary.csv");
    csv.with_file_name(name)
}

/// `ritplan audit`.
pub(in crate::cli) fn run(
    ctx: &Context,
    a: AuditArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if let (Some(from), Some(to)) = (a.from, a.to)
        && from > to
    {
        return Err(CliError::Usage(format!(
            "--from {from} is after --to {to}: the window would be empty"
        )));
    }
    let rules = audit_rules(ctx, err)?;
    // The key is read before the record: a short key is refused before any work.
    let key = a.study_key_file.as_deref().map(study_key).transpose()?;
    let (mut ward, now) = opened(ctx, err)?;
    let actor = session::actor(&ward, now)?;
    let today = now.date();
    // The first date ritplan holds (`crate::when`): every course is on or after it.
    let first = NaiveDate::from_ymd_opt(crate::when::FIRST_YEAR, 1, 1).unwrap_or(NaiveDate::MIN);
    let from = a.from.unwrap_or(first);
    let to = a.to.unwrap_or(today);
    let facts = ward.audit_facts(&actor, from, to, today, &rules)?;
    crate::timing::mark("audit: all facts");
    if let (Some(path), Some(key)) = (&a.csv, &key) {
        let dates = match a.dates {
            DatesArg::Days => Dates::Days,
            DatesArg::Shifted => Dates::Shifted,
        };
        write_atomically(path, export::csv(&facts.rows, key, dates).as_bytes())?;
        let dict = dictionary_path(path);
        write_atomically(&dict, export::dictionary(&rules, dates).as_bytes())?;
        if !a.json {
            writeln!(
                out,
                "Wrote {} course rows to {} and the data dictionary to {}.",
                facts.rows.len(),
                path.display(),
                dict.display()
            )?;
        }
    }
    // With --json, the rows' JSON is made on two other threads while the report is computed.
    let (report, rows) = std::thread::scope(|s| {
        let rows = a.json.then(|| s.spawn(|| rows_json(&facts.rows)));
        let report = report::report(&ReportIn {
            from: facts.from,
            to: facts.to,
            as_of: facts.as_of,
            rows: &facts.rows,
            excluded: &facts.excluded,
            rules: &rules,
            medication_score: Some(&facts.medication_score),
        });
        let rows = rows.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(CliError::Data("the rows' JSON could not be made".into())))
        });
        (report, rows)
    });
    crate::timing::mark("audit: report");
    if let Some(path) = &a.out {
        report_pdf(
            &facts,
            &report,
            now,
            ward.training(),
            &a.print.to(path.clone()),
            out,
            a.json,
        )?;
    }
    let c = counts(&facts);
    if let Some(rows) = rows {
        let head = AuditJson {
            from: facts.from,
            to: facts.to,
            as_of: facts.as_of,
            definitions: &rules,
            counts: c,
            unknown_bands: &facts.unknown_bands,
            excluded: &facts.excluded,
            censored: &facts.censored,
            report: &report,
            rows: None,
        };
        return write_audit_json(out, &head, &rows?);
    }
    let window = if a.from.is_some() {
        format!("{from} to {to}")
    } else {
        format!("up to {to}")
    };
    writeln!(
        out,
        "Outcomes audit: courses with rush day 1 {window}, as of {today}"
    )?;
    writeln!(
        out,
        "  {} courses: {} rush immunotherapy alone, {} omalizumab-pretreated\n  (pretreated: at least {} omalizumab injection(s) recorded before rush day 1)",
        c.courses, c.rit, c.rit_omb_pre, rules.arm_doses_before.value
    )?;
    writeln!(
        out,
        "  {} completed, {} stopped, {} censored (still in up-dosing); {} with a systemic reaction; {} injections",
        c.completed, c.stopped, c.censored, c.with_sr, c.injections
    )?;
    for e in &facts.excluded {
        writeln!(out, "  excluded: course {}: {}", e.course_id, e.reason)?;
    }
    for (col, n) in &facts.unknown_bands {
        writeln!(
            out,
            "  {col}: {n} course(s) unknown (a censored laboratory value either side of an edge)"
        )?;
    }
    writeln!(
        out,
        "Observational data, not randomised: compare with caution."
    )?;
    writeln!(out)?;
    write!(out, "{}", report_text(&report, WIDTH))?;
    Ok(())
}

/// `--out FILE`: the report's PDF (the counts, both charts, and the tables T1-T6 with their
/// footers), written privately.
fn report_pdf(
    facts: &AuditFacts,
    report: &Report,
    made: chrono::NaiveDateTime,
    training: bool,
    pdf: &crate::cli::output::PdfOut,
    out: &mut dyn Write,
    quiet: bool,
) -> Result<(), CliError> {
    let charts = crate::audit::chart::charts(&facts.rows, facts.as_of);
    // Every text printed, so that a clinic's rules citing a source in another script find a
    // font for it.
    let mut texts: Vec<&str> = facts.excluded.iter().map(|e| e.reason.as_str()).collect();
    for t in &report.tables {
        texts.push(&t.title);
        texts.extend(t.footer.iter().map(String::as_str));
        for b in &t.blocks {
            texts.extend(b.heading.as_deref());
            texts.extend(b.notes.iter().map(String::as_str));
            texts.extend(b.rows.iter().map(|r| r.label.as_str()));
        }
    }
    let fonts = pdf_fonts(&texts, pdf.font.as_deref())?;
    let audit = crate::render::audit_charts::Audit {
        from: facts.from,
        to: facts.to,
        as_of: facts.as_of,
        rows: &facts.rows,
        excluded: &facts.excluded,
    };
    let (bytes, warnings) = crate::render::audit_charts::pdf(
        &audit, &charts, report, made, training, &fonts, pdf.paper,
    )
    .map_err(|e| CliError::Data(e.to_string()))?;
    write_atomically(&pdf.path, &bytes)?;
    if !quiet {
        for warning in warnings {
            writeln!(out, "warning from the PDF writer: {warning}")?;
        }
        writeln!(out, "Wrote the report to {}.", pdf.path.display())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        id: u32,
        text: &'static str,
        list: Vec<u32>,
        empty: Vec<u32>,
        nested: Option<Box<Row>>,
    }

    #[derive(Serialize)]
    struct Whole<'a> {
        first: u32,
        report: Vec<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rows: Option<&'a [Row]>,
    }

    fn row(id: u32) -> Row {
        Row {
            id,
            text: "a line\nand \"quotes\" {[,]}",
            list: vec![1, 2],
            empty: vec![],
            nested: Some(Box::new(Row {
                id: id + 100,
                text: "",
                list: vec![],
                empty: vec![],
                nested: None,
            })),
        }
    }

    #[test]
    fn the_rows_written_beside_the_rest_give_the_same_bytes_as_the_whole() {
        for rows in [vec![], vec![row(1)], vec![row(1), row(2), row(3)]] {
            let whole = Whole {
                first: 7,
                report: vec!["T1", "T2"],
                rows: Some(&rows),
            };
            let mut expected = serde_json::to_vec_pretty(&whole).expect("json");
            expected.push(b'\n');
            let head = Whole {
                rows: None,
                ..whole
            };
            let mut got = Vec::new();
            write_audit_json(&mut got, &head, &rows_json(&rows).expect("rows")).expect("write");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected),
                "{} rows",
                rows.len()
            );
        }
    }
}
