"""``BatchDataset``: what nnkit's data-set utilities return where Keras returns a ``tf.data.Dataset``.

It is a ``PyDataset`` (so ``fit`` / ``evaluate`` / ``predict`` read it batch by batch) that also iterates, batches,
unbatches, takes, maps and caches like a ``tf.data.Dataset``. Its samples sit in *columns*: one column, or a tuple of them for
``(x, y)`` elements. A column is anything with a length that an array of sample indices selects rows of: a NumPy
array, or a lazy column that reads image or text files, or cuts windows from a series, only for the samples asked.
"""
import math

import numpy

from .dataset import PyDataset


class BatchDataset(PyDataset):
    """Samples in batches of ``batch_size`` (the last may be smaller), or one at a time when ``batch_size`` is None.

    Iterating yields each batch: an array, or a tuple of arrays when there are several columns. With
    ``shuffle=True`` the first pass takes the samples in their given order (Keras' utilities shuffle the order
    with the seed first) and every ``on_epoch_end()`` (after each training epoch) draws a new order from ``seed``.
    This differs from tf.data, which reshuffles within a buffer of 8 batches on every pass.

    ``map(function)`` applies a function to every element (batch, or sample when unbatched) as it is read;
    ``cache()`` keeps each element once read, so later passes repeat the first one, order included (as tf.data's
    ``shuffle().cache()``); ``prefetch`` returns the dataset as it is (nnkit's trainer reads ahead itself).

    Args:
        columns: one column or a tuple of columns, all of one length (see the module docstring).
        batch_size: the number of samples per batch, or None for single samples.
        shuffle: whether to reshuffle after every training epoch.
        seed: the seed of those reshuffles.
        class_names: the class names, where Keras' dataset has them (else None).
        file_paths: the files behind the samples, in order, where Keras' dataset lists them (else None).

    Example:
        >>> import numpy
        >>> dataset = BatchDataset((numpy.arange(5), numpy.arange(5) * 10), batch_size=2)
        >>> [y.tolist() for x, y in dataset]
        [[0, 10], [20, 30], [40]]
    """

    def __init__(self, columns, batch_size=None, shuffle=False, seed=None, class_names=None, file_paths=None):
        super().__init__()
        self.columns = columns
        many = isinstance(columns, tuple)
        lengths = {len(column) for column in (columns if many else (columns,))}
        if len(lengths) != 1:
            raise ValueError(f"BatchDataset: every column must hold one sample per row, of one count; found "
                             f"lengths {sorted(lengths)}.")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size must be a positive integer or None. Received: batch_size={batch_size!r}")
        self.count = lengths.pop()
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.class_names, self.file_paths = class_names, file_paths
        self._order = numpy.arange(self.count)
        self._rng = numpy.random.default_rng(seed) if shuffle else None
        self._functions = ()  # map()'s functions, applied to each element in turn
        self._cache = None  # cache()'s elements read so far, by index

    def __len__(self):
        return self.count if self.batch_size is None else math.ceil(self.count / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} is out of range for a dataset of {len(self)} batches.")
        index %= len(self)
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        element = self._read(index)
        for function in self._functions:
            element = function(*element) if isinstance(element, tuple) else function(element)
        if self._cache is not None:
            self._cache[index] = element
        return element

    def _read(self, index):
        size = 1 if self.batch_size is None else self.batch_size
        rows = self._order[index * size:(index + 1) * size]
        if isinstance(self.columns, tuple):
            batch = tuple(column[rows] for column in self.columns)
            return tuple(part[0] for part in batch) if self.batch_size is None else batch
        batch = self.columns[rows]
        return batch[0] if self.batch_size is None else batch

    def __iter__(self):
        """Each batch (each sample when unbatched) in the current order."""
        for index in range(len(self)):
            yield self[index]

    def on_epoch_end(self):
        """With ``shuffle``: a new sample order for the next epoch (not once cached: the cache keeps its order)."""
        if self._rng is not None and self._cache is None:
            self._order = self._rng.permutation(self.count)

    def batch(self, batch_size):
        """The same samples, in the current order, in batches of ``batch_size`` (tf.data's ``batch``)."""
        self._check_unmapped("batch")
        return self._derived(self._order, batch_size)

    def unbatch(self):
        """The same samples, in the current order, one at a time (tf.data's ``unbatch``)."""
        self._check_unmapped("unbatch")
        return self._derived(self._order, None)

    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        """A dataset whose elements are ``map_func(*element)`` (``map_func(element)`` for a single array), computed
        when read, as tf.data's ``map``. ``num_parallel_calls`` and ``deterministic`` are accepted for its
        signature; elements are mapped in the calling thread, in order."""
        if not callable(map_func):
            raise TypeError(f"map expects a function. Received: map_func of type {type(map_func).__name__}")
        return self._derived(self._order, self.batch_size, self._functions + (map_func,))

    def cache(self, filename=""):
        """A dataset that keeps each element (after this dataset's maps) in memory once read, as tf.data's
        ``cache()``; its later passes repeat the first in the same order. Only in memory: ``filename`` must be
        ``""``."""
        if filename != "":
            raise ValueError(f"nnkit caches datasets in memory only; expected filename=''. Received: "
                             f"filename={filename!r}")
        cached = self._derived(self._order, self.batch_size, self._functions)
        cached._cache = {}
        return cached

    def prefetch(self, buffer_size=None):
        """This dataset, unchanged: tf.data's ``prefetch`` for pipelines written for Keras (``fit`` reads batches
        ahead on its own)."""
        return self

    def _check_unmapped(self, method):
        if self._functions:
            raise ValueError(f"{method}() after map() is not supported: map() applies to the elements as they are "
                             f"now. Call {method}() first, then map().")

    def take(self, count):
        """The first ``count`` elements (batches, or samples when unbatched), as tf.data's ``take``."""
        size = 1 if self.batch_size is None else self.batch_size
        return self._derived(self._order[:max(count, 0) * size], self.batch_size, self._functions)

    def select(self, positions):
        """A dataset of the samples at ``positions`` in the current order, batched (and mapped) alike; nothing is
        copied."""
        rows = self._order[numpy.asarray(positions, dtype=numpy.int64)]
        return self._derived(rows, self.batch_size, self._functions)

    def _derived(self, rows, batch_size, functions=()):
        """A dataset of the samples ``rows`` (indices into the columns), in that order, mapped by ``functions``."""
        file_paths = None if self.file_paths is None else [self.file_paths[i] for i in rows]
        if isinstance(self.columns, tuple):
            columns = tuple(Selected(column, rows) for column in self.columns)
        else:
            columns = Selected(self.columns, rows)
        derived = BatchDataset(columns, batch_size, self.shuffle, self.seed, self.class_names, file_paths)
        derived._functions = functions
        return derived


class Selected:
    """The rows ``rows`` of ``column``, selected when read (a lazy column)."""

    def __init__(self, column, rows):
        self.column, self.rows = column, numpy.asarray(rows, dtype=numpy.int64)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, rows):
        return self.column[self.rows[rows]]
