"""LambdaCallback: a callback made of plain functions."""
from .base import Callback

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end")


class LambdaCallback(Callback):
    """Each argument is a function called at that hook, with Keras' arguments: ``(epoch, logs)`` for epoch
    hooks, ``(batch, logs)`` for batch hooks, ``(logs)`` for the others.

    Example:
        >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        >>> model.fit(x, y, callbacks=[log])
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **other_hooks):
        super().__init__()
        unknown = sorted(set(other_hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s) {', '.join(unknown)}; known: {', '.join(_HOOKS)}.")
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **other_hooks)
        for hook, function in given.items():
            if function is not None:
                if not callable(function):
                    raise TypeError(f"LambdaCallback: {hook} must be a function. Received: {function!r}")
                setattr(self, hook, _called_with_logs(function, takes_index="epoch" in hook or "batch" in hook))


def _called_with_logs(function, takes_index):
    """The hook as fit calls it (logs may be left out) -> the function with Keras' arguments, logs always given."""
    if takes_index:
        return lambda index, logs=None: function(index, logs)
    return lambda logs=None: function(logs)
