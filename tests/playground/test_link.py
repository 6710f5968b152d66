"""playground.link: the Train page's settings in a link, there and back, and what a bad link may not do."""
import time

import pytest

from mlp import PRESETS, preset
from mlp.config import KNOB, KNOBS
from playground.limits import Limits
from playground.link import from_query, to_query, train_config, widget_values

NEURONS, RATES = KNOB["hidden_layer_sizes"].values, KNOB["learning_rate_init"].values
BATCHES, SUBSETS = KNOB["batch_size"].values, KNOB["train_size"].values
CHOICES = {k.name: k.values for k in KNOBS if k.widget == "choice"}


def settings(name, **changes):
    """The Train page's settings (train_settings) for a preset, with some widget values changed."""
    return {"preset": name, **widget_values(PRESETS[name]), **changes}


@pytest.mark.parametrize("name", Limits().presets())
def test_every_preset_goes_through_a_link_and_back(name):
    values = settings(name)
    query = to_query(values)
    assert all(isinstance(v, str) for v in query.values())
    assert from_query(query) == (values, [])


def test_widget_values_show_the_config():
    values = widget_values(PRESETS["notebook"])
    assert values == {"n_hidden": 2, "layer_0": 128, "layer_1": 64, "learning_rate_init": 0.05,
                      "batch_size": "full", "max_iter": 500, "alpha": 0.0, "dropout": 0.0,
                      "random_state": 0, "train_size": 60000, "solver": "sgd", "momentum": 0.9,
                      "activation": "relu", "lr_schedule": "constant", "init": "notebook", "rotate": 0.0, "scale": 0.0,
                      "shear": 0.0, "shift": 0.0, "thickness": 0.0, "elastic": 0.0}
    assert widget_values(preset("fast", train_size=5000))["train_size"] == 5000
    assert widget_values(preset("fast").distorted("strong"))["elastic"] == 1.4


def test_the_link_is_short_and_readable():
    assert to_query(settings("fast", **widget_values(preset("fast").distorted("light")))) == {
        "preset": "fast", "layers": "128-64", "lr": "0.002", "batch": "128", "epochs": "8", "alpha": "0",
        "dropout": "0", "seed": "0", "images": "60000", "solver": "adam", "momentum": "0.9", "activation": "relu",
        "lr_schedule": "cosine", "init": "he", "rotate": "8", "scale": "0.08", "shear": "8", "shift": "1.5",
        "thickness": "0.5", "elastic": "0.8"}
    assert to_query(settings("notebook"))["batch"] == "full"


@pytest.mark.parametrize("changes", [
    {"n_hidden": 3, "layer_0": 8, "layer_1": 1024, "layer_2": 48},
    {"n_hidden": 4, "layer_0": 16, "layer_1": 32, "layer_2": 64, "layer_3": 96},
    {"learning_rate_init": 1e-4}, {"learning_rate_init": 10.0}, {"learning_rate_init": 5e-4},
    {"batch_size": 1}, {"batch_size": 4096}, {"batch_size": "full", "max_iter": 1000},
    {"max_iter": 50}, {"max_iter": 1}, {"alpha": 1e-6}, {"alpha": 1e-2}, {"dropout": 0.05}, {"dropout": 0.6},
    {"dropout": 0.15}, {"random_state": 2**31 - 1}, {"random_state": 12345}, {"train_size": 1000},
    {"solver": "momentum", "activation": "tanh", "lr_schedule": "constant", "init": "glorot"},
    {"activation": "sigmoid", "solver": "sgd"},
    {"rotate": 30.0, "scale": 0.3, "shear": 1.0, "shift": 5.0, "thickness": 1.0, "elastic": 3.0},
    {"rotate": 12.0, "elastic": 1.4}, {"scale": 0.01}, {"thickness": 0.1},
])
def test_changed_settings_go_through_a_link_and_back(changes):
    values = settings("fast", **changes)
    got, problems = from_query(to_query(values))
    assert problems == []
    assert {k: got[k] for k in values} == values


@pytest.mark.parametrize("choices, key", [(NEURONS, "layers"), (RATES, "lr"), (BATCHES, "batch"),
                                          (SUBSETS, "images")])
def test_every_allowed_choice_is_accepted(choices, key):
    for choice in choices:
        values = settings("fast", n_hidden=1, layer_0=choice) if key == "layers" else settings("fast")
        field = {"lr": "learning_rate_init", "batch": "batch_size", "images": "train_size"}.get(key)
        if field:
            values[field] = choice
        query = to_query(values)
        got, problems = from_query({key: query[key]})
        assert problems == [], (key, query[key])


@pytest.mark.parametrize("query, problem", [
    ({"lr": "1e9"}, "lr='1e9'"),
    ({"lr": "nan"}, "lr='nan'"),
    ({"lr": "inf"}, "lr='inf'"),
    ({"lr": "-inf"}, "lr='-inf'"),
    ({"lr": "0.003"}, "lr='0.003'"),
    ({"layers": "9999-1"}, "layers='9999-1'"),
    ({"layers": "9999"}, "layers='9999'"),
    ({"layers": "64-64-64-64-64"}, "layers='64-64-64-64-64'"),
    ({"layers": "abc"}, "layers='abc'"),
    ({"layers": ""}, "layers=''"),
    ({"layers": "64--64"}, "layers='64--64'"),
    ({"layers": "-64"}, "layers='-64'"),
    ({"epochs": "0"}, "epochs='0'"),
    ({"epochs": "-3"}, "epochs='-3'"),
    ({"epochs": "10000"}, "epochs='10000'"),
    ({"epochs": "1000"}, "epochs='1000'"),  # 1,000 passes of mini-batches: too long
    ({"epochs": "51"}, "epochs='51'"),
    ({"epochs": "2.5"}, "epochs='2.5'"),
    ({"batch": "full", "epochs": "10000"}, "epochs='10000'"),
    ({"seed": "-1"}, "seed='-1'"),
    ({"seed": "abc"}, "seed='abc'"),
    ({"seed": str(2**31)}, f"seed='{2**31}'"),
    ({"batch": "0"}, "batch='0'"),
    ({"batch": "100"}, "batch='100'"),
    ({"batch": "-1"}, "batch='-1'"),
    ({"dropout": "0.9"}, "dropout='0.9'"),
    ({"dropout": "-0.1"}, "dropout='-0.1'"),
    ({"alpha": "0.5"}, "alpha='0.5'"),
    ({"images": "123"}, "images='123'"),
    ({"images": "60001"}, "images='60001'"),
    ({"solver": "rm -rf"}, "solver='rm -rf'"),
    ({"activation": "<script>alert(1)</script>"}, "activation='<script>alert(1)</script>'"),
    ({"init": "HE"}, "init='HE'"),
    ({"lr_schedule": ""}, "lr_schedule=''"),
    ({"preset": "fastest"}, "preset='fastest'"),
    ({"preset": "record"}, "preset='record'"),  # longer than this server allows
    ({"rotate": "1e9"}, "rotate='1e9'"),
    ({"rotate": "nan"}, "rotate='nan'"),
    ({"rotate": "-5"}, "rotate='-5'"),
    ({"scale": "0.95"}, "scale='0.95'"),
    ({"scale": "1"}, "scale='1'"),
    ({"elastic": "inf"}, "elastic='inf'"),
    ({"thickness": "2"}, "thickness='2'"),
    ({"shift": "0.3"}, "shift='0.3'"),
    ({"augment": "extreme"}, "augment='extreme'"),
    ({"augment": "<b>on</b>"}, "augment='<b>on</b>'"),
])
def test_a_value_that_is_not_allowed_is_left_out_and_named(query, problem):
    values, problems = from_query(query)
    assert problems == [problem]
    name = problem.split("=")[0]
    field = {"lr": "learning_rate_init", "epochs": "max_iter", "seed": "random_state", "batch": "batch_size",
             "images": "train_size", "layers": "n_hidden"}.get(name, name)
    assert field not in values
    if name == "layers":
        assert not any(k.startswith("layer_") for k in values)


def test_epochs_up_to_1000_are_iterations_with_full_batch():
    assert from_query({"batch": "full", "epochs": "1000"}) == (
        {"batch_size": "full", "max_iter": 1000}, [])
    assert from_query({"batch": "full-batch", "epochs": str(Limits().max_iterations)})[1] == []
    assert from_query({"epochs": str(Limits().max_epochs)}) == ({"max_iter": 50}, [])
    # a full-batch preset allows them too
    values, problems = from_query({"preset": "notebook", "epochs": "800"})
    assert problems == [] and values["max_iter"] == 800 and values["batch_size"] == "full"
    # but not once the link asks for mini-batches on top of it
    values, problems = from_query({"preset": "notebook", "batch": "64", "epochs": "800"})
    assert problems == ["epochs='800'"] and values["batch_size"] == 64


def test_a_link_full_of_bad_values_names_each_and_keeps_the_good_ones():
    values, problems = from_query({"lr": "1e9", "seed": "abc", "layers": "9999", "epochs": "12",
                                   "solver": "sgd"})
    assert values == {"max_iter": 12, "solver": "sgd"}
    assert sorted(problems) == ["layers='9999'", "lr='1e9'", "seed='abc'"]


@pytest.mark.parametrize("name, hostile", [
    ("seed", "9" * 5000), ("epochs", "9" * 5000), ("layers", "9" * 5000), ("layers", "64-" * 5000),
    ("lr", "9" * 5000), ("images", "1" * 100_000), ("lr", "x" * 10_000), ("solver", "a" * 10_000),
    ("preset", "b" * 10_000), ("dropout", "0." + "5" * 10_000),
])
def test_a_huge_value_is_rejected_quickly_and_named_briefly(name, hostile):
    started = time.perf_counter()
    values, problems = from_query({name: hostile})
    seconds = time.perf_counter() - started
    assert seconds < 0.1
    assert values == {} and len(problems) == 1
    assert problems[0].startswith(f"{name}='") and len(problems[0]) < 60


def test_values_of_the_wrong_kind():
    assert from_query({"batch": "True"})[1] == ["batch='True'"]
    assert from_query({"seed": "1.0"})[1] == ["seed='1.0'"]
    assert from_query({"lr": "0x10"})[1] == ["lr='0x10'"]
    # a number given as text that means the same value is fine
    assert from_query({"lr": "1e-3", "seed": " 7 ", "dropout": "0.30"}) == (
        {"learning_rate_init": 0.001, "random_state": 7, "dropout": 0.3}, [])


def test_unknown_parameters_are_ignored():
    assert from_query({"sid": "abc", "utm_source": "mail", "foo": "1e9"}) == ({}, [])
    values, problems = from_query({"sid": "abc", "lr": "0.01", "x": "<b>"})
    assert values == {"learning_rate_init": 0.01} and problems == []


def test_a_preset_in_the_link_sets_all_its_values_and_the_others_override_them():
    values, problems = from_query({"preset": "notebook"})
    assert problems == [] and values == settings("notebook")

    values, problems = from_query({"preset": "notebook", "lr": "0.01", "layers": "256-32-16",
                                   "solver": "adam"})
    assert problems == []
    expected = settings("notebook", learning_rate_init=0.01, n_hidden=3, layer_0=256, layer_1=32, layer_2=16,
                        solver="adam")
    assert values == expected
    assert values["batch_size"] == "full" and values["init"] == "notebook"  # still the preset's

    # a bad preset: the other values still count
    values, problems = from_query({"preset": "nope", "lr": "0.01"})
    assert values == {"learning_rate_init": 0.01} and problems == ["preset='nope'"]


def test_a_level_of_distortion_in_the_link_sets_its_sliders_and_single_ones_override_it():
    values, problems = from_query({"augment": "strong", "rotate": "5"})
    assert problems == []
    assert values == {"rotate": 5.0, "scale": 0.15, "shear": 15.0, "shift": 2.5, "thickness": 1.0,
                      "elastic": 1.4}
    config = train_config({**settings("fast"), **values})
    assert config.distortion.rotate == 5.0 and config.elastic == 1.4


def test_a_preset_longer_than_the_server_allows_is_offered_where_it_is_allowed():
    assert "record" not in Limits().presets()
    assert "record" in Limits(max_job_seconds=3600, max_epochs=500).presets()
    values, problems = from_query({"preset": "record"}, Limits(max_job_seconds=3600, max_epochs=500))
    assert problems == [] and values["preset"] == "record"


def test_a_shared_link_with_some_settings():
    values, problems = from_query({"layers": "256-32", "lr": "0.01", "epochs": "3", "batch": "64",
                                   "images": "5000", "solver": "momentum"})
    assert problems == []
    assert values == {"n_hidden": 2, "layer_0": 256, "layer_1": 32, "learning_rate_init": 0.01,
                      "batch_size": 64, "max_iter": 3, "train_size": 5000, "solver": "momentum"}


def test_every_choice_of_the_radio_buttons_is_accepted():
    for key, allowed in CHOICES.items():
        for choice in allowed:
            assert from_query({key: choice}) == ({key: choice}, [])


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_widget_values_describe_the_config_they_show(name):
    config = PRESETS[name]
    shown = train_config(widget_values(config, Limits(max_epochs=config.max_iter)))
    assert shown.to_dict() == {**config.to_dict(), "log_every": None}  # the page leaves records to the plan
