"""Faults of the class as a whole, with the app under AppTest and real processes and services
beside it: an app process killed while it trains (the class's queue gives its slot to the next
student within the heartbeat timeout), and the PostgreSQL server restarted (the app says so,
loses nothing and goes on by itself once it is back)."""
import os
import shutil
import socket
import subprocess
import time

import pytest

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
