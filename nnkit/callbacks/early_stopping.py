"""EarlyStopping: stop training when a monitored quantity has stopped improving."""
from .base import Callback
from ._monitor import better, monitored_value, resolve_mode


class EarlyStopping(Callback):
    """Stops ``fit`` once ``monitor`` has not improved for ``patience`` epochs (Keras 3's rules).

    Args:
        monitor: the log key to watch, e.g. ``"val_loss"`` (default) or ``"val_accuracy"``.
        min_delta: the smallest change that counts as an improvement (its sign is ignored).
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a line when training stops and when the best weights are restored.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name: losses go down, accuracies up).
        baseline: a value to beat; the patience count only resets on epochs that beat it.
        restore_best_weights: at the end of training, put back the weights of the best epoch.
        start_from_epoch: epochs to wait before watching (warm-up).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> model.fit(x, y, epochs=100, validation_split=0.1, callbacks=[stop])
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = resolve_mode(mode, monitor, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._better = better(self.mode)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = monitored_value(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _improves(self, current, reference):
        """Better than ``reference`` by more than ``min_delta`` (anything improves on None)."""
        if reference is None:
            return True
        shifted = current + self.min_delta if self.mode == "min" else current - self.min_delta
        return self._better(shifted, reference)
