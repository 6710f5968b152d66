"""The Backprop page under AppTest: every stage of one example, its numbers against mlp.explain and
MLP.backward, the finite-difference check, one step by hand and Undo."""

import numpy as np
import pytest

import mlp
from mlp import explain
from mlp.preprocess import canvas_to_mnist, to_float
from playground.backprop import PITCH
from tests import strokes
from tests.pages.helpers import array, chart_titled, charts, metrics, open_page


def stage_line(at):
    return next(m.value for m in at.markdown if m.value.startswith("**Stage "))


def go_to(at, kind, layer=None):
    """Press Next until the stage of ``kind`` (and ``layer``) is shown."""
    for _ in range(20):
        stage = explain.stages(at.session_state["bp_stepper"].model.layer_sizes)[at.session_state["bp_stage"]]
        if stage.kind == kind and layer in (None, stage.layer):
            return stage
        at.button(key="bp_next").click().run()
        assert not at.exception, [e.value for e in at.exception]
    raise AssertionError(f"no stage {kind} {layer}")


def latex(at):
    return [e.value for e in at.get("latex")] if at.get("latex") else [m.value for m in at.markdown
                                                                       if "aligned" in m.value or "\\" in m.value]


def test_the_page_walks_every_stage_with_next_and_previous(app, fast_trainer):
    open_page(app, "backprop", trainer=fast_trainer)
    assert app.title[0].value == "Backprop"
    stages = explain.stages(fast_trainer.snapshot.layer_sizes)
    assert app.button(key="bp_prev").disabled
    seen = []
    for k, stage in enumerate(stages):
        assert stage_line(app) == f"**Stage {k + 1} of {len(stages)}: {stage.title}**"
        seen.append(stage.kind)
        assert charts(app), stage  # the diagram at least
        if k < len(stages) - 1:
            app.button(key="bp_next").click().run()
            assert not app.exception, [e.value for e in app.exception]
    assert app.button(key="bp_next").disabled
    assert seen == [s.kind for s in stages]
    app.button(key="bp_prev").click().run()
    assert stage_line(app).startswith(f"**Stage {len(stages) - 1} of")


def test_the_forward_numbers_are_the_networks(app, fast_trainer, mnist):
    open_page(app, "backprop", trainer=fast_trainer, bp_index=3)
    model = fast_trainer.snapshot
    x, y = to_float(mnist.x_test[3:4])[0], int(mnist.y_test[3])
    t = explain.trace(model, x, y)
    go_to(app, "forward", 1)
    app.number_input(key="bp_unit_1").set_value(7).run()
    z = chart_titled(app, "Z of layer 1")
    values = array(z["data"][0]["z"]).ravel()[:128]
    np.testing.assert_allclose(values, t.Z[0], rtol=1e-5, atol=1e-6)
    a = array(chart_titled(app, "A of layer 1")["data"][0]["z"]).ravel()[:128]
    np.testing.assert_allclose(a, model.forward(x[None])[1][0], rtol=1e-5, atol=1e-6)
    formulas = latex(app)
    total = explain.forward_sum(t, model, 1, 7).total
    assert any("z_{7}" in f and f"{total:.3g}".replace("-", "") in f for f in formulas), formulas
    go_to(app, "softmax")
    table = app.dataframe[0].value
    np.testing.assert_allclose(table["p = exp / sum"].to_numpy(), model.predict_proba(x[None])[0], rtol=1e-5)
    assert (table["z - max z"] <= 0).all() and table["z - max z"].max() == 0
    go_to(app, "loss")
    assert metrics(app)["Loss on this example"] == f"{t.loss:.4g}"


def test_the_backward_numbers_are_mlp_backward_and_a_finite_difference(app, fast_trainer, mnist):
    open_page(app, "backprop", trainer=fast_trainer, bp_index=5)
    model = fast_trainer.snapshot
    x, y = to_float(mnist.x_test[5:6])[0], int(mnist.y_test[5])
    grad = model.backward(model.forward(x[None]), np.array([y]))
    dW, db = model.views(grad)
    go_to(app, "output")
    delta = array(chart_titled(app, "δ = P − Y")["data"][0]["y"])
    np.testing.assert_allclose(delta, db[-1], rtol=1e-5, atol=1e-7)
    for layer in (2, 1):
        go_to(app, "backward", layer)
        d = array(chart_titled(app, f"δ of layer {layer}")["data"][0]["z"]).ravel()[:model.layer_sizes[layer]]
        np.testing.assert_allclose(d, db[layer - 1], rtol=1e-5, atol=1e-8)
        check = app.dataframe[0].value.iloc[0]
        j = app.number_input(key=f"bp_unit_{layer}").value
        i = int(explain.strongest(model.forward(x[None])[layer - 1][0], 1)[0])
        assert float(check["backprop (float32, as training)"]) == pytest.approx(float(dW[layer - 1][i, j]), rel=1e-6)
        assert float(check["backprop (float64)"]) == pytest.approx(float(check["finite difference (float64)"]),
                                                                   rel=1e-5, abs=1e-12)
    # the first layer's gradient drawn as 28 x 28 tiles, one per unit with the largest |delta|
    tiles = chart_titled(app, "-dW of layer 1")
    assert len(tiles["layout"]["annotations"]) == 16
    mosaic, units = array(tiles["data"][0]["z"]), array(tiles["data"][0]["customdata"])
    for k in (0, 9):  # the tiles of the first row and of the second
        r, c = divmod(k, 8)
        unit = int(units[r * PITCH, c * 29])
        assert tiles["layout"]["annotations"][k]["text"] == f"unit {unit}"
        tile = mosaic[r * PITCH:r * PITCH + 28, c * 29:c * 29 + 28]
        np.testing.assert_allclose(tile, -dW[0][:, unit].reshape(28, 28), rtol=1e-5, atol=1e-9)


def test_one_step_lowers_the_loss_and_undo_brings_the_weights_back(app, fast_trainer, mnist):
    open_page(app, "backprop", trainer=fast_trainer, bp_index=8)
    model = fast_trainer.snapshot
    before = model.params.copy()
    go_to(app, "step")
    app.select_slider(key="bp_lr").set_value(0.01).run()
    app.button(key="bp_apply").click().run()
    assert not app.exception
    x, y = to_float(mnist.x_test[8:9])[0], int(mnist.y_test[8])
    expected = explain.step(model, x, y, 0.01)
    stepper = app.session_state["bp_stepper"]
    np.testing.assert_array_equal(stepper.model.params, expected.model.params)
    assert expected.loss_drop > 0
    line = next(m.value for m in app.markdown if m.value.startswith("step: loss"))
    assert line.startswith(f"step: loss {expected.before.loss:.4g} → {expected.after.loss:.4g} (down by")
    assert len(chart_titled(app, "Probabilities before and after")["data"]) == 2
    # a second step starts from the first one's weights; the tab's model never changes
    app.button(key="bp_apply").click().run()
    twice = explain.step(expected.model, x, y, 0.01)
    np.testing.assert_array_equal(app.session_state["bp_stepper"].model.params, twice.model.params)
    assert metrics(app)["Steps taken by hand"] == "2"
    app.button(key="bp_undo").click().run()
    np.testing.assert_array_equal(app.session_state["bp_stepper"].model.params, expected.model.params)
    app.button(key="bp_undo").click().run()
    np.testing.assert_array_equal(app.session_state["bp_stepper"].model.params, before)
    assert app.button(key="bp_undo").disabled
    np.testing.assert_array_equal(model.params, before)


def test_a_drawing_with_the_label_the_learner_gives(app, fast_trainer):
    seven = canvas_to_mnist(strokes.render(strokes.DIGITS[7]()))
    open_page(app, "backprop", trainer=fast_trainer, drawing=seven)
    app.radio(key="bp_source").set_value("My drawing").run()
    assert not app.exception
    app.selectbox(key="bp_label").set_value(1).run()
    go_to(app, "output")
    t = explain.trace(fast_trainer.snapshot, seven.reshape(-1), 1)
    np.testing.assert_allclose(array(chart_titled(app, "δ = P − Y")["data"][0]["y"]), t.delta(t.layers),
                               rtol=1e-5, atol=1e-7)


def test_the_largest_network_is_cut_to_what_a_page_can_show(app):
    big = mlp.MLP([784, 1024, 1024, 1024, 1024, 10], random_state=0)  # the widest network a server allows
    open_page(app, "backprop", loaded=(big, "mnist", "the widest network"))
    assert len(explain.stages(big.layer_sizes)) == 14
    sizes = []
    for _ in range(13):
        app.button(key="bp_next").click().run()
        assert not app.exception, [e.value for e in app.exception]
        sizes.append(max(len(c.proto.spec) for c in app.get("plotly_chart")))
    assert max(sizes) < 400_000, sizes


@pytest.mark.parametrize("sizes, activation", [([784, 10], "relu"), ([784, 32, 10], "tanh"),
                                               ([784, 16, 16, 10], "sigmoid")])
def test_every_stage_of_other_networks(app, sizes, activation):
    net = mlp.MLP(sizes, activation=activation, random_state=1)
    open_page(app, "backprop", loaded=(net, "mnist", "another network"))
    for _ in explain.stages(sizes)[1:]:
        app.button(key="bp_next").click().run()
        assert not app.exception, [e.value for e in app.exception]
    app.button(key="bp_apply").click().run()
    assert not app.exception
    assert any(m.value.startswith("step: loss") for m in app.markdown)


def test_out_of_range_values_in_the_session_are_put_back_in_range(app, fast_trainer):
    # a value a hostile client sent for a widget, or one left from a wider network
    open_page(app, "backprop", trainer=fast_trainer, bp_index=10**9, bp_stage=99, bp_unit_1=-5, bp_unit_2=10**6)
    assert app.number_input(key="bp_index").value == 9999
    assert app.session_state["bp_stage"] == len(explain.stages(fast_trainer.snapshot.layer_sizes)) - 1
    go = app.session_state
    go["bp_stage"] = 1
    app.run()
    assert app.number_input(key="bp_unit_1").value == 0
    go["bp_stage"] = 2
    app.run()
    assert app.number_input(key="bp_unit_2").value == fast_trainer.snapshot.layer_sizes[2] - 1
