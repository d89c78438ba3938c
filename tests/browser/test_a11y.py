"""WCAG 2.1 A and AA checks of the ward page with axe-core (PyPI `axe-playwright-python`, which
bundles axe.min.js: it runs offline), in Debian's chromium driven by Playwright.

Screens checked: the login form, the board, a course's page with every folded form opened, the
give form sent back with a missing field, the give confirmation, a refused give (the wrong
patient's ID: the error shown, and the keyboard focus on it), the patient's screen with two
courses (two extracts in one visit), and the course page's vials: its Vials section open, an
"Add a vial" refused (an expired lot: the error focused), the vial added (its code shown large)
with its labels as a PDF, and a refused discard; an omalizumab course's page, its injection
recorded and the end of its observation refused; the outcomes audit (`/audit`, a physician: its
two SVG charts). Each must have no violation; a violation is printed with
its rule, the elements and axe's messages.
"""

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import PASSWORDS, ROOT, SHOTS, login, run

AXE = Axe()
# WCAG 2.0 and 2.1, levels A and AA (axe's tags), and axe's best practices (one main landmark,
# one h1, headings in order...).
OPTIONS = {
    "runOnly": {"type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}


def no_violations(page, what):
    """axe on the page as it is, folded forms opened (what is hidden is not checked otherwise)."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    results = AXE.run(page, options=OPTIONS)
    assert results.violations_count == 0, f"{what}: {page.url}\n{results.generate_report()}"
    # axe ran the WCAG rules (a run that checked nothing would also find nothing).
    assert len(results.response["violations"]) == 0
    assert results.response["testEngine"]["name"] == "axe-core"


def test_every_screen_has_no_wcag_violation(served):
    env, base, browser = served
    # A second course for Zhang Wei, of another extract (a test template): two extracts in one
    # visit.
    run(env, "--templates", str(ROOT / "tests" / "fixtures" / "clinic-templates"), "course",
        "start", "--patient", "P1", "--template", "clinic-rush-2d", "--start", "2026-12-07T08:00")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()

    page.goto(base + "/login")
    no_violations(page, "login")
    # A failed login: the error, focused.
    page.get_by_label("Staff ID").fill("rn.li")
    page.get_by_label("Password or PIN").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("[role=alert]")).to_be_visible()
    no_violations(page, "login refused")

    login(page, base)
    no_violations(page, "board")

    page.goto(base + "/course/3")
    no_violations(page, "course page (every form opened)")

    # The patient's screen: both courses, one after the other, 30 min apart, other arms.
    page.goto(base + "/patient?id=P1")
    doses = page.locator("ol.visit > li")
    expect(doses).to_have_count(2)
    expect(doses.nth(0)).to_contain_text("Course 1")
    expect(doses.nth(0)).to_contain_text("now (08:00)")
    expect(doses.nth(0)).to_contain_text("either arm")
    expect(doses.nth(1)).to_contain_text("Course 3")
    expect(doses.nth(1)).to_contain_text("at 08:30 — after course 1 at 08:00")
    expect(doses.nth(1)).to_contain_text("the other arm than course 1's dose")
    page.screenshot(path=str(SHOTS / "patient-two-extracts.png"), full_page=True)
    no_violations(page, "patient screen")

    page.goto(base + "/course/1")
    expect(page.locator("#form-give")).to_be_visible()
    no_violations(page, "give form")

    # Sent without the PEF: the fields' errors, and the summary focused.
    page.get_by_label("Patient ID (read it from the wristband)").fill("P1")
    for radio in page.locator("#form-give input[type=radio][value=no]").all():
        radio.check()
    page.get_by_role("button", name="Check the dose").click()
    expect(page.locator(".notice.bad")).to_contain_text("Not recorded")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    no_violations(page, "give form with a field error")

    # The other patient's ID: refused, in words, and the keyboard focus is on the error.
    page.get_by_label("Patient ID (read it from the wristband)").fill("P2")
    page.get_by_label("Pre-dose PEF/FEV1, % of the patient's best").fill("95")
    page.get_by_role("button", name="Check the dose").click()
    error = page.locator("#error-summary")
    expect(error).to_contain_text("Not recorded")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    assert "Not recorded" in page.evaluate("document.activeElement.textContent")
    page.screenshot(path=str(SHOTS / "give-refused.png"), full_page=True)
    no_violations(page, "refused give")

    # The right ID: the confirmation.
    page.get_by_label("Patient ID (read it from the wristband)").fill("P1")
    page.get_by_label("Pre-dose PEF/FEV1, % of the patient's best").fill("95")
    page.get_by_role("button", name="Check the dose").click()
    expect(page.get_by_role("heading", name="Check before you inject")).to_be_visible()
    no_violations(page, "give confirmation")
    page.get_by_role("button", name="Save: this dose is given").click()
    expect(page.locator(".notice.ok")).to_contain_text("Recorded entry #1")
    no_violations(page, "course page in observation")

    # The patient's screen after the first dose: course 1 in observation, course 3 at 08:30.
    page.goto(base + "/patient?id=P1")
    expect(page.locator("ol.visit > li")).to_have_count(1)
    expect(page.locator("ol.visit > li")).to_contain_text("Course 3")
    expect(page.locator("main")).to_contain_text("IN OBSERVATION until 08:30")
    no_violations(page, "patient screen after a dose")

    page.goto(base + "/")
    no_violations(page, "board after a dose")


def test_the_vials_section_and_its_refusals_have_no_wcag_violation(served):
    env, base, browser = served
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(page, base)
    page.goto(base + "/course/1")
    section = page.locator("#vials")
    expect(section.get_by_role("heading", name="Vials", exact=True)).to_be_visible()
    expect(section).to_contain_text("No vial recorded for this course yet")
    # The "Add a vial" form, opened as a nurse opens it.
    page.locator("#form-vial-add summary").click()
    expect(page.get_by_label("Template vial")).to_be_visible()
    no_violations(page, "course page, vials section open")

    # An expired lot: refused in words, the focus on the alert, the fields kept.
    page.get_by_label("Template vial").select_option("1")
    page.get_by_label("Lot", exact=True).fill("L100")
    page.get_by_label("Lot's expiry date (YYYY-MM-DD)").fill("2026-12-01")
    page.get_by_role("button", name="Add the vial").click()
    expect(page.locator("#error-summary")).to_contain_text("an expired vial is not added")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    expect(page.get_by_label("Lot", exact=True)).to_have_value("L100")
    page.screenshot(path=str(SHOTS / "vial-add-refused.png"), full_page=True)
    no_violations(page, "add a vial refused")

    # The right date: the vial's code, large, with its labels.
    page.get_by_label("Lot's expiry date (YYYY-MM-DD)").fill("2027-03-31")
    page.get_by_role("button", name="Add the vial").click()
    notice = page.locator(".notice.ok")
    expect(notice).to_contain_text("Write V000001 on the vial, or print its label.")
    expect(section.locator("table.vials tbody tr")).to_have_count(1)
    expect(section.locator("table.vials tbody tr")).to_contain_text("active")
    page.screenshot(path=str(SHOTS / "vial-added.png"), full_page=True)
    no_violations(page, "vial added")
    pdf = page.request.get(base + "/course/1/vial-labels.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    label = page.request.get(base + "/patient/label.pdf?id=P1")
    assert label.status == 200 and label.body().startswith(b"%PDF")

    # A discard without a reason: refused, focused, beside the reason.
    # (axe's run above opened every folded form: it stays open.)
    expect(page.locator("#form-vial-discard")).to_have_attribute("open", "")
    page.get_by_role("button", name="Discard V000001").click()
    expect(page.locator("#error-summary")).to_contain_text("Not recorded")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    no_violations(page, "discard refused")
    page.get_by_label("Why vial V000001 (vial 1, lot L100) is discarded").fill("dropped")
    page.get_by_role("button", name="Discard V000001").click()
    expect(page.locator(".notice.ok")).to_contain_text("Vial V000001 discarded (dropped)")
    expect(section.locator("table.vials tbody tr")).to_contain_text("DISCARDED: do not use")
    no_violations(page, "vial discarded")


def test_the_omalizumab_course_page_has_no_wcag_violation(served):
    """An omalizumab course's page (its plan, its injections, its forms), the injection
    recorded, and the end of its observation refused before its 2 hours (the error focused)."""
    env, base, browser = served
    run(env, "login", "dr.ng", "--password-stdin", stdin=PASSWORDS["dr.ng"] + "\n")
    course = run(env, "omalizumab", "start", "--patient", "P2", "--start",
                 "2026-12-07").split()[0]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(page, base)
    page.goto(base + f"/course/{course}")
    expect(page.locator("h1")).to_contain_text(f"Omalizumab course {course}")
    expect(page.locator("#vials")).to_have_count(0)
    no_violations(page, "omalizumab course page (every form opened)")

    page.get_by_label("Patient ID (read it from the wristband)").fill("P2")
    page.get_by_label("Injection sites").fill("both upper arms")
    page.get_by_role("button", name="Record the injection").click()
    expect(page.locator(".notice.ok")).to_contain_text("Recorded entry #1")
    no_violations(page, "omalizumab injection recorded")

    page.get_by_label("Local reaction at the injection sites, mm (0 for none)").fill("0")
    page.get_by_role("button", name="Record the end of the observation").click()
    expect(page.locator("#error-summary")).to_contain_text("observed 120 min")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    page.screenshot(path=str(SHOTS / "omalizumab-observe-refused.png"), full_page=True)
    no_violations(page, "omalizumab observation refused")


def test_the_audit_page_has_no_wcag_violation(served):
    """The outcomes audit as a physician sees it: the window's form, the counts and the two
    charts (inline SVG, each an image with a title and a description)."""
    env, base, browser = served
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(page, base, "dr.ng", "Dr Ng (dr.ng, physician)")
    page.get_by_role("link", name="Outcomes audit").click()
    expect(page.locator("h1")).to_have_text("Outcomes audit")
    expect(page.locator("svg[role=img]")).to_have_count(2)
    page.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    no_violations(page, "outcomes audit")


STYLED = """
[...document.querySelectorAll('main *')].filter(e => {
  if (['INPUT', 'SELECT', 'OPTION', 'TEXTAREA', 'BR'].includes(e.tagName)) return false;
  const own = getComputedStyle(e), up = getComputedStyle(e.parentElement);
  return own.color !== up.color || own.backgroundColor !== 'rgba(0, 0, 0, 0)'
      && own.backgroundColor !== up.backgroundColor;
}).map(e => [e.tagName + '.' + e.className, e.innerText.trim()])
"""
WORDS = {"OBSERVATION OVERDUE", "DUE NOW", "IN OBSERVATION", "WAITING", "DO NOT GIVE",
         "DONE FOR TODAY"}


def test_status_is_never_colour_alone(served):
    """Every element the style sheet colours differently from around it (a board row, the
    decision, a notice, an error) has words; the board's status cell is a status word. The
    board keeps a keyboard user's focus when it refreshes itself. axe on these states too."""
    env, base, browser = served
    run(env, "--templates", str(ROOT / "tests" / "fixtures" / "clinic-templates"), "course",
        "start", "--patient", "P1", "--template", "clinic-rush-2d", "--start", "2026-12-07T08:00")
    run(env, "give", "1", "--patient", "P1", "--step", "1", "--volume", "0.1",
        "--pef", "95", "--screen", "ok")
    run(env, "give", "2", "--patient", "P2", "--step", "1", "--volume", "0.1",
        "--pef", "95", "--screen", "ok")
    run(env, "react", "2", "--grade", "2a", "--onset-min", "10", "--symptom", "urticaria")
    page = browser.new_context().new_page()
    login(page, base)
    rows = page.locator("#board tbody tr")
    expect(rows).to_have_count(3)
    classes = set()
    for row in rows.all():
        classes.add(row.get_attribute("class"))
        assert row.locator(".status").inner_text().strip() in WORDS, row.inner_html()
    assert classes == {"in_observation", "waiting", "do_not_give"}, classes
    # The board refreshes itself every 5 s: a keyboard user's focus on a link stays there.
    page.locator("#board-course-1").focus()
    with page.expect_response(lambda r: r.url.endswith("/board"), timeout=12000):
        pass
    page.wait_for_timeout(300)
    assert page.evaluate("document.activeElement.id") == "board-course-1"
    seen = 0
    for path in ["/", "/course/1", "/course/2", "/course/3", "/patient?id=P1",
                 "/patient?id=P2"]:
        page.goto(base + path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        styled = page.evaluate(STYLED)
        # These states (DO NOT GIVE, waiting for another extract) pass axe too.
        no_violations(page, path)
        seen += len(styled)
        for what, text in styled:
            assert text, f"{path}: {what} is shown by colour only"
    assert seen >= 10, seen
