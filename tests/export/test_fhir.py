"""FHIR R4 export, checked by a real validator: FHIR.js (npm package `fhir`, installed into
tests/export/node_modules by .ci/run) validates the Bundle of a course with doses, a deferral,
a local reaction and a systemic reaction; the export is stable and round-trips."""

import json
import pathlib
import subprocess
import tempfile

from course_setup import HERE, course, omalizumab_course, run


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


def test_an_omalizumab_course_validates():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = omalizumab_course(tmp)
        out = tmp / "p2.json"
        run(env, "export", "fhir", "--patient", "P2", "--out", str(out), now="2027-01-06T12:00")
        text = out.read_text()
        bundle = json.loads(text)
        resources = [e["resource"] for e in bundle["entry"]]
        requests = [r for r in resources if r["resourceType"] == "MedicationRequest"]
        assert len(requests) == 13, "one per laid injection date"
        assert [r["status"] for r in requests].count("completed") == 2
        admins = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
        assert [a["status"] for a in admins] == ["completed", "completed"]
        for a in admins:
            coding = a["medicationCodeableConcept"]["coding"][0]
            assert (coding["system"], coding["code"]) == ("http://www.whocc.no/atc", "R03DX05")
            assert a["medicationCodeableConcept"]["text"] == "omalizumab"
            assert a["dosage"]["dose"] == {"value": 600, "unit": "mg",
                                           "system": "http://unitsofmeasure.org", "code": "mg"}
            assert a["request"]["reference"] in [e["fullUrl"] for e in bundle["entry"]]
        assert admins[0]["dosage"]["site"]["text"] == "left arm, right arm"
        assert "note" not in admins[0]
        assert admins[1]["note"][0]["text"].startswith("given late, accepted by the physician Dr Ng")
        obs = [r for r in resources if r["resourceType"] == "Observation"]
        assert [o["valueQuantity"]["value"] for o in obs] == [12, 0]
        # Stable, and the course's own Bundle is the patient's.
        assert run(env, "export", "fhir", "2", now="2027-01-06T13:00") == text
        v = subprocess.run(["node", str(HERE / "validate.js"), str(out)],
                           capture_output=True, text=True)
        print(v.stdout)
        assert v.returncode == 0, v.stdout + v.stderr
