"""playground.runs: the bounded history of training runs kept for the Compare runs page."""
import csv
import io
import json
import threading

import pytest

from mlp import MLP, Progress, Trainer, preset
from mlp.config import DISTORTIONS, KNOBS, TrainConfig
from mlp.train import ConfigChange
from playground.runs import Run, RunHistory


def progress(step, acc=0.9, epoch=None):
    return Progress(step=step, epoch=step / 4 if epoch is None else epoch, train_accuracy=acc - 0.01,
                    test_accuracy=acc, loss=0.5 / step, test_loss=0.6 / step,
                    samples_per_second=1000.0 * step, elapsed=0.25 * step, lr=0.002)


def config(hidden=(128, 64), solver="adam", lr=0.002, batch=128):
    return preset("fast", hidden_layer_sizes=hidden, solver=solver, learning_rate_init=lr,
                  batch_size=batch).to_dict()


def model(hidden=(16,)):
    return MLP([784, *hidden, 10], random_state=0)


def add(runs, lr=0.002, hidden=(16,), steps=3, state="finished", dataset="mnist"):
    history = [progress(s + 1) for s in range(steps)]
    return runs.add(dataset, config(hidden, lr=lr), history, state, model(hidden))


def test_add_get_iterate_and_remove():
    runs = RunHistory()
    assert len(runs) == 0 and list(runs) == [] and runs.get(1) is None
    a = add(runs, lr=0.002)
    b = add(runs, lr=0.01, hidden=(32, 16))
    c = add(runs, lr=0.05)
    assert len(runs) == 3
    assert [r.id for r in runs] == [1, 2, 3]
    assert list(runs) == [a, b, c]
    assert runs.get(2) is b and runs.get(4) is None
    assert b.label == "#2 32 16 · adam · lr 0.01"
    assert a.label == "#1 16 · adam · lr 0.002"
    assert b.n_params == model((32, 16)).n_params and isinstance(b.model, MLP)
    runs.remove(2)
    assert [r.id for r in runs] == [1, 3] and runs.get(2) is None and len(runs) == 2
    runs.remove(99)  # not there: nothing happens
    assert len(runs) == 2
    d = add(runs)
    assert d.id == 4  # ids are never reused
    assert [r.id for r in runs] == [1, 3, 4]


def test_iterating_is_safe_while_runs_change():
    runs = RunHistory()
    for _ in range(3):
        add(runs)
    seen = []
    for r in runs:
        seen.append(r.id)
        runs.remove(r.id)
        add(runs)
    assert seen == [1, 2, 3] and [r.id for r in runs] == [4, 5, 6]


def test_the_runs_keep_copies_of_the_config_and_history():
    runs = RunHistory()
    cfg, hist = config(), [progress(1), progress(2)]
    run = runs.add("mnist", cfg, hist, "finished", model())
    cfg["solver"] = "sgd"
    hist.append(progress(3))
    assert run.config["solver"] == "adam" and len(run.history) == 2


def test_past_max_runs_the_oldest_go():
    runs = RunHistory(max_runs=3)
    for lr in (0.001, 0.002, 0.005, 0.01, 0.02):
        add(runs, lr=lr)
    assert len(runs) == 3
    assert [r.id for r in runs] == [3, 4, 5]
    assert [r.config["learning_rate_init"] for r in runs] == [0.005, 0.01, 0.02]
    assert runs.get(1) is None and runs.get(2) is None


def test_past_max_model_bytes_the_oldest_drop_their_weights_but_keep_their_curves():
    size = model().params.nbytes
    runs = RunHistory(max_model_bytes=int(2.5 * size))
    for steps in (2, 3, 4, 5):
        add(runs, steps=steps)
    assert [r.model is not None for r in runs] == [False, False, True, True]
    assert [len(r.history) for r in runs] == [2, 3, 4, 5]  # the curves stay
    assert [r.n_params for r in runs] == [model().n_params] * 4
    dropped = runs.get(1)
    assert dropped.summary()["parameters"] == model().n_params and dropped.test_accuracy == 0.9
    assert sum(r.model.params.nbytes for r in runs if r.model is not None) <= 2.5 * size


def test_the_newest_run_keeps_its_weights_even_when_they_alone_are_too_big():
    runs = RunHistory(max_model_bytes=1)
    first = add(runs)
    assert first.model is not None
    second = add(runs)
    assert second.model is not None and first.model is None
    big = add(runs, hidden=(256, 128))
    assert big.model is not None and second.model is None


def test_a_big_new_run_pushes_out_the_weights_of_older_ones():
    small = model().params.nbytes
    runs = RunHistory(max_model_bytes=3 * small)
    add(runs)
    add(runs)
    assert all(r.model is not None for r in runs)
    add(runs, hidden=(64,))  # alone bigger than the two small ones together
    assert [r.model is not None for r in runs] == [False, False, True]


def test_summary_row():
    runs = RunHistory()
    run = runs.add("fashion-mnist", config((256, 32), solver="momentum", lr=0.01, batch=None),
                   [progress(1, 0.7), progress(2, 0.8, epoch=2.0)], "stopped", model((256, 32)))
    row = run.summary()
    assert row == {"run": "#1 256 32 · momentum · lr 0.01", "test accuracy": 0.8, "epochs trained": 2.0,
                   "seconds": 0.5, "parameters": model((256, 32)).n_params, "layers": "784-256-32-10",
                   "learning rate": 0.01, "batch size": "full", "epochs": 8, "optimizer": "momentum", "momentum": 0.9,
                   "activation": "relu", "learning-rate schedule": "cosine", "l2 penalty (alpha)": 0.0,
                   "dropout": 0.0, "initialisation": "he", "random seed": 0, "training images": 60000,
                   "distort: rotate (degrees)": 0.0, "distort: scale": 0.0, "distort: slant (degrees)": 0.0,
                   "distort: shift (pixels)": 0.0, "distort: stroke thickness": 0.0,
                   "distort: elastic (pixels)": 0.0, "changes during the run": "", "edits": "", "state": "stopped",
                   "dataset": "fashion-mnist"}
    assert list(row)[6:-4] == [k.label.lower() for k in KNOBS[1:]]  # a column per knob, in their order
    assert run.test_accuracy == 0.8 and run.seconds == 0.5
    assert add(runs).summary()["batch size"] == 128


def test_a_distorted_run_says_so_in_its_label_and_its_columns():
    runs = RunHistory()
    cfg = TrainConfig(hidden_layer_sizes=(32,)).distorted("light").to_dict()
    run = runs.add("mnist", cfg, [progress(1, 0.7)], "finished", model((32,)))
    assert run.label.endswith(" · light")
    assert run.summary()["distort: elastic (pixels)"] == 0.8
    cfg["rotate"] = 3.0
    assert runs.add("mnist", cfg, [progress(1, 0.7)], "finished", model((32,))).label.endswith(" · custom")
    older = {k: v for k, v in cfg.items() if k not in DISTORTIONS}  # a run saved before distortions
    row = runs.add("mnist", older, [progress(1, 0.7)], "finished", model((32,))).summary()
    assert row["distort: scale"] == 0


def test_a_run_without_history():
    run = Run(1, "#1", "mnist", config(), [], "stopped", 10)
    assert run.test_accuracy != run.test_accuracy  # NaN
    assert run.seconds == 0.0 and run.summary()["epochs trained"] == 0
    assert list(csv.reader(io.StringIO(run.history_csv()))) == [["step", "changes"]]


def test_history_csv_has_one_row_per_record():
    runs = RunHistory()
    run = add(runs, steps=6)
    rows = list(csv.DictReader(io.StringIO(run.history_csv())))
    assert len(rows) == 6
    assert list(rows[0]) == ["step", "epoch", "train_accuracy", "test_accuracy", "loss", "test_loss",
                             "samples_per_second", "elapsed", "lr", "changes"]
    for row, p in zip(rows, run.history):
        assert int(row["step"]) == p.step
        assert float(row["loss"]) == p.loss and float(row["test_accuracy"]) == p.test_accuracy
        assert float(row["epoch"]) == p.epoch


def test_config_json_holds_the_data_set_and_the_settings():
    runs = RunHistory()
    run = runs.add("fashion-mnist", config((96,), lr=0.005), [progress(1)], "finished", model((96,)))
    parsed = json.loads(run.config_json())
    assert parsed["dataset"] == "fashion-mnist"
    assert parsed["hidden_layer_sizes"] == [96] and parsed["learning_rate_init"] == 0.005
    assert {k: v for k, v in parsed.items() if k not in ("dataset", "changes")} == run.config
    assert parsed["changes"] == []


def test_the_changes_during_a_run_are_in_its_label_table_and_exports():
    runs = RunHistory()
    changes = [ConfigChange(2, 0.2, "learning_rate_init", 0.02, 0.002), ConfigChange(2, 0.2, "dropout", 0.2, 0.0),
               ConfigChange(5, 0.5, "max_iter", 9, 8)]
    run = runs.add("mnist", config((32,)), [progress(s) for s in range(1, 7)], "finished", model((32,)), changes)
    assert run.label.endswith("· 3 changes")
    assert run.summary()["changes during the run"] == ("lr 0.002 -> 0.02 at update 2; dropout 0 -> 0.2 at update 2; "
                                                       "epochs 8 -> 9 at update 5")
    rows = list(csv.DictReader(io.StringIO(run.history_csv())))
    assert [r["changes"] for r in rows] == ["", "lr 0.002 -> 0.02; dropout 0 -> 0.2", "", "", "epochs 8 -> 9", ""]
    parsed = json.loads(run.config_json())
    assert parsed["learning_rate_init"] == run.config["learning_rate_init"]  # the settings it started with
    assert parsed["changes"][0] == {"step": 2, "epoch": 0.2, "field": "learning_rate_init", "value": 0.02,
                                    "old": 0.002}


def test_an_edited_run_says_how_in_its_label_table_and_config():
    runs = RunHistory()
    changes = [ConfigChange(2, 0.2, "learning_rate_init", 0.02, 0.002)]
    run = runs.add("mnist", config((32,)), [progress(1), progress(2)], "edited", model((32,)), changes,
                   edits="2 units off, pruned 30 %")
    assert run.label == "#1 32 · adam · lr 0.002 · 1 change · edited: 2 units off, pruned 30 %"
    assert run.state == "edited" and run.edits == "2 units off, pruned 30 %"
    assert run.summary()["edits"] == "2 units off, pruned 30 %" and run.summary()["state"] == "edited"
    assert json.loads(run.config_json())["edits"] == "2 units off, pruned 30 %"
    assert "edits" not in json.loads(add(runs).config_json())  # a run that was not edited
    assert add(runs).edits == "" and "edited" not in add(runs).label


def test_a_run_of_unknown_settings_names_its_origin_instead():
    runs = RunHistory()
    cfg = TrainConfig(hidden_layer_sizes=(48, 16)).to_dict()
    run = runs.add("mnist", cfg, [progress(1)], "edited", model((48, 16)), edits="temperature 2",
                   origin="uploaded model")
    assert run.label == "#1 48 16 · uploaded model · edited: temperature 2"


def test_a_real_run(mnist):
    trainer = Trainer(preset("fast", train_size=1000, max_iter=1), mnist)
    for _ in trainer.run():
        pass
    runs = RunHistory()
    run = runs.add(mnist.name, trainer.config.to_dict(), trainer.history, "finished", trainer.snapshot)
    assert run.test_accuracy == trainer.history[-1].test_accuracy
    assert run.n_params == 109_386 and run.model is trainer.snapshot
    assert len(list(csv.DictReader(io.StringIO(run.history_csv())))) == len(trainer.history) == 4
    assert json.loads(run.config_json())["train_size"] == 1000


def test_adding_from_several_threads_loses_nothing():
    runs = RunHistory(max_runs=1000, max_model_bytes=10 * model().params.nbytes)
    shared = model()
    barrier = threading.Barrier(8)
    errors = []

    def work():
        try:
            barrier.wait()
            for _ in range(25):
                runs.add("mnist", config(), [progress(1)], "finished", shared)
                len(runs), list(runs)
        except Exception as e:  # noqa: BLE001 - checked below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(runs) == 200
    assert sorted(r.id for r in runs) == list(range(1, 201))
    assert [r.id for r in runs] == sorted(r.id for r in runs)  # newest last
    assert sum(r.model is not None for r in runs) == 10


@pytest.mark.parametrize("max_runs", [1, 2])
def test_small_limits(max_runs):
    runs = RunHistory(max_runs=max_runs)
    for _ in range(4):
        add(runs)
    assert [r.id for r in runs] == list(range(5 - max_runs, 5))
