"""Training that changes while it runs (mlp.train): live settings, stepping, and the layers' diagnostics."""
from dataclasses import replace

import numpy as np
import pytest

from mlp import diagnostics
from mlp.diagnostics import Diagnostics, measure, norms
from mlp.model import MLP
from mlp.train import LIVE, ConfigChange, TrainConfig, Trainer, phases


@pytest.fixture(scope="module")
def small(mnist):
    """1,000 training and 500 test images of the real MNIST."""
    return mnist.x_train[:1000], mnist.y_train[:1000], mnist.x_test[:500], mnist.y_test[:500]


def config(**kwargs):
    return TrainConfig(**{"hidden_layer_sizes": (32, 16), "batch_size": 100, "max_iter": 2, "solver": "sgd",
                          "learning_rate_init": 0.1, **kwargs})


def run(trainer, **kwargs):
    return list(trainer.run(**kwargs))


def test_a_rate_changed_at_step_k_changes_the_updates_from_k_on_exactly(small):
    live = Trainer(config(), small)
    for p in live.run(every=1):
        if p.step == 7:
            live.change("learning_rate_init", 0.02)
    # the same, spliced by hand: 7 updates at 0.1, then the rest with a config that says 0.02
    spliced = Trainer(config(), small)
    run(spliced, steps=7)
    spliced.config = replace(spliced.config, learning_rate_init=0.02)
    run(spliced)
    np.testing.assert_array_equal(live.model.params, spliced.model.params)
    assert live.changes == [ConfigChange(7, 0.7, "learning_rate_init", 0.02, 0.1)]
    assert [p.lr for p in live.history][6:8] == [0.1, 0.02]
    late = Trainer(config(), small)  # one update later is another run
    for p in late.run(every=1):
        if p.step == 8:
            late.change("learning_rate_init", 0.02)
    assert not np.array_equal(late.model.params, live.model.params)
    assert live.config.learning_rate_init == 0.02 and live.start_config.learning_rate_init == 0.1


@pytest.mark.parametrize("extra", [{}, {"dropout": 0.2, "rotate": 10.0, "elastic": 1.0}])
def test_pause_step_and_resume_give_the_weights_of_an_uninterrupted_run(small, extra):
    cfg = config(solver="adam", learning_rate_init=2e-3, **extra)
    whole = Trainer(cfg, small)
    run(whole)
    parts = Trainer(cfg, small)
    run(parts, steps=3)  # pause after 3 updates
    for _ in range(5):  # step, step, ...
        records = run(parts, steps=1)
        assert [p.step for p in records] == [parts.step]  # each step shows exactly that update
    run(parts, every=1, steps=4)  # slow motion
    run(parts)  # resume
    assert parts.step == whole.step == 20
    np.testing.assert_array_equal(parts.model.params, whole.model.params)


def test_changes_of_each_live_setting_apply_and_are_recorded(small):
    t = Trainer(config(solver="momentum", hidden_layer_sizes=(32,)), small)
    for p in t.run(every=1):
        if p.step == 2:
            t.change("momentum", 0.5)
            t.change("alpha", 1e-4)
            t.change("dropout", 0.3)
            t.change("lr_schedule", "cosine")
            t.change("rotate", 12.0)
            t.change("learning_rate_init", 0.1)  # the same as before: not a change
    assert [(c.step, c.field, c.value) for c in t.changes] == [
        (2, "momentum", 0.5), (2, "alpha", 1e-4), (2, "dropout", 0.3), (2, "lr_schedule", "cosine"),
        (2, "rotate", 12.0)]
    assert t.optimizer.momentum == 0.5 and t.model.dropout == 0.3 and t._distorter.distortion.rotate == 12.0
    assert t.history[-1].lr == 0.0 and t.done  # cosine reaches 0 at the end
    assert phases(t.start_config, t.changes) == [(0, t.start_config), (2, t.config)]


def test_a_new_batch_size_keeps_the_epochs_left_and_loses_no_image(small):
    t = Trainer(config(max_iter=3, log_every=None), small)  # 10 updates an epoch, 30 in all
    for p in t.run():
        if p.step == 6:
            t.change("batch_size", 250)
    assert t.changes[0] == ConfigChange(6, 0.6, "batch_size", 250, 100)
    assert t.batch_size == 250 and t.steps_per_epoch == 4 and t.log_every == 1
    assert t.total_steps == t.step == 6 + 10  # 2.4 epochs left: the next whole number of updates of 250
    assert t.history[-1].epoch == pytest.approx(3.1)


def test_a_distortion_switched_on_mid_run_is_made_ahead_like_in_line(small):
    def trained(ahead):
        t = Trainer(config(), small)
        t.ahead = ahead
        for p in t.run(every=1):
            if p.step == 4:
                t.change("shift", 2.0)
            if p.step == 9:
                t.change("batch_size", 50)  # drops the batch made ahead: its rows come again
        return t
    a, b = trained(True), trained(False)
    np.testing.assert_array_equal(a.model.params, b.model.params)
    assert a.step == 4 + 5 + 2 * 11  # 11 updates left at 100 become 22 at 50


def test_epochs_added_while_it_runs(small):
    t = Trainer(config(max_iter=1), small)
    for p in t.run(every=1):
        if p.step == 3:
            t.add_epochs(1)
    assert t.step == t.total_steps == 20 and t.config.max_iter == 2
    assert t.changes == [ConfigChange(3, 0.3, "max_iter", 2, 1)]


@pytest.mark.parametrize("field, value, message", [
    ("hidden_layer_sizes", (64,), "stays as it is"),
    ("solver", "adam", "stays as it is"),
    ("learning_rate_init", -1.0, "greater than 0"),
    ("learning_rate_init", float("nan"), "greater than 0"),
    ("dropout", 1.0, "below 1"),
    ("lr_schedule", "<b>x</b>", "one of constant, cosine"),
    ("batch_size", None, "full-batch"),
    ("batch_size", 1000, "full-batch"),
])
def test_changes_that_are_refused(small, field, value, message):
    t = Trainer(config(), small)
    with pytest.raises(ValueError, match=message):
        t.change(field, value)
    assert t.requested == t.config and t._requests.empty()


def test_a_full_batch_run_keeps_its_batch(small):
    t = Trainer(config(batch_size=None), small)
    with pytest.raises(ValueError, match="full batch"):
        t.change("batch_size", 100)


def test_every_live_setting_is_a_knob():
    assert set(LIVE) <= set(TrainConfig.__dataclass_fields__)
    assert {"hidden_layer_sizes", "solver", "activation", "init"}.isdisjoint(LIVE)


# ----------------------------------------------------------------------------
# diagnostics


def test_diagnostics_match_a_direct_computation(small):
    t = Trainer(config(hidden_layer_sizes=(32, 16), solver="sgd", learning_rate_init=0.1), small)
    run(t, steps=6)
    before = t.model.params.copy()
    run(t, steps=1, every=1)
    d = t.diagnostics[-1]
    assert d.step == 7 and d.epoch == pytest.approx(0.7)
    Ws, Wb, W0 = t.model.coefs_, t.model.views(before)[0], t.model.views(t.start_params)[0]
    for i in range(3):
        assert d.weight_norm[i] == pytest.approx(np.sqrt(np.sum(Ws[i].astype(float) ** 2)), rel=1e-5)
        moved = np.linalg.norm((Ws[i] - Wb[i]).astype(float))
        assert d.update_ratio[i] == pytest.approx(moved / np.linalg.norm(Wb[i].astype(float)), rel=1e-4)
        assert d.grad_norm[i] == pytest.approx(moved / 0.1, rel=1e-3)  # plain SGD: the step is lr g
        assert d.drift[i] == pytest.approx(np.linalg.norm((Ws[i] - W0[i]).astype(float))
                                           / np.linalg.norm(W0[i].astype(float)), rel=1e-4)
    assert len(d.dead) == 2 and all(0 <= x <= 1 for x in d.dead)


def test_diagnostics_are_sampled_every_few_updates(small):
    t = Trainer(config(max_iter=4, batch_size=10), small)  # 100 updates an epoch, a record every 25
    run(t)
    assert diagnostics.every(t.log_every) == 5
    assert [d.step for d in t.diagnostics] == list(range(5, 401, 5))
    assert [diagnostics.every(n) for n in (1, 3, 10, 117, 1000)] == [1, 3, 5, 11, 100]


def test_dead_units_are_those_at_zero_for_the_whole_batch():
    model = MLP([4, 3, 2], random_state=0)
    A = [np.ones((5, 4)), np.array([[0, 1, 0], [0, 0, 0], [0, 2, 0], [0, 0, 3], [0, 0, 0]], float),
         np.full((5, 2), 0.5)]
    p = model.params.copy()
    d = measure(model, norms(model, p), p.copy(), p, A, 1, 0.1)
    assert d.dead == (pytest.approx(1 / 3),)
    assert d.update_ratio == (0.0, 0.0) and d.drift == (0.0, 0.0)
    assert isinstance(d, Diagnostics)


def test_the_gap_is_marked_where_it_widens():
    class P:
        def __init__(self, train, test):
            self.train_accuracy, self.test_accuracy = train, test
    history = [P(0.9, 0.9), P(0.95, 0.92), P(0.97, 0.93), P(0.97, 0.95), P(0.99, 0.94)]
    gaps, widening = diagnostics.gap(history)
    assert gaps == pytest.approx([0, 0.03, 0.04, 0.02, 0.05])
    assert widening == [False, True, True, False, True]


def test_weight_histograms_share_their_bins():
    model = MLP([4, 3, 2], random_state=0)
    start = model.params.copy()
    model.params *= 2
    (edges, now, then), _ = diagnostics.weight_histograms(model, start, bins=5)
    assert len(edges) == 6 and now.sum() == then.sum() == 12
    assert edges[0] == pytest.approx(min(model.coefs_[0].min(), 0)) or edges[0] <= model.coefs_[0].min()


def test_the_measurements_are_kept_out_of_the_garbage_collectors_way(small):
    """A server collects garbage after every page run: a trainer's measurements are plain tuples,
    which the collector stops walking after one look."""
    import gc

    t = Trainer(config(), small)
    run(t)
    gc.collect()
    gc.collect()
    assert t.measured and not any(gc.is_tracked(r) for r in t.measured)
    assert t.diagnostics[-1] == Diagnostics(*t.measured[-1])
