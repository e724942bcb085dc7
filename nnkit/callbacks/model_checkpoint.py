"""ModelCheckpoint: save the model (or its weights) after every epoch or every N batches, or only the best."""
import os
import string

from .base import Callback
from ._monitor import better, monitored_value, resolve_mode
from ._saving import batch_save_due, check_folder_can_be_made, check_save_freq

KEYS_ADDED_BY_CALLBACKS = ("learning_rate",)  # ReduceLROnPlateau and LearningRateScheduler log it


class ModelCheckpoint(Callback):
    """Saves the model or its weights after every epoch (or every ``save_freq`` batches), or only when
    ``monitor`` improves (``save_best_only``). Keras 3's arguments, file names and messages; writes are atomic.

    The filepath pattern is checked when ``fit`` starts, before any work: every ``{key}`` must be one fit will
    produce (``epoch``; ``batch`` with an integer ``save_freq``; the epoch logs' keys, ``val_`` ones only with
    validation data and an epoch ``save_freq``; ``learning_rate``), and the folder must be one that can be
    created. (Keras fails at the first save instead; a key another callback adds to the logs, other than
    ``learning_rate``, is refused here.)

    Args:
        filepath: a path, or a pattern filled with ``epoch`` (from 1), ``batch`` (from 1, when saving by batch)
            and the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``. With ``save_weights_only`` it must end
            in ``.weights.h5`` (Keras' format) or ``.weights.safetensors`` (nnkit's), else in ``.keras`` or
            ``.nnkit``; the name picks what ``model.save`` / ``save_weights`` write. (Keras' legacy whole-model
            ``.h5`` is refused: nnkit does not write it.) Missing folders are created.
        monitor: the log key ``save_best_only`` compares (default ``"val_loss"``).
        verbose: 1 prints Keras' line at each save (and each skipped one with ``save_best_only``).
        save_best_only: save only when ``monitor`` beats the best value so far; when it is missing from the logs
            the model is saved anyway, with a warning (as Keras).
        save_weights_only: weights only (``model.save_weights``), or the whole model with its optimizer state.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name: losses go down, accuracies up).
        save_freq: ``"epoch"`` (default) or a positive integer: save after every that many batches, counted
            across epochs; then ``monitor`` is read from the batch logs (the epoch's running means, no ``val_``).
        initial_value_threshold: the value a first save must beat (``save_best_only``); None: the first value.

    Example:
        >>> checkpoint = ModelCheckpoint("best.keras", monitor="val_accuracy", save_best_only=True)
        >>> model.fit(x, y, epochs=10, validation_split=0.1, callbacks=[checkpoint])
    """
    chief_only = True  # rank 0 alone writes (prints) in a data-parallel job

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        from ..models import saving  # the suffixes that choose a format live there (models sit above callbacks)
        suffixes = tuple(saving.WEIGHTS_SUFFIXES if save_weights_only else saving.MODEL_SUFFIXES)
        if not self.filepath.endswith(suffixes):
            what = "save_weights_only=True" if save_weights_only else "a whole-model checkpoint"
            raise ValueError(f"ModelCheckpoint: with {what} the filepath must end in "
                             f"{' or '.join(repr(s) for s in suffixes)}. Received: filepath={self.filepath!r}")
        check_save_freq(save_freq, "ModelCheckpoint")
        self._keys = pattern_keys(self.filepath, "ModelCheckpoint")
        self.monitor, self.verbose, self.save_freq = monitor, verbose, save_freq
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = resolve_mode(mode, monitor, "ModelCheckpoint") if save_best_only else mode
        self.best = initial_value_threshold
        self._batches_since_save = 0  # as Keras, counted from construction across epochs and fit calls
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._check_keys()
        check_folder_can_be_made(self.filepath, "ModelCheckpoint")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch_save_due(self):
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IsADirectoryError(f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                                    f"an existing directory: {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")

    def _should_save(self, epoch, logs, path):
        """Keras' rule and messages: always without ``save_best_only``, else when ``monitor`` improves (or is
        missing from the logs, with a warning)."""
        if not self.save_best_only:
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = monitored_value(logs, self.monitor, "ModelCheckpoint")
        if current is None:
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self.best is None or better(self.mode)(current, self.best):
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving model "
                      f"to {path}")
            self.best = current
            return True
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _path(self, epoch, batch, logs):
        filled = {"epoch": epoch + 1, **({} if batch is None or "batch" in logs else {"batch": batch + 1}), **logs}
        try:
            return self.filepath.format(**filled)
        except KeyError as error:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} refers to {error}, which is not in the "
                           f"{'epoch' if batch is None else 'batch'} logs (available: {', '.join(filled)}).") from None

    def _check_keys(self):
        """Refuse, before the first epoch's work, a ``{key}`` that fit will not produce."""
        by_batch = self.save_freq != "epoch"
        produced = ["epoch"] + (["batch"] if by_batch else [])
        log_names = self.params.get("metrics")
        if log_names is None:  # a custom train_step decides its logs (or no fit): only what is certain is checked
            unknown = [key for key in self._keys if key == "batch" and not by_batch]
        else:
            produced += [name for name in log_names if not (by_batch and name.startswith("val_"))]
            produced += list(KEYS_ADDED_BY_CALLBACKS)
            unknown = [key for key in self._keys if key not in produced]
        if not unknown:
            return
        key = unknown[0]
        if key == "batch":
            why = "{batch} is only filled when saving by batch (an integer save_freq)"
        elif key.startswith("val_") and by_batch:
            why = (f"with save_freq={self.save_freq} the file is written after batches, whose logs have no val_ "
                   f"keys")
        elif key.startswith("val_") and key[4:] in log_names:
            why = "val_ keys need validation data (validation_data= or validation_split=)"
        else:
            why = "fit's logs have no such key"
        raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} uses {{{key}}}, but {why}. Keys fit will "
                         f"produce: {', '.join(produced)}.")


def pattern_keys(pattern, owner):
    """The names a ``str.format`` pattern refers to (``"m-{epoch:02d}-{val_loss:.2f}"``: epoch, val_loss), or a
    ValueError naming ``owner`` when it is not a valid pattern."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None]
    except ValueError as error:
        raise ValueError(f"{owner}: filepath {pattern!r} is not a valid pattern ({error}); write braces that are "
                         f"part of the name as {{{{ and }}}}.") from None
    keys = []
    for field in fields:
        key = field.split(".")[0].split("[")[0]
        if not key or key.isdigit():
            raise ValueError(f"{owner}: filepath {pattern!r} has a positional field {{{field}}}; name the key, "
                             f"e.g. {{epoch:02d}}.")
        keys.append(key)
    return keys
