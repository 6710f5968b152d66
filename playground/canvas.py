"""The Draw page's canvas image, checked before it is decoded.

The canvas sends its drawing as a PNG data URL, and anyone can send their own in its place: a
12000 x 12000 PNG of a few hundred kilobytes costs seconds of CPU and gigabytes to decode. So
the text is bounded, the PNG header is read by hand, and only an image of the canvas's own
size and mode is handed to Pillow.
"""
import base64
import binascii
import io
import struct

import numpy as np
from PIL import Image

SIZE = (280, 280)                   # width, height of the Draw page's canvas
PREFIX = "data:image/png;base64,"
# an RGBA PNG of 280 x 280 is at most 280 * (280 * 4 + 1) bytes before compression (and a few
# hundred more for its chunks); base64 adds a third
MAX_URL = len(PREFIX) + 4 * (SIZE[1] * (SIZE[0] * 4 + 1) + 4096) // 3 + 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RGBA = 6                            # the PNG colour type of 8-bit red, green, blue and alpha

if Image.MAX_IMAGE_PIXELS is None:  # Pillow's decompression-bomb guard was turned off somewhere: on again
    Image.MAX_IMAGE_PIXELS = 89_478_485


class CanvasImageError(ValueError):
    """A canvas value that is not the Draw page's own drawing; the message says why, briefly."""


def drawing_url(value) -> str | None:
    """Return the PNG data URL inside a canvas component's value, or None if nothing is drawn.

    The value is ``{"drawing": {"raw": ..., "data": "data:image/png;base64,..." or None}, ...}``.
    """
    drawing = value.get("drawing") if isinstance(value, dict) else None
    url = drawing.get("data") if isinstance(drawing, dict) else None
    if url is None:
        return None
    if not isinstance(url, str):
        raise CanvasImageError("the drawing is not an image")
    return url


def read_canvas(url: str) -> np.ndarray:
    """Return the drawing of a PNG data URL as RGBA pixels, ndarray (280, 280, 4) uint8.

    Raises CanvasImageError for anything but a PNG of the canvas's size and mode.
    """
    if len(url) > MAX_URL:
        raise CanvasImageError(f"the image is {len(url) / 1000:,.0f} kB, larger than a drawing can be")
    if not url.startswith(PREFIX):
        raise CanvasImageError("the drawing is not a PNG image")
    try:
        raw = base64.b64decode(url[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise CanvasImageError("the image data is not valid base64") from None
    width, height, depth, colour = png_header(raw)
    if (width, height) != SIZE or (depth, colour) != (8, RGBA):
        raise CanvasImageError(f"the image is {width} x {height} (bit depth {depth}, colour type {colour}), "
                               f"not the canvas's {SIZE[0]} x {SIZE[1]} RGBA")
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as img:
            img.load()
            pixels = np.asarray(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise CanvasImageError("the image is damaged") from None
    if pixels.shape != (SIZE[1], SIZE[0], 4) or pixels.dtype != np.uint8:
        raise CanvasImageError("the image is not the canvas's RGBA")
    return pixels


def png_header(raw: bytes) -> tuple[int, int, int, int]:
    """Return (width, height, bit depth, colour type) from a PNG's IHDR chunk, without decoding it."""
    if len(raw) < 33 or raw[:8] != PNG_SIGNATURE or raw[12:16] != b"IHDR":
        raise CanvasImageError("the drawing is not a PNG image")
    length, = struct.unpack(">I", raw[8:12])
    if length != 13:
        raise CanvasImageError("the image's PNG header is damaged")
    width, height, depth, colour = struct.unpack(">IIBB", raw[16:26])
    return width, height, depth, colour


def initial_drawing(image: np.ndarray) -> dict:
    """A 28 x 28 uint8 image as a drawing the canvas can start from (its ``initial_drawing``).

    Each lit pixel becomes a grey square of the canvas (10 x 10 pixels), in fabric.js's JSON, so
    the image is part of what the canvas draws and sends back, and strokes can go over it.
    """
    image = np.asarray(image)
    side = SIZE[0] // image.shape[1]
    squares = [{"type": "Rect", "left": int(x) * side, "top": int(y) * side, "width": side, "height": side,
                "fill": f"rgb({v},{v},{v})", "stroke": None, "strokeWidth": 0, "originX": "left",
                "originY": "top", "selectable": False, "evented": False}
               for (y, x), v in np.ndenumerate(image) if v]
    return {"objects": squares}
