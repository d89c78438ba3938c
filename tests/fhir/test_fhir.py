"""FHIR R4 export, checked by a real validator: FHIR.js (npm package `fhir`, installed into
tests/fhir/node_modules by .ci/run) validates the Bundle of a course with doses, a deferral,
a local reaction and a systemic reaction; the export is stable and round-trips."""

import json
import os
import pathlib
import subprocess
import tempfile

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


def give_next(env, now):
    d = json.loads(run(env, "next", "1", "--json", now=now))
    run(env, "give", "1", "--patient", "P1", "--step", str(d["step"]), "--volume",
        str(d["volume_ml"]).split()[0], "--pef", "96.5", "--screen", "ok", "--lot", "L-2026-117",
        "--site", "left", now=now)


def course(tmp):
    env = dict(os.environ)
    env.update(RITPLAN_DB=str(tmp / "ward.db"), XDG_RUNTIME_DIR=str(tmp / "run"),
               RITPLAN_NOW="2026-12-07T07:50", NO_COLOR="1")
    run(env, "init", "--admin", "admin", "--name", "Ward Admin", "--training",
        "--password-stdin", stdin="admin-password-1\n")
    run(env, "staff", "add", "--id", "rn.li", "--name", "RN Li", "--role", "nurse",
        "--password-stdin", stdin="nurse-password-1\n")
    run(env, "settings", "set", "idle_timeout_min", "720")
    run(env, "login", "rn.li", "--password-stdin", stdin="nurse-password-1\n")
    run(env, "patient", "add", "--id", "P1", "--name", "Zhang Wei", "--dob", "1990-05-01",
        "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "92",
        "--asthma", "controlled")
    run(env, "course", "start", "--patient", "P1", "--template", "example-hdm-rush-3d",
        "--start", "2026-12-07T08:00")
    give_next(env, "2026-12-07T08:00")
    run(env, "observe", "1", "--local-mm", "12", now="2026-12-07T08:30")
    run(env, "defer", "1", "--reason", "fever 38.2 °C", now="2026-12-07T08:31")
    run(env, "login", "rn.li", "--password-stdin", stdin="nurse-password-1\n",
        now="2026-12-08T07:55")
    give_next(env, "2026-12-08T08:00")
    run(env, "react", "1", "--grade", "2a", "--onset-min", "12", "--symptom", "wheeze",
        "--treatment", "adrenaline 0.5 mg im", now="2026-12-08T08:12")
    return env


def test_the_bundle_validates_and_is_stable():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = course(tmp)
        out = tmp / "course-1.json"
        run(env, "export", "fhir", "1", "--out", str(out))
        text = out.read_text()
        bundle = json.loads(text)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert bundle["type"] == "collection"
        assert kinds.count("Patient") == 1
        assert kinds.count("MedicationRequest") >= 10
        admins = [e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "MedicationAdministration"]
        assert sorted(a["status"] for a in admins) == ["completed", "completed", "not-done"]
        assert any(a.get("statusReason", [{}])[0].get("text") == "fever 38.2 °C" for a in admins)
        events = [e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "AdverseEvent"]
        assert len(events) == 1 and events[0]["extension"][0]["valueString"] == "2a"
        ref = events[0]["suspectEntity"][0]["instance"]["reference"]
        assert ref in [e["fullUrl"] for e in bundle["entry"]], "points at the administration"
        obs = [e["resource"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Observation"]
        assert {o["valueQuantity"]["code"] for o in obs} == {"mm", "%"}
        assert any(o["valueQuantity"]["value"] == 96.5 for o in obs), "exact decimals"
        for e in bundle["entry"]:
            assert e["fullUrl"] == "urn:uuid:" + e["resource"]["id"]
        # The same course exports identically twice, and round-trips through JSON.
        by_patient = json.loads(run(env, "export", "fhir", "--patient", "P1"))
        assert by_patient["entry"] == bundle["entry"], "the patient's only course"
        assert run(env, "export", "fhir", "1") == text
        assert json.dumps(bundle, ensure_ascii=False, indent=2) + "\n" == text
        # A real validator.
        v = subprocess.run(["node", str(HERE / "validate.js"), str(out)],
                           capture_output=True, text=True)
        print(v.stdout)
        assert v.returncode == 0, v.stdout + v.stderr
