"""Training: a Trainer that runs a TrainConfig (mlp.config) and yields progress records as it goes.

The Trainer can be stopped between mini-batches and resumed; it never touches a user interface.
"""
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .analysis import predict_all
from .augment import Distorter
from .config import N_CLASSES, N_INPUTS, PRESETS, SCHEDULES, TrainConfig, plan, preset  # noqa: F401
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
        p = plan(c, n)
        self.batch_size, self.steps_per_epoch, self.total_steps, self.log_every = \
            p.batch, p.steps_per_epoch, p.total_steps, p.log_every
        self.step = 0
        self.elapsed = 0.0
        self.history: list[Progress] = []
        self._model = self.optimizer = self._snapshot = None  # made on first use, see `model`
        self.snapshot_step = 0
        self._order, self._pos = None, n
        self._X_full = None
        # its own random numbers, so that turning distortion on or off changes nothing else
        self._distorter = None if c.distortion.identity else Distorter(c.distortion, (c.random_state, 1))
        self._ahead = None  # the next mini-batch, made ahead (a Future while it is being made)
        self.ahead = True   # distort mini-batches on a second thread, one ahead (see _next_batch)

    @property
    def model(self) -> MLP:
        """The network being trained. It is made when first needed, so that a training waiting
        in a server's queue holds no weights yet."""
        if self._model is None:
            c = self.config
            model = MLP([N_INPUTS, *c.hidden_layer_sizes, N_CLASSES], c.activation, c.init, c.dropout,
                        c.random_state)
            self.optimizer = make_optimizer(c.solver, model.params, c)
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
        optimizer state, and while it trains a full-batch run's float copy of the images and the
        distorter's work arrays."""
        held = [self.y_train, self._rows, self._X_full]
        extra = 0 if self._distorter is None else self._distorter.nbytes
        if self._model is not None:
            held += [self._model.params, self._snapshot.params, *vars(self.optimizer).values()]
        arrays = {id(a): a for a in held if isinstance(a, np.ndarray)}  # the optimizer shares params
        return extra + sum(a.nbytes for a in arrays.values())

    @property
    def x_train(self):
        """The training images, (n, 784) uint8 (a copy when training on a subset)."""
        return self._x if self._rows is None else self._x[self._rows]

    def extend(self, epochs: int):
        """Allow ``epochs`` more passes over the data (continue training)."""
        self.total_steps = max(self.total_steps, self.step) + epochs * self.steps_per_epoch

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
        batch = ahead.result() if isinstance(ahead, Future) else ahead
        if batch is None:
            batch = self._inputs(self._next_rows())
        if helper is not None and self.step + 1 < self.total_steps:
            self._ahead = helper.submit(self._inputs, self._next_rows())
        return batch

    def run(self, stop=None):
        """Train up to ``total_steps``, yielding a Progress record every ``log_every`` updates.

        ``stop`` is an optional callable checked before each update; when it returns True
        the run ends after the current record and can be resumed by calling `run` again.
        Raises TrainingDiverged (after restoring the last good weights) on a NaN/inf loss.
        """
        ahead = self.ahead and self._distorter is not None and self.batch_size < len(self.y_train)
        helper = ThreadPoolExecutor(1, thread_name_prefix="distort") if ahead else None
        try:
            yield from self._updates(stop, helper)
        finally:
            if isinstance(self._ahead, Future):  # keep the batch made ahead for a later run
                self._ahead = self._ahead.result()
            if helper is not None:
                helper.shutdown()

    def _updates(self, stop, helper):
        model, c = self.model, self.config
        drop_rng = self.rng if c.dropout > 0 else None
        loss_sum, correct, seen = 0.0, 0, 0
        t0 = time.perf_counter()
        while self.step < self.total_steps and not (stop and stop()):
            X, y = self._next_batch(helper)
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
        (188 MB for MNIST) and the distorter's work arrays, made again if the training goes on."""
        self._X_full = None
        if self._distorter is not None:
            self._distorter.release()

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
        self.optimizer = make_optimizer(self.config.solver, self.model.params, self.config)

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps
