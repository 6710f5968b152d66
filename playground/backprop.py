"""The figures of what happens inside one example: the Backprop page's (where the step-through is,
a layer's values as a strip, a gradient as an image, probabilities before and after one step) and
the Draw page's "Why" (which pixels a class depends on, and the ink that would make it another).

Pure functions from the numbers of `mlp.explain` to Plotly figures (no Streamlit here). A layer of
1,024 units is a strip of 1,024 cells; a weight gradient of 1,024 x 1,024 is cut to its largest
rows and columns (`mlp.explain.strongest`), so no figure carries more than a few thousand numbers.
"""
import numpy as np
import plotly.graph_objects as go

from mlp.explain import strongest

from .figures import TEST, TRAIN

FORWARD, BACKWARD, IDLE = "#1f77b4", "#d62728", "#e8e8e8"
ROW = 64  # cells per row of a strip
GAP = 6   # pixels between rows of 28 x 28 tiles, for their names
PITCH = 28 + GAP


def stage_diagram(layer_sizes, stage):
    """A row of boxes, input to loss, with the box the current ``stage`` (mlp.explain.Stage) is about
    highlighted, blue going forward and red going backward."""
    L = len(layer_sizes) - 1
    names = ["x"] + [f"layer {k}" for k in range(1, L)] + ["output", "softmax", "loss"]
    sizes = [f"{n:,}" for n in layer_sizes] + [f"{layer_sizes[-1]} p", "one number"]
    at = {"input": 0, "forward": stage.layer, "logits": L, "softmax": L + 1, "loss": L + 2,
          "output": L, "backward": stage.layer, "step": None}[stage.kind]
    backward = stage.kind in ("output", "backward")
    shapes, notes = [], []
    for i, (name, size) in enumerate(zip(names, sizes)):
        on = at == i or stage.kind == "step"
        color = (BACKWARD if backward else FORWARD) if on else IDLE
        shapes.append(dict(type="rect", x0=i - 0.38, x1=i + 0.38, y0=-0.5, y1=0.5, line=dict(color="#888"),
                           fillcolor=color, opacity=0.9 if on else 1))
        notes.append(dict(x=i, y=0, text=f"<b>{name}</b><br>{size}", showarrow=False,
                          font=dict(size=12, color="white" if on else "#333")))
        if i:
            notes.append(dict(x=i - 0.39, y=0.18, ax=i - 0.61, ay=0.18, xref="x", yref="y", axref="x", ayref="y",
                              text="", showarrow=True, arrowhead=2, arrowcolor=FORWARD, arrowwidth=1.5))
            notes.append(dict(x=i - 0.61, y=-0.18, ax=i - 0.39, ay=-0.18, xref="x", yref="y", axref="x",
                              ayref="y", text="", showarrow=True, arrowhead=2, arrowcolor=BACKWARD,
                              arrowwidth=1.5 if backward else 0.8))
    layout = dict(height=110, margin=dict(l=5, r=5, t=5, b=5), shapes=shapes, annotations=notes,
                  xaxis=dict(visible=False, range=[-0.5, len(names) - 0.5], fixedrange=True),
                  yaxis=dict(visible=False, range=[-0.6, 0.6], fixedrange=True),
                  plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return go.Figure(dict(data=[], layout=layout))


def strip(values, title, picked=None, diverging=False):
    """A layer's values as rows of cells, ``ROW`` a row, unit 0 at the top left; ``picked`` is outlined.

    ``diverging``: blue below 0, red above (a gradient); else dark to bright (an activation).
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    cols = min(n, ROW)
    rows = -(-n // cols)
    grid = np.full(rows * cols, np.nan)
    grid[:n] = v
    units = np.arange(rows * cols, dtype=float)
    units[n:] = np.nan
    scale = float(np.nanmax(np.abs(v))) if n and np.isfinite(v).any() else 1.0
    heat = dict(type="heatmap", z=grid.reshape(rows, cols), customdata=units.reshape(rows, cols),
                hovertemplate="unit %{customdata}: %{z:.4g}<extra></extra>", showscale=True,
                colorbar=dict(thickness=10, len=1))
    if diverging:
        heat.update(colorscale="RdBu_r", zmid=0, zmin=-(scale or 1), zmax=scale or 1)
    else:
        heat.update(colorscale="Viridis")
    shapes = []
    if picked is not None and 0 <= picked < n:
        r, c = divmod(int(picked), cols)
        shapes.append(dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                           line=dict(color=TEST, width=3)))
    layout = dict(height=60 + 22 * rows, margin=dict(l=5, r=5, t=28, b=5), shapes=shapes,
                  title=dict(text=title, font=dict(size=13)),
                  xaxis=dict(visible=False), yaxis=dict(visible=False, autorange="reversed"))
    return go.Figure(dict(data=[heat], layout=layout))


def first_layer_push(dW, delta, k=16, cols=8):
    """The first layer's -dW (784 x n) as 28 x 28 tiles, one per unit: where this one example pushes
    each unit's weights (red: up). Only the ``k`` units with the largest |delta| (the rest are pushed
    less, or not at all). One heatmap of all the tiles, a pixel's gap between them: fast to build."""
    units = strongest(delta, k)
    tiles = -np.asarray(dW)[:, units].T.reshape(-1, 28, 28)  # (k, 28, 28)
    rows = max(1, -(-len(units) // cols))
    mosaic = np.full((rows * PITCH - GAP, cols * 29 - 1), np.nan, dtype=np.float32)  # float32: half the bytes to send
    unit = np.full(mosaic.shape, -1, dtype=np.int16)
    for i, (u, tile) in enumerate(zip(units, tiles)):
        r, c = divmod(i, cols)
        mosaic[r * PITCH:r * PITCH + 28, c * 29:c * 29 + 28] = tile
        unit[r * PITCH:r * PITCH + 28, c * 29:c * 29 + 28] = u
    scale = float(np.nanmax(np.abs(mosaic))) if len(units) else 1.0
    heat = dict(type="heatmap", z=mosaic, customdata=unit, zmid=0, zmin=-(scale or 1), zmax=scale or 1,
                colorscale="RdBu_r", showscale=False, hoverongaps=False,
                hovertemplate="unit %{customdata}: %{z:.3g}<extra></extra>")
    names = [dict(x=(i % cols) * 29 + 13.5, y=(i // cols) * PITCH - 0.5, text=f"unit {u}", showarrow=False,
                  yanchor="bottom", font=dict(size=10)) for i, u in enumerate(units)]
    n = np.asarray(dW).shape[1]
    layout = dict(height=110 * rows + 60, margin=dict(l=5, r=5, t=50, b=5), annotations=names,
                  title=dict(text=f"-dW of layer 1: the {len(units)} units with the largest |delta| "
                                  f"(of {n:,}), as 28 × 28 images", font=dict(size=13)),
                  xaxis=dict(visible=False, constrain="domain"),
                  yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"))
    return go.Figure(dict(data=[heat], layout=layout))


def weight_push(dW, a, delta, k=24):
    """-dW of a deeper layer, cut to the ``k`` inputs with the largest |a| (rows) and the ``k`` units
    with the largest |delta| (columns). For one example dW = a^T delta: every row is delta, scaled."""
    rows, cols = strongest(a, k), strongest(delta, k)
    block = -np.asarray(dW)[np.ix_(rows, cols)]
    scale = float(np.abs(block).max()) or 1.0
    heat = dict(type="heatmap", z=block, x=[f"u{c}" for c in cols], y=[f"a{r}" for r in rows], zmid=0,
                zmin=-scale, zmax=scale, colorscale="RdBu_r",
                hovertemplate="input %{y}, unit %{x}: %{z:.3g}<extra></extra>")
    shape = np.asarray(dW).shape
    layout = dict(height=420, margin=dict(l=5, r=5, t=30, b=5),
                  title=dict(text=f"-dW: {len(rows)} of {shape[0]:,} inputs × {len(cols)} of {shape[1]:,} units",
                             font=dict(size=13)),
                  xaxis=dict(type="category", title="unit (largest |delta|)"),
                  yaxis=dict(type="category", title="input (largest |a|)", autorange="reversed"))
    return go.Figure(dict(data=[heat], layout=layout))


def signed_bars(values, labels, title):
    """Bars of a signed vector (P - Y, a delta): red above 0, blue below."""
    v = np.asarray(values, dtype=float)
    fig = go.Figure(go.Bar(x=[str(x) for x in labels], y=v, marker_color=np.where(v >= 0, BACKWARD, FORWARD),
                           text=[f"{x:+.3f}" for x in v], textposition="outside"))
    fig.update_layout(height=260, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)),
                      xaxis=dict(type="category"))
    return fig


def before_after(before, after, classes, label):
    """The probabilities before and after one step, side by side; the true class named."""
    names = [f"{c} (true)" if i == label else str(c) for i, c in enumerate(classes)]
    fig = go.Figure([go.Bar(name="before the step", x=names, y=np.asarray(before, float), marker_color=TRAIN,
                            texttemplate="%{y:.1%}", textposition="outside"),
                     go.Bar(name="after the step", x=names, y=np.asarray(after, float), marker_color=TEST,
                            texttemplate="%{y:.1%}", textposition="outside")])
    fig.update_layout(height=320, margin=dict(l=5, r=5, t=30, b=5), barmode="group",
                      yaxis=dict(range=[0, 1.15], tickformat=".0%", title="probability"),
                      xaxis=dict(type="category"), legend=dict(orientation="h", y=1.08, x=0),
                      title=dict(text="Probabilities before and after the step", font=dict(size=13)))
    return fig


# ----------------------------------------------------------------------------
# why: the pixels a class depends on

# red where the value is positive, blue where negative, see-through near 0, over the grey image
OVERLAY = [[0.0, "rgba(33,102,172,0.95)"], [0.35, "rgba(103,169,207,0.6)"], [0.5, "rgba(255,255,255,0)"],
           [0.65, "rgba(239,138,98,0.6)"], [1.0, "rgba(178,24,43,0.95)"]]


def overlay(image, values, title, hover="%{z:.3g}"):
    """``values`` (28 x 28, signed) in red and blue over the grey ``image``; 0 lets the image show."""
    image, values = np.asarray(image, dtype=float), np.asarray(values, dtype=float)
    scale = float(np.abs(values).max()) or 1.0
    base = dict(type="heatmap", z=image[::-1], colorscale="Greys", zmin=0, zmax=2.5,  # ink light grey on white
                showscale=False, hoverinfo="skip")
    top = dict(type="heatmap", z=values[::-1], colorscale=OVERLAY, zmid=0, zmin=-scale, zmax=scale,
               showscale=False, hovertemplate=hover + "<extra></extra>")
    layout = dict(height=300, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)),
                  xaxis=dict(visible=False, constrain="domain"),
                  yaxis=dict(visible=False, scaleanchor="x", constrain="domain"))
    return go.Figure(dict(data=[base, top], layout=layout))


def nudge_curve(proba, classes, target):
    """The probability of the ``target`` class and of the first prediction, step by step."""
    proba = np.asarray(proba, dtype=float)
    first = int(proba[0].argmax())
    lines = [go.Scatter(y=proba[:, target], mode="lines+markers", name=f"{classes[target]}", line=dict(color=TEST))]
    if first != target:
        lines.append(go.Scatter(y=proba[:, first], mode="lines+markers", name=f"{classes[first]}",
                                line=dict(color=TRAIN)))
    fig = go.Figure(lines)
    fig.update_layout(height=220, margin=dict(l=5, r=5, t=30, b=5), title=dict(text="probability, step by step",
                                                                               font=dict(size=13)),
                      yaxis=dict(range=[0, 1.05], tickformat=".0%"), xaxis=dict(title="step", dtick=5),
                      legend=dict(orientation="h", y=1.1, x=0.5))
    return fig


# ----------------------------------------------------------------------------
# the formulas with the numbers plugged in (LaTeX for st.latex)

ACTIVATION = {"relu": r"\max(0, z)", "sigmoid": r"1 / (1 + e^{-z})", "tanh": r"\tanh(z)"}
SLOPE = {"relu": r"1 \text{ if } z > 0 \text{, else } 0", "sigmoid": r"a (1 - a)", "tanh": r"1 - a^2"}


def number(v) -> str:
    """A number for a formula: 3 significant digits, in parentheses when negative."""
    text = f"{v:.3g}"
    if "e" in text:  # 1.2e-05 -> 1.2 x 10^-5
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return f"({text})" if v < 0 else text


def sum_latex(s, lhs, symbols):
    """``lhs = symbols`` for an `mlp.explain.Sum` (e.g. z_5 = sum_k a_k w_k5 + b_5), then the same with
    the largest terms' numbers, the other terms summed, the bias when there is one, and the total."""
    numbers = " + ".join(rf"{number(t.value)} \cdot {number(t.weight)}" for t in s.terms)
    if s.n_rest:
        zeros = f", {s.zeros:,} of them 0" if s.zeros else ""
        numbers += rf" + \underbrace{{{number(s.rest)}}}_{{\text{{{s.n_rest:,} more terms{zeros}}}}}"
    if "b_" in symbols:
        numbers += f" + {number(s.bias)}"
    return rf"\begin{{aligned}} {lhs} &= {symbols} \\ &= {numbers} \\ &= {number(s.total)} \end{{aligned}}"
