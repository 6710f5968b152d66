"""Load MNIST and Fashion-MNIST as read-only uint8 arrays.

The files come from a folder the user names, the user's cache, or a verified download
(`mlp.download`); each is checked by its IDX header, its size and its SHA-256.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pooch

DATASETS = ("mnist", "fashion-mnist")
ENV_DATA = "MNIST_PLAYGROUND_DATA"
ENV_CACHE = "MNIST_PLAYGROUND_CACHE"
ENV_MIRRORS = "MNIST_PLAYGROUND_MIRRORS"

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
CLASSES = {
    "mnist": tuple("0123456789"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}
# SHA-256 of the uncompressed files: the same whichever way a copy was compressed.
SHA256 = {
    "mnist": dict(zip(FILES, (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"))),
    "fashion-mnist": dict(zip(FILES, (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"))),
}
_COUNTS = {"train": 60000, "t10k": 10000}
_REPLACE = "Delete it or replace it with a fresh copy."


class DatasetError(Exception):
    """The data set cannot be loaded; the message says what to do."""


class DownloadError(DatasetError):
    """No mirror could deliver a file (no internet, server down, file missing)."""


class ChecksumError(DatasetError):
    """A file's content differs from the published data."""


class CorruptFileError(DatasetError):
    """A file is not a valid IDX file of the expected shape."""


class Dataset(NamedTuple):
    """Train and test images (n, 28, 28) and labels (n,), uint8 and read-only."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    source: str                  # where it was read from, with its folder (for the command line)
    classes: tuple[str, ...]
    origin: str = ""             # the same without this machine's paths (for a public page)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file of unsigned bytes, gzip-compressed or raw.

    Parameters
    ----------
    path : str or path-like
        The file. Compression is detected from its content, not its name.

    Returns
    -------
    numpy.ndarray
        A read-only uint8 array shaped as the header says.

    Raises
    ------
    CorruptFileError
        If the file is not valid gzip, has a wrong magic number, or its length differs from
        what the header promises (truncated or trailing bytes).
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def find_local(name: str, data_dir: str | os.PathLike) -> Path | None:
    """Find the folder holding the four files of a data set.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        The data set.
    data_dir : str or path-like
        Either the folder holding the files, or a folder with ``mnist/`` and
        ``fashion-mnist/`` subfolders. Each file may be gzipped (``.gz``) or raw.

    Returns
    -------
    pathlib.Path or None
        The folder holding all four files, or None.
    """
    root = Path(data_dir).expanduser()
    for folder in (root / name, root):
        if all(_file_in(folder, f) for f in FILES):
            return folder
    return None


def default_cache_dir() -> Path:
    """Return the cache folder: $MNIST_PLAYGROUND_CACHE, else the user's cache (e.g. ~/.cache/mnist-playground)."""
    return Path(os.environ.get(ENV_CACHE) or pooch.os_cache("mnist-playground"))


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike | None = None, *,
                 cache_dir: str | os.PathLike | None = None, mirrors: Sequence[str] | None = None,
                 progress: Callable[[float, str], None] | None = None,
                 timeouts=None) -> Dataset:
    """Load a data set from a named folder, the cache, or a download.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        The data set.
    data_dir : str or path-like, optional
        A folder holding the files (see `find_local`); defaults to the environment variable
        ``MNIST_PLAYGROUND_DATA``. When set, nothing is downloaded.
    cache_dir : str or path-like, optional
        Where downloads are kept, in a subfolder per data set; defaults to
        ``MNIST_PLAYGROUND_CACHE``, else the user's cache folder.
    mirrors : sequence of str, optional
        Base URLs to try in order; defaults to ``MNIST_PLAYGROUND_MIRRORS`` (space-separated),
        else the public mirrors.
    progress : callable, optional
        Called as ``progress(fraction, message)`` while downloading (fraction rising
        from 0 to 1 over the files) and once with 1.0 when the data set is ready.
    timeouts : mlp.download.Timeouts, optional
        Limits on each download; defaults to `mlp.download.TIMEOUTS`. A mirror that accepts
        the connection and never answers fails after ``connect + read`` seconds at most, one
        that drips bytes after ``per_file + read``; either way the next mirror is tried.

    Returns
    -------
    Dataset
        The arrays, the data set's name, where the files came from and the class names.

    Raises
    ------
    DatasetError
        Or one of its subclasses `DownloadError`, `ChecksumError`, `CorruptFileError`; the
        message says what went wrong and what to do.
    """
    if name not in DATASETS:
        raise DatasetError(f"Unknown data set {name!r}; choose one of {', '.join(DATASETS)}.")
    data_dir = data_dir or os.environ.get(ENV_DATA) or None
    if data_dir is not None:
        folder = find_local(name, data_dir)
        if folder is None:
            raise DatasetError(_missing_message(name, Path(data_dir).expanduser()))
        source, origin = f"{folder} (local copy)", "a local copy"
    else:
        cache = cache_dir or default_cache_dir()
        folder = Path(cache).expanduser() / name
        missing = [f for f in FILES if _file_in(folder, f) is None]
        if missing:
            from .download import download  # here: mlp.download uses this module's names and errors

            used = download(name, folder, missing, mirrors, progress, timeouts)
            source, origin = f"downloaded from {used} into {folder}", f"a download from {used}"
        else:
            source, origin = f"{folder} (cache)", "the download cache"
    arrays = _load_folder(name, folder)
    if progress is not None:
        progress(1.0, f"{TITLES[name]} ready")
    return Dataset(*arrays, name=name, source=source, classes=CLASSES[name], origin=origin)


def _file_in(folder: Path, fname: str) -> Path | None:
    for path in (folder / fname, folder / f"{fname}.gz"):
        if path.is_file():
            return path
    return None


def _missing_message(name: str, root: Path) -> str:
    title = TITLES[name]
    if not root.is_dir():
        return (f"The data folder {root} does not exist. Point {ENV_DATA} (or --data-dir) at a folder "
                f"holding the four {title} files, or unset it to download them.")
    folder = root / name if (root / name).is_dir() else root
    missing = ", ".join(f"{f}(.gz)" for f in FILES if _file_in(folder, f) is None)
    return (f"{folder} does not hold the {title} files: missing {missing}. Put the four files there "
            f"(gzipped or not), or unset {ENV_DATA} (or --data-dir) to download them.")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(f"{path} is not a valid gzip file ({exc}). {_REPLACE}") from exc


def mix(x_extra, y_extra, x_base, y_base, n_base=10_000, share=0.25, seed=0):
    """Return images (n, 28, 28) uint8 and labels (n,) that mix a small set into a large one: ``n_base``
    seeded images of the base set, and the extra set repeated so that it makes about ``share`` of the
    whole. Fine-tuning on it teaches the extra images without forgetting the base ones."""
    x_extra, y_extra = np.asarray(x_extra), np.asarray(y_extra)
    if not len(y_extra) or len(x_extra) != len(y_extra) or not 0 < share < 1:
        raise ValueError("mix needs at least one extra image with its label, and a share between 0 and 1")
    rows = np.random.default_rng(seed).permutation(len(y_base))[:n_base]
    repeat = max(1, round(share / (1 - share) * len(rows) / len(y_extra)))
    x = np.concatenate([np.asarray(x_base)[rows], np.tile(x_extra, (repeat, 1, 1))])
    y = np.concatenate([np.asarray(y_base)[rows], np.tile(y_extra, repeat)]).astype(np.uint8)
    return x, y


def to_idx(array) -> bytes:
    """Return a uint8 array (1 to 4 dimensions) as the bytes of an IDX file, the format `read_idx`
    reads: MNIST's labels are (n,), its images (n, 28, 28)."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 4:
        raise ValueError(f"an IDX file of unsigned bytes holds a uint8 array of 1 to 4 dimensions, "
                         f"not {array.dtype} of {array.ndim}")
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or not 1 <= data[3] <= 4:
        raise CorruptFileError(f"{path} is not an IDX file of unsigned bytes (magic number "
                               f"0x{data[:4].hex() or 'missing'}, expected 2049 or 2051). {_REPLACE}")
    start = 4 + 4 * data[3]
    dims = tuple(int.from_bytes(data[i:i + 4], "big") for i in range(4, start, 4))
    expected = start + math.prod(dims)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else f"followed by {len(data) - expected} trailing bytes"
        raise CorruptFileError(f"{path} is {what}: its header promises {expected} bytes, "
                               f"it holds {len(data)}. {_REPLACE}")
    array = np.frombuffer(data, np.uint8, offset=start).reshape(dims)
    array.setflags(write=False)
    return array


def _load_folder(name: str, folder: Path) -> list[np.ndarray]:
    arrays, contents = [], []
    for fname in FILES:
        path = _file_in(folder, fname)
        data = _read_bytes(path)
        array = _parse_idx(data, path)
        n = _COUNTS[fname.split("-")[0]]
        shape = (n, 28, 28) if "images" in fname else (n,)
        if array.shape != shape:
            raise CorruptFileError(
                f"{path} holds {array.shape} (magic {2048 + array.ndim}), expected {shape} "
                f"(magic {2048 + len(shape)}): {n} {'images' if len(shape) == 3 else 'labels'} "
                f"to match the {'labels' if len(shape) == 3 else 'images'}. {_REPLACE}")
        if "labels" in fname and array.max() > 9:
            raise CorruptFileError(f"{path} holds labels above 9. {_REPLACE}")
        arrays.append(array)
        contents.append((path, fname, data))
    for path, fname, data in contents:
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256[name][fname]:
            other = [TITLES[k] for k in DATASETS if SHA256[k][fname] == digest]
            why = (f"it holds {other[0]}, not {TITLES[name]}" if other
                   else f"its SHA-256 differs from the published {TITLES[name]} file")
            raise ChecksumError(f"{path} does not match: {why}. {_REPLACE}")
    return arrays
