"""The Draw page's "I don't know" threshold, declared once: below it the page says it is unsure.

The Draw page's slider sets it (in percent); the Evaluate page marks it on the test set's
coverage curve, measured at the thresholds of CURVE.
"""
import math

import streamlit as st

LABEL = "Unsure below"
HELP = ("When the network's top probability is below this, the page says it is unsure and names its "
        "two best guesses. The Evaluate page shows how often it would answer on the test set, and how well.")
LOW, HIGH, STEP, DEFAULT = 0, 100, 5, 50    # percent
KEY = "unsure_below"                        # this tab's threshold, in percent
CURVE = tuple(i / 100 for i in range(101))  # the thresholds of the coverage curve


def threshold() -> float:
    """This tab's threshold as a probability in [0, 1]: the default until the slider moved."""
    value = st.session_state.get(KEY, DEFAULT)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = DEFAULT
    return min(max(value, LOW), HIGH) / 100 if math.isfinite(value) else DEFAULT / 100


def remember(percent):
    """Keep the slider's value for the tab: a widget's own state is dropped on another page."""
    st.session_state[KEY] = percent
