"""The Draw page in a real browser: hard styles of digits drawn with the mouse; a test image put on
the canvas, sent back by it and predicted; strokes over it; the drawing kept with its label and
downloaded as an .npz; the Evaluate page's curve."""
import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.helpers import button, click_until, draw, idle, main, no_exception, open_app, whole_page
from tests.strokes import STYLES

pytestmark = pytest.mark.browser

PNG = b"data:image/png;base64,"
CAPTION = re.compile(r"^On the canvas: test image ([\d,]+) of MNIST, labelled (\d)\.$")


def go_to(page, title, url_path):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{url_path}(\?.*)?$"))
    expect(main(page).get_by_role("heading", name=title, exact=True)).to_be_visible()


def sent_drawing(payload) -> np.ndarray | None:
    """The canvas's picture in a message the browser sent to the server, RGBA (280, 280, 4), or None.

    The browser sends the canvas's latest picture with every rerun it asks for, so a message may
    carry an older one; the canvas sends a new one when its drawing changed.
    """
    raw = payload if isinstance(payload, bytes) else payload.encode()
    start = raw.find(PNG)
    if start < 0:
        return None
    start += len(PNG)
    png = base64.b64decode(raw[start:raw.index(b'"', start)])
    return np.asarray(Image.open(io.BytesIO(png)))


def wait_for_drawing(socket, sent, match):
    """The first picture the browser sent (``sent``: the messages so far) or sends for which ``match`` holds."""
    def carries(payload):
        picture = sent_drawing(payload)
        return picture is not None and match(picture)

    for payload in sent:
        if carries(payload):
            return sent_drawing(payload)
    return sent_drawing(socket.wait_for_event("framesent", carries))


def canvas_picture(page) -> np.ndarray:
    """What the canvas shows (its drawing layer), RGBA (280, 280, 4)."""
    url = page.locator("canvas.dc-canvas.lower-canvas").evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def blocks(picture):
    """The canvas's red channel, one value per 10 x 10 square: the 28 x 28 image drawn on it."""
    return picture[5::10, 5::10, 0]


def test_a_serifed_1_a_looped_9_and_a_test_image_on_the_canvas(page, app_server, mnist, tmp_path):
    """The handwriting preset, trained with one click, reads the styles a network trained on plain
    MNIST misreads most; a test image put on the canvas is sent back, predicted, kept, downloaded."""
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    open_app(page, app_server)
    go_to(page, "Draw", "draw")
    button(page, "Train the handwriting preset").click()
    expect(page.get_by_test_id("stSidebar").get_by_text(re.compile(r"^Model: trained"))).to_be_visible()
    expect(main(page).get_by_text("Draw a digit on the black square")).to_be_visible()
    idle(page)
    [socket] = sockets
    sent = []
    socket.on("framesent", lambda payload: sent.append(payload))
    caption = main(page).get_by_text(CAPTION)
    prediction = main(page).get_by_text(re.compile(r"^prediction: "))

    # the styles a network trained on plain MNIST misreads most
    for style in ("one_serif", "nine"):
        label, strokes_of = STYLES[style]
        draw(page, strokes_of())
        expect(prediction).to_have_text(f"prediction: {label}")
        no_exception(page)
        old_canvas = page.locator("canvas.upper-canvas").element_handle()
        click_until(page, button(page, "Clear"), lambda timeout: expect(prediction).to_have_count(0, timeout=timeout))
        page.wait_for_function("el => !el.isConnected", arg=old_canvas)  # Clear mounts a new canvas
        idle(page)

    right, seen = 0, set()
    for _ in range(3):  # a network this good names nearly every test image: allow one miss in three
        before = caption.inner_text() if caption.count() else None
        sent.clear()
        click_until(page, button(page, "Put a test image on the canvas"),
                    lambda timeout: expect(caption).not_to_have_text(before or "", timeout=timeout))
        index, label = CAPTION.match(caption.inner_text()).groups()
        index = int(index.replace(",", ""))
        assert int(label) == mnist.y_test[index] and index not in seen
        seen.add(index)
        # the canvas shows the image, and what it sends back to the server is the image
        image = mnist.x_test[index]
        wait_for_drawing(socket, sent, lambda picture: np.array_equal(blocks(picture), image))
        np.testing.assert_array_equal(blocks(canvas_picture(page)), image)
        expect(prediction).to_have_text(re.compile(r"^prediction: (\d|unsure \(\d or \d\))$"))
        idle(page)
        right += prediction.inner_text() == f"prediction: {label}"
        no_exception(page)
    assert right >= 2, f"{right} of 3 test images predicted right"

    # strokes go over the image, and the canvas sends both
    sent.clear()
    draw(page, [[(20 + 4 * k, 262) for k in range(10)]])  # a short line along the bottom edge
    picture = wait_for_drawing(socket, sent, lambda picture: picture[262, 20:56, 0].min() == 255)
    np.testing.assert_array_equal(blocks(picture)[:25], image[:25])  # the image, above the line
    idle(page)

    # keep it as what it truly is, then download the drawings
    expect(button(page, "Keep this drawing")).to_be_enabled()
    choice = main(page).get_by_test_id("stSelectbox")
    expect(choice).to_have_count(1)  # a rerun for a new drawing may still show the old one's for a moment
    option = page.get_by_role("option", name=re.compile(rf"^{label}( \(right\))?$"))
    click_until(page, choice, lambda timeout: expect(option).to_be_visible(timeout=timeout))  # the list opens
    option.click()
    idle(page)
    kept = main(page).get_by_text(re.compile(r"^\d of 1 right \(\d+%\); 199 more can be kept\.$"))
    click_until(page, button(page, "Keep this drawing"), lambda timeout: expect(kept).to_be_visible(timeout=timeout))
    expect(button(page, "Keep this drawing")).to_be_disabled()
    expect(main(page).get_by_test_id("stDataFrame")).to_be_visible()
    no_exception(page)
    whole_page(page, "draw")
    with page.expect_download() as download:
        button(page, "Download (.npz)").click()
    path = tmp_path / "drawings.npz"
    download.value.save_as(path)
    assert download.value.suggested_filename == "my-mnist-drawings.npz"
    with np.load(path, allow_pickle=False) as f:
        assert f["x"].shape == (1, 28, 28) and f["x"].dtype == np.uint8 and f["x"].max() == 255
        assert f["y"].tolist() == [int(label)] and f["y"].dtype == np.uint8

    # Evaluate shows how often the network would answer at the Draw page's threshold
    go_to(page, "Evaluate", "evaluate")
    expect(main(page).get_by_text(re.compile(r"^Unsure below 50%: it would answer"))).to_be_visible()
    expect(page.locator(".js-plotly-plot .gtitle", has_text="Coverage and accuracy")).to_be_visible()
    no_exception(page)
