"""The callback contract (Keras' hook names) and the list that calls them in order."""
from .. import distribution


class Callback:
    """Override any hook. ``self.model`` and ``self.params`` (epochs, steps, verbose, metrics) are set by ``fit``.

    Batch-level ``logs`` are read lazily: reading a value copies the running means from the device, so a
    callback that does not read them costs no synchronisation.
    """

    #: Whether only rank 0 of a data-parallel job runs it (it writes files or prints); the others leave it out.
    chief_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Called by ``fit`` with the model being trained."""
        self.model = model

    def set_params(self, params):
        """Called by ``fit`` with ``{"epochs": ..., "steps": ..., "verbose": ..., "metrics": ...}`` (steps per
        epoch; ``metrics``: the keys the epoch logs will have, ``val_`` ones included, as in Keras 2, or None when
        a custom ``train_step`` decides them), and by ``evaluate`` / ``predict`` with ``steps`` and ``verbose``."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts (``logs`` is ``{}``)."""

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends, with the last epoch's logs; also when it raises on a diverged loss."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before epoch ``epoch`` (0-based) trains (``logs`` is ``{}``)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after epoch ``epoch`` with its ``logs``: the mean loss and metrics, and ``val_`` ones with
        validation data. Setting ``self.model.stop_training = True`` ends ``fit`` after this epoch."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training step ``batch`` (0-based within the epoch; ``logs`` is ``{}``)."""

    def on_train_batch_end(self, batch, logs=None):
        """Called after training step ``batch`` with the epoch's running means so far; setting
        ``self.model.stop_training = True`` ends the epoch and ``fit`` after this step."""

    def on_test_begin(self, logs=None):
        """Called when ``evaluate`` starts, and when ``fit`` starts its validation (``logs`` is ``{}``)."""

    def on_test_end(self, logs=None):
        """Called when ``evaluate`` (or ``fit``'s validation) ends, with its logs (without ``val_``)."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each evaluation step (``logs`` is ``{}``)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each evaluation step with the running means so far."""

    def on_predict_begin(self, logs=None):
        """Called when ``predict`` starts (``logs`` is ``{}``)."""

    def on_predict_end(self, logs=None):
        """Called when ``predict`` ends (``logs`` is ``{}``)."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each prediction step (``logs`` is ``{}``)."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each prediction step with ``{"outputs": the batch's outputs}``, as Keras."""


class CallbackList:
    """Calls a hook on every callback in order (``callback_list.on_epoch_end(epoch, logs)``), after
    giving each the model and ``params``; an item that is not a Callback is a TypeError. A hook called without
    logs gets ``{}``, as Keras gives it."""

    def __init__(self, callbacks, model, params):
        if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be a list of nnkit.callbacks.Callback objects. Received: {callbacks!r}; "
                            f"pass callbacks=[...] even for one.")
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be nnkit.callbacks.Callback objects. Received: {callback!r}")
            callback.set_model(model)
            callback.set_params(params)
        if not distribution.is_chief():
            self.callbacks = [callback for callback in self.callbacks if not callback.chief_only]

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        indexed = hook.startswith("on_epoch_") or "_batch_" in hook  # (epoch or batch, logs) hooks

        def call_all(*args):
            if len(args) < (2 if indexed else 1) or args[-1] is None:  # Keras hands every hook a dict
                args = args[:1 if indexed else 0] + ({},)
            for callback in self.callbacks:
                getattr(callback, hook)(*args)
        return call_all
