"""Evaluate, Inspect and Compare runs under AppTest with the real data, and settings that come in a link."""
import base64
import io
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest, app_test

import mlp
import strokes
from mlp import analysis
from playground import link as settings
from mlp.metrics import log_loss
from mlp.preprocess import canvas_to_mnist, to_float
from test_pages import ROOT, ServerPages, app, fast_trainer, open_page, texts, wait_for_job  # noqa: F401


def charts(at):
    """Every Plotly chart of the page, as the figure dicts the browser gets."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(value):
    """A Plotly array as NumPy: a plain list, or the typed form {"dtype", "bdata", "shape"} of NumPy data."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.astype(np.int64 if flat.dtype.kind in "iub" else np.float64).reshape(shape)
    return np.array(value, dtype=float)


def chart_titled(at, start):
    found = [c for c in charts(at) if ((c["layout"].get("title") or {}).get("text") or "").startswith(start)]
    assert len(found) == 1, [(c["layout"].get("title") or {}).get("text") for c in charts(at)]
    return found[0]


def metrics(at):
    return {m.label: m.value for m in at.metric}


def captions(at):
    return [c for image in at.get("image") for c in image.captions]


def sidebar_status(at):
    return at.sidebar.caption[0].value


@pytest.fixture(scope="module")
def test_proba(fast_trainer, mnist):
    return analysis.predict_all(fast_trainer.snapshot, mnist.x_test)


# ----------------------------------------------------------------------------
# without a model


@pytest.mark.parametrize("name, title", [("evaluate", "Evaluate"), ("inspect", "Inspect")])
def test_without_a_model_the_page_says_to_train_one(app, name, title):
    open_page(app, name)
    assert app.title[0].value == title
    assert texts(app.info) == ["No trained model for this data set yet: train one on the **Train** page "
                               "first."]
    assert not app.get("plotly_chart") and not app.metric and not app.error


def test_compare_without_runs_says_how_to_get_some(app):
    open_page(app, "compare")
    assert app.title[0].value == "Compare runs"
    assert texts(app.info)[0].startswith("No runs yet. Every run you train (finished or stopped) is kept")
    assert "Train a model first to download it." in texts(app.caption)
    assert not app.get("plotly_chart") and not app.dataframe and not app.get("download_button")
    assert app.file_uploader(key="model_upload").label.startswith("Load a model (.npz")
    assert not app.error


@pytest.mark.parametrize("name", ["evaluate", "inspect"])
def test_a_digit_model_is_not_shown_for_fashion_mnist(app, fast_trainer, name):
    open_page(app, name, trainer=fast_trainer, dataset="fashion-mnist")
    assert texts(app.info)[0].startswith("No trained model for this data set yet")
    assert not app.metric


# ----------------------------------------------------------------------------
# Evaluate


def test_evaluate_shows_the_scores_of_the_current_model(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    model = fast_trainer.snapshot
    accuracy = model.score(to_float(mnist.x_test), mnist.y_test)
    assert accuracy == fast_trainer.history[-1].test_accuracy
    wrong = int(np.sum(test_proba.argmax(axis=1) != mnist.y_test))
    assert metrics(app) == {"Test accuracy": f"{accuracy:.2%}",
                            "Test loss": f"{log_loss(mnist.y_test, test_proba):.4f}",
                            "Mistakes": f"{wrong:,} of 10,000"}
    assert [s.value for s in app.subheader] == ["Confusion matrix", "Accuracy per class",
                                                "The most confident mistakes", "Robustness"]


def test_evaluate_draws_the_confusion_matrix_and_the_accuracy_per_class(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    C = analysis.confusion(test_proba, mnist.y_test)
    confusion, per_class = charts(app)[:2]
    heatmap = confusion["data"][0]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"] == heatmap["y"] == [str(d) for d in range(10)]
    np.testing.assert_array_equal(array(heatmap["customdata"]), C)
    bars = per_class["data"][0]
    np.testing.assert_allclose(array(bars["y"]), np.diag(C) / C.sum(axis=1))
    assert [c.key for c in app.get("plotly_chart")][0] == "confusion"
    # a point on each cell, which a click selects (a heatmap cell cannot be selected in Streamlit)
    points = confusion["data"][1]
    assert points["type"] == "scatter" and points["mode"] == "markers"
    cells = list(zip(points["x"], points["y"]))
    assert sorted(cells) == [(str(p), str(t)) for p in range(10) for t in range(10)]
    counts = array(points["customdata"])
    assert all(counts[k] == C[int(t), int(p)] for k, (p, t) in enumerate(cells))
    assert confusion["layout"]["xaxis"]["range"] == [-0.5, 9.5]


def test_the_most_confident_mistakes(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    wrong = analysis.confident_mistakes(test_proba, mnist.y_test, limit=24)
    shown = app.get("image")[-1]
    assert len(shown.value) == 24
    first = wrong[0]
    top = ", ".join(f"{c} {q:.0%}" for c, q in analysis.top_k(test_proba[first], 3))
    assert shown.captions[0] == f"true {mnist.y_test[first]} · {top}"
    assert all(c.startswith("true ") for c in shown.captions)


def cell_text(count, t, p):
    first = " (the most confident first)" if count else ""
    return f"**{count} test image{'' if count == 1 else 's'}** of {t} predicted as {p}{first}"


def test_a_cell_chosen_with_the_two_lists_shows_its_images(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    C = analysis.confusion(test_proba, mnist.y_test)
    assert app.selectbox(key="cell_true").value == 4 and app.selectbox(key="cell_pred").value == 9
    assert cell_text(C[4, 9], 4, 9) in texts(app.markdown)

    # a cell with a few images: all of them, the most confident first
    t, p = min(((t, p) for t in range(10) for p in range(10) if t != p and 2 <= C[t, p] <= 30),
               key=lambda tp: -C[tp])
    app.selectbox(key="cell_true").set_value(t).run()
    app.selectbox(key="cell_pred").set_value(p).run()
    assert not app.exception
    assert cell_text(C[t, p], t, p) in texts(app.markdown)
    cell = app.get("image")[0]
    assert len(cell.value) == C[t, p]
    idx = analysis.cell_indices(test_proba, mnist.y_test, t, p)
    assert cell.captions == [f"{test_proba[i, p]:.0%}" for i in idx]

    # the diagonal: at most 35
    app.selectbox(key="cell_pred").set_value(t).run()
    assert cell_text(C[t, t], t, t) in texts(app.markdown)
    assert len(app.get("image")[0].value) == 35 < C[t, t]

    # an empty cell: no images but the mistakes
    empty = [(a, b) for a in range(10) for b in range(10) if C[a, b] == 0]
    if empty:
        a, b = empty[0]
        app.selectbox(key="cell_true").set_value(a).run()
        app.selectbox(key="cell_pred").set_value(b).run()
        assert cell_text(0, a, b) in texts(app.markdown)
        assert len(app.get("image")) == 1


def clicked(true_class, predicted):
    """The confusion chart's value after a click on one of its cells."""
    return {"selection": {"points": [{"x": str(predicted), "y": str(true_class), "z": 1.0,
                                      "point_index": [true_class, predicted]}],
                          "point_indices": [], "box": [], "lasso": []}}


def test_a_clicked_cell_sets_the_two_lists_and_a_later_choice_sticks(app, fast_trainer, mnist, test_proba):
    open_page(app, "evaluate", trainer=fast_trainer)
    C = analysis.confusion(test_proba, mnist.y_test)
    app.session_state["confusion"] = clicked(2, 7)
    app.run()
    assert not app.exception
    assert app.selectbox(key="cell_true").value == 2 and app.selectbox(key="cell_pred").value == 7
    assert cell_text(C[2, 7], 2, 7) in texts(app.markdown)
    # the chart keeps its selection while the user picks another cell by hand
    app.selectbox(key="cell_true").set_value(3).run()
    assert app.selectbox(key="cell_true").value == 3 and app.selectbox(key="cell_pred").value == 7
    assert cell_text(C[3, 7], 3, 7) in texts(app.markdown)
    app.selectbox(key="cell_pred").set_value(5).run()
    assert (app.selectbox(key="cell_true").value, app.selectbox(key="cell_pred").value) == (3, 5)
    # another click counts again
    app.session_state["confusion"] = clicked(9, 4)
    app.run()
    assert (app.selectbox(key="cell_true").value, app.selectbox(key="cell_pred").value) == (9, 4)


def robustness_curve(at):
    curve = charts(at)[-1]["data"][0]
    return array(curve["x"]).astype(float), array(curve["y"]).astype(float)


@pytest.mark.parametrize("kind, label, default", [("noise", "Noise (standard deviation)", 0.5),
                                                  ("rotate", "Rotation (degrees)", 45.0),
                                                  ("shift", "Shift (pixels)", 4.0)])
def test_robustness_curve_follows_the_change_chosen(app, fast_trainer, mnist, kind, label, default):
    open_page(app, "evaluate", trainer=fast_trainer)
    assert app.radio(key="robust_kind").value == "noise"
    before = robustness_curve(app)
    app.radio(key="robust_kind").set_value(kind).run()
    assert not app.exception
    assert app.slider(key=f"robust_max_{kind}").value == default
    amounts, accuracy = robustness_curve(app)
    assert charts(app)[-1]["layout"]["xaxis"]["title"]["text"] == label
    assert amounts[0] == 0 and amounts[-1] == default
    model, images, labels = fast_trainer.snapshot, mnist.x_test[:2000], mnist.y_test[:2000]
    expected = analysis.robustness(model, images, labels, kind, amounts)
    np.testing.assert_allclose(accuracy, expected)
    assert accuracy[0] > 0.8 and accuracy[-1] < accuracy[0] - 0.2
    if kind != "noise":
        assert not np.array_equal(accuracy, before[1])


def test_robustness_shift_uses_whole_pixels(app, fast_trainer, mnist):
    """Images move by whole pixels: the curve has a point for each whole number of pixels, none in between."""
    open_page(app, "evaluate", trainer=fast_trainer)
    app.radio(key="robust_kind").set_value("shift").run()
    for limit in (4.0, 8.0, 1.0, 3.0):
        app.slider(key="robust_max_shift").set_value(limit).run()
        amounts, accuracy = robustness_curve(app)
        np.testing.assert_array_equal(amounts, np.arange(limit + 1))
        # each point is the accuracy with the images moved by exactly that many pixels
        model, images, labels = fast_trainer.snapshot, mnist.x_test[:2000], mnist.y_test[:2000]
        for a, acc in zip(amounts, accuracy):
            moved = np.zeros_like(images)
            s = int(a)
            moved[:, s:, s:] = images[:, :28 - s, :28 - s]
            assert acc == pytest.approx(model.score(to_float(moved), labels))


def test_robustness_slider_sets_how_far_the_curve_goes(app, fast_trainer):
    open_page(app, "evaluate", trainer=fast_trainer)
    app.slider(key="robust_max_noise").set_value(1.0).run()
    amounts, accuracy = robustness_curve(app)
    np.testing.assert_allclose(amounts, np.linspace(0, 1, 9))
    assert accuracy[-1] < accuracy[4] < accuracy[0] and accuracy[-1] < accuracy[0] - 0.3


# ----------------------------------------------------------------------------
# Inspect


def test_inspect_draws_the_first_layer_weights(app, fast_trainer):
    open_page(app, "inspect", trainer=fast_trainer)
    assert app.title[0].value == "Inspect"
    grid = charts(app)[0]
    weights = analysis.first_layer_images(fast_trainer.snapshot)
    assert len(grid["data"]) == 32 and all(t["type"] == "heatmap" for t in grid["data"])
    np.testing.assert_allclose(array(grid["data"][5]["z"]), weights[5][::-1], rtol=1e-6)
    app.select_slider(key="inspect_units").set_value(128).run()
    assert not app.exception
    grid = charts(app)[0]
    assert len(grid["data"]) == 128
    np.testing.assert_allclose(array(grid["data"][127]["z"]), weights[127][::-1], rtol=1e-6)


def softmax_and_logits(at):
    return (array(chart_titled(at, "softmax")["data"][0]["y"]),
            array(chart_titled(at, "logits")["data"][0]["y"]))


def test_inspect_follows_a_test_image_through_the_layers(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    model = fast_trainer.snapshot
    assert app.radio(key="inspect_source").options == ["A test image"]
    assert captions(app) == [f"test image 0, a {mnist.y_test[0]}"]
    app.number_input(key="inspect_index").set_value(3).run()
    assert not app.exception
    assert captions(app) == [f"test image 3, a {mnist.y_test[3]}"]
    x = to_float(mnist.x_test[3:4])
    hidden1 = chart_titled(app, "hidden layer 1 (relu): 128 values")["data"][0]["z"]
    assert chart_titled(app, "hidden layer 2 (relu): 64 values")
    values = array(hidden1).astype(float).ravel()[:128]
    np.testing.assert_allclose(values, analysis.layer_outputs(model, x[0])[0][1], rtol=1e-5, atol=1e-6)
    proba, logits = softmax_and_logits(app)
    np.testing.assert_allclose(proba, model.predict_proba(x)[0], rtol=1e-5)
    assert proba.argmax() == logits.argmax() == model.predict(x)[0]
    # the last test image
    app.number_input(key="inspect_index").set_value(9999).run()
    assert captions(app) == [f"test image 9999, a {mnist.y_test[9999]}"]


def test_inspect_follows_a_drawing_through_the_layers(app, fast_trainer):
    seven = canvas_to_mnist(strokes.render(strokes.DIGITS[7]()))
    assert seven.shape == (28, 28) and seven.dtype == np.float32
    open_page(app, "inspect", trainer=fast_trainer, drawing=seven)
    source = app.radio(key="inspect_source")
    assert source.options == ["A test image", "My drawing"] and source.value == "A test image"
    source.set_value("My drawing").run()
    assert not app.exception
    assert captions(app) == ["your drawing"]
    assert not [n for n in app.number_input if n.key == "inspect_index"]
    proba, logits = softmax_and_logits(app)
    np.testing.assert_allclose(proba, fast_trainer.snapshot.predict_proba(seven.reshape(1, -1))[0], rtol=1e-5)
    assert proba.argmax() == logits.argmax() == 7


def test_inspect_counts_dead_units_and_draws_the_histograms(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    dead = analysis.dead_units(fast_trainer.snapshot, to_float(mnist.x_test[:1000]))
    assert metrics(app) == {"Dead units in layer 1": f"{dead[0]:.0%}",
                            "Dead units in layer 2": f"{dead[1]:.0%}"}
    for k in (1, 2, 3):
        counts = array(chart_titled(app, f"layer {k} weights")["data"][0]["y"])
        assert sum(counts) == fast_trainer.snapshot.coefs_[k - 1].size
    assert array(chart_titled(app, "hidden layer 1 activations")["data"][0]["y"]).sum() == 1000 * 128


def test_inspect_a_model_whose_first_layer_has_few_units(app, mnist):
    trainer = mlp.Trainer(mlp.preset("fast", hidden_layer_sizes=(8,), train_size=1000, max_iter=1), mnist)
    for _ in trainer.run():
        pass
    open_page(app, "inspect", trainer=trainer)
    assert len(charts(app)[0]["data"]) == 8
    assert "Dead units in layer 1" in metrics(app)
    assert chart_titled(app, "hidden layer 1 (relu): 8 values")


def test_inspect_offers_no_more_units_than_the_first_layer_has(app, mnist, fast_trainer):
    trainer = mlp.Trainer(mlp.preset("fast", hidden_layer_sizes=(48, 16), train_size=1000, max_iter=1), mnist)
    for _ in trainer.run():
        pass
    open_page(app, "inspect", trainer=fast_trainer)
    assert app.select_slider(key="inspect_units").options == ["16", "32", "64", "128"]
    app.select_slider(key="inspect_units").set_value(128).run()
    assert len(charts(app)[0]["data"]) == 128
    app.session_state["trainer"] = trainer  # a model with 48 units in its first layer
    app.run()
    assert not app.exception
    assert app.select_slider(key="inspect_units").options == ["16", "32", "48"]
    assert len(charts(app)[0]["data"]) in (16, 32, 48)
    app.select_slider(key="inspect_units").set_value(48).run()
    assert len(charts(app)[0]["data"]) == 48
    assert chart_titled(app, "hidden layer 1 (relu): 48 values")


# ----------------------------------------------------------------------------
# Compare runs: two real runs trained through the Train page


def train_once(at):
    at.button(key="train").click().run()
    assert not at.exception
    assert wait_for_job(at).state == "finished"


def test_compare_two_runs_use_one_and_delete_one(app):
    open_page(app, "train")
    app.select_slider(key="train_size").set_value(1000).run()
    app.slider(key="max_iter").set_value(1).run()
    train_once(app)
    app.select_slider(key="learning_rate_init").set_value(0.01).run()
    train_once(app)
    second = app.session_state["trainer"]

    open_page(app, "compare")
    labels = ["#1 128 64 · adam · lr 0.002", "#2 128 64 · adam · lr 0.01"]
    assert app.multiselect(key="compare_runs").value == [1, 2]
    assert app.multiselect(key="compare_runs").options == labels
    curves = charts(app)[0]["data"]
    assert [c["name"] for c in curves] == labels
    np.testing.assert_array_equal(array(curves[1]["y"]), [p.test_accuracy for p in second.history])
    table = app.dataframe[0].value
    assert len(table) == 2 and list(table["run"]) == labels[::-1]
    assert list(table["learning rate"]) == [0.01, 0.002] and set(table["state"]) == {"finished"}
    assert [(d.key, d.label) for d in app.get("download_button")] == [
        ("run_csv", "History (CSV)"), ("run_json", "Config (JSON)"),
        ("model_download", "Download the current model (.npz)")]
    assert sidebar_status(app) == f"Model: trained, test accuracy {second.history[-1].test_accuracy:.1%}"

    # another curve
    app.radio(key="compare_metric").set_value("loss").run()
    np.testing.assert_array_equal(array(charts(app)[0]["data"][0]["y"]),
                                  [p.loss for p in app.session_state["runs"].get(1).history])

    # run #1 becomes the current model, and the sidebar says so at once
    assert app.selectbox(key="run_pick").value == 2
    app.selectbox(key="run_pick").set_value(1).run()
    app.button(key="run_use").click().run()
    assert not app.exception
    assert sidebar_status(app) == f"Model: {labels[0]} (mnist)"
    assert f"{labels[0]} is now the current model." in texts(app.success)
    first = app.session_state["runs"].get(1).model
    open_page(app, "evaluate")
    accuracy = first.score(to_float(app.session_state["trainer"].x_test), app.session_state["trainer"].y_test)
    assert metrics(app)["Test accuracy"] == f"{accuracy:.2%}"
    assert sidebar_status(app) == f"Model: {labels[0]} (mnist)"

    # delete run #2
    open_page(app, "compare")
    app.selectbox(key="run_pick").set_value(2).run()
    app.button(key="run_delete").click().run()
    assert not app.exception
    assert [r.id for r in app.session_state["runs"]] == [1]
    assert app.multiselect(key="compare_runs").options == labels[:1]
    assert len(app.dataframe[0].value) == 1 and len(charts(app)[0]["data"]) == 1
    assert app.selectbox(key="run_pick").options == labels[:1]


def test_a_stopped_run_is_kept_too(app):
    open_page(app, "train")
    app.slider(key="max_iter").set_value(50).run()
    app.button(key="train").click().run()
    job = app.session_state["job"]
    while job.alive and not job.trainer.history:
        job.join(0.05)
    app.button(key="stop").click().run()
    job.join(60)
    assert job.state == "stopped"
    open_page(app, "compare")
    table = app.dataframe[0].value
    assert list(table["state"]) == ["stopped"] and len(app.multiselect(key="compare_runs").value) == 1


# ----------------------------------------------------------------------------
# loading a model file on Compare runs


def npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def saved(model, **info):
    buf = io.BytesIO()
    model.save(buf, **info)
    return buf.getvalue()


def upload(at, name, content):
    at.file_uploader(key="model_upload").set_value((name, content, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_current_model_can_be_downloaded_and_loaded_again(app, fast_trainer, mnist):
    open_page(app, "compare", trainer=fast_trainer)
    assert [d.key for d in app.get("download_button")] == ["model_download"]
    content = saved(fast_trainer.snapshot, dataset="mnist")
    upload(app, "mine.npz", content)
    assert texts(app.success) == ["Loaded ` mine.npz `: 784 → 128 → 64 → 10, trained on mnist. "
                                  "It is now the current model."]
    assert sidebar_status(app) == "Model: uploaded ` mine.npz ` (mnist)"


@pytest.mark.parametrize("content, reason", [
    (b"this is not a model", "not a model file: expected an .npz file saved by MNIST Playground"),
    (npz(meta=np.array(json.dumps({"layer_sizes": [784, 16, 10], "activation": "relu"})),
         W0=np.zeros((10, 16), np.float32), b0=np.zeros(16, np.float32),
         W1=np.zeros((16, 10), np.float32), b1=np.zeros(10, np.float32)),
     "W0 should be a float array of shape (784, 16), found (10, 16)"),
    (npz(W0=np.zeros((784, 16), np.float32)), "not a model file saved by MNIST Playground (KeyError"),
    (saved(mlp.MLP([100, 16, 10])), "it takes 100 inputs, not 784"),
    (saved(mlp.MLP([784, 16, 5])), "it has 5 classes, not 10"),
], ids=["text", "wrong-shapes", "no-meta", "100-inputs", "5-classes"])
def test_a_bad_model_file_is_refused_and_the_model_stays(app, fast_trainer, mnist, content, reason):
    open_page(app, "compare", trainer=fast_trainer)
    before = sidebar_status(app)
    upload(app, "bad.npz", content)
    errors = texts(app.error)
    assert len(errors) == 1 and errors[0].startswith(f"Could not load ` bad.npz `: ` {reason}")
    assert errors[0].endswith("The current model is unchanged.")
    assert not app.success
    assert sidebar_status(app) == before
    assert "loaded" not in app.session_state
    open_page(app, "evaluate")
    assert metrics(app)["Test accuracy"] == f"{fast_trainer.history[-1].test_accuracy:.2%}"


def test_a_loaded_model_is_used_by_the_other_pages(app, fast_trainer, mnist):
    other = mlp.Trainer(mlp.preset("fast", hidden_layer_sizes=(32,), train_size=1000, max_iter=1), mnist)
    for _ in other.run():
        pass
    open_page(app, "compare", trainer=fast_trainer)
    upload(app, "small.npz", saved(other.snapshot, dataset="mnist"))
    assert sidebar_status(app) == "Model: uploaded ` small.npz ` (mnist)"
    open_page(app, "evaluate")
    assert metrics(app)["Test accuracy"] == f"{other.history[-1].test_accuracy:.2%}"
    open_page(app, "inspect")
    assert chart_titled(app, "hidden layer 1 (relu): 32 values")
    # a bad file afterwards leaves the loaded one in place
    open_page(app, "compare")
    upload(app, "bad.npz", b"PK\x03\x04 broken zip")
    assert texts(app.error)[0].startswith("Could not load ` bad.npz `: ")
    assert sidebar_status(app) == "Model: uploaded ` small.npz ` (mnist)"


def test_a_fashion_model_loaded_on_mnist_is_kept_for_fashion(app, fast_trainer):
    open_page(app, "compare", trainer=fast_trainer)
    upload(app, "fashion.npz", saved(fast_trainer.snapshot, dataset="fashion-mnist"))
    assert "trained on fashion-mnist" in texts(app.success)[0]
    open_page(app, "evaluate")
    assert texts(app.info)[0].startswith("No trained model for this data set yet")


# ----------------------------------------------------------------------------
# settings in the link


@pytest.fixture
def visit(app_env, monkeypatch):
    """Open a page of the app first, with query parameters in the address, like a link someone shared."""
    monkeypatch.setattr(app_test, "PagesManager", ServerPages)

    def open_link(page, **query):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        at.query_params.update(query)
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_link


def layers(at):
    return [s.value for s in at.select_slider if s.key.startswith("layer_")]


def test_a_link_sets_the_train_settings(visit):
    at = visit("train", layers="256-32-16", lr="0.01", epochs="3", batch="64", images="5000",
               solver="momentum", dropout="0.2", seed="42", activation="tanh", init="glorot", alpha="0.0001",
               lr_schedule="constant")
    assert not at.warning
    assert at.slider(key="n_hidden").value == 3 and layers(at) == [256, 32, 16]
    assert at.select_slider(key="learning_rate_init").value == 0.01
    assert at.select_slider(key="batch_size").value == 64
    assert at.slider(key="max_iter").value == 3 and at.slider(key="max_iter").label == "Epochs"
    assert at.select_slider(key="train_size").value == 5000
    assert at.radio(key="solver").value == "momentum" and at.radio(key="activation").value == "tanh"
    assert at.radio(key="init").value == "glorot" and at.radio(key="lr_schedule").value == "constant"
    assert at.slider(key="dropout").value == 0.2 and at.number_input(key="random_state").value == 42
    assert at.select_slider(key="alpha").value == 0.0001
    assert any("784 → 256 → 32 → 16 → 10" in t and "on 5,000 images" in t for t in texts(at.markdown))
    # the address now holds every setting, and nothing else: no key to anyone's runs
    assert at.query_params["lr"] == "0.01" and at.query_params["layers"] == "256-32-16"
    assert at.query_params["preset"] == "fast" and "sid" not in at.query_params
    assert set(at.query_params) <= set(settings.KNOWN)


def test_a_link_with_a_preset(visit):
    at = visit("train", preset="notebook", lr="0.1")
    assert at.selectbox(key="preset").value == "notebook"
    assert at.select_slider(key="batch_size").value == "full"
    assert at.slider(key="max_iter").label == "Iterations" and at.slider(key="max_iter").value == 500
    assert at.select_slider(key="learning_rate_init").value == 0.1
    assert at.radio(key="solver").value == "sgd"


def test_a_hostile_link_falls_back_to_the_defaults_and_says_so(visit):
    at = visit("train", lr="1e9", seed="abc", layers="9999")
    warnings = texts(at.warning)
    assert warnings == ["The link held values that are not allowed here, so their defaults are used: "
                        "` layers='9999' `, ` lr='1e9' `, ` seed='abc' `"]  # each as plain text
    assert at.select_slider(key="learning_rate_init").value == 0.002
    assert at.number_input(key="random_state").value == 0
    assert layers(at) == [128, 64]
    assert at.query_params["lr"] == "0.002" and at.query_params["layers"] == "128-64"
    at.run()  # the warning is said once
    assert not at.warning and not at.exception


def test_a_link_with_huge_values_says_so_briefly(visit):
    at = visit("train", seed="9" * 5000, epochs="10000", images="123", solver="rm -rf", dropout="0.9",
               batch="0", x="y" * 10_000)
    warning = texts(at.warning)[0]
    assert len(warning) < 400
    for name in ("seed=", "epochs='10000'", "images='123'", "solver='rm -rf'", "dropout='0.9'", "batch='0'"):
        assert name in warning
    assert at.slider(key="max_iter").value == 8 and at.select_slider(key="train_size").value == 60000


def test_a_changed_slider_is_not_overwritten_by_the_link(visit):
    at = visit("train", lr="0.01", layers="256-32")
    assert at.select_slider(key="learning_rate_init").value == 0.01
    at.select_slider(key="learning_rate_init").set_value(0.05).run()
    assert at.select_slider(key="learning_rate_init").value == 0.05
    assert at.query_params["lr"] == "0.05"
    at.slider(key="n_hidden").set_value(1).run()
    at.run()
    assert at.select_slider(key="learning_rate_init").value == 0.05 and layers(at) == [256]
    assert at.query_params["layers"] == "256"
    # and after a visit to another page
    at.switch_page("pages/draw.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.select_slider(key="learning_rate_init").value == 0.05 and layers(at) == [256]


def test_a_link_opened_first_on_a_fresh_server(app_env):
    """Without the stand-in pages manager: the page reruns itself inside app.py and keeps the link."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params.update(lr="0.01", layers="256-32", epochs="3")
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.sidebar.caption[0].value == "Model: untrained"
    assert at.select_slider(key="learning_rate_init").value == 0.01
    assert layers(at) == [256, 32] and at.slider(key="max_iter").value == 3
