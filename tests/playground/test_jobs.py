"""Training jobs and the queue (playground.jobs): order, waiting times, failures, gone owners, memory."""
import threading
import time

import numpy as np
import pytest

import mlp
from mlp.train import TrainConfig, Trainer
from playground.jobs import Slots, TrainingJob

JOB_TIMEOUT = 120  # seconds: training threads share a busy machine


@pytest.fixture(scope="module")
def small(mnist):
    return mnist.x_train[:1000], mnist.y_train[:1000], mnist.x_test[:500], mnist.y_test[:500]


def trainer(data, **kwargs):
    """A small network; by default it trains until it is stopped."""
    return Trainer(TrainConfig(**{"hidden_layer_sizes": (32,), "batch_size": 100, "max_steps": 10**9,
                                  "log_every": 5, **kwargs}), data)


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Waiter:
    """Something that waits in a Slots queue on a thread of its own, until admitted or cancelled."""

    def __init__(self, slots, name, left=0.0):
        self.name, self.left = name, left
        self.admitted = self.refused = False
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._wait, args=(slots,), daemon=True)
        self.thread.start()

    def _wait(self, slots):
        if slots.acquire(self, self.cancel.is_set):
            self.admitted = True
        else:
            self.refused = True

    def seconds_left(self):
        return self.left


def queue(slots, names, lefts=None):
    """Start waiters one after another, each in the queue before the next comes."""
    waiters = []
    for i, name in enumerate(names):
        waiters.append(Waiter(slots, name, (lefts or {}).get(name, 0.0)))
        wait_for(lambda: waiters[-1].admitted or slots.position(waiters[-1]) is not None)
    return waiters


# ----------------------------------------------------------------------------
# the queue


def test_slots_admit_in_arrival_order_up_to_the_limit():
    slots = Slots(2)
    a, b, c, d, e = queue(slots, "abcde")
    wait_for(lambda: a.admitted and b.admitted)
    assert not (c.admitted or d.admitted or e.admitted)
    assert [slots.position(w) for w in (c, d, e)] == [(1, 3), (2, 3), (3, 3)]
    assert slots.counts() == (2, 3)
    order = []
    for done in (b, a, c):  # whichever ends, the longest waiting goes next
        slots.release(done)
        wait_for(lambda: sum(w.admitted for w in (c, d, e)) == len(order) + 1)
        order += [w.name for w in (c, d, e) if w.admitted and w.name not in order]
    assert order == ["c", "d", "e"]
    assert slots.position(e) is None and slots.counts() == (2, 0)


def test_a_cancelled_waiter_leaves_the_queue_and_the_others_move_up():
    slots = Slots(1)
    a, b, c = queue(slots, "abc")
    b.cancel.set()
    wait_for(lambda: b.refused)
    assert slots.position(c) == (1, 1)
    slots.release(a)
    wait_for(lambda: c.admitted)
    assert not b.admitted


def test_wait_seconds_adds_up_the_jobs_ahead_on_the_earliest_free_slot():
    slots = Slots(2)
    x, y, a, b, c = queue(slots, "xyabc", {"x": 10.0, "y": 4.0, "a": 5.0, "b": 7.0, "c": 1.0})
    # y's slot frees at 4 s and a takes it until 9 s; x's frees at 10 s ... b takes the 9 s one
    assert slots.wait_seconds(a) == 4.0
    assert slots.wait_seconds(b) == 9.0
    assert slots.wait_seconds(c) == 10.0
    assert slots.wait_seconds(x) is None  # training, not waiting
    for w in (a, b, c):
        w.cancel.set()


def test_pace_is_learned_from_finished_jobs():
    slots = Slots(1)
    assert slots.pace == 1.0
    for real in (20.0, 30.0, 25.0):
        slots.observe(real, 10.0)
    assert slots.pace == 2.5


# ----------------------------------------------------------------------------
# jobs holding slots


def test_a_queued_job_starts_by_itself_when_the_slot_frees(small):
    slots = Slots(1)
    first = TrainingJob(trainer(small, max_steps=100_000), slots).start()
    wait_for(lambda: first.trainer.step > 10)
    second = TrainingJob(trainer(small, max_steps=20), slots).start()
    wait_for(lambda: slots.position(second) == (1, 1))
    assert second.state == "queued" and second.seconds_left() > 0
    assert 0 < slots.wait_seconds(second) <= first.seconds_left() * 1.5  # until the first one ends
    first.stop()
    second.join(30)
    assert first.state == "stopped" and second.state == "finished" and second.trainer.step == 20
    assert slots.counts() == (0, 0)
    assert slots.pace not in (0.0, 1.0)  # the jobs taught the slots this machine's pace


def test_a_started_job_is_in_the_line_before_its_thread_runs(small):
    """A page that starts a job and then counts the line (the next student's "queue is full")
    must see it, however late the job's thread gets the processor."""
    slots = Slots(1)
    first = TrainingJob(trainer(small), slots).start()
    wait_for(lambda: first.state == "running")
    with slots._cond:  # the second job's thread cannot enter the queue's lock until this ends
        second = TrainingJob(trainer(small), slots).start()
        assert slots.position(second) == (1, 1) and slots.counts() == (1, 1)
    for job in (first, second):
        job.stop()
        job.join(JOB_TIMEOUT)
    assert slots.counts() == (0, 0)


def test_a_waiting_job_expects_the_pace_of_the_jobs_before_it(small):
    slots = Slots(1)
    job = TrainingJob(trainer(small, max_steps=500), slots)
    assert job.seconds_left() == job.seconds_left(pace=1.0) > 0
    slots.observe(30.0, 10.0)
    assert job.seconds_left() == pytest.approx(3 * job.seconds_left(pace=1.0))


def test_a_job_that_raises_reports_it_and_frees_its_slot(small):
    x, y, xt, yt = small
    broken = np.array(y, copy=True)
    broken[500] = 12  # a label that the 10 outputs cannot have: the update fails with an IndexError
    slots = Slots(1)
    failing = TrainingJob(trainer((x, broken, xt, yt), max_steps=50), slots)
    waiting = TrainingJob(trainer(small, max_steps=10), slots)
    ended = []
    failing.on_end = ended.append
    failing.start()
    waiting.start()
    failing.join(30)
    waiting.join(30)
    assert failing.state == "failed"
    assert failing.message == ("Training failed: IndexError, an error inside the server "
                               "(its log has the details).")
    assert ended == [failing]
    assert waiting.state == "finished"  # the next in line got the slot and trained
    assert slots.counts() == (0, 0)


def test_a_job_whose_owner_has_gone_stops_and_frees_its_slot(small):
    slots = Slots(1)
    present = [True]
    running = TrainingJob(trainer(small), slots, owner_alive=lambda: present[0], timeout=0.5).start()
    waiting = TrainingJob(trainer(small), slots, owner_alive=lambda: False, timeout=0.5).start()
    wait_for(lambda: running.state == "running" and slots.position(waiting) == (1, 1))
    time.sleep(1.5)
    assert running.state == "running"  # its owner is still there
    waiting.join(10)  # the waiting one's owner has gone: it leaves the queue
    assert waiting.state == "stopped" and "gone away" in waiting.message and waiting.trainer.step == 0
    present[0] = False
    running.join(10)
    assert running.state == "stopped" and "gone away" in running.message
    assert slots.counts() == (0, 0)


def test_an_owner_away_for_less_than_the_timeout_keeps_the_job(small):
    answers = iter([False, False] + [True] * 10**6)  # two seconds away (a reconnect), then back
    job = TrainingJob(trainer(small), Slots(1), owner_alive=lambda: next(answers), timeout=5).start()
    time.sleep(3.5)
    assert job.state == "running"
    job.stop()
    job.join(10)
    assert job.state == "stopped" and job.message is None


def test_a_waiting_training_holds_no_weights_and_an_ended_one_no_batch(mnist):
    from playground.jobs import Slots, TrainingJob

    slots = Slots(1)
    config = mlp.preset("notebook", train_size=5000, max_iter=3)  # full batch: 5000 x 784 floats
    first, second = mlp.Trainer(config, mnist), mlp.Trainer(config, mnist)
    labels = second.nbytes
    assert labels <= 5000 * 16  # the labels and the rows of the subset: no weights while queued
    jobs = [TrainingJob(t, slots).start() for t in (first, second)]
    for job in jobs:
        job.join(JOB_TIMEOUT)
        assert job.state == "finished"
    weights = 4 * first.model.params.nbytes  # model, snapshot and nothing else for plain SGD
    assert first.nbytes < labels + weights + 5000 * 784  # the 15.7 MB float batch is gone
    assert first._X_full is None


# ----------------------------------------------------------------------------
# pace: pause, step, slow motion


def test_pause_frees_the_slot_and_a_new_job_resumes_where_it_paused(small):
    slots, ended = Slots(1), []
    t = trainer(small, max_steps=40)
    job = TrainingJob(t, slots, on_end=ended.append, speed=20).start()
    wait_for(lambda: t.step >= 3, JOB_TIMEOUT)
    job.pause()
    job.join(JOB_TIMEOUT)
    assert job.state == "paused" and not job.alive and ended == []  # a paused run is not filed yet
    assert slots.counts() == (0, 0)
    paused_at = t.step
    step = TrainingJob(t, slots, on_end=ended.append, steps=1).start()
    step.join(JOB_TIMEOUT)
    assert step.state == "paused" and t.step == paused_at + 1 and t.history[-1].step == t.step
    rest = TrainingJob(t, slots, on_end=ended.append).start()
    rest.join(JOB_TIMEOUT)
    assert rest.state == "finished" and ended == [rest] and t.step == 40
    whole = trainer(small, max_steps=40)
    for _ in whole.run():
        pass
    np.testing.assert_array_equal(t.model.params, whole.model.params)


def test_slow_motion_records_each_update_at_its_pace(small):
    t = trainer(small)
    job = TrainingJob(t, speed=5).start()
    wait_for(lambda: t.step >= 3, JOB_TIMEOUT)
    t0, s0 = time.monotonic(), t.step
    wait_for(lambda: t.step >= s0 + 3, JOB_TIMEOUT)
    assert time.monotonic() - t0 >= 3 / 5 - 0.25  # no faster than 5 a second
    assert [p.step for p in t.history[-3:]] == list(range(t.history[-1].step - 2, t.history[-1].step + 1))
    assert job.status().speed == 5 and job.status().seconds_left > 10**6
    job.set_speed(None)  # full speed again: records every log_every updates
    wait_for(lambda: t.step >= s0 + 200, JOB_TIMEOUT)
    job.stop()
    job.join(JOB_TIMEOUT)
    assert job.state == "stopped"


def test_stop_ends_a_slow_motion_wait_at_once(small):
    t = trainer(small)
    job = TrainingJob(t, speed=0.2).start()  # an update every 5 s
    wait_for(lambda: t.step >= 1, JOB_TIMEOUT)
    t0 = time.monotonic()
    job.stop()
    job.join(JOB_TIMEOUT)
    assert time.monotonic() - t0 < 2.0 and job.state == "stopped"


def test_stopping_a_paused_job_files_its_run(small):
    ended = []
    t = trainer(small, max_steps=40)
    job = TrainingJob(t, on_end=ended.append, steps=2).start()
    job.join(JOB_TIMEOUT)
    assert job.state == "paused" and ended == []
    job.stop()
    assert job.state == "stopped" and ended == [job]


def test_a_job_paused_while_it_waits_leaves_the_queue(small):
    slots = Slots(1)
    first = TrainingJob(trainer(small), slots).start()
    wait_for(lambda: first.state == "running", JOB_TIMEOUT)
    second = TrainingJob(trainer(small), slots).start()
    wait_for(lambda: slots.position(second) is not None, JOB_TIMEOUT)
    second.pause()
    second.join(JOB_TIMEOUT)
    assert second.state == "paused" and second.trainer.step == 0 and slots.counts() == (1, 0)
    first.stop()
    first.join(JOB_TIMEOUT)


def test_status_carries_the_changes_and_diagnostics(small):
    t = trainer(small, max_steps=30)
    job = TrainingJob(t, steps=10).start()
    job.join(JOB_TIMEOUT)
    t.change("learning_rate_init", 0.01)
    job = TrainingJob(t).start()
    job.join(JOB_TIMEOUT)
    status = job.status()
    assert [(c.step, c.field, c.value) for c in status.changes] == [(10, "learning_rate_init", 0.01)]
    assert status.diagnostics and status.diagnostics[-1].step <= 30
