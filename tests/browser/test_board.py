"""Browser tests of the ward page, in Debian's chromium driven by Playwright.

Run by .ci/run (after `cargo build`): a training record is made with the real binary, a
nurse logs in through the page, sees the board with the due dose, and a second browser
context sees a dose recorded meanwhile (with the CLI) on its own board within seconds.
Screenshots go to target/browser/.
"""

import os
import pathlib
import socket
import subprocess
import tempfile
import time

from playwright.sync_api import expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug" / "ritplan"
SHOTS = ROOT / "target" / "browser"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def run(env, *args, stdin=None):
    p = subprocess.run(
        [str(BIN), *args], env=env, input=stdin, capture_output=True, text=True
    )
    assert p.returncode == 0, f"{args}: {p.stderr}"
    return p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ward(tmp):
    env = dict(os.environ)
    env.update(
        RITPLAN_DB=str(tmp / "ward.db"),
        XDG_RUNTIME_DIR=str(tmp / "run"),
        RITPLAN_NOW="2026-12-07T08:00",
        NO_COLOR="1",
    )
    run(env, "init", "--admin", "admin", "--name", "Ward Admin", "--training",
        "--password-stdin", stdin="admin-password-1\n")
    run(env, "staff", "add", "--id", "rn.li", "--name", "RN Li", "--role", "nurse",
        "--password-stdin", stdin="nurse-password-1\n")
    run(env, "login", "rn.li", "--password-stdin", stdin="nurse-password-1\n")
    for pid, name in [("P1", "Zhang Wei"), ("P2", "Ana Souza")]:
        run(env, "patient", "add", "--id", pid, "--name", name, "--dob", "1990-05-01",
            "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "92",
            "--asthma", "controlled")
        run(env, "course", "start", "--patient", pid, "--template",
            "example-hdm-rush-3d", "--start", "2026-12-07T08:00")
    return env


def login(page, base):
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login")
    page.get_by_label("Staff ID").fill("rn.li")
    page.get_by_label("Password or PIN").fill("nurse-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("RN Li (rn.li, nurse)")).to_be_visible()


def test_a_nurse_logs_in_and_two_boards_agree():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = ward(tmp)
        port = free_port()
        server = subprocess.Popen(
            [str(BIN), "serve", "--listen", f"127.0.0.1:{port}"],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                first = browser.new_context(viewport={"width": 1280, "height": 800})
                second = browser.new_context(viewport={"width": 1280, "height": 800})
                a, b = first.new_page(), second.new_page()
                login(a, base)
                login(b, base)
                rows = a.locator("#board tbody tr")
                expect(rows).to_have_count(2)
                expect(a.locator("tr.due_now").first).to_contain_text("DUE NOW")
                expect(a.get_by_text("TRAINING RECORD, not a patient's record")).to_be_visible()
                a.screenshot(path=str(SHOTS / "board.png"), full_page=True)
                # A dose recorded elsewhere (here with the CLI) reaches the other board by
                # itself: it polls every 5 seconds.
                run(env, "give", "1", "--patient", "P1", "--step", "1", "--volume", "0.1",
                    "--pef", "95", "--screen", "ok")
                expect(b.locator("tr.in_observation")).to_contain_text(
                    "Zhang Wei", timeout=12000
                )
                b.screenshot(path=str(SHOTS / "board-after-a-dose.png"), full_page=True)
                # Search by a part of the name.
                b.get_by_label("Find a patient (name or ID)").fill("souza")
                b.get_by_role("button", name="Find").click()
                expect(b.locator("main ul")).to_contain_text("Ana Souza")
                # Log out: the board is behind the login again.
                b.get_by_role("button", name="Log out").click()
                expect(b).to_have_url(base + "/login")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
