"""The network for one input as a Plotly figure: a column of units per layer, the strongest
connections between them, the classes' probabilities at the end.

A pure function from an `mlp.analysis.NetworkView` to a figure (no Streamlit here). It is redrawn
twice a second while training runs, so it is built from plain dicts with a handful of traces: all
the units in one, the connections in a few (one per sign and strength band), never one per line.
"""
import numpy as np
import plotly.graph_objects as go

from .figures import TEST

POSITIVE, NEGATIVE = "#d62728", "#1f77b4"   # red pushes the next unit up, blue pushes it down
BANDS = ((0.0, 1.0, 0.25), (1 / 3, 2.2, 0.45), (2 / 3, 3.6, 0.75))  # (from |c| / max, width, opacity)
COLORSCALE = "Viridis"
SIZES = (7, 13, 15)  # marker size: input pixels, hidden units, outputs


def _caption(i, layer, last):
    """The caption above column i, on two lines: the layer, and what the column shows of it."""
    if i == last:
        return "output<br>probabilities"
    name, what = ("input", " pixels") if i == 0 else (f"layer {i}", " units")
    if layer.capped:
        return f"{name}<br>top {len(layer.units)} of {layer.size:,}{what if i == 0 else ''}"
    return f"{name}<br>all {layer.size:,}{what}"


def _unit_name(view, i, position, classes=None):
    """How a hover text names the unit at ``position`` of layer i: a pixel, a unit or a class."""
    if i == 0:
        return "pixel ({}, {})".format(*view.pixels[position])
    unit = view.layers[i].units[position]
    return str(classes[unit]) if i == len(view.layers) - 1 else f"unit {unit}"


def _heights(k):
    """The y of k units in a column, top to bottom, centred on 0, one apart."""
    return (k - 1) / 2 - np.arange(k)  # (k,)


def network_diagram(view, classes, title=None):
    """Draw a `NetworkView`: units coloured by activation, edges by the sign and size of their contribution.

    Each hidden column is coloured relative to its own strongest unit, the input by pixel value and
    the output by probability; the most probable class is outlined and its label is bold.
    """
    layers, last = view.layers, len(view.layers) - 1
    ks = [len(layer.units) for layer in layers]
    ys = [_heights(k) for k in ks]
    top = max(ks) / 2

    # the units: one trace
    out = layers[-1]
    best = int(out.activations.argmax())
    shades, hover = [], []
    for i, layer in enumerate(layers):
        a = np.asarray(layer.activations, dtype=float)
        if i == 0:
            shades.append(a)
            hover += [f"pixel ({r}, {c}) = {v:.2f}" for (r, c), v in zip(view.pixels, a)]
        elif i < last:
            peak = float(np.abs(a).max())
            shades.append(a / peak if peak > 0 else np.zeros_like(a))
            hover += [f"layer {i} unit {u} = {v:.3g}" for u, v in zip(layer.units, a)]
        else:
            shades.append(a)
            hover += [f"{classes[u]}: {v:.1%}" for u, v in zip(layer.units, a)]
    size = np.repeat([SIZES[0 if i == 0 else 2 if i == last else 1] for i in range(last + 1)], ks)
    units = dict(type="scatter", x=np.repeat(np.arange(last + 1.0), ks), y=np.concatenate(ys), mode="markers",
                 hovertext=hover, hoverinfo="text",
                 marker=dict(color=np.concatenate(shades), cmin=0, cmax=1, colorscale=COLORSCALE, size=size,
                             line=dict(color="#444", width=0.5)))

    # the output labels, "7 93%", and a ring round the most probable class
    labels = [f"{classes[u]} {p:.0%}" for u, p in zip(out.units, out.activations)]
    labels[best] = f"<b>{labels[best]}</b>"
    names = dict(type="scatter", x=np.full(ks[-1], last + 0.12), y=ys[-1], mode="text", text=labels,
                 textposition="middle right", hoverinfo="skip", textfont=dict(size=12), cliponaxis=False)
    ring = dict(type="scatter", x=[last], y=[ys[-1][best]], mode="markers", hoverinfo="skip",
                marker=dict(symbol="circle-open", size=SIZES[2] + 8, color=TEST, line=dict(width=3)))

    # the edges: NaN-separated segments, one trace per sign and strength band
    edges, midpoints = [], []
    if view.edges:
        pair, source, target, weight, contribution = np.array(view.edges, dtype=float).T  # each (n_edges,)
        pair, source, target = (v.astype(int) for v in (pair, source, target))
        peak = np.zeros(last)
        np.maximum.at(peak, pair, np.abs(contribution))
        band = np.searchsorted([b[0] for b in BANDS], np.abs(contribution) / peak[pair], side="right") - 1
        y0 = np.concatenate(ys)[np.cumsum([0, *ks])[pair] + source]            # (n_edges,)
        y1 = np.concatenate(ys)[np.cumsum([0, *ks])[pair + 1] + target]        # (n_edges,)
        gap = np.full_like(y0, np.nan)
        seg_x = np.stack([pair, pair + 1.0, gap], axis=1)                      # (n_edges, 3)
        seg_y = np.stack([y0, y1, gap], axis=1)                                # (n_edges, 3)
        for positive in (False, True):
            for b, (_, width, opacity) in enumerate(BANDS):
                pick = (band == b) & ((contribution > 0) == positive)
                if pick.any():
                    edges.append(dict(type="scatter", x=seg_x[pick].ravel(), y=seg_y[pick].ravel(),
                                      mode="lines", hoverinfo="skip", opacity=opacity,
                                      line=dict(color=POSITIVE if positive else NEGATIVE, width=width)))
        text = [f"{_unit_name(view, e.layer, e.source)} → {_unit_name(view, e.layer + 1, e.target, classes)}"
                f": weight {e.weight:+.3f}, adds {e.contribution:+.3f}" for e in view.edges]
        midpoints.append(dict(type="scatter", x=pair + 0.5, y=(y0 + y1) / 2, mode="markers", hovertext=text,
                              hoverinfo="text", marker=dict(size=8, opacity=0)))

    right = last + 0.2 + 0.075 * max(len(str(c)) + 5 for c in classes)  # room for "Ankle boot 93%"
    captions = [dict(x=i, y=top + 0.5, text=_caption(i, layer, last), showarrow=False, yanchor="bottom",
                     font=dict(size=12)) for i, layer in enumerate(layers)]
    layout = dict(height=420, margin=dict(l=10, r=10, t=10 if not title else 50, b=10),
                  showlegend=False, hovermode="closest", annotations=captions,
                  plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)",
                  xaxis=dict(visible=False, range=[-0.6, right], fixedrange=True),
                  yaxis=dict(visible=False, range=[-top - 0.3, top + 2.4], fixedrange=True))
    if title:
        layout["title"] = dict(text=title, font=dict(size=14))  # spelled out: nothing checks and expands it
    return go.Figure(dict(data=[*edges, *midpoints, units, ring, names], layout=layout))
