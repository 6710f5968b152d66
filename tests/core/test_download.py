"""Downloads (mlp.download): mirrors, the cache, checksums, and servers that refuse, hang, drip or flood."""
import functools
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from mlp import download
from mlp.data import ENV_CACHE, ENV_DATA, ENV_MIRRORS, FILES, ChecksumError, DownloadError, load_dataset
from mlp.download import Timeouts


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (ENV_DATA, ENV_CACHE, ENV_MIRRORS):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------- servers


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class HalfFileHandler(BaseHTTPRequestHandler):
    """Sends the first half of each file, then closes the connection."""

    directory: Path
    send_length: bool

    def do_GET(self):
        body = (self.directory / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        if self.send_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])

    def log_message(self, *args):
        pass


class DripHandler(BaseHTTPRequestHandler):
    """Announces the whole file, then sends one byte every 0.3 s."""

    directory: Path

    def do_GET(self):
        body = (self.directory / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(100):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


class EndlessHandler(BaseHTTPRequestHandler):
    """Sends zeros until the client gives up (or 200 MB), announcing `length` bytes if set."""

    length: int | None

    def do_GET(self):
        self.send_response(200)
        if self.length is not None:
            self.send_header("Content-Length", str(self.length))
        self.end_headers()
        try:
            for _ in range(200 * 16):
                self.wfile.write(bytes(65536))
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Start HTTP servers on 127.0.0.1; returns (server, base URL)."""
    servers = []

    def start(directory=None, handler=None):
        handler = handler or functools.partial(QuietHandler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refused_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def silent_url():
    """A server that accepts connections and never answers (the kernel accepts; nobody reads)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture
def full_backlog_url():
    """A server whose accept queue is full, so a new connection is never set up (Linux)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        with socket.create_connection(sock.getsockname(), timeout=1):  # fills the queue
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture(scope="session")
def shared_md5(shared_data_dir):
    """MD5 of the shared .gz files, which were compressed differently from the published ones."""
    folder = shared_data_dir / "mnist"
    return {f: hashlib.md5((folder / f"{f}.gz").read_bytes()).hexdigest() for f in FILES}


@pytest.fixture
def shared_mirror(shared_data_dir, shared_md5, serve, monkeypatch):
    monkeypatch.setitem(download.MD5, "mnist", shared_md5)
    return serve(shared_data_dir / "mnist")


# ---------------------------------------------------------------- downloads


def test_download_then_cache(mnist, shared_mirror, tmp_path):
    server, url = shared_mirror
    calls = []
    ds = load_dataset("mnist", cache_dir=tmp_path, mirrors=[url], progress=lambda f, m: calls.append((f, m)))
    assert ds.source == f"downloaded from {url} into {tmp_path / 'mnist'}"
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(f"{f}.gz" for f in FILES)
    assert np.array_equal(ds.x_train, mnist.x_train) and np.array_equal(ds.y_test, mnist.y_test)
    fractions = [f for f, _ in calls]
    assert len(fractions) >= 10 and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(a <= b for a, b in zip(fractions, fractions[1:]))
    assert "Downloading MNIST train-images-idx3-ubyte.gz (1/4)" in calls[0][1]
    assert calls[-1][1] == "MNIST ready"

    server.shutdown()
    server.server_close()
    again = load_dataset("mnist", cache_dir=tmp_path, mirrors=[url])
    assert again.source == f"{tmp_path / 'mnist'} (cache)"
    assert np.array_equal(again.x_test, mnist.x_test)


def test_published_md5_rejects_a_recompressed_copy(shared_data_dir, serve, tmp_path):
    _, url = serve(shared_data_dir / "mnist")  # download.MD5 untouched: the shared .gz files differ
    with pytest.raises(ChecksumError, match=r"MNIST \(train-images-idx3-ubyte.gz\) did not match its "
                                            r"published MD5.*MNIST_PLAYGROUND_DATA"):
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[url])
    assert list((tmp_path / "mnist").iterdir()) == []


@pytest.mark.parametrize("send_length, error", [(True, DownloadError), (False, ChecksumError)])
def test_half_download_leaves_nothing(shared_data_dir, shared_mirror, serve, tmp_path, send_length, error):
    handler = type("Half", (HalfFileHandler,), {"directory": shared_data_dir / "mnist",
                                                "send_length": send_length})
    _, bad_url = serve(handler=handler)
    with pytest.raises(error, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[bad_url])
    assert list((tmp_path / "mnist").iterdir()) == []
    _, good_url = shared_mirror
    ds = load_dataset("mnist", cache_dir=tmp_path, mirrors=[good_url])
    assert ds.source.startswith(f"downloaded from {good_url}")


def test_mirror_fallback_from_environment(shared_mirror, refused_url, tmp_path, monkeypatch):
    _, url = shared_mirror
    monkeypatch.setenv(ENV_MIRRORS, f"{refused_url} {url}")
    monkeypatch.setenv(ENV_CACHE, str(tmp_path))
    ds = load_dataset("mnist")
    assert ds.source == f"downloaded from {url} into {tmp_path / 'mnist'}"


def test_no_mirror_reachable(refused_url, serve, tmp_path):
    (tmp_path / "empty").mkdir()
    _, empty_url = serve(tmp_path / "empty")
    with pytest.raises(DownloadError) as info:
        load_dataset("mnist", cache_dir=tmp_path / "cache", mirrors=[refused_url, empty_url])
    message = str(info.value)
    assert message.startswith("Could not download MNIST (train-images-idx3-ubyte.gz) from any mirror")
    assert "Connection refused" in message and "HTTP 404" in message
    assert f"Put the four files in {tmp_path / 'cache' / 'mnist'}" in message
    assert ENV_DATA in message
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []
    with pytest.raises(DownloadError, match="no mirror configured"):
        load_dataset("mnist", cache_dir=tmp_path / "cache", mirrors=[])


def host(url: str) -> str:
    return url.removeprefix("http://").rstrip("/")


@pytest.mark.parametrize("how", ["argument", "module setting"])
def test_silent_mirror_times_out(silent_url, tmp_path, monkeypatch, how):
    quick = Timeouts(connect=1, read=1, per_file=10)
    kwargs = {"timeouts": quick} if how == "argument" else {}
    if how == "module setting":
        monkeypatch.setattr(download, "TIMEOUTS", quick)
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[silent_url], **kwargs)
    assert time.monotonic() - start < 3
    assert f"{host(silent_url)}: timed out (no data for 1 s)" in str(info.value)
    assert str(info.value).startswith("Could not download MNIST (train-images-idx3-ubyte.gz)")
    assert list((tmp_path / "mnist").iterdir()) == []


def test_unreachable_mirror_times_out_connecting(full_backlog_url, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[full_backlog_url],
                     timeouts=Timeouts(connect=1, read=1, per_file=10))
    assert f"{host(full_backlog_url)}: timed out (no connection within 1 s)" in str(info.value)
    assert time.monotonic() - start < 3


def test_slow_drip_stops_at_the_deadline(shared_data_dir, serve, tmp_path):
    handler = type("Drip", (DripHandler,), {"directory": shared_data_dir / "mnist"})
    _, drip_url = serve(handler=handler)
    calls = []
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[drip_url], progress=lambda f, m: calls.append(m),
                     timeouts=Timeouts(connect=1, read=1, per_file=2))
    assert 1.8 < time.monotonic() - start < 4
    assert f"{host(drip_url)}: timed out (the file took longer than 2 s)" in str(info.value)
    assert calls == [f"Downloading MNIST train-images-idx3-ubyte.gz (1/4) from {host(drip_url)}"]
    assert list((tmp_path / "mnist").iterdir()) == []


@pytest.mark.parametrize("length, reason", [
    (None, "sent more than the 39,649,688 bytes allowed"),
    (10**9, "announced 1,000,000,000 bytes, more than the 39,649,688 allowed")])
def test_oversized_download_is_refused(serve, tmp_path, length, reason):
    _, url = serve(handler=type("Endless", (EndlessHandler,), {"length": length}))
    with pytest.raises(DownloadError, match=f"train-images-idx3-ubyte.gz.*{host(url)}: {reason}"):
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[url])
    assert list((tmp_path / "mnist").iterdir()) == []


def test_good_mirror_after_hanging_ones(mnist, shared_data_dir, shared_mirror, serve, silent_url, tmp_path):
    _, drip_url = serve(handler=type("Drip", (DripHandler,), {"directory": shared_data_dir / "mnist"}))
    _, good_url = shared_mirror
    calls = []
    start = time.monotonic()
    ds = load_dataset("mnist", cache_dir=tmp_path, mirrors=[silent_url, drip_url, good_url],
                      progress=lambda f, m: calls.append((f, m)),
                      timeouts=Timeouts(connect=1, read=1, per_file=1))
    assert time.monotonic() - start < 4  # each hanging mirror costs about a second, once
    assert ds.source == f"downloaded from {good_url} into {tmp_path / 'mnist'}"
    assert np.array_equal(ds.x_test, mnist.x_test)
    hosts = [m.rsplit(" ", 1)[-1] for _, m in calls[:-1]]
    assert hosts[:3] == [host(silent_url), host(drip_url), host(good_url)]
    assert set(hosts[3:]) == {host(good_url)}  # the good mirror is tried first for the other files
    fractions = [f for f, _ in calls]
    assert fractions[-1] == 1.0 and all(a <= b for a, b in zip(fractions, fractions[1:]))
