"""The class set in a real browser: two students add their drawings from the Draw page, in tabs of
their own; the teacher opens the Class set page with the token, sees them, freezes a split and
downloads it in IDX."""
import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from mlp.data import _parse_idx
from tests import strokes
from tests.browser.conftest import TOKEN
from tests.browser.helpers import TIMEOUT, button, draw, main, no_exception, open_app, whole_page
from tests.browser.test_insight import go_to, small_runs_settings, train

pytestmark = pytest.mark.browser


def student_adds(context, server, digit, nickname):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    open_app(page, server)
    go_to(page, "Train", "train")
    small_runs_settings(page)
    train(page)
    go_to(page, "Draw", "draw")
    draw(page, strokes.DIGITS[digit]())
    expect(main(page).get_by_text(re.compile(r"^prediction: "))).to_be_visible()
    main(page).get_by_role("combobox", name="That was a …").click()  # the true label, whatever it said
    page.get_by_role("option", name=re.compile(rf"^{digit}( \(right\))?$")).click()
    field = main(page).get_by_label("Your nickname")
    field.fill(nickname)
    field.press("Enter")
    expect(main(page).get_by_text("Press Enter to apply")).to_have_count(0)  # the server has the nickname
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    button(page, "Add to the class set").click()
    expect(main(page).get_by_text(f"Added to the class set as a {digit}, by")).to_be_visible()
    no_exception(page)
    return page


def test_two_students_add_drawings_and_the_teacher_splits_and_downloads_them(browser, class_server):
    expect.set_options(timeout=TIMEOUT)
    tabs = [browser.new_context(viewport={"width": 1400, "height": 950}) for _ in range(3)]
    try:
        ada = student_adds(tabs[0], class_server, 3, "Ada")
        bob = student_adds(tabs[1], class_server, 7, "<b>Bob</b>")
        expect(main(bob).locator("code").filter(has_text="<b>Bob</b>")).to_be_visible()  # plain text
        whole_page(ada, "draw-class-set")

        teacher = tabs[2].new_page()
        teacher.set_default_timeout(TIMEOUT)
        open_app(teacher, class_server)
        go_to(teacher, "Class set", "class")
        expect(main(teacher).get_by_text("This page is the teacher's")).to_be_visible()
        token = main(teacher).get_by_label("Teacher token")
        token.fill("not-the-token-at-all")
        button(teacher, "Open the class set").click()
        expect(main(teacher).get_by_text("That is not the teacher token.")).to_be_visible()
        token.fill(TOKEN)
        button(teacher, "Open the class set").click()
        expect(main(teacher).get_by_text(re.compile(r"^2 drawings in the class set"))).to_be_visible()
        assert TOKEN not in teacher.url
        main(teacher).get_by_role("radiogroup", name="Label").get_by_role("radio", name="3", exact=True).click()
        expect(main(teacher).get_by_test_id("stDataFrame").last).to_contain_text("Ada")
        button(teacher, "Freeze the split").click()
        expect(main(teacher).get_by_text(re.compile(r"^\d drawings? went to class-train and \d to class-test"))
               ).to_be_visible()
        whole_page(teacher, "class-set")
        expect(teacher.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
        with teacher.expect_download() as got:
            main(teacher).get_by_role("button", name="Class-train and class-test in IDX format (.zip)").click()
        with zipfile.ZipFile(io.BytesIO(open(got.value.path(), "rb").read())) as z:
            labels = [_parse_idx(z.read(f"class-{s}-labels-idx1-ubyte"), s) for s in ("train", "test")]
            images = [_parse_idx(z.read(f"class-{s}-images-idx3-ubyte"), s) for s in ("train", "test")]
        assert sorted(int(v) for part in labels for v in part) == [3, 7]
        assert [im.shape[1:] for im in images] == [(28, 28), (28, 28)]
        no_exception(teacher)
    finally:
        for tab in tabs:
            tab.close()
