"""Train: choose the network and how to train it, then watch the curves grow."""
from urllib.parse import urlencode

import streamlit as st

from mlp import PRESETS, plan
from mlp.config import KNOBS
from playground.figures import training_curves
from playground.link import from_query, to_query, train_config, unit, widget_keys, widget_values
from playground.text import literal
from pages.common import (current_job, dataset, live_chart, redraw_status_lines, server_limits, start_training,
                          through_app, training_slots)

through_app()  # before any state is touched: a first deep link reruns inside app.py
LIMITS = server_limits()


def apply_preset():
    """Copy the chosen preset into the widgets."""
    st.session_state.update(widget_values(PRESETS[st.session_state.preset], LIMITS))


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
        st.slider(knob.label, offered[0], offered[-1], step=step, key=knob.name, help=knob.help)
    elif knob.widget == "number":
        st.number_input(knob.label, int(knob.bounds.lo), int(knob.bounds.hi), key=knob.name, help=knob.help)
    elif knob.widget == "count":  # epochs, or full-batch iterations, up to the server's cap
        counts = unit(ss.batch_size)
        ss.max_iter = min(ss.max_iter, LIMITS.cap(counts))
        st.slider(counts.title(), 1, LIMITS.cap(counts), key=knob.name, help=knob.help)


def settings_form():
    """Draw the settings widgets; return the TrainConfig they describe."""
    st.selectbox("Preset", list(PRESETS), key="preset", on_change=apply_preset,
                 help="notebook: the original full-batch gradient descent. fast: the same network "
                      "trained with Adam on mini-batches. best: a wider network with dropout.")
    for knob in KNOBS:
        if not knob.more:
            knob_widget(knob)
    with st.expander("More settings"):
        for knob in KNOBS:
            if knob.more:
                knob_widget(knob)
    return train_config(st.session_state)


def queue_text(job):
    """Where a waiting job stands: "Queued: position 3 of 7, about 40 s. ..." """
    slots = job.slots
    pos, wait = slots.position(job), slots.wait_seconds(job)
    if pos is None:
        return "Queued: starting…"
    about = "" if wait is None else f", about {wait:.0f} s" if wait < 90 else f", about {wait / 60:.0f} min"
    many = "one model" if slots.limit == 1 else f"{slots.limit} models"
    return (f"Queued: position {pos[0]} of {pos[1]}{about}. This server trains {many} at a time, so "
            "yours starts by itself when its turn comes. Gallery, Draw and the other pages work meanwhile.")


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

job = current_job()
running = job is not None and job.alive
queued = running and job.state == "queued"
with right:
    n_train = config.train_size or len(data.y_train)
    sizes = [784, *config.hidden_layer_sizes, 10]
    p = plan(config, n_train)
    seconds = p.seconds * training_slots().pace  # as fast as jobs ran here so far
    st.markdown(f"**Network** {' → '.join(map(str, sizes))} · **{p.n_params:,} parameters** · "
                f"{'under **1 s**' if seconds < 1 else f'about **{seconds:.0f} s**'} to train on {n_train:,} images")
    b1, b2, b3, _ = st.columns([1, 1.3, 1, 1.5])
    if b1.button("Train", type="primary", disabled=running, key="train",
                 help="Start a new model with these settings"):
        if start_training(config, data):
            st.rerun()  # redraw the buttons: Train and Continue greyed out, Stop live
    trainer = st.session_state.get("trainer")
    more = 1 if config.batch_size is None else max(1, config.max_iter // 2)
    unit = "iteration" if config.batch_size is None else "epoch"
    if b2.button(f"Continue +{more} {unit}{'s' if more > 1 else ''}",
                 disabled=running or trainer is None, key="continue",
                 help="Train the current model further, keeping its weights"):
        if start_training(config, data, continue_epochs=more):
            st.rerun()
    if b3.button("Stop training", disabled=not running, key="stop", help="Stop after the current update"):
        job.stop()
        job.join(2.0)
        st.rerun()  # redraw the buttons: Train and Continue live again, Stop greyed out

    @st.fragment(run_every=(2.0 if queued else 0.5) if running else None)
    def live():
        """Redraw progress and curves from the job's history; rerun the page once the job ends."""
        redraw_status_lines()
        job = current_job()
        if job is None:
            st.info("No model yet: choose settings on the left and press **Train**.")
            return
        trainer = job.trainer
        history = list(trainer.history)
        done = trainer.step / max(trainer.total_steps, 1)
        if job.state == "queued":
            st.warning(queue_text(job))
        elif history:
            p = history[-1]
            eta = job.seconds_left()
            text = (f"{job.state}: update {trainer.step:,} of {trainer.total_steps:,} · epoch {p.epoch:.2f} · "
                    f"{p.samples_per_second:,.0f} images/s · test accuracy {p.test_accuracy:.2%}"
                    + (f" · about {eta:.0f} s left" if job.alive else f" · {p.elapsed:.1f} s of training"))
            st.progress(min(done, 1.0), text=text)
            if job.alive:
                live_chart(training_curves(history), "live_curves", run=trainer)
            else:
                st.plotly_chart(training_curves(history), width="stretch")
        else:
            st.progress(0.0, text="Starting…")
        if job.state == "diverged":
            st.error(job.message)
        elif job.state == "failed":
            st.error(job.message)
        elif job.state == "stopped" and history:
            st.info(f"{job.message + ' ' if job.message else ''}Stopped at update {trainer.step:,}. "
                    "Press **Continue** to train further.")
        elif job.state == "stopped":
            st.info(job.message)
        elif job.state == "finished" and history:
            st.success(f"Done: {history[-1].test_accuracy:.2%} test accuracy. Try the **Draw** page.")
        if running and not job.alive or queued and job.state != "queued":
            st.rerun()  # the job started or ended: redraw the whole page once, with the new timer

    live()
