"""Hand-drawn digits as pen strokes on the Draw page's 280 x 280 canvas.

A digit is a list of strokes; a stroke is a list of (x, y) points close together (a few pixels
apart), in the order a hand would draw them. The same strokes drive the mouse in the browser
tests and are rendered with PIL for the AppTest tests, so both see the same shapes.
"""
import base64
import io
import math

import numpy as np
from PIL import Image, ImageDraw

SIZE = 280      # the canvas is SIZE x SIZE pixels
STEP = 4.0      # pixels between two points of a stroke


def _resample(points, step=STEP):
    """Return the polyline through ``points`` with a point every ``step`` pixels along it."""
    points = [tuple(map(float, p)) for p in points]
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return out


def _arc(cx, cy, rx, ry, start, end, tilt=0.0, n=90):
    """Points on an ellipse from angle ``start`` to ``end`` (degrees, 0 = right, 90 = down on screen)."""
    t = np.radians(np.linspace(start, end, n))
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    return list(zip(cx + c * x - s * y, cy + s * x + c * y))


def zero():
    """An oval drawn anticlockwise from the top, leaning a little to the right, closing with an overlap."""
    return [_resample(_arc(140, 140, 52, 88, -100, 275, tilt=12))]


def one():
    """A single downstroke, slightly slanted and slightly bowed."""
    t = np.linspace(0, 1, 40)
    x = 152 - 22 * t + 4 * np.sin(np.pi * t)
    y = 45 + 190 * t
    return [_resample(list(zip(x, y)))]


def seven():
    """A top bar drawn left to right, then without lifting the pen a long diagonal down to the left."""
    bar = [(78 + 124 * t, 62 - 4 * t + 3 * math.sin(math.pi * t)) for t in np.linspace(0, 1, 30)]
    leg = [(202 - 78 * t - 10 * t * t, 58 + 178 * t) for t in np.linspace(0, 1, 40)]
    return [_resample(bar + leg[1:])]


def three():
    """Two bumps opening to the left, drawn top to bottom in one stroke."""
    upper = _arc(138, 92, 52, 44, -160, 90, n=70)
    lower = _arc(138, 178, 60, 52, -90, 155, n=80)
    return [_resample(upper + lower[1:])]


def four():
    """An open four: a stroke down to the left and across, then a separate downstroke on the right."""
    first = [(118, 48), (72, 150), (206, 150)]
    second = [(176, 70), (172, 236)]
    return [_resample(first), _resample(second)]


DIGITS = {0: zero, 1: one, 3: three, 4: four, 7: seven}


def render(strokes, width=20, size=SIZE):
    """Draw the strokes white on black with a round pen; return an RGBA uint8 array (size, size, 4)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    r = width / 2
    for stroke in strokes:
        pen.line(stroke, fill=(255, 255, 255, 255), width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(img)


def data_url(rgba):
    """The image as a PNG data URL, the way the canvas sends a drawing to the app."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8), "RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
