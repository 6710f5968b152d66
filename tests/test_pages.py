"""Home, Train and Draw run headless in Streamlit's AppTest, with the real data and real training."""
import time
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

import mlp
import strokes

ROOT = Path(__file__).resolve().parents[1]
JOB_TIMEOUT = 120  # seconds: training threads share a busy machine


@pytest.fixture(scope="module")
def fast_trainer(mnist):
    """A small model trained once for this module: the fast preset on 5,000 images, 2 epochs."""
    trainer = mlp.Trainer(mlp.preset("fast", train_size=5000, max_iter=2), mnist)
    for _ in trainer.run():
        pass
    return trainer


class ServerPages(PagesManager):
    """The pages as a running server knows them once app.py has called st.navigation.

    AppTest starts each run like a freshly started server, which runs a file of pages/ on its own
    first; the page then reruns itself through app.py (playground.frame.through_app), and that rerun
    drops a button press. A real server does this only once, on its very first run.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture
def app(app_env, monkeypatch):
    """A new visitor of the app, its home page already run once."""
    monkeypatch.setattr(app_test, "PagesManager", ServerPages)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    yield at
    job = at.session_state["job"] if "job" in at.session_state else None
    if job is not None:  # leave no training thread behind for the next test
        job.stop()
        job.join(JOB_TIMEOUT)


def open_page(at, name, **state):
    """Switch to pages/<name>.py with some values in st.session_state; check it ran without an exception."""
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements):
    return [e.value for e in elements]


def wait_for_job(at):
    job = at.session_state["job"]
    job.join(JOB_TIMEOUT)
    assert not job.alive, "the training job did not end in time"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return job


# ----------------------------------------------------------------------------
# Home and the frame


@pytest.mark.parametrize("name", ["train", "draw"])
def test_a_page_opened_first_on_a_fresh_server_runs_inside_the_frame(app_env, name):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page(f"pages/{name}.py").run()  # like a first visitor's deep link to /train
    assert not at.exception
    assert at.title[0].value == name.title()
    assert at.sidebar.selectbox(key="dataset").value == "mnist"  # app.py's sidebar
    assert at.sidebar.caption[0].value == "Model: untrained"


def test_home_shows_the_data_set_and_an_untrained_model(app):
    assert app.title[0].value == "MNIST Playground"
    body = " ".join(texts(app.markdown))
    assert "**MNIST**: 60,000 training and 10,000 test images" in body
    assert "Status: **untrained**" in body
    assert "Model: untrained" in texts(app.sidebar.caption)
    assert not app.error


def test_home_follows_the_data_set_chosen_in_the_sidebar(app):
    app.selectbox(key="dataset").set_value("fashion-mnist").run()
    assert not app.exception
    assert "**Fashion-MNIST**: 60,000 training and 10,000 test images" in " ".join(texts(app.markdown))


def test_home_with_a_trained_model_shows_its_accuracy(app, fast_trainer):
    app.session_state["trainer"] = fast_trainer
    app.run()
    acc = fast_trainer.history[-1].test_accuracy
    assert f"Status: **trained, test accuracy {acc:.1%}**" in texts(app.markdown)


# ----------------------------------------------------------------------------
# Train


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
    assert len(errors) == 1 and "diverged" in errors[0] and "learning rate 10" in errors[0]
    assert not app.success


# ----------------------------------------------------------------------------
# Draw


def drawing(digit):
    """The canvas component's value after a digit was drawn on it."""
    return {"drawing": {"raw": {"objects": [], "background": "#000000"},
                        "data": strokes.data_url(strokes.render(strokes.DIGITS[digit]()))},
            "backgroundFit": None}


def test_draw_without_a_model_offers_to_train_one(app):
    open_page(app, "draw")
    assert app.title[0].value == "Draw"
    assert len(app.get("bidi_component")) == 1
    assert "No trained model yet" in app.info[0].value
    start = app.button(key="train_fast")
    assert start.label == "Train the fast preset" and not start.disabled
    start.click().run()
    assert not app.exception
    job = app.session_state["job"]
    assert job.trainer.config == mlp.preset("fast")
    assert app.button(key="train_fast").disabled  # one job at a time
    assert app.get("progress")[0].proto.text == "Training in the background…"


def test_draw_with_a_model_and_an_empty_canvas(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer)
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]
    assert not app.get("image") and "prediction:" not in " ".join(texts(app.markdown))


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_a_drawn_digit_is_recognised(app, fast_trainer, digit):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(digit)})
    assert f"prediction: **{digit}**" in texts(app.markdown)
    assert app.metric[0].label == "Prediction" and app.metric[0].value == str(digit)
    image = app.get("image")
    assert len(image) == 1 and image[0].captions == ["What the network sees (28 × 28)"]
    assert len(app.get("plotly_chart")) == 1  # the probabilities
    assert not app.info


def test_clear_empties_the_canvas(app, fast_trainer):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    assert "prediction: **7**" in texts(app.markdown)
    app.button(key="clear").click().run()
    assert not app.exception
    assert app.session_state["canvas_version"] == 1
    assert [c.key for c in app.get("bidi_component")] == ["canvas-1"]
    assert "prediction: **7**" not in texts(app.markdown)
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]


def test_draw_on_fashion_mnist_says_drawing_is_for_digits(app):
    open_page(app, "draw", dataset="fashion-mnist")
    warnings = texts(app.warning)
    assert len(warnings) == 1 and warnings[0].startswith("Drawing is for digits")
    assert "No trained model yet" in app.info[0].value


def test_a_digit_model_is_not_used_for_fashion_mnist(app, fast_trainer):
    open_page(app, "draw", dataset="fashion-mnist", trainer=fast_trainer, **{"canvas-0": drawing(1)})
    assert "prediction:" not in " ".join(texts(app.markdown))
    assert "No trained model yet" in app.info[0].value
