"""Inspect: what the first layer looks for, and every layer's values for one input."""
import streamlit as st

from mlp import analysis
from playground import figures
from mlp.preprocess import to_float
from playground.server import dataset
from playground.session import for_model, require_model

st.title("Inspect")
data = dataset()
model = require_model(data)

st.subheader("What the first layer looks for")
st.caption(f"Each square is one of the {model.layer_sizes[1]} neurons of the first hidden layer: its 784 "
           "weights laid out as the 28 × 28 image they multiply. Red pixels push the neuron up, blue "
           "ones push it down.")
units = model.layer_sizes[1]
n_show = st.select_slider("Neurons shown", sorted({min(n, units) for n in (16, 32, 64, 128)}),
                          value=min(32, units), key="inspect_units")
weights = analysis.first_layer_images(model)[:n_show]
st.plotly_chart(figures.image_grid(weights, cols=16), width="stretch")

st.subheader("One input, layer by layer")
drawing = st.session_state.get("drawing")
sources = ["A test image"] + (["My drawing"] if drawing is not None else [])
a, b = st.columns([1, 2])
source = a.radio("Input", sources, key="inspect_source",
                 help="Draw a digit on the Draw page to see it here.")
if source == "My drawing":
    x = drawing.reshape(-1)
    caption = "your drawing"
else:
    i = a.number_input("Test image", 0, len(data.y_test) - 1, 0, key="inspect_index")
    x = to_float(data.x_test[i:i + 1])[0]
    caption = f"test image {i}, a {data.classes[data.y_test[i]]}"
a.image(analysis.upscale(x.reshape(28, 28), 5), caption=caption, clamp=True)
outputs = analysis.layer_outputs(model, x)
with b:
    cols = st.columns(2)
    for k, (name, values) in enumerate(outputs[:-2]):
        cols[k % 2].plotly_chart(figures.vector_heatmap(values, f"{name}: {len(values)} values"),
                                 width="stretch")
    (_, logits), (_, proba) = outputs[-2:]
    cols = st.columns(2)
    cols[0].plotly_chart(figures.bars(logits, data.classes, "logits (before softmax)"), width="stretch")
    cols[1].plotly_chart(figures.bars(proba, data.classes, "softmax: probabilities", figures.TEST),
                         width="stretch")

st.subheader("Weights and activations")
sample = to_float(data.x_test[:1000])
dead = for_model(model, "dead", lambda: analysis.dead_units(model, sample))
acts = analysis.hidden_activations(model, sample)
for k, (W, A) in enumerate(zip(model.coefs_, acts + [None])):
    cols = st.columns([1, 1, 0.6])
    cols[0].plotly_chart(figures.histogram(*analysis.histogram(W), f"layer {k + 1} weights"), width="stretch")
    if A is not None:
        cols[1].plotly_chart(figures.histogram(*analysis.histogram(A), f"hidden layer {k + 1} activations",
                                               figures.TEST), width="stretch")
        cols[2].metric(f"Dead units in layer {k + 1}", f"{dead[k]:.0%}",
                       help="Units that output 0 for all of 1,000 test images: they no longer learn.")
