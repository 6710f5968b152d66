"""What the Inspect page's neuron lab and map of a layer cost, on the largest network the server
allows and on the usual one.

Run from the project's root:

    .venv/bin/python benchmarks/inspect_views.py               # about a minute
    .venv/bin/python benchmarks/inspect_views.py --repeats 3   # quicker, rougher

For [784, 1024, 1024, 1024, 1024, 10] (4 hidden layers of 1024 units: the server's limits) and
[784, 128, 64, 10], both at their random initialisation (the costs do not depend on the
weights' values), it times on the lab's 2,000 test images (mlp.lab.subset):

- the lab: an edited copy (2 units off, 30 % pruned, temperature 2) and its scores, what each
  change of an edit costs; the copy and the scores apart; and the scores of the original;
- the top 9 of every unit of the first and of the last hidden layer (cached per model and layer);
- the PCA of each layer's activations, exact (NumPy's SVD) and randomized, and `layer_maps`
  (every layer at once, as the page caches it per model);
- the map's figure: the text art of the 2,000 images, the figure, and its JSON (what Streamlit
  sends), with the JSON's size;
- Save as a run: the edited network measured on the whole test set and 10,000 training images.

Medians (and min-max) of ``--repeats`` calls, after one untimed call. One BLAS thread by
default, as the server's page threads have (playground.server.slots).
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

from bench_core import blas_limit, heading, load_mnist, print_machine, spread  # noqa: E402
from mlp import MLP, analysis, lab  # noqa: E402
from mlp.data import ENV_DATA  # noqa: E402
from mlp.preprocess import to_float  # noqa: E402
from playground import figures  # noqa: E402

NETWORKS = ([784, 1024, 1024, 1024, 1024, 10], [784, 128, 64, 10])


def timed(fn, repeats):
    """Seconds of each of ``repeats`` calls of fn, after one untimed call; and its last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def line(name, times, extra=""):
    print(f"  {name:<52} {spread(times, 1e3, '{:.1f}')} ms{extra}", flush=True)


def bench(data, sizes, repeats):
    model = MLP(sizes, random_state=0)
    idx = lab.subset(data.y_test)
    X, y = to_float(data.x_test[idx]), data.y_test[idx]
    n_hidden = len(sizes) - 2
    edits = lab.Edits((lab.UnitEdit(1, 3, off=True), lab.UnitEdit(n_hidden, 5, off=True)), temperature=2.0,
                      prune=0.3)
    heading(f"{sizes}: {model.n_params:,} parameters, {len(y):,} test images")

    line("lab: edited copy + scores (each edit)", timed(lambda: lab.evaluate(lab.edited(model, edits), X, y),
                                                        repeats)[0])
    line("  edited copy alone", timed(lambda: lab.edited(model, edits), repeats)[0])
    line("  edited copy, no pruning", timed(lambda: lab.edited(model, lab.Edits(edits.units, 2.0)), repeats)[0])
    line("  scores alone (the original's, once per model)", timed(lambda: lab.evaluate(model, X, y), repeats)[0])
    for layer in sorted({1, n_hidden}):
        line(f"top 9 of every unit of hidden layer {layer}", timed(lambda: lab.top_images(model, X, layer, 9),
                                                                   repeats)[0])

    A = [X] + analysis.hidden_activations(model, X)
    for i, a in enumerate(A):
        name = "input pixels" if i == 0 else f"hidden layer {i}"
        exact, (p_exact, r_exact) = timed(lambda: analysis.pca(a, 2, method="exact"), repeats)
        fast, (p_fast, r_fast) = timed(lambda: analysis.pca(a, 2, method="randomized"), repeats)
        auto = "randomized" if min(a.shape) > analysis.EXACT_SVD_MAX else "exact"
        gap = max(abs(r_fast - r_exact))
        print(f"  PCA of {name} {a.shape}: exact {spread(exact, 1e3, '{:.1f}')} ms, randomized "
              f"{spread(fast, 1e3, '{:.1f}')} ms (auto: {auto}); explained {r_exact[0]:.3f} {r_exact[1]:.3f}, "
              f"randomized off by {gap:.1e}", flush=True)
    del A
    times, (maps, predictions) = timed(lambda: analysis.layer_maps(model, X, y), repeats)
    line("layer_maps: every layer's map (once per model)", times)

    images = data.x_test[idx]
    times, art = timed(lambda: figures.text_art(images), repeats)
    line("text art of the 2,000 images", times)
    fig_times, fig = timed(lambda: figures.layer_map(maps[-1].points, y, predictions, idx, art, data.classes,
                                                     "Map"), repeats)
    line("map figure", fig_times)
    json_times, spec = timed(lambda: fig.to_json(), repeats)
    line("map figure to JSON (what Streamlit sends)", json_times, f"   {len(spec) / 1e6:.2f} MB")
    copy = lab.edited(model, edits)
    line("save as a run: the record on 10,000 + 10,000 images", timed(lambda: lab.record(copy, data),
                                                                       max(1, repeats // 2))[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls of each (default 7)")
    parser.add_argument("--data-dir", default=os.environ.get(ENV_DATA))
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (default 1, as the server)")
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    print_machine(None)
    with blas_limit(args.blas_threads):
        print(f"BLAS threads: {args.blas_threads}")
        for sizes in NETWORKS:
            bench(data, sizes, args.repeats)


if __name__ == "__main__":
    main()
