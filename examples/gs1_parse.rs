//! Test helper (tests/gs1): reads one scanned GS1 code per line on stdin, as a keyboard-wedge
//! scanner types it (GS as the byte 29; a CR before the line's LF is part of the code), and
//! prints one JSON object per line: the fields [`ritplan::gs1::parse`] read, or its refusal.
//!
//!     cargo build --examples && target/debug/examples/gs1_parse --today YYYY-MM-DD < codes
//!
//! `--today` sets the century of two-digit years (the caller reads the clock, not this helper).

use std::io::{BufRead, Write};

use chrono::NaiveDate;
use ritplan::gs1;
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let today = match args.as_slice() {
        [flag, date] if flag == "--today" => NaiveDate::parse_from_str(date, "%Y-%m-%d")?,
        _ => return Err("usage: gs1_parse --today YYYY-MM-DD < codes".into()),
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let row = match gs1::parse(&text, today) {
            Ok(g) => json!({
                "ok": true,
                "symbology": g.symbology.map(|s| s.prefix()),
                "gtin": g.gtin,
                "lot": g.lot,
                "production": g.production.map(|d| d.to_string()),
                "expiry": g.expiry.map(|d| d.to_string()),
                "serial": g.serial,
                "gsrn": g.gsrn,
                "element_string": g.to_element_string(),
            }),
            Err(e) => {
                let debug = format!("{e:?}");
                let kind: String = debug.chars().take_while(|c| c.is_alphanumeric()).collect();
                json!({ "ok": false, "kind": kind, "error": e.to_string() })
            }
        };
        writeln!(out, "{}", Value::to_string(&row))?;
    }
    Ok(())
}
