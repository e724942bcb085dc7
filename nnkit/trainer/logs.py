"""Running totals of the loss and metrics on the device, and the logs callbacks read from them."""
from .. import backend


class Totals:
    """The sums behind one epoch's (or one evaluation's) logs: ``values[i]`` adds up log ``names[i]`` weighted
    by the batch size, on the device; ``count`` is the number of samples seen. Nothing is read back until a
    log is."""

    def __init__(self, names):
        self.names = list(names)
        self.values = backend.xp().zeros(len(self.names), dtype=backend.floatx())
        self.count = 0
        #: ``{position: metric}`` of the metrics written Keras' way, which keep their own state: their log is their
        #: ``result()``, read only when a log is.
        self.stateful = {}

    def reset(self):
        """Start a new epoch (or evaluation)."""
        self.values.fill(0)
        self.count = 0

    def logs(self, prefix="", count=None):
        """The running means as ``{prefix + name: float}``, in name order (one copy from the device); ``count``
        is the number of samples they are over (default: all seen so far)."""
        means = backend.to_host(self.values) / max(self.count if count is None else count, 1)
        for position, metric in self.stateful.items():
            means[position] = float(backend.to_host(metric.result()))
        return {prefix + name: float(value) for name, value in sorted(zip(self.names, means))}


class LazyLogs(dict):
    """Batch logs that copy the running means from the device only when a callback reads them.

    Every reading method loads first (a dict subclass whose ``in``, ``repr`` or ``values()`` skipped the load
    would show a callback an empty dict); writing loads too, so a callback's own key is not overwritten later.
    """

    def __init__(self, totals):
        super().__init__()
        self._source = (totals, totals.count)

    def _load(self):
        if self._source is not None:
            totals, count = self._source
            self._source = None
            super().update(totals.logs(count=count))


def _loading(name):
    method = getattr(dict, name)

    def loaded(self, *args, **kwargs):
        self._load()
        return method(self, *args, **kwargs)
    loaded.__name__ = name
    return loaded


for _name in ("__getitem__", "__contains__", "__iter__", "__len__", "__repr__", "__eq__", "__ne__", "__or__",
              "__setitem__", "__delitem__", "keys", "items", "values", "get", "copy", "pop", "popitem",
              "setdefault", "update"):
    setattr(LazyLogs, _name, _loading(_name))
del _name
