"""Shared pytest fixtures."""
import os
from pathlib import Path

import pytest

from mlp.data import load_dataset, default_cache_dir


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The offline copies of the data sets (a folder with mnist/ and fashion-mnist/)."""
    if os.environ.get("MNIST_PLAYGROUND_DATA"):
        return Path(os.environ["MNIST_PLAYGROUND_DATA"])
    path = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if path.is_dir():
        return path
    # no offline copy: fetch both into the user's cache (as the product does) and use that
    for name in ("mnist", "fashion-mnist"):
        load_dataset(name)
    return default_cache_dir()


@pytest.fixture(scope="session")
def mnist(shared_data_dir):
    """MNIST loaded once for the whole test run."""
    return load_dataset("mnist", shared_data_dir)
