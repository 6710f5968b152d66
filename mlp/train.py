"""Training: a Trainer that runs a TrainConfig (mlp.config) and yields progress records as it goes.

The Trainer can be stopped between mini-batches and resumed, a given number of updates at a time;
it never touches a user interface. While it runs, some settings (`LIVE`) may change: another
thread asks with `Trainer.change`, and the change applies from the next update on, recorded as a
`ConfigChange`. Every few updates it measures its layers (mlp.diagnostics).
"""
import math
import queue
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from . import diagnostics
from .analysis import predict_all
from .augment import Distorter
from .config import (DISTORTIONS, KNOB, N_CLASSES, N_INPUTS, PRESETS, SCHEDULES, TrainConfig,  # noqa: F401
                     plan, preset)
from .metrics import accuracy, log_loss
from .model import MLP
from .optim import make_optimizer
from .preprocess import to_float

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


# the settings that may change while a training runs; layer sizes, activation, initialisation and
# optimizer make the network what it is, and stay
LIVE = ("learning_rate_init", "lr_schedule", "momentum", "alpha", "dropout", "batch_size", *DISTORTIONS)


@dataclass(frozen=True)
class ConfigChange:
    """A setting changed during a run: ``field`` went from ``old`` to ``value`` before update ``step + 1``.

    ``field`` is a name of `LIVE`, or "max_iter" when epochs were added."""

    step: int       # updates done when it applied
    epoch: float
    field: str
    value: object
    old: object

    def __str__(self):
        """The change as a link would write it: "lr 0.002 -> 0.02", "epochs 8 -> 9"."""
        if self.field == "max_iter":
            return f"epochs {self.old} -> {self.value}"
        knob = KNOB[self.field]
        return f"{knob.query} {knob.text(self.old)} -> {knob.text(self.value)}"


def phases(config, changes):
    """The run as a list of (first update, TrainConfig) phases: its start, then one per step with changes."""
    out = [(0, config)]
    for change in changes:
        at, last = out[-1]
        now = replace(last, **{change.field: change.value})
        out[-1:] = [(at, now)] if at == change.step else [(at, last), (change.step, now)]
    return out


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model holds the last good weights."""


def evaluate(model, images, labels):
    """Return (accuracy, loss) of ``model`` on uint8 images (converted a chunk at a time)."""
    P = predict_all(model, images)
    return accuracy(labels, P.argmax(axis=1)), log_loss(labels, P)


class Trainer:
    """Train an MLP on a data set according to a TrainConfig.

    Parameters
    ----------
    config : TrainConfig
    data : mlp.data.Dataset or tuple (x_train, y_train, x_test, y_test) of uint8 arrays
    """

    def __init__(self, config: TrainConfig, data, start=None):
        self.config = c = config
        # weights to start from (fine-tuning a trained network), laid out like MLP.params
        self._init = None if start is None else np.array(start, dtype=np.float32)
        self.start_config = config      # the settings it started with; `config` is the latest
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
        p = plan(c, n)
        self.batch_size, self.steps_per_epoch, self.total_steps, self.log_every = \
            p.batch, p.steps_per_epoch, p.total_steps, p.log_every
        self.step = 0
        self._epoch_at = (0, 0.0)  # (step, epoch) where the batch size last changed
        self.elapsed = 0.0
        self.history: list[Progress] = []
        self.measured: list[tuple] = []  # mlp.diagnostics.row of each measurement (see `diagnostics`)
        self.changes: list[ConfigChange] = []
        self._requests = queue.SimpleQueue()  # (field, value) from `change`, applied before an update
        self.requested = config  # the config once the changes asked for have applied
        self._model = self.optimizer = self._snapshot = self._start = None  # made on first use, see `model`
        self.snapshot_step = 0
        self._order, self._pos = None, n
        self._X_full = None
        # its own random numbers, so that turning distortion on or off changes nothing else
        self._distorter = None if c.distortion.identity else Distorter(c.distortion, (c.random_state, 1))
        # (rows, the distorter's random state before, the next mini-batch) made ahead; a Future
        # while it is being made
        self._ahead = None
        self.ahead = True   # distort mini-batches on a second thread, one ahead (see _next_batch)
        self.measure = True  # measure the layers every few updates (mlp.diagnostics.every)
        self._start_norm = None  # the starting weights' norms, once measured

    @property
    def model(self) -> MLP:
        """The network being trained. It is made when first needed, so that a training waiting
        in a server's queue holds no weights yet."""
        if self._model is None:
            c = self.config
            model = MLP([N_INPUTS, *c.hidden_layer_sizes, N_CLASSES], c.activation, c.init, c.dropout,
                        c.random_state)
            if self._init is not None:
                if self._init.shape != model.params.shape:
                    raise ValueError(f"the weights to start from have {self._init.size:,} values; the network "
                                     f"{model.layer_sizes} has {model.n_params:,}")
                model.params[:] = self._init
                self._init = None  # the model holds them now
            self.optimizer = make_optimizer(c.solver, model.params, c)
            self._snapshot, self._start, self._model = model.copy(), model.params.copy(), model
        return self._model

    @property
    def snapshot(self) -> MLP:
        """The last good weights, a copy that other threads may read at any time."""
        if self._snapshot is None:
            self.model  # noqa: B018 (makes the snapshot too)
        return self._snapshot

    @property
    def diagnostics(self) -> list:
        """The layers' measurements so far, oldest first (mlp.diagnostics.Diagnostics)."""
        return [diagnostics.Diagnostics(*r) for r in self.measured]

    @property
    def start_params(self):
        """The weights before the first update (flat, like ``model.params``)."""
        self.model  # noqa: B018 (makes them too)
        return self._start

    @property
    def nbytes(self) -> int:
        """Memory held by this trainer beyond the shared data set: labels, weights, snapshot, the
        starting weights, optimizer state, and while it trains a full-batch run's float copy of the
        images and the distorter's work arrays."""
        held = [self.y_train, self._rows, self._X_full]
        extra = 0 if self._distorter is None else self._distorter.nbytes
        if self._model is not None:
            held += [self._model.params, self._snapshot.params, self._start, *vars(self.optimizer).values()]
        arrays = {id(a): a for a in held if isinstance(a, np.ndarray)}  # the optimizer shares params
        return extra + sum(a.nbytes for a in arrays.values())

    @property
    def x_train(self):
        """The training images, (n, 784) uint8 (a copy when training on a subset)."""
        return self._x if self._rows is None else self._x[self._rows]

    def extend(self, epochs: int):
        """Allow ``epochs`` more passes over the data (continue training, between runs)."""
        self.total_steps = max(self.total_steps, self.step) + epochs * self.steps_per_epoch

    @property
    def epoch(self) -> float:
        """Passes over the training set so far."""
        step, epoch = self._epoch_at
        return epoch + (self.step - step) / self.steps_per_epoch

    # ------------------------------------------------------------------------
    # changes while it runs: asked for on any thread, applied on the training thread

    def change(self, field: str, value):
        """Ask for ``field`` (a name of `LIVE`) to become ``value`` from the next update on.

        Safe to call from any thread, also while `run` goes on; raises ValueError (and changes
        nothing) for a field that stays fixed or a value its knob (mlp.config.KNOBS) does not allow.
        """
        if field not in LIVE:
            raise ValueError(f"{field} stays as it is during a run; train a new model to change it")
        knob, n = KNOB[field], len(self.y_train)
        if field == "batch_size":
            if value is None or isinstance(value, str) or self.batch_size == n or not 1 <= int(value) < n:
                raise ValueError("the batch size can change between mini-batch sizes below the training "
                                 "set's size; a full-batch run stays full batch")
            value = int(value)
        elif knob.kind is float:
            value = float(value)
            if not math.isfinite(value) or value not in knob.bounds:
                raise ValueError(f"{knob.label} must be {knob.bounds}")
        elif value not in knob.values:
            raise ValueError(f"{knob.label} must be one of {', '.join(map(str, knob.values))}")
        self.requested = replace(self.requested, **{field: value})
        self._requests.put((field, value))

    def add_epochs(self, epochs: int = 1):
        """Ask for ``epochs`` more passes (full batch: updates), from any thread, also while it runs."""
        if not 1 <= int(epochs) <= 10**6:
            raise ValueError("epochs to add must be a whole number from 1")
        self.requested = replace(self.requested, max_iter=self.requested.max_iter + int(epochs))
        self._requests.put(("max_iter", int(epochs)))

    def _apply_changes(self):
        """Apply the changes asked for since the last update, each recorded in ``changes``."""
        while True:
            try:
                field, value = self._requests.get_nowait()
            except queue.Empty:
                return
            old = getattr(self.config, field)
            if field == "max_iter":  # epochs added
                value, extra = old + value, value * self.steps_per_epoch
                self.total_steps = max(self.total_steps, self.step) + extra
            elif value == old:
                continue
            self.config = replace(self.config, **{field: value})
            self.changes.append(ConfigChange(self.step, self.epoch, field, value, old))
            if field == "dropout":
                self.model.dropout = value
            elif field == "momentum" and getattr(self.optimizer, "velocity", None) is not None:
                self.optimizer.momentum = value
            elif field == "batch_size":
                self._rebatch(value)
            elif field in DISTORTIONS:
                self._redistort()

    def _rebatch(self, batch):
        """Go on with mini-batches of ``batch`` images: as many epochs left as before, records as often."""
        old_steps, epoch = self.steps_per_epoch, self.epoch
        p = plan(self.config, len(self.y_train))
        self._drop_ahead()
        self._epoch_at = (self.step, epoch)
        left = max(self.total_steps - self.step, 0)
        self.batch_size, self.steps_per_epoch, self.log_every = p.batch, p.steps_per_epoch, p.log_every
        self.total_steps = self.step + math.ceil(left * p.steps_per_epoch / old_steps)

    def _redistort(self):
        d = self.config.distortion
        self._drop_ahead()
        self._X_full = None
        if d.identity:
            self._distorter = None
        elif self._distorter is None:
            self._distorter = Distorter(d, (self.config.random_state, 1))
        else:  # its random numbers go on
            self._distorter.distortion = d

    def _drop_ahead(self):
        """Forget the mini-batch made ahead, as if it had not been made: its rows come again in
        the next one, and the distorter's random numbers are where they were before it."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            idx, state, batch = ahead
            if isinstance(batch, Future):
                batch.result()
            self._pos -= len(idx)
            self._distorter.rng.bit_generator.state = state

    def learning_rate(self) -> float:
        """The rate of the next update, from the config's schedule (one of `SCHEDULES`)."""
        return SCHEDULES[self.config.lr_schedule](self.config.learning_rate_init, self.step, self.total_steps)

    def _next_rows(self):
        """The rows of the next mini-batch, reshuffling at each epoch (None: the full batch)."""
        n = len(self.y_train)
        if self.batch_size == n:
            return None
        if self._pos >= n:
            self._order, self._pos = self.rng.permutation(n), 0
        idx = self._order[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def _inputs(self, idx):
        """The float32 rows of the mini-batch ``idx`` (or the full batch for None), distorted if the
        config says so."""
        if idx is None:  # full batch: convert once and keep it (distorted afresh each time)
            if self._distorter is not None:
                self._X_full = self._distorter(self.x_train, out=self._X_full)
            elif self._X_full is None:
                self._X_full = to_float(self.x_train)
            return self._X_full, self.y_train
        images = self._x[idx if self._rows is None else self._rows[idx]]
        return (to_float(images) if self._distorter is None else self._distorter(images)), self.y_train[idx]

    def _next_batch(self, helper=None):
        """Return the next (X, y) mini-batch. With a ``helper`` thread, distorted mini-batches are
        made one ahead: the next one is distorted there while this one trains (NumPy lets go of
        Python's lock in its loops, so the two run on two cores)."""
        ahead, self._ahead = self._ahead, None
        batch = None if ahead is None else ahead[2].result() if isinstance(ahead[2], Future) else ahead[2]
        if batch is None:
            batch = self._inputs(self._next_rows())
        if helper is not None and self._distorter is not None and self.step + 1 < self.total_steps:
            idx, state = self._next_rows(), self._distorter.rng.bit_generator.state
            self._ahead = idx, state, helper.submit(self._inputs, idx)
        return batch

    def run(self, stop=None, steps=None, every=None):
        """Train up to ``total_steps``, yielding a Progress record every ``log_every`` updates.

        ``stop`` is an optional callable checked before each update; when it returns True
        the run ends after the current record and can be resumed by calling `run` again.
        ``steps`` ends it after that many updates, ``every`` records every that many instead
        (1: after each update, for slow motion). Raises TrainingDiverged (after restoring the
        last good weights) on a NaN/inf loss.
        """
        ahead = self.ahead and self.batch_size < len(self.y_train)
        helper = ThreadPoolExecutor(1, thread_name_prefix="distort") if ahead else None  # a thread once used
        try:
            yield from self._updates(stop, helper, steps, every)
        finally:
            if self._ahead is not None and isinstance(self._ahead[2], Future):  # keep it for a later run
                self._ahead = *self._ahead[:2], self._ahead[2].result()
            if helper is not None:
                helper.shutdown()

    def _updates(self, stop, helper, steps, every):
        model = self.model
        loss_sum, correct, seen = 0.0, 0, 0
        end = math.inf if steps is None else self.step + steps
        t0 = time.perf_counter()
        while True:
            self._apply_changes()  # asked for since the last update (say, while a record was yielded)
            c = self.config
            if self.step >= min(end, self.total_steps) or (stop and stop()):  # (epochs may have been added)
                break
            X, y = self._next_batch(helper)
            A = model.forward(X, self.rng if c.dropout > 0 else None)
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
            grad = model.backward(A, y, c.alpha)
            probe = self.measure and (every == 1 or (self.step + 1) % diagnostics.every(self.log_every) == 0)
            if probe:  # the optimizer works in place: note the weights and gradient before the step
                before, grad_norm = model.params.copy(), diagnostics.norms(model, grad)
            self.optimizer.step(grad, self.learning_rate())
            self.step += 1
            if probe:
                if self._start_norm is None:
                    self._start_norm = diagnostics.norms(model, self._start)
                self.measured.append(diagnostics.row(diagnostics.measure(
                    model, grad_norm, before, self._start, A, self.step, self.epoch, self._start_norm)))
            if self.step % (every or self.log_every) == 0 or self.step == self.total_steps:
                yield self._record(loss_sum / seen, correct / seen, seen, t0)
                loss_sum, correct, seen = 0.0, 0, 0
                t0 = time.perf_counter()
        if seen:  # stopped between records: record what was done
            yield self._record(loss_sum / seen, correct / seen, seen, t0)

    def release(self):
        """Let go of what only a running training needs: a full batch's float copy of the images
        (188 MB for MNIST) and the distorter's work arrays, made again if the training goes on."""
        self._X_full = None
        if self._distorter is not None:
            self._distorter.release()

    def _record(self, loss, train_acc, seen, t0):
        dt = time.perf_counter() - t0
        self.elapsed += dt
        test_acc, test_loss = evaluate(self.model, self.x_test, self.y_test)
        self._snapshot, self.snapshot_step = self.model.copy(), self.step
        p = Progress(step=self.step, epoch=self.epoch,
                     train_accuracy=train_acc, test_accuracy=test_acc, loss=loss, test_loss=test_loss,
                     samples_per_second=seen / max(dt, 1e-9), elapsed=self.elapsed, lr=self.learning_rate())
        self.history.append(p)
        return p

    def _restore(self):
        """Put the last good weights back and start the optimizer afresh."""
        self.model.params[...] = self.snapshot.params
        self.step = self.snapshot_step
        self.measured = [r for r in self.measured if r[0] <= self.step]
        self.optimizer = make_optimizer(self.config.solver, self.model.params, self.config)

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps
