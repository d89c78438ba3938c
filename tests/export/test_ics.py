"""iCalendar export, parsed with Python's `icalendar` package: one event per visit, the
required properties, times, no clinical details unless asked for, and UIDs that stay (and
SEQUENCEs that rise) when the course is re-projected after a delay."""

import datetime
import pathlib
import tempfile

from icalendar import Calendar

from course_setup import CALENDAR_AT_START, course, omalizumab_course, run


def events(text):
    cal = Calendar.from_ical(text)
    assert str(cal["VERSION"]) == "2.0"
    assert "ritplan" in str(cal["PRODID"])
    return [c for c in cal.walk("VEVENT")]


def test_visits_keep_their_uids_when_the_course_moves():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = course(tmp)
        # After the grade 2a reaction a physician lets the course go on; the next visit is
        # projected from now.
        run(env, "login", "dr.ng", "--password-stdin", stdin="doctor-password-1\n",
            now="2026-12-08T09:00")
        run(env, "review", "1", "--decision", "continue", "--reason", "grade 2a, recovered",
            now="2026-12-08T09:00")
        run(env, "observe", "1", "--local-mm", "0", now="2026-12-08T10:00")
        out = tmp / "course-1.ics"
        run(env, "export", "ics", "1", "--clinic", "Allergy clinic, Ward 4", "--out", str(out),
            now="2026-12-08T10:00")
        raw = out.read_bytes()
        assert raw.count(b"\r\n") == raw.count(b"\n"), "every line ends with CRLF"
        text = raw.decode("utf-8")
        first = events(text)
        assert len(first) >= 3, "one per visit, not per injection"
        days = [e.decoded("DTSTART").date() for e in first]
        assert days == sorted(days) and len(set(days)) == len(days)
        assert days[0] == datetime.date(2026, 12, 7)
        for e in first:
            assert str(e["SUMMARY"]) == "Allergy clinic, Ward 4", "no clinical details"
            assert "DESCRIPTION" not in e
            assert e.decoded("DTEND") > e.decoded("DTSTART")
            assert e.decoded("DTSTART").tzinfo is not None, "UTC times"
            assert "DTSTAMP" in e and str(e["UID"]).endswith("@ritplan")
        # The first visit: the first injection of the day, until its observation ends.
        assert first[0].decoded("DTSTART").strftime("%H:%M") == datetime.datetime(
            2026, 12, 7, 8, 0).astimezone(datetime.timezone.utc).strftime("%H:%M")
        # Three weeks later with nothing recorded: the rest of the course moves; the same
        # UIDs, higher SEQUENCEs for the visits that moved.
        later = events(run(env, "export", "ics", "1", "--details", now="2026-12-29T09:00"))
        uids = {str(e["UID"]): e for e in first}
        moved = 0
        for e in later:
            uid = str(e["UID"])
            if uid in uids:
                before = uids[uid]
                assert int(e["SEQUENCE"]) >= int(before["SEQUENCE"])
                if e.decoded("DTSTART") != before.decoded("DTSTART"):
                    moved += 1
                    assert int(e["SEQUENCE"]) > int(before["SEQUENCE"]), uid
        assert moved >= 1, "the projected visits moved"
        assert [str(e["UID"]) for e in later][:len(first)] == [str(e["UID"]) for e in first]
        assert "step 1" in str(later[0]["DESCRIPTION"]), "--details"


def test_the_same_instants_whatever_the_exporting_processs_tz():
    """A clinic in Europe/Oslo: the calendar and the FHIR Bundle exported by processes in UTC,
    Asia/Shanghai and Europe/Oslo hold the same instants; the first visit is 08:00 in Oslo."""
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = course(tmp, zone="Europe/Oslo")
        cals, bundles = [], []
        for tz in ["UTC", "Asia/Shanghai", "Europe/Oslo"]:
            e = dict(env, TZ=tz)
            cals.append([(x.decoded("DTSTART"), x.decoded("DTEND"))
                         for x in events(run(e, "export", "ics", "1", now="2026-12-08T10:00"))])
            bundles.append(run(e, "export", "fhir", "1", now="2026-12-08T10:00"))
        assert cals[0] == cals[1] == cals[2]
        assert bundles[0] == bundles[1] == bundles[2]
        oslo = datetime.timezone(datetime.timedelta(hours=1))
        assert cals[0][0][0] == datetime.datetime(2026, 12, 7, 8, 0, tzinfo=oslo)
        assert '"2026-12-07T08:' in bundles[0] and "+01:00" in bundles[0]


def test_omalizumab_injections_to_come_with_their_observation():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = omalizumab_course(tmp)
        before = events(CALENDAR_AT_START["text"])
        raw = run(env, "export", "ics", "2", "--clinic", "Ward 4", now="2027-01-06T12:00")
        after = events(raw)
        # The injections not yet given: the 3rd to the 13th of the first year, one whole day
        # each (the course lays dates, not times).
        assert len(before) == 13 and len(after) == 11
        for e in after:
            assert str(e["SUMMARY"]) == "Ward 4"
            assert isinstance(e.decoded("DTSTART"), datetime.date)
            assert not isinstance(e.decoded("DTSTART"), datetime.datetime)
            assert e.decoded("DTEND") - e.decoded("DTSTART") == datetime.timedelta(days=1)
            assert "mg" not in str(e["DESCRIPTION"]), "no dose without --details"
        # The third moved with the late second: 4 weeks after it, not its laid 2027-02-01.
        assert str(after[0]["UID"]).endswith("-course-2-injection-3@ritplan")
        assert after[0].decoded("DTSTART") == datetime.date(2027, 2, 3)
        # 2 h of observation after each of the first 3, 30 min after later ones.
        assert "stay 2 h (120 min) after the injection" in str(after[0]["DESCRIPTION"])
        assert "stay 30 min after the injection" in str(after[1]["DESCRIPTION"])
        # The same UIDs; a higher SEQUENCE where the date moved.
        uids = {str(e["UID"]): e for e in before}
        for e in after:
            b = uids[str(e["UID"])]
            if e.decoded("DTSTART") != b.decoded("DTSTART"):
                assert int(e["SEQUENCE"]) > int(b["SEQUENCE"])
            else:
                assert int(e["SEQUENCE"]) >= int(b["SEQUENCE"])
        detailed = events(run(env, "export", "ics", "2", "--details", now="2027-01-06T12:00"))
        assert "600 mg" in str(detailed[0]["DESCRIPTION"])
