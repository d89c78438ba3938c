//! GS1 element strings, as a keyboard-wedge scanner types a manufacturer's code.
//!
//! A vial or stock bottle may carry a GS1 Data Matrix (or GS1-128, or GS1 QR) with the product's
//! GTIN (AI 01), lot (AI 10), expiry (AI 17) and serial (AI 21). A scanner in keyboard-wedge mode
//! types what it reads: perhaps a symbology identifier first (`]d2`, `]C1`, `]Q3`), the element
//! strings, the ASCII GS character (29) where the code has an FNC1 separator, and often a CR or
//! LF at the end. [`parse`] reads that text, or the printed human-readable form
//! `(01)…(17)…(10)…`, into a typed [`Gs1`], or refuses it with a [`Gs1Error`] that names what is
//! wrong and where (a byte offset into the text as given).
//!
//! Pure: no clock. A two-digit year takes its century from the `today` the caller passes, by the
//! GS1 General Specifications rule (section 7.12): a year 51 to 99 years ahead of today's
//! two-digit year lies in the previous century, one 50 to 99 years behind it in the next century,
//! any other in the current one (so the window runs from 49 years back to 50 years ahead).
//!
//! Only the AIs ritplan uses are read: 01, 10, 11, 17, 21 and 8018 (GSRN). Any other AI is
//! refused by name rather than skipped, because without its length the rest cannot be split.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};

/// The longest text [`parse`] reads, in bytes; longer text is refused before any parsing. (A GS1
/// Data Matrix holds at most about 2 300 characters, but a vial's code is well under 100.)
pub const MAX_INPUT: usize = 512;

/// The ASCII group separator, which scanners send for FNC1.
pub const GS: char = '\u{1d}';

/// The symbology a scanner named in its identifier prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symbology {
    /// `]d2`: GS1 Data Matrix.
    DataMatrix,
    /// `]C1`: GS1-128.
    Gs1_128,
    /// `]Q3`: GS1 QR Code.
    Qr,
}

impl Symbology {
    /// The identifier prefix a scanner sends.
    pub fn prefix(self) -> &'static str {
        match self {
            Symbology::DataMatrix => "]d2",
            Symbology::Gs1_128 => "]C1",
            Symbology::Qr => "]Q3",
        }
    }
}

/// A parsed GS1 code: each AI that was present, typed. Every field is optional because a code
/// carries only some AIs (a wristband's GSRN has no GTIN); [`parse`] refuses a code with none.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Gs1 {
    /// The symbology identifier, if the scanner sent one.
    pub symbology: Option<Symbology>,
    /// AI 01: the GTIN-14, its check digit verified.
    pub gtin: Option<String>,
    /// AI 10: the batch or lot, 1 to 20 GS1 characters.
    pub lot: Option<String>,
    /// AI 11: the production date.
    pub production: Option<NaiveDate>,
    /// AI 17: the expiry date (a day 00 is the month's last day).
    pub expiry: Option<NaiveDate>,
    /// AI 21: the serial number, 1 to 20 GS1 characters.
    pub serial: Option<String>,
    /// AI 8018: the GSRN (service relation number), 18 digits, its check digit verified.
    pub gsrn: Option<String>,
}

/// The AIs read, and their forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ai {
    /// 01, GTIN: 14 digits.
    Gtin,
    /// 10, batch or lot: up to 20 characters.
    Lot,
    /// 11, production date: YYMMDD.
    Production,
    /// 17, expiry date: YYMMDD.
    Expiry,
    /// 21, serial number: up to 20 characters.
    Serial,
    /// 8018, GSRN: 18 digits.
    Gsrn,
}

impl Ai {
    const ALL: [Ai; 6] = [
        Ai::Gtin,
        Ai::Lot,
        Ai::Production,
        Ai::Expiry,
        Ai::Serial,
        Ai::Gsrn,
    ];

    /// The AI's digits.
    pub fn code(self) -> &'static str {
        match self {
            Ai::Gtin => "01",
            Ai::Lot => "10",
            Ai::Production => "11",
            Ai::Expiry => "17",
            Ai::Serial => "21",
            Ai::Gsrn => "8018",
        }
    }

    /// GS1's data title for the AI.
    pub fn title(self) -> &'static str {
        match self {
            Ai::Gtin => "GTIN",
            Ai::Lot => "BATCH/LOT",
            Ai::Production => "PROD DATE",
            Ai::Expiry => "USE BY OR EXPIRY",
            Ai::Serial => "SERIAL",
            Ai::Gsrn => "GSRN",
        }
    }

    fn form(self) -> Form {
        match self {
            Ai::Gtin => Form::Digits(14),
            Ai::Gsrn => Form::Digits(18),
            Ai::Production | Ai::Expiry => Form::Date,
            Ai::Lot | Ai::Serial => Form::Text(20),
        }
    }
}

#[derive(Clone, Copy)]
enum Form {
    /// Fixed length, digits, the last a GS1 mod-10 check digit.
    Digits(usize),
    /// Fixed length YYMMDD.
    Date,
    /// Variable length up to the bound, GS1 character set 82, ended by GS or the end.
    Text(usize),
}

/// Why a code was refused. Every `at` is a byte offset into the text as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gs1Error {
    /// Nothing but a prefix, separators or line ends.
    Empty,
    /// Longer than [`MAX_INPUT`] bytes.
    TooLong {
        /// The text's length in bytes.
        len: usize,
    },
    /// A `]` symbology identifier that is not a GS1 one ritplan reads.
    Symbology {
        /// The identifier as given (up to three characters).
        found: String,
    },
    /// Digits where an AI should start that are not an AI ritplan reads (or not digits).
    UnknownAi {
        /// Where.
        at: usize,
        /// What stands there (up to four characters).
        found: String,
    },
    /// A fixed-length field without exactly its number of digits (cut short, or too many in the
    /// human-readable form).
    Length {
        /// The AI.
        ai: Ai,
        /// Where its value starts.
        at: usize,
        /// The length it needs.
        needed: usize,
        /// The length found.
        found: usize,
    },
    /// A variable-length field runs past its bound (often: a missing GS separator).
    FieldTooLong {
        /// The AI.
        ai: Ai,
        /// Where its value starts.
        at: usize,
        /// The bound.
        max: usize,
    },
    /// A variable-length field with no value.
    EmptyField {
        /// The AI.
        ai: Ai,
        /// Where its value would start.
        at: usize,
    },
    /// A character the field may not hold.
    BadCharacter {
        /// The AI.
        ai: Ai,
        /// Where.
        at: usize,
        /// The character.
        found: char,
    },
    /// A GTIN or GSRN whose check digit is wrong.
    CheckDigit {
        /// The AI.
        ai: Ai,
        /// The value as given.
        value: String,
        /// The check digit the other digits call for.
        expected: u32,
    },
    /// A YYMMDD that is no date.
    BadDate {
        /// The AI.
        ai: Ai,
        /// Where its value starts.
        at: usize,
        /// The six digits.
        value: String,
    },
    /// An AI given twice with different values.
    Conflict {
        /// The AI.
        ai: Ai,
        /// Where the second one starts.
        at: usize,
    },
    /// The human-readable form without an AI in parentheses where one should be.
    Parentheses {
        /// Where.
        at: usize,
    },
}

impl fmt::Display for Gs1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gs1Error::Empty => write!(f, "the code is empty"),
            Gs1Error::TooLong { len } => {
                write!(
                    f,
                    "the code is {len} bytes long; at most {MAX_INPUT} are read"
                )
            }
            Gs1Error::Symbology { found } => write!(
                f,
                "the code starts with the symbology identifier {found:?}, not a GS1 one (]d2, ]C1, ]Q3)"
            ),
            Gs1Error::UnknownAi { at, found } => write!(
                f,
                "at character {}: {found:?} is not an application identifier read here (01, 10, 11, 17, 21, 8018)",
                at + 1
            ),
            Gs1Error::Length {
                ai,
                at,
                needed,
                found,
            } => write!(
                f,
                "at character {}: ({}) {} needs {needed} digits, the code has {found}",
                at + 1,
                ai.code(),
                ai.title()
            ),
            Gs1Error::FieldTooLong { ai, at, max } => write!(
                f,
                "at character {}: ({}) {} is longer than {max} characters (is the GS separator after it missing?)",
                at + 1,
                ai.code(),
                ai.title()
            ),
            Gs1Error::EmptyField { ai, at } => write!(
                f,
                "at character {}: ({}) {} is empty",
                at + 1,
                ai.code(),
                ai.title()
            ),
            Gs1Error::BadCharacter { ai, at, found } => write!(
                f,
                "at character {}: ({}) {} may not hold {found:?}",
                at + 1,
                ai.code(),
                ai.title()
            ),
            Gs1Error::CheckDigit {
                ai,
                value,
                expected,
            } => write!(
                f,
                "({}) {} {value}: the check digit should be {expected}",
                ai.code(),
                ai.title()
            ),
            Gs1Error::BadDate { ai, at, value } => write!(
                f,
                "at character {}: ({}) {} {value} is not a date (YYMMDD)",
                at + 1,
                ai.code(),
                ai.title()
            ),
            Gs1Error::Conflict { ai, at } => write!(
                f,
                "at character {}: ({}) {} is given twice with different values",
                at + 1,
                ai.code(),
                ai.title()
            ),
            Gs1Error::Parentheses { at } => write!(
                f,
                "at character {}: expected an application identifier in parentheses",
                at + 1
            ),
        }
    }
}

impl std::error::Error for Gs1Error {}

/// Reads a scanned GS1 code (see the module's description). `today` sets the century of
/// two-digit years.
pub fn parse(input: &str, today: NaiveDate) -> Result<Gs1, Gs1Error> {
    if input.len() > MAX_INPUT {
        return Err(Gs1Error::TooLong { len: input.len() });
    }
    let body = input.trim_end_matches(['\r', '\n']);
    let mut gs1 = Gs1::default();
    let mut at = 0;
    if body.starts_with(']') {
        let id = body.get(..3).unwrap_or(body);
        gs1.symbology = Some(match id {
            "]d2" => Symbology::DataMatrix,
            "]C1" => Symbology::Gs1_128,
            "]Q3" => Symbology::Qr,
            _ => {
                let found: String = body.chars().take(3).collect();
                return Err(Gs1Error::Symbology { found });
            }
        });
        at = 3;
    }
    let bytes = body.as_bytes();
    // A leading FNC1 sent as GS.
    while bytes.get(at) == Some(&0x1d) {
        at += 1;
    }
    if at >= bytes.len() {
        return Err(Gs1Error::Empty);
    }
    let century = Century::of(today);
    if bytes[at] == b'(' {
        parse_hri(body, at, century, &mut gs1)?;
    } else {
        parse_raw(body, at, century, &mut gs1)?;
    }
    Ok(gs1)
}

/// The element strings with GS separators.
fn parse_raw(body: &str, mut at: usize, century: Century, gs1: &mut Gs1) -> Result<(), Gs1Error> {
    let bytes = body.as_bytes();
    while at < bytes.len() {
        if bytes[at] == 0x1d {
            at += 1;
            continue;
        }
        let ai = ai_at(body, at)?;
        let start = at + ai.code().len();
        let end = match ai.form() {
            Form::Digits(n) => start + n,
            Form::Date => start + 6,
            Form::Text(max) => {
                let end = body[start..].find(GS).map_or(bytes.len(), |i| start + i);
                if end - start > max {
                    // Report the first bad character, if any, before the length: a stray
                    // character is the likelier fault.
                    check_text(ai, body, start, start + max)?;
                    return Err(Gs1Error::FieldTooLong { ai, at: start, max });
                }
                end
            }
        };
        let value = value_at(ai, body, start, end)?;
        set(gs1, ai, start, value, century)?;
        at = end;
    }
    Ok(())
}

/// The human-readable form: `(AI)value` repeated; a value ends where `(` opens the next AI.
fn parse_hri(body: &str, mut at: usize, century: Century, gs1: &mut Gs1) -> Result<(), Gs1Error> {
    let bytes = body.as_bytes();
    while at < bytes.len() {
        if bytes[at] != b'(' {
            return Err(Gs1Error::Parentheses { at });
        }
        let close = body[at..]
            .find(')')
            .map(|i| at + i)
            .ok_or(Gs1Error::Parentheses { at })?;
        let ai = ai_at(body, at + 1)?;
        if close != at + 1 + ai.code().len() {
            return Err(Gs1Error::UnknownAi {
                at: at + 1,
                found: body[at + 1..close].chars().take(4).collect(),
            });
        }
        let start = close + 1;
        let end = next_hri_ai(body, start);
        let value = match ai.form() {
            Form::Text(max) => {
                if end - start > max {
                    check_text(ai, body, start, start + max)?;
                    return Err(Gs1Error::FieldTooLong { ai, at: start, max });
                }
                value_at(ai, body, start, end)?
            }
            Form::Digits(n) => fixed_hri(ai, body, start, end, n)?,
            Form::Date => fixed_hri(ai, body, start, end, 6)?,
        };
        set(gs1, ai, start, value, century)?;
        at = end;
    }
    Ok(())
}

/// A fixed-length field of the human-readable form: digits from `start` to `end`, exactly `n`.
fn fixed_hri(ai: Ai, body: &str, start: usize, end: usize, n: usize) -> Result<&str, Gs1Error> {
    let value = value_at(ai, body, start, end)?;
    if value.len() != n {
        return Err(Gs1Error::Length {
            ai,
            at: start,
            needed: n,
            found: value.len(),
        });
    }
    Ok(value)
}

/// Where the next `(digits)` opens, or the end.
fn next_hri_ai(body: &str, from: usize) -> usize {
    let bytes = body.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'(' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if (2..=4).contains(&digits) && bytes.get(i + 1 + digits) == Some(&b')') {
                return i;
            }
        }
        i += 1;
    }
    bytes.len()
}

/// The AI that starts at `at`.
fn ai_at(body: &str, at: usize) -> Result<Ai, Gs1Error> {
    let rest = body.get(at..).unwrap_or("");
    Ai::ALL
        .into_iter()
        .find(|ai| rest.starts_with(ai.code()))
        .ok_or_else(|| Gs1Error::UnknownAi {
            at,
            found: rest.chars().take(4).collect(),
        })
}

/// The value of a field in `start..end` (end may lie past the text), its characters checked.
fn value_at(ai: Ai, body: &str, start: usize, end: usize) -> Result<&str, Gs1Error> {
    let bytes = body.as_bytes();
    match ai.form() {
        Form::Digits(_) | Form::Date => {
            let needed = end - start;
            let avail = &bytes[start.min(bytes.len())..end.min(bytes.len())];
            if let Some(i) = avail.iter().position(|b| !b.is_ascii_digit()) {
                let at = start + i;
                if bytes[at] == 0x1d && matches!(ai.form(), Form::Digits(_) | Form::Date) {
                    return Err(Gs1Error::Length {
                        ai,
                        at: start,
                        needed,
                        found: i,
                    });
                }
                return Err(bad_char(ai, body, at));
            }
            if avail.len() < needed {
                return Err(Gs1Error::Length {
                    ai,
                    at: start,
                    needed,
                    found: avail.len(),
                });
            }
            Ok(body.get(start..end).unwrap_or(""))
        }
        Form::Text(_) => {
            if end == start {
                return Err(Gs1Error::EmptyField { ai, at: start });
            }
            check_text(ai, body, start, end)?;
            Ok(body.get(start..end).unwrap_or(""))
        }
    }
}

/// Checks `start..end` (clipped to the text) against GS1's character set 82.
fn check_text(ai: Ai, body: &str, start: usize, end: usize) -> Result<(), Gs1Error> {
    let bytes = body.as_bytes();
    let end = end.min(bytes.len());
    match bytes[start.min(end)..end]
        .iter()
        .position(|&b| !is_cset82(b))
    {
        Some(i) => Err(bad_char(ai, body, start + i)),
        None => Ok(()),
    }
}

fn bad_char(ai: Ai, body: &str, at: usize) -> Gs1Error {
    // Every byte before `at` was checked to be ASCII, so `at` starts a character.
    let found = body
        .get(at..)
        .and_then(|s| s.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    Gs1Error::BadCharacter { ai, at, found }
}

/// GS1 AI encodable character set 82.
fn is_cset82(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b)
}

/// The GS1 mod-10 check digit for the digits before the last (a non-digit counts as 0; callers
/// check the digits first).
fn check_digit(digits: &str) -> u32 {
    let body = &digits.as_bytes()[..digits.len().saturating_sub(1)];
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| char::from(b).to_digit(10).unwrap_or(0) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10
}

/// The digits with their GS1 check digit appended (for generators and tests); `None` unless
/// all are ASCII digits.
pub fn with_check_digit(digits: &str) -> Option<String> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let c = check_digit(&format!("{digits}0"));
    char::from_digit(c, 10).map(|c| format!("{digits}{c}"))
}

#[derive(Clone, Copy)]
struct Century {
    current: i32,
    two_digit_year: i32,
}

impl Century {
    fn of(today: NaiveDate) -> Century {
        let year = today.year();
        Century {
            current: year - year.rem_euclid(100),
            two_digit_year: year.rem_euclid(100),
        }
    }

    /// GS1 General Specifications 7.12.
    fn year(self, yy: i32) -> i32 {
        let diff = yy - self.two_digit_year;
        if (51..=99).contains(&diff) {
            self.current - 100 + yy
        } else if (-99..=-50).contains(&diff) {
            self.current + 100 + yy
        } else {
            self.current + yy
        }
    }
}

fn date(ai: Ai, at: usize, value: &str, century: Century) -> Result<NaiveDate, Gs1Error> {
    let bad = || Gs1Error::BadDate {
        ai,
        at,
        value: value.to_string(),
    };
    let n = |i: usize| value.get(i..i + 2).and_then(|s| s.parse::<u32>().ok());
    let (yy, mm, dd) = match (n(0), n(2), n(4)) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let year = century.year(i32::try_from(yy).map_err(|_| bad())?);
    let day = if dd == 0 {
        NaiveDate::from_ymd_opt(year, mm, 1)
            .and_then(|first| first.checked_add_months(Months::new(1)))
            .and_then(|next| next.pred_opt())
    } else {
        NaiveDate::from_ymd_opt(year, mm, dd)
    };
    // Held to the years ritplan accepts (a `today` near their end could reach past them).
    day.filter(|d| crate::when::in_range(*d)).ok_or_else(bad)
}

fn set(gs1: &mut Gs1, ai: Ai, at: usize, value: &str, century: Century) -> Result<(), Gs1Error> {
    fn put<T: PartialEq>(slot: &mut Option<T>, v: T, ai: Ai, at: usize) -> Result<(), Gs1Error> {
        match slot {
            Some(old) if *old != v => Err(Gs1Error::Conflict { ai, at }),
            _ => {
                *slot = Some(v);
                Ok(())
            }
        }
    }
    match ai {
        Ai::Gtin | Ai::Gsrn => {
            let expected = check_digit(value);
            let given = value
                .chars()
                .last()
                .and_then(|c| c.to_digit(10))
                .unwrap_or(10);
            if given != expected {
                return Err(Gs1Error::CheckDigit {
                    ai,
                    value: value.to_string(),
                    expected,
                });
            }
            let slot = if ai == Ai::Gtin {
                &mut gs1.gtin
            } else {
                &mut gs1.gsrn
            };
            put(slot, value.to_string(), ai, at)
        }
        Ai::Production => put(&mut gs1.production, date(ai, at, value, century)?, ai, at),
        Ai::Expiry => put(&mut gs1.expiry, date(ai, at, value, century)?, ai, at),
        Ai::Lot => put(&mut gs1.lot, value.to_string(), ai, at),
        Ai::Serial => put(&mut gs1.serial, value.to_string(), ai, at),
    }
}

impl Gs1 {
    /// The element string: fixed-length fields first (01, 11, 17, 8018), then 10 and 21, each
    /// variable field but the last followed by GS; with the symbology prefix if one was read.
    /// Dates are written with their day (a day 00 read comes back as the month's last day).
    pub fn to_element_string(&self) -> String {
        let mut out = String::new();
        if let Some(s) = self.symbology {
            out.push_str(s.prefix());
        }
        let yymmdd = |d: NaiveDate| {
            format!(
                "{:02}{:02}{:02}",
                d.year().rem_euclid(100),
                d.month(),
                d.day()
            )
        };
        if let Some(g) = &self.gtin {
            out.push_str("01");
            out.push_str(g);
        }
        if let Some(d) = self.production {
            out.push_str("11");
            out.push_str(&yymmdd(d));
        }
        if let Some(d) = self.expiry {
            out.push_str("17");
            out.push_str(&yymmdd(d));
        }
        if let Some(g) = &self.gsrn {
            out.push_str("8018");
            out.push_str(g);
        }
        let vars: Vec<(&str, &String)> = [("10", &self.lot), ("21", &self.serial)]
            .into_iter()
            .filter_map(|(ai, v)| v.as_ref().map(|v| (ai, v)))
            .collect();
        for (i, (ai, v)) in vars.iter().enumerate() {
            out.push_str(ai);
            out.push_str(v);
            if i + 1 < vars.len() {
                out.push(GS);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A valid GTIN-14 (GS1's own example number).
    const GTIN: &str = "09506000134352";

    #[test]
    fn the_example_gtin_has_a_valid_check_digit() {
        assert_eq!(with_check_digit("0950600013435").as_deref(), Some(GTIN));
        assert_eq!(
            with_check_digit("0400638133393").as_deref(),
            Some("04006381333931")
        );
        assert_eq!(with_check_digit("12a"), None);
    }

    #[test]
    fn data_matrix_with_gs_and_crlf() {
        let code = format!("]d201{GTIN}1727123110AB-12/x{GS}21SER99\r\n");
        let g = parse(&code, today()).unwrap();
        assert_eq!(g.symbology, Some(Symbology::DataMatrix));
        assert_eq!(g.gtin.as_deref(), Some(GTIN));
        assert_eq!(g.expiry, Some(d(2027, 12, 31)));
        assert_eq!(g.lot.as_deref(), Some("AB-12/x"));
        assert_eq!(g.serial.as_deref(), Some("SER99"));
    }

    #[test]
    fn without_prefix_and_with_a_missing_trailing_separator() {
        let g = parse(&format!("01{GTIN}21S1{GS}10LOT7"), today()).unwrap();
        assert_eq!(g.symbology, None);
        assert_eq!(g.serial.as_deref(), Some("S1"));
        assert_eq!(g.lot.as_deref(), Some("LOT7"));
        // A trailing GS (a separator the scanner sent anyway) is harmless too.
        let g2 = parse(&format!("01{GTIN}21S1{GS}10LOT7{GS}\n"), today()).unwrap();
        assert_eq!(g, g2);
    }

    #[test]
    fn a_leading_fnc1_and_a_gs_after_a_fixed_field_are_skipped() {
        let g = parse(&format!("]C1{GS}01{GTIN}{GS}17280300{GS}10L"), today()).unwrap();
        assert_eq!(g.symbology, Some(Symbology::Gs1_128));
        assert_eq!(g.expiry, Some(d(2028, 3, 31)));
        assert_eq!(g.lot.as_deref(), Some("L"));
    }

    #[test]
    fn day_00_is_the_last_day_of_the_month() {
        let cases = [
            ("270200", d(2027, 2, 28)),
            ("280200", d(2028, 2, 29)),
            ("261100", d(2026, 11, 30)),
            ("261200", d(2026, 12, 31)),
        ];
        for (yymmdd, want) in cases {
            let g = parse(&format!("01{GTIN}17{yymmdd}"), today()).unwrap();
            assert_eq!(g.expiry, Some(want), "{yymmdd}");
        }
        let g = parse(&format!("01{GTIN}11250100"), today()).unwrap();
        assert_eq!(g.production, Some(d(2025, 1, 31)));
    }

    #[test]
    fn the_century_window_runs_49_years_back_and_50_ahead() {
        // Today 2026: 76 is 50 ahead (2076); 77 is 51 ahead, so the previous century (1977).
        let year = |yy: &str, today: NaiveDate| {
            parse(&format!("17{yy}0101"), today)
                .unwrap()
                .expiry
                .unwrap()
                .year()
        };
        assert_eq!(year("76", today()), 2076);
        assert_eq!(year("77", today()), 1977);
        assert_eq!(year("00", today()), 2000);
        assert_eq!(year("26", today()), 2026);
        // Today 2090: 40 is 50 behind, so the next century (2140); 41 is 49 behind (2041).
        let later = d(2090, 6, 1);
        assert_eq!(year("40", later), 2140);
        assert_eq!(year("41", later), 2041);
        assert_eq!(year("99", later), 2099);
        // Past the years ritplan accepts: refused, not carried on.
        assert!(matches!(
            parse("17000101", d(2199, 1, 1)),
            Err(Gs1Error::BadDate { .. })
        ));
    }

    #[test]
    fn human_readable_form() {
        let g = parse(&format!("(01){GTIN}(17)270600(10)A(B)C(21)7\n"), today()).unwrap();
        assert_eq!(g.gtin.as_deref(), Some(GTIN));
        assert_eq!(g.expiry, Some(d(2027, 6, 30)));
        assert_eq!(g.lot.as_deref(), Some("A(B)C"));
        assert_eq!(g.serial.as_deref(), Some("7"));
        assert_eq!(
            parse("(01)123(17)270101", today()),
            Err(Gs1Error::Length {
                ai: Ai::Gtin,
                at: 4,
                needed: 14,
                found: 3
            })
        );
        assert!(matches!(
            parse("(99)1", today()),
            Err(Gs1Error::UnknownAi { at: 1, .. })
        ));
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        let bad = "09506000134353";
        assert_eq!(
            parse(&format!("]d201{bad}10L"), today()),
            Err(Gs1Error::CheckDigit {
                ai: Ai::Gtin,
                value: bad.to_string(),
                expected: 2
            })
        );
        let gsrn = with_check_digit("12345678901234567").unwrap();
        assert_eq!(
            parse(&format!("8018{gsrn}"), today()).unwrap().gsrn,
            Some(gsrn.clone())
        );
        let mut wrong = gsrn.clone();
        let last = wrong.pop().and_then(|c| c.to_digit(10)).unwrap();
        wrong.push(char::from_digit((last + 1) % 10, 10).unwrap());
        assert!(matches!(
            parse(&format!("8018{wrong}"), today()),
            Err(Gs1Error::CheckDigit { ai: Ai::Gsrn, .. })
        ));
    }

    #[test]
    fn refusals_name_what_and_where() {
        assert_eq!(parse("]d2\r\n", today()), Err(Gs1Error::Empty));
        assert_eq!(parse("", today()), Err(Gs1Error::Empty));
        assert_eq!(
            parse("]d1010", today()),
            Err(Gs1Error::Symbology {
                found: "]d1".into()
            })
        );
        assert_eq!(
            parse(&format!("01{GTIN}240ABC"), today()),
            Err(Gs1Error::UnknownAi {
                at: 16,
                found: "240A".into()
            })
        );
        assert_eq!(
            parse(&format!("01{GTIN}17271301"), today()),
            Err(Gs1Error::BadDate {
                ai: Ai::Expiry,
                at: 18,
                value: "271301".into()
            })
        );
        assert_eq!(
            parse(&format!("01{GTIN}17270230"), today()),
            Err(Gs1Error::BadDate {
                ai: Ai::Expiry,
                at: 18,
                value: "270230".into()
            })
        );
        assert_eq!(
            parse(&format!("10{}", "A".repeat(21)), today()),
            Err(Gs1Error::FieldTooLong {
                ai: Ai::Lot,
                at: 2,
                max: 20
            })
        );
        assert_eq!(
            parse("10AB CD", today()),
            Err(Gs1Error::BadCharacter {
                ai: Ai::Lot,
                at: 4,
                found: ' '
            })
        );
        assert_eq!(
            parse("10Lé", today()),
            Err(Gs1Error::BadCharacter {
                ai: Ai::Lot,
                at: 3,
                found: 'é'
            })
        );
        assert_eq!(
            parse("10", today()),
            Err(Gs1Error::EmptyField { ai: Ai::Lot, at: 2 })
        );
        assert_eq!(
            parse("0109506", today()),
            Err(Gs1Error::Length {
                ai: Ai::Gtin,
                at: 2,
                needed: 14,
                found: 5
            })
        );
        assert_eq!(
            parse("10A\u{1d}10B", today()),
            Err(Gs1Error::Conflict { ai: Ai::Lot, at: 6 })
        );
        assert!(parse("10A\u{1d}10A", today()).is_ok());
        let long = format!("10{}", "A".repeat(MAX_INPUT));
        assert_eq!(
            parse(&long, today()),
            Err(Gs1Error::TooLong { len: MAX_INPUT + 2 })
        );
        // The messages say where, counting from 1.
        let e = parse("10AB CD", today()).unwrap_err().to_string();
        assert!(e.contains("character 5") && e.contains("BATCH/LOT"), "{e}");
    }

    fn gs1_value() -> impl Strategy<Value = Gs1> {
        let text = "[A-Za-z0-9!\"%&'()*+,\\-./:;<=>?_]{1,20}";
        let date = (2000i32..=2075, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap());
        (
            proptest::option::of(prop_oneof![
                Just(Symbology::DataMatrix),
                Just(Symbology::Gs1_128),
                Just(Symbology::Qr)
            ]),
            proptest::option::of("[0-9]{13}".prop_map(|s| with_check_digit(&s).unwrap())),
            proptest::option::of(text),
            proptest::option::of(date.clone()),
            proptest::option::of(date),
            proptest::option::of(text),
            proptest::option::of("[0-9]{17}".prop_map(|s| with_check_digit(&s).unwrap())),
        )
            .prop_map(
                |(symbology, gtin, lot, production, expiry, serial, gsrn)| Gs1 {
                    symbology,
                    gtin,
                    lot,
                    production,
                    expiry,
                    serial,
                    gsrn,
                },
            )
            .prop_filter("some AI", |g| {
                g.gtin.is_some()
                    || g.lot.is_some()
                    || g.production.is_some()
                    || g.expiry.is_some()
                    || g.serial.is_some()
                    || g.gsrn.is_some()
            })
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s, today());
            let _ = with_check_digit(&s);
        }

        #[test]
        fn gs1_like_text_never_panics(s in "(\\]d2|\\]C1|\\]x)?[0-9()\u{1d}A-Za-z \r\n]{0,60}") {
            if let Ok(g) = parse(&s, today()) {
                // Whatever parses re-encodes to an element string that parses to the same.
                prop_assert_eq!(parse(&g.to_element_string(), today()), Ok(g));
            }
        }

        #[test]
        fn a_value_re_encodes_to_an_equivalent_element_string(g in gs1_value(), crlf in any::<bool>()) {
            let mut s = g.to_element_string();
            if crlf {
                s.push_str("\r\n");
            }
            prop_assert_eq!(parse(&s, today()), Ok(g));
        }
    }
}
