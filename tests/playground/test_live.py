"""What the live regions say and how often they redraw (playground.live)."""
from types import SimpleNamespace

import pytest

from playground.live import waiting_every


@pytest.mark.parametrize("place, seconds", [(None, 2.0), (1, 2.0), (4, 2.0), (5, 5.0), (20, 5.0), (21, 10.0),
                                            (99, 10.0)])
def test_a_waiting_tab_redraws_less_often_the_further_back_it_waits(place, seconds):
    status = SimpleNamespace(queue=None if place is None else (place, 100))
    assert waiting_every(status) == seconds
