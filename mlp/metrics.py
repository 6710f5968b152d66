"""Classification metrics on integer labels: accuracy, confusion matrix, per-class accuracy, loss."""
import numpy as np


def accuracy(y_true, y_pred) -> float:
    """Return the fraction of predictions that equal the labels."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion_matrix(y_true, y_pred, n_classes: int = 10) -> np.ndarray:
    """Return C of shape (n_classes, n_classes): C[i, j] counts true class i predicted as j."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(n_classes, n_classes)


def per_class_accuracy(y_true, y_pred, n_classes: int = 10) -> np.ndarray:
    """Return, for each class, the share of its samples predicted correctly (NaN for an absent class)."""
    C = confusion_matrix(y_true, y_pred, n_classes)
    support = C.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(C) / support


def log_loss(y_true, proba) -> float:
    """Return the mean cross-entropy of probabilities ``proba`` (n, k) against labels (n,)."""
    proba = np.asarray(proba)
    p = proba[np.arange(len(y_true)), np.asarray(y_true)]
    return float(-np.mean(np.log(np.maximum(p, np.finfo(proba.dtype).tiny))))


def coverage_curve(y_true, proba, thresholds):
    """Return (coverage, accuracy) of a classifier that answers only when it is sure enough.

    For each threshold t, a sample is answered when its top probability is at least t. Coverage is
    the share of samples answered, accuracy the share of right answers among them (NaN when none
    is answered). Both are ndarrays of shape (len(thresholds),).
    """
    proba = np.asarray(proba)
    confidence, right = proba.max(axis=1), proba.argmax(axis=1) == np.asarray(y_true)
    order = np.argsort(-confidence, kind="stable")           # the most confident first
    ranked = confidence[order]
    hits = np.concatenate([[0], np.cumsum(right[order])])    # right answers among the k most confident
    t = np.asarray(thresholds, dtype=ranked.dtype)
    answered = np.searchsorted(-ranked, -t, side="right")    # how many have confidence >= t
    with np.errstate(invalid="ignore", divide="ignore"):
        return answered / max(len(ranked), 1), hits[answered] / answered
