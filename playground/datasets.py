"""The data sets of one server process, each loaded once, in the background.

The first page view that needs a data set starts its load (a download, the first time); no page
view waits on it for more than a few seconds, so that a hanging mirror never holds a visitor's
page: each shows how far the download is instead. A failure is kept for a short while, so that
page views do not start a new download each; "Try again" starts one at once.
"""
import logging
import threading
import time
from dataclasses import dataclass, field

from mlp import DatasetError, load_dataset

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Load:
    """One load of one data set: what it has done so far, read by any thread."""

    name: str
    started: float
    data: object = None               # the Dataset, once loaded
    error: DatasetError | None = None  # why it failed, once it has
    fraction: float = 0.0             # of the download so far
    message: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def progress(self, fraction, message):
        self.fraction, self.message = fraction, message


class DataSets:
    """Data sets loaded once per server, on a thread of their own; see the module's docstring.

    ``load`` is `mlp.load_dataset` or a stand-in with its signature; ``retry_after`` is how many
    seconds a failure is kept before a page view may start another load.
    """

    def __init__(self, load=load_dataset, retry_after=30.0, clock=time.monotonic):
        self._load, self.retry_after, self.clock = load, retry_after, clock
        self._loads: dict[str, Load] = {}
        self._lock = threading.Lock()

    def request(self, name: str, retry: bool = False) -> Load:
        """Return the load of ``name``: the one under way or done, or a new one started now (if
        there was none, or the last failed more than ``retry_after`` seconds ago, or ``retry``)."""
        with self._lock:
            load = self._loads.get(name)
            failed = load is not None and load.error is not None
            if load is None or failed and (retry or self.clock() - load.started > self.retry_after):
                load = self._loads[name] = Load(name, self.clock())
                threading.Thread(target=self._run, args=(load,), name=f"load-{name}", daemon=True).start()
            return load

    def _run(self, load: Load):
        try:
            data = self._load(load.name, progress=load.progress)
            for array in data[:4]:
                array.setflags(write=False)  # shared by every session: nobody may change it
            load.data = data
        except DatasetError as e:
            load.error = e
        except Exception as e:  # a bug, not a missing file: the log gets the details
            log.exception("loading %s failed", load.name)
            load.error = DatasetError(f"Loading it failed unexpectedly ({type(e).__name__}); the server's "
                                      "log has the details.")
        finally:
            load.started = self.clock()  # a failure is kept from the moment it failed
            load.done.set()
