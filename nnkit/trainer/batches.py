"""Where fit / evaluate / predict take their batches from: arrays sliced into batches, or the batches that a
Python generator, another iterable or a ``nnkit.utils.PyDataset`` yields (each one checked by the trainer as it
checks whole arrays). Both give ``steps`` (the batches per epoch, None when unknown) and ``epoch()``."""
import weakref

import numpy

from . import data, prefetch

_TAKEN_EARLY = weakref.WeakKeyDictionary()


def is_source(x):
    """Whether ``x`` is a source of batches (a generator, an iterator, an iterable object or a PyDataset-like object
    with ``__len__`` and ``__getitem__``) rather than array data (an array, a list / tuple / dict of arrays)."""
    if x is None or data.is_array(x) or isinstance(x, (list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "__array__") or hasattr(x, "__array_interface__") or hasattr(x, "shape"):
        return False  # something NumPy converts: array data
    return hasattr(x, "__iter__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


class ArrayBatches:
    """Arrays cut into ``batch_size`` batches, in order or (``rng``) in a new random order each epoch; ``batch``
    makes a step's data from an index (a slice, or an array of sample indices). ``steps``: the first batches only."""

    def __init__(self, batch, count, batch_size, rng=None, steps=None, argument="steps", parallel=None):
        self.batch, self.count, self.batch_size, self.rng = batch, count, batch_size, rng
        self.parallel = parallel  # a DataParallel: this process takes its share of each batch
        available = -(-count // batch_size)
        if steps is not None and steps > available:
            raise ValueError(f"{argument}={steps} asks for more batches than the arrays hold: {count} samples make "
                             f"{available} batches of {batch_size}.")
        self.steps = available if steps is None else steps

    def epoch(self):
        """This epoch's batches (reshuffled first when an ``rng`` was given)."""
        order = self.rng().permutation(self.count) if self.rng is not None else None
        if order is not None and self.parallel is not None:
            order = self.parallel.agreed_order(order)
        for step in range(self.steps):
            part = slice(step * self.batch_size, (step + 1) * self.batch_size)
            index = order[part] if order is not None else part
            yield self.batch(index if self.parallel is None else self.parallel.local_index(index, self.count))

    def begin_epoch(self):
        """Nothing to do before a training epoch over arrays."""

    def end_epoch(self):
        """Nothing to do after a training epoch over arrays."""


class SourceBatches:
    """The batches an iterable yields, each passed through ``check(item, number)`` (which raises, naming the batch,
    when it is not what the model expects). ``steps`` batches per epoch when given, else until the iterable is
    exhausted. A PyDataset-like object (``__len__`` and ``__getitem__``) is read by index and gets
    ``on_epoch_begin()`` / ``on_epoch_end()`` around each training epoch; another re-iterable object is iterated
    anew each epoch; a one-shot iterator (a generator) is consumed across epochs, as in Keras.

    Batches are read and checked ahead on background threads (``prefetch``): a PyDataset's ``workers`` threads
    call ``__getitem__`` (``use_multiprocessing`` also uses threads: nnkit never pickles the data set), at most
    ``max_queue_size`` batches ahead; another iterable is read one batch ahead."""

    def __init__(self, source, check, what, steps=None, argument="steps", parallel=None):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0):
            raise ValueError(f"{argument} must be a positive integer. Received: {argument}={steps!r}")
        self.source, self.check, self.what, self.argument = source, check, what, argument
        self.parallel = parallel  # a DataParallel: every process reads the same batches and takes its share
        self.indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        self.one_shot = not self.indexed and iter(source) is source
        self._iterator = source if self.one_shot else None
        # A one-shot iterator's items taken early (to build the model, or read ahead and not used), given back first;
        # kept per iterator, so the next fit on the same generator goes on where this one stopped.
        self._pending = _taken_early(source) if self.one_shot else []
        self.given_steps = steps
        self.steps = steps if steps is not None else _known_length(source)

    def first(self):
        """The first item, unchecked (to build the model from); a one-shot iterator's is kept for the epoch."""
        try:
            if self.one_shot:
                if not self._pending:
                    self._pending.append(next(self._iterator))
                return self._pending[0]
            return next(self._items())
        except StopIteration:
            raise ValueError(f"{self.what} yielded no batches.") from None

    def _items(self):
        """An iterator over this epoch's items. A one-shot iterator is read with ``next`` directly (not through
        ``yield from``, which would close the user's generator when an epoch stops early)."""
        if self.one_shot:
            return _Resumed(self._pending, self._iterator)
        if self.indexed:
            return (self.source[index] for index in range(len(self.source)))
        return iter(self.source)

    def epoch(self):
        """This epoch's checked batches: ``steps`` of them, or all the source yields (an error when it runs out
        first, or yields none)."""
        number = 0
        for item, batch in self._prefetched():
            yield batch if self.parallel is None else self.parallel.local_batch(batch)
            number += 1
        if self.given_steps is not None and number < self.given_steps:
            reuse = (" A generator is consumed across epochs, so it must yield steps x epochs batches (loop with "
                     "`while True`) or be a re-iterable object such as a nnkit.utils.PyDataset."
                     if self.one_shot else "")
            raise ValueError(f"{self.what} ran out of data after {number} batches, but {self.argument}="
                             f"{self.given_steps} asks for {self.given_steps}.{reuse}")
        if number == 0:
            hint = (f" A generator is used up after one pass: give {self.argument} and make it yield batches for "
                    f"every epoch." if self.one_shot else "")
            raise ValueError(f"{self.what} yielded no batches.{hint}")

    def _prefetched(self):
        """``(item, checked batch)`` pairs of this epoch, read ahead on background threads; no item is taken
        beyond the steps, and a generator's items read ahead but not used go back to it."""
        if self.indexed:
            count = len(self.source) if self.given_steps is None else min(self.given_steps, len(self.source))
            workers = getattr(self.source, "workers", 1) or 1
            depth = max(getattr(self.source, "max_queue_size", 2) or 2, workers)
            return prefetch.prefetched(lambda number: (None, self.check(self.source[number], number)), count,
                                       workers, depth)
        items = self._items()

        def fetch(number):
            try:
                item = next(items)
            except StopIteration:
                return prefetch.END
            return item, self.check(item, number)

        give_back = (lambda unused: self._pending.extend(item for item, _ in unused)) if self.one_shot else None
        return prefetch.prefetched(fetch, self.given_steps, 1, 2, give_back)

    def begin_epoch(self):
        """Before a training epoch: a PyDataset's ``on_epoch_begin()``."""
        if self.indexed and hasattr(self.source, "on_epoch_begin"):
            self.source.on_epoch_begin()

    def end_epoch(self):
        """After a training epoch: a PyDataset's ``on_epoch_end()`` (to reshuffle, say)."""
        if self.indexed and hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()


def _taken_early(iterator):
    """The list of ``iterator``'s items taken early, shared by every fit on it (a new one when the iterator cannot
    be weakly referenced, as a list's cannot)."""
    try:
        return _TAKEN_EARLY.setdefault(iterator, [])
    except TypeError:
        return []


def _known_length(source):
    """The number of batches ``source`` yields when it says (``len``, or a ``tf.data.Dataset``'s non-negative
    ``cardinality()``), else None. Found by duck typing: nnkit never imports TensorFlow or PyTorch."""
    try:
        return len(source)
    except TypeError:  # no __len__, or an infinite / unknown-size dataset that refuses it
        pass
    cardinality = getattr(source, "cardinality", None)
    if callable(cardinality):
        count = int(numpy.asarray(cardinality()))
        return count if count >= 0 else None  # tf.data: -1 infinite, -2 unknown
    return None


class _Resumed:
    """Iterates ``pending`` items (taken out early), then ``iterator``, which is left open for later epochs."""

    def __init__(self, pending, iterator):
        self.pending, self.iterator = pending, iterator

    def __iter__(self):
        return self

    def __next__(self):
        return self.pending.pop(0) if self.pending else next(self.iterator)
