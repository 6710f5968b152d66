"""Plotly figures for the app: pure functions from numbers to figures (no Streamlit here)."""
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN, TEST = "#1f77b4", "#ff7f0e"


def training_curves(history, title=None):
    """Accuracy (left) and loss (right) against epochs, from a list of Progress records."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"), horizontal_spacing=0.1)
    epoch = [p.epoch for p in history]
    series = [(1, "train_accuracy", "train", TRAIN), (1, "test_accuracy", "test", TEST),
              (2, "loss", "train", TRAIN), (2, "test_loss", "test", TEST)]
    for col, field, name, color in series:
        fig.add_trace(go.Scatter(x=epoch, y=[getattr(p, field) for p in history], name=name,
                                 mode="lines+markers", marker=dict(size=5), line=dict(color=color),
                                 legendgroup=name, showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40 if not title else 70, b=10), title=title,
                      legend=dict(orientation="h", y=1.12, x=1, xanchor="right"), hovermode="x unified")
    return fig


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
