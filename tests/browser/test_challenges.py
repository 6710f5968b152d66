"""Challenges in a real browser: the teacher sets two, two students in tabs of their own train a run
each and submit it, the leaderboard of one student's tab shows the other's run by itself, a run that
breaks the rules cannot be submitted, and hiding and closing reach the students' tabs."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TOKEN
from tests.browser.helpers import TIMEOUT, button, idle, main, no_exception, open_app, part, whole_page
from tests.browser.test_insight import go_to, small_runs_settings, train

pytestmark = pytest.mark.browser


def create(teacher, title, goal, solver=None):
    main(teacher).get_by_label("Title").fill(title)
    main(teacher).get_by_role("radiogroup", name="Goal").get_by_text(goal, exact=True).click()
    if solver:
        main(teacher).locator(".stForm").get_by_text(solver, exact=True).click()
    button(teacher, "Create the challenge").click()
    expect(main(teacher).get_by_text(re.compile(r"^Challenge \d+ is open"))).to_be_visible()
    idle(teacher)


def student(context, server, nickname):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    open_app(page, server)
    go_to(page, "Train", "train")
    small_runs_settings(page)
    train(page)
    go_to(page, "Challenges", "challenges")
    field = main(page).get_by_role("textbox", name="Your nickname")
    field.fill(nickname)
    field.press("Enter")
    expect(main(page).get_by_text("Press Enter to apply")).to_have_count(0)  # the server has the nickname
    idle(page)
    return page


def pick(page, title):
    main(page).get_by_role("combobox", name="Challenge").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(title))).click()
    idle(page)


def test_the_teacher_sets_challenges_and_students_submit_runs_to_a_live_leaderboard(browser, class_server):
    expect.set_options(timeout=TIMEOUT)
    tabs = [browser.new_context(viewport={"width": 1400, "height": 950}) for _ in range(3)]
    try:
        teacher = tabs[2].new_page()
        teacher.set_default_timeout(TIMEOUT)
        open_app(teacher, class_server)
        go_to(teacher, "Class set", "class")
        main(teacher).get_by_label("Teacher token").fill(TOKEN)
        button(teacher, "Open the class set").click()
        expect(main(teacher).get_by_role("heading", name="Challenges")).to_be_visible()
        create(teacher, "Plain SGD only", "Best accuracy on the class test set", solver="sgd")
        create(teacher, "Best on MNIST test", "Best accuracy on MNIST test")

        ada = student(tabs[0], class_server, "Ada")
        pick(ada, "Plain SGD only")  # Ada's run trained with adam
        expect(main(ada).get_by_text(re.compile(r"^This run cannot enter: it trained with adam"))).to_be_visible()
        expect(button(ada, "Submit this run")).to_be_disabled()
        pick(ada, "Best on MNIST test")
        button(ada, "Submit this run").click()
        expect(main(ada).get_by_text(re.compile(r"^Scored \d+\.\d\d%, [\d,]+ parameters: your best so far"))
               ).to_be_visible()
        board = main(ada).locator(".st-key-leaderboard")
        expect(board.get_by_test_id("stDataFrame")).to_contain_text("Ada")

        bob = student(tabs[1], class_server, "<b>Bob</b>")
        pick(bob, "Best on MNIST test")
        button(bob, "Submit this run").click()
        expect(main(bob).get_by_text(re.compile(r"^Scored .* on the leaderboard as"))).to_be_visible()
        expect(main(bob).locator("code").filter(has_text="<b>Bob</b>")).to_be_visible()  # plain text
        expect(board.get_by_test_id("stDataFrame")).to_contain_text("<b>Bob</b>")  # in Ada's tab, by itself
        whole_page(ada, "challenges")
        part(ada, "leaderboard", "challenges-leaderboard")

        expect(main(teacher).get_by_text(re.compile(r"^2 students submitted: 1\. "))).to_be_visible()  # live
        whole_page(teacher, "class-challenges")
        container = main(teacher).locator('[class*="st-key-challenge_"]').filter(has_text="Best on MNIST test")
        container.get_by_text("Hide board").click()
        idle(teacher)
        expect(board.get_by_text("The teacher has hidden the leaderboard for now.")).to_be_visible()  # live
        container.get_by_text("Closed", exact=True).click()
        idle(teacher)
        button(bob, "Submit this run").click()  # on a page drawn before it closed
        expect(main(bob).get_by_text("This challenge takes no more runs.")).to_be_visible()
        expect(board.get_by_test_id("stDataFrame")).to_have_count(0)
        for page in (ada, bob, teacher):
            no_exception(page)
    finally:
        for tab in tabs:
            tab.close()
