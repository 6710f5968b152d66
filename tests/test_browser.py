"""The app in a real browser: Debian's chromium driven by Playwright against `streamlit run app.py`.

Set MNIST_PLAYGROUND_SCREENSHOTS=docs to save a screenshot of each page into docs/ on the way.
"""
import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

import strokes

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = os.environ.get("MNIST_PLAYGROUND_SCREENSHOTS")
TIMEOUT = 120_000    # ms, for ordinary waits: this machine may be busy with other work
TRAINING = 900_000   # ms, for a whole training run on the full data set (minutes on a busy machine)
MAIN = '[data-testid="stMainBlockContainer"]'
# The points on the fullest chart: while training, the last curves are drawn over the ones before.
POINTS_JS = """() => Math.max(0, ...Array.from(document.querySelectorAll('.js-plotly-plot'),
                                           chart => chart.querySelectorAll('.scatterlayer .point').length))"""
# From now on, count the animation frames in which no chart with points shows, and the charts drawn.
WATCH_CHART_JS = """() => {
    const watch = window.chartWatch = {blank: 0, frames: 0, drawn: new Set()};
    const look = () => {
        let shown = false;
        for (const chart of document.querySelectorAll('.js-plotly-plot')) {
            watch.drawn.add(chart);
            shown ||= chart.getBoundingClientRect().height > 100 && getComputedStyle(chart).visibility !== 'hidden'
                       && chart.querySelector('.scatterlayer .point') !== null;
        }
        watch.frames += 1;
        watch.blank += shown ? 0 : 1;
        requestAnimationFrame(look);
    };
    look();
}"""

# The update number in the Train page's progress text ("running: update 1,234 of 3,752 · ..."), or -1.
UPDATE_JS = f"""() => {{
    const bar = document.querySelector('{MAIN} [data-testid="stProgress"]');
    const m = bar && bar.innerText.match(/update ([\\d,]+) of/);
    return m ? parseInt(m[1].replace(/,/g, ''), 10) : -1;
}}"""


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 950}}


@pytest.fixture(autouse=True)
def on_failure_screenshot(page, request):
    """Keep a screenshot of the page in test-results/<test name>.png when the test failed."""
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=str(ROOT / "test-results" / f"{name}.png"), full_page=True)


def main(page):
    return page.locator(MAIN)


def no_exception(page):
    expect(page.get_by_test_id("stException")).to_have_count(0)


def snapshot(page, name, full_page=True):
    """Save a screenshot of the page as <MNIST_PLAYGROUND_SCREENSHOTS>/<name>.png, if that is set."""
    if SHOTS:
        folder = ROOT / SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        page.mouse.move(0, 0)  # no hover effects or tooltips
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def open_app(page, server):
    page.goto(server.url)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(page.get_by_role("heading", name="MNIST Playground")).to_be_visible()


def go_to(page, title, url_path, heading=None):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{url_path}(\?.*)?$"))
    expect(main(page).get_by_role("heading", name=heading or title, exact=True)).to_be_visible()


def slider(page, label):
    return main(page).get_by_role("group", name=label, exact=True).get_by_role("slider")


def press(page, label, key, times=1):
    """Move a slider with the keyboard."""
    slider_ = slider(page, label)
    slider_.focus()
    for _ in range(times):
        page.keyboard.press(key)
    return slider_


def button(page, name):
    return main(page).get_by_role("button", name=name, exact=True)


def update_number(page):
    return page.evaluate(UPDATE_JS)


def wait_for_update_above(page, n, timeout=TIMEOUT):
    page.wait_for_function(f"({UPDATE_JS})() > {n}", timeout=timeout)
    return update_number(page)


def wait_for_points(page, n, timeout=TIMEOUT):
    """Wait until the chart has at least ``n`` points; return the count seen then (counting again
    later could catch Plotly in the middle of a redraw, with no points at all)."""
    found = page.wait_for_function(f"""() => {{
        const count = ({POINTS_JS})();
        return count >= {n} ? count : 0;
    }}""", timeout=timeout)
    return found.json_value()


def draw(page, digit_strokes):
    """Draw strokes on the canvas with the mouse, pressing the button down for each stroke."""
    canvas = page.locator("canvas.upper-canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    for stroke in digit_strokes:
        page.mouse.move(x0 + stroke[0][0], y0 + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x0 + x, y0 + y)
        page.mouse.up()


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
        if digit == 7:
            snapshot(page, "draw")


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
