"""Browser tests of the ward page's board, in Debian's chromium driven by Playwright.

Run by .ci/run (after `cargo build`): a nurse logs in through the page, sees the board with
the due doses, and a second browser context sees a dose recorded meanwhile (with the CLI) on
its own board within seconds; search; logout. Screenshots go to target/browser/.
"""

from playwright.sync_api import expect

from conftest import SHOTS, login, run


def test_a_nurse_logs_in_and_two_boards_agree(served):
    env, base, browser = served
    first = browser.new_context(viewport={"width": 1280, "height": 800})
    second = browser.new_context(viewport={"width": 1280, "height": 800})
    a, b = first.new_page(), second.new_page()
    # The page works under its content security policy: nothing it needs (htmx, its style
    # sheet) is refused, and nothing inline is tried.
    refused = []
    for p in (a, b):
        p.on("console", lambda m: refused.append(m.text)
             if "Content Security Policy" in m.text else None)
    login(a, base)
    login(b, base)
    rows = a.locator("#board tbody tr")
    expect(rows).to_have_count(2)
    expect(a.locator("tr.due_now").first).to_contain_text("DUE NOW")
    expect(a.get_by_text("TRAINING RECORD, not a patient's record")).to_be_visible()
    a.screenshot(path=str(SHOTS / "board.png"), full_page=True)
    # A dose recorded elsewhere (here with the CLI) reaches the other board by itself: it
    # polls every 5 seconds.
    run(env, "give", "1", "--patient", "P1", "--step", "1", "--volume", "0.1",
        "--pef", "95", "--screen", "ok")
    expect(b.locator("tr.in_observation")).to_contain_text("Zhang Wei", timeout=12000)
    b.screenshot(path=str(SHOTS / "board-after-a-dose.png"), full_page=True)
    # Search by a part of the name; the result links to the patient's course.
    b.get_by_label("Find a patient (name or ID)").fill("souza")
    b.get_by_role("button", name="Find").click()
    expect(b.locator("main ul")).to_contain_text("Ana Souza")
    expect(b.locator("main ul a")).to_have_attribute("href", "/course/2")
    # Log out: the board is behind the login again.
    b.get_by_role("button", name="Log out").click()
    expect(b).to_have_url(base + "/login")
    # The style sheet applied (the header's background is the page's, not the browser's).
    assert a.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") \
        == "rgb(238, 238, 255)"
    assert refused == [], refused
