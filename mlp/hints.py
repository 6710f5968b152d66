"""Training hints: rules that read a training's records and measurements and say what goes wrong.

Each rule is a small function of (history, diagnostics, config, diverged, changes) that returns a `Hint`
or None: one plain sentence with the measured numbers, a "Why?" text, and the fix an "Apply"
button sets (TrainConfig fields and new values; rates and penalties are values the Train page
offers, `KNOB[...].values`). `hints` runs all of `RULES`, most urgent first, and lets at most one
hint change a setting, so that two hints never pull the same knob, let alone in opposite ways.

Settings can change while a training runs (``changes``: the trainer's `mlp.train.ConfigChange`
records), so the rules about the rate read only the records and measurements made at the rate in
force now (`_current`): once a fix applies, what the old rate did no longer counts. The overfitting
rule likewise reads only the records since its remedies last changed, which take a while to show.
"""
import math
from dataclasses import dataclass
from statistics import median

from .config import DISTORTIONS, KNOB
from .diagnostics import gap

RATES = KNOB["learning_rate_init"].values
PENALTIES = tuple(a for a in KNOB["alpha"].values if a > 0)

MIN_RECORDS = 2         # fewer records (at the current rate): training has only begun, say nothing
RISE = 0.05             # a loss 5 % above where it was has got worse, not just noisier
FLAT = 0.02             # a loss that moved by less than 2 % ...
FLAT_RECORDS = 4        # ... over the last 4 records is flat
LOW_ACCURACY = 0.9      # below this (train and test), a flat loss is stuck rather than done
DEAD = 0.5              # a layer with this share of dead units is mostly dead
HEALTHY, TOO_SMALL, TOO_LARGE = 1e-3, 1e-5, 3e-2   # update/weight ratios: the 1e-3 rule, far from it
RATIO_SAMPLES = 10      # the ratio of the last 10 measurements (the trainer takes 10 between records)
ANNEALED = 0.5          # the schedule has brought the rate below half its setting: small steps are meant
GAP = 0.02              # overfitting: train accuracy 2 points above test, on average over ...
GAP_RECORDS = 3         # ... the last 3 records (one record's train accuracy is noisy), and ...
GAP_RECENT = 6          # ... the gap at its widest so far within the last 6 records
RATE_FIELDS = ("learning_rate_init", "lr_schedule")   # changes that set a new rate
REMEDY_FIELDS = ("alpha", "dropout", *DISTORTIONS)    # changes against overfitting
LEVELS = ("error", "warning", "info")   # how loudly the page shows a hint, loudest first
_EPS = 1e-9             # relative slack when comparing rates computed in floating point


@dataclass(frozen=True)
class Hint:
    key: str                # the rule's stable id, e.g. "rate_too_high"
    level: str              # a name of LEVELS
    text: str               # one plain sentence with the real numbers in it
    why: str                # two or three plain sentences on the cause
    fix: dict | None        # TrainConfig field -> the value the "Apply" button sets
    fix_label: str | None   # the button's text, e.g. "Apply: learning rate 0.002 -> 0.0002"


# ----------------------------------------------------------------------------
# reading the state


def _pct(x, digits=1) -> str:
    return f"{100 * x:.{digits}f} %"


def _step(values, current, factor):
    """The value of ``values`` nearest to ``current * factor`` (on a log scale) on that side of
    ``current``: the next offered rate down for factor 1/10, up for 10; None if there is none."""
    if not current > 0:
        return None
    side = [v for v in values if (v < current * (1 - _EPS) if factor < 1 else v > current * (1 + _EPS))]
    target = math.log(current * factor)
    return min(side, key=lambda v: abs(math.log(v) - target), default=None)


def _rate_fix(config, factor):
    """(fix, label) that multiplies the learning rate by about ``factor``; (None, None) if no
    offered rate lies that way."""
    lr, new = config.learning_rate_init, _step(RATES, config.learning_rate_init, factor)
    if new is None:
        return None, None
    return {"learning_rate_init": new}, f"Apply: learning rate {lr:g} -> {new:g}"


def _last_change(changes, fields):
    """The step of the latest change of one of ``fields``, or None if none changed.

    The latest is the last one recorded, not the one with the largest step: after a divergence the
    trainer goes back to its last record, so a change made then has a smaller step than one before."""
    return next((c.step for c in reversed(changes) if c.field in fields), None)


def _after(items, step):
    """The records or measurements of ``items`` made after update ``step`` (all of them for None)."""
    return list(items) if step is None else [x for x in items if x.step > step]


def _phase(history, config) -> int:
    """The index of the first record made at the rate setting in force now, read from the records'
    rates alone (for a history without its changes, such as one loaded from a file).

    A schedule only lowers the rate from its setting, so read backwards from the latest record,
    each record's rate as a share of the setting may only grow, up to 1. A record that breaks this
    was made before the setting changed (lowered: a share above 1; raised: a share below a later one).
    """
    lr0, start, later = config.learning_rate_init, len(history), 0.0
    if not lr0 > 0:
        return 0
    for i in range(len(history) - 1, -1, -1):
        share = history[i].lr / lr0
        if share > 1 + _EPS or share < later * (1 - _EPS):
            break
        start, later = i, share
    return start


def _current(history, diagnostics, config, changes=()):
    """(records, measurements) made at the rate in force now.

    With ``changes``: those made after the last change of the rate or its schedule (`RATE_FIELDS`).
    Without: those of the phase `_phase` finds in the records' rates; when the rate changed during
    the run, the measurements count from the phase's first record on (that record mixes both rates).
    """
    if changes:
        at = _last_change(changes, RATE_FIELDS)
        return _after(history, at), _after(diagnostics, at)
    start = _phase(history, config)
    records = history[start:]
    if start == 0:
        return records, diagnostics
    if not records:
        return [], []
    return records, [d for d in diagnostics if d.step > records[0].step]


def _lowered(history, config, changes=()) -> bool:
    """Whether a rate above the one set now was in force earlier in this run: by ``changes`` if
    given, else by the records' rates."""
    lr = config.learning_rate_init * (1 + _EPS)
    if changes:
        return any(c.field == "learning_rate_init" and c.old > lr for c in changes)
    return any(p.lr > lr for p in history)


def _annealed(records, config) -> bool:
    """Whether the schedule has brought the rate below ANNEALED of its setting by the latest record."""
    return bool(records) and records[-1].lr < ANNEALED * config.learning_rate_init


def _rise(losses):
    """The index of the record from which the training loss has got worse, or None.

    Worse: a loss is NaN or infinite; or the latest is more than RISE (5 %) above the first
    record's, which averages the first updates from where the weights began, so ending above it
    undoes the learning; or the last 3 records each rose, together by RISE and by a quarter of the
    fall so far at least (a short climb at a low loss is noise; climbing back up the fall is not).
    """
    blown = [i for i, x in enumerate(losses) if not math.isfinite(x)]
    if blown:
        return blown[0]
    if len(losses) < MIN_RECORDS:
        return None
    if losses[-1] > losses[0] * (1 + RISE):
        return 0
    if len(losses) < 4:
        return None
    a, b, c, d = losses[-4:]
    if a < b < c < d and d - a >= RISE * a and d - a >= 0.25 * (losses[0] - min(losses)):
        return len(losses) - 4
    return None


def _dead(diagnostics):
    """(hidden layer counting from 1, dead share) of the latest measurement's most dead layer, if
    at least DEAD of its units are dead; else None."""
    if not diagnostics or not diagnostics[-1].dead:
        return None
    share, k = max((s, k) for k, s in enumerate(diagnostics[-1].dead, 1))
    return (k, share) if share >= DEAD else None


def _ratio(diagnostics):
    """The update/weight ratio of the latest updates: the median over layers of each of the last
    RATIO_SAMPLES measurements, and of those the median (one update's ratio is noisy); None if none."""
    ratios = [median(d.update_ratio) for d in diagnostics[-RATIO_SAMPLES:] if d.update_ratio]
    r = median(ratios) if ratios else math.nan
    return r if math.isfinite(r) else None


# ----------------------------------------------------------------------------
# the rules: each (history, diagnostics, config, diverged, changes) -> Hint | None


def rate_too_high(history, diagnostics, config, diverged=False, changes=()):
    """The loss blew up or rose: the rate is too high; fix: an offered rate about ten times smaller.

    It fires when the run diverged (``diverged``, said even before the first record, unless the
    rate was changed since the last record), when a record made at the current rate has a NaN or
    infinite loss, or when the training loss of those records got worse (`_rise`).
    """
    records = _current(history, diagnostics, config, changes)[0]
    losses = [p.loss for p in records]
    lr = config.learning_rate_init
    fix, label = _rate_fix(config, 0.1)
    smallest = "" if fix else f" {lr:g} is already the smallest rate offered: try another optimizer."
    why = ("A step that is too large overshoots the valley the gradient points into, so each update "
           "lands higher up its other side and the loss grows instead of shrinking. A rate about ten "
           "times smaller usually trains steadily." + smallest)
    if (diverged and (records or not history)) or any(not math.isfinite(x) for x in losses):
        text = f"The loss blew up and training stopped: learning rate {lr:g} is too high."
        return Hint("rate_too_high", "error", text, why, fix, label)
    i = _rise(losses)
    if i is None:
        return None
    since = "since the first record" if i == 0 else f"over the last {len(losses) - 1 - i} records"
    text = (f"The training loss rose from {losses[i]:#.3g} to {losses[-1]:#.3g} {since}: "
            f"learning rate {lr:g} is too high.")
    return Hint("rate_too_high", "warning", text, why, fix, label)


def dead_relus(history, diagnostics, config, diverged=False, changes=()):
    """Most ReLUs of a hidden layer are dead (the latest measurement, `_dead`): the rate is too
    high; fix: an offered rate about ten times smaller, unless the rate has already been lowered in
    this run (`_lowered`: the dead units stay dead, another cut would only slow the living ones).

    Why mentions He initialisation when the run uses another, which only a new training can change.
    """
    dead = _dead(diagnostics)
    if config.activation != "relu" or len(history) < MIN_RECORDS or dead is None:
        return None
    k, share = dead
    lr = config.learning_rate_init
    lowered = _lowered(history, config, changes)
    fix, label = (None, None) if lowered else _rate_fix(config, 0.1)
    why = ("A ReLU whose input is negative for every image gives 0 and passes no gradient back, so it "
           "stops learning for good; a too large step often pushes many units there at once. A smaller "
           "rate keeps the others alive, and a new training starts with all of them.")
    if fix is None:
        why += (" The rate has already been lowered in this run." if lowered else
                f" {lr:g} is already the smallest rate offered.")
    if config.init != "he":
        why += (f" He initialisation, made for ReLU, starts fewer units dead than the {config.init} one: "
                "choose it for the next training (it cannot change during a run).")
    text = (f"{_pct(share, 0)} of the ReLUs in hidden layer {k} are dead (they give 0 for every image "
            f"of a batch) at learning rate {lr:g}.")
    return Hint("dead_relus", "warning", text, why, fix, label)


def loss_flat(history, diagnostics, config, diverged=False, changes=()):
    """The training loss has barely moved while the accuracy is low: the rate is too low; fix: an
    offered rate about ten times larger.

    Flat: over the last FLAT_RECORDS (4) records made at the current rate, the training loss changed
    by less than FLAT (2 %) and did not get worse (`_rise`), while the latest train and test
    accuracy are both below LOW_ACCURACY (90 %: the network has not even fit its training images).
    Silent when the run diverged, when the schedule has lowered the rate (`_annealed`: a cosine run
    levels off by design), when the updates are not small (`_ratio` at least HEALTHY, 1e-3: then the
    steps are big enough and a larger rate would more likely make things worse) and when no larger
    rate is offered. If most units of a hidden layer are dead (`_dead`) it says so
    instead, without a fix (a larger rate does not revive them); with ReLU `dead_relus` says it.
    """
    records, measured = _current(history, diagnostics, config, changes)
    losses = [p.loss for p in records[-FLAT_RECORDS:]]
    if diverged or len(losses) < FLAT_RECORDS or _rise([p.loss for p in records]) is not None:
        return None
    first, last = losses[0], losses[-1]
    accuracy = max(records[-1].train_accuracy, records[-1].test_accuracy)
    if not (abs(last - first) < FLAT * first and accuracy < LOW_ACCURACY) or _annealed(records, config):
        return None
    flat = (f"The training loss has stayed near {last:#.3g} for the last {FLAT_RECORDS} records "
            f"(a change of {100 * abs(last - first) / first:.2g} %) with the test accuracy at "
            f"{_pct(records[-1].test_accuracy)}")
    dead = _dead(diagnostics)
    if dead is not None:
        if config.activation == "relu":
            return None
        k, share = dead
        why = ("A unit that gives 0 for every image passes no gradient back, so it cannot learn, and a "
               "larger rate does not revive it. Units end up there when too large steps push their "
               "weights far out: a new training with a smaller rate keeps them alive.")
        return Hint("loss_flat", "warning", f"{flat}, and {_pct(share, 0)} of the units in hidden layer "
                    f"{k} are dead.", why, None, None)
    ratio = _ratio(measured)
    fix, label = _rate_fix(config, 10)
    if fix is None or (ratio is not None and ratio >= HEALTHY):
        return None
    why = ("Each update moves the weights so little that the network hardly learns. A rate about ten "
           "times larger takes bigger steps; should the loss then jump around or rise, step back down.")
    return Hint("loss_flat", "warning", f"{flat}: learning rate {config.learning_rate_init:g} is too low.",
                why, fix, label)


def update_ratio(history, diagnostics, config, diverged=False, changes=()):
    """The updates are far from the 1e-3 rule: the latest update/weight ratio (median over layers
    and the last RATIO_SAMPLES measurements, `_ratio`) is above TOO_LARGE (3e-2; fix: a rate about
    ten times smaller) or below TOO_SMALL (1e-5; fix: about ten times larger).

    Only measurements at the current rate count, after MIN_RECORDS records at it. Too small is not
    said when the schedule has lowered the rate (`_annealed`: small steps are its point), when the
    run diverged or its loss got worse (`_rise`), or when most units are dead (`_dead`: they get no
    gradient, whatever the rate).
    """
    records, measured = _current(history, diagnostics, config, changes)
    ratio = _ratio(measured)
    if len(records) < MIN_RECORDS or ratio is None:
        return None
    lr = config.learning_rate_init
    healthy = "A healthy update changes each layer's weights by about a thousandth of their size."
    if ratio > TOO_LARGE:
        fix, label = _rate_fix(config, 0.1)
        text = (f"Each update changes the weights by {ratio:.1e} of their size (median over layers and "
                f"recent updates), far above the healthy 1e-3: learning rate {lr:g} is too high.")
        why = (f"{healthy} Much larger steps throw away what the layers learnt and make the loss jump "
               "around; a rate about ten times smaller brings them back near 1e-3.")
        return Hint("updates_too_large", "warning", text, why, fix, label)
    if ratio < TOO_SMALL:
        if diverged or _annealed(records, config) or _rise([p.loss for p in records]) is not None \
                or _dead(measured) is not None:
            return None
        fix, label = _rate_fix(config, 10)
        text = (f"Each update changes the weights by only {ratio:.1e} of their size (median over layers and "
                f"recent updates), far below the healthy 1e-3: learning rate {lr:g} is too low.")
        why = (f"{healthy} Much smaller steps hardly change the weights, so training crawls; a rate "
               "about ten times larger brings them back near 1e-3.")
        return Hint("updates_too_small", "info", text, why, fix, label)
    return None


def _remedies(config):
    """The remedies for overfitting that ``config`` does not use up yet, in the order they are
    offered: (its name, what it does, fix, button label)."""
    out = []
    alpha = 1e-4 if config.alpha == 0 else _step(PENALTIES, config.alpha, 10)
    if alpha is not None:
        out.append((f"an L2 penalty of {alpha:g}", (f"An L2 penalty of {alpha:g} pulls the weights towards "
                    "zero, and so the network towards simpler answers."), {"alpha": alpha},
                    f"Apply: L2 penalty {config.alpha:g} -> {alpha:g}"))
    if config.dropout == 0:
        out.append(("dropout 0.2", ("Dropout 0.2 switches off a fifth of the hidden units at random at "
                    "each update, so that no unit can lean on the others."), {"dropout": 0.2},
                    "Apply: dropout 0 -> 0.2"))
    if config.distortion.identity:
        light = config.distorted("light")
        out.append(("lightly distorted training images",
                    ("Lightly distorted training images show each digit a little differently at every "
                     "update, so that there is less to learn by heart."),
                    {f: getattr(light, f) for f in DISTORTIONS}, "Apply: distort training images (light)"))
    return out


def overfitting(history, diagnostics, config, diverged=False, changes=()):
    """The train-test gap grows: the network learns its training images by heart.

    It fires when, on average over the last GAP_RECORDS (3) records, the train accuracy is at least
    LOW_ACCURACY (90 %) and GAP (2 points) above the test accuracy, the gap was at its widest so far
    (and at least 2 points: `mlp.diagnostics.gap`) within the last GAP_RECENT (6) records, and the
    latest test accuracy is within GAP of its best (a sudden drop is the rate's doing, not
    overfitting). Fix: the first remedy `_remedies` offers (an L2 penalty of 1e-4, or ten times
    the one in use; dropout 0.2; light distortion); why names the others.

    A remedy takes a while to show, so only the records made after the last change of one
    (`REMEDY_FIELDS`, by ``changes``) count, and the first of them is where the gap stood as it
    began to act: the gap must widen beyond it, not merely be wide still.
    """
    records = _after(history, _last_change(changes, REMEDY_FIELDS))
    if len(records) < GAP_RECORDS:
        return None
    widening = gap(records)[1]
    if len(records) < len(history):
        widening[0] = False
    last = records[-GAP_RECORDS:]
    train, test = (sum(getattr(p, f) for p in last) / len(last) for f in ("train_accuracy", "test_accuracy"))
    best = max(p.test_accuracy for p in records)
    if not (train >= LOW_ACCURACY and train - test >= GAP and any(widening[-GAP_RECENT:])
            and records[-1].test_accuracy >= best - GAP):
        return None
    text = (f"The train accuracy is {100 * (train - test):.1f} points above the test accuracy ({_pct(train)} "
            f"against {_pct(test)} over the last {GAP_RECORDS} records) and the gap is still widening: "
            "the network is overfitting.")
    why = ("The network fits its training images better than new ones: it learns their quirks by heart "
           "rather than what makes a digit.")
    remedies = _remedies(config)
    if not remedies:
        why += " It already has the largest L2 penalty offered, dropout and distortion: try fewer units."
        return Hint("overfitting", "info", text, why, None, None)
    (_, does, fix, label), others = remedies[0], [r[0] for r in remedies[1:]]
    also = " or ".join(others)
    why += f" {does}" + (f" {also[0].upper()}{also[1:]} would help too." if others else "")
    return Hint("overfitting", "info", text, why, fix, label)


RULES = (rate_too_high, dead_relus, loss_flat, update_ratio, overfitting)  # the more urgent first


def hints(history, diagnostics, config, diverged=False, changes=()) -> list[Hint]:
    """All hints that apply, most urgent first: by level (LEVELS), then in the order of RULES.

    ``changes`` are the run's `mlp.train.ConfigChange` records (`Trainer.changes`), in the order
    they applied; without them (a history loaded from a file) the rate rules tell a change of the
    rate from the records' rates, and the overfitting rule reads all records.

    A hint whose fix would change a setting that a more urgent hint already changes is left out:
    the more urgent one has the say (lowering the rate for a blow-up beats lowering it for large
    updates, and is never contradicted by a hint that would raise it).
    """
    history, diagnostics, changes = list(history or ()), list(diagnostics or ()), list(changes or ())
    found = [h for rule in RULES if (h := rule(history, diagnostics, config, diverged, changes)) is not None]
    found.sort(key=lambda h: LEVELS.index(h.level))
    kept, fixed = [], set()
    for h in found:
        if fixed.isdisjoint(h.fix or ()):
            kept.append(h)
            fixed.update(h.fix or ())
    return kept
