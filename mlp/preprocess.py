"""From pixels to network inputs: MNIST images to float rows, and a canvas drawing to an MNIST digit."""
import numpy as np

from .model import DTYPE


def to_float(images: np.ndarray) -> np.ndarray:
    """Return uint8 images (n, 28, 28) or (n, 784) as float32 rows (n, 784) in [0, 1]."""
    X = np.asarray(images).reshape(len(images), -1).astype(DTYPE)
    X *= DTYPE(1 / 255)
    return X
