"""Distorted training images (mlp.augment): labels kept, the identity, seeds, each distortion, training."""
import numpy as np
import pytest

from mlp.augment import CHUNK, LEVELS, Distorter, Distortion, _spread, describe, distort
from mlp.config import DISTORTIONS, KNOB, TrainConfig, distortion_level
from mlp.preprocess import to_float
from mlp.train import Trainer


@pytest.fixture(scope="module")
def digits(mnist):
    """500 real MNIST training images, (500, 784) uint8."""
    return mnist.x_train[:500].reshape(500, -1)


def centre_of_mass(images):
    """(row, column) of each image's ink, (n, 2)."""
    images = images.reshape(len(images), 28, 28)
    mass = images.sum(axis=(1, 2))
    rows = (images.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    cols = (images.sum(axis=1) * np.arange(28)).sum(axis=1) / mass
    return np.stack([rows, cols], axis=1)


def test_no_distortion_returns_the_input(digits):
    assert Distortion().identity and LEVELS["off"].identity
    np.testing.assert_array_equal(distort(digits, Distortion()), to_float(digits))


def test_the_warp_with_amounts_near_zero_returns_the_input(digits):
    """The whole path (padding, source points, the packed bilinear read) lines pixels up exactly."""
    tiny = Distortion(rotate=1e-6, scale=1e-7, shear=1e-6, shift=1e-5, thickness=1e-7, elastic=1e-7)
    np.testing.assert_allclose(distort(digits, tiny), to_float(digits), atol=1e-3)


@pytest.mark.parametrize("level", ["light", "strong"])
def test_a_distorted_digit_stays_centred_inside_the_frame(digits, level):
    out = distort(digits, LEVELS[level], seed=1)
    assert out.dtype == np.float32 and out.shape == digits.shape
    assert out.min() >= 0 and out.max() <= 1
    moved = np.abs(centre_of_mass(out) - centre_of_mass(digits.astype(np.float32)))
    assert moved.max() < LEVELS[level].shift + 2.5  # the shift, plus what turning moves the centre
    ink = out.sum(axis=1) / to_float(digits).sum(axis=1)
    assert 0.2 < ink.min() and ink.max() < 3.5  # no digit lost or smeared over the frame
    frame = out.reshape(-1, 28, 28)
    border = np.concatenate([frame[:, 0].ravel(), frame[:, -1].ravel(), frame[:, :, 0].ravel(),
                             frame[:, :, -1].ravel()])
    assert border.mean() < 0.02  # MNIST's digits keep clear of the edges, and so do the warped ones
    assert np.abs(out - to_float(digits)).mean() > 0.03  # and they did change


def test_seeded_distortions_repeat(digits):
    a, b = distort(digits, LEVELS["strong"], seed=5), distort(digits, LEVELS["strong"], seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, distort(digits, LEVELS["strong"], seed=6))


def test_each_batch_gets_a_fresh_draw(digits):
    distorter = Distorter(LEVELS["light"])
    first = distorter(digits[:100]).copy()
    assert not np.array_equal(first, distorter(digits[:100]))


def test_thickness_makes_strokes_thicker_or_thinner(digits):
    out = distort(digits, Distortion(thickness=1.0), seed=2)
    ink = out.sum(axis=1) / to_float(digits).sum(axis=1)
    assert (ink > 1.25).sum() > 50 and (ink < 0.85).sum() > 50  # both ways
    thicker = ink > 1
    assert 0.4 < thicker.mean() < 0.6 and np.flatnonzero(np.diff(thicker)).size > 50  # half, at random
    # a batch grows a random run of its images (its order is random): whole slices, no copies
    batch = Distorter(Distortion(thickness=1.0), seed=2)(digits)
    grown = batch.sum(axis=1) / to_float(digits).sum(axis=1) > 1
    assert 0 < np.flatnonzero(np.diff(grown)).size <= 2
    assert centre_of_mass(out).mean(axis=0) == pytest.approx(centre_of_mass(to_float(digits)).mean(axis=0),
                                                             abs=0.1)  # in place


def test_the_elastic_field_is_smooth_with_the_asked_size():
    K = _spread()
    np.testing.assert_allclose(np.linalg.norm(K, axis=1), 1, rtol=1e-5)
    rng = np.random.default_rng(0)
    fields = np.stack([K @ rng.standard_normal((6, 6)) @ K.T for _ in range(2000)])
    assert fields.std(axis=0).mean() == pytest.approx(1.0, abs=0.05)  # unit size at every pixel
    neighbours = np.corrcoef(fields[:, 10, 10], fields[:, 10, 11])[0, 1]
    assert neighbours > 0.9  # neighbouring pixels move together: a bend, not noise


def test_a_batch_larger_than_a_chunk_is_distorted_a_chunk_at_a_time(mnist):
    images = mnist.x_train[:CHUNK + 37].reshape(CHUNK + 37, -1)
    distorter = Distorter(LEVELS["light"])
    out = distorter(images)
    assert out.shape == (CHUNK + 37, 784) and 0 <= out.min() and out.max() <= 1
    assert distorter._n == CHUNK  # work arrays for one chunk, not for the whole batch
    again = np.empty_like(out)
    assert Distorter(LEVELS["light"])(images, out=again) is again
    np.testing.assert_array_equal(again, out)


def test_levels_and_knobs_agree():
    assert DISTORTIONS == ("rotate", "scale", "shear", "shift", "thickness", "elastic")
    for name, d in LEVELS.items():
        config = TrainConfig().distorted(name)
        assert config.distortion == d and distortion_level(config) == name
        for field in DISTORTIONS:
            assert getattr(d, field) in KNOB[field].values  # the sliders can show every level
    assert distortion_level(TrainConfig().distorted("light")) == "light"
    assert distortion_level(TrainConfig(rotate=3.0)) == "custom"
    assert describe(LEVELS["light"]).startswith("rotate 8°, scale 8%") and describe(Distortion()) == "none"


# ----------------------------------------------------------------------------
# training on distorted images


def small_config(**kwargs):
    return TrainConfig(**{"hidden_layer_sizes": (32,), "batch_size": 100, "max_iter": 2, "log_every": 5,
                          **kwargs}).distorted("light")


def trained(config, data, ahead=True, stop=None):
    trainer = Trainer(config, data)
    trainer.ahead = ahead
    for _ in trainer.run(stop):
        pass
    return trainer


@pytest.fixture(scope="module")
def small(mnist):
    return mnist.x_train[:1000], mnist.y_train[:1000], mnist.x_test[:500], mnist.y_test[:500]


def test_seeded_training_on_distorted_images_repeats(small):
    a, b = trained(small_config(), small), trained(small_config(), small)
    np.testing.assert_array_equal(a.model.params, b.model.params)
    plain = trained(small_config().distorted("off"), small)
    assert not np.array_equal(a.model.params, plain.model.params)


def test_batches_made_ahead_on_a_second_thread_are_the_same_batches(small):
    ahead, in_line = trained(small_config(), small, ahead=True), trained(small_config(), small, ahead=False)
    np.testing.assert_array_equal(ahead.model.params, in_line.model.params)


def test_stop_and_resume_keeps_the_batch_made_ahead(small):
    whole = trained(small_config(), small)
    parts = Trainer(small_config(), small)
    for _ in parts.run(stop=lambda: parts.step >= 7):
        pass
    assert parts._ahead is not None  # made ahead, kept for the next run
    parts.release()
    for _ in parts.run():
        pass
    np.testing.assert_array_equal(parts.model.params, whole.model.params)


def test_full_batch_training_distorts_the_whole_set_at_every_update(small):
    trainer = trained(TrainConfig(hidden_layer_sizes=(16,), batch_size=None, max_iter=3, log_every=1,
                                  solver="sgd", learning_rate_init=0.1).distorted("light"), small)
    assert trainer.step == 3 and trainer.nbytes > 1000 * 784 * 4  # the float copy, distorted
    trainer.release()
    assert trainer._X_full is None and trainer._distorter.nbytes < 2**20


def test_distorted_training_still_learns(mnist):
    data = mnist.x_train[:10000], mnist.y_train[:10000], mnist.x_test[:2000], mnist.y_test[:2000]
    trainer = trained(TrainConfig(hidden_layer_sizes=(128,), max_iter=3, learning_rate_init=2e-3)
                      .distorted("light"), data)
    assert trainer.history[-1].test_accuracy > 0.9
