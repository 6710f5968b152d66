"""How the presets do on other people's handwriting, beside MNIST's own test set.

Run from the project's root (scikit-learn for the load_digits set:
.venv/bin/pip install -r benchmarks/requirements-handwriting.txt):

    .venv/bin/python benchmarks/handwriting.py                       # every preset but "notebook"
    .venv/bin/python benchmarks/handwriting.py --presets fast        # one preset, about 5-10 s
    .venv/bin/python benchmarks/handwriting.py --model run.npz       # a saved model (mlp train --save)
    .venv/bin/python benchmarks/handwriting.py --presets fast --save /tmp/models
    .venv/bin/python benchmarks/handwriting.py --presets fast --blas-threads 1   # on a busy machine

Each preset is trained with `mlp.train.Trainer` on MNIST's 60,000 training digits (seed
--seed), then tested on: MNIST's 10,000 test digits; scikit-learn's load_digits (1,797 digits
by 43 writers) blown up onto the Draw page's canvas; and the pen-stroke digits of
tests/strokes.py (several writers' styles of every digit) at pen widths 8 to 40 px. Both
drawing sets go through the product's own `canvas_to_mnist` (see drawings.py). It prints each
set's accuracy, load_digits's accuracy per class, which stroke digits fail and as what, and
the training time (`Progress.elapsed`: without the test-set evaluations at each record), and
for each preset that distorts its training images, the paired ratio of 100 of its updates
distorted (as the Trainer does it, one batch ahead) to the same updates plain.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_blas  # noqa: E402  (first: before numpy)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import drawings  # noqa: E402

from mlp.config import PRESETS, preset  # noqa: E402
from mlp.data import DatasetError, load_dataset  # noqa: E402
from mlp.model import MLP  # noqa: E402
from mlp.preprocess import canvas_to_mnist  # noqa: E402
from mlp.train import Trainer, TrainingDiverged, evaluate  # noqa: E402

DEFAULT_PRESETS = [name for name in PRESETS if name != "notebook"]


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed: BLAS kernel unknown"
    return "; ".join(f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture')} "
                     f"{lib.get('num_threads')} threads" for lib in threadpool_info()) or "none found"


def train(name, data, seed):
    """Train preset ``name``; return (model, seconds of training)."""
    trainer = Trainer(preset(name, random_state=seed), data)
    t0 = time.perf_counter()
    try:
        for _ in trainer.run():
            pass
    except TrainingDiverged as e:
        print(f"  {name}: {e}")
    print(f"  trained {name}: {trainer.elapsed:.1f} s of training, {time.perf_counter() - t0:.1f} s wall",
          flush=True)
    return trainer.model, trainer.elapsed


def distortion_ratio(name, data, rounds=3, steps=100):
    """Seconds of ``steps`` updates of preset ``name`` distorted (as the Trainer does it) over the
    same updates plain, taking turns (A B A B ...); returns the median of the paired ratios."""
    config = preset(name, max_steps=steps, log_every=10**9)
    ratios = []
    for r in range(rounds):
        seconds = []
        for variant in (config, config.distorted("off")):
            trainer = Trainer(replace(variant, random_state=r), (data[0], data[1], data[2][:1], data[3][:1]))
            for _ in trainer.run():
                pass
            seconds.append(trainer.elapsed)
        ratios.append(seconds[0] / seconds[1])
    return statistics.median(ratios)


class Sets:
    """The test sets, preprocessed once: MNIST test, load_digits, the stroke digits."""

    def __init__(self, data, widths, preprocess=canvas_to_mnist):
        self.x_test, self.y_test = data.x_test, data.y_test
        self.ld_images, self.ld_labels = drawings.load_digits_set(preprocess)
        strokes = drawings.stroke_set(widths, preprocess)
        self.st_names, self.st_labels, self.st_widths, self.st_images = strokes
        self.widths = widths


def measure(model, sets):
    """Every number the report prints for one model, as a dict."""
    mnist, _ = evaluate(model, sets.x_test, sets.y_test)
    ld_pred = model.predict(drawings.rows(sets.ld_images))
    st_proba = model.predict_proba(drawings.rows(sets.st_images))
    return {"mnist": mnist, "ld_pred": ld_pred, "st_pred": st_proba.argmax(axis=1),
            "st_p": st_proba.max(axis=1)}


def report(results, sets):
    """``results``: [(name, seconds or None, measure(...))]."""
    names = [name for name, _, _ in results]
    col = max(12, *(len(n) + 2 for n in names))

    def line(label, cells):
        print(f"{label:<22}" + "".join(f"{c:>{col}}" for c in cells))

    print("\n== accuracy " + "=" * 60)
    line("", names)
    line("training time (s)", [f"{s:.1f}" if s is not None else "-" for _, s, _ in results])
    line("MNIST test", [f"{m['mnist']:.2%}" for _, _, m in results])
    line(f"load_digits ({len(sets.ld_labels)})", [f"{np.mean(m['ld_pred'] == sets.ld_labels):.2%}"
                                                  for _, _, m in results])
    n_styles = len(drawings.strokes.STYLES)
    line(f"strokes ({len(sets.st_labels)})", [f"{np.mean(m['st_pred'] == sets.st_labels):.2%}"
                                              for _, _, m in results])
    for w in sets.widths:
        at = sets.st_widths == w
        line(f"  pen {w} px ({n_styles})", [f"{np.sum(m['st_pred'][at] == sets.st_labels[at])}/{n_styles}"
                                            for _, _, m in results])

    print("\n== load_digits per class: accuracy, and the most common wrong answer " + "=" * 4)
    line("class (n)", names)
    for k in range(10):
        at = sets.ld_labels == k
        cells = []
        for _, _, m in results:
            pred = m["ld_pred"][at]
            wrong = Counter(pred[pred != k].tolist()).most_common(1)
            cells.append(f"{np.mean(pred == k):.0%}" + (f" ({wrong[0][0]})" if wrong else "    "))
        line(f"{k} ({at.sum()})", cells)

    print("\n== stroke digits that fail: pen width -> prediction (probability) " + "=" * 6)
    for name, _, m in results:
        print(f"{name}:")
        fails = {}
        for i in np.flatnonzero(m["st_pred"] != sets.st_labels):
            fails.setdefault(sets.st_names[i], []).append(
                f"{sets.st_widths[i]}->{m['st_pred'][i]} ({m['st_p'][i]:.2f})")
        for style, (label, _) in drawings.strokes.STYLES.items():
            if style in fails:
                print(f"  {style:<14} a {label}: " + ", ".join(fails[style]))
        if not fails:
            print("  none")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default=",".join(DEFAULT_PRESETS),
                    help=f"comma-separated presets to train (default: {','.join(DEFAULT_PRESETS)}); "
                         "'' for none")
    ap.add_argument("--model", action="append", default=[], metavar="FILE.npz",
                    help="also evaluate a saved model (may be repeated)")
    ap.add_argument("--seed", type=int, default=0, help="random_state of the trainings (default 0)")
    ap.add_argument("--widths", default=",".join(map(str, drawings.PEN_WIDTHS)),
                    help="pen widths of the stroke digits (default %(default)s)")
    ap.add_argument("--as-drawn", action="store_true",
                    help="keep the drawings' own stroke width (canvas_to_mnist(..., width=None)), "
                         "to compare with the default, which brings it into MNIST's range")
    ap.add_argument("--save", metavar="DIR", help="save each trained model as DIR/<preset>.npz")
    ap.add_argument("--blas-threads", type=int, metavar="N",
                    help="limit the BLAS pool to N threads (threadpoolctl); 1 is much faster when "
                         "other processes keep the cores busy")
    ap.add_argument("--data-dir",
                    help="MNIST's folder (default: $MNIST_PLAYGROUND_DATA, the cache, a download)")
    args = ap.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        ap.error(f"unknown preset(s) {', '.join(unknown)}; use {', '.join(PRESETS)}")
    if not presets and not args.model:
        ap.error("nothing to evaluate: give --presets or --model")

    if args.blas_threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=args.blas_threads, user_api="blas")
    print(f"numpy {np.__version__}, cpu_count={os.cpu_count()}; BLAS: {blas_info()}")
    if hasattr(os, "getloadavg"):
        print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    removed = fast_blas.REMOVED
    print("removed from the environment before numpy loaded: " + (removed or "nothing (none was set)"))
    try:
        data = load_dataset("mnist", args.data_dir)
    except DatasetError as e:
        sys.exit(f"MNIST: {e}")
    preprocess = (lambda rgba: canvas_to_mnist(rgba, width=None)) if args.as_drawn else canvas_to_mnist
    print("drawings preprocessed with canvas_to_mnist, stroke width "
          + ("as drawn" if args.as_drawn else "brought into MNIST's range (the default)"))
    sets = Sets(data, [int(w) for w in args.widths.split(",")], preprocess)

    results = []
    for path in args.model:
        model, _ = MLP.load(path)
        name = Path(path).stem if [Path(q).stem for q in args.model].count(Path(path).stem) == 1 else path
        results.append((name, None, measure(model, sets)))
    for name in presets:
        model, seconds = train(name, data, args.seed)
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            out = Path(args.save) / f"{name}.npz"
            model.save(out, config=preset(name, random_state=args.seed).to_dict(), dataset=data.name)
            print(f"  saved {out}")
        results.append((name, seconds, measure(model, sets)))
    report(results, sets)
    distorted = [name for name in presets if not preset(name).distortion.identity]
    if distorted:
        print("\n== distorted / plain training time, the same updates paired " + "=" * 11)
        for name in distorted:
            print(f"  {name:<12} x{distortion_ratio(name, data):.2f}", flush=True)


if __name__ == "__main__":
    main()
