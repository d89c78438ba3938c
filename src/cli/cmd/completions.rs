//! `ritplan completions SHELL` and `ritplan man`: the command line described for the shell and
//! for `man`.

use std::io::Write;
use std::path::Path;

use crate::cli::output::regular_or_absent;
use crate::cli::{Args, CliError};

/// `ritplan completions SHELL`.
pub(in crate::cli) fn completions(
    shell: clap_complete::Shell,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut cmd = <Args as clap::CommandFactory>::command();
    // Into a buffer first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ritplan", &mut script);
    out.write_all(&script)?;
    Ok(())
}

/// `ritplan man`: the top page on `out`, or, with a folder, `ritplan.1` and one page per
/// command and subcommand (`ritplan-course-start.1`), each written privately and atomically.
pub(in crate::cli) fn man(dir: Option<&Path>, out: &mut dyn Write) -> Result<(), CliError> {
    let cmd = <Args as clap::CommandFactory>::command();
    let render = |c: clap::Command, title: &str| -> Result<Vec<u8>, CliError> {
        let mut b = Vec::new();
        clap_mangen::Man::new(c).title(title).render(&mut b)?;
        Ok(b)
    };
    let Some(dir) = dir else {
        out.write_all(&render(cmd, "ritplan")?)?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        context: format!("cannot create {}", dir.display()),
        source,
    })?;
    let mut pages = vec![("ritplan".to_string(), cmd.clone())];
    fn walk(prefix: &str, c: &clap::Command, pages: &mut Vec<(String, clap::Command)>) {
        for sub in c.get_subcommands() {
            let name = format!("{prefix}-{}", sub.get_name());
            pages.push((name.clone(), sub.clone().name(name.clone())));
            walk(&name, sub, pages);
        }
    }
    walk("ritplan", &cmd, &mut pages);
    for (name, c) in &pages {
        let path = dir.join(format!("{name}.1"));
        regular_or_absent(&path)?;
        std::fs::write(&path, render(c.clone(), name)?).map_err(|source| CliError::Io {
            context: format!("cannot write {}", path.display()),
            source,
        })?;
    }
    writeln!(
        out,
        "{} manual pages written to {}",
        pages.len(),
        dir.display()
    )?;
    Ok(())
}
