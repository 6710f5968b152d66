"""Command line: `python -m mlp train ...` and `python -m mlp evaluate model.npz`.

With --json the last line printed is one JSON object, for scripts and grading.
"""
import argparse
import json
import sys
import time
from dataclasses import asdict, replace

from .augment import LEVELS, describe
from .data import DATASETS, DatasetError, load_dataset
from .model import MLP
from .model_file import ModelFileError
from .config import KNOB, KNOBS, N_CLASSES, N_INPUTS, PRESETS, TrainConfig, preset
from .train import Trainer, TrainingDiverged, evaluate


def knob_type(knob):
    """An argparse type for one knob (mlp.config.KNOBS): its value within its bounds, as the
    config holds it ("full", the whole, is None there)."""
    def parse(text):
        try:
            value = knob.parse(text)
        except ValueError:
            value = None
        if value is None or (value != knob.whole and value not in knob.bounds):
            also = f", or {knob.whole}" if isinstance(knob.whole, str) else ""
            raise argparse.ArgumentTypeError(f"must be {knob.bounds}{also}, got {text}")
        return knob.take(value)
    parse.__name__ = knob.query
    return parse


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m mlp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a network and report its test accuracy")
    t.add_argument("--preset", choices=PRESETS, default="fast",
                   help="starting settings; the flags below override them (default: fast)")
    length = t.add_mutually_exclusive_group()
    for knob in KNOBS:  # one flag per knob; given flags override the preset
        if knob.widget == "layers":
            t.add_argument(knob.flag, type=knob_type(knob), nargs="+", metavar="N", dest=knob.name,
                           default=argparse.SUPPRESS, help="all layer sizes, input and output included, "
                                                           "e.g. 784 128 64 10")
        elif knob.kind is str:
            t.add_argument(knob.flag, choices=knob.values, dest=knob.name, default=argparse.SUPPRESS,
                           help=knob.help)
        else:
            group = length if knob.name == "max_iter" else t
            group.add_argument(knob.flag, type=knob_type(knob), dest=knob.name, default=argparse.SUPPRESS,
                               metavar=knob.flag[2:].upper().replace("-", "_"), help=knob.help)
    levels = "; ".join(f"{name}: {describe(d)}" for name, d in LEVELS.items() if not d.identity)
    t.add_argument("--augment", choices=LEVELS, default=argparse.SUPPRESS,
                   help="distort the training images (a flag of one distortion, such as --rotate, "
                        "changes its amount): " + levels.replace("%", "%%"))
    length.add_argument("--iterations", type=knob_type(KNOB["max_iter"]), dest="max_steps",
                        default=argparse.SUPPRESS, metavar="N", help="number of updates, instead of epochs")
    t.add_argument("--save", metavar="MODEL.npz", help="write the trained model here")
    t.set_defaults(parser=t)  # errors found after parsing show the train command's usage
    add_common(t)

    e = sub.add_parser("evaluate", help="report a saved model's accuracy on the test set")
    e.add_argument("model", help="a .npz file written by `train --save`")
    add_common(e)
    return parser


def add_common(p):
    p.add_argument("--dataset", choices=DATASETS, help="default: mnist (evaluate: the model's own)")
    p.add_argument("--data-dir", help="folder holding the four IDX files (else $MNIST_PLAYGROUND_DATA, "
                                      "the cache, or a download)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def config_from_args(args, parser) -> TrainConfig:
    """The preset, with the settings given on the command line on top."""
    overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    layers = overrides.get("hidden_layer_sizes")
    if layers is not None:
        if len(layers) < 2 or layers[0] != N_INPUTS or layers[-1] != N_CLASSES:
            parser.error(f"--layers must start with {N_INPUTS} (the pixels) and end with {N_CLASSES} "
                         "(the classes)")
        overrides["hidden_layer_sizes"] = tuple(layers[1:-1])
    config = preset(args.preset)
    if "augment" in args:  # a level of distortion, then single distortions on top of it
        config = config.distorted(args.augment)
    return replace(config, **overrides)


class ProgressBar:
    """A one-line progress bar on stderr, redrawn in place when stderr is a terminal."""

    def __init__(self, total, stream=sys.stderr, width=30):
        self.total, self.stream, self.width = total, stream, width
        self.live = stream.isatty()

    def show(self, p):
        if not self.live:
            return
        done = p.step / self.total
        bar = "#" * int(done * self.width)
        eta = p.elapsed / max(done, 1e-9) * (1 - done)
        self.stream.write(f"\r[{bar:<{self.width}}] {done:4.0%} epoch {p.epoch:5.2f} loss {p.loss:.4f} "
                          f"test {p.test_accuracy:.2%} {p.samples_per_second:,.0f} img/s ETA {eta:3.0f}s ")
        self.stream.flush()

    def close(self):
        if self.live:
            self.stream.write("\n")


def train(args):
    config = config_from_args(args, args.parser)
    data = load_dataset(args.dataset or "mnist", args.data_dir)
    trainer = Trainer(config, data)
    bar = ProgressBar(trainer.total_steps)
    error, status = None, 0
    try:
        for p in trainer.run():
            bar.show(p)
    except TrainingDiverged as e:
        error, status = str(e), 1
    except KeyboardInterrupt:
        error, status = "stopped by the user", 130
    bar.close()
    model = trainer.model
    test_acc, test_loss = evaluate(model, data.x_test, data.y_test)
    history = [asdict(p) for p in trainer.history]
    result = {"test_accuracy": test_acc, "test_loss": test_loss, "train_seconds": trainer.elapsed,
              "epochs": trainer.step / trainer.steps_per_epoch, "iterations": trainer.step,
              "n_params": model.n_params, "dataset": data.name, "config": config.to_dict(),
              "history": history, "error": error}
    if args.save:
        model.save(args.save, config=config.to_dict(), dataset=data.name, history=history,
                   test_accuracy=test_acc)
        result["saved"] = args.save
    if error:
        print(f"error: {error}", file=sys.stderr)
    print(f"test accuracy {test_acc:.2%} after {result['epochs']:.2f} epochs ({trainer.step} updates) "
          f"in {trainer.elapsed:.1f} s of training; {model.n_params:,} parameters"
          + (f"; saved {args.save}" if args.save else ""))
    if args.json:
        print(json.dumps(result))
    return status


def evaluate_command(args):
    model, info = MLP.load(args.model)
    data = load_dataset(args.dataset or info.get("dataset", "mnist"), args.data_dir)
    t0 = time.perf_counter()
    test_acc, test_loss = evaluate(model, data.x_test, data.y_test)
    print(f"{args.model}: test accuracy {test_acc:.2%}, loss {test_loss:.4f} on {data.name} "
          f"({len(data.y_test):,} images in {time.perf_counter() - t0:.2f} s)")
    if args.json:
        print(json.dumps({"test_accuracy": test_acc, "test_loss": test_loss, "dataset": data.name,
                          "layer_sizes": model.layer_sizes, "n_params": model.n_params,
                          "config": info.get("config"), "history": info.get("history", [])}))
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return train(args)
        return evaluate_command(args)
    except (DatasetError, ModelFileError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
