"""Helpers: seeding, one-hot labels, sequence padding, PyDataset, gradient checking, learning-curve and model
plots."""
from .dataset import PyDataset
from .gradcheck import GradcheckResult, gradcheck
from .misc import set_random_seed, to_categorical
from .model_plot import plot_model
from .plot import plot_history
from .sequences import pad_sequences
from .batch_dataset import BatchDataset
from .files import get_file
from .image_dataset import image_dataset_from_directory
from .split import split_dataset
from .text_dataset import text_dataset_from_directory
from .timeseries_dataset import timeseries_dataset_from_array
