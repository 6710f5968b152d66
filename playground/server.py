"""What the sessions of one server process share: the data sets, the limits, the training
slots, the browsers' workspaces. Each is made once per process (st.cache_resource)."""
import gc
import logging

import streamlit as st
from threadpoolctl import threadpool_limits

from mlp.data import TITLES

from . import classdb, classroom
from .classqueue import ClassSlots
from .datasets import DataSets
from .frame import session_active, through_app
from .jobs import Slots
from .limits import Limits, load_limits
from .workspaces import Workspaces

log = logging.getLogger(__name__)

WAIT_FOR_DATA = 3.0  # seconds a page view waits for a data set before it shows the download instead


@st.cache_resource(show_spinner=False)
def settle():
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
                "(a folder holding the four IDX files). With internet access the app downloads them by "
                "itself on the next try.")
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


def limits() -> Limits:
    """What this server allows (playground.limits: .streamlit/playground.toml, environment variables)."""
    found = _limits()
    if isinstance(found, ValueError):  # a broken config file: say so on every page, train nothing
        st.error(f"**The server's configuration is not valid:** {found}. Whoever runs the server can fix "
                 "it in `.streamlit/playground.toml` or the `MNIST_PLAYGROUND_*` environment variables, "
                 "then restart it.")
        st.stop()
    return found


def slots() -> Slots:
    """The training slots: the class's queue (`playground.classqueue`), shared by every process of
    the class through the class database, with ``max_jobs`` trainings at once on this machine; or,
    if the class database cannot be used, this process's own queue."""
    try:
        url = str(classroom.engine().url)
    except classdb.ClassDBError:
        url = ""
    return _slots(url)


@st.cache_resource(show_spinner=False)
def _slots(url) -> Slots:
    """One queue per server process (and class database).

    Also bound the BLAS thread pool (process-wide) to ``blas_threads``, so that the jobs together
    use the cores once: with a web server, its sessions and other jobs on the same cores,
    OpenBLAS's spinning worker threads made mini-batch epochs 3 to 10 times slower, while one
    thread costs 0-20 % on an idle machine (benchmarks/README.md).
    """
    threadpool_limits(limits().blas_threads, user_api="blas")
    if url:
        try:
            return ClassSlots(classroom.engine(), limits().max_jobs)
        except classdb.ClassDBError as e:
            log.warning("training without the class queue: %s", e)
    return Slots(limits().max_jobs)


@st.cache_resource(show_spinner=False)
def workspaces() -> Workspaces:
    """The browsers' workspaces (their runs and current models), bounded by the server's limits."""
    found = limits()
    return Workspaces(session_active, found.history_timeout, found.max_histories, found.runs_mb * 2**20,
                      found.all_runs_mb * 2**20)


def queue_line() -> str:
    """The sidebar's line on the trainings of the class (or of this server), if there are any."""
    queue = slots()
    training, waiting = queue.counts()
    if not training and not waiting:
        return ""
    if isinstance(queue, ClassSlots):
        return f"Class: {training} training, {waiting} waiting (at most {queue.capacity()} at once)"
    return f"Server: {training} training, {waiting} waiting (at most {queue.limit} at once)"
