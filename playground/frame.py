"""The one place that touches Streamlit's internals; each use says why, and a test covers it.

1. `through_app`: the deep-link fix forced by the customer's `pages/` folder name
   (tests: test_a_page_opened_first_on_a_fresh_server..., test_a_shared_link_opened_first...).
2. `session_id`, `session_active`: which tab a script run serves, and whether a tab is still
   connected, so that a closed tab's training stops and a connected browser's things are kept
   (tests: the closed-tab queue test in the browser, test_a_connected_workspace_is_never_evicted).
3. `overlay`: CSS on the classes Streamlit generates for keyed containers, to stack two charts
   in one place (test: the live chart never goes blank, in the browser).
"""
import streamlit as st


def through_app():
    """Make sure the page runs inside app.py's frame, even on a fresh server's first deep link.

    A server whose first visitor opens /train directly runs pages/train.py on its own: Streamlit
    sees the pages/ folder and assumes its older multipage mode until app.py has called
    st.navigation once. Leave that mode, then load the same address again (query included), so
    that app.py (sidebar, router) runs first. Without a browser (AppTest), a rerun does it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        if not session_active(session_id()):  # no browser to reload (AppTest)
            st.rerun()
        st.html("<script>window.location.reload()</script>", unsafe_allow_javascript=True)
        st.stop()


def session_id() -> str:
    """The id of the Streamlit session (browser tab) this script run serves."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else ""


def session_active(session_id: str) -> bool:
    """True while that tab is connected to this server."""
    from streamlit.runtime import Runtime

    # `is True`: under AppTest the runtime is a stand-in whose answers are never True
    return Runtime.exists() and Runtime.instance().is_active_session(session_id) is True


def overlay(key: str, top: str):
    """Stack the containers inside the container ``key`` in one place, the one keyed
    ``<key>_<top>`` on top. Streamlit gives a keyed container the CSS class st-key-<key>."""
    st.html(f"<style>.st-key-{key} {{display: grid; grid-template-columns: minmax(0, 1fr)}} "
            f".st-key-{key} > div {{grid-area: 1 / 1}} .st-key-{key}_{top} {{z-index: 1}}</style>")
