"""Speed of the NumPy core on real MNIST: epochs, time to accuracy, the notebook preset, latency.

Run from the project's root:

    .venv/bin/python benchmarks/bench_core.py                 # everything, about 2-4 minutes
    .venv/bin/python benchmarks/bench_core.py --quick         # a rough pass, 1-2 minutes
    .venv/bin/python benchmarks/bench_core.py --only epoch    # one section (see --help)

The machine is shared and has slow phases, so variants that are compared run interleaved
(A B A B ...) in one process and the script prints medians and paired ratios. See README.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_blas  # noqa: E402  (first: before numpy)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import datetime  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import notebook_reference  # noqa: E402
from mlp import preprocess  # noqa: E402
from mlp.data import ENV_DATA, DatasetError, load_dataset  # noqa: E402
from mlp.model import MLP  # noqa: E402
from mlp.train import Trainer, preset  # noqa: E402

SECTIONS = ("epoch", "accuracy", "notebook", "latency", "profile")
DEFAULT_SECTIONS = SECTIONS[:4]  # "profile" runs only when asked for with --only profile
BATCH_SIZES = (32, 128, 512)
LAYERS = [784, 128, 64, 10]
HUGE = 10**9  # log_every: no evaluation inside the timed epoch
TARGETS = {
    "epoch": "epoch at batch 128 < 0.6 s and no slower than PyTorch",
    "accuracy": "97.5 % test accuracy in < 5 s of training",
    "notebook": "notebook iteration >= 3x faster than the float64 original",
    "latency": "preprocessing + forward pass of one drawn digit in about 1 ms",
}


# ----------------------------------------------------------------------------
# formatting and machine information


def load_mnist(data_dir):
    """MNIST from ``data_dir`` (None: the usual places, or a download), or exit with the reason."""
    try:
        return load_dataset("mnist", data_dir)
    except DatasetError as e:
        sys.exit(f"cannot load MNIST: {e}")


def med(xs):
    return statistics.median(xs)


def spread(xs, scale=1.0, fmt="{:.3f}"):
    """'median (min-max)' of a list of timings."""
    return (fmt.format(med(xs) * scale) + " (" + fmt.format(min(xs) * scale) + "-"
            + fmt.format(max(xs) * scale) + ")")


def heading(title):
    print(f"\n== {title} " + "=" * max(0, 72 - len(title)), flush=True)


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: BLAS kernel unknown"]
    lines = []
    for lib in threadpool_info():
        lines.append(f"{lib.get('internal_api')} {lib.get('version')}  architecture={lib.get('architecture')}"
                     f"  num_threads={lib.get('num_threads')}  ({Path(lib.get('filepath', '')).name})")
    return lines or ["no BLAS or OpenMP library found by threadpoolctl"]


def print_machine(torch):
    print(f"date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"python {platform.python_version()}  numpy {np.__version__}  "
          f"cpu_count={os.cpu_count()}  usable cpus={len(os.sched_getaffinity(0))}")
    try:
        print(f"cpu: {platform.processor() or _cpu_model()}")
    except OSError:
        pass
    removed = fast_blas.REMOVED
    print("removed from the environment before numpy loaded: " + (removed or "nothing (none was set)"))
    print("BLAS / thread pools:")
    for line in blas_info():
        print("  " + line)
    if torch is not None:
        print(f"torch {torch.__version__}  num_threads={torch.get_num_threads()}")
    if hasattr(os, "getloadavg"):
        print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def _cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def import_torch():
    try:
        import torch
    except Exception:  # not installed, or a broken install: the comparison is optional
        return None
    torch.set_num_threads(2)
    return torch


# ----------------------------------------------------------------------------
# 1. seconds per epoch


def numpy_epoch(data, batch_size, seed, steps=None):
    """Train one epoch (or ``steps`` updates) with the fast preset; return training seconds."""
    cfg = preset("fast", batch_size=batch_size, max_iter=1, max_steps=steps, log_every=HUGE,
                 random_state=seed)
    # one record at the end: its evaluation is not in `elapsed`, and a one-image test set
    # keeps it out of the wall time and the profile too
    trainer = Trainer(cfg, (data[0], data[1], data[2][:1], data[3][:1]))
    for _ in trainer.run():
        pass
    return trainer.elapsed


def torch_epoch(torch, data, batch_size, seed, steps=None):
    """The same MLP, optimizer, schedule and per-batch uint8 -> float32 conversion in PyTorch."""
    cfg = preset("fast", batch_size=batch_size)
    torch.manual_seed(seed)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate_init)
    loss_fn = nn.CrossEntropyLoss()
    x = data[0].reshape(len(data[0]), -1)
    y = np.asarray(data[1], dtype=np.int64)
    n = len(y)
    total = math.ceil(n / batch_size)
    steps = min(steps or total, total)
    rng = np.random.default_rng(seed)
    loss_sum, correct = 0.0, 0
    t0 = time.perf_counter()
    order = rng.permutation(n)
    for s in range(steps):
        idx = order[s * batch_size:(s + 1) * batch_size]
        xb = torch.from_numpy(preprocess.to_float(x[idx]))
        yb = torch.from_numpy(y[idx])
        opt.param_groups[0]["lr"] = cfg.learning_rate_init * 0.5 * (1 + math.cos(math.pi * s / total))
        out = net(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()  # the NumPy trainer checks every loss and counts hits too
        if not math.isfinite(value):
            raise RuntimeError("PyTorch run diverged")
        loss_sum += value * len(idx)
        correct += int((out.argmax(dim=1) == yb).sum())
    return time.perf_counter() - t0


def blas_limit(n):
    """A context that limits the BLAS thread pool to ``n`` threads (None: leave it alone)."""
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=n, user_api="blas")


def have_threadpoolctl():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def bench_epoch(data, args, torch):
    heading("1. seconds per epoch, [784, 128, 64, 10], fast preset (Adam, cosine), 60,000 images")
    print("training time of one epoch (Trainer.run, no evaluation inside); median (min-max) over "
          f"{args.repeats} repeats; batch sizes and variants interleaved")
    variants = {"numpy": lambda bs, seed, steps=None: numpy_epoch(data, bs, seed, steps)}
    if have_threadpoolctl() and args.blas_threads != 1:
        def one_thread(bs, seed, steps=None):
            with blas_limit(1):
                return numpy_epoch(data, bs, seed, steps)
        variants["numpy-1t"] = one_thread  # the same code with the BLAS pool limited to 1 thread
    if torch is None:
        print("PyTorch not installed: skipped")
    else:
        variants["torch"] = lambda bs, seed, steps=None: torch_epoch(torch, data, bs, seed, steps)
    names = list(variants)
    warm = 50 if args.quick else 200
    for bs in BATCH_SIZES:  # warm up allocators, caches and thread pools
        for name in names:
            variants[name](bs, 0, warm)
    times = {(name, bs): [] for bs in BATCH_SIZES for name in names}
    for r in range(args.repeats):
        for bs in BATCH_SIZES:
            k = r % len(names)  # rotate the order from repeat to repeat: A B C, B C A, ...
            for name in names[k:] + names[:k]:
                times[name, bs].append(variants[name](bs, r))
        print(f"  repeat {r + 1}: " + "  ".join(
            f"{name}@{bs} {ts[-1]:.3f}s" for (name, bs), ts in times.items()), flush=True)
    print()

    def paired(a, b):  # median of per-repeat ratios: both runs of a pair share a slow phase
        return med([x / y for x, y in zip(a, b)])

    header = f"{'batch':>6} {'steps':>6}" + "".join(f" {name + ' s/epoch':>24}" for name in names)
    if "numpy-1t" in names:
        header += f" {'numpy/numpy-1t':>15}"
    if "torch" in names:
        header += f" {'numpy/torch':>12}"
    print(header)
    results = {}
    for bs in BATCH_SIZES:
        line = f"{bs:>6} {math.ceil(len(data[1]) / bs):>6}"
        line += "".join(f" {spread(times[name, bs]):>24}" for name in names)
        results[bs] = {name: med(times[name, bs]) for name in names}
        if "numpy-1t" in names:
            results[bs]["ratio_1t"] = paired(times["numpy", bs], times["numpy-1t", bs])
            line += f" {results[bs]['ratio_1t']:>15.2f}"
        if "torch" in names:
            results[bs]["ratio"] = paired(times["numpy", bs], times["torch", bs])
            line += f" {results[bs]['ratio']:>12.2f}"
        print(line)
    r128 = results[128]
    verdict = f"target: {TARGETS['epoch']} -> batch 128: {r128['numpy']:.3f} s"
    verdict += " (met)" if r128["numpy"] < 0.6 else " (missed)"
    if "ratio" in r128:
        verdict += f"; numpy/torch {r128['ratio']:.2f}" + (" (met)" if r128["ratio"] <= 1.0 else " (missed)")
    print(verdict)
    return results


# ----------------------------------------------------------------------------
# 2. time to accuracy


def bench_accuracy(data, args):
    thresholds = (0.975, 0.980)
    heading("2. time to 97.5 % and 98.0 % test accuracy, fast preset (8 epochs, batch 128)")
    print("training time = Progress.elapsed (evaluation excluded); wall = including the evaluations "
          "(4 per epoch); test accuracy is checked at each record")
    seeds = list(range(args.repeats))
    print(f"seeds (random_state): {seeds}")
    found = {t: [] for t in thresholds}
    for seed in seeds:
        trainer = Trainer(preset("fast", random_state=seed), data)
        t0 = time.perf_counter()
        hits, best = {}, 0.0
        for p in trainer.run():
            best = max(best, p.test_accuracy)
            for t in thresholds:
                if t not in hits and p.test_accuracy >= t:
                    hits[t] = (p.elapsed, time.perf_counter() - t0, p.epoch)
            if len(hits) == len(thresholds):
                break  # both reached: the rest of the run would not change the result
        parts = []
        for t in thresholds:
            if t in hits:
                found[t].append(hits[t])
                e, w, ep = hits[t]
                parts.append(f"{t:.1%} at epoch {ep:.2f}: {e:.2f} s training, {w:.2f} s wall")
            else:
                parts.append(f"{t:.1%} not reached (best {best:.2%})")
        print(f"  seed {seed}: " + "; ".join(parts), flush=True)
    print()
    results = {}
    for t in thresholds:
        hits = found[t]
        if not hits:
            print(f"{t:.1%}: not reached in any run")
            continue
        train_s, wall_s, epochs = zip(*hits)
        results[t] = med(train_s)
        two = "{:.2f}"
        print(f"{t:.1%}: reached in {len(hits)}/{len(seeds)} runs; training {spread(train_s, fmt=two)} s, "
              f"wall {spread(wall_s, fmt=two)} s, epochs {spread(epochs, fmt=two)}")
    got = results.get(0.975)
    print(f"target: {TARGETS['accuracy']} -> "
          + ("not reached" if got is None else f"{got:.2f} s" + (" (met)" if got < 5 else " (missed)")))
    return results


# ----------------------------------------------------------------------------
# 3. the notebook preset next to the original float64 code


def bench_notebook(data, args):
    block = 3 if args.quick else 5
    heading("3. full-batch iteration: notebook preset (float32, mlp) vs the original (float64)")
    print(f"seconds per iteration over blocks of {block} iterations, blocks interleaved, "
          f"{args.repeats} blocks each; median (min-max)")
    trainer = Trainer(preset("notebook", max_iter=1, log_every=HUGE, random_state=0), data)
    for _ in trainer.run():  # warm-up: converts the 60,000 images to float32 once
        pass
    x_train, y_train = data[0], np.asarray(data[1])
    X64 = x_train.reshape(len(x_train), -1).T / 255.0  # (784, 60000) float64, as the notebook had it
    ref = notebook_reference.gradient_descent(X64, y_train, LAYERS, alpha=0.05, iterations=HUGE,
                                              seed=0, every=1)
    ref_acc = next(ref)[1]  # warm-up: one iteration
    ours, theirs = [], []
    for r in range(args.repeats):
        for which in (("mlp", "ref") if r % 2 == 0 else ("ref", "mlp")):
            if which == "mlp":
                trainer.extend(block)
                before = trainer.elapsed
                for _ in trainer.run():
                    pass
                ours.append((trainer.elapsed - before) / block)
            else:
                t0 = time.perf_counter()
                for _ in range(block):
                    it, ref_acc = next(ref)
                theirs.append((time.perf_counter() - t0) / block)
        print(f"  block {r + 1}: mlp {ours[-1]:.3f} s/it, original {theirs[-1]:.3f} s/it", flush=True)
    ratio = med([b / a for a, b in zip(ours, theirs)])
    print()
    print(f"notebook preset (float32): {spread(ours)} s/iteration")
    print(f"original (float64):        {spread(theirs)} s/iteration")
    print(f"speed-up (original / preset, paired): {ratio:.2f}x")
    ours_acc = trainer.history[-1].train_accuracy
    print(f"sanity: training accuracy after {trainer.step} iterations {ours_acc:.1%} (preset) "
          f"vs after {it} iterations {ref_acc:.1%} (original); different random draws")
    print(f"target: {TARGETS['notebook']} -> {ratio:.2f}x" + (" (met)" if ratio >= 3 else " (missed)"))
    return {"preset": med(ours), "original": med(theirs), "ratio": ratio}


# ----------------------------------------------------------------------------
# 4. latency of one digit


def drawn_canvas(size=280):
    """A 280 x 280 RGBA canvas with a thick white '7' on black, like the app's drawing canvas."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    ink = np.zeros((size, size), dtype=np.float32)
    s = size / 280
    for (x0, y0), (x1, y1) in [((70, 60), (210, 60)), ((210, 60), (120, 230))]:
        x0, y0, x1, y1 = (v * s for v in (x0, y0, x1, y1))
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        dist = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
        ink = np.maximum(ink, np.clip(11 * s - dist, 0, 1))  # a 22 px pen with a soft edge
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., :3] = (ink * 255).astype(np.uint8)[..., None]
    rgba[..., 3] = 255
    return rgba


def time_calls(fn, n, warm=50):
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t0)
    return [t / 1000 for t in out]  # microseconds


def bench_latency(data, args):
    n = 200 if args.quick else 1000
    heading("4. latency of one 28 x 28 digit (microseconds)")
    model = MLP(LAYERS, random_state=0)
    x = preprocess.to_float(data[2][:1])  # (1, 784) float32
    fwd = time_calls(lambda: model.predict_proba(x), n)
    fmt = "{:.0f}"
    print(f"model.predict_proba, (1, 784) float32, median (min-max) of {n} calls: {spread(fwd, fmt=fmt)} us")
    results = {"forward_us": med(fwd)}
    if not hasattr(preprocess, "canvas_to_mnist"):
        print("mlp.preprocess.canvas_to_mnist not found: preprocessing skipped")
        return results
    rgba = drawn_canvas()
    if preprocess.canvas_to_mnist(rgba) is None:
        print("canvas_to_mnist found no ink in the test drawing: preprocessing skipped")
        return results

    def both():
        img = preprocess.canvas_to_mnist(rgba)
        return model.predict_proba(np.asarray(img, dtype=np.float32).reshape(1, -1))

    pre = time_calls(lambda: preprocess.canvas_to_mnist(rgba), n)
    total = time_calls(both, n)
    print(f"canvas_to_mnist, 280 x 280 x 4 uint8 with a drawn stroke:      {spread(pre, fmt=fmt)} us")
    print(f"canvas_to_mnist + predict_proba:                               {spread(total, fmt=fmt)} us")
    print(f"target: {TARGETS['latency']} -> {med(total) / 1000:.2f} ms")
    results.update(preprocess_us=med(pre), total_us=med(total))
    return results


# ----------------------------------------------------------------------------
# profile (only with --only profile)


def bench_profile(data, args):
    heading("profile: cProfile of one epoch at batch 128 (fast preset), top entries by own time")
    numpy_epoch(data, 128, 0, steps=100)  # warm-up
    prof = cProfile.Profile()
    prof.enable()
    numpy_epoch(data, 128, 0)
    prof.disable()
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)


# ----------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=None,
                    help="repeats per measurement (default 5, or 2 with --quick)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, warm-ups and calls: a rough pass")
    ap.add_argument("--data-dir", default=None,
                    help=f"folder with the MNIST files (default: ${ENV_DATA}, else ../shared/datasets "
                         "beside the project, else the usual cache or download)")
    ap.add_argument("--only", choices=SECTIONS, default=None,
                    help="run one section: " + ", ".join(SECTIONS) + " (profile runs only when named)")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit the BLAS thread pool to this many threads for the whole run "
                         "(default: numpy's own choice; needs threadpoolctl)")
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.blas_threads is not None and not have_threadpoolctl():
        ap.error("--blas-threads needs threadpoolctl (pip install threadpoolctl)")
    sections = [args.only] if args.only else list(DEFAULT_SECTIONS)

    data_dir = args.data_dir or os.environ.get(ENV_DATA)
    if data_dir is None and (ROOT.parent / "shared" / "datasets").is_dir():
        data_dir = ROOT.parent / "shared" / "datasets"
    torch = import_torch() if "epoch" in sections else None

    print("MNIST Playground core benchmark")
    print_machine(torch)
    data = load_mnist(data_dir)
    print(f"data: MNIST from {data_dir or 'the cache'}: {len(data[1])} training, {len(data[3])} test images")
    started = time.perf_counter()
    run = {"epoch": lambda: bench_epoch(data, args, torch), "accuracy": lambda: bench_accuracy(data, args),
           "notebook": lambda: bench_notebook(data, args), "latency": lambda: bench_latency(data, args),
           "profile": lambda: bench_profile(data, args)}
    with blas_limit(args.blas_threads):
        if args.blas_threads is not None:
            print(f"BLAS thread pool limited to {args.blas_threads} for this run: " + "; ".join(blas_info()))
        for name in sections:
            run[name]()
    heading("done")
    print(f"total {time.perf_counter() - started:.0f} s; load average now "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("numbers are medians on a shared 2-core machine: compare ratios, not single timings")


if __name__ == "__main__":
    main()
