"""Training: a config, three presets, and a Trainer that yields progress records as it goes.

The Trainer can be stopped between mini-batches and resumed; it never touches a user interface.
"""
import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .analysis import predict_all
from .metrics import log_loss
from .model import MLP
from .optim import make_optimizer
from .preprocess import to_float

N_INPUTS, N_CLASSES = 784, 10


@dataclass
class TrainConfig:
    hidden_layer_sizes: tuple = (128, 64)
    activation: str = "relu"           # "relu", "sigmoid" or "tanh"
    solver: str = "adam"               # "sgd", "momentum" or "adam"
    learning_rate_init: float = 1e-3
    lr_schedule: str = "constant"      # "constant" or "cosine" (decays to 0 at the last step)
    momentum: float = 0.9              # for solver="momentum"
    batch_size: int | None = 128       # None (or >= the training set): full batch
    max_iter: int = 10                 # epochs (passes over the training set)
    max_steps: int | None = None       # if set: stop after this many updates instead
    alpha: float = 0.0                 # L2 penalty
    dropout: float = 0.0               # hidden units dropped while training
    init: str = "he"                   # "he", "glorot" or "notebook"
    random_state: int = 0
    train_size: int | None = None      # train on a random subset of this many images
    log_every: int | None = None       # updates between records; None: 4 per epoch, 10 full batch

    def to_dict(self):
        d = asdict(self)
        d["hidden_layer_sizes"] = list(self.hidden_layer_sizes)
        return d

    @classmethod
    def from_dict(cls, d):
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["hidden_layer_sizes"] = tuple(known.get("hidden_layer_sizes", cls.hidden_layer_sizes))
        return cls(**known)


PRESETS = {
    # the original notebook: full batch gradient descent, 500 iterations
    "notebook": TrainConfig(solver="sgd", learning_rate_init=0.05, batch_size=None,
                            max_iter=500, init="notebook", log_every=10),
    # the notebook's network trained the modern way
    "fast": TrainConfig(solver="adam", learning_rate_init=2e-3, lr_schedule="cosine",
                        batch_size=128, max_iter=8),
    # a wider network, dropout against overfitting, and a cosine schedule: >= 98.5 % in about 90 s
    "best": TrainConfig(hidden_layer_sizes=(512, 512), solver="adam", learning_rate_init=2e-3,
                        lr_schedule="cosine", batch_size=256, max_iter=24, dropout=0.3),
}


def preset(name: str, **overrides) -> TrainConfig:
    """Return the preset called ``name`` with some fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


@dataclass
class Progress:
    step: int                 # updates so far
    epoch: float              # passes over the training set so far
    train_accuracy: float     # on the batches since the previous record (full batch: the last)
    test_accuracy: float
    loss: float               # mean training loss since the previous record
    test_loss: float
    samples_per_second: float
    elapsed: float            # seconds of training so far
    lr: float


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model holds the last good weights."""


def count_params(layer_sizes) -> int:
    """Return the number of weights and biases of a network with these layer sizes."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def schedule(config: TrainConfig, n_train: int):
    """Return (batch size, updates per epoch, total updates, updates between records) for a run."""
    batch = n_train if not config.batch_size or config.batch_size >= n_train else int(config.batch_size)
    steps_per_epoch = math.ceil(n_train / batch)
    total = config.max_steps or config.max_iter * steps_per_epoch
    log_every = config.log_every or (10 if batch == n_train else max(1, steps_per_epoch // 4))
    return batch, steps_per_epoch, total, log_every


def estimate_seconds(config: TrainConfig, n_train: int, n_test: int = 10000) -> float:
    """Return a rough guess of the training time on a 2-core CPU like the one it was fitted on.

    Matrix products cost 6 flops per weight per image (forward and backward) at ~120 GFLOP/s;
    each update adds ~0.4 ms of fixed cost plus the optimizer's passes over the weights; each
    progress record evaluates the test set. Fitted to the three presets' measured times.
    """
    sizes = [N_INPUTS, *config.hidden_layer_sizes, N_CLASSES]
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    batch, _, steps, log_every = schedule(config, n_train)
    per_step = batch * 6 * macs / 1.2e11 + 4e-4 + count_params(sizes) * 1.05e-8
    return steps * per_step + steps / log_every * n_test * 2 * macs / 1.2e11


def evaluate(model, images, labels):
    """Return (accuracy, loss) of ``model`` on uint8 images (converted a chunk at a time)."""
    P = predict_all(model, images)
    return float(np.mean(P.argmax(axis=1) == labels)), log_loss(labels, P)


class Trainer:
    """Train an MLP on a data set according to a TrainConfig.

    Parameters
    ----------
    config : TrainConfig
    data : mlp.data.Dataset or tuple (x_train, y_train, x_test, y_test) of uint8 arrays
    """

    def __init__(self, config: TrainConfig, data):
        self.config = c = config
        self.dataset_name = getattr(data, "name", None)
        x_train, y_train, x_test, y_test = data[:4]
        self.rng = np.random.default_rng(c.random_state)
        # a subset is a list of rows into the shared images, not a copy of them: a server may
        # hold many trainers (some waiting in a queue) and only one copy of the data set
        self._x = x_train.reshape(len(x_train), -1)  # (N, 784) uint8
        self._rows = None
        if c.train_size and c.train_size < len(y_train):
            self._rows = np.sort(self.rng.choice(len(y_train), c.train_size, replace=False))
            y_train = y_train[self._rows]
        self.y_train = np.asarray(y_train, dtype=np.intp)
        self.x_test, self.y_test = x_test, np.asarray(y_test, dtype=np.intp)
        n = len(self.y_train)
        self.batch_size, self.steps_per_epoch, self.total_steps, self.log_every = schedule(c, n)
        self.step = 0
        self.elapsed = 0.0
        self.history: list[Progress] = []
        self._model = self.optimizer = self._snapshot = None  # made on first use, see `model`
        self.snapshot_step = 0
        self._order, self._pos = None, n
        self._X_full = None

    @property
    def model(self) -> MLP:
        """The network being trained. It is made when first needed, so that a training waiting
        in a server's queue holds no weights yet."""
        if self._model is None:
            c = self.config
            model = MLP([N_INPUTS, *c.hidden_layer_sizes, N_CLASSES], c.activation, c.init, c.dropout,
                        c.random_state)
            self.optimizer = make_optimizer(c.solver, model.params, c.momentum)
            self._snapshot, self._model = model.copy(), model
        return self._model

    @property
    def snapshot(self) -> MLP:
        """The last good weights, a copy that other threads may read at any time."""
        if self._snapshot is None:
            self.model  # noqa: B018 (makes the snapshot too)
        return self._snapshot

    @property
    def nbytes(self) -> int:
        """Memory held by this trainer beyond the shared data set: labels, weights, snapshot,
        optimizer state, and a full-batch run's float copy of the images while it trains."""
        held = [self.y_train, self._rows, self._X_full]
        if self._model is not None:
            held += [self._model.params, self._snapshot.params, *vars(self.optimizer).values()]
        arrays = {id(a): a for a in held if isinstance(a, np.ndarray)}  # the optimizer shares params
        return sum(a.nbytes for a in arrays.values())

    @property
    def x_train(self):
        """The training images, (n, 784) uint8 (a copy when training on a subset)."""
        return self._x if self._rows is None else self._x[self._rows]

    def extend(self, epochs: int):
        """Allow ``epochs`` more passes over the data (continue training)."""
        self.total_steps = max(self.total_steps, self.step) + epochs * self.steps_per_epoch

    def learning_rate(self) -> float:
        lr0 = self.config.learning_rate_init
        if self.config.lr_schedule == "cosine":  # 1/2 (1 + cos(pi t / T)): lr0 at the start, 0 at the end
            return lr0 * 0.5 * (1 + math.cos(math.pi * min(self.step / self.total_steps, 1.0)))
        return lr0

    def _next_batch(self):
        """Return the next (X, y) mini-batch as float32 rows, reshuffling at each epoch."""
        n = len(self.y_train)
        if self.batch_size == n:  # full batch: convert once and keep it
            if self._X_full is None:
                self._X_full = to_float(self.x_train)
            return self._X_full, self.y_train
        if self._pos >= n:
            self._order, self._pos = self.rng.permutation(n), 0
        idx = self._order[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return to_float(self._x[idx if self._rows is None else self._rows[idx]]), self.y_train[idx]

    def run(self, stop=None):
        """Train up to ``total_steps``, yielding a Progress record every ``log_every`` updates.

        ``stop`` is an optional callable checked before each update; when it returns True
        the run ends after the current record and can be resumed by calling `run` again.
        Raises TrainingDiverged (after restoring the last good weights) on a NaN/inf loss.
        """
        model, c = self.model, self.config
        drop_rng = self.rng if c.dropout > 0 else None
        loss_sum, correct, seen = 0.0, 0, 0
        t0 = time.perf_counter()
        while self.step < self.total_steps and not (stop and stop()):
            X, y = self._next_batch()
            A = model.forward(X, drop_rng)
            loss = log_loss(y, A[-1])
            if not math.isfinite(loss) or loss > 50:  # e^-50: the network has blown up
                self._restore()
                raise TrainingDiverged(
                    f"Training diverged at update {self.step + 1} (loss {loss:.3g}) with learning rate "
                    f"{c.learning_rate_init:g}. The model keeps its last good weights; "
                    "try a learning rate 3 to 10 times smaller.")
            if self.batch_size == len(self.y_train):  # full batch: report the latest pass only
                loss_sum, correct, seen = 0.0, 0, 0
            loss_sum += loss * len(y)
            correct += int(np.sum(A[-1].argmax(axis=1) == y))
            seen += len(y)
            self.optimizer.step(model.backward(A, y, c.alpha), self.learning_rate())
            self.step += 1
            if self.step % self.log_every == 0 or self.step == self.total_steps:
                yield self._record(loss_sum / seen, correct / seen, seen, t0)
                loss_sum, correct, seen = 0.0, 0, 0
                t0 = time.perf_counter()
        if seen:  # stopped between records: record what was done
            yield self._record(loss_sum / seen, correct / seen, seen, t0)

    def release(self):
        """Let go of what only a running training needs: a full batch's float copy of the images
        (188 MB for MNIST), made again if the training goes on."""
        self._X_full = None

    def _record(self, loss, train_acc, seen, t0):
        dt = time.perf_counter() - t0
        self.elapsed += dt
        test_acc, test_loss = evaluate(self.model, self.x_test, self.y_test)
        self._snapshot, self.snapshot_step = self.model.copy(), self.step
        p = Progress(step=self.step, epoch=self.step / self.steps_per_epoch,
                     train_accuracy=train_acc, test_accuracy=test_acc, loss=loss, test_loss=test_loss,
                     samples_per_second=seen / max(dt, 1e-9), elapsed=self.elapsed, lr=self.learning_rate())
        self.history.append(p)
        return p

    def _restore(self):
        """Put the last good weights back and start the optimizer afresh."""
        self.model.params[...] = self.snapshot.params
        self.step = self.snapshot_step
        self.optimizer = make_optimizer(self.config.solver, self.model.params, self.config.momentum)

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps
