"""Challenges on SQLite and on PostgreSQL (the same tests): set, listed, flagged and removed; real runs
checked against the rules, scored on the server and ranked; a student's better run kept; hostile
values refused before any work; students submitting at once."""
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

import mlp
from mlp.analysis import predict_all
from mlp.metrics import accuracy
from mlp.train import ConfigChange
from playground import challenges, classdb
from playground.challenges import Rules
from playground.classdb import ClassDBError, Refused
from playground.runs import RunHistory

HOUR = 3600.0


def filed(trainer, model=None, **config):
    """The trainer's run as the Train page files it, with ``config`` fields replaced (and ``model``)."""
    return RunHistory().add("mnist", {**trainer.start_config.to_dict(), **config}, trainer.history, "finished",
                            model or trainer.snapshot, trainer.changes)


BASE = mlp.preset("fast", train_size=2000, max_iter=1)  # 128 64, adam: a fraction of a second


def trained(mnist, config=BASE, add_epochs=0):
    t = mlp.Trainer(config, mnist)
    if add_epochs:
        for _ in t.run(steps=5):
            pass
        t.add_epochs(add_epochs)  # epochs added during the run
    for _ in t.run():
        pass
    return t


def widened(model):
    """``model`` (one hidden layer) with one more hidden unit that does nothing: the same answers,
    more parameters."""
    (W1, W2), (b1, b2) = model.coefs_, model.intercepts_
    wide = mlp.MLP([784, W1.shape[1] + 1, 10])
    wide.params[:] = 0
    wide.coefs_[0][:, :-1], wide.intercepts_[0][:-1] = W1, b1
    wide.coefs_[1][:-1], wide.intercepts_[1][:] = W2, b2
    return wide


@pytest.fixture(scope="module")
def runs(mnist):
    """Small real runs: adam 128-64, sgd 32, sgd 32 with an epoch added, adam 128-64 on distorted
    digits, and sgd 32 widened by a useless unit."""
    adam, sgd = trained(mnist), trained(mnist, replace(BASE, hidden_layer_sizes=(32,), solver="sgd",
                                                         learning_rate_init=0.1))
    return {"adam": filed(adam), "sgd": filed(sgd),
            "longer": filed(trained(mnist, sgd.start_config, add_epochs=1)),
            "distorted": filed(trained(mnist, BASE.distorted("light"))),
            "wide": filed(sgd, widened(sgd.snapshot), hidden_layer_sizes=[33])}


@pytest.fixture(scope="module")
def mnist_test(mnist):
    return mnist.x_test, mnist.y_test


def accuracy_of(run, x, y):
    return accuracy(y, predict_all(run.model, x).argmax(axis=1))


def class_test_set(db, mnist, n=40):
    for i in range(n):
        classdb.add(db, mnist.x_train[i], int(mnist.y_train[i]), "teacher")
    classdb.freeze(db, 0.5, seed=0)
    return classdb.arrays(db, "test")


def new(db, goal="mnist_test", title="Challenge", **kw):
    return challenges.create(db, title, goal, time.time() + HOUR, **kw)


# ----------------------------------------------------------------------------
# scores and ranks


def test_each_goal_scores_the_accuracy_on_its_own_test_set(db, runs, mnist, mnist_test):
    x_class, y_class = class_test_set(db, mnist)
    assert 10 <= len(y_class) < 40
    run = runs["adam"]
    on_mnist, on_class = accuracy_of(run, *mnist_test), accuracy_of(run, x_class, y_class)
    assert on_mnist == run.model.score(mnist.x_test.reshape(-1, 784) / np.float32(255), mnist.y_test)
    for goal, expected in [("mnist_test", on_mnist), ("class_test", on_class), ("fewest_params", on_mnist)]:
        c = challenges.get(db, new(db, goal, threshold=0.5 if goal == "fewest_params" else None))
        assert challenges.score(c, run.model, mnist_test, (x_class, y_class)) == expected
        entry, kept = challenges.submit(db, c.id, "ada", run, mnist_test, (x_class, y_class))
        assert kept and entry.score == expected and entry.n_params == run.model.n_params == 109_386
        assert entry.summary == "128 64 · adam · lr 0.002 · 1 epoch"
        assert challenges.leaderboard(db, c.id) == [replace(entry, rank=1)]
    not_yet = new(db, "class_test")
    with pytest.raises(Refused, match="not frozen a class test set"):
        challenges.score(challenges.get(db, not_yet), run.model, mnist_test, None)
    with pytest.raises(Refused, match="not frozen a class test set"):
        challenges.submit(db, not_yet, "ada", run, mnist_test, (x_class[:0], y_class[:0]))
    assert challenges.leaderboard(db, not_yet) == []


def test_the_leaderboard_ranks_by_score_then_fewer_parameters_then_the_earlier_submission(db, runs, mnist_test):
    wide, sgd, adam = runs["wide"], runs["sgd"], runs["adam"]
    assert accuracy_of(wide, *mnist_test) == accuracy_of(sgd, *mnist_test) < accuracy_of(adam, *mnist_test)
    c = new(db)
    for nick, run in [("wide", wide), ("sgd late", sgd), ("adam", adam), ("sgd", sgd)]:
        challenges.submit(db, c, nick, run, mnist_test, None, now=time.time() + {"sgd": -60}.get(nick, 0))
    board = challenges.leaderboard(db, c)
    assert [(e.rank, e.nickname) for e in board] == [(1, "adam"), (2, "sgd"), (2, "sgd late"), (4, "wide")]
    assert [e.n_params for e in board] == [109_386, 25_450, 25_450, 26_245]
    assert [(e.rank, e.nickname) for e in challenges.leaderboard(db, c, limit=2)] == [(1, "adam"), (2, "sgd")]


def test_fewest_parameters_ranks_by_size_and_refuses_a_run_below_the_threshold(db, runs, mnist_test):
    low, high = accuracy_of(runs["sgd"], *mnist_test), accuracy_of(runs["adam"], *mnist_test)
    c = new(db, "fewest_params", threshold=round(low - 0.01, 3))
    for nick in ("adam", "wide", "sgd"):
        challenges.submit(db, c, nick, runs[nick], mnist_test, None)
    assert [(e.rank, e.nickname, e.n_params) for e in challenges.leaderboard(db, c)] == \
        [(1, "sgd", 25_450), (2, "wide", 26_245), (3, "adam", 109_386)]
    strict = new(db, "fewest_params", threshold=round((low + high) / 2, 3))
    with pytest.raises(Refused, match=f"reaches {low:.1%} on MNIST test; this challenge asks for at least"):
        challenges.submit(db, strict, "sgd", runs["sgd"], mnist_test, None)
    assert challenges.leaderboard(db, strict) == []
    assert challenges.get(db, strict).goal_text.startswith(f"At least {round((low + high) / 2, 3) * 100:g}% on MNIST")


def test_a_students_better_run_replaces_the_stored_one_and_no_other_does(db, runs, mnist_test):
    c = new(db)
    first, kept = challenges.submit(db, c, "ada", runs["sgd"], mnist_test, None)
    assert kept
    better, kept = challenges.submit(db, c, "ada", runs["adam"], mnist_test, None)
    assert kept and better.score > first.score
    again, kept = challenges.submit(db, c, "ada", runs["sgd"], mnist_test, None)   # worse
    assert not kept and again.score == first.score
    same, kept = challenges.submit(db, c, "ada", runs["adam"], mnist_test, None)   # as good, later
    assert not kept
    [entry] = challenges.leaderboard(db, c)
    assert (entry.score, entry.n_params, entry.summary, entry.created) == \
        (better.score, better.n_params, better.summary, better.created)
    assert '"solver":"adam"' in entry.config
    # fewest parameters: the smaller network that reaches the threshold wins
    small = new(db, "fewest_params", threshold=0.1)
    challenges.submit(db, small, "ada", runs["adam"], mnist_test, None)
    assert challenges.submit(db, small, "ada", runs["wide"], mnist_test, None)[1]
    assert challenges.submit(db, small, "ada", runs["sgd"], mnist_test, None)[1]
    assert not challenges.submit(db, small, "ada", runs["wide"], mnist_test, None)[1]
    assert [e.n_params for e in challenges.leaderboard(db, small)] == [25_450]


# ----------------------------------------------------------------------------
# rules


def switched(run, field, value, old):
    return replace(run, changes=[*run.changes, ConfigChange(5, 0.3, field, value, old)])


@pytest.mark.parametrize("rules, run, change, why", [
    (Rules(solvers=("sgd",)), "adam", None, "it trained with adam; this challenge allows only sgd"),
    (Rules(solvers=("sgd", "momentum")), "sgd", ("solver", "adam", "sgd"),
     "it trained with adam; this challenge allows only sgd or momentum"),
    (Rules(max_params=100_000), "adam", None, "it has 109,386 parameters; this challenge allows at most 100,000"),
    (Rules(max_layers=1), "adam", None, "it has 2 hidden layers; this challenge allows at most 1"),
    (Rules(max_epochs=1), "longer", None, "it trained 2 epochs; this challenge allows at most 1"),
    (Rules(augment=False), "distorted", None, "it trained on distorted digits (rotate, scale, shear, shift, "),
    (Rules(augment=False), "sgd", ("rotate", 10.0, 0.0), "it trained on distorted digits (rotate)"),
    (Rules(), "edited", None, "it was edited in the neuron lab"),
    (Rules(), "diverged", None, "it diverged"),
    (Rules(), "fashion", None, "it trained on fashion-mnist; challenges are on MNIST"),
    (Rules(), "dropped", None, "its weights are no longer kept"),
])
def test_a_run_that_breaks_the_rules_is_told_why(runs, rules, run, change, why):
    base = runs["adam"]
    variants = {"edited": replace(base, state="edited"), "diverged": replace(base, state="diverged"),
                "fashion": replace(base, dataset="fashion-mnist"), "dropped": replace(base, model=None)}
    run = variants.get(run) or runs[run]
    if change:
        run = switched(run, *change)
    [said] = challenges.problems(rules, run)
    assert said.startswith(why)


def test_runs_that_keep_the_rules_have_no_problems(runs):
    strict = Rules(solvers=("sgd",), max_params=30_000, max_layers=1, max_epochs=2, augment=False)
    assert challenges.problems(strict, runs["sgd"]) == challenges.problems(strict, runs["longer"]) == []
    assert challenges.problems(Rules(), runs["distorted"]) == []
    assert challenges.problems(Rules(), replace(runs["adam"], state="stopped")) == []
    assert len(challenges.problems(strict, runs["distorted"])) == 4  # solver, parameters, layers, distortion


def test_a_run_that_breaks_the_rules_is_refused_with_every_reason_and_not_stored(db, runs, mnist_test):
    c = new(db, rules=Rules(solvers=("sgd",), max_layers=1))
    with pytest.raises(Refused, match="^This run cannot enter this challenge: it trained with adam; .*; "
                                      "it has 2 hidden layers; this challenge allows at most 1.$"):
        challenges.submit(db, c, "ada", runs["adam"], mnist_test, None)
    with pytest.raises(Refused, match="edited in the neuron lab"):
        challenges.submit(db, c, "ada", replace(runs["sgd"], state="edited"), mnist_test, None)
    assert challenges.leaderboard(db, c) == []
    assert challenges.submit(db, c, "ada", runs["sgd"], mnist_test, None)[1]


def test_rules_go_through_json_and_read_back_the_same():
    rules = Rules(solvers=["adam", "sgd", "adam"], max_params=50_000, max_layers=2, max_epochs=5, augment=False)
    assert rules.solvers == ("sgd", "adam")  # in the order of mlp.optim.OPTIMIZERS, each once
    assert Rules.from_json(rules.to_json()) == rules
    assert Rules.from_json("{}") == Rules() and Rules.from_json(Rules().to_json()) == Rules()
    assert rules.describe() == "sgd or adam only · at most 50,000 parameters · at most 2 hidden layers · " \
                               "at most 5 epochs · no distortions"
    assert Rules().describe() == "any settings"
    with pytest.raises(Refused, match="given twice"):
        Rules.from_json('{"max_layers": 1, "max_layers": 2}')


@pytest.mark.parametrize("text", [
    "not json", "", "[]", "null", '"sgd"', "12", 12, None, b"{}", '{"solvers": "sgd"}', '{"solvers": ["rmsprop"]}',
    '{"solvers": [1]}', '{"solvers": [["sgd"]]}', '{"max_params": true}', '{"max_params": 0}', '{"max_params": -5}',
    '{"max_params": 5.0}', '{"max_params": "5"}', '{"max_epochs": 1e999}', '{"max_layers": NaN}',
    '{"max_params": ' + "9" * 500 + "}", '{"augment": 1}', '{"augment": null}', '{"augment": "no"}',
    '{"unknown": 1}', '{"__class__": {}}', '{"max_layers": 1, "max_layers": 2}',
    '{"solvers": [' + '"sgd",' * 200 + '"sgd"]}',
    " " * 10_000, "[" * 400 + "]" * 400,
])
def test_bad_rules_json_is_refused(text):
    with pytest.raises(Refused):
        Rules.from_json(text)


@pytest.mark.parametrize("bad", [dict(max_params=True), dict(max_layers=False), dict(max_epochs=0),
                                 dict(max_params=2.5), dict(max_epochs=10**7), dict(augment=1), dict(augment="yes"),
                                 dict(solvers="sgd"), dict(solvers=("sgd", "lbfgs")), dict(solvers=None)])
def test_bad_rules_are_refused(bad):
    with pytest.raises(Refused):
        Rules(**bad)


# ----------------------------------------------------------------------------
# challenges: set, flagged, closed, removed


def test_challenges_are_listed_flagged_closed_and_removed(db, runs, mnist_test):
    a = new(db, title="First", rules=Rules(max_epochs=3))
    b = new(db, "fewest_params", title="Second", threshold=0.5)
    first = challenges.get(db, a)
    assert (first.title, first.goal, first.threshold, first.rules, first.hidden, first.closed) == \
        ("First", "mnist_test", None, Rules(max_epochs=3), False, False)
    assert first.is_open() and not first.is_open(now=first.deadline)
    assert first.goal_text == "Best accuracy on MNIST test"
    assert challenges.get(db, b).goal_text == "At least 50% on MNIST test with the fewest parameters"
    assert [c.id for c in challenges.listing(db)] == [a, b]
    challenges.set_hidden(db, a, True)
    challenges.set_closed(db, b, True)
    assert challenges.get(db, a).hidden and not challenges.get(db, a).closed
    assert [c.id for c in challenges.listing(db, open_only=True)] == [a]
    with pytest.raises(Refused, match="closed"):
        challenges.submit(db, b, "ada", runs["adam"], mnist_test, None)
    challenges.set_closed(db, b, False)
    challenges.submit(db, b, "ada", runs["adam"], mnist_test, None)
    challenges.submit(db, a, "ada", runs["adam"], mnist_test, None)
    assert challenges.remove(db, b) and not challenges.remove(db, b)
    assert challenges.get(db, b) is None and challenges.leaderboard(db, b) == []
    with db.connect() as conn:  # its submissions went with it, the other challenge's stay
        assert conn.execute(classdb.submissions.select()).all()[0].challenge == a
        assert len(conn.execute(classdb.submissions.select()).all()) == 1
    with pytest.raises(Refused, match="not there"):
        challenges.submit(db, b, "ada", runs["adam"], mnist_test, None)
    assert challenges.get(db, 10**12) is None


def test_a_passed_deadline_takes_no_submission(db, runs, mnist_test):
    c = new(db)
    deadline = challenges.get(db, c).deadline
    with pytest.raises(Refused, match="deadline of this challenge has passed"):
        challenges.submit(db, c, "ada", runs["adam"], mnist_test, None, now=deadline + 1)
    assert challenges.leaderboard(db, c) == []
    assert challenges.submit(db, c, "ada", runs["adam"], mnist_test, None, now=deadline - 1)[1]


def test_a_full_list_of_challenges_says_so(db, monkeypatch):
    monkeypatch.setattr(challenges, "MAX_CHALLENGES", 2)
    new(db), new(db)
    with pytest.raises(ClassDBError, match="2 challenges already"):
        new(db)
    assert len(challenges.listing(db)) == 2


# ----------------------------------------------------------------------------
# hostile values


@pytest.mark.parametrize("title, stored", [("  Week   3: **bold** ", "Week 3: **bold**"),
                                           ("<script>alert(1)</script> [x](javascript:y)",
                                            "<script>alert(1)</script> [x](javascript:y)"),
                                           ("zoë\u200b\x00", "zoë"), ("a\tb\nc", "a b c")])
def test_titles_are_stored_as_plain_text(db, title, stored):
    assert challenges.get(db, new(db, title=title)).title == stored


@pytest.mark.parametrize("title", ["", "   ", "\x00\x01", "x" * 81, "x" * 10_000, None, 12, ["title"]])
def test_hostile_titles_are_refused_and_nothing_is_stored(db, title):
    with pytest.raises(Refused):
        new(db, title=title)
    assert challenges.listing(db) == []


@pytest.mark.parametrize("kw", [dict(goal="best"), dict(goal=None), dict(goal="fewest_params"),
                                dict(goal="fewest_params", threshold=1.0), dict(goal="fewest_params", threshold=0),
                                dict(goal="fewest_params", threshold=True), dict(threshold=float("nan")),
                                dict(threshold="0.9"), dict(deadline=time.time() - 1), dict(deadline=True),
                                dict(deadline=time.time() + 91 * 86400), dict(deadline=float("inf")),
                                dict(deadline="tomorrow"), dict(rules='{"max_layers": 1}')])
def test_a_bad_challenge_is_refused(db, kw):
    kw = {"title": "T", "goal": "mnist_test", "deadline": time.time() + HOUR, **kw}
    with pytest.raises(Refused):
        challenges.create(db, **kw)
    assert challenges.listing(db) == []


@pytest.mark.parametrize("name", ["x" * 10_000, "", "\x00", None, 7])
def test_a_hostile_nickname_is_refused_before_any_work(db, runs, monkeypatch, name):
    c = new(db)
    monkeypatch.setattr(challenges, "score", lambda *a: pytest.fail("it scored the run"))
    with pytest.raises(Refused, match="nickname"):
        challenges.submit(db, c, name, runs["adam"], None, None)
    assert challenges.leaderboard(db, c) == []


@pytest.mark.parametrize("challenge_id", [True, "1", 1.0, None, "1; DROP TABLE challenges"])
def test_a_challenge_is_named_by_a_whole_number_only(db, runs, challenge_id):
    new(db)
    with pytest.raises(Refused):
        challenges.get(db, challenge_id)
    with pytest.raises(Refused):
        challenges.submit(db, challenge_id, "ada", runs["adam"], None, None)
    assert len(challenges.listing(db)) == 1


# ----------------------------------------------------------------------------
# at once


def test_one_student_submitting_from_several_tabs_at_once_keeps_one_row_the_best(db, runs, mnist_test, monkeypatch):
    c = new(db)
    read = challenges._stored

    def slowly(*args):  # the read-compare-write takes a while: the others come in meanwhile
        row = read(*args)
        time.sleep(0.3)
        return row
    monkeypatch.setattr(challenges, "_stored", slowly)
    names = ["sgd", "adam", "wide"]
    start, results, errors = threading.Barrier(len(names)), {}, []

    def submit(name):
        start.wait()
        try:
            results[name] = challenges.submit(db, c, "ada", runs[name], mnist_test, None)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    threads = [threading.Thread(target=submit, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(results) == 3
    [entry] = challenges.leaderboard(db, c)
    assert entry.score == results["adam"][0].score == max(e.score for e, _ in results.values())
    assert results["adam"][1]  # it was the best when it was written
