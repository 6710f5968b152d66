"""Faults of the class as a whole, with the app under AppTest and real processes and services
beside it: an app process killed while it trains (the class's queue gives its slot to the next
student within the heartbeat timeout), and the PostgreSQL server restarted (the app says so,
loses nothing and goes on by itself once it is back)."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest
import sqlalchemy as sa

from mlp.config import PRESETS
from playground import classdb, classqueue, classroom
from tests.conftest import ENV_POSTGRES
from tests.pages.helpers import drawing, open_page, texts
from tests.playground.test_classqueue import Worker, no_worker_left, until  # noqa: F401  (the fixture too)


def test_a_student_waiting_behind_a_killed_app_process_trains_within_the_heartbeat_timeout(server):
    """Another app process of this machine holds its only slot and dies: the student's job, waiting
    in the class's queue, starts once that process has been silent for the timeout."""
    url = os.environ[classroom.ENV_DB]
    classdb.migrate(classdb.engine_for(url))
    other = Worker(url, 1, 1, "-", host=socket.gethostname())
    until(lambda: other.events("admit"), what="the other process's job to train")
    [student] = server(1, max_jobs=1)
    open_page(student, "train")
    student.select_slider(key="train_size").set_value(1000).run()
    student.slider(key="max_iter").set_value(1).run()
    student.button(key="train").click().run()
    job = student.session_state["job"]
    until(lambda: job.status().queue == (1, 1), what="the student's job to wait in the class's queue")
    student.run()
    assert any(t.startswith("Queued: position 1 of 1") for t in texts(student.warning))
    assert "Class: 1 training, 1 waiting (at most 1 at once)" in texts(student.sidebar.caption)
    killed = time.monotonic()
    other.kill()
    until(lambda: job.state != "queued", what="the student's job to start")
    took = time.monotonic() - killed
    assert classqueue.TIMEOUT - 1 < took < classqueue.TIMEOUT + 20, f"started {took:.1f} s after the kill"
    job.join(120)
    assert job.state == "finished"


@pytest.fixture
def postgres_service():
    """The PostgreSQL server of this machine, which the test may stop and start (as CI runs it: root,
    Debian's service)."""
    url = os.environ.get(ENV_POSTGRES)
    if not url or os.geteuid() != 0 or not shutil.which("service"):
        pytest.skip(f"needs {ENV_POSTGRES} and root, to restart Debian's PostgreSQL service")

    def service(action):
        subprocess.run(["service", "postgresql", action], check=True, capture_output=True, timeout=120)
        if action == "start":
            until(lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0,
                  what="PostgreSQL to accept connections")

    yield url, service
    service("start")


@pytest.mark.parametrize("class_db_url", ["postgresql"], indirect=True)  # a wiped database of its own
def test_a_restarted_database_is_said_and_the_app_goes_on_with_nothing_lost(app, fast_trainer, class_db_url,
                                                                            postgres_service, monkeypatch):
    url, service = postgres_service
    monkeypatch.setenv(classroom.ENV_DB, url)
    monkeypatch.setattr(classroom, "_ready", set())
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(7)})
    app.text_input(key="nickname").set_value("ada").run()

    def add():
        app.session_state["class_added"] = []
        app.button(key="class_add").click().run()
        assert not app.exception, [e.value for e in app.exception]

    add()
    assert texts(app.success)[-1].startswith("Added to the class set")
    service("stop")
    add()
    [said] = [t for t in texts(app.error) if t.startswith("Not added:")]
    assert "could not store the drawing: it cannot be reached" in said and "Your drawing stays here" in said
    assert app.session_state["canvas-0"] == drawing(7)  # the drawing is still on the page
    service("start")
    add()  # the pool's dead connections are replaced by themselves
    assert texts(app.success)[-1].startswith("Added to the class set")
    engine = classdb.engine_for(url)
    assert [s.nickname for s in classdb.listing(engine)] == ["ada", "ada"]
    engine.dispose()


def lost_row(conn, owner, what, state="running"):
    return conn.execute(classdb.lost.insert().values(job=1, owner=owner, state=state, created=time.time() - 60,
                                                     lost=time.time() - 5, what=what)).inserted_primary_key[0]


def test_a_training_lost_with_another_process_is_told_once_and_trained_again(app):
    """What the class's queue kept of this browser's trainings lost with another process: each is
    said above the page, its settings read back as a link's (a hostile row says only what it was);
    Dismiss forgets it and Train it again puts its settings and data set in the Train page."""
    engine = classdb.engine_for(os.environ[classroom.ENV_DB])
    owner = classqueue.owner_tag(app.session_state["workspace_key"])
    config = PRESETS["fast"].to_dict() | {"train_size": 1000, "max_iter": 7}
    with engine.begin() as conn:
        mine = lost_row(conn, owner, json.dumps({"config": config, "dataset": "fashion-mnist", "note": ""}))
        hostile = lost_row(conn, owner, json.dumps({"config": "[x](http://e.org)", "dataset": "<b>mnist</b>"}),
                           state="waiting")
        lost_row(conn, classqueue.owner_tag("s" * 43), "{}")  # another browser's
    app.session_state["lost_watch"] = True  # as a tab whose browser had a training in another process's hands
    app.session_state["lost_looked"] = time.monotonic() - 60  # and last looked a minute ago
    app.run()
    told = [t for t in texts(app.warning) if t.startswith("**A training of yours was lost:**")]
    assert told == [
        "**A training of yours was lost:** a training of hidden layers 128-64, adam, learning rate 0.002, "
        "7 epochs on Fashion-MNIST. The server process that was training it stopped less than a minute ago; "
        "its work went with it, and so did the runs this browser had there. Train it again with its settings, "
        "or dismiss this.",
        "**A training of yours was lost:** a training. The server process that had it in its queue stopped less "
        "than a minute ago; its work went with it, and so did the runs this browser had there."]
    assert [b.key for b in app.button if b.key.startswith("lost_")] == [
        f"lost_again_{mine}", f"lost_dismiss_{mine}", f"lost_dismiss_{hostile}"]
    app.button(key=f"lost_dismiss_{hostile}").click().run()
    assert len([t for t in texts(app.warning) if t.startswith("**A training of yours")]) == 1
    app.button(key=f"lost_again_{mine}").click().run()
    assert not app.exception
    assert app.session_state["max_iter"] == 7 and app.session_state["train_size"] == 1000
    assert app.session_state["dataset"] == "fashion-mnist"
    assert not [t for t in texts(app.warning) if t.startswith("**A training of yours")]
    app.switch_page("pages/train.py").run()  # where the button goes (AppTest stays on its page)
    assert "to train on 1,000 images" in " ".join(texts(app.markdown) + texts(app.caption))
    assert app.slider(key="max_iter").value == 7
    app.run()  # told once: the rows are gone, and this tab no longer looks
    assert not [t for t in texts(app.warning) if t.startswith("**A training of yours")]
    with engine.connect() as conn:
        assert conn.execute(sa.select(classdb.lost.c.owner)).scalars().all() == [classqueue.owner_tag("s" * 43)]
