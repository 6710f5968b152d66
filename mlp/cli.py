"""Command line: `python -m mlp train ...` and `python -m mlp evaluate model.npz`.

With --json the last line printed is one JSON object, for scripts and grading.
"""
import argparse
import json
import math
import sys
import time
from dataclasses import asdict

from .data import DATASETS, DatasetError, load_dataset
from .model import MLP
from .model_file import ModelFileError
from .train import PRESETS, TrainConfig, Trainer, TrainingDiverged, evaluate, preset


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def batch_size(text):
    return None if text == "full" else positive_int(text)


def positive_float(text):
    value = float(text)
    if not 0 < value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m mlp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a network and report its test accuracy")
    t.add_argument("--preset", choices=PRESETS, default="fast",
                   help="starting settings; the flags below override them (default: fast)")
    t.add_argument("--layers", type=positive_int, nargs="+", metavar="N",
                   help="all layer sizes, input and output included, e.g. 784 128 64 10")
    t.add_argument("--activation", choices=("relu", "sigmoid", "tanh"))
    t.add_argument("--optimizer", choices=("sgd", "momentum", "adam"))
    t.add_argument("--lr", type=positive_float, help="initial learning rate")
    t.add_argument("--schedule", choices=("constant", "cosine"), help="learning-rate schedule")
    t.add_argument("--batch-size", type=batch_size, default=argparse.SUPPRESS,
                   help="images per update, or 'full'")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int, help="passes over the training set")
    length.add_argument("--iterations", type=positive_int, help="number of updates")
    t.add_argument("--alpha", type=non_negative_float, help="L2 penalty")
    t.add_argument("--dropout", type=fraction, help="share of hidden units dropped while training")
    t.add_argument("--init", choices=("he", "glorot", "notebook"))
    t.add_argument("--seed", type=non_negative_int, help="random seed")
    t.add_argument("--train-size", type=positive_int, help="train on a random subset of this many images")
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
    overrides = {"hidden_layer_sizes": None, "activation": args.activation, "solver": args.optimizer,
                 "learning_rate_init": args.lr, "lr_schedule": args.schedule, "max_iter": args.epochs,
                 "max_steps": args.iterations, "alpha": args.alpha, "dropout": args.dropout,
                 "init": args.init, "random_state": args.seed, "train_size": args.train_size}
    if args.layers:
        if len(args.layers) < 2 or args.layers[0] != 784 or args.layers[-1] != 10:
            parser.error("--layers must start with 784 (the pixels) and end with 10 (the classes)")
        overrides["hidden_layer_sizes"] = tuple(args.layers[1:-1])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "batch_size" in vars(args):  # None means full batch here
        overrides["batch_size"] = args.batch_size
    return preset(args.preset, **overrides)


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
