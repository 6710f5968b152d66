"""The settings a user may choose, and their round trip through a link's query parameters.

A shared link carries the Train page's settings; every value in it is checked against the
allowed choices, so a mistyped or hostile link falls back to defaults and says what it ignored.
"""
from .limits import Limits
from mlp.train import PRESETS, TrainConfig

NEURONS = [8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
BATCHES = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, "full batch"]
ALPHAS = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
DROPOUTS = [round(0.05 * i, 2) for i in range(13)]  # 0 to 0.6
SUBSETS = [1000, 2000, 5000, 10000, 20000, 30000, 60000]
CHOICES = {"solver": ["sgd", "momentum", "adam"], "activation": ["relu", "sigmoid", "tanh"],
           "lr_schedule": ["constant", "cosine"], "init": ["he", "glorot", "notebook"]}


KNOWN = ("preset", "layers", "lr", "batch", "epochs", "alpha", "dropout", "seed", "images", *CHOICES)
MAX_VALUE = 100  # characters of one query value


def choices(limits: Limits) -> dict:
    """The neuron counts, batch sizes and slider maxima a server with ``limits`` offers."""
    return {"neurons": [n for n in NEURONS if n <= limits.max_neurons],
            "batches": [b for b in BATCHES if b == "full batch" or b <= limits.max_batch],
            "layers": limits.max_layers, "epochs": limits.max_epochs, "iterations": limits.max_iterations}


def widget_values(config: TrainConfig, limits: Limits = Limits()) -> dict:
    """Return the Train page's widget values (by key) that show ``config``, brought within ``limits``
    (a preset on a server with smaller limits gets the nearest smaller choices)."""
    allowed = choices(limits)
    sizes = [max([n for n in allowed["neurons"] if n <= size] or allowed["neurons"][:1])
             for size in config.hidden_layer_sizes[:limits.max_layers]]
    batch = config.batch_size or "full batch"
    if batch not in allowed["batches"]:
        batch = max(b for b in allowed["batches"] if b != "full batch")
    cap = allowed["iterations" if batch == "full batch" else "epochs"]
    values = {"n_hidden": len(sizes), "learning_rate_init": config.learning_rate_init, "batch_size": batch,
              "max_iter": min(config.max_iter, cap), "alpha": config.alpha, "dropout": config.dropout,
              "random_state": config.random_state, "train_size": config.train_size or 60000,
              **{k: getattr(config, k) for k in CHOICES}}
    values.update({f"layer_{i}": n for i, n in enumerate(sizes)})
    return values


def to_query(values: dict) -> dict:
    """Return query parameters (strings) for widget values: short, readable, and complete."""
    q = {"preset": values.get("preset", "fast"),
         "layers": "-".join(str(values[f"layer_{i}"]) for i in range(values["n_hidden"])),
         "lr": f"{values['learning_rate_init']:g}", "batch": str(values["batch_size"]).replace(" ", "-"),
         "epochs": str(values["max_iter"]), "alpha": f"{values['alpha']:g}", "dropout": f"{values['dropout']:g}",
         "seed": str(values["random_state"]), "images": str(values["train_size"])}
    q.update({k: values[k] for k in CHOICES})
    return q


def from_query(query: dict, limits: Limits = Limits()) -> tuple[dict, list[str]]:
    """Return (widget values, problems) read from query parameters.

    Only valid values (within ``limits``) come back; each invalid one is named in ``problems``
    and left out, so the widget keeps its default. Unknown parameters are ignored.
    """
    values, problems, allowed = {}, [], choices(limits)
    long = {k for k, v in query.items() if len(str(v)) > MAX_VALUE}
    problems += [f"{k}={str(query[k])[:40]!r}" for k in sorted(long) if k in KNOWN]
    query = {k: v for k, v in query.items() if k not in long}  # no setting is this long: parse nothing of it

    def take(name, parse, allowed, key):
        if name not in query:
            return
        try:
            value = parse(str(query[name]))
        except (TypeError, ValueError):
            value = None
        if value is None:
            ok = False
        elif callable(allowed):
            ok = allowed(value)
        else:  # compare with each choice: never `in` a huge range, never 1 == True
            ok = any(value == a and type(value) is type(a) for a in allowed)
        if ok:
            values[key] = value
        else:
            problems.append(f"{name}={str(query[name])[:40]!r}")

    take("preset", str, list(PRESETS), "preset")
    if "preset" in values:  # a preset first, then the single settings on top of it
        values.update(widget_values(PRESETS[values["preset"]], limits))
    if "layers" in query:
        try:
            sizes = [int(n) for n in str(query["layers"]).split("-")]
        except ValueError:
            sizes = []
        if 1 <= len(sizes) <= limits.max_layers and all(n in allowed["neurons"] for n in sizes):
            values["n_hidden"] = len(sizes)
            values.update({f"layer_{i}": n for i, n in enumerate(sizes)})
        else:
            problems.append(f"layers={str(query['layers'])[:40]!r}")
    take("lr", float, RATES, "learning_rate_init")
    take("batch", lambda s: "full batch" if s in ("full", "full-batch", "full batch") else int(s), allowed["batches"],
         "batch_size")
    full = values.get("batch_size") == "full batch"
    take("epochs", int, lambda n: 1 <= n <= allowed["iterations" if full else "epochs"], "max_iter")
    take("alpha", float, ALPHAS, "alpha")
    take("dropout", float, DROPOUTS, "dropout")
    take("seed", int, lambda n: 0 <= n < 2**31, "random_state")
    take("images", int, SUBSETS, "train_size")
    for key, allowed in CHOICES.items():
        take(key, str, allowed, key)
    return values, problems
