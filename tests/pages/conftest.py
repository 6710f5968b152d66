"""Fixtures of the AppTest tests: a visitor, a trained model, links, servers with limits or without data."""
import socket
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest, app_test

import mlp
from mlp import analysis, download
from playground import server as shared
from tests.pages.helpers import JOB_TIMEOUT, ROOT, ServerPages


@pytest.fixture(scope="module")
def fast_trainer(mnist):
    """A small model trained once for this module: the fast preset on 5,000 images, 2 epochs."""
    trainer = mlp.Trainer(mlp.preset("fast", train_size=5000, max_iter=2), mnist)
    for _ in trainer.run():
        pass
    return trainer


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


@pytest.fixture(scope="module")
def test_proba(fast_trainer, mnist):
    return analysis.predict_all(fast_trainer.snapshot, mnist.x_test)


@pytest.fixture
def visit(app_env, monkeypatch):
    """Open a page of the app first, with query parameters in the address, like a link someone shared."""
    monkeypatch.setattr(app_test, "PagesManager", ServerPages)

    def open_link(page, **query):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        at.query_params.update(query)
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_link


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
        shared._slots.clear()
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
    shared._slots.clear()
    shared.workspaces.clear()


class Mirror:
    """A mirror on 127.0.0.1: ``silent`` accepts connections and never answers; otherwise it
    sends the shared copies of MNIST's files at ``rate`` bytes a second."""

    def __init__(self, folder=None, rate=None):
        self.folder, self.rate, self.connections, self.held = folder, rate, 0, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)
            if self.folder is not None:
                threading.Thread(target=self._send, args=(conn,), daemon=True).start()

    def _send(self, conn):
        try:
            request = conn.recv(4096).decode()
            name = request.split()[1].lstrip("/")
            body = (self.folder / name).read_bytes()
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
            for i in range(0, len(body), 65536):
                conn.sendall(body[i:i + 65536])
                time.sleep(65536 / self.rate)
        except (OSError, IndexError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """A server with no copy of the data: an empty cache, a mirror of the test's, short timeouts."""
    mirrors = []

    def start(**kwargs):
        mirror = Mirror(**kwargs)
        mirrors.append(mirror)
        monkeypatch.setenv("MNIST_PLAYGROUND_MIRRORS", mirror.url)
        return mirror

    monkeypatch.delenv("MNIST_PLAYGROUND_DATA", raising=False)
    monkeypatch.setenv("MNIST_PLAYGROUND_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(download, "TIMEOUTS", download.Timeouts(connect=2, read=2, per_file=60))
    monkeypatch.setattr(shared, "WAIT_FOR_DATA", 0.5)
    monkeypatch.setattr(app_test, "PagesManager", ServerPages)
    shared.data_sets.clear()  # a fresh server: nothing loaded yet
    yield start
    for mirror in mirrors:
        mirror.close()
    shared.data_sets.clear()
