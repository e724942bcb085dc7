"""The values a loss or a metric accepts as targets (its *target domain*), declared as data, and the one check.

Each loss and metric names its domain (``target_domain``, a class attribute); ``check_targets`` holds a whole data
set (or one generator batch) against it before training, so targets coded for another loss (labels 1/2 for binary
cross-entropy, counts for a categorical cross-entropy) are refused instead of trained on. Keras checks none of this:
it computes whatever the targets give (a negative binary cross-entropy, say), and clips some targets silently
(Kullback-Leibler divergence to [1e-7, 1], the squared logarithmic error's at 1e-7).
"""
import dataclasses
import math

from . import backend

#: How far a distribution's row sum may lie from 1 (float32 soft targets over thousands of classes stay within).
DISTRIBUTION_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class TargetDomain:
    """What the targets of a loss or metric may hold.

    Attributes:
        expected: the phrase an error gives as what was expected.
        low, high: bounds every value must lie within (inclusive).
        codings: sets of values one of which must hold every target of the data set (-1/1 or 0/1 labels).
        distributions: each row over the last axis sums to 1 (or is all zeros: padding, which the loss ignores).
        class_indices: integer labels in ``[0, K)``, K the size of the outputs' last axis.
    """
    expected: str
    low: float = -math.inf
    high: float = math.inf
    codings: tuple = ()
    distributions: bool = False
    class_indices: bool = False


#: Any real number (regression losses and metrics, and losses written by the user).
REAL = TargetDomain("real numbers")
PROBABILITIES = TargetDomain("probabilities in [0, 1] (0/1 labels or soft targets)", low=0, high=1)
NON_NEGATIVE = TargetDomain("non-negative values", low=0)
DISTRIBUTIONS = TargetDomain("distributions over the last axis (one-hot or soft targets: values in [0, 1], each "
                             "row summing to 1)", low=0, high=1, distributions=True)
#: Keras' hinge losses turn 0/1 labels into -1/1 when every target of a batch is 0 or 1, so a data set keeps to one.
SIGNS = TargetDomain("-1/1 labels (or 0/1 labels, which become -1/1), one coding for the whole data set",
                     codings=((-1, 1), (0, 1)))
CLASS_INDICES = TargetDomain("integer class labels", class_indices=True)


def check_targets(domain, y_true, num_classes, who, what="y"):
    """Raise a ValueError naming ``who`` (e.g. ``"loss 'binary_crossentropy'"``), the first offending value and
    its sample in ``what`` when ``y_true`` (a backend array, one row per sample) leaves ``domain``; ``num_classes``
    is the outputs' last axis. One pass over the data, read back once."""
    if y_true.size == 0 or domain is REAL:
        return
    if domain.class_indices:
        _check_class_indices(y_true, num_classes, who, what)
        return
    if y_true.dtype.kind not in "iubf":
        raise ValueError(f"The {who} expects {domain.expected}, but {what} holds dtype {y_true.dtype}.")
    outside = (y_true < domain.low) | (y_true > domain.high)
    if bool(outside.any()):
        _refuse(domain, y_true, outside, who, what)
    if domain.codings:
        _check_codings(domain, y_true, who, what)
    if domain.distributions:
        _check_distributions(domain, y_true, num_classes, who, what)


def _first(y_true, bad):
    """``(sample index, value)`` of the first ``True`` of the element mask ``bad``."""
    xp = backend.get_array_module(bad)
    flat = int(xp.flatnonzero(bad.reshape(-1))[0])
    per_sample = max(y_true.size // max(len(y_true), 1), 1)
    return flat // per_sample, y_true.reshape(-1)[flat].item()


def _refuse(domain, y_true, bad, who, what, detail=""):
    sample, value = _first(y_true, bad)
    raise ValueError(f"The {who} expects {domain.expected}, but {what} holds {value!r} at sample {sample}"
                     f"{detail}.")


def _check_codings(domain, y_true, who, what):
    xp = backend.get_array_module(y_true)
    misfits = [~xp.isin(y_true, xp.asarray(coding, dtype=y_true.dtype)) for coding in domain.codings]
    counts = [int(misfit.sum()) for misfit in misfits]
    if min(counts) == 0:
        return
    # Report against the coding the data follow most closely (labels mixing -1/1 and 0/1 name the odd one out).
    best = counts.index(min(counts))
    coding = "/".join(str(v) for v in domain.codings[best])
    _refuse(domain, y_true, misfits[best], who, what, f" while the rest of {what} is coded {coding}")


def _check_distributions(domain, y_true, num_classes, who, what):
    if num_classes == 1:
        raise ValueError(f"The {who} compares distributions over the last axis, but the model's output has one unit: "
                         f"a distribution over one class is always 1, so the loss would not train. For 0/1 labels "
                         f"and one sigmoid unit use binary_crossentropy.")
    xp = backend.get_array_module(y_true)
    rows = y_true.reshape(-1, y_true.shape[-1]) if y_true.ndim > 1 else y_true.reshape(1, -1)
    sums = rows.sum(axis=-1, dtype=xp.float64)
    bad_rows = (xp.abs(sums - 1) > DISTRIBUTION_TOLERANCE) & (sums != 0)
    if bool(bad_rows.any()):
        row = int(xp.flatnonzero(bad_rows)[0])
        sample = row // max(len(rows) // max(len(y_true), 1), 1)
        raise ValueError(f"The {who} expects {domain.expected}, but a row of {what} at sample {sample} sums to "
                         f"{float(sums[row]):.6g}. Integer class labels go with sparse_categorical_crossentropy; "
                         f"several labels per sample (multi-hot) with binary_crossentropy.")


def _check_class_indices(y_true, num_classes, who, what):
    xp = backend.get_array_module(y_true)
    if y_true.dtype.kind == "f":
        fractional = y_true != xp.floor(y_true)
        if bool(fractional.any()):
            sample, value = _first(y_true, fractional)
            raise ValueError(f"The {who}: labels must be integers; received non-integer values (dtype "
                             f"{y_true.dtype}): {what} holds {value!r} at sample {sample}.")
    elif y_true.dtype.kind not in "iub":
        raise ValueError(f"The {who}: labels must be integers; received dtype {y_true.dtype}.")
    outside = (y_true < 0) | (y_true >= (math.inf if num_classes is None else num_classes))
    if bool(outside.any()):
        sample, value = _first(y_true, outside)
        label = int(value)
        bounds = "" if num_classes is None else \
            f"; the model has {num_classes} outputs, so labels must lie in [0, {num_classes - 1}]"
        hint = " For 0/1 labels and one sigmoid unit use binary_crossentropy." if num_classes == 1 else ""
        raise ValueError(f"The {who}: label {label} is out of range{bounds} ({what} holds {label} at sample "
                         f"{sample}).{hint}")
