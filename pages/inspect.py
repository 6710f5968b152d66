"""Inspect: what the first layer looks for, every layer's values for one input, one unit in the
neuron lab (edit the network, see what changes), a map of each layer, weights and activations."""
from dataclasses import replace

import streamlit as st

from mlp import analysis, lab
from playground import figures
from mlp.preprocess import to_float
from playground.server import dataset
from playground.session import for_model, latest, require_model, save_edited_run
from playground.text import literal

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

# ----------------------------------------------------------------------------
# the neuron lab: one unit, and edits of the whole network measured on a fixed test subset

UNIT_WIDGETS = ("lab_off", "lab_scale", "lab_shift")


def unit_keys(layer, unit):
    return [f"{w}_{layer}_{unit}" for w in UNIT_WIDGETS]


def edit_unit(layer, unit):
    off, scale, shift = (st.session_state.get(k, start) for k, start in zip(unit_keys(layer, unit), (False, 1.0, 0.0)))
    st.session_state.lab_edits = st.session_state.lab_edits.with_unit(lab.UnitEdit(layer, unit, off, scale, shift))


def remove_edit(layer, unit):
    st.session_state.lab_edits = st.session_state.lab_edits.without(layer, unit)
    for k in unit_keys(layer, unit):
        st.session_state.pop(k, None)


def reset_edits():
    st.session_state.lab_edits = lab.Edits()
    for k in [k for k in st.session_state if str(k).startswith(UNIT_WIDGETS)] + ["lab_temperature", "lab_prune"]:
        st.session_state.pop(k, None)  # the widgets come back with their first values


def pct(v):
    return f"{v:.1%}"


@st.fragment
def neuron_lab(model, x, caption):
    ss = st.session_state
    hidden = model.layer_sizes[1:-1]
    st.caption(f"Pick a hidden unit to see what it looks for. Then change the network and see what that does "
               f"to {lab.SUBSET:,} test images. The edits apply to a copy: the trained network stays as it is, "
               "and Reset brings it back exactly.")
    if not hidden:
        st.info("This network has no hidden layer: its inputs go straight to the output, so there is no unit "
                "to look at.")
        return
    layers = list(range(1, len(hidden) + 1))
    if ss.get("lab_layer") not in layers:
        ss.pop("lab_layer", None)
    a, b = st.columns(2)
    layer = a.selectbox("Hidden layer", layers, key="lab_layer",
                        format_func=lambda n: f"layer {n}: {hidden[n - 1]} units")
    unit = ss.get("lab_unit", 0)  # put back in range: the model may have changed, or a client sent it
    ss.lab_unit = min(max(unit if isinstance(unit, int) else 0, 0), hidden[layer - 1] - 1)
    unit = int(b.number_input("Unit", 0, hidden[layer - 1] - 1, key="lab_unit"))
    view = st.container()
    edits = ss.lab_edits = ss.get("lab_edits", lab.Edits()).fitting(model)
    mine = edits.unit(layer, unit)
    k_off, k_scale, k_shift = unit_keys(layer, unit)
    st.markdown(f"**Edit unit {unit} of layer {layer}**")
    c1, c2, c3 = st.columns(3)
    c1.checkbox("Switch it off", mine.off, key=k_off, on_change=edit_unit, args=(layer, unit),
                help="Its outgoing weights contribute nothing: the next layer no longer sees it.")
    c2.slider("Scale its incoming weights", 0.0, lab.MAX_SCALE, mine.scale, 0.05, key=k_scale,
              on_change=edit_unit, args=(layer, unit))
    c3.slider("Shift its bias", -lab.MAX_SHIFT, lab.MAX_SHIFT, mine.shift, 0.05, key=k_shift,
              on_change=edit_unit, args=(layer, unit))
    st.markdown("**Edit the whole network**")
    d1, d2 = st.columns(2)
    temperature = d1.slider("Softmax temperature", 0.1, 5.0, 1.0, 0.1, key="lab_temperature",
                            help="The logits are divided by it before the softmax: the same answers, given "
                                 "with more confidence below 1 and less above.")
    prune = d2.slider("Prune the smallest weights (%)", 0, 99, 0, 1, key="lab_prune",
                      help="Sets this share of all the weights to 0, those of smallest size first, over every "
                           "layer at once; the biases stay.")
    edits = replace(edits, temperature=temperature, prune=prune / 100)

    idx = lab.subset(data.y_test)
    X, y = to_float(data.x_test[idx]), data.y_test[idx]
    before = for_model(model, "lab_scores", lambda: lab.evaluate(model, X, y))
    changed, after = (model, before) if edits.empty else latest(
        "lab", model, edits, lambda: (lambda m: (m, lab.evaluate(m, X, y)))(lab.edited(model, edits)))

    with view:
        w, bias = lab.unit(model, layer, unit)
        top = for_model(model, ("lab_top", layer), lambda: lab.top_images(model, X, layer, 9))[unit]
        fired = lab.layer_activations(model, X[top], layer)[:, unit]
        left, middle, right = st.columns([1.1, 0.8, 1.1])
        shape = " (28 × 28)" if len(w) == 784 else ""
        left.plotly_chart(figures.weight_image(w, f"unit {unit} of layer {layer}: its {len(w)} incoming "
                                                  f"weights{shape}"), width="stretch")
        right.plotly_chart(figures.digit_grid(data.x_test[idx[top]],
                                              [f"#{idx[i]}: {v:.2f}" for i, v in zip(top, fired)],
                                              title=f"The {len(top)} of {lab.SUBSET:,} test images it fires "
                                                    "most for"), width="stretch")
        new_bias = lab.unit(changed, layer, unit)[1]
        middle.metric("Bias", f"{new_bias:.3f}", None if new_bias == bias else f"{new_bias - bias:+.3f}",
                      help=f"Originally {bias:.3f}.")
        now, then = lab.activation(model, x, layer, unit), lab.activation(changed, x, layer, unit)
        middle.metric("Activation on the input above", f"{then:.3f}", None if now == then else f"{then - now:+.3f}",
                      help=f"For {caption}; originally {now:.3f}.")
        p_now, p_then = (m.predict_proba(x.reshape(1, -1))[0] for m in (model, changed))
        middle.metric("Its answer", f"{data.classes[p_then.argmax()]} ({p_then.max():.0%})",
                      help=f"Originally {data.classes[p_now.argmax()]} ({p_now.max():.0%}).")

    st.markdown(f"**On {lab.SUBSET:,} test images:** original and edited network")
    for col, name, field, fmt, colour in zip(st.columns(3), ("Accuracy", "Mean confidence", "Loss"),
                                             lab.Scores._fields, (pct, pct, "{:.4f}".format),
                                             ("normal", "normal", "inverse")):
        old, new = getattr(before, field), getattr(after, field)
        col.metric(f"{name}, original", fmt(old))
        col.metric(f"{name}, edited", fmt(new), None if new == old else
                   (f"{(new - old) * 100:+.1f} points" if fmt is pct else f"{new - old:+.4f}"), delta_color=colour)
    if edits.units:
        st.markdown("**Edited units**")
        for u in edits.units:
            t, r = st.columns([4, 1])
            t.text(str(u))
            r.button("Remove", key=f"lab_remove_{u.layer}_{u.unit}", on_click=remove_edit, args=(u.layer, u.unit))
    st.caption(f"Edits: {edits.describe()}.")
    e1, e2, _ = st.columns([1, 1, 3])
    e1.button("Reset", key="lab_reset", on_click=reset_edits, disabled=edits.empty,
              help="Drop every edit: the original network, exactly.")
    if e2.button("Save as a run", key="lab_save", disabled=edits.empty,
                 help="File the edited network in your runs: Compare runs shows it beside the others and "
                      "can make it the current model."):
        with st.spinner("Measuring the edited network on the whole test set"):
            run = save_edited_run(model, edits, data)
        st.success(f"Saved as {literal(run.label, 120)}. Compare runs shows it, and can make it the current model.")


with st.container(key="neuron_lab"):
    st.subheader("Neuron lab")
    neuron_lab(model, x, caption)


# ----------------------------------------------------------------------------
# a map of each layer: 2,000 test images on the layer's two principal axes


@st.fragment
def layer_map(model):
    ss = st.session_state
    idx = lab.subset(data.y_test)
    y = data.y_test[idx]
    maps, predictions = for_model(model, "maps", lambda: analysis.layer_maps(model, to_float(data.x_test[idx]), y))
    names = [m.name for m in maps]
    if ss.get("map_layer") not in names:
        ss.pop("map_layer", None)
    st.caption(f"Each dot is one of the same {len(y):,} test images, placed along the two directions in which the "
               "chosen layer's values differ most (PCA). The colour is its class, a cross a mistake of the "
               "network. Hover a dot to see its image; click a class in the legend to hide it. From the input "
               "pixels to the last hidden layer, the classes should move apart.")
    name = st.radio("Layer", names, horizontal=True, key="map_layer")
    m, called = maps[names.index(name)], f"the {name}" if name == "input pixels" else name
    fig = figures.layer_map(m.points, y, predictions, idx, figures.text_art(data.x_test[idx]), data.classes,
                            f"Map of {called}")
    st.plotly_chart(fig, width="stretch")
    wrong = int((predictions != y).sum())
    st.caption(f"The two axes hold {m.explained[0]:.0%} and {m.explained[1]:.0%} of the variance of {called}; "
               f"{m.separation:.0%} of the images lie nearer to their own class's centre in this map than to any "
               f"other. The network gets {wrong:,} of the {len(y):,} wrong.")
    st.plotly_chart(figures.separation([mp.separation for mp in maps], names,
                                       "Nearest their own class centre, layer by layer"), width="stretch")


with st.container(key="layer_map"):
    st.subheader("Map of a layer")
    layer_map(model)


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
