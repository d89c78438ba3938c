"""A keyboard-wedge scanner at the give form, in a real browser: it types a code and presses
Enter in each scan field, as a scanner does. The page has no script for it: Enter presses the
form's first submit button, "Check the scans", which checks the scans, keeps them and moves the
focus to the next field; a wrong vial is refused in words whose alert takes the focus; a dose is
recorded only through "Check the dose" and the confirmation, with the vial scanned. Screenshots
in target/browser/ (scan-refused.png, scan-confirmation.png)."""

import json

from playwright.sync_api import expect

from conftest import SHOTS, login, run


def vial(env, course, number, lot):
    """Adds a vial with the real binary; its code (`V000001`)."""
    out = run(env, "vial", "add", str(course), "--vial", number, "--lot", lot,
              "--expires", "2027-03-31")
    return out.split()[1]


def test_a_scanner_s_enter_moves_on_and_a_wrong_vial_is_refused(served):
    env, base, browser = served
    good = vial(env, 1, "1", "L100")
    strong = vial(env, 1, "3", "L300")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, base)
    page.goto(base + "/course/1")

    # The wristband's scan has the focus when the form opens: the scanner types, then Enter.
    expect(page.get_by_label("Scan the patient's wristband")).to_be_focused()
    page.keyboard.type("P1")
    page.keyboard.press("Enter")
    expect(page.locator(".notice.ok")).to_contain_text("the wristband is patient P1")
    expect(page.get_by_label("Scan the patient's wristband")).to_have_value("P1")
    expect(page.get_by_label("Scan the vial")).to_be_focused()

    # The wrong strength: refused, the alert has the focus, nothing recorded.
    page.keyboard.type(strong)
    page.keyboard.press("Enter")
    alert = page.locator("#error-summary")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text(
        "this is vial 3 (10 000 SQ-U/mL); the dose needs vial 1 (100 SQ-U/mL)")
    expect(alert).to_be_focused()
    page.screenshot(path=str(SHOTS / "scan-refused.png"), full_page=True)

    # The right vial: the focus moves on to the PEF.
    page.get_by_label("Scan the vial").fill("")
    page.get_by_label("Scan the vial").focus()
    page.keyboard.type(good.lower())
    page.keyboard.press("Enter")
    expect(page.locator(".notice.ok")).to_contain_text(f"vial {good} is Vial 1")
    expect(page.get_by_label("Pre-dose PEF/FEV1, % of the patient's best")).to_be_focused()
    page.keyboard.type("95")
    for radio in page.locator("#form-give input[type=radio][value=no]").all():
        radio.check()
    page.get_by_role("button", name="Check the dose").click()
    expect(page.get_by_role("heading", name="Check before you inject")).to_be_visible()
    expect(page.locator("dl.confirm")).to_contain_text(f"{good} · Vial 1")
    expect(page.locator("dl.confirm")).to_contain_text("L100")
    page.screenshot(path=str(SHOTS / "scan-confirmation.png"), full_page=True)
    page.get_by_role("button", name="Save: this dose is given").click()
    expect(page.locator(".notice.ok")).to_contain_text("Recorded entry #")

    vials = json.loads(run(env, "vial", "list", "1", "--json"))
    drawn = {v["code"]: v["doses_drawn"] for v in vials}
    assert drawn[good] == 1 and drawn[strong] == 0, drawn
