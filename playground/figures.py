"""Plotly figures for the app: pure functions from numbers to figures (no Streamlit here)."""
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mlp.diagnostics import gap as diagnostics_gap

TRAIN, TEST = "#1f77b4", "#ff7f0e"


CHANGE = "#7f7f7f"
LAYERS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _change_marks(changes, axes):
    """A dotted vertical line on each of ``axes`` (x suffixes: "", "2", ...) where settings changed,
    labelled above the first one with what changed ("lr 0.002 -> 0.02"); changes made at the same
    update share one line."""
    at = {}
    for c in changes:
        at.setdefault(c.step, (c.epoch, []))[1].append(str(c))
    shapes, notes = [], []
    for k, (epoch, said) in enumerate(at.values()):
        text = ", ".join(said[:2]) + (f" +{len(said) - 2} more" if len(said) > 2 else "")
        for axis in axes:
            shapes.append(dict(type="line", xref=f"x{axis}", yref=f"y{axis} domain", x0=epoch, x1=epoch, y0=0,
                               y1=1, line=dict(color=CHANGE, width=1.5, dash="dot")))
        # across, on three rows taking turns, so that changes close together stay readable
        notes.append(dict(xref=f"x{axes[0]}", yref=f"y{axes[0]} domain", x=epoch, y=0.02 + 0.09 * (k % 3),
                          text=text, showarrow=False, xanchor="left", xshift=3, yanchor="bottom",
                          bgcolor="rgba(255,255,255,0.8)", font=dict(size=11, color="#444")))
    return shapes, notes


def training_curves(history, title=None, changes=()):
    """Accuracy (left) and loss (right) against epochs, from a list of Progress records, with a
    marked line where a setting changed during the run (mlp.train.ConfigChange records).

    Built from one dict rather than with make_subplots: it is redrawn twice a second while
    training runs, and this is three times quicker.
    """
    epoch = [p.epoch for p in history]
    traces = [dict(type="scatter", x=epoch, y=[getattr(p, field) for p in history], name=name,
                   mode="lines+markers", marker=dict(size=5), line=dict(color=color), legendgroup=name,
                   showlegend=axis == 1, xaxis=f"x{axis}", yaxis=f"y{axis}",
                   hovertemplate=f"{name} %{{y:{fmt}}}<extra></extra>")
              for axis, field, name, color, fmt in [(1, "train_accuracy", "train", TRAIN, ".2%"),
                                                    (1, "test_accuracy", "test", TEST, ".2%"),
                                                    (2, "loss", "train", TRAIN, ".4f"),
                                                    (2, "test_loss", "test", TEST, ".4f")]]
    layout = dict(height=380, margin=dict(l=10, r=10, t=40 if not title else 70, b=10), title=title,
                  xaxis=dict(domain=[0, 0.45], title="epoch"), xaxis2=dict(domain=[0.55, 1], title="epoch"),
                  yaxis=dict(tickformat=".0%", title="accuracy"),
                  yaxis2=dict(type="log", anchor="x2", title="loss"),
                  legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0), hovermode="x unified")
    layout["shapes"], layout["annotations"] = _change_marks(changes, ["", "2"])
    return go.Figure(dict(data=traces, layout=layout))


def probabilities(proba, classes):
    """A bar per class, the most probable one highlighted."""
    proba = np.asarray(proba, dtype=float)
    colors = [TEST if i == proba.argmax() else "#9ecae1" for i in range(len(proba))]
    fig = go.Figure(go.Bar(x=list(classes), y=proba, marker_color=colors,
                           text=[f"{p:.0%}" for p in proba], textposition="outside"))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(range=[0, 1.1],
                      tickformat=".0%", title="probability"), xaxis=dict(type="category"))
    return fig


def class_counts(counts, classes):
    """How many samples each class has."""
    fig = go.Figure(go.Bar(x=list(classes), y=list(counts), marker_color=TRAIN))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(type="category"),
                      yaxis_title="images")
    return fig


def per_class_accuracy(acc, classes):
    """A bar per class with its test accuracy."""
    fig = go.Figure(go.Bar(x=list(classes), y=list(acc), marker_color=TEST,
                           text=[f"{a:.1%}" for a in acc], textposition="outside"))
    low = max(0.0, float(np.nanmin(acc)) - 0.1) if len(acc) else 0.0
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(type="category"),
                      yaxis=dict(range=[low, 1.02], tickformat=".0%", title="accuracy"))
    return fig


def confusion_heatmap(C, classes):
    """The confusion matrix, true class down, predicted class across; the diagonal is dimmed on a log scale.

    Streamlit selects no heatmap cell on a click, so an invisible square on each cell takes the
    click (and the hover text); its points carry x = predicted and y = true class.
    """
    C = np.asarray(C)
    names = [str(c) for c in classes]
    hover = "true %{y}, predicted %{x}: %{customdata} images<extra></extra>"
    heat = go.Heatmap(z=np.log10(C + 1), x=names, y=names, customdata=C, text=C, texttemplate="%{text}",
                      colorscale="Blues", showscale=False, hoverinfo="skip")
    cells = go.Scatter(x=names * len(names), y=[c for c in names for _ in names], customdata=C.ravel(),
                       hovertemplate=hover, mode="markers", showlegend=False,
                       marker=dict(symbol="square", size=30, opacity=0))
    fig = go.Figure([heat, cells])
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="predicted", type="category", side="top", range=[-0.5, len(names) - 0.5]),
                      yaxis=dict(title="true", type="category", range=[len(names) - 0.5, -0.5]))
    return fig


def robustness_curve(amounts, accuracy, label):
    """Accuracy against the strength of a perturbation."""
    fig = go.Figure(go.Scatter(x=list(amounts), y=list(accuracy), mode="lines+markers", line=dict(color=TEST)))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=label,
                      yaxis=dict(range=[0, 1.02], tickformat=".0%", title="test accuracy"))
    return fig


def image_grid(images, cols, title=None, zmid=0.0):
    """Small images in a grid, on a diverging colour scale centred on ``zmid`` (blue below, red above)."""
    n = len(images)
    rows = max(1, -(-n // cols))
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.01, vertical_spacing=0.01)
    for k, im in enumerate(images):
        scale = float(np.abs(im - zmid).max()) or 1.0
        fig.add_trace(go.Heatmap(z=im[::-1], zmid=zmid, zmin=zmid - scale, zmax=zmid + scale, colorscale="RdBu_r",
                                 showscale=False, hovertemplate=f"unit {k}<extra></extra>"),
                      row=k // cols + 1, col=k % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(height=max(160, 70 * rows + 40), margin=dict(l=5, r=5, t=30 if title else 5, b=5), title=title)
    return fig


def vector_heatmap(values, title):
    """One layer's values laid out in a near-square grid of cells."""
    v = np.asarray(values, dtype=float)
    cols = int(np.ceil(np.sqrt(len(v))))
    grid = np.full(cols * int(np.ceil(len(v) / cols)), np.nan)
    grid[:len(v)] = v
    grid = grid.reshape(-1, cols)
    fig = go.Figure(go.Heatmap(z=grid, colorscale="Viridis", hovertemplate="%{z:.3f}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(height=260, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)))
    return fig


def bars(values, labels, title, color=TRAIN):
    """Plain bars, one per label."""
    fig = go.Figure(go.Bar(x=[str(x) for x in labels], y=list(values), marker_color=color))
    fig.update_layout(height=260, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)),
                      xaxis=dict(type="category"))
    return fig


def histogram(counts, edges, title, color=TRAIN):
    """A histogram from counts and bin edges."""
    centers = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    fig = go.Figure(go.Bar(x=centers, y=counts, width=np.diff(edges), marker_color=color))
    fig.update_layout(height=220, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)),
                      bargap=0)
    return fig


def compare_runs(runs, metric="test_accuracy"):
    """Overlay one curve per run (Run objects from playground.runs); a diamond on a curve marks
    where settings changed during that run."""
    fig = go.Figure()
    for k, run in enumerate(runs):
        color = LAYERS[k % len(LAYERS)]
        fig.add_trace(go.Scatter(x=[p.epoch for p in run.history], y=[getattr(p, metric) for p in run.history],
                                 mode="lines+markers", marker=dict(size=4), name=run.label, line=dict(color=color),
                                 legendgroup=str(run.id)))
        marks = [(c, next((p for p in run.history if p.step >= c.step), None)) for c in run.changes]
        marks = [(c, p) for c, p in marks if p is not None]
        if marks:
            fig.add_trace(go.Scatter(x=[c.epoch for c, _ in marks], y=[getattr(p, metric) for _, p in marks],
                                     text=[f"{c} at update {c.step:,}" for c, _ in marks], mode="markers",
                                     marker=dict(symbol="diamond", size=11, color=color, line=dict(color="white",
                                                                                                    width=1)),
                                     hovertemplate="%{text}<extra></extra>", showlegend=False,
                                     legendgroup=str(run.id)))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="epoch",
                      yaxis=dict(title=metric.replace("_", " "), tickformat=".0%" if "accuracy" in metric else None,
                                 type="log" if "loss" in metric else "linear"),
                      legend=dict(orientation="h", y=-0.2))
    return fig


def coverage_curve(coverage, accuracy, thresholds, current, at_current):
    """Accuracy against coverage as the "unsure" threshold rises, the threshold in use marked.

    ``at_current`` is the (coverage, accuracy) at the threshold ``current``.
    """
    line = go.Scatter(x=list(coverage), y=list(accuracy), customdata=list(thresholds), mode="lines",
                      line=dict(color=TEST), name="test set",
                      hovertemplate="unsure below %{customdata:.0%}: answers %{x:.1%}, "
                                    "%{y:.2%} right<extra></extra>")
    mark = go.Scatter(x=[at_current[0]], y=[at_current[1]], mode="markers", name=f"unsure below {current:.0%}",
                      marker=dict(color=TRAIN, size=12, symbol="diamond"),
                      hovertemplate="the Draw page: answers %{x:.1%}, %{y:.2%} right<extra></extra>")
    fig = go.Figure([line, mark])
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10),
                      title=dict(text="Coverage and accuracy, one point per threshold", font=dict(size=14)),
                      xaxis=dict(title="coverage (share of test images answered)", tickformat=".0%"),
                      yaxis=dict(title="accuracy on those", tickformat=".1%"),
                      legend=dict(orientation="h", y=-0.25))
    return fig


MAX_POINTS = 300


def layer_diagnostics(diagnostics, history, changes=()):
    """Small multiples of how each layer trains (mlp.diagnostics.Diagnostics records) against epochs:
    gradient norm, update / weight ratio (the 1e-3 rule's band shaded), weight norm, drift from
    the start, dead ReLUs, and the train - test accuracy gap with the records where it widened.

    Built from one dict, as training_curves is: it is redrawn while training runs, with at most
    about MAX_POINTS measurements per line (every k-th, and the last), which the eye cannot tell
    from all of a long run's thousands.
    """
    every = -(-len(diagnostics) // MAX_POINTS) or 1
    diagnostics = diagnostics[::-1][::every][::-1]  # counted from the last, so that it is shown
    epoch = [d.epoch for d in diagnostics]
    n_layers = len(diagnostics[0].grad_norm) if diagnostics else 0
    panels = [("grad_norm", "gradient norm", "log", None), ("update_ratio", "update / weight", "log", None),
              ("weight_norm", "weight norm", "linear", None), ("drift", "drift from start", "linear", ".0%"),
              ("dead", "dead ReLUs", "linear", ".0%")]
    traces, titles = [], []
    layout = dict(height=460, margin=dict(l=10, r=10, t=60, b=10), hovermode="x unified",
                  legend=dict(orientation="h", y=1.08, yanchor="bottom", x=0))
    for k, (field, name, scale, fmt) in enumerate(panels + [("gap", "train - test accuracy", "linear", ".1%")]):
        axis = "" if k == 0 else str(k + 1)
        row, col = divmod(k, 3)
        x0, y0 = col * 0.36, 0.55 * (1 - row)
        layout[f"xaxis{axis}"] = dict(domain=[x0 + 0.04, x0 + 0.28], anchor=f"y{axis}",
                                      title="epoch" if row else None)
        layout[f"yaxis{axis}"] = dict(domain=[y0, y0 + 0.36], anchor=f"x{axis}", type=scale, tickformat=fmt,
                                      exponentformat="power" if scale == "log" else None)
        titles.append(dict(xref="paper", yref="paper", x=x0 + 0.16, y=y0 + 0.37, text=name, showarrow=False,
                           xanchor="center", yanchor="bottom", font=dict(size=13)))
        if field == "gap":
            gaps, widening = diagnostics_gap(history)
            x = [p.epoch for p in history]
            traces.append(dict(type="scatter", x=x, y=gaps, mode="lines", line=dict(color=TEST), name="gap",
                               showlegend=False, xaxis=f"x{axis}", yaxis=f"y{axis}",
                               hovertemplate="gap %{y:.2%}<extra></extra>"))
            marks = [(e, g) for e, g, w in zip(x, gaps, widening) if w]
            traces.append(dict(type="scatter", x=[e for e, _ in marks], y=[g for _, g in marks], mode="markers",
                               marker=dict(color="#d62728", size=7, symbol="triangle-up"), name="widening",
                               showlegend=False, xaxis=f"x{axis}", yaxis=f"y{axis}",
                               hovertemplate="widening: %{y:.2%}<extra></extra>"))
            continue
        for i in range(n_layers if field != "dead" else n_layers - 1):
            y = [getattr(d, field)[i] if i < len(getattr(d, field)) else None for d in diagnostics]
            traces.append(dict(type="scatter", x=epoch, y=y, mode="lines", name=f"layer {i + 1}",
                               line=dict(color=LAYERS[i % len(LAYERS)], width=1.5), legendgroup=f"layer {i + 1}",
                               showlegend=k == 0, xaxis=f"x{axis}", yaxis=f"y{axis}",
                               hovertemplate=f"layer {i + 1} %{{y:.3g}}<extra></extra>"))
        if field == "update_ratio":  # a healthy update moves a layer's weights by about a thousandth
            layout.setdefault("shapes", []).append(dict(type="rect", xref=f"x{axis} domain", yref=f"y{axis}",
                                                        x0=0, x1=1, y0=1e-4, y1=1e-2, fillcolor="#2ca02c",
                                                        opacity=0.1, line=dict(width=0), layer="below"))
    shapes, _ = _change_marks(changes, ["", "2", "3", "4", "5", "6"])  # lines only: labels would crowd
    layout["shapes"] = layout.get("shapes", []) + shapes
    layout["annotations"] = titles
    return go.Figure(dict(data=traces, layout=layout))


def weight_histograms(histograms):
    """Per weight layer, its weights now (bars) against their first values (a line), from
    mlp.diagnostics.weight_histograms."""
    n = len(histograms)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[f"layer {i + 1}" for i in range(n)],
                        horizontal_spacing=0.04)
    for i, (edges, now, start) in enumerate(histograms):
        centers = (edges[:-1] + edges[1:]) / 2
        fig.add_trace(go.Bar(x=centers, y=now, width=np.diff(edges), marker_color=LAYERS[i % len(LAYERS)],
                             name="now", showlegend=i == 0, legendgroup="now"), row=1, col=i + 1)
        fig.add_trace(go.Scatter(x=centers, y=start, mode="lines", line=dict(color="black", width=1.5, shape="hvh"),
                                 name="at the start", showlegend=i == 0, legendgroup="start"), row=1, col=i + 1)
    fig.update_layout(height=240, margin=dict(l=5, r=5, t=40, b=5), bargap=0,
                      legend=dict(orientation="h", y=-0.2))
    fig.update_yaxes(showticklabels=False)
    return fig


# ----------------------------------------------------------------------------
# the neuron lab and the map of a layer (Inspect)


def weight_image(weights, title):
    """One unit's incoming weights on a diverging scale centred on 0: 784 of them as the 28 x 28
    image they multiply, other counts as a near-square strip read row by row."""
    w = np.asarray(weights, dtype=float)
    cols = 28 if len(w) == 784 else int(np.ceil(np.sqrt(len(w))))
    grid = np.full(cols * int(np.ceil(len(w) / cols)), np.nan)
    grid[:len(w)] = w
    scale = float(np.nanmax(np.abs(w))) if len(w) and np.any(w) else 1.0
    fig = go.Figure(go.Heatmap(z=grid.reshape(-1, cols), zmid=0, zmin=-scale, zmax=scale, colorscale="RdBu_r",
                               customdata=np.arange(grid.size).reshape(-1, cols),
                               hovertemplate="weight %{customdata}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(height=300, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)))
    return fig


def digit_grid(images, titles, cols=3, title=None):
    """Small grey images (uint8, white ink on black) in a grid, each with a title above it."""
    n = len(images)
    rows = max(1, -(-n // cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles), horizontal_spacing=0.02,
                        vertical_spacing=0.1)
    for k, im in enumerate(images):
        fig.add_trace(go.Heatmap(z=np.asarray(im)[::-1], zmin=0, zmax=255, colorscale="gray", showscale=False,
                                 hoverinfo="skip"), row=k // cols + 1, col=k % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=110 * rows + (70 if title else 40), margin=dict(l=5, r=5, t=60 if title else 25, b=5),
                      title=dict(text=title, font=dict(size=13)) if title else None)
    return fig


ART_SIZE = 20       # text art shows an image at 20 x 20 pixels (the box MNIST fitted each digit into)
ART_THRESHOLD = 80  # of 255: brighter pixels are ink
BLOCKS = np.array([" ", "\u2580", "\u2584", "\u2588"])  # none, upper half, lower half, full


def _box(size, n):
    """The (size, n) matrix that averages n pixels down to size: output i covers [i n / size, (i + 1) n / size)."""
    lo, hi = np.arange(size)[:, None] * n / size, np.arange(1, size + 1)[:, None] * n / size
    overlap = np.minimum(np.arange(1, n + 1), hi) - np.maximum(np.arange(n), lo)  # (size, n)
    return (np.clip(overlap, 0, None) / (hi - lo)).astype(np.float32)


def text_art(images, size=ART_SIZE, threshold=ART_THRESHOLD):
    """Return each 28 x 28 uint8 image as lines of text: Unicode half blocks, one character for two
    pixels one above the other, so a monospace font shows it about square.

    The image is first shrunk to ``size`` x ``size`` by averaging (the figure's JSON stays small:
    each block is 6 bytes there), and the lines are cut to the ink: the margin on the left that all
    lines share, and the spaces on the right.

    Returns a list (n,) of lists of size // 2 strings.
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    if size % 2 or not 2 <= size <= min(h, w):
        raise ValueError(f"the art size must be even and at most the image size, not {size}")
    ink = (_box(size, h) @ images @ _box(size, w).T) >= threshold  # (n, size, size)
    left = ink.any(axis=1).argmax(axis=1)                       # (n,) first inked column (0 if none)
    cols = np.arange(size)[None, :] + left[:, None]             # (n, size)
    shifted = np.take_along_axis(ink, np.minimum(cols, size - 1)[:, None, :], axis=2) & (cols < size)[:, None, :]
    code = shifted[:, 0::2].astype(np.intp) + 2 * shifted[:, 1::2]  # (n, size / 2, size)
    lines = np.ascontiguousarray(BLOCKS[code]).view(f"<U{size}")[..., 0]  # (n, size / 2) strings
    return np.char.rstrip(lines).tolist()


def separation(values, names, title):
    """A bar per layer: the share of images nearest their own class centre in its map (0 to 100 %)."""
    fig = go.Figure(go.Bar(x=list(names), y=list(values), marker_color=TEST, text=[f"{v:.0%}" for v in values],
                           textposition="outside", hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_layout(height=260, margin=dict(l=5, r=5, t=30, b=5), title=dict(text=title, font=dict(size=13)),
                      xaxis=dict(type="category"), yaxis=dict(range=[0, 1.1], tickformat=".0%"))
    return fig


CLASSES10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
             "#17becf")


def _hover_rows(rows, indices, names, labels, predictions, art, n_lines):
    """customdata of these points: index, label, prediction, then the lines of art. An object array,
    which Plotly checks five times quicker than the same lists (the JSON is the same)."""
    out = np.full((len(rows), 3 + n_lines), "", dtype=object)
    for k, i in enumerate(rows):
        out[k, :3] = int(indices[i]), names[labels[i]], names[predictions[i]]
        out[k, 3:3 + len(art[i])] = art[i]
    return out


def layer_map(points, labels, predictions, indices, art, classes, title):
    """A layer's 2-D map: two traces per class, the images the model gets right (dots) and its
    mistakes (crosses outlined in black), one legend entry for both, so that a click on it hides
    the class. Hovering a point shows its test image as text art (``art``: a list of lines per
    point, from `text_art`), its index, label and prediction.

    Every trace has one marker symbol: Plotly checks a per-point symbol array one point at a time
    against its hundreds of symbol names (0.1 s for 2,000 points)."""
    points, labels, predictions = np.asarray(points), np.asarray(labels), np.asarray(predictions)
    n_lines = max((len(a) for a in art), default=0)
    hover = ("test image %{customdata[0]}: a %{customdata[1]}, predicted %{customdata[2]}<br>"
             + "<br>".join(f"%{{customdata[{3 + i}]}}" for i in range(n_lines)) + "<extra></extra>")
    names = [str(c) for c in classes]
    traces = []
    for c, name in enumerate(names):
        color = CLASSES10[c % len(CLASSES10)]
        label = dict(bgcolor="white", bordercolor=color, align="left",
                     font=dict(family="DejaVu Sans Mono, monospace", size=12, color="#1f2430"))
        mine = np.flatnonzero(labels == c)
        wrong = predictions[mine] != c
        for rows, mistakes in ((mine[~wrong], False), (mine[wrong], True)):
            traces.append(dict(
                type="scatter", mode="markers", x=points[rows, 0], y=points[rows, 1], legendgroup=name,
                name=f"{name}: mistakes" if mistakes else f"{name} ({int(wrong.sum())} wrong)",
                showlegend=not mistakes, customdata=_hover_rows(rows, indices, names, labels, predictions, art,
                                                                n_lines),
                hovertemplate=hover, hoverlabel=label,
                marker=dict(color=color, symbol="x", size=10, line=dict(color="black", width=1)) if mistakes
                else dict(color=color, opacity=0.8, size=6)))
    layout = dict(height=620, margin=dict(l=10, r=10, t=40, b=10), title=dict(text=title, font=dict(size=14)),
                  hovermode="closest", xaxis=dict(title="first principal axis", zeroline=False),
                  yaxis=dict(title="second principal axis", zeroline=False),
                  legend=dict(title=dict(text="class (click to hide)"), itemsizing="constant"))
    return go.Figure(dict(data=traces, layout=layout))


def two_accuracies(first, second, classes, names):
    """Accuracy per class on two test sets side by side (a class absent from a set has no bar)."""
    bars = [go.Bar(name=name, x=[str(c) for c in classes], y=np.asarray(acc, dtype=float), marker_color=color,
                   texttemplate="%{y:.0%}", textposition="outside")
            for name, acc, color in zip(names, (first, second), (TRAIN, TEST))]
    fig = go.Figure(bars)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), barmode="group",
                      yaxis=dict(range=[0, 1.12], tickformat=".0%", title="accuracy"), xaxis=dict(type="category"),
                      legend=dict(orientation="h", y=1.08, x=0))
    return fig

