"""Class set: the teacher's view of the drawings the class added on the Draw page. Browse them by
label, delete bad ones, freeze a split into class-train and class-test, download both in MNIST's
IDX format; set challenges and follow their leaderboards. Shown only after the teacher's token is
typed in (never put in a link)."""
import time

import streamlit as st

from mlp.data import TITLES
from mlp.optim import OPTIMIZERS
from playground import challenges, classdb, classroom
from playground.drawings import thumbnail
from playground.text import literal

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

st.header("Challenges")
st.caption("A goal for the class, with rules checked from each run's settings and a deadline. Students submit "
           "runs they trained on this server on the Challenges page; the server scores them itself.")
with st.form("new_challenge", clear_on_submit=True):
    a, b = st.columns([2, 1])
    title = a.text_input("Title", max_chars=challenges.TITLE_CHARS, key="ch_title",
                         placeholder="Plain SGD, best on our handwriting")
    goal = b.radio("Goal", list(challenges.GOALS), key="ch_goal",
                       format_func=lambda g: challenges.GOALS[g].title.replace("{threshold}", "X %"))
    a, b, c, d = st.columns(4)
    threshold = a.number_input("X: the accuracy it needs (%)", 50.0, 99.9, 97.0, 0.1, key="ch_threshold",
                               help="For the fewest-parameters goal: the accuracy a run must reach on MNIST test.")
    hours = b.number_input("Deadline in hours", 0.25, 24.0 * challenges.MAX_DAYS, 1.0, 0.25, key="ch_hours")
    max_params = c.number_input("At most this many parameters (0: any)", 0, 10**9, 0, 1000, key="ch_max_params")
    max_epochs = d.number_input("At most this many epochs (0: any)", 0, 10**6, 0, 1, key="ch_max_epochs")
    a, b, c = st.columns([2, 1, 1])
    solvers = a.pills("Optimizers allowed (none chosen: any)", list(OPTIMIZERS), selection_mode="multi",
                      key="ch_solvers") or []
    max_layers = b.number_input("At most this many hidden layers (0: any)", 0, 100, 0, 1, key="ch_max_layers")
    augment = c.checkbox("Distortions allowed", True, key="ch_augment",
                         help="Whether runs may train on distorted images (More settings on the Train page).")
    if st.form_submit_button("Create the challenge", type="primary"):
        try:
            rules = challenges.Rules(tuple(solvers), int(max_params) or None, int(max_layers) or None,
                                     int(max_epochs) or None, bool(augment))
            made = challenges.create(engine, title, goal, time.time() + float(hours) * 3600, rules,
                                     float(threshold) / 100 if challenges.GOALS[goal].fewest else None)
            st.session_state.class_said = f"Challenge {made} is open: students see it on the Challenges page."
            st.rerun()
        except (classdb.Refused, classdb.ClassDBError) as e:
            st.error(str(e))

def switch(setter, challenge_id, key):
    try:
        setter(engine, challenge_id, st.session_state[key])
    except classdb.ClassDBError as e:
        st.session_state.class_said = f"{e}. Nothing was changed."


@st.fragment(run_every=5.0)
def challenge_list():
    """The challenges with their switches and their leaderboards' heads, redrawn as students submit."""
    try:
        made = challenges.listing(engine)
    except classdb.ClassDBError as e:
        st.error(f"{e}.")
        made = []
    for ch in made[::-1]:
        with st.container(border=True, key=f"challenge_{ch.id}"):
            a, b, c, d = st.columns([4, 1, 1, 1], vertical_alignment="center")
            a.markdown(f"**{literal(ch.title, challenges.TITLE_CHARS)}**  \n{ch.goal_text} · {ch.rules.describe()} · "
                       + ("closed" if ch.closed else "open" if ch.is_open() else "past its deadline"))
            for col, name, field, setter in ((b, "Hide board", "hidden", challenges.set_hidden),
                                             (c, "Closed", "closed", challenges.set_closed)):
                key = f"ch_{field}_{ch.id}"
                st.session_state[key] = getattr(ch, field)  # as the database has it (another tab may have switched it)
                col.toggle(name, key=key, on_change=switch, args=(setter, ch.id, key))
            try:
                if d.button("Remove", key=f"ch_remove_{ch.id}", help="Delete the challenge and its submissions"):
                    challenges.remove(engine, ch.id)
                    st.session_state.class_said = f"Removed the challenge {literal(ch.title)} and its submissions."
                    st.rerun()
                board = challenges.leaderboard(engine, ch.id)
            except classdb.ClassDBError as e:
                st.error(f"{e}.")
                continue
            st.caption(f"{len(board)} student{'s' * (len(board) != 1)} submitted" + (": " + ", ".join(
                f"{e.rank}. {literal(e.nickname)} {e.score:.2%}" for e in board[:5]) if board else "."))


challenge_list()
