"""The Inspect page under AppTest: first-layer weights, an image or a drawing layer by layer, dead units."""
import numpy as np

import mlp
from mlp import analysis
from mlp.preprocess import canvas_to_mnist, to_float
from tests import strokes
from tests.pages.helpers import array, chart_titled, charts, metrics, open_page


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
