import random

import numpy

from .. import backend


def set_random_seed(seed):
    """Seed Python's, NumPy's and nnkit's generators: the same seed gives the same CPU results, bit for bit."""
    random.seed(seed)
    numpy.random.seed(seed)
    backend.seed(seed)


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels: ``(N,)`` -> ``(N, num_classes)`` (Keras' function)."""
    labels = numpy.asarray(backend.to_host(y))
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.dtype.kind == "f" and not numpy.all(labels == numpy.floor(labels)):
        raise ValueError("to_categorical expects integer class labels; received non-integer values.")
    labels = labels.astype(numpy.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical expects labels >= 0; received {labels.min()}.")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(f"to_categorical: label {labels.max()} is out of range for num_classes={num_classes}.")
    one_hot = numpy.zeros(labels.shape + (num_classes,), dtype=dtype)
    numpy.put_along_axis(one_hot, labels[..., None], 1, axis=-1)
    return one_hot
