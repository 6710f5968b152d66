"""Draw: a canvas, the 28 x 28 image the network sees, and what it predicts."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mlp import analysis
from mlp.preprocess import canvas_to_mnist
from playground import session
from playground.canvas import SIZE as CANVAS, CanvasImageError, drawing_url, read_canvas
from playground.figures import probabilities
from playground.live import follow
from playground.server import dataset

st.title("Draw")
data = dataset()
if data.name != "mnist":
    st.warning("Drawing is for digits: the current data set is Fashion-MNIST, so the network will "
               "name a piece of clothing. Switch to MNIST in the sidebar to draw digits.")

st.session_state.setdefault("canvas_version", 0)
left, right = st.columns([1, 1.4], gap="large")
with left:
    width = st.slider("Stroke width", 8, 40, 20, key="stroke_width",
                      help="Thicker strokes look more like MNIST's pen once shrunk to 28 × 28.")
    key = f"canvas-{st.session_state.canvas_version}"
    st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000", width=CANVAS[0],
              height=CANVAS[1], drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
              key=key)
    if st.button("Clear", key="clear", help="Wipe the canvas"):
        st.session_state.canvas_version += 1
        st.rerun()

with right:
    model, status = session.current_model(data.name), session.job_status()
    image = refused = None
    try:  # the drawing arrives as a PNG from the browser, or from anyone: checked before it is decoded
        url = drawing_url(st.session_state.get(key))
        image = None if url is None else canvas_to_mnist(read_canvas(url))
    except CanvasImageError as e:
        refused = f"The drawing was ignored: {e}."
    if image is not None:
        st.session_state.drawing = image  # the Inspect page can follow it through the network
    if model is None:
        st.info("No trained model yet. Train one on the **Train** page, or start the fast preset "
                "here (about 10 s); you can draw while it trains.")
        if st.button("Train the fast preset", type="primary", key="train_fast", disabled=session.training()):
            if session.start_fast_preset(data):
                st.rerun()
    elif image is None:
        st.info("Draw a digit on the black square with your mouse or finger.")
        if refused:
            st.caption(refused)
    else:
        proba = model.predict_proba(image.reshape(1, -1))[0]
        [(best, confidence)] = analysis.top_k(proba, 1)
        a, b = st.columns([1, 1.3])
        a.image(analysis.upscale(image, 5), caption="What the network sees (28 × 28)", clamp=True)
        b.metric("Prediction", data.classes[best], f"{confidence:.0%} confident", delta_color="off",
                 delta_arrow="off")
        if status is not None and status.alive:
            b.caption(f"Using the weights from update {status.snapshot_step:,}; training goes on.")
        st.plotly_chart(probabilities(proba, data.classes), width="stretch")
        st.markdown(f"prediction: **{data.classes[best]}**")

    def region(status):
        if status is not None and status.alive:
            st.progress(status.done, text="Training in the background…")

    follow(region, every=1.0)
