"""Load test of the app: N students at once, each a real Streamlit session driven over its websocket.

Run from the project's root, with the project's virtual environment:

    .venv/bin/python benchmarks/load.py                      # N = 5, 10, 30, a fresh server for each
    .venv/bin/python benchmarks/load.py --sessions 3 --draws 2 --json out.json
    .venv/bin/python benchmarks/load.py --env MNIST_PLAYGROUND_MAX_JOBS=2 --sessions 10
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8080 --pid 1234  # a running server or proxy
    .venv/bin/python benchmarks/load.py --scenario class                  # a class: see CLASS SCENARIO below
    .venv/bin/python benchmarks/load.py --scenario class --sessions 5 --db postgres

The students are not browsers: a headless browser each is too heavy for 30 of them on a 2-core
machine, and would measure the browsers. Each is an asyncio task speaking Streamlit's own protocol
(BackMsg / ForwardMsg from streamlit.proto) as the frontend does, so the server does a browser's work:

1. GET the page, /_stcore/health (which sets the `_streamlit_xsrf` cookie) and /_stcore/host-config,
   keeping cookies (also a proxy's sticky-session cookie); open /_stcore/stream with that Cookie
   header and the subprotocols ["streamlit", <xsrf cookie>];
2. open the Train page from a shared link, ?preset=fast&images=10000;
3. press Train, then poll as the browser does: each `auto_rerun` the server sends (interval, fragment
   id) starts a timer that reruns the fragment, until a full run or `stop_auto_rerun` cancels it.
   "position N of M" gives the queue's length, and the first "about N s" is compared with the
   wait until the progress says "running"; "Done: 97.84% ..." ends the wait; an error ends
   the student;
4. go to the Draw page and draw D digits, a few seconds apart, pressing Clear between them: a real
   MNIST test image, upscaled to the 280 x 280 canvas, white on black, sent as the canvas sends it
   (its component state: a PNG data URL and fabric's JSON). Latency: from sending the drawing to
   the delta "prediction: **7**"; each draw notes whether some student's job was queued or
   training then ("busy");
5. close the websocket.

Reported per N: students done and failed, tracebacks the pages showed, total time, prediction
latency (p50/p95/max) while busy and overall, right predictions, time from Train to "Done", the
queue's length, the server's memory (VmRSS with its children, sampled every 0.5 s, and VmHWM at
the end), and this client's own CPU time (it shares the machine with the server).

CLASS SCENARIO (--scenario class; N = 60 and 5 drawings unless --sessions, --draws). deploy/run.sh
starts K = 2 app processes (--k) behind nginx on 127.0.0.1:8090 (apps on 8711..), with
MNIST_PLAYGROUND_MAX_JOBS=1 unless --env sets it: one training slot for the machine, shared by both
processes through the class queue; the class database is a fresh SQLite file in the run's folder
(--db postgres: this machine's PostgreSQL through deploy/postgres.sh, as a role and database
mnist_load of its own, PG_PASSFILE ~/.local/share/mnist-playground/load-postgres.pgpass, its
tables emptied first; the class's mnist_playground database is not touched). One
challenge (goal "mnist_test") is created in the database, then each student, through nginx:
opens Train from ?preset=fast&images=5000&epochs=2 (--link), trains and waits for "Done"; draws
D digits on Draw and adds each to the class set under its nickname with its true label ("That was
a …"), at most one every 3 s (--add-gap); submits its run on Challenges under that nickname
("Scored ..."); then watches the leaderboard fragment (run_every 3 s) for --watch seconds, its
nickname having to appear in it. Meanwhile the jobs table is read every 0.5 s: samples with a job
waiting while its host ran fewer jobs than its slots ("idle slot while someone waits"; the
longest such stretch is at most the time between its first and last sample plus 0.5 s), and the
jobs seen running per app process; and each app process's VmRSS. Reported besides: draw and add
latencies, the leaderboard's rows at the end (from the database), the class set's size, the
database's size (the SQLite file with -wal/-shm, or pg_database_size), the process restarts.
run.sh's files and the app logs stay in the printed folder (RUNDIR/logs); run.sh is always stopped.

Protocol notes. The client lists no cached_message_hashes, so the server never sends "ref"
messages. A click sends only the button's trigger, not every widget's value as the frontend
does: the server keeps the others. The websocket client never pings (browsers do not), or a
busy server would be dropped for a late pong. A fresh server's first deep link asks the browser
to reload (playground.frame.through_app): the student opens a new session then, as a browser would.
"""
import argparse
import asyncio
import base64
import contextlib
import http.cookiejar
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from PIL import Image
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mlp import load_dataset  # noqa: E402  (after the path above)
from playground import challenges, classdb  # noqa: E402
from playground.classdb import hosts, jobs  # noqa: E402

SHARED_LINK = "preset=fast&images=10000"
PORTS = range(8610, 8631)
KNOBS = ("MNIST_PLAYGROUND_MAX_JOBS", "MNIST_PLAYGROUND_BLAS_THREADS", "MNIST_PLAYGROUND_SESSION_TIMEOUT")
QUEUED = re.compile(r"position (\d+) of (\d+)")
WAIT = re.compile(r"position \d+ of \d+, about (\d+) (s|min)")
DONE = re.compile(r"Done: ([\d.]+)%")
# "prediction: **7**", or below the Draw page's threshold "prediction: unsure (**7** or **1**)"
PREDICTION = re.compile(r"prediction: (?:unsure \()?\*\*(.+?)\*\*")


class SessionError(Exception):
    """A student cannot go on: what the page showed, or what did not come."""


@dataclass
class Load:
    """What the students of one run share."""
    training: int = 0  # students whose job is queued or running
    max_queue: int = 0
    polls: int = 0  # fragment reruns sent by the auto_rerun timers
    draws: list = field(default_factory=list)  # {"latency", "busy", "correct"}
    exceptions: list = field(default_factory=list)  # tracebacks the pages showed (the student goes on)
    adds: list = field(default_factory=list)  # class scenario: seconds from "Add to the class set" to its success


class Student:
    """One browser tab: its cookies, its websocket, and what the server's messages said."""

    def __init__(self, base: str, load: Load):
        self.base, self.load = base, load
        self.jar = http.cookiejar.CookieJar()  # kept across a reload, as a browser does
        self.ws = self.reader = self.closed = None
        self.pages, self.page, self.path, self.query = {}, "", "", ""
        self.buttons, self.canvas = {}, None
        self.inputs = {}  # label -> (widget id, options) of the text inputs and selectboxes shown
        self.success, self.table = None, None  # the last success alert; the last dataframe's Arrow bytes
        self.done = self.failure = self.prediction = None
        self.promised = self.started = None  # (time, seconds) of the first "about N s"; training's start
        self.phase = "opening the Train page"  # what the student does: said if the session fails
        self.reload = False
        self.runs, self.finished = [], set()  # ids of the full runs started / finished successfully
        self.timers = {}  # fragment id -> (interval, task)
        self.changed = asyncio.Condition()

    # -- connection ---------------------------------------------------------------------------

    def _http(self, page: str) -> str:
        """GET what a browser gets before its websocket; return the Cookie header to send."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        for path in (page, "_stcore/health", "_stcore/host-config"):
            with opener.open(f"{self.base}/{path}", timeout=60) as response:
                response.read()
        self.xsrf = next((c.value for c in self.jar if c.name == "_streamlit_xsrf"), "PLACEHOLDER_AUTH_TOKEN")
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    async def open(self, url_path: str, query: str):
        """Open /url_path?query in a new tab; load it again (a new session) if the page asks to."""
        for _ in range(3):
            cookie = await asyncio.to_thread(self._http, f"{url_path}?{query}")
            # ping_interval=None: browsers never ping, and a busy server may not answer in time
            self.ws = await connect(
                f"ws{self.base[4:]}/_stcore/stream", subprotocols=["streamlit", self.xsrf],
                additional_headers={"Cookie": cookie}, origin="/".join(self.base.split("/")[:3]),
                max_size=None, ping_interval=None, open_timeout=60)
            self.closed, self.path = None, url_path
            self.reader = asyncio.create_task(self._read())
            mark = len(self.runs)
            await self.rerun(page="", page_name=url_path, query=query)  # what the frontend sends first
            await self.until(lambda mark=mark: self.settled(mark))
            if not self.reload:  # see the protocol notes above
                return
            await self.close()
            self.reload = False
        raise SessionError("the page kept asking for a reload")

    async def close(self):
        self.stop_timers()
        if self.ws is not None:
            await self.ws.close()
            await asyncio.gather(self.reader, return_exceptions=True)

    # -- what the server says -----------------------------------------------------------------

    async def _read(self):
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
                async with self.changed:
                    self.changed.notify_all()
        except Exception as e:  # noqa: BLE001 - handed to the waiting student
            self.closed = e
        self.closed = self.closed or SessionError("the server closed the websocket")
        async with self.changed:
            self.changed.notify_all()

    def _handle(self, msg: ForwardMsg):
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # sent only for hashes the client lists in cached_message_hashes: none here
            raise SessionError("the server sent a cached-message reference")
        if kind == "new_session" and not msg.metadata.run.fragment_ids:
            self.stop_timers()  # as the frontend does: a full run announces its fragments' timers again
            self.runs.append(msg.metadata.run.script_run_id)
        elif kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
            self.finished.add(msg.metadata.run.script_run_id)
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            self.page = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            fragment_id, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if self.timers.get(fragment_id, (None,))[0] != interval:
                self.stop_timers([fragment_id])
                self.timers[fragment_id] = (interval, asyncio.create_task(self._tick(fragment_id, interval)))
        elif kind == "stop_auto_rerun":
            self.stop_timers(msg.stop_auto_rerun.fragment_ids)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)

    def _element(self, el):
        kind = el.WhichOneof("type")
        text = getattr(el, kind).body if kind in ("markdown", "alert", "html") else ""
        if kind == "progress" and el.progress.text.startswith("running") and self.started is None:
            self.started = time.perf_counter()
        if kind == "button":
            self.buttons[el.button.label] = el.button.id
        elif kind in ("text_input", "selectbox"):
            widget = getattr(el, kind)
            self.inputs[widget.label] = (widget.id, list(getattr(widget, "options", ())))
        elif kind == "dataframe":
            self.table = el.dataframe.arrow_data.data
        elif kind == "alert" and el.alert.format == Alert.SUCCESS:
            self.success = text
        elif kind == "bidi_component" and "drawable_canvas" in el.bidi_component.component_name:
            self.canvas = el.bidi_component.id
        elif kind == "html" and "location.reload" in text:
            self.reload = True
        elif kind == "exception":
            self.load.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif kind == "alert" and el.alert.format == Alert.ERROR:
            self.failure = text
        if m := QUEUED.search(text):
            self.load.max_queue = max(self.load.max_queue, int(m[2]))
            if self.promised is None and (w := WAIT.search(text)):
                self.promised = (time.perf_counter(), int(w[1]) * (60 if w[2] == "min" else 1))
        if m := DONE.search(text):
            self.done = float(m[1])
        if m := PREDICTION.search(text):
            self.prediction = (m[1], time.perf_counter())

    def settled(self, mark: int) -> bool:
        """True once a full run started after ``mark`` (len(self.runs) then) has finished."""
        return any(run in self.finished for run in self.runs[mark:])

    async def until(self, check):
        async with self.changed:
            await self.changed.wait_for(lambda: check() or self.closed)
        if not check():
            raise SessionError(str(self.closed))

    # -- what the student does ----------------------------------------------------------------

    async def rerun(self, page=None, page_name="", query=None, widgets=(), fragment_id=""):
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query if query is None else query
        state.page_script_hash = self.page if page is None else page
        state.page_name = page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = bool(fragment_id)
        state.widget_states.widgets.extend(widgets)
        state.context_info.url = f"{self.base}/{self.path}?{state.query_string}"
        await self.ws.send(msg.SerializeToString())

    async def _tick(self, fragment_id: str, interval: float):
        """The frontend's setInterval: rerun the fragment, whether or not its last run has ended."""
        try:
            while True:
                await asyncio.sleep(interval)
                await self.rerun(fragment_id=fragment_id)
                self.load.polls += 1
        except ConnectionClosed:
            pass

    def stop_timers(self, fragment_ids=None):
        for fragment_id in list(self.timers if fragment_ids is None else fragment_ids):
            if fragment_id in self.timers:
                self.timers.pop(fragment_id)[1].cancel()

    async def click(self, label: str):
        """Press a button. Only its trigger is sent: the server keeps the other widgets' values."""
        if label not in self.buttons:
            shows = f"; the page shows: {self.failure}" if self.failure else ""
            raise SessionError(f"no {label!r} button{shows}")
        await self.rerun(widgets=[WidgetState(id=self.buttons[label], trigger_value=True)])

    async def goto(self, url_path: str, wanted):
        """Follow a sidebar link (the frontend drops the fragment timers and the query) until
        ``wanted()``. A rerun the last page asked for (st.rerun) may win the race and show that
        page again: then click the link again."""
        for _ in range(3):
            self.stop_timers()
            self.buttons, self.canvas, self.path, self.inputs = {}, None, url_path, {}
            mark = len(self.runs)
            await self.rerun(page=self.pages[url_path], page_name=url_path, query="")
            await self.until(lambda mark=mark: wanted() or self.settled(mark))
            if wanted():
                return
        raise SessionError(f"the {url_path} page did not show what was expected")


def canvas_value(image: np.ndarray) -> str:
    """The canvas component's state after drawing ``image`` (28 x 28): a PNG data URL of the
    280 x 280 canvas, white ink on opaque black, and fabric's JSON of a path through the ink."""
    big = np.kron(image, np.ones((10, 10), dtype=np.uint8))
    png = io.BytesIO()
    Image.fromarray(np.dstack([big, big, big, np.full_like(big, 255)]), "RGBA").save(png, format="PNG")
    ys, xs = np.nonzero(image > 127)
    path = [["L" if i else "M", int(x) * 10 + 5, int(y) * 10 + 5] for i, (y, x) in enumerate(zip(ys, xs))]
    raw = {"version": "6.0.0", "background": "#000000",
           "objects": [{"type": "Path", "stroke": "#FFFFFF", "strokeWidth": 20, "fill": None, "path": path}]}
    data = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    return json.dumps({"drawing": {"raw": raw, "data": data}})


async def session(i: int, n: int, base: str, load: Load, end: float, args, record: dict, link: str,
                  then) -> dict:
    """A student's tab: it arrives in turn over ``args.ramp`` seconds, opens the Train page with
    ``link``, trains, goes to Draw and does ``await then(me)``; ``me.phase`` says what it does,
    for the error if it fails. Return ``record``.

    A failure, or the deadline, ends the session with ``record["error"]`` set; ``record["ok"]``
    says it went through. The tab is closed in any case."""
    me = Student(base, load)
    deadline = asyncio.timeout_at(min(end, asyncio.get_running_loop().time() + args.session_deadline))
    try:
        async with deadline:
            await asyncio.sleep(args.ramp * i / max(n - 1, 1))
            t0 = time.perf_counter()
            await me.open("train", link)
            record["open_s"] = time.perf_counter() - t0
            if backend := next((c.value for c in me.jar if c.name == "mnist_backend"), None):
                record["backend"] = backend  # which app process nginx gave it
            me.phase = "training"
            await train(me, load, record)
            me.phase = "drawing"
            if me.promised and me.started:  # the queue's "about N s" against the wait that followed
                record.update(wait_promised=me.promised[1], wait_actual=me.started - me.promised[0])
            await me.goto("draw", lambda: me.canvas is not None)
            await then(me)
            record["ok"] = True
    except (SessionError, OSError, ConnectionClosed) as e:
        record["error"] = why_failed(e, deadline, me.phase)
    finally:
        await me.close()
    return record


async def student(i: int, n: int, base: str, load: Load, digits, end: float, args) -> dict:
    """Student ``i`` of ``n``: steps 1-5 of the module's docstring; return its record."""
    rng = random.Random(args.seed * 1000 + i)

    async def drawing(me):
        for k in range(args.draws):
            index = rng.randrange(len(digits[1]))
            value, label = canvas_value(digits[0][index]), str(digits[1][index])
            await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))
            await draw(me, load, k, value, label)

    return await session(i, n, base, load, end, args, {"student": i}, SHARED_LINK, drawing)


async def train(me, load, record):
    """Press Train and wait for "Done"; the record gets the time it took and the accuracy."""
    await me.click("Train")
    t1 = time.perf_counter()
    load.training += 1  # the draws note whether some student's job was queued or training then
    try:
        await me.until(lambda: me.done is not None or me.failure)
    finally:
        load.training -= 1
    if me.failure:
        raise SessionError(f"training: {me.failure}")
    record.update(train_s=time.perf_counter() - t1, accuracy=me.done)


async def draw(me, load, k, value, label) -> int:
    """Draw the ``k``-th digit (a fresh canvas after the first) and wait for its prediction; note
    the latency. Return the mark of the run it was sent in."""
    if k:
        old = me.canvas
        await me.click("Clear")
        await me.until(lambda: me.canvas not in (None, old))
    me.prediction, busy, mark = None, load.training > 0, len(me.runs)
    sent = time.perf_counter()
    await me.rerun(widgets=[WidgetState(id=me.canvas, json_value=value)])
    await me.until(lambda: me.prediction is not None or me.failure or me.settled(mark))
    if me.prediction is None:
        raise SessionError(f"drawing {k + 1}: no prediction ({me.failure or 'none in the run'})")
    load.draws.append({"latency": me.prediction[1] - sent, "busy": busy, "correct": me.prediction[0] == label})
    return mark


def why_failed(error, deadline, phase) -> str:
    """What a student's record says when it did not finish."""
    if isinstance(error, TimeoutError) and deadline.expired():
        return f"deadline reached while {phase}"
    return f"{type(error).__name__}: {error}"


# -- the server and its memory ------------------------------------------------------------------

BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # slow kernels for small products when set


def server_env(extra_env: dict) -> dict:
    """The started server's environment: ours without BLAS_VARS, plus ``extra_env``."""
    return {k: v for k, v in os.environ.items() if k not in BLAS_VARS} | extra_env


def blas_kernel(env: dict) -> str:
    """The BLAS library, kernel and threads that numpy loads with ``env`` (as the server does)."""
    code = ("import numpy; from threadpoolctl import threadpool_info as t; print('; '.join(f\"{i['internal_api']} "
            "{i['version']} {i.get('architecture')}\" for i in t()))")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()


def start_server(extra_env: dict, log) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` on a free port of PORTS; return it and its address once healthy."""
    for port in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                break
    else:
        raise SystemExit(f"no free port in {PORTS.start}-{PORTS.stop - 1}")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=server_env(extra_env), stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                return server, base
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    stop_server(server)
    raise SystemExit(f"the server did not start: see {log.name}")


def stop_server(server: subprocess.Popen):
    """End the server we started, and its process group."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass


def memory_mb(pids, key="VmRSS") -> float:
    """Sum of ``key`` (VmRSS, VmHWM) over ``pids`` and all their children, in MB."""
    seen, todo, total = set(), list(pids), 0
    while todo:
        pid = todo.pop()
        seen.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(rf"^{key}:\s+(\d+)", status, re.MULTILINE)[1])
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                todo += [c for c in map(int, children.read_text().split()) if c not in seen]
        except (OSError, TypeError):  # gone, or a zombie without memory
            pass
    return total / 1024


async def sample_rss(pids, peak: list):
    while True:
        peak[0] = max(peak[0], memory_mb(pids))
        await asyncio.sleep(0.5)


# -- one run, the report ------------------------------------------------------------------------

def spread(values, *percents, scale=1.0):
    """Nearest-rank percentiles of ``values`` (100: the max) times ``scale``; Nones without values."""
    values = sorted(values)
    return [values[max(0, int(np.ceil(q / 100 * len(values))) - 1)] * scale if values else None
            for q in percents]


async def run_load(n: int, base: str, pids, digits, args) -> dict:
    load, peak = Load(), [0.0]
    sampler = asyncio.create_task(sample_rss(pids, peak))
    end = asyncio.get_running_loop().time() + args.deadline
    t0, cpu0 = time.perf_counter(), time.process_time()
    records = await asyncio.gather(*(student(i, n, base, load, digits, end, args) for i in range(n)))
    total = time.perf_counter() - t0
    sampler.cancel()
    busy = [d["latency"] for d in load.draws if d["busy"]]
    trained = [r for r in records if "train_s" in r]
    waited = [r for r in records if "wait_actual" in r]
    return {
        "sessions": n, "completed": sum("ok" in r for r in records),
        "failed": sum("error" in r for r in records),
        "first_errors": [r["error"] for r in records if "error" in r][:3], "total_s": total,
        "exceptions": len(load.exceptions), "first_exceptions": sorted(set(load.exceptions))[:3],
        "busy_ms": spread(busy, 50, 95, 100, scale=1000), "busy_draws": len(busy),
        "all_ms": spread([d["latency"] for d in load.draws], 50, 95, 100, scale=1000),
        "right": [sum(d["correct"] for d in load.draws), len(load.draws)],
        "trained": len(trained), "train_s": spread([r["train_s"] for r in trained], 50, 100),
        "accuracy": spread([r["accuracy"] for r in trained], 50)[0], "max_queue": load.max_queue,
        "wait_s": spread([r["wait_actual"] for r in waited], 50) + spread([r["wait_promised"] for r in waited], 50)
        + spread([abs(r["wait_actual"] - r["wait_promised"]) for r in waited], 50),
        "polls": load.polls, "rss_mb": [peak[0], memory_mb(pids, "VmHWM")] if pids else [None, None],
        "client_cpu_s": time.process_time() - cpu0, "records": records, "draws": load.draws,
    }


COLUMNS = [  # title, key in run_load()'s result, format of each value
    ("N", "sessions", "{}"), ("ok", "completed", "{}"), ("failed", "failed", "{}"),
    ("exc", "exceptions", "{}"), ("total s", "total_s", "{:.0f}"),
    ("busy draws p50/p95/max ms", "busy_ms", "{:.0f}"), ("all draws ms", "all_ms", "{:.0f}"),
    ("right", "right", "{}"), ("trained", "trained", "{}"), ("train p50/max s", "train_s", "{:.1f}"),
    ("acc %", "accuracy", "{:.2f}"), ("queue", "max_queue", "{}"),
    ("queue wait p50: real/said/error s", "wait_s", "{:.0f}"), ("RSS peak/HWM MB", "rss_mb", "{:.0f}"),
    ("client cpu s", "client_cpu_s", "{:.1f}"),
]


def print_table(results, columns=None):
    columns = columns or COLUMNS

    def cell(value, fmt):
        values = value if isinstance(value, list) else [value]
        return "/".join("-" if v is None else fmt.format(v) for v in values)

    rows = [[title for title, _, _ in columns]]
    rows += [[cell(r[key], fmt) for _, key, fmt in columns] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


def measure(n: int, args, extra_env: dict, digits) -> dict:
    """One run of ``n`` students, on a fresh server unless --url."""
    if args.url:
        print(f"\nN={n}: {args.url}", flush=True)
        return asyncio.run(run_load(n, args.url.rstrip("/"), args.pid, digits, args))
    with tempfile.NamedTemporaryFile("w", prefix="load-streamlit-", suffix=".log", delete=False) as log:
        server, base = start_server(extra_env, log)
        try:
            print(f"\nN={n}: {base}, server log {log.name}", flush=True)
            return asyncio.run(run_load(n, base, [server.pid], digits, args))
        finally:
            stop_server(server)


# -- the class scenario: K processes behind nginx, one class database ---------------------------

CLASS_LINK = "preset=fast&images=5000&epochs=2"
CLASS_LISTEN = "127.0.0.1:8090"   # nginx; not run.sh's default 8080, which a running setup may hold
CLASS_BASE_PORT = 8711


def table_rows(arrow: bytes | None) -> list:
    """The rows of a dataframe element's Arrow IPC bytes, as dicts."""
    if not arrow:
        return []
    return pa.ipc.open_stream(arrow).read_all().to_pylist()


async def class_student(i: int, n: int, base: str, load: Load, digits, end: float, args) -> dict:
    """Student ``i`` of the class scenario: train from a link, add drawings to the class set with a
    nickname, submit the run to the challenge, and watch the leaderboard until the nickname is on it."""
    rng = random.Random(args.seed * 1000 + i)
    nick = f"student-{i:03d}"
    record = {"student": i, "nickname": nick}

    async def in_class(me):
        async def press(label, widgets=(), wanted=None):
            """Send ``widgets`` with a click on ``label``; wait for ``wanted()``, a failure or the run's end."""
            if label not in me.buttons:
                raise SessionError(f"no {label!r} button" + (f"; the page shows: {me.failure}" if me.failure else ""))
            me.success, me.failure, mark = None, None, len(me.runs)
            await me.rerun(widgets=[*widgets, WidgetState(id=me.buttons[label], trigger_value=True)])
            await me.until(lambda: (wanted and wanted()) or me.failure or (not wanted and me.settled(mark)))
            if me.failure:
                raise SessionError(f"{label}: {me.failure}")

        def typed(label, value):
            if label not in me.inputs:
                raise SessionError(f"no {label!r} field")
            return WidgetState(id=me.inputs[label][0], string_value=value)

        added, last_add = 0, -1e9
        for k in range(args.draws):
            index = rng.randrange(len(digits[1]))
            value, label = canvas_value(digits[0][index]), int(digits[1][index])
            await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))
            me.inputs.pop("That was a …", None)
            mark = await draw(me, load, k, value, str(label))
            await me.until(lambda mark=mark: me.settled(mark))  # the rest of the page: its fields
            truth = me.inputs.get("That was a …")
            if truth is None:
                raise SessionError(f"drawing {k + 1}: no 'That was a …' field")
            option = next((o for o in truth[1] if o == str(label) or o.startswith(f"{label} ")), None)
            await asyncio.sleep(max(0.0, last_add + args.add_gap - time.perf_counter()))  # one every 3 s
            t2 = time.perf_counter()
            await press("Add to the class set",
                        [typed("Your nickname", nick), WidgetState(id=truth[0], string_value=option)],
                        lambda: me.success and me.success.startswith("Added to the class set"))
            last_add = time.perf_counter()
            load.adds.append(last_add - t2)
            added += 1
        record["added"], me.phase = added, "submitting"
        await me.goto("challenges", lambda: "Submit this run" in me.buttons)
        t3 = time.perf_counter()
        await press("Submit this run", [typed("Your nickname", nick)],
                    lambda: me.success and me.success.startswith("Scored "))
        record.update(submit_s=time.perf_counter() - t3, scored=me.success[:40])
        me.phase = "watching the leaderboard"
        t4, seen = time.perf_counter(), None
        while True:  # the fragment reruns itself every 3 s: watch it for args.watch seconds
            rows = table_rows(me.table)
            if seen is None and any(r.get("nickname") == nick for r in rows):
                seen = time.perf_counter() - t4
            if time.perf_counter() - t4 >= args.watch and seen is not None:
                break
            if time.perf_counter() - t4 >= 3 * args.watch:
                raise SessionError(f"{nick} not on the leaderboard after {3 * args.watch:.0f} s ({len(rows)} rows)")
            async with me.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(me.changed.wait(), 1.0)
            if me.closed:
                raise SessionError(str(me.closed))
        record.update(on_board_s=seen, board_rows=len(table_rows(me.table)))

    return await session(i, n, base, load, end, args, record, args.link, in_class)


def start_class(args, rundir: Path, extra_env: dict) -> tuple[subprocess.Popen, str, str]:
    """deploy/run.sh with K processes and a fresh class database; return it, nginx's address, the DB URL."""
    env = server_env(extra_env) | {"K": str(args.k), "RUNDIR": str(rundir), "LISTEN": CLASS_LISTEN,
                                   "BASE_PORT": str(CLASS_BASE_PORT)}
    env.setdefault("MNIST_PLAYGROUND_MAX_JOBS", "1")
    if args.db == "postgres":  # a role and database of its own (PG_NAME), never the class's mnist_playground
        pg = env | {"PG_NAME": "mnist_load",
                    "PG_PASSFILE": str(Path.home() / ".local/share/mnist-playground/load-postgres.pgpass")}
        url = subprocess.run([str(ROOT / "deploy/postgres.sh")], env=pg, capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        engine = sa_engine(url)
        with engine.begin() as conn:  # a fresh class: empty its tables (the schema stays)
            for name in ("jobs", "processes", "hosts", "samples", "submissions", "challenges"):
                if sa.inspect(conn).has_table(name):
                    conn.execute(sa.text(f"DELETE FROM {name}"))
        engine.dispose()
        env |= {"DB": "sqlite", "MNIST_PLAYGROUND_CLASS_DB": url}  # the URL wins over DB in run.sh
        env.pop("CLASS_DB_FILE", None)
    else:
        env |= {"DB": "sqlite", "CLASS_DB_FILE": str(rundir / "class.sqlite")}
        env.pop("MNIST_PLAYGROUND_CLASS_DB", None)
        url = f"sqlite:///{rundir / 'class.sqlite'}"
    with open(rundir / "run.sh.log", "w") as log:  # the child keeps its own descriptor
        run = subprocess.Popen([str(ROOT / "deploy/run.sh")], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://{CLASS_LISTEN}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                return run, base, url
        except OSError:
            if run.poll() is not None:
                break
            time.sleep(0.5)
    stop_server(run)
    raise SystemExit(f"deploy/run.sh did not come up: see {rundir}/run.sh.log and {rundir}/logs")


def sa_engine(url: str):
    return classdb.engine_for(url)


def app_pids(rundir: Path) -> dict:
    """port -> pid of the app processes run.sh started (its pid files)."""
    pids = {}
    for f in rundir.glob("app-*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids[f.stem[4:]] = int(f.read_text())
    return pids


async def watch_class(rundir: Path, engine, state: dict, every: float = 0.5):
    """Every ``every`` s: the jobs table (idle slot while someone waits; jobs per process) and each app
    process's RSS."""

    def look():
        with engine.connect() as conn:
            slots = dict(conn.execute(sa.select(hosts.c.host, hosts.c.slots)).all())
            rows = conn.execute(sa.select(jobs.c.id, jobs.c.host, jobs.c.process, jobs.c.state)).all()
        return slots, rows

    idle_since = None
    while True:
        now = time.perf_counter()
        for port, pid in app_pids(rundir).items():
            state["pids"].setdefault(port, set()).add(pid)
            state["rss"][port] = max(state["rss"].get(port, 0.0), memory_mb([pid]))
        try:
            slots, rows = await asyncio.to_thread(look)
        except Exception as e:  # noqa: BLE001 - a locked or busy database: count it, look again
            state["look_errors"] += 1
            state["last_look_error"] = f"{type(e).__name__}: {str(e)[:120]}"
            await asyncio.sleep(every)
            continue
        state["samples"] += 1
        idle = False
        for host, limit in slots.items():
            running = [r for r in rows if r.host == host and r.state == "running"]
            waiting = [r for r in rows if r.host == host and r.state == "waiting"]
            state["max_running"] = max(state["max_running"], len(running))
            state["max_waiting"] = max(state["max_waiting"], len(waiting))
            idle |= bool(waiting) and len(running) < limit
            for r in running:
                state["ran"].setdefault(r.process, set()).add(r.id)
        if idle:
            state["idle_samples"] += 1
            idle_since = now if idle_since is None else idle_since
            state["idle_max_s"] = max(state["idle_max_s"], now - idle_since + every)  # at most this long
        else:
            idle_since = None
        await asyncio.sleep(max(0.0, every - (time.perf_counter() - now)))


async def run_class(n: int, base: str, rundir: Path, url: str, digits, args) -> dict:
    engine = sa_engine(url)
    challenge = challenges.create(engine, "Load test", "mnist_test", time.time() + 86400)
    load = Load()
    state = {"pids": {}, "rss": {}, "samples": 0, "idle_samples": 0, "idle_max_s": 0.0, "look_errors": 0,
             "max_running": 0, "max_waiting": 0, "ran": {}}
    watcher = asyncio.create_task(watch_class(rundir, engine, state))
    end = asyncio.get_running_loop().time() + args.deadline
    t0, cpu0 = time.perf_counter(), time.process_time()
    records = await asyncio.gather(*(class_student(i, n, base, load, digits, end, args) for i in range(n)))
    total = time.perf_counter() - t0
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    board = challenges.leaderboard(engine, challenge)
    samples = sum(classdb.counts(engine).values())  # drawings in the class set
    hwm = {port: max(memory_mb([pid], "VmHWM") for pid in pids) for port, pids in state["pids"].items()}
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        # the file, and with its -wal and -shm (the WAL file keeps its size after a checkpoint: ~4 MB)
        db_mb = [path.stat().st_size / 2**20, sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20]
    else:
        with engine.connect() as conn:
            db_mb = [conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one() / 2**20]
    engine.dispose()
    trained = [r for r in records if "train_s" in r]
    backends = {}
    for r in trained:
        backends[r.get("backend")] = backends.get(r.get("backend"), 0) + 1
    return {
        "sessions": n, "completed": sum("ok" in r for r in records), "failed": sum("error" in r for r in records),
        "first_errors": [r["error"] for r in records if "error" in r][:5], "total_s": total,
        "exceptions": len(load.exceptions), "first_exceptions": sorted(set(load.exceptions))[:3],
        "all_ms": spread([d["latency"] for d in load.draws], 50, 95, 100, scale=1000),
        "busy_ms": spread([d["latency"] for d in load.draws if d["busy"]], 50, 95, 100, scale=1000),
        "right": [sum(d["correct"] for d in load.draws), len(load.draws)],
        "add_ms": spread(load.adds, 50, 95, 100, scale=1000), "added": len(load.adds),
        "trained": len(trained), "train_s": spread([r["train_s"] for r in trained], 50, 100),
        "accuracy": spread([r["accuracy"] for r in trained], 50)[0], "max_queue": load.max_queue,
        "submit_ms": spread([r["submit_s"] for r in records if "submit_s" in r], 50, 95, scale=1000),
        "board_s": spread([r["on_board_s"] for r in records if r.get("on_board_s") is not None], 50, 100),
        "board_rows": len(board), "class_samples": samples,
        "queue_samples": state["samples"], "idle_samples": state["idle_samples"],
        "idle_max_s": state["idle_max_s"] if state["idle_samples"] else 0.0, "look_errors": state["look_errors"],
        "last_look_error": state.get("last_look_error"),
        "max_running": state["max_running"], "max_waiting": state["max_waiting"],
        "jobs_per_process": {p.split(":")[1] if ":" in p else p: len(ids) for p, ids in state["ran"].items()},
        "students_per_backend": backends,
        "rss_peak_mb": state["rss"], "rss_hwm_mb": hwm, "restarts": {p: len(s) - 1 for p, s in state["pids"].items()},
        "db_mb": db_mb, "client_cpu_s": time.process_time() - cpu0, "records": records, "draws": load.draws,
    }


CLASS_COLUMNS = [
    ("N", "sessions", "{}"), ("ok", "completed", "{}"), ("failed", "failed", "{}"), ("exc", "exceptions", "{}"),
    ("total s", "total_s", "{:.0f}"), ("draws p50/p95/max ms", "all_ms", "{:.0f}"),
    ("add p50/p95/max ms", "add_ms", "{:.0f}"), ("trained", "trained", "{}"),
    ("train p50/max s", "train_s", "{:.1f}"), ("acc %", "accuracy", "{:.2f}"), ("queue", "max_queue", "{}"),
    ("submit p50/p95 ms", "submit_ms", "{:.0f}"), ("on board p50/max s", "board_s", "{:.1f}"),
    ("board rows", "board_rows", "{}"), ("idle-slot samples", "idle_samples", "{}"),
    ("DB MB (+WAL)", "db_mb", "{:.2f}"), ("client cpu s", "client_cpu_s", "{:.1f}"),
]


def measure_class(n: int, args, extra_env: dict, digits) -> dict:
    rundir = Path(tempfile.mkdtemp(prefix="load-class-"))
    run, base, url = start_class(args, rundir, extra_env)
    try:
        print(f"\nN={n}: deploy/run.sh K={args.k} DB={args.db} behind {base}; "
              f"MNIST_PLAYGROUND_MAX_JOBS={extra_env['MNIST_PLAYGROUND_MAX_JOBS']}; "
              f"files and logs in {rundir}", flush=True)
        result = asyncio.run(run_class(n, base, rundir, url, digits, args))
        result["rundir"] = str(rundir)
        return result
    finally:
        stop_server(run)


def print_class(r: dict):
    print_table([r], CLASS_COLUMNS)
    print(f"  queue: {r['queue_samples']} samples of the jobs table every 0.5 s; {r['idle_samples']} with a job "
          f"waiting while fewer than the host's slots ran (longest such stretch <= {r['idle_max_s']:.1f} s); "
          f"at most {r['max_running']} running, {r['max_waiting']} waiting; {r['look_errors']} failed looks"
          + (f" ({r['last_look_error']})" if r["last_look_error"] else ""))
    print(f"  jobs seen running per app process (pid): {r['jobs_per_process']}; "
          f"students trained per nginx backend cookie: {r['students_per_backend']}")
    print("  RSS peak per app process (port: MB): "
          + ", ".join(f"{p}: {v:.0f}" for p, v in sorted(r['rss_peak_mb'].items()))
          + "; VmHWM: " + ", ".join(f"{p}: {v:.0f}" for p, v in sorted(r['rss_hwm_mb'].items()))
          + f"; restarts: {r['restarts']}")
    print(f"  class set: {r['class_samples']}; draws right {r['right'][0]}/{r['right'][1]}; "
          f"adds {r['added']}; class DB {'/'.join(f'{v:.2f}' for v in r['db_mb'])} MB; logs in {r['rundir']}/logs")
    for error in r["first_errors"]:
        print(f"  error: {error}")
    for error in r["first_exceptions"]:
        print(f"  a page showed: {error}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, nargs="+", default=[5, 10, 30], help="numbers of students")
    p.add_argument("--draws", type=int, default=3, help="digits each student draws")
    p.add_argument("--think", type=float, default=3.0, help="mean seconds before each drawing")
    p.add_argument("--ramp", type=float, default=2.5, help="seconds over which the students arrive")
    p.add_argument("--session-deadline", type=float, default=600, help="seconds for one student")
    p.add_argument("--deadline", type=float, default=900, help="seconds for one run of N students")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="for the started server")
    p.add_argument("--url", help="drive this running server (on 127.0.0.1) instead of starting one")
    p.add_argument("--pid", type=int, action="append", default=[], help="with --url: a server pid, for RSS")
    p.add_argument("--seed", type=int, default=0, help="picks the test images")
    p.add_argument("--json", help="save the results here")
    p.add_argument("--scenario", choices=("single", "class"), default="single",
                   help="single: one fresh server per N (steps 1-5); class: deploy/run.sh, a shared class DB, "
                        "a challenge (see CLASS SCENARIO in the docstring)")
    p.add_argument("--k", type=int, default=2, help="class: app processes behind nginx")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite", help="class: the class database")
    p.add_argument("--link", default=None, help=f"class: the Train link (default {CLASS_LINK})")
    p.add_argument("--watch", type=float, default=10.0, help="class: seconds to watch the leaderboard")
    p.add_argument("--add-gap", type=float, default=3.3, help="class: seconds between two class-set adds (limit 3)")
    args = p.parse_args()
    if args.scenario == "class":
        if args.url:
            p.error("--scenario class starts its own deploy/run.sh: no --url")
        args.sessions = [60] if "--sessions" not in sys.argv else args.sessions
        args.draws = 5 if "--draws" not in sys.argv else args.draws
        args.deadline = 1500 if "--deadline" not in sys.argv else args.deadline
        args.session_deadline = 1400 if "--session-deadline" not in sys.argv else args.session_deadline
        args.link = args.link or CLASS_LINK
    if args.url and urllib.parse.urlparse(args.url).hostname != "127.0.0.1":
        p.error("--url must be on 127.0.0.1")
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    print("data:", os.environ.get("MNIST_PLAYGROUND_DATA") or "MNIST_PLAYGROUND_DATA unset, the app's cache")
    test = load_dataset("mnist")
    if args.scenario == "class":
        extra_env.setdefault("MNIST_PLAYGROUND_MAX_JOBS", os.environ.get("MNIST_PLAYGROUND_MAX_JOBS", "1"))
    knobs = {k: "default" for k in KNOBS} | {k: v for k, v in (os.environ | extra_env).items()
                                             if k.startswith(("MNIST_PLAYGROUND_", "STREAMLIT_"))}
    print(f"cpus: {os.cpu_count()}  " + "  ".join(f"{k}={v}" for k, v in knobs.items())
          + (f"  (here; {args.url} has its own, and keeps its state between runs)" if args.url else ""))
    if not args.url:
        dropped = [k for k in BLAS_VARS if k in os.environ]
        print(f"server BLAS: {blas_kernel(server_env(extra_env))}"
              + (f" ({', '.join(dropped)} removed from its environment)" if dropped else ""))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwinds through measure(), which stops the server
    results = []
    try:
        for n in args.sessions:
            if args.scenario == "class":
                results.append(measure_class(n, args, extra_env, (test.x_test, test.y_test)))
                print_class(results[-1])
                continue
            results.append(measure(n, args, extra_env, (test.x_test, test.y_test)))
            print_table(results[-1:])
            for error in results[-1]["first_errors"]:
                print(f"  error: {error}")
            for error in results[-1]["first_exceptions"]:
                print(f"  a page showed: {error}")
    except KeyboardInterrupt:
        print("\ninterrupted")
    if args.scenario == "class":
        print("\nclass scenario: add = 'Add to the class set' to its success; submit = 'Submit this run' to "
              "'Scored'; on board = submit to the nickname in the leaderboard fragment; idle-slot samples: "
              "see the queue line")
        for r in results:
            print_class(r)
    else:
        print("\nbusy draws: while some student's job was queued or training; p50/p95/max over the run's draws;"
              "\nexc: tracebacks the pages showed (the students went on)")
        print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "knobs": knobs, "cpus": os.cpu_count(),
                                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
