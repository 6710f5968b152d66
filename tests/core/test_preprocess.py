"""mlp.preprocess: MNIST images as float rows, and a drawing made into the digit MNIST would have made."""
import numpy as np
import pytest
from PIL import Image

from mlp.preprocess import STROKE_WIDTH, canvas_to_mnist, stroke_width, to_float
from tests import strokes


def canvas(draw):
    """A black 280 x 280 RGBA canvas with white ink where ``draw(gray)`` paints (a (280, 280) array)."""
    gray = np.zeros((280, 280), np.uint8)
    draw(gray)
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def ink_box(image, level=0.05):
    rows, cols = np.flatnonzero((image > level).any(axis=1)), np.flatnonzero((image > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(image):
    ys, xs = np.indices(image.shape)
    return (ys * image).sum() / image.sum(), (xs * image).sum() / image.sum()


def test_to_float_makes_rows_in_0_1():
    images = np.array([[[0, 255], [128, 64]]] * 3, np.uint8)
    X = to_float(images)
    assert X.shape == (3, 4) and X.dtype == np.float32
    np.testing.assert_allclose(X[0], [0, 1, 128 / 255, 64 / 255], rtol=1e-6)
    assert to_float(images[:0]).shape == (0, 4)


@pytest.mark.parametrize("rgba", [np.zeros((280, 280, 4), np.uint8), canvas(lambda g: None),
                                  canvas(lambda g: g.__setitem__((slice(0, 5), slice(0, 5)), 15))],
                         ids=["transparent", "black", "below-the-threshold"])
def test_an_empty_canvas_is_none(rgba):
    assert canvas_to_mnist(rgba) is None


@pytest.mark.parametrize("h, w", [(200, 40), (40, 200), (120, 120)])
def test_the_longer_side_becomes_20_pixels_keeping_the_aspect_ratio(h, w):
    def bar(g):
        g[30:30 + h, 50:50 + w] = 255
    image = canvas_to_mnist(canvas(bar))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() == pytest.approx(1.0)
    rows, cols = ink_box(image)
    assert max(rows, cols) == 20
    assert min(rows, cols) == pytest.approx(20 * min(h, w) / max(h, w), abs=1)


@pytest.mark.parametrize("where", [(10, 10), (200, 30), (120, 230)])
def test_the_centre_of_mass_lands_on_the_centre_wherever_it_was_drawn(where):
    y, x = where
    def blob(g):
        g[y:y + 40, x:x + 25] = 255
        g[y + 30:y + 40, x:x + 45] = 255  # an L: its centre of mass is not its box's centre
    cy, cx = centre_of_mass(canvas_to_mnist(canvas(blob)))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_a_faint_stroke_is_drawn_at_full_strength():
    image = canvas_to_mnist(canvas(lambda g: g.__setitem__((slice(50, 230), slice(130, 150)), 90)))
    assert image.max() == pytest.approx(1.0)


def test_a_half_transparent_canvas_fades_the_ink_and_a_gray_image_works_too():
    rgba = canvas(lambda g: g.__setitem__((slice(50, 230), slice(100, 180)), 255))
    gray = rgba[..., 0].copy()
    rgba[..., 3] = 128  # ink drawn on a half-transparent layer
    np.testing.assert_allclose(canvas_to_mnist(rgba), canvas_to_mnist(gray), atol=1e-6)


@pytest.mark.parametrize("width", [8, 20, 40])
def test_the_test_strokes_give_digit_shapes_of_mnist_size(width):
    assert set(strokes.DIGITS) == set(range(10))
    assert {label for label, _ in strokes.STYLES.values()} == set(range(10))
    for name, (label, strokes_of) in strokes.STYLES.items():
        image = canvas_to_mnist(strokes.render(strokes_of(), width=width))
        assert max(ink_box(image)) == 20, name
        cy, cx = centre_of_mass(image)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5, name
    one = canvas_to_mnist(strokes.render(strokes.DIGITS[1]()))
    rows, cols = ink_box(one)
    assert rows == 20 and cols < 12  # a 1 stays narrow: the box keeps its aspect ratio


def ring(width, radius=100, size=280):
    """A circle of the given stroke width (a stroke in every direction), gray (size, size) uint8."""
    ys, xs = np.indices((size, size)) + 0.5
    r = np.hypot(ys - size / 2, xs - size / 2)
    return np.where(np.abs(r - radius) <= width / 2, 255, 0).astype(np.uint8)


@pytest.mark.parametrize("width", [8, 12, 30])
def test_stroke_width_measures_a_stroke_at_any_size(width):
    image = ring(width)
    assert stroke_width(image) == pytest.approx(width, rel=0.05)
    small = np.asarray(Image.fromarray(image).resize((70, 70), Image.Resampling.BOX))  # blurred
    assert stroke_width(small) == pytest.approx(width / 4, rel=0.05)
    assert stroke_width(np.zeros((28, 28))) == 0


@pytest.mark.parametrize("pen", [8, 40])
def test_a_thin_or_a_thick_pen_gives_strokes_as_wide_as_mnists(pen):
    lo, hi = STROKE_WIDTH
    for name, (label, draw) in strokes.STYLES.items():
        rgba = strokes.render(draw(), width=pen)
        as_drawn = stroke_width(canvas_to_mnist(rgba, width=None))
        made = canvas_to_mnist(rgba)
        assert (as_drawn < lo) if pen == 8 else (as_drawn > hi), name
        assert lo - 0.35 <= stroke_width(made) <= hi + 0.35, name
        assert max(ink_box(made)) == 20, name  # still MNIST's size and place
        cy, cx = centre_of_mass(made)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5, name
        assert stroke_width(canvas_to_mnist(rgba, width=2.5)) == pytest.approx(2.5, abs=0.45), name


def test_strokes_as_wide_as_mnists_are_left_as_drawn():
    rgba = strokes.render(strokes.seven(), width=24)
    assert STROKE_WIDTH[0] <= stroke_width(canvas_to_mnist(rgba, width=None)) <= STROKE_WIDTH[1]
    np.testing.assert_array_equal(canvas_to_mnist(rgba), canvas_to_mnist(rgba, width=None))


def test_the_range_of_stroke_widths_is_mnists(mnist):
    # every 7th digit: MNIST alternates its two groups of writers, whose pens differ
    widths = [stroke_width(image) for image in mnist.x_train[::7]]
    assert STROKE_WIDTH == pytest.approx(tuple(np.percentile(widths, [25, 75])), abs=0.03)
