"""Challenges: the teacher sets a goal, rules and a deadline; students submit runs of their own, which
the server scores on data they never trained on, and a leaderboard ranks each student's best run.

A pure service over the class database (`playground.classdb`, tables ``challenges`` and
``submissions``): no Streamlit here. Everything a visitor sends (a title, a nickname, rules as JSON)
is checked and refused with a sentence (`Refused`) before any work is done; database failures are
said as a `ClassDBError`.
"""
import json
import math
import re
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import sqlalchemy as sa

from mlp.analysis import predict_all
from mlp.config import DISTORTIONS, KNOB, TrainConfig, distortion_level
from mlp.metrics import accuracy
from mlp.optim import OPTIMIZERS
from playground import classdb
from playground.classdb import ClassDBError, Refused, _errors

TITLE_CHARS = 80
MAX_CHALLENGES = 50              # challenges the class database keeps
MAX_DAYS = 90                    # how far ahead a deadline may be
RULES_CHARS = 1000               # the rules column
CONFIG_CHARS = 2000              # the config column
SUMMARY_CHARS = 200
LOCK = 7312                      # PostgreSQL advisory lock class of the challenges (classdb.migrate uses 7311)


class Goal(NamedTuple):
    title: str       # "{threshold}" is replaced by the challenge's threshold
    scored: str      # what the score is, for the page
    data: str        # "mnist" or "class": the test set it is measured on
    fewest: bool     # ranked by fewest parameters first (else by best score first)


GOALS = {
    "class_test": Goal("Best accuracy on the class test set",
                       "accuracy on the class-test drawings, which no one trains on", "class", False),
    "mnist_test": Goal("Best accuracy on MNIST test", "accuracy on the 10,000 MNIST test images", "mnist", False),
    "fewest_params": Goal("At least {threshold} on MNIST test with the fewest parameters",
                          "parameters of a network that reaches the threshold on the 10,000 MNIST test images",
                          "mnist", True),
}


def _percent(x) -> str:
    return f"{x * 100:g}%"


# ----------------------------------------------------------------------------
# plain text


def plain(value, limit, what, empty) -> str:
    """``value`` as it is stored: plain text of 1 to ``limit`` characters (NFC, no control characters,
    whitespace collapsed), as `classdb.nickname` makes a nickname; else Refused. ``what`` names it in
    a sentence ("A title"), ``empty`` is said when nothing is left."""
    if not isinstance(value, str):
        raise Refused(f"{what} is text.")
    if len(value) > 4 * limit:  # refuse a huge value before working on it
        raise Refused(f"{what} has at most {limit} characters.")
    spaced = re.sub(r"\s+", " ", unicodedata.normalize("NFC", value))
    text = re.sub(" +", " ", "".join(c for c in spaced if unicodedata.category(c)[0] != "C")).strip()
    if not text:
        raise Refused(empty)
    if len(text) > limit:
        raise Refused(f"{what} has at most {limit} characters (this one has {len(text)}).")
    return text


# ----------------------------------------------------------------------------
# the rules a run must keep


_LIMITS = {"max_params": ("parameters", 10**9), "max_layers": ("hidden layers", 100), "max_epochs": ("epochs", 10**6)}


@dataclass(frozen=True)
class Rules:
    """What a run may have used: these solvers (empty: any), at most so many parameters, hidden
    layers and epochs (None: any), and distorted training digits or not."""

    solvers: tuple = ()
    max_params: int | None = None
    max_layers: int | None = None
    max_epochs: int | None = None
    augment: bool = True

    def __post_init__(self):
        if not isinstance(self.solvers, (tuple, list)) or not all(isinstance(s, str) for s in self.solvers):
            raise Refused("The optimizers allowed are a list of names.")
        unknown = [s for s in self.solvers if s not in OPTIMIZERS]
        if unknown:
            raise Refused(f"There is no optimizer called {unknown[0][:20]!r}; choose from {', '.join(OPTIMIZERS)}.")
        object.__setattr__(self, "solvers", tuple(s for s in OPTIMIZERS if s in self.solvers))  # in order, once
        for name, (what, most) in _LIMITS.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                      or not 1 <= value <= most):
                raise Refused(f"A limit on {what} is a whole number from 1 to {most:,}.")
            object.__setattr__(self, name, None if value is None else int(value))
        if not isinstance(self.augment, (bool, np.bool_)):
            raise Refused("Whether distorted digits are allowed is yes or no.")
        object.__setattr__(self, "augment", bool(self.augment))

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "solvers": list(self.solvers)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text) -> "Rules":
        """The rules ``to_json`` wrote; anything else (unknown keys, wrong types, too long) is Refused."""
        if not isinstance(text, str) or len(text) > RULES_CHARS:
            raise Refused(f"Rules are a JSON object of at most {RULES_CHARS} characters.")

        def no_twice(pairs):
            keys = [k for k, _ in pairs]
            if len(set(keys)) < len(keys):
                raise Refused("A rule is given twice.")
            return dict(pairs)
        try:
            d = json.loads(text, object_pairs_hook=no_twice)
        except Refused:
            raise
        except ValueError as e:  # json.JSONDecodeError, or a number too long
            raise Refused("The rules are not valid JSON.") from e
        if not isinstance(d, dict):
            raise Refused("Rules are a JSON object.")
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise Refused(f"There is no rule called {unknown[0][:40]!r}.")
        return cls(**d)

    def describe(self) -> str:
        """The rules in a line: "sgd only · at most 50,000 parameters · no distortions"."""
        out = [f"{' or '.join(self.solvers)} only"] if self.solvers else []
        out += [f"at most {getattr(self, name):,} {what}" for name, (what, _) in _LIMITS.items()
                if getattr(self, name) is not None]
        out += [] if self.augment else ["no distortions"]
        return " · ".join(out) or "any settings"


def _epochs(run) -> float:
    """Epochs a run trained: its last record's (epochs added during it count; a stopped run counts
    what it did), or the plan when it has no records."""
    if run.history:
        return round(float(run.history[-1].epoch), 2)
    added = [c.value for c in run.changes if c.field == "max_iter"]
    return float(added[-1] if added else run.config["max_iter"])


def _solvers(run) -> list:
    """The optimizers a run used, in order: the one it started with, then any it switched to."""
    used = [run.config["solver"]]
    used += [c.value for c in run.changes if c.field == "solver" and c.value not in used]
    return used


def _distorted(run) -> list:
    """The distortions a run trained with at some point."""
    on = {name for name in DISTORTIONS if run.config.get(name)}
    on |= {c.field for c in run.changes if c.field in DISTORTIONS and c.value}
    return [name for name in DISTORTIONS if name in on]


def _plural(n, word) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def problems(rules: Rules, run) -> list[str]:
    """Why ``run`` (a playground.runs.Run) cannot enter a challenge of these rules (empty: it can)."""
    out = []
    if run.state == "edited":
        out.append("it was edited in the neuron lab; only a network as it was trained can enter")
    elif run.state == "diverged":
        out.append("it diverged; only a run that finished or was stopped can enter")
    elif run.state not in ("finished", "stopped"):
        out.append(f"it is {run.state}; only a run that finished or was stopped can enter")
    if run.dataset != "mnist":
        out.append(f"it trained on {run.dataset}; challenges are on MNIST")
    if run.model is None:
        out.append("its weights are no longer kept (newer runs needed the memory); train it again")
    bad = [s for s in _solvers(run) if rules.solvers and s not in rules.solvers]
    if bad:
        out.append(f"it trained with {' and '.join(bad)}; this challenge allows only {' or '.join(rules.solvers)}")
    n_params = run.n_params if run.model is None else run.model.n_params
    if rules.max_params is not None and n_params > rules.max_params:
        out.append(f"it has {n_params:,} parameters; this challenge allows at most {rules.max_params:,}")
    layers = len(run.config["hidden_layer_sizes"])
    if rules.max_layers is not None and layers > rules.max_layers:
        out.append(f"it has {_plural(layers, 'hidden layer')}; this challenge allows at most {rules.max_layers}")
    epochs = _epochs(run)
    if rules.max_epochs is not None and epochs > rules.max_epochs:
        out.append(f"it trained {epochs:g} epochs; this challenge allows at most {rules.max_epochs}")
    distorted = _distorted(run)
    if not rules.augment and distorted:
        out.append(f"it trained on distorted digits ({', '.join(distorted)}); this challenge allows only the "
                   "digits as they are")
    return out


# ----------------------------------------------------------------------------
# challenges


@dataclass(frozen=True)
class Challenge:
    id: int
    title: str
    goal: str                 # a name of GOALS
    threshold: float | None   # the score a run must reach, if any
    rules: Rules
    deadline: float           # seconds since the epoch
    created: float
    hidden: bool              # its leaderboard is shown to the teacher only
    closed: bool              # closed by the teacher before its deadline

    def is_open(self, now=None) -> bool:
        """Whether it takes submissions: not closed, and before its deadline."""
        return not self.closed and (time.time() if now is None else now) < self.deadline

    @property
    def goal_text(self) -> str:
        """Its goal in a line: "At least 95% on MNIST test with the fewest parameters"."""
        title = GOALS[self.goal].title
        if "{threshold}" in title:
            return title.format(threshold=_percent(self.threshold))
        return title if self.threshold is None else f"{title} (at least {_percent(self.threshold)})"


def _challenge(row) -> Challenge:
    return Challenge(int(row.id), row.title, row.goal, None if row.threshold is None else float(row.threshold),
                     Rules.from_json(row.rules), float(row.deadline), float(row.created), bool(row.hidden),
                     bool(row.closed))


def _number(value, what) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise Refused(f"{what} is a number.")
    return float(value)


def _id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise Refused("A challenge is named by its number.")
    return int(value)


def _write_lock(conn, key):
    """Take the write lock first, so that what is read next cannot change before it is written: on
    SQLite the whole file's (an immediate transaction), on PostgreSQL an advisory lock on ``key``
    (a challenge's id; 0 for the list of challenges)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:a AS integer), CAST(:b AS integer))"),
                     {"a": LOCK, "b": key})


def create(engine, title, goal, deadline, rules=Rules(), threshold=None) -> int:
    """Set a challenge; return its id. ``deadline`` is in seconds since the epoch, in the future and
    at most MAX_DAYS ahead; ``threshold`` (an accuracy between 0 and 1) is what a run must reach,
    required for the goal "fewest_params"."""
    title = plain(title, TITLE_CHARS, "A title", "Give the challenge a title.")
    if not isinstance(goal, str) or goal not in GOALS:
        raise Refused(f"A challenge's goal is one of {', '.join(GOALS)}.")
    if not isinstance(rules, Rules):
        raise Refused("A challenge's rules are Rules.")
    if threshold is not None and not 0 < _number(threshold, "A threshold") < 1:
        raise Refused("A threshold is an accuracy between 0 and 1.")
    if GOALS[goal].fewest and threshold is None:
        raise Refused("Say what accuracy a run must reach on MNIST test to enter this challenge.")
    deadline, now = _number(deadline, "A deadline"), time.time()
    if deadline <= now:
        raise Refused("The deadline has passed already; choose one in the future.")
    if deadline > now + MAX_DAYS * 86400:
        raise Refused(f"A deadline is at most {MAX_DAYS} days ahead.")
    row = dict(title=title, goal=goal, threshold=None if threshold is None else float(threshold),
               rules=rules.to_json(), deadline=deadline, created=now, hidden=False, closed=False)
    with _errors("set the challenge"), engine.begin() as conn:
        _write_lock(conn, 0)
        if conn.execute(sa.select(sa.func.count()).select_from(classdb.challenges)).scalar_one() >= MAX_CHALLENGES:
            raise ClassDBError(f"there are {MAX_CHALLENGES} challenges already; the teacher can remove some")
        return int(conn.execute(classdb.challenges.insert().values(**row)).inserted_primary_key[0])


def listing(engine, open_only=False) -> list[Challenge]:
    """The challenges, oldest first; only those that take submissions now if ``open_only``."""
    query = sa.select(classdb.challenges).order_by(classdb.challenges.c.id)
    with _errors("read the challenges"), engine.connect() as conn:
        found = [_challenge(r) for r in conn.execute(query)]
    now = time.time()
    return [c for c in found if c.is_open(now)] if open_only else found


def get(engine, challenge_id) -> Challenge | None:
    """The challenge of this id, or None."""
    challenge_id = _id(challenge_id)
    if not 1 <= challenge_id < 2**31:
        return None
    with _errors("read the challenge"), engine.connect() as conn:
        row = conn.execute(sa.select(classdb.challenges).where(classdb.challenges.c.id == challenge_id)).first()
    return None if row is None else _challenge(row)


def _set(engine, challenge_id, **values):
    with _errors("change the challenge"), engine.begin() as conn:
        conn.execute(classdb.challenges.update().where(classdb.challenges.c.id == _id(challenge_id)).values(**values))


def set_hidden(engine, challenge_id, hidden: bool):
    """Show its leaderboard to the teacher only (True), or to everyone."""
    _set(engine, challenge_id, hidden=bool(hidden))


def set_closed(engine, challenge_id, closed: bool):
    """Stop (True) or again take submissions before its deadline."""
    _set(engine, challenge_id, closed=bool(closed))


def remove(engine, challenge_id) -> bool:
    """Delete a challenge and its submissions; return whether it was there."""
    challenge_id = _id(challenge_id)
    with _errors("remove the challenge"), engine.begin() as conn:
        _write_lock(conn, challenge_id)
        conn.execute(classdb.submissions.delete().where(classdb.submissions.c.challenge == challenge_id))
        return conn.execute(classdb.challenges.delete().where(classdb.challenges.c.id == challenge_id)).rowcount > 0


# ----------------------------------------------------------------------------
# submissions


@dataclass(frozen=True)
class Entry:
    nickname: str
    score: float               # accuracy on the goal's test set
    n_params: int
    summary: str               # "128 64 · sgd · lr 0.1 · 5 epochs"
    created: float             # when it was submitted
    config: str = field(default="", repr=False)  # JSON of its settings and changes
    rank: int | None = None    # on a leaderboard, from 1 (ties share one)


def score(challenge: Challenge, model, mnist_test, class_test) -> float:
    """The accuracy of ``model`` on the challenge's test set: ``mnist_test`` or ``class_test``, each
    (images (n, 28, 28) uint8, labels); Refused if that set is empty."""
    on_class = GOALS[challenge.goal].data == "class"
    data = class_test if on_class else mnist_test
    if data is None or not len(data[1]):
        raise Refused("The teacher has not frozen a class test set yet." if on_class else
                      "There is no MNIST test set to score on.")
    x, y = data
    return accuracy(y, predict_all(model, x).argmax(axis=1))


def _summary(run) -> str:
    c, epochs = run.config, _epochs(run)
    out = [" ".join(map(str, c["hidden_layer_sizes"])) or "no hidden layer", " → ".join(_solvers(run)),
           f"lr {KNOB['learning_rate_init'].show(c['learning_rate_init'])}", f"{epochs:g} epoch{'s' * (epochs != 1)}"]
    level = distortion_level(TrainConfig.from_dict(c))
    out += [] if level == "off" else [f"{level} distortion"]
    out += [_plural(len(run.changes), "change")] if run.changes else []
    return " · ".join(out)[:SUMMARY_CHARS]


def _config_json(run) -> str:
    """The run's settings and changes as JSON; the last changes are left out when they do not fit."""
    changes = [asdict(c) for c in run.changes]
    keep = len(changes)
    while True:
        d = {"dataset": run.dataset, **run.config, "changes": changes[:keep]}
        if keep < len(changes):
            d["changes left out"] = len(changes) - keep
        text = json.dumps(d, separators=(",", ":"), default=str)
        if len(text) <= CONFIG_CHARS or keep == 0:
            return text if len(text) <= CONFIG_CHARS else json.dumps({"dataset": run.dataset})
        keep //= 2


def _key(goal, score_, n_params):
    """How an entry ranks under ``goal``: smaller is better."""
    return (n_params, -score_) if GOALS[goal].fewest else (-score_, n_params)


def _stored(conn, challenge_id, nick):
    """The stored submission of ``nick`` to the challenge, or None."""
    s = classdb.submissions.c
    return conn.execute(sa.select(classdb.submissions).where(s.challenge == challenge_id, s.nickname == nick)).first()


def submit(engine, challenge_id, nickname, run, mnist_test, class_test, now=None) -> tuple[Entry, bool]:
    """Score ``run`` (a playground.runs.Run) for a challenge and file it under ``nickname``; return its
    Entry and whether it is now the one on the leaderboard (a student's earlier run stays if it ranks
    at least as well). Refused, with the reasons, if the challenge does not take it."""
    nick = classdb.nickname(nickname)
    now = time.time() if now is None else _number(now, "A time")
    challenge = get(engine, challenge_id)
    if challenge is None:
        raise Refused("This challenge is not there any more.")
    if challenge.closed:
        raise Refused("This challenge is closed.")
    if not challenge.is_open(now):
        raise Refused("The deadline of this challenge has passed.")
    why = problems(challenge.rules, run)
    if why:
        raise Refused("This run cannot enter this challenge: " + "; ".join(why) + ".")
    result = score(challenge, run.model, mnist_test, class_test)
    if challenge.threshold is not None and result < challenge.threshold:
        where = "the class test set" if GOALS[challenge.goal].data == "class" else "MNIST test"
        raise Refused(f"This run reaches {result:.1%} on {where}; this challenge asks for at least "
                      f"{_percent(challenge.threshold)}.")
    entry = Entry(nick, result, int(run.model.n_params), _summary(run), now, _config_json(run))
    row = {k: v for k, v in asdict(entry).items() if k != "rank"}
    with _errors("store the submission"), engine.begin() as conn:
        _write_lock(conn, challenge.id)
        there = conn.execute(sa.select(classdb.challenges.c.closed)
                             .where(classdb.challenges.c.id == challenge.id)).first()
        if there is None or there.closed:
            raise Refused("This challenge is closed." if there else "This challenge is not there any more.")
        old = _stored(conn, challenge.id, nick)
        if old is None:
            conn.execute(classdb.submissions.insert().values(challenge=challenge.id, **row))
        elif _key(challenge.goal, result, entry.n_params) < _key(challenge.goal, old.score, old.n_params):
            conn.execute(classdb.submissions.update().where(classdb.submissions.c.id == old.id).values(**row))
        else:
            return entry, False
    return entry, True


def leaderboard(engine, challenge_id, limit=100) -> list[Entry]:
    """The best submission of each student, best first under the challenge's goal (ties: the earlier
    one first), with ranks (tied entries share one)."""
    challenge = get(engine, challenge_id)
    if challenge is None:
        return []
    s = classdb.submissions.c
    order = [s.n_params, s.score.desc()] if GOALS[challenge.goal].fewest else [s.score.desc(), s.n_params]
    query = sa.select(classdb.submissions).where(s.challenge == challenge.id) \
        .order_by(*order, s.created, s.id).limit(max(0, int(limit)))
    with _errors("read the leaderboard"), engine.connect() as conn:
        rows = conn.execute(query).all()
    out, last = [], None
    for i, r in enumerate(rows, 1):
        key = _key(challenge.goal, r.score, r.n_params)
        rank = out[-1].rank if key == last else i
        out.append(Entry(r.nickname, float(r.score), int(r.n_params), r.summary, float(r.created), r.config, rank))
        last = key
    return out
