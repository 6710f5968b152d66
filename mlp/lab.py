"""The neuron lab: look at one hidden unit, edit a trained network, and measure what changed.

An `Edits` value says what to change: some units switched off, their incoming weights scaled or
their biases shifted, a softmax temperature, a share of the smallest weights pruned. `edited`
applies it to a copy, so the trained network is never touched and dropping the edits (Reset)
gives it back exactly. Everything is measured on one fixed subset of the test set (`subset`).
Pure NumPy; the Inspect page only draws what these functions return.
"""
import math
from dataclasses import dataclass, replace
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from .analysis import sample
from .metrics import log_loss
from .model import ACTIVATIONS, DTYPE
from .train import Progress, evaluate as evaluate_images

SUBSET, SUBSET_SEED = 2000, 0  # the test images the lab measures on
MAX_SCALE = 3.0                # incoming weights times 0 to this
MAX_SHIFT = 3.0                # bias moved by at most this either way
TEMPERATURES = (0.1, 10.0)     # softmax temperature, lowest and highest


def subset(labels, n=SUBSET):
    """Return the indices of the test images the lab measures on: ``n`` seeded samples (fixed)."""
    return sample(labels, n, SUBSET_SEED)


# ----------------------------------------------------------------------------
# checks: every value may come from a visitor


def _index(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number, not {str(value)[:20]!r}")
    return int(value)


def _number(value, name, low, high) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {str(value)[:20]!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {float(value):g}")
    return float(value)


def _check_layer(model, layer, unit=None):
    """Refuse a hidden layer (1 = the first) or a unit that ``model`` does not have."""
    hidden = model.layer_sizes[1:-1]
    layer = _index(layer, "the layer")
    if not 1 <= layer <= len(hidden):
        raise ValueError(f"the network has hidden layers 1 to {len(hidden)}, not layer {layer}")
    if unit is not None:
        unit = _index(unit, "the unit")
        if not 0 <= unit < hidden[layer - 1]:
            raise ValueError(f"hidden layer {layer} has units 0 to {hidden[layer - 1] - 1}, not unit {unit}")


# ----------------------------------------------------------------------------
# the edits


@dataclass(frozen=True)
class UnitEdit:
    """What to change about one hidden unit."""
    layer: int          # hidden layer, 1 for the first
    unit: int           # the unit's index in that layer
    off: bool = False   # its outgoing weights set to 0: the next layer no longer sees it
    scale: float = 1.0  # its incoming weights times this, 0 to MAX_SCALE
    shift: float = 0.0  # added to its bias, -MAX_SHIFT to MAX_SHIFT

    def __post_init__(self):
        if not isinstance(self.off, (bool, np.bool_)):
            raise ValueError(f"off must be True or False, not {str(self.off)[:20]!r}")
        layer, unit = _index(self.layer, "the layer"), _index(self.unit, "the unit")
        if layer < 1 or unit < 0:
            raise ValueError(f"layers count from 1 and units from 0, not layer {layer}, unit {unit}")
        for name, value in [("layer", layer), ("unit", unit), ("off", bool(self.off)),
                            ("scale", _number(self.scale, "the scale", 0.0, MAX_SCALE)),
                            ("shift", _number(self.shift, "the bias shift", -MAX_SHIFT, MAX_SHIFT))]:
            object.__setattr__(self, name, value)  # plain Python values, whatever came in

    @property
    def identity(self) -> bool:
        """True if it changes nothing."""
        return not self.off and self.scale == 1.0 and self.shift == 0.0

    def __str__(self):
        said = (["off"] if self.off else []) + ([f"weights × {self.scale:g}"] if self.scale != 1 else []) \
            + ([f"bias {self.shift:+g}"] if self.shift else [])
        return f"layer {self.layer} unit {self.unit}: " + (", ".join(said) or "unchanged")


@dataclass(frozen=True)
class Edits:
    """Everything the lab changes in a network; the default changes nothing."""
    units: tuple = ()          # UnitEdit, at most one per unit, sorted by (layer, unit)
    temperature: float = 1.0   # the logits are divided by this before the softmax
    prune: float = 0.0         # share of all weights, the smallest |w| first, set to 0 (biases kept)

    def __post_init__(self):
        units = tuple(self.units) if isinstance(self.units, (tuple, list)) else None
        if units is None or not all(isinstance(u, UnitEdit) for u in units):
            raise ValueError("the unit edits must be a list of UnitEdit")
        keys = [(u.layer, u.unit) for u in units]
        if len(set(keys)) < len(keys):
            raise ValueError("a unit is edited twice; give one edit per unit")
        object.__setattr__(self, "units", tuple(sorted((u for u in units if not u.identity),
                                                       key=lambda u: (u.layer, u.unit))))
        object.__setattr__(self, "temperature", _number(self.temperature, "the temperature", *TEMPERATURES))
        object.__setattr__(self, "prune", _number(self.prune, "the pruned share", 0.0, 1.0))

    @property
    def empty(self) -> bool:
        return not self.units and self.temperature == 1.0 and self.prune == 0.0

    def unit(self, layer, unit) -> UnitEdit:
        """The edit of one unit (one that changes nothing if it has none)."""
        return next((u for u in self.units if (u.layer, u.unit) == (layer, unit)), UnitEdit(layer, unit))

    def with_unit(self, edit: UnitEdit) -> "Edits":
        """These edits with ``edit`` in place of the unit's own (an edit that changes nothing removes it)."""
        rest = [u for u in self.units if (u.layer, u.unit) != (edit.layer, edit.unit)]
        return replace(self, units=tuple(rest + [edit]))

    def without(self, layer, unit) -> "Edits":
        return replace(self, units=tuple(u for u in self.units if (u.layer, u.unit) != (layer, unit)))

    def fitting(self, model) -> "Edits":
        """These edits without those of units that ``model`` does not have (once the model changed)."""
        hidden = model.layer_sizes[1:-1]
        return replace(self, units=tuple(u for u in self.units
                                         if u.layer <= len(hidden) and u.unit < hidden[u.layer - 1]))

    def check(self, model):
        """Raise ValueError if an edit names a layer or unit that ``model`` does not have."""
        for u in self.units:
            _check_layer(model, u.layer, u.unit)

    def describe(self) -> str:
        """A few words for a label: "2 units off, 1 scaled, pruned 30 %, temperature 2"."""
        off = sum(u.off for u in self.units)
        scaled = sum(u.scale != 1 for u in self.units)
        shifted = sum(u.shift != 0 for u in self.units)
        said = ([f"{off} unit{'s' * (off != 1)} off"] if off else []) + ([f"{scaled} scaled"] if scaled else []) \
            + ([f"{shifted} shifted"] if shifted else []) + \
            ([f"pruned {self.prune * 100:.3g} %"] if self.prune else []) + \
            ([f"temperature {self.temperature:g}"] if self.temperature != 1 else [])
        return ", ".join(said) or "no edits"


def pruned(weights, share):
    """Return a mask (n_weights,) of the weights laid end to end, all the matrices at once: True for
    the round(share x n_weights) of smallest magnitude (of those equal at the cut, the first)."""
    mags = np.concatenate([np.abs(W).ravel() for W in weights])  # (n_weights,)
    k = int(round(share * mags.size))
    if k <= 0 or k >= mags.size:
        return np.full(mags.size, k > 0)
    cut = np.partition(mags, k - 1)[k - 1]  # the k-th smallest magnitude (a partition, not a sort)
    drop = mags < cut
    drop[np.flatnonzero(mags == cut)[:k - int(drop.sum())]] = True
    return drop


def edited(model, edits: Edits):
    """Return a copy of ``model`` with ``edits`` applied; ``model`` itself is never changed.

    In this order: 1) prune the smallest weights of the trained network, 2) edit the units,
    3) divide the last layer's weights and biases by the temperature, which divides the logits
    by it exactly (up to float rounding).
    """
    if not isinstance(edits, Edits):
        raise ValueError("the edits must be an Edits value")
    edits.check(model)
    out = model.copy()
    if edits.prune:
        drop, at = pruned(out.coefs_, edits.prune), 0
        for W in out.coefs_:
            W[drop[at:at + W.size].reshape(W.shape)] = 0  # W is a view into out.params
            at += W.size
    for u in edits.units:
        W, b = out.coefs_[u.layer - 1], out.intercepts_[u.layer - 1]
        W[:, u.unit] *= DTYPE(u.scale)            # (n_in,) what comes in
        b[u.unit] += DTYPE(u.shift)
        if u.off:
            out.coefs_[u.layer][u.unit, :] = 0    # (n_out,) what goes out
    if edits.temperature != 1.0:
        out.coefs_[-1] /= DTYPE(edits.temperature)
        out.intercepts_[-1] /= DTYPE(edits.temperature)
    return out


# ----------------------------------------------------------------------------
# one unit: what it sees, what makes it fire


def _rows(model, X):
    X = np.asarray(X, dtype=DTYPE)
    if X.ndim != 2 or X.shape[1] != model.layer_sizes[0]:
        raise ValueError(f"the inputs must be rows of {model.layer_sizes[0]} values, not shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("the inputs must be finite numbers")
    return X


def layer_activations(model, X, layer):
    """Return hidden layer ``layer``'s activations (n, n_units) for the rows X (n, n_in); the layers
    above it are not computed."""
    _check_layer(model, layer)
    act = ACTIVATIONS[model.activation]
    A = _rows(model, X)
    for W, b in zip(model.coefs_[:layer], model.intercepts_[:layer]):
        Z = A @ W  # (n, n_in) @ (n_in, n_out) -> (n, n_out)
        Z += b
        A = act(Z)
    return A


def unit(model, layer, unit):
    """Return a unit's incoming weights (n_in,) (a copy) and its bias."""
    _check_layer(model, layer, unit)
    return model.coefs_[layer - 1][:, unit].copy(), float(model.intercepts_[layer - 1][unit])


def activation(model, x, layer, unit):
    """Return the activation of one unit for one input x (n_in,)."""
    _check_layer(model, layer, unit)
    return float(layer_activations(model, np.asarray(x).reshape(1, -1), layer)[0, unit])


def top_images(model, X, layer, k=9):
    """Return, for every unit of hidden layer ``layer``, the k rows of X that make it fire most:
    (n_units, k) indices, the strongest first, ties by index."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive whole number, not {str(k)[:20]!r}")
    A = layer_activations(model, X, layer)                 # (n, n_units)
    k = min(int(k), len(A))
    return np.argsort(-A, axis=0, kind="stable")[:k].T     # (n_units, k)


# ----------------------------------------------------------------------------
# what a network does on the subset


class Scores(NamedTuple):
    accuracy: float
    confidence: float   # the mean probability given to the predicted class
    loss: float         # the mean cross-entropy


def scores(proba, labels) -> Scores:
    """Return the `Scores` of class probabilities (n, n_classes) against integer labels (n,)."""
    proba, labels = np.asarray(proba), np.asarray(labels)
    if proba.ndim != 2 or len(proba) != len(labels) or not len(labels):
        raise ValueError(f"need one probability row per label, got {proba.shape} for {labels.shape}")
    return Scores(float(np.mean(proba.argmax(axis=1) == labels)), float(proba.max(axis=1).mean()),
                  log_loss(labels, proba))


def evaluate(model, X, labels, batch_size=500) -> Scores:
    """Return the `Scores` of ``model`` on the rows X (n, n_in) with labels (n,), a batch at a time."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.min(initial=0) < 0 \
            or labels.max(initial=0) >= model.layer_sizes[-1]:
        raise ValueError(f"the labels must be classes 0 to {model.layer_sizes[-1] - 1}")
    return scores(model.predict_proba(_rows(model, X), batch_size=batch_size), labels)


def record(model, data, last=None, n_train=10_000) -> Progress:
    """Return a `mlp.train.Progress` record of an edited network, to end the curves of its run: its
    accuracy and loss on the whole test set and on ``n_train`` seeded training images, at the
    update, epoch, time and learning rate of ``last`` (the last record of the network it was made
    from), or at 0."""
    test_acc, test_loss = evaluate_images(model, data.x_test, data.y_test)
    rows = sample(data.y_train, n_train, SUBSET_SEED)
    train_acc, train_loss = evaluate_images(model, data.x_train[rows], data.y_train[rows])
    return Progress(step=last.step if last else 0, epoch=last.epoch if last else 0.0, train_accuracy=train_acc,
                    test_accuracy=test_acc, loss=train_loss, test_loss=test_loss,
                    samples_per_second=last.samples_per_second if last else 0.0,
                    elapsed=last.elapsed if last else 0.0, lr=last.lr if last else 0.0)
