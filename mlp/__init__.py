"""MNIST Playground's core: a multi-layer perceptron in pure NumPy, its data and its training."""
from .data import Dataset, DatasetError, load_dataset
from .config import PRESETS, TrainConfig, plan, preset
from .model import MLP
from .model_file import ModelFileError
from .train import Progress, Trainer, TrainingDiverged

__all__ = ["Dataset", "DatasetError", "load_dataset", "MLP", "ModelFileError", "PRESETS",
           "Progress", "TrainConfig", "Trainer", "TrainingDiverged", "plan", "preset"]
