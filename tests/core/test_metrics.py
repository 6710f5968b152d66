"""Accuracy, confusion matrix, per-class accuracy and log loss on small hand-made examples."""
import math

import numpy as np
import pytest

from mlp.metrics import accuracy, confusion_matrix, coverage_curve, log_loss, per_class_accuracy


@pytest.mark.parametrize("y_true, y_pred, expected", [
    ([0, 1, 2, 3], [0, 1, 2, 3], 1.0),
    ([0, 1, 2, 3], [0, 1, 0, 3], 0.75),
    ([5, 5], [4, 6], 0.0),
    (np.array([1, 2, 3], np.uint8), np.array([1, 2, 0], np.int64), 2 / 3),
])
def test_accuracy(y_true, y_pred, expected):
    assert accuracy(y_true, y_pred) == pytest.approx(expected)
    assert isinstance(accuracy(y_true, y_pred), float)


def test_confusion_matrix_by_hand():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, n_classes=3),
                                  [[1, 1, 0],
                                   [0, 2, 1],
                                   [1, 0, 0]])


def test_confusion_matrix_matches_a_loop_and_its_sums():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    C = confusion_matrix(y_true, y_pred)
    expected = np.zeros((10, 10), dtype=int)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(C, expected)
    assert C.sum() == 500
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(y_true, minlength=10))
    np.testing.assert_array_equal(C.sum(axis=0), np.bincount(y_pred, minlength=10))
    assert np.trace(C) / C.sum() == pytest.approx(accuracy(y_true, y_pred))


def test_per_class_accuracy():
    y_true = [0, 0, 0, 0, 1, 1, 3]
    y_pred = [0, 0, 0, 1, 1, 0, 2]
    acc = per_class_accuracy(y_true, y_pred, n_classes=4)
    np.testing.assert_allclose(acc[[0, 1, 3]], [0.75, 0.5, 0.0])
    assert np.isnan(acc[2])  # no sample of class 2


def test_log_loss_perfect_prediction_is_zero():
    y = np.array([3, 0, 9, 9, 1])
    assert log_loss(y, np.eye(10)[y]) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_loss_uniform_is_ln_10(dtype):
    y = np.arange(10).repeat(3)
    assert log_loss(y, np.full((30, 10), 0.1, dtype)) == pytest.approx(math.log(10), rel=1e-6)


def test_log_loss_matches_the_formula():
    rng = np.random.default_rng(0)
    P = rng.random((20, 4))
    P /= P.sum(axis=1, keepdims=True)
    y = rng.integers(0, 4, 20)
    assert log_loss(y, P) == pytest.approx(-np.mean([math.log(P[i, y[i]]) for i in range(20)]))


def test_log_loss_of_a_zero_probability_is_large_but_finite():
    y = np.array([0, 1])
    P = np.array([[0.0, 1.0], [0.5, 0.5]], np.float32)
    loss = log_loss(y, P)
    assert math.isfinite(loss) and loss > 40


def test_coverage_curve_by_hand():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    labels = [0, 1, 1, 1]  # the 0.6 one is wrong
    coverage, acc = coverage_curve(labels, proba, [0.0, 0.55, 0.6, 0.61, 0.95])
    np.testing.assert_allclose(coverage, [1.0, 1.0, 0.75, 0.5, 0.0])
    np.testing.assert_allclose(acc[:4], [0.75, 0.75, 2 / 3, 1.0])
    assert math.isnan(acc[4])  # nothing answered, no accuracy


def test_coverage_curve_matches_a_loop():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(10) * 0.3, 400).astype(np.float32)
    labels = rng.integers(0, 10, 400)
    thresholds = np.linspace(0, 1, 21)
    coverage, acc = coverage_curve(labels, proba, thresholds)
    for t, c, a in zip(thresholds, coverage, acc):
        kept = proba.max(axis=1) >= np.float32(t)
        assert c == pytest.approx(kept.mean())
        if kept.any():
            assert a == pytest.approx(accuracy(labels[kept], proba[kept].argmax(axis=1)))
    assert coverage[0] == 1.0 and acc[0] == pytest.approx(accuracy(labels, proba.argmax(axis=1)))
    assert np.all(np.diff(coverage) <= 0)  # a higher threshold never answers more
