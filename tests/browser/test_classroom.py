"""Students in real browser tabs: a one-slot server's queue, a class's queue across two app
processes when one of them is killed, and what a reload or a copied address gives."""
import re
import time

import pytest
from playwright.sync_api import expect

from playground import classqueue
from tests.browser.helpers import (TIMEOUT, button, idle, main, no_exception, snapshot, wait_for_points,
                                   wait_for_update_above)

pytestmark = pytest.mark.browser


LINK = "/train?preset=fast&images=20000&epochs=50"  # long enough to be still training when the other comes
RUNNING = re.compile(r"^running: update [\d,]+ of 7,850")


@pytest.fixture(scope="module")
def one_slot_server(start_app, shared_data_dir):
    """A server that trains one model at a time and stops a job 3 s after its tab has gone."""
    return start_app(MNIST_PLAYGROUND_DATA=str(shared_data_dir), MNIST_PLAYGROUND_MAX_JOBS="1",
                     MNIST_PLAYGROUND_SESSION_TIMEOUT="3")


def open_train(context, server):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(server.url + LINK)
    expect(main(page).get_by_role("heading", name="Train", exact=True)).to_be_visible()
    expect(main(page).get_by_text("to train on 20,000 images")).to_be_visible()
    return page


@pytest.fixture
def tabs(browser):
    """Two students' browsers (contexts of their own, so sessions of their own), closed at the end."""
    expect.set_options(timeout=TIMEOUT)
    contexts = [browser.new_context(viewport={"width": 1400, "height": 950}) for _ in range(2)]
    yield contexts
    for context in contexts:
        context.close()


def training(context, server):
    """A tab of ``context`` that opened LINK on ``server``, pressed Train and sees its run going."""
    page = open_train(context, server)
    button(page, "Train").click()
    expect(main(page).get_by_text(RUNNING)).to_be_visible()
    return page


def queued(context, server):
    """A tab of ``context`` that opened LINK on ``server``, pressed Train and waits behind another
    student's training; return it and its queue line."""
    page = open_train(context, server)
    button(page, "Train").click()
    line = main(page).get_by_text(re.compile(r"^Queued: position 1 of 1, about \d+ (s|min)\."))
    expect(line).to_be_visible()
    expect(page.get_by_text("Class: 1 training, 1 waiting (at most 1 at once)")).to_be_visible()
    return page, line


def stop(page):
    """Press Stop and see the training stop."""
    button(page, "Stop training").click()
    expect(main(page).get_by_text(re.compile(r"^Stopped at update [\d,]+\."))).to_be_visible()


def test_the_second_student_waits_in_the_queue_and_trains_once_the_first_tab_is_closed(tabs, one_slot_server):
    alice_tab, bob_tab = tabs
    training(alice_tab, one_slot_server)

    bob, waiting = queued(bob_tab, one_slot_server)
    expect(bob.get_by_text("Model: queued (1 of 1)")).to_be_visible()
    expect(button(bob, "Stop training")).to_be_enabled()
    snapshot(bob, "queued", full_page=False)
    no_exception(bob)

    alice_tab.close()  # the first student leaves: the server stops that job and frees its slot
    expect(waiting).to_have_count(0)
    expect(main(bob).get_by_text(RUNNING)).to_be_visible()
    wait_for_points(bob, 2)  # the curves grow
    expect(bob.get_by_text(re.compile(r"^Model: training"))).to_be_visible()
    no_exception(bob)
    stop(bob)


def test_a_student_waiting_behind_a_killed_app_process_trains_within_the_heartbeat_timeout(
        tabs, start_app, shared_data_dir, tmp_path):
    """Two app processes of one machine share the class's queue and its one training slot: Alice
    trains on the first, Bob waits on the second; the first process is killed (no goodbye to the
    database) and Bob's training starts once that process has been silent for the timeout. Alice's
    browser, on the second process now (as nginx would send it), is told her training was lost,
    once, and trains it again with its settings."""
    shared = {"MNIST_PLAYGROUND_DATA": str(shared_data_dir), "MNIST_PLAYGROUND_MAX_JOBS": "1",
              "MNIST_PLAYGROUND_CLASS_DB": f"sqlite:///{tmp_path / 'class.sqlite'}"}
    first, second = start_app(**shared), start_app(**shared)
    alice_tab, bob_tab = tabs
    training(alice_tab, first)

    bob, waiting = queued(bob_tab, second)

    first.proc.kill()  # SIGKILL: the process cannot tell the database it has gone
    killed = time.monotonic()
    first.proc.wait(30)
    expect(waiting).to_have_count(0)
    took = time.monotonic() - killed
    expect(main(bob).get_by_text(RUNNING)).to_be_visible()
    wait_for_points(bob, 2)
    assert took > classqueue.TIMEOUT - 1, f"started {took:.1f} s after the kill, before the timeout"
    expect(bob.get_by_text(re.compile(r"^Class: 1 training, 0 waiting"))).to_be_visible()
    no_exception(bob)

    alice = alice_tab.new_page()  # the same browser (its cookie) on the process that is left
    alice.set_default_timeout(TIMEOUT)
    alice.goto(second.url + "/draw")
    lost = main(alice).get_by_text(re.compile(r"^A training of yours was lost: a training of hidden layers "
                                              r"[\d-]+, \w+, learning rate [\d.e-]+, 50 epochs on MNIST\. The "
                                              r"server process that was training it stopped"))
    expect(lost).to_be_visible()
    expect(button(alice, "Dismiss")).to_be_visible()
    idle(alice)
    snapshot(alice, "lost-training", full_page=False)
    no_exception(alice)
    button(alice, "Train it again").click()
    expect(main(alice).get_by_role("heading", name="Train", exact=True)).to_be_visible()
    expect(main(alice).get_by_text("to train on 20,000 images")).to_be_visible()  # its settings, not the preset's
    expect(lost).to_have_count(0)
    button(alice, "Train").click()
    expect(main(alice).get_by_text(re.compile(r"^Queued: position 1 of 1"))).to_be_visible()  # behind Bob
    alice.reload()  # told once: not again
    expect(main(alice).get_by_text(re.compile(r"^Queued: position 1 of 1"))).to_be_visible()
    expect(lost).to_have_count(0)
    no_exception(alice)
    stop(bob)
    expect(main(alice).get_by_text(RUNNING)).to_be_visible()
    stop(alice)


def test_a_reload_keeps_a_running_training_and_its_address_gives_a_stranger_nothing(tabs, app_server):
    mine, stranger = tabs
    page = training(mine, app_server)
    before = wait_for_update_above(page, 0)
    page.reload()  # the same browser: its key finds the training again, which went on meanwhile
    expect(main(page).get_by_text(RUNNING)).to_be_visible()
    assert wait_for_update_above(page, before) > before
    expect(button(page, "Stop training")).to_be_enabled()
    expect(page.get_by_text(re.compile(r"^Model: training"))).to_be_visible()
    assert "sid=" not in page.url
    no_exception(page)

    other = stranger.new_page()  # the same address in another browser
    other.goto(page.url)
    expect(main(other).get_by_text("No model yet")).to_be_visible()
    expect(other.get_by_text("Model: untrained")).to_be_visible()
    expect(button(other, "Stop training")).to_be_disabled()
    no_exception(other)

    stop(page)
