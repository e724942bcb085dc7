"""The small data-set files of make_keras_datasets.py, shared with tests/test_datasets_keras.py (plain data: the
test suite imports it without Keras). Each writer makes a file in Keras' own format."""
import numpy


def sequences(count, seed):
    """``count`` word-index lists of different lengths (1 to 12), indices 1-29, and int64 labels."""
    rng = numpy.random.default_rng(seed)
    lists = [[int(w) for w in rng.integers(1, 30, size=1 + (5 * i + 3) % 12)] for i in range(count)]
    array = numpy.empty(count, dtype=object)
    for i, words in enumerate(lists):
        array[i] = words
    return array, rng.integers(0, 2 if count < 10 else 46, size=count).astype(numpy.int64)


def write_imdb(path):
    """An imdb.npz as Keras ships it: object arrays of lists, int64 labels."""
    x_train, y_train = sequences(7, seed=1)
    x_test, y_test = sequences(5, seed=2)
    numpy.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def write_reuters(path):
    """A reuters.npz as Keras ships it."""
    x, y = sequences(12, seed=3)
    numpy.savez(path, x=x, y=y)


def write_housing(path, rows, features):
    """A housing .npz: float features, and targets 0, 1, 2, ... so that each target names its input row."""
    x = numpy.random.default_rng(rows).normal(size=(rows, features))
    numpy.savez(path, x=x, y=numpy.arange(rows, dtype=numpy.float64))


#: case name: (data set, load_data keyword arguments)
CASES = {
    "imdb_default": ("imdb", {}),
    "imdb_num_words": ("imdb", dict(num_words=12, skip_top=4)),
    "imdb_maxlen": ("imdb", dict(maxlen=9, seed=7)),
    "imdb_no_oov": ("imdb", dict(num_words=20, oov_char=None, start_char=None, index_from=0)),
    "imdb_no_start": ("imdb", dict(start_char=None, index_from=5, num_words=25)),
    "reuters_default": ("reuters", {}),
    "reuters_split": ("reuters", dict(test_split=0.4, maxlen=10, num_words=15, seed=3)),
    "boston_default": ("boston_housing", {}),
    "boston_split": ("boston_housing", dict(test_split=0.3, seed=5)),
    "california_large": ("california_housing", {}),
    "california_small": ("california_housing", dict(version="small", test_split=0.25, seed=1)),
}
