"""What the callbacks that write files share: checking ``save_freq`` and, before any work, the folder."""
import os
import string


def check_save_freq(save_freq, owner):
    """A ValueError naming ``owner`` unless ``save_freq`` is ``"epoch"`` or a positive integer (batches)."""
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0):
        raise ValueError(f"{owner}: save_freq must be 'epoch' or a positive integer (a number of batches). "
                         f"Received: save_freq={save_freq!r}")


def batch_save_due(callback):
    """After a training batch: whether ``callback`` (with ``save_freq`` and a ``_batches_since_save`` count) saves
    now, every ``save_freq`` batches counted across epochs; never with ``save_freq="epoch"``."""
    if callback.save_freq == "epoch":
        return False
    callback._batches_since_save += 1
    if callback._batches_since_save < callback.save_freq:
        return False
    callback._batches_since_save = 0
    return True


def check_folder_can_be_made(pattern, owner):
    """A clear error when the folder of ``pattern`` (up to its first ``{key}``) cannot be created or written:
    some part of it is a file, or the nearest existing folder is not writable."""
    literal = next(iter(string.Formatter().parse(pattern)), ("", None, None, None))[0]
    folder = os.path.abspath(os.path.dirname(literal) or ".")
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise NotADirectoryError(f"{owner}: the folder of filepath {pattern!r} cannot be created: {existing!r} is a "
                                 f"file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{owner}: the folder of filepath {pattern!r} cannot be written: {existing!r} is not "
                              f"writable.")
