"""The class database on SQLite and on PostgreSQL (the same tests): the schema made and upgraded,
the class handwriting set stored, split, exported in IDX and read back, hostile values refused,
failures said in a sentence with nothing lost."""
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import sqlalchemy as sa

from mlp.data import _parse_idx, read_idx, to_idx
from playground import classdb
from playground.classdb import ClassDBError, Refused

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def digit(k):
    image = np.zeros((28, 28), np.uint8)
    image[4 + k:10 + k, 8:20] = 255
    return image


def test_the_schema_is_made_once_and_migrate_again_changes_nothing(class_db_url):
    engine = classdb.engine_for(class_db_url)
    with engine.connect() as conn:
        assert classdb.version(conn) == 0
    assert classdb.migrate(engine) == classdb.SCHEMA
    classdb.add(engine, digit(1), 1, "ada")
    assert classdb.migrate(engine) == classdb.SCHEMA
    assert len(classdb.listing(engine)) == 1
    if class_db_url.startswith("sqlite"):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_an_upgrade_keeps_what_is_stored(class_db_url, monkeypatch):
    engine = classdb.engine_for(class_db_url)
    classdb.migrate(engine)
    kept = classdb.add(engine, digit(2), 2, "grace")

    def add_a_column(conn):  # the next version of the schema: a column more
        conn.execute(sa.text("ALTER TABLE samples ADD COLUMN source VARCHAR(16)"))
    monkeypatch.setitem(classdb.MIGRATIONS, classdb.SCHEMA + 1, add_a_column)
    monkeypatch.setattr(classdb, "SCHEMA", classdb.SCHEMA + 1)
    assert classdb.migrate(engine) == classdb.SCHEMA
    with engine.connect() as conn:
        assert "source" in [c["name"] for c in sa.inspect(conn).get_columns("samples")]
    [sample] = classdb.listing(engine)
    assert sample.id == kept and sample.label == 2 and sample.nickname == "grace"
    np.testing.assert_array_equal(sample.image, digit(2))


def test_a_database_of_a_newer_version_is_refused(db):
    with db.begin() as conn:
        conn.execute(classdb.meta.update().values(value=str(classdb.SCHEMA + 1)))
    with pytest.raises(ClassDBError, match="newer version"):
        classdb.migrate(db)


def test_two_processes_make_the_schema_at_once(class_db_url):
    code = ("import sys; sys.path.insert(0, %r); from playground import classdb; "
            "print(classdb.migrate(classdb.engine_for(sys.argv[1])))" % ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", code, class_db_url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o.strip() for o, _ in outs] == [str(classdb.SCHEMA)] * 2


def test_add_list_count_delete(db):
    ids = [classdb.add(db, digit(k % 3), k % 3, f"student {k}") for k in range(7)]
    assert len(set(ids)) == 7
    assert [s.id for s in classdb.listing(db)] == sorted(ids)
    ones = classdb.listing(db, label=1)
    assert [s.label for s in ones] == [1, 1] and all((s.image == digit(1)).all() for s in ones)
    assert classdb.counts(db) == {(0, None): 3, (1, None): 2, (2, None): 2}
    assert classdb.delete(db, [ones[0].id, 10**9]) == 1
    assert classdb.counts(db)[(1, None)] == 1
    assert classdb.delete(db, []) == 0


def test_freeze_splits_each_label_and_keeps_an_earlier_split(db):
    for k in range(30):
        classdb.add(db, digit(k % 3), k % 3, "x")
    added = classdb.freeze(db, test_share=0.2, seed=1)
    assert added == {"train": 24, "test": 6}
    counts = classdb.counts(db)
    assert all(counts[(c, "test")] == 2 and counts[(c, "train")] == 8 for c in range(3))
    test_ids = {s.id for s in classdb.listing(db, split="test")}
    new = classdb.add(db, digit(0), 0, "late")
    assert classdb.listing(db, split=None)[0].id == new
    classdb.freeze(db, test_share=0.5, seed=2)  # only the new one is placed; the test set stays
    assert test_ids <= {s.id for s in classdb.listing(db, split="test")}
    assert not classdb.listing(db, split=None)
    with pytest.raises(Refused):
        classdb.freeze(db, test_share=1.0)


def test_export_is_mnist_idx_that_mlp_reads_back(db, tmp_path):
    for k in range(10):
        classdb.add(db, digit(k % 5), k % 5, "x")
    classdb.freeze(db, 0.2, seed=0)
    with zipfile.ZipFile(io.BytesIO(classdb.export_idx(db))) as z:
        assert sorted(z.namelist()) == sorted(f"class-{s}-{w}" for s in ("train", "test")
                                              for w in ("images-idx3-ubyte", "labels-idx1-ubyte"))
        z.extractall(tmp_path)
    for split in ("train", "test"):
        x = read_idx(tmp_path / f"class-{split}-images-idx3-ubyte")
        y = read_idx(tmp_path / f"class-{split}-labels-idx1-ubyte")
        xs, ys = classdb.arrays(db, split)
        np.testing.assert_array_equal(x, xs)
        np.testing.assert_array_equal(y, ys)
        assert x.shape == (len(y), 28, 28) and x.dtype == np.uint8
    assert len(read_idx(tmp_path / "class-test-labels-idx1-ubyte")) == 5
    # an empty split is a valid IDX file too
    assert _parse_idx(to_idx(np.zeros((0, 28, 28), np.uint8)), tmp_path).shape == (0, 28, 28)


@pytest.mark.parametrize("name, stored", [("  Ada   Lovelace ", "Ada Lovelace"),
                                          ("**bold** <b>x</b>", "**bold** <b>x</b>"),
                                          ("zoë\u200b", "zoë"), ("a\tb\nc", "a b c")])
def test_nicknames_are_stored_as_plain_text(db, name, stored):
    classdb.add(db, digit(0), 0, name)
    assert classdb.listing(db)[0].nickname == stored  # shown as plain text wherever it is shown


@pytest.mark.parametrize("name", ["", "   ", "\x00\x01", "x" * 25, "x" * 10_000, None, 12, ["ada"]])
def test_hostile_nicknames_are_refused_and_nothing_is_stored(db, name):
    with pytest.raises(Refused):
        classdb.add(db, digit(0), 0, name)
    assert classdb.listing(db) == []


@pytest.mark.parametrize("label", [10, -1, True, "3", 2.0, None])
def test_hostile_labels_are_refused(db, label):
    with pytest.raises(Refused, match="label"):
        classdb.add(db, digit(0), label, "ada")


@pytest.mark.parametrize("image", [np.zeros((28, 27), np.uint8), np.zeros((28, 28), np.float32),
                                   np.zeros((784,), np.uint8), "pixels"])
def test_hostile_images_are_refused(db, image):
    with pytest.raises(Refused, match="28 × 28"):
        classdb.add(db, image, 1, "ada")


def test_a_full_class_set_says_so(db, monkeypatch):
    monkeypatch.setattr(classdb, "MAX_SAMPLES", 3)
    for _ in range(3):
        classdb.add(db, digit(0), 0, "ada")
    with pytest.raises(ClassDBError, match="full"):
        classdb.add(db, digit(0), 0, "ada")
    assert len(classdb.listing(db)) == 3


def test_a_locked_sqlite_file_is_said_and_nothing_stored_is_lost(tmp_path):
    url = f"sqlite:///{tmp_path / 'class.sqlite'}"
    engine = classdb.engine_for(url, lock_timeout=0.2)
    classdb.migrate(engine)
    classdb.add(engine, digit(3), 3, "ada")
    other = classdb.engine_for(url).connect()
    other.exec_driver_sql("BEGIN EXCLUSIVE")  # another process holds the file
    try:
        with pytest.raises(ClassDBError, match="could not store the drawing: another process holds it locked"):
            classdb.add(engine, digit(4), 4, "grace")
    finally:
        other.exec_driver_sql("ROLLBACK")
        other.close()
    assert [s.nickname for s in classdb.listing(engine)] == ["ada"]
    classdb.add(engine, digit(4), 4, "grace")  # free again: it works
    assert len(classdb.listing(engine)) == 2


def test_a_database_that_cannot_be_reached_is_said():
    engine = classdb.engine_for("postgresql+psycopg://nobody:nothing@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(ClassDBError, match="could not prepare: it cannot be reached"):
        classdb.migrate(engine)


def test_a_full_disk_is_said_and_nothing_stored_is_lost(tmp_path):
    """SQLite's own "database or disk is full", from a file that may not grow by another page."""
    url = f"sqlite:///{tmp_path / 'class.sqlite'}"
    engine = classdb.engine_for(url)
    classdb.migrate(engine)
    classdb.add(engine, digit(3), 3, "ada")
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    full = classdb.engine_for(url)
    sa.event.listen(full, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count = {pages}"))
    with pytest.raises(ClassDBError, match="could not store the drawing: its disk is full"):
        for k in range(50):  # the file's last free pages fill first
            classdb.add(full, digit(k % 10), k % 10, "grace")
    kept = classdb.listing(engine)
    assert kept[0].nickname == "ada" and len(kept) < 50
    np.testing.assert_array_equal(kept[0].image, digit(3))
    classdb.add(engine, digit(5), 5, "grace")  # with room again, it works
    assert len(classdb.listing(engine)) == len(kept) + 1


def test_the_first_schema_is_upgraded_to_this_one_keeping_its_samples(class_db_url):
    engine = classdb.engine_for(class_db_url)
    assert classdb.migrate(engine, target=1) == 1
    classdb.add(engine, digit(2), 2, "ada")
    assert not sa.inspect(engine).has_table("jobs")
    assert classdb.migrate(engine) == classdb.SCHEMA
    tables = set(sa.inspect(engine).get_table_names())
    assert {"samples", "hosts", "processes", "jobs", "challenges", "submissions", "lost"} <= tables
    [kept] = classdb.listing(engine)
    assert (kept.label, kept.nickname) == (2, "ada")


def test_the_third_schema_s_queue_is_upgraded_to_say_whose_jobs_are(class_db_url):
    """A database of schema 3 as that version made it (its jobs table without owner and what) gets
    both columns and the lost table, keeping a job that waits in it."""
    engine = classdb.engine_for(class_db_url)
    assert classdb.migrate(engine, target=3) == 3
    with engine.begin() as conn:
        for column in ("owner", "what"):
            conn.exec_driver_sql(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.exec_driver_sql("INSERT INTO jobs (host, process, state, created, seconds_left) "
                             "VALUES ('h', 'h:1:x', 'waiting', 1.0, 5.0)")
    assert classdb.migrate(engine) == classdb.SCHEMA == 4
    inspector = sa.inspect(engine)
    assert {"owner", "what"} <= {c["name"] for c in inspector.get_columns("jobs")} and inspector.has_table("lost")
    with engine.connect() as conn:
        assert conn.execute(sa.select(classdb.jobs.c.process, classdb.jobs.c.owner)).all() == [("h:1:x", None)]
