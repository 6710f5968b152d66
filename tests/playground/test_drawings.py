"""A learner's drawings and their true labels: kept once each, bounded, and saved in MNIST's format."""
import io

import numpy as np
import pytest

from playground.drawings import LIMIT, DrawingRefused, Drawings, as_uint8, fingerprint, table, thumbnail

DIGITS = [str(d) for d in range(10)]


def image(seed):
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


def test_a_drawing_is_kept_as_uint8_with_its_prediction_and_label():
    store = Drawings(DIGITS)
    x = image(0)
    kept = store.add(x, 4, 9)
    assert kept.image.dtype == np.uint8 and kept.image.shape == (28, 28)
    np.testing.assert_array_equal(kept.image, np.rint(x * 255).astype(np.uint8))
    assert (kept.predicted, kept.label, kept.hit) == (4, 9, False)
    assert store.add(image(1), 3, 3).hit
    assert store.rows == (kept, store.rows[1]) and store.score() == (1, 2) and len(store) == 2
    assert not kept.image.flags.writeable


def test_the_same_drawing_is_kept_once():
    store = Drawings(DIGITS)
    store.add(image(0), 1, 1)
    assert image(0) in store and image(1) not in store
    with pytest.raises(DrawingRefused, match="kept already"):
        store.add(image(0), 1, 7)
    assert store.score() == (1, 1)


@pytest.mark.parametrize("label", [10, -1, "3", 3.0, True, None, "<b>x</b>", np.int64(12)])
def test_a_label_that_names_no_class_is_refused(label):
    store = Drawings(DIGITS)
    with pytest.raises(DrawingRefused, match=r"^The label .* is not one of the classes 0, 1, .*, 9\.$"):
        store.add(image(0), 1, label)
    with pytest.raises(DrawingRefused, match="The prediction"):
        store.add(image(0), label, 1)
    assert len(store) == 0


def test_numpy_integers_are_classes_too():
    assert Drawings(DIGITS).add(image(0), np.int64(2), np.uint8(2)).hit


@pytest.mark.parametrize("bad", [np.zeros((28, 27)), np.zeros(784), np.full((28, 28), np.nan),
                                 np.zeros((28, 28), np.int64)])
def test_an_image_that_is_no_28_by_28_drawing_is_refused(bad):
    with pytest.raises(DrawingRefused):
        Drawings(DIGITS).add(bad, 1, 1)


def test_floats_are_clipped_and_uint8_taken_as_it_is():
    x = np.array([[-0.5, 0.5, 2.0] + [0] * 25] * 28, np.float32)
    assert as_uint8(x)[0, :3].tolist() == [0, 128, 255]
    u = np.arange(784, dtype=np.uint16).reshape(28, 28).astype(np.uint8)
    np.testing.assert_array_equal(as_uint8(u), u)


def test_the_limit_holds_and_a_refusal_keeps_what_was_kept():
    store = Drawings(DIGITS, limit=3)
    for seed in range(3):
        store.add(image(seed), seed, seed)
    before = store.rows
    with pytest.raises(DrawingRefused, match="^3 drawings are kept, as many as a tab keeps"):
        store.add(image(9), 1, 1)
    assert store.rows == before
    assert Drawings(DIGITS).limit == LIMIT == 200


def test_the_npz_is_mnist_format_and_loads_without_pickle():
    store = Drawings(DIGITS)
    for seed, (p, y) in enumerate([(7, 7), (4, 9), (1, 1)]):
        store.add(image(seed), p, y)
    with np.load(io.BytesIO(store.to_npz()), allow_pickle=False) as f:
        assert sorted(f.files) == ["classes", "predicted", "x", "y"]
        assert f["x"].dtype == np.uint8 and f["x"].shape == (3, 28, 28)
        assert f["y"].dtype == np.uint8 and f["y"].tolist() == [7, 9, 1]
        assert f["predicted"].tolist() == [7, 4, 1]
        assert f["classes"].tolist() == DIGITS
        np.testing.assert_array_equal(f["x"][1], store.rows[1].image)


def test_the_file_is_made_once_per_set_of_drawings():
    """The Draw page asks for the file on every rerun: the same drawings give the same bytes, made once;
    a drawing kept or a clear makes a new file."""
    store = Drawings(DIGITS)
    store.add(image(0), 1, 1)
    first = store.to_npz()
    assert store.to_npz() is first
    store.add(image(1), 2, 2)
    second = store.to_npz()
    assert second is not first and store.to_npz() is second
    with np.load(io.BytesIO(second), allow_pickle=False) as f:
        assert f["y"].tolist() == [1, 2]
    store.clear()
    with np.load(io.BytesIO(store.to_npz()), allow_pickle=False) as f:
        assert f["x"].shape == (0, 28, 28)


def test_an_empty_list_downloads_as_empty_arrays_and_clear_empties_it():
    store = Drawings(DIGITS)
    store.add(image(0), 1, 1)
    store.clear()
    assert len(store) == 0 and store.score() == (0, 0)
    with np.load(io.BytesIO(store.to_npz()), allow_pickle=False) as f:
        assert f["x"].shape == (0, 28, 28) and f["y"].shape == (0,)


def test_the_table_lists_the_latest_first_with_thumbnails():
    store = Drawings(["T-shirt", "Trouser"])
    store.add(image(0), 0, 1)
    store.add(image(1), 1, 1)
    rows = table(store)
    assert [(r["predicted"], r["true"], r["right"]) for r in rows] == [("Trouser", "Trouser", True),
                                                                       ("T-shirt", "Trouser", False)]
    assert rows[0]["drawing"] == thumbnail(store.rows[1].image)
    assert rows[0]["drawing"].startswith("data:image/png;base64,") and len(rows[0]["drawing"]) < 2000


def test_a_drawing_has_one_fingerprint_of_its_pixels():
    assert fingerprint(image(0)) == fingerprint(np.rint(image(0) * 255).astype(np.uint8))
    assert fingerprint(image(0)) != fingerprint(image(1)) and len(fingerprint(image(0))) == 16
