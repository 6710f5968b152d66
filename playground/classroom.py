"""The class as a whole, for the pages: the class database through ``st.connection``, how often a
tab may add to the class set, and the teacher's token.

Where the database is, in order:
1. $MNIST_PLAYGROUND_CLASS_DB, a SQLAlchemy URL (a deployment's or a test's);
2. ``[connections.class]`` in ``.streamlit/secrets.toml`` (a ``url``, or dialect, host, username, ...:
   see ``.streamlit/secrets.example.toml``), the usual Streamlit way;
3. else a SQLite file in the user's data folder (e.g. ~/.local/share/mnist-playground/class.sqlite),
   beside the cache and never in the data set's folder, which may be read-only. It is made on the
   first start, with no setup.

The teacher's token comes from $MNIST_PLAYGROUND_TEACHER_TOKEN or ``teacher_token`` in the secrets;
it is typed into the teacher's page, never put in a URL.
"""
import hashlib
import hmac
import os
import threading
import time
from pathlib import Path

import platformdirs
import streamlit as st

from . import classdb

ENV_DB = "MNIST_PLAYGROUND_CLASS_DB"
ENV_TOKEN = "MNIST_PLAYGROUND_TEACHER_TOKEN"
MIN_TOKEN = 12          # characters of a teacher token at least; a shorter one is not accepted
MAX_TOKEN = 200         # characters of what may be typed as one (longer: refused unread)
GAP = 3.0               # seconds between two drawings one tab adds to the class set
PER_TAB = 100           # drawings one tab may add
TRIES = 5               # wrong tokens before a tab must wait
WAIT = 60.0             # ... this many seconds

_ready, _lock = set(), threading.Lock()


def _secrets(*keys):
    """A value of the secrets, or None (there may be no secrets file at all)."""
    try:
        value = st.secrets
        for key in keys:
            value = value[key]
        return value
    except Exception:  # no secrets.toml, or not that key
        return None


def default_url() -> str:
    folder = Path(platformdirs.user_data_dir("mnist-playground", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'class.sqlite'}"


def engine():
    """The class database's engine (one per process, through st.connection), its schema made or
    upgraded on first use. Raises classdb.ClassDBError with a sentence when it cannot be used."""
    url = os.environ.get(ENV_DB)
    configured = _secrets("connections", "class")
    if not url and not configured:
        url = default_url()
    kwargs = {"url": url} if url else {}
    said = url or str(configured.get("url", configured.get("dialect", "")))
    try:
        conn = st.connection("class", type="sql", **kwargs, **classdb.engine_kwargs(said))
    except Exception as e:  # a wrong URL or setting: say so, the details go to the log
        raise classdb.ClassDBError(f"the class database is not set up right ({type(e).__name__})") from e
    with _lock:
        if id(conn.engine) not in _ready:
            classdb.migrate(conn.engine)   # raises ClassDBError; tried again at the next page run
            _ready.add(id(conn.engine))
    return conn.engine


def wait_to_add() -> float:
    """Seconds this tab must wait before it may add another drawing (inf: it has added its share)."""
    added = st.session_state.get("class_added", [])
    if len(added) >= PER_TAB:
        return float("inf")
    return max(0.0, (added[-1] + GAP - time.monotonic()) if added else 0.0)


def add(image, label, nickname) -> int:
    """Add a drawing to the class set from this tab, if it may; return its id. Raises
    classdb.Refused or classdb.ClassDBError with a sentence (the drawing is then not stored)."""
    wait = wait_to_add()
    if wait == float("inf"):
        raise classdb.Refused(f"This tab has added {PER_TAB} drawings to the class set, its share.")
    if wait > 0:
        raise classdb.Refused(f"One drawing every {GAP:g} seconds: try again in {wait:.0f} s.")
    sample = classdb.add(engine(), image, label, nickname)
    st.session_state.setdefault("class_added", []).append(time.monotonic())
    return sample


# ----------------------------------------------------------------------------
# the teacher


def teacher_token() -> str | None:
    """The server's teacher token, or None if none (or one too short to be safe) is set."""
    token = os.environ.get(ENV_TOKEN) or _secrets("teacher_token")
    return token if isinstance(token, str) and len(token) >= MIN_TOKEN else None


def sign_in(given) -> str | None:
    """Check a typed token; return None when it is right (this tab is then the teacher's), else why not."""
    ss, now = st.session_state, time.monotonic()
    token = teacher_token()
    if token is None:
        return (f"No teacher token is set on this server: set {ENV_TOKEN} (at least {MIN_TOKEN} characters) "
                "or teacher_token in .streamlit/secrets.toml, and restart it.")
    if ss.get("teacher_wait_until", 0) > now:
        return f"Too many wrong tokens: wait {ss.teacher_wait_until - now:.0f} s."
    ok = isinstance(given, str) and len(given) <= MAX_TOKEN and \
        hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))
    if not ok:
        ss.teacher_failures = ss.get("teacher_failures", 0) + 1
        if ss.teacher_failures >= TRIES:
            ss.teacher_failures, ss.teacher_wait_until = 0, now + WAIT
        return "That is not the teacher token."
    ss.teacher = _fingerprint(token)
    ss.teacher_failures = 0
    return None


def _fingerprint(token) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_teacher() -> bool:
    """Whether this tab gave the right token, and that token is still the server's."""
    token = teacher_token()
    return token is not None and hmac.compare_digest(str(st.session_state.get("teacher", "")), _fingerprint(token))


def sign_out():
    st.session_state.pop("teacher", None)
