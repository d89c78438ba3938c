//! The CLI's edge for people: the OS user, the login session file, reading a password, and the
//! record's clock. A session is a random token in a file only the OS user can read
//! (`$XDG_RUNTIME_DIR/ritplan/session-RECORD`, else `$XDG_STATE_HOME/ritplan/`, else
//! `~/.local/state/ritplan/`); the record keeps only the token's hash.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use super::CliError;
use crate::ward::{Actor, Ward};

/// The operating-system user running ritplan: the login name and the uid.
pub fn os_user() -> String {
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        // The system's name for the uid, never `$USER` or `$LOGNAME`: those are whatever the
        // caller's environment says, and the record keeps this as who ran the command.
        match user_name(uid) {
            Some(name) => format!("{name} (uid {uid})"),
            None => format!("uid {uid}"),
        }
    }
    #[cfg(not(unix))]
    {
        "uid ?".to_string()
    }
}

/// The user database's name for `uid` (`getpwuid_r`), if it has one that is printable text.
#[cfg(unix)]
pub fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `pwd` and `result` are plain out-parameters; `buf` is a live, writable buffer
        // of the length passed; getpwuid_r writes only within it and sets `result` to `&pwd`
        // or null.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast::<libc::c_char>(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points at a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        let name = name.to_str().ok()?.to_string();
        return (!name.is_empty() && !name.chars().any(char::is_control)).then_some(name);
    }
}

fn session_dir() -> Result<PathBuf, CliError> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("XDG_RUNTIME_DIR")
        .or_else(|| var("XDG_STATE_HOME"))
        .or_else(|| var("HOME").map(|h| h.join(".local").join("state")))
        .map(|d| d.join("ritplan"))
        .ok_or_else(|| {
            CliError::Usage("no place for a session: set XDG_RUNTIME_DIR or HOME".into())
        })
}

fn session_file(ward: &Ward) -> Result<PathBuf, CliError> {
    Ok(session_dir()?.join(format!("session-{}", ward.record_id())))
}

/// Keeps a session token for this record (the folder 0700, the file 0600).
pub fn save(ward: &Ward, token: &str) -> Result<(), CliError> {
    let dir = session_dir()?;
    let io = |source| CliError::Io {
        context: format!("cannot write the session in {}", dir.display()),
        source,
    };
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(&dir).map_err(io)?;
    crate::secure::write_private(&session_file(ward)?, format!("{token}\n").as_bytes()).map_err(io)
}

/// The session token kept for this record, if any.
pub fn load(ward: &Ward) -> Result<Option<String>, CliError> {
    match std::fs::read_to_string(session_file(ward)?) {
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CliError::Io {
            context: "cannot read the session file".into(),
            source,
        }),
    }
}

/// Forgets the session kept for this record.
pub fn remove(ward: &Ward) -> Result<(), CliError> {
    match std::fs::remove_file(session_file(ward)?) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CliError::Io {
            context: "cannot remove the session file".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The logged-in staff member, or a refusal saying how to log in (exit 77). Call [`used`]
/// after the command succeeds.
pub fn actor(ward: &Ward, now: chrono::NaiveDateTime) -> Result<Actor, CliError> {
    let Some(token) = load(ward)? else {
        return Err(CliError::Auth(
            "this command writes the record: log in first with: ritplan login ID".into(),
        ));
    };
    ward.actor(&token, &os_user(), now).map_err(CliError::from)
}

/// Reads a password: the first line of standard input (`--password-stdin`), else from the
/// terminal without echo.
pub fn read_secret(prompt: &str, stdin: bool) -> Result<String, CliError> {
    let io = |source| CliError::Io {
        context: "cannot read the password".into(),
        source,
    };
    if stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(io)?;
        let s = line.trim_end_matches(['\n', '\r']).to_string();
        if s.is_empty() {
            return Err(CliError::Auth("no password on standard input".into()));
        }
        return Ok(s);
    }
    let _ = std::io::stderr().flush();
    rpassword::prompt_password(prompt).map_err(|e| {
        CliError::Usage(format!(
            "cannot read a password from the terminal ({e}); in a script, pass it on standard input with --password-stdin"
        ))
    })
}

/// Marks the session used: the idle timeout counts from the last command that succeeded.
pub fn used(ward: &Ward, actor: &Actor, now: chrono::NaiveDateTime) -> Result<(), CliError> {
    Ok(ward.touch(actor, now)?)
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn the_os_user_is_the_user_database_s_name_not_the_environment_s() {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let id = std::process::Command::new("id").arg("-un").output();
        if let Some(o) = id.ok().filter(|o| o.status.success()) {
            let expected = String::from_utf8_lossy(&o.stdout).trim().to_string();
            assert_eq!(super::user_name(uid).as_deref(), Some(expected.as_str()));
            assert_eq!(super::os_user(), format!("{expected} (uid {uid})"));
        }
        // uid 0 is root on every system ritplan runs on; a uid nobody has gets no name.
        assert_eq!(super::user_name(0).as_deref(), Some("root"));
        assert_eq!(super::user_name(4_000_000_000), None);
    }
}
