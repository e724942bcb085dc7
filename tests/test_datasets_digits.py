"""The bundled digits: shapes, dtypes, value ranges, class balance, and the files shipped with the package."""
import pathlib

import numpy

import nnkit
from nnkit.datasets import digits


def test_load_data_keras_style():
    (x_train, y_train), (x_test, y_test) = nnkit.datasets.digits.load_data()
    assert x_train.shape == (1437, 8, 8) and y_train.shape == (1437,)
    assert x_test.shape == (360, 8, 8) and y_test.shape == (360,)
    assert x_train.dtype == numpy.uint8 and y_train.dtype == numpy.uint8
    assert x_train.max() == 16 and x_train.min() == 0  # 4-bit pixel counts
    assert set(numpy.unique(y_train)) == set(range(10)) and set(numpy.unique(y_test)) == set(range(10))
    assert numpy.bincount(y_train).min() > 100 and numpy.bincount(y_test).min() > 25


def test_images_are_real_digits():
    """A nearest-class-mean classifier (pixels only) must beat chance by far on real digits."""
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    x_train, x_test = x_train.reshape(-1, 64) / 16.0, x_test.reshape(-1, 64) / 16.0
    means = numpy.stack([x_train[y_train == k].mean(axis=0) for k in range(10)])
    predicted = ((x_test[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (predicted == y_test).mean() > 0.8


def test_train_and_test_do_not_overlap():
    (x_train, _), (x_test, _) = digits.load_data()
    train = {image.tobytes() for image in x_train}
    assert sum(image.tobytes() in train for image in x_test) < 5  # a few duplicate scans at most


def test_files_and_licence_ship_inside_the_package():
    data_dir = pathlib.Path(digits.__file__).parent / "data" / "digits"
    assert data_dir == digits.DATA_DIR
    names = {path.name for path in data_dir.iterdir()}
    assert {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz", "README.md"} <= names
    assert "licen" in (data_dir / "README.md").read_text().lower()
