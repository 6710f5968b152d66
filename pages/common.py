"""What every page shares: the data set (loaded once per server), the browser's model and job.

Session state keys (per browser tab):
  dataset  - "mnist" or "fashion-mnist", chosen in the sidebar
  trainer  - the mlp.Trainer holding the current model, its config and history (or absent)
  job      - the playground.jobs.TrainingJob running or last run on that trainer (or absent)
  loaded   - (model, data set, label) of a run or upload chosen as the current model (or absent)
  runs     - the playground.runs.RunHistory of this browser, shared by its tabs
  workspace, workspace_key - this browser's playground.session.Workspace and the key in its
             cookie: the runs and the current model are found again after a reload through it
  drawing  - the last drawing as the network sees it, (28, 28) float32 (or absent)
The pages add their own widget keys (train_settings, gallery, canvas-N, ...).
"""
import gc
from functools import partial

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from threadpoolctl import threadpool_limits

from mlp import Trainer, preset
from mlp.data import TITLES
from playground.jobs import Slots, TrainingJob
from playground.limits import Limits, load_limits
from playground.runs import RunHistory
from playground.datasets import DataSets
from playground.session import COOKIE, Workspace, Workspaces, new_key, valid_key

WAIT_FOR_DATA = 3.0  # seconds a page view waits for a data set before it shows the download instead


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
def data_sets() -> DataSets:
    """The data sets of this server process, loaded once each, in the background."""
    return DataSets()


def dataset(stop_on_error=True):
    """Return the selected data set. If it is still loading (downloading, the first time) or could
    not be loaded, say so, and stop the page (or return None without ``stop_on_error``)."""
    through_app()
    name = st.session_state.get("dataset", "mnist")
    load = data_sets().request(name)
    load.done.wait(WAIT_FOR_DATA)  # a local copy takes a fraction of a second
    if load.data is not None:
        return load.data
    if load.error is None:
        _show_download(load)
    else:
        st.error(f"**{TITLES[name]} is not available.** {load.error}")
        st.info("To use a copy you already have, start the app with `MNIST_PLAYGROUND_DATA=/path/to/folder` "
                "(a folder holding the four IDX files). With internet access the app downloads them by itself "
                "on the next try.")
        if st.button("Try again", key="retry_data"):
            data_sets().request(name, retry=True)
            st.rerun()
    if stop_on_error:
        st.stop()
    return None


def _show_download(load):
    """A progress bar for a data set that another page view (or this one) is downloading."""
    @st.fragment(run_every=1.0)
    def progress():
        if load.done.is_set():
            st.rerun()
        st.progress(min(load.fraction, 1.0), text=f"{load.message or 'Loading ' + TITLES[load.name]} · "
                                                  f"{load.fraction:.0%}")
        st.caption("The data set is downloaded once for the whole server; this page goes on by itself "
                   "when it is ready.")
    progress()


@st.cache_resource(show_spinner=False)
def _limits():
    try:
        return load_limits()
    except ValueError as e:
        return e


def server_limits() -> Limits:
    """What this server allows (playground.limits: .streamlit/playground.toml and environment variables)."""
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
    _remember()


def for_model(model, key, compute):
    """Return ``compute()``, remembered in this session for as long as ``model`` stays current."""
    cache = st.session_state.get("_for_model")
    if cache is None or cache["model"] is not model:
        cache = st.session_state["_for_model"] = {"model": model, "values": {}}
    if key not in cache["values"]:
        cache["values"][key] = compute()
    return cache["values"][key]


# ----------------------------------------------------------------------------
# this browser's workspace: its runs and current model, found again after a reload through a
# key that only the browser holds, in a cookie (playground/session.py)


@st.cache_resource(show_spinner=False)
def _workspaces():
    limits = server_limits()
    return Workspaces(_session_active, limits.history_timeout, limits.max_histories,
                      limits.runs_mb * 2**20, limits.all_runs_mb * 2**20)


def _session_active(session_id):
    from streamlit.runtime import Runtime

    # `is True`: under AppTest the runtime is a stand-in whose answers are never True
    return Runtime.exists() and Runtime.instance().is_active_session(session_id) is True


def _session_id():
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else ""


def workspace() -> Workspace:
    """This browser's workspace. A tab's first run looks for it by the key in the browser's cookie
    and takes the current model from it; a browser without a (valid) key gets a new one."""
    ss = st.session_state
    if "workspace" in ss:
        _workspaces().seen(ss.workspace, _session_id())
        return ss.workspace
    key = st.context.cookies.get(COOKIE)
    if not valid_key(key):
        key, ss.cookie_to_set = new_key(), True
    ws = ss.workspace = _workspaces().open(key, _session_id())
    ss.workspace_key, ss.runs = key, ws.runs
    for name in ("trainer", "job", "loaded"):
        if getattr(ws, name) is not None:
            ss[name] = getattr(ws, name)
    return ws


def set_browser_key():
    """Give the browser its workspace's key, in a cookie that its next visit sends back.

    The page's own script sets it: Streamlit reads the cookies a tab was opened with
    (st.context.cookies), but has no way to set one. The key is random and only this browser
    gets it; it is sent again at every run until the tab is reloaded with it.
    """
    if st.session_state.get("cookie_to_set"):
        key = st.session_state.workspace_key
        script = (f"document.cookie = '{COOKIE}={key}; path=/; max-age=31536000; SameSite=Lax'"
                  " + (location.protocol === 'https:' ? '; Secure' : '');")
        st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _remember():
    """Make this tab's current model and training the browser's, to be found again after a reload."""
    ss, ws = st.session_state, workspace()
    ws.trainer, ws.job, ws.loaded = ss.get("trainer"), ss.get("job"), ss.get("loaded")
    _workspaces().keep(ss.workspace_key, ws)


def run_history() -> RunHistory:
    """This browser's run history."""
    return workspace().runs


def _record_run(runs, dataset_name):
    """Return a callback that files a job's run in ``runs`` when the job ends."""
    def on_end(job):
        t = job.trainer
        if t.history and job.state in ("finished", "stopped", "diverged"):
            runs.add(dataset_name, t.config.to_dict(), t.history, job.state, t.snapshot)
    return on_end


def start_training(config, data, continue_epochs=None):
    """Start a job: a new model from ``config``, or (with ``continue_epochs``) more of the current one.

    Return the job, or None (with an error shown) if the server will not train it: settings or a
    continuation beyond its limits, or a full queue.
    """
    job = current_job()
    if job is not None and job.alive:  # one training per tab at a time
        return job
    limits, slots = server_limits(), training_slots()
    trainer = st.session_state.get("trainer") if continue_epochs else None
    if continue_epochs:
        problems = limits.continue_problems(trainer, continue_epochs)
    else:
        problems = limits.problems(config, config.train_size or len(data.y_train))
    if problems:
        st.error(("**This run cannot go on here:** " if continue_epochs else
                  "**These settings are beyond this server's limits:** ") + "; ".join(problems) + "."
                 + ("" if continue_epochs else " Choose smaller ones."))
        return None
    if slots.counts()[1] >= limits.max_waiting:
        st.error(f"**The server's queue is full** ({limits.max_waiting} trainings are waiting). "
                 "Try again in a few minutes; Gallery, Draw and the other pages work meanwhile.")
        return None
    if continue_epochs:
        trainer.extend(continue_epochs)
    else:
        trainer = Trainer(config, data)
    st.session_state.trainer = trainer
    st.session_state.pop("loaded", None)
    ws = workspace()
    owner_alive = partial(_workspaces().connected, ws)  # while any tab of this browser is there
    st.session_state.job = job = TrainingJob(trainer, slots, _record_run(ws.runs, data.name), owner_alive,
                                             limits.session_timeout).start()
    _remember()
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
