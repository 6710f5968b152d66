"""Many sessions on one server (AppTest): the training queue, the server's limits, isolation."""
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest, app_test

from playground import server as shared
from test_pages import JOB_TIMEOUT, ServerPages, open_page, texts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server(app_env, monkeypatch):
    """``server(n, **limits)``: a server with these limits (as MNIST_PLAYGROUND_* variables) and n
    sessions of it, their home page run once. Their jobs are stopped at the end."""
    monkeypatch.setattr(app_test, "PagesManager", ServerPages)
    sessions = []

    def start(n, **env):
        for key, value in env.items():
            monkeypatch.setenv(f"MNIST_PLAYGROUND_{key.upper()}", str(value))
        shared._limits.clear()  # read the limits and make the slots afresh, as a new server would
        shared.slots.clear()
        shared.workspaces.clear()
        sessions.extend(AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run() for _ in range(n))
        return sessions[-n:]

    yield start
    for at in sessions:
        if "job" in at.session_state:
            at.session_state["job"].stop()
            at.session_state["job"].join(JOB_TIMEOUT)
    monkeypatch.undo()
    shared._limits.clear()
    shared.slots.clear()
    shared.workspaces.clear()


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


def test_one_students_model_and_runs_are_not_anothers(server):
    alice, bob = server(2, max_jobs=2)
    open_page(alice, "train")
    alice.select_slider(key="train_size").set_value(1000).run()
    alice.slider(key="max_iter").set_value(1).run()
    alice.button(key="train").click().run()
    alice.session_state["job"].join(JOB_TIMEOUT)
    open_page(alice, "compare")
    assert alice.session_state["runs"] and not alice.session_state["runs"] is None
    open_page(bob, "draw")
    assert "No trained model yet" in texts(bob.info)[0]
    open_page(bob, "compare")
    assert len(bob.session_state["runs"]) == 0 and len(alice.session_state["runs"]) == 1


def test_settings_beyond_the_servers_limits_are_not_offered_nor_trained(server):
    [at] = server(1, max_neurons=64, max_epochs=5, max_job_mb=2)
    open_page(at, "train")
    assert at.select_slider(key="layer_0").options[-1] == "64"
    assert at.slider(key="max_iter").max == 5 and at.slider(key="max_iter").value == 5
    at.button(key="train").click().run()  # the fast preset at 64-64 needs about 18 MB
    assert "job" not in at.session_state
    [refusal] = texts(at.error)
    assert re.match(r"\*\*These settings are beyond this server's limits:\*\* about \d+ MB of memory while "
                    r"training \(at most 2 MB; a smaller batch or narrower layers need less\)\. Choose smaller", refusal)


def test_a_broken_server_config_is_reported_on_the_page(server):
    [at] = server(1, max_jobs="many")
    [error] = texts(at.error)
    assert error.startswith("**The server's configuration is not valid:** limit max_jobs must be a whole "
                            "number, not 'many'. Whoever runs the server can fix it")


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
