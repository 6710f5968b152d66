"""Train and Draw in a real browser: a run watched and stopped, the full data set, drawn digits, no data."""
import re
import time

import pytest
from playwright.sync_api import expect

from tests import strokes
from tests.browser.helpers import (POINTS_JS, button, draw, main, no_exception, open_app, slider, snapshot,
                                   update_number, wait_for_points, wait_for_update_above)

pytestmark = pytest.mark.browser


TRAINING = 900_000   # ms, for a whole training run on the full data set (minutes on a busy machine)
# From now on, count the animation frames in which no chart with points shows (once one has), and
# the charts drawn.
WATCH_CHART_JS = """() => {
    const watch = window.chartWatch = {blank: 0, frames: 0, drawn: new Set(), seen: false};
    const look = () => {
        let shown = false;
        for (const chart of document.querySelectorAll('.js-plotly-plot')) {
            watch.drawn.add(chart);
            shown ||= chart.getBoundingClientRect().height > 100
                       && getComputedStyle(chart).visibility !== 'hidden'
                       && chart.querySelector('.scatterlayer .point') !== null;
        }
        watch.frames += 1;
        watch.seen ||= shown;
        watch.blank += shown || !watch.seen ? 0 : 1;
        requestAnimationFrame(look);
    };
    look();
}"""


def go_to(page, title, url_path, heading=None):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{url_path}(\?.*)?$"))
    expect(main(page).get_by_role("heading", name=heading or title, exact=True)).to_be_visible()


def press(page, label, key, times=1):
    """Move a slider with the keyboard."""
    slider_ = slider(page, label)
    slider_.focus()
    for _ in range(times):
        page.keyboard.press(key)
    return slider_


def test_train_watch_the_chart_grow_leave_come_back_and_stop(page, app_server):
    open_app(page, app_server)
    expect(page.get_by_text("Status: untrained")).to_be_visible()
    go_to(page, "Train", "train")
    expect(main(page).get_by_text("No model yet")).to_be_visible()

    # a third hidden layer comes and goes with the slider
    press(page, "Hidden layers", "ArrowRight")
    expect(slider(page, "Neurons in layer 3")).to_be_visible()
    expect(main(page).get_by_text("784 → 128 → 64 → 64 → 10")).to_be_visible()
    press(page, "Hidden layers", "ArrowLeft")
    expect(slider(page, "Neurons in layer 3")).to_have_count(0)
    expect(main(page).get_by_text("784 → 128 → 64 → 10")).to_be_visible()

    # the learning rate steps through its list of values
    rate = press(page, "Learning rate", "ArrowRight")
    expect(rate).to_have_attribute("aria-valuetext", "0.005")
    press(page, "Learning rate", "ArrowLeft")
    expect(rate).to_have_attribute("aria-valuetext", "0.002")

    # 10,000 training images (in "More settings") and as many epochs as the slider allows,
    # so that the run lasts long enough to leave the page and to stop it
    main(page).get_by_text("More settings").click()
    press(page, "Training images", "ArrowLeft", times=3)
    expect(main(page).get_by_text("to train on 10,000 images")).to_be_visible()
    epochs = press(page, "Epochs", "End")
    expect(epochs).to_have_attribute("aria-valuetext", "50")
    expect(main(page).get_by_text("784 → 128 → 64 → 10")).to_be_visible()
    no_exception(page)

    button(page, "Train").click()
    try:
        expect(button(page, "Stop training")).to_be_enabled()
        expect(button(page, "Train")).to_be_disabled()
        first = wait_for_points(page, 2)
        later = wait_for_points(page, first + 1)
        assert later > first
        # the chart is redrawn twice a second and never goes blank meanwhile
        page.evaluate(WATCH_CHART_JS)
        page.wait_for_function("chartWatch.drawn.size >= 6")  # 5 redraws
        watch = page.evaluate("({blank: chartWatch.blank, frames: chartWatch.frames})")
        assert watch["blank"] == 0, watch
        # the sidebar keeps up with the job too
        model_line = page.get_by_text(re.compile(r"^Model: training \(\d+%"))
        expect(model_line).not_to_have_text(model_line.inner_text())
        expect(main(page).get_by_text(re.compile(r"^running: update [\d,]+ of 3,950"))).to_be_visible()
        no_exception(page)

        # the run goes on while another page is open
        before = wait_for_update_above(page, 0)
        go_to(page, "Draw", "draw")
        expect(main(page).get_by_text("Training in the background…")).to_be_visible()
        no_exception(page)
        go_to(page, "Home", "", heading="MNIST Playground")  # a page with no live part of its own
        status_line = main(page).get_by_text(re.compile(r"^Status: training \(\d+%"))
        expect(status_line).not_to_have_text(status_line.inner_text())
        no_exception(page)
        go_to(page, "Train", "train")
        after = wait_for_update_above(page, before)
        assert after > before
        expect(slider(page, "Epochs")).to_have_attribute("aria-valuetext", "50")  # the settings are kept
        expect(main(page).get_by_text("to train on 10,000 images")).to_be_visible()
        no_exception(page)

        # stop: the job ends at once, and nothing moves afterwards
        wait_for_points(page, 2)
        progress = main(page).get_by_test_id("stProgress").inner_text()
        at_click = int(re.search(r"update ([\d,]+) of", progress).group(1).replace(",", ""))
        per_second = int(re.search(r"([\d,]+) images/s", progress).group(1).replace(",", "")) / 128
        clicked = time.monotonic()
        button(page, "Stop training").click()
        stopped = main(page).get_by_text(re.compile(r"^Stopped at update [\d,]+\."))
        expect(stopped).to_be_visible()
        seconds = time.monotonic() - clicked
        final = int(re.search(r"update ([\d,]+)", stopped.inner_text()).group(1).replace(",", ""))
        expect(main(page).get_by_text(re.compile(rf"^stopped: update {final:,} of 3,950"))).to_be_visible()
        assert at_click <= final < 3_950
        # the page shows the number of at most half a second ago; allow 3 s of updates in all
        assert final - at_click <= 3 * per_second + 1, (final, at_click, per_second)
        points = page.evaluate(POINTS_JS)
        page.wait_for_timeout(2000)  # watch for a while: no new update, no new point
        assert update_number(page) == final and page.evaluate(POINTS_JS) == points
        expect(stopped).to_be_visible()
        expect(button(page, "Stop training")).to_be_disabled()
        expect(button(page, "Train")).to_be_enabled()
        expect(button(page, "Continue +25 epochs")).to_be_enabled()
        print(f"stopped at update {final} (shown: {at_click}), page updated {seconds:.1f} s after the click")
        no_exception(page)
    finally:
        stop = button(page, "Stop training")
        if stop.count() and stop.is_enabled():  # never leave a job training for the next test
            stop.click()


def test_the_curves_never_go_blank_as_the_run_starts_and_ends(page, app_server):
    """The page is redrawn whole when a run starts and when it ends (its buttons and its outcome
    change): the curves stay on screen through both, and their final figure replaces the last one."""
    page.goto(app_server.url + "/train?preset=fast&images=10000&epochs=3")
    expect(main(page).get_by_text("to train on 10,000 images")).to_be_visible()
    page.evaluate(WATCH_CHART_JS)
    button(page, "Train").click()
    done = main(page).get_by_test_id("stAlertContentSuccess")
    expect(done).to_contain_text("Done:", timeout=TRAINING)
    expect(main(page).get_by_text(re.compile(r"^finished: update [\d,]+ of"))).to_be_visible()
    frames = page.evaluate("chartWatch.frames")
    page.wait_for_function(f"chartWatch.frames > {frames} + 20")  # the final figure has had time to draw
    watch = page.evaluate("({blank: chartWatch.blank, frames: chartWatch.frames, seen: chartWatch.seen})")
    assert watch["seen"] and watch["blank"] == 0, watch
    assert page.evaluate(POINTS_JS) >= 4 * 12  # 4 curves, a point every quarter epoch
    no_exception(page)


@pytest.mark.slow
def test_train_on_all_images_then_draw_digits(page, app_server):
    open_app(page, app_server)
    go_to(page, "Train", "train")
    expect(slider(page, "Epochs")).to_have_attribute("aria-valuetext", "8")
    expect(main(page).get_by_text("to train on 60,000 images")).to_be_visible()
    button(page, "Train").click()
    done = main(page).get_by_test_id("stAlertContentSuccess")
    expect(done).to_contain_text("Done:", timeout=TRAINING)
    accuracy = float(re.search(r"([\d.]+)% test accuracy", done.inner_text()).group(1))
    assert accuracy > 96
    expect(main(page).get_by_text(re.compile(r"^finished: update 3,752 of 3,752"))).to_be_visible()
    assert page.evaluate(POINTS_JS) >= 4 * 32  # 4 curves, a point every quarter epoch
    no_exception(page)
    snapshot(page, "train")

    go_to(page, "Home", "", heading="MNIST Playground")
    expect(main(page).get_by_text(re.compile(r"^Status: trained, test accuracy 9\d\.\d%$"))).to_be_visible()
    no_exception(page)
    snapshot(page, "home")

    go_to(page, "Gallery", "gallery")
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    no_exception(page)
    if main(page).get_by_test_id("stImage").count():  # the page may show no images yet
        page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                               ".every(img => img.complete && img.naturalWidth > 0)")
        snapshot(page, "gallery", full_page=False)  # the first rows of samples

    go_to(page, "Draw", "draw")
    hint = main(page).get_by_text("Draw a digit on the black square")
    expect(hint).to_be_visible()
    prediction = main(page).get_by_text(re.compile(r"^prediction: "))
    for i, digit in enumerate([0, 1, 7, 4, 3]):
        if i:
            old_canvas = page.locator("canvas.upper-canvas").element_handle()
            button(page, "Clear").click()
            expect(hint).to_be_visible()
            expect(prediction).to_have_count(0)
            # Clear mounts a new canvas: draw only once the old one is gone and the page is idle
            page.wait_for_function("el => !el.isConnected", arg=old_canvas)
            expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
        draw(page, strokes.DIGITS[digit]())
        expect(prediction).to_have_text(f"prediction: {digit}")
        expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
        expect(prediction).to_have_text(f"prediction: {digit}")  # still, once every stroke arrived
        expect(main(page).get_by_test_id("stImage")).to_have_count(1)  # what the network sees
        expect(main(page).get_by_test_id("stMetricValue")).to_have_text(str(digit))
        print(f"drew {digit}: {main(page).get_by_test_id('stMetricDelta').inner_text()}")
        no_exception(page)


@pytest.mark.parametrize("data_env", ["empty data folder", "download refused"])
def test_without_the_data_the_app_says_how_to_get_it(page, start_app, tmp_path, data_env):
    empty, cache = tmp_path / "data", tmp_path / "cache"
    empty.mkdir()
    cache.mkdir()
    env = {"MNIST_PLAYGROUND_CACHE": str(cache), "MNIST_PLAYGROUND_MIRRORS": "http://127.0.0.1:9/",
           "MNIST_PLAYGROUND_DATA": str(empty) if data_env == "empty data folder" else ""}
    server = start_app(**env)
    open_app(page, server)
    error = main(page).get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("MNIST is not available.")
    if data_env == "empty data folder":
        expect(error).to_contain_text(f"{empty} does not hold the MNIST files")
    else:
        expect(error).to_contain_text("Could not download MNIST")
        expect(error).to_contain_text("127.0.0.1:9")
    expect(main(page).get_by_test_id("stAlertContentInfo")).to_contain_text(
        "start the app with MNIST_PLAYGROUND_DATA=/path/to/folder")
    expect(main(page).get_by_text("Status: untrained")).to_be_visible()
    no_exception(page)

    button(page, "Try again").click()
    expect(error).to_contain_text("MNIST is not available.")
    no_exception(page)
    go_to(page, "Train", "train")
    expect(main(page).get_by_test_id("stAlertContentError")).to_contain_text("MNIST is not available.")
    expect(page.get_by_role("slider")).to_have_count(0)  # st.stop(): no settings without data
    no_exception(page)
