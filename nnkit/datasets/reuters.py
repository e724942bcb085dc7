"""Reuters newswires (Reuters-21578 as Keras packs it): 11,228 newswires labelled with 46 topics, each a sequence
of word indices ranked by frequency, as Keras 3 loads them."""
import numpy

from . import word_sequences as words
from .download import dataset_file
from .imdb import read_word_index
from .safe_load import load_npz

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # SHA-256, Keras' value
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # MD5: the only digest Keras publishes for it
LABEL_NAMES = ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
               "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
               "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
               "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
               "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
              start_char=1, oov_char=2, index_from=3):
    """``((x_train, y_train), (x_test, y_test))``, Keras 3's arrays for the same arguments.

    Args:
        path: the file name in ``$NNKIT_DATA_DIR/reuters`` (else ``~/.nnkit/datasets/reuters``), or a path with a
            folder. A missing file is downloaded there first (SHA-256 checked).
        num_words, skip_top, maxlen, seed, start_char, oov_char, index_from: as ``nnkit.datasets.imdb.load_data``.
        test_split: the fraction of the (shuffled, filtered) newswires that goes to the test set: the first
            ``int(N * (1 - test_split))`` are the training set.

    Returns:
        ``x_train``, ``x_test``: 1-D object arrays of lists of int. ``y_train``, ``y_test``: int64 topic indices
        0-45 (``get_label_names()`` names them).
    """
    location = dataset_file("reuters", path, URL, FILE_HASH)
    arrays = load_npz(location, ("x", "y"))
    words.check_labels(location, arrays["x"], arrays["y"])
    sequences, labels = words.shuffled(numpy.random.RandomState(seed), arrays["x"], arrays["y"])
    sequences = words.shift_indices(sequences, start_char, index_from)
    if maxlen:
        sequences, labels = words.drop_long(maxlen, sequences, labels)
        if not sequences:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             f"Increase maxlen.")
    sequences = words.limit_vocabulary(sequences, num_words, skip_top, oov_char)
    split = int(len(sequences) * (1 - test_split))
    return ((words.object_array(sequences[:split]), numpy.array(labels[:split])),
            (words.object_array(sequences[split:]), numpy.array(labels[split:])))


def get_word_index(path="reuters_word_index.json"):
    """The dict from each word to its frequency rank, as Keras 3 returns it (add ``index_from`` for the index
    in ``load_data``'s sequences).

    Args:
        path: the file name in ``$NNKIT_DATA_DIR/reuters`` (or a path with a folder); downloaded when missing.
    """
    return read_word_index(dataset_file("reuters", path, WORD_INDEX_URL, WORD_INDEX_HASH))


def get_label_names():
    """The 46 topic names, indexed by label."""
    return LABEL_NAMES
