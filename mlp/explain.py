"""Inside one prediction and one update: backpropagation on one example, stage by stage; a numeric
check of one weight's gradient; one gradient step and its effect; which pixels a class depends on
(saliency), and how to change an image toward a class.

Every number comes from the network's own `MLP.forward` and `MLP.backward`, the ones training uses:
this module keeps what they compute for one example and lays it out in the stages a learner steps
through. For one example (n = 1) each layer's delta dL/dZ is its bias gradient db, and dW = A^T delta
is an outer product, so `MLP.backward`'s gradient holds every backward number there is to show.
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .model import DERIVATIVES

# ----------------------------------------------------------------------------
# one example, forward and backward


@dataclass(frozen=True)
class Trace:
    """Everything one forward and one backward pass compute for one example; layer l = 1..L.

    ``A[0]`` is the input and ``A[L]`` the probabilities; ``Z[l - 1]`` is layer l's pre-activation
    (``Z[-1]`` the logits); ``dW[l - 1]`` and ``db[l - 1]`` its gradients, ``db[l - 1]`` = its delta.
    """
    x: np.ndarray          # (n_in,) the input row
    label: int             # the true class
    A: tuple               # (n_l,) per layer, input first, probabilities last
    Z: tuple               # (n_l,) per layer 1..L, logits last
    dW: tuple              # (n_{l-1}, n_l) per layer 1..L
    db: tuple              # (n_l,) per layer 1..L: delta = dL/dZ of the layer
    grad: np.ndarray       # MLP.backward's flat gradient, laid out like params; dW and db are views of it
    loss: float            # cross-entropy -log P[label]
    activation: str        # the hidden layers' activation function
    W: tuple               # the weights the pass used, (n_{l-1}, n_l) per layer 1..L (not copies)

    @property
    def layers(self) -> int:
        """L: the number of weight layers (hidden layers + 1)."""
        return len(self.Z)

    @property
    def proba(self) -> np.ndarray:
        return self.A[-1]

    def delta(self, layer) -> np.ndarray:
        """dL/dZ of layer 1..L (for the output: P - Y)."""
        return self.db[layer - 1]

    def upstream(self, layer) -> np.ndarray:
        """dL/dA of hidden layer 1..L-1: the next layer's delta sent back through its weights."""
        return self.W[layer] @ self.delta(layer + 1)  # (n_l, n_{l+1}) @ (n_{l+1},) -> (n_l,)

    def slope(self, layer) -> np.ndarray:
        """f'(Z) of hidden layer 1..L-1: the chain-rule factor through its activation."""
        slope = np.ones_like(self.A[layer])
        DERIVATIVES[self.activation](self.A[layer], slope)
        return slope


def _loss(logits, label):
    """Cross-entropy of one row of logits, -log softmax(z)[label] = logsumexp(z) - z[label], in float64."""
    z = np.asarray(logits, dtype=np.float64)
    top = z.max()
    return float(top + np.log(np.exp(z - top).sum()) - z[label])


def trace(model, x, label) -> Trace:
    """Run one example ``x`` (n_in,) with its true ``label`` forward and backward through ``model``."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if x.size != model.layer_sizes[0]:
        raise ValueError(f"the input has {x.size} values, the network takes {model.layer_sizes[0]}")
    if not 0 <= int(label) < model.layer_sizes[-1]:
        raise ValueError(f"the label must be a class from 0 to {model.layer_sizes[-1] - 1}, not {label!r}")
    label = int(label)
    A = model.forward(x[None])                       # no rng: no dropout, as at prediction
    grad = model.backward(A, np.array([label]))      # the mean over one row: this example's gradient
    dW, db = model.views(grad)
    # the pre-activations, which forward overwrote in place: Z = A W + b with the same numbers
    Z = [a @ W + b for a, W, b in zip(A[:-1], model.coefs_, model.intercepts_)]
    return Trace(x=x, label=label, A=tuple(a[0] for a in A), Z=tuple(z[0] for z in Z), dW=tuple(dW),
                 db=tuple(db), grad=grad, loss=_loss(Z[-1][0], label), activation=model.activation,
                 W=tuple(model.coefs_))


# ----------------------------------------------------------------------------
# the stages a learner steps through


class Stage(NamedTuple):
    kind: str    # "input", "forward", "logits", "softmax", "loss", "output", "backward", "step"
    layer: int   # the weight layer 1..L it is about (0 for the input and the step)
    title: str


def stages(layer_sizes) -> list[Stage]:
    """The stages of one example through a network of ``layer_sizes``: forward layer by layer, the
    softmax and the loss, backward from the output to the first layer, then one gradient step."""
    L = len(layer_sizes) - 1
    out = [Stage("input", 0, f"The input: {layer_sizes[0]} pixels")]
    out += [Stage("forward", k, f"Forward, layer {k}: Z = A W + b, then the activation") for k in range(1, L)]
    out += [Stage("logits", L, "Forward, output layer: the logits Z = A W + b"),
            Stage("softmax", L, "Softmax: from logits to probabilities"),
            Stage("loss", L, "The loss: cross-entropy"),
            Stage("output", L, "Backward, output layer: dL/dZ = P - Y")]
    out += [Stage("backward", k, f"Backward, layer {k}: the chain rule through the activation")
            for k in range(L - 1, 0, -1)]
    return out + [Stage("step", 0, "One gradient step: W ← W − lr dW")]


# ----------------------------------------------------------------------------
# one unit's numbers: the formula with its values plugged in


class Term(NamedTuple):
    index: int      # the input unit k (forward) or the next layer's unit m (backward)
    value: float    # a_k (forward) or delta_m (backward)
    weight: float   # w_kj (forward) or w_jm (backward)
    product: float


@dataclass(frozen=True)
class Sum:
    """One unit's weighted sum, its largest terms first; the terms left out are summed in ``rest``."""
    terms: tuple    # Term, largest |product| first
    rest: float     # the sum of the other terms
    n_rest: int     # how many other terms
    zeros: int      # how many of those are exactly 0 (a dark pixel, a silent unit)
    total: float    # every term summed (+ the bias, forward)
    bias: float     # forward: b_j; backward: 0


def _sum(values, weights, top, bias=0.0):
    products = values.astype(np.float64) * weights
    order = np.argsort(-np.abs(products), kind="stable")
    shown, other = order[:top], order[top:]
    terms = tuple(Term(int(k), float(values[k]), float(weights[k]), float(products[k])) for k in shown)
    return Sum(terms, float(products[other].sum()), len(other), int((products[other] == 0).sum()),
               float(products.sum() + bias), float(bias))


def forward_sum(trace: Trace, model, layer, unit, top=3) -> Sum:
    """z_j = sum_k a_k w_kj + b_j of ``unit`` j in ``layer`` 1..L, with the ``top`` largest terms."""
    _check_unit(model, layer, unit)
    W, b = model.coefs_[layer - 1], model.intercepts_[layer - 1]
    return _sum(trace.A[layer - 1], W[:, unit], top, float(b[unit]))


def backward_sum(trace: Trace, model, layer, unit, top=3) -> Sum:
    """dL/da_j = sum_m delta_m w_jm of ``unit`` j in hidden ``layer`` 1..L-1: what the next layer sends back."""
    _check_unit(model, layer, unit)
    if layer >= trace.layers:
        raise ValueError(f"layer {layer} is the output; its delta is P - Y")
    return _sum(trace.delta(layer + 1), model.coefs_[layer][unit], top)


def _check_unit(model, layer, unit):
    L = len(model.layer_sizes) - 1
    if not 1 <= layer <= L:
        raise ValueError(f"the layer must be from 1 to {L}, not {layer!r}")
    if not 0 <= unit < model.layer_sizes[layer]:
        raise ValueError(f"layer {layer} has units 0 to {model.layer_sizes[layer] - 1}, not {unit!r}")


class Softmax(NamedTuple):
    """The softmax of one row of logits in its three steps, in float64."""
    logits: np.ndarray    # z
    shifted: np.ndarray   # z - max(z): the largest becomes 0, so exp cannot overflow
    exp: np.ndarray       # e^(z - max z)
    total: float          # their sum
    proba: np.ndarray     # e / sum


def softmax_steps(logits) -> Softmax:
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max()
    e = np.exp(shifted)
    return Softmax(z, shifted, e, float(e.sum()), e / e.sum())


def strongest(values, k):
    """Indices of the k largest |values|, largest first (ties by index): what a strip of a big layer shows."""
    return np.argsort(-np.abs(np.asarray(values)), kind="stable")[:k]


# ----------------------------------------------------------------------------
# a numeric check and one gradient step


def float64(model):
    """A copy of ``model`` that computes in float64 (for a finite difference that keeps many digits)."""
    other = model.copy()
    other.params = model.params.astype(np.float64)
    other.coefs_, other.intercepts_ = other.views(other.params)
    return other


class Check(NamedTuple):
    backprop: float      # dL/dw from MLP.backward, in float32 as training computes it
    backprop64: float    # the same in float64
    numeric: float       # (L(w + eps) - L(w - eps)) / (2 eps), in float64
    eps: float

    @property
    def relative(self) -> float:
        """|backprop64 - numeric| / max(|backprop64|, |numeric|, 1e-12): how far the two disagree."""
        return abs(self.backprop64 - self.numeric) / max(abs(self.backprop64), abs(self.numeric), 1e-12)


def gradient_check(model, x, label, layer, i, j, eps=1e-5) -> Check:
    """Compare backpropagation's dL/dW[layer][i, j] with a central finite difference on one example."""
    _check_unit(model, layer, j)
    if not 0 <= i < model.layer_sizes[layer - 1]:
        raise ValueError(f"the weight's input index must be from 0 to {model.layer_sizes[layer - 1] - 1}")
    t = trace(model, x, label)
    m64 = float64(model)
    x64 = t.x.astype(np.float64)[None]
    g64 = m64.views(m64.backward(m64.forward(x64), np.array([t.label])))[0][layer - 1][i, j]
    W = m64.coefs_[layer - 1]
    w = W[i, j]

    def loss():
        Z = m64.forward(x64)
        return -np.log(Z[-1][0, t.label]) if Z[-1][0, t.label] > 1e-300 else np.inf

    W[i, j] = w + eps
    up = loss()
    W[i, j] = w - eps
    down = loss()
    W[i, j] = w
    return Check(float(t.dW[layer - 1][i, j]), float(g64), float((up - down) / (2 * eps)), eps)


class Step(NamedTuple):
    model: object     # the network after the step (a copy; the one before is unchanged)
    before: Trace
    after: Trace
    lr: float

    @property
    def loss_drop(self) -> float:
        """How much this example's loss went down (negative: up)."""
        return self.before.loss - self.after.loss


def step(model, x, label, lr) -> Step:
    """Take one gradient-descent step on this one example: every weight moves by -lr dW."""
    lr = float(lr)
    if not (np.isfinite(lr) and 0 < lr <= 10):
        raise ValueError(f"the learning rate must be above 0 and at most 10, not {lr!r}")
    before = trace(model, x, label)
    after_model = model.copy()
    after_model.params -= np.float32(lr) * before.grad  # the same update as plain SGD on a batch of one
    return Step(after_model, before, trace(after_model, x, label), lr)


# ----------------------------------------------------------------------------
# which pixels a class depends on, and what would make the image another class


def input_gradient(model, x, cls) -> np.ndarray:
    """d log P[cls] / dx for one input x (n_in,): the class's score against each pixel.

    `MLP.backward` stops at the first layer's delta (its bias gradient db); one more product with
    the first weights gives the input's gradient, dL/dx = W1 delta1. The loss with label ``cls`` is
    -log P[cls], so its gradient, negated, is that of the score.
    """
    x = np.asarray(x, dtype=np.float32).reshape(1, -1)
    return _input_gradient(model, model.forward(x), cls)


def _input_gradient(model, A, cls):
    """`input_gradient` from the activations ``A`` of a forward pass of one row."""
    grad = model.backward(A, np.array([int(cls)]))
    delta1 = model.views(grad)[1][0]                  # (n_1,) dL/dZ of the first layer
    return -(model.coefs_[0] @ delta1)                # (n_in, n_1) @ (n_1,) -> (n_in,)


def saliency(model, x, cls=None) -> np.ndarray:
    """The gradient of the class's log-probability with respect to each pixel, as (28, 28) for MNIST.

    Red (positive): more ink there makes the class more likely; blue: less ink does. ``cls`` defaults
    to the predicted class.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if cls is None:
        cls = int(model.predict_proba(x[None])[0].argmax())
    g = input_gradient(model, x, cls)
    side = int(np.sqrt(g.size))
    return g.reshape(side, side) if side * side == g.size else g


class Nudge(NamedTuple):
    image: np.ndarray     # the changed input, same shape as x, values in [0, 1]
    change: np.ndarray    # image - x: ink to add (> 0) and to remove (< 0)
    target: int
    proba: np.ndarray     # (steps + 1, n_classes): the probabilities before and after each step

    @property
    def steps(self) -> int:
        return len(self.proba) - 1


def toward(model, x, target, steps=20, rate=0.05, until=0.9) -> Nudge:
    """Gradient ascent on the input toward class ``target``, kept a valid image.

    Each step moves the pixels along d log P[target] / dx, scaled so that the steepest pixel moves
    by ``rate`` (the size of the gradient does not matter), then clips to [0, 1]. It stops
    once P[target] reaches ``until`` or after ``steps`` steps.
    """
    if not 0 <= int(target) < model.layer_sizes[-1]:
        raise ValueError(f"the class must be from 0 to {model.layer_sizes[-1] - 1}, not {target!r}")
    if not (1 <= int(steps) <= 200 and 0 < float(rate) <= 1):
        raise ValueError("steps must be from 1 to 200 and the rate above 0 and at most 1")
    x = np.asarray(x, dtype=np.float32)
    image = x.reshape(-1).copy()
    proba = []
    for k in range(int(steps) + 1):
        A = model.forward(image[None])                # one forward pass a step: its P, then its gradient
        proba.append(A[-1][0].copy())
        if k == int(steps) or proba[-1][target] >= until:
            break
        g = _input_gradient(model, A, target)        # d log P[target] / dx
        top = np.abs(g).max()
        if not top > 0:
            break
        image += np.float32(rate) * g / top           # the steepest pixel moves by rate
        np.clip(image, 0, 1, out=image)
    image = image.reshape(x.shape)
    return Nudge(image, image - x, int(target), np.stack(proba))
