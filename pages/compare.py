"""Compare runs: every finished or stopped run of this session, side by side; save, load and share models."""
import io

import streamlit as st

from mlp import MLP, ModelFileError
from playground import figures
from mlp.data import DATASETS
from playground.text import literal
from pages.common import current_model, dataset, redraw_status_lines, run_history, server_limits, set_current_model

METRICS = {"test_accuracy": "Test accuracy", "train_accuracy": "Train accuracy", "loss": "Training loss",
           "test_loss": "Test loss"}

LIMITS = server_limits()
MAX_UPLOAD_MB = LIMITS.max_upload_mb
st.title("Compare runs")
data = dataset()
runs = list(run_history())

if not runs:
    st.info("No runs yet. Every run you train (finished or stopped) is kept here, so you can change "
            "one setting, train again, and compare the curves.")
else:
    by_id = {r.id: r for r in runs}
    ids = [r.id for r in runs]
    chosen = st.multiselect("Runs", ids, default=ids[-3:], format_func=lambda i: by_id[i].label, key="compare_runs")
    metric = st.radio("Curve", list(METRICS), format_func=METRICS.get, horizontal=True, key="compare_metric")
    st.plotly_chart(figures.compare_runs([by_id[i] for i in chosen], metric), width="stretch")
    st.dataframe([r.summary() for r in reversed(runs)], hide_index=True, width="stretch",
                 column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})

    st.subheader("One run")
    run = by_id[st.selectbox("Run", ids[::-1], format_func=lambda i: by_id[i].label, key="run_pick")]
    a, b, c, d = st.columns(4)
    if a.button("Use as current model", key="run_use", disabled=run.model is None,
                help="Draw, Gallery, Evaluate and Inspect then use this run's weights"
                     + ("" if run.model is not None else " (dropped to save memory)")):
        set_current_model(run.model, run.dataset, run.label)
        redraw_status_lines()  # the sidebar's status was drawn before this page
        st.success(f"{run.label} is now the current model.")
    b.download_button("History (CSV)", run.history_csv(), f"run-{run.id}-history.csv", "text/csv",
                      key="run_csv")
    c.download_button("Config (JSON)", run.config_json(), f"run-{run.id}-config.json", "application/json",
                      key="run_json")
    if d.button("Delete run", key="run_delete"):
        run_history().remove(run.id)
        st.rerun()

st.subheader("Save and load a model")
model = current_model(data.name)
left, right = st.columns(2)
with left:
    if model is None:
        st.caption("Train a model first to download it.")
    else:
        trainer = st.session_state.get("trainer")
        info = {"dataset": data.name}
        if trainer is not None and trainer.snapshot is model:
            info.update(config=trainer.config.to_dict(),
                        history=[vars(p) for p in trainer.history])

        def model_file(model=model, info=info):
            """The .npz file, written only when the button is clicked (not at every run of the page)."""
            buf = io.BytesIO()
            model.save(buf, **info)
            return buf.getvalue()

        st.download_button("Download the current model (.npz)", model_file, "mnist-playground-model.npz",
                           "application/octet-stream", key="model_download")
with right:
    upload = st.file_uploader("Load a model (.npz saved by MNIST Playground)", type=["npz"], key="model_upload",
                              max_upload_size=MAX_UPLOAD_MB, help=f"At most {MAX_UPLOAD_MB} MB.")
    if upload is not None and st.session_state.get("upload_seen") != upload.file_id:
        st.session_state.upload_seen = upload.file_id  # handle each file once, not at every rerun
        name = literal(upload.name)  # the file's name is the visitor's: shown as plain text
        try:
            if upload.size > MAX_UPLOAD_MB * 2**20:
                raise ModelFileError(f"the file is {upload.size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB")
            loaded, info = MLP.load(upload.getvalue(), max_bytes=MAX_UPLOAD_MB * 2**20, n_inputs=784,
                                    n_classes=len(data.classes), max_hidden_layers=LIMITS.max_layers,
                                    max_neurons=LIMITS.max_neurons)
            trained_on = info.get("dataset", data.name)
            if trained_on not in DATASETS:
                raise ModelFileError(f"it names an unknown data set: {str(trained_on)[:40]!r}")
        except ModelFileError as e:
            st.session_state.upload_message = ("error", f"Could not load {name}: {literal(e, 200)}. "
                                                        "The current model is unchanged.")
        else:
            set_current_model(loaded, trained_on, f"uploaded {name}")
            st.session_state.upload_message = ("success", f"Loaded {name}: "
                                               f"{' → '.join(map(str, loaded.layer_sizes))}, trained on "
                                               f"{trained_on}. It is now the current model.")
        redraw_status_lines()  # the sidebar's status was drawn before this page
    if upload is not None and "upload_message" in st.session_state:
        kind, text = st.session_state.upload_message
        (st.error if kind == "error" else st.success)(text)
