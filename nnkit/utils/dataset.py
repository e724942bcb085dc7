"""``PyDataset``: Keras' base class for a data set that hands out batches by index."""


class PyDataset:
    """Subclass it to feed ``fit`` / ``evaluate`` / ``predict`` batch by batch, as in Keras: ``__len__`` is the
    number of batches per epoch, ``__getitem__(index)`` returns batch ``index`` as ``(x, y)`` or
    ``(x, y, sample_weight)`` (``x`` alone for predict), and ``on_epoch_end()`` runs after every training epoch
    (to reshuffle, say). ``fit`` reads batches ahead on ``workers`` background threads, at most ``max_queue_size``
    ahead; ``use_multiprocessing=True`` uses threads too (nnkit does not pickle the data set to other processes).

    Example:
        >>> import numpy
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[part], self.y[part]
        >>> len(Batches(numpy.zeros((10, 2)), numpy.zeros(10), batch_size=4))
        3
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        """The number of threads that read batches ahead."""
        return self._workers

    @property
    def use_multiprocessing(self):
        """Whether processes were asked for (Keras' argument; nnkit reads with threads either way)."""
        return self._use_multiprocessing

    @property
    def max_queue_size(self):
        """The most batches read ahead."""
        return self._max_queue_size

    def __getitem__(self, index):
        """Batch ``index``: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index).")

    def __len__(self):
        """The number of batches in an epoch."""
        raise NotImplementedError(f"{type(self).__name__} must implement __len__().")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), as Keras' property."""
        return len(self)

    def on_epoch_begin(self):
        """Called before every training epoch (Keras' hook); does nothing by default."""

    def on_epoch_end(self):
        """Called after every training epoch; does nothing by default."""
