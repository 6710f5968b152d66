"""Class set: the teacher's view of the drawings the class added on the Draw page. Browse them by
label, delete bad ones, freeze a split into class-train and class-test, download both in MNIST's
IDX format. Shown only after the teacher's token is typed in (never put in a link)."""
import streamlit as st

from mlp.data import TITLES
from playground import classdb, classroom
from playground.drawings import thumbnail

st.title("Class set")
st.caption("The drawings your class added on the Draw page, each with the label its author gave and a nickname. "
           "They live in the class database, which every process of this server shares.")

if not classroom.is_teacher():
    st.info("This page is the teacher's. Type the teacher token to open it.")
    with st.form("teacher_sign_in", clear_on_submit=True):
        given = st.text_input("Teacher token", type="password", max_chars=classroom.MAX_TOKEN, key="teacher_token")
        if st.form_submit_button("Open the class set"):
            refused = classroom.sign_in(given)
            if refused is None:
                st.rerun()
            st.error(refused)
    st.stop()

try:
    engine = classroom.engine()
    counts = classdb.counts(engine)
except classdb.ClassDBError as e:
    st.error(f"{str(e)[0].upper()}{str(e)[1:]}. Nothing is lost: the page tries again when it is opened again.")
    st.stop()

if "class_said" in st.session_state:  # what the last action did, said after the page ran again
    st.success(st.session_state.pop("class_said"))
a, b = st.columns([4, 1])
a.markdown(f"**{sum(counts.values()):,} drawings** in the class set "
           f"(at most {classdb.MAX_SAMPLES:,}), of {TITLES['mnist']} digits 0 to 9.")
if b.button("Sign out", key="teacher_sign_out"):
    classroom.sign_out()
    st.rerun()
table = [{"": name, **{str(c): counts.get((c, split), 0) for c in range(10)}}
         for name, split in (("not split yet", None), ("class-train", "train"), ("class-test", "test"))]
st.dataframe(table, hide_index=True, key="class_counts")

st.subheader("Browse and delete")
label = st.segmented_control("Label", list(range(10)), default=0, key="class_label",
                             format_func=str) or 0
rows = classdb.listing(engine, label=label, limit=classdb.MAX_SAMPLES)
if not rows:
    st.caption(f"No drawing of a {label} yet.")
else:
    view = st.data_editor(
        [{"delete": False, "drawing": thumbnail(s.image), "id": s.id, "nickname": s.nickname,
          "split": s.split or "not split yet"} for s in rows],
        hide_index=True, key=f"class_rows_{label}", disabled=["drawing", "id", "nickname", "split"],
        column_config={"drawing": st.column_config.ImageColumn("drawing", width="small"),
                       "delete": st.column_config.CheckboxColumn("delete")})
    chosen = [r["id"] for r in view if r["delete"]] if isinstance(view, list) else \
        [int(i) for i in view.loc[view["delete"], "id"]]
    if st.button(f"Delete {len(chosen)} drawing{'s' * (len(chosen) != 1)}", key="class_delete",
                 disabled=not chosen, type="primary"):
        try:
            gone = classdb.delete(engine, chosen)
            st.session_state.pop(f"class_rows_{label}", None)
            st.session_state.class_said = f"Deleted {gone} drawing{'s' * (gone != 1)}."
            st.rerun()
        except classdb.ClassDBError as e:
            st.error(f"{e}. Nothing was deleted.")

st.subheader("Freeze a split")
st.caption("Puts every drawing not split yet into class-train or class-test, the same share of each label in "
           "test. Drawings split before keep their side, so the class-test set stays unseen by training.")
a, b = st.columns([2, 1], vertical_alignment="bottom")
share = a.slider("Share in class-test", 0.1, 0.5, 0.2, 0.05, key="class_test_share")
if b.button("Freeze the split", key="class_freeze", disabled=not any(split is None for _, split in counts)):
    try:
        added = classdb.freeze(engine, share, seed=len(rows))
        st.session_state.class_said = (f"{added['train']} drawings went to class-train and {added['test']} "
                                       "to class-test.")
        st.rerun()
    except classdb.ClassDBError as e:
        st.error(f"{e}. The split is as it was.")

st.subheader("Download")
st.download_button("Class-train and class-test in IDX format (.zip)", lambda: classdb.export_idx(engine),
                   "class-set-idx.zip", "application/zip", key="class_download", on_click="ignore",
                   help="Four files in MNIST's own format: class-train-images-idx3-ubyte, "
                        "class-train-labels-idx1-ubyte, class-test-images-idx3-ubyte, class-test-labels-idx1-ubyte.")
