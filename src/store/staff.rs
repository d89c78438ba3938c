//! Staff accounts, sessions and settings, in the record. Each row carries a MAC under the
//! record's key over what decides who may do what (id, name, role, password hash, disabled);
//! the lock-out counters and a session's last use are operational and not covered.

use super::db::{Row, Value, vals};
use chrono::NaiveDateTime;
use serde::Serialize;

use super::{Author, Store, StoreError, flag};

/// A staff account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffRow {
    /// Login id.
    pub id: String,
    /// Name, as recorded on entries.
    pub name: String,
    /// `nurse`, `physician` or `admin`.
    pub role: String,
    /// The Argon2id hash of the password or PIN (PHC string).
    #[serde(skip)]
    pub secret_hash: String,
    /// Disabled: cannot log in.
    pub disabled: bool,
    /// Created.
    pub created_at: NaiveDateTime,
    /// By.
    pub created_by: String,
    /// Failed logins since the last success.
    pub failures: u32,
    /// Locked until.
    pub locked_until: Option<NaiveDateTime>,
}

/// A login session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// The SHA-256 of the session token (the token itself is only in the user's session file).
    pub token_hash: String,
    /// Who.
    pub staff_id: String,
    /// The OS user who logged in.
    pub os_user: String,
    /// When.
    pub created_at: NaiveDateTime,
    /// Last used.
    pub last_used: NaiveDateTime,
    /// Logged out.
    pub ended: bool,
}

/// A setting's key, and its value or why it cannot be trusted.
pub type SettingRead = (String, Result<String, StoreError>);

/// The columns of a staff account.
pub(super) const STAFF_COLS: &str =
    "id, name, role, secret_hash, disabled, created_at, created_by, failures, locked_until, mac";

/// The columns of a session.
pub(super) const SESSION_COLS: &str =
    "token_hash, staff_id, os_user, created_at, last_used, ended, mac";

/// The columns of a setting.
pub(super) const SETTING_COLS: &str = "key, value, changed_at, changed_by, mac";

impl Store {
    /// The MAC of an account, over `created`: the text its creation time is (or will be) stored
    /// as (a row written before schema 5 holds a wall-clock text, and keeps it).
    fn staff_mac(&self, s: &StaffRow, created: &str) -> String {
        self.key.mac(&[
            "staff",
            &s.id,
            &s.name,
            &s.role,
            &s.secret_hash,
            flag(s.disabled),
            created,
            &s.created_by,
        ])
    }

    /// An account, and whether its MAC holds.
    fn staff_row(&self, mut r: Row) -> Result<(StaffRow, bool), StoreError> {
        let times = self.times();
        let (id, name, role, secret_hash, disabled) =
            (r.text()?, r.text()?, r.text()?, r.text()?, r.flag()?);
        let created = r.text()?;
        let created_at = times.parse(&created)?;
        let created_by = r.text()?;
        let failures = r.int()?.clamp(0, i64::from(u32::MAX)) as u32;
        let locked_until = r
            .opt_text()?
            .as_deref()
            .map(|t| times.parse(t))
            .transpose()?;
        let s = StaffRow {
            id,
            name,
            role,
            secret_hash,
            disabled,
            created_at,
            created_by,
            failures,
            locked_until,
        };
        let mac = r.text()?;
        let holds = self.staff_mac(&s, &created) == mac;
        Ok((s, holds))
    }

    fn staff_rows(&self, id: Option<&str>) -> Result<Vec<(StaffRow, bool)>, StoreError> {
        let sql = match id {
            Some(_) => format!("SELECT {STAFF_COLS} FROM staff WHERE id = ?1"),
            None => format!("SELECT {STAFF_COLS} FROM staff ORDER BY id"),
        };
        let rows = match id {
            Some(id) => self.db.query(&sql, vals![id])?,
            None => self.db.query(&sql, &[])?,
        };
        rows.into_iter().map(|r| self.staff_row(r)).collect()
    }

    /// How many staff accounts the record has.
    pub fn staff_count(&self) -> Result<u64, StoreError> {
        self.count("staff")
    }

    /// One staff account.
    pub fn staff(&self, id: &str) -> Result<Option<StaffRow>, StoreError> {
        Ok(self
            .staff_rows(Some(id))?
            .into_iter()
            .next()
            .map(|(s, _)| s))
    }

    /// Every staff account, by id.
    pub fn staff_list(&self) -> Result<Vec<StaffRow>, StoreError> {
        Ok(self.staff_rows(None)?.into_iter().map(|(s, _)| s).collect())
    }

    /// Adds a staff account; an id already used is refused.
    pub fn add_staff(&self, s: &StaffRow) -> Result<(), StoreError> {
        self.accounts_write(|| self.insert_staff(s))
    }

    fn insert_staff(&self, s: &StaffRow) -> Result<(), StoreError> {
        let created = self.times().text(s.created_at);
        let mac = self.staff_mac(s, &created);
        let r = self.db.exec(
            &format!(
                "INSERT INTO staff ({STAFF_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, NULL, ?8)"
            ),
            vals![
                &s.id,
                &s.name,
                &s.role,
                &s.secret_hash,
                s.disabled,
                &created,
                &s.created_by,
                mac
            ],
        );
        match r {
            Err(StoreError::Sql(e)) if e.is_unique_violation() => {
                return Err(StoreError::Exists(format!(
                    "a staff account with the id {:?} already exists",
                    s.id
                )));
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// Rewrites an account's MAC-covered fields (a new password, disabled).
    pub fn update_staff(&self, s: &StaffRow) -> Result<(), StoreError> {
        // The MAC covers the creation time as stored (never rewritten).
        let created = self
            .db
            .query_opt("SELECT created_at FROM staff WHERE id = ?1", vals![&s.id])?
            .map(|mut r| r.text())
            .transpose()?
            .unwrap_or_else(|| self.times().text(s.created_at));
        let mac = self.staff_mac(s, &created);
        let n = self.accounts_write(|| {
            self.db.exec(
                "UPDATE staff SET name = ?2, role = ?3, secret_hash = ?4, disabled = ?5, mac = ?6, failures = 0, locked_until = NULL WHERE id = ?1",
                vals![&s.id, &s.name, &s.role, &s.secret_hash, s.disabled, &mac],
            )
        })?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "no staff account has the id {:?}",
                s.id
            )));
        }
        Ok(())
    }

    /// Records a failed login, and the lock when it reaches the limit.
    pub fn login_failed(
        &self,
        id: &str,
        locked_until: Option<NaiveDateTime>,
    ) -> Result<u32, StoreError> {
        self.db.exec(
            "UPDATE staff SET failures = failures + 1, locked_until = coalesce(?2, locked_until) WHERE id = ?1",
            vals![id, locked_until.map(|t| self.times().text(t))],
        )?;
        Ok(self.staff(id)?.map_or(0, |s| s.failures))
    }

    /// Clears the failure count after a successful login.
    pub fn login_succeeded(&self, id: &str) -> Result<(), StoreError> {
        self.db.exec(
            "UPDATE staff SET failures = 0, locked_until = NULL WHERE id = ?1",
            vals![id],
        )?;
        Ok(())
    }

    /// The MAC of a session, over `created`: the text its start is stored as.
    fn session_mac(&self, s: &SessionRow, created: &str) -> String {
        self.key.mac(&[
            "session",
            &s.token_hash,
            &s.staff_id,
            &s.os_user,
            created,
            flag(s.ended),
        ])
    }

    /// Stores a new session.
    pub fn add_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let created = self.times().text(s.created_at);
        self.db.exec(
            &format!("INSERT INTO sessions ({SESSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            vals![
                &s.token_hash,
                &s.staff_id,
                &s.os_user,
                &created,
                self.times().text(s.last_used),
                s.ended,
                self.session_mac(s, &created)
            ],
        )?;
        Ok(())
    }

    /// A session by its token's hash, if its MAC holds (a session row forged in the database is
    /// not a session).
    pub fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .sessions_where("WHERE token_hash = ?1", vals![token_hash])?
            .pop()
            .flatten())
    }

    /// Session rows, each `None` if its MAC does not hold.
    fn sessions_where(
        &self,
        filter: &str,
        params: &[Value],
    ) -> Result<Vec<Option<SessionRow>>, StoreError> {
        self.db
            .query(
                &format!("SELECT {SESSION_COLS} FROM sessions {filter} ORDER BY token_hash"),
                params,
            )?
            .into_iter()
            .map(|mut r| {
                let (token_hash, staff_id, os_user, created, used, ended, mac) = (
                    r.text()?,
                    r.text()?,
                    r.text()?,
                    r.text()?,
                    r.text()?,
                    r.flag()?,
                    r.text()?,
                );
                let s = SessionRow {
                    token_hash,
                    staff_id,
                    os_user,
                    created_at: self.times().parse(&created)?,
                    last_used: self.times().parse(&used)?,
                    ended,
                };
                Ok((self.session_mac(&s, &created) == mac).then_some(s))
            })
            .collect()
    }

    /// Marks a session used now.
    pub fn touch_session(&self, token_hash: &str, at: NaiveDateTime) -> Result<(), StoreError> {
        self.db.exec(
            "UPDATE sessions SET last_used = ?2 WHERE token_hash = ?1 AND ended = 0",
            vals![token_hash, self.times().text(at)],
        )?;
        Ok(())
    }

    /// Ends a session.
    pub fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        if let Some(mut s) = self.session(token_hash)? {
            s.ended = true;
            // The MAC covers the start as stored (never rewritten).
            let created = self
                .db
                .query_opt(
                    "SELECT created_at FROM sessions WHERE token_hash = ?1",
                    vals![token_hash],
                )?
                .map(|mut r| r.text())
                .transpose()?
                .unwrap_or_else(|| self.times().text(s.created_at));
            self.db.exec(
                "UPDATE sessions SET ended = 1, mac = ?2 WHERE token_hash = ?1",
                vals![token_hash, self.session_mac(&s, &created)],
            )?;
        }
        Ok(())
    }

    fn setting_mac(&self, key: &str, value: &str, at: &str, by: &str) -> String {
        self.key.mac(&["setting", key, value, at, by])
    }

    /// A setting's value, if set and its MAC holds.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.settings_where("WHERE key = ?1", vals![key])?.pop() {
            None => Ok(None),
            Some((_, v)) => v.map(Some),
        }
    }

    /// Every setting that is set, by key, each with its value or the error that its MAC
    /// does not hold (one read for all of them).
    pub fn settings(&self) -> Result<Vec<SettingRead>, StoreError> {
        self.settings_where("", &[])
    }

    fn settings_where(
        &self,
        filter: &str,
        params: &[Value],
    ) -> Result<Vec<SettingRead>, StoreError> {
        self.db
            .query(
                &format!("SELECT {SETTING_COLS} FROM settings {filter} ORDER BY key"),
                params,
            )?
            .into_iter()
            .map(|mut r| {
                let (key, v, at, by, mac) = (r.text()?, r.text()?, r.text()?, r.text()?, r.text()?);
                let value = if self.setting_mac(&key, &v, &at, &by) == mac {
                    Ok(v)
                } else {
                    Err(StoreError::Tampered(format!(
                        "the setting {key:?} does not match its MAC: changed outside ritplan"
                    )))
                };
                Ok((key, value))
            })
            .collect()
    }

    /// Sets a setting.
    pub fn set_setting(
        &self,
        key: &str,
        value: &str,
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<(), StoreError> {
        let at = self.times().text(at);
        let who = by.staff_id.clone().unwrap_or_else(|| by.name.clone());
        let mac = self.setting_mac(key, value, &at, &who);
        self.accounts_write(|| {
            self.db.exec(
                &format!("INSERT INTO settings ({SETTING_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at, changed_by = excluded.changed_by, mac = excluded.mac"),
                vals![key, value, &at, &who, &mac],
            )?;
            Ok(())
        })
    }

    /// Staff, session and settings rows whose MAC does not hold.
    pub(super) fn staff_problems(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for (s, holds) in self.staff_rows(None)? {
            if !holds {
                out.push(format!(
                    "staff account {:?}: the row does not match its MAC (its role, name, password or state was changed outside ritplan)",
                    s.id
                ));
            }
        }
        for (_, v) in self.settings()? {
            if let Err(StoreError::Tampered(m)) = v {
                out.push(m);
            }
        }
        for s in self.sessions_where("", &[])? {
            if s.is_none() {
                out.push(
                    "a session row does not match its MAC (forged or changed outside ritplan)"
                        .into(),
                );
            }
        }
        Ok(out)
    }
}
