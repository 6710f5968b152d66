"""The class set under AppTest, on SQLite and on PostgreSQL: students add drawings from the Draw page
(hostile nicknames and labels refused, a per-tab pace), the teacher's page opens only with the
token, browses, deletes, freezes a split and downloads it in IDX."""
import io
import zipfile

import numpy as np
import pytest

from mlp import analysis
from mlp.data import _parse_idx
from playground import classdb, classroom
from tests.pages.helpers import MARKDOWN, charts, drawing, interpreted, metrics, open_page, texts, wait_for_job

TOKEN = "a-teacher-token-of-some-length"


@pytest.fixture
def class_env(class_db_url, monkeypatch):
    """The app's class database at ``class_db_url`` and a teacher token; the schema is made afresh."""
    monkeypatch.setenv(classroom.ENV_DB, class_db_url)
    monkeypatch.setenv(classroom.ENV_TOKEN, TOKEN)
    monkeypatch.setattr(classroom, "_ready", set())   # a wiped database is prepared again
    engine = classdb.engine_for(class_db_url)
    classdb.migrate(engine)
    yield engine
    engine.dispose()


def add_from_draw(app, digit, label, nickname):
    app.session_state["canvas-0"] = drawing(digit)
    app.run()
    app.selectbox(key=next(k for k in app.session_state if str(k).startswith("truth-"))).set_value(label)
    app.text_input(key="nickname").set_value(nickname)
    app.session_state["class_added"] = []  # the pace between two additions is tested on its own
    app.button(key="class_add").click().run()
    assert not app.exception, [e.value for e in app.exception]


def test_a_student_adds_a_drawing_with_its_label_and_nickname(app, fast_trainer, class_env):
    open_page(app, "draw", trainer=fast_trainer)
    add_from_draw(app, 7, 7, "  Ada  ")
    assert texts(app.success) == ["Added to the class set as a 7, by ` Ada `."]
    [sample] = classdb.listing(class_env)
    assert (sample.label, sample.nickname, sample.split) == (7, "Ada", None)
    np.testing.assert_array_equal(sample.image, np.rint(app.session_state["drawing"] * 255).astype(np.uint8))
    add_from_draw(app, 1, 4, "Ada")  # the label the student gives, not the prediction
    assert [s.label for s in classdb.listing(class_env)] == [7, 4]


def test_a_tab_adds_at_its_pace(app, fast_trainer, class_env):
    open_page(app, "draw", trainer=fast_trainer, **{"canvas-0": drawing(3)})
    app.text_input(key="nickname").set_value("grace")
    app.button(key="class_add").click().run()
    app.button(key="class_add").click().run()
    assert any(e.value.startswith("Not added: One drawing every 3 seconds") for e in app.error)
    assert len(classdb.listing(class_env)) == 1


@pytest.mark.parametrize("nickname", ["", "x" * 10_000, "\x00\x07", *MARKDOWN])
def test_hostile_nicknames_are_refused_or_shown_as_plain_text(app, fast_trainer, class_env, nickname):
    open_page(app, "draw", trainer=fast_trainer)
    add_from_draw(app, 2, 2, nickname)
    stored = classdb.listing(class_env)
    if nickname.strip("\x00\x07"):  # Streamlit cuts what is typed to the field's 24 characters
        assert [s.nickname for s in stored] == [nickname[:classdb.NICKNAME_CHARS].strip()]
        assert not interpreted(app.success[0].value)  # echoed as plain text
    else:
        assert stored == []
        assert app.error[0].value.startswith("Not added: Give a nickname")
        assert app.session_state["drawing"] is not None  # nothing lost: the drawing is still there


def test_the_teacher_page_needs_the_token(app, class_env, monkeypatch):
    classdb.add(class_env, np.zeros((28, 28), np.uint8), 0, "ada")
    open_page(app, "teacher")
    assert app.title[0].value == "Class set"
    assert "This page is the teacher's" in app.info[0].value
    assert not app.dataframe and not app.get("download_button")
    for wrong in ["", "a-teacher-token-of-some-lengtH", TOKEN + "x", "x" * 10_000, TOKEN.upper()]:  # 5 wrong
        app.text_input(key="teacher_token").set_value(wrong)
        app.button[0].click().run()
        assert not app.exception
        assert "This page is the teacher's" in app.info[0].value
    assert any("Too many wrong tokens" in e.value or "not the teacher token" in e.value for e in app.error)
    # five wrong tokens: the right one must wait too
    app.text_input(key="teacher_token").set_value(TOKEN)
    app.button[0].click().run()
    assert any(e.value.startswith("Too many wrong tokens: wait") for e in app.error)
    assert "This page is the teacher's" in app.info[0].value
    app.session_state["teacher_wait_until"] = 0  # the minute has passed
    app.text_input(key="teacher_token").set_value(TOKEN)
    app.button[0].click().run()
    assert not app.info and app.dataframe  # open
    assert not app.query_params  # the token never goes into the address


def test_no_token_on_the_server_says_how_to_set_one(app, class_env, monkeypatch):
    monkeypatch.setenv(classroom.ENV_TOKEN, "short")  # too short to be safe: not accepted
    open_page(app, "teacher")
    app.text_input(key="teacher_token").set_value("short")
    app.button[0].click().run()
    assert app.error[0].value.startswith("No teacher token is set on this server")


def test_the_teacher_browses_deletes_freezes_and_downloads(app, class_env):
    for k in range(12):
        classdb.add(class_env, np.full((28, 28), k, np.uint8), k % 3, f"s{k}")
    open_page(app, "teacher", teacher_token=TOKEN)
    app.button[0].click().run()
    assert not app.exception and not app.info
    counts = app.dataframe[0].value
    assert list(counts.iloc[0])[:4] == ["not split yet", 4, 4, 4]
    # the drawings of label 0 (the first shown): tick one, delete it
    rows = classdb.listing(class_env, label=0)
    assert app.session_state["class_label"] == 0 and len(rows) == 4
    app.session_state["class_rows_0"] = {"edited_rows": {0: {"delete": True}}, "added_rows": [], "deleted_rows": []}
    app.run()
    assert app.button(key="class_delete").label == "Delete 1 drawing"
    app.button(key="class_delete").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert rows[0].id not in {s.id for s in classdb.listing(class_env)}
    assert len(classdb.listing(class_env)) == 11
    # freeze: a fifth of each label (at least one) into class-test; then the IDX download holds them
    app.button(key="class_freeze").click().run()
    assert "8 drawings went to class-train and 3 to class-test." in texts(app.success)
    assert not classdb.listing(class_env, split=None)
    assert app.button(key="class_freeze").disabled  # nothing left to split
    zipped = classdb.export_idx(class_env)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        labels = _parse_idx(z.read("class-test-labels-idx1-ubyte"), "class-test-labels")
    assert len(labels) == len(classdb.listing(class_env, split="test"))
    assert app.get("download_button")
    # signing out closes the page again
    app.button(key="teacher_sign_out").click().run()
    assert "This page is the teacher's" in app.info[0].value


def test_evaluate_compares_the_class_test_with_mnist_and_fine_tunes(app, fast_trainer, class_env, mnist):
    open_page(app, "evaluate", trainer=fast_trainer)
    assert any("Once your teacher has frozen a split" in c.value for c in app.caption)
    # the class's drawings: test digits turned by 45 degrees, a shift MNIST's network reads badly
    turned = np.round(analysis.perturb(mnist.x_test[:300], "rotate", 45) * 255).astype(np.uint8)
    for image, label in zip(turned.reshape(-1, 28, 28), mnist.y_test[:300]):
        classdb.add(class_env, image, int(label), "class")
    classdb.freeze(class_env, 0.3, seed=0)
    n_train = len(classdb.listing(class_env, split="train"))
    app.run()
    shown = metrics(app)
    before = float(shown["Class test"].rstrip("%")) / 100
    assert before < 0.6 and shown["Class-train drawings"] == str(n_train)
    bars = next(c for c in charts(app) if c["layout"].get("barmode") == "group")
    assert [t["name"] for t in bars["data"]] == ["MNIST test", "class test"]
    app.button(key="fine_tune").click().run()
    assert not app.exception, [e.value for e in app.exception]
    wait_for_job(app)
    after = float(metrics(app)["Class test"].rstrip("%")) / 100
    assert after > before + 0.15, (before, after)
    line = next(m.value for m in app.markdown if m.value.startswith("**After fine-tuning:**"))
    assert f"class test {before:.1%} → **{after:.1%}**" in line
    assert list(app.session_state["runs"])[-1].label.endswith(f"fine-tuned on {n_train} class drawings")
