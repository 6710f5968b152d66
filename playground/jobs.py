"""Training in the background: a job runs a Trainer on its own thread while a user interface reads it.

The thread only appends to the trainer's history and swaps in new weight snapshots, so any
other thread can read both at any time without locks. A shared `Slots` object bounds how many
jobs train at once across a server; the others wait their turn in order.

A job may run at full speed or in slow motion (a few updates a second), and may be paused: a
paused job has ended and let go of its slot; another job on the same trainer resumes it, or
makes one update (a step) and pauses again.
"""
import heapq
import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import cached_property

from mlp.config import plan
from mlp.diagnostics import Diagnostics
from mlp.train import Trainer, TrainingDiverged

log = logging.getLogger(__name__)


class Slots:
    """A first-come, first-served limit on how many jobs train at the same time.

    It also learns how fast jobs really run here (against `mlp.plan`'s estimate), so that a job
    waiting in the queue can be told roughly how long it will wait.
    """

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self._cond = threading.Condition()
        self._waiting = deque()
        self._active = set()
        self._pace = deque(maxlen=20)  # recent ratios of real to estimated training time

    def enter(self, job):
        """Put ``job`` at the end of the line now, so that the line counts it from the moment the
        job is started (not only once its thread runs)."""
        with self._cond:
            if job not in self._waiting and job not in self._active:
                self._waiting.append(job)

    def acquire(self, job, cancelled) -> bool:
        """Wait until ``job`` may train (entering the line if it has not); return False if
        ``cancelled()`` became true first."""
        self.enter(job)
        with self._cond:
            try:
                while self._waiting[0] is not job or len(self._active) >= self.limit:
                    if cancelled():
                        return False
                    self._cond.wait(0.1)
                self._active.add(job)
                return True
            finally:
                if job in self._waiting:
                    self._waiting.remove(job)
                self._cond.notify_all()

    def release(self, job):
        with self._cond:
            self._active.discard(job)
            self._cond.notify_all()

    def position(self, job):
        """Return (place in the queue counting from 1, queue length), or None if not waiting."""
        with self._cond:
            if job in self._waiting:
                return list(self._waiting).index(job) + 1, len(self._waiting)
        return None

    def counts(self) -> tuple[int, int]:
        """Return (jobs training, jobs waiting)."""
        with self._cond:
            return len(self._active), len(self._waiting)

    def observe(self, seconds: float, estimated: float):
        """Note that a job estimated at ``estimated`` seconds took ``seconds``."""
        if seconds > 0 and estimated > 0:
            self._pace.append(seconds / estimated)

    @property
    def pace(self) -> float:
        """How many times longer than estimated jobs take on this server (1 until one has trained)."""
        return statistics.median(self._pace) if self._pace else 1.0

    def wait_seconds(self, job):
        """Return roughly how long until ``job`` starts, or None if it is not waiting.

        Each slot frees up when its job's remaining time is over; the jobs ahead in the queue
        then take the earliest free slot, one after another.
        """
        with self._cond:
            if job not in self._waiting:
                return None
            free = [j.seconds_left() for j in self._active] + [0.0] * (self.limit - len(self._active))
            ahead = list(self._waiting)[:list(self._waiting).index(job)]
        heapq.heapify(free)
        for other in ahead:
            heapq.heappush(free, heapq.heappop(free) + other.seconds_left())
        return free[0]


@dataclass(frozen=True)
class JobStatus:
    """What a job has done so far, frozen at one moment: what the pages read."""

    state: str                 # queued, running, then finished, paused, stopped, diverged or failed
    alive: bool                # queued or running
    step: int                  # updates done
    total: int                 # updates planned
    history: tuple             # the Progress records so far
    seconds_left: float        # roughly, while alive
    queue: tuple | None        # (place counting from 1, queue length) while it waits
    wait: float | None         # roughly how long until it starts, while it waits
    slots: int                 # trainings the server runs at once
    snapshot_step: int         # the update whose weights are the current model's
    message: str | None        # why it stopped, diverged or failed
    run: int                   # the same for every job of one model (a Continue trains it further)
    changes: tuple = ()        # the mlp.train.ConfigChange records of the model's run so far
    measured: tuple = ()       # its layers' measurements so far, as mlp.diagnostics.row tuples
    speed: float | None = None  # updates a second in slow motion, None at full speed
    queue_error: str | None = None  # why the class's queue cannot be reached now, if it cannot

    @property
    def last(self):
        return self.history[-1] if self.history else None

    @cached_property
    def diagnostics(self) -> tuple:
        """The layers' measurements so far (mlp.diagnostics.Diagnostics), made when first asked for."""
        return tuple(Diagnostics(*r) for r in self.measured)

    @property
    def done(self) -> float:
        """The share of the planned updates done, 0 to 1."""
        return min(self.step / max(self.total, 1), 1.0)


class TrainingJob:
    """Run ``trainer.run()`` on a daemon thread.

    ``state`` goes queued -> running -> finished | paused | stopped | diverged | failed;
    ``message`` explains the last three. Progress and the latest good weights are the trainer's
    ``history`` and ``snapshot``; `status` gives them, frozen, to anyone who asks.

    ``steps``, if given, pauses the job after that many updates (1: a step). ``speed``, if given,
    is slow motion: at most that many updates a second, with a record after each.

    ``owner_alive``, if given, tells whether the user who started the job is still there; once
    it has said no for ``timeout`` seconds on end, the job stops (or leaves the queue).

    ``about``, if given, is what a class's queue keeps of the job so that its owner is told should
    this process die: {"owner": a tag of the browser, and plain JSON values (its settings...)}.
    """

    def __init__(self, trainer: Trainer, slots: Slots | None = None, on_end=None, owner_alive=None,
                 timeout: float = 120.0, steps: int | None = None, speed: float | None = None,
                 about: dict | None = None):
        self.trainer = trainer
        self.slots = slots
        self.about = about
        self.on_end = on_end  # called with the job, on its thread, when it has ended (not when paused)
        self.owner_alive, self.timeout = owner_alive, timeout
        self.steps, self.speed = steps, speed
        self.state = "queued"
        self.message = None
        self._stop, self._pause = threading.Event(), threading.Event()
        self._wake = threading.Event()  # ends a slow-motion wait early: Stop, Pause or a new speed
        self._next = 0.0  # when the next slow-motion update may start (time.monotonic)
        self._timed = steps is None and speed is None  # teaches the slots this server's pace
        self._seen = self._checked = time.monotonic()
        self._started = None  # (time, trainer step) when it began to train
        self._thread = threading.Thread(target=self._run, name="training-job", daemon=True)

    def start(self):
        if self.slots is not None:
            self.slots.enter(self)
        self._thread.start()
        return self

    def _run(self):
        if self.slots is not None and not self.slots.acquire(self, self._halted):
            if self._pause.is_set() and not self._stop.is_set():
                self.state = "paused"
                return
            self.state, self.message = "stopped", self.message or "Stopped before it started."
            return
        try:
            t, estimated = self.trainer, self.seconds_left(pace=1.0)
            self._started, left = (time.monotonic(), t.step), t.total_steps - t.step
            self.state = "running"
            budget = self.steps
            while not self._halted() and not t.done and (budget is None or budget > 0):
                speed, before = self.speed, t.step  # a new speed ends the inner run, and one at it begins
                self._timed = self._timed and speed is None
                for _ in t.run(stop=lambda: self._hold(speed), steps=budget, every=1 if speed else None):
                    pass
                budget = None if budget is None else budget - (t.step - before)
            self.state = ("finished" if t.done else "stopped" if self._stop.is_set()
                          else "paused" if self._pause.is_set() or self.steps else "stopped")
            if self.slots is not None and self._timed and t.step > self._started[1]:
                done = t.step - self._started[1]
                self.slots.observe(time.monotonic() - self._started[0], estimated * done / left)
        except TrainingDiverged as e:
            self.state, self.message = "diverged", str(e)
        except Exception as e:  # reported to this job's user, the details to the log; the server goes on
            log.exception("training failed")
            self.state, self.message = "failed", (f"Training failed: {type(e).__name__}, an error inside the "
                                                  "server (its log has the details).")
        finally:
            if self.state == "paused" and self._stop.is_set():  # Stop came as it paused
                self.state = "stopped"
            if self.state != "paused":
                self.trainer.release()
            if self.slots is not None:
                self.slots.release(self)
            if self.on_end is not None and self.state != "paused":
                self.on_end(self)

    def _halted(self) -> bool:
        return self._cancelled() or self._pause.is_set()

    def _hold(self, speed) -> bool:
        """The trainer's stop check before each update: True to end this inner run (Stop, Pause,
        a new speed); in slow motion, first wait for the update's turn."""
        if self._halted() or self.speed != speed:
            return True
        if speed:
            while (wait := self._next - time.monotonic()) > 0:
                self._wake.wait(min(wait, 0.5))  # wakes at once for Stop, Pause or a new speed
                self._wake.clear()
                if self._halted() or self.speed != speed:
                    return True
            self._next = time.monotonic() + 1 / speed
        return False

    def _cancelled(self) -> bool:
        """True once Stop was pressed, or once the owner has been gone for ``timeout`` seconds."""
        if not self._stop.is_set() and self.owner_alive is not None:
            now = time.monotonic()
            if now - self._checked >= 1.0:  # ask at most once a second
                self._checked = now
                if self.owner_alive():
                    self._seen = now
                elif now - self._seen > self.timeout:
                    self.message = "Stopped: the browser tab that started it has gone away."
                    self._stop.set()
        return self._stop.is_set()

    def seconds_left(self, pace=None) -> float:
        """Roughly how long this job still trains: at its own speed so far once it has made
        progress, else by the plan's estimate times the slots' measured pace."""
        t = self.trainer
        left = max(t.total_steps - t.step, 0)
        if self.speed:
            return left / self.speed
        if self._started and t.step > self._started[1]:
            return left * (time.monotonic() - self._started[0]) / (t.step - self._started[1])
        pace = pace or (self.slots.pace if self.slots else 1.0)
        planned = plan(t.config, len(t.y_train))
        return pace * planned.seconds * left / max(planned.total_steps, 1)

    def status(self) -> JobStatus:
        """What the job has done so far, frozen, for a page to show."""
        t, alive, slots = self.trainer, self.alive, self.slots
        queue = slots.position(self) if slots is not None and self.state == "queued" else None
        return JobStatus(self.state, alive, t.step, t.total_steps, tuple(t.history),
                         self.seconds_left() if alive else 0.0, queue,
                         slots.wait_seconds(self) if queue else None, slots.limit if slots else 1,
                         t.snapshot_step, self.message, id(t), tuple(t.changes), tuple(t.measured),
                         self.speed, getattr(slots, "error", None))

    def stop(self):
        """Ask the job to stop after the current update; a paused job ends as stopped at once."""
        self._stop.set()
        self._wake.set()
        if self.state == "paused" and not self.alive:
            self.state = "stopped"
            self.trainer.release()
            if self.on_end is not None:
                self.on_end(self)

    def pause(self):
        """Ask the job to pause after the current update (or to leave the queue, paused)."""
        self._pause.set()
        self._wake.set()

    def set_speed(self, speed: float | None):
        """Go on at ``speed`` updates a second (slow motion), or at full speed for None."""
        self.speed = speed
        self._wake.set()

    def join(self, timeout=None):
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
