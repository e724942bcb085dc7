"""What the two housing-price data sets share: an ``.npz`` of features ``x`` and prices ``y``, shuffled with a seed
and cut into a training and a test set as Keras 3 does."""
import numpy

from .download import dataset_file
from .safe_load import DatasetFileError, load_npz


def check_test_split(test_split):
    """ValueError unless ``0 <= test_split < 1``."""
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 (exclusive of 1).")


def load_split(name, path, url, file_hash, test_split, seed, rows=None):
    """``((x_train, y_train), (x_test, y_test))`` from data set ``name``'s file: its first ``rows`` samples (all
    when None) in the order of a NumPy RandomState(``seed``) shuffle, the first ``int(N * (1 - test_split))``
    for training."""
    location = dataset_file(name, path, url, file_hash)
    arrays = load_npz(location, ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise DatasetFileError(f"{location}: expected features x (N, F) and targets y (N,), found x of shape "
                               f"{x.shape} and y of shape {y.shape}.")
    x, y = x[:rows], y[:rows]
    indices = numpy.arange(len(x))
    numpy.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])
