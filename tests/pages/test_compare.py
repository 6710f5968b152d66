"""The Compare runs page under AppTest: runs compared, used and deleted; model files down- and uploaded."""
import io
import json
import re

import numpy as np
import pytest

import mlp
from mlp.preprocess import to_float
from tests.pages.helpers import (MARKDOWN, array, chart_titled, charts, interpreted, metrics, open_page,
                                 saved, sidebar_status, texts, upload, wait_for_job)


def test_compare_without_runs_says_how_to_get_some(app):
    open_page(app, "compare")
    assert app.title[0].value == "Compare runs"
    assert texts(app.info)[0].startswith("No runs yet. Every run you train (finished or stopped) is kept")
    assert "Train a model first to download it." in texts(app.caption)
    assert not app.get("plotly_chart") and not app.dataframe and not app.get("download_button")
    assert app.file_uploader(key="model_upload").label.startswith("Load a model (.npz")
    assert not app.error


# ----------------------------------------------------------------------------
# two real runs trained through the Train page


def train_once(at):
    at.button(key="train").click().run()
    assert not at.exception
    assert wait_for_job(at).state == "finished"


def test_compare_two_runs_use_one_and_delete_one(app):
    open_page(app, "train")
    app.select_slider(key="train_size").set_value(1000).run()
    app.slider(key="max_iter").set_value(1).run()
    train_once(app)
    app.select_slider(key="learning_rate_init").set_value(0.01).run()
    train_once(app)
    second = app.session_state["trainer"]

    open_page(app, "compare")
    labels = ["#1 128 64 · adam · lr 0.002", "#2 128 64 · adam · lr 0.01"]
    assert app.multiselect(key="compare_runs").value == [1, 2]
    assert app.multiselect(key="compare_runs").options == labels
    curves = charts(app)[0]["data"]
    assert [c["name"] for c in curves] == labels
    np.testing.assert_array_equal(array(curves[1]["y"]), [p.test_accuracy for p in second.history])
    table = app.dataframe[0].value
    assert len(table) == 2 and list(table["run"]) == labels[::-1]
    assert list(table["learning rate"]) == [0.01, 0.002] and set(table["state"]) == {"finished"}
    assert [(d.key, d.label) for d in app.get("download_button")] == [
        ("run_csv", "History (CSV)"), ("run_json", "Config (JSON)"),
        ("model_download", "Download the current model (.npz)")]
    assert sidebar_status(app) == f"Model: trained, test accuracy {second.history[-1].test_accuracy:.1%}"

    # another curve
    app.radio(key="compare_metric").set_value("loss").run()
    np.testing.assert_array_equal(array(charts(app)[0]["data"][0]["y"]),
                                  [p.loss for p in app.session_state["runs"].get(1).history])

    # run #1 becomes the current model, and the sidebar says so at once
    assert app.selectbox(key="run_pick").value == 2
    app.selectbox(key="run_pick").set_value(1).run()
    app.button(key="run_use").click().run()
    assert not app.exception
    assert sidebar_status(app) == f"Model: {labels[0]} (mnist)"
    assert f"{labels[0]} is now the current model." in texts(app.success)
    first = app.session_state["runs"].get(1).model
    open_page(app, "evaluate")
    accuracy = first.score(to_float(app.session_state["trainer"].x_test), app.session_state["trainer"].y_test)
    assert metrics(app)["Test accuracy"] == f"{accuracy:.2%}"
    assert sidebar_status(app) == f"Model: {labels[0]} (mnist)"

    # delete run #2
    open_page(app, "compare")
    app.selectbox(key="run_pick").set_value(2).run()
    app.button(key="run_delete").click().run()
    assert not app.exception
    assert [r.id for r in app.session_state["runs"]] == [1]
    assert app.multiselect(key="compare_runs").options == labels[:1]
    assert len(app.dataframe[0].value) == 1 and len(charts(app)[0]["data"]) == 1
    assert app.selectbox(key="run_pick").options == labels[:1]


def test_a_stopped_run_is_kept_too(app):
    open_page(app, "train")
    app.slider(key="max_iter").set_value(50).run()
    app.button(key="train").click().run()
    job = app.session_state["job"]
    while job.alive and not job.trainer.history:
        job.join(0.05)
    app.button(key="stop").click().run()
    job.join(60)
    assert job.state == "stopped"
    open_page(app, "compare")
    table = app.dataframe[0].value
    assert list(table["state"]) == ["stopped"] and len(app.multiselect(key="compare_runs").value) == 1


def test_a_run_whose_rate_changed_shows_where(app):
    open_page(app, "train")
    app.select_slider(key="speed").set_value("20 / s").run()
    app.button(key="train").click().run()
    trainer = app.session_state["trainer"]
    while not trainer.history:
        app.session_state["job"].join(0.05)
    app.select_slider(key="learning_rate_init").set_value(0.0005).run()
    while not trainer.changes or trainer.history[-1].step <= trainer.changes[0].step:
        app.session_state["job"].join(0.05)
    app.button(key="stop").click().run()
    open_page(app, "compare")
    marks = [t for c in charts(app) for t in c["data"] if t.get("marker", {}).get("symbol") == "diamond"]
    step = trainer.changes[0].step
    assert len(marks) == 1 and marks[0]["text"] == [f"lr 0.002 -> 0.0005 at update {step:,}"]
    table = app.dataframe[1].value  # under "One run"
    assert list(table["change"]) == ["lr 0.002 -> 0.0005"] and list(table["after update"]) == [step]
    assert app.dataframe[0].value["learning rate"].tolist() == [0.002]  # the rate it started with


# ----------------------------------------------------------------------------
# loading a model file


def npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_the_current_model_can_be_downloaded_and_loaded_again(app, fast_trainer, mnist):
    open_page(app, "compare", trainer=fast_trainer)
    assert [d.key for d in app.get("download_button")] == ["model_download"]
    content = saved(fast_trainer.snapshot, dataset="mnist")
    upload(app, "mine.npz", content)
    assert texts(app.success) == ["Loaded ` mine.npz `: 784 → 128 → 64 → 10, trained on mnist. "
                                  "It is now the current model."]
    assert sidebar_status(app) == "Model: uploaded ` mine.npz ` (mnist)"


@pytest.mark.parametrize("content, reason", [
    (b"this is not a model", "not a model file: expected an .npz file saved by MNIST Playground"),
    (npz(meta=np.array(json.dumps({"layer_sizes": [784, 16, 10], "activation": "relu"})),
         W0=np.zeros((10, 16), np.float32), b0=np.zeros(16, np.float32),
         W1=np.zeros((16, 10), np.float32), b1=np.zeros(10, np.float32)),
     "W0 should be a float array of shape (784, 16), found (10, 16)"),
    (npz(W0=np.zeros((784, 16), np.float32)), "not a model file saved by MNIST Playground (KeyError"),
    (saved(mlp.MLP([100, 16, 10])), "it takes 100 inputs, not 784"),
    (saved(mlp.MLP([784, 16, 5])), "it has 5 classes, not 10"),
], ids=["text", "wrong-shapes", "no-meta", "100-inputs", "5-classes"])
def test_a_bad_model_file_is_refused_and_the_model_stays(app, fast_trainer, mnist, content, reason):
    open_page(app, "compare", trainer=fast_trainer)
    before = sidebar_status(app)
    upload(app, "bad.npz", content)
    errors = texts(app.error)
    assert len(errors) == 1 and errors[0].startswith(f"Could not load ` bad.npz `: ` {reason}")
    assert errors[0].endswith("The current model is unchanged.")
    assert not app.success
    assert sidebar_status(app) == before
    assert "loaded" not in app.session_state
    open_page(app, "evaluate")
    assert metrics(app)["Test accuracy"] == f"{fast_trainer.history[-1].test_accuracy:.2%}"


def test_a_loaded_model_is_used_by_the_other_pages(app, fast_trainer, mnist):
    other = mlp.Trainer(mlp.preset("fast", hidden_layer_sizes=(32,), train_size=1000, max_iter=1), mnist)
    for _ in other.run():
        pass
    open_page(app, "compare", trainer=fast_trainer)
    upload(app, "small.npz", saved(other.snapshot, dataset="mnist"))
    assert sidebar_status(app) == "Model: uploaded ` small.npz ` (mnist)"
    open_page(app, "evaluate")
    assert metrics(app)["Test accuracy"] == f"{other.history[-1].test_accuracy:.2%}"
    open_page(app, "inspect")
    assert chart_titled(app, "hidden layer 1 (relu): 32 values")
    # a bad file afterwards leaves the loaded one in place
    open_page(app, "compare")
    upload(app, "bad.npz", b"PK\x03\x04 broken zip")
    assert texts(app.error)[0].startswith("Could not load ` bad.npz `: ")
    assert sidebar_status(app) == "Model: uploaded ` small.npz ` (mnist)"


def test_a_fashion_model_loaded_on_mnist_is_kept_for_fashion(app, fast_trainer):
    open_page(app, "compare", trainer=fast_trainer)
    upload(app, "fashion.npz", saved(fast_trainer.snapshot, dataset="fashion-mnist"))
    assert "trained on fashion-mnist" in texts(app.success)[0]
    open_page(app, "evaluate")
    assert texts(app.info)[0].startswith("No trained model for this data set yet")


def test_an_uploaded_files_name_is_echoed_as_plain_text(app, fast_trainer):
    open_page(app, "compare", trainer=fast_trainer)
    name = "[Sign in again](http://example.org) ![](http://example.org/b.png).npz"
    upload(app, name, saved(fast_trainer.snapshot, dataset="mnist"))
    [success] = texts(app.success)
    assert success.startswith("Loaded ` [Sign in again]") and not interpreted(success), success
    assert not interpreted(sidebar_status(app))
    upload(app, name.replace(".npz", "2.npz"), b"not a model")
    [error] = texts(app.error)
    assert error.startswith("Could not load ` [Sign in again]") and not interpreted(error), error


@pytest.mark.parametrize("dataset", MARKDOWN[:2] + ["cifar-10", 7])
def test_a_model_file_naming_an_unknown_data_set_is_refused(app, fast_trainer, dataset):
    open_page(app, "compare", trainer=fast_trainer)
    before = sidebar_status(app)
    upload(app, "mine.npz", saved(fast_trainer.snapshot, dataset=dataset))
    [error] = texts(app.error)
    assert "it names an unknown data set" in error and not interpreted(error), error
    assert sidebar_status(app) == before


@pytest.mark.parametrize("case", ["junk", "wide", "huge"])
def test_a_hostile_model_file_is_refused_before_it_is_read(app, fast_trainer, case):
    open_page(app, "compare", trainer=fast_trainer)
    before = sidebar_status(app)
    buf = io.BytesIO()
    small = mlp.MLP([784, 8, 10])
    weights = {f"W{i}": W for i, W in enumerate(small.coefs_)}
    weights.update({f"b{i}": b for i, b in enumerate(small.intercepts_)})
    meta = {"layer_sizes": [784, 8, 10], "activation": "relu"}
    if case == "junk":  # 64 MB of zeros in a few hundred kB, beside a valid model
        weights["junk"] = np.zeros(8_000_000)
    elif case == "wide":  # past the server's max_neurons, in a small file
        meta["layer_sizes"] = [784, 2048, 10]
        weights = {"W0": np.zeros((784, 2048), np.float32), "b0": np.zeros(2048, np.float32),
                   "W1": np.zeros((2048, 10), np.float32), "b1": np.zeros(10, np.float32)}
    else:  # float64 weights too large for float32
        weights["W0"] = np.full((784, 8), 1e39)
    np.savez_compressed(buf, meta=np.array(json.dumps(meta)), **weights)
    upload(app, f"{case}.npz", buf.getvalue())
    [error] = texts(app.error)
    reason = {"junk": r"it would unpack to 6\d\.\d MB; the limit is 20\.0 MB",
              "wide": r"it has a layer of 2048 neurons \(at most 1024\)",
              "huge": "W0 holds NaN, infinite values or values too large for float32"}[case]
    assert re.search(reason, error), error
    assert error.endswith("The current model is unchanged.") and sidebar_status(app) == before
