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


def course(tmp):
    env = dict(os.environ)
    env.update(RITPLAN_DB=str(tmp / "ward.db"), XDG_RUNTIME_DIR=str(tmp / "run"),
               RITPLAN_NOW="2026-12-07T07:50", NO_COLOR="1")
    run(env, "init", "--admin", "admin", "--name", "Ward Admin", "--training",
        "--password-stdin", stdin="admin-password-1\n")
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


