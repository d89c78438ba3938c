#!/usr/bin/env python3
"""Load on the ward page (`ritplan serve`), as a clinic's day puts it there, bounded in time.

    bench/load.py [--seconds 120] [--courses 10000] [--active 200] [--postgres URL] [--json FILE]

Set-up: a new training record in a temporary folder (SQLite, or a new database on the
PostgreSQL server given by --postgres or RITPLAN_TEST_POSTGRES), its clock fixed at
--clock (a Monday, 09:00; the page's clock is then the same for every request: nobody moves it);
an admin, a physician (who starts the first course and stops the finished ones) and
pollers + nurses nurse accounts; the scan setting off (no vials: the lot is not typed). A week
before --clock: course 1 started (planned to start at --clock) through ritplan, then copied by
examples/seed_ward to patients P2..PN, one course each, through the store (every row with its
MAC, every course with its head), courses after --active stopped by the physician's review (a
finished course: no dose is recorded on them). Then `ritplan serve` on 127.0.0.1 on a free
port, its clock at --clock.

Load, for --seconds:
- --pollers nurses with the board open, each GET /board (the fragment the page polls) every
  --poll-every seconds;
- --nurses nurses recording through the page, each on courses of its own (no two nurses on a
  course, so every form is fresh): the course page, the give form (check: the confirmation
  screen), the confirmation (save), the course page, the observation's end (save; the clock
  does not move, so it ends early with a reason, as the form allows), one course every
  --nurse-every seconds;
- the physician fetches a course's protocol PDF and the day's sheet PDF every --pdf-every s.
Every answer other than 2xx/3xx, every exception, and every page without the form the script
expected counts as an error.

Afterwards the server is stopped, `ritplan verify` must say intact, and the dose entries in the
record must be exactly the gives the script saw saved (course and entry number, one by one), and
the observations likewise. The exit status is non-zero if any error, verify, or count fails;
times are reported (a table, and --json FILE), never asserted.

Python 3 standard library only; psql for --postgres (to create and drop the database).
"""

import argparse
import datetime
import html
import html.parser
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse

# Each actor releases it once, logged in or not, before waiting for the start.
READY = threading.Semaphore(0)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "load-pass-1"  # every account's (at least 10 characters)


# ---------------------------------------------------------------------------------------------
# HTML forms


class Forms(html.parser.HTMLParser):
    """The forms of a page: action -> list of (name, value, type) of its inputs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = {}
        self._action = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._action = a.get("action")
            self.forms.setdefault(self._action, [])
        elif self._action is None:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox") and "checked" not in a:
                self.forms[self._action].append((a["name"], None, kind))
            else:
                self.forms[self._action].append((a["name"], a.get("value") or "", kind))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.forms[self._action].append((self._select, a.get("value") or "", "select"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._action = None
        elif tag == "select":
            self._select = None


def forms_of(body):
    p = Forms()
    p.feed(body)
    return p.forms


class Unexpected(Exception):
    """An answer the script did not expect (counted as an error)."""


# ---------------------------------------------------------------------------------------------
# A browser: one kept-alive connection, its cookies


class Browser:
    # The server closes a kept-alive connection idle for 10 s (its header timeout): a browser
    # idle longer opens a new one.
    IDLE = 5.0

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.last = 0.0
        self.cookies = {}

    def _connection(self):
        if self.conn is None or time.monotonic() - self.last > self.IDLE:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.conn

    def request(self, method, path, fields=None):
        """(status, headers, body bytes, seconds): the whole answer read."""
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = self._connection()
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            conn.close()
            self.conn = None
            raise
        took = time.perf_counter() - t0
        self.last = time.monotonic()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            self.conn = None
        return r.status, r, data, took

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def login(self, staff):
        status, _, body, _ = self.request("GET", "/login")
        if status != 200:
            raise Unexpected(f"GET /login: {status}")
        form = dict((n, v) for n, v, _ in forms_of(body.decode()).get("/login", []) if v is not None)
        if "csrf" not in form:
            raise Unexpected("the login page has no form token")
        fields = {"id": staff, "password": PASSWORD, "csrf": form["csrf"]}
        status, r, _, _ = self.request("POST", "/login", fields)
        if status != 303 or "ritplan_session" not in self.cookies:
            raise Unexpected(f"login as {staff}: {status}")


# ---------------------------------------------------------------------------------------------
# What was measured


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = {}
        self.errors = []
        self.gives = []  # (course, entry number) of every give saved
        self.observes = []  # (course, entry number) of every observation's end saved
        self.nurse_idle = 0  # cycles a nurse had no course left for
        self.unanswered = 0  # saves sent whose answer never came (recorded or not: unknown)

    def time(self, what, seconds):
        with self.lock:
            self.times.setdefault(what, []).append(seconds)

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def percentile(xs, p):
    """The nearest-rank percentile of xs (seconds), in ms."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k] * 1000


# ---------------------------------------------------------------------------------------------
# The actors


def poller(port, staff, every, start, stop, tally, offset):
    b = Browser(port)
    try:
        b.login(staff)
    except Exception as e:
        tally.error(f"poller {staff}: login: {e!r}")
        READY.release()
        return
    READY.release()
    start.wait()
    next_at = time.monotonic() + offset
    while True:
        wait = next_at - time.monotonic()
        if stop.wait(max(0.0, wait)):
            break
        next_at += every
        try:
            status, _, body, took = b.request("GET", "/board")
            if status != 200 or b"<table" not in body and b"<tr" not in body:
                tally.error(f"GET /board ({staff}): {status}")
            else:
                tally.time("board", took)
        except Exception as e:
            tally.error(f"GET /board ({staff}): {e!r}")
    b.close()


def fields_of(forms, action, what):
    if action not in forms:
        raise Unexpected(f"{what}: the page has no form {action}")
    return forms[action]


def record_course(b, course, tally):
    """One dose and its observation's end on `course`, through the page; raises Unexpected."""
    path = f"/course/{course}"
    status, _, body, took = b.request("GET", path)
    if status != 200:
        raise Unexpected(f"GET {path}: {status}")
    tally.time("course page", took)
    inputs = fields_of(forms_of(body.decode()), f"{path}/give", f"GET {path}")
    fields = {}
    for name, value, kind in inputs:
        if name == "check":
            continue  # the "check the scans" button: not pressed
        if kind == "radio":
            fields[name] = "no"  # every pre-injection question answered no
        elif value is not None:
            fields[name] = value
    fields.update({"patient": f"P{course}", "pef": "95", "site": "left", "lot": ""})
    # The give form: the dose checked, the confirmation screen back.
    status, _, body, t_check = b.request("POST", f"{path}/give", fields)
    page = body.decode()
    if status != 200 or "Check before you inject" not in page:
        raise Unexpected(f"POST {path}/give (check): {status} {excerpt(page)}")
    tally.time("give: check (confirmation screen)", t_check)
    confirm = dict(
        (n, v) for n, v, _ in fields_of(forms_of(page), f"{path}/give", "the confirmation") if v is not None
    )
    if confirm.get("confirm") != "yes":
        raise Unexpected(f"{path}: the confirmation screen has no confirm field")
    # The confirmation: saved, and the course page with the entry's number.
    status, r, body, t_save = save(b, f"{path}/give", confirm, tally)
    where = r.getheader("Location") or ""
    m = re.fullmatch(rf"{path}\?done=(\d+)", where)
    if status != 303 or not m:
        raise Unexpected(f"POST {path}/give (save): {status} {where} {excerpt(body.decode())}")
    with tally.lock:
        tally.gives.append((course, int(m.group(1))))
        tally.times.setdefault("give: save", []).append(t_save)
        tally.times.setdefault("give with confirmation (check + save)", []).append(t_check + t_save)
        tally.times.setdefault("recording (a save: give or observe)", []).append(t_save)
    status, _, body, took = b.request("GET", where)
    if status != 200:
        raise Unexpected(f"GET {where}: {status}")
    tally.time("course page", took)
    obs = dict(
        (n, v) for n, v, _ in fields_of(forms_of(body.decode()), f"{path}/observe", f"GET {where}") if v is not None
    )
    # The clock does not move: the observation ends early, with its reason.
    obs.update({"local_mm": "5", "early": "load test: the training clock does not move"})
    obs.pop("not_assessable", None)
    status, r, body, took = save(b, f"{path}/observe", obs, tally)
    where = r.getheader("Location") or ""
    m = re.fullmatch(rf"{path}\?done=(\d+)", where)
    if status != 303 or not m:
        raise Unexpected(f"POST {path}/observe: {status} {where} {excerpt(body.decode())}")
    with tally.lock:
        tally.observes.append((course, int(m.group(1))))
        tally.times.setdefault("observe: save", []).append(took)
        tally.times.setdefault("recording (a save: give or observe)", []).append(took)
    status, _, _, took = b.request("GET", where)
    if status != 200:
        raise Unexpected(f"GET {where}: {status}")
    tally.time("course page", took)


def save(b, path, fields, tally):
    """A form that records: one whose answer never came is counted apart (the record may or
    may not hold its entry), then raised as an error."""
    try:
        return b.request("POST", path, fields)
    except Exception:
        with tally.lock:
            tally.unanswered += 1
        raise


def excerpt(page):
    """The page's refusal, in its words (the first 300 characters from "Not recorded")."""
    text = html.unescape(re.sub(r"<[^>]*>", " ", page))
    text = re.sub(r"\s+", " ", text)
    i = max(text.find("Not recorded"), text.find("Not done"), text.find("✖"))
    return text[max(i, 0):][:300]


def nurse(port, staff, courses, every, start, stop, tally, offset):
    b = Browser(port)
    try:
        b.login(staff)
    except Exception as e:
        tally.error(f"nurse {staff}: login: {e!r}")
        READY.release()
        return
    READY.release()
    start.wait()
    next_at = time.monotonic() + offset
    todo = list(courses)
    while True:
        wait = next_at - time.monotonic()
        if stop.wait(max(0.0, wait)):
            break
        next_at += every
        if not todo:
            with tally.lock:
                tally.nurse_idle += 1
            continue
        course = todo.pop(0)
        try:
            record_course(b, course, tally)
        except Exception as e:
            tally.error(f"nurse {staff}, course {course}: {e!r}")
    b.close()


def pdfs(port, staff, every, course, start, stop, tally, offset):
    b = Browser(port)
    try:
        b.login(staff)
    except Exception as e:
        tally.error(f"pdfs {staff}: login: {e!r}")
        READY.release()
        return
    READY.release()
    start.wait()
    next_at = time.monotonic() + offset
    while True:
        wait = next_at - time.monotonic()
        if stop.wait(max(0.0, wait)):
            break
        next_at += every
        for label, path in (
            ("protocol PDF", f"/course/{course}/protocol.pdf"),
            ("sheet PDF", "/sheet.pdf"),
        ):
            try:
                status, r, body, took = b.request("GET", path)
                if status != 200 or not body.startswith(b"%PDF"):
                    tally.error(f"GET {path}: {status}")
                else:
                    tally.time(label, took)
            except Exception as e:
                tally.error(f"GET {path}: {e!r}")
    b.close()


# ---------------------------------------------------------------------------------------------
# Set-up


def run(cmd, env, stdin=None, what=None, timeout=600):
    p = subprocess.run(
        cmd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )
    if p.returncode != 0:
        raise SystemExit(
            f"load: {what or ' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}"
        )
    return p.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def psql(base, sql):
    subprocess.run(
        ["psql", f"{base}/postgres", "-qXc", sql],
        check=True,
        capture_output=True,
        text=True,
    )


def count_entries(db, base, name):
    """(course, entry number) of every dose and of every observation's end in the record."""
    sql = (
        "SELECT course_id, seq, substr(body_json, 1, 30) FROM events "
        "WHERE body_json LIKE '{\"dose_given%' OR body_json LIKE '{\"observation_ended%'"
    )
    if base is None:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = con.execute(sql).fetchall()
        con.close()
    else:
        out = subprocess.run(
            ["psql", f"{base}/{name}", "-qXAt", "-F", "\t", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows = [tuple(l.split("\t")) for l in out.splitlines() if l]
    doses, obs = set(), set()
    for course, seq, head in rows:
        (doses if head.startswith('{"dose_given') else obs).add((int(course), int(seq)))
    total = "SELECT count(*) FROM events"
    if base is None:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        n = con.execute(total).fetchone()[0]
        con.close()
    else:
        n = int(subprocess.run(["psql", f"{base}/{name}", "-qXAt", "-c", total],
                               check=True, capture_output=True, text=True).stdout.strip())
    return doses, obs, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=120, help="the load's length (default 120)")
    ap.add_argument("--courses", type=int, default=10000, help="courses in the record (default 10 000)")
    ap.add_argument("--active", type=int, default=200, help="of which active (default 200; the rest stopped)")
    ap.add_argument("--pollers", type=int, default=20, help="open boards (default 20)")
    ap.add_argument("--poll-every", type=float, default=2.0, help="seconds between a board's polls (default 2)")
    ap.add_argument("--nurses", type=int, default=5, help="nurses recording (default 5)")
    ap.add_argument("--nurse-every", type=float, default=3.0, help="seconds between a nurse's courses (default 3)")
    ap.add_argument("--pdf-every", type=float, default=60.0, help="seconds between PDF fetches (default 60)")
    ap.add_argument("--clock", default="2026-12-07T09:00", help="the training record's clock (a clinic day, in hours)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/ritplan"), help="the ritplan binary (default target/release/ritplan)")
    ap.add_argument("--seed", help="the seed_ward example binary (default: beside --bin, else target/debug/examples/seed_ward)")
    ap.add_argument("--postgres", default=os.environ.get("RITPLAN_TEST_POSTGRES") or None,
                    help="a PostgreSQL server's URL without a database (default: $RITPLAN_TEST_POSTGRES); SQLite without")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--setup-timeout", type=float, default=900, help="seconds the set-up may take (default 900)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (and database)")
    a = ap.parse_args()

    binary = os.path.abspath(a.bin)
    seed = a.seed or os.path.join(os.path.dirname(binary), "examples", "seed_ward")
    if not a.seed and not os.access(seed, os.X_OK):
        # The debug build's copy writes the same record (a release build of it is not needed).
        seed = os.path.join(ROOT, "target/debug/examples/seed_ward")
    seed = os.path.abspath(seed)
    for f in (binary, seed):
        if not os.access(f, os.X_OK):
            raise SystemExit(f"load: {f} is missing: cargo build [--release] [--examples]")
    if a.courses < 1 or not 1 <= a.active <= a.courses:
        raise SystemExit("load: need 1 <= --active <= --courses")
    cycles = math.ceil(a.seconds / a.nurse_every)
    if a.nurses * cycles > a.active:
        print(
            f"load: note: {a.nurses} nurses x {cycles} courses each > {a.active} active courses: "
            "a nurse out of courses waits (counted as idle)",
            file=sys.stderr,
        )

    work = tempfile.mkdtemp(prefix="ritplan-load.")
    base = a.postgres.rstrip("/") if a.postgres else None
    name = f"ritplan_load_{os.getpid()}"
    env = dict(os.environ)
    for k in ("RITPLAN_KEY", "RITPLAN_DB", "RITPLAN_NOW"):
        env.pop(k, None)
    # The record is made a week before the day of the load: the courses planned ahead, the
    # finished ones stopped then (a course stopped today would be on today's board).
    try:
        day = datetime.datetime.fromisoformat(a.clock)
    except ValueError:
        raise SystemExit(f"load: --clock {a.clock!r} is not YYYY-MM-DDTHH:MM")
    made = (day - datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    env.update({"XDG_RUNTIME_DIR": os.path.join(work, "run"), "RITPLAN_NOW": made,
                "HOME": work, "XDG_CONFIG_HOME": os.path.join(work, "config"),
                "XDG_DATA_HOME": os.path.join(work, "data")})
    if base is None:
        db = os.path.join(work, "ward.db")
    else:
        psql(base, f"DROP DATABASE IF EXISTS {name}")
        psql(base, f"CREATE DATABASE {name}")
        db = f"{base}/{name}?sslmode=disable"
        env["RITPLAN_KEY"] = os.path.join(work, "ward.key")
    env["RITPLAN_DB"] = db
    server = None
    result = {}
    try:
        t_setup = time.monotonic()
        rp = lambda *args, stdin=None: run([binary, *args], env, stdin=stdin)
        rp("init", "--admin", "admin", "--name", "Admin", "--training", "--password-stdin", stdin=PASSWORD + "\n")
        rp("login", "admin", "--password-stdin", stdin=PASSWORD + "\n")
        rp("settings", "set", "scan", "off")
        rp("settings", "set", "idle_timeout_min", "720")
        # examples/seed_ward signs what it copies as "bench": the physician who starts the
        # courses and stops the finished ones.
        rp("staff", "add", "--id", "bench", "--name", "Bench", "--role", "physician", "--password-stdin", stdin=PASSWORD + "\n")
        nurses = [f"n{i:02}" for i in range(1, a.pollers + a.nurses + 1)]
        for n in nurses:
            rp("staff", "add", "--id", n, "--name", f"Nurse {n}", "--role", "nurse", "--password-stdin", stdin=PASSWORD + "\n")
        rp("login", "bench", "--password-stdin", stdin=PASSWORD + "\n")
        rp("patient", "add", "--id", "P1", "--name", "Load", "--dob", "1990-01-01", "--weight", "70",
           "--sige", "2", "--total-ige", "410", "--fev1", "95", "--asthma", "controlled")
        rp("course", "start", "--patient", "P1", "--template", "example-hdm-rush-3d", "--start", a.clock)
        t_seed = time.monotonic()
        left = a.setup_timeout - (t_seed - t_setup)
        run([seed, db, str(a.courses), str(a.active)], env, what="seed_ward", timeout=max(1, left))
        seeded = time.monotonic() - t_seed

        # From here on, the day of the load.
        env["RITPLAN_NOW"] = a.clock
        port = free_port()
        log = open(os.path.join(work, "serve.log"), "w")
        server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                b = Browser(port)
                if b.request("GET", "/login")[0] == 200:
                    b.close()
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"load: ritplan serve did not start (see {work}/serve.log)")
            time.sleep(0.2)
        setup = time.monotonic() - t_setup

        tally = Tally()
        start, stop = threading.Event(), threading.Event()
        threads = []
        pollers, recorders = nurses[: a.pollers], nurses[a.pollers:]
        for i, n in enumerate(pollers):
            threads.append(threading.Thread(daemon=True, target=poller, args=(
                port, n, a.poll_every, start, stop, tally, a.poll_every * i / max(1, a.pollers))))
        for i, n in enumerate(recorders):
            owned = list(range(1 + i, a.active + 1, a.nurses))
            threads.append(threading.Thread(daemon=True, target=nurse, args=(
                port, n, owned, a.nurse_every, start, stop, tally, a.nurse_every * i / max(1, a.nurses))))
        threads.append(threading.Thread(daemon=True, target=pdfs, args=(port, "bench", a.pdf_every, 1, start, stop, tally, 1.0)))
        for t in threads:
            t.start()
        # Every account logs in before the clock of the load starts.
        for _ in threads:
            if not READY.acquire(timeout=max(1, a.setup_timeout - (time.monotonic() - t_setup))):
                raise SystemExit("load: the accounts did not log in within the set-up's time")
        t0 = time.monotonic()
        start.set()
        stop.wait(a.seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        server.terminate()
        server.wait(timeout=30)
        server = None
        log.close()

        t_verify = time.monotonic()
        v = subprocess.run([binary, "verify"], env=env, capture_output=True, text=True)
        verify_took = time.monotonic() - t_verify
        verify_line = (v.stdout.strip().splitlines() or [""])[-1]
        intact = v.returncode == 0 and verify_line.endswith("; intact")
        doses, obs, entries = count_entries(db, base, name)
        gives_ok = doses == set(tally.gives) and len(doses) == len(tally.gives)
        obs_ok = obs == set(tally.observes) and len(obs) == len(tally.observes)
        # Every entry: the seeded stops, and what the page answered saved; nothing else.
        expected = (a.courses - a.active) + len(tally.gives) + len(tally.observes)

        result = {
            "backend": "postgresql" if base else "sqlite",
            "binary": binary,
            "courses": a.courses,
            "active": a.active,
            "pollers": a.pollers,
            "nurses": a.nurses,
            "poll_every": a.poll_every,
            "nurse_every": a.nurse_every,
            "pdf_every": a.pdf_every,
            "seconds": round(elapsed, 1),
            "setup_seconds": round(setup, 1),
            "seed_seconds": round(seeded, 1),
            "requests": {
                k: {"n": len(xs), "per_s": round(len(xs) / elapsed, 2), "p50_ms": rnd(percentile(xs, 50)), "p95_ms": rnd(percentile(xs, 95)),
                    "p99_ms": rnd(percentile(xs, 99)), "max_ms": rnd(max(xs) * 1000)}
                for k, xs in sorted(tally.times.items())
            },
            "errors": len(tally.errors),
            "error_samples": tally.errors[:20],
            "gives_saved": len(tally.gives),
            "dose_entries": len(doses),
            "observations_saved": len(tally.observes),
            "observation_entries": len(obs),
            "nurse_cycles_without_a_course": tally.nurse_idle,
            "saves_without_an_answer": tally.unanswered,
            "verify": verify_line,
            "verify_seconds": round(verify_took, 1),
            "intact": intact,
            "entries": entries,
            "entries_expected": expected,
            "counts_equal": gives_ok and obs_ok and entries == expected,
        }
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if not a.keep:
            if base is not None:
                try:
                    psql(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                except Exception as e:
                    print(f"load: could not drop database {name}: {e}", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"load: kept {work}" + (f" and database {name}" if base else ""), file=sys.stderr)

    report(result)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    ok = result["errors"] == 0 and result["intact"] and result["counts_equal"]
    print("load: OK" if ok else "load: FAILED", file=sys.stderr)
    sys.exit(0 if ok else 1)


def rnd(x):
    return None if x is None else round(x, 1)


def report(r):
    print(f"ritplan serve under load ({r['backend']}): {r['courses']} courses, {r['active']} active; "
          f"{r['pollers']} boards every {r['poll_every']} s, {r['nurses']} nurses each a course every "
          f"{r['nurse_every']} s, PDFs every {r['pdf_every']} s; {r['seconds']} s "
          f"(set-up {r['setup_seconds']} s, of which seeding {r['seed_seconds']} s)")
    print(f"{'request':42} {'n':>6} {'per s':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for k, s in r["requests"].items():
        print(f"{k:42} {s['n']:>6} {s['per_s']:>6} {s['p50_ms']:>9} {s['p95_ms']:>9} {s['p99_ms']:>9} {s['max_ms']:>9}")
    print(f"(asked: {r['pollers'] / r['poll_every']:.1f} boards a second; a board waits for its answer "
          "before the next poll, so fewer a second means the server did not keep up)")
    print(f"errors: {r['errors']}")
    for e in r["error_samples"]:
        print(f"  {e}")
    print(f"gives saved {r['gives_saved']}, dose entries in the record {r['dose_entries']}; "
          f"observations saved {r['observations_saved']}, in the record {r['observation_entries']}: "
          f"{'equal, entry by entry' if r['counts_equal'] else 'NOT EQUAL'}")
    print(f"entries in the record {r['entries']}: {r['entries_expected']} expected "
          f"(the seeded stops, the gives and observations saved)")
    if r["saves_without_an_answer"]:
        print(f"saves sent whose answer never came (each also an error): {r['saves_without_an_answer']}")
    if r["nurse_cycles_without_a_course"]:
        print(f"nurse turns with no course left: {r['nurse_cycles_without_a_course']}")
    print(f"verify ({r['verify_seconds']} s): {r['verify']}")


if __name__ == "__main__":
    main()
