"""Evaluate, Inspect and Compare runs in a real browser; a shared link on a fresh server; bad model files."""
import io
import json
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from mlp import MLP
from tests import strokes
from tests.browser.helpers import button, draw, idle, main, no_exception, open_app, slider, whole_page

pytestmark = pytest.mark.browser


TRACES = ".js-plotly-plot .scatterlayer .trace"
LEGEND = ".js-plotly-plot .legend .traces"
STATUS = re.compile(r"^Model: trained, test accuracy \d+\.\d%$")


def go_to(page, title, url_path, heading=None):
    """Open a page from the sidebar; its address may carry a query (the tab's sid, the Train settings)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{url_path}(\?.*)?$"))
    expect(main(page).get_by_role("heading", name=heading or title, exact=True)).to_be_visible()


def press(page, label, key, times=1):
    """Move a slider with the keyboard, one key at a time.

    Each change is awaited in the address bar (the Train page writes its settings there) before
    the next key: keys pressed faster than the page reruns can be undone by the older settings
    of the address.
    """
    slider_ = slider(page, label)
    slider_.focus()
    for _ in range(times):
        url = page.url
        page.keyboard.press(key)
        page.wait_for_function("url => window.location.href !== url", arg=url)
    return slider_


def legend(page):
    return page.locator(LEGEND).evaluate_all("items => items.map(item => item.textContent)")


def wait_for_count(page, selector, n):
    page.wait_for_function(f"document.querySelectorAll('{selector}').length === {n}")


def status(page):
    return page.get_by_test_id("stSidebar").get_by_text(re.compile(r"^Model: "))


def train(page):
    """Press Train and wait until this run has finished."""
    button(page, "Train").click()
    expect(button(page, "Stop training")).to_be_enabled()  # this run started (two epochs take seconds)
    expect(main(page).get_by_test_id("stAlertContentSuccess")).to_contain_text("Done:", timeout=600_000)
    expect(button(page, "Train")).to_be_enabled()
    expect(status(page)).to_have_text(STATUS)
    no_exception(page)


def small_runs_settings(page):
    """10,000 training images (in More settings) and 2 epochs."""
    main(page).get_by_text("More settings").click()
    press(page, "Training images", "ArrowLeft", times=3)
    expect(main(page).get_by_text(re.compile(r"to train on 10,000 images$"))).to_be_visible()
    press(page, "Epochs", "Home")
    epochs = press(page, "Epochs", "ArrowRight")
    expect(epochs).to_have_attribute("aria-valuetext", "2")


def table_rows(page):
    """The rows of the runs table, the header row included."""
    return main(page).get_by_test_id("stDataFrame").locator('[role="row"]')


def test_compare_two_runs_evaluate_inspect_and_reload(page, app_server):
    open_app(page, app_server)
    go_to(page, "Train", "train")
    small_runs_settings(page)
    rate = slider(page, "Learning rate")
    expect(rate).to_have_attribute("aria-valuetext", "0.002")
    train(page)
    press(page, "Learning rate", "ArrowRight")
    expect(rate).to_have_attribute("aria-valuetext", "0.005")
    train(page)

    # two curves, two rows
    go_to(page, "Compare runs", "compare")
    labels = ["#1 128 64 · adam · lr 0.002", "#2 128 64 · adam · lr 0.005"]
    wait_for_count(page, TRACES, 2)
    wait_for_count(page, LEGEND, 2)
    assert legend(page) == labels
    expect(table_rows(page)).to_have_count(3)
    expect(table_rows(page).nth(1)).to_contain_text(labels[1])
    expect(table_rows(page).nth(2)).to_contain_text(labels[0])
    expect(main(page).get_by_role("button", name="History (CSV)")).to_be_visible()
    expect(main(page).get_by_role("button", name="Config (JSON)")).to_be_visible()
    no_exception(page)
    whole_page(page, "compare")

    # Evaluate: a click on a cell of the confusion matrix shows its images; the lists can still be changed
    go_to(page, "Evaluate", "evaluate")
    cell = main(page).get_by_text(re.compile(r"test images of \d predicted as \d"))
    expect(cell).to_have_text(re.compile(r"^\d+ test images of 4 predicted as 9"))
    chart = page.locator(".js-plotly-plot").first
    heatmap = chart.locator(".nsewdrag").first
    expect(heatmap).to_be_visible()
    for attempt in range(3):  # the cell is found where the matrix is once the page has settled
        idle(page)
        box = heatmap.bounding_box()
        x, y = box["x"] + box["width"] * 7.5 / 10, box["y"] + box["height"] * 2.5 / 10  # true 2, predicted 7
        page.mouse.move(x - 10, y - 10)
        page.mouse.move(x, y, steps=5)
        try:
            expect(chart.locator(".hoverlayer")).to_contain_text("true 2, predicted 7", timeout=20_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    page.mouse.click(x, y)
    expect(cell).to_have_text(re.compile(r"^\d+ test images of 2 predicted as 7"))
    main(page).get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="3", exact=True).click()
    expect(cell).to_have_text(re.compile(r"^\d+ test images of 3 predicted as 7"))
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    expect(cell).to_have_text(re.compile(r"^\d+ test images of 3 predicted as 7"))  # it stays
    no_exception(page)
    whole_page(page, "evaluate")

    go_to(page, "Inspect", "inspect")
    expect(main(page).get_by_text("What the first layer looks for")).to_be_visible()
    expect(main(page).get_by_test_id("stMetricLabel").filter(has_text="Dead units")).to_have_count(2)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 10")
    no_exception(page)
    whole_page(page, "inspect")

    # a reload finds the runs and the current model again: the browser holds their key, the address does not
    go_to(page, "Compare runs", "compare")
    wait_for_count(page, TRACES, 2)
    url, model_line = page.url, status(page).inner_text()
    assert "sid=" not in url and model_line.startswith("Model: trained")
    page.reload()
    expect(main(page).get_by_role("heading", name="Compare runs", exact=True)).to_be_visible()
    wait_for_count(page, LEGEND, 2)
    assert legend(page) == labels
    expect(table_rows(page)).to_have_count(3)
    expect(status(page)).to_have_text(model_line)
    assert page.url == url
    no_exception(page)

    # the same address in another browser (a copied link) opens an empty workspace of its own
    stranger = page.context.browser.new_context(viewport={"width": 1400, "height": 950})
    try:
        other = stranger.new_page()
        other.goto(url)
        expect(main(other).get_by_role("heading", name="Compare runs", exact=True)).to_be_visible()
        expect(main(other).get_by_text(re.compile(r"^No runs yet\."))).to_be_visible()
        expect(status(other)).to_have_text("Model: untrained")
        no_exception(other)
    finally:
        stranger.close()
    expect(status(page)).to_have_text(model_line)  # and this browser keeps its own
    page.reload()
    wait_for_count(page, LEGEND, 2)
    assert legend(page) == labels


def test_a_shared_link_opened_first_on_a_fresh_server(page, start_app, shared_data_dir):
    server = start_app(MNIST_PLAYGROUND_DATA=str(shared_data_dir))  # nobody has visited it yet
    page.goto(f"{server.url}/train?layers=256-32&lr=0.01&epochs=3&batch=64&images=5000&solver=momentum")
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(main(page).get_by_role("heading", name="Train", exact=True)).to_be_visible()
    expect(main(page).get_by_text(re.compile(r"^Network 784 → 256 → 32 → 10 · "))).to_be_visible()
    expect(slider(page, "Hidden layers")).to_have_attribute("aria-valuetext", "2")
    expect(slider(page, "Neurons in layer 1")).to_have_attribute("aria-valuetext", "256")
    expect(slider(page, "Neurons in layer 2")).to_have_attribute("aria-valuetext", "32")
    expect(slider(page, "Learning rate")).to_have_attribute("aria-valuetext", "0.01")
    expect(slider(page, "Epochs")).to_have_attribute("aria-valuetext", "3")
    expect(slider(page, "Batch size")).to_have_attribute("aria-valuetext", "64")
    main(page).get_by_text("More settings").click()
    expect(slider(page, "Training images")).to_have_attribute("aria-valuetext", "5,000")
    expect(main(page).get_by_role("radio", name="momentum")).to_be_checked()
    expect(main(page).get_by_text(re.compile(r"to train on 5,000 images$"))).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Model: untrained")).to_be_visible()  # app.py's frame
    expect(main(page).get_by_test_id("stAlertContentWarning")).to_have_count(0)
    assert re.search(r"[?&]lr=0\.01(&|$)", page.url) and re.search(r"[?&]layers=256-32(&|$)", page.url)
    no_exception(page)

    # a hostile link: the defaults, and a warning that names what was refused, as plain text
    other = page.context.new_page()
    other.goto(f"{server.url}/train?lr=1e9&seed=abc&layers=9999&epochs=10000&{MARKDOWN_LINK}")
    warning = main(other).get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("The link held values that are not allowed here, so their defaults "
                                    "are used:")
    for refused in ("layers='9999'", "lr='1e9'", "seed='abc'", "epochs='10000'",
                    "alpha='[Sign in again](http://example.org)'", "dropout='![](http://example.org/b.png)'"):
        expect(warning).to_contain_text(refused)
    expect(other.locator(FROM_EXAMPLE_ORG)).to_have_count(0)  # no link, no image fetched from elsewhere
    expect(slider(other, "Learning rate")).to_have_attribute("aria-valuetext", "0.002")
    expect(slider(other, "Neurons in layer 1")).to_have_attribute("aria-valuetext", "128")
    expect(slider(other, "Epochs")).to_have_attribute("aria-valuetext", "8")
    expect(other.get_by_test_id("stException")).to_have_count(0)
    other.close()


# Markdown in a link's values and a file's name: shown as text, never as a link or an image
MARKDOWN_LINK = ("alpha=%5BSign%20in%20again%5D(http%3A%2F%2Fexample.org)"
                 "&dropout=!%5B%5D(http%3A%2F%2Fexample.org%2Fb.png)")
FROM_EXAMPLE_ORG = "a[href*='example.org'], img[src*='example.org']"


def npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


WRONG_SHAPES = npz(meta=np.array(json.dumps({"layer_sizes": [784, 16, 10], "activation": "relu"})),
                   W0=np.zeros((10, 16), np.float32), b0=np.zeros(16, np.float32),
                   W1=np.zeros((16, 10), np.float32), b1=np.zeros(10, np.float32))


def test_a_bad_model_file_is_refused_and_the_model_still_draws(page, app_server, tmp_path):
    open_app(page, app_server)
    go_to(page, "Train", "train")
    small_runs_settings(page)
    train(page)
    before = status(page).inner_text()

    go_to(page, "Compare runs", "compare")
    with page.expect_download() as download:  # the file is written when the button is pressed
        main(page).get_by_role("button", name="Download the current model (.npz)").click()
    model, info = MLP.load(download.value.path())
    assert model.layer_sizes == [784, 128, 64, 10] and info["dataset"] == "mnist"
    assert info["config"]["train_size"] == 10000 and len(info["history"]) > 0
    upload = main(page).get_by_test_id("stFileUploaderDropzoneInput")
    text = tmp_path / "[notes](www.example.org) www.example.org.npz"
    text.write_text("these are notes, not a model\n")
    upload.set_input_files(str(text))
    error = main(page).get_by_test_id("stAlertContentError")
    expect(error).to_have_text("Could not load [notes](www.example.org) www.example.org.npz: not a model "
                               "file: expected an .npz file saved by MNIST Playground. The current model is "
                               "unchanged.")
    expect(page.locator("a[href*='example.org']")).to_have_count(0)
    expect(status(page)).to_have_text(before)
    no_exception(page)

    upload.set_input_files(files=[{"name": "shapes.npz", "mimeType": "application/octet-stream",
                                   "buffer": WRONG_SHAPES}])
    expect(error).to_have_text("Could not load shapes.npz: W0 should be a float array of shape (784, 16), "
                               "found (10, 16). The current model is unchanged.")
    expect(status(page)).to_have_text(before)
    no_exception(page)

    # the trained model still answers on the Draw page
    go_to(page, "Draw", "draw")
    expect(main(page).get_by_text("Draw a digit on the black square")).to_be_visible()
    draw(page, strokes.DIGITS[7]())
    prediction = main(page).get_by_text(re.compile(r"^prediction: "))
    seven = re.compile(r"^prediction: (7|unsure \(7 or \d\))$")  # this small model may be less than 50 % sure
    expect(prediction).to_have_text(seven)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    expect(prediction).to_have_text(seven)
    expect(status(page)).to_have_text(before)
    no_exception(page)
