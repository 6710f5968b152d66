"""Model files (mlp.model_file): save and load round trips, and damaged or hostile files refused safely."""
import io
import json
import math
import pickle
import re
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlp.model import MLP
from mlp.model_file import ModelFileError


SIZES = [10, 7, 5, 3]


# ----------------------------------------------------------------------------
# save and load


INFO = {"config": {"hidden_layer_sizes": [7, 5], "solver": "adam"}, "test_accuracy": 0.5, "history": [1, 2]}


def assert_same_model(a, b):
    assert a.layer_sizes == b.layer_sizes and a.activation == b.activation and a.dropout == b.dropout
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert x.dtype == y.dtype == np.float32
        np.testing.assert_array_equal(x, y)
    X = np.random.default_rng(0).random((9, a.layer_sizes[0]))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("name", ["model.npz", "model.weights"])
def test_save_load_round_trip_via_path(tmp_path, name):
    model = MLP(SIZES, activation="tanh", dropout=0.25, random_state=3)
    path = tmp_path / name
    model.save(path, **INFO)
    for source in (path, str(path)):
        loaded, info = MLP.load(source)
        assert_same_model(model, loaded)
        assert info == INFO


def test_save_load_round_trip_via_memory():
    model = MLP(SIZES, activation="sigmoid", random_state=4)
    buffer = io.BytesIO()
    model.save(buffer, **INFO)
    buffer.seek(0)
    loaded, info = MLP.load(buffer)
    assert_same_model(model, loaded)
    assert info == INFO
    loaded, info = MLP.load(buffer.getvalue())
    assert_same_model(model, loaded)
    assert info == INFO


class Trap:
    """Unpickling this creates a marker file; a safe loader never does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


def write_npz(path, meta="valid", **changes):
    """Write the arrays of a valid [10, 7, 5, 3] model to path, with some replaced (None: left out)."""
    model = MLP(SIZES)
    arrays = {f"W{i}": W for i, W in enumerate(model.coefs_)}
    arrays.update({f"b{i}": b for i, b in enumerate(model.intercepts_)})
    if meta == "valid":
        meta = json.dumps({"layer_sizes": SIZES, "activation": "relu", "dropout": 0.0})
    if meta is not None:
        arrays["meta"] = np.array(meta)
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def npy(array, version=None):
    """Return the bytes of an .npy file holding array (object arrays pickled, as np.save does)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), version=version)
    return buf.getvalue()


def npy_header(descr, shape):
    """Return the bytes of an .npy header alone, which may promise data that never follows."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def append(path, name, data, compression=zipfile.ZIP_STORED):
    """Add a member to the zip at path, even one it already holds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(path, "a", compression) as zf:
            zf.writestr(name, data)


def write_with_member(path, name, data, compression=zipfile.ZIP_STORED):
    """Write a valid model file to path whose member name.npy is data."""
    write_npz(path, **{name: None})
    append(path, name + ".npy", data, compression)


def meta_json(**fields):
    """Return the JSON of a valid [10, 7, 5, 3] model's metadata, with some fields replaced."""
    return json.dumps({"layer_sizes": SIZES, "activation": "relu", "dropout": 0.0, **fields})


def zeros_model(sizes, dtype=np.float32):
    """Return a model file of zeros, compressed, each array streamed so it is never in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.npy", npy(json.dumps({"layer_sizes": sizes, "activation": "relu"})))
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            zeros_member(zf, f"W{i}.npy", (n_in, n_out), dtype)
            zeros_member(zf, f"b{i}.npy", (n_out,), dtype)
    return buf.getvalue()


def zeros_member(zf, name, shape, dtype=np.float64):
    """Write an .npy of zeros into a zip member, 1 MB at a time."""
    dtype = np.dtype(dtype)
    with zf.open(name, "w", force_zip64=True) as f:
        f.write(npy_header(dtype.str, shape))
        left = math.prod(shape) * dtype.itemsize
        while left:
            f.write(bytes(min(left, 2**20)))
            left -= min(left, 2**20)


def peak_memory(f, *args, **kwargs):
    """Return the peak of Python's allocations while f(*args, **kwargs) runs, and what it raised."""
    tracemalloc.start()
    try:
        f(*args, **kwargs)
        error = None
    except Exception as e:
        error = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


SIZES_ERROR = "its layer_sizes should be two or more positive integers, found "


BAD_FILES = {
    "text file": (lambda p: p.write_text("layer_sizes = [10, 7, 5, 3]\n"), "not a model file"),
    "no file": (lambda p: None, "no such file"),
    "directory": (lambda p: p.mkdir(), "no such file"),
    "truncated": (lambda p: (write_npz(p), p.write_bytes(p.read_bytes()[:300])), "not a model file"),
    # the zip's directory
    "unexpected member": (lambda p: (write_npz(p), append(p, "junk.npy", npy(np.zeros(3)))),
                          "unexpected member in the file: 'junk.npy'"),
    "extra array": (lambda p: write_npz(p, W3=np.zeros((3, 3), np.float32)),
                    "unexpected member in the file: 'W3.npy'"),
    "directory member": (lambda p: (write_npz(p), append(p, "W0/", b"")),
                         "unexpected member in the file: 'W0/'"),
    "leading zero": (lambda p: (write_npz(p), append(p, "W00.npy", b"")),
                     "unexpected member in the file: 'W00.npy'"),
    "hostile name": (lambda p: (write_npz(p), append(p, "\n<b>" + "x" * 1000, b"")),
                     "unexpected member in the file: '\\n<b>" + "x" * 34 + "..."),
    "duplicate member": (lambda p: (write_npz(p), append(p, "b0.npy", npy(np.zeros(7, np.float32)))),
                         "the file holds 'b0.npy' twice"),
    "bzip2 member": (lambda p: write_with_member(p, "b0", npy(np.zeros(7, np.float32)), zipfile.ZIP_BZIP2),
                     "'b0.npy' is encrypted or compressed in an unsupported way"),
    # meta.npy
    "missing meta": (lambda p: write_npz(p, meta=None),
                     "not a model file saved by MNIST Playground (KeyError"),
    "meta too large": (lambda p: write_npz(p, meta=meta_json(notes="x" * 300_000)),  # 1.2 MB as UTF-32
                       "its metadata (meta.npy) is over 1 MB"),
    "meta not a string": (lambda p: write_npz(p, meta=[1.0, 2.0]),
                          "its metadata (meta.npy) should be one string"),
    "meta bytes": (lambda p: write_npz(p, meta=meta_json().encode()),
                   "its metadata (meta.npy) should be one string"),
    "meta header lies": (lambda p: write_with_member(p, "meta", npy_header("<U100000000", ())),  # 400 MB
                         "its metadata (meta.npy) should be one string"),
    "meta not JSON": (lambda p: write_npz(p, meta="{layer_sizes"),
                      "not a model file saved by MNIST Playground (JSONDecodeError"),
    "meta a JSON list": (lambda p: write_npz(p, meta="[10, 7, 5, 3]"),
                         "its metadata (meta.npy) should be a JSON object"),
    "meta without sizes": (lambda p: write_npz(p, meta='{"activation": "relu"}'), SIZES_ERROR + "None"),
    "one layer size": (lambda p: write_npz(p, meta=meta_json(layer_sizes=[10])), SIZES_ERROR + "[10]"),
    "bool layer size": (lambda p: write_npz(p, meta=meta_json(layer_sizes=[10, True, 5, 3])),
                        SIZES_ERROR + "[10, True, 5, 3]"),
    "string layer sizes": (lambda p: write_npz(p, meta=meta_json(layer_sizes=["10", "7", "5", "3"])),
                           SIZES_ERROR + "['10', '7', '5', '3']"),
    "float layer size": (lambda p: write_npz(p, meta=meta_json(layer_sizes=[10, 7.0, 5, 3])),
                         SIZES_ERROR + "[10, 7.0, 5, 3]"),
    "zero layer size": (lambda p: write_npz(p, meta=meta_json(layer_sizes=[10, 0, 5, 3])),
                        SIZES_ERROR + "[10, 0, 5, 3]"),
    "unknown activation": (lambda p: write_npz(p, meta=meta_json(activation="softplus")),
                           "its activation should be one of relu, sigmoid, tanh, found 'softplus'"),
    "NaN dropout": (lambda p: write_npz(p, meta=meta_json(dropout=float("nan"))),
                    "its dropout should be a number in [0, 1), found nan"),
    "bool dropout": (lambda p: write_npz(p, meta=meta_json(dropout=True)),
                     "its dropout should be a number in [0, 1), found True"),
    # the weights' headers
    "wrong shape": (lambda p: write_npz(p, W1=np.zeros((5, 7), np.float32)),
                    "W1 should be a float array of shape (7, 5), found (5, 7)"),
    "missing array": (lambda p: write_npz(p, b2=None),
                      "b2 should be a float array of shape (3,), found None"),
    "integer weights": (lambda p: write_npz(p, b0=np.zeros(7, np.int64)),
                        "b0 should be a float array of shape (7,), found int64 of shape (7,)"),
    "complex weights": (lambda p: write_npz(p, b1=np.zeros(5, np.complex64)),
                        "b1 should be a float array of shape (5,), found complex64 of shape (5,)"),
    "object array": (lambda p: write_npz(p, W0=np.array([[1.0], "x"], dtype=object)),
                     "W0 should be a float array of shape (10, 7), found object of shape (2,)"),
    "header lies": (lambda p: write_with_member(p, "W0", npy_header("<f8", (10, 7))),
                    "W0 holds 0 bytes of data, not 560"),
    "padded array": (lambda p: write_with_member(p, "b0", npy(np.zeros(7, np.float32)) + bytes(8)),
                     "b0 holds 36 bytes of data, not 28"),
    "npy version 3": (lambda p: write_with_member(p, "b0", npy(np.zeros(7, np.float32), version=(3, 0))),
                      "b0 is an .npy file of unknown version (3, 0)"),
    # the weights
    "NaN weights": (lambda p: write_npz(p, W2=np.full((5, 3), np.nan, np.float32)), "W2 holds NaN"),
    "too large for float32": (lambda p: write_npz(p, W1=np.full((7, 5), 1e39)),  # finite as float64
                              "W1 holds NaN, infinite values or values too large for float32"),
}


@pytest.mark.filterwarnings("error")  # nor does it warn (overflow in the float32 cast)
@pytest.mark.parametrize("make, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_load_rejects_bad_files(tmp_path, make, message):
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(ModelFileError, match="^" + re.escape(message)) as e:
        MLP.load(path)
    assert "\n" not in str(e.value) and len(str(e.value)) < 200  # shown to the user as one short sentence


def test_load_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"
    trap = np.array([Trap(marker)], dtype=object)
    pickle.loads(pickle.dumps(trap))
    assert marker.exists()  # the trap works
    marker.unlink()
    write_npz(tmp_path / "model.npz", W0=trap)
    message = "W0 should be a float array of shape (10, 7), found object"
    with pytest.raises(ModelFileError, match=re.escape(message)):
        MLP.load(tmp_path / "model.npz")
    assert not marker.exists()


def test_load_rejects_bad_bytes():
    with pytest.raises(ModelFileError, match="not a model file"):
        MLP.load(b"\x93NUMPY not really")


@pytest.mark.parametrize("convert", [np.asfortranarray, np.float16, np.float64, lambda a: a.astype(">f4")],
                         ids=["fortran", "float16", "float64", "big-endian"])
def test_load_reads_any_float_array(tmp_path, convert):
    model = MLP(SIZES)  # the weights write_npz writes
    arrays = {f"W{i}": convert(W) for i, W in enumerate(model.coefs_)}
    arrays.update({f"b{i}": convert(b) for i, b in enumerate(model.intercepts_)})
    write_npz(tmp_path / "model.npz", **arrays)
    loaded, _ = MLP.load(tmp_path / "model.npz")
    for got, (name, want) in zip(loaded.coefs_ + loaded.intercepts_, arrays.items()):
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, np.asarray(want, np.float32), err_msg=name)


def test_load_within_the_limits(tmp_path):
    path = tmp_path / "model.npz"
    MLP(SIZES).save(path, **INFO)
    loaded, info = MLP.load(path.read_bytes(), max_bytes=2**20, max_hidden_layers=2, max_neurons=7,
                            n_inputs=10, n_classes=3)
    assert_same_model(MLP(SIZES), loaded)
    assert info == INFO


@pytest.mark.parametrize("limits, message", [
    ({"max_hidden_layers": 1}, "it holds more than 5 arrays (at most 1 hidden layers)"),
    ({"max_neurons": 6}, "it has a layer of 7 neurons (at most 6)"),
    ({"n_inputs": 784}, "it takes 10 inputs, not 784"),
    ({"n_classes": 10}, "it has 3 classes, not 10"),
], ids=str)
def test_load_refuses_a_model_past_the_limits(tmp_path, limits, message):
    path = tmp_path / "model.npz"
    MLP(SIZES).save(path)
    with pytest.raises(ModelFileError, match="^" + re.escape(message) + "$"):
        MLP.load(path, **limits)


# the attacks seen on the public server, at sizes that keep the tests quick;
# benchmarks/hostile_upload.py runs them at full size


def test_load_refuses_a_junk_member_without_decompressing_it():
    # a valid model plus 64 MB of zeros (70 kB compressed); the server saw 2 GB of them
    buf = io.BytesIO(zeros_model([784, 8, 10]))
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        zeros_member(zf, "junk.npy", (2**23,))
    data = buf.getvalue()
    assert len(data) < 200_000
    peak, error = peak_memory(MLP.load, data)
    assert peak < 2**20
    assert isinstance(error, ModelFileError) and str(error) == "unexpected member in the file: 'junk.npy'"


def test_load_refuses_a_file_that_unpacks_past_max_bytes():
    data = zeros_model([784, 512, 10])  # 1.6 MB unpacked, a few kB compressed
    peak, error = peak_memory(MLP.load, data, max_bytes=2**20)
    assert peak < 2**20
    assert isinstance(error, ModelFileError)
    assert str(error) == "it would unpack to 1.6 MB; the limit is 1.0 MB"
    MLP.load(data, max_bytes=2 * 2**20)


def test_load_refuses_a_too_wide_model_before_allocating_it():
    data = zeros_model([784, 2000, 10])  # 6 MB of weights; the server saw 784-100000-10
    peak, error = peak_memory(MLP.load, data, max_neurons=1024)
    assert peak < 2**20
    assert isinstance(error, ModelFileError) and str(error) == "it has a layer of 2000 neurons (at most 1024)"


def test_load_refuses_a_too_deep_model_before_reading_its_directory():
    data = zeros_model([784] + [1] * 1000 + [10])  # 2001 members; the server saw 10,000 layers
    peak, error = peak_memory(MLP.load, data, max_hidden_layers=4)
    assert peak < 2**20 / 4  # parsed, 2001 entries of the zip's directory take ~1.2 MB
    assert isinstance(error, ModelFileError)
    assert str(error) == "it holds more than 11 arrays (at most 4 hidden layers)"
    assert MLP.load(data)[0].layer_sizes == [784] + [1] * 1000 + [10]  # no limits: it loads


def test_load_refuses_a_model_declaring_too_many_layers(tmp_path):
    path = tmp_path / "model.npz"
    write_npz(path, meta=meta_json(layer_sizes=[10] + [1] * 10_000 + [3]))
    with pytest.raises(ModelFileError, match=r"^it has 10000 hidden layers \(at most 4\)$"):
        MLP.load(path, max_hidden_layers=4)
