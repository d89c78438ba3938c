//! Who may do what: staff accounts with roles, passwords (or PINs) stored only as Argon2id
//! hashes, lock-out after repeated failures, sessions with an idle timeout, and the settings an
//! admin chooses. The front end keeps the session token (a file only the OS user can read, or
//! a cookie); the record keeps only its hash, under the record's MAC.

use std::fmt;
use std::str::FromStr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{Duration, NaiveDateTime};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::WardError;
use crate::store::keyed::{hex, random};
use crate::store::{Author, StaffRow, Store};

/// A staff role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Gives, observes and records reactions.
    Nurse,
    /// Everything a nurse does, and the decisions: reviews, overrides, accepted risks.
    Physician,
    /// Staff accounts and settings; no clinical entries.
    Admin,
}

impl Role {
    /// The word written in the record and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Nurse => "nurse",
            Role::Physician => "physician",
            Role::Admin => "admin",
        }
    }

    /// Whether the role records clinical entries.
    pub fn clinical(self) -> bool {
        matches!(self, Role::Nurse | Role::Physician)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "nurse" => Ok(Role::Nurse),
            "physician" => Ok(Role::Physician),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "{other:?} is not a role: nurse, physician or admin"
            )),
        }
    }
}

/// What a secret is: a password, or a PIN of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// At least 10 characters.
    Password,
    /// At least 6 digits.
    Pin,
}

/// Which scans a dose needs before it is given (`give --scan-vial`, `--scan-patient`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scan {
    /// No scan is required (the default of records made before scans existed).
    Off,
    /// The vial's code is scanned before every dose (the default of a new record).
    Vial,
    /// The patient's and the vial's codes are scanned before every dose.
    PatientAndVial,
}

impl Scan {
    /// The word written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Scan::Off => "off",
            Scan::Vial => "vial",
            Scan::PatientAndVial => "patient-and-vial",
        }
    }
}

/// The clinic's settings, with their defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Passwords or PINs.
    pub credential: Credential,
    /// A session ends after this many minutes without use.
    pub idle_timeout_min: u32,
    /// An account locks after this many failed logins in a row ...
    pub lock_after_failures: u32,
    /// ... for this many minutes.
    pub lock_minutes: u32,
    /// Every dose needs a second person's check (`give --checked-by ID`).
    pub second_check: bool,
    /// Which scans a dose needs.
    pub scan: Scan,
    /// The clinic's time zone: the record's times are wall-clock times in it (see
    /// [`crate::zone`]); `system` for a record made before it was a setting.
    pub time_zone: crate::zone::Zone,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            credential: Credential::Password,
            idle_timeout_min: 15,
            lock_after_failures: 5,
            lock_minutes: 15,
            second_check: false,
            scan: Scan::Off,
            time_zone: crate::zone::Zone::System,
        }
    }
}

/// The settings' keys, values and ranges, for `ritplan settings`.
pub const SETTING_KEYS: &[(&str, &str)] = &[
    (
        "credential",
        "password | pin (a PIN is at least 6 digits; a password at least 10 characters)",
    ),
    (
        "idle_timeout_min",
        "1-720: a session ends after this many minutes without use (default 15)",
    ),
    (
        "lock_after_failures",
        "1-100: failed logins in a row that lock an account (default 5)",
    ),
    (
        "lock_minutes",
        "1-1440: how long a locked account stays locked (default 15)",
    ),
    (
        "second_check",
        "off | required: every dose needs a second person's check (default off)",
    ),
    (
        "scan",
        "off | vial | patient-and-vial: the codes scanned before every dose (default off; vial for a record made by ritplan init)",
    ),
    (
        "time_zone",
        "the clinic's IANA time zone (Europe/Oslo): the record's times are its wall-clock times, whatever the machine's TZ; set by ritplan init, changed only before the first patient (system: a record made before this setting, read in the machine's zone until an admin sets it)",
    ),
];

impl Settings {
    /// The record's settings (defaults where none is set).
    pub fn load(store: &Store) -> Result<Settings, WardError> {
        let mut s = Settings::default();
        // One read for all of them; a key ritplan does not know (a newer version's) is left.
        for (k, v) in store.settings()? {
            if SETTING_KEYS.iter().any(|(known, _)| *known == k) {
                s.set(&k, &v?)
                    .map_err(|e| WardError::Data(format!("setting {k}: {e}")))?;
            }
        }
        Ok(s)
    }

    /// Sets one value, checking its range.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = |lo: u32, hi: u32| -> Result<u32, String> {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| format!("{value:?} must be a whole number from {lo} to {hi}"))
        };
        match key {
            "credential" => {
                self.credential = match value.trim() {
                    "password" => Credential::Password,
                    "pin" => Credential::Pin,
                    _ => return Err(format!("{value:?} must be password or pin")),
                }
            }
            "idle_timeout_min" => self.idle_timeout_min = number(1, 720)?,
            "lock_after_failures" => self.lock_after_failures = number(1, 100)?,
            "lock_minutes" => self.lock_minutes = number(1, 1440)?,
            "second_check" => {
                self.second_check = match value.trim() {
                    "required" => true,
                    "off" => false,
                    _ => return Err(format!("{value:?} must be required or off")),
                }
            }
            "scan" => {
                self.scan = match value.trim() {
                    "off" => Scan::Off,
                    "vial" => Scan::Vial,
                    "patient-and-vial" => Scan::PatientAndVial,
                    _ => return Err(format!("{value:?} must be off, vial or patient-and-vial")),
                }
            }
            "time_zone" => {
                self.time_zone = crate::zone::Zone::parse(value).map_err(|e| e.to_string())?
            }
            other => {
                let known: Vec<&str> = SETTING_KEYS.iter().map(|(k, _)| *k).collect();
                return Err(format!("{other:?} is not a setting: {}", known.join(", ")));
            }
        }
        Ok(())
    }

    /// Refuses a secret that is not of the chosen form.
    pub fn check_secret(&self, secret: &str) -> Result<(), WardError> {
        let bad = |why: &str| Err(WardError::Data(format!("the new {why}")));
        if secret.chars().any(char::is_control) {
            return bad("password must not contain control characters");
        }
        match self.credential {
            Credential::Password if secret.chars().count() < 10 => {
                bad("password must have at least 10 characters")
            }
            Credential::Pin
                if secret.chars().count() < 6 || !secret.chars().all(|c| c.is_ascii_digit()) =>
            {
                bad("PIN must be at least 6 digits and only digits")
            }
            _ => Ok(()),
        }
    }
}

/// Hashes a secret with Argon2id and a random salt (PHC string).
pub fn hash_secret(secret: &str) -> Result<String, WardError> {
    let salt = random::<16>()?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| WardError::Data(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| WardError::Data(format!("cannot hash the password: {e}")))
}

/// What a login that fails is told, whatever the reason: an unknown id, a wrong secret, a
/// locked or a disabled account all read the same, so that the page cannot be used to learn
/// which staff ids exist or which accounts are locked.
pub const LOGIN_REFUSED: &str =
    "wrong staff id or password, or the account is locked or disabled; an admin can tell which";

/// A hash in the same form and with the same Argon2id parameters as those [`hash_secret`] makes
/// (19 MiB, 2 passes, 1 lane, a 16-byte salt, a 32-byte output), matching no secret: checking a
/// secret against it costs what checking a real account's does, so an unknown id answers in the
/// same time as a known one.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn verify_secret(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// Where a session was opened: a session of one kind is never taken for the other (a token
/// read from a CLI session file does not open the page, nor a page cookie the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// `ritplan login`: the token is kept in a file only the OS user can read.
    Cli,
    /// The ward page: the token is kept in an HttpOnly cookie.
    Page,
}

/// The SHA-256 of a session token, as the record keeps it. A page session's token is hashed
/// with a prefix of its own, so the same token string names a different row in each kind
/// (CLI sessions keep the plain hash they always had).
pub fn token_hash(kind: SessionKind, token: &str) -> String {
    match kind {
        SessionKind::Cli => hex(&Sha256::digest(token.as_bytes())),
        SessionKind::Page => {
            let mut h = Sha256::new();
            h.update(b"ritplan page session\n");
            h.update(token.as_bytes());
            hex(&h.finalize())
        }
    }
}

/// An authenticated staff member, as the record sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The account.
    pub staff: StaffRow,
    /// Its role.
    pub role: Role,
    /// The OS user running the command.
    pub os_user: String,
    /// The session, for a logged-in actor.
    pub token_hash: Option<String>,
}

impl Actor {
    /// How the record names them on an entry.
    pub fn author(&self) -> Author {
        Author {
            name: self.staff.name.clone(),
            staff_id: Some(self.staff.id.clone()),
            os_user: self.os_user.clone(),
        }
    }

    /// Refuses unless the actor has one of `roles`, naming what `action` needs.
    pub fn require(&self, roles: &[Role], action: &str) -> Result<(), WardError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let article = |r: &str| {
            if r.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            }
        };
        let needed = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>();
        let first = needed.first().copied().unwrap_or("other");
        Err(WardError::Forbidden(format!(
            "{action} needs {} {} account; {} is logged in as {} {}",
            article(first),
            needed.join(" or "),
            self.staff.id,
            article(self.role.as_str()),
            self.role
        )))
    }
}

fn actor_of(
    staff: StaffRow,
    os_user: &str,
    token_hash: Option<String>,
) -> Result<Actor, WardError> {
    let role = staff
        .role
        .parse::<Role>()
        .map_err(|e| WardError::Data(format!("staff account {:?}: {e}", staff.id)))?;
    Ok(Actor {
        staff,
        role,
        os_user: os_user.to_string(),
        token_hash,
    })
}

/// Checks a staff member's id and secret: disabled and locked accounts are refused, a wrong
/// secret counts towards the lock.
pub fn authenticate(
    store: &Store,
    settings: &Settings,
    id: &str,
    secret: &str,
    os_user: &str,
    now: NaiveDateTime,
) -> Result<Actor, WardError> {
    // The accounts and settings first: a row put back to an older copy (an old password, an
    // account before it was disabled) verifies on its own.
    store.verify_accounts()?;
    let denied = || WardError::Auth(format!("{id:?}: {LOGIN_REFUSED}"));
    let staff = store.staff(id)?;
    // One Argon2id verification whatever the account: an unknown id against a hash of the same
    // cost, a disabled or locked account against its own, before anything is told.
    let right = verify_secret(
        staff
            .as_ref()
            .map_or(DUMMY_HASH, |s| s.secret_hash.as_str()),
        secret,
    );
    let Some(staff) = staff else {
        return Err(denied());
    };
    if staff.disabled {
        return Err(denied());
    }
    // The right secret does not open a locked account, and is not told apart from a wrong one
    // while it is locked (or the lock would not stop guessing).
    if let Some(until) = staff.locked_until
        && now < until
    {
        return Err(denied());
    }
    if !right {
        let failures = staff.failures + 1;
        let lock = (failures >= settings.lock_after_failures)
            .then(|| now + Duration::minutes(i64::from(settings.lock_minutes)));
        store.login_failed(id, lock)?;
        return Err(denied());
    }
    store.login_succeeded(id)?;
    actor_of(staff, os_user, None)
}

/// A new session for an authenticated actor: returns the token to keep.
pub fn open_session(
    store: &Store,
    kind: SessionKind,
    actor: &mut Actor,
    now: NaiveDateTime,
) -> Result<String, WardError> {
    let token = hex(&random::<32>()?);
    let h = token_hash(kind, &token);
    store.add_session(&crate::store::SessionRow {
        token_hash: h.clone(),
        staff_id: actor.staff.id.clone(),
        os_user: actor.os_user.clone(),
        created_at: now,
        last_used: now,
        ended: false,
    })?;
    actor.token_hash = Some(h);
    Ok(token)
}

/// The actor of a session token: the session must exist, be unended, not idle past the
/// timeout, and its account enabled. Nothing is written (a refused command changes no byte):
/// the front end marks the session used after a command that succeeded.
pub fn session_actor(
    store: &Store,
    settings: &Settings,
    kind: SessionKind,
    token: &str,
    os_user: &str,
    now: NaiveDateTime,
) -> Result<Actor, WardError> {
    store.verify_accounts()?;
    let h = token_hash(kind, token);
    let not_in = |why: &str| WardError::Auth(format!("{why}; log in with: ritplan login ID"));
    let Some(s) = store.session(&h)? else {
        return Err(not_in("you are not logged in to this record"));
    };
    if s.ended {
        return Err(not_in("you logged out"));
    }
    if now - s.last_used > Duration::minutes(i64::from(settings.idle_timeout_min)) {
        return Err(not_in(&format!(
            "your session ended after {} minutes without use",
            settings.idle_timeout_min
        )));
    }
    let Some(staff) = store.staff(&s.staff_id)? else {
        return Err(not_in("the session's account no longer exists"));
    };
    if staff.disabled {
        return Err(WardError::Auth(format!(
            "the staff account {:?} is disabled",
            staff.id
        )));
    }
    actor_of(staff, os_user, Some(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        // It parses (so Argon2id runs on it), with the algorithm, version, parameters, salt and
        // output lengths of a hash made now; and it matches neither an empty nor a real secret.
        let real = hash_secret("a-real-password-1").expect("hash");
        let real = PasswordHash::new(&real).expect("real");
        let dummy = PasswordHash::new(DUMMY_HASH).expect("the dummy hash must parse");
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        let len = |h: &PasswordHash<'_>| h.salt.map(|s| s.as_str().len());
        assert_eq!(len(&dummy), len(&real));
        assert_eq!(dummy.hash.map(|o| o.len()), real.hash.map(|o| o.len()));
        assert!(!verify_secret(DUMMY_HASH, ""));
        assert!(!verify_secret(DUMMY_HASH, "a-real-password-1"));
    }
}
