"""The Train page under AppTest: its settings, a training, stop, links, the server's queue and limits."""
import re
import time
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

import mlp
from mlp.augment import LEVELS
from playground import link as settings
from playground import server as shared
from tests.pages.helpers import (JOB_TIMEOUT, MARKDOWN, ROOT, charts, interpreted, layers, open_page, texts,
                                 wait_for_job)


# ----------------------------------------------------------------------------
# the settings


def test_train_page_renders_the_fast_preset(app):
    open_page(app, "train")
    assert app.title[0].value == "Train"
    assert app.selectbox(key="preset").value == "fast"
    assert app.slider(key="n_hidden").value == 2
    assert [app.select_slider(key=f"layer_{i}").value for i in range(2)] == [128, 64]
    assert app.select_slider(key="learning_rate_init").value == 0.002
    assert app.slider(key="max_iter").label == "Epochs"
    assert any("784 → 128 → 64 → 10" in t and "109,386 parameters" in t for t in texts(app.markdown))
    assert "No model yet" in app.info[0].value
    assert not app.button(key="train").disabled
    assert app.button(key="continue").disabled and app.button(key="stop").disabled


def test_a_third_hidden_layer_gets_its_own_slider(app):
    open_page(app, "train")
    assert [s.key for s in app.select_slider if s.key.startswith("layer_")] == ["layer_0", "layer_1"]
    app.slider(key="n_hidden").set_value(3).run()
    third = app.select_slider(key="layer_2")
    assert third.label == "Neurons in layer 3" and third.value == 64
    third.set_value(32).run()
    assert any("784 → 128 → 64 → 32 → 10" in t for t in texts(app.markdown))
    app.slider(key="n_hidden").set_value(1).run()
    assert [s.key for s in app.select_slider if s.key.startswith("layer_")] == ["layer_0"]
    assert any("784 → 128 → 10" in t for t in texts(app.markdown))


def test_learning_rate_and_full_batch(app):
    open_page(app, "train")
    app.select_slider(key="learning_rate_init").set_value(0.05).run()
    assert app.select_slider(key="learning_rate_init").value == 0.05
    app.select_slider(key="batch_size").set_value("full").run()
    length = app.slider(key="max_iter")
    assert length.label == "Iterations" and length.max == 1000
    assert app.button(key="continue").label == "Continue +1 iteration"
    app.select_slider(key="batch_size").set_value(64).run()
    assert app.slider(key="max_iter").label == "Epochs" and app.slider(key="max_iter").max == 50


def test_choosing_a_preset_sets_the_widgets(app):
    open_page(app, "train")
    app.selectbox(key="preset").set_value("notebook").run()
    assert not app.exception
    assert app.select_slider(key="batch_size").value == "full"
    assert app.select_slider(key="learning_rate_init").value == 0.05
    assert app.slider(key="max_iter").label == "Iterations" and app.slider(key="max_iter").value == 500
    assert app.radio(key="solver").value == "sgd" and app.radio(key="init").value == "notebook"
    app.selectbox(key="preset").set_value("best").run()
    best = mlp.PRESETS["best"]
    assert [app.select_slider(key=f"layer_{i}").value for i in range(2)] == list(best.hidden_layer_sizes)
    assert app.slider(key="dropout").value == best.dropout
    assert app.select_slider(key="batch_size").value == best.batch_size
    assert app.slider(key="max_iter").label == "Epochs" and app.slider(key="max_iter").value == best.max_iter


def test_distort_training_images_sets_its_sliders_and_a_slider_makes_it_custom(app):
    open_page(app, "train")
    level = app.radio(key="distort")
    assert level.label == "Distort training images" and level.value == "off"
    assert list(level.options) == ["off", "light", "strong"]
    level.set_value("strong").run()
    assert not app.exception
    assert app.slider(key="rotate").value == 12.0 and app.slider(key="elastic").value == 1.4
    app.slider(key="rotate").set_value(20.0).run()
    assert app.radio(key="distort").value == "custom"
    assert list(app.radio(key="distort").options) == ["off", "light", "strong", "custom"]
    app.radio(key="distort").set_value("off").run()
    assert all(app.slider(key=k).value == 0.0 for k in mlp.config.DISTORTIONS)
    assert list(app.radio(key="distort").options) == ["off", "light", "strong"]
    app.selectbox(key="preset").set_value("handwriting").run()
    assert app.radio(key="distort").value == "light" and app.slider(key="shift").value == 1.5


def test_a_training_started_with_distortion_distorts(app):
    open_page(app, "train")
    app.select_slider(key="train_size").set_value(1000).run()
    app.slider(key="max_iter").set_value(1).run()
    app.radio(key="distort").set_value("light").run()
    app.slider(key="thickness").set_value(0.2).run()
    app.button(key="train").click().run()
    assert not app.exception
    config = app.session_state["job"].trainer.config
    assert config.distortion == replace(LEVELS["light"], thickness=0.2)
    assert config.train_size == 1000


def test_record_is_offered_only_where_the_server_allows_it(app):
    open_page(app, "train")
    assert "record" not in app.selectbox(key="preset").options
    assert "handwriting" in app.selectbox(key="preset").options


def test_the_settings_survive_a_visit_to_another_page(app):
    open_page(app, "train")
    app.selectbox(key="preset").set_value("notebook").run()
    app.slider(key="n_hidden").set_value(3).run()
    app.select_slider(key="layer_2").set_value(32).run()
    app.select_slider(key="train_size").set_value(10000).run()
    app.radio(key="activation").set_value("tanh").run()
    open_page(app, "draw")
    open_page(app, "train")
    assert app.selectbox(key="preset").value == "notebook"
    assert [s.value for s in app.select_slider if s.key.startswith("layer_")] == [128, 64, 32]
    assert app.select_slider(key="batch_size").value == "full"
    assert app.slider(key="max_iter").label == "Iterations" and app.slider(key="max_iter").value == 500
    assert app.select_slider(key="train_size").value == 10000
    assert app.radio(key="activation").value == "tanh"
    assert any("784 → 128 → 64 → 32 → 10" in t and "on 10,000 images" in t for t in texts(app.markdown))


# ----------------------------------------------------------------------------
# training


def test_training_a_tiny_model_to_the_end(app):
    open_page(app, "train")
    app.select_slider(key="train_size").set_value(1000).run()
    app.slider(key="max_iter").set_value(1).run()
    app.button(key="train").click().run()
    assert not app.exception
    job = wait_for_job(app)
    assert job.state == "finished"
    trainer = app.session_state["trainer"]
    assert len(trainer.y_train) == 1000 and trainer.done and trainer.history
    success = texts(app.success)
    assert len(success) == 1 and success[0].startswith("Done: ") and "test accuracy" in success[0]
    assert len(app.get("plotly_chart")) == 1
    progress = app.get("progress")[0].proto.text
    assert progress.startswith("finished: update 8 of 8")
    assert not app.button(key="train").disabled and not app.button(key="continue").disabled
    assert "Model: trained, test accuracy" in app.sidebar.caption[0].value

    # one more epoch on the same weights
    assert app.button(key="continue").label == "Continue +1 epoch"
    app.button(key="continue").click().run()
    assert app.session_state["trainer"] is trainer
    assert wait_for_job(app).state == "finished"
    assert app.get("progress")[0].proto.text.startswith("finished: update 16 of 16")
    assert [p.step for p in trainer.history] == [2, 4, 6, 8, 10, 12, 14, 16]


def test_the_buttons_follow_the_job_and_stop_stops_it(app):
    open_page(app, "train")
    app.slider(key="max_iter").set_value(50).run()  # 23,450 updates: minutes, unless stopped
    app.button(key="train").click().run()
    job = app.session_state["job"]
    assert job.alive
    assert app.button(key="train").disabled and app.button(key="continue").disabled
    assert not app.button(key="stop").disabled
    deadline = time.monotonic() + JOB_TIMEOUT
    while job.trainer.step == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    app.button(key="stop").click().run()
    assert not app.exception
    assert not job.alive and job.state == "stopped"
    step = job.trainer.step
    assert 0 < step < job.trainer.total_steps == 23_450
    assert f"Stopped at update {step:,}. Press **Continue** to train further." in texts(app.info)
    assert not app.button(key="train").disabled and not app.button(key="continue").disabled
    assert app.button(key="stop").disabled
    time.sleep(1)
    assert job.trainer.step == step


def test_diverging_training_says_so(app):
    open_page(app, "train")
    app.select_slider(key="learning_rate_init").set_value(10.0).run()
    app.select_slider(key="train_size").set_value(1000).run()
    app.slider(key="max_iter").set_value(5).run()
    app.button(key="train").click().run()
    job = wait_for_job(app)
    assert job.state == "diverged"
    errors = texts(app.error)
    assert "diverged" in errors[0] and "learning rate 10" in errors[0]
    assert not app.success
    # the hint under it fixes the rate with one click: for Continue, and for the next Train
    fix = app.button(key="hint_rate_too_high")
    assert fix.label == "Apply: learning rate 10 -> 1"
    fix.click().run()
    assert app.select_slider(key="learning_rate_init").value == 1.0
    assert app.session_state["trainer"].requested.learning_rate_init == 1.0
    assert "Set learning rate 1: the next run or Continue takes it." in texts(app.success)


# ----------------------------------------------------------------------------
# acting on a training while it runs


def start_slow(app, speed="5 / s", **widgets):
    """Start a training of many updates at a slow-motion speed; wait for its first update."""
    open_page(app, "train")
    app.select_slider(key="speed").set_value(speed).run()
    for key, value in widgets.items():
        app.select_slider(key=key).set_value(value).run()
    app.button(key="train").click().run()
    job = app.session_state["job"]
    wait(lambda: job.trainer.step >= 1)
    return job


def wait(condition):
    deadline = time.monotonic() + JOB_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_rate_changed_during_a_run_applies_and_is_marked_on_the_curves(app):
    job = start_slow(app, "20 / s")
    trainer = job.trainer
    assert app.select_slider(key="learning_rate_init").disabled is False
    assert app.select_slider(key="layer_0").disabled and app.selectbox(key="preset").disabled
    assert "Fixed during a run" in app.select_slider(key="layer_0").help
    app.select_slider(key="learning_rate_init").set_value(0.02).run()
    wait(lambda: trainer.changes)
    change = trainer.changes[0]
    assert (change.field, change.old, change.value) == ("learning_rate_init", 0.002, 0.02)
    assert str(change) == "lr 0.002 -> 0.02"
    wait(lambda: trainer.history and trainer.history[-1].step > change.step)
    app.run()
    curves = [c for c in charts(app) if any(a.get("text") == "lr 0.002 -> 0.02" for a in c["layout"]["annotations"])]
    assert curves and any(shape["x0"] == change.epoch for shape in curves[-1]["layout"]["shapes"])
    # the link still gives the settings the run started with
    assert app.query_params["lr"] == "0.002"
    app.button(key="stop").click().run()
    runs = list(app.session_state["runs"])
    assert runs[-1].changes == [change] and runs[-1].config["learning_rate_init"] == 0.002
    assert "lr 0.002 -> 0.02 at update" in runs[-1].summary()["changes during the run"]
    assert runs[-1].label.endswith("· 1 change")


def test_pause_step_and_resume(app):
    job = start_slow(app, "20 / s")
    trainer = job.trainer
    app.button(key="pause").click().run()
    assert session_job(app).state == "paused" and not session_job(app).alive
    assert app.button(key="resume").label == "Resume" and not app.button(key="step").disabled
    step = trainer.step
    assert f"Paused at update {step:,}." in texts(app.info)[0]
    for _ in range(5):
        app.button(key="step").click().run()
        assert session_job(app).state == "paused"
    assert trainer.step == step + 5 and trainer.history[-1].step == step + 5
    assert app.get("progress")[0].proto.text.startswith(f"paused: update {step + 5:,} of")
    app.select_slider(key="speed").set_value("full").run()
    app.button(key="resume").click().run()
    assert wait_for_job(app).state == "finished" and trainer.done
    assert len(list(app.session_state["runs"])) == 1  # one run, however often it paused


def test_plus_one_epoch_during_a_run(app):
    job = start_slow(app, "20 / s")
    total = job.trainer.total_steps
    app.button(key="add_epoch").click().run()
    wait(lambda: job.trainer.total_steps > total)
    assert job.trainer.total_steps == total + job.trainer.steps_per_epoch
    assert str(job.trainer.changes[-1]) == "epochs 8 -> 9"
    app.button(key="stop").click().run()


def test_a_refused_live_change_goes_back_and_says_why(app):
    job = start_slow(app, "20 / s")
    app.select_slider(key="batch_size").set_value("full").run()
    assert app.select_slider(key="batch_size").value == 128
    assert any("full-batch run stays full batch" in e for e in texts(app.error))
    assert not job.trainer.changes
    app.button(key="stop").click().run()


def test_the_layers_and_network_views(app):
    job = start_slow(app, "20 / s")
    wait(lambda: len(job.trainer.diagnostics) >= 2)
    app.run()
    app.segmented_control(key="train_view").set_value("Layers").run()
    assert not app.exception
    panels = [a["text"] for c in charts(app) for a in c["layout"].get("annotations", [])]
    assert {"gradient norm", "update / weight", "dead ReLUs", "train - test accuracy"} <= set(panels)
    app.toggle(key="train_weights").set_value(True).run()
    assert any(len(c["data"]) == 2 * 3 for c in charts(app))  # now and at the start, for each of 3 layers
    app.segmented_control(key="train_view").set_value("Network").run()
    assert not app.exception
    app.number_input(key="net_image").set_value(3).run()
    title = [c["layout"]["title"]["text"] for c in charts(app) if c["layout"].get("title")]
    assert any("true class: 0" in t for t in title)  # the fourth test image is a 0
    app.button(key="stop").click().run()


def session_job(app):
    return app.session_state["job"]


# ----------------------------------------------------------------------------
# settings in the link


def test_a_link_sets_the_train_settings(visit):
    at = visit("train", layers="256-32-16", lr="0.01", epochs="3", batch="64", images="5000",
               solver="momentum", dropout="0.2", seed="42", activation="tanh", init="glorot", alpha="0.0001",
               lr_schedule="constant")
    assert not at.warning
    assert at.slider(key="n_hidden").value == 3 and layers(at) == [256, 32, 16]
    assert at.select_slider(key="learning_rate_init").value == 0.01
    assert at.select_slider(key="batch_size").value == 64
    assert at.slider(key="max_iter").value == 3 and at.slider(key="max_iter").label == "Epochs"
    assert at.select_slider(key="train_size").value == 5000
    assert at.radio(key="solver").value == "momentum" and at.radio(key="activation").value == "tanh"
    assert at.radio(key="init").value == "glorot" and at.radio(key="lr_schedule").value == "constant"
    assert at.slider(key="dropout").value == 0.2 and at.number_input(key="random_state").value == 42
    assert at.select_slider(key="alpha").value == 0.0001
    assert any("784 → 256 → 32 → 16 → 10" in t and "on 5,000 images" in t for t in texts(at.markdown))
    # the address now holds every setting, and nothing else: no key to anyone's runs
    assert at.query_params["lr"] == "0.01" and at.query_params["layers"] == "256-32-16"
    assert at.query_params["preset"] == "fast" and "sid" not in at.query_params
    assert set(at.query_params) <= set(settings.KNOWN)


def test_a_link_with_a_preset(visit):
    at = visit("train", preset="notebook", lr="0.1")
    assert at.selectbox(key="preset").value == "notebook"
    assert at.select_slider(key="batch_size").value == "full"
    assert at.slider(key="max_iter").label == "Iterations" and at.slider(key="max_iter").value == 500
    assert at.select_slider(key="learning_rate_init").value == 0.1
    assert at.radio(key="solver").value == "sgd"


def test_a_hostile_link_falls_back_to_the_defaults_and_says_so(visit):
    at = visit("train", lr="1e9", seed="abc", layers="9999")
    warnings = texts(at.warning)
    assert warnings == ["The link held values that are not allowed here, so their defaults are used: "
                        "` layers='9999' `, ` lr='1e9' `, ` seed='abc' `"]  # each as plain text
    assert at.select_slider(key="learning_rate_init").value == 0.002
    assert at.number_input(key="random_state").value == 0
    assert layers(at) == [128, 64]
    assert at.query_params["lr"] == "0.002" and at.query_params["layers"] == "128-64"
    at.run()  # the warning is said once
    assert not at.warning and not at.exception


def test_a_link_with_huge_values_says_so_briefly(visit):
    at = visit("train", seed="9" * 5000, epochs="10000", images="123", solver="rm -rf", dropout="0.9",
               batch="0", x="y" * 10_000)
    warning = texts(at.warning)[0]
    assert len(warning) < 400
    for name in ("seed=", "epochs='10000'", "images='123'", "solver='rm -rf'", "dropout='0.9'", "batch='0'"):
        assert name in warning
    assert at.slider(key="max_iter").value == 8 and at.select_slider(key="train_size").value == 60000


def test_a_changed_slider_is_not_overwritten_by_the_link(visit):
    at = visit("train", lr="0.01", layers="256-32")
    assert at.select_slider(key="learning_rate_init").value == 0.01
    at.select_slider(key="learning_rate_init").set_value(0.05).run()
    assert at.select_slider(key="learning_rate_init").value == 0.05
    assert at.query_params["lr"] == "0.05"
    at.slider(key="n_hidden").set_value(1).run()
    at.run()
    assert at.select_slider(key="learning_rate_init").value == 0.05 and layers(at) == [256]
    assert at.query_params["layers"] == "256"
    # and after a visit to another page
    at.switch_page("pages/draw.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.select_slider(key="learning_rate_init").value == 0.05 and layers(at) == [256]


@pytest.mark.parametrize("value", MARKDOWN)
def test_a_value_in_a_link_is_echoed_as_plain_text(app_env, value):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params.update({"lr": value, "epochs": value})
    at.run()
    at.switch_page("pages/train.py").run()
    [notice] = [w for w in texts(at.warning) if w.startswith("The link held values")]
    assert value[:20] in notice and not interpreted(notice), notice


# ----------------------------------------------------------------------------
# many students on one server: the queue and the server's limits


def wait_until(condition, timeout=JOB_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_with_one_slot_a_second_student_is_queued_then_trains(server):
    alice, bob = server(2, max_jobs=1)
    for at in (alice, bob):
        open_page(at, "train")
        at.slider(key="max_iter").set_value(50).run()  # minutes of training, unless stopped
    alice.button(key="train").click().run()
    first = alice.session_state["job"]
    wait_until(lambda: first.trainer.step > 0)

    bob.button(key="train").click().run()
    second = bob.session_state["job"]
    wait_until(lambda: second.status().queue is not None)  # its place in the class's line is known
    bob.run()
    [queued] = texts(bob.warning)
    assert queued.startswith("Queued: position 1 of 1, about ") and "trains one model at a time" in queued
    assert bob.button(key="stop").label == "Stop training" and not bob.button(key="stop").disabled
    assert "Model: queued" in bob.sidebar.caption[0].value
    assert second.state == "queued" and second.trainer.step == 0

    alice.button(key="stop").click().run()
    assert first.state == "stopped"
    wait_until(lambda: second.trainer.history)  # bob's turn came by itself
    bob.run()
    assert not bob.warning and bob.get("progress")[0].proto.text.startswith("running: update ")
    assert "Model: training" in bob.sidebar.caption[0].value


def test_settings_beyond_the_servers_limits_are_not_offered_nor_trained(server):
    [at] = server(1, max_neurons=64, max_epochs=5, max_job_mb=2)
    open_page(at, "train")
    assert at.select_slider(key="layer_0").options[-1] == "64"
    assert at.slider(key="max_iter").max == 5 and at.slider(key="max_iter").value == 5
    at.button(key="train").click().run()  # the fast preset at 64-64 needs about 18 MB
    assert "job" not in at.session_state
    [refusal] = texts(at.error)
    assert re.match(r"\*\*These settings are beyond this server's limits:\*\* about \d+ MB of memory while "
                    r"training \(at most 2 MB; a smaller batch or narrower layers need less\)\. "
                    r"Choose smaller", refusal)


def test_a_failing_training_is_reported_to_its_student_only_and_frees_the_slot(server):
    alice, bob = server(2, max_jobs=1)
    for at in (alice, bob):
        open_page(at, "train")
        at.select_slider(key="train_size").set_value(1000).run()
    alice.slider(key="max_iter").set_value(50).run()
    alice.button(key="train").click().run()
    job = alice.session_state["job"]
    wait_until(lambda: job.trainer.step > 0)
    job.trainer.y_train[7] = 12  # a fault in this student's training only: a label no output has
    job.join(JOB_TIMEOUT)
    assert job.state == "failed"
    assert shared.slots().counts() == (0, 0)
    alice.run()
    [failed] = [e for e in texts(alice.error) if e.startswith("Training failed: ")]
    assert failed == "Training failed: IndexError, an error inside the server (its log has the details)."

    bob.slider(key="max_iter").set_value(1).run()
    bob.button(key="train").click().run()
    bob.session_state["job"].join(JOB_TIMEOUT)
    bob.run()
    assert bob.session_state["job"].state == "finished" and not bob.error
    assert texts(bob.success)[0].startswith("Done: ")


def test_a_training_of_days_is_refused(server):
    [at] = server(1)
    at.query_params.update({"layers": "1024-1024-1024-1024", "batch": "1", "epochs": "50", "images": "60000"})
    at.switch_page("pages/train.py").run()
    at.button(key="train").click().run()
    assert "job" not in at.session_state
    [refusal] = texts(at.error)
    assert re.match(r"\*\*These settings are beyond this server's limits:\*\* about [\d,]+ s of training "
                    r"\(at most 600 s; ", refusal), refusal


def train_on_1000_images(at, epochs):
    """Train the fast preset on 1,000 images for ``epochs`` from the Train page, to the end."""
    open_page(at, "train")
    at.select_slider(key="train_size").set_value(1000).run()
    at.slider(key="max_iter").set_value(epochs).run()
    at.button(key="train").click().run()
    wait_for_job(at)


def test_continue_cannot_grow_a_run_past_the_limits(server):
    [at] = server(1, max_epochs=3)
    train_on_1000_images(at, epochs=2)
    assert at.button(key="continue").label == "Continue +1 epoch"
    at.button(key="continue").click().run()
    trainer = wait_for_job(at).trainer
    assert trainer.step == 3 * trainer.steps_per_epoch
    at.button(key="continue").click().run()  # a fourth epoch: past max_epochs
    assert at.session_state["job"].state == "finished" and trainer.step == 3 * trainer.steps_per_epoch
    [refusal] = texts(at.error)
    assert refusal == ("**This run cannot go on here:** 4 epochs in all (at most 3); "
                       "start a new training instead.")


def test_continue_is_bounded_in_time_too(server):
    [at] = server(1, max_job_seconds=1)
    train_on_1000_images(at, epochs=1)
    at.slider(key="max_iter").set_value(50).run()  # Continue +25 epochs: about 2 s
    at.button(key="continue").click().run()
    assert not at.session_state["job"].alive
    [refusal] = texts(at.error)
    assert refusal.startswith("**This run cannot go on here:** about ") and "(at most 1 s;" in refusal


def test_a_full_queue_refuses_more(server):
    alice, bob, carol = server(3, max_jobs=1, max_waiting=1)
    for at in (alice, bob, carol):
        open_page(at, "train")
        at.slider(key="max_iter").set_value(50).run()
    alice.button(key="train").click().run()
    bob.button(key="train").click().run()
    assert bob.session_state["job"].state == "queued"
    carol.button(key="train").click().run()
    assert "job" not in carol.session_state
    assert texts(carol.error)[0].startswith("**The server's queue is full** (1 trainings are waiting).")
