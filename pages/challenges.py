"""Challenges: the teacher's goals for the class. Pick one, submit a run you trained here; the server
scores it itself, on test data no one trains on, and the leaderboard shows each student's best."""
import time
from datetime import datetime

import streamlit as st

from playground import challenges, classdb, classroom, server, session
from playground.text import literal

GAP = 5.0       # seconds between two submissions of one tab
PER_TAB = 40    # submissions one tab may make
LIVE = 3.0      # seconds between two looks at the leaderboard

st.title("Challenges")
st.caption("Your teacher sets a goal and its rules. Train a run that meets them, submit it, and the server scores "
           "it on test data no one trains on. The leaderboard keeps each nickname's best run.")

try:
    engine = classroom.engine()
    found = challenges.listing(engine)
except classdb.ClassDBError as e:
    st.error(f"{str(e)[0].upper()}{str(e)[1:]}. Nothing is lost: the page tries again when it is opened again.")
    st.stop()

if not found:
    st.info("No challenge yet: your teacher sets them on the Class set page.")
    st.stop()


def when(challenge, now) -> str:
    if challenge.closed:
        return "closed"
    left = challenge.deadline - now
    if left <= 0:
        return "ended " + datetime.fromtimestamp(challenge.deadline).strftime("%d %b %H:%M")
    return "ends in " + (f"{left / 60:.0f} min" if left < 5400 else f"{left / 3600:.1f} h" if left < 172800
                         else f"{left / 86400:.0f} days")


now = time.time()
by_id = {c.id: c for c in found}
ids = sorted(by_id, reverse=True)  # newest first; an order that stays when one closes, so the pick does too
if st.session_state.get("challenge") not in by_id:
    st.session_state.pop("challenge", None)
picked = st.selectbox("Challenge", ids, key="challenge",
                      format_func=lambda i: f"{by_id[i].title} · {when(by_id[i], now)}")
challenge = by_id[picked]

st.markdown(f"**Goal:** {challenge.goal_text}.  \n"  # made from the checked goal, threshold and rules
            f"**Scored on:** {challenges.GOALS[challenge.goal].scored}.  \n"
            f"**Rules:** {challenge.rules.describe()}.  \n"
            f"**Deadline:** {datetime.fromtimestamp(challenge.deadline).strftime('%A %d %B, %H:%M')} "
            f"({when(challenge, now)}).")

st.subheader("Submit a run")
if "challenge_said" in st.session_state:
    getattr(st, st.session_state.challenge_said[0])(st.session_state.pop("challenge_said")[1])
runs = list(session.run_history())[::-1]  # newest first
if not challenge.is_open(now):
    st.info("This challenge takes no more runs." if challenge.closed else "The deadline has passed.")
elif not runs:
    st.info("You have no run yet: train one on the Train page (it stays in your browser's run history), then "
            "come back.")
else:
    why = {r.id: challenges.problems(challenge.rules, r) for r in runs}
    a, b = st.columns([1, 2])
    nickname = a.text_input("Your nickname", max_chars=classdb.NICKNAME_CHARS, key="nickname",
                            help="Shown on the leaderboard; the same as on the Draw page.")
    labels = {r.id: r.label for r in runs}
    run_id = b.selectbox("Run", list(labels), key="challenge_run", format_func=labels.get,
                         help="A run of your run history, trained on this server.")
    if why.get(run_id):
        st.warning("This run cannot enter: " + "; ".join(why[run_id]) + ".")
    sent = st.session_state.setdefault("challenge_sent", [])
    if st.button("Submit this run", type="primary", key="challenge_submit", disabled=bool(why.get(run_id))):
        wait = (sent[-1] + GAP - time.monotonic()) if sent else 0
        run = session.run_history().get(run_id)
        try:
            if len(sent) >= PER_TAB:
                raise classdb.Refused(f"This tab has submitted {PER_TAB} runs, its share.")
            if wait > 0:
                raise classdb.Refused(f"One submission every {GAP:g} seconds: try again in {wait:.0f} s.")
            if run is None:
                raise classdb.Refused("That run is no longer in your history.")
            load = server.data_sets().request("mnist")
            load.done.wait(30)
            if load.data is None:
                raise classdb.Refused("MNIST is not loaded yet on this server: try again in a moment.")
            class_test = classdb.arrays(engine, "test") if challenges.GOALS[challenge.goal].data == "class" else None
            sent.append(time.monotonic())
            entry, kept = challenges.submit(engine, challenge.id, nickname, run,
                                            (load.data.x_test, load.data.y_test), class_test)
            scored = f"{entry.score:.2%}, {entry.n_params:,} parameters"
            st.session_state.challenge_said = (
                ("success", f"Scored {scored}: your best so far, on the leaderboard as {literal(entry.nickname)}.")
                if kept else ("info", f"Scored {scored}. Your earlier run ranks at least as well, so it stays."))
            st.rerun()
        except (classdb.Refused, classdb.ClassDBError) as e:
            st.error(str(e))  # sentences of the server's own, naming no typed text


@st.fragment(run_every=LIVE)
def leaderboard(challenge_id):
    try:
        current = challenges.get(engine, challenge_id)
        if current is None:
            st.info("This challenge is not there any more.")
            return
        if current.hidden:
            st.info("The teacher has hidden the leaderboard for now.")
            return
        entries = challenges.leaderboard(engine, challenge_id)
    except classdb.ClassDBError as e:
        st.error(f"{str(e)[0].upper()}{str(e)[1:]}. The leaderboard comes back by itself.")
        return
    if not entries:
        st.caption("No run submitted yet. Be the first.")
        return
    st.dataframe([{"rank": e.rank, "nickname": e.nickname, "score": f"{e.score:.2%}", "parameters": e.n_params,
                   "run": e.summary, "submitted": datetime.fromtimestamp(e.created).strftime("%H:%M:%S")}
                  for e in entries], hide_index=True, key="leaderboard_table",
                 column_config={"parameters": st.column_config.NumberColumn(format="localized")})


st.subheader("Leaderboard")
with st.container(key="leaderboard"):
    leaderboard(challenge.id)
