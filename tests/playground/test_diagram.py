"""playground.diagram: the network for one input, drawn as columns of units and their strongest edges."""
import statistics
import time

import numpy as np
import plotly.graph_objects as go
import pytest

from mlp import MLP
from mlp.analysis import network_view
from mlp.data import CLASSES
from playground.diagram import NEGATIVE, POSITIVE, network_diagram

DIGITS = CLASSES["mnist"]
DEEP = [784, 1024, 1024, 1024, 1024, 10]


@pytest.fixture(scope="module")
def deep():
    """An untrained network of four 1,024-unit hidden layers, the largest the diagram is meant for."""
    return MLP(DEEP, random_state=0)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).random(784).astype(np.float32)


def traces(fig, mode):
    return [t for t in fig.data if t.mode == mode]


def units_trace(fig):
    (units,) = [t for t in traces(fig, "markers") if t.hoverinfo == "text" and t.marker.colorscale]
    return units


def test_one_column_per_layer_with_captions(deep, image):
    view = network_view(deep, image)
    fig = network_diagram(view, DIGITS)
    units = units_trace(fig)
    columns, counts = np.unique(np.asarray(units.x), return_counts=True)
    np.testing.assert_array_equal(columns, np.arange(6))
    np.testing.assert_array_equal(counts, [16, 16, 16, 16, 16, 10])
    captions = [a.text.replace("<br>", ": ") for a in fig.layout.annotations]
    hidden = [f"layer {i}: top 16 of 1,024" for i in range(1, 5)]
    assert captions == ["input: top 16 of 784 pixels", *hidden, "output: probabilities"]
    assert fig.layout.height == 420
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert len(fig.data) <= 10  # a handful of traces, not one per edge


def test_the_output_text_names_the_most_probable_class(deep, image):
    view = network_view(deep, image)
    fig = network_diagram(view, DIGITS)
    (names,) = traces(fig, "text")
    best = int(view.proba.argmax())
    assert len(names.text) == 10
    assert names.text[best] == f"<b>{DIGITS[best]} {view.proba[best]:.0%}</b>"
    assert [t for t in names.text if t.startswith("<b>")] == [names.text[best]]
    assert names.text[best - 1].startswith(f"{DIGITS[best - 1]} ")


def test_fashion_names_label_the_outputs():
    model = MLP([784, 64, 10], random_state=1)
    view = network_view(model, np.random.default_rng(1).random(784).astype(np.float32))
    (names,) = traces(network_diagram(view, CLASSES["fashion-mnist"]), "text")
    assert [t.replace("<b>", "").rsplit(" ", 1)[0] for t in names.text] == list(CLASSES["fashion-mnist"])


def test_edges_are_segments_coloured_by_sign(deep, image):
    view = network_view(deep, image)
    fig = network_diagram(view, DIGITS)
    lines = traces(fig, "lines")
    assert 2 <= len(lines) <= 6  # per sign, a few strength bands
    n_segments = sum(int(np.isnan(np.asarray(t.x, float)).sum()) for t in lines)
    assert n_segments == len(view.edges) == 5 * 40
    red = sum(int(np.isnan(np.asarray(t.x, float)).sum()) for t in lines if t.line.color == POSITIVE)
    assert red == sum(e.contribution > 0 for e in view.edges)
    assert {t.line.color for t in lines} == {POSITIVE, NEGATIVE}
    for t in lines:  # each segment goes from one column to the next
        x = np.asarray(t.x, float).reshape(-1, 3)
        np.testing.assert_array_equal(x[:, 1] - x[:, 0], 1)


def test_hover_names_pixels_units_and_classes(deep, image):
    view = network_view(deep, image)
    hover = list(units_trace(network_diagram(view, DIGITS)).hovertext)
    r, c = view.pixels[0]
    assert hover[0] == f"pixel ({r}, {c}) = {view.layers[0].activations[0]:.2f}"
    assert hover[16].startswith(f"layer 1 unit {view.layers[1].units[0]} = ")
    assert hover[-1] == f"9: {view.proba[9]:.1%}"


def test_the_figure_is_valid_plotly_and_serialises(deep, image):
    """Plotly's own checks accept the figure, and it serialises."""
    fig = network_diagram(network_view(deep, image), DIGITS, title="an untrained network")
    checked = go.Figure(fig.to_dict())  # raises on any property Plotly does not know
    assert checked.layout.title.text == "an untrained network"
    assert '"type":"scatter"' in fig.to_json().replace(" ", "")


def test_small_layers_are_shown_whole_and_a_blank_input_draws():
    model = MLP([784, 8, 10], random_state=0)
    view = network_view(model, np.zeros(784, np.float32))
    fig = network_diagram(view, DIGITS)
    assert [a.text for a in fig.layout.annotations][1] == "layer 1<br>all 8 units"
    go.Figure(fig.to_dict())
    no_edges = network_view(model, np.zeros(784, np.float32), edges=0)
    assert not traces(network_diagram(no_edges, DIGITS), "lines")


@pytest.mark.parametrize("sizes", [[784, 128, 64, 10], DEEP])
def test_the_view_and_figure_are_quick(sizes, deep, image):
    """Printed, not asserted (the machine may be busy): the Train page redraws this twice a second."""
    model = deep if sizes == DEEP else MLP(sizes, random_state=0)
    network_diagram(network_view(model, image), DIGITS)  # warm up (Plotly loads its templates once)
    views, figures = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        view = network_view(model, image)
        t1 = time.perf_counter()
        network_diagram(view, DIGITS)
        figures.append(time.perf_counter() - t1)
        views.append(t1 - t0)
    print(f"\n{sizes}: view {statistics.median(views) * 1e3:.2f} ms, "
          f"figure {statistics.median(figures) * 1e3:.2f} ms (median of 20)")
