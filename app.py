"""MNIST Playground: the frame and router. Pages live in pages/; shared state is described in pages/common.py."""
import streamlit as st

from mlp.data import DATASETS, TITLES
from pages.common import run_history, settle_server, status, training_slots, while_training

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


def model_and_server():
    """The sidebar's lines on this tab's model and on the server's training queue."""
    st.caption(f"Model: {status()}")
    slots = training_slots()
    training, waiting = slots.counts()
    if training or waiting:
        st.caption(f"Server: {training} training, {waiting} waiting (at most {slots.limit} at once)")


run_history()  # find this tab's runs again after a reload, through ?sid=
st.query_params["sid"] = st.session_state.sid

with st.sidebar:
    st.session_state.setdefault("dataset", "mnist")
    st.selectbox("Data set", DATASETS, format_func=TITLES.get, key="dataset",
                 help="MNIST: handwritten digits. Fashion-MNIST: small photos of clothing, same size and format.")
    while_training(model_and_server)

pg.run()
