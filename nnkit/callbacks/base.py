"""The callback contract (Keras' hook names) and the list that calls them in order."""


class Callback:
    """Override any hook. ``self.model`` and ``self.params`` (epochs, steps, verbose) are set by ``fit``.

    Batch-level ``logs`` are read lazily: reading a value copies the running means from the device, so a
    callback that does not read them costs no synchronisation.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Called by ``fit`` with the model being trained."""
        self.model = model

    def set_params(self, params):
        """Called by ``fit`` with ``{"epochs": ..., "steps": ..., "verbose": ...}`` (steps per epoch)."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts (``logs`` is None)."""

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends, also when it raises on a diverged loss (``logs`` is None)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before epoch ``epoch`` (0-based) trains (``logs`` is None)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after epoch ``epoch`` with its ``logs``: the mean loss and metrics, and ``val_`` ones with
        validation data. Setting ``self.model.stop_training = True`` ends ``fit`` after this epoch."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training step ``batch`` (0-based within the epoch; ``logs`` is None)."""

    def on_train_batch_end(self, batch, logs=None):
        """Called after training step ``batch`` with the epoch's running means so far; setting
        ``self.model.stop_training = True`` ends the epoch and ``fit`` after this step."""

    def on_test_begin(self, logs=None):
        """Keras' hook at the start of ``evaluate``; nnkit's ``evaluate`` does not call it yet."""

    def on_test_end(self, logs=None):
        """Keras' hook at the end of ``evaluate``; nnkit's ``evaluate`` does not call it yet."""


class CallbackList:
    """Calls a hook on every callback in order (``callback_list.on_epoch_end(epoch, logs)``), after
    giving each the model and ``params``; an item that is not a Callback is a TypeError."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be nnkit.callbacks.Callback objects. Received: {callback!r}")
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args, **kwargs):
            for callback in self.callbacks:
                getattr(callback, hook)(*args, **kwargs)
        return call_all
