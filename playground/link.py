"""The Train page's settings, and their round trip through a link's query parameters.

The widgets hold one value per knob of `mlp.config.KNOBS` (under the knob's name; the hidden
layers as ``n_hidden`` and ``layer_0``, ``layer_1``, ...). A shared link carries them under the
knobs' query keys. Every value in a link is checked against what this server offers, so a
mistyped or hostile link falls back to the defaults and says what it ignored.
"""
from dataclasses import asdict

from mlp.augment import LEVELS
from mlp.config import KNOB, KNOBS, PRESETS, TrainConfig

from .limits import Limits

LAYERS, BATCH = KNOB["hidden_layer_sizes"], KNOB["batch_size"]
KNOWN = ("preset", "augment", *(k.query for k in KNOBS))  # the keys a link may hold
MAX_VALUE = 100  # characters of one query value: no setting is longer
LEGACY = {("batch", "full-batch"): "full"}  # how links made by earlier versions wrote a value


def unit(batch) -> str:
    """What the epochs slider counts for a batch size widget value."""
    return "iterations" if batch == BATCH.whole else "epochs"


def widget_values(config: TrainConfig, limits: Limits = Limits()) -> dict:
    """Return the Train page's widget values (by key) that show ``config``, brought within ``limits``
    (a preset on a server with smaller limits gets the nearest smaller choices)."""
    values = {}
    for knob in KNOBS:
        if knob.widget == "layers":
            sizes = [_nearest(limits.offered(knob), n) for n in config.hidden_layer_sizes[:limits.max_layers]]
            values.update({"n_hidden": len(sizes), **{f"layer_{i}": n for i, n in enumerate(sizes)}})
        elif knob.widget in ("steps", "range"):
            offered, value = limits.offered(knob), knob.offer(getattr(config, knob.name))
            values[knob.name] = value if value in offered else _nearest(offered, value)
        else:
            values[knob.name] = knob.offer(getattr(config, knob.name))
    values["max_iter"] = min(values["max_iter"], limits.cap(unit(values["batch_size"])))
    return values


def distortion_values(level: str) -> dict:
    """The distortion sliders' values (by key) of a level of mlp.augment.LEVELS."""
    return asdict(LEVELS[level])


def _nearest(offered, value):
    """The largest number offered up to ``value`` (else the smallest), or the whole for a whole."""
    numbers = [v for v in offered if not isinstance(v, str)]
    if isinstance(value, str):
        return value if value in offered else max(numbers)
    return max([v for v in numbers if v <= value] or numbers[:1])


def to_query(values: dict) -> dict:
    """Return query parameters (strings) for widget values: short, readable, and complete."""
    query = {"preset": values.get("preset", "fast")}
    for knob in KNOBS:
        if knob.widget == "layers":
            query[knob.query] = "-".join(str(values[f"layer_{i}"]) for i in range(values["n_hidden"]))
        else:
            query[knob.query] = knob.text(values[knob.name])
    return query


def from_query(query: dict, limits: Limits = Limits()) -> tuple[dict, list[str]]:
    """Return (widget values, problems) read from query parameters.

    Only valid values (within ``limits``) come back; each invalid one is named in ``problems``
    and left out, so the widget keeps its default. Unknown parameters are ignored.
    """
    query = {key: str(value) for key, value in query.items() if key in KNOWN}
    values, problems = {}, []

    def refuse(key):
        problems.append(f"{key}={query[key][:40]!r}")

    for key in [k for k, v in query.items() if len(v) > MAX_VALUE]:
        refuse(key)  # parse nothing of it
        del query[key]
    if "preset" in query:  # a preset first, then the single settings on top of it
        if query["preset"] in limits.presets():
            values.update(widget_values(PRESETS[query["preset"]], limits), preset=query["preset"])
        else:
            refuse("preset")
    if "augment" in query:  # a level of distortion (as the command line's --augment), then single ones
        if query["augment"] in LEVELS:
            values.update(distortion_values(query["augment"]))
        else:
            refuse("augment")
    for knob in KNOBS:
        if knob.query not in query:
            continue
        text = LEGACY.get((knob.query, query[knob.query]), query[knob.query])
        try:
            value = [knob.parse(t) for t in text.split("-")] if knob.widget == "layers" else knob.parse(text)
        except ValueError:
            refuse(knob.query)
            continue
        if not _allowed(knob, value, limits, values.get("batch_size")):
            refuse(knob.query)
        elif knob.widget == "layers":
            values.update({"n_hidden": len(value), **{f"layer_{i}": n for i, n in enumerate(value)}})
        else:
            values[knob.name] = value
    return values, problems


def _allowed(knob, value, limits, batch) -> bool:
    """Whether a value read from a link is one this server offers for ``knob``."""
    if knob.widget == "layers":
        return 1 <= len(value) <= limits.max_layers and all(_offered(n, limits.offered(knob)) for n in value)
    if knob.widget == "count":
        return 1 <= value <= limits.cap(unit(batch))
    if knob.widget == "number":
        return value in knob.bounds
    return _offered(value, limits.offered(knob))


def _offered(value, offered) -> bool:
    # compare with each choice: never `in` a huge range, never 1 == True
    return any(value == a and type(value) is type(a) for a in offered)


def train_config(values: dict) -> TrainConfig:
    """Return the TrainConfig that widget values describe."""
    settings = {}
    for knob in KNOBS:
        if knob.widget == "layers":
            settings[knob.name] = tuple(values[f"layer_{i}"] for i in range(values["n_hidden"]))
        else:
            settings[knob.name] = knob.take(values[knob.name])
    return TrainConfig(**settings)


def widget_keys(values: dict) -> list[str]:
    """The keys of the widgets that hold the settings (the preset's too)."""
    layers = [f"layer_{i}" for i in range(values["n_hidden"])]
    return ["preset", "n_hidden", *layers, *(k.name for k in KNOBS if k.widget != "layers")]
