"""A learner's own drawings with the class each truly is: a small labelled data set in MNIST's format.

The Draw page keeps each drawing as the 28 x 28 image the network saw (uint8, 0 to 255, as MNIST
stores its digits), what the network predicted and what the learner says it was. A tab keeps at
most LIMIT of them; further ones are refused with a sentence, and the ones kept stay as they are.
They download as an .npz of plain arrays: ``x`` (n, 28, 28) uint8, ``y`` (n,) uint8, ``predicted``
(n,) uint8 and ``classes`` (the class names), readable with ``np.load(allow_pickle=False)``.
"""
import base64
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from .text import literal

LIMIT = 200         # drawings one tab keeps
SHAPE = (28, 28)


class DrawingRefused(ValueError):
    """A drawing that is not kept; the message says why, in a sentence."""


@dataclass(frozen=True)
class Drawing:
    image: np.ndarray   # (28, 28) uint8, read-only
    predicted: int      # class index
    label: int          # class index: what the learner says it is

    @property
    def hit(self) -> bool:
        return self.predicted == self.label


def as_uint8(image) -> np.ndarray:
    """Return a 28 x 28 image as uint8 0-255: floats in [0, 1] are scaled, uint8 taken as they are."""
    image = np.asarray(image)
    if image.shape != SHAPE:
        raise DrawingRefused(f"A drawing is a 28 × 28 image, not {' × '.join(map(str, image.shape))}.")
    if image.dtype == np.uint8:
        return image.copy()
    if image.dtype.kind != "f" or not np.isfinite(image).all():
        raise DrawingRefused("A drawing is an image of finite pixel values.")
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


class Drawings:
    """Drawings with their true labels, in the order kept, at most ``limit``; each image once."""

    def __init__(self, classes, limit: int = LIMIT):
        self.classes, self.limit = tuple(str(c) for c in classes), limit
        self._rows: tuple[Drawing, ...] = ()  # replaced whole, so a download reads a consistent set
        self._npz: tuple[tuple[Drawing, ...], bytes] | None = None  # the file of these rows, once made

    def __len__(self):
        return len(self._rows)

    def __contains__(self, image) -> bool:
        raw = as_uint8(image).tobytes()
        return any(d.image.tobytes() == raw for d in self._rows)

    def _index(self, value, what) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < len(self.classes):
            raise DrawingRefused(f"The {what} {literal(value, 20)} is not one of the classes "
                                 f"{', '.join(self.classes)}.")
        return int(value)

    def add(self, image, predicted, label) -> Drawing:
        """Keep a drawing with its prediction and true label (class indices); return it.

        Raises DrawingRefused for a label or prediction that names no class, an image that is not
        28 x 28, one already kept, or when ``limit`` drawings are kept already.
        """
        label, predicted = self._index(label, "label"), self._index(predicted, "prediction")
        pixels = as_uint8(image)
        if pixels in self:
            raise DrawingRefused("This drawing is kept already.")
        if len(self._rows) >= self.limit:
            raise DrawingRefused(f"{self.limit} drawings are kept, as many as a tab keeps: download "
                                 "them and clear the list to keep more.")
        pixels.flags.writeable = False
        drawing = Drawing(pixels, predicted, label)
        self._rows = self._rows + (drawing,)
        return drawing

    @property
    def rows(self) -> tuple[Drawing, ...]:
        return self._rows

    def score(self) -> tuple[int, int]:
        """(right predictions, drawings)."""
        rows = self._rows
        return sum(d.hit for d in rows), len(rows)

    def to_npz(self) -> bytes:
        """The drawings as an MNIST-format .npz file (see the module's docstring); made once for
        each set of drawings (up to 16 ms for 200 of them), as the Draw page asks for it on every rerun."""
        rows = self._rows
        if self._npz is None or self._npz[0] is not rows:
            x = np.stack([d.image for d in rows]) if rows else np.zeros((0, *SHAPE), np.uint8)
            buf = io.BytesIO()
            np.savez_compressed(buf, x=x, y=np.array([d.label for d in rows], np.uint8),
                                predicted=np.array([d.predicted for d in rows], np.uint8),
                                classes=np.array(self.classes))
            self._npz = rows, buf.getvalue()
        return self._npz[1]

    def clear(self):
        self._rows = ()


def fingerprint(image) -> str:
    """A short name of a drawing's pixels: the same drawing gets the same name on every rerun."""
    return hashlib.sha256(as_uint8(image).tobytes()).hexdigest()[:16]


def thumbnail(image: np.ndarray) -> str:
    """A drawing as a PNG data URL (a few hundred bytes), for a table's image column."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def table(drawings: Drawings) -> list[dict]:
    """One row per drawing, the latest first: its thumbnail, the prediction, the true label, right or not."""
    names = drawings.classes
    return [{"drawing": thumbnail(d.image), "predicted": names[d.predicted], "true": names[d.label],
             "right": d.hit} for d in reversed(drawings.rows)]


def of_tab(data) -> Drawings:
    """This tab's drawings of the data set ``data`` (one list per data set, kept in st.session_state)."""
    lists = st.session_state.setdefault("drawings", {})
    if data.name not in lists:
        lists[data.name] = Drawings(data.classes)
    return lists[data.name]
