"""Fixtures of the real-browser tests: the window's size, and a screenshot of a page whose test failed."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ROOT, TIMEOUT


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 950}}


@pytest.fixture(autouse=True)
def on_failure_screenshot(request):
    """Keep a screenshot of the page in test-results/<test name>.png when the test failed.

    Only for tests that use the `page` fixture; those that open browser contexts of their own are left alone.
    """
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=str(ROOT / "test-results" / f"{name}.png"), full_page=True)


TOKEN = "a-token-for-the-browser-test"  # the teacher's, on class_server


@pytest.fixture(scope="module")
def class_server(start_app, shared_data_dir, tmp_path_factory):
    """The app with a class database of its own and a teacher token."""
    db = tmp_path_factory.mktemp("class") / "class.sqlite"
    return start_app(MNIST_PLAYGROUND_DATA=str(shared_data_dir), MNIST_PLAYGROUND_CLASS_DB=f"sqlite:///{db}",
                     MNIST_PLAYGROUND_TEACHER_TOKEN=TOKEN)
