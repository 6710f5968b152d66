"""MNIST Playground: the frame and router. The pages are declared here, once; what they share is
in playground/ (docs/ARCHITECTURE.md)."""
import time

import streamlit as st

from mlp.data import DATASETS, TITLES
from playground import server, session, site
from playground.live import follow, status_line
from playground.site import Page

st.set_page_config(page_title="MNIST Playground", page_icon=":material/neurology:", layout="wide")
server.settle()

PAGES = site.declare([  # path, title, icon, what it is for (on Home), address; live: it follows a training
    Page("pages/home.py", "Home", ":material/home:"),
    Page("pages/train.py", "Train", ":material/monitoring:", "choose the network, train it, watch the curves",
         "train", live=True),
    Page("pages/gallery.py", "Gallery", ":material/grid_view:",
         "shuffled samples, what the network trains on, class means", "gallery"),
    Page("pages/draw.py", "Draw", ":material/draw:", "draw a digit, see the top 3, keep your drawings",
         "draw", live=True),
    Page("pages/evaluate.py", "Evaluate", ":material/fact_check:",
         "confusion matrix, mistakes, robustness, when to say unsure", "evaluate"),
    Page("pages/inspect.py", "Inspect", ":material/visibility:", "weights, activations, dead units",
         "inspect"),
    Page("pages/backprop.py", "Backprop", ":material/swap_horiz:",
         "one example forward and backward, every number; one gradient step by hand", "backprop"),
    Page("pages/compare.py", "Compare runs", ":material/compare_arrows:",
         "curves side by side; save, load and share models", "compare"),
    Page("pages/challenges.py", "Challenges", ":material/emoji_events:",
         "the teacher's goals: submit a run, the server scores it, a live leaderboard", "challenges"),
    Page("pages/teacher.py", "Class set", ":material/groups:",
         "for the teacher: the class's drawings, a train/test split, IDX downloads, challenges", "class"),
])
pg = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, **({"url_path": p.url} if p.url else
                                                                    {"default": True})) for p in PAGES])

session.workspace()  # this browser's runs and current model, found again after a reload through its cookie

with st.sidebar:
    st.session_state.setdefault("dataset", "mnist")
    st.selectbox("Data set", DATASETS, format_func=TITLES.get, key="dataset",
                 help="MNIST: handwritten digits. Fashion-MNIST: small photos of clothing, same size and "
                      "format.")
    st.session_state.status_lines = []  # drawn afresh by this run; pages may add theirs
    status_line(lambda: f"Model: {session.status()}")
    status_line(server.queue_line)
    session.set_browser_key()


def lost_trainings():
    """This browser's trainings lost with the server process that ran them, said above any page."""
    if st.session_state.pop("lost_train_again", False):  # its settings are in the widgets: go there
        st.switch_page("pages/train.py")
    lost, _ = session.lost_trainings()
    for item in lost:
        what, values, dataset = session.lost_summary(item["about"])
        minutes = int(max(time.time() - item["lost"], 0) // 60)
        ago = "less than a minute ago" if minutes < 1 else f"{minutes} minute{'s' * (minutes != 1)} ago"
        done = "was training it" if item["state"] == "running" else "had it in its queue"
        st.warning(f"**A training of yours was lost:** {what}. The server process that {done} stopped "
                   f"{ago}; its work went with it, and so did the runs this browser had there."
                   + (" Train it again with its settings, or dismiss this." if values else ""),
                   icon=":material/report:")
        left, right, _ = st.columns([1, 1, 4])
        if values:
            left.button("Train it again", key=f"lost_again_{item['id']}", icon=":material/replay:",
                        on_click=session.train_again, args=(values, dataset, item["id"]))
        right.button("Dismiss", key=f"lost_dismiss_{item['id']}", on_click=session.dismiss_lost, args=(item["id"],))


# looked for once a tab opens; then every few seconds only while a training of this browser is in
# another process's hands (if that process has stopped, the queue knows after its heartbeat timeout)
st.fragment(lost_trainings, run_every=5 if session.lost_trainings()[1] else None)()
pg.run()
if not site.page(pg.url_path).live:
    follow()  # after the page, so that its status lines are redrawn too
