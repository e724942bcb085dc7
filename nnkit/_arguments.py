"""Keras-style checks of constructor arguments (layers, optimizers, schedules): each returns the value in its
canonical type or raises naming the owner, the argument, what was expected and what came, e.g.
``Dense: expected a positive integer for `units`. Received: units=0``.

A value of the wrong kind (a string where a number belongs) is a TypeError for numbers and a ValueError for
integer sizes, as in Keras (``Dense(units="64")`` is a ValueError there); ``True`` is never a number here.
"""
import math
import numbers


def positive_int(owner, argument, value):
    """``value`` as an int when it is an integer >= 1 (``3.0``, ``"3"`` and ``True`` are not)."""
    return _int_at_least(owner, argument, value, 1, "a positive integer")


def non_negative_int(owner, argument, value):
    """``value`` as an int when it is an integer >= 0."""
    return _int_at_least(owner, argument, value, 0, "a non-negative integer")


def _int_at_least(owner, argument, value, minimum, expected):
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{owner}: expected {expected} for `{argument}`. Received: {argument}={value!r}")
    return int(value)


def is_integer(value):
    """Whether ``value`` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def number(owner, argument, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a float when it is a finite real number in the interval from ``low`` to ``high`` (each bound
    included unless ``low_open`` / ``high_open``; None: unbounded). A non-number is a TypeError, a non-finite or
    out-of-range number a ValueError."""
    interval = _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy.bool_ is no Real either
        raise TypeError(f"{owner}: expected a number {interval} for `{argument}`. Received: {argument}={value!r} "
                        f"(of type {type(value).__name__})")
    if not (math.isfinite(value) and (low is None or value > low or (value == low and not low_open))
            and (high is None or value < high or (value == high and not high_open))):
        raise ValueError(f"{owner}: expected a finite number {interval} for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return float(value)


def positive_number(owner, argument, value):
    """``value`` as a float when it is a finite number > 0 (an epsilon, a clip norm)."""
    return number(owner, argument, value, low=0, low_open=True)


def non_negative_number(owner, argument, value):
    """``value`` as a float when it is a finite number >= 0 (a learning rate, a weight decay)."""
    return number(owner, argument, value, low=0)


def _interval(low, high, low_open, high_open):
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
