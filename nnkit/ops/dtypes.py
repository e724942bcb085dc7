"""Dtype rules of the ops: Keras' results for Python numbers, integers and floats mixed."""
import numpy

from .. import backend
from ..layers.symbolic import KerasTensor
from .shapes import xp_of


def is_number(value):
    """A Python number (not a NumPy scalar, though ``numpy.float64`` is a ``float``)."""
    return isinstance(value, (bool, int, float)) and not isinstance(value, numpy.generic)


def dtype_name(value):
    """The dtype name of an op argument (a symbolic tensor, an array, or a Python number: "int", "float")."""
    from .dispatch import _dtype_of
    return value.dtype if isinstance(value, KerasTensor) else _dtype_of(value)


def is_float_name(name):
    """Whether a dtype name (or "float", a Python float) is a float."""
    return name == "float" or (name not in ("int", "bool") and numpy.dtype(name).kind == "f")


def floatx_name():
    """The name of nnkit's default float dtype."""
    return numpy.dtype(backend.floatx()).name


def float_dtype(dtypes, arguments):
    """The dtype rule of a float-valued op of one tensor: its float dtype, else floatx (ints, bools)."""
    name = dtypes[0]
    return name if name != "float" and is_float_name(name) else floatx_name()


def first_dtype(dtypes, arguments):
    """The dtype rule of an op whose output has its first tensor's dtype (take, one tensor reordered...)."""
    name = dtypes[0]
    return {"int": "int64", "float": floatx_name(), "bool": "bool"}.get(name, name)


def bool_dtype(dtypes, arguments):
    """The dtype rule of comparisons."""
    return "bool"


def int32_dtype(dtypes, arguments):
    """The dtype rule of index results (argmax), int32 as Keras."""
    return "int32"


def floating(x):
    """``x`` as a float array: floats stay as they are, integers, bools and Python numbers become floatx."""
    xp = xp_of(x)
    if is_number(x):
        return xp.asarray(x, dtype=backend.floatx())
    x = xp.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(backend.floatx())
