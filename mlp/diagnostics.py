"""What happens inside a training: per-layer measurements taken every few updates.

`measure` looks at one update: the gradient, the weights before and after it, the weights at
the start, and the batch's activations. For each weight layer it gives the gradient's norm,
the update's size against the weights' (the "1e-3 rule": a healthy update moves a layer's
weights by about a thousandth), the weights' norm and how far they have drifted from where they
started; for each hidden layer, the share of its units that gave 0 for every image of the batch
(dead ReLUs). The trainer samples it every few updates (`every`), so it costs little.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Diagnostics:
    step: int                   # the update measured (counting from 1)
    epoch: float
    grad_norm: tuple            # per weight layer: ||dL/dW||
    update_ratio: tuple         # per weight layer: ||W_after - W_before|| / ||W_before||
    weight_norm: tuple          # per weight layer: ||W||
    drift: tuple                # per weight layer: ||W - W_start|| / ||W_start||
    dead: tuple                 # per hidden layer: share of units at 0 for the whole batch (ReLU only)


def row(d: Diagnostics) -> tuple:
    """``d`` as a plain tuple of numbers and tuples of numbers, the form a trainer keeps them in:
    Python's garbage collector stops walking such tuples after its first look, while it walks
    every dataclass instance at every collection (and a server collects after every page run)."""
    return d.step, d.epoch, d.grad_norm, d.update_ratio, d.weight_norm, d.drift, d.dead


def every(log_every: int) -> int:
    """How many updates apart the diagnostics are sampled: ten times between two records, but
    at most every 5 updates (a measurement costs about a tenth of a small network's update), and
    at least once a record."""
    return max(1, min(log_every, max(5, log_every // 10)))


def norms(model, flat):
    """The Frobenius norm of each layer's weight matrix within a flat vector laid out like params."""
    return tuple(float(np.linalg.norm(W.ravel())) for W in model.views(flat)[0])


def measure(model, grad_norm, before, start, A, step, epoch, start_norm=None) -> Diagnostics:
    """Measure the update that took ``model`` from the flat weights ``before`` to its current ones.

    ``grad_norm`` is `norms` of the update's gradient, ``start`` the weights at the start of
    training (``start_norm`` their `norms`, if known), ``A`` the batch's activations from
    `MLP.forward` (input first, probabilities last). ``before`` is used as scratch space.
    """
    now, was = norms(model, model.params), norms(model, before)
    began = start_norm or norms(model, start)
    moved = norms(model, np.subtract(model.params, before, out=before))
    drifted = norms(model, np.subtract(model.params, start, out=before))
    dead = tuple(float(np.mean(~(a > 0).any(axis=0))) for a in A[1:-1]  # (n, units) -> units never on
                 ) if model.activation == "relu" else ()
    return Diagnostics(step, epoch, tuple(grad_norm), tuple(m / max(w, 1e-12) for m, w in zip(moved, was)),
                       now, tuple(d / max(b, 1e-12) for d, b in zip(drifted, began)), dead)


def weight_histograms(model, start, bins=40):
    """Per weight layer: (edges, counts now, counts at the start), both on the same bins."""
    out = []
    for W, W0 in zip(model.coefs_, model.views(start)[0]):
        lo, hi = float(min(W.min(), W0.min())), float(max(W.max(), W0.max()))
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
        out.append((edges, np.histogram(W, edges)[0], np.histogram(W0, edges)[0]))
    return out


def gap(history):
    """The train-test accuracy gap of each progress record, and whether it is widening there:
    larger than at every earlier record and at least 2 points."""
    gaps = [p.train_accuracy - p.test_accuracy for p in history]
    widening, widest = [], -np.inf
    for g in gaps:
        widening.append(g > widest and g >= 0.02)
        widest = max(widest, g)
    return gaps, widening
