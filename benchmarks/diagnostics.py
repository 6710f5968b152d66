"""Cost of the layers' diagnostics (mlp.diagnostics): an epoch measured every few updates against
one not measured, paired.

Run from the project's root:

    .venv/bin/python benchmarks/diagnostics.py              # about 2 minutes
    .venv/bin/python benchmarks/diagnostics.py --rounds 3   # quicker, rougher

One epoch (60,000 images; for the classroom benchmark's link, its whole training: 8 epochs of
10,000 images) of four networks is trained with the trainer's measurements on (every
`mlp.diagnostics.every(log_every)` updates: gradient, update and weight norms, drift from the
start, dead ReLUs) and off; the two take turns in every round (off on, on off, off on, ...), so a
slow phase of the machine, or going first, hits both alike. The script prints each median and
the paired ratio, how many measurements an epoch took, and one measurement timed on its own
(steadier than the ratio: the epochs vary by several per cent from round to round). Target: under
5 % of an epoch. One BLAS thread, as the server trains.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_blas  # noqa: E402, F401  (first: before numpy)

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_core import blas_limit, heading, load_mnist, med, print_machine  # noqa: E402
from mlp import diagnostics  # noqa: E402
from mlp.data import ENV_DATA  # noqa: E402
from mlp.train import Trainer, preset  # noqa: E402

NETWORKS = {  # name: (preset, its overrides)
    "fast [784, 128, 64, 10], batch 128, 8 epochs of 10,000 images (load.py's link)":
        ("fast", {"train_size": 10000, "max_iter": 8}),
    "fast [784, 128, 64, 10], batch 128": ("fast", {}),
    "handwriting [784, 256, 128, 10], batch 128, no distortion": ("handwriting", {}),
    "best [784, 1024, 1024, 10], batch 256, no distortion": ("best", {}),
}


def epoch(data, name, measure, seed):
    """Train one epoch; return (training seconds, measurements taken)."""
    base, overrides = NETWORKS[name]
    config = preset(base, **{"max_iter": 1, "random_state": seed, **overrides}).distorted("off")
    trainer = Trainer(config, (data[0], data[1], data[2][:1], data[3][:1]))  # a one-image test set
    trainer.measure = measure
    for _ in trainer.run():
        pass
    return trainer.elapsed, len(trainer.measured)


def one_measurement(data, name, repeats=50):
    """Seconds that one measurement adds to an update (the copy of the weights, the gradient's
    norms and `measure`), timed on its own on the network's first batch."""
    base, overrides = NETWORKS[name]
    trainer = Trainer(preset(base, **overrides).distorted("off"), (data[0], data[1], data[2][:1], data[3][:1]))
    model, start = trainer.model, trainer.start_params
    X, y = trainer._inputs(trainer._next_rows())
    A = model.forward(X)
    grad = model.backward(A, y)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        before, grad_norm = model.params.copy(), diagnostics.norms(model, grad)
        diagnostics.measure(model, grad_norm, before, start, A, 1, 0.0, trainer._start_norm)
        times.append(time.perf_counter() - t0)
        trainer._start_norm = trainer._start_norm or diagnostics.norms(model, start)
    return med(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each pair (default 5)")
    parser.add_argument("--data-dir", default=os.environ.get(ENV_DATA))
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    print_machine(None)
    with blas_limit(1):
        for name in NETWORKS:
            heading(f"one epoch, {name}: seconds, ratio measured / not")
            off, on, ratios, count = [], [], [], 0
            for r in range(args.rounds):
                for measure in (False, True) if r % 2 == 0 else (True, False):  # which goes first alternates
                    seconds, n = epoch(data, name, measure, r)
                    (on if measure else off).append(seconds)
                    count = n or count
                ratios.append(on[-1] / off[-1])
            print(f"  not measured {med(off):6.3f} s   measured {med(on):6.3f} s ({count} measurements)   "
                  f"x{med(ratios):.3f} (rounds: {' '.join(f'{x:.3f}' for x in ratios)})", flush=True)
            cost = one_measurement(data, name)
            print(f"  one measurement on its own: {cost * 1e3:.2f} ms; x {count} = "
                  f"{count * cost / med(off):.2%} of the epoch", flush=True)


if __name__ == "__main__":
    main()
