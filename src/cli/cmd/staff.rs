//! `ritplan init`, `login`, `logout`, `whoami`, `staff`, `settings` and `verify`.

use std::io::Write;

use crate::cli::CliError;
use crate::cli::context::{Context, opened, record_clock, record_path};
use crate::cli::json::WhoamiJson;
use crate::cli::output::write_json;
use crate::cli::session::{self, os_user, read_secret};
use crate::render::table;
use crate::ward::view::AccountState;
use crate::ward::{NewStaff, Role, SETTING_KEYS, Ward};

// `ritplan init` arguments.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The first account: an admin, who then adds the nurses and physicians.
    #[arg(long, value_name = "ID")]
    admin: String,
    /// The admin's name.
    #[arg(long)]
    name: String,
    /// A training record: its clock may be set with RITPLAN_NOW, and every output says so.
    #[arg(long)]
    training: bool,
    /// Read the admin's password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// The clinic's IANA time zone (Europe/Oslo): the record's times are its wall-clock times
    /// whatever the machine's TZ. Default: this machine's zone (TZ, /etc/timezone or the
    /// /etc/localtime link); init refuses when it cannot be told.
    #[arg(long, value_name = "ZONE")]
    time_zone: Option<String>,
}

/// `ritplan init`: creates a record, its key file and heads folder, and its admin, logged in.
pub(in crate::cli) fn init(
    ctx: &Context,
    a: &InitArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let path = &record_path(ctx.db.as_ref())?;
    let zone = match &a.time_zone {
        Some(name) => crate::zone::Zone::parse(name)
            .map_err(|e| CliError::Usage(format!("--time-zone: {e}")))?,
        None => crate::cli::context::system_zone().map_err(|why| {
            CliError::Usage(format!(
                "{why}: give the clinic's zone with --time-zone (for example --time-zone Europe/Oslo)"
            ))
        })?,
    };
    let now = record_clock(a.training, zone, err)?;
    let secret = read_secret("Password for the new admin account: ", a.password_stdin)?;
    let admin = NewStaff {
        id: a.admin.clone(),
        name: a.name.clone(),
        role: Role::Admin,
        secret,
    };
    let (ward, actor, token) = Ward::init_in(path, a.training, admin, &os_user(), now, zone)?;
    session::save(&ward, &token)?;
    let (place, key_file, on_server) = ward.place();
    writeln!(out, "{place}")?;
    let files = if on_server {
        format!(
            "in its database; its key file is {}: copy it (mode 0600) to every workstation that records on this record (or point RITPLAN_KEY at it), and keep it with the database's backups",
            key_file.display()
        )
    } else {
        format!(
            "with its key file {} and heads folder {}: back up all three together",
            key_file.display(),
            crate::ward::location::heads_path(path).display()
        )
    };
    // The zone is said, and where it came from: a server's zone (often UTC) taken by default
    // would put every time off the clinic's, and it can be changed only before the first patient.
    let zone_said = if a.time_zone.is_some() {
        format!("The clinic's time zone is {} (--time-zone).", zone.name())
    } else {
        format!(
            "The clinic's time zone is {}, this machine's: if the clinic is elsewhere, set it before the first patient (ritplan settings set time_zone ZONE).",
            zone.name()
        )
    };
    writeln!(
        err,
        "Created the record {place} {files}. {} ({}) is its admin and is logged in. {zone_said}{}",
        actor.staff.name,
        actor.staff.id,
        if a.training {
            " This is a TRAINING record: its clock may be set with RITPLAN_NOW."
        } else {
            ""
        }
    )?;
    Ok(())
}

// `ritplan login` arguments.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Staff id.
    id: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// `ritplan login ID`.
pub(in crate::cli) fn login(
    ctx: &Context,
    a: &LoginArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, now) = opened(ctx, err)?;
    let id = &a.id;
    let secret = read_secret(&format!("Password for {id}: "), a.password_stdin)?;
    let (actor, token) = ward.login(id, &secret, &os_user(), now)?;
    session::save(&ward, &token)?;
    let s = ward.settings()?;
    writeln!(
        out,
        "logged in as {} ({}, {}); the session ends after {} minutes without use or at ritplan logout",
        actor.staff.name, actor.staff.id, actor.role, s.idle_timeout_min
    )?;
    Ok(())
}

/// `ritplan logout`.
pub(in crate::cli) fn logout(
    ctx: &Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, _) = opened(ctx, err)?;
    if let Some(token) = session::load(&ward)? {
        ward.logout(&token)?;
    }
    session::remove(&ward)?;
    writeln!(out, "logged out")?;
    Ok(())
}

/// `ritplan whoami`.
pub(in crate::cli) fn whoami(
    ctx: &Context,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, now) = opened(ctx, err)?;
    let actor = session::actor(&ward, now)?;
    if json {
        return write_json(
            out,
            &WhoamiJson {
                id: &actor.staff.id,
                name: &actor.staff.name,
                role: actor.role,
                os_user: &actor.os_user,
                record: ward.record_id(),
                training: ward.training(),
            },
        );
    }
    writeln!(
        out,
        "{} ({}, {}) as {}",
        actor.staff.name, actor.staff.id, actor.role, actor.os_user
    )?;
    Ok(())
}

/// `ritplan staff` subcommands.
#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum StaffCommand {
    /// Add a staff account (admin only); its password is read from the terminal or stdin.
    #[command(
        after_help = "Examples:\n  ritplan staff add --id rn.li --name 'Li Na, RN' --role nurse\n  printf 'a long password\\n' | ritplan staff add --id dr.wang --name 'Dr Wang' --role physician --password-stdin"
    )]
    Add {
        /// Login id: letters, digits, '.', '_', '-', '@'.
        #[arg(long)]
        id: String,
        /// Name, as recorded on every entry.
        #[arg(long)]
        name: String,
        /// nurse | physician | admin
        #[arg(long, value_parser = ["nurse", "physician", "admin"])]
        role: String,
        /// Read the new account's password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the staff accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (admin only): it can no longer log in; its entries stay.
    Disable {
        /// The account.
        id: String,
    },
    /// Set a new password (an admin for anyone, anyone for themselves with their current
    /// password); unlocks the account.
    Password {
        /// The account.
        id: String,
        /// Read the password(s) from standard input: for one's own account the current one on
        /// the first line and the new one on the second; for another's, the new one.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `ritplan staff ...`.
pub(in crate::cli) fn staff(
    ctx: &Context,
    cmd: StaffCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, now) = opened(ctx, err)?;
    let ward = &ward;
    match cmd {
        StaffCommand::List { json } => {
            let list = ward.staff_list(now)?;
            if json {
                return write_json(out, &list);
            }
            let mut t = table(&["id", "name", "role", "state"], &[]);
            for l in &list {
                let s = &l.account;
                let state = match l.state {
                    AccountState::Disabled => "disabled".to_string(),
                    AccountState::LockedUntil(u) => format!("locked until {}", u.format("%H:%M")),
                    AccountState::Active => "active".to_string(),
                };
                t.add_row(vec![s.id.clone(), s.name.clone(), s.role.clone(), state]);
            }
            writeln!(out, "{t}")?;
            Ok(())
        }
        StaffCommand::Add {
            id,
            name,
            role,
            password_stdin,
        } => {
            let actor = session::actor(ward, now)?;
            let role: Role = role.parse().map_err(CliError::Usage)?;
            // Refused before anyone types a password for nothing; the ward checks again.
            actor.require(&[Role::Admin], "adding a staff account")?;
            let secret = read_secret(
                &format!("Password for the new account {id}: "),
                password_stdin,
            )?;
            ward.staff_add(
                &actor,
                NewStaff {
                    id: id.clone(),
                    name,
                    role,
                    secret,
                },
                now,
            )?;
            session::used(ward, &actor, now)?;
            writeln!(out, "{}", id.trim())?;
            Ok(())
        }
        StaffCommand::Disable { id } => {
            let actor = session::actor(ward, now)?;
            ward.staff_disable(&actor, &id)?;
            session::used(ward, &actor, now)?;
            writeln!(out, "{} disabled", id.trim())?;
            Ok(())
        }
        StaffCommand::Password { id, password_stdin } => {
            let actor = session::actor(ward, now)?;
            let own = id.trim() == actor.staff.id;
            if !own {
                // Refused before anyone types a password for nothing; the ward checks again.
                actor.require(&[Role::Admin], "setting another person's password")?;
            }
            let current = if own {
                Some(read_secret("Current password: ", password_stdin)?)
            } else {
                None
            };
            let secret = read_secret(&format!("New password for {}: ", id.trim()), password_stdin)?;
            ward.staff_password(&actor, &id, current.as_deref(), &secret, now)?;
            session::used(ward, &actor, now)?;
            writeln!(out, "password of {} set", id.trim())?;
            Ok(())
        }
    }
}

/// `ritplan settings` subcommands.
#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum SettingsCommand {
    /// Show the settings.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a setting (admin only).
    Set {
        /// credential | idle_timeout_min | lock_after_failures | lock_minutes | second_check
        key: String,
        /// The value.
        value: String,
    },
}

/// `ritplan settings ...`.
pub(in crate::cli) fn settings(
    ctx: &Context,
    cmd: SettingsCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, now) = opened(ctx, err)?;
    let ward = &ward;
    let show = |s: &crate::ward::Settings, out: &mut dyn Write| -> Result<(), CliError> {
        let value = serde_json::to_value(s).map_err(|e| CliError::Data(e.to_string()))?;
        let mut t = table(&["setting", "value", "meaning"], &[]);
        for (k, what) in SETTING_KEYS {
            let v = match &value[k] {
                serde_json::Value::Bool(b) => if *b { "required" } else { "off" }.to_string(),
                serde_json::Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            t.add_row(vec![k.to_string(), v, what.to_string()]);
        }
        writeln!(out, "{t}")?;
        Ok(())
    };
    match cmd {
        SettingsCommand::Show { json } => {
            let s = ward.settings()?;
            if json {
                return write_json(out, &s);
            }
            show(&s, out)
        }
        SettingsCommand::Set { key, value } => {
            let actor = session::actor(ward, now)?;
            let s = ward.set_setting(&actor, &key, &value, now)?;
            session::used(ward, &actor, now)?;
            show(&s, out)
        }
    }
}

/// `ritplan verify`: the whole record.
pub(in crate::cli) fn verify(
    ctx: &Context,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let (ward, _) = opened(ctx, err)?;
    let v = ward.verify_all()?;
    if json {
        write_json(out, &v)?;
    } else {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        writeln!(
            out,
            "record: {}, {}; {}",
            n(v.courses.len(), "course", "courses"),
            n(
                v.courses.iter().map(|c| c.events).sum::<usize>(),
                "event",
                "events"
            ),
            if v.intact {
                "intact"
            } else {
                "DOES NOT VERIFY"
            }
        )?;
        for p in &v.problems {
            writeln!(out, "  ! {p}")?;
        }
        for c in &v.courses {
            for p in &c.problems {
                writeln!(out, "  ! {p}")?;
            }
            for n in &c.notes {
                writeln!(out, "  - {n}")?;
            }
        }
    }
    if v.intact {
        Ok(())
    } else {
        Err(CliError::Data(
            "the record does not verify: see the problems above; restore it from a backup, and keep the damaged copy for investigation".into(),
        ))
    }
}
