"""Compare runs: every finished or stopped run of this browser, side by side; save, load and share models."""
import streamlit as st

from playground import figures, model_files, server, session
from playground.live import redraw_status_lines
from playground.server import dataset

METRICS = {"test_accuracy": "Test accuracy", "train_accuracy": "Train accuracy", "loss": "Training loss",
           "test_loss": "Test loss"}

MAX_UPLOAD_MB = server.limits().max_upload_mb
st.title("Compare runs")
data = dataset()
runs = list(session.run_history())

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
        session.set_current_model(run.model, run.dataset, run.label)
        redraw_status_lines()  # the sidebar's status was drawn before this page
        st.success(f"{run.label} is now the current model.")
    b.download_button("History (CSV)", run.history_csv(), f"run-{run.id}-history.csv", "text/csv",
                      key="run_csv")
    c.download_button("Config (JSON)", run.config_json(), f"run-{run.id}-config.json", "application/json",
                      key="run_json")
    if d.button("Delete run", key="run_delete"):
        session.run_history().remove(run.id)
        st.rerun()
    if run.changes:
        st.caption("Settings changed during this run (the link and the table give those it started with):")
        st.dataframe([{"after update": c.step, "epoch": round(c.epoch, 2), "change": str(c)} for c in run.changes],
                     hide_index=True, key="run_changes")

st.subheader("Save and load a model")
model = session.current_model(data.name)
left, right = st.columns(2)
with left:
    if model is None:
        st.caption("Train a model first to download it.")
    else:  # the file is written when the button is pressed, not at every run of the page
        st.download_button("Download the current model (.npz)", model_files.model_file(model, data),
                           "mnist-playground-model.npz", "application/octet-stream", key="model_download")
with right:
    upload = st.file_uploader("Load a model (.npz saved by MNIST Playground)", type=["npz"], key="model_upload",
                              max_upload_size=MAX_UPLOAD_MB, help=f"At most {MAX_UPLOAD_MB} MB.")
    if upload is not None and st.session_state.get("upload_seen") != upload.file_id:
        st.session_state.upload_seen = upload.file_id  # handle each file once, not at every rerun
        st.session_state.upload_message = model_files.load_model_file(upload.name, upload.getvalue(), data)
        redraw_status_lines()  # the sidebar's status was drawn before this page
    if upload is not None and "upload_message" in st.session_state:
        kind, text = st.session_state.upload_message
        getattr(st, kind)(text)
