"""The multi-layer perceptron: weights, forward pass, backpropagation, save and load.

Batch-first rows (`Z = A @ W + b`), float32 throughout, softmax cross-entropy output.
It knows nothing of optimizers or data sets; `mlp.train` drives it.
"""
import contextlib
import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np

DTYPE = np.float32


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message says why."""


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


def init_layer(rng, n_in, n_out, scheme, activation):
    """Return (W, b) for one layer under an initialisation scheme."""
    if scheme == "notebook":  # the original notebook: randn * sqrt(1 / n_out), biases too
        scale = np.sqrt(1.0 / n_out)
        W = rng.standard_normal((n_in, n_out)) * scale
        b = rng.standard_normal(n_out) * scale
    elif scheme == "he":  # He et al. 2015: N(0, 2 / fan_in), for ReLU
        W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        b = np.zeros(n_out)
    elif scheme == "glorot":  # Glorot & Bengio 2010, uniform; sklearn's factor 2 for sigmoid
        factor = 2.0 if activation == "sigmoid" else 6.0
        bound = np.sqrt(factor / (n_in + n_out))
        W = rng.uniform(-bound, bound, (n_in, n_out))
        b = np.zeros(n_out)
    else:
        raise ValueError(f"unknown init {scheme!r}; use 'he', 'glorot' or 'notebook'")
    return W.astype(DTYPE), b.astype(DTYPE)


class MLP:
    """A fully connected network: hidden layers with one activation, softmax on top.

    Parameters
    ----------
    layer_sizes : list of int
        Input size, hidden sizes, number of classes, e.g. ``[784, 128, 64, 10]``.
    activation : {"relu", "sigmoid", "tanh"}
    init : {"he", "glorot", "notebook"}
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
        return float(np.mean(self.predict(X) == y))

    def copy(self):
        """Return an independent copy of the network (for snapshots taken while training)."""
        other = object.__new__(MLP)
        other.__dict__.update(self.__dict__)
        other.params = self.params.copy()
        other._keep = None
        other.coefs_, other.intercepts_ = other.views(other.params)
        return other

    # ------------------------------------------------------------------------
    # save and load: an .npz of plain arrays plus one JSON string, never a pickle

    def save(self, path, **info):
        """Write the weights and ``info`` (any JSON-serialisable metadata) to an .npz file."""
        meta = {"layer_sizes": self.layer_sizes, "activation": self.activation,
                "dropout": self.dropout, **info}
        arrays = {f"W{i}": W for i, W in enumerate(self.coefs_)}
        arrays.update({f"b{i}": b for i, b in enumerate(self.intercepts_)})
        if hasattr(path, "write"):
            np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        else:  # through an open file, so numpy does not append ".npz" to the name
            with open(path, "wb") as f:
                np.savez(f, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, source, *, max_bytes=256 * 2**20, max_hidden_layers=None, max_neurons=None,
             n_inputs=None, n_classes=None):
        """Read a network saved by `save`; return (model, info). Raises ModelFileError.

        The file may be hostile (an upload), so it is checked from the zip's directory, the
        metadata and the .npy headers before any weights are decompressed or allocated.

        Parameters
        ----------
        source : str, Path, bytes or binary file
        max_bytes : int
            Limit on the total size the zip's members declare once unpacked.
        max_hidden_layers, max_neurons : int, optional
            Limits on the number of hidden layers and on the units in each.
        n_inputs, n_classes : int, optional
            The sizes the input and output layers must have.

        Returns
        -------
        model : MLP
        info : dict
            The metadata passed to `save`.
        """
        if isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        is_path = isinstance(source, (str, Path))
        if is_path and not Path(source).is_file():
            raise ModelFileError(f"no such file: {source}")
        try:
            with open(source, "rb") if is_path else contextlib.nullcontext(source) as fp:
                if not zipfile.is_zipfile(fp):  # .npz files are zip archives
                    raise ModelFileError("not a model file: expected an .npz file saved by MNIST Playground")
                if max_hidden_layers is not None:
                    _check_entry_count(fp, max_hidden_layers)
                with zipfile.ZipFile(fp) as zf:
                    _check_directory(zf, max_bytes)
                    meta = _read_meta(zf)
                    sizes, activation, dropout = _check_meta(meta, max_hidden_layers, max_neurons,
                                                             n_inputs, n_classes)
                    _check_names(zf, len(sizes) - 1)
                    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):  # before allocating
                        _check_header(zf, f"W{i}", (n_in, n_out))
                        _check_header(zf, f"b{i}", (n_out,))
                    model = cls(sizes, activation, dropout=dropout)
                    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
                        _read_weights(zf, f"W{i}", W)
                        _read_weights(zf, f"b{i}", b)
        except ModelFileError:
            raise
        except Exception as e:  # zip, json or .npy errors all mean a bad file
            detail = "".join(c for c in str(e) if c.isprintable())[:80]
            raise ModelFileError("not a model file saved by MNIST Playground "
                                 f"({type(e).__name__}: {detail})") from None
        info = {k: v for k, v in meta.items() if k not in ("layer_sizes", "activation", "dropout")}
        return model, info


# ----------------------------------------------------------------------------
# checks of a model file, in the order `MLP.load` makes them: each reads as
# little as it can, and the weights are read last


META_BYTES = 2**20  # meta.npy holds the config and a training history: a few kB
_ARRAY_NAME = re.compile(r"[Wb](0|[1-9][0-9]{0,8})\.npy")  # W0.npy, b0.npy, W1.npy, ...


def _short(value, n=40):
    """Return repr(value), cut to n characters: a value from the file, shown to the user."""
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def _check_entry_count(fp, max_hidden_layers):
    """Refuse more zip entries than the layers need, before zipfile parses them (~600 bytes each)."""
    most = 2 * max_hidden_layers + 3  # meta, then a W and a b per layer
    # zipfile parses one entry per central-directory signature: count the signatures
    fp.seek(0)
    n, tail = 0, b""
    while chunk := fp.read(2**16):
        n += (tail + chunk).count(b"PK\x01\x02")
        tail = chunk[-3:]  # a signature cut by the chunk boundary
    if n > most:
        raise ModelFileError(f"it holds more than {most} arrays (at most {max_hidden_layers} hidden layers)")


def _check_directory(zf, max_bytes):
    """Refuse duplicate, encrypted or oddly compressed members, or more than max_bytes unpacked."""
    seen = set()
    for m in zf.infolist():
        if m.filename in seen:
            raise ModelFileError(f"the file holds {_short(m.filename)} twice")
        seen.add(m.filename)
        if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or m.flag_bits & 1:
            raise ModelFileError(f"{_short(m.filename)} is encrypted or compressed in an unsupported way")
    # zipfile stops each member at its declared size (and checks its CRC): this bounds decompression
    total = sum(m.file_size for m in zf.infolist())
    if total > max_bytes:
        raise ModelFileError(f"it would unpack to {total / 2**20:.1f} MB; "
                             f"the limit is {max_bytes / 2**20:.1f} MB")


def _npy_header(zf, name):
    """Return (shape, dtype, data_bytes) from the header of member name.npy, reading nothing past it."""
    info = zf.getinfo(name + ".npy")
    with zf.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(fp)
        else:  # 3.0 is for unicode field names, never a float array
            raise ModelFileError(f"{name} is an .npy file of unknown version {version}")
        shape, _, dtype = header  # read_array handles Fortran order
        return shape, dtype, info.file_size - fp.tell()


def _read_npy(zf, name):
    with zf.open(name + ".npy") as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


def _read_meta(zf):
    """Return the JSON object in meta.npy, a 0-d unicode array."""
    if zf.getinfo("meta.npy").file_size > META_BYTES:
        raise ModelFileError(f"its metadata (meta.npy) is over {META_BYTES // 2**20} MB")
    shape, dtype, data_bytes = _npy_header(zf, "meta")
    if shape != () or dtype.kind != "U" or data_bytes != dtype.itemsize:  # read_array allocates itemsize
        raise ModelFileError("its metadata (meta.npy) should be one string")
    meta = json.loads(_read_npy(zf, "meta").item())
    if not isinstance(meta, dict):
        raise ModelFileError("its metadata (meta.npy) should be a JSON object")
    return meta


def _check_meta(meta, max_hidden_layers, max_neurons, n_inputs, n_classes):
    """Return (layer_sizes, activation, dropout) from the metadata, within the limits given."""
    sizes = meta.get("layer_sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(type(n) is int and n >= 1 for n in sizes)):
        raise ModelFileError(f"its layer_sizes should be two or more positive integers, "
                             f"found {_short(sizes)}")
    hidden = sizes[1:-1]
    if max_hidden_layers is not None and len(hidden) > max_hidden_layers:
        raise ModelFileError(f"it has {len(hidden)} hidden layers (at most {max_hidden_layers})")
    if max_neurons is not None and max(hidden, default=0) > max_neurons:
        raise ModelFileError(f"it has a layer of {_short(max(hidden))} neurons (at most {max_neurons})")
    if n_inputs is not None and sizes[0] != n_inputs:
        raise ModelFileError(f"it takes {_short(sizes[0])} inputs, not {n_inputs}")
    if n_classes is not None and sizes[-1] != n_classes:
        raise ModelFileError(f"it has {_short(sizes[-1])} classes, not {n_classes}")
    activation, dropout = meta.get("activation"), meta.get("dropout", 0.0)
    if not (type(activation) is str and activation in ACTIVATIONS):
        raise ModelFileError(f"its activation should be one of {', '.join(ACTIVATIONS)}, "
                             f"found {_short(activation)}")
    if not (type(dropout) in (int, float) and 0 <= dropout < 1):  # NaN and inf fail this too
        raise ModelFileError(f"its dropout should be a number in [0, 1), found {_short(dropout)}")
    return sizes, activation, float(dropout)


def _check_names(zf, n_layers):
    """Refuse any member but meta.npy and W{i}.npy, b{i}.npy for i < n_layers (missing ones: later)."""
    for name in zf.namelist():
        m = _ARRAY_NAME.fullmatch(name)
        if name != "meta.npy" and not (m and int(m[1]) < n_layers):
            raise ModelFileError(f"unexpected member in the file: {_short(name)}")


def _check_header(zf, name, shape):
    """Check from its header alone that a member is a float array of this shape, and holds just that."""
    try:
        got, dtype, data_bytes = _npy_header(zf, name)
    except KeyError:  # no such member
        raise ModelFileError(f"{name} should be a float array of shape {shape}, found None") from None
    is_float = dtype.kind == "f" and dtype.itemsize <= 8  # float16, 32 or 64, either byte order
    if got != shape or not is_float:
        found = _short(got) if is_float else f"{dtype.name} of shape {_short(got)}"
        raise ModelFileError(f"{name} should be a float array of shape {shape}, found {found}")
    need = math.prod(shape) * dtype.itemsize  # read_array allocates this: no more than the file declares
    if data_bytes != need:
        raise ModelFileError(f"{name} holds {data_bytes} bytes of data, not {need}")


def _read_weights(zf, name, out):
    """Read a member into out (float32), refusing values that are not finite once cast."""
    with np.errstate(over="ignore"):  # 1e39 in float64 becomes inf in float32: refused just below
        out[...] = _read_npy(zf, name)
    if not np.isfinite(out).all():
        raise ModelFileError(f"{name} holds NaN, infinite values or values too large for float32")
