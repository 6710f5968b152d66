"""What one server allows: how many trainings run at once, and how big one request may be.

A classroom shares one process, so no single request may take it down. The limits come from
`.streamlit/playground.toml` (section ``[limits]``, or the file named by
MNIST_PLAYGROUND_CONFIG) and from environment variables MNIST_PLAYGROUND_<NAME in capitals>,
which win. Example::

    [limits]
    max_jobs = 2          # trainings at the same time; the others wait in a queue
    max_neurons = 512
"""
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from mlp.config import PRESETS, TrainConfig, plan

CORES = os.cpu_count() or 2


@dataclass(frozen=True)
class Limits:
    max_jobs: int = max(1, CORES // 2)   # trainings at once: half the cores, the rest serve pages
    blas_threads: int = 1                # BLAS threads per training (max_jobs x this <= cores)
    session_timeout: float = 120.0       # seconds after its tab went away that a training is stopped
    max_layers: int = 4                  # hidden layers
    max_neurons: int = 1024              # units in one hidden layer
    max_batch: int = 60000               # images per update (full batch counts its training set)
    max_epochs: int = 50
    max_iterations: int = 1000           # full-batch updates
    max_job_mb: int = 512                # memory one training may need (see mlp.plan)
    max_job_seconds: float = 600.0       # estimated training time of one job (or one Continue)
    max_waiting: int = 200               # trainings waiting in the queue; past it Train is refused
    max_upload_mb: int = 20              # a model file (Streamlit's server.maxUploadSize caps it too)
    runs_mb: int = 16                    # weights kept in one browser's run history
    all_runs_mb: int = 256               # ... in all browsers' histories: those of closed tabs go first
    history_timeout: float = 1800.0      # seconds a browser's runs and model are kept after its tabs closed
    max_histories: int = 500             # browsers whose runs and model are kept

    def __post_init__(self):
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"limit {f.name} must be positive, not {getattr(self, f.name)!r}")
        if self.max_neurons < 8:
            raise ValueError("limit max_neurons must be at least 8, the narrowest layer offered")
        if self.max_jobs * self.blas_threads > CORES:  # jobs together use the cores once
            object.__setattr__(self, "blas_threads", max(1, CORES // self.max_jobs))

    def problems(self, config: TrainConfig, n_train: int) -> list[str]:
        """Return why this server will not train ``config`` on ``n_train`` images (empty: it will)."""
        sizes, p = config.hidden_layer_sizes, plan(config, n_train)
        out = []
        if len(sizes) > self.max_layers:
            out.append(f"{len(sizes)} hidden layers (at most {self.max_layers})")
        if max(sizes, default=0) > self.max_neurons:
            out.append(f"a layer of {max(sizes)} neurons (at most {self.max_neurons})")
        if p.batch > self.max_batch:
            out.append(f"{p.batch:,} images per update (at most {self.max_batch:,})")
        if config.max_iter > self.cap(p.unit):
            out.append(f"{config.max_iter} {p.unit} (at most {self.cap(p.unit)})")
        if out:
            return out
        if p.megabytes > self.max_job_mb:
            out.append(f"about {p.megabytes:,.0f} MB of memory while training (at most {self.max_job_mb} MB; "
                       "a smaller batch or narrower layers need less)")
        return out + self._time_problems(p)

    def continue_problems(self, trainer, more: int) -> list[str]:
        """Return why this server will not train ``trainer`` ``more`` epochs (full batch:
        iterations) further: the whole run must stay within the cap, the extra part within the time."""
        p = plan(replace(trainer.config, max_iter=more, max_steps=None), len(trainer.y_train))
        done = max(trainer.total_steps, trainer.step) / trainer.steps_per_epoch
        cap = self.cap(p.unit)
        if done + more > cap:
            return [f"{done + more:g} {p.unit} in all (at most {cap}); start a new training instead"]
        return self._time_problems(p)

    def _time_problems(self, p):
        if p.seconds <= self.max_job_seconds:
            return []
        return [f"about {p.seconds:,.0f} s of training (at most {self.max_job_seconds:,.0f} s; fewer epochs, "
                "fewer images, a larger batch or a smaller network train faster)"]

    def presets(self, n_train: int = 60000) -> list[str]:
        """The presets this server trains as they are (a smaller server's widgets bring the others'
        sizes within its limits, but not a run longer than it allows: that one is left out)."""
        return [name for name, config in PRESETS.items() if not self._time_problems(plan(config, n_train))]

    def cap(self, unit: str) -> int:
        """The most epochs (``unit`` "epochs") or full-batch updates ("iterations") a run may have."""
        return self.max_iterations if unit == "iterations" else self.max_epochs

    def offered(self, knob) -> tuple:
        """The values of ``knob`` (one of mlp.config.KNOBS) that this server offers."""
        if knob.name == "hidden_layer_sizes":
            return tuple(n for n in knob.values if n <= self.max_neurons)
        if knob.name == "batch_size":
            return tuple(b for b in knob.values if b == knob.whole or b <= self.max_batch)
        return knob.values


def load_limits(environ=os.environ, path=None) -> Limits:
    """Read the limits: defaults, then the config file's ``[limits]``, then environment variables."""
    named = path or environ.get("MNIST_PLAYGROUND_CONFIG")
    path = Path(named or ".streamlit/playground.toml")
    if named and not path.is_file():
        raise ValueError(f"no config file {path}")
    values = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text()).get("limits", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"cannot read {path}: {e}") from e
    kinds = {f.name: type(f.default) for f in fields(Limits)}
    unknown = set(values) - set(kinds)
    if unknown:
        raise ValueError(f"{path}: unknown limits {', '.join(sorted(unknown))}; known: {', '.join(kinds)}")
    for name in kinds:
        if f"MNIST_PLAYGROUND_{name.upper()}" in environ:
            values[name] = environ[f"MNIST_PLAYGROUND_{name.upper()}"]
    parsed = {}
    for name, value in values.items():
        try:
            parsed[name] = kinds[name](value)
        except (TypeError, ValueError):
            kind = "a whole number" if kinds[name] is int else "a number"
            raise ValueError(f"limit {name} must be {kind}, not {value!r}") from None
    return replace(Limits(), **parsed)
