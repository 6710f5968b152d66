"""Backprop: one example through the network and back, stage by stage, with every number; then one
gradient step on it, and Undo."""
import random

import numpy as np
import streamlit as st

from mlp import analysis, explain
from mlp.preprocess import to_float
from playground import backprop as fig
from playground import figures
from playground.server import dataset
from playground.session import require_model, training
from playground.stepper import Stepper

RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)

st.title("Backprop")
st.caption("One example, forward through the network and backward again: the numbers that training "
           "computes for it, one stage at a time. Every number comes from the same forward and backward "
           "pass that training runs.")
data = dataset()
ss = st.session_state
classes = data.classes
trained = require_model(data)
if not isinstance(ss.get("bp_stepper"), Stepper) or ss.bp_stepper.base is not trained:
    ss.bp_stepper = Stepper(trained)  # a new current model: the steps taken by hand start again
stepper = ss.bp_stepper
model = stepper.model
sizes = model.layer_sizes
L = len(sizes) - 1


def bounded(key, n, default):
    """The session value of a number input of 0..n-1, put back in range (the model may have changed)."""
    value = ss.get(key, default)
    ss[key] = int(min(max(value if isinstance(value, int) else default, 0), n - 1))


# ----------------------------------------------------------------------------
# the example

drawing = ss.get("drawing")
a, b, c = st.columns([1.2, 1, 1.6])
source = a.radio("Example", ["A test image"] + (["My drawing"] if drawing is not None else []), key="bp_source",
                 help="Draw a digit on the Draw page to follow it here.")
if source == "My drawing":
    x = drawing.reshape(-1)
    guess = int(trained.predict(x[None])[0])
    bounded("bp_label", len(classes), guess)
    label = b.selectbox("Its true label", range(len(classes)), format_func=lambda k: str(classes[k]), key="bp_label")
    shown = "your drawing"
else:
    if "bp_index" not in ss or a.button("A test image it gets wrong", key="bp_mistake",
                                        help="A mistake has a large loss, so its gradients are large too."):
        seed = random.randrange(2**31) if "bp_index" in ss else 0  # the first visit: the same image each time
        found, _ = analysis.mistakes(trained, data.x_test, data.y_test, 1, seed=seed)
        ss.bp_index = int(found[0]) if len(found) else ss.get("bp_index", 0)
    bounded("bp_index", len(data.y_test), 0)
    i = b.number_input("Test image", 0, len(data.y_test) - 1, key="bp_index")
    x, label = to_float(data.x_test[i:i + 1])[0], int(data.y_test[i])
    shown = f"test image {i}, a {classes[label]}"
b.image(analysis.upscale(np.asarray(x).reshape(28, 28), 3), caption=shown, clamp=True)
t = explain.trace(model, x, label)
best = int(t.proba.argmax())
c.markdown(f"The network says **{classes[best]}** ({t.proba[best]:.1%}); the true label is "
           f"**{classes[label]}** ({t.proba[label]:.1%}). Loss on this example: **{t.loss:.4g}**.")
if training():
    c.caption("A training is running: these are its latest weights. Open the page again for newer ones; "
              "steps taken by hand start again from them.")
elif len(stepper):
    c.caption(f"These are the weights after {len(stepper)} step{'s' * (len(stepper) > 1)} taken by hand "
              "(see the last stage); the tab's model itself is unchanged.")

# ----------------------------------------------------------------------------
# where we are

stages = explain.stages(sizes)
ss.setdefault("bp_stage", 0)
ss.bp_stage = min(max(int(ss.bp_stage), 0), len(stages) - 1)


def move(by):
    ss.bp_stage = min(max(ss.bp_stage + by, 0), len(stages) - 1)


stage = stages[ss.bp_stage]
a, b, c = st.columns([1, 6, 1], vertical_alignment="center")
a.button("Previous", key="bp_prev", on_click=move, args=(-1,), disabled=ss.bp_stage == 0, width="stretch")
b.markdown(f"**Stage {ss.bp_stage + 1} of {len(stages)}: {stage.title}**")
c.button("Next", key="bp_next", on_click=move, args=(1,), disabled=ss.bp_stage == len(stages) - 1,
         type="primary", width="stretch")
st.plotly_chart(fig.stage_diagram(sizes, stage), width="stretch", key="bp_diagram",
                config={"displayModeBar": False})


def pick_unit(layer, default, what="Unit"):
    key = f"bp_unit_{layer}"
    bounded(key, sizes[layer], default)
    return st.columns([1, 2])[0].number_input(
        f"{what} of layer {layer} to follow (0 to {sizes[layer] - 1})", 0, sizes[layer] - 1, key=key,
        help="Its formula is shown with its numbers, and it is outlined in the strips. It starts at the "
             "unit with the largest value.")


def pick_class(default):
    bounded("bp_class", len(classes), default)
    return st.columns([1, 2])[0].selectbox("Class to follow", range(len(classes)),
                                           format_func=lambda k: str(classes[k]), key="bp_class")


def check(layer, i, j):
    """The numeric check of dL/dW[layer][i, j]: backprop next to a finite difference."""
    ck = explain.gradient_check(model, x, label, layer, i, j)
    st.markdown(f"**Check by finite difference** of the weight w<sub>{i},{j}</sub> of layer {layer}: nudge it by "
                f"±{ck.eps:g}, run the example forward twice, and divide the change in loss by {2 * ck.eps:g}.",
                unsafe_allow_html=True)
    st.dataframe([{"backprop (float32, as training)": f"{ck.backprop:.8g}",
                   "backprop (float64)": f"{ck.backprop64:.10g}",
                   "finite difference (float64)": f"{ck.numeric:.10g}",
                   "relative difference": f"{ck.relative:.1e}"}], hide_index=True, key=f"bp_check_{layer}")
    if ck.backprop64 == 0:
        st.caption("This gradient is 0: the weight's input is 0 for this example, or its unit is off "
                   "(a ReLU at 0 passes no gradient back). Pick another unit to see a non-zero one.")


def strips(*named, picked=None):
    for title, values, diverging in named:
        st.plotly_chart(fig.strip(values, title, picked, diverging), width="stretch",
                        key=f"bp_strip_{title.split(':')[0]}")


# ----------------------------------------------------------------------------
# the stage

kind, layer = stage.kind, stage.layer
if kind == "input":
    st.markdown(f"The image is {sizes[0]} numbers, a row **x** = A<sub>0</sub>, from 0 (black) to 1 (white). "
                f"The label says it is a **{classes[label]}**: as a one-hot row **Y**, a 1 at class {label} "
                "and 0 elsewhere.", unsafe_allow_html=True)
    a, b = st.columns([1, 2])
    a.image(analysis.upscale(np.asarray(x).reshape(28, 28), 8), caption="x, 28 × 28", clamp=True)
    with b:
        strips((f"x: {sizes[0]} pixels, row by row", t.A[0], False))

elif kind in ("forward", "logits"):
    j = pick_unit(layer, int(np.argmax(t.A[layer] if kind == "forward" else t.Z[-1])),
                  "Unit" if kind == "forward" else "Class (output unit)")
    s = explain.forward_sum(t, model, layer, j)
    n_in = sizes[layer - 1]
    st.markdown(f"Each of the {sizes[layer]:,} units adds up its {n_in:,} inputs, each times its weight, plus "
                f"a bias: for all units at once, the row A<sub>{layer - 1}</sub> (1 × {n_in:,}) times W<sub>"
                f"{layer}</sub> ({n_in:,} × {sizes[layer]:,}) plus b. Unit {j}, its largest terms first:",
                unsafe_allow_html=True)
    st.latex(fig.sum_latex(s, f"z_{{{j}}}", rf"\sum_{{k}} a_k\, w_{{k,{j}}} + b_{{{j}}}"))
    if kind == "forward":
        z, out = float(t.Z[layer - 1][j]), float(t.A[layer][j])
        rule = fig.ACTIVATION[model.activation].replace("z", fig.number(z))
        st.latex(rf"a_{{{j}}} = \operatorname{{{model.activation}}}(z_{{{j}}}) = {rule} = {fig.number(out)}")
        strips((f"Z of layer {layer}: {sizes[layer]:,} sums", t.Z[layer - 1], True),
               (f"A of layer {layer} = {model.activation}(Z)", t.A[layer], False), picked=j)
    else:
        st.caption("The output layer has no activation of its own: its sums, the logits, go to the softmax.")
        st.plotly_chart(figures.bars(t.Z[-1], classes, "logits z, one per class"), width="stretch",
                        key="bp_logits")

elif kind == "softmax":
    sm = explain.softmax_steps(t.Z[-1])
    k = pick_class(label)
    st.markdown("Three steps turn the logits into probabilities: subtract the largest logit (so that "
                "exp cannot overflow; it changes nothing else), take exp, divide by the sum.")
    st.latex(rf"p_{{{k}}} = \frac{{e^{{z_{{{k}}} - \max z}}}}{{\sum_i e^{{z_i - \max z}}}}"
             rf" = \frac{{e^{{{fig.number(sm.logits[k])} - {fig.number(sm.logits.max())}}}}}{{{fig.number(sm.total)}}}"
             rf" = \frac{{{fig.number(sm.exp[k])}}}{{{fig.number(sm.total)}}} = {fig.number(sm.proba[k])}")
    st.dataframe([{"class": str(classes[i]), "z": float(sm.logits[i]), "z - max z": float(sm.shifted[i]),
                   "exp(z - max z)": float(sm.exp[i]), "p = exp / sum": float(sm.proba[i])}
                  for i in range(len(classes))], hide_index=True, key="bp_softmax",
                 column_config={"p = exp / sum": st.column_config.NumberColumn(format="%.4f")})
    st.caption(f"The exps sum to {sm.total:.4g}; the probabilities sum to 1.")

elif kind == "loss":
    p = float(t.proba[label])
    st.markdown("The loss is the cross-entropy: minus the log of the probability given to the true class. "
                "It is 0 when the network is sure and right, and grows without bound as that probability goes to 0.")
    st.latex(rf"L = -\log p_{{y}} = -\log p_{{{label}}} = -\log {fig.number(p)} = {fig.number(t.loss)}")
    a, b, c = st.columns(3)
    a.metric("Loss on this example", f"{t.loss:.4g}")
    b.metric("A uniform guess", f"{np.log(len(classes)):.4f}", help="-log(1/10): every class at 10 %.")
    c.metric(f"Probability of the true class ({classes[label]})", f"{p:.2%}")

elif kind == "output":
    k = pick_class(label)
    delta = t.delta(L)
    st.markdown("Backpropagation starts at the output. For softmax followed by cross-entropy, the gradient of "
                "the loss with respect to the logits is simply **P − Y**: the probabilities, minus 1 at the true "
                "class. This is the output layer's delta.")
    st.latex(rf"\delta_{{{k}}} = \frac{{\partial L}}{{\partial z_{{{k}}}}} = p_{{{k}}} - y_{{{k}}} = "
             rf"{fig.number(float(t.proba[k]))} - {int(k == label)} = {fig.number(float(delta[k]))}")
    a, b = st.columns(2)
    a.plotly_chart(fig.signed_bars(delta, classes, "δ = P − Y at the output"), width="stretch", key="bp_delta_out")
    i = int(explain.strongest(t.A[L - 1], 1)[0])
    with b:
        st.markdown(f"The weights' gradient is dW = A<sub>{L - 1}</sub><sup>T</sup> δ: for one example, "
                    f"dW<sub>i,j</sub> = a<sub>i</sub> δ<sub>j</sub>, and db = δ.", unsafe_allow_html=True)
        st.latex(rf"\frac{{\partial L}}{{\partial w_{{{i},{k}}}}} = a_{{{i}}}\, \delta_{{{k}}} = "
                 rf"{fig.number(float(t.A[L - 1][i]))} \cdot {fig.number(float(delta[k]))} = "
                 rf"{fig.number(float(t.dW[L - 1][i, k]))}")
    st.plotly_chart(fig.weight_push(t.dW[L - 1], t.A[L - 1], delta), width="stretch", key="bp_push_out")
    check(L, i, k)

elif kind == "backward":
    j = pick_unit(layer, int(explain.strongest(t.delta(layer), 1)[0]))
    s = explain.backward_sum(t, model, layer, j)
    up, slope, delta = t.upstream(layer), t.slope(layer), t.delta(layer)
    st.markdown(f"Layer {layer + 1}'s deltas go back through its weights to layer {layer}'s activations, then "
                f"through the activation by the chain rule: δ<sub>{layer}</sub> = (W<sub>{layer + 1}</sub> "
                f"δ<sub>{layer + 1}</sub>) ⊙ f'(Z<sub>{layer}</sub>). Unit {j}:", unsafe_allow_html=True)
    st.latex(fig.sum_latex(s, rf"\frac{{\partial L}}{{\partial a_{{{j}}}}}", rf"\sum_m \delta_m\, w_{{{j},m}}"))
    z = float(t.Z[layer - 1][j])
    rule = fig.SLOPE[model.activation].replace("z", fig.number(z)).replace("a", fig.number(float(t.A[layer][j])))
    st.latex(rf"f'(z_{{{j}}}) = {rule} = {fig.number(float(slope[j]))}, \qquad "
             rf"\delta_{{{j}}} = \frac{{\partial L}}{{\partial a_{{{j}}}}} \cdot f'(z_{{{j}}}) = "
             rf"{fig.number(float(up[j]))} \cdot {fig.number(float(slope[j]))} = {fig.number(float(delta[j]))}")
    strips((f"dL/dA of layer {layer}: what layer {layer + 1} sends back", up, True),
           (f"f'(Z) of layer {layer}: the activation's slope", slope, False),
           (f"δ of layer {layer} = dL/dA ⊙ f'(Z)", delta, True), picked=j)
    i = int(explain.strongest(t.A[layer - 1], 1)[0])
    what = "pixel" if layer == 1 else "input"
    st.markdown(f"Its weights' gradient: dW<sub>i,{j}</sub> = a<sub>i</sub> δ<sub>{j}</sub> for every {what} i "
                f"(here the {'brightest pixel' if layer == 1 else 'most active input'}, {i}), and db<sub>{j}</sub> = "
                f"δ<sub>{j}</sub> = {delta[j]:.4g}.", unsafe_allow_html=True)
    if layer == 1:
        st.caption("Where this one example pushes each unit's weights: the step adds −lr dW, so red pixels' "
                   "weights go up and blue ones go down. Each tile is the image itself times the unit's −δ.")
        st.plotly_chart(fig.first_layer_push(t.dW[0], delta), width="stretch", key="bp_push_first")
    else:
        st.plotly_chart(fig.weight_push(t.dW[layer - 1], t.A[layer - 1], delta), width="stretch",
                        key=f"bp_push_{layer}")
    check(layer, i, j)

else:  # one gradient step
    st.markdown("Gradient descent moves every weight against its gradient: **W ← W − lr dW** and "
                "**b ← b − lr db**, with the dW and db of the stages before. Apply one step on this example "
                "alone and see what it does to its probabilities.")
    a, b, c = st.columns([2, 1, 1], vertical_alignment="bottom")
    lr = a.select_slider("Learning rate", RATES, value=0.01, key="bp_lr")
    if b.button("Apply one step", key="bp_apply", type="primary", width="stretch"):
        try:
            stepper.apply(x, label, lr)
            st.rerun()
        except ValueError as e:
            st.error(str(e))
    if c.button("Undo", key="bp_undo", disabled=not len(stepper), width="stretch"):
        stepper.undo()
        st.rerun()
    done = stepper.last
    if done is None:
        st.info(f"{len(stepper)} step{'s' * (len(stepper) != 1)} taken. Apply one to compare the probabilities "
                "before and after.")
    else:
        a, b, c = st.columns(3)
        a.metric("Loss on this example", f"{done.after.loss:.4g}", f"{-done.loss_drop:+.3g}", delta_color="inverse",
                 help="After the step, and how much it changed.")
        b.metric(f"Probability of {classes[done.before.label]}", f"{done.after.proba[done.before.label]:.2%}",
                 f"{done.after.proba[done.before.label] - done.before.proba[done.before.label]:+.2%}")
        c.metric("Steps taken by hand", len(stepper))
        st.markdown(f"step: loss {done.before.loss:.4g} → {done.after.loss:.4g} "
                    f"({'down' if done.loss_drop > 0 else 'up'} by {abs(done.loss_drop):.3g}) at lr {done.lr:g}")
        st.plotly_chart(fig.before_after(done.before.proba, done.after.proba, classes, done.before.label),
                        width="stretch", key="bp_before_after")
        if done.loss_drop < 0:
            st.warning("The loss went up: the rate is too large for this example, and the step overshot.")
    st.caption("The steps change a copy: the tab's model, on the other pages, stays as it was.")
