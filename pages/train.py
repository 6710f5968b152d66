"""Train: choose the network and how to train it, then watch the curves grow, and act on the
training while it runs: change its rate and other settings, pause it, step it, slow it down, look
inside its layers, and follow the hints."""
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from mlp import PRESETS, plan
from mlp.analysis import network_view
from mlp.augment import LEVELS, describe
from mlp.config import KNOB, KNOBS, distortion_level
from mlp.diagnostics import weight_histograms
from mlp.hints import hints
from mlp.preprocess import to_float
from mlp.train import LIVE
from playground import server, session
from playground.diagram import network_diagram
from playground.figures import layer_diagnostics, training_curves
from playground.figures import weight_histograms as weight_histograms_figure
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
    live_change()


def live_change():
    """Pass the settings that may change during a run (mlp.train.LIVE) to this tab's model: from its
    next update while it trains, else when it is continued. During a run a refused value goes back
    to the run's, with the reason."""
    ss, trainer = st.session_state, st.session_state.get("trainer")
    if trainer is None:
        return
    wanted = train_config(ss)
    problems = session.change_settings({field: getattr(wanted, field) for field in LIVE})
    if problems and session.in_run():
        ss.update({field: KNOB[field].offer(getattr(trainer.requested, field)) for field in LIVE})
        ss.live_problems = problems


def apply_fix(fix):
    """A hint's Apply: set its settings in the widgets and pass them to the model."""
    ss = st.session_state
    for field, value in fix.items():
        ss[field] = KNOB[field].offer(value)
    ss.distort = distortion_level(train_config(ss))
    problems = session.change_settings(fix)
    ss.live_problems = problems or None
    ss.applied = ", ".join(f"{KNOB[f].label.lower()} {KNOB[f].text(KNOB[f].offer(v))}" for f, v in fix.items())


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
    """Draw the widget of one knob (mlp.config.KNOBS), offering what this server allows. During a
    run, the settings of `LIVE` change the run from its next update; the others stay as they are."""
    ss, offered = st.session_state, LIMITS.offered(knob)
    live = knob.name in LIVE
    fixed = RUNNING and not live
    help = knob.help + (" Changes the run from its next update." if live else
                        " Fixed during a run: it makes the network what it is." if fixed else "")
    common = dict(help=help, disabled=fixed, on_change=live_change if live else None)
    if knob.widget == "layers":
        st.slider("Hidden layers", 1, LIMITS.max_layers, key="n_hidden", **common)
        for i in range(ss.n_hidden):
            ss.setdefault(f"layer_{i}", max(n for n in offered if n <= 64 or n == offered[0]))
            st.select_slider(f"{knob.label} {i + 1}", offered, key=f"layer_{i}", **common)
    elif knob.widget == "steps":
        st.select_slider(knob.label, offered, key=knob.name, format_func=knob.show, **common)
    elif knob.widget == "choice":
        st.radio(knob.label, offered, key=knob.name, horizontal=True, **common)
    elif knob.widget == "range":
        step = round(offered[1] - offered[0], 9)
        st.slider(knob.label, offered[0], offered[-1], step=step, key=knob.name, format=knob.fmt, **common)
    elif knob.widget == "number":
        st.number_input(knob.label, int(knob.bounds.lo), int(knob.bounds.hi), key=knob.name, **common)
    elif knob.widget == "count":  # epochs, or full-batch iterations, up to the server's cap
        counts = unit(ss.batch_size)
        ss.max_iter = min(ss.max_iter, LIMITS.cap(counts))
        common.update(help=knob.help + (" During a run, add more with **+1 epoch**." if RUNNING else ""))
        st.slider(counts.title(), 1, LIMITS.cap(counts), key=knob.name, **common)


def settings_form():
    """Draw the settings widgets; return the TrainConfig they describe."""
    st.selectbox("Preset", LIMITS.presets(), key="preset", on_change=apply_preset, disabled=RUNNING,
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
RUNNING = session.in_run()  # waiting, training or paused: only the settings of LIVE may change
problems = st.session_state.pop("query_problems", None)
if problems:
    st.warning("The link held values that are not allowed here, so their defaults are used: "
               + ", ".join(literal(p) for p in problems))
data = dataset()
left, right = st.columns([1, 2.4], gap="large")
with left:
    config = settings_form()
    st.session_state.train_settings = {key: st.session_state[key] for key in widget_keys(st.session_state)}
    # mirror the settings in the address bar, so that a copied link opens the same settings; during
    # a run, the settings it started with (its changes are in its export on the Compare page)
    trainer = st.session_state.get("trainer")
    started = RUNNING and trainer is not None
    shared = to_query({**widget_values(trainer.start_config, LIMITS), "preset": st.session_state.preset}
                      if started else st.session_state.train_settings)
    for key, value in shared.items():
        st.query_params[key] = value
    with st.expander("Share these settings"):
        st.caption("Anyone who opens this link gets " + ("the settings this run started with" if started else
                                                         "the same settings") + " (not your model).")
        st.code(f"{(st.context.url or '').split('?')[0]}?{urlencode(shared)}", language=None)


VIEWS = ("Curves", "Layers", "Network")


def region(status):
    """The job's progress, hints and curves (or its layers, or the network), redrawn while it waits or trains."""
    whole_page = st.session_state.pop("page_ran", False)  # else the live region reruns on its own
    # one container for the state, whatever lines it holds: the curves below keep their place when
    # the run ends and its outcome line comes, so they are not mounted afresh (blank for a moment)
    with st.container(key="train_state"):
        if status is None:
            st.info("No model yet: choose settings on the left and press **Train**.")
        elif status.state == "queued":
            st.warning(queue_text(status))
            if status.queue_error:
                st.error(status.queue_error)
        elif status.history:
            st.progress(status.done, text=progress_text(status))
        else:
            st.progress(0.0, text="Starting…")
        said = outcome(status) if status is not None else None
        if said is not None:
            getattr(st, said[0])(said[1])
    if status is None or not (status.history or status.state == "diverged"):
        return
    # one container, always there, whatever hints it holds: what follows keeps its place, and the
    # live chart below is not mounted afresh (and blank for a moment) when a hint comes or goes
    with st.container(key="train_hints"):
        show_hints(status, whole_page)
    if not status.history:
        return
    view = st.segmented_control("Show", VIEWS, key="train_view", default=VIEWS[0], label_visibility="collapsed")
    if view == "Layers":
        layers_view(status)
    elif view == "Network":
        network_view_region(status)
    else:  # the last live chart stays underneath the final one until that has drawn
        live_chart(training_curves(list(status.history), changes=status.changes), "live_curves", run=status.run)


def show_hints(status, whole_page):
    """What the run's state suggests, each with why and a one-click fix (which redraws the whole
    page, so that the settings on the left show the new values)."""
    trainer = st.session_state.trainer
    found = hints(list(status.history), list(status.diagnostics), trainer.requested,
                  diverged=status.state == "diverged", changes=status.changes)
    for hint in found[:3]:
        getattr(st, hint.level)(hint.text)
        why, fix = st.columns([1.6, 1], vertical_alignment="top")
        with why.expander("Why?"):
            st.text(hint.why)
        if hint.fix and fix.button(hint.fix_label, key=f"hint_{hint.key}", on_click=apply_fix, args=(hint.fix,),
                                   icon=":material/build:", width="stretch") and not whole_page:
            st.rerun()


def layers_view(status):
    """How each layer trains: small multiples over time, and the weights against their start."""
    if not status.diagnostics:
        st.caption("The layers are measured every few updates; the first measurement comes soon.")
        return
    fig = layer_diagnostics(list(status.diagnostics), list(status.history), status.changes)
    if status.alive:
        live_chart(fig, "live_layers", run=status.run)
    else:
        st.plotly_chart(fig, width="stretch")
    last = status.diagnostics[-1]
    st.caption(f"Measured every few updates, last at update {last.step:,}. Update / weight: how far one update "
               "moves a layer's weights, against their size; about 1e-3 (the green band spans 1e-4 to 1e-2) "
               "is healthy. Drift: how far the weights have moved from where they started. Dead ReLUs: units "
               "that gave 0 for every image of a batch, and so learn nothing from it.")
    trainer = st.session_state.trainer
    if st.toggle("Weights now and at the start", key="train_weights"):
        st.plotly_chart(weight_histograms_figure(weight_histograms(trainer.snapshot, trainer.start_params)),
                        width="stretch")


def network_view_region(status):
    """The network for one input, coloured by activation, at the latest weights."""
    data, ss = dataset(), st.session_state
    sources = ["a test image"] + (["your drawing"] if ss.get("drawing") is not None else [])
    left, right = st.columns([1.2, 1])
    source = left.radio("Input", sources, key="net_input", horizontal=True)
    if source == "your drawing":
        x = np.asarray(ss.drawing, dtype=np.float32).reshape(-1)
        label = None
    else:
        i = right.number_input("Test image", 0, len(data.y_test) - 1, key="net_image")
        x, label = to_float(data.x_test[i].reshape(1, -1))[0], data.classes[data.y_test[i]]
    view = network_view(ss.trainer.snapshot, x)
    title = f"update {status.snapshot_step:,}" + ("" if label is None else f" · true class: {label}")
    fig = network_diagram(view, data.classes, title=title)
    if status.alive:
        live_chart(fig, "live_network", run=status.run)
    else:
        st.plotly_chart(fig, width="stretch")
    st.caption("Each column is a layer; a circle's colour is its unit's activation for this input. Lines are the "
               "strongest contributions (activation x weight) into the next layer: red adds, blue subtracts. "
               "Big layers show their most active units.")


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
    if b3.button("Stop training", disabled=not session.in_run(), key="stop",
                 help="Stop after the current update"):
        session.stop_training()
        st.rerun()  # redraw the buttons: Train and Continue live again, Stop greyed out
    trainer, paused, training = st.session_state.get("trainer"), session.paused(), session.training()
    going = trainer is not None and not trainer.done
    p1, p2, p3, p4 = st.columns([1, 1, 1, 2.2], vertical_alignment="bottom")
    if paused:
        if p1.button("Resume", key="resume", icon=":material/play_arrow:", help="Go on training at the chosen speed"):
            if session.resume(data):
                st.rerun()
    elif p1.button("Pause", key="pause", disabled=not training, icon=":material/pause:",
                   help="Pause after the current update; Resume or Step go on from there"):
        session.pause()
        st.rerun()
    if p2.button("Step", key="step", disabled=not going, icon=":material/skip_next:",
                 help="Train one mini-batch, then pause: the curves, Layers and Network show that update"):
        if session.resume(data, steps=1):
            st.rerun()
    if p3.button("+1 epoch", key="add_epoch", disabled=trainer is None,
                 help="One more pass over the training set (full batch: one more update)"):
        if session.add_epochs(data):
            st.rerun()
    st.session_state.setdefault("speed", "full")
    p4.select_slider("Speed (updates a second)", list(session.SPEEDS), key="speed",
                     on_change=lambda: session.set_speed(st.session_state.speed),
                     help="Slow motion: train at 1, 5 or 20 updates a second, with the curves, the layers and the "
                          "network redrawn after each update, so that you can follow them by eye.")
    for problem in st.session_state.pop("live_problems", None) or []:
        st.error(f"Not changed: {problem}.")
    applied = st.session_state.pop("applied", None)
    if applied:
        st.success(f"Set {applied}" + (": the run takes it from its next update." if session.in_run()
                                       else ": the next run or Continue takes it."))
    st.session_state.page_ran = True
    follow(region, every=0.5)
