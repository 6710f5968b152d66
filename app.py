"""MNIST Playground: the frame and router. Pages live in pages/; shared state is described in pages/common.py."""
import streamlit as st

from mlp.data import DATASETS, TITLES
from pages.common import (keep_status_lines_fresh, set_browser_key, settle_server, status, status_line,
                          training_slots, workspace)

st.set_page_config(page_title="MNIST Playground", page_icon=":material/neurology:", layout="wide")
settle_server()

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
    st.Page("pages/gallery.py", title="Gallery", icon=":material/grid_view:", url_path="gallery"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:", url_path="evaluate"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/visibility:", url_path="inspect"),
    st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:", url_path="compare"),
]
pg = st.navigation(pages)
LIVE_PAGES = {"train", "draw"}  # their own live fragments redraw the status lines while training


def server_queue():
    """The sidebar's line on the server's trainings, if there are any."""
    slots = training_slots()
    training, waiting = slots.counts()
    if not training and not waiting:
        return ""
    return f"Server: {training} training, {waiting} waiting (at most {slots.limit} at once)"


workspace()  # this browser's runs and current model, found again after a reload through its cookie

with st.sidebar:
    st.session_state.setdefault("dataset", "mnist")
    st.selectbox("Data set", DATASETS, format_func=TITLES.get, key="dataset",
                 help="MNIST: handwritten digits. Fashion-MNIST: small photos of clothing, same size and format.")
    st.session_state.status_lines = []  # drawn afresh by this run; pages may add theirs
    status_line(lambda: f"Model: {status()}")
    status_line(server_queue)
    set_browser_key()

pg.run()
if pg.url_path not in LIVE_PAGES:
    keep_status_lines_fresh()  # after the page, so that its status lines are drawn too
