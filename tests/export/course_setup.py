"""Shared set-up of the export tests: a training record made with the real binary, with one
course holding doses, a deferral, a local and a systemic reaction."""

import json
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug" / "ritplan"
HERE = pathlib.Path(__file__).resolve().parent


def run(env, *args, stdin=None, now=None):
    e = dict(env)
    if now:
        e["RITPLAN_NOW"] = now
    p = subprocess.run([str(BIN), *args], env=e, input=stdin, capture_output=True, text=True)
    assert p.returncode == 0, f"{args}: {p.stderr}"
    return p.stdout


# The code of the course's vial of each template vial, as `vial add` printed it.
VIALS = {}


def give_next(env, now):
    d = json.loads(run(env, "next", "1", "--json", now=now))
    # The clinic's default: the vial is scanned before the dose (its lot comes from the vial).
    run(env, "give", "1", "--patient", "P1", "--step", str(d["step"]), "--volume",
        str(d["volume_ml"]).split()[0], "--pef", "96.5", "--screen", "ok",
        "--scan-vial", VIALS[d["vial"]], "--site", "left", now=now)


def course(tmp, zone=None):
    """The course; `zone`: the clinic's time zone (else init takes the machine's)."""
    env = dict(os.environ)
    env.update(RITPLAN_DB=str(tmp / "ward.db"), XDG_RUNTIME_DIR=str(tmp / "run"),
               RITPLAN_NOW="2026-12-07T07:50", NO_COLOR="1")
    run(env, "init", "--admin", "admin", "--name", "Ward Admin", "--training",
        "--password-stdin", *(["--time-zone", zone] if zone else []),
        stdin="admin-password-1\n")
    run(env, "staff", "add", "--id", "rn.li", "--name", "RN Li", "--role", "nurse",
        "--password-stdin", stdin="nurse-password-1\n")
    run(env, "staff", "add", "--id", "dr.ng", "--name", "Dr Ng", "--role", "physician",
        "--password-stdin", stdin="doctor-password-1\n")
    run(env, "settings", "set", "idle_timeout_min", "720")
    run(env, "login", "rn.li", "--password-stdin", stdin="nurse-password-1\n")
    run(env, "patient", "add", "--id", "P1", "--name", "Zhang Wei", "--dob", "1990-05-01",
        "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "92",
        "--asthma", "controlled")
    run(env, "course", "start", "--patient", "P1", "--template", "example-hdm-rush-3d",
        "--start", "2026-12-07T08:00")
    for vial in ("1", "2", "3", "4"):
        code = run(env, "vial", "add", "1", "--vial", vial, "--lot", "L-2026-117",
                   "--expires", "2027-06-30", "--json")
        VIALS[vial] = json.loads(code)["code"]
    give_next(env, "2026-12-07T08:00")
    run(env, "observe", "1", "--local-mm", "12", now="2026-12-07T08:30")
    run(env, "defer", "1", "--reason", "fever 38.2 °C", now="2026-12-07T08:31")
    run(env, "login", "rn.li", "--password-stdin", stdin="nurse-password-1\n",
        now="2026-12-08T07:55")
    give_next(env, "2026-12-08T08:00")
    run(env, "react", "1", "--grade", "2a", "--onset-min", "12", "--symptom", "wheeze",
        "--treatment", "adrenaline 0.5 mg im", now="2026-12-08T08:12")
    return env




# The omalizumab course's calendar as `omalizumab_course` exported it before any injection.
CALENDAR_AT_START = {}


def omalizumab_course(tmp):
    """The record of `course` with a second patient, P2, on an omalizumab course (course 2:
    600 mg every 4 weeks from 2026-12-07): the first injection on its date, observed 2 h (a
    local reaction of 12 mm), the second two days late, given by a physician who accepts it."""
    env = course(tmp)
    run(env, "login", "dr.ng", "--password-stdin", stdin="doctor-password-1\n",
        now="2026-12-07T09:00")
    run(env, "patient", "add", "--id", "P2", "--name", "Li Na", "--dob", "1990-05-01",
        "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "95",
        "--asthma", "controlled", now="2026-12-07T09:00")
    out = run(env, "omalizumab", "start", "--patient", "P2", "--start", "2026-12-07",
              now="2026-12-07T09:00")
    assert out.splitlines()[0].strip() == "2", out
    # The calendar before any injection, for the tests to compare with.
    CALENDAR_AT_START["text"] = run(env, "export", "ics", "2", "--clinic", "Ward 4",
                                    now="2026-12-07T09:00")
    run(env, "omalizumab", "give", "2", "--patient", "P2", "--site", "left arm, right arm",
        now="2026-12-07T10:00")
    run(env, "observe", "2", "--local-mm", "12", now="2026-12-07T12:00")
    run(env, "login", "dr.ng", "--password-stdin", stdin="doctor-password-1\n",
        now="2027-01-06T08:55")
    run(env, "omalizumab", "give", "2", "--patient", "P2", "--accept-late",
        "asthma stable; away for the holiday", now="2027-01-06T09:00")
    run(env, "observe", "2", "--local-mm", "0", now="2027-01-06T11:00")
    return env
