"""What a visitor sends is hostile until checked (AppTest, the real pages): links, uploads, canvas
images and requests for work are bounded and checked before use, and echoed as plain text only."""
import base64
import hashlib
import io
import json
import re
import socket
import struct
import threading
import time
import zlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest, app_test

import mlp
from mlp import data, download
from playground import server as shared
from playground.canvas import PREFIX
from test_classroom import server  # noqa: F401
from test_insight_pages import saved, sidebar_status, upload
from test_pages import (JOB_TIMEOUT, ROOT, ServerPages, app, drawing, fast_trainer, open_page, texts,  # noqa: F401
                        wait_for_job)

MARKDOWN = ["[Sign in again](http://example.org)", "![](http://example.org/b.png)",
            "<img src=http://example.org/c.png>", "see www.example.org", ":red[alarm] $x^2$ **bold**"]


def outside_code(markdown: str) -> str:
    """The Markdown text with its code spans taken out: what Streamlit would interpret."""
    return re.sub(r"(`+) .*? \1", "", markdown)


def interpreted(markdown: str) -> list[str]:
    """Pieces of Markdown or HTML outside code spans that would become a link, an image or markup."""
    rest = outside_code(markdown)
    return re.findall(r"\]\(|!\[|<[a-z]|https?:|www\.|:red\[|\$|\*\*", rest)


# ----------------------------------------------------------------------------
# plain text


@pytest.mark.parametrize("value", MARKDOWN)
def test_a_value_in_a_link_is_echoed_as_plain_text(app_env, value):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params.update({"lr": value, "epochs": value})
    at.run()
    at.switch_page("pages/train.py").run()
    [notice] = [w for w in texts(at.warning) if w.startswith("The link held values")]
    assert value[:20] in notice and not interpreted(notice), notice


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


# ----------------------------------------------------------------------------
# the canvas


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def big_png(side):
    deflate, row = zlib.compressobj(9), b"\0" * (1 + 4 * side)
    data = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def la_png():
    buf = io.BytesIO()
    from PIL import Image
    Image.fromarray(np.zeros((280, 280, 2), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def canvas(data):
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data}, "backgroundFit": None}


HOSTILE = {
    "8000x8000 PNG": PREFIX + base64.b64encode(big_png(8000)).decode(),
    "random bytes": PREFIX + base64.b64encode(np.random.default_rng(0).bytes(3000)).decode(),
    "LA-mode PNG": PREFIX + base64.b64encode(la_png()).decode(),
    "not base64": PREFIX + "%%%",
    "a number": 12,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_canvas_image_that_is_not_a_drawing_is_ignored_with_a_note(app, fast_trainer, name):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": canvas(HOSTILE[name])})
    assert not app.exception
    assert [i for i in texts(app.info) if i.startswith("Draw a digit")]
    [note] = [c for c in texts(app.caption) if c.startswith("The drawing was ignored: ")]
    assert "\n" not in note and len(note) < 160
    assert "prediction:" not in " ".join(texts(app.markdown))
    app.session_state["canvas-0"] = drawing(7)  # the next real drawing is read as always
    app.run()
    assert "prediction: **7**" in texts(app.markdown)
    assert not [c for c in texts(app.caption) if c.startswith("The drawing was ignored")]


# ----------------------------------------------------------------------------
# work with an end


def test_a_training_of_days_is_refused(server):  # noqa: F811
    [at] = server(1)
    at.query_params.update({"layers": "1024-1024-1024-1024", "batch": "1", "epochs": "50", "images": "60000"})
    at.switch_page("pages/train.py").run()
    at.button(key="train").click().run()
    assert "job" not in at.session_state
    [refusal] = texts(at.error)
    assert re.match(r"\*\*These settings are beyond this server's limits:\*\* about [\d,]+ s of training "
                    r"\(at most 600 s; ", refusal), refusal


def test_continue_cannot_grow_a_run_past_the_limits(server):  # noqa: F811
    [at] = server(1, max_epochs=3)
    open_page(at, "train")
    at.select_slider(key="train_size").set_value(1000).run()
    at.slider(key="max_iter").set_value(2).run()
    at.button(key="train").click().run()
    wait_for_job(at)
    assert at.button(key="continue").label == "Continue +1 epoch"
    at.button(key="continue").click().run()
    trainer = wait_for_job(at).trainer
    assert trainer.step == 3 * trainer.steps_per_epoch
    at.button(key="continue").click().run()  # a fourth epoch: past max_epochs
    assert at.session_state["job"].state == "finished" and trainer.step == 3 * trainer.steps_per_epoch
    [refusal] = texts(at.error)
    assert refusal == ("**This run cannot go on here:** 4 epochs in all (at most 3); "
                       "start a new training instead.")


def test_continue_is_bounded_in_time_too(server):  # noqa: F811
    [at] = server(1, max_job_seconds=1)
    open_page(at, "train")
    at.select_slider(key="train_size").set_value(1000).run()
    at.slider(key="max_iter").set_value(1).run()
    at.button(key="train").click().run()
    wait_for_job(at)
    at.slider(key="max_iter").set_value(50).run()  # Continue +25 epochs: about 2 s
    at.button(key="continue").click().run()
    assert not at.session_state["job"].alive
    [refusal] = texts(at.error)
    assert refusal.startswith("**This run cannot go on here:** about ") and "(at most 1 s;" in refusal


def test_a_full_queue_refuses_more(server):  # noqa: F811
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


def test_a_waiting_training_holds_no_weights_and_an_ended_one_no_batch(mnist):
    from playground.jobs import Slots, TrainingJob

    slots = Slots(1)
    config = mlp.preset("notebook", train_size=5000, max_iter=3)  # full batch: 5000 x 784 floats
    first, second = mlp.Trainer(config, mnist), mlp.Trainer(config, mnist)
    labels = second.nbytes
    assert labels <= 5000 * 16  # the labels and the rows of the subset: no weights while queued
    jobs = [TrainingJob(t, slots).start() for t in (first, second)]
    for job in jobs:
        job.join(JOB_TIMEOUT)
        assert job.state == "finished"
    weights = 4 * first.model.params.nbytes  # model, snapshot and nothing else for plain SGD
    assert first.nbytes < labels + weights + 5000 * 784  # the 15.7 MB float batch is gone
    assert first._X_full is None


# ----------------------------------------------------------------------------
# downloads that hang or crawl: no page waits on them


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


def visit(page="home"):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    if page != "home":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    return at


def test_a_mirror_that_never_answers_holds_no_page(no_data):
    mirror = no_data()
    alice = visit()  # the first visitor starts the download
    load = shared.data_sets().request("mnist")
    [bar] = alice.get("progress")
    assert bar.proto.text.startswith("Downloading MNIST train-images-idx3-ubyte.gz (1/4) from 127.0.0.1")
    assert not load.done.is_set()  # the page came back while the download still hangs
    bob = visit("gallery")  # another student meanwhile: told, not held, and no second download
    assert bob.get("progress")[0].proto.text.startswith("Downloading MNIST") and not load.done.is_set()
    assert mirror.connections == 1

    assert load.done.wait(JOB_TIMEOUT) and load.error is not None
    alice.run()
    [error] = texts(alice.error)
    assert "Could not download MNIST" in error and "timed out" in error
    carol = visit("train")  # a failure is remembered for a while: no new attempt for each page view
    assert "Could not download MNIST" in texts(carol.error)[0] and mirror.connections == 1
    carol.button(key="retry_data").click().run()  # unless asked
    assert mirror.connections == 2


def test_a_slow_download_shows_how_far_it_is_then_the_data(no_data, shared_data_dir, monkeypatch, mnist):
    folder = shared_data_dir / "mnist"
    monkeypatch.setitem(download.MD5, "mnist", {f: hashlib.md5((folder / f"{f}.gz").read_bytes()).hexdigest()
                                            for f in data.FILES})  # the shared copies are compressed anew
    no_data(folder=folder, rate=2e6)  # 11 MB at 2 MB/s
    alice = visit()
    load = shared.data_sets().request("mnist")
    shown = alice.get("progress")[0].proto.text
    assert re.fullmatch(r"Downloading MNIST .* · \d+%", shown) and not load.done.is_set(), shown
    assert load.done.wait(JOB_TIMEOUT) and load.error is None
    alice.run()
    assert not alice.get("progress")
    assert [c for c in texts(alice.caption) if c.startswith("Loaded from downloaded from http://127.0.0.1:")]
    assert np.array_equal(load.data.x_test, mnist.x_test)


@pytest.mark.parametrize("selection", [{"points": {"0": 1}}, {"points": "xy"}, {"points": [7]}, "junk",
                                       {"points": [{"x": "99", "y": "[a](http://example.org)"}]}])
def test_a_click_on_the_confusion_matrix_that_is_not_a_cell_is_ignored(app, fast_trainer, selection):
    open_page(app, "evaluate", trainer=fast_trainer)
    app.session_state["confusion"] = {"selection": selection}
    app.run()
    assert not app.exception
    assert (app.selectbox(key="cell_true").value, app.selectbox(key="cell_pred").value) == (4, 9)
