"""The class's one training queue (playground.classqueue) on SQLite and on PostgreSQL: jobs of
several real processes admitted in the order they came within the host's slots, a killed
process's slot released within the heartbeat timeout, a database that cannot be reached said in
a sentence and recovered from, the line the pages show."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from mlp.config import PRESETS
from playground import classdb, classqueue
from playground.classqueue import ClassSlots

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 60.0  # seconds any wait below may take on a busy machine before it is a failure


class Job:
    def __init__(self, seconds=10.0):
        self.seconds = seconds

    def seconds_left(self):
        return self.seconds


def until(check, timeout=WAIT, what="the condition"):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.02)
    return found


def rows(engine, state=None):
    query = sa.select(classdb.jobs.c.id, classdb.jobs.c.process, classdb.jobs.c.state).order_by(classdb.jobs.c.id)
    if state:
        query = query.where(classdb.jobs.c.state == state)
    with engine.connect() as conn:
        return conn.execute(query).all()


@pytest.fixture(autouse=True)
def no_worker_left():
    yield
    for w in Worker.started:
        if w.proc.poll() is None:
            w.kill()
    Worker.started.clear()


class Worker:
    """A real process waiting in the class's queue (tests/playground/queue_worker.py)."""

    started = []

    def __init__(self, url, slots, jobs, hold, timeout=15.0, host="test-host", owner=None):
        Worker.started.append(self)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.playground.queue_worker", url, str(slots), str(jobs), str(hold),
             str(timeout), host, *([owner] if owner else [])], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.split())

    def events(self, kind):
        return [(int(k), float(t)) for what, *rest in list(self.lines) if what == kind for k, t in [rest]]

    def go_on(self):
        """Let a process holding its slots ("-") release them."""
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self):
        assert self.proc.wait(WAIT) == 0
        self._reader.join(WAIT)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)


def test_jobs_of_several_processes_train_in_the_order_they_came_within_the_hosts_slots(db, class_db_url):
    """Two slots on the host. A first process holds both; three more processes then queue one job
    each, in turn. Each freed slot goes to the next job in line, whichever process it belongs to,
    at once: never more than two train, and no slot stays idle while a job waits."""
    first = Worker(class_db_url, 2, 2, "-")
    until(lambda: len(first.events("admit")) == 2, what="the first process's two jobs to train")
    line = []
    for n in range(3):
        line.append(Worker(class_db_url, 2, 1, "-"))
        until(lambda: len(rows(db, "waiting")) == n + 1, what=f"job {n + 1} to wait in the line")
    ids = [r.id for r in rows(db, "waiting")]
    gaps = []
    for freed, admitted in ((first, line[0]), (line[0], line[1]), (first, line[2])):
        freed_at = time.time()
        freed.go_on()
        until(lambda: admitted.events("admit"), what="the next job in line to be admitted")
        gaps.append(admitted.events("admit")[0][1] - freed_at)
        waiting = [r.id for r in rows(db, "waiting")]
        assert waiting == ids[len(gaps):], "the others still wait, in the order they came"
        assert len(rows(db, "running")) == 2
        assert not any(w.events("admit") for w in line[len(gaps):])
    assert max(gaps) < 5.0, f"a freed slot was idle for {max(gaps):.2f} s"  # a 0.05 s poll, and a busy margin
    for w in line:
        w.go_on()
    for w in [first, *line]:
        w.finish()
    assert rows(db) == []


def test_a_killed_process_releases_its_slot_within_the_heartbeat_timeout(db, class_db_url):
    crashed = Worker(class_db_url, 1, 1, 1000, timeout=2.0)
    until(lambda: crashed.events("admit"), what="the job of the process to be killed to train")
    queue = ClassSlots(db, 1, host="test-host", beat=0.2, timeout=2.0, poll=0.05)
    job, admitted = Job(), threading.Event()
    threading.Thread(target=lambda: queue.acquire(job, lambda: False) and admitted.set(), daemon=True).start()
    until(lambda: queue.counts() == (1, 1), what="the job to wait in line")
    assert queue.position(job) == (1, 1)
    killed = time.monotonic()
    crashed.kill()
    assert admitted.wait(WAIT)
    took = time.monotonic() - killed
    assert 1.5 < took < 2.0 + 8.0, f"released after {took:.1f} s"  # the timeout, and a busy machine's margin
    assert [r.state for r in rows(db)] == ["running"]
    queue.release(job)
    until(lambda: rows(db) == [], what="the row to go")


def test_a_killed_process_s_jobs_are_told_to_their_browser_once(db, class_db_url):
    """The jobs of a killed process that say whose they are wait in the ``lost`` table until a
    process asks for that browser's: told once, with what the job said of itself; another
    browser hears nothing. Until then the browser's job is "elsewhere"."""
    alice, bob = classqueue.owner_tag("a" * 43), classqueue.owner_tag("b" * 43)
    crashed = Worker(class_db_url, 2, 2, 1000, timeout=2.0, owner=alice)
    until(lambda: len(crashed.events("admit")) == 2, what="the jobs of the process to be killed to train")
    queue = ClassSlots(db, 1, host="other-host", beat=0.2, timeout=2.0, poll=0.05)
    assert queue.elsewhere(alice) == 2 and queue.elsewhere(bob) == 0 and queue.lost(alice) == []
    crashed.kill()
    job = Job()
    assert queue.acquire(job, lambda: False)  # its beat releases the silent process's jobs
    until(lambda: queue.elsewhere(alice) == 0, what="the killed process's jobs to be released")
    assert queue.lost(bob) == []
    told = queue.lost(alice)
    assert [t["state"] for t in told] == ["running", "running"] and told[0]["id"] < told[1]["id"]
    assert told[0]["about"] == {"config": PRESETS["fast"].to_dict(), "dataset": "mnist", "note": ""}
    assert told[0]["created"] <= told[0]["lost"] <= time.time()
    assert queue.lost(alice) == []  # once
    queue.release(job)
    until(lambda: rows(db) == [], what="the row to go")


def test_a_process_released_while_the_database_was_away_takes_its_jobs_back_untold(db):
    """A process silent for longer than the timeout, yet alive, puts its jobs back in the line at
    its next beat: its browsers are not told they lost them."""
    owner = classqueue.owner_tag("c" * 43)
    slow = ClassSlots(db, 1, host="h", beat=0.2, timeout=2.0, poll=0.05)
    job = Job()
    job.about = {"owner": owner, "note": ""}
    assert slow.acquire(job, lambda: False)
    with db.begin() as conn:  # as if it had not beaten for a minute (the database away)
        conn.execute(classdb.processes.update().values(heartbeat=time.time() - 60))
        assert classqueue.release_stale(conn, time.time(), timeout=2.0) == 1
    assert rows(db) == []
    until(lambda: [r.state for r in rows(db)] == ["running"], what="the job to be put back")
    assert slow.lost(owner) == []
    slow.release(job)
    until(lambda: rows(db) == [], what="the row to go")


def test_what_a_job_says_of_itself_is_bounded_and_read_back_as_untrusted(db):
    queue = ClassSlots(db, 1, host="h")
    huge, odd = Job(), Job()
    huge.about = {"owner": "x" * 500, "config": "y" * 10_000}  # an owner cut to the column, no JSON too long
    odd.about = {"owner": "z", "config": {1, 2}}                # not JSON at all
    for job in (huge, odd):
        assert queue.acquire(job, lambda: False)
        queue.release(job)
    until(lambda: rows(db) == [], what="the rows to go")
    with db.begin() as conn:
        for what in ("[1, 2]", "{not json", "9" * 2999, None):
            conn.execute(classdb.lost.insert().values(job=1, owner="w", state="waiting", created=1.0, lost=2.0,
                                                      what=what))
    assert [t["about"] for t in queue.lost("w")] == [{}, {}, {}, {}]


def test_the_line_the_pages_show(db):
    """Position, counts and the estimated wait, read from the class's line."""
    a = ClassSlots(db, 1, host="h", beat=0.2, poll=0.05)
    b = ClassSlots(db, 1, host="h", beat=0.2, poll=0.05)  # another process of the same machine
    running, first, second = Job(30.0), Job(20.0), Job(5.0)
    assert a.acquire(running, lambda: False)
    for n, (queue, job) in enumerate(((b, first), (a, second))):
        threading.Thread(target=queue.acquire, args=(job, lambda: False), daemon=True).start()
        until(lambda: a.counts() == (1, n + 1) == b.counts(), what="the job to be in line")
    until(lambda: b.position(first) == (1, 2) and a.position(second) == (2, 2), what="both copies of the line")
    assert 25 < b.wait_seconds(first) <= 30.0 and 45 < a.wait_seconds(second) <= 50.0
    assert a.position(running) is None and a.wait_seconds(running) is None
    cancelled = threading.Event()
    gave_up = []
    job = Job()
    t = threading.Thread(target=lambda: gave_up.append(b.acquire(job, cancelled.is_set)), daemon=True)
    t.start()
    until(lambda: len(rows(db, "waiting")) == 3, what="a third job in line")
    cancelled.set()
    t.join(WAIT)
    assert gave_up == [False]
    until(lambda: len(rows(db, "waiting")) == 2, what="the cancelled job to leave the line")
    a.release(running)
    until(lambda: b.position(first) is None, what="the first in line to be admitted")
    assert a.position(second) == (1, 1)
    b.release(first)
    until(lambda: a.position(second) is None, what="the second in line to be admitted")
    a.release(second)
    until(lambda: rows(db) == [], what="the rows to go")
    assert a.capacity() == 1


def test_a_job_entered_is_in_the_line_at_once(db):
    """`enter` (what starting a job calls) writes the job's row before it returns, so the page
    that started it, and the next student's "queue is full" check, count it at once."""
    queue = ClassSlots(db, 1, host="h", beat=0.2, poll=0.05)
    running, waiting = Job(), Job()
    queue.enter(running)
    queue.enter(waiting)
    assert queue.counts() == (1, 1) and queue.position(waiting) == (1, 1)
    assert [state for _, _, state in rows(db)] == ["running", "waiting"]
    assert queue.acquire(running, lambda: False)
    queue.release(running)
    assert queue.acquire(waiting, lambda: False)
    queue.release(waiting)
    until(lambda: rows(db) == [], what="the rows to go")


def test_each_host_has_its_own_slots(db):
    one, other = ClassSlots(db, 1, host="one"), ClassSlots(db, 1, host="other")
    jobs = [Job(), Job()]
    assert one.acquire(jobs[0], lambda: False)
    assert other.acquire(jobs[1], lambda: False)  # the other machine's slot is its own
    until(lambda: one.counts() == (2, 0), what="both machines' jobs to be counted")
    assert one.capacity() == 2
    one.release(jobs[0])
    other.release(jobs[1])
    until(lambda: rows(db) == [], what="the rows to go")


def test_a_locked_database_is_said_and_the_queue_goes_on_when_it_is_free(tmp_path):
    url = f"sqlite:///{tmp_path / 'class.sqlite'}"
    classdb.migrate(classdb.engine_for(url))
    engine = classdb.engine_for(url, lock_timeout=0.3)
    queue = ClassSlots(engine, 1, host="h", beat=0.2, poll=0.05)
    blocker = classdb.engine_for(url).connect()
    blocker.exec_driver_sql("BEGIN EXCLUSIVE")
    job, admitted = Job(), threading.Event()
    threading.Thread(target=lambda: queue.acquire(job, lambda: False) and admitted.set(), daemon=True).start()
    until(lambda: queue.error, what="the queue to say it cannot use the database")
    assert "class database" in queue.error and "locked" in queue.error and not admitted.is_set()
    blocker.rollback()
    blocker.close()
    assert admitted.wait(WAIT)
    until(lambda: queue.error is None, what="the queue to say nothing once it works again")
    queue.release(job)
    until(lambda: rows(engine) == [], what="the row to go")
