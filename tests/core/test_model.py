"""The network (mlp.model): gradients against finite differences, softmax, initialisation, dropout."""
import numpy as np
import pytest

from mlp.model import MLP, softmax


SIZES = [10, 7, 5, 3]


def float64_model(**kwargs):
    """Return a small MLP whose parameters are float64, so finite differences are accurate.

    The notebook init gives nonzero biases: no ReLU input sits exactly on its kink at 0.
    """
    model = MLP(SIZES, init="notebook", random_state=1, **kwargs)
    model.params = model.params.astype(np.float64)
    model.coefs_, model.intercepts_ = model.views(model.params)
    return model


def numerical_gradient(f, params, h=1e-6):
    """Return the central finite-difference gradient of f() with respect to params (changed in place)."""
    grad = np.empty_like(params)
    for i in range(len(params)):
        old = params[i]
        params[i] = old + h
        up = f()
        params[i] = old - h
        down = f()
        params[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


# ----------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_backward_matches_finite_differences(activation, alpha):
    model = float64_model(activation=activation)
    assert np.shares_memory(model.coefs_[0], model.params)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, SIZES[0]))
    y = np.array([0, 1, 2, 1, 0])

    def loss():
        P = model.forward(X)[-1]
        penalty = alpha / 2 * sum(np.sum(W**2) for W in model.coefs_)
        return -np.mean(np.log(P[np.arange(len(y)), y])) + penalty

    grad = model.backward(model.forward(X), y, alpha)
    assert grad.dtype == np.float64 and grad.shape == model.params.shape
    assert relative_error(grad, numerical_gradient(loss, model.params)) < 1e-6


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_backward_with_dropout_matches_finite_differences(activation):
    # the same seed draws the same dropout mask on every forward pass
    model = float64_model(activation=activation, dropout=0.3)
    X = np.random.default_rng(0).standard_normal((5, SIZES[0]))
    y = np.array([0, 1, 2, 1, 0])

    def forward():
        return model.forward(X, np.random.default_rng(5))

    def loss():
        P = forward()[-1]
        return -np.mean(np.log(P[np.arange(len(y)), y]))

    grad = model.backward(forward(), y)
    assert relative_error(grad, numerical_gradient(loss, model.params)) < 1e-6


# ----------------------------------------------------------------------------
# softmax and predictions


def test_softmax_rows_are_probabilities():
    Z = np.random.default_rng(0).standard_normal((6, 10)).astype(np.float32) * 5
    P = softmax(Z.copy())
    assert P.shape == Z.shape and P.dtype == np.float32
    assert np.all(P > 0)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    expected = np.exp(Z.astype(np.float64)) / np.exp(Z.astype(np.float64)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(P, expected, rtol=1e-5)


def test_softmax_ignores_a_constant_added_to_each_row():
    Z = np.random.default_rng(1).standard_normal((4, 5))
    shift = np.array([[-100.0], [0.0], [3.0], [500.0]])
    np.testing.assert_allclose(softmax(Z + shift), softmax(Z.copy()), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_logits(dtype):
    Z = np.array([[1e4, 0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, 0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        P = softmax(Z)
    assert not np.isnan(P).any()
    np.testing.assert_allclose(P, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], atol=1e-7)


def test_predict_proba_shape_and_sums():
    model = MLP([784, 32, 10])
    X = np.random.default_rng(0).random((7, 784))
    P = model.predict_proba(X)
    assert P.shape == (7, 10) and P.dtype == np.float32
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X, batch_size=3), P, rtol=1e-6)
    assert model.predict_proba(np.zeros((0, 784))).shape == (0, 10)


def test_predict_and_score():
    model = MLP([3, 3])
    model.coefs_[0][...] = 5 * np.eye(3)  # the class is the largest input
    model.intercepts_[0][...] = 0
    X = np.array([[1, 0, 0], [0, 2, 1], [0, 1, 3], [4, 5, 0]])
    np.testing.assert_array_equal(model.predict(X), [0, 1, 2, 1])
    assert model.score(X, np.array([0, 1, 2, 1])) == 1.0
    assert model.score(X, np.array([0, 0, 2, 0])) == 0.5


# ----------------------------------------------------------------------------
# initialisation


def test_he_init():
    model = MLP([784, 512, 256], init="he")
    assert model.params.dtype == np.float32
    for W, b in zip(model.coefs_, model.intercepts_):
        assert W.std() == pytest.approx(np.sqrt(2 / W.shape[0]), rel=0.02)
        assert abs(W.mean()) < 0.05 * W.std()
        assert not b.any()


def test_notebook_init():
    model = MLP([784, 512, 256], init="notebook")
    for W, b in zip(model.coefs_, model.intercepts_):
        assert W.std() == pytest.approx(np.sqrt(1 / W.shape[1]), rel=0.02)
        assert b.all()
        assert b.std() == pytest.approx(np.sqrt(1 / W.shape[1]), rel=0.15)


@pytest.mark.parametrize("activation, factor", [("relu", 6), ("tanh", 6), ("sigmoid", 2)])
def test_glorot_init(activation, factor):
    model = MLP([784, 512, 256], activation=activation, init="glorot")
    for W, b in zip(model.coefs_, model.intercepts_):
        bound = np.sqrt(factor / sum(W.shape))
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.99 * bound
        assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)  # uniform on [-a, a]
        assert not b.any()


@pytest.mark.parametrize("init", ["he", "glorot", "notebook"])
def test_same_random_state_same_weights(init):
    a, b = MLP(SIZES, init=init, random_state=7), MLP(SIZES, init=init, random_state=7)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, MLP(SIZES, init=init, random_state=8).params)


def test_params_and_views_share_memory():
    model = MLP(SIZES)
    assert model.n_params == sum((n_in + 1) * n_out for n_in, n_out in zip(SIZES[:-1], SIZES[1:]))
    model.params[...] = 0
    assert not any(W.any() for W in model.coefs_) and not any(b.any() for b in model.intercepts_)


# ----------------------------------------------------------------------------
# dropout


def test_dropout_zeroes_about_p_and_scales_the_rest():
    p = 0.3
    model = MLP([20, 2000, 10], dropout=p)
    X = np.random.default_rng(0).random((50, 20))
    plain = model.forward(X)[1]
    dropped = model.forward(X, np.random.default_rng(1))[1]
    active = plain > 0
    zeroed = dropped[active] == 0
    assert zeroed.mean() == pytest.approx(p, abs=0.01)
    np.testing.assert_allclose(dropped[active][~zeroed], plain[active][~zeroed] / (1 - p), rtol=1e-6)
    assert not dropped[~active].any()


def test_forward_without_rng_is_deterministic():
    model = MLP([20, 50, 10], dropout=0.5)
    X = np.random.default_rng(0).random((8, 20))
    first, second = model.forward(X), model.forward(X)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    no_dropout = MLP([20, 50, 10])
    with_rng = no_dropout.forward(X, np.random.default_rng(0))
    np.testing.assert_array_equal(with_rng[-1], no_dropout.forward(X)[-1])


# ----------------------------------------------------------------------------
# constructor


@pytest.mark.parametrize("kwargs", [
    {"layer_sizes": [10]},
    {"layer_sizes": [10, 0, 3]},
    {"layer_sizes": [10, -4, 3]},
    {"layer_sizes": [10, 3], "activation": "softplus"},
    {"layer_sizes": [10, 3], "init": "xavier"},
    {"layer_sizes": [10, 3], "dropout": 1.0},
    {"layer_sizes": [10, 3], "dropout": -0.1},
], ids=str)
def test_invalid_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        MLP(**kwargs)
