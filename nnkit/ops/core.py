"""Keras' core ops: shapes, dtypes, constants and the gradient stop."""
import numpy

from .. import backend
from ..layers.symbolic import KerasTensor
from .dispatch import operation
from .shapes import elementwise


def shape(x):
    """The shape of ``x`` as a tuple (None for sizes a symbolic tensor does not know yet)."""
    return tuple(x.shape) if isinstance(x, KerasTensor) else tuple(numpy.shape(x))


def _dtype_name(dtype):
    return numpy.dtype(dtype).name if dtype is not None else None


def convert_to_tensor(x, dtype=None):
    """``x`` (a list, a NumPy array, a number) as a backend array of ``dtype`` (floats default to floatx);
    a symbolic tensor is returned as it is (cast when ``dtype`` differs)."""
    if isinstance(x, KerasTensor):
        return x if dtype is None or _dtype_name(dtype) == x.dtype else cast(x, dtype)
    array = x if backend.is_device_array(x) else numpy.asarray(x)
    if dtype is None and array.dtype.kind == "f" and not isinstance(x, numpy.ndarray):
        dtype = backend.floatx()
    return backend.to_device(array if dtype is None else array.astype(dtype))


@operation("x", shape=elementwise, dtype=lambda dtypes, arguments: _dtype_name(arguments["dtype"]))
def cast(x, dtype):
    """``x`` as ``dtype``; the gradient flows between float dtypes only."""
    target = numpy.dtype(dtype)
    flows = x.dtype.kind == "f" and target.kind == "f"
    return x.astype(target), lambda g: {"x": g.astype(x.dtype) if flows else None}


@operation("x", shape=elementwise)
def stop_gradient(x):
    """``x``, through which no gradient flows back."""
    return x, lambda g: {"x": None}


def _like_dtype(dtypes, arguments):
    return _dtype_name(arguments["dtype"]) or dtypes[0]


@operation("x", shape=elementwise, dtype=_like_dtype)
def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape (and dtype, unless given)."""
    return backend.get_array_module(x).zeros(x.shape, dtype=dtype or x.dtype), lambda g: {"x": None}


@operation("x", shape=elementwise, dtype=_like_dtype)
def ones_like(x, dtype=None):
    """Ones of ``x``'s shape (and dtype, unless given)."""
    return backend.get_array_module(x).ones(x.shape, dtype=dtype or x.dtype), lambda g: {"x": None}


def _float(dtype):
    return numpy.dtype(dtype or backend.floatx())


def zeros(shape, dtype=None):
    """A backend array of zeros (floatx unless ``dtype``)."""
    return backend.xp().zeros(tuple(numpy.atleast_1d(shape)) if numpy.ndim(shape) else (shape,), _float(dtype))


def ones(shape, dtype=None):
    """A backend array of ones (floatx unless ``dtype``)."""
    return backend.xp().ones(tuple(numpy.atleast_1d(shape)) if numpy.ndim(shape) else (shape,), _float(dtype))


def full(shape, fill_value, dtype=None):
    """A backend array filled with ``fill_value`` (floatx unless ``dtype``)."""
    return backend.xp().full(tuple(numpy.atleast_1d(shape)) if numpy.ndim(shape) else (shape,), fill_value,
                             _float(dtype))


def eye(N, M=None, k=0, dtype=None):
    """The ``N x M`` identity (ones on diagonal ``k``)."""
    return backend.xp().eye(N, M, k, dtype=_float(dtype))


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in ``[start, stop)``: int32 for integer arguments (as Keras), else floatx."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, numpy.integer)) for v in (start, stop, step))
        dtype = "int32" if integral else backend.floatx()
    return backend.xp().arange(start, stop, step, dtype=numpy.dtype(dtype))
