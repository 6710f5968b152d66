"""What every page shares: the data set (loaded once per server), the session's model and job.

Session state keys (per browser session):
  dataset  - "mnist" or "fashion-mnist", chosen in the sidebar
  trainer  - the mlp.Trainer holding the current model, its config and history (or absent)
  job      - the mlp.job.TrainingJob running or last run on that trainer (or absent)
  loaded   - (model, data set, label) of a run or upload chosen as the current model (or absent)
  runs     - the mlp.runs.RunHistory of this browser tab; kept on the server under the
             tab's `sid` (a query parameter), so that it survives a page reload
  drawing  - the last drawing as the network sees it, (28, 28) float32 (or absent)
The pages add their own widget keys (train_settings, gallery, canvas-N, ...).
"""
import gc
import secrets
import threading
import time

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from threadpoolctl import threadpool_limits

from mlp import DatasetError, Trainer, load_dataset, preset
from mlp.data import TITLES
from mlp.job import Slots, TrainingJob
from mlp.limits import Limits, load_limits
from mlp.runs import RunHistory


def through_app():
    """Make sure the page runs inside app.py's frame, even on a fresh server's first deep link.

    A server whose first visitor opens /train directly runs pages/train.py on its own: Streamlit
    sees the pages/ folder and assumes its older multipage mode until app.py has called
    st.navigation once. Leave that mode, then load the same address again (query included), so
    that app.py (sidebar, router) runs first. Without a browser (AppTest), a rerun does it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        ctx = get_script_run_ctx()
        if not (ctx and _session_active(ctx.session_id)):  # no browser to reload (AppTest)
            st.rerun()
        st.html("<script>window.location.reload()</script>", unsafe_allow_javascript=True)
        st.stop()


@st.cache_resource(show_spinner=False)
def settle_server():
    """Once per server process, after the heavy imports: set their objects aside from garbage collection.

    Streamlit collects garbage in full after every script run. With many sessions polling, that
    is dozens of collections a second, each walking the ~120,000 objects of numpy, pandas,
    plotly and Streamlit (50 ms a time, holding the GIL, so that training hardly advanced).
    Frozen, they are skipped; what the sessions create is still collected.
    """
    import pandas  # noqa: F401  (plotly imports it lazily; two sessions doing so at once saw it half-made)
    import plotly.io  # noqa: F401

    gc.collect()
    gc.freeze()


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


@st.cache_resource(show_spinner=False)
def _limits():
    try:
        return load_limits()
    except ValueError as e:
        return e


def server_limits() -> Limits:
    """What this server allows (mlp.limits: .streamlit/playground.toml and environment variables)."""
    limits = _limits()
    if isinstance(limits, ValueError):  # a broken config file: say so on every page, train nothing
        st.error(f"**The server's configuration is not valid:** {limits}. Whoever runs the server can fix "
                 "it in `.streamlit/playground.toml` or the `MNIST_PLAYGROUND_*` environment variables, "
                 "then restart it.")
        st.stop()
    return limits


@st.cache_resource(show_spinner=False)
def training_slots():
    """One limit per server on how many sessions train at once.

    Also bound the BLAS thread pool (process-wide) to ``blas_threads``, so that the jobs together
    use the cores once: with a web server, its sessions and other jobs on the same cores,
    OpenBLAS's spinning worker threads made mini-batch epochs 3 to 10 times slower, while one
    thread costs 0-20 % on an idle machine (benchmarks/README.md).
    """
    limits = server_limits()
    threadpool_limits(limits.blas_threads, user_api="blas")
    return Slots(limits.max_jobs)


def current_job():
    return st.session_state.get("job")


def _picked():
    """The (model, data set, label) of a run or upload picked as the current model, or None.

    A training job that runs comes first: its latest weights are the current model meanwhile.
    """
    job = current_job()
    return None if job is not None and job.alive else st.session_state.get("loaded")


def current_model(name=None):
    """The session's current weights, or None: while training, the latest snapshot; else a run or
    upload the user picked; else the last trained model. With ``name``, only a model of that data set."""
    trainer, loaded = st.session_state.get("trainer"), _picked()
    if loaded is not None:
        model, dataset_name, _ = loaded
        return model if not name or dataset_name == name else None
    if trainer is None or not trainer.history or (name and trainer.dataset_name != name):
        return None
    return trainer.snapshot


def require_model(data):
    """Return the current model for ``data``, or point to the Train page and stop the page."""
    model = current_model(data.name)
    if model is None:
        st.info("No trained model for this data set yet: train one on the **Train** page first.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/monitoring:")
        st.stop()
    return model


def set_current_model(model, dataset_name, label):
    """Make a run's or an uploaded model the current one (until the next training starts)."""
    st.session_state.loaded = (model, dataset_name, label)


def for_model(model, key, compute):
    """Return ``compute()``, remembered in this session for as long as ``model`` stays current."""
    cache = st.session_state.get("_for_model")
    if cache is None or cache["model"] is not model:
        cache = st.session_state["_for_model"] = {"model": model, "values": {}}
    if key not in cache["values"]:
        cache["values"][key] = compute()
    return cache["values"][key]


# ----------------------------------------------------------------------------
# run history: one per browser tab, kept on the server so that a reload finds it again

HISTORY_TTL = 30 * 60  # seconds an abandoned tab's history is kept for a reload
MAX_HISTORIES = 200


@st.cache_resource
def _histories():
    """sid -> [RunHistory, owner session id, last seen]; shared by the server's sessions."""
    return {}, threading.Lock()


def _session_active(session_id):
    from streamlit.runtime import Runtime

    # `is True`: under AppTest the runtime is a stand-in whose answers are never True
    return Runtime.exists() and Runtime.instance().is_active_session(session_id) is True


def run_history() -> RunHistory:
    """This tab's run history; after a reload, the one it had before (found through ?sid=)."""
    ss = st.session_state
    if "runs" not in ss:
        ctx = get_script_run_ctx()
        me = ctx.session_id if ctx else ""
        store, lock = _histories()
        sid = st.query_params.get("sid")
        now = time.time()
        with lock:
            entry = store.get(sid) if sid else None
            if entry is None or (entry[1] != me and _session_active(entry[1])):  # a copied link: start afresh
                runs = RunHistory(max_model_bytes=server_limits().runs_mb * 2**20)
                sid, entry = secrets.token_urlsafe(12), [runs, me, now]
                store[sid] = entry
            entry[1], entry[2] = me, now
            for old in [k for k, e in store.items() if now - e[2] > HISTORY_TTL and not _session_active(e[1])]:
                del store[old]
            for old in sorted(store, key=lambda k: store[k][2])[:max(0, len(store) - MAX_HISTORIES)]:
                del store[old]
            # past the server's budget for kept weights, closed tabs' runs keep only their curves
            budget = server_limits().all_runs_mb * 2**20 - sum(e[0].model_bytes for e in store.values())
            for old in sorted(store, key=lambda k: store[k][2]):
                if budget >= 0:
                    break
                if not _session_active(store[old][1]):
                    budget += store[old][0].model_bytes
                    store[old][0].drop_models()
        ss.runs, ss.sid = entry[0], sid
    return ss.runs


def _record_run(runs, dataset_name):
    """Return a callback that files a job's run in ``runs`` when the job ends."""
    def on_end(job):
        t = job.trainer
        if t.history and job.state in ("finished", "stopped", "diverged"):
            runs.add(dataset_name, t.config.to_dict(), t.history, job.state, t.snapshot)
    return on_end


def start_training(config, data, continue_epochs=None):
    """Start a job: a new model from ``config``, or (with ``continue_epochs``) more of the current one.

    Return the job, or None (with an error shown) if the settings exceed the server's limits.
    """
    job = current_job()
    if job is not None and job.alive:
        return job
    problems = [] if continue_epochs else server_limits().problems(config, config.train_size or len(data.y_train))
    if problems:
        st.error("**These settings are beyond this server's limits:** " + "; ".join(problems) + ". "
                 "Choose smaller ones.")
        return None
    if continue_epochs:
        trainer = st.session_state["trainer"]
        trainer.extend(continue_epochs)
    else:
        trainer = Trainer(config, data)
    st.session_state.trainer = trainer
    st.session_state.pop("loaded", None)
    on_end = _record_run(run_history(), data.name)
    me = get_script_run_ctx().session_id
    st.session_state.job = job = TrainingJob(trainer, training_slots(), on_end, lambda: _session_active(me),
                                             server_limits().session_timeout).start()
    return job


def start_fast_preset(data):
    return start_training(preset("fast"), data)


def status():
    """One line on the current model: untrained, queued, training or trained."""
    trainer, job, loaded = st.session_state.get("trainer"), current_job(), _picked()
    if loaded is not None:
        return f"{loaded[2]} ({loaded[1]})"
    if trainer is None:
        return "untrained"
    last = trainer.history[-1] if trainer.history else None
    acc = f", test accuracy {last.test_accuracy:.1%}" if last else ""
    if job is not None and job.alive:
        if job.state == "queued":
            pos = job.slots.position(job)
            return f"queued ({pos[0]} of {pos[1]})" if pos else "queued"
        return f"training ({trainer.step / max(trainer.total_steps, 1):.0%}{acc})"
    return f"trained{acc}" if last else "untrained"


def status_line(text, write="caption"):
    """Show ``text()`` (say, the model's status) with ``st.<write>``, in a place that
    `redraw_status_lines` redraws while the tab's job waits or trains."""
    box = st.empty()
    st.session_state.setdefault("status_lines", []).append((box, text, write))
    _draw_line(box, text, write)


def _draw_line(box, text, write):
    line = text()
    if line:
        getattr(box, write)(line)
    else:
        box.empty()


def redraw_status_lines():
    """Redraw the status lines; a page's live fragment calls this, as it may draw outside itself."""
    for line in st.session_state.get("status_lines", []):
        _draw_line(*line)


def keep_status_lines_fresh():
    """For pages without a live fragment of their own: redraw the status lines every 2 s while this
    tab's job waits or trains, and rerun the page once it has ended."""
    job = current_job()
    if job is None or not job.alive:
        return

    @st.fragment(run_every=2.0)
    def refresh():
        redraw_status_lines()
        if not job.alive:
            st.rerun()

    refresh()


def live_chart(fig, key, run):
    """Draw a Plotly figure that is redrawn twice a second (the curves of a training ``run``) without flicker.

    Streamlit mounts a Plotly chart afresh whenever its figure changes, and the new chart stays blank
    for 30-300 ms while it draws. So the figure drawn last time stays underneath, sent unchanged
    (Streamlit leaves an unchanged chart as it is), until the new one on top has drawn over it.
    """
    ss = st.session_state
    count, last_run, last = ss.get(key, (0, None, None))
    ss[key] = (count + 1, run, fig)
    new = "ab"[count % 2]  # the two charts take turns on top
    st.html(f"<style>.st-key-{key} {{display: grid; grid-template-columns: minmax(0, 1fr)}} "
            f".st-key-{key} > div {{grid-area: 1 / 1}} .st-key-{key}_{new} {{z-index: 1}}</style>")
    with st.container(key=key):
        for slot in "ab":
            shown = fig if slot == new else last if last_run is run else None
            with st.container(key=f"{key}_{slot}"):
                if shown is not None:
                    st.plotly_chart(shown, width="stretch", key=f"{key}_{slot}_chart")
