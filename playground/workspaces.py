"""Each browser's own things on a shared server: its run history and current model.

The browser holds a random key in a cookie that the page sets; nothing in a URL names or opens a
workspace, so a copied link gives its opener a fresh one, and a reload in the same browser finds
its own again. The server keeps the workspaces in memory, by a hash of their key, and bounds
them: a workspace is kept only once it holds something (a run or a model), the ones whose tabs
are all gone expire after a while of inactivity and are the only ones ever evicted, and past the
server's budget their weights go first.
"""
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from playground.runs import RunHistory

COOKIE = "mnist_playground_key"
_KEY = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def new_key() -> str:
    return secrets.token_urlsafe(32)


def valid_key(key) -> bool:
    """True for a key this server could have made; anything else in the cookie is ignored."""
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(eq=False)
class Workspace:
    """One browser's runs and current model, shared by its tabs and found again after a reload.

    ``trainer``, ``job`` and ``loaded`` are what the browser's latest tab made current: the
    Trainer of its last training, that training's job, and a run or upload picked as the
    current model, as (model, data set, label).
    """

    runs: RunHistory
    trainer: object = None
    job: object = None
    loaded: tuple | None = None
    sessions: set = field(default_factory=set)  # ids of the Streamlit sessions (tabs) using it
    last_seen: float = field(default_factory=time.time)

    @property
    def nbytes(self) -> int:
        """Memory held by the weights: the runs', the current trainer's, a picked model's."""
        trainer = self.trainer.nbytes if self.trainer is not None else 0
        return self.runs.model_bytes + trainer + (self.loaded[0].params.nbytes if self.loaded else 0)

    def drop_models(self):
        """Keep the runs' curves and settings; let go of every weight not in use by a training."""
        self.runs.drop_models()
        if self.job is None or not self.job.alive:
            self.trainer = self.job = None
        self.loaded = None


class Workspaces:
    """The workspaces of one server process.

    Parameters
    ----------
    is_active : callable
        ``is_active(session_id)`` tells whether that tab is still connected.
    timeout : float
        Seconds a workspace with no connected tab is kept after its last use.
    max_count : int
        Workspaces kept at most; past it the least recently used one with no tab goes.
    runs_bytes, all_runs_bytes : int
        Weights kept in one workspace's runs, and in all workspaces (runs and current models):
        past the second, workspaces with no tab keep their curves and drop their weights, the
        least recently used first.
    """

    def __init__(self, is_active, timeout=1800.0, max_count=500, runs_bytes=16 * 2**20,
                 all_runs_bytes=256 * 2**20, clock=time.time):
        self.is_active, self.timeout, self.max_count = is_active, timeout, max_count
        self.runs_bytes, self.all_runs_bytes, self.clock = runs_bytes, all_runs_bytes, clock
        self._kept: dict[str, Workspace] = {}
        self._lock = threading.RLock()

    def open(self, key: str, session_id: str) -> Workspace:
        """Return the workspace of ``key`` for the tab ``session_id``: the kept one, or a new one
        (which is kept only once `keep` is called, so that visits alone cost nothing)."""
        with self._lock:
            ws = self._kept.get(_digest(key)) if valid_key(key) else None
            if ws is None:
                ws = Workspace(RunHistory(max_model_bytes=self.runs_bytes))
            self.seen(ws, session_id)
            return ws

    def seen(self, ws: Workspace, session_id: str):
        """Note that ``ws`` is in use by the tab ``session_id`` now."""
        ws.sessions.add(session_id)
        ws.last_seen = self.clock()

    def keep(self, key: str, ws: Workspace) -> bool:
        """Keep ``ws`` under ``key`` from now on; return False if the server is full of workspaces
        whose tabs are all connected (then it lives only as long as its tabs)."""
        with self._lock:
            digest = _digest(key)
            if self._kept.get(digest) is ws:
                return True
            self.sweep()
            if len(self._kept) >= self.max_count:
                return False
            self._kept[digest] = ws
            return True

    def connected(self, ws: Workspace) -> bool:
        """True while one of the workspace's tabs is connected."""
        with self._lock:
            ws.sessions = {s for s in ws.sessions if self.is_active(s)}
            return bool(ws.sessions)

    def sweep(self):
        """Let expired workspaces go, then the least recently used past the count, then the
        weights of unconnected ones past the memory budget; a connected one is never touched."""
        with self._lock:
            now = self.clock()
            by_age = sorted(self._kept.items(), key=lambda item: item[1].last_seen)
            idle = [(d, ws) for d, ws in by_age if not self.connected(ws)]
            for digest, ws in idle:
                if now - ws.last_seen > self.timeout or len(self._kept) >= self.max_count:
                    del self._kept[digest]
            over = sum(ws.nbytes for ws in self._kept.values()) - self.all_runs_bytes
            for digest, ws in idle:
                if over <= 0:
                    break
                if digest in self._kept:
                    before = ws.nbytes
                    ws.drop_models()
                    over -= before - ws.nbytes

    def __len__(self):
        return len(self._kept)
