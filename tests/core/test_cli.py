"""The command line, run as `python -m mlp` in a child process: JSON output, saved models and errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlp.config import DISTORTIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli(shared_data_dir):
    """Return a function that runs `python -m mlp *args` and returns the finished process."""
    env = {**os.environ, "MNIST_PLAYGROUND_DATA": str(shared_data_dir)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "mlp", *map(str, args)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    return run


def last_json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(cli, tmp_path_factory):
    """Train once on 2,000 images; return (the JSON result, the saved model's path)."""
    path = tmp_path_factory.mktemp("cli") / "model.npz"
    return last_json(cli("train", "--train-size", 2000, "--epochs", 1, "--json", "--save", path)), path


def test_train_prints_json(trained):
    result, path = trained
    assert 0 <= result["test_accuracy"] <= 1 and result["test_accuracy"] > 0.5
    assert result["train_seconds"] > 0
    assert result["epochs"] == 1 and result["iterations"] == 16  # 2,000 images in batches of 128
    assert isinstance(result["history"], list) and result["history"][-1]["step"] == 16
    assert isinstance(result["config"], dict) and result["config"]["train_size"] == 2000
    assert result["error"] is None
    assert path.is_file()


def test_evaluate_gives_the_same_accuracy(cli, trained):
    result, path = trained
    evaluated = last_json(cli("evaluate", path, "--json"))
    assert evaluated["test_accuracy"] == result["test_accuracy"]
    assert evaluated["config"] == result["config"]
    assert evaluated["layer_sizes"] == [784, 128, 64, 10]


@pytest.mark.parametrize("batch", [["--batch-size", "full"], ["--batch-size=full"]], ids=["space", "equals"])
def test_full_batch_iterations(cli, batch):
    result = last_json(cli("train", "--iterations", 5, *batch, "--train-size", 1000, "--json"))
    assert result["iterations"] == 5
    assert result["config"]["batch_size"] is None
    assert result["epochs"] == 5  # one update is one pass over the 1,000 images


def test_distortions_from_a_level_and_single_flags_go_into_the_saved_model(cli, tmp_path):
    path = tmp_path / "distorted.npz"
    result = last_json(cli("train", "--train-size", 500, "--epochs", 1, "--augment", "light", "--rotate", 3,
                           "--elastic", 0, "--json", "--save", path))
    distortions = {k: result["config"][k] for k in DISTORTIONS}
    assert distortions == {"rotate": 3.0, "scale": 0.08, "shear": 8.0, "shift": 1.5, "thickness": 0.5,
                           "elastic": 0.0}
    assert last_json(cli("evaluate", path, "--json"))["config"] == result["config"]  # in the model's file


BAD_FLAGS = [
    (["--lr", "-1"], "argument --lr: must be a number greater than 0"),
    (["--lr", "0"], "argument --lr: must be a number greater than 0"),
    (["--lr", "inf"], "argument --lr: must be a number greater than 0, got inf"),
    (["--lr", "nan"], "argument --lr: must be a number greater than 0, got nan"),
    (["--layers", "10", "10"], "--layers must start with 784"),
    (["--batch-size", "zero"], "argument --batch-size"),
    (["--batch-size", "0"], "argument --batch-size"),
    (["--optimizer", "rmsprop"], "argument --optimizer: invalid choice"),
    (["--epochs", "2", "--iterations", "5"], "not allowed with argument"),
    (["--dropout", "1"], "argument --dropout: must be a number at least 0 and below 1, got 1"),
    (["--dropout", "nan"], "argument --dropout: must be a number at least 0 and below 1, got nan"),
    (["--alpha", "-0.1"], "argument --alpha: must be a number at least 0, got -0.1"),
    (["--alpha", "nan"], "argument --alpha: must be a number at least 0, got nan"),
    (["--alpha", "inf"], "argument --alpha: must be a number at least 0, got inf"),
    (["--batch-size", "0"], "argument --batch-size: must be a number at least 1, or full, got 0"),
    (["--seed", "2147483648"], "argument --seed: must be a number at least 0 and at most 2,147,483,647"),
    (["--seed", "-1"], "--seed"),
    (["--augment", "extreme"], "argument --augment: invalid choice"),
    (["--rotate", "-1"], "argument --rotate: must be a number at least 0 and at most 180, got -1"),
    (["--scale", "1"], "argument --scale: must be a number at least 0 and at most 0.9, got 1"),
    (["--elastic", "nan"], "argument --elastic: must be a number at least 0 and at most 10, got nan"),
    (["--thickness", "inf"], "argument --thickness"),
]


@pytest.mark.parametrize("args, message", BAD_FLAGS, ids=[" ".join(args) for args, _ in BAD_FLAGS])
def test_bad_flags_exit_2_with_a_usage_message(cli, args, message):
    proc = cli("train", "--train-size", 100, *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "usage: python -m mlp" in proc.stderr
    assert message in proc.stderr
    assert proc.stdout == ""


def error_line(proc):
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_missing_data_dir(cli, tmp_path):
    line = error_line(cli("train", "--data-dir", tmp_path / "missing", "--epochs", 1))
    assert "does not exist" in line and str(tmp_path / "missing") in line


@pytest.mark.parametrize("content", [b"not a model\n", b"PK\x03\x04 broken zip", None],
                         ids=["text", "zip", "none"])
def test_bad_model_file(cli, tmp_path, content):
    path = tmp_path / "model.npz"
    if content is not None:
        path.write_bytes(content)
    expected = "no such file" if content is None else "not a model file"
    assert expected in error_line(cli("evaluate", path))
