"""The Draw page under AppTest: digits recognised, Clear, Fashion-MNIST, canvas images that are no drawing."""
import base64
import io
import struct
import zlib

import numpy as np
import pytest

import mlp
from playground.canvas import PREFIX
from tests.pages.helpers import drawing, open_page, texts


def test_draw_without_a_model_offers_to_train_one(app):
    open_page(app, "draw")
    assert app.title[0].value == "Draw"
    assert len(app.get("bidi_component")) == 1
    assert "No trained model yet" in app.info[0].value
    start = app.button(key="train_fast")
    assert start.label == "Train the fast preset" and not start.disabled
    start.click().run()
    assert not app.exception
    job = app.session_state["job"]
    assert job.trainer.config == mlp.preset("fast")
    assert app.button(key="train_fast").disabled  # one job at a time
    assert app.get("progress")[0].proto.text == "Training in the background…"


def test_draw_with_a_model_and_an_empty_canvas(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer)
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]
    assert not app.get("image") and "prediction:" not in " ".join(texts(app.markdown))


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_a_drawn_digit_is_recognised(app, fast_trainer, digit):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(digit)})
    assert f"prediction: **{digit}**" in texts(app.markdown)
    assert app.metric[0].label == "Prediction" and app.metric[0].value == str(digit)
    image = app.get("image")
    assert len(image) == 1 and image[0].captions == ["What the network sees (28 × 28)"]
    assert len(app.get("plotly_chart")) == 1  # the probabilities
    assert not app.info


def test_clear_empties_the_canvas(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    assert "prediction: **7**" in texts(app.markdown)
    app.button(key="clear").click().run()
    assert not app.exception
    assert app.session_state["canvas_version"] == 1
    assert [c.key for c in app.get("bidi_component")] == ["canvas-1"]
    assert "prediction: **7**" not in texts(app.markdown)
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]


def test_draw_on_fashion_mnist_says_drawing_is_for_digits(app):
    open_page(app, "draw", dataset="fashion-mnist")
    warnings = texts(app.warning)
    assert len(warnings) == 1 and warnings[0].startswith("Drawing is for digits")
    assert "No trained model yet" in app.info[0].value


def test_a_digit_model_is_not_used_for_fashion_mnist(app, fast_trainer):
    open_page(app, "draw", dataset="fashion-mnist", trainer=fast_trainer, **{"canvas-0": drawing(1)})
    assert "prediction:" not in " ".join(texts(app.markdown))
    assert "No trained model yet" in app.info[0].value


# ----------------------------------------------------------------------------
# canvas images that are not drawings


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def big_png(side):
    deflate, row = zlib.compressobj(9), b"\0" * (1 + 4 * side)
    data = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def la_png():
    buf = io.BytesIO()
    from PIL import Image
    Image.fromarray(np.zeros((280, 280, 2), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def canvas(data):
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data}, "backgroundFit": None}


HOSTILE = {
    "8000x8000 PNG": PREFIX + base64.b64encode(big_png(8000)).decode(),
    "random bytes": PREFIX + base64.b64encode(np.random.default_rng(0).bytes(3000)).decode(),
    "LA-mode PNG": PREFIX + base64.b64encode(la_png()).decode(),
    "not base64": PREFIX + "%%%",
    "a number": 12,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_canvas_image_that_is_not_a_drawing_is_ignored_with_a_note(app, fast_trainer, name):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": canvas(HOSTILE[name])})
    assert not app.exception
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]
    [note] = [c for c in texts(app.caption) if c.startswith("The drawing was ignored: ")]
    assert "\n" not in note and len(note) < 160
    assert "prediction:" not in " ".join(texts(app.markdown))
    app.session_state["canvas-0"] = drawing(7)  # the next real drawing is read as always
    app.run()
    assert "prediction: **7**" in texts(app.markdown)
    assert not [c for c in texts(app.caption) if c.startswith("The drawing was ignored")]
