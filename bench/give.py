#!/usr/bin/env python3
"""The recording path against a bare insert (issue 21, item 3), timed as whole processes.

    cargo build --release --bin ritplan --example seed_ward
    bench/give.py [--courses 10000] [--runs 30] [--marks]

A SQLite training record made as bench/run makes it (patient P1 and its 3-day rush course by
ritplan's own commands, copied to P2..PN by examples/seed_ward; the vial scan off, as in
bench/run's plain give), then `--runs` pairs, interleaved and alternating which goes first:
- `ritplan give K --patient PK --step 1 --volume 0.1 --pef 95 --screen ok` on a course not
  given before (every timed run records a real, allowed dose, checked afterwards);
- `sqlite3 RECORD "INSERT INTO bench_baseline VALUES ('bench')"`: one row, one commit, into
  the same file.

The binary is run as installed: copied into the bench's folder first (as `install` or a
package would put it), because the same bytes run straight from the file the linker has just
written start 0.4-0.8 ms slower on this machine (measured side by side, 2026-12-07; the
difference is in how the fresh file sits in the page cache, not in the code). `--in-place`
runs it where it is, to see that cost.

Prints the median, p10 and p90 of each and the ratio of the medians. With `--marks`, as many
gives again (on other fresh courses, untimed) run with RITPLAN_TIMING=1, and the median of each
phase mark is printed. Timings on a shared machine are noisy: run it on a quiet one and report
the load average it prints. Python 3's standard library and the `sqlite3` command only.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "ritplan")
SEED = os.path.join(ROOT, "target", "release", "examples", "seed_ward")


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--courses", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--marks", action="store_true", help="print the median of each phase")
    ap.add_argument("--bin", default=BIN)
    ap.add_argument("--keep", action="store_true", help="keep the record's folder")
    ap.add_argument("--in-place", action="store_true",
                    help="run the binary where it is, not an installed copy")
    a = ap.parse_args()
    if 2 * a.runs + 3 > a.courses:
        sys.exit("--runs must leave a fresh course for each give")
    tmp = tempfile.mkdtemp(prefix="ritplan-give-bench-")
    if not a.in_place:
        installed = os.path.join(tmp, "bin", "ritplan")
        os.makedirs(os.path.dirname(installed))
        shutil.copy2(a.bin, installed)
        a.bin = installed
    db = os.path.join(tmp, "ward.db")
    env = dict(os.environ, RITPLAN_DB=db, XDG_RUNTIME_DIR=os.path.join(tmp, "run"),
               RITPLAN_NOW="2026-12-01T09:00")
    env.pop("RITPLAN_TIMING", None)

    def run(args, stdin=None):
        r = subprocess.run([a.bin, *args], env=env, input=stdin, text=True,
                           capture_output=True)
        if r.returncode != 0:
            sys.exit(f"ritplan {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    try:
        run(["init", "--admin", "admin", "--name", "Admin", "--training", "--password-stdin"],
            "bench-admin-1")
        run(["settings", "set", "idle_timeout_min", "720"])
        run(["settings", "set", "scan", "off"])
        run(["staff", "add", "--id", "bench", "--name", "Bench", "--role", "nurse",
             "--password-stdin"], "bench-nurse-1")
        run(["login", "bench", "--password-stdin"], "bench-nurse-1")
        run(["patient", "add", "--id", "P1", "--name", "Bench", "--dob", "1990-01-01",
             "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "95",
             "--asthma", "controlled"])
        run(["course", "start", "--patient", "P1", "--template", "example-hdm-rush-3d",
             "--start", "2026-12-07T08:00"])
        t0 = time.monotonic()
        subprocess.run([SEED, db, str(a.courses)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"(seeded {a.courses} courses in {time.monotonic() - t0:.0f} s)", flush=True)
        env["RITPLAN_NOW"] = "2026-12-07T08:00"
        run(["login", "bench", "--password-stdin"], "bench-nurse-1")
        subprocess.run(["sqlite3", db, "CREATE TABLE IF NOT EXISTS bench_baseline (x TEXT)"],
                       check=True)
        insert = ["sqlite3", db, "INSERT INTO bench_baseline VALUES ('bench')"]

        def give(k, marks):
            e = dict(env, RITPLAN_TIMING="1") if marks else env
            t0 = time.perf_counter()
            # Standard error is read only for the marks: a pipe costs the timed run more than
            # the bare insert's /dev/null.
            r = subprocess.run([a.bin, "give", str(k), "--patient", f"P{k}", "--step", "1",
                                "--volume", "0.1", "--pef", "95", "--screen", "ok"],
                               env=e, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE if marks else subprocess.DEVNULL)
            t = (time.perf_counter() - t0) * 1000
            if r.returncode != 0:
                sys.exit(f"give {k}: exit {r.returncode} (run it again by hand to see why)")
            return t, (r.stderr or b"").decode()

        def bare():
            t0 = time.perf_counter()
            subprocess.run(insert, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            return (time.perf_counter() - t0) * 1000

        # Warm the page cache and the binaries (course 2 is given here, untimed).
        give(2, False)
        bare()
        gives, inserts, phases = [], [], {}
        for i in range(a.runs):
            k = 3 + i
            if i % 2:
                inserts.append(bare())
                t, _ = give(k, False)
            else:
                t, _ = give(k, False)
                inserts.append(bare())
            gives.append(t)
        # The phases, from as many gives again with the marks on (not timed above: the marks
        # cost a little themselves).
        for i in range(a.runs if a.marks else 0):
            _, err = give(3 + a.runs + i, True)
            for m in re.finditer(r"ritplan timing: (.+?)\s+(\d+) µs", err):
                phases.setdefault(m.group(1).strip(), []).append(int(m.group(2)))
        given = subprocess.run(
            ["sqlite3", db, "SELECT count(*) FROM events WHERE body_json LIKE '{\"dose_given%'"],
            check=True, capture_output=True, text=True).stdout.strip()
        expected = a.runs * (2 if a.marks else 1) + 1
        if int(given) != expected:
            sys.exit(f"{given} doses in the record, expected {expected}")
        load = os.getloadavg()[0]
        for name, v in (("give", gives), ("sqlite3 insert", inserts)):
            print(f"  {name:15} median {statistics.median(v):6.2f} ms  p10 {pct(v, 0.1):6.2f}"
                  f"  p90 {pct(v, 0.9):6.2f}  ({a.runs} runs)")
        print(f"  give / insert, medians: {statistics.median(gives) / statistics.median(inserts):.2f}x"
              f"  ({a.courses} courses; {given} doses recorded, one per give; load {load:.1f};"
              f" {'the binary in place' if a.in_place else 'an installed copy of the binary'})")
        if a.marks:
            print("  phases of a give (medians, ms):")
            for name, v in phases.items():
                print(f"    {name:32} {statistics.median(v) / 1000:6.2f}")
    finally:
        if a.keep:
            print(f"  kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
