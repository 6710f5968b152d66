"""Time and memory of `MLP.load` on the hostile model files seen on the public server.

Run from the project's root:

    .venv/bin/python benchmarks/hostile_upload.py               # 3 repeats, about a minute
    .venv/bin/python benchmarks/hostile_upload.py --repeats 1 --no-old

Each case is loaded the way the Compare page does it, with the server's default limits
(`max_bytes` = 20 MB, 4 hidden layers of at most 1024 units, 784 inputs, 10 classes), in a
fresh subprocess, so its peak RSS growth is that one load's alone: the peak (VmHWM, reset
through /proc/self/clear_refs just before the load; else ``ru_maxrss``) minus the RSS before
the load, the file's bytes already in memory. When git can show
``HEAD:mlp/model.py``, the same files go through that code too ("old", called as
``MLP.load(data)``, the only signature it has), interleaved with the new one: old new, then
new old, ... so a slow phase of the shared machine hits both. Times are medians (min-max).
A third run ("new*") lifts max_bytes to 1 TB, to show the checks behind it (names, layer
limits, .npy headers) refusing the same files as cheaply.
"""
import argparse
import importlib.util
import io
import json
import math
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlp.model import MLP  # noqa: E402

LIMITS = dict(max_bytes=20 * 2**20, max_hidden_layers=4, max_neurons=1024, n_inputs=784, n_classes=10)


# ----------------------------------------------------------------------------
# the files: zeros are written 1 MB at a time, so the 2 GB of junk is never in memory


CASES = {
    "valid": "a valid 784-128-64-10 model, for reference",
    "junk": "784-8-10 + junk.npy: 250 M float64 zeros",
    "wide": "784-100000-10, zeros",
    "deep": "10,000 one-unit hidden layers, zeros",
    "1e39": "784-8-10, float64, W0 = 1e39",
    "entries": "784-8-10 + 65,000 empty members",
}


def zeros_member(zf, name, shape, dtype="<f4"):
    """Write an .npy of zeros as a member of zf."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    with zf.open(name, "w", force_zip64=True) as f:
        f.write(header.getvalue())
        left = math.prod(shape) * np.dtype(dtype).itemsize
        while left:
            f.write(bytes(min(left, 2**20)))
            left -= min(left, 2**20)


def zeros_model(path, sizes):
    """Write a model file of zeros, compressed, as np.savez_compressed would."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        meta = io.BytesIO()
        np.save(meta, np.array(json.dumps({"layer_sizes": sizes, "activation": "relu", "dropout": 0.0})))
        zf.writestr("meta.npy", meta.getvalue())
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            zeros_member(zf, f"W{i}.npy", (n_in, n_out))
            zeros_member(zf, f"b{i}.npy", (n_out,))


def write_case(name, path):
    """Write the file of one of CASES."""
    if name == "valid":
        MLP([784, 128, 64, 10]).save(path)
    elif name == "wide":
        zeros_model(path, [784, 100_000, 10])
    elif name == "deep":
        zeros_model(path, [784] + [1] * 10_000 + [10])
    elif name == "1e39":
        model = MLP([784, 8, 10])
        meta = {"layer_sizes": model.layer_sizes, "activation": "relu", "dropout": 0.0}
        np.savez(path, meta=np.array(json.dumps(meta)), W0=np.full((784, 8), 1e39), b0=model.intercepts_[0],
                 W1=model.coefs_[1], b1=model.intercepts_[1])
    else:  # a valid model, then the junk
        zeros_model(path, [784, 8, 10])
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
            if name == "junk":
                zeros_member(zf, "junk.npy", (250_000_000,), "<f8")
            else:
                for j in range(65_000):  # more would make a zip64 directory, which the old code misreads
                    zf.writestr(f"x{j}", b"")


# ----------------------------------------------------------------------------
# one load, in a fresh process


def child(code, path):
    """Load path with the model module at code ("new": this checkout's mlp); print a JSON line."""
    if code.startswith("new"):
        from mlp import MLP, ModelFileError
        kwargs = LIMITS if code == "new" else {**LIMITS, "max_bytes": 2**40}
    else:
        spec = importlib.util.spec_from_file_location("old_model", code)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        MLP, ModelFileError, kwargs = module.MLP, module.ModelFileError, {}
    data = Path(path).read_bytes()  # as the upload arrives: bytes in memory
    before = peak_rss_kb(reset=True)
    t = time.perf_counter()
    try:
        model, _ = MLP.load(data, **kwargs)
        weights = model.params.nbytes / 2**20
        outcome = f"loaded: hidden layers {len(model.layer_sizes) - 2}, weights {weights:.1f} MB"
    except ModelFileError as e:
        outcome = f"refused: {e}"
    seconds = time.perf_counter() - t
    grown = peak_rss_kb() - before
    print(json.dumps({"seconds": seconds, "rss_mb": grown / 1024, "outcome": outcome}))


def peak_rss_kb(reset=False):
    """Return this process's peak RSS in kB; with reset, start the peak again from the current RSS.

    Linux keeps the peak as VmHWM in /proc/self/status and resets it through clear_refs. Elsewhere
    it is ru_maxrss, which cannot be reset: a load that stays below the earlier peak shows 0.
    """
    try:
        if reset:
            Path("/proc/self/clear_refs").write_text("5")
        return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def measure(code, path):
    """Return the child's {"seconds", "rss_mb", "outcome"} for one load."""
    run = subprocess.run([sys.executable, __file__, "--child", str(code), str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout.splitlines()[-1])


# ----------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-old", action="store_true", help="measure only the current mlp/model.py")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(*args.child)

    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"new code called with {LIMITS}")
    with tempfile.TemporaryDirectory() as tmp:
        codes = ["new", "new*"]
        if not args.no_old:
            old = Path(tmp) / "old_model.py"
            shown = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:mlp/model.py"], capture_output=True)
            if shown.returncode == 0:
                old.write_bytes(shown.stdout)
                codes = [old, "new", "new*"]
            else:
                print("  (git show HEAD:mlp/model.py failed: measuring the new code only)")
        paths = {name: Path(tmp) / f"{name}.npz" for name in CASES}
        for name, path in paths.items():
            t = time.perf_counter()
            write_case(name, path)
            size = path.stat().st_size / 2**20
            print(f"  wrote {name:8} {size:6.2f} MB in {time.perf_counter() - t:4.1f} s", flush=True)
        results = {(name, str(code)): [] for name in CASES for code in codes}
        for r in range(args.repeats):
            for name, path in paths.items():
                for code in codes if r % 2 == 0 else codes[::-1]:  # interleaved: old new, new old, ...
                    results[name, str(code)].append(measure(code, path))
            print(f"  repeat {r + 1} of {args.repeats} done", flush=True)

    print(f"\n{'case':8} {'code':4} {'time s, median (min-max)':>26} {'peak RSS +MB':>12}  outcome")
    for name, description in CASES.items():
        print(f"-- {name}: {description}")
        for code in codes:
            runs = results[name, str(code)]
            times = [run["seconds"] for run in runs]
            rss = statistics.median(run["rss_mb"] for run in runs)
            outcome = runs[-1]["outcome"]
            if len(outcome) > 90:
                outcome = f"{outcome[:70]}... ({len(outcome):,} characters)"
            label = code if code in ("new", "new*") else "old"
            print(f"{'':8} {label:4} {statistics.median(times):10.3f} ({min(times):.3f}-{max(times):.3f})"
                  f" {rss:12.1f}  {outcome}")


if __name__ == "__main__":
    main()
