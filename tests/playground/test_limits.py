"""Server limits (playground.limits): where they come from, what they refuse, what Train may offer."""
import re
from dataclasses import fields
from pathlib import Path

import pytest

from mlp import PRESETS, TrainConfig, preset
from mlp import plan
from mlp.config import KNOB
from playground.limits import CORES, Limits, load_limits
from playground.link import from_query, widget_values


def test_defaults_allow_every_preset_but_the_record_on_the_whole_training_set():
    limits = Limits()
    assert limits.max_jobs == max(1, CORES // 2) and limits.blas_threads == 1
    assert limits.presets() == [name for name in PRESETS if name != "record"]
    for name in limits.presets():
        assert limits.problems(preset(name), 60000) == []
    assert limits.problems(preset("record"), 60000)  # a long run: the command line's, or a bigger server's


def test_the_config_file_sets_limits_and_environment_variables_win(tmp_path):
    path = tmp_path / "playground.toml"
    path.write_text("[limits]\nmax_jobs = 1\nmax_neurons = 256\nsession_timeout = 30\n")
    limits = load_limits({"MNIST_PLAYGROUND_MAX_NEURONS": "128", "MNIST_PLAYGROUND_CONFIG": str(path)})
    assert (limits.max_jobs, limits.max_neurons, limits.session_timeout) == (1, 128, 30.0)
    with pytest.raises(ValueError, match="no config file"):
        load_limits({"MNIST_PLAYGROUND_CONFIG": str(tmp_path / "absent.toml")})


@pytest.mark.parametrize("text, env, words", [
    ("[limits]\nmax_jobz = 2\n", {}, "unknown limits max_jobz"),
    ("[limits\n", {}, "cannot read"),
    ("", {"MNIST_PLAYGROUND_MAX_JOBS": "two"}, "limit max_jobs must be a whole number, not 'two'"),
    ("[limits]\nsession_timeout = 'long'\n", {}, "limit session_timeout must be a number"),
    ("", {"MNIST_PLAYGROUND_MAX_BATCH": "0"}, "max_batch must be positive"),
    ("[limits]\nmax_neurons = 4\n", {}, "max_neurons must be at least 8"),
])
def test_a_broken_config_is_named_in_the_error(tmp_path, text, env, words):
    path = tmp_path / "playground.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=words):
        load_limits(env, path)


def test_jobs_times_blas_threads_never_exceed_the_cores():
    limits = Limits(max_jobs=CORES, blas_threads=4)
    assert limits.blas_threads == 1
    assert Limits(max_jobs=1, blas_threads=CORES).blas_threads == CORES


def test_problems_name_each_setting_over_the_limit():
    limits = Limits(max_layers=2, max_neurons=256, max_batch=1024, max_epochs=10, max_iterations=100)
    config = preset("fast", hidden_layer_sizes=(512, 64, 64), batch_size=4096, max_iter=20)
    assert limits.problems(config, 60000) == [
        "3 hidden layers (at most 2)", "a layer of 512 neurons (at most 256)",
        "4,096 images per update (at most 1,024)", "20 epochs (at most 10)"]
    assert limits.problems(preset("notebook"), 60000) == [
        "60,000 images per update (at most 1,024)", "500 iterations (at most 100)"]
    assert limits.problems(preset("notebook", max_iter=100), 1000) == []  # full batch of a small subset


def test_memory_limit_refuses_a_full_batch_of_wide_layers():
    config = preset("notebook", hidden_layer_sizes=(1024,) * 4)
    assert plan(config, 60000).megabytes > 2000
    memory, time = Limits().problems(config, 60000)
    assert "MB of memory while training (at most 512 MB; a smaller batch or narrower layers need less)" \
        in memory
    assert time.startswith("about ") and " s of training (at most 600 s; " in time
    assert Limits(max_job_mb=4096, max_job_seconds=10**4).problems(config, 60000) == []


def test_time_limit_refuses_a_training_of_days():
    config = TrainConfig(hidden_layer_sizes=(1024,) * 4, batch_size=1, max_iter=50)
    [problem] = Limits().problems(config, 60000)
    assert re.fullmatch(r"about [\d,]+ s of training \(at most 600 s; fewer epochs, fewer images, a larger "
                        r"batch or a smaller network train faster\)", problem), problem
    assert Limits().problems(preset("best"), 60000) == []  # about 100 s


def test_the_train_page_offers_only_what_the_server_allows():
    limits = Limits(max_layers=1, max_neurons=100, max_batch=64, max_epochs=5)
    assert max(limits.offered(KNOB["hidden_layer_sizes"])) == 96
    assert limits.offered(KNOB["batch_size"])[-2:] == (64, "full") and limits.cap("epochs") == 5
    values = widget_values(PRESETS["best"], limits)  # a preset brought within the limits
    assert (values["n_hidden"], values["layer_0"], values["batch_size"], values["max_iter"]) == (1, 96, 64, 5)
    assert limits.problems(preset("best", hidden_layer_sizes=(96,), batch_size=64, max_iter=5), 60000) == []
    values, problems = from_query({"layers": "128", "batch": "128", "epochs": "6", "lr": "0.01"}, limits)
    assert values == {"learning_rate_init": 0.01} and len(problems) == 3


def test_the_shipped_config_file_lists_every_limit_with_its_default():
    path = Path(__file__).resolve().parents[2] / ".streamlit" / "playground.toml"
    text = path.read_text()
    listed = dict(re.findall(r"^# (\w+) = (\S+)", text, flags=re.M))
    defaults = {f.name: f.default for f in fields(Limits)}
    assert list(listed) == list(defaults)
    for name, value in listed.items():
        if name != "max_jobs":  # its default depends on the machine
            assert float(value) == defaults[name], name
    assert load_limits({}, path) == Limits()  # all commented out: the defaults
