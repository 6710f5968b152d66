"""Training hints on crafted histories: each rule fires on its bad case with the expected fix and
stays silent on a healthy training; the hints together never pull a setting two ways."""
import math
from dataclasses import replace

import pytest

from mlp.config import DISTORTIONS, KNOB, TrainConfig
from mlp.diagnostics import Diagnostics
from mlp.hints import (RULES, dead_relus, hints, loss_flat, overfitting, rate_too_high,
                       update_ratio)
from mlp.train import ConfigChange, Progress

CONFIG = TrainConfig()  # adam, learning rate 1e-3, ReLU, He initialisation, no regularisation


def records(losses, train=None, test=None, lr=1e-3):
    """One progress record per loss, 100 updates apart; accuracies default to 0.5."""
    n = len(losses)
    train, test = train or [0.5] * n, test or [0.5] * n
    return [Progress(100 * (i + 1), i + 1.0, train[i], test[i], loss, loss, 1e4, i + 1.0, lr)
            for i, loss in enumerate(losses)]


def change(step, field, value, old):
    """A setting that changed after ``step`` updates (records are 100 updates apart: epoch step / 100)."""
    return ConfigChange(step, step / 100, field, value, old)


def measured(step=600, ratio=1e-3, dead=(0.05, 0.05)):
    """One measurement with the same update/weight ratio in all three weight layers."""
    return [Diagnostics(step, step / 100, (1.0,) * 3, (ratio,) * 3, (10.0,) * 3, (0.1,) * 3, dead)]


HEALTHY = records([2.0, 1.0, 0.6, 0.4, 0.3, 0.25], train=[0.6, 0.8, 0.88, 0.91, 0.93, 0.94],
                  test=[0.7, 0.82, 0.88, 0.905, 0.925, 0.935])
FLAT = records([2.30, 2.29, 2.285, 2.28, 2.279], train=[0.11] * 5, test=[0.11] * 5, lr=1e-4)
GAPPY = records([0.5, 0.3, 0.2, 0.1, 0.05, 0.03], train=[0.9, 0.94, 0.96, 0.98, 0.99, 0.995],
                test=[0.9, 0.93, 0.94, 0.95, 0.955, 0.955])


def test_a_healthy_training_gets_no_hints():
    assert hints(HEALTHY, measured(), CONFIG) == []
    assert all(rule(HEALTHY, measured(), CONFIG) is None for rule in RULES)


@pytest.mark.parametrize("history", [[], records([2.5])])
def test_an_empty_or_short_history_gets_no_hints(history):
    assert hints(history, [], CONFIG) == []
    assert hints(history, measured(ratio=0.5, dead=(0.9, 0.9)), CONFIG) == []


def test_a_rising_loss_asks_for_a_ten_times_smaller_rate():
    config = replace(CONFIG, learning_rate_init=2e-3)
    since_start = rate_too_high(records([0.5, 0.3, 0.4, 0.6], lr=2e-3), [], config)
    climbing = rate_too_high(records([1.0, 0.3, 0.2, 0.35, 0.5, 0.7], lr=2e-3), [], config)
    assert "from 0.500 to 0.600 since the first record" in since_start.text
    assert "from 0.200 to 0.700 over the last 3 records" in climbing.text
    for hint in since_start, climbing:
        assert (hint.key, hint.level, hint.fix) == ("rate_too_high", "warning", {"learning_rate_init": 2e-4})
        assert hint.fix_label == "Apply: learning rate 0.002 -> 0.0002"


def test_a_small_climb_at_a_low_loss_is_noise():
    assert rate_too_high(records([2.0, 0.5, 0.1, 0.020, 0.022, 0.025, 0.027]), [], CONFIG) is None


def test_a_divergence_puts_the_rate_hint_first():
    for history in [], HEALTHY, GAPPY:
        first = hints(history, measured(), CONFIG, diverged=True)[0]
        assert (first.key, first.level, first.fix) == ("rate_too_high", "error", {"learning_rate_init": 1e-4})
    nan = hints(records([2.0, 1.0, math.nan]), [], CONFIG)
    assert [h.key for h in nan] == ["rate_too_high"] and nan[0].level == "error"


def test_a_rate_already_lowered_since_the_divergence_needs_no_fix():
    assert rate_too_high(records([2.0, 1.0], lr=0.02), [], replace(CONFIG, learning_rate_init=2e-3),
                         diverged=True) is None


def test_only_the_records_at_the_current_rate_count():
    before = records([1.0, 0.5, 0.8, 1.2], lr=0.02)       # rising at 0.02: the rate was lowered then
    after = [replace(p, step=p.step + 400, lr=2e-3) for p in records([0.9, 0.6, 0.4])]
    config = replace(CONFIG, learning_rate_init=2e-3)
    assert rate_too_high(before, [], replace(CONFIG, learning_rate_init=0.02)) is not None
    assert hints(before + after, measured(step=800, ratio=0.5), config)[0].key == "updates_too_large"
    assert hints(before + after, measured(step=500, ratio=0.5), config) == []  # measured before the change


RISING = records([0.5, 0.3, 0.4, 0.6, 0.8])       # steps 100 to 500: a rate too high
FALLING = [replace(p, step=p.step + 500) for p in records([0.75, 0.7, 0.65])]  # steps 600 to 800


def test_with_changes_the_rate_rules_read_only_what_came_after_the_last_rate_change():
    config = replace(CONFIG, learning_rate_init=2e-3)
    lowered = [change(500, "learning_rate_init", 2e-3, 0.02)]
    history = [replace(p, lr=0.02) for p in RISING] + [replace(p, lr=2e-3) for p in FALLING]
    assert rate_too_high(history, [], replace(config, learning_rate_init=0.02)) is not None  # all records
    assert hints(history, [], config, changes=lowered) == []
    assert hints(history, measured(step=500, ratio=0.5), config, changes=lowered) == []  # before the change
    large = hints(history, measured(step=550, ratio=0.5), config, changes=lowered)
    assert [h.key for h in large] == ["updates_too_large"]
    still_rising = history + [replace(FALLING[-1], step=900, loss=0.8, lr=2e-3)]
    assert rate_too_high(still_rising, [], config, changes=lowered).text.startswith(
        "The training loss rose from 0.750 to 0.800 since the first record")


def test_changes_tell_what_the_records_rates_cannot():
    # constant, then cosine from step 500: no record's rate is above its setting, yet the rate changed
    cosine = replace(CONFIG, learning_rate_init=2e-3, lr_schedule="cosine")
    annealing = [replace(p, lr=2e-3 * (0.9 - 0.1 * i)) for i, p in enumerate(FALLING)]
    history = [replace(p, lr=2e-3) for p in RISING] + annealing
    assert rate_too_high(history, [], cosine) is not None      # read from the rates: one phase
    schedule = [change(500, "lr_schedule", "cosine", "constant")]
    assert rate_too_high(history, [], cosine, changes=schedule) is None
    # epochs added to a cosine run raise the rate it is at, but its setting stays: all records count
    cosine_run = [replace(p, lr=2e-3 * (1 - 0.1 * i)) for i, p in enumerate(RISING)] + annealing
    assert rate_too_high(cosine_run, [], cosine) is None         # read from the rates: a new phase at 600
    epochs = [change(500, "max_iter", 20, 10)]
    assert rate_too_high(cosine_run, [], cosine, changes=epochs) is not None
    # other settings changing do not cut the evidence either
    assert rate_too_high(history, [], cosine, changes=[change(500, "alpha", 1e-4, 0.0)]) is not None


def test_with_changes_a_divergence_is_not_blamed_on_a_rate_changed_since_the_last_record():
    config = replace(CONFIG, learning_rate_init=2e-3)
    history = records([2.0, 1.0], lr=2e-3)
    assert rate_too_high(history, [], config, diverged=True, changes=[change(200, "learning_rate_init",
                                                                            2e-3, 0.02)]) is None
    assert rate_too_high(history, [], config, diverged=True,
                         changes=[change(100, "learning_rate_init", 2e-3, 0.02)]).level == "error"
    # after a divergence the trainer goes back to its last record: the last change recorded counts
    again = [change(150, "learning_rate_init", 0.02, 0.05), change(200, "learning_rate_init", 2e-3, 0.02)]
    assert rate_too_high(history, [], config, diverged=True, changes=again) is None


def test_dead_relus_with_changes_offer_no_cut_once_the_rate_was_lowered():
    dead = measured(dead=(0.1, 0.7))
    lowered = [change(50, "learning_rate_init", 1e-3, 1e-2)]   # before the first record: no rate shows it
    assert dead_relus(HEALTHY, dead, CONFIG).fix == {"learning_rate_init": 1e-4}
    assert dead_relus(HEALTHY, dead, CONFIG, changes=lowered).fix is None
    assert "already been lowered" in dead_relus(HEALTHY, dead, CONFIG, changes=lowered).why
    raised = [change(300, "learning_rate_init", 1e-3, 1e-4)]
    assert dead_relus(HEALTHY, dead, CONFIG, changes=raised).fix == {"learning_rate_init": 1e-4}
    other = [change(300, "alpha", 1e-4, 0.0)]
    assert dead_relus(HEALTHY, dead, CONFIG, changes=other).fix == {"learning_rate_init": 1e-4}
    assert hints(HEALTHY, dead, CONFIG, changes=lowered)[0].fix is None


@pytest.mark.parametrize("lr, lower, higher", [(2e-3, 2e-4, 0.02), (5e-4, 1e-4, 5e-3), (0.05, 5e-3, 0.5),
                                               (1e-4, None, 1e-3), (0.3, 0.02, 2.0), (10.0, 1.0, None)])
def test_rate_fixes_are_offered_rates_about_ten_times_away(lr, lower, higher):
    config = replace(CONFIG, learning_rate_init=lr)
    down = rate_too_high([], [], config, diverged=True).fix
    up = update_ratio(records([2.0, 1.9], lr=lr), measured(ratio=1e-6), config).fix
    assert down == (lower and {"learning_rate_init": lower})
    assert up == (higher and {"learning_rate_init": higher})
    assert all(v in KNOB["learning_rate_init"].values for v in (lower, higher) if v)


def test_a_flat_loss_at_a_low_accuracy_asks_for_a_ten_times_larger_rate():
    config = replace(CONFIG, solver="sgd", learning_rate_init=1e-4)
    found = hints(FLAT, measured(ratio=5e-6, dead=(0.0, 0.0)), config)
    assert [h.key for h in found] == ["loss_flat"]  # the small updates say the same: left out
    assert found[0].fix == {"learning_rate_init": 1e-3}
    assert "near 2.28 for the last 4 records" in found[0].text and "11.0 %" in found[0].text


def test_a_flat_loss_is_not_blamed_on_the_rate_when_it_levels_off_by_design_or_steps_are_big():
    config = replace(CONFIG, learning_rate_init=1e-4, lr_schedule="cosine")
    annealed = [replace(p, lr=p.lr * (6 - i) / 10) for i, p in enumerate(FLAT)]  # cosine's tail
    assert loss_flat(FLAT, [], config) is not None and loss_flat(annealed, [], config) is None
    assert loss_flat(FLAT, measured(ratio=5e-3), replace(CONFIG, learning_rate_init=1e-4)) is None
    done = records([0.05, 0.05, 0.05, 0.05], train=[0.99] * 4, test=[0.98] * 4)
    assert loss_flat(done, [], CONFIG) is None


def test_a_flat_loss_with_dead_units_says_so_instead():
    config = replace(CONFIG, learning_rate_init=1e-4)
    dead = measured(dead=(0.8, 0.1), ratio=1e-6)
    assert [h.key for h in hints(FLAT, dead, config)] == ["dead_relus"]
    hint = loss_flat(FLAT, dead, replace(config, activation="sigmoid"))
    assert hint.fix is None and "80 % of the units in hidden layer 1 are dead" in hint.text
    assert [h.key for h in hints(FLAT, dead, replace(config, activation="sigmoid"))] == ["loss_flat"]


def test_dead_relus_ask_for_a_smaller_rate_and_mention_he_initialisation():
    dead = measured(dead=(0.1, 0.7))
    hint = dead_relus(HEALTHY, dead, replace(CONFIG, init="glorot"))
    assert hint.text.startswith("70 % of the ReLUs in hidden layer 2 are dead")
    assert hint.fix == {"learning_rate_init": 1e-4} and "He initialisation" in hint.why
    assert "He initialisation" not in dead_relus(HEALTHY, dead, CONFIG).why
    assert dead_relus(HEALTHY, dead, replace(CONFIG, activation="tanh")) is None
    assert dead_relus(HEALTHY, measured(dead=(0.4, 0.3)), CONFIG) is None
    lowered = [replace(p, lr=1e-2) for p in HEALTHY[:3]] + HEALTHY[3:]  # dead units stay dead
    assert dead_relus(lowered, dead, CONFIG).fix is None


@pytest.mark.parametrize("ratio, key, fix, shown", [(5e-2, "updates_too_large", 1e-4, "5.0e-02"),
                                                    (3e-6, "updates_too_small", 1e-2, "3.0e-06")])
def test_updates_far_from_a_thousandth_of_the_weights(ratio, key, fix, shown):
    hint = update_ratio(HEALTHY, measured(ratio=ratio), CONFIG)
    assert (hint.key, hint.fix) == (key, {"learning_rate_init": fix}) and shown in hint.text
    assert update_ratio(HEALTHY, measured(ratio=ratio * 30 if ratio < 1e-3 else ratio / 30), CONFIG) is None


def test_one_large_update_among_the_recent_ones_is_noise():
    noisy = [d for i in range(9) for d in measured(step=500 + i)] + measured(step=510, ratio=0.1)
    assert update_ratio(HEALTHY, noisy, CONFIG) is None
    assert update_ratio(HEALTHY, noisy[-5:], CONFIG) is None and update_ratio(HEALTHY, noisy[-1:], CONFIG)


def test_small_updates_are_meant_at_the_end_of_a_cosine_schedule():
    tail = [replace(p, lr=1e-5) for p in HEALTHY]
    assert update_ratio(tail, measured(ratio=3e-6), replace(CONFIG, lr_schedule="cosine")) is None


@pytest.mark.parametrize("changes, fix", [
    ({}, {"alpha": 1e-4}),
    ({"alpha": 1e-4}, {"alpha": 1e-3}),
    ({"alpha": 1e-2}, {"dropout": 0.2}),
    ({"alpha": 1e-2, "dropout": 0.2}, {f: getattr(CONFIG.distorted("light"), f) for f in DISTORTIONS}),
    ({"alpha": 1e-2, "dropout": 0.2, "rotate": 5.0}, None),
])
def test_a_widening_gap_offers_the_first_remedy_not_yet_in_use(changes, fix):
    hint = overfitting(GAPPY, [], replace(CONFIG, **changes))
    assert hint.key == "overfitting" and hint.fix == fix
    assert "3.5 points above the test accuracy (98.8 % against 95.3 % over the last 3 records)" in hint.text


def test_the_other_remedies_are_named_in_why():
    assert "Dropout 0.2 or lightly distorted training images" in overfitting(GAPPY, [], CONFIG).why


@pytest.mark.parametrize("field, value, old", [("alpha", 1e-4, 0.0), ("dropout", 0.2, 0.0),
                                               ("rotate", 5.0, 0.0)])
def test_overfitting_waits_for_the_last_remedy_to_show(field, value, old):
    config = replace(CONFIG, **{field: value})
    assert overfitting(GAPPY, [], config) is not None
    for at in 600, 400:     # no record since, or fewer than 3
        assert overfitting(GAPPY, [], config, changes=[change(at, field, value, old)]) is None
        assert hints(GAPPY, [], config, changes=[change(at, field, value, old)]) == []
    widening = overfitting(GAPPY, [], config, changes=[change(300, field, value, old)])  # gaps 3, 3.5, 4
    assert widening.key == "overfitting" and widening.fix is not None
    assert "4.0 points" not in widening.text and "3.5 points above" in widening.text
    shrinking = GAPPY[:3] + [replace(p, test_accuracy=p.train_accuracy - g)
                             for p, g in zip(GAPPY[3:], (0.04, 0.035, 0.03))]
    assert overfitting(shrinking, [], config) is not None      # all records: the gap widened at step 400
    assert overfitting(shrinking, [], config, changes=[change(300, field, value, old)]) is None
    rate = [change(300, "learning_rate_init", 1e-4, 1e-3)]     # not a remedy: all records count
    assert overfitting(shrinking, [], config, changes=rate) is not None


def test_a_small_gap_or_a_crashed_test_accuracy_is_not_overfitting():
    narrow = [replace(p, test_accuracy=p.train_accuracy - 0.01) for p in GAPPY]
    crashed = GAPPY[:-1] + [replace(GAPPY[-1], test_accuracy=0.8)]
    assert overfitting(narrow, [], CONFIG) is None and overfitting(crashed, [], CONFIG) is None


BAD = [  # (history, diagnostics, config, diverged): states where several rules speak at once
    (records([0.5, 0.3, 0.4, 0.6]), measured(ratio=0.1, dead=(0.9, 0.9)), CONFIG, False),
    (records([0.5, 0.3, 0.4, 0.6]), measured(ratio=1e-6), CONFIG, True),
    (FLAT, measured(ratio=1e-6, dead=(0.6, 0.0)), replace(CONFIG, learning_rate_init=1e-4), False),
    (FLAT, measured(ratio=1e-6), replace(CONFIG, learning_rate_init=1e-4), False),
    (GAPPY, measured(ratio=0.1, dead=(0.9, 0.0)), CONFIG, False),
    (GAPPY, measured(ratio=1e-6), CONFIG, True),
]


@pytest.mark.parametrize("state", BAD)
def test_hints_never_change_a_setting_twice(state):
    found = hints(*state)
    fields = [f for h in found for f in (h.fix or {})]
    assert found and len(fields) == len(set(fields))
    assert all(h.fix["learning_rate_init"] in KNOB["learning_rate_init"].values
               for h in found if h.fix and "learning_rate_init" in h.fix)


@pytest.mark.parametrize("state", BAD)
def test_hints_are_plain_sentences_most_urgent_first(state):
    found = hints(*state)
    levels = ["error", "warning", "info"]
    assert [levels.index(h.level) for h in found] == sorted(levels.index(h.level) for h in found)
    for h in found:
        assert h.text.endswith(".") and not any(c in h.text + h.why for c in "*`_$#")
        assert (h.fix is None) == (h.fix_label is None)
