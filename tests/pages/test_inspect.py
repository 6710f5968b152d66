"""The Inspect page under AppTest: first-layer weights, an image or a drawing layer by layer, the neuron
lab, the map of a layer, dead units."""
import numpy as np
import pytest

import mlp
from mlp import analysis, lab
from mlp.preprocess import canvas_to_mnist, to_float
from playground import figures
from tests import strokes
from tests.pages.helpers import array, chart_titled, charts, metrics, open_page, texts


def captions(at):
    return [c for image in at.get("image") for c in image.captions]


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
    shown = {label: value for label, value in metrics(app).items() if label.startswith("Dead units")}
    assert shown == {"Dead units in layer 1": f"{dead[0]:.0%}", "Dead units in layer 2": f"{dead[1]:.0%}"}
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
# the neuron lab


LAB_SCORES = ("Accuracy", "Mean confidence", "Loss")


def subset(mnist):
    idx = lab.subset(mnist.y_test)
    return idx, to_float(mnist.x_test[idx]), mnist.y_test[idx]


def shown_scores(at, which):
    return {name: metrics(at)[f"{name}, {which}"] for name in LAB_SCORES}


def formatted(scores):
    return {"Accuracy": f"{scores.accuracy:.1%}", "Mean confidence": f"{scores.confidence:.1%}",
            "Loss": f"{scores.loss:.4f}"}


def test_the_lab_switches_a_unit_off_and_reset_restores_the_original(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    model = fast_trainer.snapshot
    _, X, y = subset(mnist)
    before = formatted(lab.evaluate(model, X, y))
    assert shown_scores(app, "original") == shown_scores(app, "edited") == before
    assert app.button(key="lab_reset").disabled and app.button(key="lab_save").disabled
    # the unit of layer 2 that fires most often: switching it off must show
    unit = int(np.argmax((lab.layer_activations(model, X, 2) > 0).sum(axis=0)))
    app.selectbox(key="lab_layer").set_value(2).run()
    app.number_input(key="lab_unit").set_value(unit).run()
    app.checkbox(key=f"lab_off_2_{unit}").check().run()
    assert not app.exception
    expected = formatted(lab.evaluate(lab.edited(model, lab.Edits((lab.UnitEdit(2, unit, off=True),))), X, y))
    assert shown_scores(app, "edited") == expected != before
    assert shown_scores(app, "original") == before
    assert [t.value for t in app.text] == [f"layer 2 unit {unit}: off"]
    assert "Edits: 1 unit off." in texts(app.caption)
    assert not app.button(key="lab_reset").disabled
    assert model.params.tobytes() == fast_trainer.snapshot.params.tobytes()  # the trained network as it was
    # Reset: the original network, every widget back at its start
    app.button(key="lab_reset").click().run()
    assert not app.exception
    assert shown_scores(app, "edited") == before and app.session_state["lab_edits"] == lab.Edits()
    assert app.checkbox(key=f"lab_off_2_{unit}").value is False and not app.text


def test_the_lab_shows_a_unit_its_weights_its_top_images_and_its_activation(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    model = fast_trainer.snapshot
    idx, X, _ = subset(mnist)
    app.number_input(key="lab_unit").set_value(5).run()
    weights = chart_titled(app, "unit 5 of layer 1: its 784 incoming weights (28 × 28)")["data"][0]
    np.testing.assert_allclose(array(weights["z"]), model.coefs_[0][:, 5].reshape(28, 28), rtol=1e-6)
    top = lab.top_images(model, X, 1, 9)[5]
    grid = chart_titled(app, "The 9 of 2,000 test images it fires most for")
    assert len(grid["data"]) == 9
    acts = lab.layer_activations(model, X[top], 1)[:, 5]
    titles = [a["text"] for a in grid["layout"]["annotations"]]
    assert titles == [f"#{idx[i]}: {v:.2f}" for i, v in zip(top, acts)]
    np.testing.assert_array_equal(array(grid["data"][0]["z"]), mnist.x_test[idx[top[0]]][::-1])
    x = to_float(mnist.x_test[:1])[0]
    assert metrics(app)["Activation on the input above"] == f"{lab.activation(model, x, 1, 5):.3f}"
    assert metrics(app)["Bias"] == f"{model.intercepts_[0][5]:.3f}"
    # a deeper layer: its 128 incoming weights as a strip
    app.selectbox(key="lab_layer").set_value(2).run()
    app.number_input(key="lab_unit").set_value(63).run()
    strip = array(chart_titled(app, "unit 63 of layer 2: its 128 incoming weights")["data"][0]["z"])
    np.testing.assert_allclose(strip.ravel()[:128], model.coefs_[1][:, 63], rtol=1e-6)
    # a shifted bias shows in the bias and the activation
    app.slider(key="lab_shift_2_63").set_value(2.0).run()
    assert metrics(app)["Bias"] == f"{model.intercepts_[1][63] + 2.0:.3f}"
    edited = lab.edited(model, lab.Edits((lab.UnitEdit(2, 63, shift=2.0),)))
    assert metrics(app)["Activation on the input above"] == f"{lab.activation(edited, x, 2, 63):.3f}"


def test_the_lab_keeps_several_edits_and_removes_each(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    app.number_input(key="lab_unit").set_value(3).run()
    app.checkbox(key="lab_off_1_3").check().run()
    app.number_input(key="lab_unit").set_value(7).run()
    assert app.checkbox(key="lab_off_1_7").value is False  # another unit, its own edits
    app.slider(key="lab_scale_1_7").set_value(2.5).run()
    app.selectbox(key="lab_layer").set_value(2).run()
    app.number_input(key="lab_unit").set_value(3).run()
    app.checkbox(key="lab_off_2_3").check().run()
    assert [t.value for t in app.text] == ["layer 1 unit 3: off", "layer 1 unit 7: weights × 2.5",
                                           "layer 2 unit 3: off"]
    app.button(key="lab_remove_1_3").click().run()
    assert not app.exception
    assert [t.value for t in app.text] == ["layer 1 unit 7: weights × 2.5", "layer 2 unit 3: off"]
    app.selectbox(key="lab_layer").set_value(1).run()
    app.number_input(key="lab_unit").set_value(7).run()
    assert app.slider(key="lab_scale_1_7").value == 2.5  # back to a unit: its edit is there
    app.number_input(key="lab_unit").set_value(3).run()
    assert app.checkbox(key="lab_off_1_3").value is False  # removed
    model = fast_trainer.snapshot
    _, X, y = subset(mnist)
    expected = lab.Edits((lab.UnitEdit(1, 7, scale=2.5), lab.UnitEdit(2, 3, off=True)))
    assert app.session_state["lab_edits"] == expected
    assert shown_scores(app, "edited") == formatted(lab.evaluate(lab.edited(model, expected), X, y))


def test_the_temperature_changes_the_confidence_not_the_accuracy_and_pruning_hurts(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    model = fast_trainer.snapshot
    _, X, y = subset(mnist)
    app.slider(key="lab_temperature").set_value(3.0).run()
    hot = lab.evaluate(lab.edited(model, lab.Edits(temperature=3.0)), X, y)
    shown, original = shown_scores(app, "edited"), shown_scores(app, "original")
    assert shown == formatted(hot) and shown["Accuracy"] == original["Accuracy"]
    assert float(shown["Mean confidence"][:-1]) < float(original["Mean confidence"][:-1])
    assert float(shown["Loss"]) != float(original["Loss"])
    app.slider(key="lab_temperature").set_value(1.0).run()
    app.slider(key="lab_prune").set_value(95).run()
    pruned = lab.evaluate(lab.edited(model, lab.Edits(prune=0.95)), X, y)
    assert shown_scores(app, "edited") == formatted(pruned)
    assert pruned.accuracy < lab.evaluate(model, X, y).accuracy - 0.05
    assert "Edits: pruned 95 %." in texts(app.caption)


def test_save_as_a_run_files_the_edited_network_for_compare(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    model = fast_trainer.snapshot
    app.number_input(key="lab_unit").set_value(2).run()
    app.checkbox(key="lab_off_1_2").check().run()
    app.number_input(key="lab_unit").set_value(9).run()
    app.checkbox(key="lab_off_1_9").check().run()
    app.slider(key="lab_prune").set_value(30).run()
    app.button(key="lab_save").click().run()
    assert not app.exception
    runs = list(app.session_state["runs"])
    assert len(runs) == 1
    run = runs[0]
    assert run.label == "#1 128 64 · adam · lr 0.002 · edited: 2 units off, pruned 30 %"
    assert run.state == "edited" and run.config == fast_trainer.start_config.to_dict()
    assert run.history[:-1] == fast_trainer.history and len(run.history) == len(fast_trainer.history) + 1
    edits = lab.Edits((lab.UnitEdit(1, 2, off=True), lab.UnitEdit(1, 9, off=True)), prune=0.3)
    assert run.model.params.tobytes() == lab.edited(model, edits).params.tobytes()
    assert run.history[-1].test_accuracy == pytest.approx(run.model.score(to_float(mnist.x_test), mnist.y_test),
                                                          abs=2e-4)
    assert any(run.label in s.value for s in app.success)
    # Compare runs lists it, and makes it the current model
    open_page(app, "compare")
    assert app.multiselect(key="compare_runs").options == [run.label]
    app.button(key="run_use").click().run()
    assert not app.exception
    assert app.session_state["loaded"][0] is run.model
    # edited once more from there: the settings and curves of the run it came from
    open_page(app, "inspect")
    assert app.session_state["lab_edits"].units == edits.units  # the edits stay until Reset
    app.button(key="lab_reset").click().run()
    app.slider(key="lab_temperature").set_value(2.0).run()
    app.button(key="lab_save").click().run()
    again = list(app.session_state["runs"])[-1]
    assert again.label == "#2 128 64 · adam · lr 0.002 · edited: 2 units off, pruned 30 %, then temperature 2"
    assert again.history[:-1] == run.history and again.config == run.config


def test_save_an_uploaded_model_edited(app, mnist):
    model = mlp.MLP([784, 24, 10], random_state=0)
    open_page(app, "inspect", loaded=(model, "mnist", "uploaded ` m.npz `"))
    app.slider(key="lab_temperature").set_value(0.5).run()
    app.button(key="lab_save").click().run()
    assert not app.exception
    run = list(app.session_state["runs"])[-1]
    assert run.label == "#1 24 · uploaded model · edited: temperature 0.5"
    assert run.config["hidden_layer_sizes"] == [24] and len(run.history) == 1 and run.history[0].step == 0


def test_the_lab_follows_a_smaller_model(app, fast_trainer, mnist):
    trainer = mlp.Trainer(mlp.preset("fast", hidden_layer_sizes=(48,), train_size=1000, max_iter=1), mnist)
    for _ in trainer.run():
        pass
    open_page(app, "inspect", trainer=fast_trainer)
    app.selectbox(key="lab_layer").set_value(2).run()
    app.number_input(key="lab_unit").set_value(60).run()
    app.checkbox(key="lab_off_2_60").check().run()
    app.session_state["trainer"] = trainer  # one hidden layer of 48 units
    app.run()
    assert not app.exception
    assert app.selectbox(key="lab_layer").options == ["layer 1: 48 units"]
    assert app.number_input(key="lab_unit").value == 47  # the nearest unit it has
    assert app.session_state["lab_edits"] == lab.Edits()  # unit 60 of layer 2 is not there
    assert chart_titled(app, "unit 47 of layer 1")
    assert app.radio(key="map_layer").options == ["input pixels", "hidden layer 1"]


# ----------------------------------------------------------------------------
# the map of a layer


def test_the_map_shows_each_class_the_mistakes_and_the_images(app, fast_trainer, mnist):
    open_page(app, "inspect", trainer=fast_trainer)
    model = fast_trainer.snapshot
    idx, X, y = subset(mnist)
    assert app.radio(key="map_layer").options == ["input pixels", "hidden layer 1", "hidden layer 2"]
    assert app.radio(key="map_layer").value == "input pixels"
    chart = chart_titled(app, "Map of the input pixels")
    traces = chart["data"]
    predictions = model.predict(X)
    assert len(traces) == 20  # per class: the images it gets right, and its mistakes (crosses)
    shown = [t for t in traces if t.get("showlegend", True)]
    assert [t["name"] for t in shown] == [f"{c} ({np.sum((y == c) & (predictions != c))} wrong)" for c in range(10)]
    assert [t["legendgroup"] for t in traces] == [str(c) for c in range(10) for _ in (0, 1)]  # one click hides both
    art = figures.text_art(mnist.x_test[idx])
    points = analysis.pca(X, 2)[0]
    for c in range(10):
        right, wrong = traces[2 * c], traces[2 * c + 1]
        assert wrong["name"] == f"{c}: mistakes" and wrong["marker"]["symbol"] == "x" and not wrong["showlegend"]
        for trace, rows in ((right, np.flatnonzero((y == c) & (predictions == c))),
                            (wrong, np.flatnonzero((y == c) & (predictions != c)))):
            assert len(trace["customdata"]) == len(rows) == len(array(trace["x"]))
            np.testing.assert_allclose(array(trace["x"]), points[rows, 0], rtol=1e-5)
            for row, i in zip(trace["customdata"][:3], rows):
                assert row[:3] == [int(idx[i]), str(c), str(predictions[i])]
                assert row[3:] == art[i] and any("█" in line for line in row[3:])  # the image as text art
    assert "%{customdata[3]}<br>%{customdata[4]}" in traces[0]["hovertemplate"]
    assert sum(len(t["customdata"]) for t in traces) == 2000
    assert len(app.get("plotly_chart")[charts(app).index(chart)].proto.spec) < 1_000_000  # well under 2 MB
    maps, _ = analysis.layer_maps(model, X, y)
    bars = chart_titled(app, "Nearest their own class centre, layer by layer")["data"][0]
    np.testing.assert_allclose(array(bars["y"]), [m.separation for m in maps])
    assert f"{maps[0].separation:.0%} of the images lie nearer" in " ".join(texts(app.caption))
    # another layer: other points, the same images and classes
    app.radio(key="map_layer").set_value("hidden layer 2").run()
    assert not app.exception
    deeper = chart_titled(app, "Map of hidden layer 2")["data"]
    threes = np.flatnonzero((y == 3) & (predictions == 3))
    np.testing.assert_allclose(array(deeper[6]["x"]), maps[2].points[threes, 0], rtol=1e-5)
    assert not np.allclose(array(deeper[6]["x"]), array(traces[6]["x"]))
    assert deeper[6]["customdata"] == traces[6]["customdata"]


def test_a_network_without_hidden_layers_has_no_lab_but_a_map(app):
    open_page(app, "inspect", loaded=(mlp.MLP([784, 10], random_state=0), "mnist", "uploaded ` flat.npz `"))
    assert "This network has no hidden layer" in texts(app.info)[0]
    assert app.radio(key="map_layer").options == ["input pixels"]
    assert chart_titled(app, "Map of the input pixels")
    tiny = mlp.MLP([784, 1, 10], random_state=0)  # one unit: its map has one axis
    open_page(app, "inspect", loaded=(tiny, "mnist", "uploaded ` tiny.npz `"))
    app.radio(key="map_layer").set_value("hidden layer 1").run()
    assert not app.exception
    trace = chart_titled(app, "Map of hidden layer 1")["data"][0]
    assert (array(trace["y"]) == 0).all()


def test_the_lab_ignores_values_past_the_widgets_bounds(app, fast_trainer):
    # what a client that skips the widgets' bounds could send: Streamlit puts the widget back to its
    # first value, and the lab's own checks (tests/core/test_lab.py) never see it
    open_page(app, "inspect", trainer=fast_trainer)
    for key, value in [("lab_temperature", 1e9), ("lab_prune", -5), ("lab_scale_1_0", float("nan")),
                       ("lab_shift_1_0", 1e300)]:
        app.slider(key=key).set_value(value).run()
        assert not app.exception, [e.value for e in app.exception]
        assert app.session_state["lab_edits"].empty
        assert any(c.value == "Edits: no edits." for c in app.caption)
    app.number_input(key="lab_unit").set_value(-3).run()
    assert not app.exception
    assert app.number_input(key="lab_unit").value == 0
