"""Look at a data set: seeded random samples, class counts, mean images, and a model's mistakes.

Pure NumPy on the read-only uint8 arrays of `mlp.data`; the Gallery page only draws what comes out.
"""
import numpy as np

from .analysis import predict_all
from .preprocess import to_float


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


def predict(model, images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Return ``model``'s class for each uint8 image (n_samples, height, width), a chunk at a time."""
    return predict_all(model, images, chunk).argmax(axis=1)


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
        p = predict(model, images[idx])
        wrong = p != np.asarray(labels)[idx]
        found.append(idx[wrong])
        preds.append(p[wrong])
        n_found += int(wrong.sum())
        if n_found >= n:
            break
    if not found:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    return np.concatenate(found)[:n], np.concatenate(preds)[:n]
