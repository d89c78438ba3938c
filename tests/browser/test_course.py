"""The ward page's whole scenario in a real browser: a nurse gives the due dose through the
confirmation step, closes the observation with a size, records a grade 2 systemic reaction and
sees DO NOT GIVE; a physician, in a second browser context, sees it on the board, records the
review, and the nurse's board shows the change by itself. Screenshots in target/browser/
(give-confirmation.png, course-do-not-give.png, ...)."""

from playwright.sync_api import expect

from conftest import SHOTS, login


def set_clock(page, at):
    """The training record's clock, set on the board (a patient record has no such control)."""
    page.goto(page.url.split("/course")[0].split("?")[0].rstrip("/") + "/")
    page.get_by_label("Training clock (this training record only)").fill(at)
    page.get_by_role("button", name="Set the clock").click()


def test_give_observe_react_review(served):
    env, base, browser = served
    nurse_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    doctor_ctx = browser.new_context(viewport={"width": 1024, "height": 1366})  # a tablet
    nurse, doctor = nurse_ctx.new_page(), doctor_ctx.new_page()
    login(nurse, base)

    # The board: Zhang Wei is due; open the course.
    nurse.locator("tr.due_now", has_text="Zhang Wei").get_by_role("link", name="Zhang Wei").click()
    expect(nurse).to_have_url(base + "/course/1")
    expect(nurse.locator(".banner")).to_contain_text("Zhang Wei")
    expect(nurse.locator(".banner")).to_contain_text("born 1990-05-01 (36 years)")
    expect(nurse.locator(".decision .headline")).to_contain_text("GIVE step 1")
    nurse.screenshot(path=str(SHOTS / "course-give-form.png"), full_page=True)

    # A form with a missing PEF comes back with the error beside the field; nothing saved.
    nurse.get_by_label("Patient ID (read it from the wristband)").fill("P1")
    for radio in nurse.locator("#form-give input[type=radio][value=no]").all():
        radio.check()
    nurse.get_by_role("button", name="Check the dose").click()
    expect(nurse.locator("#form-give .error").first).to_contain_text("PEF/FEV1 is required")
    expect(nurse.locator(".notice.bad")).to_contain_text("Not recorded")

    # Filled in properly. Enter in a field presses the form's first button, "Check the scans"
    # (a scanner's Enter): the form comes back as filled in, nothing recorded; "Check the dose"
    # goes on to the confirmation step.
    nurse.get_by_label("Pre-dose PEF/FEV1, % of the patient's best").fill("95")
    nurse.get_by_label("Lot number").fill("L-2026-117")
    nurse.get_by_label("Lot number").press("Enter")
    expect(nurse.locator(".notice.ok")).to_contain_text("Scans checked (nothing recorded yet)")
    expect(nurse.get_by_label("Lot number")).to_have_value("L-2026-117")
    nurse.get_by_role("button", name="Check the dose").click()
    expect(nurse.get_by_role("heading", name="Check before you inject")).to_be_visible()
    expect(nurse.locator("dd.huge").first).to_contain_text("Zhang Wei · ID P1")
    expect(nurse.locator("dl.confirm")).to_contain_text("0.1 mL")
    nurse.screenshot(path=str(SHOTS / "give-confirmation.png"), full_page=True)
    nurse.get_by_role("button", name="Save: this dose is given").click()
    expect(nurse.locator(".notice.ok")).to_contain_text("Recorded entry #1")
    expect(nurse.locator(".decision .headline")).to_contain_text("IN OBSERVATION until 08:30")

    # Ending the observation early is refused in the page's words.
    nurse.get_by_label("Local reaction at the injection site, mm (0 for none)").fill("5")
    nurse.get_by_role("button", name="Record the end of the observation").click()
    expect(nurse.locator(".notice.bad")).to_contain_text("by writing why it ends early")

    # 31 minutes later (the training clock); the idle session has ended: log in again.
    set_clock(nurse, "2026-12-07T08:31")
    expect(nurse).to_have_url(base + "/login")
    login(nurse, base)
    expect(nurse.locator("tr.observation_overdue")).to_contain_text("Zhang Wei")
    nurse.goto(base + "/course/1")
    nurse.get_by_label("Local reaction at the injection site, mm (0 for none)").fill("5")
    nurse.get_by_role("button", name="Record the end of the observation").click()
    expect(nurse.locator(".notice.ok")).to_contain_text("Recorded entry #2")

    # A grade 2 systemic reaction: DO NOT GIVE, and no give form.
    nurse.get_by_text("Record a reaction").click()
    nurse.get_by_label("Reaction", exact=True).select_option("systemic")
    nurse.get_by_label("WAO grade and epinephrine suffix", exact=False).select_option("2a")
    nurse.get_by_label("Onset, minutes after the injection", exact=False).fill("12")
    nurse.get_by_label("First symptom, or what was seen", exact=False).fill("wheeze")
    nurse.get_by_label("Treatment given", exact=False).fill("adrenaline 0.5 mg im")
    nurse.get_by_role("button", name="Record the reaction").click()
    expect(nurse.locator(".notice.ok")).to_contain_text("Recorded entry #3")
    expect(nurse.locator(".decision.stop .headline")).to_contain_text("DO NOT GIVE")
    expect(nurse.get_by_text("Only a physician can review this course")).to_be_visible()
    expect(nurse.locator("#form-give")).to_have_count(0)
    nurse.screenshot(path=str(SHOTS / "course-do-not-give.png"), full_page=True)
    nurse.goto(base + "/")
    expect(nurse.locator("tr.do_not_give")).to_contain_text("Zhang Wei")

    # The physician, elsewhere, sees it on the board and reviews.
    login(doctor, base, "dr.ng", "Dr Ng (dr.ng, physician)")
    row = doctor.locator("tr.do_not_give", has_text="Zhang Wei")
    expect(row).to_contain_text("DO NOT GIVE")
    doctor.screenshot(path=str(SHOTS / "board-do-not-give.png"), full_page=True)
    row.get_by_role("link", name="Zhang Wei").click()
    doctor.get_by_label("Decision").select_option("step-back")
    doctor.get_by_label("Steps back (for step back)").fill("1")
    doctor.get_by_label("Reason", exact=False).first.fill("grade 2a after step 1: step back one dose")
    doctor.get_by_role("button", name="Record the review").click()
    expect(doctor.locator(".notice.ok")).to_contain_text("Recorded entry #4")
    expect(doctor.locator(".decision .headline")).not_to_contain_text("DO NOT GIVE")
    expect(doctor.locator(".decision.stop")).to_have_count(0)
    doctor.screenshot(path=str(SHOTS / "course-after-review.png"), full_page=True)

    # The nurse's board, left open, changes by itself (htmx polls every 5 s).
    expect(nurse.locator("tr.do_not_give")).to_have_count(0, timeout=12000)
    expect(nurse.locator("#board tr", has_text="Zhang Wei")).to_be_visible()
