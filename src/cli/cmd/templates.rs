//! `ritplan templates`, `ritplan template show`, `ritplan template check`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::CliError;
use crate::cli::args::TemplateCommand;
use crate::cli::context::{Context, read_source};
use crate::cli::json::{TemplateCheck, TemplateRow, TemplateShow, TemplateStep};
use crate::cli::output::{plural, print_checked, write_json};
use crate::diag::{DiagnosticJson, Located, Severity};
use crate::policy::Policy;
use crate::render::table;
use crate::template::{Checked, Template, check};

/// `ritplan template show | check`.
pub(in crate::cli) fn run(
    ctx: &Context,
    cmd: TemplateCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        TemplateCommand::Show { template, json } => show(ctx, &template, json, out, err),
        TemplateCommand::Check { files, json } => check_files(ctx, &files, json, out),
    }
}

/// `ritplan templates`: the catalogue.
pub(in crate::cli) fn list(
    ctx: &Context,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let policy = ctx.policy(err)?;
    let catalog = ctx.catalog(&policy, err)?;
    let rows: Vec<TemplateRow> = catalog
        .iter()
        .map(|(t, file)| TemplateRow {
            id: &t.id,
            name: &t.name,
            kind: t.kind,
            evidence: t.evidence,
            certainty: t.certainty,
            steps: t.steps.len(),
            days: t.injection_days(),
            span_days: t.span_days(),
            target_dose: t.maintenance.dose,
            unit: t.unit,
            file,
            warnings: t.evidence_warnings(),
        })
        .collect();
    if json {
        return write_json(out, &rows);
    }
    let mut tbl = table(
        &[
            "id",
            "name",
            "kind",
            "evidence",
            "steps",
            "days",
            "target dose",
        ],
        &[4, 5, 6],
    );
    for (r, (t, _)) in rows.iter().zip(catalog.iter()) {
        tbl.add_row(vec![
            r.id.to_string(),
            r.name.to_string(),
            r.kind.to_string(),
            t.evidence_label(),
            r.steps.to_string(),
            r.days.to_string(),
            r.target_dose.to_string(),
        ]);
    }
    writeln!(out, "{tbl}")?;
    writeln!(
        out,
        "days = injection days; evidence = source kind [clinical reference certainty: C confirmed, C-partial, I inference, U unverified]"
    )?;
    for r in rows.iter().filter(|r| !r.warnings.is_empty()) {
        for w in &r.warnings {
            writeln!(out, "! {}: {w}", r.id)?;
        }
    }
    Ok(())
}

/// Finds a template by id, or reads and checks it from a file.
pub(super) fn resolve(
    ctx: &Context,
    policy: &Policy,
    arg: &str,
    err: &mut dyn Write,
) -> Result<
    (
        Template,
        Vec<crate::diag::Diagnostic>,
        crate::diag::SourceText,
    ),
    CliError,
> {
    let path = Path::new(arg);
    let looks_like_file = arg.ends_with(".toml") || arg.contains(std::path::MAIN_SEPARATOR);
    if path.is_file() || looks_like_file {
        let checked = check(read_source(path)?, policy);
        if checked.has_errors() {
            print_checked(err, &checked)?;
            return Err(CliError::Data(format!(
                "{arg} has errors; the template cannot be used"
            )));
        }
        let Checked {
            source,
            diagnostics,
            template,
        } = checked;
        let template = template.ok_or_else(|| CliError::Data(format!("{arg} has errors")))?;
        return Ok((template, diagnostics, source));
    }
    let catalog = ctx.catalog(policy, err)?;
    let ids = catalog.ids();
    match catalog.get(arg) {
        Some(t) => {
            let source = crate::diag::SourceText::new(arg, "");
            Ok((t.clone(), Vec::new(), source))
        }
        None => {
            let containing: Vec<String> = ids
                .iter()
                .filter(|id| id.contains(arg))
                .map(|id| format!("{id:?}"))
                .collect();
            let hint = match crate::diag::did_you_mean(arg, ids.iter().copied()) {
                Some(s) => format!(" Did you mean {s:?}?"),
                None if !containing.is_empty() => {
                    format!(" Did you mean {}?", containing.join(" or "))
                }
                None => String::new(),
            };
            Err(CliError::Usage(format!(
                "no template has the id {arg:?}, and no such file exists.{hint} The templates are: {}",
                ids.join(", ")
            )))
        }
    }
}

/// `ritplan template show ID|FILE`.
fn show(
    ctx: &Context,
    arg: &str,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let policy = ctx.policy(err)?;
    let (t, diagnostics, source) = resolve(ctx, &policy, arg, err)?;
    let warnings = show_warnings(&t, &diagnostics, &source);
    let steps = steps_of(&t);
    if json {
        return write_json(out, &show_json(&t, steps, warnings));
    }
    print_heading(out, &t, &policy, &warnings)?;
    print_steps(out, &steps)?;
    print_maintenance_and_sources(out, &t)
}

/// The template's evidence warnings, then its file's warnings with their places.
fn show_warnings(
    t: &Template,
    diagnostics: &[crate::diag::Diagnostic],
    source: &crate::diag::SourceText,
) -> Vec<String> {
    let mut warnings = t.evidence_warnings();
    warnings.extend(
        diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning && d.code != "weak-evidence")
            .map(|d| {
                let (line, col) = Located {
                    source,
                    diagnostic: d,
                }
                .line_col();
                format!("{} (line {line}, column {col})", d.message)
            }),
    );
    warnings
}

/// Every step with its vial and cumulative dose.
fn steps_of(t: &Template) -> Vec<TemplateStep<'_>> {
    let cumulative = t.cumulative_doses();
    t.steps
        .iter()
        .zip(&cumulative)
        .filter_map(|(s, c)| {
            let vial = t.vial(&s.vial)?;
            Some(TemplateStep {
                index: s.index,
                day: s.day,
                time: s.time.map(|t| t.format("%H:%M").to_string()),
                min_interval_min: s.min_interval_min,
                vial: &vial.id,
                vial_label: &vial.label,
                cap: &vial.cap,
                concentration: vial.concentration,
                unit: vial.unit,
                volume_ml: s.volume_ml,
                dose: s.dose,
                cumulative_dose: *c,
                observation_min: s.observation_min,
                last_of_day: s.last_of_day,
                provenance: s.provenance.as_ref(),
                phase: t.step_phase(s.index),
            })
        })
        .collect()
}

/// `template show --json`.
fn show_json<'a>(
    t: &'a Template,
    steps: Vec<TemplateStep<'a>>,
    warnings: Vec<String>,
) -> TemplateShow<'a> {
    TemplateShow {
        id: &t.id,
        name: &t.name,
        product: &t.product,
        manufacturer: &t.manufacturer,
        allergen: &t.allergen,
        kind: t.kind,
        evidence: t.evidence,
        certainty: t.certainty,
        evidence_note: t.evidence_note.as_deref(),
        unit: t.unit,
        rules: &t.rules,
        sources: &t.sources,
        vials: &t.vials,
        timing: &t.timing,
        max_volume_ml: t.injection.max_volume_ml,
        syringe_graduation_ml: t.injection.syringe_graduation_ml,
        steps,
        maintenance: &t.maintenance,
        rush_target: t.rush_target,
        premedication: &t.premedication,
        warnings,
    }
}

/// The template's name, identity, rules and warnings.
fn print_heading(
    out: &mut dyn Write,
    t: &Template,
    policy: &Policy,
    warnings: &[String],
) -> Result<(), CliError> {
    writeln!(out, "{}", t.name)?;
    writeln!(
        out,
        "id: {}   kind: {}   evidence: {}",
        t.id,
        t.kind,
        t.evidence_label()
    )?;
    writeln!(out, "product: {} ({})", t.product, t.manufacturer)?;
    writeln!(out, "allergen: {}", t.allergen)?;
    let rules_name = policy.rule_set(&t.rules).map_or("", |r| r.name.as_str());
    writeln!(out, "course rules: {} ({rules_name})", t.rules)?;
    if let Some(n) = &t.evidence_note {
        writeln!(out, "evidence note: {n}")?;
    }
    for w in warnings {
        writeln!(out, "! {w}")?;
    }
    writeln!(out)?;

    Ok(())
}

/// The steps as a table.
fn print_steps(out: &mut dyn Write, steps: &[TemplateStep]) -> Result<(), CliError> {
    // A phase column only when the template names its phases.
    let phases = steps.iter().any(|s| s.phase.is_some());
    let mut header = vec![
        "step",
        "day",
        "time",
        "vial",
        "cap",
        "volume",
        "dose",
        "cumulative",
        "obs. min",
        "note",
    ];
    if phases {
        header.push("phase");
    }
    let mut tbl = table(&header, &[0, 1, 5, 6, 7, 8]);
    for v in steps {
        let note = v
            .provenance
            .map(|p| {
                let mut s = p.evidence.to_string();
                if let Some(c) = p.certainty {
                    s.push_str(&format!(" [{c}]"));
                }
                s
            })
            .unwrap_or_default();
        let mut row = vec![
            v.index.to_string(),
            v.day.to_string(),
            v.time.clone().unwrap_or_default(),
            format!("{} ({})", v.vial_label, v.concentration),
            v.cap.to_string(),
            v.volume_ml.to_string(),
            v.dose.to_string(),
            v.cumulative_dose.to_string(),
            v.observation_min.to_string(),
            note,
        ];
        if phases {
            row.push(crate::render::phase_cell(v.phase));
        }
        tbl.add_row(row);
    }
    writeln!(out, "{tbl}")?;
    Ok(())
}

/// The observation times, the maintenance, the syringe and the sources.
fn print_maintenance_and_sources(out: &mut dyn Write, t: &Template) -> Result<(), CliError> {
    writeln!(
        out,
        "Observation: {} min after each injection, {} min after a day's last; same-day injections at least {} min apart.",
        t.timing.observation_min, t.timing.last_of_day_observation_min, t.timing.min_interval_min
    )?;
    if let Some(target) = t.rush_target {
        writeln!(
            out,
            "Rush target: {target}, below the maintenance dose; the consolidation steps reach maintenance."
        )?;
    }
    let m = &t.maintenance;
    let mvial = t
        .vial(&m.vial)
        .map_or(m.vial.as_str(), |v| v.label.as_str());
    let first: Vec<String> = m.first_intervals_weeks.iter().map(u32::to_string).collect();
    writeln!(
        out,
        "Maintenance: {} of {mvial} = {}; first injections after {} weeks, then every {}.",
        m.volume_ml,
        m.dose,
        if first.is_empty() {
            "-".to_string()
        } else {
            first.join(", ")
        },
        crate::render::every_weeks(m.interval_weeks, m.interval_tolerance_weeks)
    )?;
    if let Some(p) = &m.provenance {
        writeln!(
            out,
            "  ({}{}{})",
            p.evidence,
            p.certainty.map(|c| format!(" [{c}]")).unwrap_or_default(),
            p.note
                .as_ref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        )?;
    }
    for pm in &t.premedication {
        writeln!(out, "Premedication: {}", pm.describe())?;
    }
    writeln!(
        out,
        "Largest injection {}; syringe graduated in {}.",
        t.injection.max_volume_ml, t.injection.syringe_graduation_ml
    )?;
    writeln!(out, "\nSources:")?;
    for s in &t.sources {
        match &s.url {
            Some(u) => writeln!(out, "  [{}] {} <{u}>", s.id, s.citation)?,
            None => writeln!(out, "  [{}] {}", s.id, s.citation)?,
        }
    }
    Ok(())
}

fn broken_count(checked: &[Checked]) -> usize {
    checked.iter().filter(|c| c.has_errors()).count()
}

fn check_files(
    ctx: &Context,
    files: &[PathBuf],
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut err = std::io::stderr().lock();
    let policy = ctx.policy(&mut err)?;
    // Each file is read and checked on its own; a file that cannot be read is reported like a
    // broken one, and the others are still checked.
    let mut checked: Vec<Checked> = Vec::new();
    let mut unreadable = Vec::new();
    let mut not_text = Vec::new();
    for f in files {
        match read_source(f) {
            Ok(src) => checked.push(check(src, &policy)),
            // A file that is there but is not UTF-8 text is bad data (65), not an I/O error.
            Err(CliError::Data(e)) => not_text.push(e),
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    let broken = broken_count(&checked) + not_text.len();
    let broken = broken + unreadable.len();
    if json {
        let rows: Vec<TemplateCheck> = checked
            .iter()
            .map(|c| TemplateCheck {
                file: &c.source.name,
                usable: !c.has_errors(),
                errors: c.diagnostics.iter().filter(|d| d.is_error()).count(),
                warnings: c.diagnostics.iter().filter(|d| !d.is_error()).count(),
                diagnostics: c
                    .diagnostics
                    .iter()
                    .map(|d| {
                        DiagnosticJson::from(&Located {
                            source: &c.source,
                            diagnostic: d,
                        })
                    })
                    .collect(),
            })
            .collect();
        write_json(out, &rows)?;
    } else {
        for c in &checked {
            print_checked(out, c)?;
            let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = c.diagnostics.len() - errors;
            let verdict = if errors > 0 { "NOT usable" } else { "usable" };
            writeln!(
                out,
                "{}: {verdict} ({errors} error{}, {warnings} warning{})",
                c.source.name,
                plural(errors),
                plural(warnings)
            )?;
        }
    }
    for u in unreadable.iter().chain(&not_text) {
        writeln!(err, "ritplan: error: {u}")?;
    }
    if !unreadable.is_empty() {
        return Err(CliError::Io {
            context: format!(
                "{} of {} template file{} could not be read",
                unreadable.len(),
                files.len(),
                plural(files.len())
            ),
            source: std::io::Error::other("see the messages above"),
        });
    }
    if broken > 0 {
        return Err(CliError::Data(format!(
            "{broken} of {} template file{} cannot be used",
            files.len(),
            plural(files.len())
        )));
    }
    Ok(())
}
