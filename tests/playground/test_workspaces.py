"""Each browser's workspace on a shared server (playground.workspaces): found by its key, bounded."""
import numpy as np
import pytest

from mlp import MLP
from playground.workspaces import Workspaces, new_key, valid_key

MB = 2**20


class Tabs:
    """Which tabs (session ids) are connected, and a clock to move by hand."""

    def __init__(self):
        self.open, self.now = set(), 1000.0

    def active(self, session_id):
        return session_id in self.open

    def visit(self, store, key=None, tab=None):
        tab = tab or f"tab-{len(self.open)}-{self.now}"
        self.open.add(tab)
        return store.open(key or new_key(), tab), tab


@pytest.fixture
def tabs():
    return Tabs()


def store_for(tabs, **kwargs):
    return Workspaces(tabs.active, clock=lambda: tabs.now, **kwargs)


def model(mb):
    """A model whose weights take about ``mb`` megabytes."""
    return MLP([784, max(1, int(mb * MB / 4 / 795)), 10])


def test_a_key_finds_its_workspace_and_nothing_else_does(tabs):
    store = store_for(tabs)
    key = new_key()
    mine, tab = tabs.visit(store, key)
    store.keep(key, mine)
    again, _ = tabs.visit(store, key)
    assert again is mine and again.sessions == {tab, _}
    other, _ = tabs.visit(store)  # another browser, another key
    assert other is not mine
    for hostile in ("", "x" * 43 + "!", key[:-1], key + "A", None, 42, "../" * 15):
        assert store.open(hostile, "t") is not mine
        assert not valid_key(hostile) or hostile == key


def test_visits_alone_keep_nothing_so_they_evict_nothing(tabs):
    store = store_for(tabs, max_count=10)
    key = new_key()
    mine, _ = tabs.visit(store, key)
    store.keep(key, mine)
    for _ in range(200):  # 200 anonymous visits to "/"
        tabs.visit(store)
    assert len(store) == 1
    assert store.open(key, "again") is mine


def test_a_connected_workspace_is_never_evicted(tabs):
    store = store_for(tabs, max_count=3, timeout=60)
    key = new_key()
    mine, tab = tabs.visit(store, key)
    store.keep(key, mine)
    for _ in range(10):  # other browsers that each keep something, then close their tab
        other_key = new_key()
        other, other_tab = tabs.visit(store, other_key)
        tabs.now += 1
        assert store.keep(other_key, other)
        tabs.open.discard(other_tab)
    tabs.now += 3600  # long past the timeout, but the tab is still open
    store.sweep()
    assert store.open(key, tab) is mine


def test_when_every_kept_workspace_is_connected_a_new_one_is_not_kept(tabs):
    store = store_for(tabs, max_count=2)
    for _ in range(2):
        key = new_key()
        assert store.keep(key, tabs.visit(store, key)[0])
    key = new_key()
    late, _ = tabs.visit(store, key)
    assert not store.keep(key, late) and len(store) == 2
    assert store.open(key, "reload") is not late


def test_idle_workspaces_expire_and_the_least_recently_used_go_first(tabs):
    store = store_for(tabs, max_count=2, timeout=600)
    keys, kept = [new_key() for _ in range(3)], []
    for key in keys[:2]:
        ws, tab = tabs.visit(store, key)
        store.keep(key, ws)
        kept.append(ws)
        tabs.open.discard(tab)  # the tab is closed
        tabs.now += 10
    assert store.open(keys[0], "reloaded") is kept[0]  # a reload (gone again) makes the first the newer
    ws, _ = tabs.visit(store, keys[2])
    assert store.keep(keys[2], ws)  # a third browser: the least recently used one goes
    assert store.open(keys[0], "t1") is kept[0]
    assert store.open(keys[1], "t2") is not kept[1] and len(store) == 2
    tabs.open.difference_update({"t1", "t2"})
    tabs.now += 601
    store.sweep()
    assert len(store) == 1  # the connected third one only


def test_past_the_budget_idle_workspaces_drop_their_weights_first(tabs):
    store = store_for(tabs, all_runs_bytes=3 * MB, runs_bytes=16 * MB)
    config = {"hidden_layer_sizes": [1], "solver": "adam", "learning_rate_init": 0.001}
    keys, spaces = [], []
    for i in range(3):
        key = new_key()
        ws, tab = tabs.visit(store, key)
        ws.runs.add("mnist", config, [], "finished", model(1.2))
        ws.loaded = (model(0.1), "mnist", "a model")
        store.keep(key, ws)
        keys.append(key)
        spaces.append((ws, tab))
        tabs.now += 1
    tabs.open.discard(spaces[0][1])  # the oldest browser has gone
    store.sweep()
    gone, connected = spaces[0][0], [ws for ws, _ in spaces[1:]]
    assert gone.loaded is None and all(r.model is None for r in gone.runs)
    assert [r.state for r in gone.runs] == ["finished"]  # the curves and settings stay
    assert all(ws.loaded is not None and all(r.model is not None for r in ws.runs) for ws in connected)
    assert np.isclose(gone.nbytes, 0)
