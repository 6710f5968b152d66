"""Evaluate: how good is the current model on the test set, where does it fail, how robust is it."""
import streamlit as st

from mlp import analysis
from playground import figures
from mlp.analysis import upscale
from mlp.metrics import accuracy, coverage_curve, log_loss, per_class_accuracy
from playground import classdb, classroom, session, unsure
from playground.server import dataset
from playground.session import for_model, require_model


def clicked_cell(event, classes):
    """The (true, predicted) classes of the confusion cell clicked, as indices, or None.

    The browser sends the selection, so anything but a cell of this matrix is ignored.
    """
    selection = event.get("selection") if isinstance(event, dict) else None
    points = selection.get("points") if isinstance(selection, dict) else None
    point = points[0] if isinstance(points, list) and points and isinstance(points[0], dict) else {}
    cell = [str(point.get(axis)) for axis in "yx"]
    return tuple(map(classes.index, cell)) if all(c in classes for c in cell) else None


st.title("Evaluate")
data = dataset()
model = require_model(data)

proba = for_model(model, "test_proba", lambda: analysis.predict_all(model, data.x_test))
labels = data.y_test
pred = proba.argmax(axis=1)
C = analysis.confusion(proba, labels, len(data.classes))
c1, c2, c3 = st.columns(3)
c1.metric("Test accuracy", f"{accuracy(labels, pred):.2%}")
c2.metric("Test loss", f"{log_loss(labels, proba):.4f}")
c3.metric("Mistakes", f"{len(labels) - int(C.trace()):,} of {len(labels):,}")

left, right = st.columns([1.1, 1], gap="large")
with left:
    st.subheader("Confusion matrix")
    st.caption("Row: the true class; column: what the model said. Click a cell to see its images.")
    event = st.plotly_chart(figures.confusion_heatmap(C, data.classes), on_select="rerun",
                            selection_mode="points", key="confusion", width="stretch")
with right:
    st.subheader("Accuracy per class")
    st.plotly_chart(figures.per_class_accuracy(per_class_accuracy(labels, pred, len(data.classes)),
                                               data.classes), width="stretch")
    names = list(range(len(data.classes)))
    cell = clicked_cell(event, data.classes)
    if cell is None:
        st.session_state.pop("cell_clicked", None)
    elif cell != st.session_state.get("cell_clicked"):  # a new click sets the two choices below, once
        st.session_state.cell_clicked = cell
        st.session_state.cell_true, st.session_state.cell_pred = cell
    st.session_state.setdefault("cell_true", 4)
    st.session_state.setdefault("cell_pred", 9)
    a, b = st.columns(2)
    t = a.selectbox("True class", names, format_func=lambda i: data.classes[i], key="cell_true")
    p = b.selectbox("Predicted as", names, format_func=lambda i: data.classes[i], key="cell_pred")
    idx = analysis.cell_indices(proba, labels, t, p, limit=35)
    n = int(C[t, p])
    st.markdown(f"**{n} test image{'' if n == 1 else 's'}** of {data.classes[t]} predicted as {data.classes[p]}"
                + (" (the most confident first)" if len(idx) else ""))
    if len(idx):
        st.image(list(upscale(data.x_test[idx], 2)), caption=[f"{proba[i, p]:.0%}" for i in idx], width=56)

st.subheader("The most confident mistakes")
wrong = analysis.confident_mistakes(proba, labels, limit=24)
captions = []
for i in wrong:
    top = ", ".join(f"{data.classes[c]} {q:.0%}" for c, q in analysis.top_k(proba[i], 3))
    captions.append(f"true {data.classes[labels[i]]} · {top}")
st.image(list(upscale(data.x_test[wrong], 3)), caption=captions, width=112)

st.subheader("Answer only when sure")
t = unsure.threshold()
coverage, right = for_model(model, "coverage", lambda: coverage_curve(labels, proba, unsure.CURVE))
(c,), (a,) = coverage_curve(labels, proba, [t])
st.caption(f"On the Draw page the network says it is unsure when its top probability is below {t:.0%} "
           "(a slider there). The higher the threshold, the fewer test images it answers, and usually the "
           "more of those it gets right.")
st.markdown(f"Unsure below **{t:.0%}**: it would answer **{c:.1%}** of the test images"
            + (f" and get **{a:.2%}** of those right." if c else " (none)."))
st.plotly_chart(figures.coverage_curve(coverage, right, unsure.CURVE, t, (c, a)), width="stretch")

st.subheader("Robustness")
st.caption("Accuracy on 2,000 test images as they get noisier, turned or moved.")
KINDS = {"noise": ("Noise (standard deviation)", 1.0, 0.05), "rotate": ("Rotation (degrees)", 90.0, 5.0),
         "shift": ("Shift (pixels)", 8.0, 1.0)}
a, b = st.columns([1, 2])
kind = a.radio("Change", list(KINDS), format_func=lambda k: KINDS[k][0], key="robust_kind")
label, top, step = KINDS[kind]
limit = a.slider("Up to", step, top, top / 2, step=step, key=f"robust_max_{kind}")
amounts = analysis.amounts(kind, limit)
curve = for_model(model, ("robust", kind, float(limit)),
                  lambda: analysis.robustness(model, data.x_test[:2000], labels[:2000], kind, amounts))
b.plotly_chart(figures.robustness_curve(amounts, curve, label), width="stretch")

if data.name == "mnist":
    st.subheader("On your class's handwriting")
    try:
        engine = classroom.engine()
        x_class, y_class = classdb.arrays(engine, "test")
        x_tune, y_tune = classdb.arrays(engine, "train")
    except classdb.ClassDBError as e:
        st.caption(f"The class set cannot be read now: {e}.")
    else:
        if not len(y_class):
            st.caption("Once your teacher has frozen a split of the class set (the drawings added on the Draw "
                       "page), the network is tested here on your class's own class-test drawings, beside MNIST.")
        else:
            class_pred = analysis.predict_all(model, x_class).argmax(axis=1)
            on_mnist, on_class = accuracy(labels, pred), accuracy(y_class, class_pred)
            a, b, c = st.columns(3)
            a.metric("MNIST test", f"{on_mnist:.1%}", help=f"{len(labels):,} images")
            b.metric("Class test", f"{on_class:.1%}", f"{(on_class - on_mnist) * 100:+.1f} points",
                     help=f"{len(y_class):,} drawings of your class, frozen in class-test by your teacher")
            c.metric("Class-train drawings", f"{len(y_tune):,}")
            st.plotly_chart(figures.two_accuracies(per_class_accuracy(labels, pred, 10),
                                                   per_class_accuracy(y_class, class_pred, 10), data.classes,
                                                   ("MNIST test", "class test")), width="stretch",
                            key="class_accuracy")
            before = st.session_state.get("fine_tune_before")
            if before is not None and st.session_state.get("trainer") is before["trainer"] and not session.training():
                st.markdown(f"**After fine-tuning:** MNIST test {before['mnist']:.1%} → **{on_mnist:.1%}**, "
                            f"class test {before['class']:.1%} → **{on_class:.1%}**.")
            st.caption(f"Fine-tuning trains this network {session.FINE_TUNE_EPOCHS} epochs more on the "
                       f"class-train drawings mixed with {session.FINE_TUNE_MNIST:,} MNIST images (so that it does "
                       "not forget MNIST), as a training of its own; it is kept in Compare runs.")
            if st.button("Fine-tune on the class set", key="fine_tune", help="At least 10 class-train drawings.",
                         disabled=len(y_tune) < 10 or session.training()):
                if session.start_fine_tune(model, data, x_tune, y_tune):
                    st.session_state.fine_tune_before = {"mnist": on_mnist, "class": on_class,
                                                         "trainer": st.session_state.trainer}
                    st.rerun()
            if session.training():
                st.info("Fine-tuning (or another training) runs in the background: see it on the Train page, "
                        "and come back here when it has finished.")
