"""Helpers of the AppTest tests: the pages as a running server knows them, readers of what a page shows."""
import base64
import io
import json
import re
from pathlib import Path

import numpy as np
from streamlit.runtime.pages_manager import PagesManager

from tests import strokes

ROOT = Path(__file__).resolve().parents[2]
JOB_TIMEOUT = 120  # seconds: training threads share a busy machine


class ServerPages(PagesManager):
    """The pages as a running server knows them once app.py has called st.navigation.

    AppTest starts each run like a freshly started server, which runs a file of pages/ on its own
    first; the page then reruns itself through app.py (playground.frame.through_app), and that rerun
    drops a button press. A real server does this only once, on its very first run.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


def open_page(at, name, **state):
    """Switch to pages/<name>.py with some values in st.session_state; check it ran without an exception."""
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements):
    return [e.value for e in elements]


def wait_for_job(at):
    job = at.session_state["job"]
    job.join(JOB_TIMEOUT)
    assert not job.alive, "the training job did not end in time"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return job


def drawing(digit):
    """The canvas component's value after a digit was drawn on it."""
    return {"drawing": {"raw": {"objects": [], "background": "#000000"},
                        "data": strokes.data_url(strokes.render(strokes.DIGITS[digit]()))},
            "backgroundFit": None}


# ----------------------------------------------------------------------------
# charts and metrics


def charts(at):
    """Every Plotly chart of the page, as the figure dicts the browser gets."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(value):
    """A Plotly array as NumPy: a plain list, or the typed form {"dtype", "bdata", "shape"} of NumPy data."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.astype(np.int64 if flat.dtype.kind in "iub" else np.float64).reshape(shape)
    return np.array(value, dtype=float)


def chart_titled(at, start):
    found = [c for c in charts(at) if ((c["layout"].get("title") or {}).get("text") or "").startswith(start)]
    assert len(found) == 1, [(c["layout"].get("title") or {}).get("text") for c in charts(at)]
    return found[0]


def metrics(at):
    return {m.label: m.value for m in at.metric}


def sidebar_status(at):
    return at.sidebar.caption[0].value


# ----------------------------------------------------------------------------
# model files


def saved(model, **info):
    buf = io.BytesIO()
    model.save(buf, **info)
    return buf.getvalue()


def upload(at, name, content):
    at.file_uploader(key="model_upload").set_value((name, content, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


# ----------------------------------------------------------------------------
# the Train page's settings


def layers(at):
    return [s.value for s in at.select_slider if s.key.startswith("layer_")]


# ----------------------------------------------------------------------------
# what a visitor sends, echoed as plain text


MARKDOWN = ["[Sign in again](http://example.org)", "![](http://example.org/b.png)",
            "<img src=http://example.org/c.png>", "see www.example.org", ":red[alarm] $x^2$ **bold**"]


def outside_code(markdown: str) -> str:
    """The Markdown text with its code spans taken out: what Streamlit would interpret."""
    return re.sub(r"(`+) .*? \1", "", markdown)


def interpreted(markdown: str) -> list[str]:
    """Pieces of Markdown or HTML outside code spans that would become a link, an image or markup."""
    rest = outside_code(markdown)
    return re.findall(r"\]\(|!\[|<[a-z]|https?:|www\.|:red\[|\$|\*\*", rest)
