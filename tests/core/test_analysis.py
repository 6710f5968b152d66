"""mlp.analysis: predictions, mistakes, perturbations and what happens inside a network."""
import numpy as np
import pytest

from mlp import MLP, Trainer, analysis, preset
from mlp.metrics import confusion_matrix
from mlp.preprocess import to_float


@pytest.fixture(scope="module")
def trained(mnist):
    """The fast preset trained for one epoch on 5,000 images: a model that is right most of the time."""
    trainer = Trainer(preset("fast", train_size=5000, max_iter=1), mnist)
    for _ in trainer.run():
        pass
    return trainer.snapshot


@pytest.fixture(scope="module")
def test_proba(trained, mnist):
    return analysis.predict_all(trained, mnist.x_test)


def proba_rows(rows):
    """Probability rows (n, 3) from a list of lists, normalised."""
    p = np.asarray(rows, dtype=np.float32)
    return p / p.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------
# predictions and mistakes


def test_predict_all_gives_one_probability_row_per_image(trained, mnist, test_proba):
    assert test_proba.shape == (10_000, 10) and test_proba.dtype == np.float32
    np.testing.assert_allclose(test_proba.sum(axis=1), 1.0, atol=1e-5)
    assert (test_proba >= 0).all()
    # a chunk at a time gives the same numbers as all at once
    few = mnist.x_test[:300]
    np.testing.assert_allclose(analysis.predict_all(trained, few, chunk=128),
                               trained.predict_proba(to_float(few)), rtol=1e-5, atol=1e-7)


def test_predict_all_agrees_with_the_model_score(trained, mnist, test_proba):
    accuracy = np.mean(test_proba.argmax(axis=1) == mnist.y_test)
    assert accuracy == trained.score(to_float(mnist.x_test), mnist.y_test)
    assert accuracy > 0.8


def test_confusion_is_the_confusion_matrix_of_the_predictions(mnist, test_proba):
    C = analysis.confusion(test_proba, mnist.y_test, 10)
    expected = confusion_matrix(mnist.y_test, test_proba.argmax(axis=1), 10)
    np.testing.assert_array_equal(C, expected)
    assert C.sum() == 10_000
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(mnist.y_test, minlength=10))
    assert np.trace(C) > 0.8 * 10_000


def test_confusion_on_a_handmade_case():
    proba = proba_rows([[8, 1, 1], [1, 8, 1], [1, 1, 8], [8, 1, 1], [1, 8, 1]])
    labels = np.array([0, 1, 2, 1, 1])
    np.testing.assert_array_equal(analysis.confusion(proba, labels, 3), [[1, 0, 0], [1, 2, 0], [0, 0, 1]])


@pytest.mark.parametrize("true_class, predicted", [(4, 9), (7, 7), (3, 5), (2, 7)])
def test_cell_indices_hold_only_that_cell_most_confident_first(mnist, test_proba, true_class, predicted):
    pred = test_proba.argmax(axis=1)
    idx = analysis.cell_indices(test_proba, mnist.y_test, true_class, predicted, limit=10_000)
    expected = np.flatnonzero((mnist.y_test == true_class) & (pred == predicted))
    assert len(idx) == len(expected) > 0
    assert set(idx.tolist()) == set(expected.tolist())
    assert (mnist.y_test[idx] == true_class).all() and (pred[idx] == predicted).all()
    confidence = test_proba[idx, predicted]
    assert (np.diff(confidence) <= 0).all()
    # the limit keeps the most confident ones
    first = analysis.cell_indices(test_proba, mnist.y_test, true_class, predicted, limit=3)
    np.testing.assert_array_equal(first, idx[:3])


def test_cell_indices_on_a_handmade_case():
    proba = proba_rows([[1, 8, 1], [1, 5, 4], [9, 1, 0.5], [1, 9, 0.5], [1, 1, 8]])
    labels = np.array([0, 0, 0, 0, 2])
    np.testing.assert_array_equal(analysis.cell_indices(proba, labels, 0, 1), [3, 0, 1])
    np.testing.assert_array_equal(analysis.cell_indices(proba, labels, 0, 0), [2])
    assert len(analysis.cell_indices(proba, labels, 2, 1)) == 0


def test_confident_mistakes_are_all_wrong_and_sorted_by_confidence(mnist, test_proba):
    pred = test_proba.argmax(axis=1)
    wrong = analysis.confident_mistakes(test_proba, mnist.y_test, limit=50)
    assert len(wrong) == 50
    assert (pred[wrong] != mnist.y_test[wrong]).all()
    confidence = test_proba[wrong, pred[wrong]]
    assert (np.diff(confidence) <= 0).all()
    # no mistake left out is more confident than the last one kept
    all_wrong = np.flatnonzero(pred != mnist.y_test)
    assert len(analysis.confident_mistakes(test_proba, mnist.y_test, limit=10**6)) == len(all_wrong)
    rest = np.setdiff1d(all_wrong, wrong)
    assert test_proba[rest, pred[rest]].max() <= confidence[-1]


def test_confident_mistakes_on_a_handmade_case():
    proba = proba_rows([[1, 8, 1], [9, 1, 0.5], [1, 5, 4], [1, 1, 9]])
    labels = np.array([0, 0, 0, 1])
    np.testing.assert_array_equal(analysis.confident_mistakes(proba, labels), [3, 0, 2])
    np.testing.assert_array_equal(analysis.confident_mistakes(proba, labels, limit=1), [3])


def test_top_k():
    row = np.array([0.05, 0.6, 0.1, 0.25], dtype=np.float32)
    top = analysis.top_k(row, 3)
    assert [c for c, _ in top] == [1, 3, 2]
    assert [round(p, 6) for _, p in top] == [0.6, 0.25, 0.1]
    assert all(type(c) is int and type(p) is float for c, p in top)
    assert analysis.top_k(row, 1) == [(1, pytest.approx(0.6))]
    assert len(analysis.top_k(row, 10)) == 4


# ----------------------------------------------------------------------------
# perturbations and robustness


def one_pixel(row, col, n=1):
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, row, col] = 255
    return images


def test_perturb_without_noise_is_the_plain_conversion(mnist):
    images = mnist.x_test[:20]
    out = analysis.perturb(images, "noise", 0.0)
    assert out.shape == (20, 784) and out.dtype == np.float32
    np.testing.assert_array_equal(out, to_float(images))


def test_perturb_noise_is_seeded_clipped_and_grows(mnist):
    images = mnist.x_test[:50]
    a, b = analysis.perturb(images, "noise", 0.3, seed=1), analysis.perturb(images, "noise", 0.3, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, analysis.perturb(images, "noise", 0.3, seed=2))
    assert a.min() >= 0 and a.max() <= 1
    clean = to_float(images)
    changes = [np.abs(analysis.perturb(images, "noise", s) - clean).mean() for s in (0.05, 0.2, 0.5)]
    assert changes[0] < changes[1] < changes[2]


@pytest.mark.parametrize("amount", [1, 3, 1.0])
def test_perturb_shift_moves_a_pixel_right_and_down(amount):
    out = analysis.perturb(one_pixel(10, 12), "shift", amount).reshape(-1, 28, 28)
    s = int(amount)
    expected = np.zeros((1, 28, 28), dtype=np.float32)
    expected[0, 10 + s, 12 + s] = 1.0
    np.testing.assert_array_equal(out, expected)


def test_perturb_shift_drops_what_leaves_the_frame(mnist):
    assert analysis.perturb(one_pixel(27, 5), "shift", 1).sum() == 0
    assert analysis.perturb(mnist.x_test[:5], "shift", 28).sum() == 0
    np.testing.assert_array_equal(analysis.perturb(mnist.x_test[:5], "shift", 0), to_float(mnist.x_test[:5]))


def test_perturb_rotate_by_zero_changes_nothing(mnist):
    images = mnist.x_test[:10]
    np.testing.assert_allclose(analysis.perturb(images, "rotate", 0), to_float(images), atol=1 / 255)


def test_perturb_rotate_90_turns_the_image_anticlockwise(mnist):
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 3:8, 2:20] = 200  # a bar near the top, off centre: no symmetry
    image[0, 8:22, 2:6] = 120  # and a leg down the left side
    expected = to_float(np.rot90(image, 1, axes=(1, 2)).copy())
    out = analysis.perturb(image, "rotate", 90)
    np.testing.assert_allclose(out, expected, atol=2 / 255)
    assert not np.allclose(out, to_float(image), atol=0.1)
    # a real digit too, within the bilinear resampling's error
    digits = mnist.x_test[:5]
    turned = analysis.perturb(digits, "rotate", 90)
    np.testing.assert_allclose(turned, to_float(np.rot90(digits, 1, axes=(1, 2)).copy()), atol=2 / 255)


def test_perturb_rotate_keeps_most_of_the_ink(mnist):
    images = mnist.x_test[:10]
    turned = analysis.perturb(images, "rotate", 30)
    ink, kept = to_float(images).sum(axis=1), turned.sum(axis=1)
    assert (kept > 0.8 * ink).all() and (kept < 1.2 * ink).all()
    assert not np.allclose(turned, to_float(images), atol=0.1)


def test_perturb_unknown_kind_raises(mnist):
    with pytest.raises(ValueError, match="unknown perturbation 'blur'"):
        analysis.perturb(mnist.x_test[:2], "blur", 1.0)


def test_robustness_falls_as_the_noise_grows(trained, mnist):
    amounts = [0.0, 0.25, 0.5, 0.75, 1.0]
    images, labels = mnist.x_test[:2000], mnist.y_test[:2000]
    accuracy = analysis.robustness(trained, images, labels, "noise", amounts)
    assert accuracy.shape == (5,)
    assert accuracy[0] == trained.score(to_float(images), labels)
    assert (np.diff(accuracy) < 0).all(), accuracy
    assert accuracy[-1] < accuracy[0] - 0.3


@pytest.mark.parametrize("kind, far", [("rotate", 90), ("shift", 8)])
def test_robustness_falls_when_images_turn_or_move(trained, mnist, kind, far):
    images, labels = mnist.x_test[:1000], mnist.y_test[:1000]
    accuracy = analysis.robustness(trained, images, labels, kind, [0, far])
    assert accuracy[1] < accuracy[0] - 0.4, accuracy


# ----------------------------------------------------------------------------
# inside the network


def test_first_layer_images_are_the_first_weights_one_image_per_unit(trained):
    images = analysis.first_layer_images(trained)
    W = trained.coefs_[0]
    assert images.shape == (trained.layer_sizes[1], 28, 28) == (128, 28, 28)
    np.testing.assert_array_equal(images, W.T.reshape(-1, 28, 28))
    # unit 5's weight for pixel (row 3, column 17) is W[3 * 28 + 17, 5]
    assert images[5, 3, 17] == W[3 * 28 + 17, 5]


def test_layer_outputs_name_and_size_every_layer(trained, mnist):
    x = to_float(mnist.x_test[:1])[0]
    outputs = analysis.layer_outputs(trained, x)
    names = [name for name, _ in outputs]
    assert names == ["hidden layer 1 (relu)", "hidden layer 2 (relu)", "logits", "softmax"]
    assert [len(v) for _, v in outputs] == [128, 64, 10, 10]
    hidden1, hidden2 = outputs[0][1], outputs[1][1]
    assert (hidden1 >= 0).all() and (hidden2 >= 0).all()
    np.testing.assert_allclose(hidden1, np.maximum(x @ trained.coefs_[0] + trained.intercepts_[0], 0),
                               rtol=1e-5, atol=1e-5)
    logits, softmax = outputs[-2][1], outputs[-1][1]
    assert softmax.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(softmax, trained.predict_proba(x[None])[0], rtol=1e-5)
    np.testing.assert_allclose(np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum(), softmax,
                               rtol=1e-4, atol=1e-6)


def test_layer_outputs_logits_pick_the_predicted_class(trained, mnist):
    X = to_float(mnist.x_test[:30])
    predicted = trained.predict(X)
    for x, p in zip(X, predicted):
        outputs = dict(analysis.layer_outputs(trained, x))
        assert outputs["logits"].argmax() == p == outputs["softmax"].argmax()


def test_layer_outputs_of_a_tanh_network_with_one_hidden_layer():
    model = MLP([784, 32, 10], activation="tanh", init="glorot", random_state=3)
    x = np.random.default_rng(0).random(784).astype(np.float32)
    outputs = analysis.layer_outputs(model, x)
    assert [name for name, _ in outputs] == ["hidden layer 1 (tanh)", "logits", "softmax"]
    assert [len(v) for _, v in outputs] == [32, 10, 10]
    assert outputs[-1][1].sum() == pytest.approx(1.0, abs=1e-5)


def test_hidden_activations_one_array_per_hidden_layer(trained, mnist):
    acts = analysis.hidden_activations(trained, to_float(mnist.x_test[:100]))
    assert [a.shape for a in acts] == [(100, 128), (100, 64)]


def test_a_first_layer_with_very_negative_biases_is_all_dead(trained, mnist):
    X = to_float(mnist.x_test[:1000])
    dead = analysis.dead_units(trained, X)
    assert len(dead) == 2
    assert all(0 <= d < 0.5 for d in dead), dead
    killed = trained.copy()
    killed.intercepts_[0][...] = -1e4
    dead_killed = analysis.dead_units(killed, X)
    assert dead_killed[0] == 1.0
    assert analysis.dead_units(trained, X) == dead  # the copy, not the model, was changed


def test_dead_units_counts_units_that_are_zero_for_every_input():
    model = MLP([784, 8, 10], random_state=0)
    X = np.random.default_rng(1).random((200, 784)).astype(np.float32)
    model.intercepts_[0][:3] = -1e4  # three of eight units never fire
    model.intercepts_[0][3:] = 1e4   # the others always do
    assert analysis.dead_units(model, X) == [3 / 8]


def test_histogram_counts_every_value():
    values = np.random.default_rng(0).normal(size=(30, 40))
    counts, edges = analysis.histogram(values, bins=25)
    assert counts.sum() == 1200 and len(counts) == 25 and len(edges) == 26
    assert edges[0] == values.min() and edges[-1] == values.max()
    counts, edges = analysis.histogram(values)
    assert len(counts) == 50 and counts.sum() == 1200


# ----------------------------------------------------------------------------
# network_view: the strongest units and connections for one input


def handmade():
    """A ReLU network [4, 3, 2] with weights small enough to work out by hand.

    For x = [0.2, 0.9, 0, 0.5] the hidden layer is [0.2, 1.8, 0.5] and the logits [2.6, -3.3].
    """
    model = MLP([4, 3, 2], activation="relu")
    model.coefs_[0][...] = [[1, 0, 0], [0, 2, 0], [0, 0, 0], [0, 0, 1]]
    model.coefs_[1][...] = [[1, -1], [0.5, -2], [3, 1]]
    model.intercepts_[0][...] = 0
    model.intercepts_[1][...] = 0
    return model, np.array([0.2, 0.9, 0.0, 0.5], np.float32)


def test_network_view_of_a_handmade_network():
    model, x = handmade()
    view = analysis.network_view(model, x, top_k=2, edges=3)
    inp, hidden, out = view.layers
    assert [layer.size for layer in view.layers] == [4, 3, 2]
    np.testing.assert_array_equal(inp.units, [1, 3])             # the two brightest pixels
    np.testing.assert_allclose(inp.activations, [0.9, 0.5])
    assert view.pixels == ((0, 1), (1, 1))                       # a 2 x 2 "image"
    np.testing.assert_array_equal(hidden.units, [1, 2])          # 1.8 and 0.5; 0.2 is left out
    np.testing.assert_allclose(hidden.activations, [1.8, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(out.units, [0, 1])
    logits = np.array([2.6, -3.3])
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(out.activations, expected, rtol=1e-5)
    np.testing.assert_allclose(view.proba, expected, rtol=1e-5)
    assert inp.capped and hidden.capped and not out.capped
    # pixel 1 -> unit 1 (0.9 * 2) and pixel 3 -> unit 2 (0.5 * 1); the zero weights carry nothing
    # hidden -> output: -3.6 (1.8 * -2), 1.5 (0.5 * 3), 0.9 (1.8 * 0.5); 0.5 (0.5 * 1) is the fourth
    expected_edges = [(0, 0, 0, 2.0, 1.8), (0, 1, 1, 1.0, 0.5),
                      (1, 0, 1, -2.0, -3.6), (1, 1, 0, 3.0, 1.5), (1, 0, 0, 0.5, 0.9)]
    assert len(view.edges) == len(expected_edges)
    for edge, want in zip(view.edges, expected_edges):
        assert edge[:3] == want[:3]
        assert edge.weight == pytest.approx(want[3]) and edge.contribution == pytest.approx(want[4], rel=1e-6)
    assert all(isinstance(v, int) for e in view.edges for v in e[:3])
    assert all(isinstance(v, float) for e in view.edges for v in e[3:])


def test_network_view_keeps_the_strongest_edges_of_each_pair():
    model = MLP([784, 128, 64, 10], random_state=3)
    x = np.random.default_rng(0).random(784).astype(np.float32)
    view = analysis.network_view(model, x, top_k=12, edges=25)
    for i, (W, src, dst) in enumerate(zip(model.coefs_, view.layers[:-1], view.layers[1:])):
        c = src.activations[:, None] * W[np.ix_(src.units, dst.units)]  # every connection between shown units
        kept = [e for e in view.edges if e.layer == i]
        assert len(kept) == 25
        for e in kept:
            assert e.weight == W[src.units[e.source], dst.units[e.target]]
            assert e.contribution == pytest.approx(src.activations[e.source] * e.weight, rel=1e-6)
        strengths = [abs(e.contribution) for e in kept]
        assert strengths == sorted(strengths, reverse=True)
        np.testing.assert_allclose(strengths, np.sort(np.abs(c).ravel())[::-1][:25], rtol=1e-6)


def test_network_view_probabilities_are_the_model_s():
    model = MLP([784, 32, 10], activation="tanh", random_state=1)
    x = np.random.default_rng(2).random(784).astype(np.float32)
    view = analysis.network_view(model, x)
    np.testing.assert_allclose(view.proba, model.predict_proba(x[None])[0], rtol=1e-6)
    np.testing.assert_array_equal(view.layers[-1].activations, view.proba)
    assert view.proba.shape == (10,) and view.activation == "tanh"
    hidden = analysis.layer_outputs(model, x)[0][1]
    np.testing.assert_array_equal(view.layers[1].activations, np.sort(hidden)[::-1][:16])


def test_network_view_sizes_and_top_k_capping():
    model = MLP([784, 128, 64, 10], random_state=0)
    x = np.random.default_rng(1).random(784).astype(np.float32)
    view = analysis.network_view(model, x)
    assert [layer.size for layer in view.layers] == [784, 128, 64, 10]
    assert [len(layer.units) for layer in view.layers] == [16, 16, 16, 10]
    assert len(view.pixels) == 16 and len(view.edges) == 3 * 40
    view = analysis.network_view(model, x, top_k=100, edges=7)
    assert [len(layer.units) for layer in view.layers] == [100, 100, 64, 10]  # layer 2 is smaller than top_k
    assert [layer.capped for layer in view.layers] == [True, True, False, False]
    assert sorted(view.layers[2].units.tolist()) == list(range(64))
    assert len(view.edges) == 3 * 7
    # few outputs and top_k below 10: the output is still shown whole
    assert len(analysis.network_view(model, x, top_k=3).layers[-1].units) == 10


def test_network_view_shows_the_most_active_units_first():
    model = MLP([784, 128, 64, 10], random_state=0)
    x = np.random.default_rng(1).random(784).astype(np.float32)
    view = analysis.network_view(model, x, top_k=10)
    A = model.forward(x[None])
    for i, layer in enumerate(view.layers[:-1]):
        a = A[i][0]
        np.testing.assert_array_equal(layer.activations, a[layer.units])
        assert (np.diff(layer.activations) <= 0).all()
        assert layer.activations.min() >= np.delete(a, layer.units).max()


def test_network_view_breaks_ties_by_index_and_names_pixels():
    model = MLP([784, 20, 10], random_state=0)
    model.coefs_[0][...] = 0
    model.intercepts_[0][...] = 1.0
    model.intercepts_[0][[3, 17]] = 2.0  # two units above the rest, which tie
    x = np.zeros(784, np.float32)
    x[5 * 28 + 7] = 1.0  # one bright pixel, at row 5 and column 7
    view = analysis.network_view(model, x, top_k=4)
    np.testing.assert_array_equal(view.layers[0].units, [5 * 28 + 7, 0, 1, 2])  # the dark ones tie: by index
    assert view.pixels == ((5, 7), (0, 0), (0, 1), (0, 2))
    np.testing.assert_array_equal(view.layers[1].units, [3, 17, 0, 1])
    # the zero weights and dark pixels contribute nothing, so no edge leaves the input
    assert not [e for e in view.edges if e.layer == 0] and [e for e in view.edges if e.layer == 1]


def test_network_view_of_a_blank_input_has_no_input_edges():
    model = MLP([784, 16, 10], random_state=0)
    view = analysis.network_view(model, np.zeros(784, np.float32), edges=40)
    np.testing.assert_array_equal(view.layers[0].units, np.arange(16))
    assert all(e.layer == 1 for e in view.edges)


def test_network_view_checks_its_arguments():
    model = MLP([784, 16, 10])
    with pytest.raises(ValueError, match="784"):
        analysis.network_view(model, np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="top_k"):
        analysis.network_view(model, np.zeros(784, np.float32), top_k=0)
    view = analysis.network_view(model, np.ones((28, 28)), edges=0)  # any shape of 784 values, any dtype
    assert view.edges == () and view.layers[0].activations.dtype == np.float32
    with pytest.raises(AttributeError):
        view.proba = None  # frozen


# ----------------------------------------------------------------------------
# the map of a layer: PCA and how far apart the classes lie


def blobs(n_per=200, d=50, spread=8.0, seed=0):
    """Three Gaussian blobs in d dimensions, their centres ``spread`` apart per axis; and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, d)) * spread
    X = np.concatenate([c + rng.standard_normal((n_per, d)) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(3), n_per)


def same_up_to_sign(a, b, **tol):
    for j in range(a.shape[1]):
        sign = np.sign(np.dot(a[:, j], b[:, j])) or 1.0
        np.testing.assert_allclose(a[:, j], sign * b[:, j], **tol)


def test_pca_of_separable_blobs_separates_them():
    X, y = blobs()
    points, ratios = analysis.pca(X, 2)
    assert points.shape == (600, 2) and points.dtype == np.float32 and ratios.shape == (2,)
    assert analysis.nearest_centre_share(points, y) > 0.99
    shuffled = np.random.default_rng(1).permutation(y)
    assert 0.2 < analysis.nearest_centre_share(points, shuffled) < 0.5  # chance is 1 / 3
    assert ratios.sum() > 0.8  # three blobs: two axes hold nearly all the variance


def test_pca_is_the_eigen_decomposition_of_the_covariance():
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((300, 12)) @ rng.standard_normal((12, 12))).astype(np.float32) + 5.0
    for method in ("exact", "randomized", "auto"):
        points, ratios = analysis.pca(X, 3, method=method)
        Xc = X.astype(np.float64) - X.mean(axis=0)
        values, vectors = np.linalg.eigh(Xc.T @ Xc / (len(X) - 1))  # ascending
        values, vectors = values[::-1], vectors[:, ::-1]
        same_up_to_sign(points.astype(np.float64), Xc @ vectors[:, :3], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(ratios, values[:3] / values.sum(), rtol=1e-4)


def test_explained_ratios_are_sorted_and_sum_to_at_most_one():
    X, _ = blobs(d=20)
    for k in (1, 2, 5, 20):
        _, ratios = analysis.pca(X, k)
        assert (np.diff(ratios) <= 1e-7).all() and (ratios >= 0).all() and ratios.sum() <= 1 + 1e-6
    assert analysis.pca(X, 20)[1].sum() == pytest.approx(1.0, abs=1e-5)  # every axis: all of it
    points, ratios = analysis.pca(X[:, :1], 2)  # fewer columns than axes: the missing one is zeros
    assert (points[:, 1] == 0).all() and ratios[1] == 0 and ratios[0] == pytest.approx(1.0)
    points, ratios = analysis.pca(np.ones((10, 5)), 2)  # no variance at all
    assert (points == 0).all() and (ratios == 0).all()


def test_randomized_pca_matches_the_exact_one_on_a_clear_spectrum_gap():
    rng = np.random.default_rng(3)
    n, d = 2000, 1024
    signal = rng.standard_normal((n, 2)) * [30.0, 20.0] @ np.linalg.qr(rng.standard_normal((d, 2)))[0].T
    X = (signal + rng.standard_normal((n, d))).astype(np.float32)  # two strong directions over noise
    exact, r_exact = analysis.pca(X, 2, method="exact")
    fast, r_fast = analysis.pca(X, 2, method="randomized")
    same_up_to_sign(fast, exact, rtol=0, atol=1e-2 * np.abs(exact).max())
    np.testing.assert_allclose(r_fast, r_exact, rtol=1e-3)
    assert min(X.shape) > analysis.EXACT_SVD_MAX  # "auto" takes the randomized one here
    np.testing.assert_array_equal(analysis.pca(X, 2)[0], fast)
    np.testing.assert_array_equal(analysis.pca(X, 2)[0], analysis.pca(X, 2)[0])  # the same map each time
    flipped = analysis.pca(-X, 2, method="exact")[0]
    np.testing.assert_allclose(flipped, -exact, rtol=1e-3, atol=1e-3)  # signed by the loadings: a mirror image


def test_pca_refuses_what_it_cannot_project():
    for X, k, message in [(np.ones(5), 2, "2-D"), (np.ones((0, 3)), 2, "2-D"), (np.full((4, 3), np.nan), 2, "finite"),
                          (np.ones((4, 3)), 0, "positive"), (np.ones((4, 3)), 1.5, "positive")]:
        with pytest.raises(ValueError, match=message):
            analysis.pca(X, k)
    with pytest.raises(ValueError, match="unknown method"):
        analysis.pca(np.ones((4, 3)), 2, method="tsne")


def test_nearest_centre_share_on_a_handmade_case():
    points = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [3, 0]], float)  # the last is nearer the first centre
    assert analysis.nearest_centre_share(points, np.array([0, 0, 1, 1, 1])) == pytest.approx(4 / 5)
    assert analysis.nearest_centre_share(points[:4], np.array([0, 0, 1, 1])) == 1.0
    assert analysis.nearest_centre_share(points, np.array([7, 7, 3, 3, 7])) == 1.0  # any class numbers


def test_layer_maps_go_through_every_layer(trained, mnist):
    idx = analysis.sample(mnist.y_test, 500, seed=0)
    X, y = to_float(mnist.x_test[idx]), mnist.y_test[idx]
    maps, predictions = analysis.layer_maps(trained, X, y)
    assert [m.name for m in maps] == ["input pixels", "hidden layer 1", "hidden layer 2"]
    np.testing.assert_array_equal(predictions, trained.predict(X))
    np.testing.assert_array_equal(maps[0].points, analysis.pca(X, 2)[0])
    np.testing.assert_allclose(maps[2].points, analysis.pca(analysis.hidden_activations(trained, X)[1], 2)[0],
                               rtol=1e-4, atol=1e-4)
    for m in maps:
        assert m.points.shape == (500, 2) and 0 < m.explained.sum() <= 1 and 0 <= m.separation <= 1
    assert maps[-1].separation > maps[0].separation + 0.03  # a trained network pulls the classes apart
    with pytest.raises(ValueError, match="one row of 784 values per label"):
        analysis.layer_maps(trained, X[:, :10], y)
