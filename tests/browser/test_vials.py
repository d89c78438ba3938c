"""Vials on the page, in a real browser, with a clinic's vial expiry rules: `ritplan --rules DIR
serve` applies the clinic's shelf-life limit to a vial added on the page as `ritplan vial add`
does (the preparation date asked for, the earlier expiry recorded), and the vial's labels are
served as a PDF."""

import json
import pathlib
import socket
import subprocess
import tempfile
import time

from playwright.sync_api import expect, sync_playwright

from conftest import ARGS, BIN, SHOTS, free_port, login, make_ward, run

EXPIRY = """
kind = "vial-expiry"
format = 1
source = "test"
evidence = "example"
certainty = "I"

[[limit]]
unit = "SQ-U"
strength = "[0, 1000]"
months = 3
source = "test clinic: 3 months from preparation"
evidence = "example"
certainty = "I"
"""


def test_the_clinic_s_vial_expiry_rules_hold_on_the_page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = make_ward(tmp)
        rules = tmp / "rules"
        rules.mkdir()
        (rules / "vial-expiry.toml").write_text(EXPIRY)
        port = free_port()
        server = subprocess.Popen(
            [str(BIN), "--rules", str(rules), "serve", "--listen", f"127.0.0.1:{port}"],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    login(page, base)
                    page.goto(base + "/course/1")
                    page.locator("#form-vial-add summary").click()
                    page.get_by_label("Template vial").select_option("1")
                    page.get_by_label("Lot", exact=True).fill("L100")
                    page.get_by_label("Lot's expiry date (YYYY-MM-DD)").fill("2027-03-31")
                    page.get_by_role("button", name="Add the vial").click()
                    # The clinic limits vial 1: its preparation date is needed.
                    expect(page.locator("#error-summary")).to_contain_text(
                        "limits vial 1's shelf life")
                    page.get_by_label("Prepared on", exact=False).fill("2026-12-01")
                    page.get_by_role("button", name="Add the vial").click()
                    expect(page.locator(".notice.ok")).to_contain_text(
                        "Write V000001 on the vial")
                    row = page.locator("table.vials tbody tr")
                    expect(row).to_contain_text("2027-03-01")
                    expect(row).to_contain_text("3 months")
                    pdf = page.request.get(base + "/course/1/vial-labels.pdf")
                    assert pdf.status == 200
                    assert pdf.headers["content-type"] == "application/pdf"
                    assert pdf.headers["cache-control"] == "no-store"
                    assert pdf.body().startswith(b"%PDF")
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
        vials = json.loads(run(env, "vial", "list", "1", "--json"))
        assert [(v["code"], v["expires"]) for v in vials] == [("V000001", "2027-03-01")], vials
