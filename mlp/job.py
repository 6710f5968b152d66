"""Training in the background: a job runs a Trainer on its own thread while a user interface reads it.

The thread only appends to the trainer's history and swaps in new weight snapshots, so any
other thread can read both at any time without locks. A shared `Slots` object bounds how many
jobs train at once across a server; the others wait their turn in order.
"""
import threading
from collections import deque

from .train import Trainer, TrainingDiverged


class Slots:
    """A first-come, first-served limit on how many jobs train at the same time."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self._cond = threading.Condition()
        self._waiting = deque()
        self._active = set()

    def acquire(self, job, cancelled) -> bool:
        """Wait until ``job`` may train; return False if ``cancelled()`` became true first."""
        with self._cond:
            self._waiting.append(job)
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


class TrainingJob:
    """Run ``trainer.run()`` on a daemon thread.

    ``state`` goes queued -> running -> finished | stopped | diverged | failed; ``message``
    explains the last three. Progress and the latest good weights are the trainer's
    ``history`` and ``snapshot``.
    """

    def __init__(self, trainer: Trainer, slots: Slots | None = None, on_end=None):
        self.trainer = trainer
        self.slots = slots
        self.on_end = on_end  # called with the job, on its thread, when it has ended
        self.state = "queued"
        self.message = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="training-job", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        if self.slots is not None and not self.slots.acquire(self, self._stop.is_set):
            self.state, self.message = "stopped", "Stopped before it started."
            return
        try:
            self.state = "running"
            for _ in self.trainer.run(stop=self._stop.is_set):
                pass
            self.state = "finished" if self.trainer.done else "stopped"
        except TrainingDiverged as e:
            self.state, self.message = "diverged", str(e)
        except Exception as e:  # reported to this job's user; the server goes on
            self.state, self.message = "failed", f"Training failed: {type(e).__name__}: {e}"
        finally:
            if self.slots is not None:
                self.slots.release(self)
            if self.on_end is not None:
                self.on_end(self)

    def stop(self):
        """Ask the job to stop after the current update."""
        self._stop.set()

    def join(self, timeout=None):
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
