"""Acting on a training while it runs, in a real browser: a new rate marked on the curves, slow
motion, the Layers and Network views, pause and five steps."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (TIMEOUT, button, main, no_exception, slider, update_number,
                                   wait_for_update_above, whole_page)

pytestmark = pytest.mark.browser


def paused_at(page):
    """The update a paused run stopped at, from the page's "Paused at update N." line."""
    found = main(page).get_by_text(re.compile(r"^Paused at update [\d,]+\.")).first
    expect(found).to_be_visible(timeout=TIMEOUT)
    return int(re.search(r"update ([\d,]+)", found.inner_text()).group(1).replace(",", ""))


def choose(page, label, key, value):
    """Move a slider with the keyboard until it shows ``value``."""
    handle = slider(page, label)
    handle.focus()
    handle.press(key)
    expect(handle).to_have_attribute("aria-valuetext", value, timeout=TIMEOUT)


def test_a_new_rate_during_a_slow_run_is_marked_then_five_steps_move_five_updates(page, app_server):
    page.goto(f"{app_server.url}/train?preset=fast&images=10000&epochs=4")
    expect(button(page, "Train")).to_be_enabled(timeout=TIMEOUT)
    handle = slider(page, "Speed (updates a second)")
    handle.focus()
    for _ in range(2):
        handle.press("ArrowLeft")
    expect(handle).to_have_attribute("aria-valuetext", "5 / s", timeout=TIMEOUT)
    button(page, "Train").click()
    wait_for_update_above(page, 3)
    expect(slider(page, "Neurons in layer 1")).to_be_disabled()  # fixed during a run

    choose(page, "Learning rate", "ArrowRight", "0.005")
    mark = page.locator(".js-plotly-plot .annotation-text", has_text="lr 0.002 -> 0.005")
    expect(mark.first).to_be_visible(timeout=TIMEOUT)
    whole_page(page, "train-live-change")

    main(page).get_by_test_id("stButtonGroup").get_by_text("Layers").click()
    expect(main(page).get_by_text(re.compile("^Measured every few updates"))).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".js-plotly-plot .annotation-text", has_text="update / weight").first).to_be_visible()
    whole_page(page, "train-layers")

    main(page).get_by_test_id("stButtonGroup").get_by_text("Network").click()
    expect(main(page).get_by_text(re.compile("^Each column is a layer"))).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".js-plotly-plot", has_text="top 16 of 128").first).to_be_visible()

    button(page, "Pause").click()
    start = paused_at(page)
    expect(button(page, "Resume")).to_be_enabled()
    for i in range(1, 6):
        button(page, "Step").click()
        expect(main(page).get_by_text(f"Paused at update {start + i:,}.", exact=False)).to_be_visible(timeout=TIMEOUT)
    assert update_number(page) == start + 5
    expect(page.locator(".js-plotly-plot", has_text=f"update {start + 5:,}").first).to_be_visible()
    whole_page(page, "train-network")
    button(page, "Stop training").click()
    expect(main(page).get_by_text(re.compile(r"^Stopped at update"))).to_be_visible(timeout=TIMEOUT)
    no_exception(page)
