"""What a training is: its settings, one row per knob a learner can turn, the presets, its plan.

`TrainConfig` holds the settings under scikit-learn's names. `KNOBS` declares each setting that a
learner chooses once: the values offered, the bounds a typed value must keep, its label and help,
its key in a shared link and its command-line flag. The Train page's widgets, the shared links,
the server's limits and the CLI are all built from it. `plan()` works out what a config means
on a training set: batch, updates, parameters, seconds and megabytes.
"""
import math
from dataclasses import asdict, dataclass, replace
from typing import Callable, NamedTuple

from .augment import LEVELS, Distortion, work_bytes
from .model import ACTIVATIONS, INITS
from .optim import OPTIMIZERS

N_INPUTS, N_CLASSES = 784, 10


# ----------------------------------------------------------------------------
# learning-rate schedules: the rate at update t of T


def constant(lr0, t, T):
    return lr0


def cosine(lr0, t, T):
    return lr0 * 0.5 * (1 + math.cos(math.pi * min(t / T, 1.0)))  # lr0 at the start, 0 at the end


SCHEDULES = {"constant": constant, "cosine": cosine}


@dataclass
class TrainConfig:
    hidden_layer_sizes: tuple = (128, 64)
    activation: str = "relu"           # a name of ACTIVATIONS
    solver: str = "adam"               # a name of OPTIMIZERS
    learning_rate_init: float = 1e-3
    lr_schedule: str = "constant"      # a name of SCHEDULES
    momentum: float = 0.9              # for solver="momentum"
    batch_size: int | None = 128       # None (or >= the training set): full batch
    max_iter: int = 10                 # epochs (passes over the training set); full batch: updates
    max_steps: int | None = None       # if set: stop after this many updates instead
    alpha: float = 0.0                 # L2 penalty
    dropout: float = 0.0               # hidden units dropped while training
    init: str = "he"                   # a name of INITS
    random_state: int = 0
    train_size: int | None = None      # train on a random subset of this many images
    log_every: int | None = None       # updates between records; None: 4 per epoch, 10 full batch
    # distorted training images (mlp.augment), each image drawn afresh at every update; 0: not so
    rotate: float = 0.0                # degrees, either way
    scale: float = 0.0                 # share of the size, bigger or smaller
    shear: float = 0.0                 # degrees of slant, either way
    shift: float = 0.0                 # pixels, each way
    thickness: float = 0.0             # share of the way to strokes a pixel thicker or thinner
    elastic: float = 0.0               # pixels: typical displacement of the elastic field

    @property
    def distortion(self) -> Distortion:
        return Distortion(**{name: getattr(self, name) for name in DISTORTIONS})

    def distorted(self, level: str) -> "TrainConfig":
        """This config with the distortions of ``level`` (a name of mlp.augment.LEVELS)."""
        return replace(self, **asdict(LEVELS[level]))

    def to_dict(self):
        d = asdict(self)
        d["hidden_layer_sizes"] = list(self.hidden_layer_sizes)
        return d

    @classmethod
    def from_dict(cls, d):
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["hidden_layer_sizes"] = tuple(known.get("hidden_layer_sizes", cls.hidden_layer_sizes))
        return cls(**known)


DISTORTIONS = tuple(f for f in Distortion.__dataclass_fields__)  # the fields TrainConfig shares with it


def distortion_level(config) -> str:
    """The name of the level of mlp.augment.LEVELS that ``config`` distorts as, or "custom"."""
    return next((name for name, d in LEVELS.items() if d == config.distortion), "custom")


PRESETS = {
    # the original notebook: full batch gradient descent, 500 iterations
    "notebook": TrainConfig(solver="sgd", learning_rate_init=0.05, batch_size=None,
                            max_iter=500, init="notebook", log_every=10),
    # the notebook's network trained the modern way: >= 97.5 % in about 3 s
    "fast": TrainConfig(solver="adam", learning_rate_init=2e-3, lr_schedule="cosine",
                        batch_size=128, max_iter=8),
    # trained on lightly distorted digits to read people's drawings: >= 98.5 % in about 20 s
    "handwriting": TrainConfig(hidden_layer_sizes=(256, 128), solver="adam", learning_rate_init=2e-3,
                               lr_schedule="cosine", batch_size=128, max_iter=10).distorted("light"),
    # a wide network, dropout and lightly distorted digits: >= 99.2 % in under 3 minutes
    "best": TrainConfig(hidden_layer_sizes=(1024, 1024), solver="adam", learning_rate_init=1e-3,
                        lr_schedule="cosine", batch_size=256, max_iter=20, dropout=0.2).distorted("light"),
    # the best a from-scratch MLP does here, for a long run (the command line, or a server that allows it)
    "record": TrainConfig(hidden_layer_sizes=(1024, 1024), solver="adam", learning_rate_init=1e-3,
                          lr_schedule="cosine", batch_size=256, max_iter=150,
                          dropout=0.2).distorted("strong"),
}


def preset(name: str, **overrides) -> TrainConfig:
    """Return the preset called ``name`` with some fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


# ----------------------------------------------------------------------------
# the knobs


class Range(NamedTuple):
    """The numbers from ``lo`` to ``hi``, each end included unless it is open."""

    lo: float
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, x) -> bool:
        return ((x > self.lo) if self.lo_open else (x >= self.lo)) and \
            ((x < self.hi) if self.hi_open else (x <= self.hi))

    def __str__(self):
        def number(x):
            return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"
        low = f"{'greater than' if self.lo_open else 'at least'} {number(self.lo)}"
        if self.hi == math.inf:
            return f"a number {low}"
        return f"a number {low} and {'below' if self.hi_open else 'at most'} {number(self.hi)}"


@dataclass(frozen=True)
class Knob:
    """One setting a learner chooses. ``widget`` says how the Train page offers it: "steps" (a
    slider over ``values``), "choice" (buttons), "range" (a slider from the first value to the
    last, in steps), "count" (a slider from 1 to the server's cap), "number" (typed in), or
    "layers" (a slider per hidden layer over ``values``)."""

    name: str                    # the TrainConfig field it sets
    label: str                   # on the Train page
    help: str
    query: str                   # its key in a shared link
    flag: str                    # its command-line flag
    kind: type                   # float, int or str: how a link or the command line is read
    widget: str
    values: tuple = ()           # what the page and a link offer, in order
    bounds: Range | None = None  # what the command line accepts (None: only `values`)
    whole: object = None         # the value offered for None in the config: "full" batch, all images
    show: Callable = str         # how the page writes a value
    fmt: str | None = None       # ... on a "range" slider, printf-style (e.g. "%.1f px")
    more: bool = False           # under "More settings" on the page

    def offer(self, value):
        """The page's value for the config's ``value``."""
        return self.whole if value is None else value

    def take(self, value):
        """The config's value for the page's ``value``."""
        return None if self.whole is not None and value == self.whole else value

    def text(self, value) -> str:
        """``value`` (the page's) as a link writes it."""
        return f"{value:g}" if isinstance(value, float) else str(value)

    def parse(self, text: str):
        """A value (the page's) read from a link or the command line; ValueError if it is not one."""
        if self.whole is not None and text == str(self.whole):
            return self.whole
        value = self.kind(text)
        if self.kind is float and not math.isfinite(value):
            raise ValueError(f"not a finite number: {text}")
        return value


def _described(registry, what):
    """A help text listing a registry's choices with what each does."""
    return f"{what}: " + "; ".join(f"{name}: {about}" for name, (_, about) in registry.items()) + "."


def _show_rate(r):
    return f"{r:g}"


KNOBS = (
    Knob("hidden_layer_sizes", "Neurons in layer", "How many units each layer between the 784 input "
         "pixels and the 10 outputs has. More layers can learn more complex shapes, wider ones more "
         "details; both train more slowly.", "layers", "--layers", int, "layers",
         (8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024), Range(1)),
    Knob("learning_rate_init", "Learning rate", "How big a step each update takes. Too small: slow. "
         "Too large: training jumps around or diverges (try 10 to see it).", "lr", "--lr", float, "steps",
         (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
         Range(0, lo_open=True), show=_show_rate),
    Knob("batch_size", "Batch size", "Images per update. Small batches give many noisy updates per "
         "epoch; 'full batch' makes one exact update per pass, like the original notebook.", "batch",
         "--batch-size", int, "steps", (1, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, "full"), Range(1),
         whole="full", show=lambda b: "full batch" if b == "full" else str(b)),
    Knob("max_iter", "Epochs", "Epochs: passes over the training set. With full batch, one epoch is "
         "one update (an iteration).", "epochs", "--epochs", int, "count", (), Range(1)),
    Knob("solver", "Optimizer", _described(OPTIMIZERS, "How the gradient turns into a step"), "solver",
         "--optimizer", str, "choice", tuple(OPTIMIZERS), more=True),
    Knob("momentum", "Momentum", "For the momentum optimizer: the share of the last step that each "
         "update keeps. 0.9 rolls on through small bumps; 0.99 rolls far and may overshoot.", "momentum",
         "--momentum", float, "steps", (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), Range(0, 1, hi_open=True),
         show=_show_rate, more=True),
    Knob("activation", "Activation", "The function each hidden unit applies. ReLU trains fastest on MNIST.",
         "activation", "--activation", str, "choice", tuple(ACTIVATIONS), more=True),
    Knob("lr_schedule", "Learning-rate schedule", "Cosine lowers the learning rate smoothly to zero by "
         "the end of the run.", "lr_schedule", "--schedule", str, "choice", tuple(SCHEDULES), more=True),
    Knob("alpha", "L2 penalty (alpha)", "Pulls weights towards zero to fight overfitting.", "alpha",
         "--alpha", float, "steps", (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2), Range(0), show=_show_rate,
         more=True),
    Knob("dropout", "Dropout", "Share of hidden units switched off at random at each update, another "
         "fight against overfitting.", "dropout", "--dropout", float, "range",
         tuple(round(0.05 * i, 2) for i in range(13)), Range(0, 1, hi_open=True), more=True),
    Knob("init", "Initialisation", "How the first weights are drawn. He suits ReLU, Glorot suits sigmoid "
         "and tanh; 'notebook' is the original notebook's scheme.", "init", "--init", str, "choice",
         tuple(INITS), more=True),
    Knob("random_state", "Random seed", "Same seed, same settings: the same run, number for number.",
         "seed", "--seed", int, "number", (), Range(0, 2**31 - 1), more=True),
    Knob("train_size", "Training images", "Train on a random subset to go faster; the test set is always "
         "all 10,000 images.", "images", "--train-size", int, "steps",
         (1000, 2000, 5000, 10000, 20000, 30000, 60000), Range(1), whole=60000, show="{:,}".format,
         more=True),
)



def _grid(step, n):
    return tuple(float(round(step * i, 2)) for i in range(n + 1))


def _distortion_knob(name, label, help, values, bounds, fmt):
    return Knob(name, label, help + " Each training image draws its own amount at every update; 0: "
                "none.", name, f"--{name}", float, "range", values, bounds, more=True, fmt=fmt)


KNOBS += (
    _distortion_knob("rotate", "Distort: rotate (degrees)", "Turn each training image by up to this "
                     "many degrees either way, as people hold the pen at different angles.", _grid(1, 30),
                     Range(0, 180), "%.0f°"),
    _distortion_knob("scale", "Distort: scale", "Make each training image up to this share bigger or "
                     "smaller.", _grid(0.01, 30), Range(0, 0.9), "%.2f"),
    _distortion_knob("shear", "Distort: slant (degrees)", "Slant each training image by up to this many "
                     "degrees, as some people write leaning forward or back.", _grid(1, 30), Range(0, 60),
                     "%.0f°"),
    _distortion_knob("shift", "Distort: shift (pixels)", "Move each training image by up to this many "
                     "pixels in each direction.", _grid(0.5, 10), Range(0, 14), "%.1f px"),
    _distortion_knob("thickness", "Distort: stroke thickness", "Make each training image's strokes "
                     "thicker or thinner: 1 goes up to a whole pixel thicker, or half a pixel thinner.",
                     _grid(0.1, 10), Range(0, 1), "%.1f"),
    _distortion_knob("elastic", "Distort: elastic (pixels)", "Bend each training image with a smooth "
                     "random field that moves pixels by about this much, like a hand's wobble (Simard "
                     "et al., 2003).", _grid(0.1, 30), Range(0, 10), "%.1f px"),
)
KNOB = {k.name: k for k in KNOBS}
assert tuple(k.name for k in KNOBS[-len(DISTORTIONS):]) == DISTORTIONS


# ----------------------------------------------------------------------------
# the plan: what a config means on a training set of a given size


DISTORT_SECONDS = 1.1e-5  # distorting one image (benchmarks/augment.py: 1.4 ms a batch of 128)
DISTORT_SHOWS = 0.75     # the share of it that adds to a mini-batch training's time


@dataclass(frozen=True)
class Plan:
    batch: int              # images per update
    steps_per_epoch: int
    total_steps: int
    log_every: int          # updates between progress records
    unit: str               # what max_iter counts: "epochs", or "iterations" (full batch)
    n_params: int
    seconds: float          # a rough guess of the training time on a 2-core CPU
    megabytes: float        # the memory training needs beyond the shared data set


def count_params(layer_sizes) -> int:
    """Return the number of weights and biases of a network with these layer sizes."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def plan(config: TrainConfig, n_train: int, n_test: int = 10000) -> Plan:
    """Work out a training of ``config`` on ``n_train`` images.

    Time: matrix products cost 6 flops per weight per image (forward and backward) at ~120
    GFLOP/s; each update adds ~0.4 ms of fixed cost plus the optimizer's passes over the weights;
    each progress record evaluates the test set. Fitted to the three presets' measured times.

    Memory: weights, gradients, a snapshot and up to two optimizer moments (5 copies of the
    parameters), plus the larger of an update (for each image of the batch its float32 pixels and
    each layer's outputs three times over: activations, dropout masks, gradients flowing back; a
    full batch keeps its float copy of the images while it trains) or a test-set evaluation
    (chunks of 4096 images, each layer's outputs twice), and distortion's work arrays.

    Distorting costs about DISTORT_SECONDS an image; made ahead on a second thread during
    mini-batch training, only a part of it shows (DISTORT_SHOWS, from benchmarks/augment.py).
    """
    sizes = [N_INPUTS, *config.hidden_layer_sizes, N_CLASSES]
    batch = n_train if not config.batch_size or config.batch_size >= n_train else int(config.batch_size)
    steps_per_epoch = math.ceil(n_train / batch)
    total = config.max_steps or config.max_iter * steps_per_epoch
    log_every = config.log_every or (10 if batch == n_train else max(1, steps_per_epoch // 4))
    n_params, macs = count_params(sizes), sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    per_step = batch * 6 * macs / 1.2e11 + 4e-4 + n_params * 1.05e-8
    seconds = total * per_step + total / log_every * n_test * 2 * macs / 1.2e11
    update, evaluation = batch * (N_INPUTS + 3 * sum(sizes[1:])), 4096 * (N_INPUTS + 2 * sum(sizes[1:]))
    megabytes = 4 * (5 * n_params + max(update, evaluation)) / 2**20
    if not config.distortion.identity:
        seconds += total * batch * DISTORT_SECONDS * (1 if batch == n_train else DISTORT_SHOWS)
        megabytes += work_bytes(batch) / 2**20
    unit = "iterations" if not config.batch_size else "epochs"
    return Plan(batch, steps_per_epoch, total, log_every, unit, n_params, seconds, megabytes)
