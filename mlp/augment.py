"""Distorted digits: each mini-batch's images turned, scaled, sheared, shifted, their strokes made
thicker or thinner, and bent by an elastic field, a fresh random draw for every image.

A network that only ever sees MNIST's clean, centred digits misreads many people's own: a 1 with
a serif, a 4 left open, a 9 written at a slant. Showing it the training images distorted the ways
handwriting varies closes most of that gap (Simard, Steinkraus and Platt, "Best practices for
convolutional neural networks applied to visual document analysis", 2003).

How one image is distorted. Every output pixel ``p`` (centred coordinates) reads the input at

    source(p) = M (p + e(p)) + t

with ``M`` a random rotation times a shear times a scale, ``t`` a random shift, and ``e`` an
elastic field: random displacements on a coarse 6 x 6 grid, spread smoothly over the image. The
input is read between pixels by bilinear interpolation (the four neighbours, weighted by
nearness), and before that its strokes are blended towards one pixel thicker (a maximum over each
pixel and its four neighbours) or thinner (the minimum). All of it is done for the whole batch at
once, in place in buffers made once: for MNIST's small images the cost is memory traffic, not
arithmetic, so the code avoids temporary arrays.
"""
from dataclasses import astuple, dataclass

import numpy as np

from .model import DTYPE
from .preprocess import to_float

SIDE = 28          # images are SIDE x SIDE
PAD = SIDE + 2     # the padded image: a border of zeros that out-of-frame reads land on
GRID = 6           # control points of the elastic field per side
CHUNK = 512        # images distorted at once: bounds the work arrays to about 20 MB


@dataclass(frozen=True)
class Distortion:
    """How strongly to distort: each image draws its own amounts, uniformly up to these."""

    rotate: float = 0.0      # degrees, either way
    scale: float = 0.0       # share of the size, bigger or smaller (0.15: 85 % to 115 %)
    shear: float = 0.0       # degrees of slant, either way
    shift: float = 0.0       # pixels, in each direction
    thickness: float = 0.0   # share of the way to strokes one pixel thicker (or half that thinner)
    elastic: float = 0.0     # pixels: the typical displacement of the elastic field

    @property
    def identity(self) -> bool:
        return not any(astuple(self))


# What "Distort training images" offers. Strong is about what Simard et al. used (their elastic
# field: alpha 34, sigma 4, a displacement of about 1.4 px); light keeps every digit easy to read.
LEVELS = {
    "off": Distortion(),
    "light": Distortion(rotate=8.0, scale=0.08, shear=8.0, shift=1.5, thickness=0.5, elastic=0.8),
    "strong": Distortion(rotate=12.0, scale=0.15, shear=15.0, shift=2.5, thickness=1.0, elastic=1.4),
}


def describe(d: Distortion) -> str:
    """The distortion in words: "rotate 8°, scale 8 %, ...", or "none"."""
    parts = [("rotate", f"{d.rotate:g}°"), ("scale", f"{d.scale:.0%}"), ("slant", f"{d.shear:g}°"),
             ("shift", f"{d.shift:g} px"), ("thickness", f"{d.thickness:g}"),
             ("elastic", f"{d.elastic:g} px")]
    return ", ".join(f"{name} {amount}" for (name, amount), x in zip(parts, astuple(d)) if x) or "none"


def work_bytes(n: int) -> int:
    """The memory of a Distorter's work arrays for batches of ``n`` images (up to CHUNK)."""
    pixels, padded = SIDE * SIDE, PAD * PAD
    quads = 16 * ((SIDE + 1) * PAD - 1)
    per_image = 9 * 4 * pixels + 8 * pixels + 2 * 4 * padded + quads + 8 * (GRID ** 2 + 2)
    return min(n, CHUNK) * per_image


def _spread(n_points=GRID, side=SIDE):
    """The (side, n_points) matrix that spreads a coarse grid's values smoothly over the image:
    Gaussian bumps centred on the grid points, each row of unit length, so that independent
    standard normal values on the grid give a field whose value at every pixel is standard normal."""
    centres = np.linspace(0, side - 1, n_points)
    width = (side - 1) / (n_points - 1)
    K = np.exp(-0.5 * ((np.arange(side)[:, None] - centres[None, :]) / width) ** 2)
    return (K / np.linalg.norm(K, axis=1, keepdims=True)).astype(DTYPE)


class Distorter:
    """Distort batches of images according to a `Distortion`; seeded, so a run repeats.

    ``distorter(images)`` takes uint8 images (n, 784) and returns float32 rows (n, 784) in [0, 1],
    as `to_float` does. Up to CHUNK images, the returned array is a buffer of the distorter's,
    overwritten by the call after next: a batch can be trained on while the next one is made. Larger
    batches are distorted a chunk at a time into ``out`` (or a new array).
    """

    def __init__(self, distortion: Distortion, seed=0):
        self.distortion = distortion
        self.rng = np.random.default_rng(seed)
        self._n = 0
        ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(DTYPE) - (SIDE - 1) / 2
        self._gx, self._gy = xs.reshape(-1), ys.reshape(-1)  # each output pixel, centred
        spread = _spread()  # K: the field of grid values G is K G K^T, or (K kron K) vec(G)
        # each pixel's elastic displacement from the grid's values, and its own x and y (see _sources)
        rows = np.vstack([np.kron(spread, spread).T, self._gx, self._gy])
        self._pixel_rows = np.ascontiguousarray(rows, DTYPE)  # C order: a fast matrix product

    def _buffers(self, n):
        """Make the work arrays for batches of up to ``n`` images (once, or when one is larger)."""
        if n <= self._n:
            return
        self._n = n
        rows = lambda dtype=DTYPE: np.empty((n, SIDE * SIDE), dtype)  # noqa: E731
        self._sx, self._sy, self._fx, self._fy, self._tmp = (rows() for _ in range(5))
        self._field = np.empty((2 * n, SIDE * SIDE), DTYPE)  # points plus the elastic field
        self._coef = np.empty((2 * n, GRID * GRID + 2), DTYPE)
        self._outs = [rows(), rows()]  # taking turns: a batch stays whole while the next is made
        self._idx = rows(np.intp)
        self._padded = np.zeros((n, PAD, PAD), DTYPE)
        self._changed = np.empty((n, PAD * PAD), DTYPE)
        # the padded image's pixels with their right, lower and lower-right neighbours packed
        # together, so that one gather reads all four pixels that a point falls between
        self._last = (SIDE + 1) * PAD - 1  # the largest top-left neighbour a read can have
        self._quads = np.empty((n, self._last, 4), DTYPE)
        self._offsets = (np.arange(n, dtype=DTYPE) * self._last)[:, None]

    def __call__(self, images, out=None):
        if self.distortion.identity:
            return to_float(images) if out is None else np.multiply(images, DTYPE(1 / 255), out=out)
        n = len(images)
        if n <= CHUNK and out is None:
            return self._distort(images)
        out = np.empty((n, SIDE * SIDE), DTYPE) if out is None else out
        for start in range(0, n, CHUNK):
            out[start:start + CHUNK] = self._distort(images[start:start + CHUNK])
        return out

    @property
    def nbytes(self) -> int:
        """Memory held in work arrays."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))

    def release(self):
        """Let go of the work arrays (made again when needed); the random numbers go on."""
        kept = {"distortion", "rng", "_gx", "_gy", "_pixel_rows"}
        for name in [name for name in vars(self) if name not in kept]:
            delattr(self, name)
        self._n = 0

    def _distort(self, images):
        d, n = self.distortion, len(images)
        self._buffers(n)
        padded = self._padded[:n]
        inner = padded[:, 1:-1, 1:-1]
        np.multiply(images.reshape(n, SIDE, SIDE), DTYPE(1 / 255), out=inner)
        if d.thickness:
            self._thicken(padded, d.thickness)
        self._sources(n, d)
        return self._read(n)

    def _thicken(self, padded, strength):
        """Blend each image's strokes a random share of the way, uniform up to ``strength``,
        towards one pixel thicker or, half as far, thinner (MNIST's strokes are only about two
        pixels wide): each way for half of the images, on average.

        Thicker: each pixel takes the brightest of itself and its four neighbours; thinner: the
        darkest. Which images grow is a random run of the batch (whose order is random anyway),
        so that each way works on whole slices of the batch: as flat arrays, where a pixel's
        neighbours are 1 and PAD places away (the border of zeros keeps images apart)."""
        n, rng = len(padded), self.rng
        amount = rng.uniform(0, strength, (n, 1)).astype(DTYPE)
        thicker, start = int(rng.binomial(n, 0.5)), int(rng.integers(n))
        for first, count, pick, scale in ((start, thicker, np.maximum, 1.0),
                                          (start + thicker, n - thicker, np.minimum, 0.5)):
            for lo, hi in _run(first % n, count, n):
                self._blend(padded[lo:hi], amount[lo:hi] * DTYPE(scale), pick, self._changed[lo:hi])

    @staticmethod
    def _blend(padded, share, pick, changed):
        """Move ``padded`` images the share of the way to ``pick`` of each pixel and its neighbours."""
        n = len(padded)
        flat, changed = padded.reshape(-1), changed.reshape(-1)
        end = len(flat) - PAD - 1
        here, span = flat[PAD + 1:end], changed[PAD + 1:end]
        pick(flat[1:end - PAD], flat[2 * PAD + 1:end + PAD], out=span)  # up, down
        pick(span, flat[PAD:end - 1], out=span)  # left
        pick(span, flat[PAD + 2:end + 1], out=span)  # right
        pick(span, here, out=span)
        span -= here
        square = changed.reshape(n, PAD, PAD)  # the border of zeros stays zero
        square[:, 0] = square[:, -1] = square[:, :, 0] = square[:, :, -1] = 0
        changed.reshape(n, -1)[...] *= share
        flat += changed

    def _sources(self, n, d):
        """Work out, for every output pixel, the point of the padded input it reads."""
        rng = self.rng
        turn = np.radians(rng.uniform(-d.rotate, d.rotate, n))
        slant = np.tan(np.radians(rng.uniform(-d.shear, d.shear, n)))
        size = rng.uniform(1 - d.scale, 1 + d.scale, n)  # scale < 1: the schema's bounds
        cos, sin = np.cos(turn) / size, np.sin(turn) / size
        # M = rotation(turn) @ [[1, slant], [0, 1]] / size
        m = np.stack([cos, cos * slant - sin, sin, sin * slant + cos]).astype(DTYPE)[:, :, None]
        centre = (SIDE - 1) / 2 + 1  # the image's centre in the padded image
        shift = (rng.uniform(-d.shift, d.shift, (2, n)) + centre).astype(DTYPE)[:, :, None]
        sx, sy, tmp = self._sx[:n], self._sy[:n], self._tmp[:n]
        if d.elastic:
            # p + e(p) at every pixel is a fixed linear map of the grid's values and the pixel's
            # own x, y: one product for the whole batch, x of each image then y of each image
            G2, coef = GRID * GRID, self._coef[:2 * n]
            coef[:, :G2] = rng.standard_normal((2 * n, G2), dtype=DTYPE)
            coef[:, :G2] *= DTYPE(d.elastic)
            coef[:n, G2:] = (1, 0)
            coef[n:, G2:] = (0, 1)
            field = np.matmul(coef, self._pixel_rows, out=self._field[:2 * n])
            ex, ey = field[:n], field[n:]
        else:
            ex, ey = self._gx, self._gy
        np.multiply(m[0], ex, out=sx)
        np.multiply(m[1], ey, out=tmp)
        sx += tmp
        sx += shift[0]
        np.multiply(m[2], ex, out=sy)
        np.multiply(m[3], ey, out=tmp)
        sy += tmp
        sy += shift[1]

    def _read(self, n):
        """Read the padded images at the source points, bilinearly: returns (n, 784) float32."""
        sx, sy, fx, fy, idx = self._sx[:n], self._sy[:n], self._fx[:n], self._fy[:n], self._idx[:n]
        edge = DTYPE(PAD - 2 + 0.999)  # reads beyond the frame land on the border of zeros
        np.clip(sx, 0, edge, out=sx)
        np.clip(sy, 0, edge, out=sy)
        np.floor(sx, out=fx)
        np.floor(sy, out=fy)
        sx -= fx  # now the weights of the right neighbours
        sy -= fy  # and of the lower ones
        fy *= PAD
        fy += fx
        fy += self._offsets[:n]
        np.copyto(idx, fy, casting="unsafe")  # whole numbers below 2**24: exact in float32
        flat, quads, last = self._padded[:n].reshape(n, -1), self._quads[:n], self._last
        for k, start in enumerate((0, 1, PAD, PAD + 1)):
            quads[:, :, k] = flat[:, start:start + last]
        got = quads.view(np.complex128).reshape(-1).take(idx).view(DTYPE).reshape(n, -1, 4)
        up_left, up_right, low_left, low_right = (got[..., k] for k in range(4))
        self._outs.reverse()
        out, tmp = self._outs[0][:n], self._tmp[:n]
        np.subtract(up_right, up_left, out=out)
        out *= sx
        out += up_left
        np.subtract(low_right, low_left, out=tmp)
        tmp *= sx
        tmp += low_left
        tmp -= out
        tmp *= sy
        out += tmp
        return out


def _run(first, count, n):
    """The slices of 0..n-1 that ``count`` places from ``first`` on cover, going round."""
    end = first + count
    return [(first, min(end, n))] + ([(0, end - n)] if end > n else []) if count else []


def distort(images, distortion: Distortion, seed=0):
    """Return uint8 images (n, 28, 28) or (n, 784) distorted once, as float32 (n, 784) in [0, 1].

    The images go through in a random order (a mini-batch's order is random already), so that
    which of them get thicker strokes is random too, not a run of them."""
    images = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    distorter = Distorter(distortion, seed)
    order = distorter.rng.permutation(len(images))
    out = np.empty((len(images), SIDE * SIDE), DTYPE)
    out[order] = distorter(images[order])
    return out
