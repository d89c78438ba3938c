"""iCalendar export, parsed with Python's `icalendar` package: one event per visit, the
required properties, times, no clinical details unless asked for, and UIDs that stay (and
SEQUENCEs that rise) when the course is re-projected after a delay."""

import datetime
import pathlib
import tempfile

from icalendar import Calendar

from course_setup import course, run


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
