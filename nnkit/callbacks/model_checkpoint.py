"""ModelCheckpoint: save the model (or its weights) at the end of epochs."""
import os

from .base import Callback
from ._monitor import better, monitored_value, resolve_mode, worst

WEIGHTS_SUFFIX = ".weights.safetensors"
MODEL_SUFFIX = ".nnkit"


class ModelCheckpoint(Callback):
    """Saves after every epoch, or only when ``monitor`` improves (``save_best_only``). Writes are atomic.

    Args:
        filepath: a path, or a pattern filled with the epoch (from 1) and the epoch's logs, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.2f}.nnkit"``. It must end in ``.weights.safetensors`` when
            ``save_weights_only`` (``model.save_weights``) and in ``.nnkit`` otherwise (``model.save``).
        monitor: the log key compared for ``save_best_only`` (default ``"val_loss"``).
        verbose: 1 prints a line at each save (and each skipped one with ``save_best_only``).
        save_best_only: save only when ``monitor`` beats the best value so far.
        save_weights_only: weights only, or the whole model with its optimizer state.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        initial_value_threshold: the value a first save must beat (``save_best_only``).

    Example:
        >>> checkpoint = ModelCheckpoint("best.nnkit", monitor="val_accuracy", save_best_only=True)
        >>> model.fit(x, y, epochs=10, validation_split=0.1, callbacks=[checkpoint])
    """
    chief_only = True  # rank 0 alone writes (prints) in a data-parallel job

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        suffix = WEIGHTS_SUFFIX if save_weights_only else MODEL_SUFFIX
        if not self.filepath.endswith(suffix):
            what = "save_weights_only=True" if save_weights_only else "a whole-model checkpoint"
            raise ValueError(f"ModelCheckpoint: with {what} the filepath must end in '{suffix}'. "
                             f"Received: filepath={self.filepath!r}")
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = resolve_mode(mode, monitor, "ModelCheckpoint") if save_best_only else mode
        self.best = (initial_value_threshold if initial_value_threshold is not None
                     else worst(self.mode) if save_best_only else None)

    def on_epoch_end(self, epoch, logs=None):
        path = self._path(epoch, logs or {})
        if self.save_best_only:
            current = monitored_value(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            if not better(self.mode)(current, self.best):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as error:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} refers to {error}, which is not in the "
                           f"epoch logs (available: epoch, {', '.join(sorted(logs))}).") from None
