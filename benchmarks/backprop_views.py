"""Cost of the Backprop page's stages and the Draw page's "Why?", on the default network and on
the widest one a server allows ([784, 1024, 1024, 1024, 1024, 10]).

Run from the project's root:

    .venv/bin/python benchmarks/backprop_views.py             # about 1 minute
    .venv/bin/python benchmarks/backprop_views.py --repeats 5

For each view it times what the page computes (mlp.explain) and the figures it draws, including
their JSON (what Streamlit sends to the browser), and prints the median of ``--repeats`` calls and
the size of the figures. One BLAS thread, as a server's page runs share the cores with training.
The networks are untrained (the cost does not depend on the weights' values); "Why?" runs its
worst case, every one of its 20 steps.
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

import numpy as np  # noqa: E402

from bench_core import blas_limit, heading, load_mnist, med, print_machine  # noqa: E402
from mlp import MLP, explain  # noqa: E402
from mlp.data import ENV_DATA  # noqa: E402
from mlp.preprocess import to_float  # noqa: E402
from playground import backprop as fig  # noqa: E402
from playground import figures  # noqa: E402

NETWORKS = {"default [784, 128, 64, 10]": [784, 128, 64, 10],
            "widest [784, 1024, 1024, 1024, 1024, 10]": [784, 1024, 1024, 1024, 1024, 10]}


def views(model, x, label):
    """The work of each view: name -> a function returning the figures it draws."""
    L = len(model.layer_sizes) - 1
    stages = explain.stages(model.layer_sizes)
    classes = list(range(10))

    def trace():
        return explain.trace(model, x, label)

    def forward():
        t = trace()
        explain.forward_sum(t, model, 1, 0)
        return [fig.stage_diagram(model.layer_sizes, stages[1]), fig.strip(t.Z[0], "Z", 0, True),
                fig.strip(t.A[1], "A", 0)]

    def softmax():
        t = trace()
        explain.softmax_steps(t.Z[-1])
        return [fig.stage_diagram(model.layer_sizes, stages[L + 1])]

    def output():
        t = trace()
        explain.gradient_check(model, x, label, L, 0, label)
        return [fig.signed_bars(t.delta(L), classes, "delta"), fig.weight_push(t.dW[-1], t.A[-2], t.delta(L))]

    def backward(layer):
        def run():
            t = trace()
            explain.backward_sum(t, model, layer, 0)
            explain.gradient_check(model, x, label, layer, int(explain.strongest(t.A[layer - 1], 1)[0]), 0)
            push = fig.first_layer_push(t.dW[0], t.delta(1)) if layer == 1 else \
                fig.weight_push(t.dW[layer - 1], t.A[layer - 1], t.delta(layer))
            return [fig.strip(t.upstream(layer), "up", 0, True), fig.strip(t.slope(layer), "slope", 0),
                    fig.strip(t.delta(layer), "delta", 0, True), push]
        return run

    def step():
        s = explain.step(model, x, label, 0.01)
        return [fig.before_after(s.before.proba, s.after.proba, classes, label)]

    def why():
        image = x.reshape(28, 28)
        sal = explain.saliency(model, image)
        nudge = explain.toward(model, image, (label + 1) % 10, until=1.01)  # all 20 steps
        return [fig.overlay(image, sal, "saliency"), fig.overlay(image, nudge.change, "nudge"),
                fig.nudge_curve(nudge.proba, classes, nudge.target)]

    out = {"trace (forward + backward of one example)": lambda: [trace()] and [],
           "forward stage, layer 1": forward, "softmax stage": softmax, "output stage (+ numeric check)": output}
    out.update({f"backward stage, layer {k} (+ numeric check)": backward(k) for k in (L - 1, 1)})
    out["one step by hand (copy + update + trace)"] = step
    out["Draw: Why? (saliency + 20 steps toward a class)"] = why
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--data", default=os.environ.get(ENV_DATA))
    args = parser.parse_args()
    print_machine(None)
    data = load_mnist(args.data)
    x, label = to_float(data.x_test[:1])[0], int(data.y_test[0])
    with blas_limit(1):
        for name, sizes in NETWORKS.items():
            model = MLP(sizes, random_state=0)
            heading(f"{name}: {model.n_params:,} parameters")
            print(f"{'view':<52} {'compute + figures':>18} {'+ JSON':>9} {'JSON size':>10}")
            for view, run in views(model, x, label).items():
                build, total, size = [], [], 0
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    figs = run()
                    t1 = time.perf_counter()
                    size = sum(len(f.to_json()) for f in figs)
                    total.append(time.perf_counter() - t0)
                    build.append(t1 - t0)
                print(f"{view:<52} {med(build) * 1e3:>15.1f} ms {med(total) * 1e3:>6.1f} ms {size / 1e3:>7.0f} kB",
                      flush=True)
    _ = figures  # the page's logits bars come from playground.figures: their cost is that of any bar chart
    np.seterr(all="warn")


if __name__ == "__main__":
    main()
