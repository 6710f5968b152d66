"""One example through the network, stage by stage: the numbers equal MLP.backward's and a finite
difference; one step lowers the loss; saliency and the nudge toward a class."""
import numpy as np
import pytest

from mlp import MLP, explain


@pytest.fixture(params=["relu", "sigmoid", "tanh"])
def net(request):
    return MLP([784, 24, 16, 10], activation=request.param, random_state=3)


@pytest.fixture
def x():
    return np.random.default_rng(0).random(784).astype(np.float32)


def test_the_trace_holds_mlp_backward_gradient_and_the_forward_values(net, x):
    t = explain.trace(net, x, 4)
    A = net.forward(x[None])
    np.testing.assert_array_equal(t.grad, net.backward(A, np.array([4])))
    for a, b in zip(t.A, A):
        np.testing.assert_array_equal(a, b[0])
    assert t.layers == 3 and [len(z) for z in t.Z] == [24, 16, 10]
    # Z = A W + b, the activation of Z is the next A, and softmax of the logits is P
    act = {"relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}
    for layer in (1, 2):
        np.testing.assert_allclose(act[net.activation](t.Z[layer - 1]), t.A[layer], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(explain.softmax_steps(t.Z[-1]).proba, t.proba, rtol=1e-5)
    assert t.loss == pytest.approx(-np.log(t.proba[4]), rel=1e-5)


def test_each_delta_is_p_minus_y_then_the_chain_rule(net, x):
    t = explain.trace(net, x, 7)
    y = np.eye(10)[7]
    np.testing.assert_allclose(t.delta(3), t.proba - y, rtol=1e-6, atol=1e-7)
    for layer in (2, 1):  # delta = (W_next delta_next) * f'(Z)
        np.testing.assert_allclose(t.upstream(layer) * t.slope(layer), t.delta(layer), rtol=1e-5, atol=1e-8)
    for layer in (1, 2, 3):  # for one example dW = A^T delta: an outer product
        np.testing.assert_allclose(t.dW[layer - 1], np.outer(t.A[layer - 1], t.delta(layer)), rtol=1e-5, atol=1e-8)


def test_a_units_sum_shows_its_largest_terms_and_adds_up(net, x):
    t = explain.trace(net, x, 1)
    s = explain.forward_sum(t, net, 2, 5, top=4)
    assert len(s.terms) == 4 and s.n_rest == 20
    assert [abs(term.product) for term in s.terms] == sorted((abs(term.product) for term in s.terms), reverse=True)
    assert sum(term.product for term in s.terms) + s.rest + s.bias == pytest.approx(s.total, abs=1e-6)
    assert s.total == pytest.approx(float(t.Z[1][5]), rel=1e-4, abs=1e-5)
    dark = x.copy()
    dark[:100] = 0  # 100 black pixels: their terms are 0, and are counted so
    assert explain.forward_sum(explain.trace(net, dark, 1), net, 1, 0, top=3).zeros >= 97
    b = explain.backward_sum(t, net, 1, 3, top=3)
    assert b.total == pytest.approx(float(t.upstream(1)[3]), rel=1e-4, abs=1e-7)
    with pytest.raises(ValueError, match="output"):
        explain.backward_sum(t, net, 3, 0)
    for layer, unit in [(0, 0), (4, 0), (1, 24), (1, -1)]:
        with pytest.raises(ValueError):
            explain.forward_sum(t, net, layer, unit)


def test_softmax_steps_subtract_the_max_and_survive_huge_logits():
    s = explain.softmax_steps([1000.0, 999.0, -5.0])
    assert s.shifted.max() == 0 and s.exp[0] == 1.0
    np.testing.assert_allclose(s.proba.sum(), 1.0)
    assert np.isfinite(s.proba).all() and s.proba[0] > s.proba[1] > s.proba[2]


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_backprop_agrees_with_a_finite_difference_to_several_digits(net, x, layer):
    t = explain.trace(net, x, 2)
    # a weight whose gradient is not zero: the most active input, the unit with the largest delta
    i, j = int(np.argmax(np.abs(t.A[layer - 1]))), int(np.argmax(np.abs(t.delta(layer))))
    c = explain.gradient_check(net, x, 2, layer, i, j)
    assert abs(c.backprop64) > 1e-6
    assert c.relative < 1e-6
    assert c.backprop == pytest.approx(c.numeric, rel=1e-4)
    assert c.backprop == pytest.approx(float(t.dW[layer - 1][i, j]))


def test_the_check_leaves_the_network_unchanged(net, x):
    before = net.params.copy()
    explain.gradient_check(net, x, 0, 1, 100, 3)
    np.testing.assert_array_equal(net.params, before)


def test_a_small_step_lowers_this_examples_loss_and_leaves_the_original(net, x):
    before = net.params.copy()
    for lr in (1e-3, 1e-2, 0.1):
        s = explain.step(net, x, 5, lr)
        assert s.loss_drop > 0, lr
        assert s.after.loss == pytest.approx(s.before.loss - s.loss_drop)
        np.testing.assert_allclose(s.model.params, before - np.float32(lr) * s.before.grad, rtol=1e-6)
    np.testing.assert_array_equal(net.params, before)
    for bad in (0, -1, float("nan"), float("inf"), 11):
        with pytest.raises(ValueError, match="learning rate"):
            explain.step(net, x, 5, bad)


def test_saliency_is_the_gradient_of_the_log_probability(net, x):
    sal = explain.saliency(net, x, 3)
    assert sal.shape == (28, 28)
    eps, k = 1e-3, 400
    m64 = explain.float64(net)

    def logp(v):
        return np.log(m64.forward(v[None].astype(np.float64))[-1][0, 3])
    up, down = x.astype(np.float64).copy(), x.astype(np.float64).copy()
    up[k] += eps
    down[k] -= eps
    assert sal.ravel()[k] == pytest.approx((logp(up) - logp(down)) / (2 * eps), rel=1e-3, abs=1e-6)
    # the default class is the predicted one
    np.testing.assert_array_equal(explain.saliency(net, x), explain.saliency(net, x, int(net.predict(x[None])[0])))


def test_saliency_is_zero_on_pixels_the_first_layer_ignores(x):
    net = MLP([784, 32, 10], random_state=1)
    ignored = np.zeros(784, bool)
    ignored[:392] = True                  # the top half of the image
    net.coefs_[0][ignored] = 0            # no first-layer weight reads those pixels
    sal = explain.saliency(net, x).ravel()
    assert (sal[ignored] == 0).all()
    assert np.abs(sal[~ignored]).max() > 0


def test_toward_a_class_raises_its_probability_and_keeps_a_valid_image(x):
    net = MLP([784, 32, 10], random_state=2)
    start = int(net.predict(x[None])[0])
    target = (start + 1) % 10
    n = explain.toward(net, x.reshape(28, 28), target, steps=50)
    assert n.image.shape == (28, 28) and n.image.min() >= 0 and n.image.max() <= 1
    np.testing.assert_allclose(n.change, n.image - x.reshape(28, 28))
    assert n.proba[-1][target] > n.proba[0][target]
    assert n.proba[-1].argmax() == target
    # it stops once the class is likely enough
    assert n.proba[-1][target] >= 0.9 or n.steps == 50
    assert explain.toward(net, x, start, until=0.0).steps == 0
    for bad in [dict(target=10), dict(target=-1), dict(target=1, steps=0), dict(target=1, rate=0),
                dict(target=1, steps=10**6)]:
        with pytest.raises(ValueError):
            explain.toward(net, x, **bad)


def test_the_stages_walk_forward_then_backward_then_step():
    s = explain.stages([784, 128, 64, 10])
    assert [st.kind for st in s] == ["input", "forward", "forward", "logits", "softmax", "loss", "output",
                                     "backward", "backward", "step"]
    assert [st.layer for st in s] == [0, 1, 2, 3, 3, 3, 3, 2, 1, 0]
    assert len(explain.stages([784, 1024, 1024, 1024, 1024, 10])) == 14


def test_a_trace_refuses_a_wrong_input_or_label(net):
    with pytest.raises(ValueError, match="784"):
        explain.trace(net, np.zeros(10), 0)
    for bad in (10, -1):
        with pytest.raises(ValueError, match="label"):
            explain.trace(net, np.zeros(784), bad)
