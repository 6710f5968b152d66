"""Live regions: what a page redraws while this tab's training waits or trains.

One helper, `follow`, draws a page's region of the training (or nothing) and the status lines
(the sidebar's model and queue lines, Home's status) in a fragment that reruns on a timer while
the job is alive, and reruns the whole page once when the job starts or ends.
"""
import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError

from . import session
from .frame import overlay


def status_line(text, write="caption"):
    """Show ``text()`` (say, the model's status) with ``st.<write>``, in a place that the page's
    live region redraws while the tab's job waits or trains."""
    box = st.empty()
    st.session_state.setdefault("status_lines", []).append((box, text, write))
    _draw_line(box, text, write)


def _draw_line(box, text, write):
    line = text()
    if line:
        getattr(box, write)(line)
    else:
        box.empty()


def redraw_status_lines():
    """Redraw the status lines now (a fragment may write into a place made outside it).

    A fragment may write there only if it did in the last full run of the page; on a busy server
    a full run can be cut short by the next rerun before its fragment ran, and Streamlit then
    refuses the write. The line is then left as it is until the next full run."""
    for line in st.session_state.get("status_lines", []):
        try:
            _draw_line(*line)
        except StreamlitInvalidLayoutContextError:
            pass


def waiting_every(status) -> float:
    """Seconds between redraws while a job waits: 2 s near the front of the queue, 5 s further
    back, 10 s far back. A class of 100 on one server has 99 tabs waiting; redrawing them all
    every 2 s took the server's time from the students drawing."""
    place = status.queue[0] if status.queue else 1
    return 2.0 if place <= 4 else 5.0 if place <= 20 else 10.0


def follow(region=None, every=2.0):
    """Follow this tab's training: every ``every`` seconds while it trains (`waiting_every`
    while it waits), call ``region(status)`` with its playground.jobs.JobStatus (None without a
    job) and redraw the status lines; rerun the page once the job has started or ended, or has
    come nearer the front of the queue (for a quicker timer)."""
    status = session.job_status()
    alive = status is not None and status.alive
    queued = alive and status.state == "queued"
    interval = (max(every, waiting_every(status)) if queued else every) if alive else None

    @st.fragment(run_every=interval)
    def live():
        now = session.job_status()
        # before anything is drawn: what a run that asks for a rerun draws may never be shown, and a
        # live chart would then take a figure the browser never got for the one drawn last time
        if alive and (not now.alive or queued and now.state != "queued"):
            st.rerun()  # the job started or ended: redraw the whole page once, with the new timer
        if queued and now.state == "queued" and max(every, waiting_every(now)) < interval:
            st.rerun()  # nearer the front: redraw more often
        redraw_status_lines()
        if region is not None:
            region(now)

    live()


def live_chart(fig, key, run):
    """Draw a Plotly figure that is redrawn twice a second (the curves of a training ``run``) without flicker.

    Streamlit mounts a Plotly chart afresh whenever its figure changes, and the new chart stays blank
    for 30-300 ms while it draws. So the figure drawn last time stays underneath, sent unchanged
    (Streamlit leaves an unchanged chart as it is), until the new one on top has drawn over it.
    """
    ss = st.session_state
    count, last_run, last = ss.get(key, (0, None, None))
    new = "ab"[count % 2]  # the two charts take turns on top
    overlay(key, new)
    with st.container(key=key):
        for slot in "ab":
            shown = fig if slot == new else last if last_run == run else None
            with st.container(key=f"{key}_{slot}"):
                if shown is not None:
                    st.plotly_chart(shown, width="stretch", key=f"{key}_{slot}_chart")
    # kept only once both are sent: a run cut short by the next one on a busy server would otherwise
    # leave as "drawn last time" a figure the browser never got, and both charts would mount afresh
    ss[key] = (count + 1, run, fig)


# ----------------------------------------------------------------------------
# what a job's region says


def queue_text(status) -> str:
    """Where a waiting job stands: "Queued: position 3 of 7, about 40 s. ..." """
    if status.queue is None:
        return "Queued: starting…"
    wait = status.wait
    about = "" if wait is None else f", about {wait:.0f} s" if wait < 90 else f", about {wait / 60:.0f} min"
    many = "one model" if status.slots == 1 else f"{status.slots} models"
    return (f"Queued: position {status.queue[0]} of {status.queue[1]}{about}. This server trains {many} at a "
            "time, so yours starts by itself when its turn comes. Gallery, Draw and the other pages work "
            "meanwhile.")


def progress_text(status) -> str:
    """The progress bar's line: "running: update 1,234 of 3,752 · epoch 2.63 · ..." """
    p = status.last
    return (f"{status.state}: update {status.step:,} of {status.total:,} · epoch {p.epoch:.2f} · "
            f"{p.samples_per_second:,.0f} images/s · test accuracy {p.test_accuracy:.2%}"
            + (f" · about {status.seconds_left:.0f} s left" if status.alive
               else f" · {p.elapsed:.1f} s of training"))


def outcome(status):
    """(st function name, text) saying how an ended job ended, or None while it runs."""
    if status.state in ("diverged", "failed"):
        return "error", status.message
    if status.state == "paused":
        return "info", (f"Paused at update {status.step:,}. **Resume**, take a **Step** of one update, or change "
                        "a setting first: it applies from the next update.")
    if status.state == "stopped" and status.history:
        return "info", (f"{status.message + ' ' if status.message else ''}Stopped at update {status.step:,}. "
                        "Press **Continue** to train further.")
    if status.state == "stopped":
        return "info", status.message
    if status.state == "finished" and status.history:
        return "success", f"Done: {status.last.test_accuracy:.2%} test accuracy. Try the **Draw** page."
    return None
