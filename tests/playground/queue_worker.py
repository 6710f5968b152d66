"""An app process of the class queue's tests, as small as one can be: it waits in the class's
queue for ``jobs`` trainings at once (each "trains" by holding its slot for ``hold`` seconds) and
prints when each was admitted and released.

    python -m tests.playground.queue_worker URL SLOTS JOBS HOLD [TIMEOUT [HOST [OWNER]]]

With OWNER, each job says it is that browser's (an owner tag), with the fast preset's settings.

HOLD "-" holds each slot until a line comes on stdin: the first line releases the first job
admitted, the next line the next one.
"""
import sys
import threading
import time

from mlp.config import PRESETS
from playground import classdb
from playground.classqueue import ClassSlots

HOST = "test-host"


class Job:
    """What the queue asks of a job: how long it still trains, and whose it is."""

    def __init__(self, hold, owner=None):
        self.hold = hold
        self.about = {"owner": owner, "config": PRESETS["fast"].to_dict(), "dataset": "mnist", "note": ""} \
            if owner else None

    def seconds_left(self):
        return self.hold


def main(url, slots, n_jobs, hold, timeout=15.0, host=HOST, owner=None):
    engine = classdb.engine_for(url)
    classdb.migrate(engine)
    queue = ClassSlots(engine, int(slots), host=host, beat=0.2, timeout=float(timeout), poll=0.05)
    told = [threading.Event() for _ in range(int(n_jobs))]
    admitted = []

    def read():
        for n, _ in zip(range(len(told)), sys.stdin):
            told[n].set()
        for event in told:  # the test has gone: let go of everything
            event.set()

    if hold == "-":
        threading.Thread(target=read, daemon=True).start()

    def train(k):
        job = Job(10.0 if hold == "-" else float(hold), owner)
        queue.acquire(job, lambda: False)
        admitted.append(k)
        print(f"admit {k} {time.time():.4f}", flush=True)
        told[admitted.index(k)].wait() if hold == "-" else time.sleep(float(hold))
        print(f"release {k} {time.time():.4f}", flush=True)
        queue.release(job)

    threads = [threading.Thread(target=train, args=(k,)) for k in range(int(n_jobs))]
    for t in threads:
        t.start()
        time.sleep(0.05)  # in this order
    for t in threads:
        t.join()
    deadline = time.monotonic() + 5  # let the queue's thread delete the rows before exiting
    while queue._thread is not None and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:])
