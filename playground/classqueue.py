"""One training queue for a whole class: every app process of every machine waits in the same line.

A job waits as a row of the class database's ``jobs`` table. Each machine (host) trains at most
its own number of jobs at once (its ``hosts.slots``, from the processes' ``max_jobs``); the jobs of
a host are admitted in the order they came, whichever process they belong to, so no slot stays
idle while a student of another process waits. Whoever frees a slot, or sees one free, admits the
next jobs: under a lock on the host's row (PostgreSQL: ``SELECT ... FOR UPDATE``, the waiting jobs
taken with ``FOR UPDATE SKIP LOCKED``, so a job its own process is removing is passed over) or an
immediate transaction (SQLite: one writer at a time).

A process that has jobs beats a heartbeat every `BEAT` seconds. One that has not beaten for
`TIMEOUT` seconds has crashed or hangs: the next process to look releases its jobs, so their
slots train someone else's. A process that finds itself released (the database was unreachable
for longer than that) puts its jobs back in the line. A released job that says whose it is (its
``about``: a browser's `owner_tag`, its settings) is kept in the ``lost`` table until a process
that browser's tab reaches tells it (`ClassSlots.lost`), or for `KEEP_LOST` seconds.

`ClassSlots` has the interface of `playground.jobs.Slots`, so a `TrainingJob` waits in either.
"""
import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from . import classdb
from .classdb import hosts, jobs, lost, processes
from .jobs import Slots

log = logging.getLogger(__name__)

BEAT = 2.0       # seconds between two heartbeats of a process with jobs
TIMEOUT = 15.0   # seconds without a heartbeat after which a process's jobs are released
POLL = 0.25      # seconds between two looks at the queue while a job of this process waits
KEEP_LOST = 3600.0  # seconds a lost job waits for its owner to be told


@contextmanager
def writing(engine):
    """A transaction that may write: on SQLite it takes the file's write lock first (BEGIN
    IMMEDIATE), so that what it reads stays true until it commits."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def register(conn, host, slots):
    """Say how many jobs ``host`` trains at once (an upsert: the last process to start wins)."""
    upsert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(hosts)
    conn.execute(upsert.values(host=host, slots=slots)
                 .on_conflict_do_update(index_elements=["host"], set_={"slots": slots}))


def owner_tag(key: str) -> str:
    """What the class database keeps of a browser's workspace key to tell it of its lost jobs: a
    hash of its own kind, so the database holds nothing that opens a workspace."""
    return hashlib.sha256(b"mnist-playground lost jobs\0" + key.encode()).hexdigest()


def release_stale(conn, now, timeout=TIMEOUT) -> int:
    """Release the jobs of processes silent for ``timeout`` seconds, and delete their rows; the jobs
    that say whose they are go to the ``lost`` table. Return how many jobs went."""
    stale = sa.select(processes.c.id).where(processes.c.heartbeat < now - timeout)
    gone = _release(conn, jobs.c.process.in_(stale), now)
    conn.execute(processes.delete().where(processes.c.heartbeat < now - timeout))
    # jobs whose process row is missing altogether (deleted by hand, or a process that never beat)
    orphans = _release(conn, ~jobs.c.process.in_(sa.select(processes.c.id)), now)
    conn.execute(lost.delete().where(lost.c.lost < now - KEEP_LOST))
    return gone + orphans


def _release(conn, which, now) -> int:
    conn.execute(lost.insert().from_select(
        ["job", "owner", "state", "created", "lost", "what"],
        sa.select(jobs.c.id, jobs.c.owner, jobs.c.state, jobs.c.created, sa.literal(now, sa.Float), jobs.c.what)
        .where(which, jobs.c.owner.is_not(None))))
    return conn.execute(jobs.delete().where(which)).rowcount


def admit(conn, host, now, timeout=TIMEOUT) -> list[int]:
    """Release silent processes' jobs, then start as many of ``host``'s waiting jobs as it has free
    slots, oldest first; return their ids. ``conn`` is a `writing` transaction; on PostgreSQL the
    host's row is locked, so that two processes admitting at once do not both fill one slot."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(hosts.c.host).where(hosts.c.host == host).with_for_update())
    released = release_stale(conn, now, timeout)
    if released:
        log.warning("released %d training jobs of app processes silent for %.0f s", released, timeout)
    limit = conn.execute(sa.select(hosts.c.slots).where(hosts.c.host == host)).scalar() or 1
    running = conn.execute(sa.select(sa.func.count()).select_from(jobs)
                           .where(jobs.c.host == host, jobs.c.state == "running")).scalar_one()
    if running >= limit:
        return []
    query = (sa.select(jobs.c.id).where(jobs.c.host == host, jobs.c.state == "waiting")
             .order_by(jobs.c.id).limit(limit - running))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if ids:
        conn.execute(jobs.update().where(jobs.c.id.in_(ids)).values(state="running", started=now))
    return ids


class ClassSlots(Slots):
    """A `Slots` whose line is the class database's: ``limit`` jobs of this host train at once.

    The job threads insert and delete their rows; one thread per process (running only while the
    process has jobs) beats the heartbeat, tells each local job when it is admitted, and keeps a
    copy of the whole line for the pages (`position`, `counts`, `wait_seconds`). While the
    database cannot be reached, `error` says so; jobs that wait go on waiting, jobs that train go
    on training, and everything is put right when it is back.
    """

    def __init__(self, engine, limit: int, host: str | None = None, beat=BEAT, timeout=TIMEOUT, poll=POLL):
        super().__init__(limit)
        self.engine = engine
        self.host = (host or socket.gethostname())[:64]
        self.process = f"{self.host[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.beat, self.timeout, self.poll = beat, timeout, poll
        self.error = None       # a sentence while the class database cannot be reached
        self._rows = {}         # local job -> its row id (None until inserted)
        self._running = set()   # local jobs admitted
        self._deleted = set()   # row ids to delete once the database answers
        self._line = ()         # the last copy of the jobs table: (id, host, process, state, started, seconds_left)
        self._line_at = 0.0     # when it was read (time.monotonic)
        self._hosts, self._hosts_at = {}, -1e9  # the slots of each host, as last read
        self._thread = None
        self._wake = threading.Event()
        self._writes = threading.Lock()  # this process's own writes, one at a time (its heartbeat row)
        with classdb._errors("register this server"), writing(engine) as conn:
            register(conn, self.host, self.limit)

    # -- what a TrainingJob calls

    def enter(self, job):
        with self._cond:
            if job in self._rows:
                return
            self._rows[job] = None
            self._ensure_thread()
        if self.error is None:  # while the database is away, the thread writes the row once it is back
            self._insert(job)
        self._wake.set()

    def acquire(self, job, cancelled) -> bool:
        self.enter(job)
        with self._cond:
            try:
                while job not in self._running:
                    if cancelled():
                        return False
                    self._cond.wait(0.1)
                self._active.add(job)
                return True
            finally:
                if job not in self._running:
                    self._forget(job)
                    self._wake.set()

    def release(self, job):
        with self._cond:
            self._active.discard(job)
            self._running.discard(job)
            self._forget(job)
            self._cond.notify_all()
        self._wake.set()

    def position(self, job):
        with self._cond:
            if job not in self._rows or job in self._running:
                return None
            row = self._rows[job]
        waiting = [r[0] for r in self._current() if r[1] == self.host and r[3] == "waiting"]
        if row not in waiting:  # not yet in the copy of the line
            return None
        return waiting.index(row) + 1, len(waiting)

    def counts(self) -> tuple[int, int]:
        """(jobs training, jobs waiting) of the whole class."""
        line = self._current()
        return sum(r[3] == "running" for r in line), sum(r[3] == "waiting" for r in line)

    def wait_seconds(self, job):
        with self._cond:
            if job not in self._rows or job in self._running:
                return None
            row = self._rows[job]
        now, mine = time.time(), self._line_of_host()
        free = [max(r[5] - (now - (r[4] or now)), 0.0) for r in mine if r[3] == "running"]
        free += [0.0] * max(self.limit - len(free), 0)
        free.sort()
        for r in mine:  # the jobs ahead take the earliest free slot, one after another
            if r[0] == row:
                break
            if r[3] == "waiting":
                free[0] += r[5]
                free.sort()
        return free[0]

    # -- the rows

    def _beat(self, conn, now):
        """The heartbeat; a process released meanwhile (or new) registers again and puts its jobs
        back: the running ones as running, the waiting ones at the end of the line."""
        if conn.execute(processes.update().where(processes.c.id == self.process)
                        .values(heartbeat=now)).rowcount:
            return
        conn.execute(processes.insert().values(id=self.process, host=self.host, heartbeat=now))
        register(conn, self.host, self.limit)
        with self._cond:
            local = list(self._rows)
        for job in local:
            if self._rows.get(job) is not None:  # not lost after all: its owner hears nothing
                conn.execute(lost.delete().where(lost.c.job == self._rows[job], lost.c.owner == _about(job)[0]))
                self._rows[job] = self._insert_row(conn, job, now)

    def _insert_row(self, conn, job, now) -> int:
        running = job in self._running
        owner, what = _about(job)
        return int(conn.execute(jobs.insert().values(
            host=self.host, process=self.process, state="running" if running else "waiting", created=now,
            started=now if running else None, seconds_left=float(job.seconds_left()), owner=owner,
            what=what)).inserted_primary_key[0])

    def _insert(self, job):
        """Put ``job`` in the line (now, or by the thread once the database answers)."""
        try:
            with self._writes, writing(self.engine) as conn:
                now = time.time()
                self._beat(conn, now)
                with self._cond:
                    if job in self._rows and self._rows[job] is None:
                        self._rows[job] = self._insert_row(conn, job, now)
                admit(conn, self.host, now, self.timeout)  # a free slot is taken at once
                line = self._read(conn)  # and its place known
            self._take(line)
        except SQLAlchemyError as e:
            self._failed(e)

    def _forget(self, job):
        """Drop ``job``'s row (under ``_cond``); the thread deletes it."""
        row = self._rows.pop(job, None)
        if row is not None:
            self._deleted.add(row)

    # -- the thread

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="class-queue", daemon=True)
            self._thread.start()

    def _loop(self):
        last_beat = 0.0
        while True:
            with self._cond:
                if not self._rows and not self._deleted:
                    self._thread = None
                    break
                waiting = any(j not in self._running for j in self._rows)
            try:
                now = time.time()
                with self._writes, writing(self.engine) as conn:
                    self._delete(conn)
                    beat = now - last_beat >= self.beat
                    if beat:
                        self._beat(conn, now)
                        self._report(conn)
                        last_beat = now
                    with self._cond:  # jobs whose row could not be written when they came
                        late = [job for job, row in self._rows.items() if row is None]
                    if late:
                        self._beat(conn, now)
                    for job in late:
                        row = self._insert_row(conn, job, now)
                        with self._cond:
                            if job in self._rows:
                                self._rows[job] = row
                            else:  # it gave up meanwhile
                                self._deleted.add(row)
                    line = self._read(conn)
                    mine = [r for r in line if r[1] == self.host]
                    free = sum(r[3] == "running" for r in mine) < self.limit
                    # at each beat (which also releases silent processes' jobs), or when a slot is free
                    if (beat or free and any(r[3] == "waiting" for r in mine)) and admit(conn, self.host, now,
                                                                                        self.timeout):
                        line = self._read(conn)
                self._take(line)
                self.error = None
            except SQLAlchemyError as e:
                self._failed(e)
            except Exception:  # never let the queue's thread die: log, and go on
                log.exception("the class queue failed")
            self._wake.wait(self.poll if waiting else self.beat)
            self._wake.clear()
        self._leave()

    def _delete(self, conn):
        with self._cond:
            gone = list(self._deleted)
        if gone:
            conn.execute(jobs.delete().where(jobs.c.id.in_(gone)))
            with self._cond:
                self._deleted.difference_update(gone)

    def _report(self, conn):
        """Tell the line how long this process's running jobs still train."""
        with self._cond:
            mine = [(row, job) for job, row in self._rows.items() if row is not None and job in self._running]
        for row, job in mine:
            conn.execute(jobs.update().where(jobs.c.id == row).values(seconds_left=float(job.seconds_left()),
                                                                     started=time.time()))

    def _read(self, conn):
        return tuple(tuple(r) for r in conn.execute(
            sa.select(jobs.c.id, jobs.c.host, jobs.c.process, jobs.c.state, jobs.c.started, jobs.c.seconds_left)
            .where(jobs.c.process.in_(sa.select(processes.c.id)
                                      .where(processes.c.heartbeat >= time.time() - self.timeout)))
            .order_by(jobs.c.id)))

    def _take(self, line):
        """Keep ``line`` and wake the local jobs it admitted."""
        running = {r[0] for r in line if r[3] == "running" and r[2] == self.process}
        with self._cond:
            self._line, self._line_at = line, time.monotonic()
            for job, row in self._rows.items():
                if row in running:
                    self._running.add(job)
            self._cond.notify_all()

    def _leave(self):
        """No jobs left here: take this process out of the table (others would release it anyway)."""
        try:
            with self._writes:  # a job that comes meanwhile writes this process's row again after this
                with self._cond:
                    gone = not self._rows
                if gone:
                    with self.engine.begin() as conn:
                        conn.execute(processes.delete().where(processes.c.id == self.process))
        except SQLAlchemyError as e:
            self._failed(e)
        with self._cond:  # a job came as the thread ended
            if self._rows:
                self._ensure_thread()

    def _failed(self, error):
        try:
            with classdb._errors("keep the training queue"):
                raise error
        except classdb.ClassDBError as e:
            if self.error is None:
                log.warning("%s", e)
            self.error = (f"{str(e)[0].upper()}{str(e)[1:]}. Trainings that wait go on waiting, trainings "
                          "that run go on; the queue goes on when it is back.")

    # -- the jobs of a browser, elsewhere

    def lost(self, owner: str) -> list[dict]:
        """The jobs of the browser ``owner`` (an `owner_tag`) released with their silent process,
        oldest first, each told once: {"id", "state" (waiting or running), "created", "lost" (seconds
        since the epoch), "about" (the dict its job gave, or {} if it cannot be read)}."""
        query = (sa.select(lost.c.id, lost.c.state, lost.c.created, lost.c.lost, lost.c.what)
                 .where(lost.c.owner == owner).order_by(lost.c.id))
        with classdb._errors("read the lost trainings"):
            with self.engine.connect() as conn:  # nearly always none: no write lock for that
                if conn.execute(query.limit(1)).first() is None:
                    return []
            with writing(self.engine) as conn:  # told once, even to two tabs looking at once
                found = conn.execute(query.with_for_update() if conn.dialect.name == "postgresql" else query).all()
                conn.execute(lost.delete().where(lost.c.id.in_([r.id for r in found])))
        return [{"id": r.id, "state": r.state, "created": r.created, "lost": r.lost, "about": _read_about(r.what)}
                for r in found]

    def elsewhere(self, owner: str) -> int:
        """How many jobs of the browser ``owner`` are in the line for other processes: if one of
        them has crashed, `lost` will tell once the heartbeat timeout has passed."""
        with classdb._errors("read the queue"), self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(jobs)
                                .where(jobs.c.owner == owner, jobs.c.process != self.process)).scalar_one()

    # -- the copy of the line

    def _current(self):
        """The line as last read; read afresh if the copy is older than a second (no job here to
        keep it fresh, e.g. for a page's queue line)."""
        if time.monotonic() - self._line_at > 1.0:
            try:
                with self.engine.connect() as conn:
                    line = self._read(conn)
                with self._cond:
                    self._line, self._line_at = line, time.monotonic()
                self.error = None if self._thread is None else self.error
            except SQLAlchemyError as e:
                self._failed(e)
                self._line_at = time.monotonic()  # try again in a second, not at every call
        with self._cond:  # this process's own jobs as they are now, not as last read
            mine = set(self._rows.values())
            return tuple(r for r in self._line if r[2] != self.process or r[0] in mine)

    def _line_of_host(self):
        return [r for r in self._current() if r[1] == self.host]

    def capacity(self) -> int:
        """How many jobs the class trains at once: the slots of the hosts that have jobs, or this one's."""
        line = self._current()
        if time.monotonic() - self._hosts_at > 5.0:  # hosts change seldom: read them every 5 s at most
            try:
                with self.engine.connect() as conn:
                    self._hosts = dict(conn.execute(sa.select(hosts.c.host, hosts.c.slots)).all())
            except SQLAlchemyError:
                self._hosts = {}
            self._hosts_at = time.monotonic()
        slots = self._hosts
        busy = {r[1] for r in line} | {self.host}
        return sum(slots.get(h, 0) for h in busy) or self.limit


def _about(job) -> tuple[str | None, str | None]:
    """(owner, JSON of the rest) of a job's ``about`` dict, if it has one that fits."""
    about = dict(getattr(job, "about", None) or {})
    owner = about.pop("owner", None)
    if not isinstance(owner, str) or not owner:
        return None, None
    try:
        what = json.dumps(about, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        what = None
    return owner[:64], what if what is not None and len(what) <= classdb.ABOUT_CHARS else None


def _read_about(text) -> dict:
    """The ``about`` dict a lost job's row holds (the database is not trusted: {} if it is not one)."""
    try:
        about = json.loads(text) if isinstance(text, str) and len(text) <= classdb.ABOUT_CHARS else {}
    except ValueError:
        return {}
    return about if isinstance(about, dict) else {}
