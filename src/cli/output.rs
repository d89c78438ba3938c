//! What a command writes: JSON, diagnostics, and PDF files (fonts found, written privately
//! and atomically).

use std::io::{self, Write};
use std::path::Path;

use super::CliError;
use crate::diag::{Located, SourceText};
use crate::template::Checked;

/// DejaVu Sans, plus `font` if given, else a system CJK font when some text needs one.
pub(super) fn pdf_fonts(
    texts: &[&str],
    font: Option<&Path>,
) -> Result<crate::render::pdf::Fonts, CliError> {
    use crate::render::pdf::Fonts;
    let bad = |e: crate::render::pdf::PdfError| CliError::Data(e.to_string());
    if let Some(path) = font {
        let bytes = std::fs::read(path).map_err(|source| CliError::Io {
            context: format!("cannot read font {}", path.display()),
            source,
        })?;
        return Fonts::new(Some(&bytes))
            .map_err(|e| CliError::Data(format!("{}: {e}", path.display())));
    }
    Fonts::for_texts(texts).map_err(bad)
}

/// Renders a protocol and writes it atomically; reports the file on stderr.
pub(super) fn write_protocol(
    doc: &crate::render::protocol::Protocol<'_>,
    names: &[&str],
    paper: crate::render::pdf::Paper,
    font: Option<&Path>,
    path: &Path,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let fonts = pdf_fonts(names, font)?;
    let (bytes, warnings) = crate::render::protocol::render(doc, &fonts, paper)
        .map_err(|e| CliError::Data(e.to_string()))?;
    write_atomically(path, &bytes)?;
    for w in warnings {
        writeln!(err, "warning from the PDF writer: {w}")?;
    }
    writeln!(err, "protocol written to {}", path.display())?;
    Ok(())
}

/// Renders several protocols into one file (each on its own pages) and writes it atomically.
pub(super) fn write_protocols(
    docs: &[crate::render::protocol::Protocol<'_>],
    names: &[&str],
    paper: crate::render::pdf::Paper,
    font: Option<&Path>,
    path: &Path,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    if let [one] = docs {
        return write_protocol(one, names, paper, font, path, err);
    }
    let fonts = pdf_fonts(names, font)?;
    let (bytes, warnings) = crate::render::protocol::render_many(docs, &fonts, paper)
        .map_err(|e| CliError::Data(e.to_string()))?;
    write_atomically(path, &bytes)?;
    for w in warnings {
        writeln!(err, "warning from the PDF writer: {w}")?;
    }
    writeln!(
        err,
        "{} protocols written to {}",
        docs.len(),
        path.display()
    )?;
    Ok(())
}

/// Writes `bytes` to `path` atomically and readable by the owner only
/// (patient documents): a fresh temporary file beside it that is never a
/// followed link, then a rename. Only a regular file is ever replaced: a path
/// that is a symbolic link, a FIFO, a device, a socket or a folder is refused
/// (exit 74) and left as it was — a rename would put a file in place of
/// `/dev/full` or of the link itself.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    regular_or_absent(path)?;
    crate::secure::write_private(path, bytes).map_err(|source| CliError::Io {
        context: format!("cannot write {}", path.display()),
        source,
    })
}

/// Refuses a path that exists and is not a regular file (a link is not followed).
pub(super) fn regular_or_absent(path: &Path) -> Result<(), CliError> {
    let what = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CliError::Io {
                context: format!("cannot write {}", path.display()),
                source,
            });
        }
        Ok(m) if m.file_type().is_file() => return Ok(()),
        Ok(m) => kind_of(&m.file_type()),
    };
    Err(CliError::Io {
        context: format!(
            "will not write {}: it is {what}; ritplan writes only a regular file (nothing was replaced)",
            path.display()
        ),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
    })
}

fn kind_of(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

pub(super) fn print_diagnostics(
    w: &mut dyn Write,
    source: &SourceText,
    diags: &[crate::diag::Diagnostic],
) -> io::Result<()> {
    for d in diags {
        write!(
            w,
            "{}",
            Located {
                source,
                diagnostic: d
            }
        )?;
        writeln!(w)?;
    }
    Ok(())
}

pub(super) fn print_checked(w: &mut dyn Write, c: &Checked) -> io::Result<()> {
    print_diagnostics(w, &c.source, &c.diagnostics)
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(super) fn write_json(
    out: &mut dyn Write,
    value: &impl serde::Serialize,
) -> Result<(), CliError> {
    // Buffered: stdout is line-buffered, and pretty JSON is a line per field (an audit's is
    // 18 MB: a system call per line was an eighth of its time).
    let mut buf = io::BufWriter::with_capacity(64 * 1024, &mut *out);
    serde_json::to_writer_pretty(&mut buf, value)
        .map_err(|e| CliError::from(io::Error::from(e)))?;
    writeln!(buf)?;
    buf.flush()?;
    Ok(())
}

/// Where a PDF goes (`sheet --out`, `course pdf --out`), and how it is printed.
pub(super) struct PdfOut {
    /// The file.
    pub path: std::path::PathBuf,
    /// Paper size.
    pub paper: crate::render::pdf::Paper,
    /// A font for characters DejaVu lacks.
    pub font: Option<std::path::PathBuf>,
}
