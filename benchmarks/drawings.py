"""Digits from other writers, made into drawings on the Draw page's canvas, for handwriting.py and
preprocessing.py.

Two sets, both sent through the product's own `mlp.preprocess.canvas_to_mnist`:

- **load_digits**: scikit-learn's bundled digits (1,797 digits by 43 writers, 8 x 8, values 0-16:
  each value counts the inked pixels of a 4 x 4 block of a 32 x 32 bitmap). Each one is blown up
  smoothly (bicubic) to 224 x 224 in the middle of a black 280 x 280 canvas, and its half-coverage
  contour (value 8 of 16) becomes the edge of the ink, with a soft edge (`EDGE`), as white on
  black RGBA uint8, the way the canvas sends a drawing.
- **strokes**: the pen strokes of `tests/strokes.py` (`STYLES`: several writers' styles of each
  digit), rendered with a round pen of a given width (the Draw page offers 8 to 40 px, 20 by
  default).
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlp.preprocess import canvas_to_mnist  # noqa: E402
from tests import strokes  # noqa: E402

CANVAS = 280
SIDE = 224          # the blown-up 8 x 8 digit's side on the canvas
EDGE = (0.4, 0.6)   # coverage from which the ink starts and at which it is full: a soft edge at 0.5
PEN_WIDTHS = (8, 12, 16, 20, 24, 32, 40)


def load_digits():
    """scikit-learn's digits: (images (1797, 8, 8) float64 in 0..16, labels (1797,) int)."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        sys.exit("scikit-learn is needed: .venv/bin/pip install -r benchmarks/requirements-handwriting.txt")
    d = sk_load_digits()
    return d.images, d.target.astype(np.intp)


def blow_up(digit8, side=SIDE, size=CANVAS, edge=EDGE):
    """An 8 x 8 digit (values 0-16) as a drawing: light ink on a black size x size RGBA uint8 canvas."""
    small = Image.fromarray((np.asarray(digit8, np.float32) / 16), mode="F")
    cover = np.asarray(small.resize((side, side), Image.Resampling.BICUBIC))
    lo, hi = edge
    ink = np.clip((cover - lo) / (hi - lo), 0, 1)
    gray = np.zeros((size, size), np.uint8)
    top = (size - side) // 2
    gray[top:top + side, top:top + side] = np.round(ink * 255).astype(np.uint8)
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def preprocess_all(canvases, n, preprocess=canvas_to_mnist):
    """(n, 28, 28) float32: each of the ``n`` canvases (any iterable) through ``preprocess``; an
    empty one stays all zero."""
    out = np.zeros((n, 28, 28), np.float32)
    for i, rgba in enumerate(canvases):
        image = preprocess(rgba)
        if image is not None:
            out[i] = image
    return out


def load_digits_set(preprocess=canvas_to_mnist, edge=EDGE):
    """The load_digits drawings as the network sees them: (images (n, 28, 28) float32, labels)."""
    images, labels = load_digits()
    return preprocess_all((blow_up(d, edge=edge) for d in images), len(images), preprocess), labels


def stroke_set(widths=(20,), preprocess=canvas_to_mnist):
    """Every style of tests/strokes.py at every pen width: (names, labels, widths, images (n, 28, 28))."""
    names, labels, pens, canvases = [], [], [], []
    for width in widths:
        for name, (label, draw) in strokes.STYLES.items():
            names.append(name)
            labels.append(label)
            pens.append(width)
            canvases.append(strokes.render(draw(), width=width))
    return names, np.array(labels, np.intp), np.array(pens), preprocess_all(canvases, len(canvases), preprocess)


def rows(images):
    """(n, 28, 28) float images as (n, 784) float32 network inputs."""
    return np.ascontiguousarray(images, np.float32).reshape(len(images), -1)


def grid(images, labels=None, per_row=30, zoom=3):
    """A uint8 picture of 28 x 28 float images in rows (for a quick look at what the network sees)."""
    n = len(images)
    n_rows = -(-n // per_row)
    tile = 28 * zoom
    out = np.full((n_rows * tile, per_row * tile), 40, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, per_row)
        big = np.kron(np.clip(image, 0, 1) * 255, np.ones((zoom, zoom))).astype(np.uint8)
        out[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = big
        out[r * tile:(r + 1) * tile, c * tile] = 90  # a thin line between tiles
    return out
