"""Shared set-up of the browser tests: a training record made with the real binary, `ritplan
serve` on a free loopback port, and Debian's chromium driven by Playwright."""

import os
import pathlib
import socket
import subprocess
import tempfile
import time

import pytest
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
PASSWORDS = {
    "admin": "admin-password-1",
    "rn.li": "nurse-password-1",
    "dr.ng": "doctor-password-1",
}


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


def make_ward(tmp):
    """A training record at Monday 2026-12-07 08:00: a nurse, a physician, two patients, each
    with a course of the bundled 3-day rush template starting then."""
    env = dict(os.environ)
    env.update(
        RITPLAN_DB=str(tmp / "ward.db"),
        XDG_RUNTIME_DIR=str(tmp / "run"),
        RITPLAN_NOW="2026-12-07T08:00",
        NO_COLOR="1",
    )
    run(env, "init", "--admin", "admin", "--name", "Ward Admin", "--training",
        "--password-stdin", stdin=PASSWORDS["admin"] + "\n")
    # A new record asks for the vial's scan before every dose; a test that scans adds vials.
    run(env, "settings", "set", "scan", "off")
    run(env, "staff", "add", "--id", "rn.li", "--name", "RN Li", "--role", "nurse",
        "--password-stdin", stdin=PASSWORDS["rn.li"] + "\n")
    run(env, "staff", "add", "--id", "dr.ng", "--name", "Dr Ng", "--role", "physician",
        "--password-stdin", stdin=PASSWORDS["dr.ng"] + "\n")
    run(env, "login", "rn.li", "--password-stdin", stdin=PASSWORDS["rn.li"] + "\n")
    for pid, name in [("P1", "Zhang Wei"), ("P2", "Ana Souza")]:
        run(env, "patient", "add", "--id", pid, "--name", name, "--dob", "1990-05-01",
            "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "92",
            "--asthma", "controlled")
        run(env, "course", "start", "--patient", pid, "--template",
            "example-hdm-rush-3d", "--start", "2026-12-07T08:00")
    return env


@pytest.fixture
def served():
    """(env, base URL, browser): the record, the page serving it, chromium."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        env = make_ward(pathlib.Path(d))
        port = free_port()
        server = subprocess.Popen(
            [str(BIN), "serve", "--listen", f"127.0.0.1:{port}"],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                try:
                    yield env, f"http://127.0.0.1:{port}", browser
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


def login(page, base, who="rn.li", shown="RN Li (rn.li, nurse)"):
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login")
    page.get_by_label("Staff ID").fill(who)
    page.get_by_label("Password or PIN").fill(PASSWORDS[who])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(shown)).to_be_visible()
