"""ReduceLROnPlateau: lower the learning rate when a monitored quantity has stopped improving."""
from .base import Callback
from ._monitor import better, monitored_value, resolve_mode, worst
from .learning_rate import current_learning_rate, set_learning_rate


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` after ``patience`` epochs without improvement (Keras' rules).

    Args:
        monitor: the log key to watch (default ``"val_loss"``).
        factor: the multiplier, in (0, 1): ``new_lr = max(lr * factor, min_lr)``.
        patience: epochs without improvement before the rate is lowered.
        verbose: 1 prints a line at every change.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the floor for the learning rate.

    Each epoch's logs gain ``learning_rate`` (so ``History`` records it).

    Example:
        >>> model.fit(x, y, validation_split=0.1, callbacks=[ReduceLROnPlateau(factor=0.5, patience=2)])
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1). Received: factor={factor!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.mode = resolve_mode(mode, monitor, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = abs(float(min_delta)), int(cooldown), float(min_lr)
        self._better = better(self.mode)

    def on_train_begin(self, logs=None):
        self.best = worst(self.mode)
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        learning_rate = current_learning_rate(self.model, "ReduceLROnPlateau")
        if logs is not None:
            logs["learning_rate"] = learning_rate
        current = monitored_value(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        shifted = current + self.min_delta if self.mode == "min" else current - self.min_delta
        if self._better(shifted, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and learning_rate > self.min_lr:
                new_rate = max(learning_rate * self.factor, self.min_lr)
                set_learning_rate(self.model, new_rate, "ReduceLROnPlateau")
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_rate}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0
