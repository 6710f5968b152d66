"""Cost of distorted training images: an augmented epoch against a plain one, measured paired.

Run from the project's root:

    .venv/bin/python benchmarks/augment.py              # about 2 minutes
    .venv/bin/python benchmarks/augment.py --rounds 3   # quicker, rougher

One epoch of the fast preset's network ([784, 128, 64, 10], batch 128, 60,000 images) is trained
plain, distorted on the training thread ("in line"), and distorted one batch ahead on a second
thread ("ahead", what the Trainer does), at the light and strong levels, with one BLAS thread
and with two. The variants take turns in every round (A B C ... A B C ...), so a slow phase of
the machine hits them all alike; the script prints each one's median and its paired ratio to
the plain epoch of the same round. It also times distorting one batch on its own, without training.
The target: an augmented epoch within 1.5x a plain one.
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
from mlp.augment import LEVELS, Distorter  # noqa: E402
from mlp.data import ENV_DATA  # noqa: E402
from mlp.train import Trainer, preset  # noqa: E402

HUGE = 10**9  # log_every: no evaluation inside the timed epoch


def epoch(data, level, ahead, seed):
    """Train one epoch of the fast preset's network at batch 128; return the training seconds."""
    config = preset("fast", max_iter=1, log_every=HUGE, random_state=seed)
    if level != "off":
        config = config.distorted(level)
    trainer = Trainer(config, (data[0], data[1], data[2][:1], data[3][:1]))  # a one-image test set
    trainer.ahead = ahead
    for _ in trainer.run():
        pass
    return trainer.elapsed


def batch_alone(data, level, repeats=200):
    """Seconds to distort one batch of 128 images, on its own."""
    distorter, images = Distorter(LEVELS[level]), data[0][:128].reshape(128, -1)
    distorter(images)
    t0 = time.perf_counter()
    for _ in range(repeats):
        distorter(images)
    return (time.perf_counter() - t0) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every variant (default 5)")
    parser.add_argument("--data-dir", default=os.environ.get(ENV_DATA))
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    print_machine(None)
    variants = [("plain", "off", False)] + [(f"{level}, {how}", level, how == "ahead")
                                             for level in ("light", "strong") for how in ("in line", "ahead")]
    for threads in (1, 2):
        heading(f"one epoch, batch 128, {threads} BLAS thread{'s' * (threads > 1)}: seconds, ratio to plain")
        times = {name: [] for name, _, _ in variants}
        with blas_limit(threads):
            for r in range(args.rounds):
                for name, level, ahead in variants:
                    times[name].append(epoch(data, level, ahead, seed=r))
        plain = times["plain"]
        for name, _, _ in variants:
            ratios = [t / p for t, p in zip(times[name], plain)]
            print(f"  {name:<18} {med(times[name]):6.3f} s   x{med(ratios):.2f} "
                  f"(rounds: {' '.join(f'{x:.2f}' for x in ratios)})", flush=True)
    heading("distorting one batch of 128 images on its own (1 BLAS thread)")
    with blas_limit(1):
        for level in ("light", "strong"):
            runs = [batch_alone(data, level) for _ in range(args.rounds)]
            print(f"  {level:<8} {med(runs) * 1e3:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
