"""Make the class database ready before deploy/run.sh starts the app processes, so that a wrong
URL, a database that cannot be reached or a schema from a newer version fails at once, in a
sentence, instead of in every tab. Run from the app's folder (run.sh does):

    cd APP_DIR && .venv/bin/python deploy/classdb_ready.py

It finds the database exactly as the app does (playground.classroom: $MNIST_PLAYGROUND_CLASS_DB,
else [connections.class] of .streamlit/secrets.toml, else the SQLite file in the data folder),
creates or upgrades its schema (playground.classdb.migrate), and says on stderr which database it
is (never its password), whether a teacher token is set, and, for PostgreSQL, whether this
machine's clock agrees with the server's (the queue's heartbeats are wall-clock times). Exit
status 1 if the database cannot be used.
"""
import logging
import os
import re
import socket
import sys
import time
import urllib.parse
from pathlib import Path

sys.path[:0] = [os.getcwd(), str(Path(__file__).resolve().parents[1])]  # the app (run.sh runs this from APP_DIR)
os.environ.setdefault("PGCONNECT_TIMEOUT", "10")  # a server that does not answer: fail in 10 s, not minutes

import sqlalchemy as sa  # noqa: E402

from playground import classdb, classroom  # noqa: E402

# no "missing ScriptRunContext!" warning: st.connection is used here without an app running
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True

SKEW = 2.0  # seconds of clock difference worth a warning (a process's jobs are released after 15 s of silence)


def redact(text: str) -> str:
    """Text with the password of any URL in it replaced by ***."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", str(text))


def say(text):
    text = str(text)
    print(text if text.startswith("the class database") else f"class database: {text}", file=sys.stderr)


def shown(url: str) -> str:
    """A URL as it may be shown: its password hidden; nothing of it if it is not a URL at all."""
    try:
        return urllib.parse.unquote(sa.engine.make_url(url).render_as_string(hide_password=True))
    except Exception:
        return "(not a SQLAlchemy URL: dialect+driver://user:password@host:port/database)"


def main() -> int:
    try:
        engine = classroom.engine()  # creates or upgrades the schema
    except classdb.ClassDBError as e:
        cause = e.__cause__
        detail = f": {redact(cause).splitlines()[0][:300]}" if cause is not None and "set up right" in str(e) else ""
        say(f"{redact(e)}{detail}")
        if os.environ.get(classroom.ENV_DB):
            say(f"${classroom.ENV_DB} is {shown(os.environ[classroom.ENV_DB])}")
        return 1
    with engine.connect() as conn:
        schema = classdb.version(conn)
        server_now = conn.execute(sa.text("SELECT extract(epoch FROM now())")).scalar() \
            if conn.dialect.name == "postgresql" else None
    where = "$" + classroom.ENV_DB if os.environ.get(classroom.ENV_DB) else \
        "secrets.toml" if classroom._secrets("connections", "class") else "the default file"
    say(f"{shown(engine.url)} ({where}), schema {schema}")
    if server_now is not None:
        skew = time.time() - float(server_now)
        if abs(skew) > SKEW:
            say(f"WARNING: this machine's clock ({socket.gethostname()}) is {skew:+.1f} s off the database "
                "server's. Sync the clocks of all machines (NTP: timedatectl, chrony): the training queue "
                "releases the jobs of a process it has not heard from for 15 s by their clocks.")
    token = os.environ.get(classroom.ENV_TOKEN)
    if token is not None and len(token) < classroom.MIN_TOKEN:
        say(f"${classroom.ENV_TOKEN} has {len(token)} characters; it needs at least {classroom.MIN_TOKEN}")
        return 1
    if classroom.teacher_token() is None:
        say(f"note: no teacher token is set (${classroom.ENV_TOKEN} or teacher_token in .streamlit/secrets.toml, "
            f"at least {classroom.MIN_TOKEN} characters): the Class set page cannot be opened")
    else:
        say(f"teacher token: set (from {'$' + classroom.ENV_TOKEN if token else 'secrets.toml'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
