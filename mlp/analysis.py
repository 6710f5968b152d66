"""Look inside a trained network: its mistakes, its robustness, its weights and its activations.

Pure NumPy; the Evaluate and Inspect pages only draw what these functions return.
"""
import numpy as np
from PIL import Image

from .metrics import confusion_matrix
from .preprocess import to_float


def predict_all(model, images, chunk=4096):
    """Return class probabilities (n, n_classes) for uint8 images, a chunk at a time."""
    return np.concatenate([model.predict_proba(to_float(images[i:i + chunk]))
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


def robustness(model, images, labels, kind, amounts, seed=0):
    """Return the accuracy of ``model`` on the images perturbed by each of ``amounts``."""
    return np.array([float(np.mean(model.predict(perturb(images, kind, a, seed)) == labels))
                     for a in amounts])


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
