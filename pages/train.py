"""Train: choose the network and how to train it, then watch the curves grow."""
from urllib.parse import urlencode

import streamlit as st

from mlp import PRESETS, plan
from mlp.augment import LEVELS, describe
from mlp.config import KNOBS, distortion_level
from playground import server, session
from playground.figures import training_curves
from playground.frame import through_app
from playground.link import (distortion_values, from_query, to_query, train_config, unit, widget_keys,
                             widget_values)
from playground.live import follow, live_chart, outcome, progress_text, queue_text
from playground.server import dataset
from playground.text import literal

through_app()  # before any state is touched: a first deep link reruns inside app.py
LIMITS = server.limits()


def apply_preset():
    """Copy the chosen preset into the widgets."""
    st.session_state.update(widget_values(PRESETS[st.session_state.preset], LIMITS))


def apply_level():
    """Copy the chosen level of distortion into its sliders (under More settings)."""
    level = st.session_state.distort
    if level in LEVELS:
        st.session_state.update(distortion_values(level))


# Streamlit forgets the widgets' values while another page is open: bring back the saved ones
for key, value in st.session_state.get("train_settings", {}).items():
    st.session_state.setdefault(key, value)
if "n_hidden" not in st.session_state:
    st.session_state.preset = "fast"
    apply_preset()
# a shared link: its query parameters set the widgets, once per tab (later, the address only
# echoes what this page wrote, and a quick rerun may still carry an older echo)
if "link_applied" not in st.session_state:
    st.session_state.link_applied = True
    query = st.query_params.to_dict()
    if query:
        values, problems = from_query(query, LIMITS)
        st.session_state.update(values)
        st.session_state.query_problems = problems


def knob_widget(knob):
    """Draw the widget of one knob (mlp.config.KNOBS), offering what this server allows."""
    ss, offered = st.session_state, LIMITS.offered(knob)
    if knob.widget == "layers":
        st.slider("Hidden layers", 1, LIMITS.max_layers, key="n_hidden", help=knob.help)
        for i in range(ss.n_hidden):
            ss.setdefault(f"layer_{i}", max(n for n in offered if n <= 64 or n == offered[0]))
            st.select_slider(f"{knob.label} {i + 1}", offered, key=f"layer_{i}", help=knob.help)
    elif knob.widget == "steps":
        st.select_slider(knob.label, offered, key=knob.name, help=knob.help, format_func=knob.show)
    elif knob.widget == "choice":
        st.radio(knob.label, offered, key=knob.name, horizontal=True, help=knob.help)
    elif knob.widget == "range":
        step = round(offered[1] - offered[0], 9)
        st.slider(knob.label, offered[0], offered[-1], step=step, key=knob.name, help=knob.help,
                  format=knob.fmt)
    elif knob.widget == "number":
        st.number_input(knob.label, int(knob.bounds.lo), int(knob.bounds.hi), key=knob.name, help=knob.help)
    elif knob.widget == "count":  # epochs, or full-batch iterations, up to the server's cap
        counts = unit(ss.batch_size)
        ss.max_iter = min(ss.max_iter, LIMITS.cap(counts))
        st.slider(counts.title(), 1, LIMITS.cap(counts), key=knob.name, help=knob.help)


def settings_form():
    """Draw the settings widgets; return the TrainConfig they describe."""
    st.selectbox("Preset", LIMITS.presets(), key="preset", on_change=apply_preset,
                 help="notebook: the original full-batch gradient descent. fast: the same network "
                      "trained with Adam on mini-batches. handwriting: trained on distorted digits, to "
                      "read people's drawings. best: a wider network with dropout and distortions. "
                      "record: the best this network can do, for a long run.")
    for knob in KNOBS:
        if not knob.more:
            knob_widget(knob)
    level = st.session_state.distort = distortion_level(train_config(st.session_state))
    st.radio("Distort training images", [*LEVELS, *(["custom"] if level == "custom" else [])], key="distort",
             horizontal=True, on_change=apply_level,
             help="Show the network its training images turned, slanted, shifted, thicker or thinner "
                  "and bent, a fresh draw at every update, so that it learns digits as people write "
                  "them. " + " ".join(f"{name.title()}: {describe(d)}." for name, d in LEVELS.items()
                                      if not d.identity) + " Each distortion has its own slider under "
                  "More settings; see them on the Gallery page.")
    with st.expander("More settings"):
        for knob in KNOBS:
            if knob.more:
                knob_widget(knob)
    return train_config(st.session_state)


st.title("Train")
problems = st.session_state.pop("query_problems", None)
if problems:
    st.warning("The link held values that are not allowed here, so their defaults are used: "
               + ", ".join(literal(p) for p in problems))
data = dataset()
left, right = st.columns([1, 2.4], gap="large")
with left:
    config = settings_form()
    st.session_state.train_settings = {key: st.session_state[key] for key in widget_keys(st.session_state)}
    # mirror the settings in the address bar, so that a copied link opens the same settings
    shared = to_query(st.session_state.train_settings)
    for key, value in shared.items():
        st.query_params[key] = value
    with st.expander("Share these settings"):
        st.caption("Anyone who opens this link gets the same settings (not your model).")
        st.code(f"{(st.context.url or '').split('?')[0]}?{urlencode(shared)}", language=None)


def region(status):
    """The job's progress, curves and outcome, redrawn while it waits or trains."""
    if status is None:
        st.info("No model yet: choose settings on the left and press **Train**.")
    elif status.state == "queued":
        st.warning(queue_text(status))
    elif status.history:
        st.progress(status.done, text=progress_text(status))
        if status.alive:
            live_chart(training_curves(list(status.history)), "live_curves", run=status.run)
        else:
            st.plotly_chart(training_curves(list(status.history)), width="stretch")
    else:
        st.progress(0.0, text="Starting…")
    said = outcome(status) if status is not None else None
    if said is not None:
        getattr(st, said[0])(said[1])


with right:
    n_train = config.train_size or len(data.y_train)
    p = plan(config, n_train)
    seconds = p.seconds * server.slots().pace  # as fast as jobs ran here so far
    st.markdown(f"**Network** {' → '.join(map(str, [784, *config.hidden_layer_sizes, 10]))} · "
                f"**{p.n_params:,} parameters** · "
                f"{'under **1 s**' if seconds < 1 else f'about **{seconds:.0f} s**'} "
                f"to train on {n_train:,} images")
    b1, b2, b3, _ = st.columns([1, 1.3, 1, 1.5])
    if b1.button("Train", type="primary", disabled=session.training(), key="train",
                 help="Start a new model with these settings"):
        if session.start_training(config, data):
            st.rerun()  # redraw the buttons: Train and Continue greyed out, Stop live
    more, what = session.continue_by(config)
    if b2.button(f"Continue +{more} {what}{'s' if more > 1 else ''}", disabled=not session.can_continue(),
                 key="continue", help="Train the current model further, keeping its weights"):
        if session.start_training(config, data, continue_epochs=more):
            st.rerun()
    if b3.button("Stop training", disabled=not session.training(), key="stop",
                 help="Stop after the current update"):
        session.stop_training()
        st.rerun()  # redraw the buttons: Train and Continue live again, Stop greyed out
    follow(region, every=0.5)
