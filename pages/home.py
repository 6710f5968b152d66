"""Home: what this is, which data set is in use, and the state of the session's model."""
import streamlit as st

from mlp.data import TITLES
from playground import session, site
from playground.live import status_line
from playground.server import dataset

st.title("MNIST Playground")
st.markdown(
    "Train a neural network written from scratch in NumPy, watch it learn, and test it on your own "
    "handwriting. The network is a multi-layer perceptron: 784 pixels in, a few hidden layers of "
    "neurons, 10 classes out. Every number on these pages comes from plain matrix products and the "
    "chain rule, in the `mlp/` folder of the source. Pick the layer sizes and the learning rate, press "
    "**Train**, and see the accuracy curves grow; browse the images it learns from; then draw a digit "
    "and see what the network thinks.")

data = dataset(stop_on_error=False)
c1, c2 = st.columns(2)
with c1:
    st.subheader("Data set")
    if data is not None:
        st.markdown(f"**{TITLES[data.name]}**: {len(data.y_train):,} training and {len(data.y_test):,} "
                    f"test images of 28 × 28 grey pixels, {len(data.classes)} classes.")
        st.caption(f"Loaded from {data.origin}")  # not the server's folders
with c2:
    st.subheader("Your model")
    status_line(lambda: f"Status: **{session.status()}**", "markdown")

st.subheader("Pages")
for p in site.pages()[1:]:
    st.page_link(p.path, label=f"{p.title}: {p.blurb}", icon=p.icon)
