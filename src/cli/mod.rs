//! The command line: clap types, one file per command group, and the exit codes.
//!
//! Exit codes (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also when the reader of our output went away: a broken pipe) |
//! | 1 | refusal: the rules decline (no plan, no dose), or the logged-in role may not do it |
//! | 2 | usage error: unknown command, flag, or template id |
//! | 65 | bad input data: a template or rules file with errors, an impossible patient value, a control character, a database that is not a ritplan record, a record that fails verification |
//! | 74 | I/O error: a file that cannot be read or written, a record or key file that does not exist, a PostgreSQL server that cannot be reached |
//! | 77 | not permitted: not logged in, the session ended, a wrong password, a locked or disabled account |
//!
//! Results go to stdout; diagnostics and errors go to stderr. No colour is ever printed.

mod args;
mod config;
mod context;
mod course;
mod error;
mod output;
mod patient_args;
mod plan;
mod risk;
#[cfg(feature = "web")]
mod serve;
mod session;
mod staff;
mod templates;

use std::ffi::OsString;
use std::io::{self, Write};

use clap::Parser;

pub use args::Args;
use args::{
    Command, CourseCommand, DbCommand, ExportCommand, PatientCommand, RecordArgs, TemplateCommand,
};
use context::{Context, opened, parse_datetime, policy_from, read_source, record_clock, today};
use output::{
    pdf_fonts, plural, print_checked, print_diagnostics, write_atomically, write_json,
    write_protocol, write_protocols,
};

use crate::course::{EventKind, LateKind, Review, WaoGrade};
use crate::ward::Record;
pub use error::{CliError, EXIT_AUTH, EXIT_DATA, EXIT_IO, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

/// Runs the command line and returns the exit code. Errors are printed to stderr.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> u8 {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors; clap knows which exit code each wants.
            let _ = e.print();
            // A real date outside the years ritplan accepts is bad input data, not a usage
            // error (exit 65, as for a patient value out of range).
            let out_of_range = matches!(
                std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<crate::when::DateError>()),
                Some(crate::when::DateError::OutOfRange { .. })
            );
            if out_of_range {
                return EXIT_DATA;
            }
            return u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(args, &mut out).and_then(|()| out.flush().map_err(CliError::from));
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let code = e.exit_code();
            if code != EXIT_OK {
                let _ = writeln!(io::stderr(), "ritplan: error: {e}");
            }
            code
        }
    }
}

/// Runs parsed arguments, writing results to `out` and diagnostics to stderr.
pub fn run(args: Args, out: &mut dyn Write) -> Result<(), CliError> {
    let mut err = io::stderr().lock();
    // Tables fit a terminal's width; a pipe or a file gets them whole.
    if io::IsTerminal::is_terminal(&io::stdout())
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
    {
        crate::render::fit_tables_to(w);
    }
    let config = config::Config::load(args.config.as_deref())?;
    // --db, then RITPLAN_DB (read where the record is opened), then the configuration file.
    let db = args.db.or_else(|| {
        std::env::var_os("RITPLAN_DB")
            .is_none()
            .then(|| config.db.clone())
            .flatten()
    });
    let ctx = Context {
        template_dirs: args.templates,
        rules_dir: args.rules,
        db,
        config,
    };
    match args.command {
        Command::Templates { json } => templates::list(&ctx, json, out, &mut err),
        Command::Template(TemplateCommand::Show { template, json }) => {
            templates::show(&ctx, &template, json, out, &mut err)
        }
        Command::Template(TemplateCommand::Check { files, json }) => {
            templates::check_files(&ctx, &files, json, out)
        }
        Command::Plan {
            template,
            start,
            patient,
            calendar,
            accept_risk,
            accept_age,
            json,
            pdf,
            what_if,
        } => plan::run(
            &ctx,
            &template,
            start,
            &patient,
            &calendar,
            accept_risk.as_deref(),
            accept_age.as_deref(),
            json,
            &pdf,
            what_if.scenario().as_ref(),
            out,
            &mut err,
        ),
        Command::Init(a) => {
            let path = staff::record_path(ctx.db.as_ref())?;
            let now = record_clock(a.training, &mut err)?;
            staff::init(&path, &a, now, out, &mut err)
        }
        Command::Login { id, password_stdin } => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::login(&ward, &id, password_stdin, now, out)
        }
        Command::Logout => {
            let (ward, _) = opened(&ctx, &mut err)?;
            staff::logout(&ward, out)
        }
        Command::Whoami { json } => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::whoami(&ward, json, now, out)
        }
        Command::Staff(cmd) => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::staff(&ward, cmd, now, out)
        }
        Command::Settings(cmd) => {
            let (ward, now) = opened(&ctx, &mut err)?;
            staff::settings(&ward, cmd, now, out)
        }
        Command::Db(DbCommand::Backup { out: dest }) => {
            let (ward, now) = opened(&ctx, &mut err)?;
            let actor = session::actor(&ward, now)?;
            let v = ward.backup(&actor, &dest)?;
            session::used(&ward, &actor, now)?;
            writeln!(
                out,
                "backed up {} course{} to {} (with {} and {}); the copy verifies",
                v.courses.len(),
                plural(v.courses.len()),
                dest.display(),
                crate::ward::location::key_path(&dest).display(),
                crate::ward::location::heads_path(&dest).display()
            )?;
            Ok(())
        }
        Command::Db(DbCommand::Copy { from, to, json }) => {
            let source = staff::record_path(from.as_ref().or(ctx.db.as_ref()))?;
            let ward = crate::ward::Ward::open_unchanged(&source)?;
            let now = record_clock(ward.training(), &mut err)?;
            // The session is read, not marked used: a copy changes nothing in its source.
            let actor = session::actor(&ward, now)?;
            let r = ward.copy_to(&actor, &to)?;
            if json {
                output::write_json(out, &r)?;
            }
            if !json {
                writeln!(
                    out,
                    "copied {} patient{}, {} course{} and {} event{} from {} to {}; the copy verifies and its rows are identical (SHA-256 {})",
                    r.patients,
                    plural(r.patients as usize),
                    r.courses,
                    plural(r.courses as usize),
                    r.events,
                    plural(r.events as usize),
                    r.from,
                    r.to,
                    &r.copy_digest[..16]
                )?;
            }
            Ok(())
        }
        Command::Export(ExportCommand::Fhir {
            course,
            patient,
            out: file,
        }) => {
            let (mut ward, _) = opened(&ctx, &mut err)?;
            let data = ward.fhir(course, patient.as_deref())?;
            let views: Vec<&crate::ward::CourseView> = data.views.iter().collect();
            let bundle = crate::export::fhir::bundle(&data.record_id, &data.patient, &views);
            let mut text =
                serde_json::to_vec_pretty(&bundle).map_err(|e| CliError::Data(e.to_string()))?;
            text.push(b'\n');
            match file {
                Some(path) => {
                    write_atomically(&path, &text)?;
                    writeln!(out, "{}", path.display())?;
                }
                None => out.write_all(&text)?,
            }
            Ok(())
        }
        Command::Export(ExportCommand::Ics {
            course,
            clinic,
            details,
            out: file,
        }) => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            let clinic = clinic
                .or_else(|| ctx.config.clinic_name.clone())
                .unwrap_or_else(|| "Allergy clinic".into());
            let data = ward.ics(course, &clinic)?;
            let text = crate::export::ics::calendar(
                &data.view,
                &crate::export::ics::IcsOptions {
                    clinic: &data.clinic,
                    details,
                    record_id: &data.record_id,
                    now,
                },
            )
            .map_err(crate::ward::WardError::from)?;
            match file {
                Some(path) => {
                    write_atomically(&path, text.as_bytes())?;
                    writeln!(out, "{}", path.display())?;
                }
                None => out.write_all(text.as_bytes())?,
            }
            Ok(())
        }
        Command::Completions { shell } => {
            let mut cmd = <Args as clap::CommandFactory>::command();
            // Into a buffer first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ritplan", &mut script);
            out.write_all(&script)?;
            Ok(())
        }
        Command::Man { out_dir } => output::man_pages(out_dir.as_deref(), out),
        Command::Verify { json } => {
            let (ward, _) = opened(&ctx, &mut err)?;
            staff::verify(&ward, json, out)
        }
        Command::Patient(cmd) => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            match cmd {
                PatientCommand::Add(a) => {
                    let actor = session::actor(&ward, now)?;
                    course::patient_add(&mut ward, &actor, &a, now, out, &mut err)?;
                    session::used(&ward, &actor, now)
                }
                PatientCommand::List { json } => course::patient_list(&ward.patients()?, json, out),
                PatientCommand::Import { file } => {
                    let actor = session::actor(&ward, now)?;
                    let src = read_source(&file)?;
                    match ward.import_patients(&actor, &src.text, now) {
                        Ok(n) => writeln!(out, "imported {n} patient{}", plural(n))?,
                        Err(crate::ward::import::ImportError::Rows(rows)) => {
                            for r in &rows {
                                writeln!(err, "{}:{}: {}", file.display(), r.line, r.message)?;
                            }
                            return Err(CliError::Data(format!(
                                "no patient imported: {} error{} in {}",
                                rows.len(),
                                plural(rows.len()),
                                file.display()
                            )));
                        }
                        Err(crate::ward::import::ImportError::Ward(e)) => return Err(e.into()),
                    }
                    session::used(&ward, &actor, now)
                }
                PatientCommand::Find { query, json } => {
                    course::patient_list(&ward.find_patients(&query)?, json, out)
                }
                PatientCommand::Show { id, json } => {
                    course::patient_show(&ward, id.trim(), json, out)
                }
            }
        }
        Command::Course(cmd) => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            match cmd {
                CourseCommand::Start(a) => {
                    let actor = session::actor(&ward, now)?;
                    course::course_start(&ctx, &mut ward, &actor, &a, now, out, &mut err)?;
                    session::used(&ward, &actor, now)
                }
                CourseCommand::List { active, json } => {
                    course::course_list(&mut ward, active, json, now, out)
                }
                CourseCommand::Show { id, json } => {
                    course::course_show(&mut ward, id, json, now, out)
                }
                CourseCommand::Log { id, json } => course::course_log(&ward, id, json, out),
                CourseCommand::Pdf {
                    id,
                    all_active,
                    out: file,
                    print,
                } => {
                    let protocols = if all_active {
                        ward.active_protocols(now)?
                    } else {
                        ward.course_protocols(&id, now)?
                    };
                    course::course_pdf(&protocols, &print.to(file), out, &mut err)
                }
                CourseCommand::Verify { id, json } => {
                    course::course_verify(&mut ward, id, json, out)
                }
            }
        }
        Command::Next {
            course: id,
            at,
            json,
        } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            course::next(&mut ward, id, at.unwrap_or(now), json, out)
        }
        Command::Forecast {
            course: id,
            what_if,
            at,
            json,
        } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            let scenario = what_if.scenario().unwrap_or_default();
            course::forecast(&mut ward, id, at.unwrap_or(now), &scenario, json, out)
        }
        Command::Give {
            course: id,
            patient,
            checked_by,
            checker_password_stdin,
            step,
            volume,
            rec,
            pef,
            screen,
            lot,
            site,
            override_reason,
        } => {
            let volume = crate::ward::text::volume(&volume)
                .map_err(|why| CliError::Usage(format!("--volume {why}")))?;
            let pef = pef
                .map(|p| {
                    crate::ward::text::pef(&p)
                        .map_err(|why| CliError::Usage(format!("--pef {why}")))
                })
                .transpose()?;
            let (mut ward, now) = opened(&ctx, &mut err)?;
            let checker = match checked_by {
                Some(c) => {
                    let secret = session::read_secret(
                        &format!("Password of {c}, who checks the dose: "),
                        checker_password_stdin,
                    )?;
                    Some(ward.check_person(&c, &secret, &session::os_user(), now)?)
                }
                None => None,
            };
            let what = Record::Give {
                proposed: crate::course::Proposed {
                    step,
                    volume_ml: volume,
                    pef_percent: pef,
                    screen_ok: screen.is_some(),
                    override_reason,
                },
                lot,
                site,
                patient,
                checked_by: checker,
            };
            record_on(&mut ward, now, id, rec, what, out)
        }
        Command::Observe {
            course: id,
            local_mm,
            not_assessable,
            early,
            rec,
        } => record(
            &ctx,
            id,
            rec,
            Record::Event(EventKind::ObservationEnded {
                local_mm,
                not_assessable,
                early_reason: early,
            }),
            out,
        ),
        Command::React {
            course: id,
            grade,
            onset_min,
            symptom,
            treatment,
            late_local_mm,
            late,
            rec,
        } => {
            let kind = match (grade, late_local_mm, late) {
                (Some(g), _, _) => EventKind::SystemicReaction {
                    grade: g.parse::<WaoGrade>().map_err(CliError::Usage)?,
                    onset_min: onset_min.ok_or_else(|| {
                        CliError::Usage("a systemic reaction needs --onset-min".into())
                    })?,
                    symptom: symptom.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                        CliError::Usage("a systemic reaction needs --symptom".into())
                    })?,
                    treatment,
                },
                (None, Some(mm), _) => EventKind::LateLocalReaction { mm },
                (None, None, Some(t)) => EventKind::LateReaction {
                    kind: t.parse::<LateKind>().map_err(CliError::Usage)?,
                    symptom: symptom
                        .filter(|s| !s.trim().is_empty())
                        .ok_or_else(|| CliError::Usage("a late reaction needs --symptom".into()))?,
                },
                (None, None, None) => {
                    return Err(CliError::Usage(
                        "give --grade (systemic reaction), --late-local-mm or --late TYPE".into(),
                    ));
                }
            };
            record(&ctx, id, rec, Record::Event(kind), out)
        }
        Command::Defer {
            course: id,
            reason,
            rec,
        } => record(
            &ctx,
            id,
            rec,
            Record::Event(EventKind::DoseDeferred { reason }),
            out,
        ),
        Command::Review {
            course: id,
            decision,
            reason,
            rec,
        } => {
            let decision = decision.parse::<Review>().map_err(CliError::Usage)?;
            record(
                &ctx,
                id,
                rec,
                Record::Event(EventKind::PhysicianReview { decision, reason }),
                out,
            )
        }
        Command::Note {
            course: id,
            text,
            rec,
        } => record(&ctx, id, rec, Record::Event(EventKind::Note { text }), out),
        Command::Correct {
            course: id,
            event,
            reason,
            rec,
        } => record(
            &ctx,
            id,
            rec,
            Record::Event(EventKind::Correction {
                corrects: event,
                reason,
            }),
            out,
        ),
        Command::Sheet {
            date,
            json,
            pdf,
            print,
        } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            let pdf = pdf.map(|path| print.to(path));
            course::sheet(&mut ward, date.unwrap_or(now.date()), now, json, pdf, out)
        }
        #[cfg(feature = "web")]
        Command::Serve(a) => serve::run(&ctx, &a, &mut err),
        Command::Board { json } => {
            let (mut ward, now) = opened(&ctx, &mut err)?;
            course::board(&mut ward, now, json, out)
        }
        Command::Risk { patient, on, json } => risk::risk(
            &ctx,
            &patient,
            on.unwrap_or_else(today),
            json,
            out,
            &mut err,
        ),
        Command::Omalizumab {
            patient,
            label,
            on,
            json,
        } => risk::omalizumab(
            &ctx,
            &patient,
            label
                .as_deref()
                .or(ctx.config.omalizumab_label.as_deref())
                .unwrap_or("eu"),
            on.unwrap_or_else(today),
            json,
            out,
            &mut err,
        ),
    }
}

fn record(
    ctx: &Context,
    id: i64,
    rec: RecordArgs,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut ward, now) = opened(ctx, &mut io::stderr().lock())?;
    record_on(&mut ward, now, id, rec, what, out)
}

fn record_on(
    ward: &mut crate::ward::Ward,
    now: chrono::NaiveDateTime,
    id: i64,
    rec: RecordArgs,
    what: Record,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let actor = session::actor(ward, now)?;
    if let Some(by) = rec.by.as_deref().map(str::trim)
        && by != actor.staff.id
        && by != actor.staff.name
    {
        return Err(CliError::Usage(format!(
            "--by {by:?} is not the logged-in staff member ({}, {}): entries are recorded under the login",
            actor.staff.name, actor.staff.id
        )));
    }
    let rec = course::Recording {
        actor: &actor,
        at: rec.at,
        now,
        json: rec.json,
    };
    // The session was marked used in the recording's own transaction.
    course::record(ward, id, rec, what, out)
}
