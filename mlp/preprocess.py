"""From pixels to network inputs: MNIST images to float rows, and a canvas drawing to an MNIST digit."""
import numpy as np
from PIL import Image

from .model import DTYPE


def to_float(images: np.ndarray) -> np.ndarray:
    """Return uint8 images (n, 28, 28) or (n, 784) as float32 rows (n, 784) in [0, 1]."""
    images = np.asarray(images)
    X = images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(DTYPE)  # works for n = 0 too
    X *= DTYPE(1 / 255)
    return X


# MNIST's strokes: `stroke_width` over its 60,000 training digits has the median 2.50 px and the
# interquartile range 2.12-2.96 px, in the 28 x 28 frame where a digit's longer side is 20 px.
# A drawing's strokes are brought into that range.
STROKE_WIDTH = (2.12, 2.96)
FRAME = 80  # a drawing is given MNIST's pen at 4 x the size of the 20 px digit


def stroke_width(image) -> float:
    """The mean width of an image's strokes, in its own pixels: 2 x ink / length of the ink's edge.

    A stroke of width w and length L holds w L of ink and has 2 L of edge. The edge is measured as
    the total variation of the image (the ink scaled to a maximum of 1) across rows and across
    columns, which counts an edge at an angle by |cos| + |sin|: 4 / pi times its length on average
    over all directions. Blur and anti-aliasing do not change the total variation, so the estimate
    holds at any resolution.
    """
    x = np.asarray(image, dtype=np.float32)
    peak = float(x.max()) if x.size else 0.0
    if peak <= 0:
        return 0.0
    x = np.pad(x / peak, 1)  # ink that touches the border has an edge there too
    edge = np.abs(np.diff(x, axis=0)).sum() + np.abs(np.diff(x, axis=1)).sum()
    return float(2 * x.sum() / max(edge * np.pi / 4, 1e-9))


def _spread(x, steps, op):
    """Grow (op=np.maximum) or shrink (np.minimum) the ink of ``x`` by ``steps`` pixels on every
    side, a fractional last step blended in: one step takes the 4 neighbours, the next all 8, so
    that the pen stays round (an octagon). Outside ``x`` there is no ink."""
    whole, part = int(steps), steps - int(steps)
    for k in range(whole + (part > 0)):
        y = x.copy()
        pairs = [(np.s_[1:, :], np.s_[:-1, :]), (np.s_[:, 1:], np.s_[:, :-1])]
        if k % 2:
            pairs += [(np.s_[1:, 1:], np.s_[:-1, :-1]), (np.s_[1:, :-1], np.s_[:-1, 1:])]
        for a, b in pairs:  # each neighbour on both sides
            op(y[a], x[b], out=y[a])
            op(y[b], x[a], out=y[b])
        if op is np.minimum:  # the neighbours outside the image are empty
            y[0], y[-1], y[:, 0], y[:, -1] = 0, 0, 0, 0
        x = y if k < whole else x + part * (y - x)
    return x


def _ink_box(x, level):
    """``x`` cut to the bounding box of its pixels above ``level`` (all of it if there are none)."""
    rows, cols = np.flatnonzero((x > level).any(axis=1)), np.flatnonzero((x > level).any(axis=0))
    if not len(rows):
        return x
    return x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _with_pen(crop, width):
    """``crop`` with strokes as wide as the range ``width`` (or one width) allows once its longer
    side is 20 px: made FRAME px long, its strokes grown or shrunk, and cut to its new bounding
    box; unchanged if they are within the range."""
    h, w = crop.shape
    scale = FRAME / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    x = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BOX))
    x = np.clip(x / max(float(x.max()), 1e-6), 0, 1)
    now = stroke_width(x)
    lo, hi = (width, width) if np.isscalar(width) else width
    want = min(max(now * 20 / FRAME, lo), hi)
    if want == now * 20 / FRAME:
        return crop
    # growing each side by g makes the strokes 2g wider and the box 2g longer: aim at the width
    # that is want / 20 of the new box
    k = want / 20
    target = k * (FRAME - now) / (1 - k)
    g = (target - now) / 2
    if g > 0:
        pad = int(np.ceil(g)) + 1
        x = _spread(np.pad(x, pad), g, np.maximum)
    elif g < 0:  # thinner, but never so far that a stroke disappears
        x = _spread(x, min(-g, max(0.0, now / 2 - 1)), np.minimum)
    return _ink_box(x, 0.02)


def canvas_to_mnist(rgba: np.ndarray, threshold: int = 20, width=STROKE_WIDTH):
    """Turn a drawing into the 28 x 28 image MNIST would have made of it, or None if nothing is drawn.

    MNIST's recipe (LeCun et al.): take the bounding box of the ink, scale it so its longer
    side is 20 px keeping the aspect ratio, anti-aliased, then place it in a 28 x 28 frame
    so that its centre of mass sits at the centre. A drawing's strokes are as wide as the pen
    the user chose (8 to 40 canvas pixels are 1 to 4 px once the digit is 20 px), so before the
    scaling, strokes thinner or thicker than MNIST's usual ones (``width``) are made as wide as
    the nearer end of that range.

    Parameters
    ----------
    rgba : ndarray of shape (height, width, 4) or (height, width), uint8
        Light ink on a dark background, as the canvas returns it.
    threshold : int
        Pixels brighter than this (0-255) are ink.
    width : (low, high), float or None
        The range of stroke widths, in px once the longer side is 20 px (see `stroke_width`), that
        a drawing is brought into; a number for one width; None keeps the pen's width.

    Returns
    -------
    ndarray of shape (28, 28), float32 in [0, 1], or None for an empty drawing.
    """
    img = np.asarray(rgba)
    if img.ndim == 3:  # the brightest colour channel, faded by any transparency
        gray = np.maximum(np.maximum(img[..., 0], img[..., 1]), img[..., 2])
        if img.shape[2] == 4 and img[..., 3].min() < 255:
            gray = gray * (img[..., 3] / 255.0)
        img = gray
    ink = img > threshold
    if not ink.any():
        return None
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    if width is not None:
        crop = _with_pen(crop, width)
    # 1) scale the longer side to 20 px; a box filter averages each target pixel's area
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BOX))
    digit = np.clip(digit / max(float(digit.max()), 1e-6), 0, 1)  # full-strength ink, as in MNIST
    # 2) place it so that its centre of mass lands on the frame's centre (14, 14)
    dh, dw = digit.shape
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    cy, cx = (ys * digit).sum() / mass, (xs * digit).sum() / mass
    top = int(np.clip(round(14 - cy), 0, 28 - dh))
    left = int(np.clip(round(14 - cx), 0, 28 - dw))
    out = np.zeros((28, 28), dtype=DTYPE)
    out[top:top + dh, left:left + dw] = digit
    return out
