"""ritplan's GS1 parser (src/gs1.rs) checked against PyPI `biip`: a few hundred generated codes
(random GTINs with valid check digits, lots, serials, production and expiry dates over the whole
two-digit-year range, with and without GS separators where they may be left out, with and without
a symbology identifier, a trailing separator or a CR) and hand-written ones, each run through
`examples/gs1_parse` and compared field by field with biip's parse of the same code.

Needs `cargo build --examples` first (or RITPLAN_GS1_PARSE pointing at the binary)."""

import calendar
import datetime as dt
import json
import os
import pathlib
import random
import subprocess

import biip
import pytest
from biip.gs1_messages import GS1Message

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(
    os.environ.get("RITPLAN_GS1_PARSE", ROOT / "target" / "debug" / "examples" / "gs1_parse")
)
GS = "\x1d"
# GS1 AI encodable character set 82.
CSET82 = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)


def check_digit(digits):
    """The GS1 mod-10 check digit for `digits` (written here, independently of both parsers)."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def ritplan_parse(lines, today):
    """Each line (ending included) through the example binary; one JSON object per line."""
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run `cargo build --examples` first")
    data = "".join(line + "\n" for line in lines).encode("ascii")
    out = subprocess.run(
        [str(BINARY), "--today", today.isoformat()],
        input=data,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    rows = [json.loads(r) for r in out.splitlines()]
    assert len(rows) == len(lines)
    return rows


def biip_fields(code):
    """biip's reading of a code, in the example's JSON shape (None where biip refuses it)."""
    try:
        result = biip.parse(code)
    except biip.ParseError:
        return None
    msg = result.gs1_message
    if msg is None:
        return None
    fields = {"gtin": None, "lot": None, "production": None, "expiry": None, "serial": None,
              "gsrn": None}
    for es in msg.element_strings:
        ai = es.ai.ai
        if ai == "01":
            if es.gtin_error is not None:
                return None
            fields["gtin"] = es.value
        elif ai == "10":
            fields["lot"] = es.value
        elif ai == "11":
            fields["production"] = es.date.isoformat()
        elif ai == "17":
            fields["expiry"] = es.date.isoformat()
        elif ai == "21":
            fields["serial"] = es.value
        elif ai == "8018":
            fields["gsrn"] = es.value
        else:
            return {"other AI": ai}
    return fields


def ours(row):
    assert row["ok"], row
    return {k: row[k] for k in ("gtin", "lot", "production", "expiry", "serial", "gsrn")}


def random_code(rng):
    """The symbology prefix, the code, and whether it has an expiry with day 00."""
    day00 = []

    def yymmdd():
        yy, mm = rng.randrange(100), rng.randint(1, 12)
        # The day: any in the month (the century does not change February's length in 2000-2099
        # except at 2000, which is a leap year either way); or 00, the month's last day.
        last = calendar.monthrange(2000 + yy, mm)[1]
        dd = 0 if rng.random() < 0.2 else rng.randint(1, last)
        day00.append(dd == 0)
        return f"{yy:02d}{mm:02d}{dd:02d}"

    def text():
        return "".join(rng.choice(CSET82) for _ in range(rng.randint(1, 20)))

    fixed, variable = [], []
    body = "".join(rng.choice("0123456789") for _ in range(13))
    fixed.append("01" + body + check_digit(body))
    expiry_day00 = False
    if rng.random() < 0.9:
        fixed.append("17" + yymmdd())
        expiry_day00 = day00[-1]
    if rng.random() < 0.3:
        fixed.append("11" + yymmdd())
    if rng.random() < 0.1:
        body = "".join(rng.choice("0123456789") for _ in range(17))
        fixed.append("8018" + body + check_digit(body))
    if rng.random() < 0.9:
        variable.append("10" + text())
    if rng.random() < 0.6:
        variable.append("21" + text())
    rng.shuffle(fixed)
    rng.shuffle(variable)
    # A separator after a fixed-length field is allowed, though not needed.
    fixed = [f + (GS if rng.random() < 0.1 else "") for f in fixed]
    # Mostly the fixed fields first; sometimes after the variable ones.
    fixed_last = rng.random() < 0.3
    fields = variable + fixed if fixed_last else fixed + variable
    parts = []
    for i, f in enumerate(fields):
        last = i == len(fields) - 1
        if f in variable:
            # GS ends every variable field but the last; after the last one it is sometimes
            # sent anyway, mostly not (the missing trailing separator).
            f += GS if not last or rng.random() < 0.2 else ""
        parts.append(f)
    prefix = rng.choice(["", "]d2", "]d2", "]C1", "]Q3"])
    return prefix, prefix + "".join(parts), expiry_day00


def today_utc():
    # biip takes the century from the current year in UTC.
    return dt.datetime.now(tz=dt.UTC).date()


def test_generated_codes_agree_with_biip():
    rng = random.Random(19)
    today = today_utc()
    codes = [random_code(rng) for _ in range(400)]
    # What the wedge scanner types: sometimes a CR before the LF.
    lines = [code + ("\r" if rng.random() < 0.3 else "") for _, code, _ in codes]
    rows = ritplan_parse(lines, today)
    for (prefix, code, _), row in zip(codes, rows):
        theirs = biip_fields(code)
        assert theirs is not None, f"biip refused {code!r}"
        assert ours(row) == theirs, code
        assert row["symbology"] == (prefix or None)
    # The generator covered what it should.
    assert sum(day00 for _, _, day00 in codes) >= 20
    assert sum(GS not in code for _, code, _ in codes) >= 20
    assert sum(code.startswith("]d2") for _, code, _ in codes) >= 100
    assert sum(line.endswith("\r") for line in lines) >= 50
    # The element string ritplan re-encodes reads the same in biip, and in ritplan.
    again = ritplan_parse([r["element_string"] for r in rows], today)
    for row, row2 in zip(rows, again):
        assert biip_fields(row["element_string"]) == ours(row)
        assert ours(row2) == ours(row)


def test_the_century_over_every_two_digit_year_agrees_with_biip():
    today = today_utc()
    gtin = "0950600013435" + check_digit("0950600013435")
    codes = [f"]d201{gtin}17{yy:02d}0315" for yy in range(100)]
    rows = ritplan_parse(codes, today)
    years = set()
    for code, row in zip(codes, rows):
        assert ours(row) == biip_fields(code), code
        years.add(int(row["expiry"][:4]))
    # A 100-year window: 49 years back to 50 ahead.
    assert min(years) == today.year - 49 and max(years) == today.year + 50


HAND_WRITTEN = [
    # GS1's example GTIN, a lot and a serial, GS between them, a Data Matrix prefix.
    "]d20109506000134352172711001034A56" + GS + "21ABC-7",
    # No prefix, no trailing separator, the DD=00 rule in a leap year.
    "010950600013435217280200" + "21S/1" + GS + "10L(2)",
    # GS1-128, a leading FNC1 sent as GS.
    "]C1" + GS + "01095060001343521127010110X",
    # A separator after each field, the last too.
    "]Q301095060001343521727123" + "1" + GS + "10LOT" + GS,
]


def test_hand_written_codes_agree_with_biip():
    today = today_utc()
    rows = ritplan_parse(HAND_WRITTEN + [c + "\r" for c in HAND_WRITTEN], today)
    for code, row in zip(HAND_WRITTEN * 2, rows):
        assert ours(row) == biip_fields(code), code


def test_the_parenthesised_form_agrees_with_biip():
    today = today_utc()
    codes = ["(01)09506000134352(17)271100(10)AB12(21)9", "(01)09506000134352(10)X-1"]
    rows = ritplan_parse(codes, today)
    for code, row in zip(codes, rows):
        theirs = GS1Message.parse_hri(code)
        assert ours(row)["gtin"] == theirs.element_strings.get(ai="01").value
        assert ours(row)["lot"] == theirs.element_strings.get(ai="10").value
    assert rows[0]["expiry"] == GS1Message.parse_hri(codes[0]).element_strings.get(
        ai="17").date.isoformat()


REFUSED = {
    # A wrong GTIN check digit (biip reads the code but flags the GTIN).
    "]d2010950600013435317271100": "CheckDigit",
    # 13 February 2027 is fine; month 13 is not.
    "]d2010950600013435217271301": "BadDate",
    "]d2010950600013435217270230": "BadDate",
    # A lot of 21 characters (a missing GS before the next AI looks like this).
    "]d210" + "A" * 21: "FieldTooLong",
    # A GTIN cut short.
    "]d201095060001343": "Length",
}


def test_codes_biip_refuses_ritplan_refuses_too():
    rows = ritplan_parse(list(REFUSED), today_utc())
    for (code, kind), row in zip(REFUSED.items(), rows):
        assert not row["ok"] and row["kind"] == kind, (code, row)
        assert biip_fields(code) is None, code


def test_an_ai_ritplan_does_not_read_is_refused_though_biip_reads_it():
    # AI 240 (additional product identification): biip reads it; ritplan refuses it by name
    # rather than guess where its value ends.
    code = "]d20109506000134352240ABC"
    (row,) = ritplan_parse([code], today_utc())
    assert row["kind"] == "UnknownAi" and "240" in row["error"]
    assert biip_fields(code) == {"other AI": "240"}
