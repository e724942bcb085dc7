"""CSVLogger: one CSV row of epoch logs per epoch."""
import csv
import os

from .base import Callback


class CSVLogger(Callback):
    """Writes ``epoch`` (from 0) and every log value, columns in sorted order, one row per epoch.

    Args:
        filename: the CSV file.
        separator: the column separator (default ``","``).
        append: add to an existing file instead of overwriting it (the header is written only to an
            empty file).

    Example:
        >>> model.fit(x, y, epochs=5, callbacks=[CSVLogger("training.csv")])
    """
    chief_only = True  # rank 0 alone writes (prints) in a data-parallel job

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        needs_header = not (self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self._needs_header = needs_header
        self.keys = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self._writer is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.separator)
            if self._needs_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({key: logs.get(key, "NA") for key in self.keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
        self._writer = None
