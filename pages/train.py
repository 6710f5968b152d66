"""Train: choose the network and how to train it, then watch the curves grow."""
from urllib.parse import urlencode

import streamlit as st

from mlp import PRESETS
from playground.figures import training_curves
from mlp.train import TrainConfig, count_params, estimate_seconds
from playground.link import ALPHAS, CHOICES, RATES, SUBSETS, choices, from_query, to_query, widget_values
from playground.text import literal
from pages.common import (current_job, dataset, live_chart, redraw_status_lines, server_limits, start_training,
                          through_app, training_slots)

HELP = {
    "hidden": "Layers between the 784 input pixels and the 10 outputs. More layers can learn more "
              "complex shapes but train more slowly.",
    "neurons": "How many units this layer has. Wider layers learn more but cost more time.",
    "learning_rate_init": "How big a step each update takes. Too small: slow. Too large: training "
                          "jumps around or diverges (try 10 to see it).",
    "batch_size": "Images per update. Small batches give many noisy updates per epoch; 'full batch' "
                  "makes one exact update per pass, like the original notebook.",
    "max_iter": "Epochs: passes over the training set. With full batch, one epoch is one update.",
    "solver": "How the gradient turns into a step: plain gradient descent, with momentum "
              "(keeps moving in the same direction), or Adam (adapts the step per weight).",
    "activation": "The function each hidden unit applies. ReLU trains fastest on MNIST.",
    "alpha": "L2 regularisation: pulls weights towards zero to fight overfitting.",
    "dropout": "Share of hidden units switched off at random at each update, another fight against overfitting.",
    "lr_schedule": "Cosine lowers the learning rate smoothly to zero by the end of the run.",
    "init": "How the first weights are drawn. He suits ReLU, Glorot suits sigmoid and tanh; "
            "'notebook' is the original notebook's scheme.",
    "random_state": "Same seed, same settings: the same run, number for number.",
    "train_size": "Train on a random subset to go faster; the test set is always all 10,000 images.",
}


through_app()  # before any state is touched: a first deep link reruns inside app.py
LIMITS = server_limits()
ALLOWED = choices(LIMITS)


def apply_preset():
    """Copy the chosen preset into the widgets."""
    st.session_state.update(widget_values(PRESETS[st.session_state.preset], LIMITS))


SETTINGS = ["preset", "n_hidden", "learning_rate_init", "batch_size", "max_iter", "solver", "activation",
            "alpha", "dropout", "lr_schedule", "init", "random_state", "train_size"]
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


def settings_form():
    """Draw the settings widgets; return the TrainConfig they describe."""
    ss = st.session_state
    st.selectbox("Preset", list(PRESETS), key="preset", on_change=apply_preset,
                 help="notebook: the original full-batch gradient descent. fast: the same network "
                      "trained with Adam on mini-batches. best: a wider network with dropout.")
    st.slider("Hidden layers", 1, ALLOWED["layers"], key="n_hidden", help=HELP["hidden"])
    sizes = []
    for i in range(ss.n_hidden):
        ss.setdefault(f"layer_{i}", max(n for n in ALLOWED["neurons"] if n <= 64 or n == ALLOWED["neurons"][0]))
        sizes.append(st.select_slider(f"Neurons in layer {i + 1}", ALLOWED["neurons"], key=f"layer_{i}",
                                      help=HELP["neurons"]))
    st.select_slider("Learning rate", RATES, key="learning_rate_init", help=HELP["learning_rate_init"],
                     format_func=lambda r: f"{r:g}")
    st.select_slider("Batch size", ALLOWED["batches"], key="batch_size", help=HELP["batch_size"])
    full = ss.batch_size == "full batch"
    cap = ALLOWED["iterations" if full else "epochs"]
    ss.max_iter = min(ss.max_iter, cap)
    st.slider("Iterations" if full else "Epochs", 1, cap, key="max_iter", help=HELP["max_iter"])
    with st.expander("More settings"):
        st.radio("Optimizer", CHOICES["solver"], key="solver", horizontal=True, help=HELP["solver"])
        st.radio("Activation", CHOICES["activation"], key="activation", horizontal=True, help=HELP["activation"])
        st.radio("Learning-rate schedule", CHOICES["lr_schedule"], key="lr_schedule", horizontal=True,
                 help=HELP["lr_schedule"])
        st.select_slider("L2 penalty (alpha)", ALPHAS, key="alpha", format_func=lambda a: f"{a:g}",
                         help=HELP["alpha"])
        st.slider("Dropout", 0.0, 0.6, step=0.05, key="dropout", help=HELP["dropout"])
        st.radio("Initialisation", CHOICES["init"], key="init", horizontal=True, help=HELP["init"])
        st.number_input("Random seed", 0, 2**31 - 1, key="random_state", help=HELP["random_state"])
        st.select_slider("Training images", SUBSETS, key="train_size", format_func=lambda n: f"{n:,}",
                         help=HELP["train_size"])
    return TrainConfig(
        hidden_layer_sizes=tuple(sizes), activation=ss.activation, solver=ss.solver,
        learning_rate_init=ss.learning_rate_init, lr_schedule=ss.lr_schedule,
        batch_size=None if full else ss.batch_size, max_iter=ss.max_iter, alpha=ss.alpha,
        dropout=ss.dropout, init=ss.init, random_state=int(ss.random_state),
        train_size=None if ss.train_size >= 60000 else ss.train_size,
        log_every=10 if full else None)


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
    st.session_state.train_settings = {key: st.session_state[key] for key in
                                       SETTINGS + [f"layer_{i}" for i in range(st.session_state.n_hidden)]}
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
    n_params = count_params(sizes)
    seconds = estimate_seconds(config, n_train) * training_slots().pace  # as fast as jobs ran here so far
    st.markdown(f"**Network** {' → '.join(map(str, sizes))} · **{n_params:,} parameters** · "
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
