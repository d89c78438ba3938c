#!/usr/bin/env python3
"""Reads in a fixed number of round trips (issue 21, item 2), timed as whole processes.

    cargo build --release --bin ritplan --example seed_ward
    bench/reads.py [--runs 30] [--postgres postgres://USER@127.0.0.1:PORT]

- `sheet --date` and `board` with 100 and with 1 000 active courses (every course active);
- `course list --active` with 100 active courses alone, and the same 100 beside 5 000
  finished ones (stopped by a physician's review), the two records' runs interleaved: the ratio
  of their medians.

On SQLite (a training record in a temporary folder), and on PostgreSQL with `--postgres` (or
`RITPLAN_BENCH_POSTGRES`): a new database on that server for each record, dropped afterwards
(`psql` creates and drops it). Records are made as bench/run makes them: patient P1 and course 1
by ritplan's own commands, copied to P2..PN by examples/seed_ward. Timings on a shared machine
are noisy: report medians with that caveat. Python 3's standard library only.
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
SEED = os.path.join(ROOT, "target", "release", "examples", "seed_ward")


class Record:
    """A record with a nurse logged in: its environment, and where it lives."""

    def __init__(self, tmp, total, active, pg=None):
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.db = os.path.join(self.dir, "ward.db")
        self.pg, self.name = pg, None
        if pg:
            self.name = f"ritplan_reads_{os.getpid()}_{total}_{active}"
            psql(pg, f"DROP DATABASE IF EXISTS {self.name}")
            psql(pg, f"CREATE DATABASE {self.name}")
            self.db = f"{pg}/{self.name}?sslmode=disable"
        self.env = dict(
            os.environ,
            RITPLAN_DB=self.db,
            XDG_RUNTIME_DIR=os.path.join(self.dir, "run"),
            RITPLAN_NOW="2026-12-01T09:00",
        )
        if pg:
            self.env["RITPLAN_KEY"] = os.path.join(self.dir, "ward.key")
        self.run(["init", "--admin", "admin", "--name", "Admin", "--training",
                  "--password-stdin"], "bench-admin-1")
        self.run(["settings", "set", "idle_timeout_min", "720"])
        self.run(["settings", "set", "scan", "off"])
        self.run(["staff", "add", "--id", "bench", "--name", "Bench", "--role", "nurse",
                  "--password-stdin"], "bench-nurse-1")
        self.run(["login", "bench", "--password-stdin"], "bench-nurse-1")
        self.run(["patient", "add", "--id", "P1", "--name", "Bench", "--dob", "1990-01-01",
                  "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "95",
                  "--asthma", "controlled"])
        self.run(["course", "start", "--patient", "P1", "--template", "example-hdm-rush-3d",
                  "--start", "2026-12-07T08:00"])
        t0 = time.monotonic()
        subprocess.run([SEED, self.db, str(total), str(active)], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"({self.where()}: seeded {total} courses, {active} active, "
              f"in {time.monotonic() - t0:.0f} s)", flush=True)
        self.env["RITPLAN_NOW"] = "2026-12-07T07:00"
        self.run(["login", "bench", "--password-stdin"], "bench-nurse-1")

    def where(self):
        return "pg" if self.pg else "sqlite"

    def run(self, args, stdin=None):
        r = subprocess.run([BIN, *args], env=self.env, input=stdin, text=True,
                           capture_output=True)
        if r.returncode != 0:
            sys.exit(f"ritplan {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def time(self, args):
        t0 = time.perf_counter()
        r = subprocess.run([BIN, *args], env=self.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        t = (time.perf_counter() - t0) * 1000
        if r.returncode != 0:
            sys.exit(f"ritplan {' '.join(args)}: {r.stderr.decode().strip()}")
        return t

    def drop(self):
        if self.pg:
            psql(self.pg, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def psql(pg, sql):
    subprocess.run(["psql", f"{pg}/postgres", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


SHEET = ["sheet", "--date", "2026-12-07"]
BOARD = ["board"]
LIST = ["course", "list", "--active"]


def medians(records, commands, runs):
    """Each (record, command) timed `runs` times, the runs interleaved; their medians, ms."""
    times = {(i, tuple(c)): [] for i in range(len(records)) for c in commands}
    for i, r in enumerate(records):
        for c in commands:
            r.time(c)  # warm the page cache
    for _ in range(runs):
        for i, r in enumerate(records):
            for c in commands:
                times[(i, tuple(c))].append(r.time(c))
    return {k: statistics.median(v) for k, v in times.items()}


def backend(tmp, runs, pg):
    where = "pg" if pg else "sqlite"
    # The sheet and the board at 100 and 1 000 active courses.
    recs = [Record(tmp, 100, 100, pg), Record(tmp, 1000, 1000, pg)]
    m = medians(recs, [SHEET, BOARD], runs)
    for i, n in enumerate([100, 1000]):
        for c, label in [(SHEET, "sheet"), (BOARD, "board")]:
            print(f"{where}: {label:<6} {n:>5} active  median {m[(i, tuple(c))]:8.1f} ms")
    for c, label in [(SHEET, "sheet"), (BOARD, "board")]:
        print(f"{where}: {label} 1 000 / 100 = {m[(1, tuple(c))] / m[(0, tuple(c))]:.2f}x")
    for r in recs:
        r.drop()
    # `course list --active`: 100 alone, and beside 5 000 finished.
    recs = [Record(tmp, 100, 100, pg), Record(tmp, 5100, 100, pg)]
    m = medians(recs, [LIST], runs)
    alone, beside = m[(0, tuple(LIST))], m[(1, tuple(LIST))]
    print(f"{where}: course list --active, 100 alone {alone:.1f} ms, beside 5 000 finished "
          f"{beside:.1f} ms: {beside / alone:.2f}x")
    for r in recs:
        r.drop()
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--postgres", default=os.environ.get("RITPLAN_BENCH_POSTGRES"))
    ap.add_argument("--no-sqlite", action="store_true")
    a = ap.parse_args()
    for f in (BIN, SEED):
        if not os.access(f, os.X_OK):
            sys.exit(f"{f} is missing: cargo build --release --bin ritplan --example seed_ward")
    tmp = tempfile.mkdtemp(prefix="ritplan-reads-")
    try:
        if not a.no_sqlite:
            backend(tmp, a.runs, None)
        if a.postgres:
            backend(tmp, a.runs, a.postgres.rstrip("/"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
