"""Loading MNIST and Fashion-MNIST: local folders, cache, downloads and damaged files."""
import functools
import gzip
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from mlp import download
from mlp.data import (ENV_CACHE, ENV_DATA, ENV_MIRRORS, FILES, ChecksumError, CorruptFileError,
                      DatasetError, DownloadError, find_local, load_dataset, read_idx)
from mlp.download import Timeouts

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray) -> bytes:
    header = (2048 + array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (ENV_DATA, ENV_CACHE, ENV_MIRRORS):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def raw_dir(mnist, tmp_path_factory):
    """MNIST as uncompressed IDX files."""
    folder = tmp_path_factory.mktemp("raw")
    for fname, array in zip(FILES, mnist[:4]):
        (folder / fname).write_bytes(idx_bytes(array))
    return folder


@pytest.fixture
def broken_dir(raw_dir, tmp_path):
    """Build a folder of good raw MNIST files where some are replaced by the given bytes."""
    def build(**replaced):
        replaced = {k.replace("_", "-"): v for k, v in replaced.items()}
        for fname in FILES:
            for key, content in replaced.items():
                if fname.startswith(key.removesuffix(".gz")):
                    (tmp_path / (fname + (".gz" if key.endswith(".gz") else ""))).write_bytes(content)
                    break
            else:
                (tmp_path / fname).symlink_to(raw_dir / fname)
        return tmp_path
    return build


# ---------------------------------------------------------------- real files


def test_mnist_from_shared_root(mnist, shared_data_dir):
    assert mnist.name == "mnist"
    assert mnist.classes == tuple("0123456789")
    assert str(shared_data_dir / "mnist") in mnist.source
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    for array in mnist[:4]:
        assert array.dtype == np.uint8
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        mnist.x_train[0, 0, 0] = 1
    with pytest.raises(ValueError):
        mnist.y_test[0] = 1
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_COUNTS
    assert mnist.x_train.max() == 255 and mnist.x_train.min() == 0


def test_fashion_mnist_from_shared_root(shared_data_dir):
    ds = load_dataset("fashion-mnist", shared_data_dir)
    assert ds.name == "fashion-mnist"
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot" and len(ds.classes) == 10
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert not ds.x_train.flags.writeable and ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10


def test_dataset_folder_from_environment(mnist, shared_data_dir, monkeypatch):
    monkeypatch.setenv(ENV_DATA, str(shared_data_dir / "mnist"))
    ds = load_dataset("mnist")
    assert ds.source == f"{shared_data_dir / 'mnist'} (local copy)"
    assert np.array_equal(ds.x_test, mnist.x_test) and np.array_equal(ds.y_train, mnist.y_train)


def test_find_local(shared_data_dir, tmp_path):
    assert find_local("mnist", shared_data_dir) == shared_data_dir / "mnist"
    assert find_local("fashion-mnist", shared_data_dir) == shared_data_dir / "fashion-mnist"
    assert find_local("mnist", shared_data_dir / "mnist") == shared_data_dir / "mnist"
    assert find_local("mnist", tmp_path) is None


def test_raw_files_load(mnist, raw_dir):
    ds = load_dataset("mnist", raw_dir)
    for loaded, expected in zip(ds[:4], mnist[:4]):
        assert np.array_equal(loaded, expected)
        assert not loaded.flags.writeable


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_small(tmp_path, compress):
    array = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    content = idx_bytes(array)
    path = tmp_path / "small"  # no .gz suffix: compression is detected from the content
    path.write_bytes(gzip.compress(content) if compress else content)
    loaded = read_idx(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (3, 2, 2)
    assert np.array_equal(loaded, array) and not loaded.flags.writeable


def test_unknown_dataset_name():
    with pytest.raises(DatasetError, match="mnist, fashion-mnist"):
        load_dataset("cifar")


# ---------------------------------------------------------------- damaged files


def test_truncated_gzip(shared_data_dir, broken_dir):
    content = (shared_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    folder = broken_dir(**{"t10k-labels.gz": content[: len(content) // 2]})
    with pytest.raises(CorruptFileError, match="not a valid gzip.*Delete it or replace it"):
        read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(CorruptFileError, match="t10k-labels-idx1-ubyte.gz is not a valid gzip"):
        load_dataset("mnist", folder)


def test_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(CorruptFileError, match="not an IDX file"):
        read_idx(tmp_path / "empty")


def test_wrong_magic(raw_dir, broken_dir):
    content = bytearray((raw_dir / "train-labels-idx1-ubyte").read_bytes())
    content[2] = 0x09  # signed bytes: not a format of this data
    folder = broken_dir(train_labels=bytes(content))
    with pytest.raises(CorruptFileError, match="magic number 0x00000901"):
        load_dataset("mnist", folder)


def test_labels_in_place_of_images(raw_dir, broken_dir):
    folder = broken_dir(t10k_images=(raw_dir / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(CorruptFileError, match=r"t10k-images-idx3-ubyte holds \(10000,\) \(magic 2049\), "
                                               r"expected \(10000, 28, 28\) \(magic 2051\)"):
        load_dataset("mnist", folder)


def test_truncated_raw_data(raw_dir, broken_dir):
    content = (raw_dir / "t10k-images-idx3-ubyte").read_bytes()
    folder = broken_dir(t10k_images=content[:-100])
    with pytest.raises(CorruptFileError, match="t10k-images-idx3-ubyte is truncated"):
        load_dataset("mnist", folder)


def test_trailing_bytes(raw_dir, broken_dir):
    content = (raw_dir / "train-labels-idx1-ubyte").read_bytes()
    folder = broken_dir(train_labels=content + b"\0" * 5)
    with pytest.raises(CorruptFileError, match="followed by 5 trailing bytes"):
        load_dataset("mnist", folder)


def test_label_count_differs_from_image_count(raw_dir, broken_dir):
    folder = broken_dir(train_labels=(raw_dir / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(CorruptFileError, match=r"holds \(10000,\).*expected \(60000,\).*to match the images"):
        load_dataset("mnist", folder)


def test_label_above_nine(mnist, broken_dir):
    labels = mnist.y_test.copy()
    labels[7] = 10
    with pytest.raises(CorruptFileError, match="labels above 9"):
        load_dataset("mnist", broken_dir(t10k_labels=idx_bytes(labels)))


def test_altered_bytes_fail_the_checksum(mnist, broken_dir):
    images = mnist.x_test.copy()
    images[0, 14, 14] ^= 1
    folder = broken_dir(t10k_images=idx_bytes(images))
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte does not match.*SHA-256.*Delete it"):
        load_dataset("mnist", folder)


def test_other_dataset_in_the_folder(shared_data_dir):
    with pytest.raises(ChecksumError, match="it holds MNIST, not Fashion-MNIST"):
        load_dataset("fashion-mnist", shared_data_dir / "mnist")


def test_missing_file_in_named_folder(shared_data_dir, tmp_path, monkeypatch):
    for fname in FILES[:3]:
        (tmp_path / f"{fname}.gz").symlink_to(shared_data_dir / "mnist" / f"{fname}.gz")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", tmp_path, cache_dir=cache)
    assert type(info.value) is DatasetError  # no download was attempted
    assert f"{tmp_path} does not hold the MNIST files: missing t10k-labels-idx1-ubyte(.gz)" in str(info.value)
    monkeypatch.setenv(ENV_DATA, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match=f"{tmp_path / 'nowhere'} does not exist.*{ENV_DATA}"):
        load_dataset("mnist", cache_dir=cache)
    assert not cache.exists()


def test_damaged_file_in_cache(shared_data_dir, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for fname in FILES:
        (folder / f"{fname}.gz").symlink_to(shared_data_dir / "mnist" / f"{fname}.gz")
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(CorruptFileError, match="t10k-images-idx3-ubyte.gz is not a valid gzip.*Delete"):
        load_dataset("mnist", cache_dir=tmp_path, mirrors=[])


# ---------------------------------------------------------------- downloads


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
