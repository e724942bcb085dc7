"""Keras' progress display: a live bar per epoch (verbose=1), one line per epoch (verbose=2).

    Epoch 1/5
    938/938 ━━━━━━━━━━━━━━━━━━━━ 3s 3ms/step - accuracy: 0.9335 - loss: 0.2305
"""
import sys
import time

from .base import Callback

BAR_WIDTH = 20
REDRAW_INTERVAL = 0.05  # seconds; also bounds how often the device is synchronised for the display


def format_value(value):
    """Four decimals, or scientific notation for magnitudes below 1e-3 (Keras' progress-bar style)."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"


def format_duration(seconds):
    """``h:mm:ss``, ``m:ss`` or ``Ns`` for a duration in seconds."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_step(seconds):
    """The time per step in s, ms or us (``12ms/step``)."""
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs):
    """``' - loss: 0.1234 - accuracy: 0.9876'`` from a logs dict."""
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items())


class ProgbarLogger(Callback):
    """Prints Keras' progress to ``stream`` (default stdout): a redrawn bar with ``verbose=1``, one line per epoch
    (or per ``evaluate`` / ``predict`` call) with ``verbose=2``; ``fit``, ``evaluate`` and ``predict`` add one when
    their ``verbose`` is not 0. As in Keras, the ``Epoch 1/N`` header is printed only when ``N > 1``, and the
    validation inside ``fit`` draws nothing of its own (its ``val_`` logs end the epoch's line).

    Args:
        verbose: 1 or 2; None (Keras' behaviour: ``ProgbarLogger()`` takes no arguments) uses the ``verbose`` of
            the ``fit`` / ``evaluate`` / ``predict`` call, so 0 there silences it.
        stream: where to print (nnkit's addition, for tests and logging).
    """
    chief_only = True  # rank 0 alone writes (prints) in a data-parallel job

    def __init__(self, verbose=None, stream=None):
        super().__init__()
        if verbose not in (None, 0, 1, 2):
            raise ValueError(f"ProgbarLogger: verbose must be 0, 1, 2 or None. Received: verbose={verbose!r}")
        self._given_verbose = verbose
        self.verbose = 1 if verbose is None else verbose
        self.stream = stream or sys.stdout
        self._in_fit = False
        self._drawn_width = 0

    def set_params(self, params):
        super().set_params(params)
        if self._given_verbose is None:
            self.verbose = params.get("verbose", 1)

    def on_train_begin(self, logs=None):
        self._in_fit = True  # fit's validation is drawn on the epoch's line, not as a bar of its own

    def on_epoch_begin(self, epoch, logs=None):
        self._begin()
        epochs = self.params.get("epochs", 1)
        if self.verbose and epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}", file=self.stream, flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._begin()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # as Keras: the outputs are not shown

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _begin(self):
        self._start = self._last_draw = time.perf_counter()
        self._drawn_width = 0
        self._seen = 0  # batches run so far (the total when params' steps is None: a generator's epoch)

    def _update(self, batch, logs):
        self._seen = batch + 1
        now = time.perf_counter()
        if self.verbose != 1 or now - self._last_draw < REDRAW_INTERVAL:
            return
        self._last_draw = now
        done, total = batch + 1, self.params.get("steps")
        per_step = (now - self._start) / done
        shown = format_logs(dict(logs)) if logs else ""
        if total is None:  # unknown number of steps (as Keras: "12/Unknown", no bar and no ETA)
            self._draw(f"{done}/Unknown {format_duration(now - self._start)} {format_per_step(per_step)}{shown}",
                       end="")
            return
        eta = format_duration(per_step * (total - done))
        self._draw(f"{self._bar(done, total)} {eta} {format_per_step(per_step)}{shown}", end="")

    def _finish(self, logs):
        if not self.verbose:
            return
        elapsed = time.perf_counter() - self._start
        total = self.params.get("steps")
        if total is None:
            total = self._seen
        per_step = format_per_step(elapsed / max(total, 1))
        shown = format_logs(logs) if logs else ""
        if self.verbose == 1:
            line = f"{self._bar(total, total)} {format_duration(elapsed)} {per_step}{shown}"
        else:
            line = f"{total}/{total} - {format_duration(elapsed)} - {per_step}{shown}"
        self._draw(line, end="\n")
    def _bar(self, done, total):
        filled = int(BAR_WIDTH * done / max(total, 1))
        remaining = BAR_WIDTH - filled
        if self._is_terminal():
            rest = f"\x1b[2m{'━' * remaining}\x1b[0m" if remaining else ""
        else:
            rest = "." * remaining
        return f"{done:>{len(str(total))}}/{total} {'━' * filled}{rest}"

    def _draw(self, line, end):
        prefix = "\r" if self.verbose == 1 else ""
        padding = " " * max(0, self._drawn_width - len(line)) if self.verbose == 1 else ""
        self.stream.write(prefix + line + padding + end)
        self.stream.flush()
        self._drawn_width = 0 if end == "\n" else len(line)

    def _is_terminal(self):
        return hasattr(self.stream, "isatty") and self.stream.isatty()
