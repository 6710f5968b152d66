"""The class database: what a class shares across all its server processes, starting with its own
handwriting set.

SQLAlchemy Core on an embedded SQLite file by default (WAL, safe for several processes on one
machine) or PostgreSQL by URL (several machines). The schema is the app's: `migrate` creates it on
first use and upgrades it, one numbered step at a time, recorded in the ``meta`` table. No
Streamlit here (`playground.classroom` gives the pages their engine through ``st.connection``), so
tests, benchmarks and several processes use the same functions.

Only what the class shares lives here; a tab's own runs stay in its memory.
"""
import io
import re
import time
import unicodedata
import zipfile
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from mlp.data import to_idx

SCHEMA = 4                 # the schema this code makes and reads
MAX_SAMPLES = 20_000       # samples one class keeps (about 16 MB of images)
NICKNAME_CHARS = 24
ABOUT_CHARS = 3000         # what a queued job says of itself (JSON), at most
SHAPE = (28, 28)

metadata = sa.MetaData()
meta = sa.Table("meta", metadata,
                sa.Column("key", sa.String(32), primary_key=True),
                sa.Column("value", sa.String(64), nullable=False))
samples = sa.Table("samples", metadata,
                   sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                   sa.Column("image", sa.LargeBinary, nullable=False),        # 784 bytes, row by row
                   sa.Column("label", sa.SmallInteger, nullable=False),
                   sa.Column("nickname", sa.String(NICKNAME_CHARS), nullable=False),
                   sa.Column("created", sa.Float, nullable=False),           # seconds since the epoch
                   sa.Column("split", sa.String(5)),                         # None, "train" or "test"
                   sa.Index("samples_by_label", "label", "id"))

# the class's training queue (playground.classqueue)
hosts = sa.Table("hosts", metadata,                                           # a machine and its training slots
                 sa.Column("host", sa.String(64), primary_key=True),
                 sa.Column("slots", sa.Integer, nullable=False))
processes = sa.Table("processes", metadata,                                   # an app process that has jobs
                     sa.Column("id", sa.String(96), primary_key=True),        # host:pid:random
                     sa.Column("host", sa.String(64), nullable=False),
                     sa.Column("heartbeat", sa.Float, nullable=False))        # seconds since the epoch
jobs = sa.Table("jobs", metadata,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # its place in the queue
                sa.Column("host", sa.String(64), nullable=False),
                sa.Column("process", sa.String(96), nullable=False),
                sa.Column("state", sa.String(8), nullable=False),                   # waiting or running
                sa.Column("created", sa.Float, nullable=False),
                sa.Column("started", sa.Float),
                sa.Column("seconds_left", sa.Float, nullable=False),                # roughly, as its process last said
                sa.Column("owner", sa.String(64)),   # a tag of the browser that started it (classqueue.owner_tag)
                sa.Column("what", sa.String(ABOUT_CHARS)),  # JSON: its settings, data set and kind, for a report
                sa.Index("jobs_by_host", "host", "state", "id"))
lost = sa.Table("lost", metadata,   # jobs released with their silent process, until their owner is told
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("job", sa.Integer, nullable=False),                       # the id it had in jobs
                sa.Column("owner", sa.String(64), nullable=False),
                sa.Column("state", sa.String(8), nullable=False),                   # waiting or running, then
                sa.Column("created", sa.Float, nullable=False),                     # when it came in the line
                sa.Column("lost", sa.Float, nullable=False),                        # when it was released
                sa.Column("what", sa.String(ABOUT_CHARS)),
                sa.Index("lost_by_owner", "owner"))

# challenges the teacher sets, and the runs students submit to them (playground.challenges)
challenges = sa.Table("challenges", metadata,
                      sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                      sa.Column("title", sa.String(80), nullable=False),
                      sa.Column("goal", sa.String(16), nullable=False),          # a name of challenges.GOALS
                      sa.Column("threshold", sa.Float),                          # the accuracy a run must reach, if any
                      sa.Column("rules", sa.String(1000), nullable=False),       # JSON of challenges.Rules
                      sa.Column("deadline", sa.Float, nullable=False),           # seconds since the epoch
                      sa.Column("created", sa.Float, nullable=False),
                      sa.Column("hidden", sa.Boolean, nullable=False, default=False),  # the leaderboard
                      sa.Column("closed", sa.Boolean, nullable=False, default=False))
submissions = sa.Table("submissions", metadata,
                       sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                       sa.Column("challenge", sa.Integer, sa.ForeignKey("challenges.id", ondelete="CASCADE"),
                                 nullable=False),
                       sa.Column("nickname", sa.String(NICKNAME_CHARS), nullable=False),
                       sa.Column("score", sa.Float, nullable=False),             # accuracy on the hidden data
                       sa.Column("n_params", sa.Integer, nullable=False),
                       sa.Column("summary", sa.String(200), nullable=False),     # "128 64 · sgd · lr 0.1 · 5 epochs"
                       sa.Column("config", sa.String(2000), nullable=False),     # JSON of the run's TrainConfig
                       sa.Column("created", sa.Float, nullable=False),
                       sa.UniqueConstraint("challenge", "nickname"),             # a student's best run
                       sa.Index("submissions_by_challenge", "challenge", "score"))


class ClassDBError(Exception):
    """The class database cannot do what was asked; the message says why, in a sentence."""


class Refused(ValueError):
    """A value a visitor sent that is not stored; the message says why, in a sentence."""


# ----------------------------------------------------------------------------
# the engine and the schema


def engine_kwargs(url: str, lock_timeout: float = 10.0) -> dict:
    """What `sqlalchemy.create_engine` (or ``st.connection``) is given besides the URL: SQLite waits up
    to ``lock_timeout`` seconds for a lock another process holds (then says so); PostgreSQL checks a
    pooled connection before using it, so a restarted server costs no failed request."""
    return {"connect_args": {"timeout": lock_timeout}} if url.startswith("sqlite") else {"pool_pre_ping": True}


def engine_for(url: str, lock_timeout: float = 10.0) -> sa.Engine:
    """An engine for ``url`` as the app makes one (for tests, benchmarks and tools)."""
    return sa.create_engine(url, **engine_kwargs(url, lock_timeout))


def _write_ahead(engine, lock_timeout=10.0):
    """Put a SQLite file in write-ahead-log mode (kept in the file once set): readers then never
    wait for a writer. Switching needs the file to itself, and SQLite does not wait for that, so a
    process that finds another one in the file tries again until the lock timeout."""
    deadline = time.monotonic() + lock_timeout
    with engine.connect() as conn:
        while conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() != "wal":
            try:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


def _create_v1(conn):
    metadata.create_all(conn, tables=[samples], checkfirst=True)


def _create_v2(conn):
    metadata.create_all(conn, tables=[hosts, processes, jobs], checkfirst=True)


def _create_v3(conn):
    metadata.create_all(conn, tables=[challenges, submissions], checkfirst=True)


def _create_v4(conn):
    """Jobs say whose they are, so that a job lost with its process is reported to its owner."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
    for column in ("owner", "what"):  # a database made by v2 of this code has neither
        if column not in have:
            kind = jobs.c[column].type.compile(conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
    metadata.create_all(conn, tables=[lost], checkfirst=True)


# version -> the step from the one before to it
MIGRATIONS = {1: _create_v1, 2: _create_v2, 3: _create_v3, 4: _create_v4}


def version(conn) -> int:
    """The schema version of the database (0: none yet)."""
    if not sa.inspect(conn).has_table("meta"):
        return 0
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).first()
    return int(row[0]) if row else 0


def migrate(engine, target=None) -> int:
    """Create or upgrade the schema to ``target`` (default: `SCHEMA`), a step at a time, each in its
    own transaction; return the version reached. Several processes may call it at once: on
    PostgreSQL an advisory lock lets one at a time in, on SQLite the first write takes the lock."""
    target = SCHEMA if target is None else target
    with _errors("prepare"):
        if engine.dialect.name == "sqlite":
            _write_ahead(engine)
        for step in range(1, target + 1):
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7311)"))
                elif conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the version
                metadata.create_all(conn, tables=[meta], checkfirst=True)
                now = version(conn)
                if now > SCHEMA:
                    raise ClassDBError(f"the class database was made by a newer version of MNIST Playground "
                                       f"(schema {now}; this one knows up to {SCHEMA})")
                if now >= step:
                    continue
                MIGRATIONS[step](conn)
                if now == 0:
                    conn.execute(meta.insert().values(key="schema", value=str(step)))
                else:
                    conn.execute(meta.update().where(meta.c.key == "schema").values(value=str(step)))
        with engine.connect() as conn:
            return version(conn)


class _errors:
    """Turn a database failure into a ClassDBError with a sentence (the details go to the log)."""

    def __init__(self, doing):
        self.doing = doing

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _tb):
        if isinstance(error, SQLAlchemyError):
            text = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:160]
            if "locked" in text:
                why = "another process holds it locked"
            elif "disk" in text or "full" in text:
                why = "its disk is full"
            elif "read-only" in text or "readonly" in text:
                why = "its file is read-only"
            else:
                why = "it cannot be reached"
            raise ClassDBError(f"the class database could not {self.doing}: {why} ({text})") from error
        return False


# ----------------------------------------------------------------------------
# the class handwriting set


@dataclass(frozen=True)
class Sample:
    id: int
    image: np.ndarray   # (28, 28) uint8
    label: int
    nickname: str
    created: float
    split: str | None   # None until the teacher freezes a split, then "train" or "test"


def nickname(value) -> str:
    """A nickname as it is stored: plain text of 1 to NICKNAME_CHARS characters, no control
    characters, spaces collapsed. Anything else is refused with a sentence."""
    if not isinstance(value, str):
        raise Refused("A nickname is text.")
    if len(value) > 4 * NICKNAME_CHARS:  # refuse a huge value before working on it
        raise Refused(f"A nickname has at most {NICKNAME_CHARS} characters.")
    spaced = re.sub(r"\s+", " ", unicodedata.normalize("NFC", value))  # tabs and line breaks too
    text = re.sub(" +", " ", "".join(c for c in spaced if unicodedata.category(c)[0] != "C")).strip()
    if not text:
        raise Refused("Give a nickname, so that the class knows whose drawing it is.")
    if len(text) > NICKNAME_CHARS:
        raise Refused(f"A nickname has at most {NICKNAME_CHARS} characters (this one has {len(text)}).")
    return text


def _image(image) -> bytes:
    image = np.asarray(image)
    if image.shape != SHAPE or image.dtype != np.uint8:
        raise Refused("A sample is a 28 × 28 image of bytes.")
    return image.tobytes()


def _label(label, n_classes=10) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
        raise Refused(f"A label is a class from 0 to {n_classes - 1}.")
    return int(label)


def add(engine, image, label, name) -> int:
    """Store one drawing with its true label and its author's nickname; return its id."""
    row = dict(image=_image(image), label=_label(label), nickname=nickname(name), created=time.time())
    with _errors("store the drawing"), engine.begin() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(samples)).scalar_one() >= MAX_SAMPLES:
            raise ClassDBError(f"the class set is full ({MAX_SAMPLES:,} drawings); the teacher can delete some")
        return int(conn.execute(samples.insert().values(**row)).inserted_primary_key[0])


def _sample(row) -> Sample:
    image = np.frombuffer(row.image, np.uint8).reshape(SHAPE)
    return Sample(int(row.id), image, int(row.label), row.nickname, float(row.created), row.split)


def listing(engine, label=None, split="any", limit=1000) -> list[Sample]:
    """The samples, oldest first; of one ``label``, and of one ``split`` ("train", "test", None for
    not yet split, "any")."""
    query = sa.select(samples).order_by(samples.c.id).limit(int(limit))
    if label is not None:
        query = query.where(samples.c.label == _label(label))
    if split != "any":
        query = query.where(samples.c.split.is_(None) if split is None else samples.c.split == split)
    with _errors("read the class set"), engine.connect() as conn:
        return [_sample(r) for r in conn.execute(query)]


def counts(engine) -> dict:
    """{(label, split): count} of the whole set; split is None for samples not yet split."""
    query = sa.select(samples.c.label, samples.c.split, sa.func.count()).group_by(samples.c.label, samples.c.split)
    with _errors("read the class set"), engine.connect() as conn:
        return {(int(label), split): int(n) for label, split, n in conn.execute(query)}


def delete(engine, ids) -> int:
    """Delete the samples of these ids; return how many went."""
    ids = [int(i) for i in ids]
    if not ids:
        return 0
    with _errors("delete the drawings"), engine.begin() as conn:
        return conn.execute(samples.delete().where(samples.c.id.in_(ids))).rowcount


def freeze(engine, test_share=0.2, seed=0) -> dict:
    """Put every sample not yet split into class-train or class-test, ``test_share`` of each label
    (rounded, at least one when a label has two) into test, chosen by a seeded shuffle. Samples
    split before keep their side, so a class-test set stays unseen. Return {split: count added}."""
    if not 0 < float(test_share) < 1:
        raise Refused("The test share is between 0 and 1.")
    rng = np.random.default_rng(seed)
    added = {"train": 0, "test": 0}
    with _errors("freeze the split"), engine.begin() as conn:
        rows = conn.execute(sa.select(samples.c.id, samples.c.label).where(samples.c.split.is_(None))
                            .order_by(samples.c.id)).all()
        by_label = {}
        for i, label in rows:
            by_label.setdefault(label, []).append(i)
        for ids in by_label.values():
            ids = np.array(ids)[rng.permutation(len(ids))]
            n_test = max(1, round(len(ids) * test_share)) if len(ids) > 1 else 0
            for split, part in (("test", ids[:n_test]), ("train", ids[n_test:])):
                if len(part):
                    conn.execute(samples.update().where(samples.c.id.in_([int(i) for i in part])).values(split=split))
                    added[split] += len(part)
    return added


def arrays(engine, split) -> tuple[np.ndarray, np.ndarray]:
    """The images (n, 28, 28) uint8 and labels (n,) uint8 of one split ("train" or "test")."""
    rows = listing(engine, split=split, limit=MAX_SAMPLES)
    x = np.stack([s.image for s in rows]) if rows else np.zeros((0, *SHAPE), np.uint8)
    return x, np.array([s.label for s in rows], np.uint8)


def export_idx(engine) -> bytes:
    """A zip of the frozen split in MNIST's own IDX format: class-train-images-idx3-ubyte,
    class-train-labels-idx1-ubyte, class-test-images-idx3-ubyte, class-test-labels-idx1-ubyte."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for split in ("train", "test"):
            x, y = arrays(engine, split)
            z.writestr(f"class-{split}-images-idx3-ubyte", to_idx(x))
            z.writestr(f"class-{split}-labels-idx1-ubyte", to_idx(y))
    return buf.getvalue()
