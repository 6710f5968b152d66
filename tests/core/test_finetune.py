"""Fine-tuning on a class's own digits: a network trained on MNIST, a constructed distribution shift
(digits turned by 45 degrees), and a few epochs on the shifted digits mixed with MNIST."""
from dataclasses import replace

import numpy as np
import pytest

import mlp
from mlp import analysis
from mlp.data import mix
from mlp.metrics import accuracy


def test_a_trainer_starts_from_the_weights_it_is_given(mnist):
    trained = mlp.MLP([784, 32, 10], random_state=5)
    config = mlp.preset("fast", hidden_layer_sizes=(32,), train_size=500, max_iter=1)
    t = mlp.Trainer(config, mnist, start=trained.params)
    np.testing.assert_array_equal(t.model.params, trained.params)
    np.testing.assert_array_equal(t.snapshot.params, trained.params)
    with pytest.raises(ValueError, match="values"):
        mlp.Trainer(config, mnist, start=np.zeros(10)).model


def test_mix_repeats_the_small_set_to_its_share():
    x_base, y_base = np.zeros((1000, 28, 28), np.uint8), np.zeros(1000, np.uint8)
    x_extra, y_extra = np.full((10, 28, 28), 255, np.uint8), np.full(10, 7, np.uint8)
    x, y = mix(x_extra, y_extra, x_base, y_base, n_base=300, share=0.25)
    assert len(x) == len(y) == 400 and (y == 7).sum() == 100
    assert x.dtype == np.uint8 and ((x == 255).all(axis=(1, 2)) == (y == 7)).all()
    with pytest.raises(ValueError):
        mix(x_extra[:0], y_extra[:0], x_base, y_base)


def test_fine_tuning_on_shifted_digits_fixes_them_without_forgetting_mnist(mnist):
    config = mlp.preset("fast", train_size=10_000, max_iter=2)
    base = mlp.Trainer(config, mnist)
    for _ in base.run():
        pass
    model = base.snapshot
    # the "class set": test digits turned by 45 degrees, 600 to train on and 400 to test on
    turned = np.round(analysis.perturb(mnist.x_test[:1000], "rotate", 45) * 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = mnist.y_test[:1000]
    x_tr, y_tr, x_te, y_te = turned[:600], labels[:600], turned[600:], labels[600:]
    before_class = accuracy(y_te, model.predict(x_te.reshape(-1, 784) / np.float32(255)))
    before_mnist = base.history[-1].test_accuracy
    x, y = mix(x_tr, y_tr, mnist.x_train, mnist.y_train, n_base=10_000, share=0.25)
    tune = mlp.Trainer(replace(config, train_size=None, max_iter=3), (x, y, mnist.x_test, mnist.y_test),
                       start=model.params)
    for _ in tune.run():
        pass
    tuned = tune.snapshot
    after_class = accuracy(y_te, tuned.predict(x_te.reshape(-1, 784) / np.float32(255)))
    after_mnist = tune.history[-1].test_accuracy
    assert before_class < 0.6 < after_class, (before_class, after_class)
    assert after_class - before_class > 0.2
    assert after_mnist > before_mnist - 0.03, (before_mnist, after_mnist)  # it did not forget MNIST
