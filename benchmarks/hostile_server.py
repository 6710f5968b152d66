"""What hostile clients cost a real `streamlit run` server, before and after the hardening.

Run from the project's root, with the project's virtual environment and a local copy of the data:

    MNIST_PLAYGROUND_DATA=../shared/datasets .venv/bin/python benchmarks/hostile_server.py
    MNIST_PLAYGROUND_DATA=../shared/datasets .venv/bin/python benchmarks/hostile_server.py --old ../old-app

Two servers run side by side on free ports of 127.0.0.1: "old", the app at OLD_COMMIT (the folder
given by --old, else a temporary git worktree, removed at the end) and "new", this checkout. Each is
`python -m streamlit run app.py` in its own folder (so with its own .streamlit/config.toml), without
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in its environment. A client speaks Streamlit's websocket
protocol to it (benchmarks/load.py's `Student`, extended here with file uploads) and sends, case by
case, old then new (new then old for the next case):

1. canvas: after training a tiny model (fast preset, 1,000 images, 1 epoch), the Draw page's canvas
   state carries in place of the drawing (a) a 12000 x 12000 RGBA PNG of opaque black pixels
   (560 kB; 576 MB once decoded), (b) the same at 8000 x 8000 (within the new size bound; the PNG
   header check refuses it), (c) random bytes as a base64 "PNG", (d) a 280 x 280 LA-mode PNG, and
   (e) a drawn test digit, the control, which must give a prediction on both;
2. upload: the Compare runs page's model uploader receives, through Streamlit's upload protocol
   (BackMsg file_urls_request, PUT of multipart form data, a rerun with the uploader's
   FileUploaderState), (a) a 784-8-10 model with a `junk` member of 250 M float64 zeros (2 GB
   unpacked, 2 MB deflated), (b) a 784-100000-10 model of zeros (313 MB unpacked, 310 kB), and
   (c) a 784-8-10 model with float64 weights of 1e39 (infinite once float32);
3. full batch: three sessions open /train?preset=notebook&epochs=1 (one full-batch update on all
   60,000 images), press Train and wait for "Done:"; "after" is taken once all three ended, with
   the three sessions still connected.

For each case: the server's VmRSS before, its peak while the case ran (VmRSS sampled every 0.1 s
from /proc, and VmHWM, reset through /proc/PID/clear_refs just before), VmRSS 1 s after the page's
run finished, the seconds from sending the rerun (case 3: the clicks) to the end of that run, and
what the page's main area showed (exception, alert, caption, prediction). The generated files are
cached in /tmp/hostile-server, with the servers' logs.
"""
import argparse
import asyncio
import base64
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.Markdown_pb2 import Markdown
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_upload import write_case  # puts the project's root on sys.path too
from load import (BLAS_VARS, PREDICTION, Load, SessionError, Student, blas_kernel, canvas_value, memory_mb,
                  server_env, stop_server)
from mlp import load_dataset

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "d1103f2"
CACHE = Path(tempfile.gettempdir()) / "hostile-server"
CASE_TIMEOUT = 180.0   # seconds for one case, its setup included
RUN_TIMEOUT = 1500.0   # seconds for the whole run, both servers
SETTLE = 1.0           # seconds between a run's end and the "after" reading
NOTE = 110             # characters of one thing a page showed
UPLOAD_NOTES = ("exception", "error", "success", "warning")  # the Compare page's upload results


# -- the hostile inputs, made once and cached --------------------------------------------------

def cached(name: str, write) -> Path:
    """Return CACHE/name, made by ``write(path)`` (into a temporary name first) if missing."""
    path = CACHE / name
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        part = path.with_name(f"part-{name}")  # same suffix: np.savez adds ".npz" otherwise
        write(part)
        part.replace(path)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_black_png(path: Path, side: int):
    """A side x side RGBA PNG of opaque black, deflated 64 rows at a time (never all in memory)."""
    row = b"\0" + b"\0\0\0\xff" * side  # filter byte "none", then the pixels
    z, idat = zlib.compressobj(9), []
    for start in range(0, side, 64):
        idat.append(z.compress(row * min(64, side - start)))
    idat.append(z.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)  # 8 bits, colour type 6 (RGBA)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"".join(idat))
                     + png_chunk(b"IEND", b""))


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def la_png(digit: np.ndarray) -> bytes:
    """The digit at the canvas's 280 x 280, but as an LA (grey and alpha) PNG."""
    big = np.kron(digit, np.ones((10, 10), dtype=np.uint8))
    out = io.BytesIO()
    Image.fromarray(np.dstack([big, np.full_like(big, 255)]), "LA").save(out, format="PNG")
    return out.getvalue()


def with_image(value: str, url: str) -> str:
    """A canvas state (canvas_value's JSON) whose drawing's PNG data URL is ``url`` instead."""
    state = json.loads(value)
    state["drawing"]["data"] = url
    return json.dumps(state)


def canvas_cases(digit: np.ndarray, label: int) -> dict:
    """Case name -> the canvas component's state to send."""
    drawn = canvas_value(digit)
    black = {side: cached(f"black-{side}.png", lambda p, s=side: write_black_png(p, s)).read_bytes()
             for side in (12000, 8000)}
    junk = np.random.default_rng(0).bytes(100_000)
    return {"canvas 12000^2": with_image(drawn, data_url(black[12000])),
            "canvas 8000^2": with_image(drawn, data_url(black[8000])),
            "canvas random": with_image(drawn, data_url(junk)),
            "canvas LA": with_image(drawn, data_url(la_png(digit))),
            f"canvas digit {label}": drawn}


def upload_cases() -> dict:
    """Case name -> a model file (hostile_upload.py's files)."""
    return {f"upload {name}": cached(f"{name}.npz", lambda p, n=name: write_case(n, p))
            for name in ("junk", "wide", "1e39")}


# -- a client that also uploads, and notes what the page showed --------------------------------

def describe(el) -> str | None:
    """What a main-area element says, if it is one of those the cases look for."""
    kind = el.WhichOneof("type")
    if kind == "exception":
        return f"exception {el.exception.type}: {el.exception.message}"
    if kind == "alert":
        return f"{Alert.Format.Name(el.alert.format).lower()}: {el.alert.body}"
    if kind == "markdown" and el.markdown.element_type == Markdown.CAPTION:
        return f"caption: {el.markdown.body}"
    if kind == "markdown" and (m := PREDICTION.search(el.markdown.body)):
        return f"prediction {m[1]}"
    return None


class Visitor(Student):
    """load.py's Student, which also keeps its session's id, the model uploader's widget id, the
    file_urls responses, and what the main area showed since `shown` was last emptied."""

    def __init__(self, base: str):
        super().__init__(base, Load())
        self.session_id = self.uploader = None
        self.upload_urls = {}  # request id -> FileURLs of its one file
        self.shown = []
        self._main = False

    def _handle(self, msg):
        kind = msg.WhichOneof("type")
        if kind == "new_session" and msg.new_session.initialize.session_id:
            self.session_id = msg.new_session.initialize.session_id
        elif kind == "file_urls_response":
            response = msg.file_urls_response
            self.upload_urls[response.response_id] = response.file_urls[0] if response.file_urls else None
        self._main = kind == "delta" and msg.metadata.delta_path[:1] == [0]  # 1 is the sidebar
        super()._handle(msg)

    def _element(self, el):
        super()._element(el)
        if el.WhichOneof("type") == "file_uploader":
            self.uploader = el.file_uploader.id
        if self._main and (note := describe(el)):
            self.shown.append(note)

    async def show(self, widgets, only=()) -> str:
        """Rerun with ``widgets``; return what the main area showed once the run finished
        (with ``only``, the notes that start with one of those words)."""
        self.shown, mark = [], len(self.runs)
        await self.rerun(widgets=widgets)
        await self.until(lambda: self.settled(mark))
        notes = [n if len(n) <= NOTE else n[:NOTE] + "..." for n in self.shown if n.startswith(only or "")]
        return "; ".join(notes) or "(nothing of note)"

    async def upload(self, path: Path) -> WidgetState:
        """Upload ``path`` as the frontend does; return the uploader's state that names it."""
        request_id = uuid.uuid4().hex
        msg = BackMsg()
        msg.file_urls_request.request_id, msg.file_urls_request.session_id = request_id, self.session_id
        msg.file_urls_request.file_names.append(path.name)
        await self.ws.send(msg.SerializeToString())
        await self.until(lambda: request_id in self.upload_urls)
        urls = self.upload_urls[request_id]
        if urls is None:
            raise SessionError("the server gave no upload URL")
        await asyncio.to_thread(self._put, urllib.parse.urljoin(self.base, urls.upload_url), path)
        info = UploadedFileInfo(file_id=urls.file_id, name=path.name, size=path.stat().st_size,
                                file_urls=urls)
        state = FileUploaderState(uploaded_file_info=[info])
        return WidgetState(id=self.uploader, file_uploader_state_value=state)

    def _put(self, url: str, path: Path):
        """PUT ``path`` as multipart form data (field "file"), with the cookies and the xsrf header."""
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() \
            + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(url, data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self.xsrf})
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        with opener.open(request, timeout=60) as response:
            response.read()

    async def train(self, query: str):
        """Open the Train page from ``query`` and wait for its Train button (the data may be loading)."""
        await self.open("train", query)
        await self.until(lambda: "Train" in self.buttons or self.failure)

    async def trained(self):
        """Press Train; return once the page said "Done:" (or showed an error)."""
        await self.click("Train")
        await self.until(lambda: self.done is not None or self.failure)
        if self.failure:
            raise SessionError(f"training: {self.failure}")


# -- the servers and their memory ---------------------------------------------------------------

class Server:
    """`streamlit run app.py` of one version of the app, on a free port of 127.0.0.1."""

    def __init__(self, name: str, folder: Path, data: str):
        self.name, self.folder = name, folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.log = CACHE / f"{name}-server.log"
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.fileWatcherType", "none"]
        env = server_env({"MNIST_PLAYGROUND_DATA": data})
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(cmd, cwd=folder, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.sessions = []  # Visitors kept open until the end

    def wait_healthy(self, timeout=60.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the {self.name} server did not start: see {self.log}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def rss(self, key="VmRSS") -> float:
        return memory_mb([self.process.pid], key)

    def reset_peak(self):
        """Start VmHWM again from the current RSS (Linux's clear_refs, 5)."""
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def visitor(self) -> Visitor:
        self.sessions.append(Visitor(self.base))
        return self.sessions[-1]


class Sampler(threading.Thread):
    """The highest VmRSS of ``server`` seen every 0.1 s until stopped."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server, self.peak, self.stopped = server, server.rss(), threading.Event()

    def run(self):
        while not self.stopped.wait(0.1):
            self.peak = max(self.peak, self.server.rss())

    def stop(self) -> float:
        self.stopped.set()
        self.join()
        return self.peak


async def measure(case: str, server: Server, action) -> dict:
    """Run ``action()`` (it returns (seconds, what the page showed)) with the server's memory watched."""
    row = {"case": case, "version": server.name, "before": server.rss()}
    server.reset_peak()
    sampler = Sampler(server)
    sampler.start()
    try:
        async with asyncio.timeout(CASE_TIMEOUT):
            row["seconds"], row["shown"] = await action()
        await asyncio.sleep(SETTLE)
    except (SessionError, OSError, ConnectionClosed, TimeoutError) as e:
        row["shown"] = f"FAILED {type(e).__name__}: {e}"
    row["peak"] = sampler.stop()
    row["hwm"], row["after"] = server.rss("VmHWM"), server.rss()
    if not server.alive:
        row["shown"] += f"; the server died (exit code {server.process.returncode})"
    return row


# -- the cases ------------------------------------------------------------------------------------

async def timed(coroutine):
    t = time.perf_counter()
    shown = await coroutine
    return time.perf_counter() - t, shown


async def draw_page(server: Server) -> Visitor:
    """A session with a tiny trained model, on the Draw page."""
    me = server.visitor()
    async with asyncio.timeout(CASE_TIMEOUT):
        await me.train("preset=fast&images=1000&epochs=1")
        await me.trained()
        await me.goto("draw", lambda: me.canvas is not None)
    return me


async def compare_page(server: Server) -> Visitor:
    me = server.visitor()
    async with asyncio.timeout(CASE_TIMEOUT):
        await me.open("compare", "")
        await me.until(lambda: me.uploader is not None)
    return me


async def send_canvas(me: Visitor, value: str):
    return await timed(me.show([WidgetState(id=me.canvas, json_value=value)]))


async def send_upload(me: Visitor, path: Path):
    state = await me.upload(path)  # the PUT is in the peak, not in the seconds
    return await timed(me.show([state], only=UPLOAD_NOTES))


async def full_batch(server: Server):
    """Three sessions train the notebook preset for one full-batch update each."""
    students = [server.visitor() for _ in range(3)]
    await asyncio.gather(*(s.train("preset=notebook&epochs=1") for s in students))
    t = time.perf_counter()
    await asyncio.gather(*(s.trained() for s in students))
    return time.perf_counter() - t, "Done: " + ", ".join(f"{s.done:.2f}%" for s in students)


async def open_pages(servers, make) -> dict:
    """Server name -> the session ``make(server)`` readied, or the exception it failed with."""
    pages = await asyncio.gather(*(make(s) for s in servers), return_exceptions=True)
    return {s.name: page for s, page in zip(servers, pages)}


async def run_case(rows, name, server, send, page, what):
    if isinstance(page, BaseException):
        rows.append({"case": name, "version": server.name, "shown": f"FAILED to open the page: {page!r}"})
    else:
        rows.append(await measure(name, server, lambda: send(page, what)))
    print_rows(rows[-1:], header=False)


async def run_all(servers: list[Server], digit, label, rows: list):
    """The cases, each on both servers: old new, then new old, ... Rows go to ``rows``."""
    def order(i):
        return servers if i % 2 == 0 else servers[::-1]

    pages = await open_pages(servers, draw_page)
    cases = [(name, send_canvas, value, pages) for name, value in canvas_cases(digit, label).items()]
    pages = await open_pages(servers, compare_page)
    cases += [(name, send_upload, path, pages) for name, path in upload_cases().items()]
    for i, (name, send, what, on) in enumerate(cases):
        for server in order(i):
            if server.alive:
                await run_case(rows, name, server, send, on[server.name], what)
    for server in order(len(cases)):
        if server.alive:
            rows.append(await measure("full batch x3", server, lambda s=server: full_batch(s)))
            print_rows(rows[-1:], header=False)


# -- the report -----------------------------------------------------------------------------------

COLUMNS = [("case", "case", "{}"), ("version", "version", "{}"), ("before MB", "before", "{:.0f}"),
           ("peak MB", "peak", "{:.0f}"), ("HWM MB", "hwm", "{:.0f}"), ("after MB", "after", "{:.0f}"),
           ("s", "seconds", "{:.2f}"), ("the page showed", "shown", "{}")]
WIDTHS = [16, 7, 9, 8, 8, 8, 7, 0]
SHOWN = 240  # characters of what the page showed


def print_rows(rows, header=True):
    def cell(row, key, fmt):
        value = row.get(key)
        text = "-" if value is None else fmt.format(value)
        return text if len(text) <= SHOWN else text[:SHOWN] + "..."

    lines = [[title for title, _, _ in COLUMNS]] if header else []
    lines += [[cell(row, key, fmt) for _, key, fmt in COLUMNS] for row in rows]
    for line in lines:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, WIDTHS))),
              flush=True)


# -- main -----------------------------------------------------------------------------------------

def old_folder(given: str | None) -> tuple[Path, bool]:
    """The old app's folder, and whether we made it (a worktree to remove at the end)."""
    if given:
        return Path(given).resolve(), False
    folder = Path(tempfile.mkdtemp(prefix="hostile-old-")) / "app"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), OLD_COMMIT],
                   check=True, capture_output=True)
    return folder, True


async def main_async(servers, digit, label, rows):
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            await asyncio.gather(*(asyncio.to_thread(s.wait_healthy) for s in servers))
            await run_all(servers, digit, label, rows)
    except TimeoutError:
        print(f"the run took more than {RUN_TIMEOUT:.0f} s: stopped")
    finally:
        await asyncio.gather(*(v.close() for s in servers for v in s.sessions), return_exceptions=True)


def prepare_inputs():
    """Make (or find in CACHE) the files of the cases, and say how big they are."""
    files = [*upload_cases().values()] + [cached(f"black-{side}.png", lambda p, s=side: write_black_png(p, s))
                                          for side in (12000, 8000)]
    print("inputs:", ", ".join(f"{f.name} {f.stat().st_size / 1e3:,.0f} kB" for f in files))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", help=f"a checkout of the old app (default: a temporary worktree of {OLD_COMMIT})")
    args = p.parse_args()
    data = os.environ.get("MNIST_PLAYGROUND_DATA")
    if not data:
        p.error("set MNIST_PLAYGROUND_DATA to a folder with the data sets, e.g. ../shared/datasets")
    CACHE.mkdir(exist_ok=True)
    dropped = [k for k in BLAS_VARS if k in os.environ]
    print(f"server BLAS: {blas_kernel(server_env({}))}"
          + (f" ({', '.join(dropped)} removed from its environment)" if dropped else ""))
    prepare_inputs()
    test = load_dataset("mnist")
    digit, label = test.x_test[0], int(test.y_test[0])
    old, made = old_folder(args.old)
    servers, rows = [], []
    try:
        servers = [Server("old", old, data), Server("new", ROOT, data)]
        print(f"servers: old {servers[0].base} ({old}), new {servers[1].base} ({ROOT}); logs in {CACHE}\n")
        print_rows([])
        asyncio.run(main_async(servers, digit, label, rows))
    except KeyboardInterrupt:
        print("\ninterrupted")
    finally:
        for server in servers:
            stop_server(server.process)
        if made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
            shutil.rmtree(old.parent, ignore_errors=True)
    print("\nbefore/after: VmRSS; peak: the highest VmRSS sampled every 0.1 s; HWM: VmHWM since just before "
          "the case;\ns: from the rerun (full batch: the clicks) to the end of its run; upload: the PUT is "
          "not in s\n")
    print_rows(rows)


if __name__ == "__main__":
    main()
