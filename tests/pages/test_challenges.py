"""Challenges under AppTest, on SQLite and on PostgreSQL: the teacher sets them (only with the
token), a student submits a run trained in the tab and sees it ranked, the rules, the pace, a
hidden leaderboard and a closed challenge; typed text echoed as plain text."""
import time

import pytest

from playground import challenges, classdb, classroom
from tests.pages.helpers import MARKDOWN, interpreted, open_page, texts, wait_for_job

TOKEN = "a-teacher-token-of-some-length"


@pytest.fixture
def class_env(class_db_url, monkeypatch):
    monkeypatch.setenv(classroom.ENV_DB, class_db_url)
    monkeypatch.setenv(classroom.ENV_TOKEN, TOKEN)
    monkeypatch.setattr(classroom, "_ready", set())
    engine = classdb.engine_for(class_db_url)
    classdb.migrate(engine)
    yield engine
    engine.dispose()


def signed_in(app):
    open_page(app, "teacher")
    app.text_input(key="teacher_token").set_value(TOKEN)
    app.button[0].click().run()
    assert not app.exception and "This page is the teacher's" not in texts(app.info)
    return app


def trained(app):
    """A small run of this tab, in its run history."""
    open_page(app, "train")
    app.select_slider(key="train_size").set_value(1000).run()
    app.slider(key="max_iter").set_value(1).run()
    app.button(key="train").click().run()
    wait_for_job(app)
    return app


def test_only_the_teacher_sets_challenges(app, class_env):
    open_page(app, "teacher")
    assert "ch_title" not in [t.key for t in app.text_input]
    signed_in(app)
    title = MARKDOWN[0] + " <b>x</b>"
    app.text_input(key="ch_title").set_value(title)
    app.radio(key="ch_goal").set_value("mnist_test")
    [form_button] = [b for b in app.button if b.label == "Create the challenge"]
    form_button.click().run()
    assert not app.exception
    [made] = challenges.listing(class_env)
    assert (made.title, made.goal, made.rules) == (title[:challenges.TITLE_CHARS], "mnist_test", challenges.Rules())
    shown = [m.value for m in app.markdown if "Best accuracy on MNIST test" in m.value]
    assert shown and not interpreted(shown[0].replace("**", ""))  # our own bold only


def test_a_student_submits_a_run_and_sees_it_ranked(app, class_env):
    first = challenges.create(class_env, "Best on MNIST", "mnist_test", time.time() + 3600)
    sgd = challenges.create(class_env, "Plain SGD", "mnist_test", time.time() + 3600, challenges.Rules(("sgd",)))
    trained(app)
    open_page(app, "challenges")
    assert app.selectbox(key="challenge").value == sgd  # the newest first
    assert any(t.startswith("This run cannot enter: it trained with adam") for t in texts(app.warning))
    assert app.button(key="challenge_submit").disabled
    app.session_state["challenge"] = first
    app.run()
    nickname = "**<b>x</b>** [a](http://e.x)"[:classdb.NICKNAME_CHARS]
    app.text_input(key="nickname").set_value(nickname).run()
    app.button(key="challenge_submit").click().run()
    assert not app.exception and not app.error, texts(app.error)
    [said] = texts(app.success)
    assert said.startswith("Scored ") and "your best so far" in said and not interpreted(said)
    [entry] = challenges.leaderboard(class_env, first)
    assert entry.nickname == nickname and entry.rank == 1
    table = app.dataframe[0].value
    assert list(table["nickname"]) == [nickname] and list(table["rank"]) == [1]

    app.button(key="challenge_submit").click().run()  # at once again: the tab's pace
    assert any(t.startswith("One submission every 5 seconds") for t in texts(app.error))
    app.session_state["challenge_sent"] = []
    app.button(key="challenge_submit").click().run()  # the same run again: it does not rank better
    assert any("Your earlier run ranks at least as well" in t for t in texts(app.info))
    assert len(challenges.leaderboard(class_env, first)) == 1

    challenges.set_hidden(class_env, first, True)
    app.run()
    assert "The teacher has hidden the leaderboard for now." in texts(app.info) and not app.dataframe
    challenges.set_closed(class_env, first, True)
    app.run()
    assert "This challenge takes no more runs." in texts(app.info)
    assert "challenge_submit" not in [b.key for b in app.button]


def test_a_hostile_nickname_is_refused_with_nothing_stored(app, class_env):
    made = challenges.create(class_env, "Best on MNIST", "mnist_test", time.time() + 3600)
    trained(app)
    open_page(app, "challenges")
    for bad in ["", "\x00\x07"]:
        app.session_state["challenge_sent"] = []
        app.text_input(key="nickname").set_value(bad).run()
        app.button(key="challenge_submit").click().run()
        assert not app.exception and app.error
    assert challenges.leaderboard(class_env, made) == []


def test_with_no_challenge_the_page_says_so(app, class_env):
    open_page(app, "challenges")
    assert texts(app.info) == ["No challenge yet: your teacher sets them on the Class set page."]
