"""``split_dataset``: a dataset cut into a left and a right part (Keras 3's function)."""
import numbers
import random

import numpy

from .batch_dataset import BatchDataset


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Splits a dataset into a left and a right part (train / test, say), as Keras 3 does.

    The samples are optionally shuffled with Python's ``random.Random(seed)`` (the permutation Keras draws after
    ``random.seed(seed)``; nnkit leaves the global generator alone); the left part is then the first ``left_size``
    samples and the right part the last ``right_size``. Nothing is copied: the parts select rows when read.

    Args:
        dataset: a NumPy array (its rows are the samples), a list or tuple of arrays of one length (each sample a
            tuple of their rows), or a ``nnkit.utils.BatchDataset`` (what nnkit's dataset utilities return; its
            samples are split and its batch size kept, as Keras re-batches a batched tf.data.Dataset).
        left_size: a float in (0, 1), the fraction of samples on the left, or an int, their number; None: the
            complement of ``right_size``.
        right_size: likewise for the right part; None: the complement of ``left_size``.
        shuffle: shuffle the samples before splitting.
        seed: the seed of the shuffle (None: a random one).

    Returns:
        ``(left, right)``: two ``BatchDataset`` objects, yielding single samples (unbatched, as Keras'
        ``from_tensor_slices``; call ``.batch(n)``) or, for a batched ``BatchDataset``, batches of its size.

    Example:
        >>> import numpy
        >>> left, right = split_dataset(numpy.arange(10), left_size=0.8)
        >>> len(left), len(right)
        (8, 2)
    """
    source = _as_dataset(dataset)
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    total = source.count
    if total == 0:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty array, list/tuple of "
                         "arrays or BatchDataset.")
    left, right = _sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        random.Random(seed).shuffle(order)
    order = numpy.array(order)
    return source.select(order[:left]), source.select(order[total - right:])


def _as_dataset(dataset):
    if isinstance(dataset, BatchDataset):
        return dataset
    if isinstance(dataset, numpy.ndarray):
        return BatchDataset(dataset)
    if isinstance(dataset, (list, tuple)):
        if not dataset:
            raise ValueError("Received an empty list dataset. Please provide a non-empty list of arrays.")
        for i, element in enumerate(dataset):
            if not isinstance(element, numpy.ndarray):
                raise ValueError(f"Expected a list of `numpy.ndarray` objects, Received: {type(element)} at index "
                                 f"{i}.")
            if len(element) != len(dataset[0]):
                raise ValueError(f"Received a list of NumPy arrays with different lengths. Mismatch found at index "
                                 f"{i}, Expected shape={dataset[0].shape} Received shape={element.shape}. Please "
                                 f"provide a list of NumPy arrays of the same length.")
        return BatchDataset(tuple(dataset))
    raise TypeError(f"The `dataset` argument must be a NumPy array, a list/tuple of arrays or a "
                    f"nnkit.utils.BatchDataset. Received: dataset of type {type(dataset)}")


def _sizes(left_size, right_size, total):
    """Keras' checks and rescaling: ``(left, right)`` sample counts."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, Received: "
                            f"type({name})={type(size)}.")
        if isinstance(size, numbers.Integral) and not 0 < size < total:
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float "
                             f"within the range `[0, 1]`. Received: {name}={size}")
        if not isinstance(size, numbers.Integral) and not 0 < size < 1:
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float "
                             f"within the range `[0, 1]`. Received: {name}={size}")
    both_fractions = all(size is not None and not isinstance(size, numbers.Integral)
                         for size in (left_size, right_size))
    if both_fractions and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal "
                         "to 1.")
    left, right = (None if size is None else size if isinstance(size, numbers.Integral) else round(size * total)
                   for size in (left_size, right_size))
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: "
                         f"left_size + right_size = {left + right} and total_length = {total}")
    for count, side in ((left, "left"), (right, "right")):
        if count == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left_size} and "
                             f"`right_size`={right_size}. Resulting {side} side dataset split will be empty. Adjust "
                             f"any of the aforementioned parameters")
    return int(left), int(right)
