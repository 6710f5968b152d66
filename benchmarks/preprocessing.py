"""Does a drawing, once preprocessed, look like an MNIST digit? Statistics of `canvas_to_mnist`'s
output beside MNIST's own.

Run from the project's root (scikit-learn for the load_digits set:
.venv/bin/pip install -r benchmarks/requirements-handwriting.txt):

    .venv/bin/python benchmarks/preprocessing.py
    .venv/bin/python benchmarks/preprocessing.py --png /tmp/preprocessed.png   # also a picture

For MNIST's 10,000 test digits, the load_digits blow-ups and the stroke digits at each pen width
(see drawings.py) it prints the median and interquartile range of: the stroke width (ink area /
skeleton length, and `mlp.preprocess.stroke_width`: 2 x ink / edge length), the bounding box's
height and width, the centre of mass, the mean intensity of the inked pixels, and the share of
the 784 pixels above 0.5; then the time `canvas_to_mnist` takes per drawing with and without its
stroke-width adjustment (interleaved). --as-drawn shows the drawings without the adjustment.
No training: about 10 s in all.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import drawings  # noqa: E402

from mlp.data import DatasetError, load_dataset  # noqa: E402
from mlp.preprocess import canvas_to_mnist, stroke_width  # noqa: E402

INK = 0.5       # a pixel is ink above this, for the skeleton, the area and the share
TRACE = 0.1     # the bounding box and the "inked pixels" take everything above this


# ----------------------------------------------------------------------------
# measurements of (n, 28, 28) float images in [0, 1]


def _neighbours(b):
    """The 8 neighbours P2..P9 of every pixel (N, NE, E, SE, S, SW, W, NW), as (8, n, 28, 28)."""
    p = np.pad(b, ((0, 0), (1, 1), (1, 1)))
    h, w = b.shape[1:]
    shifts = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    return np.stack([p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in shifts])


def skeleton(binary):
    """Zhang-Suen thinning of a batch of binary images (n, h, w) -> bool, one pixel wide lines."""
    s = np.asarray(binary, bool).copy()
    while True:
        changed = False
        for step in (0, 1):
            P = _neighbours(s).astype(np.int8)
            B = P.sum(axis=0)
            A = ((P == 0) & (np.roll(P, -1, axis=0) == 1)).sum(axis=0)  # 0 -> 1 transitions around
            p2, p4, p6, p8 = P[0], P[2], P[4], P[6]
            if step == 0:
                c = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                c = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = s & (B >= 2) & (B <= 6) & (A == 1) & c
            if remove.any():
                s &= ~remove
                changed = True
        if not changed:
            return s


def stats(images):
    """A dict of per-image measurements (each an array of n values)."""
    x = np.asarray(images, np.float32)
    ink = x > INK
    area = ink.sum(axis=(1, 2)).astype(float)
    skel = skeleton(ink).sum(axis=(1, 2)).astype(float)
    trace = x > TRACE
    rows, cols = trace.any(axis=2), trace.any(axis=1)

    def extent(mask):
        first = mask.argmax(axis=1)
        last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
        return np.where(mask.any(axis=1), last - first + 1, 0)

    ys, xs = np.indices(x.shape[1:])
    mass = np.maximum(x.sum(axis=(1, 2)), 1e-9)
    return {
        "width: area / skeleton (px)": area / np.maximum(skel, 1),
        "width: stroke_width (px)": np.array([stroke_width(v) for v in x]),
        "box height (px)": extent(rows).astype(float),
        "box width (px)": extent(cols).astype(float),
        "centre of mass y": (x * ys).sum(axis=(1, 2)) / mass,
        "centre of mass x": (x * xs).sum(axis=(1, 2)) / mass,
        "mean of inked pixels": np.array([v[v > TRACE].mean() if (v > TRACE).any() else 0 for v in x]),
        "share > 0.5 (%)": 100 * area / x[0].size,
    }


def summary(values):
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{q2:6.2f} [{q1:5.2f}-{q3:5.2f}]"


def print_table(columns):
    """``columns``: [(title, stats dict)]; one row per measurement: median [IQR] of each column."""
    names = list(columns[0][1])
    width = max(len(n) for n in names)
    print(" " * width + "  " + "  ".join(f"{title:>20}" for title, _ in columns))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{summary(s[name]):>20}" for _, s in columns))


def as_drawn(rgba):
    return canvas_to_mnist(rgba, width=None)


def print_timing(widths, repeats=7, calls=30):
    """Median time of canvas_to_mnist per drawing (the stroke digit "seven"), with the stroke-width
    adjustment and without, interleaved; the median of per-repeat ratios."""
    import time
    print("canvas_to_mnist per drawing (a 7), median of", repeats, "repeats of", calls, "calls:")
    for w in widths:
        rgba = drawings.strokes.render(drawings.strokes.seven(), width=w)
        times = {"adjusted": [], "as drawn": []}
        for r in range(repeats):
            for name, f in (list(times.items()) if r % 2 else list(times.items())[::-1]):
                fn = canvas_to_mnist if name == "adjusted" else as_drawn
                t = time.perf_counter()
                for _ in range(calls):
                    fn(rgba)
                f.append((time.perf_counter() - t) / calls)
        ratio = np.median(np.array(times["adjusted"]) / np.array(times["as drawn"]))
        print(f"  pen {w:2} px: adjusted {np.median(times['adjusted']) * 1e6:4.0f} us, "
              f"as drawn {np.median(times['as drawn']) * 1e6:4.0f} us, ratio {ratio:.2f}")


def mnist_test_images(data_dir):
    try:
        data = load_dataset("mnist", data_dir)
    except DatasetError as e:
        sys.exit(f"MNIST: {e}")
    return data.x_test.astype(np.float32) / 255


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", help="MNIST's folder (default: $MNIST_PLAYGROUND_DATA, the cache, a download)")
    ap.add_argument("--widths", default=",".join(map(str, drawings.PEN_WIDTHS)),
                    help="pen widths of the stroke digits, in canvas pixels (default %(default)s)")
    ap.add_argument("--png", help="also save the preprocessed drawings as a picture here")
    ap.add_argument("--as-drawn", action="store_true",
                    help="keep the drawings' own stroke width (canvas_to_mnist(..., width=None))")
    args = ap.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]

    mnist = stats(mnist_test_images(args.data_dir))
    preprocess = as_drawn if args.as_drawn else canvas_to_mnist
    ld_images, ld_labels = drawings.load_digits_set(preprocess)
    _, _, pens, st_images = drawings.stroke_set(widths, preprocess)
    print("median [interquartile range] of each measurement, after canvas_to_mnist for the drawings, "
          + ("stroke width as drawn" if args.as_drawn else "stroke width brought into MNIST's range"))
    print(f"stroke digits: {len(drawings.strokes.STYLES)} styles; load_digits: {len(ld_labels)} digits\n")
    columns = [("MNIST test", mnist), ("load_digits", stats(ld_images))]
    columns += [(f"strokes {w} px", stats(st_images[pens == w])) for w in widths]
    for start in range(0, len(columns), 5):  # five columns a table, MNIST in each
        print_table(columns[:1] + columns[max(1, start):start + 5] if start else columns[:5])
        print()
    print_timing(widths)
    if args.png:
        from PIL import Image
        order = np.concatenate([np.flatnonzero(ld_labels == k)[:8] for k in range(10)])
        per_row = len(drawings.strokes.STYLES)  # the strokes: a row per pen width
        picture = np.vstack([drawings.grid(ld_images[order], per_row=per_row),
                             drawings.grid(st_images, per_row=per_row)])
        Image.fromarray(picture).save(args.png)
        print(f"saved {args.png}")


if __name__ == "__main__":
    main()
