"""Training settings (mlp.config): configs as dicts, presets, plan()'s memory estimate against training."""
import json
import tracemalloc

import pytest

from mlp.config import PRESETS, TrainConfig, plan, preset
from mlp.train import Trainer


def config(**kwargs):
    """A small, quick network; keyword arguments override the fields."""
    return TrainConfig(**{"hidden_layer_sizes": (32,), "batch_size": 100, "max_iter": 1, **kwargs})


# ----------------------------------------------------------------------------
# configs and presets


@pytest.mark.parametrize("cfg", [*PRESETS.values(), config(train_size=300, max_steps=7, log_every=2)])
def test_config_dict_round_trip(cfg):
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert TrainConfig.from_dict(d) == cfg
    assert TrainConfig.from_dict({**d, "not_a_field": 1}) == cfg


def test_preset_overrides_and_unknown_name():
    p = preset("notebook", max_iter=30)
    assert p.max_iter == 30 and p.batch_size is None and p.init == "notebook"
    assert PRESETS["notebook"].max_iter == 500
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        preset("nope")


# ----------------------------------------------------------------------------
# the plan


@pytest.mark.parametrize("name, overrides", [
    ("notebook", {}), ("fast", {}), ("best", {}),
    ("notebook", {"hidden_layer_sizes": (512, 512), "train_size": 20000})])
def test_the_memory_estimate_covers_what_training_allocates(mnist, name, overrides):
    config = preset(name, max_steps=3, log_every=3, **overrides)
    tracemalloc.start()
    try:
        list(Trainer(config, mnist).run())
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert peak <= plan(config, config.train_size or 60000).megabytes <= 2 * peak + 16
