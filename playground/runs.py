"""A bounded history of training runs, to compare them and to bring one back as the current model."""
import csv
import io
import json
import threading
from dataclasses import asdict, dataclass, field
from itertools import count

from mlp.config import KNOB, KNOBS, N_CLASSES, N_INPUTS, TrainConfig, distortion_level

RATE = KNOB["learning_rate_init"]


@dataclass
class Run:
    id: int
    label: str                 # short, for legends: "#2 128 64 · adam · lr 0.002"
    dataset: str
    config: dict               # TrainConfig.to_dict() of the settings it started with
    history: list              # Progress records
    state: str                 # finished, stopped, diverged, or edited (a copy edited in the neuron lab)
    n_params: int
    model: object = field(repr=False, default=None)  # the MLP, or None once dropped to save memory
    changes: list = field(default_factory=list)      # mlp.train.ConfigChange: settings changed during it
    edits: str = ""            # what the neuron lab changed in its weights: "2 units off, pruned 30 %"

    @property
    def test_accuracy(self) -> float:
        return self.history[-1].test_accuracy if self.history else float("nan")

    @property
    def seconds(self) -> float:
        return self.history[-1].elapsed if self.history else 0.0

    def summary(self) -> dict:
        """One row of the runs table: how it went, then a column per knob (mlp.config.KNOBS)."""
        c = self.config
        row = {"run": self.label, "test accuracy": self.test_accuracy,
               "epochs trained": round(self.history[-1].epoch, 2) if self.history else 0,
               "seconds": round(self.seconds, 1), "parameters": self.n_params,
               "layers": "-".join(map(str, [N_INPUTS, *c["hidden_layer_sizes"], N_CLASSES]))}
        known = TrainConfig.from_dict(c)  # a run saved before a knob existed has its default
        row.update({k.label.lower(): k.offer(getattr(known, k.name)) for k in KNOBS if k.widget != "layers"})
        row["changes during the run"] = "; ".join(f"{c} at update {c.step:,}" for c in self.changes)
        row["edits"] = self.edits
        return {**row, "state": self.state, "dataset": self.dataset}

    def history_csv(self) -> str:
        """The run's progress records as CSV, one row per record; its "changes" column names the
        settings changed since the record before."""
        out = io.StringIO()
        rows, last = [], -1
        for p in self.history:
            changed = [str(c) for c in self.changes if last < c.step <= p.step]
            rows.append({**asdict(p), "changes": "; ".join(changed)})
            last = p.step
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["step", "changes"])
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()

    def config_json(self) -> str:
        """The settings it started with, then each change: {"step", "epoch", "field", "value", "old"}."""
        return json.dumps({"dataset": self.dataset, **self.config, "changes": [asdict(c) for c in self.changes],
                           **({"edits": self.edits} if self.edits else {})}, indent=2)


class RunHistory:
    """The runs of one user, newest last, bounded in count and in the memory their weights take.

    Past ``max_runs`` the oldest run goes; past ``max_model_bytes`` the oldest runs keep their
    curves but drop their weights. Safe to use from several threads.
    """

    def __init__(self, max_runs=20, max_model_bytes=64 * 2**20):
        self.max_runs, self.max_model_bytes = max_runs, max_model_bytes
        self._runs: list[Run] = []
        self._ids = count(1)
        self._lock = threading.Lock()

    def add(self, dataset, config, history, state, model, changes=(), edits="", origin=None, note="") -> Run:
        """File a run. ``edits`` says what the neuron lab changed in its weights; ``origin`` takes the
        place of the settings in the label when they are not known (an uploaded model's)."""
        with self._lock:
            i = next(self._ids)
            level = distortion_level(TrainConfig.from_dict(config))
            sizes = ' '.join(map(str, config['hidden_layer_sizes']))
            label = f"#{i} {sizes} · {origin}" if origin else \
                f"#{i} {sizes} · {config['solver']} · lr {RATE.show(config['learning_rate_init'])}"
            label += "" if level == "off" or origin else f" · {level}"
            label += "" if not changes else f" · {len(changes)} change{'s' * (len(changes) > 1)}"
            label += f" · edited: {edits}" if edits else ""
            label += f" · {note}" if note else ""
            run = Run(i, label, dataset, dict(config), list(history), state, model.n_params, model, list(changes),
                      edits)
            self._runs.append(run)
            del self._runs[:-self.max_runs]
            used = 0
            for r in reversed(self._runs):  # the newest keep their weights
                if r.model is not None:
                    used += r.model.params.nbytes
                    if used > self.max_model_bytes and r is not run:
                        r.model = None
            return run

    @property
    def model_bytes(self) -> int:
        """Memory held by the runs' weights."""
        return sum(r.model.params.nbytes for r in self._runs if r.model is not None)

    def drop_models(self):
        """Keep the runs' curves and settings, let go of their weights."""
        with self._lock:
            for r in self._runs:
                r.model = None

    def remove(self, run_id):
        with self._lock:
            self._runs = [r for r in self._runs if r.id != run_id]

    def get(self, run_id):
        return next((r for r in self._runs if r.id == run_id), None)

    def __iter__(self):
        return iter(list(self._runs))

    def __len__(self):
        return len(self._runs)
