"""The frame (app.py) under AppTest: deep links on a fresh server, sessions apart, bad config, downloads."""
import hashlib
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mlp import data, download
from playground import server as shared
from tests.pages.helpers import JOB_TIMEOUT, ROOT, layers, open_page, texts


# ----------------------------------------------------------------------------
# a first visitor's deep link


@pytest.mark.parametrize("name", ["train", "draw"])
def test_a_page_opened_first_on_a_fresh_server_runs_inside_the_frame(app_env, name):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page(f"pages/{name}.py").run()  # like a first visitor's deep link to /train
    assert not at.exception
    assert at.title[0].value == name.title()
    assert at.sidebar.selectbox(key="dataset").value == "mnist"  # app.py's sidebar
    assert at.sidebar.caption[0].value == "Model: untrained"


def test_a_link_opened_first_on_a_fresh_server(app_env):
    """Without the stand-in pages manager: the page reruns itself inside app.py and keeps the link."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params.update(lr="0.01", layers="256-32", epochs="3")
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.sidebar.caption[0].value == "Model: untrained"
    assert at.select_slider(key="learning_rate_init").value == 0.01
    assert layers(at) == [256, 32] and at.slider(key="max_iter").value == 3


# ----------------------------------------------------------------------------
# many sessions on one server


def test_one_students_model_and_runs_are_not_anothers(server):
    alice, bob = server(2, max_jobs=2)
    open_page(alice, "train")
    alice.select_slider(key="train_size").set_value(1000).run()
    alice.slider(key="max_iter").set_value(1).run()
    alice.button(key="train").click().run()
    alice.session_state["job"].join(JOB_TIMEOUT)
    open_page(alice, "compare")
    assert alice.session_state["runs"] is not None and len(alice.session_state["runs"]) == 1
    open_page(bob, "draw")
    assert "No trained model yet" in texts(bob.info)[0]
    open_page(bob, "compare")
    assert len(bob.session_state["runs"]) == 0 and len(alice.session_state["runs"]) == 1


def test_a_broken_server_config_is_reported_on_the_page(server):
    [at] = server(1, max_jobs="many")
    [error] = texts(at.error)
    assert error.startswith("**The server's configuration is not valid:** limit max_jobs must be a whole "
                            "number, not 'many'. Whoever runs the server can fix it")


# ----------------------------------------------------------------------------
# downloads that hang or crawl: no page waits on them


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
    assert [c for c in texts(alice.caption) if c.startswith("Loaded from a download from http://127.0.0.1:")]
    assert not [c for c in texts(alice.caption) if str(folder) in c]  # the server's folders stay private
    assert np.array_equal(load.data.x_test, mnist.x_test)
