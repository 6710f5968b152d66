"""The current model as a file: written for a download, and an upload read (after every check)."""
import io

import streamlit as st

from mlp import MLP, ModelFileError
from mlp.config import N_INPUTS
from mlp.data import DATASETS

from . import server, session
from .text import literal


def model_file(model, data):
    """Return a function that writes ``model`` as an .npz file, with its config, history and the
    settings changed during its run when it was trained here: for a download button, which calls
    it only when pressed."""
    trainer, info = st.session_state.get("trainer"), {"dataset": data.name}
    if trainer is not None and trainer.snapshot is model:
        info.update(config=trainer.start_config.to_dict(), history=[vars(p) for p in trainer.history],
                    changes=[vars(c) for c in trainer.changes])  # the run's phases: its start, then each change

    def write() -> bytes:
        buf = io.BytesIO()
        model.save(buf, **info)
        return buf.getvalue()
    return write


def load_model_file(name, content: bytes, data) -> tuple[str, str]:
    """Make an uploaded model file the current model if it passes every check; return
    ("success" or "error", a sentence that shows the file's name as plain text)."""
    shown, limits = literal(name), server.limits()
    try:
        if len(content) > limits.max_upload_mb * 2**20:
            raise ModelFileError(f"the file is {len(content) / 2**20:.1f} MB; "
                                 f"the limit is {limits.max_upload_mb} MB")
        model, info = MLP.load(content, max_bytes=limits.max_upload_mb * 2**20, n_inputs=N_INPUTS,
                               n_classes=len(data.classes), max_hidden_layers=limits.max_layers,
                               max_neurons=limits.max_neurons)
        trained_on = info.get("dataset", data.name)
        if trained_on not in DATASETS:
            raise ModelFileError(f"it names an unknown data set: {str(trained_on)[:40]!r}")
    except ModelFileError as e:
        return "error", f"Could not load {shown}: {literal(e, 200)}. The current model is unchanged."
    session.set_current_model(model, trained_on, f"uploaded {shown}")
    return "success", (f"Loaded {shown}: {' → '.join(map(str, model.layer_sizes))}, trained on "
                       f"{trained_on}. It is now the current model.")
