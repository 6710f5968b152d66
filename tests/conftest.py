"""Shared pytest fixtures."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlp.data import load_dataset, default_cache_dir


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The offline copies of the data sets (a folder with mnist/ and fashion-mnist/)."""
    if os.environ.get("MNIST_PLAYGROUND_DATA"):
        return Path(os.environ["MNIST_PLAYGROUND_DATA"])
    path = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if path.is_dir():
        return path
    # no offline copy: fetch both into the user's cache (as the product does) and use that
    for name in ("mnist", "fashion-mnist"):
        load_dataset(name)
    return default_cache_dir()


@pytest.fixture(scope="session")
def mnist(shared_data_dir):
    """MNIST loaded once for the whole test run."""
    return load_dataset("mnist", shared_data_dir)


# ----------------------------------------------------------------------------
# the class database: the same tests on SQLite and on PostgreSQL

ENV_POSTGRES = "MNIST_PLAYGROUND_TEST_POSTGRES"  # a URL of an empty database the tests may fill and wipe


@pytest.fixture(params=["sqlite", "postgresql"])
def class_db_url(request, tmp_path):
    """The URL of an empty class database: a SQLite file, or the PostgreSQL database that
    $MNIST_PLAYGROUND_TEST_POSTGRES names (wiped first; without it the PostgreSQL cases are skipped)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'class.sqlite'}"
    url = os.environ.get(ENV_POSTGRES)
    if not url:
        pytest.skip(f"set {ENV_POSTGRES} to a PostgreSQL database to run this case")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
    engine.dispose()
    return url


# ----------------------------------------------------------------------------
# the app: AppTest and a real server for the browser tests

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app_env(shared_data_dir, monkeypatch, tmp_path):
    """Point the app at the offline copies of the data sets, as `streamlit run` would be started,
    and at a class database of its own (never the user's)."""
    monkeypatch.setenv("MNIST_PLAYGROUND_DATA", str(shared_data_dir))
    monkeypatch.setenv("MNIST_PLAYGROUND_CLASS_DB", f"sqlite:///{tmp_path / 'class.sqlite'}")
    return shared_data_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """`streamlit run app.py` on a free port of 127.0.0.1, with its output kept in a file."""

    def __init__(self, env: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(self.port),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"streamlit exited with code {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"streamlit did not answer on {self.url} within {timeout:.0f} s:\n{self.output()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def start_app(tmp_path_factory):
    """Start app servers with extra environment variables; all are stopped at the end of the run."""
    servers = []

    def start(**env):
        log = tmp_path_factory.mktemp("streamlit") / "server.log"
        # a class database of its own (never the user's, nor another test server's queue)
        env.setdefault("MNIST_PLAYGROUND_CLASS_DB", f"sqlite:///{log.parent / 'class.sqlite'}")
        server = AppServer({**os.environ, **env}, log)
        servers.append(server)
        return server.wait_healthy()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def app_server(start_app, shared_data_dir, tmp_path_factory):
    """The app served with the offline copies of the data sets and a class database of its own."""
    db = tmp_path_factory.mktemp("class") / "class.sqlite"
    return start_app(MNIST_PLAYGROUND_DATA=str(shared_data_dir), MNIST_PLAYGROUND_CLASS_DB=f"sqlite:///{db}")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium instead of a browser downloaded by Playwright (requested only by browser tests)."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"]}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (item.rep_setup, item.rep_call) for fixtures to read."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
