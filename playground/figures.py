"""Plotly figures for the app: pure functions from numbers to figures (no Streamlit here)."""
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN, TEST = "#1f77b4", "#ff7f0e"


def training_curves(history, title=None):
    """Accuracy (left) and loss (right) against epochs, from a list of Progress records.

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
    """Overlay one curve per run (Run objects from playground.runs)."""
    fig = go.Figure()
    for run in runs:
        fig.add_trace(go.Scatter(x=[p.epoch for p in run.history], y=[getattr(p, metric) for p in run.history],
                                 mode="lines+markers", marker=dict(size=4), name=run.label))
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
