"""History: the epoch logs of a fit, as fit returns them."""
from .base import Callback


class History(Callback):
    """Records the epoch logs: ``history.history["loss"]`` is the list of per-epoch losses, ``history.epoch`` the
    epochs (from 0) and ``history.params`` fit's ``{"epochs", "steps", "verbose", "metrics"}``. ``fit`` adds one
    (or uses the one passed in its callbacks) and returns it; it is also ``model.history``. As in Keras, the
    lists carry on across ``fit`` calls that use the same History; ``epoch`` restarts with each call."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self  # as Keras: the model's History is the one that saw the latest epoch
