//! Creating a record, staff accounts, logins and settings. The first account of a new record is
//! an admin (created with the record); every later change to accounts or settings needs an
//! admin. A password (or PIN) is checked for the form the settings ask, and stored only as an
//! Argon2id hash.

use std::path::Path;

use chrono::NaiveDateTime;

use super::auth::{self, Actor, Role, SessionKind, Settings};
use super::{Ward, WardError, text};
use crate::field::Field;
use crate::store::{StaffRow, Store};

/// A staff account to create.
#[derive(Clone, Debug)]
pub struct NewStaff {
    /// Login id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The password or PIN.
    pub secret: String,
}

impl Ward {
    /// Creates a new record at `path` with its first account, an admin, in the clinic's time
    /// zone `zone` (its `time_zone` setting); returns the record and the admin, logged in.
    pub fn init_in(
        path: &Path,
        training: bool,
        admin: NewStaff,
        os_user: &str,
        now: NaiveDateTime,
        zone: crate::zone::Zone,
    ) -> Result<(Ward, Actor, String), WardError> {
        Self::create(path, training, admin, os_user, now, zone)
    }

    /// Creates a new record at `path` with its first account, an admin; returns the record and
    /// the admin, logged in. The record has no time zone (`system`) until an admin sets one:
    /// `ritplan init` uses [`Ward::init_in`].
    pub fn init(
        path: &Path,
        training: bool,
        admin: NewStaff,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<(Ward, Actor, String), WardError> {
        Self::create(
            path,
            training,
            admin,
            os_user,
            now,
            crate::zone::Zone::System,
        )
    }

    fn create(
        path: &Path,
        training: bool,
        admin: NewStaff,
        os_user: &str,
        now: NaiveDateTime,
        zone: crate::zone::Zone,
    ) -> Result<(Ward, Actor, String), WardError> {
        if admin.role != Role::Admin {
            return Err(WardError::Data(
                "the first account of a new record is an admin".into(),
            ));
        }
        let settings = Settings::default();
        settings.check_secret(&admin.secret)?;
        let id = text::staff_id(&admin.id)?;
        let name = text::text(Field::Name, &admin.name)?;
        let hash = auth::hash_secret(&admin.secret)?;
        let store = Store::create(path, training)?;
        // The zone before the first row: every moment is stored as the instant it names there.
        store.use_zone(zone);
        store.add_staff(&StaffRow {
            id: id.clone(),
            name,
            role: Role::Admin.as_str().into(),
            secret_hash: hash,
            disabled: false,
            created_at: now,
            created_by: "ritplan init".into(),
            failures: 0,
            locked_until: None,
        })?;
        let by = crate::store::Author {
            name: "ritplan init".into(),
            staff_id: Some(id.clone()),
            os_user: os_user.into(),
        };
        // A new record asks for the vial's scan before every dose (records made before scans
        // existed have no row: off).
        store.set_setting("scan", auth::Scan::Vial.as_str(), now, &by)?;
        if zone != crate::zone::Zone::System {
            store.set_setting("time_zone", &zone.name(), now, &by)?;
        }
        let ward = Ward {
            store,
            parsed: super::Parsed::default(),
            courses: None,
            vial_expiry: Default::default(),
            medication_score: Default::default(),
            origin: Some(path.to_path_buf()),
        };
        let (actor, token) = ward.login(&id, &admin.secret, os_user, now)?;
        Ok((ward, actor, token))
    }

    /// The record's settings.
    pub fn settings(&self) -> Result<Settings, WardError> {
        Settings::load(&self.store)
    }

    /// Logs a staff member in on the command line: returns them and the session token to keep.
    pub fn login(
        &self,
        id: &str,
        secret: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<(Actor, String), WardError> {
        self.login_as(SessionKind::Cli, id, secret, os_user, now)
    }

    /// Logs a staff member in on the ward page: returns them and the token for the cookie. The
    /// browser's previous page session (`previous`, its cookie), if any, ends first whatever
    /// the outcome, so that a shared workstation never holds two people's sessions.
    pub fn page_login(
        &self,
        previous: Option<&str>,
        id: &str,
        secret: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<(Actor, String), WardError> {
        if let Some(old) = previous.filter(|t| !t.is_empty()) {
            self.store
                .end_session(&auth::token_hash(SessionKind::Page, old))?;
        }
        self.login_as(SessionKind::Page, id, secret, os_user, now)
    }

    fn login_as(
        &self,
        kind: SessionKind,
        id: &str,
        secret: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<(Actor, String), WardError> {
        let settings = self.settings()?;
        let mut actor =
            auth::authenticate(&self.store, &settings, id.trim(), secret, os_user, now)?;
        let token = auth::open_session(&self.store, kind, &mut actor, now)?;
        Ok((actor, token))
    }

    /// Authenticates a second person (for `give --checked-by`), without a session.
    pub fn check_person(
        &self,
        id: &str,
        secret: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<Actor, WardError> {
        let settings = self.settings()?;
        auth::authenticate(&self.store, &settings, id.trim(), secret, os_user, now)
    }

    /// The actor of a command-line session token (see `auth::session_actor`).
    pub fn actor(
        &self,
        token: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<Actor, WardError> {
        self.session_actor(SessionKind::Cli, token, os_user, now)
    }

    /// The actor of a ward-page session token (a cookie).
    pub fn page_actor(
        &self,
        token: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<Actor, WardError> {
        self.session_actor(SessionKind::Page, token, os_user, now)
    }

    fn session_actor(
        &self,
        kind: SessionKind,
        token: &str,
        os_user: &str,
        now: NaiveDateTime,
    ) -> Result<Actor, WardError> {
        let settings = self.settings()?;
        auth::session_actor(&self.store, &settings, kind, token, os_user, now)
    }

    /// Marks the actor's session used now (after a command that succeeded: the idle timeout
    /// counts from the last thing done).
    pub fn touch(&self, actor: &Actor, now: NaiveDateTime) -> Result<(), WardError> {
        if let Some(h) = &actor.token_hash {
            self.store.touch_session(h, now)?;
        }
        Ok(())
    }

    /// The token that every form of a web session carries (a MAC of the session token's
    /// hash under the record's key): a page of another site cannot know it.
    pub fn csrf_token(&self, token: &str) -> String {
        self.store
            .mac(&["csrf", &auth::token_hash(SessionKind::Page, token)])
    }

    /// Whether a form's CSRF value is the session's token (compared in constant time).
    pub fn csrf_matches(&self, token: &str, given: &str) -> bool {
        crate::secure::same_bytes(self.csrf_token(token).as_bytes(), given.as_bytes())
    }

    /// A token for the login form, before there is a session: `NONCE.MINUTE.MAC`, the MAC under
    /// the record's key of the nonce and the minute it was issued (the clock's), so that only
    /// this server can have made it. The page sets it as a cookie and in the form.
    pub fn login_form_token(&self, now: NaiveDateTime) -> Result<String, WardError> {
        let nonce = crate::store::keyed::hex(&crate::store::keyed::random::<16>()?);
        let minute = now.and_utc().timestamp().div_euclid(60);
        let mac = self.store.mac(&["login-form", &nonce, &minute.to_string()]);
        Ok(format!("{nonce}.{minute}.{mac}"))
    }

    /// Whether a login form's token is one this server issued (see [`Ward::login_form_token`])
    /// within the last `max_minutes` of the clock (and not in its future).
    pub fn login_form_token_valid(
        &self,
        token: &str,
        now: NaiveDateTime,
        max_minutes: i64,
    ) -> bool {
        let mut parts = token.splitn(3, '.');
        let (Some(nonce), Some(minute), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(issued) = minute.parse::<i64>() else {
            return false;
        };
        let age = now.and_utc().timestamp().div_euclid(60) - issued;
        let expected = self.store.mac(&["login-form", nonce, minute]);
        (0..=max_minutes).contains(&age)
            && nonce.len() == 32
            && crate::secure::same_bytes(expected.as_bytes(), mac.as_bytes())
    }

    /// Ends the command-line session of `token`.
    pub fn logout(&self, token: &str) -> Result<(), WardError> {
        Ok(self
            .store
            .end_session(&auth::token_hash(SessionKind::Cli, token))?)
    }

    /// Ends the ward-page session of `token`.
    pub fn page_logout(&self, token: &str) -> Result<(), WardError> {
        Ok(self
            .store
            .end_session(&auth::token_hash(SessionKind::Page, token))?)
    }

    /// Adds a staff account (admin only).
    pub fn staff_add(
        &self,
        actor: &Actor,
        s: NewStaff,
        now: NaiveDateTime,
    ) -> Result<(), WardError> {
        actor.require(&[Role::Admin], "adding a staff account")?;
        self.settings()?.check_secret(&s.secret)?;
        let id = text::staff_id(&s.id)?;
        Ok(self.store.add_staff(&StaffRow {
            id,
            name: text::text(Field::Name, &s.name)?,
            role: s.role.as_str().into(),
            secret_hash: auth::hash_secret(&s.secret)?,
            disabled: false,
            created_at: now,
            created_by: actor.staff.id.clone(),
            failures: 0,
            locked_until: None,
        })?)
    }

    fn staff_row(&self, id: &str) -> Result<StaffRow, WardError> {
        self.store
            .staff(id.trim())?
            .ok_or_else(|| WardError::Data(format!("no staff account has the id {:?}", id.trim())))
    }

    /// Disables a staff account (admin only); its sessions end with it.
    pub fn staff_disable(&self, actor: &Actor, id: &str) -> Result<(), WardError> {
        actor.require(&[Role::Admin], "disabling a staff account")?;
        let mut s = self.staff_row(id)?;
        if s.id == actor.staff.id {
            return Err(WardError::Forbidden(
                "an admin cannot disable their own account".into(),
            ));
        }
        s.disabled = true;
        Ok(self.store.update_staff(&s)?)
    }

    /// Sets a new password or PIN: an admin for anyone, anyone for themselves. It also unlocks
    /// the account.
    ///
    /// Changing one's own password takes the current one (`current`), so that a session left
    /// open cannot be used to take over the account; a wrong one counts as a failed login.
    pub fn staff_password(
        &self,
        actor: &Actor,
        id: &str,
        current: Option<&str>,
        secret: &str,
        now: NaiveDateTime,
    ) -> Result<(), WardError> {
        let mut s = self.staff_row(id)?;
        if s.id == actor.staff.id {
            let Some(current) = current else {
                return Err(WardError::Auth(
                    "changing your own password needs your current password".into(),
                ));
            };
            self.check_person(&s.id, current, &actor.os_user, now)?;
            s = self.staff_row(id)?;
        } else {
            actor.require(&[Role::Admin], "setting another person's password")?;
        }
        self.settings()?.check_secret(secret)?;
        s.secret_hash = auth::hash_secret(secret)?;
        s.failures = 0;
        s.locked_until = None;
        Ok(self.store.update_staff(&s)?)
    }

    /// `ritplan db migrate --time-zone ZONE` (admin): fixes the zone in which a record made
    /// before ritplan stored instants holds its times, and moves it to schema 5 (see
    /// `store::instants`). Refused, with nothing changed: a zone other than the one the record
    /// already names; a record that does not verify (a migration never blesses an altered
    /// record); a recorded time the clocks skip in that zone (they cannot have been written
    /// there). Times the zone repeats are read as the earlier and counted in the report.
    pub fn migrate_times(
        &mut self,
        actor: &Actor,
        zone: crate::zone::Zone,
        now: NaiveDateTime,
    ) -> Result<TimesMigration, WardError> {
        actor.require(&[Role::Admin], "migrating the record's times")?;
        if zone == crate::zone::Zone::System {
            return Err(WardError::Data(
                "--time-zone takes the IANA zone the record's times were written in (for example Europe/Oslo)".into(),
            ));
        }
        let current = self.settings()?.time_zone;
        if current != crate::zone::Zone::System && current != zone {
            return Err(WardError::Data(format!(
                "this record's time zone is {current}: its times were written there, not in {zone}; nothing was migrated"
            )));
        }
        let pending = self.store.needs_zone()?;
        let v = self.store.verify_all()?;
        let entries = v.courses.iter().map(|c| c.events as u64).sum::<u64>();
        let courses = v.courses.len() as u64;
        if !pending {
            return Ok(TimesMigration {
                zone: zone.name(),
                already: true,
                courses,
                entries,
                legacy: self.store.legacy_times_in(zone)?,
                intact: v.intact,
            });
        }
        if !v.intact {
            let first = v
                .courses
                .iter()
                .find(|c| !c.intact)
                .map(|c| format!("course {}", c.course))
                .or_else(|| v.problems.first().cloned())
                .unwrap_or_default();
            return Err(WardError::Data(format!(
                "the record does not verify ({first}); a migration never blesses an altered record: run `ritplan verify`, restore from a backup, then migrate. Nothing was migrated"
            )));
        }
        let legacy = self.store.legacy_times_in(zone)?;
        if !legacy.skipped.is_empty() {
            let shown: Vec<&str> = legacy.skipped.iter().take(5).map(String::as_str).collect();
            return Err(WardError::Data(format!(
                "{} recorded time{} do{} not exist in {zone} (the clocks were put forward over {}): {}{}; were the times written in another zone? Nothing was migrated",
                legacy.skipped.len(),
                if legacy.skipped.len() == 1 { "" } else { "s" },
                if legacy.skipped.len() == 1 { "es" } else { "" },
                if legacy.skipped.len() == 1 {
                    "it"
                } else {
                    "them"
                },
                shown.join("; "),
                if legacy.skipped.len() > 5 {
                    "; …"
                } else {
                    ""
                },
            )));
        }
        self.store
            .upgrade_times(Some((zone, &actor.author(), now)))?;
        self.rebuild_states()?;
        let after = self.store.verify_all()?;
        Ok(TimesMigration {
            zone: zone.name(),
            already: false,
            courses,
            entries: after.courses.iter().map(|c| c.events as u64).sum::<u64>(),
            legacy,
            intact: after.intact,
        })
    }

    /// Backs the record up to `dest` and verifies the copy (admin only: a backup holds every
    /// patient's record and the key); a copy that does not verify is an error.
    pub fn backup(
        &self,
        actor: &Actor,
        dest: &std::path::Path,
    ) -> Result<crate::store::RecordVerification, WardError> {
        actor.require(&[Role::Admin], "backing up the record")?;
        let v = self.store.backup_to(dest)?;
        if !v.intact {
            return Err(WardError::Data(format!(
                "the backup {} does not verify: {}",
                dest.display(),
                v.problems.join("; ")
            )));
        }
        Ok(v)
    }

    /// Copies the whole record into a new record at `dest` (a file, or an empty database on a
    /// PostgreSQL server), verified there (admin only; the source is only read). A copy that
    /// does not verify, or whose rows differ from the source's, is an error.
    pub fn copy_to(
        &self,
        actor: &Actor,
        dest: &std::path::Path,
    ) -> Result<crate::store::CopyReport, WardError> {
        actor.require(&[Role::Admin], "copying the record")?;
        let r = self.store.copy_to(dest)?;
        if !r.verification.intact || r.source_digest != r.copy_digest {
            return Err(WardError::Data(format!(
                "the copy {} does not verify or differs from its source: {}; the source was not changed, and the copy is left as it is to be looked into (remove it before copying again)",
                r.to,
                if r.verification.intact {
                    "its rows' digest differs".to_string()
                } else {
                    r.verification.problems.join("; ")
                }
            )));
        }
        Ok(r)
    }

    /// Changes a setting (admin only).
    pub fn set_setting(
        &self,
        actor: &Actor,
        key: &str,
        value: &str,
        now: NaiveDateTime,
    ) -> Result<Settings, WardError> {
        actor.require(&[Role::Admin], "changing a setting")?;
        let mut s = self.settings()?;
        let zone_before = s.time_zone;
        s.set(key, value).map_err(WardError::Data)?;
        // The record's times are wall-clock times in the clinic's zone: once a patient is
        // entered, another zone would move every moment already recorded. A record made before
        // the setting existed (`system`) may be given its zone once: the zone its times were
        // written in.
        if key == "time_zone"
            && zone_before == crate::zone::Zone::System
            && self.store.needs_zone()?
        {
            return Err(WardError::Data(
                "this record was made before ritplan stored moments as instants: give it its zone with `ritplan db migrate --time-zone ZONE`, which first checks every recorded time in that zone".into(),
            ));
        }
        if key == "time_zone"
            && zone_before != crate::zone::Zone::System
            && s.time_zone != zone_before
            && self.store.has_patients()?
        {
            return Err(WardError::Data(format!(
                "the time zone stays {zone_before}: this record already holds patients, and its times are wall-clock times in {zone_before}; another zone would move every moment recorded (a clinic that moves starts a new record)"
            )));
        }
        self.store
            .set_setting(key, value.trim(), now, &actor.author())?;
        Ok(s)
    }
}

/// What `db migrate --time-zone` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TimesMigration {
    /// The zone the record's times are now read in.
    pub zone: String,
    /// The record was already at schema 5 in that zone: nothing was changed.
    pub already: bool,
    /// Its courses.
    pub courses: u64,
    /// Its entries, every one still there and chained (counted after the migration).
    pub entries: u64,
    /// The wall-clock times recorded before schema 5, checked in the zone.
    pub legacy: crate::store::LegacyTimes,
    /// Whether the whole record verifies after the migration.
    pub intact: bool,
}
