"""mlp.analysis on data sets: seeded samples, class counts, mean images, upscaling, a model's mistakes."""
import numpy as np
import pytest

from mlp import MLP
from mlp.analysis import class_counts, mean_images, mistakes, predict_all, sample, upscale


def predict(model, images, chunk=4096):
    return predict_all(model, images, chunk).argmax(axis=1)


def read_only(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


@pytest.fixture(scope="module")
def random_set():
    """300 random uint8 'images' with labels 0..9, read-only like the loaded data sets."""
    rng = np.random.default_rng(3)
    return read_only(rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)), read_only(rng.integers(0, 10, 300))


def test_sample_is_reproducible_and_seed_dependent():
    labels = np.arange(1000) % 10
    a, b = sample(labels, 48, seed=5), sample(labels, 48, seed=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample(labels, 48, seed=6))
    assert len(set(a.tolist())) == 48 and a.min() >= 0 and a.max() < 1000


def test_sample_smaller_n_is_a_prefix_and_large_n_gives_every_index_once():
    labels = np.arange(100) % 10
    assert np.array_equal(sample(labels, 24, 1), sample(labels, 96, 1)[:24])
    everything = sample(labels, 10_000, 1)
    assert sorted(everything.tolist()) == list(range(100))


def test_sample_filters_by_class():
    labels = np.arange(1000) % 10
    idx = sample(labels, 48, seed=0, classes=[3])
    assert len(idx) == 48 and set(labels[idx].tolist()) == {3}
    both = sample(labels, 10_000, seed=0, classes=[2, 7])
    assert len(both) == 200 and set(labels[both].tolist()) == {2, 7}
    assert np.array_equal(sample(labels, 48, 0, classes=[]), sample(labels, 48, 0))  # empty: all classes


def test_sample_mask_keeps_the_seeded_order():
    labels = np.arange(500) % 10
    mask = np.arange(500) % 3 == 0
    masked = sample(labels, 40, seed=9, mask=mask)
    assert mask[masked].all() and len(masked) == 40
    unmasked = sample(labels, 500, seed=9)
    assert np.array_equal(masked, unmasked[mask[unmasked]][:40])


def test_class_counts_sum_to_the_number_of_labels():
    labels = read_only([0, 1, 1, 3, 3, 3])
    counts = class_counts(labels, n_classes=5)
    assert counts.tolist() == [1, 2, 0, 3, 0]
    assert counts.sum() == len(labels)


def test_mean_images_of_a_tiny_known_set():
    images = read_only(np.array([[[0, 255], [255, 0]],
                                 [[255, 255], [0, 0]],
                                 [[51, 102], [153, 204]]], np.uint8))
    labels = read_only([0, 0, 2])
    for chunk in (1, 2, 4096):  # chunked sums give the same answer
        means = mean_images(images, labels, n_classes=3, chunk=chunk)
        assert means.shape == (3, 2, 2) and means.dtype == np.float32
        np.testing.assert_allclose(means[0], [[0.5, 1.0], [0.5, 0.0]], atol=1e-6)
        np.testing.assert_allclose(means[1], 0.0)  # no samples: black
        np.testing.assert_allclose(means[2], [[0.2, 0.4], [0.6, 0.8]], atol=1e-6)
    assert images.flags.writeable is False


def test_mean_images_match_numpy_on_real_mnist(mnist):
    x, y = mnist.x_test, mnist.y_test
    assert not x.flags.writeable
    means = mean_images(x, y)
    assert means.shape == (10, 28, 28) and means.dtype == np.float32
    for c in (0, 1, 7):
        np.testing.assert_allclose(means[c], x[y == c].mean(axis=0) / 255, atol=1e-5)
    assert means[1].sum() < means[0].sum()  # a 1 has less ink than a 0


def test_upscale_repeats_each_pixel():
    img = np.array([[1, 2], [3, 4]], np.uint8)
    big = upscale(img, 3)
    assert big.shape == (6, 6) and big.dtype == np.uint8
    assert (big[:3, :3] == 1).all() and (big[:3, 3:] == 2).all()
    assert (big[3:, :3] == 3).all() and (big[3:, 3:] == 4).all()
    stack = upscale(read_only(np.stack([img, img + 10])), 2)
    assert stack.shape == (2, 4, 4) and stack[1, 3, 3] == 14


def test_predict_in_chunks_matches_one_pass(random_set):
    x, _ = random_set
    model = MLP([784, 16, 10], random_state=1)
    expected = model.predict(x.reshape(len(x), -1).astype(np.float32) / 255)
    assert np.array_equal(predict(model, x, chunk=7), expected)
    assert predict(model, x[:0]).shape == (0,)


def test_mistakes_are_the_masked_sample(random_set):
    x, y = random_set
    model = MLP([784, 16, 10], random_state=1)
    wrong = predict(model, x) != y
    assert 20 < wrong.sum() < len(y)  # a random network is mostly, not always, wrong
    idx, pred = mistakes(model, x, y, 20, seed=4, chunk=8)
    assert np.array_equal(idx, sample(y, 20, 4, mask=wrong))
    assert np.array_equal(pred, predict(model, x)[idx]) and (pred != y[idx]).all()
    idx3, _ = mistakes(model, x, y, 1000, seed=4, classes=[3], chunk=8)
    assert sorted(idx3.tolist()) == np.flatnonzero(wrong & (y == 3)).tolist()
    assert np.array_equal(idx3, sample(y, 1000, 4, classes=[3], mask=wrong))


def test_mistakes_of_a_model_that_is_always_right(random_set):
    x, _ = random_set
    model = MLP([784, 16, 10], random_state=2)
    y = read_only(predict(model, x))
    idx, pred = mistakes(model, x, y, 48, seed=0, chunk=50)
    assert idx.shape == (0,) and pred.shape == (0,)
