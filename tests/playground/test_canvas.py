"""The canvas image as it comes from a browser, or from anyone: checked before it is decoded."""
import base64
import io
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from playground.canvas import MAX_URL, PREFIX, CanvasImageError, drawing_url, initial_drawing, read_canvas


def png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")  # (h, w, 2): LA, 3: RGB, 4: RGBA
    return buf.getvalue()


def url(raw: bytes) -> str:
    return PREFIX + base64.b64encode(raw).decode()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb(side: int) -> bytes:
    """A real side x side RGBA PNG of black pixels: 1,000 times smaller than it decodes to."""
    deflate, row = zlib.compressobj(9), b"\0" * (1 + 4 * side)
    data = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def drawing():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[60:220, 130:150, :3] = 255  # a 1
    return rgba


def test_the_canvas_own_drawing_is_read():
    rgba = drawing()
    got = read_canvas(url(png(rgba)))
    assert got.shape == (280, 280, 4) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, rgba)


def test_the_largest_drawing_fits_the_bound():
    noise = np.random.default_rng(0).integers(0, 256, (280, 280, 4), dtype=np.uint8)
    text = url(png(noise))
    assert len(text) < MAX_URL
    assert read_canvas(text).shape == (280, 280, 4)


@pytest.mark.parametrize("side, message", [
    (12000, r"the image is \d+ kB, larger than a drawing can be"),  # 576 MB decoded: its length stops it
    (8000, "the image is 8000 x 8000 .* not the canvas's 280 x 280 RGBA"),  # 256 MB: its header does
])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(side, message):
    text = url(bomb(side))
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(CanvasImageError, match=message):
        read_canvas(text)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * len(text), peak  # a few copies of the text (under 3 MB), none of the pixels (256 MB)
    assert seconds < 1.0, seconds  # generous: it takes a few milliseconds


@pytest.mark.parametrize("text, message", [
    (url(np.random.default_rng(1).bytes(5000)), "not a PNG image"),
    (PREFIX + "not base64 at all!", "not valid base64"),
    ("data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff").decode(), "not a PNG image"),
    ("javascript:alert(1)", "not a PNG image"),
    (url(png(np.zeros((280, 280, 2), np.uint8))), r"colour type 4\), not the canvas's 280 x 280 RGBA"),
    (url(png(np.zeros((280, 280, 3), np.uint8))), r"colour type 2\), not the canvas's 280 x 280 RGBA"),
    (url(png(np.zeros((28, 28, 4), np.uint8))), "the image is 28 x 28"),
    (url(png(np.random.default_rng(2).integers(0, 256, (280, 280, 4), dtype=np.uint8))[:-5000]), "damaged"),
    (PREFIX + "A" * MAX_URL, "larger than a drawing can be"),
], ids=["random-bytes", "bad-base64", "jpeg", "javascript", "LA-mode", "RGB", "28x28", "truncated", "huge"])
def test_anything_else_is_refused_with_a_reason(text, message):
    with pytest.raises(CanvasImageError, match=message):
        read_canvas(text)


def test_a_damaged_png_of_the_right_size_is_refused():
    raw = bytearray(png(drawing()))
    raw[60:80] = b"\xff" * 20  # inside the compressed pixels
    with pytest.raises(CanvasImageError, match="damaged"):
        read_canvas(url(bytes(raw)))


@pytest.mark.parametrize("value, expected", [
    (None, None), ({}, None), ({"drawing": None}, None), ({"drawing": {"raw": {}, "data": None}}, None),
    ({"drawing": {"data": "data:image/png;base64,AAAA"}}, "data:image/png;base64,AAAA"),
])
def test_the_drawing_url_is_found_in_the_component_value(value, expected):
    assert drawing_url(value) == expected


@pytest.mark.parametrize("value", [{"drawing": {"data": 12}}, {"drawing": {"data": ["x"]}}])
def test_a_drawing_that_is_not_text_is_refused(value):
    with pytest.raises(CanvasImageError, match="not an image"):
        drawing_url(value)


def test_an_image_becomes_grey_squares_of_the_canvas_for_its_lit_pixels_only():
    image = np.zeros((28, 28), np.uint8)
    image[3, 5], image[27, 0] = 200, 17
    squares = initial_drawing(image)["objects"]
    assert [(s["left"], s["top"], s["width"], s["height"], s["fill"]) for s in squares] == [
        (50, 30, 10, 10, "rgb(200,200,200)"), (0, 270, 10, 10, "rgb(17,17,17)")]
    assert all(s["type"] == "Rect" and s["strokeWidth"] == 0 and not s["selectable"] for s in squares)
    assert initial_drawing(np.zeros((28, 28), np.uint8)) == {"objects": []}
