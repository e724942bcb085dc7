"""IMDB movie reviews (Maas et al. 2011): 25,000 training and 25,000 test reviews labelled positive (1) or negative
(0), each a sequence of word indices ranked by frequency, as Keras 3 loads them."""
import json

import numpy

from . import word_sequences as words
from .download import dataset_file
from .safe_load import DatasetFileError, load_npz

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # SHA-256, Keras' value
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # MD5: the only digest Keras publishes for it


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    """``((x_train, y_train), (x_test, y_test))``, Keras 3's arrays for the same arguments.

    Args:
        path: the file name in ``$NNKIT_DATA_DIR/imdb`` (else ``~/.nnkit/datasets/imdb``), or a path with a
            folder. A missing file is downloaded there first (SHA-256 checked).
        num_words: keep the ``num_words`` most frequent words (indices below it, counting the ``index_from``
            shift); others become ``oov_char``. None keeps all but, as in Keras, the one with the largest index.
        skip_top: the indices below it (the most frequent words, and with the defaults the start mark) become
            ``oov_char``.
        maxlen: keep only the reviews shorter than ``maxlen`` (start mark included), as Keras does.
        seed: the NumPy RandomState seed that shuffles the training and then the test reviews.
        start_char: put at the start of every review (None: nothing).
        oov_char: what the words cut by ``num_words`` / ``skip_top`` become (None: they are dropped).
        index_from: added to every word index (0 is padding, 1 the start, 2 out of vocabulary).

    Returns:
        ``x_train``, ``x_test``: 1-D object arrays of lists of int. ``y_train``, ``y_test``: int64 arrays of 0/1.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = nnkit.datasets.imdb.load_data(num_words=10000)
        >>> x_train = nnkit.utils.pad_sequences(x_train, maxlen=200)
    """
    location = dataset_file("imdb", path, URL, FILE_HASH)
    arrays = load_npz(location, ("x_train", "y_train", "x_test", "y_test"))
    words.check_labels(location, arrays["x_train"], arrays["y_train"])
    words.check_labels(location, arrays["x_test"], arrays["y_test"])
    rng = numpy.random.RandomState(seed)
    x_train, y_train = words.shuffled(rng, arrays["x_train"], arrays["y_train"])
    x_test, y_test = words.shuffled(rng, arrays["x_test"], arrays["y_test"])
    x_train = words.shift_indices(x_train, start_char, index_from)
    x_test = words.shift_indices(x_test, start_char, index_from)
    if maxlen:
        x_train, y_train = words.drop_long(maxlen, x_train, y_train)
        x_test, y_test = words.drop_long(maxlen, x_test, y_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             f"Increase maxlen.")
    sequences = words.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    split = len(x_train)
    return ((words.object_array(sequences[:split]), y_train), (words.object_array(sequences[split:]), y_test))


def get_word_index(path="imdb_word_index.json"):
    """The dict from each word to its frequency rank (1 is the most frequent), as Keras 3 returns it.

    Add ``index_from`` (3 by default) to a rank to find the word's index in ``load_data``'s sequences.

    Args:
        path: the file name in ``$NNKIT_DATA_DIR/imdb`` (or a path with a folder); downloaded when missing.
    """
    return read_word_index(dataset_file("imdb", path, WORD_INDEX_URL, WORD_INDEX_HASH))


def read_word_index(location):
    """The word -> index dict of a JSON word-index file; DatasetFileError naming the file if it is not one."""
    try:
        with open(location, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError) as error:
        raise DatasetFileError(f"{location}: cannot be read as a JSON word index ({error}).") from error
    if not isinstance(index, dict) or not all(isinstance(value, int) for value in index.values()):
        raise DatasetFileError(f"{location}: expected a JSON object from words to integer indices.")
    return index
