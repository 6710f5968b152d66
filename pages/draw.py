"""Draw: a canvas, the 28 x 28 image the network sees, what it predicts, and the learner's own drawings."""
import random

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mlp import analysis, explain
from mlp.data import TITLES
from mlp.preprocess import canvas_to_mnist
from playground import backprop as fig
from playground import classdb, classroom, drawings, session, unsure
from playground.canvas import SIZE as CANVAS
from playground.canvas import CanvasImageError, drawing_url, initial_drawing, read_canvas
from playground.figures import probabilities
from playground.live import follow
from playground.server import dataset
from playground.text import literal

st.title("Draw")
data = dataset()
classes = data.classes
if data.name != "mnist":
    st.warning("Drawing is for digits: the current data set is Fashion-MNIST, so the network will "
               "name a piece of clothing. Switch to MNIST in the sidebar to draw digits.")

ss = st.session_state
ss.setdefault("canvas_version", 0)
key = f"canvas-{ss.canvas_version}"
put = ss.get("test_image")  # (data set, canvas version, index) of a test image put on the canvas
n_test = len(data.y_test)
shown = put[2] if put and put[:2] == (data.name, ss.canvas_version) and 0 <= put[2] < n_test else None
left, right = st.columns([1, 1.4], gap="large")
with left:
    width = st.slider("Stroke width", 8, 40, 20, key="stroke_width",
                      help="Thicker strokes look more like MNIST's pen once shrunk to 28 × 28.")
    st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000", width=CANVAS[0],
              height=CANVAS[1], drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
              initial_drawing=None if shown is None else initial_drawing(data.x_test[shown]), key=key)
    if shown is not None:
        st.caption(f"On the canvas: test image {shown:,} of {TITLES[data.name]}, "
                   f"labelled {classes[data.y_test[shown]]}.")
    a, b = st.columns([1, 2.4])
    if a.button("Clear", key="clear", help="Wipe the canvas"):
        ss.canvas_version += 1
        st.rerun()
    if b.button("Put a test image on the canvas", key="test_image_button",
                help="A random image of the test set, to compare with your strokes; you can draw over it."):
        index = random.randrange(n_test)
        ss.test_image = (data.name, ss.canvas_version, (index + 1) % n_test if index == shown else index)
        ss.pop(key, None)  # the canvas starts again from the image and sends it back
        st.rerun()
    percent = st.slider(unsure.LABEL, unsure.LOW, unsure.HIGH, round(unsure.threshold() * 100), unsure.STEP,
                        format="%d%%", key="unsure_slider", help=unsure.HELP)
    unsure.remember(percent)



def why(model, image, best, second):
    """Saliency of the prediction over the drawing, and gradient ascent on the pixels toward a class."""
    a, b = st.columns(2)
    a.plotly_chart(fig.overlay(image, explain.saliency(model, image, best), f"Saliency of {classes[best]}"),
                   width="stretch", key="why_saliency")
    a.caption(f"The gradient of log P({classes[best]}) with respect to each pixel: more ink on red pixels would "
              f"make it more a {classes[best]}, more ink on blue ones less. Pixels the first layer gives no "
              "weight have none.")
    target = b.selectbox("What would make it a …", range(len(classes)), index=second, key="why_target",
                         format_func=lambda c: str(classes[c]))
    nudge = explain.toward(model, image, target)
    changed = int((np.abs(nudge.change) > 0.1).sum())
    b.plotly_chart(fig.overlay(image, nudge.change, f"Ink to add (red) and remove (blue) for a {classes[target]}"),
                   width="stretch", key="why_nudge")
    start, end = nudge.proba[0][target], nudge.proba[-1][target]
    b.markdown(f"toward **{classes[target]}**: {start:.0%} → {end:.0%} after {nudge.steps} small steps "
               f"on the pixels; {changed} pixels changed by more than 0.1")
    b.caption("Each step moves the pixels up the gradient of log P, kept between black and white. Much of the "
              "change is scattered specks that a person would not call a stroke: a network can be talked into "
              "another digit by changes that make no digit at all.")
    c, d = st.columns([1, 3])
    c.image(analysis.upscale(nudge.image, 5), caption=f"the changed image, read as {classes[target]}"
            if nudge.proba[-1].argmax() == target else "the changed image", clamp=True)
    d.plotly_chart(fig.nudge_curve(nudge.proba, classes, target), width="stretch", key="why_curve")

with right:
    model, status = session.current_model(data.name), session.job_status()
    image = refused = None
    try:  # the drawing arrives as a PNG from the browser, or from anyone: checked before it is decoded
        url = drawing_url(ss.get(key))
        if url is not None:
            image = canvas_to_mnist(read_canvas(url))
        elif shown is not None:  # the canvas has not sent the image back yet: it draws these same pixels
            image = canvas_to_mnist(analysis.upscale(data.x_test[shown], CANVAS[0] // 28))
    except CanvasImageError as e:
        refused = f"The drawing was ignored: {e}."
    if image is not None:
        ss.drawing = image  # the Inspect page can follow it through the network
    if model is None:
        quick = session.one_click_preset(data)
        st.info(f"No trained model yet. Train one on the **Train** page, or start the {quick} preset here "
                + ("(trained on distorted digits, so that it reads people's drawings: about 20 s)"
                   if quick == "handwriting" else "(about 5 s)") + "; you can draw while it trains.")
        if st.button(f"Train the {quick} preset", type="primary", key="train_fast",
                     disabled=session.training()):
            if session.start_preset(quick, data):
                st.rerun()
    elif image is None:
        st.info("Draw a digit on the black square with your mouse or finger.")
        if refused:
            st.caption(refused)
    else:
        proba = model.predict_proba(image.reshape(1, -1))[0]
        top = analysis.top_k(proba, 3)
        (best, confidence), (second, _) = top[0], top[1]
        sure = confidence >= unsure.threshold()
        a, b = st.columns([1, 1.3])
        a.image(analysis.upscale(image, 5), caption="What the network sees (28 × 28)", clamp=True)
        if sure:
            b.metric("Prediction", classes[best], f"{confidence:.0%} confident", delta_color="off",
                     delta_arrow="off")
        else:
            b.metric("Unsure", f"{classes[best]} or {classes[second]}?",
                     f"less than {unsure.threshold():.0%} sure", delta_color="off",
                     delta_arrow="off")
        b.markdown("top 3: " + " · ".join(f"**{classes[c]}** {p:.0%}" for c, p in top))
        if status is not None and status.alive:
            b.caption(f"Using the weights from update {status.snapshot_step:,}; training goes on.")
        st.plotly_chart(probabilities(proba, classes), width="stretch")
        st.markdown(f"prediction: **{classes[best]}**" if sure else
                    f"prediction: unsure (**{classes[best]}** or **{classes[second]}**)")

        kept, name = drawings.of_tab(data), drawings.fingerprint(image)
        a, b = st.columns([1.4, 1], vertical_alignment="bottom")
        label = a.selectbox("That was a …", range(len(classes)), index=best, key=f"truth-{name}",
                            format_func=lambda c: f"{classes[c]} (right)" if c == best else classes[c],
                            help="Say what you drew, to keep the drawing and its true label below.")
        if b.button("Keep this drawing", key="keep", disabled=image in kept):
            try:
                kept.add(image, best, label)
                st.rerun()
            except drawings.DrawingRefused as e:
                st.error(str(e))
        if image in kept:
            st.caption("This drawing is kept among your drawings below.")
        if data.name == "mnist":
            a, b = st.columns([1.4, 1], vertical_alignment="bottom")
            nickname = a.text_input("Your nickname", max_chars=classdb.NICKNAME_CHARS, key="nickname",
                                    placeholder="how the class knows you")
            if b.button("Add to the class set", key="class_add",
                        help="Give the drawing, with the label above, to your class's own handwriting set: your "
                             "teacher trains and tests networks on it."):
                try:
                    classroom.add(drawings.as_uint8(image), label, nickname)
                    st.success(f"Added to the class set as a {classes[label]}, by {literal(nickname.strip())}.")
                except (classdb.Refused, classdb.ClassDBError) as e:
                    st.error(f"Not added: {e} Your drawing stays here." if isinstance(e, classdb.Refused) else
                             f"Not added: {e}. Your drawing stays here; try again in a moment.")
        if st.toggle("Why? The pixels it looks at", key="draw_why",
                     help="Which pixels make the network say what it says, and the ink that would make it "
                          "say another digit."):
            why(model, image, best, second)

    def region(status):
        if status is not None and status.alive:
            st.progress(status.done, text="Training in the background…")

    follow(region, every=1.0)

kept = drawings.of_tab(data)
st.subheader("Your drawings")
if not len(kept):
    st.caption(f"Say what a drawing truly was and keep it: up to {kept.limit} of them stay here, "
               "with what the network said, and download as an MNIST-style data set.")
else:
    hits, n = kept.score()
    st.markdown(f"**{hits} of {n} right** ({hits / n:.0%}); {kept.limit - n} more can be kept.")
    st.dataframe(drawings.table(kept), hide_index=True, key="kept_table", column_config={
        "drawing": st.column_config.ImageColumn("drawing", width="small"),
        "right": st.column_config.CheckboxColumn("right")})
    a, b = st.columns([1, 3])
    # the file goes with the page (a small one, made once per set of drawings), not made on click:
    # on a busy server, a file made on click left the button spinning with no download
    a.download_button("Download (.npz)", kept.to_npz(), f"my-{data.name}-drawings.npz",
                      "application/octet-stream", key="drawings_download",
                      help="x: the (n, 28, 28) uint8 images, y: their true labels, "
                           "predicted: what the network said.")
    if b.button("Clear my drawings", key="clear_drawings"):
        kept.clear()
        st.rerun()
