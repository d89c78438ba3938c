#!/usr/bin/env python3
"""The outcomes audit over a record of many courses (issue 22, item 4), timed as whole processes.

    cargo build --release --bin ritplan --example seed_audit
    bench/audit.py [--courses 10000] [--runs 7] [--postgres postgres://USER@127.0.0.1:PORT]

A record of `--courses` immunotherapy courses, a clinic's mix: four model patients made by
ritplan's own commands (every dose, observation, reaction and review through the CLI), copied by
examples/seed_audit (every row with its MAC, every course with its head) in turns of ten:
- 6 x M1: an adult (sIgE 2, total IgE 410) whose 3-day rush was given in full (completed);
- 2 x M4: the same with a large local reaction (40 mm) after every dose (completed);
- 1 x M2: a 14-year-old (total IgE >1000, censored) with a late grade 1 systemic reaction at
  step 1, stopped by the physician;
- 1 x M3: an adult with two omalizumab injections before the rush (an omalizumab course as
  well), then the rush given in full.

Timed, each `--runs` times with the runs interleaved (median, p10, p90 of the wall time; the
median of the child's CPU time, user + system, and its peak RSS, from wait4: on a shared
machine the CPU time says more about the work than the wall time): `audit --json`, `audit --csv FILE --study-key-file KEY`, and as baselines
`course list` and `verify` of the same record. On SQLite (a training record in a temporary
folder) and on PostgreSQL with `--postgres` (or `RITPLAN_BENCH_POSTGRES`): a new database on
that server, dropped afterwards (`psql` creates and drops it). Timings on a shared machine are
noisy. Python 3's standard library only. `--keep` keeps the records; `--sqlite-record DB DIR`
and `--pg-record URL DIR` time kept ones again without making them (seeding 10 000 courses
takes minutes: ten on a PostgreSQL server).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "ritplan")
SEED = os.path.join(ROOT, "target", "release", "examples", "seed_audit")
NOW = "2027-01-15T09:00"
WHO = {"nurse": "bench-nurse-1", "physician": "bench-physician-1"}


class Record:
    """A record with a nurse's and a physician's sessions."""

    def __init__(self, tmp, courses, pg=None, reuse=None):
        if reuse:
            # A record kept by an earlier run (--keep): its database and its folder.
            self.db, self.dir = reuse
            self.pg, self.name = pg, None
            self.base = dict(os.environ, RITPLAN_DB=self.db)
            if pg:
                self.base["RITPLAN_KEY"] = os.path.join(self.dir, "ward.key")
            self.logged = {}
            self.key = os.path.join(self.dir, "study.key")
            self.csv = os.path.join(self.dir, "courses.csv")
            return
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.db = os.path.join(self.dir, "ward.db")
        self.pg, self.name = pg, None
        if pg:
            self.name = f"ritplan_audit_{os.getpid()}_{courses}"
            psql(pg, f"DROP DATABASE IF EXISTS {self.name}")
            psql(pg, f"CREATE DATABASE {self.name}")
            self.db = f"{pg}/{self.name}?sslmode=disable"
        self.base = dict(os.environ, RITPLAN_DB=self.db)
        if pg:
            self.base["RITPLAN_KEY"] = os.path.join(self.dir, "ward.key")
        self.logged = {}
        t0 = time.monotonic()
        self.run("admin", "2026-10-01T08:00",
                 ["init", "--admin", "admin", "--name", "Admin", "--training",
                  "--password-stdin"], "bench-admin-1")
        self.run("admin", "2026-10-01T08:00", ["settings", "set", "idle_timeout_min", "720"])
        self.run("admin", "2026-10-01T08:00", ["settings", "set", "scan", "off"])
        for who, name in [("nurse", "RN Bench"), ("physician", "Dr Bench")]:
            self.run("admin", "2026-10-01T08:00",
                     ["staff", "add", "--id", who, "--name", name, "--role", who,
                      "--password-stdin"], WHO[who])
        self.models()
        t1 = time.monotonic()
        subprocess.run([SEED, self.db, str(courses), "M1:6", "M4:2", "M2:1", "M3:1"],
                       env=self.base, check=True, stdout=subprocess.DEVNULL)
        print(f"({self.where()}: four model patients in {t1 - t0:.0f} s, "
              f"copied to {courses} courses in {time.monotonic() - t1:.0f} s)", flush=True)
        self.key = os.path.join(self.dir, "study.key")
        with open(self.key, "w") as f:
            f.write("a study key of at least thirty-two bytes, for the bench\n")
        self.csv = os.path.join(self.dir, "courses.csv")

    def where(self):
        return "pg" if self.pg else "sqlite"

    def env(self, who, now):
        return dict(self.base, RITPLAN_NOW=now,
                    XDG_RUNTIME_DIR=os.path.join(self.dir, "run-" + who))

    def login(self, who, now):
        """Logs `who` in when its session may have idled out (12 h) at `now`."""
        if who == "admin" or self.logged.get(who, "")[:10] == now[:10]:
            return
        r = subprocess.run([BIN, "login", who, "--password-stdin"], env=self.env(who, now),
                           input=WHO[who], text=True, capture_output=True)
        if r.returncode != 0:
            sys.exit(f"login {who}: {r.stderr.strip()}")
        self.logged[who] = now

    def run(self, who, now, args, stdin=None):
        self.login(who, now)
        r = subprocess.run([BIN, *args], env=self.env(who, now), input=stdin, text=True,
                           capture_output=True)
        if r.returncode != 0:
            sys.exit(f"ritplan {' '.join(args)} at {now}: {r.stderr.strip()}")
        return r.stdout

    def next(self, now, course):
        import json
        return json.loads(self.run("nurse", now, ["next", course, "--json"]))

    def patient(self, now, pid, dob, sige, total):
        self.run("nurse", now, ["patient", "add", "--id", pid, "--name", f"Model {pid}",
                                "--dob", dob, "--weight", "60", "--sige", sige,
                                "--total-ige", total, "--fev1", "95",
                                "--asthma", "controlled"])

    def start(self, pid):
        return self.run("nurse", "2026-12-01T09:00",
                        ["course", "start", "--patient", pid, "--template",
                         "example-hdm-rush-3d", "--start", "2026-12-07T08:00"]).strip()

    def give(self, now, course, pid, mm):
        """Gives what `next` allows at `now`, ends its observation at its earliest end with `mm`;
        returns that time, or None when nothing is due that day."""
        n = self.next(now, course)
        if n["action"] == "wait" and (n.get("not_before") or "")[:10] == now[:10]:
            now = n["not_before"][:16]
            n = self.next(now, course)
        if n["action"] not in ("give", "maintenance_due"):
            return None
        self.run("nurse", now, ["give", course, "--patient", pid, "--step", str(n["step"]),
                                "--volume", str(n["volume_ml"]), "--pef", "95",
                                "--screen", "ok"])
        end = self.next(now, course)["observation_until"][:16]
        self.run("nurse", end, ["observe", course, "--local-mm", str(mm)])
        return end

    def rush(self, course, pid, mm):
        """Every dose of the 3-day rush, day by day."""
        for day in ("2026-12-07", "2026-12-08", "2026-12-09"):
            t = f"{day}T08:00"
            while t is not None:
                t = self.give(t, course, pid, mm)

    def models(self):
        self.patient("2026-11-01T09:00", "M1", "1990-05-01", "2", "410")
        self.rush(self.start("M1"), "M1", 0)
        self.patient("2026-11-01T09:00", "M4", "1980-02-03", "2", "410")
        self.rush(self.start("M4"), "M4", 40)
        self.patient("2026-11-01T09:00", "M2", "2012-03-04", "2", ">1000")
        c = self.start("M2")
        end = self.give("2026-12-07T08:00", c, "M2", 0)
        if end is None:
            sys.exit("M2: no first dose")
        self.run("physician", "2026-12-07T09:00",
                 ["react", c, "--grade", "1z", "--onset-min", "45", "--symptom", "urticaria"])
        self.run("physician", "2026-12-07T10:00",
                 ["review", c, "--decision", "stop", "--reason", "a reaction"])
        self.patient("2026-10-01T09:00", "M3", "1985-07-08", "2", "410")
        om = self.run("physician", "2026-11-01T09:00",
                      ["omalizumab", "start", "--patient", "M3", "--start", "2026-11-02"])
        om = om.splitlines()[0].strip()
        for day in ("2026-11-02", "2026-11-30"):
            self.run("nurse", f"{day}T09:00", ["omalizumab", "give", om, "--patient", "M3"])
            self.run("nurse", f"{day}T11:00", ["observe", om, "--local-mm", "0"])
        self.rush(self.start("M3"), "M3", 0)

    def command(self, name):
        return {
            "audit --json": ["audit", "--json"],
            "audit --csv": ["audit", "--csv", self.csv, "--study-key-file", self.key],
            "course list": ["course", "list"],
            "verify": ["verify"],
        }[name]

    def time(self, name):
        """One run: wall time (ms), the child's CPU time (user + system, ms) and its peak RSS
        (MB)."""
        args = self.command(name)
        with open(os.devnull, "w") as null:
            t0 = time.perf_counter()
            p = subprocess.Popen([BIN, *args], env=self.env("physician", NOW), stdout=null,
                                 stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, usage = os.wait4(p.pid, 0)
            t = (time.perf_counter() - t0) * 1000
            p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.exit(f"ritplan {' '.join(args)}: {err.decode().strip()}")
        return t, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss / 1024

    def drop(self):
        if self.pg and self.name:
            psql(self.pg, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def psql(pg, sql):
    subprocess.run(["psql", f"{pg}/postgres", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


ALL = ["audit --json", "audit --csv", "course list", "verify"]
NAMES = ALL


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def backend(tmp, courses, runs, pg, keep=False, reuse=None):
    r = Record(tmp, courses, pg, reuse)
    try:
        r.login("physician", NOW)
        import json
        counts = json.loads(r.run("physician", NOW, ["audit", "--json"]))["counts"]
        print(f"  audit counts: {counts}", flush=True)
        times = {n: [] for n in NAMES}
        cpu = {n: [] for n in NAMES}
        rss = {n: 0.0 for n in NAMES}
        for n in NAMES:
            r.time(n)  # warm the page cache
        for _ in range(runs):
            for n in NAMES:
                t, c, m = r.time(n)
                times[n].append(t)
                cpu[n].append(c)
                rss[n] = max(rss[n], m)
        for n in NAMES:
            v = times[n]
            print(f"  {r.where():6} {n:13} median {statistics.median(v):7.0f} ms  "
                  f"p10 {pct(v, 0.1):7.0f}  p90 {pct(v, 0.9):7.0f}  "
                  f"CPU median {statistics.median(cpu[n]):7.0f} ms  "
                  f"peak RSS {rss[n]:6.1f} MB  ({runs} runs; load {os.getloadavg()[0]:.1f})",
                  flush=True)
    finally:
        if keep:
            print(f"  kept: {r.db} (sessions in {r.dir})")
        else:
            r.drop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--courses", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--postgres", default=os.environ.get("RITPLAN_BENCH_POSTGRES"))
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--tmp", help="where the temporary folder goes (default: the system's)")
    ap.add_argument("--sqlite-record", nargs=2, metavar=("DB", "DIR"),
                    help="time a SQLite record kept by an earlier run instead of making one")
    ap.add_argument("--pg-record", nargs=2, metavar=("URL", "DIR"),
                    help="the same for a database kept on the server")
    ap.add_argument("--commands", nargs="+", choices=ALL, default=ALL,
                    help="the commands timed (default: all four)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the records (the folder, and the database on the server)")
    a = ap.parse_args()
    global NAMES
    NAMES = a.commands
    for f in (BIN, SEED):
        if not os.path.exists(f):
            sys.exit(f"{f} is missing: cargo build --release --bin ritplan --example seed_audit")
    tmp = tempfile.mkdtemp(prefix="ritplan-audit-bench-", dir=a.tmp)
    try:
        print(f"load average before: {os.getloadavg()}", flush=True)
        if not a.no_sqlite:
            backend(tmp, a.courses, a.runs, None, a.keep, a.sqlite_record)
        if a.postgres:
            backend(tmp, a.courses, a.runs, a.postgres, a.keep, a.pg_record)
        print(f"load average after: {os.getloadavg()}", flush=True)
    finally:
        if a.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
