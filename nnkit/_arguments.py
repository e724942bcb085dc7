"""Keras-style checks of what users hand to nnkit (constructor arguments of layers, optimizers and schedules; weight
and optimizer-state arrays): each returns the value in its canonical type or raises naming the owner, the argument,
what was expected and what came, e.g. ``Dense: expected a positive integer for `units`. Received: units=0``.

A value of the wrong kind (a string where a number belongs) is a ValueError like any other bad value, as in Keras
(``Dense(units="64")`` is a ValueError there); ``True`` is never a number here.
"""
import math
import numbers

import numpy

from . import backend


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


def shape_tuple(owner, argument, value):
    """``value`` as a tuple when it is a tuple or list of positive integers and Nones (axes of any size), as
    Keras' shapes are."""
    if not isinstance(value, (tuple, list)) or not all(d is None or (is_integer(d) and d > 0) for d in value):
        raise ValueError(f"{owner}: expected a tuple of positive integers (or None) for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return tuple(None if d is None else int(d) for d in value)


def integer(owner, argument, value):
    """``value`` as an int when it is an integer of any sign (an axis)."""
    if not is_integer(value):
        raise ValueError(f"{owner}: expected an integer for `{argument}`. Received: {argument}={value!r}")
    return int(value)


def is_integer(value):
    """Whether ``value`` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def number(owner, argument, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a float when it is a finite real number in the interval from ``low`` to ``high`` (each bound
    included unless ``low_open`` / ``high_open``; None: unbounded); else a ValueError."""
    interval = _interval(low, high, low_open, high_open)
    finite = "" if low is not None and high is not None else " finite"
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)  # numpy.bool_ is no Real either
            or not math.isfinite(value)
            or not (low is None or value > low or (value == low and not low_open))
            or not (high is None or value < high or (value == high and not high_open))):
        raise ValueError(f"{owner}: expected a{finite} number{interval} for `{argument}`. "
                         f"Received: {argument}={value!r}")
    return float(value)


def dropout_rate(owner, argument, value):
    """``value`` as a float when it is a fraction in [0, 1) (a dropout rate: 1 would scale by 1 / 0)."""
    return number(owner, argument, value, low=0, high=1, high_open=True)


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
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_finite_as(what, array, dtype):
    """Raise a ValueError naming ``what`` when ``array`` (NumPy or CuPy) cast to the float ``dtype`` holds NaN or
    inf (a float64 1e300 becomes a float32 inf). Integer arrays, and integer targets, always pass."""
    if numpy.dtype(dtype).kind != "f" or array.dtype.kind != "f":
        return
    xp = backend.get_array_module(array)
    with numpy.errstate(over="ignore"):
        finite = xp.isfinite(array.astype(dtype, copy=False))
    bad = int(finite.size - int(finite.sum()))
    if bad:
        raise ValueError(f"{what} would hold {bad} non-finite value(s) (NaN, inf, or beyond {numpy.dtype(dtype)}'s "
                         f"range) of the {finite.size} given; nnkit refuses them (Keras takes them silently).")
