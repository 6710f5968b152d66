"""This tab's things: the current model, the training job, the browser's runs; start and stop.

Session state keys (per browser tab):
  dataset  - "mnist" or "fashion-mnist", chosen in the sidebar
  trainer  - the mlp.Trainer holding the current model, its config and history (or absent)
  job      - the playground.jobs.TrainingJob running or last run on that trainer (or absent)
  loaded   - (model, data set, label) of a run or upload chosen as the current model (or absent)
  runs     - the playground.runs.RunHistory of this browser, shared by its tabs
  workspace, workspace_key - this browser's playground.workspaces.Workspace and the key in its
             cookie: the runs and the current model are found again after a reload through it
  drawing  - the last drawing as the network sees it, (28, 28) float32 (or absent)
  lost, lost_watch, lost_looked, lost_train_again - this browser's trainings lost with another
             server process, not yet dismissed; whether one may still be, and when the tab last
             looked (see lost_trainings); and that one's settings were just put in the Train page
The pages add their own widget keys (train_settings, gallery, canvas-N, ...).
"""
import time
from dataclasses import replace
from functools import partial

import streamlit as st

from mlp import TrainConfig, Trainer, lab, preset
from mlp.config import KNOB
from mlp.data import TITLES, mix

from . import link, server
from .classdb import ClassDBError
from .classqueue import owner_tag
from .frame import session_id
from .jobs import JobStatus, TrainingJob
from .runs import RunHistory
from .site import page
from .workspaces import COOKIE, Workspace, new_key, valid_key


def workspace() -> Workspace:
    """This browser's workspace. A tab's first run looks for it by the key in the browser's cookie
    and takes the current model from it; a browser without a (valid) key gets a new one."""
    ss = st.session_state
    if "workspace" in ss:
        server.workspaces().seen(ss.workspace, session_id())
        return ss.workspace
    key = st.context.cookies.get(COOKIE)
    if not valid_key(key):
        key, ss.cookie_to_set = new_key(), True
    ws = ss.workspace = server.workspaces().open(key, session_id())
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
    server.workspaces().keep(ss.workspace_key, ws)


def run_history() -> RunHistory:
    """This browser's run history."""
    return workspace().runs


# ----------------------------------------------------------------------------
# the current model


def job_status() -> JobStatus | None:
    """What this tab's training job has done so far, or None if it has none."""
    job = st.session_state.get("job")
    return None if job is None else job.status()


def training() -> bool:
    """True while this tab's job waits or trains."""
    job = st.session_state.get("job")
    return job is not None and job.alive


def _picked():
    """The (model, data set, label) of a run or upload picked as the current model, or None.

    A training job that runs comes first: its latest weights are the current model meanwhile.
    """
    return None if training() else st.session_state.get("loaded")


def current_model(name=None):
    """The tab's current weights, or None: while training, the latest snapshot; else a run or
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
        train = page("train")
        st.info("No trained model for this data set yet: train one on the **Train** page first.")
        st.page_link(train.path, label=f"Go to {train.title}", icon=train.icon)
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


def latest(key, model, args, compute):
    """Return ``compute()``, remembered in this session while ``model`` stays current and ``args``
    stay equal: one value per ``key``, the last (for values too big to keep one per ``args``)."""
    kept = st.session_state.setdefault("_latest", {})
    slot = kept.get(key)
    if slot is None or slot[0] is not model or slot[1] != args:
        kept[key] = slot = (model, args, compute())
    return slot[2]


def save_edited_run(model, edits, data):
    """File a copy of the current ``model`` with mlp.lab ``edits`` applied in this browser's runs,
    and return the Run. It keeps the settings and curves of the run the model came from (the
    tab's training, or a run of the history), with one record more for the edited network; an
    uploaded model's settings beyond its layers are not known, and its label says so."""
    runs, trainer, loaded = run_history(), st.session_state.get("trainer"), _picked()
    config, history, changes, before, origin = None, [], [], "", None
    if trainer is not None and trainer.snapshot is model:
        config, history, changes = trainer.start_config.to_dict(), list(trainer.history), list(trainer.changes)
    else:
        source = next((r for r in runs if r.model is model), None)
        if source is None and loaded is not None and loaded[0] is model:
            source = next((r for r in runs if r.label == loaded[2]), None)
        if source is not None:
            config, history, changes, before = source.config, list(source.history), source.changes, source.edits
    if config is None:
        config = TrainConfig(hidden_layer_sizes=tuple(model.layer_sizes[1:-1]), activation=model.activation).to_dict()
        origin = "uploaded model"
    copy = lab.edited(model, edits)
    history.append(lab.record(copy, data, history[-1] if history else None))
    said = f"{before}, then {edits.describe()}" if before else edits.describe()
    return runs.add(data.name, config, history, "edited", copy, changes, edits=said, origin=origin)


def status() -> str:
    """One line on the current model: untrained, queued, training or trained."""
    trainer, loaded, job = st.session_state.get("trainer"), _picked(), job_status()
    if loaded is not None:
        return f"{loaded[2]} ({loaded[1]})"
    if trainer is None:
        return "untrained"
    last = trainer.history[-1] if trainer.history else None
    acc = f", test accuracy {last.test_accuracy:.1%}" if last else ""
    if job is not None and job.alive:
        if job.state == "queued":
            return f"queued ({job.queue[0]} of {job.queue[1]})" if job.queue else "queued"
        return f"training ({job.done:.0%}{acc})"
    if job is not None and job.state == "paused":
        return f"paused ({job.done:.0%}{acc})"
    return f"trained{acc}" if last else "untrained"


# ----------------------------------------------------------------------------
# training


def _record_run(runs, dataset_name, note=""):
    """Return a callback that files a job's run in ``runs`` when the job ends (``note``: what its
    label adds, e.g. that it fine-tuned a network)."""
    def on_end(job):
        t = job.trainer
        if t.history and job.state in ("finished", "stopped", "diverged"):
            runs.add(dataset_name, t.start_config.to_dict(), t.history, job.state, t.snapshot, t.changes,
                     note=note)
    return on_end


def start_training(config, data, continue_epochs=None, resume=False, steps=None):
    """Start a job: a new model from ``config``, or more of the current one: ``continue_epochs``
    more, or (``resume``) the rest of a paused or stopped run, or ``steps`` updates of it.

    Return True if it started (or one already runs), or False (with an error shown) if the server
    will not train it: settings or a continuation beyond its limits, or a full queue.
    """
    if training():  # one training per tab at a time
        return True
    limits, slots = server.limits(), server.slots()
    going_on = bool(continue_epochs or resume or steps)
    trainer = st.session_state.get("trainer") if going_on else None
    if continue_epochs:
        problems = limits.continue_problems(trainer, continue_epochs)
    elif going_on:
        problems = [] if trainer is not None and not trainer.done else ["the run has no updates left"]
    else:
        problems = limits.problems(config, config.train_size or len(data.y_train))
    if problems:
        st.error(("**This run cannot go on here:** " if going_on else
                  "**These settings are beyond this server's limits:** ") + "; ".join(problems) + "."
                 + ("" if going_on else " Choose smaller ones."))
        return False
    if slots.counts()[1] >= limits.max_waiting:
        st.error(f"**The server's queue is full** ({limits.max_waiting} trainings are waiting). "
                 "Try again in a few minutes; Gallery, Draw and the other pages work meanwhile.")
        return False
    last = st.session_state.get("job")
    if last is not None and last.state == "paused" and not going_on:
        last.stop()  # a new model replaces a paused one: the paused run is filed in the runs now
    if continue_epochs:
        trainer.extend(continue_epochs)
    elif not going_on:
        trainer = Trainer(config, data)
    _start_job(trainer, data.name, steps)
    return True


def _start_job(trainer, dataset_name, steps=None, note=""):
    limits, slots = server.limits(), server.slots()
    st.session_state.trainer = trainer
    st.session_state.pop("loaded", None)
    ws = workspace()
    owner_alive = partial(server.workspaces().connected, ws)  # while any tab of this browser is there
    about = {"owner": owner_tag(st.session_state.workspace_key), "config": trainer.start_config.to_dict(),
             "dataset": dataset_name, "note": note}  # what the class's queue tells this browser if it is lost
    st.session_state.job = TrainingJob(trainer, slots, _record_run(ws.runs, dataset_name, note), owner_alive,
                                       limits.session_timeout, steps=steps, speed=speed(), about=about).start()
    _remember()


FINE_TUNE_EPOCHS = 3       # passes over the mix of class-train and MNIST
FINE_TUNE_MNIST = 10_000   # MNIST training images in the mix, so that the network does not forget them


def start_fine_tune(model, data, x_class, y_class) -> bool:
    """Fine-tune ``model`` on the class's own drawings (x_class (n, 28, 28) uint8, y_class (n,)) mixed
    with MNIST, as a job of the queue like any training; it is filed as a run when it ends. Return
    False (with an error shown) if the server will not train it."""
    if training():
        st.error("A training of this tab is running: wait for it, or stop it, first.")
        return False
    trainer, loaded = st.session_state.get("trainer"), _picked()
    if trainer is not None and trainer.snapshot is model:
        config = trainer.start_config
    else:
        run = next((r for r in run_history() if r.model is model or (loaded and r.label == loaded[2])), None)
        config = TrainConfig.from_dict(run.config) if run is not None else \
            TrainConfig(hidden_layer_sizes=tuple(model.layer_sizes[1:-1]), activation=model.activation)
    batch = config.batch_size if config.batch_size and config.batch_size <= 512 else 128
    config = replace(config, train_size=None, max_iter=FINE_TUNE_EPOCHS, max_steps=None, batch_size=batch)
    x, y = mix(x_class, y_class, data.x_train, data.y_train, n_base=FINE_TUNE_MNIST)
    limits = server.limits()
    problems = limits.problems(config, len(y))
    if not problems and server.slots().counts()[1] >= limits.max_waiting:
        problems = [f"the server's queue is full ({limits.max_waiting} trainings are waiting)"]
    if problems:
        st.error("**The fine-tuning cannot run here:** " + "; ".join(problems) + ".")
        return False
    last = st.session_state.get("job")
    if last is not None and last.state == "paused":
        last.stop()
    tune = Trainer(config, (x, y, data.x_test, data.y_test), start=model.params)
    tune.dataset_name = data.name
    _start_job(tune, data.name, note=f"fine-tuned on {len(y_class)} class drawings")
    return True


# ----------------------------------------------------------------------------
# acting on a training while it runs


SPEEDS = {"1 / s": 1.0, "5 / s": 5.0, "20 / s": 20.0, "full": None}  # slow motion: updates a second


def speed():
    """Updates a second that this tab's trainings run at (None: full speed)."""
    return SPEEDS.get(st.session_state.get("speed", "full"))


def set_speed(name):
    """Train at the speed called ``name`` (a key of SPEEDS), from now on, also the job that runs."""
    st.session_state.speed = name if name in SPEEDS else "full"
    job = st.session_state.get("job")
    if job is not None and job.alive:
        job.set_speed(speed())


def in_run() -> bool:
    """True while this tab's run goes on: waiting, training or paused (its fixed settings stay)."""
    job = st.session_state.get("job")
    return job is not None and (job.alive or job.state == "paused")


def paused() -> bool:
    job = st.session_state.get("job")
    return job is not None and not job.alive and job.state == "paused"


def pause():
    """Pause this tab's training after its current update (waiting up to 2 s for it)."""
    job = st.session_state.get("job")
    if job is not None and job.alive:
        job.pause()
        job.join(2.0)


def resume(data, steps=None):
    """Go on with the paused (or stopped) run: to its end, or for ``steps`` updates and pause again.
    A step waits (up to 5 s) for its update, so that the page shows it at once."""
    if training():
        pause()
    if not start_training(None, data, resume=True, steps=steps):
        return False
    if steps:
        st.session_state.job.join(5.0)
    return True


def add_epochs(data, epochs=1):
    """Add ``epochs`` to the run: to the training that goes on, or by training the model further."""
    trainer = st.session_state.get("trainer")
    if trainer is not None and in_run():
        trainer.add_epochs(epochs)
        return True
    return start_training(None, data, continue_epochs=epochs)


def change_settings(values: dict) -> list[str]:
    """Ask the current model's trainer to take these settings (fields of mlp.train.LIVE) from its
    next update; return the problems with those it refused (as plain sentences)."""
    trainer, problems = st.session_state.get("trainer"), []
    if trainer is None:
        return problems
    for field, value in values.items():
        if getattr(trainer.requested, field) != value:
            try:
                trainer.change(field, value)
            except ValueError as e:
                problems.append(str(e))
    return problems


def continue_by(config) -> tuple[int, str]:
    """How far Continue trains with these settings: (epochs or iterations, "epoch" or "iteration")."""
    if config.batch_size is None:
        return 1, "iteration"
    return max(1, config.max_iter // 2), "epoch"


def can_continue() -> bool:
    """True if this tab has a model trained here that Continue can train further."""
    return st.session_state.get("trainer") is not None and not training()


def start_preset(name, data):
    return start_training(preset(name), data)


def one_click_preset(data) -> str:
    """The preset that the Draw page trains with one click: for digits, one that reads drawings."""
    return "handwriting" if data.name == "mnist" else "fast"


def train_page_config():
    """The settings the Train page shows now (the fast preset's until it is first opened)."""
    values = st.session_state.get("train_settings") or {}
    return link.train_config({**link.widget_values(preset("fast")), **values})


def stop_training():
    """Stop this tab's job after its current update (waiting up to 2 s for it to end)."""
    job = st.session_state.get("job")
    if job is not None:
        job.stop()
        job.join(2.0)


# ----------------------------------------------------------------------------
# trainings lost with the server process that ran them


LOST_LOOK = 4.0  # seconds between two looks for this browser's lost trainings, while it waits for one


def lost_trainings() -> tuple[list[dict], bool]:
    """This browser's trainings that the class's queue released because the server process that
    ran them stopped (each is told to one tab, once; see `ClassSlots.lost`), and whether a training
    of this browser is still in the line for another process: that process may have stopped, which
    the queue knows once its heartbeat timeout has passed, so the caller looks again in a while.

    A tab looks on its first run, and then, at most every `LOST_LOOK` seconds, only while it has
    something to wait for (the frame asks on its full run and in its fragment)."""
    ss, slots = st.session_state, server.slots()
    ss.setdefault("lost", [])
    if not hasattr(slots, "lost") or ss.get("lost_watch") is False:
        return ss.lost, False
    if time.monotonic() - ss.get("lost_looked", -LOST_LOOK) < LOST_LOOK:
        return ss.lost, True
    ss.lost_looked = time.monotonic()
    owner = owner_tag(ss.workspace_key)
    try:
        ss.lost = ss.lost + slots.lost(owner)
        ss.lost_watch = slots.elsewhere(owner) > 0
    except ClassDBError:
        ss.lost_watch = False  # the next tab or reload of this browser looks again
    return ss.lost, ss.lost_watch


def lost_summary(about: dict):
    """(a sentence of what a lost training was, the Train page's widget values that train it again,
    its data set). The values are None for a fine-tuning (the Evaluate page starts it) or if its
    settings are not ones this server offers (another version, a hand-edited row): they are read
    back as a link's are."""
    kind = "fine-tuning" if about.get("note") else "training"
    dataset = about.get("dataset")
    dataset = dataset if isinstance(dataset, str) and dataset in TITLES else None
    limits = server.limits()
    try:
        values, problems = link.from_query(link.to_query(link.widget_values(
            TrainConfig.from_dict(about["config"]), limits)), limits)
    except (KeyError, TypeError, ValueError, AttributeError):
        values, problems = {}, ["its settings"]
    if problems:
        return f"a {kind}" + (f" on {TITLES[dataset]}" if dataset else ""), None, dataset
    layers = "-".join(str(values[f"layer_{i}"]) for i in range(values["n_hidden"]))
    lr = KNOB["learning_rate_init"].text(values["learning_rate_init"])
    what = (f"a {kind} of hidden layers {layers}, {values['solver']}, learning rate {lr}, "
            f"{values['max_iter']} {link.unit(values['batch_size'])}" + (f" on {TITLES[dataset]}" if dataset else ""))
    return what, (None if kind == "fine-tuning" else values), dataset


def train_again(values: dict, dataset, lost_id):
    """Put a lost training's settings (widget values) and data set in the Train page's widgets, and
    forget that it was lost (a button's callback: before any widget is drawn)."""
    dismiss_lost(lost_id)
    ss = st.session_state
    ss.update(values)
    ss.train_settings = {**ss.get("train_settings", {}), **values, "preset": ss.get("preset", "fast")}
    ss.link_applied = True  # the address's settings must not replace these
    if dataset:
        ss.dataset = dataset
    ss.lost_train_again = True  # the notice's next run opens the Train page


def dismiss_lost(lost_id):
    st.session_state.lost = [item for item in st.session_state.get("lost", []) if item["id"] != lost_id]
