"""Helpers of the real-browser tests: the pages, their sliders and buttons, waits, drawing, screenshots."""
import contextlib
import os
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
# MNIST_PLAYGROUND_SCREENSHOTS=docs saves a screenshot of each page into docs/ on the way
SHOTS = os.environ.get("MNIST_PLAYGROUND_SCREENSHOTS")
TIMEOUT = 120_000    # ms, for ordinary waits: this machine may be busy with other work
MAIN = '[data-testid="stMainBlockContainer"]'
# The points on the fullest chart: while training, the last curves are drawn over the ones before.
POINTS_JS = """() => Math.max(0, ...Array.from(document.querySelectorAll('.js-plotly-plot'),
                                           chart => chart.querySelectorAll('.scatterlayer .point').length))"""


# The update number in the Train page's progress text ("running: update 1,234 of 3,752 · ..."), or -1.
UPDATE_JS = f"""() => {{
    const bar = document.querySelector('{MAIN} [data-testid="stProgress"]');
    const m = bar && bar.innerText.match(/update ([\\d,]+) of/);
    return m ? parseInt(m[1].replace(/,/g, ''), 10) : -1;
}}"""


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


@contextlib.contextmanager
def tall(page):
    """The window made as tall as the main block for a while (Streamlit scrolls inside it), once the
    script has finished and with the mouse out of the way."""
    size = page.viewport_size
    height = page.evaluate("""() => {
        const block = document.querySelector('[data-testid="stMainBlockContainer"]');
        return Math.ceil(block.getBoundingClientRect().top + block.scrollHeight + 40);
    }""")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    try:
        expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
        page.mouse.move(0, 0)
        yield
    finally:
        page.set_viewport_size(size)


def whole_page(page, name):
    """Save the whole page as <MNIST_PLAYGROUND_SCREENSHOTS>/<name>.png, if that is set.

    Streamlit scrolls inside its main block, so the window is first made as tall as that block;
    the shot waits for the script to finish and the images to load, with no help text shown."""
    if not SHOTS:
        return
    with tall(page):
        page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                               ".every(img => img.complete && img.naturalWidth > 0)")
        expect(page.get_by_test_id("stTooltipContent")).to_have_count(0)
        snapshot(page, name)


def part(page, key, name):
    """Save the container of the page with key ``key`` (st.container(key=...)) as
    <MNIST_PLAYGROUND_SCREENSHOTS>/<name>.png, if that is set; the window is made tall enough."""
    if not SHOTS:
        return
    with tall(page):
        folder = ROOT / SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        main(page).locator(f".st-key-{key}").screenshot(path=str(folder / f"{name}.png"))


def open_app(page, server):
    page.goto(server.url)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(page.get_by_role("heading", name="MNIST Playground")).to_be_visible()


def slider(page, label):
    return main(page).get_by_role("group", name=label, exact=True).get_by_role("slider")


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


# whether the canvas shows any ink (its picture: white strokes on black)
INKED_JS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                     for (let i = 0; i < d.length; i += 4) if (d[i] > 128) return true; return false; }"""


def idle(page):
    """Wait until no script runs for the page (what it shows is the last run's)."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def draw(page, digit_strokes, attempts=3):
    """Draw strokes on the canvas with the mouse, pressing the button down for each stroke.

    Strokes drawn while the page reruns (just after Clear, or the rerun a finished training asks
    for) may be lost, the canvas being mounted or redrawn meanwhile: if none shows on the canvas
    within a few seconds, wait for the page and draw again."""
    for attempt in range(attempts):
        idle(page)
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
        drawing = page.locator("canvas.dc-canvas.lower-canvas").element_handle()
        try:
            page.wait_for_function(f"({INKED_JS})", arg=drawing, timeout=5_000)
            return
        except PlaywrightTimeoutError:
            pass
    raise AssertionError(f"the canvas shows none of the strokes drawn on it, {attempts} times")


def click_until(page, target, done, attempts=3, timeout=20_000):
    """Click ``target`` once the page is idle, until ``done(timeout)`` (an assertion waiting up to
    ``timeout`` ms) holds. On a busy machine a click that came as a run ended was seen to have
    no effect at all, as if lost between two runs; a learner would click again, and so does
    this, up to ``attempts`` times."""
    for attempt in range(attempts):
        idle(page)
        target.click()
        try:
            done(timeout)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise
