"""``BatchDataset``: what nnkit's data-set utilities return where Keras returns a ``tf.data.Dataset``.

It is a ``PyDataset`` (so ``fit`` / ``evaluate`` / ``predict`` read it batch by batch) that also iterates, batches,
unbatches and takes like a ``tf.data.Dataset``. Its samples sit in *columns*: one column, or a tuple of them for
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

    def __len__(self):
        return self.count if self.batch_size is None else math.ceil(self.count / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} is out of range for a dataset of {len(self)} batches.")
        index %= len(self)
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
        """With ``shuffle``: a new sample order for the next epoch."""
        if self._rng is not None:
            self._order = self._rng.permutation(self.count)

    def batch(self, batch_size):
        """The same samples, in the current order, in batches of ``batch_size`` (tf.data's ``batch``)."""
        return self._derived(self._order, batch_size)

    def unbatch(self):
        """The same samples, in the current order, one at a time (tf.data's ``unbatch``)."""
        return self._derived(self._order, None)

    def take(self, count):
        """The first ``count`` elements (batches, or samples when unbatched), as tf.data's ``take``."""
        size = 1 if self.batch_size is None else self.batch_size
        return self._derived(self._order[:max(count, 0) * size], self.batch_size)

    def select(self, positions):
        """A dataset of the samples at ``positions`` in the current order, batched alike; nothing is copied."""
        return self._derived(self._order[numpy.asarray(positions, dtype=numpy.int64)], self.batch_size)

    def _derived(self, rows, batch_size):
        """A dataset of the samples ``rows`` (indices into the columns), in that order."""
        file_paths = None if self.file_paths is None else [self.file_paths[i] for i in rows]
        if isinstance(self.columns, tuple):
            columns = tuple(Selected(column, rows) for column in self.columns)
        else:
            columns = Selected(self.columns, rows)
        return BatchDataset(columns, batch_size, self.shuffle, self.seed, self.class_names, file_paths)


class Selected:
    """The rows ``rows`` of ``column``, selected when read (a lazy column)."""

    def __init__(self, column, rows):
        self.column, self.rows = column, numpy.asarray(rows, dtype=numpy.int64)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, rows):
        return self.column[self.rows[rows]]
