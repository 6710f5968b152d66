"""The model file: an .npz of plain arrays plus one JSON string of metadata, never a pickle.

A file may come from anyone (an upload), so `load` checks it from the zip's directory, the
metadata and each array's header before any weight is decompressed or allocated, against the
limits its caller gives.
"""
import contextlib
import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np

from .model import ACTIVATIONS, MLP


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message says why."""


def save(model, path, **info):
    """Write the weights of ``model`` and ``info`` (any JSON-serialisable metadata) to an .npz file."""
    meta = {"layer_sizes": model.layer_sizes, "activation": model.activation, "dropout": model.dropout,
            **info}
    arrays = {f"W{i}": W for i, W in enumerate(model.coefs_)}
    arrays.update({f"b{i}": b for i, b in enumerate(model.intercepts_)})
    if hasattr(path, "write"):
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    else:  # through an open file, so numpy does not append ".npz" to the name
        with open(path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load(source, *, max_bytes=256 * 2**20, max_hidden_layers=None, max_neurons=None,
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
                model = MLP(sizes, activation, dropout=dropout)
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
