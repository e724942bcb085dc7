"""LearningRateScheduler: set the learning rate at the start of every epoch from a function."""
import inspect

from .base import Callback
from .learning_rate import current_learning_rate, set_learning_rate


class LearningRateScheduler(Callback):
    """Calls ``schedule(epoch, lr)`` (or ``schedule(epoch)``) before each epoch and uses what it returns.

    Args:
        schedule: a function of the epoch index (from 0) and the current learning rate.
        verbose: 1 prints the new rate every epoch.

    Each epoch's logs gain ``learning_rate``.

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> model.fit(x, y, epochs=20, callbacks=[LearningRateScheduler(schedule)])
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler needs a function schedule(epoch, lr). Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_rate = _positional_count(schedule) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        current = current_learning_rate(self.model, "LearningRateScheduler")
        new_rate = self.schedule(epoch, current) if self._takes_rate else self.schedule(epoch)
        set_learning_rate(self.model, new_rate, "LearningRateScheduler")
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_rate)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.model, "LearningRateScheduler")


def _positional_count(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: assume Keras' two arguments
        return 2
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
