"""What the monitoring callbacks share: which direction of a logged quantity is better, and reading it."""
import math
import operator
import warnings

_LOWER_IS_BETTER = ("loss", "error", "mse", "mae")
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall")


def resolve_mode(mode, monitor, callback):
    """``"min"`` or ``"max"``; ``"auto"`` decides from the name (``val_loss``: min, ``val_accuracy``: max)."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"{callback}: mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    name = monitor.removeprefix("val_")
    if any(part in name for part in _LOWER_IS_BETTER):
        return "min"
    if any(part in name for part in _HIGHER_IS_BETTER):
        return "max"
    raise ValueError(f"{callback}: cannot tell whether monitor={monitor!r} should go up or down; "
                     f"pass mode='min' or mode='max'.")


def better(mode):
    """The comparison that says ``current`` improves on ``reference``."""
    return operator.lt if mode == "min" else operator.gt


def worst(mode):
    """The value every real one improves on: +inf for ``mode='min'``, -inf for ``'max'``."""
    return math.inf if mode == "min" else -math.inf


def monitored_value(logs, monitor, callback):
    """``logs[monitor]`` as a float, or None (with a warning naming the available keys) when it is missing."""
    logs = logs or {}
    if monitor not in logs:
        warnings.warn(f"{callback} is conditioned on {monitor!r}, which is not in the logs. Available: "
                      f"{', '.join(sorted(logs)) or 'none'}. (val_* keys need validation data.)", stacklevel=3)
        return None
    return float(logs[monitor])
