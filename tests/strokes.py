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


def _line(*points):
    return _resample(points)


def one_serif():
    """A 1 with a flag at the top and a base bar: the flag and the stem in one stroke, then the bar."""
    stem = [(110, 82), (150, 44), (146, 232)]
    return [_resample(stem), _line((104, 234), (190, 232))]


def one_flag():
    """A 1 with a long flag at the top and no base, the stem leaning a little."""
    t = np.linspace(0, 1, 20)
    flag = list(zip(100 + 58 * t, 96 - 52 * t - 6 * np.sin(np.pi * t)))
    stem = [(158 - 16 * u, 44 + 192 * u) for u in np.linspace(0, 1, 40)]
    return [_resample(flag + stem[1:])]


def two():
    """A hook over the top, a diagonal down to the left, and a flat base, in one stroke."""
    hook = _arc(140, 100, 56, 52, 200, 380, n=60)
    x0, y0 = hook[-1]
    neck = [(x0 - (x0 - 82) * u, y0 + (230 - y0) * u ** 1.2) for u in np.linspace(0, 1, 40)]
    return [_resample(hook + neck[1:] + [(206, 226)])]


def two_loop():
    """A 2 with a small loop where the diagonal meets the base."""
    hook = _arc(140, 96, 54, 50, 200, 390, n=60)
    x0, y0 = hook[-1]
    neck = [(x0 - (x0 - 92) * u, y0 + (222 - y0) * u) for u in np.linspace(0, 1, 30)]
    loop = _arc(98, 210, 20, 16, -60, 240, n=40)
    return [_resample(hook + neck[1:] + loop + [(150, 222), (208, 218)])]


def five():
    """A short downstroke, a round belly opening to the left, then the top bar as a second stroke."""
    belly = _arc(136, 172, 60, 56, -140, 150, n=80)
    down = [(96, 52), (92, 126)]
    bar = [(98, 52), (196, 48)]
    return [_resample(down + belly), _resample(bar)]


def six():
    """From the top right down the left side, then round into a closed loop at the bottom."""
    t = np.linspace(0, 1, 40)
    lead = list(zip(178 - 94 * t - 12 * np.sin(np.pi * t), 44 + 140 * t))
    loop = _arc(136, 184, 52, 48, 180, -150, n=80)
    return [_resample(lead + loop[1:])]


def eight():
    """A figure of eight in one stroke: down through the middle from the top and back up."""
    t = np.linspace(0, 2 * np.pi, 160)
    y = -np.cos(t)
    x = 140 + 50 * np.sin(2 * t) * np.where(y < 0, 0.8, 1.0)
    y = np.where(y < 0, 132 + 86 * y, 132 + 102 * y)
    return [_resample(list(zip(x, y)))]


def nine():
    """A closed loop drawn anticlockwise from its right side, then a straight tail down."""
    loop = _arc(132, 94, 50, 46, 0, -360, n=90)
    return [_resample(loop + [(182, 94), (176, 236)])]


def nine_curved():
    """A loop and a tail that curves down and back to the left at the bottom."""
    loop = _arc(134, 92, 48, 44, 10, -350, n=90)
    t = np.linspace(0, 1, 40)
    tail = list(zip(181 - 10 * t - 60 * t ** 4, 100 + 134 * t))
    return [_resample(loop + tail)]


def four_closed():
    """A closed four: a diagonal from the top of the stem down to the left and across, then the stem."""
    return [_line((168, 46), (72, 164), (210, 164)), _line((168, 46), (166, 236))]


def seven_crossed():
    """A 7 with a bar across the middle of its stem, as many European writers make it."""
    return seven() + [_line((112, 146), (186, 144))]


def seven_hooked():
    """A 7 whose top starts with a short downward hook and whose leg is nearly straight."""
    bar = [(80, 82), (84, 60), (200, 58)]
    return [_resample(bar + [(150, 236)])]


DIGITS = {0: zero, 1: one, 2: two, 3: three, 4: four, 5: five, 6: six, 7: seven, 8: eight, 9: nine}

# every style of every digit: name -> (the digit it is, the function that draws it)
STYLES = {
    "zero": (0, zero),
    "one": (1, one),
    "one_serif": (1, one_serif),
    "one_flag": (1, one_flag),
    "two": (2, two),
    "two_loop": (2, two_loop),
    "three": (3, three),
    "four": (4, four),
    "four_closed": (4, four_closed),
    "five": (5, five),
    "six": (6, six),
    "seven": (7, seven),
    "seven_crossed": (7, seven_crossed),
    "seven_hooked": (7, seven_hooked),
    "eight": (8, eight),
    "nine": (9, nine),
    "nine_curved": (9, nine_curved),
}


def render(strokes, width=20, size=SIZE):
    """Draw the strokes white on black with a round pen; return an RGBA uint8 array (size, size, 4)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    r = width / 2
    for stroke in strokes:
        pen.line(stroke, fill=(255, 255, 255, 255), width=width, joint="curve")
        for x, y in stroke:  # a round pen at every point: no notches between short segments
            pen.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(img)


def data_url(rgba):
    """The image as a PNG data URL, the way the canvas sends a drawing to the app."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8), "RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
