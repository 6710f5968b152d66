"""The figures of acting on a training (playground.figures): change marks, the layers over time; the
neuron lab's weights and the text art of the map of a layer."""
import numpy as np
import pytest

from mlp.diagnostics import Diagnostics
from mlp.train import ConfigChange, Progress
from playground.figures import MAX_POINTS, layer_diagnostics, text_art, training_curves, weight_image


def progress(step):
    return Progress(step, step / 10, 0.9 + step / 1e5, 0.9, 0.3, 0.31, 1000.0, step / 100, 1e-3)


def measured(step, layers=3):
    return Diagnostics(step, step / 10, (1.0,) * layers, (1e-3,) * layers, (5.0,) * layers, (0.1,) * layers,
                       (0.0,) * (layers - 1))


def test_changes_at_one_update_share_one_line_on_both_panels():
    changes = [ConfigChange(20, 2.0, "learning_rate_init", 0.02, 0.002), ConfigChange(20, 2.0, "dropout", 0.2, 0.0),
               ConfigChange(40, 4.0, "max_iter", 9, 8)]
    fig = training_curves([progress(s) for s in range(10, 60, 10)], changes=changes).to_dict()["layout"]
    assert [(s["x0"], s["xref"]) for s in fig["shapes"]] == [(2.0, "x"), (2.0, "x2"), (4.0, "x"), (4.0, "x2")]
    assert [a["text"] for a in fig["annotations"]] == ["lr 0.002 -> 0.02, dropout 0 -> 0.2", "epochs 8 -> 9"]


def test_the_layers_figure_has_six_panels_and_thins_a_long_run_keeping_the_last():
    diagnostics = [measured(5 * i) for i in range(1, 2001)]
    fig = layer_diagnostics(diagnostics, [progress(s) for s in range(100, 10001, 100)]).to_dict()
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["gradient norm", "update / weight", "weight norm", "drift from start", "dead ReLUs",
                      "train - test accuracy"]
    first = fig["data"][0]
    assert len(first["x"]) <= MAX_POINTS and first["x"][-1] == diagnostics[-1].epoch
    assert sum(t["yaxis"] == "y5" for t in fig["data"]) == 2  # dead ReLUs: one line per hidden layer


# ----------------------------------------------------------------------------
# the neuron lab and the map of a layer (Inspect)


def test_text_art_draws_two_pixels_a_character_cut_to_the_ink():
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 4, 6:10] = 255    # a bar in the upper pixel of line 2
    image[0, 7, 8] = 255       # the lower pixel of line 3, two columns in
    image[0, 8:10, 6] = 255    # both pixels of line 4
    (lines,) = text_art(image, size=28)
    assert len(lines) == 14
    assert lines[:2] == ["", ""] and lines[2] == "▀▀▀▀" and lines[3] == "  ▄" and lines[4] == "█"
    assert lines[5:] == [""] * 9  # the left margin all lines share is cut, and the spaces on the right
    small = text_art(np.full((3, 28, 28), 255, np.uint8))  # shrunk to 20 x 20
    assert [len(a) for a in small] == [10] * 3 and small[0] == ["█" * 20] * 10
    assert text_art(np.zeros((2, 28, 28), np.uint8)) == [[""] * 10] * 2
    with pytest.raises(ValueError, match="even"):
        text_art(image, size=13)


def test_weight_image_lays_784_weights_out_as_the_image_and_others_as_a_strip():
    w = np.arange(784, dtype=np.float32) - 392
    z = np.asarray(weight_image(w, "t").data[0].z, dtype=float)
    assert z.shape == (28, 28) and z[1, 0] == w[28]
    z = np.asarray(weight_image(np.ones(10), "t").data[0].z, dtype=float)
    assert z.shape == (3, 4) and np.isnan(z.ravel()[10:]).all() and (z.ravel()[:10] == 1).all()
