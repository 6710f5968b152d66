"""Steps taken by hand on the Backprop page: each from the one before, Undo exact, bounded."""
import numpy as np
import pytest

from mlp import MLP, explain
from playground.stepper import MAX_STEPS, Stepper


def test_steps_chain_and_undo_replays_exactly():
    net = MLP([784, 16, 10], random_state=0)
    start = net.params.copy()
    xs = np.random.default_rng(1).random((3, 784)).astype(np.float32)
    s = Stepper(net)
    models = []
    for k, x in enumerate(xs):
        s.apply(x, k, 0.5)
        models.append(s.model.params.copy())
    expected = net
    for k, x in enumerate(xs):
        expected = explain.step(expected, x, k, 0.5).model
    np.testing.assert_array_equal(s.model.params, expected.params)
    for k in (1, 0):
        s.undo()
        np.testing.assert_array_equal(s.model.params, models[k])
    s.undo()
    assert s.model is net and len(s) == 0 and s.last is None
    s.undo()  # nothing left: no change
    np.testing.assert_array_equal(net.params, start)


def test_the_steps_are_bounded():
    net = MLP([784, 8, 10], random_state=0)
    s = Stepper(net)
    x = np.zeros(784, np.float32)
    for _ in range(MAX_STEPS):
        s.apply(x, 0, 0.01)
    with pytest.raises(ValueError, match="undo"):
        s.apply(x, 0, 0.01)
    assert len(s) == MAX_STEPS
