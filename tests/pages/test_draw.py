"""The Draw page under AppTest: digits recognised, the top 3 and the "unsure" threshold, the learner's
kept drawings, a test image on the canvas, Clear, Fashion-MNIST, canvas images that are no drawing."""
import base64
import io
import json
import re
import struct
import zlib

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import app_test
from streamlit.testing.v1.element_tree import Selectbox

import mlp
from mlp import explain
from mlp.preprocess import canvas_to_mnist
from playground.canvas import PREFIX
from playground.drawings import LIMIT, Drawings
from tests import strokes
from tests.pages.helpers import array, chart_titled, drawing, open_page, texts


def test_draw_without_a_model_offers_to_train_one(app):
    open_page(app, "draw")
    assert app.title[0].value == "Draw"
    assert len(app.get("bidi_component")) == 1
    assert "No trained model yet" in app.info[0].value
    start = app.button(key="train_fast")
    assert start.label == "Train the handwriting preset" and not start.disabled
    assert "reads people's drawings" in app.info[0].value
    start.click().run()
    assert not app.exception
    job = app.session_state["job"]
    assert job.trainer.config == mlp.preset("handwriting")  # trained on distorted digits
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


# ----------------------------------------------------------------------------
# the top 3, the "I don't know" threshold


def seen_proba(app, model):
    """The probabilities the page computed for the drawing it shows."""
    return model.predict_proba(app.session_state["drawing"].reshape(1, -1))[0]


def test_the_top_3_classes_are_shown_with_their_probabilities(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    proba = seen_proba(app, fast_trainer.snapshot)
    best = np.argsort(-proba, kind="stable")[:3]
    [line] = [m for m in texts(app.markdown) if m.startswith("top 3: ")]
    assert line == "top 3: " + " · ".join(f"**{c}** {proba[c]:.0%}" for c in best)
    assert best[0] == 7


def a_doubtful_digit(app, model):
    """Open the page with a digit the network is less than 95 % sure of; return its probabilities."""
    for digit in [4, 9, 5, 2, 3, 8, 6, 1, 0, 7]:
        open_page(app, "draw", trainer=model, **{"canvas-0": drawing(digit)})
        proba = seen_proba(app, model.snapshot)
        if proba.max() < 0.95:
            return proba
    pytest.fail("the network is sure of every test digit")


def test_below_the_threshold_the_page_is_unsure_and_names_its_two_best_guesses(app, fast_trainer):
    proba = a_doubtful_digit(app, fast_trainer)
    first, second = np.argsort(-proba, kind="stable")[:2]
    above = int(proba.max() * 100) // 5 * 5 + 5  # the slider's next step above the top probability
    app.slider(key="unsure_slider").set_value(above).run()
    assert not app.exception
    assert f"prediction: unsure (**{first}** or **{second}**)" in texts(app.markdown)
    [unsure] = app.metric
    assert (unsure.label, unsure.value) == ("Unsure", f"{first} or {second}?")
    assert unsure.proto.delta == f"less than {above}% sure"
    assert not [m for m in texts(app.markdown) if m.startswith("prediction: **")]

    app.slider(key="unsure_slider").set_value(above - 5).run()  # at or below the top probability: sure
    assert f"prediction: **{first}**" in texts(app.markdown)
    assert [(m.label, m.value) for m in app.metric] == [("Prediction", str(first))]
    assert app.session_state["unsure_below"] == above - 5


def test_the_threshold_starts_at_50_percent(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    assert app.slider(key="unsure_slider").value == 50


# ----------------------------------------------------------------------------
# "That was a ...": the learner's drawings


class KeptMedia(MediaFileManager):
    """Streamlit's own media manager, kept after the run, so that a test can press a download."""
    last = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        KeptMedia.last = self


@pytest.fixture
def downloads(monkeypatch):
    """``downloads(at, key)``: the bytes the download button ``key`` sends when it is pressed."""
    monkeypatch.setattr(app_test, "MediaFileManager", KeptMedia)

    def press(at, key):
        [button] = [d for d in at.get("download_button") if d.key == key]
        url = button.proto.url or KeptMedia.last.execute_deferred(button.proto.deferred_file_id)  # or on the click
        return KeptMedia.last.read_file(url.rsplit("/", 1)[-1].split(".")[0]).content

    return press


def truth(app):
    [select] = [s for s in app.selectbox if s.key.startswith("truth-")]
    return select


def score(app):
    return [m for m in texts(app.markdown) if " right** (" in m]


def keep(app, label=None):
    if label is not None:
        truth(app).set_value(label)
    app.button(key="keep").click().run()
    assert not app.exception, [e.value for e in app.exception]


def test_a_drawing_kept_as_right_once_however_often_the_page_reruns(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    assert truth(app).value == 7 and truth(app).format_func(7) == "7 (right)"  # the prediction by default
    assert not app.dataframe and not app.get("download_button")
    keep(app)
    for _ in range(3):  # reruns: a slider moved, the training region, a stroke that changes nothing
        app.slider(key="stroke_width").set_value(24).run()
        app.run()
    assert score(app) == ["**1 of 1 right** (100%); 199 more can be kept."]
    [table] = app.dataframe
    assert table.value[["predicted", "true", "right"]].values.tolist() == [["7", "7", True]]
    assert app.button(key="keep").disabled
    assert "This drawing is kept among your drawings below." in texts(app.caption)


def test_a_correction_counts_as_a_miss_and_the_npz_holds_the_drawings(app, fast_trainer, downloads):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    keep(app)
    seven = app.session_state["drawing"]
    app.session_state["canvas-0"] = drawing(1)
    app.run()
    assert truth(app).value == 1 and not app.button(key="keep").disabled  # a new drawing, a new choice
    keep(app, 4)  # "that was a 4"
    assert score(app) == ["**1 of 2 right** (50%); 198 more can be kept."]
    assert app.dataframe[0].value[["predicted", "true", "right"]].values.tolist() == [["1", "4", False],
                                                                                      ["7", "7", True]]
    with np.load(io.BytesIO(downloads(app, "drawings_download")), allow_pickle=False) as f:
        assert f["x"].shape == (2, 28, 28) and f["x"].dtype == np.uint8
        assert f["y"].tolist() == [7, 4] and f["predicted"].tolist() == [7, 1] and f["y"].dtype == np.uint8
        np.testing.assert_array_equal(f["x"][0], np.rint(seven * 255).astype(np.uint8))
    app.button(key="clear_drawings").click().run()
    assert not score(app) and not app.dataframe


def test_the_list_of_drawings_is_bounded_and_a_refusal_keeps_it(app, fast_trainer, mnist):
    full = Drawings(mnist.classes)
    for i in range(LIMIT):
        full.add(mnist.x_test[i], int(mnist.y_test[i]), int(mnist.y_test[i]))
    open_page(app, "draw", trainer=fast_trainer, drawings={"mnist": full}, **{"canvas-0": drawing(7)})
    keep(app)
    assert texts(app.error) == [(f"{LIMIT} drawings are kept, as many as a tab keeps: download them and "
                                 "clear the list to keep more.")]
    assert len(full) == LIMIT and len(app.dataframe[0].value) == LIMIT
    assert score(app) == [f"**{LIMIT} of {LIMIT} right** (100%); 0 more can be kept."]


class SentAsIs(Selectbox):
    """A select box whose browser sends a value of its own, as anyone can."""
    sent = None

    @property
    def _widget_state(self):
        ws = WidgetState()
        ws.id, ws.string_value = self.id, self.sent
        return ws


@pytest.mark.parametrize("sent", ["11", "<b>4</b>", "7 (right)x", "-1"])
def test_a_label_that_is_no_class_never_reaches_the_drawings(app, fast_trainer, downloads, sent):
    """Streamlit puts a select box that was sent no option of its own back to its default (the
    prediction); the list of drawings refuses any label but a class on its own too
    (tests/playground/test_drawings.py)."""
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    select = truth(app)
    select.__class__ = SentAsIs
    select.sent = sent
    keep(app)
    assert truth(app).value == 7
    assert app.dataframe[0].value[["predicted", "true"]].values.tolist() == [["7", "7"]]
    with np.load(io.BytesIO(downloads(app, "drawings_download")), allow_pickle=False) as f:
        assert f["y"].tolist() == [7]


# ----------------------------------------------------------------------------
# a test image on the canvas


def painted(initial):
    """The canvas's picture of an initial drawing of grey squares, as a browser paints it: RGBA."""
    img = np.zeros((280, 280, 4), np.uint8)
    img[..., 3] = 255
    for square in initial["objects"]:
        assert square["type"] == "Rect" and square["strokeWidth"] == 0
        v = int(re.fullmatch(r"rgb\((\d+),\1,\1\)", square["fill"]).group(1))
        x, y, w, h = (square[k] for k in ("left", "top", "width", "height"))
        img[y:y + h, x:x + w, :3] = v
    return img


def initial(app):
    [canvas] = app.get("bidi_component")
    return canvas.key, json.loads(canvas.proto.json)["initialDrawing"]


def test_a_test_image_goes_on_the_canvas_and_is_predicted(app, fast_trainer, mnist):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(1)})
    app.button(key="test_image_button").click().run()
    assert not app.exception
    [caption] = [c for c in texts(app.caption) if c.startswith("On the canvas: test image ")]
    found = re.fullmatch(r"On the canvas: test image ([\d,]+) of MNIST, labelled (\d)\.", caption)
    index, label = found.groups()
    index = int(index.replace(",", ""))
    assert int(label) == mnist.y_test[index]
    key, drawn = initial(app)
    assert key == "canvas-0"  # the same canvas, drawn afresh from the image: it sends the image back
    picture = painted(drawn)
    np.testing.assert_array_equal(picture[::10, ::10, 0], mnist.x_test[index])  # the image, 10 x 10 a pixel

    # before the canvas sends its picture back, the page shows the prediction of the same pixels
    expected = fast_trainer.snapshot.predict_proba(canvas_to_mnist(picture).reshape(1, -1))[0].argmax()
    app.slider(key="unsure_slider").set_value(0).run()
    assert f"prediction: **{expected}**" in texts(app.markdown)
    np.testing.assert_array_equal(app.session_state["drawing"], canvas_to_mnist(picture))  # not the 1 before
    # and once it has, of what it sent (the image and any strokes over it)
    app.session_state["canvas-0"] = {"drawing": {"raw": drawn, "data": strokes.data_url(picture)},
                                     "backgroundFit": None}
    app.run()
    assert f"prediction: **{expected}**" in texts(app.markdown)
    np.testing.assert_array_equal(app.session_state["drawing"], canvas_to_mnist(picture))
    with_a_stroke = np.maximum(picture, strokes.render([[(20, 250), (60, 250)]]))
    app.session_state["canvas-0"] = {"drawing": {"raw": drawn, "data": strokes.data_url(with_a_stroke)},
                                     "backgroundFit": None}
    app.run()
    np.testing.assert_array_equal(app.session_state["drawing"], canvas_to_mnist(with_a_stroke))

    app.button(key="clear").click().run()  # Clear takes the image off too
    assert initial(app) == ("canvas-1", {"objects": [], "background": "#000000"})
    assert not [c for c in texts(app.caption) if c.startswith("On the canvas")]
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]


def test_another_test_image_replaces_the_first(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer)
    app.button(key="test_image_button").click().run()
    first = initial(app)[1]
    app.button(key="test_image_button").click().run()
    assert initial(app)[1] != first and len(app.get("bidi_component")) == 1
    assert len([c for c in texts(app.caption) if c.startswith("On the canvas")]) == 1


def test_why_shows_the_saliency_and_the_ink_toward_another_digit(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    assert len(app.get("plotly_chart")) == 1  # off at first: the page stays light
    app.toggle(key="draw_why").set_value(True).run()
    assert not app.exception
    model, image = fast_trainer.snapshot, app.session_state["drawing"]
    saliency = chart_titled(app, "Saliency of 7")
    np.testing.assert_allclose(array(saliency["data"][1]["z"]), explain.saliency(model, image, 7)[::-1],
                               rtol=1e-5, atol=1e-9)
    target = app.selectbox(key="why_target")
    second = int(np.argsort(-model.predict_proba(image.reshape(1, -1))[0])[1])
    assert target.value == second
    app.selectbox(key="why_target").set_value(3).run()
    nudge = explain.toward(model, image, 3)
    change = chart_titled(app, "Ink to add (red) and remove (blue) for a 3")
    np.testing.assert_allclose(array(change["data"][1]["z"]), nudge.change[::-1], rtol=1e-5, atol=1e-7)
    assert nudge.proba[-1][3] > nudge.proba[0][3]
    line = next(m.value for m in app.markdown if m.value.startswith("toward **3**"))
    assert f"{nudge.proba[-1][3]:.0%} after {nudge.steps} small steps" in line
    assert 0 <= nudge.image.min() and nudge.image.max() <= 1
