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


def canvas_to_mnist(rgba: np.ndarray, threshold: int = 20):
    """Turn a drawing into the 28 x 28 image MNIST would have made of it, or None if nothing is drawn.

    MNIST's recipe (LeCun et al.): take the bounding box of the ink, scale it so its longer
    side is 20 px keeping the aspect ratio, anti-aliased, then place it in a 28 x 28 frame
    so that its centre of mass sits at the centre.

    Parameters
    ----------
    rgba : ndarray of shape (height, width, 4) or (height, width), uint8
        Light ink on a dark background, as the canvas returns it.

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
