"""The index arithmetic IMDB and Reuters share, step by step as Keras 3 applies it
(``keras/src/datasets/imdb.py``, ``reuters.py``): shuffle, mark the start and shift the word indices, drop long
sequences, cut the vocabulary."""
import numpy

from .safe_load import DatasetFileError


def shuffled(rng, sequences, labels):
    """``sequences`` and ``labels`` in the order of ``rng.shuffle`` over their indices (a NumPy RandomState, as
    Keras draws it, so that a seed gives Keras' order)."""
    indices = numpy.arange(len(sequences))
    rng.shuffle(indices)
    return sequences[indices], labels[indices]


def shift_indices(sequences, start_char, index_from):
    """Each sequence as a list, its word indices raised by ``index_from``, headed by ``start_char`` unless None."""
    head = [] if start_char is None else [start_char]
    return [head + [int(word) + index_from for word in sequence] for sequence in sequences]


def drop_long(maxlen, sequences, labels):
    """Only the sequences shorter than ``maxlen`` (Keras keeps ``len < maxlen``, despite "truncated" in its
    docstring) and their labels."""
    kept = [i for i, sequence in enumerate(sequences) if len(sequence) < maxlen]
    return [sequences[i] for i in kept], labels[kept]


def limit_vocabulary(sequences, num_words, skip_top, oov_char):
    """Words outside ``skip_top <= index < num_words`` become ``oov_char`` (dropped when it is None).

    When ``num_words`` is None or 0 it is the largest index found, so, as in Keras, that one word becomes
    ``oov_char`` too.
    """
    if not num_words:
        num_words = max(max(sequence) for sequence in sequences)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in sequence] for sequence in sequences]
    return [[w for w in sequence if skip_top <= w < num_words] for sequence in sequences]


def object_array(sequences):
    """A 1-D object array of the lists ``sequences`` (one list per element, even when all have one length)."""
    array = numpy.empty(len(sequences), dtype=object)
    for i, sequence in enumerate(sequences):
        array[i] = sequence
    return array


def check_labels(path, sequences, labels):
    """Raise DatasetFileError naming ``path`` unless ``sequences`` and ``labels`` are 1-D arrays of one length."""
    if sequences.ndim != 1 or labels.ndim != 1 or len(sequences) != len(labels):
        raise DatasetFileError(f"{path}: expected one label per sequence (1-D arrays of one length), found sequences of "
                         f"shape {sequences.shape} and labels of shape {labels.shape}.")
