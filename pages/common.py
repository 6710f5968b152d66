"""What every page shares: the data set (loaded once per server), the session's model and job.

Session state keys (per browser session):
  dataset  - "mnist" or "fashion-mnist", chosen in the sidebar
  trainer  - the mlp.Trainer holding the current model, its config and history (or absent)
  job      - the mlp.job.TrainingJob running or last run on that trainer (or absent)
"""
import os
import threading

import streamlit as st

from mlp import DatasetError, Trainer, load_dataset, preset
from mlp.data import TITLES
from mlp.job import Slots, TrainingJob


def through_app():
    """Make sure the page runs inside app.py's frame, even on a fresh server's first deep link.

    A server whose first visitor opens /train directly runs pages/train.py on its own: Streamlit
    sees the pages/ folder and assumes its older multipage mode until app.py has called
    st.navigation once. Leave that mode and rerun, so app.py (sidebar, router) runs first.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource(show_spinner=False)
def _loaded():
    """The data sets loaded so far, one copy per server process, and the lock that guards loading."""
    return {}, threading.Lock()


def dataset(stop_on_error=True):
    """Return the selected data set, loading (or downloading, with a progress bar) it once per server."""
    through_app()
    name = st.session_state.get("dataset", "mnist")
    loaded, lock = _loaded()
    bar = st.empty()
    try:
        with lock:  # the first session downloads (with a progress bar); the others wait for it
            if name not in loaded:
                data = load_dataset(name, progress=lambda f, msg: bar.progress(min(f, 1.0), text=msg))
                for a in data[:4]:
                    a.setflags(write=False)
                loaded[name] = data
        data = loaded[name]
    except DatasetError as e:
        bar.empty()
        st.error(f"**{TITLES[name]} is not available.** {e}")
        st.info("To use a copy you already have, start the app with `MNIST_PLAYGROUND_DATA=/path/to/folder` "
                "(a folder holding the four IDX files). With internet access the app downloads them by itself "
                "on the next try.")
        if st.button("Try again", key="retry_data"):
            st.rerun()
        if stop_on_error:
            st.stop()
        return None
    bar.empty()
    return data


@st.cache_resource
def training_slots():
    """One limit per server on how many sessions train at once."""
    return Slots(int(os.environ.get("MNIST_PLAYGROUND_MAX_JOBS", max(1, (os.cpu_count() or 2) // 2))))


def current_job():
    return st.session_state.get("job")


def current_model(name=None):
    """The session's latest weights (while training: the last snapshot), or None.

    With ``name``, only a model trained on that data set counts.
    """
    trainer = st.session_state.get("trainer")
    if trainer is None or not trainer.history or (name and trainer.dataset_name != name):
        return None
    return trainer.snapshot


def trained_steps():
    trainer = st.session_state.get("trainer")
    return 0 if trainer is None else trainer.step


def start_training(config, data, continue_epochs=None):
    """Start a job: a new model from ``config``, or (with ``continue_epochs``) more of the current one."""
    job = current_job()
    if job is not None and job.alive:
        return job
    if continue_epochs:
        trainer = st.session_state["trainer"]
        trainer.extend(continue_epochs)
    else:
        trainer = Trainer(config, data)
    st.session_state.trainer = trainer
    st.session_state.job = job = TrainingJob(trainer, training_slots()).start()
    return job


def start_fast_preset(data):
    return start_training(preset("fast"), data)


def status():
    """One line on the current model: untrained, queued, training or trained."""
    trainer, job = st.session_state.get("trainer"), current_job()
    if trainer is None:
        return "untrained"
    last = trainer.history[-1] if trainer.history else None
    acc = f", test accuracy {last.test_accuracy:.1%}" if last else ""
    if job is not None and job.alive:
        if job.state == "queued":
            return "queued"
        return f"training ({trainer.step / max(trainer.total_steps, 1):.0%}{acc})"
    return f"trained{acc}" if last else "untrained"
