"""The multi-layer perceptron: weights, forward pass and backpropagation.

Batch-first rows (`Z = A @ W + b`), float32 throughout, softmax cross-entropy output.
It knows nothing of optimizers or data sets; `mlp.train` drives it. Its file format (save and
load) is `mlp.model_file`.
"""
import numpy as np

from .metrics import accuracy

DTYPE = np.float32

# ----------------------------------------------------------------------------
# activations: each works in place on Z and returns it; each derivative is
# written in terms of the activation's output A and scales delta in place


def relu(Z):
    return np.maximum(Z, 0, out=Z)


def relu_grad(A, delta):
    np.multiply(delta, A > 0, out=delta)  # d relu(z) / dz = 1 where z > 0, else 0


def sigmoid(Z):
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    return np.reciprocal(Z, out=Z)  # 1 / (1 + e^-z)


def sigmoid_grad(A, delta):
    delta *= A * (1 - A)  # s'(z) = s(z) (1 - s(z))


def tanh(Z):
    return np.tanh(Z, out=Z)


def tanh_grad(A, delta):
    delta *= 1 - A * A  # tanh'(z) = 1 - tanh(z)^2


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}
DERIVATIVES = {"relu": relu_grad, "sigmoid": sigmoid_grad, "tanh": tanh_grad}


def softmax(Z):
    """Turn each row of logits into probabilities, in place."""
    Z -= Z.max(axis=1, keepdims=True)  # subtract the row max so exp cannot overflow
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


# ----------------------------------------------------------------------------
# initialisation


def he(rng, n_in, n_out, activation):
    """He et al. 2015: N(0, 2 / fan_in), for ReLU."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


def glorot(rng, n_in, n_out, activation):
    """Glorot & Bengio 2010, uniform, for sigmoid and tanh (sklearn's factor 2 for sigmoid)."""
    bound = np.sqrt((2.0 if activation == "sigmoid" else 6.0) / (n_in + n_out))
    return rng.uniform(-bound, bound, (n_in, n_out)), np.zeros(n_out)


def notebook(rng, n_in, n_out, activation):
    """The original notebook's: randn * sqrt(1 / n_out), biases too."""
    scale = np.sqrt(1.0 / n_out)
    return rng.standard_normal((n_in, n_out)) * scale, rng.standard_normal(n_out) * scale


INITS = {"he": he, "glorot": glorot, "notebook": notebook}


def init_layer(rng, n_in, n_out, scheme, activation):
    """Return (W, b) for one layer under an initialisation scheme of `INITS`."""
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; use one of {', '.join(INITS)}")
    W, b = INITS[scheme](rng, n_in, n_out, activation)
    return W.astype(DTYPE), b.astype(DTYPE)


class MLP:
    """A fully connected network: hidden layers with one activation, softmax on top.

    Parameters
    ----------
    layer_sizes : list of int
        Input size, hidden sizes, number of classes, e.g. ``[784, 128, 64, 10]``.
    activation : a name of `ACTIVATIONS` ("relu", "sigmoid", "tanh")
    init : a name of `INITS` ("he", "glorot", "notebook")
    dropout : float
        Probability of zeroing a hidden unit while training (inverted dropout).
    random_state : int
    """

    def __init__(self, layer_sizes, activation="relu", init="he", dropout=0.0, random_state=0):
        if len(layer_sizes) < 2 or min(layer_sizes) < 1:
            raise ValueError(f"layer sizes must be at least two positive numbers, got {layer_sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.layer_sizes = [int(n) for n in layer_sizes]
        self.activation = activation
        self.dropout = float(dropout)
        # all weights and biases live in one flat buffer, so an optimizer updates them
        # with a handful of vector operations; coefs_ and intercepts_ are views into it
        self.params = np.empty(self.n_params, dtype=DTYPE)
        self.coefs_, self.intercepts_ = self.views(self.params)
        rng = np.random.default_rng(random_state)
        for W, b in zip(self.coefs_, self.intercepts_):
            W[...], b[...] = init_layer(rng, *W.shape, init, activation)

    @property
    def n_params(self) -> int:
        return sum((n_in + 1) * n_out for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]))

    def views(self, flat):
        """Split a flat vector into per-layer (W, b) views: W[i] (n_in, n_out), b[i] (n_out,)."""
        Ws, bs, at = [], [], 0
        for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            Ws.append(flat[at:at + n_in * n_out].reshape(n_in, n_out))
            at += n_in * n_out
            bs.append(flat[at:at + n_out])
            at += n_out
        return Ws, bs

    def forward(self, X, rng=None):
        """Return the activations of every layer, input first and probabilities last.

        With ``rng`` given, hidden units are dropped out (training mode), and the masks are
        kept for the `backward` call that follows.
        """
        act = ACTIVATIONS[self.activation]
        dropping = rng is not None and self.dropout > 0
        self._keep = [] if dropping else None
        A = [X]
        last = len(self.coefs_) - 1
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            Z = A[-1] @ W  # (n, n_in) @ (n_in, n_out) -> (n, n_out)
            Z += b
            if i == last:
                A.append(softmax(Z))
                break
            Z = act(Z)
            if dropping:  # inverted dropout: zero a share p of units, scale the rest by 1 / (1 - p)
                keep = (rng.random(Z.shape, dtype=DTYPE) >= self.dropout) * DTYPE(1 / (1 - self.dropout))
                Z *= keep
                self._keep.append(keep)
            A.append(Z)
        return A

    def backward(self, A, y, alpha=0.0):
        """Return the gradient of the mean loss, a flat vector laid out like ``params``.

        ``A`` are the activations from `forward`, ``y`` the integer labels. ``alpha`` adds the
        L2 penalty ``alpha / 2 * sum(W**2)`` to the loss.
        """
        grad = np.empty_like(self.params)
        dW, db = self.views(grad)
        act_grad = DERIVATIVES[self.activation]
        n = len(y)
        delta = A[-1].copy()  # softmax + cross-entropy: dL/dZ = P - Y, for the mean over n rows
        delta[np.arange(n), y] -= 1
        delta /= n
        keep, self._keep = getattr(self, "_keep", None), None  # dropout masks of the last forward
        for i in range(len(self.coefs_) - 1, -1, -1):
            np.matmul(A[i].T, delta, out=dW[i])  # (n_in, n) @ (n, n_out) -> (n_in, n_out)
            if alpha:
                dW[i] += alpha * self.coefs_[i]
            delta.sum(axis=0, out=db[i])
            if i > 0:  # no gradient is needed for the input itself
                delta = delta @ self.coefs_[i].T  # (n, n_out) @ (n_out, n_in) -> (n, n_in)
                if keep:  # back through dropout: a dropped unit passes no gradient back
                    delta *= keep[i - 1]
                    act_grad(A[i] * DTYPE(1 - self.dropout), delta)  # the activation before scaling
                else:
                    act_grad(A[i], delta)
        return grad

    def predict_proba(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Return class probabilities, ndarray of shape (n_samples, n_classes), for X (n_samples, n_features)."""
        X = np.asarray(X, dtype=DTYPE)
        return np.concatenate([self.forward(X[i:i + batch_size])[-1]
                               for i in range(0, max(len(X), 1), batch_size)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return the most probable class of each row of X."""
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Return the accuracy on X with labels y."""
        return accuracy(y, self.predict(X))

    def copy(self):
        """Return an independent copy of the network (for snapshots taken while training)."""
        other = object.__new__(MLP)
        other.__dict__.update(self.__dict__)
        other.params = self.params.copy()
        other._keep = None
        other.coefs_, other.intercepts_ = other.views(other.params)
        return other

    # ------------------------------------------------------------------------
    # save and load: the file format lives in its own module, beside the network

    def save(self, path, **info):
        """Write the weights and ``info`` (any JSON-serialisable metadata) to an .npz file."""
        from .model_file import save  # imported here: model_file builds MLPs, so it imports this module

        save(self, path, **info)

    @classmethod
    def load(cls, source, **limits):
        """Read a network saved by `save`; return (model, info). See `mlp.model_file.load`."""
        from .model_file import load

        return load(source, **limits)
