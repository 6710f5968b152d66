"""MNIST Playground's core: a multi-layer perceptron in pure NumPy, its data and its training."""
from .data import Dataset, DatasetError, load_dataset
from .model import MLP
from .model_file import ModelFileError
from .train import PRESETS, Progress, TrainConfig, Trainer, TrainingDiverged, preset

__all__ = ["Dataset", "DatasetError", "load_dataset", "MLP", "ModelFileError", "PRESETS",
           "Progress", "TrainConfig", "Trainer", "TrainingDiverged", "preset"]
