"""mlp.lab: each edit of the neuron lab does what it says, on a copy, and hostile values are refused."""
import math

import numpy as np
import pytest

from mlp import MLP, lab
from mlp.model import softmax
from mlp.train import Progress


@pytest.fixture
def model():
    """A small random network with biases that are not zero (the notebook's initialisation)."""
    return MLP([784, 32, 16, 10], init="notebook", random_state=3)


@pytest.fixture
def X():
    return np.random.default_rng(0).random((64, 784), dtype=np.float32)


def pre_activations(model, X, layer):
    """Z of layer ``layer`` + 1 (the one that reads hidden layer ``layer``) and that layer's activations."""
    A = model.forward(X)
    return A[layer] @ model.coefs_[layer] + model.intercepts_[layer], A[layer]


def logits(model, X):
    A = model.forward(X)
    return A[-2] @ model.coefs_[-1] + model.intercepts_[-1]


# ----------------------------------------------------------------------------
# each edit


@pytest.mark.parametrize("layer", [1, 2])
def test_a_unit_switched_off_is_no_longer_seen_by_the_next_layer(model, X, layer):
    unit = 5
    out = lab.edited(model, lab.Edits((lab.UnitEdit(layer, unit, off=True),)))
    _, A = pre_activations(model, X, layer)
    assert (A[:, unit] > 0).any()  # the unit does fire, so switching it off matters
    A = A.copy()
    A[:, unit] = 0
    expected = A @ model.coefs_[layer] + model.intercepts_[layer]
    got, A_out = pre_activations(out, X, layer)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(A_out, pre_activations(model, X, layer)[1])  # the unit itself still fires
    assert not np.allclose(got, pre_activations(model, X, layer)[0])
    changed = np.flatnonzero(out.params != model.params)
    assert 0 < len(changed) <= model.layer_sizes[layer + 1]  # only its outgoing row


def test_scaling_the_incoming_weights_and_shifting_the_bias(model, X):
    out = lab.edited(model, lab.Edits((lab.UnitEdit(1, 3, scale=2.5, shift=-0.75),)))
    np.testing.assert_allclose(out.coefs_[0][:, 3], 2.5 * model.coefs_[0][:, 3], rtol=1e-6)
    assert out.intercepts_[0][3] == pytest.approx(model.intercepts_[0][3] - 0.75, abs=1e-6)
    z = X @ model.coefs_[0][:, 3] * 2.5 + model.intercepts_[0][3] - 0.75
    np.testing.assert_allclose(lab.layer_activations(out, X, 1)[:, 3], np.maximum(z, 0), rtol=1e-4, atol=1e-5)
    others = np.ones(32, bool)
    others[3] = False
    np.testing.assert_array_equal(out.coefs_[0][:, others], model.coefs_[0][:, others])
    for a, b in zip(out.coefs_[1:] + out.intercepts_[1:], model.coefs_[1:] + model.intercepts_[1:]):
        np.testing.assert_array_equal(a, b)
    zero = lab.edited(model, lab.Edits((lab.UnitEdit(2, 7, scale=0.0),)))
    assert (zero.coefs_[1][:, 7] == 0).all()
    assert lab.activation(zero, X[0], 2, 7) == max(float(model.intercepts_[1][7]), 0.0)


def test_the_temperature_keeps_every_answer_and_changes_the_confidence(model, X):
    Z = logits(model, X)
    for T in (0.25, 2.0, 10.0):
        out = lab.edited(model, lab.Edits(temperature=T))
        np.testing.assert_allclose(logits(out, X), Z / T, rtol=1e-4, atol=1e-5)
        P = out.predict_proba(X)
        np.testing.assert_array_equal(P.argmax(axis=1), model.predict(X))
        np.testing.assert_allclose(P, softmax(Z / T), rtol=1e-4, atol=1e-6)
        before, after = model.predict_proba(X).max(axis=1).mean(), P.max(axis=1).mean()
        assert after > before if T < 1 else after < before
    y = model.predict(X)
    hot, cold = (lab.evaluate(lab.edited(model, lab.Edits(temperature=T)), X, y) for T in (5.0, 0.2))
    base = lab.evaluate(model, X, y)
    assert hot.accuracy == base.accuracy == cold.accuracy == 1.0
    assert hot.confidence < base.confidence < cold.confidence
    assert cold.loss < base.loss < hot.loss  # on labels it gets right, more confidence is less loss


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.999, 1.0])
def test_pruning_keeps_exactly_the_share_of_the_largest_weights(model, share):
    out = lab.edited(model, lab.Edits(prune=share))
    before = np.concatenate([W.ravel() for W in model.coefs_])
    after = np.concatenate([W.ravel() for W in out.coefs_])
    k = round(share * before.size)
    assert np.sum(after == 0) == k and np.sum(before == 0) == 0
    kept = after != 0
    np.testing.assert_array_equal(after[kept], before[kept])  # the others are left as they were
    if 0 < k < before.size:
        assert np.abs(before[kept]).min() >= np.abs(before[~kept]).max()  # the largest are kept
    for a, b in zip(out.intercepts_, model.intercepts_):
        np.testing.assert_array_equal(a, b)  # the biases stay


def test_pruning_counts_all_the_matrices_together():
    model = MLP([784, 8, 10], random_state=0)
    model.coefs_[1][...] = 100.0  # the last layer's weights are all far larger than the first's
    out = lab.edited(model, lab.Edits(prune=0.5))
    assert (out.coefs_[1] == 100.0).all()
    assert np.sum(out.coefs_[0] == 0) == round(0.5 * (784 * 8 + 80))


def test_edits_of_several_units_and_the_whole_network_at_once(model, X):
    edits = lab.Edits((lab.UnitEdit(2, 1, off=True), lab.UnitEdit(1, 4, scale=0.5, shift=1.0)),
                      temperature=2.0, prune=0.2)
    out = lab.edited(model, edits)
    assert [(u.layer, u.unit) for u in edits.units] == [(1, 4), (2, 1)]  # sorted
    assert (out.coefs_[2][1] == 0).all()
    assert np.sum(np.concatenate([W.ravel() for W in out.coefs_]) == 0) >= round(0.2 * sum(W.size for W in
                                                                                           model.coefs_))
    assert edits.describe() == "1 unit off, 1 scaled, 1 shifted, pruned 20 %, temperature 2"
    assert lab.Edits().describe() == "no edits"
    assert str(edits.units[0]) == "layer 1 unit 4: weights × 0.5, bias +1"


# ----------------------------------------------------------------------------
# the original stays as it was, and Reset undoes exactly


def test_the_original_is_never_changed(model, X):
    params = model.params.copy()
    views = [W.copy() for W in model.coefs_] + [b.copy() for b in model.intercepts_]
    for edits in [lab.Edits((lab.UnitEdit(1, 0, off=True, scale=3.0, shift=3.0),)), lab.Edits(prune=0.9),
                  lab.Edits(temperature=0.1), lab.Edits((lab.UnitEdit(2, 15, scale=0.0),), 4.0, 0.5)]:
        out = lab.edited(model, edits)
        assert out is not model and not np.shares_memory(out.params, model.params)
        assert not np.array_equal(out.params, model.params)
    np.testing.assert_array_equal(model.params, params)
    assert model.params.tobytes() == params.tobytes()  # bit for bit
    for a, b in zip(model.coefs_ + model.intercepts_, views):
        assert a.tobytes() == b.tobytes() and np.shares_memory(a, model.params)


def test_no_edits_give_the_original_network(model, X):
    out = lab.edited(model, lab.Edits())
    assert out is not model and out.params.tobytes() == model.params.tobytes()
    assert out.layer_sizes == model.layer_sizes and out.activation == model.activation
    np.testing.assert_array_equal(out.predict_proba(X), model.predict_proba(X))
    assert lab.Edits().empty and lab.Edits((lab.UnitEdit(1, 2),)).empty  # an edit that changes nothing
    edits = lab.Edits().with_unit(lab.UnitEdit(1, 2, off=True))
    assert not edits.empty
    assert edits.with_unit(lab.UnitEdit(1, 2)).empty  # set back to nothing: gone
    assert edits.without(1, 2) == lab.Edits()
    assert edits.unit(1, 2).off and not edits.unit(1, 3).off


def test_edits_of_units_another_network_lacks_are_dropped_by_fitting(model):
    edits = lab.Edits((lab.UnitEdit(1, 31, off=True), lab.UnitEdit(2, 3, off=True), lab.UnitEdit(3, 0, off=True)))
    with pytest.raises(ValueError, match="hidden layers 1 to 2, not layer 3"):
        lab.edited(model, edits)
    small = MLP([784, 8, 10])
    assert [(u.layer, u.unit) for u in edits.fitting(small).units] == []
    assert [(u.layer, u.unit) for u in edits.fitting(model).units] == [(1, 31), (2, 3)]


# ----------------------------------------------------------------------------
# one unit, and the scores


def test_the_top_images_are_those_that_make_the_unit_fire_most(model, X):
    top = lab.top_images(model, X, 2, k=9)
    A = lab.layer_activations(model, X, 2)
    np.testing.assert_allclose(A, model.forward(X)[2], rtol=1e-6)
    assert top.shape == (16, 9)
    for u in range(16):
        values = A[top[u], u]
        assert (np.diff(values) <= 0).all()                              # strongest first
        assert values[-1] >= np.delete(A[:, u], top[u]).max()            # none left out is stronger
    ties = lab.top_images(MLP([784, 4, 10]), np.zeros((20, 784), np.float32), 1, k=3)
    np.testing.assert_array_equal(ties, [[0, 1, 2]] * 4)                 # ties by index
    assert lab.top_images(model, X[:5], 1, k=9).shape == (32, 5)         # fewer rows than k


def test_unit_and_activation(model, X):
    w, b = lab.unit(model, 1, 7)
    np.testing.assert_array_equal(w, model.coefs_[0][:, 7])
    assert b == float(model.intercepts_[0][7])
    w[:] = 0
    assert model.coefs_[0][:, 7].any()  # a copy
    assert lab.activation(model, X[3], 2, 4) == pytest.approx(float(model.forward(X[3:4])[2][0, 4]), rel=1e-6)


def test_scores_and_evaluate(model, X):
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]], np.float32)
    s = lab.scores(proba, np.array([0, 1, 0]))
    assert s.accuracy == pytest.approx(2 / 3)
    assert s.confidence == pytest.approx((0.7 + 0.6 + 0.5) / 3)
    assert s.loss == pytest.approx(-(math.log(0.7) + math.log(0.3) + math.log(0.5)) / 3, rel=1e-6)
    y = np.arange(64) % 10
    got = lab.evaluate(model, X, y, batch_size=7)
    P = model.predict_proba(X)
    assert got.accuracy == np.mean(P.argmax(axis=1) == y)
    assert got.confidence == pytest.approx(float(P.max(axis=1).mean()), rel=1e-5)


def test_the_subset_is_fixed(mnist):
    idx = lab.subset(mnist.y_test)
    assert len(idx) == lab.SUBSET == 2000 and len(set(idx.tolist())) == 2000
    np.testing.assert_array_equal(idx, lab.subset(mnist.y_test))


def test_record_of_an_edited_network(mnist):
    model = MLP([784, 16, 10], random_state=0)
    last = Progress(step=40, epoch=2.0, train_accuracy=0.9, test_accuracy=0.9, loss=0.3, test_loss=0.3,
                    samples_per_second=1e4, elapsed=3.5, lr=0.002)
    p = lab.record(model, mnist, last, n_train=500)
    assert (p.step, p.epoch, p.elapsed, p.lr) == (40, 2.0, 3.5, 0.002)
    assert p.test_accuracy == pytest.approx(model.score(mnist.x_test.reshape(10000, -1) / np.float32(255),
                                                       mnist.y_test), abs=2e-4)  # 2 images at most
    assert 0 <= p.train_accuracy <= 1 and p.loss > 0 and p.test_loss > 0
    assert lab.record(model, mnist, None, n_train=50).step == 0


# ----------------------------------------------------------------------------
# every value may come from a visitor


@pytest.mark.parametrize("kwargs, message", [
    (dict(layer=0, unit=0), "count from 1"), (dict(layer=1, unit=-1), "count from 1"),
    (dict(layer=1.0, unit=0), "whole number"), (dict(layer=True, unit=0), "whole number"),
    (dict(layer="1", unit=0), "whole number"), (dict(layer=1, unit=None), "whole number"),
    (dict(layer=1, unit=0, off="yes"), "True or False"), (dict(layer=1, unit=0, off=1), "True or False"),
    (dict(layer=1, unit=0, scale=float("nan")), "finite"), (dict(layer=1, unit=0, scale=float("inf")), "finite"),
    (dict(layer=1, unit=0, scale=-0.1), "between 0 and 3"), (dict(layer=1, unit=0, scale=1e308), "between"),
    (dict(layer=1, unit=0, scale="2"), "finite number"), (dict(layer=1, unit=0, shift=3.5), "between -3 and 3"),
    (dict(layer=1, unit=0, shift=True), "finite number"), (dict(layer=1, unit=0, shift=float("-inf")), "finite"),
])
def test_hostile_unit_edits_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lab.UnitEdit(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=0.0), "between 0.1 and 10"), (dict(temperature=-1.0), "between"),
    (dict(temperature=float("nan")), "finite"), (dict(temperature=1e9), "between"),
    (dict(prune=1.5), "between 0 and 1"), (dict(prune=-0.01), "between"), (dict(prune=float("nan")), "finite"),
    (dict(units=[lab.UnitEdit(1, 2, off=True), lab.UnitEdit(1, 2, scale=2.0)]), "edited twice"),
    (dict(units="off"), "list of UnitEdit"), (dict(units=[(1, 2, True)]), "list of UnitEdit"),
    (dict(units=None), "list of UnitEdit"),
])
def test_hostile_edits_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lab.Edits(**kwargs)


def test_numpy_values_from_widgets_are_fine_and_become_plain_python():
    edit = lab.UnitEdit(np.int64(2), np.int32(5), np.bool_(True), np.float32(1.5), np.float64(-0.25))
    assert (edit.layer, edit.unit, edit.off, edit.scale, edit.shift) == (2, 5, True, 1.5, -0.25)
    assert type(edit.layer) is int and type(edit.off) is bool and type(edit.scale) is float


def test_units_and_inputs_the_network_lacks_are_refused(model, X):
    for layer, unit, message in [(3, 0, "hidden layers 1 to 2, not layer 3"), (1, 32, "units 0 to 31, not unit 32"),
                                 (2, 16, "units 0 to 15")]:
        with pytest.raises(ValueError, match=message):
            lab.edited(model, lab.Edits((lab.UnitEdit(layer, unit, off=True),)))
        with pytest.raises(ValueError, match=message):
            lab.unit(model, layer, unit)
    with pytest.raises(ValueError, match="not layer 0"):
        lab.top_images(model, X, 0)
    with pytest.raises(ValueError, match="rows of 784 values"):
        lab.layer_activations(model, X[:, :100], 1)
    with pytest.raises(ValueError, match="finite"):
        lab.evaluate(model, np.full((2, 784), np.nan, np.float32), np.array([0, 1]))
    with pytest.raises(ValueError, match="classes 0 to 9"):
        lab.evaluate(model, X[:2], np.array([0, 10]))
    with pytest.raises(ValueError, match="classes 0 to 9"):
        lab.evaluate(model, X[:2], np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="positive whole number"):
        lab.top_images(model, X, 1, k=0)
    with pytest.raises(ValueError, match="an Edits value"):
        lab.edited(model, {"temperature": 2})


def test_pruning_weights_of_equal_size_takes_the_first_ones():
    model = MLP([784, 4, 10], random_state=0)
    model.coefs_[0][...] = 0.5
    model.coefs_[1][...] = -0.5
    out = lab.edited(model, lab.Edits(prune=0.25))
    flat = np.concatenate([W.ravel() for W in out.coefs_])
    k = round(0.25 * flat.size)
    assert (flat[:k] == 0).all() and (flat[k:] != 0).all()
