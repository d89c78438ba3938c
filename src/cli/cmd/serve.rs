//! `ritplan serve`: the ward page on this machine (see `crate::web`).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::cli::context::{self, Context};
use crate::cli::output::print_diagnostics;
use crate::cli::{CliError, session};

// `ritplan serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on. Only this machine (127.0.0.1, ::1) unless --behind-proxy.
    #[arg(long, default_value = "127.0.0.1:8470")]
    listen: SocketAddr,
    /// Listen on another address because a reverse proxy in front terminates TLS (see the
    /// README); the cookies are then marked Secure.
    #[arg(long)]
    behind_proxy: bool,
    // Another name the page is reached by (e.g. the name a reverse proxy forwards as the
    // request's Host), besides the listen address; may be repeated. A request naming any other
    // host is refused (so that a page of another site cannot reach it by DNS rebinding).
    /// Another host name the page answers to (repeatable); requests for any other are refused.
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
}

/// Serves until stopped.
pub(in crate::cli) fn run(
    ctx: &Context,
    a: &ServeArgs,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if !a.listen.ip().is_loopback() && !a.behind_proxy {
        return Err(CliError::Usage(format!(
            "--listen {} is reachable from other machines: the page serves only this machine, unless a reverse proxy with TLS stands in front (--behind-proxy; see the README)",
            a.listen
        )));
    }
    // One opener for the first ward and the page's others: each with the clinic's vial expiry
    // rules (--rules DIR), as every command has them (`context::ward_opener`).
    let opener = context::ward_opener(ctx)?;
    // The courses the page's wards load and replay, kept between requests (each course's rows
    // and events are still read and verified on every request: see `crate::ward::CourseCache`).
    // RITPLAN_NO_COURSE_CACHE=1 serves without it (every course loaded again on every request:
    // to compare, or to rule it out).
    let courses = (std::env::var_os("RITPLAN_NO_COURSE_CACHE")
        .is_none_or(|v| v.is_empty() || v == "0"))
    .then(|| Arc::new(crate::ward::CourseCache::default()));
    let mut ward = opener.open()?;
    if let Some(c) = &courses {
        ward.share_course_cache(c.clone());
    }
    let zone = ward.zone()?;
    context::record_clock(ward.training(), zone, err)?;
    // The clinic's audit definitions, found as `ritplan audit` finds them. A file with errors
    // is said now and shown, located, on /audit (which then shows no audit); the ward page
    // serves on: the audit must not stop the day's injections.
    let audit_rules = context::audit_rules_source(ctx)?;
    if let Err(e) = crate::audit::rules::AuditRules::clinic_or_bundled(audit_rules.as_ref()) {
        writeln!(
            err,
            "ritplan: warning: the audit definitions have errors: /audit shows them (and no audit) until they are fixed"
        )?;
        for (src, diags) in &e.files {
            print_diagnostics(err, src, diags)?;
        }
    }
    let training = ward.training();
    let db = context::record_path(ctx.db.as_ref())?;
    // More wards on the same record as requests need them (see `crate::web::Pool`).
    let open: crate::web::Opener = Box::new(move || {
        let mut ward = opener.open()?;
        if let Some(c) = &courses {
            ward.share_course_cache(c.clone());
        }
        Ok(ward)
    });
    let app = Arc::new(crate::web::App {
        wards: crate::web::Pool::new(ward, open, crate::web::WARDS),
        hosts: crate::web::Hosts::new(a.listen, &a.hosts),
        limits: crate::web::Limits::default(),
        // A training record's clock starts at RITPLAN_NOW (or the system's time) and may be
        // set on the page; a patient record's is the system's, in the zone the record holds
        // when each request is served (read again for every request: `crate::web::Clock`).
        clock: if training {
            crate::web::Clock::training(context::now_in(zone))
        } else {
            crate::web::Clock::system(zone, context::system_now_in)
        },
        secure: a.behind_proxy,
        os_user: session::os_user(),
        db,
        audit_rules,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|source| CliError::Io {
            context: "cannot start the web server".into(),
            source,
        })?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|source| CliError::Io {
                context: format!("cannot listen on {}", a.listen),
                source,
            })?;
        writeln!(
            err,
            "ritplan: serving the ward page on http://{}/ (Ctrl-C stops it)",
            a.listen
        )?;
        crate::web::serve(app, listener)
            .await
            .map_err(|source| CliError::Io {
                context: "the web server stopped".into(),
                source,
            })
    })
}
