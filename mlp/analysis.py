"""Look at the data and inside a trained network: samples, mean images, mistakes, robustness,
weights and activations, and maps of a layer (PCA).

Pure NumPy on the read-only uint8 arrays of `mlp.data`; the Gallery, Evaluate and Inspect pages
only draw what these functions return.
"""
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image

from .metrics import accuracy, confusion_matrix
from .model import ACTIVATIONS
from .preprocess import to_float


def predict_all(model, images, chunk=4096):
    """Return class probabilities (n, n_classes) for uint8 images, converted a chunk at a time."""
    return np.concatenate([model.forward(to_float(images[i:i + chunk]))[-1]
                           for i in range(0, max(len(images), 1), chunk)])


def confusion(proba, labels, n_classes=10):
    """Return the confusion matrix C[true, predicted] of probabilities against labels."""
    return confusion_matrix(labels, proba.argmax(axis=1), n_classes)


def cell_indices(proba, labels, true_class, predicted_class, limit=48):
    """Return the indices of the samples of ``true_class`` predicted as ``predicted_class``, most confident first."""
    pred = proba.argmax(axis=1)
    idx = np.flatnonzero((labels == true_class) & (pred == predicted_class))
    return idx[np.argsort(-proba[idx, predicted_class], kind="stable")][:limit]


def confident_mistakes(proba, labels, limit=24):
    """Return the indices of wrong predictions, the most confident first."""
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:limit]


def top_k(proba_row, k=3):
    """Return [(class, probability), ...] of the k most probable classes of one sample."""
    best = np.argsort(-proba_row, kind="stable")[:k]
    return [(int(c), float(proba_row[c])) for c in best]


# ----------------------------------------------------------------------------
# robustness: accuracy as the test images get noisier, rotated or shifted


def perturb(images, kind, amount, seed=0):
    """Return float32 rows (n, 784) in [0, 1] of 28 x 28 uint8 images changed by ``amount``.

    kind "noise": add Gaussian noise of standard deviation ``amount`` (pixel scale 0 to 1);
    "rotate": turn by ``amount`` degrees; "shift": move ``amount`` pixels right and down.
    """
    images = np.asarray(images)
    if kind == "noise":
        X = to_float(images)
        X += np.random.default_rng(seed).normal(0, amount, X.shape).astype(X.dtype)
        return np.clip(X, 0, 1, out=X)
    if kind == "rotate":
        turned = [np.asarray(Image.fromarray(im).rotate(amount, resample=Image.Resampling.BILINEAR))
                  for im in images]
        return to_float(np.stack(turned))
    if kind == "shift":
        s = int(round(amount))
        out = np.zeros_like(images)
        if s < 28:
            out[:, s:, s:] = images[:, :28 - s, :28 - s]
        return to_float(out)
    raise ValueError(f"unknown perturbation {kind!r}; use 'noise', 'rotate' or 'shift'")


def amounts(kind, limit):
    """The amounts up to ``limit`` that a robustness curve is measured at: 9 evenly spaced, or each
    whole pixel for "shift" (images move by whole pixels)."""
    return np.arange(int(limit) + 1.0) if kind == "shift" else np.round(np.linspace(0, limit, 9), 3)


def robustness(model, images, labels, kind, amounts, seed=0):
    """Return the accuracy of ``model`` on the images perturbed by each of ``amounts``."""
    return np.array([accuracy(labels, model.predict(perturb(images, kind, a, seed))) for a in amounts])


# ----------------------------------------------------------------------------
# inside the network


def first_layer_images(model):
    """Return the first layer's weights as one 28 x 28 image per hidden unit, (n_units, 28, 28)."""
    W = model.coefs_[0]  # (784, n_units)
    return W.T.reshape(-1, 28, 28)


def layer_outputs(model, x):
    """Return every layer's values for one input row x (784,): a list of (name, vector).

    The hidden layers' activations, then the output layer's logits and its softmax.
    """
    A = model.forward(np.asarray(x, dtype=np.float32).reshape(1, -1))
    logits = A[-2] @ model.coefs_[-1] + model.intercepts_[-1]
    named = [(f"hidden layer {i} ({model.activation})", a[0]) for i, a in enumerate(A[1:-1], start=1)]
    return named + [("logits", logits[0]), ("softmax", A[-1][0])]


def hidden_activations(model, X):
    """Return the activations of every hidden layer for the rows of X: a list of (n, n_units)."""
    return model.forward(np.asarray(X, dtype=np.float32))[1:-1]


def dead_units(model, X):
    """Return, for each hidden layer, the share of units that are zero on every row of X.

    A ReLU unit that never fires gets no gradient and has stopped learning ("dead").
    """
    return [float(np.mean(~(A != 0).any(axis=0))) for A in hidden_activations(model, X)]


def histogram(values, bins=50):
    """Return (counts, bin edges) of the values, flattened."""
    return np.histogram(np.ravel(values), bins=bins)


# ----------------------------------------------------------------------------
# the data: seeded samples, class counts, mean images, and a model's mistakes among them


def sample(labels: np.ndarray, n: int, seed: int, classes=None, mask=None) -> np.ndarray:
    """Return the indices of up to ``n`` samples in a seeded random order.

    The same seed gives the same order, and a smaller ``n`` gives a prefix of a larger one.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    n : int
        How many indices to return at most.
    seed : int
    classes : sequence of int, optional
        Keep only samples of these classes; None or empty keeps all.
    mask : ndarray of bool, shape (n_samples,), optional
        Keep only samples where it is True. It filters the seeded order without changing it,
        so the result is a subsequence of the unmasked one.

    Returns
    -------
    ndarray of shape (min(n, n_kept),), int
    """
    labels = np.asarray(labels)
    keep = np.isin(labels, classes) if classes is not None and len(classes) else np.ones(len(labels), bool)
    idx = np.flatnonzero(keep)
    idx = idx[np.random.default_rng(seed).permutation(len(idx))]
    if mask is not None:
        idx = idx[np.asarray(mask, bool)[idx]]
    return idx[:n]


def class_counts(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Return how many samples each class has, ndarray of shape (n_classes,)."""
    return np.bincount(np.asarray(labels), minlength=n_classes)[:n_classes]


def mean_images(images: np.ndarray, labels: np.ndarray, n_classes: int = 10, chunk: int = 4096) -> np.ndarray:
    """Return the mean image of each class.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width), uint8
        Read-only arrays are fine: they are only read, a chunk at a time.
    labels : ndarray of shape (n_samples,)
    n_classes : int
    chunk : int
        Images converted to float at once; bounds the extra memory.

    Returns
    -------
    ndarray of shape (n_classes, height, width), float32 in [0, 1]
        A class without samples gets a black image.
    """
    n, h, w = images.shape
    sums = np.zeros((n_classes, h * w), np.float64)
    for i in range(0, n, chunk):
        X = to_float(images[i:i + chunk])  # (m, h*w) in [0, 1]
        y = np.asarray(labels[i:i + chunk])
        Y = (y[:, None] == np.arange(n_classes)).astype(X.dtype)  # one-hot (m, n_classes)
        sums += Y.T @ X  # (n_classes, m) @ (m, h*w) -> (n_classes, h*w)
    counts = np.maximum(class_counts(labels, n_classes), 1)
    return (sums / counts[:, None]).reshape(n_classes, h, w).astype(np.float32)


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Return images (..., height, width) enlarged ``factor`` times by repeating each pixel."""
    return np.asarray(images).repeat(factor, axis=-2).repeat(factor, axis=-1)


def mistakes(model, images: np.ndarray, labels: np.ndarray, n: int, seed: int, classes=None,
             chunk: int = 1024):
    """Return the indices and predictions of up to ``n`` samples the model gets wrong.

    They come in the order of ``sample(labels, len(labels), seed, classes)``, and the model only sees
    as many chunks of that order as it takes to find ``n`` mistakes (usually one).

    Returns
    -------
    indices : ndarray of shape (n_found,), int
    predictions : ndarray of shape (n_found,), int
    """
    order = sample(labels, len(labels), seed, classes)
    found, preds, n_found = [], [], 0
    for i in range(0, len(order), chunk):
        idx = order[i:i + chunk]
        p = predict_all(model, images[idx]).argmax(axis=1)
        wrong = p != np.asarray(labels)[idx]
        found.append(idx[wrong])
        preds.append(p[wrong])
        n_found += int(wrong.sum())
        if n_found >= n:
            break
    if not found:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    return np.concatenate(found)[:n], np.concatenate(preds)[:n]


# ----------------------------------------------------------------------------
# a network diagram for one input: the strongest units and connections, layer by layer


class Edge(NamedTuple):
    """A connection drawn between shown units of layers ``layer`` and ``layer + 1``.

    ``source`` and ``target`` are positions in those layers' `LayerView.units`, not unit indices;
    ``contribution`` is the source's activation times ``weight``: what it adds to the target's sum.
    """
    layer: int
    source: int
    target: int
    weight: float
    contribution: float


@dataclass(frozen=True)
class LayerView:
    """The units of one layer that a diagram shows, strongest first (the output: every class, in order)."""
    size: int                 # units in the whole layer
    units: np.ndarray         # (k,) int, indices of the shown units
    activations: np.ndarray   # (k,) float32, their activations (the output's: probabilities)

    @property
    def capped(self) -> bool:
        """Whether some units are left out (the diagram says "top k of n")."""
        return len(self.units) < self.size


@dataclass(frozen=True)
class NetworkView:
    """What `network_view` returns: enough numbers to draw the network for one input, and no more."""
    layers: tuple    # LayerView per layer, input first and output last
    edges: tuple     # Edge, the strongest per pair of consecutive layers, strongest first within a pair
    proba: np.ndarray  # (n_classes,) float32, all the output probabilities
    pixels: tuple    # (row, col) of each shown input unit, in the order of layers[0].units
    activation: str  # the hidden layers' activation function, e.g. "relu"


def _strongest(values, k):
    """Return the indices of the k largest values, largest first, ties by index."""
    return np.argsort(-values, kind="stable")[:k]


def network_view(model, x, top_k=16, edges=40):
    """Return a `NetworkView` of ``model`` for one input ``x`` (784,) float32 in [0, 1].

    Every layer is cut to what a diagram can show: the input to its ``top_k`` brightest pixels, each
    hidden layer to its ``top_k`` most active units (ties by index), the output kept whole. Between
    the shown units of consecutive layers it keeps the ``edges`` largest |contribution| (activation of
    the source times the weight); connections that contribute nothing (a dark pixel, a silent unit)
    are left out. Cheap enough to redraw twice a second while training runs: one forward pass of one
    row and a top_k x top_k slice of each weight matrix.
    """
    if top_k < 1 or edges < 0:
        raise ValueError(f"top_k must be at least 1 and edges at least 0, got {top_k} and {edges}")
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if x.size != model.layer_sizes[0]:
        raise ValueError(f"the input has {x.size} values, the network takes {model.layer_sizes[0]}")
    A = [a[0] for a in model.forward(x[None])]  # per layer (n_units,), input first, probabilities last
    layers = []
    for i, a in enumerate(A):
        units = np.arange(len(a)) if i == len(A) - 1 else _strongest(a, top_k)
        layers.append(LayerView(size=len(a), units=units, activations=a[units]))
    found = []
    for i, (W, src, dst) in enumerate(zip(model.coefs_, layers[:-1], layers[1:])):
        w = W[np.ix_(src.units, dst.units)]          # (k_src, k_dst)
        c = src.activations[:, None] * w              # (k_src, k_dst)
        flat = np.abs(c).ravel()
        best = _strongest(flat, edges)
        best = best[flat[best] > 0]
        s, t = np.divmod(best, c.shape[1])
        found += [Edge(i, int(a), int(b), float(w[a, b]), float(c[a, b])) for a, b in zip(s, t)]
    n_in = model.layer_sizes[0]
    width = math.isqrt(n_in) if math.isqrt(n_in) ** 2 == n_in else n_in  # 28 for 28 x 28 images
    pixels = tuple((int(u) // width, int(u) % width) for u in layers[0].units)
    return NetworkView(layers=tuple(layers), edges=tuple(found), proba=A[-1].copy(), pixels=pixels,
                       activation=model.activation)


# ----------------------------------------------------------------------------
# a map of a layer: its activations projected on their two principal axes

EXACT_SVD_MAX = 256  # pca's "auto" takes the exact SVD up to this many columns (or rows), else the randomized one


def top_singular(X, k, seed=0, oversample=10, n_iter=2):
    """Return the k largest singular values (k,) and their right singular vectors (k, d) of X (n, d),
    by a randomized range finder (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1).

    1) sketch the range of X with a few random directions: Y = X @ Omega, (n, k + oversample);
    2) sharpen it with power iterations (re-orthonormalised each time, so that small singular
       values are not lost in rounding); 3) orthonormalise: Q (n, width); 4) the SVD of the small
       B = Q.T @ X (width, d) gives the top of X's. Exact when X has rank at most k + oversample.
    """
    n, d = X.shape
    width = min(k + oversample, n, d)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(X @ rng.standard_normal((d, width)).astype(X.dtype))  # (n, width)
    for _ in range(n_iter):
        Q, _ = np.linalg.qr(X.T @ Q)  # (d, width)
        Q, _ = np.linalg.qr(X @ Q)    # (n, width)
    _, S, Vt = np.linalg.svd(Q.T @ X, full_matrices=False)  # (width, d) -> S (width,), Vt (width, d)
    return S[:k], Vt[:k]


def pca(X, k=2, method="auto", seed=0):
    """Return the rows of X (n, d) projected on their k principal axes, and the share of the
    variance along each.

    Each axis is signed so that its largest loading is positive (the same data gives the same map).
    ``method``: "exact" (NumPy's SVD), "randomized" (`top_singular`, for wide X: the exact SVD of
    2,000 x 1,024 activations takes about 0.8 s here, this about 20 ms), or "auto" (exact up to
    EXACT_SVD_MAX columns or rows). Axes beyond the rank of X come out as zeros.

    Returns
    -------
    points : ndarray of shape (n, k), float32
    ratios : ndarray of shape (k,), sorted from the largest, summing to at most 1
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or not X.size or not np.isfinite(X).all():
        raise ValueError(f"pca needs a finite 2-D array with rows and columns, got shape {X.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive whole number, got {k!r}")
    if method not in ("auto", "exact", "randomized"):
        raise ValueError(f"unknown method {method!r}; use 'auto', 'exact' or 'randomized'")
    Xc = X - X.mean(axis=0)  # (n, d)
    m = min(k, *Xc.shape)
    if method == "exact" or method == "auto" and min(Xc.shape) <= EXACT_SVD_MAX:
        _, S, Vt = np.linalg.svd(Xc, full_matrices=False)
        S, Vt = S[:m], Vt[:m]
    else:
        S, Vt = top_singular(Xc, m, seed)
    Vt = Vt * np.where(Vt[np.arange(m), np.abs(Vt).argmax(axis=1)] < 0, -1, 1)[:, None]  # the signs
    points, ratios = np.zeros((len(X), k), np.float32), np.zeros(k)
    points[:, :m] = Xc @ Vt.T  # (n, d) @ (d, m) -> (n, m)
    total = float(np.square(Xc, dtype=np.float64).sum())
    if total > 0:
        ratios[:m] = np.minimum(np.square(S.astype(np.float64)) / total, 1.0)
    return points, ratios


def nearest_centre_share(points, labels) -> float:
    """Return the share of the points whose nearest class centre (the mean of a class's points)
    is their own class's: near 1 when the classes lie apart, near 1 / n_classes when mixed."""
    points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels)
    if not len(points):
        return float("nan")
    present = np.unique(labels)
    centres = np.stack([points[labels == c].mean(axis=0) for c in present])          # (c, k)
    d2 = np.square(points[:, None, :] - centres[None]).sum(axis=2)                     # (n, c)
    return float(np.mean(present[d2.argmin(axis=1)] == labels))


@dataclass(frozen=True)
class LayerMap:
    """One layer's activations for a set of images, on their two principal axes."""
    name: str               # "input pixels", "hidden layer 1", ...
    points: np.ndarray      # (n, 2) float32
    explained: np.ndarray   # (2,) share of the layer's variance along each axis
    separation: float       # nearest_centre_share of the points


def layer_maps(model, X, labels, seed=0):
    """Return a `LayerMap` per layer for the rows X (n, 784), the input pixels first and then
    each hidden layer, and the model's predictions (n,). One layer's activations are held at a
    time; only the 2-D points are kept."""
    A = np.asarray(X, dtype=np.float32)
    if A.ndim != 2 or A.shape[1] != model.layer_sizes[0] or len(A) != len(labels):
        raise ValueError(f"need one row of {model.layer_sizes[0]} values per label, got {A.shape}")
    act, maps = ACTIVATIONS[model.activation], []
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        points, ratios = pca(A, 2, seed=seed)
        maps.append(LayerMap("input pixels" if i == 0 else f"hidden layer {i}", points, ratios,
                             nearest_centre_share(points, labels)))
        Z = A @ W  # (n, n_in) @ (n_in, n_out) -> (n, n_out)
        Z += b
        A = Z if i == len(model.coefs_) - 1 else act(Z)
    return maps, A.argmax(axis=1)  # the logits' argmax is the softmax's
